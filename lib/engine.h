/*
 * engine.h — one cycle of work over a loaded configuration: read the
 * sources into the store, then evaluate every indicator.
 *
 * The engine owns the store (and so the journal) and the last result of each
 * source and indicator; the configuration is borrowed and must outlive it.
 * It does no scheduling: the daemon's event loop (and `traguardo once`, which
 * runs the same loop for one cycle) decides when to call it.
 */
#ifndef TG_ENGINE_H
#define TG_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "error.h"
#include "evaluate.h"
#include "source_csv.h"
#include "store.h"

struct tg_source_state {
	bool ran;
	bool failed;
	bool not_modified;         /* HTTP: 304 or the same body: nothing parsed */
	char error[TG_ERROR_MAX];
	struct tg_source_stats stats;
	int64_t last_run;          /* unix seconds of the last run */
};

struct tg_engine;

/* What the engine does with the journal in cfg->daemon.state_dir. */
enum tg_engine_journal {
	TG_JOURNAL_NONE = 0,  /* memory only (tests) */
	TG_JOURNAL_READ,      /* replay it, write nothing (--dry-run): same history
				 as a real run, no change on disk */
	TG_JOURNAL_WRITE,     /* replay it, lock it, append to it; the directory
				 must exist */
};

/* event: the loop HTTP sources run on (a reference is taken); may be NULL
 * when the configuration has no HTTP source (then tg_engine_reconfigure
 * cannot add one). */
struct tg_engine *tg_engine_new(const struct tg_config *cfg, enum tg_engine_journal journal,
				sd_event *event, struct tg_error *err);
void tg_engine_free(struct tg_engine *e);

/* Runs one CSV source now (index in cfg->sources; -EINVAL when out of range
 * or not a CSV source); its
 * measurements go into the store and are committed to the journal.
 * wall_clock: unix seconds, recorded as loaded_at.  Returns 0 or the source's
 * error (also kept in its state).  A failed commit does not fail the source
 * (the values stay buffered for the next commit): it is logged and shown by
 * tg_engine_journal_failed.
 *
 * Rows for an indicator whose `source` setting names another source are bad
 * rows of this source (reported with file:line, counted in bad_rows). */
int tg_engine_run_source(struct tg_engine *e, size_t source, int64_t wall_clock);

typedef void (*tg_engine_done_fn)(void *ctx, size_t source);

/* Starts a run of any kind of source: a CSV source runs at once and done is
 * called before this returns; an HTTP source runs on the event loop and done
 * is called from it when the run has ended (after its retries), or before
 * this returns when the run cannot start (a secrets file refused).  Either
 * way the source's state is up to date when done is called.  After each run
 * the store is committed to the journal and then, only if that succeeded,
 * the HTTP validators are saved (STATE_DIR/http-cache.json).  Returns 0, -EINVAL
 * (no such source) or -EBUSY (a run of this source is in progress). */
int tg_engine_start_source(struct tg_engine *e, size_t source, int64_t wall_clock,
			   tg_engine_done_fn done, void *ctx);

/* Evaluates every indicator at `now` (civil local time).  An indicator is
 * `error` when the source that feeds it failed in its last run: its `source`
 * setting, else the source of its latest stored value; an indicator without
 * either and without any value is `error` when any source failed (its data
 * may be stuck there). */
void tg_engine_evaluate(struct tg_engine *e, tg_time now);

const struct tg_eval_result *tg_engine_results(const struct tg_engine *e); /* n_indicators */
const struct tg_source_state *tg_engine_source_state(const struct tg_engine *e, size_t source);
const struct tg_store *tg_engine_store(const struct tg_engine *e);
/* Runs in progress (HTTP sources started and not yet ended). */
size_t tg_engine_running(const struct tg_engine *e);

/* Stops every run in progress (their done callbacks are not called; what
 * they had read so far is kept) and commits the store to the journal.
 * For shutdown: returns 0 or the commit's error. */
int tg_engine_cancel_all(struct tg_engine *e, struct tg_error *err);

/* SIGHUP: switches to cfg (already loaded and valid; borrowed like the first
 * one, and the old one may be freed once this returns 0).  The store, its
 * journal and the HTTP validators are kept; the state of a source is kept
 * when a source of the same name exists in cfg; every run in progress is
 * cancelled (a run borrows its configuration), after a commit of what it had
 * read.  Results are cleared: call tg_engine_evaluate next.  -EINVAL when
 * cfg names another state_dir (that needs a restart), -ENOMEM: then nothing
 * has changed and the old configuration is still in force. */
int tg_engine_reconfigure(struct tg_engine *e, const struct tg_config *cfg, struct tg_error *err);

/* True when the last tg_engine_run_source could not commit to the journal
 * (the state directory is not usable: disk full, permissions). */
bool tg_engine_journal_failed(const struct tg_engine *e);

#endif
