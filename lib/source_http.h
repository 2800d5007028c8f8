/*
 * source_http.h — an HTTP feed: one URL fetched on the loop through the
 * HTTP engine, its body read as CSV or JSON into the sink.
 *
 * Conditional GET: the ETag and Last-Modified of the last good answer, and
 * the SHA-256 of its body, are kept per source in STATE_DIR/http-cache.json;
 * the next request sends If-None-Match / If-Modified-Since, and a 304, or a
 * body identical to the last one, costs no parsing (the data is already in
 * the store).  Validators are used only while the store still holds data of
 * this source, so a lost journal is refilled by a full fetch, and only when
 * they were kept under the same fingerprint: the URL, the request headers,
 * the format settings and the indicators (ids, periods, `source`), so that
 * after a change to the configuration (an indicator added that the feed
 * already carries) the feed is read again.  The file holds the URL redacted.
 * A run updates the cache in memory; it reaches the disk through
 * tg_source_http_cache_save, which the engine calls only after the journal
 * commit succeeded (validators on disk never claim values the journal lost).
 *
 * A transfer is given up past the source's `timeout`, or earlier when the
 * body trickles in at under 1 KiB/s for a third of it.
 *
 * Retries within one run: connection errors, timeouts and 5xx are tried
 * again `retries` times with exponential backoff and jitter (1 s, 2 s, 4 s ...
 * ±50 %, at most 60 s); a 429 waits for its Retry-After (when it is under a minute); other
 * 4xx are not retried, and the error says what to check (401/403: the
 * credentials file).  Then the run fails: its indicators show `error` until
 * the next run.
 */
#ifndef TG_SOURCE_HTTP_H
#define TG_SOURCE_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "http.h"
#include "source.h"

struct tg_source_http_cache;

/* STATE_DIR/http-cache.json, read at start (a missing or damaged file is an
 * empty cache, with a warning for the damaged one).  writable = false for
 * --dry-run: the file is never written. */
struct tg_source_http_cache *tg_source_http_cache_load(const char *state_dir, bool writable);
void tg_source_http_cache_free(struct tg_source_http_cache *c);
/* Writes the file atomically if a run changed the cache since the last save;
 * 0 without a change, when not writable, or for c NULL. */
int tg_source_http_cache_save(struct tg_source_http_cache *c, struct tg_error *err);

struct tg_source_http_run;

/* Called once when the run ends: rc 0, or negative with err set.
 * not_modified: 304 or identical body (nothing was parsed).  The run is
 * already freed: do not cancel it from here. */
typedef void (*tg_source_http_done_fn)(void *ctx, int rc, bool not_modified,
				       const struct tg_error *err);

struct tg_source_http_params {
	sd_event *event;
	struct tg_http *http;
	struct tg_source_http_cache *cache;
	const struct tg_config *cfg;     /* for secrets: tg_config_secret_path */
	const struct tg_source *src;
	const struct tg_source_sink *sink;
	struct tg_source_stats *stats;   /* reset at start, filled during the run */
	bool have_data;                  /* the store holds values from this source */
	tg_source_http_done_fn done;
	void *ctx;
};

/* Starts a run; everything in params must outlive it.  Returns the run, or
 * NULL with err (secrets file unreadable, readable or writable by everyone;
 * out of memory): then done is not called. */
struct tg_source_http_run *tg_source_http_start(const struct tg_source_http_params *p,
						struct tg_error *err);
/* Stops a run in progress; done is not called.  NULL ok. */
void tg_source_http_cancel(struct tg_source_http_run *run);

#endif
