/*
 * source_csv.c — reads a CSV source (see source_csv.h).
 *
 * Streaming: one record at a time from lib/csv, so a 300 MB export costs the
 * memory of its longest line.  The header decides the columns once per file;
 * every later row is checked against it and either becomes measurements or
 * a located complaint.  Complaints are capped per file so that a broken
 * export of a million rows yields a dozen readable lines, not a million.
 */
#include "source_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"
#include "number.h"

#define WARN_ROWS_PER_FILE 10

/* The delivering side: the sink, the counts and the warnings, in the order
 * of the file. */
struct run {
	const struct tg_source *src;
	const struct tg_source_sink *sink;
	struct tg_source_stats *stats;
	struct tg_unknown_ids *unknown;
	char qfile[1024];  /* the current file's name, quoted for messages */
	size_t file_bad;   /* bad rows in the current file */
	int64_t deadline;  /* CLOCK_MONOTONIC ms by which the run must end; 0: none */
};

/*
 * What the reading side hands to the delivering side: a measurement, a bad
 * row (line and reason, or a whole message from the CSV reader), or a
 * warning.  With a reader thread they travel in batches (the text, ids and
 * messages, in the batch's own buffer); without one each is delivered at
 * once.
 */
enum item_kind { IT_MEASURE, IT_MEASURE_CELL, IT_BAD, IT_BAD_RECORD, IT_WARN };

/* IT_MEASURE_CELL: a measurement whose value cell travels as text after the
 * id (vlen bytes and a NUL) and is parsed on the delivering side, which
 * usually has the time: the reading side is usually the slower of the two
 * (see pass_cell). */
struct item {
	unsigned long line;
	uint32_t len;      /* of the id or the message: the next one in the text */
	unsigned char kind;
	uint16_t vlen;     /* IT_MEASURE_CELL: of the value cell after the id */
	struct tg_date date;
	double value;
};

/* Bytes an item takes in its batch's text. */
static inline size_t item_text(const struct item *it)
{
	return it->len + 1 + (it->kind == IT_MEASURE_CELL ? (size_t)it->vlen + 1 : 0);
}

/* Small enough that the batches in flight stay in the caches (the text, ids
 * and messages, NUL-terminated one after the other) */
#define BATCH_ITEMS 2048
#define BATCH_TEXT (48 * 1024)
#define N_BATCHES 4

struct batch {
	struct item item[BATCH_ITEMS];
	size_t n;
	size_t rows, missing;  /* counted while it was filled */
	char *text;
	size_t tlen, tcap;
};

/* The batches between the reader thread and the caller's: `full` in file
 * order, `empty` to be filled again. */
struct pipeline {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *full[N_BATCHES], *empty[N_BATCHES];
	size_t full_head, n_full, n_empty;
	bool done;        /* the reader thread has handed over its last batch */
	bool cancel;      /* the delivering side stopped (timeout): stop reading */
	struct batch all[N_BATCHES];
};

/* The reading side: the CSV reader, the columns, the numbers. */
struct reading {
	struct run *run;          /* read-only here when threaded: src, qfile, deadline */
	struct tg_csv_reader *rd;
	size_t rows, missing;     /* not yet added to the run's counts */
	size_t rows_before;       /* the run's rows before this file */
	size_t rows_seen;         /* this file's rows */
	struct pipeline *pipe;    /* NULL: each item delivered at once */
	struct batch *cur;        /* being filled */
	int rc;                   /* < 0: stopped, err says why */
	struct tg_error err;
	struct tg_error nerr;     /* why the last cell is not a number */
	bool finished;            /* the input was read to its end */
	bool parse_here;          /* this batch's value cells are parsed here (pass_cell) */
	/* the last period cell read and its date: an export sorted by period
	 * has the same one on thousands of rows in a row */
	char last_period[32];
	size_t last_plen;  /* 0: none */
	struct tg_date last_date;
};

/* How often (in records) the clock is read: cheap next to parsing them. */
#define DEADLINE_EVERY 4096

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void warnf(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct run *r, const char *fmt, ...)
{
	char msg[TG_ERROR_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->sink->warn != NULL)
		r->sink->warn(r->sink->ctx, r->src, msg);
}

static void bad_row(struct run *r, unsigned long line, const char *why)
{
	r->stats->bad_rows++;
	if (++r->file_bad <= WARN_ROWS_PER_FILE)
		warnf(r, "%s:%lu: %s; row skipped", r->qfile, line, why);
}

static bool blank_record(const struct tg_csv_record *rec)
{
	if (rec->lens[0] > 0 && rec->fields[0][0] != ' ' && rec->fields[0][0] != '\t')
		return false;  /* nearly every record */
	for (size_t i = 0; i < rec->nfields; i++)
		for (size_t j = 0; j < rec->lens[i]; j++)
			if (rec->fields[i][j] != ' ' && rec->fields[i][j] != '\t')
				return false;
	return true;
}

static inline void deliver(struct run *r, const struct item *it, const char *text, size_t *missing);
static void hand_over(struct reading *g, bool last);

/* Appends text and its NUL to the batch's text, which has the room. */
static inline void put_text(struct batch *b, const char *text, size_t len)
{
	char *t = b->text + b->tlen;

	if (len >= 8 && len <= 16) {
		/* a code or a number: two words (overlapping) instead of a call */
		memcpy(t, text, 8);
		memcpy(t + len - 8, text + len - 8, 8);
	} else if (len >= 4 && len < 8) {
		memcpy(t, text, 4);
		memcpy(t + len - 4, text + len - 4, 4);
	} else {
		memcpy(t, text, len);
	}
	t[len] = '\0';
	b->tlen += len + 1;
}

/* The item written at cur->item[cur->n] (its text put) is in the batch; a
 * full batch goes over to the delivering side. */
static inline void item_done(struct reading *g)
{
	struct batch *b = g->cur;

	if (++b->n == BATCH_ITEMS || b->tlen >= BATCH_TEXT)
		hand_over(g, false);
}

/* Hands an item to the delivering side (text: the id or the message). */
static void emit(struct reading *g, struct item *it, const char *text, size_t len)
{
	struct batch *b;

	if (len > UINT32_MAX - 1) {
		/* a row that cannot be carried is a row that cannot be read */
		if (g->rc == 0)
			g->rc = tg_error_setc(&g->err, -E2BIG, "%s: a field of %zu bytes", g->run->qfile, len);
		return;
	}
	it->len = (uint32_t)len;
	if (g->pipe == NULL) {
		deliver(g->run, it, text, &g->missing);
		return;
	}
	b = g->cur;
	if (len + 1 > b->tcap - b->tlen) {
		size_t ncap = b->tcap * 2;
		char *t;

		while (ncap - b->tlen < len + 1)
			ncap *= 2;
		t = realloc(b->text, ncap);
		if (t == NULL) {
			/* a row that cannot be carried is a row that cannot be read */
			if (g->rc == 0)
				g->rc = tg_error_setc(&g->err, -ENOMEM, "%s: out of memory", g->run->qfile);
			return;
		}
		b->text = t;
		b->tcap = ncap;
	}
	b->item[b->n] = *it;
	put_text(b, text, len);
	item_done(g);
}

static void emit_bad(struct reading *g, unsigned long line, const char *why)
{
	struct item it = { .kind = IT_BAD, .line = line };

	emit(g, &it, why, strlen(why));
}

static void emit_warn(struct reading *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit_warn(struct reading *g, const char *fmt, ...)
{
	char msg[TG_ERROR_MAX + 256];
	struct item it = { .kind = IT_WARN };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(g, &it, msg, strlen(msg));
}

/* A cell that is not a number (apart from measure(): its buffer would cost
 * every cell a stack canary). */
static void bad_number(struct reading *g, unsigned long line, const char *column)
	__attribute__((noinline));
static void bad_number(struct reading *g, unsigned long line, const char *column)
{
	char why[TG_ERROR_MAX + 64];

	if (column != NULL)
		snprintf(why, sizeof(why), "column '%s': %s", column, g->nerr.msg);
	else
		snprintf(why, sizeof(why), "%s", g->nerr.msg);
	emit_bad(g, line, why);
}

static void emit_measure_item(struct reading *g, unsigned long line, const char *id, size_t idlen,
			      const struct tg_date *date, double value) __attribute__((noinline));
static void emit_measure_item(struct reading *g, unsigned long line, const char *id, size_t idlen,
			      const struct tg_date *date, double value)
{
	struct item it = { .kind = IT_MEASURE, .line = line, .date = *date, .value = value };

	emit(g, &it, id, idlen);
}

/* The next item of the batch, a measurement of id (its text put; the
 * caller fills the rest and calls item_done).  The batch has the room. */
static inline struct item *new_measure(struct batch *b, unsigned long line, const char *id,
				       size_t idlen, enum item_kind kind, const struct tg_date *date)
{
	struct item *it = &b->item[b->n];

	it->line = line;
	it->len = (uint32_t)idlen;
	it->kind = (unsigned char)kind;
	it->date = *date;
	put_text(b, id, idlen);
	return it;
}

/* The common value cell of the long layout, with a reader thread: straight
 * into the batch as text, after its id, to be parsed by the delivering side
 * (deliver(), IT_MEASURE_CELL), which usually has the time.  false: measure()
 * it here (no thread, a long id or cell, a full text buffer, or a batch
 * taken while the delivering side was behind: hand_over).  Inline: a call
 * with measure()'s frame costs the row more than the rest. */
static inline __attribute__((always_inline)) bool pass_cell(struct reading *g, unsigned long line,
							     const char *id, size_t idlen,
							     const struct tg_date *date,
							     const char *cell, size_t clen)
{
	struct batch *b = g->cur;
	struct item *it;

	if (b == NULL || g->parse_here || idlen > 16 || clen > 16 || b->tcap - b->tlen <= 34)
		return false;
	it = new_measure(b, line, id, idlen, IT_MEASURE_CELL, date);
	it->vlen = (uint16_t)clen;
	put_text(b, cell, clen);
	item_done(g);
	return true;
}

/* One value cell: parsed here, handed over (a bad cell is reported).
 * column is the cell's header, already quoted, or NULL in the long layout.
 * The common cell goes straight into the batch; the rest (no thread, a
 * long id, a full text buffer) through emit(). */
static void measure(struct reading *g, unsigned long line, const char *id, size_t idlen,
		    const struct tg_date *date, const char *cell, size_t clen, const char *column)
{
	struct batch *b = g->cur;
	double v;
	int rc;

	rc = tg_number_parse(cell, clen, &g->run->src->dialect.number, &v, &g->nerr);
	if (rc == TG_NUMBER_MISSING) {
		g->missing++;
		return;
	}
	if (rc < 0) {
		bad_number(g, line, column);
		return;
	}
	if (b != NULL && idlen <= 16 && b->tcap - b->tlen > 16) {
		new_measure(b, line, id, idlen, IT_MEASURE, date)->value = v;
		item_done(g);
		return;
	}
	emit_measure_item(g, line, id, idlen, date, v);
}

/* The delivering side of an item; a missing value (IT_MEASURE_CELL) is
 * counted in *missing.  Inline: once a row, and its frame (the error
 * buffer) cost the row more than the call saves. */
static inline __attribute__((always_inline)) void deliver(struct run *r, const struct item *it,
						     const char *text, size_t *missing)
{
	struct tg_error err;
	double value = it->value;
	int rc;

	switch (it->kind) {
	case IT_MEASURE_CELL:
		/* as measure() would have done it on the reading side */
		rc = tg_number_parse(text + it->len + 1, it->vlen, &r->src->dialect.number, &value,
				     &err);
		if (rc == TG_NUMBER_MISSING) {
			(*missing)++;
			break;
		}
		if (rc < 0) {
			bad_row(r, it->line, err.msg);
			break;
		}
		/* fall through */
	case IT_MEASURE:
		err.msg[0] = '\0';
		rc = r->sink->measure(r->sink->ctx, r->src, text, it->len, &it->date, value, &err);
		if (rc == TG_SINK_UNKNOWN)
			tg_unknown_ids_add(r->unknown, text, it->len, r->stats);
		else if (rc < 0)
			bad_row(r, it->line, err.msg[0] != '\0' ? err.msg : "value refused");
		else
			r->stats->measurements++;
		break;
	case IT_BAD:
		bad_row(r, it->line, text);
		break;
	case IT_BAD_RECORD:
		r->stats->bad_rows++;
		if (++r->file_bad <= WARN_ROWS_PER_FILE)
			warnf(r, "%s; row skipped", text);
		break;
	default:
		warnf(r, "%s", text);
		break;
	}
}

/* Index of the column called name, or -1. */
static ssize_t find_column(const struct tg_csv_record *hdr, const char *name)
{
	for (size_t i = 0; i < hdr->nfields; i++)
		if (tg_csv_header_equal(hdr->fields[i], name))
			return (ssize_t)i;
	return -1;
}

struct layout {
	size_t col_id, col_period, col_value; /* long */
	size_t need;                          /* fields a row must have */
	/* wide: the columns whose header is a period */
	struct tg_date *dates;
	char **names;
	size_t *cols;
	size_t n;
};

static void layout_free(struct layout *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->dates);
	free(l->names);
	free(l->cols);
}

static int column_or_position(const struct tg_csv_record *hdr, const char *name, size_t pos,
			      const char *what, const char *file, size_t *out, struct tg_error *err)
{
	ssize_t i;

	if (name == NULL) {
		if (pos >= hdr->nfields)
			return tg_error_set(err, "%s:%lu: the header has %zu column%s; the %s is expected in column %zu",
					    file, hdr->line, hdr->nfields, hdr->nfields == 1 ? "" : "s",
					    what, pos + 1);
		*out = pos;
		return 0;
	}
	i = find_column(hdr, name);
	if (i < 0)
		return tg_error_set(err, "%s:%lu: no column '%s' (the %s column) in the header",
				    file, hdr->line, name, what);
	*out = (size_t)i;
	return 0;
}

static int layout_from_header(struct run *r, const struct tg_csv_record *hdr, struct layout *l,
			      struct tg_error *err)
{
	const struct tg_source *s = r->src;
	int rc;

	memset(l, 0, sizeof(*l));
	rc = column_or_position(hdr, s->col_indicator, 0, "indicator", r->qfile, &l->col_id, err);
	if (rc < 0)
		return rc;
	if (s->layout == TG_LAYOUT_LONG) {
		rc = column_or_position(hdr, s->col_period, 1, "period", r->qfile, &l->col_period, err);
		if (rc == 0)
			rc = column_or_position(hdr, s->col_value, 2, "value", r->qfile, &l->col_value, err);
		if (rc < 0)
			return rc;
		l->need = l->col_id;
		if (l->col_period > l->need)
			l->need = l->col_period;
		if (l->col_value > l->need)
			l->need = l->col_value;
		l->need++;
		return 0;
	}
	l->dates = calloc(hdr->nfields, sizeof(*l->dates));
	l->names = calloc(hdr->nfields, sizeof(*l->names));
	l->cols = calloc(hdr->nfields, sizeof(*l->cols));
	if (l->dates == NULL || l->names == NULL || l->cols == NULL)
		return tg_error_setc(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < hdr->nfields; i++) {
		struct tg_error ignored;

		if (i == l->col_id)
			continue;
		if (tg_date_parse(hdr->fields[i], hdr->lens[i], NULL, &l->dates[l->n], &ignored) < 0)
			continue; /* a description or notes column */
		/* the header is data from the file: kept quoted for messages */
		char q[256];

		tg_error_quote(hdr->fields[i], hdr->lens[i], 64, q, sizeof(q));
		l->names[l->n] = strdup(q);
		if (l->names[l->n] == NULL)
			return tg_error_setc(err, -ENOMEM, "out of memory");
		l->cols[l->n++] = i;
		if (i + 1 > l->need)
			l->need = i + 1;
	}
	if (l->n == 0)
		return tg_error_set(err, "%s:%lu: wide layout, but no column header is a period (like \"Gen 2026\" or \"01/2026\")",
				    r->qfile, hdr->line);
	if (l->col_id + 1 > l->need)
		l->need = l->col_id + 1;
	return 0;
}

static void row(struct reading *g, const struct tg_csv_record *rec, const struct layout *l)
{
	const struct tg_source *src = g->run->src;
	const char *id;
	size_t idlen;
	struct tg_error err;
	char why[TG_ERROR_MAX + 64];

	g->rows++;
	g->rows_seen++;
	/* long: every column is needed; wide: at least the code (the period
	 * cells missing at the end of a short row are empty, as Excel writes) */
	if (rec->nfields < (src->layout == TG_LAYOUT_LONG ? l->need : l->col_id + 1)) {
		snprintf(why, sizeof(why), "%zu field%s, expected at least %zu", rec->nfields,
			 rec->nfields == 1 ? "" : "s",
			 src->layout == TG_LAYOUT_LONG ? l->need : l->col_id + 1);
		emit_bad(g, rec->line, why);
		return;
	}
	id = rec->fields[l->col_id];
	idlen = rec->lens[l->col_id];
	if (idlen == 0 || (unsigned char)id[0] <= ' ' || (unsigned char)id[idlen - 1] <= ' ')
		tg_source_trim_id(&id, &idlen);  /* blanks around (or other controls: untouched) */
	if (idlen == 0) {
		emit_bad(g, rec->line, "empty indicator code");
		return;
	}
	if (src->layout == TG_LAYOUT_LONG) {
		struct tg_date date;
		const char *p = rec->fields[l->col_period];
		size_t plen = rec->lens[l->col_period];

		if (plen != 0 && plen == g->last_plen && tg_source_same_bytes(p, g->last_period, plen)) {
			date = g->last_date;
		} else if (tg_date_parse(p, plen, src->dialect.date_format, &date, &err) < 0) {
			emit_bad(g, rec->line, err.msg);
			return;
		} else if (plen < sizeof(g->last_period)) {
			memcpy(g->last_period, p, plen);
			g->last_plen = plen;
			g->last_date = date;
		}
		if (!pass_cell(g, rec->line, id, idlen, &date, rec->fields[l->col_value],
			       rec->lens[l->col_value]))
			measure(g, rec->line, id, idlen, &date, rec->fields[l->col_value],
				rec->lens[l->col_value], NULL);
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		/* a short row: the missing trailing cells are empty, as Excel writes them */
		if (l->cols[i] >= rec->nfields)
			break;
		measure(g, rec->line, id, idlen, &l->dates[i], rec->fields[l->cols[i]],
			rec->lens[l->cols[i]], l->names[i]);
	}
}

/* Columns taken by position read the first line as a header whatever it
 * holds; an export without a header would silently lose its first row.
 * A "header" whose period and value cells parse is most likely data. */
static void header_looks_like_data(struct reading *g, const struct tg_csv_record *hdr,
				   const struct layout *l)
{
	const struct tg_source *s = g->run->src;
	struct tg_error ignored;
	struct tg_date date;
	double v;

	if (s->layout != TG_LAYOUT_LONG || s->col_period != NULL || s->col_value != NULL ||
	    hdr->nfields < l->need)
		return;
	if (tg_date_parse(hdr->fields[l->col_period], hdr->lens[l->col_period], s->dialect.date_format,
			  &date, &ignored) == 0 &&
	    tg_number_parse(hdr->fields[l->col_value], hdr->lens[l->col_value], &s->dialect.number,
			    &v, &ignored) == TG_NUMBER_VALUE)
		emit_warn(g, "%s:%lu: the first line looks like data, not a header; it was read as the header and not as a value",
			  g->run->qfile, hdr->line);
}

/* The reading side: every record of an open reader, the header, then the
 * rows.  Sets g->rc and g->err on failure, g->finished at the end of the
 * input. */
static void parse_records(struct reading *g)
{
	const struct run *r = g->run;
	struct tg_csv_record rec;
	struct layout l;
	bool have_header = false;
	int rc;

	memset(&l, 0, sizeof(l));
	for (unsigned long n = 1; g->rc == 0; n++) {
		struct tg_error rerr;

		/* `timeout` bounds a source however big or slow its files are */
		if (r->deadline != 0 && n % DEADLINE_EVERY == 0 && monotonic_ms() > r->deadline) {
			g->rc = tg_error_setc(&g->err, -ETIMEDOUT, "%s: timed out after %llds (timeout of source '%s'), %zu rows read",
					      r->qfile, (long long)r->src->timeout, r->src->name,
					      g->rows_before + g->rows_seen);
			break;
		}
		rc = tg_csv_next(g->rd, &rec, &rerr);
		if (rc == TG_CSV_EOF) {
			g->finished = true;
			if (!have_header)
				g->rc = tg_error_set(&g->err, "%s: empty file (no header line)", r->qfile);
			break;
		}
		if (rc == TG_CSV_BAD_RECORD && !have_header) {
			/* the next line is not the header: the columns are unknown */
			tg_error_set(&g->err, "%s; the header line cannot be read", rerr.msg);
			g->rc = -EINVAL;
			break;
		}
		if (rc == TG_CSV_BAD_RECORD) {
			struct item it = { .kind = IT_BAD_RECORD, .line = 0 };

			emit(g, &it, rerr.msg, strlen(rerr.msg));
			continue;
		}
		if (rc < 0) {
			g->err = rerr;
			g->rc = rc;
			break;
		}
		if (blank_record(&rec))
			continue;
		if (!have_header) {
			rc = layout_from_header(g->run, &rec, &l, &g->err);
			if (rc < 0) {
				g->rc = rc;
				break;
			}
			have_header = true;
			header_looks_like_data(g, &rec, &l);
			continue;
		}
		row(g, &rec, &l);
	}
	layout_free(&l);
}

/* ---- the reader thread ------------------------------------------------ */

static bool use_threads = true;
static bool alternate;

void tg_source_csv_threads(bool on)
{
	use_threads = on;
}

void tg_source_csv_alternate(bool on)
{
	alternate = on;
}

static void pipeline_free(struct pipeline *pp)
{
	if (pp == NULL)
		return;
	for (size_t i = 0; i < N_BATCHES; i++)
		free(pp->all[i].text);
	pthread_cond_destroy(&pp->cv);
	pthread_mutex_destroy(&pp->mu);
	free(pp);
}

static struct pipeline *pipeline_new(void)
{
	struct pipeline *pp = calloc(1, sizeof(*pp));

	if (pp == NULL)
		return NULL;
	if (pthread_mutex_init(&pp->mu, NULL) != 0) {
		free(pp);
		return NULL;
	}
	if (pthread_cond_init(&pp->cv, NULL) != 0) {
		pthread_mutex_destroy(&pp->mu);
		free(pp);
		return NULL;
	}
	for (size_t i = 0; i < N_BATCHES; i++) {
		struct batch *b = &pp->all[i];

		if ((b->text = malloc(BATCH_TEXT)) == NULL) {
			pipeline_free(pp);
			return NULL;
		}
		b->tcap = BATCH_TEXT;
		pp->empty[pp->n_empty++] = b;
	}
	return pp;
}

/* Before sleeping on the condition: the other side is usually a few
 * microseconds from handing a batch over, and waking a sleeping thread
 * costs more than that.  The counts are changed under the mutex, with
 * atomic stores, so that they can be looked at here without it. */
#define SPIN_MAX 2000

static void spin_until(const size_t *count, const bool *done)
{
	for (int k = 0; k < SPIN_MAX; k++) {
		if (__atomic_load_n(count, __ATOMIC_ACQUIRE) != 0 ||
		    (done != NULL && __atomic_load_n(done, __ATOMIC_ACQUIRE)))
			return;
#ifdef __SSE2__
		_mm_pause();
#endif
	}
}

/* The reading side's batch goes to the delivering side; an empty one is
 * taken (waiting for it) unless last.  Who parses the value cells of the
 * next batch follows who is behind: the delivering side stores the values
 * (memory that other work on the machine also wants) and the reading side
 * parses the CSV; when two full batches wait for delivery, this side parses
 * the numbers of the next one too, else it hands them over as text.  Every
 * item is whole either way, so the result is the same. */
static void hand_over(struct reading *g, bool last)
{
	struct pipeline *pp = g->pipe;

	g->cur->rows = g->rows;
	g->cur->missing = g->missing;
	g->rows = g->missing = 0;
	pthread_mutex_lock(&pp->mu);
	pp->full[(pp->full_head + pp->n_full) % N_BATCHES] = g->cur;
	__atomic_store_n(&pp->n_full, pp->n_full + 1, __ATOMIC_RELEASE);
	g->cur = NULL;
	if (last)
		__atomic_store_n(&pp->done, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&pp->cv);
	if (!last && pp->n_empty == 0) {
		pthread_mutex_unlock(&pp->mu);
		spin_until(&pp->n_empty, NULL);
		pthread_mutex_lock(&pp->mu);
	}
	while (!last && pp->n_empty == 0)
		pthread_cond_wait(&pp->cv, &pp->mu);
	if (!last) {
		g->cur = pp->empty[pp->n_empty - 1];
		__atomic_store_n(&pp->n_empty, pp->n_empty - 1, __ATOMIC_RELEASE);
		g->cur->n = 0;
		g->cur->tlen = 0;
		g->parse_here = alternate ? !g->parse_here : pp->n_full >= 2;
		if (pp->cancel && g->rc == 0)
			g->rc = -ECANCELED;  /* the delivering side says why */
	}
	pthread_mutex_unlock(&pp->mu);
}

static void *reader_thread(void *arg)
{
	struct reading *g = arg;

	parse_records(g);
	hand_over(g, true);
	return NULL;
}

static int timed_out(struct run *r, struct tg_error *err)
{
	return tg_error_setc(err, -ETIMEDOUT, "%s: timed out after %llds (timeout of source '%s'), %zu rows read",
			     r->qfile, (long long)r->src->timeout, r->src->name, r->stats->rows);
}

/* The delivering side, in the caller's thread: the batches in order until
 * the reader thread is done.  The source's timeout is watched here too (a
 * slow sink): then the rest is dropped and the reader told to stop.
 * Returns 0 or -ETIMEDOUT with err. */
static int deliver_batches(struct run *r, struct pipeline *pp, struct tg_error *err)
{
	size_t delivered = 0;
	int rc = 0;

	for (;;) {
		struct batch *b;
		size_t missing;

		spin_until(&pp->n_full, &pp->done);
		pthread_mutex_lock(&pp->mu);
		while (pp->n_full == 0 && !pp->done)
			pthread_cond_wait(&pp->cv, &pp->mu);
		if (pp->n_full == 0) {
			pthread_mutex_unlock(&pp->mu);
			return rc;
		}
		b = pp->full[pp->full_head];
		pp->full_head = (pp->full_head + 1) % N_BATCHES;
		__atomic_store_n(&pp->n_full, pp->n_full - 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&pp->mu);

		missing = b->missing;
		for (size_t i = 0, off = 0; i < b->n && rc == 0; i++) {
			if (r->deadline != 0 && ++delivered % DEADLINE_EVERY == 0 &&
			    monotonic_ms() > r->deadline)
				rc = timed_out(r, err);
			else
				deliver(r, &b->item[i], b->text + off, &missing);
			off += item_text(&b->item[i]);
		}
		/* a batch's rows count once it is delivered whole: after a
		 * timeout, the rows read are never overstated */
		if (rc == 0) {
			r->stats->rows += b->rows;
			r->stats->missing += missing;
		}

		pthread_mutex_lock(&pp->mu);
		if (rc < 0)
			pp->cancel = true;
		pp->empty[pp->n_empty] = b;
		__atomic_store_n(&pp->n_empty, pp->n_empty + 1, __ATOMIC_RELEASE);
		pthread_cond_signal(&pp->cv);
		pthread_mutex_unlock(&pp->mu);
	}
}

/* Starts the reader thread with every signal blocked (they are the main
 * loop's).  false: read in this thread instead. */
static bool start_reader(struct reading *g, pthread_t *th)
{
	sigset_t all, old;
	bool ok;

	if (!use_threads || (g->pipe = pipeline_new()) == NULL)
		return false;
	g->cur = g->pipe->empty[--g->pipe->n_empty];
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ok = pthread_create(th, NULL, reader_thread, g) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ok) {
		pipeline_free(g->pipe);
		g->pipe = NULL;
		g->cur = NULL;
	}
	return ok;
}

/*
 * Reads every record of an open reader.  The parsing (CSV, dates, numbers)
 * runs in a thread of its own and hands the measurements over in batches,
 * while this thread gives them to the sink in file order: the two halves of
 * the work on two cores.  The sink, the counts and the warnings stay in the
 * caller's thread, so the engine, the store and the log see one thread, as
 * before.  Without a thread (none can be started) the same items are
 * delivered one by one.
 */
static int read_records(struct run *r, struct tg_csv_reader *rd, struct tg_error *err)
{
	struct reading g = { .run = r, .rd = rd, .rows_before = r->stats->rows };
	pthread_t th;
	int rc = 0;

	r->file_bad = 0;
	r->stats->files++;
	if (start_reader(&g, &th)) {
		rc = deliver_batches(r, g.pipe, err);
		pthread_join(th, NULL);
		pipeline_free(g.pipe);
		if (rc < 0)
			return rc;
	} else {
		parse_records(&g);
		r->stats->rows += g.rows;
		r->stats->missing += g.missing;
	}
	if (g.finished && r->file_bad > WARN_ROWS_PER_FILE)
		warnf(r, "%s: %zu more bad row%s not shown", r->qfile, r->file_bad - WARN_ROWS_PER_FILE,
		      r->file_bad - WARN_ROWS_PER_FILE == 1 ? "" : "s");
	if (g.rc < 0)
		*err = g.err;
	return g.rc;
}

static struct tg_csv_options reader_options(const struct tg_source *src)
{
	return (struct tg_csv_options){
		.separator = src->dialect.separator,
		.encoding = src->dialect.encoding,
	};
}

static int read_file(struct run *r, const char *path, struct tg_error *err)
{
	struct tg_csv_options opt = reader_options(r->src);
	struct tg_csv_reader *rd;
	struct stat st;
	int fd, rc;

	/* a name from a glob is data: it may hold line breaks or escapes */
	tg_error_quote(path, strlen(path), sizeof(r->qfile), r->qfile, sizeof(r->qfile));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return tg_error_setc(err, -errno, "%s: %s", r->qfile, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return tg_error_setc(err, rc, "%s: %s", r->qfile, strerror(-rc));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return tg_error_setc(err, -EINVAL, "%s: not a regular file", r->qfile);
	}
	rd = tg_csv_open_fd(fd, r->qfile, &opt);
	if (rd == NULL) {
		close(fd);
		return tg_error_setc(err, -ENOMEM, "out of memory");
	}
	rc = read_records(r, rd, err);
	tg_csv_free(rd);
	close(fd);
	return rc;
}

int tg_source_csv_parse_mem(const struct tg_source *src, const char *buf, size_t len,
			    const char *name, const struct tg_source_sink *sink,
			    struct tg_source_stats *stats, struct tg_error *err)
{
	struct run r = { .src = src, .sink = sink, .stats = stats };
	struct tg_csv_options opt = reader_options(src);
	struct tg_csv_reader *rd;
	int rc;

	memset(stats, 0, sizeof(*stats));
	tg_error_clear(err);
	tg_error_quote(name, strlen(name), sizeof(r.qfile), r.qfile, sizeof(r.qfile));
	r.unknown = tg_unknown_ids_new();
	rd = tg_csv_open_mem(buf, len, r.qfile, &opt);
	if (r.unknown == NULL || rd == NULL) {
		tg_unknown_ids_free(r.unknown);
		tg_csv_free(rd);
		return tg_error_setc(err, -ENOMEM, "out of memory");
	}
	rc = read_records(&r, rd, err);
	tg_csv_free(rd);
	tg_unknown_ids_report(r.unknown, sink, src, r.qfile, stats);
	tg_unknown_ids_free(r.unknown);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Why a path or pattern matched nothing: the plain answer of the file system
 * for the path, or for the directory the pattern lists ("Permission
 * denied", "No such file or directory"), instead of glob's silence. */
static int glob_failure(const char *path, int rc, struct tg_error *err)
{
	const char *wild = strpbrk(path, "*?[");
	struct stat st;
	char dir[4096];
	size_t len;

	if (wild == NULL) {
		if (stat(path, &st) < 0)
			return tg_error_setc(err, -errno, "%s: %s", path, strerror(errno));
		return tg_error_setc(err, -ENOENT, "%s: %s", path, strerror(ENOENT));
	}
	/* the directory part before the first wildcard */
	len = (size_t)(wild - path);
	while (len > 0 && path[len - 1] != '/')
		len--;
	if (len == 0)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)len, path);
	if (access(dir, R_OK | X_OK) < 0)
		return tg_error_setc(err, -errno, "%s: cannot list %s: %s", path, dir, strerror(errno));
	if (rc == GLOB_NOMATCH)
		return tg_error_setc(err, -ENOENT, "no file matches '%s'", path);
	return tg_error_setc(err, -EIO, "%s: cannot list the files in %s", path, dir);
}

int tg_source_csv_run(const struct tg_source *src, const struct tg_source_sink *sink,
		      struct tg_source_stats *stats, struct tg_error *err)
{
	struct run r = { .src = src, .sink = sink, .stats = stats };
	struct tg_error ferr;
	size_t failed = 0;
	glob_t g;
	int rc;

	memset(stats, 0, sizeof(*stats));
	tg_error_clear(err);
	if (src->timeout > 0)
		r.deadline = monotonic_ms() + src->timeout * 1000;
	rc = glob(src->path, GLOB_ERR, NULL, &g);
	if (rc != 0) {
		globfree(&g);
		if (rc == GLOB_NOSPACE)
			return tg_error_setc(err, -ENOMEM, "%s: out of memory", src->path);
		return glob_failure(src->path, rc, err);
	}
	if ((r.unknown = tg_unknown_ids_new()) == NULL) {
		globfree(&g);
		return tg_error_setc(err, -ENOMEM, "out of memory");
	}
	/* glob sorts already; keep it explicit for readers of the code */
	qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_str);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		rc = read_file(&r, g.gl_pathv[i], &ferr);
		if (rc < 0) {
			/* the first failure is the one the source reports; later ones are logged */
			if (failed++ == 0)
				*err = ferr;
			else
				warnf(&r, "%s", ferr.msg);
		}
	}
	globfree(&g);
	tg_unknown_ids_report(r.unknown, sink, src, src->path, stats);
	tg_unknown_ids_free(r.unknown);

	if (failed > 1)
		tg_error_prefix(err, "%zu files failed, the first", failed);
	return failed ? -EIO : 0;
}
