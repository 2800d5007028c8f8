/*
 * test_http.c — the HTTP engine against tests/http_server.py on loopback
 * (one plain and one TLS server for the whole group, started in the group
 * setup and killed in the group teardown even when a test fails).
 *
 * Each test runs its own sd-event loop until the callbacks it expects have
 * arrived, under a 15 s safety timer that fails the test; nothing asserts on
 * durations.  What the client sent is checked in the server's request log;
 * the connections it opened, by counting its connect() calls (below).
 */
#include <dlfcn.h>
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
#include <glob.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "http.h"

#ifndef TG_TEST_DATA
#define TG_TEST_DATA "tests/data"
#endif

#define SERVER_SCRIPT TG_TEST_DATA "/../http_server.py"
#define CA_FILE       TG_TEST_DATA "/tls/ca.pem"
#define SAFETY_USEC   (15 * 1000000ULL)

static const char feed_a[] = "indicatore;valore;data\nrifiuti;12,5;01/02/2024\n";

struct server {
	pid_t pid;
	int port;
	bool tls;
	char log[128];
};

static char dir[64];
static struct server plain = { .pid = -1 }, tls = { .pid = -1 };

/* ---- servers (group setup / teardown) ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int write_file(const char *name, const char *data, size_t len)
{
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/feeds/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	n = fwrite(data, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -1;
}

static int start_server(struct server *s, const char *name, bool use_tls)
{
	char portfile[128], feeds[128], hooks[128], out[128];
	int i;

	snprintf(portfile, sizeof(portfile), "%s/%s.port", dir, name);
	snprintf(feeds, sizeof(feeds), "%s/feeds", dir);
	snprintf(hooks, sizeof(hooks), "%s/hooks-%s", dir, name);
	snprintf(out, sizeof(out), "%s/%s.out", dir, name);
	snprintf(s->log, sizeof(s->log), "%s/%s.log", dir, name);
	s->tls = use_tls;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		/* a sanitizer abort skips the group teardown: die with the test */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() == 1)
			_exit(125);
		if (freopen(out, "w", stdout) == NULL || dup2(fileno(stdout), 2) < 0)
			_exit(126);
		if (use_tls)
			execl("/usr/bin/python3", "python3", SERVER_SCRIPT, "--host", "127.0.0.1",
			      "--port", "0", "--port-file", portfile, "--feed-dir", feeds,
			      "--hook-dir", hooks, "--log", s->log, "--tls-cert",
			      TG_TEST_DATA "/tls/localhost.pem", "--tls-key",
			      TG_TEST_DATA "/tls/localhost.key", (char *)NULL);
		else
			execl("/usr/bin/python3", "python3", SERVER_SCRIPT, "--host", "127.0.0.1",
			      "--port", "0", "--port-file", portfile, "--feed-dir", feeds,
			      "--hook-dir", hooks, "--log", s->log, (char *)NULL);
		_exit(127);
	}
	/* readiness: the port file appears once the socket listens */
	for (i = 0; i < 1000; i++) {
		FILE *f = fopen(portfile, "r");
		int status;

		if (f != NULL) {
			int ok = fscanf(f, "%d", &s->port) == 1;

			fclose(f);
			if (ok && s->port > 0)
				return 0;
		}
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			fprintf(stderr, "http_server.py (%s) died: see %s\n", name, out);
			s->pid = -1;
			return -1;
		}
		sleep_ms(20);
	}
	return -1;
}

static void stop_server(struct server *s)
{
	int i, status;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	for (i = 0; i < 250; i++) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = -1;
			return;
		}
		sleep_ms(20);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	stop_server(&plain);
	stop_server(&tls);
	if (dir[0] == '\0')
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
	char path[128], trickle[200];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/tg-http-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		return -1;
	}
	snprintf(path, sizeof(path), "%s/feeds", dir);
	memset(trickle, 'x', sizeof(trickle));
	if (mkdir(path, 0700) < 0 || write_file("a.csv", feed_a, strlen(feed_a)) < 0 ||
	    write_file("t.csv", trickle, sizeof(trickle)) < 0 ||
	    start_server(&plain, "plain", false) < 0 || start_server(&tls, "tls", true) < 0) {
		group_teardown(state);
		return -1;
	}
	return 0;
}

static const char *url(const struct server *s, const char *path)
{
	static char buf[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s://127.0.0.1:%d%s", s->tls ? "https" : "http",
		 s->port, path);
	return buf[k];
}

/* A port nobody listens on (bound, then released). */
static int dead_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		fail_msg("cannot find a free port");
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/*
 * connect() of this process, counted for one port: libcurl calls it through
 * its PLT, so this definition (the executable's, exported because a shared
 * library refers to it) is the one it reaches; the real one is the next.
 */
static int connect_port;       /* 0: nothing counted */
static int n_connects;

#if defined(__USE_GNU) && !defined(__cplusplus)
#define SOCKADDR_PTR(a) ((a).__sockaddr__)
#else
#define SOCKADDR_PTR(a) (a)
#endif

int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	static int (*real)(int, __CONST_SOCKADDR_ARG, socklen_t);
	const struct sockaddr *sa = SOCKADDR_PTR(addr);

	if (real == NULL)
		real = (int (*)(int, __CONST_SOCKADDR_ARG, socklen_t))dlsym(RTLD_NEXT, "connect");
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (connect_port != 0 && sa != NULL && sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(struct sockaddr_in) &&
	    ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port) == connect_port)
		n_connects++;
	return real(fd, addr, len);
}

/* curl_multi_add_handle, made to refuse on demand: the engine (linked into
 * this executable) calls this definition, which hands over to libcurl's. */
static int refuse_adds;   /* how many of the next ones fail */

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *easy)
{
	static CURLMcode (*real)(CURLM *, CURL *);

	if (real == NULL)
		real = (CURLMcode (*)(CURLM *, CURL *))dlsym(RTLD_NEXT, "curl_multi_add_handle");
	if (refuse_adds > 0 || real == NULL) {
		refuse_adds--;
		return CURLM_OUT_OF_MEMORY;
	}
	return real(multi, easy);
}

/* ---- the server's request log ---- */

/* The logged request whose path contains marker (the last one), or NULL. */
/*
 * The requests the server logged (one JSON object a line) that keep()
 * accepts: how many, and the last of them in *last (the caller's, NULL if
 * none) when last is not NULL.
 */
static int log_search(const struct server *s, bool (*keep)(json_t *rec, const char *a, const char *b),
		      const char *a, const char *b, json_t **last)
{
	FILE *f = fopen(s->log, "r");
	char line[16384];
	int n = 0;

	if (last != NULL)
		*last = NULL;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *rec = json_loads(line, 0, NULL);

		if (rec != NULL && keep(rec, a, b)) {
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

static bool path_has(json_t *rec, const char *marker, const char *unused)
{
	const char *path = json_string_value(json_object_get(rec, "path"));

	(void)unused;
	return path != NULL && strstr(path, marker) != NULL;
}

/* The last request whose path contains marker, or NULL. */
static json_t *logged(const struct server *s, const char *marker)
{
	json_t *rec;

	log_search(s, path_has, marker, NULL, &rec);
	return rec;
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

/* ---- the loop and the callbacks ---- */

struct got {
	int calls;
	int order;
	int result;
	long status;
	char *body;
	size_t len;
	char *etag, *last_modified, *error, *effective_url;
	int64_t retry_after;
	bool timed_out, too_large;
	/* optional behaviour inside the callback */
	struct tg_http *free_engine;
	struct tg_http *start_engine;
	const struct tg_http_request *start_req;
	struct got *start_got;
	struct tg_http_transfer *cancel;
	char *free_after;      /* freed once the callback has run (a borrowed body) */
};

struct run {
	sd_event *ev;
	struct tg_http *h;
	sd_event_source *safety;
	bool expired;
};

static int n_done, seq;

static char *dup_n(const char *s, size_t n)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = malloc(n + 1);
	assert_non_null(d);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static char *dup_s(const char *s)
{
	return s != NULL ? dup_n(s, strlen(s)) : NULL;
}

static void on_done(void *ctx, const struct tg_http_response *r)
{
	struct got *g = ctx;

	g->calls++;
	g->order = ++seq;
	n_done++;
	g->result = r->result;
	g->status = r->status;
	assert_non_null(r->body);
	assert_int_equal(r->body[r->len], '\0');
	g->body = dup_n(r->body, r->len);
	g->len = r->len;
	g->etag = dup_s(r->etag);
	g->last_modified = dup_s(r->last_modified);
	g->error = dup_s(r->error);
	g->effective_url = dup_s(r->effective_url);
	g->retry_after = r->retry_after;
	g->timed_out = r->timed_out;
	g->too_large = r->too_large;
	assert_true(r->elapsed_ms >= 0);
	assert_true(r->result < 0 ? r->error != NULL && r->status == 0 : r->error == NULL);
	if (g->cancel != NULL)
		tg_http_cancel(g->cancel);
	if (g->start_engine != NULL) {
		struct tg_error err;

		assert_non_null(tg_http_start(g->start_engine, g->start_req, on_done,
					      g->start_got, &err));
	}
	if (g->free_engine != NULL)
		tg_http_free(g->free_engine);
	free(g->free_after);
	g->free_after = NULL;
}

static void got_clear(struct got *g)
{
	free(g->body);
	free(g->etag);
	free(g->last_modified);
	free(g->error);
	free(g->effective_url);
	memset(g, 0, sizeof(*g));
}

static int on_safety(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	((struct run *)userdata)->expired = true;
	return 0;
}

static void run_open(struct run *r, const struct tg_http_limits *limits)
{
	struct tg_error err = { "" };

	memset(r, 0, sizeof(*r));
	n_done = 0;
	seq = 0;
	assert_int_equal(sd_event_new(&r->ev), 0);
	assert_int_equal(sd_event_add_time_relative(r->ev, &r->safety, CLOCK_MONOTONIC,
						    SAFETY_USEC, 0, on_safety, r), 0);
	r->h = tg_http_new(r->ev, limits, &err);
	if (r->h == NULL)
		fail_msg("tg_http_new: %s", err.msg);
}

static void run_until(struct run *r, int want)
{
	while (n_done < want && !r->expired)
		assert_true(sd_event_run(r->ev, UINT64_MAX) >= 0);
	if (r->expired)
		fail_msg("safety timer: %d of %d callbacks after 15 s", n_done, want);
}

static int on_pause(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	*(bool *)userdata = true;
	return 0;
}

/* Lets the loop turn for a while (transfers reach the server). */
static void run_for(struct run *r, uint64_t usec)
{
	sd_event_source *s = NULL;
	bool over = false;

	assert_int_equal(sd_event_add_time_relative(r->ev, &s, CLOCK_MONOTONIC, usec, 0,
						    on_pause, &over), 0);
	while (!over)
		assert_true(sd_event_run(r->ev, UINT64_MAX) >= 0);
	sd_event_source_unref(s);
}

static void run_close(struct run *r)
{
	tg_http_free(r->h);
	sd_event_source_unref(r->safety);
	sd_event_unref(r->ev);
}

static struct tg_http_transfer *start(struct run *r, const struct tg_http_request *req,
				      struct got *g)
{
	struct tg_error err = { "" };
	struct tg_http_transfer *t = tg_http_start(r->h, req, on_done, g, &err);
	int before = n_done;

	if (t == NULL)
		fail_msg("tg_http_start(%s): %s", req->url, err.msg);
	assert_int_equal(n_done, before);   /* never called from inside start */
	return t;
}

/* One request, run to its callback. */
static void fetch(const struct tg_http_request *req, struct got *g)
{
	struct run r;

	run_open(&r, NULL);
	start(&r, req, g);
	assert_int_equal(tg_http_in_flight(r.h), 1);
	run_until(&r, 1);
	assert_int_equal(tg_http_in_flight(r.h), 0);
	assert_int_equal(g->calls, 1);
	run_close(&r);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay ? hay : "(null)", needle);
}

/* ---- tests ---- */

static void test_redact_table(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "https://user:secret@host/x?token=abc", "https://user:***@host/x?token=***" },
		{ "http://host/path", "http://host/path" },
		{ "http://u@host/", "http://u@host/" },
		{ "http://u:p@h:8080/a?b=1&api_key=zz&c=2", "http://u:***@h:8080/a?b=1&api_key=***&c=2" },
		{ "https://h/x?Signature=a&X-Amz-Signature=b", "https://h/x?Signature=***&X-Amz-Signature=***" },
		{ "https://h/x?PASSWORD=x;sig=y&auth=z", "https://h/x?PASSWORD=***;sig=***&auth=***" },
		{ "https://h/x?secret=1&client_secret=2", "https://h/x?secret=***&client_secret=***" },
		{ "https://h/cb#access_token=xyz&state=1", "https://h/cb#access_token=***&state=1" },
		{ "https://h/doc#section-2", "https://h/doc#section-2" },
		{ "https://a:b:c@h/", "https://a:***@h/" },
		{ "https://a:p@ss@h/", "https://a:***@h/" },
		{ "https://:pw@h/", "https://:***@h/" },
		{ "http://h/p@x:y", "http://h/p@x:y" },
		{ "http://h/?token", "http://h/?token" },
		{ "http://h/?token=", "http://h/?token=***" },
		{ "http://h/?%74oken=abc", "http://h/?%74oken=***" },
		{ "http://h/?a=1&&b=2", "http://h/?a=1&&b=2" },
		{ "http://h/a b\r\nX: y", "http://h/a%20b%0D%0AX:%20y" },
		{ "http://h/\xc3\xa8", "http://h/%C3%A8" },
		{ "not a url?token=1", "not%20a%20url?token=***" },
		{ "", "" },
		{ "?", "?" },
		{ "#", "#" },
		{ "://x:y@z", "://x:y@z" },
	};
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = tg_http_redact_url(cases[i].in, buf, sizeof(buf));

		if (got != buf || strcmp(buf, cases[i].out) != 0)
			fail_msg("case %zu: \"%s\" -> \"%s\", want \"%s\"", i, cases[i].in, buf,
				 cases[i].out);
	}
	assert_string_equal(tg_http_redact_url(NULL, buf, sizeof(buf)), "");
}

static void test_redact_truncation(void **state)
{
	const char *in = "https://user:topsecretvalue@host/path?token=anothersecret&x=1";
	char full[256], buf[80];
	size_t size;

	(void)state;
	tg_http_redact_url(in, full, sizeof(full));
	for (size = 1; size <= sizeof(buf); size++) {
		memset(buf, '#', sizeof(buf));
		assert_ptr_equal(tg_http_redact_url(in, buf, size), buf);
		if (strlen(buf) != (strlen(full) < size ? strlen(full) : size - 1))
			fail_msg("size %zu: \"%s\"", size, buf);
		if (strstr(buf, "topsec") != NULL || strstr(buf, "another") != NULL)
			fail_msg("size %zu: secret in \"%s\"", size, buf);
		if (size < sizeof(buf))
			assert_int_equal(buf[size], '#');   /* nothing written past size */
	}
	buf[0] = 'z';
	tg_http_redact_url(in, buf, 0);
	assert_int_equal(buf[0], 'z');
	tg_http_redact_url(in, buf, 10);
	assert_string_equal(buf, "https:...");
}

static void test_bad_arguments(void **state)
{
	struct tg_error err = { "" };
	struct tg_http_limits neg = { -1, 0 };
	sd_event *ev;

	(void)state;
	assert_null(tg_http_new(NULL, NULL, &err));
	assert_true(err.msg[0] != '\0');
	assert_int_equal(sd_event_new(&ev), 0);
	err.msg[0] = '\0';
	assert_null(tg_http_new(ev, &neg, &err));
	assert_contains(err.msg, "negative");
	sd_event_unref(ev);
	tg_http_free(NULL);
	tg_http_cancel(NULL);
	assert_int_equal(tg_http_in_flight(NULL), 0);
}

static void test_bad_requests(void **state)
{
	static const char *const crlf[] = { "X-Ok: 1", "X-Bad: 1\r\nInjected: yes" };
	static const char *const noname[] = { ": value" };
	static const char *const nocolon[] = { "Just text" };
	static const char *const nullhdr[] = { NULL };
	static const struct {
		struct tg_http_request req;
		const char *want;
	} cases[] = {
		{ { .url = "ftp://127.0.0.1/x" }, "only http:// and https://" },
		{ { .url = "file:///etc/passwd" }, "only http:// and https://" },
		{ { .url = "gopher://127.0.0.1/" }, "" },
		{ { .url = "not a url" }, "" },
		{ { .url = "http://" }, "" },
		{ { .url = "http://127.0.0.1/a b" }, "" },
		{ { .url = "http://127.0.0.1/", .method = "TRACE" }, "unsupported method" },
		{ { .url = "http://127.0.0.1/", .method = "GET\r\nX: y" }, "unsupported method" },
		{ { .url = "http://127.0.0.1/", .body = "x", .body_len = 1 }, "needs POST" },
		{ { .url = "http://127.0.0.1/", .method = "POST", .body_len = 3 }, "without a body" },
		{ { .url = "http://127.0.0.1/", .headers = crlf, .n_headers = 2 }, "header 2" },
		{ { .url = "http://127.0.0.1/", .headers = noname, .n_headers = 1 }, "header 1" },
		{ { .url = "http://127.0.0.1/", .headers = nocolon, .n_headers = 1 }, "header 1" },
		{ { .url = "http://127.0.0.1/", .headers = nullhdr, .n_headers = 1 }, "header 1" },
		{ { .url = "http://127.0.0.1/", .n_headers = 1 }, "none given" },
		{ { .url = "http://127.0.0.1/", .if_none_match = "\"a\"\r\nX: y" }, "conditional" },
		{ { .url = "http://127.0.0.1/", .if_modified_since = "\n" }, "conditional" },
		{ { .url = "http://127.0.0.1/", .bearer_token = "t", .username = "u" }, "both" },
		{ { .url = "http://127.0.0.1/", .password = "p" }, "without a user" },
		{ { .url = "http://127.0.0.1/", .bearer_token = "t\nX: y" }, "control" },
		{ { .url = "http://127.0.0.1/", .timeout_ms = -1 }, "negative timeout" },
		{ { .url = "http://127.0.0.1/", .low_speed_time = -1 }, "low-speed" },
		{ { .url = "ftp://bob:hunter2@127.0.0.1/?token=tok42" }, "bob:***@" },
	};
	struct run r;
	struct got g = { 0 };
	size_t i;

	(void)state;
	run_open(&r, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tg_error err = { "" };

		if (tg_http_start(r.h, &cases[i].req, on_done, &g, &err) != NULL)
			fail_msg("case %zu (%s): accepted", i, cases[i].req.url);
		if (err.msg[0] == '\0' || strstr(err.msg, cases[i].want) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg, cases[i].want);
		if (strstr(err.msg, "hunter2") != NULL || strstr(err.msg, "tok42") != NULL ||
		    strchr(err.msg, '\n') != NULL)
			fail_msg("case %zu: secret or newline in \"%s\"", i, err.msg);
	}
	assert_null(tg_http_start(r.h, NULL, on_done, &g, NULL));
	assert_null(tg_http_start(NULL, &cases[0].req, on_done, &g, NULL));
	assert_int_equal(tg_http_in_flight(r.h), 0);
	assert_int_equal(g.calls, 0);
	run_close(&r);
}

static void test_get_200(void **state)
{
	struct tg_http_request req = { .url = url(&plain, "/feeds/a.csv?id=get200") };
	struct got g = { 0 };
	json_t *rec;

	(void)state;
	fetch(&req, &g);
	assert_int_equal(g.result, 0);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.len, strlen(feed_a));
	assert_memory_equal(g.body, feed_a, g.len);
	assert_non_null(g.etag);
	assert_true(g.etag[0] == '"');
	assert_non_null(g.last_modified);
	assert_contains(g.last_modified, " GMT");
	assert_int_equal(g.retry_after, -1);
	assert_null(g.error);
	assert_false(g.timed_out || g.too_large);
	assert_string_equal(g.effective_url, req.url);
	rec = logged(&plain, "id=get200");
	assert_non_null(rec);
	assert_string_equal(json_string_value(json_object_get(rec, "method")), "GET");
	assert_contains(header_of(rec, "User-Agent"), "traguardo/");
	assert_null(header_of(rec, "Accept-Encoding"));
	assert_null(header_of(rec, "If-None-Match"));
	assert_null(header_of(rec, "Authorization"));
	json_decref(rec);
	got_clear(&g);
}

static void test_conditional_304(void **state)
{
	struct tg_http_request req = { .url = url(&plain, "/feeds/a.csv?id=cond1") };
	struct got first = { 0 }, g = { 0 };
	json_t *rec;

	(void)state;
	fetch(&req, &first);
	assert_int_equal(first.status, 200);
	assert_non_null(first.etag);

	req.url = url(&plain, "/feeds/a.csv?id=cond2");
	req.if_none_match = first.etag;
	fetch(&req, &g);
	assert_int_equal(g.result, 0);
	assert_int_equal(g.status, 304);
	assert_int_equal(g.len, 0);
	assert_string_equal(g.etag, first.etag);
	rec = logged(&plain, "id=cond2");
	assert_non_null(rec);
	assert_string_equal(header_of(rec, "If-None-Match"), first.etag);
	json_decref(rec);
	got_clear(&g);

	req.url = url(&plain, "/feeds/a.csv?id=cond3");
	req.if_none_match = NULL;
	req.if_modified_since = first.last_modified;
	fetch(&req, &g);
	assert_int_equal(g.status, 304);
	rec = logged(&plain, "id=cond3");
	assert_non_null(rec);
	assert_string_equal(header_of(rec, "If-Modified-Since"), first.last_modified);
	assert_null(header_of(rec, "If-None-Match"));
	json_decref(rec);
	got_clear(&g);

	/* a stale validator: the full body again */
	req.url = url(&plain, "/feeds/a.csv?id=cond4");
	req.if_modified_since = NULL;
	req.if_none_match = "\"stale\"";
	fetch(&req, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.len, strlen(feed_a));
	got_clear(&g);
	got_clear(&first);
}

static void test_status_500_and_404(void **state)
{
	struct tg_http_request req = { .url = url(&plain, "/feeds/a.csv?_status=500") };
	struct got g = { 0 };

	(void)state;
	fetch(&req, &g);
	assert_int_equal(g.result, 0);   /* a response arrived */
	assert_int_equal(g.status, 500);
	assert_string_equal(g.body, "injected\n");
	assert_null(g.error);
	got_clear(&g);

	req.url = url(&plain, "/feeds/missing.csv");
	fetch(&req, &g);
	assert_int_equal(g.result, 0);
	assert_int_equal(g.status, 404);
	got_clear(&g);
}

static void test_retry_after(void **state)
{
	struct tg_http_request req = { .url = url(&plain, "/x?_retryafter=7") };
	struct got g = { 0 };

	(void)state;
	fetch(&req, &g);
	assert_int_equal(g.result, 0);
	assert_int_equal(g.status, 429);
	assert_int_equal(g.retry_after, 7);
	got_clear(&g);

	req.url = url(&plain, "/x?_retryafter=date:3600");
	fetch(&req, &g);
	assert_int_equal(g.status, 429);
	if (g.retry_after < 3000 || g.retry_after > 3601)
		fail_msg("Retry-After date: %lld s", (long long)g.retry_after);
	got_clear(&g);

	req.url = url(&plain, "/x?_retryafter=date:-600");   /* in the past: now */
	fetch(&req, &g);
	assert_int_equal(g.retry_after, 0);
	got_clear(&g);

	req.url = url(&plain, "/x?_retryafter=99999999999999999999999");
	fetch(&req, &g);
	assert_true(g.retry_after > 0 && g.retry_after <= 366 * 24 * 3600);
	got_clear(&g);

	req.url = url(&plain, "/x?_retryafter=soon");
	fetch(&req, &g);
	assert_int_equal(g.status, 429);
	assert_int_equal(g.retry_after, -1);
	got_clear(&g);
}

static void test_timeout(void **state)
{
	struct tg_http_request req = { .url = url(&plain, "/feeds/a.csv?_delay=5&id=slowpoke"),
				       .timeout_ms = 300 };
	struct got g = { 0 };

	(void)state;
	fetch(&req, &g);
	assert_int_equal(g.result, -ETIMEDOUT);
	assert_int_equal(g.status, 0);
	assert_true(g.timed_out);
	assert_false(g.too_large);
	assert_contains(g.error, req.url);
	assert_contains(g.error, "timed out after 0.3 s");
	got_clear(&g);
}

static void test_trickle(void **state)
{
	struct tg_http_request req = { .url = url(&plain, "/feeds/t.csv?_trickle=0.2"),
				       .low_speed_limit = 100, .low_speed_time = 1 };
	struct got g = { 0 };

	(void)state;
	fetch(&req, &g);
	assert_int_equal(g.result, -ETIMEDOUT);
	assert_true(g.timed_out);
	assert_contains(g.error, req.url);
	assert_contains(g.error, "too slow: less than 100 bytes/s for 1 s");
	got_clear(&g);
}

static void test_connection_reset_and_refused(void **state)
{
	struct tg_http_request req = { .url = url(&plain, "/feeds/a.csv?_reset=1") };
	struct got g = { 0 };
	char refused[64];

	(void)state;
	fetch(&req, &g);
	assert_true(g.result < 0);
	assert_int_equal(g.status, 0);
	assert_false(g.timed_out);
	assert_contains(g.error, req.url);
	got_clear(&g);

	req.url = url(&plain, "/feeds/a.csv?_close=1");
	fetch(&req, &g);
	assert_true(g.result < 0);
	assert_contains(g.error, req.url);
	got_clear(&g);

	snprintf(refused, sizeof(refused), "http://127.0.0.1:%d/x", dead_port());
	req.url = refused;
	fetch(&req, &g);
	assert_int_equal(g.result, -ECONNREFUSED);
	assert_contains(g.error, refused);
	got_clear(&g);

	req.url = url(&plain, "/feeds/a.csv?_short=1");   /* Content-Length lies */
	fetch(&req, &g);
	assert_true(g.result < 0);
	assert_int_equal(g.len, 0);
	got_clear(&g);
}

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void test_too_large(void **state)
{
	/* 256 MiB announced by nobody (chunked): the write callback must stop it */
	struct tg_http_request req = { .url = url(&plain, "/big?_size=268435456&_chunked=1"),
				       .max_size = 1024 * 1024 };
	struct got g = { 0 };
	long before = maxrss_kib();

	(void)state;
	fetch(&req, &g);
	assert_int_equal(g.result, -EFBIG);
	assert_true(g.too_large);
	assert_false(g.timed_out);
	assert_int_equal(g.len, 0);
	assert_contains(g.error, req.url);
	assert_contains(g.error, "response larger than 1 MiB: aborted");
	if (maxrss_kib() - before > 64 * 1024)
		fail_msg("peak RSS grew by %ld KiB", maxrss_kib() - before);
	got_clear(&g);

	/* announced by Content-Length */
	req.url = url(&plain, "/big?_size=2097152");
	fetch(&req, &g);
	assert_int_equal(g.result, -EFBIG);
	assert_true(g.too_large);
	got_clear(&g);

	/* exactly max_size is fine */
	req.url = url(&plain, "/big?_size=1048576&_chunked=1");
	fetch(&req, &g);
	assert_int_equal(g.result, 0);
	assert_int_equal(g.len, 1024 * 1024);
	assert_int_equal(g.body[1024 * 1024 - 1], 'x');
	got_clear(&g);

	req.url = url(&plain, "/big?_size=1000");
	req.max_size = 999;
	fetch(&req, &g);
	assert_true(g.too_large);
	assert_contains(g.error, "larger than 999 bytes");
	got_clear(&g);
}

/* No compression is asked for (libcurl 7.88 takes a gzip stream cut short
 * for a whole body); a server that compresses anyway is refused, not read
 * as the compressed bytes. */
static void test_gzip(void **state)
{
	struct tg_http_request req = { .url = url(&plain, "/feeds/a.csv?_gzip=1&id=gz") };
	struct got g = { 0 };
	json_t *rec;

	(void)state;
	fetch(&req, &g);
	assert_int_equal(g.result, -EPROTO);
	assert_contains(g.error, "the body came compressed (Content-Encoding: gzip) though none was asked for");
	assert_contains(g.error, "/feeds/a.csv");
	rec = logged(&plain, "id=gz");
	assert_non_null(rec);
	assert_null(header_of(rec, "Accept-Encoding"));
	json_decref(rec);
	got_clear(&g);
}

static void test_redirects(void **state)
{
	char path[256];
	struct tg_http_request req = { 0 };
	struct got g = { 0 };
	json_t *rec;

	(void)state;
	/* http -> http: followed */
	snprintf(path, sizeof(path), "/r?_redirect=%s", url(&plain, "/feeds/a.csv?id=redir1"));
	req.url = url(&plain, path);
	fetch(&req, &g);
	assert_int_equal(g.result, 0);
	assert_int_equal(g.status, 200);
	assert_memory_equal(g.body, feed_a, g.len);
	assert_contains(g.effective_url, "/feeds/a.csv?id=redir1");
	got_clear(&g);

	/* https -> https: followed */
	snprintf(path, sizeof(path), "/r?_redirect=%s", url(&tls, "/feeds/a.csv?id=redir2"));
	req.url = url(&tls, path);
	req.ca_file = CA_FILE;
	fetch(&req, &g);
	assert_int_equal(g.result, 0);
	assert_int_equal(g.status, 200);
	got_clear(&g);

	/* https -> http: refused, the plain server never asked */
	snprintf(path, sizeof(path), "/r?_redirect=%s", url(&plain, "/feeds/a.csv?id=redir3"));
	req.url = url(&tls, path);
	fetch(&req, &g);
	assert_true(g.result < 0);
	assert_int_equal(g.status, 0);
	assert_contains(g.error, req.url);
	assert_contains(g.error, "redirect to http://127.0.0.1");
	assert_contains(g.error, "refused");
	rec = logged(&plain, "id=redir3");
	assert_null(rec);
	got_clear(&g);

	/* a loop: given up after 5 */
	req.url = url(&plain, "/loop?_redirect=self");
	req.ca_file = NULL;
	fetch(&req, &g);
	assert_int_equal(g.result, -ELOOP);
	assert_contains(g.error, req.url);
	assert_contains(g.error, "more than 5 redirects");
	got_clear(&g);
}

static void test_https(void **state)
{
	struct tg_http_request req = { .url = url(&tls, "/feeds/a.csv?id=tls1"), .ca_file = CA_FILE };
	struct got g = { 0 };

	(void)state;
	fetch(&req, &g);
	assert_int_equal(g.result, 0);
	assert_int_equal(g.status, 200);
	assert_memory_equal(g.body, feed_a, g.len);
	got_clear(&g);

	/* without the test CA: the system's CAs do not know it */
	req.ca_file = NULL;
	req.url = url(&tls, "/feeds/a.csv?id=tls2");
	fetch(&req, &g);
	assert_int_equal(g.result, -EPROTO);
	assert_contains(g.error, req.url);
	assert_contains(g.error, "SSL certificate problem");
	got_clear(&g);

	/* a CA file that is not there */
	req.ca_file = TG_TEST_DATA "/tls/missing.pem";
	fetch(&req, &g);
	assert_int_equal(g.result, -EPROTO);
	assert_contains(g.error, req.url);
	got_clear(&g);
}

static void test_slow_does_not_delay_fast(void **state)
{
	struct tg_http_request slow = { .url = url(&plain, "/feeds/a.csv?_delay=3&id=s") };
	struct tg_http_request fast = { .url = url(&plain, "/feeds/a.csv?id=f") };
	struct got gs = { 0 }, gf = { 0 };
	struct run r;

	(void)state;
	run_open(&r, NULL);
	start(&r, &slow, &gs);
	start(&r, &fast, &gf);
	assert_int_equal(tg_http_in_flight(r.h), 2);
	run_until(&r, 2);
	assert_int_equal(gs.status, 200);
	assert_int_equal(gf.status, 200);
	assert_int_equal(gf.order, 1);
	assert_int_equal(gs.order, 2);
	run_close(&r);
	got_clear(&gs);
	got_clear(&gf);
}

static void test_parallel_limit(void **state)
{
	/* one connection in all: the fast one waits behind the slow one */
	struct tg_http_limits one = { .max_parallel = 1, .max_per_host = 1 };
	struct tg_http_request slow = { .url = url(&plain, "/feeds/a.csv?_delay=1&id=ls") };
	struct tg_http_request fast = { .url = url(&plain, "/feeds/a.csv?id=lf") };
	struct got gs = { 0 }, gf = { 0 };
	struct run r;

	(void)state;
	run_open(&r, &one);
	start(&r, &slow, &gs);
	run_for(&r, 200000);   /* let the slow one take the connection */
	start(&r, &fast, &gf);
	run_until(&r, 2);
	assert_int_equal(gs.order, 1);
	assert_int_equal(gf.order, 2);
	assert_int_equal(gf.status, 200);
	run_close(&r);
	got_clear(&gs);
	got_clear(&gf);
}

static void test_cancel(void **state)
{
	struct tg_http_request slow = { .url = url(&plain, "/feeds/a.csv?_delay=1&id=c1") };
	struct tg_http_request fast = { .url = url(&plain, "/feeds/a.csv?id=c2") };
	struct got gc = { 0 }, gc2 = { 0 }, gf = { 0 };
	struct tg_http_transfer *t;
	struct run r;

	(void)state;
	run_open(&r, NULL);
	t = start(&r, &slow, &gc);
	tg_http_cancel(t);   /* before it even began */
	assert_int_equal(tg_http_in_flight(r.h), 0);
	t = start(&r, &slow, &gc2);
	run_for(&r, 200000);  /* on the wire */
	tg_http_cancel(t);
	start(&r, &fast, &gf);
	run_until(&r, 1);
	assert_int_equal(gf.status, 200);
	run_for(&r, 1500000);  /* the slow answer would have come by now */
	assert_int_equal(gc.calls, 0);
	assert_int_equal(gc2.calls, 0);
	assert_int_equal(tg_http_in_flight(r.h), 0);
	run_close(&r);
	got_clear(&gf);
}

static void test_free_in_flight(void **state)
{
	struct tg_http_request slow = { .url = url(&plain, "/feeds/a.csv?_delay=1&id=fr") };
	struct tg_http_request tlsreq = { .url = url(&tls, "/feeds/a.csv?_delay=1&id=fr2"),
					  .ca_file = CA_FILE };
	struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 };
	struct run r;

	(void)state;
	run_open(&r, NULL);
	start(&r, &slow, &g1);
	start(&r, &slow, &g2);
	start(&r, &tlsreq, &g3);
	run_for(&r, 300000);
	assert_int_equal(tg_http_in_flight(r.h), 3);
	tg_http_free(r.h);
	r.h = NULL;
	run_for(&r, 1500000);   /* nothing of the engine is left to fire */
	assert_int_equal(g1.calls + g2.calls + g3.calls, 0);
	run_close(&r);
}

static void test_callback_reentry(void **state)
{
	struct tg_http_request fast = { .url = url(&plain, "/feeds/a.csv?id=re1") };
	struct tg_http_request slow = { .url = url(&plain, "/feeds/a.csv?_delay=1&id=re2") };
	struct got first = { 0 }, second = { 0 }, victim = { 0 }, last = { 0 }, other = { 0 };
	struct run r;

	(void)state;
	/* a callback starts a transfer and cancels another */
	run_open(&r, NULL);
	first.start_engine = r.h;
	first.start_req = &fast;
	first.start_got = &second;
	first.cancel = start(&r, &slow, &victim);
	start(&r, &fast, &first);
	run_until(&r, 2);
	assert_int_equal(first.calls, 1);
	assert_int_equal(second.calls, 1);
	assert_int_equal(second.status, 200);
	assert_int_equal(victim.calls, 0);
	assert_int_equal(tg_http_in_flight(r.h), 0);
	run_close(&r);

	/* a callback cancels its own, finishing transfer: a no-op */
	run_open(&r, NULL);
	got_clear(&second);
	second.cancel = start(&r, &fast, &second);
	run_until(&r, 1);
	assert_int_equal(second.calls, 1);
	assert_int_equal(tg_http_in_flight(r.h), 0);
	run_close(&r);

	/* a callback frees the engine with another transfer in flight */
	run_open(&r, NULL);
	last.free_engine = r.h;
	start(&r, &slow, &other);
	start(&r, &fast, &last);
	run_until(&r, 1);
	r.h = NULL;
	run_for(&r, 1500000);
	assert_int_equal(last.calls, 1);
	assert_int_equal(other.calls, 0);
	run_close(&r);
	got_clear(&first);
	got_clear(&second);
	got_clear(&last);
}

static void test_auth(void **state)
{
	struct tg_http_request req = { .url = url(&plain, "/feeds/a.csv?id=bearer"),
				       .bearer_token = "tok-123" };
	struct got g = { 0 };
	json_t *rec;

	(void)state;
	fetch(&req, &g);
	assert_int_equal(g.status, 200);
	rec = logged(&plain, "id=bearer");
	assert_non_null(rec);
	assert_string_equal(header_of(rec, "Authorization"), "Bearer tok-123");
	json_decref(rec);
	got_clear(&g);

	req.bearer_token = NULL;
	req.url = url(&plain, "/feeds/a.csv?id=basic");
	req.username = "alice";
	req.password = "s3cret";
	fetch(&req, &g);
	assert_int_equal(g.status, 200);
	rec = logged(&plain, "id=basic");
	assert_non_null(rec);
	assert_string_equal(header_of(rec, "Authorization"), "Basic YWxpY2U6czNjcmV0");
	json_decref(rec);
	got_clear(&g);
}

static void test_no_credentials_in_errors(void **state)
{
	char u[256];
	struct tg_http_request req = { .url = u, .username = "alice", .password = "pw-Xyzzy" };
	struct got g = { 0 };
	int port = dead_port();

	(void)state;
	snprintf(u, sizeof(u), "http://bob:hunter2@127.0.0.1:%d/x?access_token=tok42&a=1", port);
	fetch(&req, &g);
	assert_true(g.result < 0);
	assert_contains(g.error, "bob:***@127.0.0.1");
	assert_contains(g.error, "access_token=***&a=1");
	if (strstr(g.error, "hunter2") || strstr(g.error, "tok42") || strstr(g.error, "Xyzzy") ||
	    strstr(g.effective_url, "hunter2") || strstr(g.effective_url, "tok42"))
		fail_msg("credentials leaked: %s / %s", g.error, g.effective_url);
	got_clear(&g);

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/y", port);
	req.username = req.password = NULL;
	req.bearer_token = "tok-Plugh";
	fetch(&req, &g);
	assert_true(g.result < 0);
	assert_null(strstr(g.error, "Plugh"));
	got_clear(&g);
}

static void test_proxies(void **state)
{
	char proxy[64];
	struct tg_http_request req = { .url = url(&plain, "/feeds/a.csv?id=noenv") };
	struct got g = { 0 };
	json_t *rec;

	(void)state;
	/* the environment's proxies are ignored */
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
	fetch(&req, &g);
	unsetenv("http_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	assert_int_equal(g.result, 0);
	assert_int_equal(g.status, 200);
	got_clear(&g);

	/* a configured one is used (the test server answers absolute-form too),
	 * even for a host no_proxy names */
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", plain.port);
	setenv("no_proxy", "feeds.invalid", 1);
	req.url = "http://feeds.invalid/feeds/a.csv?id=viaproxy";
	req.proxy = proxy;
	fetch(&req, &g);
	unsetenv("no_proxy");
	assert_int_equal(g.result, 0);
	assert_int_equal(g.status, 200);
	assert_memory_equal(g.body, feed_a, g.len);
	rec = logged(&plain, "id=viaproxy");
	assert_non_null(rec);
	assert_contains(json_string_value(json_object_get(rec, "path")), "http://feeds.invalid/");
	json_decref(rec);
	got_clear(&g);
}

static void test_post_put(void **state)
{
	static const char *const hdrs[] = { "Content-Type: application/json", "X-Trace: 42" };
	static const char body[] = "{\"a\":\"\0\"}";
	struct tg_http_request req = { .url = url(&plain, "/hooks/x?id=post"), .method = "POST",
				       .body = body, .body_len = sizeof(body) - 1,
				       .headers = hdrs, .n_headers = 2 };
	struct got g = { 0 };
	json_t *rec;

	(void)state;
	fetch(&req, &g);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.body, "{\"ok\":true}\n");
	rec = logged(&plain, "id=post");
	assert_non_null(rec);
	assert_string_equal(json_string_value(json_object_get(rec, "method")), "POST");
	assert_int_equal(json_integer_value(json_object_get(rec, "body_len")), sizeof(body) - 1);
	assert_string_equal(header_of(rec, "Content-Type"), "application/json");
	assert_string_equal(header_of(rec, "X-Trace"), "42");
	assert_null(header_of(rec, "Expect"));
	json_decref(rec);
	got_clear(&g);

	req.url = url(&plain, "/hooks/x?id=put");
	req.method = "PUT";
	req.body = NULL;
	req.body_len = 0;
	fetch(&req, &g);
	assert_int_equal(g.status, 200);
	rec = logged(&plain, "id=put");
	assert_non_null(rec);
	assert_string_equal(json_string_value(json_object_get(rec, "method")), "PUT");
	assert_int_equal(json_integer_value(json_object_get(rec, "body_len")), 0);
	json_decref(rec);
	got_clear(&g);

	req.url = url(&plain, "/feeds/a.csv?id=head");
	req.method = "HEAD";
	req.n_headers = 0;
	fetch(&req, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.len, 0);
	assert_non_null(g.etag);
	got_clear(&g);
}

/* ---- the queue (max_parallel, max_per_host) ---- */

/* The last logged request whose header name has value value, or NULL. */
static bool header_is(json_t *rec, const char *name, const char *value)
{
	const char *v = header_of(rec, name);

	return v != NULL && strcmp(v, value) == 0;
}

static json_t *logged_by_header(const struct server *s, const char *name, const char *value)
{
	json_t *rec;

	log_search(s, header_is, name, value, &rec);
	return rec;
}

static void test_queue_fifty(void **state)
{
	enum { N = 50 };
	struct tg_http_limits two = { .max_parallel = 2 };
	struct tg_http_request req = { 0 };
	static struct got g[N];
	struct tg_http_transfer *t[N];
	char urls[N][128];
	struct run r;
	int i, cancelled[] = { 7, 30, N - 1 };
	size_t k;

	(void)state;
	memset(g, 0, sizeof(g));
	run_open(&r, &two);
	n_connects = 0;
	connect_port = plain.port;
	for (i = 0; i < N; i++) {
		snprintf(urls[i], sizeof(urls[i]), "%s", url(&plain, "/feeds/a.csv?id=q"));
		snprintf(urls[i] + strlen(urls[i]), sizeof(urls[i]) - strlen(urls[i]), "%d", i);
		req.url = urls[i];
		t[i] = start(&r, &req, &g[i]);
	}
	assert_int_equal(tg_http_in_flight(r.h), N);
	/* queued (two at most have begun): they go without a callback */
	for (k = 0; k < sizeof(cancelled) / sizeof(cancelled[0]); k++)
		tg_http_cancel(t[cancelled[k]]);
	assert_int_equal(tg_http_in_flight(r.h), N - 3);
	run_until(&r, N - 3);
	run_for(&r, 100000);   /* nothing more comes */
	connect_port = 0;
	assert_int_equal(n_done, N - 3);
	assert_int_equal(tg_http_in_flight(r.h), 0);
	for (i = 0; i < N; i++) {
		bool was_cancelled = i == 7 || i == 30 || i == N - 1;

		if (g[i].calls != (was_cancelled ? 0 : 1))
			fail_msg("request %d: %d callbacks", i, g[i].calls);
		if (!was_cancelled && (g[i].result != 0 || g[i].status != 200 ||
				       g[i].len != strlen(feed_a)))
			fail_msg("request %d: result %d, status %ld, %zu bytes", i, g[i].result,
				 g[i].status, g[i].len);
		got_clear(&g[i]);
	}
	/* 47 requests, one connection per transfer at once, reused */
	if (n_connects < 1 || n_connects > 2)
		fail_msg("%d connections for %d requests with max_parallel 2", n_connects, N - 3);
	run_close(&r);
}

static void test_queue_fifo(void **state)
{
	/* one at a time: callbacks in the order of the starts, and one started
	 * from a callback waits behind those already queued */
	struct tg_http_limits one = { .max_parallel = 1 };
	struct tg_http_request req = { .url = url(&plain, "/feeds/a.csv?id=fifo") };
	struct got g[5] = { { 0 } };
	struct run r;
	int i;

	(void)state;
	run_open(&r, &one);
	g[0].start_engine = r.h;
	g[0].start_req = &req;
	g[0].start_got = &g[4];
	for (i = 0; i < 4; i++)
		start(&r, &req, &g[i]);
	run_until(&r, 5);
	for (i = 0; i < 5; i++) {
		if (g[i].calls != 1 || g[i].order != i + 1 || g[i].status != 200)
			fail_msg("request %d: %d calls, order %d, status %ld", i, g[i].calls,
				 g[i].order, g[i].status);
		got_clear(&g[i]);
	}
	run_close(&r);
}

static void test_queue_timeout_starts_with_transfer(void **state)
{
	/* the second waits about 2 s behind the first: its 1 s runs from when
	 * it begins */
	struct tg_http_limits one = { .max_parallel = 1 };
	struct tg_http_request slow = { .url = url(&plain, "/feeds/a.csv?_delay=2&id=qt1") };
	struct tg_http_request quick = { .url = url(&plain, "/feeds/a.csv?id=qt2"),
					 .timeout_ms = 1000 };
	struct got gs = { 0 }, gq = { 0 };
	struct run r;

	(void)state;
	run_open(&r, &one);
	start(&r, &slow, &gs);
	start(&r, &quick, &gq);
	run_until(&r, 2);
	assert_int_equal(gs.status, 200);
	if (gq.result != 0 || gq.status != 200)
		fail_msg("queued request: %s", gq.error != NULL ? gq.error : "no error, no 200");
	assert_true(gq.order == 2);
	run_close(&r);
	got_clear(&gs);
	got_clear(&gq);
}

static void test_queue_per_host(void **state)
{
	/* two slots, one per host: the second and third requests to the busy
	 * host wait, the one to another host (the TLS server's port) does not */
	struct tg_http_limits lim = { .max_parallel = 2, .max_per_host = 1 };
	struct tg_http_request slow = { .url = url(&plain, "/feeds/a.csv?_delay=1&id=ph") };
	struct tg_http_request other = { .url = url(&tls, "/feeds/a.csv?id=ph2"),
					 .ca_file = CA_FILE };
	struct got g[3] = { { 0 } }, go = { 0 };
	struct run r;
	int i;

	(void)state;
	run_open(&r, &lim);
	for (i = 0; i < 3; i++)
		start(&r, &slow, &g[i]);
	start(&r, &other, &go);
	run_until(&r, 4);
	assert_int_equal(go.status, 200);
	assert_int_equal(go.order, 1);
	for (i = 0; i < 3; i++) {
		assert_int_equal(g[i].status, 200);
		assert_int_equal(g[i].order, i + 2);
		got_clear(&g[i]);
	}
	run_close(&r);
	got_clear(&go);
}

static void test_queue_free(void **state)
{
	/* freed with one transfer running and four queued: no callback, no leak */
	struct tg_http_limits one = { .max_parallel = 1 };
	struct tg_http_request slow = { .url = url(&plain, "/feeds/a.csv?_delay=1&id=qf"),
					.method = "POST", .body = "x", .body_len = 1 };
	struct got g[5] = { { 0 } };
	struct run r;
	int i;

	(void)state;
	run_open(&r, &one);
	for (i = 0; i < 5; i++)
		start(&r, &slow, &g[i]);
	run_for(&r, 200000);
	assert_int_equal(tg_http_in_flight(r.h), 5);
	tg_http_free(r.h);
	r.h = NULL;
	run_for(&r, 1500000);
	for (i = 0; i < 5; i++)
		assert_int_equal(g[i].calls, 0);
	run_close(&r);
}

/* The body of the request the server stored under a path containing id
 * (POST and PUT bodies are kept in hooks-NAME/NNNN.json), or NULL. */
static char *hook_body(const char *name, const char *id)
{
	char pattern[160];
	char *body = NULL;
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/hooks-%s/*.json", dir, name);
	if (glob(pattern, 0, NULL, &g) != 0)
		return NULL;
	for (size_t i = 0; i < g.gl_pathc && body == NULL; i++) {
		json_t *rec = json_load_file(g.gl_pathv[i], 0, NULL);
		const char *path = json_string_value(json_object_get(rec, "path"));

		if (path != NULL && strstr(path, id) != NULL)
			body = dup_s(json_string_value(json_object_get(rec, "body")));
		json_decref(rec);
	}
	globfree(&g);
	return body;
}

/* borrow_body: the bodies are not copied; each is freed right after its
 * callback (and one right after its cancel), so that a read of a body past
 * its transfer is a use after free under AddressSanitizer; what arrives is
 * each body as it was, queued ones too. */
static void test_borrowed_body(void **state)
{
	struct tg_http_limits one = { .max_parallel = 1 };
	struct tg_http_request req[4];
	struct tg_http_transfer *t[4];
	char id[4][32], *body[4];
	struct got g[4] = { { 0 } };
	struct run r;
	int i;

	(void)state;
	run_open(&r, &one);
	for (i = 0; i < 4; i++) {
		char u[96];

		snprintf(id[i], sizeof(id[i]), "id=borrow%d", i);
		assert_true(asprintf(&body[i], "{\"borrowed\":%d,\"pad\":\"%0*d\"}", i,
				     100 + 1000 * i, 0) > 0);
		req[i] = (struct tg_http_request){ .method = "POST", .body = body[i],
						   .body_len = strlen(body[i]), .borrow_body = true };
		/* the first is slow: the others wait in the queue */
		snprintf(u, sizeof(u), "/hooks/b?%s%s", id[i], i == 0 ? "&_delay=0.2" : "");
		req[i].url = url(&plain, u);
		t[i] = start(&r, &req[i], &g[i]);
		if (i < 3)
			g[i].free_after = body[i];
	}
	/* the last one, queued, is cancelled; its body may go at once */
	tg_http_cancel(t[3]);
	free(body[3]);
	run_until(&r, 3);
	for (i = 0; i < 3; i++) {
		char *got = hook_body("plain", id[i]), want[64];

		if (g[i].calls != 1 || g[i].status != 200)
			fail_msg("request %d: %d calls, status %ld", i, g[i].calls, g[i].status);
		assert_non_null(got);
		snprintf(want, sizeof(want), "{\"borrowed\":%d,", i);
		assert_int_equal(strncmp(got, want, strlen(want)), 0);
		assert_int_equal(strlen(got), strlen(want) + 9 + 100 + 1000 * i);
		free(got);
		got_clear(&g[i]);
	}
	assert_null(hook_body("plain", id[3]));
	assert_int_equal(g[3].calls, 0);
	/* the handle that carried them, reused for a GET with the bodies gone */
	req[0] = (struct tg_http_request){ .url = url(&plain, "/feeds/a.csv?id=after-borrow") };
	start(&r, &req[0], &g[0]);
	run_until(&r, 4);
	assert_int_equal(g[0].status, 200);
	got_clear(&g[0]);
	run_close(&r);
}

static void test_idle_connection_closed(void **state)
{
	/* the server closes the connection after answering (the client asked it
	 * to): while idle, its socket reports the end; the next request opens
	 * another connection */
	static const char *const closing[] = { "Connection: close" };
	struct tg_http_request req = { .url = url(&plain, "/feeds/a.csv?id=idle1"),
				       .headers = closing, .n_headers = 1 };
	struct got g1 = { 0 }, g2 = { 0 };
	struct run r;

	(void)state;
	run_open(&r, NULL);
	n_connects = 0;
	connect_port = plain.port;
	start(&r, &req, &g1);
	run_until(&r, 1);
	run_for(&r, 300000);   /* the end of the connection arrives meanwhile */
	req.url = url(&plain, "/feeds/a.csv?id=idle2");
	req.n_headers = 0;
	start(&r, &req, &g2);
	run_until(&r, 2);
	connect_port = 0;
	assert_int_equal(g1.status, 200);
	if (g2.result != 0 || g2.status != 200)
		fail_msg("after the close: %s", g2.error != NULL ? g2.error : "not 200");
	assert_int_equal(n_connects, 2);
	run_close(&r);
	got_clear(&g1);
	got_clear(&g2);
}

static int raw_calls, raw_code, raw_order;

static void on_raw_done(void *ctx, void *easy, int code)
{
	(void)ctx;
	assert_non_null(easy);
	raw_calls++;
	raw_code = code;
	raw_order = ++seq;
	n_done++;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *userp)
{
	(void)data;
	(void)userp;
	return size * nmemb;
}

static void test_launch_refused(void **state)
{
	struct tg_http_limits one = { .max_parallel = 1 };
	struct tg_http_request req = { .url = url(&plain, "/feeds/a.csv?_delay=0.2&id=lr") };
	struct got g[3] = { { 0 } }, gs = { 0 };
	struct tg_error err = { "" };
	struct run r;
	int i;

	(void)state;
	run_open(&r, &one);
	/* room for it: refused at once, and the caller is told */
	refuse_adds = 1;
	assert_null(tg_http_start(r.h, &req, on_done, &gs, &err));
	assert_contains(err.msg, "libcurl refused the transfer");
	assert_contains(err.msg, "/feeds/a.csv");
	assert_int_equal(tg_http_in_flight(r.h), 0);
	/* queued: refused when its turn comes, told from the loop, and the
	 * next one still begins */
	for (i = 0; i < 3; i++)
		start(&r, &req, &g[i]);
	refuse_adds = 1;
	run_until(&r, 3);
	assert_int_equal(refuse_adds, 0);
	assert_int_equal(g[0].status, 200);
	assert_int_equal(g[1].calls, 1);
	assert_int_equal(g[1].result, -EIO);
	assert_int_equal(g[1].status, 0);
	assert_contains(g[1].error, req.url);
	assert_contains(g[1].error, "libcurl refused the transfer");
	assert_int_equal(g[2].status, 200);
	assert_int_equal(g[2].order, 3);
	assert_int_equal(gs.calls, 0);
	assert_int_equal(tg_http_in_flight(r.h), 0);
	run_close(&r);
	for (i = 0; i < 3; i++)
		got_clear(&g[i]);
}

static void test_raw_queued(void **state)
{
	/* a raw transfer waits behind an HTTP one like any other; refused when
	 * its turn comes, its callback has curl's code for it, from the loop */
	struct tg_http_limits one = { .max_parallel = 1 };
	struct tg_http_request slow = { .url = url(&plain, "/feeds/a.csv?_delay=0.2&id=rq") };
	int refuse;

	(void)state;
	for (refuse = 0; refuse < 2; refuse++) {
		struct got g = { 0 };
		struct tg_error err = { "" };
		struct run r;
		CURL *easy = curl_easy_init();

		assert_non_null(easy);
		assert_int_equal(curl_easy_setopt(easy, CURLOPT_URL,
						  url(&plain, "/feeds/a.csv?id=raw")), CURLE_OK);
		assert_int_equal(curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard), CURLE_OK);
		run_open(&r, &one);
		raw_calls = 0;
		start(&r, &slow, &g);
		if (tg_http_start_raw(r.h, easy, on_raw_done, NULL, &err) == NULL)
			fail_msg("tg_http_start_raw: %s", err.msg);
		assert_int_equal(tg_http_in_flight(r.h), 2);
		assert_int_equal(raw_calls, 0);
		refuse_adds = refuse;
		run_until(&r, 2);
		assert_int_equal(g.status, 200);
		assert_int_equal(raw_calls, 1);
		assert_int_equal(raw_order, 2);
		if (refuse)
			assert_int_not_equal(raw_code, CURLE_OK);
		else
			assert_int_equal(raw_code, CURLE_OK);
		assert_int_equal(tg_http_in_flight(r.h), 0);
		run_close(&r);
		got_clear(&g);
	}
}

/*
 * A handle that carried a request with the same options is reused without
 * a reset (only the request's own pointers are set again), else it is reset
 * and set up whole: either way the server must see exactly what a fresh
 * handle sends.  Each case sends `second` after `first` on one handle
 * (max_parallel 1: the first's handle goes to the second) and alone on a
 * fresh engine, and compares the two requests logged.
 */
static void test_reuse_matches_fresh(void **state)
{
	static const char *const h_json[] = { "Content-Type: application/json", "X-Trace: 1" };
	static const char *const h_text[] = { "Content-Type: text/plain", "X-Trace: 22222" };
	static const char *const h_long[] = {
		"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	static const char nul_body[] = "{\"a\":\"\0\0\"}";
	static const struct {
		const char *path;
		struct tg_http_request first, second;
	} cases[] = {
		/* same options: the own ones differ (body, header list) */
		{ "/hooks/r?case=0",
		  { .method = "POST", .body = "{}", .body_len = 2, .headers = h_json, .n_headers = 2 },
		  { .method = "POST", .body = nul_body, .body_len = sizeof(nul_body) - 1,
		    .headers = h_text, .n_headers = 2 } },
		{ "/hooks/r?case=1",
		  { .method = "POST", .body = "abc", .body_len = 3, .headers = h_json, .n_headers = 2 },
		  { .method = "POST" } },
		{ "/hooks/r?case=2",
		  { .method = "POST" },
		  { .method = "POST", .body = "x", .body_len = 1, .headers = h_long, .n_headers = 1 } },
		{ "/feeds/a.csv?case=3", { .if_none_match = "\"v1\"" }, { 0 } },
		{ "/feeds/a.csv?case=4", { 0 }, { .if_modified_since = "Sat, 01 Jan 2000 00:00:00 GMT" } },
		/* other options: reset */
		{ "/hooks/r?case=5", { .method = "POST", .body = "{}", .body_len = 2 }, { 0 } },
		{ "/hooks/r?case=6", { .method = "PUT", .body = "{}", .body_len = 2 },
		  { .method = "POST", .body = "{}", .body_len = 2 } },
		{ "/hooks/r?case=7", { .method = "PUT", .body = "p", .body_len = 1 },
		  { .method = "POST", .body = "p", .body_len = 1 } },
		{ "/feeds/a.csv?case=8", { .bearer_token = "tok-1" }, { 0 } },
		{ "/feeds/a.csv?case=9", { .username = "alice", .password = "pw1" },
		  { .username = "bob", .password = "pw2" } },
		{ "/feeds/a.csv?case=10", { .username = "alice" }, { .bearer_token = "tok-2" } },
		{ "/feeds/a.csv?case=11", { .method = "HEAD" }, { 0 } },
		{ "/feeds/a.csv?case=12", { .no_redirect = true, .timeout_ms = 5000 },
		  { .method = "HEAD" } },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tg_http_limits one = { .max_parallel = 1 };
		struct tg_http_request first = cases[i].first, second = cases[i].second;
		static const char *const marks[] = { "reused", "fresh" };
		char mark_hdr[2][64];
		const char *with_mark[2][8];
		json_t *rec[2];
		struct got g1 = { 0 }, g2 = { 0 };
		struct run r;
		int k;

		first.url = second.url = url(&plain, cases[i].path);
		for (k = 0; k < 2; k++) {
			/* a marker header, last, to find each in the log */
			size_t n = second.n_headers;

			assert_true(n < 7);
			if (n > 0)
				memcpy(with_mark[k], cases[i].second.headers, n * sizeof(char *));
			snprintf(mark_hdr[k], sizeof(mark_hdr[k]), "X-Case: %zu-%s", i, marks[k]);
			with_mark[k][n] = mark_hdr[k];
		}

		run_open(&r, &one);
		start(&r, &first, &g1);
		second.headers = with_mark[0];
		second.n_headers = cases[i].second.n_headers + 1;
		start(&r, &second, &g2);
		run_until(&r, 2);
		run_close(&r);
		if (g1.result != 0 || g2.result != 0)
			fail_msg("case %zu: %s / %s", i, g1.error ? g1.error : "-",
				 g2.error ? g2.error : "-");
		got_clear(&g1);
		got_clear(&g2);

		run_open(&r, NULL);
		second.headers = with_mark[1];
		start(&r, &second, &g2);
		run_until(&r, 1);
		run_close(&r);
		assert_int_equal(g2.result, 0);
		got_clear(&g2);

		for (k = 0; k < 2; k++) {
			char v[64];

			snprintf(v, sizeof(v), "%zu-%s", i, marks[k]);
			rec[k] = logged_by_header(&plain, "X-Case", v);
			if (rec[k] == NULL)
				fail_msg("case %zu: no %s request logged", i, marks[k]);
			json_object_del(json_object_get(rec[k], "headers"), "X-Case");
		}
		if (!json_equal(rec[0], rec[1])) {
			char *a = json_dumps(rec[0], JSON_SORT_KEYS), *b = json_dumps(rec[1], JSON_SORT_KEYS);

			fail_msg("case %zu: reused handle sent %s\nfresh handle sent %s", i, a, b);
		}
		json_decref(rec[0]);
		json_decref(rec[1]);
	}
}

/* How many requests the server logged whose path contains marker. */
static int count_logged(const struct server *s, const char *marker)
{
	return log_search(s, path_has, marker, NULL, NULL);
}

/*
 * curl gets each transfer's URL already parsed (CURLOPT_CURLU), and a
 * handle reused with the same options keeps what curl made of the last
 * one: one handle (max_parallel 1) carries a followed redirect, the same
 * URL again (reused as is), a POST elsewhere (reset), the redirect again
 * and another URL.  Each must reach its own URL, follow from it, and the
 * POST alone goes without Accept-Encoding.
 */
static void test_reuse_url_sequence(void **state)
{
	enum { N = 5 };
	struct tg_http_limits one = { .max_parallel = 1 };
	char redir[512], target[512], hook[512], other[512];
	struct tg_http_request req[N];
	static struct got g[N];
	struct run r;
	json_t *rec;
	int i;

	(void)state;
	snprintf(target, sizeof(target), "%s", url(&plain, "/feeds/a.csv?id=seq-a"));
	snprintf(redir, sizeof(redir), "%s",
		 url(&plain, "/r?m=seq-r&_redirect=/feeds/a.csv%3Fid%3Dseq-a"));
	snprintf(hook, sizeof(hook), "%s", url(&plain, "/hooks/r?id=seq-c"));
	snprintf(other, sizeof(other), "%s", url(&plain, "/feeds/a.csv?id=seq-e"));
	memset(req, 0, sizeof(req));
	memset(g, 0, sizeof(g));
	req[0].url = req[1].url = req[3].url = redir;
	req[2].url = hook;
	req[2].method = "POST";
	req[2].body = "{}";
	req[2].body_len = 2;
	req[4].url = other;
	run_open(&r, &one);
	for (i = 0; i < N; i++)
		start(&r, &req[i], &g[i]);
	run_until(&r, N);
	run_close(&r);
	for (i = 0; i < N; i++) {
		if (g[i].result != 0 || g[i].status != 200)
			fail_msg("request %d: %d, status %ld, %s", i, g[i].result, g[i].status,
				 g[i].error ? g[i].error : "-");
		assert_string_equal(g[i].effective_url,
				    i == 2 ? hook : i == 4 ? other : target);
	}
	assert_int_equal(count_logged(&plain, "m=seq-r"), 3);
	assert_int_equal(count_logged(&plain, "id=seq-a"), 3);
	assert_int_equal(count_logged(&plain, "id=seq-c"), 1);
	assert_int_equal(count_logged(&plain, "id=seq-e"), 1);
	rec = logged(&plain, "id=seq-c");
	assert_null(header_of(rec, "Accept-Encoding"));
	assert_string_equal(json_string_value(json_object_get(rec, "method")), "POST");
	json_decref(rec);
	rec = logged(&plain, "id=seq-e");
	assert_null(header_of(rec, "Accept-Encoding"));
	json_decref(rec);
	for (i = 0; i < N; i++)
		got_clear(&g[i]);
}

/*
 * The last URL parsed is remembered (a fan-out posts to one URL again and
 * again): what a request gets from the memo (its redacted form, its path
 * hidden or not, its scheme) must be what parsing gives.  Each URL is sent
 * twice in a row on one engine (the second hits the memo) and the two
 * failures compared, also with hide_path changing between them.
 */
/* The length of the URL a message starts with ("URL: ..."). */
static size_t url_part(const char *msg)
{
	const char *p = strstr(msg, "://"), *end = p != NULL ? strstr(p, ": ") : NULL;

	return end != NULL ? (size_t)(end - msg) : strlen(msg);
}

static void test_url_memo_matches_parse(void **state)
{
	static const char *const paths[] = {
		"/x",
		"/services/T000/B000/XXXXSECRET?token=abc&a=1",
		"/a%20b/%C3%A8?api_key=k#frag",
		"/p?sig=1;auth=2&PASSWORD=3",
		"/",
		"",
		"/?",
		"/very/long/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	static const bool hides[][2] = { { false, false }, { true, true }, { false, true },
					 { true, false } };
	int port = dead_port();
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (j = 0; j < sizeof(hides) / sizeof(hides[0]); j++) {
			char u[512];
			struct tg_http_request req = { .url = u };
			struct got g[2] = { { 0 } }, fresh = { 0 };
			struct run r;
			int k;

			snprintf(u, sizeof(u), "http://127.0.0.1:%d%s", port, paths[i]);
			run_open(&r, NULL);
			for (k = 0; k < 2; k++) {
				req.hide_path = hides[j][k];
				start(&r, &req, &g[k]);
				run_until(&r, k + 1);
			}
			run_close(&r);
			run_open(&r, NULL);   /* the second one, parsed */
			start(&r, &req, &fresh);
			run_until(&r, 1);
			run_close(&r);
			for (k = 0; k < 2; k++)
				if (g[k].result != -ECONNREFUSED || g[k].error == NULL)
					fail_msg("case %zu/%zu: result %d", i, j, g[k].result);
			/* a message is "URL: what curl said" (with its timings) */
			if (strcmp(g[1].effective_url, fresh.effective_url) != 0 ||
			    url_part(g[1].error) != url_part(fresh.error) ||
			    strncmp(g[1].error, fresh.error, url_part(fresh.error)) != 0)
				fail_msg("case %zu/%zu: memo \"%s\" (%s), parsed \"%s\" (%s)", i, j,
					 g[1].error, g[1].effective_url, fresh.error,
					 fresh.effective_url);
			for (k = 0; k < 2; k++)
				if (strstr(g[k].error, "abc") != NULL ||
				    (hides[j][k] && (strstr(g[k].error, "SECRET") != NULL ||
						     strstr(g[k].error, "/x") != NULL ||
						     strstr(g[k].error, "aaaa") != NULL)))
					fail_msg("case %zu/%zu: leaked in \"%s\"", i, j, g[k].error);
			got_clear(&g[0]);
			got_clear(&g[1]);
			got_clear(&fresh);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_table),
		cmocka_unit_test(test_redact_truncation),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_get_200),
		cmocka_unit_test(test_conditional_304),
		cmocka_unit_test(test_status_500_and_404),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_trickle),
		cmocka_unit_test(test_connection_reset_and_refused),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_https),
		cmocka_unit_test(test_slow_does_not_delay_fast),
		cmocka_unit_test(test_parallel_limit),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_free_in_flight),
		cmocka_unit_test(test_callback_reentry),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_no_credentials_in_errors),
		cmocka_unit_test(test_proxies),
		cmocka_unit_test(test_post_put),
		cmocka_unit_test(test_queue_fifty),
		cmocka_unit_test(test_queue_fifo),
		cmocka_unit_test(test_queue_timeout_starts_with_transfer),
		cmocka_unit_test(test_queue_per_host),
		cmocka_unit_test(test_queue_free),
		cmocka_unit_test(test_borrowed_body),
		cmocka_unit_test(test_idle_connection_closed),
		cmocka_unit_test(test_launch_refused),
		cmocka_unit_test(test_raw_queued),
		cmocka_unit_test(test_reuse_matches_fresh),
		cmocka_unit_test(test_reuse_url_sequence),
		cmocka_unit_test(test_url_memo_matches_parse),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
