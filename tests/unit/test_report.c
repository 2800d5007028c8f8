/*
 * test_report.c — the management-review report: CSV and HTML escaping,
 * month arithmetic, the twelve-period window, whole reports from a hostile
 * configuration, the alerts sent (from sent.log counts) in every format, a
 * route's report, and the calendar of the scheduled report (first working
 * day, Italian holidays, when it is due).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
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
#include "sentlog.h"
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
	");\n"
	"channels = ( { name = \"hook\"; type = \"webhook\"; url = \"https://example.invalid/x\"; } );\n"
	"routes = (\n"
	"  { name = \"rag\"; departments = [\"@Ragioneria\"]; channels = [\"hook\"]; },\n"
	"  { name = \"q\"; indicators = [\"Q-1\"]; channels = [\"hook\"]; },\n"
	"  { name = \"none\"; departments = [\"Nessuno\"]; channels = [\"hook\"]; }\n"
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
		/* "\r\n" unquoted is the end of the row after an empty last cell */
		if (first == '=' || first == '+' || first == '@' || first == '\t' ||
		    (first == '\r' && (quoted || p[1] != '\n')) ||
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
	assert_int_equal(cells, 4 * 29);
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
	/* no counts passed: the words say so, no number is made up */
	assert_non_null(strstr(s, ";motivo;avvisi inviati;ultimo avviso\r\n"));
	assert_non_null(strstr(s, ";nessun registro;\r\n"));
	assert_null(strstr(s, "non registrati"));
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
	assert_non_null(strstr(s, ",reason,alerts sent,last alert\r\n"));
	assert_non_null(strstr(s, ",no record,\r\n"));
	assert_null(strstr(s, "not tracked"));
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
	assert_non_null(strstr(s, "<th>Avvisi inviati</th>"));
	assert_non_null(strstr(s, "<td class=\"n\"><small>nessun registro</small></td>"));
	assert_null(strstr(s, "egistrati"));
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
	assert_non_null(strstr(s, "\n                Avvisi inviati: nessun registro\n"));
	assert_non_null(strstr(s, "\nAvvisi inviati: nessun registro\n"));
	assert_null(strstr(s, "non registrati"));
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

/* ------------------------------------------------------------ alerts sent */

#define M1 "11111111111111111111111111111111"
#define M2 "22222222222222222222222222222222"
#define M3 "33333333333333333333333333333333"

/* October 2026 for the hostile configuration: RAG-01 two messages (the last
 * on the 14th) and a replay of the second, Q-1 only a resolution, an
 * indicator no longer configured, an alert of September, a source alert to
 * the administrators (not counted), a bad line. */
static const char sent_text[] =
	"1\t2026-10-02T09:00\tRAG-01\tfiring\twarning\thook\t-\t" M1 "\t-\trag\n"
	"2\t2026-10-14T09:00\tRAG-01\treminder\twarning\thook\t-\t" M2 "\t-\trag\n"
	"2\t2026-10-14T09:00\tRAG-01\treminder\twarning\thook\t-\t" M2 "\t-\trag\n"
	"3\t2026-10-20T09:00\tQ-1\tresolved\tok\thook\t-\t" M3 "\t-\trag\n"
	"4\t2026-10-21T09:00\tGONE\tfiring\tcritical\thook\t-\t" M3 "\t-\trag\n"
	"5\t2026-09-30T09:00\tE-1\tfiring\tcritical\thook\t-\t" M1 "\t-\trag\n"
	"6\t2026-10-15T09:00\tRAG-01\tfiring\terror\tposta\tit@x.it\t" M3 "\t-\tadmins\n"
	"garbage\n";

static void sent_counts(struct tg_sentlog_counts *c)
{
	struct tg_error err;
	tg_day from, until;
	FILE *f;

	tg_report_month_days(2026, 10, &from, &until);
	assert_int_equal(from, tg_day_from_ymd(2026, 10, 1));
	assert_int_equal(until, tg_day_from_ymd(2026, 10, 31));
	f = fmemopen((void *)sent_text, sizeof(sent_text) - 1, "r");
	assert_non_null(f);
	assert_int_equal(tg_sentlog_read_stream(f, "sent.log", from, until, c, &err), 0);
	fclose(f);
	assert_int_equal(c->bad, 1);
}

static char *report_opts(const struct tg_config *cfg, const struct tg_store *st,
			 enum tg_report_format fmt, const struct tg_sentlog_counts *sent,
			 const struct tg_route *route)
{
	struct tg_report_options o = {
		.cfg = cfg, .st = st, .year = 2026, .month = 10, .format = fmt, .sent = sent,
		.route = route,
	};
	struct tg_error err;
	struct mem mm;

	mem_open(&mm);
	assert_int_equal(tg_report_write_opts(mm.f, &o, &err), 0);
	return mem_close(&mm);
}

static void test_alerts_text(void **state)
{
	struct tg_config *cfg = hostile("it"), *en = hostile("en");
	struct tg_store *st = hostile_store();
	struct tg_sentlog_counts c;
	char *s;

	(void)state;
	sent_counts(&c);
	s = report_opts(cfg, st, TG_REPORT_TEXT, &c, NULL);
	assert_non_null(strstr(s, "\n                Avvisi inviati: 2 (ultimo 14/10/2026)\n"));
	assert_non_null(strstr(s, "\n                Avvisi inviati: 0\n"));
	assert_non_null(strstr(s, "\nAvvisi inviati: 2 per 1 indicatore (ultimo 14/10/2026); "
				  "rientri comunicati: 1; 1 riga illeggibile nel registro\n"));
	assert_null(strstr(s, "GONE"));
	assert_null(strstr(s, "nessun registro"));
	free(s);
	s = report_opts(en, st, TG_REPORT_TEXT, &c, NULL);
	assert_non_null(strstr(s, "Alerts sent: 2 (last 2026-10-14)\n"));
	assert_non_null(strstr(s, "\nAlerts sent: 2 for 1 indicator (last 2026-10-14); back on target: 1; "
				  "1 unreadable line in the record\n"));
	free(s);
	tg_sentlog_counts_free(&c);
	/* an empty record: zero, not "no record" */
	memset(&c, 0, sizeof(c));
	s = report_opts(cfg, st, TG_REPORT_TEXT, &c, NULL);
	assert_non_null(strstr(s, "\nAvvisi inviati: 0\n"));
	assert_null(strstr(s, "ultimo"));
	free(s);
	tg_store_free(st);
	tg_config_free(cfg);
	tg_config_free(en);
}

static void test_alerts_csv(void **state)
{
	struct tg_config *cfg = hostile("it"), *en = hostile("en");
	struct tg_store *st = hostile_store();
	struct tg_sentlog_counts c;
	size_t rows;
	char *s;

	(void)state;
	sent_counts(&c);
	s = report_opts(cfg, st, TG_REPORT_CSV, &c, NULL);
	assert_int_equal(check_csv_cells(s + 3, ';', &rows), 4 * 29);
	assert_int_equal(rows, 4);
	assert_non_null(strstr(s, ";avvisi inviati;ultimo avviso\r\n"));
	assert_non_null(strstr(s, ";2;14/10/2026\r\n"));
	assert_non_null(strstr(s, ";0;\r\n"));
	/* the escaping still holds with the new columns */
	assert_non_null(strstr(s, "\"'=HYPERLINK(\"\"http://evil\"\";\"\"x\"\")\""));
	assert_null(strstr(s, "GONE"));
	free(s);
	s = report_opts(en, st, TG_REPORT_CSV, &c, NULL);
	assert_int_equal(check_csv_cells(s + 3, ',', &rows), 4 * 29);
	assert_non_null(strstr(s, ",2,2026-10-14\r\n"));
	assert_non_null(strstr(s, ",0,\r\n"));
	free(s);
	tg_sentlog_counts_free(&c);
	tg_store_free(st);
	tg_config_free(cfg);
	tg_config_free(en);
}

static void test_alerts_html(void **state)
{
	struct tg_config *cfg = hostile("it");
	struct tg_store *st = hostile_store();
	struct tg_sentlog_counts c;
	char *s;

	(void)state;
	sent_counts(&c);
	s = report_opts(cfg, st, TG_REPORT_HTML, &c, NULL);
	assert_non_null(strstr(s, "<th>Avvisi inviati</th></tr></thead>"));
	assert_non_null(strstr(s, "<td class=\"n\">2<small>ultimo 14/10/2026</small></td></tr>"));
	assert_non_null(strstr(s, "<td class=\"n\">0</td></tr>"));
	assert_non_null(strstr(s, "colspan=\"19\""));
	assert_non_null(strstr(s, "<p>2 per 1 indicatore (ultimo 14/10/2026); rientri comunicati: 1; "
				  "1 riga illeggibile nel registro</p>"));
	/* names still escaped */
	assert_null(strstr(s, "<script"));
	assert_non_null(strstr(s, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	free(s);
	tg_sentlog_counts_free(&c);
	tg_store_free(st);
	tg_config_free(cfg);
}

static void test_route_filter(void **state)
{
	struct tg_config *cfg = hostile("it");
	struct tg_store *st = hostile_store();
	struct tg_sentlog_counts c;
	size_t rows;
	char *s;

	(void)state;
	assert_int_equal(cfg->n_routes, 3);
	sent_counts(&c);
	/* "rag": the department @Ragioneria, RAG-01 and E-1 */
	s = report_opts(cfg, st, TG_REPORT_TEXT, &c, &cfg->routes[0]);
	assert_non_null(strstr(s, "RAG-01"));
	assert_non_null(strstr(s, "E-1"));
	assert_null(strstr(s, "Q-1"));
	assert_null(strstr(s, "<script>"));
	assert_non_null(strstr(s, "\n2 indicatori — "));
	assert_non_null(strstr(s, "\nAvvisi inviati: 2 per 1 indicatore"));
	free(s);
	s = report_opts(cfg, st, TG_REPORT_CSV, &c, &cfg->routes[0]);
	check_csv_cells(s + 3, ';', &rows);
	assert_int_equal(rows, 3);
	free(s);
	/* "q": Q-1 alone; its resolution counts, its alerts are 0 */
	s = report_opts(cfg, st, TG_REPORT_HTML, &c, &cfg->routes[1]);
	assert_non_null(strstr(s, "Q-1"));
	assert_null(strstr(s, "RAG-01"));
	assert_non_null(strstr(s, "<p>1 indicatore — "));
	assert_non_null(strstr(s, "<p>0; rientri comunicati: 1; 1 riga illeggibile nel registro</p>"));
	free(s);
	/* a route covering nothing: a report of no indicator, still well formed */
	s = report_opts(cfg, st, TG_REPORT_CSV, &c, &cfg->routes[2]);
	check_csv_cells(s + 3, ';', &rows);
	assert_int_equal(rows, 1);
	free(s);
	s = report_opts(cfg, st, TG_REPORT_TEXT, NULL, &cfg->routes[2]);
	assert_non_null(strstr(s, "\n0 indicatori\n"));
	assert_non_null(strstr(s, "\nAvvisi inviati: nessun registro\n"));
	free(s);
	tg_sentlog_counts_free(&c);
	tg_store_free(st);
	tg_config_free(cfg);
}

/* ------------------------------------------------------------ scheduling */

static void test_first_working_day(void **state)
{
	static const struct {
		int y, m, d;
	} cases[] = {
		{ 2024, 4, 2 },    /* 1 Apr 2024 was Easter Monday */
		{ 2026, 1, 2 },    /* 1 Jan a Thursday, a holiday */
		{ 2026, 11, 2 },   /* 1 Nov a Sunday and a holiday */
		{ 2026, 8, 3 },    /* 1 Aug a Saturday */
		{ 2025, 1, 2 }, { 2022, 1, 3 }, { 2021, 1, 4 }, { 2027, 1, 4 },
		{ 2026, 5, 4 },    /* 1 May a Friday, then a weekend */
		{ 2025, 6, 3 },    /* 1 Jun a Sunday, 2 Jun Festa della Repubblica */
		{ 2026, 6, 1 }, { 2026, 3, 2 }, { 2027, 8, 2 }, { 2020, 8, 3 },
		{ 2025, 12, 1 }, { 2026, 12, 1 }, { 2026, 10, 1 }, { 2026, 2, 2 },
		{ 2013, 4, 2 },    /* Easter 31 March */
		{ 2018, 4, 3 },    /* Easter 1 April: Sunday, then Easter Monday */
		{ 2029, 4, 3 },
		{ 9999, 12, 1 }, { 1, 1, 2 },
	};
	/* the first working day of April 1990..2100, computed independently
	 * (Python dateutil's Easter): the one month Easter Monday can move */
	static const char april[] =
		"221113111132211132111122111331111321113311113211113111132111141111421111321111211113211113111132211132111122111";

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tg_day got = tg_report_first_working_day(cases[i].y, cases[i].m);
		tg_day want = tg_day_from_ymd(cases[i].y, cases[i].m, cases[i].d);

		if (got != want) {
			int y, m, d;

			tg_day_to_ymd(got, &y, &m, &d);
			print_error("case %zu %04d-%02d: got %04d-%02d-%02d, expected day %d\n", i,
				    cases[i].y, cases[i].m, y, m, d, cases[i].d);
			fail();
		}
		assert_true(tg_day_weekday(got) <= 5);
	}
	for (int y = 1990; y <= 2100; y++) {
		tg_day got = tg_report_first_working_day(y, 4);

		if (got != tg_day_from_ymd(y, 4, april[y - 1990] - '0')) {
			print_error("April %d: expected day %c\n", y, april[y - 1990]);
			fail();
		}
	}
	assert_int_equal(tg_report_first_working_day(2026, 13), INT32_MIN);
	assert_int_equal(tg_report_first_working_day(2026, 0), INT32_MIN);
	assert_int_equal(tg_report_first_working_day(0, 1), INT32_MIN);
	assert_int_equal(tg_report_first_working_day(10000, 1), INT32_MIN);
	assert_int_equal(tg_report_first_working_day(INT32_MIN, -5), INT32_MIN);
}

static void test_report_due(void **state)
{
	static const struct {
		int y, m, d;
		const char *last;
		bool due;
		int ry, rm;
	} cases[] = {
		{ 2026, 11, 1, NULL, false, 2026, 10 },        /* Sunday, All Saints */
		{ 2026, 11, 2, NULL, true, 2026, 10 },
		{ 2026, 11, 2, "2026-10", false, 2026, 10 },   /* already sent */
		{ 2026, 11, 2, "2026-09", true, 2026, 10 },
		{ 2026, 11, 20, "2026-09", true, 2026, 10 },   /* the daemon was down on the 2nd */
		{ 2026, 11, 30, "2026-10", false, 2026, 10 },
		{ 2026, 11, 20, "2026-11", false, 2026, 10 },  /* the clock went back */
		{ 2026, 11, 20, "2030-01", false, 2026, 10 },
		{ 2027, 1, 1, "2026-11", false, 2026, 12 },    /* holiday, then a weekend */
		{ 2027, 1, 3, "2026-11", false, 2026, 12 },
		{ 2027, 1, 4, "2026-11", true, 2026, 12 },
		{ 2027, 1, 4, "2026-12", false, 2026, 12 },
		{ 2024, 4, 1, "2024-02", false, 2024, 3 },     /* Easter Monday */
		{ 2024, 4, 2, "2024-02", true, 2024, 3 },
		{ 2026, 11, 2, "garbage", true, 2026, 10 },    /* unreadable: never sent */
		{ 2026, 11, 2, "2026-13", true, 2026, 10 },
		{ 2026, 11, 2, "", true, 2026, 10 },
		{ 2026, 11, 2, "2026-10\n", true, 2026, 10 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int y = 0, m = 0;
		bool due = tg_report_due(tg_day_from_ymd(cases[i].y, cases[i].m, cases[i].d), cases[i].last,
					 &y, &m);

		if (due != cases[i].due || y != cases[i].ry || m != cases[i].rm) {
			print_error("case %zu: due %d %04d-%02d\n", i, due, y, m);
			fail();
		}
	}
	assert_true(tg_report_due(tg_day_from_ymd(2026, 11, 2), NULL, NULL, NULL));
}

static void test_bad_args(void **state)
{
	struct tg_config *cfg = hostile("it");
	struct tg_error err;
	enum tg_report_format f;

	(void)state;
	assert_int_equal(tg_report_write(stdout, cfg, NULL, 2026, 13, TG_REPORT_TEXT, &err), -EINVAL);
	assert_int_equal(tg_report_write_opts(stdout, NULL, &err), -EINVAL);
	assert_int_equal(tg_report_write_opts(NULL, &(struct tg_report_options){ .cfg = cfg, .year = 2026,
										  .month = 10 }, &err), -EINVAL);
	assert_int_equal(tg_report_write_opts(stdout, &(struct tg_report_options){ .year = 2026, .month = 10 },
					      &err), -EINVAL);
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
		cmocka_unit_test(test_alerts_text),
		cmocka_unit_test(test_alerts_csv),
		cmocka_unit_test(test_alerts_html),
		cmocka_unit_test(test_route_filter),
		cmocka_unit_test(test_first_working_day),
		cmocka_unit_test(test_report_due),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
