/*
 * http.c — libcurl's multi interface glued to sd-event, and the policy every
 * transfer of traguardo obeys (protocols, redirects, timeouts, size bound,
 * TLS, proxies, credentials kept out of messages).
 *
 * It exists so that feeds and webhooks never block the daemon's loop: curl
 * tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one io source per
 * socket, found again through curl_multi_assign) and when to wake it
 * (CURLMOPT_TIMERFUNCTION: one one-shot monotonic timer), we hand readiness
 * back with curl_multi_socket_action and then drain curl_multi_info_read to
 * NULL, completing every finished transfer.
 *
 * Completion callbacks run only from those loop handlers, never from a curl
 * callback nor from tg_http_start.  A callback may start or cancel transfers
 * and may even free the engine: the free is then deferred until the drain
 * loop unwinds, and no further callback is made.
 */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#ifndef TG_VERSION
#define TG_VERSION "0"
#endif

#define DEFAULT_PARALLEL      8
#define DEFAULT_PER_HOST      4
#define DEFAULT_TIMEOUT_MS    INT64_C(30000)
#define DEFAULT_MAX_SIZE      ((size_t)50 * 1024 * 1024)
#define DEFAULT_LOW_LIMIT     1L
#define DEFAULT_LOW_TIME      30L
#define MAX_REDIRECTS         5L
/* A validator longer than this is not worth echoing back to a server. */
#define HEADER_VALUE_MAX      1024
/* Retry-After beyond a year is nonsense; clamp rather than overflow. */
#define RETRY_AFTER_MAX       (INT64_C(366) * 24 * 3600)
#define N_SECRETS             4

struct sock {
	struct tg_http *h;
	sd_event_source *src;
	struct sock *prev, *next;
};

struct tg_http {
	sd_event *ev;
	CURLM *multi;
	sd_event_source *timer;
	struct sock *socks;
	struct tg_http_transfer *transfers;
	size_t n_transfers;
	bool draining;       /* inside drain(): a free must wait */
	bool free_pending;
	bool curl_global;
};

struct tg_http_transfer {
	struct tg_http *h;
	struct tg_http_transfer *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	tg_http_done_fn done;
	tg_http_raw_done_fn raw_done;   /* set for tg_http_start_raw transfers */
	void *ctx;
	char *rurl;                   /* the request URL, redacted */
	char *secrets[N_SECRETS];     /* scrubbed from every message */
	char *buf;
	size_t len, cap, max_size;
	char *etag, *last_modified;
	int64_t retry_after;
	int64_t timeout_ms;
	long low_speed_limit, low_speed_time;
	uint64_t started_usec;        /* CLOCK_MONOTONIC */
	bool https;
	bool too_large, oom;
	bool truncate_body, hide_path;
	bool finishing;               /* its callback is running */
	char *effective_url;
	char errbuf[CURL_ERROR_SIZE];
	char error[TG_ERROR_MAX];
};

/* ---- small helpers ---- */

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool name_is(const char *s, size_t n, const char *name)
{
	size_t i;

	if (strlen(name) != n)
		return false;
	for (i = 0; i < n; i++)
		if (lower(s[i]) != name[i])
			return false;
	return true;
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*failed = true;
	return d;
}

static void free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* "50 MiB", "64 KiB", "1000 bytes": as an administrator wrote it. */
static void format_size(size_t n, char *buf, size_t size)
{
	if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
		snprintf(buf, size, "%zu MiB", n / (1024 * 1024));
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, size, "%zu KiB", n / 1024);
	else
		snprintf(buf, size, "%zu bytes", n);
}

/* "20 s", "1.5 s", "0.25 s". */
static void format_ms(int64_t ms, char *buf, size_t size)
{
	int len;

	if (ms % 1000 == 0) {
		snprintf(buf, size, "%" PRId64 " s", ms / 1000);
		return;
	}
	len = snprintf(buf, size, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
	while (len > 0 && (size_t)len < size && buf[len - 1] == '0')
		buf[--len] = '\0';
	if (len > 0 && (size_t)len < size)
		snprintf(buf + len, size - (size_t)len, " s");
}

/* ---- URL redaction ---- */

struct out {
	char *buf;
	size_t size, n;   /* n counts every byte wanted, even past size */
};

static void out_c(struct out *o, char c)
{
	if (o->size > 0 && o->n < o->size - 1)
		o->buf[o->n] = c;
	o->n++;
}

/* Bytes a log line must not carry raw (controls, space, non-ASCII) are
 * percent-encoded: harmless in a URL and unable to forge a line. */
static void out_url_bytes(struct out *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f) {
			out_c(o, '%');
			out_c(o, hex[c >> 4]);
			out_c(o, hex[c & 15]);
		} else {
			out_c(o, (char)c);
		}
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Query parameter names that carry credentials, matched as case-insensitive
 * substrings of the (percent-decoded) name: access_token, api_key,
 * client_secret, X-Amz-Signature, passwd, oauth... */
static bool sensitive_name(const char *s, size_t len)
{
	static const char *const words[] = {
		"token", "key", "secret", "pass", "pwd", "sig", "auth",
	};
	char name[128];
	size_t i, n = 0, w;

	for (i = 0; i < len && n < sizeof(name) - 1; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			name[n++] = lower((char)(hi * 16 + lo));
			i += 2;
		} else {
			name[n++] = lower(s[i]);
		}
	}
	name[n] = '\0';
	for (w = 0; w < sizeof(words) / sizeof(words[0]); w++)
		if (memmem(name, n, words[w], strlen(words[w])) != NULL)
			return true;
	return false;
}

/* "a=1&token=x&b" -> "a=1&token=***&b" */
static void out_params(struct out *o, const char *s, size_t len)
{
	size_t i = 0;

	while (i <= len) {
		size_t j = i, eq;

		while (j < len && s[j] != '&' && s[j] != ';')
			j++;
		for (eq = i; eq < j && s[eq] != '='; eq++)
			;
		if (eq < j && sensitive_name(s + i, eq - i)) {
			out_url_bytes(o, s + i, eq - i + 1);
			out_url_bytes(o, "***", 3);
		} else {
			out_url_bytes(o, s + i, j - i);
		}
		if (j < len)
			out_c(o, s[j]);
		i = j + 1;
	}
}

static size_t redact(const char *url, struct out *o)
{
	const char *p = url, *end = url + strlen(url), *q;
	const char *auth, *auth_end, *at = NULL, *colon = NULL;

	/* scheme "://" authority: only then is there a userinfo to hide */
	for (q = p; q < end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
				(*q >= '0' && *q <= '9') || *q == '+' || *q == '-' || *q == '.');
	     q++)
		;
	if (q > p && end - q >= 3 && memcmp(q, "://", 3) == 0) {
		out_url_bytes(o, p, (size_t)(q - p) + 3);
		auth = q + 3;
		for (auth_end = auth; auth_end < end && *auth_end != '/' && *auth_end != '?' &&
				      *auth_end != '#';
		     auth_end++)
			if (*auth_end == '@')
				at = auth_end;   /* the last '@': a raw '@' in a password stays hidden */
		if (at != NULL) {
			colon = memchr(auth, ':', (size_t)(at - auth));
			if (colon != NULL) {
				out_url_bytes(o, auth, (size_t)(colon - auth));
				out_url_bytes(o, ":***", 4);
			} else {
				out_url_bytes(o, auth, (size_t)(at - auth));
			}
			auth = at;
		}
		out_url_bytes(o, auth, (size_t)(auth_end - auth));
		p = auth_end;
	}
	for (q = p; q < end && *q != '?' && *q != '#'; q++)
		;
	out_url_bytes(o, p, (size_t)(q - p));
	p = q;
	if (p < end && *p == '?') {
		out_c(o, '?');
		for (q = ++p; q < end && *q != '#'; q++)
			;
		out_params(o, p, (size_t)(q - p));
		p = q;
	}
	if (p < end) {   /* '#': OAuth implicit flows put tokens in fragments */
		out_c(o, '#');
		p++;
		out_params(o, p, (size_t)(end - p));
	}
	return o->n;
}

const char *tg_http_redact_url(const char *url, char *buf, size_t size)
{
	struct out o = { buf, size, 0 };

	if (buf == NULL || size == 0)
		return buf;
	if (url == NULL)
		url = "";
	redact(url, &o);
	if (o.n < size) {
		buf[o.n] = '\0';
	} else {
		buf[size - 1] = '\0';
		if (size >= 4)
			memcpy(buf + size - 4, "...", 3);
	}
	return buf;
}

char *tg_http_hide_path(char *url, size_t size)
{
	char *p = strstr(url, "://");
	size_t k;

	if (p == NULL)
		return url;
	p += 3;
	k = strcspn(p, "/?#");
	if (p[k] != '\0' && (size_t)(p - url) + k + sizeof("/…") <= size)
		memcpy(p + k, "/…", sizeof("/…"));
	else if (p[k] != '\0')
		p[k] = '\0';
	return url;
}

static char *redact_dup(const char *url)
{
	struct out o = { NULL, 0, 0 };
	char *s;

	redact(url, &o);
	s = malloc(o.n + 1);
	if (s != NULL)
		tg_http_redact_url(url, s, o.n + 1);
	return s;
}

/* Replaces every occurrence of secret in msg (in place, bounded) by "***":
 * a second line of defence should curl ever echo a credential. */
static void scrub(char *msg, size_t size, const char *secret)
{
	char tmp[TG_ERROR_MAX];
	struct out o = { tmp, sizeof(tmp), 0 };
	const char *p = msg, *hit;
	size_t slen;

	if (secret == NULL || (slen = strlen(secret)) == 0 || strstr(msg, secret) == NULL)
		return;
	while ((hit = strstr(p, secret)) != NULL) {
		for (; p < hit; p++)
			out_c(&o, *p);
		out_c(&o, '*');
		out_c(&o, '*');
		out_c(&o, '*');
		p = hit + slen;
	}
	for (; *p != '\0'; p++)
		out_c(&o, *p);
	tmp[o.n < sizeof(tmp) ? o.n : sizeof(tmp) - 1] = '\0';
	snprintf(msg, size, "%s", tmp);
}

/* ---- curl callbacks (no user code may run from these) ---- */

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct tg_http_transfer *t = userp;
	size_t len = size * nmemb;   /* size is always 1 */

	if (len > t->max_size - t->len) {
		if (t->truncate_body) {
			len = t->max_size - t->len;   /* keep what fits, drop the rest */
			if (len == 0)
				return size * nmemb;
		} else {
			t->too_large = true;
			return 0;   /* aborts the transfer: nothing past max_size is kept */
		}
	}
	if (t->len + len + 1 > t->cap) {
		size_t need = t->len + len + 1, cap = t->cap ? t->cap : 16384;
		char *nb;

		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		if (cap > t->max_size + 1)
			cap = t->max_size + 1;
		nb = realloc(t->buf, cap);
		if (nb == NULL) {
			t->oom = true;
			return 0;
		}
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, data, len);
	t->len += len;
	t->buf[t->len] = '\0';
	return size * nmemb;
}

/* Kept only when short and free of control bytes: the value goes back to
 * the server verbatim as If-None-Match / If-Modified-Since. */
static void keep_value(char **slot, const char *v, size_t len)
{
	size_t i;

	free(*slot);
	*slot = NULL;
	if (len == 0 || len > HEADER_VALUE_MAX)
		return;
	for (i = 0; i < len; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return;
	*slot = strndup(v, len);
}

static int64_t parse_retry_after(const char *v, size_t len)
{
	char date[64];
	int64_t secs = 0;
	time_t when, now;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len && v[i] >= '0' && v[i] <= '9'; i++)
		if (secs < RETRY_AFTER_MAX)
			secs = secs * 10 + (v[i] - '0');
	if (i == len)
		return secs < RETRY_AFTER_MAX ? secs : RETRY_AFTER_MAX;
	if (len >= sizeof(date) || memchr(v, '\0', len) != NULL)
		return -1;
	memcpy(date, v, len);
	date[len] = '\0';
	when = curl_getdate(date, NULL);
	if (when == (time_t)-1)
		return -1;
	now = time(NULL);   /* an HTTP-date is wall-clock time */
	if (when <= now)
		return 0;
	return (int64_t)when - (int64_t)now < RETRY_AFTER_MAX ? (int64_t)when - (int64_t)now
							       : RETRY_AFTER_MAX;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct tg_http_transfer *t = userp;
	size_t len = size * nmemb;
	const char *colon, *v;
	size_t nlen, vlen;

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* a new response (after a redirect or a 1xx): forget the last one's */
		free(t->etag);
		free(t->last_modified);
		t->etag = t->last_modified = NULL;
		t->retry_after = -1;
		return len;
	}
	colon = memchr(data, ':', len);
	if (colon == NULL)
		return len;
	nlen = (size_t)(colon - data);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ' ||
			    v[vlen - 1] == '\t'))
		vlen--;
	if (name_is(data, nlen, "etag"))
		keep_value(&t->etag, v, vlen);
	else if (name_is(data, nlen, "last-modified"))
		keep_value(&t->last_modified, v, vlen);
	else if (name_is(data, nlen, "retry-after"))
		t->retry_after = parse_retry_after(v, vlen);
	return len;
}

static void sock_free(struct sock *s)
{
	struct tg_http *h = s->h;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		h->socks = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	sd_event_source_disable_unref(s->src);
	free(s);
}

static void drain(struct tg_http *h);

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct tg_http *h = userdata;
	int mask = 0, running;

	(void)src;
	if (revents & (EPOLLIN | EPOLLPRI))
		mask |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	/* ERR/HUP alone: 0 lets curl poll the socket and name the error itself */
	(void)curl_multi_socket_action(h->multi, fd, mask, &running);
	drain(h);   /* may free h */
	return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct tg_http *h = userdata;
	int running;

	(void)src;
	(void)usec;
	(void)curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain(h);   /* may free h */
	return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct tg_http *h = userp;
	struct sock *s = socketp;
	uint32_t events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL)
			sock_free(s);   /* curl forgets the assignment itself */
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return -1;
		s->h = h;
		if (sd_event_add_io(h->ev, &s->src, fd, events, on_io, h) < 0) {
			free(s);
			return -1;
		}
		(void)sd_event_source_set_description(s->src, "http-io");
		s->next = h->socks;
		if (h->socks != NULL)
			h->socks->prev = s;
		h->socks = s;
		if (curl_multi_assign(h->multi, fd, s) != CURLM_OK) {
			sock_free(s);
			return -1;
		}
	} else if (sd_event_source_set_io_events(s->src, events) < 0) {
		return -1;
	}
	if (sd_event_source_set_enabled(s->src, events ? SD_EVENT_ON : SD_EVENT_OFF) < 0)
		return -1;
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct tg_http *h = userp;
	uint64_t now;

	(void)multi;
	if (timeout_ms < 0)
		return sd_event_source_set_enabled(h->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
	/* 0 means "as soon as possible": a time already reached fires on the
	 * next iteration, from the loop and never from here */
	if (sd_event_now(h->ev, CLOCK_MONOTONIC, &now) < 0)
		return -1;
	if (sd_event_source_set_time(h->timer, now + (uint64_t)timeout_ms * 1000u) < 0 ||
	    sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT) < 0)
		return -1;
	return 0;
}

/* ---- transfers ---- */

static void transfer_unlink(struct tg_http_transfer *t)
{
	struct tg_http *h = t->h;

	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		h->transfers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	h->n_transfers--;
}

static void transfer_free(struct tg_http_transfer *t)
{
	size_t i;

	if (t == NULL)
		return;
	if (t->easy != NULL)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	for (i = 0; i < N_SECRETS; i++)
		free_secret(t->secrets[i]);
	free(t->rurl);
	free(t->buf);
	free(t->etag);
	free(t->last_modified);
	free(t->effective_url);
	free(t);
}

static bool is_tls_error(CURLcode c)
{
	switch (c) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
		return true;
	default:
		return false;
	}
}

/* Fills t->error with "URL: what happened" and returns the result code. */
static int describe_failure(struct tg_http_transfer *t, CURLcode code,
			    struct tg_http_response *r)
{
	char what[512], tmp[64], quoted[400];
	const char *detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(code);
	int rc;
	size_t i;

	tg_error_quote(detail, strlen(detail), 300, quoted, sizeof(quoted));
	if (t->oom) {
		rc = -ENOMEM;
		snprintf(what, sizeof(what), "out of memory while receiving the response");
	} else if (t->too_large || code == CURLE_FILESIZE_EXCEEDED) {
		r->too_large = true;
		rc = -EFBIG;
		format_size(t->max_size, tmp, sizeof(tmp));
		snprintf(what, sizeof(what), "response larger than %s: aborted", tmp);
	} else if (code == CURLE_OPERATION_TIMEDOUT) {
		r->timed_out = true;
		rc = -ETIMEDOUT;
		/* curl reports the low-speed limit with the same code */
		if (strncmp(t->errbuf, "Operation too slow", 18) == 0) {
			snprintf(what, sizeof(what),
				 "too slow: less than %ld byte%s/s for %ld s: aborted",
				 t->low_speed_limit, t->low_speed_limit == 1 ? "" : "s",
				 t->low_speed_time);
		} else {
			format_ms(t->timeout_ms, tmp, sizeof(tmp));
			snprintf(what, sizeof(what), "timed out after %s", tmp);
		}
	} else if (code == CURLE_UNSUPPORTED_PROTOCOL && t->https) {
		rc = -EPROTONOSUPPORT;
		/* REDIR_PROTOCOLS is "https": the effective URL is the refused target */
		snprintf(what, sizeof(what), "redirect to %.300s refused: an https URL may only "
			 "redirect to https", t->effective_url != NULL ? t->effective_url : "?");
	} else if (code == CURLE_TOO_MANY_REDIRECTS) {
		rc = -ELOOP;
		snprintf(what, sizeof(what), "more than %ld redirects", MAX_REDIRECTS);
	} else {
		if (is_tls_error(code))
			rc = -EPROTO;
		else if (code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY)
			rc = -EHOSTUNREACH;
		else if (code == CURLE_COULDNT_CONNECT)
			rc = -ECONNREFUSED;
		else if (code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR ||
			 code == CURLE_GOT_NOTHING)
			rc = -ECONNRESET;
		else if (code == CURLE_OUT_OF_MEMORY)
			rc = -ENOMEM;
		else if (code == CURLE_UNSUPPORTED_PROTOCOL)
			rc = -EPROTONOSUPPORT;
		else
			rc = -EIO;
		snprintf(what, sizeof(what), "%s", quoted);
	}
	snprintf(t->error, sizeof(t->error), "%s: %s", t->rurl, what);
	for (i = 0; i < N_SECRETS; i++)
		scrub(t->error, sizeof(t->error), t->secrets[i]);
	return rc;
}

static void transfer_complete(struct tg_http_transfer *t, CURLcode code)
{
	struct tg_http *h = t->h;
	struct tg_http_response r = { .retry_after = -1 };
	char *eff = NULL;
	long status = 0;

	if (t->raw_done != NULL) {
		transfer_unlink(t);
		(void)curl_multi_remove_handle(h->multi, t->easy);
		t->finishing = true;
		t->raw_done(t->ctx, t->easy, (int)code);
		transfer_free(t);
		return;
	}

	r.elapsed_ms = (int64_t)((now_usec() - t->started_usec) / 1000u);
	if (curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff != NULL)
		t->effective_url = redact_dup(eff);
	if (t->hide_path && t->effective_url != NULL)
		tg_http_hide_path(t->effective_url, strlen(t->effective_url) + 1);
	r.effective_url = t->effective_url != NULL ? t->effective_url : t->rurl;
	r.body = "";
	if (code == CURLE_OK && !t->too_large && !t->oom) {
		(void)curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
		r.status = status;
		if (t->buf != NULL) {
			r.body = t->buf;
			r.len = t->len;
		}
		r.etag = t->etag;
		r.last_modified = t->last_modified;
		r.retry_after = t->retry_after;
	} else {
		r.result = describe_failure(t, code, &r);
		r.error = t->error;
	}

	transfer_unlink(t);
	(void)curl_multi_remove_handle(h->multi, t->easy);
	t->finishing = true;   /* a tg_http_cancel(t) from the callback is a no-op */
	t->done(t->ctx, &r);
	transfer_free(t);
}

static void destroy(struct tg_http *h)
{
	while (h->transfers != NULL) {
		struct tg_http_transfer *t = h->transfers;

		transfer_unlink(t);
		(void)curl_multi_remove_handle(h->multi, t->easy);
		transfer_free(t);
	}
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);   /* may still report sockets removed */
	while (h->socks != NULL)
		sock_free(h->socks);
	sd_event_source_disable_unref(h->timer);
	sd_event_unref(h->ev);
	if (h->curl_global)
		curl_global_cleanup();
	free(h);
}

static void drain(struct tg_http *h)
{
	CURLMsg *m;
	int left;

	h->draining = true;
	while (!h->free_pending && (m = curl_multi_info_read(h->multi, &left)) != NULL) {
		void *t = NULL;
		CURL *easy = m->easy_handle;
		CURLcode code = m->data.result;

		/* m dies with the handle's removal: read it before anything else */
		if (m->msg != CURLMSG_DONE)
			continue;
		if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t) != CURLE_OK || t == NULL) {
			(void)curl_multi_remove_handle(h->multi, easy);
			continue;
		}
		transfer_complete(t, code);
	}
	h->draining = false;
	if (h->free_pending)
		destroy(h);
}

/* ---- public API ---- */

struct tg_http *tg_http_new(sd_event *ev, const struct tg_http_limits *limits,
			    struct tg_error *err)
{
	struct tg_http *h;
	long parallel = DEFAULT_PARALLEL, per_host = DEFAULT_PER_HOST;
	int r;

	if (ev == NULL) {
		tg_error_set(err, "http: no event loop");
		return NULL;
	}
	if (limits != NULL) {
		if (limits->max_parallel < 0 || limits->max_per_host < 0) {
			tg_error_set(err, "http: negative connection limit (%d parallel, %d per host)",
				     limits->max_parallel, limits->max_per_host);
			return NULL;
		}
		if (limits->max_parallel > 0)
			parallel = limits->max_parallel;
		if (limits->max_per_host > 0)
			per_host = limits->max_per_host;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		tg_error_set(err, "http: out of memory");
		return NULL;
	}
	h->ev = sd_event_ref(ev);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		tg_error_set(err, "http: libcurl initialisation failed");
		goto fail;
	}
	h->curl_global = true;
	h->multi = curl_multi_init();
	if (h->multi == NULL) {
		tg_error_set(err, "http: out of memory");
		goto fail;
	}
	if (curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, parallel) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, per_host) != CURLM_OK) {
		tg_error_set(err, "http: libcurl refused a multi option");
		goto fail;
	}
	/* 1 ms accuracy: sd-event's default (250 ms) would stall curl's steps */
	r = sd_event_add_time(ev, &h->timer, CLOCK_MONOTONIC, 0, 1000, on_timer, h);
	if (r < 0 || (r = sd_event_source_set_enabled(h->timer, SD_EVENT_OFF)) < 0) {
		tg_error_setc(err, r, "http: cannot create the timer: %s", strerror(-r));
		goto fail;
	}
	(void)sd_event_source_set_description(h->timer, "http-timer");
	return h;
fail:
	destroy(h);
	return NULL;
}

void tg_http_free(struct tg_http *h)
{
	if (h == NULL)
		return;
	if (h->draining) {
		h->free_pending = true;   /* drain() finishes the job when it unwinds */
		return;
	}
	destroy(h);
}

size_t tg_http_in_flight(const struct tg_http *h)
{
	return h != NULL ? h->n_transfers : 0;
}

void tg_http_cancel(struct tg_http_transfer *t)
{
	if (t == NULL || t->finishing)
		return;
	transfer_unlink(t);
	(void)curl_multi_remove_handle(t->h->multi, t->easy);
	transfer_free(t);
}

/* "Name: value" with a token name and no CR, LF or other control byte. */
static bool header_ok(const char *s)
{
	const char *p;

	for (p = s; *p != ':' && *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	if (p == s || *p != ':')
		return false;
	for (; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

static bool value_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static int add_header(struct tg_http_transfer *t, const char *name, const char *value)
{
	struct curl_slist *l;
	char *line;

	if (value != NULL) {
		if (asprintf(&line, "%s: %s", name, value) < 0)
			return -ENOMEM;
	} else if ((line = strdup(name)) == NULL) {
		return -ENOMEM;
	}
	l = curl_slist_append(t->headers, line);
	free(line);
	if (l == NULL)
		return -ENOMEM;
	t->headers = l;
	return 0;
}

/* Checks req and fills what only the URL parser knows (scheme, password). */
static int check_request(const struct tg_http_request *req, const char *rurl, bool *https,
			 char **url_password, bool *sends_body, struct tg_error *err)
{
	CURLU *u;
	CURLUcode uc;
	char *scheme = NULL;
	const char *m = req->method;
	size_t i;
	int rc = 0;

	*sends_body = false;
	*url_password = NULL;
	if (m != NULL && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 &&
	    strcmp(m, "DELETE") != 0) {
		if (strcmp(m, "POST") != 0 && strcmp(m, "PUT") != 0 && strcmp(m, "PATCH") != 0) {
			char q[64];

			return tg_error_set(err, "%s: unsupported method \"%s\" (GET, HEAD, POST, "
					    "PUT, PATCH or DELETE)", rurl,
					    tg_error_quote(m, strlen(m), 20, q, sizeof(q)));
		}
		*sends_body = true;
	}
	if (req->body_len > 0 && req->body == NULL)
		return tg_error_set(err, "%s: body_len %zu without a body", rurl, req->body_len);
	if (req->body_len > 0 && !*sends_body)
		return tg_error_set(err, "%s: a request body needs POST, PUT or PATCH", rurl);
	if (req->timeout_ms < 0)
		return tg_error_set(err, "%s: negative timeout", rurl);
	if (req->low_speed_limit < 0 || req->low_speed_time < 0)
		return tg_error_set(err, "%s: negative low-speed limit", rurl);
	if (req->headers == NULL && req->n_headers > 0)
		return tg_error_set(err, "%s: %zu headers announced, none given", rurl,
				    req->n_headers);
	for (i = 0; i < req->n_headers; i++)
		if (req->headers[i] == NULL || !header_ok(req->headers[i]))
			return tg_error_set(err, "%s: header %zu is not a \"Name: value\" line "
					    "without control characters", rurl, i + 1);
	if ((req->if_none_match != NULL && !value_ok(req->if_none_match)) ||
	    (req->if_modified_since != NULL && !value_ok(req->if_modified_since)))
		return tg_error_set(err, "%s: conditional header with control characters", rurl);
	if (req->bearer_token != NULL && (req->username != NULL || req->password != NULL))
		return tg_error_set(err, "%s: both a bearer token and basic credentials given",
				    rurl);
	if (req->password != NULL && req->username == NULL)
		return tg_error_set(err, "%s: a password without a user name", rurl);
	if ((req->bearer_token != NULL && !value_ok(req->bearer_token)) ||
	    (req->username != NULL && !value_ok(req->username)) ||
	    (req->password != NULL && !value_ok(req->password)))
		return tg_error_set(err, "%s: credentials with control characters", rurl);

	u = curl_url();
	if (u == NULL)
		return tg_error_setc(err, -ENOMEM, "%s: out of memory", rurl);
	uc = curl_url_set(u, CURLUPART_URL, req->url, 0);
	if (uc != CURLUE_OK) {
		rc = tg_error_set(err, "%s: not a valid URL (%s)", rurl, curl_url_strerror(uc));
	} else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		   (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		rc = tg_error_set(err, "%s: only http:// and https:// URLs are supported", rurl);
	} else {
		*https = strcmp(scheme, "https") == 0;
		if (curl_url_get(u, CURLUPART_PASSWORD, url_password, 0) != CURLUE_OK)
			*url_password = NULL;
	}
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

/* The proxy's password, if its URL carries one (for scrubbing). */
static char *proxy_password(const char *proxy)
{
	CURLU *u = curl_url();
	char *pw = NULL;

	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, proxy, CURLU_GUESS_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) != CURLUE_OK)
		pw = NULL;
	curl_url_cleanup(u);
	return pw;
}

static char *take_curl_string(char *s, bool *failed)
{
	char *d = NULL;

	if (s != NULL) {
		d = strdup(s);
		if (d == NULL)
			*failed = true;
		explicit_bzero(s, strlen(s));
		curl_free(s);
	}
	return d;
}

#define SETOPT(opt, val)                                                                   \
	do {                                                                               \
		if (curl_easy_setopt(t->easy, opt, val) != CURLE_OK) {                    \
			rc = tg_error_set(err, "%s: libcurl refused option %s", t->rurl, #opt); \
			goto fail;                                                         \
		}                                                                          \
	} while (0)

struct tg_http_transfer *tg_http_start(struct tg_http *h, const struct tg_http_request *req,
				       tg_http_done_fn done, void *ctx, struct tg_error *err)
{
	struct tg_http_transfer *t;
	char *url_pw = NULL;
	bool sends_body = false, oom = false, https = false;
	int rc;

	if (h == NULL || req == NULL || req->url == NULL || done == NULL) {
		tg_error_set(err, "http: missing engine, request, URL or callback");
		return NULL;
	}
	if (h->free_pending) {
		tg_error_set(err, "http: the engine is being freed");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		tg_error_set(err, "http: out of memory");
		return NULL;
	}
	t->h = h;
	t->done = done;
	t->ctx = ctx;
	t->retry_after = -1;
	t->rurl = redact_dup(req->url);
	t->hide_path = req->hide_path;
	t->truncate_body = req->truncate_body;
	if (t->rurl != NULL && t->hide_path)
		tg_http_hide_path(t->rurl, strlen(t->rurl) + 1);
	if (t->rurl == NULL) {
		tg_error_set(err, "http: out of memory");
		free(t);
		return NULL;
	}
	rc = check_request(req, t->rurl, &https, &url_pw, &sends_body, err);
	t->secrets[0] = take_curl_string(url_pw, &oom);
	if (rc < 0)
		goto fail;
	t->https = https;
	t->secrets[1] = dup_or_null(req->password, &oom);
	t->secrets[2] = dup_or_null(req->bearer_token, &oom);
	if (req->proxy != NULL)
		t->secrets[3] = take_curl_string(proxy_password(req->proxy), &oom);
	t->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (t->timeout_ms > LONG_MAX)
		t->timeout_ms = LONG_MAX;
	t->max_size = req->max_size > 0 ? req->max_size : DEFAULT_MAX_SIZE;
	if (t->max_size > SIZE_MAX - 2)
		t->max_size = SIZE_MAX - 2;
	t->low_speed_limit = req->low_speed_limit > 0 ? req->low_speed_limit : DEFAULT_LOW_LIMIT;
	t->low_speed_time = req->low_speed_time > 0 ? req->low_speed_time : DEFAULT_LOW_TIME;
	t->easy = curl_easy_init();
	if (oom || t->easy == NULL) {
		rc = tg_error_setc(err, -ENOMEM, "%s: out of memory", t->rurl);
		goto fail;
	}

	SETOPT(CURLOPT_ERRORBUFFER, t->errbuf);
	SETOPT(CURLOPT_PRIVATE, (void *)t);
	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
	SETOPT(CURLOPT_FOLLOWLOCATION, req->no_redirect ? 0L : 1L);
	SETOPT(CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	SETOPT(CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
	SETOPT(CURLOPT_LOW_SPEED_LIMIT, t->low_speed_limit);
	SETOPT(CURLOPT_LOW_SPEED_TIME, t->low_speed_time);
	if (!t->truncate_body)
		SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(t->max_size > (size_t)INT64_MAX ?
							       INT64_MAX : (int64_t)t->max_size));
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file != NULL) {
		/* only this CA: the distribution's directory must not widen it */
		SETOPT(CURLOPT_CAINFO, req->ca_file);
		SETOPT(CURLOPT_CAPATH, (char *)NULL);
	}
	if (req->proxy != NULL) {
		SETOPT(CURLOPT_PROXY, req->proxy);
		SETOPT(CURLOPT_NOPROXY, "");   /* no_proxy from the environment ignored too */
	} else {
		SETOPT(CURLOPT_NOPROXY, "*");  /* http_proxy & co. ignored */
	}
	SETOPT(CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(CURLOPT_USERAGENT, "traguardo/" TG_VERSION);
	SETOPT(CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(CURLOPT_WRITEDATA, (void *)t);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, (void *)t);
	if (req->bearer_token != NULL) {
		SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		SETOPT(CURLOPT_XOAUTH2_BEARER, req->bearer_token);
	} else if (req->username != NULL) {
		SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(CURLOPT_USERNAME, req->username);
		SETOPT(CURLOPT_PASSWORD, req->password != NULL ? req->password : "");
	}
	if (req->method != NULL && strcmp(req->method, "HEAD") == 0) {
		SETOPT(CURLOPT_NOBODY, 1L);
	} else if (req->method != NULL && strcmp(req->method, "DELETE") == 0) {
		SETOPT(CURLOPT_CUSTOMREQUEST, "DELETE");
	} else if (sends_body) {
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SETOPT(CURLOPT_COPYPOSTFIELDS, req->body_len > 0 ? req->body : "");
		if (strcmp(req->method, "POST") != 0)
			SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
	}
	for (size_t i = 0; i < req->n_headers; i++)
		if (add_header(t, req->headers[i], NULL) < 0)
			oom = true;
	if (req->if_none_match != NULL && add_header(t, "If-None-Match", req->if_none_match) < 0)
		oom = true;
	if (req->if_modified_since != NULL &&
	    add_header(t, "If-Modified-Since", req->if_modified_since) < 0)
		oom = true;
	/* no "Expect: 100-continue" round trip (and its 1 s stall) on large bodies */
	if (sends_body && add_header(t, "Expect:", NULL) < 0)
		oom = true;
	if (oom) {
		rc = tg_error_setc(err, -ENOMEM, "%s: out of memory", t->rurl);
		goto fail;
	}
	if (t->headers != NULL)
		SETOPT(CURLOPT_HTTPHEADER, t->headers);

	t->started_usec = now_usec();
	/* only arms the timer (at 0 ms): the transfer begins from the loop */
	if (curl_multi_add_handle(h->multi, t->easy) != CURLM_OK) {
		rc = tg_error_set(err, "%s: libcurl refused the transfer", t->rurl);
		goto fail;
	}
	t->next = h->transfers;
	if (h->transfers != NULL)
		h->transfers->prev = t;
	h->transfers = t;
	h->n_transfers++;
	return t;
fail:
	(void)rc;
	transfer_free(t);
	return NULL;
}

struct tg_http_transfer *tg_http_start_raw(struct tg_http *h, void *easy,
					   tg_http_raw_done_fn done, void *ctx,
					   struct tg_error *err)
{
	struct tg_http_transfer *t;

	if (h == NULL || easy == NULL || done == NULL || h->free_pending) {
		curl_easy_cleanup(easy);
		tg_error_set(err, "http: missing engine, handle or callback");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		curl_easy_cleanup(easy);
		tg_error_setc(err, -ENOMEM, "out of memory");
		return NULL;
	}
	t->h = h;
	t->easy = easy;
	t->raw_done = done;
	t->ctx = ctx;
	t->started_usec = now_usec();
	if (curl_easy_setopt(t->easy, CURLOPT_PRIVATE, (void *)t) != CURLE_OK ||
	    curl_multi_add_handle(h->multi, t->easy) != CURLM_OK) {
		tg_error_set(err, "libcurl refused the transfer");
		transfer_free(t);
		return NULL;
	}
	t->next = h->transfers;
	if (h->transfers != NULL)
		h->transfers->prev = t;
	h->transfers = t;
	h->n_transfers++;
	return t;
}
