/*
 * test_number_fast.c — the fast path of tg_number_parse (plain digits with
 * the format's decimal separator) against the general one.  A leading space
 * sends the same text down the general path (it is trimmed there), so every
 * case is parsed both ways and must give the same result, bit for bit, the
 * same missing markers and the same errors.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "number.h"

static const char *const markers[] = { "n.d.", "-", "999", "-1", " 7 " };
static const struct tg_number_format IT = { ',', '.', markers, 5, false };
static const struct tg_number_format EN = { '.', ',', NULL, 0, false };
static const struct tg_number_format C = { '.', 0, NULL, 0, false };

static void both_ways(size_t ci, const char *s, const struct tg_number_format *fmt)
{
	char spaced[64];
	struct tg_error e1, e2;
	double v1 = -12345.0, v2 = -12345.0;
	int r1, r2;
	size_t len = strlen(s);

	assert_true(len + 2 < sizeof(spaced));
	spaced[0] = ' ';
	memcpy(spaced + 1, s, len + 1);
	tg_error_clear(&e1);
	tg_error_clear(&e2);
	r1 = tg_number_parse(s, len, fmt, &v1, &e1);
	r2 = tg_number_parse(spaced, len + 1, fmt, &v2, &e2);
	if (r1 != r2 || memcmp(&v1, &v2, sizeof(v1)) != 0 ||
	    strcmp(e1.msg, e2.msg) != 0) {
		print_error("case %zu '%s' (decimal '%c'): %d %.17g '%s' vs general %d %.17g '%s'\n", ci,
			    s, fmt->decimal, r1, v1, e1.msg, r2, v2, e2.msg);
		fail();
	}
}

static void test_table(void **state)
{
	static const char *const cases[] = {
		"0", "-0", "+0", "-0,0", "0,000", "1", "12", "53582,72", "-53582,72", "+3,5",
		"999", "-1", "7", "1,", ",5", "1,2,3", "1.234", "1.234,5", "12a", "1e5", "1,5%",
		"123456789012345", "1234567890123456", "12345678901234567", "0,000000000000001",
		"999999999999999,9", "99999999999999,99", "00000000000000001", "-", "+", "--1",
		"1-", "0,1", "0,3", "2,675", "1,005", "9007199254740993", "4,35", "0,07",
		"\xE2\x88\x92" "1", "1 ", "\xC2\xA0" "1",
		/* 8 bytes and more: the leading digits taken 8 at a time */
		"1234567a", "12345\xFF" "78", "1234567890123456a", "-1234567,5", "+00000000,0",
		"12345678", "123456789", "99999999,99", "1234567\x3A", "1234567/", "/1234567",
		"12,45678", "1234,5678", "0000000000000001", "1234567\x0F" "1", "\xFF" "2345678",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		both_ways(i, cases[i], &IT);
		both_ways(i, cases[i], &EN);
		both_ways(i, cases[i], &C);
		both_ways(i, cases[i], NULL);
	}
}

/* Random digit strings with a decimal separator somewhere: the fast path's
 * one division against the general path's exact conversion. */
static void test_random(void **state)
{
	uint64_t x = 88172645463325252u;
	char s[32];

	(void)state;
	for (size_t i = 0; i < 300000; i++) {
		size_t nd, k, o = 0, dot;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		nd = 1 + x % 16;
		dot = (x >> 8) % (nd + 2);
		if ((x >> 16) & 1)
			s[o++] = '-';
		for (k = 0; k < nd; k++) {
			if (k == dot && k > 0)
				s[o++] = (x >> 20) & 1 ? ',' : '.';
			s[o++] = (char)('0' + (x >> (k * 3 % 60)) % 10);
		}
		s[o] = '\0';
		both_ways(i, s, (x >> 21) & 1 ? &IT : &EN);
	}
}

/* Cells of 1 to 9 bytes from an alphabet of digits, both separators, signs,
 * a space, a letter and bytes next to the digits ('/', ':'): what the fast
 * path takes and what it leaves must both agree with the general path. */
static void test_short_cells(void **state)
{
	static const char alphabet[] = "0123456789012345678901234567890123456789,,,..-+ a/:\xFF";
	uint64_t x = 0x2545F4914F6CDD1Du;
	char s[16];

	(void)state;
	for (size_t i = 0; i < 400000; i++) {
		size_t len;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = 1 + x % 9;
		for (size_t k = 0; k < len; k++)
			s[k] = alphabet[(x >> (4 + 5 * k)) % (sizeof(alphabet) - 1)];
		s[len] = '\0';
		both_ways(i, s, (x >> 60) & 1 ? &IT : &EN);
		both_ways(i, s, &C);
	}
}

/* tg_number_prepare: the shortcut is taken only when no marker is itself a
 * plain number, and a prepared format answers exactly as an unprepared one. */
static void test_prepared(void **state)
{
	static const char *const words[] = { "n.d.", "-", "--", "N/A", "" };
	static const char *const seven[] = { "n.d.", " 7 " };
	static const char *const comma[] = { "1,5" };
	static const char *const texts[] = { "7", " 7", "1,5", "1.5", "-", "n.d.", "53582,72", "-1", "" };
	struct tg_number_format f[] = {
		{ ',', '.', words, 5, false }, { ',', '.', seven, 2, false },
		{ ',', '.', comma, 1, false }, { '.', ',', comma, 1, false },
		{ ',', '.', markers, 5, false },
	};
	const bool expect[] = { true, false, false, true, false };

	(void)state;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct tg_number_format p = f[i];

		tg_number_prepare(&p);
		assert_int_equal(p.markers_not_numbers, expect[i]);
		for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
			struct tg_error e1, e2;
			double v1 = -1.0, v2 = -1.0;
			int r1 = tg_number_parse(texts[t], strlen(texts[t]), &f[i], &v1, &e1);
			int r2 = tg_number_parse(texts[t], strlen(texts[t]), &p, &v2, &e2);

			assert_int_equal(r1, r2);
			assert_memory_equal(&v1, &v2, sizeof(v1));
		}
	}
	/* the marker " 7 " still wins over the number 7 once prepared */
	tg_number_prepare(&f[1]);
	assert_int_equal(tg_number_parse("7", 1, &f[1], NULL, NULL), TG_NUMBER_MISSING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_short_cells),
		cmocka_unit_test(test_prepared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
