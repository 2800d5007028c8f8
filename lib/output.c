/*
 * output.c — status table and JSON (see output.h).
 *
 * The table is for a person at a terminal or reading a cron mail: aligned by
 * display width (UTF-8 aware, not bytes), one block per department, worst
 * status first, and the reason in words under each row.
 */
#include "output.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fsutil.h"
#include "number.h"
#include "period.h"
#include "utf8.h"

static bool lang_en(const struct tg_config *cfg)
{
	return strcmp(cfg->daemon.language, "en") == 0;
}

/* Hours and minutes of a civil time, also before 1970 (now may be any date
 * from year 1: "%" of a negative number is negative). */
static void hour_min(tg_time now, int *h, int *m)
{
	tg_time sec = now - (tg_time)tg_time_day(now) * TG_DAY_SECONDS;

	*h = (int)(sec / 3600);
	*m = (int)(sec % 3600 / 60);
}

/* One character of UTF-8 text at s: its length in bytes (an invalid byte
 * counts as one character of one byte) and its width in terminal columns:
 * 0 for combining marks and zero-width characters, 2 for East Asian wide
 * characters and emoji, else 1.  A small wcwidth() that does not depend on
 * the locale. */
static size_t char_at(const char *str, int *cols)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = tg_utf8_len(s, SIZE_MAX);
	uint32_t cp;

	*cols = 1;
	if (n <= 1)
		return 1;
	cp = n == 2 ? (s[0] & 0x1Fu) : n == 3 ? (s[0] & 0x0Fu) : (s[0] & 0x07u);
	for (size_t i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3Fu);
	if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) ||
	    (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0x20D0 && cp <= 0x20FF))
		*cols = 0;
	else if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
		 (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
		 (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
		 (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
		 (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
		*cols = 2;
	return n;
}

/* Display width of UTF-8 text in terminal columns. */
static size_t width(const char *s)
{
	size_t w = 0;
	int c;

	while (*s != '\0') {
		s += char_at(s, &c);
		w += (size_t)c;
	}
	return w;
}

/* Prints s padded or cut to w - 1 columns (a cut ends with "…") and a
 * space, so that neighbouring columns never touch.  w >= 2. */
void tg_output_cell(FILE *f, const char *s, size_t w)
{
	size_t sw = width(s), cols = 0;

	if (sw < w) {
		fputs(s, f);
		for (size_t i = sw; i < w; i++)
			fputc(' ', f);
		return;
	}
	while (*s != '\0') {
		int c;
		size_t n = char_at(s, &c);

		if (cols + (size_t)c > w - 2)
			break;
		fwrite(s, 1, n, f);
		cols += (size_t)c;
		s += n;
	}
	fputs("…", f);
	for (cols++; cols < w; cols++)   /* a wide character may leave a gap */
		fputc(' ', f);
}

static const char *colour_of(enum tg_status s)
{
	switch (s) {
	case TG_STATUS_OK: return "\033[32m";
	case TG_STATUS_WARNING: return "\033[33m";
	case TG_STATUS_CRITICAL: return "\033[1;31m";
	case TG_STATUS_LATE: return "\033[35m";
	case TG_STATUS_ERROR: return "\033[1;41;37m";
	default: return "\033[2m";
	}
}

const char *tg_output_value(const struct tg_indicator *ind, double v, const char *lang,
			      char *buf, size_t size)
{
	char num[64];

	tg_number_format(v, ind->decimals, lang, num, sizeof(num));
	if (ind->unit == NULL)
		snprintf(buf, size, "%s", num);
	else if (strcmp(ind->unit, "%") == 0)
		snprintf(buf, size, "%s%%", num);
	else
		snprintf(buf, size, "%s %s", num, ind->unit);
	return buf;
}

const char *tg_output_target(const struct tg_indicator *ind, const char *lang, char *buf,
			       size_t size)
{
	char a[64], b[64];

	switch (ind->better) {
	case TG_BETTER_HIGHER:
		snprintf(buf, size, "≥ %s", tg_number_format(ind->target, ind->decimals, lang, a, sizeof(a)));
		break;
	case TG_BETTER_LOWER:
		snprintf(buf, size, "≤ %s", tg_number_format(ind->target, ind->decimals, lang, a, sizeof(a)));
		break;
	default:
		if (ind->has_min && ind->has_max)
			snprintf(buf, size, "%s–%s", tg_number_format(ind->min, ind->decimals, lang, a, sizeof(a)),
				 tg_number_format(ind->max, ind->decimals, lang, b, sizeof(b)));
		else if (ind->has_min)
			snprintf(buf, size, "≥ %s", tg_number_format(ind->min, ind->decimals, lang, a, sizeof(a)));
		else
			snprintf(buf, size, "≤ %s", tg_number_format(ind->max, ind->decimals, lang, a, sizeof(a)));
	}
	return buf;
}

struct row_ref {
	size_t i;
	const struct tg_config *cfg;
	const struct tg_eval_result *r;
};

static int row_cmp(const void *pa, const void *pb)
{
	const struct row_ref *a = pa, *b = pb;
	const struct tg_indicator *ia = &a->cfg->indicators[a->i], *ib = &b->cfg->indicators[b->i];
	int c = strcmp(ia->department, ib->department);

	if (c != 0)
		return c;
	/* worst first */
	c = tg_status_severity(b->r[b->i].status) - tg_status_severity(a->r[a->i].status);
	if (c != 0)
		return c;
	return strcmp(ia->id, ib->id);
}

/* "2 critici", "1 critico": the status as a count reads in a summary. */
static const char *count_label(enum tg_status s, size_t n, bool en)
{
	static const char *const it1[TG_STATUS_COUNT] = {
		"in obiettivo", "senza dati", "in attenzione", "in ritardo", "critico", "in errore" };
	static const char *const itn[TG_STATUS_COUNT] = {
		"in obiettivo", "senza dati", "in attenzione", "in ritardo", "critici", "in errore" };
	static const char *const en1[TG_STATUS_COUNT] = {
		"ok", "unknown", "warning", "late", "critical", "error" };

	if (en)
		return en1[s];
	return n == 1 ? it1[s] : itn[s];
}

const char *tg_output_summary(const struct tg_config *cfg, const struct tg_engine *e,
			      char *buf, size_t size)
{
	const struct tg_eval_result *res = tg_engine_results(e);
	static const enum tg_status order[] = {
		TG_STATUS_OK, TG_STATUS_WARNING, TG_STATUS_CRITICAL, TG_STATUS_LATE,
		TG_STATUS_ERROR, TG_STATUS_UNKNOWN,
	};
	size_t count[TG_STATUS_COUNT] = { 0 }, len;
	bool en = lang_en(cfg);

	for (size_t i = 0; i < cfg->n_indicators; i++)
		count[res[i].status]++;
	len = (size_t)snprintf(buf, size, "%zu %s:", cfg->n_indicators, en ? "indicators" : "indicatori");
	for (size_t k = 0, first = 1; k < sizeof(order) / sizeof(order[0]); k++) {
		if (count[order[k]] == 0 || len >= size)
			continue;
		len += (size_t)snprintf(buf + len, size - len, "%s %zu %s", first ? "" : ",",
					count[order[k]], count_label(order[k], count[order[k]], en));
		first = 0;
	}
	return buf;
}

void tg_output_table(FILE *f, const struct tg_config *cfg, const struct tg_engine *e,
		     tg_time now, bool colour)
{
	const struct tg_eval_result *res = tg_engine_results(e);
	const char *lang = cfg->daemon.language;
	bool en = lang_en(cfg);
	struct row_ref *rows = calloc(cfg->n_indicators ? cfg->n_indicators : 1, sizeof(*rows));
	const char *dept = NULL;
	char nowbuf[32], summary[256];
	int y, m, d, hh, mm;

	if (rows == NULL) {
		fputs("out of memory\n", f);
		return;
	}
	for (size_t i = 0; i < cfg->n_indicators; i++)
		rows[i] = (struct row_ref){ i, cfg, res };
	qsort(rows, cfg->n_indicators, sizeof(*rows), row_cmp);

	tg_day_to_ymd(tg_time_day(now), &y, &m, &d);
	hour_min(now, &hh, &mm);
	if (en)
		snprintf(nowbuf, sizeof(nowbuf), "%04d-%02d-%02d %02d:%02d", y, m, d, hh, mm);
	else
		snprintf(nowbuf, sizeof(nowbuf), "%02d/%02d/%04d %02d:%02d", d, m, y, hh, mm);
	if (cfg->daemon.organization != NULL)
		fprintf(f, "%s — ", cfg->daemon.organization);
	fprintf(f, en ? "indicator status at %s\n" : "stato degli indicatori al %s\n", nowbuf);

	for (size_t k = 0; k < cfg->n_indicators; k++) {
		const struct tg_indicator *ind = &cfg->indicators[rows[k].i];
		const struct tg_eval_result *r = &res[rows[k].i];
		char label[64], val[96], tgt[96], fc[96];

		if (dept == NULL || strcmp(dept, ind->department) != 0) {
			dept = ind->department;
			fprintf(f, "\n%s%s%s\n", colour ? "\033[1m" : "", dept, colour ? "\033[0m" : "");
			fputs("  ", f);
			tg_output_cell(f, en ? "STATUS" : "STATO", 14);
			tg_output_cell(f, "ID", 10);
			tg_output_cell(f, en ? "INDICATOR" : "INDICATORE", 40);
			tg_output_cell(f, en ? "PERIOD" : "PERIODO", 16);
			tg_output_cell(f, en ? "VALUE" : "VALORE", 15);
			tg_output_cell(f, en ? "TARGET" : "OBIETTIVO", 12);
			fputs(en ? "YEAR FORECAST\n" : "PREVISIONE ANNO\n", f);
		}
		fputs("  ", f);
		if (colour)
			fputs(colour_of(r->status), f);
		tg_output_cell(f, tg_status_label(r->status, lang), 14);
		if (colour)
			fputs("\033[0m", f);
		tg_output_cell(f, ind->id, 10);
		tg_output_cell(f, ind->name, 40);
		tg_output_cell(f, r->has_value ? tg_period_label(ind->period, r->period, lang, label, sizeof(label)) : "—", 16);
		tg_output_cell(f, r->has_value ? tg_output_value(ind, r->value, lang, val, sizeof(val)) : "—", 15);
		tg_output_cell(f, tg_output_target(ind, lang, tgt, sizeof(tgt)), 12);
		if (r->has_forecast) {
			tg_output_value(ind, r->forecast, lang, fc, sizeof(fc));
			fprintf(f, "%s%s", fc, r->forecast_misses ? (en ? " (misses)" : " (mancato)") : "");
		} else {
			fputs("—", f);
		}
		fprintf(f, "\n  %14s%s%s%s\n", "", colour ? "\033[2m" : "", r->reason, colour ? "\033[0m" : "");
	}
	free(rows);

	fprintf(f, "\n%s\n", tg_output_summary(cfg, e, summary, sizeof(summary)));
	for (size_t s = 0; s < cfg->n_sources; s++) {
		const struct tg_source_state *st = tg_engine_source_state(e, s);

		if (st->failed)
			fprintf(f, en ? "source '%s' FAILED: %s\n" : "fonte '%s' IN ERRORE: %s\n",
				cfg->sources[s].name, st->error);
		else if (st->ran && (st->stats.bad_rows || st->stats.unknown_rows))
			fprintf(f, en ? "source '%s': %zu values read; bad rows skipped: %zu; rows for unknown indicators: %zu\n"
				      : "fonte '%s': %zu valori letti; righe errate scartate: %zu; righe di indicatori sconosciuti: %zu\n",
				cfg->sources[s].name, st->stats.measurements, st->stats.bad_rows,
				st->stats.unknown_rows);
	}
}

/* A JSON number, or null when absent; json_real refuses NaN and infinities,
 * which are no JSON numbers: they become null too, never a missing key. */
static json_t *num_or_null(bool has, double v)
{
	return has && isfinite(v) ? json_real(v) : json_null();
}

/* A JSON string of any text: jansson refuses invalid UTF-8 (json_string
 * returns NULL), so such text is written with its bad bytes as \xHH. */
static json_t *str_any(const char *s)
{
	json_t *j;
	char *q;
	size_t len, size;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	if (j != NULL)
		return j;
	len = strlen(s);
	if (len > (SIZE_MAX - 1) / 4)
		return NULL;
	size = len * 4 + 1;
	q = malloc(size);
	if (q == NULL)
		return NULL;
	tg_error_quote(s, len, len, q, size);
	j = json_string(q);
	free(q);
	return j;
}

/* Sets key to v (stolen) and remembers a failure: a key is never silently
 * left out of the contract. */
static void set(json_t *o, const char *key, json_t *v, bool *ok)
{
	if (v == NULL || json_object_set_new(o, key, v) < 0)
		*ok = false;
}

static json_t *indicator_json(const struct tg_indicator *ind, const struct tg_eval_result *r)
{
	char iso[16];
	json_t *o = json_object();
	bool ok = true;

	if (o == NULL)
		return NULL;
	set(o, "id", str_any(ind->id), &ok);
	set(o, "name", str_any(ind->name), &ok);
	set(o, "department", str_any(ind->department), &ok);
	set(o, "process", str_any(ind->process), &ok);
	set(o, "owner", str_any(ind->owner), &ok);
	set(o, "unit", str_any(ind->unit), &ok);
	set(o, "status", json_string(tg_status_name(r->status)), &ok);
	set(o, "light", json_string(tg_status_name(r->light)), &ok);
	set(o, "period", r->has_value ? json_string(tg_day_iso(r->period, iso, sizeof(iso))) : json_null(), &ok);
	set(o, "period_kind", json_string(tg_period_kind_name(ind->period)), &ok);
	set(o, "value", num_or_null(r->has_value, r->value), &ok);
	set(o, "better", json_string(ind->better == TG_BETTER_HIGHER ? "higher" :
				     ind->better == TG_BETTER_LOWER ? "lower" : "range"), &ok);
	set(o, "target", num_or_null(ind->has_target, ind->target), &ok);
	set(o, "critical", num_or_null(ind->has_critical, ind->critical), &ok);
	if (ind->better == TG_BETTER_RANGE) {
		set(o, "min", num_or_null(ind->has_min, ind->min), &ok);
		set(o, "max", num_or_null(ind->has_max, ind->max), &ok);
	}
	set(o, "forecast", num_or_null(r->has_forecast, r->forecast), &ok);
	if (ind->year_target.set) {
		set(o, "year_target", num_or_null(true, ind->year_target.value), &ok);
		set(o, "forecast_misses", json_boolean(r->has_forecast && r->forecast_misses), &ok);
	}
	set(o, "expected_period", r->has_expected ? json_string(tg_day_iso(r->expected, iso, sizeof(iso))) : json_null(), &ok);
	set(o, "reason", str_any(r->reason), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void newline_pad(FILE *f, int n)
{
	static const char spaces[] = "                ";

	fputc('\n', f);
	for (; n > 0; n -= 16)
		fwrite(spaces, 1, n < 16 ? (size_t)n : 16, f);
}

/*
 * The indicators' array as json_dumps() writes it with JSON_INDENT(indent)
 * at nesting depth `depth`, built one object at a time: a jansson tree of
 * 100,000 indicators costs some 500 MB.  (JSON strings hold no raw newline,
 * so each line of an object's text only needs the deeper indentation.)
 */
static int put_indicators(FILE *f, const struct tg_config *cfg, const struct tg_engine *e,
			  int indent, int depth)
{
	const struct tg_eval_result *res = tg_engine_results(e);

	if (cfg->n_indicators == 0) {
		fputs("[]", f);
		return 0;
	}
	fputc('[', f);
	for (size_t i = 0; i < cfg->n_indicators; i++) {
		json_t *o = indicator_json(&cfg->indicators[i], &res[i]);
		char *t = o != NULL ? json_dumps(o, JSON_INDENT(indent) | JSON_REAL_PRECISION(15)) : NULL;

		json_decref(o);
		if (t == NULL)
			return -ENOMEM;
		if (i > 0)
			fputc(',', f);
		newline_pad(f, indent * (depth + 1));
		for (const char *p = t, *nl;; p = nl + 1) {
			nl = strchr(p, '\n');
			fwrite(p, 1, nl != NULL ? (size_t)(nl - p) : strlen(p), f);
			if (nl == NULL)
				break;
			newline_pad(f, indent * (depth + 1));
		}
		free(t);
	}
	newline_pad(f, indent * depth);
	fputc(']', f);
	return 0;
}

/* Ends a memory stream: its text, or NULL (freed) after any failure. */
static char *stream_end(FILE *f, char **buf, int rc)
{
	if (fclose(f) != 0 || rc < 0) {
		free(*buf);
		return NULL;
	}
	return *buf;
}

char *tg_output_json(const struct tg_config *cfg, const struct tg_engine *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	return stream_end(f, &buf, put_indicators(f, cfg, e, 2, 0));
}

/* The root's text with the indicators' array in place of its null. */
static char *splice_indicators(const char *root, const struct tg_config *cfg,
			       const struct tg_engine *e)
{
	static const char key[] = "\n \"indicators\": null";
	const char *at = strstr(root, key);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (at == NULL || (f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	fwrite(root, 1, (size_t)(at - root), f);
	fputs("\n \"indicators\": ", f);
	rc = put_indicators(f, cfg, e, 1, 1);
	fputs(at + strlen(key), f);
	return stream_end(f, &buf, rc);
}

int tg_output_status_file(const struct tg_config *cfg, const struct tg_engine *e, tg_time now,
			  int64_t wall_clock, const struct tg_output_notify *notify,
			  struct tg_error *err)
{
	json_t *root = json_object(), *srcs = json_array();
	char path[4096], iso[16], nowbuf[32];
	char *text;
	bool ok = true;
	int rc, hh, mm;

	if ((size_t)snprintf(path, sizeof(path), "%s/status.json", cfg->daemon.state_dir) >= sizeof(path)) {
		json_decref(root);
		json_decref(srcs);
		return tg_error_setc(err, -ENAMETOOLONG, "%s: path too long", cfg->daemon.state_dir);
	}
	if (root == NULL || srcs == NULL)
		goto nomem;
	hour_min(now, &hh, &mm);
	snprintf(nowbuf, sizeof(nowbuf), "%sT%02d:%02d", tg_day_iso(tg_time_day(now), iso, sizeof(iso)),
		 hh, mm);
	for (size_t s = 0; s < cfg->n_sources; s++) {
		const struct tg_source_state *st = tg_engine_source_state(e, s);
		json_t *o = json_object();

		if (o == NULL || json_array_append_new(srcs, o) < 0)
			goto nomem;
		set(o, "name", str_any(cfg->sources[s].name), &ok);
		set(o, "status", json_string(!st->ran ? "pending" : st->failed ? "error" : "ok"), &ok);
		set(o, "error", st->failed ? str_any(st->error) : json_null(), &ok);
		set(o, "last_run", json_integer(st->last_run), &ok);
		set(o, "files", json_integer((json_int_t)st->stats.files), &ok);
		set(o, "measurements", json_integer((json_int_t)st->stats.measurements), &ok);
		set(o, "bad_rows", json_integer((json_int_t)st->stats.bad_rows), &ok);
		set(o, "unknown_rows", json_integer((json_int_t)st->stats.unknown_rows), &ok);
	}
	set(root, "version", json_integer(1), &ok);
	set(root, "now", json_string(nowbuf), &ok);
	set(root, "generated_at", json_integer(wall_clock), &ok);
	set(root, "indicators", json_null(), &ok);  /* spliced in below */
	set(root, "sources", srcs, &ok);
	srcs = NULL;
	if (notify != NULL)
		set(root, "notifications",
		    json_pack("{s:I, s:I, s:I, s:o?, s:o?}", "outbox", (json_int_t)notify->outbox,
			      "failed", (json_int_t)notify->outbox_failed, "alerts_active",
			      (json_int_t)notify->alerts_active,
			      /* servers' messages: any bytes, never a reason to fail */
			      "ha", notify->ha != NULL ? str_any(notify->ha) : NULL,
			      "archive", notify->archive != NULL ? str_any(notify->archive) : NULL),
		    &ok);
	if (!ok)
		goto nomem;
	text = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(15));
	json_decref(root);
	if (text != NULL) {
		char *full = splice_indicators(text, cfg, e);

		free(text);
		text = full;
	}
	if (text == NULL)
		return tg_error_setc(err, -ENOMEM, "out of memory");
	rc = tg_fs_write_atomic(path, text, strlen(text), 0640, err);
	free(text);
	return rc;
nomem:
	json_decref(root);
	json_decref(srcs);
	return tg_error_setc(err, -ENOMEM, "%s: out of memory", path);
}
