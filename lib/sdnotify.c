/*
 * sdnotify.c — the STATUS= line (see sdnotify.h).  Kept out of the daemon
 * so that its wording, which administrators and scripts read, is tested.
 */
#include "sdnotify.h"

#include <stdarg.h>
#include <stdio.h>

#include "status.h"

/* snprintf that never moves *len past size - 1, so truncation is safe */
__attribute__((format(printf, 4, 5)))
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= size - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*len += (size_t)n;
	if (*len > size - 1)
		*len = size - 1;
}

const char *tg_sdnotify_status_line(const struct tg_sdnotify_status *st, char *buf, size_t size)
{
	size_t count[TG_STATUS_COUNT] = { 0 }, len = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < st->n_indicators; i++)
		if ((unsigned)st->results[i].status < TG_STATUS_COUNT)
			count[st->results[i].status]++;
	if (st->reload_error != NULL)
		append(buf, size, &len, "reload failed: %s; running with the previous configuration; ",
		       st->reload_error);
	append(buf, size, &len, "%zu indicator%s: %zu ok, %zu warning, %zu critical, %zu late",
	       st->n_indicators, st->n_indicators == 1 ? "" : "s", count[TG_STATUS_OK],
	       count[TG_STATUS_WARNING], count[TG_STATUS_CRITICAL], count[TG_STATUS_LATE]);
	if (count[TG_STATUS_ERROR] > 0)
		append(buf, size, &len, ", %zu error", count[TG_STATUS_ERROR]);
	if (count[TG_STATUS_UNKNOWN] > 0)
		append(buf, size, &len, ", %zu unknown", count[TG_STATUS_UNKNOWN]);
	if (st->failing_sources > 0)
		append(buf, size, &len, "; %zu source%s failing", st->failing_sources,
		       st->failing_sources == 1 ? "" : "s");
	if (st->has_outbox) {
		append(buf, size, &len, "; outbox %zu", st->outbox);
		if (st->outbox_failed > 0)
			append(buf, size, &len, ", %zu failed", st->outbox_failed);
	}
	if (st->has_cycle) {
		tg_time s = st->last_cycle - (tg_time)tg_time_day(st->last_cycle) * TG_DAY_SECONDS;

		append(buf, size, &len, "; last cycle %02d:%02d", (int)(s / 3600), (int)(s / 60 % 60));
	}
	/* an error message may quote anything: STATUS= is one line */
	for (char *p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return buf;
}
