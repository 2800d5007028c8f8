/*
 * test_config.c — the configuration loader: every default, every parsed
 * value, one bad configuration per kind of error (with its line), several
 * errors in one run, @include with errors in the included file, lookups,
 * secret paths, email addresses, HTTP feeds (every key, its defaults, its
 * errors, and no secret in any message), and a generated 100,000-indicator
 * config.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#ifndef TG_TEST_DATA
#define TG_TEST_DATA "tests/data"
#endif
#define DATA TG_TEST_DATA "/config"

/* ------------------------------------------------------------------ */
/* Collecting reports.                                                  */

#define MAX_REPORTS 64

struct report {
	char file[256];
	int line;
	char msg[TG_ERROR_MAX];
};

struct reports {
	size_t n;       /* all calls, even beyond MAX_REPORTS */
	struct report r[MAX_REPORTS];
};

static void collect(void *ctx, const char *file, int line, const char *msg)
{
	struct reports *rs = ctx;

	if (rs->n < MAX_REPORTS) {
		snprintf(rs->r[rs->n].file, sizeof(rs->r[rs->n].file), "%s", file ? file : "(null)");
		rs->r[rs->n].line = line;
		snprintf(rs->r[rs->n].msg, sizeof(rs->r[rs->n].msg), "%s", msg);
	}
	rs->n++;
}

static void print_reports(const struct reports *rs)
{
	for (size_t i = 0; i < rs->n && i < MAX_REPORTS; i++)
		print_error("    %s:%d: %s\n", rs->r[i].file, rs->r[i].line, rs->r[i].msg);
}

/* Index of the report containing sub, or -1. */
static ssize_t find_report(const struct reports *rs, const char *sub)
{
	for (size_t i = 0; i < rs->n && i < MAX_REPORTS; i++)
		if (strstr(rs->r[i].msg, sub) != NULL)
			return (ssize_t)i;
	return -1;
}

static struct tg_config *load_ok(const char *text)
{
	struct reports rs = { 0 };
	struct tg_error err = { { 0 } };
	struct tg_config *cfg = tg_config_load_string(text, "t.conf", collect, &rs, &err);

	if (cfg == NULL || rs.n != 0) {
		print_error("expected a valid config, got:\n");
		print_reports(&rs);
		fail();
	}
	return cfg;
}

/* ------------------------------------------------------------------ */
/* Defaults and parsed values.                                          */

static void test_defaults(void **state)
{
	(void)state;
	struct tg_config *cfg = load_ok(
		"sources = ( { name = \"s\"; type = \"csv\"; path = \"/srv/s.csv\"; } );\n"
		"indicators = ( { id = \"A\"; name = \"Alpha\"; department = \"D\"; target = 1; } );\n"
		"channels = ( { name = \"m\"; type = \"email\"; url = \"smtp://mail.example.org\";\n"
		"               from = \"q@example.org\"; },\n"
		"             { name = \"h\"; type = \"webhook\"; url = \"http://h.example.org/x\"; },\n"
		"             { name = \"t\"; type = \"email\"; url = \"smtps://mail.example.org\";\n"
		"               from = \"q@example.org\"; } );\n"
		"routes = ( { channels = [\"h\"]; } );\n"
		"silences = ( { from = \"2026-08-01\"; until = \"2026-08-31\"; reason = \"Estate\"; } );\n");
	static const char *const missing[] = { "", "n.d.", "n/d", "nd", "-", "--", "N/A", "n.a." };

	/* daemon */
	assert_string_equal(cfg->daemon.state_dir, "/var/lib/traguardo");
	assert_string_equal(cfg->daemon.language, "it");
	assert_null(cfg->daemon.organization);
	assert_int_equal(cfg->daemon.evaluate_every, 600);
	assert_int_equal(cfg->daemon.http_max_parallel, 8);
	assert_int_equal(cfg->daemon.http_max_per_host, 4);
	assert_int_equal(cfg->daemon.admins.n, 0);
	assert_non_null(cfg->file);
	assert_non_null(cfg->dir);
	assert_true(cfg->file[0] == '/' && cfg->dir[0] == '/');

	/* source */
	assert_int_equal(cfg->n_sources, 1);
	const struct tg_source *s = &cfg->sources[0];
	assert_string_equal(s->name, "s");
	assert_int_equal(s->type, TG_SOURCE_CSV);
	assert_int_equal(s->every, 900);
	assert_int_equal(s->timeout, 30);
	assert_string_equal(s->path, "/srv/s.csv");
	assert_int_equal(s->layout, TG_LAYOUT_LONG);
	assert_int_equal(s->dialect.separator, 0);
	assert_int_equal(s->dialect.encoding, TG_ENC_AUTO);
	assert_int_equal(s->dialect.number.decimal, ',');
	assert_int_equal(s->dialect.number.thousands, '.');
	assert_null(s->dialect.date_format);
	assert_int_equal(s->dialect.missing.n, 8);
	for (size_t i = 0; i < 8; i++)
		assert_string_equal(s->dialect.missing.v[i], missing[i]);
	assert_ptr_equal(s->dialect.number.missing, s->dialect.missing.v);
	assert_int_equal(s->dialect.number.n_missing, 8);
	assert_null(s->col_indicator);
	assert_null(s->col_period);
	assert_null(s->col_value);
	assert_int_equal(s->loc.line, 1);
	assert_string_equal(s->loc.file, "t.conf");
	/* the http settings of a csv source are unused, but never NULL/garbage */
	assert_null(s->url);
	assert_int_equal(s->format, TG_FORMAT_CSV);
	assert_null(s->ca_file);
	assert_null(s->proxy);
	assert_int_equal(s->headers.n, 0);
	assert_int_equal(s->max_size, 52428800);
	assert_int_equal(s->retries, 3);
	assert_string_equal(s->json_records, "");
	assert_string_equal(s->json_value, "value");

	/* indicator */
	assert_int_equal(cfg->n_indicators, 1);
	const struct tg_indicator *ind = &cfg->indicators[0];
	assert_string_equal(ind->id, "A");
	assert_string_equal(ind->name, "Alpha");
	assert_string_equal(ind->department, "D");
	assert_null(ind->process);
	assert_null(ind->owner);
	assert_null(ind->unit);
	assert_null(ind->source);
	assert_int_equal(ind->source_index, -1);
	assert_int_equal(ind->period, TG_PERIOD_MONTH);
	assert_int_equal(ind->better, TG_BETTER_HIGHER);
	assert_true(ind->has_target);
	assert_true(ind->target == 1.0);
	assert_false(ind->has_critical);
	assert_false(ind->has_min);
	assert_false(ind->has_max);
	assert_false(ind->has_critical_min);
	assert_false(ind->has_critical_max);
	assert_false(ind->year_target.set);
	assert_int_equal(ind->year_target.aggregate, TG_AGG_MEAN);
	assert_int_equal(ind->late_after, -1);
	assert_int_equal(ind->confirm_periods, 1);
	assert_int_equal(ind->decimals, -1);
	assert_int_equal(ind->loc.line, 2);

	/* channels */
	assert_int_equal(cfg->n_channels, 3);
	const struct tg_channel *m = &cfg->channels[0], *h = &cfg->channels[1],
		*t = &cfg->channels[2];
	assert_int_equal(m->type, TG_CHANNEL_EMAIL);
	assert_true(m->starttls);             /* smtp:// requires STARTTLS by default */
	assert_false(t->starttls);            /* smtps:// is TLS already */
	assert_null(m->username);
	assert_null(m->password_file);
	assert_null(m->ca_file);
	assert_int_equal(m->timeout, 30);
	assert_int_equal(h->type, TG_CHANNEL_WEBHOOK);
	assert_int_equal(h->format, TG_WEBHOOK_GENERIC);
	assert_null(h->secret_file);
	assert_int_equal(h->timeout, 30);
	assert_int_equal(h->loc.line, 5);

	/* route */
	assert_int_equal(cfg->n_routes, 1);
	const struct tg_route *r = &cfg->routes[0];
	assert_null(r->name);
	assert_int_equal(r->departments.n, 0);
	assert_int_equal(r->processes.n, 0);
	assert_int_equal(r->indicators.n, 0);
	assert_int_equal(r->min_status, TG_STATUS_WARNING);
	assert_int_equal(r->channels.n, 1);
	assert_string_equal(r->channels.v[0], "h");
	assert_int_equal(r->to.n, 0);
	assert_int_equal(r->repeat_every, 0);
	assert_int_equal(r->escalate_after, 0);
	assert_int_equal(r->escalate_to.n, 0);

	/* silence */
	assert_int_equal(cfg->n_silences, 1);
	assert_int_equal(cfg->silences[0].until - cfg->silences[0].from, 30);
	assert_string_equal(cfg->silences[0].reason, "Estate");
	assert_int_equal(cfg->silences[0].loc.line, 9);
	tg_config_free(cfg);
}

static const char full_config[] =
	"daemon = { state_dir = \"state\"; language = \"en\";\n"                          /* 1 */
	"  organization = \"Comune di Borgo Fittizio\"; evaluate_every = \"5m\";\n"       /* 2 */
	"  admins = [\"ced@comune.example.it\", \"ops@localhost\"]; };\n"                 /* 3 */
	"sources = (\n"                                                                   /* 4 */
	"  { name = \"ragioneria\"; type = \"csv\"; path = \"feeds/*.csv\"; every = \"1h\";\n"
	"    timeout = \"20s\"; layout = \"long\";\n"
	"    dialect = { separator = \";\"; decimal = \",\"; thousands = \"\"; encoding = \"windows-1252\";\n"
	"                date_format = \"%d/%m/%Y\"; missing = [\"n.d.\", \"ND\"]; };\n"
	"    columns = { indicator = \"Codice\"; period = \"Mese\"; value = \"Valore\"; }; },\n"
	"  { name = \"urp.mensile\"; type = \"CSV\"; path = \"/srv/urp.csv\"; layout = \"wide\";\n" /* 10 */
	"    dialect = { separator = \"tab\"; decimal = \".\"; encoding = \"utf-8\"; };\n"
	"    columns = { indicator = \"Code\"; }; },\n"
	"  { name = \"t3\"; type = \"csv\"; path = \"/srv/t3.csv\";\n"
	"    dialect = { separator = \"\\t\"; thousands = \"'\"; }; },\n"
	"  { name = \"t4\"; type = \"csv\"; path = \"/srv/t4.csv\";\n"                    /* 15 */
	"    dialect = { separator = \"|\"; decimal = \".\"; thousands = \" \"; }; }\n"
	");\n"
	"indicators = (\n"
	"  { id = \"RAG-01\"; name = \"Tempo medio di pagamento delle fatture\";\n"
	"    process = \"Gestione della spesa\"; department = \"Ragioneria\";\n"          /* 20 */
	"    owner = \"ragioneria@comune.example.it\"; unit = \"giorni\"; source = \"ragioneria\";\n"
	"    period = \"month\"; better = \"lower\"; target = 30; critical = 45.5;\n"
	"    year_target = { value = 30.0; aggregate = \"last\"; }; late_after = \"20d\";\n"
	"    confirm_periods = 3; decimals = 1; },\n"
	"  { id = \"URP_02\"; name = \"Soddisfazione — qualità\"; department = \"URP\";\n"  /* 25 */
	"    period = \"quarter\"; better = \"range\"; min = 10; max = 20.5; critical_min = 5;\n"
	"    critical_max = 25; late_after = \"never\"; source = \"urp.mensile\"; },\n"
	"  { id = \"x.3\"; name = \"N\"; department = \"D\"; better = \"higher\"; target = 90;\n"
	"    critical = 80; period = \"week\"; year_target = { value = 1200; aggregate = \"sum\"; }; },\n"
	"  { id = \"d4\"; name = \"N\"; department = \"D\"; target = 1; period = \"day\"; },\n" /* 30 */
	"  { id = \"y5\"; name = \"N\"; department = \"D\"; target = 1; period = \"year\";\n"
	"    better = \"higher\"; }\n"
	");\n";

static void test_full(void **state)
{
	(void)state;
	char *full = malloc(sizeof(full_config) + 2048);

	assert_non_null(full);
	strcpy(full, full_config);
	strcat(full,
	       "channels = (\n"                                                                  /* 34 */
	       "  { name = \"posta\"; type = \"email\"; url = \"smtp://mail.comune.example.it:587\";\n"
	       "    starttls = true; from = \"Ufficio Qualità <qualita@comune.example.it>\";\n"
	       "    username = \"qualita\"; password_file = \"smtp-password\"; ca_file = \"ca.pem\";\n"
	       "    timeout = \"10s\"; },\n"
	       "  { name = \"plain\"; type = \"email\"; url = \"smtp://127.0.0.1:2525\"; starttls = false;\n"
	       "    from = \"\\\"Comune, Ufficio\\\" <q@example.org>\"; },\n"                       /* 40 */
	       "  { name = \"chat\"; type = \"webhook\"; format = \"teams\"; url = \"https://example.invalid/hook\";\n"
	       "    secret_file = \"/etc/traguardo/hook.key\"; ca_file = \"/etc/ssl/ca.pem\"; },\n"
	       "  { name = \"s\"; type = \"webhook\"; format = \"slack\"; url = \"http://h/x\"; },\n"
	       "  { name = \"mm\"; type = \"webhook\"; format = \"mattermost\"; url = \"http://h/x\"; },\n"
	       "  { name = \"gc\"; type = \"webhook\"; format = \"googlechat\"; url = \"http://h/x\"; }\n"
	       ");\n"
	       "routes = (\n"
	       "  { name = \"finanze\"; departments = [\"Ragioneria\"]; processes = [\"Gestione della spesa\"];\n"
	       "    indicators = [\"RAG-01\", \"URP_02\"]; min_status = \"critical\"; channels = [\"posta\", \"chat\"];\n"
	       "    to = [\"@owner\", \"capo@comune.example.it\"]; repeat_every = \"7d\"; escalate_after = \"14d\";\n" /* 50 */
	       "    escalate_to = [\"dirigente.finanze@comune.example.it\"]; },\n"
	       "  { channels = [\"chat\"]; min_status = \"unknown\"; repeat_every = \"never\"; }\n"
	       ");\n"
	       "silences = ( { departments = [\"Servizi scolastici\"]; indicators = [\"d4\"];\n"
	       "               from = \"2026-08-01\"; until = \"2026-08-01\"; reason = \"Chiusura estiva\"; } );\n");

	struct tg_config *cfg = load_ok(full);
	char cwd[PATH_MAX], *real;

	free(full);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	real = realpath(".", NULL);
	assert_non_null(real);
	assert_string_equal(cfg->dir, real);

	char expect[PATH_MAX + 64];
	snprintf(expect, sizeof(expect), "%s/t.conf", real);
	assert_string_equal(cfg->file, expect);

	/* daemon */
	snprintf(expect, sizeof(expect), "%s/state", real);
	assert_string_equal(cfg->daemon.state_dir, expect);
	assert_string_equal(cfg->daemon.language, "en");
	assert_string_equal(cfg->daemon.organization, "Comune di Borgo Fittizio");
	assert_int_equal(cfg->daemon.evaluate_every, 300);
	assert_int_equal(cfg->daemon.admins.n, 2);
	assert_string_equal(cfg->daemon.admins.v[0], "ced@comune.example.it");
	assert_string_equal(cfg->daemon.admins.v[1], "ops@localhost");

	/* sources */
	assert_int_equal(cfg->n_sources, 4);
	const struct tg_source *s = &cfg->sources[0];
	snprintf(expect, sizeof(expect), "%s/feeds/*.csv", real);
	assert_string_equal(s->path, expect);
	assert_int_equal(s->every, 3600);
	assert_int_equal(s->timeout, 20);
	assert_int_equal(s->layout, TG_LAYOUT_LONG);
	assert_int_equal(s->dialect.separator, ';');
	assert_int_equal(s->dialect.number.decimal, ',');
	assert_int_equal(s->dialect.number.thousands, 0);
	assert_int_equal(s->dialect.encoding, TG_ENC_WINDOWS_1252);
	assert_string_equal(s->dialect.date_format, "%d/%m/%Y");
	assert_int_equal(s->dialect.missing.n, 2);
	assert_string_equal(s->dialect.missing.v[0], "n.d.");
	assert_string_equal(s->dialect.missing.v[1], "ND");
	assert_ptr_equal(s->dialect.number.missing, s->dialect.missing.v);
	assert_int_equal(s->dialect.number.n_missing, 2);
	assert_string_equal(s->col_indicator, "Codice");
	assert_string_equal(s->col_period, "Mese");
	assert_string_equal(s->col_value, "Valore");
	assert_int_equal(s->loc.line, 5);
	s = &cfg->sources[1];
	assert_string_equal(s->name, "urp.mensile");
	assert_int_equal(s->type, TG_SOURCE_CSV);
	assert_int_equal(s->layout, TG_LAYOUT_WIDE);
	assert_int_equal(s->dialect.separator, '\t');
	assert_int_equal(s->dialect.number.decimal, '.');
	assert_int_equal(s->dialect.number.thousands, ',');  /* follows decimal "." */
	assert_int_equal(s->dialect.encoding, TG_ENC_UTF8);
	assert_string_equal(s->col_indicator, "Code");
	assert_null(s->col_period);
	assert_int_equal(s->dialect.missing.n, 8);
	assert_ptr_equal(s->dialect.number.missing, s->dialect.missing.v);
	assert_int_equal(cfg->sources[2].dialect.separator, '\t');
	assert_int_equal(cfg->sources[2].dialect.number.thousands, '\'');
	assert_int_equal(cfg->sources[3].dialect.separator, '|');
	assert_int_equal(cfg->sources[3].dialect.number.thousands, ' ');

	/* indicators */
	assert_int_equal(cfg->n_indicators, 5);
	const struct tg_indicator *i0 = &cfg->indicators[0];
	assert_string_equal(i0->id, "RAG-01");
	assert_string_equal(i0->name, "Tempo medio di pagamento delle fatture");
	assert_string_equal(i0->process, "Gestione della spesa");
	assert_string_equal(i0->department, "Ragioneria");
	assert_string_equal(i0->owner, "ragioneria@comune.example.it");
	assert_string_equal(i0->unit, "giorni");
	assert_string_equal(i0->source, "ragioneria");
	assert_int_equal(i0->source_index, 0);
	assert_int_equal(i0->period, TG_PERIOD_MONTH);
	assert_int_equal(i0->better, TG_BETTER_LOWER);
	assert_true(i0->has_target && i0->target == 30.0);
	assert_true(i0->has_critical && i0->critical == 45.5);
	assert_true(i0->year_target.set);
	assert_true(i0->year_target.value == 30.0);
	assert_int_equal(i0->year_target.aggregate, TG_AGG_LAST);
	assert_int_equal(i0->late_after, 20 * 86400);
	assert_int_equal(i0->confirm_periods, 3);
	assert_int_equal(i0->decimals, 1);
	assert_int_equal(i0->loc.line, 19);
	const struct tg_indicator *i1 = &cfg->indicators[1];
	assert_string_equal(i1->name, "Soddisfazione — qualità");
	assert_int_equal(i1->period, TG_PERIOD_QUARTER);
	assert_int_equal(i1->better, TG_BETTER_RANGE);
	assert_false(i1->has_target);
	assert_true(i1->has_min && i1->min == 10.0);
	assert_true(i1->has_max && i1->max == 20.5);
	assert_true(i1->has_critical_min && i1->critical_min == 5.0);
	assert_true(i1->has_critical_max && i1->critical_max == 25.0);
	assert_int_equal(i1->late_after, -1);
	assert_int_equal(i1->source_index, 1);
	const struct tg_indicator *i2 = &cfg->indicators[2];
	assert_int_equal(i2->better, TG_BETTER_HIGHER);
	assert_int_equal(i2->period, TG_PERIOD_WEEK);
	assert_true(i2->critical == 80.0 && i2->target == 90.0);
	assert_int_equal(i2->year_target.aggregate, TG_AGG_SUM);
	assert_true(i2->year_target.value == 1200.0);
	assert_int_equal(cfg->indicators[3].period, TG_PERIOD_DAY);
	assert_int_equal(cfg->indicators[4].period, TG_PERIOD_YEAR);

	/* channels */
	assert_int_equal(cfg->n_channels, 6);
	const struct tg_channel *c0 = &cfg->channels[0];
	assert_string_equal(c0->name, "posta");
	assert_int_equal(c0->type, TG_CHANNEL_EMAIL);
	assert_string_equal(c0->url, "smtp://mail.comune.example.it:587");
	assert_true(c0->starttls);
	assert_string_equal(c0->from, "Ufficio Qualità <qualita@comune.example.it>");
	assert_string_equal(c0->username, "qualita");
	assert_string_equal(c0->password_file, "smtp-password");   /* kept as written */
	snprintf(expect, sizeof(expect), "%s/ca.pem", real);
	assert_string_equal(c0->ca_file, expect);
	assert_int_equal(c0->timeout, 10);
	assert_false(cfg->channels[1].starttls);
	assert_string_equal(cfg->channels[1].from, "\"Comune, Ufficio\" <q@example.org>");
	const struct tg_channel *c2 = &cfg->channels[2];
	assert_int_equal(c2->type, TG_CHANNEL_WEBHOOK);
	assert_int_equal(c2->format, TG_WEBHOOK_TEAMS);
	assert_string_equal(c2->secret_file, "/etc/traguardo/hook.key");
	assert_string_equal(c2->ca_file, "/etc/ssl/ca.pem");
	assert_int_equal(cfg->channels[3].format, TG_WEBHOOK_SLACK);
	assert_int_equal(cfg->channels[4].format, TG_WEBHOOK_MATTERMOST);
	assert_int_equal(cfg->channels[5].format, TG_WEBHOOK_GOOGLECHAT);

	/* routes */
	assert_int_equal(cfg->n_routes, 2);
	const struct tg_route *r = &cfg->routes[0];
	assert_string_equal(r->name, "finanze");
	assert_int_equal(r->departments.n, 1);
	assert_string_equal(r->departments.v[0], "Ragioneria");
	assert_string_equal(r->processes.v[0], "Gestione della spesa");
	assert_int_equal(r->indicators.n, 2);
	assert_string_equal(r->indicators.v[1], "URP_02");
	assert_int_equal(r->min_status, TG_STATUS_CRITICAL);
	assert_int_equal(r->channels.n, 2);
	assert_string_equal(r->channels.v[0], "posta");
	assert_int_equal(r->to.n, 2);
	assert_string_equal(r->to.v[0], "@owner");
	assert_string_equal(r->to.v[1], "capo@comune.example.it");
	assert_int_equal(r->repeat_every, 7 * 86400);
	assert_int_equal(r->escalate_after, 14 * 86400);
	assert_int_equal(r->escalate_to.n, 1);
	assert_string_equal(r->escalate_to.v[0], "dirigente.finanze@comune.example.it");
	assert_int_equal(cfg->routes[1].min_status, TG_STATUS_UNKNOWN);
	assert_int_equal(cfg->routes[1].repeat_every, 0);

	/* silences */
	const struct tg_silence *sl = &cfg->silences[0];
	assert_int_equal(sl->from, sl->until);
	assert_int_equal(sl->from, 20666);   /* 2026-08-01 */
	assert_string_equal(sl->departments.v[0], "Servizi scolastici");
	assert_string_equal(sl->indicators.v[0], "d4");
	assert_string_equal(sl->reason, "Chiusura estiva");

	/* lookups */
	assert_int_equal(tg_config_indicator_index(cfg, "URP_02", 6), 1);
	assert_int_equal(tg_config_indicator_index(cfg, "URP_02xyz", 6), 1);  /* len counts */
	assert_int_equal(tg_config_indicator_index(cfg, "URP_0", 5), -1);
	assert_int_equal(tg_config_indicator_index(cfg, "nope", 4), -1);
	assert_int_equal(tg_config_source_index(cfg, "t4"), 3);
	assert_int_equal(tg_config_source_index(cfg, "T4"), -1);
	assert_int_equal(tg_config_channel_index(cfg, "gc"), 5);
	assert_int_equal(tg_config_channel_index(cfg, "none"), -1);
	assert_int_equal(tg_config_channel_index(NULL, "gc"), -1);
	assert_int_equal(tg_config_source_index(cfg, NULL), -1);

	free(real);
	tg_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Bad configurations: one per kind of error.                          */

#define SRC "sources = ( { name = \"src\"; type = \"csv\"; path = \"/srv/a.csv\"; } );\n"
#define CHN "channels = ( { name = \"mail\"; type = \"email\"; url = \"smtp://mail.example.org:587\";" \
	" from = \"q@example.org\"; }, { name = \"hook\"; type = \"webhook\"; url = \"https://h.example.org/x\"; } );\n"
/* One indicator 'A' on line 1, without and with a target. */
#define IND0(x) "indicators = ( { id = \"A\"; name = \"N\"; department = \"D\"; " x " } );\n"
#define IND(x) IND0(x " target = 1;")
#define SRC1(x) "sources = ( { name = \"s\"; type = \"csv\"; path = \"/srv/s.csv\"; " x " } );\n"
#define CH1(x) "channels = ( { name = \"c\"; " x " } );\n"
#define MAILCH(x) CH1("type = \"email\"; url = \"smtp://m.example.org\"; from = \"q@example.org\"; " x)
#define ROUTE(x) "routes = ( { " x " } );\n"
#define SIL(x) "silences = ( { " x " } );\n"
#define SILD(x) SIL("from = \"2026-08-01\"; until = \"2026-08-31\"; reason = \"R\"; " x)
/* One http source 'f' on line 1: without url, with a CSV url, as a JSON feed. */
#define HTTP0(x) "sources = ( { name = \"f\"; type = \"http\"; " x " } );\n"
#define HTTP1(x) HTTP0("url = \"https://dati.example.org/kpi.csv\"; " x)
#define JSON1(x) HTTP0("url = \"https://dati.example.org/kpi.json\"; format = \"json\"; " x)

/* Nesting deeper than libconfig's parser stack: 10^4 groups. */
#define X10(x) x x x x x x x x x x
#define DEEP(x) X10(X10(X10(X10(x))))

struct bad_case {
	const char *text;
	const char *expect;   /* substring of one of the messages */
	int line;             /* line of that message */
};

static const struct bad_case bad_cases[] = {
	/* unknown keys, with and without a suggestion */
	{ IND("tagret = 5;"), "unknown setting 'tagret' in indicator 'A' (did you mean 'target'?)", 1 },
	{ IND("Target2 = 5;"), "unknown setting 'Target2' in indicator 'A' (did you mean 'target'?)", 1 },
	{ IND("colour = 1;"), "unknown setting 'colour' in indicator 'A'", 1 },
	{ "\nindicator = ();\n", "unknown setting 'indicator' at top level (did you mean 'indicators'?)", 2 },
	{ "daemon = {\n state_dri = \"/x\"; };\n", "unknown setting 'state_dri' in daemon (did you mean 'state_dir'?)", 2 },
	{ SRC1("dialect = { decimals = \",\"; };"), "unknown setting 'decimals' in dialect of source 's' (did you mean 'decimal'?)", 1 },
	{ SRC1("columns = { indicatr = \"x\"; };"), "unknown setting 'indicatr' in columns of source 's' (did you mean 'indicator'?)", 1 },
	{ IND("year_target = { valeu = 3; };"), "unknown setting 'valeu' in year_target of indicator 'A' (did you mean 'value'?)", 1 },
	{ CHN ROUTE("name = \"r1\"; channels = [\"hook\"]; chanels = [\"x\"];"), "unknown setting 'chanels' in route 'r1' (did you mean 'channels'?)", 2 },
	{ SIL("from = \"2026-01-01\"; until = \"2026-01-02\"; reason = \"r\"; reasons = \"x\";"), "unknown setting 'reasons' in silence 1 (did you mean 'reason'?)", 1 },
	{ "archive = { conninfo = \"x\"; };", "'conninfo' is not valid", 1 },
	{ "channels = ( { name = \"w\"; type = \"webhook\"; url = \"https://u:pw@h/x\"; } );",
	  "must not carry a password", 1 },
	{ "archive = { password_file = \"pw\"; };", "'conninfo'", 1 },
	{ "ha = { conninfo = \"dbname=x password=y\"; };", "must not carry a password", 1 },
	/* libpq quotes a URI it cannot parse: its password is hidden */
	{ "ha = { conninfo = \"postgresql://u:S3CRET@[::1/db\"; };",
	  "'conninfo' is not valid: end of string reached when looking for matching (the text libpq quotes is not shown: it may hold a password)", 1 },
	/* ... also after a '#' in libpq's words */
	{ "ha = { conninfo = \"postgresql://u:S3CRET@[::1]#x/db\"; };",
	  "'conninfo' is not valid: unexpected character (the text libpq quotes is not shown", 1 },
	/* ... and whatever else it quotes: a percent-encoded token, a word
	 * (test_secrets_not_shown has more) */
	{ "ha = { conninfo = \"postgresql://u:MYPa%zzSECRET@db/kpi\"; };",
	  "'conninfo' is not valid: invalid percent-encoded token: (the text libpq quotes is not shown", 1 },
	{ "ha = { conninfo = \"host=db S3CRETWORD\"; };",
	  "'conninfo' is not valid: missing (the text libpq quotes is not shown", 1 },
	{ "ha = { conninfo = \"dbname=x\"; lock = 0; };", "'lock' must be between", 1 },
	/* types */
	{ SRC1("every = 15;"), "'every' must be a duration like \"15m\", not 15", 1 },
	{ IND0("target = \"30\";"), "'target' must be a number, not \"30\"", 1 },
	{ IND("decimals = 1.5;"), "'decimals' must be an integer, not 1.5", 1 },
	{ IND("owner = 5;"), "'owner' must be an email address in double quotes, not 5", 1 },
	{ MAILCH("starttls = \"yes\";"), "'starttls' must be true or false, not \"yes\"", 1 },
	{ IND("better = 1;"), "'better' must be one of \"higher\", \"lower\", \"range\", not 1", 1 },
	{ "sources = { };", "'sources' must be a list of groups ( { ... }, ... ), not a group { ... }", 1 },
	{ "indicators = ( \"x\" );", "'indicators' entry 1 must be a group { ... }, not \"x\"", 1 },
	{ "daemon = ( );", "'daemon' must be a group { ... }, not a list ( ... )", 1 },
	{ CHN ROUTE("channels = [\"hook\"];\n departments = [1];"), "'departments' entry 1 must be a string, not 1", 3 },
	/* every indicator a problem, none back on target; nothing but admins */
	{ CHN ROUTE("channels = [\"hook\"]; min_status = \"ok\";"),
	  "'min_status' must be one of \"unknown\", \"warning\", \"late\", \"critical\", not \"ok\"", 2 },
	{ CHN ROUTE("channels = [\"hook\"]; min_status = \"error\";"),
	  "'min_status' must be one of \"unknown\", \"warning\", \"late\", \"critical\", not \"error\"", 2 },
	{ CHN ROUTE("channels = \"hook\";"), "'channels' must be a list of strings like [\"...\"], not \"hook\"", 2 },
	{ IND0("target = 1e999;"), "'target' must be a finite number", 1 },
	/* values */
	{ SRC1("every = \"15x\";"), "'every': '15x' is not a duration", 1 },
	{ SRC1("every = \"5s\";"), "'every' must be at least 10s, not \"5s\"", 1 },
	{ SRC1("timeout = \"2h\";"), "'timeout' must be at most 1h, not \"2h\"", 1 },
	{ IND("late_after = \"0\";"), "'late_after': '0' is not a duration", 1 },
	{ "daemon = { evaluate_every = \"1s\"; };", "'evaluate_every' must be at least 10s", 1 },
	{ IND("better = \"lowr\";"), "'better' must be one of \"higher\", \"lower\", \"range\", not \"lowr\" (did you mean \"lower\"?)", 1 },
	{ IND("period = \"monthly\";"), "'period' must be one of \"day\", \"week\", \"month\", \"quarter\", \"year\", not \"monthly\"", 1 },
	{ IND("confirm_periods = 30;"), "'confirm_periods' must be between 1 and 24, not 30", 1 },
	{ IND("decimals = -1;"), "'decimals' must be between 0 and 6, not -1", 1 },
	{ "daemon = { language = \"fr\"; };", "'language' must be one of \"it\", \"en\", not \"fr\"", 1 },
	{ SRC1("layout = \"tall\";"), "'layout' must be one of \"long\", \"wide\", \"by_indicator\", not \"tall\"", 1 },
	{ SRC1("dialect = { separator = \":\"; };"), "'separator' must be one of \"auto\", \";\", \",\", \"\\t\", \"tab\", \"|\", not \":\"", 1 },
	{ SRC1("dialect = { decimal = \";\"; };"), "'decimal' must be one of \",\", \".\", not \";\"", 1 },
	{ SRC1("dialect = { decimal = \".\";\n thousands = \".\"; };"), "'thousands' must differ from 'decimal' (both \".\")", 2 },
	{ SRC1("dialect = { thousands = \",\"; };"), "'thousands' must differ from 'decimal' (both \",\")", 1 },
	{ SRC1("dialect = { thousands = \"_\"; };"), "'thousands' must be one of \"\", \".\", \",\", \" \", \"'\", not \"_\"", 1 },
	{ SRC1("dialect = { encoding = \"ebcdic\"; };"), "'encoding' must be one of \"auto\", \"utf-8\", \"windows-1252\", \"iso-8859-1\", not \"ebcdic\"", 1 },
	{ SRC1("dialect = { date_format = \"%Q\"; };"), "'date_format' is not a valid date format (", 1 },
	{ SRC1("dialect = { missing = [\"n.d.\", \"a\\nb\"]; };"), "'missing' entry 2 must not contain control characters", 1 },
	{ IND("owner = \"mario@\";"), "'owner' must be an email address like \"name@example.org\", not \"mario@\"", 1 },
	{ IND("owner = \"Mario <m@example.org>\";"), "'owner' must be an email address like", 1 },
	{ "daemon = { admins = [\"ced@example.org\", \"x\"]; };", "'admins' entry 2 must be an email address like \"name@example.org\", not \"x\"", 1 },
	{ CH1("type = \"email\"; url = \"smtp://m.example.org\"; from = \"Comune, Ufficio <q@example.org>\";"), "'from' must be an email address like \"name@example.org\" or \"Name <name@example.org>\"", 1 },
	{ SIL("from = \"2026-13-01\"; until = \"2026-08-31\"; reason = \"R\";"), "'from': '2026-13-01' is not a valid date", 1 },
	{ SIL("from = \"2026-08\"; until = \"2026-08-31\"; reason = \"R\";"), "'from' must be a full date like \"2026-08-01\", not \"2026-08\"", 1 },
	{ SIL("from = \"2026-08-01\";\n until = \"2026-07-01\"; reason = \"R\";"), "'until' (\"2026-07-01\") is before 'from' (\"2026-08-01\")", 2 },
	{ SIL("from = 20260801; until = \"2026-08-31\"; reason = \"R\";"), "'from' must be a date like \"2026-08-01\", not 20260801", 1 },
	/* patterns and text */
	{ "indicators = ( { id = \"RAG 01\"; name = \"N\"; department = \"D\"; target = 1; } );",
	  "'id' must be 1 to 64 letters, digits, '_', '.' or '-', not \"RAG 01\"", 1 },
	{ "indicators = ( { id = \"A\"; name = \"a\\nb\"; department = \"D\"; target = 1; } );", "'name' must not contain control characters (line breaks, tabs): \"a\\nb\"", 1 },
	{ "indicators = ( { id = \"A\"; name = \"a\\tb\"; department = \"D\"; target = 1; } );", "'name' must not contain control characters", 1 },
	{ "indicators = ( { id = \"A\"; name = \"a\\x7fb\"; department = \"D\"; target = 1; } );", "'name' must not contain control characters", 1 },
	{ "indicators = ( { id = \"A\"; name = \"caf\\xe9\"; department = \"D\"; target = 1; } );", "'name' is not valid UTF-8: \"caf\\xe9\"", 1 },
	{ "indicators = ( { id = \"A\"; name = \"\\xc0\\xaf\"; department = \"D\"; target = 1; } );", "'name' is not valid UTF-8", 1 },
	{ "indicators = ( { id = \"A\"; name = \"\"; department = \"D\"; target = 1; } );", "'name' must not be empty", 1 },
	{ "indicators = ( { id = \"A\"; name = \"N\"; department = \"D\"; target = 1; unit = \""
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "\"; } );", "'unit' is longer than 200 bytes", 1 },
	{ "indicators = ( { id = \"0123456789012345678901234567890123456789012345678901234567890123456789\"; } );",
	  "'id' must be 1 to 64 letters", 1 },
	/* required keys (the group's line) */
	{ "indicators = (\n { id = \"A\";\n department = \"D\"; target = 1; } );", "indicator 'A' has no 'name'", 2 },
	{ "indicators = (\n { name = \"N\"; department = \"D\"; target = 1; } );", "indicator 1 has no 'id'", 2 },
	{ IND0("better = \"lower\";"), "indicator 'A' has no 'target' (required when better = \"lower\")", 1 },
	{ IND0(""), "indicator 'A' has no 'target' (required when better = \"higher\")", 1 },
	{ IND0("better = \"range\";"), "indicator 'A' has no 'min' or 'max'", 1 },
	{ IND("year_target = { aggregate = \"sum\"; };"), "year_target of indicator 'A' has no 'value'", 1 },
	{ IND("year_target = { value = 1; aggregate = \"median\"; };"), "'aggregate' must be one of \"mean\", \"sum\", \"last\", not \"median\"", 1 },
	{ "sources = ( { name = \"s\"; type = \"csv\"; } );", "source 's' has no 'path'", 1 },
	{ "sources = ( { name = \"s\"; path = \"/x\"; } );", "source 's' has no 'type'", 1 },
	{ CH1("url = \"smtp://m.example.org\";"), "channel 'c' has no 'type'", 1 },
	{ CH1("type = \"email\"; url = \"smtp://m.example.org\";"), "channel 'c' has no 'from' (required for email channels)", 1 },
	{ CHN ROUTE("to = [\"@owner\"];"), "route 1 has no 'channels'", 2 },
	{ CHN ROUTE("channels = [];"), "'channels' must not be empty", 2 },
	{ SIL("from = \"2026-08-01\"; until = \"2026-08-31\";"), "silence 1 has no 'reason'", 1 },
	{ "sources = ( { name = \"s\"; path = \"/x\";\n columns = { indicator = \"I\"; period = \"P\"; }; } );",
	  "columns of source 's' has no 'value'", 2 },
	{ SRC1("layout = \"wide\";\n columns = { indicator = \"I\"; period = \"P\"; };"),
	  "'period' has no meaning with layout = \"wide\"", 2 },
	/* source types */
	{ "sources = ( { name = \"s\"; type = \"xml\"; path = \"/x\"; } );",
	  "'type' must be one of \"csv\", \"http\", \"postgresql\", not \"xml\"", 1 },
	/* postgresql sources */
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; conninfo = \"dbname=kpi\"; } );",
	  "source 'pg' has no 'query' (required for postgresql sources)", 1 },
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; query = \"SELECT 1\"; } );",
	  "source 'pg' has no 'conninfo' (required for postgresql sources)", 1 },
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; query = \"q\";\n conninfo = \"dbname\"; } );",
	  "'conninfo' is not valid: missing \"=\" after \"dbname\" in connection info string", 2 },
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; query = \"q\";\n conninfo = \"bogus=1\"; } );",
	  "'conninfo' is not valid: invalid connection option \"bogus\"", 2 },
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; query = \"q\";\n conninfo = \"host=db password=s3cret\"; } );",
	  "'conninfo' must not carry a password: put it in the file named by 'password_file'", 2 },
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; query = \"q\";\n conninfo = \"postgresql://u:s3cret@db/kpi\"; } );",
	  "'conninfo' must not carry a password", 2 },
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; query = \"q\"; conninfo = \"dbname=k\";\n path = \"/x\"; } );",
	  "'path' is not for postgresql sources", 2 },
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; query = \"q\"; conninfo = \"dbname=k\";\n username = \"u\"; } );",
	  "'username' is not for postgresql sources (put user= in 'conninfo')", 2 },
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; query = \"q\"; conninfo = \"dbname=k\";\n layout = \"wide\"; } );",
	  "a postgresql source takes only layout = \"long\"", 2 },
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; query = \"q\"; conninfo = \"dbname=k\";\n since = \"1h\"; } );",
	  "'since' must be at least", 2 },
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; query = \"\"; conninfo = \"dbname=k\"; } );",
	  "'query' must not be empty", 1 },
	{ "sources = ( { name = \"pg\"; type = \"postgresql\"; query = \"a\\x01\"; conninfo = \"dbname=k\"; } );",
	  "'query' must not contain control characters", 1 },
	{ "sources = ( { name = \"s\"; type = \"csv\"; path = \"/x\";\n query = \"q\"; } );",
	  "'query' is only for postgresql sources", 2 },
	{ HTTP0("url = \"https://h.example.org/\";\n conninfo = \"dbname=k\";"),
	  "'conninfo' is only for postgresql sources", 2 },
	/* http sources: required keys, url */
	{ "sources = ( { name = \"feed\";\n type = \"http\"; } );", "source 'feed' has no 'url' (required for http sources)", 1 },
	{ "sources = (\n { name = \"s\"; type = \"csv\"; } );", "source 's' has no 'path' (required for csv sources)", 2 },
	{ HTTP0("url = \"ftp://h.example.org/x\";"), "'url' of an http source must start with http:// or https://, not \"ftp://h.example.org/x\"", 1 },
	{ HTTP0("url = \"https://h/a b\";"), "'url' must be a URL without spaces", 1 },
	{ HTTP0("url = \"https://h/\\x01\";"), "'url' must not contain control characters", 1 },
	{ HTTP0("url = \"h.example.org/x\";"), "'url' must be a URL like \"https://host/path\", not \"h.example.org/x\"", 1 },
	{ HTTP0("url = \"\";"), "'url' must not be empty", 1 },
	{ HTTP0("url = 5;"), "'url' must be a string in double quotes, not 5", 1 },
	{ HTTP0("\n url = \"https://mario:s3cret@h.example.org/kpi\";"), "'url' must not carry a password (\"https://mario:***@h.example.org/kpi\"): put the user name in 'username' and the password in the file named by 'password_file'", 2 },
	{ HTTP0("url = \"https://:pw@h.example.org/\";"), "'url' must not carry a password", 1 },
	{ HTTP0("url = \"https://mario@/kpi\";"), "'url' has no host: \"https://mario@/kpi\"", 1 },
	{ HTTP0("url = \"https://:8443/kpi\";"), "'url' has no host", 1 },
	{ HTTP0("url = \"https://?x=1\";"), "'url' has no host", 1 },
	{ HTTP1("path = \"/srv/x.csv\";"), "'path' is only for csv sources (an http source reads its 'url')", 1 },
	/* keys of http sources in a csv source */
	{ SRC1("url = \"https://h/x\";"), "'url' is only for http sources", 1 },
	{ SRC1("\nformat = \"json\";"), "'format' is only for http sources", 2 },
	{ SRC1("ca_file = \"ca.pem\";"), "'ca_file' is only for http sources", 1 },
	{ SRC1("proxy = \"http://p:3128\";"), "'proxy' is only for http sources", 1 },
	{ SRC1("bearer_token_file = \"t\";"), "'bearer_token_file' is only for http sources", 1 },
	{ SRC1("username = \"u\"; password_file = \"p\";"), "'password_file' is only for http sources", 1 },
	{ SRC1("headers = [\"Accept: text/csv\"];"), "'headers' is only for http sources", 1 },
	{ SRC1("max_size = \"1MB\";"), "'max_size' is only for http sources", 1 },
	{ SRC1("retries = 2;"), "'retries' is only for http sources", 1 },
	{ SRC1("json = { records = \"data\"; };"), "'json' is only for http sources", 1 },
	{ SRC1("layout = \"by_indicator\";"), "layout = \"by_indicator\" is only for JSON feeds (type = \"http\", format = \"json\")", 1 },
	/* format, every, timeout, retries */
	{ HTTP1("format = \"xml\";"), "'format' must be one of \"csv\", \"json\", not \"xml\"", 1 },
	{ HTTP1("format = \"jsno\";"), "(did you mean \"json\"?)", 1 },
	{ HTTP1("every = \"5s\";"), "'every' must be at least 10s, not \"5s\"", 1 },
	{ HTTP1("timeout = \"2h\";"), "'timeout' must be at most 1h, not \"2h\"", 1 },
	{ HTTP1("timeout = 30;"), "'timeout' must be a duration like \"15m\", not 30", 1 },
	{ HTTP1("retries = 11;"), "'retries' must be between 0 and 10, not 11", 1 },
	{ HTTP1("retries = -1;"), "'retries' must be between 0 and 10, not -1", 1 },
	{ HTTP1("retries = \"3\";"), "'retries' must be an integer, not \"3\"", 1 },
	{ HTTP1("max_sise = \"1MB\";"), "unknown setting 'max_sise' in source 'f' (did you mean 'max_size'?)", 1 },
	/* ca_file, proxy */
	{ HTTP1("ca_file = \"\";"), "'ca_file' must not be empty", 1 },
	{ HTTP1("ca_file = [\"a.pem\"];"), "'ca_file' must be a string in double quotes, not an array", 1 },
	{ HTTP1("proxy = \"ftp://p.example.org:21\";"), "'proxy' must start with http://, https://, socks5:// or socks5h://, not \"ftp://p.example.org:21\"", 1 },
	{ HTTP1("proxy = \"socks4://u:pw@p:1080\";"), "not \"socks4://u:***@p:1080\"", 1 },
	{ HTTP1("proxy = \"proxy.example.org:3128\";"), "'proxy' must be a URL like \"https://host/path\"", 1 },
	/* authentication */
	{ HTTP1("bearer_token_file = \"t\";\n username = \"u\"; password_file = \"p\";"), "'bearer_token_file' cannot go with 'username' and 'password_file': choose one kind of authentication", 1 },
	{ HTTP1("password_file = \"p\";\n bearer_token_file = \"t\";"), "'bearer_token_file' cannot go with", 2 },
	{ HTTP1("password_file = \"p\";"), "'password_file' needs 'username'", 1 },
	{ HTTP1("\nusername = \"u\";"), "'username' needs 'password_file' (the password is read from that file)", 2 },
	{ HTTP1("username = \"a:b\"; password_file = \"p\";"), "'username' must not contain ':' (HTTP basic authentication cannot carry it): \"a:b\"", 1 },
	{ HTTP1("username = \"\"; password_file = \"p\";"), "'username' must not be empty", 1 },
	{ HTTP1("bearer_token_file = \"\";"), "'bearer_token_file' must not be empty", 1 },
	{ HTTP1("password_file = \"a\\nb\"; username = \"u\";"), "'password_file' must not contain control characters", 1 },
	/* headers */
	{ HTTP1("headers = \"Accept: text/csv\";"), "'headers' must be a list of strings like [\"...\"], not \"Accept: text/csv\"", 1 },
	{ HTTP1("headers = (\"Accept: text/csv\",\n 5);"), "'headers' entry 2 must be a string, not 5", 2 },
	{ HTTP1("headers = [\"X-Api-Key s3cret\"];"), "'headers' entry 1 must be \"Name: value\" (there is no colon)", 1 },
	{ HTTP1("headers = [\"Accept: text/csv\",\n \"X Api: 1\"];"), "'headers' entry 2 must be \"Name: value\" with a name of letters, digits and !#$%&'*+-.^_`|~ before the colon, not a name \"X Api\"", 2 },
	{ HTTP1("headers = [\": 1\"];"), "'headers' entry 1 must be \"Name: value\" with a name of letters, digits and !#$%&'*+-.^_`|~ before the colon, not a name \"\"", 1 },
	{ HTTP1("headers = [\"Accèpt: 1\"];"), "not a name \"Accèpt\"", 1 },
	{ HTTP1("headers = [\"authorization: Bearer abc\"];"), "'headers' entry 1 (Authorization) is not allowed: use 'bearer_token_file', or 'username' and 'password_file' (secrets stay out of the configuration)", 1 },
	{ HTTP1("headers = [\"Cookie: session=abc\"];"), "'headers' entry 1 (Cookie) is not allowed: a cookie is a credential", 1 },
	{ HTTP1("headers = [\"HOST: other.example.org\"];"), "'headers' entry 1 (Host) is not allowed: the host comes from 'url'", 1 },
	{ HTTP1("headers = [\"Content-Length: 0\"];"), "'headers' entry 1 (Content-Length) is not allowed: the HTTP engine frames the request itself", 1 },
	{ HTTP1("headers = [\"Transfer-Encoding: chunked\"];"), "'headers' entry 1 (Transfer-Encoding) is not allowed: the HTTP engine frames the request itself", 1 },
	{ HTTP1("headers = [\"If-None-Match: \\\"x\\\"\"];"), "'headers' entry 1 (If-None-Match) is not allowed: conditional requests are automatic (the ETag", 1 },
	{ HTTP1("headers = [\"If-Modified-Since: Mon, 02 Mar 2026 10:00:00 GMT\"];"), "'headers' entry 1 (If-Modified-Since) is not allowed: conditional requests are automatic (the Last-Modified", 1 },
	{ HTTP1("headers = [\"X-A: b\\r\\nX-B: c\"];"), "'headers' entry 1 (\"X-A\") must not contain control characters (line breaks, tabs)", 1 },
	{ HTTP1("headers = [\"X-A: b\\tc\"];"), "'headers' entry 1 (\"X-A\") must not contain control characters", 1 },
	{ HTTP1("headers = [\"X-A: \\x7f\"];"), "'headers' entry 1 (\"X-A\") must not contain control characters", 1 },
	{ HTTP1("headers = [\"X-A: caf\\xe9\"];"), "'headers' entry 1 (\"X-A\") is not valid UTF-8", 1 },
	{ HTTP1("headers = [\"X-A:\"];"), "'headers' entry 1 (\"X-A\") has an empty value", 1 },
	{ HTTP1("headers = [\"X-A:   \"];"), "'headers' entry 1 (\"X-A\") has an empty value", 1 },
	{ HTTP1("headers = [\"X-A: " X10(X10(X10("x"))) "\"];"), "'headers' entry 1 is longer than 1000 bytes", 1 },
	/* max_size */
	{ HTTP1("max_size = \"50XB\";"), "'max_size' must be a size like \"50MB\", \"512kB\", \"10MiB\" or a number of bytes, not \"50XB\"", 1 },
	{ HTTP1("max_size = \"MB\";"), "'max_size' must be a size like", 1 },
	{ HTTP1("max_size = \"\";"), "'max_size' must be a size like", 1 },
	{ HTTP1("max_size = \"-5MB\";"), "'max_size' must be a size like", 1 },
	{ HTTP1("max_size = \"1.5GB\";"), "not \"1.5GB\"", 1 },
	{ HTTP1("max_size = \"50 \";"), "not \"50 \"", 1 },
	{ HTTP1("max_size = \"50  MB\";"), "not \"50  MB\"", 1 },
	{ HTTP1("max_size = 1.5e6;"), "'max_size' must be a size like \"50MB\", \"512kB\", \"10MiB\" or a number of bytes, not 1.5e+06", 1 },
	{ HTTP1("max_size = true;"), "'max_size' must be a size like", 1 },
	{ HTTP1("max_size = 999;"), "'max_size' must be from 1kB to 2GB (1000 to 2000000000 bytes), not 999", 1 },
	{ HTTP1("max_size = -1;"), "'max_size' must be from 1kB to 2GB (1000 to 2000000000 bytes), not -1", 1 },
	{ HTTP1("\nmax_size = \"3GB\";"), "'max_size' must be from 1kB to 2GB (1000 to 2000000000 bytes), not \"3GB\"", 2 },
	{ HTTP1("max_size = \"2GiB\";"), "not \"2GiB\"", 1 },
	{ HTTP1("max_size = \"0\";"), "'max_size' must be from 1kB to 2GB", 1 },
	{ HTTP1("max_size = \"99999999999999999999999GB\";"), "'max_size' must be from 1kB to 2GB", 1 },
	{ HTTP1("max_size = \"9223372036854775807GiB\";"), "'max_size' must be from 1kB to 2GB", 1 },
	{ HTTP1("max_size = 4000000000L;"), "'max_size' must be from 1kB to 2GB (1000 to 2000000000 bytes), not 4000000000", 1 },
	/* layouts and formats */
	{ HTTP1("layout = \"by_indicator\";"), "layout = \"by_indicator\" is only for format = \"json\" (CSV takes \"long\" or \"wide\")", 1 },
	{ JSON1("\n layout = \"wide\";"), "layout = \"wide\" is only for CSV (with format = \"json\" use \"long\" or \"by_indicator\")", 2 },
	{ HTTP1("json = { records = \"data\"; };"), "'json' is only for format = \"json\"", 1 },
	{ JSON1("columns = { indicator = \"Codice\"; };"), "'columns' is only for format = \"csv\" (a JSON feed names its fields in 'json')", 1 },
	{ JSON1("dialect = { separator = \";\"; };"), "'separator' has no meaning with format = \"json\"", 1 },
	{ JSON1("dialect = { decimal = \",\"; encoding = \"utf-8\"; };"), "'encoding' has no meaning with format = \"json\" (JSON is UTF-8)", 1 },
	{ HTTP1("layout = \"wide\";\n columns = { indicator = \"I\"; value = \"V\"; };"), "'value' has no meaning with layout = \"wide\"", 2 },
	{ HTTP1("columns = { indicator = \"I\"; };"), "columns of source 'f' has no 'period'", 1 },
	{ HTTP1("dialect = { decimal = \",\"; thousands = \",\"; };"), "'thousands' must differ from 'decimal'", 1 },
	/* the json group */
	{ JSON1("json = { record = \"data\"; };"), "unknown setting 'record' in json of source 'f' (did you mean 'records'?)", 1 },
	{ JSON1("json = \"data\";"), "'json' must be a group { ... }, not \"data\"", 1 },
	{ JSON1("json = {\n records = \"data..items\"; };"), "'records' must be keys separated by single dots, like \"data.items\", not \"data..items\"", 2 },
	{ JSON1("json = { records = \".data\"; };"), "'records' must be keys separated by single dots", 1 },
	{ JSON1("json = { records = \"data.\"; };"), "'records' must be keys separated by single dots", 1 },
	{ JSON1("json = { records = \".\"; };"), "'records' must be keys separated by single dots", 1 },
	{ JSON1("json = { records = \"data items\"; };"), "'records' must not contain spaces: \"data items\"", 1 },
	{ JSON1("json = { indicator = \"\"; };"), "'indicator' must not be empty", 1 },
	{ JSON1("json = { period = \"a\\tb\"; };"), "'period' must not contain control characters", 1 },
	{ JSON1("json = { value = \"caf\\xe9\"; };"), "'value' is not valid UTF-8", 1 },
	{ JSON1("json = { value = 3; };"), "'value' must be a string in double quotes, not 3", 1 },
	{ JSON1("layout = \"by_indicator\";\n json = { indicator = \"code\"; };"), "'indicator' has no meaning with layout = \"by_indicator\" (the ids are the keys of the object)", 2 },
	/* daemon */
	{ "daemon = { http_max_parallel = 0; };", "'http_max_parallel' must be between 1 and 64, not 0", 1 },
	{ "daemon = {\n http_max_parallel = 65; };", "'http_max_parallel' must be between 1 and 64, not 65", 2 },
	{ "daemon = { http_max_per_host = 17; };", "'http_max_per_host' must be between 1 and 16, not 17", 1 },
	{ "daemon = { http_max_per_host = 0; };", "'http_max_per_host' must be between 1 and 16, not 0", 1 },
	{ "daemon = { http_max_per_host = \"4\"; };", "'http_max_per_host' must be an integer, not \"4\"", 1 },
	{ "daemon = { http_max_paralel = 4; };", "unknown setting 'http_max_paralel' in daemon (did you mean 'http_max_parallel'?)", 1 },
	/* targets */
	{ IND0("target = 90;\n critical = 95;"), "'critical' (95) must not be above 'target' (90) when better = \"higher\"", 2 },
	{ IND0("better = \"lower\"; target = 30; critical = 20;"), "'critical' (20) must not be below 'target' (30) when better = \"lower\"", 1 },
	{ IND0("better = \"range\"; min = 10; max = 5;"), "'min' (10) must not be above 'max' (5)", 1 },
	{ IND0("better = \"range\"; min = 10; critical_min = 12;"), "'critical_min' (12) must not be above 'min' (10)", 1 },
	{ IND0("better = \"range\"; max = 10; critical_max = 8;"), "'critical_max' (8) must not be below 'max' (10)", 1 },
	{ IND0("better = \"range\"; max = 10; critical_min = 8;"), "'critical_min' needs 'min'", 1 },
	{ IND0("better = \"range\"; min = 1; target = 8;"), "'target' is not for better = \"range\"", 1 },
	{ IND0("better = \"range\"; min = 1; year_target = { value = 3; };"), "'year_target' needs better = \"higher\" or \"lower\"", 1 },
	{ IND("min = 3;"), "'min' is only for better = \"range\"", 1 },
	/* duplicates and references */
	{ "indicators = ( { id = \"A\"; name = \"N\"; department = \"D\"; target = 1; },\n"
	  "  { id = \"A\"; name = \"M\"; department = \"D\"; target = 2; } );",
	  "duplicate indicator id 'A' (first at t.conf:1)", 2 },
	{ "sources = ( { name = \"s\"; type = \"csv\"; path = \"/a\"; },\n { name = \"s\"; type = \"csv\"; path = \"/b\"; } );",
	  "duplicate source name 's' (first at t.conf:1)", 2 },
	{ "channels = ( { name = \"h\"; type = \"webhook\"; url = \"http://h/x\"; },\n"
	  " { name = \"h\"; type = \"webhook\"; url = \"http://h/y\"; } );", "duplicate channel name 'h' (first at t.conf:1)", 2 },
	{ CHN "routes = ( { name = \"r\"; channels = [\"hook\"]; },\n { name = \"r\"; channels = [\"hook\"]; } );",
	  "duplicate route name 'r' (first at t.conf:2)", 3 },
	{ IND("source = \"sr\";") SRC, "unknown source 'sr' (did you mean 'src'?)", 1 },
	{ CHN ROUTE("channels = [\"hook\",\n \"mial\"]; to = [\"@owner\"];"), "route 1: unknown channel 'mial' (did you mean 'mail'?)", 3 },
	{ IND("") CHN ROUTE("name = \"x\"; indicators = [\"A\", \"AB\"]; channels = [\"hook\"];"), "route 'x': unknown indicator 'AB' (did you mean 'A'?)", 3 },
	{ IND("") SILD("indicators = [\"a\", \"Z\"];"), "silence 1: unknown indicator 'Z'", 2 },
	/* routes */
	{ CHN ROUTE("channels = [\"mail\"];"), "route 1 has no 'to' (required: channel 'mail' is an email channel", 2 },
	{ CHN ROUTE("channels = [\"hook\"]; to = [\"a@example.org\"];"), "'to' is only for email channels (this route has none)", 2 },
	{ CHN ROUTE("channels = [\"mail\"]; to = [\"@owner\"]; escalate_after = \"7d\";"), "'escalate_after' without 'escalate_to'", 2 },
	{ CHN ROUTE("channels = [\"mail\"]; to = [\"@owner\"]; escalate_to = [\"b@example.org\"];"), "'escalate_to' without 'escalate_after'", 2 },
	{ CHN ROUTE("channels = [\"mail\"]; to = [\"@owner\", \"@boss\"];"), "'to' entry 2 must be an email address like \"name@example.org\" or \"@owner\", not \"@boss\"", 2 },
	{ CHN ROUTE("channels = [\"mail\"]; to = [\"@owner\"]; escalate_after = \"7d\"; escalate_to = [\"@owner\"];"), "'escalate_to' entry 1 must be an email address", 2 },
	{ CHN ROUTE("channels = [\"hook\"]; min_status = \"bad\";"), "'min_status' must be one of \"unknown\", \"warning\", \"late\", \"critical\", not \"bad\"", 2 },
	{ CHN ROUTE("channels = [\"hook\"]; repeat_every = \"30s\";"), "'repeat_every' must be at least 1m, not \"30s\"", 2 },
	/* channels */
	{ CH1("type = \"email\";\n url = \"http://mail.example.org\"; from = \"q@example.org\";"), "'url' of an email channel must start with smtp:// or smtps://, not \"http://mail.example.org\"", 2 },
	{ CH1("type = \"webhook\"; url = \"ftp://h/x\";"), "'url' of a webhook channel must start with http:// or https://, not \"ftp://h/…\"", 1 },
	{ CH1("type = \"webhook\"; url = \"https://h/a b\";"), "'url' must be a URL without spaces", 1 },
	{ CH1("type = \"webhook\"; url = \"h/x\";"), "'url' must be a URL like \"https://host/path\", not \"…\"", 1 },
	/* a webhook's path is its secret: errors show the scheme and host only */
	{ CH1("type = \"webhook\"; url = \"https://hooks.example/T0/SECRET x\";"), "'url' must be a URL without spaces or non-ASCII characters (percent-encode them), not \"https://hooks.example/…\"", 1 },
	{ CH1("type = \"webhook\"; url = \"https://u:pw@hooks.example/T0/SECRET\";"), "'url' must not carry a password (\"https://u:***@hooks.example/…\")", 1 },
	{ CH1("type = \"email\"; url = \"smtps://m.example.org\"; from = \"q@example.org\";\n starttls = true;"),
	  "'starttls = true' contradicts the smtps:// url", 2 },
	{ CH1("type = \"webhook\"; url = \"https://h/x\"; from = \"q@example.org\";"), "'from' is only for email channels", 1 },
	{ MAILCH("format = \"teams\";"), "'format' is only for webhook channels", 1 },
	{ MAILCH("password_file = \"pw\";"), "'password_file' needs 'username'", 1 },
	{ CH1("type = \"sms\"; url = \"https://h/x\";"), "'type' must be one of \"email\", \"webhook\", not \"sms\"", 1 },
	{ CH1("type = \"webhook\"; url = \"https://h/x\"; format = \"Team\";"), "(did you mean \"teams\"?)", 1 },
	{ "daemon = { state_dir = \"\"; };", "'state_dir' must not be empty", 1 },
	/* syntax (libconfig's own messages) */
	{ "a = ;", "syntax error", 1 },
	{ "daemon = {\n  language = \"it\";\n  state_dir = ;\n};", "syntax error", 3 },
	{ "daemon = { language = \"it\"; language = \"en\"; };", "duplicate setting name", 1 },
	{ "@include \"/nonexistent/traguardo-test.conf\"\n", "cannot open include file", 1 },
	{ "a = " DEEP("{ b = ") "1;" DEEP(" };") "\n", "groups or lists nested too deeply", 1 },
	/* integers libconfig 1.5 would silently wrap (atoi, strtoul cast to int) */
	{ IND("confirm_periods = 4294967297;"), "the integer 4294967297 does not fit in 32 bits", 1 },
	{ IND0("target = 2147483648;"), "write it as a number (2147483648.0) or with the L suffix (2147483648L)", 1 },
	{ IND("confirm_periods = -2147483649;"), "the integer -2147483649 does not fit in 32 bits", 1 },
	{ IND("confirm_periods = 0x100000002;"), "the integer 0x100000002 does not fit in 31 bits", 1 },
	{ IND0("target = 99999999999999999999999;"), "the integer 99999999999999999999999 does not fit", 1 },
	{ IND("confirm_periods = 9223372036854775808L;"), "the integer 9223372036854775808L is out of range", 1 },
	{ "# 99999999999\n/* 99999999999\n*/ daemon = { organization = \"99999999999\"; };\n"
	  IND("critical = +99999999999;"), "the integer +99999999999 does not fit", 4 },
};

static void test_bad_configs(void **state)
{
	(void)state;
	size_t failures = 0;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct reports rs = { 0 };
		struct tg_error err = { { 0 } };
		struct tg_config *cfg = tg_config_load_string(c->text, "t.conf", collect, &rs, &err);
		ssize_t k = find_report(&rs, c->expect);

		if (cfg != NULL || rs.n == 0 || k < 0 || rs.r[k].line != c->line ||
		    strcmp(rs.r[k].file, "t.conf") != 0 || strncmp(err.msg, "t.conf:", 7) != 0) {
			print_error("case %zu: expected \"%s\" at line %d, got%s:\n", i, c->expect,
				    c->line, cfg ? " a config" : "");
			print_reports(&rs);
			failures++;
		}
		tg_config_free(cfg);
	}
	assert_int_equal(failures, 0);
	assert_true(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 40);
}

/* No message shows a password, a webhook's path or a token, whatever is
 * wrong with the setting that holds it. */
static void test_secrets_not_shown(void **state)
{
	static const char *const texts[] = {
		"ha = { conninfo = \"postgresql://u:MYPa%zzSECRET@db/kpi\"; };",
		"ha = { conninfo = \"postgresql://u:pw@db/kpi?password=SECRET%00\"; };",
		"ha = { conninfo = \"host=db password=SECRET8\\n\"; };",
		"ha = { conninfo = \"host=db password=SECRET\\xff\"; };",
		"ha = { conninfo = \"host=db SECRETWORD\"; };",
		"ha = { conninfo = \"postgresql://h/db?password=a\\\"SECRETPASSWORD\\\"b%zz\"; };",
		"ha = { conninfo = \"postgresql://u:TOP\\\"SECRET\\\"PW@[::1]x/db\"; };",
		"channels = ( { name = \"m\"; type = \"email\"; from = \"a@b.it\";\n"
		"  url = \"smtpx://u:TOPSECRET#PW@h.example\"; } );",
		"channels = ( { name = \"w\"; type = \"webhook\"; url = \"https://u:SECRET#x@h.example/x\\x01\"; } );",
		"sources = ( { name = \"h\"; type = \"http\"; format = \"csv\";\n"
		"  url = \"https://h/x\"; proxy = \"htp://u:TOP#SECRET@p:3128\"; } );",
		/* a userinfo longer than the message's room for the URL */
		"sources = ( { name = \"h\"; type = \"http\"; format = \"csv\";\n"
		"  url = \"https://h/x\"; proxy = \"htp://u:TOP#SECRETAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@p:3128\"; } );",
		"channels = ( { name = \"m\"; type = \"email\"; from = \"a@b.it\";\n"
		"  url = \"smtpx://u:TOPSECRET#AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@h.example\"; } );",
		"channels = ( { name = \"w\"; type = \"webhook\";\n"
		"  url = \"https://u:SECRET#AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@h.example/x\\x01\"; } );",
		"archive = { conninfo = \"postgresql://u:SECRET@[::1]#x/db\"; };",
		"channels = ( { name = \"w\"; type = \"webhook\"; format = \"slack\";\n"
		"  url = \"https://hooks.slack.com/services/T0/B0/SECRETPATH\\t\"; } );",
		"channels = ( { name = \"w\"; type = \"webhook\"; url = \"https://h/SECRETPATH/\\xff\"; } );",
		"channels = ( { name = \"m\"; type = \"email\"; from = \"a@b.it\";\n"
		"  url = \"smtp://u:PASSWORD@mail.example\\n\"; } );",
		"channels = ( { name = \"m\"; type = \"email\"; from = \"a@b.it\";\n"
		"  url = \"https://hooks.example/SECRETPATH\"; } );",
		"sources = ( { name = \"h\"; type = \"http\"; format = \"csv\";\n"
		"  url = \"http://h/x?token=SECRET7\\t\"; } );",
		"sources = ( { name = \"h\"; type = \"http\"; format = \"csv\";\n"
		"  url = \"ftp://h/x?token=SECRET7\"; } );",
		"sources = ( { name = \"h\"; type = \"http\"; format = \"csv\";\n"
		"  url = \"https://h/x\"; proxy = \"http://u:PASSWORD@proxy/\\t\"; } );",
	};
	size_t failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct reports rs = { 0 };
		struct tg_error err = { { 0 } };
		struct tg_config *cfg = tg_config_load_string(texts[i], "t.conf", collect, &rs, &err);
		bool shown = strstr(err.msg, "SECRET") != NULL || strstr(err.msg, "PASSWORD") != NULL;

		for (size_t k = 0; k < rs.n && k < MAX_REPORTS; k++)
			shown |= strstr(rs.r[k].msg, "SECRET") != NULL ||
				 strstr(rs.r[k].msg, "PASSWORD") != NULL;
		if (cfg != NULL || rs.n == 0 || shown) {
			print_error("case %zu:%s\n", i, cfg != NULL ? " accepted" : "");
			print_reports(&rs);
			failures++;
		}
		tg_config_free(cfg);
	}
	assert_int_equal(failures, 0);
}

/* Large numbers written the way libconfig reads them right are accepted
 * and exact; digits inside strings, comments and names are not numbers. */
static void test_big_numbers_ok(void **state)
{
	(void)state;
	struct tg_config *cfg = load_ok(
		"# 99999999999 in a comment\n"
		"/* 4294967297\n 0x100000002 */\n"
		"daemon = { organization = \"Comune 4294967297 \\\" 99999999999\"; };\n"
		"indicators = (\n"
		"  { id = \"X-4294967297\"; name = \"N\"; department = \"D\"; better = \"lower\";\n"
		"    target = 4294967297.0; critical = 4294967298L; confirm_periods = 2; },\n"
		"  { id = \"Y\"; name = \"N\"; department = \"D\"; target = 2147483647;\n"
		"    critical = -2147483648; },\n"
		"  { id = \"Z\"; name = \"N\"; department = \"D\"; target = 1e12; critical = 0x7FFFFFFF; } );\n");

	assert_int_equal(cfg->n_indicators, 3);
	assert_true(cfg->indicators[0].target == 4294967297.0);
	assert_true(cfg->indicators[0].critical == 4294967298.0);
	assert_int_equal(cfg->indicators[0].confirm_periods, 2);
	assert_true(cfg->indicators[1].target == 2147483647.0);
	assert_true(cfg->indicators[1].critical == -2147483648.0);
	tg_config_free(cfg);
}

/* Every error of one run is reported, sorted by line (ties in the order
 * found), each with its line. */
static void test_many_errors(void **state)
{
	(void)state;
	static const char text[] =
		"daemon = { language = \"fr\"; };\n"                                        /* 1 */
		"sources = (\n"
		"  { name = \"s\"; type = \"csv\"; path = \"/s\"; every = \"1s\"; },\n"      /* 3 */
		"  { name = \"pg\"; type = \"postgresql\"; conninfo = \"x\"; query = \"q\"; }\n" /* 4 */
		");\n"
		"indicators = (\n"
		"  { id = \"A\"; name = \"N\"; department = \"D\"; tagret = 3; },\n"        /* 7: 2 errors */
		"  { id = \"B\"; name = \"N\"; department = \"D\"; target = 3; source = \"pg\"; },\n"
		"  { id = \"A\"; name = \"N\"; department = \"D\"; target = 3; }\n"         /* 9 */
		");\n"
		"channels = ( { name = \"m\"; type = \"email\"; url = \"smtp://x.example.org\"; } );\n" /* 11 */
		"routes = ( { channels = [\"m\", \"z\"]; } );\n";                           /* 12: 2 errors */
	static const struct { int line; const char *sub; } expect[] = {
		{ 1, "'language' must be one of" },
		{ 3, "'every' must be at least 10s" },
		{ 4, "'conninfo' is not valid: missing (the text libpq quotes is not shown" },
		{ 7, "unknown setting 'tagret'" },
		{ 7, "indicator 'A' has no 'target'" },
		{ 9, "duplicate indicator id 'A' (first at t.conf:7)" },
		{ 11, "channel 'm' has no 'from'" },
		{ 12, "route 1: unknown channel 'z'" },
		{ 12, "route 1 has no 'to'" },
	};
	struct reports rs = { 0 };
	struct tg_error err = { { 0 } };
	struct tg_config *cfg = tg_config_load_string(text, "t.conf", collect, &rs, &err);
	size_t n = sizeof(expect) / sizeof(expect[0]);

	assert_null(cfg);
	if (rs.n != n)
		print_reports(&rs);
	assert_int_equal(rs.n, n);
	for (size_t i = 0; i < n; i++) {
		if (strstr(rs.r[i].msg, expect[i].sub) == NULL || rs.r[i].line != expect[i].line) {
			print_error("report %zu: expected line %d \"%s\"\n", i, expect[i].line,
				    expect[i].sub);
			print_reports(&rs);
			fail();
		}
	}
	/* err holds the first, with its location. */
	assert_non_null(strstr(err.msg, "t.conf:1: 'language' must be one of"));
}

/* report may be NULL: err still gets the first error. */
static void test_null_report(void **state)
{
	(void)state;
	struct tg_error err = { { 0 } };

	assert_null(tg_config_load_string(IND("tagret = 1;"), "n.conf", NULL, NULL, &err));
	assert_non_null(strstr(err.msg, "n.conf:1: unknown setting 'tagret'"));
	assert_null(tg_config_load_string("a = ;", NULL, NULL, NULL, &err));
	assert_non_null(strstr(err.msg, "(config):1: syntax error"));
	assert_null(tg_config_load_string(NULL, "x", NULL, NULL, NULL));
	assert_null(tg_config_load(NULL, NULL, NULL, &err));
	/* A byte order mark at the start of a string is skipped too. */
	struct tg_config *cfg = tg_config_load_string("\xEF\xBB\xBF" "daemon = { language = \"en\"; };",
						      "b.conf", NULL, NULL, &err);
	assert_non_null(cfg);
	assert_string_equal(cfg->daemon.language, "en");
	tg_config_free(cfg);
	tg_config_free(NULL);
}

/* Values in messages are quoted, truncated and escaped. */
static void test_message_quoting(void **state)
{
	(void)state;
	struct reports rs = { 0 };
	char text[512];

	snprintf(text, sizeof(text), IND("better = \"%s\";"),
		 "\\x01abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	assert_null(tg_config_load_string(text, "t.conf", collect, &rs, NULL));
	assert_int_equal(rs.n, 1);
	assert_non_null(strstr(rs.r[0].msg, "not \"\\x01abcdefghijklmnopqrstuvwxyz0123456789ABC...\""));
}

/* ------------------------------------------------------------------ */
/* Files and @include.                                                  */

static void test_file_good_include(void **state)
{
	(void)state;
	struct reports rs = { 0 };
	struct tg_config *cfg = tg_config_load(DATA "/include_good.conf", collect, &rs, NULL);
	char *dir = realpath(DATA, NULL), expect[PATH_MAX + 64];

	if (cfg == NULL)
		print_reports(&rs);
	assert_non_null(cfg);
	assert_non_null(dir);
	assert_string_equal(cfg->dir, dir);
	snprintf(expect, sizeof(expect), "%s/include_good.conf", dir);
	assert_string_equal(cfg->file, expect);
	snprintf(expect, sizeof(expect), "%s/state", dir);
	assert_string_equal(cfg->daemon.state_dir, expect);
	assert_string_equal(cfg->daemon.language, "en");
	assert_int_equal(cfg->n_sources, 1);
	/* Relative to the main file's directory, not the included file's. */
	snprintf(expect, sizeof(expect), "%s/feeds/urp.csv", dir);
	assert_string_equal(cfg->sources[0].path, expect);
	assert_string_equal(cfg->sources[0].loc.file, DATA "/parts/sources.conf");
	assert_int_equal(cfg->sources[0].loc.line, 3);
	assert_string_equal(cfg->indicators[0].loc.file, DATA "/include_good.conf");
	assert_int_equal(cfg->indicators[0].loc.line, 5);
	assert_int_equal(cfg->indicators[0].source_index, 0);
	free(dir);
	tg_config_free(cfg);

	cfg = tg_config_load(DATA "/good.conf", collect, &rs, NULL);
	assert_non_null(cfg);
	assert_int_equal(rs.n, 0);
	assert_string_equal(cfg->channels[0].secret_file, "hook-secret");
	assert_int_equal(cfg->n_sources, 2);
	assert_int_equal(cfg->sources[1].type, TG_SOURCE_HTTP);
	assert_int_equal(cfg->sources[1].format, TG_FORMAT_JSON);
	assert_int_equal(cfg->sources[1].layout, TG_LAYOUT_BY_INDICATOR);
	assert_int_equal(cfg->sources[1].max_size, 5000000);
	assert_string_equal(cfg->sources[1].json_records, "data");
	assert_string_equal(cfg->sources[1].json_indicator, "indicator");
	assert_string_equal(cfg->sources[1].bearer_token_file, "anac-token");
	assert_int_equal(cfg->sources[1].loc.line, 4);
	dir = realpath(DATA, NULL);
	assert_non_null(dir);
	snprintf(expect, sizeof(expect), "%s/ca.pem", dir);
	assert_string_equal(cfg->sources[1].ca_file, expect);
	free(dir);
	tg_config_free(cfg);
}

static void test_file_errors(void **state)
{
	(void)state;
	struct reports rs = { 0 };
	struct tg_error err = { { 0 } };

	/* An error inside an included file names that file and its line; the
	 * missing key comes first, at the line of its group. */
	assert_null(tg_config_load(DATA "/include_bad.conf", collect, &rs, &err));
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[0].file, DATA "/parts/bad_indicators.conf");
	assert_int_equal(rs.r[0].line, 3);
	assert_non_null(strstr(rs.r[0].msg, "indicator 'RAG-01' has no 'target'"));
	assert_string_equal(rs.r[1].file, DATA "/parts/bad_indicators.conf");
	assert_int_equal(rs.r[1].line, 4);
	assert_non_null(strstr(rs.r[1].msg, "unknown setting 'tagret' in indicator 'RAG-01' (did you mean 'target'?)"));
	assert_non_null(strstr(err.msg, "parts/bad_indicators.conf:3: indicator 'RAG-01' has no"));

	/* A syntax error inside an included file. */
	memset(&rs, 0, sizeof(rs));
	assert_null(tg_config_load(DATA "/include_syntax.conf", collect, &rs, &err));
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.r[0].file, DATA "/parts/syntax.conf");
	assert_int_equal(rs.r[0].line, 2);
	assert_non_null(strstr(rs.r[0].msg, "syntax error"));

	/* Syntax error in the main file: libconfig gives no file name. */
	memset(&rs, 0, sizeof(rs));
	assert_null(tg_config_load(DATA "/main_syntax.conf", collect, &rs, &err));
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.r[0].file, DATA "/main_syntax.conf");
	assert_int_equal(rs.r[0].line, 3);

	/* Errors in the main file, all of them. */
	memset(&rs, 0, sizeof(rs));
	assert_null(tg_config_load(DATA "/main_errors.conf", collect, &rs, &err));
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[0].file, DATA "/main_errors.conf");
	assert_int_equal(rs.r[0].line, 3);
	assert_non_null(strstr(rs.r[0].msg, "'evaluate_every' must be a duration like \"15m\", not 10"));
	assert_int_equal(rs.r[1].line, 5);
	assert_non_null(strstr(rs.r[1].msg, "unknown setting 'organisation' in daemon (did you mean 'organization'?)"));

	/* A byte order mark is skipped; CRLF lines are counted right. */
	memset(&rs, 0, sizeof(rs));
	assert_null(tg_config_load(DATA "/bom_crlf.conf", collect, &rs, &err));
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.r[0].line, 3);
	assert_non_null(strstr(rs.r[0].msg, "'evaluate_every' must be at least 10s"));

	/* NUL bytes would silently cut strings: refused, with their line. */
	memset(&rs, 0, sizeof(rs));
	assert_null(tg_config_load(DATA "/nul.conf", collect, &rs, &err));
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.r[0].line, 2);
	assert_non_null(strstr(rs.r[0].msg, "NUL byte"));

	/* Included files are read by libconfig: their NUL bytes and integer
	 * overflows are found all the same, in the included file. */
	memset(&rs, 0, sizeof(rs));
	assert_null(tg_config_load(DATA "/include_nul.conf", collect, &rs, &err));
	assert_true(rs.n >= 2);
	assert_true(find_report(&rs, "NUL byte") >= 0);
	assert_string_equal(rs.r[find_report(&rs, "NUL byte")].file, DATA "/parts/nul_part.conf");
	assert_int_equal(rs.r[find_report(&rs, "NUL byte")].line, 3);
	assert_true(find_report(&rs, "the integer 4294967297 does not fit") >= 0);
	assert_string_equal(rs.r[find_report(&rs, "4294967297")].file, DATA "/parts/bigint_part.conf");
	assert_int_equal(rs.r[find_report(&rs, "4294967297")].line, 4);

	/* Missing file, directory. */
	memset(&rs, 0, sizeof(rs));
	assert_null(tg_config_load(DATA "/no-such.conf", collect, &rs, &err));
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.r[0].line, 0);
	assert_non_null(strstr(rs.r[0].msg, "cannot open: No such file or directory"));
	assert_non_null(strstr(err.msg, "no-such.conf: cannot open"));
	memset(&rs, 0, sizeof(rs));
	assert_null(tg_config_load(DATA, collect, &rs, &err));
	assert_int_equal(rs.n, 1);
	assert_non_null(strstr(rs.r[0].msg, "is a directory"));
}

/* load_string: relative paths against the directory of name. */
static void test_string_name_dir(void **state)
{
	(void)state;
	struct tg_config *cfg;
	char *dir = realpath(DATA, NULL);
	char expect[PATH_MAX + 64];

	assert_non_null(dir);
	cfg = load_ok("daemon = { state_dir = \"st\"; };");
	tg_config_free(cfg);
	cfg = tg_config_load_string("daemon = { state_dir = \"st\"; };", DATA "/virtual.conf",
				    NULL, NULL, NULL);
	assert_non_null(cfg);
	snprintf(expect, sizeof(expect), "%s/st", dir);
	assert_string_equal(cfg->daemon.state_dir, expect);
	snprintf(expect, sizeof(expect), "%s/virtual.conf", dir);
	assert_string_equal(cfg->file, expect);
	tg_config_free(cfg);
	/* A directory that does not exist is made absolute as written. */
	cfg = tg_config_load_string("daemon = { state_dir = \"st\"; };", "/nonexistent/dir/x.conf",
				    NULL, NULL, NULL);
	assert_non_null(cfg);
	assert_string_equal(cfg->dir, "/nonexistent/dir");
	assert_string_equal(cfg->daemon.state_dir, "/nonexistent/dir/st");
	tg_config_free(cfg);
	/* "." and ".." segments and double slashes are resolved as written */
	{
		static const struct { const char *in, *out; } norm[] = {
			{ "../st", "/nonexistent/st" },
			{ "a/./b//c/", "/nonexistent/dir/a/b/c" },
			{ "../../../../st", "/st" },
			{ "/var/lib/../lib/traguardo/.", "/var/lib/traguardo" },
			{ "..", "/nonexistent" },
		};
		for (size_t i = 0; i < sizeof(norm) / sizeof(norm[0]); i++) {
			char text[128];

			snprintf(text, sizeof(text), "daemon = { state_dir = \"%s\"; };", norm[i].in);
			cfg = tg_config_load_string(text, "/nonexistent/dir/x.conf", NULL, NULL, NULL);
			assert_non_null(cfg);
			if (strcmp(cfg->daemon.state_dir, norm[i].out) != 0)
				fail_msg("state_dir \"%s\": got \"%s\", expected \"%s\"", norm[i].in,
					 cfg->daemon.state_dir, norm[i].out);
			tg_config_free(cfg);
		}
	}
	cfg = tg_config_load_string("", "/x.conf", NULL, NULL, NULL);
	assert_non_null(cfg);
	assert_string_equal(cfg->dir, "/");
	assert_string_equal(cfg->file, "/x.conf");
	assert_string_equal(cfg->daemon.state_dir, "/var/lib/traguardo");
	assert_int_equal(cfg->n_indicators, 0);
	tg_config_free(cfg);
	free(dir);
}

static void test_secret_path(void **state)
{
	(void)state;
	struct tg_config *cfg = tg_config_load_string("", "/etc/traguardo/t.conf", NULL, NULL, NULL);
	char tmpl[] = "/tmp/tg-config-creds-XXXXXX", path[PATH_MAX];
	char *p;
	FILE *f;

	assert_non_null(cfg);
	assert_non_null(mkdtemp(tmpl));
	snprintf(path, sizeof(path), "%s/smtp-password", tmpl);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);

	unsetenv("CREDENTIALS_DIRECTORY");
	p = tg_config_secret_path(cfg, "smtp-password");
	assert_string_equal(p, "/etc/traguardo/smtp-password");
	free(p);
	p = tg_config_secret_path(cfg, "/run/keys/k");
	assert_string_equal(p, "/run/keys/k");
	free(p);

	setenv("CREDENTIALS_DIRECTORY", tmpl, 1);
	p = tg_config_secret_path(cfg, "smtp-password");
	assert_string_equal(p, path);
	free(p);
	/* Not in the credentials directory: the config directory. */
	p = tg_config_secret_path(cfg, "hook-key");
	assert_string_equal(p, "/etc/traguardo/hook-key");
	free(p);
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_null(tg_config_secret_path(cfg, NULL));

	unlink(path);
	rmdir(tmpl);
	tg_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* HTTP sources.                                                        */

static void test_http_defaults(void **state)
{
	(void)state;
	struct tg_config *cfg = load_ok(
		"sources = ( { name = \"f\"; type = \"http\"; url = \"https://dati.example.org/kpi.csv\"; },\n"
		"            { name = \"j\"; type = \"http\"; url = \"http://intranet/kpi\"; format = \"json\"; } );\n");
	static const char *const missing[] = { "", "n.d.", "n/d", "nd", "-", "--", "N/A", "n.a." };

	assert_int_equal(cfg->daemon.http_max_parallel, 8);
	assert_int_equal(cfg->daemon.http_max_per_host, 4);
	assert_int_equal(cfg->n_sources, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct tg_source *s = &cfg->sources[i];

		assert_int_equal(s->type, TG_SOURCE_HTTP);
		assert_int_equal(s->every, 900);
		assert_int_equal(s->timeout, 30);
		assert_null(s->path);
		assert_int_equal(s->layout, TG_LAYOUT_LONG);
		assert_null(s->ca_file);
		assert_null(s->proxy);
		assert_null(s->bearer_token_file);
		assert_null(s->username);
		assert_null(s->password_file);
		assert_int_equal(s->headers.n, 0);
		assert_int_equal(s->max_size, 52428800);
		assert_int_equal(s->retries, 3);
		assert_string_equal(s->json_records, "");
		assert_string_equal(s->json_indicator, "indicator");
		assert_string_equal(s->json_period, "period");
		assert_string_equal(s->json_value, "value");
		assert_int_equal(s->dialect.separator, 0);
		assert_int_equal(s->dialect.encoding, TG_ENC_AUTO);
		assert_int_equal(s->dialect.number.decimal, ',');
		assert_int_equal(s->dialect.number.thousands, '.');
		assert_null(s->dialect.date_format);
		assert_int_equal(s->dialect.missing.n, 8);
		for (size_t k = 0; k < 8; k++)
			assert_string_equal(s->dialect.missing.v[k], missing[k]);
		assert_ptr_equal(s->dialect.number.missing, s->dialect.missing.v);
		assert_null(s->col_indicator);
		assert_int_equal(s->loc.line, (int)i + 1);
	}
	assert_int_equal(cfg->sources[0].format, TG_FORMAT_CSV);
	assert_string_equal(cfg->sources[0].url, "https://dati.example.org/kpi.csv");
	assert_int_equal(cfg->sources[1].format, TG_FORMAT_JSON);
	assert_string_equal(cfg->sources[1].url, "http://intranet/kpi");
	tg_config_free(cfg);
}

static void test_http_full(void **state)
{
	(void)state;
	struct tg_config *cfg = load_ok(
		"daemon = { http_max_parallel = 64; http_max_per_host = 1; };\n"
		"sources = (\n"
		"  { name = \"anac\"; type = \"http\"; url = \"https://dati.example.org/api/kpi?anno=2026&x=1\";\n" /* 3 */
		"    format = \"json\"; every = \"1h\"; timeout = \"20s\"; ca_file = \"certs/../certs/ca.pem\";\n"
		"    proxy = \"http://proxy.comune.example:3128\"; bearer_token_file = \"anac-token\";\n"
		"    headers = [\"Accept: application/json\", \"X-Api-Version:2\", \"X-Note: caffè — sì\"];\n"
		"    max_size = \"10MiB\"; retries = 0; layout = \"by_indicator\";\n"
		"    json = { records = \"data.series\"; period = \"mese\"; value = \"valore.numero\"; };\n"
		"    dialect = { decimal = \".\"; date_format = \"%m/%Y\"; missing = [\"n.d.\"]; }; },\n"
		"  { name = \"urp\"; type = \"HTTP\"; url = \"http://intranet.local:8080/urp.csv\";\n"   /* 10 */
		"    format = \"CSV\"; username = \"qualita\"; password_file = \"/run/keys/urp\";\n"
		"    layout = \"wide\"; columns = { indicator = \"Codice\"; };\n"
		"    dialect = { separator = \";\"; encoding = \"windows-1252\"; };\n"
		"    max_size = 1000; retries = 10; proxy = \"socks5h://127.0.0.1:1080\"; },\n"
		"  { name = \"long\"; type = \"http\"; url = \"https://mario@h.example.org/x\"; format = \"json\";\n" /* 15 */
		"    layout = \"long\"; max_size = \"2GB\"; proxy = \"SOCKS5://p:1080\"; ca_file = \"/etc/ssl/ca.pem\";\n"
		"    json = { records = \"\"; indicator = \"meta.code\"; period = \"month\"; value = \"v\"; }; },\n"
		"  { name = \"p\"; type = \"http\"; url = \"HTTPS://h.example.org\"; proxy = \"https://u:pw@p:3128\";\n"
		"    headers = []; },\n"
		"  { name = \"file\"; type = \"csv\"; path = \"/srv/f.csv\"; }\n"
		");\n"
		"indicators = ( { id = \"A\"; name = \"N\"; department = \"D\"; target = 1; source = \"anac\"; },\n"
		"               { id = \"B\"; name = \"N\"; department = \"D\"; target = 1; source = \"urp\"; } );\n");
	char *real = realpath(".", NULL), expect[PATH_MAX + 64];
	const struct tg_source *s;

	assert_non_null(real);
	assert_int_equal(cfg->daemon.http_max_parallel, 64);
	assert_int_equal(cfg->daemon.http_max_per_host, 1);
	assert_int_equal(cfg->n_sources, 5);

	s = &cfg->sources[0];
	assert_int_equal(s->type, TG_SOURCE_HTTP);
	assert_string_equal(s->url, "https://dati.example.org/api/kpi?anno=2026&x=1");
	assert_int_equal(s->format, TG_FORMAT_JSON);
	assert_int_equal(s->every, 3600);
	assert_int_equal(s->timeout, 20);
	snprintf(expect, sizeof(expect), "%s/certs/ca.pem", real);
	assert_string_equal(s->ca_file, expect);            /* absolute, normalized */
	assert_string_equal(s->proxy, "http://proxy.comune.example:3128");
	assert_string_equal(s->bearer_token_file, "anac-token");  /* as written */
	assert_null(s->username);
	assert_null(s->password_file);
	assert_int_equal(s->headers.n, 3);
	assert_string_equal(s->headers.v[0], "Accept: application/json");
	assert_string_equal(s->headers.v[1], "X-Api-Version:2");
	assert_string_equal(s->headers.v[2], "X-Note: caffè — sì");
	assert_int_equal(s->max_size, 10485760);
	assert_int_equal(s->retries, 0);
	assert_int_equal(s->layout, TG_LAYOUT_BY_INDICATOR);
	assert_string_equal(s->json_records, "data.series");
	assert_string_equal(s->json_indicator, "indicator");   /* default kept */
	assert_string_equal(s->json_period, "mese");
	assert_string_equal(s->json_value, "valore.numero");
	assert_int_equal(s->dialect.number.decimal, '.');
	assert_int_equal(s->dialect.number.thousands, ',');
	assert_string_equal(s->dialect.date_format, "%m/%Y");
	assert_int_equal(s->dialect.missing.n, 1);
	assert_int_equal(s->dialect.number.n_missing, 1);
	assert_ptr_equal(s->dialect.number.missing, s->dialect.missing.v);
	assert_int_equal(s->loc.line, 3);

	s = &cfg->sources[1];
	assert_int_equal(s->type, TG_SOURCE_HTTP);
	assert_int_equal(s->format, TG_FORMAT_CSV);
	assert_string_equal(s->username, "qualita");
	assert_string_equal(s->password_file, "/run/keys/urp");
	assert_null(s->bearer_token_file);
	assert_int_equal(s->layout, TG_LAYOUT_WIDE);
	assert_string_equal(s->col_indicator, "Codice");
	assert_int_equal(s->dialect.separator, ';');
	assert_int_equal(s->dialect.encoding, TG_ENC_WINDOWS_1252);
	assert_int_equal(s->max_size, 1000);
	assert_int_equal(s->retries, 10);
	assert_string_equal(s->proxy, "socks5h://127.0.0.1:1080");
	assert_int_equal(s->loc.line, 10);

	s = &cfg->sources[2];
	assert_string_equal(s->url, "https://mario@h.example.org/x");  /* a user alone is no secret */
	assert_int_equal(s->layout, TG_LAYOUT_LONG);
	assert_int_equal(s->max_size, 2000000000);
	assert_string_equal(s->ca_file, "/etc/ssl/ca.pem");
	assert_string_equal(s->json_records, "");
	assert_string_equal(s->json_indicator, "meta.code");
	assert_string_equal(s->json_period, "month");
	assert_string_equal(s->json_value, "v");
	assert_int_equal(s->loc.line, 15);

	s = &cfg->sources[3];
	assert_string_equal(s->proxy, "https://u:pw@p:3128");
	assert_int_equal(s->headers.n, 0);

	s = &cfg->sources[4];
	assert_int_equal(s->type, TG_SOURCE_CSV);
	assert_string_equal(s->path, "/srv/f.csv");
	assert_null(s->url);
	assert_int_equal(s->max_size, 52428800);
	assert_string_equal(s->json_indicator, "indicator");

	assert_int_equal(cfg->indicators[0].source_index, 0);
	assert_int_equal(cfg->indicators[1].source_index, 1);
	assert_int_equal(tg_config_source_index(cfg, "long"), 2);
	free(real);
	tg_config_free(cfg);
}

/* max_size: every accepted form and the bounds. */
static void test_http_max_size(void **state)
{
	(void)state;
	static const struct { const char *v; int64_t bytes; } cases[] = {
		{ "1000", 1000 }, { "\"1000\"", 1000 }, { "\"1000B\"", 1000 }, { "\"1kB\"", 1000 },
		{ "\"1KB\"", 1000 }, { "\"1KiB\"", 1024 }, { "\"512kB\"", 512000 },
		{ "\"50MB\"", 50000000 }, { "\"50 MB\"", 50000000 }, { "\"50mb\"", 50000000 },
		{ "\"10MiB\"", 10485760 }, { "\"1GB\"", 1000000000 }, { "\"1gib\"", 1073741824 },
		{ "\"2GB\"", 2000000000 }, { "2000000000", 2000000000 }, { "2000000000L", 2000000000 },
		{ "\"000050MB\"", 50000000 }, { "52428800", 52428800 },
	};
	static const char *const bad[] = {
		"999", "\"999B\"", "\"0kB\"", "2000000001", "\"2000000001\"", "\"2GiB\"", "\"3GB\"",
		"\"1 GB \"", "\"1e3\"", "\"0x400\"", "\" 1kB\"", "\"1kBB\"", "\"1TB\"", "\"1 k\"",
	};
	size_t failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		struct reports rs = { 0 };
		struct tg_config *cfg;

		snprintf(text, sizeof(text), HTTP1("max_size = %s;"), cases[i].v);
		cfg = tg_config_load_string(text, "t.conf", collect, &rs, NULL);
		if (cfg == NULL || cfg->sources[0].max_size != cases[i].bytes) {
			print_error("case %zu: max_size = %s should be %lld bytes, got %lld\n", i,
				    cases[i].v, (long long)cases[i].bytes,
				    cfg ? (long long)cfg->sources[0].max_size : -1LL);
			print_reports(&rs);
			failures++;
		}
		tg_config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		struct reports rs = { 0 };
		struct tg_config *cfg;

		snprintf(text, sizeof(text), HTTP1("max_size = %s;"), bad[i]);
		cfg = tg_config_load_string(text, "t.conf", collect, &rs, NULL);
		if (cfg != NULL || rs.n != 1 || strncmp(rs.r[0].msg, "'max_size' must be", 18) != 0) {
			print_error("bad %zu: max_size = %s should be refused\n", i, bad[i]);
			print_reports(&rs);
			failures++;
		}
		tg_config_free(cfg);
	}
	assert_int_equal(failures, 0);
}

/* headers: at most 50, each at most 1000 bytes. */
static void test_http_header_limits(void **state)
{
	(void)state;
	size_t cap = 64 * 1100 + 512, len;
	char *text = malloc(cap);
	struct reports rs = { 0 };
	struct tg_config *cfg;

	assert_non_null(text);
	for (size_t count = 50; count <= 51; count++) {
		len = (size_t)snprintf(text, cap, "sources = ( { name = \"f\"; type = \"http\";"
				       " url = \"https://h/x\"; headers = [");
		for (size_t i = 0; i < count; i++)
			len += (size_t)snprintf(text + len, cap - len, "%s\"X-H%zu: %zu\"", i ? ", " : "",
						i, i);
		snprintf(text + len, cap - len, "]; } );\n");
		memset(&rs, 0, sizeof(rs));
		cfg = tg_config_load_string(text, "t.conf", collect, &rs, NULL);
		if (count == 50) {
			assert_non_null(cfg);
			assert_int_equal(cfg->sources[0].headers.n, 50);
			assert_string_equal(cfg->sources[0].headers.v[49], "X-H49: 49");
		} else {
			assert_null(cfg);
			assert_int_equal(rs.n, 1);
			assert_string_equal(rs.r[0].msg, "'headers' has 51 entries: at most 50 are allowed");
		}
		tg_config_free(cfg);
	}

	/* exactly 1000 bytes: "X-Long: " and 992 letters */
	len = (size_t)snprintf(text, cap, "sources = ( { name = \"f\"; type = \"http\";"
			       " url = \"https://h/x\"; headers = [\"X-Long: ");
	memset(text + len, 'v', 992);
	snprintf(text + len + 992, cap - len - 992, "\"]; } );\n");
	cfg = load_ok(text);
	assert_int_equal(strlen(cfg->sources[0].headers.v[0]), 1000);
	tg_config_free(cfg);
	free(text);
}

/* Secrets that slipped into the file never reach a message. */
static void test_http_no_secret_in_messages(void **state)
{
	(void)state;
	static const char *const texts[] = {
		HTTP0("url = \"https://mario:s3cret@h.example.org/kpi\";"),
		HTTP0("url = \"ftp://mario:s3cret@h.example.org/kpi\";"),
		HTTP0("url = \"https://mario:s3cret@h.example.org/a b\";"),
		HTTP0("url = \"https//mario:s3cret@h.example.org\";"),
		HTTP1("proxy = \"ftp://u:s3cret@p:21\";"),
		HTTP1("proxy = \"http://u:s3cret@p:3128 \";"),
		HTTP1("headers = [\"Authorization: Bearer s3cret\"];"),
		HTTP1("headers = [\"X-Api-Key: s3cret\\n\"];"),
		HTTP1("headers = [\"X-Api-Key:s3cret\\xff\"];"),
		HTTP1("headers = [\"X-Api-Key s3cret\"];"),
		CH1("type = \"webhook\"; url = \"https://u:s3cret@h/a b\";"),
	};
	size_t failures = 0;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct reports rs = { 0 };
		struct tg_error err = { { 0 } };
		struct tg_config *cfg = tg_config_load_string(texts[i], "t.conf", collect, &rs, &err);

		if (cfg != NULL || rs.n == 0 || find_report(&rs, "s3cret") >= 0 ||
		    strstr(err.msg, "s3cret") != NULL) {
			print_error("case %zu: expected an error without the secret, got:\n", i);
			print_reports(&rs);
			failures++;
		}
		tg_config_free(cfg);
	}
	assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------ */
/* Email addresses.                                                     */

static void test_pg_source(void **state)
{
	(void)state;
	static const char text[] =
		"sources = (\n"
		" { name = \"pg\"; type = \"postgresql\"; conninfo = \"service=kpi\";\n"
		"   query = \"SELECT a, b, c\\n\\tFROM t WHERE d >= $1::date\"; },\n"
		" { name = \"pg2\"; type = \"postgresql\"; conninfo = \"postgresql://u@db:5433/kpi?sslmode=require\";\n"
		"   query = \"q\"; since = \"30d\"; timeout = \"5s\"; every = \"1h\";\n"
		"   password_file = \"pg.pw\"; dialect = { decimal = \".\"; date_format = \"%m/%Y\"; };\n"
		"   columns = { indicator = \"kpi\"; period = \"mese\"; value = \"valore\"; }; }\n"
		");\n";
	struct reports rs = { 0 };
	struct tg_error err = { { 0 } };
	struct tg_config *cfg = tg_config_load_string(text, "/etc/t/t.conf", collect, &rs, &err);

	if (cfg == NULL)
		print_reports(&rs);
	assert_non_null(cfg);
	assert_int_equal(cfg->sources[0].type, TG_SOURCE_PG);
	assert_string_equal(cfg->sources[0].conninfo, "service=kpi");
	assert_string_equal(cfg->sources[0].query, "SELECT a, b, c\n\tFROM t WHERE d >= $1::date");
	assert_int_equal(cfg->sources[0].since, 400 * 86400);
	assert_int_equal(cfg->sources[0].timeout, 30);
	assert_null(cfg->sources[0].col_indicator);
	assert_null(cfg->sources[0].password_file);
	assert_int_equal(cfg->sources[1].since, 30 * 86400);
	assert_int_equal(cfg->sources[1].timeout, 5);
	assert_string_equal(cfg->sources[1].password_file, "pg.pw");
	assert_string_equal(cfg->sources[1].col_period, "mese");
	assert_string_equal(cfg->sources[1].dialect.date_format, "%m/%Y");
	assert_int_equal(cfg->sources[1].dialect.number.decimal, '.');
	tg_config_free(cfg);
}

static void test_email(void **state)
{
	(void)state;
	static const struct { const char *s; bool allow_name, ok; } cases[] = {
		{ "a@example.org", false, true },
		{ "mario.rossi+kpi@comune.example.it", false, true },
		{ "ced@localhost", false, true },
		{ "o'brien@example.org", false, true },
		{ "A_B-c@sub-1.example.org", false, true },
		{ "a@example", false, false },
		{ "a@", false, false },
		{ "@example.org", false, false },
		{ "a@@example.org", false, false },
		{ "a b@example.org", false, false },
		{ ".a@example.org", false, false },
		{ "a.@example.org", false, false },
		{ "a..b@example.org", false, false },
		{ "a@-example.org", false, false },
		{ "a@example-.org", false, false },
		{ "a@example..org", false, false },
		{ "a@example.org.", false, false },
		{ "a@exa_mple.org", false, false },
		{ "a@example.org\r\nBcc: x@y.z", false, false },
		{ "a@example.org\n", false, false },
		{ "à@example.org", false, false },
		{ "", false, false },
		{ "Name <a@example.org>", false, false },
		{ "Name <a@example.org>", true, true },
		{ "Ufficio Qualità <qualita@comune.example.it>", true, true },
		{ "\"Name, Inc\" <a@example.org>", true, true },
		{ "\"Say \\\"hi\\\"\" <a@example.org>", true, true },
		{ "<a@example.org>", true, true },
		{ "a@example.org", true, true },
		{ "Name, Inc <a@example.org>", true, false },
		{ "Name <a@example.org", true, false },
		{ "Name a@example.org>", true, false },
		{ "Name <a@example>", true, false },
		{ "Name <a@example.org> x", true, false },
		{ "\"Name <a@example.org>", true, false },
		{ "Na\rme <a@example.org>", true, false },
		{ "\"Na\tme\" <a@example.org>", true, false },
		{ "Name <<a@example.org>>", true, false },
		{ "Name \xff <a@example.org>", true, false },
	};
	size_t failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (tg_config_email_valid(cases[i].s, cases[i].allow_name) != cases[i].ok) {
			print_error("case %zu: \"%s\" (allow_name %d) should be %s\n", i, cases[i].s,
				    cases[i].allow_name, cases[i].ok ? "valid" : "invalid");
			failures++;
		}
	}
	assert_false(tg_config_email_valid(NULL, true));
	assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------ */
/* Scale.                                                               */

static void test_100k_indicators(void **state)
{
	(void)state;
	const size_t n = 100000;
	size_t cap = n * 160 + 4096, len = 0;
	char *text = malloc(cap);
	struct reports rs = { 0 };
	struct tg_config *cfg;

	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len,
				"sources = ( { name = \"s\"; type = \"csv\"; path = \"/s.csv\"; } );\n"
				"indicators = (\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"  { id = \"IND-%06zu\"; name = \"Indicatore %zu\"; department = \"Dip %zu\";"
					" source = \"s\"; target = %zu; }%s\n",
					i, i, i % 40, i % 100, i + 1 < n ? "," : "");
	snprintf(text + len, cap - len, ");\n");

	cfg = tg_config_load_string(text, "big.conf", collect, &rs, NULL);
	free(text);
	if (cfg == NULL)
		print_reports(&rs);
	assert_non_null(cfg);
	assert_int_equal(cfg->n_indicators, n);
	for (size_t i = 0; i < n; i += 997) {
		char id[32];
		int l = snprintf(id, sizeof(id), "IND-%06zu", i);

		assert_int_equal(tg_config_indicator_index(cfg, id, (size_t)l), (ssize_t)i);
	}
	assert_int_equal(tg_config_indicator_index(cfg, "IND-100000", 10), -1);
	assert_int_equal(cfg->indicators[n - 1].loc.line, (int)(n + 2));
	assert_int_equal(cfg->indicators[n - 1].source_index, 0);
	tg_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_secrets_not_shown),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_big_numbers_ok),
		cmocka_unit_test(test_null_report),
		cmocka_unit_test(test_message_quoting),
		cmocka_unit_test(test_file_good_include),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_string_name_dir),
		cmocka_unit_test(test_secret_path),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_pg_source),
		cmocka_unit_test(test_http_defaults),
		cmocka_unit_test(test_http_full),
		cmocka_unit_test(test_http_max_size),
		cmocka_unit_test(test_http_header_limits),
		cmocka_unit_test(test_http_no_secret_in_messages),
		cmocka_unit_test(test_100k_indicators),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
