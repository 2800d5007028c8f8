/*
 * source_csv.h — a CSV source: one file or a glob of files, long or wide
 * layout, read with the source's dialect, turned into measurements.
 *
 * The source knows the file format; it does not know the indicators: every
 * (indicator, date, value) goes to the sink, which says whether the
 * indicator is known and whether the date fits it.  Bad rows are reported
 * through the sink as "file:line: reason" and skipped (the first ones one by
 * one, then a count per file); rows for unknown indicators are counted and
 * reported once per run.  A file that cannot be read at all (missing, not a
 * regular file, missing column) makes the run fail, after the other files of
 * the glob have been read.
 */
#ifndef TG_SOURCE_CSV_H
#define TG_SOURCE_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "period.h"
#include "source.h"

/* Reads every file of the source.  Returns 0, or a negative code with err
 * when the source failed (what was read before the failure was delivered). */
int tg_source_csv_run(const struct tg_source *src, const struct tg_source_sink *sink,
		      struct tg_source_stats *stats, struct tg_error *err);

/* The same for a CSV document in memory (an HTTP body): name (the redacted
 * URL) takes the place of the file name in messages.  buf need not be
 * NUL-terminated. */
int tg_source_csv_parse_mem(const struct tg_source *src, const char *buf, size_t len,
			    const char *name, const struct tg_source_sink *sink,
			    struct tg_source_stats *stats, struct tg_error *err);

/* Whether a source's records are parsed in a thread of their own (the
 * default) or in the caller's; for tests and measurements.  Not to be
 * changed while a source runs. */
void tg_source_csv_threads(bool on);

/* With a thread, the value cells of a batch are parsed by the reader thread
 * when the caller's side is two batches behind, else by the caller's side;
 * for tests: every other batch on each side instead.  Not to be changed
 * while a source runs. */
void tg_source_csv_alternate(bool on);

#endif
