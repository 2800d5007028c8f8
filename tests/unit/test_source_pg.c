/*
 * test_source_pg.c — PostgreSQL runs on the sd-event loop.
 *
 * Without a server: a password file readable by everyone refused before any
 * connection, a missing one, a server that is not there (the run fails
 * through done with libpq's message), cancelling a run in flight.  With a
 * throwaway cluster (tests/pg_cluster.sh, started in the group setup; the
 * tests that need it are skipped when initdb is not installed): rows into
 * the sink with NULLs and a bad row, $1 = today minus since, an error with
 * its SQLSTATE, and the column checks.  Real end-to-end cases (every period
 * type, statement_timeout, memory with 200k rows) are in
 * tests/integration/test_pg.sh.
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
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "source_pg.h"

#ifndef TG_TEST_DATA
#define TG_TEST_DATA "tests/data"
#endif

static char cluster_dir[64];
static char conninfo[256];     /* "" when no cluster could be started */

struct rec {
	char id[32];
	tg_day day;
	double value;
};

struct fix {
	sd_event *ev;
	struct tg_config *cfg;
	struct tg_source_stats stats;
	struct rec recs[16];
	size_t n_recs;
	char warns[8][TG_ERROR_MAX + 64];
	size_t n_warns;
	bool done;
	int rc;
	struct tg_error err;
};

static int measure(void *ctx, const struct tg_source *src, const char *id, size_t len,
		   const struct tg_date *date, double value, struct tg_error *err)
{
	struct fix *f = ctx;

	(void)src;
	if (len == 7 && memcmp(id, "UNKNOWN", 7) == 0)
		return TG_SINK_UNKNOWN;
	if (len == 6 && memcmp(id, "REFUSE", 6) == 0)
		return tg_error_set(err, "refused by the sink");
	if (f->n_recs < 16) {
		snprintf(f->recs[f->n_recs].id, sizeof(f->recs[0].id), "%.*s", (int)len, id);
		f->recs[f->n_recs].day = date->day;
		f->recs[f->n_recs].value = value;
		f->n_recs++;
	}
	return TG_SINK_ACCEPTED;
}

static void warn(void *ctx, const struct tg_source *src, const char *msg)
{
	struct fix *f = ctx;

	(void)src;
	if (f->n_warns < 8)
		snprintf(f->warns[f->n_warns++], sizeof(f->warns[0]), "%s", msg);
}

static void done(void *ctx, int rc, const struct tg_error *err)
{
	struct fix *f = ctx;

	f->done = true;
	f->rc = rc;
	if (err != NULL)
		f->err = *err;
}

static struct fix *fix_new(const char *conf)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct tg_error err;

	assert_non_null(f);
	assert_true(sd_event_new(&f->ev) >= 0);
	f->cfg = tg_config_load_string(conf, "/tmp/pg-test.conf", NULL, NULL, &err);
	if (f->cfg == NULL)
		print_error("config: %s\n", err.msg);
	assert_non_null(f->cfg);
	return f;
}

static void fix_free(struct fix *f)
{
	tg_config_free(f->cfg);
	sd_event_unref(f->ev);
	free(f);
}

static struct tg_source_pg_run *start(struct fix *f, tg_day today, struct tg_error *err)
{
	static struct tg_source_sink sink = { measure, warn, NULL };
	struct tg_source_pg_params p = {
		.event = f->ev, .cfg = f->cfg, .src = &f->cfg->sources[0], .sink = &sink,
		.stats = &f->stats, .today = today, .done = done, .ctx = f,
	};

	sink.ctx = f;
	return tg_source_pg_start(&p, err);
}

/* Turns the loop until done, under a 20 s bound. */
static void wait_done(struct fix *f)
{
	for (int i = 0; i < 400 && !f->done; i++)
		assert_true(sd_event_run(f->ev, 50000) >= 0);
	assert_true(f->done);
}

static char *conf_for(const char *ci, const char *query, const char *extra)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "sources = ( { name = \"pg\"; type = \"postgresql\"; conninfo = \"%s\";\n"
		 " query = \"%s\"; %s } );\n", ci, query, extra);
	return buf;
}

static void test_password_file_refused(void **state)
{
	char path[] = "/tmp/tg-pgpw-XXXXXX", extra[128];
	struct tg_error err = { { 0 } };
	struct fix *f;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret\n", 7), 7);
	close(fd);
	chmod(path, 0644);
	snprintf(extra, sizeof(extra), "password_file = \"%s\";", path);
	f = fix_new(conf_for("host=/nonexistent", "SELECT 1", extra));
	assert_null(start(f, 20000, &err));
	assert_non_null(strstr(err.msg, "source 'pg': password_file"));
	assert_non_null(strstr(err.msg, "readable by everyone: refused"));
	assert_null(strstr(err.msg, "secret\n"));
	assert_false(f->done);
	unlink(path);
	assert_null(start(f, 20000, &err));
	assert_non_null(strstr(err.msg, "No such file"));
	fix_free(f);
}

/* A missing unix socket fails inside PQconnectStartParams (no done); a
 * refused TCP connection fails on the loop (done). */
static void test_no_server(void **state)
{
	struct tg_error err = { { 0 } };
	struct fix *f = fix_new(conf_for("host=/nonexistent-dir port=5999 user=x dbname=y",
					  "SELECT 1", "timeout = \"5s\";"));

	(void)state;
	assert_null(start(f, 20000, &err));
	assert_non_null(strstr(err.msg, "connection failed: "));
	assert_non_null(strstr(err.msg, "/nonexistent-dir"));
	assert_null(strchr(err.msg, '\n'));
	assert_false(f->done);
	fix_free(f);

	f = fix_new(conf_for("host=127.0.0.1 port=1 user=x dbname=y", "SELECT 1", "timeout = \"5s\";"));
	assert_non_null(start(f, 20000, &err));
	wait_done(f);
	assert_true(f->rc < 0);
	assert_non_null(strstr(f->err.msg, "connection failed: "));
	assert_non_null(strstr(f->err.msg, "port 1 failed"));
	assert_null(strchr(f->err.msg, '\n'));
	fix_free(f);
}

static void test_cancel(void **state)
{
	struct tg_error err = { { 0 } };
	struct fix *f = fix_new(conf_for("host=127.0.0.1 port=1", "SELECT 1", ""));
	struct tg_source_pg_run *r;

	(void)state;
	assert_non_null(r = start(f, 20000, &err));
	tg_source_pg_cancel(r);
	tg_source_pg_cancel(NULL);
	for (int i = 0; i < 5; i++)
		assert_true(sd_event_run(f->ev, 1000) >= 0);
	assert_false(f->done);
	fix_free(f);
}

#define NEED_SERVER() do { if (conninfo[0] == '\0') skip(); } while (0)

static void test_rows(void **state)
{
	struct tg_error err = { { 0 } };
	struct fix *f;

	(void)state;
	NEED_SERVER();
	f = fix_new(conf_for(conninfo,
		"SELECT * FROM (VALUES ('A', DATE '2026-10-01', 1.5::numeric), (' B ', DATE '2026-10-02', NULL),"
		" ('A', NULL, 2), ('UNKNOWN', DATE '2026-10-01', 3), ('REFUSE', DATE '2026-10-01', 4),"
		" (NULL, DATE '2026-10-01', 5), ('C', DATE '2026-09-01', 1e300::float8)) t(a, b, c)", ""));
	assert_non_null(start(f, 20000, &err));
	wait_done(f);
	if (f->rc < 0)
		print_error("%s\n", f->err.msg);
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->stats.rows, 7);
	assert_int_equal(f->stats.measurements, 2);
	assert_int_equal(f->stats.missing, 1);
	assert_int_equal(f->stats.bad_rows, 3);
	assert_int_equal(f->stats.unknown_rows, 1);
	assert_string_equal(f->recs[0].id, "A");
	assert_true(f->recs[0].value == 1.5);
	assert_string_equal(f->recs[1].id, "C");
	assert_true(f->recs[1].value == 1e300);
	assert_string_equal(f->warns[0], "row 3: the period is NULL; row skipped");
	assert_string_equal(f->warns[1], "row 5: refused by the sink; row skipped");
	assert_string_equal(f->warns[2], "row 6: the indicator is NULL; row skipped");
	assert_non_null(strstr(f->warns[3], "UNKNOWN"));
	fix_free(f);
}

/* The date of the row before is remembered: repeated, alternating and
 * timestamp periods each land on their own day, bad ones stay bad. */
static void test_dates_remembered(void **state)
{
	static const int want[][3] = {
		{ 2026, 10, 1 }, { 2026, 10, 1 }, { 2026, 9, 1 }, { 2026, 10, 1 }, { 2026, 10, 1 },
		{ 2026, 10, 2 },
	};
	struct tg_error err = { { 0 } };
	struct fix *f;

	(void)state;
	NEED_SERVER();
	f = fix_new(conf_for(conninfo,
		"SELECT * FROM (VALUES ('A', TIMESTAMP '2026-10-01 10:00', 1), ('B', TIMESTAMP '2026-10-01 00:00', 2),"
		" ('C', TIMESTAMP '2026-09-01 23:59', 3), ('D', TIMESTAMP '2026-10-01 00:01', 4),"
		" ('E', TIMESTAMP 'infinity', 5), ('F', TIMESTAMP '2026-10-01 12:00', 6),"
		" ('G', TIMESTAMP '2026-10-02 00:00', 7)) t(a, b, c)", ""));
	assert_non_null(start(f, 20000, &err));
	wait_done(f);
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->stats.measurements, 6);
	assert_int_equal(f->stats.bad_rows, 1);
	assert_int_equal(f->n_recs, 6);
	for (size_t i = 0; i < 6; i++)
		if (f->recs[i].day != tg_day_from_ymd(want[i][0], want[i][1], want[i][2]))
			fail_msg("row of %s: day %d", f->recs[i].id, (int)f->recs[i].day);
	assert_non_null(strstr(f->warns[0], "row 5: period:"));
	fix_free(f);
}

static void test_since_parameter(void **state)
{
	struct tg_error err = { { 0 } };
	struct fix *f;

	(void)state;
	NEED_SERVER();
	/* today 2026-11-23 = day 20415; since 10d -> 2026-11-13 */
	f = fix_new(conf_for(conninfo, "SELECT 'X', $1::date, 1", "since = \"10d\";"));
	assert_non_null(start(f, 20415, &err));
	wait_done(f);
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->n_recs, 1);
	assert_int_equal(f->recs[0].day, 20405);
	fix_free(f);
}

static void test_errors(void **state)
{
	static const struct { const char *query; const char *msg; } cases[] = {
		{ "SELECT 'A', DATE '2026-01-01', 1/0", "query failed: SQLSTATE 22012: division by zero" },
		{ "SELEC 1", "query failed: SQLSTATE 42601: syntax error" },
		{ "SELECT 1, 2", "the query returns 2 columns" },
		{ "SELECT 'A', true, 1", "period column '?column?' has type OID 16" },
		{ "SELECT 'A', DATE '2026-01-01', true", "value column '?column?' has type OID 16" },
		{ "SET search_path = public", "the query returns no rows" },
		/* PQgetResult hands out COPY results forever: the run must end */
		{ "COPY (SELECT 1) TO STDOUT", "the query starts a COPY" },
		/* names and messages from the database are quoted */
		{ "SELECT 'A', true AS U&\\\"x\\\\001by\\\", 1", "period column 'x\\x1by' has type OID 16" },
		{ "SELECT 'A', DATE '2026-01-01', ('x' || chr(27) || 'y')::int",
		  "SQLSTATE 22P02: invalid input syntax for type integer: \"x\\x1By\"" },
	};

	(void)state;
	NEED_SERVER();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tg_error err = { { 0 } };
		struct fix *f = fix_new(conf_for(conninfo, cases[i].query, ""));

		assert_non_null(start(f, 20000, &err));
		wait_done(f);
		if (f->rc >= 0 || strstr(f->err.msg, cases[i].msg) == NULL ||
		    strchr(f->err.msg, 27) != NULL) {
			print_error("case %zu: got rc %d \"%s\", expected \"%s\"\n", i, f->rc,
				    f->err.msg, cases[i].msg);
			fail();
		}
		fix_free(f);
	}
}

/* The first host refuses: libpq closes its socket and opens one for the next
 * host, which gets the same descriptor number; the run must watch the new one. */
static void test_next_host(void **state)
{
	struct tg_error err = { { 0 } };
	char dir[128], ci[320];
	unsigned port;
	struct fix *f;

	(void)state;
	NEED_SERVER();
	assert_int_equal(sscanf(conninfo, "host=%127s port=%u", dir, &port), 2);
	snprintf(ci, sizeof(ci), "host=127.0.0.1,%s port=1,%u user=postgres dbname=postgres", dir, port);
	f = fix_new(conf_for(ci, "SELECT 'A', DATE '2026-03-01', 1", "timeout = \"10s\";"));
	assert_non_null(start(f, 20000, &err));
	wait_done(f);
	if (f->rc < 0)
		print_error("%s\n", f->err.msg);
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->stats.measurements, 1);
	fix_free(f);
}

/* A date BC, cut to its first 10 bytes, would pass for the same date AD. */
static void test_bc_date(void **state)
{
	struct tg_error err = { { 0 } };
	struct fix *f;

	(void)state;
	NEED_SERVER();
	f = fix_new(conf_for(conninfo,
		"SELECT * FROM (VALUES ('A', DATE '1500-03-01 BC', 1), ('B', DATE '2026-03-01', 2),"
		" ('C', TIMESTAMP '1500-03-01 10:00 BC', 3)) t(a, b, c)", ""));
	assert_non_null(start(f, 20000, &err));
	wait_done(f);
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->stats.rows, 3);
	assert_int_equal(f->stats.measurements, 1);
	assert_int_equal(f->stats.bad_rows, 2);
	assert_string_equal(f->recs[0].id, "B");
	assert_string_equal(f->warns[0], "row 1: period: a date before Christ; row skipped");
	assert_string_equal(f->warns[1], "row 3: period: a date before Christ; row skipped");
	fix_free(f);
}

static int cluster_start(void **state)
{
	char cmd[512];
	FILE *p;

	(void)state;
	conninfo[0] = '\0';
	if (access("/usr/lib/postgresql/15/bin/initdb", X_OK) != 0 &&
	    system("command -v pg_config >/dev/null 2>&1 && test -x \"$(pg_config --bindir)/initdb\"") != 0)
		return 0;
	snprintf(cluster_dir, sizeof(cluster_dir), "/tmp/tgpgu.XXXXXX");
	if (mkdtemp(cluster_dir) == NULL)
		return 0;
	snprintf(cmd, sizeof(cmd), "sh '%s/../pg_cluster.sh' start '%s' 2>/dev/null", TG_TEST_DATA,
		 cluster_dir);
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
		snprintf(cmd, sizeof(cmd), "sh '%s/../pg_cluster.sh' stop '%s'", TG_TEST_DATA,
			 cluster_dir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_file_refused),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_dates_remembered),
		cmocka_unit_test(test_since_parameter),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bc_date),
		cmocka_unit_test(test_next_host),
	};

	return cmocka_run_group_tests(tests, cluster_start, cluster_stop);
}
