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
struct run {
	const struct tg_source *src;
	const struct tg_source_sink *sink;
	struct tg_source_stats *stats;
	struct tg_unknown_ids *unknown;
	char qfile[1024];  /* the current file's name, quoted for messages */
	size_t file_bad;   /* bad rows in the current file */
	int64_t deadline;  /* CLOCK_MONOTONIC ms by which the run must end; 0: none */
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
	for (size_t i = 0; i < rec->nfields; i++)
		for (size_t j = 0; j < rec->lens[i]; j++)
			if (rec->fields[i][j] != ' ' && rec->fields[i][j] != '\t')
				return false;
	return true;
}

/* One value cell: parse, hand to the sink, count (a bad cell is reported).
 * column is the cell's header, already quoted, or NULL in the long layout. */
static void measure(struct run *r, unsigned long line, const char *id, size_t idlen,
		    const struct tg_date *date, const char *cell, size_t clen, const char *column)
{
	const struct tg_dialect *d = &r->src->dialect;
	struct tg_error err;
	char why[TG_ERROR_MAX + 64];
	double v;
	int rc;

	tg_error_clear(&err);
	rc = tg_number_parse(cell, clen, &d->number, &v, &err);
	if (rc == TG_NUMBER_MISSING) {
		r->stats->missing++;
		return;
	}
	if (rc < 0) {
		if (column != NULL)
			snprintf(why, sizeof(why), "column '%s': %s", column, err.msg);
		else
			snprintf(why, sizeof(why), "%s", err.msg);
		bad_row(r, line, why);
		return;
	}
	tg_error_clear(&err);
	rc = r->sink->measure(r->sink->ctx, r->src, id, idlen, date, v, &err);
	if (rc == TG_SINK_UNKNOWN) {
		tg_unknown_ids_add(r->unknown, id, idlen, r->stats);
	} else if (rc < 0) {
		bad_row(r, line, err.msg[0] != '\0' ? err.msg : "value refused");
	} else {
		r->stats->measurements++;
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

static void row(struct run *r, const struct tg_csv_record *rec, const struct layout *l)
{
	const struct tg_dialect *d = &r->src->dialect;
	const char *id;
	size_t idlen;
	struct tg_error err;
	char why[TG_ERROR_MAX + 64];

	r->stats->rows++;
	/* long: every column is needed; wide: at least the code (the period
	 * cells missing at the end of a short row are empty, as Excel writes) */
	if (rec->nfields < (r->src->layout == TG_LAYOUT_LONG ? l->need : l->col_id + 1)) {
		snprintf(why, sizeof(why), "%zu field%s, expected at least %zu", rec->nfields,
			 rec->nfields == 1 ? "" : "s",
			 r->src->layout == TG_LAYOUT_LONG ? l->need : l->col_id + 1);
		bad_row(r, rec->line, why);
		return;
	}
	id = rec->fields[l->col_id];
	idlen = rec->lens[l->col_id];
	tg_source_trim_id(&id, &idlen);
	if (idlen == 0) {
		bad_row(r, rec->line, "empty indicator code");
		return;
	}
	if (r->src->layout == TG_LAYOUT_LONG) {
		struct tg_date date;
		const char *p = rec->fields[l->col_period];
		size_t plen = rec->lens[l->col_period];

		if (plen != 0 && plen == r->last_plen && memcmp(p, r->last_period, plen) == 0) {
			date = r->last_date;
		} else if (tg_date_parse(p, plen, d->date_format, &date, &err) < 0) {
			bad_row(r, rec->line, err.msg);
			return;
		} else if (plen < sizeof(r->last_period)) {
			memcpy(r->last_period, p, plen);
			r->last_plen = plen;
			r->last_date = date;
		}
		measure(r, rec->line, id, idlen, &date, rec->fields[l->col_value],
			rec->lens[l->col_value], NULL);
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		/* a short row: the missing trailing cells are empty, as Excel writes them */
		if (l->cols[i] >= rec->nfields)
			break;
		measure(r, rec->line, id, idlen, &l->dates[i], rec->fields[l->cols[i]],
			rec->lens[l->cols[i]], l->names[i]);
	}
}

/* Columns taken by position read the first line as a header whatever it
 * holds; an export without a header would silently lose its first row.
 * A "header" whose period and value cells parse is most likely data. */
static void header_looks_like_data(struct run *r, const struct tg_csv_record *hdr,
				   const struct layout *l)
{
	const struct tg_source *s = r->src;
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
		warnf(r, "%s:%lu: the first line looks like data, not a header; it was read as the header and not as a value",
		      r->qfile, hdr->line);
}

/* Reads every record of an open reader: the header, then the rows. */
static int read_records(struct run *r, struct tg_csv_reader *rd, struct tg_error *err)
{
	struct tg_csv_record rec;
	struct layout l;
	bool have_header = false;
	int rc;

	memset(&l, 0, sizeof(l));
	r->file_bad = 0;
	r->stats->files++;
	for (unsigned long n = 1;; n++) {
		struct tg_error rerr;

		/* `timeout` bounds a source however big or slow its files are */
		if (r->deadline != 0 && n % DEADLINE_EVERY == 0 && monotonic_ms() > r->deadline) {
			rc = tg_error_setc(err, -ETIMEDOUT, "%s: timed out after %llds (timeout of source '%s'), %zu rows read",
					   r->qfile, (long long)r->src->timeout, r->src->name, r->stats->rows);
			goto out;
		}
		rc = tg_csv_next(rd, &rec, &rerr);
		if (rc == TG_CSV_EOF)
			break;
		if (rc == TG_CSV_BAD_RECORD && !have_header) {
			/* the next line is not the header: the columns are unknown */
			tg_error_set(err, "%s; the header line cannot be read", rerr.msg);
			rc = -EINVAL;
			goto out;
		}
		if (rc == TG_CSV_BAD_RECORD) {
			r->stats->bad_rows++;
			if (++r->file_bad <= WARN_ROWS_PER_FILE)
				warnf(r, "%s; row skipped", rerr.msg);
			continue;
		}
		if (rc < 0) {
			*err = rerr;
			goto out;
		}
		if (blank_record(&rec))
			continue;
		if (!have_header) {
			rc = layout_from_header(r, &rec, &l, err);
			if (rc < 0)
				goto out;
			have_header = true;
			header_looks_like_data(r, &rec, &l);
			continue;
		}
		row(r, &rec, &l);
	}
	rc = 0;
	if (!have_header)
		rc = tg_error_set(err, "%s: empty file (no header line)", r->qfile);
	if (r->file_bad > WARN_ROWS_PER_FILE)
		warnf(r, "%s: %zu more bad row%s not shown", r->qfile, r->file_bad - WARN_ROWS_PER_FILE,
		      r->file_bad - WARN_ROWS_PER_FILE == 1 ? "" : "s");
out:
	layout_free(&l);
	return rc;
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
