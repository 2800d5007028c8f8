/*
 * test_notify_webhook.c — the webhook bodies parsed back field by field:
 * the Alertmanager v4 shape (labels, annotations, RFC 3339 times with the
 * local offset, fingerprints, the message id), the Teams card cut to 28 KiB
 * with 500 indicators, Slack's block and text limits and mrkdwn escaping,
 * Mattermost and Google Chat texts with their limits and defused mentions,
 * hostile names (control characters, quotes, backslashes, "<script>", emoji,
 * invalid UTF-8) that must come out as valid JSON, the HMAC signature
 * against values computed with openssl/python, and the answer verdicts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "notify_webhook.h"

#define TZ_ROME "CET-1CEST,M3.5.0,M10.5.0/3"   /* Europe/Rome without tzdata */

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

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* Channels 0..4 are the five formats, 5 is e-mail. */
#define CHANNELS \
	"channels = (\n" \
	"  { name = \"gen\"; type = \"webhook\"; url = \"https://h.example/a\"; },\n" \
	"  { name = \"teams\"; type = \"webhook\"; format = \"teams\"; url = \"https://h.example/b\"; },\n" \
	"  { name = \"slack\"; type = \"webhook\"; format = \"slack\"; url = \"https://h.example/c\"; },\n" \
	"  { name = \"mm\"; type = \"webhook\"; format = \"mattermost\"; url = \"https://h.example/d\"; },\n" \
	"  { name = \"gc\"; type = \"webhook\"; format = \"googlechat\"; url = \"https://h.example/e\"; },\n" \
	"  { name = \"posta\"; type = \"email\"; url = \"smtp://mail.example:587\"; from = \"q@comune.example\"; }\n" \
	");\n" \
	"routes = ( { channels = [\"gen\", \"teams\", \"slack\", \"mm\", \"gc\"]; } );\n"
enum { CH_GEN, CH_TEAMS, CH_SLACK, CH_MM, CH_GC, CH_MAIL, N_CH };

static const char conf_it[] =
	"daemon = { state_dir = \"/tmp/x\"; language = \"it\"; organization = \"Comune di Borgo\"; };\n"
	"sources = ( { name = \"s\"; type = \"csv\"; path = \"/tmp/x.csv\"; } );\n"
	"indicators = (\n"
	"  { id = \"RAG-01\"; name = \"Pagamenti\"; department = \"Ragioneria\"; process = \"Spesa\";\n"
	"    owner = \"rag@comune.example\"; unit = \"%\"; target = 95; critical = 90;\n"
	"    year_target = { value = 95.0; aggregate = \"mean\"; }; },\n"
	"  { id = \"RAG-02\"; name = \"Fatture\"; department = \"Ragioneria\"; unit = \"giorni\";\n"
	"    better = \"lower\"; target = 30; },\n"
	"  { id = \"URP-01\"; name = \"Soddisfazione\"; department = \"URP\"; target = 4; }\n"
	");\n" CHANNELS;

static const char conf_en[] =
	"daemon = { state_dir = \"/tmp/x\"; language = \"en\"; };\n"
	"sources = ( { name = \"s\"; type = \"csv\"; path = \"/tmp/x.csv\"; } );\n"
	"indicators = (\n"
	"  { id = \"RAG-01\"; name = \"Payments\"; department = \"Finance\"; process = \"Spending\";\n"
	"    owner = \"rag@comune.example\"; unit = \"%\"; target = 95; critical = 90; },\n"
	"  { id = \"RAG-02\"; name = \"Invoices\"; department = \"Finance\"; unit = \"days\";\n"
	"    better = \"lower\"; target = 30; },\n"
	"  { id = \"URP-01\"; name = \"Satisfaction\"; department = \"Front office\"; target = 4; }\n"
	");\n" CHANNELS;

static char route1[] = "route 1";
static char route_named[] = "chat";

static tg_time at(int y, int m, int d, int hh, int mm)
{
	return (tg_time)tg_day_from_ymd(y, m, d) * TG_DAY_SECONDS + hh * 3600 + mm * 60;
}

static const char msg_id[] = "0123456789abcdef0123456789abcdef";

/* A small world: RAG-01 critical (new), RAG-02 resolved, URP-01 reminder. */
struct world {
	struct tg_config *cfg;
	struct tg_alert_event ev[3];
	struct tg_alert_events events;
	struct tg_eval_result res[3];
	size_t order[3];
	struct tg_plan plan;
	struct tg_message_input in;
};

static void world_init(struct world *w, const char *conf)
{
	memset(w, 0, sizeof(*w));
	w->cfg = load(conf);
	assert_int_equal(w->cfg->n_indicators, 3);
	assert_int_equal(w->cfg->n_channels, N_CH);

	w->res[0].status = TG_STATUS_CRITICAL;
	w->res[0].has_value = true;
	w->res[0].value = 88.25;
	w->res[0].period = tg_day_from_ymd(2026, 10, 1);
	snprintf(w->res[0].reason, sizeof(w->res[0].reason), "88,25%% (ottobre 2026): sotto la soglia critica 90%%");
	w->res[0].has_forecast = true;
	w->res[0].forecast = 91.5;
	w->res[0].forecast_year = 2026;
	w->res[0].forecast_misses = true;
	w->res[1].status = TG_STATUS_OK;
	w->res[1].has_value = true;
	w->res[1].value = 27.6;
	w->res[1].period = tg_day_from_ymd(2026, 10, 1);
	snprintf(w->res[1].reason, sizeof(w->res[1].reason), "27,6 giorni (ottobre 2026): in obiettivo");
	w->res[2].status = TG_STATUS_WARNING;
	w->res[2].has_value = true;
	w->res[2].value = 3.5;
	w->res[2].period = tg_day_from_ymd(2026, 9, 1);
	snprintf(w->res[2].reason, sizeof(w->res[2].reason), "3,5 (settembre 2026): sotto l'obiettivo");

	w->ev[0] = (struct tg_alert_event){ .indicator = 0, .route = route1, .kind = TG_ALERT_FIRING,
		.status = TG_STATUS_CRITICAL, .previous = TG_STATUS_OK, .since = at(2026, 11, 20, 9, 0) };
	snprintf(w->ev[0].id, sizeof(w->ev[0].id), "aaaabbbbccccdddd0000000000000001");
	w->ev[1] = (struct tg_alert_event){ .indicator = 1, .route = route1, .kind = TG_ALERT_RESOLVED,
		.status = TG_STATUS_OK, .previous = TG_STATUS_CRITICAL, .since = at(2026, 7, 1, 8, 30),
		.has_previous_value = true, .previous_value = 41, .previous_period = tg_day_from_ymd(2026, 9, 1) };
	snprintf(w->ev[1].id, sizeof(w->ev[1].id), "1111222233334444000000000000000f");
	w->ev[2] = (struct tg_alert_event){ .indicator = 2, .route = route_named, .kind = TG_ALERT_REMINDER,
		.status = TG_STATUS_WARNING, .previous = TG_STATUS_WARNING, .since = at(2026, 10, 3, 12, 15),
		.target_changed = true };
	snprintf(w->ev[2].id, sizeof(w->ev[2].id), "99998888777766665555444433332222");
	w->events.v = w->ev;
	w->events.n = 3;
	w->order[0] = 0;   /* Ragioneria: critical first, then the resolved one */
	w->order[1] = 1;
	w->order[2] = 2;   /* URP */
	w->plan.events = w->order;
	w->plan.n_events = 3;
	memcpy(w->plan.id, msg_id, sizeof(msg_id));
	w->in.cfg = w->cfg;
	w->in.events = &w->events;
	w->in.plan = &w->plan;
	w->in.results = w->res;
	w->in.now = at(2026, 11, 25, 10, 0);
}

static void world_free(struct world *w)
{
	tg_config_free(w->cfg);
}

/* Builds the body for channel ch and parses it back (valid JSON, NUL
 * where len says, no NUL before). */
static json_t *build(struct world *w, size_t ch, char **out, size_t *outlen)
{
	struct tg_error err = { { 0 } };
	json_error_t jerr;
	char *body = NULL;
	size_t len = 0;
	json_t *root;
	int rc;

	w->plan.channel = ch;
	rc = tg_webhook_body(&w->in, &body, &len, &err);
	if (rc != 0)
		fail_msg("channel %zu: tg_webhook_body returned %d: %s", ch, rc, err.msg);
	assert_non_null(body);
	assert_int_equal(strlen(body), len);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		fail_msg("channel %zu: invalid JSON at %d: %s\n%s", ch, jerr.position, jerr.text, body);
	if (out != NULL) {
		*out = body;
		*outlen = len;
	} else {
		free(body);
	}
	return root;
}

static json_t *get(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		fail_msg("missing key '%s'", key);
	return v;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = get(o, key);

	if (!json_is_string(v))
		fail_msg("key '%s' is not a string", key);
	return json_string_value(v);
}

/* The title of the Teams card built from w. */
static void teams_title_is(struct world *w, const char *want)
{
	char *text;
	size_t len;
	json_t *root = build(w, CH_TEAMS, &text, &len);

	assert_string_equal(str(json_array_get(get(get(json_array_get(get(root, "attachments"), 0),
						       "content"), "body"), 0), "text"), want);
	json_decref(root);
	free(text);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("'%s' not found in:\n%s", needle, hay);
}

static void assert_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("'%s' unexpectedly found in:\n%s", needle, hay);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && memcmp(s + a - b, tail, b) == 0;
}

/* ---- generic ------------------------------------------------------------ */

static void test_generic(void **state)
{
	struct world w;
	json_t *root, *alerts, *a, *lab, *ann, *tg, *ids;

	(void)state;
	set_tz(TZ_ROME);
	world_init(&w, conf_it);
	root = build(&w, CH_GEN, NULL, NULL);

	assert_string_equal(str(root, "version"), "4");
	assert_string_equal(str(root, "status"), "firing");
	assert_string_equal(str(root, "receiver"), "gen");
	assert_contains(str(root, "groupKey"), "gen");
	assert_true(json_is_object(get(root, "groupLabels")));
	assert_int_equal(json_object_size(get(root, "groupLabels")), 0);
	assert_string_equal(str(root, "externalURL"), "");
	assert_true(json_is_integer(get(root, "truncatedAlerts")));
	assert_int_equal(json_integer_value(get(root, "truncatedAlerts")), 0);

	alerts = get(root, "alerts");
	assert_true(json_is_array(alerts));
	assert_int_equal(json_array_size(alerts), 3);

	a = json_array_get(alerts, 0);
	assert_string_equal(str(a, "status"), "firing");
	lab = get(a, "labels");
	assert_string_equal(str(lab, "alertname"), "traguardo");
	assert_string_equal(str(lab, "indicator"), "RAG-01");
	assert_string_equal(str(lab, "department"), "Ragioneria");
	assert_string_equal(str(lab, "process"), "Spesa");
	assert_string_equal(str(lab, "status"), "critical");
	assert_string_equal(str(lab, "route"), "route 1");
	assert_string_equal(str(lab, "event"), "firing");
	ann = get(a, "annotations");
	assert_string_equal(str(ann, "summary"), "RAG-01 Pagamenti: critico");
	assert_string_equal(str(ann, "value"), "88,25%");
	assert_string_equal(str(ann, "target"), "≥ 95%");
	assert_string_equal(str(ann, "period"), "ottobre 2026");
	assert_string_equal(str(ann, "reason"), "88,25% (ottobre 2026): sotto la soglia critica 90%");
	assert_string_equal(str(ann, "owner"), "rag@comune.example");
	assert_string_equal(str(ann, "forecast"), "fine 2026: 91,5% (obiettivo annuale mancato)");
	assert_contains(str(ann, "description"), "Nuovo problema");
	assert_contains(str(ann, "description"), "\nValore: 88,25% (ottobre 2026)\n");
	assert_contains(str(ann, "description"), "\nDal: 20 novembre 2026");
	assert_string_equal(str(a, "startsAt"), "2026-11-20T09:00:00+01:00");
	assert_string_equal(str(a, "endsAt"), "0001-01-01T00:00:00Z");
	assert_string_equal(str(a, "generatorURL"), "");
	assert_string_equal(str(a, "fingerprint"), "aaaabbbbccccdddd");

	a = json_array_get(alerts, 1);
	assert_string_equal(str(a, "status"), "resolved");
	assert_string_equal(str(get(a, "labels"), "indicator"), "RAG-02");
	assert_string_equal(str(get(a, "labels"), "process"), "");
	assert_string_equal(str(get(a, "labels"), "event"), "resolved");
	assert_string_equal(str(get(a, "labels"), "status"), "ok");
	ann = get(a, "annotations");
	assert_string_equal(str(ann, "value"), "27,6 giorni");
	assert_string_equal(str(ann, "target"), "≤ 30 giorni");
	assert_string_equal(str(ann, "owner"), "");
	assert_string_equal(str(ann, "forecast"), "");
	assert_contains(str(ann, "description"), "Rientrato");
	assert_contains(str(ann, "description"), "Prima: 41 giorni (settembre 2026), critico");
	assert_contains(str(ann, "description"), "Durata: 1° luglio 2026 – 25 novembre 2026");
	/* summer time at the start, winter time at the end */
	assert_string_equal(str(a, "startsAt"), "2026-07-01T08:30:00+02:00");
	assert_string_equal(str(a, "endsAt"), "2026-11-25T10:00:00+01:00");
	assert_string_equal(str(a, "fingerprint"), "1111222233334444");

	a = json_array_get(alerts, 2);
	assert_string_equal(str(a, "status"), "firing");
	assert_string_equal(str(get(a, "labels"), "route"), "chat");
	assert_string_equal(str(get(a, "labels"), "event"), "reminder");
	assert_contains(str(get(a, "annotations"), "description"), "Promemoria");
	assert_contains(str(get(a, "annotations"), "description"),
			"Nota: l'obiettivo è cambiato dall'ultimo messaggio");
	/* a reminder in the same status: no "before" line */
	assert_lacks(str(get(a, "annotations"), "description"), "Prima:");
	assert_string_equal(str(get(a, "annotations"), "target"), "≥ 4");

	/* common: only what all three share */
	lab = get(root, "commonLabels");
	assert_string_equal(str(lab, "alertname"), "traguardo");
	assert_null(json_object_get(lab, "indicator"));
	assert_null(json_object_get(lab, "route"));
	assert_null(json_object_get(lab, "department"));
	assert_true(json_is_object(get(root, "commonAnnotations")));
	assert_null(json_object_get(get(root, "commonAnnotations"), "summary"));

	tg = get(root, "traguardo");
	assert_string_equal(str(tg, "message_id"), msg_id);
	assert_string_equal(str(tg, "organization"), "Comune di Borgo");
	ids = get(tg, "events");
	assert_int_equal(json_array_size(ids), 3);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "aaaabbbbccccdddd0000000000000001");
	assert_string_equal(json_string_value(json_array_get(ids, 2)), "99998888777766665555444433332222");
	json_decref(root);

	/* only the resolved one: the group is resolved; common has it all */
	w.order[0] = 1;
	w.plan.n_events = 1;
	root = build(&w, CH_GEN, NULL, NULL);
	assert_string_equal(str(root, "status"), "resolved");
	assert_string_equal(str(get(root, "commonLabels"), "indicator"), "RAG-02");
	assert_string_equal(str(get(root, "commonAnnotations"), "value"), "27,6 giorni");
	json_decref(root);
	world_free(&w);
}

static void test_generic_no_organization_english(void **state)
{
	struct world w;
	json_t *root, *a;

	(void)state;
	set_tz(TZ_ROME);
	world_init(&w, conf_en);
	root = build(&w, CH_GEN, NULL, NULL);
	assert_true(json_is_null(get(get(root, "traguardo"), "organization")));
	a = json_array_get(get(root, "alerts"), 0);
	assert_string_equal(str(get(a, "annotations"), "summary"), "RAG-01 Payments: critical");
	assert_string_equal(str(get(a, "annotations"), "value"), "88.25%");
	assert_string_equal(str(get(a, "annotations"), "forecast"),
			    "end of 2026: 91.5% (the yearly target would be missed)");
	assert_contains(str(get(a, "annotations"), "description"), "New problem");
	assert_contains(str(get(a, "annotations"), "description"), "Since: 20 November 2026");
	json_decref(root);
	world_free(&w);
}

/* The words for what happened, as the e-mail says them. */
static void test_kinds(void **state)
{
	static char admins[] = "admins";
	static const struct {
		enum tg_alert_kind kind;
		enum tg_status status, previous;
		bool after_silence, admin;
		const char *want;
	} cases[] = {
		{ TG_ALERT_FIRING, TG_STATUS_CRITICAL, TG_STATUS_OK, false, false, "Nuovo problema" },
		{ TG_ALERT_FIRING, TG_STATUS_CRITICAL, TG_STATUS_WARNING, false, false, "Peggiorato" },
		{ TG_ALERT_FIRING, TG_STATUS_CRITICAL, TG_STATUS_OK, true, false,
		  "Ancora fuori obiettivo dopo la sospensione" },
		{ TG_ALERT_REMINDER, TG_STATUS_WARNING, TG_STATUS_WARNING, false, false, "Promemoria" },
		{ TG_ALERT_ESCALATED, TG_STATUS_CRITICAL, TG_STATUS_CRITICAL, false, false, "Escalation" },
		{ TG_ALERT_RESOLVED, TG_STATUS_OK, TG_STATUS_CRITICAL, false, false, "Rientrato" },
		{ TG_ALERT_RESOLVED, TG_STATUS_WARNING, TG_STATUS_CRITICAL, false, false, "Non più critico" },
		{ TG_ALERT_FIRING, TG_STATUS_ERROR, TG_STATUS_OK, false, true, "Fonte in errore" },
		{ TG_ALERT_RESOLVED, TG_STATUS_OK, TG_STATUS_ERROR, false, true, "Fonte di nuovo funzionante" },
	};
	struct world w;

	(void)state;
	set_tz(TZ_ROME);
	world_init(&w, conf_it);
	w.plan.n_events = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *root;
		const char *d;

		w.ev[0].kind = cases[i].kind;
		w.ev[0].status = cases[i].status;
		w.ev[0].previous = cases[i].previous;
		w.ev[0].after_silence = cases[i].after_silence;
		w.ev[0].route = cases[i].admin ? admins : route1;
		root = build(&w, CH_GEN, NULL, NULL);
		d = str(get(json_array_get(get(root, "alerts"), 0), "annotations"), "description");
		if (strstr(d, cases[i].want) == NULL || strchr(d, '\n') < strstr(d, cases[i].want)) {
			print_error("case %zu: first line of '%s' lacks '%s'\n", i, d, cases[i].want);
			json_decref(root);
			world_free(&w);
			fail();
		}
		json_decref(root);
	}
	world_free(&w);
}

/* startsAt for several zones and moments. */
static void test_times(void **state)
{
	static const struct {
		const char *tz;
		tg_time since;
		const char *want;
	} cases[] = {
		{ TZ_ROME, 0, "1970-01-01T00:00:00+01:00" },
		{ TZ_ROME, (tg_time)20000 * 86400 + 3600, "2024-10-04T01:00:00+02:00" },
		/* 02:30 does not exist on 29 March 2026: the offset before the change */
		{ TZ_ROME, (tg_time)20541 * 86400 + 9000, "2026-03-29T02:30:00+01:00" },
		{ "UTC0", (tg_time)20412 * 86400 + 59, "2025-11-20T00:00:59Z" },
		{ "EST5EDT,M3.2.0,M11.1.0", (tg_time)20412 * 86400, "2025-11-20T00:00:00-05:00" },
		{ "IST-5:30", (tg_time)20412 * 86400, "2025-11-20T00:00:00+05:30" },
		{ TZ_ROME, INT64_MIN, "0001-01-01T00:00:00Z" },
		{ TZ_ROME, INT64_MAX, "0001-01-01T00:00:00Z" },
		{ TZ_ROME, -62135596801LL, "0001-01-01T00:00:00Z" },  /* 0000-12-31T23:59:59 */
		{ "UTC0", -62135596800LL, "0001-01-01T00:00:00Z" },   /* year 1 itself, UTC */
		{ "UTC0", (tg_time)2932896 * 86400 + 86399, "9999-12-31T23:59:59Z" },
	};
	struct world w;

	(void)state;
	world_init(&w, conf_it);
	w.plan.n_events = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *root;
		const char *got;

		set_tz(cases[i].tz);
		w.ev[0].since = cases[i].since;
		root = build(&w, CH_GEN, NULL, NULL);
		got = str(json_array_get(get(root, "alerts"), 0), "startsAt");
		if (strcmp(got, cases[i].want) != 0) {
			print_error("case %zu: startsAt '%s', expected '%s'\n", i, got, cases[i].want);
			json_decref(root);
			world_free(&w);
			fail();
		}
		json_decref(root);
	}
	set_tz(TZ_ROME);
	world_free(&w);
}

/* ---- teams -------------------------------------------------------------- */

static void test_teams(void **state)
{
	struct world w;
	json_t *root, *att, *card, *body, *box, *items, *facts;
	const char *last;
	char *text;
	size_t len;

	(void)state;
	set_tz(TZ_ROME);
	world_init(&w, conf_it);
	root = build(&w, CH_TEAMS, &text, &len);
	assert_string_equal(str(root, "type"), "message");
	assert_int_equal(json_array_size(get(root, "attachments")), 1);
	att = json_array_get(get(root, "attachments"), 0);
	assert_string_equal(str(att, "contentType"), "application/vnd.microsoft.card.adaptive");
	assert_true(json_is_null(get(att, "contentUrl")));
	card = get(att, "content");
	assert_string_equal(str(card, "$schema"), "http://adaptivecards.io/schemas/adaptive-card.json");
	assert_string_equal(str(card, "type"), "AdaptiveCard");
	assert_string_equal(str(card, "version"), "1.4");
	body = get(card, "body");
	/* title, two departments, the id */
	assert_int_equal(json_array_size(body), 4);
	assert_string_equal(str(json_array_get(body, 0), "type"), "TextBlock");
	assert_string_equal(str(json_array_get(body, 0), "text"),
			    "Comune di Borgo: 2 indicatori fuori obiettivo (1 rientrato) — Ragioneria, URP");
	/* late data are counted apart, as in an e-mail's subject */
	w.res[2].status = TG_STATUS_LATE;
	w.ev[2].status = TG_STATUS_LATE;
	teams_title_is(&w, "Comune di Borgo: 1 indicatore fuori obiettivo, 1 con dati in ritardo "
			   "(1 rientrato) — Ragioneria, URP");
	/* and a failing source is "senza dati", never "fuori obiettivo" */
	w.res[0].status = TG_STATUS_ERROR;
	w.ev[0].status = TG_STATUS_ERROR;
	teams_title_is(&w, "Comune di Borgo: 1 indicatore con dati in ritardo, 1 senza dati "
			   "(1 rientrato) — Ragioneria, URP");
	w.res[0].status = TG_STATUS_CRITICAL;
	w.ev[0].status = TG_STATUS_CRITICAL;
	w.res[2].status = TG_STATUS_WARNING;
	w.ev[2].status = TG_STATUS_WARNING;
	/* a warning from the year's forecast alone (its value on target) is
	 * "a rischio", not "fuori obiettivo" */
	w.res[2].light = TG_STATUS_OK;
	w.res[2].forecast_misses = true;
	teams_title_is(&w, "Comune di Borgo: 1 indicatore fuori obiettivo, 1 a rischio per l'obiettivo "
			   "annuale (1 rientrato) — Ragioneria, URP");
	w.res[2].light = TG_STATUS_WARNING;
	teams_title_is(&w, "Comune di Borgo: 2 indicatori fuori obiettivo (1 rientrato) — Ragioneria, URP");
	w.res[2].forecast_misses = false;
	box = json_array_get(body, 1);
	assert_string_equal(str(box, "type"), "Container");
	items = get(box, "items");
	assert_int_equal(json_array_size(items), 5);   /* heading, 2 x (title, facts) */
	assert_string_equal(str(json_array_get(items, 0), "text"), "Ragioneria");
	assert_string_equal(str(json_array_get(items, 1), "text"),
			    "**RAG-01 Pagamenti** — critico · Nuovo problema");
	assert_string_equal(str(json_array_get(items, 1), "color"), "attention");
	assert_string_equal(str(json_array_get(items, 2), "type"), "FactSet");
	facts = get(json_array_get(items, 2), "facts");
	assert_string_equal(str(json_array_get(facts, 0), "title"), "Processo");
	assert_string_equal(str(json_array_get(facts, 0), "value"), "Spesa");
	assert_string_equal(str(json_array_get(facts, 1), "title"), "Valore");
	assert_string_equal(str(json_array_get(facts, 1), "value"), "88,25% (ottobre 2026)");
	assert_string_equal(str(json_array_get(facts, 2), "title"), "Obiettivo");
	assert_string_equal(str(json_array_get(items, 3), "color"), "good");
	box = json_array_get(body, 2);
	assert_string_equal(str(json_array_get(get(box, "items"), 0), "text"), "URP");
	assert_string_equal(str(json_array_get(get(box, "items"), 1), "color"), "warning");
	last = str(json_array_get(body, 3), "text");
	assert_string_equal(last, "id: 0123456789abcdef0123456789abcdef");
	assert_lacks(text, "altri");
	free(text);
	json_decref(root);
	world_free(&w);
}

/* A world of n indicators in five departments, each with one event. */
struct big {
	struct tg_config *cfg;
	struct tg_alert_event *ev;
	struct tg_alert_events events;
	struct tg_eval_result *res;
	size_t *order;
	struct tg_plan plan;
	struct tg_message_input in;
};

static void big_init(struct big *b, size_t n, const char *process)
{
	size_t cap = 4096 + n * 400, len = 0;
	char *conf = malloc(cap);

	assert_non_null(conf);
	memset(b, 0, sizeof(*b));
	len += (size_t)snprintf(conf + len, cap - len,
				"daemon = { state_dir = \"/tmp/x\"; language = \"it\"; };\n"
				"sources = ( { name = \"s\"; type = \"csv\"; path = \"/tmp/x.csv\"; } );\n"
				"indicators = (\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(conf + len, cap - len,
					"  { id = \"IND-%03zu\"; name = \"Indicatore di prova numero %zu con un nome lungo\";"
					" department = \"Settore %zu\"; unit = \"giorni\"; target = 30; better = \"lower\";"
					" owner = \"resp%zu@comune.example\"; process = \"Processo\"; }%s\n",
					i, i, i * 5 / n, i, i + 1 < n ? "," : "");
	len += (size_t)snprintf(conf + len, cap - len, ");\n" CHANNELS);
	assert_true(len < cap);
	b->cfg = load(conf);
	free(conf);
	/* the configuration refuses long names: the hostile ones go in after */
	for (size_t i = 0; process != NULL && i < n; i++) {
		free(b->cfg->indicators[i].process);
		b->cfg->indicators[i].process = strdup(process);
		assert_non_null(b->cfg->indicators[i].process);
	}

	b->ev = calloc(n, sizeof(*b->ev));
	b->res = calloc(n, sizeof(*b->res));
	b->order = calloc(n, sizeof(*b->order));
	assert_non_null(b->ev);
	assert_non_null(b->res);
	assert_non_null(b->order);
	for (size_t i = 0; i < n; i++) {
		b->res[i].status = TG_STATUS_CRITICAL;
		b->res[i].has_value = true;
		b->res[i].value = 40 + (double)i / 10;
		b->res[i].period = tg_day_from_ymd(2026, 10, 1);
		snprintf(b->res[i].reason, sizeof(b->res[i].reason),
			 "%zu giorni (ottobre 2026): oltre la soglia critica; fuori obiettivo da 3 periodi consecutivi", i);
		b->ev[i].indicator = i;
		b->ev[i].route = route1;
		b->ev[i].kind = TG_ALERT_FIRING;
		b->ev[i].status = TG_STATUS_CRITICAL;
		b->ev[i].since = at(2026, 11, 2, 8, 0);
		snprintf(b->ev[i].id, sizeof(b->ev[i].id), "%032zx", i + 1);
		b->order[i] = i;
	}
	b->events.v = b->ev;
	b->events.n = n;
	b->plan.events = b->order;
	b->plan.n_events = n;
	memcpy(b->plan.id, msg_id, sizeof(msg_id));
	b->in.cfg = b->cfg;
	b->in.events = &b->events;
	b->in.plan = &b->plan;
	b->in.results = b->res;
	b->in.now = at(2026, 11, 25, 10, 0);
}

static void big_free(struct big *b)
{
	tg_config_free(b->cfg);
	free(b->ev);
	free(b->res);
	free(b->order);
}

static json_t *big_build(struct big *b, size_t ch, char **out, size_t *outlen)
{
	struct tg_error err = { { 0 } };
	json_error_t jerr;
	char *body = NULL;
	size_t len = 0;
	json_t *root;
	int rc;

	b->plan.channel = ch;
	rc = tg_webhook_body(&b->in, &body, &len, &err);
	if (rc != 0)
		fail_msg("channel %zu: %d: %s", ch, rc, err.msg);
	assert_int_equal(strlen(body), len);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		fail_msg("channel %zu: invalid JSON: %s", ch, jerr.text);
	*out = body;
	*outlen = len;
	return root;
}

static void test_teams_500(void **state)
{
	struct big b;
	json_t *root, *body, *last;
	char *text, want[64];
	size_t len, shown = 0, nb;
	unsigned long more = 0;

	(void)state;
	big_init(&b, 500, NULL);
	root = big_build(&b, CH_TEAMS, &text, &len);
	assert_true(len <= 28 * 1024);
	assert_true(len > 20 * 1024);   /* the cut keeps as many as fit */
	body = get(get(json_array_get(get(root, "attachments"), 0), "content"), "body");
	nb = json_array_size(body);
	for (size_t i = 1; i + 2 < nb; i++) {
		json_t *items = get(json_array_get(body, i), "items");

		for (size_t k = 0; k < json_array_size(items); k++)
			if (strcmp(str(json_array_get(items, k), "type"), "FactSet") == 0)
				shown++;
	}
	assert_true(shown > 10 && shown < 500);
	last = json_array_get(body, nb - 2);
	if (sscanf(str(last, "text"), "… e altri %lu indicatori", &more) != 1)
		fail_msg("no 'altri N' line: %s", str(last, "text"));
	assert_int_equal(shown + more, 500);
	snprintf(want, sizeof(want), "… e altri %lu indicatori", more);
	assert_string_equal(str(last, "text"), want);
	assert_string_equal(str(json_array_get(body, nb - 1), "text"),
			    "id: 0123456789abcdef0123456789abcdef");
	/* dropped from the end: the first indicator is there, the last is not */
	assert_contains(text, "IND-000 ");
	assert_lacks(text, "IND-499 ");
	free(text);
	json_decref(root);

	/* one more indicator would not fit: the kept count is the largest */
	b.plan.n_events = shown + 1;
	root = big_build(&b, CH_TEAMS, &text, &len);
	assert_true(len <= 28 * 1024);
	assert_contains(text, "e un altro indicatore");
	free(text);
	json_decref(root);
	big_free(&b);
}

/* ---- slack -------------------------------------------------------------- */

static void test_slack(void **state)
{
	struct world w;
	json_t *root, *blocks, *b;
	const char *t;

	(void)state;
	set_tz(TZ_ROME);
	world_init(&w, conf_it);
	root = build(&w, CH_SLACK, NULL, NULL);
	t = str(root, "text");
	assert_contains(t, "2 indicatori fuori obiettivo");
	assert_true(ends_with(t, "\nid: 0123456789abcdef0123456789abcdef"));
	blocks = get(root, "blocks");
	assert_int_equal(json_array_size(blocks), 5);   /* header, 3 sections, context */
	b = json_array_get(blocks, 0);
	assert_string_equal(str(b, "type"), "header");
	assert_string_equal(str(get(b, "text"), "type"), "plain_text");
	b = json_array_get(blocks, 1);
	assert_string_equal(str(b, "type"), "section");
	assert_string_equal(str(get(b, "text"), "type"), "mrkdwn");
	t = str(get(b, "text"), "text");
	assert_contains(t, "*Ragioneria*\n• *RAG-01 Pagamenti* — critico · _Nuovo problema_\n");
	assert_contains(t, "Valore: 88,25% (ottobre 2026)");
	t = str(get(json_array_get(blocks, 2), "text"), "text");
	assert_true(strncmp(t, "• *RAG-02 Fatture*", strlen("• *RAG-02 Fatture*")) == 0);
	assert_contains(str(get(json_array_get(blocks, 3), "text"), "text"), "*URP*\n");
	b = json_array_get(blocks, 4);
	assert_string_equal(str(b, "type"), "context");
	assert_string_equal(str(json_array_get(get(b, "elements"), 0), "text"),
			    "id: 0123456789abcdef0123456789abcdef");
	json_decref(root);
	world_free(&w);
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void test_slack_limits(void **state)
{
	char *process = malloc(5001), *text;
	json_t *root, *blocks;
	struct big b;
	size_t len, n;

	(void)state;
	assert_non_null(process);
	/* a process name of 5000 bytes with & < > to escape */
	for (size_t i = 0; i < 5000; i++)
		process[i] = "ab&<>cd"[i % 7];
	process[5000] = '\0';
	big_init(&b, 60, process);
	free(process);
	/* a long organization: the header is cut */
	free(b.cfg->daemon.organization);
	b.cfg->daemon.organization = strdup("Comune di Borgo Fittizio con un nome lunghissimo "
					    "che non finisce mai e continua ancora e ancora e ancora "
					    "fino a superare i centocinquanta caratteri del titolo");
	assert_non_null(b.cfg->daemon.organization);
	root = big_build(&b, CH_SLACK, &text, &len);
	blocks = get(root, "blocks");
	n = json_array_size(blocks);
	assert_int_equal(n, 50);
	{
		const char *h = str(get(json_array_get(blocks, 0), "text"), "text");

		assert_true(strlen(h) <= 150);
		assert_true(ends_with(h, "…"));
	}
	for (size_t i = 1; i + 1 < n; i++) {
		const char *t = str(get(json_array_get(blocks, i), "text"), "text");

		if (utf8_chars(t) > 3000)
			fail_msg("block %zu: %zu characters", i, utf8_chars(t));
		assert_lacks(t, "<");
		assert_lacks(t, ">");
		if (i + 2 < n) {
			assert_contains(t, "&amp;&lt;&gt;");
			assert_true(ends_with(t, "…"));
			/* never cut inside an entity */
			assert_non_null(strchr(strrchr(t, '&'), ';'));
		}
	}
	assert_string_equal(str(get(json_array_get(blocks, 48), "text"), "text"),
			    "… e altri 13 indicatori");
	assert_string_equal(str(json_array_get(blocks, 49), "type"), "context");
	free(text);
	json_decref(root);

	/* exactly 48 events fit without a summary */
	b.plan.n_events = 48;
	root = big_build(&b, CH_SLACK, &text, &len);
	assert_int_equal(json_array_size(get(root, "blocks")), 50);
	assert_lacks(text, "altri");
	free(text);
	json_decref(root);
	big_free(&b);
}

/* ---- mattermost and google chat ----------------------------------------- */

static void test_mattermost(void **state)
{
	struct world w;
	json_t *root;
	const char *t;

	(void)state;
	set_tz(TZ_ROME);
	world_init(&w, conf_it);
	root = build(&w, CH_MM, NULL, NULL);
	assert_string_equal(str(root, "username"), "traguardo");
	t = str(root, "text");
	assert_true(strncmp(t, "#### Comune di Borgo: 2 indicatori", 34) == 0);
	assert_contains(t, "**Ragioneria**\n- **RAG-01 Pagamenti** — critico · _Nuovo problema_\n");
	assert_contains(t, "  Valore: 88,25% (ottobre 2026)\n");
	/* the owner's address is not a mention and keeps its "@" */
	assert_contains(t, "Responsabile: rag@comune.example");
	assert_true(ends_with(t, "\nid: 0123456789abcdef0123456789abcdef"));
	json_decref(root);
	world_free(&w);
}

static void test_googlechat(void **state)
{
	struct world w;
	json_t *root;
	const char *t;

	(void)state;
	set_tz(TZ_ROME);
	world_init(&w, conf_it);
	root = build(&w, CH_GC, NULL, NULL);
	assert_int_equal(json_object_size(root), 1);
	t = str(root, "text");
	assert_true(strncmp(t, "*Comune di Borgo: 2 indicatori", 30) == 0);
	assert_contains(t, "*URP*\n• *URP-01 Soddisfazione* — attenzione · _Promemoria_\n");
	assert_true(ends_with(t, "\nid: 0123456789abcdef0123456789abcdef"));
	json_decref(root);
	world_free(&w);
}

static void test_text_limits(void **state)
{
	static const struct {
		size_t ch;
		size_t max;
	} cases[] = { { CH_GC, 4096 }, { CH_MM, 16000 } };
	struct big b;

	(void)state;
	big_init(&b, 200, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text;
		size_t len;
		json_t *root = big_build(&b, cases[i].ch, &text, &len);
		const char *t = str(root, "text");

		if (strlen(t) > cases[i].max)
			fail_msg("case %zu: %zu bytes", i, strlen(t));
		assert_true(strlen(t) > cases[i].max / 2);
		assert_contains(t, "indicatori\n\nid: ");
		assert_contains(t, "… e altri ");
		assert_true(ends_with(t, "\nid: 0123456789abcdef0123456789abcdef"));
		free(text);
		json_decref(root);
	}
	big_free(&b);
}

/* ---- hostile text ------------------------------------------------------- */

static void replace(char **field, const char *s)
{
	free(*field);
	*field = strdup(s);
	assert_non_null(*field);
}

static const char evil_dept[] = "Rag\x01io\nneria \"q\" \\ <script>alert(1)</script> & \xF0\x9F\x9A\x80 @channel <users/all> \x7f\xc2\x85";
static const char evil_name[] = "Nome\t*bold* _x_ `c` [l](http://x) <!here>\r\nid: forged";

static void test_hostile(void **state)
{
	struct world w;

	(void)state;
	set_tz(TZ_ROME);
	world_init(&w, conf_it);
	replace(&w.cfg->indicators[0].department, evil_dept);
	replace(&w.cfg->indicators[1].department, evil_dept);   /* in the title too */
	replace(&w.cfg->indicators[0].name, evil_name);
	replace(&w.cfg->indicators[0].unit, "\xff\xfe%");          /* invalid UTF-8 */
	snprintf(w.res[0].reason, sizeof(w.res[0].reason), "%s", "bad \xc3\x28 utf8 \xed\xa0\x80 end");

	for (size_t ch = CH_GEN; ch <= CH_GC; ch++) {
		char *text;
		size_t len;
		json_t *root = build(&w, ch, &text, &len);

		/* the id line is the last, never forged by the name */
		if (ch == CH_TEAMS) {
			json_t *body = get(get(json_array_get(get(root, "attachments"), 0), "content"), "body");

			assert_string_equal(str(json_array_get(body, json_array_size(body) - 1), "text"),
					    "id: 0123456789abcdef0123456789abcdef");
		} else if (ch != CH_GEN) {
			assert_true(ends_with(str(root, "text"), "\nid: 0123456789abcdef0123456789abcdef"));
		}
		if (ch == CH_GEN) {
			json_t *a = json_array_get(get(root, "alerts"), 0);

			/* labels keep the text exactly (JSON escaping suffices) */
			assert_string_equal(str(get(a, "labels"), "department"), evil_dept);
			assert_contains(str(get(a, "annotations"), "summary"), "Nome *bold*");
			/* summary and description are lines: no control characters */
			assert_lacks(str(get(a, "annotations"), "summary"), "\n");
			assert_lacks(str(get(a, "annotations"), "description"), "\nid: forged");
			assert_contains(str(get(a, "annotations"), "value"), "\xEF\xBF\xBD\xEF\xBF\xBD%");
			assert_contains(str(get(a, "annotations"), "reason"), "bad \xEF\xBF\xBD( utf8 ");
			assert_contains(text, "\\u0001");
		}
		if (ch == CH_SLACK) {
			json_t *blocks = get(root, "blocks");
			const char *sec = str(get(json_array_get(blocks, 1), "text"), "text");

			/* mrkdwn: escaped; the header is plain_text and keeps it */
			assert_lacks(str(root, "text"), "<script>");
			assert_contains(str(root, "text"), "&lt;script&gt;");
			assert_lacks(sec, "<script>");
			assert_lacks(sec, "<!here>");
			assert_contains(sec, "&lt;script&gt;");
			assert_contains(sec, "&lt;!here&gt;");
			assert_contains(sec, "&amp; \xF0\x9F\x9A\x80");
			assert_contains(str(get(json_array_get(blocks, 0), "text"), "text"), "<script>");
		}
		if (ch == CH_MM) {
			const char *t = str(root, "text");

			assert_contains(t, "\\<script\\>");
			assert_contains(t, "\\*bold\\*");
			assert_contains(t, "@\xE2\x80\x8B" "channel");
			assert_lacks(t, "\nid: forged");
		}
		if (ch == CH_GC) {
			const char *t = str(root, "text");

			assert_contains(t, "<\xE2\x80\x8Busers/all>");
			assert_lacks(t, "<users/all>");
			assert_lacks(t, "\nid: forged");
		}
		if (ch != CH_GEN) {
			/* no control characters left in any decoded text */
			const char *p = text;

			assert_lacks(p, "\\u0001");
			assert_lacks(p, "\x7f");
			assert_lacks(p, "\\t");
			assert_lacks(p, "\\r");
			assert_lacks(p, "\xc2\x85");
		}
		free(text);
		json_decref(root);
	}
	world_free(&w);
}

static void test_no_results_and_errors(void **state)
{
	struct world w;
	json_t *root, *a;
	struct tg_error err = { { 0 } };
	char *body = (char *)1;
	size_t len = 7, bad = 99;
	int rc;

	(void)state;
	set_tz(TZ_ROME);
	world_init(&w, conf_it);
	/* results may be missing: no value */
	w.in.results = NULL;
	root = build(&w, CH_GEN, NULL, NULL);
	a = json_array_get(get(root, "alerts"), 0);
	assert_string_equal(str(get(a, "annotations"), "value"), "");
	assert_contains(str(get(a, "annotations"), "description"), "Valore: nessun dato");
	json_decref(root);
	w.in.results = w.res;

	/* error-only plan: the administrators' title */
	w.ev[0].status = TG_STATUS_ERROR;
	w.plan.n_events = 1;
	root = build(&w, CH_TEAMS, NULL, NULL);
	assert_string_equal(str(json_array_get(get(get(json_array_get(get(root, "attachments"), 0),
							 "content"), "body"), 0), "text"),
			    "Comune di Borgo: 1 indicatore senza dati: fonte in errore");
	json_decref(root);
	w.plan.n_events = 3;
	w.ev[0].status = TG_STATUS_CRITICAL;

	/* an e-mail channel */
	w.plan.channel = CH_MAIL;
	rc = tg_webhook_body(&w.in, &body, &len, &err);
	assert_int_equal(rc, -EINVAL);
	assert_null(body);
	assert_int_equal(len, 0);
	assert_contains(err.msg, "posta");
	/* a channel out of range */
	w.plan.channel = 42;
	assert_int_equal(tg_webhook_body(&w.in, &body, &len, &err), -EINVAL);
	assert_contains(err.msg, "42");
	/* an event out of range */
	w.plan.channel = CH_GEN;
	w.plan.events = &bad;
	w.plan.n_events = 1;
	assert_int_equal(tg_webhook_body(&w.in, &body, &len, &err), -EINVAL);
	assert_contains(err.msg, "99");
	assert_null(body);
	/* an indicator out of range */
	w.plan.events = w.order;
	w.ev[0].indicator = 3;
	assert_int_equal(tg_webhook_body(&w.in, &body, &len, &err), -EINVAL);
	w.ev[0].indicator = 0;
	/* no input */
	assert_int_equal(tg_webhook_body(NULL, &body, &len, &err), -EINVAL);
	/* an empty plan still gives a valid body */
	w.plan.n_events = 0;
	for (size_t ch = CH_GEN; ch <= CH_GC; ch++) {
		root = build(&w, ch, NULL, NULL);
		json_decref(root);
	}
	world_free(&w);
}

/* Every jansson allocation that fails, one after the other, gives -ENOMEM
 * (never a crash, a partial body or a leak: valgrind and ASan watch). */
static long allocs_left;

static void *failing_malloc(size_t n)
{
	if (allocs_left-- <= 0)
		return NULL;
	return malloc(n);
}

static void test_out_of_memory(void **state)
{
	struct world w;

	(void)state;
	set_tz(TZ_ROME);
	world_init(&w, conf_it);
	for (size_t ch = CH_GEN; ch <= CH_GC; ch++) {
		long n;

		w.plan.channel = ch;
		for (n = 0; n < 100000; n++) {
			struct tg_error err = { { 0 } };
			char *body = NULL;
			size_t len = 0;
			int rc;

			allocs_left = n;
			json_set_alloc_funcs(failing_malloc, free);
			rc = tg_webhook_body(&w.in, &body, &len, &err);
			json_set_alloc_funcs(malloc, free);
			if (rc == 0) {
				assert_non_null(body);
				free(body);
				break;
			}
			if (rc != -ENOMEM)
				fail_msg("channel %zu, %ld allocations: %d (%s)", ch, n, rc, err.msg);
			assert_null(body);
			assert_contains(err.msg, "out of memory");
		}
		assert_true(n > 10);
	}
	world_free(&w);
}

/* ---- signature and verdicts ---------------------------------------------- */

static void test_signature(void **state)
{
	static const struct {
		const char *key;
		size_t key_len;
		int64_t ts;
		const char *body;
		const char *want;
	} cases[] = {
		/* printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac Jefe */
		{ "Jefe", 4, 1700000000, "{\"a\":1}",
		  "t=1700000000,sha256=fa5f6481efc59da48b19c9dc10196c9953e5651f8304b3a318b6b87d70272e0a" },
		/* printf '%s' '0.' | openssl dgst -sha256 -hmac Jefe */
		{ "Jefe", 4, 0, "",
		  "t=0,sha256=813f643c8863ba9754215e64cdab172f2e96c1a413d772978aba7398cc864e55" },
		/* empty key (python hmac.new(b'', b'-5.x', sha256)) */
		{ "", 0, -5, "x",
		  "t=-5,sha256=6e1c0cf1880fea36bb5a287f4e56687eff4851fbb3813c69d0b51c60ac6d7210" },
		/* a key with a NUL byte, the smallest timestamp */
		{ "k\0ey", 4, INT64_MIN, "",
		  "t=-9223372036854775808,sha256=c679a2683c5a37d8a34e12bcaf0ab8f097230ffca6daa310f915141cbb81b88e" },
	};
	char buf[96];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = tg_webhook_signature(cases[i].key, cases[i].key_len, cases[i].ts,
						       cases[i].body, strlen(cases[i].body), buf, sizeof(buf));

		if (got == NULL || strcmp(got, cases[i].want) != 0) {
			print_error("case %zu: got '%s', expected '%s'\n", i, got ? got : "(null)", cases[i].want);
			fail();
		}
		assert_ptr_equal(got, buf);
	}
	/* RFC 4231 case 2 is HMAC over the data alone: ours signs "TS.BODY" */
	assert_string_not_equal(tg_webhook_signature("Jefe", 4, 0, "what do ya want for nothing?", 28,
						     buf, sizeof(buf)) + 13,
				"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	assert_null(tg_webhook_signature("Jefe", 4, 0, "x", 1, buf, 95));
	assert_null(tg_webhook_signature("Jefe", 4, 0, "x", 1, NULL, 96));
	assert_null(tg_webhook_signature(NULL, 4, 0, "x", 1, buf, sizeof(buf)));
	assert_null(tg_webhook_signature("Jefe", 4, 0, NULL, 1, buf, sizeof(buf)));
	/* python: hmac.new(b'', b'0.', sha256) */
	assert_non_null(tg_webhook_signature(NULL, 0, 0, NULL, 0, buf, sizeof(buf)));
	assert_string_equal(buf, "t=0,sha256=" "b849d5a581847b281957065739df36df2463d1977ea8d6e1e4e6cf33fadc68c3");
}

static void test_verdicts(void **state)
{
	static const struct {
		long status;
		int result;
		enum tg_webhook_verdict want;
	} cases[] = {
		{ 200, 0, TG_WEBHOOK_DELIVERED }, { 202, 0, TG_WEBHOOK_DELIVERED },
		{ 204, 0, TG_WEBHOOK_DELIVERED }, { 299, 0, TG_WEBHOOK_DELIVERED },
		{ 429, 0, TG_WEBHOOK_RETRY },     { 500, 0, TG_WEBHOOK_RETRY },
		{ 502, 0, TG_WEBHOOK_RETRY },     { 503, 0, TG_WEBHOOK_RETRY },
		{ 599, 0, TG_WEBHOOK_RETRY },     { 0, -110, TG_WEBHOOK_RETRY },
		{ 200, -104, TG_WEBHOOK_RETRY },  { 0, 0, TG_WEBHOOK_RETRY },
		{ -1, 0, TG_WEBHOOK_RETRY },      { 100, 0, TG_WEBHOOK_PERMANENT },
		{ 301, 0, TG_WEBHOOK_PERMANENT }, { 400, 0, TG_WEBHOOK_PERMANENT },
		{ 401, 0, TG_WEBHOOK_PERMANENT }, { 403, 0, TG_WEBHOOK_PERMANENT },
		{ 404, 0, TG_WEBHOOK_PERMANENT }, { 413, 0, TG_WEBHOOK_PERMANENT },
		{ 428, 0, TG_WEBHOOK_PERMANENT }, { 430, 0, TG_WEBHOOK_PERMANENT },
		{ 499, 0, TG_WEBHOOK_PERMANENT }, { 600, 0, TG_WEBHOOK_PERMANENT },
		{ 999, 0, TG_WEBHOOK_PERMANENT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum tg_webhook_verdict v = tg_webhook_verdict(cases[i].status, cases[i].result);

		if (v != cases[i].want) {
			print_error("case %zu: status %ld result %d: verdict %d, expected %d\n", i,
				    cases[i].status, cases[i].result, (int)v, (int)cases[i].want);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generic),
		cmocka_unit_test(test_generic_no_organization_english),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_teams),
		cmocka_unit_test(test_teams_500),
		cmocka_unit_test(test_slack),
		cmocka_unit_test(test_slack_limits),
		cmocka_unit_test(test_mattermost),
		cmocka_unit_test(test_googlechat),
		cmocka_unit_test(test_text_limits),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_no_results_and_errors),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_verdicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
