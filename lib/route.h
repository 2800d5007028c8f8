/*
 * route.h — who is told what: routes, silences, and the grouping of a
 * cycle's events into one message per (channel, recipient).
 *
 * Routes match on department, process and indicator id (an empty list
 * matches all) and on min_status; `to` accepts addresses and "@owner".
 * Who is told what and when is the alert state machine's (alert.h); this
 * module answers "does this route cover this indicator", "is it silenced"
 * and groups a cycle's events into one message per recipient.
 */
#ifndef TG_ROUTE_H
#define TG_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "alert.h"
#include "config.h"
#include "evaluate.h"

/* Department, process and indicator lists of r match ind (status aside). */
bool tg_route_covers(const struct tg_route *r, const struct tg_indicator *ind);
/* tg_route_covers and status != error and severity(status) >= r->min_status. */
bool tg_route_matches(const struct tg_route *r, const struct tg_indicator *ind,
		      enum tg_status status);
/* The silence in force for ind on day, or NULL. */
const struct tg_silence *tg_silence_find(const struct tg_config *cfg,
					 const struct tg_indicator *ind, tg_day day);

/*
 * One message of a cycle: all the events for one recipient of one channel.
 * Recipients of the same email channel whose event lists are identical share
 * one message (one SMTP transaction, all of them in To:).
 */
struct tg_plan {
	size_t channel;               /* index in cfg->channels */
	char **to;                    /* email: addresses, sorted; webhook: none */
	size_t n_to;
	size_t *events;               /* indexes in the events: by department
					 (strcmp order), worst status first, then
					 indicator id, then route key */
	size_t n_events;
	char id[TG_ALERT_ID_SIZE];    /* 32 hex digits of SHA-256 over the channel
					 name, the sorted event ids and the sorted
					 lower-cased addresses: the same events to
					 the same people give the same id */
};

struct tg_plans {
	struct tg_plan *v;            /* ordered by channel, then first address */
	size_t n;
};

/* Groups the events of a cycle into messages.  Returns 0 or -ENOMEM (out
 * then empty). */
int tg_route_plan(const struct tg_config *cfg, const struct tg_alert_events *ev,
		  struct tg_plans *out);
void tg_plans_free(struct tg_plans *p);   /* empties it; NULL ok */

#endif
