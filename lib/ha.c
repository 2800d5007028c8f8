/*
 * ha.c — the advisory-lock election (see ha.h).
 *
 * A state machine on the loop, fed by the readiness of libpq's socket and
 * by one timer: DOWN (the timer waits for the next attempt), CONNECTING,
 * QUERY (a lock attempt, or the active daemon's check of its session, is in
 * flight; the timer is its deadline), IDLE (the timer is the next poll).
 * The socket is watched in every connected state, so a terminated session
 * is seen when the server says so, not at the next poll: an active daemon
 * must learn first that it no longer is.
 */
#include "ha.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <libpq-fe.h>

#include "error.h"
#include "log.h"
#include "pgutil.h"
#include "secret.h"
#include "utf8.h"

#define MIN_POLL_USEC 100000ULL
#define CHECK_USEC 5000000ULL        /* the active daemon checks its session this often */
#define ANSWER_USEC 5000000ULL       /* ... and steps down without an answer in this time */
#define CONNECT_USEC 10000000ULL
#define BACKOFF_FIRST_USEC 1000000ULL
#define BACKOFF_MAX_USEC 60000000ULL

enum state { H_DOWN, H_CONNECTING, H_QUERY, H_IDLE };

struct tg_ha {
	sd_event *ev;
	char *conninfo;
	char *password_path;
	int lock;
	uint64_t poll, backoff, backoff_first, backoff_max;
	tg_ha_change_fn on_change;
	void *ctx;

	PGconn *conn;
	sd_event_source *io, *timer;
	int fd;
	enum state state;
	bool flushing;
	bool active;
	bool answer;        /* the lock query's result */
	bool in_recovery;   /* the server answered that it is a standby */
	bool query_failed;
	char query_error[TG_ERROR_MAX / 2];
	bool told_standby;  /* "held by another session" logged */
	bool other_holds;   /* the last answer on a live session: another holds the lock */
	struct tg_pg_notices notices; /* a FATAL one: why the server hung up */
	char last_error[TG_ERROR_MAX];
	bool error_logged;
};

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* tg_pg_one_line, and "unknown error" for an empty message. */
static const char *msg_line(const char *s, char *buf, size_t size)
{
	tg_pg_one_line(s, buf, size);
	if (buf[0] == '\0')
		snprintf(buf, size, "unknown error");
	return buf;
}

static void arm(struct tg_ha *ha, uint64_t usec)
{
	if (sd_event_source_set_time_relative(ha->timer, usec) < 0 ||
	    sd_event_source_set_enabled(ha->timer, SD_EVENT_ONESHOT) < 0)
		tg_log(LOG_ERR, "ha: cannot arm a timer");
}

static void conn_close(struct tg_ha *ha)
{
	ha->io = sd_event_source_disable_unref(ha->io);
	if (ha->conn != NULL)
		PQfinish(ha->conn);
	ha->conn = NULL;
	ha->fd = -1;
	ha->flushing = false;
}

static int watch(struct tg_ha *ha, uint32_t events)
{
	int fd = PQsocket(ha->conn);

	if (fd < 0)
		return -EBADF;
	if (ha->io != NULL && fd != ha->fd)
		ha->io = sd_event_source_disable_unref(ha->io);
	if (ha->io == NULL) {
		int rc = sd_event_add_io(ha->ev, &ha->io, fd, events, on_io, ha);

		if (rc < 0)
			return rc;
		ha->fd = fd;
		return 0;
	}
	return sd_event_source_set_io_events(ha->io, events);
}

/* Sets the role and tells; the caller returns right after (the callback
 * comes last). */
static void set_role(struct tg_ha *ha, bool active)
{
	if (ha->active == active)
		return;
	ha->active = active;
	ha->other_holds = false;   /* active, or not known until the next answer */
	if (active)
		tg_log(LOG_NOTICE, "ha: active (holding advisory lock %d)", ha->lock);
	else
		tg_log(LOG_WARNING, "ha: standby (advisory lock %d no longer held)", ha->lock);
	ha->told_standby = !active;
	if (ha->on_change != NULL)
		ha->on_change(ha->ctx, active);
}

static void go_down(struct tg_ha *ha, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Standby at once, then a new connection after the backoff. */
static void go_down(struct tg_ha *ha, const char *fmt, ...)
{
	char msg[TG_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conn_close(ha);
	ha->state = H_DOWN;
	ha->other_holds = false;
	if (!ha->error_logged || strcmp(msg, ha->last_error) != 0)
		tg_log(LOG_WARNING, "ha: %s", msg);
	ha->error_logged = true;
	snprintf(ha->last_error, sizeof(ha->last_error), "%s", msg);
	arm(ha, ha->backoff);
	ha->backoff = ha->backoff * 2 > ha->backoff_max ? ha->backoff_max : ha->backoff * 2;
	set_role(ha, false);
}

static void lost(struct tg_ha *ha)
{
	char m[TG_ERROR_MAX / 2];
	const char *said = ha->notices.fatal;

	msg_line(ha->conn != NULL ? PQerrorMessage(ha->conn) : "", m, sizeof(m));
	if (said[0] != '\0' && strstr(m, said) == NULL)
		go_down(ha, "connection to PostgreSQL lost: %s %s", said, m);
	else
		go_down(ha, "connection to PostgreSQL lost: %s", m);
}

static void start_connect(struct tg_ha *ha)
{
	char options[TG_ERROR_MAX], uopt[TG_ERROR_MAX / 2], m[TG_ERROR_MAX / 2];
	const char *keys[12], *vals[12];
	char *password = NULL;
	struct tg_error err;
	size_t n = 0;

	conn_close(ha);
	if (ha->password_path != NULL &&
	    (password = tg_secret_read(NULL, "ha", "password_file", ha->password_path, &err)) == NULL) {
		go_down(ha, "%s", err.msg);
		return;
	}
	/* the server drops a silent client after ~25 s, later than we step
	 * down (5 s without an answer); the conninfo's options come first */
	tg_pg_user_options(ha->conninfo, uopt, sizeof(uopt));
	snprintf(options, sizeof(options), "%s%s-c tcp_keepalives_idle=10 "
		 "-c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 -c statement_timeout=5000",
		 uopt, uopt[0] != '\0' ? " " : "");
	/* client keepalives before dbname, so that the conninfo's win */
	keys[n] = "keepalives"; vals[n++] = "1";
	keys[n] = "keepalives_idle"; vals[n++] = "10";
	keys[n] = "keepalives_interval"; vals[n++] = "5";
	keys[n] = "keepalives_count"; vals[n++] = "3";
	keys[n] = "dbname"; vals[n++] = ha->conninfo;
	keys[n] = "connect_timeout"; vals[n++] = "10";
	keys[n] = "options"; vals[n++] = options;
	keys[n] = "client_encoding"; vals[n++] = "UTF8";
	keys[n] = "fallback_application_name"; vals[n++] = "traguardo-ha";
	if (password != NULL) {
		keys[n] = "password";
		vals[n++] = password;
	}
	keys[n] = NULL;
	vals[n] = NULL;
	ha->conn = PQconnectStartParams(keys, vals, 1);
	tg_secret_free(password);
	if (ha->conn == NULL) {
		go_down(ha, "out of memory");
		return;
	}
	PQsetNoticeProcessor(ha->conn, tg_pg_on_notice, &ha->notices);
	ha->notices.fatal[0] = '\0';
	if (PQstatus(ha->conn) == CONNECTION_BAD) {
		go_down(ha, "cannot connect to PostgreSQL: %s",
			msg_line(PQerrorMessage(ha->conn), m, sizeof(m)));
		return;
	}
	ha->state = H_CONNECTING;
	if (watch(ha, EPOLLOUT) < 0) {
		go_down(ha, "cannot watch the connection");
		return;
	}
	arm(ha, CONNECT_USEC);
}

/* The lock attempt (standby) or the session check (active). */
static void send_query(struct tg_ha *ha)
{
	char key[16];
	const char *vals[1] = { key };
	int ok, f;

	snprintf(key, sizeof(key), "%d", ha->lock);
	ha->answer = false;
	ha->in_recovery = false;
	ha->query_failed = false;
	ha->query_error[0] = '\0';
	/* a server in recovery (a replica) grants advisory locks of its own:
	 * a daemon there would be active beside the one on the primary.  NULL
	 * says so; CASE, because AND need not ask pg_is_in_recovery() first. */
	if (ha->active)
		ok = PQsendQueryParams(ha->conn, "SELECT CASE WHEN pg_is_in_recovery() THEN NULL "
				       "ELSE true END", 0, NULL, NULL, NULL, NULL, 0);
	else
		ok = PQsendQueryParams(ha->conn, "SELECT CASE WHEN pg_is_in_recovery() THEN NULL "
				       "ELSE pg_try_advisory_lock($1::bigint) END", 1,
				       NULL, vals, NULL, NULL, 0);
	if (!ok) {
		lost(ha);
		return;
	}
	ha->state = H_QUERY;
	arm(ha, ANSWER_USEC);
	if ((f = PQflush(ha->conn)) < 0) {
		lost(ha);
		return;
	}
	ha->flushing = f == 1;
	if (watch(ha, f == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN) < 0)
		go_down(ha, "cannot watch the connection");
}

static void take_result(struct tg_ha *ha, PGresult *res)
{
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 1) {
		ha->in_recovery = PQgetisnull(res, 0, 0);
		ha->answer = !ha->in_recovery && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		return;
	}
	if (!ha->query_failed) {
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		char m[TG_ERROR_MAX / 4], s[16];

		msg_line(PQresultErrorMessage(res), m, sizeof(m));
		tg_error_quote(st != NULL ? st : "?????", st != NULL ? strlen(st) : 5, 5, s, sizeof(s));
		snprintf(ha->query_error, sizeof(ha->query_error), "SQLSTATE %s: %s", s, m);
	}
	ha->query_failed = true;
}

static void query_done(struct tg_ha *ha)
{
	bool was_active = ha->active;

	if (!ha->query_failed && ha->in_recovery) {
		go_down(ha, "the server is in recovery (a standby): the lock counts on the primary "
			"only (with several hosts in the conninfo, add "
			"target_session_attrs=read-write)");
		return;
	}
	if (ha->query_failed || (was_active && !ha->answer)) {
		go_down(ha, "%s failed: %s", was_active ? "session check" : "lock attempt",
			ha->query_error[0] != '\0' ? ha->query_error : "no answer");
		return;
	}
	if (ha->error_logged)
		tg_log(LOG_NOTICE, "ha: connected to PostgreSQL again");
	ha->error_logged = false;
	ha->last_error[0] = '\0';
	ha->backoff = ha->backoff_first;
	ha->state = H_IDLE;
	if (ha->active) {
		arm(ha, ha->poll < CHECK_USEC ? ha->poll : CHECK_USEC);
		return;
	}
	arm(ha, ha->poll);
	if (ha->answer) {
		set_role(ha, true);
		return;
	}
	if (!ha->told_standby)
		tg_log(LOG_NOTICE, "ha: standby (advisory lock %d held by another session)", ha->lock);
	ha->told_standby = true;
	ha->other_holds = true;
}

static void step(struct tg_ha *ha)
{
	char m[TG_ERROR_MAX / 2];

	if (ha->state == H_DOWN || ha->conn == NULL)
		return;
	if (ha->state == H_CONNECTING) {
		PostgresPollingStatusType ps = PQconnectPoll(ha->conn);

		ha->io = sd_event_source_disable_unref(ha->io);
		switch (ps) {
		case PGRES_POLLING_READING:
		case PGRES_POLLING_WRITING:
			if (watch(ha, ps == PGRES_POLLING_READING ? EPOLLIN : EPOLLOUT) < 0)
				go_down(ha, "cannot watch the connection");
			return;
		case PGRES_POLLING_OK:
			if (PQsetnonblocking(ha->conn, 1) != 0) {
				lost(ha);
				return;
			}
			send_query(ha);
			return;
		default:
			go_down(ha, "cannot connect to PostgreSQL: %s",
				msg_line(PQerrorMessage(ha->conn), m, sizeof(m)));
			return;
		}
	}
	if (!PQconsumeInput(ha->conn)) {
		lost(ha);
		return;
	}
	if (ha->flushing) {
		int f = PQflush(ha->conn);

		if (f < 0) {
			lost(ha);
			return;
		}
		ha->flushing = f == 1;
		if (watch(ha, f == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN) < 0) {
			go_down(ha, "cannot watch the connection");
			return;
		}
	}
	if (ha->state == H_IDLE) {
		PGnotify *n;

		while ((n = PQnotifies(ha->conn)) != NULL)
			PQfreemem(n);
		if (PQstatus(ha->conn) == CONNECTION_BAD)
			lost(ha);
		return;
	}
	while (!PQisBusy(ha->conn)) {
		PGresult *res = PQgetResult(ha->conn);

		if (res == NULL) {
			query_done(ha);
			return;
		}
		take_result(ha, res);
		PQclear(res);
	}
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	step(userdata);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct tg_ha *ha = userdata;

	(void)s;
	(void)usec;
	switch (ha->state) {
	case H_DOWN:
		start_connect(ha);
		break;
	case H_CONNECTING:
		go_down(ha, "no connection to PostgreSQL after %llus",
			(unsigned long long)(CONNECT_USEC / 1000000));
		break;
	case H_QUERY:
		go_down(ha, "no answer from PostgreSQL after %llus",
			(unsigned long long)(ANSWER_USEC / 1000000));
		break;
	case H_IDLE:
		send_query(ha);
		break;
	}
	return 0;
}

struct tg_ha *tg_ha_new(const struct tg_config *cfg, sd_event *ev, uint64_t poll_usec,
			tg_ha_change_fn on_change, void *ctx, struct tg_error *err)
{
	struct tg_ha *ha;
	int rc;

	if (cfg == NULL || !cfg->ha.set || cfg->ha.conninfo == NULL || ev == NULL) {
		tg_error_set(err, "ha: not configured");
		return NULL;
	}
	if ((ha = calloc(1, sizeof(*ha))) == NULL)
		goto nomem;
	ha->fd = -1;
	ha->notices.who = "ha";
	ha->ev = sd_event_ref(ev);
	ha->lock = cfg->ha.lock;
	ha->poll = poll_usec < MIN_POLL_USEC ? MIN_POLL_USEC : poll_usec;
	ha->backoff_max = ha->poll < BACKOFF_MAX_USEC ? ha->poll : BACKOFF_MAX_USEC;
	ha->backoff_first = ha->backoff_max < BACKOFF_FIRST_USEC ? ha->backoff_max : BACKOFF_FIRST_USEC;
	ha->backoff = ha->backoff_first;
	ha->on_change = on_change;
	ha->ctx = ctx;
	if ((ha->conninfo = strdup(cfg->ha.conninfo)) == NULL)
		goto nomem;
	if (cfg->ha.password_file != NULL) {
		char *secret;

		if ((ha->password_path = tg_config_secret_path(cfg, cfg->ha.password_file)) == NULL)
			goto nomem;
		secret = tg_secret_read(cfg, "ha", "password_file", cfg->ha.password_file, err);
		if (secret == NULL)
			goto fail;
		tg_secret_free(secret);
	}
	rc = sd_event_add_time_relative(ev, &ha->timer, CLOCK_MONOTONIC, 0, 0, on_timer, ha);
	if (rc < 0) {
		tg_error_setc(err, rc, "ha: cannot add a timer: %s", strerror(-rc));
		goto fail;
	}
	sd_event_source_set_enabled(ha->timer, SD_EVENT_OFF);
	start_connect(ha);
	return ha;
nomem:
	tg_error_setc(err, -ENOMEM, "ha: out of memory");
fail:
	tg_ha_free(ha);
	return NULL;
}

void tg_ha_free(struct tg_ha *ha)
{
	if (ha == NULL)
		return;
	conn_close(ha);
	sd_event_source_disable_unref(ha->timer);
	free(ha->conninfo);
	free(ha->password_path);
	sd_event_unref(ha->ev);
	free(ha);
}

bool tg_ha_active(const struct tg_ha *ha)
{
	return ha == NULL || ha->active;
}

bool tg_ha_role_known(const struct tg_ha *ha)
{
	return ha == NULL || ha->active || ha->other_holds;
}

const char *tg_ha_role_name(const struct tg_ha *ha)
{
	return tg_ha_active(ha) ? "active" : "standby";
}

const char *tg_ha_status_line(const struct tg_ha *ha, char *buf, size_t size)
{
	if (size == 0)
		return buf;
	if (ha == NULL)
		snprintf(buf, size, "ha off");
	else if (ha->active)
		snprintf(buf, size, "ha active (lock %d)", ha->lock);
	else if (ha->error_logged && ha->last_error[0] != '\0')
		snprintf(buf, size, "ha standby (no connection: %s)", ha->last_error);
	else if (ha->told_standby)
		snprintf(buf, size, "ha standby (lock %d held by another session)", ha->lock);
	else
		snprintf(buf, size, "ha standby (connecting)");
	tg_utf8_scrub(buf);   /* a server's message, maybe cut mid-character */
	return buf;
}
