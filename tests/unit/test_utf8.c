/*
 * test_utf8.c — tg_utf8_len: a table of well-formed and ill-formed
 * sequences, each tried cut short at every length, and an exhaustive
 * comparison with an independent decoder (decode, then range-check the code
 * point) over every code point and every two-byte prefix; then the blanks
 * and trimming of numbers and dates.  Reads past the bound are caught by
 * placing the bytes at the very end of an allocation (run under ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "utf8.h"

struct utf8_case {
	const char *name;
	const char *bytes;
	size_t len;     /* bytes in the case */
	size_t want;    /* tg_utf8_len(bytes, len) */
};

#define C(name, lit, want) { name, lit, sizeof(lit) - 1, want }

static const struct utf8_case cases[] = {
	/* ASCII: one byte, whatever follows */
	C("NUL", "\0", 1),
	C("A", "A", 1),
	C("DEL", "\x7f", 1),
	C("A before a continuation byte", "A\x80", 1),
	/* two bytes */
	C("U+0080", "\xc2\x80", 2),
	C("U+00E0 a-grave", "\xc3\xa0", 2),
	C("U+07FF", "\xdf\xbf", 2),
	C("2-byte then ASCII", "\xc3\xa8x", 2),
	C("2-byte, second byte ASCII", "\xc3\x41", 0),
	C("2-byte, second byte a lead", "\xc3\xc3", 0),
	C("2-byte, second byte NUL", "\xc3\0", 0),
	/* three bytes */
	C("U+0800", "\xe0\xa0\x80", 3),
	C("U+20AC euro", "\xe2\x82\xac", 3),
	C("U+D7FF", "\xed\x9f\xbf", 3),
	C("U+E000", "\xee\x80\x80", 3),
	C("U+FFFD", "\xef\xbf\xbd", 3),
	C("U+FFFF", "\xef\xbf\xbf", 3),
	C("3-byte, third byte ASCII", "\xe2\x82\x41", 0),
	C("3-byte, third byte NUL", "\xe2\x82\0", 0),
	C("3-byte, second byte NUL", "\xe2\0\xac", 0),
	/* four bytes */
	C("U+10000", "\xf0\x90\x80\x80", 4),
	C("U+1F600 emoji", "\xf0\x9f\x98\x80", 4),
	C("U+FFFFF", "\xf3\xbf\xbf\xbf", 4),
	C("U+100000", "\xf4\x80\x80\x80", 4),
	C("U+10FFFF", "\xf4\x8f\xbf\xbf", 4),
	C("4-byte, fourth byte ASCII", "\xf0\x9f\x98\x41", 0),
	C("4-byte, fourth byte a lead", "\xf0\x9f\x98\xf0", 0),
	/* overlong forms */
	C("overlong NUL C0 80", "\xc0\x80", 0),
	C("overlong '/' C0 AF", "\xc0\xaf", 0),
	C("overlong C1 BF", "\xc1\xbf", 0),
	C("overlong NUL E0 80 80", "\xe0\x80\x80", 0),
	C("overlong U+07FF E0 9F BF", "\xe0\x9f\xbf", 0),
	C("overlong NUL F0 80 80 80", "\xf0\x80\x80\x80", 0),
	C("overlong U+FFFF F0 8F BF BF", "\xf0\x8f\xbf\xbf", 0),
	/* surrogates */
	C("U+D800", "\xed\xa0\x80", 0),
	C("U+DBFF", "\xed\xaf\xbf", 0),
	C("U+DC00", "\xed\xb0\x80", 0),
	C("U+DFFF", "\xed\xbf\xbf", 0),
	C("surrogate pair as CESU-8", "\xed\xa0\xbd\xed\xb8\x80", 0),
	/* beyond U+10FFFF */
	C("U+110000 F4 90 80 80", "\xf4\x90\x80\x80", 0),
	C("U+13FFFF F4 BF BF BF", "\xf4\xbf\xbf\xbf", 0),
	C("F5 lead", "\xf5\x80\x80\x80", 0),
	C("F7 lead", "\xf7\xbf\xbf\xbf", 0),
	C("F8 five-byte lead", "\xf8\x88\x80\x80\x80", 0),
	C("FC six-byte lead", "\xfc\x84\x80\x80\x80\x80", 0),
	C("FE", "\xfe", 0),
	C("FF", "\xff", 0),
	/* stray continuation bytes */
	C("lone 80", "\x80", 0),
	C("lone BF", "\xbf", 0),
	C("continuation before ASCII", "\x80" "A", 0),
	/* Windows-1252 text read as UTF-8 */
	C("cp1252 a-grave then space", "\xe0 ", 0),
	C("cp1252 e-grave at end", "\xe8", 0),
};

/* A copy of b[0..n) at the end of its own allocation: one byte more read
 * is a heap-buffer-overflow under ASan.  n == 0 gives a 1-byte block that
 * must not be read either (ASan cannot see that: checked by the value). */
static unsigned char *tail_copy(const char *b, size_t n)
{
	unsigned char *p = malloc(n > 0 ? n : 1);

	assert_non_null(p);
	if (n > 0)
		memcpy(p, b, n);
	else
		p[0] = 0xE2;    /* a lead byte: read, it would not give 0 */
	return p;
}


/* The cut never splits a character: "à" is C3 A0, "€" E2 82 AC. */
static void test_cut(void **state)
{
	static const char s[] = "a\xc3\xa0\xe2\x82\xac";   /* a à € : 6 bytes */

	(void)state;
	assert_int_equal(tg_utf8_cut(s, 6, 10), 6);
	assert_int_equal(tg_utf8_cut(s, 6, 6), 6);
	assert_int_equal(tg_utf8_cut(s, 6, 5), 3);
	assert_int_equal(tg_utf8_cut(s, 6, 4), 3);
	assert_int_equal(tg_utf8_cut(s, 6, 3), 3);
	assert_int_equal(tg_utf8_cut(s, 6, 2), 1);
	assert_int_equal(tg_utf8_cut(s, 6, 1), 1);
	assert_int_equal(tg_utf8_cut(s, 6, 0), 0);
	assert_int_equal(tg_utf8_cut(s, 0, 3), 0);
}

/* A status line made one line of valid UTF-8: what snprintf cut and a
 * server's bytes in another encoding (jansson and systemd refuse both). */
static void test_scrub(void **state)
{
	static const struct { const char *in, *out; } scrub_cases[] = {
		{ "connesso", "connesso" },
		{ "sistema \xC3\xA8 \xC2\xAB", "sistema \xC3\xA8 \xC2\xAB" },
		{ "cut \xC3", "cut " },
		{ "cut \xE2\x82", "cut " },
		{ "cut \xF0\x9F\x98", "cut " },
		{ "latin1 \xE8 x", "latin1 ? x" },
		{ "bad \xC3\x28", "bad ?(" },
		{ "stray \x80\x80 x", "stray ?? x" },
		{ "ff \xFF", "ff ?" },
		{ "esc \x1b[31m\r\nx\x7f", "esc  [31m  x " },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(scrub_cases) / sizeof(scrub_cases[0]); i++) {
		char buf[64];

		strcpy(buf, scrub_cases[i].in);
		tg_utf8_scrub(buf);
		if (strcmp(buf, scrub_cases[i].out) != 0) {
			print_error("case %zu: got \"%s\"\n", i, buf);
			fail();
		}
	}
}

static void test_table(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct utf8_case *k = &cases[c];
		unsigned char *p = tail_copy(k->bytes, k->len);
		size_t got = tg_utf8_len(p, k->len);

		if (got != k->want) {
			print_error("case %zu (%s): got %zu, expected %zu\n", c, k->name, got,
				    k->want);
			free(p);
			fail();
		}
		free(p);
	}
}

/* Every case cut short at every n: a sequence longer than n is invalid
 * (0), one that fits gives the same answer as uncut. */
static void test_truncated_at_every_n(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct utf8_case *k = &cases[c];

		for (size_t n = 0; n <= k->len; n++) {
			unsigned char *p = tail_copy(k->bytes, n);
			size_t got = tg_utf8_len(p, n);
			size_t want = n == 0 ? 0 : k->want <= n ? k->want : 0;

			/* cutting an invalid sequence never makes it valid */
			if (k->want == 0 && n > 0 && got != 0) {
				print_error("case %zu (%s) n=%zu: got %zu for an invalid sequence\n", c,
					    k->name, n, got);
				free(p);
				fail();
			}
			if (k->want != 0 && got != want) {
				print_error("case %zu (%s) n=%zu: got %zu, expected %zu\n", c, k->name,
					    n, got, want);
				free(p);
				fail();
			}
			free(p);
		}
	}
}

/* NUL-terminated text may pass SIZE_MAX: the NUL ends any sequence, and
 * nothing after it is read (the NUL is the last byte of the allocation). */
static void test_nul_stops_at_size_max(void **state)
{
	static const struct { const char *s; size_t want; } nul_cases[] = {
		{ "", 1 },
		{ "a", 1 },
		{ "\xc3\xa8", 2 },
		{ "\xe2\x82\xac", 3 },
		{ "\xf0\x9f\x98\x80", 4 },
		{ "\xc3", 0 },
		{ "\xe2", 0 },
		{ "\xe2\x82", 0 },
		{ "\xf0", 0 },
		{ "\xf0\x9f", 0 },
		{ "\xf0\x9f\x98", 0 },
		{ "\xed\xa0", 0 },
		{ "\xf4\x90", 0 },
	};

	(void)state;
	for (size_t c = 0; c < sizeof(nul_cases) / sizeof(nul_cases[0]); c++) {
		size_t n = strlen(nul_cases[c].s) + 1;
		unsigned char *p = tail_copy(nul_cases[c].s, n);
		size_t got = tg_utf8_len(p, SIZE_MAX);

		free(p);
		if (got != nul_cases[c].want) {
			print_error("case %zu: got %zu, expected %zu\n", c, got, nul_cases[c].want);
			fail();
		}
	}
}

/* The independent reference: decode by masks and shifts first, then reject
 * what the code point makes invalid (overlong for its length, surrogate,
 * above U+10FFFF). */
static size_t ref_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp, min;

	if (n == 0)
		return 0;
	if ((s[0] & 0x80) == 0)
		return 1;
	if ((s[0] & 0xE0) == 0xC0)
		len = 2, cp = s[0] & 0x1Fu, min = 0x80;
	else if ((s[0] & 0xF0) == 0xE0)
		len = 3, cp = s[0] & 0x0Fu, min = 0x800;
	else if ((s[0] & 0xF8) == 0xF0)
		len = 4, cp = s[0] & 0x07u, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3Fu);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* Every code point U+0000..U+10FFFF encoded by hand: its length, except
 * the surrogates, which are 0. */
static void test_every_code_point(void **state)
{
	unsigned char b[4];

	(void)state;
	for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
		size_t len, want, got;

		if (cp < 0x80) {
			b[0] = (unsigned char)cp;
			len = 1;
		} else if (cp < 0x800) {
			b[0] = (unsigned char)(0xC0 | cp >> 6);
			b[1] = (unsigned char)(0x80 | (cp & 0x3F));
			len = 2;
		} else if (cp < 0x10000) {
			b[0] = (unsigned char)(0xE0 | cp >> 12);
			b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
			b[2] = (unsigned char)(0x80 | (cp & 0x3F));
			len = 3;
		} else {
			b[0] = (unsigned char)(0xF0 | cp >> 18);
			b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
			b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
			b[3] = (unsigned char)(0x80 | (cp & 0x3F));
			len = 4;
		}
		want = cp >= 0xD800 && cp <= 0xDFFF ? 0 : len;
		got = tg_utf8_len(b, len);
		if (got != want) {
			print_error("U+%04X: got %zu, expected %zu\n", (unsigned)cp, got, want);
			fail();
		}
		/* one byte short is never valid */
		if (len > 1 && tg_utf8_len(b, len - 1) != 0) {
			print_error("U+%04X cut to %zu bytes: not 0\n", (unsigned)cp, len - 1);
			fail();
		}
	}
}

/* Every lead byte with every second byte, followed by a few kinds of
 * byte (continuation low/high, ASCII, lead, NUL), at every n: the same
 * answer as the reference. */
static void test_against_reference(void **state)
{
	static const unsigned char tails[] = { 0x80, 0xBF, 0x00, 0x41, 0xC3, 0xFF };
	unsigned char b[4];

	(void)state;
	for (unsigned b0 = 0; b0 < 256; b0++) {
		for (unsigned b1 = 0; b1 < 256; b1++) {
			for (size_t t2 = 0; t2 < sizeof(tails); t2++) {
				for (size_t t3 = 0; t3 < sizeof(tails); t3++) {
					b[0] = (unsigned char)b0;
					b[1] = (unsigned char)b1;
					b[2] = tails[t2];
					b[3] = tails[t3];
					for (size_t n = 0; n <= 4; n++) {
						size_t got = tg_utf8_len(b, n), want = ref_len(b, n);

						if (got != want) {
							print_error("%02X %02X %02X %02X n=%zu: got %zu, "
								    "expected %zu\n", b[0], b[1], b[2],
								    b[3], n, got, want);
							fail();
						}
					}
				}
			}
		}
	}
}

struct trim_case {
	const char *in;
	size_t len;
	size_t blank;           /* tg_utf8_blank_len(in, len) */
	size_t skip, keep;      /* after tg_utf8_trim: in + skip, keep bytes */
};

#define T(lit, blank, skip, keep) { lit, sizeof(lit) - 1, blank, skip, keep }

static const struct trim_case trim_cases[] = {
	T("", 0, 0, 0),
	T("a", 0, 0, 1),
	T(" ", 1, 1, 0),
	T("\t\r\n x", 1, 4, 1),
	T(" a b ", 1, 1, 3),                                    /* inner blank kept */
	T("\xc2\xa0" "12" "\xe2\x80\xaf", 2, 2, 2),            /* U+00A0, U+202F */
	T("\xe2\x80\xaf\xc2\xa0x\xc2\xa0\xc2\xa0", 3, 5, 1),
	T("\xc2", 0, 0, 1),                                     /* cut U+00A0 */
	T("\xe2\x80", 0, 0, 2),                                 /* cut U+202F */
	T("a\xc2", 0, 0, 2),
	T("\xa0", 0, 0, 1),                                     /* no lead byte */
	T("x\xa0", 0, 0, 2),
	T("\xc2\xa1", 0, 0, 2),                                 /* U+00A1 */
	T("\xe2\x80\xae", 0, 0, 3),                             /* U+202E */
	T("\xe2\x80\x8b", 0, 0, 3),                             /* U+200B: not a blank */
	T("\v\f", 0, 0, 2),                                     /* not blanks here */
	T("\0 ", 0, 0, 1),                                      /* NUL is no blank */
	T(" \0", 1, 1, 1),
};

static void test_blank_and_trim(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(trim_cases) / sizeof(trim_cases[0]); c++) {
		const struct trim_case *k = &trim_cases[c];
		unsigned char *p = tail_copy(k->in, k->len);
		const char *s = (const char *)p;
		size_t len = k->len, blank = tg_utf8_blank_len(p, k->len);

		size_t skip;

		tg_utf8_trim(&s, &len);
		skip = (size_t)(s - (const char *)p);
		free(p);
		if (blank != k->blank || skip != k->skip || len != k->keep) {
			print_error("case %zu: blank %zu, skip %zu, keep %zu; expected %zu, %zu, %zu\n",
				    c, blank, skip, len, k->blank, k->skip, k->keep);
			fail();
		}
	}
	/* blanks cut short by n are not blanks */
	assert_int_equal(tg_utf8_blank_len((const unsigned char *)"\xc2\xa0", 1), 0);
	assert_int_equal(tg_utf8_blank_len((const unsigned char *)"\xe2\x80\xaf", 2), 0);
	assert_int_equal(tg_utf8_blank_len((const unsigned char *)" ", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_scrub),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_truncated_at_every_n),
		cmocka_unit_test(test_nul_stops_at_size_max),
		cmocka_unit_test(test_every_code_point),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_blank_and_trim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
