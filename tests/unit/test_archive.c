/*
 * test_archive.c — the PostgreSQL archive and its spool.
 *
 * Without a server: spooling (files, counts, what counts as a change), the
 * spool surviving a new archive (a restart), the directory lock, hostile
 * text, errors.  With a throwaway cluster (tests/pg_cluster.sh, started in
 * the group setup; those tests are skipped when initdb is not installed),
 * each test in a database of its own: sql/schema.sql applied twice, a round
 * trip with exact row counts and no doubles after a restart, records
 * spooled while the server is stopped then written once when it is back, a
 * batch abandoned in flight, schema version mismatch and missing schema,
 * damaged spool files and rows the server refuses set aside in rejected/.
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
#include <dirent.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "archive.h"
#include "config.h"
#include "log.h"
#include "store.h"

#ifndef TG_TEST_DATA
#define TG_TEST_DATA "tests/data"
#endif

static char cluster_dir[64];
static char conninfo[256];     /* "" when no cluster could be started */
static char pgbin[256];

#define NEED_SERVER() do { if (conninfo[0] == '\0') skip(); } while (0)

struct fix {
	sd_event *ev;
	char state[64];
	char db[64];
	char ci[512];
	struct tg_config *cfg;
	struct tg_store *st;
	struct tg_archive *a;
};

/* ------------------------------------------------------------------ */
/* Helpers: the cluster */

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
	else
		snprintf(cmd, sizeof(cmd), "%s'%s/pg_ctl' -D '%s/data' -l '%s/server.log' -w -t 30 "
			 "start >/dev/null 2>&1", as_postgres(), pgbin, cluster_dir, cluster_dir);
	return system(cmd);
}

static char *ci_for(const char *db, char *buf, size_t size)
{
	const char *p = strstr(conninfo, "dbname=");

	assert_non_null(p);
	snprintf(buf, size, "%.*sdbname=%s", (int)(p - conninfo), conninfo, db);
	return buf;
}

/* Blocking libpq: only the test does this. */
static PGconn *db_connect(const char *db)
{
	char ci[512], full[600];
	PGconn *c;

	snprintf(full, sizeof(full), "%s options='-c client_min_messages=warning'",
		 ci_for(db, ci, sizeof(ci)));
	c = PQconnectdb(full);

	if (PQstatus(c) != CONNECTION_OK) {
		print_error("connect %s: %s\n", db, PQerrorMessage(c));
		fail();
	}
	return c;
}

static void db_exec(const char *db, const char *sql)
{
	PGconn *c = db_connect(db);
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		print_error("%s: %s\n", sql, PQerrorMessage(c));
		fail();
	}
	PQclear(r);
	PQfinish(c);
}

static long db_count(const char *db, const char *sql)
{
	PGconn *c = db_connect(db);
	PGresult *r = PQexec(c, sql);
	long v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		print_error("%s: %s\n", sql, PQerrorMessage(c));
		fail();
	}
	v = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

static char *schema_sql(void)
{
	static char buf[64 * 1024];
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/../../sql/schema.sql", TG_TEST_DATA);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	assert_true(n > 0 && n < sizeof(buf) - 1);
	buf[n] = '\0';
	return buf;
}

/* A fresh database, with the schema unless bare. */
static void new_db(const char *db, bool bare)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
	db_exec("postgres", sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	db_exec("postgres", sql);
	if (!bare)
		db_exec(db, schema_sql());
}

/* ------------------------------------------------------------------ */
/* Helpers: the archive */

static const char CONF[] =
	"daemon = { state_dir = \"%s\"; };\n"
	"sources = ( %s );\n"
	"indicators = (\n"
	"  { id = \"A\"; name = \"Alfa\"; department = \"Ragioneria\"; unit = \"giorni\";\n"
	"    better = \"lower\"; target = 30.0; critical = 45.0; },\n"
	"  { id = \"B\"; name = \"Beta\"; department = \"URP\"; process = \"Reclami\";\n"
	"    better = \"range\"; min = 80.0; max = 95.0; } );\n"
	"archive = { conninfo = \"%s\"; %s };\n";

static const char CSV_SOURCE[] = "{ name = \"csv\"; type = \"csv\"; path = \"/srv/kpi/*.csv\"; }";

/* sources: the configuration's list (the one CSV_SOURCE when NULL) */
static struct fix *fix_new_sources(const char *db, const char *ci, const char *extra,
				   const char *sources)
{
	struct fix *f = calloc(1, sizeof(*f));
	char conf[2048];
	struct tg_error err;

	assert_non_null(f);
	assert_true(sd_event_new(&f->ev) >= 0);
	snprintf(f->state, sizeof(f->state), "/tmp/tga-state.XXXXXX");
	assert_non_null(mkdtemp(f->state));
	snprintf(f->db, sizeof(f->db), "%s", db != NULL ? db : "");
	if (ci != NULL)
		snprintf(f->ci, sizeof(f->ci), "%s", ci);
	else
		ci_for(db, f->ci, sizeof(f->ci));
	snprintf(conf, sizeof(conf), CONF, f->state, sources != NULL ? sources : CSV_SOURCE, f->ci,
		 extra != NULL ? extra : "");
	f->cfg = tg_config_load_string(conf, "/tmp/archive-test.conf", NULL, NULL, &err);
	if (f->cfg == NULL)
		print_error("config: %s\n", err.msg);
	assert_non_null(f->cfg);
	assert_non_null(f->st = tg_store_new());
	return f;
}

static struct fix *fix_new(const char *db, const char *ci, const char *extra)
{
	return fix_new_sources(db, ci, extra, NULL);
}

static struct tg_archive *open_archive(struct fix *f)
{
	struct tg_error err = { { 0 } };
	struct tg_archive *a = tg_archive_new(f->cfg, f->ev, &err);

	if (a == NULL)
		print_error("tg_archive_new: %s\n", err.msg);
	assert_non_null(a);
	tg_archive_set_backoff(a, 50000, 200000);
	return a;
}

static void fix_free(struct fix *f)
{
	char cmd[128];

	tg_archive_free(f->a);
	tg_store_free(f->st);
	tg_config_free(f->cfg);
	sd_event_unref(f->ev);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->state);
	assert_int_equal(system(cmd), 0);
	free(f);
}

static void put(struct fix *f, const char *id, int y, int m, double v, int64_t loaded)
{
	struct tg_error err;

	assert_true(tg_store_put(f->st, id, strlen(id), tg_day_from_ymd(y, m, 1), v, "csv",
				 loaded, &err) >= 0);
}

/* Turns the loop until the spool is empty (or 15 s). */
static void drain(struct fix *f)
{
	for (int i = 0; i < 300 && (tg_archive_pending(f->a) > 0 || tg_archive_busy(f->a)); i++)
		assert_true(sd_event_run(f->ev, 50000) >= 0);
	if (tg_archive_pending(f->a) > 0) {
		char line[512];

		print_error("not drained: %s\n", tg_archive_status_line(f->a, line, sizeof(line)));
		fail();
	}
}

static void spin(struct fix *f, int ms)
{
	for (int i = 0; i < ms / 10; i++)
		assert_true(sd_event_run(f->ev, 10000) >= 0);
}

static size_t count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l > strlen(suffix) && strcmp(e->d_name + l - strlen(suffix), suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static struct tg_eval_result result(enum tg_status st, bool has, int y, int m, double v)
{
	struct tg_eval_result r = { 0 };

	r.status = st;
	r.has_value = has;
	r.period = has ? tg_day_from_ymd(y, m, 1) : 0;
	r.value = v;
	snprintf(r.reason, sizeof(r.reason), "%g: reason", v);
	return r;
}

static const char *const TO[] = { "ragioneria@comune.example", "qualita@comune.example" };
static const char *const EVENTS[] = { "ev-1", "ev-2", "ev-3" };

static struct tg_archive_note note(const char *id, enum tg_archive_note_status s, int attempts)
{
	struct tg_archive_note n = {
		.message_id = id, .channel = "posta", .recipients = TO, .n_recipients = 2,
		.events = EVENTS, .n_events = 3, .subject = "[traguardo] 2 indicatori critici",
		.status = s, .attempts = attempts, .reply = s == TG_ARCHIVE_DELIVERED ? "250 2.0.0 Ok" : NULL,
		.at = 1790000000 + attempts,
	};
	return n;
}

/* 3 points, 2 evaluations, 2 notification changes: 7 records. */
static void spool_basic(struct fix *f)
{
	struct tg_error err = { { 0 } };
	struct tg_eval_result res[2] = {
		result(TG_STATUS_WARNING, true, 2026, 10, 38.5),
		result(TG_STATUS_UNKNOWN, false, 0, 0, 0),
	};
	struct tg_archive_note n1 = note("0123456789abcdef0123456789abcdef", TG_ARCHIVE_SPOOLED, 0);
	struct tg_archive_note n2 = note("0123456789abcdef0123456789abcdef", TG_ARCHIVE_DELIVERED, 1);

	put(f, "A", 2026, 9, 28.25, 1789000000);
	put(f, "A", 2026, 10, 38.5, 1789000100);
	put(f, "B", 2026, 10, 1e-300, 1789000200);
	put(f, "UNCONFIGURED", 2026, 10, 1, 1789000200);    /* not archived */
	assert_int_equal(tg_archive_measurements(f->a, f->cfg, f->st, 1790000000, &err), 3);
	assert_int_equal(tg_archive_evaluations(f->a, f->cfg, res,
						(tg_time)tg_day_from_ymd(2026, 11, 20) * 86400 + 9 * 3600,
						1790000000, &err), 2);
	assert_int_equal(tg_archive_notification(f->a, &n1, &err), 1);
	assert_int_equal(tg_archive_notification(f->a, &n2, &err), 1);
}

/* ------------------------------------------------------------------ */
/* Without a server */

static void test_not_configured(void **state)
{
	struct tg_error err = { { 0 } };
	struct tg_config *cfg = tg_config_load_string("daemon = { state_dir = \"/tmp\"; };\n",
						      "/tmp/x.conf", NULL, NULL, &err);
	sd_event *ev;

	(void)state;
	assert_non_null(cfg);
	assert_true(sd_event_new(&ev) >= 0);
	assert_null(tg_archive_new(cfg, ev, &err));
	assert_non_null(strstr(err.msg, "not configured"));
	tg_archive_free(NULL);
	assert_int_equal(tg_archive_pending(NULL), 0);
	tg_config_free(cfg);
	sd_event_unref(ev);
}

/* What counts as new or changed, and the spool on disk. */
/* A feed's URL is the provenance of its values, as people may see it: a
 * token in its query stays out of the spool (and of the database). */
static void test_provenance_redacted(void **state)
{
	struct fix *f = fix_new_sources(NULL, "host=127.0.0.1 port=1 user=x dbname=y", NULL,
					"{ name = \"feed\"; type = \"http\"; url = "
					"\"https://dati.comune.example/kpi.csv?access_token=TOK2&anno=2026\"; }");
	struct tg_error err = { { 0 } };
	char dir[128], path[300], text[4096];
	FILE *fp;
	size_t n;

	(void)state;
	f->a = open_archive(f);
	assert_true(tg_store_put(f->st, "A", 1, tg_day_from_ymd(2026, 10, 1), 38.5, "feed",
				 1789000000, &err) >= 0);
	assert_int_equal(tg_archive_measurements(f->a, f->cfg, f->st, 1790000000, &err), 1);
	snprintf(dir, sizeof(dir), "%s/archive", f->state);
	assert_int_equal(count_files(dir, ".jsonl"), 1);
	snprintf(path, sizeof(path), "%s/%020u.jsonl", dir, 1u);
	assert_non_null(fp = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	assert_non_null(strstr(text, "\"provenance\":\"https://dati.comune.example/kpi.csv?"
				     "access_token=***&anno=2026\""));
	assert_null(strstr(text, "TOK2"));
	fix_free(f);
}

/* A daemon that becomes active again (ha) forgets what it spooled: the
 * other daemon may have archived other states meanwhile. */
static void test_forget(void **state)
{
	struct fix *f = fix_new(NULL, "host=127.0.0.1 port=1 user=x dbname=y", NULL);
	struct tg_error err = { { 0 } };
	struct tg_eval_result res[2];

	(void)state;
	f->a = open_archive(f);
	spool_basic(f);
	assert_int_equal(tg_archive_measurements(f->a, f->cfg, f->st, 1790000000, &err), 0);
	res[0] = result(TG_STATUS_WARNING, true, 2026, 10, 38.5);
	res[1] = result(TG_STATUS_UNKNOWN, false, 0, 0, 0);
	assert_int_equal(tg_archive_evaluations(f->a, f->cfg, res, 0, 1790000600, &err), 0);
	tg_archive_forget(f->a);
	assert_int_equal(tg_archive_measurements(f->a, f->cfg, f->st, 1790000000, &err), 3);
	assert_int_equal(tg_archive_evaluations(f->a, f->cfg, res, 0, 1790000600, &err), 2);
	tg_archive_forget(NULL);
	fix_free(f);
}

static void test_spool_offline(void **state)
{
	struct fix *f = fix_new(NULL, "host=127.0.0.1 port=1 user=x dbname=y", NULL);
	struct tg_error err = { { 0 } };
	struct tg_eval_result res[2];
	char dir[128], line[512], leftover[256];
	struct tg_archive *b;
	FILE *fp;

	(void)state;
	f->a = open_archive(f);
	spool_basic(f);
	assert_int_equal(tg_archive_pending(f->a), 7);
	snprintf(dir, sizeof(dir), "%s/archive", f->state);
	assert_int_equal(count_files(dir, ".jsonl"), 4);     /* one file per call */

	/* nothing new: nothing spooled */
	assert_int_equal(tg_archive_measurements(f->a, f->cfg, f->st, 1790000000, &err), 0);
	res[0] = result(TG_STATUS_WARNING, true, 2026, 10, 38.5);
	res[1] = result(TG_STATUS_UNKNOWN, false, 0, 0, 0);
	assert_int_equal(tg_archive_evaluations(f->a, f->cfg, res, 0, 1790000600, &err), 0);
	/* a changed value, a new period; a new value for the evaluation, then a new status */
	put(f, "A", 2026, 10, 39, 1789000300);
	put(f, "A", 2026, 11, 20, 1789000300);
	assert_int_equal(tg_archive_measurements(f->a, f->cfg, f->st, 1790000000, &err), 2);
	res[0].value = 39;
	assert_int_equal(tg_archive_evaluations(f->a, f->cfg, res, 0, 1790000600, &err), 1);
	res[1].status = TG_STATUS_LATE;
	assert_int_equal(tg_archive_evaluations(f->a, f->cfg, res, 0, 1790000700, &err), 1);
	assert_int_equal(tg_archive_pending(f->a), 11);

	/* the spool is the truth: a second archive on it is refused, a new one finds it all */
	assert_null(b = tg_archive_new(f->cfg, f->ev, &err));
	assert_non_null(strstr(err.msg, "in use by another traguardo"));
	tg_archive_free(f->a);
	snprintf(leftover, sizeof(leftover), "%s/00000000000000000099.jsonl.tmp-abcdef", dir);
	assert_non_null(fp = fopen(leftover, "w"));
	fputs("{\"kind\":\"garbage\"", fp);
	fclose(fp);
	f->a = open_archive(f);
	assert_int_equal(tg_archive_pending(f->a), 11);
	assert_int_equal(access(leftover, F_OK), -1);       /* a crash's temporary: removed */
	/* and forgot what it spooled: everything is offered again (the server skips it) */
	assert_int_equal(tg_archive_measurements(f->a, f->cfg, f->st, 1790000000, &err), 4);
	assert_int_equal(tg_archive_pending(f->a), 15);

	spin(f, 100);
	assert_false(tg_archive_connected(f->a));
	tg_archive_status_line(f->a, line, sizeof(line));
	if (strstr(line, "archive disconnected (") != line || strstr(line, "15 waiting") == NULL) {
		print_error("status line: %s\n", line);
		fail();
	}
	fix_free(f);
}

static void test_bad_calls(void **state)
{
	struct fix *f = fix_new(NULL, "host=127.0.0.1 port=1 user=x dbname=y", NULL);
	struct tg_error err = { { 0 } };
	struct tg_archive_note n = note("x", TG_ARCHIVE_RETRY, 2);
	struct tg_eval_result res[2] = { result(TG_STATUS_OK, false, 0, 0, 0),
					 result(TG_STATUS_OK, false, 0, 0, 0) };
	char big[9000], bad[] = "caf\xe9 \xff\xfe ok";
	const char *to[] = { bad, NULL };

	(void)state;
	f->a = open_archive(f);
	n.message_id = "";
	assert_int_equal(tg_archive_notification(f->a, &n, &err), -EINVAL);
	n.message_id = "x";
	n.channel = NULL;
	assert_int_equal(tg_archive_notification(f->a, &n, &err), -EINVAL);
	n.channel = "c";
	n.attempts = -1;
	assert_int_equal(tg_archive_notification(f->a, &n, &err), -EINVAL);
	n.attempts = 0;
	n.status = (enum tg_archive_note_status)7;
	assert_int_equal(tg_archive_notification(f->a, &n, &err), -EINVAL);
	n.status = TG_ARCHIVE_FAILED;
	assert_int_equal(tg_archive_evaluations(f->a, f->cfg, res, 0, -5, &err), -EINVAL);
	assert_int_equal(tg_archive_evaluations(f->a, f->cfg, res, INT64_MAX / 2, 0, &err), -EINVAL);
	assert_int_equal(tg_archive_pending(f->a), 0);
	/* hostile text is cleaned, not refused; NULL entries are skipped */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n.subject = big;
	n.reply = bad;
	n.recipients = to;
	n.n_recipients = 2;
	assert_int_equal(tg_archive_notification(f->a, &n, &err), 1);
	assert_int_equal(tg_archive_pending(f->a), 1);
	fix_free(f);
}

static void test_password_file(void **state)
{
	char path[] = "/tmp/tga-pw-XXXXXX", extra[128];
	struct tg_error err = { { 0 } };
	struct fix *f;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret\n", 7), 7);
	close(fd);
	chmod(path, 0644);
	snprintf(extra, sizeof(extra), "password_file = \"%s\";", path);
	f = fix_new(NULL, "host=127.0.0.1 port=1 user=x dbname=y", extra);
	assert_null(tg_archive_new(f->cfg, f->ev, &err));
	assert_non_null(strstr(err.msg, "archive"));
	assert_non_null(strstr(err.msg, "readable by everyone"));
	assert_null(strstr(err.msg, "secret"));
	chmod(path, 0600);
	f->a = open_archive(f);
	unlink(path);
	fix_free(f);
}

/* ------------------------------------------------------------------ */
/* With a server */

static void test_schema_twice(void **state)
{
	(void)state;
	NEED_SERVER();
	new_db("tga_schema", false);
	db_exec("tga_schema", schema_sql());
	db_exec("tga_schema", schema_sql());
	assert_int_equal(db_count("tga_schema", "SELECT count(*) FROM traguardo.schema_version"), 1);
	assert_int_equal(db_count("tga_schema", "SELECT version FROM traguardo.schema_version"),
			 TG_ARCHIVE_SCHEMA_VERSION);
	assert_int_equal(db_count("tga_schema", "SELECT count(*) FROM information_schema.views "
				  "WHERE table_schema = 'traguardo' AND table_name IN "
				  "('latest_status', 'monthly_report')"), 2);
	/* a newer database is refused, and left as it was */
	db_exec("tga_schema", "UPDATE traguardo.schema_version SET version = 99");
	{
		PGconn *c = db_connect("tga_schema");
		PGresult *r = PQexec(c, schema_sql());

		assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
		assert_non_null(strstr(PQerrorMessage(c), "newer than this schema.sql"));
		PQclear(r);
		PQfinish(c);
	}
	assert_int_equal(db_count("tga_schema", "SELECT version FROM traguardo.schema_version"), 99);
}

static void test_round_trip(void **state)
{
	struct fix *f;
	struct tg_error err = { { 0 } };
	struct tg_eval_result res[2];
	struct tg_archive_stats s;

	(void)state;
	NEED_SERVER();
	new_db("tga_trip", false);
	f = fix_new("tga_trip", NULL, NULL);
	f->a = open_archive(f);
	spool_basic(f);
	drain(f);
	assert_true(tg_archive_connected(f->a));
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.measurements"), 3);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.evaluations"), 2);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.notifications"), 2);
	tg_archive_stats(f->a, &s);
	assert_int_equal(s.written, 7);
	assert_int_equal(s.duplicates, 0);
	assert_int_equal(s.files, 0);
	/* values arrive exactly, with their provenance */
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.measurements WHERE "
				  "indicator = 'B' AND value = 1e-300 AND period = '2026-10-01' AND "
				  "source = 'csv' AND provenance = '/srv/kpi/*.csv' AND "
				  "loaded_at = to_timestamp(1789000200)"), 1);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.evaluations WHERE "
				  "indicator = 'A' AND status = 'warning' AND value = 38.5 AND "
				  "target = 30 AND critical = 45 AND min IS NULL AND better = 'lower' AND "
				  "name = 'Alfa' AND unit = 'giorni' AND as_of = '2026-11-20 09:00'"), 1);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.evaluations WHERE "
				  "indicator = 'B' AND status = 'unknown' AND value IS NULL AND "
				  "period IS NULL AND min = 80 AND max = 95 AND target IS NULL"), 1);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.notifications WHERE "
				  "status = 'delivered' AND delivered_at = to_timestamp(1790000001) AND "
				  "recipients = ARRAY['ragioneria@comune.example', 'qualita@comune.example'] "
				  "AND events[3] = 'ev-3' AND reply = '250 2.0.0 Ok'"), 1);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.latest_status"), 2);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.monthly_report "
				  "WHERE month = date_trunc('month', now())"), 2);

	/* a restart offers everything again: not one row more */
	tg_archive_free(f->a);
	f->a = open_archive(f);
	spool_basic(f);
	drain(f);
	tg_archive_stats(f->a, &s);
	assert_int_equal(s.written, 0);
	assert_int_equal(s.duplicates, 7);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.measurements"), 3);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.evaluations"), 2);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.notifications"), 2);

	/* changes are rows: A 38.5 -> 40 -> 38.5 is three rows for that period */
	put(f, "A", 2026, 10, 40, 1789000400);
	assert_int_equal(tg_archive_measurements(f->a, f->cfg, f->st, 0, &err), 1);
	put(f, "A", 2026, 10, 38.5, 1789000500);
	assert_int_equal(tg_archive_measurements(f->a, f->cfg, f->st, 0, &err), 1);
	res[0] = result(TG_STATUS_CRITICAL, true, 2026, 10, 46);
	res[1] = result(TG_STATUS_UNKNOWN, false, 0, 0, 0);
	assert_int_equal(tg_archive_evaluations(f->a, f->cfg, res, 0, 1790000900, &err), 1);
	drain(f);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.measurements "
				  "WHERE indicator = 'A' AND period = '2026-10-01'"), 3);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.evaluations"), 3);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.latest_status "
				  "WHERE indicator = 'A' AND status = 'critical'"), 1);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.monthly_report "
				  "WHERE indicator = 'A' AND worst_status = 'critical' AND status_at_end = 'critical' "
				  "AND changes = 2 AND month = date_trunc('month', to_timestamp(1790000900))"), 1);

	/* back on target, archived by the daemon that took over (20 s after);
	 * then the old active's spool arrives with the same state seen 10 s
	 * before: one change, not two */
	res[0] = result(TG_STATUS_OK, true, 2026, 10, 20);
	assert_int_equal(tg_archive_evaluations(f->a, f->cfg, res, 0, 1790000920, &err), 1);
	drain(f);
	tg_archive_forget(f->a);
	tg_archive_free(f->a);
	f->a = open_archive(f);   /* another daemon: nothing known */
	assert_true(tg_archive_evaluations(f->a, f->cfg, res, 0, 1790000910, &err) >= 1);
	drain(f);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.evaluations "
				  "WHERE indicator = 'A' AND status = 'ok'"), 1);

	/* one batch of two: ok, then warning, both before that ok; the first
	 * is not "an earlier copy of the next row": the batch's warning
	 * comes between (dropping it wrote ok after critical... twice) */
	tg_archive_free(f->a);
	f->a = open_archive(f);
	res[0] = result(TG_STATUS_OK, true, 2026, 10, 20);
	assert_true(tg_archive_evaluations(f->a, f->cfg, res, 0, 1790000912, &err) >= 1);
	res[0] = result(TG_STATUS_WARNING, true, 2026, 10, 35);
	assert_true(tg_archive_evaluations(f->a, f->cfg, res, 0, 1790000915, &err) >= 1);
	drain(f);
	assert_int_equal(db_count("tga_trip", "SELECT count(*) FROM traguardo.evaluations "
				  "WHERE indicator = 'A' AND evaluated_at IN (to_timestamp(1790000912), "
				  "to_timestamp(1790000915))"), 2);
	fix_free(f);
}

/* Hostile text goes through cleaned. */
static void test_hostile_text(void **state)
{
	struct fix *f;
	struct tg_error err = { { 0 } };
	struct tg_archive_note n = note("hostile", TG_ARCHIVE_RETRY, 3);
	char big[9000], bad[] = "caf\xe9 \x01\"'\\ \xff ok";

	(void)state;
	NEED_SERVER();
	new_db("tga_hostile", false);
	f = fix_new("tga_hostile", NULL, NULL);
	f->a = open_archive(f);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n.subject = big;
	n.reply = bad;
	n.events = NULL;
	n.n_events = 5;                       /* ignored without a list */
	assert_int_equal(tg_archive_notification(f->a, &n, &err), 1);
	drain(f);
	assert_int_equal(db_count("tga_hostile", "SELECT octet_length(subject) FROM traguardo.notifications"), 4096);
	assert_int_equal(db_count("tga_hostile", "SELECT count(*) FROM traguardo.notifications WHERE "
				  "reply = E'caf\\uFFFD \\u0001\"''\\\\ \\uFFFD ok' AND events = '{}'"), 1);
	fix_free(f);
}

/* Records spooled while the server is stopped arrive once it is back. */
static void test_server_down(void **state)
{
	struct fix *f;
	struct tg_error err = { { 0 } };
	struct tg_eval_result res[2] = { result(TG_STATUS_OK, true, 2026, 9, 28),
					 result(TG_STATUS_LATE, false, 0, 0, 0) };
	char line[512];

	(void)state;
	NEED_SERVER();
	new_db("tga_down", false);
	f = fix_new("tga_down", NULL, NULL);
	f->a = open_archive(f);
	drain(f);
	assert_true(tg_archive_connected(f->a));
	assert_int_equal(pg_ctl("stop"), 0);
	spool_basic(f);
	assert_int_equal(tg_archive_evaluations(f->a, f->cfg, res, 0, 1790001000, &err), 2);
	spin(f, 500);
	assert_int_equal(tg_archive_pending(f->a), 9);
	assert_false(tg_archive_connected(f->a));
	tg_archive_status_line(f->a, line, sizeof(line));
	assert_non_null(strstr(line, "archive disconnected ("));
	assert_non_null(strstr(line, "9 waiting"));
	/* a restart while the server is away: the spool stays */
	tg_archive_free(f->a);
	f->a = open_archive(f);
	assert_int_equal(tg_archive_pending(f->a), 9);
	assert_int_equal(pg_ctl("start"), 0);
	drain(f);                              /* the backoff (<= 200 ms here) reconnects */
	assert_int_equal(db_count("tga_down", "SELECT count(*) FROM traguardo.measurements"), 3);
	assert_int_equal(db_count("tga_down", "SELECT count(*) FROM traguardo.evaluations"), 4);
	assert_int_equal(db_count("tga_down", "SELECT count(*) FROM traguardo.notifications"), 2);
	tg_archive_status_line(f->a, line, sizeof(line));
	assert_string_equal(line, "archive connected, 0 waiting");
	fix_free(f);
}

/* A batch abandoned in flight (its outcome unknown) is sent again: no double. */
static void test_abandoned_batch(void **state)
{
	struct fix *f;

	(void)state;
	NEED_SERVER();
	new_db("tga_abandon", false);
	f = fix_new("tga_abandon", NULL, NULL);
	f->a = open_archive(f);
	drain(f);
	for (int round = 0; round < 3; round++) {
		tg_archive_free(f->a);
		f->a = open_archive(f);
		for (int i = 0; i < 20 && !tg_archive_connected(f->a); i++)
			assert_true(sd_event_run(f->ev, 50000) >= 0);
		spool_basic(f);                /* the batch starts at once */
		assert_true(tg_archive_busy(f->a));
		assert_true(sd_event_run(f->ev, 0) >= 0);
	}
	tg_archive_free(f->a);
	f->a = open_archive(f);
	drain(f);
	assert_int_equal(db_count("tga_abandon", "SELECT count(*) FROM traguardo.measurements"), 3);
	assert_int_equal(db_count("tga_abandon", "SELECT count(*) FROM traguardo.evaluations"), 2);
	assert_int_equal(db_count("tga_abandon", "SELECT count(*) FROM traguardo.notifications"), 2);
	fix_free(f);
}

static void test_schema_mismatch(void **state)
{
	struct fix *f;
	char line[1024];

	(void)state;
	NEED_SERVER();
	new_db("tga_version", false);
	db_exec("tga_version", "UPDATE traguardo.schema_version SET version = 2");
	f = fix_new("tga_version", NULL, NULL);
	f->a = open_archive(f);
	spool_basic(f);
	spin(f, 400);
	assert_false(tg_archive_connected(f->a));
	assert_int_equal(tg_archive_pending(f->a), 7);
	tg_archive_status_line(f->a, line, sizeof(line));
	if (strstr(line, "schema version 2 but this traguardo needs version 1") == NULL ||
	    strstr(line, "sql/schema.sql") == NULL) {
		print_error("status line: %s\n", line);
		fail();
	}
	assert_int_equal(db_count("tga_version", "SELECT count(*) FROM traguardo.measurements"), 0);
	/* no schema at all */
	new_db("tga_bare", true);
	tg_archive_free(f->a);
	f->a = NULL;
	fix_free(f);
	f = fix_new("tga_bare", NULL, NULL);
	f->a = open_archive(f);
	spool_basic(f);
	spin(f, 400);
	tg_archive_status_line(f->a, line, sizeof(line));
	if (strstr(line, "has no traguardo schema (SQLSTATE 3F000") == NULL &&
	    strstr(line, "has no traguardo schema (SQLSTATE 42P01") == NULL) {
		print_error("status line: %s\n", line);
		fail();
	}
	/* the administrator applies the schema: the records go */
	db_exec("tga_bare", schema_sql());
	tg_archive_flush(f->a);
	drain(f);
	assert_int_equal(db_count("tga_bare", "SELECT count(*) FROM traguardo.measurements"), 3);
	fix_free(f);
}

static void write_spool(const struct fix *f, unsigned seq, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/archive/%020u.jsonl", f->state, seq);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

/* Spool files read back are hostile too: each bad one is set aside, the good ones go. */
static void test_spool_files(void **state)
{
#define NREC(id, extra) "{\"kind\":\"notification\",\"message_id\":\"" id "\",\"events\":[],"  \
	"\"channel\":\"c\",\"recipients\":[\"a@b\"],\"subject\":\"s\",\"status\":\"spooled\"," \
	"\"attempts\":0,\"reply\":null,\"at\":1790000000" extra "}"
	static const struct { const char *text; bool good; } cases[] = {
		{ NREC("ok-1", "") "\n", true },
		{ NREC("ok-2", "") "\n" NREC("ok-3", "") "\n", true },
		{ NREC("cut", ""), false },                                  /* no final newline */
		{ "", false },
		{ "\n", false },
		{ "{\"kind\":\"notification\"}\n", false },
		{ NREC("extra", ",\"x\":1") "\n", false },
		{ "[1,2]\n", false },
		{ "not json\n", false },
		{ "{\"kind\":\"nonsense\",\"a\":1}\n", false },
		{ "{\"kind\":\"measurement\",\"indicator\":\"A\",\"period\":\"2026-02-30\",\"value\":1,"
		  "\"source\":\"\",\"provenance\":\"\",\"loaded_at\":1}\n", false },
		{ "{\"kind\":\"measurement\",\"indicator\":\"A\",\"period\":\"2026-02-28\",\"value\":1,"
		  "\"source\":\"\",\"provenance\":\"\",\"loaded_at\":-1}\n", false },
		{ "{\"kind\":\"measurement\",\"indicator\":\"\",\"period\":\"2026-02-28\",\"value\":1,"
		  "\"source\":\"\",\"provenance\":\"\",\"loaded_at\":1}\n", false },
		{ "{\"kind\":\"measurement\",\"indicator\":\"A\",\"period\":\"2026-02-28\",\"value\":1e999,"
		  "\"source\":\"\",\"provenance\":\"\",\"loaded_at\":1}\n", false },
		{ "{\"kind\":\"measurement\",\"indicator\":\"A\",\"period\":\"2026-02-28\",\"value\":\"1\","
		  "\"source\":\"\",\"provenance\":\"\",\"loaded_at\":1}\n", false },
		{ "{\"kind\":\"measurement\",\"indicator\":\"A\\u0000\",\"period\":\"2026-02-28\",\"value\":1,"
		  "\"source\":\"\",\"provenance\":\"\",\"loaded_at\":1}\n", false },
		{ "{\"kind\":\"measurement\",\"indicator\":\"OK-M\",\"period\":\"2026-02-28\",\"value\":null,"
		  "\"source\":\"\",\"provenance\":\"\",\"loaded_at\":1}\n", true },
		{ NREC("dup", ",\"message_id\":\"x\"") "\n", false },     /* a key twice */
		{ "{\"kind\":\"notification\",\"message_id\":\"b\",\"events\":[],\"channel\":\"c\","
		  "\"recipients\":[],\"subject\":\"s\",\"status\":\"lost\",\"attempts\":0,"
		  "\"reply\":null,\"at\":1}\n", false },
		{ NREC("ok-4", "") "\n" "\xff\xfe\n", false },               /* one bad line spoils the file */
	};
	char dir[128];
	struct fix *f;
	size_t good = 0;

	(void)state;
	NEED_SERVER();
	new_db("tga_files", false);
	f = fix_new("tga_files", NULL, NULL);
	snprintf(dir, sizeof(dir), "%s/archive", f->state);
	assert_int_equal(mkdir(dir, 0750), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_spool(f, (unsigned)i + 1, cases[i].text);
		good += cases[i].good;
	}
	f->a = open_archive(f);
	drain(f);
	snprintf(dir, sizeof(dir), "%s/archive/rejected", f->state);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[256];
		bool rejected;

		snprintf(path, sizeof(path), "%s/%020zu.jsonl", dir, i + 1);
		rejected = access(path, F_OK) == 0;
		if (rejected == cases[i].good) {
			print_error("case %zu: %s\n", i, rejected ? "rejected" : "accepted");
			fail();
		}
	}
	assert_int_equal(count_files(dir, ".jsonl"), sizeof(cases) / sizeof(cases[0]) - good);
	assert_int_equal(db_count("tga_files", "SELECT count(*) FROM traguardo.notifications "
				  "WHERE message_id LIKE 'ok-%'"), 3);
	assert_int_equal(db_count("tga_files", "SELECT count(*) FROM traguardo.measurements "
				  "WHERE indicator = 'OK-M' AND value IS NULL"), 1);
	fix_free(f);
#undef NREC
}

/* Five notes, one file each, ids PREFIX0..4: the third on the channel the
 * constraint of test_refused_rows refuses. */
static void spool_five(struct fix *f, char prefix)
{
	struct tg_error err = { { 0 } };
	struct tg_archive_note n;

	for (int i = 0; i < 5; i++) {
		char id[16];

		snprintf(id, sizeof(id), "%c%d", prefix, i);
		n = note(id, TG_ARCHIVE_SPOOLED, 0);
		n.channel = i == 2 ? "vietato" : "posta";
		assert_int_equal(tg_archive_notification(f->a, &n, &err), 1);
	}
}

/* Rows the server refuses (a constraint added by the DBA) are found file by
 * file and set aside; the rest are written. */
static void test_refused_rows(void **state)
{
	struct fix *f;
	struct tg_error err = { { 0 } };
	struct tg_archive_stats s;
	char dir[128];

	(void)state;
	NEED_SERVER();
	new_db("tga_refused", false);
	db_exec("tga_refused", "ALTER TABLE traguardo.notifications ADD CHECK (channel <> 'vietato')");
	f = fix_new("tga_refused", "host=127.0.0.1 port=1 user=x dbname=y", NULL);
	f->a = open_archive(f);                /* offline: everything piles up */
	spool_five(f, 'm');
	tg_archive_free(f->a);
	tg_config_free(f->cfg);
	{
		char conf[2048], ci[512];

		snprintf(conf, sizeof(conf), CONF, f->state, CSV_SOURCE, ci_for("tga_refused", ci, sizeof(ci)), "");
		f->cfg = tg_config_load_string(conf, "/tmp/archive-test.conf", NULL, NULL, &err);
		assert_non_null(f->cfg);
	}
	f->a = open_archive(f);
	drain(f);
	assert_int_equal(db_count("tga_refused", "SELECT count(*) FROM traguardo.notifications"), 4);
	snprintf(dir, sizeof(dir), "%s/archive/rejected", f->state);
	assert_int_equal(count_files(dir, ".jsonl"), 1);
	tg_archive_stats(f->a, &s);
	assert_int_equal(s.rejected, 1);
	assert_int_equal(s.written, 4);

	/* a restart with the spool empty numbers its files from the start
	 * again: a refused one of an earlier number is kept beside, not
	 * overwritten */
	tg_archive_free(f->a);
	f->a = open_archive(f);
	spool_five(f, 'r');
	drain(f);
	assert_int_equal(db_count("tga_refused", "SELECT count(*) FROM traguardo.notifications"), 8);
	assert_int_equal(count_files(dir, ".jsonl"), 2);
	fix_free(f);
}

/* ------------------------------------------------------------------ */

static int cluster_start(void **state)
{
	char cmd[512];
	FILE *p;

	(void)state;
	tg_log_init("test_archive", 0);
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
	snprintf(cluster_dir, sizeof(cluster_dir), "/tmp/tgpga.XXXXXX");
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
		cmocka_unit_test(test_not_configured),
		cmocka_unit_test(test_provenance_redacted),
		cmocka_unit_test(test_forget),
		cmocka_unit_test(test_spool_offline),
		cmocka_unit_test(test_bad_calls),
		cmocka_unit_test(test_password_file),
		cmocka_unit_test(test_schema_twice),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_hostile_text),
		cmocka_unit_test(test_abandoned_batch),
		cmocka_unit_test(test_schema_mismatch),
		cmocka_unit_test(test_spool_files),
		cmocka_unit_test(test_refused_rows),
		cmocka_unit_test(test_server_down),
	};

	return cmocka_run_group_tests(tests, cluster_start, cluster_stop);
}
