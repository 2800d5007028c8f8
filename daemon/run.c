/*
 * run.c — `traguardo run`: the daemon's event loop wiring.
 *
 * One sd-event loop drives everything: a monotonic one-shot timer per
 * source (re-armed when its run ends, so a slow source never overlaps
 * itself), a timer for the periodic re-evaluation (late data appears without
 * new input), SIGHUP/SIGTERM/SIGINT taken as loop events, and the systemd
 * watchdog pinged by the loop itself (HTTP is non-blocking, so a hanging
 * server cannot stop the pings).  What can be tested without a process
 * (the engine, the STATUS= wording) lives in lib/.
 */
#include "run.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "archive.h"
#include "engine.h"
#include "fsutil.h"
#include "ha.h"
#include "log.h"
#include "notify.h"
#include "output.h"
#include "period.h"
#include "sdnotify.h"
#include "utf8.h"

#define USEC_PER_SEC 1000000ULL
#define STOP_GRACE_USEC (10 * USEC_PER_SEC)   /* in-flight runs at shutdown */

struct daemon;

struct source_timer {
	struct daemon *d;
	size_t idx;
	sd_event_source *timer;
	unsigned failures;                /* consecutive failed runs */
	bool fresh;                       /* read since the start, and since this
					     daemon last became active (ha) */
};

/* After a failed run the source is tried again sooner than `every`: 30 s,
 * then 1, 2, 4 ... minutes, never later than `every` (a database back
 * after a restart is read within a minute, a dead one is not hammered). */
#define RETRY_FIRST_SEC 30
#define SPREAD_MAX_SEC 10   /* the first run of a source: at most this late */
static uint64_t next_run_usec(const struct source_timer *t, int64_t every)
{
	uint64_t delay = (uint64_t)every;

	if (t->failures > 0) {
		unsigned shift = t->failures - 1 > 10 ? 10 : t->failures - 1;
		uint64_t b = (uint64_t)RETRY_FIRST_SEC << shift;

		if (b < delay)
			delay = b;
	}
	return delay * USEC_PER_SEC;
}

struct daemon {
	const char *path;
	struct tg_config *cfg;
	struct tg_engine *engine;
	struct tg_notifier *notifier;
	struct tg_archive *archive;       /* archive = {...}, or NULL */
	struct tg_ha *ha;                 /* ha = {...}, or NULL: always active */
	sd_event *event;
	sd_event_source *outbox_timer;    /* the next retry due in the outbox */
	struct source_timer *timers;      /* cfg->n_sources */
	sd_event_source *eval_timer;
	sd_event_source *stop_timer;
	bool stopping;
	bool has_cycle;
	tg_time last_cycle;
	char reload_error[TG_ERROR_MAX];  /* "" unless the last reload failed */
};

struct first_error {
	char *buf;
	size_t size;
	bool set;
};

static void log_config_error(void *ctx, const char *file, int line, const char *msg)
{
	struct first_error *fe = ctx;

	if (line > 0)
		tg_log(LOG_ERR, "%s:%d: %s", file, line, msg);
	else
		tg_log(LOG_ERR, "%s: %s", file, msg);
	if (fe->buf != NULL && !fe->set) {
		if (line > 0)
			snprintf(fe->buf, fe->size, "%s:%d: %s", file, line, msg);
		else
			snprintf(fe->buf, fe->size, "%s: %s", file, msg);
		fe->set = true;
	}
}

/* libcurl waits for a mail server's answer to the end of a message without
 * yielding to the loop, for at most the channel's timeout
 * (lib/notify_email.c).  The loop pings the service's watchdog when it wakes
 * a quarter of the interval or more after the last ping, so such a wait
 * starts at most a quarter after one: a timeout over three quarters of the
 * interval may get the daemon killed and restarted by systemd when a mail
 * server is that slow; over half is warned about, with a margin. */
/* what 'name' (a channel or a source) holds the loop for up to timeout
 * seconds; usec: the watchdog */
static void warn_slow(const char *what, const char *name, int64_t timeout, uint64_t usec,
		      const char *why)
{
	char t[32], w[32];

	if ((uint64_t)timeout * USEC_PER_SEC * 2 <= usec)
		return;
	tg_log(LOG_WARNING, "%s '%s': its timeout (%s) is more than half of the service's "
	       "watchdog (%s): %s past the watchdog, and systemd would restart it; shorten the "
	       "%s's timeout or lengthen WatchdogSec=", what, name,
	       tg_duration_format(timeout, t, sizeof(t)),
	       tg_duration_format((int64_t)(usec / USEC_PER_SEC), w, sizeof(w)), why, what);
}

static void warn_watchdog(const struct tg_config *cfg)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return;
	for (size_t i = 0; i < cfg->n_channels; i++)
		if (cfg->channels[i].type == TG_CHANNEL_EMAIL)
			warn_slow("channel", cfg->channels[i].name, cfg->channels[i].timeout, usec,
				  "a mail server that slow to answer the end of a message could hold "
				  "the daemon (libcurl waits for that answer without yielding)");
	for (size_t i = 0; i < cfg->n_sources; i++)
		if (cfg->sources[i].type == TG_SOURCE_CSV)
			warn_slow("source", cfg->sources[i].name, cfg->sources[i].timeout, usec,
				  "files are read in the daemon's loop, so a read that long (a large "
				  "file, a slow share) holds it");
}

struct tg_config *daemon_load_config(const char *path, char *first, size_t size)
{
	struct first_error fe = { first, size, false };
	struct tg_error err;
	struct tg_config *cfg = tg_config_load(path, log_config_error, &fe, &err);

	if (cfg == NULL && first != NULL && !fe.set)
		snprintf(first, size, "%s: %s", path, err.msg);
	if (cfg != NULL)
		warn_watchdog(cfg);
	return cfg;
}

tg_time local_now(void)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	return (tg_time)tg_day_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) * TG_DAY_SECONDS +
	       tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

int daemon_check_owner(const char *state_dir, const char *path, const char *command)
{
	struct passwd *pw;
	struct stat st;
	char name[64];

	if (geteuid() != 0 || stat(state_dir, &st) < 0 || st.st_uid == 0)
		return 0;
	if ((pw = getpwuid(st.st_uid)) != NULL)
		snprintf(name, sizeof(name), "%s", pw->pw_name);
	else
		snprintf(name, sizeof(name), "%lu", (unsigned long)st.st_uid);
	tg_log(LOG_ERR, "%s belongs to user %s: files written there as root would stop the service "
	       "(it could no longer replace them); run as that user: runuser -u %s -- traguardo "
	       "-c %s %s", state_dir, name, name, path, command);
	return -1;
}

void daemon_remove_stale_tmp(const char *state_dir)
{
	size_t n = tg_fs_remove_stale_tmp(state_dir, time(NULL));

	if (n > 0)
		tg_log(LOG_NOTICE, "%s: %zu temporary file%s of an interrupted write removed",
		       state_dir, n, n == 1 ? "" : "s");
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* Up to 10% of `every`, at most SPREAD_MAX_SEC, so that sources configured
 * alike do not all start (and hit the same servers) at the same moment; a
 * daily source is still read soon after a restart (the alerts wait until
 * every source has run). */
static uint64_t spread_usec(int64_t every)
{
	uint64_t r = 0, max = (uint64_t)every * USEC_PER_SEC / 10;

	if (max > SPREAD_MAX_SEC * USEC_PER_SEC)
		max = SPREAD_MAX_SEC * USEC_PER_SEC;

	if (max == 0)
		return 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = now_usec() * 6364136223846793005ULL + 1442695040888963407ULL;
	return r % max;
}

static void send_status(struct daemon *d)
{
	size_t failing = 0;
	char line[1024];
	struct tg_sdnotify_status st;

	if (d->stopping)
		return;   /* STATUS=stopping stays until the end */

	for (size_t i = 0; i < d->cfg->n_sources; i++)
		failing += tg_engine_source_state(d->engine, i)->failed;
	st = (struct tg_sdnotify_status){
		.results = tg_engine_results(d->engine),
		.n_indicators = d->cfg->n_indicators,
		.failing_sources = failing,
		.has_cycle = d->has_cycle,
		.last_cycle = d->last_cycle,
		.reload_error = d->reload_error[0] != '\0' ? d->reload_error : NULL,
		.has_outbox = d->notifier != NULL,
		.outbox = d->notifier != NULL ? tg_notifier_pending(d->notifier) : 0,
		.outbox_failed = d->notifier != NULL ? tg_notifier_failed(d->notifier) : 0,
	};
	tg_sdnotify_status_line(&st, line, sizeof(line));
	if (d->ha != NULL) {
		size_t len = strlen(line);

		snprintf(line + len, sizeof(line) - len, "; ");
		len = strlen(line);
		tg_ha_status_line(d->ha, line + len, sizeof(line) - len);
	}
	if (d->archive != NULL) {
		size_t len = strlen(line);

		snprintf(line + len, sizeof(line) - len, "; ");
		len = strlen(line);
		tg_archive_status_line(d->archive, line + len, sizeof(line) - len);
	}
	/* the lines quote server messages: STATUS= is one line of UTF-8
	 * (systemd drops one that is not), and the cut may split a character */
	tg_utf8_scrub(line);
	sd_notifyf(0, "STATUS=%s", line);
}

/* Evaluation, status.json and STATUS=: after every source run, every
 * evaluate_every, and after a reload. */
/* Arms the outbox timer for the earliest retry (disarms it when the outbox
 * is empty).  Wall-clock seconds in the outbox become a monotonic delay. */
static void arm_outbox(struct daemon *d)
{
	int64_t wall = (int64_t)time(NULL), next = tg_notifier_next_attempt(d->notifier, wall);
	uint64_t delay;

	if (next < 0 || d->stopping) {
		sd_event_source_set_enabled(d->outbox_timer, SD_EVENT_OFF);
		return;
	}
	delay = next <= wall ? USEC_PER_SEC : (uint64_t)(next - wall) * USEC_PER_SEC;
	if (sd_event_source_set_time_relative(d->outbox_timer, delay) < 0 ||
	    sd_event_source_set_enabled(d->outbox_timer, SD_EVENT_ONESHOT) < 0)
		tg_log(LOG_ERR, "cannot arm the outbox timer");
}

/* True once every source has been read since the start and since this
 * daemon last became active: what the archive may take as the state of the
 * indicators (not the journal's guess, nor a standby's older reading). */
static bool all_fresh(const struct daemon *d)
{
	for (size_t i = 0; i < d->cfg->n_sources; i++)
		if (!d->timers[i].fresh)
			return false;
	return true;
}

/* True once every source has run since start: before that the results come
 * from the journal alone (a source not yet read could look late), and no
 * alert is judged on them. */
static bool sources_ran(const struct daemon *d)
{
	for (size_t i = 0; i < d->cfg->n_sources; i++)
		if (!tg_engine_source_state(d->engine, i)->ran)
			return false;
	return true;
}

static void evaluate(struct daemon *d)
{
	char ha_line[256], ar_line[512];
	struct tg_output_notify ns;
	struct tg_error err;
	int64_t wall = (int64_t)time(NULL);

	d->last_cycle = local_now();
	d->has_cycle = true;
	tg_engine_evaluate(d->engine, d->last_cycle);
	/* from the journal alone (a source not read yet) a status is a guess:
	 * "unknown" or "late" archived a second before the real one; after a
	 * takeover the standby's last reading may be older than what the
	 * other daemon archived */
	if (d->archive != NULL && tg_ha_active(d->ha) && all_fresh(d) &&
	    tg_archive_evaluations(d->archive, d->cfg, tg_engine_results(d->engine), d->last_cycle,
				   wall, &err) < 0)
		tg_log(LOG_WARNING, "archive: %s", err.msg);
	/* a standby keeps its alert state as if it had sent (the active one
	 * did); while the role is not known (ha connecting at the start, or no
	 * database) nobody may be sending: the alerts wait for the answer */
	if (!d->stopping && sources_ran(d) && tg_ha_role_known(d->ha)) {
		tg_notifier_set_standby(d->notifier, !tg_ha_active(d->ha));
		if (tg_notifier_cycle(d->notifier, tg_engine_results(d->engine),
				      tg_engine_store(d->engine), d->last_cycle, wall, &err) < 0)
			tg_log(LOG_ERR, "notifications: %s; the alerts stay as they were and come "
			       "again next cycle", err.msg);
		if (tg_notifier_reports(d->notifier, tg_engine_store(d->engine), d->last_cycle, wall,
					&err) < 0)
			tg_log(LOG_ERR, "reports: %s", err.msg);
		tg_notifier_deliver(d->notifier, wall, false);
		arm_outbox(d);
	}
	ns = (struct tg_output_notify){ tg_notifier_pending(d->notifier),
					tg_notifier_failed(d->notifier),
					tg_alerts_active(tg_notifier_alerts(d->notifier)),
					d->ha ? tg_ha_status_line(d->ha, ha_line, sizeof(ha_line)) : NULL,
					d->archive ? tg_archive_status_line(d->archive, ar_line,
									    sizeof(ar_line)) : NULL };
	if (tg_output_status_file(d->cfg, d->engine, d->last_cycle, wall, &ns, &err) < 0)
		tg_log(LOG_ERR, "%s", err.msg);
	send_status(d);
}

static int on_outbox_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	if (!d->stopping)
		tg_notifier_deliver(d->notifier, (int64_t)time(NULL), false);
	arm_outbox(d);
	return 0;
}

static void arm(struct source_timer *t, uint64_t usec)
{
	if (sd_event_source_set_time_relative(t->timer, usec) < 0 ||
	    sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT) < 0)
		tg_log(LOG_ERR, "source '%s': cannot arm its timer", t->d->cfg->sources[t->idx].name);
}

static void maybe_exit(struct daemon *d)
{
	if (d->stopping && tg_engine_running(d->engine) == 0 &&
	    tg_notifier_in_flight(d->notifier) == 0)
		sd_event_exit(d->event, 0);
}

/* A delivery ended with nothing else in flight: during shutdown that may be
 * the last thing waited for; otherwise the next retry may have moved. */
static void on_notifier_idle(void *ctx)
{
	struct daemon *d = ctx;

	if (d->stopping)
		maybe_exit(d);
	else
		arm_outbox(d);
	send_status(d);
}

/* The store's values the archive does not have yet go to its spool; only
 * the active daemon archives (with ha). */
static void archive_measurements(struct daemon *d)
{
	struct tg_error err;

	if (d->archive != NULL && tg_ha_active(d->ha) &&
	    tg_archive_measurements(d->archive, d->cfg, tg_engine_store(d->engine),
				    (int64_t)time(NULL), &err) < 0)
		tg_log(LOG_WARNING, "archive: %s", err.msg);
}

static void source_done(void *ctx, size_t i)
{
	struct daemon *d = ctx;
	const struct tg_source *src = &d->cfg->sources[i];
	const struct tg_source_state *st = tg_engine_source_state(d->engine, i);

	if (st->failed)
		tg_logf(LOG_ERR, "SOURCE", src->name, "source '%s' failed: %s", src->name, st->error);
	if (!st->failed)
		archive_measurements(d);
	d->timers[i].failures = st->failed ? d->timers[i].failures + 1 : 0;
	d->timers[i].fresh = true;
	evaluate(d);
	if (d->stopping)
		maybe_exit(d);
	else
		arm(&d->timers[i], next_run_usec(&d->timers[i], src->every));
}

static int on_source_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct source_timer *t = userdata;
	int rc;

	(void)s;
	(void)usec;
	if (t->d->stopping)
		return 0;
	rc = tg_engine_start_source(t->d->engine, t->idx, (int64_t)time(NULL), source_done, t->d);
	if (rc < 0) {
		tg_logf(LOG_WARNING, "SOURCE", t->d->cfg->sources[t->idx].name,
			"source '%s' not started: %s", t->d->cfg->sources[t->idx].name, strerror(-rc));
		arm(t, (uint64_t)t->d->cfg->sources[t->idx].every * USEC_PER_SEC);
	}
	return 0;
}

static int on_eval_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)usec;
	evaluate(d);
	if (sd_event_source_set_time_relative(s, (uint64_t)d->cfg->daemon.evaluate_every * USEC_PER_SEC) < 0 ||
	    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) < 0)
		tg_log(LOG_ERR, "cannot re-arm the evaluation timer");
	return 0;
}

static void free_timers(struct source_timer *timers, size_t n)
{
	for (size_t i = 0; timers != NULL && i < n; i++)
		sd_event_source_disable_unref(timers[i].timer);
	free(timers);
}

/* One disabled timer per source of cfg; NULL on failure. */
static struct source_timer *new_timers(struct daemon *d, const struct tg_config *cfg)
{
	struct source_timer *t = calloc(cfg->n_sources ? cfg->n_sources : 1, sizeof(*t));

	if (t == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->n_sources; i++) {
		t[i] = (struct source_timer){ .d = d, .idx = i };
		if (sd_event_add_time_relative(d->event, &t[i].timer, CLOCK_MONOTONIC, 0,
					       USEC_PER_SEC / 10, on_source_timer, &t[i]) < 0 ||
		    sd_event_source_set_enabled(t[i].timer, SD_EVENT_OFF) < 0) {
			free_timers(t, i + 1);
			return NULL;
		}
	}
	return t;
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* What a reload cannot change in a running daemon: the HA election and the
 * archive connection are made once, at start.  Writes why into why. */
static bool needs_restart(const struct tg_config *old, const struct tg_config *cfg, char *why,
			  size_t size)
{
	if (old->ha.set != cfg->ha.set || !same_text(old->ha.conninfo, cfg->ha.conninfo) ||
	    !same_text(old->ha.password_file, cfg->ha.password_file) ||
	    old->ha.lock != cfg->ha.lock)
		snprintf(why, size, "'ha' changed: that needs a restart");
	else if (old->archive.set != cfg->archive.set ||
		 !same_text(old->archive.conninfo, cfg->archive.conninfo) ||
		 !same_text(old->archive.password_file, cfg->archive.password_file))
		snprintf(why, size, "'archive' changed: that needs a restart");
	else
		return false;
	return true;
}

static void reload(struct daemon *d)
{
	char first[TG_ERROR_MAX] = "";
	struct tg_config *cfg;
	struct source_timer *timers = NULL;
	uint64_t *due = NULL, now = now_usec();
	struct tg_error err;
	char qpath[512];

	/* a line break in the path would add a field to the notification */
	tg_error_quote(d->path, strlen(d->path), 400, qpath, sizeof(qpath));
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
		   (unsigned long long)now, qpath);
	tg_log(LOG_NOTICE, "reloading %s", d->path);
	cfg = daemon_load_config(d->path, first, sizeof(first));
	if (cfg != NULL && needs_restart(d->cfg, cfg, first, sizeof(first))) {
		tg_config_free(cfg);
		cfg = NULL;
	}
	if (cfg != NULL) {
		timers = new_timers(d, cfg);
		due = calloc(cfg->n_sources ? cfg->n_sources : 1, sizeof(*due));
		if (timers == NULL || due == NULL)
			snprintf(first, sizeof(first), "out of memory");
	}
	if (cfg != NULL && timers != NULL && due != NULL) {
		/* a source that stays (same name, not running) keeps its next
		 * run, brought forward if its `every` shrank; the others, and
		 * those whose run the reload cancels, start after a spread */
		for (size_t i = 0; i < cfg->n_sources; i++) {
			ssize_t o = tg_config_source_index(d->cfg, cfg->sources[i].name);
			uint64_t next = 0, max = (uint64_t)cfg->sources[i].every * USEC_PER_SEC;
			int enabled = SD_EVENT_OFF;

			due[i] = spread_usec(cfg->sources[i].every);
			if (o >= 0 && sd_event_source_get_enabled(d->timers[o].timer, &enabled) >= 0 &&
			    enabled != SD_EVENT_OFF && sd_event_source_get_time(d->timers[o].timer, &next) >= 0) {
				due[i] = next <= now ? 0 : next - now < max ? next - now : max;
				timers[i].fresh = d->timers[o].fresh;
			}
		}
		if (tg_notifier_reconfigure(d->notifier, cfg, &err) < 0) {
			snprintf(first, sizeof(first), "%s", err.msg);
		} else if (tg_engine_reconfigure(d->engine, cfg, &err) < 0) {
			struct tg_error back;

			snprintf(first, sizeof(first), "%s", err.msg);
			(void)tg_notifier_reconfigure(d->notifier, d->cfg, &back);
		}
	}
	if (first[0] != '\0') {
		tg_log(LOG_ERR, "reload failed: %s; running with the previous configuration", first);
		snprintf(d->reload_error, sizeof(d->reload_error), "%s", first);
		free_timers(timers, cfg != NULL ? cfg->n_sources : 0);
		free(due);
		tg_config_free(cfg);
		sd_notify(0, "READY=1");
		send_status(d);
		return;
	}
	free_timers(d->timers, d->cfg->n_sources);
	tg_config_free(d->cfg);
	d->cfg = cfg;
	d->timers = timers;
	d->reload_error[0] = '\0';
	for (size_t i = 0; i < cfg->n_sources; i++)
		arm(&timers[i], due[i]);
	free(due);
	if (sd_event_source_set_time_relative(d->eval_timer,
					      (uint64_t)cfg->daemon.evaluate_every * USEC_PER_SEC) < 0)
		tg_log(LOG_ERR, "cannot re-arm the evaluation timer");
	tg_log(LOG_NOTICE, "configuration reloaded: %zu sources, %zu indicators", cfg->n_sources,
	       cfg->n_indicators);
	evaluate(d);   /* new targets show at once */
	sd_notify(0, "READY=1");
}

static int on_stop_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	struct tg_error err;

	(void)s;
	(void)usec;
	tg_log(LOG_WARNING, "%zu source run%s and %zu deliver%s still in progress after %llu s: "
	       "cancelled (undelivered messages stay in the outbox)",
	       tg_engine_running(d->engine), tg_engine_running(d->engine) == 1 ? "" : "s",
	       tg_notifier_in_flight(d->notifier), tg_notifier_in_flight(d->notifier) == 1 ? "y" : "ies",
	       STOP_GRACE_USEC / USEC_PER_SEC);
	if (tg_engine_cancel_all(d->engine, &err) < 0)
		tg_log(LOG_ERR, "journal: %s", err.msg);
	sd_event_exit(d->event, 0);
	return 0;
}

static void stop(struct daemon *d)
{
	size_t running = tg_engine_running(d->engine), sending = tg_notifier_in_flight(d->notifier);

	if (d->stopping) {         /* asked twice: do not wait any longer */
		on_stop_timer(NULL, 0, d);
		return;
	}
	d->stopping = true;
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	for (size_t i = 0; i < d->cfg->n_sources; i++)
		sd_event_source_set_enabled(d->timers[i].timer, SD_EVENT_OFF);
	sd_event_source_set_enabled(d->eval_timer, SD_EVENT_OFF);
	sd_event_source_set_enabled(d->outbox_timer, SD_EVENT_OFF);
	if (running == 0 && sending == 0) {
		sd_event_exit(d->event, 0);
		return;
	}
	tg_log(LOG_NOTICE, "stopping: waiting up to %llu s for %zu source run%s and %zu delivery(ies)",
	       STOP_GRACE_USEC / USEC_PER_SEC, running, running == 1 ? "" : "s", sending);
	if (sd_event_add_time_relative(d->event, &d->stop_timer, CLOCK_MONOTONIC, STOP_GRACE_USEC,
				       USEC_PER_SEC / 10, on_stop_timer, d) < 0)
		on_stop_timer(NULL, 0, d);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	if (si->ssi_signo == SIGHUP) {
		if (!d->stopping)
			reload(d);
	} else {
		tg_log(LOG_NOTICE, "%s received: stopping", si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
		stop(d);
	}
	return 0;
}

/* ha: this daemon took over (deliver what waits, at once) or lost the lock
 * (nothing new is spooled; what it spooled while active still goes: the
 * other daemon took those alerts as sent). */
static void on_role(void *ctx, bool active)
{
	struct daemon *d = ctx;

	tg_log(LOG_NOTICE, "ha: now %s", active ? "active: this daemon sends the notifications"
						: "standby: another daemon sends the notifications");
	tg_notifier_set_standby(d->notifier, !active);
	/* what it archived while it last was active may since have been
	 * overwritten by the other daemon: the archive gets everything again
	 * (the server skips the measurements it has), now, not at each
	 * source's next read: what was read as the standby, or before the
	 * role was known, was not archived */
	if (active) {
		tg_archive_forget(d->archive);
		archive_measurements(d);
		/* every source read again now (after a spread), not at its next
		 * `every`: the evaluations are archived from fresh readings */
		for (size_t i = 0; i < d->cfg->n_sources; i++) {
			int enabled = SD_EVENT_OFF;

			d->timers[i].fresh = false;   /* stopping too: no archive of old readings */
			if (!d->stopping &&
			    sd_event_source_get_enabled(d->timers[i].timer, &enabled) >= 0 &&
			    enabled != SD_EVENT_OFF)
				arm(&d->timers[i], spread_usec(d->cfg->sources[i].every));
		}
	}
	if (active && !d->stopping)
		tg_notifier_deliver(d->notifier, (int64_t)time(NULL), true);
	if (!d->stopping)
		evaluate(d);   /* status.json and STATUS= say the new role at once */
}

int daemon_run(const char *path)
{
	struct daemon d = { .path = path };
	struct tg_error err;
	sigset_t mask;
	int rc = 1, r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		tg_log(LOG_ERR, "sigprocmask: %s", strerror(errno));
		return 1;
	}
	if ((d.cfg = daemon_load_config(path, NULL, 0)) == NULL) {
		tg_log(LOG_ERR, "%s: configuration not valid", path);
		return 1;
	}
	if (daemon_check_owner(d.cfg->daemon.state_dir, path, "run") < 0)
		goto out;
	if (tg_fs_mkdirs(d.cfg->daemon.state_dir, 0750, &err) < 0) {
		tg_log(LOG_ERR, "state directory: %s", err.msg);
		goto out;
	}
	daemon_remove_stale_tmp(d.cfg->daemon.state_dir);
	if ((r = sd_event_default(&d.event)) < 0) {
		tg_log(LOG_ERR, "cannot create the event loop: %s", strerror(-r));
		goto out;
	}
	if (sd_event_add_signal(d.event, NULL, SIGHUP, on_signal, &d) < 0 ||
	    sd_event_add_signal(d.event, NULL, SIGTERM, on_signal, &d) < 0 ||
	    sd_event_add_signal(d.event, NULL, SIGINT, on_signal, &d) < 0 ||
	    sd_event_set_watchdog(d.event, true) < 0) {
		tg_log(LOG_ERR, "cannot set up signals and the watchdog");
		goto out;
	}
	/* replays the journal and locks it: one daemon per state directory */
	if ((d.engine = tg_engine_new(d.cfg, TG_JOURNAL_WRITE, d.event, &err)) == NULL) {
		tg_log(LOG_ERR, "%s", err.msg);
		goto out;
	}
	if ((d.notifier = tg_notifier_new(d.cfg, d.event, false, &err)) == NULL) {
		tg_log(LOG_ERR, "%s", err.msg);
		goto out;
	}
	tg_notifier_on_idle(d.notifier, on_notifier_idle, &d);
	if (d.cfg->archive.set) {
		if ((d.archive = tg_archive_new(d.cfg, d.event, &err)) == NULL) {
			tg_log(LOG_ERR, "archive: %s", err.msg);
			goto out;
		}
		tg_notifier_set_archive(d.notifier, d.archive);
	}
	if (d.cfg->ha.set) {
		uint64_t poll = (uint64_t)d.cfg->daemon.evaluate_every * USEC_PER_SEC;

		/* take over within one evaluate_every, and soon after a failure */
		if (poll > 10 * USEC_PER_SEC)
			poll = 10 * USEC_PER_SEC;
		if ((d.ha = tg_ha_new(d.cfg, d.event, poll, on_role, &d, &err)) == NULL) {
			tg_log(LOG_ERR, "ha: %s", err.msg);
			goto out;
		}
		tg_notifier_set_standby(d.notifier, !tg_ha_active(d.ha));
	}
	if (sd_event_add_time_relative(d.event, &d.outbox_timer, CLOCK_MONOTONIC, 0,
				       USEC_PER_SEC, on_outbox_timer, &d) < 0 ||
	    sd_event_source_set_enabled(d.outbox_timer, SD_EVENT_OFF) < 0) {
		tg_log(LOG_ERR, "cannot create the timers");
		goto out;
	}
	if ((d.timers = new_timers(&d, d.cfg)) == NULL ||
	    sd_event_add_time_relative(d.event, &d.eval_timer, CLOCK_MONOTONIC,
				       (uint64_t)d.cfg->daemon.evaluate_every * USEC_PER_SEC,
				       USEC_PER_SEC, on_eval_timer, &d) < 0 ||
	    sd_event_source_set_enabled(d.eval_timer, SD_EVENT_ONESHOT) < 0) {
		tg_log(LOG_ERR, "cannot create the timers");
		goto out;
	}
	for (size_t i = 0; i < d.cfg->n_sources; i++)
		arm(&d.timers[i], spread_usec(d.cfg->sources[i].every));
	/* what the journal says, until the sources have run */
	evaluate(&d);
	/* messages left by the previous run go out now, whatever their backoff */
	tg_notifier_deliver(d.notifier, (int64_t)time(NULL), true);
	tg_log(LOG_NOTICE, "started: %zu sources, %zu indicators, state in %s", d.cfg->n_sources,
	       d.cfg->n_indicators, d.cfg->daemon.state_dir);
	sd_notify(0, "READY=1");
	if ((r = sd_event_loop(d.event)) < 0) {
		tg_log(LOG_ERR, "event loop failed: %s", strerror(-r));
		goto out;
	}
	/* a commit that failed earlier (a full disk) is tried once more: the
	 * space may be back, and a feed may no longer have those values */
	if (tg_engine_journal_failed(d.engine)) {
		struct tg_error cerr;

		if (tg_engine_cancel_all(d.engine, &cerr) < 0)
			tg_log(LOG_ERR, "journal: %s; values not written are lost unless the "
			       "sources still have them", cerr.msg);
		else
			tg_log(LOG_NOTICE, "journal: the values waiting are written");
	}
	rc = tg_engine_journal_failed(d.engine) ? 1 : 0;
	tg_log(LOG_NOTICE, "stopped; outbox: %zu message%s kept for the next start",
	       tg_notifier_pending(d.notifier), tg_notifier_pending(d.notifier) == 1 ? "" : "s");
out:
	tg_notifier_free(d.notifier);
	tg_ha_free(d.ha);
	tg_archive_free(d.archive);
	sd_event_source_disable_unref(d.outbox_timer);
	sd_event_source_disable_unref(d.stop_timer);
	sd_event_source_disable_unref(d.eval_timer);
	free_timers(d.timers, d.cfg->n_sources);
	tg_engine_free(d.engine);
	sd_event_unref(d.event);
	tg_config_free(d.cfg);
	return rc;
}
