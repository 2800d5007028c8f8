/*
 * test_ha.c — active/standby through a PostgreSQL advisory lock.
 *
 * Without a server: standby, with the connection error in the status line;
 * a password file readable by everyone refused; NULL is the lone daemon.
 * With a throwaway cluster (tests/pg_cluster.sh, skipped when initdb is not
 * installed): two instances on one loop, exactly one active; the active
 * one's session terminated (pg_terminate_backend): it is standby at once
 * and the other takes over within one poll interval; the active one freed:
 * the same; the server stopped: nobody is active, then one again when it is
 * back; the server a standby in recovery: nobody active, nor known, until it
 * is promoted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "config.h"
#include "ha.h"
#include "log.h"

#ifndef TG_TEST_DATA
#define TG_TEST_DATA "tests/data"
#endif

#define POLL_USEC 300000ULL
#define LOCK 4243

static char cluster_dir[64];
static char conninfo[256];     /* "" when no cluster could be started */
static char pgbin[256];

#define NEED_SERVER() do { if (conninfo[0] == '\0') skip(); } while (0)

struct member {
	struct tg_ha *ha;
	int changes;
	bool active;              /* as told by the callback */
};

static const char *as_postgres(void)
{
	return getuid() == 0 ? "runuser -u postgres -- " : "";
}

static int pg_ctl(const char *what)
{
	char cmd[1024];

	if (strcmp(what, "stop") == 0)
		snprintf(cmd, sizeof(cmd), "%s'%s/pg_ctl' -D '%s/data' -m fast -w stop >/dev/null 2>&1",
			 as_postgres(), pgbin, cluster_dir);
	else if (strcmp(what, "promote") == 0)
		snprintf(cmd, sizeof(cmd), "%s'%s/pg_ctl' -D '%s/data' -w -t 30 promote >/dev/null 2>&1",
			 as_postgres(), pgbin, cluster_dir);
	else
		snprintf(cmd, sizeof(cmd), "%s'%s/pg_ctl' -D '%s/data' -l '%s/server.log' -w -t 30 "
			 "start >/dev/null 2>&1", as_postgres(), pgbin, cluster_dir, cluster_dir);
	return system(cmd);
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void on_change(void *ctx, bool active)
{
	struct member *m = ctx;

	m->changes++;
	m->active = active;
}

static struct tg_config *config(const char *ci, const char *extra)
{
	char conf[1024];
	struct tg_error err;
	struct tg_config *cfg;

	snprintf(conf, sizeof(conf), "ha = { conninfo = \"%s\"; lock = %d; %s };\n", ci, LOCK,
		 extra != NULL ? extra : "");
	cfg = tg_config_load_string(conf, "/tmp/ha-test.conf", NULL, NULL, &err);
	if (cfg == NULL)
		print_error("config: %s\n", err.msg);
	assert_non_null(cfg);
	return cfg;
}

static void join(struct member *m, const struct tg_config *cfg, sd_event *ev)
{
	struct tg_error err = { { 0 } };

	m->ha = tg_ha_new(cfg, ev, POLL_USEC, on_change, m, &err);
	if (m->ha == NULL)
		print_error("tg_ha_new: %s\n", err.msg);
	assert_non_null(m->ha);
	assert_false(tg_ha_active(m->ha));        /* standby until the lock is taken */
	assert_false(tg_ha_role_known(m->ha));    /* nobody is known to send yet */
}

/* Runs the loop until cond() or the deadline (usec from now); returns the
 * time it took. */
static uint64_t run_until(sd_event *ev, bool (*cond)(struct member *, size_t),
			  struct member *m, size_t n, uint64_t limit)
{
	uint64_t start = now_usec();

	while (!cond(m, n) && now_usec() - start < limit)
		assert_true(sd_event_run(ev, 10000) >= 0);
	return now_usec() - start;
}

static size_t n_active(struct member *m, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (m[i].ha != NULL && tg_ha_active(m[i].ha))
			k++;
	return k;
}

static bool one_active(struct member *m, size_t n)
{
	return n_active(m, n) == 1;
}

static bool none_active(struct member *m, size_t n)
{
	return n_active(m, n) == 0;
}

static int which_active(struct member *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].ha != NULL && tg_ha_active(m[i].ha))
			return (int)i;
	return -1;
}

/* Every live member's callback agrees with tg_ha_active. */
static void consistent(struct member *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].ha != NULL && m[i].active != tg_ha_active(m[i].ha)) {
			print_error("member %zu: callback says %d, tg_ha_active %d\n", i,
				    m[i].active, tg_ha_active(m[i].ha));
			fail();
		}
}

static void spin(sd_event *ev, int ms)
{
	uint64_t start = now_usec();

	while (now_usec() - start < (uint64_t)ms * 1000)
		assert_true(sd_event_run(ev, 10000) >= 0);
}

/* ------------------------------------------------------------------ */

static void test_no_server(void **state)
{
	struct tg_config *cfg = config("host=127.0.0.1 port=1 user=x dbname=y", NULL);
	struct member m = { 0 };
	char line[512];
	sd_event *ev;

	(void)state;
	assert_true(sd_event_new(&ev) >= 0);
	join(&m, cfg, ev);
	spin(ev, 300);
	assert_false(tg_ha_active(m.ha));
	assert_string_equal(tg_ha_role_name(m.ha), "standby");
	assert_false(tg_ha_role_known(m.ha));     /* no database: the alerts wait */
	assert_int_equal(m.changes, 0);
	tg_ha_status_line(m.ha, line, sizeof(line));
	if (strstr(line, "ha standby (no connection: ") != line || strstr(line, "port 1") == NULL) {
		print_error("status line: %s\n", line);
		fail();
	}
	tg_ha_free(m.ha);
	/* alone: active */
	assert_true(tg_ha_active(NULL));
	assert_true(tg_ha_role_known(NULL));
	assert_string_equal(tg_ha_role_name(NULL), "active");
	tg_ha_free(NULL);
	tg_config_free(cfg);
	sd_event_unref(ev);
}

static void test_not_configured(void **state)
{
	struct tg_error err = { { 0 } };
	struct tg_config *cfg = tg_config_load_string("daemon = { };\n", "/tmp/x.conf", NULL,
						      NULL, &err);
	sd_event *ev;

	(void)state;
	assert_non_null(cfg);
	assert_true(sd_event_new(&ev) >= 0);
	assert_null(tg_ha_new(cfg, ev, POLL_USEC, NULL, NULL, &err));
	assert_non_null(strstr(err.msg, "ha: not configured"));
	tg_config_free(cfg);
	sd_event_unref(ev);
}

static void test_password_file(void **state)
{
	char path[] = "/tmp/tgha-pw-XXXXXX", extra[128];
	struct tg_error err = { { 0 } };
	struct tg_config *cfg;
	sd_event *ev;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hunter2\n", 8), 8);
	close(fd);
	chmod(path, 0644);
	snprintf(extra, sizeof(extra), "password_file = \"%s\";", path);
	cfg = config("host=127.0.0.1 port=1 user=x dbname=y", extra);
	assert_true(sd_event_new(&ev) >= 0);
	assert_null(tg_ha_new(cfg, ev, POLL_USEC, NULL, NULL, &err));
	assert_non_null(strstr(err.msg, "ha: password_file"));
	assert_non_null(strstr(err.msg, "readable by everyone"));
	assert_null(strstr(err.msg, "hunter2"));
	unlink(path);
	tg_config_free(cfg);
	sd_event_unref(ev);
}

/* Terminates the session holding the lock; returns how many were. */
static long terminate_holder(void)
{
	char sql[256];
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;
	long n;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	snprintf(sql, sizeof(sql), "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
		 "WHERE locktype = 'advisory' AND objid = %d AND granted", LOCK);
	r = PQexec(c, sql);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	n = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return n;
}

static void test_failover(void **state)
{
	struct member m[3] = { { 0 } };
	struct tg_config *cfg;
	sd_event *ev;
	uint64_t took, start;
	int first, second;
	char line[256];

	(void)state;
	NEED_SERVER();
	cfg = config(conninfo, NULL);
	assert_true(sd_event_new(&ev) >= 0);
	join(&m[0], cfg, ev);
	join(&m[1], cfg, ev);
	join(&m[2], cfg, ev);

	/* one, and only one, takes the lock */
	run_until(ev, one_active, m, 3, 5000000);
	assert_int_equal(n_active(m, 3), 1);
	spin(ev, 3 * POLL_USEC / 1000);           /* the others keep trying and keep failing */
	assert_int_equal(n_active(m, 3), 1);
	consistent(m, 3);
	first = which_active(m, 3);
	assert_int_equal(m[first].changes, 1);
	assert_string_equal(tg_ha_role_name(m[first].ha), "active");
	snprintf(line, sizeof(line), "ha active (lock %d)", LOCK);
	assert_string_equal(tg_ha_status_line(m[first].ha, line, sizeof(line)), line);
	tg_ha_status_line(m[(first + 1) % 3].ha, line, sizeof(line));
	assert_non_null(strstr(line, "held by another session"));
	for (int i = 0; i < 3; i++)               /* the holder, and two that were told */
		assert_true(tg_ha_role_known(m[i].ha));

	/* its session is killed: it steps down as soon as the server says so
	 * (one loop turn; a standby may take the lock in the same turn), and
	 * another takes over within one poll interval */
	assert_int_equal(terminate_holder(), 1);
	start = now_usec();
	while (tg_ha_active(m[first].ha) && now_usec() - start < 2000000)
		assert_true(sd_event_run(ev, 10000) >= 0);
	assert_false(tg_ha_active(m[first].ha));
	assert_false(tg_ha_role_known(m[first].ha));   /* its session is gone */
	assert_true(now_usec() - start < 500000);
	assert_int_equal(m[first].changes, 2);
	while (!one_active(m, 3) && now_usec() - start < 5000000)
		assert_true(sd_event_run(ev, 10000) >= 0);
	took = now_usec() - start;
	second = which_active(m, 3);
	assert_true(second >= 0 && second != first);
	if (took > POLL_USEC + 200000) {
		print_error("takeover after %llu us (poll %llu us)\n", (unsigned long long)took,
			    (unsigned long long)POLL_USEC);
		fail();
	}
	consistent(m, 3);
	/* the one killed comes back, as standby */
	for (int i = 0; i < 100; i++) {
		tg_ha_status_line(m[first].ha, line, sizeof(line));
		if (strstr(line, "held by another session") != NULL)
			break;
		spin(ev, 50);
	}
	if (strstr(line, "ha standby (lock 4243 held by another session)") == NULL) {
		print_error("status line: %s\n", line);
		fail();
	}
	assert_int_equal(n_active(m, 3), 1);

	/* the new active one stops (tg_ha_free): the lock goes at once */
	tg_ha_free(m[second].ha);
	m[second].ha = NULL;
	took = run_until(ev, one_active, m, 3, 5000000);
	assert_int_equal(n_active(m, 3), 1);
	assert_true(took <= POLL_USEC + 200000);
	consistent(m, 3);

	/* the server goes away: nobody may stay active */
	assert_int_equal(pg_ctl("stop"), 0);
	run_until(ev, none_active, m, 3, 3000000);
	assert_int_equal(n_active(m, 3), 0);
	consistent(m, 3);
	assert_int_equal(pg_ctl("start"), 0);
	run_until(ev, one_active, m, 3, 10000000);
	assert_int_equal(n_active(m, 3), 1);
	spin(ev, 2 * POLL_USEC / 1000);
	assert_int_equal(n_active(m, 3), 1);
	consistent(m, 3);

	for (int i = 0; i < 3; i++)
		tg_ha_free(m[i].ha);
	tg_config_free(cfg);
	sd_event_unref(ev);
}

static bool status_says(struct member *m, size_t n)
{
	char line[512];

	for (size_t i = 0; i < n; i++)
		if (strstr(tg_ha_status_line(m[i].ha, line, sizeof(line)), "in recovery") == NULL)
			return false;
	return true;
}

/* A server in recovery (a replica) grants advisory locks of its own: a
 * daemon that reaches one (a multi-host conninfo, a name moved by a
 * failover) must not be active there beside the one on the primary, nor
 * take its role as known.  The cluster is restarted as a standby
 * (standby.signal), then promoted. */
static void test_replica(void **state)
{
	struct member m[2] = { { 0 } };
	struct tg_config *cfg;
	char path[128], line[512];
	sd_event *ev;
	FILE *f;

	(void)state;
	NEED_SERVER();
	cfg = config(conninfo, NULL);
	assert_true(sd_event_new(&ev) >= 0);
	join(&m[0], cfg, ev);
	run_until(ev, one_active, m, 1, 5000000);
	assert_true(tg_ha_active(m[0].ha));

	assert_int_equal(pg_ctl("stop"), 0);
	snprintf(path, sizeof(path), "%s/data/standby.signal", cluster_dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(pg_ctl("start"), 0);
	join(&m[1], cfg, ev);
	/* both reach the server again, and neither is active nor known */
	run_until(ev, status_says, m, 2, 10000000);
	for (int i = 0; i < 2; i++) {
		tg_ha_status_line(m[i].ha, line, sizeof(line));
		if (strstr(line, "in recovery") == NULL || strstr(line, "target_session_attrs") == NULL) {
			print_error("member %d: %s\n", i, line);
			fail();
		}
	}
	spin(ev, 3 * POLL_USEC / 1000);
	assert_int_equal(n_active(m, 2), 0);
	assert_false(tg_ha_role_known(m[0].ha));
	assert_false(tg_ha_role_known(m[1].ha));
	consistent(m, 2);

	/* promoted: one of them takes the lock */
	assert_int_equal(pg_ctl("promote"), 0);
	run_until(ev, one_active, m, 2, 20000000);
	assert_int_equal(n_active(m, 2), 1);
	consistent(m, 2);
	for (int i = 0; i < 2; i++)
		tg_ha_free(m[i].ha);
	tg_config_free(cfg);
	sd_event_unref(ev);
}

/* ------------------------------------------------------------------ */

static int cluster_start(void **state)
{
	char cmd[512];
	FILE *p;

	(void)state;
	tg_log_init("test_ha", 0);
	conninfo[0] = '\0';
	if ((p = popen("pg_config --bindir 2>/dev/null", "r")) != NULL) {
		if (fgets(pgbin, sizeof(pgbin), p) == NULL)
			pgbin[0] = '\0';
		pgbin[strcspn(pgbin, "\n")] = '\0';
		pclose(p);
	}
	if (pgbin[0] == '\0')
		snprintf(pgbin, sizeof(pgbin), "/usr/lib/postgresql/15/bin");
	snprintf(cmd, sizeof(cmd), "%s/initdb", pgbin);
	if (access(cmd, X_OK) != 0)
		return 0;
	snprintf(cluster_dir, sizeof(cluster_dir), "/tmp/tgpgh.XXXXXX");
	if (mkdtemp(cluster_dir) == NULL)
		return 0;
	snprintf(cmd, sizeof(cmd), "PGBIN='%s' sh '%s/../pg_cluster.sh' start '%s' 2>/dev/null",
		 pgbin, TG_TEST_DATA, cluster_dir);
	if ((p = popen(cmd, "r")) == NULL)
		return 0;
	if (fgets(conninfo, sizeof(conninfo), p) == NULL)
		conninfo[0] = '\0';
	conninfo[strcspn(conninfo, "\n")] = '\0';
	if (pclose(p) != 0)
		conninfo[0] = '\0';
	return 0;
}

static int cluster_stop(void **state)
{
	char cmd[512];

	(void)state;
	if (cluster_dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "PGBIN='%s' sh '%s/../pg_cluster.sh' stop '%s'", pgbin,
			 TG_TEST_DATA, cluster_dir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_not_configured),
		cmocka_unit_test(test_password_file),
		cmocka_unit_test(test_failover),
		cmocka_unit_test(test_replica),
	};

	return cmocka_run_group_tests(tests, cluster_start, cluster_stop);
}
