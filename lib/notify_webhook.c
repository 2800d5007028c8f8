/*
 * notify_webhook.c — the JSON bodies of webhook messages (generic
 * Alertmanager-style, Teams Workflows, Slack, Mattermost, Google Chat) and
 * their HMAC signature; how an HTTP answer is taken.
 *
 * The texts are built here from the events, not from tg_message_render: a
 * chat wants a few short lines per indicator, not the e-mail's tables, and
 * the webhook bodies must not fail because an e-mail template is broken.
 * The wording follows message.h (kinds, status labels, "92,5% (ottobre
 * 2026)", "obiettivo ≥ 95%") so that both channels say the same thing.
 *
 * Every receiver has limits and rejects (or silently cuts) a body beyond
 * them; we cut first and say so, dropping whole indicators from the end of
 * the plan (its least urgent ones within the last department) and writing
 * "… e altri N indicatori", so the id line at the end always survives:
 *   teams       the whole body <= 28 KiB (Workflows refuses bigger cards);
 *   slack       header <= 150, each section <= 3000, at most 50 blocks;
 *   mattermost  text <= 16000 bytes (the server's default limit is 16383
 *               characters);
 *   googlechat  text <= 4096 bytes.
 * Limits are counted in bytes: a UTF-8 byte count is never below the
 * character count (nor the UTF-16 one) the services use, so a text within
 * the limit in bytes is within it however they count.
 *
 * Untrusted text (the evaluation reason can quote a source's error, names
 * come from the configuration) goes through one cleaner: invalid UTF-8
 * becomes U+FFFD (jansson refuses invalid strings, and a notification is
 * worth more than a perfect byte); in the chat formats control characters
 * become spaces (a name with a newline could forge an "id:" line) and the
 * format's markup is neutralised: Slack's &, <, > as entities (no
 * <!channel>), Mattermost's markdown by backslashes and "@" at the start of
 * a word followed by U+200B (no @channel), Google Chat's "<" followed by
 * U+200B (no <users/all>).  The generic format keeps labels and annotations
 * as they are (JSON escaping suffices) except summary and description,
 * which are cleaned like chat text because they are lines.
 *
 * Times: tg_time is civil local time; startsAt/endsAt are RFC 3339 with the
 * local UTC offset in force at that moment ("2026-11-20T09:00:00+01:00", "Z"
 * when the offset is 0), found with mktime (tm_isdst = -1, so TZ decides);
 * a civil time that does not exist (the hour skipped in spring) is written
 * with the offset before the change, which names the same instant as the
 * normalised one.  An offset that is not whole minutes (historical LMT) is
 * written in UTC; a time outside the years 1..9999 or that mktime refuses
 * is written as "0001-01-01T00:00:00Z", Alertmanager's "unset".
 */
#include "notify_webhook.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "number.h"
#include "output.h"
#include "period.h"
#include "status.h"
#include "strbuf.h"
#include "utf8.h"

#define TEAMS_MAX       (28 * 1024)
#define SLACK_HEADER    150
#define SLACK_SECTION   3000
#define SLACK_BLOCKS    50
#define MATTERMOST_MAX  16000
#define GOOGLECHAT_MAX  4096
#define TITLE_MAX       200     /* any title, before the format's own limits */
#define MORE_RESERVE    96      /* room kept for "… e altri N indicatori" */
#define VBUF            512     /* a value with its unit, a target */

/* ---- growing strings ---------------------------------------------------- */

/* Where to cut s[0..len) to keep at most max bytes without splitting a
 * UTF-8 character; with entities, not inside an "&...;" either. */
static size_t cut_point(const char *s, size_t len, size_t max, bool entities)
{
	size_t n = tg_utf8_cut(s, len, max);

	if (entities) {
		for (size_t i = n; i > 0 && n - i < 8; i--) {
			if (s[i - 1] == ';')
				break;
			if (s[i - 1] == '&') {
				n = i - 1;
				break;
			}
		}
	}
	return n;
}

/* Cuts b to at most max bytes, ending with "…" when anything was cut. */
static void sb_cut(struct tg_sb *b, size_t max, bool entities)
{
	size_t n;

	if (b->oom || b->len <= max || max < 3)
		return;
	n = cut_point(b->p, b->len, max - 3, entities);
	b->len = n;
	b->p[n] = '\0';
	tg_sb_puts(b, "…");
}

/* Drops an incomplete UTF-8 sequence that snprintf may have left at the end. */
static void trim_partial(char *s)
{
	size_t len = strlen(s), i = len;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && len - i < 3)
		i--;
	if (i > 0 && ((unsigned char)s[i - 1] & 0x80) &&
	    tg_utf8_len((const unsigned char *)s + i - 1, len - i + 1) != len - i + 1)
		s[i - 1] = '\0';
}

/* ---- cleaning untrusted text -------------------------------------------- */

enum {
	CL_CTRL = 1,       /* control characters become spaces */
	CL_SLACK = 2,      /* & < > as entities */
	CL_MD = 4,         /* markdown escaped, "@word" defused */
	CL_GCHAT = 8,      /* "<" defused */
};

#define ZWSP "\xE2\x80\x8B"
#define REPLACEMENT "\xEF\xBF\xBD"

static bool ascii_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Appends s with the cleaning of `mode`; s NULL appends nothing. */
static void sb_clean(struct tg_sb *b, const char *s, int mode)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len, i = 0;

	if (s == NULL)
		return;
	len = strlen(s);
	while (i < len) {
		size_t n = tg_utf8_len(u + i, len - i);
		unsigned char c = u[i];

		if (n == 0) {
			tg_sb_puts(b, REPLACEMENT);
			i++;
			continue;
		}
		if ((mode & CL_CTRL) &&
		    (c < 0x20 || c == 0x7F || (n == 2 && c == 0xC2 && u[i + 1] < 0xA0))) {
			tg_sb_putn(b, " ", 1);
			i += n;
			continue;
		}
		if (n == 1 && (mode & CL_SLACK) && (c == '&' || c == '<' || c == '>')) {
			tg_sb_puts(b, c == '&' ? "&amp;" : c == '<' ? "&lt;" : "&gt;");
		} else if (n == 1 && (mode & CL_MD) && strchr("\\`*_~[]<>|", c) != NULL) {
			tg_sb_putn(b, "\\", 1);
			tg_sb_putn(b, s + i, 1);
		} else if (n == 1 && (mode & CL_MD) && c == '@' && (i == 0 || !ascii_alnum(u[i - 1]))) {
			tg_sb_puts(b, "@" ZWSP);
		} else if (n == 1 && (mode & CL_GCHAT) && c == '<') {
			tg_sb_puts(b, "<" ZWSP);
		} else {
			tg_sb_putn(b, s + i, n);
		}
		i += n;
	}
}

/* ---- JSON with one out-of-memory flag ----------------------------------- */

struct jb {
	bool oom;
};

/* A JSON string of any text (invalid UTF-8 repaired), or NULL (oom set).
 * s NULL is the result of a failed text build: it fails too. */
static json_t *jstr(struct jb *j, const char *s)
{
	struct tg_sb b = { 0 };
	json_t *v;

	if (s == NULL) {
		j->oom = true;
		return NULL;
	}
	sb_clean(&b, s, 0);
	v = b.oom ? NULL : json_stringn(tg_sb_str(&b), b.len);
	tg_sb_free(&b);
	if (v == NULL)
		j->oom = true;
	return v;
}

static json_t *jobj(struct jb *j)
{
	json_t *o = json_object();

	if (o == NULL)
		j->oom = true;
	return o;
}

static json_t *jarr(struct jb *j)
{
	json_t *a = json_array();

	if (a == NULL)
		j->oom = true;
	return a;
}

/* o[k] = v, taking v (also on failure; v NULL marks the failure). */
static void put(struct jb *j, json_t *o, const char *k, json_t *v)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		j->oom = true;
}

static void put_s(struct jb *j, json_t *o, const char *k, const char *s)
{
	put(j, o, k, jstr(j, s));
}

static void append(struct jb *j, json_t *a, json_t *v)
{
	if (v == NULL || json_array_append_new(a, v) != 0)
		j->oom = true;
}

/* ---- dates --------------------------------------------------------------- */

static bool day_ok(int64_t day)
{
	return day >= tg_day_from_ymd(1, 1, 1) && day <= tg_day_from_ymd(9999, 12, 31);
}

static bool time_ok(tg_time t)
{
	return t >= (int64_t)tg_day_from_ymd(1, 1, 1) * TG_DAY_SECONDS &&
	       t < ((int64_t)tg_day_from_ymd(9999, 12, 31) + 1) * TG_DAY_SECONDS;
}

/* RFC 3339 with the local offset (see the top of the file); buf >= 32. */
static const char *rfc3339(tg_time t, char *buf, size_t size)
{
	struct tm tm = { 0 }, norm;
	int y, m, d;
	int64_t sec, off;
	time_t u;
	tg_day day;

	if (!time_ok(t)) {
		snprintf(buf, size, "0001-01-01T00:00:00Z");
		return buf;
	}
	day = tg_time_day(t);
	sec = t - (int64_t)day * TG_DAY_SECONDS;
	tg_day_to_ymd(day, &y, &m, &d);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = (int)(sec / 3600);
	tm.tm_min = (int)(sec / 60 % 60);
	tm.tm_sec = (int)(sec % 60);
	tm.tm_isdst = -1;
	norm = tm;
	errno = 0;
	u = mktime(&norm);
	if (u == (time_t)-1 && errno != 0) {
		snprintf(buf, size, "0001-01-01T00:00:00Z");
		return buf;
	}
	off = t - (int64_t)u;       /* civil minus UTC: seconds east */
	if (off % 60 != 0 || off <= -TG_DAY_SECONDS || off >= TG_DAY_SECONDS) {
		struct tm g;

		if (gmtime_r(&u, &g) == NULL || g.tm_year + 1900 < 1 || g.tm_year + 1900 > 9999) {
			snprintf(buf, size, "0001-01-01T00:00:00Z");
			return buf;
		}
		snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", g.tm_year + 1900,
			 g.tm_mon + 1, g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec);
		return buf;
	}
	if (off == 0) {
		snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, tm.tm_hour,
			 tm.tm_min, tm.tm_sec);
		return buf;
	}
	{
		int64_t a = off < 0 ? -off : off;

		snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y, m, d,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
			 (int)(a / 3600), (int)(a / 60 % 60));
	}
	return buf;
}

/* The day of t, or a day day_ok refuses when t is absurd (tg_time_day
 * would overflow on INT64_MIN: state.json is untrusted). */
static int64_t time_day(tg_time t)
{
	return time_ok(t) ? tg_time_day(t) : INT64_MIN;
}

/* "20 novembre 2026" / "20 November 2026", as in the e-mails. */
static const char *day_words(int64_t day, const char *lang, char *buf, size_t size)
{
	if (!day_ok(day)) {
		snprintf(buf, size, "?");
		return buf;
	}
	return tg_message_date((tg_day)day, lang, buf, size);
}

static const char *period_words(enum tg_period_kind kind, int64_t day, const char *lang,
				char *buf, size_t size)
{
	if ((unsigned)kind > TG_PERIOD_YEAR || !day_ok(day) ||
	    !day_ok(tg_period_start(kind, (tg_day)day))) {
		snprintf(buf, size, "?");
		return buf;
	}
	return tg_period_label(kind, (tg_day)day, lang, buf, size);
}

/* ---- what is said about one event ---------------------------------------- */

enum colour { C_DEFAULT, C_GOOD, C_WARNING, C_ATTENTION };

struct evtext {
	const struct tg_alert_event *ev;
	const struct tg_indicator *ind;
	const char *dept;
	const char *kind;             /* "Nuovo problema" ... */
	const char *status;           /* tg_status_label */
	enum colour colour;
	bool resolved;
	char heading[VBUF];           /* "RAG-01 Pagamenti" (may be cut) */
	char value[VBUF];             /* "92,5%", "" without a value */
	char target[VBUF];            /* "≥ 95%" */
	char period[64];              /* "ottobre 2026", "" without a value */
	char previous[VBUF + 128];    /* "93,1% (settembre 2026), attenzione" or "" */
	char reason[TG_REASON_MAX];
	char forecast[VBUF + 128];    /* "" when none */
	char since[160];
};

struct ctx {
	const struct tg_message_input *in;
	const struct tg_config *cfg;
	const struct tg_channel *ch;
	const char *lang;
	bool en;
	struct evtext *ev;            /* plan order */
	size_t n;
	char title[TITLE_MAX + 8];
};

static enum colour colour_of(const struct tg_alert_event *ev)
{
	if (ev->kind == TG_ALERT_RESOLVED)
		return C_GOOD;
	switch (ev->status) {
	case TG_STATUS_OK:
		return C_GOOD;
	case TG_STATUS_WARNING:
	case TG_STATUS_LATE:
		return C_WARNING;
	case TG_STATUS_CRITICAL:
	case TG_STATUS_ERROR:
		return C_ATTENTION;
	default:
		return C_DEFAULT;
	}
}

static void describe(struct ctx *c, const struct tg_alert_event *ev, struct evtext *t)
{
	const struct tg_indicator *ind = &c->cfg->indicators[ev->indicator];
	const struct tg_eval_result *res = c->in->results ? &c->in->results[ev->indicator] : NULL;
	const char *lang = c->lang;
	char a[VBUF], p[160];

	t->ev = ev;
	t->ind = ind;
	t->dept = ind->department ? ind->department : "";
	t->resolved = ev->kind == TG_ALERT_RESOLVED;
	t->kind = tg_message_kind(ev, c->en);
	t->status = tg_status_label(ev->status, lang);
	t->colour = colour_of(ev);
	snprintf(t->heading, sizeof(t->heading), "%s %s", ind->id ? ind->id : "?",
		 ind->name ? ind->name : "");
	trim_partial(t->heading);

	t->value[0] = t->period[0] = t->reason[0] = t->forecast[0] = t->previous[0] = '\0';
	if (res != NULL && res->has_value) {
		tg_output_value(ind, res->value, lang, t->value, sizeof(t->value));
		trim_partial(t->value);
		period_words(ind->period, res->period, lang, t->period, sizeof(t->period));
	}
	/* "≥ 95%", "≤ 30 giorni": with the unit, as the e-mail writes it */
	tg_output_target(ind, lang, p, sizeof(p));
	snprintf(t->target, sizeof(t->target), "%s%s%s", p,
		 ind->unit && ind->unit[0] && strcmp(ind->unit, "%") != 0 ? " " : "",
		 ind->unit ? ind->unit : "");
	trim_partial(t->target);
	if (res != NULL) {
		size_t n = strnlen(res->reason, sizeof(res->reason));

		if (n == sizeof(res->reason))   /* not terminated: keep what fits */
			n--;
		memcpy(t->reason, res->reason, n);
		t->reason[n] = '\0';
		trim_partial(t->reason);
	}
	if (res != NULL && res->has_forecast) {
		tg_output_value(ind, res->forecast, lang, a, sizeof(a));
		trim_partial(a);
		if (res->forecast_misses)
			snprintf(t->forecast, sizeof(t->forecast),
				 c->en ? "end of %d: %s (the yearly target would be missed)"
				       : "fine %d: %s (obiettivo annuale mancato)",
				 res->forecast_year, a);
		else
			snprintf(t->forecast, sizeof(t->forecast),
				 c->en ? "end of %d: %s" : "fine %d: %s", res->forecast_year, a);
		trim_partial(t->forecast);
	}
	if (ev->has_previous_value) {
		tg_output_value(ind, ev->previous_value, lang, a, sizeof(a));
		trim_partial(a);
		snprintf(t->previous, sizeof(t->previous), "%s (%s), %s", a,
			 period_words(ind->period, ev->previous_period, lang, p, sizeof(p)),
			 tg_status_label(ev->previous, lang));
		trim_partial(t->previous);
	} else if (ev->previous != TG_STATUS_OK && ev->previous != ev->status) {
		snprintf(t->previous, sizeof(t->previous), "%s", tg_status_label(ev->previous, lang));
	}
	if (t->resolved) {
		char d0[64], d1[64];

		day_words(time_day(ev->since), lang, d0, sizeof(d0));
		day_words(time_day(c->in->now), lang, d1, sizeof(d1));
		snprintf(t->since, sizeof(t->since), "%s – %s", d0, d1);
	} else {
		day_words(time_day(ev->since), lang, t->since, sizeof(t->since));
	}
	trim_partial(t->since);
}

/* The facts shown under each indicator, in order; value NULL: skipped. */
struct fact {
	const char *label;
	const char *value;
	char buf[VBUF + 80];
};

#define N_FACTS 9

static size_t facts_of(const struct ctx *c, const struct evtext *t, struct fact f[N_FACTS])
{
	bool en = c->en;
	size_t n = 0;

	if (t->ind->process != NULL && t->ind->process[0] != '\0') {
		f[n].label = en ? "Process" : "Processo";
		f[n++].value = t->ind->process;
	}
	f[n].label = en ? "Value" : "Valore";
	if (t->value[0] != '\0') {
		snprintf(f[n].buf, sizeof(f[n].buf), "%s (%s)", t->value, t->period);
		trim_partial(f[n].buf);
		f[n].value = f[n].buf;
	} else {
		f[n].value = en ? "no data" : "nessun dato";
	}
	n++;
	f[n].label = en ? "Target" : "Obiettivo";
	f[n++].value = t->target;
	if (t->previous[0] != '\0') {
		f[n].label = en ? "Before" : "Prima";
		f[n++].value = t->previous;
	}
	if (t->reason[0] != '\0') {
		f[n].label = en ? "Reason" : "Motivo";
		f[n++].value = t->reason;
	}
	if (t->forecast[0] != '\0') {
		f[n].label = en ? "Forecast" : "Previsione";
		f[n++].value = t->forecast;
	}
	if (t->resolved) {
		f[n].label = en ? "Duration" : "Durata";
	} else {
		f[n].label = en ? "Since" : "Dal";
	}
	f[n++].value = t->since;
	if (t->ev->target_changed) {
		f[n].label = en ? "Note" : "Nota";
		f[n++].value = en ? "the target changed since the last message"
				  : "l'obiettivo è cambiato dall'ultimo messaggio";
	}
	if (t->ind->owner != NULL && t->ind->owner[0] != '\0') {
		f[n].label = en ? "Owner" : "Responsabile";
		f[n++].value = t->ind->owner;
	}
	return n;
}

static void build_title(struct ctx *c)
{
	size_t problems = 0, resolved = 0, errors = 0, late = 0, risk = 0, ndept = 0;
	bool escalation = false;
	const char *d0 = NULL, *d1 = NULL;
	struct tg_sb b = { 0 };
	bool en = c->en;

	for (size_t i = 0; i < c->n; i++) {
		const struct evtext *t = &c->ev[i];
		bool seen = false;

		if (t->resolved) {
			resolved++;
		} else {
			problems++;
			if (t->ev->status == TG_STATUS_ERROR)
				errors++;
			else if (t->ev->status == TG_STATUS_LATE)
				late++;
			else if (c->in->results != NULL &&
				 tg_message_at_risk(&c->in->results[t->ev->indicator], t->ev->status))
				risk++;
		}
		if (t->ev->kind == TG_ALERT_ESCALATED)
			escalation = true;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(c->ev[k].dept, t->dept) == 0;
		if (!seen) {
			if (ndept == 0)
				d0 = t->dept;
			else if (ndept == 1)
				d1 = t->dept;
			ndept++;
		}
	}
	if (c->cfg->daemon.organization != NULL && c->cfg->daemon.organization[0] != '\0') {
		sb_clean(&b, c->cfg->daemon.organization, CL_CTRL);
		tg_sb_puts(&b, ": ");
	}
	if (escalation)
		tg_sb_puts(&b, "ESCALATION: ");
	if (problems == 0) {
		tg_sb_printf(&b, en ? "%zu indicator%s back on target" : "%zu indicator%s di nuovo in obiettivo",
			  resolved, resolved == 1 ? (en ? "" : "e") : (en ? "s" : "i"));
	} else if (errors == problems && resolved == 0) {
		tg_sb_printf(&b, en ? "%zu indicator%s without data: source failing"
				 : "%zu indicator%s senza dati: fonte in errore",
			  problems, problems == 1 ? (en ? "" : "e") : (en ? "s" : "i"));
	} else {
		/* as the e-mail's subject counts them */
		tg_message_problems(&b, problems - risk - late - errors, risk, late, errors, en);
		if (resolved > 0)
			tg_sb_printf(&b, en ? " (%zu back on target)" : " (%zu rientrat%s)", resolved,
				  en ? "" : resolved == 1 ? "o" : "i");
	}
	if (!(errors == problems && resolved == 0 && problems > 0) && ndept > 0) {
		tg_sb_puts(&b, " — ");
		if (ndept == 1) {
			sb_clean(&b, d0, CL_CTRL);
		} else if (ndept == 2) {
			sb_clean(&b, d0, CL_CTRL);
			tg_sb_puts(&b, ", ");
			sb_clean(&b, d1, CL_CTRL);
		} else {
			tg_sb_printf(&b, en ? "%zu departments" : "%zu settori", ndept);
		}
	}
	sb_cut(&b, TITLE_MAX, false);
	snprintf(c->title, sizeof(c->title), "%s", b.oom ? "traguardo" : tg_sb_str(&b));
	tg_sb_free(&b);
}

static void more_words(const struct ctx *c, size_t n, char *buf, size_t size)
{
	if (c->en)
		snprintf(buf, size, n == 1 ? "… and %zu more indicator" : "… and %zu more indicators", n);
	else if (n == 1)
		snprintf(buf, size, "… e un altro indicatore");
	else
		snprintf(buf, size, "… e altri %zu indicatori", n);
}

/* ---- text of the chat formats -------------------------------------------- */

struct style {
	const char *b0, *b1;          /* bold */
	const char *i0, *i1;          /* italic */
	const char *bullet, *indent;
	const char *dept_gap;         /* before a department heading (not the first) */
	int mode;                     /* CL_* for data */
};

static const struct style st_plain = { "", "", "", "", "", "", "\n", CL_CTRL };
static const struct style st_slack = { "*", "*", "_", "_", "• ", "   ", "", CL_CTRL | CL_SLACK };
static const struct style st_mm = { "**", "**", "_", "_", "- ", "  ", "\n", CL_CTRL | CL_MD };
static const struct style st_gchat = { "*", "*", "_", "_", "• ", "    ", "\n", CL_CTRL | CL_GCHAT };

/* "*RAG-01 Pagamenti* — critico · _Nuovo problema_" */
static void event_head(const struct ctx *c, const struct evtext *t, const struct style *s,
		       struct tg_sb *b)
{
	(void)c;
	tg_sb_puts(b, s->bullet);
	tg_sb_puts(b, s->b0);
	sb_clean(b, t->heading, s->mode);
	tg_sb_puts(b, s->b1);
	tg_sb_puts(b, " — ");
	sb_clean(b, t->status, s->mode);
	tg_sb_puts(b, " · ");
	tg_sb_puts(b, s->i0);
	sb_clean(b, t->kind, s->mode);
	tg_sb_puts(b, s->i1);
}

static void event_block(const struct ctx *c, const struct evtext *t, const struct style *s,
			struct tg_sb *b)
{
	struct fact *f = malloc(sizeof(struct fact) * N_FACTS);
	size_t n;

	if (f == NULL) {
		b->oom = true;
		return;
	}
	event_head(c, t, s, b);
	tg_sb_puts(b, "\n");
	n = facts_of(c, t, f);
	for (size_t i = 0; i < n; i++) {
		tg_sb_puts(b, s->indent);
		tg_sb_puts(b, f[i].label);
		tg_sb_puts(b, ": ");
		sb_clean(b, f[i].value, s->mode);
		tg_sb_puts(b, "\n");
	}
	free(f);
}

/* Event i's text, after its department's heading when it opens one. */
static void event_chunk(const struct ctx *c, size_t i, const struct style *s, struct tg_sb *b)
{
	if (i == 0 || strcmp(c->ev[i - 1].dept, c->ev[i].dept) != 0) {
		if (i > 0)
			tg_sb_puts(b, s->dept_gap);
		tg_sb_puts(b, s->b0);
		sb_clean(b, c->ev[i].dept, s->mode);
		tg_sb_puts(b, s->b1);
		tg_sb_puts(b, "\n");
	}
	event_block(c, &c->ev[i], s, b);
}

/* Title, events while they fit in max bytes, "… and N more", "id: …". */
static void chat_text(const struct ctx *c, const struct style *s, const char *title_pre,
		      const char *title_post, size_t max, struct tg_sb *out)
{
	struct tg_sb chunk = { 0 };
	char tail[64], more[96];
	size_t i;

	tg_sb_puts(out, title_pre);
	sb_clean(out, c->title, s->mode);
	tg_sb_puts(out, title_post);
	snprintf(tail, sizeof(tail), "\nid: %s", c->in->plan->id);
	for (i = 0; i < c->n; i++) {
		tg_sb_reset(&chunk);
		event_chunk(c, i, s, &chunk);
		if (chunk.oom) {
			out->oom = true;
			break;
		}
		if (out->len + chunk.len + MORE_RESERVE + strlen(tail) > max)
			break;
		tg_sb_putn(out, chunk.p, chunk.len);
	}
	tg_sb_free(&chunk);
	if (i < c->n) {
		more_words(c, c->n - i, more, sizeof(more));
		tg_sb_puts(out, more);
		tg_sb_puts(out, "\n");
	}
	tg_sb_puts(out, tail);
	/* only a title longer than the whole budget could get here */
	sb_cut(out, max, (s->mode & CL_SLACK) != 0);
}

/* ---- the formats ---------------------------------------------------------- */

static void put_fact_strings(struct jb *j, json_t *o, const struct evtext *t)
{
	put_s(j, o, "reason", t->reason);
	put_s(j, o, "value", t->value);
	put_s(j, o, "target", t->target);
	put_s(j, o, "period", t->period);
	put_s(j, o, "owner", t->ind->owner ? t->ind->owner : "");
	put_s(j, o, "forecast", t->forecast);
}

/* The keys of `common` whose value differs in o are removed. */
static void intersect(json_t *common, const json_t *o)
{
	const char *k;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(common, tmp, k, v) {
		if (!json_equal(v, json_object_get(o, k)))
			json_object_del(common, k);
	}
}

static json_t *generic(const struct ctx *c, struct jb *j)
{
	json_t *root = jobj(j), *alerts = jarr(j), *ids = jarr(j), *tg = jobj(j);
	json_t *common_l = NULL, *common_a = NULL;
	char when[48], now[48], key[160];
	bool firing = false;
	struct tg_sb text = { 0 };

	if (root == NULL || alerts == NULL || ids == NULL || tg == NULL)
		goto fail;
	rfc3339(c->in->now, now, sizeof(now));
	for (size_t i = 0; i < c->n && !j->oom; i++) {
		const struct evtext *t = &c->ev[i];
		json_t *a = jobj(j), *lab = jobj(j), *ann = jobj(j);
		char fp[17];

		if (a == NULL || lab == NULL || ann == NULL) {
			json_decref(a);
			json_decref(lab);
			json_decref(ann);
			break;
		}
		if (!t->resolved)
			firing = true;
		put_s(j, lab, "alertname", "traguardo");
		put_s(j, lab, "indicator", t->ind->id ? t->ind->id : "");
		put_s(j, lab, "department", t->dept);
		put_s(j, lab, "process", t->ind->process ? t->ind->process : "");
		put_s(j, lab, "status", tg_status_name(t->ev->status));
		put_s(j, lab, "route", t->ev->route ? t->ev->route : "");
		put_s(j, lab, "event", tg_alert_kind_name(t->ev->kind));

		tg_sb_reset(&text);
		sb_clean(&text, t->heading, CL_CTRL);
		tg_sb_puts(&text, ": ");
		tg_sb_puts(&text, t->status);
		put_s(j, ann, "summary", text.oom ? NULL : tg_sb_str(&text));
		tg_sb_reset(&text);
		event_block(c, t, &st_plain, &text);
		if (text.len > 0 && text.p[text.len - 1] == '\n')
			text.p[--text.len] = '\0';
		if (text.oom)
			j->oom = true;
		put_s(j, ann, "description", tg_sb_str(&text));
		put_fact_strings(j, ann, t);

		if (common_l == NULL && !j->oom) {
			common_l = json_deep_copy(lab);
			common_a = json_deep_copy(ann);
			if (common_l == NULL || common_a == NULL)
				j->oom = true;
		} else if (common_l != NULL) {
			intersect(common_l, lab);
			intersect(common_a, ann);
		}

		put_s(j, a, "status", t->resolved ? "resolved" : "firing");
		put(j, a, "labels", lab);
		put(j, a, "annotations", ann);
		put_s(j, a, "startsAt", rfc3339(t->ev->since, when, sizeof(when)));
		put_s(j, a, "endsAt", t->resolved ? now : "0001-01-01T00:00:00Z");
		put_s(j, a, "generatorURL", "");
		snprintf(fp, sizeof(fp), "%.16s", t->ev->id);
		put_s(j, a, "fingerprint", fp);
		append(j, alerts, a);
		append(j, ids, jstr(j, t->ev->id));
	}
	tg_sb_free(&text);
	if (common_l == NULL)
		common_l = jobj(j);
	if (common_a == NULL)
		common_a = jobj(j);

	put_s(j, root, "version", "4");
	snprintf(key, sizeof(key), "{}:{receiver=\"%s\"}", c->ch->name ? c->ch->name : "");
	trim_partial(key);
	put_s(j, root, "groupKey", key);
	put_s(j, root, "status", firing ? "firing" : "resolved");
	put_s(j, root, "receiver", c->ch->name ? c->ch->name : "");
	put(j, root, "groupLabels", jobj(j));
	put(j, root, "commonLabels", common_l);
	put(j, root, "commonAnnotations", common_a);
	put_s(j, root, "externalURL", "");
	put(j, root, "truncatedAlerts", json_integer(0));
	put(j, root, "alerts", alerts);
	put_s(j, tg, "message_id", c->in->plan->id);
	put(j, tg, "events", ids);
	put(j, tg, "organization", c->cfg->daemon.organization
				    ? jstr(j, c->cfg->daemon.organization) : json_null());
	put_s(j, tg, "language", c->lang);
	put(j, root, "traguardo", tg);
	return root;
fail:
	j->oom = true;
	json_decref(root);
	json_decref(alerts);
	json_decref(ids);
	json_decref(tg);
	return NULL;
}

static json_t *text_block(struct jb *j, const char *text)
{
	json_t *o = jobj(j);

	put_s(j, o, "type", "TextBlock");
	put_s(j, o, "text", text);
	put(j, o, "wrap", json_true());
	return o;
}

/* The Teams card with the first k events of the plan. */
static json_t *teams(const struct ctx *c, size_t k, struct jb *j)
{
	static const char *const colours[] = { NULL, "good", "warning", "attention" };
	json_t *root = jobj(j), *atts = jarr(j), *att = jobj(j), *card = jobj(j), *body = jarr(j);
	json_t *box = NULL, *items = NULL, *tb;
	struct tg_sb s = { 0 };
	char line[160];
	struct fact *f = malloc(sizeof(struct fact) * N_FACTS);

	if (f == NULL)
		j->oom = true;
	if (root == NULL || atts == NULL || att == NULL || card == NULL || body == NULL || f == NULL) {
		json_decref(root);
		json_decref(atts);
		json_decref(att);
		json_decref(card);
		json_decref(body);
		free(f);
		return NULL;
	}
	sb_clean(&s, c->title, CL_CTRL);
	tb = text_block(j, s.oom ? NULL : tg_sb_str(&s));
	put_s(j, tb, "size", "Large");
	put_s(j, tb, "weight", "Bolder");
	append(j, body, tb);
	for (size_t i = 0; i < k && !j->oom; i++) {
		const struct evtext *t = &c->ev[i];
		json_t *facts, *fs;
		size_t n;

		if (i == 0 || strcmp(c->ev[i - 1].dept, t->dept) != 0) {
			box = jobj(j);
			items = jarr(j);
			put_s(j, box, "type", "Container");
			put(j, box, "separator", json_true());
			put(j, box, "items", items);   /* items stays valid: box holds it */
			append(j, body, box);
			if (j->oom)
				break;
			tg_sb_reset(&s);
			sb_clean(&s, t->dept, CL_CTRL);
			tb = text_block(j, s.oom ? NULL : tg_sb_str(&s));
			put_s(j, tb, "weight", "Bolder");
			put_s(j, tb, "size", "Medium");
			append(j, items, tb);
		}
		tg_sb_reset(&s);
		event_head(c, t, &(struct style){ "**", "**", "", "", "", "", "", CL_CTRL }, &s);
		tb = text_block(j, s.oom ? NULL : tg_sb_str(&s));
		if (colours[t->colour] != NULL)
			put_s(j, tb, "color", colours[t->colour]);
		put_s(j, tb, "spacing", "Medium");
		append(j, items, tb);

		fs = jobj(j);
		facts = jarr(j);
		put_s(j, fs, "type", "FactSet");
		put(j, fs, "facts", facts);
		append(j, items, fs);
		if (j->oom)
			break;
		n = facts_of(c, t, f);
		for (size_t m = 0; m < n; m++) {
			json_t *fo = jobj(j);

			put_s(j, fo, "title", f[m].label);
			tg_sb_reset(&s);
			sb_clean(&s, f[m].value, CL_CTRL);
			put_s(j, fo, "value", s.oom ? NULL : tg_sb_str(&s));
			append(j, facts, fo);
		}
	}
	free(f);
	tg_sb_free(&s);
	if (k < c->n) {
		more_words(c, c->n - k, line, sizeof(line));
		tb = text_block(j, line);
		put(j, tb, "isSubtle", json_true());
		append(j, body, tb);
	}
	snprintf(line, sizeof(line), "id: %s", c->in->plan->id);
	tb = text_block(j, line);
	put_s(j, tb, "size", "Small");
	put(j, tb, "isSubtle", json_true());
	append(j, body, tb);

	put_s(j, card, "$schema", "http://adaptivecards.io/schemas/adaptive-card.json");
	put_s(j, card, "type", "AdaptiveCard");
	put_s(j, card, "version", "1.4");
	put(j, card, "body", body);
	{
		json_t *ms = jobj(j);

		put_s(j, ms, "width", "Full");
		put(j, card, "msteams", ms);
	}
	put_s(j, att, "contentType", "application/vnd.microsoft.card.adaptive");
	put(j, att, "contentUrl", json_null());
	put(j, att, "content", card);
	append(j, atts, att);
	put_s(j, root, "type", "message");
	put(j, root, "attachments", atts);
	return root;
}

static json_t *slack(const struct ctx *c, struct jb *j)
{
	json_t *root = jobj(j), *blocks = jarr(j), *b, *t;
	struct tg_sb s = { 0 };
	size_t shown, room = SLACK_BLOCKS - 2;   /* header and the id line */
	char more[96];

	if (root == NULL || blocks == NULL) {
		json_decref(root);
		json_decref(blocks);
		return NULL;
	}
	/* fallback for notifications: the title, then the id line */
	sb_clean(&s, c->title, CL_CTRL | CL_SLACK);
	tg_sb_printf(&s, "\nid: %s", c->in->plan->id);
	put_s(j, root, "text", s.oom ? NULL : tg_sb_str(&s));

	tg_sb_reset(&s);
	sb_clean(&s, c->title, CL_CTRL);     /* plain_text: no entities */
	sb_cut(&s, SLACK_HEADER, false);
	b = jobj(j);
	t = jobj(j);
	put_s(j, b, "type", "header");
	put_s(j, t, "type", "plain_text");
	put_s(j, t, "text", s.oom ? NULL : tg_sb_str(&s));
	put(j, t, "emoji", json_true());
	put(j, b, "text", t);
	append(j, blocks, b);

	shown = c->n <= room ? c->n : room - 1;
	for (size_t i = 0; i < shown && !j->oom; i++) {
		tg_sb_reset(&s);
		event_chunk(c, i, &st_slack, &s);
		if (s.len > 0 && s.p[s.len - 1] == '\n')
			s.p[--s.len] = '\0';
		sb_cut(&s, SLACK_SECTION, true);
		b = jobj(j);
		t = jobj(j);
		put_s(j, b, "type", "section");
		put_s(j, t, "type", "mrkdwn");
		put_s(j, t, "text", s.oom ? NULL : tg_sb_str(&s));
		put(j, b, "text", t);
		append(j, blocks, b);
	}
	if (shown < c->n) {
		more_words(c, c->n - shown, more, sizeof(more));
		b = jobj(j);
		t = jobj(j);
		put_s(j, b, "type", "section");
		put_s(j, t, "type", "mrkdwn");
		put_s(j, t, "text", more);
		put(j, b, "text", t);
		append(j, blocks, b);
	}
	tg_sb_reset(&s);
	tg_sb_printf(&s, "id: %s", c->in->plan->id);
	b = jobj(j);
	t = jobj(j);
	{
		json_t *els = jarr(j);

		put_s(j, b, "type", "context");
		put_s(j, t, "type", "mrkdwn");
		put_s(j, t, "text", s.oom ? NULL : tg_sb_str(&s));
		append(j, els, t);
		put(j, b, "elements", els);
	}
	append(j, blocks, b);
	put(j, root, "blocks", blocks);
	tg_sb_free(&s);
	return root;
}

static json_t *text_only(const struct ctx *c, struct jb *j, bool mattermost)
{
	json_t *root = jobj(j);
	struct tg_sb s = { 0 };

	if (root == NULL)
		return NULL;
	if (mattermost)
		chat_text(c, &st_mm, "#### ", "\n\n", MATTERMOST_MAX, &s);
	else
		chat_text(c, &st_gchat, "*", "*\n\n", GOOGLECHAT_MAX, &s);
	put_s(j, root, "text", s.oom ? NULL : tg_sb_str(&s));
	if (mattermost)
		put_s(j, root, "username", "traguardo");
	tg_sb_free(&s);
	return root;
}

/* ---- the API -------------------------------------------------------------- */

static int dump(json_t *root, struct jb *j, char **body, size_t *len)
{
	char *s;

	if (root == NULL || j->oom) {
		json_decref(root);
		return -ENOMEM;
	}
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (s == NULL)
		return -ENOMEM;
	*body = s;
	*len = strlen(s);
	return 0;
}

/* The Teams body: all events if they fit, else the most that do. */
static int teams_body(const struct ctx *c, char **body, size_t *len, struct tg_error *err)
{
	struct jb j = { false };
	size_t lo, hi, k;
	char *s;
	size_t n;
	int rc;

	if ((rc = dump(teams(c, c->n, &j), &j, body, len)) < 0 || *len <= TEAMS_MAX)
		return rc;
	free(*body);
	*body = NULL;
	*len = 0;
	if (c->n == 0)
		return tg_error_setc(err, -EMSGSIZE,
				     "webhook '%s': the Teams card does not fit in %d bytes even without indicators",
				     c->ch->name, TEAMS_MAX);
	/* the largest k that fits; the size grows with k (a department heading,
	 * the digits of "altri N") so a bisection finds it, checked below */
	lo = 0;
	hi = c->n - 1;
	k = 0;
	while (lo <= hi) {
		size_t mid = lo + (hi - lo) / 2;

		j.oom = false;
		if ((rc = dump(teams(c, mid, &j), &j, &s, &n)) < 0)
			return rc;
		free(s);
		if (n <= TEAMS_MAX) {
			k = mid;
			lo = mid + 1;
		} else {
			if (mid == 0)
				break;
			hi = mid - 1;
		}
	}
	for (;;) {
		j.oom = false;
		if ((rc = dump(teams(c, k, &j), &j, body, len)) < 0)
			return rc;
		if (*len <= TEAMS_MAX)
			return 0;
		free(*body);
		*body = NULL;
		*len = 0;
		if (k == 0)
			return tg_error_setc(err, -EMSGSIZE,
					     "webhook '%s': the Teams card does not fit in %d bytes even without indicators",
					     c->ch->name, TEAMS_MAX);
		k--;
	}
}

int tg_webhook_body(const struct tg_message_input *in, char **body, size_t *len,
		    struct tg_error *err)
{
	struct ctx c;
	struct jb j = { false };
	json_t *root = NULL;
	int rc;

	if (body == NULL || len == NULL)
		return tg_error_set(err, "webhook: no place for the body");
	*body = NULL;
	*len = 0;
	if (in == NULL || in->cfg == NULL || in->plan == NULL || in->events == NULL)
		return tg_error_set(err, "webhook: incomplete message input");
	memset(&c, 0, sizeof(c));
	c.in = in;
	c.cfg = in->cfg;
	if (in->plan->channel >= c.cfg->n_channels)
		return tg_error_set(err, "webhook: channel %zu out of range (%zu channels)",
				    in->plan->channel, c.cfg->n_channels);
	c.ch = &c.cfg->channels[in->plan->channel];
	if (c.ch->type != TG_CHANNEL_WEBHOOK)
		return tg_error_set(err, "webhook: channel '%s' is not a webhook", c.ch->name);
	if (in->plan->n_events > 0 && in->plan->events == NULL)
		return tg_error_set(err, "webhook '%s': plan without its events", c.ch->name);
	if (memchr(in->plan->id, '\0', sizeof(in->plan->id)) == NULL)
		return tg_error_set(err, "webhook '%s': message id not terminated", c.ch->name);
	c.lang = c.cfg->daemon.language ? c.cfg->daemon.language : "it";
	c.en = strncmp(c.lang, "en", 2) == 0 && (c.lang[2] == '\0' || c.lang[2] == '_' || c.lang[2] == '-');

	if (in->plan->n_events > SIZE_MAX / sizeof(struct evtext))
		return tg_error_setc(err, -ENOMEM, "webhook '%s': too many events", c.ch->name);
	c.ev = calloc(in->plan->n_events ? in->plan->n_events : 1, sizeof(struct evtext));
	if (c.ev == NULL)
		return tg_error_setc(err, -ENOMEM, "webhook '%s': out of memory", c.ch->name);
	for (size_t i = 0; i < in->plan->n_events; i++) {
		size_t e = in->plan->events[i];
		const struct tg_alert_event *ev;

		if (e >= in->events->n) {
			free(c.ev);
			return tg_error_set(err, "webhook '%s': event %zu out of range (%zu events)",
					    c.ch->name, e, in->events->n);
		}
		ev = &in->events->v[e];
		if (ev->indicator >= c.cfg->n_indicators ||
		    memchr(ev->id, '\0', sizeof(ev->id)) == NULL) {
			free(c.ev);
			return tg_error_set(err, "webhook '%s': event %zu is not valid", c.ch->name, e);
		}
		describe(&c, ev, &c.ev[i]);
	}
	c.n = in->plan->n_events;
	build_title(&c);

	switch (c.ch->format) {
	case TG_WEBHOOK_GENERIC:
		root = generic(&c, &j);
		break;
	case TG_WEBHOOK_TEAMS:
		rc = teams_body(&c, body, len, err);
		goto done;
	case TG_WEBHOOK_SLACK:
		root = slack(&c, &j);
		break;
	case TG_WEBHOOK_MATTERMOST:
		root = text_only(&c, &j, true);
		break;
	case TG_WEBHOOK_GOOGLECHAT:
		root = text_only(&c, &j, false);
		break;
	default:
		free(c.ev);
		return tg_error_set(err, "webhook '%s': unknown format %d", c.ch->name,
				    (int)c.ch->format);
	}
	rc = dump(root, &j, body, len);
done:
	free(c.ev);
	if (rc == -ENOMEM)
		tg_error_setc(err, rc, "webhook '%s': out of memory building the body", c.ch->name);
	return rc;
}

const char *tg_webhook_signature(const void *secret, size_t secret_len, int64_t timestamp,
				 const char *body, size_t body_len, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	char digest_name[] = "SHA256";
	unsigned char mac[EVP_MAX_MD_SIZE], nokey = 0;
	char ts[32];
	size_t maclen = 0;
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	const char *ok = NULL;
	int n;

	if (buf == NULL || size < 96 || (secret == NULL && secret_len > 0) ||
	    (body == NULL && body_len > 0))
		return NULL;
	n = snprintf(ts, sizeof(ts), "%" PRId64, timestamp);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL || (ctx = EVP_MAC_CTX_new(m)) == NULL)
		goto out;
	/* an empty key is a valid HMAC key (RFC 2104 pads it with zeros), but
	 * a NULL key would mean "keep the previous one" */
	if (!EVP_MAC_init(ctx, secret_len ? secret : &nokey, secret_len, params) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)n) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
	    (body_len > 0 && !EVP_MAC_update(ctx, (const unsigned char *)body, body_len)) ||
	    !EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) || maclen != 32)
		goto out;
	n = snprintf(buf, size, "t=%s,sha256=", ts);
	for (size_t i = 0; i < maclen; i++) {
		buf[n++] = hex[mac[i] >> 4];
		buf[n++] = hex[mac[i] & 15];
	}
	buf[n] = '\0';
	ok = buf;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	OPENSSL_cleanse(mac, sizeof(mac));
	return ok;
}

enum tg_webhook_verdict tg_webhook_verdict(long status, int result)
{
	if (result < 0 || status <= 0)
		return TG_WEBHOOK_RETRY;
	if (status >= 200 && status <= 299)
		return TG_WEBHOOK_DELIVERED;
	if (status == 429 || (status >= 500 && status <= 599))
		return TG_WEBHOOK_RETRY;
	return TG_WEBHOOK_PERMANENT;
}
