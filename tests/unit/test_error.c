/*
 * test_error.c — tg_error_quote_in, the quoting of the number, date and
 * store messages, against tg_error_quote (whose own table is in
 * test_source_csv.c): the delimiters escaped, hex in lower case, the rest
 * the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "error.h"

#define A10 "aaaaaaaaaa"

static void test_quote_in(void **state)
{
	static const struct {
		const char *in;
		size_t len, max;
		const char *delims;
		size_t size;
		const char *out;
	} cases[] = {
		{ "plain", 5, 40, "'\\", 64, "plain" },
		{ "it's", 4, 40, "'\\", 64, "it\\x27s" },
		{ "a\\b", 3, 40, "'\\", 64, "a\\x5cb" },
		{ "say \"hi\"", 8, 40, "'\\", 64, "say \"hi\"" },     /* not a delimiter */
		{ "say \"hi\"", 8, 40, "\"\\", 64, "say \\x22hi\\x22" },
		{ "it's", 4, 40, "\"\\", 64, "it's" },
		{ "a\nb\x7f", 4, 40, "'\\", 64, "a\\x0ab\\x7f" },      /* lower-case hex */
		{ "a\0b", 3, 40, "'\\", 64, "a\\x00b" },
		{ "\xc2\x85" "x", 3, 40, "'\\", 64, "\\xc2\\x85x" },   /* C1 NEL */
		{ "\xc2\x9b" "2J", 4, 40, "'\\", 64, "\\xc2\\x9b2J" }, /* C1 CSI */
		{ "\xc2\xa0" "x", 3, 40, "'\\", 64, "\xc2\xa0x" },     /* U+00A0 kept */
		{ "caff\xc3\xa8", 6, 40, "'\\", 64, "caff\xc3\xa8" },
		{ "caff\xe8", 5, 40, "'\\", 64, "caff\\xe8" },
		{ "\xed\xa0\x80", 3, 40, "'\\", 64, "\\xed\\xa0\\x80" }, /* surrogate */
		{ "\xc0\xaf", 2, 40, "'\\", 64, "\\xc0\\xaf" },          /* overlong */
		{ NULL, 5, 40, "'\\", 64, "" },
		{ "", 0, 40, "", 64, "" },
		/* cut after max bytes, a character at the cut kept whole */
		{ A10 A10 A10 A10 "bc", 42, 40, "'\\", 64, A10 A10 A10 A10 "..." },
		{ A10 A10 A10 "aaaaaaaaa\xc3\xa8z", 42, 40, "'\\", 64,
		  A10 A10 A10 "aaaaaaaaa\xc3\xa8..." },
		/* cut by size: visible */
		{ "abcdefghij", 10, 40, "'\\", 8, "abcd..." },
		{ "''''", 4, 40, "'\\", 9, "\\x27..." },
	};
	char buf[64];

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		tg_error_quote_in(cases[c].in, cases[c].len, cases[c].max, cases[c].delims, buf,
				  cases[c].size);
		if (strcmp(buf, cases[c].out) != 0) {
			print_error("case %zu: got \"%s\", expected \"%s\"\n", c, buf, cases[c].out);
			fail();
		}
	}
}

/* tg_error_quote is unchanged by the sharing: upper-case hex, no quote
 * character escaped; size 0 leaves buf untouched. */
static void test_quote_plain(void **state)
{
	char buf[32] = "untouched";

	(void)state;
	assert_string_equal(tg_error_quote("it's\n\\", 6, 40, buf, sizeof(buf)), "it's\\x0A\\");
	assert_string_equal(tg_error_quote("\xc2\x85", 2, 40, buf, sizeof(buf)), "\\xC2\\x85");
	strcpy(buf, "untouched");
	tg_error_quote("abc", 3, 40, buf, 0);
	assert_string_equal(buf, "untouched");
	tg_error_quote_in("abc", 3, 40, "'", buf, 0);
	assert_string_equal(buf, "untouched");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_in),
		cmocka_unit_test(test_quote_plain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
