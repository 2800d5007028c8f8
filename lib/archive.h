/*
 * archive.h — evidence for audits: measurements, evaluations and
 * notification state changes written to PostgreSQL (sql/schema.sql),
 * through a durable spool so that nothing is lost while the database is
 * away and nothing is written twice.
 *
 * Records go first to STATE_DIR/archive/ (the spool), then to PostgreSQL in
 * batches, on the sd-event loop, without blocking (libpq's asynchronous
 * API); a spool file is deleted only after the server has committed the
 * batch that held it.  The tg_archive_measurements / _evaluations /
 * _notification calls only write the spool (synchronous, a few small
 * files, fsync'ed) and start a batch if the connection is idle; everything
 * that talks to the server happens later, on the loop.
 *
 * Spool (format 1): one file per call, STATE_DIR/archive/NNNNNNNNNNNNNNNNNNNN.jsonl
 * (20-digit sequence number; a call that yields more than 2000 records
 * writes several files), written with tg_fs_write_atomic (temporary file,
 * fsync, rename, fsync of the directory, mode 0640): a file is there whole
 * or not at all.  Each line is one JSON object with "kind" =
 * "measurement" | "evaluation" | "notification" and exactly the columns of
 * its table (timestamps as unix seconds, dates as "YYYY-MM-DD", as_of as
 * "YYYY-MM-DD HH:MM:SS").  Files are sent oldest first, several per batch
 * (at most 64 files and 4 MiB).  A file that cannot be read or parsed, or
 * that the server refuses for its data (SQLSTATE class 22 or 23, after the
 * batch was retried file by file), is moved to STATE_DIR/archive/rejected/
 * and logged: it never blocks the others.  Bounded: at most 256 MiB and
 * 100,000 files; beyond that new records are refused (-ENOSPC) and counted
 * as dropped (measurements are offered again by the next call, see below).
 * The directory is flock()ed: one daemon per spool.
 *
 * Nothing doubled: each batch is ONE statement (three INSERT ... SELECT
 * FROM jsonb_to_recordset ... ON CONFLICT DO NOTHING in data-modifying
 * CTEs), committed or not as a whole; the session runs with
 * synchronous_commit = on.  A batch whose outcome is unknown (connection
 * lost while waiting for the answer) is sent again: unique keys catch exact
 * repeats, and a measurement or evaluation equal to the latest row of its
 * indicator (and period) is skipped, so a restart, which re-offers
 * everything, or a failover adds no row.
 *
 * Connection: conninfo and password_file from `archive` (the secret is
 * read again at each connection, so a renewed one needs no restart);
 * client_encoding UTF8, application_name "traguardo-archive",
 * statement_timeout 60 s.  At each connection the daemon reads
 * traguardo.schema_version: a different version (or no schema) is logged as
 * an error naming both versions and sql/schema.sql, and records wait.  A
 * connection that fails or is lost is retried after 1 s, 2 s, 4 s ... at
 * most 60 s.  Problems found on the loop are logged (tg_log, "archive: ..."),
 * each new one once, and the return to normal once.
 *
 * Wiring (daemon):
 *   - start (`run`, `once` without --dry-run, cfg->archive.set): after the
 *     state directory exists, tg_archive_new; a failure is a start-up error;
 *   - after the sources of a cycle ran: tg_archive_measurements(a, cfg,
 *     tg_engine_store(e), wall);
 *   - after tg_engine_evaluate: tg_archive_evaluations(a, cfg,
 *     tg_engine_results(e), now, wall);
 *   - at each outbox change: tg_archive_notification (put -> SPOOLED, a
 *     temporary failure -> RETRY, done -> DELIVERED, moved to failed/ ->
 *     FAILED);
 *   - with `ha`: make these three calls only while tg_ha_active(); keep the
 *     archive alive in both roles (a standby still drains its spool);
 *   - errors of these calls: log them (err), never stop the cycle;
 *   - `traguardo status` / STATUS=: tg_archive_status_line;
 *   - `once`: tg_archive_flush, then run the loop until tg_archive_pending
 *     is 0 or a deadline (say 30 s) passes; what is left waits for the next
 *     run;
 *   - stop: tg_archive_free (an unfinished batch is sent by the next start).
 */
#ifndef TG_ARCHIVE_H
#define TG_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "error.h"
#include "evaluate.h"
#include "period.h"
#include "store.h"

/* The traguardo.schema_version this code writes to (sql/schema.sql). */
#define TG_ARCHIVE_SCHEMA_VERSION 1

struct tg_archive;

/* cfg->archive must be set.  Nothing of cfg is kept (conninfo, the
 * password file's resolved path and the state directory are copied): on
 * SIGHUP keep the archive when `archive` did not change, else free it and
 * make a new one (the spool is on disk: nothing is lost).  Creates
 * STATE_DIR/archive/ and rejected/ in it (mode 0750), locks it, scans the
 * spool, removes temporary leftovers of a crash, and starts connecting on
 * ev (a reference is taken).  Fails (NULL, err) when the spool cannot be
 * opened or is locked by another process (-EBUSY), or when password_file is
 * refused (see secret.h); a server that is down is NOT an error. */
struct tg_archive *tg_archive_new(const struct tg_config *cfg, sd_event *ev,
				  struct tg_error *err);
/* Closes the connection; a batch in flight is abandoned (its files stay in
 * the spool and are sent by the next process).  NULL ok. */
void tg_archive_free(struct tg_archive *a);

/*
 * Spools every point of the configured indicators' series that is new or
 * changed since the previous call (the archive remembers, in memory, what
 * it spooled: the first call after tg_archive_new spools everything, and
 * the server skips what it already has).  Call after the sources have run,
 * with the engine's store.  Each point carries its series' source (name;
 * provenance = the source's path, query or URL) and its series'
 * last_loaded as loaded_at (wall, unix seconds, when 0).  Returns the
 * number of records spooled, or negative with err (the spool could not be
 * written, or is full: then nothing is remembered, and the next call offers
 * the same points again).
 */
int tg_archive_measurements(struct tg_archive *a, const struct tg_config *cfg,
			    const struct tg_store *st, int64_t wall, struct tg_error *err);

/*
 * Spools the evaluation of every indicator whose status, value or period
 * differs from the last one this archive spooled for it (all of them on
 * the first call).  res: cfg->n_indicators results (tg_engine_results);
 * now: the civil time of the evaluation (as_of); wall: unix seconds
 * (evaluated_at).  Names, department, thresholds in force and the forecast
 * come from cfg and res.  Returns the number spooled or negative with err
 * (then nothing is remembered: the next call offers the current state
 * again).
 */
int tg_archive_evaluations(struct tg_archive *a, const struct tg_config *cfg,
			   const struct tg_eval_result *res, tg_time now, int64_t wall,
			   struct tg_error *err);

/* Forgets what was spooled: the next tg_archive_measurements and
 * tg_archive_evaluations offer everything again, as after tg_archive_new.
 * For a daemon that becomes the active one (ha): while it was not, the
 * other may have archived states this one never saw. */
void tg_archive_forget(struct tg_archive *a);

enum tg_archive_note_status {
	TG_ARCHIVE_SPOOLED = 0,   /* put in the outbox (attempts 0) */
	TG_ARCHIVE_RETRY,         /* a temporary failure; attempts so far */
	TG_ARCHIVE_DELIVERED,     /* accepted by the server (delivered_at = at) */
	TG_ARCHIVE_FAILED,        /* moved to outbox/failed/ */
};

/* One state change of a message (everything borrowed for the call).
 * Strings are cleaned for the database (invalid UTF-8 replaced, cut at
 * 4096 bytes; recipient and event lists at 1000 entries). */
struct tg_archive_note {
	const char *message_id;          /* required: the outbox id */
	const char *channel;             /* required */
	const char *const *recipients;   /* email addresses; none for webhooks */
	size_t n_recipients;
	const char *const *events;       /* alert event ids in the message */
	size_t n_events;
	const char *subject;             /* NULL = "" */
	enum tg_archive_note_status status;
	int attempts;                    /* >= 0 */
	const char *reply;               /* the server's answer or the error; may be NULL */
	int64_t at;                      /* unix seconds of the change */
};

/* Spools one notification state change (one small file: call it at each
 * change, the spool fsync makes it durable).  Returns 1 or negative with
 * err (-EINVAL for a missing id or channel, -ENOSPC when the spool is
 * full: the record is dropped and counted). */
int tg_archive_notification(struct tg_archive *a, const struct tg_archive_note *n,
			    struct tg_error *err);

/* Connected and idle: starts a batch now if the spool holds any.
 * Disconnected: connects now instead of waiting for the backoff.  Batches
 * also start by themselves after each spooling call and after each commit,
 * so the daemon needs this only to hurry (e.g. `traguardo once`, which then
 * runs the loop until tg_archive_pending is 0 or a deadline passes). */
void tg_archive_flush(struct tg_archive *a);

/* Records in the spool, including those of a batch in flight. */
size_t tg_archive_pending(const struct tg_archive *a);
/* A connection attempt or a batch is in flight. */
bool tg_archive_busy(const struct tg_archive *a);
/* Connected, with the right schema version. */
bool tg_archive_connected(const struct tg_archive *a);

struct tg_archive_stats {
	size_t pending;          /* records in the spool */
	size_t files;            /* spool files */
	uint64_t written;        /* rows inserted since tg_archive_new */
	uint64_t duplicates;     /* records the server already had (skipped) */
	uint64_t dropped;        /* records refused because the spool was full or unwritable */
	uint64_t rejected;       /* records in files moved to rejected/ */
};
void tg_archive_stats(const struct tg_archive *a, struct tg_archive_stats *out);

/* For `traguardo status` and STATUS=, English, one line:
 *   "archive connected, 0 waiting"
 *   "archive disconnected (<last error>), 1234 waiting, 12 dropped"
 * Returns buf (size >= 1; cut to size). */
const char *tg_archive_status_line(const struct tg_archive *a, char *buf, size_t size);

/* Tests: the reconnection backoff (first delay, maximum), in microseconds. */
void tg_archive_set_backoff(struct tg_archive *a, uint64_t first_usec, uint64_t max_usec);

#endif
