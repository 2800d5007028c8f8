/*
 * evaluate.h — from an indicator's series to its status, purely.
 *
 * No I/O, no clock: the indicator's config, its series, the state of its
 * source and "now" go in; a status and a reason in plain words come out.
 * The calendar work most indicators of a cycle share (the label of the
 * latest period, the periods of a deadline, the year of a forecast) is
 * remembered per thread, keyed by everything it depends on: the same
 * inputs give the same result whatever was evaluated before, in any thread.
 *
 * Rules, in order of precedence:
 *  1. error    the source feeding the indicator failed in this cycle.
 *  2. late     late_after is set and the latest period whose deadline
 *              (period end + late_after) is <= now has no value.  At exactly
 *              the deadline the data is late.
 *  3. unknown  no value for any period that has started.
 *  4. the traffic light of the latest value whose period has started
 *     (values for future periods are kept but never taken as the latest):
 *       higher: value >= target ok; critical <= value < target warning;
 *               value < critical critical (without critical: any miss is
 *               critical).  lower mirrors it.  range: min <= value <= max
 *               ok; within [critical_min, critical_max] warning; outside
 *               critical.
 *     confirm_periods = N > 1: the light leaves ok only when the last N
 *     consecutive periods (no gaps) are all out of target; it then shows the
 *     mildest of those N.  Back to ok needs one period.
 *  5. forecast (year_target): over the values of the year of the latest
 *     value, a least-squares line by period index (flat with one value)
 *     fills the periods without a value; the year-end figure is
 *       sum:  the values so far plus the line over the missing periods
 *             (never below 0 when all values are >= 0);
 *       mean: the mean of values so far and the line over the missing periods;
 *       last: the line at the last period of the year.
 *     If the forecast misses year_target.value (per `better`), an ok light
 *     becomes warning and the reason says it in plain words.
 *
 * Details:
 *  - A value within 1e-9 relative (1e-12 absolute near zero) of a threshold
 *    counts as equal to it, so float noise (19/20*100 = 94.99999999999999)
 *    never flips a light or a forecast.  A NaN value is critical.
 *  - Series periods are period starts (the store's invariant); two values
 *    are consecutive when no period lies between them.
 *  - Forecast: `last` takes the value itself when the year's last period has
 *    one; for `range` the projection must fall within [min, max]
 *    (year_target.value is not used).  A miss also turns an ok that is only
 *    waiting for confirmation into warning: the projection does not wait.
 *  - Reason: "<value> (<period>): <why>[; <confirmation>][; <forecast>]",
 *    numbers by tg_number_format (more decimals, up to 6, when a value would
 *    read the same as the threshold it crossed), "95,3%" but "28 giorni".
 *    Control characters and invalid UTF-8 in names and messages are
 *    replaced; a reason longer than TG_REASON_MAX - 1 bytes ends with "…",
 *    cut at a character boundary.
 */
#ifndef TG_EVALUATE_H
#define TG_EVALUATE_H

#include <stdbool.h>

#include "config.h"
#include "period.h"
#include "status.h"
#include "store.h"

struct tg_eval_context {
	tg_time now;            /* civil local time */
	const char *lang;       /* "it" or "en" */
	/* The source that feeds this indicator failed in this cycle: its name
	 * and message (both non-NULL), or NULL. */
	const char *failed_source;
	const char *failed_message;
};

#define TG_REASON_MAX 512

struct tg_eval_result {
	enum tg_status status;
	enum tg_status light;     /* the traffic light of the latest value, before
				     late/error/confirmation (unknown if none) */
	bool has_value;
	tg_day period;            /* period of the latest value (if has_value) */
	double value;
	bool has_expected;        /* late_after set and some deadline passed */
	tg_day expected;          /* latest period whose deadline has passed */
	tg_time deadline;         /* its deadline */
	bool has_forecast;
	double forecast;          /* year-end projection of year_target.aggregate */
	int forecast_year;
	bool forecast_misses;
	int out_of_target_run;    /* consecutive out-of-target periods ending at the latest */
	char reason[TG_REASON_MAX];
};

/* series may be NULL (no data).  Never fails. */
void tg_eval_indicator(const struct tg_indicator *ind, const struct tg_series *series,
		       const struct tg_eval_context *ctx, struct tg_eval_result *out);

/* The traffic light of one value for this indicator (ok, warning, critical). */
enum tg_status tg_eval_light(const struct tg_indicator *ind, double value);

#endif
