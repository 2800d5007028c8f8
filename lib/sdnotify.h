/*
 * sdnotify.h — the STATUS= line the daemon sends to systemd (shown by
 * `systemctl status traguardo`).
 *
 * Always in English and independent of the configured language and of the
 * machine's locale: it is read by administrators and by scripts that parse
 * `systemctl show -p StatusText`.  Pure: the caller does the sd_notify.
 */
#ifndef TG_SDNOTIFY_H
#define TG_SDNOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "evaluate.h"
#include "period.h"

struct tg_sdnotify_status {
	const struct tg_eval_result *results;  /* n_indicators of them */
	size_t n_indicators;
	size_t failing_sources;     /* sources whose last run failed */
	bool has_cycle;             /* false before the first evaluation */
	tg_time last_cycle;         /* civil local time of the last evaluation */
	const char *reload_error;   /* the first error of a failed reload, or NULL */
	bool has_outbox;            /* the daemon: show the outbox */
	size_t outbox;              /* messages waiting in outbox/new */
	size_t outbox_failed;       /* messages in outbox/failed */
};

/* "20 indicators: 13 ok, 4 warning, 2 critical, 1 late; outbox 0; last cycle 14:05",
 * with ", N error" / ", N unknown" only when there are any, "; N sources
 * failing" when some are, "; outbox N" with has_outbox (", M failed" after
 * it when outbox/failed holds any), and, after a failed reload, the prefix
 * "reload failed: <first error>; running with the previous configuration; ".
 * One line: control bytes become spaces; truncated to size (>= 1).
 * Returns buf. */
const char *tg_sdnotify_status_line(const struct tg_sdnotify_status *st, char *buf, size_t size);

#endif
