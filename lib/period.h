/*
 * period.h — civil dates, reporting periods, date and duration parsing.
 *
 * Dates are civil (no time zone): a tg_day counts days since 1970-01-01 in the
 * proleptic Gregorian calendar.  A moment in time as a person reads it ("now"
 * for evaluation) is a tg_time: civil seconds since 1970-01-01T00:00, i.e.
 * day * 86400 + seconds into that day, local time as written.  Converting the
 * system clock to a tg_time happens at the edge (daemon/), never in here.
 *
 * Periods are identified by their first day.  Weeks are ISO 8601 weeks
 * (Monday first); a week belongs to the ISO week-year of its Thursday.
 */
#ifndef TG_PERIOD_H
#define TG_PERIOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef int32_t tg_day;
typedef int64_t tg_time;

#define TG_DAY_SECONDS 86400

enum tg_period_kind {
	TG_PERIOD_DAY = 0,
	TG_PERIOD_WEEK,
	TG_PERIOD_MONTH,
	TG_PERIOD_QUARTER,
	TG_PERIOD_YEAR,
};

/* y in 1..9999, m 1..12, d 1..days_in_month */
bool tg_ymd_valid(int y, int m, int d);
int tg_days_in_month(int y, int m);
tg_day tg_day_from_ymd(int y, int m, int d);
void tg_day_to_ymd(tg_day day, int *y, int *m, int *d);
/* ISO weekday: 1 = Monday ... 7 = Sunday */
int tg_day_weekday(tg_day day);

/* "day" "week" "month" "quarter" "year" -> kind; returns 0 or -EINVAL */
int tg_period_kind_parse(const char *s, enum tg_period_kind *out);
const char *tg_period_kind_name(enum tg_period_kind kind);

/* First day of the period of the given kind that contains day. */
tg_day tg_period_start(enum tg_period_kind kind, tg_day day);
/* First day of the period after the one starting at start (exclusive end). */
tg_day tg_period_next(enum tg_period_kind kind, tg_day start);
/* First day of the period before the one starting at start. */
tg_day tg_period_prev(enum tg_period_kind kind, tg_day start);
/* The year a period belongs to (ISO week-year for weeks). */
int tg_period_year(enum tg_period_kind kind, tg_day start);
/* 0-based index of the period within its year, and the number of periods
 * in that year (365/366 days, 52/53 ISO weeks, 12 months, 4 quarters, 1). */
int tg_period_index_in_year(enum tg_period_kind kind, tg_day start);
int tg_period_count_in_year(enum tg_period_kind kind, int year);
/* First period of a year (ISO week 1 for weeks). */
tg_day tg_period_first_of_year(enum tg_period_kind kind, int year);

/* Human label of a period, for messages and tables:
 *   lang "it": "12/03/2026", "sett. 11/2026", "marzo 2026", "1° trim. 2026", "2026"
 *   lang "en": "2026-03-12", "week 11/2026", "March 2026", "Q1 2026", "2026"
 * Week numbers have two digits ("sett. 03/2026"); "en", "en_GB", "en-US"...
 * are English, anything else (NULL too) Italian.  Every label parses back
 * with tg_date_parse to the same period.
 * Writes at most size bytes (NUL-terminated); returns buf. */
const char *tg_period_label(enum tg_period_kind kind, tg_day start,
			    const char *lang, char *buf, size_t size);
/* ISO date "YYYY-MM-DD" into buf (size >= 11). */
const char *tg_day_iso(tg_day day, char *buf, size_t size);

/* A parsed date and how precise it was written: "2026-03-12" has precision
 * DAY, "marzo 2026" MONTH, "2026-Q1" QUARTER, "2026" YEAR.  day is the first
 * day of what was written. */
struct tg_date {
	tg_day day;
	enum tg_period_kind precision;
};

/*
 * Parses a date as found in CSV cells, SQL text columns and JSON feeds.
 * Accepted without a format (leading/trailing spaces ignored, case-insensitive):
 *   dd/mm/yyyy  d/m/yyyy  dd-mm-yyyy  dd.mm.yyyy  (always day first: Italian)
 *   the same followed by " hh:mm" or " hh:mm:ss" (time ignored)
 *   yyyy-mm-dd, ISO 8601 timestamps "yyyy-mm-ddThh:mm[:ss[.fff]][Z|+hh:mm]"
 *     and "yyyy-mm-dd hh:mm[:ss]" (the date as written; offset ignored)
 *   yyyy-mm, yyyy/mm, mm/yyyy, m/yyyy
 *   month names and abbreviations in Italian and English, with the year:
 *     "Gennaio 2026", "gen 2026", "gen. 2026", "Lug 2022", "gen-26", "January 2026",
 *     "Jan-2026" (two-digit years are 20yy)
 *   yyyy-Qn, yyyy Qn, Qn yyyy, Qn-yyyy, "1° trimestre 2026", "I trim 2026"
 *   yyyy-Www (ISO week), yyyy (a year, 1000..9999)
 * With fmt != NULL, only fmt is tried: a strptime-like subset, locale-free:
 *   %d %e day, %m month number, %Y 4-digit year, %y 2-digit year (20yy),
 *   %b %B month name or abbreviation (Italian or English), %H %M %S (ignored),
 *   %% a percent sign, any other character matches itself; a space in fmt
 *   matches one or more spaces.  Precision is the finest field present.
 * Returns 0, or -EINVAL with err saying what is wrong with the text
 * (the caller adds file:line).  Never reads past s[len].
 */
int tg_date_parse(const char *s, size_t len, const char *fmt, struct tg_date *out,
		  struct tg_error *err);

/* Validates a date_format string for tg_date_parse (config check time). */
int tg_date_format_check(const char *fmt, struct tg_error *err);

/*
 * Durations: "90s" "15m" "12h" "7d" "2w", a positive integer and one unit
 * (s m h d w); also combinations "1h30m" (units from the largest to the
 * smallest, each once; spaces between them allowed).  Result in seconds.
 * "Over 10 years" means over 3653 days.
 * Returns 0, or -EINVAL / -ERANGE (over 10 years) with err.
 */
int tg_duration_parse(const char *s, int64_t *seconds, struct tg_error *err);
/* "7d", "12h", "1h30m" ... (shortest exact form; weeks only when shorter:
 * "2w" but "7d"); returns buf. */
const char *tg_duration_format(int64_t seconds, char *buf, size_t size);

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS]" (also with a space) -> tg_time. */
int tg_time_parse(const char *s, tg_time *out, struct tg_error *err);
static inline tg_day tg_time_day(tg_time t)
{
	return (tg_day)(t >= 0 ? t / TG_DAY_SECONDS : -((-t + TG_DAY_SECONDS - 1) / TG_DAY_SECONDS));
}

#endif
