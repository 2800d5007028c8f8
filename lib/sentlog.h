/*
 * sentlog.h — STATE_DIR/sent.log, the record of the alerts sent: what the
 * management report counts ("Avvisi inviati") and what an ISO 9001 auditor
 * asks for as evidence that people were told.
 *
 * Append-only text, one line per (event, message) spooled, ten fields
 * separated by one TAB, LF at the end:
 *
 *   wall  cycle  indicator  kind  status  channel  to  message  event  route
 *
 *   wall       unix seconds when the message was spooled (decimal)
 *   cycle      civil time of the cycle, "YYYY-MM-DDTHH:MM" (local, as people
 *              read it: the month of a line is the month of this field)
 *   indicator  the indicator id (at most TG_SENTLOG_ID_MAX bytes)
 *   kind       firing | reminder | escalated | resolved
 *   status     tg_status_name of the status the event reported
 *   channel    the channel name (at most TG_SENTLOG_CHANNEL_MAX bytes)
 *   to         email: the recipients joined by ","; webhook: "-"
 *              (at most TG_SENTLOG_TO_MAX bytes: a longer list ends "...")
 *   message    the message id, 32 lower-case hex digits
 *   event      the event id, 32 lower-case hex digits, or "-"
 *   route      the alert's route key (alert.h: the route's name, "route N",
 *              or "admins" for the administrators' source alerts), or "-"
 *
 * A line starting with '#' is a comment (the writer puts one header line in
 * a new file).  Fields after the tenth are ignored, so that a later version
 * may add some.  Every text field is sanitised on write: TAB, CR, LF and
 * every other control character become a space, invalid UTF-8 becomes '?',
 * an empty field becomes "-"; so a line never exceeds TG_SENTLOG_LINE_MAX.
 *
 * The reader treats the file as untrusted (anyone with access to the state
 * directory may have edited it): a line that is not exactly of this form is
 * skipped and counted, never fatal; memory stays bounded whatever the file
 * holds (one line buffer, and caps on the indicators and messages counted).
 *
 * What counts as an alert for the report: firing, reminder and escalated
 * lines of any route but "admins" (a failing source told to the
 * administrators says nothing about the indicator's performance), each
 * (indicator, message) once — a replayed spool writes the same message id
 * again, and two events about one indicator in one digest are one message
 * to read.
 */
#ifndef TG_SENTLOG_H
#define TG_SENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alert.h"
#include "error.h"
#include "period.h"
#include "status.h"

#define TG_SENTLOG_FILE         "sent.log"
#define TG_SENTLOG_LINE_MAX     8192    /* longer lines are skipped as bad */
#define TG_SENTLOG_ID_MAX       128
#define TG_SENTLOG_CHANNEL_MAX  128
#define TG_SENTLOG_TO_MAX       4096
#define TG_SENTLOG_ROUTE_MAX    128
/* Bounds of the reader's memory: distinct indicators counted, and distinct
 * (indicator, message) pairs remembered to count each only once; past the
 * second, further pairs are counted without that check (see duplicates). */
#define TG_SENTLOG_MAX_IDS      16384
#define TG_SENTLOG_MAX_PAIRS    262144

/* One line.  Strings are borrowed.  to/n_to: the recipients of an email
 * message; NULL/0 for a webhook (written "-"). */
struct tg_sentlog_entry {
	int64_t wall;                 /* unix seconds; a negative value is written 0 */
	tg_time cycle;                /* civil time of the cycle */
	const char *indicator;        /* required, not empty */
	enum tg_alert_kind kind;
	enum tg_status status;
	const char *channel;          /* required, not empty */
	char *const *to;
	size_t n_to;
	const char *message;          /* required: 32 lower-case hex digits */
	const char *event;            /* 32 lower-case hex digits, or NULL ("-") */
	const char *route;            /* the route key (event->route), or NULL ("-") */
};

/*
 * Appends n lines to STATE_DIR/sent.log (created with mode 0640 and a
 * header comment; a symlink is refused): the whole batch in one write()
 * with O_APPEND, then fsync.  If the file does not end with LF (a write
 * torn by a crash or a full disk), the batch starts with one, so the torn
 * line stays one bad line and never swallows the first new one.
 * Every entry is checked before anything is written: a missing field, an
 * unknown kind or status, a malformed id or a cycle outside years 1..9999
 * gives -EINVAL and writes nothing.  n == 0 does nothing.
 * Returns 0, -EINVAL, or a negative errno (-ENOSPC, -EACCES...) with err
 * naming the file.
 */
int tg_sentlog_append(const char *state_dir, const struct tg_sentlog_entry *e, size_t n,
		      struct tg_error *err);

/* tg_sentlog_append in two steps: the lines of e[0..n) in a new buffer
 * (*out, *len; the entries checked as above, nothing made when one is not
 * valid), then lines already made appended to STATE_DIR/sent.log as above.
 * The lines may wait in between (the notifier keeps those of a cycle in
 * sent.log.pending until its state is saved): lines appended twice after a
 * crash are counted once (see the reader). */
int tg_sentlog_lines(const struct tg_sentlog_entry *e, size_t n, char **out, size_t *len,
		     struct tg_error *err);
int tg_sentlog_append_lines(const char *state_dir, const char *lines, size_t len,
			    struct tg_error *err);

/* The line of e as tg_sentlog_append writes it (LF included) into buf;
 * returns its length, or -EINVAL (e not valid) / -ENOSPC (size too small:
 * TG_SENTLOG_LINE_MAX is always enough). */
int tg_sentlog_format(const struct tg_sentlog_entry *e, char *buf, size_t size);

/* Alerts of one indicator within the days read. */
struct tg_sentlog_count {
	char id[TG_SENTLOG_ID_MAX + 1];
	unsigned alerts;              /* firing, reminder, escalated: each
					 (indicator, message) once */
	unsigned resolved;            /* "back on target" messages, the same way */
	tg_day last;                  /* day (of the cycle) of the latest alert;
					 meaningful when alerts > 0 */
	tg_day last_resolved;         /* meaningful when resolved > 0 */
};

struct tg_sentlog_counts {
	struct tg_sentlog_count *v;   /* sorted by id (strcmp) */
	size_t n;
	unsigned alerts, resolved;    /* totals over v (saturating) */
	size_t lines;                 /* lines read, comments included */
	size_t bad;                   /* lines skipped: malformed, too long,
					 no final LF, over TG_SENTLOG_MAX_IDS */
	size_t first_bad;             /* line number of the first bad line, 0 none */
	struct tg_error bad_reason;   /* "sent.log:LINE: what is wrong", quoting it */
	size_t duplicates;            /* lines of a pair already counted */
	unsigned admins;              /* lines of route "admins" in the days read
					 (not in v: source alerts, not indicator ones) */
	bool pairs_full;              /* TG_SENTLOG_MAX_PAIRS reached: later
					 pairs counted without deduplication */
};

/*
 * Reads STATE_DIR/sent.log and counts, per indicator id, the lines whose
 * cycle day is within [from, until] (both included).  A missing file (or a
 * missing state directory) gives zero counts.  Bad lines are skipped and
 * counted in out->bad, the first one described in out->bad_reason: the
 * caller logs it; it is not an error.
 * Returns 0, or a negative errno (-ENOMEM, -EACCES, -EIO...) with err; then
 * *out is empty.  *out is overwritten (not freed first): free it with
 * tg_sentlog_counts_free.
 */
int tg_sentlog_read(const char *state_dir, tg_day from, tg_day until,
		    struct tg_sentlog_counts *out, struct tg_error *err);

/* Same from an open stream (for tests and the fuzzer); name is used in
 * bad_reason and err. */
int tg_sentlog_read_stream(FILE *f, const char *name, tg_day from, tg_day until,
			   struct tg_sentlog_counts *out, struct tg_error *err);

/* The count of indicator id, or NULL when it has none in the days read. */
const struct tg_sentlog_count *tg_sentlog_counts_find(const struct tg_sentlog_counts *c,
						      const char *id);

void tg_sentlog_counts_free(struct tg_sentlog_counts *c);   /* empties it; NULL ok */

#endif
