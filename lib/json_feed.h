/*
 * json_feed.h — indicator values from a JSON document (an HTTP feed), with
 * jansson.
 *
 * Two layouts, as the source's `layout` says:
 *   long (records): `json.records` is a dot path ("data.items"; empty: the
 *     top level) to an array of objects; in each, `json.indicator`,
 *     `json.period` and `json.value` are dot paths to the fields.
 *       { "data": { "items": [ { "code": "RAG-01", "month": "2026-03", "value": 28.5 } ] } }
 *   by_indicator: `json.records` leads to an object whose keys are indicator
 *     ids and whose values are arrays of objects with `json.period` and
 *     `json.value`:
 *       { "RAG-01": [ { "period": "2026-03", "value": 28.5 }, ... ], ... }
 * Values may be JSON numbers or strings (parsed with the source's dialect:
 * "4,35", "95,3%", "n.d."); null is a missing value.  Periods are strings in
 * any form tg_date_parse accepts (or the dialect's date_format), or integer
 * years.  Invalid JSON, wrong types and missing fields are reported with the
 * JSON path and record index ("URL: $.data.items[12].value: expected a
 * number or a string, got an object") and skipped; good records still load.
 * A document whose `records` path does not lead to what the layout needs
 * fails the source.
 * Dot paths walk objects only (no array index; a key with a dot cannot be
 * reached).  Duplicate keys are accepted, the last one wins (as JSON.parse).
 * "\u0000" in a string, integers beyond 64 bits and numbers beyond 1.8e308
 * make the document invalid (jansson).
 */
#ifndef TG_JSON_FEED_H
#define TG_JSON_FEED_H

#include <stddef.h>

#include "config.h"
#include "error.h"
#include "source.h"

/* Parses buf[0..len) (not necessarily NUL-terminated, may contain NULs: they
 * make it invalid JSON).  name is the URL (already redacted) for messages.
 * Returns 0, or a negative code with err when the document as a whole is
 * unusable (invalid JSON, records path missing or of the wrong type).
 * stats is reset, then files = 1 and one row per record; bad records are
 * reported as "name: $.path[i].field: reason; record skipped", at most 10 per
 * document, then "name: N more bad records not shown"; unknown indicators
 * are reported once per document (tg_unknown_ids_report). */
int tg_json_feed_parse(const char *buf, size_t len, const char *name,
		       const struct tg_source *src, const struct tg_source_sink *sink,
		       struct tg_source_stats *stats, struct tg_error *err);

#endif
