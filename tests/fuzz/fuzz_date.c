/*
 * fuzz_date.c — libFuzzer target for tg_date_parse (with and without a
 * date_format), tg_date_format_check, tg_duration_parse and tg_time_parse.
 *
 * Layout of the input: byte 0 chooses the mode; in format mode byte 1 is the
 * length (mod 24) of a date_format taken from the following bytes, and the
 * rest is the text.  The text is passed as it sits in libFuzzer's exact-size
 * buffer, not NUL-terminated.  Checks: a parsed date is a valid civil day,
 * is the first day of its period (tg_period_start(precision, day) == day),
 * and its label parses back to the same period; durations and times are in
 * range and durations survive format -> parse; the fast path of
 * dd/mm/yyyy and yyyy-mm-dd agrees with the general one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "period.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_date(int rc, const struct tg_date *dt, const struct tg_error *err, bool fmt)
{
	struct tg_error e2;
	struct tg_date back;
	char label[64];
	int y, m, d;

	if (rc < 0) {
		if (rc != -22 || err->msg[0] == '\0' || memchr(err->msg, '\0', sizeof(err->msg)) == NULL)
			abort();
		return;
	}
	if (rc != 0 || (unsigned)dt->precision > TG_PERIOD_YEAR)
		abort();
	tg_day_to_ymd(dt->day, &y, &m, &d);
	/* ISO week 1 of year 1 starts on 0001-01-01, a Monday: always valid */
	if (!tg_ymd_valid(y, m, d))
		abort();
	if (tg_period_start(dt->precision, dt->day) != dt->day)
		abort();
	if (fmt && dt->precision == TG_PERIOD_WEEK)
		abort(); /* formats have no week field */
	if (dt->precision == TG_PERIOD_YEAR && y < 1000)
		return; /* "%Y" reads "0100"; a bare year below 1000 is not a date */
	tg_period_label(dt->precision, dt->day, (dt->day & 1) ? "en" : "it", label, sizeof(label));
	if (tg_date_parse(label, strlen(label), NULL, &back, &e2) != 0 || back.day != dt->day ||
	    back.precision != dt->precision)
		abort();
}

static void check_others(const uint8_t *data, size_t size)
{
	struct tg_error err;
	char *copy, buf[64];
	int64_t secs, back;
	tg_time t;

	copy = malloc(size + 1);
	if (copy == NULL)
		return;
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (tg_duration_parse(copy, &secs, &err) == 0) {
		if (secs <= 0 || secs > 3653LL * TG_DAY_SECONDS)
			abort();
		tg_duration_format(secs, buf, sizeof(buf));
		if (tg_duration_parse(buf, &back, &err) != 0 || back != secs)
			abort();
	}
	if (tg_time_parse(copy, &t, &err) == 0) {
		int y, m, d;

		tg_day_to_ymd(tg_time_day(t), &y, &m, &d);
		if (!tg_ymd_valid(y, m, d))
			abort();
	}
	(void)tg_date_format_check(copy, &err);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tg_error err;
	struct tg_date dt;
	int rc;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		char fmt[32];
		size_t fl = size > 1 ? data[1] % 24u : 0, off = 2;

		if (fl > size - (size > 1 ? 2 : 1))
			fl = size > 1 ? size - 2 : 0;
		memcpy(fmt, data + (size > 1 ? 2 : 1), fl);
		fmt[fl] = '\0';
		off = (size > 1 ? 2 : 1) + fl;
		if (tg_date_format_check(fmt, &err) == 0) {
			rc = tg_date_parse((const char *)data + off, size - off, fmt, &dt, &err);
			check_date(rc, &dt, &err, true);
		} else if (tg_date_parse((const char *)data + off, size - off, fmt, &dt, &err) != -22) {
			abort(); /* a bad format is always refused */
		}
	}
	rc = tg_date_parse((const char *)data + 1, size - 1, NULL, &dt, &err);
	check_date(rc, &dt, &err, false);
	check_others(data + 1, size - 1);
	/* dd/mm/yyyy and yyyy-mm-dd take a fast path; after a space (trimmed
	 * by the general path only) the same text goes the general way */
	if (size - 1 < 64) {
		static const char *const fmts[] = { NULL, "%d/%m/%Y", "%Y-%m-%d" };
		char spaced[65];

		spaced[0] = ' ';
		memcpy(spaced + 1, data + 1, size - 1);
		for (size_t f = 0; f < 3; f++) {
			struct tg_error e2;
			struct tg_date d1 = { 0, TG_PERIOD_DAY }, d2 = { 0, TG_PERIOD_DAY };
			int r1 = tg_date_parse((const char *)data + 1, size - 1, fmts[f], &d1, &err);
			int r2 = tg_date_parse(spaced, size, fmts[f], &d2, &e2);

			if (r1 != r2 || (r1 == 0 && (d1.day != d2.day || d1.precision != d2.precision)) ||
			    (r1 < 0 && strcmp(err.msg, e2.msg) != 0))
				abort();
		}
	}
	return 0;
}
