/*
 * json_feed.c — indicator values from a JSON document (see json_feed.h).
 *
 * The whole body is parsed with jansson (the body is bounded by the source's
 * max_size), then the records are walked and each one becomes a measurement
 * or a complaint located by its JSON path.  Choices worth knowing:
 *   - duplicate keys are accepted and the last one wins, as with JavaScript's
 *     JSON.parse and Python's json: feeds written by careless code have them,
 *     and refusing the whole document would punish every good record;
 *   - "\u0000" inside a string, integers beyond 64 bits and reals beyond
 *     1.8e308 make the document invalid (jansson refuses them; a NUL can
 *     neither be an indicator id nor part of a date or a number);
 *   - dot paths walk objects only: "data.items" is key "items" of key "data";
 *     there is no array index and no escaping, so keys containing a dot
 *     cannot be reached;
 *   - indicator codes (strings, or integers written in decimal) are trimmed
 *     of spaces and tabs, as in CSV files;
 *   - complaints are capped per document, as lib/source_csv.c caps them per
 *     file, so a broken feed of a million records yields a dozen lines.
 */
#include "json_feed.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "number.h"
#include "period.h"

#define WARN_RECORDS_PER_DOCUMENT 10
#define NO_INDEX SIZE_MAX

struct run {
	const struct tg_source *src;
	const struct tg_source_sink *sink;
	struct tg_source_stats *stats;
	struct tg_unknown_ids *unknown;
	const char *p_indicator, *p_period, *p_value;
	char qname[600];   /* the URL, quoted for messages */
	char rbase[300];   /* "$" or "$.<records path>", quoted */
	size_t bad;        /* bad records in this document */
};

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "an unknown type";
}

static void warnf(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct run *r, const char *fmt, ...)
{
	char msg[TG_ERROR_MAX + 1024];
	va_list ap;

	if (r->sink->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->sink->warn(r->sink->ctx, r->src, msg);
}

/* Where a record is: the series key (by_indicator, already quoted) or NULL,
 * and its index in the array (NO_INDEX: the series itself). */
struct where {
	const char *series;
	size_t index;
};

/* One bad record: counted, and reported while under the cap as
 * "URL: $.records[.series][index][.sub]: reason".  sub[0..sublen) is the
 * part of a field path that was reached. */
static void bad(struct run *r, const struct where *w, const char *sub, size_t sublen,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void bad(struct run *r, const struct where *w, const char *sub, size_t sublen,
		const char *fmt, ...)
{
	char why[TG_ERROR_MAX], idx[32] = "", qsub[300] = "";
	va_list ap;

	r->stats->bad_rows++;
	if (++r->bad > WARN_RECORDS_PER_DOCUMENT)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (w->index != NO_INDEX)
		snprintf(idx, sizeof(idx), "[%zu]", w->index);
	if (sublen > 0)
		tg_error_quote(sub, sublen, 200, qsub, sizeof(qsub));
	warnf(r, "%s: %s%s%s%s%s%s: %s; record skipped", r->qname, r->rbase,
	      w->series != NULL ? "." : "", w->series != NULL ? w->series : "", idx,
	      sublen > 0 ? "." : "", qsub, why);
}

/* Follows the dot path p (NUL-terminated; "" is v itself) through objects.
 * Returns the value, or NULL with *stop and *nonobj saying why: *nonobj is
 * the value met that is not an object and p[0..*stop) the path that led to
 * it; or *nonobj is NULL and p[0..*stop) ends with the key that is missing. */
static json_t *walk(json_t *v, const char *p, size_t *stop, json_t **nonobj)
{
	size_t n = strlen(p), i = 0;

	if (n == 0)
		return v;
	for (;;) {
		const char *dot = memchr(p + i, '.', n - i);
		size_t end = dot != NULL ? (size_t)(dot - p) : n;

		if (!json_is_object(v)) {
			*stop = i > 0 ? i - 1 : 0;
			*nonobj = v;
			return NULL;
		}
		v = json_object_getn(v, p + i, end - i);
		if (v == NULL) {
			*stop = end;
			*nonobj = NULL;
			return NULL;
		}
		if (dot == NULL)
			return v;
		i = end + 1;
	}
}

/* A field of a record, or NULL after reporting the record as bad. */
static json_t *field(struct run *r, const struct where *w, json_t *rec, const char *path)
{
	json_t *v, *nonobj;
	size_t stop;

	v = walk(rec, path, &stop, &nonobj);
	if (v != NULL)
		return v;
	if (nonobj != NULL)
		bad(r, w, path, stop, "expected an object, got %s", type_name(nonobj));
	else
		bad(r, w, path, stop, "missing");
	return NULL;
}

/* The record's date from a string (any form tg_date_parse knows, or the
 * dialect's date_format) or an integer year.  Returns false after
 * reporting the record. */
static bool period_of(struct run *r, const struct where *w, json_t *v, struct tg_date *date)
{
	const char *path = r->p_period;
	struct tg_error err;

	if (json_is_string(v)) {
		tg_error_clear(&err);
		if (tg_date_parse(json_string_value(v), json_string_length(v),
				  r->src->dialect.date_format, date, &err) < 0) {
			bad(r, w, path, strlen(path), "%s", err.msg);
			return false;
		}
		return true;
	}
	if (json_is_integer(v)) {
		json_int_t y = json_integer_value(v);

		if (y < 1000 || y > 9999) {
			bad(r, w, path, strlen(path), "the year %" JSON_INTEGER_FORMAT " is out of range (1000..9999)", y);
			return false;
		}
		date->day = tg_day_from_ymd((int)y, 1, 1);
		date->precision = TG_PERIOD_YEAR;
		return true;
	}
	bad(r, w, path, strlen(path), "expected a string or an integer year, got %s", type_name(v));
	return false;
}

/* The value: TG_NUMBER_VALUE with *out, TG_NUMBER_MISSING, or -EINVAL after
 * reporting the record. */
static int value_of(struct run *r, const struct where *w, json_t *v, double *out)
{
	const char *path = r->p_value;
	struct tg_error err;
	int rc;

	switch (json_typeof(v)) {
	case JSON_INTEGER:
		*out = (double)json_integer_value(v);
		return TG_NUMBER_VALUE;
	case JSON_REAL:
		*out = json_real_value(v);
		if (!isfinite(*out)) {
			bad(r, w, path, strlen(path), "not a finite number");
			return -EINVAL;
		}
		return TG_NUMBER_VALUE;
	case JSON_STRING:
		tg_error_clear(&err);
		rc = tg_number_parse(json_string_value(v), json_string_length(v),
				     &r->src->dialect.number, out, &err);
		if (rc < 0)
			bad(r, w, path, strlen(path), "%s", err.msg);
		return rc < 0 ? -EINVAL : rc;
	case JSON_NULL:
		return TG_NUMBER_MISSING;
	default:
		bad(r, w, path, strlen(path), "expected a number or a string, got %s", type_name(v));
		return -EINVAL;
	}
}

/* One record.  id[0..idlen) is the series key in the by_indicator layout
 * (NULL in the long layout: the id is a field of the record). */
static void record(struct run *r, const struct where *w, json_t *rec, const char *id, size_t idlen)
{
	char num[32];
	struct tg_date date;
	struct tg_error err;
	json_t *v;
	double value;
	int rc;

	r->stats->rows++;
	if (!json_is_object(rec)) {
		bad(r, w, "", 0, "expected an object, got %s", type_name(rec));
		return;
	}
	if (id == NULL) {
		if ((v = field(r, w, rec, r->p_indicator)) == NULL)
			return;
		if (json_is_string(v)) {
			id = json_string_value(v);
			idlen = json_string_length(v);
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			id = num;
			idlen = strlen(num);
		} else {
			bad(r, w, r->p_indicator, strlen(r->p_indicator),
			    "expected a string or an integer indicator code, got %s", type_name(v));
			return;
		}
		tg_source_trim_id(&id, &idlen);
		if (idlen == 0) {
			bad(r, w, r->p_indicator, strlen(r->p_indicator), "empty indicator code");
			return;
		}
	} else if (idlen == 0) {
		bad(r, w, "", 0, "empty indicator code (the key of the series)");
		return;
	}
	if ((v = field(r, w, rec, r->p_period)) == NULL || !period_of(r, w, v, &date))
		return;
	if ((v = field(r, w, rec, r->p_value)) == NULL)
		return;
	rc = value_of(r, w, v, &value);
	if (rc == TG_NUMBER_MISSING)
		r->stats->missing++;
	if (rc != TG_NUMBER_VALUE)
		return;
	tg_error_clear(&err);
	rc = r->sink->measure(r->sink->ctx, r->src, id, idlen, &date, value, &err);
	if (rc == TG_SINK_UNKNOWN)
		tg_unknown_ids_add(r->unknown, id, idlen, r->stats);
	else if (rc < 0)
		bad(r, w, "", 0, "%s", err.msg[0] != '\0' ? err.msg : "value refused");
	else
		r->stats->measurements++;
}

static void long_layout(struct run *r, json_t *arr)
{
	struct where w = { NULL, 0 };
	size_t i;
	json_t *rec;

	json_array_foreach(arr, i, rec) {
		w.index = i;
		record(r, &w, rec, NULL, 0);
	}
}

static void by_indicator_layout(struct run *r, json_t *obj)
{
	const char *key;
	size_t keylen;
	json_t *series;

	json_object_keylen_foreach(obj, key, keylen, series) {
		char qkey[300];
		struct where w = { qkey, NO_INDEX };
		const char *id = key;
		size_t idlen = keylen;
		size_t i;
		json_t *rec;

		/* an empty key would read "$.[0]": written as "" instead */
		if (keylen == 0)
			snprintf(qkey, sizeof(qkey), "\"\"");
		else
			tg_error_quote(key, keylen, 64, qkey, sizeof(qkey));
		tg_source_trim_id(&id, &idlen);
		if (!json_is_array(series)) {
			r->stats->rows++;
			bad(r, &w, "", 0, "expected an array of records, got %s", type_name(series));
			continue;
		}
		json_array_foreach(series, i, rec) {
			w.index = i;
			record(r, &w, rec, id, idlen);
		}
	}
}

/* Line and column of buf[off], counted as jansson counts them (lines from 1;
 * columns in characters from 1, the character at off included). */
static void position(const char *buf, size_t off, unsigned long *line, unsigned long *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

static json_t *load(struct run *r, const char *buf, size_t len, struct tg_error *err, int *rc)
{
	const char *nul = memchr(buf, '\0', len);
	json_error_t jerr;
	char qtext[4 * JSON_ERROR_TEXT_LENGTH + 8];
	json_t *root;
	size_t i;

	/* jansson sees a NUL byte as the end of the input and says "end of
	 * file expected near end of file": the real reason is clearer */
	if (nul != NULL) {
		unsigned long line, col;

		position(buf, (size_t)(nul - buf), &line, &col);
		*rc = tg_error_set(err, "%s: invalid JSON at line %lu, column %lu: a NUL byte (offset %zu)",
				   r->qname, line, col, (size_t)(nul - buf));
		return NULL;
	}
	root = json_loadb(buf, len, 0, &jerr);
	if (root != NULL)
		return root;
	/* jansson's text quotes the document near the error; its advice about
	 * JSON_ALLOW_NUL means nothing to the reader of the log */
	if (json_error_code(&jerr) == json_error_null_character)
		snprintf(qtext, sizeof(qtext), "a string contains \\u0000 (NUL), which is not accepted");
	else
		tg_error_quote(jerr.text, strnlen(jerr.text, sizeof(jerr.text) - 1),
			       2 * JSON_ERROR_TEXT_LENGTH, qtext, sizeof(qtext));
	for (i = 0; i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'); i++)
		;
	*rc = tg_error_setc(err, json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL,
			    "%s: invalid JSON at line %d, column %d: %s%s", r->qname, jerr.line,
			    jerr.column, qtext, i == len ? " (the body is empty)" : "");
	return NULL;
}

/* The value at the records path, of the type the layout needs, or NULL
 * with err. */
static json_t *records(struct run *r, json_t *root, struct tg_error *err, int *rc)
{
	const char *p = r->src->json_records != NULL ? r->src->json_records : "";
	bool want_array = r->src->layout == TG_LAYOUT_LONG;
	char qp[300];
	json_t *v, *nonobj;
	size_t stop;

	tg_error_quote(p, strlen(p), 200, qp, sizeof(qp));
	v = walk(root, p, &stop, &nonobj);
	if (v == NULL) {
		char qreached[300];

		tg_error_quote(p, stop, 200, qreached, sizeof(qreached));
		if (nonobj != NULL)
			*rc = tg_error_set(err, "%s: $%s%s: expected an object, got %s (records path \"%s\")",
					   r->qname, stop > 0 ? "." : "", qreached, type_name(nonobj), qp);
		else
			*rc = tg_error_set(err, "%s: $.%s: not found (records path \"%s\")",
					   r->qname, qreached, qp);
		return NULL;
	}
	if (want_array && !json_is_array(v)) {
		*rc = tg_error_set(err, "%s: %s: expected an array of records (layout long), got %s",
				   r->qname, r->rbase, type_name(v));
		return NULL;
	}
	if (!want_array && !json_is_object(v)) {
		*rc = tg_error_set(err, "%s: %s: expected an object of series keyed by indicator code (layout by_indicator), got %s",
				   r->qname, r->rbase, type_name(v));
		return NULL;
	}
	return v;
}

int tg_json_feed_parse(const char *buf, size_t len, const char *name,
		       const struct tg_source *src, const struct tg_source_sink *sink,
		       struct tg_source_stats *stats, struct tg_error *err)
{
	struct run r = { .src = src, .sink = sink, .stats = stats };
	json_t *root, *recs;
	int rc = 0;

	memset(stats, 0, sizeof(*stats));
	stats->files = 1;
	tg_error_clear(err);
	if (name == NULL)
		name = "(JSON feed)";
	tg_error_quote(name, strlen(name), 512, r.qname, sizeof(r.qname));
	r.p_indicator = src->json_indicator != NULL ? src->json_indicator : "indicator";
	r.p_period = src->json_period != NULL ? src->json_period : "period";
	r.p_value = src->json_value != NULL ? src->json_value : "value";
	if (src->json_records == NULL || src->json_records[0] == '\0') {
		snprintf(r.rbase, sizeof(r.rbase), "$");
	} else {
		char q[280];

		tg_error_quote(src->json_records, strlen(src->json_records), 200, q, sizeof(q));
		snprintf(r.rbase, sizeof(r.rbase), "$.%s", q);
	}
	if (src->layout != TG_LAYOUT_LONG && src->layout != TG_LAYOUT_BY_INDICATOR)
		return tg_error_set(err, "%s: the layout of a JSON feed is long or by_indicator", r.qname);
	if (buf == NULL)
		len = 0, buf = "";
	if ((root = load(&r, buf, len, err, &rc)) == NULL)
		return rc;
	if ((recs = records(&r, root, err, &rc)) == NULL) {
		json_decref(root);
		return rc;
	}
	if ((r.unknown = tg_unknown_ids_new()) == NULL) {
		json_decref(root);
		return tg_error_setc(err, -ENOMEM, "%s: out of memory", r.qname);
	}
	if (src->layout == TG_LAYOUT_LONG)
		long_layout(&r, recs);
	else
		by_indicator_layout(&r, recs);
	if (r.bad > WARN_RECORDS_PER_DOCUMENT)
		warnf(&r, "%s: %zu more bad record%s not shown", r.qname, r.bad - WARN_RECORDS_PER_DOCUMENT,
		      r.bad - WARN_RECORDS_PER_DOCUMENT == 1 ? "" : "s");
	tg_unknown_ids_report(r.unknown, sink, src, r.qname, stats);
	tg_unknown_ids_free(r.unknown);
	json_decref(root);
	return 0;
}
