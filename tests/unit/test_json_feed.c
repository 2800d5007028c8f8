/*
 * test_json_feed.c — JSON feeds: both layouts, numbers as numbers and as
 * Italian strings, missing values, periods as strings and integer years,
 * every kind of bad record located by its exact JSON path, invalid documents
 * with jansson's line and column, a records path that leads nowhere, a large
 * document, unknown indicators and the cap on complaints.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_feed.h"

#define URL "https://intranet.example/kpi.json"
#define MAXM 64
#define MAXW 64

static const char *const missing[] = { "", "n.d.", "n/d", "-" };

struct got {
	char ids[MAXM][32];
	struct tg_date dates[MAXM];
	double values[MAXM];
	size_t n;        /* measurements accepted (the first MAXM kept) */
	char warnings[MAXW][1200];
	size_t nwarn;
};

static int sink_measure(void *ctx, const struct tg_source *src, const char *id, size_t len,
			const struct tg_date *date, double value, struct tg_error *err)
{
	struct got *g = ctx;

	(void)src;
	if (len >= 2 && memcmp(id, "X-", 2) == 0)
		return TG_SINK_UNKNOWN;
	if (len >= 4 && memcmp(id, "BAD-", 4) == 0)
		return tg_error_set(err, "rejected by the sink");
	if (g->n < MAXM) {
		assert_true(len < sizeof(g->ids[0]));
		memcpy(g->ids[g->n], id, len);
		g->ids[g->n][len] = '\0';
		g->dates[g->n] = *date;
		g->values[g->n] = value;
	}
	g->n++;
	return TG_SINK_ACCEPTED;
}

static void sink_warn(void *ctx, const struct tg_source *src, const char *msg)
{
	struct got *g = ctx;

	(void)src;
	if (g->nwarn < MAXW)
		snprintf(g->warnings[g->nwarn++], sizeof(g->warnings[0]), "%s", msg);
}

static void init_source(struct tg_source *s, enum tg_layout layout, const char *records)
{
	memset(s, 0, sizeof(*s));
	s->name = (char *)"feed";
	s->type = TG_SOURCE_HTTP;
	s->format = TG_FORMAT_JSON;
	s->url = (char *)URL;
	s->layout = layout;
	s->dialect.number.decimal = ',';
	s->dialect.number.thousands = '.';
	s->dialect.number.missing = missing;
	s->dialect.number.n_missing = sizeof(missing) / sizeof(missing[0]);
	s->json_records = (char *)records;
	s->json_indicator = (char *)"indicator";
	s->json_period = (char *)"period";
	s->json_value = (char *)"value";
}

static int parse(const struct tg_source *s, const char *buf, size_t len, struct got *g,
		 struct tg_source_stats *st, struct tg_error *err)
{
	struct tg_source_sink sink = { sink_measure, sink_warn, g };

	memset(g, 0, sizeof(*g));
	memset(st, 0x55, sizeof(*st)); /* the parser must reset it */
	memset(err, 0, sizeof(*err));
	return tg_json_feed_parse(buf, len, URL, s, &sink, st, err);
}

static int parse_str(const struct tg_source *s, const char *text, struct got *g,
		     struct tg_source_stats *st, struct tg_error *err)
{
	return parse(s, text, strlen(text), g, st, err);
}

static bool warned(const struct got *g, const char *needle)
{
	for (size_t i = 0; i < g->nwarn; i++)
		if (strstr(g->warnings[i], needle) != NULL)
			return true;
	return false;
}

static void print_warnings(const struct got *g)
{
	for (size_t i = 0; i < g->nwarn; i++)
		print_error("  warning %zu: %s\n", i, g->warnings[i]);
}

static bool no_control_bytes(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* ------------------------------------------------------------ layouts */

static void test_records_nested_path(void **state)
{
	static const char doc[] =
		"{ \"meta\": { \"v\": 1 }, \"data\": { \"items\": [\n"
		"  { \"code\": \"RAG-01\", \"month\": \"2026-03\", \"value\": 28.5 },\n"
		"  { \"code\": \"RAG-02\", \"month\": \"03/2026\", \"value\": \"4,35\" },\n"
		"  { \"code\": \"URP-01\", \"month\": \"Aprile 2026\", \"value\": \"1.234,5\", \"note\": [1,2] }\n"
		"] } }";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, TG_LAYOUT_LONG, "data.items");
	s.json_indicator = (char *)"code";
	s.json_period = (char *)"month";
	assert_int_equal(parse_str(&s, doc, &g, &st, &err), 0);
	print_warnings(&g);
	assert_int_equal(g.nwarn, 0);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.ids[0], "RAG-01");
	assert_true(g.values[0] == 28.5);
	assert_int_equal(g.dates[0].day, tg_day_from_ymd(2026, 3, 1));
	assert_int_equal(g.dates[0].precision, TG_PERIOD_MONTH);
	assert_string_equal(g.ids[1], "RAG-02");
	assert_true(g.values[1] == 4.35);
	assert_string_equal(g.ids[2], "URP-01");
	assert_true(g.values[2] == 1234.5);
	assert_int_equal(g.dates[2].day, tg_day_from_ymd(2026, 4, 1));
	assert_int_equal(st.files, 1);
	assert_int_equal(st.rows, 3);
	assert_int_equal(st.measurements, 3);
	assert_int_equal(st.missing, 0);
	assert_int_equal(st.bad_rows, 0);
	assert_int_equal(st.unknown_rows, 0);
	assert_int_equal(st.unknown_ids, 0);
}

static void test_records_top_level_and_defaults(void **state)
{
	static const char doc[] =
		"[ { \"indicator\": \"A\", \"period\": \"2026-01\", \"value\": 1 },\n"
		"  { \"indicator\": \"B\", \"period\": \"2026-02\", \"value\": -2.5e1 } ]";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	/* every path NULL: the defaults "" / indicator / period / value */
	init_source(&s, TG_LAYOUT_LONG, NULL);
	s.json_indicator = s.json_period = s.json_value = NULL;
	assert_int_equal(parse_str(&s, doc, &g, &st, &err), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.ids[1], "B");
	assert_true(g.values[1] == -25.0);
	assert_int_equal(g.dates[1].day, tg_day_from_ymd(2026, 2, 1));
	/* the same with "" written out */
	init_source(&s, TG_LAYOUT_LONG, "");
	assert_int_equal(parse_str(&s, doc, &g, &st, &err), 0);
	assert_int_equal(g.n, 2);
	/* an empty array is a good, empty document */
	assert_int_equal(parse_str(&s, " [ ] ", &g, &st, &err), 0);
	assert_int_equal(st.rows, 0);
	assert_int_equal(st.files, 1);
	assert_int_equal(g.nwarn, 0);
}

static void test_nested_field_paths(void **state)
{
	static const char doc[] =
		"{\"items\": [ { \"meta\": { \"code\": \"A\", \"when\": { \"month\": \"2026-05\" } },"
		" \"m\": { \"v\": { \"x\": 7 } } } ] }";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, TG_LAYOUT_LONG, "items");
	s.json_indicator = (char *)"meta.code";
	s.json_period = (char *)"meta.when.month";
	s.json_value = (char *)"m.v.x";
	assert_int_equal(parse_str(&s, doc, &g, &st, &err), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.ids[0], "A");
	assert_true(g.values[0] == 7.0);
	assert_int_equal(g.dates[0].day, tg_day_from_ymd(2026, 5, 1));
}

static void test_by_indicator(void **state)
{
	static const char doc[] =
		"{ \"series\": {\n"
		"  \"RAG-01\": [ { \"period\": \"2026-03\", \"value\": 28.5 }, { \"period\": 2025, \"value\": \"4,35\" } ],\n"
		"  \"URP-01\": [],\n"
		"  \" URP-02 \": [ { \"period\": \"Q1 2026\", \"value\": null } ],\n"
		"  \"X-UNK\": [ { \"period\": \"2026-01\", \"value\": 1 }, { \"period\": \"2026-02\", \"value\": 2 } ],\n"
		"  \"NOTARRAY\": { \"period\": \"2026-01\", \"value\": 1 },\n"
		"  \"\": [ { \"period\": \"2026-01\", \"value\": 1 } ],\n"
		"  \"URP-03\": [ { \"value\": 1 }, 5 ]\n"
		"} }";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, TG_LAYOUT_BY_INDICATOR, "series");
	s.json_indicator = (char *)"ignored";
	assert_int_equal(parse_str(&s, doc, &g, &st, &err), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.ids[0], "RAG-01");
	assert_true(g.values[0] == 28.5);
	assert_string_equal(g.ids[1], "RAG-01");
	assert_true(g.values[1] == 4.35);
	assert_int_equal(g.dates[1].day, tg_day_from_ymd(2025, 1, 1));
	assert_int_equal(g.dates[1].precision, TG_PERIOD_YEAR);
	/* 2 + 0 + 1 + 2 + 1 (the series that is not an array) + 1 + 2 */
	assert_int_equal(st.rows, 9);
	assert_int_equal(st.measurements, 2);
	assert_int_equal(st.missing, 1);
	assert_int_equal(st.unknown_rows, 2);
	assert_int_equal(st.unknown_ids, 1);
	assert_int_equal(st.bad_rows, 4);
	assert_true(warned(&g, URL ": $.series.NOTARRAY: expected an array of records, got an object; record skipped"));
	assert_true(warned(&g, URL ": $.series.\"\"[0]: empty indicator code (the key of the series); record skipped"));
	assert_true(warned(&g, URL ": $.series.URP-03[0].period: missing; record skipped"));
	assert_true(warned(&g, URL ": $.series.URP-03[1]: expected an object, got an integer; record skipped"));
	assert_true(warned(&g, "X-UNK"));
	/* top level, and an empty object */
	init_source(&s, TG_LAYOUT_BY_INDICATOR, "");
	assert_int_equal(parse_str(&s, "{\"A\":[{\"period\":\"2026-01\",\"value\":\"95%\"}]}", &g, &st, &err), 0);
	assert_int_equal(g.n, 1);
	assert_true(g.values[0] == 95.0);
	assert_int_equal(parse_str(&s, "{}", &g, &st, &err), 0);
	assert_int_equal(st.rows, 0);
}

/* ------------------------------------------------------------ values */

enum expect { VALUE, MISSING, BAD };

static void test_values(void **state)
{
	static const struct {
		const char *json;
		enum expect expect;
		double value;
		const char *msg; /* BAD: the exact warning after "URL: $[0].value: " */
	} cases[] = {
		{ "28.5", VALUE, 28.5, NULL },
		{ "12", VALUE, 12.0, NULL },
		{ "-0.25", VALUE, -0.25, NULL },
		{ "1e3", VALUE, 1000.0, NULL },
		{ "9007199254740993", VALUE, 9007199254740992.0, NULL },
		{ "\"4,35\"", VALUE, 4.35, NULL },
		{ "\"1.234,5\"", VALUE, 1234.5, NULL },
		{ "\"95%\"", VALUE, 95.0, NULL },
		{ "\"95,3 %\"", VALUE, 95.3, NULL },
		{ "\" -7 \"", VALUE, -7.0, NULL },
		{ "null", MISSING, 0, NULL },
		{ "\"n.d.\"", MISSING, 0, NULL },
		{ "\"N.D.\"", MISSING, 0, NULL },
		{ "\"\"", MISSING, 0, NULL },
		{ "\"-\"", MISSING, 0, NULL },
		{ "\"1.23\"", BAD, 0, NULL },
		{ "\"1.234\"", VALUE, 1234.0, NULL },
		{ "\"abc\"", BAD, 0, NULL },
		{ "\"4.35\"", BAD, 0, NULL },
		{ "true", BAD, 0, "expected a number or a string, got a boolean; record skipped" },
		{ "false", BAD, 0, "expected a number or a string, got a boolean; record skipped" },
		{ "{}", BAD, 0, "expected a number or a string, got an object; record skipped" },
		{ "[1]", BAD, 0, "expected a number or a string, got an array; record skipped" },
	};
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, TG_LAYOUT_LONG, "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char doc[256], want[512];
		int rc;

		snprintf(doc, sizeof(doc), "[{\"indicator\":\"A\",\"period\":\"2026-03\",\"value\":%s}]",
			 cases[i].json);
		rc = parse_str(&s, doc, &g, &st, &err);
		if (rc != 0 || st.rows != 1 || st.files != 1) {
			print_error("case %zu (%s): rc %d, rows %zu: %s\n", i, cases[i].json, rc, st.rows, err.msg);
			fail();
		}
		switch (cases[i].expect) {
		case VALUE:
			if (g.n != 1 || g.values[0] != cases[i].value || st.measurements != 1 || g.nwarn != 0) {
				print_error("case %zu (%s): n %zu, value %.17g\n", i, cases[i].json, g.n,
					    g.n ? g.values[0] : 0.0);
				print_warnings(&g);
				fail();
			}
			break;
		case MISSING:
			if (g.n != 0 || st.missing != 1 || st.bad_rows != 0 || g.nwarn != 0) {
				print_error("case %zu (%s): not missing\n", i, cases[i].json);
				fail();
			}
			break;
		case BAD:
			if (g.n != 0 || st.bad_rows != 1 || st.missing != 0 || g.nwarn != 1 ||
			    strncmp(g.warnings[0], URL ": $[0].value: ", strlen(URL ": $[0].value: ")) != 0) {
				print_error("case %zu (%s): not bad\n", i, cases[i].json);
				print_warnings(&g);
				fail();
			}
			snprintf(want, sizeof(want), URL ": $[0].value: %s", cases[i].msg ? cases[i].msg : "");
			if (cases[i].msg != NULL && strcmp(g.warnings[0], want) != 0) {
				print_error("case %zu: got '%s'\n  want '%s'\n", i, g.warnings[0], want);
				fail();
			}
			if (cases[i].msg == NULL && strstr(g.warnings[0], "is not a number") == NULL) {
				print_error("case %zu: got '%s'\n", i, g.warnings[0]);
				fail();
			}
			break;
		}
	}
}

static void test_periods(void **state)
{
	static const struct {
		const char *json;
		const char *date_format;
		int y, m, d;              /* y == 0: bad */
		enum tg_period_kind precision;
		const char *msg;          /* bad: substring of the warning */
	} cases[] = {
		{ "\"2026-03\"", NULL, 2026, 3, 1, TG_PERIOD_MONTH, NULL },
		{ "\"03/2026\"", NULL, 2026, 3, 1, TG_PERIOD_MONTH, NULL },
		{ "\"15/03/2026\"", NULL, 2026, 3, 15, TG_PERIOD_DAY, NULL },
		{ "\"2026-03-15T10:00:00Z\"", NULL, 2026, 3, 15, TG_PERIOD_DAY, NULL },
		{ "\"marzo 2026\"", NULL, 2026, 3, 1, TG_PERIOD_MONTH, NULL },
		{ "\"2026-Q2\"", NULL, 2026, 4, 1, TG_PERIOD_QUARTER, NULL },
		{ "\"2026\"", NULL, 2026, 1, 1, TG_PERIOD_YEAR, NULL },
		{ "2026", NULL, 2026, 1, 1, TG_PERIOD_YEAR, NULL },
		{ "1000", NULL, 1000, 1, 1, TG_PERIOD_YEAR, NULL },
		{ "9999", NULL, 9999, 1, 1, TG_PERIOD_YEAR, NULL },
		{ "\"03.2026\"", "%m.%Y", 2026, 3, 1, TG_PERIOD_MONTH, NULL },
		{ "999", NULL, 0, 0, 0, 0, "$[0].period: the year 999 is out of range (1000..9999); record skipped" },
		{ "10000", NULL, 0, 0, 0, 0, "$[0].period: the year 10000 is out of range (1000..9999)" },
		{ "-2026", NULL, 0, 0, 0, 0, "$[0].period: the year -2026 is out of range" },
		{ "2026.0", NULL, 0, 0, 0, 0, "$[0].period: expected a string or an integer year, got a real number; record skipped" },
		{ "null", NULL, 0, 0, 0, 0, "$[0].period: expected a string or an integer year, got null" },
		{ "[]", NULL, 0, 0, 0, 0, "$[0].period: expected a string or an integer year, got an array" },
		{ "\"2026-13\"", NULL, 0, 0, 0, 0, "$[0].period: '2026-13' is not a valid date" },
		{ "\"\"", NULL, 0, 0, 0, 0, "$[0].period: '' is not" },
		{ "\"2026-03\"", "%m.%Y", 0, 0, 0, 0, "$[0].period: '2026-03' does not match date_format" },
	};
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char doc[256];

		init_source(&s, TG_LAYOUT_LONG, "");
		s.dialect.date_format = (char *)cases[i].date_format;
		snprintf(doc, sizeof(doc), "[{\"indicator\":\"A\",\"period\":%s,\"value\":1}]", cases[i].json);
		assert_int_equal(parse_str(&s, doc, &g, &st, &err), 0);
		if (cases[i].y != 0) {
			if (g.n != 1 || g.dates[0].day != tg_day_from_ymd(cases[i].y, cases[i].m, cases[i].d) ||
			    g.dates[0].precision != cases[i].precision) {
				print_error("case %zu (%s): n %zu\n", i, cases[i].json, g.n);
				print_warnings(&g);
				fail();
			}
		} else if (g.n != 0 || st.bad_rows != 1 || g.nwarn != 1 ||
			   strncmp(g.warnings[0], URL ": ", strlen(URL ": ")) != 0 ||
			   strstr(g.warnings[0], cases[i].msg) == NULL) {
			print_error("case %zu (%s): want '%s'\n", i, cases[i].json, cases[i].msg);
			print_warnings(&g);
			fail();
		}
	}
}

static void test_indicators(void **state)
{
	static const struct {
		const char *json;
		const char *id;    /* NULL: bad */
		const char *msg;   /* bad: the exact warning after URL ": " */
	} cases[] = {
		{ "\"RAG-01\"", "RAG-01", NULL },
		{ "\"  RAG-01\\t\"", "RAG-01", NULL },
		{ "\"Qualità\"", "Qualità", NULL },
		{ "42", "42", NULL },
		{ "-7", "-7", NULL },
		{ "9223372036854775807", "9223372036854775807", NULL },
		{ "\"\"", NULL, "$[0].indicator: empty indicator code; record skipped" },
		{ "\"  \"", NULL, "$[0].indicator: empty indicator code; record skipped" },
		{ "true", NULL, "$[0].indicator: expected a string or an integer indicator code, got a boolean; record skipped" },
		{ "1.5", NULL, "$[0].indicator: expected a string or an integer indicator code, got a real number; record skipped" },
		{ "null", NULL, "$[0].indicator: expected a string or an integer indicator code, got null; record skipped" },
		{ "{}", NULL, "$[0].indicator: expected a string or an integer indicator code, got an object; record skipped" },
		{ "[\"A\"]", NULL, "$[0].indicator: expected a string or an integer indicator code, got an array; record skipped" },
	};
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, TG_LAYOUT_LONG, "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char doc[256], want[512];

		snprintf(doc, sizeof(doc), "[{\"indicator\":%s,\"period\":\"2026-03\",\"value\":1}]", cases[i].json);
		assert_int_equal(parse_str(&s, doc, &g, &st, &err), 0);
		if (cases[i].id != NULL) {
			if (g.n != 1 || strcmp(g.ids[0], cases[i].id) != 0) {
				print_error("case %zu (%s): n %zu id '%s'\n", i, cases[i].json, g.n, g.n ? g.ids[0] : "");
				fail();
			}
			continue;
		}
		snprintf(want, sizeof(want), URL ": %s", cases[i].msg);
		if (g.n != 0 || st.bad_rows != 1 || g.nwarn != 1 || strcmp(g.warnings[0], want) != 0) {
			print_error("case %zu (%s): want '%s'\n", i, cases[i].json, want);
			print_warnings(&g);
			fail();
		}
	}
}

/* ------------------------------------------------------------ bad records */

/* Each record goes at index 12 of $.data.items, after 12 good ones; the
 * warning must be exactly this (after "URL: "). */
static void test_bad_records_exact(void **state)
{
	static const struct {
		const char *record;
		const char *msg;
	} cases[] = {
		{ "{\"month\":\"2026-03\",\"v\":{\"x\":1}}",
		  "$.data.items[12].meta: missing; record skipped" },
		{ "{\"meta\":5,\"month\":\"2026-03\",\"v\":{\"x\":1}}",
		  "$.data.items[12].meta: expected an object, got an integer; record skipped" },
		{ "{\"meta\":{},\"month\":\"2026-03\",\"v\":{\"x\":1}}",
		  "$.data.items[12].meta.code: missing; record skipped" },
		{ "{\"meta\":{\"code\":true},\"month\":\"2026-03\",\"v\":{\"x\":1}}",
		  "$.data.items[12].meta.code: expected a string or an integer indicator code, got a boolean; record skipped" },
		{ "{\"meta\":{\"code\":\"A\"},\"v\":{\"x\":1}}",
		  "$.data.items[12].month: missing; record skipped" },
		{ "{\"meta\":{\"code\":\"A\"},\"month\":\"2026-13\",\"v\":{\"x\":1}}",
		  "$.data.items[12].month: '2026-13' is not a valid date: there is no month 13; record skipped" },
		{ "{\"meta\":{\"code\":\"A\"},\"month\":\"2026-03\"}",
		  "$.data.items[12].v: missing; record skipped" },
		{ "{\"meta\":{\"code\":\"A\"},\"month\":\"2026-03\",\"v\":[]}",
		  "$.data.items[12].v: expected an object, got an array; record skipped" },
		{ "{\"meta\":{\"code\":\"A\"},\"month\":\"2026-03\",\"v\":{}}",
		  "$.data.items[12].v.x: missing; record skipped" },
		{ "{\"meta\":{\"code\":\"A\"},\"month\":\"2026-03\",\"v\":{\"x\":\"abc\"}}",
		  "$.data.items[12].v.x: 'abc' is not a number: unexpected 'a'; record skipped" },
		{ "{\"meta\":{\"code\":\"A\"},\"month\":\"2026-03\",\"v\":{\"x\":{}}}",
		  "$.data.items[12].v.x: expected a number or a string, got an object; record skipped" },
		{ "{\"meta\":{\"code\":\"BAD-1\"},\"month\":\"2026-03\",\"v\":{\"x\":1}}",
		  "$.data.items[12]: rejected by the sink; record skipped" },
		{ "\"a string\"", "$.data.items[12]: expected an object, got a string; record skipped" },
		{ "null", "$.data.items[12]: expected an object, got null; record skipped" },
		{ "[]", "$.data.items[12]: expected an object, got an array; record skipped" },
	};
	static const char good[] = "{\"meta\":{\"code\":\"G\"},\"month\":\"2026-01\",\"v\":{\"x\":1}},";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, TG_LAYOUT_LONG, "data.items");
	s.json_indicator = (char *)"meta.code";
	s.json_period = (char *)"month";
	s.json_value = (char *)"v.x";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char doc[2048], want[512];
		size_t n;

		n = (size_t)snprintf(doc, sizeof(doc), "{\"data\":{\"items\":[");
		for (int k = 0; k < 12; k++)
			n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s", good);
		snprintf(doc + n, sizeof(doc) - n, "%s,%s]}}", cases[i].record, "{\"meta\":{\"code\":\"G\"},\"month\":\"2026-02\",\"v\":{\"x\":2}}");
		assert_int_equal(parse_str(&s, doc, &g, &st, &err), 0);
		snprintf(want, sizeof(want), URL ": %s", cases[i].msg);
		if (g.nwarn != 1 || strcmp(g.warnings[0], want) != 0 || g.n != 13 || st.rows != 14 ||
		    st.bad_rows != 1 || st.measurements != 13) {
			print_error("case %zu: n %zu rows %zu bad %zu\n  want '%s'\n", i, g.n, st.rows,
				    st.bad_rows, want);
			print_warnings(&g);
			fail();
		}
	}
}

static void test_bad_records_capped(void **state)
{
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;
	char doc[4096];
	size_t n;

	(void)state;
	init_source(&s, TG_LAYOUT_LONG, "");
	n = (size_t)snprintf(doc, sizeof(doc), "[");
	for (int k = 0; k < 25; k++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"indicator\":\"A\",\"period\":\"x\",\"value\":1},");
	snprintf(doc + n, sizeof(doc) - n, "{\"indicator\":\"A\",\"period\":\"2026-01\",\"value\":1}]");
	assert_int_equal(parse_str(&s, doc, &g, &st, &err), 0);
	assert_int_equal(st.rows, 26);
	assert_int_equal(st.bad_rows, 25);
	assert_int_equal(st.measurements, 1);
	assert_int_equal(g.nwarn, 11);
	assert_true(strncmp(g.warnings[0], URL ": $[0].period: ", strlen(URL ": $[0].period: ")) == 0);
	assert_true(strncmp(g.warnings[9], URL ": $[9].period: ", strlen(URL ": $[9].period: ")) == 0);
	assert_string_equal(g.warnings[10], URL ": 15 more bad records not shown");
	/* one over the cap: singular */
	n = (size_t)snprintf(doc, sizeof(doc), "[");
	for (int k = 0; k < 11; k++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s{}", k ? "," : "");
	snprintf(doc + n, sizeof(doc) - n, "]");
	assert_int_equal(parse_str(&s, doc, &g, &st, &err), 0);
	assert_int_equal(g.nwarn, 11);
	assert_string_equal(g.warnings[10], URL ": 1 more bad record not shown");
}

/* Text from the document never reaches a message raw. */
static void test_messages_escaped(void **state)
{
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;
	struct tg_source_sink sink = { sink_measure, sink_warn, &g };

	(void)state;
	init_source(&s, TG_LAYOUT_BY_INDICATOR, "");
	assert_int_equal(parse_str(&s, "{\"\\u001b[31mEVIL\\r\\n\": 1,"
				   " \"A\": [{\"period\":\"\\u001b[2J\",\"value\":\"\\u0007\"}]}", &g, &st, &err), 0);
	assert_int_equal(g.nwarn, 2);
	for (size_t i = 0; i < g.nwarn; i++)
		assert_true(no_control_bytes(g.warnings[i]));
	assert_true(warned(&g, "$.\\x1B[31mEVIL\\x0D\\x0A: expected an array"));
	/* the name too */
	memset(&g, 0, sizeof(g));
	assert_int_equal(tg_json_feed_parse("[1]", 3, "http://x/\nFAKE", &s, &sink, &st, &err), -EINVAL);
	assert_true(no_control_bytes(err.msg));
	assert_non_null(strstr(err.msg, "http://x/\\x0AFAKE: "));
	/* and jansson's excerpt of the document */
	init_source(&s, TG_LAYOUT_LONG, "");
	assert_int_equal(parse_str(&s, "[1]\n\x1b[31m", &g, &st, &err), -EINVAL);
	assert_true(no_control_bytes(err.msg));
	assert_non_null(strstr(err.msg, "\\x1B"));
}

/* ------------------------------------------------------------ documents */

static void test_invalid_json(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *msg; /* exact, after "URL: " */
	} cases[] = {
#define C(s, m) { s, sizeof(s) - 1, m }
		C("[{\"indicator\":\"A\"", "invalid JSON at line 1, column 17: '}' expected near end of file"),
		C("[{\"a\":1},\n {\"a\":", "invalid JSON at line 2, column 6: unexpected token near end of file"),
		C("[] x", "invalid JSON at line 1, column 4: end of file expected near 'x'"),
		C("[]\n[]", "invalid JSON at line 2, column 1: end of file expected near '['"),
		C("[\0]", "invalid JSON at line 1, column 2: a NUL byte (offset 1)"),
		C("[\n \"\xc3\xa8\", \"a\0\"]", "invalid JSON at line 2, column 9: a NUL byte (offset 11)"),
		C("[]\0", "invalid JSON at line 1, column 3: a NUL byte (offset 2)"),
		C("[\"\xff\"]", "invalid JSON at line 1, column 2: unable to decode byte 0xff near '\"'"),
		C("[\"\xc3\x28\"]", "invalid JSON at line 1, column 2: unable to decode byte 0xc3 near '\"'"),
		C("", "invalid JSON at line 1, column 0: '[' or '{' expected near end of file (the body is empty)"),
		C(" \r\n\t", "invalid JSON at line 2, column 1: '[' or '{' expected near end of file (the body is empty)"),
		C("42", "invalid JSON at line 1, column 2: '[' or '{' expected near '42'"),
		C("[1,]", "invalid JSON at line 1, column 4: unexpected token near ']'"),
		C("[\"\\u0000\"]", "invalid JSON at line 1, column 9: a string contains \\u0000 (NUL), which is not accepted"),
		C("[123456789012345678901234]", "invalid JSON at line 1, column 25: too big integer"),
		C("[1e999]", "invalid JSON at line 1, column 6: real number overflow near '1e999'"),
#undef C
	};
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, TG_LAYOUT_LONG, "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[512];
		int rc = parse(&s, cases[i].bytes, cases[i].len, &g, &st, &err);

		snprintf(want, sizeof(want), URL ": %s", cases[i].msg);
		if (rc != -EINVAL || strcmp(err.msg, want) != 0 || st.files != 1 || st.rows != 0 ||
		    g.n != 0 || g.nwarn != 0) {
			print_error("case %zu: rc %d\n  got  '%s'\n  want '%s'\n", i, rc, err.msg, want);
			fail();
		}
	}
	/* NULL buffer: an empty body */
	assert_int_equal(parse(&s, NULL, 0, &g, &st, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "(the body is empty)"));
}

static void test_deep_nesting(void **state)
{
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;
	size_t n = 100000;
	char *doc = malloc(n);

	(void)state;
	assert_non_null(doc);
	memset(doc, '[', n);
	init_source(&s, TG_LAYOUT_LONG, "");
	assert_int_equal(parse(&s, doc, n, &g, &st, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "maximum parsing depth reached"));
	free(doc);
}

static void test_records_path_errors(void **state)
{
	static const struct {
		enum tg_layout layout;
		const char *records;
		const char *doc;
		const char *msg; /* exact, after "URL: " */
	} cases[] = {
		{ TG_LAYOUT_LONG, "data.items", "{\"data\":{}}",
		  "$.data.items: not found (records path \"data.items\")" },
		{ TG_LAYOUT_LONG, "data.items", "{\"other\":[]}",
		  "$.data: not found (records path \"data.items\")" },
		{ TG_LAYOUT_LONG, "data.items", "{\"data\":[1]}",
		  "$.data: expected an object, got an array (records path \"data.items\")" },
		{ TG_LAYOUT_LONG, "data.items", "{\"data\":null}",
		  "$.data: expected an object, got null (records path \"data.items\")" },
		{ TG_LAYOUT_LONG, "data.items", "[]",
		  "$: expected an object, got an array (records path \"data.items\")" },
		{ TG_LAYOUT_LONG, "data.items.0", "{\"data\":{\"items\":[{}]}}",
		  "$.data.items: expected an object, got an array (records path \"data.items.0\")" },
		{ TG_LAYOUT_LONG, "data", "{\"data\":{}}",
		  "$.data: expected an array of records (layout long), got an object" },
		{ TG_LAYOUT_LONG, "data", "{\"data\":\"[]\"}",
		  "$.data: expected an array of records (layout long), got a string" },
		{ TG_LAYOUT_LONG, "", "{}",
		  "$: expected an array of records (layout long), got an object" },
		{ TG_LAYOUT_BY_INDICATOR, "", "[]",
		  "$: expected an object of series keyed by indicator code (layout by_indicator), got an array" },
		{ TG_LAYOUT_BY_INDICATOR, "s", "{\"s\":[]}",
		  "$.s: expected an object of series keyed by indicator code (layout by_indicator), got an array" },
		{ TG_LAYOUT_WIDE, "", "[]", "the layout of a JSON feed is long or by_indicator" },
	};
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[512];
		int rc;

		init_source(&s, cases[i].layout, cases[i].records);
		rc = parse_str(&s, cases[i].doc, &g, &st, &err);
		snprintf(want, sizeof(want), URL ": %s", cases[i].msg);
		if (rc != -EINVAL || strcmp(err.msg, want) != 0 || st.rows != 0 || g.nwarn != 0) {
			print_error("case %zu: rc %d\n  got  '%s'\n  want '%s'\n", i, rc, err.msg, want);
			fail();
		}
	}
}

/* Duplicate keys are accepted; the last one wins. */
static void test_duplicate_keys(void **state)
{
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, TG_LAYOUT_LONG, "");
	assert_int_equal(parse_str(&s, "[{\"indicator\":\"A\",\"period\":\"2026-03\",\"value\":1,\"value\":2}]",
				   &g, &st, &err), 0);
	assert_int_equal(g.n, 1);
	assert_true(g.values[0] == 2.0);
	init_source(&s, TG_LAYOUT_BY_INDICATOR, "");
	assert_int_equal(parse_str(&s, "{\"A\":[{\"period\":\"2026-01\",\"value\":1}],"
				   "\"A\":[{\"period\":\"2026-02\",\"value\":3}]}", &g, &st, &err), 0);
	assert_int_equal(g.n, 1);
	assert_true(g.values[0] == 3.0);
}

static void test_unknown_indicators(void **state)
{
	static const char doc[] =
		"[{\"indicator\":\"X-A\",\"period\":\"2026-01\",\"value\":1},"
		" {\"indicator\":\"X-A\",\"period\":\"2026-02\",\"value\":1},"
		" {\"indicator\":\"A\",\"period\":\"2026-02\",\"value\":1},"
		" {\"indicator\":\"X-B\",\"period\":\"2026-02\",\"value\":null},"
		" {\"indicator\":\"X-B\",\"period\":\"2026-02\",\"value\":\"3\"}]";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	init_source(&s, TG_LAYOUT_LONG, "");
	assert_int_equal(parse_str(&s, doc, &g, &st, &err), 0);
	assert_int_equal(st.rows, 5);
	assert_int_equal(st.measurements, 1);
	assert_int_equal(st.missing, 1);
	assert_int_equal(st.unknown_rows, 3);
	assert_int_equal(st.unknown_ids, 2);
	assert_int_equal(st.bad_rows, 0);
	/* reported once, with the URL */
	assert_int_equal(g.nwarn, 1);
	assert_true(strncmp(g.warnings[0], URL ": ", strlen(URL ": ")) == 0);
	assert_true(warned(&g, "X-A"));
}

static void test_large_document(void **state)
{
	const size_t n = 100000;
	size_t cap = n * 80 + 64, len = 0;
	char *doc = malloc(cap);
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;

	(void)state;
	assert_non_null(doc);
	len += (size_t)snprintf(doc + len, cap - len, "{\"data\":[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(doc + len, cap - len,
					"%s{\"indicator\":\"K-%zu\",\"period\":\"%04zu-%02zu\",\"value\":\"%zu,5\"}",
					i ? "," : "", i % 500, 2000 + i % 26, 1 + i % 12, i);
	len += (size_t)snprintf(doc + len, cap - len, "]}");
	assert_true(len < cap);
	init_source(&s, TG_LAYOUT_LONG, "data");
	assert_int_equal(parse(&s, doc, len, &g, &st, &err), 0);
	assert_int_equal(g.n, n);
	assert_int_equal(st.rows, n);
	assert_int_equal(st.measurements, n);
	assert_int_equal(st.bad_rows, 0);
	assert_int_equal(g.nwarn, 0);
	assert_true(g.values[7] == 7.5);
	free(doc);
}

static void test_no_warn_callback(void **state)
{
	static const char doc[] = "[{}, {\"indicator\":\"X-1\",\"period\":2026,\"value\":1}]";
	struct tg_source s;
	struct tg_source_stats st;
	struct got g;
	struct tg_error err;
	struct tg_source_sink sink = { sink_measure, NULL, &g };

	(void)state;
	memset(&g, 0, sizeof(g));
	init_source(&s, TG_LAYOUT_LONG, "");
	assert_int_equal(tg_json_feed_parse(doc, sizeof(doc) - 1, URL, &s, &sink, &st, &err), 0);
	assert_int_equal(st.bad_rows, 1);
	assert_int_equal(st.unknown_rows, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_nested_path),
		cmocka_unit_test(test_records_top_level_and_defaults),
		cmocka_unit_test(test_nested_field_paths),
		cmocka_unit_test(test_by_indicator),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_periods),
		cmocka_unit_test(test_indicators),
		cmocka_unit_test(test_bad_records_exact),
		cmocka_unit_test(test_bad_records_capped),
		cmocka_unit_test(test_messages_escaped),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_records_path_errors),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_unknown_indicators),
		cmocka_unit_test(test_large_document),
		cmocka_unit_test(test_no_warn_callback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
