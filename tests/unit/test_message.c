/*
 * test_message.c — what the managers read: subjects in Italian and English
 * for every case of message.h (one, two, three or more departments, all
 * resolved, a mix, the administrators' source failures, escalation, the
 * organization), the words for each kind of event, decimal comma and month
 * names, the last 12 periods (gaps, future values and older periods left
 * out, newest first, late data), "what changed" and "target changed", HTML
 * escaping of everything from the configuration and the data, templates
 * (placeholders, escaping, missing, oversized, invalid), control characters
 * kept out of the subject, bad plans refused.
 *
 * Every message rendered goes through check_message(): valid UTF-8, a
 * one-line subject without control characters, no line of the text over 100
 * columns, an HTML document with no script, SVG, external resource or bare
 * '&'.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "message.h"
#include "utf8.h"

#ifndef TG_TEST_DATA
#define TG_TEST_DATA "tests/data"
#endif

static void report(void *ctx, const char *file, int line, const char *msg)
{
	(void)ctx;
	print_error("config: %s:%d: %s\n", file, line, msg);
}

static const char conf_text[] =
	"daemon = { state_dir = \"/tmp/x\"; language = \"it\"; admins = [\"ced@comune.example\"]; };\n"
	"sources = ( { name = \"ragioneria\"; type = \"csv\"; path = \"/tmp/x.csv\"; } );\n"
	"indicators = (\n"
	"  { id = \"RAG-01\"; name = \"Tempo medio di pagamento delle fatture\";\n"
	"    process = \"Gestione della spesa\"; department = \"Ragioneria\";\n"
	"    owner = \"rag@comune.example\"; unit = \"giorni\"; better = \"lower\";\n"
	"    target = 30.0; critical = 45.0; year_target = { value = 30.0; aggregate = \"mean\"; }; },\n"
	"  { id = \"RAG-02\"; name = \"Fatture registrate entro 10 giorni\"; department = \"Ragioneria\";\n"
	"    unit = \"%\"; target = 95; critical = 90; late_after = \"20d\"; },\n"
	"  { id = \"URP-01\"; name = \"Soddisfazione degli utenti\"; department = \"URP\";\n"
	"    owner = \"urp@comune.example\"; unit = \"%\"; target = 95; critical = 90; },\n"
	"  { id = \"SCU-01\"; name = \"Pasti serviti\"; department = \"Servizi scolastici\"; target = 1; },\n"
	"  { id = \"TRI-01\"; name = \"Avvisi emessi\"; department = \"Tributi\"; target = 1; },\n"
	"  { id = \"EVL-01\"; name = \"<script>alert(1)</script> & Co\";\n"
	"    department = \"R&D <script>alert(1)</script>\"; process = \"P&P <i>\";\n"
	"    owner = \"a&b@comune.example\"; unit = \"<u>&\"; target = 1; }\n"
	");\n"
	"channels = ( { name = \"posta\"; type = \"email\"; url = \"smtp://mail.example:587\";\n"
	"               from = \"q@comune.example\"; } );\n"
	"routes = ( { channels = [\"posta\"]; to = [\"@owner\"]; } );\n";

enum { RAG1, RAG2, URP1, SCU1, TRI1, EVL1, N_IND };

struct fx {
	struct tg_config *cfg;
	struct tg_store *st;
	struct tg_eval_result res[N_IND];
	tg_time now;
	char *lang, *org, *dept, *name;   /* the config's own, restored before freeing */
	const char *templates;
};

static tg_day ymd(int y, int m, int d)
{
	return tg_day_from_ymd(y, m, d);
}

static void put(struct fx *f, const char *id, int y, int m, double v)
{
	struct tg_error err;

	assert_int_equal(tg_store_put(f->st, id, strlen(id), ymd(y, m, 1), v, "ragioneria", 0, &err), 1);
}

/* Evaluates every indicator in the current language; a failed source
 * gives status error to RAG-01 and URP-01 when failed is true. */
static void eval(struct fx *f, bool failed)
{
	for (size_t i = 0; i < N_IND; i++) {
		const struct tg_indicator *ind = &f->cfg->indicators[i];
		struct tg_eval_context ctx = { .now = f->now, .lang = f->cfg->daemon.language };

		if (failed && (i == RAG1 || i == URP1)) {
			ctx.failed_source = "ragioneria";
			ctx.failed_message = "/srv/feeds/rag.csv: No such file or directory";
		}
		tg_eval_indicator(ind, tg_store_series(f->st, ind->id), &ctx, &f->res[i]);
	}
}

static void set_lang(struct fx *f, bool en)
{
	f->cfg->daemon.language = (char *)(en ? "en" : "it");
	eval(f, false);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tg_error err;

	if (f == NULL)
		return -1;
	f->cfg = tg_config_load_string(conf_text, "/tmp/t.conf", report, NULL, &err);
	if (f->cfg == NULL) {
		print_error("config: %s\n", err.msg);
		free(f);
		return -1;
	}
	f->lang = f->cfg->daemon.language;
	f->org = f->cfg->daemon.organization;
	f->dept = f->cfg->indicators[RAG1].department;
	f->name = f->cfg->indicators[RAG1].name;
	f->st = tg_store_new();
	assert_int_equal(tg_time_parse("2026-11-20T10:30", &f->now, &err), 0);
	/* RAG-01: gaps in April and September, one value 13 months back and one
	 * in the future that must not show */
	put(f, "RAG-01", 2025, 10, 99);
	put(f, "RAG-01", 2025, 11, 27);
	put(f, "RAG-01", 2025, 12, 29);
	put(f, "RAG-01", 2026, 1, 28.5);
	put(f, "RAG-01", 2026, 2, 31);
	put(f, "RAG-01", 2026, 3, 30);
	put(f, "RAG-01", 2026, 5, 33.25);
	put(f, "RAG-01", 2026, 6, 29);
	put(f, "RAG-01", 2026, 7, 28);
	put(f, "RAG-01", 2026, 8, 50);
	put(f, "RAG-01", 2026, 10, 38.5);
	put(f, "RAG-01", 2026, 12, 10);
	/* RAG-02: September is late (due by 21 October) */
	put(f, "RAG-02", 2026, 8, 96);
	put(f, "URP-01", 2026, 9, 93.1);
	put(f, "URP-01", 2026, 10, 92.5);
	put(f, "SCU-01", 2026, 10, 0);
	put(f, "TRI-01", 2026, 10, 0);
	put(f, "EVL-01", 2026, 10, 0.5);
	eval(f, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	f->cfg->daemon.language = f->lang;
	f->cfg->daemon.organization = f->org;
	f->cfg->indicators[RAG1].department = f->dept;
	f->cfg->indicators[RAG1].name = f->name;
	tg_config_free(f->cfg);
	tg_store_free(f->st);
	free(f);
	return 0;
}

/* Back to Italian, no organization, the config's names. */
static int reset(void **state)
{
	struct fx *f = *state;

	f->cfg->daemon.language = f->lang;
	f->cfg->daemon.organization = f->org;
	f->cfg->indicators[RAG1].department = f->dept;
	f->cfg->indicators[RAG1].name = f->name;
	f->templates = NULL;
	eval(f, false);
	return 0;
}

static struct tg_alert_event ev(const struct fx *f, size_t ind, enum tg_alert_kind kind,
				enum tg_status status)
{
	return (struct tg_alert_event){
		.indicator = ind, .route = (char *)"r", .kind = kind, .status = status,
		.previous = TG_STATUS_OK, .since = f->now,
		.id = "00000000000000000000000000000001",
	};
}

static struct tg_alert_event admin_ev(const struct fx *f, size_t ind, enum tg_alert_kind kind,
				      enum tg_status status)
{
	struct tg_alert_event e = ev(f, ind, kind, status);

	e.route = (char *)"admins";
	return e;
}

/* ------------------------------------------------------------ checks */

static bool valid_utf8(const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		size_t k = tg_utf8_len((const unsigned char *)s + i, n - i);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

static size_t cols(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

static void check_message(const struct tg_message *m, bool long_lines_ok)
{
	static const char *const forbidden[] = {
		"<script", "<svg", "<img", "<link", "<style", "<iframe", "<object", "<embed",
		"src=", "href=", "url(", "@import", "javascript:", "on" "load=", "onerror=",
	};
	static const char *const entities[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#9679;" };
	const char *p;

	assert_non_null(m->subject);
	assert_non_null(m->text);
	assert_non_null(m->html);
	assert_true(valid_utf8(m->subject));
	assert_true(valid_utf8(m->text));
	assert_true(valid_utf8(m->html));
	assert_true(strlen(m->subject) <= 200);
	for (p = m->subject; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7F || (c == 0xC2 && (unsigned char)p[1] >= 0x80 &&
					      (unsigned char)p[1] <= 0x9F)) {
			print_error("control character 0x%02x in the subject \"%s\"\n", c, m->subject);
			fail();
		}
	}
	for (p = m->text; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\n') || c == 0x7F) {
			print_error("control character 0x%02x in the text at %zu\n", c, (size_t)(p - m->text));
			fail();
		}
	}
	if (!long_lines_ok)
		for (p = m->text; *p != '\0';) {
			const char *nl = strchr(p, '\n');
			size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

			if (cols(p, n) > 100) {
				print_error("line over 100 columns: \"%.*s\"\n", (int)n, p);
				fail();
			}
			p += n + (nl != NULL);
		}
	assert_true(strncmp(m->html, "<!DOCTYPE html>\n<html lang=\"", 28) == 0);
	assert_non_null(strstr(m->html, "<meta charset=\"utf-8\">"));
	assert_true(strlen(m->html) > 8 && strcmp(m->html + strlen(m->html) - 8, "</html>\n") == 0);
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
		if (strcasestr(m->html, forbidden[i]) != NULL) {
			print_error("\"%s\" in the HTML:\n%s\n", forbidden[i], m->html);
			fail();
		}
	/* every '&' starts one of our entities: nothing reached the HTML raw */
	for (p = strchr(m->html, '&'); p != NULL; p = strchr(p + 1, '&')) {
		bool ok = false;

		for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++)
			if (strncmp(p, entities[i], strlen(entities[i])) == 0)
				ok = true;
		if (!ok) {
			print_error("bare '&' in the HTML: \"%.30s\"\n", p);
			fail();
		}
	}
}

static int render_plan(struct fx *f, struct tg_alert_event *e, size_t n, const size_t *order,
		       size_t n_order, struct tg_message *m, struct tg_error *err)
{
	struct tg_alert_events evs = { .v = e, .n = n };
	struct tg_plan plan = { .channel = 0, .events = (size_t *)order, .n_events = n_order,
				.id = "0123456789abcdef0123456789abcdef" };
	struct tg_message_input in = {
		.cfg = f->cfg, .events = &evs, .plan = &plan, .results = f->res, .store = f->st,
		.now = f->now, .templates_dir = f->templates,
	};

	return tg_message_render(&in, m, err);
}

/* Renders the events, all of them in the plan in the order given. */
static void render(struct fx *f, struct tg_alert_event *e, size_t n, struct tg_message *m)
{
	size_t order[16];
	struct tg_error err = { { 0 } };
	int rc;

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	rc = render_plan(f, e, n, order, n, m, &err);
	if (rc != 0) {
		print_error("tg_message_render: %d %s\n", rc, err.msg);
		fail();
	}
	check_message(m, false);
}

static void has(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL) {
		print_error("expected \"%s\" in:\n%s\n", needle, hay);
		fail();
	}
}

static void hasnt(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL) {
		print_error("did not expect \"%s\" in:\n%s\n", needle, hay);
		fail();
	}
}

/* s with every run of spaces and newlines as one space (malloc'ed). */
static char *squeeze(const char *s)
{
	char *o = malloc(strlen(s) + 1), *q = o;

	assert_non_null(o);
	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\n') {
			if (q == o || q[-1] != ' ')
				*q++ = ' ';
		} else {
			*q++ = *s;
		}
	}
	*q = '\0';
	return o;
}

/* needle in hay, wherever the text was wrapped. */
static void has_words(const char *hay, const char *needle)
{
	char *h = squeeze(hay), *n = squeeze(needle);
	bool found = strstr(h, n) != NULL;

	free(h);
	free(n);
	if (!found) {
		print_error("expected \"%s\" (wrapped anyhow) in:\n%s\n", needle, hay);
		fail();
	}
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ------------------------------------------------------------ subjects */

#define MAXEV 4

struct subject_case {
	const char *what;
	size_t n;
	struct { size_t ind; enum tg_alert_kind kind; enum tg_status st; bool admin; const char *route; } e[MAXEV];
	bool org;
	const char *it, *en;
};

static const struct subject_case subject_cases[] = {
	{ "one department", 2, { { RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING, false, NULL },
				 { RAG2, TG_ALERT_FIRING, TG_STATUS_LATE, false, NULL } }, false,
	  "[traguardo] 1 indicatore fuori obiettivo, 1 con dati in ritardo — Ragioneria",
	  "[traguardo] 1 indicator off target, 1 with late data — Ragioneria" },
	/* late: its data are, not its value */
	{ "only late", 1, { { RAG2, TG_ALERT_FIRING, TG_STATUS_LATE, false, NULL } }, false,
	  "[traguardo] 1 indicatore con dati in ritardo — Ragioneria",
	  "[traguardo] 1 indicator with late data — Ragioneria" },
	{ "one indicator", 1, { { URP1, TG_ALERT_REMINDER, TG_STATUS_WARNING, false, NULL } }, false,
	  "[traguardo] 1 indicatore fuori obiettivo — URP",
	  "[traguardo] 1 indicator off target — URP" },
	{ "two departments", 2, { { RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING, false, NULL },
				  { URP1, TG_ALERT_FIRING, TG_STATUS_WARNING, false, NULL } }, false,
	  "[traguardo] 2 indicatori fuori obiettivo — Ragioneria, URP",
	  "[traguardo] 2 indicators off target — Ragioneria, URP" },
	{ "three departments", 3, { { RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING, false, NULL },
				    { SCU1, TG_ALERT_FIRING, TG_STATUS_CRITICAL, false, NULL },
				    { URP1, TG_ALERT_FIRING, TG_STATUS_WARNING, false, NULL } }, false,
	  "[traguardo] 3 indicatori fuori obiettivo — 3 settori",
	  "[traguardo] 3 indicators off target — 3 departments" },
	{ "four departments", 4, { { RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING, false, NULL },
				   { SCU1, TG_ALERT_FIRING, TG_STATUS_CRITICAL, false, NULL },
				   { TRI1, TG_ALERT_FIRING, TG_STATUS_CRITICAL, false, NULL },
				   { URP1, TG_ALERT_FIRING, TG_STATUS_WARNING, false, NULL } }, false,
	  "[traguardo] 4 indicatori fuori obiettivo — 4 settori",
	  "[traguardo] 4 indicators off target — 4 departments" },
	{ "all resolved", 2, { { RAG2, TG_ALERT_RESOLVED, TG_STATUS_OK, false, NULL },
			       { URP1, TG_ALERT_RESOLVED, TG_STATUS_OK, false, NULL } }, false,
	  "[traguardo] 2 indicatori di nuovo in obiettivo — Ragioneria, URP",
	  "[traguardo] 2 indicators back on target — Ragioneria, URP" },
	{ "resolved, not on target", 1, { { RAG1, TG_ALERT_RESOLVED, TG_STATUS_WARNING, false, NULL } }, false,
	  "[traguardo] 1 indicatore migliorato — Ragioneria",
	  "[traguardo] 1 indicator improved — Ragioneria" },
	{ "mixed", 3, { { RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING, false, NULL },
			{ RAG2, TG_ALERT_FIRING, TG_STATUS_LATE, false, NULL },
			{ URP1, TG_ALERT_RESOLVED, TG_STATUS_OK, false, NULL } }, false,
	  "[traguardo] 1 indicatore fuori obiettivo, 1 con dati in ritardo (1 rientrato) — Ragioneria, URP",
	  "[traguardo] 1 indicator off target, 1 with late data (1 resolved) — Ragioneria, URP" },
	{ "mixed, two resolved", 3, { { RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING, false, NULL },
				      { RAG2, TG_ALERT_RESOLVED, TG_STATUS_OK, false, NULL },
				      { URP1, TG_ALERT_RESOLVED, TG_STATUS_OK, false, NULL } }, false,
	  "[traguardo] 1 indicatore fuori obiettivo (2 rientrati) — Ragioneria, URP",
	  "[traguardo] 1 indicator off target (2 resolved) — Ragioneria, URP" },
	{ "all errors", 2, { { RAG1, TG_ALERT_FIRING, TG_STATUS_ERROR, true, NULL },
			     { URP1, TG_ALERT_FIRING, TG_STATUS_ERROR, true, NULL } }, false,
	  "[traguardo] 2 indicatori senza dati: fonte in errore",
	  "[traguardo] 2 indicators without data: source failing" },
	{ "sources working again", 1, { { URP1, TG_ALERT_RESOLVED, TG_STATUS_WARNING, true, NULL } }, false,
	  "[traguardo] 1 indicatore di nuovo con dati: fonte ripristinata",
	  "[traguardo] 1 indicator with data again: source working" },
	{ "off target and errors", 2, { { RAG2, TG_ALERT_FIRING, TG_STATUS_LATE, false, NULL },
					{ URP1, TG_ALERT_FIRING, TG_STATUS_ERROR, true, NULL } }, false,
	  "[traguardo] 1 indicatore con dati in ritardo, 1 senza dati — Ragioneria, URP",
	  "[traguardo] 1 indicator with late data, 1 without data — Ragioneria, URP" },
	{ "escalation", 2, { { RAG1, TG_ALERT_ESCALATED, TG_STATUS_WARNING, false, NULL },
			     { RAG2, TG_ALERT_REMINDER, TG_STATUS_LATE, false, NULL } }, false,
	  "[traguardo] ESCALATION: 1 indicatore fuori obiettivo, 1 con dati in ritardo — Ragioneria",
	  "[traguardo] ESCALATION: 1 indicator off target, 1 with late data — Ragioneria" },
	{ "organization", 1, { { RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING, false, NULL } }, true,
	  "[traguardo] Comune di Borgo Fittizio: 1 indicatore fuori obiettivo — Ragioneria",
	  "[traguardo] Comune di Borgo Fittizio: 1 indicator off target — Ragioneria" },
	{ "organization and escalation", 1, { { URP1, TG_ALERT_ESCALATED, TG_STATUS_WARNING, false, NULL } }, true,
	  "[traguardo] ESCALATION: Comune di Borgo Fittizio: 1 indicatore fuori obiettivo — URP",
	  "[traguardo] ESCALATION: Comune di Borgo Fittizio: 1 indicator off target — URP" },
	{ "one indicator by two routes", 2, { { RAG1, TG_ALERT_REMINDER, TG_STATUS_WARNING, false, "a" },
					      { RAG1, TG_ALERT_ESCALATED, TG_STATUS_WARNING, false, "b" } }, false,
	  "[traguardo] ESCALATION: 1 indicatore fuori obiettivo — Ragioneria",
	  "[traguardo] ESCALATION: 1 indicator off target — Ragioneria" },
	{ "nothing", 0, { { 0 } }, false,
	  "[traguardo] nessuna segnalazione", "[traguardo] nothing to report" },
};

static void test_subjects(void **state)
{
	struct fx *f = *state;

	for (size_t c = 0; c < sizeof(subject_cases) / sizeof(subject_cases[0]); c++) {
		const struct subject_case *sc = &subject_cases[c];

		for (int en = 0; en < 2; en++) {
			struct tg_alert_event e[MAXEV];
			struct tg_message m;
			const char *want = en ? sc->en : sc->it;

			set_lang(f, en);
			f->cfg->daemon.organization = sc->org ? (char *)"Comune di Borgo Fittizio" : f->org;
			for (size_t i = 0; i < sc->n; i++) {
				e[i] = sc->e[i].admin ? admin_ev(f, sc->e[i].ind, sc->e[i].kind, sc->e[i].st)
						      : ev(f, sc->e[i].ind, sc->e[i].kind, sc->e[i].st);
				if (sc->e[i].route != NULL)
					e[i].route = (char *)sc->e[i].route;
				if (sc->e[i].kind == TG_ALERT_RESOLVED)
					e[i].previous = TG_STATUS_CRITICAL;
			}
			render(f, e, sc->n, &m);
			if (strcmp(m.subject, want) != 0) {
				print_error("case %zu (%s, %s): got \"%s\", expected \"%s\"\n", c, sc->what,
					    en ? "en" : "it", m.subject, want);
				tg_message_free(&m);
				fail();
			}
			/* the HTML title is the subject */
			assert_non_null(strstr(m.html, "<title>"));
			tg_message_free(&m);
		}
	}
}

/* A warning from the year's forecast alone, its latest value on target:
 * "a rischio per l'obiettivo annuale", not "fuori obiettivo". */
static void test_at_risk(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[2] = {
		ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING),
		ev(f, URP1, TG_ALERT_FIRING, TG_STATUS_WARNING),
	};
	struct tg_eval_result keep = f->res[RAG1];
	struct tg_message m;

	f->res[RAG1].light = TG_STATUS_OK;
	f->res[RAG1].forecast_misses = true;
	render(f, e, 2, &m);
	assert_string_equal(m.subject, "[traguardo] 1 indicatore fuori obiettivo, 1 a rischio per "
				       "l'obiettivo annuale — Ragioneria, URP");
	has_words(m.text, "1 indicatore fuori obiettivo e 1 indicatore a rischio per l'obiettivo annuale.");
	tg_message_free(&m);
	set_lang(f, true);   /* evaluates again, in English */
	f->res[RAG1].light = TG_STATUS_OK;
	f->res[RAG1].forecast_misses = true;
	render(f, e, 1, &m);
	assert_string_equal(m.subject, "[traguardo] 1 indicator at risk for the yearly objective — Ragioneria");
	tg_message_free(&m);
	f->res[RAG1] = keep;
}

/* The body summarises the counts in words, with the date. */
static void test_intro(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[3] = {
		ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING),
		ev(f, RAG2, TG_ALERT_FIRING, TG_STATUS_LATE),
		ev(f, URP1, TG_ALERT_RESOLVED, TG_STATUS_OK),
	};
	struct tg_message m;

	render(f, e, 3, &m);
	has_words(m.text, "Situazione degli indicatori al 20 novembre 2026: 1 indicatore fuori obiettivo, "
			  "1 indicatore con dati in ritardo e 1 indicatore di nuovo in obiettivo.\n\n"
			  "== Ragioneria ==\n");
	has(m.html, "Situazione degli indicatori al 20 novembre 2026: 1 indicatore fuori obiettivo, "
		    "1 indicatore con dati in ritardo e 1 indicatore di nuovo in obiettivo.");
	has(m.text, "valutazione del 20 novembre 2026 alle 10:30.\nRif. 0123456789abcdef0123456789abcdef");
	tg_message_free(&m);

	set_lang(f, true);
	f->cfg->daemon.organization = (char *)"Comune di Borgo Fittizio";
	e[0].kind = TG_ALERT_ESCALATED;
	render(f, e, 3, &m);
	has_words(m.text, "Comune di Borgo Fittizio — quality indicators as of 20 November 2026: 1 indicator "
			  "off target, 1 indicator with late data and 1 indicator back on target.\n"
			  "This is an escalation");
	has(m.text, "This is an escalation");
	has(m.text, "evaluation of 20 November 2026 at 10:30.\nRef. 0123456789abcdef0123456789abcdef");
	has(m.html, "<html lang=\"en\">");
	tg_message_free(&m);
}

/* ------------------------------------------------------------ dates */

static void test_dates(void **state)
{
	static const char *const it[] = { "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno",
		"luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre" };
	static const char *const en[] = { "January", "February", "March", "April", "May", "June",
		"July", "August", "September", "October", "November", "December" };
	char buf[64], want[64];

	(void)state;
	for (int m = 1; m <= 12; m++) {
		int d = m == 2 ? 28 : m + 10;

		snprintf(want, sizeof(want), "%d %s 2026", d, it[m - 1]);
		tg_message_date(ymd(2026, m, d), "it", buf, sizeof(buf));
		if (strcmp(buf, want) != 0) {
			print_error("month %d: got \"%s\", expected \"%s\"\n", m, buf, want);
			fail();
		}
		snprintf(want, sizeof(want), "%d %s 2026", d, en[m - 1]);
		tg_message_date(ymd(2026, m, d), "en", buf, sizeof(buf));
		if (strcmp(buf, want) != 0) {
			print_error("month %d: got \"%s\", expected \"%s\"\n", m, buf, want);
			fail();
		}
	}
	assert_string_equal(tg_message_date(ymd(2026, 11, 20), NULL, buf, sizeof(buf)), "20 novembre 2026");
	assert_string_equal(tg_message_date(ymd(2026, 11, 20), "en_GB", buf, sizeof(buf)), "20 November 2026");
	assert_string_equal(tg_message_date(ymd(1, 1, 1), "it", buf, sizeof(buf)), "1° gennaio 0001");
	assert_string_equal(tg_message_date(ymd(2026, 12, 1), "en", buf, sizeof(buf)), "1 December 2026");
	assert_string_equal(tg_message_date(ymd(9999, 12, 31), "it", buf, sizeof(buf)), "31 dicembre 9999");
	assert_string_equal(tg_message_date(INT32_MAX, "it", buf, sizeof(buf)), "?");
	assert_string_equal(tg_message_date(INT32_MIN, "en", buf, sizeof(buf)), "?");
	/* a short buffer is cut, never overrun */
	memset(buf, 'x', sizeof(buf));
	tg_message_date(ymd(2026, 11, 20), "it", buf, 6);
	assert_string_equal(buf, "20 no");
	assert_int_equal(buf[6], 'x');
	assert_null(tg_message_date(ymd(2026, 11, 20), "it", NULL, 10));
}

/* ------------------------------------------------------------ body */

static void test_values_decimal_comma(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[2] = {
		ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING),
		ev(f, URP1, TG_ALERT_FIRING, TG_STATUS_WARNING),
	};
	struct tg_message m;

	render(f, e, 2, &m);
	has(m.text, "  Valore: 38,5 giorni (ottobre 2026) — obiettivo ≤ 30 giorni\n");
	has(m.text, "  Valore: 92,5% (ottobre 2026) — obiettivo ≥ 95%\n");
	has(m.text, "  Processo: Gestione della spesa\n");
	has(m.text, "  Responsabile: rag@comune.example\n");
	has(m.text, "  Motivo: 38,5 giorni (ottobre 2026): ");
	has(m.text, "  Previsione: il 2026 chiuderebbe a ");
	has_words(m.text, "(media), obiettivo annuale ≤ 30 giorni: non raggiunto a questo ritmo\n");
	has(m.text, "* Nuovo problema [attenzione]\n  RAG-01 — Tempo medio di pagamento delle fatture\n");
	has(m.html, "38,5 giorni (ottobre 2026) — obiettivo ≤ 30 giorni");
	has(m.html, "92,5% (ottobre 2026) — obiettivo ≥ 95%");
	hasnt(m.text, "38.5");
	hasnt(m.html, "38.5");
	/* the department is one heading, the block border its colour */
	assert_int_equal(count(m.text, "== Ragioneria =="), 1);
	has(m.html, "border-left:4px solid #b8860b");
	tg_message_free(&m);

	set_lang(f, true);
	render(f, e, 2, &m);
	has(m.text, "  Value: 38.5 giorni (October 2026) — target ≤ 30 giorni\n");
	has(m.text, "  Value: 92.5% (October 2026) — target ≥ 95%\n");
	has(m.text, "  Owner: rag@comune.example\n");
	has(m.text, "  Forecast: 2026 would close at ");
	has(m.text, "* New problem [warning]\n");
	hasnt(m.text, "38,5");
	tg_message_free(&m);
}

/* One department is one block even if the plan interleaves them. */
static void test_departments_grouped(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[3] = {
		ev(f, URP1, TG_ALERT_FIRING, TG_STATUS_WARNING),
		ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING),
		ev(f, RAG2, TG_ALERT_FIRING, TG_STATUS_LATE),
	};
	struct tg_message m;
	size_t order[3] = { 1, 0, 2 };   /* Ragioneria, URP, Ragioneria */
	struct tg_error err;

	assert_int_equal(render_plan(f, e, 3, order, 3, &m, &err), 0);
	check_message(&m, false);
	assert_int_equal(count(m.text, "== Ragioneria =="), 1);
	assert_int_equal(count(m.text, "== URP =="), 1);
	assert_true(strstr(m.text, "RAG-02") < strstr(m.text, "== URP =="));
	assert_true(strstr(m.text, "RAG-01") < strstr(m.text, "RAG-02"));
	assert_int_equal(count(m.html, "<h2"), 2);
	tg_message_free(&m);
}

/* The last 12 periods, newest first: gaps as "—", the value 13 months back
 * and the future one left out. */
static void test_history(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[1] = { ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING) };
	struct tg_message m;
	static const char *const items[] = {
		"ottobre 2026: 38,5 giorni (attenzione);", "settembre 2026: —;",
		"agosto 2026: 50 giorni (critico);", "luglio 2026: 28 giorni (in obiettivo);",
		"giugno 2026: 29 giorni (in obiettivo);", "maggio 2026: 33,25 giorni (attenzione);",
		"aprile 2026: —;", "marzo 2026: 30 giorni (in obiettivo);",
		"febbraio 2026: 31 giorni (attenzione);", "gennaio 2026: 28,5 giorni (in obiettivo);",
		"dicembre 2025: 29 giorni (in obiettivo);", "novembre 2025: 27 giorni (in obiettivo)\n",
	};
	static const char *const html_items[] = {
		">ottobre 2026<", ">settembre 2026<", ">agosto 2026<", ">luglio 2026<", ">giugno 2026<",
		">maggio 2026<", ">aprile 2026<", ">marzo 2026<", ">febbraio 2026<", ">gennaio 2026<",
		">dicembre 2025<", ">novembre 2025<",
	};
	const char *prev, *head;

	render(f, e, 1, &m);
	head = strstr(m.text, "  Ultimi periodi, dal più recente:\n");
	assert_non_null(head);
	prev = head;
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		const char *p = strstr(prev, items[i]);

		if (p == NULL) {
			print_error("item %zu \"%s\" missing or out of order in:\n%s\n", i, items[i], m.text);
			fail();
		}
		prev = p;
	}
	hasnt(m.text, "ottobre 2025");
	hasnt(m.text, "dicembre 2026");
	hasnt(m.text, "99 giorni");
	hasnt(m.text, "10 giorni (");
	/* HTML: a table of 12 rows, newest first, the light in its colour */
	head = strstr(m.html, "Ultimi periodi, dal più recente</caption>");
	assert_non_null(head);
	prev = head;
	for (size_t i = 0; i < sizeof(html_items) / sizeof(html_items[0]); i++) {
		const char *p = strstr(prev, html_items[i]);

		if (p == NULL) {
			print_error("HTML row %zu \"%s\" missing or out of order\n", i, html_items[i]);
			fail();
		}
		prev = p;
	}
	assert_int_equal(count(head, "<tr><td style=\"padding:1px 8px;white-space:nowrap;\">"), 12);
	assert_int_equal(count(head, "—</td>"), 2);
	has(head, "color:#b22222;font-weight:bold;white-space:nowrap;\">&#9679; critico");
	has(head, "color:#1e7b34;font-weight:bold;white-space:nowrap;\">&#9679; in obiettivo");
	hasnt(m.html, "ottobre 2025");
	tg_message_free(&m);

	/* English, and URP-01 with two values: the empty months before them
	 * are left out */
	set_lang(f, true);
	e[0] = ev(f, URP1, TG_ALERT_FIRING, TG_STATUS_WARNING);
	render(f, e, 1, &m);
	has(m.text, "  Last periods, newest first:\n    October 2026: 92.5% (warning); "
		    "September 2026: 93.1% (warning)\n");
	hasnt(m.text, "August 2026");
	tg_message_free(&m);
}

/* Late data: the window ends at the period that is missing. */
static void test_history_late(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[1] = { ev(f, RAG2, TG_ALERT_FIRING, TG_STATUS_LATE) };
	struct tg_message m;

	assert_int_equal(f->res[RAG2].status, TG_STATUS_LATE);
	render(f, e, 1, &m);
	has(m.text, "* Nuovo problema [in ritardo]\n");
	has(m.text, "  Valore: 96% (agosto 2026) — obiettivo ≥ 95%\n");
	has(m.text, "    settembre 2026: —; agosto 2026: 96% (in obiettivo)\n");
	has(m.html, "border-left:4px solid #6a5acd");
	tg_message_free(&m);
}

/* No store: no history, the rest is there. */
static void test_no_store(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[1] = { ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING) };
	struct tg_alert_events evs = { .v = e, .n = 1 };
	size_t order[1] = { 0 };
	struct tg_plan plan = { .events = order, .n_events = 1 };
	struct tg_message_input in = { .cfg = f->cfg, .events = &evs, .plan = &plan,
				       .results = f->res, .store = NULL, .now = f->now };
	struct tg_message m;
	struct tg_error err;

	assert_int_equal(tg_message_render(&in, &m, &err), 0);
	check_message(&m, false);
	has(m.text, "  Valore: 38,5 giorni (ottobre 2026)");
	hasnt(m.text, "Ultimi periodi");
	hasnt(m.html, "Ultimi periodi");
	tg_message_free(&m);
}

/* What changed since the previous message, and the target. */
static void test_changed_since(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[1];
	struct tg_message m;

	/* a reminder after September's message */
	e[0] = ev(f, URP1, TG_ALERT_REMINDER, TG_STATUS_WARNING);
	e[0].previous = TG_STATUS_WARNING;
	e[0].has_previous_value = true;
	e[0].previous_value = 93.1;
	e[0].previous_period = ymd(2026, 9, 1);
	e[0].since = f->now - 31 * (tg_time)TG_DAY_SECONDS;
	render(f, e, 1, &m);
	has(m.text, "* Promemoria [attenzione]\n");
	has(m.text, "  Messaggio precedente: era 93,1% (settembre 2026), attenzione\n");
	has(m.text, "  Durata: dal 20 ottobre 2026 (31 giorni)\n");
	has(m.html, "era 93,1% (settembre 2026), attenzione");
	hasnt(m.text, "obiettivo è cambiato");
	tg_message_free(&m);

	/* nothing changed */
	e[0].previous_value = 92.5;
	e[0].previous_period = ymd(2026, 10, 1);
	render(f, e, 1, &m);
	has(m.text, "  Messaggio precedente: nessun cambiamento\n");
	tg_message_free(&m);

	/* the same value and status, fired again for a new target: not a "new
	 * problem", and not "no change" above "the target has changed" */
	e[0].kind = TG_ALERT_FIRING;
	e[0].target_changed = true;
	render(f, e, 1, &m);
	has(m.text, "* Obiettivo cambiato [attenzione]\n");
	has(m.text, "  Messaggio precedente: era 92,5% (ottobre 2026), attenzione\n");
	has(m.text, "  L'obiettivo è cambiato dal messaggio precedente: ora ≥ 95%.\n");
	hasnt(m.text, "nessun cambiamento");
	hasnt(m.text, "Nuovo problema");
	tg_message_free(&m);
	set_lang(f, true);
	render(f, e, 1, &m);
	has(m.text, "* Target changed [warning]\n");
	tg_message_free(&m);
	set_lang(f, false);

	/* worse, and the target changed */
	e[0].kind = TG_ALERT_FIRING;
	e[0].status = TG_STATUS_CRITICAL;
	e[0].previous = TG_STATUS_WARNING;
	e[0].previous_value = 93.1;
	e[0].previous_period = ymd(2026, 9, 1);
	e[0].target_changed = true;
	e[0].since = f->now - 1 * (tg_time)TG_DAY_SECONDS;
	render(f, e, 1, &m);
	has(m.text, "* Peggiorato [critico]\n");
	has(m.text, "  L'obiettivo è cambiato dal messaggio precedente: ora ≥ 95%.\n");
	has(m.text, "  Durata: dal 19 novembre 2026 (1 giorno)\n");
	has(m.html, "L&#39;obiettivo è cambiato dal messaggio precedente: ora ≥ 95%.");
	tg_message_free(&m);

	set_lang(f, true);
	render(f, e, 1, &m);
	has(m.text, "* Worse [critical]\n");
	has(m.text, "  Previous message: was 93.1% (September 2026), warning\n");
	has(m.text, "  The target has changed since the previous message: now ≥ 95%.\n");
	has(m.text, "  Duration: since 19 November 2026 (1 day)\n");
	tg_message_free(&m);

	/* resolved: from when to when */
	e[0].kind = TG_ALERT_RESOLVED;
	e[0].status = TG_STATUS_OK;
	e[0].target_changed = false;
	e[0].since = f->now - 31 * (tg_time)TG_DAY_SECONDS;
	render(f, e, 1, &m);
	has(m.text, "* Back on target [on target]\n");
	has(m.text, "  Duration: from 20 October 2026 to 20 November 2026 (31 days)\n");
	has(m.html, "#1e7b34");
	hasnt(m.text, "target has changed");
	tg_message_free(&m);

	/* a first firing: nothing before, no duration */
	set_lang(f, false);
	e[0] = ev(f, URP1, TG_ALERT_FIRING, TG_STATUS_WARNING);
	render(f, e, 1, &m);
	hasnt(m.text, "Messaggio precedente");
	hasnt(m.text, "Durata");
	hasnt(m.text, "obiettivo è cambiato");
	tg_message_free(&m);

	/* Italian elides the preposition before 8 and 11 ("dall'8", "all'11",
	 * "dell'11") and writes the first of a month "1°" */
	{
		tg_time saved = f->now;

		f->now = (tg_time)ymd(2026, 12, 11) * TG_DAY_SECONDS + 9 * 3600;
		e[0] = ev(f, URP1, TG_ALERT_RESOLVED, TG_STATUS_OK);
		e[0].since = f->now - 3 * (tg_time)TG_DAY_SECONDS;
		render(f, e, 1, &m);
		has(m.text, "  Durata: dall'8 dicembre 2026 all'11 dicembre 2026 (3 giorni)\n");
		has(m.text, "valutazione dell'11 dicembre 2026 alle 09:00.");
		has(m.text, "degli indicatori all'11 dicembre 2026");
		has(m.html, "valutazione dell&#39;11 dicembre 2026 alle 09:00.");
		tg_message_free(&m);
		e[0].since = f->now - 10 * (tg_time)TG_DAY_SECONDS;
		render(f, e, 1, &m);
		has(m.text, "  Durata: dal 1° dicembre 2026 all'11 dicembre 2026 (10 giorni)\n");
		tg_message_free(&m);
		f->now = saved;
	}
}

struct kind_case {
	enum tg_alert_kind kind;
	enum tg_status status, previous;
	bool after_silence, admin;
	const char *it, *en;
};

static void test_kind_words(void **state)
{
	struct fx *f = *state;
	static const struct kind_case cases[] = {
		{ TG_ALERT_FIRING, TG_STATUS_CRITICAL, TG_STATUS_OK, false, false,
		  "* Nuovo problema [critico]\n", "* New problem [critical]\n" },
		{ TG_ALERT_FIRING, TG_STATUS_CRITICAL, TG_STATUS_WARNING, false, false,
		  "* Peggiorato [critico]\n", "* Worse [critical]\n" },
		{ TG_ALERT_REMINDER, TG_STATUS_WARNING, TG_STATUS_WARNING, false, false,
		  "* Promemoria [attenzione]\n", "* Reminder [warning]\n" },
		{ TG_ALERT_ESCALATED, TG_STATUS_LATE, TG_STATUS_LATE, false, false,
		  "* Escalation [in ritardo]\n", "* Escalation [late]\n" },
		{ TG_ALERT_RESOLVED, TG_STATUS_OK, TG_STATUS_CRITICAL, false, false,
		  "* Rientrato [in obiettivo]\n", "* Back on target [on target]\n" },
		{ TG_ALERT_RESOLVED, TG_STATUS_WARNING, TG_STATUS_CRITICAL, false, false,
		  "* Non più critico [attenzione]\n", "* No longer critical [warning]\n" },
		{ TG_ALERT_RESOLVED, TG_STATUS_WARNING, TG_STATUS_LATE, false, false,
		  "* Non più in ritardo [attenzione]\n", "* No longer late [warning]\n" },
		{ TG_ALERT_FIRING, TG_STATUS_WARNING, TG_STATUS_WARNING, true, false,
		  "* Ancora fuori obiettivo dopo la sospensione [attenzione]\n",
		  "* Still off target after the silence [warning]\n" },
		{ TG_ALERT_FIRING, TG_STATUS_ERROR, TG_STATUS_OK, false, true,
		  "* Fonte in errore [errore fonte]\n", "* Source failing [source error]\n" },
		{ TG_ALERT_RESOLVED, TG_STATUS_WARNING, TG_STATUS_ERROR, false, true,
		  "* Fonte di nuovo funzionante [attenzione]\n", "* Source working again [warning]\n" },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (int en = 0; en < 2; en++) {
			struct tg_alert_event e[1];
			struct tg_message m;

			set_lang(f, en);
			e[0] = cases[c].admin ? admin_ev(f, URP1, cases[c].kind, cases[c].status)
					      : ev(f, URP1, cases[c].kind, cases[c].status);
			e[0].previous = cases[c].previous;
			e[0].after_silence = cases[c].after_silence;
			render(f, e, 1, &m);
			if (strstr(m.text, en ? cases[c].en : cases[c].it) == NULL) {
				print_error("case %zu (%s): no \"%s\" in:\n%s\n", c, en ? "en" : "it",
					    en ? cases[c].en : cases[c].it, m.text);
				tg_message_free(&m);
				fail();
			}
			tg_message_free(&m);
		}
}

/* The administrators read which source fails and why, not targets. */
static void test_admin_source(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[2];
	struct tg_message m;

	eval(f, true);
	assert_int_equal(f->res[RAG1].status, TG_STATUS_ERROR);
	e[0] = admin_ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_ERROR);
	e[1] = admin_ev(f, URP1, TG_ALERT_FIRING, TG_STATUS_ERROR);
	e[1].since = f->now - 2 * (tg_time)TG_DAY_SECONDS;
	render(f, e, 2, &m);
	assert_string_equal(m.subject, "[traguardo] 2 indicatori senza dati: fonte in errore");
	has(m.text, "* Fonte in errore [errore fonte]\n  RAG-01 — Tempo medio di pagamento delle fatture\n"
		    "  Fonte: ragioneria\n  Errore: /srv/feeds/rag.csv: No such file or directory\n");
	has(m.text, "  Durata: dal 18 novembre 2026 (2 giorni)\n");
	has_words(m.text, "Situazione degli indicatori al 20 novembre 2026: 2 indicatori senza dati per una "
			  "fonte in errore.");
	hasnt(m.text, "Valore:");
	hasnt(m.text, "Ultimi periodi");
	hasnt(m.text, "Responsabile");
	has(m.html, "background-color:#555555");
	tg_message_free(&m);

	f->cfg->daemon.language = (char *)"en";
	eval(f, true);
	render(f, e, 2, &m);
	has(m.text, "  Source: ragioneria\n  Error: /srv/feeds/rag.csv: No such file or directory\n");
	tg_message_free(&m);

	/* working again: the source from the data, the status now */
	eval(f, false);
	e[0] = admin_ev(f, RAG1, TG_ALERT_RESOLVED, TG_STATUS_WARNING);
	e[0].previous = TG_STATUS_ERROR;
	e[0].since = f->now - 2 * (tg_time)TG_DAY_SECONDS;
	render(f, e, 1, &m);
	has(m.text, "* Source working again [warning]\n");
	has(m.text, "  Source: ragioneria\n  Now: 38.5 giorni (October 2026): ");
	has(m.text, "  Duration: from 18 November 2026 to 20 November 2026 (2 days)\n");
	tg_message_free(&m);
}

/* Two events for one indicator: one block, both kinds, one count. */
static void test_one_indicator_two_routes(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[2] = {
		ev(f, RAG1, TG_ALERT_REMINDER, TG_STATUS_WARNING),
		ev(f, RAG1, TG_ALERT_RESOLVED, TG_STATUS_WARNING),
	};
	struct tg_message m;

	e[0].route = (char *)"a";
	e[0].previous = TG_STATUS_WARNING;
	e[1].route = (char *)"b";
	e[1].previous = TG_STATUS_CRITICAL;
	render(f, e, 2, &m);
	assert_string_equal(m.subject, "[traguardo] 1 indicatore fuori obiettivo — Ragioneria");
	has(m.text, "* Promemoria · Non più critico [attenzione]\n");
	assert_int_equal(count(m.text, "RAG-01 — "), 1);
	assert_int_equal(count(m.html, "RAG-01 — "), 1);
	tg_message_free(&m);
}

/* ------------------------------------------------------------ hostile text */

static void test_html_escaping(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[2] = {
		ev(f, EVL1, TG_ALERT_FIRING, TG_STATUS_CRITICAL),
		ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING),
	};
	struct tg_message m;

	f->cfg->daemon.organization = (char *)"Comune <script>alert(1)</script> & \"Co\" 'x'";
	render(f, e, 2, &m);
	has(m.html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co");               /* name */
	has(m.html, "R&amp;D &lt;script&gt;alert(1)&lt;/script&gt;</h2>");           /* department */
	has(m.html, "P&amp;P &lt;i&gt;");                                            /* process */
	has(m.html, "0,5 &lt;u&gt;&amp; (ottobre 2026)");                            /* unit */
	has(m.html, "a&amp;b@comune.example");                                        /* owner */
	has(m.html, "Comune &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot; &#39;x&#39;");
	has(m.html, "<title>[traguardo] Comune &lt;script&gt;");
	hasnt(m.html, "<i>");
	hasnt(m.html, "<u>");
	/* the plain text is not HTML: the names are as written */
	has(m.text, "EVL-01 — <script>alert(1)</script> & Co\n");
	has(m.text, "== R&D <script>alert(1)</script> ==\n");
	has(m.text, "  Responsabile: a&b@comune.example\n");
	has(m.subject, "[traguardo] Comune <script>alert(1)</script> & \"Co\" 'x': 2 indicatori");
	tg_message_free(&m);
}

/* Control characters and invalid UTF-8 in names never reach the subject
 * (nor break a line of the text). */
static void test_control_characters(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[1] = { ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING) };
	struct tg_message m;

	f->cfg->indicators[RAG1].department = (char *)"Ragio\nneria\r\x1b[31m\x7f\xc2\x85\t\xff!";
	f->cfg->indicators[RAG1].name = (char *)"Paga\r\nmenti\x1b";
	f->cfg->daemon.organization = (char *)"Comune\ndi X\x01";
	render(f, e, 1, &m);
	assert_string_equal(m.subject, "[traguardo] Comune di X : 1 indicatore fuori obiettivo — "
				       "Ragio neria  [31m   \xEF\xBF\xBD!");
	has(m.text, "RAG-01 — Paga menti\n");
	has(m.text, "== Ragio neria  [31m   \xEF\xBF\xBD! ==\n");
	has(m.html, "Ragio neria  [31m   \xEF\xBF\xBD!</h2>");
	tg_message_free(&m);
}

/* ------------------------------------------------------------ templates */

static void tpl_dir(struct fx *f, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/message/%s", TG_TEST_DATA, name);
	f->templates = buf;
}

static void test_templates(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[3] = {
		ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING),
		ev(f, RAG2, TG_ALERT_FIRING, TG_STATUS_LATE),
		ev(f, URP1, TG_ALERT_RESOLVED, TG_STATUS_OK),
	};
	struct tg_message m;
	char dir[512];

	tpl_dir(f, "templates", dir, sizeof(dir));
	f->cfg->daemon.organization = (char *)"Comune di Borgo & <Co>";
	render(f, e, 3, &m);
	/* known placeholders (also with spaces) replaced; unknown ones, {{subject}}
	 * in the subject and an unclosed one left as written; the trailing
	 * newline of the file gone */
	assert_string_equal(m.subject, "Comune di Borgo & <Co>: 2 da guardare, 1 rientrati — Ragioneria, URP "
				       "— 20 novembre 2026 2 {{nope}} {{subject}} {{count");
	/* the intro, in the text as written (trailing blank lines dropped) */
	has(m.text, "Gentili colleghi di <b>Ragioneria, URP</b>,\nquesto è il riepilogo del 20 novembre 2026.\n\n"
		    "Oggetto originale: [traguardo] Comune di Borgo & <Co>: 1 indicatore fuori obiettivo, 1 con dati");
	/* its line too long for a terminal is wrapped */
	has(m.text, "in ritardo (1 rientrato) — Ragioneria, URP\n\n== Ragioneria ==");
	hasnt(m.text, "Situazione degli indicatori");
	/* and in the HTML escaped, paragraphs and line breaks */
	has(m.html, "<p style=\"margin:0 0 8px 0;\">Gentili colleghi di &lt;b&gt;Ragioneria, URP&lt;/b&gt;,<br>\n"
		    "questo è il riepilogo del 20 novembre 2026.</p>\n<p style=\"margin:0 0 8px 0;\">"
		    "Oggetto originale: [traguardo] Comune di Borgo &amp; &lt;Co&gt;: 1 indicatore");
	has(m.html, "<title>Comune di Borgo &amp; &lt;Co&gt;: 2 da guardare");
	tg_message_free(&m);

	set_lang(f, true);
	render(f, e, 3, &m);
	assert_string_equal(m.subject, "2 to look at (1 resolved) — Ragioneria, URP");
	has(m.text, "Dear colleagues in Ragioneria, URP:\nsummary of 20 November 2026.\n");
	tg_message_free(&m);

	/* a value from the data with control characters, through a template */
	set_lang(f, false);
	f->cfg->indicators[RAG1].department = (char *)"Ragio\nneria";
	render(f, e, 1, &m);
	has(m.subject, ": 1 da guardare, 0 rientrati — Ragio neria — ");
	has(m.text, "Gentili colleghi di <b>Ragio neria</b>,\n");
	tg_message_free(&m);

	/* an escalation says so through a template too: the subject starts
	 * with the marker, the intro ends with the sentence */
	f->cfg->indicators[RAG1].department = (char *)"Ragioneria";
	e[0].kind = TG_ALERT_ESCALATED;
	render(f, e, 1, &m);
	has(m.subject, "ESCALATION: Comune di Borgo & <Co>: 1 da guardare");
	assert_true(strncmp(m.subject, "ESCALATION: ", 12) == 0);
	has(m.text, "questo è il riepilogo del 20 novembre 2026.\n\nOggetto originale: [traguardo] ESCALATION: ");
	has(m.text, "Questo messaggio è un'escalation: alcuni problemi qui sotto sono aperti da tempo.");
	has(m.html, "Questo messaggio è un&#39;escalation");
	tg_message_free(&m);
}

/* {{summary}} and {{at_date}} carry the grammar a template cannot: the
 * number of the noun, the article before a date, what a message with
 * nothing off target is about. */
static void test_templates_grammar(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[2] = {
		ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING),
		ev(f, URP1, TG_ALERT_RESOLVED, TG_STATUS_OK),
	};
	struct tg_message m;
	char dir[512];
	const tg_time now = f->now;

	tpl_dir(f, "templates_grammar", dir, sizeof(dir));
	render(f, e, 1, &m);
	/* and a brace around a placeholder stays a brace */
	assert_string_equal(m.subject, "1 indicatore fuori obiettivo — al 20 novembre 2026 {1}");
	tg_message_free(&m);
	render(f, e + 1, 1, &m);
	assert_string_equal(m.subject, "1 indicatore di nuovo in obiettivo — al 20 novembre 2026 {0}");
	tg_message_free(&m);
	f->now = now - 12 * (tg_time)TG_DAY_SECONDS;   /* 8 November */
	eval(f, false);
	render(f, e, 2, &m);
	assert_string_equal(m.subject, "1 indicatore fuori obiettivo e 1 indicatore di nuovo in "
				       "obiettivo — all'8 novembre 2026 {1}");
	tg_message_free(&m);
	set_lang(f, true);
	render(f, e, 2, &m);
	assert_string_equal(m.subject, "1 indicator off target and 1 indicator back on target — "
				       "on 8 November 2026");
	tg_message_free(&m);
	f->now = now;
	set_lang(f, false);
}

static void test_templates_partial(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[1] = { ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING) };
	struct tg_message m;
	char dir[512];

	/* no directory at all: the defaults */
	f->templates = "/nonexistent/traguardo/templates";
	render(f, e, 1, &m);
	assert_string_equal(m.subject, "[traguardo] 1 indicatore fuori obiettivo — Ragioneria");
	has(m.text, "Situazione degli indicatori al 20 novembre 2026");
	tg_message_free(&m);

	/* only the intro */
	tpl_dir(f, "only-intro", dir, sizeof(dir));
	f->cfg->daemon.organization = (char *)"Comune di Borgo Fittizio";
	render(f, e, 1, &m);
	assert_string_equal(m.subject, "[traguardo] Comune di Borgo Fittizio: 1 indicatore fuori obiettivo — "
				       "Ragioneria");
	has(m.text, "Solo introduzione per Comune di Borgo Fittizio.\n");
	tg_message_free(&m);

	/* English has no file there: the default */
	set_lang(f, true);
	render(f, e, 1, &m);
	has_words(m.text, "Comune di Borgo Fittizio — quality indicators as of 20 November 2026");
	tg_message_free(&m);

	/* written on Windows: BOM and CRLF */
	set_lang(f, false);
	tpl_dir(f, "windows", dir, sizeof(dir));
	render(f, e, 1, &m);
	assert_string_equal(m.subject, "[qualità] 1 indicatori");
	has(m.text, "Prima riga 1\nSeconda riga\n\n== Ragioneria ==");
	hasnt(m.text, "\xEF\xBB\xBF");
	hasnt(m.html, "\xEF\xBB\xBF");
	tg_message_free(&m);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void expect_error(struct fx *f, const char *file_part, const char *what_part)
{
	struct tg_alert_event e[1] = { ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING) };
	size_t order[1] = { 0 };
	struct tg_message m = { (char *)"x", (char *)"y", (char *)"z" };
	struct tg_error err = { { 0 } };
	int rc = render_plan(f, e, 1, order, 1, &m, &err);

	if (rc >= 0 || strstr(err.msg, file_part) == NULL || strstr(err.msg, what_part) == NULL) {
		print_error("expected an error naming \"%s\" and \"%s\": rc %d, \"%s\"\n", file_part,
			    what_part, rc, err.msg);
		fail();
	}
	assert_null(m.subject);
	assert_null(m.text);
	assert_null(m.html);
	tg_message_free(&m);
}

static void test_templates_bad(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[1] = { ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING) };
	struct tg_message m;
	char dir[512], tmp[] = "/tmp/tg-message-XXXXXX", path[600], *big;
	int rc;

	/* invalid UTF-8 (a Windows-1252 "è") */
	tpl_dir(f, "bad-utf8", dir, sizeof(dir));
	expect_error(f, "bad-utf8/subject.it.txt", "not valid UTF-8");

	assert_non_null(mkdtemp(tmp));
	f->templates = tmp;
	big = malloc(64 * 1024 + 1);
	assert_non_null(big);

	/* exactly 64 KiB is fine */
	memset(big, 'a', 64 * 1024);
	for (size_t i = 60; i < 64 * 1024; i += 61)
		big[i] = '\n';
	snprintf(path, sizeof(path), "%s/intro.it.txt", tmp);
	write_file(path, big, 64 * 1024);
	render(f, e, 1, &m);
	has(m.text, "aaaa\naaaa");
	tg_message_free(&m);

	/* one byte more is not */
	big[64 * 1024] = 'a';
	write_file(path, big, 64 * 1024 + 1);
	expect_error(f, "/intro.it.txt", "larger than 64 KiB");
	free(big);

	/* a NUL byte */
	write_file(path, "abc\0def", 7);
	expect_error(f, "/intro.it.txt", "not valid UTF-8");

	/* a directory where the file should be */
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	expect_error(f, "/intro.it.txt", "not a regular file");
	rmdir(path);

	/* unreadable (root reads anyway) */
	write_file(path, "x", 1);
	chmod(path, 0);
	if (geteuid() != 0)
		expect_error(f, "/intro.it.txt", "Permission denied");
	unlink(path);

	/* a long subject is cut at a character boundary, controls become spaces */
	snprintf(path, sizeof(path), "%s/subject.it.txt", tmp);
	{
		char s[400];
		size_t o = 0;

		s[o++] = 'a';
		s[o++] = 'b';
		s[o++] = '\x1b';
		while (o + 2 < sizeof(s)) {
			s[o++] = '\xC3';
			s[o++] = '\xA8';
		}
		write_file(path, s, o);
	}
	render(f, e, 1, &m);
	assert_int_equal(strlen(m.subject), 199);   /* "ab " + 98 × "è": the 99th would end at 201 */
	assert_true(strncmp(m.subject, "ab \xC3\xA8", 5) == 0);
	tg_message_free(&m);

	/* a subject template that renders empty gives the default */
	write_file(path, " \n\n", 3);
	render(f, e, 1, &m);
	assert_string_equal(m.subject, "[traguardo] 1 indicatore fuori obiettivo — Ragioneria");
	tg_message_free(&m);

	unlink(path);
	rc = rmdir(tmp);
	assert_int_equal(rc, 0);
}

/* ------------------------------------------------------------ bad input */

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	struct tg_alert_event e[1] = { ev(f, RAG1, TG_ALERT_FIRING, TG_STATUS_WARNING) };
	struct tg_alert_events evs = { .v = e, .n = 1 };
	size_t order[1] = { 1 };
	struct tg_plan plan = { .events = order, .n_events = 1 };
	struct tg_message_input in = { .cfg = f->cfg, .events = &evs, .plan = &plan,
				       .results = f->res, .store = f->st, .now = f->now };
	struct tg_message m;
	struct tg_error err;

	/* an event index outside the events */
	assert_int_equal(tg_message_render(&in, &m, &err), -EINVAL);
	has(err.msg, "out of range");
	assert_null(m.subject);
	/* an indicator outside the config */
	order[0] = 0;
	e[0].indicator = N_IND;
	assert_int_equal(tg_message_render(&in, &m, &err), -EINVAL);
	has(err.msg, "out of range");
	assert_null(m.html);
	/* missing pieces */
	e[0].indicator = RAG1;
	in.results = NULL;
	assert_int_equal(tg_message_render(&in, &m, &err), -EINVAL);
	assert_int_equal(tg_message_render(NULL, &m, &err), -EINVAL);
	in.results = f->res;
	assert_int_equal(tg_message_render(&in, NULL, &err), -EINVAL);
	/* hostile values in the event: unknown statuses, absurd times */
	e[0].previous = (enum tg_status)77;
	e[0].kind = (enum tg_alert_kind)9;
	e[0].since = INT64_MIN;
	e[0].has_previous_value = true;
	e[0].previous_period = INT32_MIN;
	assert_int_equal(tg_message_render(&in, &m, &err), 0);
	check_message(&m, false);
	tg_message_free(&m);
	in.now = INT64_MAX;
	e[0].since = INT64_MAX;
	e[0].previous = TG_STATUS_WARNING;
	e[0].previous_period = INT32_MAX;
	assert_int_equal(tg_message_render(&in, &m, &err), 0);
	check_message(&m, false);
	has(m.text, "(?)");
	tg_message_free(&m);

	tg_message_free(NULL);
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Random plans (kinds, statuses, routes, previous values including NaN and
 * infinities, times around and far from now): every message is well formed. */
static void test_random_events(void **state)
{
	struct fx *f = *state;
	uint64_t x = 0x9E3779B97F4A7C15u;
	static const double odd[] = { 0, -0.0, 1e308, -1e308, 0.125, 93.1, 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0 };

	for (int round = 0; round < 400; round++) {
		struct tg_alert_event e[8];
		size_t order[8], n;
		struct tg_message m;
		struct tg_error err;

#define RND() rnd(&x)
		set_lang(f, RND() % 2);
		f->cfg->daemon.organization = RND() % 2 ? (char *)"Comune & <b>" : f->org;
		n = RND() % 8;
		for (size_t i = 0; i < n; i++) {
			size_t ind = RND() % N_IND;
			enum tg_alert_kind kind = (enum tg_alert_kind)(RND() % 4);

			e[i] = ev(f, ind, kind, (enum tg_status)(RND() % TG_STATUS_COUNT));
			e[i].previous = (enum tg_status)(RND() % TG_STATUS_COUNT);
			e[i].route = (char *)(RND() % 3 == 0 ? "admins" : RND() % 2 ? "a" : "b");
			e[i].after_silence = RND() % 4 == 0;
			e[i].target_changed = RND() % 3 == 0;
			e[i].has_previous_value = RND() % 2;
			e[i].previous_value = odd[RND() % (sizeof(odd) / sizeof(odd[0]))];
			e[i].previous_period = ymd(2026, 1 + (int)(RND() % 12), 1);
			e[i].since = f->now - (tg_time)(RND() % (400 * 86400)) + 3600;
			order[i] = n - 1 - i;
		}
		if (render_plan(f, e, n, order, n, &m, &err) != 0) {
			print_error("round %d: %s\n", round, err.msg);
			fail();
		}
		check_message(&m, false);
		tg_message_free(&m);
#undef RND
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_subjects, reset),
		cmocka_unit_test_setup(test_intro, reset),
		cmocka_unit_test_setup(test_at_risk, reset),
		cmocka_unit_test_setup(test_dates, reset),
		cmocka_unit_test_setup(test_values_decimal_comma, reset),
		cmocka_unit_test_setup(test_departments_grouped, reset),
		cmocka_unit_test_setup(test_history, reset),
		cmocka_unit_test_setup(test_history_late, reset),
		cmocka_unit_test_setup(test_no_store, reset),
		cmocka_unit_test_setup(test_changed_since, reset),
		cmocka_unit_test_setup(test_kind_words, reset),
		cmocka_unit_test_setup(test_admin_source, reset),
		cmocka_unit_test_setup(test_one_indicator_two_routes, reset),
		cmocka_unit_test_setup(test_html_escaping, reset),
		cmocka_unit_test_setup(test_control_characters, reset),
		cmocka_unit_test_setup(test_templates, reset),
		cmocka_unit_test_setup(test_templates_grammar, reset),
		cmocka_unit_test_setup(test_templates_partial, reset),
		cmocka_unit_test_setup(test_templates_bad, reset),
		cmocka_unit_test_setup(test_bad_input, reset),
		cmocka_unit_test_setup(test_random_events, reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
