/*
 * route.h — who is told what: routes and silences applied to the statuses
 * of a cycle, giving one digest per (channel, recipient).
 *
 * Routes match on department, process and indicator id (an empty list
 * matches all) and on min_status; `to` accepts addresses and "@owner".
 * Indicators in status `error` (a failing source) are not for managers: they
 * go to daemon.admins, through the first email channel.  A silence in force
 * today keeps its indicators out of every message.
 *
 * This version plans the messages (for --dry-run); the alert state machine
 * (reminders, escalation, "back on target") is built on top of it.
 */
#ifndef TG_ROUTE_H
#define TG_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "evaluate.h"

struct tg_digest {
	size_t channel;          /* index in cfg->channels */
	char *recipient;         /* email address, or NULL for a webhook channel */
	size_t *indicators;      /* indexes in cfg->indicators, worst first, by department */
	size_t n;
};

struct tg_digests {
	struct tg_digest *v;
	size_t n;
};

bool tg_route_matches(const struct tg_route *r, const struct tg_indicator *ind,
		      enum tg_status status);
/* The silence in force for ind on day, or NULL. */
const struct tg_silence *tg_silence_find(const struct tg_config *cfg,
					 const struct tg_indicator *ind, tg_day day);

/* Plans the digests of a cycle.  Returns 0 or -ENOMEM. */
int tg_route_plan(const struct tg_config *cfg, const struct tg_eval_result *res, tg_day today,
		  struct tg_digests *out);
void tg_digests_free(struct tg_digests *d);

/* Subject of a digest: "[traguardo] 3 indicatori fuori obiettivo — Ragioneria"
 * (departments listed when at most two, else "3 settori").  The count is of
 * the indicators not ok; when all of those are `error` (the administrators'
 * digest) it reads "2 indicatori senza dati: fonte in errore"; when all are
 * ok (min_status = "ok") "2 indicatori in obiettivo".  Cut to size at a
 * character boundary. */
const char *tg_digest_subject(const struct tg_config *cfg, const struct tg_eval_result *res,
			      const struct tg_digest *d, char *buf, size_t size);

#endif
