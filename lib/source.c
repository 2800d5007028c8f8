/*
 * source.c — what sources share (see source.h): the unknown indicators of a
 * run, remembered once each and reported in one line.
 */
#include "source.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN_MAX 10000
#define UNKNOWN_SHOWN 5
#define UNKNOWN_SLOTS 32768   /* a power of two, over 3 x UNKNOWN_MAX */

/* In the order they were met; a hash index keeps a file of a million rows
 * with distinct codes (a misconfigured column) linear, not a million scans. */
struct tg_unknown_ids {
	char **ids;
	size_t n, cap;
	size_t *slot;   /* UNKNOWN_SLOTS entries: index + 1 into ids, 0 = empty */
};

static size_t hash_id(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

void tg_source_trim_id(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

struct tg_unknown_ids *tg_unknown_ids_new(void)
{
	struct tg_unknown_ids *u = calloc(1, sizeof(*u));

	if (u != NULL && (u->slot = calloc(UNKNOWN_SLOTS, sizeof(*u->slot))) == NULL) {
		free(u);
		return NULL;
	}
	return u;
}

/* true when id is new and was remembered */
static bool remember(struct tg_unknown_ids *u, const char *id, size_t len)
{
	size_t k;

	for (k = hash_id(id, len) & (UNKNOWN_SLOTS - 1); u->slot[k] != 0;
	     k = (k + 1) & (UNKNOWN_SLOTS - 1)) {
		const char *o = u->ids[u->slot[k] - 1];

		if (strlen(o) == len && memcmp(o, id, len) == 0)
			return false;
	}
	if (u->n >= UNKNOWN_MAX)
		return false;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 16;
		char **ids = realloc(u->ids, cap * sizeof(*ids));

		if (ids == NULL)
			return false;
		u->ids = ids;
		u->cap = cap;
	}
	u->ids[u->n] = strndup(id, len);
	if (u->ids[u->n] == NULL)
		return false;
	u->slot[k] = ++u->n;
	return true;
}

void tg_unknown_ids_add(struct tg_unknown_ids *u, const char *id, size_t len,
			struct tg_source_stats *stats)
{
	stats->unknown_rows++;
	if (u != NULL && remember(u, id, len))
		stats->unknown_ids++;
}

void tg_unknown_ids_report(const struct tg_unknown_ids *u, const struct tg_source_sink *sink,
			   const struct tg_source *src, const char *where,
			   const struct tg_source_stats *stats)
{
	char list[512] = "", msg[1024];
	size_t len = 0;

	if (u == NULL || u->n == 0 || sink->warn == NULL)
		return;
	for (size_t i = 0; i < u->n && i < UNKNOWN_SHOWN && len < sizeof(list); i++) {
		char q[96];

		/* ids come from the data: escaped, so no data can forge a log line */
		tg_error_quote(u->ids[i], strlen(u->ids[i]), 64, q, sizeof(q));
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", q);
	}
	snprintf(msg, sizeof(msg), "%s: %zu row%s for %s%zu indicator%s not in the configuration (%s%s); ignored",
		 where, stats->unknown_rows, stats->unknown_rows == 1 ? "" : "s",
		 u->n >= UNKNOWN_MAX ? "at least " : "", u->n, u->n == 1 ? "" : "s", list,
		 u->n > UNKNOWN_SHOWN ? ", ..." : "");
	sink->warn(sink->ctx, src, msg);
}

void tg_unknown_ids_free(struct tg_unknown_ids *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++)
		free(u->ids[i]);
	free(u->ids);
	free(u->slot);
	free(u);
}
