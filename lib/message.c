/*
 * message.c — the subject, the plain text and the HTML of one message (see
 * message.h): what the managers of a municipality read, so it must be right,
 * short and impossible to subvert from the data.
 *
 * Everything that comes from the configuration or the data (names, units,
 * departments, owners, reasons, template files) is hostile: in the plain
 * text, control characters become spaces and invalid UTF-8 becomes U+FFFD
 * (no forged lines, no terminal escapes); in the HTML it is also escaped
 * (& < > " '); in the subject nothing but one clean line survives.
 *
 * Decisions (also for README / man page):
 *  - One block per indicator: when a recipient gets two events for the same
 *    indicator (two routes, e.g. a reminder and a "no longer critical"), the
 *    block shows both kinds ("Promemoria · Non più critico") and the details
 *    of the first event that is not a resolution.  Counts in the subject and
 *    in the templates are of indicators, not events: {{count}} is the
 *    indicators with an event that is not a resolution (sources in error
 *    included), {{resolved}} those whose events are all resolutions.
 *  - Subject: "[traguardo] [ESCALATION: ][ORG: ]PHRASE[ — DEPARTMENTS]",
 *    PHRASE: "N indicatori fuori obiettivo[, M senza dati][ (K rientrati)]",
 *    "N indicatori senza dati: fonte in errore" (only sources in error: no
 *    departments), all resolved: "N indicatori di nuovo in obiettivo" (all
 *    now ok), "N indicatori di nuovo con dati: fonte ripristinata" (all the
 *    administrators' alerts), else "N indicatori migliorati".  The default
 *    subject gets the same cleaning and 200-byte cut as a template's.
 *  - Events of the route key "admins" are source failures: the block names
 *    the source (from the reason "fonte 'X' in errore: ...", else the
 *    indicator's `source`, else the source of its latest value) and the
 *    error, without value, target and history.
 *  - The last 12 periods: consecutive periods of the indicator's kind ending
 *    at the latest period with a value among those started at `now` (or at
 *    the period whose data is late, when that is later), NEWEST FIRST, gaps
 *    shown as "—"; the periods older than the oldest value among them are
 *    left out.  Not shown without a store or without any value.
 *  - Plain text lines are wrapped at 96 columns (a word longer than that,
 *    e.g. a long name, stays whole).
 *  - Templates: placeholders "{{name}}" (spaces inside the braces allowed);
 *    an unknown placeholder, or {{subject}} in the subject template, is left
 *    as written.  A UTF-8 BOM is ignored, CRLF read as LF, trailing blank
 *    lines dropped; other control characters become spaces.  A subject
 *    template that renders empty gives the default subject.  In the HTML
 *    the intro's blank lines separate paragraphs and single newlines are
 *    line breaks.  A NUL byte counts as invalid text.
 */
#include "message.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "number.h"
#include "output.h"
#include "period.h"
#include "status.h"
#include "strbuf.h"
#include "utf8.h"

#define HISTORY 12
#define WRAP 96
#define SUBJECT_MAX 200
#define TEMPLATE_MAX (64 * 1024)
#define ADMINS_KEY "admins"

static const char REPLACEMENT[] = "\xEF\xBF\xBD";   /* U+FFFD */

/* ------------------------------------------------------------ text safety */

static bool is_en(const char *lang)
{
	return lang != NULL && lang[0] == 'e' && lang[1] == 'n' &&
	       (lang[2] == '\0' || lang[2] == '_' || lang[2] == '-');
}

/* The character at s[0..n): its length, 0 when not valid UTF-8 or NUL (a
 * NUL inside counted text is as wrong as an invalid byte). */
static size_t char_len(const char *s, size_t n)
{
	size_t k = tg_utf8_len((const unsigned char *)s, n);

	return k == 1 && s[0] == '\0' ? 0 : k;
}

/* C0, DEL and the C1 range U+0080..U+009F. */
static bool is_control(const char *s, size_t k)
{
	const unsigned char *u = (const unsigned char *)s;

	if (k == 1)
		return u[0] < 0x20 || u[0] == 0x7F;
	return k == 2 && u[0] == 0xC2 && u[1] >= 0x80 && u[1] <= 0x9F;
}

/* Untrusted text for the plain text: control characters as spaces (but
 * '\n' kept when keep_nl), invalid UTF-8 as U+FFFD. */
static void put_text_n(struct tg_sb *b, const char *s, size_t n, bool keep_nl)
{
	while (n > 0) {
		size_t k = char_len(s, n);

		if (k == 0) {
			tg_sb_puts(b, REPLACEMENT);
			k = 1;
		} else if (keep_nl && *s == '\n') {
			tg_sb_putn(b, "\n", 1);
		} else if (is_control(s, k)) {
			tg_sb_putn(b, " ", 1);
		} else {
			tg_sb_putn(b, s, k);
		}
		s += k;
		n -= k;
	}
}

static void put_text(struct tg_sb *b, const char *s)
{
	if (s != NULL)
		put_text_n(b, s, strlen(s), false);
}

/* Untrusted text for HTML content and attribute values. */
static void put_html_n(struct tg_sb *b, const char *s, size_t n)
{
	while (n > 0) {
		size_t k = char_len(s, n);

		if (k == 0) {
			tg_sb_puts(b, REPLACEMENT);
			k = 1;
		} else if (is_control(s, k)) {
			tg_sb_putn(b, " ", 1);
		} else if (*s == '&') {
			tg_sb_puts(b, "&amp;");
		} else if (*s == '<') {
			tg_sb_puts(b, "&lt;");
		} else if (*s == '>') {
			tg_sb_puts(b, "&gt;");
		} else if (*s == '"') {
			tg_sb_puts(b, "&quot;");
		} else if (*s == '\'') {
			tg_sb_puts(b, "&#39;");
		} else {
			tg_sb_putn(b, s, k);
		}
		s += k;
		n -= k;
	}
}

static void put_html(struct tg_sb *b, const char *s)
{
	if (s != NULL)
		put_html_n(b, s, strlen(s));
}

/* Columns of clean UTF-8 text, one per character (good enough for the
 * Latin text of these messages: wrapping only needs to be about right). */
static size_t columns(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

/* Clean text (no newlines) wrapped at WRAP columns, breaking at spaces:
 * the first line starts with first (already counted as col), the others
 * with cont.  Ends with a newline. */
static void put_wrapped(struct tg_sb *b, size_t col, const char *cont, const char *text)
{
	size_t cont_cols = columns(cont, strlen(cont));
	bool line_empty = true;
	const char *p = text;

	while (*p != '\0') {
		const char *w;
		size_t wl, wc;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		w = p;
		while (*p != '\0' && *p != ' ')
			p++;
		wl = (size_t)(p - w);
		wc = columns(w, wl);
		if (!line_empty && col + 1 + wc > WRAP) {
			tg_sb_putn(b, "\n", 1);
			tg_sb_puts(b, cont);
			col = cont_cols;
			line_empty = true;
		}
		if (!line_empty) {
			tg_sb_putn(b, " ", 1);
			col++;
		}
		tg_sb_putn(b, w, wl);
		col += wc;
		line_empty = false;
	}
	tg_sb_putn(b, "\n", 1);
}

/* Replaces control characters and invalid UTF-8 of s (in place, growing
 * it) by spaces and U+FFFD, trims spaces and cuts to SUBJECT_MAX bytes at a
 * character boundary.  Returns false when out of memory. */
static bool subject_clean(struct tg_sb *s)
{
	struct tg_sb o = { 0 };
	size_t start = 0, end, cut = 0;

	put_text_n(&o, tg_sb_str(s), s->len, false);
	if (o.oom) {
		tg_sb_free(&o);
		return false;
	}
	end = o.len;
	while (start < end && o.p[start] == ' ')
		start++;
	while (end > start && o.p[end - 1] == ' ')
		end--;
	while (start + cut < end) {
		size_t k = char_len(o.p + start + cut, end - start - cut);

		if (k == 0 || cut + k > SUBJECT_MAX)
			break;
		cut += k;
	}
	tg_sb_free(s);
	tg_sb_putn(s, o.p != NULL ? o.p + start : "", cut);
	tg_sb_free(&o);
	return !s->oom;
}

/* ------------------------------------------------------------ dates */

static tg_day day_first(void)
{
	return tg_day_from_ymd(1, 1, 1);
}

static tg_day day_last(void)
{
	return tg_day_from_ymd(9999, 12, 31);
}

static bool day_ok(int64_t d)
{
	return d >= day_first() && d <= day_last();
}

const char *tg_message_date(tg_day day, const char *lang, char *buf, size_t size)
{
	char month[64];
	int y, m, d;

	if (buf == NULL || size == 0)
		return buf;
	if (!day_ok(day)) {
		snprintf(buf, size, "?");
		return buf;
	}
	tg_day_to_ymd(day, &y, &m, &d);
	/* "novembre 2026" / "November 2026": the month names live in period.c */
	tg_period_label(TG_PERIOD_MONTH, day, lang, month, sizeof(month));
	/* "1° novembre 2026", as Italian documents write the first */
	snprintf(buf, size, "%d%s %s", d, d == 1 && !is_en(lang) ? "°" : "", month);
	return buf;
}

/* The Italian preposition before a date of tg_message_date, elided before
 * a vowel: "dall'8 dicembre", "all'11 dicembre", "dell'11 dicembre". */
enum it_prep { IT_DA, IT_A, IT_DI };

static const char *it_before(enum it_prep p, const char *date)
{
	bool elide = strncmp(date, "8 ", 2) == 0 || strncmp(date, "11 ", 3) == 0;

	switch (p) {
	case IT_DA:
		return elide ? "dall'" : "dal ";
	case IT_A:
		return elide ? "all'" : "al ";
	default:
		return elide ? "dell'" : "del ";
	}
}

/* A period label, or "?" for a day outside the years 1..9999. */
static const char *period_label(enum tg_period_kind kind, int64_t day, const char *lang,
				char *buf, size_t size)
{
	if (!day_ok(day) || !day_ok(tg_period_start(kind, (tg_day)day))) {
		snprintf(buf, size, "?");
		return buf;
	}
	return tg_period_label(kind, (tg_day)day, lang, buf, size);
}

static int64_t time_day(tg_time t)
{
	/* tg_time_day would truncate an absurd time into another day */
	return t >= 0 ? t / TG_DAY_SECONDS : -((-(t + 1)) / TG_DAY_SECONDS) - 1;
}

/* ------------------------------------------------------------ the model */

struct group {
	size_t ind;              /* indicator index */
	size_t first;            /* position in the plan of its first event */
	size_t n;                /* its events */
	size_t primary;          /* plan position of the event whose details show */
	bool unresolved;         /* some event is not a resolution */
	bool admin;              /* all its events are the administrators' */
	enum tg_status status;
};

struct ctx {
	const struct tg_message_input *in;
	const struct tg_config *cfg;
	const char *lang;
	bool en;
	struct group *g;
	size_t n_groups;
	size_t *next;            /* plan position -> next position of its group */
	/* counts of indicators */
	/* late: its data, not its value; risk: a warning from the year's
	 * forecast alone, its value on target */
	size_t off, risk, late, err, res_ok, res_admin, res_other;
	size_t n_depts;
	const char *dept[2];     /* the first two departments */
	bool escalation;
	char date[64];
};

static const struct tg_alert_event *event_at(const struct ctx *c, size_t pos)
{
	return &c->in->events->v[c->in->plan->events[pos]];
}

static bool is_admin(const struct tg_alert_event *ev)
{
	return ev->route != NULL && strcmp(ev->route, ADMINS_KEY) == 0;
}

static int build_groups(struct ctx *c, struct tg_error *err)
{
	const struct tg_plan *plan = c->in->plan;
	const struct tg_alert_events *evs = c->in->events;
	size_t n_ind = c->cfg->n_indicators, *group_of, *last;

	for (size_t i = 0; i < plan->n_events; i++) {
		if (plan->events[i] >= evs->n)
			return tg_error_set(err, "message: event %zu of the plan is out of range (%zu events)",
					    plan->events[i], evs->n);
		if (evs->v[plan->events[i]].indicator >= n_ind)
			return tg_error_set(err, "message: event %zu names indicator %zu, out of range (%zu indicators)",
					    plan->events[i], evs->v[plan->events[i]].indicator, n_ind);
	}
	if (plan->n_events == 0)
		return 0;
	c->g = calloc(plan->n_events, sizeof(*c->g));
	c->next = calloc(plan->n_events, sizeof(*c->next));
	group_of = n_ind > 0 ? malloc(n_ind * sizeof(*group_of)) : NULL;
	last = calloc(plan->n_events, sizeof(*last));
	if (c->g == NULL || c->next == NULL || (n_ind > 0 && group_of == NULL) || last == NULL) {
		free(group_of);
		free(last);
		return tg_error_setc(err, -ENOMEM, "message: out of memory");
	}
	for (size_t i = 0; i < n_ind; i++)
		group_of[i] = SIZE_MAX;
	for (size_t pos = 0; pos < plan->n_events; pos++) {
		const struct tg_alert_event *ev = event_at(c, pos);
		size_t gi = group_of[ev->indicator];
		struct group *g;

		c->next[pos] = SIZE_MAX;
		if (gi == SIZE_MAX) {
			gi = group_of[ev->indicator] = c->n_groups++;
			c->g[gi] = (struct group){ .ind = ev->indicator, .first = pos, .primary = pos,
						   .admin = true, .status = ev->status };
		} else {
			c->next[last[gi]] = pos;
		}
		last[gi] = pos;
		g = &c->g[gi];
		g->n++;
		if (!is_admin(ev))
			g->admin = false;
		if (ev->kind != TG_ALERT_RESOLVED && !g->unresolved) {
			g->unresolved = true;
			g->primary = pos;
			g->status = ev->status;
		}
		if (ev->kind == TG_ALERT_ESCALATED)
			c->escalation = true;
	}
	free(group_of);
	free(last);

	/* the plan is already by department: a stable sort keeps its order and
	 * only guarantees that one department is one block */
	for (size_t i = 1; i < c->n_groups; i++) {
		struct group t = c->g[i];
		const char *d = c->cfg->indicators[t.ind].department;
		size_t j = i;

		while (j > 0 && strcmp(c->cfg->indicators[c->g[j - 1].ind].department, d) > 0) {
			c->g[j] = c->g[j - 1];
			j--;
		}
		c->g[j] = t;
	}

	for (size_t i = 0; i < c->n_groups; i++) {
		const struct group *g = &c->g[i];
		const char *d = c->cfg->indicators[g->ind].department;

		if (g->unresolved && g->status == TG_STATUS_ERROR)
			c->err++;
		else if (g->unresolved && g->status == TG_STATUS_LATE)
			c->late++;
		else if (g->unresolved && tg_message_at_risk(&c->in->results[g->ind], g->status))
			c->risk++;
		else if (g->unresolved)
			c->off++;
		else if (g->admin)
			c->res_admin++;
		else if (g->status == TG_STATUS_OK)
			c->res_ok++;
		else
			c->res_other++;
		if (i == 0 || strcmp(d, c->cfg->indicators[c->g[i - 1].ind].department) != 0) {
			if (c->n_depts < 2)
				c->dept[c->n_depts] = d;
			c->n_depts++;
		}
	}
	return 0;
}

static bool all_admin(const struct ctx *c)
{
	for (size_t i = 0; i < c->n_groups; i++)
		if (!c->g[i].admin)
			return false;
	return c->n_groups > 0;
}

static size_t n_problems(const struct ctx *c)
{
	return c->off + c->risk + c->late + c->err;
}

static size_t n_resolved(const struct ctx *c)
{
	return c->res_ok + c->res_admin + c->res_other;
}

/* "1 indicatore" / "2 indicatori" / "1 indicator" / "2 indicators" */
static void put_count(struct tg_sb *b, size_t n, bool en)
{
	if (en)
		tg_sb_printf(b, "%zu indicator%s", n, n == 1 ? "" : "s");
	else
		tg_sb_printf(b, "%zu indicator%s", n, n == 1 ? "e" : "i");
}

/* "Ragioneria", "Ragioneria, URP", "3 settori" (the {{departments}}). */
static void put_departments(struct tg_sb *b, const struct ctx *c)
{
	if (c->n_depts == 1) {
		tg_sb_puts(b, c->dept[0]);
	} else if (c->n_depts == 2) {
		tg_sb_puts(b, c->dept[0]);
		tg_sb_puts(b, ", ");
		tg_sb_puts(b, c->dept[1]);
	} else if (c->n_depts > 2) {
		tg_sb_printf(b, c->en ? "%zu departments" : "%zu settori", c->n_depts);
	}
}

bool tg_message_at_risk(const struct tg_eval_result *r, enum tg_status status)
{
	return status == TG_STATUS_WARNING && r != NULL && r->has_value &&
	       r->light == TG_STATUS_OK && r->forecast_misses;
}

void tg_message_problems(struct tg_sb *b, size_t off, size_t risk, size_t late, size_t err,
			 bool en)
{
	const struct { size_t n; const char *it, *en; } part[] = {
		{ off, " fuori obiettivo", " off target" },
		{ risk, " a rischio per l'obiettivo annuale", " at risk for the yearly objective" },
		{ late, " con dati in ritardo", " with late data" },
		{ err, " senza dati", " without data" },
	};
	bool first = true;

	for (size_t k = 0; k < sizeof(part) / sizeof(part[0]); k++) {
		if (part[k].n == 0)
			continue;
		if (first)
			put_count(b, part[k].n, en);
		else
			tg_sb_printf(b, ", %zu", part[k].n);
		tg_sb_puts(b, en ? part[k].en : part[k].it);
		first = false;
	}
}

/* The default subject, uncleaned (subject_clean follows). */
static void default_subject(struct tg_sb *b, const struct ctx *c)
{
	const char *org = c->cfg->daemon.organization;
	size_t res = n_resolved(c);
	bool en = c->en;

	tg_sb_puts(b, "[traguardo] ");
	if (c->escalation)
		tg_sb_puts(b, "ESCALATION: ");
	if (org != NULL && org[0] != '\0') {
		tg_sb_puts(b, org);
		tg_sb_puts(b, ": ");
	}
	if (c->off > 0 || c->risk > 0 || c->late > 0) {
		tg_message_problems(b, c->off, c->risk, c->late, c->err, en);
	} else if (c->err > 0) {
		put_count(b, c->err, en);
		tg_sb_puts(b, en ? " without data: source failing" : " senza dati: fonte in errore");
	} else if (res == 0) {
		tg_sb_puts(b, en ? "nothing to report" : "nessuna segnalazione");
	} else {
		put_count(b, res, en);
		if (c->res_ok == res)
			tg_sb_puts(b, en ? " back on target" : " di nuovo in obiettivo");
		else if (c->res_admin == res)
			tg_sb_puts(b, en ? " with data again: source working"
				      : " di nuovo con dati: fonte ripristinata");
		else
			tg_sb_puts(b, en ? " improved" : res == 1 ? " migliorato" : " migliorati");
	}
	if (n_problems(c) > 0 && res > 0)
		tg_sb_printf(b, en ? " (%zu resolved)" : res == 1 ? " (%zu rientrato)" : " (%zu rientrati)", res);
	/* the administrators want the source, not the departments */
	if (c->n_depts > 0 && !all_admin(c)) {
		tg_sb_puts(b, " — ");
		put_departments(b, c);
	}
}

/* "2 indicatori fuori obiettivo e 1 indicatore di nuovo in obiettivo" */
static void put_summary(struct tg_sb *b, const struct ctx *c)
{
	bool en = c->en;
	struct { size_t n; const char *it, *en; } part[] = {
		{ c->off, " fuori obiettivo", " off target" },
		{ c->risk, " a rischio per l'obiettivo annuale", " at risk for the yearly objective" },
		{ c->late, " con dati in ritardo", " with late data" },
		{ c->err, " senza dati per una fonte in errore", " without data because a source fails" },
		{ c->res_ok, " di nuovo in obiettivo", " back on target" },
		{ c->res_other, " migliorat", " improved" },
		{ c->res_admin, " di nuovo con dati", " with data again" },
	};
	size_t total = 0, done = 0;

	for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++)
		if (part[i].n > 0)
			total++;
	if (total == 0) {
		tg_sb_puts(b, en ? "nothing to report" : "nessuna segnalazione");
		return;
	}
	for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++) {
		if (part[i].n == 0)
			continue;
		if (done > 0)
			tg_sb_puts(b, done + 1 == total ? (en ? " and " : " e ") : ", ");
		put_count(b, part[i].n, en);
		tg_sb_puts(b, en ? part[i].en : part[i].it);
		if (!en && strcmp(part[i].it, " migliorat") == 0)
			tg_sb_puts(b, part[i].n == 1 ? "o" : "i");
		done++;
	}
}

/* ------------------------------------------------------------ one block */

struct row {
	const char *label;       /* NULL: a sentence of its own */
	struct tg_sb value;         /* plain, uncleaned text */
};

#define MAX_ROWS 12

struct block {
	const struct tg_indicator *ind;
	const struct tg_eval_result *r;
	enum tg_status status;
	struct tg_sb kinds;         /* "Nuovo problema" or "Promemoria · Non più critico" */
	struct row row[MAX_ROWS];
	size_t n_rows;
	bool admin;
	/* the last periods, newest first */
	size_t n_hist;
	tg_day hist_period[HISTORY];
	bool hist_has[HISTORY];
	double hist_value[HISTORY];
};

static void block_free(struct block *k)
{
	tg_sb_free(&k->kinds);
	for (size_t i = 0; i < k->n_rows; i++)
		tg_sb_free(&k->row[i].value);
	k->n_rows = 0;
}

static struct tg_sb *add_row(struct block *k, const char *label)
{
	struct row *r;

	if (k->n_rows == MAX_ROWS)   /* never: the rows below are fewer */
		return NULL;
	r = &k->row[k->n_rows++];
	r->label = label;
	r->value = (struct tg_sb){ 0 };
	return &r->value;
}

const char *tg_message_kind(const struct tg_alert_event *ev, bool en)
{
	static const char *const no_longer_it[TG_STATUS_COUNT] = {
		"Rientrato", "Non più senza dati", "Non più in attenzione", "Non più in ritardo",
		"Non più critico", "Non più in errore" };
	static const char *const no_longer_en[TG_STATUS_COUNT] = {
		"Back on target", "No longer without data", "No longer in warning", "No longer late",
		"No longer critical", "No longer failing" };

	if (is_admin(ev)) {
		if (ev->kind == TG_ALERT_RESOLVED)
			return en ? "Source working again" : "Fonte di nuovo funzionante";
		if (ev->kind == TG_ALERT_FIRING)
			return en ? "Source failing" : "Fonte in errore";
		return en ? "Source still failing" : "Fonte ancora in errore";
	}
	switch (ev->kind) {
	case TG_ALERT_RESOLVED:
		if (ev->status == TG_STATUS_OK)
			return en ? "Back on target" : "Rientrato";
		if ((unsigned)ev->previous < TG_STATUS_COUNT &&
		    tg_status_severity(ev->previous) > tg_status_severity(ev->status))
			return en ? no_longer_en[ev->previous] : no_longer_it[ev->previous];
		return en ? "Improved" : "Migliorato";
	case TG_ALERT_REMINDER:
		if (ev->after_silence)
			break;
		return en ? "Reminder" : "Promemoria";
	case TG_ALERT_ESCALATED:
		if (ev->after_silence)
			break;
		return "Escalation";
	case TG_ALERT_FIRING:
	default:
		if (ev->after_silence)
			break;
		if (ev->previous != TG_STATUS_OK &&
		    tg_status_severity(ev->status) > tg_status_severity(ev->previous))
			return en ? "Worse" : "Peggiorato";
		/* fired again, no worse: its thresholds changed */
		if (ev->previous != TG_STATUS_OK && ev->target_changed)
			return en ? "Target changed" : "Obiettivo cambiato";
		return en ? "New problem" : "Nuovo problema";
	}
	return en ? "Still off target after the silence" : "Ancora fuori obiettivo dopo la sospensione";
}

/* The target with its unit: "≥ 95%", "≤ 30 giorni", "80–95 giorni". */
static void put_target(struct tg_sb *b, const struct tg_indicator *ind, const char *lang)
{
	char t[160];

	tg_sb_puts(b, tg_output_target(ind, lang, t, sizeof(t)));
	if (ind->unit != NULL && ind->unit[0] != '\0') {
		if (strcmp(ind->unit, "%") != 0)
			tg_sb_putn(b, " ", 1);
		tg_sb_puts(b, ind->unit);
	}
}

static void put_value(struct tg_sb *b, const struct tg_indicator *ind, double v, const char *lang)
{
	char t[160];

	/* tg_output_value cuts at its buffer: a long unit goes separately */
	if (ind->unit != NULL && strlen(ind->unit) > 64) {
		struct tg_indicator bare = *ind;

		bare.unit = NULL;
		tg_sb_puts(b, tg_output_value(&bare, v, lang, t, sizeof(t)));
		tg_sb_putn(b, " ", 1);
		tg_sb_puts(b, ind->unit);
		return;
	}
	tg_sb_puts(b, tg_output_value(ind, v, lang, t, sizeof(t)));
}

/* "5 giorni", "1 giorno", "oggi". */
static void put_days(struct tg_sb *b, int64_t days, bool en)
{
	if (en)
		tg_sb_printf(b, "%lld day%s", (long long)days, days == 1 ? "" : "s");
	else
		tg_sb_printf(b, "%lld giorn%s", (long long)days, days == 1 ? "o" : "i");
}

static void since_row(struct block *k, const struct tg_alert_event *ev, tg_time now,
		      const char *lang, bool en)
{
	int64_t d0 = time_day(ev->since), d1 = time_day(now), days = d1 - d0;
	char a[64], z[64];
	struct tg_sb *v;

	if (ev->since >= now && ev->kind != TG_ALERT_RESOLVED)
		return;   /* it begins with this very message */
	if (!day_ok(d0) || !day_ok(d1))
		return;
	if (days < 0)
		days = 0;
	tg_message_date((tg_day)d0, lang, a, sizeof(a));
	tg_message_date((tg_day)d1, lang, z, sizeof(z));
	if ((v = add_row(k, en ? "Duration" : "Durata")) == NULL)
		return;
	if (ev->kind == TG_ALERT_RESOLVED) {
		if (days == 0) {
			tg_sb_printf(v, en ? "%s (less than a day)" : "%s (meno di un giorno)", a);
			return;
		}
		if (en)
			tg_sb_printf(v, "from %s to %s (", a, z);
		else
			tg_sb_printf(v, "%s%s %s%s (", it_before(IT_DA, a), a, it_before(IT_A, z), z);
		put_days(v, days, en);
		tg_sb_putn(v, ")", 1);
	} else if (days == 0) {
		tg_sb_puts(v, en ? "since today" : "da oggi");
	} else {
		if (en)
			tg_sb_printf(v, "since %s (", a);
		else
			tg_sb_printf(v, "%s%s (", it_before(IT_DA, a), a);
		put_days(v, days, en);
		tg_sb_putn(v, ")", 1);
	}
}

/* "fonte 'NAME' in errore: MESSAGE" (evaluate.c): the name and where the
 * message starts, or false. */
static bool parse_source(const char *reason, const char **name, size_t *len, const char **msg)
{
	static const struct { const char *open, *close; } forms[] = {
		{ "fonte '", "' in errore: " }, { "source '", "' failed: " },
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		size_t ol = strlen(forms[i].open);
		const char *end;

		if (strncmp(reason, forms[i].open, ol) != 0)
			continue;
		if ((end = strstr(reason + ol, forms[i].close)) == NULL || end == reason + ol)
			continue;
		*name = reason + ol;
		*len = (size_t)(end - *name);
		*msg = end + strlen(forms[i].close);
		return *len <= 255;
	}
	return false;
}

static void admin_rows(struct block *k, const struct ctx *c, const struct tg_alert_event *ev)
{
	const struct tg_indicator *ind = k->ind;
	const char *reason = k->r->reason, *name = NULL, *msg = NULL;
	size_t len = 0;
	struct tg_sb *v;
	bool en = c->en;

	if (ev->kind != TG_ALERT_RESOLVED && parse_source(reason, &name, &len, &msg)) {
		if ((v = add_row(k, en ? "Source" : "Fonte")) != NULL)
			tg_sb_putn(v, name, len);
		if ((v = add_row(k, en ? "Error" : "Errore")) != NULL)
			tg_sb_puts(v, msg);
	} else {
		const struct tg_series *s = c->in->store != NULL ? tg_store_series(c->in->store, ind->id) : NULL;
		const char *src = ind->source != NULL ? ind->source : s != NULL ? s->source : NULL;

		if (src != NULL && (v = add_row(k, en ? "Source" : "Fonte")) != NULL)
			tg_sb_puts(v, src);
		if ((v = add_row(k, ev->kind == TG_ALERT_RESOLVED ? (en ? "Now" : "Ora")
								  : (en ? "Error" : "Errore"))) != NULL)
			tg_sb_puts(v, reason);
	}
	since_row(k, ev, c->in->now, c->lang, en);
}

static void forecast_row(struct block *k, const struct ctx *c)
{
	const struct tg_indicator *ind = k->ind;
	const struct tg_eval_result *r = k->r;
	struct tg_indicator yt = *ind;
	struct tg_sb *v;
	bool en = c->en;
	static const char *const agg_it[] = { "media", "totale", "ultimo valore" };
	static const char *const agg_en[] = { "mean", "total", "last value" };
	unsigned a = (unsigned)ind->year_target.aggregate;

	if (!r->has_forecast || (v = add_row(k, en ? "Forecast" : "Previsione")) == NULL)
		return;
	if (a > 2)
		a = 0;
	/* the year's objective reads like the target: reuse its wording */
	if (ind->better != TG_BETTER_RANGE)
		yt.target = ind->year_target.value;
	tg_sb_printf(v, en ? "%d would close at " : "il %d chiuderebbe a ", r->forecast_year);
	put_value(v, ind, r->forecast, c->lang);
	tg_sb_printf(v, en ? " (%s), yearly target " : " (%s), obiettivo annuale ", en ? agg_en[a] : agg_it[a]);
	put_target(v, &yt, c->lang);
	tg_sb_puts(v, r->forecast_misses ? (en ? ": missed at this pace" : ": non raggiunto a questo ritmo")
				      : (en ? ": on track" : ": in linea"));
}

/* "era 93,1% (settembre 2026), attenzione" */
static void previous_row(struct block *k, const struct ctx *c, const struct tg_alert_event *ev)
{
	const struct tg_indicator *ind = k->ind;
	const struct tg_eval_result *r = k->r;
	char p[64];
	struct tg_sb *v;
	bool en = c->en;
	bool first = ev->kind == TG_ALERT_FIRING && ev->previous == TG_STATUS_OK && !ev->after_silence;

	if (first || (unsigned)ev->previous >= TG_STATUS_COUNT)
		return;
	/* nothing known, or nothing to compare */
	if (!ev->has_previous_value && (ev->previous == TG_STATUS_OK || ev->previous == ev->status))
		return;
	if ((v = add_row(k, en ? "Previous message" : "Messaggio precedente")) == NULL)
		return;
	/* with the target changed, the previous state is told in full: the
	 * row after says what changed */
	if (ev->has_previous_value && r->has_value && ev->previous_period == r->period &&
	    ev->previous_value == r->value && ev->previous == ev->status && !ev->target_changed) {
		tg_sb_puts(v, en ? "no change" : "nessun cambiamento");
		return;
	}
	tg_sb_puts(v, en ? "was " : "era ");
	if (ev->has_previous_value) {
		put_value(v, ind, ev->previous_value, c->lang);
		tg_sb_printf(v, " (%s)", period_label(ind->period, ev->previous_period, c->lang, p, sizeof(p)));
	} else {
		tg_sb_puts(v, en ? "without a value" : "senza valore");
	}
	tg_sb_puts(v, ", ");
	tg_sb_puts(v, tg_status_label(ev->previous, c->lang));
}

static void history(struct block *k, const struct ctx *c)
{
	const struct tg_indicator *ind = k->ind;
	const struct tg_series *s, empty = { 0 };
	enum tg_period_kind kind = ind->period;
	int64_t today = time_day(c->in->now);
	tg_day cur, end, p;
	bool has_end = false;
	size_t lo, hi;

	if (c->in->store == NULL || !day_ok(today))
		return;
	if ((s = tg_store_series(c->in->store, ind->id)) == NULL)
		s = &empty;
	cur = tg_period_start(kind, (tg_day)today);
	/* the last value of a period started by now */
	lo = 0;
	hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->period[mid] <= cur)
			lo = mid + 1;
		else
			hi = mid;
	}
	end = 0;
	if (lo > 0 && day_ok(s->period[lo - 1])) {
		end = tg_period_start(kind, s->period[lo - 1]);
		has_end = true;
	}
	if (k->r->has_expected && day_ok(k->r->expected) && k->r->expected <= cur &&
	    (!has_end || k->r->expected > end)) {
		end = tg_period_start(kind, k->r->expected);
		has_end = true;
	}
	if (!has_end)
		return;
	p = end;
	k->n_hist = 0;
	while (k->n_hist < HISTORY) {
		size_t i = k->n_hist++;

		k->hist_period[i] = p;
		k->hist_has[i] = false;
		lo = 0;
		hi = s->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (s->period[mid] < p)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < s->n && s->period[lo] == p) {
			k->hist_has[i] = true;
			k->hist_value[i] = s->value[lo];
		}
		if ((int64_t)p - day_first() < 400)   /* no period before year 1 */
			break;
		p = tg_period_prev(kind, p);
	}
	/* periods older than the oldest value shown say nothing (the series
	 * had not begun): left out, and with them a window without values */
	while (k->n_hist > 0 && !k->hist_has[k->n_hist - 1])
		k->n_hist--;
}

static void build_block(struct block *k, const struct ctx *c, const struct group *g)
{
	const struct tg_alert_event *ev = event_at(c, g->primary);
	const struct tg_indicator *ind = &c->cfg->indicators[g->ind];
	const struct tg_eval_result *r = &c->in->results[g->ind];
	bool en = c->en;
	struct tg_sb *v;
	char p[64];

	*k = (struct block){ .ind = ind, .r = r, .status = g->status, .admin = g->admin };
	/* the kinds of all its events, each once, in plan order */
	for (size_t pos = g->first; pos != SIZE_MAX; pos = c->next[pos]) {
		const char *w = tg_message_kind(event_at(c, pos), en);
		bool seen = false;

		for (size_t q = g->first; q != pos; q = c->next[q])
			if (strcmp(tg_message_kind(event_at(c, q), en), w) == 0)
				seen = true;
		if (seen)
			continue;
		if (k->kinds.len > 0)
			tg_sb_puts(&k->kinds, " · ");
		tg_sb_puts(&k->kinds, w);
	}
	if (g->admin) {
		admin_rows(k, c, ev);
		return;
	}
	if (ind->process != NULL && (v = add_row(k, en ? "Process" : "Processo")) != NULL)
		tg_sb_puts(v, ind->process);
	if ((v = add_row(k, en ? "Value" : "Valore")) != NULL) {
		if (r->has_value) {
			put_value(v, ind, r->value, c->lang);
			tg_sb_printf(v, " (%s)", period_label(ind->period, r->period, c->lang, p, sizeof(p)));
		} else {
			tg_sb_puts(v, en ? "no data" : "nessun dato");
		}
		tg_sb_puts(v, en ? " — target " : " — obiettivo ");
		put_target(v, ind, c->lang);
	}
	if ((v = add_row(k, en ? "Reason" : "Motivo")) != NULL)
		tg_sb_putn(v, r->reason, strnlen(r->reason, sizeof(r->reason)));
	forecast_row(k, c);
	previous_row(k, c, ev);
	for (size_t pos = g->first; pos != SIZE_MAX; pos = c->next[pos])
		if (event_at(c, pos)->target_changed) {
			if ((v = add_row(k, NULL)) != NULL) {
				tg_sb_puts(v, en ? "The target has changed since the previous message: now "
					      : "L'obiettivo è cambiato dal messaggio precedente: ora ");
				put_target(v, ind, c->lang);
				tg_sb_putn(v, ".", 1);
			}
			break;
		}
	since_row(k, ev, c->in->now, c->lang, en);
	if (ind->owner != NULL && (v = add_row(k, en ? "Owner" : "Responsabile")) != NULL)
		tg_sb_puts(v, ind->owner);
	history(k, c);
}

static bool block_oom(const struct block *k)
{
	if (k->kinds.oom)
		return true;
	for (size_t i = 0; i < k->n_rows; i++)
		if (k->row[i].value.oom)
			return true;
	return false;
}

/* ------------------------------------------------------------ plain text */

static void text_block(struct tg_sb *b, const struct ctx *c, const struct block *k)
{
	struct tg_sb line = { 0 };
	char lab[64], val[256];

	tg_sb_puts(&line, tg_sb_str(&k->kinds));
	tg_sb_puts(&line, " [");
	tg_sb_puts(&line, tg_status_label(k->status, c->lang));
	tg_sb_puts(&line, "]");
	tg_sb_puts(b, "* ");
	put_wrapped(b, 2, "  ", tg_sb_str(&line));
	tg_sb_free(&line);

	tg_sb_puts(&line, k->ind->id);
	tg_sb_puts(&line, " — ");
	tg_sb_puts(&line, k->ind->name);
	{
		struct tg_sb clean = { 0 };

		put_text(&clean, tg_sb_str(&line));
		tg_sb_puts(b, "  ");
		put_wrapped(b, 2, "    ", tg_sb_str(&clean));
		tg_sb_free(&clean);
	}
	tg_sb_free(&line);

	for (size_t i = 0; i < k->n_rows; i++) {
		const struct row *r = &k->row[i];

		if (r->label != NULL) {
			tg_sb_puts(&line, r->label);
			tg_sb_puts(&line, ": ");
		}
		put_text(&line, tg_sb_str(&r->value));
		tg_sb_puts(b, "  ");
		put_wrapped(b, 2, "    ", tg_sb_str(&line));
		tg_sb_free(&line);
	}
	if (k->n_hist > 0) {
		size_t col;

		tg_sb_puts(b, c->en ? "  Last periods, newest first:\n" : "  Ultimi periodi, dal più recente:\n");
		tg_sb_puts(b, "    ");
		col = 4;
		for (size_t i = 0; i < k->n_hist; i++) {
			struct tg_sb item = { 0 };
			size_t w;

			tg_sb_puts(&item, period_label(k->ind->period, k->hist_period[i], c->lang, lab, sizeof(lab)));
			tg_sb_puts(&item, ": ");
			if (k->hist_has[i]) {
				struct tg_sb vb = { 0 };

				put_value(&vb, k->ind, k->hist_value[i], c->lang);
				put_text(&item, tg_sb_str(&vb));
				tg_sb_free(&vb);
				snprintf(val, sizeof(val), " (%s)",
					 tg_status_label(tg_eval_light(k->ind, k->hist_value[i]), c->lang));
				tg_sb_puts(&item, val);
			} else {
				tg_sb_puts(&item, "—");
			}
			if (i + 1 < k->n_hist)
				tg_sb_putn(&item, ";", 1);
			w = columns(tg_sb_str(&item), item.len);
			if (col > 4 && col + 1 + w > WRAP) {
				tg_sb_puts(b, "\n    ");
				col = 4;
			} else if (col > 4) {
				tg_sb_putn(b, " ", 1);
				col++;
			}
			tg_sb_puts(b, tg_sb_str(&item));
			col += w;
			if (item.oom)
				b->oom = true;
			tg_sb_free(&item);
		}
		tg_sb_putn(b, "\n", 1);
	}
}

static void put_footer_time(struct tg_sb *b, const struct ctx *c)
{
	tg_time now = c->in->now;
	int64_t d = time_day(now);
	int64_t sec = now - d * TG_DAY_SECONDS;

	tg_sb_printf(b, c->en ? "%s at %02d:%02d" : "%s alle %02d:%02d", c->date,
		  (int)(sec / 3600), (int)(sec % 3600 / 60));
}

/* The plan id, hex digits only (it is ours, but this is a document). */
static void put_ref(struct tg_sb *b, const struct tg_plan *plan)
{
	for (size_t i = 0; i < sizeof(plan->id) && plan->id[i] != '\0'; i++) {
		char ch = plan->id[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
			break;
		tg_sb_putn(b, &ch, 1);
	}
}

static void render_text(struct tg_sb *b, const struct ctx *c, const struct block *blocks,
			const char *intro)
{
	const char *dept = NULL;

	/* the intro (ours or a template) is lines of clean text: a line too
	 * long for a terminal is wrapped, the others stay as written */
	for (const char *p = intro; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (columns(p, n) > WRAP) {
			struct tg_sb one = { 0 };

			tg_sb_putn(&one, p, n);
			put_wrapped(b, 0, "", tg_sb_str(&one));
			if (one.oom)
				b->oom = true;
			tg_sb_free(&one);
		} else {
			tg_sb_putn(b, p, n);
			tg_sb_putn(b, "\n", 1);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	for (size_t i = 0; i < c->n_groups; i++) {
		const char *d = blocks[i].ind->department;

		if (dept == NULL || strcmp(dept, d) != 0) {
			tg_sb_puts(b, "\n== ");
			put_text(b, d);
			tg_sb_puts(b, " ==\n");
			dept = d;
		}
		tg_sb_putn(b, "\n", 1);
		text_block(b, c, &blocks[i]);
	}
	tg_sb_puts(b, "\n-- \n");
	tg_sb_puts(b, c->en ? "Automatic message from traguardo, evaluation of "
			 : "Messaggio automatico di traguardo, valutazione ");
	if (!c->en)
		tg_sb_puts(b, it_before(IT_DI, c->date));
	put_footer_time(b, c);
	tg_sb_puts(b, c->en ? ".\nRef. " : ".\nRif. ");
	put_ref(b, c->in->plan);
	tg_sb_puts(b, "\n");
}

/* ------------------------------------------------------------ HTML */

static const char *colour(enum tg_status s)
{
	switch (s) {
	case TG_STATUS_OK: return "#1e7b34";
	case TG_STATUS_WARNING: return "#b8860b";
	case TG_STATUS_LATE: return "#6a5acd";
	case TG_STATUS_CRITICAL: return "#b22222";
	default: return "#555555";
	}
}

#define TD_LABEL "<td style=\"padding:2px 12px 2px 0;color:#555555;vertical-align:top;white-space:nowrap;\">"
#define TD_VALUE "<td style=\"padding:2px 0;vertical-align:top;\">"
#define TH_HIST "<th style=\"padding:2px 8px;border-bottom:1px solid #cccccc;text-align:left;font-weight:bold;color:#555555;\">"

static void html_block(struct tg_sb *b, const struct ctx *c, const struct block *k)
{
	const char *col = colour(k->status);
	char lab[64];

	tg_sb_puts(b, "<tr><td style=\"padding:0 24px 16px 24px;\">\n");
	tg_sb_printf(b, "<table role=\"presentation\" width=\"100%%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
		     "style=\"border-collapse:collapse;border-left:4px solid %s;\">\n"
		     "<tr><td style=\"padding:6px 12px;\">\n", col);
	tg_sb_printf(b, "<div style=\"font-size:13px;\"><span style=\"display:inline-block;padding:1px 8px;"
		     "background-color:%s;color:#ffffff;font-weight:bold;\">", col);
	put_html(b, tg_status_label(k->status, c->lang));
	tg_sb_puts(b, "</span> <strong>");
	put_html(b, tg_sb_str(&k->kinds));
	tg_sb_puts(b, "</strong></div>\n<div style=\"font-size:16px;font-weight:bold;margin:6px 0 4px 0;\">");
	put_html(b, k->ind->id);
	tg_sb_puts(b, " — ");
	put_html(b, k->ind->name);
	tg_sb_puts(b, "</div>\n");
	if (k->n_rows > 0) {
		tg_sb_puts(b, "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
			   "style=\"border-collapse:collapse;font-size:14px;\">\n");
		for (size_t i = 0; i < k->n_rows; i++) {
			const struct row *r = &k->row[i];

			if (r->label == NULL) {
				tg_sb_puts(b, "<tr><td colspan=\"2\" style=\"padding:2px 0;font-weight:bold;\">");
			} else {
				tg_sb_puts(b, "<tr>" TD_LABEL);
				put_html(b, r->label);
				tg_sb_puts(b, "</td>" TD_VALUE);
			}
			put_html(b, tg_sb_str(&r->value));
			tg_sb_puts(b, "</td></tr>\n");
		}
		tg_sb_puts(b, "</table>\n");
	}
	if (k->n_hist > 0) {
		tg_sb_puts(b, "<table cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
			   "style=\"border-collapse:collapse;margin-top:8px;font-size:12px;\">\n<caption "
			   "style=\"text-align:left;color:#555555;padding:0 0 2px 0;\">");
		put_html(b, c->en ? "Last periods, newest first" : "Ultimi periodi, dal più recente");
		tg_sb_puts(b, "</caption>\n<tr>" TH_HIST);
		put_html(b, c->en ? "Period" : "Periodo");
		tg_sb_puts(b, "</th>" TH_HIST);
		put_html(b, c->en ? "Value" : "Valore");
		tg_sb_puts(b, "</th>" TH_HIST);
		put_html(b, c->en ? "Light" : "Semaforo");
		tg_sb_puts(b, "</th></tr>\n");
		for (size_t i = 0; i < k->n_hist; i++) {
			tg_sb_puts(b, "<tr><td style=\"padding:1px 8px;white-space:nowrap;\">");
			put_html(b, period_label(k->ind->period, k->hist_period[i], c->lang, lab, sizeof(lab)));
			tg_sb_puts(b, "</td><td style=\"padding:1px 8px;text-align:right;white-space:nowrap;\">");
			if (k->hist_has[i]) {
				enum tg_status l = tg_eval_light(k->ind, k->hist_value[i]);
				struct tg_sb vb = { 0 };

				put_value(&vb, k->ind, k->hist_value[i], c->lang);
				put_html(b, tg_sb_str(&vb));
				if (vb.oom)
					b->oom = true;
				tg_sb_free(&vb);
				tg_sb_printf(b, "</td><td style=\"padding:1px 8px;color:%s;font-weight:bold;"
					     "white-space:nowrap;\">&#9679; ", colour(l));
				put_html(b, tg_status_label(l, c->lang));
			} else {
				tg_sb_puts(b, "—</td><td style=\"padding:1px 8px;color:#555555;\">");
				put_html(b, c->en ? "no data" : "nessun dato");
			}
			tg_sb_puts(b, "</td></tr>\n");
		}
		tg_sb_puts(b, "</table>\n");
	}
	tg_sb_puts(b, "</td></tr>\n</table>\n</td></tr>\n");
}

/* Plain text (already clean) as HTML paragraphs: a blank line separates
 * paragraphs, a single newline is a line break. */
static void html_paragraphs(struct tg_sb *b, const char *text)
{
	const char *p = text;
	bool open = false;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (n == 0) {
			if (open)
				tg_sb_puts(b, "</p>\n");
			open = false;
		} else {
			if (!open)
				tg_sb_puts(b, "<p style=\"margin:0 0 8px 0;\">");
			else
				tg_sb_puts(b, "<br>\n");
			put_html_n(b, p, n);
			open = true;
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	if (open)
		tg_sb_puts(b, "</p>\n");
}

static void render_html(struct tg_sb *b, const struct ctx *c, const struct block *blocks,
			const char *subject, const char *intro)
{
	const char *org = c->cfg->daemon.organization;
	const char *dept = NULL;
	enum tg_status worst = TG_STATUS_OK;

	for (size_t i = 0; i < c->n_groups; i++)
		if (c->g[i].unresolved && tg_status_severity(c->g[i].status) > tg_status_severity(worst))
			worst = c->g[i].status;

	tg_sb_printf(b, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
		     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
		  c->en ? "en" : "it");
	put_html(b, subject);
	tg_sb_puts(b, "</title>\n</head>\n<body style=\"margin:0;padding:0;background-color:#f2f2f2;\">\n"
		   "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
		   "style=\"background-color:#f2f2f2;\">\n<tr><td align=\"center\" style=\"padding:16px 8px;\">\n"
		   "<table role=\"presentation\" width=\"640\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
		   "style=\"width:100%;max-width:640px;background-color:#ffffff;border:1px solid #dddddd;"
		   "font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.4;color:#222222;\">\n");
	tg_sb_printf(b, "<tr><td style=\"padding:16px 24px 12px 24px;border-top:6px solid %s;\">\n"
		     "<div style=\"font-size:12px;color:#555555;\">traguardo", colour(worst));
	if (org != NULL && org[0] != '\0') {
		tg_sb_puts(b, " · ");
		put_html(b, org);
	}
	tg_sb_puts(b, " · ");
	put_html(b, c->date);
	tg_sb_puts(b, "</div>\n</td></tr>\n<tr><td style=\"padding:0 24px 8px 24px;font-size:15px;\">\n");
	html_paragraphs(b, intro);
	tg_sb_puts(b, "</td></tr>\n");
	for (size_t i = 0; i < c->n_groups; i++) {
		const char *d = blocks[i].ind->department;

		if (dept == NULL || strcmp(dept, d) != 0) {
			tg_sb_puts(b, "<tr><td style=\"padding:8px 24px 8px 24px;\"><h2 style=\"margin:0;font-size:17px;"
				   "border-bottom:1px solid #dddddd;padding-bottom:2px;\">");
			put_html(b, d);
			tg_sb_puts(b, "</h2></td></tr>\n");
			dept = d;
		}
		html_block(b, c, &blocks[i]);
	}
	tg_sb_puts(b, "<tr><td style=\"padding:12px 24px 16px 24px;font-size:12px;color:#555555;"
		   "border-top:1px solid #dddddd;\">");
	{
		struct tg_sb f = { 0 };

		tg_sb_puts(&f, c->en ? "Automatic message from traguardo, evaluation of "
				  : "Messaggio automatico di traguardo, valutazione ");
		if (!c->en)
			tg_sb_puts(&f, it_before(IT_DI, c->date));
		put_footer_time(&f, c);
		tg_sb_puts(&f, c->en ? ". Ref. " : ". Rif. ");
		put_ref(&f, c->in->plan);
		tg_sb_putn(&f, ".", 1);
		put_html(b, tg_sb_str(&f));
		if (f.oom)
			b->oom = true;
		tg_sb_free(&f);
	}
	tg_sb_puts(b, "</td></tr>\n</table>\n</td></tr>\n</table>\n</body>\n</html>\n");
}

/* ------------------------------------------------------------ templates */

/* DIR/NAME.LANG.txt: 1 with *out (NUL-terminated, valid UTF-8, BOM and CR
 * before LF removed), 0 when there is no such file, or a negative code. */
static int template_read(const char *dir, const char *name, const char *lang, char **out,
			 struct tg_error *err)
{
	struct tg_sb path = { 0 };
	struct stat st;
	char *data = NULL;
	size_t len = 0, o = 0;
	int fd, rc = 0;

	*out = NULL;
	tg_sb_printf(&path, "%s/%s.%s.txt", dir, name, lang);
	if (path.oom) {
		tg_sb_free(&path);
		return tg_error_setc(err, -ENOMEM, "message: out of memory");
	}
	if ((fd = open(path.p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		rc = errno == ENOENT || errno == ENOTDIR ? 0
			: tg_error_setc(err, -errno, "%s: %s", path.p, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = tg_error_setc(err, -errno, "%s: %s", path.p, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = tg_error_set(err, "%s: not a regular file", path.p);
		goto out;
	}
	if (st.st_size > TEMPLATE_MAX) {
		rc = tg_error_setc(err, -EFBIG, "%s: template larger than 64 KiB (%lld bytes)", path.p,
				   (long long)st.st_size);
		goto out;
	}
	if ((data = malloc(TEMPLATE_MAX + 2)) == NULL) {
		rc = tg_error_setc(err, -ENOMEM, "message: out of memory");
		goto out;
	}
	/* read up to one byte more than allowed: the file may grow meanwhile */
	while (len < TEMPLATE_MAX + 1) {
		ssize_t n = read(fd, data + len, TEMPLATE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = tg_error_setc(err, -errno, "%s: %s", path.p, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > TEMPLATE_MAX) {
		rc = tg_error_setc(err, -EFBIG, "%s: template larger than 64 KiB", path.p);
		goto out;
	}
	for (size_t i = 0; i < len;) {
		size_t k = char_len(data + i, len - i);

		if (k == 0) {
			rc = tg_error_set(err, "%s: not valid UTF-8 text (byte %zu)", path.p, i + 1);
			goto out;
		}
		i += k;
	}
	/* BOM, CRLF, trailing blank lines: what editors on Windows leave */
	{
		size_t i = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;

		for (; i < len; i++)
			if (!(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n'))
				data[o++] = data[i];
		while (o > 0 && (data[o - 1] == '\n' || data[o - 1] == '\r' || data[o - 1] == ' ' ||
				 data[o - 1] == '\t'))
			o--;
		data[o] = '\0';
	}
	*out = data;
	data = NULL;
	rc = 1;
out:
	if (fd >= 0)
		close(fd);
	free(data);
	tg_sb_free(&path);
	return rc;
}

/* What fn writes about c, put into b as put_text does. */
static void put_text_of(struct tg_sb *b, const struct ctx *c,
			void (*fn)(struct tg_sb *, const struct ctx *))
{
	struct tg_sb d = { 0 };

	fn(&d, c);
	put_text(b, tg_sb_str(&d));
	if (d.oom)
		b->oom = true;
	tg_sb_free(&d);
}

/* Substitutes the placeholders of tpl into b as plain text (values and
 * template cleaned of control characters; '\n' kept). */
static void template_render(struct tg_sb *b, const char *tpl, const struct ctx *c,
			    const char *subject)
{
	const char *p = tpl;

	while (*p != '\0') {
		const char *open = strstr(p, "{{"), *q, *name, *close;
		size_t nl;

		if (open == NULL) {
			put_text_n(b, p, strlen(p), true);
			return;
		}
		put_text_n(b, p, (size_t)(open - p), true);
		q = open + 2;
		while (*q == ' ')
			q++;
		name = q;
		while ((*q >= 'a' && *q <= 'z') || *q == '_')
			q++;
		nl = (size_t)(q - name);
		while (*q == ' ')
			q++;
		close = q[0] == '}' && q[1] == '}' ? q + 2 : NULL;
		/* not a placeholder: one brace is text, the search goes on from
		 * the next ("{{{count}}}" is "{2}") */
		p = close != NULL ? close : open + 1;
#define IS(s) (nl == sizeof(s) - 1 && memcmp(name, s, nl) == 0)
		if (close == NULL) {
			tg_sb_puts(b, "{");
		} else if (IS("count")) {
			tg_sb_printf(b, "%zu", n_problems(c));
		} else if (IS("resolved")) {
			tg_sb_printf(b, "%zu", n_resolved(c));
		} else if (IS("departments")) {
			put_text_of(b, c, put_departments);
		} else if (IS("organization")) {
			put_text(b, c->cfg->daemon.organization);
		} else if (IS("date")) {
			put_text(b, c->date);
		} else if (IS("at_date")) {
			/* "al 20 novembre 2026", "all'8 dicembre 2026", "on 8 December 2026" */
			put_text(b, c->en ? "on " : it_before(IT_A, c->date));
			put_text(b, c->date);
		} else if (IS("summary")) {
			put_text_of(b, c, put_summary);
		} else if (IS("subject") && subject != NULL) {
			put_text(b, subject);
		} else {
			/* unknown: left as written, so a typo shows in the message */
			put_text_n(b, open, (size_t)(p - open), true);
		}
#undef IS
	}
}

/* ------------------------------------------------------------ main */

void tg_message_free(struct tg_message *m)
{
	if (m == NULL)
		return;
	free(m->subject);
	free(m->text);
	free(m->html);
	m->subject = m->text = m->html = NULL;
}

int tg_message_render(const struct tg_message_input *in, struct tg_message *out,
		      struct tg_error *err)
{
	struct ctx c = { 0 };
	struct block *blocks = NULL;
	struct tg_sb subject = { 0 }, intro = { 0 }, text = { 0 }, html = { 0 };
	char *tpl_subject = NULL, *tpl_intro = NULL;
	char *def_subject = NULL;
	int rc = 0;

	if (out != NULL)
		*out = (struct tg_message){ 0 };
	if (in == NULL || out == NULL || in->cfg == NULL || in->events == NULL || in->plan == NULL ||
	    in->results == NULL || (in->plan->n_events > 0 && in->plan->events == NULL) ||
	    (in->events->n > 0 && in->events->v == NULL))
		return tg_error_set(err, "message: incomplete input");
	c.in = in;
	c.cfg = in->cfg;
	c.en = is_en(in->cfg->daemon.language);
	c.lang = c.en ? "en" : "it";
	if ((rc = build_groups(&c, err)) < 0)
		goto done;
	if (day_ok(time_day(in->now)))
		tg_message_date((tg_day)time_day(in->now), c.lang, c.date, sizeof(c.date));
	else
		snprintf(c.date, sizeof(c.date), "?");

	if (in->templates_dir != NULL && in->templates_dir[0] != '\0') {
		if ((rc = template_read(in->templates_dir, "subject", c.lang, &tpl_subject, err)) < 0 ||
		    (rc = template_read(in->templates_dir, "intro", c.lang, &tpl_intro, err)) < 0)
			goto done;
		rc = 0;
	}

	/* subject */
	default_subject(&subject, &c);
	if (!subject_clean(&subject))
		goto oom;
	def_subject = tg_sb_take(&subject, NULL);
	if (def_subject == NULL)
		goto oom;
	if (tpl_subject != NULL) {
		/* an escalation says so whatever the template: the head of
		 * department must not take it for an ordinary message */
		if (c.escalation)
			tg_sb_puts(&subject, "ESCALATION: ");
		template_render(&subject, tpl_subject, &c, NULL);
		if (!subject_clean(&subject))
			goto oom;
		if (c.escalation && subject.len == sizeof("ESCALATION:") - 1)
			subject.len = 0;   /* the template wrote nothing: the default */
	}
	if (subject.len == 0)
		tg_sb_puts(&subject, def_subject);

	/* intro, as plain clean text */
	if (tpl_intro != NULL && tpl_intro[0] != '\0') {
		template_render(&intro, tpl_intro, &c, def_subject);
	} else {
		const char *org = c.cfg->daemon.organization;

		bool has_org = org != NULL && org[0] != '\0';

		if (has_org) {
			put_text(&intro, org);
			tg_sb_puts(&intro, " — ");
		}
		if (c.en)
			tg_sb_printf(&intro, "%s as of %s: ", has_org ? "quality indicators" : "Quality indicators",
				  c.date);
		else
			tg_sb_printf(&intro, "%s degli indicatori %s%s: ",
				     has_org ? "situazione" : "Situazione", it_before(IT_A, c.date),
				     c.date);
		put_summary(&intro, &c);
		tg_sb_putn(&intro, ".", 1);
	}
	if (c.escalation)   /* templates or not */
		tg_sb_puts(&intro, c.en ? "\nThis is an escalation: some problems below have been open for a while."
				     : "\nQuesto messaggio è un'escalation: alcuni problemi qui sotto sono aperti da tempo.");
	if (intro.oom)
		goto oom;

	if (c.n_groups > 0 && (blocks = calloc(c.n_groups, sizeof(*blocks))) == NULL)
		goto oom;
	for (size_t i = 0; i < c.n_groups; i++) {
		build_block(&blocks[i], &c, &c.g[i]);
		if (block_oom(&blocks[i]))
			goto oom;
	}
	render_text(&text, &c, blocks, tg_sb_str(&intro));
	render_html(&html, &c, blocks, tg_sb_str(&subject), tg_sb_str(&intro));
	out->subject = tg_sb_take(&subject, NULL);
	out->text = tg_sb_take(&text, NULL);
	out->html = tg_sb_take(&html, NULL);
	if (out->subject == NULL || out->text == NULL || out->html == NULL) {
		tg_message_free(out);
		goto oom;
	}
	goto done;
oom:
	rc = tg_error_setc(err, -ENOMEM, "message: out of memory");
done:
	if (blocks != NULL)
		for (size_t i = 0; i < c.n_groups; i++)
			block_free(&blocks[i]);
	free(blocks);
	free(c.g);
	free(c.next);
	free(tpl_subject);
	free(tpl_intro);
	free(def_subject);
	tg_sb_free(&subject);
	tg_sb_free(&intro);
	tg_sb_free(&text);
	tg_sb_free(&html);
	return rc;
}
