/*
 * source_http.c — HTTP feeds (see source_http.h).
 *
 * A run is a small state machine on the event loop: attempt -> (retry timer
 * -> attempt)* -> parse -> done.  The body is held in memory only for the
 * duration of the completion callback (bounded by max_size); parsing is the
 * same code as for files (lib/source_csv) or the JSON mapping
 * (lib/json_feed).
 */
#include "source_http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "fsutil.h"
#include "json_feed.h"
#include "log.h"
#include "secret.h"
#include "source_csv.h"

#define RETRY_AFTER_MAX 60      /* seconds a 429 may ask us to wait within a run */
#define RETRY_DELAY_MAX_MS 60000 /* backoff cap: retries = 10 must not hold a run for 25 min */
#define SHA256_HEX 65
#define LOW_SPEED_BYTES 1024    /* bytes/s */

/* ------------------------------------------------------------------ cache */

struct tg_source_http_cache {
	char *path;                 /* NULL: never written (dry run) */
	json_t *root;               /* { "NAME": { url, fingerprint, etag, last_modified, sha256 } } */
	bool dirty;                 /* changed since loaded or saved */
};

struct tg_source_http_cache *tg_source_http_cache_load(const char *state_dir, bool writable)
{
	struct tg_source_http_cache *c = calloc(1, sizeof(*c));
	json_error_t jerr;
	char path[4096];

	if (c == NULL)
		return NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/http-cache.json", state_dir) >= sizeof(path)) {
		/* a cut path could name another file: work without a cache */
		tg_log(LOG_WARNING, "%s: path too long; the HTTP cache is not used", state_dir);
		writable = false;
		path[0] = '\0';
	}
	if (writable && (c->path = strdup(path)) == NULL) {
		free(c);
		return NULL;
	}
	c->root = path[0] != '\0' ? json_load_file(path, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (c->root == NULL || !json_is_object(c->root)) {
		if (path[0] != '\0' && (c->root != NULL || access(path, F_OK) == 0))
			tg_log(LOG_WARNING, "%s: damaged (%s); starting with an empty cache, every feed is fetched in full",
			       path, c->root != NULL ? "not an object" : jerr.text);
		json_decref(c->root);
		c->root = json_object();
	}
	if (c->root == NULL) {
		tg_source_http_cache_free(c);
		return NULL;
	}
	return c;
}

void tg_source_http_cache_free(struct tg_source_http_cache *c)
{
	if (c == NULL)
		return;
	json_decref(c->root);
	free(c->path);
	free(c);
}

int tg_source_http_cache_save(struct tg_source_http_cache *c, struct tg_error *err)
{
	char *text;
	int rc;

	if (c == NULL || !c->dirty || c->path == NULL)
		return 0;
	text = json_dumps(c->root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (text == NULL)
		return tg_error_setc(err, -ENOMEM, "%s: out of memory", c->path);
	rc = tg_fs_write_atomic(c->path, text, strlen(text), 0640, err);
	free(text);
	if (rc == 0)
		c->dirty = false;
	return rc;
}

/* A validator fit to be sent back: what http.c accepts in a header, bounded.
 * The file may have been damaged or edited: a bad one means a full fetch,
 * not a source that fails at every run. */
static bool validator_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++, n++)
		if (n >= 1024 || ((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

/* A field of a source's entry, only if the entry was written for the same
 * fingerprint (URL and everything that decides what the body yields). */
static const char *cache_get(const struct tg_source_http_cache *c, const struct tg_source *src,
			     const char *fingerprint, const char *key)
{
	json_t *e = json_object_get(c->root, src->name);
	const char *fp = json_string_value(json_object_get(e, "fingerprint"));

	if (fp == NULL || fingerprint[0] == '\0' || strcmp(fp, fingerprint) != 0)
		return NULL;
	return json_string_value(json_object_get(e, key));
}

static const char *cache_validator(const struct tg_source_http_cache *c, const struct tg_source *src,
				   const char *fingerprint, const char *key)
{
	const char *v = cache_get(c, src, fingerprint, key);

	return validator_ok(v) ? v : NULL;
}

/* In memory only: tg_source_http_cache_save writes it, once the engine has
 * committed the values to the journal. */
static void cache_put(struct tg_source_http_cache *c, const struct tg_source *src, const char *rurl,
		      const char *fingerprint, const char *etag, const char *last_modified,
		      const char *sha256)
{
	/* the URL only as people may see it: a token in its query stays out of
	 * the state directory; the fingerprint is what is compared */
	json_t *e = json_pack("{s:s, s:s, s:s?, s:s?, s:s}", "url", rurl, "fingerprint", fingerprint,
			      "etag", etag, "last_modified", last_modified, "sha256", sha256);

	if (e == NULL || json_object_set_new(c->root, src->name, e) < 0) {
		tg_log(LOG_WARNING, "http cache: out of memory");
		return;
	}
	c->dirty = true;
}

/* After a body that failed half-way: the store may now hold some of its
 * values, so neither a 304 nor the last good body's hash may vouch for it. */
static void cache_forget(struct tg_source_http_cache *c, const struct tg_source *src)
{
	if (json_object_del(c->root, src->name) == 0)
		c->dirty = true;
}

/* SHA-256 of everything that decides which measurements a body yields: the
 * URL and request headers, the format and its settings, and the indicators
 * (ids, periods, source bindings).  After a change to any of them a 304 or
 * an identical body must not stand for "nothing new": an indicator just
 * added may be in the feed already. */
static void fp_str(EVP_MD_CTX *m, const char *s)
{
	uint64_t n = s != NULL ? strlen(s) + 1 : 0;   /* NULL and "" differ */

	EVP_DigestUpdate(m, &n, sizeof(n));
	if (s != NULL)
		EVP_DigestUpdate(m, s, n - 1);
}

static void fp_int(EVP_MD_CTX *m, int64_t v)
{
	EVP_DigestUpdate(m, &v, sizeof(v));
}

static void hex(const unsigned char *md, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * n] = '\0';
}

static void fingerprint(const struct tg_config *cfg, const struct tg_source *src, char out[SHA256_HEX])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (m == NULL || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1)
		goto out;
	fp_str(m, "traguardo-http-1");
	fp_str(m, src->url);
	fp_int(m, (int64_t)src->headers.n);
	for (size_t i = 0; i < src->headers.n; i++)
		fp_str(m, src->headers.v[i]);
	fp_int(m, src->format);
	fp_int(m, src->layout);
	fp_int(m, (unsigned char)src->dialect.separator);
	fp_int(m, src->dialect.encoding);
	fp_int(m, (unsigned char)src->dialect.number.decimal);
	fp_int(m, (unsigned char)src->dialect.number.thousands);
	fp_str(m, src->dialect.date_format);
	fp_int(m, (int64_t)src->dialect.missing.n);
	for (size_t i = 0; i < src->dialect.missing.n; i++)
		fp_str(m, src->dialect.missing.v[i]);
	fp_str(m, src->col_indicator);
	fp_str(m, src->col_period);
	fp_str(m, src->col_value);
	fp_str(m, src->json_records);
	fp_str(m, src->json_indicator);
	fp_str(m, src->json_period);
	fp_str(m, src->json_value);
	fp_int(m, (int64_t)cfg->n_indicators);
	for (size_t i = 0; i < cfg->n_indicators; i++) {
		fp_str(m, cfg->indicators[i].id);
		fp_int(m, cfg->indicators[i].period);
		fp_str(m, cfg->indicators[i].source);
	}
	if (EVP_DigestFinal_ex(m, md, &mdlen) == 1 && mdlen == sizeof(md))
		hex(md, sizeof(md), out);
out:
	EVP_MD_CTX_free(m);
}

/* -------------------------------------------------------------------- run */

struct tg_source_http_run {
	struct tg_source_http_params p;
	struct tg_http_transfer *transfer;
	sd_event_source *retry;
	int attempt;                /* 0 = the first */
	bool conditional;           /* validators were sent */
	uint64_t rng;
	char *token, *password;     /* secrets (SECRET_MAX + 1 bytes), wiped when freed */
	char name[512];             /* the redacted URL, for messages */
	char fingerprint[SHA256_HEX]; /* of the settings the cache entry must match */
};

/* Every secret buffer is SECRET_MAX + 1 bytes: all of it is wiped, whatever
 * it holds (a failed read leaves no terminator, a refused one may hold a NUL
 * before the rest of the secret). */
static void run_free(struct tg_source_http_run *r)
{
	tg_http_cancel(r->transfer);
	sd_event_source_disable_unref(r->retry);
	tg_secret_free(r->token);
	tg_secret_free(r->password);
	free(r);
}

static void finish(struct tg_source_http_run *r, int rc, bool not_modified, const struct tg_error *err)
{
	struct tg_source_http_params p = r->p;

	r->transfer = NULL;      /* it has completed: nothing to cancel */
	run_free(r);
	p.done(p.ctx, rc, not_modified, err);
}

static void fail(struct tg_source_http_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct tg_source_http_run *r, const char *fmt, ...)
{
	struct tg_error err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
	va_end(ap);
	finish(r, -EIO, false, &err);
}

static int start_attempt(struct tg_source_http_run *r, struct tg_error *err);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct tg_source_http_run *r = userdata;
	struct tg_error err;

	(void)s;
	(void)usec;
	r->retry = sd_event_source_disable_unref(r->retry);
	if (start_attempt(r, &err) < 0)
		finish(r, -EIO, false, &err);
	return 0;
}

/* xorshift64*: jitter only, no secrecy needed. */
static double jitter(struct tg_source_http_run *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return 0.5 + (double)((r->rng * 2685821657736338717ULL) >> 11) / (double)(1ULL << 53);
}

/* Schedules another attempt, or fails the run when there is none left. */
static void retry_or_fail(struct tg_source_http_run *r, int64_t retry_after, const char *why)
{
	uint64_t now, delay_ms;
	int rc;

	if (r->attempt >= r->p.src->retries) {
		fail(r, "%s: %s (%d attempt%s)", r->name, why, r->attempt + 1, r->attempt ? "s" : "");
		return;
	}
	if (retry_after > RETRY_AFTER_MAX) {
		fail(r, "%s: %s; Retry-After is %lld s: trying again at the next run", r->name, why,
		     (long long)retry_after);
		return;
	}
	delay_ms = (uint64_t)(1000.0 * (double)(1u << (r->attempt < 10 ? r->attempt : 10)) * jitter(r));
	if (delay_ms > RETRY_DELAY_MAX_MS)
		delay_ms = RETRY_DELAY_MAX_MS;
	if (retry_after >= 0 && (uint64_t)retry_after * 1000 > delay_ms)
		delay_ms = (uint64_t)retry_after * 1000;
	tg_logf(LOG_INFO, "SOURCE", r->p.src->name, "source '%s': %s; retrying in %.1f s",
		r->p.src->name, why, (double)delay_ms / 1000.0);
	r->attempt++;
	sd_event_now(r->p.event, CLOCK_MONOTONIC, &now);
	rc = sd_event_add_time(r->p.event, &r->retry, CLOCK_MONOTONIC, now + delay_ms * 1000, 0,
			       on_retry, r);
	if (rc < 0)
		fail(r, "%s: %s; cannot schedule a retry: %s", r->name, why, strerror(-rc));
}

static void sha256_hex(const char *data, size_t len, char out[SHA256_HEX])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		out[0] = '\0';
		return;
	}
	hex(md, sizeof(md), out);
}

static void parse_body(struct tg_source_http_run *r, const struct tg_http_response *resp)
{
	const struct tg_source *src = r->p.src;
	char sha[SHA256_HEX];
	struct tg_error err;
	int rc;

	sha256_hex(resp->body, resp->len, sha);
	if (r->p.have_data && sha[0] != '\0') {
		const char *old = cache_get(r->p.cache, src, r->fingerprint, "sha256");

		if (old != NULL && strcmp(old, sha) == 0) {
			/* same bytes, read with the same settings, as last time: the
			 * store has them already */
			cache_put(r->p.cache, src, r->name, r->fingerprint, resp->etag,
				  resp->last_modified, sha);
			finish(r, 0, true, NULL);
			return;
		}
	}
	if (src->format == TG_FORMAT_JSON)
		rc = tg_json_feed_parse(resp->body, resp->len, r->name, src, r->p.sink, r->p.stats, &err);
	else
		rc = tg_source_csv_parse_mem(src, resp->body, resp->len, r->name, r->p.sink,
					     r->p.stats, &err);
	if (rc < 0) {
		cache_forget(r->p.cache, src);
		finish(r, rc, false, &err);
		return;
	}
	/* validators only for a body read to the end: after a failure the next
	 * run must fetch and read it again */
	if (sha[0] != '\0')
		cache_put(r->p.cache, src, r->name, r->fingerprint, resp->etag, resp->last_modified, sha);
	finish(r, 0, false, NULL);
}

static void on_response(void *ctx, const struct tg_http_response *resp)
{
	struct tg_source_http_run *r = ctx;
	const struct tg_source *src = r->p.src;
	char why[TG_ERROR_MAX];

	r->transfer = NULL;
	if (resp->result < 0) {
		if (resp->too_large) {
			fail(r, "%s: response larger than the limit of %lld bytes (max_size): aborted",
			     r->name, (long long)src->max_size);
			return;
		}
		snprintf(why, sizeof(why), "%s", resp->error != NULL ? resp->error : "no response");
		/* a certificate, a refused redirect or a redirect loop will be the
		 * same in a second: only the network and the server deserve a retry */
		if (resp->result == -EPROTO || resp->result == -EPROTONOSUPPORT ||
		    resp->result == -ELOOP) {
			fail(r, "%s (not retried)", why);
			return;
		}
		retry_or_fail(r, -1, why);
		return;
	}
	if (resp->status == 304) {
		if (r->conditional) {
			finish(r, 0, true, NULL);
			return;
		}
		fail(r, "%s: HTTP 304 Not Modified to a request that was not conditional", r->name);
		return;
	}
	if (resp->status >= 200 && resp->status < 300) {
		parse_body(r, resp);
		return;
	}
	if (resp->status == 429 || resp->status >= 500) {
		snprintf(why, sizeof(why), "HTTP %ld%s", resp->status,
			 resp->status == 429 ? " Too Many Requests" : " from the server");
		retry_or_fail(r, resp->status == 429 ? resp->retry_after : -1, why);
		return;
	}
	if (resp->status == 401 || resp->status == 403) {
		const char *file = src->bearer_token_file != NULL ? src->bearer_token_file : src->password_file;
		char q[96];

		if (file != NULL)
			fail(r, "%s: HTTP %ld %s: check the credentials file '%s' (%s; not retried)",
			     r->name, resp->status, resp->status == 401 ? "Unauthorized" : "Forbidden",
			     tg_error_quote(file, strlen(file), 64, q, sizeof(q)),
			     src->bearer_token_file != NULL ? "bearer_token_file" : "password_file");
		else
			fail(r, "%s: HTTP %ld %s: check the credentials file: none is configured "
			     "(bearer_token_file, or username with password_file; not retried)",
			     r->name, resp->status, resp->status == 401 ? "Unauthorized" : "Forbidden");
		return;
	}
	if (resp->status >= 300 && resp->status <= 399 && src->headers.n > 0) {
		fail(r, "%s: HTTP %ld: a redirect to %s, not followed: a feed with 'headers' "
		     "follows no redirect, so that its headers go to no other server; set 'url' "
		     "to the address it leads to (not retried)", r->name, resp->status,
		     resp->redirect_url != NULL ? resp->redirect_url : "an address not given");
		return;
	}
	fail(r, "%s: HTTP %ld: %s (not retried)", r->name, resp->status,
	     resp->status == 404 ? "not found, check the url" : "the server refused the request");
}

static int start_attempt(struct tg_source_http_run *r, struct tg_error *err)
{
	const struct tg_source *src = r->p.src;
	struct tg_http_request req = {
		.url = src->url,
		.headers = (const char *const *)src->headers.v,
		.n_headers = src->headers.n,
		.ca_file = src->ca_file,
		.proxy = src->proxy,
		.bearer_token = r->token,
		.username = r->password != NULL ? src->username : NULL,
		.password = r->password,
		.timeout_ms = src->timeout * 1000,
		.max_size = (size_t)src->max_size,
		/* a body trickling in under 1 KiB/s for a third of the timeout is a
		 * stuck server: give up early rather than at the full timeout */
		.low_speed_limit = LOW_SPEED_BYTES,
		.low_speed_time = src->timeout / 3 > 1 ? (long)(src->timeout / 3) : 1,
		/* libcurl would take the headers (an API key) along to another
		 * server: none is followed (the message says where it led) */
		.no_redirect = src->headers.n > 0,
	};

	r->conditional = false;
	if (r->p.have_data) {
		req.if_none_match = cache_validator(r->p.cache, src, r->fingerprint, "etag");
		req.if_modified_since = cache_validator(r->p.cache, src, r->fingerprint, "last_modified");
		r->conditional = req.if_none_match != NULL || req.if_modified_since != NULL;
	}
	r->transfer = tg_http_start(r->p.http, &req, on_response, r, err);
	return r->transfer != NULL ? 0 : -EIO;
}

struct tg_source_http_run *tg_source_http_start(const struct tg_source_http_params *p,
						struct tg_error *err)
{
	struct tg_source_http_run *r = calloc(1, sizeof(*r));
	struct timespec ts;
	char owner[96];

	if (r == NULL) {
		tg_error_set(err, "out of memory");
		return NULL;
	}
	r->p = *p;
	/* counts of this run only: a 304 or a failure reads nothing */
	memset(p->stats, 0, sizeof(*p->stats));
	fingerprint(p->cfg, p->src, r->fingerprint);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
		 (uint64_t)(uintptr_t)r;
	if (r->rng == 0)
		r->rng = 88172645463325252ULL;
	tg_http_redact_url(p->src->url, r->name, sizeof(r->name));
	snprintf(owner, sizeof(owner), "source '%s'", p->src->name);
	if (p->src->bearer_token_file != NULL &&
	    (r->token = tg_secret_read(p->cfg, owner, "bearer_token_file", p->src->bearer_token_file, err)) == NULL)
		goto fail;
	if (p->src->password_file != NULL &&
	    (r->password = tg_secret_read(p->cfg, owner, "password_file", p->src->password_file, err)) == NULL)
		goto fail;
	if (start_attempt(r, err) < 0)
		goto fail;
	return r;
fail:
	run_free(r);
	return NULL;
}

void tg_source_http_cancel(struct tg_source_http_run *run)
{
	if (run != NULL)
		run_free(run);
}
