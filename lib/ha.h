/*
 * ha.h — active/standby between daemons that share one PostgreSQL
 * database: the holder of a session-level advisory lock is active (sends
 * notifications, writes the archive), every other one is standby (reads
 * its sources and evaluates, ready to take over).
 *
 * One connection (conninfo and password_file of `ha`; application_name
 * "traguardo-ha"), driven on the sd-event loop without blocking.  Role:
 *   - active while pg_try_advisory_lock(lock) has succeeded on the live
 *     connection it holds;
 *   - standby otherwise, from the start (the lock is taken asynchronously,
 *     a moment after tg_ha_new), and at once when the connection fails, is
 *     terminated, or leaves a check unanswered for 5 s.
 * A standby that is connected tries the lock every poll_usec; so when the
 * active daemon dies or loses its session (the server then releases the
 * lock at once), a standby takes over within one poll_usec.  The daemon
 * passes evaluate_every or less.  The active daemon checks its session
 * every min(poll_usec, 5 s) and gives up after 5 s without an answer,
 * while the server is asked (tcp_keepalives_* = 10 s, 5 s, 3 probes) to
 * drop a silent client only after some 25 s: a partitioned active daemon
 * steps down before another can take over.  A lost connection is retried
 * after 1 s, 2 s, 4 s ... at most min(poll_usec, 60 s).
 *
 * An active daemon learns that its session was terminated from its socket,
 * in the same loop turn the server's goodbye arrives; a standby polling at
 * that very moment may take the lock a few milliseconds earlier.  Callers
 * that must never overlap check tg_ha_active right before acting.
 *
 * Role changes and connection problems are logged (tg_log, "ha: ..."),
 * each problem once.  Changing `ha` needs a new tg_ha (free, then new: the
 * role drops to standby meanwhile).
 *
 * Wiring (daemon `run` with cfg->ha.set; `once` and `check` ignore ha):
 * tg_ha_new at start with poll_usec = evaluate_every (or less); every cycle
 * still reads sources and evaluates; the alert cycle (spooling) and the
 * archive of measurements and evaluations happen only while tg_ha_active
 * (a standby steps its alert state as if sent); the outbox, which holds
 * only what the daemon spooled while active, is delivered in either role;
 * on_change(active) may deliver at once;
 * `traguardo status` and STATUS= show tg_ha_status_line; tg_ha_free at stop.
 * Both daemons need their own state directory.
 */
#ifndef TG_HA_H
#define TG_HA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "error.h"

struct tg_ha;

/* Called from the loop at each role change (never from tg_ha_new or
 * tg_ha_free).  It must not free the tg_ha. */
typedef void (*tg_ha_change_fn)(void *ctx, bool active);

/* cfg->ha must be set; nothing of cfg is kept.  poll_usec >= 100 ms (less
 * is taken as 100 ms).  Starts connecting on ev (a reference is taken).
 * NULL with err only for a password_file that is refused (see secret.h) or
 * out of memory; a server that is down is not an error (standby, retried).
 * on_change may be NULL. */
struct tg_ha *tg_ha_new(const struct tg_config *cfg, sd_event *ev, uint64_t poll_usec,
			tg_ha_change_fn on_change, void *ctx, struct tg_error *err);
/* Closes the session, which releases the lock on the server at once, so a
 * standby takes over at its next poll; on_change is not called.  NULL ok. */
void tg_ha_free(struct tg_ha *ha);

/* NULL ha (no `ha` configured) is active: the daemon is alone. */
bool tg_ha_active(const struct tg_ha *ha);
/* Whether the daemon knows who sends: it holds the lock, or the last answer
 * on a live session said another session does.  Not while connecting (at
 * the start) nor without the database: then nobody is known to send, and
 * the alerts must wait rather than be taken as sent (NULL ha: true). */
bool tg_ha_role_known(const struct tg_ha *ha);
/* "active" or "standby" (NULL ha: "active": without ha the daemon is alone). */
const char *tg_ha_role_name(const struct tg_ha *ha);

/* For `traguardo status` and STATUS=, English, one line, e.g.
 *   "ha active (lock 4242)"
 *   "ha standby (lock 4242 held by another session)"
 *   "ha standby (no connection: <last error>)"
 * Returns buf (size >= 1; cut to size). */
const char *tg_ha_status_line(const struct tg_ha *ha, char *buf, size_t size);

#endif
