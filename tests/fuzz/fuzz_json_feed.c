/*
 * fuzz_json_feed.c — libFuzzer target for JSON feeds.
 *
 * The same bytes are read in the long layout (records at the top level and
 * under "data", with flat and nested field paths) and in the by_indicator
 * layout.  Every run must either fail with a message or account for every
 * record exactly once (measured, missing, bad or unknown), and no message may
 * carry a control byte from the document.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const missing[] = { "", "n.d.", "-" };

static void check_text(const char *s)
{
	if (s[0] == '\0')
		abort();
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

static int measure(void *ctx, const struct tg_source *src, const char *id, size_t len,
		   const struct tg_date *date, double value, struct tg_error *err)
{
	(void)ctx;
	(void)src;
	(void)date;
	if (len == 0 || memchr(id, '\0', len) != NULL || value != value)
		abort();
	if (id[0] == 'X')
		return TG_SINK_UNKNOWN;
	if (id[0] == 'B')
		return tg_error_set(err, "refused");
	return TG_SINK_ACCEPTED;
}

static void warn(void *ctx, const struct tg_source *src, const char *msg)
{
	(void)src;
	check_text(msg);
	(*(size_t *)ctx)++;
}

static void run(const uint8_t *data, size_t size, enum tg_layout layout, const char *records,
		const char *indicator, const char *period, const char *value)
{
	struct tg_source src;
	size_t nwarn = 0;
	struct tg_source_sink sink = { measure, warn, &nwarn };
	struct tg_source_stats st;
	struct tg_error err;
	int rc;

	memset(&src, 0, sizeof(src));
	src.name = (char *)"fuzz";
	src.layout = layout;
	src.dialect.number.decimal = ',';
	src.dialect.number.thousands = '.';
	src.dialect.number.missing = missing;
	src.dialect.number.n_missing = 3;
	src.json_records = (char *)records;
	src.json_indicator = (char *)indicator;
	src.json_period = (char *)period;
	src.json_value = (char *)value;
	err.msg[0] = '\0';
	rc = tg_json_feed_parse((const char *)data, size, "http://fuzz/", &src, &sink, &st, &err);
	if (st.files != 1)
		abort();
	if (rc < 0) {
		if ((rc != -EINVAL && rc != -ENOMEM) || st.rows != 0 || nwarn != 0)
			abort();
		check_text(err.msg);
		return;
	}
	if (rc != 0 || st.measurements + st.missing + st.bad_rows + st.unknown_rows != st.rows ||
	    st.unknown_ids > st.unknown_rows || nwarn > 12)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size, TG_LAYOUT_LONG, "", "indicator", "period", "value");
	run(data, size, TG_LAYOUT_LONG, "data", "a.id", "p", "a.v");
	run(data, size, TG_LAYOUT_BY_INDICATOR, "", NULL, NULL, NULL);
	run(data, size, TG_LAYOUT_BY_INDICATOR, "data.series", "i", "p", "v");
	return 0;
}
