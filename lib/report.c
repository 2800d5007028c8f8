/*
 * report.c — `traguardo report`, the management-review summary (riesame
 * della direzione, ISO 9001 clause 9.3): for one month, every indicator with
 * its target, its status and forecast as they stood at the end of the month,
 * its last twelve periods and the year to date, as text, CSV or HTML.
 *
 * It owns the formatting only: the store comes filled from the journal and
 * the evaluation is tg_eval_indicator's, so a report never disagrees with
 * the status table about what a value means.  The CSV and the HTML are files
 * people open in Excel and in a browser, so every text that came from the
 * configuration or the data is treated as hostile: CSV cells are defused
 * against formula injection, HTML text is escaped, invalid UTF-8 is replaced.
 *
 * The alerts sent come counted from sent.log (sentlog.c); the calendar of
 * Italian working days for the scheduled report lives here too, because
 * only the report needs it.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "number.h"
#include "output.h"
#include "report.h"
#include "route.h"
#include "utf8.h"

static const char REPLACEMENT[] = "\xEF\xBF\xBD";   /* U+FFFD */

static bool is_en(const char *lang)
{
	return lang != NULL && lang[0] == 'e' && lang[1] == 'n' &&
	       (lang[2] == '\0' || lang[2] == '_' || lang[2] == '-');
}

int tg_report_format_parse(const char *s, enum tg_report_format *out)
{
	if (s == NULL)
		return -EINVAL;
	if (strcmp(s, "text") == 0)
		*out = TG_REPORT_TEXT;
	else if (strcmp(s, "csv") == 0)
		*out = TG_REPORT_CSV;
	else if (strcmp(s, "html") == 0)
		*out = TG_REPORT_HTML;
	else
		return -EINVAL;
	return 0;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int tg_report_month_parse(const char *s, int *year, int *month, struct tg_error *err)
{
	char q[128];
	size_t len = s == NULL ? 0 : strnlen(s, 64);
	int y, m;

	if (len != 7 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2))
		return tg_error_set(err, "'%s' is not a month: expected YYYY-MM (e.g. 2026-10)",
				    tg_error_quote_in(s, len, 40, "'\\", q, sizeof(q)));
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	if (m < 1 || m > 12)
		return tg_error_set(err, "'%s' is not a month: the month must be 01..12",
				    tg_error_quote_in(s, len, 40, "'\\", q, sizeof(q)));
	if (y < 1000)
		return tg_error_set(err, "'%s' is not a month: the year must be 1000..9999",
				    tg_error_quote_in(s, len, 40, "'\\", q, sizeof(q)));
	*year = y;
	*month = m;
	return 0;
}

void tg_report_default_month(tg_day today, int *year, int *month)
{
	int y, m, d;

	tg_day_to_ymd(today, &y, &m, &d);
	if (m == 1) {
		y--;
		m = 12;
	} else {
		m--;
	}
	*year = y;
	*month = m;
}

static tg_day month_last_day(int year, int month)
{
	return tg_day_from_ymd(year, month, tg_days_in_month(year, month));
}

tg_time tg_report_month_end(int year, int month)
{
	return ((tg_time)month_last_day(year, month) + 1) * TG_DAY_SECONDS;
}

void tg_report_month_days(int year, int month, tg_day *first, tg_day *last)
{
	*first = tg_day_from_ymd(year, month, 1);
	*last = month_last_day(year, month);
}

/* ------------------------------------------------------------ working days */

/* Easter Sunday of the Gregorian calendar (the anonymous algorithm of
 * Meeus, Jones and Butcher). */
static tg_day easter_sunday(int y)
{
	int a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4;
	int f = (b + 8) / 25, g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30;
	int i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7;
	int m = (a + 11 * h + 22 * l) / 451, x = h + l - 7 * m + 114;

	return tg_day_from_ymd(y, x / 31, x % 31 + 1);
}

static bool holiday(tg_day day)
{
	static const struct { int m, d; } fixed[] = {
		{ 1, 1 }, { 1, 6 }, { 4, 25 }, { 5, 1 }, { 6, 2 }, { 8, 15 }, { 11, 1 },
		{ 12, 8 }, { 12, 25 }, { 12, 26 },
	};
	int y, m, d;

	tg_day_to_ymd(day, &y, &m, &d);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (fixed[i].m == m && fixed[i].d == d)
			return true;
	/* Easter Monday falls between 23 March and 26 April */
	return (m == 3 || m == 4) && day == easter_sunday(y) + 1;
}

tg_day tg_report_first_working_day(int year, int month)
{
	tg_day day;

	if (!tg_ymd_valid(year, month, 1))
		return INT32_MIN;
	/* at most 1 Jan (holiday) + a weekend, or a weekend + a holiday: a few days */
	for (day = tg_day_from_ymd(year, month, 1); tg_day_weekday(day) > 5 || holiday(day); day++)
		;
	return day;
}

bool tg_report_due(tg_day today, const char *last_sent_month, int *year, int *month)
{
	int y, m, d, ry, rm, ly, lm;
	tg_day first;

	tg_day_to_ymd(today, &y, &m, &d);
	tg_report_default_month(today, &ry, &rm);
	if (year != NULL)
		*year = ry;
	if (month != NULL)
		*month = rm;
	first = tg_report_first_working_day(y, m);
	if (first == INT32_MIN || today < first)
		return false;
	if (last_sent_month != NULL && tg_report_month_parse(last_sent_month, &ly, &lm, NULL) == 0 &&
	    ly * 12 + lm >= ry * 12 + rm)
		return false;
	return true;
}

void tg_report_window(enum tg_period_kind kind, int year, int month,
		      tg_day out[TG_REPORT_PERIODS])
{
	tg_day p = tg_period_start(kind, month_last_day(year, month));

	for (int i = TG_REPORT_PERIODS - 1; i >= 0; i--) {
		out[i] = p;
		if (i > 0)
			p = tg_period_prev(kind, p);
	}
}

/* ------------------------------------------------------------ escaping */

/* The next character of s: its length, or 0 for an invalid byte (which the
 * caller replaces by U+FFFD and skips). */
static size_t next_char(const char *s)
{
	return tg_utf8_len((const unsigned char *)s, SIZE_MAX);
}

/* A C0 or C1 control, or DEL, at s (n its length). */
static bool is_control(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	if (n == 1)
		return u[0] < 0x20 || u[0] == 0x7F;
	return n == 2 && u[0] == 0xC2 && u[1] < 0xA0;
}

static bool plain_number(const char *s)
{
	size_t i = 0;
	bool any = false;

	if (s[i] == '-')
		i++;
	for (; s[i] >= '0' && s[i] <= '9'; i++)
		any = true;
	if (s[i] == ',' || s[i] == '.')
		for (i++; s[i] >= '0' && s[i] <= '9'; i++)
			any = true;
	if (any && s[i] == 'e') {
		i++;
		if (s[i] == '-')
			i++;
		if (!(s[i] >= '0' && s[i] <= '9'))
			return false;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return any && s[i] == '\0';
}

void tg_report_csv_field(FILE *f, const char *s, char sep, bool numeric)
{
	bool quote = false, defuse;

	if (s == NULL)
		s = "";
	for (const char *p = s; *p != '\0'; p++)
		if (*p == sep || *p == '"' || *p == '\r' || *p == '\n')
			quote = true;
	defuse = (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
		  s[0] == '\r') && !(numeric && plain_number(s));
	if (quote)
		fputc('"', f);
	if (defuse)
		fputc('\'', f);
	while (*s != '\0') {
		size_t n = next_char(s);

		if (n == 0) {
			fputs(REPLACEMENT, f);
			s++;
			continue;
		}
		if (*s == '"')
			fputc('"', f);
		fwrite(s, 1, n, f);
		s += n;
	}
	if (quote)
		fputc('"', f);
}

void tg_report_html_text(FILE *f, const char *s)
{
	if (s == NULL)
		return;
	while (*s != '\0') {
		size_t n = next_char(s);

		if (n == 0) {
			fputs(REPLACEMENT, f);
			s++;
			continue;
		}
		if (is_control(s, n))
			fputc(' ', f);
		else if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '"')
			fputs("&quot;", f);
		else if (*s == '\'')
			fputs("&#39;", f);
		else
			fwrite(s, 1, n, f);
		s += n;
	}
}

/* s for a terminal line: controls as spaces, invalid bytes as U+FFFD, cut
 * at a character boundary to fit buf. */
static const char *clean(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	if (s == NULL)
		s = "";
	while (*s != '\0') {
		size_t n = next_char(s);
		const char *src = s;
		size_t len = n;

		if (n == 0) {
			src = REPLACEMENT;
			len = 3;
			n = 1;
		} else if (is_control(s, n)) {
			src = " ";
			len = 1;
		}
		if (o + len + 1 > size)
			break;
		memcpy(buf + o, src, len);
		o += len;
		s += n;
	}
	buf[o] = '\0';
	return buf;
}

/* ------------------------------------------------------------ text cells */


/* ------------------------------------------------------------ the rows */

struct row {
	const struct tg_indicator *ind;
	struct tg_eval_result r;
	tg_day win[TG_REPORT_PERIODS];
	bool has[TG_REPORT_PERIODS];
	double val[TG_REPORT_PERIODS];
	bool has_ytd;
	double ytd;
};

struct ctx {
	FILE *f;
	const struct tg_config *cfg;
	const struct tg_sentlog_counts *sent;   /* NULL: no record */
	const char *lang;
	bool en;
	int year, month;
	struct row *rows;       /* the indicators reported (a route's only) */
	size_t *order;          /* rows grouped by department, first seen first */
	size_t n;
};

static bool find(const struct tg_series *s, size_t n, tg_day p, double *v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->period[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && s->period[lo] == p) {
		*v = s->value[lo];
		return true;
	}
	return false;
}

static void build_row(struct row *row, const struct tg_indicator *ind, const struct tg_store *st,
		      int year, int month, const char *lang)
{
	const struct tg_series *s = st != NULL ? tg_store_series(st, ind->id) : NULL;
	tg_time now = tg_report_month_end(year, month);
	tg_day end = tg_time_day(now);
	struct tg_eval_context ec = { .now = now, .lang = lang };
	struct tg_series view = { 0 };
	size_t n = 0, cnt = 0;
	double sum = 0, last = 0;

	memset(row, 0, sizeof(*row));
	row->ind = ind;
	if (s != NULL) {
		/* only the periods started by then: the report reads as it stood */
		while (n < s->n && s->period[n] < end)
			n++;
		view = *s;
		view.n = n;
	}
	tg_eval_indicator(ind, n > 0 ? &view : NULL, &ec, &row->r);
	tg_report_window(ind->period, year, month, row->win);
	for (int i = 0; i < TG_REPORT_PERIODS; i++)
		row->has[i] = n > 0 && find(&view, n, row->win[i], &row->val[i]);
	for (size_t i = 0; i < n; i++) {
		if (tg_period_year(ind->period, view.period[i]) != year)
			continue;
		sum += view.value[i];
		last = view.value[i];
		cnt++;
	}
	if (cnt > 0) {
		enum tg_aggregate agg = ind->year_target.set ? ind->year_target.aggregate : TG_AGG_MEAN;

		row->has_ytd = true;
		row->ytd = agg == TG_AGG_SUM ? sum : agg == TG_AGG_LAST ? last : sum / (double)cnt;
	}
}

static int build(struct ctx *c, const struct tg_config *cfg, const struct tg_store *st,
		 const struct tg_route *route, struct tg_error *err)
{
	size_t n = cfg->n_indicators, k = 0;
	bool *done;

	c->n = 0;
	c->rows = calloc(n ? n : 1, sizeof(*c->rows));
	c->order = calloc(n ? n : 1, sizeof(*c->order));
	done = calloc(n ? n : 1, sizeof(*done));
	if (c->rows == NULL || c->order == NULL || done == NULL) {
		free(done);
		return tg_error_setc(err, -ENOMEM, "report: out of memory");
	}
	for (size_t i = 0; i < n; i++)
		if (route == NULL || tg_route_covers(route, &cfg->indicators[i]))
			build_row(&c->rows[c->n++], &cfg->indicators[i], st, c->year, c->month, c->lang);
	for (size_t i = 0; i < c->n; i++) {
		if (done[i])
			continue;
		for (size_t j = i; j < c->n; j++)
			if (!done[j] && strcmp(c->rows[j].ind->department,
					       c->rows[i].ind->department) == 0) {
				done[j] = true;
				c->order[k++] = j;
			}
	}
	free(done);
	return 0;
}

/* ------------------------------------------------------------ words */

static const char *num(double v, int decimals, const char *lang, char *buf, size_t size)
{
	return tg_number_format(v, decimals, lang, buf, size);
}

/* Short period labels for a row of twelve: "10/2026" ("2026-10"); the other
 * kinds as tg_period_label writes them. */
static const char *short_label(enum tg_period_kind kind, tg_day p, const char *lang,
			       char *buf, size_t size)
{
	int y, m, d;

	if (kind != TG_PERIOD_MONTH)
		return tg_period_label(kind, p, lang, buf, size);
	tg_day_to_ymd(p, &y, &m, &d);
	if (is_en(lang))
		snprintf(buf, size, "%04d-%02d", y, m);
	else
		snprintf(buf, size, "%02d/%04d", m, y);
	return buf;
}

static const char *kind_word(enum tg_period_kind k, bool en)
{
	static const char *const it[] = { "giorno", "settimana", "mese", "trimestre", "anno" };
	static const char *const enw[] = { "day", "week", "month", "quarter", "year" };

	if ((unsigned)k > TG_PERIOD_YEAR)
		return "?";
	return en ? enw[k] : it[k];
}

static const char *agg_word(const struct tg_indicator *ind, bool en)
{
	enum tg_aggregate a = ind->year_target.set ? ind->year_target.aggregate : TG_AGG_MEAN;

	if (a == TG_AGG_SUM)
		return en ? "sum" : "somma";
	if (a == TG_AGG_LAST)
		return en ? "last" : "ultimo";
	return en ? "mean" : "media";
}

static const char *month_title(int year, int month, const char *lang, char *buf, size_t size)
{
	return tg_period_label(TG_PERIOD_MONTH, tg_day_from_ymd(year, month, 1), lang, buf, size);
}

static const char *day_text(tg_day day, bool en, char *buf, size_t size)
{
	int y, m, d;

	tg_day_to_ymd(day, &y, &m, &d);
	if (en)
		snprintf(buf, size, "%04d-%02d-%02d", y, m, d);
	else
		snprintf(buf, size, "%02d/%02d/%04d", d, m, y);
	return buf;
}

static const char *no_record(bool en)
{
	return en ? "no record" : "nessun registro";
}

/* Alerts sent about ind in the month, and the day of the last one. */
static unsigned row_alerts(const struct ctx *c, const struct tg_indicator *ind, tg_day *last)
{
	const struct tg_sentlog_count *k = tg_sentlog_counts_find(c->sent, ind->id);

	if (k == NULL || k->alerts == 0)
		return 0;
	*last = k->last;
	return k->alerts;
}

/* "2 (ultimo 14/10/2026)", "0", or the no-record words. */
static const char *alerts_cell(const struct ctx *c, const struct tg_indicator *ind,
			       char *buf, size_t size)
{
	tg_day last = 0;
	unsigned n;
	char dt[32];

	if (c->sent == NULL)
		return no_record(c->en);
	if ((n = row_alerts(c, ind, &last)) == 0)
		return "0";
	snprintf(buf, size, c->en ? "%u (last %s)" : "%u (ultimo %s)", n,
		 day_text(last, c->en, dt, sizeof(dt)));
	return buf;
}

/* The summary of the alerts of the indicators reported:
 * "7 per 3 indicatori (ultimo 14/10/2026); rientri comunicati: 2". */
static const char *alerts_total(const struct ctx *c, char *buf, size_t size)
{
	unsigned long long total = 0, resolved = 0;
	size_t with = 0, o;
	tg_day latest = 0;
	char dt[32];

	if (c->sent == NULL)
		return no_record(c->en);
	for (size_t i = 0; i < c->n; i++) {
		const struct tg_sentlog_count *k = tg_sentlog_counts_find(c->sent, c->rows[i].ind->id);

		if (k == NULL)
			continue;
		resolved += k->resolved;
		if (k->alerts == 0)
			continue;
		if (with == 0 || k->last > latest)
			latest = k->last;
		total += k->alerts;
		with++;
	}
	if (total == 0)
		o = (size_t)snprintf(buf, size, "0");
	else if (c->en)
		o = (size_t)snprintf(buf, size, "%llu for %zu indicator%s (last %s)", total, with,
				     with == 1 ? "" : "s", day_text(latest, true, dt, sizeof(dt)));
	else
		o = (size_t)snprintf(buf, size, "%llu per %zu indicator%s (ultimo %s)", total, with,
				     with == 1 ? "e" : "i", day_text(latest, false, dt, sizeof(dt)));
	if (resolved > 0 && o < size)
		o += (size_t)snprintf(buf + o, size - o, c->en ? "; back on target: %llu"
							      : "; rientri comunicati: %llu", resolved);
	if (c->sent->bad > 0 && o < size) {
		bool one = c->sent->bad == 1;

		if (c->en)
			snprintf(buf + o, size - o, "; %zu unreadable line%s in the record", c->sent->bad,
				 one ? "" : "s");
		else
			snprintf(buf + o, size - o, "; %zu rig%s illeggibil%s nel registro", c->sent->bad,
				 one ? "a" : "he", one ? "e" : "i");
	}
	return buf;
}

static void summary(FILE *f, const struct ctx *c)
{
	static const enum tg_status order[] = {
		TG_STATUS_OK, TG_STATUS_WARNING, TG_STATUS_CRITICAL, TG_STATUS_LATE,
		TG_STATUS_UNKNOWN, TG_STATUS_ERROR,
	};
	size_t count[TG_STATUS_COUNT] = { 0 };
	bool first = true;

	for (size_t i = 0; i < c->n; i++)
		if ((unsigned)c->rows[i].r.status < TG_STATUS_COUNT)
			count[c->rows[i].r.status]++;
	if (c->en)
		fprintf(f, "%zu indicator%s", c->n, c->n == 1 ? "" : "s");
	else
		fprintf(f, "%zu indicator%s", c->n, c->n == 1 ? "e" : "i");
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		if (count[order[k]] == 0)
			continue;
		fprintf(f, "%s%s: %zu", first ? " — " : ", ", tg_status_label(order[k], c->lang),
			count[order[k]]);
		first = false;
	}
}

/* ------------------------------------------------------------ text */

static void write_text(const struct ctx *c)
{
	FILE *f = c->f;
	const char *dept = NULL;
	char mt[64], dt[32], b1[512], b2[128];

	if (c->cfg->daemon.organization != NULL)
		fprintf(f, "%s — ", clean(c->cfg->daemon.organization, b1, sizeof(b1)));
	fprintf(f, c->en ? "management review, %s\n" : "riesame della direzione, %s\n",
		month_title(c->year, c->month, c->lang, mt, sizeof(mt)));
	fprintf(f, c->en ? "status and forecast as at the end of %s; values as now in the journal\n"
			 : "stato e previsione a fine mese (%s); valori come ora nel journal\n",
		day_text(month_last_day(c->year, c->month), c->en, dt, sizeof(dt)));
	for (size_t k = 0; k < c->n; k++) {
		const struct row *row = &c->rows[c->order[k]];
		const struct tg_indicator *ind = row->ind;
		const struct tg_eval_result *r = &row->r;

		if (dept == NULL || strcmp(dept, ind->department) != 0) {
			dept = ind->department;
			fprintf(f, "\n%s\n  ", clean(dept, b1, sizeof(b1)));
			tg_output_cell(f, c->en ? "STATUS" : "STATO", 14);
			tg_output_cell(f, "ID", 10);
			tg_output_cell(f, c->en ? "INDICATOR" : "INDICATORE", 40);
			tg_output_cell(f, c->en ? "UNIT" : "UNITÀ", 10);
			tg_output_cell(f, c->en ? "TARGET" : "OBIETTIVO", 12);
			tg_output_cell(f, c->en ? "YEAR TO DATE" : "PROGR. ANNO", 18);
			fputs(c->en ? "YEAR FORECAST\n" : "PREVISIONE ANNO\n", f);
		}
		fputs("  ", f);
		tg_output_cell(f, tg_status_label(r->status, c->lang), 14);
		tg_output_cell(f, clean(ind->id, b1, sizeof(b1)), 10);
		tg_output_cell(f, clean(ind->name, b1, sizeof(b1)), 40);
		tg_output_cell(f, ind->unit != NULL ? clean(ind->unit, b1, sizeof(b1)) : "—", 10);
		tg_output_cell(f, tg_output_target(ind, c->lang, b2, sizeof(b2)), 12);
		if (row->has_ytd) {
			char v[96];

			snprintf(b2, sizeof(b2), "%s (%s)", num(row->ytd, ind->decimals, c->lang, v, sizeof(v)),
				 agg_word(ind, c->en));
			tg_output_cell(f, clean(b2, b1, sizeof(b1)), 18);
		} else {
			tg_output_cell(f, "—", 18);
		}
		if (r->has_forecast)
			fprintf(f, "%s%s\n", clean(tg_output_value(ind, r->forecast, c->lang, b2, sizeof(b2)), b1, sizeof(b1)),
				r->forecast_misses ? (c->en ? " (misses)" : " (mancato)") : "");
		else
			fputs("—\n", f);
		/* the twelve periods, six to a line so that the table stays readable */
		for (int i = 0; i < TG_REPORT_PERIODS; i++) {
			char lab[64], v[64];

			if (i % 6 == 0)
				fprintf(f, "%s  %14s", i > 0 ? "\n" : "", "");
			else
				fputs("  ", f);
			fprintf(f, "%s %s", short_label(ind->period, row->win[i], c->lang, lab, sizeof(lab)),
				row->has[i] ? num(row->val[i], ind->decimals, c->lang, v, sizeof(v)) : "—");
		}
		fprintf(f, "\n  %14s%s\n", "", clean(r->reason, b1, sizeof(b1)));
		fprintf(f, "  %14s%s: %s\n", "", c->en ? "Alerts sent" : "Avvisi inviati",
			alerts_cell(c, ind, b2, sizeof(b2)));
	}
	fputc('\n', f);
	summary(f, c);
	fprintf(f, "\n%s: %s\n", c->en ? "Alerts sent" : "Avvisi inviati",
		alerts_total(c, b1, sizeof(b1)));
}

/* ------------------------------------------------------------ csv */

static void csv_end(FILE *f)
{
	fputs("\r\n", f);
}

/* A number for a spreadsheet: no grouping, the language's decimal mark. */
static const char *csv_number(double v, int decimals, const struct ctx *c, char *buf, size_t size)
{
	char group = c->en ? ',' : '.';
	size_t o = 0;

	tg_number_format(v, decimals < 0 ? 6 : decimals, c->lang, buf, size);
	for (size_t i = 0; buf[i] != '\0'; i++)
		if (buf[i] != group)
			buf[o++] = buf[i];
	buf[o] = '\0';
	return buf;
}

static void write_csv(const struct ctx *c)
{
	FILE *f = c->f;
	char sep = c->en ? ',' : ';';
	static const char *const it_head[] = {
		"reparto", "id", "indicatore", "processo", "unità", "periodicità", "obiettivo",
		"stato", "dal", "al",
	};
	static const char *const en_head[] = {
		"department", "id", "indicator", "process", "unit", "period", "target",
		"status", "from", "to",
	};
	const char *const *head = c->en ? en_head : it_head;

	fputs("\xEF\xBB\xBF", f);
	for (size_t i = 0; i < sizeof(it_head) / sizeof(it_head[0]); i++) {
		tg_report_csv_field(f, head[i], sep, false);
		fputc(sep, f);
	}
	for (int i = 1; i <= TG_REPORT_PERIODS; i++)
		fprintf(f, c->en ? "period %d%c" : "periodo %d%c", i, sep);
	fputs(c->en ? "year to date,aggregate,year forecast,forecast misses,reason,alerts sent,last alert"
		    : "progressivo anno;aggregazione;previsione anno;previsione mancata;motivo;avvisi inviati;"
		      "ultimo avviso",
	      f);
	csv_end(f);
	for (size_t k = 0; k < c->n; k++) {
		const struct row *row = &c->rows[c->order[k]];
		const struct tg_indicator *ind = row->ind;
		const struct tg_eval_result *r = &row->r;
		char b[128], lab[64];

		tg_report_csv_field(f, ind->department, sep, false);
		fputc(sep, f);
		tg_report_csv_field(f, ind->id, sep, false);
		fputc(sep, f);
		tg_report_csv_field(f, ind->name, sep, false);
		fputc(sep, f);
		tg_report_csv_field(f, ind->process, sep, false);
		fputc(sep, f);
		tg_report_csv_field(f, ind->unit, sep, false);
		fputc(sep, f);
		tg_report_csv_field(f, kind_word(ind->period, c->en), sep, false);
		fputc(sep, f);
		tg_report_csv_field(f, tg_output_target(ind, c->lang, b, sizeof(b)), sep, false);
		fputc(sep, f);
		tg_report_csv_field(f, tg_status_label(r->status, c->lang), sep, false);
		fputc(sep, f);
		tg_report_csv_field(f, tg_period_label(ind->period, row->win[0], c->lang, lab, sizeof(lab)),
				    sep, false);
		fputc(sep, f);
		tg_report_csv_field(f, tg_period_label(ind->period, row->win[TG_REPORT_PERIODS - 1], c->lang,
						       lab, sizeof(lab)), sep, false);
		fputc(sep, f);
		for (int i = 0; i < TG_REPORT_PERIODS; i++) {
			if (row->has[i])
				tg_report_csv_field(f, csv_number(row->val[i], ind->decimals, c, b, sizeof(b)),
						    sep, true);
			fputc(sep, f);
		}
		if (row->has_ytd)
			tg_report_csv_field(f, csv_number(row->ytd, ind->decimals, c, b, sizeof(b)), sep, true);
		fputc(sep, f);
		tg_report_csv_field(f, agg_word(ind, c->en), sep, false);
		fputc(sep, f);
		if (r->has_forecast)
			tg_report_csv_field(f, csv_number(r->forecast, ind->decimals, c, b, sizeof(b)), sep, true);
		fputc(sep, f);
		if (r->has_forecast)
			tg_report_csv_field(f, r->forecast_misses ? (c->en ? "yes" : "sì") : "no", sep, false);
		fputc(sep, f);
		tg_report_csv_field(f, r->reason, sep, false);
		fputc(sep, f);
		if (c->sent == NULL) {
			tg_report_csv_field(f, no_record(c->en), sep, false);
			fputc(sep, f);
		} else {
			tg_day last = 0;
			unsigned n = row_alerts(c, ind, &last);

			snprintf(b, sizeof(b), "%u", n);
			tg_report_csv_field(f, b, sep, true);
			fputc(sep, f);
			if (n > 0)
				tg_report_csv_field(f, day_text(last, c->en, b, sizeof(b)), sep, false);
		}
		csv_end(f);
	}
}

/* ------------------------------------------------------------ html */

static const char html_style[] =
	"body{font-family:\"DejaVu Sans\",Arial,sans-serif;font-size:10pt;color:#222;margin:1.5em}\n"
	"h1{font-size:15pt;margin:0 0 .2em}h2{font-size:12pt;margin:1.2em 0 .3em}\n"
	"p.sub{margin:0 0 1em;color:#555}\n"
	"table{border-collapse:collapse;width:100%;margin-bottom:.5em}\n"
	"th,td{border:1px solid #bbb;padding:2px 4px;vertical-align:top;text-align:left}\n"
	"th{background:#eee;font-weight:bold}\n"
	"td.n{text-align:right;white-space:nowrap}td.n small{display:block;color:#666;font-size:7pt}\n"
	"td.why{font-size:8.5pt;color:#444;border-top:none}\n"
	".s-ok{background:#d4edda}.s-warning{background:#fff3cd}.s-critical{background:#f8d7da}\n"
	".s-late{background:#e2d9f3}.s-error{background:#f5c6cb}.s-unknown{background:#e9ecef}\n"
	"td.st{font-weight:bold;white-space:nowrap}\n"
	"tbody,tr{page-break-inside:avoid;break-inside:avoid}\n"
	"@page{size:A4 landscape;margin:12mm 10mm}\n"
	"@media print{body{margin:0;font-size:8pt}"
	"*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
	"h2{page-break-after:avoid;break-after:avoid}thead{display:table-header-group}}\n";

static void html_row(const struct ctx *c, const struct row *row)
{
	FILE *f = c->f;
	const struct tg_indicator *ind = row->ind;
	const struct tg_eval_result *r = &row->r;
	char b[128], lab[64];

	fprintf(f, "<tbody><tr><td class=\"st s-%s\">", tg_status_name(r->status));
	tg_report_html_text(f, tg_status_label(r->status, c->lang));
	fputs("</td><td>", f);
	tg_report_html_text(f, ind->id);
	fputs("</td><td>", f);
	tg_report_html_text(f, ind->name);
	fputs("</td><td>", f);
	tg_report_html_text(f, ind->unit != NULL ? ind->unit : "—");
	fputs("</td><td>", f);
	tg_report_html_text(f, tg_output_target(ind, c->lang, b, sizeof(b)));
	fputs("</td>", f);
	for (int i = 0; i < TG_REPORT_PERIODS; i++) {
		if (row->has[i]) {
			fprintf(f, "<td class=\"n s-%s\">", tg_status_name(tg_eval_light(ind, row->val[i])));
			tg_report_html_text(f, num(row->val[i], ind->decimals, c->lang, b, sizeof(b)));
		} else {
			fputs("<td class=\"n\">—", f);
		}
		fputs("<small>", f);
		tg_report_html_text(f, short_label(ind->period, row->win[i], c->lang, lab, sizeof(lab)));
		fputs("</small></td>", f);
	}
	fputs("<td class=\"n\">", f);
	if (row->has_ytd) {
		tg_report_html_text(f, num(row->ytd, ind->decimals, c->lang, b, sizeof(b)));
		fputs("<small>", f);
		tg_report_html_text(f, agg_word(ind, c->en));
		fputs("</small>", f);
	} else {
		fputs("—", f);
	}
	if (r->has_forecast) {
		fprintf(f, "</td><td class=\"n s-%s\">", r->forecast_misses ? "warning" : "ok");
		tg_report_html_text(f, tg_output_value(ind, r->forecast, c->lang, b, sizeof(b)));
		if (r->forecast_misses) {
			fputs("<small>", f);
			tg_report_html_text(f, c->en ? "misses" : "mancato");
			fputs("</small>", f);
		}
	} else {
		fputs("</td><td class=\"n\">—", f);
	}
	fputs("</td><td class=\"n\">", f);
	if (c->sent == NULL) {
		fputs("<small>", f);
		tg_report_html_text(f, no_record(c->en));
		fputs("</small>", f);
	} else {
		tg_day last = 0;
		unsigned n = row_alerts(c, ind, &last);

		fprintf(f, "%u", n);
		if (n > 0) {
			fputs("<small>", f);
			tg_report_html_text(f, c->en ? "last " : "ultimo ");
			tg_report_html_text(f, day_text(last, c->en, b, sizeof(b)));
			fputs("</small>", f);
		}
	}
	fprintf(f, "</td></tr>\n<tr><td></td><td class=\"why\" colspan=\"%d\">", 4 + TG_REPORT_PERIODS + 3);
	tg_report_html_text(f, r->reason);
	fputs("</td></tr></tbody>\n", f);
}

static void write_html(const struct ctx *c)
{
	FILE *f = c->f;
	const char *dept = NULL;
	char mt[64], dt[32];

	month_title(c->year, c->month, c->lang, mt, sizeof(mt));
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
		c->en ? "en" : "it");
	if (c->cfg->daemon.organization != NULL) {
		tg_report_html_text(f, c->cfg->daemon.organization);
		fputs(" — ", f);
	}
	fputs(c->en ? "management review, " : "riesame della direzione, ", f);
	tg_report_html_text(f, mt);
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>", html_style);
	if (c->cfg->daemon.organization != NULL) {
		tg_report_html_text(f, c->cfg->daemon.organization);
		fputs(" — ", f);
	}
	fputs(c->en ? "management review, " : "riesame della direzione, ", f);
	tg_report_html_text(f, mt);
	fputs("</h1>\n<p class=\"sub\">", f);
	tg_report_html_text(f, c->en ? "ISO 9001 clause 9.3. Status and forecast as at the end of "
				     : "ISO 9001 punto 9.3. Stato e previsione a fine mese (");
	tg_report_html_text(f, day_text(month_last_day(c->year, c->month), c->en, dt, sizeof(dt)));
	tg_report_html_text(f, c->en ? "; values as now in the journal."
				     : "); valori come ora nel journal.");
	fputs("</p>\n", f);
	for (size_t k = 0; k < c->n; k++) {
		const struct row *row = &c->rows[c->order[k]];

		if (dept == NULL || strcmp(dept, row->ind->department) != 0) {
			if (dept != NULL)
				fputs("</table>\n", f);
			dept = row->ind->department;
			fputs("<h2>", f);
			tg_report_html_text(f, dept);
			fprintf(f, "</h2>\n<table>\n<thead><tr><th>%s</th><th>ID</th><th>%s</th><th>%s</th>"
				   "<th>%s</th><th colspan=\"%d\">%s</th><th>%s</th><th>%s</th><th>%s</th>"
				   "</tr></thead>\n",
				c->en ? "Status" : "Stato", c->en ? "Indicator" : "Indicatore",
				c->en ? "Unit" : "Unità", c->en ? "Target" : "Obiettivo", TG_REPORT_PERIODS,
				c->en ? "Last 12 periods" : "Ultimi 12 periodi",
				c->en ? "Year to date" : "Progressivo anno",
				c->en ? "Year forecast" : "Previsione anno",
				c->en ? "Alerts sent" : "Avvisi inviati");
		}
		html_row(c, row);
	}
	if (dept != NULL)
		fputs("</table>\n", f);
	fputs("<h2>", f);
	tg_report_html_text(f, c->en ? "Summary" : "Riepilogo");
	fputs("</h2>\n<p>", f);
	{
		/* the summary is our own words and labels: no escaping needed
		 * beyond what tg_status_label could ever hold, but escape anyway */
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);

		if (m != NULL) {
			summary(m, c);
			if (fclose(m) == 0 && buf != NULL)
				tg_report_html_text(f, buf);
		}
		free(buf);
	}
	fputs("</p>\n<h2>", f);
	tg_report_html_text(f, c->en ? "Alerts sent" : "Avvisi inviati");
	fputs("</h2>\n<p>", f);
	{
		char buf[256];

		tg_report_html_text(f, alerts_total(c, buf, sizeof(buf)));
	}
	fputs("</p>\n<p class=\"sub\">", f);
	tg_report_html_text(f, c->en ? "Legend: green on target, yellow warning, red critical, violet late, grey no data."
				     : "Legenda: verde in obiettivo, giallo attenzione, rosso critico, viola in ritardo, grigio senza dati.");
	fputs("</p>\n</body>\n</html>\n", f);
}

int tg_report_write_opts(FILE *f, const struct tg_report_options *o, struct tg_error *err)
{
	struct ctx c = { .f = f };
	int rc;

	if (f == NULL || o == NULL || o->cfg == NULL || !tg_ymd_valid(o->year, o->month, 1))
		return tg_error_set(err, "report: bad arguments");
	c.cfg = o->cfg;
	c.sent = o->sent;
	c.year = o->year;
	c.month = o->month;
	c.lang = o->cfg->daemon.language != NULL ? o->cfg->daemon.language : "it";
	c.en = is_en(c.lang);
	rc = build(&c, o->cfg, o->st, o->route, err);
	if (rc == 0) {
		if (o->format == TG_REPORT_CSV)
			write_csv(&c);
		else if (o->format == TG_REPORT_HTML)
			write_html(&c);
		else
			write_text(&c);
		if (fflush(f) != 0 || ferror(f))
			rc = tg_error_setc(err, -EIO, "report: cannot write: %s", strerror(errno));
	}
	free(c.rows);
	free(c.order);
	return rc;
}

int tg_report_write(FILE *f, const struct tg_config *cfg, const struct tg_store *st,
		    int year, int month, enum tg_report_format format, struct tg_error *err)
{
	struct tg_report_options o = {
		.cfg = cfg, .st = st, .year = year, .month = month, .format = format,
	};

	return tg_report_write_opts(f, &o, err);
}
