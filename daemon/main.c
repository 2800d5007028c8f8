/*
 * main.c — the traguardo command line.
 *
 * Thin on purpose: it parses arguments, loads the configuration, reads the
 * clock (the only place that does), and wires the library into the sd-event
 * loop.  Everything that can be tested without a process lives in lib/.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "engine.h"
#include "fsutil.h"
#include "log.h"
#include "number.h"
#include "output.h"
#include "period.h"
#include "notify.h"
#include "report.h"
#include "sentlog.h"
#include "route.h"
#include "run.h"

/* Exit codes (documented in --help and traguardo(8)). */
#define EXIT_OK 0
#define EXIT_FAIL 1      /* configuration invalid, state not usable */
#define EXIT_USAGE 2
#define EXIT_SOURCES 3   /* once: the cycle ran, but some source failed */
#define EXIT_UNDELIVERED 4 /* once: some message was not delivered (outbox or failed/) */

static const char usage_text[] =
	"usage: traguardo [-c FILE] [-v] COMMAND [OPTIONS]\n"
	"\n"
	"commands:\n"
	"  check                 validate the configuration; errors as FILE:LINE: message\n"
	"  once [--dry-run] [--now YYYY-MM-DD[THH:MM]] [--json]\n"
	"                        read every source once, evaluate, print the status table\n"
	"  run                   the daemon, in the foreground (systemd Type=notify):\n"
	"                        sources on their schedule, SIGHUP reloads, SIGTERM stops\n"
	"  status [--json]       the last evaluation, from STATE_DIR/status.json\n"
	"  report [--month YYYY-MM] [--format text|csv|html]\n"
	"                        management review (ISO 9001 9.3) of every indicator for\n"
	"                        a month (default: the last complete one), from the journal\n"
	"  test-notify CHANNEL [--to ADDRESS]\n"
	"                        send a test message through CHANNEL now (e-mail: to\n"
	"                        ADDRESS, default daemon.admins) and print the answer\n"
	"\n"
	"options:\n"
	"  -c, --config FILE     configuration (default $TRAGUARDO_CONFIG, else\n"
	"                        /etc/traguardo/traguardo.conf)\n"
	"  -v, --verbose         debug messages\n"
	"  -h, --help            this text\n"
	"  -V, --version         version\n"
	"\n"
	"once:\n"
	"  --dry-run             change nothing in the state directory and send nothing;\n"
	"                        write the messages that would be sent to STATE_DIR/preview/\n"
	"  --now TIME            evaluate as if it were TIME (local time)\n"
	"  --json                print a JSON array, one object per indicator\n"
	"\n"
	"report:\n"
	"  --month YYYY-MM       the month (status and forecast as at its end)\n"
	"  --format FORMAT       text (default), csv (UTF-8 with BOM, for Excel) or html\n"
	"                        (one self-contained page, prints on A4)\n"
	"\n"
	"exit status:\n"
	"  0  success (check: configuration OK; once: the cycle ran and every source was\n"
	"     read; run: stopped by SIGTERM or SIGINT)\n"
	"  1  invalid configuration, the state directory is not usable, the output could\n"
	"     not be written, the journal could not be written (run), or no status.json\n"
	"     yet (status)\n"
	"  2  wrong usage\n"
	"  3  once: the cycle ran but at least one source failed (see the messages)\n"
	"  4  once: the cycle ran but some message was not delivered (it stays in the\n"
	"     outbox and is retried, or was refused for good: STATE_DIR/outbox/failed/)\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

static void report_config_error(void *ctx, const char *file, int line, const char *msg)
{
	(void)ctx;
	if (line > 0)
		fprintf(stderr, "%s:%d: %s\n", file, line, msg);
	else
		fprintf(stderr, "%s: %s\n", file, msg);
}

static struct tg_config *load_config(const char *path)
{
	struct tg_error err;
	struct tg_config *cfg = tg_config_load(path, report_config_error, NULL, &err);

	if (cfg == NULL)
		fprintf(stderr, "traguardo: %s: configuration not valid\n", path);
	return cfg;
}

/* rc, or EXIT_FAIL when what went to standard output could not be written
 * (a full disk, a closed pipe): the documented exit status 1. */
static int stdout_done(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "traguardo: standard output: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return rc;
}

static int cmd_check(const char *path)
{
	struct tg_config *cfg = load_config(path);

	if (cfg == NULL)
		return EXIT_FAIL;
	printf("%s: configuration OK (%zu source%s, %zu indicator%s, %zu channel%s, %zu route%s)\n",
	       path, cfg->n_sources, cfg->n_sources == 1 ? "" : "s", cfg->n_indicators,
	       cfg->n_indicators == 1 ? "" : "s", cfg->n_channels, cfg->n_channels == 1 ? "" : "s",
	       cfg->n_routes, cfg->n_routes == 1 ? "" : "s");
	tg_config_free(cfg);
	return stdout_done(EXIT_OK);
}

struct once {
	const struct tg_config *cfg;
	struct tg_engine *engine;
	sd_event *event;
	tg_time now;
	size_t pending;           /* sources whose run has not ended */
	size_t failed;
};

/* One run fewer to wait for; after the last, the evaluation. */
static void once_one_less(struct once *o)
{
	if (--o->pending == 0) {
		tg_engine_evaluate(o->engine, o->now);
		sd_event_exit(o->event, 0);
	}
}

static void once_source_done(void *ctx, size_t i)
{
	struct once *o = ctx;
	const struct tg_source_state *st = tg_engine_source_state(o->engine, i);

	if (st->failed) {
		o->failed++;
		tg_logf(LOG_ERR, "SOURCE", o->cfg->sources[i].name, "source '%s' failed: %s",
			o->cfg->sources[i].name, st->error);
	}
	once_one_less(o);
}

/* The cycle, run from the loop like the daemon's: every source starts at
 * once; the HTTP ones proceed in parallel, and the evaluation comes when the
 * last one has ended. */
static int once_cycle(sd_event_source *s, void *userdata)
{
	struct once *o = userdata;
	int64_t wall = (int64_t)time(NULL);

	(void)s;
	o->pending = o->cfg->n_sources + 1;     /* + 1: not done before all started */
	for (size_t i = 0; i < o->cfg->n_sources; i++)
		if (tg_engine_start_source(o->engine, i, wall, once_source_done, o) < 0)
			once_source_done(o, i);
	once_one_less(o);
	return 0;
}

static int run_loop_once(struct once *o)
{
	int rc = sd_event_add_defer(o->event, NULL, once_cycle, o);

	if (rc >= 0)
		rc = sd_event_loop(o->event);
	return rc;
}

static bool want_colour(void)
{
	const char *term = getenv("TERM");

	return isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL && term != NULL &&
	       strcmp(term, "dumb") != 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The dry run's messages, one line each: "  001  posta  a@b  Subject". */
static void list_previews(FILE *out, const char *state_dir)
{
	char dir[4200], path[4400], line[1024];
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/preview", state_dir);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char **v;

		if (len < 5 || strcmp(de->d_name + len - 4, ".txt") != 0 ||
		    (v = realloc(names, (n + 1) * sizeof(*v))) == NULL)
			continue;
		names = v;
		if ((names[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char fields[3][512] = { "", "", "" };
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((f = fopen(path, "r")) != NULL) {
			/* "Canale: x (email)", "A: y" or "URL: y", "Oggetto: z" */
			for (int k = 0; k < 3 && fgets(line, sizeof(line), f) != NULL; k++) {
				char *v = strchr(line, ':');

				line[strcspn(line, "\n")] = '\0';
				snprintf(fields[k], sizeof(fields[k]), "%.500s", v != NULL && v[1] ? v + 2 : line);
			}
			fclose(f);
			fprintf(out, "  %.3s  %s → %s\n       %s\n", names[i], fields[0], fields[1],
				fields[2]);
		}
		free(names[i]);
	}
	free(names);
}

static void once_idle(void *ctx)
{
	sd_event_exit(ctx, 0);
}

/* The notifications of the cycle: spooled then delivered (every message of
 * the outbox is tried, whatever its backoff), or, in a dry run, written to
 * STATE_DIR/preview/.  Returns EXIT_OK, EXIT_FAIL or EXIT_UNDELIVERED. */
static int notify_once(const struct tg_config *cfg, struct once *o, bool dry, bool json,
		       struct tg_output_notify *ns)
{
	FILE *out = json ? stderr : stdout;   /* stdout is only the JSON */
	bool en = strcmp(cfg->daemon.language, "en") == 0;
	int64_t wall = (int64_t)time(NULL);
	struct tg_notifier *n;
	sd_event *ev = NULL;
	struct tg_error err = { 0 };
	const struct tg_notify_stats *st;
	int spooled, rc = EXIT_OK;

	/* a loop of its own: the cycle's loop has finished and takes no new source */
	if (sd_event_new(&ev) < 0) {
		tg_log(LOG_ERR, "cannot create the event loop");
		return EXIT_FAIL;
	}
	if ((n = tg_notifier_new(cfg, ev, dry, &err)) == NULL) {
		tg_log(LOG_ERR, "%s", err.msg);
		sd_event_unref(ev);
		return EXIT_FAIL;
	}
	spooled = tg_notifier_cycle(n, tg_engine_results(o->engine), tg_engine_store(o->engine),
				    o->now, wall, &err);
	if (spooled < 0) {
		tg_log(LOG_ERR, "notifications: %s; the alerts stay as they were and come again "
		       "next cycle", err.msg);
		rc = EXIT_FAIL;
	}
	if (dry) {
		if (spooled == 0)
			fprintf(out, en ? "dry run: nothing would be sent (%s/preview/ is empty)\n"
					: "prova (dry run): nessun messaggio da inviare (%s/preview/ è vuota)\n",
				cfg->daemon.state_dir);
		else if (spooled > 0)
		{
			fprintf(out, en ? "dry run: nothing sent; the %d message%s that would be sent "
					  "(full text in %s/preview/):\n"
					: "prova (dry run): nessun invio; %d %s (testo completo in "
					  "%s/preview/):\n",
				spooled, en ? (spooled == 1 ? "" : "s")
					    : spooled == 1 ? "messaggio che sarebbe inviato"
							   : "messaggi che sarebbero inviati",
				cfg->daemon.state_dir);
			list_previews(out, cfg->daemon.state_dir);
		}
		tg_notifier_free(n);
		sd_event_unref(ev);
		return rc;
	}
	if (tg_notifier_reports(n, tg_engine_store(o->engine), o->now, wall, &err) < 0) {
		tg_log(LOG_ERR, "reports: %s", err.msg);
		rc = EXIT_FAIL;
	}
	tg_notifier_on_idle(n, once_idle, ev);
	if (tg_notifier_deliver(n, wall, true) > 0 && tg_notifier_in_flight(n) > 0 &&
	    sd_event_loop(ev) < 0) {
		tg_log(LOG_ERR, "event loop failed");
		rc = EXIT_FAIL;
	}
	st = tg_notifier_stats(n);
	if (st->delivered + st->deferred + st->failed > 0 || tg_notifier_pending(n) > 0)
		fprintf(out, en ? "notifications: %zu delivered, %zu to retry, %zu failed; outbox %zu, failed/ %zu\n"
				: "notifiche: %zu consegnate, %zu da ritentare, %zu fallite; in coda %zu, in failed/ %zu\n",
			st->delivered, st->deferred, st->failed, tg_notifier_pending(n),
			tg_notifier_failed(n));
	if (rc == EXIT_OK && st->state_unsaved)
		rc = EXIT_FAIL;   /* logged; the next run would send these again */
	if (rc == EXIT_OK && (st->failed > 0 || tg_notifier_pending(n) > 0))
		rc = EXIT_UNDELIVERED;
	ns->outbox = tg_notifier_pending(n);
	ns->outbox_failed = tg_notifier_failed(n);
	ns->alerts_active = tg_alerts_active(tg_notifier_alerts(n));
	tg_notifier_free(n);
	sd_event_unref(ev);
	return rc;
}

static int cmd_once(const char *path, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'd' },
		{ "now", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct once o = { 0 };
	bool dry = false, json = false, have_now = false;
	struct tg_config *cfg;
	struct tg_error err;
	int c, rc = EXIT_OK, notify_rc = EXIT_OK;
	struct tg_output_notify ns = { 0 };

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dry = true; break;
		case 'j': json = true; break;
		case 'n':
			if (tg_time_parse(optarg, &o.now, &err) < 0) {
				fprintf(stderr, "traguardo: --now: %s\n", err.msg);
				return EXIT_USAGE;
			}
			have_now = true;
			break;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "traguardo: once: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!have_now)
		o.now = local_now();
	if ((cfg = load_config(path)) == NULL)
		return EXIT_FAIL;
	o.cfg = cfg;
	/* the dry run too: it writes preview/ there */
	if (daemon_check_owner(cfg->daemon.state_dir, path, dry ? "once --dry-run" : "once") < 0) {
		tg_config_free(cfg);
		return EXIT_FAIL;
	}
	if (!dry && tg_fs_mkdirs(cfg->daemon.state_dir, 0750, &err) < 0) {
		tg_log(LOG_ERR, "state directory: %s", err.msg);
		tg_config_free(cfg);
		return EXIT_FAIL;
	}
	if (!dry)
		daemon_remove_stale_tmp(cfg->daemon.state_dir);
	if (sd_event_new(&o.event) < 0) {
		tg_log(LOG_ERR, "cannot create the event loop");
		tg_config_free(cfg);
		return EXIT_FAIL;
	}
	o.engine = tg_engine_new(cfg, dry ? TG_JOURNAL_READ : TG_JOURNAL_WRITE, o.event, &err);
	if (o.engine == NULL) {
		tg_log(LOG_ERR, "%s", err.msg);
		sd_event_unref(o.event);
		tg_config_free(cfg);
		return EXIT_FAIL;
	}
	if (run_loop_once(&o) < 0) {
		tg_log(LOG_ERR, "event loop failed");
		rc = EXIT_FAIL;
		goto out;
	}
	if (json) {
		char *s = tg_output_json(cfg, o.engine);

		if (s == NULL) {
			tg_log(LOG_ERR, "out of memory");
			rc = EXIT_FAIL;
			goto out;
		}
		puts(s);
		free(s);
	} else {
		tg_output_table(stdout, cfg, o.engine, o.now, want_colour());
	}
	notify_rc = notify_once(cfg, &o, dry, json, &ns);
	if (!dry && tg_output_status_file(cfg, o.engine, o.now, (int64_t)time(NULL), &ns, &err) < 0) {
		tg_log(LOG_ERR, "%s", err.msg);
		rc = EXIT_FAIL;
	}
	if (tg_engine_journal_failed(o.engine))
		rc = EXIT_FAIL;   /* logged: the values read were not saved */
	/* a full disk or a closed pipe on stdout: the table or the JSON is lost */
	rc = stdout_done(rc);
	/* the most serious first: unusable, then undelivered, then a source */
	if (notify_rc == EXIT_FAIL)
		rc = EXIT_FAIL;
	if (rc == EXIT_OK && notify_rc != EXIT_OK)
		rc = notify_rc;
	if (rc == EXIT_OK && o.failed > 0)
		rc = EXIT_SOURCES;
out:
	tg_engine_free(o.engine);
	sd_event_unref(o.event);
	tg_config_free(cfg);
	return rc;
}

struct test_notify {
	sd_event *event;
	int result;
	const char *channel;
};

static void test_notify_done(void *ctx, int result, const char *answer)
{
	struct test_notify *t = ctx;

	t->result = result;
	if (result == 0)
		printf("traguardo: channel '%s': accepted: %s\n", t->channel, answer);
	else
		fprintf(stderr, "traguardo: channel '%s': not delivered: %s\n", t->channel, answer);
	sd_event_exit(t->event, 0);
}

static int cmd_test_notify(const char *path, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct test_notify t = { .result = -1 };
	const char *to = NULL, *channel = NULL;
	struct tg_config *cfg;
	struct tg_notifier *n = NULL;
	struct tg_error err = { 0 };
	ssize_t ch;
	int c, rc = EXIT_FAIL;

	optind = 0;   /* glibc: re-initialise, the ordering mode changes */
	/* options before or after the channel name */
	while ((c = getopt_long(argc, argv, "-", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if (channel != NULL) {
				fprintf(stderr, "traguardo: test-notify: give exactly one channel name\n");
				return EXIT_USAGE;
			}
			channel = optarg;
			break;
		case 't': to = optarg; break;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (channel == NULL || optind != argc) {
		fprintf(stderr, "traguardo: test-notify: give exactly one channel name\n");
		return EXIT_USAGE;
	}
	if (to != NULL && !tg_config_email_valid(to, false)) {
		fprintf(stderr, "traguardo: test-notify: --to: not an e-mail address\n");
		return EXIT_USAGE;
	}
	if ((cfg = load_config(path)) == NULL)
		return EXIT_FAIL;
	t.channel = channel;
	if ((ch = tg_config_channel_index(cfg, t.channel)) >= 0 && to != NULL &&
	    cfg->channels[ch].type != TG_CHANNEL_EMAIL) {
		fprintf(stderr, "traguardo: test-notify: --to is for e-mail channels; '%s' is a "
			"webhook\n", t.channel);
		tg_config_free(cfg);
		return EXIT_USAGE;
	}
	if (ch < 0) {
		char q[128];

		fprintf(stderr, "traguardo: test-notify: no channel named '%s' in %s\n",
			tg_error_quote_in(t.channel, strlen(t.channel), 40, "'\\", q, sizeof(q)),
			cfg->file);
		tg_config_free(cfg);
		return EXIT_USAGE;
	}
	if (sd_event_new(&t.event) < 0) {
		tg_log(LOG_ERR, "cannot create the event loop");
		tg_config_free(cfg);
		return EXIT_FAIL;
	}
	/* read-only: a test message goes straight out, never through the outbox */
	n = tg_notifier_new(cfg, t.event, true, &err);
	if (n == NULL || tg_notifier_test(n, (size_t)ch, to, (int64_t)time(NULL), test_notify_done,
					  &t, &err) < 0)
		fprintf(stderr, "traguardo: test-notify: %s\n", err.msg);
	else if (sd_event_loop(t.event) < 0)
		tg_log(LOG_ERR, "event loop failed");
	else if (t.result == 0)
		rc = stdout_done(EXIT_OK);   /* the server's answer was printed */
	tg_notifier_free(n);
	sd_event_unref(t.event);
	tg_config_free(cfg);
	return rc;
}

/* Text of status.json as a terminal may show it: the file is the daemon's,
 * but what it quotes came from data and servers, and a table stays one row
 * per indicator.  Control characters (C0, DEL, C1) become spaces. */
static void printable(char *buf)
{
	for (unsigned char *p = (unsigned char *)buf; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7F)
			*p = ' ';
		else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
			p[0] = p[1] = ' ';   /* U+0080..U+009F, CSI among them */
	}
}

/* A JSON scalar as a table cell. */
static void cell(const json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, size, "%.15g", json_real_value(v));
	else if (json_is_true(v) || json_is_false(v))
		snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
	else
		snprintf(buf, size, "-");
	printable(buf);
}

/* A string member of o, printable, in buf (NULL when not a string). */
static const char *shown(const json_t *o, const char *key, char *buf, size_t size)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return NULL;
	snprintf(buf, size, "%s", json_string_value(v));
	printable(buf);
	return buf;
}

/* A row's cells; the value as the table of `once` writes it (decimal comma
 * in Italian, thousands grouped, the indicator's `decimals`), not as JSON
 * has it. */
static void status_cells(const struct tg_config *cfg, const json_t *o, const char *const *keys,
			 int nk, char (*c)[512])
{
	const char *lang = cfg->daemon.language != NULL ? cfg->daemon.language : "it";
	const json_t *id = json_object_get(o, "id");
	ssize_t ix = json_is_string(id) ? tg_config_indicator_index(cfg, json_string_value(id),
								   json_string_length(id)) : -1;

	for (int k = 0; k < nk; k++) {
		const json_t *v = json_object_get(o, keys[k]);

		if (strcmp(keys[k], "value") == 0 && json_is_number(v))
			tg_number_format(json_number_value(v), ix >= 0 ? cfg->indicators[ix].decimals : -1,
					 lang, c[k], sizeof(c[k]));
		else
			cell(v, c[k], sizeof(c[k]));
	}
}

static void status_table(const struct tg_config *cfg, const json_t *root, const json_t *inds)
{
	static const char *const keys[] = { "id", "status", "period", "value", "reason" };
	enum { NK = sizeof(keys) / sizeof(keys[0]) };
	int width[NK] = { 2, 6, 6, 5, 0 };
	size_t i;
	json_t *o;
	char buf[512];

	json_array_foreach(inds, i, o) {
		char c[NK][512];

		status_cells(cfg, o, keys, NK, c);
		for (int k = 0; k < NK - 1; k++)
			if ((int)strlen(c[k]) > width[k])
				width[k] = (int)strlen(c[k]) > 40 ? 40 : (int)strlen(c[k]);
	}
	if (shown(root, "now", buf, sizeof(buf)) != NULL)
		printf("status at %s\n", buf);
	printf("%-*s  %-*s  %-*s  %*s  %s\n", width[0], "ID", width[1], "STATUS", width[2], "PERIOD",
	       width[3], "VALUE", "REASON");
	json_array_foreach(inds, i, o) {
		char c[NK][512];

		status_cells(cfg, o, keys, NK, c);
		printf("%-*s  %-*s  %-*s  %*s  %s\n", width[0], c[0], width[1], c[1], width[2], c[2],
		       width[3], c[3], c[4]);
	}
	o = json_object_get(root, "notifications");
	if (json_is_object(o))
		printf("notifications: %lld alert%s active; outbox %lld waiting, %lld failed\n",
		       (long long)json_integer_value(json_object_get(o, "alerts_active")),
		       json_integer_value(json_object_get(o, "alerts_active")) == 1 ? "" : "s",
		       (long long)json_integer_value(json_object_get(o, "outbox")),
		       (long long)json_integer_value(json_object_get(o, "failed")));
	if (json_is_object(o) && shown(o, "ha", buf, sizeof(buf)) != NULL)
		printf("%s\n", buf);
	if (json_is_object(o) && shown(o, "archive", buf, sizeof(buf)) != NULL)
		printf("%s\n", buf);
}

/* Reads STATE_DIR/status.json only: no journal, no lock, so it works while
 * the daemon runs and for any user who may read the file (group traguardo). */
static int cmd_status(const char *path, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct tg_config *cfg;
	bool json = false;
	char file[4096];
	json_error_t jerr;
	json_t *root = NULL, *inds;
	int c, rc = EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c != 'j') {
			usage(stderr);
			return EXIT_USAGE;
		}
		json = true;
	}
	if (optind < argc) {
		fprintf(stderr, "traguardo: status: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if ((cfg = load_config(path)) == NULL)
		return EXIT_FAIL;
	if ((size_t)snprintf(file, sizeof(file), "%s/status.json", cfg->daemon.state_dir) >= sizeof(file)) {
		fprintf(stderr, "traguardo: %s: path too long\n", cfg->daemon.state_dir);
		rc = EXIT_FAIL;
		goto out;
	}
	if (access(file, F_OK) < 0 && errno == ENOENT) {
		fprintf(stderr, "traguardo: no status yet: run `traguardo once` or start the service (%s does not exist)\n",
			file);
		rc = EXIT_FAIL;
		goto out;
	}
	root = json_load_file(file, 0, &jerr);
	if (root == NULL) {
		printable(jerr.text);   /* jansson quotes the bad byte as it is */
		fprintf(stderr, "traguardo: %s:%d: %s\n", file, jerr.line, jerr.text);
		rc = EXIT_FAIL;
		goto out;
	}
	if (json_integer_value(json_object_get(root, "version")) != 1 ||
	    !json_is_integer(json_object_get(root, "version"))) {
		fprintf(stderr, "traguardo: %s: not a status file of this version (\"version\": 1)\n",
			file);
		rc = EXIT_FAIL;
		goto out;
	}
	inds = json_object_get(root, "indicators");
	if (!json_is_array(inds)) {
		fprintf(stderr, "traguardo: %s: no \"indicators\" array\n", file);
		rc = EXIT_FAIL;
		goto out;
	}
	if (json) {
		/* the same format as once --json */
		char *s = json_dumps(inds, JSON_INDENT(2) | JSON_REAL_PRECISION(15));

		if (s == NULL) {
			fprintf(stderr, "traguardo: out of memory\n");
			rc = EXIT_FAIL;
		} else {
			puts(s);
			free(s);
		}
	} else {
		status_table(cfg, root, inds);
	}
	rc = stdout_done(rc);
out:
	json_decref(root);
	tg_config_free(cfg);
	return rc;
}

/* Reads the journal into a memory-only store without locking it, so a
 * report can be made while the daemon runs; all the formatting is in
 * lib/report.c. */
static int cmd_report(const char *path, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "month", required_argument, NULL, 'm' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	enum tg_report_format format = TG_REPORT_TEXT;
	bool have_month = false;
	struct tg_config *cfg;
	struct tg_store *st;
	struct tg_error err;
	int c, year = 0, month = 0, rc = EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (tg_report_month_parse(optarg, &year, &month, &err) < 0) {
				fprintf(stderr, "traguardo: report: --month: %s\n", err.msg);
				return EXIT_USAGE;
			}
			have_month = true;
			break;
		case 'f':
			if (tg_report_format_parse(optarg, &format) < 0) {
				char q[128];

				fprintf(stderr, "traguardo: report: --format: '%s' is not one of text, csv, html\n",
					tg_error_quote_in(optarg, strlen(optarg), 40, "'\\", q, sizeof(q)));
				return EXIT_USAGE;
			}
			break;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "traguardo: report: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!have_month) {
		tg_report_default_month(tg_time_day(local_now()), &year, &month);
	} else {
		int cy, cm, cd;

		tg_day_to_ymd(tg_time_day(local_now()), &cy, &cm, &cd);
		if (year * 12 + month > cy * 12 + cm) {
			/* a status "at the end" of a month not begun is made up */
			fprintf(stderr, "traguardo: report: --month: %04d-%02d has not begun (this month "
				"is %04d-%02d)\n", year, month, cy, cm);
			return EXIT_USAGE;
		}
	}
	if ((cfg = load_config(path)) == NULL)
		return EXIT_FAIL;
	if ((st = tg_store_new()) == NULL) {
		fprintf(stderr, "traguardo: out of memory\n");
		tg_config_free(cfg);
		return EXIT_FAIL;
	}
	if (tg_store_read_journal(st, cfg->daemon.state_dir, &err) < 0) {
		fprintf(stderr, "traguardo: report: %s\n", err.msg);
		rc = EXIT_FAIL;
	} else {
		struct tg_sentlog_counts sent;
		struct tg_report_options o = {
			.cfg = cfg, .st = st, .year = year, .month = month, .format = format,
		};
		tg_day from, until;

		tg_report_month_days(year, month, &from, &until);
		if (tg_sentlog_read(cfg->daemon.state_dir, from, until, &sent, &err) < 0) {
			/* the report without the alerts rather than no report */
			fprintf(stderr, "traguardo: report: %s (alerts sent not shown)\n", err.msg);
		} else {
			if (sent.bad > 0)
				fprintf(stderr, "traguardo: report: %zu bad line%s skipped; the first: %s\n",
					sent.bad, sent.bad == 1 ? "" : "s", sent.bad_reason.msg);
			o.sent = &sent;
		}
		if (tg_report_write_opts(stdout, &o, &err) < 0) {
			fprintf(stderr, "traguardo: report: %s\n", err.msg);
			rc = EXIT_FAIL;
		}
		tg_sentlog_counts_free(&sent);
	}
	tg_store_free(st);
	tg_config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("TRAGUARDO_CONFIG");
	const char *cmd;
	char prog[64];
	int verbose = 0, c;

	if (path == NULL || *path == '\0')
		path = "/etc/traguardo/traguardo.conf";
	/* '+': stop at the command, whose options are its own */
	while ((c = getopt_long(argc, argv, "+c:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': printf("traguardo %s\n", TG_VERSION); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	tg_log_init("traguardo", verbose);
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	/* getopt names argv[0] in its errors: "traguardo once: unrecognized
	 * option '--bogus'", not "once: ..." */
	snprintf(prog, sizeof(prog), "traguardo %.40s", cmd);
	argv[0] = prog;
	if (strcmp(cmd, "check") == 0) {
		if (argc > 1) {
			fprintf(stderr, "traguardo: check: unexpected argument '%s'\n", argv[1]);
			return EXIT_USAGE;
		}
		return cmd_check(path);
	}
	if (strcmp(cmd, "once") == 0)
		return cmd_once(path, argc, argv);
	if (strcmp(cmd, "test-notify") == 0)
		return cmd_test_notify(path, argc, argv);
	if (strcmp(cmd, "run") == 0) {
		if (argc > 1) {
			fprintf(stderr, "traguardo: run: unexpected argument '%s'\n", argv[1]);
			return EXIT_USAGE;
		}
		return daemon_run(path);
	}
	if (strcmp(cmd, "status") == 0)
		return cmd_status(path, argc, argv);
	if (strcmp(cmd, "report") == 0)
		return cmd_report(path, argc, argv);
	fprintf(stderr, "traguardo: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
