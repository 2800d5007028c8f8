/*
 * fuzz_config.c — arbitrary text through tg_config_load_string: no crash,
 * no leak, and a consistent answer (a config exactly when nothing was
 * reported, every reported message non-empty, lookups that find every id).
 *
 * Inputs with @include are skipped: they would read files of the machine
 * running the fuzzer, which tests libconfig and the disk, not the loader.
 *
 * libconfig 1.5 itself leaks the text of a string token found where a
 * setting name is expected ('a = 1; "x"b = 2;' is a syntax error that loses
 * 64 bytes in strbuf_append called by libconfig_yylex: its grammar has no
 * %destructor).  That one leak, which is not ours to fix, is suppressed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
	return "leak:libconfig_yylex\nleak:strbuf_append\n";
}

struct seen {
	size_t n;
};

static void report(void *ctx, const char *file, int line, const char *msg)
{
	struct seen *s = ctx;

	if (file == NULL || msg == NULL || msg[0] == '\0' || line < 0)
		abort();
	s->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen seen = { 0 };
	struct tg_error err = { { 0 } };
	struct tg_config *cfg;
	char *text;

	if (size > 256 * 1024)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strstr(text, "@include") != NULL || strstr(text, "@INCLUDE") != NULL) {
		free(text);
		return 0;
	}
	cfg = tg_config_load_string(text, "fuzz.conf", report, &seen, &err);
	if ((cfg == NULL) != (seen.n > 0))
		abort();
	if (cfg == NULL && err.msg[0] == '\0')
		abort();
	if (cfg != NULL) {
		for (size_t i = 0; i < cfg->n_indicators; i++) {
			const char *id = cfg->indicators[i].id;

			if (id == NULL || tg_config_indicator_index(cfg, id, strlen(id)) != (ssize_t)i)
				abort();
		}
		for (size_t i = 0; i < cfg->n_sources; i++)
			if (tg_config_source_index(cfg, cfg->sources[i].name) != (ssize_t)i)
				abort();
		for (size_t i = 0; i < cfg->n_channels; i++)
			if (tg_config_channel_index(cfg, cfg->channels[i].name) != (ssize_t)i)
				abort();
	}
	tg_config_free(cfg);
	free(text);
	return 0;
}
