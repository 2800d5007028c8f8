/*
 * source_pg.h — a PostgreSQL query as a source: one connection per run,
 * driven on the sd-event loop without blocking (libpq's asynchronous API),
 * each result row handed to the sink as it arrives.
 *
 * The query gets one parameter when it mentions $1: the first day wanted,
 * as text 'YYYY-MM-DD' (local today minus the source's `since`; write
 * $1::date).  Rows come in single-row mode, so a result of millions of rows
 * never sits in memory.  Columns are found by name (`columns`), else the
 * first three are indicator, period, value.  The period may be a date, a
 * timestamp (its date as written), text (tg_date_parse with the dialect's
 * date_format) or an integer year; the value any numeric type (read in C
 * syntax) or text (the dialect's number format); NULL is a missing value.
 *
 * The session runs with statement_timeout = the source's timeout, which is
 * also the connect deadline (libpq does not enforce connect_timeout in
 * non-blocking mode: a timer does).  Errors name the source and give the
 * SQLSTATE and the server's message; the password (password_file) is never
 * in a message.
 */
#ifndef TG_SOURCE_PG_H
#define TG_SOURCE_PG_H

#include <systemd/sd-event.h>

#include "config.h"
#include "period.h"
#include "source.h"

struct tg_source_pg_run;

/* Called once when the run ends: rc 0, or negative with err set.  The run
 * is already freed: do not cancel it from here. */
typedef void (*tg_source_pg_done_fn)(void *ctx, int rc, const struct tg_error *err);

struct tg_source_pg_params {
	sd_event *event;
	const struct tg_config *cfg;     /* for password_file: tg_config_secret_path */
	const struct tg_source *src;     /* type TG_SOURCE_PG */
	const struct tg_source_sink *sink;
	struct tg_source_stats *stats;   /* reset at start, filled during the run */
	tg_day today;                    /* local civil date of the run: $1 = today - since */
	tg_source_pg_done_fn done;
	void *ctx;
};

/* Starts a run; everything in params must outlive it.  Returns the run, or
 * NULL with err (password file unreadable or readable by everyone, out of
 * memory, libpq could not start): then done is not called. */
struct tg_source_pg_run *tg_source_pg_start(const struct tg_source_pg_params *p,
					    struct tg_error *err);
/* Stops a run in progress (closes the connection); done is not called.  NULL ok. */
void tg_source_pg_cancel(struct tg_source_pg_run *run);

#endif
