/*
 * report.h — `traguardo report`: the management-review summary (riesame
 * della direzione, ISO 9001 clause 9.3) of every indicator for one month,
 * as an aligned text table, a CSV file for (Italian) Excel, or one
 * self-contained HTML page that prints on A4.
 *
 * Pure: the configuration, a store already filled (from the journal, by the
 * caller) and the month go in, text comes out on a FILE*.  The status and
 * the forecast are those tg_eval_indicator gives at the first instant of
 * the month after the report month, over the values of the periods started
 * by then (later values in the store are ignored), so a past month reads as
 * it stood then, with the values known today.  No source failure is known
 * for a past moment: no indicator is `error` in a report.
 *
 * Alerts sent come from STATE_DIR/sent.log, read by the caller
 * (tg_sentlog_read over the report month: tg_report_month_days) and passed
 * in the options: per indicator the number of alerts in the month and the
 * day of the last one ("2 (ultimo 14/10/2026)"), and a total in the summary.
 * Without counts (NULL) every format says "nessun registro" / "no record".
 *
 * A route's scheduled report (route.report) covers only the indicators the
 * route covers (tg_route_covers) and is due on the first working day of the
 * month (tg_report_first_working_day, tg_report_due).
 */
#ifndef TG_REPORT_H
#define TG_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "error.h"
#include "period.h"
#include "sentlog.h"
#include "store.h"

enum tg_report_format { TG_REPORT_TEXT = 0, TG_REPORT_CSV, TG_REPORT_HTML };

#define TG_REPORT_PERIODS 12

/* "text" "csv" "html" -> format; 0 or -EINVAL. */
int tg_report_format_parse(const char *s, enum tg_report_format *out);

/* Exactly "YYYY-MM", year 1000..9999, month 01..12; 0, or -EINVAL with err
 * quoting the text. */
int tg_report_month_parse(const char *s, int *year, int *month, struct tg_error *err);

/* The last complete month before the day `today` (the month before today's). */
void tg_report_default_month(tg_day today, int *year, int *month);

/* The first instant of the month after year-month: the report's "now". */
tg_time tg_report_month_end(int year, int month);

/* The last TG_REPORT_PERIODS periods of this kind that have started by the
 * end of year-month, oldest first: out[11] is the period containing the
 * month's last day (for a quarterly indicator and October, Q4). */
void tg_report_window(enum tg_period_kind kind, int year, int month,
		      tg_day out[TG_REPORT_PERIODS]);

/* One CSV field (RFC 4180): quoted when it holds sep, '"', CR or LF, quotes
 * doubled; a field starting with = + - @ TAB or CR gets a leading ' so that
 * Excel does not run it as a formula, unless numeric is true and the field
 * is a plain number we wrote ("-2,5").  Invalid UTF-8 becomes U+FFFD. */
void tg_report_csv_field(FILE *f, const char *s, char sep, bool numeric);

/* Text for HTML content and attribute values: & < > " ' as entities,
 * control characters as spaces, invalid UTF-8 as U+FFFD. */
void tg_report_html_text(FILE *f, const char *s);

/* The first and the last day of year-month: the days to read sent.log over. */
void tg_report_month_days(int year, int month, tg_day *first, tg_day *last);

struct tg_report_options {
	const struct tg_config *cfg;          /* required */
	const struct tg_store *st;            /* NULL: no data at all */
	int year, month;
	enum tg_report_format format;
	/* Alerts of the month (tg_sentlog_read from the month's first to its
	 * last day); NULL: "nessun registro" / "no record" everywhere.
	 * Indicators absent from it had 0 alerts. */
	const struct tg_sentlog_counts *sent;
	/* Only the indicators this route covers (tg_route_covers); NULL: all. */
	const struct tg_route *route;
};

/* Writes the report.  The CSV starts with a UTF-8 BOM, uses ';' and decimal
 * ',' when daemon.language is Italian, ',' and '.' for English, and CRLF;
 * its last two columns are the alerts sent in the month (a number, or the
 * "no record" words) and the day of the last one.
 * Returns 0, -EINVAL (bad options), -ENOMEM, or -EIO when writing to f
 * failed (err says so). */
int tg_report_write_opts(FILE *f, const struct tg_report_options *o, struct tg_error *err);

/* tg_report_write_opts for every indicator, without counts (sent = NULL). */
int tg_report_write(FILE *f, const struct tg_config *cfg, const struct tg_store *st,
		    int year, int month, enum tg_report_format format, struct tg_error *err);

/* ------------------------------------------------------------ scheduling */

/* The first day of year-month that is Monday to Friday and not an Italian
 * national holiday (1 and 6 January, Easter Monday, 25 April, 1 May,
 * 2 June, 15 August, 1 November, 8 and 25-26 December); local patron
 * saints are not known.  year 1583..9999 (Gregorian Easter), month 1..12;
 * otherwise INT32_MIN. */
tg_day tg_report_first_working_day(int year, int month);

/* Whether the monthly report is due on the day today: today is on or after
 * the first working day of its month, and the report of the month before
 * (which *year and *month receive, due or not) is newer than last_sent_month,
 * "YYYY-MM", the month of the last report sent.  NULL, or text that is not
 * a month (tg_report_month_parse), means none was ever sent.  A
 * last_sent_month later than that month (the clock went back) is not due. */
bool tg_report_due(tg_day today, const char *last_sent_month, int *year, int *month);

#endif
