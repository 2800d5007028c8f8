/*
 * route.c — routes, silences and digests (see route.h).
 */
#include "route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

bool tg_route_matches(const struct tg_route *r, const struct tg_indicator *ind,
		      enum tg_status status)
{
	return status != TG_STATUS_ERROR &&
	       tg_status_severity(status) >= tg_status_severity(r->min_status) &&
	       in_list(&r->departments, ind->department) && in_list(&r->processes, ind->process) &&
	       in_list(&r->indicators, ind->id);
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

static struct tg_digest *digest_get(struct tg_digests *d, size_t channel, const char *recipient)
{
	struct tg_digest *v;

	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].channel == channel &&
		    ((recipient == NULL && d->v[i].recipient == NULL) ||
		     (recipient != NULL && d->v[i].recipient != NULL &&
		      strcasecmp(recipient, d->v[i].recipient) == 0)))
			return &d->v[i];
	v = realloc(d->v, (d->n + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	d->v = v;
	v = &d->v[d->n];
	memset(v, 0, sizeof(*v));
	v->channel = channel;
	if (recipient != NULL && (v->recipient = strdup(recipient)) == NULL)
		return NULL;
	d->n++;
	return v;
}

static int digest_add(struct tg_digests *d, size_t channel, const char *recipient, size_t ind)
{
	struct tg_digest *g = digest_get(d, channel, recipient);
	size_t *v;

	if (g == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < g->n; i++)
		if (g->indicators[i] == ind)
			return 0;
	v = realloc(g->indicators, (g->n + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	g->indicators = v;
	g->indicators[g->n++] = ind;
	return 0;
}

struct order_ctx {
	const struct tg_config *cfg;
	const struct tg_eval_result *res;
};

static int order_cmp_r(const void *pa, const void *pb, void *arg)
{
	const struct order_ctx *o = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c = strcmp(o->cfg->indicators[a].department, o->cfg->indicators[b].department);

	if (c != 0)
		return c;
	c = tg_status_severity(o->res[b].status) - tg_status_severity(o->res[a].status);
	return c != 0 ? c : strcmp(o->cfg->indicators[a].id, o->cfg->indicators[b].id);
}

static int plan_route(const struct tg_config *cfg, const struct tg_route *r, size_t ind,
		      struct tg_digests *out)
{
	const struct tg_indicator *in = &cfg->indicators[ind];
	int rc;

	for (size_t c = 0; c < r->channels.n; c++) {
		ssize_t ch = tg_config_channel_index(cfg, r->channels.v[c]);

		if (ch < 0)
			continue;
		if (cfg->channels[ch].type != TG_CHANNEL_EMAIL) {
			if ((rc = digest_add(out, (size_t)ch, NULL, ind)) < 0)
				return rc;
			continue;
		}
		for (size_t t = 0; t < r->to.n; t++) {
			const char *to = r->to.v[t];

			if (strcmp(to, "@owner") == 0)
				to = in->owner;
			if (to != NULL && (rc = digest_add(out, (size_t)ch, to, ind)) < 0)
				return rc;
		}
	}
	return 0;
}

int tg_route_plan(const struct tg_config *cfg, const struct tg_eval_result *res, tg_day today,
		  struct tg_digests *out)
{
	ssize_t admin_channel = -1;
	int rc;

	memset(out, 0, sizeof(*out));
	for (size_t c = 0; c < cfg->n_channels && admin_channel < 0; c++)
		if (cfg->channels[c].type == TG_CHANNEL_EMAIL)
			admin_channel = (ssize_t)c;
	for (size_t i = 0; i < cfg->n_indicators; i++) {
		const struct tg_indicator *ind = &cfg->indicators[i];

		if (tg_silence_find(cfg, ind, today) != NULL)
			continue;
		if (res[i].status == TG_STATUS_ERROR) {
			for (size_t a = 0; admin_channel >= 0 && a < cfg->daemon.admins.n; a++)
				if ((rc = digest_add(out, (size_t)admin_channel, cfg->daemon.admins.v[a], i)) < 0)
					goto fail;
			continue;
		}
		for (size_t r = 0; r < cfg->n_routes; r++)
			if (tg_route_matches(&cfg->routes[r], ind, res[i].status) &&
			    (rc = plan_route(cfg, &cfg->routes[r], i, out)) < 0)
				goto fail;
	}
	for (size_t d = 0; d < out->n; d++) {
		struct order_ctx o = { cfg, res };

		qsort_r(out->v[d].indicators, out->v[d].n, sizeof(size_t), order_cmp_r, &o);
	}
	return 0;
fail:
	tg_digests_free(out);
	return rc;
}

void tg_digests_free(struct tg_digests *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].recipient);
		free(d->v[i].indicators);
	}
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

/* Cuts buf (NUL-terminated, possibly cut by snprintf in the middle of a
 * character) back to the last whole UTF-8 character. */
static void utf8_trim(char *buf)
{
	size_t len = strlen(buf), k = len;

	while (k > 0 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
		k--;
	if (k > 0 && (unsigned char)buf[k - 1] >= 0xC0) {
		unsigned char c = (unsigned char)buf[k - 1];
		size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;

		if (len - (k - 1) < need)
			buf[k - 1] = '\0';
	}
}

const char *tg_digest_subject(const struct tg_config *cfg, const struct tg_eval_result *res,
			      const struct tg_digest *d, char *buf, size_t size)
{
	bool en = strcmp(cfg->daemon.language, "en") == 0;
	size_t problems = 0, errors = 0, depts = 0, len;
	const char *first = NULL, *second = NULL;

	if (size == 0)
		return buf;
	for (size_t i = 0; i < d->n; i++) {
		const char *dep = cfg->indicators[d->indicators[i]].department;

		if (res[d->indicators[i]].status != TG_STATUS_OK)
			problems++;
		if (res[d->indicators[i]].status == TG_STATUS_ERROR)
			errors++;
		/* indicators are sorted by department: a change is a new one */
		if (i == 0 || strcmp(dep, cfg->indicators[d->indicators[i - 1]].department) != 0) {
			depts++;
			if (first == NULL)
				first = dep;
			else if (second == NULL)
				second = dep;
		}
	}
	if (problems > 0 && errors == problems)
		/* what the administrators get: no objective was missed, data is */
		len = (size_t)snprintf(buf, size, en ? "[traguardo] %zu indicator%s without data: source failing"
						     : "[traguardo] %zu indicator%s senza dati: fonte in errore",
				       errors, en ? (errors == 1 ? "" : "s") : (errors == 1 ? "e" : "i"));
	else if (problems == 0)
		/* a route with min_status = "ok" */
		len = (size_t)snprintf(buf, size, en ? "[traguardo] %zu indicator%s on target"
						     : "[traguardo] %zu indicator%s in obiettivo",
				       d->n, en ? (d->n == 1 ? "" : "s") : (d->n == 1 ? "e" : "i"));
	else if (en)
		len = (size_t)snprintf(buf, size, "[traguardo] %zu indicator%s off target", problems,
				       problems == 1 ? "" : "s");
	else
		len = (size_t)snprintf(buf, size, "[traguardo] %zu indicator%s fuori obiettivo", problems,
				       problems == 1 ? "e" : "i");
	if (len < size) {
		if (depts == 1)
			snprintf(buf + len, size - len, " — %s", first);
		else if (depts == 2)
			snprintf(buf + len, size - len, " — %s, %s", first, second);
		else if (depts > 2)
			snprintf(buf + len, size - len, en ? " — %zu departments" : " — %zu settori", depts);
	}
	/* a long department name cut by size must not leave half a character
	 * (an e-mail subject is encoded from this text) */
	utf8_trim(buf);
	return buf;
}
