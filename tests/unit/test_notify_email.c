/*
 * test_notify_email.c — SMTP delivery against a real aiosmtpd server on
 * loopback (tests/smtp_server.py, one per test with the faults it needs,
 * killed at the end even when the test fails).
 *
 * Each test runs its own sd-event loop until the callback arrives, under a
 * 60 s safety timer that fails the test.  What arrived is read back from the
 * server's NNNN.eml / NNNN.json files.  The tests skip (with a message) when
 * /usr/bin/python3 cannot import aiosmtpd (Debian: python3-aiosmtpd).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "notify_email.h"

#ifndef TG_TEST_DATA
#define TG_TEST_DATA "tests/data"
#endif

#define PYTHON        "/usr/bin/python3"
#define SERVER_SCRIPT TG_TEST_DATA "/../smtp_server.py"
#define CA_FILE       TG_TEST_DATA "/tls/ca.pem"
#define CERT_FILE     TG_TEST_DATA "/tls/localhost.pem"
#define KEY_FILE      TG_TEST_DATA "/tls/localhost.key"
#define SAFETY_USEC   (60 * 1000000ULL)
#define MAX_SERVERS   4
#define MAX_RCPT      8

#define PASSWORD      "Tr0ub4dor&3-segreto"
#define TLS_ARGS      "--tls-cert", CERT_FILE, "--tls-key", KEY_FILE

static const char message[] =
	"From: =?UTF-8?Q?Ufficio_Qualit=C3=A0?= <qualita@comune.example>\r\n"
	"To: owner@comune.example\r\n"
	"Subject: traguardo: prova\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=UTF-8\r\n"
	"\r\n"
	"Indicatore rifiuti: 12,5 (obiettivo 10).\r\n";

static char dir[64];
static bool have_aiosmtpd;

struct server {
	pid_t pid;
	int port;
	char dir[128];
	char out[128];
};

static struct server servers[MAX_SERVERS];
static int n_servers;

/* ---- the SMTP server ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define NEED_SMTP()                                                                  \
	do {                                                                         \
		if (!have_aiosmtpd) {                                                \
			print_message("skipped: " PYTHON " cannot import aiosmtpd "   \
				      "(apt-get install python3-aiosmtpd)\n");       \
			skip();                                                      \
		}                                                                    \
	} while (0)

/* Starts tests/smtp_server.py with the given extra arguments (NULL-ended). */
static struct server *server_start(const char *first, ...)
{
	struct server *s;
	const char *argv[40];
	char portfile[160];
	int argc = 0, i, k;
	va_list ap;

	assert_true(n_servers < MAX_SERVERS);
	k = n_servers++;
	s = &servers[k];
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/srv%d-%ld", dir, k, (long)now_ms());
	snprintf(s->out, sizeof(s->out), "%s/srv%d-%ld.out", dir, k, (long)now_ms());
	snprintf(portfile, sizeof(portfile), "%s.port", s->out);
	argv[argc++] = "python3";
	argv[argc++] = SERVER_SCRIPT;
	argv[argc++] = "--host";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "--port";
	argv[argc++] = "0";
	argv[argc++] = "--port-file";
	argv[argc++] = portfile;
	argv[argc++] = "--dir";
	argv[argc++] = s->dir;
	va_start(ap, first);
	for (const char *a = first; a != NULL && argc < 38; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;

	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		/* a sanitizer abort skips the teardown: die with the test */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() == 1)
			_exit(125);
		if (freopen(s->out, "w", stdout) == NULL || dup2(fileno(stdout), 2) < 0)
			_exit(126);
		execv(PYTHON, (char *const *)argv);
		_exit(127);
	}
	/* readiness: the port file appears once the socket listens */
	for (i = 0; i < 750; i++) {
		FILE *f = fopen(portfile, "r");
		int status;

		if (f != NULL) {
			int ok = fscanf(f, "%d", &s->port) == 1;

			fclose(f);
			if (ok && s->port > 0)
				return s;
		}
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			fail_msg("smtp_server.py died: see %s", s->out);
		}
		sleep_ms(20);
	}
	fail_msg("smtp_server.py did not start in 15 s: see %s", s->out);
	return NULL;
}

static void server_stop(struct server *s)
{
	int i, status;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	for (i = 0; i < 250; i++) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return;
		}
		sleep_ms(20);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = 0;
}

static void servers_stop(void)
{
	int i;

	for (i = 0; i < n_servers; i++)
		server_stop(&servers[i]);
	n_servers = 0;
}

/* Every test stops its servers, passed or failed. */
static int test_teardown(void **state)
{
	(void)state;
	servers_stop();
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	have_aiosmtpd = access(PYTHON, X_OK) == 0 &&
			system(PYTHON " -c 'import aiosmtpd' >/dev/null 2>&1") == 0;
	snprintf(dir, sizeof(dir), "/tmp/tg-email-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	servers_stop();
	if (dir[0] == '\0')
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *url(const char *scheme, int port)
{
	static char buf[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s://127.0.0.1:%d", scheme, port);
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

/* A socket that listens (the kernel completes connections) but never
 * accepts nor reads: a server that never answers. */
static int silent_listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		fail_msg("cannot make a listening socket");
	*port = ntohs(a.sin_port);
	return fd;
}

/* ---- what the server stored ---- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = n + 8192);

			assert_non_null(nb);
			buf = nb;
		}
		r = fread(buf + n, 1, 4096, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int n_messages(const struct server *s)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
			n++;
	}
	closedir(d);
	return n;
}

static json_t *stored_json(const struct server *s, int n)
{
	char path[200];
	json_error_t je;
	json_t *j;

	snprintf(path, sizeof(path), "%s/%04d.json", s->dir, n);
	j = json_load_file(path, 0, &je);
	if (j == NULL)
		fail_msg("%s: %s", path, je.text);
	return j;
}

static char *stored_eml(const struct server *s, int n, size_t *len)
{
	char path[200];
	char *b;

	snprintf(path, sizeof(path), "%s/%04d.eml", s->dir, n);
	b = read_file(path, len);
	if (b == NULL)
		fail_msg("%s: cannot read", path);
	return b;
}

/* ---- the loop ---- */

struct got {
	int calls;
	int result;
	char error[TG_ERROR_MAX];
	size_t n_rcpt;
	enum tg_rcpt_result rcpt[MAX_RCPT];
	char *reply[MAX_RCPT];
	char *final_reply;
};

struct run {
	sd_event *ev;
	struct tg_http *h;
	sd_event_source *safety;
	bool expired;
};

static void on_email(void *ctx, const struct tg_email_result *r)
{
	struct got *g = ctx;
	size_t i;

	g->calls++;
	g->result = r->result;
	snprintf(g->error, sizeof(g->error), "%s", r->error);
	assert_true(r->result == 0 || r->result == -EAGAIN || r->result == -EPERM ||
		    r->result == -EACCES);
	assert_true(r->result == 0 ? r->error[0] == '\0' : r->error[0] != '\0');
	assert_true(r->n_rcpt <= MAX_RCPT);
	g->n_rcpt = r->n_rcpt;
	for (i = 0; i < r->n_rcpt; i++) {
		g->rcpt[i] = r->rcpt[i];
		g->reply[i] = r->rcpt_reply[i] != NULL ? strdup(r->rcpt_reply[i]) : NULL;
	}
	g->final_reply = r->final_reply != NULL ? strdup(r->final_reply) : NULL;
}

static void got_clear(struct got *g)
{
	size_t i;

	for (i = 0; i < MAX_RCPT; i++)
		free(g->reply[i]);
	free(g->final_reply);
	memset(g, 0, sizeof(*g));
}

static int on_safety(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	((struct run *)userdata)->expired = true;
	return 0;
}

static void run_open(struct run *r)
{
	struct tg_error err = { "" };

	memset(r, 0, sizeof(*r));
	assert_int_equal(sd_event_new(&r->ev), 0);
	assert_int_equal(sd_event_add_time_relative(r->ev, &r->safety, CLOCK_MONOTONIC,
						    SAFETY_USEC, 0, on_safety, r), 0);
	r->h = tg_http_new(r->ev, NULL, &err);
	if (r->h == NULL)
		fail_msg("tg_http_new: %s", err.msg);
}

static void run_until(struct run *r, const struct got *g)
{
	while (g->calls == 0 && !r->expired)
		assert_true(sd_event_run(r->ev, UINT64_MAX) >= 0);
	if (r->expired)
		fail_msg("safety timer: no callback after 60 s");
}

static int on_pause(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	*(bool *)userdata = true;
	return 0;
}

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

static struct tg_email_request request(const char *u, const char *const *to, size_t n_to)
{
	struct tg_email_request req = {
		.url = u, .starttls = false, .from = "qualita@comune.example",
		.to = to, .n_to = n_to, .message = message, .len = sizeof(message) - 1,
		.timeout_ms = 30000,   /* generous: valgrind on a loaded machine */
	};

	return req;
}

static struct tg_email_transfer *start(struct run *r, const struct tg_email_request *req,
				       struct got *g)
{
	struct tg_error err = { "" };
	struct tg_email_transfer *t = tg_email_send(r->h, req, on_email, g, &err);

	if (t == NULL)
		fail_msg("tg_email_send(%s): %s", req->url, err.msg);
	assert_int_equal(g->calls, 0);   /* never called from inside send */
	return t;
}

/* One transaction on a fresh loop, run to its callback. */
static void send_one(const struct tg_email_request *req, struct got *g)
{
	struct run r;

	run_open(&r);
	start(&r, req, g);
	run_until(&r, g);
	assert_int_equal(g->calls, 1);
	run_close(&r);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL)
		fail_msg("\"%s\" not in \"%s\"", needle, hay != NULL ? hay : "(null)");
}

/* ---- tests without a server ---- */

static void test_addr_spec(void **state)
{
	static const struct {
		const char *in, *out;   /* out NULL: refused */
		size_t size;
	} cases[] = {
		{ "qualita@comune.example", "qualita@comune.example", 64 },
		{ "  qualita@comune.example\t", "qualita@comune.example", 64 },
		{ "Ufficio Qualità <qualita@comune.example>", "qualita@comune.example", 64 },
		{ "\"Rossi, Mario <capo>\" <m.rossi@comune.example>", "m.rossi@comune.example", 64 },
		{ "<a@b.it>", "a@b.it", 64 },
		{ "Nome < a@b.it > ", "a@b.it", 64 },
		{ "a@b.it", "a@b.it", 7 },       /* exactly fits */
		{ "a@b.it", NULL, 6 },           /* too long for buf */
		{ "", NULL, 64 },
		{ "   ", NULL, 64 },
		{ "Nome <>", NULL, 64 },
		{ "Nome <a@b.it", NULL, 64 },
		{ "Nome a@b.it>", NULL, 64 },
		{ "a@b.it\r\nRCPT TO:<x@y>", NULL, 64 },
		{ "Nome <a@b.it\r\nDATA>", NULL, 64 },
		{ "a b@c.it", NULL, 64 },
		{ "a\x7f@c.it", NULL, 64 },
	};
	size_t i;
	char buf[64];

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *r;

		memset(buf, 'Z', sizeof(buf));
		r = tg_email_addr_spec(cases[i].in, buf, cases[i].size);
		if (cases[i].out == NULL) {
			if (r != NULL)
				fail_msg("case %zu: \"%s\" gave \"%s\", expected NULL", i, cases[i].in, r);
		} else {
			if (r == NULL || strcmp(r, cases[i].out) != 0)
				fail_msg("case %zu: \"%s\" gave \"%s\", expected \"%s\"", i,
					 cases[i].in, r ? r : "(null)", cases[i].out);
			assert_ptr_equal(r, buf);
		}
	}
	assert_null(tg_email_addr_spec(NULL, buf, sizeof(buf)));
	assert_null(tg_email_addr_spec("a@b.it", NULL, 10));
	assert_null(tg_email_addr_spec("a@b.it", buf, 0));
}

static void test_bad_requests(void **state)
{
	static const char *const one[] = { "a@comune.example" };
	static const char *const bad_to[] = { "a@comune.example", "b@x.it\r\nDATA" };
	static const char *const null_to[] = { NULL };
	static const struct {
		const char *url, *from;
		const char *const *to;
		size_t n_to;
		const char *msg;
		size_t len;
		int64_t timeout_ms;
		const char *user, *pass;
		const char *expect;
	} cases[] = {
		{ "http://127.0.0.1:25", "q@c.it", one, 1, "x", 1, 0, NULL, NULL, "only smtp://" },
		{ "ftp://127.0.0.1", "q@c.it", one, 1, "x", 1, 0, NULL, NULL, "only smtp://" },
		{ "smtp://exa mple:25", "q@c.it", one, 1, "x", 1, 0, NULL, NULL, "not a valid URL" },
		{ "smtp://u:pw-in-url@127.0.0.1:25", "q@c.it", one, 0, "x", 1, 0, NULL, NULL,
		  "no recipients" },
		{ "smtp://127.0.0.1:25", "q@c.it", NULL, 1, "x", 1, 0, NULL, NULL, "no recipients" },
		{ "smtp://127.0.0.1:25", "q@c.it", bad_to, 2, "x", 1, 0, NULL, NULL,
		  "recipient 2 \"b@x.it\\x0D\\x0ADATA\"" },
		{ "smtp://127.0.0.1:25", "q@c.it", null_to, 1, "x", 1, 0, NULL, NULL, "recipient 1" },
		{ "smtp://127.0.0.1:25", NULL, one, 1, "x", 1, 0, NULL, NULL, "sender" },
		{ "smtp://127.0.0.1:25", "Q <q@c.it>", one, 1, "x", 1, 0, NULL, NULL, "sender" },
		{ "smtp://127.0.0.1:25", "q@c.it\nRSET", one, 1, "x", 1, 0, NULL, NULL, "sender" },
		{ "smtp://127.0.0.1:25", "q@c.it", one, 1, NULL, 5, 0, NULL, NULL, "without a message" },
		{ "smtp://127.0.0.1:25", "q@c.it", one, 1, "x", 1, -1, NULL, NULL, "negative timeout" },
		{ "smtp://127.0.0.1:25", "q@c.it", one, 1, "x", 1, 0, NULL, "pw", "without a user" },
		{ "smtp://127.0.0.1:25", "q@c.it", one, 1, "x", 1, 0, "u\r\n", "pw", "control" },
	};
	struct run r;
	size_t i;

	(void)state;
	run_open(&r);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tg_email_request req = {
			.url = cases[i].url, .from = cases[i].from, .to = cases[i].to,
			.n_to = cases[i].n_to, .message = cases[i].msg, .len = cases[i].len,
			.timeout_ms = cases[i].timeout_ms, .username = cases[i].user,
			.password = cases[i].pass,
		};
		struct tg_error err = { "" };
		struct got g = { 0 };

		if (tg_email_send(r.h, &req, on_email, &g, &err) != NULL)
			fail_msg("case %zu: accepted", i);
		if (strstr(err.msg, cases[i].expect) == NULL)
			fail_msg("case %zu: \"%s\" not in \"%s\"", i, cases[i].expect, err.msg);
		if (strncmp(err.msg, "smtp://", 7) != 0 && strncmp(err.msg, "http://", 7) != 0 &&
		    strncmp(err.msg, "ftp://", 6) != 0)
			fail_msg("case %zu: \"%s\" does not start with the URL", i, err.msg);
		assert_null(strstr(err.msg, "pw-in-url"));
	}
	/* no engine, no request, no callback */
	{
		struct tg_email_request req = request("smtp://127.0.0.1:25", one, 1);
		struct tg_error err = { "" };
		struct got g = { 0 };

		assert_null(tg_email_send(NULL, &req, on_email, &g, &err));
		assert_null(tg_email_send(r.h, NULL, on_email, &g, &err));
		assert_null(tg_email_send(r.h, &req, NULL, &g, &err));
		assert_true(err.msg[0] != '\0');
	}
	tg_email_cancel(NULL);
	run_close(&r);
}

static void test_connection_refused(void **state)
{
	static const char *const to[] = { "a@comune.example" };
	struct tg_email_request req = request(url("smtp", dead_port()), to, 1);
	struct got g = { 0 };

	(void)state;
	send_one(&req, &g);
	assert_int_equal(g.result, -EAGAIN);
	assert_contains(g.error, req.url);
	assert_contains(g.error, "cannot connect");
	assert_int_equal(g.n_rcpt, 1);
	assert_int_equal(g.rcpt[0], TG_RCPT_TEMPFAIL);
	assert_null(g.reply[0]);
	assert_null(g.final_reply);
	got_clear(&g);
}

struct ticker {
	sd_event_source *src;
	uint64_t last, max_gap;
	int ticks;
};

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct ticker *k = userdata;
	uint64_t now = now_ms();

	(void)usec;
	if (k->ticks > 0 && now - k->last > k->max_gap)
		k->max_gap = now - k->last;
	k->last = now;
	k->ticks++;
	assert_int_equal(sd_event_source_set_time_relative(s, 100000), 0);
	assert_int_equal(sd_event_source_set_enabled(s, SD_EVENT_ONESHOT), 0);
	return 0;
}

static void test_silent_server(void **state)
{
	static const char *const to[] = { "a@comune.example" };
	struct tg_email_request req;
	struct ticker k = { 0 };
	struct got g = { 0 };
	struct run r;
	int port, fd = silent_listener(&port);

	(void)state;
	req = request(url("smtp", port), to, 1);
	req.timeout_ms = 1500;
	run_open(&r);
	assert_int_equal(sd_event_add_time_relative(r.ev, &k.src, CLOCK_MONOTONIC, 100000, 1000,
						    on_tick, &k), 0);
	k.last = now_ms();
	start(&r, &req, &g);
	run_until(&r, &g);
	sd_event_source_disable_unref(k.src);
	run_close(&r);
	close(fd);
	assert_int_equal(g.result, -EAGAIN);
	assert_contains(g.error, "timed out after 1.5 s");
	assert_contains(g.error, "greeting");
	/* the loop turned all along: about 15 ticks in 1.5 s, never a long gap */
	if (k.ticks < 8 || k.max_gap > 1000)
		fail_msg("loop blocked: %d ticks, longest gap %" PRIu64 " ms", k.ticks, k.max_gap);
	assert_int_equal(g.rcpt[0], TG_RCPT_TEMPFAIL);
	got_clear(&g);
}

static void test_cancel(void **state)
{
	static const char *const to[] = { "a@comune.example", "b@comune.example" };
	struct tg_email_request req;
	struct got g = { 0 };
	struct run r;
	int port, fd = silent_listener(&port);

	(void)state;
	req = request(url("smtp", port), to, 2);
	req.timeout_ms = 60000;
	run_open(&r);
	/* before the loop ever ran */
	tg_email_cancel(start(&r, &req, &g));
	tg_email_cancel(start(&r, &req, &g));
	/* connected, waiting for the greeting */
	{
		struct tg_email_transfer *t = start(&r, &req, &g);
		uint64_t t0;

		run_for(&r, 300000);
		assert_int_equal(tg_http_in_flight(r.h), 1);
		t0 = now_ms();
		tg_email_cancel(t);
		/* libcurl would otherwise wait (blocking) for a reply to "." */
		if (now_ms() - t0 > 5000)
			fail_msg("tg_email_cancel blocked for %" PRIu64 " ms", now_ms() - t0);
	}
	assert_int_equal(tg_http_in_flight(r.h), 0);
	run_for(&r, 100000);
	assert_int_equal(g.calls, 0);
	run_close(&r);
	close(fd);
}

/* ---- against the server ---- */

static void test_plain_delivers(void **state)
{
	static const char *const to[] = { "owner@comune.example" };
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 }, g2 = { 0 };
	struct run r;
	json_t *j;
	char *eml;
	size_t len;

	(void)state;
	NEED_SMTP();
	s = server_start(NULL);
	req = request(url("smtp", s->port), to, 1);
	run_open(&r);
	start(&r, &req, &g);
	run_until(&r, &g);
	assert_int_equal(g.result, 0);
	assert_int_equal(g.n_rcpt, 1);
	assert_int_equal(g.rcpt[0], TG_RCPT_ACCEPTED);
	assert_string_equal(g.reply[0], "250 OK");
	assert_string_equal(g.final_reply, "250 2.0.0 OK queued as 0001");
	/* a second message on the same engine (curl reuses the connection:
	 * no greeting, no EHLO this time) */
	start(&r, &req, &g2);
	run_until(&r, &g2);
	run_close(&r);
	assert_int_equal(g2.result, 0);
	assert_int_equal(g2.rcpt[0], TG_RCPT_ACCEPTED);
	assert_string_equal(g2.final_reply, "250 2.0.0 OK queued as 0002");
	assert_int_equal(n_messages(s), 2);

	j = stored_json(s, 1);
	assert_string_equal(json_string_value(json_object_get(j, "mail_from")),
			    "qualita@comune.example");
	assert_int_equal(json_array_size(json_object_get(j, "rcpt_tos")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "rcpt_tos"), 0)),
			    "owner@comune.example");
	assert_true(json_is_false(json_object_get(j, "tls")));
	assert_true(json_is_null(json_object_get(j, "auth_user")));
	json_decref(j);
	eml = stored_eml(s, 1, &len);
	assert_int_equal(len, sizeof(message) - 1);
	assert_memory_equal(eml, message, len);
	free(eml);
	got_clear(&g);
	got_clear(&g2);
}

static void test_starttls_auth(void **state)
{
	static const char *const to[] = { "owner@comune.example" };
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 };
	json_t *j;

	(void)state;
	NEED_SMTP();
	s = server_start(TLS_ARGS, "--require-tls", "--auth", "qualita:" PASSWORD,
			 "--auth-required", NULL);
	req = request(url("smtp", s->port), to, 1);
	req.starttls = true;
	req.ca_file = CA_FILE;
	req.username = "qualita";
	req.password = PASSWORD;
	send_one(&req, &g);
	if (g.result != 0)
		fail_msg("%d: %s", g.result, g.error);
	assert_int_equal(g.rcpt[0], TG_RCPT_ACCEPTED);
	assert_int_equal(n_messages(s), 1);
	j = stored_json(s, 1);
	assert_true(json_is_true(json_object_get(j, "tls")));
	assert_string_equal(json_string_value(json_object_get(j, "auth_user")), "qualita");
	json_decref(j);
	got_clear(&g);
}

static void test_starttls_not_offered(void **state)
{
	static const char *const to[] = { "owner@comune.example" };
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 };

	(void)state;
	NEED_SMTP();
	s = server_start("--auth", "qualita:" PASSWORD, NULL);   /* no TLS at all */
	req = request(url("smtp", s->port), to, 1);
	req.starttls = true;
	req.ca_file = CA_FILE;
	req.username = "qualita";
	req.password = PASSWORD;
	send_one(&req, &g);
	assert_int_equal(g.result, -EACCES);
	assert_contains(g.error, "does not offer STARTTLS");
	assert_null(strstr(g.error, PASSWORD));
	assert_int_equal(g.rcpt[0], TG_RCPT_TEMPFAIL);
	assert_int_equal(n_messages(s), 0);
	got_clear(&g);
}

static void test_smtps(void **state)
{
	static const char *const to[] = { "owner@comune.example" };
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 };
	json_t *j;

	(void)state;
	NEED_SMTP();
	s = server_start(TLS_ARGS, "--smtps", "--auth", "qualita:" PASSWORD, NULL);
	req = request(url("smtps", s->port), to, 1);
	req.starttls = false;   /* irrelevant: smtps is TLS from the first byte */
	req.ca_file = CA_FILE;
	req.username = "qualita";
	req.password = PASSWORD;
	send_one(&req, &g);
	if (g.result != 0)
		fail_msg("%d: %s", g.result, g.error);
	j = stored_json(s, 1);
	assert_true(json_is_true(json_object_get(j, "tls")));
	assert_string_equal(json_string_value(json_object_get(j, "auth_user")), "qualita");
	json_decref(j);
	got_clear(&g);
}

static void test_wrong_password(void **state)
{
	static const char *const to[] = { "owner@comune.example" };
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 };

	(void)state;
	NEED_SMTP();
	s = server_start(TLS_ARGS, "--auth", "qualita:the-right-one", "--auth-required", NULL);
	req = request(url("smtp", s->port), to, 1);
	req.starttls = true;
	req.ca_file = CA_FILE;
	req.username = "qualita";
	req.password = PASSWORD;
	send_one(&req, &g);
	assert_int_equal(g.result, -EACCES);
	assert_contains(g.error, req.url);
	assert_contains(g.error, "authentication failed: 535");
	assert_null(strstr(g.error, PASSWORD));
	assert_null(strstr(g.error, "VHIwdWI0ZG9y"));   /* the password in base64 */
	assert_null(strstr(g.error, "AHF1YWxpdGEAVHIw"));   /* AUTH PLAIN's blob */
	assert_int_equal(g.rcpt[0], TG_RCPT_TEMPFAIL);
	assert_int_equal(n_messages(s), 0);
	got_clear(&g);
}

static void test_untrusted_certificate(void **state)
{
	static const char *const to[] = { "owner@comune.example" };
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 };

	(void)state;
	NEED_SMTP();
	s = server_start(TLS_ARGS, "--auth", "qualita:" PASSWORD, NULL);
	req = request(url("smtp", s->port), to, 1);
	req.starttls = true;
	req.ca_file = NULL;   /* the system's CAs do not know the test CA */
	req.username = "qualita";
	req.password = PASSWORD;
	send_one(&req, &g);
	assert_int_equal(g.result, -EACCES);
	assert_contains(g.error, "certificate not trusted");
	assert_null(strstr(g.error, PASSWORD));
	assert_int_equal(n_messages(s), 0);
	got_clear(&g);
}

static void test_one_recipient_refused(void **state)
{
	static const char *const to[] = { "a@comune.example", "nobody@comune.example",
					  "c@comune.example", "busy@comune.example" };
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 };
	json_t *j, *rc;

	(void)state;
	NEED_SMTP();
	s = server_start("--fail-rcpt", "nobody@comune.example", "--tempfail-rcpt",
			 "busy@comune.example", NULL);
	req = request(url("smtp", s->port), to, 3);
	send_one(&req, &g);
	assert_int_equal(g.result, 0);
	assert_int_equal(g.n_rcpt, 3);
	assert_int_equal(g.rcpt[0], TG_RCPT_ACCEPTED);
	assert_int_equal(g.rcpt[1], TG_RCPT_REFUSED);
	assert_int_equal(g.rcpt[2], TG_RCPT_ACCEPTED);
	assert_string_equal(g.reply[0], "250 OK");
	assert_string_equal(g.reply[1], "550 5.1.1 no such user");
	assert_string_equal(g.reply[2], "250 OK");
	assert_int_equal(n_messages(s), 1);
	j = stored_json(s, 1);
	rc = json_object_get(j, "rcpt_tos");
	assert_int_equal(json_array_size(rc), 2);
	assert_string_equal(json_string_value(json_array_get(rc, 0)), "a@comune.example");
	assert_string_equal(json_string_value(json_array_get(rc, 1)), "c@comune.example");
	json_decref(j);
	got_clear(&g);

	/* one deferred (4xx), one refused, one accepted: still delivered */
	req.to = to + 1;
	send_one(&req, &g);
	assert_int_equal(g.result, 0);
	assert_int_equal(g.rcpt[0], TG_RCPT_REFUSED);
	assert_int_equal(g.rcpt[1], TG_RCPT_ACCEPTED);
	assert_int_equal(g.rcpt[2], TG_RCPT_TEMPFAIL);
	assert_string_equal(g.reply[2], "451 4.2.1 mailbox busy, try later");
	assert_int_equal(n_messages(s), 2);
	got_clear(&g);
}

static void test_every_recipient_refused(void **state)
{
	static const char *const to[] = { "x@comune.example", "y@comune.example",
					  "busy@comune.example" };
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 };

	(void)state;
	NEED_SMTP();
	s = server_start("--fail-rcpt", "x@comune.example", "--fail-rcpt", "y@comune.example",
			 "--tempfail-rcpt", "busy@comune.example", NULL);
	req = request(url("smtp", s->port), to, 2);
	send_one(&req, &g);
	assert_int_equal(g.result, -EPERM);
	assert_contains(g.error, "every recipient refused: x@comune.example: 550 5.1.1 no such "
			"user; y@comune.example: 550");
	assert_int_equal(g.rcpt[0], TG_RCPT_REFUSED);
	assert_int_equal(g.rcpt[1], TG_RCPT_REFUSED);
	assert_null(g.final_reply);
	got_clear(&g);

	/* one of them only deferred: worth another try */
	req.n_to = 3;
	send_one(&req, &g);
	assert_int_equal(g.result, -EAGAIN);
	assert_contains(g.error, "busy@comune.example: 451 4.2.1");
	assert_int_equal(g.rcpt[0], TG_RCPT_REFUSED);
	assert_int_equal(g.rcpt[2], TG_RCPT_TEMPFAIL);
	assert_int_equal(n_messages(s), 0);
	got_clear(&g);
}

static void test_tempfail_data(void **state)
{
	static const char *const to[] = { "a@comune.example", "b@comune.example" };
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 }, g2 = { 0 };
	struct run r;

	(void)state;
	NEED_SMTP();
	s = server_start("--tempfail-data", "1", NULL);
	req = request(url("smtp", s->port), to, 2);
	run_open(&r);
	start(&r, &req, &g);
	run_until(&r, &g);
	assert_int_equal(g.result, -EAGAIN);
	assert_contains(g.error, "message deferred: 451 4.3.0 try again later");
	assert_string_equal(g.final_reply, "451 4.3.0 try again later");
	assert_int_equal(g.rcpt[0], TG_RCPT_TEMPFAIL);
	assert_int_equal(g.rcpt[1], TG_RCPT_TEMPFAIL);
	assert_string_equal(g.reply[0], "250 OK");
	assert_int_equal(n_messages(s), 0);
	/* the retry, on the same engine */
	start(&r, &req, &g2);
	run_until(&r, &g2);
	run_close(&r);
	assert_int_equal(g2.result, 0);
	assert_int_equal(g2.rcpt[0], TG_RCPT_ACCEPTED);
	assert_int_equal(g2.rcpt[1], TG_RCPT_ACCEPTED);
	assert_string_equal(g2.final_reply, "250 2.0.0 OK queued as 0002");
	assert_int_equal(n_messages(s), 1);
	got_clear(&g);
	got_clear(&g2);
}

static void test_permanent_refusals(void **state)
{
	static const char *const to[] = { "a@comune.example" };
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 };

	(void)state;
	NEED_SMTP();
	s = server_start("--fail-data", NULL);
	req = request(url("smtp", s->port), to, 1);
	send_one(&req, &g);
	assert_int_equal(g.result, -EPERM);
	assert_contains(g.error, "message refused: 554 5.6.0 message refused");
	assert_string_equal(g.final_reply, "554 5.6.0 message refused");
	assert_int_equal(g.rcpt[0], TG_RCPT_REFUSED);
	got_clear(&g);
	server_stop(s);

	s = server_start("--fail-mail", NULL);
	req = request(url("smtp", s->port), to, 1);
	send_one(&req, &g);
	/* refused before any recipient: the channel's settings (-EACCES, kept) */
	assert_int_equal(g.result, -EACCES);
	assert_contains(g.error, "sender refused: 553 5.7.1 sender not allowed");
	assert_null(g.reply[0]);
	assert_int_equal(g.rcpt[0], TG_RCPT_TEMPFAIL);
	assert_int_equal(n_messages(s), 0);
	got_clear(&g);
}

static void test_dot_lines_and_bare_newlines(void **state)
{
	static const char *const to[] = { "a@comune.example" };
	static const char sent[] =
		".starts with a dot\r\n"
		"..two dots\r\n"
		".\r\n"
		"a line\n"                                   /* bare LF */
		".\r\n"                                      /* "\n.\r\n" would end DATA */
		"MAIL FROM:<evil@example.com>\r\n"
		"old mac\rline\r\n"                          /* bare CR */
		". last";                                    /* no final CRLF */
	static const char expect[] =
		".starts with a dot\r\n"
		"..two dots\r\n"
		".\r\n"
		"a line\r\n"
		".\r\n"
		"MAIL FROM:<evil@example.com>\r\n"
		"old mac\r\nline\r\n"
		". last\r\n";                                /* curl ends the last line */
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 };
	char *eml;
	size_t len;
	json_t *j;

	(void)state;
	NEED_SMTP();
	s = server_start(NULL);
	req = request(url("smtp", s->port), to, 1);
	req.message = sent;
	req.len = sizeof(sent) - 1;
	send_one(&req, &g);
	if (g.result != 0)
		fail_msg("%d: %s", g.result, g.error);
	assert_int_equal(n_messages(s), 1);
	eml = stored_eml(s, 1, &len);
	if (len != sizeof(expect) - 1 || memcmp(eml, expect, len) != 0)
		fail_msg("arrived as \"%s\"", eml);
	free(eml);
	j = stored_json(s, 1);
	assert_string_equal(json_string_value(json_object_get(j, "mail_from")),
			    "qualita@comune.example");
	json_decref(j);
	got_clear(&g);
}

static void test_empty_message_and_nul(void **state)
{
	static const char *const to[] = { "a@comune.example" };
	static const char with_nul[] = "Subject: x\r\n\r\na\0b\r\n";
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 };
	char *eml;
	size_t len;

	(void)state;
	NEED_SMTP();
	s = server_start(NULL);
	req = request(url("smtp", s->port), to, 1);
	req.message = NULL;
	req.len = 0;
	send_one(&req, &g);
	assert_int_equal(g.result, 0);
	got_clear(&g);
	req.message = with_nul;
	req.len = sizeof(with_nul) - 1;
	send_one(&req, &g);
	assert_int_equal(g.result, 0);
	eml = stored_eml(s, 2, &len);
	assert_int_equal(len, sizeof(with_nul) - 1);
	assert_memory_equal(eml, with_nul, len);
	free(eml);
	got_clear(&g);
}

/* Cancelled while the message goes out: the server must not get the part
 * sent so far as a complete message (libcurl would end the DATA on removal). */
static void test_cancel_mid_data(void **state)
{
	static const char *const to[] = { "a@comune.example" };
	static const char line[] = "Riga di prova del messaggio, abbastanza lunga da "
				   "pesare qualcosa.\r\n";
	const size_t size = 24u * 1024 * 1024;
	struct tg_email_transfer *t;
	struct server *s;
	struct tg_email_request req;
	struct got g = { 0 };
	struct run r;
	char *big;
	size_t i;
	uint64_t t0;

	(void)state;
	NEED_SMTP();
	big = malloc(size);
	assert_non_null(big);
	for (i = 0; i + sizeof(line) - 1 <= size; i += sizeof(line) - 1)
		memcpy(big + i, line, sizeof(line) - 1);
	s = server_start(NULL);
	req = request(url("smtp", s->port), to, 1);
	req.message = big;
	req.len = i;
	req.timeout_ms = 60000;
	run_open(&r);
	t = start(&r, &req, &g);
	run_for(&r, 300000);
	if (g.calls != 0)
		fail_msg("the transfer ended before the cancel (%d: %s)", g.result, g.error);
	t0 = now_ms();
	tg_email_cancel(t);
	if (now_ms() - t0 > 5000)
		fail_msg("tg_email_cancel blocked for %" PRIu64 " ms", now_ms() - t0);
	run_close(&r);
	free(big);
	sleep_ms(500);   /* what the server got, it has processed by now */
	server_stop(s);
	assert_int_equal(n_messages(s), 0);
	assert_int_equal(g.calls, 0);
}

/* done may cancel its own transfer or free the engine */
struct reentry {
	struct got g;
	struct tg_email_transfer *self;
	struct tg_http *free_engine;
};

static void on_email_reentry(void *ctx, const struct tg_email_result *res)
{
	struct reentry *e = ctx;

	on_email(&e->g, res);
	tg_email_cancel(e->self);   /* a no-op from its own callback */
	if (e->free_engine != NULL)
		tg_http_free(e->free_engine);
}

static void test_callback_reentry(void **state)
{
	static const char *const to[] = { "a@comune.example" };
	struct server *s;
	struct tg_email_request req;
	struct reentry e = { 0 };
	struct tg_error err = { "" };
	struct run r;

	(void)state;
	NEED_SMTP();
	s = server_start(NULL);
	req = request(url("smtp", s->port), to, 1);
	run_open(&r);
	e.self = tg_email_send(r.h, &req, on_email_reentry, &e, &err);
	assert_non_null(e.self);
	e.free_engine = r.h;
	run_until(&r, &e.g);
	assert_int_equal(e.g.result, 0);
	r.h = NULL;   /* freed by the callback */
	run_close(&r);
	got_clear(&e.g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_spec),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_silent_server),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test_teardown(test_plain_delivers, test_teardown),
		cmocka_unit_test_teardown(test_starttls_auth, test_teardown),
		cmocka_unit_test_teardown(test_starttls_not_offered, test_teardown),
		cmocka_unit_test_teardown(test_smtps, test_teardown),
		cmocka_unit_test_teardown(test_wrong_password, test_teardown),
		cmocka_unit_test_teardown(test_untrusted_certificate, test_teardown),
		cmocka_unit_test_teardown(test_one_recipient_refused, test_teardown),
		cmocka_unit_test_teardown(test_every_recipient_refused, test_teardown),
		cmocka_unit_test_teardown(test_tempfail_data, test_teardown),
		cmocka_unit_test_teardown(test_permanent_refusals, test_teardown),
		cmocka_unit_test_teardown(test_dot_lines_and_bare_newlines, test_teardown),
		cmocka_unit_test_teardown(test_empty_message_and_nul, test_teardown),
		cmocka_unit_test_teardown(test_callback_reentry, test_teardown),
		cmocka_unit_test_teardown(test_cancel_mid_data, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
