/*
 * test_engine.c — the engine on real files and a real configuration: CSV
 * sources read into the store, then evaluated.  A failing source gives
 * `error` to its own indicators only; the date-fits rule of the sink (a date
 * coarser than the indicator's period is refused, a finer one is placed in
 * its period); rows for an indicator bound to another source; the journal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "log.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tg-engine-XXXXXX");
	tg_log_init("test_engine", 0);
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
	fclose(f);
}

static void remove_file(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void report(void *ctx, const char *file, int line, const char *msg)
{
	(void)ctx;
	print_error("config: %s:%d: %s\n", file, line, msg);
}

/* The configuration text with every "@D" replaced by the test directory. */
static struct tg_config *load(const char *text)
{
	char buf[8192];
	size_t o = 0;
	struct tg_error err;
	struct tg_config *cfg;

	for (const char *p = text; *p != '\0'; p++) {
		if (p[0] == '@' && p[1] == 'D') {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", dir);
			p++;
		} else {
			buf[o++] = *p;
		}
		assert_true(o < sizeof(buf) - 1);
	}
	buf[o] = '\0';
	cfg = tg_config_load_string(buf, "/tmp/t.conf", report, NULL, &err);
	if (cfg == NULL)
		fail_msg("config not valid: %s", err.msg);
	return cfg;
}

static ssize_t ind(const struct tg_config *cfg, const char *id)
{
	ssize_t i = tg_config_indicator_index(cfg, id, strlen(id));

	assert_true(i >= 0);
	return i;
}

static tg_time at(const char *s)
{
	struct tg_error err;
	tg_time t;

	assert_int_equal(tg_time_parse(s, &t, &err), 0);
	return t;
}

static const char two_sources[] =
	"daemon = { state_dir = \"@D/state\"; language = \"en\"; };\n"
	"sources = (\n"
	"  { name = \"good\"; type = \"csv\"; path = \"@D/good.csv\"; },\n"
	"  { name = \"bad\"; type = \"csv\"; path = \"@D/absent-*.csv\"; }\n"
	");\n"
	"indicators = (\n"
	"  { id = \"G-1\"; name = \"Good one\"; department = \"D\"; target = 10; source = \"good\"; },\n"
	"  { id = \"G-2\"; name = \"Good, any source\"; department = \"D\"; target = 10; },\n"
	"  { id = \"B-1\"; name = \"Bad one\"; department = \"D\"; target = 10; source = \"bad\"; },\n"
	"  { id = \"N-1\"; name = \"Never fed\"; department = \"D\"; target = 10; }\n"
	");\n";

static void test_failing_source_errors_its_indicators_only(void **state)
{
	struct tg_config *cfg;
	struct tg_engine *e;
	struct tg_error err;
	const struct tg_eval_result *res;
	const struct tg_source_state *st;

	(void)state;
	write_file("good.csv", "Codice;Mese;Valore\nG-1;01/10/2026;12\nG-2;10/2026;11\n"
			       "B-1;10/2026;5\n");
	cfg = load(two_sources);
	e = tg_engine_new(cfg, TG_JOURNAL_NONE, NULL, &err);
	assert_non_null(e);
	assert_int_equal(tg_engine_run_source(e, 0, 1000), 0);
	assert_true(tg_engine_run_source(e, 1, 1000) < 0);
	assert_int_equal(tg_engine_run_source(e, 2, 1000), -EINVAL);   /* no such source */
	st = tg_engine_source_state(e, 1);
	assert_true(st->ran && st->failed);
	assert_non_null(strstr(st->error, "no file matches"));
	st = tg_engine_source_state(e, 0);
	assert_true(st->ran && !st->failed);
	assert_int_equal(st->stats.measurements, 2);
	/* B-1 is bound to "bad": its row in good.csv is a bad row of "good" */
	assert_int_equal(st->stats.bad_rows, 1);
	assert_int_equal(st->last_run, 1000);
	assert_false(tg_engine_journal_failed(e));

	tg_engine_evaluate(e, at("2026-11-05T10:00"));
	res = tg_engine_results(e);
	assert_int_equal(res[ind(cfg, "G-1")].status, TG_STATUS_OK);
	assert_int_equal(res[ind(cfg, "G-2")].status, TG_STATUS_OK);   /* fed by good */
	assert_int_equal(res[ind(cfg, "B-1")].status, TG_STATUS_ERROR);
	assert_non_null(strstr(res[ind(cfg, "B-1")].reason, "bad"));
	/* no data and no source of its own: a failing source may hold its data */
	assert_int_equal(res[ind(cfg, "N-1")].status, TG_STATUS_ERROR);
	assert_true(res[ind(cfg, "G-1")].has_value);
	assert_true(res[ind(cfg, "G-1")].value == 12);
	assert_int_equal(res[ind(cfg, "G-1")].period, tg_day_from_ymd(2026, 10, 1));
	assert_int_equal(tg_store_series(tg_engine_store(e), "B-1"), NULL);

	/* the bad source comes back: nobody is in error any more */
	write_file("absent-1.csv", "c;m;v\nB-1;10/2026;5\n");
	assert_int_equal(tg_engine_run_source(e, 1, 2000), 0);
	tg_engine_evaluate(e, at("2026-11-05T10:00"));
	res = tg_engine_results(e);
	assert_int_equal(res[ind(cfg, "B-1")].status, TG_STATUS_CRITICAL);  /* 5 < 10, no critical */
	assert_int_equal(res[ind(cfg, "N-1")].status, TG_STATUS_UNKNOWN);
	remove_file("absent-1.csv");

	tg_engine_free(e);
	tg_config_free(cfg);
}

/* A source that fails later keeps the values it gave: they are kept in the
 * store, and the indicator it feeds shows error (for the administrator). */
static void test_failure_after_data_keeps_values(void **state)
{
	struct tg_config *cfg;
	struct tg_engine *e;
	struct tg_error err;
	const struct tg_eval_result *res;

	(void)state;
	write_file("good.csv", "Codice;Mese;Valore\nG-1;10/2026;12\nG-2;10/2026;12\n");
	cfg = load(two_sources);
	e = tg_engine_new(cfg, TG_JOURNAL_NONE, NULL, &err);
	assert_non_null(e);
	assert_int_equal(tg_engine_run_source(e, 0, 1000), 0);
	write_file("good.csv", "");
	assert_true(tg_engine_run_source(e, 0, 3000) < 0);      /* empty file: fails */
	tg_engine_evaluate(e, at("2026-11-05T10:00"));
	res = tg_engine_results(e);
	assert_int_equal(res[ind(cfg, "G-1")].status, TG_STATUS_ERROR);
	assert_true(res[ind(cfg, "G-1")].has_value);               /* still stored */
	/* G-2 has no `source`, but its data came from "good", which failed */
	assert_int_equal(res[ind(cfg, "G-2")].status, TG_STATUS_ERROR);
	/* B-1 is bound to "bad", which has not run: nothing to blame */
	assert_int_equal(res[ind(cfg, "B-1")].status, TG_STATUS_UNKNOWN);
	tg_engine_free(e);
	tg_config_free(cfg);
}

/* Data stored from a source that is no longer configured: a failing source
 * of this cycle is not to blame for it. */
static void test_data_from_unknown_source_not_blamed(void **state)
{
	static const char conf[] =
		"daemon = { state_dir = \"@D/state2\"; language = \"en\"; };\n"
		"sources = ( { name = \"bad\"; type = \"csv\"; path = \"@D/none.csv\"; } );\n"
		"indicators = ( { id = \"X-1\"; name = \"X\"; department = \"D\"; target = 10; } );\n";
	static const char journal_conf[] =
		"daemon = { state_dir = \"@D/state2\"; language = \"en\"; };\n"
		"sources = ( { name = \"old\"; type = \"csv\"; path = \"@D/old.csv\"; } );\n"
		"indicators = ( { id = \"X-1\"; name = \"X\"; department = \"D\"; target = 10; } );\n";
	struct tg_config *cfg;
	struct tg_engine *e;
	struct tg_error err;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/state2", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	/* a first configuration fills the journal from source "old" */
	write_file("old.csv", "c;m;v\nX-1;10/2026;12\n");
	cfg = load(journal_conf);
	e = tg_engine_new(cfg, TG_JOURNAL_WRITE, NULL, &err);
	assert_non_null(e);
	assert_int_equal(tg_engine_run_source(e, 0, 1000), 0);
	assert_false(tg_engine_journal_failed(e));
	tg_engine_free(e);
	tg_config_free(cfg);

	/* the new one has only a failing source */
	cfg = load(conf);
	e = tg_engine_new(cfg, TG_JOURNAL_WRITE, NULL, &err);
	assert_non_null(e);
	assert_true(tg_engine_run_source(e, 0, 2000) < 0);
	tg_engine_evaluate(e, at("2026-11-05T10:00"));
	assert_int_equal(tg_engine_results(e)[0].status, TG_STATUS_OK);
	assert_true(tg_engine_results(e)[0].value == 12);   /* replayed from the journal */
	tg_engine_free(e);
	tg_config_free(cfg);
}

/* The date-fits rule: a value whose date is coarser than the indicator's
 * period is refused; a day fits every period; a month fits a quarter and a
 * year, a quarter a year; a week fits only a week. */
static void test_date_fits(void **state)
{
	static const struct {
		const char *period;   /* the indicator's */
		const char *date;     /* as written in the file */
		bool accepted;
		int y, m, d;          /* the period it lands in */
	} cases[] = {
		{ "day", "12/03/2026", true, 2026, 3, 12 },
		{ "day", "03/2026", false, 0, 0, 0 },
		{ "day", "2026-W11", false, 0, 0, 0 },
		{ "week", "12/03/2026", true, 2026, 3, 9 },
		{ "week", "2026-W11", true, 2026, 3, 9 },
		{ "week", "03/2026", false, 0, 0, 0 },
		{ "week", "2026", false, 0, 0, 0 },
		{ "month", "12/03/2026", true, 2026, 3, 1 },
		{ "month", "marzo 2026", true, 2026, 3, 1 },
		{ "month", "2026-W11", false, 0, 0, 0 },
		{ "month", "2026-Q1", false, 0, 0, 0 },
		{ "month", "2026", false, 0, 0, 0 },
		{ "quarter", "12/03/2026", true, 2026, 1, 1 },
		{ "quarter", "05/2026", true, 2026, 4, 1 },
		{ "quarter", "2026-Q3", true, 2026, 7, 1 },
		{ "quarter", "2026-W11", false, 0, 0, 0 },
		{ "quarter", "2026", false, 0, 0, 0 },
		{ "year", "31/12/2026", true, 2026, 1, 1 },
		{ "year", "11/2026", true, 2026, 1, 1 },
		{ "year", "2026-Q4", true, 2026, 1, 1 },
		{ "year", "2026", true, 2026, 1, 1 },
		{ "year", "2026-W11", false, 0, 0, 0 },
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char conf[1024], csv[256];
		struct tg_config *cfg;
		struct tg_engine *e;
		struct tg_error err;
		const struct tg_source_state *st;
		const struct tg_series *s;

		snprintf(conf, sizeof(conf),
			 "daemon = { state_dir = \"@D/s\"; };\n"
			 "sources = ( { name = \"f\"; type = \"csv\"; path = \"@D/fits.csv\"; } );\n"
			 "indicators = ( { id = \"P-1\"; name = \"P\"; department = \"D\"; target = 1;"
			 " period = \"%s\"; } );\n", cases[c].period);
		snprintf(csv, sizeof(csv), "Codice;Periodo;Valore\nP-1;%s;7\n", cases[c].date);
		write_file("fits.csv", csv);
		cfg = load(conf);
		e = tg_engine_new(cfg, TG_JOURNAL_NONE, NULL, &err);
		assert_non_null(e);
		assert_int_equal(tg_engine_run_source(e, 0, 1), 0);
		st = tg_engine_source_state(e, 0);
		s = tg_store_series(tg_engine_store(e), "P-1");
		if (st->stats.measurements != (cases[c].accepted ? 1u : 0u) ||
		    st->stats.bad_rows != (cases[c].accepted ? 0u : 1u) ||
		    (s != NULL) != cases[c].accepted) {
			print_error("case %zu: %s value dated '%s': expected %s\n", c, cases[c].period,
				    cases[c].date, cases[c].accepted ? "accepted" : "refused");
			fail();
		}
		if (cases[c].accepted && s->period[0] != tg_day_from_ymd(cases[c].y, cases[c].m, cases[c].d)) {
			print_error("case %zu: %s value dated '%s' in the wrong period\n", c,
				    cases[c].period, cases[c].date);
			fail();
		}
		tg_engine_free(e);
		tg_config_free(cfg);
	}
}

/*
 * The sink guesses a row's indicator from the row before (exports sorted by
 * code, or by period then code) and remembers the last period: whatever
 * the order of the rows, with unknown codes, repeated rows and indicators
 * of another period kind mixed in, the store ends up the same.
 */
static void test_row_orders(void **state)
{
	static const char conf[] =
		"daemon = { state_dir = \"@D/s\"; };\n"
		"sources = ( { name = \"f\"; type = \"csv\"; path = \"@D/order.csv\"; } );\n"
		"indicators = (\n"
		"  { id = \"A\"; name = \"A\"; department = \"D\"; target = 1; },\n"
		"  { id = \"AB\"; name = \"AB\"; department = \"D\"; target = 1; },\n"
		"  { id = \"Q\"; name = \"Q\"; department = \"D\"; target = 1; period = \"quarter\"; },\n"
		"  { id = \"B\"; name = \"B\"; department = \"D\"; target = 1; },\n"
		"  { id = \"C\"; name = \"C\"; department = \"D\"; target = 1; }\n"
		");\n";
	static const char *const ids[] = { "A", "AB", "Q", "B", "C", "ZZ" };
	static const int orders[][36] = {
		/* row k = id k / 6 at month k % 6: by code */
		{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
		  18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35 },
		/* by month, then code */
		{ 0, 6, 12, 18, 24, 30, 1, 7, 13, 19, 25, 31, 2, 8, 14, 20, 26, 32,
		  3, 9, 15, 21, 27, 33, 4, 10, 16, 22, 28, 34, 5, 11, 17, 23, 29, 35 },
		/* reversed */
		{ 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18,
		  17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 },
		/* shuffled, some rows twice */
		{ 17, 3, 29, 0, 11, 35, 22, 8, 14, 26, 5, 31, 1, 19, 33, 9, 24, 12,
		  6, 28, 2, 15, 34, 20, 10, 27, 4, 18, 32, 7, 23, 13, 30, 25, 16, 21 },
	};
	char csv[4096];

	(void)state;
	for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
		struct tg_config *cfg = load(conf);
		struct tg_error err;
		struct tg_engine *e = tg_engine_new(cfg, TG_JOURNAL_NONE, NULL, &err);
		size_t len = (size_t)snprintf(csv, sizeof(csv), "Codice;Periodo;Valore\n");
		size_t unknown = 0;

		assert_non_null(e);
		for (int r = 0; r < 36 + (o == 3 ? 6 : 0); r++) {
			int k = orders[o][r % 36], id = k / 6, m = k % 6;

			/* Q (by quarter) has one row per quarter: months 1 and 4 */
			if (id == 2 && m != 0 && m != 3)
				continue;
			unknown += id == 5;
			len += (size_t)snprintf(csv + len, sizeof(csv) - len, "%s;%02d/%02d/2026;%d,%d\n",
						ids[id], m + 1, m + 1, id * 100 + m, m);
			assert_true(len < sizeof(csv));
		}
		write_file("order.csv", csv);
		/* twice: the second run starts from the first one's guesses */
		for (int run = 0; run < 2; run++)
			assert_int_equal(tg_engine_run_source(e, 0, 1), 0);
		assert_int_equal(tg_engine_source_state(e, 0)->stats.unknown_rows, unknown);
		for (int i = 0; i < 5; i++) {
			const struct tg_series *s = tg_store_series(tg_engine_store(e), ids[i]);

			assert_non_null(s);
			assert_int_equal(s->n, i == 2 ? 2 : 6);
			for (size_t p = 0; p < s->n; p++) {
				int m = i == 2 ? (int)p * 3 : (int)p;

				if (s->value[p] != i * 100 + m + m / 10.0 ||
				    s->period[p] != tg_day_from_ymd(2026, m + 1, 1)) {
					print_error("order %zu: %s point %zu is (%d, %g)\n", o, ids[i], p,
						    (int)s->period[p], s->value[p]);
					fail();
				}
			}
		}
		tg_engine_free(e);
		tg_config_free(cfg);
	}
}

/* The refusal says why, with the row's place, through the log. */
static void test_refusals_are_located(void **state)
{
	static const char conf[] =
		"daemon = { state_dir = \"@D/s\"; };\n"
		"sources = ( { name = \"f\"; type = \"csv\"; path = \"@D/loc.csv\"; },\n"
		"            { name = \"g\"; type = \"csv\"; path = \"@D/loc.csv\"; } );\n"
		"indicators = ( { id = \"W-1\"; name = \"W\"; department = \"D\"; target = 1;"
		" period = \"week\"; source = \"g\"; } );\n";
	struct tg_config *cfg;
	struct tg_engine *e;
	struct tg_error err;
	char path[128], line[1024];
	FILE *f;
	int saved, fd;
	bool where = false, why = false;

	(void)state;
	write_file("loc.csv", "c;m;v\nW-1;03/2026;1\n");
	cfg = load(conf);
	e = tg_engine_new(cfg, TG_JOURNAL_NONE, NULL, &err);
	assert_non_null(e);
	/* catch the log on stderr */
	snprintf(path, sizeof(path), "%s/log.txt", dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	assert_int_equal(tg_engine_run_source(e, 0, 1), 0);   /* f: not W-1's source */
	assert_int_equal(tg_engine_run_source(e, 1, 1), 0);   /* g: a month for a week */
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "loc.csv:2:") && strstr(line, "only from source 'g'"))
			where = true;
		if (strstr(line, "loc.csv:2:") && strstr(line, "does not fit indicator W-1"))
			why = true;
	}
	fclose(f);
	assert_true(where);
	assert_true(why);
	tg_engine_free(e);
	tg_config_free(cfg);
}

static void test_persistent_needs_state_dir(void **state)
{
	static const char conf[] =
		"daemon = { state_dir = \"@D/does-not-exist\"; };\n"
		"sources = ( { name = \"f\"; type = \"csv\"; path = \"@D/x.csv\"; } );\n"
		"indicators = ( { id = \"A-1\"; name = \"A\"; department = \"D\"; target = 1; } );\n";
	struct tg_config *cfg = load(conf);
	struct tg_error err;

	(void)state;
	err.msg[0] = '\0';
	assert_null(tg_engine_new(cfg, TG_JOURNAL_WRITE, NULL, &err));
	assert_non_null(strstr(err.msg, "does-not-exist"));
	tg_engine_free(NULL);
	tg_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failing_source_errors_its_indicators_only),
		cmocka_unit_test(test_failure_after_data_keeps_values),
		cmocka_unit_test(test_data_from_unknown_source_not_blamed),
		cmocka_unit_test(test_date_fits),
		cmocka_unit_test(test_row_orders),
		cmocka_unit_test(test_refusals_are_located),
		cmocka_unit_test(test_persistent_needs_state_dir),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
