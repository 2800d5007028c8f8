/*
 * test_evaluate.c — the rules of evaluate.h, case by case: traffic light at
 * and around every threshold, late data at the deadline, confirmation over
 * consecutive periods, the year-end forecast with numbers worked out by hand,
 * and the reasons people read (exact wording, Italian and English, safe
 * truncation).  Indicators and series are built by hand: no config, no store.
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

struct pt {
	int y, m, d;
	double v;
};

struct when {
	int y, m, d, h, mi, s;
};

static tg_time at(struct when w)
{
	return (tg_time)tg_day_from_ymd(w.y, w.m, w.d) * DAY + w.h * 3600 + w.mi * 60 + w.s;
}

/* Profiles: the indicators of a municipality's quality plan. */
enum profile {
	LOWER = 0,      /* days to pay invoices: target <= 30, critical 45 */
	LOWER_NOCRIT,   /* <= 30, no critical */
	HIGHER,         /* % of on-time permits: >= 95, critical 90, unit % */
	HIGHER_NOCRIT,  /* >= 95 % */
	RANGE,          /* 90..110 days, critical 80..120 */
	RANGE_NOCRIT,   /* 90..110 days */
	RANGE_MIN,      /* >= 90, critical_min 80, no max */
	SUMCOUNT,       /* higher, target 0, unit "pratiche": only the year matters */
};

static void profile(struct tg_indicator *ind, enum profile p)
{
	memset(ind, 0, sizeof(*ind));
	ind->id = (char *)"ind";
	ind->name = (char *)"Tempo medio di pagamento";
	ind->department = (char *)"Ragioneria";
	ind->period = TG_PERIOD_MONTH;
	ind->late_after = -1;
	ind->confirm_periods = 1;
	ind->decimals = -1;
	ind->source_index = -1;
	switch (p) {
	case LOWER:
	case LOWER_NOCRIT:
		ind->unit = (char *)"giorni";
		ind->better = TG_BETTER_LOWER;
		ind->target = 30;
		ind->has_target = true;
		if (p == LOWER) {
			ind->critical = 45;
			ind->has_critical = true;
		}
		break;
	case HIGHER:
	case HIGHER_NOCRIT:
		ind->unit = (char *)"%";
		ind->better = TG_BETTER_HIGHER;
		ind->target = 95;
		ind->has_target = true;
		if (p == HIGHER) {
			ind->critical = 90;
			ind->has_critical = true;
		}
		break;
	case RANGE:
	case RANGE_NOCRIT:
	case RANGE_MIN:
		ind->unit = (char *)"giorni";
		ind->better = TG_BETTER_RANGE;
		ind->min = 90;
		ind->has_min = true;
		if (p != RANGE_MIN) {
			ind->max = 110;
			ind->has_max = true;
		}
		if (p != RANGE_NOCRIT) {
			ind->critical_min = 80;
			ind->has_critical_min = true;
		}
		if (p == RANGE) {
			ind->critical_max = 120;
			ind->has_critical_max = true;
		}
		break;
	case SUMCOUNT:
		ind->unit = (char *)"pratiche";
		ind->better = TG_BETTER_HIGHER;
		ind->target = 0;
		ind->has_target = true;
		break;
	}
}

/* ------------------------------------------------------------ helpers */

static bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned char c = *s;
		size_t n;
		unsigned char lo = 0x80, hi = 0xBF;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 2;
		else if (c >= 0xE0 && c <= 0xEF) {
			n = 3;
			if (c == 0xE0)
				lo = 0xA0;
			if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4;
			if (c == 0xF0)
				lo = 0x90;
			if (c == 0xF4)
				hi = 0x8F;
		} else
			return false;
		if (s[1] < lo || s[1] > hi)
			return false;
		for (size_t i = 2; i < n; i++)
			if (s[i] < 0x80 || s[i] > 0xBF)
				return false;
		s += n;
	}
	return true;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return true;
	return false;
}

/* What must hold for every result, whatever the input. */
static void check_sane(const char *name, const struct tg_eval_result *r)
{
	size_t len = strnlen(r->reason, sizeof(r->reason));

	if (len >= sizeof(r->reason) || len == 0 || !utf8_valid(r->reason) ||
	    has_control(r->reason) || strstr(r->reason, "nan") || strstr(r->reason, "inf") ||
	    !isfinite(r->forecast) ||
	    (unsigned)r->status >= TG_STATUS_COUNT || (unsigned)r->light >= TG_STATUS_COUNT) {
		print_error("%s: insane result (len %zu): '%s'\n", name, len, r->reason);
		fail();
	}
}

struct series_buf {
	tg_day p[400];
	double v[400];
	struct tg_series s;
};

static const struct tg_series *mkseries(struct series_buf *b, const struct pt *pts, size_t max)
{
	size_t n = 0;

	while (n < max && pts[n].y != 0) {
		b->p[n] = tg_day_from_ymd(pts[n].y, pts[n].m, pts[n].d);
		b->v[n] = pts[n].v;
		n++;
	}
	b->s.n = n;
	b->s.period = b->p;
	b->s.value = b->v;
	b->s.source = "ragioneria";
	b->s.last_loaded = 0;
	return &b->s;
}

/* ------------------------------------------------------------ light */

struct light_case {
	enum profile p;
	double v;
	enum tg_status want;
};

static void test_light_table(void **state)
{
	static const struct light_case cases[] = {
		/* higher: target 95, critical 90 */
		{ HIGHER, 95, TG_STATUS_OK },
		{ HIGHER, 95.01, TG_STATUS_OK },
		{ HIGHER, 94.99, TG_STATUS_WARNING },
		{ HIGHER, 90.01, TG_STATUS_WARNING },
		{ HIGHER, 90, TG_STATUS_WARNING },
		{ HIGHER, 89.99, TG_STATUS_CRITICAL },
		{ HIGHER, 100, TG_STATUS_OK },
		{ HIGHER, -1e300, TG_STATUS_CRITICAL },
		{ HIGHER, 19.0 / 20 * 100, TG_STATUS_OK },      /* 95 with float noise */
		{ HIGHER, 0.95 * 100 - 1e-12, TG_STATUS_OK },
		{ HIGHER, 94.9999, TG_STATUS_WARNING },        /* real miss, not noise */
		{ HIGHER, NAN, TG_STATUS_CRITICAL },
		/* higher without critical: any miss is critical */
		{ HIGHER_NOCRIT, 95, TG_STATUS_OK },
		{ HIGHER_NOCRIT, 95.01, TG_STATUS_OK },
		{ HIGHER_NOCRIT, 94.99, TG_STATUS_CRITICAL },
		{ HIGHER_NOCRIT, 0, TG_STATUS_CRITICAL },
		/* lower: target 30, critical 45 */
		{ LOWER, 30, TG_STATUS_OK },
		{ LOWER, 29.99, TG_STATUS_OK },
		{ LOWER, 30.01, TG_STATUS_WARNING },
		{ LOWER, 44.99, TG_STATUS_WARNING },
		{ LOWER, 45, TG_STATUS_WARNING },
		{ LOWER, 45.01, TG_STATUS_CRITICAL },
		{ LOWER, -5, TG_STATUS_OK },
		{ LOWER, 0.1 + 0.2 + 29.7, TG_STATUS_OK },       /* 30.000000000000004 */
		{ LOWER_NOCRIT, 30, TG_STATUS_OK },
		{ LOWER_NOCRIT, 29.99, TG_STATUS_OK },
		{ LOWER_NOCRIT, 30.01, TG_STATUS_CRITICAL },
		/* range 90..110, critical 80..120 */
		{ RANGE, 90, TG_STATUS_OK },
		{ RANGE, 90.01, TG_STATUS_OK },
		{ RANGE, 89.99, TG_STATUS_WARNING },
		{ RANGE, 110, TG_STATUS_OK },
		{ RANGE, 109.99, TG_STATUS_OK },
		{ RANGE, 110.01, TG_STATUS_WARNING },
		{ RANGE, 80.01, TG_STATUS_WARNING },
		{ RANGE, 80, TG_STATUS_WARNING },
		{ RANGE, 79.99, TG_STATUS_CRITICAL },
		{ RANGE, 119.99, TG_STATUS_WARNING },
		{ RANGE, 120, TG_STATUS_WARNING },
		{ RANGE, 120.01, TG_STATUS_CRITICAL },
		{ RANGE, 100, TG_STATUS_OK },
		/* range without critical bounds */
		{ RANGE_NOCRIT, 90, TG_STATUS_OK },
		{ RANGE_NOCRIT, 110, TG_STATUS_OK },
		{ RANGE_NOCRIT, 89.99, TG_STATUS_CRITICAL },
		{ RANGE_NOCRIT, 110.01, TG_STATUS_CRITICAL },
		/* range with only a minimum (and critical_min) */
		{ RANGE_MIN, 1e12, TG_STATUS_OK },
		{ RANGE_MIN, 90, TG_STATUS_OK },
		{ RANGE_MIN, 85, TG_STATUS_WARNING },
		{ RANGE_MIN, 79, TG_STATUS_CRITICAL },
	};
	struct tg_indicator ind;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum tg_status got;

		profile(&ind, cases[i].p);
		got = tg_eval_light(&ind, cases[i].v);
		if (got != cases[i].want) {
			print_error("case %zu (profile %d, value %.17g): got %s, want %s\n", i,
				    (int)cases[i].p, cases[i].v, tg_status_name(got),
				    tg_status_name(cases[i].want));
			fail();
		}
	}
	assert_int_equal(tg_eval_light(NULL, 1), TG_STATUS_UNKNOWN);
}

/* A range with critical bounds on one side only: the other side's miss is
 * critical. */
static void test_light_range_one_critical(void **state)
{
	struct tg_indicator ind;

	(void)state;
	profile(&ind, RANGE_NOCRIT);
	ind.critical_max = 120;
	ind.has_critical_max = true;
	assert_int_equal(tg_eval_light(&ind, 115), TG_STATUS_WARNING);
	assert_int_equal(tg_eval_light(&ind, 121), TG_STATUS_CRITICAL);
	assert_int_equal(tg_eval_light(&ind, 89), TG_STATUS_CRITICAL);
	/* only a max */
	ind.has_min = false;
	assert_int_equal(tg_eval_light(&ind, -1e9), TG_STATUS_OK);
	assert_int_equal(tg_eval_light(&ind, 110), TG_STATUS_OK);
	assert_int_equal(tg_eval_light(&ind, 110.5), TG_STATUS_WARNING);
}

/* ------------------------------------------------------------ evaluation table */

struct ecase {
	const char *name;
	enum profile p;
	enum tg_period_kind kind;    /* 0 = day: set kind_set */
	bool kind_set;
	bool late_set;
	int64_t late;
	int confirm;
	bool yt;
	double ytv;
	enum tg_aggregate agg;
	bool dec_set;
	int dec;
	const char *unit;            /* overrides the profile's unit; "-" = none */
	struct pt pts[16];
	struct when now;
	const char *lang;
	const char *fail_src, *fail_msg;
	/* expected */
	enum tg_status status;
	const char *reason;          /* exact, or NULL */
	const char *contains;        /* substring, or NULL */
	bool check_light;
	enum tg_status light;
	int run;                     /* checked when check_run */
	bool check_run;
	bool check_fc;
	double fc;
	int fc_year;
	bool fc_misses;
	bool check_exp;
	struct when exp;             /* expected period */
	struct when deadline;
	bool no_value;
};

#define KIND(k) .kind = (k), .kind_set = true
#define LATE(s) .late_set = true, .late = (s)
#define YT(v, a) .yt = true, .ytv = (v), .agg = (a)
#define NOW(...) .now = { __VA_ARGS__ }
#define FC(v, y, m) .check_fc = true, .fc = (v), .fc_year = (y), .fc_misses = (m)
#define EXP(y, m, d, ...) .check_exp = true, .exp = { y, m, d, 0, 0, 0 }, .deadline = { __VA_ARGS__ }
#define RUN(n) .check_run = true, .run = (n)
#define LIGHT(l) .check_light = true, .light = (l)

static const struct ecase ecases[] = {
	/* ---- the traffic light and its reasons */
	{ .name = "lower ok", .p = LOWER, .pts = { { 2026, 3, 1, 28 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_OK,
	  .reason = "28 giorni (marzo 2026): in obiettivo (obiettivo \u2264 30 giorni)" },
	{ .name = "lower at target", .p = LOWER, .pts = { { 2026, 3, 1, 30 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_OK },
	{ .name = "lower warning", .p = LOWER, .pts = { { 2026, 3, 1, 34 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_WARNING,
	  .reason = "34 giorni (marzo 2026): oltre l'obiettivo di 30 giorni, sotto la soglia critica di 45 giorni" },
	{ .name = "lower warning at critical", .p = LOWER, .pts = { { 2026, 3, 1, 45 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING,
	  .reason = "45 giorni (marzo 2026): oltre l'obiettivo di 30 giorni, pari alla soglia critica di 45 giorni" },
	{ .name = "lower critical", .p = LOWER, .pts = { { 2026, 3, 1, 52 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_CRITICAL,
	  .reason = "52 giorni (marzo 2026): oltre la soglia critica di 45 giorni (obiettivo \u2264 30 giorni)" },
	{ .name = "lower critical without critical", .p = LOWER_NOCRIT, .pts = { { 2026, 3, 1, 31 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_CRITICAL,
	  .reason = "31 giorni (marzo 2026): oltre l'obiettivo di 30 giorni (nessuna soglia critica: "
		    "ogni scostamento \u00e8 critico)" },
	{ .name = "lower just over, shown distinct", .p = LOWER, .pts = { { 2026, 3, 1, 30.004 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING,
	  .reason = "30,004 giorni (marzo 2026): oltre l'obiettivo di 30 giorni, sotto la soglia critica di 45 giorni" },
	{ .name = "higher percent ok", .p = HIGHER, .pts = { { 2026, 3, 1, 95.3 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK,
	  .reason = "95,3% (marzo 2026): in obiettivo (obiettivo \u2265 95%)" },
	{ .name = "higher warning", .p = HIGHER, .pts = { { 2026, 3, 1, 92 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_WARNING,
	  .reason = "92% (marzo 2026): sotto l'obiettivo di 95%, sopra la soglia critica di 90%" },
	{ .name = "higher critical", .p = HIGHER, .pts = { { 2026, 3, 1, 80 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_CRITICAL,
	  .reason = "80% (marzo 2026): sotto la soglia critica di 90% (obiettivo \u2265 95%)" },
	{ .name = "higher nocrit", .p = HIGHER_NOCRIT, .pts = { { 2026, 3, 1, 94.99 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_CRITICAL,
	  .contains = "94,99% (marzo 2026): sotto l'obiettivo di 95% (nessuna soglia critica" },
	{ .name = "range ok", .p = RANGE, .pts = { { 2026, 3, 1, 100 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_OK,
	  .reason = "100 giorni (marzo 2026): in obiettivo (obiettivo tra 90 e 110 giorni)" },
	{ .name = "range low warning", .p = RANGE, .pts = { { 2026, 3, 1, 85 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_WARNING,
	  .reason = "85 giorni (marzo 2026): sotto il minimo di 90 giorni, sopra la soglia critica di 80 giorni" },
	{ .name = "range high warning", .p = RANGE, .pts = { { 2026, 3, 1, 115 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING,
	  .reason = "115 giorni (marzo 2026): oltre il massimo di 110 giorni, sotto la soglia critica di 120 giorni" },
	{ .name = "range high critical", .p = RANGE, .pts = { { 2026, 3, 1, 130 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_CRITICAL,
	  .reason = "130 giorni (marzo 2026): oltre la soglia critica di 120 giorni (obiettivo tra 90 e 110 giorni)" },
	{ .name = "range low critical", .p = RANGE, .pts = { { 2026, 3, 1, 70 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_CRITICAL,
	  .reason = "70 giorni (marzo 2026): sotto la soglia critica di 80 giorni (obiettivo tra 90 e 110 giorni)" },
	{ .name = "range nocrit high", .p = RANGE_NOCRIT, .pts = { { 2026, 3, 1, 111 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_CRITICAL,
	  .contains = "111 giorni (marzo 2026): oltre il massimo di 110 giorni (nessuna soglia critica" },
	{ .name = "range min only ok", .p = RANGE_MIN, .pts = { { 2026, 3, 1, 500 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK,
	  .reason = "500 giorni (marzo 2026): in obiettivo (obiettivo \u2265 90 giorni)" },
	{ .name = "no unit", .p = LOWER, .unit = "-", .pts = { { 2026, 3, 1, 28.5 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK,
	  .reason = "28,5 (marzo 2026): in obiettivo (obiettivo \u2264 30)" },
	{ .name = "fixed decimals", .p = LOWER, .dec_set = true, .dec = 1, .pts = { { 2026, 3, 1, 28.46 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK,
	  .reason = "28,5 giorni (marzo 2026): in obiettivo (obiettivo \u2264 30 giorni)" },
	{ .name = "nan value", .p = LOWER, .pts = { { 2026, 3, 1, NAN } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_CRITICAL, .reason = "n.d. giorni (marzo 2026): valore non valido" },

	/* ---- English */
	{ .name = "en warning", .p = LOWER, .unit = "days", .lang = "en", .pts = { { 2026, 3, 1, 34 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING,
	  .reason = "34 days (March 2026): above the target of 30 days, below the critical threshold of 45 days" },
	{ .name = "en ok percent", .p = HIGHER, .lang = "en", .pts = { { 2026, 3, 1, 95.3 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK,
	  .reason = "95.3% (March 2026): on target (target \u2265 95%)" },
	{ .name = "en unknown", .p = LOWER, .lang = "en", NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_UNKNOWN, .reason = "no data received", .no_value = true },
	{ .name = "en forecast", .p = LOWER, .unit = "days", .lang = "en", YT(30, TG_AGG_MEAN),
	  /* flat 34.2 -> the mean closes at 34.2 */
	  .pts = { { 2026, 1, 1, 34.2 }, { 2026, 2, 1, 34.2 }, { 2026, 3, 1, 34.2 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING, FC(34.2, 2026, true),
	  .reason = "34.2 days (March 2026): above the target of 30 days, below the critical threshold of 45 days"
		    "; at this pace the year will close at 34.2 days against a target of 30 days" },
	{ .name = "en late", .p = LOWER, .unit = "days", .lang = "en", LATE(20 * DAY), .pts = { { 2026, 9, 1, 28 } },
	  NOW(2026, 11, 21, 0, 0, 0), .status = TG_STATUS_LATE,
	  .reason = "no value for October 2026, due by 2026-11-20; latest value 28 days (September 2026)" },
	{ .name = "en error", .p = LOWER, .lang = "en", .fail_src = "ragioneria",
	  .fail_msg = "file not found", .pts = { { 2026, 3, 1, 28 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_ERROR, .reason = "source 'ragioneria' failed: file not found" },
	{ .name = "unknown language is Italian", .p = LOWER, .lang = "fr", NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_UNKNOWN, .reason = "nessun dato ricevuto", .no_value = true },

	/* ---- unknown, future values */
	{ .name = "unknown", .p = LOWER, NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_UNKNOWN,
	  .reason = "nessun dato ricevuto", .no_value = true, LIGHT(TG_STATUS_UNKNOWN) },
	{ .name = "only future values", .p = LOWER, .pts = { { 2026, 5, 1, 28 } },
	  NOW(2026, 4, 30, 23, 59, 59), .status = TG_STATUS_UNKNOWN, .no_value = true,
	  .reason = "nessun dato per un periodo gi\u00e0 iniziato (il primo \u00e8 per maggio 2026)" },
	{ .name = "future value ignored", .p = LOWER,
	  .pts = { { 2026, 3, 1, 28 }, { 2026, 4, 1, 99 } }, NOW(2026, 3, 31, 23, 59, 59),
	  .status = TG_STATUS_OK, .contains = "28 giorni (marzo 2026)" },
	{ .name = "period started today counts", .p = LOWER,
	  .pts = { { 2026, 3, 1, 28 }, { 2026, 4, 1, 99 } }, NOW(2026, 4, 1, 0, 0, 0),
	  .status = TG_STATUS_CRITICAL, .contains = "99 giorni (aprile 2026)" },

	/* ---- late: at exactly the deadline and one second before */
	{ .name = "month late at deadline", .p = LOWER, LATE(20 * DAY), .pts = { { 2026, 9, 1, 28 } },
	  NOW(2026, 11, 21, 0, 0, 0), .status = TG_STATUS_LATE,
	  EXP(2026, 10, 1, 2026, 11, 21, 0, 0, 0), LIGHT(TG_STATUS_OK),
	  .reason = "manca il dato di ottobre 2026, atteso entro il 20/11/2026; ultimo valore 28 giorni "
		    "(settembre 2026)" },
	{ .name = "month 1s before deadline", .p = LOWER, LATE(20 * DAY), .pts = { { 2026, 9, 1, 28 } },
	  NOW(2026, 11, 20, 23, 59, 59), .status = TG_STATUS_OK,
	  EXP(2026, 9, 1, 2026, 10, 21, 0, 0, 0) },
	{ .name = "quarter late at deadline", .p = LOWER, KIND(TG_PERIOD_QUARTER), LATE(30 * DAY),
	  .pts = { { 2026, 4, 1, 28 } }, NOW(2026, 10, 31, 0, 0, 0), .status = TG_STATUS_LATE,
	  EXP(2026, 7, 1, 2026, 10, 31, 0, 0, 0),
	  .reason = "manca il dato di 3\u00b0 trim. 2026, atteso entro il 30/10/2026; ultimo valore 28 giorni "
		    "(2\u00b0 trim. 2026)" },
	{ .name = "quarter 1s before", .p = LOWER, KIND(TG_PERIOD_QUARTER), LATE(30 * DAY),
	  .pts = { { 2026, 4, 1, 28 } }, NOW(2026, 10, 30, 23, 59, 59), .status = TG_STATUS_OK,
	  EXP(2026, 4, 1, 2026, 7, 31, 0, 0, 0) },
	/* ISO week 10 of 2026 starts on Monday 2 March */
	{ .name = "week late at deadline", .p = LOWER, KIND(TG_PERIOD_WEEK), LATE(2 * DAY),
	  .pts = { { 2026, 2, 23, 28 } }, NOW(2026, 3, 11, 0, 0, 0), .status = TG_STATUS_LATE,
	  EXP(2026, 3, 2, 2026, 3, 11, 0, 0, 0),
	  .contains = "manca il dato di sett. 10/2026, atteso entro il 10/03/2026; ultimo valore 28 giorni "
		      "(sett. " },
	{ .name = "week 1s before", .p = LOWER, KIND(TG_PERIOD_WEEK), LATE(2 * DAY),
	  .pts = { { 2026, 2, 23, 28 } }, NOW(2026, 3, 10, 23, 59, 59), .status = TG_STATUS_OK,
	  EXP(2026, 2, 23, 2026, 3, 4, 0, 0, 0) },
	{ .name = "day late at deadline (12h)", .p = LOWER, KIND(TG_PERIOD_DAY), LATE(12 * 3600),
	  .pts = { { 2026, 3, 11, 28 } }, NOW(2026, 3, 13, 12, 0, 0), .status = TG_STATUS_LATE,
	  EXP(2026, 3, 12, 2026, 3, 13, 12, 0, 0),
	  .reason = "manca il dato di 12/03/2026, atteso entro il 13/03/2026 alle 12:00; ultimo valore "
		    "28 giorni (11/03/2026)" },
	{ .name = "day 1s before", .p = LOWER, KIND(TG_PERIOD_DAY), LATE(12 * 3600),
	  .pts = { { 2026, 3, 11, 28 } }, NOW(2026, 3, 13, 11, 59, 59), .status = TG_STATUS_OK,
	  EXP(2026, 3, 11, 2026, 3, 12, 12, 0, 0) },
	{ .name = "en day deadline with time", .p = LOWER, .lang = "en", KIND(TG_PERIOD_DAY),
	  LATE(12 * 3600 + 30 * 60), .pts = { { 2026, 3, 11, 28 } }, NOW(2026, 3, 13, 12, 30, 0),
	  .status = TG_STATUS_LATE, .contains = "no value for 2026-03-12, due by 2026-03-13 12:30;" },
	/* 2025 + 90 days: 31 Jan + 28 Feb + 31 Mar -> 1 April 2026 */
	{ .name = "year late at deadline", .p = LOWER, KIND(TG_PERIOD_YEAR), LATE(90 * DAY),
	  .pts = { { 2024, 1, 1, 28 } }, NOW(2026, 4, 1, 0, 0, 0), .status = TG_STATUS_LATE,
	  EXP(2025, 1, 1, 2026, 4, 1, 0, 0, 0),
	  .reason = "manca il dato di 2025, atteso entro il 31/03/2026; ultimo valore 28 giorni (2024)" },
	{ .name = "year 1s before", .p = LOWER, KIND(TG_PERIOD_YEAR), LATE(90 * DAY),
	  .pts = { { 2024, 1, 1, 28 } }, NOW(2026, 3, 31, 23, 59, 59), .status = TG_STATUS_OK,
	  EXP(2024, 1, 1, 2025, 4, 1, 0, 0, 0) },
	{ .name = "late_after 0: due at the period's end", .p = LOWER, LATE(0),
	  .pts = { { 2026, 2, 1, 28 } }, NOW(2026, 4, 1, 0, 0, 0), .status = TG_STATUS_LATE,
	  EXP(2026, 3, 1, 2026, 4, 1, 0, 0, 0), .contains = "atteso entro il 31/03/2026" },
	{ .name = "late with a value for a later period", .p = LOWER, LATE(20 * DAY),
	  .pts = { { 2026, 9, 1, 28 }, { 2026, 11, 1, 29 } }, NOW(2026, 11, 25, 8, 0, 0),
	  .status = TG_STATUS_LATE, EXP(2026, 10, 1, 2026, 11, 21, 0, 0, 0),
	  .reason = "manca il dato di ottobre 2026, atteso entro il 20/11/2026; ultimo valore 29 giorni "
		    "(novembre 2026)" },
	{ .name = "late without any value", .p = LOWER, LATE(20 * DAY), NOW(2026, 11, 25, 8, 0, 0),
	  .status = TG_STATUS_LATE, .no_value = true,
	  .reason = "manca il dato di ottobre 2026, atteso entro il 20/11/2026; nessun valore ricevuto" },
	{ .name = "expected present, not late", .p = LOWER, LATE(20 * DAY),
	  .pts = { { 2026, 10, 1, 28 } }, NOW(2026, 11, 25, 8, 0, 0), .status = TG_STATUS_OK },
	{ .name = "never late without late_after", .p = LOWER, .pts = { { 2020, 1, 1, 28 } },
	  NOW(2026, 11, 25, 8, 0, 0), .status = TG_STATUS_OK },

	/* ---- year boundary: a December value read in January */
	{ .name = "december in january, not late", .p = LOWER, LATE(20 * DAY),
	  .pts = { { 2026, 11, 1, 28 }, { 2026, 12, 1, 29 } }, NOW(2027, 1, 10, 8, 0, 0),
	  .status = TG_STATUS_OK, EXP(2026, 11, 1, 2026, 12, 21, 0, 0, 0),
	  .contains = "29 giorni (dicembre 2026)" },
	{ .name = "december due 20 january", .p = LOWER, LATE(20 * DAY),
	  .pts = { { 2026, 11, 1, 28 } }, NOW(2027, 1, 21, 0, 0, 0), .status = TG_STATUS_LATE,
	  EXP(2026, 12, 1, 2027, 1, 21, 0, 0, 0),
	  .contains = "manca il dato di dicembre 2026, atteso entro il 20/01/2027" },
	/* the year of the forecast is the latest value's (2026), not now's */
	{ .name = "forecast year of the latest value", .p = LOWER, YT(30, TG_AGG_MEAN),
	  .pts = { { 2026, 11, 1, 20 }, { 2026, 12, 1, 20 } }, NOW(2027, 1, 10, 8, 0, 0),
	  .status = TG_STATUS_OK, FC(20, 2026, false) },

	/* ---- 29 February 2028 (daily periods) */
	{ .name = "feb 29 late", .p = LOWER, KIND(TG_PERIOD_DAY), LATE(0),
	  .pts = { { 2028, 2, 28, 28 } }, NOW(2028, 3, 1, 0, 0, 0), .status = TG_STATUS_LATE,
	  EXP(2028, 2, 29, 2028, 3, 1, 0, 0, 0),
	  .contains = "manca il dato di 29/02/2028, atteso entro il 29/02/2028;" },
	{ .name = "feb 29 1s before", .p = LOWER, KIND(TG_PERIOD_DAY), LATE(0),
	  .pts = { { 2028, 2, 28, 28 } }, NOW(2028, 2, 29, 23, 59, 59), .status = TG_STATUS_OK,
	  EXP(2028, 2, 28, 2028, 2, 29, 0, 0, 0) },
	{ .name = "feb 29 present", .p = LOWER, KIND(TG_PERIOD_DAY), LATE(0),
	  .pts = { { 2028, 2, 28, 28 }, { 2028, 2, 29, 29 } }, NOW(2028, 3, 1, 0, 0, 0),
	  .status = TG_STATUS_OK, .contains = "29 giorni (29/02/2028)" },
	/* 2028 has 366 days: one value 2 -> sum 732 */
	{ .name = "feb 29 flat daily sum", .p = SUMCOUNT, KIND(TG_PERIOD_DAY), YT(1000, TG_AGG_SUM),
	  .pts = { { 2028, 2, 29, 2 } }, NOW(2028, 3, 1, 0, 0, 0), .status = TG_STATUS_WARNING,
	  FC(732, 2028, true) },

	/* ---- confirm_periods */
	{ .name = "confirm 2, first miss pending", .p = LOWER, .confirm = 2,
	  .pts = { { 2026, 2, 1, 28 }, { 2026, 3, 1, 34 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_OK, LIGHT(TG_STATUS_WARNING), RUN(1),
	  .reason = "34 giorni (marzo 2026): oltre l'obiettivo di 30 giorni, sotto la soglia critica di 45 giorni"
		    "; fuori obiettivo da 1 periodo: il semaforo cambia dopo 2 periodi consecutivi" },
	{ .name = "confirm 2, gap breaks the run", .p = LOWER, .confirm = 2,
	  .pts = { { 2026, 1, 1, 40 }, { 2026, 3, 1, 40 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_OK, RUN(1), LIGHT(TG_STATUS_WARNING) },
	{ .name = "confirm 2, confirmed", .p = LOWER, .confirm = 2,
	  .pts = { { 2026, 2, 1, 40 }, { 2026, 3, 1, 40 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_WARNING, RUN(2),
	  .reason = "40 giorni (marzo 2026): oltre l'obiettivo di 30 giorni, sotto la soglia critica di 45 giorni"
		    "; fuori obiettivo da 2 periodi consecutivi" },
	{ .name = "confirm 2, mildest of the last 2", .p = LOWER, .confirm = 2,
	  .pts = { { 2026, 1, 1, 50 }, { 2026, 2, 1, 40 }, { 2026, 3, 1, 50 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING, RUN(3), LIGHT(TG_STATUS_CRITICAL),
	  .reason = "50 giorni (marzo 2026): oltre la soglia critica di 45 giorni (obiettivo \u2264 30 giorni)"
		    "; fuori obiettivo da 3 periodi consecutivi, il semaforo mostra il pi\u00f9 lieve "
		    "degli ultimi 2" },
	{ .name = "confirm 2, two criticals", .p = LOWER, .confirm = 2,
	  .pts = { { 2026, 1, 1, 40 }, { 2026, 2, 1, 50 }, { 2026, 3, 1, 50 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_CRITICAL, RUN(3) },
	{ .name = "confirm 3, gap: pending", .p = LOWER, .confirm = 3,
	  .pts = { { 2026, 1, 1, 50 }, { 2026, 3, 1, 50 }, { 2026, 4, 1, 50 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK, RUN(2),
	  .contains = "; fuori obiettivo da 2 periodi: il semaforo cambia dopo 3 periodi consecutivi" },
	{ .name = "confirm 3, ok in between", .p = LOWER, .confirm = 3,
	  .pts = { { 2026, 1, 1, 50 }, { 2026, 2, 1, 20 }, { 2026, 3, 1, 50 }, { 2026, 4, 1, 50 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK, RUN(2) },
	{ .name = "confirm 3, confirmed", .p = LOWER, .confirm = 3,
	  .pts = { { 2026, 1, 1, 50 }, { 2026, 2, 1, 50 }, { 2026, 3, 1, 50 }, { 2026, 4, 1, 50 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_CRITICAL, RUN(4) },
	{ .name = "confirm 3, run across the year", .p = LOWER, .confirm = 3,
	  .pts = { { 2025, 11, 1, 34 }, { 2025, 12, 1, 50 }, { 2026, 1, 1, 50 } },
	  NOW(2026, 2, 5, 9, 0, 0), .status = TG_STATUS_WARNING, RUN(3) },
	{ .name = "confirm 2, future value not counted", .p = LOWER, .confirm = 2,
	  .pts = { { 2026, 2, 1, 28 }, { 2026, 3, 1, 50 }, { 2026, 4, 1, 50 } },
	  NOW(2026, 3, 31, 9, 0, 0), .status = TG_STATUS_OK, RUN(1) },
	{ .name = "recovery to ok immediately", .p = LOWER, .confirm = 2,
	  .pts = { { 2026, 1, 1, 50 }, { 2026, 2, 1, 50 }, { 2026, 3, 1, 20 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK, RUN(0), LIGHT(TG_STATUS_OK),
	  .reason = "20 giorni (marzo 2026): in obiettivo (obiettivo \u2264 30 giorni)" },
	{ .name = "confirm 2 on weeks", .p = LOWER, .confirm = 2, KIND(TG_PERIOD_WEEK),
	  .pts = { { 2026, 2, 23, 50 }, { 2026, 3, 2, 50 } }, NOW(2026, 3, 5, 9, 0, 0),
	  .status = TG_STATUS_CRITICAL, RUN(2) },
	{ .name = "confirm 2 on days, gap", .p = LOWER, .confirm = 2, KIND(TG_PERIOD_DAY),
	  .pts = { { 2026, 3, 1, 50 }, { 2026, 3, 3, 50 } }, NOW(2026, 3, 5, 9, 0, 0),
	  .status = TG_STATUS_OK, RUN(1) },

	/* ---- precedence: error > late > unknown > light */
	{ .name = "error over late", .p = LOWER, LATE(20 * DAY), .fail_src = "ragioneria",
	  .fail_msg = "/srv/export/pagamenti.csv: No such file or directory",
	  .pts = { { 2026, 9, 1, 60 } }, NOW(2026, 11, 21, 0, 0, 0), .status = TG_STATUS_ERROR,
	  LIGHT(TG_STATUS_CRITICAL), EXP(2026, 10, 1, 2026, 11, 21, 0, 0, 0),
	  .reason = "fonte 'ragioneria' in errore: /srv/export/pagamenti.csv: No such file or directory" },
	{ .name = "late over critical", .p = LOWER, LATE(20 * DAY), .pts = { { 2026, 9, 1, 60 } },
	  NOW(2026, 11, 21, 0, 0, 0), .status = TG_STATUS_LATE, LIGHT(TG_STATUS_CRITICAL) },
	{ .name = "error without data", .p = LOWER, .fail_src = "s", .fail_msg = "m",
	  NOW(2026, 11, 21, 0, 0, 0), .status = TG_STATUS_ERROR, .no_value = true },

	/* ---- forecast
	 * Jan 10, Feb 12, Mar 14 at indexes 0,1,2: xbar 1, ybar 12, b 2, the
	 * line is 10 + 2i.  Missing i = 3..11: sum 9*10 + 2*(3+..+11) = 90 +
	 * 126 = 216.  sum = 36 + 216 = 252; mean = 252/12 = 21; last =
	 * 10 + 2*11 = 32. */
	{ .name = "forecast sum", .p = SUMCOUNT, YT(300, TG_AGG_SUM),
	  .pts = { { 2026, 1, 1, 10 }, { 2026, 2, 1, 12 }, { 2026, 3, 1, 14 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING, FC(252, 2026, true),
	  .reason = "14 pratiche (marzo 2026): in obiettivo (obiettivo \u2265 0 pratiche); a questo ritmo "
		    "l'anno chiuder\u00e0 a 252 pratiche contro un obiettivo di 300 pratiche" },
	{ .name = "forecast sum reached", .p = SUMCOUNT, YT(252, TG_AGG_SUM),
	  .pts = { { 2026, 1, 1, 10 }, { 2026, 2, 1, 12 }, { 2026, 3, 1, 14 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK, FC(252, 2026, false) },
	{ .name = "forecast mean", .p = LOWER, YT(20, TG_AGG_MEAN),
	  .pts = { { 2026, 1, 1, 10 }, { 2026, 2, 1, 12 }, { 2026, 3, 1, 14 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING, FC(21, 2026, true),
	  .contains = "; a questo ritmo l'anno chiuder\u00e0 a 21 giorni contro un obiettivo di 20 giorni" },
	{ .name = "forecast last", .p = LOWER, YT(31, TG_AGG_LAST),
	  .pts = { { 2026, 1, 1, 10 }, { 2026, 2, 1, 12 }, { 2026, 3, 1, 14 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING, FC(32, 2026, true) },
	{ .name = "forecast last within", .p = LOWER, YT(32, TG_AGG_LAST),
	  .pts = { { 2026, 1, 1, 10 }, { 2026, 2, 1, 12 }, { 2026, 3, 1, 14 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK, FC(32, 2026, false) },
	/* Jan 10, Mar 14 (a gap): the same line 10 + 2i; missing 1 and 3..11:
	 * 12 + 216; sum = 24 + 228 = 252. */
	{ .name = "forecast sum with a gap", .p = SUMCOUNT, YT(252, TG_AGG_SUM),
	  .pts = { { 2026, 1, 1, 10 }, { 2026, 3, 1, 14 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_OK, FC(252, 2026, false) },
	/* One value (March 25): flat line; sum 12*25 = 300, mean 25, last 25. */
	{ .name = "forecast flat sum", .p = SUMCOUNT, YT(300, TG_AGG_SUM),
	  .pts = { { 2026, 3, 1, 25 } }, NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK,
	  FC(300, 2026, false) },
	{ .name = "forecast flat mean", .p = LOWER, YT(24, TG_AGG_MEAN), .pts = { { 2026, 3, 1, 25 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING, FC(25, 2026, true) },
	{ .name = "forecast flat last", .p = LOWER, YT(25, TG_AGG_LAST), .pts = { { 2026, 3, 1, 25 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK, FC(25, 2026, false) },
	/* Jan 10, Feb 6, Mar 2: line 10 - 4i, negative from i = 3: clamped at
	 * 0, sum = 18.  (Unclamped it would be 18 + 90 - 4*63 = -144.) */
	{ .name = "forecast sum clamped at zero", .p = SUMCOUNT, YT(18, TG_AGG_SUM),
	  .pts = { { 2026, 1, 1, 10 }, { 2026, 2, 1, 6 }, { 2026, 3, 1, 2 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK, FC(18, 2026, false) },
	/* the mean is not clamped: -144 / 12 = -12 */
	{ .name = "forecast mean not clamped", .p = LOWER, YT(0, TG_AGG_MEAN),
	  .pts = { { 2026, 1, 1, 10 }, { 2026, 2, 1, 6 }, { 2026, 3, 1, 2 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK, FC(-12, 2026, false) },
	/* A negative value: no clamp.  4, 0, -4: line -4(i-1); missing
	 * 3..11: -4*(63 - 9) = -216; sum = 0 - 216 = -216. */
	{ .name = "forecast sum with negatives", .p = SUMCOUNT, YT(-300, TG_AGG_SUM),
	  .pts = { { 2026, 1, 1, 4 }, { 2026, 2, 1, 0 }, { 2026, 3, 1, -4 } },
	  /* the latest value -4 misses the target 0: critical */
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_CRITICAL, FC(-216, 2026, false) },
	/* Oct 2, Nov 6, Dec 10 at indexes 9, 10, 11: xbar 10, ybar 6, b 4,
	 * the line is 4i - 34, negative for every missing index 0..8 (at 8 it
	 * is -2): all clamped to 0, sum = 18.  Unclamped: 18 + 4*36 - 9*34 =
	 * -144. */
	{ .name = "forecast sum clamped before", .p = SUMCOUNT, YT(18, TG_AGG_SUM),
	  .pts = { { 2026, 10, 1, 2 }, { 2026, 11, 1, 6 }, { 2026, 12, 1, 10 } },
	  NOW(2027, 1, 5, 9, 0, 0), .status = TG_STATUS_OK, FC(18, 2026, false) },
	/* quarters: Q1 10, Q2 20 -> line 10 + 10i: Q3 30, Q4 40; sum 100 */
	{ .name = "forecast quarter sum", .p = SUMCOUNT, KIND(TG_PERIOD_QUARTER), YT(101, TG_AGG_SUM),
	  .pts = { { 2026, 1, 1, 10 }, { 2026, 4, 1, 20 } }, NOW(2026, 7, 5, 9, 0, 0),
	  .status = TG_STATUS_WARNING, FC(100, 2026, true),
	  .contains = "l'anno chiuder\u00e0 a 100 pratiche contro un obiettivo di 101 pratiche" },
	/* only the values of the latest value's year count: 2025's 1000 is
	 * ignored; 2026: Jan 10 flat -> 120 */
	{ .name = "forecast ignores previous year", .p = SUMCOUNT, YT(120, TG_AGG_SUM),
	  .pts = { { 2025, 12, 1, 1000 }, { 2026, 1, 1, 10 } }, NOW(2026, 2, 5, 9, 0, 0),
	  .status = TG_STATUS_OK, FC(120, 2026, false) },
	/* future values are not part of the forecast: March 10 alone -> 120 */
	{ .name = "forecast ignores future", .p = SUMCOUNT, YT(120, TG_AGG_SUM),
	  .pts = { { 2026, 3, 1, 10 }, { 2026, 4, 1, 1000 } }, NOW(2026, 3, 20, 9, 0, 0),
	  .status = TG_STATUS_OK, FC(120, 2026, false) },
	/* Jan 20, Feb 25, Mar 30: all on target (<= 30).  Line 20 + 5i; missing
	 * 3..11: 9*20 + 5*63 = 495; mean (75 + 495)/12 = 47.5 > 30: ok ->
	 * warning. */
	{ .name = "forecast turns ok into warning", .p = LOWER, YT(30, TG_AGG_MEAN),
	  .pts = { { 2026, 1, 1, 20 }, { 2026, 2, 1, 25 }, { 2026, 3, 1, 30 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING, LIGHT(TG_STATUS_OK),
	  FC(47.5, 2026, true),
	  .reason = "30 giorni (marzo 2026): in obiettivo (obiettivo \u2264 30 giorni); a questo ritmo "
		    "l'anno chiuder\u00e0 a 47,5 giorni contro un obiettivo di 30 giorni" },
	{ .name = "forecast does not worsen critical", .p = LOWER, YT(30, TG_AGG_MEAN),
	  .pts = { { 2026, 1, 1, 50 }, { 2026, 2, 1, 50 }, { 2026, 3, 1, 50 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_CRITICAL, FC(50, 2026, true),
	  .contains = "; a questo ritmo l'anno chiuder\u00e0 a 50 giorni contro un obiettivo di 30 giorni" },
	{ .name = "forecast with pending confirmation", .p = LOWER, YT(30, TG_AGG_MEAN), .confirm = 2,
	  .pts = { { 2026, 1, 1, 28 }, { 2026, 2, 1, 29 }, { 2026, 3, 1, 40 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_WARNING, RUN(1),
	  .contains = "il semaforo cambia dopo 2 periodi consecutivi; a questo ritmo" },
	/* 0.1, 0.2, 0.3: last = 0.1 + 0.1*11 = 1.2 with float noise */
	{ .name = "forecast equality lower (noise)", .p = LOWER, YT(1.2, TG_AGG_LAST),
	  .pts = { { 2026, 1, 1, 0.1 }, { 2026, 2, 1, 0.2 }, { 2026, 3, 1, 0.3 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_OK, FC(1.2, 2026, false) },
	{ .name = "forecast equality higher (noise)", .p = HIGHER_NOCRIT, YT(1.2, TG_AGG_LAST),
	  .pts = { { 2026, 1, 1, 0.1 }, { 2026, 2, 1, 0.2 }, { 2026, 3, 1, 0.3 } },
	  NOW(2026, 4, 5, 9, 0, 0), .status = TG_STATUS_CRITICAL, FC(1.2, 2026, false) },
	/* 12 values of 10: the year is complete, the mean is 10 */
	{ .name = "forecast complete year", .p = LOWER, YT(9, TG_AGG_MEAN),
	  .pts = { { 2026, 1, 1, 10 }, { 2026, 2, 1, 10 }, { 2026, 3, 1, 10 }, { 2026, 4, 1, 10 },
		   { 2026, 5, 1, 10 }, { 2026, 6, 1, 10 }, { 2026, 7, 1, 10 }, { 2026, 8, 1, 10 },
		   { 2026, 9, 1, 10 }, { 2026, 10, 1, 10 }, { 2026, 11, 1, 10 }, { 2026, 12, 1, 10 } },
	  NOW(2027, 1, 5, 9, 0, 0), .status = TG_STATUS_WARNING, FC(10, 2026, true),
	  .contains = "; il 2026 si \u00e8 chiuso a 10 giorni contro un obiettivo di 9 giorni" },
	/* last with the December value present: the value itself (29 > 28:
	 * misses), not the line (Jan 10, Jun 10, Dec 29 at 0, 5, 11: xbar 16/3,
	 * ybar 49/3, b = 107.67/60.67 = 1.775, line at 11 = 26.4 <= 28) */
	{ .name = "forecast last uses the value when present", .p = LOWER, YT(28, TG_AGG_LAST),
	  .pts = { { 2026, 1, 1, 10 }, { 2026, 6, 1, 10 }, { 2026, 12, 1, 29 } },
	  NOW(2027, 1, 5, 9, 0, 0), .status = TG_STATUS_WARNING, LIGHT(TG_STATUS_OK),
	  FC(29, 2026, true), .contains = "; il 2026 si \u00e8 chiuso a 29 giorni contro un obiettivo di 28 giorni" },
	{ .name = "forecast range", .p = RANGE, YT(0, TG_AGG_MEAN),
	  .pts = { { 2026, 1, 1, 100 }, { 2026, 2, 1, 110 } }, NOW(2026, 3, 5, 9, 0, 0),
	  /* line 100 + 10i; mean = 100 + 10*5.5 = 155 > 110 */
	  .status = TG_STATUS_WARNING, FC(155, 2026, true),
	  .contains = "; a questo ritmo l'anno chiuder\u00e0 a 155 giorni contro un obiettivo tra 90 e 110" },
	{ .name = "forecast range inside", .p = RANGE, YT(0, TG_AGG_MEAN),
	  .pts = { { 2026, 1, 1, 100 }, { 2026, 2, 1, 100 } }, NOW(2026, 3, 5, 9, 0, 0),
	  .status = TG_STATUS_OK, FC(100, 2026, false) },
	{ .name = "forecast en complete", .p = LOWER, .unit = "days", .lang = "en", YT(9, TG_AGG_LAST),
	  .pts = { { 2026, 12, 1, 10 } }, NOW(2027, 1, 5, 9, 0, 0), .status = TG_STATUS_WARNING,
	  .contains = "; 2026 closed at 10 days against a target of 9 days" },
	{ .name = "forecast value shown distinct", .p = LOWER, YT(30, TG_AGG_MEAN),
	  .pts = { { 2026, 3, 1, 30.001 } }, NOW(2026, 4, 5, 9, 0, 0),
	  .status = TG_STATUS_WARNING, .contains = "chiuder\u00e0 a 30,001 giorni contro un obiettivo di 30 giorni" },
	/* weekly: 2026 has 53 ISO weeks; one value 1 -> 53 */
	{ .name = "forecast week flat", .p = SUMCOUNT, KIND(TG_PERIOD_WEEK), YT(53, TG_AGG_SUM),
	  .pts = { { 2026, 3, 2, 1 } }, NOW(2026, 3, 5, 9, 0, 0), .status = TG_STATUS_OK,
	  FC(53, 2026, false) },
	{ .name = "forecast year kind", .p = LOWER, KIND(TG_PERIOD_YEAR), YT(20, TG_AGG_MEAN),
	  .pts = { { 2025, 1, 1, 10 }, { 2026, 1, 1, 25 } }, NOW(2026, 3, 5, 9, 0, 0),
	  .status = TG_STATUS_WARNING, FC(25, 2026, true), .contains = "il 2026 si \u00e8 chiuso a 25" },
};

static void run_ecase(size_t i, const struct ecase *c)
{
	struct tg_indicator ind;
	struct series_buf sb;
	const struct tg_series *s;
	struct tg_eval_context ctx = { 0 };
	struct tg_eval_result r;

	profile(&ind, c->p);
	if (c->kind_set)
		ind.period = c->kind;
	if (c->late_set)
		ind.late_after = c->late;
	if (c->confirm)
		ind.confirm_periods = c->confirm;
	if (c->yt) {
		ind.year_target.set = true;
		ind.year_target.value = c->ytv;
		ind.year_target.aggregate = c->agg;
	}
	if (c->dec_set)
		ind.decimals = c->dec;
	if (c->unit)
		ind.unit = strcmp(c->unit, "-") == 0 ? NULL : (char *)c->unit;
	s = mkseries(&sb, c->pts, 16);
	ctx.now = at(c->now);
	ctx.lang = c->lang ? c->lang : "it";
	ctx.failed_source = c->fail_src;
	ctx.failed_message = c->fail_msg;

	memset(&r, 0x5A, sizeof(r));
	tg_eval_indicator(&ind, s->n ? s : NULL, &ctx, &r);
	check_sane(c->name, &r);
	if (r.status != c->status) {
		print_error("case %zu '%s': status %s, want %s (reason: %s)\n", i, c->name,
			    tg_status_name(r.status), tg_status_name(c->status), r.reason);
		fail();
	}
	if (c->reason && strcmp(r.reason, c->reason) != 0) {
		print_error("case %zu '%s':\n  reason '%s'\n    want '%s'\n", i, c->name, r.reason,
			    c->reason);
		fail();
	}
	if (c->contains && !strstr(r.reason, c->contains)) {
		print_error("case %zu '%s':\n  reason '%s'\n  lacks '%s'\n", i, c->name, r.reason,
			    c->contains);
		fail();
	}
	if (c->check_light && r.light != c->light) {
		print_error("case %zu '%s': light %s, want %s\n", i, c->name, tg_status_name(r.light),
			    tg_status_name(c->light));
		fail();
	}
	if (c->check_run && r.out_of_target_run != c->run) {
		print_error("case %zu '%s': run %d, want %d\n", i, c->name, r.out_of_target_run, c->run);
		fail();
	}
	if (c->check_fc && (!r.has_forecast || fabs(r.forecast - c->fc) > 1e-9 * fmax(1, fabs(c->fc)) ||
			    r.forecast_year != c->fc_year || r.forecast_misses != c->fc_misses)) {
		print_error("case %zu '%s': forecast %d %.17g %d misses %d, want %.17g %d misses %d\n", i,
			    c->name, r.has_forecast, r.forecast, r.forecast_year, r.forecast_misses, c->fc,
			    c->fc_year, c->fc_misses);
		fail();
	}
	if (!c->yt && (r.has_forecast || r.forecast_misses || r.forecast != 0)) {
		print_error("case %zu '%s': forecast without year_target\n", i, c->name);
		fail();
	}
	if (c->check_exp) {
		tg_day want = tg_day_from_ymd(c->exp.y, c->exp.m, c->exp.d);
		if (!r.has_expected || r.expected != want || r.deadline != at(c->deadline)) {
			print_error("case %zu '%s': expected %d %d deadline %lld, want %d %lld\n", i,
				    c->name, r.has_expected, (int)r.expected, (long long)r.deadline,
				    (int)want, (long long)at(c->deadline));
			fail();
		}
	}
	if (!c->late_set && (r.has_expected || r.expected != 0 || r.deadline != 0)) {
		print_error("case %zu '%s': expected set without late_after\n", i, c->name);
		fail();
	}
	if (c->no_value != !r.has_value) {
		print_error("case %zu '%s': has_value %d\n", i, c->name, r.has_value);
		fail();
	}
	if (!r.has_value && (r.value != 0 || r.period != 0 || r.light != TG_STATUS_UNKNOWN ||
			     r.out_of_target_run != 0)) {
		print_error("case %zu '%s': fields set without a value\n", i, c->name);
		fail();
	}
}

static void test_eval_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++)
		run_ecase(i, &ecases[i]);
}

/* The latest value is the right one, also from a long series: the binary
 * search must land on the last started period. */
static void test_latest_value_search(void **state)
{
	struct tg_indicator ind;
	struct series_buf sb;
	struct tg_eval_context ctx = { 0 };
	struct tg_eval_result r;
	size_t n = 120;

	(void)state;
	profile(&ind, LOWER);
	for (size_t i = 0; i < n; i++) {
		int y = 2017 + (int)i / 12, m = 1 + (int)i % 12;
		sb.p[i] = tg_day_from_ymd(y, m, 1);
		sb.v[i] = (double)i;
	}
	sb.s = (struct tg_series){ n, sb.p, sb.v, NULL, 0 };
	ctx.lang = "it";
	for (size_t i = 0; i < n; i++) {
		/* the last day of period i, and its first day */
		ctx.now = (tg_time)(i + 1 < n ? sb.p[i + 1] - 1 : sb.p[i] + 20) * DAY + 43200;
		tg_eval_indicator(&ind, &sb.s, &ctx, &r);
		assert_true(r.has_value);
		assert_int_equal(r.period, sb.p[i]);
		assert_true(r.value == (double)i);
		ctx.now = (tg_time)sb.p[i] * DAY;
		tg_eval_indicator(&ind, &sb.s, &ctx, &r);
		assert_int_equal(r.period, sb.p[i]);
	}
	ctx.now = (tg_time)(sb.p[0] - 1) * DAY;
	tg_eval_indicator(&ind, &sb.s, &ctx, &r);
	assert_false(r.has_value);
	assert_int_equal(r.status, TG_STATUS_UNKNOWN);
}

/* A daily series over all of 2028 (leap): sum of 1 per day is 366, and the
 * run of out-of-target days crosses 29 February. */
static void test_daily_2028(void **state)
{
	struct tg_indicator ind;
	struct series_buf sb;
	struct tg_eval_context ctx = { 0 };
	struct tg_eval_result r;
	tg_day first = tg_day_from_ymd(2028, 1, 1);

	(void)state;
	profile(&ind, SUMCOUNT);
	ind.period = TG_PERIOD_DAY;
	ind.year_target.set = true;
	ind.year_target.value = 366;
	ind.year_target.aggregate = TG_AGG_SUM;
	for (int i = 0; i < 366; i++) {
		sb.p[i] = first + i;
		sb.v[i] = 1;
	}
	sb.s = (struct tg_series){ 366, sb.p, sb.v, NULL, 0 };
	ctx.lang = "it";
	ctx.now = (tg_time)tg_day_from_ymd(2028, 12, 31) * DAY + 3600;
	tg_eval_indicator(&ind, &sb.s, &ctx, &r);
	assert_true(r.has_forecast);
	assert_true(fabs(r.forecast - 366) < 1e-9);
	assert_false(r.forecast_misses);
	assert_int_equal(r.status, TG_STATUS_OK);
	assert_non_null(strstr(r.reason, "(31/12/2028)"));

	/* up to 1 March only (61 days of 1): flat, still 366 */
	ctx.now = (tg_time)tg_day_from_ymd(2028, 3, 1) * DAY + 3600;
	tg_eval_indicator(&ind, &sb.s, &ctx, &r);
	assert_int_equal(r.period, tg_day_from_ymd(2028, 3, 1));
	assert_true(fabs(r.forecast - 366) < 1e-9);

	/* lower is better with target 0.5: every day out of target; the run
	 * from 1 January to 1 March crosses 29 February: 61 days */
	ind.better = TG_BETTER_LOWER;
	ind.target = 0.5;
	ind.confirm_periods = 61;
	tg_eval_indicator(&ind, &sb.s, &ctx, &r);
	assert_int_equal(r.out_of_target_run, 61);
	assert_int_equal(r.status, TG_STATUS_CRITICAL);
	ind.confirm_periods = 62;
	tg_eval_indicator(&ind, &sb.s, &ctx, &r);
	assert_int_equal(r.status, TG_STATUS_OK); /* pending; forecast 366 <= 366 */
	assert_non_null(strstr(r.reason, "fuori obiettivo da 61 periodi: il semaforo cambia dopo 62 "
					 "periodi consecutivi"));
	ind.year_target.value = 365;
	tg_eval_indicator(&ind, &sb.s, &ctx, &r);
	assert_int_equal(r.status, TG_STATUS_WARNING); /* forecast 366 > 365 */
	assert_true(r.forecast_misses);
}

/* Very long, hostile strings: the reason is truncated at a character
 * boundary with an ellipsis, stays valid UTF-8, has no control bytes. */
static void test_truncation(void **state)
{
	static char unit[4096], src[4096], msg[4096];
	struct tg_indicator ind;
	struct series_buf sb;
	static const struct pt pts[] = { { 2026, 3, 1, 34 }, { 0, 0, 0, 0 } };
	struct tg_eval_context ctx = { 0 };
	struct tg_eval_result r;

	(void)state;
	/* "è" is two bytes; an odd prefix shifts the boundary */
	for (size_t off = 0; off < 4; off++) {
		size_t k = 0;

		for (; k < off; k++)
			unit[k] = 'x';
		while (k + 5 < sizeof(unit)) {
			memcpy(unit + k, "\xC3\xA8\xE2\x82\xAC", 5); /* "è€" */
			k += 5;
		}
		unit[k] = '\0';
		profile(&ind, LOWER);
		ind.unit = unit;
		ind.year_target.set = true;
		ind.year_target.value = 1;
		ctx.now = at((struct when){ 2026, 4, 5, 9, 0, 0 });
		ctx.lang = off % 2 ? "en" : "it";
		tg_eval_indicator(&ind, mkseries(&sb, pts, 2), &ctx, &r);
		check_sane("long unit", &r);
		assert_true(strlen(r.reason) < TG_REASON_MAX);
		assert_true(strlen(r.reason) > TG_REASON_MAX - 8);
		assert_string_equal(r.reason + strlen(r.reason) - 3, "\u2026");
		assert_int_equal(r.status, TG_STATUS_WARNING);
	}

	/* a source name and message with control bytes, invalid UTF-8 and 4-byte
	 * characters */
	for (size_t k = 0; k + 1 < sizeof(src); k++)
		src[k] = (char)(k % 7 == 0 ? '\n' : k % 11 == 0 ? '\xff' : 'a');
	src[sizeof(src) - 1] = '\0';
	for (size_t k = 0; k + 4 < sizeof(msg); k += 4)
		memcpy(msg + k, "\xF0\x9F\x98\x80", 4);
	msg[sizeof(msg) - 4] = '\0';
	profile(&ind, LOWER);
	ctx.lang = "it";
	ctx.failed_source = "ragioneria";
	ctx.failed_message = msg;
	tg_eval_indicator(&ind, NULL, &ctx, &r);
	check_sane("long message", &r);
	assert_int_equal(r.status, TG_STATUS_ERROR);
	assert_string_equal(r.reason + strlen(r.reason) - 3, "\u2026");
	ctx.failed_source = src;
	tg_eval_indicator(&ind, NULL, &ctx, &r);
	check_sane("hostile source", &r);
	assert_non_null(strstr(r.reason, "\xEF\xBF\xBD")); /* U+FFFD for the bad byte */

	/* short hostile strings: replaced, not truncated */
	ctx.failed_source = "a\tb\x7f\xc2\x85z";
	ctx.failed_message = "\xe0\x80\x80 \xed\xa0\x80 \xf4\x90\x80\x80 ok";
	tg_eval_indicator(&ind, NULL, &ctx, &r);
	check_sane("short hostile", &r);
	assert_string_equal(r.reason, "fonte 'a b  z' in errore: \uFFFD\uFFFD\uFFFD \uFFFD\uFFFD\uFFFD "
				      "\uFFFD\uFFFD\uFFFD\uFFFD ok");
	ctx.failed_message = NULL;
	tg_eval_indicator(&ind, NULL, &ctx, &r);
	assert_string_equal(r.reason, "fonte 'a b  z' in errore: ");
}

/* Every cut position: units of every length push the end of the buffer
 * through each byte of the text after them ("≤", "è", "à", "…"), so the cut
 * falls inside multi-byte characters of our own wording too. */
static void test_truncation_sweep(void **state)
{
	static char unit[700];
	static const struct pt pts[] = { { 2026, 1, 1, 20 }, { 2026, 2, 1, 25 }, { 2026, 3, 1, 31 },
					  { 0, 0, 0, 0 } };
	static const enum profile profiles[] = { LOWER, LOWER_NOCRIT, HIGHER, RANGE };
	struct tg_indicator ind;
	struct series_buf sb;
	struct tg_eval_context ctx = { 0 };
	struct tg_eval_result r;
	size_t truncated = 0;

	(void)state;
	ctx.now = at((struct when){ 2026, 4, 5, 9, 0, 0 });
	for (size_t len = 0; len + 1 < sizeof(unit); len++) {
		memset(unit, 'u', len);
		unit[len] = '\0';
		for (size_t p = 0; p < sizeof(profiles) / sizeof(profiles[0]); p++)
			for (int en = 0; en < 2; en++) {
				char name[64];

				profile(&ind, profiles[p]);
				ind.unit = unit;
				ind.confirm_periods = 2;
				ind.year_target.set = true;
				ind.year_target.value = 1;
				ctx.lang = en ? "en" : "it";
				tg_eval_indicator(&ind, mkseries(&sb, pts, 4), &ctx, &r);
				snprintf(name, sizeof(name), "sweep len %zu profile %zu %s", len, p,
					 ctx.lang);
				check_sane(name, &r);
				if (strlen(r.reason) >= 3 &&
				    strcmp(r.reason + strlen(r.reason) - 3, "\u2026") == 0)
					truncated++;
			}
	}
	assert_true(truncated > 1000);
}

/* Inputs no valid config produces: nothing crashes, the result is sane. */
static void test_hostile_inputs(void **state)
{
	static const tg_day weird_p[] = { INT32_MIN, -800000, 0, 20000, INT32_MAX - 1, INT32_MAX };
	static const double weird_v[] = { 1, NAN, INFINITY, -INFINITY, 1e308, -1e308 };
	static const tg_time nows[] = { INT64_MIN, -1, 0, 1780000000, INT64_MAX,
					(tg_time)INT32_MAX * DAY };
	struct tg_series s = { 6, weird_p, weird_v, NULL, 0 };
	struct tg_indicator ind;
	struct tg_eval_context ctx = { 0 };
	struct tg_eval_result r;

	(void)state;
	tg_eval_indicator(NULL, NULL, NULL, NULL);
	tg_eval_indicator(NULL, NULL, NULL, &r);
	check_sane("null", &r);
	assert_int_equal(r.status, TG_STATUS_UNKNOWN);

	for (int kind = 0; kind <= 5; kind++)
		for (int better = 0; better < 3; better++)
			for (size_t t = 0; t < sizeof(nows) / sizeof(nows[0]); t++)
				for (int agg = 0; agg < 3; agg++) {
					profile(&ind, better == 0 ? HIGHER : better == 1 ? LOWER : RANGE);
					ind.period = kind == 5 ? (enum tg_period_kind)77 : (enum tg_period_kind)kind;
					ind.late_after = t % 2 ? INT64_MAX : 0;
					ind.confirm_periods = t % 3 ? INT32_MAX : 0;
					ind.year_target.set = true;
					ind.year_target.aggregate = (enum tg_aggregate)agg;
					ctx.now = nows[t];
					ctx.lang = NULL;
					tg_eval_indicator(&ind, &s, &ctx, &r);
					check_sane("hostile", &r);
					tg_eval_indicator(&ind, &s, NULL, &r);
					check_sane("hostile, null ctx", &r);
				}

	/* huge values: the forecast overflows to infinity and is dropped */
	{
		static const tg_day p[] = { 20454, 20485, 20513 }; /* 2026-01..03 */
		static const double v[] = { 1e308, -1e308, 1e308 };
		struct tg_series hs = { 3, p, v, NULL, 0 };

		profile(&ind, SUMCOUNT);
		ind.year_target.set = true;
		ind.year_target.aggregate = TG_AGG_SUM;
		ctx.now = (tg_time)20600 * DAY;
		ctx.lang = "it";
		tg_eval_indicator(&ind, &hs, &ctx, &r);
		check_sane("huge", &r);
		assert_false(r.has_forecast);
	}
	/* NULL arrays with n > 0: treated as no data */
	{
		struct tg_series ns = { 5, NULL, NULL, NULL, 0 };

		profile(&ind, LOWER);
		tg_eval_indicator(&ind, &ns, &ctx, &r);
		check_sane("null arrays", &r);
		assert_int_equal(r.status, TG_STATUS_UNKNOWN);
	}
}

/* Pure: same input, same output; the input is not modified. */
static void test_deterministic(void **state)
{
	static const struct pt pts[] = { { 2026, 1, 1, 40 }, { 2026, 2, 1, 50 }, { 2026, 3, 1, 20 },
					 { 0, 0, 0, 0 } };
	struct tg_indicator ind, copy;
	struct series_buf sb;
	struct tg_eval_context ctx = { 0 };
	struct tg_eval_result a, b;

	(void)state;
	profile(&ind, LOWER);
	ind.year_target.set = true;
	ind.year_target.value = 10;
	ind.late_after = 20 * DAY;
	copy = ind;
	ctx.now = at((struct when){ 2026, 4, 25, 9, 0, 0 });
	ctx.lang = "it";
	memset(&a, 0, sizeof(a));
	memset(&b, 0xff, sizeof(b));
	tg_eval_indicator(&ind, mkseries(&sb, pts, 4), &ctx, &a);
	tg_eval_indicator(&ind, &sb.s, &ctx, &b);
	assert_memory_equal(&ind, &copy, sizeof(ind));
	assert_int_equal(a.status, b.status);
	assert_string_equal(a.reason, b.reason);
	assert_true(a.forecast == b.forecast);
	assert_int_equal(a.expected, b.expected);
}

/* One step of the tests below: ind evaluated on 20 January 2026 with the
 * series s, in lang; the result sane. */
static void in_turn(const struct tg_indicator *ind, const struct tg_series *s, const char *lang,
		    struct tg_eval_result *r)
{
	struct tg_eval_context ctx = { 0 };

	ctx.now = at((struct when){ 2026, 1, 20, 9, 0, 0 });
	ctx.lang = lang;
	tg_eval_indicator(ind, s, &ctx, r);
	check_sane("in turn", r);
}

/* The label of the latest period, remembered from one indicator to the
 * next (the same day starts a month, a quarter and a year): each reason has
 * its own kind's label in its own language, whatever came before. */
static void test_period_labels_in_turn(void **state)
{
	static const struct pt pts[] = { { 2026, 1, 1, 20 }, { 0, 0, 0, 0 } };
	static const struct {
		enum tg_period_kind kind;
		const char *lang, *label, *not;
	} seq[] = {
		{ TG_PERIOD_MONTH, "it", "(gennaio 2026)", "trim." },
		{ TG_PERIOD_QUARTER, "it", "(1\xC2\xB0 trim. 2026)", "gennaio" },
		{ TG_PERIOD_MONTH, "en", "(January 2026)", "gennaio" },
		{ TG_PERIOD_MONTH, "it", "(gennaio 2026)", "January" },
		{ TG_PERIOD_YEAR, "it", "(2026)", "gennaio" },
		{ TG_PERIOD_QUARTER, "en", "(Q1 2026)", "trim." },
		{ TG_PERIOD_MONTH, "it", "(gennaio 2026)", "Q1" },
	};
	struct tg_indicator ind;
	struct series_buf sb;
	struct tg_eval_result r;

	(void)state;
	profile(&ind, LOWER);
	mkseries(&sb, pts, 2);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		ind.period = seq[i].kind;
		in_turn(&ind, &sb.s, seq[i].lang, &r);
		if (strstr(r.reason, seq[i].label) == NULL || strstr(r.reason, seq[i].not) != NULL)
			fail_msg("step %zu: '%s' should say '%s' and not '%s'", i, r.reason,
				 seq[i].label, seq[i].not);
	}
}

/* The deadline periods, remembered from one indicator to the next: each
 * result has the expected period and deadline of its own kind and
 * late_after, whatever came before. */
static void test_deadlines_in_turn(void **state)
{
	static const struct pt pts[] = { { 2025, 10, 1, 20 }, { 0, 0, 0, 0 } };
	static const struct {
		enum tg_period_kind kind;
		int late_days;
		struct when exp;
	} seq[] = {
		{ TG_PERIOD_MONTH, 10, { 2025, 12, 1, 0, 0, 0 } },
		{ TG_PERIOD_QUARTER, 10, { 2025, 10, 1, 0, 0, 0 } },
		{ TG_PERIOD_MONTH, 10, { 2025, 12, 1, 0, 0, 0 } },
		{ TG_PERIOD_MONTH, 25, { 2025, 11, 1, 0, 0, 0 } },
		{ TG_PERIOD_WEEK, 10, { 2025, 12, 29, 0, 0, 0 } },
		{ TG_PERIOD_MONTH, 10, { 2025, 12, 1, 0, 0, 0 } },
	};
	struct tg_indicator ind;
	struct series_buf sb;
	struct tg_eval_result r;

	(void)state;
	profile(&ind, LOWER);
	mkseries(&sb, pts, 2);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		tg_day exp = tg_day_from_ymd(seq[i].exp.y, seq[i].exp.m, seq[i].exp.d);
		tg_day next = tg_period_next(seq[i].kind, exp);

		ind.period = seq[i].kind;
		ind.late_after = seq[i].late_days * DAY;
		in_turn(&ind, &sb.s, "it", &r);
		if (!r.has_expected || r.expected != exp ||
		    r.deadline != (tg_time)next * DAY + ind.late_after)
			fail_msg("step %zu: expected day %d deadline %lld, got %d %lld ('%s')", i,
				 (int)exp, (long long)((tg_time)next * DAY + ind.late_after),
				 (int)r.expected, (long long)r.deadline, r.reason);
	}
}

/* The calendar of the year of the latest period, remembered from one
 * forecast to the next: 1 January 2026 starts a day, a month, a quarter and
 * a year, whose counts of periods differ (a flat line of 10 sums to 10 times
 * that count). */
static void test_forecasts_in_turn(void **state)
{
	static const struct pt pts[] = { { 2026, 1, 1, 10 }, { 0, 0, 0, 0 } };
	static const struct {
		enum tg_period_kind kind;
		double want;
	} seq[] = {
		{ TG_PERIOD_MONTH, 120 }, { TG_PERIOD_QUARTER, 40 }, { TG_PERIOD_MONTH, 120 },
		{ TG_PERIOD_YEAR, 10 }, { TG_PERIOD_DAY, 3650 }, { TG_PERIOD_QUARTER, 40 },
	};
	struct tg_indicator ind;
	struct series_buf sb;
	struct tg_eval_result r;

	(void)state;
	profile(&ind, HIGHER_NOCRIT);
	ind.year_target.set = true;
	ind.year_target.aggregate = TG_AGG_SUM;
	ind.year_target.value = 1000;
	mkseries(&sb, pts, 2);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		ind.period = seq[i].kind;
		in_turn(&ind, &sb.s, "it", &r);
		if (!r.has_forecast || fabs(r.forecast - seq[i].want) > 1e-9 || r.forecast_year != 2026)
			fail_msg("step %zu: forecast %g for %d, expected %g ('%s')", i, r.forecast,
				 r.forecast_year, seq[i].want, r.reason);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_light_table),
		cmocka_unit_test(test_light_range_one_critical),
		cmocka_unit_test(test_eval_table),
		cmocka_unit_test(test_latest_value_search),
		cmocka_unit_test(test_daily_2028),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_truncation_sweep),
		cmocka_unit_test(test_hostile_inputs),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_period_labels_in_turn),
		cmocka_unit_test(test_deadlines_in_turn),
		cmocka_unit_test(test_forecasts_in_turn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
