/*
 * output.c — status table and JSON (see output.h).
 *
 * The table is for a person at a terminal or reading a cron mail: aligned by
 * display width (UTF-8 aware, not bytes), one block per department, worst
 * status first, and the reason in words under each row.
 */
#include "output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fsutil.h"
#include "number.h"
#include "period.h"

static bool lang_en(const struct tg_config *cfg)
{
	return strcmp(cfg->daemon.language, "en") == 0;
}

/* Display width of UTF-8 text: code points, not bytes (no East Asian wide
 * characters are expected in indicator names). */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

/* Prints s padded or cut to w - 1 columns (a cut ends with "…") and a
 * space, so that neighbouring columns never touch. */
static void cell(FILE *f, const char *s, size_t w)
{
	size_t sw = width(s);

	if (sw < w) {
		fputs(s, f);
		for (size_t i = sw; i < w; i++)
			fputc(' ', f);
		return;
	}
	for (size_t cols = 0; *s; s++) {
		if (((unsigned char)*s & 0xC0) != 0x80 && ++cols > w - 2)
			break;
		fputc(*s, f);
	}
	fputs("… ", f);
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

static const char *value_text(const struct tg_indicator *ind, double v, const char *lang,
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

static const char *target_text(const struct tg_indicator *ind, const char *lang, char *buf,
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
	int y, m, d;

	if (rows == NULL) {
		fputs("out of memory\n", f);
		return;
	}
	for (size_t i = 0; i < cfg->n_indicators; i++)
		rows[i] = (struct row_ref){ i, cfg, res };
	qsort(rows, cfg->n_indicators, sizeof(*rows), row_cmp);

	tg_day_to_ymd(tg_time_day(now), &y, &m, &d);
	if (en)
		snprintf(nowbuf, sizeof(nowbuf), "%04d-%02d-%02d %02d:%02d", y, m, d,
			 (int)(now % TG_DAY_SECONDS / 3600), (int)(now % 3600 / 60));
	else
		snprintf(nowbuf, sizeof(nowbuf), "%02d/%02d/%04d %02d:%02d", d, m, y,
			 (int)(now % TG_DAY_SECONDS / 3600), (int)(now % 3600 / 60));
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
			cell(f, en ? "STATUS" : "STATO", 14);
			cell(f, "ID", 10);
			cell(f, en ? "INDICATOR" : "INDICATORE", 40);
			cell(f, en ? "PERIOD" : "PERIODO", 16);
			cell(f, en ? "VALUE" : "VALORE", 15);
			cell(f, en ? "TARGET" : "OBIETTIVO", 12);
			fputs(en ? "YEAR FORECAST\n" : "PREVISIONE ANNO\n", f);
		}
		fputs("  ", f);
		if (colour)
			fputs(colour_of(r->status), f);
		cell(f, tg_status_label(r->status, lang), 14);
		if (colour)
			fputs("\033[0m", f);
		cell(f, ind->id, 10);
		cell(f, ind->name, 40);
		cell(f, r->has_value ? tg_period_label(ind->period, r->period, lang, label, sizeof(label)) : "—", 16);
		cell(f, r->has_value ? value_text(ind, r->value, lang, val, sizeof(val)) : "—", 15);
		cell(f, target_text(ind, lang, tgt, sizeof(tgt)), 12);
		if (r->has_forecast) {
			value_text(ind, r->forecast, lang, fc, sizeof(fc));
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

static json_t *num_or_null(bool has, double v)
{
	return has ? json_real(v) : json_null();
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *indicator_json(const struct tg_indicator *ind, const struct tg_eval_result *r)
{
	char iso[16];
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "id", json_string(ind->id));
	json_object_set_new(o, "name", json_string(ind->name));
	json_object_set_new(o, "department", json_string(ind->department));
	json_object_set_new(o, "process", str_or_null(ind->process));
	json_object_set_new(o, "owner", str_or_null(ind->owner));
	json_object_set_new(o, "unit", str_or_null(ind->unit));
	json_object_set_new(o, "status", json_string(tg_status_name(r->status)));
	json_object_set_new(o, "light", json_string(tg_status_name(r->light)));
	json_object_set_new(o, "period", r->has_value ? json_string(tg_day_iso(r->period, iso, sizeof(iso))) : json_null());
	json_object_set_new(o, "period_kind", json_string(tg_period_kind_name(ind->period)));
	json_object_set_new(o, "value", num_or_null(r->has_value, r->value));
	json_object_set_new(o, "better", json_string(ind->better == TG_BETTER_HIGHER ? "higher" :
						     ind->better == TG_BETTER_LOWER ? "lower" : "range"));
	json_object_set_new(o, "target", num_or_null(ind->has_target, ind->target));
	json_object_set_new(o, "critical", num_or_null(ind->has_critical, ind->critical));
	if (ind->better == TG_BETTER_RANGE) {
		json_object_set_new(o, "min", num_or_null(ind->has_min, ind->min));
		json_object_set_new(o, "max", num_or_null(ind->has_max, ind->max));
	}
	json_object_set_new(o, "forecast", num_or_null(r->has_forecast, r->forecast));
	if (ind->year_target.set) {
		json_object_set_new(o, "year_target", json_real(ind->year_target.value));
		json_object_set_new(o, "forecast_misses", json_boolean(r->has_forecast && r->forecast_misses));
	}
	json_object_set_new(o, "expected_period", r->has_expected ? json_string(tg_day_iso(r->expected, iso, sizeof(iso))) : json_null());
	json_object_set_new(o, "reason", json_string(r->reason));
	return o;
}

static json_t *indicators_json(const struct tg_config *cfg, const struct tg_engine *e)
{
	const struct tg_eval_result *res = tg_engine_results(e);
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < cfg->n_indicators; i++) {
		json_t *o = indicator_json(&cfg->indicators[i], &res[i]);

		if (o == NULL || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

char *tg_output_json(const struct tg_config *cfg, const struct tg_engine *e)
{
	json_t *a = indicators_json(cfg, e);
	char *s;

	if (a == NULL)
		return NULL;
	s = json_dumps(a, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	json_decref(a);
	return s;
}

int tg_output_status_file(const struct tg_config *cfg, const struct tg_engine *e, tg_time now,
			  int64_t wall_clock, struct tg_error *err)
{
	json_t *root = json_object(), *srcs = json_array();
	char path[4096], iso[16], nowbuf[32];
	char *text;
	int rc;

	if (root == NULL || srcs == NULL)
		goto nomem;
	snprintf(nowbuf, sizeof(nowbuf), "%sT%02d:%02d", tg_day_iso(tg_time_day(now), iso, sizeof(iso)),
		 (int)(now % TG_DAY_SECONDS / 3600), (int)(now % 3600 / 60));
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "now", json_string(nowbuf));
	json_object_set_new(root, "generated_at", json_integer(wall_clock));
	json_object_set_new(root, "indicators", indicators_json(cfg, e));
	for (size_t s = 0; s < cfg->n_sources; s++) {
		const struct tg_source_state *st = tg_engine_source_state(e, s);

		json_array_append_new(srcs, json_pack("{s:s, s:s, s:s?, s:I, s:I, s:I, s:I}",
			"name", cfg->sources[s].name,
			"status", !st->ran ? "pending" : st->failed ? "error" : "ok",
			"error", st->failed ? st->error : NULL,
			"last_run", (json_int_t)st->last_run,
			"measurements", (json_int_t)st->stats.measurements,
			"bad_rows", (json_int_t)st->stats.bad_rows,
			"unknown_rows", (json_int_t)st->stats.unknown_rows));
	}
	json_object_set_new(root, "sources", srcs);
	srcs = NULL;
	text = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(15));
	json_decref(root);
	if (text == NULL)
		return tg_error_setc(err, -ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "%s/status.json", cfg->daemon.state_dir);
	rc = tg_fs_write_atomic(path, text, strlen(text), 0640, err);
	free(text);
	return rc;
nomem:
	json_decref(root);
	json_decref(srcs);
	return tg_error_setc(err, -ENOMEM, "out of memory");
}
