/*
 * alert.c — the alert state machine and its file, state.json (see alert.h).
 *
 * It owns the memory of what was said to whom: without it every cycle would
 * repeat every problem, and nobody would be told when a problem ends.  The
 * step is pure (old state in, new state and events out) so that a cycle whose
 * messages could not be spooled can be replayed with the same ids.
 *
 * The state is an array of alerts kept sorted by (indicator id, route key),
 * strcmp order, without duplicates: lookups are binary searches and the file
 * is written in a stable order.
 *
 * Decisions beyond alert.h:
 *  - An event with no recipient at all (an email route whose only "to" is
 *    "@owner" and the indicator has none; the administrators' alert without
 *    admins or email channel) is not emitted, but the alert moves on as if
 *    it had been (since, last message, status): seq counts only the messages
 *    really emitted.
 *  - A problem that starts during a silence leaves an inactive alert marked
 *    "silenced"; after the silence it fires with after_silence = true, or is
 *    forgotten if the problem went away meanwhile.
 *  - Silences apply to the administrators' alert too (as they always did).
 *  - An alert whose route no longer covers its indicator (departments,
 *    processes or ids changed) is forgotten like one whose route was removed:
 *    no RESOLVED is sent for it.
 *  - A route named "admins" would share the administrators' key: it is keyed
 *    "route N" instead.
 *  - A resolved alert is forgotten: tg_alerts_messages() counts the messages
 *    of the alerts still in the state (an indicator back on target counts 0).
 *  - The after-silence FIRING keeps the alert's since and escalation.
 *  - Threshold fingerprint: 32 hex digits of SHA-256 over the IEEE bits of
 *    the thresholds and their has_ flags (locale-free, exact).
 *
 * state.json (UTF-8 JSON, one alert per line; shown folded here):
 *   { "version": 1,
 *     "alerts": [
 *       { "indicator": "RAG-01",          id, 1..4096 bytes
 *         "route": "ragioneria",          route key ("route 2", "admins")
 *         "active": true,                 false: only marked during a silence
 *         "status": "critical",           status of the last message
 *         "since": "2026-11-20T09:00:00", when the alert began (civil local)
 *         "last_sent": "2026-11-27T09:00:00",  the last message
 *         "escalated": false,
 *         "seq": 2,                       messages emitted, 0..2147483647
 *         "told": [ { "channel": "posta", "address": "a@b.it" },
 *                   { "channel": "teams", "address": null } ],
 *         "fingerprint": "9f0c…",        thresholds at the last message
 *         "value": 12.5,                  value shown in the last message: a
 *                                         number, null, or "NaN" "Infinity"
 *                                         "-Infinity"
 *         "period": "2026-10-01",         its period, null when value is null
 *         "silenced": false } ] }         frozen by a silence
 * Channels are kept by name (indexes change with the configuration); a told
 * channel no longer configured is skipped when the alert resolves.  The
 * loader refuses files over 64 MiB, over 1,000,000 alerts, strings over 4096
 * bytes, over 4096 told entries per alert, duplicate keys, duplicate
 * (indicator, route) pairs, versions other than 1, and every field of the
 * wrong type or out of range; it ignores keys it does not know (a newer
 * version may add some).  A told address must be a valid addr-spec: it may
 * end up in an SMTP envelope.
 */
#include "alert.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "fsutil.h"
#include "route.h"

#define ADMINS_KEY "admins"
#define STATE_VERSION 1
#define STR_(x) #x
#define STR(x) STR_(x)
#define MAX_FILE (64u * 1024 * 1024)
#define MAX_ALERTS 1000000u
#define MAX_STRING 4096u
#define MAX_TOLD 4096u
#define MAX_SEQ 2147483647u

struct told {
	char *channel;
	char *address;                /* NULL for a webhook */
};

struct alert {
	char *indicator;
	char *route;
	bool active, escalated, silenced, has_value;
	enum tg_status status;
	tg_time since, last_sent;
	uint32_t seq;
	double value;
	tg_day period;
	char *fingerprint;
	struct told *told;
	size_t n_told;
};

struct tg_alerts {
	struct alert *v;
	size_t n, cap;
};

const char *tg_alert_kind_name(enum tg_alert_kind k)
{
	switch (k) {
	case TG_ALERT_FIRING: return "firing";
	case TG_ALERT_REMINDER: return "reminder";
	case TG_ALERT_ESCALATED: return "escalated";
	case TG_ALERT_RESOLVED: return "resolved";
	}
	return "unknown";
}

/* ---- small helpers ---- */

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* strcasecmp depends on the locale; addresses are compared in ASCII. */
static int ascii_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = ascii_lower((unsigned char)*a), y = ascii_lower((unsigned char)*b);

		if (x != y || x == 0)
			return x - y;
	}
}

static bool same_address(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return ascii_casecmp(a, b) == 0;
}

struct part {
	const void *p;
	size_t len;
};

/* 32 hex digits of SHA-256 over the concatenated parts. */
static int sha256_hex32(const struct part *parts, size_t n, char out[TG_ALERT_ID_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok;

	if (ctx == NULL) {
		ERR_clear_error();
		return -ENOMEM;
	}
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].len);
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen < 16) {
		ERR_clear_error();   /* stale errors would mislead the next TLS user */
		return -ENOMEM;      /* EVP fails only when it cannot allocate */
	}
	for (size_t i = 0; i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
	return 0;
}

static int event_id(const char *indicator, const char *route, tg_time since, uint32_t seq,
		    char out[TG_ALERT_ID_SIZE])
{
	char s[32], q[16];
	int ls = snprintf(s, sizeof(s), "%" PRId64, (int64_t)since);
	int lq = snprintf(q, sizeof(q), "%" PRIu32, seq);
	struct part parts[] = {
		{ indicator, strlen(indicator) + 1 },   /* with its NUL: the separator */
		{ route, strlen(route) + 1 },
		{ s, (size_t)ls + 1 },
		{ q, (size_t)lq },
	};

	return sha256_hex32(parts, sizeof(parts) / sizeof(parts[0]), out);
}

static void put_double(unsigned char *b, bool has, double v)
{
	uint64_t u = 0;

	if (has && v != 0.0)   /* -0 and 0 are the same threshold */
		memcpy(&u, &v, sizeof(u));
	b[0] = has;
	for (int i = 0; i < 8; i++)
		b[1 + i] = (unsigned char)(u >> (56 - 8 * i));
}

/* The thresholds in force, exactly: any change of target, limits, year
 * target or direction gives another fingerprint. */
static int fingerprint(const struct tg_indicator *ind, char out[TG_ALERT_ID_SIZE])
{
	unsigned char b[3 + 8 * 9];
	struct part part = { b, sizeof(b) };

	memset(b, 0, sizeof(b));
	b[0] = (unsigned char)ind->better;
	b[1] = ind->year_target.set ? (unsigned char)(1 + ind->year_target.aggregate) : 0;
	put_double(b + 3, ind->has_target, ind->target);
	put_double(b + 12, ind->has_critical, ind->critical);
	put_double(b + 21, ind->has_min, ind->min);
	put_double(b + 30, ind->has_max, ind->max);
	put_double(b + 39, ind->has_critical_min, ind->critical_min);
	put_double(b + 48, ind->has_critical_max, ind->critical_max);
	put_double(b + 57, ind->year_target.set, ind->year_target.value);
	return sha256_hex32(&part, 1, out);
}

/* now - t >= d without overflow (d > 0). */
static bool elapsed(tg_time now, tg_time t, int64_t d)
{
	if (now < t)
		return false;
	return (uint64_t)now - (uint64_t)t >= (uint64_t)d;
}

/* ---- the state ---- */

static void alert_clear(struct alert *a)
{
	free(a->indicator);
	free(a->route);
	free(a->fingerprint);
	for (size_t i = 0; i < a->n_told; i++) {
		free(a->told[i].channel);
		free(a->told[i].address);
	}
	free(a->told);
	memset(a, 0, sizeof(*a));
}

struct tg_alerts *tg_alerts_new(void)
{
	return calloc(1, sizeof(struct tg_alerts));
}

void tg_alerts_free(struct tg_alerts *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		alert_clear(&a->v[i]);
	free(a->v);
	free(a);
}

size_t tg_alerts_active(const struct tg_alerts *a)
{
	size_t n = 0;

	for (size_t i = 0; a != NULL && i < a->n; i++)
		n += a->v[i].active;
	return n;
}

static int alert_cmp(const void *pa, const void *pb)
{
	const struct alert *a = pa, *b = pb;
	int c = strcmp(a->indicator, b->indicator);

	return c != 0 ? c : strcmp(a->route, b->route);
}

static const struct alert *alerts_find(const struct tg_alerts *a, const char *indicator,
				       const char *route)
{
	struct alert key = { .indicator = (char *)indicator, .route = (char *)route };

	if (a == NULL || a->n == 0)
		return NULL;
	return bsearch(&key, a->v, a->n, sizeof(*a->v), alert_cmp);
}

unsigned tg_alerts_messages(const struct tg_alerts *a, const char *indicator)
{
	size_t lo = 0, hi;
	unsigned n = 0;

	if (a == NULL || indicator == NULL)
		return 0;
	hi = a->n;
	while (lo < hi) {   /* first alert of the indicator */
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(a->v[mid].indicator, indicator) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < a->n && strcmp(a->v[lo].indicator, indicator) == 0; lo++)
		n = a->v[lo].seq > UINT_MAX - n ? UINT_MAX : n + a->v[lo].seq;
	return n;
}

/* Appends a (moved: a is emptied). */
static int alerts_push(struct tg_alerts *s, struct alert *a)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct alert *v;

		if (cap > SIZE_MAX / sizeof(*v) || (v = realloc(s->v, cap * sizeof(*v))) == NULL)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *a;
	memset(a, 0, sizeof(*a));
	return 0;
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*oom = true;
	return d;
}

static int alert_copy(struct alert *dst, const struct alert *src)
{
	bool oom = false;

	*dst = *src;
	dst->indicator = dst->route = dst->fingerprint = NULL;
	dst->told = NULL;
	dst->n_told = 0;
	dst->indicator = dup_or_null(src->indicator, &oom);
	dst->route = dup_or_null(src->route, &oom);
	dst->fingerprint = dup_or_null(src->fingerprint, &oom);
	if (!oom && src->n_told > 0) {
		dst->told = calloc(src->n_told, sizeof(*dst->told));
		if (dst->told == NULL)
			oom = true;
		for (size_t i = 0; !oom && i < src->n_told; i++) {
			dst->n_told++;
			dst->told[i].channel = dup_or_null(src->told[i].channel, &oom);
			dst->told[i].address = dup_or_null(src->told[i].address, &oom);
		}
	}
	if (oom) {
		alert_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

static int told_cmp(const void *pa, const void *pb)
{
	const struct told *a = pa, *b = pb;
	int c = strcmp(a->channel, b->channel);

	if (c != 0)
		return c;
	if (a->address == NULL || b->address == NULL)
		return (a->address != NULL) - (b->address != NULL);
	return ascii_casecmp(a->address, b->address);
}

/* Adds a recipient to the told list, kept sorted by told_cmp and unique (so
 * the file is stable and lookups are binary searches). */
static int told_add(struct alert *a, const char *channel, const char *address)
{
	struct told key = { (char *)channel, (char *)address }, *v;
	size_t lo = 0, hi = a->n_told;
	bool oom = false;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = told_cmp(&a->told[mid], &key);

		if (c == 0)
			return 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (a->n_told >= MAX_TOLD)
		return 0;   /* absurd: the file could not be read back */
	if ((v = realloc(a->told, (a->n_told + 1) * sizeof(*v))) == NULL)
		return -ENOMEM;
	a->told = v;
	key.channel = dup_or_null(channel, &oom);
	key.address = dup_or_null(address, &oom);
	if (oom) {
		free(key.channel);
		free(key.address);
		return -ENOMEM;
	}
	memmove(&a->told[lo + 1], &a->told[lo], (a->n_told - lo) * sizeof(*v));
	a->told[lo] = key;
	a->n_told++;
	return 0;
}

/* ---- events ---- */

static void event_clear(struct tg_alert_event *e)
{
	free(e->route);
	for (size_t i = 0; i < e->n_to; i++)
		free(e->to[i].address);
	free(e->to);
}

void tg_alert_events_free(struct tg_alert_events *ev)
{
	if (ev == NULL)
		return;
	for (size_t i = 0; i < ev->n; i++)
		event_clear(&ev->v[i]);
	free(ev->v);
	ev->v = NULL;
	ev->n = 0;
}

/* Recipients of one event, borrowed from the configuration. */
struct rlist {
	struct rcpt {
		size_t channel;
		const char *address;
	} *v;
	size_t n, cap;
};

static int rlist_push(struct rlist *l, size_t channel, const char *address)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct rcpt *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].channel = channel;
	l->v[l->n].address = address;
	l->n++;
	return 0;
}

static int rlist_add(struct rlist *l, size_t channel, const char *address)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].channel == channel && same_address(l->v[i].address, address))
			return 0;
	return rlist_push(l, channel, address);
}

static int route_recipients(const struct tg_config *cfg, const struct tg_route *r,
			    const struct tg_indicator *ind, enum tg_status status, bool escalated,
			    struct rlist *l)
{
	int rc = 0;

	for (size_t c = 0; c < r->channels.n && rc == 0; c++) {
		ssize_t ch = tg_config_channel_index(cfg, r->channels.v[c]);

		if (ch < 0)
			continue;
		if (cfg->channels[ch].type != TG_CHANNEL_EMAIL) {
			rc = rlist_add(l, (size_t)ch, NULL);
			continue;
		}
		for (size_t t = 0; t < r->to.n && rc == 0; t++) {
			const char *to = strcmp(r->to.v[t], "@owner") == 0 ? ind->owner : r->to.v[t];

			if (to != NULL)
				rc = rlist_add(l, (size_t)ch, to);
		}
		for (size_t t = 0; escalated && t < r->escalate_to.n && rc == 0; t++)
			rc = rlist_add(l, (size_t)ch, r->escalate_to.v[t]);
		/* late data is the owner's to send, whoever the route names */
		if (status == TG_STATUS_LATE && ind->owner != NULL && rc == 0)
			rc = rlist_add(l, (size_t)ch, ind->owner);
	}
	return rc;
}

static int admin_recipients(const struct tg_config *cfg, struct rlist *l)
{
	int rc = 0;

	for (size_t c = 0; c < cfg->n_channels; c++) {
		if (cfg->channels[c].type != TG_CHANNEL_EMAIL)
			continue;
		for (size_t a = 0; a < cfg->daemon.admins.n && rc == 0; a++)
			rc = rlist_add(l, c, cfg->daemon.admins.v[a]);
		break;
	}
	return rc;
}

/* The recipients told during the alert, mapped to today's channels.  The
 * list is sorted by channel name and unique: an email channel's addresses
 * are already distinct, a webhook channel is one recipient. */
static int told_recipients(const struct tg_config *cfg, const struct alert *a, struct rlist *l)
{
	for (size_t i = 0; i < a->n_told; i++) {
		ssize_t ch = tg_config_channel_index(cfg, a->told[i].channel);
		const char *addr = a->told[i].address;

		if (ch < 0)
			continue;   /* a channel removed from the configuration */
		if (cfg->channels[ch].type != TG_CHANNEL_EMAIL)
			addr = NULL;
		else if (addr == NULL)
			continue;   /* was a webhook under this name */
		if (addr == NULL && l->n > 0 && l->v[l->n - 1].channel == (size_t)ch)
			continue;
		if (rlist_push(l, (size_t)ch, addr) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- one cycle ---- */

struct stepper {
	const struct tg_config *cfg;
	const struct tg_eval_result *res;
	tg_time now;
	struct tg_alerts *next;
	struct tg_alert_events *out;
	size_t ev_cap;
	char fp[TG_ALERT_ID_SIZE];   /* of the indicator being stepped */
	bool silenced;               /* the indicator today */
};

static struct tg_alert_event *event_new(struct stepper *s)
{
	struct tg_alert_events *out = s->out;

	if (out->n == s->ev_cap) {
		size_t cap = s->ev_cap ? 2 * s->ev_cap : 16;
		struct tg_alert_event *v;

		if (cap > SIZE_MAX / sizeof(*v) || (v = realloc(out->v, cap * sizeof(*v))) == NULL)
			return NULL;
		out->v = v;
		s->ev_cap = cap;
	}
	memset(&out->v[out->n], 0, sizeof(out->v[0]));
	return &out->v[out->n++];
}

/* Fills e->to from l and records them as told in a (when not NULL). */
static int event_recipients(struct stepper *s, struct tg_alert_event *e, struct alert *a,
			    const struct rlist *l)
{
	if ((e->to = calloc(l->n, sizeof(*e->to))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		e->n_to++;
		e->to[i].channel = l->v[i].channel;
		if (l->v[i].address != NULL && (e->to[i].address = strdup(l->v[i].address)) == NULL)
			return -ENOMEM;
		if (a != NULL && told_add(a, s->cfg->channels[l->v[i].channel].name, l->v[i].address) < 0)
			return -ENOMEM;
	}
	return 0;
}

struct emit {
	enum tg_alert_kind kind;
	const struct alert *old;      /* NULL for a first firing */
	bool after_silence;
};

/*
 * Emits the event of alert a if it has recipients, and moves a forward into
 * the new state.  For RESOLVED, a is NULL and the alert is em->old, only
 * read (the old state is never written).  r NULL: the admins' alert.
 */
static int emit(struct stepper *s, size_t i, const struct tg_route *r, struct alert *a,
		const struct emit *em)
{
	const struct alert *v = a != NULL ? a : em->old;   /* what the event is about */
	const struct tg_indicator *ind = &s->cfg->indicators[i];
	const struct tg_eval_result *res = &s->res[i];
	struct rlist l = { 0 };
	struct tg_alert_event *e;
	int rc;

	if (a == NULL)
		rc = told_recipients(s->cfg, v, &l);
	else if (r != NULL)
		rc = route_recipients(s->cfg, r, ind, res->status, a->escalated, &l);
	else
		rc = admin_recipients(s->cfg, &l);
	if (rc < 0)
		goto out;
	if (l.n > 0) {
		uint32_t seq = v->seq < MAX_SEQ ? v->seq + 1 : MAX_SEQ;

		if ((e = event_new(s)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		e->indicator = i;
		e->kind = em->kind;
		e->status = res->status;
		e->since = v->since;
		e->after_silence = em->after_silence;
		if (em->old != NULL) {
			e->previous = em->old->status;
			e->has_previous_value = em->old->has_value;
			e->previous_value = em->old->value;
			e->previous_period = em->old->period;
			e->target_changed = r != NULL && em->old->fingerprint != NULL &&
					    strcmp(em->old->fingerprint, s->fp) != 0;
		} else {
			e->previous = TG_STATUS_OK;
		}
		if ((e->route = strdup(v->route)) == NULL ||
		    (rc = event_id(ind->id, v->route, v->since, seq, e->id)) < 0 ||
		    (rc = event_recipients(s, e, a, &l)) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		if (a != NULL)
			a->seq = seq;
	}
	if (a != NULL) {
		char *fp = strdup(s->fp);

		if (fp == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		free(a->fingerprint);
		a->fingerprint = fp;
		a->status = res->status;
		a->last_sent = s->now;
		a->silenced = false;
		a->has_value = res->has_value;
		a->value = res->has_value ? res->value : 0;
		a->period = res->has_value ? res->period : 0;
		rc = alerts_push(s->next, a);
	}
out:
	free(l.v);
	return rc;
}

/* A fresh alert for (indicator i, key); strings are copied. */
static int alert_start(struct stepper *s, size_t i, const char *key, struct alert *a)
{
	bool oom = false;

	memset(a, 0, sizeof(*a));
	a->indicator = dup_or_null(s->cfg->indicators[i].id, &oom);
	a->route = dup_or_null(key, &oom);
	a->fingerprint = dup_or_null(s->fp, &oom);
	a->since = a->last_sent = s->now;
	a->status = s->res[i].status;
	a->has_value = s->res[i].has_value;
	a->value = a->has_value ? s->res[i].value : 0;
	a->period = a->has_value ? s->res[i].period : 0;
	if (oom) {
		alert_clear(a);
		return -ENOMEM;
	}
	return 0;
}

static int step_one(struct stepper *s, const struct tg_alerts *cur, size_t i,
		    const struct tg_route *r, const char *key)
{
	const struct tg_indicator *ind = &s->cfg->indicators[i];
	enum tg_status st = s->res[i].status;
	const struct alert *old = alerts_find(cur, ind->id, key);
	struct alert a = { 0 };
	struct emit em = { 0 };
	bool problem, frozen, due = true;
	int rc;

	if (r != NULL) {
		/* error, or unknown or late a route does not want: nothing to
		 * judge (a critical indicator whose data are late has not
		 * improved: its alert stays as it was) */
		frozen = st == TG_STATUS_ERROR ||
			 ((st == TG_STATUS_UNKNOWN || st == TG_STATUS_LATE) &&
			  tg_status_severity(r->min_status) > tg_status_severity(st));
		problem = !frozen && tg_status_severity(st) >= tg_status_severity(r->min_status);
	} else {
		frozen = false;
		problem = st == TG_STATUS_ERROR;
	}

	if (s->silenced) {
		if (old != NULL) {
			if (alert_copy(&a, old) < 0)
				return -ENOMEM;
			a.silenced = true;
		} else if (problem) {
			if (alert_start(s, i, key, &a) < 0)
				return -ENOMEM;
			a.silenced = true;   /* inactive: nobody was told */
		} else {
			return 0;
		}
		rc = alerts_push(s->next, &a);
		alert_clear(&a);
		return rc;
	}
	if (frozen) {
		if (old == NULL)
			return 0;
		if (alert_copy(&a, old) < 0)
			return -ENOMEM;
		rc = alerts_push(s->next, &a);
		alert_clear(&a);
		return rc;
	}

	em.after_silence = old != NULL && old->silenced;
	if (old == NULL || !old->active) {
		if (!problem)
			return 0;   /* a silence marker whose problem went away */
		if (alert_start(s, i, key, &a) < 0)
			return -ENOMEM;
		a.active = true;
		em.kind = TG_ALERT_FIRING;
		rc = emit(s, i, r, &a, &em);
		alert_clear(&a);
		return rc;
	}

	em.old = old;
	if (!problem) {
		em.kind = TG_ALERT_RESOLVED;
		return emit(s, i, r, NULL, &em);   /* the alert ends */
	}
	if (em.after_silence || tg_status_severity(st) > tg_status_severity(old->status))
		em.kind = TG_ALERT_FIRING;
	else if (r != NULL && old->fingerprint != NULL && strcmp(old->fingerprint, s->fp) != 0)
		/* the target changed and it is still a problem: say so now, not
		 * at some later reminder (there may be none) */
		em.kind = TG_ALERT_FIRING;
	else if (r != NULL && r->escalate_after > 0 && !old->escalated &&
		 elapsed(s->now, old->since, r->escalate_after))
		em.kind = TG_ALERT_ESCALATED;
	else if (r != NULL && r->repeat_every > 0 && elapsed(s->now, old->last_sent, r->repeat_every))
		em.kind = TG_ALERT_REMINDER;
	else
		due = false;
	if (alert_copy(&a, old) < 0)
		return -ENOMEM;
	if (!due) {
		rc = alerts_push(s->next, &a);   /* nothing to say this cycle */
	} else {
		if (em.kind == TG_ALERT_ESCALATED)
			a.escalated = true;
		rc = emit(s, i, r, &a, &em);
	}
	alert_clear(&a);
	return rc;
}

/* The key of route n (0-based): its name, else "route N". */
static const char *route_key(const struct tg_route *r, size_t n, char *buf, size_t size)
{
	if (r->name != NULL && strcmp(r->name, ADMINS_KEY) != 0)
		return r->name;
	snprintf(buf, size, "route %zu", n + 1);
	return buf;
}

int tg_alerts_step(const struct tg_alerts *cur, const struct tg_config *cfg,
		   const struct tg_eval_result *res, tg_time now,
		   struct tg_alerts **next, struct tg_alert_events *out)
{
	struct stepper s = { .cfg = cfg, .res = res, .now = now, .out = out };
	int rc = 0;

	*next = NULL;
	memset(out, 0, sizeof(*out));
	if ((s.next = tg_alerts_new()) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_indicators && rc == 0; i++) {
		const struct tg_indicator *ind = &cfg->indicators[i];

		if ((rc = fingerprint(ind, s.fp)) < 0)
			break;
		s.silenced = tg_silence_find(cfg, ind, tg_time_day(now)) != NULL;
		for (size_t k = 0; k < cfg->n_routes && rc == 0; k++) {
			char buf[32];

			if (tg_route_covers(&cfg->routes[k], ind))
				rc = step_one(&s, cur, i, &cfg->routes[k],
					      route_key(&cfg->routes[k], k, buf, sizeof(buf)));
		}
		if (rc == 0)
			rc = step_one(&s, cur, i, NULL, ADMINS_KEY);
	}
	if (rc < 0) {
		tg_alerts_free(s.next);
		tg_alert_events_free(out);
		return -ENOMEM;
	}
	if (s.next->n > 1)
		qsort(s.next->v, s.next->n, sizeof(*s.next->v), alert_cmp);
	*next = s.next;
	return 0;
}

/* ---- state.json ---- */

static const char *time_text(tg_time t, char *buf, size_t size)
{
	tg_day day = tg_time_day(t);
	int64_t sec = t - (int64_t)day * TG_DAY_SECONDS;
	int y, m, d;

	tg_day_to_ymd(day, &y, &m, &d);
	if (y < 1 || y > 9999)
		return NULL;
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, (int)(sec / 3600),
		 (int)(sec / 60 % 60), (int)(sec % 60));
	return buf;
}

/* A JSON number, or a string for what JSON cannot say. */
static json_t *value_json(double v)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

static int alert_json(const struct alert *a, json_t **out, struct tg_error *err)
{
	char since[32], last[32], period[16];
	json_t *told, *value = NULL;

	*out = NULL;
	if (time_text(a->since, since, sizeof(since)) == NULL ||
	    time_text(a->last_sent, last, sizeof(last)) == NULL)
		return tg_error_setc(err, -ERANGE, "alert of '%s' (route '%s'): a time beyond year 9999",
				     a->indicator, a->route);
	if ((told = json_array()) == NULL)
		goto oom;
	for (size_t i = 0; i < a->n_told; i++) {
		json_t *t = json_pack("{s:s, s:s?}", "channel", a->told[i].channel, "address",
				      a->told[i].address);

		if (t == NULL || json_array_append_new(told, t) < 0) {
			json_decref(told);
			goto oom;
		}
	}
	if (a->has_value && (value = value_json(a->value)) == NULL) {
		json_decref(told);
		goto oom;
	}
	/* "o" steals told and value, also when json_pack fails */
	*out = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:b, s:I, s:o, s:s, s:o?, s:s?, s:b}",
			 "indicator", a->indicator, "route", a->route, "active", a->active,
			 "status", tg_status_name(a->status), "since", since, "last_sent", last,
			 "escalated", a->escalated, "seq", (json_int_t)a->seq, "told", told,
			 "fingerprint", a->fingerprint != NULL ? a->fingerprint : "",
			 "value", value,
			 "period", a->has_value ? tg_day_iso(a->period, period, sizeof(period)) : NULL,
			 "silenced", a->silenced);
	if (*out != NULL)
		return 0;
oom:
	return tg_error_setc(err, -ENOMEM, "out of memory");
}

struct sbuf {
	char *p;
	size_t len, cap;
};

static int sbuf_put(struct sbuf *b, const char *s, size_t n)
{
	if (n > MAX_FILE || b->len + n > MAX_FILE)
		return -EFBIG;   /* it could not be read back */
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* One alert per line: readable, and grep finds an indicator's alerts. */
int tg_alerts_save(const struct tg_alerts *a, const char *path, struct tg_error *err)
{
	static const char head[] = "{\n  \"version\": " STR(STATE_VERSION) ",\n  \"alerts\": [", tail[] = "\n  ]\n}\n";
	struct sbuf b = { 0 };
	int rc = sbuf_put(&b, head, sizeof(head) - 1);

	for (size_t i = 0; rc == 0 && a != NULL && i < a->n; i++) {
		json_t *o;
		char *text;

		if ((rc = alert_json(&a->v[i], &o, err)) < 0) {
			tg_error_prefix(err, "%s", path);
			free(b.p);
			return rc;
		}
		text = json_dumps(o, JSON_REAL_PRECISION(17));
		json_decref(o);
		if (text == NULL) {
			rc = -ENOMEM;
			break;
		}
		rc = sbuf_put(&b, i > 0 ? ",\n    " : "\n    ", i > 0 ? 6 : 5);
		if (rc == 0)
			rc = sbuf_put(&b, text, strlen(text));
		free(text);
	}
	if (rc == 0)
		rc = sbuf_put(&b, tail, sizeof(tail) - 1);
	if (rc == -EFBIG)
		tg_error_setc(err, rc, "%s: the alert state would exceed %u bytes (%zu alerts): not "
			      "written", path, MAX_FILE, a != NULL ? a->n : 0);
	else if (rc < 0)
		tg_error_setc(err, rc, "%s: out of memory", path);
	else
		rc = tg_fs_write_atomic(path, b.p, b.len, 0640, err);
	free(b.p);
	return rc;
}

struct loader {
	const char *name;
	struct tg_error *err;
	size_t n;                     /* 1-based number of the alert being read */
};

static int bad(struct loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct loader *L, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (L->n == 0)
		return tg_error_setc(L->err, -EBADMSG, "%s: %s", L->name, msg);
	return tg_error_setc(L->err, -EBADMSG, "%s: alert %zu: %s", L->name, L->n, msg);
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "something else";
}

static const char *quote(const char *s, size_t len, char *buf, size_t size)
{
	return tg_error_quote_in(s, len, 40, "'\\", buf, size);
}

/* A string member: *out borrowed from the JSON, NULL when null is allowed
 * and given.  where prefixes the key in messages ("'told' entry 2: "). */
static int get_string_in(struct loader *L, const char *where, const json_t *o, const char *key,
			 bool nullable, bool nonempty, const char **out)
{
	const json_t *v = json_object_get(o, key);
	const char *s;
	size_t len;

	*out = NULL;
	if (v == NULL)
		return bad(L, "%s'%s' is missing", where, key);
	if (nullable && json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad(L, "%s'%s' must be a string%s, not %s", where, key,
			   nullable ? " or null" : "", type_name(v));
	s = json_string_value(v);
	len = json_string_length(v);
	if (len > MAX_STRING)
		return bad(L, "%s'%s' is too long (%zu bytes, at most %u)", where, key, len, MAX_STRING);
	if (memchr(s, '\0', len) != NULL)
		return bad(L, "%s'%s' contains a NUL byte", where, key);
	if (nonempty && len == 0)
		return bad(L, "%s'%s' is empty", where, key);
	*out = s;
	return 0;
}

static int get_string(struct loader *L, const json_t *o, const char *key, bool nullable,
		      bool nonempty, const char **out)
{
	return get_string_in(L, "", o, key, nullable, nonempty, out);
}

static int get_bool(struct loader *L, const json_t *o, const char *key, bool *out)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL)
		return bad(L, "'%s' is missing", key);
	if (!json_is_boolean(v))
		return bad(L, "'%s' must be true or false, not %s", key, type_name(v));
	*out = json_is_true(v);
	return 0;
}

static int get_time(struct loader *L, const json_t *o, const char *key, tg_time *out)
{
	struct tg_error e;
	const char *s;
	int rc;

	if ((rc = get_string(L, o, key, false, false, &s)) < 0)
		return rc;
	if (tg_time_parse(s, out, &e) < 0)
		return bad(L, "'%s': %s", key, e.msg);
	return 0;
}

static int get_value(struct loader *L, const json_t *o, struct alert *a)
{
	const json_t *v = json_object_get(o, "value");
	const char *s, *p;
	tg_time t;
	char q[200];
	struct tg_error e;
	int rc;

	if (v == NULL)
		return bad(L, "'value' is missing");
	if (json_is_number(v)) {
		a->has_value = true;
		a->value = json_number_value(v);
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		if (strcmp(s, "NaN") == 0)
			a->value = NAN;
		else if (strcmp(s, "Infinity") == 0)
			a->value = INFINITY;
		else if (strcmp(s, "-Infinity") == 0)
			a->value = -INFINITY;
		else
			return bad(L, "'value' must be a number, null, \"NaN\", \"Infinity\" or "
				   "\"-Infinity\", not '%s'",
				   quote(s, json_string_length(v), q, sizeof(q)));
		a->has_value = true;
	} else if (!json_is_null(v)) {
		return bad(L, "'value' must be a number or null, not %s", type_name(v));
	}
	if ((rc = get_string(L, o, "period", true, false, &p)) < 0)
		return rc;
	if ((p == NULL) != !a->has_value)
		return bad(L, "'value' and 'period' must both be null or both be set");
	if (p == NULL)
		return 0;
	if (strlen(p) != 10 || tg_time_parse(p, &t, &e) < 0)
		return bad(L, "'period' must be a date YYYY-MM-DD, not '%s'",
			   quote(p, strlen(p), q, sizeof(q)));
	a->period = tg_time_day(t);
	return 0;
}

static int get_told(struct loader *L, const json_t *o, struct alert *a)
{
	const json_t *v = json_object_get(o, "told");
	size_t n, k = 0;
	char q[200];
	int rc;

	if (v == NULL)
		return bad(L, "'told' is missing");
	if (!json_is_array(v))
		return bad(L, "'told' must be an array, not %s", type_name(v));
	if ((n = json_array_size(v)) > MAX_TOLD)
		return bad(L, "'told' has %zu entries, more than %u", n, MAX_TOLD);
	if (n == 0)
		return 0;
	if ((a->told = calloc(n, sizeof(*a->told))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *t = json_array_get(v, i);
		const char *ch, *addr;

		if (!json_is_object(t))
			return bad(L, "'told' entry %zu must be an object, not %s", i + 1, type_name(t));
		char where[40];

		snprintf(where, sizeof(where), "'told' entry %zu: ", i + 1);
		if ((rc = get_string_in(L, where, t, "channel", false, true, &ch)) < 0 ||
		    (rc = get_string_in(L, where, t, "address", true, false, &addr)) < 0)
			return rc;
		/* the address may go into an SMTP envelope: only a plain address */
		if (addr != NULL && !tg_config_email_valid(addr, false))
			return bad(L, "'told' entry %zu: '%s' is not an email address", i + 1,
				   quote(addr, strlen(addr), q, sizeof(q)));
		a->n_told++;
		if ((a->told[i].channel = strdup(ch)) == NULL ||
		    (addr != NULL && (a->told[i].address = strdup(addr)) == NULL))
			return -ENOMEM;
	}
	/* one entry per recipient, in a stable order */
	qsort(a->told, n, sizeof(*a->told), told_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && told_cmp(&a->told[k - 1], &a->told[i]) == 0) {
			free(a->told[i].channel);
			free(a->told[i].address);
			continue;
		}
		a->told[k++] = a->told[i];
	}
	a->n_told = k;
	return 0;
}

static int get_alert(struct loader *L, const json_t *o, struct alert *a)
{
	const char *s;
	const json_t *v;
	char q[200];
	int rc;

	if (!json_is_object(o))
		return bad(L, "must be an object, not %s", type_name(o));
	if ((rc = get_string(L, o, "indicator", false, true, &s)) < 0)
		return rc;
	if ((a->indicator = strdup(s)) == NULL)
		return -ENOMEM;
	if ((rc = get_string(L, o, "route", false, true, &s)) < 0)
		return rc;
	if ((a->route = strdup(s)) == NULL)
		return -ENOMEM;
	if ((rc = get_bool(L, o, "active", &a->active)) < 0 ||
	    (rc = get_bool(L, o, "escalated", &a->escalated)) < 0 ||
	    (rc = get_bool(L, o, "silenced", &a->silenced)) < 0)
		return rc;
	if ((rc = get_string(L, o, "status", false, false, &s)) < 0)
		return rc;
	if (tg_status_parse(s, &a->status) < 0)
		return bad(L, "'status': unknown status '%s' (ok, unknown, warning, late, critical, "
			   "error)", quote(s, strlen(s), q, sizeof(q)));
	if ((rc = get_time(L, o, "since", &a->since)) < 0 ||
	    (rc = get_time(L, o, "last_sent", &a->last_sent)) < 0)
		return rc;
	if ((v = json_object_get(o, "seq")) == NULL)
		return bad(L, "'seq' is missing");
	if (!json_is_integer(v))
		return bad(L, "'seq' must be an integer, not %s", type_name(v));
	if (json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t)MAX_SEQ)
		return bad(L, "'seq' is %" JSON_INTEGER_FORMAT ", out of range 0..%u",
			   json_integer_value(v), MAX_SEQ);
	a->seq = (uint32_t)json_integer_value(v);
	if ((rc = get_told(L, o, a)) < 0)
		return rc;
	if ((rc = get_string(L, o, "fingerprint", false, false, &s)) < 0)
		return rc;
	if ((a->fingerprint = strdup(s)) == NULL)
		return -ENOMEM;
	return get_value(L, o, a);
}

static int parse_state(struct loader *L, const char *data, size_t len, struct tg_alerts *st)
{
	json_error_t je;
	json_t *root;
	const json_t *v, *list;
	char q[300];
	size_t n;
	int rc = 0;

	if (len > MAX_FILE)
		return bad(L, "%zu bytes, more than a state file can have (%u)", len, MAX_FILE);
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		/* jansson leaves the text empty when it could not even start */
		if (json_error_code(&je) == json_error_out_of_memory || je.text[0] == '\0')
			return tg_error_setc(L->err, -ENOMEM, "%s: out of memory", L->name);
		return bad(L, "line %d: %s", je.line,
			   tg_error_quote(je.text, strnlen(je.text, sizeof(je.text)), 200, q, sizeof(q)));
	}
	if (!json_is_object(root)) {
		rc = bad(L, "must be a JSON object, not %s", type_name(root));
		goto out;
	}
	if ((v = json_object_get(root, "version")) == NULL) {
		rc = bad(L, "'version' is missing");
		goto out;
	}
	if (!json_is_integer(v) || json_integer_value(v) != STATE_VERSION) {
		if (json_is_integer(v))
			rc = bad(L, "version %" JSON_INTEGER_FORMAT " is not supported (this traguardo "
				 "reads version %d)", json_integer_value(v), STATE_VERSION);
		else
			rc = bad(L, "'version' must be an integer, not %s", type_name(v));
		goto out;
	}
	if ((list = json_object_get(root, "alerts")) == NULL || !json_is_array(list)) {
		rc = list == NULL ? bad(L, "'alerts' is missing")
				  : bad(L, "'alerts' must be an array, not %s", type_name(list));
		goto out;
	}
	if ((n = json_array_size(list)) > MAX_ALERTS) {
		rc = bad(L, "%zu alerts, more than %u", n, MAX_ALERTS);
		goto out;
	}
	if (n > 0 && (st->v = calloc(n, sizeof(*st->v))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	st->cap = n;
	for (size_t i = 0; i < n && rc == 0; i++) {
		L->n = i + 1;
		st->n++;
		rc = get_alert(L, json_array_get(list, i), &st->v[i]);
	}
	if (rc < 0)
		goto out;
	L->n = 0;
	if (n > 1)
		qsort(st->v, n, sizeof(*st->v), alert_cmp);
	for (size_t i = 1; i < n; i++)
		if (alert_cmp(&st->v[i - 1], &st->v[i]) == 0) {
			char q2[200];

			rc = bad(L, "two alerts for indicator '%s' and route '%s'",
				 quote(st->v[i].indicator, strlen(st->v[i].indicator), q, sizeof(q)),
				 quote(st->v[i].route, strlen(st->v[i].route), q2, sizeof(q2)));
			break;
		}
out:
	json_decref(root);
	if (rc == -ENOMEM)
		tg_error_setc(L->err, -ENOMEM, "%s: out of memory", L->name);
	return rc;
}

static void alerts_empty(struct tg_alerts *st)
{
	for (size_t i = 0; i < st->n; i++)
		alert_clear(&st->v[i]);
	free(st->v);
	memset(st, 0, sizeof(*st));
}

int tg_alerts_load_mem(const char *data, size_t len, const char *name,
		       struct tg_alerts **out, struct tg_error *err)
{
	struct loader L = { .name = name != NULL ? name : "state.json", .err = err };
	struct tg_alerts *st;
	int rc;

	*out = NULL;
	if ((st = tg_alerts_new()) == NULL)
		return tg_error_setc(err, -ENOMEM, "%s: out of memory", L.name);
	rc = parse_state(&L, data != NULL ? data : "", data != NULL ? len : 0, st);
	if (rc == -ENOMEM) {
		tg_alerts_free(st);
		return rc;
	}
	if (rc < 0)
		alerts_empty(st);   /* the caller moves the file aside and starts afresh */
	*out = st;
	return rc;
}

int tg_alerts_load(const char *path, struct tg_alerts **out, struct tg_error *err)
{
	struct stat sb;
	char *buf = NULL;
	size_t len = 0, cap;
	int fd, rc;

	*out = NULL;
	/* O_NONBLOCK: a FIFO planted there must not hang the daemon */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT) {
		if ((*out = tg_alerts_new()) == NULL)
			return tg_error_setc(err, -ENOMEM, "%s: out of memory", path);
		return 0;
	}
	if (fd < 0)
		return tg_error_setc(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) < 0) {
		rc = tg_error_setc(err, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = S_ISDIR(sb.st_mode) ? tg_error_setc(err, -EISDIR, "%s: is a directory", path)
					 : tg_error_setc(err, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	/* st_size is a hint: the file may grow while read; never past the limit */
	cap = sb.st_size > 0 && (uint64_t)sb.st_size <= MAX_FILE ? (size_t)sb.st_size + 1 : 4096;
	for (;;) {
		ssize_t r;

		if (len == cap) {
			char *nb;

			if (cap > MAX_FILE) {
				close(fd);
				free(buf);
				fd = -1;
				buf = NULL;
				if ((*out = tg_alerts_new()) == NULL)
					return tg_error_setc(err, -ENOMEM, "%s: out of memory", path);
				return tg_error_setc(err, -EBADMSG, "%s: more than %u bytes, more than a "
						     "state file can have", path, MAX_FILE);
			}
			cap = cap * 2 > MAX_FILE + 1 ? MAX_FILE + 1 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				rc = tg_error_setc(err, -ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		if (buf == NULL && (buf = malloc(cap)) == NULL) {
			rc = tg_error_setc(err, -ENOMEM, "%s: out of memory", path);
			goto out;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = tg_error_setc(err, -errno, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	rc = tg_alerts_load_mem(buf, len, path, out, err);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}
