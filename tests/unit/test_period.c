/*
 * test_period.c — civil day arithmetic, periods, labels, and the parsing of
 * dates, durations and times (lib/period.c).  Parsers are driven from tables
 * of good and bad text; every input is copied into a buffer of exactly its
 * length so that AddressSanitizer catches a read past s[len].
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "period.h"

/* Copies s[0..len) into an allocation of exactly len bytes (no NUL). */
static char *exact_copy(const char *s, size_t len)
{
	char *p = malloc(len > 0 ? len : 1);

	if (p == NULL)
		abort();
	memcpy(p, s, len);
	return p;
}

static tg_day ymd(int y, int m, int d)
{
	return tg_day_from_ymd(y, m, d);
}

/* ------------------------------------------------------- civil arithmetic */

static void test_known_days(void **state)
{
	int y, m, d;

	(void)state;
	assert_int_equal(ymd(1970, 1, 1), 0);
	assert_int_equal(ymd(1969, 12, 31), -1);
	assert_int_equal(ymd(2000, 3, 1), 11017);
	assert_int_equal(ymd(2026, 3, 12), 20524);
	assert_int_equal(ymd(1, 1, 1), -719162);
	assert_int_equal(ymd(9999, 12, 31), 2932896);
	tg_day_to_ymd(20524, &y, &m, &d);
	assert_true(y == 2026 && m == 3 && d == 12);
	tg_day_to_ymd(-719162, &y, &m, &d);
	assert_true(y == 1 && m == 1 && d == 1);
	tg_day_to_ymd(-1, &y, &m, &d);
	assert_true(y == 1969 && m == 12 && d == 31);
	/* NULL outputs are allowed */
	tg_day_to_ymd(0, NULL, NULL, &d);
	assert_int_equal(d, 1);
}

/* Every day from 0001-01-01 to 9999-12-31, in order: each is the previous
 * plus one and converts back to itself. */
static void test_every_day(void **state)
{
	tg_day expect = ymd(1, 1, 1);
	int y, m, d, yy, mm, dd;

	(void)state;
	for (y = 1; y <= 9999; y++) {
		for (m = 1; m <= 12; m++) {
			for (d = 1; d <= tg_days_in_month(y, m); d++) {
				tg_day day = ymd(y, m, d);

				if (day != expect)
					fail_msg("%04d-%02d-%02d is day %d, expected %d", y, m, d, day, expect);
				tg_day_to_ymd(day, &yy, &mm, &dd);
				if (yy != y || mm != m || dd != d)
					fail_msg("day %d -> %04d-%02d-%02d, expected %04d-%02d-%02d", day,
						 yy, mm, dd, y, m, d);
				expect++;
			}
		}
	}
	assert_int_equal(expect - 1, ymd(9999, 12, 31));
}

static void test_ymd_valid(void **state)
{
	(void)state;
	assert_true(tg_ymd_valid(2024, 2, 29));
	assert_true(tg_ymd_valid(2000, 2, 29));
	assert_false(tg_ymd_valid(1900, 2, 29));
	assert_false(tg_ymd_valid(2025, 2, 29));
	assert_false(tg_ymd_valid(2026, 4, 31));
	assert_true(tg_ymd_valid(2026, 12, 31));
	assert_false(tg_ymd_valid(2026, 13, 1));
	assert_false(tg_ymd_valid(2026, 0, 1));
	assert_false(tg_ymd_valid(2026, 1, 0));
	assert_false(tg_ymd_valid(0, 1, 1));
	assert_true(tg_ymd_valid(1, 1, 1));
	assert_true(tg_ymd_valid(9999, 12, 31));
	assert_false(tg_ymd_valid(10000, 1, 1));
	assert_int_equal(tg_days_in_month(2024, 2), 29);
	assert_int_equal(tg_days_in_month(2026, 2), 28);
	assert_int_equal(tg_days_in_month(2026, 4), 30);
	assert_int_equal(tg_days_in_month(2026, 13), 0);
}

static void test_from_ymd_normalises(void **state)
{
	(void)state;
	assert_int_equal(ymd(2026, 13, 1), ymd(2027, 1, 1));
	assert_int_equal(ymd(2026, 0, 1), ymd(2025, 12, 1));
	assert_int_equal(ymd(2026, -11, 1), ymd(2025, 1, 1));
	assert_int_equal(ymd(2026, 3, 0), ymd(2026, 2, 28));
	assert_int_equal(ymd(2024, 3, 0), ymd(2024, 2, 29));
	assert_int_equal(ymd(2026, 1, 32), ymd(2026, 2, 1));
	/* saturates instead of overflowing */
	assert_int_equal(tg_day_from_ymd(2147483647, 12, 31), INT32_MAX);
	assert_int_equal(tg_day_from_ymd(-2147483647 - 1, 1, 1), INT32_MIN);
}

static void test_weekday(void **state)
{
	(void)state;
	assert_int_equal(tg_day_weekday(0), 4); /* Thursday 1970-01-01 */
	assert_int_equal(tg_day_weekday(-1), 3);
	assert_int_equal(tg_day_weekday(-3), 1);
	assert_int_equal(tg_day_weekday(-4), 7);
	assert_int_equal(tg_day_weekday(ymd(2026, 3, 12)), 4);
	assert_int_equal(tg_day_weekday(ymd(2026, 3, 15)), 7);
	assert_int_equal(tg_day_weekday(ymd(2026, 3, 16)), 1);
	assert_int_equal(tg_day_weekday(ymd(1, 1, 1)), 1);
	assert_int_equal(tg_day_weekday(INT32_MIN) >= 1 && tg_day_weekday(INT32_MIN) <= 7, 1);
	assert_int_equal(tg_day_weekday(INT32_MAX) >= 1 && tg_day_weekday(INT32_MAX) <= 7, 1);
}

/* ---------------------------------------------------------------- periods */

static void test_kind_names(void **state)
{
	enum tg_period_kind k;
	static const char *const names[] = { "day", "week", "month", "quarter", "year" };
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++) {
		k = TG_PERIOD_YEAR;
		assert_int_equal(tg_period_kind_parse(names[i], &k), 0);
		assert_int_equal(k, (enum tg_period_kind)i);
		assert_string_equal(tg_period_kind_name(k), names[i]);
	}
	assert_int_equal(tg_period_kind_parse("Month", &k), 0);
	assert_int_equal(k, TG_PERIOD_MONTH);
	assert_int_equal(tg_period_kind_parse("months", &k), -EINVAL);
	assert_int_equal(tg_period_kind_parse("mont", &k), -EINVAL);
	assert_int_equal(tg_period_kind_parse("", &k), -EINVAL);
	assert_int_equal(tg_period_kind_parse(NULL, &k), -EINVAL);
	assert_int_equal(tg_period_kind_parse("mese", &k), -EINVAL);
	assert_string_equal(tg_period_kind_name((enum tg_period_kind)42), "invalid");
}

struct start_case {
	enum tg_period_kind kind;
	int y, m, d;    /* a day */
	int sy, sm, sd; /* the start of its period */
};

static const struct start_case start_cases[] = {
	{ TG_PERIOD_DAY, 2026, 3, 12, 2026, 3, 12 },
	{ TG_PERIOD_WEEK, 2026, 3, 12, 2026, 3, 9 },
	{ TG_PERIOD_WEEK, 2026, 3, 15, 2026, 3, 9 },
	{ TG_PERIOD_WEEK, 2026, 3, 16, 2026, 3, 16 },
	{ TG_PERIOD_WEEK, 2025, 1, 1, 2024, 12, 30 },
	{ TG_PERIOD_WEEK, 2021, 1, 3, 2020, 12, 28 },
	{ TG_PERIOD_WEEK, 1970, 1, 1, 1969, 12, 29 },
	{ TG_PERIOD_MONTH, 2026, 3, 12, 2026, 3, 1 },
	{ TG_PERIOD_MONTH, 2024, 2, 29, 2024, 2, 1 },
	{ TG_PERIOD_MONTH, 2026, 12, 31, 2026, 12, 1 },
	{ TG_PERIOD_QUARTER, 2026, 3, 31, 2026, 1, 1 },
	{ TG_PERIOD_QUARTER, 2026, 4, 1, 2026, 4, 1 },
	{ TG_PERIOD_QUARTER, 2026, 5, 20, 2026, 4, 1 },
	{ TG_PERIOD_QUARTER, 2026, 9, 30, 2026, 7, 1 },
	{ TG_PERIOD_QUARTER, 2026, 12, 31, 2026, 10, 1 },
	{ TG_PERIOD_YEAR, 2026, 12, 31, 2026, 1, 1 },
	{ TG_PERIOD_YEAR, 1969, 6, 1, 1969, 1, 1 },
};

static void test_period_start(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(start_cases) / sizeof(start_cases[0]); i++) {
		const struct start_case *c = &start_cases[i];
		tg_day s = tg_period_start(c->kind, ymd(c->y, c->m, c->d));

		if (s != ymd(c->sy, c->sm, c->sd))
			fail_msg("case %zu: start of %s of %04d-%02d-%02d", i,
				 tg_period_kind_name(c->kind), c->y, c->m, c->d);
		/* a start is its own start */
		assert_int_equal(tg_period_start(c->kind, s), s);
	}
}

struct step_case {
	enum tg_period_kind kind;
	int y, m, d;    /* start */
	int ny, nm, nd; /* next */
};

static const struct step_case step_cases[] = {
	{ TG_PERIOD_DAY, 2026, 12, 31, 2027, 1, 1 },
	{ TG_PERIOD_DAY, 2024, 2, 28, 2024, 2, 29 },
	{ TG_PERIOD_DAY, 2024, 2, 29, 2024, 3, 1 },
	{ TG_PERIOD_DAY, 2025, 2, 28, 2025, 3, 1 },
	{ TG_PERIOD_WEEK, 2026, 12, 28, 2027, 1, 4 },
	{ TG_PERIOD_WEEK, 2024, 12, 23, 2024, 12, 30 },
	{ TG_PERIOD_MONTH, 2026, 1, 1, 2026, 2, 1 },
	{ TG_PERIOD_MONTH, 2026, 12, 1, 2027, 1, 1 },
	{ TG_PERIOD_QUARTER, 2026, 10, 1, 2027, 1, 1 },
	{ TG_PERIOD_QUARTER, 2026, 1, 1, 2026, 4, 1 },
	{ TG_PERIOD_YEAR, 2026, 1, 1, 2027, 1, 1 },
	{ TG_PERIOD_YEAR, 1969, 1, 1, 1970, 1, 1 },
};

static void test_period_next_prev(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(step_cases) / sizeof(step_cases[0]); i++) {
		const struct step_case *c = &step_cases[i];
		tg_day s = ymd(c->y, c->m, c->d), n = ymd(c->ny, c->nm, c->nd);

		if (tg_period_next(c->kind, s) != n)
			fail_msg("case %zu: next %s", i, tg_period_kind_name(c->kind));
		if (tg_period_prev(c->kind, n) != s)
			fail_msg("case %zu: prev %s", i, tg_period_kind_name(c->kind));
	}
	/* a day inside the period steps from the period's start */
	assert_int_equal(tg_period_next(TG_PERIOD_MONTH, ymd(2026, 1, 31)), ymd(2026, 2, 1));
	assert_int_equal(tg_period_prev(TG_PERIOD_MONTH, ymd(2026, 3, 31)), ymd(2026, 2, 1));
	/* the extremes saturate, never overflow */
	assert_int_equal(tg_period_next(TG_PERIOD_DAY, INT32_MAX), INT32_MAX);
	assert_int_equal(tg_period_prev(TG_PERIOD_DAY, INT32_MIN), INT32_MIN);
	(void)tg_period_next(TG_PERIOD_YEAR, INT32_MAX);
	(void)tg_period_prev(TG_PERIOD_WEEK, INT32_MIN);
	(void)tg_period_index_in_year(TG_PERIOD_WEEK, INT32_MAX);
	(void)tg_period_count_in_year(TG_PERIOD_WEEK, 2147483647);
}

static void test_iso_weeks(void **state)
{
	static const struct { int year, weeks; } counts[] = {
		{ 2004, 53 }, { 2009, 53 }, { 2015, 53 }, { 2020, 53 }, { 2021, 52 },
		{ 2024, 52 }, { 2025, 52 }, { 2026, 53 }, { 2032, 53 }, { 2037, 53 },
	};
	size_t i;
	int y;

	(void)state;
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		if (tg_period_count_in_year(TG_PERIOD_WEEK, counts[i].year) != counts[i].weeks)
			fail_msg("case %zu: %d should have %d ISO weeks", i, counts[i].year,
				 counts[i].weeks);
	/* 2024-12-30 (Monday) is in week 1 of 2025 */
	assert_int_equal(tg_period_first_of_year(TG_PERIOD_WEEK, 2025), ymd(2024, 12, 30));
	assert_int_equal(tg_period_year(TG_PERIOD_WEEK, ymd(2024, 12, 30)), 2025);
	assert_int_equal(tg_period_index_in_year(TG_PERIOD_WEEK, ymd(2024, 12, 30)), 0);
	assert_int_equal(tg_period_year(TG_PERIOD_WEEK, ymd(2024, 12, 31)), 2025);
	assert_int_equal(tg_period_first_of_year(TG_PERIOD_WEEK, 2026), ymd(2025, 12, 29));
	assert_int_equal(tg_period_first_of_year(TG_PERIOD_WEEK, 2021), ymd(2021, 1, 4));
	/* 2021-01-03 (Sunday) is in week 53 of 2020 */
	assert_int_equal(tg_period_year(TG_PERIOD_WEEK, ymd(2021, 1, 3)), 2020);
	assert_int_equal(tg_period_index_in_year(TG_PERIOD_WEEK, ymd(2021, 1, 3)), 52);
	assert_int_equal(tg_period_index_in_year(TG_PERIOD_WEEK, ymd(2026, 12, 28)), 52);
	assert_int_equal(tg_period_index_in_year(TG_PERIOD_WEEK, ymd(2026, 3, 12)), 10);
	/* weeks tile the years: first of next year = first + count * 7 */
	for (y = 1900; y <= 2200; y++) {
		tg_day f = tg_period_first_of_year(TG_PERIOD_WEEK, y);

		assert_int_equal(tg_day_weekday(f), 1);
		if (tg_period_first_of_year(TG_PERIOD_WEEK, y + 1) !=
		    f + 7 * tg_period_count_in_year(TG_PERIOD_WEEK, y))
			fail_msg("ISO weeks of %d do not tile", y);
		assert_int_equal(tg_period_year(TG_PERIOD_WEEK, f), y);
		assert_int_equal(tg_period_year(TG_PERIOD_WEEK, f - 1), y - 1);
	}
}

static void test_index_count(void **state)
{
	(void)state;
	assert_int_equal(tg_period_index_in_year(TG_PERIOD_DAY, ymd(2024, 12, 31)), 365);
	assert_int_equal(tg_period_index_in_year(TG_PERIOD_DAY, ymd(2025, 12, 31)), 364);
	assert_int_equal(tg_period_index_in_year(TG_PERIOD_DAY, ymd(2025, 1, 1)), 0);
	assert_int_equal(tg_period_index_in_year(TG_PERIOD_MONTH, ymd(2026, 3, 1)), 2);
	assert_int_equal(tg_period_index_in_year(TG_PERIOD_QUARTER, ymd(2026, 1, 1)), 0);
	assert_int_equal(tg_period_index_in_year(TG_PERIOD_QUARTER, ymd(2026, 10, 1)), 3);
	assert_int_equal(tg_period_index_in_year(TG_PERIOD_YEAR, ymd(2026, 1, 1)), 0);
	assert_int_equal(tg_period_count_in_year(TG_PERIOD_DAY, 2024), 366);
	assert_int_equal(tg_period_count_in_year(TG_PERIOD_DAY, 2100), 365);
	assert_int_equal(tg_period_count_in_year(TG_PERIOD_DAY, 2000), 366);
	assert_int_equal(tg_period_count_in_year(TG_PERIOD_MONTH, 2026), 12);
	assert_int_equal(tg_period_count_in_year(TG_PERIOD_QUARTER, 2026), 4);
	assert_int_equal(tg_period_count_in_year(TG_PERIOD_YEAR, 2026), 1);
	assert_int_equal(tg_period_first_of_year(TG_PERIOD_MONTH, 2026), ymd(2026, 1, 1));
	assert_int_equal(tg_period_first_of_year(TG_PERIOD_QUARTER, 2026), ymd(2026, 1, 1));
	assert_int_equal(tg_period_year(TG_PERIOD_QUARTER, ymd(2026, 10, 1)), 2026);
	assert_int_equal(tg_period_year(TG_PERIOD_DAY, ymd(2024, 12, 31)), 2024);
}

/* Walking every period of 1999..2031 with next: index runs 0..count-1 and
 * the year changes exactly when the index returns to 0. */
static void test_walk(void **state)
{
	enum tg_period_kind k;

	(void)state;
	for (k = TG_PERIOD_DAY; k <= TG_PERIOD_YEAR; k++) {
		tg_day s = tg_period_first_of_year(k, 1999);
		int year = 1999, idx = 0;

		while (year < 2031) {
			assert_int_equal(tg_period_year(k, s), year);
			if (tg_period_index_in_year(k, s) != idx)
				fail_msg("%s index of day %d", tg_period_kind_name(k), s);
			assert_int_equal(tg_period_prev(k, tg_period_next(k, s)), s);
			s = tg_period_next(k, s);
			if (++idx == tg_period_count_in_year(k, year)) {
				idx = 0;
				year++;
				assert_int_equal(s, tg_period_first_of_year(k, year));
			}
		}
	}
}

struct label_case {
	enum tg_period_kind kind;
	int y, m, d;
	const char *it, *en;
};

static const struct label_case label_cases[] = {
	{ TG_PERIOD_DAY, 2026, 3, 12, "12/03/2026", "2026-03-12" },
	{ TG_PERIOD_DAY, 2024, 2, 29, "29/02/2024", "2024-02-29" },
	{ TG_PERIOD_WEEK, 2026, 3, 9, "sett. 11/2026", "week 11/2026" },
	{ TG_PERIOD_WEEK, 2024, 12, 30, "sett. 01/2025", "week 01/2025" },
	{ TG_PERIOD_WEEK, 2026, 12, 28, "sett. 53/2026", "week 53/2026" },
	{ TG_PERIOD_MONTH, 2026, 3, 1, "marzo 2026", "March 2026" },
	{ TG_PERIOD_MONTH, 2026, 1, 1, "gennaio 2026", "January 2026" },
	{ TG_PERIOD_MONTH, 2025, 12, 1, "dicembre 2025", "December 2025" },
	{ TG_PERIOD_QUARTER, 2026, 1, 1, "1\xc2\xb0 trim. 2026", "Q1 2026" },
	{ TG_PERIOD_QUARTER, 2026, 10, 1, "4\xc2\xb0 trim. 2026", "Q4 2026" },
	{ TG_PERIOD_YEAR, 2026, 1, 1, "2026", "2026" },
};

static void test_labels(void **state)
{
	char buf[64], small[5];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(label_cases) / sizeof(label_cases[0]); i++) {
		const struct label_case *c = &label_cases[i];
		tg_day s = ymd(c->y, c->m, c->d);

		if (strcmp(tg_period_label(c->kind, s, "it", buf, sizeof(buf)), c->it) != 0)
			fail_msg("case %zu: it label '%s', expected '%s'", i, buf, c->it);
		if (strcmp(tg_period_label(c->kind, s, "en", buf, sizeof(buf)), c->en) != 0)
			fail_msg("case %zu: en label '%s', expected '%s'", i, buf, c->en);
	}
	assert_string_equal(tg_period_label(TG_PERIOD_MONTH, ymd(2026, 3, 1), NULL, buf, sizeof(buf)),
			    "marzo 2026");
	assert_string_equal(tg_period_label(TG_PERIOD_MONTH, ymd(2026, 3, 1), "en_GB", buf, sizeof(buf)),
			    "March 2026");
	assert_string_equal(tg_period_label(TG_PERIOD_MONTH, ymd(2026, 3, 1), "de", buf, sizeof(buf)),
			    "marzo 2026");
	/* a day inside the period labels the period */
	assert_string_equal(tg_period_label(TG_PERIOD_MONTH, ymd(2026, 3, 17), "it", buf, sizeof(buf)),
			    "marzo 2026");
	/* truncated, still terminated */
	assert_ptr_equal(tg_period_label(TG_PERIOD_MONTH, ymd(2026, 3, 1), "it", small, sizeof(small)),
			 small);
	assert_string_equal(small, "marz");
	assert_null(tg_period_label(TG_PERIOD_DAY, 0, "it", NULL, 0));
	assert_string_equal(tg_day_iso(ymd(2026, 3, 12), buf, sizeof(buf)), "2026-03-12");
	assert_string_equal(tg_day_iso(ymd(1, 1, 1), buf, sizeof(buf)), "0001-01-01");
	(void)tg_day_iso(INT32_MIN, buf, sizeof(buf));
	(void)tg_day_iso(INT32_MAX, buf, sizeof(buf));
}

/* Every label parses back to its period, in both languages. */
static void test_label_roundtrip(void **state)
{
	static const char *const langs[] = { "it", "en" };
	struct tg_error err = { "" };
	struct tg_date dt;
	char buf[64];
	enum tg_period_kind k;
	tg_day day;
	size_t l;

	(void)state;
	for (day = ymd(1990, 1, 1); day < ymd(2040, 1, 1); day += 3) {
		for (k = TG_PERIOD_DAY; k <= TG_PERIOD_YEAR; k++) {
			tg_day s = tg_period_start(k, day);

			for (l = 0; l < 2; l++) {
				tg_period_label(k, s, langs[l], buf, sizeof(buf));
				if (tg_date_parse(buf, strlen(buf), NULL, &dt, &err) != 0)
					fail_msg("label '%s' does not parse: %s", buf, err.msg);
				if (dt.day != s || dt.precision != k)
					fail_msg("label '%s' parses to day %d precision %d", buf,
						 dt.day, dt.precision);
			}
		}
	}
}

/* ----------------------------------------------------------- date parsing */

struct date_case {
	const char *in;
	const char *fmt;
	int y, m, d;                  /* expected first day; y == 0: an error */
	enum tg_period_kind precision;
	const char *msg;              /* for errors: a substring of the message */
};

#define DAY(s, y, m, d) { s, NULL, y, m, d, TG_PERIOD_DAY, NULL }
#define MON(s, y, m) { s, NULL, y, m, 1, TG_PERIOD_MONTH, NULL }
#define QTR(s, y, m) { s, NULL, y, m, 1, TG_PERIOD_QUARTER, NULL }
#define WEEK(s, y, m, d) { s, NULL, y, m, d, TG_PERIOD_WEEK, NULL }
#define YEAR(s, y) { s, NULL, y, 1, 1, TG_PERIOD_YEAR, NULL }
#define BAD(s, msg) { s, NULL, 0, 0, 0, TG_PERIOD_DAY, msg }
#define FDAY(s, f, y, m, d) { s, f, y, m, d, TG_PERIOD_DAY, NULL }
#define FMON(s, f, y, m) { s, f, y, m, 1, TG_PERIOD_MONTH, NULL }
#define FBAD(s, f, msg) { s, f, 0, 0, 0, TG_PERIOD_DAY, msg }

static const struct date_case date_cases[] = {
	/* day first, Italian */
	DAY("12/03/2026", 2026, 3, 12),
	DAY("1/3/2026", 2026, 3, 1),
	DAY("01/03/2026", 2026, 3, 1),
	DAY("12-03-2026", 2026, 3, 12),
	DAY("12.03.2026", 2026, 3, 12),
	DAY("12/03/2026 10:30", 2026, 3, 12),
	DAY("12/03/2026 10:30:15", 2026, 3, 12),
	DAY("12/03/2026 9:05", 2026, 3, 12),
	DAY("  12/03/2026  ", 2026, 3, 12),
	DAY("\t12/03/2026\r\n", 2026, 3, 12),
	DAY("\xc2\xa0" "12/03/2026" "\xe2\x80\xaf", 2026, 3, 12),
	DAY("31/12/2026", 2026, 12, 31),
	DAY("01/01/2027", 2027, 1, 1),
	DAY("29/02/2024", 2024, 2, 29),
	DAY("29/02/2000", 2000, 2, 29),
	DAY("31/12/9999", 9999, 12, 31),
	DAY("01/01/0001", 1, 1, 1),
	/* ISO and SQL */
	DAY("2026-03-12", 2026, 3, 12),
	DAY("2026/03/12", 2026, 3, 12),
	DAY("2026-03-12T10:30", 2026, 3, 12),
	DAY("2026-03-12t10:30:00", 2026, 3, 12),
	DAY("2026-03-12T10:30:00.123Z", 2026, 3, 12),
	DAY("2026-03-12T23:59:59+01:00", 2026, 3, 12),
	DAY("2026-03-12T00:00:00-0530", 2026, 3, 12),
	DAY("2026-03-12 10:30:00", 2026, 3, 12),
	DAY("2026-03-12 10:30", 2026, 3, 12),
	DAY("2026-03-12 10:30:00.123456+01", 2026, 3, 12),
	DAY("2024-02-29", 2024, 2, 29),
	/* months */
	MON("2026-03", 2026, 3),
	MON("2026/03", 2026, 3),
	MON("2026-3", 2026, 3),
	MON("03/2026", 2026, 3),
	MON("3/2026", 2026, 3),
	MON("12-2026", 2026, 12),
	MON("Gennaio 2026", 2026, 1),
	MON("GENNAIO 2026", 2026, 1),
	MON("gen 2026", 2026, 1),
	MON("gen. 2026", 2026, 1),
	MON("Lug 2022", 2022, 7),
	MON("gen-26", 2026, 1),
	MON("January 2026", 2026, 1),
	MON("Jan-2026", 2026, 1),
	MON("febbraio 2026", 2026, 2),
	MON("Feb. 26", 2026, 2),
	MON("marzo 2026", 2026, 3),
	MON("Mar 2026", 2026, 3),
	MON("aprile 2026", 2026, 4),
	MON("apr 2026", 2026, 4),
	MON("maggio 2026", 2026, 5),
	MON("mag 2026", 2026, 5),
	MON("May 2026", 2026, 5),
	MON("giugno 2026", 2026, 6),
	MON("giu-26", 2026, 6),
	MON("June 2026", 2026, 6),
	MON("luglio 2026", 2026, 7),
	MON("jul 2026", 2026, 7),
	MON("agosto 2026", 2026, 8),
	MON("ago 2026", 2026, 8),
	MON("Aug 2026", 2026, 8),
	MON("settembre 2026", 2026, 9),
	MON("set 2026", 2026, 9),
	MON("sett. 2026", 2026, 9),
	MON("Sept 2026", 2026, 9),
	MON("Sep 2026", 2026, 9),
	MON("ottobre 2026", 2026, 10),
	MON("ott 2026", 2026, 10),
	MON("Oct 2026", 2026, 10),
	MON("novembre 2026", 2026, 11),
	MON("nov. 2026", 2026, 11),
	MON("dicembre 2025", 2025, 12),
	MON("dic 2025", 2025, 12),
	MON("Dec-25", 2025, 12),
	MON("gen.2026", 2026, 1),
	MON("marzo\xc2\xa0" "2026", 2026, 3),
	MON("marzo   2026", 2026, 3),
	DAY("12 marzo 2026", 2026, 3, 12),
	DAY("12-mar-2026", 2026, 3, 12),
	DAY("1 gen 26", 2026, 1, 1),
	DAY("29 feb 2024", 2024, 2, 29),
	/* quarters */
	QTR("2026-Q1", 2026, 1),
	QTR("2026 Q2", 2026, 4),
	QTR("2026q3", 2026, 7),
	QTR("Q3 2026", 2026, 7),
	QTR("Q4-2026", 2026, 10),
	QTR("q1/2026", 2026, 1),
	QTR("1\xc2\xb0 trimestre 2026", 2026, 1),
	QTR("2\xc2\xba trimestre 2026", 2026, 4),
	QTR("1\xc2\xb0 trim. 2026", 2026, 1),
	QTR("3 trim 2026", 2026, 7),
	QTR("I trim 2026", 2026, 1),
	QTR("II trim. 2026", 2026, 4),
	QTR("III trimestre 2026", 2026, 7),
	QTR("IV trim 2026", 2026, 10),
	/* ISO weeks */
	WEEK("2026-W01", 2025, 12, 29),
	WEEK("2026-W11", 2026, 3, 9),
	WEEK("2026-w53", 2026, 12, 28),
	WEEK("2020-W53", 2020, 12, 28),
	WEEK("2025-W01", 2024, 12, 30),
	WEEK("2026W11", 2026, 3, 9),
	WEEK("2026 W1", 2025, 12, 29),
	WEEK("sett. 11/2026", 2026, 3, 9),
	WEEK("settimana 11/2026", 2026, 3, 9),
	WEEK("week 11/2026", 2026, 3, 9),
	/* years */
	YEAR("2026", 2026),
	YEAR("1000", 1000),
	YEAR("9999", 9999),
	YEAR(" 2026 ", 2026),
	/* with a format */
	FDAY("12/03/2026", "%d/%m/%Y", 2026, 3, 12),
	FDAY("5/3/2026", "%d/%m/%Y", 2026, 3, 5),
	FDAY(" 5/3/2026", "%e/%m/%Y", 2026, 3, 5),
	FDAY("2026-03-12", "%Y-%m-%d", 2026, 3, 12),
	FDAY("12/03/26", "%d/%m/%y", 2026, 3, 12),
	FDAY("12 Mar 2026 10:30:00", "%d %b %Y %H:%M:%S", 2026, 3, 12),
	FDAY("12 marzo   2026", "%d %B %Y", 2026, 3, 12),
	FDAY("12.mar.2026", "%d.%b.%Y", 2026, 3, 12),
	FDAY("12 gen. 2026", "%d %b %Y", 2026, 1, 12),
	FDAY("12032026", "%d%m%Y", 2026, 3, 12),
	FDAY("D12/03/2026", "d%d/%m/%Y", 2026, 3, 12),
	FMON("2026.03", "%Y.%m", 2026, 3),
	FMON("marzo 2026", "%B %Y", 2026, 3),
	FMON("mar. 26", "%b %y", 2026, 3),
	FMON("100%03/2026", "100%%%m/%Y", 2026, 3),
	{ "2026", "%Y", 2026, 1, 1, TG_PERIOD_YEAR, NULL },
	{ "FY2026", "FY%Y", 2026, 1, 1, TG_PERIOD_YEAR, NULL },

	/* impossible dates */
	BAD("31/02/2026", "'31/02/2026' is not a valid date: February 2026 has 28 days"),
	BAD("29/02/2025", "February 2025 has 28 days"),
	BAD("29/02/1900", "February 1900 has 28 days"),
	BAD("30/02/2024", "February 2024 has 29 days"),
	BAD("31/04/2026", "April 2026 has 30 days"),
	BAD("32/01/2026", "January 2026 has 31 days"),
	BAD("00/01/2026", "there is no day 0"),
	BAD("12/13/2026", "there is no month 13"),
	BAD("12/00/2026", "there is no month 0"),
	BAD("2026-02-30", "February 2026 has 28 days"),
	BAD("2026-13-01", "there is no month 13"),
	BAD("2026-13", "there is no month 13"),
	BAD("13/2026", "there is no month 13"),
	BAD("0/2026", "there is no month 0"),
	BAD("01/01/0000", "year 0 is out of range"),
	BAD("29 feb 2025", "February 2025 has 28 days"),
	BAD("12/03/26", "four digits"),
	BAD("12/03/202", "four digits"),
	/* quarters and weeks that do not exist */
	BAD("2026-Q5", "there is no quarter 5"),
	BAD("Q0 2026", "there is no quarter 0"),
	BAD("5\xc2\xb0 trimestre 2026", "there is no quarter 5"),
	BAD("2025-W53", "2025 has 52 ISO weeks"),
	BAD("2026-W54", "there is no week 54"),
	BAD("2026-W00", "there is no week 0"),
	/* times */
	BAD("12/03/2026 25:00", "not a valid time"),
	BAD("2026-03-12T10:60", "not a valid time"),
	BAD("2026-03-12T24:00:00", "not a valid time"),
	BAD("2026-03-12T10:00:00+25:00", "offset"),
	BAD("2026-03-12T10", "is not a date"),
	BAD("2026-03-12T", "is not a date"),
	BAD("12/03/2026 10", "is not a date"),
	/* not dates at all */
	BAD("", "'' is not a date: the text is empty"),
	BAD("   ", "the text is empty"),
	BAD("hello", "'hello' is not a date"),
	BAD("foo 2026", "'foo' is not a month name"),
	BAD("ma 2026", "'ma' is not a month name"),
	BAD("mars 2026", "'mars' is not a month name"),
	BAD("marzo", "is not a date"),
	BAD("marzo 202", "is not a date"),
	BAD("999", "a year alone must be between 1000 and 9999"),
	BAD("0042", "a year alone"),
	BAD("46093", "serial number"),
	BAD("12/03-2026", "is not a date"),
	BAD("2026-03/12", "is not a date"),
	BAD("2026-03-12x", "is not a date"),
	BAD("12//2026", "is not a date"),
	BAD("-2026", "is not a date"),
	BAD("2026-Q", "is not a date"),
	BAD("Q12 2026", "is not a date"),
	BAD("12/03/2026\x01", "control byte \\x01"),
	BAD("it's 2026", "'it\\x27s 2026' is not a date"),
	BAD("\xff\xfe 2026", "'\\xff\\xfe 2026' is not a date"),
	BAD("marzo\xc2\x85 2026", "'marzo\\xc2\\x85 2026' is not a date"),    /* C1 NEL */
	BAD("01234567890123456789012345678901234567890123456789012345678901234567890123456789",
	    "too long"),
	/* with a format */
	FBAD("gen 2026", "%d/%m/%Y", "does not match date_format '%d/%m/%Y'"),
	FBAD("12/03/2026", "%Y-%m-%d", "expected a four-digit year"),
	FBAD("31/02/2026", "%d/%m/%Y", "February 2026 has 28 days"),
	FBAD("12/03/2026", "%d/%q/%Y", "unknown directive '%q'"),
	FBAD("foo 2026", "%b %Y", "'foo' is not a month name"),
	FBAD("12/03/2026 extra", "%d/%m/%Y", "unexpected ' extra' at the end"),
	FBAD("12/03", "%d/%m/%Y", "expected '/'"),
	FBAD("12/03/2026", "%d/%m", "has no year"),
	FBAD("2026-03-12 25:00", "%Y-%m-%d %H:%M", "an hour (0-23)"),
	FBAD("12/03/2026", "", "date_format is empty"),
	FBAD("", "%d/%m/%Y", "the text is empty"),
};

static void test_date_parse(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]); i++) {
		const struct date_case *c = &date_cases[i];
		struct tg_error err = { "" };
		struct tg_date dt = { -12345, TG_PERIOD_YEAR };
		size_t len = strlen(c->in);
		char *buf = exact_copy(c->in, len);
		int rc = tg_date_parse(buf, len, c->fmt, &dt, &err);

		free(buf);
		if (c->y != 0) {
			if (rc != 0)
				fail_msg("case %zu '%s': unexpected error: %s", i, c->in, err.msg);
			if (dt.day != ymd(c->y, c->m, c->d) || dt.precision != c->precision) {
				char iso[16];

				fail_msg("case %zu '%s': got %s precision %s, expected %04d-%02d-%02d %s",
					 i, c->in, tg_day_iso(dt.day, iso, sizeof(iso)),
					 tg_period_kind_name(dt.precision), c->y, c->m, c->d,
					 tg_period_kind_name(c->precision));
			}
			/* the day is the first of what was written */
			assert_int_equal(tg_period_start(dt.precision, dt.day), dt.day);
		} else {
			if (rc != -EINVAL)
				fail_msg("case %zu '%s': expected an error, got rc %d", i, c->in, rc);
			if (strstr(err.msg, c->msg) == NULL)
				fail_msg("case %zu '%s': message '%s' does not contain '%s'", i, c->in,
					 err.msg, c->msg);
		}
	}
}

/* Every 3+ letter prefix of every month name, in both languages, is that
 * month: the abbreviations never clash. */
static void test_month_prefixes(void **state)
{
	static const char *const names[2][12] = {
		{ "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio",
		  "agosto", "settembre", "ottobre", "novembre", "dicembre" },
		{ "january", "february", "march", "april", "may", "june", "july", "august",
		  "september", "october", "november", "december" },
	};
	struct tg_error err = { "" };
	struct tg_date dt;
	char buf[64];
	size_t l, n;
	int m;

	(void)state;
	for (l = 0; l < 2; l++) {
		for (m = 0; m < 12; m++) {
			for (n = 3; n <= strlen(names[l][m]); n++) {
				snprintf(buf, sizeof(buf), "%.*s 2026", (int)n, names[l][m]);
				if (tg_date_parse(buf, strlen(buf), NULL, &dt, &err) != 0)
					fail_msg("'%s': %s", buf, err.msg);
				if (dt.day != ymd(2026, m + 1, 1) || dt.precision != TG_PERIOD_MONTH)
					fail_msg("'%s' is not month %d", buf, m + 1);
				snprintf(buf, sizeof(buf), "%.*s. 2026", (int)n, names[l][m]);
				assert_int_equal(tg_date_parse(buf, strlen(buf), NULL, &dt, &err), 0);
				assert_int_equal(dt.day, ymd(2026, m + 1, 1));
			}
		}
	}
}

static void test_date_parse_bounds(void **state)
{
	struct tg_error err = { "" };
	struct tg_date dt = { 7, TG_PERIOD_YEAR };
	const char text[] = "12/03/2026 garbage";
	char *buf;

	(void)state;
	/* only s[0..len) is read: the prefix is a date */
	buf = exact_copy(text, 10);
	assert_int_equal(tg_date_parse(buf, 10, NULL, &dt, &err), 0);
	assert_int_equal(dt.day, ymd(2026, 3, 12));
	assert_int_equal(tg_date_parse(buf, 10, "%d/%m/%Y", &dt, &err), 0);
	free(buf);
	/* an embedded NUL is an error, not the end of the text */
	assert_int_equal(tg_date_parse("2026\0-03-12", 11, NULL, &dt, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "\\x00"));
	assert_int_equal(tg_date_parse(NULL, 0, NULL, &dt, &err), -EINVAL);
	assert_int_equal(tg_date_parse(NULL, 5, NULL, &dt, &err), -EINVAL);
	/* out may be NULL (validation only), err may be NULL */
	assert_int_equal(tg_date_parse("2026-03", 7, NULL, NULL, NULL), 0);
	assert_int_equal(tg_date_parse("2026-13", 7, NULL, NULL, NULL), -EINVAL);
	/* long text is quoted truncated */
	assert_int_equal(tg_date_parse("this is not a date and it goes on", 33, NULL, &dt, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "'this is not a date and it goes on'"));
	buf = malloc(5000);
	if (buf == NULL)
		abort();
	memset(buf, '9', 5000);
	assert_int_equal(tg_date_parse(buf, 5000, NULL, &dt, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "...'"));
	assert_true(strlen(err.msg) < 200);
	free(buf);
}

static void test_date_format_check(void **state)
{
	static const struct { const char *fmt; const char *msg; } cases[] = {
		{ "%d/%m/%Y", NULL },
		{ "%Y-%m-%d", NULL },
		{ "%Y-%m-%dT%H:%M:%S", NULL },
		{ "%b %Y", NULL },
		{ "%B %y", NULL },
		{ "%e %b %Y", NULL },
		{ "%Y", NULL },
		{ "%m/%Y", NULL },
		{ "%%%Y", NULL },
		{ "", "empty" },
		{ "%d/%m", "has no year" },
		{ "%d/%Y", "a day but no month" },
		{ "%q/%m/%Y", "unknown directive '%q'" },
		{ "%j %Y", "unknown directive '%j'" },
		{ "%d/%d/%Y", "a day appears twice" },
		{ "%Y %y", "a year appears twice" },
		{ "%m %b %Y", "a month appears twice" },
		{ "%Y%", "a lone '%' at the end" },
		{ "%d/%m/%Y %\x01", "unknown directive" },
	};
	struct tg_error err = { "" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = tg_date_format_check(cases[i].fmt, &err);

		if (cases[i].msg == NULL && rc != 0)
			fail_msg("case %zu '%s': %s", i, cases[i].fmt, err.msg);
		if (cases[i].msg != NULL && (rc != -EINVAL || strstr(err.msg, cases[i].msg) == NULL))
			fail_msg("case %zu '%s': rc %d message '%s', expected '%s'", i, cases[i].fmt,
				 rc, err.msg, cases[i].msg);
	}
	assert_int_equal(tg_date_format_check(NULL, &err), -EINVAL);
}

/* -------------------------------------------------------------- durations */

static void test_duration_parse(void **state)
{
	static const struct { const char *in; int rc; int64_t secs; const char *msg; } cases[] = {
		{ "90s", 0, 90, NULL },
		{ "15m", 0, 900, NULL },
		{ "12h", 0, 43200, NULL },
		{ "7d", 0, 604800, NULL },
		{ "2w", 0, 1209600, NULL },
		{ "1h30m", 0, 5400, NULL },
		{ "1d12h", 0, 129600, NULL },
		{ "1w2d3h4m5s", 0, 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5, NULL },
		{ "1h 30m", 0, 5400, NULL },
		{ "  10m ", 0, 600, NULL },
		{ "0h30m", 0, 1800, NULL },
		{ "3653d", 0, 3653LL * 86400, NULL },
		{ "", -EINVAL, 0, "empty" },
		{ "   ", -EINVAL, 0, "empty" },
		{ "10", -EINVAL, 0, "no unit" },
		{ "10 m", -EINVAL, 0, "no unit" },
		{ "5x", -EINVAL, 0, "unknown unit 'x'" },
		{ "1H", -EINVAL, 0, "unknown unit 'H'" },
		{ "-1d", -EINVAL, 0, "positive" },
		{ "0s", -EINVAL, 0, "positive" },
		{ "0d0h", -EINVAL, 0, "positive" },
		{ "30m1h", -EINVAL, 0, "largest to the smallest" },
		{ "1h1h", -EINVAL, 0, "largest to the smallest" },
		{ "h", -EINVAL, 0, "expected a number" },
		{ "1.5h", -EINVAL, 0, "unknown unit '.'" },
		{ "+1h", -EINVAL, 0, "expected a number" },
		{ "99999999999d", -ERANGE, 0, "at most 10 years" },
		{ "3654d", -ERANGE, 0, "at most 10 years" },
		{ "600w", -ERANGE, 0, "at most 10 years" },
		{ "99999999999999999999999999999s", -ERANGE, 0, "at most 10 years" },
		{ "3000d3000d", -EINVAL, 0, "largest to the smallest" },
		{ "3000d90000h", -ERANGE, 0, "at most 10 years" },
	};
	struct tg_error err = { "" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t secs = -1;
		int rc = tg_duration_parse(cases[i].in, &secs, &err);

		if (rc != cases[i].rc)
			fail_msg("case %zu '%s': rc %d, expected %d (%s)", i, cases[i].in, rc,
				 cases[i].rc, err.msg);
		if (rc == 0 && secs != cases[i].secs)
			fail_msg("case %zu '%s': %lld seconds", i, cases[i].in, (long long)secs);
		if (rc != 0 && strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %zu '%s': message '%s' lacks '%s'", i, cases[i].in, err.msg,
				 cases[i].msg);
	}
	assert_int_equal(tg_duration_parse(NULL, NULL, &err), -EINVAL);
}

static void test_duration_format(void **state)
{
	static const struct { int64_t secs; const char *out; } cases[] = {
		{ 0, "0s" }, { 1, "1s" }, { 90, "1m30s" }, { 900, "15m" }, { 3600, "1h" },
		{ 5400, "1h30m" }, { 43200, "12h" }, { 86400, "1d" }, { 86401, "1d1s" },
		{ 604800, "7d" }, { 1209600, "2w" }, { 14 * 86400 + 1, "2w1s" }, { 8 * 86400, "8d" },
		{ 3653LL * 86400, "3653d" }, { -60, "-1m" }, { INT64_MIN, "-106751991167300d15h30m8s" },
	};
	char buf[64], small[3];
	size_t i;
	int64_t s, back;
	struct tg_error err;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(tg_duration_format(cases[i].secs, buf, sizeof(buf)), cases[i].out) != 0)
			fail_msg("case %zu: %lld -> '%s', expected '%s'", i,
				 (long long)cases[i].secs, buf, cases[i].out);
	/* format then parse is the identity */
	for (s = 1; s <= 3653LL * 86400; s = s * 3 + 7) {
		tg_duration_format(s, buf, sizeof(buf));
		assert_int_equal(tg_duration_parse(buf, &back, &err), 0);
		assert_int_equal(back, s);
	}
	assert_string_equal(tg_duration_format(5400, small, sizeof(small)), "1h");
	assert_null(tg_duration_format(1, NULL, 0));
}

/* ------------------------------------------------------------------ times */

static void test_time_parse(void **state)
{
	static const struct { const char *in; int ok; int y, m, d, hh, mm, ss; const char *msg; } cases[] = {
		{ "2026-03-12", 1, 2026, 3, 12, 0, 0, 0, NULL },
		{ "2026-03-12T10:30", 1, 2026, 3, 12, 10, 30, 0, NULL },
		{ "2026-03-12T10:30:15", 1, 2026, 3, 12, 10, 30, 15, NULL },
		{ "2026-03-12 23:59:59", 1, 2026, 3, 12, 23, 59, 59, NULL },
		{ " 1969-12-31T23:59 ", 1, 1969, 12, 31, 23, 59, 0, NULL },
		{ "2024-02-29T00:00", 1, 2024, 2, 29, 0, 0, 0, NULL },
		{ "2026-3-12", 0, 0, 0, 0, 0, 0, 0, "expected YYYY-MM-DD" },
		{ "12/03/2026", 0, 0, 0, 0, 0, 0, 0, "expected YYYY-MM-DD" },
		{ "2026-03-12T25:00", 0, 0, 0, 0, 0, 0, 0, "out of range" },
		{ "2026-03-12T10:30:60", 0, 0, 0, 0, 0, 0, 0, "out of range" },
		{ "2026-03-12T10", 0, 0, 0, 0, 0, 0, 0, "expected" },
		{ "2026-03-12T10:30Z", 0, 0, 0, 0, 0, 0, 0, "expected" },
		{ "2026-02-30", 0, 0, 0, 0, 0, 0, 0, "February 2026 has 28 days" },
		{ "2025-02-29T10:00", 0, 0, 0, 0, 0, 0, 0, "February 2025 has 28 days" },
		{ "", 0, 0, 0, 0, 0, 0, 0, "empty" },
	};
	struct tg_error err = { "" };
	tg_time t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = tg_time_parse(cases[i].in, &t, &err);

		if (cases[i].ok) {
			if (rc != 0)
				fail_msg("case %zu '%s': %s", i, cases[i].in, err.msg);
			if (t != (tg_time)ymd(cases[i].y, cases[i].m, cases[i].d) * 86400 +
				     cases[i].hh * 3600 + cases[i].mm * 60 + cases[i].ss)
				fail_msg("case %zu '%s': wrong time %lld", i, cases[i].in, (long long)t);
		} else if (rc != -EINVAL || strstr(err.msg, cases[i].msg) == NULL) {
			fail_msg("case %zu '%s': rc %d message '%s'", i, cases[i].in, rc, err.msg);
		}
	}
	assert_int_equal(tg_time_parse(NULL, &t, &err), -EINVAL);
	assert_int_equal(tg_time_parse("1969-12-31T23:59", &t, &err), 0);
	assert_int_equal(tg_time_day(t), -1);
	assert_int_equal(tg_time_day(-86400), -1);
	assert_int_equal(tg_time_day(-86401), -2);
	assert_int_equal(tg_time_day(86399), 0);
}

/*
 * dd/mm/yyyy and yyyy-mm-dd written exactly so take a fast path; with a
 * leading space (trimmed by the general path) the same text goes the
 * general way.  Both must agree on the date, its precision and the error.
 */
static void date_both_ways(size_t ci, const char *s, const char *fmt)
{
	char spaced[64];
	struct tg_date d1 = { -1, TG_PERIOD_YEAR }, d2 = { -1, TG_PERIOD_YEAR };
	struct tg_error e1, e2;
	int r1, r2;

	snprintf(spaced, sizeof(spaced), " %s", s);
	tg_error_clear(&e1);
	tg_error_clear(&e2);
	r1 = tg_date_parse(s, strlen(s), fmt, &d1, &e1);
	r2 = tg_date_parse(spaced, strlen(spaced), fmt, &d2, &e2);
	if (r1 != r2 || (r1 == 0 && (d1.day != d2.day || d1.precision != d2.precision)) ||
	    strcmp(e1.msg, e2.msg) != 0) {
		print_error("case %zu '%s' format %s: %d day %d prec %d '%s' vs general %d day %d prec %d '%s'\n",
			    ci, s, fmt ? fmt : "(none)", r1, (int)d1.day, (int)d1.precision, e1.msg,
			    r2, (int)d2.day, (int)d2.precision, e2.msg);
		fail();
	}
}

static void test_date_fast_path(void **state)
{
	static const char *const fmts[] = { NULL, "%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%m/%d/%Y" };
	static const char *const cases[] = {
		"01/03/2019", "31/12/9999", "01/01/0001", "00/01/2019", "29/02/2020", "29/02/2019",
		"31/04/2019", "01/13/2019", "01/00/2019", "01/01/0000", "1/03/2019x", "01-03-2019",
		"2019-03-01", "9999-12-31", "0000-01-01", "2019-02-29", "2020-02-29", "2019-13-01",
		"2019-00-10", "2019-01-32", "2019/03/01", "0a/03/2019", "01/03/20a9", "2019-0a-01",
		"01/03/2019", "12/11/2026",
	};
	unsigned x = 2463534242u;

	(void)state;
	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++)
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			date_both_ways(i, cases[i], fmts[f]);
	/* random digits in both shapes */
	for (size_t i = 0; i < 100000; i++) {
		char s[16];

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		if (x & 1)
			snprintf(s, sizeof(s), "%02u/%02u/%04u", x % 33, (x >> 6) % 14, (x >> 10) % 10000);
		else
			snprintf(s, sizeof(s), "%04u-%02u-%02u", (x >> 10) % 10000, (x >> 6) % 14, x % 33);
		date_both_ways(i, s, fmts[(x >> 24) % 3]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_days),
		cmocka_unit_test(test_date_fast_path),
		cmocka_unit_test(test_every_day),
		cmocka_unit_test(test_ymd_valid),
		cmocka_unit_test(test_from_ymd_normalises),
		cmocka_unit_test(test_weekday),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_period_start),
		cmocka_unit_test(test_period_next_prev),
		cmocka_unit_test(test_iso_weeks),
		cmocka_unit_test(test_index_count),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_label_roundtrip),
		cmocka_unit_test(test_date_parse),
		cmocka_unit_test(test_month_prefixes),
		cmocka_unit_test(test_date_parse_bounds),
		cmocka_unit_test(test_date_format_check),
		cmocka_unit_test(test_duration_parse),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_time_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
