/*
 * fuzz_sentlog.c — arbitrary bytes as STATE_DIR/sent.log, and arbitrary
 * text in the fields of a line we write.
 *
 * Reading: tg_sentlog_read_stream never fails on content (only on memory),
 * and what it gives holds whatever the file: ids sorted and unique, within
 * the caps, totals equal to the sums, last days within the days read, bad
 * lines no more than lines, a bad_reason naming the first bad line.
 * Writing: the input is cut into fields; a line tg_sentlog_format accepts
 * has exactly ten TAB-separated fields and one LF, and reads back as one
 * good line counted once.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sentlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct tg_sentlog_counts *c, tg_day from, tg_day until)
{
	unsigned long long alerts = 0, resolved = 0;

	if (c->n > TG_SENTLOG_MAX_IDS || c->bad > c->lines || (c->bad > 0) != (c->first_bad > 0) ||
	    c->first_bad > c->lines)
		abort();
	if (c->bad > 0 && strstr(c->bad_reason.msg, "sent.log:") != c->bad_reason.msg)
		abort();
	for (size_t i = 0; i < c->n; i++) {
		const struct tg_sentlog_count *k = &c->v[i];
		size_t len = strnlen(k->id, sizeof(k->id));

		if (len == 0 || len > TG_SENTLOG_ID_MAX || (k->alerts == 0 && k->resolved == 0))
			abort();
		if (i > 0 && strcmp(c->v[i - 1].id, k->id) >= 0)
			abort();
		if (k->alerts > 0 && (k->last < from || k->last > until))
			abort();
		if (k->resolved > 0 && (k->last_resolved < from || k->last_resolved > until))
			abort();
		if (tg_sentlog_counts_find(c, k->id) != k)
			abort();
		alerts += k->alerts;
		resolved += k->resolved;
	}
	if (alerts != c->alerts || resolved != c->resolved)
		abort();
}

static void read_bytes(const uint8_t *data, size_t size, tg_day from, tg_day until)
{
	struct tg_sentlog_counts c;
	struct tg_error err;
	FILE *f;

	if (size == 0)
		return;
	f = fmemopen((void *)data, size, "r");
	if (f == NULL)
		abort();
	if (tg_sentlog_read_stream(f, "sent.log", from, until, &c, &err) != 0)
		abort();   /* no allocation can fail at these sizes */
	fclose(f);
	check(&c, from, until);
	tg_sentlog_counts_free(&c);
}

/* The input cut at 0x01 bytes: indicator, channel, route, recipients... */
static void round_trip(const uint8_t *data, size_t size)
{
	char *copy, *fields[16], line[TG_SENTLOG_LINE_MAX];
	size_t nf = 0, tabs = 0, lfs = 0;
	struct tg_sentlog_entry e = { 0 };
	struct tg_sentlog_counts c;
	struct tg_error err;
	int len;
	FILE *f;

	if (size < 2)
		return;
	copy = malloc(size + 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data + 2, size - 2);
	copy[size - 2] = '\0';
	fields[nf++] = copy;
	for (char *p = copy; *p != '\0' && nf < 16; p++)
		if (*p == '\x01') {
			*p = '\0';
			fields[nf++] = p + 1;
		}
	e.wall = (int64_t)data[0] * 1000003;
	e.cycle = (tg_time)tg_day_from_ymd(2026, 10, 1 + data[1] % 31) * TG_DAY_SECONDS + data[0] * 60;
	e.kind = (enum tg_alert_kind)(data[1] % 4);
	e.status = (enum tg_status)(data[0] % TG_STATUS_COUNT);
	e.indicator = fields[0];
	e.channel = nf > 1 ? fields[1] : "c";
	e.route = nf > 2 ? fields[2] : NULL;
	e.to = nf > 3 ? fields + 3 : NULL;
	e.n_to = nf > 3 ? nf - 3 : 0;
	e.message = "0123456789abcdef0123456789abcdef";
	len = tg_sentlog_format(&e, line, sizeof(line));
	if (len < 0) {
		if (e.indicator[0] != '\0' && e.channel[0] != '\0')
			abort();
		free(copy);
		return;
	}
	for (int i = 0; i < len; i++) {
		tabs += line[i] == '\t';
		lfs += line[i] == '\n';
	}
	if (tabs != 9 || lfs != 1 || line[len - 1] != '\n' || (size_t)len != strlen(line))
		abort();
	f = fmemopen(line, (size_t)len, "r");
	if (f == NULL || tg_sentlog_read_stream(f, "sent.log", -1000000, 3000000, &c, &err) != 0)
		abort();
	fclose(f);
	if (c.bad != 0 || c.lines != 1 || c.n + c.admins != 1)
		abort();
	if (c.n == 1 && c.v[0].alerts + c.v[0].resolved != 1)
		abort();
	tg_sentlog_counts_free(&c);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_bytes(data, size, tg_day_from_ymd(2026, 10, 1), tg_day_from_ymd(2026, 10, 31));
	read_bytes(data, size, -1000000, 3000000);
	round_trip(data, size);
	return 0;
}
