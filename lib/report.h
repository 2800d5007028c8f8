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
 * Alerts sent are not tracked in this version (there is no sending module):
 * every format says so rather than showing numbers.
 */
#ifndef TG_REPORT_H
#define TG_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "error.h"
#include "period.h"
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

/* Writes the report.  The CSV starts with a UTF-8 BOM, uses ';' and decimal
 * ',' when daemon.language is Italian, ',' and '.' for English, and CRLF.
 * Returns 0, -ENOMEM, or -EIO when writing to f failed (err says so). */
int tg_report_write(FILE *f, const struct tg_config *cfg, const struct tg_store *st,
		    int year, int month, enum tg_report_format format, struct tg_error *err);

#endif
