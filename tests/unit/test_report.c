/*
 * test_report.c — the management-review report: CSV and HTML escaping,
 * month arithmetic, the twelve-period window, and whole reports from a
 * hostile configuration.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "period.h"
#include "report.h"
#include "store.h"

/* What f wrote, as a malloc'ed string. */
struct mem {
	char *buf;
	size_t len;
	FILE *f;
};

static void mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
}

static char *mem_close(struct mem *m)
{
	assert_int_equal(fclose(m->f), 0);
	return m->buf;
}

static void test_csv_field(void **state)
{
	static const struct {
		const char *in;
		char sep;
		bool numeric;
		const char *out;
	} cases[] = {
		{ "plain", ';', false, "plain" },
		{ "", ';', false, "" },
		{ "a;b", ';', false, "\"a;b\"" },
		{ "a;b", ',', false, "a;b" },
		{ "a,b", ',', false, "\"a,b\"" },
		{ "say \"hi\"", ';', false, "\"say \"\"hi\"\"\"" },
		{ "two\nlines", ';', false, "\"two\nlines\"" },
		{ "cr\rx", ';', false, "\"cr\rx\"" },
		{ "=1+1", ';', false, "'=1+1" },
		{ "+39 06", ';', false, "'+39 06" },
		{ "-2+3", ';', false, "'-2+3" },
		{ "@SUM(A1)", ';', false, "'@SUM(A1)" },
		{ "\tx", ';', false, "'\tx" },
		{ "\rx", ';', false, "\"'\rx\"" },
		{ "=HYPERLINK(\"http://x\";\"y\")", ';', false, "\"'=HYPERLINK(\"\"http://x\"\";\"\"y\"\")\"" },
		{ "a=1", ';', false, "a=1" },
		{ " =1", ';', false, " =1" },
		{ "-2,5", ';', true, "-2,5" },       /* a number we wrote stays a number */
		{ "-2,5", ';', false, "'-2,5" },
		{ "-1e-5", ',', true, "-1e-5" },
		{ "-2+3", ';', true, "'-2+3" },      /* "numeric" but not a number: defused */
		{ "-", ';', true, "'-" },
		{ "bad\xff", ';', false, "bad\xEF\xBF\xBD" },
		{ "città", ';', false, "città" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mem m;
		char *s;

		mem_open(&m);
		tg_report_csv_field(m.f, cases[i].in, cases[i].sep, cases[i].numeric);
		s = mem_close(&m);
		if (strcmp(s, cases[i].out) != 0) {
			print_error("case %zu: got [%s], expected [%s]\n", i, s, cases[i].out);
			free(s);
			fail();
		}
		free(s);
	}
}

static void test_html_text(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;" },
		{ "a & b", "a &amp; b" },
		{ "\"quoted\" 'x'", "&quot;quoted&quot; &#39;x&#39;" },
		{ "tab\there\nnl", "tab here nl" },
		{ "c1\xC2\x85x", "c1 x" },
		{ "bad\xC3(", "bad\xEF\xBF\xBD(" },
		{ "≥ 30 — città", "≥ 30 — città" },
		{ "&amp;", "&amp;amp;" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mem m;
		char *s;

		mem_open(&m);
		tg_report_html_text(m.f, cases[i].in);
		s = mem_close(&m);
		if (strcmp(s, cases[i].out) != 0) {
			print_error("case %zu: got [%s], expected [%s]\n", i, s, cases[i].out);
			free(s);
			fail();
		}
		free(s);
	}
}

static void test_month_parse(void **state)
{
	static const struct {
		const char *in;
		int ok, y, m;
	} cases[] = {
		{ "2026-10", 1, 2026, 10 }, { "2026-01", 1, 2026, 1 }, { "9999-12", 1, 9999, 12 },
		{ "1000-01", 1, 1000, 1 },
		{ "2026-13", 0, 0, 0 }, { "2026-00", 0, 0, 0 }, { "2026-1", 0, 0, 0 },
		{ "26-10", 0, 0, 0 }, { "2026/10", 0, 0, 0 }, { "2026-10-01", 0, 0, 0 },
		{ "", 0, 0, 0 }, { "ottobre", 0, 0, 0 }, { "0999-05", 0, 0, 0 },
		{ " 2026-10", 0, 0, 0 }, { "2026-1a", 0, 0, 0 }, { "2026-10\n", 0, 0, 0 },
	};
	struct tg_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int y = -1, m = -1, rc = tg_report_month_parse(cases[i].in, &y, &m, &err);

		if (cases[i].ok ? (rc != 0 || y != cases[i].y || m != cases[i].m) : rc >= 0) {
			print_error("case %zu '%s': rc %d y %d m %d\n", i, cases[i].in, rc, y, m);
			fail();
		}
		if (!cases[i].ok && strstr(err.msg, "not a month") == NULL) {
			print_error("case %zu: message '%s'\n", i, err.msg);
			fail();
		}
	}
	assert_int_equal(tg_report_month_parse(NULL, &(int){ 0 }, &(int){ 0 }, &err), -EINVAL);
	assert_int_equal(tg_report_month_parse("2026-1\x01", &(int){ 0 }, &(int){ 0 }, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "\\x01"));   /* control bytes quoted, not raw */
}

static void test_month_arithmetic(void **state)
{
	int y, m;

	(void)state;
	tg_report_default_month(tg_day_from_ymd(2026, 11, 23), &y, &m);
	assert_int_equal(y, 2026);
	assert_int_equal(m, 10);
	tg_report_default_month(tg_day_from_ymd(2026, 11, 1), &y, &m);
	assert_int_equal(m, 10);
	tg_report_default_month(tg_day_from_ymd(2027, 1, 1), &y, &m);
	assert_int_equal(y, 2026);
	assert_int_equal(m, 12);
	tg_report_default_month(tg_day_from_ymd(2026, 3, 31), &y, &m);
	assert_int_equal(m, 2);

	assert_true(tg_report_month_end(2026, 10) == (tg_time)tg_day_from_ymd(2026, 11, 1) * TG_DAY_SECONDS);
	assert_true(tg_report_month_end(2026, 12) == (tg_time)tg_day_from_ymd(2027, 1, 1) * TG_DAY_SECONDS);
	assert_true(tg_report_month_end(2024, 2) == (tg_time)tg_day_from_ymd(2024, 3, 1) * TG_DAY_SECONDS);
	assert_true(tg_report_month_end(2025, 2) == (tg_time)tg_day_from_ymd(2025, 3, 1) * TG_DAY_SECONDS);
}

static void test_window_months_across_year(void **state)
{
	tg_day w[TG_REPORT_PERIODS];

	(void)state;
	tg_report_window(TG_PERIOD_MONTH, 2026, 3, w);
	assert_int_equal(w[0], tg_day_from_ymd(2025, 4, 1));
	assert_int_equal(w[8], tg_day_from_ymd(2025, 12, 1));
	assert_int_equal(w[9], tg_day_from_ymd(2026, 1, 1));
	assert_int_equal(w[11], tg_day_from_ymd(2026, 3, 1));
	for (int i = 1; i < TG_REPORT_PERIODS; i++)
		assert_int_equal(tg_period_next(TG_PERIOD_MONTH, w[i - 1]), w[i]);
	tg_report_window(TG_PERIOD_MONTH, 2026, 12, w);
	assert_int_equal(w[0], tg_day_from_ymd(2026, 1, 1));
	assert_int_equal(w[11], tg_day_from_ymd(2026, 12, 1));
}

static void test_window_quarter_and_others(void **state)
{
	tg_day w[TG_REPORT_PERIODS];

	(void)state;
	tg_report_window(TG_PERIOD_QUARTER, 2026, 10, w);
	assert_int_equal(w[11], tg_day_from_ymd(2026, 10, 1));   /* Q4, started in October */
	assert_int_equal(w[10], tg_day_from_ymd(2026, 7, 1));
	assert_int_equal(w[0], tg_day_from_ymd(2024, 1, 1));
	tg_report_window(TG_PERIOD_QUARTER, 2026, 2, w);
	assert_int_equal(w[11], tg_day_from_ymd(2026, 1, 1));
	assert_int_equal(w[0], tg_day_from_ymd(2023, 4, 1));
	tg_report_window(TG_PERIOD_YEAR, 2026, 5, w);
	assert_int_equal(w[0], tg_day_from_ymd(2015, 1, 1));
	assert_int_equal(w[11], tg_day_from_ymd(2026, 1, 1));
	tg_report_window(TG_PERIOD_DAY, 2026, 1, w);
	assert_int_equal(w[11], tg_day_from_ymd(2026, 1, 31));
	assert_int_equal(w[0], tg_day_from_ymd(2026, 1, 20));
	tg_report_window(TG_PERIOD_WEEK, 2026, 1, w);   /* 31/01/2026 is a Saturday: week from Mon 26 */
	assert_int_equal(w[11], tg_day_from_ymd(2026, 1, 26));
	assert_int_equal(w[0], tg_day_from_ymd(2025, 11, 10));
}

static const char hostile_conf[] =
	"daemon = { state_dir = \"/nonexistent\"; language = \"%s\";\n"
	"  organization = \"<b>Comune</b> & \\\"co\\\"\"; };\n"
	"indicators = (\n"
	"  { id = \"RAG-01\"; name = \"=HYPERLINK(\\\"http://evil\\\";\\\"x\\\")\"; department = \"@Ragioneria\";\n"
	"    process = \"-2+3\"; unit = \"+giorni\"; better = \"lower\"; target = 30.0; critical = 45.0;\n"
	"    year_target = { value = 30.0; aggregate = \"mean\"; }; },\n"
	"  { id = \"Q-1\"; name = \"<script>alert(1)</script>\"; department = \"Ufficio; \\\"qualità\\\"\";\n"
	"    period = \"quarter\"; target = -1.5; unit = \"%%\"; },\n"
	"  { id = \"E-1\"; name = \"Empty\"; department = \"@Ragioneria\"; target = 1.0; }\n"
	");\n";

static struct tg_config *hostile(const char *lang)
{
	char text[2048];
	struct tg_error err;
	struct tg_config *cfg;

	snprintf(text, sizeof(text), hostile_conf, lang);
	cfg = tg_config_load_string(text, "/tmp/report-test.conf", NULL, NULL, &err);
	if (cfg == NULL)
		print_error("config: %s\n", err.msg);
	assert_non_null(cfg);
	return cfg;
}

static struct tg_store *hostile_store(void)
{
	struct tg_store *st = tg_store_new();
	struct tg_error err;

	assert_non_null(st);
	/* RAG-01: Nov 2025 .. Dec 2026 (the later ones must not count for 2026-10) */
	for (int i = 0; i < 14; i++) {
		int y = i < 2 ? 2025 : 2026, m = i < 2 ? 11 + i : i - 1;

		assert_int_equal(tg_store_put(st, "RAG-01", 6, tg_day_from_ymd(y, m, 1),
					      m == 12 && y == 2026 ? 99.0 : 20.0 + i, NULL, 0, &err), 1);
	}
	assert_int_equal(tg_store_put(st, "Q-1", 3, tg_day_from_ymd(2025, 10, 1), -2.5, NULL, 0, &err), 1);
	assert_int_equal(tg_store_put(st, "Q-1", 3, tg_day_from_ymd(2026, 7, 1), 1234.5, NULL, 0, &err), 1);
	return st;
}

/* The CSV cells of text (RFC 4180 with sep), each checked for injection. */
static size_t check_csv_cells(const char *text, char sep, size_t *rows)
{
	size_t cells = 0;
	const char *p = text;

	*rows = 0;
	while (*p != '\0') {
		char first;
		bool quoted = *p == '"';

		if (quoted)
			p++;
		first = *p;
		if (first == '=' || first == '+' || first == '@' || first == '\t' || first == '\r' ||
		    (first == '-' && !(p[1] >= '0' && p[1] <= '9'))) {
			print_error("cell %zu starts with '%c': %.40s\n", cells, first, p);
			fail();
		}
		if (quoted) {
			for (;;) {
				assert_true(*p != '\0');
				if (*p == '"' && p[1] == '"')
					p += 2;
				else if (*p == '"')
					break;
				else
					p++;
			}
			p++;
		} else {
			while (*p != '\0' && *p != sep && *p != '\r' && *p != '\n' && *p != '"')
				p++;
			assert_true(*p != '"');
		}
		cells++;
		if (*p == sep) {
			p++;
		} else {
			assert_true(p[0] == '\r' && p[1] == '\n');
			p += 2;
			(*rows)++;
		}
	}
	return cells;
}

static char *report(const struct tg_config *cfg, const struct tg_store *st, int y, int m,
		    enum tg_report_format fmt)
{
	struct tg_error err;
	struct mem mm;

	mem_open(&mm);
	assert_int_equal(tg_report_write(mm.f, cfg, st, y, m, fmt, &err), 0);
	return mem_close(&mm);
}

static void test_csv_report_it(void **state)
{
	struct tg_config *cfg = hostile("it");
	struct tg_store *st = hostile_store();
	char *s = report(cfg, st, 2026, 10, TG_REPORT_CSV);
	size_t rows, cells;

	(void)state;
	assert_memory_equal(s, "\xEF\xBB\xBF", 3);
	cells = check_csv_cells(s + 3, ';', &rows);
	assert_int_equal(rows, 4);
	assert_int_equal(cells, 4 * 28);
	assert_non_null(strstr(s, "\"'=HYPERLINK(\"\"http://evil\"\";\"\"x\"\")\""));
	assert_non_null(strstr(s, "'@Ragioneria;RAG-01;"));
	assert_non_null(strstr(s, ";'-2+3;'+giorni;mese;≤ 30;"));
	assert_non_null(strstr(s, "\"Ufficio; \"\"qualità\"\"\""));
	/* RAG-01 window Nov 2025..Oct 2026 = 20..31, decimal comma; Dec 2026 (99) ignored */
	assert_non_null(strstr(s, ";novembre 2025;ottobre 2026;20;21;22;23;24;25;26;27;28;29;30;31;"));
	assert_null(strstr(s, "99"));
	/* year to date 2026: mean of 22..31 = 26,5 */
	assert_non_null(strstr(s, ";31;26,5;media;"));
	/* quarterly: Q1 2024..Q4 2026; a negative number stays a number; no grouping */
	assert_non_null(strstr(s, ";1° trim. 2024;4° trim. 2026;;;;;;;;-2,5;;;1234,5;;1234,5;media;"));
	assert_non_null(strstr(s, "non registrati in questa versione"));
	free(s);
	tg_store_free(st);
	tg_config_free(cfg);
}

static void test_csv_report_en(void **state)
{
	struct tg_config *cfg = hostile("en");
	struct tg_store *st = hostile_store();
	char *s = report(cfg, st, 2026, 10, TG_REPORT_CSV);
	size_t rows;

	(void)state;
	assert_memory_equal(s, "\xEF\xBB\xBF", 3);
	check_csv_cells(s + 3, ',', &rows);
	assert_int_equal(rows, 4);
	assert_non_null(strstr(s, "department,id,indicator,"));
	assert_non_null(strstr(s, ",31,26.5,mean,"));
	assert_non_null(strstr(s, ",-2.5,,,1234.5,,1234.5,mean,"));
	assert_non_null(strstr(s, "not tracked in this version"));
	free(s);
	tg_store_free(st);
	tg_config_free(cfg);
}

static void test_html_report(void **state)
{
	struct tg_config *cfg = hostile("it");
	struct tg_store *st = hostile_store();
	char *s = report(cfg, st, 2026, 10, TG_REPORT_HTML);

	(void)state;
	assert_true(strncmp(s, "<!DOCTYPE html>", 15) == 0);
	assert_null(strstr(s, "<script"));
	assert_null(strstr(s, "<b>"));
	assert_null(strstr(s, "<link"));
	assert_null(strstr(s, "<img"));
	assert_null(strstr(s, "url("));
	assert_non_null(strstr(s, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(s, "&lt;b&gt;Comune&lt;/b&gt; &amp; &quot;co&quot;"));
	assert_non_null(strstr(s, "=HYPERLINK(&quot;http://evil&quot;;&quot;x&quot;)"));
	assert_non_null(strstr(s, "@page{size:A4"));
	assert_non_null(strstr(s, "page-break-inside:avoid"));
	assert_non_null(strstr(s, "Non registrati in questa versione"));
	assert_non_null(strstr(s, "class=\"st s-warning\""));   /* RAG-01: 31 > 30, < 45 */
	assert_non_null(strstr(s, "class=\"n s-warning\">31<small>10/2026</small>"));
	assert_non_null(strstr(s, "class=\"n s-ok\">20<small>11/2025</small>"));
	assert_non_null(strstr(s, "</html>\n"));
	free(s);
	tg_store_free(st);
	tg_config_free(cfg);
}

static void test_text_report(void **state)
{
	struct tg_config *cfg = hostile("it");
	struct tg_store *st = hostile_store();
	char *s = report(cfg, st, 2026, 10, TG_REPORT_TEXT);

	(void)state;
	assert_non_null(strstr(s, "riesame della direzione, ottobre 2026"));
	assert_non_null(strstr(s, "RAG-01"));
	assert_non_null(strstr(s, "10/2026 31"));
	assert_non_null(strstr(s, "11/2025 20"));
	assert_non_null(strstr(s, "3° trim. 2026 1.234,5"));
	assert_non_null(strstr(s, "Avvisi inviati: non registrati"));
	assert_null(strstr(s, "\n\n\n"));
	free(s);
	/* a month with no data at all: every indicator without data, no crash */
	s = report(cfg, st, 2020, 1, TG_REPORT_TEXT);
	assert_non_null(strstr(s, "senza dati"));
	free(s);
	s = report(cfg, NULL, 2026, 10, TG_REPORT_HTML);
	assert_non_null(strstr(s, "</html>"));
	free(s);
	tg_store_free(st);
	tg_config_free(cfg);
}

static void test_bad_args(void **state)
{
	struct tg_config *cfg = hostile("it");
	struct tg_error err;
	enum tg_report_format f;

	(void)state;
	assert_int_equal(tg_report_write(stdout, cfg, NULL, 2026, 13, TG_REPORT_TEXT, &err), -EINVAL);
	assert_int_equal(tg_report_format_parse("csv", &f), 0);
	assert_int_equal(f, TG_REPORT_CSV);
	assert_int_equal(tg_report_format_parse("html", &f), 0);
	assert_int_equal(f, TG_REPORT_HTML);
	assert_int_equal(tg_report_format_parse("text", &f), 0);
	assert_int_equal(f, TG_REPORT_TEXT);
	assert_int_equal(tg_report_format_parse("CSV", &f), -EINVAL);
	assert_int_equal(tg_report_format_parse("", &f), -EINVAL);
	assert_int_equal(tg_report_format_parse(NULL, &f), -EINVAL);
	tg_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_field),
		cmocka_unit_test(test_html_text),
		cmocka_unit_test(test_month_parse),
		cmocka_unit_test(test_month_arithmetic),
		cmocka_unit_test(test_window_months_across_year),
		cmocka_unit_test(test_window_quarter_and_others),
		cmocka_unit_test(test_csv_report_it),
		cmocka_unit_test(test_csv_report_en),
		cmocka_unit_test(test_html_report),
		cmocka_unit_test(test_text_report),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
