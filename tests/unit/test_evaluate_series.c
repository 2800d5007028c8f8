/*
 * test_evaluate_series.c — how tg_eval_indicator (lib/evaluate.c) reads a
 * series, against a plain model of the rules in evaluate.h.
 *
 * The evaluator looks for the latest started period and for the expected
 * period of late_after by galloping backwards from the end of the series
 * (the answer is almost always there, and the series are cold in memory on
 * a cycle), and counts the run of out-of-target periods with a walk that
 * only asks "ok?" and "adjacent?".  Here the same questions are answered the
 * slow, obvious way: a linear scan for the latest period, tg_eval_light for
 * each value, tg_period_next for adjacency, tg_period_prev/tg_period_start
 * for the expected period, and the status of confirm_periods from those.
 * Checked on a table of series lengths and "now" positions (every index of
 * series up to 70 periods, so the gallop crosses each power of two from both
 * sides), on random period-start series with gaps, future periods and NaN
 * values for every kind of period, and on hostile series (days that are not
 * period starts, extreme days).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "evaluate.h"

#define DAY ((int64_t)TG_DAY_SECONDS)
#define MAXN 400

static uint64_t rng = UINT64_C(0x6576616c75617465);

static uint64_t rnd(void)
{
	uint64_t z = (rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void indicator(struct tg_indicator *ind, enum tg_period_kind kind)
{
	memset(ind, 0, sizeof(*ind));
	ind->id = (char *)"ind";
	ind->name = (char *)"Tempo medio di pagamento";
	ind->department = (char *)"Ragioneria";
	ind->unit = (char *)"giorni";
	ind->period = kind;
	ind->better = TG_BETTER_LOWER;
	ind->target = 30;
	ind->has_target = true;
	ind->critical = 45;
	ind->has_critical = true;
	ind->late_after = -1;
	ind->confirm_periods = 1;
	ind->decimals = -1;
	ind->source_index = -1;
}

/* The model: index + 1 of the latest period <= today, 0 if none. */
static size_t model_upto(const tg_day *p, size_t n, tg_day today)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (p[i] <= today)
			k = i + 1;
	return k;
}

/* The model: consecutive out-of-target periods ending at p[last] (period
 * starts: b follows a when it is the period after a). */
static int model_run(const struct tg_indicator *ind, const tg_day *p, const double *v, size_t last)
{
	int run = 0;

	for (size_t i = last + 1; i-- > 0;) {
		if (tg_eval_light(ind, v[i]) == TG_STATUS_OK)
			break;
		run++;
		if (i == 0 || tg_period_next(ind->period, p[i - 1]) != p[i])
			break;
	}
	return run;
}

/* The model: the status without a failed source or a year target. */
static enum tg_status model_status(const struct tg_indicator *ind, const tg_day *p, const double *v,
				   size_t upto, bool late)
{
	enum tg_status mildest = TG_STATUS_CRITICAL;
	int run, confirm = ind->confirm_periods < 1 ? 1 : ind->confirm_periods;

	if (late)
		return TG_STATUS_LATE;
	if (upto == 0)
		return TG_STATUS_UNKNOWN;
	run = model_run(ind, p, v, upto - 1);
	if (run < confirm)
		return TG_STATUS_OK;
	for (int k = 0; k < confirm; k++) {
		enum tg_status l = tg_eval_light(ind, v[upto - 1 - (size_t)k]);

		if (l < mildest)
			mildest = l;
	}
	return mildest;
}

/* --------------------------------------------- lengths x positions table */

/* Every series length 0..70 (monthly from January 2020, values out of
 * target but for every fifth), and "now" on each period's first day, its
 * last day, before the first and after the last. */
static void test_latest_every_position(void **state)
{
	tg_day p[MAXN];
	double v[MAXN];
	struct tg_indicator ind;
	struct tg_eval_context ctx = { 0 };
	struct tg_eval_result r;

	(void)state;
	indicator(&ind, TG_PERIOD_MONTH);
	ctx.lang = "it";
	for (size_t i = 0; i < 80; i++) {
		p[i] = tg_day_from_ymd(2020 + (int)i / 12, 1 + (int)i % 12, 1);
		v[i] = i % 5 == 0 ? 10 : 40 + (double)i;
	}
	for (size_t n = 0; n <= 70; n++) {
		struct tg_series s = { n, p, v, NULL, 0 };

		for (size_t k = 0; k <= n + 1; k++) {
			for (int edge = 0; edge < 3; edge++) {
				/* edge 0: the first day of p[k]; 1: the day before it;
				 * 2: its first day at 23:59 */
				tg_day today = p[k] - (edge == 1);
				size_t want = model_upto(p, n, today);

				ctx.now = (tg_time)today * DAY + (edge == 2 ? DAY - 60 : 0);
				memset(&r, 0x5A, sizeof(r));
				tg_eval_indicator(&ind, &s, &ctx, &r);
				if (r.has_value != (want > 0) ||
				    (want > 0 && (r.period != p[want - 1] || r.value != v[want - 1] ||
						  r.out_of_target_run != model_run(&ind, p, v, want - 1)))) {
					print_error("n %zu, now at period %zu (edge %d): has %d period %d "
						    "value %g run %d, want index %zu\n", n, k, edge,
						    r.has_value, (int)r.period, r.value,
						    r.out_of_target_run, want);
					fail();
				}
			}
		}
	}
}

/* ------------------------------------------------------ random series */

/* A series of period starts of `kind` from `first`: gaps of 1..3 periods
 * now and then, values out of target in long runs, some NaN. */
static size_t random_series(enum tg_period_kind kind, tg_day first, tg_day *p, double *v)
{
	size_t n = rnd() % 4 == 0 ? rnd() % MAXN : rnd() % 130;
	unsigned gaps = (unsigned)(rnd() % 4);
	tg_day d = tg_period_start(kind, first);
	bool out = rnd() % 2;

	for (size_t i = 0; i < n; i++) {
		p[i] = d;
		if (rnd() % 16 == 0)
			out = !out;
		v[i] = rnd() % 50 == 0 ? NAN : out ? 31 + (double)(rnd() % 30) : (double)(rnd() % 31);
		for (unsigned skip = gaps && rnd() % (3 * gaps) == 0 ? 1 + (unsigned)(rnd() % 3) : 0;
		     ; skip--) {
			d = tg_period_next(kind, d);
			if (skip == 0)
				break;
		}
	}
	return n;
}

static void test_random_series(void **state)
{
	static tg_day p[MAXN];
	static double v[MAXN];
	struct tg_indicator ind;
	struct tg_eval_context ctx = { 0 };
	struct tg_eval_result r;

	(void)state;
	for (unsigned long it = 0; it < 60000; it++) {
		enum tg_period_kind kind = (enum tg_period_kind)(rnd() % 5);
		tg_day first = tg_day_from_ymd(1990 + (int)(rnd() % 30), 1 + (int)(rnd() % 12),
					       1 + (int)(rnd() % 28));
		size_t n = random_series(kind, first, p, v), want;
		struct tg_series s = { n, p, v, NULL, 0 };
		tg_day today, exp = 0;
		bool late = false;

		indicator(&ind, kind);
		ind.confirm_periods = (int)(rnd() % 5);
		ind.has_critical = rnd() % 4 != 0;
		if (rnd() % 2) {
			ind.late_after = (int64_t)(rnd() % 400) * DAY + (int64_t)(rnd() % 2) * 3600;
		}
		/* now: inside the series mostly, before or after it sometimes */
		if (n > 0 && rnd() % 4 != 0)
			today = p[rnd() % n] + (tg_day)(rnd() % 3) - 1;
		else
			today = first + (tg_day)(rnd() % 20000) - 2000;
		ctx.now = (tg_time)today * DAY + (tg_time)(rnd() % DAY);
		ctx.lang = rnd() % 2 ? "it" : "en";
		want = model_upto(p, n, today);
		if (ind.late_after >= 0) {
			tg_day cur = tg_period_start(kind, tg_time_day(ctx.now - ind.late_after));

			exp = tg_period_prev(kind, cur);
			late = model_upto(p, n, exp) == 0 || p[model_upto(p, n, exp) - 1] != exp;
		}

		memset(&r, 0x5A, sizeof(r));
		tg_eval_indicator(&ind, &s, &ctx, &r);
		if (r.has_value != (want > 0) ||
		    (want > 0 && (r.period != p[want - 1] ||
				  memcmp(&r.value, &v[want - 1], sizeof(double)) != 0 ||
				  r.out_of_target_run != model_run(&ind, p, v, want - 1))) ||
		    (want == 0 && r.out_of_target_run != 0) ||
		    r.has_expected != (ind.late_after >= 0) ||
		    (ind.late_after >= 0 && r.expected != exp) ||
		    r.status != model_status(&ind, p, v, want, late)) {
			print_error("case %lu (kind %d, n %zu, today %d): has %d period %d run %d "
				    "expected %d status %s; want index %zu run %d expected %d status %s\n",
				    it, (int)kind, n, (int)today, r.has_value, (int)r.period,
				    r.out_of_target_run, (int)r.expected, tg_status_name(r.status), want,
				    want > 0 ? model_run(&ind, p, v, want - 1) : 0, (int)exp,
				    tg_status_name(model_status(&ind, p, v, want, late)));
			fail();
		}
	}
}

/* Hostile series: strictly increasing days that are not period starts, and
 * days at the ends of the tg_day range.  The latest value is still the last
 * one that has started; nothing reads out of bounds (AddressSanitizer: the
 * series is copied into buffers of exactly its size). */
static void test_hostile_series(void **state)
{
	static const tg_day ends[] = { INT32_MIN, INT32_MIN + 1, -800000, -1, 0, 1,
				       2932896, 2932897, INT32_MAX - 1, INT32_MAX };
	struct tg_indicator ind;
	struct tg_eval_context ctx = { 0 };
	struct tg_eval_result r;

	(void)state;
	for (unsigned long it = 0; it < 20000; it++) {
		size_t n = rnd() % 200, k = 0;
		tg_day *p = test_malloc((n ? n : 1) * sizeof(*p));
		double *v = test_malloc((n ? n : 1) * sizeof(*v));
		int64_t d = it % 3 == 0 ? INT32_MIN + (int64_t)(rnd() % 50) : 18000 + (int64_t)(rnd() % 400);
		struct tg_series s;
		tg_day today;
		size_t want;

		for (; k < n && d <= INT32_MAX; k++) {
			p[k] = (tg_day)d;
			v[k] = (double)(rnd() % 60);
			d += 1 + (int64_t)(rnd() % (it % 5 == 0 ? 1000000000 : 60));
		}
		s = (struct tg_series){ k, p, v, NULL, 0 };
		indicator(&ind, (enum tg_period_kind)(rnd() % 5));
		ind.late_after = rnd() % 2 ? (int64_t)(rnd() % 100) * DAY : -1;
		ind.confirm_periods = (int)(rnd() % 5);
		ind.year_target.set = rnd() % 2;
		ind.year_target.value = 100;
		if (rnd() % 4 == 0 || k == 0) {
			today = ends[rnd() % 10];
		} else {
			int64_t t = (int64_t)p[rnd() % k] + (int64_t)(rnd() % 3) - 1;

			today = (tg_day)(t < INT32_MIN ? INT32_MIN : t > INT32_MAX ? INT32_MAX : t);
		}
		ctx.now = (tg_time)today * DAY;
		ctx.lang = "it";
		want = model_upto(p, k, tg_time_day(ctx.now));
		memset(&r, 0x5A, sizeof(r));
		tg_eval_indicator(&ind, &s, &ctx, &r);
		/* "now" is clamped to the calendar (years 1..9999) */
		if (today >= -700000 && today <= 2900000 &&
		    (r.has_value != (want > 0) || (want > 0 && r.period != p[want - 1]))) {
			print_error("hostile %lu (n %zu, today %d): has %d period %d, want index %zu\n",
				    it, k, (int)today, r.has_value, (int)r.period, want);
			fail();
		}
		if (strnlen(r.reason, sizeof(r.reason)) >= sizeof(r.reason) || r.reason[0] == '\0' ||
		    (unsigned)r.status >= TG_STATUS_COUNT || r.out_of_target_run < 0 ||
		    (size_t)r.out_of_target_run > k) {
			print_error("hostile %lu: insane result '%s'\n", it, r.reason);
			fail();
		}
		test_free(p);
		test_free(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latest_every_position),
		cmocka_unit_test(test_random_series),
		cmocka_unit_test(test_hostile_series),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
