/*
 * period.c — civil calendar arithmetic, reporting periods, and the parsing of
 * dates, durations and timestamps as they reach traguardo from spreadsheets,
 * SQL text columns, JSON feeds and the configuration.
 *
 * Everything is integer arithmetic on days since 1970-01-01 in the proleptic
 * Gregorian calendar (Howard Hinnant's days_from_civil / civil_from_days): no
 * time zones, no libc time or locale functions.  A period is what a person
 * wrote on a spreadsheet, and the same text must give the same period on every
 * server whatever its TZ or LANG.  Parsing accepts the many ways Italian
 * offices write a date but never guesses: the day always comes first, and an
 * impossible date such as 31/02/2026 is an error that says why.
 */
#include "period.h"
#include "utf8.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Longest date text considered (after trimming): the longest accepted form,
 * an ISO timestamp with nanoseconds and offset, is 35 bytes. */
#define DATE_MAX_LEN 64
/* Input bytes shown when quoting the offending text in a message. */
#define QUOTE_MAX 40
/* Durations above this are certainly a typo (10 years, leap days included). */
#define DURATION_MAX_DAYS 3653
#define DURATION_MAX ((int64_t)DURATION_MAX_DAYS * TG_DAY_SECONDS)

static const char *const month_it[12] = {
	"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno",
	"luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre",
};
static const char *const month_en[12] = {
	"January", "February", "March", "April", "May", "June",
	"July", "August", "September", "October", "November", "December",
};
static const char *const kind_names[] = { "day", "week", "month", "quarter", "year" };

/* ---------------------------------------------------------------- helpers */

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int to_lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

/*
 * The offending text for a message, shown between single quotes: at most
 * QUOTE_MAX input bytes, control bytes, quotes and invalid UTF-8 escaped as
 * \xNN so that a hostile cell cannot forge log lines or break the journal's
 * UTF-8.  buf needs 4 * QUOTE_MAX + 8 bytes.
 */
static const char *quote(const char *s, size_t len, char *buf, size_t size)
{
	return tg_error_quote_in(s, len, QUOTE_MAX, "'\\", buf, size);
}

#define QUOTE_BUF (4 * QUOTE_MAX + 8)

static bool lang_en(const char *lang)
{
	return lang != NULL && to_lower(lang[0]) == 'e' && to_lower(lang[1]) == 'n' &&
	       (lang[2] == '\0' || lang[2] == '_' || lang[2] == '-' || lang[2] == '.');
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static tg_day clamp_day(int64_t v)
{
	if (v > INT32_MAX)
		return INT32_MAX;
	if (v < INT32_MIN)
		return INT32_MIN;
	return (tg_day)v;
}

/* ------------------------------------------------------- civil arithmetic */

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms"; m in 1..12,
 * d may be any offset (d - 1 days are added to the first of the month). */
static int64_t days_from_civil(int64_t y, int m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp, yy;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yy + (*m <= 2));
}

bool tg_ymd_valid(int y, int m, int d)
{
	return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= tg_days_in_month(y, m);
}

int tg_days_in_month(int y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12)
		return 0;
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Months outside 1..12 carry into the year and days outside the month carry
 * into the neighbours (day 0 is the last day of the month before), so callers
 * can step without normalising; the result saturates at the tg_day range. */
tg_day tg_day_from_ymd(int y, int m, int d)
{
	int64_t mm = (int64_t)m - 1;
	int64_t yy = (int64_t)y + floor_div(mm, 12);

	mm -= floor_div(mm, 12) * 12;
	return clamp_day(days_from_civil(yy, (int)mm + 1, d));
}

void tg_day_to_ymd(tg_day day, int *y, int *m, int *d)
{
	int yy, mm, dd;

	civil_from_days(day, &yy, &mm, &dd);
	if (y != NULL)
		*y = yy;
	if (m != NULL)
		*m = mm;
	if (d != NULL)
		*d = dd;
}

int tg_day_weekday(tg_day day)
{
	/* 1970-01-01 was a Thursday (4). */
	int64_t r = ((int64_t)day + 3) % 7;

	return (int)(r < 0 ? r + 7 : r) + 1;
}

/* ---------------------------------------------------------------- periods */

int tg_period_kind_parse(const char *s, enum tg_period_kind *out)
{
	size_t i, k;

	if (s == NULL)
		return -EINVAL;
	for (i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		for (k = 0; kind_names[i][k] != '\0' && to_lower(s[k]) == kind_names[i][k]; k++)
			;
		if (kind_names[i][k] == '\0' && s[k] == '\0') {
			if (out != NULL)
				*out = (enum tg_period_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *tg_period_kind_name(enum tg_period_kind kind)
{
	if ((unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]))
		return kind_names[kind];
	return "invalid";
}

static int64_t week_start(int64_t day)
{
	return day - (tg_day_weekday(clamp_day(day)) - 1);
}

tg_day tg_period_start(enum tg_period_kind kind, tg_day day)
{
	int y, m, d;

	switch (kind) {
	case TG_PERIOD_WEEK:
		return clamp_day(week_start(day));
	case TG_PERIOD_MONTH:
		/* the 1st is d - 1 days back: no calendar work to get there */
		tg_day_to_ymd(day, &y, &m, &d);
		return clamp_day((int64_t)day - (d - 1));
	case TG_PERIOD_QUARTER:
		tg_day_to_ymd(day, &y, &m, &d);
		return tg_day_from_ymd(y, (m - 1) / 3 * 3 + 1, 1);
	case TG_PERIOD_YEAR:
		tg_day_to_ymd(day, &y, &m, &d);
		return tg_day_from_ymd(y, 1, 1);
	case TG_PERIOD_DAY:
	default:
		return day;
	}
}

/* The first day of the period delta periods away from the one with day. */
static tg_day period_step(enum tg_period_kind kind, tg_day day, int delta)
{
	tg_day s = tg_period_start(kind, day);
	int y, m, d;

	switch (kind) {
	case TG_PERIOD_WEEK:
		return clamp_day((int64_t)s + 7 * delta);
	case TG_PERIOD_MONTH:
		tg_day_to_ymd(s, &y, &m, &d);
		return tg_day_from_ymd(y, m + delta, 1);
	case TG_PERIOD_QUARTER:
		tg_day_to_ymd(s, &y, &m, &d);
		return tg_day_from_ymd(y, m + 3 * delta, 1);
	case TG_PERIOD_YEAR:
		tg_day_to_ymd(s, &y, &m, &d);
		return tg_day_from_ymd(y + delta, 1, 1);
	case TG_PERIOD_DAY:
	default:
		return clamp_day((int64_t)s + delta);
	}
}

tg_day tg_period_next(enum tg_period_kind kind, tg_day start)
{
	return period_step(kind, start, 1);
}

tg_day tg_period_prev(enum tg_period_kind kind, tg_day start)
{
	return period_step(kind, start, -1);
}

int tg_period_year(enum tg_period_kind kind, tg_day start)
{
	int y;

	if (kind == TG_PERIOD_WEEK)
		start = clamp_day(week_start(start) + 3); /* its Thursday */
	tg_day_to_ymd(start, &y, NULL, NULL);
	return y;
}

tg_day tg_period_first_of_year(enum tg_period_kind kind, int year)
{
	if (kind == TG_PERIOD_WEEK) /* ISO week 1 is the week with 4 January */
		return clamp_day(week_start(tg_day_from_ymd(year, 1, 4)));
	return tg_day_from_ymd(year, 1, 1);
}

int tg_period_index_in_year(enum tg_period_kind kind, tg_day start)
{
	int y, m, d;

	switch (kind) {
	case TG_PERIOD_WEEK:
		y = tg_period_year(kind, start);
		return (int)((week_start(start) - tg_period_first_of_year(kind, y)) / 7);
	case TG_PERIOD_MONTH:
		tg_day_to_ymd(start, &y, &m, &d);
		return m - 1;
	case TG_PERIOD_QUARTER:
		tg_day_to_ymd(start, &y, &m, &d);
		return (m - 1) / 3;
	case TG_PERIOD_YEAR:
		return 0;
	case TG_PERIOD_DAY:
	default:
		tg_day_to_ymd(start, &y, &m, &d);
		return (int)((int64_t)start - tg_day_from_ymd(y, 1, 1));
	}
}

int tg_period_count_in_year(enum tg_period_kind kind, int year)
{
	switch (kind) {
	case TG_PERIOD_WEEK: {
		/* 53 weeks when 1 January is a Thursday, or a Wednesday in a leap year */
		int wd = tg_day_weekday(tg_day_from_ymd(year, 1, 1));

		return wd == 4 || (wd == 3 && is_leap(year)) ? 53 : 52;
	}
	case TG_PERIOD_MONTH:
		return 12;
	case TG_PERIOD_QUARTER:
		return 4;
	case TG_PERIOD_YEAR:
		return 1;
	case TG_PERIOD_DAY:
	default:
		return is_leap(year) ? 366 : 365;
	}
}

const char *tg_period_label(enum tg_period_kind kind, tg_day start,
			    const char *lang, char *buf, size_t size)
{
	bool en = lang_en(lang);
	int y, m, d;

	if (buf == NULL || size == 0)
		return buf;
	/* Months, quarters and years: one calendar conversion (the period's
	 * start has the same year and month as any of its days) and the text
	 * by hand: this is written for every indicator on every cycle, and
	 * snprintf cost three times the rest. */
	if (kind == TG_PERIOD_MONTH || kind == TG_PERIOD_QUARTER || kind == TG_PERIOD_YEAR) {
		tg_day_to_ymd(start, &y, &m, &d);
		if (y >= 0 && y <= 9999 && size >= 24) {
			char *p = buf;
			const char *w = NULL;

			if (kind == TG_PERIOD_MONTH)
				w = en ? month_en[m - 1] : month_it[m - 1];
			else if (kind == TG_PERIOD_QUARTER && en)
				*p++ = 'Q';
			if (w != NULL) {
				size_t k = strlen(w);

				memcpy(p, w, k);
				p += k;
				*p++ = ' ';
			} else if (kind == TG_PERIOD_QUARTER) {
				*p++ = (char)('1' + (m - 1) / 3);
				if (en) {
					*p++ = ' ';
				} else {
					memcpy(p, "\xc2\xb0 trim. ", 9);
					p += 9;
				}
			}
			*p++ = (char)('0' + y / 1000);
			*p++ = (char)('0' + y / 100 % 10);
			*p++ = (char)('0' + y / 10 % 10);
			*p++ = (char)('0' + y % 10);
			*p = '\0';
			return buf;
		}
	}
	start = tg_period_start(kind, start);
	tg_day_to_ymd(start, &y, &m, &d);
	switch (kind) {
	case TG_PERIOD_WEEK:
		snprintf(buf, size, en ? "week %02d/%04d" : "sett. %02d/%04d",
			 tg_period_index_in_year(kind, start) + 1, tg_period_year(kind, start));
		break;
	case TG_PERIOD_MONTH:
		if (en)
			snprintf(buf, size, "%s %04d", month_en[m - 1], y);
		else
			snprintf(buf, size, "%s %04d", month_it[m - 1], y);
		break;
	case TG_PERIOD_QUARTER:
		snprintf(buf, size, en ? "Q%d %04d" : "%d\xc2\xb0 trim. %04d", (m - 1) / 3 + 1, y);
		break;
	case TG_PERIOD_YEAR:
		snprintf(buf, size, "%04d", y);
		break;
	case TG_PERIOD_DAY:
	default:
		if (en)
			snprintf(buf, size, "%04d-%02d-%02d", y, m, d);
		else
			snprintf(buf, size, "%02d/%02d/%04d", d, m, y);
		break;
	}
	return buf;
}

const char *tg_day_iso(tg_day day, char *buf, size_t size)
{
	int y, m, d;

	if (buf == NULL || size == 0)
		return buf;
	tg_day_to_ymd(day, &y, &m, &d);
	snprintf(buf, size, "%04d-%02d-%02d", y, m, d);
	return buf;
}

/* ---------------------------------------------------------- date parsing */

/* A date text being parsed: the original (for messages) and a normalised
 * copy: trimmed, ASCII lower case, every run of blanks (space, tab, U+00A0,
 * U+202F) one space, NUL-terminated so scanners can look one byte ahead. */
struct dtext {
	const char *orig;
	size_t orig_len;
	char s[DATE_MAX_LEN + 1];
	char q[QUOTE_BUF];
};

/* The text for messages, quoted only when there is an error to report. */
static const char *qtext(struct dtext *t)
{
	return quote(t->orig, t->orig_len, t->q, sizeof(t->q));
}

static int normalize(struct dtext *t, const char *s, size_t len, const char *what,
		     struct tg_error *err)
{
	const unsigned char *u;
	size_t i, o = 0, k;

	t->s[0] = '\0';
	if (s == NULL) {
		s = "";
		len = 0;
	}
	tg_utf8_trim(&s, &len);
	t->orig = s;
	t->orig_len = len;
	if (len == 0)
		return tg_error_set(err, "'' is not %s: the text is empty", what);
	if (len > DATE_MAX_LEN)
		return tg_error_set(err, "'%s' is not %s: too long (%zu bytes)", qtext(t), what, len);
	u = (const unsigned char *)s;
	for (i = 0; i < len;) {
		if ((k = tg_utf8_blank_len(u + i, len - i)) > 0) {
			if (o > 0 && t->s[o - 1] != ' ')
				t->s[o++] = ' ';
			i += k;
			continue;
		}
		if (u[i] < 0x20 || u[i] == 0x7f)
			return tg_error_set(err, "'%s' is not %s: it contains the control byte \\x%02x",
					    qtext(t), what, u[i]);
		t->s[o++] = (char)to_lower(u[i]);
		i++;
	}
	t->s[o] = '\0';
	return 0;
}

/* Reads min..max digits, and fails if a further digit follows. */
static bool digits_n(const char **pp, int min, int max, int *val, int *count)
{
	const char *p = *pp;
	int n = 0, v = 0;

	while (is_digit(*p)) {
		if (n == max)
			return false;
		v = v * 10 + (*p - '0');
		n++;
		p++;
	}
	if (n < min)
		return false;
	*pp = p;
	*val = v;
	if (count != NULL)
		*count = n;
	return true;
}

static bool digits(const char **pp, int min, int max, int *val)
{
	return digits_n(pp, min, max, val, NULL);
}

/* Reads min..max digits and stops there, as strptime does ("%d%m%Y"). */
static bool digits_greedy(const char **pp, int min, int max, int *val)
{
	const char *p = *pp;
	int n = 0, v = 0;

	while (n < max && is_digit(*p)) {
		v = v * 10 + (*p - '0');
		n++;
		p++;
	}
	if (n < min)
		return false;
	*pp = p;
	*val = v;
	return true;
}

static bool lit(const char **pp, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(*pp, word, n) != 0)
		return false;
	*pp += n;
	return true;
}

static bool degree(const char **pp)
{
	/* U+00B0 DEGREE SIGN or U+00BA MASCULINE ORDINAL: both are typed as "1°" */
	return lit(pp, "\xc2\xb0") || lit(pp, "\xc2\xba");
}

/* A month name or an abbreviation of at least three letters, Italian or
 * English (the three-letter prefixes never clash between months); w holds
 * n lower-case letters.  Returns 1..12 or 0. */
static int month_lookup(const char *w, size_t n)
{
	int i;
	size_t k;

	if (n < 3)
		return 0;
	for (i = 0; i < 12; i++) {
		if (n <= strlen(month_it[i]) && strncmp(w, month_it[i], n) == 0)
			return i + 1;
		if (n <= strlen(month_en[i])) {
			for (k = 0; k < n && w[k] == to_lower(month_en[i][k]); k++)
				;
			if (k == n)
				return i + 1;
		}
	}
	return 0;
}

static bool word(const char **pp, const char **w, size_t *n)
{
	const char *p = *pp;

	while (is_alpha(*p))
		p++;
	if (p == *pp)
		return false;
	*w = *pp;
	*n = (size_t)(p - *pp);
	*pp = p;
	return true;
}

static int check_ymd(struct dtext *t, int y, int m, int d, struct tg_error *err)
{
	if (y < 1 || y > 9999)
		return tg_error_set(err, "'%s' is not a valid date: year %d is out of range (1..9999)",
				    qtext(t), y);
	if (m < 1 || m > 12)
		return tg_error_set(err, "'%s' is not a valid date: there is no month %d", qtext(t), m);
	if (d < 1)
		return tg_error_set(err, "'%s' is not a valid date: there is no day %d", qtext(t), d);
	if (d > tg_days_in_month(y, m))
		return tg_error_set(err, "'%s' is not a valid date: %s %d has %d days", qtext(t),
				    month_en[m - 1], y, tg_days_in_month(y, m));
	return 0;
}

static int done(struct dtext *t, int y, int m, int d, enum tg_period_kind prec,
		struct tg_date *out, struct tg_error *err)
{
	int rc = check_ymd(t, y, m, d, err);

	if (rc < 0)
		return rc;
	if (out != NULL) {
		out->day = tg_day_from_ymd(y, m, d);
		out->precision = prec;
	}
	return 1;
}

/*
 * hh:mm[:ss[.fff]] and, with offset, an optional Z or +hh[[:]mm] / -hh[[:]mm].
 * The time is validated and ignored.  Returns 1 matched, 0 not a time, <0 error.
 */
static int clock_part(struct dtext *t, const char **pp, bool offset, struct tg_error *err)
{
	const char *p = *pp;
	int hh, mm, ss = 0, oh, om = 0;

	if (!digits(&p, 1, 2, &hh) || *p != ':')
		return 0;
	p++;
	if (!digits(&p, 2, 2, &mm))
		return 0;
	if (*p == ':') {
		p++;
		if (!digits(&p, 2, 2, &ss))
			return 0;
		if (*p == '.' || *p == ',') {
			p++;
			if (!is_digit(*p))
				return 0;
			while (is_digit(*p))
				p++;
		}
	}
	if (offset) {
		if (*p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			p++;
			if (!is_digit(p[0]) || !is_digit(p[1]))
				return 0;
			oh = (p[0] - '0') * 10 + (p[1] - '0');
			p += 2;
			if (*p == ':')
				p++;
			if (is_digit(*p) && !digits(&p, 2, 2, &om))
				return 0;
			if (oh > 23 || om > 59)
				return tg_error_set(err, "'%s' is not a valid date: bad time zone offset",
						    qtext(t));
		}
	}
	if (hh > 23 || mm > 59 || ss > 60)
		return tg_error_set(err, "'%s' is not a valid date: %02d:%02d:%02d is not a valid time",
				    qtext(t), hh, mm, ss);
	*pp = p;
	return 1;
}

/* dd/mm/yyyy, dd-mm-yyyy, dd.mm.yyyy [hh:mm[:ss]] — always day first. */
static int form_dmy(struct dtext *t, struct tg_date *out, struct tg_error *err)
{
	const char *p = t->s;
	int d, m, y, ny, rc;
	char sep;

	if (!digits(&p, 1, 2, &d))
		return 0;
	sep = *p;
	if (sep != '/' && sep != '-' && sep != '.')
		return 0;
	p++;
	if (!digits(&p, 1, 2, &m) || *p != sep)
		return 0;
	p++;
	if (!digits_n(&p, 1, 4, &y, &ny))
		return 0;
	if (*p == ' ') {
		p++;
		if ((rc = clock_part(t, &p, false, err)) <= 0)
			return rc;
	}
	if (*p != '\0')
		return 0;
	if (ny != 4)
		return tg_error_set(err, "'%s' is not a valid date: the year must have four digits",
				    qtext(t));
	return done(t, y, m, d, TG_PERIOD_DAY, out, err);
}

/* yyyy-mm-dd (also yyyy/mm/dd), with an optional ISO 8601 or SQL time. */
static int form_ymd(struct dtext *t, struct tg_date *out, struct tg_error *err)
{
	const char *p = t->s;
	int d, m, y, rc;
	char sep;

	if (!digits(&p, 4, 4, &y))
		return 0;
	sep = *p;
	if (sep != '-' && sep != '/')
		return 0;
	p++;
	if (!digits(&p, 1, 2, &m) || *p != sep)
		return 0;
	p++;
	if (!digits(&p, 1, 2, &d))
		return 0;
	if (*p == 't' || *p == ' ') {
		p++;
		if ((rc = clock_part(t, &p, true, err)) <= 0)
			return rc;
	}
	if (*p != '\0')
		return 0;
	return done(t, y, m, d, TG_PERIOD_DAY, out, err);
}

/* yyyy-mm, yyyy/mm */
static int form_ym(struct dtext *t, struct tg_date *out, struct tg_error *err)
{
	const char *p = t->s;
	int m, y;

	if (!digits(&p, 4, 4, &y) || (*p != '-' && *p != '/'))
		return 0;
	p++;
	if (!digits(&p, 1, 2, &m) || *p != '\0')
		return 0;
	return done(t, y, m, 1, TG_PERIOD_MONTH, out, err);
}

/* mm/yyyy, m/yyyy (also with '-' or '.') */
static int form_my(struct dtext *t, struct tg_date *out, struct tg_error *err)
{
	const char *p = t->s;
	int m, y;

	if (!digits(&p, 1, 2, &m) || (*p != '/' && *p != '-' && *p != '.'))
		return 0;
	p++;
	if (!digits(&p, 4, 4, &y) || *p != '\0')
		return 0;
	return done(t, y, m, 1, TG_PERIOD_MONTH, out, err);
}

static int week_done(struct dtext *t, int y, int w, struct tg_date *out,
		     struct tg_error *err)
{
	int n;

	if (y < 1 || y > 9999)
		return tg_error_set(err, "'%s' is not a valid date: year %d is out of range (1..9999)",
				    qtext(t), y);
	n = tg_period_count_in_year(TG_PERIOD_WEEK, y);
	if (w < 1 || w > n)
		return tg_error_set(err, "'%s' is not a valid date: there is no week %d (%d has %d ISO weeks)",
				    qtext(t), w, y, n);
	if (out != NULL) {
		out->day = clamp_day((int64_t)tg_period_first_of_year(TG_PERIOD_WEEK, y) + 7 * (w - 1));
		out->precision = TG_PERIOD_WEEK;
	}
	return 1;
}

/* yyyy-Www, yyyy Www, yyyyWww; and the labels "sett. 11/2026", "week 11/2026". */
static int form_week(struct dtext *t, struct tg_date *out, struct tg_error *err)
{
	const char *p = t->s;
	int y, w;

	if (digits(&p, 4, 4, &y)) {
		if (*p == '-' || *p == ' ')
			p++;
		if (*p != 'w')
			return 0;
		p++;
		if (!digits(&p, 1, 2, &w) || *p != '\0')
			return 0;
		return week_done(t, y, w, out, err);
	}
	if (!lit(&p, "settimana") && !lit(&p, "sett.") && !lit(&p, "sett") && !lit(&p, "week"))
		return 0;
	if (*p == ' ')
		p++;
	if (!digits(&p, 1, 2, &w) || (*p != '/' && *p != ' '))
		return 0;
	p++;
	if (!digits(&p, 4, 4, &y) || *p != '\0')
		return 0;
	return week_done(t, y, w, out, err);
}

static int quarter_done(struct dtext *t, int y, int q, struct tg_date *out,
			struct tg_error *err)
{
	if (q < 1 || q > 4)
		return tg_error_set(err, "'%s' is not a valid date: there is no quarter %d", qtext(t), q);
	return done(t, y, 3 * (q - 1) + 1, 1, TG_PERIOD_QUARTER, out, err);
}

/* yyyy-Qn, yyyy Qn, Qn yyyy, Qn-yyyy, "1° trimestre 2026", "I trim. 2026" */
static int form_quarter(struct dtext *t, struct tg_date *out, struct tg_error *err)
{
	static const char *const roman[] = { "iv", "iii", "ii", "i" };
	static const int roman_val[] = { 4, 3, 2, 1 };
	const char *p = t->s;
	int y, q = 0;
	size_t i;

	if (digits(&p, 4, 4, &y)) {
		if (*p == '-' || *p == ' ')
			p++;
		if (*p != 'q')
			return 0;
		p++;
		if (!digits(&p, 1, 1, &q) || *p != '\0')
			return 0;
		return quarter_done(t, y, q, out, err);
	}
	if (*p == 'q') {
		p++;
		if (!digits(&p, 1, 1, &q))
			return 0;
		if (*p == '-' || *p == ' ' || *p == '/')
			p++;
		if (!digits(&p, 4, 4, &y) || *p != '\0')
			return 0;
		return quarter_done(t, y, q, out, err);
	}
	if (!digits(&p, 1, 1, &q)) {
		for (i = 0; i < sizeof(roman) / sizeof(roman[0]); i++) {
			const char *r = p;

			if (lit(&r, roman[i]) && !is_alpha(*r)) {
				q = roman_val[i];
				p = r;
				break;
			}
		}
		if (q == 0)
			return 0;
	}
	degree(&p);
	if (*p == ' ')
		p++;
	if (!lit(&p, "trimestre") && !lit(&p, "trim"))
		return 0;
	if (*p == '.')
		p++;
	if (*p == ' ')
		p++;
	if (!digits(&p, 4, 4, &y) || *p != '\0')
		return 0;
	return quarter_done(t, y, q, out, err);
}

/* [d ]month[.][ -/]yy or yyyy: "Gennaio 2026", "gen. 2026", "gen-26",
 * "Jan-2026", "12 marzo 2026", "12-mar-26". */
static int form_month_name(struct dtext *t, struct tg_date *out, struct tg_error *err)
{
	const char *p = t->s, *w;
	size_t wn;
	int d = 1, m, y, ny;
	bool has_day = false;
	char wq[QUOTE_BUF];

	if (digits(&p, 1, 2, &d)) {
		has_day = true;
		if (*p == ' ' || *p == '-' || *p == '/' || *p == '.')
			p++;
	}
	if (!word(&p, &w, &wn))
		return 0;
	if (*p == '.')
		p++;
	if (*p == ' ' || *p == '-' || *p == '/' || *p == '.')
		p++;
	if (!digits_n(&p, 2, 4, &y, &ny) || ny == 3 || *p != '\0')
		return 0;
	m = month_lookup(w, wn);
	if (m == 0)
		return tg_error_set(err, "'%s' is not a date: '%s' is not a month name", qtext(t),
				    quote(w, wn, wq, sizeof(wq)));
	if (ny == 2)
		y += 2000;
	if (has_day)
		return done(t, y, m, d, TG_PERIOD_DAY, out, err);
	return done(t, y, m, 1, TG_PERIOD_MONTH, out, err);
}

static int form_year(struct dtext *t, struct tg_date *out, struct tg_error *err)
{
	const char *p = t->s;
	int y, n;

	if (!digits_n(&p, 1, 9, &y, &n) || *p != '\0')
		return 0;
	if (n == 4 && y >= 1000)
		return done(t, y, 1, 1, TG_PERIOD_YEAR, out, err);
	if (n == 5 && y >= 20000 && y <= 99999)
		return tg_error_set(err, "'%s' is not a date (a spreadsheet serial number? "
				    "format the column as a date before exporting)", qtext(t));
	return tg_error_set(err, "'%s' is not a date: a year alone must be between 1000 and 9999",
			    qtext(t));
}

static int parse_free(struct dtext *t, struct tg_date *out, struct tg_error *err)
{
	static int (*const forms[])(struct dtext *, struct tg_date *, struct tg_error *) = {
		form_ymd, form_dmy, form_ym, form_my, form_week, form_quarter,
		form_month_name, form_year,
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		rc = forms[i](t, out, err);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return 0;
	}
	return tg_error_set(err, "'%s' is not a date (expected dd/mm/yyyy, yyyy-mm-dd, mm/yyyy, "
			    "a month and year such as 'marzo 2026', yyyy-Qn, yyyy-Www or yyyy)", qtext(t));
}

/* Walks fmt; with t == NULL only checks it.  Returns 0 or -EINVAL. */
static int run_format(const char *fmt, struct dtext *t, struct tg_date *out,
		      struct tg_error *err)
{
	const char *f = fmt, *p = t != NULL ? t->s : "";
	char fq[QUOTE_BUF], aq[QUOTE_BUF];
	const char *w;
	size_t wn;
	int y = 0, m = 1, d = 1, v, n, rc;
	unsigned seen = 0, bit;
	const char *what;

#define FQ quote(fmt, strlen(fmt), fq, sizeof(fq))
#define MISMATCH(expect)                                                                   \
	return tg_error_set(err, "'%s' does not match date_format '%s': expected %s at '%s'", \
			    qtext(t), FQ, (expect), quote(p, strlen(p), aq, sizeof(aq)))

	while (*f != '\0') {
		if (*f == ' ') {
			while (*f == ' ')
				f++;
			if (t != NULL) {
				if (*p != ' ')
					MISMATCH("a space");
				p++;
			}
			continue;
		}
		if (*f != '%') {
			if (t != NULL) {
				if (*p != to_lower((unsigned char)*f)) {
					char lq[8];

					snprintf(lq, sizeof(lq), "'%c'", *f);
					MISMATCH(lq);
				}
				p++;
			}
			f++;
			continue;
		}
		f++;
		switch (*f) {
		case 'd': case 'e': bit = 1u << 0; what = "a day"; break;
		case 'm': case 'b': case 'B': bit = 1u << 1; what = "a month"; break;
		case 'Y': case 'y': bit = 1u << 2; what = "a year"; break;
		case 'H': bit = 1u << 3; what = "an hour"; break;
		case 'M': bit = 1u << 4; what = "minutes"; break;
		case 'S': bit = 1u << 5; what = "seconds"; break;
		case '%': bit = 0; what = "'%'"; break;
		case '\0':
			return tg_error_set(err, "date_format '%s': a lone '%%' at the end (write %%%% for a percent sign)",
					    FQ);
		default:
			if ((unsigned char)*f < 0x20 || (unsigned char)*f >= 0x7f)
				return tg_error_set(err, "date_format '%s': unknown directive after '%%' "
						    "(known: %%d %%e %%m %%Y %%y %%b %%B %%H %%M %%S %%%%)", FQ);
			return tg_error_set(err, "date_format '%s': unknown directive '%%%c' "
					    "(known: %%d %%e %%m %%Y %%y %%b %%B %%H %%M %%S %%%%)", FQ, *f);
		}
		if (seen & bit)
			return tg_error_set(err, "date_format '%s': %s appears twice", FQ, what);
		seen |= bit;
		if (t == NULL) {
			f++;
			continue;
		}
		switch (*f) {
		case 'e':
			if (*p == ' ')
				p++;
			/* fall through */
		case 'd':
			if (!digits_greedy(&p, 1, 2, &d))
				MISMATCH("a day (1 or 2 digits)");
			break;
		case 'm':
			if (!digits_greedy(&p, 1, 2, &m))
				MISMATCH("a month number (1 or 2 digits)");
			break;
		case 'b': case 'B':
			if (!word(&p, &w, &wn))
				MISMATCH("a month name");
			m = month_lookup(w, wn);
			if (m == 0)
				return tg_error_set(err, "'%s' does not match date_format '%s': '%s' is not a month name",
						    qtext(t), FQ, quote(w, wn, aq, sizeof(aq)));
			if (*p == '.' && f[1] != '.')
				p++;
			break;
		case 'Y':
			if (!digits_greedy(&p, 4, 4, &y))
				MISMATCH("a four-digit year");
			break;
		case 'y':
			if (!digits_greedy(&p, 2, 2, &y))
				MISMATCH("a two-digit year");
			y += 2000;
			break;
		case 'H':
			if (!digits_greedy(&p, 1, 2, &v) || v > 23)
				MISMATCH("an hour (0-23)");
			break;
		case 'M':
			if (!digits_greedy(&p, 1, 2, &v) || v > 59)
				MISMATCH("minutes (0-59)");
			break;
		case 'S':
			if (!digits_greedy(&p, 1, 2, &v) || v > 60)
				MISMATCH("seconds (0-60)");
			break;
		case '%':
			if (*p != '%')
				MISMATCH("'%'");
			p++;
			break;
		}
		f++;
	}
#undef MISMATCH
	if (!(seen & (1u << 2)))
		return tg_error_set(err, "date_format '%s' has no year (%%Y or %%y)", FQ);
	if ((seen & 1u) && !(seen & (1u << 1)))
		return tg_error_set(err, "date_format '%s' has a day but no month (%%m, %%b or %%B)", FQ);
	if (t == NULL)
		return 0;
	if (*p != '\0')
		return tg_error_set(err, "'%s' does not match date_format '%s': unexpected '%s' at the end",
				    qtext(t), FQ, quote(p, strlen(p), aq, sizeof(aq)));
	n = seen & 1u ? TG_PERIOD_DAY : seen & (1u << 1) ? TG_PERIOD_MONTH : TG_PERIOD_YEAR;
	rc = done(t, y, m, d, (enum tg_period_kind)n, out, err);
	return rc < 0 ? rc : 0;
}

#undef FQ

int tg_date_format_check(const char *fmt, struct tg_error *err)
{
	if (fmt == NULL || fmt[0] == '\0')
		return tg_error_set(err, "date_format is empty");
	if (strlen(fmt) > DATE_MAX_LEN)
		return tg_error_set(err, "date_format is too long (%zu bytes, at most %d)",
				    strlen(fmt), DATE_MAX_LEN);
	return run_format(fmt, NULL, NULL, err);
}

static int digit2(const unsigned char *u)
{
	unsigned a = (unsigned)u[0] - '0', b = (unsigned)u[1] - '0';

	return a <= 9 && b <= 9 ? (int)(a * 10 + b) : -1;
}

/* dd/mm/yyyy (Italian exports) and yyyy-mm-dd (SQL, JSON) are the dates of
 * nearly every row: read without the general machinery when written exactly
 * so, without a format or with the one format they match.  Anything else
 * (and every error) takes the general path; the tests compare the two. */
static bool fast_date(const char *s, size_t len, const char *fmt, struct tg_date *out)
{
	const unsigned char *u = (const unsigned char *)s;
	int y, m, d, hi, lo;

	if (len != 10 || s == NULL)
		return false;
	if (u[2] == '/' && u[5] == '/' && (fmt == NULL || strcmp(fmt, "%d/%m/%Y") == 0)) {
		d = digit2(u);
		m = digit2(u + 3);
		hi = digit2(u + 6);
		lo = digit2(u + 8);
	} else if (u[4] == '-' && u[7] == '-' && (fmt == NULL || strcmp(fmt, "%Y-%m-%d") == 0)) {
		hi = digit2(u);
		lo = digit2(u + 2);
		m = digit2(u + 5);
		d = digit2(u + 8);
	} else {
		return false;
	}
	if (d < 0 || m < 0 || hi < 0 || lo < 0)
		return false;
	y = hi * 100 + lo;
	if (!tg_ymd_valid(y, m, d))
		return false;
	out->day = tg_day_from_ymd(y, m, d);
	out->precision = TG_PERIOD_DAY;
	return true;
}

int tg_date_parse(const char *s, size_t len, const char *fmt, struct tg_date *out,
		  struct tg_error *err)
{
	struct dtext t;
	int rc;

	if (out != NULL && fast_date(s, len, fmt, out))
		return 0;
	if (fmt != NULL && (rc = tg_date_format_check(fmt, err)) < 0)
		return rc;
	if ((rc = normalize(&t, s, len, "a date", err)) < 0)
		return rc;
	if (fmt != NULL)
		return run_format(fmt, &t, out, err);
	return parse_free(&t, out, err);
}

/* ------------------------------------------------------------- durations */

static const struct {
	char unit;
	int64_t seconds;
} duration_units[] = {
	{ 'w', 7 * TG_DAY_SECONDS }, { 'd', TG_DAY_SECONDS }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
};
#define N_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

int tg_duration_parse(const char *s, int64_t *seconds, struct tg_error *err)
{
	char q[QUOTE_BUF];
	const char *p;
	size_t len, next = 0, i;
	int64_t total = 0, n;
	bool big = false;

	if (s == NULL)
		s = "";
	len = strlen(s);
	tg_utf8_trim(&s, &len);
	quote(s, len, q, sizeof(q));
	if (len == 0)
		return tg_error_set(err, "'' is not a duration: the text is empty (write e.g. \"15m\", \"12h\", \"7d\")");
	p = s;
	while (p < s + len) {
		if (*p == ' ') {
			p++;
			continue;
		}
		if (*p == '-')
			return tg_error_set(err, "'%s' is not a duration: it must be positive", q);
		if (!is_digit(*p))
			return tg_error_set(err, "'%s' is not a duration: expected a number, then a unit (s, m, h, d or w)", q);
		for (n = 0; p < s + len && is_digit(*p); p++) {
			if (n > DURATION_MAX)
				big = true;
			else
				n = n * 10 + (*p - '0');
		}
		if (p == s + len || *p == ' ')
			return tg_error_set(err, "'%s' is not a duration: the number has no unit (s, m, h, d or w)", q);
		for (i = 0; i < N_UNITS && duration_units[i].unit != *p; i++)
			;
		if (i == N_UNITS)
			return tg_error_set(err, "'%s' is not a duration: unknown unit '%s' (use s, m, h, d or w)",
					    q, quote(p, 1, (char[16]){ 0 }, 16));
		if (i < next)
			return tg_error_set(err, "'%s' is not a duration: units go from the largest to the smallest, each once (as in \"1h30m\")", q);
		next = i + 1;
		p++;
		if (!big)
			total += n * duration_units[i].seconds;
		if (total > DURATION_MAX)
			big = true;
	}
	if (big)
		return tg_error_setc(err, -ERANGE, "'%s' is too long a duration: at most 10 years (%dd)",
				     q, DURATION_MAX_DAYS);
	if (total == 0)
		return tg_error_set(err, "'%s' is not a duration: it must be positive", q);
	if (seconds != NULL)
		*seconds = total;
	return 0;
}

static size_t duration_greedy(uint64_t v, size_t first, char *out, size_t size)
{
	size_t i, o = 0;
	int k;

	out[0] = '\0';
	for (i = first; i < N_UNITS && v > 0; i++) {
		uint64_t u = (uint64_t)duration_units[i].seconds;

		if (v >= u) {
			k = snprintf(out + o, size - o, "%llu%c", (unsigned long long)(v / u),
				     duration_units[i].unit);
			if (k < 0 || (size_t)k >= size - o)
				return size;
			o += (size_t)k;
			v %= u;
		}
	}
	return o;
}

const char *tg_duration_format(int64_t seconds, char *buf, size_t size)
{
	char a[64], b[64];
	uint64_t v;
	size_t na, nb;
	bool neg = seconds < 0;

	if (buf == NULL || size == 0)
		return buf;
	if (seconds == 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	v = neg ? (uint64_t)0 - (uint64_t)seconds : (uint64_t)seconds;
	na = duration_greedy(v, 1, a, sizeof(a)); /* days and smaller */
	nb = duration_greedy(v, 0, b, sizeof(b)); /* with weeks */
	snprintf(buf, size, "%s%s", neg ? "-" : "", nb < na ? b : a);
	return buf;
}

/* ------------------------------------------------------------------ time */

int tg_time_parse(const char *s, tg_time *out, struct tg_error *err)
{
	struct dtext t;
	const char *p;
	int y, m, d, hh = 0, mm = 0, ss = 0, rc;

	if ((rc = normalize(&t, s, s != NULL ? strlen(s) : 0, "a date and time", err)) < 0)
		return rc;
	p = t.s;
	if (!digits(&p, 4, 4, &y) || *p++ != '-' || !digits(&p, 2, 2, &m) || *p++ != '-' ||
	    !digits(&p, 2, 2, &d))
		goto bad;
	if (*p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, 2, &hh) || *p++ != ':' || !digits(&p, 2, 2, &mm))
			goto bad;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, 2, &ss))
				goto bad;
		}
	}
	if (*p != '\0')
		goto bad;
	if ((rc = check_ymd(&t, y, m, d, err)) < 0)
		return rc;
	if (hh > 23 || mm > 59 || ss > 59)
		return tg_error_set(err, "'%s' is not a valid time: %02d:%02d:%02d is out of range",
				    qtext(&t), hh, mm, ss);
	if (out != NULL)
		*out = (tg_time)tg_day_from_ymd(y, m, d) * TG_DAY_SECONDS + hh * 3600 + mm * 60 + ss;
	return 0;
bad:
	return tg_error_set(err, "'%s' is not a date and time: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]",
			    qtext(&t));
}
