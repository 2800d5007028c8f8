/*
 * test_number_format.c — tg_number_format (lib/number.c) against the
 * implementation it replaced.
 *
 * The formatter used to read every digit from glibc's printf ("%.*f" with 24
 * guard decimals, or all 1080 when those could not decide the rounding).  It
 * now computes the digits of numbers below 2^64 with integer arithmetic and
 * keeps printf for the rest.  The output must not change by a single byte, so
 * the old function is kept here verbatim (renamed old_format) and both are
 * run on a table of hard cases (ties, values a hair from a tie, powers of two
 * and ten around 2^53 and 2^64, subnormals, NaN, infinities, short buffers,
 * out-of-range decimals) and on millions of random doubles: random bit
 * patterns, random 53-bit mantissas at every scale, decimal-looking values
 * (cents, thousandths), exact binary ties at the rounding digit and their
 * neighbours, with decimals -1..25, both languages and random buffer sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>

#include "number.h"

/* -------------------------------------------- the previous implementation */

#define FORMAT_MAX_DECIMALS 20
#define EXACT_DECIMALS 1080
#define GUARD_DECIMALS 24

static bool old_is_digit(int c) { return c >= '0' && c <= '9'; }
static int old_to_lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

struct old_outbuf {
	char *buf;
	size_t size, n;
};

static void old_put(struct old_outbuf *o, const char *s, size_t len)
{
	size_t room = o->size - 1 - o->n;

	if (len > room)
		len = room;
	memcpy(o->buf + o->n, s, len);
	o->n += len;
	o->buf[o->n] = '\0';
}

/*
 * s is v printed with decimals + GUARD_DECIMALS decimals (rounded by
 * snprintf at the last one).  Rounding half away from zero at `decimals`
 * needs only the next digit, unless the guard digits read 5000... (an exact
 * tie, or ...4999 rounded up) or 4999... (maybe rounded down from ...5):
 * then the caller prints every digit.
 */
static bool old_ambiguous(const char *s, size_t decimals)
{
	const char *p = s;
	size_t i;
	char fill;

	while (*p != '\0' && old_is_digit(*p))
		p++;
	while (*p != '\0' && !old_is_digit(*p))
		p++;
	for (i = 0; i < decimals && old_is_digit(*p); i++)
		p++;
	if (*p != '5' && *p != '4')
		return false;
	fill = *p == '5' ? '0' : '9';
	for (p++; old_is_digit(*p); p++)
		if (*p != fill)
			return false;
	return true;
}

/*
 * v (> 0, finite) as "1,79e308": three significant digits at most, trailing
 * zeros dropped.  For values whose digits do not fit the caller's buffer: a
 * cut "-178.999.999" would be a different number.  Only the digits and the
 * exponent of the snprintf output are used (its radix may follow
 * LC_NUMERIC).  Returns false if it does not fit either.
 */
static bool old_format_sci(double v, bool neg, char dec, char *buf, size_t size)
{
	char tmp[48], out[48];
	const char *p = tmp, *e;
	size_t n = 0, m;

	snprintf(tmp, sizeof(tmp), "%.2e", v);
	e = strchr(tmp, 'e');
	if (e == NULL || !old_is_digit(*p))
		return false;
	if (neg)
		out[n++] = '-';
	out[n++] = *p++;
	while (p < e && !old_is_digit(*p))
		p++;
	m = n;
	if (p < e) {
		out[n++] = dec;
		while (p < e && old_is_digit(*p))
			out[n++] = *p++;
		while (n > m && (out[n - 1] == '0' || out[n - 1] == dec))
			n--;
	}
	out[n++] = 'e';
	p = e + 1;
	if (*p == '-')
		out[n++] = '-';
	if (*p == '-' || *p == '+')
		p++;
	while (*p == '0' && old_is_digit(p[1]))
		p++;
	while (old_is_digit(*p) && n < sizeof(out) - 1)
		out[n++] = *p++;
	if (n >= size)
		return false;
	memcpy(buf, out, n);
	buf[n] = '\0';
	return true;
}

static const char *old_format(double v, int decimals, const char *lang, char *buf, size_t size)
{
	bool en = lang != NULL && old_to_lower((unsigned char)lang[0]) == 'e' &&
		  old_to_lower((unsigned char)lang[1]) == 'n' &&
		  (lang[2] == '\0' || lang[2] == '_' || lang[2] == '-' || lang[2] == '.');
	char dec = en ? '.' : ',', sep = en ? ',' : '.';
	/* every digit of a double: 309 before the point, 1074 after it */
	char tmp[DBL_MAX_10_EXP + EXACT_DECIMALS + 32];
	char dig[DBL_MAX_10_EXP + FORMAT_MAX_DECIMALS + 8];
	struct old_outbuf o = { buf, size, 0 };
	const char *p, *fp;
	size_t ni, nf, nd, i, lim;
	bool neg, zero;

	if (buf == NULL || size == 0)
		return buf;
	buf[0] = '\0';
	if (v != v) {
		old_put(&o, en ? "n/a" : "n.d.", en ? 3 : 4);
		return buf;
	}
	if (decimals < 0)
		decimals = 2;
	if (decimals > FORMAT_MAX_DECIMALS)
		decimals = FORMAT_MAX_DECIMALS;
	neg = v < 0;
	if (neg || v == 0) /* -0.0 too */
		v = neg ? -v : 0.0;
	if (v > DBL_MAX) {
		old_put(&o, neg ? "-\xe2\x88\x9e" : "\xe2\x88\x9e", neg ? 4 : 3);
		return buf;
	}
	/* The exact decimal expansion of v, rounded here half away from zero as
	 * people (and spreadsheets) do: 0,125 -> 0,13.  Only the digits of the
	 * snprintf output are used: its radix character may follow LC_NUMERIC. */
	snprintf(tmp, sizeof(tmp), "%.*f", decimals + GUARD_DECIMALS, v);
	if (old_ambiguous(tmp, (size_t)decimals))
		snprintf(tmp, sizeof(tmp), "%.*f", EXACT_DECIMALS, v);
	for (p = tmp, nd = 0; old_is_digit(*p) && nd < DBL_MAX_10_EXP + 2; p++)
		dig[nd++] = *p;
	ni = nd;
	while (*p != '\0' && !old_is_digit(*p))
		p++;
	fp = p;
	for (i = 0; i < (size_t)decimals && old_is_digit(fp[i]); i++)
		dig[nd++] = fp[i];
	nf = i;
	if (nf == (size_t)decimals && fp[nf] >= '5' && fp[nf] <= '9') {
		for (i = nd; i-- > 0;) {
			if (dig[i] != '9') {
				dig[i]++;
				break;
			}
			dig[i] = '0';
		}
		if (i == (size_t)-1) { /* 999.9 -> 1000.0: all digits were 9 */
			dig[nd] = '0';
			dig[0] = '1';
			nd++;
			ni++;
		}
	}
	while (nf > 0 && dig[ni + nf - 1] == '0')
		nf--;
	/* drop leading zeros but one */
	for (lim = 0; lim + 1 < ni && dig[lim] == '0'; lim++)
		;
	for (zero = true, i = lim; i < ni + nf; i++)
		if (dig[i] != '0')
			zero = false;
	/* what does not fit is written short rather than cut */
	if ((size_t)(neg && !zero) + (ni - lim) + (ni - lim - 1) / 3 + (nf > 0 ? 1 + nf : 0) >= size &&
	    old_format_sci(v, neg, dec, buf, size))
		return buf;
	if (neg && !zero) /* never "-0" */
		old_put(&o, "-", 1);
	for (i = lim; i < ni; i++) {
		if (i > lim && (ni - i) % 3 == 0)
			old_put(&o, &sep, 1);
		old_put(&o, dig + i, 1);
	}
	if (nf > 0) {
		old_put(&o, &dec, 1);
		old_put(&o, dig + ni, nf);
	}
	return buf;
}

/* ------------------------------------------------------------------ tests */

struct fmt_case {
	double v;
	int decimals;
	const char *lang;
	size_t size;
	const char *out;
};

/* The expected text is written out (not only compared with old_format), so a
 * bug shared by both would show here too. */
static const struct fmt_case cases[] = {
	/* exact binary ties: half away from zero */
	{ 0.125, 2, "it", 64, "0,13" },
	{ 0.375, 2, "en", 64, "0.38" },
	{ 2.5, 0, "it", 64, "3" },
	{ 3.5, 0, "it", 64, "4" },
	{ -2.5, 0, "en", 64, "-3" },
	{ 0.5, 0, "en", 64, "1" },
	{ 1.5, 0, "en", 64, "2" },
	{ 123456789.125, 2, "it", 64, "123.456.789,13" },
	{ 0.0078125, 6, "it", 64, "0,007813" },
	{ 18446744073709.5078125, 6, "it", 64, "18.446.744.073.709,507813" },  /* a tie past 2^64 */
	{ -18446744073709.5078125, 6, "it", 64, "-18.446.744.073.709,507813" },
	{ 123456789012345.625, 2, "it", 64, "123.456.789.012.345,63" },
	/* decimal-looking values a hair from a tie: the binary value decides */
	{ 0.05, 1, "it", 64, "0,1" },                  /* 0.05000000000000000277 */
	{ 0.15, 1, "it", 64, "0,1" },                  /* 0.14999999999999999445 */
	{ 0.25, 1, "it", 64, "0,3" },
	{ 0.35, 1, "it", 64, "0,3" },
	{ 1.45, 1, "en", 64, "1.4" },
	{ 1.005, 2, "it", 64, "1" },
	{ 2.675, 2, "it", 64, "2,67" },
	{ 99.995, 2, "it", 64, "100" },
	{ 99.985, 2, "it", 64, "99,98" },
	{ 0.49999999999999994, 0, "en", 64, "0" },
	{ 5e-7, 6, "it", 64, "0" },                    /* 4.99999999999999977e-7 */
	{ -5e-7, 6, "en", 64, "0" },                   /* never "-0" */
	{ -4e-7, 6, "en", 64, "0" },
	{ 1e-6, 6, "it", 64, "0,000001" },
	{ 2.0 / 3, 6, "it", 64, "0,666667" },
	{ -2.0 / 3, 6, "it", 64, "-0,666667" },
	{ 0.9999999, 6, "it", 64, "1" },
	{ 999999.9999995, 6, "it", 64, "999.999,999999" },
	{ 53582.72, 2, "it", 64, "53.582,72" },
	{ 53582.72, 6, "it", 64, "53.582,72" },
	{ 0.000244140625, 6, "it", 64, "0,000244" },
	{ 0.001953125, 6, "en", 64, "0.001953" },
	/* around 2^53 and 2^64, and the integer path */
	{ 1e15, 6, "it", 64, "1.000.000.000.000.000" },
	{ 1e15 + 0.5, 0, "it", 64, "1.000.000.000.000.001" },
	{ -1e15, 6, "en", 64, "-1,000,000,000,000,000" },
	{ 4503599627370495.5, 0, "it", 64, "4.503.599.627.370.496" },
	{ 9007199254740992.0, 3, "it", 64, "9.007.199.254.740.992" },
	{ 9007199254740993.0, 0, "it", 64, "9.007.199.254.740.992" },
	{ 9223372036854775808.0, 0, "it", 64, "9.223.372.036.854.775.808" },
	{ 18446744073709549568.0, 2, "en", 64, "18,446,744,073,709,549,568" },
	{ 18446744073709551616.0, 0, "it", 64, "18.446.744.073.709.551.616" },
	{ 1e19, 0, "it", 64, "10.000.000.000.000.000.000" },
	{ 1e20, 6, "it", 64, "100.000.000.000.000.000.000" },
	{ 1e21, 0, "en", 64, "1,000,000,000,000,000,000,000" },
	{ 1e300, 2, "it", 64, "1e300" },
	/* many decimals, out-of-range decimals */
	{ 0.1, 20, "en", 64, "0.10000000000000000555" },
	{ 0.3, 17, "it", 64, "0,29999999999999999" },
	{ 1e-20, 20, "it", 64, "0,00000000000000000001" },
	{ 5e-21, 20, "it", 64, "0" },
	{ 1.5e-20, 20, "it", 64, "0,00000000000000000002" },
	{ 123.456, -7, "en", 64, "123.46" },
	{ 123.456, 25, "en", 64, "123.45600000000000306954" },
	/* zeros, subnormals, NaN, infinities */
	{ -0.0, 0, "it", 64, "0" },
	{ 0.0, 6, "en", 64, "0" },
	{ -1e-300, 2, "it", 64, "0" },
	{ DBL_MIN, 6, "it", 64, "0" },
	{ 4.9406564584124654e-324, 20, "it", 64, "0" },
	{ NAN, 2, "en", 64, "n/a" },
	{ -NAN, 2, "it", 64, "n.d." },
	{ INFINITY, 0, "it", 64, "\xe2\x88\x9e" },
	{ -INFINITY, 0, "it", 2, "-" },
	/* short buffers: the short form, or cut */
	{ 1234567.5, 2, "it", 8, "1,23e6" },
	{ 1234567.5, 2, "it", 12, "1.234.567,5" },
	{ 1234.5, 2, "it", 4, "1.2" },
	{ 1234.5, 2, "it", 1, "" },
	{ -1234.5, 2, "it", 2, "-" },
	/* languages */
	{ 95.3, 1, "EN", 64, "95.3" },
	{ 95.25, 1, "en-GB", 64, "95.3" },
	{ 95.25, 1, "e", 64, "95,3" },
	{ 95.25, 1, NULL, 64, "95,3" },
};

static const char *lang_name(const char *l) { return l != NULL ? l : "NULL"; }

/* Both implementations on one input: same text, same return, and nothing
 * written past size (the byte after it is a sentinel). */
static void compare(double v, int decimals, const char *lang, size_t size, const char *what,
		    unsigned long long i)
{
	char a[600], b[600];

	memset(a, 'X', sizeof(a));
	memset(b, 'X', sizeof(b));
	if (tg_number_format(v, decimals, lang, a, size) != a)
		fail_msg("%s %llu: wrong pointer returned", what, i);
	old_format(v, decimals, lang, b, size);
	if (strcmp(a, b) != 0 || a[size] != 'X')
		fail_msg("%s %llu: %a (%.17g) with %d decimals, %s, size %zu: '%s', before '%s'",
			 what, i, v, v, decimals, lang_name(lang), size, a, b);
}

static void test_format_table(void **state)
{
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fmt_case *c = &cases[i];

		memset(buf, 'X', sizeof(buf));
		tg_number_format(c->v, c->decimals, c->lang, buf, c->size);
		if (strcmp(buf, c->out) != 0)
			fail_msg("case %zu: %.17g with %d decimals (%s, size %zu) -> '%s', expected '%s'",
				 i, c->v, c->decimals, lang_name(c->lang), c->size, buf, c->out);
		compare(c->v, c->decimals, c->lang, c->size, "case", i);
	}
}

static uint64_t rng = UINT64_C(0x6e756d6265722e63);

static uint64_t rnd(void)
{
	uint64_t z = (rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double from_bits(uint64_t u)
{
	double x;

	memcpy(&x, &u, sizeof(x));
	return x;
}

/* Decimals as the evaluator uses them (0..6, -1 for the default) mostly,
 * sometimes anything from -3 to 25. */
static int rnd_decimals(void)
{
	uint64_t r = rnd();

	if (r % 8 == 0)
		return (int)(r / 8 % 29) - 3;
	return (int)(r / 8 % 8) - 1;
}

static const char *rnd_lang(void)
{
	static const char *const langs[] = { "it", "en", NULL, "en_US.UTF-8" };

	return langs[rnd() % 4];
}

/* Mostly the evaluator's 64-byte buffer, sometimes a short one. */
static size_t rnd_size(void)
{
	uint64_t r = rnd();

	return r % 16 == 0 ? (size_t)(r / 16 % 64) + 1 : 64;
}

#define RANDOM_ROUNDS 60000

static void test_format_random_bits(void **state)
{
	(void)state;
	/* any double at all: mostly far from 1, NaNs of every payload */
	for (unsigned long long i = 0; i < RANDOM_ROUNDS; i++)
		compare(from_bits(rnd()), rnd_decimals(), rnd_lang(), rnd_size(), "bits", i);
}

static void test_format_random_scales(void **state)
{
	(void)state;
	/* 53 random bits at every scale from 2^-80 to 2^70: the integer path,
	 * its 128-bit products, the limit at 2^64 */
	for (unsigned long long i = 0; i < RANDOM_ROUNDS; i++) {
		double x = ldexp((double)(rnd() >> 11), (int)(rnd() % 150) - 133);

		compare(rnd() % 2 ? -x : x, rnd_decimals(), rnd_lang(), rnd_size(), "scale", i);
	}
}

static void test_format_random_decimals(void **state)
{
	static const double div[] = { 1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7 };

	(void)state;
	/* what spreadsheets hold: cents and thousandths, values a hair from a
	 * decimal tie ("x,xx5" is never exact in binary) */
	for (unsigned long long i = 0; i < RANDOM_ROUNDS; i++) {
		uint64_t r = rnd();
		double x = (double)(r % UINT64_C(100000000000)) / div[rnd() % 8];

		if (r >> 60 == 0)
			x = nextafter(x, r >> 59 & 1 ? HUGE_VAL : 0);
		compare(r >> 58 & 1 ? -x : x, rnd_decimals(), rnd_lang(), rnd_size(), "decimal", i);
	}
}

static void test_format_random_ties(void **state)
{
	(void)state;
	/* exact ties at the rounding digit: (2j + 1) / 2 * 10^-d is a dyadic
	 * number only when it is j/2^a with a <= d + 1: take odd multiples of
	 * 2^-(d+1) (ties or between ties), and their neighbours one ulp away */
	for (unsigned long long i = 0; i < RANDOM_ROUNDS; i++) {
		int d = (int)(rnd() % 8);
		uint64_t r = rnd();
		double x = ldexp((double)(r >> (11 + rnd() % 50) | 1), -(d + 1));

		if (r % 3 == 1)
			x = nextafter(x, HUGE_VAL);
		else if (r % 3 == 2)
			x = nextafter(x, 0);
		compare(r >> 63 ? -x : x, d, rnd_lang(), 64, "tie", i);
	}
}

/* x and -x, one ulp either way, with every decimals and many sizes. */
static void compare_near(double x, const char *what, unsigned long long i)
{
	for (int sign = 0; sign < 2; sign++) {
		double y = sign ? -x : x;
		double near[3] = { y, nextafter(y, HUGE_VAL), nextafter(y, -HUGE_VAL) };

		for (int k = 0; k < 3; k++)
			for (int d = -1; d <= 21; d++) {
				compare(near[k], d, "it", 64, what, i);
				compare(near[k], d, "en", 512, what, i);
			}
		for (size_t size = 1; size <= 32; size++)
			compare(y, 2, "it", size, what, i);
	}
}

static void test_format_special(void **state)
{
	static const double special[] = {
		0.0, -0.0, 4.9406564584124654e-324, -4.9406564584124654e-324, 2.2250738585072009e-308,
		DBL_MIN, DBL_MAX, -DBL_MAX, INFINITY, -INFINITY, NAN, -NAN, 0.5, 1.0,
		9007199254740991.0, 9007199254740992.0, 18446744073709549568.0, 18446744073709551616.0,
		36893488147419103232.0, 1e15, 1e16, 1e19, 1e20, 1e21, 1e22, 1e23,
	};

	(void)state;
	/* the specials, and every power of ten and of two a double has */
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		compare_near(special[i], "special", i);
	for (int e = -330; e <= 310; e++)
		compare_near(pow(10, e), "power of ten", (unsigned long long)(e + 330));
	/* (every fifth, and all those near 2^53 and 2^64 where the paths meet:
	 * the whole set takes seconds under the sanitizers) */
	for (int e = -1075; e <= 1024; e += (e >= 40 && e <= 80) ? 1 : 5)
		compare_near(ldexp(1, e), "power of two", (unsigned long long)(e + 1075));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_format_special),
		cmocka_unit_test(test_format_random_bits),
		cmocka_unit_test(test_format_random_scales),
		cmocka_unit_test(test_format_random_decimals),
		cmocka_unit_test(test_format_random_ties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
