/*
 * route.c — routes, silences, and the plan of a cycle's messages (see
 * route.h).
 *
 * Whom an event goes to is decided by the alert state machine (alert.c);
 * this module only answers which routes cover an indicator, whether it is
 * silenced, and turns the cycle's (event, recipient) pairs into messages: one
 * per recipient, except that recipients of one email channel who would get
 * exactly the same events share one message (one SMTP transaction), so an
 * office of five does not get five copies in five transactions.
 *
 * Plan id: the first 32 hex digits of SHA-256 over
 *   channel name \0 (event id \0)... \0 (lower-cased address \0)...
 * with the event ids and the addresses sorted (strcmp), so the id does not
 * depend on the order of the events or of the route's addresses: the outbox
 * recognises the same message spooled twice.
 */
#include "route.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

static bool in_list(const struct tg_strings *l, const char *s)
{
	if (l->n == 0)
		return true;
	if (s == NULL)
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

bool tg_route_covers(const struct tg_route *r, const struct tg_indicator *ind)
{
	return in_list(&r->departments, ind->department) && in_list(&r->processes, ind->process) &&
	       in_list(&r->indicators, ind->id);
}

bool tg_route_matches(const struct tg_route *r, const struct tg_indicator *ind,
		      enum tg_status status)
{
	return status != TG_STATUS_ERROR &&
	       tg_status_severity(status) >= tg_status_severity(r->min_status) &&
	       tg_route_covers(r, ind);
}

const struct tg_silence *tg_silence_find(const struct tg_config *cfg,
					 const struct tg_indicator *ind, tg_day day)
{
	for (size_t i = 0; i < cfg->n_silences; i++) {
		const struct tg_silence *s = &cfg->silences[i];

		if (day >= s->from && day <= s->until && in_list(&s->departments, ind->department) &&
		    in_list(&s->processes, ind->process) && in_list(&s->indicators, ind->id))
			return s;
	}
	return NULL;
}

/* ---- plans ---- */

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* strcasecmp follows the locale; addresses are compared in ASCII. */
static int ascii_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = ascii_lower((unsigned char)*a), y = ascii_lower((unsigned char)*b);

		if (x != y || x == 0)
			return x - y;
	}
}

/* One (recipient, event) pair of the cycle. */
struct pair {
	size_t channel;
	const char *address;          /* borrowed from the event; NULL: webhook */
	size_t event;
};

struct sorter {
	const struct tg_config *cfg;
	const struct tg_alert_events *ev;
};

/* The order of a message: department, worst first, indicator id, route key. */
static int event_order(const struct sorter *s, size_t a, size_t b)
{
	const struct tg_alert_event *x = &s->ev->v[a], *y = &s->ev->v[b];
	const struct tg_indicator *ix = &s->cfg->indicators[x->indicator];
	const struct tg_indicator *iy = &s->cfg->indicators[y->indicator];
	int c = strcmp(ix->department, iy->department);

	if (c != 0)
		return c;
	c = tg_status_severity(y->status) - tg_status_severity(x->status);
	if (c != 0)
		return c;
	if ((c = strcmp(ix->id, iy->id)) != 0)
		return c;
	if ((c = strcmp(x->route != NULL ? x->route : "", y->route != NULL ? y->route : "")) != 0)
		return c;
	return (a > b) - (a < b);
}

static int address_cmp(const char *a, const char *b)
{
	int c;

	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	c = ascii_casecmp(a, b);
	return c != 0 ? c : strcmp(a, b);
}

static int pair_cmp_r(const void *pa, const void *pb, void *arg)
{
	const struct pair *a = pa, *b = pb;
	int c;

	if (a->channel != b->channel)
		return a->channel < b->channel ? -1 : 1;
	/* one recipient whatever the case of the address */
	if (a->address == NULL || b->address == NULL)
		c = (a->address != NULL) - (b->address != NULL);
	else
		c = ascii_casecmp(a->address, b->address);
	return c != 0 ? c : event_order(arg, a->event, b->event);
}

static bool same_recipient(size_t channel, const char *address, const struct pair *p)
{
	if (channel != p->channel)
		return false;
	if (address == NULL || p->address == NULL)
		return address == p->address;
	return ascii_casecmp(address, p->address) == 0;
}

/* A recipient and its events (a run of pairs). */
struct rcpt {
	size_t channel;
	const char *address;
	const size_t *events;         /* borrowed from the flat array */
	size_t n_events;
	size_t plan;                  /* index of its plan */
};

static int rcpt_cmp(const void *pa, const void *pb)
{
	const struct rcpt *a = pa, *b = pb;

	if (a->channel != b->channel)
		return a->channel < b->channel ? -1 : 1;
	if (a->n_events != b->n_events)
		return a->n_events < b->n_events ? -1 : 1;
	for (size_t i = 0; i < a->n_events; i++)
		if (a->events[i] != b->events[i])
			return a->events[i] < b->events[i] ? -1 : 1;
	return address_cmp(a->address, b->address);
}

static int str_cmp(const void *pa, const void *pb)
{
	return strcmp(*(char *const *)pa, *(char *const *)pb);
}

static int addr_cmp(const void *pa, const void *pb)
{
	return address_cmp(*(char *const *)pa, *(char *const *)pb);
}

static int plan_id(const struct tg_config *cfg, const struct tg_alert_events *ev,
		   struct tg_plan *p)
{
	static const char hex[] = "0123456789abcdef";
	const char **ids = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *name = cfg->channels[p->channel].name;
	int ok = 0;

	if (p->n_events > 0 && (ids = malloc(p->n_events * sizeof(*ids))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_events; i++)
		ids[i] = ev->v[p->events[i]].id;
	if (p->n_events > 1)
		qsort(ids, p->n_events, sizeof(*ids), str_cmp);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, name, strlen(name) + 1);
	for (size_t i = 0; ok && i < p->n_events; i++)
		ok = EVP_DigestUpdate(ctx, ids[i], strnlen(ids[i], TG_ALERT_ID_SIZE - 1) + 1);
	ok = ok && EVP_DigestUpdate(ctx, "", 1);
	/* p->to is sorted case-insensitively first, so lower-cased it is sorted
	 * too (ties were merged: one address per recipient) */
	for (size_t i = 0; ok && i < p->n_to; i++) {
		char buf[256];
		const char *a = p->to[i];
		size_t len = strlen(a);

		for (size_t k = 0; ok && k < len; k += sizeof(buf)) {
			size_t n = len - k < sizeof(buf) ? len - k : sizeof(buf);

			for (size_t j = 0; j < n; j++)
				buf[j] = (char)ascii_lower((unsigned char)a[k + j]);
			ok = EVP_DigestUpdate(ctx, buf, n);
		}
		ok = ok && EVP_DigestUpdate(ctx, "", 1);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen >= 16;
	if (ok) {
		for (size_t i = 0; i < 16; i++) {
			p->id[2 * i] = hex[md[i] >> 4];
			p->id[2 * i + 1] = hex[md[i] & 15];
		}
		p->id[32] = '\0';
	}
out:
	EVP_MD_CTX_free(ctx);
	free(ids);
	if (!ok)
		ERR_clear_error();   /* stale errors would mislead the next TLS user */
	return ok ? 0 : -ENOMEM;
}

static int plan_cmp(const void *pa, const void *pb)
{
	const struct tg_plan *a = pa, *b = pb;

	if (a->channel != b->channel)
		return a->channel < b->channel ? -1 : 1;
	return address_cmp(a->n_to > 0 ? a->to[0] : NULL, b->n_to > 0 ? b->to[0] : NULL);
}

void tg_plans_free(struct tg_plans *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		for (size_t k = 0; p->v[i].to != NULL && k < p->v[i].n_to; k++)
			free(p->v[i].to[k]);
		free(p->v[i].to);
		free(p->v[i].events);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

int tg_route_plan(const struct tg_config *cfg, const struct tg_alert_events *ev,
		  struct tg_plans *out)
{
	struct sorter so = { cfg, ev };
	struct pair *pairs = NULL;
	struct rcpt *rc = NULL;
	size_t *flat = NULL, n_pairs = 0, n_rc = 0, n_plans = 0, total = 0;
	int r = -ENOMEM;

	memset(out, 0, sizeof(*out));
	for (size_t e = 0; e < ev->n; e++) {
		if (ev->v[e].indicator >= cfg->n_indicators)
			continue;
		if (ev->v[e].n_to > SIZE_MAX / sizeof(*pairs) - total)
			return -ENOMEM;
		total += ev->v[e].n_to;
	}
	if (total == 0)
		return 0;
	if ((pairs = malloc(total * sizeof(*pairs))) == NULL)
		return -ENOMEM;
	for (size_t e = 0; e < ev->n; e++) {
		if (ev->v[e].indicator >= cfg->n_indicators)
			continue;   /* not from this configuration */
		for (size_t t = 0; t < ev->v[e].n_to; t++) {
			size_t ch = ev->v[e].to[t].channel;
			const char *a = ev->v[e].to[t].address;

			if (ch >= cfg->n_channels)
				continue;
			if (cfg->channels[ch].type != TG_CHANNEL_EMAIL)
				a = NULL;
			else if (a == NULL)
				continue;
			pairs[n_pairs++] = (struct pair){ ch, a, e };
		}
	}
	if (n_pairs == 0) {
		free(pairs);
		return 0;
	}
	qsort_r(pairs, n_pairs, sizeof(*pairs), pair_cmp_r, &so);

	/* runs of one recipient; an event twice for one recipient counts once */
	if ((flat = malloc(n_pairs * sizeof(*flat))) == NULL ||
	    (rc = calloc(n_pairs, sizeof(*rc))) == NULL)
		goto out;
	for (size_t i = 0, k = 0; i < n_pairs; i++) {
		struct rcpt *c = n_rc > 0 ? &rc[n_rc - 1] : NULL;

		if (c == NULL || !same_recipient(c->channel, c->address, &pairs[i])) {
			c = &rc[n_rc++];
			*c = (struct rcpt){ pairs[i].channel, pairs[i].address, &flat[k], 0, 0 };
		}
		if (c->n_events > 0 && c->events[c->n_events - 1] == pairs[i].event)
			continue;
		flat[k++] = pairs[i].event;
		c->n_events++;
	}

	/* recipients of one email channel with the same events: one message */
	qsort(rc, n_rc, sizeof(*rc), rcpt_cmp);
	for (size_t i = 0; i < n_rc; i++) {
		bool merge = i > 0 && rc[i].address != NULL && rc[i - 1].address != NULL &&
			     rc[i].channel == rc[i - 1].channel &&
			     rc[i].n_events == rc[i - 1].n_events &&
			     memcmp(rc[i].events, rc[i - 1].events,
				    rc[i].n_events * sizeof(size_t)) == 0;

		rc[i].plan = merge ? rc[i - 1].plan : n_plans++;
	}
	if ((out->v = calloc(n_plans, sizeof(*out->v))) == NULL)
		goto out;
	out->n = n_plans;
	for (size_t i = 0; i < n_rc; i++) {
		struct tg_plan *p = &out->v[rc[i].plan];

		if (rc[i].address != NULL)
			p->n_to++;   /* counted here, filled below */
		if (p->events != NULL)
			continue;
		p->channel = rc[i].channel;
		if ((p->events = malloc(rc[i].n_events * sizeof(size_t))) == NULL)
			goto out;
		memcpy(p->events, rc[i].events, rc[i].n_events * sizeof(size_t));
		p->n_events = rc[i].n_events;
	}
	for (size_t i = 0; i < n_plans; i++) {
		size_t n = out->v[i].n_to;

		out->v[i].n_to = 0;
		if (n > 0 && (out->v[i].to = calloc(n, sizeof(char *))) == NULL)
			goto out;
	}
	for (size_t i = 0; i < n_rc; i++) {
		struct tg_plan *p = &out->v[rc[i].plan];

		if (rc[i].address == NULL)
			continue;
		if ((p->to[p->n_to] = strdup(rc[i].address)) == NULL)
			goto out;
		p->n_to++;
	}
	for (size_t i = 0; i < out->n; i++) {
		struct tg_plan *p = &out->v[i];

		if (p->n_to > 1)
			qsort(p->to, p->n_to, sizeof(*p->to), addr_cmp);
		if (plan_id(cfg, ev, p) < 0)
			goto out;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), plan_cmp);
	r = 0;
out:
	free(pairs);
	free(flat);
	free(rc);
	if (r < 0)
		tg_plans_free(out);
	return r;
}
