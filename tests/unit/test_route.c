/*
 * test_route.c — who is told what: route matching (departments, processes,
 * ids, min_status), silences with both ends included, "@owner" with and
 * without an owner, `error` only to the administrators, one digest per
 * (channel, recipient) with each indicator once, worst first, and the
 * digest subjects (counts, departments, a cut at a character boundary).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

static const struct tg_digest *find(const struct tg_config *cfg, const struct tg_digests *d,
				    const char *channel, const char *to)
{
	for (size_t i = 0; i < d->n; i++) {
		if (strcmp(cfg->channels[d->v[i].channel].name, channel) != 0)
			continue;
		if ((to == NULL && d->v[i].recipient == NULL) ||
		    (to != NULL && d->v[i].recipient != NULL && strcmp(to, d->v[i].recipient) == 0))
			return &d->v[i];
	}
	return NULL;
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

static void test_plan(void **state)
{
	struct tg_config *cfg = load(conf_text);
	struct tg_eval_result res[N_IND];
	struct tg_digests d;
	const struct tg_digest *g;

	(void)state;
	results(res, TG_STATUS_CRITICAL, TG_STATUS_WARNING, TG_STATUS_LATE, TG_STATUS_CRITICAL);
	assert_int_equal(tg_route_plan(cfg, res, tg_day_from_ymd(2026, 11, 5), &d), 0);

	/* the owner of RAG-01 and RAG-02 is one person, written two ways, also
	 * named by route 1: one digest, each indicator once, worst first */
	g = find(cfg, &d, "posta", "rag@comune.example");
	assert_non_null(g);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->indicators[0], RAG1);
	assert_int_equal(g->indicators[1], RAG2);
	assert_null(find(cfg, &d, "posta", "RAG@Comune.Example"));
	g = find(cfg, &d, "posta", "capo@comune.example");
	assert_non_null(g);
	assert_int_equal(g->n, 2);
	/* URP-01 has no owner: "@owner" names nobody (and does not crash) */
	for (size_t i = 0; i < d.n; i++)
		for (size_t k = 0; k < d.v[i].n; k++)
			assert_int_not_equal(d.v[i].indicators[k], URP1);
	/* SCU-01: webhook digest without recipient, and its owner by email */
	g = find(cfg, &d, "chat", NULL);
	assert_non_null(g);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->indicators[0], SCU1);
	assert_non_null(find(cfg, &d, "posta", "scuola@comune.example"));
	assert_int_equal(d.n, 4);
	assert_null(find(cfg, &d, "posta", "ced@comune.example"));   /* no error: no admin mail */
	tg_digests_free(&d);
	assert_int_equal(d.n, 0);
	tg_digests_free(&d);   /* twice is harmless */

	/* in August the school is silenced */
	assert_int_equal(tg_route_plan(cfg, res, tg_day_from_ymd(2026, 8, 31), &d), 0);
	assert_null(find(cfg, &d, "chat", NULL));
	assert_null(find(cfg, &d, "posta", "scuola@comune.example"));
	tg_digests_free(&d);

	/* nothing wrong: nothing to send */
	results(res, TG_STATUS_OK, TG_STATUS_OK, TG_STATUS_UNKNOWN, TG_STATUS_WARNING);
	assert_int_equal(tg_route_plan(cfg, res, tg_day_from_ymd(2026, 11, 5), &d), 0);
	assert_int_equal(d.n, 0);   /* SCU-01 route wants late or worse */
	tg_digests_free(&d);
	tg_config_free(cfg);
}

static void test_errors_go_to_admins(void **state)
{
	struct tg_config *cfg = load(conf_text);
	struct tg_eval_result res[N_IND];
	struct tg_digests d;
	const struct tg_digest *g;

	(void)state;
	results(res, TG_STATUS_ERROR, TG_STATUS_CRITICAL, TG_STATUS_ERROR, TG_STATUS_ERROR);
	assert_int_equal(tg_route_plan(cfg, res, tg_day_from_ymd(2026, 11, 5), &d), 0);
	/* through the first e-mail channel, to every admin */
	for (int a = 0; a < 2; a++) {
		g = find(cfg, &d, "posta", a == 0 ? "ced@comune.example" : "ced2@comune.example");
		assert_non_null(g);
		assert_int_equal(g->n, 3);
		for (size_t k = 0; k < g->n; k++)
			assert_int_equal(res[g->indicators[k]].status, TG_STATUS_ERROR);
	}
	assert_null(find(cfg, &d, "posta2", "ced@comune.example"));
	/* never to the owners: only RAG-02 (critical) goes to its owner */
	g = find(cfg, &d, "posta", "RAG@Comune.Example");
	assert_non_null(g);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->indicators[0], RAG2);
	assert_null(find(cfg, &d, "chat", NULL));
	assert_null(find(cfg, &d, "posta", "scuola@comune.example"));
	tg_digests_free(&d);

	/* silenced errors are not sent either */
	assert_int_equal(tg_route_plan(cfg, res, tg_day_from_ymd(2026, 8, 10), &d), 0);
	g = find(cfg, &d, "posta", "ced@comune.example");
	assert_non_null(g);
	assert_int_equal(g->n, 2);
	tg_digests_free(&d);
	tg_config_free(cfg);
}

static void test_errors_without_email_channel(void **state)
{
	static const char text[] =
		"daemon = { state_dir = \"/tmp/x\"; admins = [\"ced@comune.example\"]; };\n"
		"sources = ( { name = \"s\"; type = \"csv\"; path = \"/tmp/x.csv\"; } );\n"
		"indicators = ( { id = \"A-1\"; name = \"A\"; department = \"D\"; target = 1; } );\n"
		"channels = ( { name = \"chat\"; type = \"webhook\"; url = \"https://example.invalid/h\"; } );\n"
		"routes = ( { channels = [\"chat\"]; min_status = \"ok\"; } );\n";
	struct tg_config *cfg = load(text);
	struct tg_eval_result res[1];
	struct tg_digests d;

	(void)state;
	memset(res, 0, sizeof(res));
	res[0].status = TG_STATUS_ERROR;
	assert_int_equal(tg_route_plan(cfg, res, 0, &d), 0);
	assert_int_equal(d.n, 0);   /* no e-mail channel for the admins; not to the chat */
	tg_digests_free(&d);
	res[0].status = TG_STATUS_OK;   /* min_status ok: ok is sent too */
	assert_int_equal(tg_route_plan(cfg, res, 0, &d), 0);
	assert_int_equal(d.n, 1);
	tg_digests_free(&d);
	tg_config_free(cfg);
}

static void test_subjects(void **state)
{
	struct tg_config *cfg = load(conf_text);
	char *lang = cfg->daemon.language;
	struct tg_eval_result res[N_IND];
	struct tg_digest g;
	size_t idx[N_IND];
	char buf[256];
	static const struct {
		size_t n;
		size_t ind[4];
		enum tg_status st[4];
		const char *it, *en;
	} cases[] = {
		{ 1, { RAG1 }, { TG_STATUS_CRITICAL },
		  "[traguardo] 1 indicatore fuori obiettivo — Ragioneria",
		  "[traguardo] 1 indicator off target — Ragioneria" },
		{ 2, { RAG1, RAG2 }, { TG_STATUS_CRITICAL, TG_STATUS_WARNING },
		  "[traguardo] 2 indicatori fuori obiettivo — Ragioneria",
		  "[traguardo] 2 indicators off target — Ragioneria" },
		{ 2, { RAG1, URP1 }, { TG_STATUS_LATE, TG_STATUS_OK },
		  "[traguardo] 1 indicatore fuori obiettivo — Ragioneria, URP",
		  "[traguardo] 1 indicator off target — Ragioneria, URP" },
		{ 3, { RAG1, SCU1, URP1 }, { TG_STATUS_LATE, TG_STATUS_CRITICAL, TG_STATUS_WARNING },
		  "[traguardo] 3 indicatori fuori obiettivo — 3 settori",
		  "[traguardo] 3 indicators off target — 3 departments" },
		{ 2, { RAG1, URP1 }, { TG_STATUS_ERROR, TG_STATUS_ERROR },
		  "[traguardo] 2 indicatori senza dati: fonte in errore — Ragioneria, URP",
		  "[traguardo] 2 indicators without data: source failing — Ragioneria, URP" },
		{ 1, { URP1 }, { TG_STATUS_OK },
		  "[traguardo] 1 indicatore in obiettivo — URP",
		  "[traguardo] 1 indicator on target — URP" },
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		memset(res, 0, sizeof(res));
		for (size_t k = 0; k < cases[c].n; k++) {
			idx[k] = cases[c].ind[k];
			res[idx[k]].status = cases[c].st[k];
		}
		g = (struct tg_digest){ .channel = 1, .recipient = NULL, .indicators = idx, .n = cases[c].n };
		for (int en = 0; en < 2; en++) {
			const char *want = en ? cases[c].en : cases[c].it;

			cfg->daemon.language = (char *)(en ? "en" : "it");
			tg_digest_subject(cfg, res, &g, buf, sizeof(buf));
			if (strcmp(buf, want) != 0) {
				print_error("case %zu (%s): got \"%s\", expected \"%s\"\n", c,
					    en ? "en" : "it", buf, want);
				fail();
			}
		}
	}
	cfg->daemon.language = lang;   /* owned by the config */
	tg_config_free(cfg);
}

/* A subject cut by the buffer never ends in half a character. */
static void test_subject_cut_at_character(void **state)
{
	struct tg_config *cfg = load(conf_text);
	struct tg_eval_result res[N_IND];
	struct tg_digest g;
	size_t idx[1] = { RAG1 };
	char buf[64];

	(void)state;
	memset(res, 0, sizeof(res));
	res[RAG1].status = TG_STATUS_CRITICAL;
	g = (struct tg_digest){ .channel = 1, .indicators = idx, .n = 1 };
	/* "[traguardo] 1 indicatore fuori obiettivo — Ragioneria": the dash is
	 * 3 bytes at offset 41..43; every size must give valid UTF-8 */
	for (size_t size = 1; size <= sizeof(buf); size++) {
		const unsigned char *p;

		memset(buf, 'x', sizeof(buf));
		tg_digest_subject(cfg, res, &g, buf, size);
		assert_true(strlen(buf) < size);
		for (p = (const unsigned char *)buf; *p; ) {
			size_t n = *p < 0x80 ? 1 : *p >= 0xE0 ? 3 : 2;

			for (size_t k = 1; k < n; k++)
				if ((p[k] & 0xC0) != 0x80) {
					print_error("size %zu: \"%s\" is cut inside a character\n", size, buf);
					fail();
				}
			p += n;
		}
	}
	tg_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_silence_dates_inclusive),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_errors_go_to_admins),
		cmocka_unit_test(test_errors_without_email_channel),
		cmocka_unit_test(test_subjects),
		cmocka_unit_test(test_subject_cut_at_character),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
