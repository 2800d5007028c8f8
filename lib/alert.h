/*
 * alert.h — the alert state machine: for every (indicator, route) what was
 * said, to whom and when, so that each cycle yields only the messages that
 * are due: a new problem, a reminder, an escalation, the return to target.
 *
 * Pure: the configuration, the evaluation results and "now" go in; events
 * and a NEW state come out (the old state is not touched), so a caller that
 * cannot spool the messages simply keeps the old state and the same events
 * come again next cycle, with the same ids.
 *
 * An alert exists per (indicator id, route key).  The route key is the
 * route's `name`, else "route N" (N = 1-based position in the file: give
 * routes names so that reordering them keeps their state), and "admins" for
 * the administrators' alert about a failing source.
 *
 * Rules, per route r and indicator i whose department, process and id match
 * r (the status is not part of that match):
 *  - problem    = status != error and severity(status) >= r.min_status.
 *    An indicator in status `error`, or `unknown` when r.min_status is above
 *    unknown, leaves r's alert as it is (its data cannot be judged: the
 *    administrators are told through "admins").
 *  - silenced   = tg_silence_find(cfg, i, day of now) != NULL: no event at
 *    all, the alert is frozen and marked; on the first cycle after the
 *    silence a problem still there fires again (after_silence = true, also
 *    when it had been notified before), an alert no longer a problem
 *    resolves.
 *  - not active and problem            -> FIRING   (since = now).
 *  - active, problem, status worse than the status of the last message,
 *    or the indicator's thresholds changed since that message
 *                                      -> FIRING   (previous = that status;
 *                                                   target_changed set).
 *  - active, problem, escalate_after set, not yet escalated and
 *    now - since >= escalate_after     -> ESCALATED.
 *  - active, problem, repeat_every set and now - last message >= repeat_every
 *                                      -> REMINDER.
 *  - active and not a problem          -> RESOLVED, to every recipient told
 *    during this alert (escalation recipients included); the alert ends.
 *  At most one event per alert per cycle, in the order above.
 * Recipients: for each channel of r: a webhook channel is one recipient
 * (address NULL); an email channel gets every address of r.to ("@owner" is
 * the indicator's owner, skipped when it has none), plus r.escalate_to once
 * escalated, plus the owner when the status is `late` (the data owner must
 * act).  Duplicates (case-insensitive address, same channel) removed.
 * Admins: "admins" alert, problem = status == error; recipients
 * daemon.admins on the first email channel (no channel or no admin: no
 * event, but the alert state is still kept); no reminders or escalation;
 * RESOLVED when the source works again.
 *
 * Target changes: each alert keeps a fingerprint of the thresholds in force
 * at its last message (target, critical, min, max, critical_*, year target,
 * better); an event whose indicator's thresholds differ has
 * target_changed = true.
 *
 * Alerts for indicators or routes no longer in the configuration are
 * dropped (a reload that removes them forgets them).
 *
 * Event ids are stable: the first 32 hex digits of SHA-256 over
 * "indicator id \0 route key \0 since (decimal) \0 seq (decimal)", where seq
 * counts the messages of this alert (1 for the first firing).  Computed from
 * the old state only, so the same cycle replayed gives the same ids.
 */
#ifndef TG_ALERT_H
#define TG_ALERT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "evaluate.h"
#include "period.h"
#include "status.h"

#define TG_ALERT_ID_SIZE 33     /* 32 hex digits + NUL */

enum tg_alert_kind {
	TG_ALERT_FIRING = 0,
	TG_ALERT_REMINDER,
	TG_ALERT_ESCALATED,
	TG_ALERT_RESOLVED,
};

/* "firing" "reminder" "escalated" "resolved" */
const char *tg_alert_kind_name(enum tg_alert_kind k);

struct tg_alert_recipient {
	size_t channel;               /* index in cfg->channels */
	char *address;                /* email: the address; webhook: NULL */
};

struct tg_alert_event {
	size_t indicator;             /* index in cfg->indicators */
	char *route;                  /* the route key (see above) */
	enum tg_alert_kind kind;
	enum tg_status status;        /* now */
	enum tg_status previous;      /* status at this alert's previous message
					 (TG_STATUS_OK for a first firing) */
	tg_time since;                /* when this alert began (civil local time) */
	bool has_previous_value;      /* the value shown in the previous message */
	double previous_value;
	tg_day previous_period;
	bool target_changed;
	bool after_silence;
	char id[TG_ALERT_ID_SIZE];
	struct tg_alert_recipient *to;
	size_t n_to;
};

struct tg_alert_events {
	struct tg_alert_event *v;
	size_t n;
};
void tg_alert_events_free(struct tg_alert_events *ev);   /* empties it; NULL ok */

struct tg_alerts;   /* the state: opaque */

struct tg_alerts *tg_alerts_new(void);   /* empty state, or NULL on ENOMEM */
void tg_alerts_free(struct tg_alerts *a);
/* Alerts active (firing, not yet resolved) in the state. */
size_t tg_alerts_active(const struct tg_alerts *a);

/*
 * One cycle: res has cfg->n_indicators results; now is civil local time.
 * On success *next is the new state (caller frees) and out the events, in
 * indicator then route order; returns 0 or -ENOMEM (then nothing is
 * allocated and out is empty).
 */
int tg_alerts_step(const struct tg_alerts *cur, const struct tg_config *cfg,
		   const struct tg_eval_result *res, tg_time now,
		   struct tg_alerts **next, struct tg_alert_events *out);

/*
 * state.json: loaded from path; a missing file gives an empty state (0).  A
 * file that is not valid (bad JSON, wrong types, unknown statuses, absurd
 * sizes: it is untrusted) gives -EBADMSG with err saying where ("state.json:
 * line 3: ...") and *out an empty state: the caller moves the file aside and
 * goes on.  Other errors (-EACCES, -ENOMEM...) leave *out NULL.
 */
int tg_alerts_load(const char *path, struct tg_alerts **out, struct tg_error *err);
/* Same, from memory (for the fuzzer and tests); name is used in messages. */
int tg_alerts_load_mem(const char *data, size_t len, const char *name,
		       struct tg_alerts **out, struct tg_error *err);
/* Writes the state atomically (tg_fs_write_atomic, mode 0640). */
int tg_alerts_save(const struct tg_alerts *a, const char *path, struct tg_error *err);

/* Count of alerts sent so far per indicator (for the report): messages of
 * all its alerts still in the state, 0 if none. */
unsigned tg_alerts_messages(const struct tg_alerts *a, const char *indicator);

#endif
