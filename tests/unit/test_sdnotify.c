/*
 * test_sdnotify.c — the STATUS= line: counts, the optional parts, the
 * failed-reload prefix, one line whatever the error quotes, truncation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sdnotify.h"
#include "status.h"

static void test_lines(void **state)
{
	static const struct {
		enum tg_status st[6];
		size_t n, failing;
		bool has_cycle;
		tg_time at;
		const char *reload_error;
		const char *want;
	} cases[] = {
		{ { TG_STATUS_OK }, 0, 0, false, 0, NULL,
		  "0 indicators: 0 ok, 0 warning, 0 critical, 0 late" },
		{ { TG_STATUS_OK }, 1, 0, true, 14 * 3600 + 5 * 60 + 59, NULL,
		  "1 indicator: 1 ok, 0 warning, 0 critical, 0 late; last cycle 14:05" },
		{ { TG_STATUS_OK, TG_STATUS_WARNING, TG_STATUS_CRITICAL, TG_STATUS_LATE, TG_STATUS_ERROR,
		    TG_STATUS_UNKNOWN }, 6, 1, true, 20000 * (tg_time)TG_DAY_SECONDS + 23 * 3600 + 59 * 60, NULL,
		  "6 indicators: 1 ok, 1 warning, 1 critical, 1 late, 1 error, 1 unknown; 1 source failing; last cycle 23:59" },
		{ { TG_STATUS_CRITICAL, TG_STATUS_CRITICAL }, 2, 3, true, -60, NULL,   /* before 1970 */
		  "2 indicators: 0 ok, 0 warning, 2 critical, 0 late; 3 sources failing; last cycle 23:59" },
		{ { TG_STATUS_OK }, 1, 0, false, 0, "a.conf:3: bad\nline\ttab",
		  "reload failed: a.conf:3: bad line tab; running with the previous configuration; 1 indicator: 1 ok, 0 warning, 0 critical, 0 late" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tg_eval_result r[6];
		struct tg_sdnotify_status st;
		char buf[512];

		memset(r, 0, sizeof(r));
		for (size_t k = 0; k < cases[i].n; k++)
			r[k].status = cases[i].st[k];
		st = (struct tg_sdnotify_status){ .results = r, .n_indicators = cases[i].n,
						  .failing_sources = cases[i].failing,
						  .has_cycle = cases[i].has_cycle,
						  .last_cycle = cases[i].at,
						  .reload_error = cases[i].reload_error };
		tg_sdnotify_status_line(&st, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, buf, cases[i].want);
	}
}

static void test_outbox(void **state)
{
	struct tg_eval_result r[2] = { { .status = TG_STATUS_OK }, { .status = TG_STATUS_CRITICAL } };
	struct tg_sdnotify_status st = { .results = r, .n_indicators = 2, .has_cycle = true,
					 .last_cycle = 14 * 3600 + 5 * 60, .has_outbox = true };
	char buf[256];

	(void)state;
	tg_sdnotify_status_line(&st, buf, sizeof(buf));
	assert_string_equal(buf, "2 indicators: 1 ok, 0 warning, 1 critical, 0 late; outbox 0; last cycle 14:05");
	st.outbox = 3;
	st.outbox_failed = 1;
	tg_sdnotify_status_line(&st, buf, sizeof(buf));
	assert_string_equal(buf, "2 indicators: 1 ok, 0 warning, 1 critical, 0 late; outbox 3, 1 failed; last cycle 14:05");
}

static void test_truncation(void **state)
{
	struct tg_eval_result r[1] = { { .status = TG_STATUS_OK } };
	struct tg_sdnotify_status st = { .results = r, .n_indicators = 1, .has_cycle = true,
					 .reload_error = "x" };
	char buf[16];

	(void)state;
	for (size_t size = 1; size <= sizeof(buf); size++) {
		memset(buf, 'Z', sizeof(buf));
		tg_sdnotify_status_line(&st, buf, size);
		if (strlen(buf) != size - 1)
			fail_msg("size %zu: length %zu", size, strlen(buf));
		if (size < sizeof(buf) && buf[size] != 'Z')
			fail_msg("size %zu: wrote past the end", size);
	}
	assert_string_equal(buf, "reload failed: ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_outbox),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
