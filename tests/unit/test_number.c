/*
 * test_number.c — locale-free number parsing and formatting (lib/number.c).
 *
 * Parsing is driven from a table of good and bad text in several dialects;
 * every input is copied into a buffer of exactly its length (no NUL) so that
 * AddressSanitizer catches a read past s[len].  Exactness is checked against
 * glibc's correctly rounded strtod on random and known-hard decimals.
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
#include <float.h>
#include <locale.h>
#include <math.h>

#include "number.h"

static const char *const missing_list[] = { "n.d.", "-", " N/A ", "", NULL };

static const struct tg_number_format IT = { ',', '.', missing_list, 5, false };
static const struct tg_number_format IT0 = { ',', 0, NULL, 0, false };
static const struct tg_number_format C = { '.', 0, NULL, 0, false };
static const struct tg_number_format EN = { '.', ',', NULL, 0, false };
static const struct tg_number_format SP = { ',', ' ', NULL, 0, false };
static const struct tg_number_format AP = { '.', '\'', NULL, 0, false };

static char *exact_copy(const char *s, size_t len)
{
	char *p = malloc(len > 0 ? len : 1);

	if (p == NULL)
		abort();
	memcpy(p, s, len);
	return p;
}

/* Parses s[0..len) from an exact-size copy. */
static int parse(const char *s, size_t len, const struct tg_number_format *fmt, double *out,
		 struct tg_error *err)
{
	char *buf = exact_copy(s, len);
	int rc = tg_number_parse(buf, len, fmt, out, err);

	free(buf);
	return rc;
}

struct num_case {
	const char *in;
	const struct tg_number_format *fmt;
	int rc;
	double value;
	const char *msg; /* for errors: a substring of the message */
};

#define OK(s, f, v) { s, &f, TG_NUMBER_VALUE, v, NULL }
#define MISS(s, f) { s, &f, TG_NUMBER_MISSING, 0, NULL }
#define BAD(s, f, m) { s, &f, -EINVAL, 0, m }

static const struct num_case num_cases[] = {
	/* Italian */
	OK("1.234.567,89", IT, 1234567.89),
	OK("10.000.000,00", IT, 10000000),
	OK("1.234,5", IT, 1234.5),
	OK("1.234", IT, 1234),
	OK("1.000", IT, 1000),
	OK("999", IT, 999),
	OK("0,5", IT, 0.5),
	OK(",5", IT, 0.5),
	OK("-3,25", IT, -3.25),
	OK("+7", IT, 7),
	OK("95,3%", IT, 95.3),
	OK("95,3 %", IT, 95.3),
	OK("95,3\xc2\xa0%", IT, 95.3),
	OK("100%", IT, 100),
	OK("  42  ", IT, 42),
	OK("\xc2\xa0" "12,5" "\xe2\x80\xaf", IT, 12.5),
	OK("\t12,5\r\n", IT, 12.5),
	OK("\xe2\x88\x92" "4", IT, -4),
	OK("1,5e3", IT, 1500),
	OK("1,5E-3", IT, 0.0015),
	OK("2e+2", IT, 200),
	OK("000123,4500", IT, 123.45),
	OK("0", IT, 0),
	OK("0,000", IT, 0),
	OK("-1.234.567", IT, -1234567),
	OK("4,35", IT, 4.35),
	OK("12,3456789", IT, 12.3456789),
	OK("1234567", IT, 1234567),
	OK("0,1", IT0, 0.1),
	OK("1234,5", IT0, 1234.5),
	/* C, English, spaces, apostrophes */
	OK("1.234", C, 1.234),
	OK("1234.5", C, 1234.5),
	OK("-0.001", C, -0.001),
	OK("1,234.5", EN, 1234.5),
	OK("1,234,567.25", EN, 1234567.25),
	OK("1 234 567,5", SP, 1234567.5),
	OK("1\xc2\xa0" "234,5", SP, 1234.5),
	OK("1\xe2\x80\xaf" "234", SP, 1234),
	OK("95 %", SP, 95),
	OK("1 234 %", SP, 1234),
	OK("95,3 %", SP, 95.3),
	OK("1 234,5\xc2\xa0%", SP, 1234.5),
	OK("0,500", IT, 0.5),
	OK("0 %", SP, 0),
	OK("1'234'567.25", AP, 1234567.25),
	/* exactness at the edges */
	OK("0.1", C, 0.1),
	OK("0.30000000000000004", C, 0.30000000000000004),
	OK("3.141592653589793", C, 3.141592653589793),
	OK("1e22", C, 1e22),
	OK("1e23", C, 1e23),
	OK("1e308", C, 1e308),
	OK("1.7976931348623157e308", C, DBL_MAX),
	OK("2.2250738585072014e-308", C, DBL_MIN),
	OK("4.9406564584124654e-324", C, 4.9406564584124654e-324),
	OK("2.4703282292062328e-324", C, 4.9406564584124654e-324),
	OK("2.4703282292062327e-324", C, 0),
	OK("1e-400", C, 0),
	OK("0e999999999", C, 0),
	OK("9007199254740993", C, 9007199254740992.0),
	OK("9007199254740995", C, 9007199254740996.0),
	OK("123456789012345678", C, 123456789012345678.0),
	OK("12345678901234567890123", C, 1.2345678901234568e22),
	OK("1.00000000000000011102230246251565404236316680908203125", C, 1.0),
	OK("1.00000000000000011102230246251565404236316680908203126", C, 1.0000000000000002),
	OK("7.038531e-26", C, 7.038531e-26),
	OK("9214843084008499", C, 9214843084008499.0),
	OK("30078505129381147446200", C, 3.007850512938115e22),
	OK("1777820000000000000001", C, 1.77782e21),
	OK("8.98846567431158e307", C, 8.98846567431158e307),
	/* missing markers */
	MISS("", IT),
	MISS("   ", IT),
	MISS("\xc2\xa0", IT),
	MISS("n.d.", IT),
	MISS("N.D.", IT),
	MISS(" n.d. ", IT),
	MISS("-", IT),
	MISS("n/a", IT),
	MISS("", C),
	/* errors */
	BAD("1.234", IT0, "'1.234' is not a number: '.' is not the decimal separator ','"),
	BAD("1,5", C, "',' is not the decimal separator '.'"),
	BAD("1.23,4", IT, "exactly three digits"),
	BAD("12.3456", IT, "exactly three digits"),
	BAD("1.234.56", IT, "exactly three digits"),
	BAD("1.2345,6", IT, "exactly three digits"),
	BAD("1.23.456", IT, "groups of three"),
	BAD("1234.567", IT, "more than three digits before the thousands separator"),
	BAD("1..234", IT, "unexpected '.'"),
	BAD(".123", IT, "without digits before it"),
	BAD("1,2,3", IT, "more than one decimal separator"),
	BAD("1,234.5", IT, "after the decimal separator"),
	BAD("5,", IT, "no digits after the decimal separator"),
	BAD("1.", IT, "unexpected '.'"),
	BAD("%", IT, "no digits"),
	BAD("-", C, "no digits"),
	BAD("+", IT, "no digits"),
	BAD("n.d.", C, "'n.d.' is not a number"),
	BAD("abc", IT, "'abc' is not a number"),
	BAD("1e", IT, "no digits in the exponent"),
	BAD("1e+", IT, "no digits in the exponent"),
	BAD("1e999", IT, "out of range"),
	BAD("-1e400", IT, "out of range"),
	BAD("1.7976931348623159e308", C, "out of range"),
	BAD("1 234", IT, "unexpected space"),
	BAD("1 234", C, "no thousands separator is configured"),
	BAD("1  234", SP, "unexpected space"),
	BAD("95%%", IT, "unexpected '%'"),
	BAD("95% 3", IT, "unexpected"),
	BAD("\xe2\x82\xac 5", IT, "unexpected '\xe2\x82\xac'"),
	BAD("12a", IT, "unexpected 'a'"),
	BAD("inf", C, "is not a number"),
	BAD("nan", C, "is not a number"),
	BAD("0x10", C, "unexpected 'x'"),
	BAD("+-1", IT, "unexpected '-'"),
	BAD("--1", IT, "unexpected '-'"),
	BAD("- 1", IT, "no digits"),
	BAD("1'234.5", C, "unexpected '\\x27'"),
	BAD("1\x01", IT, "unexpected '\\x01'"),
	BAD("1\xff", IT, "'1\\xff' is not a number: unexpected '\\xff'"),
	BAD("1\xc2\x85", IT, "'1\\xc2\\x85' is not a number: unexpected '\\xc2\\x85'"), /* C1 NEL */
	BAD("1,5 e3", IT, "unexpected space"),
	/* a 0 before a thousands separator is a decimal point in the wrong
	 * convention, not a group: "0.500" is not 500 */
	BAD("0.500", IT, "'0.500' is not a number: a thousands separator '.' after a leading 0 (the decimal separator here is ',')"),
	BAD("-0.050", IT, "after a leading 0"),
	BAD("000.001", IT, "after a leading 0"),
	BAD("012.345,5", IT, "after a leading 0"),
	BAD("0,500", EN, "after a leading 0"),
	BAD("0 500", SP, "after a leading 0"),
	/* a space separator is a space, never a TAB or a line end */
	BAD("12\n345", SP, "unexpected"),
	BAD("12\t345", SP, "unexpected"),
	BAD("1 234,5 6", SP, "after the decimal separator"),
};

static void test_number_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(num_cases) / sizeof(num_cases[0]); i++) {
		const struct num_case *c = &num_cases[i];
		struct tg_error err = { "" };
		double v = -12345.0;
		int rc = parse(c->in, strlen(c->in), c->fmt, &v, &err);

		if (rc != c->rc)
			fail_msg("case %zu '%s': rc %d, expected %d (%s)", i, c->in, rc, c->rc, err.msg);
		if (rc == TG_NUMBER_VALUE && (v != c->value || signbit(v) != signbit(c->value)))
			fail_msg("case %zu '%s': %.17g, expected %.17g", i, c->in, v, c->value);
		if (rc == TG_NUMBER_MISSING && v != -12345.0)
			fail_msg("case %zu '%s': out was written for a missing value", i, c->in);
		if (rc < 0 && strstr(err.msg, c->msg) == NULL)
			fail_msg("case %zu '%s': message '%s' lacks '%s'", i, c->in, err.msg, c->msg);
	}
}

static void test_number_edges(void **state)
{
	static const struct tg_number_format bad1 = { 'x', 0, NULL, 0, false };
	static const struct tg_number_format bad2 = { ',', ',', NULL, 0, false };
	static const struct tg_number_format bad3 = { '.', '_', NULL, 0, false };
	struct tg_error err = { "" };
	double v = 0;
	char *big;

	(void)state;
	/* -0 is 0 */
	assert_int_equal(parse("-0", 2, &IT, &v, &err), TG_NUMBER_VALUE);
	assert_false(signbit(v));
	assert_int_equal(parse("-0,0", 4, &IT, &v, &err), TG_NUMBER_VALUE);
	assert_false(signbit(v));
	/* only s[0..len) is read */
	assert_int_equal(parse("12,5 and more", 4, &IT, &v, &err), TG_NUMBER_VALUE);
	assert_true(v == 12.5);
	assert_int_equal(parse("1.234", 3, &IT, &v, &err), -EINVAL); /* "1.2" */
	/* an embedded NUL is not the end */
	assert_int_equal(parse("1\0" "2", 3, &IT, &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "\\x00"));
	/* NULL text is empty, hence missing; NULL format is C syntax */
	assert_int_equal(tg_number_parse(NULL, 0, &IT, &v, &err), TG_NUMBER_MISSING);
	assert_int_equal(tg_number_parse("2.5", 3, NULL, &v, &err), TG_NUMBER_VALUE);
	assert_true(v == 2.5);
	assert_int_equal(tg_number_parse("2,5", 3, NULL, &v, &err), -EINVAL);
	/* out and err may be NULL */
	assert_int_equal(tg_number_parse("7", 1, &IT, NULL, NULL), TG_NUMBER_VALUE);
	assert_int_equal(tg_number_parse("x", 1, &IT, NULL, NULL), -EINVAL);
	/* invalid formats */
	assert_int_equal(parse("1", 1, &bad1, &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid number format"));
	assert_int_equal(parse("1", 1, &bad2, &v, &err), -EINVAL);
	assert_int_equal(parse("1", 1, &bad3, &v, &err), -EINVAL);
	/* huge inputs: rejected without reading past len, message truncated */
	big = malloc(100000);
	if (big == NULL)
		abort(); /* also tells the compiler, for its bounds warnings */
	memset(big, '7', 100000);
	assert_int_equal(tg_number_parse(big, 100000, &IT, &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "too long"));
	assert_true(strlen(err.msg) < 200);
	/* 1000 digits overflow; 300 digits are exact (through strtod) */
	assert_int_equal(tg_number_parse(big, 1000, &C, &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "out of range"));
	big[300] = '\0';
	assert_int_equal(tg_number_parse(big, 300, &C, &v, &err), TG_NUMBER_VALUE);
	assert_true(v == strtod(big, NULL));
	memcpy(big, "0.", 2);
	assert_int_equal(tg_number_parse(big, 300, &C, &v, &err), TG_NUMBER_VALUE);
	assert_true(v == strtod(big, NULL));
	big[300] = '7';
	/* huge exponents saturate */
	memcpy(big, "1e", 2);
	memset(big + 2, '9', 500);
	assert_int_equal(tg_number_parse(big, 502, &C, &v, &err), -EINVAL);
	memcpy(big, "1e-", 3);
	assert_int_equal(tg_number_parse(big, 502, &C, &v, &err), TG_NUMBER_VALUE);
	assert_true(v == 0);
	/* many leading zeros, many trailing decimals */
	memset(big, '0', 900);
	big[900] = '5';
	assert_int_equal(tg_number_parse(big, 901, &C, &v, &err), TG_NUMBER_VALUE);
	assert_true(v == 5);
	free(big);
}

/* A small deterministic generator (xorshift64*). */
static uint64_t rnd_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dULL;
}

/* Random decimals of 1..25 digits with exponents over the whole double range
 * (and just beyond), in C and Italian syntax, against glibc's strtod. */
static void test_number_vs_strtod(void **state)
{
	char c[128], it[160], digs[32];
	struct tg_error err = { "" };
	int i, k, nd, point, e, rc;
	double v, ref;
	size_t o;

	(void)state;
	for (i = 0; i < 100000; i++) {
		nd = 1 + (int)(rnd() % (i % 4 == 0 ? 25 : 19));
		for (k = 0; k < nd; k++)
			digs[k] = (char)('0' + rnd() % 10);
		if (i % 7 == 0) /* near half-way points: ...5000 and ...4999 patterns */
			for (k = nd / 2; k < nd; k++)
				digs[k] = (char)(k == nd / 2 ? '5' : (i % 14 == 0 ? '0' : '9'));
		digs[nd] = '\0';
		point = (int)(rnd() % (unsigned)(nd + 1));
		e = (int)(rnd() % 700) - 350;
		if (i % 3 == 0)
			e = (int)(rnd() % 50) - 25;
		/* C syntax: d.ddde±x */
		snprintf(c, sizeof(c), "%.*s.%se%d", point, digs, digs + point, e);
		if (point == nd)
			snprintf(c, sizeof(c), "%se%d", digs, e);
		ref = strtod(c, NULL);
		rc = parse(c, strlen(c), &C, &v, &err);
		if (isinf(ref)) {
			if (rc != -EINVAL)
				fail_msg("'%s' should overflow", c);
			continue;
		}
		if (rc != TG_NUMBER_VALUE || v != ref)
			fail_msg("'%s': rc %d %.17g, strtod %.17g (%s)", c, rc, v, ref, err.msg);
		/* Italian: grouped integer part, decimal comma */
		if (point == 0)
			continue;
		o = 0;
		for (k = 0; k < point; k++) {
			if (k > 0 && (point - k) % 3 == 0)
				it[o++] = '.';
			it[o++] = digs[k];
		}
		if (point < nd) {
			it[o++] = ',';
			memcpy(it + o, digs + point, (size_t)(nd - point));
			o += (size_t)(nd - point);
		}
		o += (size_t)snprintf(it + o, sizeof(it) - o, "E%d", e);
		rc = parse(it, o, &IT, &v, &err);
		if (digs[0] == '0' && point > 3) {
			/* "0.123,4": a 0 before a thousands separator is refused */
			if (rc != -EINVAL || strstr(err.msg, "after a leading 0") == NULL)
				fail_msg("'%.*s': rc %d (%s)", (int)o, it, rc, err.msg);
			continue;
		}
		if (rc != TG_NUMBER_VALUE || v != ref)
			fail_msg("'%.*s': rc %d %.17g, strtod %.17g (%s)", (int)o, it, rc, v, ref, err.msg);
	}
}

/* Every double printed with 17 significant digits parses back to itself,
 * including subnormals. */
static void test_number_roundtrip_bits(void **state)
{
	struct tg_error err = { "" };
	char buf[64];
	double x, v;
	uint64_t u;
	int i;

	(void)state;
	for (i = 0; i < 50000; i++) {
		u = rnd() & 0x7fffffffffffffffULL;
		if (i % 5 == 0)
			u &= 0x000fffffffffffffULL; /* subnormal */
		memcpy(&x, &u, sizeof(x));
		if (isnan(x) || isinf(x))
			continue;
		snprintf(buf, sizeof(buf), "%.17g", x);
		if (parse(buf, strlen(buf), &C, &v, &err) != TG_NUMBER_VALUE || v != x)
			fail_msg("'%s' -> %.17g", buf, v);
		snprintf(buf, sizeof(buf), "%.16e", x);
		if (parse(buf, strlen(buf), &C, &v, &err) != TG_NUMBER_VALUE || v != strtod(buf, NULL))
			fail_msg("'%s' -> %.17g", buf, v);
	}
}

struct fmt_case {
	double v;
	int decimals;
	const char *lang;
	const char *out;
};

static const struct fmt_case fmt_cases[] = {
	{ 1234.5, 2, "it", "1.234,5" },
	{ 1234.5, 2, "en", "1,234.5" },
	{ 1234.5, 2, NULL, "1.234,5" },
	{ 1234.5, 2, "en_US", "1,234.5" },
	{ 1234567.891, 2, "it", "1.234.567,89" },
	{ 1234567.891, 2, "en", "1,234,567.89" },
	{ -1234.5, 1, "it", "-1.234,5" },
	{ 0.125, 2, "it", "0,13" },
	{ -0.125, 2, "it", "-0,13" },
	{ 2.5, 0, "it", "3" },
	{ -2.5, 0, "it", "-3" },
	{ 1.005, 2, "it", "1" }, /* 1.00499999999999989... */
	{ -0.001, 2, "it", "0" },
	{ -0.0, 2, "it", "0" },
	{ 0, 2, "it", "0" },
	{ 999.999, 2, "it", "1.000" },
	{ 99.5, 0, "en", "100" },
	{ 100, 2, "it", "100" },
	{ 1e6, 0, "it", "1.000.000" },
	{ 123456, 0, "en", "123,456" },
	{ 12345, 0, "en", "12,345" },
	{ 123, -1, "it", "123" },
	{ 1.23456, -1, "it", "1,23" },
	{ 95.3, 1, "it", "95,3" },
	{ 95.25, 1, "it", "95,3" },
	{ 30.0, 1, "it", "30" },
	{ 4.35, 2, "it", "4,35" },
	{ 0.1, 20, "en", "0.10000000000000000555" },
	{ 0.1, 99, "en", "0.10000000000000000555" },
	{ 1e-7, 2, "it", "0" },
	{ -999999.5, 0, "it", "-1.000.000" },
	{ 0.5, 0, "it", "1" },
	{ 0.49999999999999994, 0, "it", "0" },
	{ 4.9406564584124654e-324, 20, "it", "0" },
	{ NAN, 2, "it", "n.d." },
	{ NAN, 2, "en", "n/a" },
	{ INFINITY, 2, "it", "\xe2\x88\x9e" },
	{ -INFINITY, 2, "en", "-\xe2\x88\x9e" },
	/* digits that do not fit the 64-byte buffer: short, never cut */
	{ 1.7e308, 2, "it", "1,7e308" },
	{ -1.79e308, 2, "en", "-1.79e308" },
	{ DBL_MAX, 0, "it", "1,8e308" },
	{ 1e48, 0, "it", "1e48" },
	{ -9.999e60, 2, "it", "-1e61" },
	{ 1.2345e50, 0, "en", "1.23e50" },
	{ 1e47, 0, "it", "100.000.000.000.000.004.384.584.304.507.619.735.463.404.765.184" },
};

static void test_number_format(void **state)
{
	char buf[64], small[4], huge[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		const struct fmt_case *c = &fmt_cases[i];

		if (strcmp(tg_number_format(c->v, c->decimals, c->lang, buf, sizeof(buf)), c->out) != 0)
			fail_msg("case %zu: %.17g with %d decimals (%s) -> '%s', expected '%s'", i,
				 c->v, c->decimals, c->lang ? c->lang : "NULL", buf, c->out);
	}
	/* a buffer too small for the digits: the short form when it fits */
	assert_string_equal(tg_number_format(-1234567.5, 2, "it", buf, 8), "-1,23e6");
	assert_string_equal(tg_number_format(1234567.5, 2, "it", buf, 13), "1.234.567,5");
	/* truncated, still terminated */
	assert_ptr_equal(tg_number_format(1234.5, 2, "it", small, sizeof(small)), small);
	assert_string_equal(small, "1.2");
	assert_null(tg_number_format(1, 2, "it", NULL, 0));
	/* the largest double: 309 digits in 103 groups */
	tg_number_format(DBL_MAX, 0, "it", huge, sizeof(huge));
	assert_int_equal(strlen(huge), 309 + 102);
	assert_memory_equal(huge, "179.769.313.486.231.570", 23);
	tg_number_format(-DBL_MAX, 5, "en", huge, sizeof(huge));
	assert_int_equal(strlen(huge), 1 + 309 + 102);
}

/* Formatting with enough decimals and parsing back the Italian text gives the
 * value back; and the formatter ignores LC_NUMERIC. */
static void test_number_format_roundtrip(void **state)
{
	struct tg_error err = { "" };
	char buf[512];
	double x, v;
	int i, dec;

	(void)state;
	for (i = 0; i < 30000; i++) {
		x = (double)(rnd() % 2000000000000ULL) / 1000.0 * (i % 2 ? -1 : 1);
		tg_number_format(x, 3, "it", buf, sizeof(buf));
		if (tg_number_parse(buf, strlen(buf), &IT, &v, &err) != TG_NUMBER_VALUE || v != x)
			fail_msg("%.17g -> '%s' -> %.17g (%s)", x, buf, v, err.msg);
		tg_number_format(x, 3, "en", buf, sizeof(buf));
		if (tg_number_parse(buf, strlen(buf), &EN, &v, &err) != TG_NUMBER_VALUE || v != x)
			fail_msg("%.17g -> '%s' -> %.17g (%s)", x, buf, v, err.msg);
	}
	for (i = 0; i < 30000; i++) {
		x = ldexp((double)(rnd() >> 11), (int)(rnd() % 80) - 100);
		dec = 20;
		tg_number_format(x, dec, "it", buf, sizeof(buf));
		if (tg_number_parse(buf, strlen(buf), &IT, &v, &err) != TG_NUMBER_VALUE)
			fail_msg("%.17g -> '%s': %s", x, buf, err.msg);
		if (fabs(v - x) > 0.5e-20 * 1.0000001 + fabs(x) * 1e-15)
			fail_msg("%.17g -> '%s' -> %.17g", x, buf, v);
	}
	/* LC_NUMERIC must not matter (skipped silently if the locale is absent) */
	if (setlocale(LC_NUMERIC, "it_IT.UTF-8") != NULL || setlocale(LC_NUMERIC, "de_DE.UTF-8") != NULL) {
		assert_string_equal(tg_number_format(1234.5, 2, "en", buf, sizeof(buf)), "1,234.5");
		assert_int_equal(tg_number_parse("1.234,5", 7, &IT, &v, &err), TG_NUMBER_VALUE);
		assert_true(v == 1234.5);
		assert_int_equal(tg_number_parse("1.5e-400", 8, &C, &v, &err), TG_NUMBER_VALUE);
		assert_int_equal(tg_number_parse("1234567890123456789012.5", 24, &C, &v, &err),
				 TG_NUMBER_VALUE);
		assert_true(v == 1234567890123456789012.5);
		setlocale(LC_NUMERIC, "C");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_number_table),
		cmocka_unit_test(test_number_edges),
		cmocka_unit_test(test_number_vs_strtod),
		cmocka_unit_test(test_number_roundtrip_bits),
		cmocka_unit_test(test_number_format),
		cmocka_unit_test(test_number_format_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
