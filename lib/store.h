/*
 * store.h — the measurements: each indicator's series, sorted by period, in
 * contiguous arrays, and the journal that makes them survive restarts.
 *
 * Feeds that only give the latest value keep their history because every new
 * or changed measurement is appended to STATE_DIR/journal.  The journal is a
 * text file, one record per line, each with a CRC-32 so that a torn or
 * corrupted line (a crash in the middle of a write) is detected and skipped
 * on replay, never fatal.  Appends are fsync'ed once per batch
 * (tg_store_commit); a batch bigger than 1 MiB (a bulk load) is written out
 * as it comes, not kept in memory, and made durable by the same fsync.  When the journal holds much more than the live data it
 * is compacted: rewritten to journal.tmp, fsync'ed, renamed over.
 *
 * Journal line format (version 1):
 *   "M1 <crc32 hex of the rest of the line after the space> <indicator>
 *    <YYYY-MM-DD period start> <value %.17g> <source> <loaded_at unix secs>\n"
 * fields separated by single TABs after the "M1 <crc>" prefix; indicator and
 * source never contain TAB, CR or LF (the store refuses them).
 * Precisely: "M1 " + 8 lowercase hex digits + TAB + body + "\n", where the
 * CRC-32 (zlib's) covers exactly the body (from after that TAB to before the
 * newline); source is empty when there is none; lines over 4 KiB are corrupt.
 * Compaction writes one record per live point carrying its series' current
 * source and last_loaded (the store keeps no per-point source).  A journal
 * found corrupt is kept as STATE_DIR/journal.corrupt-<unix time> (a hard
 * link, or a copy) before it is compacted.
 *
 * The store knows nothing about the config: indicators are strings.
 */
#ifndef TG_STORE_H
#define TG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "period.h"

/* A read-only view of one series, valid until the next change to the store. */
struct tg_series {
	size_t n;
	const tg_day *period;   /* strictly increasing period starts */
	const double *value;
	const char *source;     /* the source of the latest measurement put, or NULL */
	int64_t last_loaded;    /* loaded_at of the latest change (unix seconds), 0 if none */
};

struct tg_store;

struct tg_store *tg_store_new(void);
void tg_store_free(struct tg_store *st);

/*
 * Opens (creating if needed) STATE_DIR/journal and replays it into the store.
 * Torn or corrupt lines are counted (tg_store_stats) and skipped; if any were
 * found the journal is compacted right away so they do not accumulate.
 * Without this call the store is memory-only (used by tests, --dry-run).
 * Must be called on a store that has no journal and no data yet (-EBUSY
 * otherwise).  The journal is flock()ed: a second process (or store) on the
 * same STATE_DIR gets -EBUSY.  On any error the store stays empty and
 * memory-only; STATE_DIR must exist ("STATE_DIR/journal: <strerror>").
 */
int tg_store_open_journal(struct tg_store *st, const char *state_dir, struct tg_error *err);

/*
 * Replays STATE_DIR/journal into an empty store without writing, locking or
 * compacting anything (for --dry-run, and to read while a daemon runs); the
 * store stays memory-only.  A missing journal is not an error.  Corrupt lines
 * are skipped and counted as in tg_store_open_journal.
 */
int tg_store_read_journal(struct tg_store *st, const char *state_dir, struct tg_error *err);

/*
 * Inserts or updates (indicator, period) -> value.  Returns 1 if the store
 * changed (new period, or a different value), 0 if the same value was already
 * there, negative on error (bad id, ENOMEM).  A change is buffered for the
 * journal until tg_store_commit (or written, unsynced, once 1 MiB of them
 * wait; a failed write keeps them buffered for the commit to retry and
 * report).  source may be NULL.
 * Refused (-EINVAL): an empty indicator, one over 64 bytes or with a byte
 * < 0x20 (TAB, CR, LF, NUL...); a source over 255 bytes or with such a byte;
 * NaN or infinite values.  -ERANGE: a period outside the years 1..9999.
 * source "" is the same as NULL.  The series' source and last_loaded change
 * only when the store changes (not when 0 is returned).
 */
int tg_store_put(struct tg_store *st, const char *indicator, size_t ilen, tg_day period,
		 double value, const char *source, int64_t loaded_at, struct tg_error *err);

/*
 * For bulk loads: a reference to an indicator's series, so that repeated
 * puts skip the lookup by name.  The series is created (empty: no points,
 * tg_store_series gives NULL) when the store has none.  A reference stays
 * valid for the life of the store.  The id is checked as by tg_store_put.
 * Returns 0 and *ref, or -EINVAL / -ENOMEM with err.
 */
int tg_store_ref(struct tg_store *st, const char *indicator, size_t ilen, uint32_t *ref,
		 struct tg_error *err);

/* tg_store_put on the series of ref (from tg_store_ref): same results.
 * source may be the store's own copy of the name (tg_store_source), which
 * spares comparing it with the series' on every put. */
int tg_store_put_ref(struct tg_store *st, uint32_t ref, tg_day period, double value,
		     const char *source, int64_t loaded_at, struct tg_error *err);

/* The store's copy of a source name (kept for the life of the store), to
 * pass to tg_store_put_ref; NULL if the name is invalid or out of memory
 * (then pass the name itself). */
const char *tg_store_source(struct tg_store *st, const char *name);

/* A hint: a put on ref will likely come soon, and one on later after it (a
 * bulk load sorted by period touches every series in turn): fetches the end
 * of ref's series and what later's is, to hide the memory latency.
 * Changes nothing; invalid references are ignored. */
void tg_store_prefetch_ref(const struct tg_store *st, uint32_t ref, uint32_t later);

/* The series of ref, or NULL if it has no points (or ref is invalid). */
const struct tg_series *tg_store_series_ref(const struct tg_store *st, uint32_t ref);

/* Appends the buffered changes to the journal and fsyncs it (no-op without a
 * journal).  May compact.  On error the changes stay buffered; after a
 * failed fsync (whose lost pages a second fsync would not report) the next
 * commit rewrites the whole journal from memory (a compaction).
 * tg_store_free does not commit: uncommitted changes are lost, but for those
 * a bulk load had already written out (they are replayed like any other). */
int tg_store_commit(struct tg_store *st, struct tg_error *err);

/* Rewrites the journal with only the live data (atomic rename). */
int tg_store_compact(struct tg_store *st, struct tg_error *err);

/* The series of an indicator, or NULL if it has none. */
const struct tg_series *tg_store_series(const struct tg_store *st, const char *indicator);

/* Whether some series' latest measurement came from this source (feeds use
 * it to decide whether a "304 Not Modified" can be trusted). */
bool tg_store_has_source(const struct tg_store *st, const char *source);

struct tg_store_stats {
	size_t indicators, points;
	size_t journal_records;  /* lines in the journal file now */
	size_t replayed, skipped_corrupt;
	size_t corrupt_removed;  /* older journal.corrupt-* removed (TG_CORRUPT_KEEP kept) */
};
void tg_store_stats(const struct tg_store *st, struct tg_store_stats *out);

#endif
