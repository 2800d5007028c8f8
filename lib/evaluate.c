/*
 * evaluate.c — from an indicator's series to its status and a reason in
 * plain words (Italian or English), purely.
 *
 * It owns the rules of evaluate.h: the traffic light, late data, the
 * confirmation over consecutive periods and the year-end forecast.  It is
 * called for every indicator on every cycle (100,000 of them take a few
 * tens of milliseconds), so it allocates nothing, reads no clock, touches
 * the series only at its end (searches gallop back from the last period;
 * one pass over the run of out-of-target periods, one over the current
 * year) and asks the calendar as little as it can.  Reasons are written into
 * the caller's fixed buffer by a small writer that copies only valid UTF-8
 * without control characters (names and messages come from config files
 * and servers) and truncates at a character boundary with an ellipsis, so a
 * reason is always safe to put in a mail, a JSON document or a chat
 * message; our own words, numbers and period labels are copied as they are.
 */
#include "evaluate.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "number.h"
#include "utf8.h"

/*
 * The calendar functions are defined for years 1..9999.  "now" is clamped to
 * that range, with a margin at the start because the expected period is the
 * one *before* the period of (now - late_after); series periods outside the
 * range are never handed to the calendar functions.
 */
#define DAY_FIRST (-719162)          /* 0001-01-01 */
#define DAY_LAST 2932896             /* 9999-12-31 */
#define DAY_SAFE_MIN (DAY_FIRST + 3 * 366)
#define TIME_MIN ((tg_time)DAY_SAFE_MIN * TG_DAY_SECONDS)
#define TIME_MAX ((tg_time)DAY_LAST * TG_DAY_SECONDS + TG_DAY_SECONDS - 1)
/* late_after is at most 10 years after config validation; anything larger
 * only needs to stay far from overflowing. */
#define LATE_AFTER_MAX ((int64_t)200 * 366 * TG_DAY_SECONDS)
#define MAX_PERIODS_PER_YEAR 366
#define MAX_CONFIRM 1000

/* ---------------------------------------------------------------- numbers */

/*
 * Values come from spreadsheets and SQL ratios (19/20*100 is
 * 94.99999999999999): a value within 1e-9 relative of a threshold (1e-12
 * absolute near zero) counts as equal to it, so that float noise never flips
 * a light or a forecast.
 */
static inline double tol(double t)
{
	double a = fabs(t) * 1e-9;

	return a > 1e-12 ? a : 1e-12;
}

static inline bool approx_eq(double a, double b)
{
	double d = fabs(a - b);

	return a == b || (d < HUGE_VAL && d <= tol(fabs(a) > fabs(b) ? a : b));
}

/*
 * The light as two nested intervals, computed once per evaluation so that
 * judging each value of a long run costs a few comparisons: inside
 * [ok_lo, ok_hi] ok, else inside [warn_lo, warn_hi] warning, else critical
 * (a NaN is inside nothing).  A side without a critical threshold has its
 * warning bound equal to its ok bound: any miss on that side is critical.
 */
struct bounds {
	double ok_lo, ok_hi, warn_lo, warn_hi;
};

static void bounds_of(const struct tg_indicator *ind, struct bounds *b)
{
	b->ok_lo = b->warn_lo = -HUGE_VAL;
	b->ok_hi = b->warn_hi = HUGE_VAL;
	switch (ind->better) {
	case TG_BETTER_LOWER:
		if (ind->has_target) {
			b->ok_hi = ind->target + tol(ind->target);
			b->warn_hi = ind->has_critical ? ind->critical + tol(ind->critical) : b->ok_hi;
		}
		break;
	case TG_BETTER_RANGE:
		if (ind->has_min) {
			b->ok_lo = ind->min - tol(ind->min);
			b->warn_lo = ind->has_critical_min
					     ? ind->critical_min - tol(ind->critical_min) : b->ok_lo;
		}
		if (ind->has_max) {
			b->ok_hi = ind->max + tol(ind->max);
			b->warn_hi = ind->has_critical_max
					     ? ind->critical_max + tol(ind->critical_max) : b->ok_hi;
		}
		break;
	case TG_BETTER_HIGHER:
	default:
		if (ind->has_target) {
			b->ok_lo = ind->target - tol(ind->target);
			b->warn_lo = ind->has_critical ? ind->critical - tol(ind->critical) : b->ok_lo;
		}
		break;
	}
}

static inline enum tg_status light_in(const struct bounds *b, double v)
{
	if (v >= b->ok_lo && v <= b->ok_hi)
		return TG_STATUS_OK;
	if (v >= b->warn_lo && v <= b->warn_hi)
		return TG_STATUS_WARNING;
	return TG_STATUS_CRITICAL;
}

enum tg_status tg_eval_light(const struct tg_indicator *ind, double v)
{
	struct bounds b;

	if (ind == NULL)
		return TG_STATUS_UNKNOWN;
	bounds_of(ind, &b);
	return light_in(&b, v);
}

/* ---------------------------------------------------------------- series */

static inline void prefetch(const void *p)
{
#if defined(__GNUC__) || defined(__clang__)
	__builtin_prefetch(p);
#else
	(void)p;
#endif
}

/*
 * Number of periods <= day (periods strictly increasing).  The day asked is
 * almost always at or near the end of the series (the latest period that has
 * started, the last deadline, this year), and on a cycle over thousands of
 * indicators the series are cold in memory: so gallop backwards from the end
 * (1, 2, 4... periods back), then bisect the bracket found.  The usual answer
 * costs one read of the last element, instead of a bisection's chain of
 * dependent cache misses across the whole series.
 */
static size_t count_upto(const tg_day *p, size_t n, tg_day day)
{
	size_t lo, hi = n, step = 1;

	/* invariant: p[hi..n) > day */
	for (;;) {
		if (hi == 0)
			return 0;
		lo = hi > step ? hi - step : 0;
		if (p[lo] <= day)
			break;
		hi = lo;
		step *= 2;
	}
	/* p[lo] <= day: the answer is in (lo, hi] */
	lo++;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p[mid] <= day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First index with period >= day, searching p[0..n); day > INT32_MIN. */
static size_t lower_bound(const tg_day *p, size_t n, tg_day day)
{
	return count_upto(p, n, day - 1);
}

static bool day_safe(tg_day d)
{
	return d >= DAY_SAFE_MIN && d <= DAY_LAST;
}

/*
 * Is b the period right after a?  Both are period starts (the store's
 * invariant), so b follows a exactly when it is no further than the longest
 * period of the kind: the start after next is always further than that.
 * Plain arithmetic keeps the walk over a long run free of calendar calls.
 */
static bool adjacent(enum tg_period_kind kind, tg_day a, tg_day b)
{
	static const int longest[] = {
		[TG_PERIOD_DAY] = 1, [TG_PERIOD_WEEK] = 7, [TG_PERIOD_MONTH] = 31,
		[TG_PERIOD_QUARTER] = 92, [TG_PERIOD_YEAR] = 366,
	};
	int64_t gap = (int64_t)b - a;

	return gap > 0 && gap <= longest[kind];
}

/* ---------------------------------------------------------------- forecast */

struct forecast {
	double value;
	int year;
	bool complete;      /* no projection was needed: every period has a
			       value (sum, mean), the last one has (last) */
};

/* Index of a period start within the year starting at first (p >= first). */
static int index_in_year(enum tg_period_kind kind, tg_day first, tg_day p)
{
	switch (kind) {
	case TG_PERIOD_DAY:
		return (int)(p - first);
	case TG_PERIOD_WEEK:
		return (int)((p - first) / 7);
	default:
		return tg_period_index_in_year(kind, p);
	}
}

/* The year of the last latest period a forecast was made for, per thread
 * (most indicators of a cycle end on the same period): its number, first
 * period, count of periods and the index of that period in it. */
static _Thread_local struct {
	bool set;
	enum tg_period_kind kind;
	tg_day day, first;
	int year, nper, x;
} last_year;

/*
 * Least squares y = ybar + b (i - xbar) over the periods of the year of
 * p[last] that have a value (up to and including p[last]); the missing
 * periods are filled with the line.  Returns false when nothing sensible can
 * be said (no finite value, a calendar out of range, an infinite result).
 */
static bool forecast_year(enum tg_period_kind kind, enum tg_aggregate agg,
			  const tg_day *p, const double *v, size_t last, struct forecast *fc)
{
	/* indexes of the year's points, latest first (strictly decreasing) */
	int xs[MAX_PERIODS_PER_YEAR];
	int m = 0, year, nper, x = 0, sx = 0;
	tg_day first;
	size_t lo;
	/* sums of dx = x - xs[0] and dy = y - y0: one pass, without the
	 * cancellation of raw sums of squares */
	double y0 = 0, ylast = 0, sy = 0, sdx = 0, sdy = 0, sdxdx = 0, sdxdy = 0;
	double xbar, ybar, sxx, sxy, b, miss, f;
	bool nonneg = true;

	if (!day_safe(p[last]))
		return false;
	if (last_year.set && last_year.day == p[last] && last_year.kind == kind) {
		year = last_year.year;
		first = last_year.first;
		nper = last_year.nper;
		x = last_year.x;
	} else {
		year = tg_period_year(kind, p[last]);
		if (year < 2 || year > 9998)
			return false;
		first = tg_period_first_of_year(kind, year);
		nper = tg_period_count_in_year(kind, year);
		x = p[last] >= first ? index_in_year(kind, first, p[last]) : -1;
		last_year.set = true;
		last_year.kind = kind;
		last_year.day = p[last];
		last_year.year = year;
		last_year.first = first;
		last_year.nper = nper;
		last_year.x = x;
	}
	if (year < 2 || year > 9998 || nper < 1 || nper > MAX_PERIODS_PER_YEAR)
		return false;
	lo = lower_bound(p, last + 1, first);
	for (size_t k = last + 1; k-- > lo;) {
		/* Consecutive periods have consecutive indexes: the calendar
		 * is asked only after a gap (the latest point's is known). */
		if (k != last) {
			if (!adjacent(kind, p[k], p[k + 1]))
				x = index_in_year(kind, first, p[k]);
			else
				x--;
		}
		/* A series whose periods are not period starts could map two
		 * points to one index: the line needs distinct abscissas. */
		if (!(fabs(v[k]) < HUGE_VAL) || x < 0 || x >= nper || (m > 0 && x >= xs[m - 1]) ||
		    m >= MAX_PERIODS_PER_YEAR)
			continue;
		if (m == 0) {
			y0 = ylast = v[k];
		} else {
			double dx = x - xs[0], dy = v[k] - y0;

			sdx += dx;
			sdy += dy;
			sdxdx += dx * dx;
			sdxdy += dx * dy;
		}
		xs[m++] = x;
		sx += x;
		sy += v[k];
		nonneg = nonneg && v[k] >= 0;
	}
	if (m == 0)
		return false;
	xbar = xs[0] + sdx / m;
	ybar = y0 + sdy / m;
	sxx = sdxdx - sdx * sdx / m;
	sxy = sdxdy - sdx * sdy / m;
	b = m > 1 && sxx > 0 ? sxy / sxx : 0.0; /* flat with one value */

	/* Sum of the line over the missing indexes, in closed form: the sum of
	 * all indexes is known, the present ones are subtracted. */
	{
		int nmiss = nper - m;
		double idx_sum = (double)nper * (nper - 1) / 2.0 - sx;

		miss = nmiss == 0 ? 0.0 : nmiss * ybar + b * (idx_sum - nmiss * xbar);
	}
	if (agg == TG_AGG_SUM && nonneg &&
	    (ybar + b * (0 - xbar) < 0 || ybar + b * (nper - 1 - xbar) < 0)) {
		/* The line dips below zero somewhere in the year: counts and
		 * amounts cannot, so add the missing periods one by one. */
		int k = m - 1;

		miss = 0;
		for (int j = 0; j < nper; j++) {
			if (k >= 0 && xs[k] == j) {
				k--;
				continue;
			}
			f = ybar + b * (j - xbar);
			if (f > 0)
				miss += f;
		}
	}
	switch (agg) {
	case TG_AGG_SUM:
		f = sy + miss;
		break;
	case TG_AGG_LAST:
		f = xs[0] == nper - 1 ? ylast : ybar + b * (nper - 1 - xbar);
		break;
	case TG_AGG_MEAN:
	default:
		f = (sy + miss) / nper;
		break;
	}
	if (!isfinite(f))
		return false;
	fc->value = f;
	fc->year = year;
	fc->complete = agg == TG_AGG_LAST ? xs[0] == nper - 1 : m == nper;
	return true;
}

static bool forecast_misses(const struct tg_indicator *ind, double f)
{
	double t = ind->year_target.value;

	switch (ind->better) {
	case TG_BETTER_LOWER:
		return !(f <= t + tol(t));
	case TG_BETTER_RANGE:
		return (ind->has_min && !(f >= ind->min - tol(ind->min))) ||
		       (ind->has_max && !(f <= ind->max + tol(ind->max)));
	case TG_BETTER_HIGHER:
	default:
		return !(f >= t - tol(t));
	}
}

/* ---------------------------------------------------------------- writer */

/* Appends to a fixed buffer; never splits a character. */
struct writer {
	char *buf;
	size_t cap;         /* bytes usable, without the NUL */
	size_t len;
	bool truncated;
};

static void w_put(struct writer *w, const char *s, size_t k)
{
	if (w->truncated)
		return;
	if (k > w->cap - w->len) {
		w->truncated = true;
		return;
	}
	memcpy(w->buf + w->len, s, k);
	w->len += k;
}

/* Copies a NUL-terminated string: control characters (C0, DEL, C1) become
 * spaces, invalid UTF-8 bytes become U+FFFD.  Stops as soon as the buffer is
 * full, so a huge string costs no more than the buffer. */
static void w_str(struct writer *w, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str != NULL ? str : "");

	while (*s != '\0' && !w->truncated) {
		size_t k;

		if (*s >= 0x20 && *s < 0x7F) {
			/* A run of printable ASCII, cut anywhere if it must be:
			 * never scanned further than the room left. */
			size_t room = w->cap - w->len, run = 1;

			while (run <= room && s[run] >= 0x20 && s[run] < 0x7F)
				run++;
			if (run > room) {
				run = room;
				w->truncated = true;
			}
			memcpy(w->buf + w->len, s, run);
			w->len += run;
			s += run;
			continue;
		}
		k = tg_utf8_len(s, SIZE_MAX);   /* the NUL stops it */
		if (k == 0) {
			w_put(w, "\xEF\xBF\xBD", 3);
			s++;
		} else if ((k == 1 && (*s < 0x20 || *s == 0x7F)) ||
			   (k == 2 && s[0] == 0xC2 && s[1] < 0xA0)) {
			w_put(w, " ", 1);
			s += k;
		} else {
			w_put(w, (const char *)s, k);
			s += k;
		}
	}
}

/* Our own text (valid UTF-8, no control characters): copied as is, cut at
 * a character boundary if it does not fit (s is longer than the room). */
static void w_cut(struct writer *w, const char *s)
{
	size_t k;

	if (w->truncated)
		return;
	k = tg_utf8_cut(s, strlen(s), w->cap - w->len);
	w->truncated = true;
	memcpy(w->buf + w->len, s, k);
	w->len += k;
}

/* Inline, so that the length of a literal is known at compile time and the
 * copy is a few moves: a reason is mostly literals. */
static inline __attribute__((always_inline)) void w_litn(struct writer *w, const char *s, size_t k)
{
	if (w->truncated || k > w->cap - w->len) {
		w_cut(w, s);
		return;
	}
	memcpy(w->buf + w->len, s, k);
	w->len += k;
}

static inline __attribute__((always_inline)) void w_lit(struct writer *w, const char *s)
{
	w_litn(w, s, strlen(s));
}

static void w_int(struct writer *w, int v)
{
	char b[16];
	char *e = b + sizeof(b) - 1;
	unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;

	*e = '\0';
	do {
		*--e = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--e = '-';
	w_lit(w, e);
}

static void w_finish(struct writer *w)
{
	if (w->truncated) {
		/* Make room for the ellipsis, dropping whole characters. */
		while (w->len > 0 && w->len + 3 > w->cap) {
			w->len--;
			while (w->len > 0 && ((unsigned char)w->buf[w->len] & 0xC0) == 0x80)
				w->len--;
		}
		if (w->len + 3 <= w->cap) {
			memcpy(w->buf + w->len, "\xE2\x80\xA6", 3);
			w->len += 3;
		}
	}
	w->buf[w->len] = '\0';
}

/* ---------------------------------------------------------------- phrases */

struct ctx {
	const struct tg_indicator *ind;
	struct writer w;
	const char *lang;
	bool en;
	enum tg_period_kind kind;
};

/*
 * Numbers and period labels are formatted into FIELD_MAX bytes.  Their text
 * is ours (ASCII digits and separators, "°" in a quarter): when the reason
 * has room for a whole field it is written in place, else into a buffer and
 * copied as far as it fits, which is the same text.
 */
#define FIELD_MAX 64

static char *w_field(struct writer *w, char *tmp)
{
	return !w->truncated && w->cap - w->len >= FIELD_MAX - 1 ? w->buf + w->len : tmp;
}

static void w_field_done(struct writer *w, const char *f)
{
	if (f == w->buf + w->len)
		w->len += strlen(f);
	else
		w_lit(w, f);
}

static void w_num_dec(struct ctx *c, double v, int decimals)
{
	char b[FIELD_MAX], *f;

	if (!isfinite(v)) {
		w_lit(&c->w, c->en ? "n/a" : "n.d.");
		return;
	}
	f = w_field(&c->w, b);
	tg_number_format(v, decimals, c->lang, f, FIELD_MAX);
	w_field_done(&c->w, f);
}

static void w_num(struct ctx *c, double v)
{
	w_num_dec(c, v, c->ind->decimals);
}

/*
 * A value shown next to the threshold it crossed must not read the same as
 * the threshold ("30 giorni: oltre l'obiettivo di 30"): add decimals, up to
 * 6, until the two differ.
 */
static void w_num_vs(struct ctx *c, double v, double ref)
{
	int dec = c->ind->decimals < 0 ? 2 : c->ind->decimals;
	double scale = 1;

	if (!isfinite(v) || !isfinite(ref) || approx_eq(v, ref) || fabs(v) > 1e12 ||
	    fabs(ref) > 1e12) {
		w_num(c, v);
		return;
	}
	/* Two numbers print alike at d decimals when they round to the same
	 * multiple of 10^-d: decide by arithmetic, format once. */
	for (int k = 0; k < dec; k++)
		scale *= 10;
	while (dec < 6 && round(v * scale) == round(ref * scale)) {
		dec++;
		scale *= 10;
	}
	w_num_dec(c, v, dec == (c->ind->decimals < 0 ? 2 : c->ind->decimals) ? c->ind->decimals : dec);
}

static void w_unit(struct ctx *c)
{
	const char *u = c->ind->unit;

	if (u == NULL || u[0] == '\0')
		return;
	if (strcmp(u, "%") != 0)
		w_lit(&c->w, " ");
	w_str(&c->w, u);
}

static inline __attribute__((always_inline)) void w_s(struct ctx *c, const char *it, const char *en)
{
	if (c->en)
		w_lit(&c->w, en);
	else
		w_lit(&c->w, it);
}

/* The last period label made, per thread: in a cycle nearly every
 * indicator names the same latest period.  A pure function of its key
 * (kind, day, language: c->lang is "it" or "en"), so the memo never
 * changes a reason. */
static _Thread_local struct {
	bool set, en;
	enum tg_period_kind kind;
	tg_day day;
	size_t len;
	char text[FIELD_MAX];
} last_label;

/* The two periods of the last deadline worked out (below), per thread:
 * the indicators of a cycle share a few kinds and late_after values. */
static _Thread_local struct {
	bool set;
	enum tg_period_kind kind;
	tg_day day, cur, exp;
} last_due;

static void w_period(struct ctx *c, enum tg_period_kind kind, tg_day p)
{
	char b[FIELD_MAX], *f;

	if (!day_safe(p)) {
		w_lit(&c->w, "?");
		return;
	}
	if (last_label.set && last_label.day == p && last_label.kind == kind &&
	    last_label.en == c->en) {
		w_litn(&c->w, last_label.text, last_label.len);
		return;
	}
	f = w_field(&c->w, b);
	tg_period_label(kind, p, c->lang, f, FIELD_MAX);
	last_label.set = true;
	last_label.en = c->en;
	last_label.kind = kind;
	last_label.day = p;
	last_label.len = strlen(f);
	memcpy(last_label.text, f, last_label.len + 1);
	w_field_done(&c->w, f);
}

/* "≥ 95%", "≤ 30 giorni", "tra 90 e 110 giorni" (the target part). */
static void w_target_rule(struct ctx *c, bool unit)
{
	const struct tg_indicator *ind = c->ind;

	switch (ind->better) {
	case TG_BETTER_RANGE:
		if (ind->has_min && ind->has_max) {
			w_s(c, "tra ", "between ");
			w_num(c, ind->min);
			w_s(c, " e ", " and ");
			w_num(c, ind->max);
		} else if (ind->has_min) {
			w_lit(&c->w, "\xE2\x89\xA5 ");
			w_num(c, ind->min);
		} else {
			w_lit(&c->w, "\xE2\x89\xA4 ");
			w_num(c, ind->max);
		}
		break;
	case TG_BETTER_LOWER:
		w_lit(&c->w, "\xE2\x89\xA4 ");
		w_num(c, ind->target);
		break;
	case TG_BETTER_HIGHER:
	default:
		w_lit(&c->w, "\xE2\x89\xA5 ");
		w_num(c, ind->target);
		break;
	}
	if (unit)
		w_unit(c);
}

static bool has_rule(const struct tg_indicator *ind)
{
	if (ind->better == TG_BETTER_RANGE)
		return ind->has_min || ind->has_max;
	return ind->has_target;
}

/* " (obiettivo ≤ 30)" after a critical threshold. */
static void w_target_paren(struct ctx *c)
{
	if (!has_rule(c->ind))
		return;
	w_s(c, " (obiettivo ", " (target ");
	w_target_rule(c, true);
	w_lit(&c->w, ")");
}

static void w_no_critical(struct ctx *c)
{
	w_s(c, " (nessuna soglia critica: ogni scostamento \xC3\xA8 critico)",
	    " (no critical threshold: any miss is critical)");
}

/*
 * The miss of one side: the crossed bound, and either the critical threshold
 * that has not been crossed (warning) or the one that has (critical).
 *   low side (higher, range under min): "sotto l'obiettivo di ..."
 *   high side (lower, range over max):  "oltre l'obiettivo di ..."
 */
static void w_miss(struct ctx *c, double v, enum tg_status light, bool low, bool range,
		   double bound, bool has_crit, double crit)
{
	if (light == TG_STATUS_WARNING && has_crit) {
		if (range)
			w_s(c, low ? "sotto il minimo di " : "oltre il massimo di ",
			    low ? "below the minimum of " : "above the maximum of ");
		else
			w_s(c, low ? "sotto l'obiettivo di " : "oltre l'obiettivo di ",
			    low ? "below the target of " : "above the target of ");
		w_num(c, bound);
		w_unit(c);
		if (approx_eq(v, crit))
			w_s(c, ", pari alla soglia critica di ", ", at the critical threshold of ");
		else if (low)
			w_s(c, ", sopra la soglia critica di ", ", above the critical threshold of ");
		else
			w_s(c, ", sotto la soglia critica di ", ", below the critical threshold of ");
		w_num(c, crit);
		w_unit(c);
		return;
	}
	if (has_crit) {
		w_s(c, low ? "sotto la soglia critica di " : "oltre la soglia critica di ",
		    low ? "below the critical threshold of " : "above the critical threshold of ");
		w_num(c, crit);
		w_unit(c);
		w_target_paren(c);
		return;
	}
	if (range)
		w_s(c, low ? "sotto il minimo di " : "oltre il massimo di ",
		    low ? "below the minimum of " : "above the maximum of ");
	else
		w_s(c, low ? "sotto l'obiettivo di " : "oltre l'obiettivo di ",
		    low ? "below the target of " : "above the target of ");
	w_num(c, bound);
	w_unit(c);
	w_no_critical(c);
}

/* "34 giorni (marzo 2026): oltre l'obiettivo di 30 giorni, ..." */
static void w_light(struct ctx *c, double v, tg_day period, enum tg_status light)
{
	const struct tg_indicator *ind = c->ind;
	double ref;
	bool low;

	/* The number the value is compared with, to print it distinguishably. */
	if (ind->better == TG_BETTER_RANGE) {
		low = ind->has_min && !(v >= ind->min - tol(ind->min));
		if (low)
			ref = light == TG_STATUS_CRITICAL && ind->has_critical_min ? ind->critical_min
										    : ind->min;
		else if (ind->has_max)
			ref = light == TG_STATUS_CRITICAL && ind->has_critical_max ? ind->critical_max
										    : ind->max;
		else
			ref = ind->has_min ? ind->min : v;
	} else {
		low = ind->better != TG_BETTER_LOWER;
		ref = light == TG_STATUS_CRITICAL && ind->has_critical ? ind->critical : ind->target;
		if (!ind->has_target)
			ref = v;
	}
	w_num_vs(c, v, ref);
	w_unit(c);
	w_lit(&c->w, " (");
	w_period(c, c->kind, period);
	w_lit(&c->w, "): ");
	if (isnan(v)) {
		w_s(c, "valore non valido", "invalid value");
		return;
	}
	if (light == TG_STATUS_OK) {
		w_s(c, "in obiettivo", "on target");
		if (has_rule(ind)) {
			w_s(c, " (obiettivo ", " (target ");
			w_target_rule(c, true);
			w_lit(&c->w, ")");
		}
		return;
	}
	if (ind->better == TG_BETTER_RANGE) {
		if (low)
			w_miss(c, v, light, true, true, ind->min, ind->has_critical_min,
			       ind->critical_min);
		else
			w_miss(c, v, light, false, true, ind->max, ind->has_critical_max,
			       ind->critical_max);
	} else {
		w_miss(c, v, light, low, false, ind->target, ind->has_critical, ind->critical);
	}
}

static void w_periods(struct ctx *c, int n)
{
	w_int(&c->w, n);
	if (n == 1)
		w_s(c, " periodo", " period");
	else
		w_s(c, " periodi", " periods");
}

static void w_forecast(struct ctx *c, const struct tg_eval_result *r, bool complete)
{
	const struct tg_indicator *ind = c->ind;
	double ref = ind->year_target.value;

	if (ind->better == TG_BETTER_RANGE)
		ref = ind->has_min && !(r->forecast >= ind->min - tol(ind->min)) ? ind->min : ind->max;
	if (complete) {
		w_s(c, "; il ", "; ");
		w_int(&c->w, r->forecast_year);
		w_s(c, " si \xC3\xA8 chiuso a ", " closed at ");
	} else {
		w_s(c, "; a questo ritmo l'anno chiuder\xC3\xA0 a ",
		    "; at this pace the year will close at ");
	}
	w_num_vs(c, r->forecast, ref);
	w_unit(c);
	if (ind->better != TG_BETTER_RANGE) {
		w_s(c, " contro un obiettivo di ", " against a target of ");
		w_num(c, ind->year_target.value);
	} else if (ind->has_min && ind->has_max) {
		w_s(c, " contro un obiettivo tra ", " against a target between ");
		w_num(c, ind->min);
		w_s(c, " e ", " and ");
		w_num(c, ind->max);
	} else if (ind->has_min) {
		w_s(c, " contro un obiettivo di almeno ", " against a target of at least ");
		w_num(c, ind->min);
	} else {
		w_s(c, " contro un obiettivo di al massimo ", " against a target of at most ");
		w_num(c, ind->max);
	}
	w_unit(c);
}

/* "atteso entro il 20/11/2026": a deadline at midnight is the end of the
 * day before, as people say it. */
static void w_deadline(struct ctx *c, tg_time t)
{
	tg_day d = tg_time_day(t);
	int64_t s = t - (tg_time)d * TG_DAY_SECONDS;

	if (s == 0) {
		w_period(c, TG_PERIOD_DAY, d - 1);
	} else {
		char b[16];

		w_period(c, TG_PERIOD_DAY, d);
		snprintf(b, sizeof(b), "%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60));
		w_s(c, " alle ", " ");
		w_str(&c->w, b);
	}
}

/* ---------------------------------------------------------------- main */

void tg_eval_indicator(const struct tg_indicator *ind, const struct tg_series *series,
		       const struct tg_eval_context *ctx, struct tg_eval_result *out)
{
	struct ctx c;
	tg_time now;
	tg_day today;
	size_t n = 0, upto;
	const tg_day *per = NULL;
	const double *val = NULL;
	int confirm, run = 0;
	enum tg_status mildest = TG_STATUS_CRITICAL, shown;
	bool late = false, pending = false;
	struct forecast fc = { 0 };
	struct bounds bounds;

	if (out == NULL)
		return;
	memset(out, 0, offsetof(struct tg_eval_result, reason));
	out->reason[0] = '\0';
	out->status = TG_STATUS_UNKNOWN;
	out->light = TG_STATUS_UNKNOWN;

	c.ind = ind;
	c.w = (struct writer){ out->reason, sizeof(out->reason) - 1, 0, false };
	c.en = ctx != NULL && ctx->lang != NULL && strcmp(ctx->lang, "en") == 0;
	c.lang = c.en ? "en" : "it";
	c.kind = TG_PERIOD_MONTH;
	if (ind == NULL) {
		w_s(&c, "indicatore non configurato", "indicator not configured");
		w_finish(&c.w);
		return;
	}
	if ((unsigned)ind->period <= TG_PERIOD_YEAR)
		c.kind = ind->period;

	now = ctx != NULL ? ctx->now : 0;
	if (now < TIME_MIN)
		now = TIME_MIN;
	if (now > TIME_MAX)
		now = TIME_MAX;
	today = tg_time_day(now);

	if (series != NULL && series->period != NULL && series->value != NULL) {
		n = series->n;
		per = series->period;
		val = series->value;
		/* On a cycle the series are cold: ask for the lines of the last
		 * year's periods and values at once, so that their misses
		 * overlap instead of coming one after another below. */
		if (n > 0) {
			size_t y = n > 12 ? n - 12 : 0;

			prefetch(per + n - 1);
			prefetch(val + n - 1);
			prefetch(per + y);
			prefetch(val + y);
			prefetch(val + y + (n - y) / 2);
		}
	}

	/* The latest value: the last period that has started. */
	upto = n > 0 ? count_upto(per, n, today) : 0;
	if (upto > 0) {
		size_t last = upto - 1;

		out->has_value = true;
		out->period = per[last];
		out->value = val[last];
		bounds_of(ind, &bounds);
		out->light = light_in(&bounds, val[last]);

		/* The run of out-of-target periods ending at the latest (a
		 * series that has been out of target for years is walked to its
		 * start, so the walk only asks "ok?" and "adjacent?"), then the
		 * mildest light among its first `confirm` periods. */
		confirm = ind->confirm_periods < 1 ? 1
			: ind->confirm_periods > MAX_CONFIRM ? MAX_CONFIRM : ind->confirm_periods;
		if (out->light != TG_STATUS_OK) {
			size_t i = last;

			while (i > 0 && !(val[i - 1] >= bounds.ok_lo && val[i - 1] <= bounds.ok_hi) &&
			       adjacent(c.kind, per[i - 1], per[i]))
				i--;
			run = last - i + 1 > INT_MAX ? INT_MAX : (int)(last - i + 1);
			mildest = out->light;
			for (size_t k = 1; k < (size_t)(run < confirm ? run : confirm); k++) {
				enum tg_status li = light_in(&bounds, val[last - k]);

				if (li < mildest)
					mildest = li;
			}
		}
		out->out_of_target_run = run;
		pending = run > 0 && run < confirm;

		if (ind->year_target.set &&
		    forecast_year(c.kind, ind->year_target.aggregate, per, val, last, &fc)) {
			out->has_forecast = true;
			out->forecast = fc.value;
			out->forecast_year = fc.year;
			out->forecast_misses = forecast_misses(ind, fc.value);
		}
	} else {
		confirm = 1;
	}

	if (ind->late_after >= 0) {
		int64_t la = ind->late_after > LATE_AFTER_MAX ? LATE_AFTER_MAX : ind->late_after;
		tg_time t = now - la;

		if (t >= TIME_MIN) {
			/* The period containing now - late_after has not reached
			 * its deadline; the one before it has, and it is the
			 * latest that has: its end is the start of the former. */
			tg_day day = tg_time_day(t), cur, exp;
			size_t k;

			if (last_due.set && last_due.day == day && last_due.kind == c.kind) {
				cur = last_due.cur;
				exp = last_due.exp;
			} else {
				cur = tg_period_start(c.kind, day);
				/* the period before cur: the one with cur's eve
				 * (what tg_period_prev computes, with half the
				 * calendar work) */
				exp = tg_period_start(c.kind, cur - 1);
				last_due.set = true;
				last_due.kind = c.kind;
				last_due.day = day;
				last_due.cur = cur;
				last_due.exp = exp;
			}
			k = lower_bound(per, n, exp);

			out->has_expected = true;
			out->expected = exp;
			out->deadline = (tg_time)cur * TG_DAY_SECONDS + la;
			late = !(k < n && per[k] == exp);
		}
	}

	if (ctx != NULL && ctx->failed_source != NULL) {
		out->status = TG_STATUS_ERROR;
		w_s(&c, "fonte '", "source '");
		w_str(&c.w, ctx->failed_source);
		w_s(&c, "' in errore: ", "' failed: ");
		w_str(&c.w, ctx->failed_message);
	} else if (late) {
		out->status = TG_STATUS_LATE;
		w_s(&c, "manca il dato di ", "no value for ");
		w_period(&c, c.kind, out->expected);
		w_s(&c, ", atteso entro il ", ", due by ");
		w_deadline(&c, out->deadline);
		if (out->has_value) {
			w_s(&c, "; ultimo valore ", "; latest value ");
			w_num(&c, out->value);
			w_unit(&c);
			w_lit(&c.w, " (");
			w_period(&c, c.kind, out->period);
			w_lit(&c.w, ")");
		} else {
			w_s(&c, "; nessun valore ricevuto", "; no value received");
		}
	} else if (!out->has_value) {
		out->status = TG_STATUS_UNKNOWN;
		if (n == 0) {
			w_s(&c, "nessun dato ricevuto", "no data received");
		} else {
			w_s(&c, "nessun dato per un periodo gi\xC3\xA0 iniziato (il primo \xC3\xA8 per ",
			    "no value for a period that has started (the first is for ");
			w_period(&c, c.kind, per[0]);
			w_lit(&c.w, ")");
		}
	} else {
		if (out->light == TG_STATUS_OK || pending)
			shown = TG_STATUS_OK;
		else
			shown = mildest;
		if (shown == TG_STATUS_OK && out->forecast_misses)
			shown = TG_STATUS_WARNING;
		out->status = shown;
		w_light(&c, out->value, out->period, out->light);
		if (pending) {
			w_s(&c, "; fuori obiettivo da ", "; out of target for ");
			w_periods(&c, run);
			w_s(&c, ": il semaforo cambia dopo ", ": the light changes after ");
			w_int(&c.w, confirm);
			w_s(&c, " periodi consecutivi", " consecutive periods");
		} else if (confirm > 1 && run > 0) {
			w_s(&c, "; fuori obiettivo da ", "; out of target for ");
			w_int(&c.w, run);
			w_s(&c, " periodi consecutivi", " consecutive periods");
			if (mildest != out->light) {
				w_s(&c, ", il semaforo mostra il pi\xC3\xB9 lieve degli ultimi ",
				    ", the light shows the mildest of the last ");
				w_int(&c.w, confirm);
			}
		}
		if (out->forecast_misses)
			w_forecast(&c, out, fc.complete);
	}
	w_finish(&c.w);
}
