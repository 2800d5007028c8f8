/*
 * number.c — numbers as people and spreadsheets write them ("1.234,56",
 * "95,3 %", "n.d."), parsed exactly and without the C library's locale, and
 * formatted back for people.
 *
 * A number in a CSV cell is data for an audit: it must mean the same thing on
 * every server, and an ambiguous one ("1.234" where ',' is the decimal
 * separator: one thousand or one point two?) is an error, never a guess.  So
 * the parser is a strict scanner (groups of exactly three digits, one decimal
 * separator, the configured characters only) that collects the significant
 * digits and a decimal exponent, then converts them exactly:
 *
 *   - up to 19 significant digits (everything a spreadsheet writes) without
 *     strtod: Clinger's fast path when the digits fit in 53 bits and the power
 *     of ten is exact (one multiply or divide of exact doubles, so one
 *     rounding), else a long double estimate corrected to the nearest double
 *     (ties to even) by exact big-integer comparison with the half-way points;
 *   - more digits: strtod() on a buffer of ASCII digits and an exponent with
 *     no radix character ("123456e-3"), so the result cannot depend on
 *     LC_NUMERIC even if a program linking us ever calls setlocale().
 *
 * Formatting rounds the exact binary value half away from zero, as people
 * do.  It runs for every number of every reason on every cycle, so below
 * 2^64 the digits come from 128-bit integer arithmetic (exact, a few dozen
 * nanoseconds); above, from printf's exact expansion, as they all did
 * before (glibc's multi-precision printf: over ten times slower).
 */
#include "number.h"
#include "utf8.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest number text considered, after trimming. */
#define NUMBER_MAX_LEN 1024
/* Exponents are saturated here: far beyond any double either way. */
#define EXP_LIMIT 100000
#define QUOTE_MAX 40
#define QUOTE_BUF (4 * QUOTE_MAX + 8)
/* Decimals shown by tg_number_format at most. */
#define FORMAT_MAX_DECIMALS 20
/* Enough decimals to print any double exactly (2^-1074 has 1074). */
#define EXACT_DECIMALS 1080
/* Digits printed beyond the requested decimals to decide the rounding. */
#define GUARD_DECIMALS 24

/* ---------------------------------------------------------------- helpers */

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static int to_lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

/* The offending text for a message, shown between single quotes: at most
 * QUOTE_MAX input bytes, control bytes, quotes and invalid UTF-8 escaped as
 * \xNN.  buf needs QUOTE_BUF bytes. */
static const char *quote(const char *s, size_t len, char *buf, size_t size)
{
	return tg_error_quote_in(s, len, QUOTE_MAX, "'\\", buf, size);
}

static bool is_missing(const char *s, size_t len, const struct tg_number_format *fmt)
{
	size_t i, k, mlen;
	const char *m;

	if (len == 0)
		return true;
	for (i = 0; i < fmt->n_missing; i++) {
		if (fmt->missing == NULL || (m = fmt->missing[i]) == NULL)
			continue;
		mlen = strlen(m);
		tg_utf8_trim(&m, &mlen);
		if (mlen != len)
			continue;
		for (k = 0; k < len && to_lower((unsigned char)s[k]) == to_lower((unsigned char)m[k]); k++)
			;
		if (k == len)
			return true;
	}
	return false;
}

/* ------------------------------------------------ exact decimal -> double */

/*
 * Unsigned big integers, enough for D * 5^343 shifted by ~1400 bits (the
 * extremes reachable with D < 10^19 and a result between the smallest
 * subnormal and DBL_MAX): about 2300 bits.
 */
#define BIG_WORDS 128

struct big {
	uint32_t w[BIG_WORDS]; /* little endian */
	size_t n;
	bool overflow;
};

static void big_set(struct big *b, uint64_t v)
{
	b->n = 0;
	b->overflow = false;
	while (v != 0) {
		b->w[b->n++] = (uint32_t)v;
		v >>= 32;
	}
}

static void big_mul_small(struct big *b, uint32_t m)
{
	uint64_t carry = 0;
	size_t i;

	for (i = 0; i < b->n; i++) {
		uint64_t t = (uint64_t)b->w[i] * m + carry;

		b->w[i] = (uint32_t)t;
		carry = t >> 32;
	}
	if (carry != 0) {
		if (b->n == BIG_WORDS)
			b->overflow = true;
		else
			b->w[b->n++] = (uint32_t)carry;
	}
}

static void big_mul_pow5(struct big *b, int e)
{
	/* 5^13 is the largest power of five below 2^32 */
	for (; e >= 13; e -= 13)
		big_mul_small(b, 1220703125u);
	for (; e > 0; e--)
		big_mul_small(b, 5);
}

static void big_shl(struct big *b, int bits)
{
	size_t words = (size_t)bits / 32, i;
	unsigned r = (unsigned)bits % 32;

	if (b->n == 0 || bits <= 0)
		return;
	if (b->n + words + 1 > BIG_WORDS) {
		b->overflow = true;
		return;
	}
	b->w[b->n + words] = 0;
	for (i = b->n; i-- > 0;) {
		b->w[i + words + 1] |= r ? b->w[i] >> (32 - r) : 0;
		b->w[i + words] = b->w[i] << r;
	}
	for (i = 0; i < words; i++)
		b->w[i] = 0;
	b->n += words + 1;
	while (b->n > 0 && b->w[b->n - 1] == 0)
		b->n--;
}

static int big_cmp(const struct big *a, const struct big *b)
{
	size_t i;

	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (i = a->n; i-- > 0;)
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	return 0;
}

/* Sign of D * 10^e - k * 2^p, or 2 if the numbers do not fit. */
static int cmp_exact(uint64_t D, int e, uint64_t k, int p)
{
	struct big l, r;
	int bl = e, br = p;

	big_set(&l, D);
	big_set(&r, k);
	if (e >= 0)
		big_mul_pow5(&l, e);
	else
		big_mul_pow5(&r, -e);
	if (bl > br)
		big_shl(&l, bl - br);
	else
		big_shl(&r, br - bl);
	if (l.overflow || r.overflow)
		return 2;
	return big_cmp(&l, &r);
}

static long double pow10_ld(int n)
{
	static const long double p[] = { 1e1L, 1e2L, 1e4L, 1e8L, 1e16L, 1e32L, 1e64L, 1e128L, 1e256L };
	long double v = 1.0L;
	size_t i;

	for (i = 0; n > 0 && i < sizeof(p) / sizeof(p[0]); i++, n >>= 1)
		if (n & 1)
			v *= p[i];
	return v;
}

/* A double close to D * 10^e (a few ulps at worst), never NaN. */
static double approx(uint64_t D, int e)
{
	long double v = (long double)D;
	int a = e < 0 ? -e : e, k;

	/* in steps of at most 10^256 so that a long double as narrow as a
	 * double neither overflows nor underflows on the way */
	while (a > 0) {
		k = a > 256 ? 256 : a;
		if (e < 0)
			v /= pow10_ld(k);
		else
			v *= pow10_ld(k);
		a -= k;
	}
	if (v > (long double)DBL_MAX)
		return DBL_MAX;
	return (double)v;
}

static uint64_t dbl_bits(double x)
{
	uint64_t u;

	memcpy(&u, &x, sizeof(u));
	return u;
}

static double bits_dbl(uint64_t u)
{
	double x;

	memcpy(&x, &u, sizeof(x));
	return x;
}

/*
 * The double nearest to D * 10^e (D > 0), ties to even; HUGE_VAL when it
 * rounds beyond DBL_MAX.  *ok is false if the search did not settle (never
 * expected; the caller then falls back to strtod).
 */
static double correct(uint64_t D, int e, bool *ok)
{
	uint64_t bits = dbl_bits(approx(D, e)), M;
	int q, biased, c, iter;

	*ok = true;
	if (bits == 0)
		bits = 1; /* start from the smallest subnormal */
	for (iter = 0; iter < 64; iter++) {
		biased = (int)(bits >> 52);
		M = bits & ((UINT64_C(1) << 52) - 1);
		if (biased == 0) {
			q = -1074;
		} else {
			M |= UINT64_C(1) << 52;
			q = biased - 1075;
		}
		/* above the half-way point to the next double? */
		c = cmp_exact(D, e, 2 * M + 1, q - 1);
		if (c == 2)
			break;
		if (c > 0 || (c == 0 && (M & 1))) {
			if (bits == dbl_bits(DBL_MAX))
				return HUGE_VAL;
			bits++;
			continue;
		}
		/* below the half-way point to the previous one?  Below a power
		 * of two the previous double is half as far. */
		if (biased > 1 && M == UINT64_C(1) << 52)
			c = cmp_exact(D, e, 4 * M - 1, q - 2);
		else
			c = cmp_exact(D, e, 2 * M - 1, q - 1);
		if (c == 2)
			break;
		if (c < 0 || (c == 0 && (M & 1))) {
			bits--;
			if (bits == 0)
				return 0.0;
			continue;
		}
		return bits_dbl(bits);
	}
	*ok = false;
	return 0.0;
}

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* D * 10^e for D < 10^19, exactly rounded. */
static double convert19(uint64_t D, int e, bool *ok)
{
	const uint64_t two53 = UINT64_C(1) << 53;
	uint64_t t;
	int k;

	*ok = true;
	if (D <= two53) {
		if (e >= 0 && e <= 22)
			return (double)D * pow10_exact[e];
		if (e < 0 && e >= -22)
			return (double)D / pow10_exact[-e];
		if (e > 22 && e <= 22 + 16) {
			/* 12e30 = 12000000 * 1e22: both exact, one rounding */
			for (t = D, k = e; k > 22 && t <= two53 / 10; k--)
				t *= 10;
			if (k == 22)
				return (double)t * 1e22;
		}
	}
	return correct(D, e, ok);
}

/* ----------------------------------------------------------------- parse */

/* The significant digits of the text, without leading zeros. */
struct scan {
	char dig[NUMBER_MAX_LEN + 1];
	size_t nd;
};

static inline bool fmt_valid(const struct tg_number_format *fmt)
{
	if (fmt->decimal != '.' && fmt->decimal != ',')
		return false;
	if (fmt->thousands != 0 && fmt->thousands != '.' && fmt->thousands != ',' &&
	    fmt->thousands != ' ' && fmt->thousands != '\'')
		return false;
	return fmt->thousands != fmt->decimal;
}

/* Length of the thousands separator at s[i..n), 0 if there is none. */
static size_t thousands_len(const struct tg_number_format *fmt, const unsigned char *s,
			    size_t i, size_t n)
{
	if (fmt->thousands == 0)
		return 0;
	/* a space: also a no-break or narrow no-break space, never a TAB or a
	 * line end ("12<LF>345" in a quoted cell is two numbers, not one) */
	if (fmt->thousands == ' ')
		return s[i] == '\t' || s[i] == '\r' || s[i] == '\n' ? 0
								  : tg_utf8_blank_len(s + i, n - i);
	return s[i] == (unsigned char)fmt->thousands ? 1 : 0;
}

/*
 * The numbers of nearly every cell: an optional sign, 1..15 digits, and
 * decimals after the format's separator, nothing else (no spaces, no
 * thousands separator, no exponent, no '%').  Fewer than 16 digits fit a
 * double exactly, and so does 10^k: one division rounds exactly, the
 * result convert19() gives.  false: take the general path.
 */
/* Whether a missing marker could be the text that starts with c (markers
 * are trimmed: one that starts with a blank may be anything). */
static bool marker_may_be(char c, const struct tg_number_format *fmt)
{
	for (size_t i = 0; fmt->missing != NULL && i < fmt->n_missing; i++) {
		const char *m = fmt->missing[i];

		if (m != NULL && (m[0] == c || m[0] == ' ' || m[0] == '\t' ||
				  (unsigned char)m[0] >= 0x80))
			return true;
	}
	return false;
}

/* The value, or NaN (never a result) for the general path: nothing here
 * has its address taken, so the common cell costs no stack canary. */
static inline double fast_number(const char *s, size_t len, char decimal)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len, *from;
	uint64_t D = 0;
	size_t nd, nfrac = 0;
	unsigned c;
	bool neg = false;

	if (len == 0 || len > 17)
		return NAN;
	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	for (from = p; p < end && (c = (unsigned)*p - '0') <= 9; p++)
		D = D * 10 + c;
	if (p == from)
		return NAN;  /* a digit first: ",5" is left to the general path */
	nd = (size_t)(p - from);
	if (p < end) {
		if (*p != (unsigned char)decimal)
			return NAN;
		for (from = ++p; p < end && (c = (unsigned)*p - '0') <= 9; p++)
			D = D * 10 + c;
		nfrac = (size_t)(p - from);
		if (nfrac == 0 || p != end)
			return NAN;
		nd += nfrac;
	}
	if (nd > 15)
		return NAN;
	/* "-0" is 0; the division rounds the same either sign */
	return D == 0 ? 0.0 : (neg ? -(double)D : (double)D) / pow10_exact[nfrac];
}

/* Whether a number written like fast_number() takes it could be one of
 * the markers: only a marker that is itself such a number (markers are
 * compared ignoring ASCII case, which digits, signs and separators do not
 * have). */
static bool number_may_be_marker(const char *s, size_t len, const struct tg_number_format *fmt)
{
	if (fmt->markers_not_numbers)
		return false;
	/* a marker may be written like a number ("-1", "999") */
	return marker_may_be(s[0], fmt) && is_missing(s, len, fmt);
}

void tg_number_prepare(struct tg_number_format *fmt)
{
	fmt->markers_not_numbers = false;
	if (!fmt_valid(fmt))
		return;
	for (size_t i = 0; fmt->missing != NULL && i < fmt->n_missing; i++) {
		const char *m = fmt->missing[i];
		size_t mlen;

		if (m == NULL)
			continue;
		mlen = strlen(m);
		tg_utf8_trim(&m, &mlen);
		if (!isnan(fast_number(m, mlen, fmt->decimal)))
			return;
	}
	fmt->markers_not_numbers = true;
}

static int parse_general(const char *s, size_t len, const struct tg_number_format *fmt,
			 double *out, struct tg_error *err) __attribute__((noinline));

/* The common cell (fast_number) without the general parser's frame. */
int tg_number_parse(const char *s, size_t len, const struct tg_number_format *fmt,
		    double *out, struct tg_error *err)
{
	static const struct tg_number_format c_format = { '.', 0, NULL, 0, false };
	double v;

	if (fmt == NULL)
		fmt = &c_format;
	if (s == NULL) {
		s = "";
		len = 0;
	}
	if (fmt_valid(fmt) && !isnan(v = fast_number(s, len, fmt->decimal))) {
		if (number_may_be_marker(s, len, fmt))
			return TG_NUMBER_MISSING;
		if (out != NULL)
			*out = v;
		return TG_NUMBER_VALUE;
	}
	return parse_general(s, len, fmt, out, err);
}

static int parse_general(const char *s, size_t len, const struct tg_number_format *fmt,
			 double *out, struct tg_error *err)
{
	const unsigned char *u;
	char q[QUOTE_BUF], cq[QUOTE_BUF];
	struct scan sc;
	size_t i = 0, k, group = 0, groups = 0, nint = 0, nfrac = 0;
	long ex = 0;
	bool neg = false, any = false;
	int c;
	double v = 0.0;

#define QUOTED quote(s, len, q, sizeof(q))
	tg_utf8_trim(&s, &len);
	if (!fmt_valid(fmt))
		return tg_error_set(err, "'%s' is not a number: invalid number format (decimal '%c', thousands '%c')",
				    QUOTED, fmt->decimal > 0x20 && fmt->decimal < 0x7f ? fmt->decimal : '?',
				    fmt->thousands > 0x20 && fmt->thousands < 0x7f ? fmt->thousands : '?');
	if (is_missing(s, len, fmt))
		return TG_NUMBER_MISSING;
	if (len > NUMBER_MAX_LEN)
		return tg_error_set(err, "'%s' is not a number: too long (%zu bytes)", QUOTED, len);
	u = (const unsigned char *)s;
	sc.nd = 0;

	/* sign: + - or U+2212 MINUS SIGN */
	if (u[0] == '+' || u[0] == '-') {
		neg = u[0] == '-';
		i = 1;
	} else if (len >= 3 && u[0] == 0xe2 && u[1] == 0x88 && u[2] == 0x92) {
		neg = true;
		i = 3;
	}

	/* integer part, in groups of three after the first separator */
	while (i < len) {
		if (is_digit(u[i])) {
			if (sc.nd > 0 || u[i] != '0')
				sc.dig[sc.nd++] = (char)u[i];
			nint++;
			group++;
			any = true;
			i++;
			continue;
		}
		/* a separator not followed by a digit is not one: "95 %" */
		if ((k = thousands_len(fmt, u, i, len)) == 0 || i + k >= len || !is_digit(u[i + k]))
			break;
		if (group == 0)
			return tg_error_set(err, "'%s' is not a number: a thousands separator '%c' without digits before it",
					    QUOTED, fmt->thousands);
		if (groups == 0 && group > 3)
			return tg_error_set(err, "'%s' is not a number: more than three digits before the thousands separator '%c'",
					    QUOTED, fmt->thousands);
		/* "0.500": no one groups thousands after a 0; it is a decimal
		 * point written in the wrong convention, never 500 */
		if (groups == 0 && u[i - group] == '0')
			return tg_error_set(err, "'%s' is not a number: a thousands separator '%c' after a leading 0 (the decimal separator here is '%c')",
					    QUOTED, fmt->thousands, fmt->decimal);
		if (groups > 0 && group != 3)
			return tg_error_set(err, "'%s' is not a number: digits between thousands separators '%c' must be groups of three",
					    QUOTED, fmt->thousands);
		groups++;
		group = 0;
		i += k;
	}
	if (groups > 0 && group != 3)
		return tg_error_set(err, "'%s' is not a number: after the thousands separator '%c' there must be exactly three digits",
				    QUOTED, fmt->thousands);

	/* decimals */
	if (i < len && u[i] == (unsigned char)fmt->decimal) {
		i++;
		for (; i < len && is_digit(u[i]); i++) {
			if (sc.nd > 0 || u[i] != '0')
				sc.dig[sc.nd++] = (char)u[i];
			nfrac++;
		}
		if (nfrac == 0)
			return tg_error_set(err, "'%s' is not a number: no digits after the decimal separator '%c'",
					    QUOTED, fmt->decimal);
		any = true;
		/* as in the integer part, a separator not followed by a digit
		 * is not one: "95,3 %" */
		if (i < len && (k = thousands_len(fmt, u, i, len)) > 0 && i + k < len &&
		    is_digit(u[i + k]))
			return tg_error_set(err, "'%s' is not a number: a thousands separator '%c' after the decimal separator '%c'",
					    QUOTED, fmt->thousands, fmt->decimal);
	}
	if (!any && i < len && u[i] != '%' && tg_utf8_blank_len(u + i, len - i) == 0) {
		k = tg_utf8_len(u + i, len - i);
		return tg_error_set(err, "'%s' is not a number: unexpected '%s'", QUOTED,
				    quote(s + i, k ? k : 1, cq, sizeof(cq)));
	}
	if (!any)
		return tg_error_set(err, "'%s' is not a number: no digits", QUOTED);

	/* exponent */
	if (i < len && (u[i] == 'e' || u[i] == 'E')) {
		bool eneg = false;
		size_t nexp = 0;

		i++;
		if (i < len && (u[i] == '+' || u[i] == '-')) {
			eneg = u[i] == '-';
			i++;
		}
		for (; i < len && is_digit(u[i]); i++, nexp++)
			if (ex < EXP_LIMIT)
				ex = ex * 10 + (u[i] - '0');
		if (nexp == 0)
			return tg_error_set(err, "'%s' is not a number: no digits in the exponent", QUOTED);
		if (eneg)
			ex = -ex;
	}

	/* percent sign, possibly after a (non-breaking) space */
	k = i;
	while (k < len && tg_utf8_blank_len(u + k, len - k) > 0)
		k += tg_utf8_blank_len(u + k, len - k);
	if (k < len && u[k] == '%')
		i = k + 1;

	if (i < len) {
		c = u[i];
		if ((c == '.' || c == ',') && c != fmt->decimal && c != fmt->thousands)
			return tg_error_set(err, "'%s' is not a number: '%c' is not the decimal separator '%c'",
					    QUOTED, c, fmt->decimal);
		if (c == fmt->decimal)
			return tg_error_set(err, "'%s' is not a number: more than one decimal separator '%c'",
					    QUOTED, fmt->decimal);
		if (tg_utf8_blank_len(u + i, len - i) > 0)
			return tg_error_set(err, "'%s' is not a number: unexpected space%s", QUOTED,
					    fmt->thousands == 0 ? " (no thousands separator is configured)" : "");
		k = tg_utf8_len(u + i, len - i);
		return tg_error_set(err, "'%s' is not a number: unexpected '%s'", QUOTED,
				    quote(s + i, k ? k : 1, cq, sizeof(cq)));
	}

	/* value = dig * 10^(ex - fractional digits after the last significant one) */
	ex -= (long)nfrac;
	while (sc.nd > 0 && sc.dig[sc.nd - 1] == '0') {
		sc.nd--;
		ex++;
	}
	if (sc.nd == 0) {
		v = 0.0;
	} else if ((long)sc.nd + ex - 1 > DBL_MAX_10_EXP) {
		v = HUGE_VAL;
	} else if ((long)sc.nd + ex <= -324) {
		v = 0.0; /* below half the smallest subnormal */
	} else {
		bool ok = false;

		if (sc.nd <= 19) {
			uint64_t D = 0;

			for (k = 0; k < sc.nd; k++)
				D = D * 10 + (uint64_t)(sc.dig[k] - '0');
			v = convert19(D, (int)ex, &ok);
		}
		if (!ok) {
			/* digits and an exponent, no radix character: locale-proof */
			char buf[NUMBER_MAX_LEN + 32];

			memcpy(buf, sc.dig, sc.nd);
			snprintf(buf + sc.nd, sizeof(buf) - sc.nd, "e%ld", ex);
			v = strtod(buf, NULL);
		}
	}
	if (v > DBL_MAX)
		return tg_error_set(err, "'%s' is not a number: out of range (the largest is about 1.8e308)", QUOTED);
	if (out != NULL)
		*out = neg && v != 0.0 ? -v : v;
	return TG_NUMBER_VALUE;
}
#undef QUOTED

/* ---------------------------------------------------------------- format */

struct outbuf {
	char *buf;
	size_t size, n;
};

static void put(struct outbuf *o, const char *s, size_t len)
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
static bool ambiguous(const char *s, size_t decimals)
{
	const char *p = s;
	size_t i;
	char fill;

	while (*p != '\0' && is_digit(*p))
		p++;
	while (*p != '\0' && !is_digit(*p))
		p++;
	for (i = 0; i < decimals && is_digit(*p); i++)
		p++;
	if (*p != '5' && *p != '4')
		return false;
	fill = *p == '5' ? '0' : '9';
	for (p++; is_digit(*p); p++)
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
static bool format_sci(double v, bool neg, char dec, char *buf, size_t size)
{
	char tmp[48], out[48];
	const char *p = tmp, *e;
	size_t n = 0, m;

	snprintf(tmp, sizeof(tmp), "%.2e", v);
	e = strchr(tmp, 'e');
	if (e == NULL || !is_digit(*p))
		return false;
	if (neg)
		out[n++] = '-';
	out[n++] = *p++;
	while (p < e && !is_digit(*p))
		p++;
	m = n;
	if (p < e) {
		out[n++] = dec;
		while (p < e && is_digit(*p))
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
	while (*p == '0' && is_digit(p[1]))
		p++;
	while (is_digit(*p) && n < sizeof(out) - 1)
		out[n++] = *p++;
	if (n >= size)
		return false;
	memcpy(buf, out, n);
	buf[n] = '\0';
	return true;
}

#ifdef __SIZEOF_INT128__
typedef unsigned __int128 u128;

/* Writes u in decimal before end, at least `pad` digits (zero-filled), two
 * digits per division; returns the first digit. */
static char *u64_digits(uint64_t u, size_t pad, char *end)
{
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char *p = end;

	while (u >= 100) {
		unsigned r = (unsigned)(u % 100);

		u /= 100;
		p -= 2;
		p[0] = pairs[2 * r];
		p[1] = pairs[2 * r + 1];
	}
	if (u >= 10) {
		p -= 2;
		p[0] = pairs[2 * u];
		p[1] = pairs[2 * u + 1];
	} else {
		*--p = (char)('0' + u);
	}
	while ((size_t)(end - p) < pad)
		*--p = '0';
	return p;
}

/*
 * The exact decimal expansion of v (>= 0, finite) rounded half away from
 * zero at `decimals` (0..FORMAT_MAX_DECIMALS), by integer arithmetic: v is
 * m * 2^e exactly, so v * 10^d = m * 10^d / 2^-e, a 128-bit integer (m <
 * 2^53, 10^20 < 2^67) shifted right, and the bits shifted out say whether
 * the rest is at least one half.  No guard digits, no ties to worry about:
 * the same digits as the printf path below, which reads them from glibc's
 * exact expansion.  Writes the integer digits (at least one: "0") then
 * exactly `decimals` digits at the end of buf[0..EXACT_BUF); returns the
 * first of them, *nd their number; or NULL when v >= 2^64 (left to printf:
 * a number that big is rare and has up to 309 digits).
 */
#define EXACT_BUF 64

static const char *exact_digits(double v, int decimals, char *buf, size_t *nd)
{
	static const uint64_t p10[] = {
		UINT64_C(1), UINT64_C(10), UINT64_C(100), UINT64_C(1000), UINT64_C(10000),
		UINT64_C(100000), UINT64_C(1000000), UINT64_C(10000000), UINT64_C(100000000),
		UINT64_C(1000000000), UINT64_C(10000000000), UINT64_C(100000000000),
		UINT64_C(1000000000000), UINT64_C(10000000000000), UINT64_C(100000000000000),
		UINT64_C(1000000000000000), UINT64_C(10000000000000000),
		UINT64_C(100000000000000000), UINT64_C(1000000000000000000),
		UINT64_C(10000000000000000000),
	};
	uint64_t bits = dbl_bits(v), m = bits & ((UINT64_C(1) << 52) - 1);
	int biased = (int)(bits >> 52) & 0x7ff, e, k;
	size_t d = (size_t)decimals;
	char *end = buf + EXACT_BUF, *p;
	u128 q, pw;

	if (biased == 0) {
		e = -1074;
	} else {
		m |= UINT64_C(1) << 52;
		e = biased - 1075;
	}
	if (e >= 0) {
		/* an integer: its digits, then `decimals` zeros */
		if (e > 11)
			return NULL;
		memset(end - d, '0', d);
		p = u64_digits(m << e, 1, end - d);
		*nd = (size_t)(end - p);
		return p;
	}
	pw = d < sizeof(p10) / sizeof(p10[0]) ? (u128)p10[d] : (u128)p10[19] * 10;
	q = (u128)m * pw; /* < 2^53 * 10^20 < 2^120 */
	k = -e;
	if (k > 120) {
		q = 0; /* below 2^(k-1): less than one half */
	} else {
		u128 half = (u128)1 << (k - 1);
		bool up = (q & ((half << 1) - 1)) >= half;

		q = (q >> k) + up;
	}
	/* at least one integer digit: d + 1 digits, zero-filled */
	if (q >> 64 == 0) {
		p = u64_digits((uint64_t)q, d + 1, end);
	} else {
		const uint64_t e19 = p10[19];

		p = u64_digits((uint64_t)(q % e19), 19, end);
		p = u64_digits((uint64_t)(q / e19), 0, p);
		while ((size_t)(end - p) < d + 1)
			*--p = '0';
	}
	*nd = (size_t)(end - p);
	return p;
}
#endif

/*
 * The same as exact_digits, from glibc's exact decimal expansion of v
 * ("%.*f"), for any finite v >= 0.  Only the digits of the snprintf output
 * are used: its radix character may follow LC_NUMERIC.  Returns the number
 * of integer digits; *nd the number of digits written.
 */
static size_t printf_digits(double v, int decimals, char *dig, size_t *nd_out)
{
	/* every digit of a double: 309 before the point, 1074 after it */
	char tmp[DBL_MAX_10_EXP + EXACT_DECIMALS + 32];
	const char *p, *fp;
	size_t ni, nf, nd, i;

	snprintf(tmp, sizeof(tmp), "%.*f", decimals + GUARD_DECIMALS, v);
	if (ambiguous(tmp, (size_t)decimals))
		snprintf(tmp, sizeof(tmp), "%.*f", EXACT_DECIMALS, v);
	for (p = tmp, nd = 0; is_digit(*p) && nd < DBL_MAX_10_EXP + 2; p++)
		dig[nd++] = *p;
	ni = nd;
	while (*p != '\0' && !is_digit(*p))
		p++;
	fp = p;
	for (i = 0; i < (size_t)decimals && is_digit(fp[i]); i++)
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
	*nd_out = nd;
	return ni;
}

const char *tg_number_format(double v, int decimals, const char *lang, char *buf, size_t size)
{
	bool en = lang != NULL && to_lower((unsigned char)lang[0]) == 'e' &&
		  to_lower((unsigned char)lang[1]) == 'n' &&
		  (lang[2] == '\0' || lang[2] == '_' || lang[2] == '-' || lang[2] == '.');
	char dec = en ? '.' : ',', sep = en ? ',' : '.';
	char dig[DBL_MAX_10_EXP + FORMAT_MAX_DECIMALS + 8];
	const char *dg = NULL;
#ifdef __SIZEOF_INT128__
	char ex[EXACT_BUF];
#endif
	/* sign, 309 digits in groups, the radix and 20 decimals */
	char text[sizeof(dig) + sizeof(dig) / 3 + 2];
	struct outbuf o = { buf, size, 0 };
	size_t ni = 0, nf, nd = 0, i, lim, t = 0, len, group;
	char *out;
	bool neg, zero;

	if (buf == NULL || size == 0)
		return buf;
	buf[0] = '\0';
	if (v != v) {
		put(&o, en ? "n/a" : "n.d.", en ? 3 : 4);
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
		put(&o, neg ? "-\xe2\x88\x9e" : "\xe2\x88\x9e", neg ? 4 : 3);
		return buf;
	}
	/* The exact decimal expansion of v, rounded here half away from zero as
	 * people (and spreadsheets) do: 0,125 -> 0,13. */
#ifdef __SIZEOF_INT128__
	dg = exact_digits(v, decimals, ex, &nd);
#endif
	if (dg != NULL) {
		ni = nd - (size_t)decimals;
	} else {
		ni = printf_digits(v, decimals, dig, &nd);
		dg = dig;
	}
	nf = nd - ni;
	while (nf > 0 && dg[ni + nf - 1] == '0')
		nf--;
	/* drop leading zeros but one */
	for (lim = 0; lim + 1 < ni && dg[lim] == '0'; lim++)
		;
	/* zero: a lone "0" left of the radix (leading zeros are gone but one)
	 * and nothing right of it (trailing zeros are gone) */
	zero = nf == 0 && dg[lim] == '0';
	/* what does not fit is written short rather than cut; else the text
	 * goes straight into buf, or is cut there when even the short form
	 * does not fit */
	len = (size_t)(neg && !zero) + (ni - lim) + (ni - lim - 1) / 3 + (nf > 0 ? 1 + nf : 0);
	if (len >= size && format_sci(v, neg, dec, buf, size))
		return buf;
	out = len < size ? buf : text;
	if (neg && !zero) /* never "-0" */
		out[t++] = '-';
	/* the integer digits in groups of three from the right: the first
	 * group has 1..3 */
	group = (ni - lim) % 3 != 0 ? (ni - lim) % 3 : 3;
	for (i = lim; i < ni; i++) {
		if (group-- == 0) {
			out[t++] = sep;
			group = 2;
		}
		out[t++] = dg[i];
	}
	if (nf > 0) {
		out[t++] = dec;
		memcpy(out + t, dg + ni, nf);
		t += nf;
	}
	if (out == buf) {
		buf[t] = '\0';
		return buf;
	}
	put(&o, text, t);
	return buf;
}
