/*
 * log.h — logging for the daemon and the command line.
 *
 * Under systemd (stderr is the journal, as $JOURNAL_STREAM says) messages go
 * to the journal with structured fields (SOURCE=, INDICATOR=, CHANNEL=, ...);
 * otherwise they are readable lines on stderr: "traguardo: warning: ...".
 * Debug messages only with verbosity > 0.  errno is preserved.  Control
 * bytes and invalid UTF-8 in a message are written as \xHH (see
 * tg_error_quote), so no data can forge or split a log line.
 */
#ifndef TG_LOG_H
#define TG_LOG_H

#include <syslog.h>

/* verbosity: 0 normal, 1 debug.  Safe to call again (e.g. after -v). */
void tg_log_init(const char *ident, int verbosity);
int tg_log_verbosity(void);

/* priority: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG. */
void tg_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* With one structured field, e.g. tg_logf(LOG_WARNING, "SOURCE", "ragioneria", ...). */
void tg_logf(int priority, const char *field, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
