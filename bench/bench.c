/*
 * bench.c — the benchmark driver: times one phase of libtraguardo's work
 * with CLOCK_MONOTONIC and prints one JSON object per line on stdout
 * (bench/run.py collects them, runs the references and prints the table).
 *
 *   bench csv CONF            source 0 of CONF (a CSV source) into the
 *                             engine's store, as a cycle does
 *   bench csv-null CONF       the same parse into a sink that only counts
 *                             (the reader alone: its memory must not grow
 *                             with the file)
 *   bench pg CONNINFO QUERY   a PostgreSQL source run on an sd-event loop,
 *                             rows into a counting sink; client memory
 *   bench eval CONF P R       a store of P monthly points for every
 *                             indicator of CONF (bench/gen.h values), then R
 *                             times: tg_eval_indicator over all of them, and
 *                             the engine's whole loop (series lookup + eval)
 *   bench webhook URL N PAR PERHOST BODYFILE
 *                             N POSTs through lib/http at once (the
 *                             notifier's way), PAR / PERHOST connections
 *   bench email URL N MSGFILE N messages through lib/notify_email at once
 *   bench curl-loop URL N PAR BODYFILE
 *                             the same N POSTs from a minimal libcurl multi
 *                             loop (PAR easy handles, each re-added as it
 *                             finishes, curl_multi_poll): libcurl's own
 *                             cost a message, without traguardo around it
 *
 * Memory: VmRSS before the phase (after the config is loaded) and VmHWM
 * after it, from /proc/self/status; each measurement is a fresh process, so
 * the high-water mark is the phase's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "engine.h"
#include "evaluate.h"
#include "gen.h"
#include "http.h"
#include "log.h"
#include "notify_email.h"
#include "period.h"
#include "source.h"
#include "source_csv.h"
#include "source_pg.h"
#include "store.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A "VmXXX:   1234 kB" line of /proc/self/status, in kB (-1 if absent). */
static long status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t flen = strlen(field);
	long kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* VmHWM := VmRSS (Linux >= 4.0), so that the peak is the next phase's. */
static void reset_hwm(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "5", 1) != 1)
			fprintf(stderr, "bench: cannot reset VmHWM: %s\n", strerror(errno));
		close(fd);
	}
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench: %s: %s\n", what, msg);
	exit(1);
}

static void report(void *ctx, const char *file, int line, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "%s:%d: %s\n", file, line, msg);
}

static double config_sec;   /* how long the last load() took */

/* Loads a configuration, then gives the heap that libconfig's parse tree
 * used back to the system, so that VmRSS afterwards is what stays. */
static struct tg_config *load(const char *path)
{
	struct tg_error err;
	double t0 = now_s();
	struct tg_config *cfg = tg_config_load(path, report, NULL, &err);

	if (cfg == NULL)
		die(path, err.msg);
	config_sec = now_s() - t0;
	malloc_trim(0);
	reset_hwm();
	return cfg;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		die(path, strerror(errno));
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
		die(path, "read failed");
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* ---- CSV ---------------------------------------------------------------- */

struct counter {
	size_t rows;
	double sum;
};

static int count_measure(void *ctx, const struct tg_source *src, const char *id, size_t len,
			 const struct tg_date *date, double value, struct tg_error *err)
{
	struct counter *c = ctx;

	(void)src, (void)id, (void)len, (void)date, (void)err;
	c->rows++;
	c->sum += value;
	return TG_SINK_ACCEPTED;
}

static void count_warn(void *ctx, const struct tg_source *src, const char *msg)
{
	(void)ctx, (void)src;
	fprintf(stderr, "bench: warning: %s\n", msg);
}

/* Page faults of this process so far (minor: memory touched for the first
 * time; the data files are in the page cache). */
static long minor_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt : 0;
}

static int cmd_csv(const char *conf, bool null_sink)
{
	struct tg_config *cfg = load(conf);
	const struct tg_source *src = &cfg->sources[0];
	struct tg_source_stats stats = { 0 };
	struct tg_store_stats ss = { 0 };
	struct stat sb;
	glob_t g;
	struct tg_engine *engine = NULL;
	long long bytes = 0;
	long rss0 = status_kb("VmRSS"), faults;
	double t0, t1;
	int rc;

	if (glob(src->path, 0, NULL, &g) != 0)
		die(src->path, "no such file");
	for (size_t i = 0; i < g.gl_pathc; i++) {
		if (stat(g.gl_pathv[i], &sb) != 0)
			die(g.gl_pathv[i], strerror(errno));
		bytes += (long long)sb.st_size;
	}
	globfree(&g);
	if (null_sink) {
		struct counter c = { 0 };
		struct tg_source_sink sink = { count_measure, count_warn, &c };
		struct tg_error err;

		faults = minor_faults();
		t0 = now_s();
		rc = tg_source_csv_run(src, &sink, &stats, &err);
		t1 = now_s();
		faults = minor_faults() - faults;
		if (rc < 0)
			die(src->path, err.msg);
	} else {
		struct tg_error err;
		struct tg_engine *e = tg_engine_new(cfg, TG_JOURNAL_NONE, NULL, &err);

		if (e == NULL)
			die("engine", err.msg);
		faults = minor_faults();
		t0 = now_s();
		rc = tg_engine_run_source(e, 0, (int64_t)time(NULL));
		t1 = now_s();
		faults = minor_faults() - faults;
		if (rc < 0)
			die(src->path, tg_engine_source_state(e, 0)->error);
		stats = tg_engine_source_state(e, 0)->stats;
		tg_store_stats(tg_engine_store(e), &ss);
		engine = e;
	}
	printf("{\"rows\":%zu,\"measurements\":%zu,\"bad_rows\":%zu,\"unknown_rows\":%zu,"
	       "\"bytes\":%lld,\"sec\":%.6f,\"rss_before_kb\":%ld,\"hwm_kb\":%ld,"
	       "\"indicators\":%zu,\"points\":%zu,\"config_sec\":%.6f,\"faults\":%ld}\n",
	       stats.rows, stats.measurements, stats.bad_rows, stats.unknown_rows,
	       bytes, t1 - t0, rss0, status_kb("VmHWM"), ss.indicators, ss.points,
	       config_sec, faults);
	tg_engine_free(engine);   /* after the figure: freeing is not part of it */
	tg_config_free(cfg);
	return 0;
}

/* ---- PostgreSQL --------------------------------------------------------- */

struct pg_run {
	sd_event *ev;
	bool done;
	int rc;
	char msg[TG_ERROR_MAX];
};

static void pg_done(void *ctx, int rc, const struct tg_error *err)
{
	struct pg_run *r = ctx;

	r->done = true;
	r->rc = rc;
	if (rc < 0 && err != NULL)
		snprintf(r->msg, sizeof(r->msg), "%s", err->msg);
	sd_event_exit(r->ev, 0);
}

static int cmd_pg(const char *conninfo, const char *query)
{
	char conf[4096];
	struct tg_error err;
	struct tg_config *cfg;
	struct pg_run r = { 0 };
	struct counter c = { 0 };
	struct tg_source_sink sink = { count_measure, count_warn, &c };
	struct tg_source_stats stats = { 0 };
	struct tg_source_pg_run *run;
	long rss0;
	double t0, t1;

	snprintf(conf, sizeof(conf),
		 "daemon = { state_dir = \"/nonexistent\"; };\n"
		 "sources = ( { name = \"db\"; type = \"postgresql\"; conninfo = \"%s\";\n"
		 "  query = \"%s\"; timeout = \"1h\"; since = \"3650d\"; } );\n"
		 "indicators = ( { id = \"IND000001\"; name = \"x\"; department = \"x\"; target = 1.0; } );\n",
		 conninfo, query);
	cfg = tg_config_load_string(conf, "/tmp/bench-pg.conf", report, NULL, &err);
	if (cfg == NULL)
		die("pg config", err.msg);
	if (sd_event_new(&r.ev) < 0)
		die("sd_event_new", "failed");
	rss0 = status_kb("VmRSS");
	{
		struct tg_source_pg_params p = {
			.event = r.ev, .cfg = cfg, .src = &cfg->sources[0], .sink = &sink,
			.stats = &stats, .today = tg_day_from_ymd(2026, 1, 20),
			.done = pg_done, .ctx = &r,
		};

		t0 = now_s();
		run = tg_source_pg_start(&p, &err);
		if (run == NULL)
			die("pg start", err.msg);
		if (sd_event_loop(r.ev) < 0 || !r.done)
			die("pg", "the loop ended before the run");
		t1 = now_s();
	}
	if (r.rc < 0)
		die("pg run", r.msg);
	printf("{\"rows\":%zu,\"measurements\":%zu,\"bad_rows\":%zu,\"sum\":%.2f,\"sec\":%.6f,"
	       "\"rss_before_kb\":%ld,\"hwm_kb\":%ld}\n",
	       stats.rows, c.rows, stats.bad_rows, c.sum, t1 - t0, rss0, status_kb("VmHWM"));
	sd_event_unref(r.ev);
	tg_config_free(cfg);
	return 0;
}

/* ---- evaluation --------------------------------------------------------- */

static int cmd_eval(const char *conf, int periods, int repeats)
{
	struct tg_config *cfg = load(conf);
	struct tg_store *st = tg_store_new();
	const struct tg_series **series;
	struct tg_eval_result *res;
	struct tg_eval_context ctx = { .now = (tg_time)tg_day_from_ymd(2026, 1, 20) * TG_DAY_SECONDS +
					      9 * 3600, .lang = cfg->daemon.language };
	size_t n = cfg->n_indicators, counts[8] = { 0 };
	struct tg_error err;
	double t0, t1;

	series = calloc(n, sizeof(*series));
	res = calloc(n, sizeof(*res));
	if (st == NULL || series == NULL || res == NULL)
		die("eval", "out of memory");
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		const char *id = cfg->indicators[i].id;
		uint64_t num = strtoull(id + 3, NULL, 10);   /* "IND000123" -> 123 */

		for (int p = 0; p < periods; p++) {
			int mi = bench_month_index(p, periods);
			tg_day d = tg_day_from_ymd(mi / 12, mi % 12 + 1, 1);

			if (tg_store_put(st, id, strlen(id), d, (double)bench_cents(num, mi) / 100.0,
					 "export", 0, &err) < 0)
				die(id, err.msg);
		}
	}
	t1 = now_s();
	printf("{\"phase\":\"store_build\",\"points\":%zu,\"sec\":%.6f}\n", n * (size_t)periods, t1 - t0);
	/* the same puts in the order of an export (every indicator of a month,
	 * then the next month): each put is another indicator's series */
	{
		struct tg_store *st2 = tg_store_new();

		if (st2 == NULL)
			die("eval", "out of memory");
		t0 = now_s();
		for (int p = 0; p < periods; p++) {
			int mi = bench_month_index(p, periods);
			tg_day d = tg_day_from_ymd(mi / 12, mi % 12 + 1, 1);

			for (size_t i = 0; i < n; i++) {
				const char *id = cfg->indicators[i].id;
				uint64_t num = strtoull(id + 3, NULL, 10);

				if (tg_store_put(st2, id, strlen(id), d, (double)bench_cents(num, mi) / 100.0,
						 "export", 0, &err) < 0)
					die(id, err.msg);
			}
		}
		t1 = now_s();
		printf("{\"phase\":\"store_build_by_period\",\"points\":%zu,\"sec\":%.6f}\n",
		       n * (size_t)periods, t1 - t0);
		tg_store_free(st2);
	}
	for (size_t i = 0; i < n; i++)
		series[i] = tg_store_series(st, cfg->indicators[i].id);
	for (int r = 0; r < repeats; r++) {
		t0 = now_s();
		for (size_t i = 0; i < n; i++)
			tg_eval_indicator(&cfg->indicators[i], series[i], &ctx, &res[i]);
		t1 = now_s();
		printf("{\"phase\":\"eval\",\"indicators\":%zu,\"sec\":%.6f,\"ns_per_indicator\":%.1f}\n",
		       n, t1 - t0, (t1 - t0) * 1e9 / (double)n);
		/* the engine's loop: the lookup by id, then the evaluation */
		t0 = now_s();
		for (size_t i = 0; i < n; i++)
			tg_eval_indicator(&cfg->indicators[i], tg_store_series(st, cfg->indicators[i].id),
					  &ctx, &res[i]);
		t1 = now_s();
		printf("{\"phase\":\"cycle\",\"indicators\":%zu,\"sec\":%.6f,\"ns_per_indicator\":%.1f}\n",
		       n, t1 - t0, (t1 - t0) * 1e9 / (double)n);
	}
	for (size_t i = 0; i < n; i++)
		counts[res[i].status & 7]++;
	printf("{\"phase\":\"statuses\"");
	for (int s = 0; s < 8; s++)
		if (counts[s] > 0)
			printf(",\"%s\":%zu", tg_status_name((enum tg_status)s), counts[s]);
	printf("}\n");
	free(series);
	free(res);
	tg_store_free(st);
	tg_config_free(cfg);
	return 0;
}

/* ---- webhooks and e-mail ------------------------------------------------ */

struct fanout {
	sd_event *ev;
	size_t left, ok, failed;
	long last_status;
	char first_error[TG_ERROR_MAX];
};

static void fan_one(struct fanout *f, bool ok, const char *error)
{
	if (ok)
		f->ok++;
	else if (f->failed++ == 0 && error != NULL)
		snprintf(f->first_error, sizeof(f->first_error), "%s", error);
	if (--f->left == 0)
		sd_event_exit(f->ev, 0);
}

static void http_done(void *ctx, const struct tg_http_response *resp)
{
	struct fanout *f = ctx;

	f->last_status = resp->status;
	fan_one(f, resp->result == 0 && resp->status >= 200 && resp->status < 300,
		resp->result < 0 ? resp->error : "HTTP status not 2xx");
}

static void email_done(void *ctx, const struct tg_email_result *res)
{
	fan_one(ctx, res->result == 0, res->error);
}

static int cmd_fanout(bool email, const char *url, size_t n, int par, int per_host,
		      const char *bodyfile)
{
	struct fanout f = { .left = n };
	struct tg_http_limits lim = { .max_parallel = par, .max_per_host = per_host };
	struct tg_http *h;
	struct tg_error err;
	size_t len;
	char *body = slurp(bodyfile, &len);
	static const char *const headers[] = { "Content-Type: application/json" };
	static const char *const to[] = { "responsabile@comune.bancodiprova.example" };
	long rss0;
	double t0, t1;

	if (sd_event_new(&f.ev) < 0)
		die("sd_event_new", "failed");
	h = tg_http_new(f.ev, &lim, &err);
	if (h == NULL)
		die("tg_http_new", err.msg);
	rss0 = status_kb("VmRSS");
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		if (email) {
			struct tg_email_request req = {
				.url = url, .starttls = false, .from = "qualita@comune.bancodiprova.example",
				.to = to, .n_to = 1, .message = body, .len = len, .timeout_ms = 120000,
			};

			if (tg_email_send(h, &req, email_done, &f, &err) == NULL)
				die("tg_email_send", err.msg);
		} else {
			struct tg_http_request req = {
				.url = url, .method = "POST", .body = body, .body_len = len,
				.headers = headers, .n_headers = 1, .timeout_ms = 120000,
				.borrow_body = true,   /* as the notifier: body outlives the loop */
			};

			if (tg_http_start(h, &req, http_done, &f, &err) == NULL)
				die("tg_http_start", err.msg);
		}
	}
	if (n > 0 && sd_event_loop(f.ev) < 0)
		die("loop", "failed");
	t1 = now_s();
	printf("{\"messages\":%zu,\"ok\":%zu,\"failed\":%zu,\"sec\":%.6f,\"per_sec\":%.1f,"
	       "\"rss_before_kb\":%ld,\"hwm_kb\":%ld",
	       n, f.ok, f.failed, t1 - t0, (double)n / (t1 - t0), rss0, status_kb("VmHWM"));
	if (f.failed) {
		/* the message as a JSON string: quotes, backslashes and control bytes escaped */
		fputs(",\"first_error\":\"", stdout);
		for (const unsigned char *p = (const unsigned char *)f.first_error; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				printf("\\%c", *p);
			else if (*p < 0x20)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
		putchar('"');
	}
	puts("}");
	tg_http_free(h);
	sd_event_unref(f.ev);
	free(body);
	return f.failed ? 1 : 0;
}

/* ---- libcurl alone ------------------------------------------------------ */

static size_t curl_discard(char *data, size_t size, size_t nmemb, void *userp)
{
	(void)data;
	(void)userp;
	return size * nmemb;
}

/* The reference for what libcurl itself costs: the request traguardo sends
 * (same body, Content-Type, User-Agent, no proxy, no Accept-Encoding), PAR
 * handles kept with their options and re-added, the documented multi loop. */
static int cmd_curl_loop(const char *url, size_t n, int par, const char *bodyfile)
{
	size_t len, started = 0, done = 0, ok = 0;
	char *body = slurp(bodyfile, &len);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	CURLM *m;
	double t0, t1;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || hdr == NULL ||
	    (m = curl_multi_init()) == NULL)
		die("libcurl", "cannot initialize");
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)par);
	t0 = now_s();
	for (int i = 0; i < par && started < n; i++, started++) {
		CURL *e = curl_easy_init();

		if (e == NULL)
			die("libcurl", "cannot create a handle");
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(e, CURLOPT_USERAGENT, "traguardo/" TG_VERSION);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_discard);
		curl_multi_add_handle(m, e);
	}
	while (done < n) {
		CURLMsg *msg;
		int running, left;

		if (curl_multi_perform(m, &running) != CURLM_OK)
			die("curl_multi_perform", "failed");
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			CURL *e = msg->easy_handle;
			long status = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
			ok += msg->data.result == CURLE_OK && status >= 200 && status < 300;
			done++;
			curl_multi_remove_handle(m, e);
			if (started < n) {
				started++;
				curl_multi_add_handle(m, e);
			} else {
				curl_easy_cleanup(e);
			}
		}
		if (done < n && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
			die("curl_multi_poll", "failed");
	}
	t1 = now_s();
	printf("{\"messages\":%zu,\"ok\":%zu,\"sec\":%.6f,\"per_sec\":%.1f}\n", n, ok, t1 - t0,
	       (double)n / (t1 - t0));
	curl_multi_cleanup(m);
	curl_slist_free_all(hdr);
	curl_global_cleanup();
	free(body);
	return ok == n ? 0 : 1;
}

static long num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		die(s, "not a number in range");
	return v;
}

int main(int argc, char **argv)
{
	tg_log_init("bench", 0);
	if (argc == 3 && strcmp(argv[1], "csv") == 0)
		return cmd_csv(argv[2], false);
	if (argc == 3 && strcmp(argv[1], "csv-null") == 0)
		return cmd_csv(argv[2], true);
	if (argc == 4 && strcmp(argv[1], "pg") == 0)
		return cmd_pg(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "eval") == 0)
		return cmd_eval(argv[2], (int)num(argv[3], 1, 1200), (int)num(argv[4], 1, 1000));
	if (argc == 7 && strcmp(argv[1], "webhook") == 0)
		return cmd_fanout(false, argv[2], (size_t)num(argv[3], 0, 10000000),
				  (int)num(argv[4], 1, 64), (int)num(argv[5], 1, 16), argv[6]);
	if (argc == 6 && strcmp(argv[1], "curl-loop") == 0)
		return cmd_curl_loop(argv[2], (size_t)num(argv[3], 0, 10000000),
				     (int)num(argv[4], 1, 64), argv[5]);
	if (argc == 5 && strcmp(argv[1], "email") == 0)
		return cmd_fanout(true, argv[2], (size_t)num(argv[3], 0, 10000000), 8, 4, argv[4]);
	fprintf(stderr, "usage: see the comment at the top of bench/bench.c\n");
	return 2;
}
