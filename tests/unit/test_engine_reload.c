/*
 * test_engine_reload.c — tg_engine_reconfigure (SIGHUP): the store and its
 * journal are kept, a source's state follows its name, new targets apply at
 * the next evaluation, a change of state_dir is refused with nothing
 * changed, and an HTTP run in progress (a server that never answers) is
 * cancelled without its callback; tg_engine_cancel_all for shutdown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "log.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tg-reload-XXXXXX");
	tg_log_init("test_engine_reload", 0);
	char state_dir[96];

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	return mkdir(state_dir, 0700);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
	fclose(f);
}

/* The configuration: "@D" is the test directory, "@P" the port. */
static struct tg_config *load(const char *text, int port)
{
	char buf[4096];
	size_t o = 0;
	struct tg_error err;
	struct tg_config *cfg;

	for (const char *p = text; *p != '\0'; p++) {
		if (p[0] == '@' && p[1] == 'D') {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", dir);
			p++;
		} else if (p[0] == '@' && p[1] == 'P') {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%d", port);
			p++;
		} else {
			buf[o++] = *p;
		}
		assert_true(o < sizeof(buf) - 1);
	}
	buf[o] = '\0';
	cfg = tg_config_load_string(buf, "/tmp/t.conf", NULL, NULL, &err);
	if (cfg == NULL)
		fail_msg("config not valid: %s", err.msg);
	return cfg;
}

static const char conf_a[] =
	"daemon = { state_dir = \"@D/state\"; language = \"en\"; };\n"
	"sources = ( { name = \"bad\"; type = \"csv\"; path = \"@D/absent-*.csv\"; },\n"
	"            { name = \"good\"; type = \"csv\"; path = \"@D/good.csv\"; } );\n"
	"indicators = ( { id = \"G-1\"; name = \"g\"; department = \"D\"; target = 10; source = \"good\"; } );\n";
/* sources reordered, one gone; G-1's target lowered; a new indicator */
static const char conf_b[] =
	"daemon = { state_dir = \"@D/state\"; language = \"en\"; };\n"
	"sources = ( { name = \"good\"; type = \"csv\"; path = \"@D/good.csv\"; },\n"
	"            { name = \"new\"; type = \"csv\"; path = \"@D/good.csv\"; } );\n"
	"indicators = ( { id = \"N-1\"; name = \"n\"; department = \"D\"; target = 1; },\n"
	"               { id = \"G-1\"; name = \"g\"; department = \"D\"; target = 5; source = \"good\"; } );\n";
static const char conf_other_dir[] =
	"daemon = { state_dir = \"@D/elsewhere\"; };\n"
	"sources = ( { name = \"good\"; type = \"csv\"; path = \"@D/good.csv\"; } );\n"
	"indicators = ( { id = \"G-1\"; name = \"g\"; department = \"D\"; target = 1; } );\n";

static void test_reconfigure_keeps_store_and_states(void **state)
{
	struct tg_config *a, *b, *c;
	struct tg_engine *e;
	struct tg_error err;
	tg_time now = 20400 * (tg_time)TG_DAY_SECONDS;   /* 2025-11-08 */

	(void)state;
	write_file("good.csv", "Codice;Mese;Valore\nG-1;01/10/2025;7\n");
	a = load(conf_a, 0);
	e = tg_engine_new(a, TG_JOURNAL_WRITE, NULL, &err);
	assert_non_null(e);
	assert_true(tg_engine_run_source(e, 0, 1000) < 0);
	assert_int_equal(tg_engine_run_source(e, 1, 1000), 0);
	tg_engine_evaluate(e, now);
	assert_int_equal(tg_engine_results(e)[0].status, TG_STATUS_CRITICAL);

	/* refused: nothing changes, the old configuration still works */
	c = load(conf_other_dir, 0);
	assert_true(tg_engine_reconfigure(e, c, &err) < 0);
	assert_non_null(strstr(err.msg, "state_dir cannot change"));
	tg_config_free(c);
	tg_engine_evaluate(e, now);
	assert_int_equal(tg_engine_results(e)[0].status, TG_STATUS_CRITICAL);

	b = load(conf_b, 0);
	assert_int_equal(tg_engine_reconfigure(e, b, &err), 0);
	tg_config_free(a);             /* nothing may point into it any more */
	assert_int_equal(tg_engine_running(e), 0);
	assert_true(tg_engine_source_state(e, 0)->ran);     /* "good", was 1 */
	assert_false(tg_engine_source_state(e, 0)->failed);
	assert_int_equal(tg_engine_source_state(e, 0)->last_run, 1000);
	assert_false(tg_engine_source_state(e, 1)->ran);    /* "new" */
	tg_engine_evaluate(e, now);
	assert_int_equal(tg_engine_results(e)[1].status, TG_STATUS_OK);   /* G-1, target 5 */
	assert_true(tg_engine_results(e)[1].has_value);
	assert_true(tg_engine_results(e)[1].value == 7.0);
	/* the failing source is gone: nothing blames it */
	assert_int_not_equal(tg_engine_results(e)[0].status, TG_STATUS_ERROR);
	assert_int_equal(tg_engine_run_source(e, 1, 2000), 0);
	assert_int_equal(tg_engine_cancel_all(e, &err), 0);
	tg_engine_free(e);

	/* the journal written before and after the reload replays */
	b = (tg_config_free(b), load(conf_b, 0));
	e = tg_engine_new(b, TG_JOURNAL_READ, NULL, &err);
	assert_non_null(e);
	tg_engine_evaluate(e, now);
	assert_true(tg_engine_results(e)[1].has_value);
	tg_engine_free(e);
	tg_config_free(b);
}

static const char conf_http[] =
	"daemon = { state_dir = \"@D/state\"; };\n"
	"sources = ( { name = \"hang\"; type = \"http\"; url = \"http://127.0.0.1:@P/x.csv\"; retries = 0; } );\n"
	"indicators = ( { id = \"H-1\"; name = \"h\"; department = \"D\"; target = 1; } );\n";
static const char conf_http2[] =
	"daemon = { state_dir = \"@D/state\"; http_max_parallel = 2; };\n"
	"sources = ( { name = \"hang\"; type = \"http\"; url = \"http://127.0.0.1:@P/x.csv\"; retries = 0; } );\n"
	"indicators = ( { id = \"H-1\"; name = \"h\"; department = \"D\"; target = 1; } );\n";

static int done_calls;

static void on_done(void *ctx, size_t source)
{
	(void)ctx;
	(void)source;
	done_calls++;
}

/* A server that accepts connections (the kernel does, from the backlog)
 * and never answers. */
static int silent_server(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_reconfigure_cancels_http_runs(void **state)
{
	struct tg_config *a, *b;
	struct tg_engine *e;
	struct tg_error err;
	sd_event *ev;
	int port, fd = silent_server(&port);

	(void)state;
	assert_true(sd_event_new(&ev) >= 0);
	a = load(conf_http, port);
	e = tg_engine_new(a, TG_JOURNAL_WRITE, ev, &err);
	assert_non_null(e);
	done_calls = 0;
	assert_int_equal(tg_engine_start_source(e, 0, 1000, on_done, NULL), 0);
	assert_int_equal(tg_engine_start_source(e, 0, 1000, on_done, NULL), -EBUSY);
	for (int i = 0; i < 5; i++)
		sd_event_run(ev, 20000);
	assert_int_equal(tg_engine_running(e), 1);
	b = load(conf_http2, port);        /* new HTTP limits: a new multi handle */
	assert_int_equal(tg_engine_reconfigure(e, b, &err), 0);
	tg_config_free(a);
	assert_int_equal(tg_engine_running(e), 0);
	for (int i = 0; i < 3; i++)
		sd_event_run(ev, 10000);
	assert_int_equal(done_calls, 0);
	/* runs again under the new configuration, then is cancelled at shutdown */
	assert_int_equal(tg_engine_start_source(e, 0, 1000, on_done, NULL), 0);
	sd_event_run(ev, 20000);
	assert_int_equal(tg_engine_running(e), 1);
	assert_int_equal(tg_engine_cancel_all(e, &err), 0);
	assert_int_equal(tg_engine_running(e), 0);
	assert_int_equal(done_calls, 0);
	tg_engine_free(e);
	tg_config_free(b);
	sd_event_unref(ev);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconfigure_keeps_store_and_states),
		cmocka_unit_test(test_reconfigure_cancels_http_runs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
