/*
 * test_source_http.c — HTTP feed runs against tests/http_server.py on
 * loopback (one plain server for the whole group, started in the group setup
 * and killed in the group teardown even when a test fails).
 *
 * Covered: a 200 read into the sink; the 304 path with the validators kept
 * in memory and on disk; a 200 whose body is the one already read (SHA-256
 * skip); validators not used after a change of configuration, nor when the
 * cache holds a bad one, nor after a body that failed half-way; the cache
 * never written for a dry run, a damaged cache file, no token-bearing URL in
 * it; secrets refused when everyone may read or write them, sent otherwise;
 * cancelling a run in flight and during its retry wait; a 429 asking for
 * more than a minute; the messages of 401 and 404 (redacted URL).
 *
 * Each run turns the sd-event loop until its callback arrived, under a 15 s
 * safety bound that fails the test; nothing asserts on durations.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "engine.h"
#include "http.h"
#include "log.h"
#include "source_http.h"

#ifndef TG_TEST_DATA
#define TG_TEST_DATA "tests/data"
#endif

#define SERVER_SCRIPT TG_TEST_DATA "/../http_server.py"
#define SAFETY_MS     15000
#define TOKEN         "s3cr3t-t0ken-for-the-test"

static const char feed_a[] = "Codice;Mese;Valore\nA-1;01/10/2026;12,5\nA-2;01/10/2026;7\n";
static const char feed_j[] =
	"{ \"data\": [ { \"code\": \"A-1\", \"month\": \"2026-09\", \"value\": \"4,5\" } ] }";

static char dir[64];
static pid_t server_pid = -1;
static int port;
static char server_log[128];

/* ---- server (group setup / teardown), as in test_http.c ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int write_path(const char *path, const char *data, mode_t mode)
{
	FILE *f = fopen(path, "wb");
	size_t n, len = strlen(data);

	if (f == NULL)
		return -1;
	n = fwrite(data, 1, len, f);
	if (fclose(f) != 0 || n != len)
		return -1;
	return chmod(path, mode);
}

static int write_in(const char *sub, const char *data, mode_t mode)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	return write_path(path, data, mode);
}

static int start_server(void)
{
	char portfile[128], feeds[128], hooks[128], out[128];

	snprintf(portfile, sizeof(portfile), "%s/plain.port", dir);
	snprintf(feeds, sizeof(feeds), "%s/feeds", dir);
	snprintf(hooks, sizeof(hooks), "%s/hooks", dir);
	snprintf(out, sizeof(out), "%s/plain.out", dir);
	snprintf(server_log, sizeof(server_log), "%s/plain.log", dir);
	server_pid = fork();
	if (server_pid < 0)
		return -1;
	if (server_pid == 0) {
		/* a sanitizer abort skips the group teardown: die with the test */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() == 1)
			_exit(125);
		if (freopen(out, "w", stdout) == NULL || dup2(fileno(stdout), 2) < 0)
			_exit(126);
		execl("/usr/bin/python3", "python3", SERVER_SCRIPT, "--host", "127.0.0.1", "--port",
		      "0", "--port-file", portfile, "--feed-dir", feeds, "--hook-dir", hooks, "--log",
		      server_log, (char *)NULL);
		_exit(127);
	}
	/* readiness: the port file appears once the socket listens */
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(portfile, "r");
		int status;

		if (f != NULL) {
			int ok = fscanf(f, "%d", &port) == 1;

			fclose(f);
			if (ok && port > 0)
				return 0;
		}
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			fprintf(stderr, "http_server.py died: see %s\n", out);
			server_pid = -1;
			return -1;
		}
		sleep_ms(20);
	}
	return -1;
}

static void stop_server(void)
{
	int status;

	if (server_pid <= 0)
		return;
	kill(server_pid, SIGTERM);
	for (int i = 0; i < 250; i++) {
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			server_pid = -1;
			return;
		}
		sleep_ms(20);
	}
	kill(server_pid, SIGKILL);
	waitpid(server_pid, &status, 0);
	server_pid = -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	stop_server();
	if (dir[0] == '\0')
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
	char path[128];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	unsetenv("CREDENTIALS_DIRECTORY");   /* secrets relative to the config */
	tg_log_init("test_source_http", 0);
	snprintf(dir, sizeof(dir), "/tmp/tg-srchttp-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		return -1;
	}
	snprintf(path, sizeof(path), "%s/feeds", dir);
	if (mkdir(path, 0700) < 0 || write_in("feeds/a.csv", feed_a, 0644) < 0 ||
	    write_in("feeds/j.json", feed_j, 0644) < 0 || write_in("tok", TOKEN "\n", 0600) < 0 ||
	    start_server() < 0) {
		group_teardown(state);
		return -1;
	}
	return 0;
}

/* ---- the server's request log ---- */

/* Requests whose path contains marker; *last gets the last one (or NULL). */
static int logged(const char *marker, json_t **last)
{
	FILE *f = fopen(server_log, "r");
	char line[16384];
	int n = 0;

	if (last != NULL)
		*last = NULL;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *rec = json_loads(line, 0, NULL);
		const char *path = json_string_value(json_object_get(rec, "path"));

		if (path != NULL && strstr(path, marker) != NULL) {
			n++;
			if (last != NULL) {
				json_decref(*last);
				*last = json_incref(rec);
			}
		}
		json_decref(rec);
	}
	fclose(f);
	return n;
}

static const char *header_of(json_t *rec, const char *name)
{
	const char *key;
	json_t *v;

	json_object_foreach(json_object_get(rec, "headers"), key, v)
		if (strcasecmp(key, name) == 0)
			return json_string_value(v);
	return NULL;
}

/* Does the last request for marker carry header name? */
static bool last_has_header(const char *marker, const char *name)
{
	json_t *rec;
	bool has;

	assert_true(logged(marker, &rec) > 0);
	has = header_of(rec, name) != NULL;
	json_decref(rec);
	return has;
}

/* ---- configuration ---- */

static void report(void *ctx, const char *file, int line, const char *msg)
{
	(void)ctx;
	print_error("config: %s:%d: %s\n", file, line, msg);
}

static const char conf_text[] =
	"daemon = { state_dir = \"@D/state\"; language = \"en\"; };\n"
	"sources = (\n"
	"  { name = \"a\"; type = \"http\"; url = \"@U/feeds/a.csv\"; },\n"
	"  { name = \"tokq\"; type = \"http\"; url = \"@U/feeds/a.csv?token=abc123\"; },\n"
	"  { name = \"slow\"; type = \"http\"; url = \"@U/feeds/a.csv?_delay=3\"; retries = 0; },\n"
	"  { name = \"flaky\"; type = \"http\"; url = \"@U/feeds/a.csv?_status=503\"; retries = 3; },\n"
	"  { name = \"ra\"; type = \"http\"; url = \"@U/feeds/a.csv?_retryafter=120\"; retries = 3; },\n"
	"  { name = \"missing\"; type = \"http\"; url = \"@U/feeds/nothing.csv?token=abc123\"; },\n"
	"  { name = \"auth\"; type = \"http\"; url = \"@U/feeds/a.csv?_status=401\"; bearer_token_file = \"tok\"; },\n"
	"  { name = \"noauth\"; type = \"http\"; url = \"@U/feeds/a.csv?_status=403\"; },\n"
	"  { name = \"bearer\"; type = \"http\"; url = \"@U/feeds/a.csv?who=bearer\"; bearer_token_file = \"tok\"; },\n"
	"  { name = \"j\"; type = \"http\"; url = \"@U/feeds/j.json\"; format = \"json\";\n"
	"    json = { records = \"data\"; indicator = \"code\"; period = \"month\"; value = \"value\"; }; }\n"
	");\n"
	"indicators = (\n"
	"  { id = \"A-1\"; name = \"One\"; department = \"D\"; target = 10; },\n"
	"  { id = \"A-2\"; name = \"Two\"; department = \"D\"; target = 10; }@X\n"
	");\n";

enum { S_A, S_TOKQ, S_SLOW, S_FLAKY, S_RA, S_MISSING, S_AUTH, S_NOAUTH, S_BEARER, S_J };

/* The configuration with @D the test directory, @U the server's base URL and
 * @X an extra indicator when extra is true. */
static struct tg_config *load(bool extra)
{
	char buf[8192], cpath[128];
	size_t o = 0;
	struct tg_error err;
	struct tg_config *cfg;

	for (const char *p = conf_text; *p != '\0'; p++) {
		if (p[0] == '@' && p[1] == 'D') {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", dir);
			p++;
		} else if (p[0] == '@' && p[1] == 'U') {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "http://127.0.0.1:%d", port);
			p++;
		} else if (p[0] == '@' && p[1] == 'X') {
			if (extra)
				o += (size_t)snprintf(buf + o, sizeof(buf) - o,
						      ",\n  { id = \"A-3\"; name = \"Three\"; department = \"D\"; target = 1; }");
			p++;
		} else {
			buf[o++] = *p;
		}
		assert_true(o < sizeof(buf) - 1);
	}
	buf[o] = '\0';
	snprintf(cpath, sizeof(cpath), "%s/t.conf", dir);
	cfg = tg_config_load_string(buf, cpath, report, NULL, &err);
	if (cfg == NULL)
		fail_msg("config not valid: %s", err.msg);
	return cfg;
}

/* ---- a fixture: loop, engine, cache, sink ---- */

struct fx {
	sd_event *ev;
	struct tg_http *http;
	struct tg_config *cfg;
	struct tg_source_http_cache *cache;
	char state[128];
	struct tg_source_stats stats;
	struct tg_source_sink sink;
	/* what the sink saw */
	int measures, warns;
	double sum;
	/* what done said */
	int calls, rc;
	bool not_modified;
	char msg[TG_ERROR_MAX];
};

static int sink_measure(void *ctx, const struct tg_source *src, const char *id, size_t len,
			const struct tg_date *date, double value, struct tg_error *err)
{
	struct fx *f = ctx;

	(void)src;
	(void)date;
	(void)err;
	if (!((len == 3 && memcmp(id, "A-1", 3) == 0) || (len == 3 && memcmp(id, "A-2", 3) == 0)))
		return TG_SINK_UNKNOWN;
	f->measures++;
	f->sum += value;
	return TG_SINK_ACCEPTED;
}

static void sink_warn(void *ctx, const struct tg_source *src, const char *msg)
{
	struct fx *f = ctx;

	(void)src;
	(void)msg;
	f->warns++;
}

static void on_done(void *ctx, int rc, bool not_modified, const struct tg_error *err)
{
	struct fx *f = ctx;

	f->calls++;
	f->rc = rc;
	f->not_modified = not_modified;
	if (rc < 0) {
		assert_non_null(err);
		snprintf(f->msg, sizeof(f->msg), "%s", err->msg);
	} else {
		f->msg[0] = '\0';
	}
}

/* A cache on STATE_DIR (which is made empty first when fresh). */
static struct tg_source_http_cache *cache_load(struct fx *f, bool writable)
{
	struct tg_source_http_cache *c = tg_source_http_cache_load(f->state, writable);

	assert_non_null(c);
	return c;
}

static void fx_init(struct fx *f, bool extra, const char *state_name)
{
	struct tg_error err;
	char cmd[320];

	memset(f, 0, sizeof(*f));
	snprintf(f->state, sizeof(f->state), "%s/%s", dir, state_name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", f->state, f->state);
	assert_int_equal(system(cmd), 0);
	assert_true(sd_event_new(&f->ev) >= 0);
	f->http = tg_http_new(f->ev, NULL, &err);
	assert_non_null(f->http);
	f->cfg = load(extra);
	f->cache = cache_load(f, true);
	f->sink = (struct tg_source_sink){ sink_measure, sink_warn, f };
}

static void fx_free(struct fx *f)
{
	tg_source_http_cache_free(f->cache);
	tg_http_free(f->http);
	sd_event_unref(f->ev);
	tg_config_free(f->cfg);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Turns the loop for ms milliseconds, or until done was called (stop). */
static void turn(struct fx *f, int64_t ms, bool stop)
{
	int64_t end = mono_ms() + ms;

	while (mono_ms() < end && !(stop && f->calls > 0))
		assert_true(sd_event_run(f->ev, 50000) >= 0);
}

static struct tg_source_http_run *start(struct fx *f, int source, bool have_data,
					struct tg_error *err)
{
	struct tg_source_http_params p = {
		.event = f->ev,
		.http = f->http,
		.cache = f->cache,
		.cfg = f->cfg,
		.src = &f->cfg->sources[source],
		.sink = &f->sink,
		.stats = &f->stats,
		.have_data = have_data,
		.done = on_done,
		.ctx = f,
	};

	f->calls = 0;
	f->measures = 0;
	f->sum = 0;
	/* garbage from "the last run": the run must reset it */
	memset(&f->stats, 0x5a, sizeof(f->stats));
	return tg_source_http_start(&p, err);
}

/* One run to its end. */
static void run(struct fx *f, int source, bool have_data)
{
	struct tg_error err;

	if (start(f, source, have_data, &err) == NULL)
		fail_msg("start: %s", err.msg);
	turn(f, SAFETY_MS, true);
	assert_int_equal(f->calls, 1);
}

static char *read_text(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	size_t n;

	if (fp == NULL)
		return NULL;
	buf = calloc(1, 65536);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void cache_path(const struct fx *f, char *out, size_t size)
{
	snprintf(out, size, "%s/http-cache.json", f->state);
}

/* Edits the saved cache entry of a source, and reloads the cache from disk. */
static void edit_cache(struct fx *f, const char *source, const char *key, const char *value)
{
	struct tg_error err;
	char path[256];
	json_t *root, *e;

	assert_int_equal(tg_source_http_cache_save(f->cache, &err), 0);
	cache_path(f, path, sizeof(path));
	root = json_load_file(path, 0, NULL);
	assert_non_null(root);
	e = json_object_get(root, source);
	assert_non_null(e);
	if (value != NULL)
		assert_int_equal(json_object_set_new(e, key, json_string(value)), 0);
	else
		json_object_del(e, key);
	assert_int_equal(json_dump_file(root, path, 0), 0);
	json_decref(root);
	tg_source_http_cache_free(f->cache);
	f->cache = cache_load(f, true);
}

/* ---- tests ---- */

static void test_200_then_304(void **state)
{
	struct tg_error err;
	struct fx f;
	char path[256];
	char *text;

	(void)state;
	fx_init(&f, false, "s-304");
	run(&f, S_A, false);
	assert_int_equal(f.rc, 0);
	assert_false(f.not_modified);
	assert_int_equal(f.measures, 2);
	assert_true(f.sum > 19.49 && f.sum < 19.51);   /* 12,5 + 7 */
	assert_int_equal(f.stats.files, 1);
	assert_int_equal(f.stats.rows, 2);
	assert_int_equal(f.stats.measurements, 2);
	assert_false(last_has_header("/feeds/a.csv", "If-None-Match"));

	/* the store has the data: a conditional GET, answered 304 */
	run(&f, S_A, true);
	assert_int_equal(f.rc, 0);
	assert_true(f.not_modified);
	assert_int_equal(f.measures, 0);
	assert_int_equal(f.stats.files, 0);         /* reset: this run read nothing */
	assert_int_equal(f.stats.measurements, 0);
	assert_true(last_has_header("/feeds/a.csv", "If-None-Match"));

	/* only saved when asked (after the journal commit), atomically */
	cache_path(&f, path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(tg_source_http_cache_save(f.cache, &err), 0);
	text = read_text(path);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"a\""));
	assert_non_null(strstr(text, "fingerprint"));
	free(text);

	/* the validators survive a restart */
	tg_source_http_cache_free(f.cache);
	f.cache = cache_load(&f, true);
	run(&f, S_A, true);
	assert_int_equal(f.rc, 0);
	assert_true(f.not_modified);

	/* the store lost this source's data: a full fetch */
	run(&f, S_A, false);
	assert_int_equal(f.rc, 0);
	assert_false(f.not_modified);
	assert_int_equal(f.measures, 2);
	assert_false(last_has_header("/feeds/a.csv", "If-None-Match"));
	fx_free(&f);
}

static void test_same_body_not_parsed(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, false, "s-sha");
	run(&f, S_A, false);
	assert_int_equal(f.measures, 2);
	/* a validator the server does not match: a 200 with the same bytes */
	edit_cache(&f, "a", "etag", "\"stale\"");
	edit_cache(&f, "a", "last_modified", NULL);
	run(&f, S_A, true);
	assert_int_equal(f.rc, 0);
	assert_true(last_has_header("/feeds/a.csv", "If-None-Match"));
	assert_true(f.not_modified);
	assert_int_equal(f.measures, 0);
	/* the same body without data in the store is read */
	edit_cache(&f, "a", "etag", "\"stale\"");
	run(&f, S_A, false);
	assert_false(f.not_modified);
	assert_int_equal(f.measures, 2);
	fx_free(&f);
}

static void test_bad_validator_not_sent(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, false, "s-badval");
	run(&f, S_A, false);
	/* a damaged or edited file: a control byte in the ETag would make
	 * every request fail; it is dropped and the feed fetched in full */
	edit_cache(&f, "a", "etag", "\"x\x01y\"");
	edit_cache(&f, "a", "last_modified", NULL);
	run(&f, S_A, true);
	assert_int_equal(f.rc, 0);
	assert_false(last_has_header("/feeds/a.csv", "If-None-Match"));
	assert_true(f.not_modified);        /* same body: the hash still holds */
	fx_free(&f);
}

static void test_config_change_refetches(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, false, "s-fp");
	run(&f, S_A, false);
	run(&f, S_A, true);
	assert_true(f.not_modified);
	/* an indicator added: the feed may carry it already, read it again */
	tg_config_free(f.cfg);
	f.cfg = load(true);
	run(&f, S_A, true);
	assert_int_equal(f.rc, 0);
	assert_false(last_has_header("/feeds/a.csv", "If-None-Match"));
	assert_false(f.not_modified);
	assert_int_equal(f.measures, 2);
	/* and from then on the new validators hold */
	run(&f, S_A, true);
	assert_true(f.not_modified);
	fx_free(&f);
}

static void test_failed_body_forgets_validators(void **state)
{
	char path[256];
	struct fx f;

	(void)state;
	fx_init(&f, false, "s-forget");
	run(&f, S_J, false);
	assert_int_equal(f.rc, 0);
	assert_int_equal(f.measures, 1);
	snprintf(path, sizeof(path), "%s/feeds/j.json", dir);
	assert_int_equal(write_path(path, "{ \"data\": [ { \"code\": ", 0644), 0);
	run(&f, S_J, true);
	assert_true(f.rc < 0);
	assert_non_null(strstr(f.msg, "j.json"));
	/* the good body is back: the last failure must not let a 304 or the
	 * old hash stand for it */
	assert_int_equal(write_path(path, feed_j, 0644), 0);
	run(&f, S_J, true);
	assert_int_equal(f.rc, 0);
	assert_false(f.not_modified);
	assert_int_equal(f.measures, 1);
	fx_free(&f);
}

static void test_dry_run_never_writes(void **state)
{
	struct tg_error err;
	char path[256];
	struct fx f;

	(void)state;
	fx_init(&f, false, "s-dry");
	tg_source_http_cache_free(f.cache);
	f.cache = cache_load(&f, false);
	run(&f, S_A, false);
	run(&f, S_A, true);
	assert_true(f.not_modified);        /* validators kept in memory */
	assert_int_equal(tg_source_http_cache_save(f.cache, &err), 0);
	cache_path(&f, path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(tg_source_http_cache_save(NULL, &err), 0);
	fx_free(&f);
}

static void test_damaged_cache_file(void **state)
{
	static const char *const bad[] = {
		"{ not json", "[1, 2]", "", "{\"a\": 5}", "{\"a\": {\"fingerprint\": 7}}",
		"{\"a\": {\"url\": \"x\", \"etag\": \"e\"}}",
	};
	struct tg_error err;
	char path[256];
	struct fx f;
	char *text;

	(void)state;
	fx_init(&f, false, "s-damaged");
	cache_path(&f, path, sizeof(path));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(write_path(path, bad[i], 0640), 0);
		tg_source_http_cache_free(f.cache);
		f.cache = tg_source_http_cache_load(f.state, true);
		if (f.cache == NULL)
			fail_msg("case %zu: no cache", i);
		run(&f, S_A, true);
		if (f.rc != 0 || f.not_modified || f.measures != 2)
			fail_msg("case %zu: rc %d, not_modified %d, %d measures", i, f.rc,
				 f.not_modified, f.measures);
		assert_int_equal(tg_source_http_cache_save(f.cache, &err), 0);
		text = read_text(path);
		assert_non_null(text);
		json_t *root = json_loads(text, 0, NULL);

		if (!json_is_object(json_object_get(root, "a")))
			fail_msg("case %zu: not rewritten: %s", i, text);
		json_decref(root);
		free(text);
	}
	fx_free(&f);
}

static void test_url_token_not_stored(void **state)
{
	struct tg_error err;
	char path[256];
	struct fx f;
	char *text;

	(void)state;
	fx_init(&f, false, "s-tokq");
	run(&f, S_TOKQ, false);
	assert_int_equal(f.rc, 0);
	assert_int_equal(tg_source_http_cache_save(f.cache, &err), 0);
	cache_path(&f, path, sizeof(path));
	text = read_text(path);
	assert_non_null(text);
	assert_null(strstr(text, "abc123"));
	assert_non_null(strstr(text, "token=***"));
	free(text);
	fx_free(&f);
}

static void test_secret_file_permissions(void **state)
{
	static const struct {
		mode_t mode;
		const char *expect;   /* in the error, or NULL: accepted */
	} cases[] = {
		{ 0644, "readable by everyone" },
		{ 0604, "readable by everyone" },
		{ 0602, "writable by everyone" },
		{ 0600, NULL },
		{ 0640, NULL },
		{ 0400, NULL },
	};
	char path[256];
	struct tg_error err;
	struct fx f;
	json_t *rec;

	(void)state;
	fx_init(&f, false, "s-secret");
	snprintf(path, sizeof(path), "%s/tok", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tg_source_http_run *r;

		assert_int_equal(chmod(path, cases[i].mode), 0);
		r = start(&f, S_BEARER, false, &err);
		if (cases[i].expect != NULL) {
			if (r != NULL)
				fail_msg("case %zu (%o): accepted", i, (unsigned)cases[i].mode);
			if (strstr(err.msg, cases[i].expect) == NULL)
				fail_msg("case %zu: '%s' not in: %s", i, cases[i].expect, err.msg);
			assert_null(strstr(err.msg, TOKEN));
			turn(&f, 50, false);
			assert_int_equal(f.calls, 0);   /* done is not called */
			continue;
		}
		if (r == NULL)
			fail_msg("case %zu (%o): refused: %s", i, (unsigned)cases[i].mode, err.msg);
		turn(&f, SAFETY_MS, true);
		assert_int_equal(f.calls, 1);
		assert_int_equal(f.rc, 0);
		assert_true(logged("who=bearer", &rec) > 0);
		assert_string_equal(header_of(rec, "Authorization"), "Bearer " TOKEN);
		json_decref(rec);
	}
	assert_int_equal(chmod(path, 0600), 0);
	/* a secret that is not a regular file (a FIFO would block open()) */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(start(&f, S_BEARER, false, &err));
	assert_non_null(strstr(err.msg, "not a regular file"));
	assert_int_equal(unlink(path), 0);
	/* missing, empty, two lines */
	assert_null(start(&f, S_BEARER, false, &err));
	assert_non_null(strstr(err.msg, "No such file"));
	assert_int_equal(write_path(path, "", 0600), 0);
	assert_null(start(&f, S_BEARER, false, &err));
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(write_path(path, TOKEN "\nsecond line\n", 0600), 0);
	assert_null(start(&f, S_BEARER, false, &err));
	assert_non_null(strstr(err.msg, "more than one line"));
	assert_null(strstr(err.msg, TOKEN));
	assert_int_equal(write_path(path, TOKEN "\n", 0600), 0);
	fx_free(&f);
}

static void test_cancel_in_flight(void **state)
{
	struct tg_source_http_run *r;
	struct tg_error err;
	struct fx f;

	(void)state;
	fx_init(&f, false, "s-cancel");
	r = start(&f, S_SLOW, false, &err);
	assert_non_null(r);
	for (int64_t end = mono_ms() + SAFETY_MS; logged("_delay=3", NULL) == 0;) {
		assert_true(mono_ms() < end);
		turn(&f, 20, false);
	}
	tg_source_http_cancel(r);
	turn(&f, 200, false);
	assert_int_equal(f.calls, 0);
	assert_int_equal(tg_http_in_flight(f.http), 0);
	tg_source_http_cancel(NULL);
	fx_free(&f);
}

static void test_cancel_during_retry_wait(void **state)
{
	struct tg_source_http_run *r;
	struct tg_error err;
	struct fx f;
	int n;

	(void)state;
	fx_init(&f, false, "s-retry");
	n = logged("_status=503", NULL);
	r = start(&f, S_FLAKY, false, &err);
	assert_non_null(r);
	/* the first answer (503) arrives; the retry waits at least 0.5 s */
	for (int64_t end = mono_ms() + SAFETY_MS; tg_http_in_flight(f.http) > 0;) {
		assert_true(mono_ms() < end);
		turn(&f, 5, false);
	}
	assert_int_equal(logged("_status=503", NULL), n + 1);
	tg_source_http_cancel(r);
	turn(&f, 1500, false);
	assert_int_equal(f.calls, 0);
	assert_int_equal(logged("_status=503", NULL), n + 1);   /* no retry after the cancel */
	fx_free(&f);
}

static void test_429_retry_after_over_a_minute(void **state)
{
	struct fx f;
	int n;

	(void)state;
	fx_init(&f, false, "s-429");
	/* 120 s is over a minute: no retry (retries = 3 notwithstanding), one
	 * request, the reason said */
	n = logged("_retryafter=120", NULL);
	run(&f, S_RA, false);
	assert_true(f.rc < 0);
	assert_non_null(strstr(f.msg, "429"));
	assert_non_null(strstr(f.msg, "Retry-After is 120 s"));
	assert_int_equal(logged("_retryafter=120", NULL), n + 1);
	fx_free(&f);
}

static void test_messages(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, false, "s-msg");
	run(&f, S_MISSING, false);
	assert_true(f.rc < 0);
	assert_non_null(strstr(f.msg, "404"));
	assert_non_null(strstr(f.msg, "not found"));
	assert_non_null(strstr(f.msg, "token=***"));   /* the URL, redacted */
	assert_null(strstr(f.msg, "abc123"));
	run(&f, S_AUTH, false);
	assert_true(f.rc < 0);
	assert_non_null(strstr(f.msg, "401"));
	assert_non_null(strstr(f.msg, "check the credentials file 'tok'"));
	assert_null(strstr(f.msg, TOKEN));
	run(&f, S_NOAUTH, false);
	assert_true(f.rc < 0);
	assert_non_null(strstr(f.msg, "403"));
	assert_non_null(strstr(f.msg, "none is configured"));
	fx_free(&f);
}

/* ---- through the engine ---- */

static void engine_done(void *ctx, size_t source)
{
	int *calls = ctx;

	(void)source;
	(*calls)++;
}

static void engine_wait(struct fx *f, int *calls, int want)
{
	for (int64_t end = mono_ms() + SAFETY_MS; *calls < want;) {
		assert_true(mono_ms() < end);
		assert_true(sd_event_run(f->ev, 50000) >= 0);
	}
}

static void test_engine_runs(void **state)
{
	const struct tg_source_state *st;
	struct tg_engine *e;
	struct tg_error err;
	char path[256], cmd[600];
	struct fx f;
	int calls = 0, n;

	(void)state;
	fx_init(&f, false, "s-engine");
	snprintf(path, sizeof(path), "%s/state", dir);   /* the config's state_dir */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", path, path);
	assert_int_equal(system(cmd), 0);
	e = tg_engine_new(f.cfg, TG_JOURNAL_WRITE, f.ev, &err);
	if (e == NULL)
		fail_msg("engine: %s", err.msg);

	assert_int_equal(tg_engine_start_source(e, S_A, 1000, engine_done, &calls), 0);
	assert_int_equal(tg_engine_start_source(e, S_A, 1000, engine_done, &calls), -EBUSY);
	engine_wait(&f, &calls, 1);
	st = tg_engine_source_state(e, S_A);
	assert_true(st->ran && !st->failed && !st->not_modified);
	assert_int_equal(st->stats.measurements, 2);
	assert_non_null(tg_store_series(tg_engine_store(e), "A-1"));
	/* committed, then the validators saved */
	snprintf(path, sizeof(path), "%s/state/http-cache.json", dir);
	assert_int_equal(access(path, F_OK), 0);

	assert_int_equal(tg_engine_start_source(e, S_A, 2000, engine_done, &calls), 0);
	engine_wait(&f, &calls, 2);
	assert_true(st->ran && !st->failed && st->not_modified);
	assert_int_equal(st->stats.measurements, 0);
	assert_int_equal(st->last_run, 2000);

	/* a run that cannot start: done at once, the state says why */
	snprintf(path, sizeof(path), "%s/tok", dir);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(tg_engine_start_source(e, S_BEARER, 3000, engine_done, &calls), 0);
	assert_int_equal(calls, 3);
	assert_int_equal(chmod(path, 0600), 0);
	st = tg_engine_source_state(e, S_BEARER);
	assert_true(st->failed);
	assert_non_null(strstr(st->error, "readable by everyone"));

	/* freed with a run in flight: no callback, nothing leaked */
	n = logged("_delay=3", NULL);
	assert_int_equal(tg_engine_start_source(e, S_SLOW, 4000, engine_done, &calls), 0);
	for (int64_t end = mono_ms() + SAFETY_MS; logged("_delay=3", NULL) == n;) {
		assert_true(mono_ms() < end);
		turn(&f, 20, false);
	}
	tg_engine_free(e);
	turn(&f, 100, false);
	assert_int_equal(calls, 3);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_200_then_304),
		cmocka_unit_test(test_same_body_not_parsed),
		cmocka_unit_test(test_bad_validator_not_sent),
		cmocka_unit_test(test_config_change_refetches),
		cmocka_unit_test(test_failed_body_forgets_validators),
		cmocka_unit_test(test_dry_run_never_writes),
		cmocka_unit_test(test_damaged_cache_file),
		cmocka_unit_test(test_url_token_not_stored),
		cmocka_unit_test(test_secret_file_permissions),
		cmocka_unit_test(test_cancel_in_flight),
		cmocka_unit_test(test_cancel_during_retry_wait),
		cmocka_unit_test(test_429_retry_after_over_a_minute),
		cmocka_unit_test(test_engine_runs),
		cmocka_unit_test(test_messages),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
