/*
 * notify_webhook.h — the JSON bodies of webhook messages and their
 * signature.  Building is pure (the sending is deliver.c's, over lib/http).
 *
 * Formats (cfg channel `format`):
 *  generic     Alertmanager v4 webhook shape: {"version":"4",
 *              "groupKey", "status":"firing"|"resolved" (firing if any
 *              event is not resolved), "receiver": channel name,
 *              "groupLabels":{}, "commonLabels", "commonAnnotations",
 *              "externalURL":"", "truncatedAlerts":0, "alerts":[{ "status",
 *              "labels":{"alertname":"traguardo","indicator","department",
 *              "process","status","route","event"}, "annotations":{"summary",
 *              "description","reason","value","target","period","owner",
 *              "forecast"} (strings; "" when absent), "startsAt", "endsAt"
 *              (RFC 3339 with the local UTC offset in force then, e.g.
 *              "2026-11-20T09:00:00+01:00", "Z" when it is 0: the civil
 *              time stays readable and names the instant; endsAt is now for
 *              a resolved alert, "0001-01-01T00:00:00Z" while firing),
 *              "generatorURL":"", "fingerprint": the first 16 hex of the
 *              event id }], plus "traguardo":{"message_id","events":[ids],
 *              "organization" (null when unset),"language"}.
 *  teams       Power Automate "Workflows" webhook: {"type":"message",
 *              "attachments":[{"contentType":
 *              "application/vnd.microsoft.card.adaptive","content":{Adaptive
 *              Card 1.4: a title TextBlock, one Container per department with
 *              a FactSet per indicator; colours via "color":"good"/"warning"/
 *              "attention"}}]}; the whole body cut to <= 28 KB by dropping
 *              indicators from the end and saying how many were left out.
 *  slack       {"text": fallback, "blocks":[header, sections (mrkdwn)]}
 *              (mrkdwn-escaped &, <, >); header <= 150, one section per
 *              indicator <= 3000, at most 50 blocks (the rest summarised).
 *  mattermost  {"text": markdown table-free text, "username":"traguardo"}
 *              (<= 16000 bytes; markdown and @mentions in data escaped)
 *  googlechat  {"text": text with *bold*} (Google Chat basic format,
 *              <= 4096 bytes; "<users/all>" in data defused).
 * Cuts drop whole indicators from the end and add "… e altri N indicatori"
 * ("… and N more indicators"); the id line always survives.
 * Every format carries the message id (generic: traguardo.message_id; the
 * others: a last line "id: …") so a receiver can drop a duplicate.  Texts
 * are built from the events directly (not tg_message_render: no templates,
 * so a broken template never blocks a webhook) with the e-mail's wording;
 * all JSON is built with jansson (no hand escaping).
 */
#ifndef TG_NOTIFY_WEBHOOK_H
#define TG_NOTIFY_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "message.h"

/* Builds the body for in->plan's channel format.  *body is NUL-terminated
 * UTF-8 JSON (caller frees), *len its length.  in->results may be NULL (no
 * values shown); in->store and in->templates_dir are not used; startsAt and
 * endsAt depend on TZ (mktime).  Returns 0, -ENOMEM, -EINVAL (channel not a
 * webhook, an index out of range) or -EMSGSIZE (Teams: not even the title
 * fits), with err; *body is NULL on failure. */
int tg_webhook_body(const struct tg_message_input *in, char **body, size_t *len,
		    struct tg_error *err);

/* "t=TIMESTAMP,sha256=HEX" where HEX = HMAC-SHA256(secret, "TIMESTAMP.BODY")
 * (lower-case hex), the value of the X-Traguardo-Signature header.
 * Returns buf, or NULL when size is too small (needs 96) or libcrypto fails. */
const char *tg_webhook_signature(const void *secret, size_t secret_len, int64_t timestamp,
				 const char *body, size_t body_len, char *buf, size_t size);

/* How a webhook answer is taken: 2xx (Teams: 200 or 202) delivered; 429 and
 * 5xx and no answer (timeouts, resets) retried; any other status permanent. */
enum tg_webhook_verdict { TG_WEBHOOK_DELIVERED, TG_WEBHOOK_RETRY, TG_WEBHOOK_PERMANENT };
enum tg_webhook_verdict tg_webhook_verdict(long status, int result);

#endif
