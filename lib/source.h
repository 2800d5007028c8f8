/*
 * source.h — what every kind of source shares: the sink measurements go to,
 * and the counts of one run.
 *
 * A source knows a format (CSV, JSON) and a transport (file, HTTP); it does
 * not know the indicators: every (indicator, date, value) goes to the sink,
 * which says whether the indicator is known and whether the date fits it.
 * Bad records are reported through the sink with their location
 * ("file:line: reason", "URL: $.data[12].value: reason") and skipped; records
 * for unknown indicators are counted and reported once per run.
 */
#ifndef TG_SOURCE_H
#define TG_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "period.h"

#define TG_SINK_ACCEPTED 0
#define TG_SINK_UNKNOWN 1   /* not an indicator of the config: counted, reported once */

struct tg_source_sink {
	/* Returns TG_SINK_ACCEPTED, TG_SINK_UNKNOWN, or a negative code with
	 * err saying why the record is bad (the source adds the location). */
	int (*measure)(void *ctx, const struct tg_source *src, const char *indicator, size_t len,
		       const struct tg_date *date, double value, struct tg_error *err);
	/* A problem worth a log line: the message includes its location. */
	void (*warn)(void *ctx, const struct tg_source *src, const char *msg);
	void *ctx;
};

struct tg_source_stats {
	size_t files;        /* files (or HTTP bodies) read */
	size_t rows;         /* data records seen (not headers, not blank lines) */
	size_t measurements; /* accepted by the sink */
	size_t missing;      /* values with a missing marker ("n.d.", "", null) */
	size_t bad_rows;     /* records (or cells, in wide files) skipped as bad */
	size_t unknown_rows; /* records for indicators not in the config */
	size_t unknown_ids;  /* distinct such indicators (counted up to 10000) */
};

/* Indicator codes are compared as written, less the spaces and tabs around
 * them that spreadsheets and hand-made feeds leave: the same rule for every
 * source.  Adjusts *s and *len. */
void tg_source_trim_id(const char **s, size_t *len);

/* a[0..n) == b[0..n), for the short texts of a row (codes, period cells):
 * cheaper than a call to memcmp when n is 8 to 16. */
static inline bool tg_source_same_bytes(const char *a, const char *b, size_t n)
{
	uint64_t x, y, u, v;

	if (n < 8 || n > 16)
		return memcmp(a, b, n) == 0;
	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	memcpy(&u, a + n - 8, 8);
	memcpy(&v, b + n - 8, 8);
	return ((x ^ y) | (u ^ v)) == 0;
}

/*
 * The distinct unknown indicators of one run, so that they are reported once
 * ("N rows for M indicators not in the configuration (A, B, ...)") and not
 * once per row.  Bounded: at most 10000 ids are remembered.
 */
struct tg_unknown_ids;

struct tg_unknown_ids *tg_unknown_ids_new(void);
/* Counts one record for id (stats->unknown_rows, and unknown_ids when new). */
void tg_unknown_ids_add(struct tg_unknown_ids *u, const char *id, size_t len,
			struct tg_source_stats *stats);
/* One warning through the sink if any were seen: where is the file or URL. */
void tg_unknown_ids_report(const struct tg_unknown_ids *u, const struct tg_source_sink *sink,
			   const struct tg_source *src, const char *where,
			   const struct tg_source_stats *stats);
void tg_unknown_ids_free(struct tg_unknown_ids *u);

#endif
