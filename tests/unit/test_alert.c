/*
 * test_alert.c — the alert state machine, cycle by cycle, on a small
 * configuration: first firing and silence afterwards, reminders and
 * escalation exactly when due, worse fires and better does not, resolution
 * to exactly the people told, min_status per route, the owner on late data,
 * errors to the administrators only, unknown and error freezing an alert,
 * silences (nothing inside, then fire or resolve), target changes,
 * forgotten alerts, stable event ids; then state.json: round trip and
 * hostile files.
 *
 * Scenarios are tables of cycles: the statuses that change, the time, and
 * every event expected, written as one line each:
 *   INDICATOR/ROUTE KIND STATUS (PREVIOUS) RECIPIENTS[ +silence][ +target]
 * with the recipients sorted, "channel:address" or the webhook's name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "alert.h"
#include "route.h"

static void report(void *ctx, const char *file, int line, const char *msg)
{
	(void)ctx;
	print_error("config: %s:%d: %s\n", file, line, msg);
}

static struct tg_config *load(const char *text)
{
	struct tg_error err;
	struct tg_config *cfg = tg_config_load_string(text, "/tmp/t.conf", report, NULL, &err);

	if (cfg == NULL)
		fail_msg("config not valid: %s", err.msg);
	return cfg;
}

#define CONF_HEAD \
	"daemon = { state_dir = \"/tmp/x\";\n" \
	"           admins = [\"ced@comune.example\", \"CED@comune.example\"]; };\n" \
	"sources = ( { name = \"s\"; type = \"csv\"; path = \"/tmp/x.csv\"; } );\n"

#define CONF_INDICATORS(RAG_TARGET) \
	"indicators = (\n" \
	"  { id = \"RAG-01\"; name = \"Pagamenti\"; department = \"Ragioneria\";\n" \
	"    owner = \"rag@comune.example\"; better = \"lower\"; target = " RAG_TARGET "; critical = 45; },\n" \
	"  { id = \"URP-01\"; name = \"Soddisfazione\"; department = \"URP\"; target = 90; },\n" \
	"  { id = \"SCU-01\"; name = \"Mense\"; department = \"Servizi scolastici\";\n" \
	"    owner = \"scuola@comune.example\"; target = 1; }\n" \
	");\n"

#define CONF_CHANNELS \
	"channels = (\n" \
	"  { name = \"posta\"; type = \"email\"; url = \"smtp://mail.example:587\"; from = \"q@comune.example\"; },\n" \
	"  { name = \"chat\"; type = \"webhook\"; url = \"https://example.invalid/hook\"; }\n" \
	");\n"

#define CONF_ROUTES \
	"routes = (\n" \
	"  { name = \"ragioneria\"; departments = [\"Ragioneria\"]; channels = [\"posta\"];\n" \
	"    to = [\"capo@comune.example\"]; repeat_every = \"7d\"; escalate_after = \"14d\";\n" \
	"    escalate_to = [\"dirigente@comune.example\", \"Capo@Comune.example\"]; },\n" \
	"  { name = \"critici\"; min_status = \"critical\"; channels = [\"chat\"]; },\n" \
	"  { departments = [\"URP\", \"Servizi scolastici\"]; min_status = \"unknown\";\n" \
	"    channels = [\"posta\", \"chat\"]; to = [\"@owner\"]; }\n" \
	");\n"

#define CONF_SILENCES \
	"silences = ( { departments = [\"Servizi scolastici\"]; from = \"2026-08-01\";\n" \
	"               until = \"2026-08-31\"; reason = \"Chiusura estiva\"; } );\n"

static const char conf_text[] =
	CONF_HEAD CONF_INDICATORS("30") CONF_CHANNELS CONF_ROUTES CONF_SILENCES;
/* the same with another target for RAG-01 */
static const char conf_target[] =
	CONF_HEAD CONF_INDICATORS("25") CONF_CHANNELS CONF_ROUTES CONF_SILENCES;

static tg_time at(const char *s)
{
	struct tg_error err;
	tg_time t = 0;

	if (tg_time_parse(s, &t, &err) < 0)
		fail_msg("bad time in the test: %s", err.msg);
	return t;
}

struct world {
	struct tg_config *cfg;
	struct tg_alerts *st;
	struct tg_eval_result res[8];
};

static void world_init(struct world *w, const char *conf)
{
	memset(w, 0, sizeof(*w));
	w->cfg = load(conf);
	assert_true(w->cfg->n_indicators <= 8);
	w->st = tg_alerts_new();
	assert_non_null(w->st);
	for (size_t i = 0; i < w->cfg->n_indicators; i++) {
		w->res[i].status = TG_STATUS_OK;
		w->res[i].has_value = true;
		w->res[i].value = 10.0 + (double)i;
		w->res[i].period = tg_day_from_ymd(2026, 10, 1);
	}
}

static void world_free(struct world *w)
{
	tg_alerts_free(w->st);
	tg_config_free(w->cfg);
}

static size_t ind(const struct tg_config *cfg, const char *id)
{
	ssize_t i = tg_config_indicator_index(cfg, id, strlen(id));

	if (i < 0)
		fail_msg("no indicator %s", id);
	return (size_t)i;
}

/* "RAG-01=warning URP-01=ok" */
static void set_statuses(struct world *w, const char *spec)
{
	char buf[256], *save = NULL;

	if (spec == NULL)
		return;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		enum tg_status s;

		assert_non_null(eq);
		*eq = '\0';
		assert_int_equal(tg_status_parse(eq + 1, &s), 0);
		w->res[ind(w->cfg, tok)].status = s;
	}
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void describe(const struct tg_config *cfg, const struct tg_alert_events *ev, char *buf,
		     size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ev->n; i++) {
		const struct tg_alert_event *e = &ev->v[i];
		char *to[16], names[16][96];

		assert_true(e->n_to > 0 && e->n_to <= 16);
		for (size_t k = 0; k < e->n_to; k++) {
			const struct tg_channel *ch = &cfg->channels[e->to[k].channel];

			assert_true(e->to[k].channel < cfg->n_channels);
			/* a webhook has no address, an email recipient has one */
			assert_true((ch->type == TG_CHANNEL_EMAIL) == (e->to[k].address != NULL));
			if (e->to[k].address != NULL)
				snprintf(names[k], sizeof(names[k]), "%s:%s", ch->name, e->to[k].address);
			else
				snprintf(names[k], sizeof(names[k]), "%s", ch->name);
			to[k] = names[k];
		}
		qsort(to, e->n_to, sizeof(to[0]), str_cmp);
		o += (size_t)snprintf(buf + o, size - o, "%s%s/%s %s %s (%s) ", i > 0 ? "; " : "",
				      cfg->indicators[e->indicator].id, e->route,
				      tg_alert_kind_name(e->kind), tg_status_name(e->status),
				      tg_status_name(e->previous));
		for (size_t k = 0; k < e->n_to; k++)
			o += (size_t)snprintf(buf + o, size - o, "%s%s", k > 0 ? "," : "", to[k]);
		if (e->after_silence)
			o += (size_t)snprintf(buf + o, size - o, " +silence");
		if (e->target_changed)
			o += (size_t)snprintf(buf + o, size - o, " +target");
		assert_true(o < size);
	}
}

static void check_ids(const struct tg_alert_events *ev)
{
	for (size_t i = 0; i < ev->n; i++) {
		assert_int_equal(strlen(ev->v[i].id), 32);
		assert_int_equal(strspn(ev->v[i].id, "0123456789abcdef"), 32);
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(ev->v[i].id, ev->v[k].id);
	}
}

/* One cycle: the state moves on; the events are returned (caller frees). */
static void cycle(struct world *w, const char *now, struct tg_alert_events *ev)
{
	struct tg_alerts *next = NULL;

	assert_int_equal(tg_alerts_step(w->st, w->cfg, w->res, at(now), &next, ev), 0);
	assert_non_null(next);
	check_ids(ev);
	tg_alerts_free(w->st);
	w->st = next;
}

struct step {
	const char *now;
	const char *set;       /* statuses that change, or NULL */
	const char *events;    /* every event, "" for none */
};

static void run_scenario(const char *name, const char *conf, const struct step *steps, size_t n)
{
	struct world w;
	char got[2048];

	world_init(&w, conf);
	for (size_t i = 0; i < n; i++) {
		struct tg_alert_events ev;

		set_statuses(&w, steps[i].set);
		cycle(&w, steps[i].now, &ev);
		describe(w.cfg, &ev, got, sizeof(got));
		tg_alert_events_free(&ev);
		if (strcmp(got, steps[i].events) != 0) {
			print_error("%s, step %zu (%s%s%s):\n  got      \"%s\"\n  expected \"%s\"\n",
				    name, i + 1, steps[i].now, steps[i].set ? ", " : "",
				    steps[i].set ? steps[i].set : "", got, steps[i].events);
			world_free(&w);
			fail();
		}
	}
	world_free(&w);
}

#define RUN(steps) run_scenario(#steps, conf_text, steps, sizeof(steps) / sizeof(steps[0]))

#define CAPO "posta:capo@comune.example"
#define BOTH "posta:capo@comune.example,posta:dirigente@comune.example"

static void test_lifecycle(void **state)
{
	static const struct step steps[] = {
		{ "2026-11-02T09:00", "RAG-01=warning",
		  "RAG-01/ragioneria firing warning (ok) " CAPO },
		{ "2026-11-02T10:00", NULL, "" },                   /* no repeat */
		{ "2026-11-09T08:59:59", NULL, "" },                /* 1 s before repeat_every */
		{ "2026-11-09T09:00", NULL, "RAG-01/ragioneria reminder warning (warning) " CAPO },
		{ "2026-11-09T09:01", NULL, "" },
		{ "2026-11-16T08:59:59", NULL, "" },                /* 1 s before escalate_after */
		/* escalate_to added (Capo@Comune.example is capo: once) */
		{ "2026-11-16T09:00", NULL, "RAG-01/ragioneria escalated warning (warning) " BOTH },
		{ "2026-11-16T10:00", NULL, "" },                   /* escalation once, no reminder yet */
		{ "2026-11-23T09:00", NULL, "RAG-01/ragioneria reminder warning (warning) " BOTH },
		/* worse fires again; the critical route starts its own alert */
		{ "2026-11-23T10:00", "RAG-01=critical",
		  "RAG-01/ragioneria firing critical (warning) " BOTH
		  "; RAG-01/critici firing critical (ok) chat" },
		/* better is no news for ragioneria; below critici's min_status it resolves */
		{ "2026-11-23T11:00", "RAG-01=warning", "RAG-01/critici resolved warning (critical) chat" },
		/* critical again: ragioneria's last message said critical already */
		{ "2026-11-23T12:00", "RAG-01=critical", "RAG-01/critici firing critical (ok) chat" },
		{ "2026-11-24T09:00", "RAG-01=ok",
		  "RAG-01/ragioneria resolved ok (critical) " BOTH
		  "; RAG-01/critici resolved ok (critical) chat" },
		{ "2026-11-25T09:00", NULL, "" },
		/* a new alert starts from scratch: no escalation recipients */
		{ "2026-11-26T09:00", "RAG-01=warning", "RAG-01/ragioneria firing warning (ok) " CAPO },
	};

	(void)state;
	RUN(steps);
}

static void test_late_and_error(void **state)
{
	static const struct step late_owner[] = {
		/* late: the owner is told too, whatever the route's "to" */
		{ "2026-11-02T09:00", "RAG-01=late",
		  "RAG-01/ragioneria firing late (ok) " CAPO ",posta:rag@comune.example" },
		/* a source error: to the administrators only (both spellings of
		 * ced are one address); the route's alert is frozen */
		{ "2026-11-02T10:00", "RAG-01=error",
		  "RAG-01/admins firing error (ok) posta:ced@comune.example" },
		{ "2026-11-10T10:00", NULL, "" },   /* no reminder for admins; ragioneria frozen */
		/* both end: each to exactly whom it told */
		{ "2026-11-11T09:00", "RAG-01=ok",
		  "RAG-01/ragioneria resolved ok (late) " CAPO ",posta:rag@comune.example"
		  "; RAG-01/admins resolved ok (error) posta:ced@comune.example" },
	};
	static const struct step error_only[] = {
		/* an error on an indicator without alerts: admins only */
		{ "2026-11-02T09:00", "URP-01=error RAG-01=error",
		  "RAG-01/admins firing error (ok) posta:ced@comune.example"
		  "; URP-01/admins firing error (ok) posta:ced@comune.example" },
		/* the source works again and the value is bad: admins resolve,
		 * the routes fire */
		{ "2026-11-02T10:00", "URP-01=critical RAG-01=warning",
		  "RAG-01/ragioneria firing warning (ok) " CAPO
		  "; RAG-01/admins resolved warning (error) posta:ced@comune.example"
		  "; URP-01/critici firing critical (ok) chat"
		  "; URP-01/route 3 firing critical (ok) chat"
		  "; URP-01/admins resolved critical (error) posta:ced@comune.example" },
	};
	static const struct step late_below_min[] = {
		{ "2026-11-02T09:00", "URP-01=critical",
		  "URP-01/critici firing critical (ok) chat; URP-01/route 3 firing critical (ok) chat" },
		/* its data late: below critici's min_status, but not better:
		 * that alert stays as it was (it was told "back on target");
		 * route 3 wants late too, and late is less than critical */
		{ "2026-12-05T09:00", "URP-01=late", "" },
		{ "2026-12-20T09:00", "URP-01=critical", "" },
		{ "2026-12-21T09:00", "URP-01=ok",
		  "URP-01/critici resolved ok (critical) chat; URP-01/route 3 resolved ok (critical) chat" },
	};

	(void)state;
	RUN(late_owner);
	RUN(error_only);
	RUN(late_below_min);
}

static void test_min_status_and_unknown(void **state)
{
	static const struct step steps[] = {
		/* route 3 wants unknown and worse: unknown is its problem; URP-01
		 * has no owner, so only the chat hears of it */
		{ "2026-11-02T09:00", "RAG-01=warning URP-01=unknown",
		  "RAG-01/ragioneria firing warning (ok) " CAPO
		  "; URP-01/route 3 firing unknown (ok) chat" },
		/* unknown is below ragioneria's min_status: frozen, neither
		 * resolved nor reminded */
		{ "2026-11-10T09:00", "RAG-01=unknown", "" },
		{ "2026-11-10T10:00", NULL, "" },
		/* judged again: the reminder was due long ago */
		{ "2026-11-10T11:00", "RAG-01=warning",
		  "RAG-01/ragioneria reminder warning (warning) " CAPO },
		{ "2026-11-10T12:00", "URP-01=warning",
		  "URP-01/route 3 firing warning (unknown) chat" },
		{ "2026-11-10T13:00", "URP-01=ok", "URP-01/route 3 resolved ok (warning) chat" },
		/* ok on a route with min_status warning: nothing at all */
		{ "2026-11-10T14:00", "RAG-01=ok", "RAG-01/ragioneria resolved ok (warning) " CAPO },
		{ "2026-11-10T15:00", NULL, "" },
	};

	(void)state;
	RUN(steps);
}

#define SCU "chat,posta:scuola@comune.example"

static void test_silences(void **state)
{
	static const struct step still_there[] = {
		{ "2026-07-31T09:00", "SCU-01=critical",
		  "SCU-01/critici firing critical (ok) chat; SCU-01/route 3 firing critical (ok) " SCU },
		{ "2026-08-01T00:00", NULL, "" },
		{ "2026-08-20T09:00", "SCU-01=ok", "" },         /* fixed inside: nothing */
		{ "2026-08-31T23:59:59", "SCU-01=critical", "" },
		/* the day after: still a problem, said again */
		{ "2026-09-01T00:00", NULL,
		  "SCU-01/critici firing critical (critical) chat +silence"
		  "; SCU-01/route 3 firing critical (critical) " SCU " +silence" },
		{ "2026-09-01T01:00", NULL, "" },
	};
	static const struct step fixed_during[] = {
		{ "2026-07-31T09:00", "SCU-01=warning", "SCU-01/route 3 firing warning (ok) " SCU },
		{ "2026-08-05T09:00", "SCU-01=ok", "" },
		{ "2026-09-01T09:00", NULL, "SCU-01/route 3 resolved ok (warning) " SCU " +silence" },
		{ "2026-09-02T09:00", NULL, "" },
	};
	static const struct step born_during[] = {
		{ "2026-08-05T09:00", "SCU-01=warning", "" },
		{ "2026-08-06T09:00", "SCU-01=critical", "" },
		{ "2026-09-01T09:00", NULL,
		  "SCU-01/critici firing critical (ok) chat +silence"
		  "; SCU-01/route 3 firing critical (ok) " SCU " +silence" },
		{ "2026-09-02T09:00", NULL, "" },
	};
	static const struct step gone_during[] = {
		{ "2026-08-05T09:00", "SCU-01=warning", "" },
		{ "2026-08-06T09:00", "SCU-01=ok", "" },
		{ "2026-09-01T09:00", NULL, "" },
		{ "2026-09-02T09:00", "SCU-01=warning", "SCU-01/route 3 firing warning (ok) " SCU },
	};
	static const struct step admins_silenced[] = {
		{ "2026-08-05T09:00", "SCU-01=error", "" },
		{ "2026-09-01T09:00", NULL,
		  "SCU-01/admins firing error (ok) posta:ced@comune.example +silence" },
	};

	(void)state;
	RUN(still_there);
	RUN(fixed_during);
	RUN(born_during);
	RUN(gone_during);
	RUN(admins_silenced);
}

static const struct tg_alert_event *find_event(const struct tg_config *cfg,
					       const struct tg_alert_events *ev, const char *id,
					       const char *route)
{
	for (size_t i = 0; i < ev->n; i++)
		if (strcmp(cfg->indicators[ev->v[i].indicator].id, id) == 0 &&
		    strcmp(ev->v[i].route, route) == 0)
			return &ev->v[i];
	return NULL;
}

static void test_previous_value_and_target(void **state)
{
	struct world w;
	struct tg_config *other = load(conf_target);
	struct tg_alert_events ev;
	struct tg_alerts *next;
	const struct tg_alert_event *e;
	size_t rag;

	(void)state;
	world_init(&w, conf_text);
	rag = ind(w.cfg, "RAG-01");
	w.res[rag].status = TG_STATUS_WARNING;
	w.res[rag].value = 38.5;
	w.res[rag].period = tg_day_from_ymd(2026, 10, 1);
	cycle(&w, "2026-11-02T09:00", &ev);
	assert_int_equal(ev.n, 1);
	assert_false(ev.v[0].has_previous_value);
	assert_false(ev.v[0].target_changed);
	assert_int_equal(ev.v[0].since, at("2026-11-02T09:00"));
	tg_alert_events_free(&ev);

	w.res[rag].value = 40;
	w.res[rag].period = tg_day_from_ymd(2026, 11, 1);
	/* the same cycle under a configuration whose target changed */
	assert_int_equal(tg_alerts_step(w.st, other, w.res, at("2026-11-09T09:00"), &next, &ev), 0);
	e = find_event(other, &ev, "RAG-01", "ragioneria");
	assert_non_null(e);
	/* said at once, not left to the next reminder */
	assert_int_equal(e->kind, TG_ALERT_FIRING);
	assert_true(e->target_changed);
	tg_alert_events_free(&ev);
	tg_alerts_free(next);

	cycle(&w, "2026-11-09T09:00", &ev);
	e = find_event(w.cfg, &ev, "RAG-01", "ragioneria");
	assert_non_null(e);
	assert_false(e->target_changed);
	/* the value of the previous message */
	assert_true(e->has_previous_value);
	assert_true(e->previous_value == 38.5);
	assert_int_equal(e->previous_period, tg_day_from_ymd(2026, 10, 1));
	assert_int_equal(e->since, at("2026-11-02T09:00"));
	tg_alert_events_free(&ev);

	w.res[rag].status = TG_STATUS_OK;
	w.res[rag].has_value = false;
	cycle(&w, "2026-11-10T09:00", &ev);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.v[0].kind, TG_ALERT_RESOLVED);
	assert_true(ev.v[0].has_previous_value);
	assert_true(ev.v[0].previous_value == 40);
	assert_int_equal(ev.v[0].previous_period, tg_day_from_ymd(2026, 11, 1));
	tg_alert_events_free(&ev);
	tg_config_free(other);
	world_free(&w);
}

static void test_forgotten(void **state)
{
	static const char renamed[] =
		CONF_HEAD
		"indicators = (\n"
		"  { id = \"RAG-01\"; name = \"Pagamenti\"; department = \"Ragioneria\"; target = 30; }\n"
		");\n"
		CONF_CHANNELS
		"routes = ( { name = \"ragioneria-2\"; channels = [\"chat\"]; } );\n";
	struct world w;
	struct tg_config *cfg2 = load(renamed);
	struct tg_alert_events ev;
	struct tg_alerts *next;

	(void)state;
	world_init(&w, conf_text);
	set_statuses(&w, "RAG-01=critical URP-01=critical");
	cycle(&w, "2026-11-02T09:00", &ev);
	assert_int_equal(ev.n, 4);   /* ragioneria, critici for both, route 3 */
	tg_alert_events_free(&ev);
	assert_int_equal(tg_alerts_active(w.st), 4);
	assert_int_equal(tg_alerts_messages(w.st, "RAG-01"), 2);
	assert_int_equal(tg_alerts_messages(w.st, "URP-01"), 2);
	assert_int_equal(tg_alerts_messages(w.st, "SCU-01"), 0);
	assert_int_equal(tg_alerts_messages(w.st, "NOPE"), 0);

	/* URP-01 and the routes are gone: their alerts are forgotten without a
	 * word; RAG-01 under the new route is a new alert */
	w.res[0].status = TG_STATUS_OK;
	assert_int_equal(tg_alerts_step(w.st, cfg2, w.res, at("2026-11-02T10:00"), &next, &ev), 0);
	assert_int_equal(ev.n, 0);
	assert_int_equal(tg_alerts_active(next), 0);
	assert_int_equal(tg_alerts_messages(next, "URP-01"), 0);
	assert_int_equal(tg_alerts_messages(next, "RAG-01"), 0);
	tg_alerts_free(next);
	w.res[0].status = TG_STATUS_CRITICAL;
	assert_int_equal(tg_alerts_step(w.st, cfg2, w.res, at("2026-11-02T10:00"), &next, &ev), 0);
	assert_int_equal(ev.n, 1);
	assert_string_equal(ev.v[0].route, "ragioneria-2");
	assert_int_equal(ev.v[0].kind, TG_ALERT_FIRING);
	assert_int_equal(ev.v[0].previous, TG_STATUS_OK);
	assert_int_equal(tg_alerts_active(next), 1);
	tg_alert_events_free(&ev);
	tg_alerts_free(next);
	tg_config_free(cfg2);
	world_free(&w);
}

static void test_admins_without_channel(void **state)
{
	static const char text[] =
		"daemon = { state_dir = \"/tmp/x\"; admins = [\"ced@comune.example\"]; };\n"
		"sources = ( { name = \"s\"; type = \"csv\"; path = \"/tmp/x.csv\"; } );\n"
		"indicators = ( { id = \"A-1\"; name = \"A\"; department = \"D\"; target = 1; } );\n"
		"channels = ( { name = \"chat\"; type = \"webhook\"; url = \"https://example.invalid/h\"; } );\n"
		"routes = ( { channels = [\"chat\"]; } );\n";
	struct world w;
	struct tg_alert_events ev;

	(void)state;
	world_init(&w, text);
	w.res[0].status = TG_STATUS_ERROR;
	cycle(&w, "2026-11-02T09:00", &ev);
	assert_int_equal(ev.n, 0);               /* no email channel: nobody to tell */
	tg_alert_events_free(&ev);
	assert_int_equal(tg_alerts_active(w.st), 1);   /* but it is remembered */
	assert_int_equal(tg_alerts_messages(w.st, "A-1"), 0);
	w.res[0].status = TG_STATUS_WARNING;
	cycle(&w, "2026-11-02T10:00", &ev);
	assert_int_equal(ev.n, 1);
	assert_string_equal(ev.v[0].route, "route 1");
	assert_int_equal(ev.v[0].n_to, 1);
	assert_null(ev.v[0].to[0].address);
	tg_alert_events_free(&ev);
	assert_int_equal(tg_alerts_active(w.st), 1);   /* admins ended silently */
	world_free(&w);
}

static void expected_id(const char *ind_id, const char *route, tg_time since, unsigned seq,
			char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s%c%s%c%lld%c%u", ind_id, 0, route, 0,
			 (long long)since, 0, seq);

	assert_int_equal(EVP_Digest(buf, (size_t)n, md, &len, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_event_ids(void **state)
{
	struct world w;
	struct tg_alert_events a, b;
	struct tg_alerts *n1, *n2;
	char want[33];
	tg_time t0 = at("2026-11-02T09:00");

	(void)state;
	world_init(&w, conf_text);
	set_statuses(&w, "RAG-01=warning");
	cycle(&w, "2026-11-02T09:00", &a);
	assert_int_equal(a.n, 1);
	expected_id("RAG-01", "ragioneria", t0, 1, want);
	assert_string_equal(a.v[0].id, want);
	tg_alert_events_free(&a);

	/* a cycle replayed from the same old state gives the same ids */
	set_statuses(&w, "RAG-01=critical");
	assert_int_equal(tg_alerts_step(w.st, w.cfg, w.res, at("2026-11-03T09:00"), &n1, &a), 0);
	assert_int_equal(tg_alerts_step(w.st, w.cfg, w.res, at("2026-11-03T09:00"), &n2, &b), 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(b.n, 2);
	for (size_t i = 0; i < a.n; i++) {
		assert_string_equal(a.v[i].id, b.v[i].id);
		assert_string_equal(a.v[i].route, b.v[i].route);
	}
	expected_id("RAG-01", "ragioneria", t0, 2, want);
	assert_string_equal(find_event(w.cfg, &a, "RAG-01", "ragioneria")->id, want);
	expected_id("RAG-01", "critici", at("2026-11-03T09:00"), 1, want);
	assert_string_equal(find_event(w.cfg, &a, "RAG-01", "critici")->id, want);
	assert_int_equal(tg_alerts_messages(n1, "RAG-01"), 3);
	assert_int_equal(tg_alerts_messages(w.st, "RAG-01"), 1);   /* the old state untouched */
	tg_alert_events_free(&b);
	tg_alerts_free(n2);

	/* the next message of the same alert has another id */
	w.res[ind(w.cfg, "RAG-01")].status = TG_STATUS_OK;
	assert_int_equal(tg_alerts_step(n1, w.cfg, w.res, at("2026-11-04T09:00"), &n2, &b), 0);
	assert_int_equal(b.n, 2);
	for (size_t i = 0; i < b.n; i++)
		for (size_t k = 0; k < a.n; k++)
			assert_string_not_equal(b.v[i].id, a.v[k].id);
	expected_id("RAG-01", "ragioneria", t0, 3, want);
	assert_string_equal(find_event(w.cfg, &b, "RAG-01", "ragioneria")->id, want);
	assert_int_equal(find_event(w.cfg, &b, "RAG-01", "ragioneria")->kind, TG_ALERT_RESOLVED);
	tg_alert_events_free(&a);
	tg_alerts_free(n2);
	/* resolving does not touch the old state either: replayed, same ids */
	assert_int_equal(tg_alerts_messages(n1, "RAG-01"), 3);
	assert_int_equal(tg_alerts_step(n1, w.cfg, w.res, at("2026-11-04T09:00"), &n2, &a), 0);
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++)
		assert_string_equal(a.v[i].id, b.v[i].id);
	assert_int_equal(tg_alerts_messages(n1, "RAG-01"), 3);
	assert_int_equal(tg_alerts_messages(n2, "RAG-01"), 0);   /* resolved: forgotten */
	tg_alert_events_free(&a);
	tg_alert_events_free(&b);
	tg_alerts_free(n1);
	tg_alerts_free(n2);
	world_free(&w);
}

/* ---- state.json ---- */

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tg-alert-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

/* Both states give the same events, in every respect, for the same cycle. */
static void assert_same_behaviour(const struct tg_config *cfg, const struct tg_alerts *x,
				  const struct tg_alerts *y, const struct tg_eval_result *res,
				  const char *now)
{
	struct tg_alert_events a, b;
	struct tg_alerts *nx, *ny;
	char da[2048], db[2048];

	assert_int_equal(tg_alerts_step(x, cfg, res, at(now), &nx, &a), 0);
	assert_int_equal(tg_alerts_step(y, cfg, res, at(now), &ny, &b), 0);
	describe(cfg, &a, da, sizeof(da));
	describe(cfg, &b, db, sizeof(db));
	assert_string_equal(da, db);
	for (size_t i = 0; i < a.n; i++) {
		assert_string_equal(a.v[i].id, b.v[i].id);
		assert_int_equal(a.v[i].since, b.v[i].since);
		assert_int_equal(a.v[i].has_previous_value, b.v[i].has_previous_value);
		assert_memory_equal(&a.v[i].previous_value, &b.v[i].previous_value, sizeof(double));
		assert_int_equal(a.v[i].previous_period, b.v[i].previous_period);
	}
	tg_alert_events_free(&a);
	tg_alert_events_free(&b);
	tg_alerts_free(nx);
	tg_alerts_free(ny);
}

static void test_roundtrip(void **state)
{
	struct world w;
	struct tg_alert_events ev;
	struct tg_alerts *back = NULL;
	struct tg_error err;
	char p1[128], p2[128], *t1, *t2;
	size_t l1, l2;
	struct stat sb;
	size_t rag, urp;

	(void)state;
	world_init(&w, conf_text);
	rag = ind(w.cfg, "RAG-01");
	urp = ind(w.cfg, "URP-01");
	/* a state with a bit of everything: escalation, told lists over two
	 * channels, a NaN value, no value, a silence marker, an admins alert */
	set_statuses(&w, "RAG-01=late URP-01=critical");
	w.res[urp].value = NAN;
	cycle(&w, "2026-07-01T09:00", &ev);
	tg_alert_events_free(&ev);
	set_statuses(&w, "RAG-01=critical SCU-01=warning");
	w.res[rag].has_value = false;
	cycle(&w, "2026-07-20T09:30:15", &ev);
	tg_alert_events_free(&ev);
	set_statuses(&w, "URP-01=error");
	cycle(&w, "2026-08-02T09:00", &ev);
	tg_alert_events_free(&ev);

	snprintf(p1, sizeof(p1), "%s/state.json", tmpdir);
	snprintf(p2, sizeof(p2), "%s/state2.json", tmpdir);
	assert_int_equal(tg_alerts_save(w.st, p1, &err), 0);
	assert_int_equal(stat(p1, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0640);
	assert_int_equal(tg_alerts_load(p1, &back, &err), 0);
	assert_int_equal(tg_alerts_active(back), tg_alerts_active(w.st));
	for (size_t i = 0; i < w.cfg->n_indicators; i++)
		assert_int_equal(tg_alerts_messages(back, w.cfg->indicators[i].id),
				 tg_alerts_messages(w.st, w.cfg->indicators[i].id));
	assert_int_equal(tg_alerts_save(back, p2, &err), 0);
	t1 = slurp(p1, &l1);
	t2 = slurp(p2, &l2);
	assert_int_equal(l1, l2);
	assert_string_equal(t1, t2);
	/* readable: the layout documented in alert.c */
	assert_non_null(strstr(t1, "\"version\": 1"));
	assert_non_null(strstr(t1, "\"since\": \"2026-07-20T09:30:15\""));
	assert_non_null(strstr(t1, "\"value\": \"NaN\""));
	assert_non_null(strstr(t1, "\"address\": \"rag@comune.example\""));
	assert_non_null(strstr(t1, "\"address\": null"));
	assert_non_null(strstr(t1, "\"route\": \"admins\""));
	assert_non_null(strstr(t1, "\"silenced\": true"));
	assert_true(l1 > 0 && t1[l1 - 1] == '\n');

	/* the loaded state behaves exactly as the one in memory */
	set_statuses(&w, "RAG-01=critical URP-01=critical SCU-01=warning");
	assert_same_behaviour(w.cfg, w.st, back, w.res, "2026-08-03T09:00");
	assert_same_behaviour(w.cfg, w.st, back, w.res, "2026-09-01T09:00");
	set_statuses(&w, "RAG-01=ok URP-01=ok SCU-01=ok");
	assert_same_behaviour(w.cfg, w.st, back, w.res, "2026-09-01T09:00");

	free(t1);
	free(t2);
	tg_alerts_free(back);

	/* an empty state round-trips too */
	back = tg_alerts_new();
	assert_int_equal(tg_alerts_save(back, p1, &err), 0);
	tg_alerts_free(back);
	assert_int_equal(tg_alerts_load(p1, &back, &err), 0);
	assert_int_equal(tg_alerts_active(back), 0);
	tg_alerts_free(back);
	world_free(&w);
}

#define ALERT_OK \
	"\"indicator\": \"RAG-01\", \"route\": \"ragioneria\", \"active\": true, " \
	"\"status\": \"warning\", \"since\": \"2026-11-20T09:00:00\", " \
	"\"last_sent\": \"2026-11-20T09:00:00\", \"escalated\": false, \"seq\": 1, " \
	"\"told\": [{\"channel\": \"posta\", \"address\": \"a@b.it\"}], " \
	"\"fingerprint\": \"x\", \"value\": 12.5, \"period\": \"2026-10-01\", \"silenced\": false"
#define WRAP(alert) "{\"version\": 1, \"alerts\": [{" alert "}]}"
/* ALERT_OK with one member replaced: the member goes first, and the
 * loader's duplicate-key check would refuse two, so the rest is spelled out */
#define ALERT_WITHOUT_SEQ \
	"\"indicator\": \"RAG-01\", \"route\": \"ragioneria\", \"active\": true, " \
	"\"status\": \"warning\", \"since\": \"2026-11-20T09:00:00\", " \
	"\"last_sent\": \"2026-11-20T09:00:00\", \"escalated\": false, " \
	"\"told\": [], \"fingerprint\": \"x\", \"value\": 12.5, \"period\": \"2026-10-01\", " \
	"\"silenced\": false"

static void test_load_good(void **state)
{
	static const char *const good[] = {
		WRAP(ALERT_OK),
		"{\"version\": 1, \"alerts\": []}",
		/* unknown keys are ignored, at the top and in an alert */
		"{\"version\": 1, \"written_by\": \"traguardo 2\", \"alerts\": [{" ALERT_OK
		", \"future\": {\"x\": [1, 2]}}]}",
		WRAP(ALERT_WITHOUT_SEQ ", \"seq\": 0"),
		/* the same recipient twice, spelled differently: once */
		"{\"version\": 1, \"alerts\": [{" ALERT_WITHOUT_SEQ
		", \"seq\": 3}, {\"indicator\": \"B\", \"route\": \"admins\", \"active\": false, "
		"\"status\": \"error\", \"since\": \"2026-11-20 09:00\", \"last_sent\": \"2026-11-20\", "
		"\"escalated\": true, \"seq\": 2147483647, \"told\": [{\"channel\": \"posta\", "
		"\"address\": \"A@b.it\"}, {\"channel\": \"posta\", \"address\": \"a@B.it\"}, "
		"{\"channel\": \"chat\", \"address\": null}], \"fingerprint\": \"\", \"value\": null, "
		"\"period\": null, \"silenced\": true}]}",
		WRAP(ALERT_WITHOUT_SEQ ", \"seq\": 1, \"x\": \"\\u00e8\"") ,
	};
	static const size_t active[] = { 1, 0, 1, 1, 1, 1 };

	(void)state;
	for (size_t c = 0; c < sizeof(good) / sizeof(good[0]); c++) {
		struct tg_alerts *a = NULL;
		struct tg_error err = { { 0 } };
		int rc = tg_alerts_load_mem(good[c], strlen(good[c]), "state.json", &a, &err);

		if (rc != 0) {
			print_error("case %zu: %d %s\n", c, rc, err.msg);
			fail();
		}
		assert_non_null(a);
		if (tg_alerts_active(a) != active[c]) {
			print_error("case %zu: %zu active alerts\n", c, tg_alerts_active(a));
			fail();
		}
		tg_alerts_free(a);
	}
}

static void test_load_told_dedup(void **state)
{
	static const char text[] =
		"{\"version\": 1, \"alerts\": [{\"indicator\": \"RAG-01\", \"route\": \"ragioneria\", "
		"\"active\": true, \"status\": \"warning\", \"since\": \"2026-11-02T09:00:00\", "
		"\"last_sent\": \"2026-11-02T09:00:00\", \"escalated\": false, \"seq\": 1, "
		"\"told\": [{\"channel\": \"posta\", \"address\": \"Capo@comune.example\"}, "
		"{\"channel\": \"posta\", \"address\": \"capo@COMUNE.example\"}, "
		"{\"channel\": \"gone\", \"address\": \"x@comune.example\"}, "
		"{\"channel\": \"chat\", \"address\": null}, "
		"{\"channel\": \"chat\", \"address\": \"w@comune.example\"}], "
		"\"fingerprint\": \"old\", \"value\": 31, \"period\": \"2026-10-01\", "
		"\"silenced\": false}]}";
	struct world w;
	struct tg_alerts *a;
	struct tg_alert_events ev;
	struct tg_error err;
	char got[512];

	(void)state;
	world_init(&w, conf_text);
	assert_int_equal(tg_alerts_load_mem(text, strlen(text), "s", &a, &err), 0);
	tg_alerts_free(w.st);
	w.st = a;
	/* resolved to what was told: the capo once, the chat once (its old
	 * address entry is a webhook now), the removed channel skipped; the
	 * fingerprint "old" is not today's thresholds */
	cycle(&w, "2026-11-03T09:00", &ev);
	describe(w.cfg, &ev, got, sizeof(got));
	assert_string_equal(got, "RAG-01/ragioneria resolved ok (warning) chat,posta:Capo@comune.example +target");
	assert_true(ev.v[0].has_previous_value);
	assert_true(ev.v[0].previous_value == 31);
	tg_alert_events_free(&ev);
	world_free(&w);
}

static void test_load_hostile(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "", "line 1:" },
		{ "{", "line 1:" },
		{ "{\n  \"version\": 1,\n  \"alerts\": [\n    {]\n}\n", "line 4:" },
		{ "{\"version\": 1, \"alerts\": []} x", "line 1:" },
		{ "[]", "must be a JSON object, not an array" },
		{ "{\"alerts\": []}", "'version' is missing" },
		{ "{\"version\": \"1\", \"alerts\": []}", "'version' must be an integer" },
		{ "{\"version\": 2, \"alerts\": []}", "version 2 is not supported" },
		{ "{\"version\": 1}", "'alerts' is missing" },
		{ "{\"version\": 1, \"alerts\": {}}", "'alerts' must be an array, not an object" },
		{ "{\"version\": 1, \"version\": 1, \"alerts\": []}", "duplicate" },
		{ "{\"version\": 1, \"alerts\": [1]}", "alert 1: must be an object, not an integer" },
		{ "{\"version\": 1, \"alerts\": [{" ALERT_OK "}, null]}", "alert 2: must be an object" },
		{ WRAP(ALERT_WITHOUT_SEQ), "alert 1: 'seq' is missing" },
		{ WRAP(ALERT_WITHOUT_SEQ ", \"seq\": -1"), "alert 1: 'seq' is -1, out of range" },
		{ WRAP(ALERT_WITHOUT_SEQ ", \"seq\": 2147483648"), "'seq' is 2147483648, out of range" },
		{ WRAP(ALERT_WITHOUT_SEQ ", \"seq\": 1e30"), "'seq' must be an integer, not a real number" },
		{ WRAP(ALERT_WITHOUT_SEQ ", \"seq\": 123456789012345678901234567890"), "line 1:" },
		{ WRAP(ALERT_WITHOUT_SEQ ", \"seq\": true"), "'seq' must be an integer, not true" },
		{ "{\"version\": 1, \"alerts\": [{\"indicator\": 5}]}",
		  "alert 1: 'indicator' must be a string, not an integer" },
		{ "{\"version\": 1, \"alerts\": [{\"indicator\": \"\"}]}", "alert 1: 'indicator' is empty" },
		{ "{\"version\": 1, \"alerts\": [{\"indicator\": \"A\\u0000B\"}]}", "line 1:" },
		{ "{\"version\": 1, \"alerts\": [{\"indicator\": \"\xff\"}]}", "line 1:" },
		{ "{\"version\": 1, \"alerts\": [{\"indicator\": \"A\", \"route\": null}]}",
		  "'route' must be a string, not null" },
		{ "{\"version\": 1, \"alerts\": [{\"indicator\": \"A\", \"route\": \"r\", "
		  "\"active\": 1}]}", "'active' must be true or false, not an integer" },
		{ "{\"version\": 1, \"alerts\": [{\"indicator\": \"A\", \"route\": \"r\", "
		  "\"active\": true, \"escalated\": false, \"silenced\": false, \"status\": \"bogus\"}]}",
		  "'status': unknown status 'bogus'" },
		{ "{\"version\": 1, \"alerts\": [{\"indicator\": \"A\", \"route\": \"r\", "
		  "\"active\": true, \"escalated\": false, \"silenced\": false, \"status\": \"ok\", "
		  "\"since\": \"2026-13-01T00:00\"}]}", "'since':" },
		{ "{\"version\": 1, \"alerts\": [{\"indicator\": \"A\", \"route\": \"r\", "
		  "\"active\": true, \"escalated\": false, \"silenced\": false, \"status\": \"ok\", "
		  "\"since\": \"2026-01-01T00:00\", \"last_sent\": 17}]}",
		  "'last_sent' must be a string, not an integer" },
		{ WRAP(ALERT_WITHOUT_SEQ ", \"seq\": 1e999"), "line 1:" },
		{ "{\"version\": 1, \"alerts\": [{" ALERT_OK "}, {" ALERT_OK "}]}",
		  "two alerts for indicator 'RAG-01' and route 'ragioneria'" },
	};
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct tg_alerts *a = NULL;
		struct tg_error err = { { 0 } };
		int rc = tg_alerts_load_mem(cases[c].text, strlen(cases[c].text), "state.json", &a, &err);

		if (rc != -EBADMSG || a == NULL || tg_alerts_active(a) != 0 ||
		    strncmp(err.msg, "state.json: ", 12) != 0 || strstr(err.msg, cases[c].msg) == NULL) {
			print_error("case %zu: rc %d, state %p, message \"%s\", expected \"%s\"\n", c, rc,
				    (void *)a, err.msg, cases[c].msg);
			tg_alerts_free(a);
			fail();
		}
		for (const char *p = err.msg; *p; p++)
			assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
		tg_alerts_free(a);
	}
}

/* Wrong values of one member at a time, the others valid. */
static void test_load_fields(void **state)
{
	static const struct {
		const char *member, *value, *msg;
	} cases[] = {
		{ "told", "{}", "'told' must be an array, not an object" },
		{ "told", "[3]", "'told' entry 1 must be an object, not an integer" },
		{ "told", "[{\"address\": null}]", "'told' entry 1: 'channel' is missing" },
		{ "told", "[{\"channel\": \"\", \"address\": null}]", "'told' entry 1: 'channel' is empty" },
		{ "told", "[{\"channel\": \"posta\"}]", "'told' entry 1: 'address' is missing" },
		{ "told", "[{\"channel\": \"posta\", \"address\": 3}]",
		  "'told' entry 1: 'address' must be a string or null, not an integer" },
		{ "told", "[{\"channel\": \"p\", \"address\": null}, {\"channel\": \"posta\", "
		  "\"address\": \"a@b.it\\r\\nBcc: x@y.it\"}]",
		  "'told' entry 2: 'a@b.it\\x0d\\x0aBcc: x@y.it' is not an email address" },
		{ "told", "[{\"channel\": \"posta\", \"address\": \"nobody\"}]", "is not an email address" },
		{ "fingerprint", "null", "'fingerprint' must be a string, not null" },
		{ "value", "\"12,5\"", "'value' must be a number, null, \"NaN\"" },
		{ "value", "[]", "'value' must be a number or null, not an array" },
		{ "value", "null", "'value' and 'period' must both be null or both be set" },
		{ "period", "null", "'value' and 'period' must both be null or both be set" },
		{ "period", "\"2026-10\"", "'period' must be a date YYYY-MM-DD, not '2026-10'" },
		{ "period", "\"2026-02-30\"", "'period' must be a date" },
		{ "period", "5", "'period' must be a string or null, not an integer" },
		{ "since", "\"yesterday\"", "'since':" },
		{ "since", "\"2026-11-20T25:00\"", "'since':" },
		{ "status", "\"OK\\u0001\"", "unknown status 'OK\\x01'" },
		{ "route", "\"\"", "'route' is empty" },
		{ "silenced", "null", "'silenced' must be true or false, not null" },
		{ "escalated", "\"no\"", "'escalated' must be true or false, not a string" },
	};
	static const char *const members[] = {
		"indicator", "route", "active", "status", "since", "last_sent", "escalated", "seq",
		"told", "fingerprint", "value", "period", "silenced",
	};
	static const char *const defaults[] = {
		"\"RAG-01\"", "\"r\"", "true", "\"warning\"", "\"2026-11-20T09:00:00\"",
		"\"2026-11-20T09:00:00\"", "false", "1", "[]", "\"x\"", "12.5", "\"2026-10-01\"", "false",
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char text[2048];
		size_t o = 0;
		struct tg_alerts *a = NULL;
		struct tg_error err = { { 0 } };
		int rc;

		o += (size_t)snprintf(text + o, sizeof(text) - o, "{\"version\": 1, \"alerts\": [{");
		for (size_t m = 0; m < sizeof(members) / sizeof(members[0]); m++)
			o += (size_t)snprintf(text + o, sizeof(text) - o, "%s\"%s\": %s", m ? ", " : "",
					      members[m],
					      strcmp(members[m], cases[c].member) == 0 ? cases[c].value
										      : defaults[m]);
		o += (size_t)snprintf(text + o, sizeof(text) - o, "}]}");
		assert_true(o < sizeof(text));
		rc = tg_alerts_load_mem(text, o, "st", &a, &err);
		if (rc != -EBADMSG || a == NULL || strncmp(err.msg, "st: alert 1: ", 13) != 0 ||
		    strstr(err.msg, cases[c].msg) == NULL) {
			print_error("case %zu (%s = %s): rc %d, message \"%s\", expected \"%s\"\n", c,
				    cases[c].member, cases[c].value, rc, err.msg, cases[c].msg);
			tg_alerts_free(a);
			fail();
		}
		tg_alerts_free(a);
	}
}

static void test_load_limits(void **state)
{
	struct tg_alerts *a = NULL;
	struct tg_error err = { { 0 } };
	size_t big = 64u * 1024 * 1024 + 1, n = 1000001, o = 0;
	char *buf = calloc(1, big);
	char *s;

	(void)state;
	assert_non_null(buf);
	memset(buf, ' ', big);
	assert_int_equal(tg_alerts_load_mem(buf, big, "state.json", &a, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "more than a state file can have"));
	tg_alerts_free(a);
	free(buf);

	/* more than a million alerts, each of them tiny */
	buf = malloc(40 + 3 * n);
	assert_non_null(buf);
	o += (size_t)sprintf(buf, "{\"version\": 1, \"alerts\": [");
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + o, i ? ",{}" : "{}", i ? 3 : 2);
		o += i ? 3 : 2;
	}
	o += (size_t)sprintf(buf + o, "]}");
	assert_int_equal(tg_alerts_load_mem(buf, o, "state.json", &a, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "1000001 alerts, more than 1000000"));
	tg_alerts_free(a);
	free(buf);

	/* a string over 4 KiB */
	s = malloc(6000);
	assert_non_null(s);
	o = (size_t)sprintf(s, "{\"version\": 1, \"alerts\": [{\"indicator\": \"");
	memset(s + o, 'x', 4097);
	o += 4097;
	o += (size_t)sprintf(s + o, "\"}]}");
	assert_int_equal(tg_alerts_load_mem(s, o, "state.json", &a, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "'indicator' is too long (4097 bytes, at most 4096)"));
	tg_alerts_free(a);
	free(s);
}

static void test_load_file(void **state)
{
	struct tg_alerts *a = NULL;
	struct tg_error err = { { 0 } };
	char path[128];

	(void)state;
	/* missing: an empty state */
	snprintf(path, sizeof(path), "%s/absent.json", tmpdir);
	assert_int_equal(tg_alerts_load(path, &a, &err), 0);
	assert_non_null(a);
	assert_int_equal(tg_alerts_active(a), 0);
	tg_alerts_free(a);

	/* a directory: an error, no state */
	a = (struct tg_alerts *)&err;
	assert_int_equal(tg_alerts_load(tmpdir, &a, &err), -EISDIR);
	assert_null(a);
	assert_non_null(strstr(err.msg, tmpdir));

	/* a FIFO neither hangs nor counts as a state */
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	a = (struct tg_alerts *)&err;
	assert_int_equal(tg_alerts_load(path, &a, &err), -EINVAL);
	assert_null(a);
	assert_non_null(strstr(err.msg, "not a regular file"));

	/* bad content: -EBADMSG naming the file and the line, empty state */
	snprintf(path, sizeof(path), "%s/bad.json", tmpdir);
	write_text(path, "{\"version\": 1,\n\"alerts\": [\n\n  x]}", 33);
	assert_int_equal(tg_alerts_load(path, &a, &err), -EBADMSG);
	assert_non_null(a);
	assert_int_equal(tg_alerts_active(a), 0);
	tg_alerts_free(a);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "line 4:"));

	/* good content */
	write_text(path, WRAP(ALERT_OK), strlen(WRAP(ALERT_OK)));
	assert_int_equal(tg_alerts_load(path, &a, &err), 0);
	assert_int_equal(tg_alerts_active(a), 1);
	assert_int_equal(tg_alerts_messages(a, "RAG-01"), 1);
	tg_alerts_free(a);

	/* saving into a missing directory fails with the path */
	snprintf(path, sizeof(path), "%s/no/such/dir/state.json", tmpdir);
	a = tg_alerts_new();
	assert_true(tg_alerts_save(a, path, &err) < 0);
	assert_non_null(strstr(err.msg, tmpdir));
	tg_alerts_free(a);
}

static void test_free_null(void **state)
{
	struct tg_alert_events ev = { 0 };

	(void)state;
	tg_alerts_free(NULL);
	tg_alert_events_free(NULL);
	tg_alert_events_free(&ev);
	assert_int_equal(tg_alerts_active(NULL), 0);
	assert_int_equal(tg_alerts_messages(NULL, "X"), 0);
	assert_string_equal(tg_alert_kind_name(TG_ALERT_FIRING), "firing");
	assert_string_equal(tg_alert_kind_name(TG_ALERT_REMINDER), "reminder");
	assert_string_equal(tg_alert_kind_name(TG_ALERT_ESCALATED), "escalated");
	assert_string_equal(tg_alert_kind_name(TG_ALERT_RESOLVED), "resolved");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_late_and_error),
		cmocka_unit_test(test_min_status_and_unknown),
		cmocka_unit_test(test_silences),
		cmocka_unit_test(test_previous_value_and_target),
		cmocka_unit_test(test_forgotten),
		cmocka_unit_test(test_admins_without_channel),
		cmocka_unit_test(test_event_ids),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_load_good),
		cmocka_unit_test(test_load_told_dedup),
		cmocka_unit_test(test_load_hostile),
		cmocka_unit_test(test_load_fields),
		cmocka_unit_test(test_load_limits),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
