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

#include <stddef.h>

#include "config.h"
#include "error.h"
#include "period.h"

#define TG_SINK_ACCEPTED 0
#define TG_SINK_UNKNOWN 1   /* not an indicator of the config: counted, reported once */

struct tg_source_sink {
	/* Returns TG_SINK_ACCEPTED, TG_SINK_UNKNOWN, or a negative code with
	 * err saying why the row is bad (the source adds file:line). */
	int (*measure)(void *ctx, const struct tg_source *src, const char *indicator, size_t len,
		       const struct tg_date *date, double value, struct tg_error *err);
	/* A problem worth a log line: message includes its location. */
	void (*warn)(void *ctx, const struct tg_source *src, const char *msg);
	void *ctx;
};

struct tg_source_stats {
	size_t files;        /* files read */
	size_t rows;         /* data rows seen (not headers, not blank lines) */
	size_t measurements; /* accepted by the sink */
	size_t missing;      /* cells with a missing marker ("n.d.", "") */
	size_t bad_rows;     /* rows (or cells, in wide files) skipped as bad */
	size_t unknown_rows; /* rows for indicators not in the config */
	size_t unknown_ids;  /* distinct such indicators (counted up to 10000) */
};

/* Reads every file of the source.  Returns 0, or a negative code with err
 * when the source failed (what was read before the failure was delivered). */
int tg_source_csv_run(const struct tg_source *src, const struct tg_source_sink *sink,
		      struct tg_source_stats *stats, struct tg_error *err);

#endif
