/*
 * notify.h — the notification half of a cycle, from evaluation results to
 * messages accepted by a server: the alert state (state.json), rendering,
 * the outbox and delivery over SMTP and HTTP on the event loop.
 *
 * A cycle (tg_notifier_cycle) steps the alert state machine, groups the
 * events into one message per recipient, renders each message (email:
 * MIME; webhook: the channel's JSON), spools every one of them to the
 * outbox, and only when all are on disk saves the new alert state.  If
 * spooling fails (disk full) the old state stays, so the same events (with
 * the same ids) come again next cycle: nothing is lost.  If the process dies
 * after spooling and before saving, the replayed cycle spools the same ids,
 * which the outbox ignores: nothing is doubled.
 *
 * Delivery (tg_notifier_deliver) takes the due messages of the outbox and
 * sends them in parallel on the loop; a message is deleted only once its
 * server accepted it.  Secrets (SMTP password, webhook HMAC key) are read
 * from their files at each attempt, so a renewed credential needs no
 * restart.
 *
 * Dry run: the state is read but never written, nothing is spooled or sent;
 * each message is written to STATE_DIR/preview/ instead: NNN-CHANNEL-TO.txt
 * (subject and text as a person reads them) and the exact payload next to
 * it (.eml or .json).
 */
#ifndef TG_NOTIFY_H
#define TG_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "alert.h"
#include "config.h"
#include "error.h"
#include "evaluate.h"
#include "store.h"

struct tg_notifier;

struct tg_notify_stats {
	size_t events;       /* alert events of the last cycle */
	size_t spooled;      /* messages put in the outbox (or previews written) */
	size_t delivered;    /* since the notifier was created */
	size_t deferred;     /* attempts that will be retried */
	size_t failed;       /* messages moved to failed/ (or refused recipients) */
	bool state_unsaved;  /* the last cycle could not save state.json */
};

struct tg_archive;

/* The archive (archive = {...}) to tell of every message's state change
 * (spooled, retry, delivered, failed); borrowed, NULL for none. */
void tg_notifier_set_archive(struct tg_notifier *n, struct tg_archive *a);
/* Active/standby (ha = {...}): a standby steps and saves the alert state
 * (so that it does not repeat on taking over what the active one already
 * said) but spools and reports nothing.  What it spooled while it was
 * active is still delivered (tg_notifier_deliver): no other daemon has
 * those messages (the one that was standby then took them as sent), so a
 * daemon that stepped down, or came back as standby after a crash, is the
 * only one that can send them. */
void tg_notifier_set_standby(struct tg_notifier *n, bool standby);

/* cfg is borrowed (see tg_notifier_reconfigure).  Not a dry run: loads
 * STATE_DIR/state.json (a damaged one is moved aside to
 * state.json.corrupt-UNIXTIME, logged, and the alerts start empty) and opens
 * the outbox; the state directory must exist.  ev: the loop deliveries run
 * on (a reference is taken). */
struct tg_notifier *tg_notifier_new(const struct tg_config *cfg, sd_event *ev, bool dry_run,
				    struct tg_error *err);
/* Aborts deliveries in flight (their messages stay in the outbox). NULL ok. */
void tg_notifier_free(struct tg_notifier *n);

/* One cycle at civil time now (wall: unix seconds, for Date headers and the
 * outbox).  Returns the number of messages spooled (or previews written), or
 * a negative code with err: then no alert state changed. */
int tg_notifier_cycle(struct tg_notifier *n, const struct tg_eval_result *res,
		      const struct tg_store *store, tg_time now, int64_t wall, struct tg_error *err);

/* Scheduled reports (routes' report = { every = "month"; to = [...]; }):
 * on the first working day of a month (and any later day until it went),
 * the management review of the previous month, for the indicators the
 * route covers, is spooled as an e-mail (text, and HTML unless format =
 * "text") through the route's first e-mail channel.  The last month sent
 * per route is kept in STATE_DIR/reports.json; the message id is derived
 * from route and month, so a report is never sent twice.  Returns how many
 * were spooled, or a negative code with err.  Nothing in a dry run. */
int tg_notifier_reports(struct tg_notifier *n, const struct tg_store *st, tg_time now,
			int64_t wall, struct tg_error *err);

/* Starts the delivery of every message in the outbox whose next attempt is
 * due at wall (every message when force, as `traguardo once` does) and not
 * already in flight.  Returns how many started. */
size_t tg_notifier_deliver(struct tg_notifier *n, int64_t wall, bool force);
size_t tg_notifier_in_flight(const struct tg_notifier *n);
/* Called each time the last delivery in flight ends. */
void tg_notifier_on_idle(struct tg_notifier *n, void (*fn)(void *ctx), void *ctx);
/* Unix seconds of the earliest next attempt in the outbox seen at wall
 * (tg_outbox_due_at), -1 when empty. */
int64_t tg_notifier_next_attempt(struct tg_notifier *n, int64_t wall);

size_t tg_notifier_pending(struct tg_notifier *n);   /* outbox/new */
size_t tg_notifier_failed(struct tg_notifier *n);    /* outbox/failed */
const struct tg_notify_stats *tg_notifier_stats(const struct tg_notifier *n);
const struct tg_alerts *tg_notifier_alerts(const struct tg_notifier *n);

/* SIGHUP: cfg replaces the old one (already valid; the old may be freed
 * after this returns 0).  Alert state is kept (by indicator id and route
 * key); deliveries in flight go on (they copied what they send, and their
 * callbacks look the channel up in the new configuration).  -EINVAL when
 * the state directory changed. */
int tg_notifier_reconfigure(struct tg_notifier *n, const struct tg_config *cfg,
			    struct tg_error *err);

/* `traguardo test-notify`: sends a test message through channel now (not
 * through the outbox) to `to` (email; NULL = daemon.admins, else the
 * channel's... see traguardo(8)); done gets 0 or an error and the server's
 * answer in words.  Returns 0 when started. */
typedef void (*tg_notifier_test_fn)(void *ctx, int result, const char *answer);
int tg_notifier_test(struct tg_notifier *n, size_t channel, const char *to, int64_t wall,
		     tg_notifier_test_fn done, void *ctx, struct tg_error *err);

#endif
