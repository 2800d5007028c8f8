/*
 * test_output.c — what people and programs read: the JSON of --json (the
 * contract fields, JSON numbers, null for what is absent), status.json
 * (written atomically, also for times before 1970), the table (aligned by
 * display width with accents, wide characters and cut names; no control
 * byte from a hostile file name reaches the terminal) and the summary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine.h"
#include "log.h"
#include "output.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tg-output-XXXXXX");
	tg_log_init("test_output", 0);
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
	fclose(f);
}

static void report(void *ctx, const char *file, int line, const char *msg)
{
	(void)ctx;
	print_error("config: %s:%d: %s\n", file, line, msg);
}

static struct tg_config *load(const char *text, const char *lang)
{
	char buf[8192];
	size_t o = 0;
	struct tg_error err;
	struct tg_config *cfg;

	for (const char *p = text; *p != '\0'; p++) {
		if (p[0] == '@' && p[1] == 'D') {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", dir);
			p++;
		} else if (p[0] == '@' && p[1] == 'L') {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", lang);
			p++;
		} else {
			buf[o++] = *p;
		}
		assert_true(o < sizeof(buf) - 1);
	}
	buf[o] = '\0';
	cfg = tg_config_load_string(buf, "/tmp/t.conf", report, NULL, &err);
	if (cfg == NULL)
		fail_msg("config not valid: %s", err.msg);
	return cfg;
}

static tg_time at(const char *s)
{
	struct tg_error err;
	tg_time t;

	assert_int_equal(tg_time_parse(s, &t, &err), 0);
	return t;
}

static const char conf_text[] =
	"daemon = { state_dir = \"@D/state\"; language = \"@L\"; };\n"
	"sources = (\n"
	"  { name = \"rag\"; type = \"csv\"; path = \"@D/rag.csv\"; },\n"
	"  { name = \"broken\"; type = \"csv\"; path = \"@D/feed*.csv\";\n"
	"    columns = { indicator = \"Codice\"; period = \"Mese\"; value = \"Valore\"; }; }\n"
	");\n"
	"indicators = (\n"
	"  { id = \"RAG-01\"; name = \"Tempo medio di pagamento delle fatture (giorni di calendario)\";\n"
	"    department = \"Ragioneria\"; unit = \"giorni\"; better = \"lower\"; target = 30; critical = 45;\n"
	"    process = \"Spesa\"; owner = \"rag@comune.example\";\n"
	"    year_target = { value = 30.0; aggregate = \"mean\"; }; },\n"
	"  { id = \"RAG-02\"; name = \"Qualità \xe6\xbc\xa2 dati\"; department = \"Ragioneria\";\n"
	"    unit = \"%\"; target = 95; },\n"
	"  { id = \"RAG-03\"; name = \"Senza dati\"; department = \"Ragioneria\"; target = 1;\n"
	"    source = \"rag\"; },\n"
	"  { id = \"RNG-01\"; name = \"Intervallo\"; department = \"Ragioneria\"; better = \"range\";\n"
	"    min = 90; max = 110; source = \"rag\"; },\n"
	"  { id = \"BRK-01\"; name = \"Da fonte rotta\"; department = \"URP\"; target = 1;\n"
	"    source = \"broken\"; }\n"
	");\n";

/* rag.csv feeds three indicators; feed<ESC>[31m<LF>.csv has no Codice column */
static struct tg_engine *run_all(const struct tg_config *cfg)
{
	struct tg_error err;
	struct tg_engine *e = tg_engine_new(cfg, TG_JOURNAL_NONE, NULL, &err);

	assert_non_null(e);
	write_file("rag.csv", "Codice;Mese;Valore\n"
			      "RAG-01;09/2026;28\nRAG-01;10/2026;31,5\n"
			      "RAG-02;10/2026;96,5\nRNG-01;10/2026;100\n");
	write_file("feed\x1b[31m\n.csv", "Code;Month;Value\nBRK-01;10/2026;1\n");
	assert_int_equal(tg_engine_run_source(e, 0, 1000), 0);
	assert_true(tg_engine_run_source(e, 1, 1000) < 0);
	tg_engine_evaluate(e, at("2026-11-05T10:00"));
	return e;
}

static json_t *by_id(json_t *a, const char *id)
{
	size_t i;
	json_t *o;

	json_array_foreach(a, i, o)
		if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
			return o;
	fail_msg("no object for %s", id);
	return NULL;
}

static void test_json_contract(void **state)
{
	static const char *const keys[] = {
		"id", "name", "department", "status", "period", "value", "target", "forecast", "reason",
		"process", "owner", "unit", "light", "period_kind", "better", "critical", "expected_period",
	};
	struct tg_config *cfg = load(conf_text, "it");
	struct tg_engine *e = run_all(cfg);
	char *s = tg_output_json(cfg, e);
	json_error_t jerr;
	json_t *a, *o;
	size_t i;

	(void)state;
	assert_non_null(s);
	a = json_loads(s, 0, &jerr);
	if (a == NULL)
		fail_msg("not JSON: %s", jerr.text);
	assert_true(json_is_array(a));
	assert_int_equal(json_array_size(a), cfg->n_indicators);
	/* written one object at a time, exactly as jansson writes the tree */
	{
		char *again = json_dumps(a, JSON_INDENT(2) | JSON_REAL_PRECISION(15));

		assert_non_null(again);
		assert_string_equal(s, again);
		free(again);
	}
	json_array_foreach(a, i, o) {
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (json_object_get(o, keys[k]) == NULL) {
				print_error("indicator %zu: no key '%s'\n", i, keys[k]);
				fail();
			}
		assert_string_equal(json_string_value(json_object_get(o, "id")), cfg->indicators[i].id);
	}
	/* a value: numbers are JSON numbers, the period its first day */
	o = by_id(a, "RAG-01");
	assert_string_equal(json_string_value(json_object_get(o, "status")), "warning");
	assert_true(json_is_number(json_object_get(o, "value")));
	assert_true(json_number_value(json_object_get(o, "value")) == 31.5);
	assert_true(json_number_value(json_object_get(o, "target")) == 30);
	assert_true(json_number_value(json_object_get(o, "critical")) == 45);
	assert_string_equal(json_string_value(json_object_get(o, "period")), "2026-10-01");
	assert_string_equal(json_string_value(json_object_get(o, "period_kind")), "month");
	assert_string_equal(json_string_value(json_object_get(o, "better")), "lower");
	assert_string_equal(json_string_value(json_object_get(o, "process")), "Spesa");
	assert_true(json_is_number(json_object_get(o, "forecast")));
	assert_true(json_is_boolean(json_object_get(o, "forecast_misses")));
	assert_true(json_is_number(json_object_get(o, "year_target")));
	/* absent values are null, not missing, not 0 */
	o = by_id(a, "RAG-02");
	assert_string_equal(json_string_value(json_object_get(o, "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(o, "name")), "Qualità \xe6\xbc\xa2 dati");
	assert_true(json_is_null(json_object_get(o, "critical")));
	assert_true(json_is_null(json_object_get(o, "forecast")));
	assert_true(json_is_null(json_object_get(o, "process")));
	assert_true(json_is_null(json_object_get(o, "owner")));
	assert_null(json_object_get(o, "year_target"));
	o = by_id(a, "RAG-03");
	assert_string_equal(json_string_value(json_object_get(o, "status")), "unknown");
	assert_true(json_is_null(json_object_get(o, "period")));
	assert_true(json_is_null(json_object_get(o, "value")));
	assert_true(json_is_null(json_object_get(o, "unit")));
	assert_true(json_is_null(json_object_get(o, "expected_period")));
	o = by_id(a, "RNG-01");
	assert_true(json_is_null(json_object_get(o, "target")));
	assert_true(json_number_value(json_object_get(o, "min")) == 90);
	assert_true(json_number_value(json_object_get(o, "max")) == 110);
	o = by_id(a, "BRK-01");
	assert_string_equal(json_string_value(json_object_get(o, "status")), "error");
	assert_null(strchr(json_string_value(json_object_get(o, "reason")), '\x1b'));
	json_decref(a);
	free(s);
	tg_engine_free(e);
	tg_config_free(cfg);
}

static void test_status_file(void **state)
{
	struct tg_config *cfg = load(conf_text, "en");
	struct tg_engine *e = run_all(cfg);
	struct tg_error err;
	char path[256];
	json_error_t jerr;
	json_t *root, *srcs, *o;

	(void)state;
	/* no state directory yet: an error that names the file */
	err.msg[0] = '\0';
	assert_true(tg_output_status_file(cfg, e, at("2026-11-05T10:00"), 1234, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "status.json"));

	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	/* a moment before 1970 still reads as a time of day */
	assert_int_equal(tg_output_status_file(cfg, e, at("1900-01-01T10:30"), 1234, NULL, &err), 0);
	snprintf(path, sizeof(path), "%s/state/status.json", dir);
	root = json_load_file(path, 0, &jerr);
	if (root == NULL)
		fail_msg("status.json is not JSON: %s", jerr.text);
	/* the indicators spliced in read exactly as jansson writes the tree */
	{
		char *again = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(15));
		FILE *f = fopen(path, "r");
		char text[65536];
		size_t n;

		assert_non_null(again);
		assert_non_null(f);
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[n] = '\0';
		assert_string_equal(text, again);
		free(again);
	}
	assert_string_equal(json_string_value(json_object_get(root, "now")), "1900-01-01T10:30");
	assert_int_equal(json_integer_value(json_object_get(root, "version")), 1);
	assert_int_equal(json_integer_value(json_object_get(root, "generated_at")), 1234);
	assert_int_equal(json_array_size(json_object_get(root, "indicators")), cfg->n_indicators);
	srcs = json_object_get(root, "sources");
	assert_int_equal(json_array_size(srcs), 2);
	o = json_array_get(srcs, 0);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "ok");
	assert_true(json_is_null(json_object_get(o, "error")));
	assert_int_equal(json_integer_value(json_object_get(o, "measurements")), 4);
	o = json_array_get(srcs, 1);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "error");
	/* the hostile file name is in the message, escaped */
	assert_non_null(strstr(json_string_value(json_object_get(o, "error")), "feed\\x1B[31m\\x0A.csv"));
	json_decref(root);

	/* the ha and archive lines quote servers: bytes that are not UTF-8
	 * (a message in Latin-1, a cut) are escaped, never a reason to fail */
	{
		struct tg_output_notify nt = { 1, 0, 2, "ha standby (no connection: il sistema \xE8 \xC3",
					       "archive connected, 0 waiting" };

		assert_int_equal(tg_output_status_file(cfg, e, at("2026-11-05T10:00"), 1235, &nt, &err), 0);
		root = json_load_file(path, 0, &jerr);
		assert_non_null(root);
		o = json_object_get(root, "notifications");
		assert_non_null(strstr(json_string_value(json_object_get(o, "ha")), "il sistema \\xE8"));
		assert_string_equal(json_string_value(json_object_get(o, "archive")),
				    "archive connected, 0 waiting");
		assert_int_equal(json_integer_value(json_object_get(root, "generated_at")), 1235);
		json_decref(root);
	}
	tg_engine_free(e);
	tg_config_free(cfg);
}

/* Display width as a terminal shows it, for the characters of this test:
 * U+6F22 is wide, everything else one column. */
static size_t test_width(const char *s, size_t bytes)
{
	size_t w = 0;

	for (size_t i = 0; i < bytes; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c & 0xC0) == 0x80)
			continue;
		w += (c == 0xE6 && i + 2 < bytes && (unsigned char)s[i + 1] == 0xBC) ? 2 : 1;
	}
	return w;
}

static void test_table(void **state)
{
	static const char *const langs[] = { "it", "en" };

	(void)state;
	for (size_t l = 0; l < 2; l++) {
		struct tg_config *cfg = load(conf_text, langs[l]);
		struct tg_engine *e = run_all(cfg);
		const char *period = l == 0 ? "ottobre 2026" : "October 2026";
		char *text = NULL, *line, *save = NULL;
		size_t len = 0, rows = 0;
		FILE *f = open_memstream(&text, &len);

		assert_non_null(f);
		tg_output_table(f, cfg, e, at("2026-11-05T10:00"), false);
		fclose(f);
		/* not a single control byte but the line breaks */
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)text[i] < 0x20 && text[i] != '\n') {
				print_error("%s: control byte 0x%02x at %zu\n", langs[l], text[i], i);
				fail();
			}
		assert_non_null(strstr(text, "\\x1B[31m"));
		assert_non_null(strstr(text, l == 0 ? "stato degli indicatori al 05/11/2026 10:00"
					       : "indicator status at 2026-11-05 10:00"));
		/* every row with a value: the period column starts at column 66
		 * (2 + status 14 + id 10 + name 40), whatever the name holds */
		for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
			char *p = strstr(line, period);

			if (p == NULL || strncmp(line, "  ", 2) != 0 || line[2] == ' ')   /* not a reason */
				continue;
			rows++;
			if (test_width(line, (size_t)(p - line)) != 66) {
				print_error("%s: misaligned row: \"%s\"\n", langs[l], line);
				fail();
			}
		}
		assert_int_equal(rows, 3);
		/* the long name is cut with an ellipsis */
		free(text);
		text = NULL;
		f = open_memstream(&text, &len);
		tg_output_table(f, cfg, e, at("2026-11-05T10:00"), false);
		fclose(f);
		assert_non_null(strstr(text, "Tempo medio di pagamento delle fatture…"));
		assert_null(strstr(text, "(giorni di calendario)"));
		free(text);
		tg_engine_free(e);
		tg_config_free(cfg);
	}
}

static void test_summary(void **state)
{
	struct tg_config *cfg = load(conf_text, "it");
	struct tg_engine *e = run_all(cfg);
	char buf[256], small[12];

	(void)state;
	assert_string_equal(tg_output_summary(cfg, e, buf, sizeof(buf)),
			    "5 indicatori: 2 in obiettivo, 1 in attenzione, 1 in errore, 1 senza dati");
	tg_output_summary(cfg, e, small, sizeof(small));   /* cut, never overrun */
	assert_true(strlen(small) < sizeof(small));
	tg_engine_free(e);
	tg_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_contract),
		cmocka_unit_test(test_status_file),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_summary),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
