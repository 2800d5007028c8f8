/*
 * test_route.c — who is told what: route coverage and matching
 * (departments, processes, ids, min_status), silences with both ends
 * included, and the plan of a cycle's messages: one per recipient, the
 * recipients of one email channel with the same events merged, events by
 * department then worst first then id, addresses compared without case,
 * plan ids independent of the order of events and addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

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

static const char conf_text[] =
	"daemon = { state_dir = \"/tmp/x\"; language = \"it\";\n"
	"           admins = [\"ced@comune.example\", \"ced2@comune.example\"]; };\n"
	"sources = ( { name = \"s\"; type = \"csv\"; path = \"/tmp/x.csv\"; } );\n"
	"indicators = (\n"
	"  { id = \"RAG-01\"; name = \"Pagamenti\"; department = \"Ragioneria\"; process = \"Spesa\";\n"
	"    owner = \"rag@comune.example\"; target = 1; },\n"
	"  { id = \"RAG-02\"; name = \"Fatture\"; department = \"Ragioneria\"; process = \"Entrate\";\n"
	"    owner = \"RAG@Comune.Example\"; target = 1; },\n"
	"  { id = \"URP-01\"; name = \"Soddisfazione\"; department = \"URP\"; target = 1; },\n"
	"  { id = \"SCU-01\"; name = \"Mense\"; department = \"Servizi scolastici\";\n"
	"    owner = \"scuola@comune.example\"; target = 1; }\n"
	");\n"
	"channels = (\n"
	"  { name = \"chat\"; type = \"webhook\"; url = \"https://example.invalid/hook\"; },\n"
	"  { name = \"posta\"; type = \"email\"; url = \"smtp://mail.example:587\"; from = \"q@comune.example\"; },\n"
	"  { name = \"posta2\"; type = \"email\"; url = \"smtp://mail2.example:587\"; from = \"q@comune.example\"; }\n"
	");\n"
	"routes = (\n"
	"  { departments = [\"Ragioneria\"]; channels = [\"posta\"]; to = [\"@owner\", \"capo@comune.example\"]; },\n"
	"  { processes = [\"Spesa\"]; min_status = \"critical\"; channels = [\"posta\"];\n"
	"    to = [\"rag@comune.example\"]; },\n"
	"  { departments = [\"URP\"]; channels = [\"posta\"]; to = [\"@owner\"]; },\n"
	"  { indicators = [\"SCU-01\"]; min_status = \"late\"; channels = [\"chat\", \"posta\"];\n"
	"    to = [\"@owner\"]; }\n"
	");\n"
	"silences = ( { departments = [\"Servizi scolastici\"]; from = \"2026-08-01\";\n"
	"               until = \"2026-08-31\"; reason = \"Chiusura estiva\"; } );\n";

enum { RAG1, RAG2, URP1, SCU1, N_IND };

static void results(struct tg_eval_result res[N_IND], enum tg_status a, enum tg_status b,
		    enum tg_status c, enum tg_status d)
{
	memset(res, 0, sizeof(struct tg_eval_result) * N_IND);
	res[RAG1].status = a;
	res[RAG2].status = b;
	res[URP1].status = c;
	res[SCU1].status = d;
}

static void test_matches(void **state)
{
	struct tg_config *cfg = load(conf_text);
	static const struct {
		size_t route, ind;
		enum tg_status status;
		bool match;
	} cases[] = {
		{ 0, RAG1, TG_STATUS_WARNING, true },
		{ 0, RAG1, TG_STATUS_UNKNOWN, false },   /* below min_status warning */
		{ 0, RAG1, TG_STATUS_OK, false },
		{ 0, RAG2, TG_STATUS_LATE, true },
		{ 0, URP1, TG_STATUS_CRITICAL, false },  /* another department */
		{ 0, RAG1, TG_STATUS_ERROR, false },     /* errors are for admins */
		{ 1, RAG1, TG_STATUS_CRITICAL, true },
		{ 1, RAG1, TG_STATUS_LATE, false },
		{ 1, RAG2, TG_STATUS_CRITICAL, false },  /* another process */
		{ 1, URP1, TG_STATUS_CRITICAL, false },  /* no process at all */
		{ 3, SCU1, TG_STATUS_LATE, true },
		{ 3, RAG1, TG_STATUS_CRITICAL, false },  /* not in indicators */
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		if (tg_route_matches(&cfg->routes[cases[c].route], &cfg->indicators[cases[c].ind],
				     cases[c].status) != cases[c].match) {
			print_error("case %zu: route %zu, %s, %s: expected %s\n", c, cases[c].route,
				    cfg->indicators[cases[c].ind].id, tg_status_name(cases[c].status),
				    cases[c].match ? "a match" : "no match");
			fail();
		}
	tg_config_free(cfg);
}

static void test_silence_dates_inclusive(void **state)
{
	struct tg_config *cfg = load(conf_text);
	const struct tg_indicator *scu = &cfg->indicators[SCU1], *rag = &cfg->indicators[RAG1];

	(void)state;
	assert_null(tg_silence_find(cfg, scu, tg_day_from_ymd(2026, 7, 31)));
	assert_non_null(tg_silence_find(cfg, scu, tg_day_from_ymd(2026, 8, 1)));
	assert_non_null(tg_silence_find(cfg, scu, tg_day_from_ymd(2026, 8, 15)));
	assert_non_null(tg_silence_find(cfg, scu, tg_day_from_ymd(2026, 8, 31)));
	assert_null(tg_silence_find(cfg, scu, tg_day_from_ymd(2026, 9, 1)));
	assert_null(tg_silence_find(cfg, rag, tg_day_from_ymd(2026, 8, 15)));
	assert_string_equal(tg_silence_find(cfg, scu, tg_day_from_ymd(2026, 8, 1))->reason,
			    "Chiusura estiva");
	tg_config_free(cfg);
}

static void test_covers(void **state)
{
	struct tg_config *cfg = load(conf_text);
	static const struct {
		size_t route, ind;
		bool covers;
	} cases[] = {
		{ 0, RAG1, true }, { 0, RAG2, true }, { 0, URP1, false }, { 0, SCU1, false },
		{ 1, RAG1, true }, { 1, RAG2, false }, { 1, URP1, false },   /* URP-01 has no process */
		{ 2, URP1, true }, { 2, RAG1, false },
		{ 3, SCU1, true }, { 3, RAG1, false },
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct tg_route *r = &cfg->routes[cases[c].route];
		const struct tg_indicator *in = &cfg->indicators[cases[c].ind];

		if (tg_route_covers(r, in) != cases[c].covers) {
			print_error("case %zu: route %zu, %s: expected %s\n", c, cases[c].route, in->id,
				    cases[c].covers ? "covered" : "not covered");
			fail();
		}
		/* covers is matches without the status: error never matches */
		assert_true(tg_route_matches(r, in, TG_STATUS_CRITICAL) == cases[c].covers ||
			    r->min_status > TG_STATUS_CRITICAL);
		assert_false(tg_route_matches(r, in, TG_STATUS_ERROR));
	}
	tg_config_free(cfg);
}

/* ---- plans ---- */

/* An event: indicator, route key, status, id, and its recipients written
 * "posta:a@b.it posta2:c@d.it chat". */
struct ev_spec {
	size_t ind;
	const char *route;
	enum tg_status status;
	const char *id;
	const char *to;
};

static void make_events(const struct tg_config *cfg, const struct ev_spec *spec, size_t n,
			struct tg_alert_events *ev)
{
	ev->n = n;
	ev->v = calloc(n ? n : 1, sizeof(*ev->v));
	assert_non_null(ev->v);
	for (size_t i = 0; i < n; i++) {
		struct tg_alert_event *e = &ev->v[i];
		char buf[512], *save = NULL;

		e->indicator = spec[i].ind;
		e->route = strdup(spec[i].route);
		assert_non_null(e->route);
		e->kind = TG_ALERT_FIRING;
		e->status = spec[i].status;
		snprintf(e->id, sizeof(e->id), "%s", spec[i].id);
		e->to = calloc(16, sizeof(*e->to));
		assert_non_null(e->to);
		snprintf(buf, sizeof(buf), "%s", spec[i].to);
		for (char *t = strtok_r(buf, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
			char *colon = strchr(t, ':');
			ssize_t ch;

			if (colon != NULL)
				*colon = '\0';
			ch = tg_config_channel_index(cfg, t);
			assert_true(ch >= 0);
			e->to[e->n_to].channel = (size_t)ch;
			if (colon != NULL) {
				e->to[e->n_to].address = strdup(colon + 1);
				assert_non_null(e->to[e->n_to].address);
			}
			e->n_to++;
			assert_true(e->n_to < 16);
		}
	}
}

/* "chat [3 2]; posta capo@comune.example,rag@comune.example [0 1]" */
static void describe_plans(const struct tg_config *cfg, const struct tg_plans *p, char *buf,
			   size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n; i++) {
		const struct tg_plan *g = &p->v[i];

		assert_true(g->channel < cfg->n_channels);
		assert_int_equal(strlen(g->id), 32);
		assert_int_equal(strspn(g->id, "0123456789abcdef"), 32);
		o += (size_t)snprintf(buf + o, size - o, "%s%s ", i ? "; " : "",
				      cfg->channels[g->channel].name);
		if (cfg->channels[g->channel].type == TG_CHANNEL_EMAIL)
			assert_true(g->n_to > 0);
		else
			assert_int_equal(g->n_to, 0);
		for (size_t k = 0; k < g->n_to; k++)
			o += (size_t)snprintf(buf + o, size - o, "%s%s", k ? "," : "", g->to[k]);
		o += (size_t)snprintf(buf + o, size - o, "%s[", g->n_to ? " " : "");
		for (size_t k = 0; k < g->n_events; k++)
			o += (size_t)snprintf(buf + o, size - o, "%s%zu", k ? " " : "", g->events[k]);
		o += (size_t)snprintf(buf + o, size - o, "]");
		assert_true(o < size);
	}
}

#define ID(c) #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c \
	      #c #c #c #c #c #c #c #c

static void test_plan_cases(void **state)
{
	static const struct {
		const char *name;
		size_t n;
		struct ev_spec ev[6];
		const char *plans;
	} cases[] = {
		{ "nothing", 0, { { 0 } }, "" },
		{ "no recipients", 1, { { RAG1, "r", TG_STATUS_CRITICAL, ID(a), "" } }, "" },
		/* rag@ and capo@ get the same two events: one message to both;
		 * RAG@Comune.Example is rag@ (the first spelling in message order);
		 * the chat gets the department "Servizi scolastici" before "URP" */
		{ "grouping", 4, {
			{ RAG1, "r", TG_STATUS_CRITICAL, ID(a), "posta:rag@comune.example posta:capo@comune.example" },
			{ RAG2, "r", TG_STATUS_WARNING, ID(b), "posta:RAG@Comune.Example posta:capo@comune.example" },
			{ URP1, "u", TG_STATUS_LATE, ID(c), "chat" },
			{ SCU1, "s", TG_STATUS_CRITICAL, ID(d), "chat posta:scuola@comune.example" } },
		  "chat [3 2]; posta capo@comune.example,rag@comune.example [0 1]; "
		  "posta scuola@comune.example [3]" },
		/* different event lists: separate messages, ordered by address */
		{ "no merge", 2, {
			{ RAG1, "r", TG_STATUS_CRITICAL, ID(a), "posta:zeta@comune.example posta:capo@comune.example" },
			{ RAG2, "r", TG_STATUS_WARNING, ID(b), "posta:capo@comune.example" } },
		  "posta capo@comune.example [0 1]; posta zeta@comune.example [0]" },
		/* the same address on two channels: two messages */
		{ "two channels", 1, {
			{ RAG1, "r", TG_STATUS_CRITICAL, ID(a), "posta2:capo@comune.example posta:capo@comune.example" } },
		  "posta capo@comune.example [0]; posta2 capo@comune.example [0]" },
		/* order: department, worst first, id, then route key */
		{ "order", 6, {
			{ URP1, "r", TG_STATUS_WARNING, ID(a), "chat" },
			{ RAG2, "r", TG_STATUS_WARNING, ID(b), "chat" },
			{ RAG1, "z", TG_STATUS_WARNING, ID(c), "chat" },
			{ RAG1, "a", TG_STATUS_WARNING, ID(d), "chat" },
			{ SCU1, "r", TG_STATUS_OK, ID(e), "chat" },
			{ RAG2, "q", TG_STATUS_CRITICAL, ID(f), "chat" } },
		  "chat [5 3 2 1 4 0]" },
		/* one recipient listed twice by one event: the event once */
		{ "duplicate recipient", 2, {
			{ RAG1, "r", TG_STATUS_CRITICAL, ID(a), "posta:a@comune.example posta:A@COMUNE.example chat chat" },
			{ RAG2, "r", TG_STATUS_CRITICAL, ID(b), "posta:b@comune.example" } },
		  "chat [0]; posta a@comune.example [0]; posta b@comune.example [1]" },
	};
	struct tg_config *cfg = load(conf_text);

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct tg_alert_events ev;
		struct tg_plans p;
		char got[1024];

		make_events(cfg, cases[c].ev, cases[c].n, &ev);
		assert_int_equal(tg_route_plan(cfg, &ev, &p), 0);
		describe_plans(cfg, &p, got, sizeof(got));
		tg_plans_free(&p);
		assert_int_equal(p.n, 0);
		tg_plans_free(&p);   /* twice is harmless */
		tg_alert_events_free(&ev);
		if (strcmp(got, cases[c].plans) != 0) {
			print_error("case %zu (%s):\n  got      \"%s\"\n  expected \"%s\"\n", c,
				    cases[c].name, got, cases[c].plans);
			fail();
		}
	}
	tg_config_free(cfg);
}

static void hex32(const unsigned char *md, char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_plan_ids(void **state)
{
	struct tg_config *cfg = load(conf_text);
	static const struct ev_spec fwd[] = {
		{ RAG1, "r", TG_STATUS_CRITICAL, ID(b), "posta:Rag@comune.example posta:capo@comune.example" },
		{ RAG2, "r", TG_STATUS_WARNING, ID(a), "posta:capo@comune.example posta:rag@comune.example" },
	};
	/* the same events in the other order, the addresses in the other order */
	static const struct ev_spec rev[] = {
		{ RAG2, "r", TG_STATUS_WARNING, ID(a), "posta:rag@comune.example posta:capo@comune.example" },
		{ RAG1, "r", TG_STATUS_CRITICAL, ID(b), "posta:capo@comune.example posta:Rag@comune.example" },
	};
	static const struct ev_spec other[] = {
		{ RAG1, "r", TG_STATUS_CRITICAL, ID(b), "posta2:Rag@comune.example posta2:capo@comune.example" },
		{ RAG2, "r", TG_STATUS_WARNING, ID(c), "posta2:capo@comune.example posta2:rag@comune.example" },
	};
	struct tg_alert_events e1, e2, e3;
	struct tg_plans p1, p2, p3;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;
	char want[33], buf[256];
	int n;

	(void)state;
	make_events(cfg, fwd, 2, &e1);
	make_events(cfg, rev, 2, &e2);
	make_events(cfg, other, 2, &e3);
	assert_int_equal(tg_route_plan(cfg, &e1, &p1), 0);
	assert_int_equal(tg_route_plan(cfg, &e2, &p2), 0);
	assert_int_equal(tg_route_plan(cfg, &e3, &p3), 0);
	assert_int_equal(p1.n, 1);
	assert_int_equal(p2.n, 1);
	assert_int_equal(p3.n, 1);
	assert_string_equal(p1.v[0].id, p2.v[0].id);
	assert_string_not_equal(p1.v[0].id, p3.v[0].id);
	/* the events in message order (RAG-01 critical first) whatever the input order */
	assert_int_equal(p1.v[0].n_events, 2);
	assert_int_equal(e1.v[p1.v[0].events[0]].indicator, RAG1);
	assert_int_equal(e2.v[p2.v[0].events[0]].indicator, RAG1);
	assert_int_equal(p1.v[0].n_to, 2);
	assert_string_equal(p1.v[0].to[0], "capo@comune.example");
	assert_string_equal(p1.v[0].to[1], "Rag@comune.example");

	/* the documented formula: channel, sorted ids, sorted lower-cased addresses */
	n = snprintf(buf, sizeof(buf), "posta%c%s%c%s%c%ccapo@comune.example%crag@comune.example%c",
		     0, ID(a), 0, ID(b), 0, 0, 0, 0);
	assert_int_equal(EVP_Digest(buf, (size_t)n, md, &len, EVP_sha256(), NULL), 1);
	hex32(md, want);
	assert_string_equal(p1.v[0].id, want);

	tg_plans_free(&p1);
	tg_plans_free(&p2);
	tg_plans_free(&p3);
	tg_alert_events_free(&e1);
	tg_alert_events_free(&e2);
	tg_alert_events_free(&e3);
	tg_config_free(cfg);
}

/* Events that do not fit the configuration are skipped, not followed. */
static void test_plan_out_of_range(void **state)
{
	struct tg_config *cfg = load(conf_text);
	static const struct ev_spec spec[] = {
		{ RAG1, "r", TG_STATUS_CRITICAL, ID(a), "posta:a@comune.example chat" },
		{ RAG2, "r", TG_STATUS_CRITICAL, ID(b), "posta:b@comune.example chat" },
	};
	struct tg_alert_events ev;
	struct tg_plans p;
	char got[512];

	(void)state;
	make_events(cfg, spec, 2, &ev);
	ev.v[0].indicator = 99;             /* no such indicator */
	ev.v[1].to[1].channel = 42;         /* no such channel */
	free(ev.v[1].to[0].address);
	ev.v[1].to[0].address = NULL;       /* an email recipient without address */
	assert_int_equal(tg_route_plan(cfg, &ev, &p), 0);
	describe_plans(cfg, &p, got, sizeof(got));
	assert_string_equal(got, "");
	tg_plans_free(&p);
	tg_alert_events_free(&ev);
	tg_config_free(cfg);
}

/* From the state machine to the messages: a cycle's events grouped. */
static void test_plan_from_alerts(void **state)
{
	struct tg_config *cfg = load(conf_text);
	struct tg_eval_result res[N_IND];
	struct tg_alerts *st = tg_alerts_new(), *next = NULL;
	struct tg_alert_events ev;
	struct tg_plans p;
	char got[512];

	(void)state;
	assert_non_null(st);
	results(res, TG_STATUS_CRITICAL, TG_STATUS_WARNING, TG_STATUS_ERROR, TG_STATUS_LATE);
	assert_int_equal(tg_alerts_step(st, cfg, res, 20000 * (tg_time)TG_DAY_SECONDS, &next, &ev), 0);
	assert_int_equal(tg_route_plan(cfg, &ev, &p), 0);
	describe_plans(cfg, &p, got, sizeof(got));
	/* events: 0 RAG-01 route 1, 1 RAG-01 route 2, 2 RAG-02 route 1,
	 * 3 URP-01 admins, 4 SCU-01 route 4 */
	assert_int_equal(ev.n, 5);
	assert_string_equal(ev.v[3].route, "admins");
	assert_string_equal(got,
			    "chat [4]; "
			    "posta capo@comune.example [0 2]; "
			    "posta ced2@comune.example,ced@comune.example [3]; "   /* strcmp: "2" < "@" */
			    "posta rag@comune.example [0 1 2]; "
			    "posta scuola@comune.example [4]");
	tg_plans_free(&p);
	tg_alert_events_free(&ev);
	tg_alerts_free(next);
	tg_alerts_free(st);
	tg_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_covers),
		cmocka_unit_test(test_silence_dates_inclusive),
		cmocka_unit_test(test_plan_cases),
		cmocka_unit_test(test_plan_ids),
		cmocka_unit_test(test_plan_out_of_range),
		cmocka_unit_test(test_plan_from_alerts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
