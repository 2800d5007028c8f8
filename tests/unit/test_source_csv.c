/*
 * test_source_csv.c — a CSV source end to end on real files: long and wide
 * layouts, globs, header matching, bad rows reported with file:line and
 * skipped, unknown indicators counted once, files that cannot be read.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "source_csv.h"

static const char *const missing[] = { "", "n.d.", "-" };

struct got {
	char ids[64][16];
	tg_day days[64];
	double values[64];
	size_t n;
	char warnings[32][512];
	size_t nwarn;
	int period_kind_ok;
};

/* The rule of the test sinks: codes "X-..." are unknown, "BAD-..." are
 * refused; 0 for the rest. */
static int sink_rule(const char *id, size_t len, struct tg_error *err)
{
	if (len >= 2 && memcmp(id, "X-", 2) == 0)
		return TG_SINK_UNKNOWN;
	if (len >= 4 && memcmp(id, "BAD-", 4) == 0)
		return tg_error_set(err, "rejected by the sink");
	return 0;
}

static int sink_measure(void *ctx, const struct tg_source *src, const char *id, size_t len,
			const struct tg_date *date, double value, struct tg_error *err)
{
	struct got *g = ctx;
	int rc = sink_rule(id, len, err);

	(void)src;
	if (rc != 0)
		return rc;
	assert_true(g->n < 64 && len < 16);
	memcpy(g->ids[g->n], id, len);
	g->ids[g->n][len] = '\0';
	g->days[g->n] = date->day;
	g->values[g->n] = value;
	g->n++;
	return TG_SINK_ACCEPTED;
}

static void sink_warn(void *ctx, const struct tg_source *src, const char *msg)
{
	struct got *g = ctx;

	(void)src;
	if (g->nwarn < 32)
		snprintf(g->warnings[g->nwarn++], sizeof(g->warnings[0]), "%s", msg);
}

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tg-srccsv-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 20; i++) {
		char p[128];

		snprintf(p, sizeof(p), "%s/f%d.csv", dir, i);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}

static const char *write_file(int i, const char *content, size_t len)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/f%d.csv", dir, i);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	fclose(f);
	return path;
}

static void init_source(struct tg_source *s, const char *path, enum tg_layout layout)
{
	memset(s, 0, sizeof(*s));
	s->name = (char *)"test";
	s->path = (char *)path;
	s->layout = layout;
	s->dialect.number.decimal = ',';
	s->dialect.number.thousands = '.';
	s->dialect.number.missing = missing;
	s->dialect.number.n_missing = 3;
}

static int run(struct tg_source *s, struct got *g, struct tg_source_stats *st, struct tg_error *err)
{
	struct tg_source_sink sink = { sink_measure, sink_warn, g };

	memset(g, 0, sizeof(*g));
	return tg_source_csv_run(s, &sink, st, err);
}

static bool warned(const struct got *g, const char *needle)
{
	for (size_t i = 0; i < g->nwarn; i++)
		if (strstr(g->warnings[i], needle) != NULL)
			return true;
	return false;
}

static void test_long_by_position(void **state)
{
	static const char data[] = "Codice;Mese;Valore\r\nA-1;01/03/2026;1.234,5\r\n\r\nA-2;2026-04;n.d.\r\nA-3;Q2 2026;7\r\n";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(0, data, sizeof(data) - 1), TG_LAYOUT_LONG);
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.ids[0], "A-1");
	assert_true(g.values[0] == 1234.5);
	assert_int_equal(g.days[0], tg_day_from_ymd(2026, 3, 1));
	assert_string_equal(g.ids[1], "A-3");
	assert_int_equal(g.days[1], tg_day_from_ymd(2026, 4, 1));
	assert_int_equal(st.rows, 3);
	assert_int_equal(st.missing, 1);
	assert_int_equal(st.bad_rows, 0);
	assert_int_equal(st.files, 1);
}

static void test_long_by_name_tolerant(void **state)
{
	static const char data[] = "Note;  VALORE ;Unità;codice;mese\nx;5;%;B-1;03/2026\n";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(1, data, sizeof(data) - 1), TG_LAYOUT_LONG);
	s.col_indicator = (char *)"Codice";
	s.col_period = (char *)"Mese";
	s.col_value = (char *)"Valore";
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.ids[0], "B-1");
	assert_true(g.values[0] == 5);
}

static void test_missing_column_fails(void **state)
{
	static const char data[] = "Code;Month;Value\nA-1;03/2026;1\n";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(2, data, sizeof(data) - 1), TG_LAYOUT_LONG);
	s.col_indicator = (char *)"Codice";
	assert_true(run(&s, &g, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "no column 'Codice'"));
	assert_non_null(strstr(err.msg, "f2.csv:1"));
	assert_int_equal(g.n, 0);
}

static void test_bad_rows_located_and_skipped(void **state)
{
	static const char data[] =
		"Codice;Mese;Valore\n"
		"A-1;01/2026;1\n"
		"A-1;31/02/2026;2\n"     /* line 3: no such date */
		"A-1;03/2026;1.23\n"     /* line 4: bad grouping */
		"A-1\n"                  /* line 5: too few fields */
		"BAD-1;04/2026;1\n"      /* line 6: the sink says no */
		";05/2026;1\n"           /* line 7: no code */
		"\"A-1;06/2026;1\n";     /* line 8: unterminated quote */
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(3, data, sizeof(data) - 1), TG_LAYOUT_LONG);
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(st.bad_rows, 6);
	assert_true(warned(&g, "f3.csv:3:"));
	assert_true(warned(&g, "f3.csv:4:"));
	assert_true(warned(&g, "f3.csv:5:"));
	assert_true(warned(&g, "f3.csv:6: rejected by the sink"));
	assert_true(warned(&g, "f3.csv:7: empty indicator code"));
	assert_true(warned(&g, "f3.csv:8:"));
}

static void test_bad_rows_capped(void **state)
{
	char data[8192];
	size_t len = (size_t)snprintf(data, sizeof(data), "Codice;Mese;Valore\n");
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(data + len, sizeof(data) - len, "A-1;01/2026;x%d\n", i);
	init_source(&s, write_file(4, data, len), TG_LAYOUT_LONG);
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(st.bad_rows, 100);
	assert_int_equal(g.nwarn, 11);     /* ten rows, then one line with the count */
	assert_true(warned(&g, "90 more bad rows not shown"));
}

static void test_unknown_reported_once(void **state)
{
	static const char data[] = "c;m;v\nX-1;01/2026;1\nX-1;02/2026;1\nX-2;01/2026;1\nA-1;01/2026;1\n";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(5, data, sizeof(data) - 1), TG_LAYOUT_LONG);
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(st.unknown_rows, 3);
	assert_int_equal(st.unknown_ids, 2);
	assert_int_equal(g.nwarn, 1);
	assert_true(warned(&g, "3 rows for 2 indicators not in the configuration (X-1, X-2)"));
}

static void test_wide_layout(void **state)
{
	static const char data[] =
		"Codice;Descrizione;Gen 2026;Feb 2026;marzo 2026\r\n"
		"W-1;Prima;1,5;;3\r\n"
		"W-2;Seconda;4;x;\r\n"
		"W-3;Corta;7\r\n";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(6, data, sizeof(data) - 1), TG_LAYOUT_WIDE);
	s.col_indicator = (char *)"codice";
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.ids[0], "W-1");
	assert_true(g.values[0] == 1.5);
	assert_int_equal(g.days[0], tg_day_from_ymd(2026, 1, 1));
	assert_int_equal(g.days[1], tg_day_from_ymd(2026, 3, 1));
	assert_string_equal(g.ids[2], "W-2");
	assert_string_equal(g.ids[3], "W-3");
	assert_int_equal(st.bad_rows, 1);
	assert_true(warned(&g, "f6.csv:3: column 'Feb 2026'"));
}

static void test_wide_without_periods_fails(void **state)
{
	static const char data[] = "Codice;Descrizione\nW-1;x\n";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(7, data, sizeof(data) - 1), TG_LAYOUT_WIDE);
	assert_true(run(&s, &g, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "no column header is a period"));
}

static void test_empty_and_header_only(void **state)
{
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(8, "", 0), TG_LAYOUT_LONG);
	assert_true(run(&s, &g, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "empty file"));
	init_source(&s, write_file(9, "Codice;Mese;Valore\r\n", 20), TG_LAYOUT_LONG);
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(st.rows, 0);
}

static void test_glob_and_missing(void **state)
{
	char pattern[128];
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	write_file(10, "c;m;v\nA-1;01/2026;1\n", 20);
	write_file(11, "c;m;v\nA-2;01/2026;2\n", 20);
	snprintf(pattern, sizeof(pattern), "%s/f1?.csv", dir);
	init_source(&s, pattern, TG_LAYOUT_LONG);
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(st.files, 2);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.ids[0], "A-1");   /* files in name order */

	snprintf(pattern, sizeof(pattern), "%s/nothing-*.csv", dir);
	init_source(&s, pattern, TG_LAYOUT_LONG);
	assert_true(run(&s, &g, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "no file matches"));

	snprintf(pattern, sizeof(pattern), "%s/absent.csv", dir);
	init_source(&s, pattern, TG_LAYOUT_LONG);
	assert_true(run(&s, &g, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "absent.csv: No such file"));

	init_source(&s, dir, TG_LAYOUT_LONG);   /* a directory is not a CSV file */
	assert_true(run(&s, &g, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "not a regular file"));
}

static void test_one_bad_file_does_not_hide_the_others(void **state)
{
	char pattern[128];
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	write_file(12, "Code;Other\n1;2\n", 15);
	write_file(13, "c;m;v\nA-3;01/2026;3\n", 20);
	snprintf(pattern, sizeof(pattern), "%s/f1[23].csv", dir);
	init_source(&s, pattern, TG_LAYOUT_LONG);
	s.col_value = (char *)"Valore";
	assert_true(run(&s, &g, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "f12.csv"));
	/* f13 has no 'Valore' column either: both fail, the first is the error */
	assert_non_null(strstr(err.msg, "2 files failed"));
}

static void test_date_format_and_nul(void **state)
{
	static const char data[] = "c;m;v\nA-1;2026/03;1\nA-2;03.2026;2\nA-\0;01/2026;3\nA-4;04.2026;4\n";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(14, data, sizeof(data) - 1), TG_LAYOUT_LONG);
	s.dialect.date_format = (char *)"%m.%Y";
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(g.n, 2);                 /* 2026/03 does not match the format */
	assert_string_equal(g.ids[0], "A-2");
	assert_string_equal(g.ids[1], "A-4");
	assert_int_equal(st.bad_rows, 2);         /* the format miss and the NUL byte */
}

/* The code column after the period columns, and a row shorter than it:
 * a bad row, never a read past the fields of the record. */
static void test_wide_row_without_code(void **state)
{
	static const char data[] =
		"Gen 2026;Feb 2026;Descrizione;Codice\n"
		"1;2;x;W-1\n"
		"3\n"
		"4;5\n"
		"6;7;y;W-2\n";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(15, data, sizeof(data) - 1), TG_LAYOUT_WIDE);
	s.col_indicator = (char *)"Codice";
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.ids[0], "W-1");
	assert_string_equal(g.ids[2], "W-2");
	assert_int_equal(st.bad_rows, 2);
	assert_true(warned(&g, "f15.csv:3: 1 field, expected at least 4"));
	assert_true(warned(&g, "f15.csv:4: 2 fields, expected at least 4"));
}

/* A file name from a glob, a wide header and an unknown code are data from
 * outside: in messages their control bytes are escaped. */
static void test_hostile_names_escaped(void **state)
{
	static const char data[] = "Codice;Gen 2026\nW-1;x\nX-\x1b[2J;1\n";
	char pattern[128], path[128];
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/evil\x1b]0;pwned\x07\n.csv", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(data, f);
	fclose(f);
	snprintf(pattern, sizeof(pattern), "%s/evil*", dir);
	init_source(&s, pattern, TG_LAYOUT_WIDE);
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(st.bad_rows, 1);
	assert_int_equal(st.unknown_ids, 1);
	assert_true(g.nwarn >= 2);
	for (size_t i = 0; i < g.nwarn; i++)
		for (const char *p = g.warnings[i]; *p; p++)
			if ((unsigned char)*p < 0x20) {
				print_error("warning %zu has a control byte: %s\n", i, g.warnings[i]);
				fail();
			}
	assert_true(warned(&g, "evil\\x1B]0;pwned\\x07\\x0A.csv:2: column 'Gen 2026'"));
	assert_true(warned(&g, "X-\\x1B[2J"));

	/* the same file failing: the error is escaped too */
	init_source(&s, pattern, TG_LAYOUT_LONG);
	s.col_indicator = (char *)"Nope";
	s.col_period = (char *)"Gen 2026";
	s.col_value = (char *)"Codice";
	assert_true(run(&s, &g, &st, &err) < 0);
	assert_null(strchr(err.msg, '\x1b'));
	assert_null(strchr(err.msg, '\n'));
	assert_non_null(strstr(err.msg, "evil\\x1B]0;pwned"));
	unlink(path);
}

/* The header line is unreadable: the columns cannot be known, so the file
 * fails rather than taking the next (data) line as the header. */
static void test_bad_header_fails_the_file(void **state)
{
	static const char data[] = "Codice;Mese\0;Valore\nA-1;01/2026;1\nA-2;02/2026;2\n";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(16, data, sizeof(data) - 1), TG_LAYOUT_LONG);
	assert_true(run(&s, &g, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "f16.csv:1"));
	assert_non_null(strstr(err.msg, "header line cannot be read"));
	assert_int_equal(g.n, 0);
}

/* Columns by position and no header in the file: the first row is read as
 * the header, and that is said. */
static void test_header_that_looks_like_data(void **state)
{
	static const char data[] = "A-1;01/2026;1\nA-2;02/2026;2\n";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, write_file(17, data, sizeof(data) - 1), TG_LAYOUT_LONG);
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(g.n, 1);
	assert_true(warned(&g, "f17.csv:1: the first line looks like data"));
	/* a real header says nothing */
	init_source(&s, write_file(17, "c;m;v\nA-1;01/2026;1\n", 20), TG_LAYOUT_LONG);
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(g.nwarn, 0);
}

/* A misconfigured column of distinct codes: counted up to the cap, quickly. */
static void test_many_unknown_ids(void **state)
{
	size_t cap = 40 * 25000 + 64, len;
	char *data = malloc(cap);
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	assert_non_null(data);
	len = (size_t)snprintf(data, cap, "c;m;v\n");
	for (int i = 0; i < 25000; i++)
		len += (size_t)snprintf(data + len, cap - len, "X-%d;01/2026;1\nX-%d;01/2026;1\n", i, i);
	init_source(&s, write_file(18, data, len), TG_LAYOUT_LONG);
	free(data);
	assert_int_equal(run(&s, &g, &st, &err), 0);
	assert_int_equal(st.unknown_rows, 50000);
	assert_int_equal(st.unknown_ids, 10000);
	assert_int_equal(g.nwarn, 1);
	assert_true(warned(&g, "50000 rows for at least 10000 indicators not in the configuration (X-0, X-1, X-2, X-3, X-4, ...)"));
}

static void test_error_quote(void **state)
{
	static const struct {
		const char *in;
		size_t len, max, size;
		const char *out;
	} cases[] = {
		{ "plain", 5, 64, 64, "plain" },
		{ "a\nb", 3, 64, 64, "a\\x0Ab" },
		{ "\x1b[31m", 5, 64, 64, "\\x1B[31m" },
		{ "\xc2\x9b" "2J", 4, 64, 64, "\\xC2\\x9B2J" },        /* C1 CSI */
		{ "caff\xc3\xa8", 6, 64, 64, "caff\xc3\xa8" },         /* valid UTF-8 kept */
		{ "caff\xe8", 5, 64, 64, "caff\\xE8" },                /* Windows-1252 */
		{ "a\0b", 3, 64, 64, "a\\x00b" },
		{ "abcdef", 6, 3, 64, "abc..." },
		{ "abcdefghij", 10, 64, 8, "abcd..." },                /* cut by size: visible */
		{ "\x01\x02\x03", 3, 64, 9, "\\x01..." },
		{ "abc", 3, 64, 4, "abc" },
		{ "abcd", 4, 64, 4, "..." },
	};
	char buf[64];

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		tg_error_quote(cases[c].in, cases[c].len, cases[c].max, buf, cases[c].size);
		if (strcmp(buf, cases[c].out) != 0) {
			print_error("case %zu: got \"%s\", expected \"%s\"\n", c, buf, cases[c].out);
			fail();
		}
	}
}

/* A sink that takes its time, like a slow disk or a huge file would. */
static int slow_measure(void *ctx, const struct tg_source *src, const char *id, size_t len,
			const struct tg_date *date, double value, struct tg_error *err)
{
	(void)ctx; (void)src; (void)id; (void)len; (void)date; (void)value; (void)err;
	usleep(300);
	return TG_SINK_ACCEPTED;
}

static void test_timeout(void **state)
{
	char *data = malloc(20 * 20000 + 32);
	size_t len = (size_t)sprintf(data, "c;m;v\n");
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_source_sink sink = { slow_measure, sink_warn, &g };
	struct tg_error err;

	(void)state;
	assert_non_null(data);
	for (int i = 0; i < 20000; i++)
		len += (size_t)sprintf(data + len, "A-1;01/2026;%d\n", i);
	init_source(&s, write_file(15, data, len), TG_LAYOUT_LONG);
	free(data);
	s.timeout = 1;
	memset(&g, 0, sizeof(g));
	assert_true(tg_source_csv_run(&s, &sink, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "timed out after 1s"));
	assert_true(st.rows < 20000);
}

/* A sink that remembers everything it is given, in order, as a hash. */
struct trace {
	uint64_t hash;
	size_t n, nwarn, more;  /* more: "more bad rows not shown" lines */
	char first_warning[512], last_warning[512];
};

static void mix(struct trace *t, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		t->hash = (t->hash ^ b[i]) * 0x100000001b3ULL;
}

static int trace_measure(void *ctx, const struct tg_source *src, const char *id, size_t len,
			 const struct tg_date *date, double value, struct tg_error *err)
{
	struct trace *t = ctx;
	int rc = sink_rule(id, len, err);

	(void)src;
	if (rc != 0)
		return rc;
	mix(t, id, len);
	mix(t, &date->day, sizeof(date->day));
	mix(t, &value, sizeof(value));
	t->n++;
	return TG_SINK_ACCEPTED;
}

static void trace_warn(void *ctx, const struct tg_source *src, const char *msg)
{
	struct trace *t = ctx;

	(void)src;
	mix(t, msg, strlen(msg) + 1);
	t->more += strstr(msg, "more bad rows not shown") != NULL;
	if (t->nwarn++ == 0)
		snprintf(t->first_warning, sizeof(t->first_warning), "%s", msg);
	snprintf(t->last_warning, sizeof(t->last_warning), "%s", msg);
}

/* Many batches of every kind of row: the reader thread hands over the same
 * measurements, bad rows and warnings, in the same order, as reading in the
 * caller's thread, whichever side parses the value cells of a batch (the
 * third run: each side every other batch); also from a glob of several
 * files and from memory. */
static void test_reader_thread_same_as_inline(void **state)
{
	const size_t nrows = 60000;
	char *data = malloc(nrows * 48 + 64);
	size_t len = (size_t)sprintf(data, "Codice;Mese;Valore\r\n");
	struct tg_source s;
	struct tg_source_stats st[3];
	struct tg_error err[3];
	struct trace t[3];
	int rc[3];

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < nrows; i++) {
		unsigned m = 1 + (unsigned)(i / 5000) % 12;

		switch (i % 97) {
		case 3: len += (size_t)sprintf(data + len, "A-%zu;%02u/2026;x1\r\n", i % 700, m); break;
		case 7: len += (size_t)sprintf(data + len, "A-%zu;32/13/2026;1\r\n", i % 700); break;
		case 11: len += (size_t)sprintf(data + len, "X-%zu;%02u/2026;1\r\n", i % 40, m); break;
		case 13: len += (size_t)sprintf(data + len, "BAD-%zu;%02u/2026;1\r\n", i, m); break;
		case 17: len += (size_t)sprintf(data + len, "A-%zu;%02u/2026\r\n", i % 700, m); break;
		case 19: len += (size_t)sprintf(data + len, "\"A-%zu\";\"%02u/2026\";\"1,5\"\r\n", i % 700, m); break;
		case 23: len += (size_t)sprintf(data + len, "A-%zu;%02u/2026;n.d.\r\n", i % 700, m); break;
		case 29: len += (size_t)sprintf(data + len, "\r\n"); break;
		case 31: len += (size_t)sprintf(data + len, "  A-%zu ;%02u/2026;\xE8\r\n", i % 700, m); break;
		case 37: len += (size_t)sprintf(data + len, ";%02u/2026;1\n", m); break;
		/* value cells past the 16 bytes that travel as text */
		case 41: len += (size_t)sprintf(data + len, "A-%zu;%02u/2026;0,000000000000001%zu\r\n", i % 700, m, i); break;
		case 43: len += (size_t)sprintf(data + len, "A-%zu;%02u/2026;1234567890123456,7x\r\n", i % 700, m); break;
		case 47: len += (size_t)sprintf(data + len, "A-%zu;%02u/2026;  \r\n", i % 700, m); break;
		default:
			len += (size_t)sprintf(data + len, "A-%zu;%02u/2026;%zu,%02zu\r\n", i % 700, m, i,
					       i % 100);
		}
	}
	init_source(&s, write_file(16, data, len), TG_LAYOUT_LONG);
	for (int k = 0; k < 3; k++) {
		struct tg_source_sink sink = { trace_measure, trace_warn, &t[k] };

		tg_source_csv_threads(k != 1);
		tg_source_csv_alternate(k == 2);
		memset(&t[k], 0, sizeof(t[k]));
		rc[k] = tg_source_csv_run(&s, &sink, &st[k], &err[k]);
	}
	tg_source_csv_threads(true);
	tg_source_csv_alternate(false);
	for (int k = 0; k < 3; k += 2) {
		assert_int_equal(rc[k], 0);
		assert_int_equal(rc[1], 0);
		assert_memory_equal(&st[k], &st[1], sizeof(st[k]));
		assert_int_equal(t[k].n, t[1].n);
		assert_true(t[k].hash == t[1].hash);
		assert_string_equal(t[k].first_warning, t[1].first_warning);
		assert_string_equal(t[k].last_warning, t[1].last_warning);
	}
	/* and what they agree on is right */
	assert_int_equal(st[0].rows, nrows - nrows / 97 - 1);  /* less the blank lines */
	assert_true(st[0].bad_rows > 5 * (nrows / 97) && st[0].missing > nrows / 97);
	assert_int_equal(st[0].unknown_ids, 40);
	assert_non_null(strstr(t[0].first_warning, ":5: "));
	assert_int_equal(t[0].more, 1);
	assert_non_null(strstr(t[0].last_warning, "40 indicators not in the configuration"));

	/* the same document from memory, in two files of a glob */
	for (int k = 0; k < 2; k++) {
		struct tg_source_sink sink = { trace_measure, trace_warn, &t[k] };

		tg_source_csv_threads(k == 0);
		memset(&t[k], 0, sizeof(t[k]));
		rc[k] = tg_source_csv_parse_mem(&s, data, len, "http://x/feed.csv", &sink, &st[k], &err[k]);
	}
	tg_source_csv_threads(true);
	assert_int_equal(rc[0], 0);
	assert_memory_equal(&st[0], &st[1], sizeof(st[0]));
	assert_true(t[0].hash == t[1].hash && t[0].n == t[1].n);
	write_file(17, data, len);
	{
		char glob_path[128];

		snprintf(glob_path, sizeof(glob_path), "%s/f1[67].csv", dir);
		s.path = glob_path;
		for (int k = 0; k < 2; k++) {
			struct tg_source_sink sink = { trace_measure, trace_warn, &t[k] };

			tg_source_csv_threads(k == 0);
			memset(&t[k], 0, sizeof(t[k]));
			rc[k] = tg_source_csv_run(&s, &sink, &st[k], &err[k]);
		}
		tg_source_csv_threads(true);
		assert_int_equal(rc[0], 0);
		assert_memory_equal(&st[0], &st[1], sizeof(st[0]));
		assert_true(t[0].hash == t[1].hash && t[0].n == t[1].n);
		assert_int_equal(st[0].files, 2);
		assert_int_equal(st[0].rows, 2 * (nrows - nrows / 97 - 1));
	}
	free(data);
}

/* A file that cannot be read to its end stops the reader thread cleanly. */
static void test_reader_thread_stops_on_error(void **state)
{
	struct tg_source s;
	struct tg_source_stats st;
	struct tg_error err;
	struct trace t;
	struct tg_source_sink sink = { trace_measure, trace_warn, &t };
	char *data = malloc(200000);
	size_t len = (size_t)sprintf(data, "c;m;v\n");

	(void)state;
	assert_non_null(data);
	while (len < 150000)
		len += (size_t)sprintf(data + len, "A-1;01/2026;1\n");
	/* a record past max_record (8 MiB) is not needed: a wide layout whose
	 * header has no period fails at the header, after nothing was handed */
	init_source(&s, write_file(18, data, len), TG_LAYOUT_WIDE);
	memset(&t, 0, sizeof(t));
	assert_true(tg_source_csv_run(&s, &sink, &st, &err) < 0);
	assert_non_null(strstr(err.msg, "no column header is a period"));
	assert_int_equal(t.n, 0);
	assert_int_equal(st.rows, 0);
	free(data);
}

static int threads_off(void **state)
{
	(void)state;
	tg_source_csv_threads(false);
	return setup(state);
}

static int threads_on(void **state)
{
	int rc = teardown(state);

	tg_source_csv_threads(true);
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_by_position),
		cmocka_unit_test(test_long_by_name_tolerant),
		cmocka_unit_test(test_missing_column_fails),
		cmocka_unit_test(test_bad_rows_located_and_skipped),
		cmocka_unit_test(test_bad_rows_capped),
		cmocka_unit_test(test_unknown_reported_once),
		cmocka_unit_test(test_wide_layout),
		cmocka_unit_test(test_wide_without_periods_fails),
		cmocka_unit_test(test_empty_and_header_only),
		cmocka_unit_test(test_glob_and_missing),
		cmocka_unit_test(test_one_bad_file_does_not_hide_the_others),
		cmocka_unit_test(test_date_format_and_nul),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_wide_row_without_code),
		cmocka_unit_test(test_hostile_names_escaped),
		cmocka_unit_test(test_bad_header_fails_the_file),
		cmocka_unit_test(test_header_that_looks_like_data),
		cmocka_unit_test(test_many_unknown_ids),
		cmocka_unit_test(test_error_quote),
		cmocka_unit_test(test_reader_thread_same_as_inline),
		cmocka_unit_test(test_reader_thread_stops_on_error),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);

	/* and every case again with the records parsed in the caller's thread */
	return failed + cmocka_run_group_tests_name("records parsed inline", tests, threads_off,
						    threads_on);
}
