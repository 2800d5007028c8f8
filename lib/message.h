/*
 * message.h — what a person reads: the subject, the plain text and the HTML
 * of one message (a tg_plan), in Italian or English.
 *
 * Subject: "[traguardo] 3 indicatori fuori obiettivo — Ragioneria" (the
 * departments when at most two, else "— 4 settori"); all events resolved:
 * "[traguardo] 2 indicatori di nuovo in obiettivo — …"; all `error` (the
 * administrators' message): "[traguardo] 2 indicatori senza dati: fonte in
 * errore"; a mix counts the problems and adds "(1 rientrato)".  Escalations
 * put "ESCALATION: " after "[traguardo] ".  The organization name, when set,
 * follows "[traguardo]" in parentheses-free form: "[traguardo] Comune di X: …".
 *
 * Body, grouped by department (the plan's order), per event:
 *   kind ("Nuovo problema", "Promemoria", "Escalation", "Rientrato",
 *   "Ancora fuori obiettivo dopo la sospensione"), status label, indicator id
 *   and name, process, latest value vs target with the unit ("92,5% —
 *   obiettivo ≥ 95%"), the period ("ottobre 2026"), the evaluation reason,
 *   the last 12 periods with values (a small table: period, value, light),
 *   the forecast sentence when there is one, what changed since the previous
 *   message of the alert ("era 93,1% (settembre 2026), attenzione"), "the
 *   target changed since the last message" when it did, since when the
 *   problem lasts, and the owner.
 * Numbers by tg_number_format (decimal comma in Italian), dates "20 novembre
 * 2026" / "20 November 2026", periods by tg_period_label.
 *
 * HTML: a complete document, table layout, inline CSS only, traffic-light
 * colours (ok #1e7b34, warning #b8860b, late #6a5acd, critical #b22222,
 * error/unknown #555), no scripts, no SVG, no external images or fonts.
 * Every value that comes from configuration or data is HTML-escaped.
 *
 * Templates: when templates_dir is set and holds "subject.LANG.txt" or
 * "intro.LANG.txt" (LANG "it"/"en"; at most 64 KiB, UTF-8), they replace the
 * subject line and the intro paragraph.  Placeholders: {{count}} (problems),
 * {{resolved}}, {{departments}}, {{organization}}, {{date}}, {{subject}}
 * (the default subject, in intro only).  Substituted values are HTML-escaped
 * in the HTML part; the subject template's result has control characters
 * replaced by spaces and is cut to 200 bytes at a character boundary.  A
 * missing file is no error; an unreadable or invalid one is (err names it).
 * An unknown placeholder (and {{subject}} in the subject) is left as
 * written; counts are of indicators (one indicator told by two routes counts
 * once).  The last periods are listed newest first.  More in message.c.
 */
#ifndef TG_MESSAGE_H
#define TG_MESSAGE_H

#include <stdbool.h>

#include "alert.h"
#include "config.h"
#include "error.h"
#include "evaluate.h"
#include "route.h"
#include "store.h"
#include "strbuf.h"

struct tg_message_input {
	const struct tg_config *cfg;
	const struct tg_alert_events *events;
	const struct tg_plan *plan;
	const struct tg_eval_result *results;   /* cfg->n_indicators, this cycle */
	const struct tg_store *store;           /* for the last 12 periods; may be NULL */
	tg_time now;                            /* civil local time */
	const char *templates_dir;              /* may be NULL */
};

struct tg_message {
	char *subject;   /* UTF-8, one line, no control characters */
	char *text;      /* UTF-8, "\n" line ends */
	char *html;      /* UTF-8 */
};

/* Returns 0, or a negative code with err (template problems, -ENOMEM). */
int tg_message_render(const struct tg_message_input *in, struct tg_message *out,
		      struct tg_error *err);
void tg_message_free(struct tg_message *m);   /* frees the strings; NULL ok */

/* What happened, in the reader's words (the e-mail and the webhooks say
 * the same): "Nuovo problema", "Peggiorato", "Promemoria", "Escalation",
 * "Rientrato" / "Non più critico" / "Migliorato", "Ancora fuori obiettivo
 * dopo la sospensione", and for the administrators' events "Fonte in
 * errore", "Fonte ancora in errore", "Fonte di nuovo funzionante"
 * (English with en). */
const char *tg_message_kind(const struct tg_alert_event *ev, bool en);

/* "2 indicatori fuori obiettivo, 1 a rischio per l'obiettivo annuale, 1 con
 * dati in ritardo, 1 senza dati": the problems of a message as its subject
 * (and a webhook's title) count them, the first count with its noun;
 * nothing for counts of 0. */
void tg_message_problems(struct tg_sb *b, size_t off, size_t risk, size_t late, size_t err,
			 bool en);
/* A warning that comes from the year's forecast alone (the latest value on
 * target): "a rischio", not "fuori obiettivo". */
bool tg_message_at_risk(const struct tg_eval_result *r, enum tg_status status);

/* "20 novembre 2026" / "20 November 2026". */
const char *tg_message_date(tg_day day, const char *lang, char *buf, size_t size);

#endif
