/*
 * log.c — stderr or journal logging (see log.h).
 *
 * The choice is made once in tg_log_init: when $JOURNAL_STREAM names the
 * device and inode of our stderr, systemd connected stderr to the journal and
 * sd_journal_send keeps the structured fields; anywhere else a person reads
 * stderr, so lines are short and plain.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "error.h"

/* Set once at start-up, read-only afterwards. */
static struct {
	const char *ident;
	int verbosity;
	int journal;
} log_conf = { "traguardo", 0, 0 };

static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void tg_log_init(const char *ident, int verbosity)
{
	log_conf.ident = ident != NULL ? ident : "traguardo";
	log_conf.verbosity = verbosity;
	log_conf.journal = stderr_is_journal();
}

int tg_log_verbosity(void)
{
	return log_conf.verbosity;
}

static const char *prefix(int priority)
{
	switch (priority) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR: return "error: ";
	case LOG_WARNING: return "warning: ";
	case LOG_DEBUG: return "debug: ";
	default: return "";
	}
}

static void vlog(int priority, const char *field, const char *value, const char *fmt, va_list ap)
{
	char raw[2048], msg[2048];
	int saved = errno;

	if (priority == LOG_DEBUG && log_conf.verbosity <= 0)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	/* Callers quote the data they cite; this is the last line of defence:
	 * a control byte (a line break, an ANSI escape from a file name) never
	 * reaches the terminal or splits a journal entry. */
	tg_error_quote(raw, strlen(raw), sizeof(raw), msg, sizeof(msg));
	if (log_conf.journal) {
		if (field != NULL && value != NULL) {
			char fv[512];

			/* "FIELD=value" built here, so neither part is ever a format */
			snprintf(fv, sizeof(fv), "%s=%s", field, value);
			sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", priority,
					"SYSLOG_IDENTIFIER=%s", log_conf.ident, "%s", fv, NULL);
		} else {
			sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", priority,
					"SYSLOG_IDENTIFIER=%s", log_conf.ident, NULL);
		}
	} else {
		fprintf(stderr, "%s: %s%s\n", log_conf.ident, prefix(priority), msg);
	}
	errno = saved;
}

void tg_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(priority, NULL, NULL, fmt, ap);
	va_end(ap);
}

void tg_logf(int priority, const char *field, const char *value, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(priority, field, value, fmt, ap);
	va_end(ap);
}
