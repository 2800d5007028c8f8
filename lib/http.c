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
 *
 * A fan-out (thousands of webhooks started at once) must cost per message,
 * not per message waiting: curl 7.88 walks its queue of pending transfers
 * at every completion, and an easy handle costs about 15 kB.  So the limits
 * are kept here: at most max_parallel transfers in the multi, max_per_host
 * to one host, the rest in a FIFO per host holding a copy of the request
 * (one block); each completion begins the oldest that may.  Easy handles go
 * back to a small pool and keep their options, so that the next request
 * with the same options only sets its own pointers; connection sockets stay
 * registered with sd-event between transfers (struct sock); and curl's "run
 * now" is served right after the event that caused it (act()), not on a
 * timer: a message costs one pass through the loop at most, not several.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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
/* Idle easy handles kept for the next transfers (at most max_parallel). */
#define POOL_MAX              64
/* Rounds of curl's "now" work done right after an event (see act()). */
#define KICK_ROUNDS           4

/*
 * A socket curl watches.  Connection sockets are opened and closed through
 * our callbacks (ours): when curl stops watching one (CURL_POLL_REMOVE: its
 * transfer is over, the connection waits in the cache) it stays registered,
 * parked, and the next transfer on that connection takes it back without an
 * epoll_ctl pair per message.  It leaves epoll in on_close_socket, before
 * its descriptor is closed, so a number reused by another descriptor is
 * never mistaken for it.  Others (curl's own, raw transfers') go at REMOVE.
 */
struct sock {
	struct tg_http *h;
	sd_event_source *src;      /* NULL until curl first watches it */
	struct sock *prev, *next;
	int fd;
	bool ours, parked;
};

struct tlist {
	struct tg_http_transfer *head, *tail;
};

/*
 * Transfers to one host (host:port, or the proxy), for the per-host limit:
 * those in the multi and the FIFO of those waiting.  Freed when both are
 * empty.  Raw transfers (their URL is the caller's) share one entry without
 * a per-host limit: curl's own limit still applies to them.
 */
struct host {
	struct host *prev, *next;
	struct tlist q;
	size_t active;
	bool unlimited;
	char key[];
};

struct tg_http {
	sd_event *ev;
	CURLM *multi;
	sd_event_source *timer;
	sd_event_source *kick;     /* curl's timeout 0: "now", without the timer's slack */
	bool kick_wanted;
	bool timer_armed;
	uint64_t timer_at;         /* when armed (CLOCK_MONOTONIC usec) */
	sd_event_source *defer;    /* reports, from the loop, transfers that could not begin */
	struct sock *socks;
	struct tg_http_transfer *transfers;   /* every one not finished, whatever its state */
	size_t n_transfers;
	struct host *hosts;
	struct host *raw;          /* the entry of raw transfers, kept until the end */
	struct tlist failed;       /* could not begin: their callbacks are due */
	size_t active;             /* in the multi */
	size_t max_parallel, max_per_host;
	uint64_t next_seq;         /* FIFO order across hosts */
	/* the last URL parsed (without a password, not through a proxy) and
	 * what parsing it gave: a fan-out posts to one URL again and again */
	char *memo_url, *memo_rurl, *memo_key;
	CURLU *memo_uh;            /* the URL parsed, copied for each transfer */
	bool memo_https;
	struct pooled *pool;       /* idle easy handles, for the next transfers */
	size_t n_pool, pool_cap;
	bool draining;       /* inside drain(): a free must wait */
	bool free_pending;
	bool curl_global;
};

enum state {
	ST_QUEUED,     /* in its host's FIFO */
	ST_ACTIVE,     /* in the multi */
	ST_FAILED,     /* could not begin: in h->failed, reported from the loop */
	ST_DONE,       /* detached: its callback is running or it is being freed */
};

enum method { M_GET, M_HEAD, M_DELETE, M_BODY };

/* What the options of an HTTP transfer depend on, but for the request's
 * own body and header list. */
struct opts {
	const char *url, *ca_file, *proxy, *bearer, *username, *password;
	const char *custom;            /* CURLOPT_CUSTOMREQUEST, a literal */
	enum method method;
	int64_t timeout_ms;
	long low_speed_limit, low_speed_time;
	size_t max_size;
	bool https, no_redirect, truncate_body;
};

/*
 * An idle handle.  With mem, it still has every option of the last request
 * it carried (whose strings mem holds, as curl keeps pointers to the header
 * list and the body), and a request with the same opts only sets its own
 * pointers again: the usual way of reusing a libcurl handle.  Without mem
 * it was reset.  Credentials so stay in memory until the handle is reused
 * or the engine freed, as they did in curl's own copies.
 */
struct pooled {
	CURL *easy;
	char *mem;
	size_t mem_size;
	struct opts o;
};

struct tg_http_transfer {
	struct tg_http *h;
	struct tg_http_transfer *prev, *next;     /* h->transfers */
	struct tg_http_transfer *qprev, *qnext;   /* its host's FIFO, or h->failed */
	struct host *host;
	uint64_t seq;
	enum state state;
	CURL *easy;
	tg_http_done_fn done;
	tg_http_raw_done_fn raw_done;   /* set for tg_http_start_raw transfers */
	void *ctx;
	/* the request, owned, in one block (mem): its strings (o), body, headers */
	char *mem;
	size_t mem_size;
	struct opts o;
	CURLU *uh;                     /* o.url parsed, given to curl (CURLOPT_CURLU) */
	const char *body;
	size_t body_len;
	struct curl_slist *headers;    /* its nodes live in mem */
	int fail_rc;                   /* ST_FAILED: the result */
	CURLcode fail_code;            /* ST_FAILED raw transfers: the curl code */
	char *rurl;                   /* the request URL, redacted */
	char *secrets[N_SECRETS];     /* scrubbed from every message */
	char *buf;
	size_t len, cap;
	char *etag, *last_modified;
	int64_t retry_after;
	uint64_t started_usec;        /* CLOCK_MONOTONIC, at tg_http_start */
	bool too_large, oom;
	char *encoding;               /* Content-Encoding of a body not asked to be
					 compressed (refused: on_write) */
	bool hide_path;
	bool finishing;               /* its callback is running */
	char *effective_url;
	char *redirect_url;           /* a 3xx not followed: its target, redacted */
	char errbuf[CURL_ERROR_SIZE];
	char *error;                  /* the message of a failure (allocated then) */
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

const char *tg_http_format_ms(int64_t ms, char *buf, size_t size)
{
	int len;

	if (ms % 1000 == 0) {
		snprintf(buf, size, "%" PRId64 " s", ms / 1000);
		return buf;
	}
	len = snprintf(buf, size, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
	while (len > 0 && (size_t)len < size && buf[len - 1] == '0')
		buf[--len] = '\0';
	if (len > 0 && (size_t)len < size)
		snprintf(buf + len, size - (size_t)len, " s");
	return buf;
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

	/* compressed without being asked: what curl would hand over is the
	 * compressed bytes (a fetch asks for none: a gzip stream cut short
	 * decodes into a shorter body without an error) */
	if (t->encoding != NULL && t->o.method != M_BODY) {
		long status = 0;

		(void)curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
		/* an error page's body is not read anyway: only its status */
		return status >= 200 && status <= 299 ? 0 : size * nmemb;
	}
	if (len > t->o.max_size - t->len) {
		if (t->o.truncate_body) {
			len = t->o.max_size - t->len;   /* keep what fits, drop the rest */
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
		if (cap > t->o.max_size + 1)
			cap = t->o.max_size + 1;
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
		free(t->encoding);
		t->etag = t->last_modified = t->encoding = NULL;
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
	else if (name_is(data, nlen, "content-encoding") && !name_is(v, vlen, "identity")) {
		keep_value(&t->encoding, v, vlen);
		if (t->encoding == NULL)
			t->encoding = strdup("?");   /* long or with control bytes */
	}
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

static struct sock *sock_new(struct tg_http *h, int fd, bool ours)
{
	struct sock *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->h = h;
	s->fd = fd;
	s->ours = ours;
	s->next = h->socks;
	if (h->socks != NULL)
		h->socks->prev = s;
	h->socks = s;
	return s;
}

/* One of ours, by its descriptor (a handful of connections: a list will do). */
static struct sock *sock_find(struct tg_http *h, int fd)
{
	struct sock *s;

	for (s = h->socks; s != NULL; s = s->next)
		if (s->fd == fd && s->ours)
			return s;
	return NULL;
}

static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
				    struct curl_sockaddr *a)
{
	struct tg_http *h = clientp;
	struct sock *s;
	int fd;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd < 0)
		return CURL_SOCKET_BAD;
	s = sock_new(h, fd, true);
	if (s == NULL) {
		close(fd);
		return CURL_SOCKET_BAD;
	}
	return fd;
}

static int on_close_socket(void *clientp, curl_socket_t fd)
{
	struct sock *s = sock_find(clientp, fd);

	if (s != NULL)
		sock_free(s);   /* out of epoll while the descriptor is still this one */
	return close(fd);
}

static int arm_timer(struct tg_http *h, uint64_t when)
{
	if (sd_event_source_set_time(h->timer, when) < 0 ||
	    sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT) < 0) {
		h->timer_armed = false;
		return -1;
	}
	h->timer_armed = true;
	h->timer_at = when;
	return 0;
}

static bool drain(struct tg_http *h);

/*
 * Hands an event to curl, then completes what finished.  When curl asks
 * for "now" meanwhile (a transfer that begins on a reused connection, the
 * next step of one), that runs here too, a few rounds at most, instead of
 * one more turn of the loop per message; the kick source stays for the rest.
 */
static void act(struct tg_http *h, curl_socket_t fd, int mask)
{
	int running, rounds;

	(void)curl_multi_socket_action(h->multi, fd, mask, &running);
	for (rounds = 0; drain(h) && h->kick_wanted && rounds < KICK_ROUNDS; rounds++) {
		h->kick_wanted = false;
		(void)sd_event_source_set_enabled(h->kick, SD_EVENT_OFF);
		(void)curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct sock *s = userdata;
	int mask = 0;

	(void)src;
	if (s->parked) {
		/* an idle connection spoke (the server closed it): stop watching,
		 * curl finds it dead when it next tries it */
		sock_free(s);
		return 0;
	}
	if (revents & (EPOLLIN | EPOLLPRI))
		mask |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	/* ERR/HUP alone: 0 lets curl poll the socket and name the error itself */
	act(s->h, fd, mask);   /* may free h and s */
	return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct tg_http *h = userdata;

	(void)src;
	(void)usec;
	h->timer_armed = false;
	act(h, CURL_SOCKET_TIMEOUT, 0);   /* may free h */
	return 0;
}

static int on_kick(sd_event_source *src, void *userdata)
{
	struct tg_http *h = userdata;

	(void)src;
	h->kick_wanted = false;
	act(h, CURL_SOCKET_TIMEOUT, 0);   /* may free h */
	return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct tg_http *h = userp;
	struct sock *s = socketp;
	uint32_t events = 0;

	(void)easy;
	/* curl forgets the assignment itself at REMOVE */
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL && s->ours) {
			/* parked: only a word from the server (it closed the idle
			 * connection) matters now; a writable socket would wake
			 * on_io at once and lose the registration for nothing */
			s->parked = true;
			if (s->src != NULL)
				(void)sd_event_source_set_io_events(s->src, EPOLLIN);
		} else if (s != NULL) {
			sock_free(s);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (s == NULL) {
		s = sock_find(h, fd);
		if (s == NULL && (s = sock_new(h, fd, false)) == NULL)
			return -1;
		s->parked = false;
		if (curl_multi_assign(h->multi, fd, s) != CURLM_OK) {
			sock_free(s);
			return -1;
		}
	}
	if (s->src == NULL) {
		if (sd_event_add_io(h->ev, &s->src, fd, events, on_io, s) < 0) {
			s->src = NULL;
			(void)curl_multi_assign(h->multi, fd, NULL);
			sock_free(s);
			return -1;
		}
		(void)sd_event_source_set_description(s->src, "http-io");
	} else if (sd_event_source_set_io_events(s->src, events) < 0) {
		return -1;
	}
	if (sd_event_source_set_enabled(s->src, events ? SD_EVENT_ON : SD_EVENT_OFF) < 0)
		return -1;
	return 0;
}

/*
 * curl's one timer.  0 ("as soon as possible": every transfer that begins,
 * many steps of one) goes to the kick source, which runs on the next
 * iteration, from the loop and never from here: a timer, even one already
 * due, fires only at the end of its accuracy window (sd-event coalesces
 * wake-ups), a millisecond lost at each step.  A later deadline than the
 * one armed does not move the timer (each transfer that begins pushes
 * curl's next deadline, its timeout, a little later: a timerfd_settime per
 * message).  Firing early is harmless: after a timeout action curl always
 * tells its next deadline again, even an unchanged one.
 */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct tg_http *h = userp;
	uint64_t now, when;

	(void)multi;
	if (timeout_ms < 0) {
		h->kick_wanted = false;
		h->timer_armed = false;
		return sd_event_source_set_enabled(h->timer, SD_EVENT_OFF) < 0 ||
		       sd_event_source_set_enabled(h->kick, SD_EVENT_OFF) < 0 ? -1 : 0;
	}
	if (timeout_ms == 0) {
		h->kick_wanted = true;
		return sd_event_source_set_enabled(h->kick, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
	}
	if (sd_event_now(h->ev, CLOCK_MONOTONIC, &now) < 0)
		return -1;
	when = now + (uint64_t)timeout_ms * 1000u;
	h->kick_wanted = false;
	if (sd_event_source_set_enabled(h->kick, SD_EVENT_OFF) < 0)
		return -1;
	/* An earlier wake-up is harmless: libcurl clears its record of the
	 * last deadline it reported on every CURL_SOCKET_TIMEOUT action ("the
	 * application asks libcurl to run the timeout prematurely", multi.c),
	 * so it tells us the later one again then.  Never moving the timer later
	 * saves a re-arm per message. */
	if (h->timer_armed && h->timer_at <= when)
		return 0;
	return arm_timer(h, when);
}

/* ---- the waiting lines and the pool of easy handles ---- */

static void tl_push(struct tlist *l, struct tg_http_transfer *t)
{
	t->qnext = NULL;
	t->qprev = l->tail;
	if (l->tail != NULL)
		l->tail->qnext = t;
	else
		l->head = t;
	l->tail = t;
}

static void tl_remove(struct tlist *l, struct tg_http_transfer *t)
{
	if (t->qprev != NULL)
		t->qprev->qnext = t->qnext;
	else
		l->head = t->qnext;
	if (t->qnext != NULL)
		t->qnext->qprev = t->qprev;
	else
		l->tail = t->qprev;
	t->qprev = t->qnext = NULL;
}

/* The entry of key, created if needed (a handful of hosts: a list will do). */
static struct host *host_get(struct tg_http *h, const char *key)
{
	struct host *ho;
	size_t len = strlen(key);

	for (ho = h->hosts; ho != NULL; ho = ho->next)
		if (!ho->unlimited && strcmp(ho->key, key) == 0)
			return ho;
	ho = calloc(1, sizeof(*ho) + len + 1);
	if (ho == NULL)
		return NULL;
	memcpy(ho->key, key, len + 1);
	ho->next = h->hosts;
	if (h->hosts != NULL)
		h->hosts->prev = ho;
	h->hosts = ho;
	return ho;
}

static void host_free(struct tg_http *h, struct host *ho)
{
	if (ho->prev != NULL)
		ho->prev->next = ho->next;
	else
		h->hosts = ho->next;
	if (ho->next != NULL)
		ho->next->prev = ho->prev;
	free(ho);
}

/* Frees an entry nothing uses any more (the raw one stays). */
static void host_release(struct tg_http *h, struct host *ho)
{
	if (ho != NULL && !ho->unlimited && ho->active == 0 && ho->q.head == NULL)
		host_free(h, ho);
}

/* The host whose first waiting transfer is the oldest of those that may
 * begin (the per-host limit), or NULL. */
static struct host *next_host(const struct tg_http *h)
{
	struct host *ho, *best = NULL;

	for (ho = h->hosts; ho != NULL; ho = ho->next)
		if (ho->q.head != NULL && (ho->unlimited || ho->active < h->max_per_host) &&
		    (best == NULL || ho->q.head->seq < best->q.head->seq))
			best = ho;
	return best;
}

static void free_mem(char *mem, size_t size)
{
	if (mem != NULL) {
		explicit_bzero(mem, size);   /* the URL, credentials */
		free(mem);
	}
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool opts_eq(const struct opts *a, const struct opts *b)
{
	return a->method == b->method && a->custom == b->custom &&
	       a->timeout_ms == b->timeout_ms && a->low_speed_limit == b->low_speed_limit &&
	       a->low_speed_time == b->low_speed_time && a->max_size == b->max_size &&
	       a->https == b->https && a->no_redirect == b->no_redirect &&
	       a->truncate_body == b->truncate_body && str_eq(a->url, b->url) &&
	       str_eq(a->ca_file, b->ca_file) && str_eq(a->proxy, b->proxy) &&
	       str_eq(a->bearer, b->bearer) && str_eq(a->username, b->username) &&
	       str_eq(a->password, b->password);
}

/* A handle for a request with opts o: preferably an idle one set up for
 * the same opts (*same: only the request's own options are to be set),
 * else an idle one reset, else a new one. */
static CURL *pool_take(struct tg_http *h, const struct opts *o, bool *same)
{
	struct pooled p;
	size_t i = h->n_pool;

	*same = false;
	if (i == 0)
		return curl_easy_init();
	while (i > 0 && !(h->pool[i - 1].mem != NULL && opts_eq(&h->pool[i - 1].o, o)))
		i--;
	if (i > 0) {
		*same = true;
		i--;
	} else {
		i = h->n_pool - 1;
	}
	p = h->pool[i];
	h->pool[i] = h->pool[--h->n_pool];
	if (!*same && p.mem != NULL)
		curl_easy_reset(p.easy);
	/* the handle's pointers into mem are all set again before it runs */
	free_mem(p.mem, p.mem_size);
	return p.easy;
}

/* Takes back a handle out of the multi, reset (a transfer cut short), or
 * with its options and the block (*mem) they point into, whose ownership
 * passes to the pool.  Connections stay in the multi's cache, which is
 * what makes them reused. */
static void pool_put(struct tg_http *h, CURL *easy, char **mem, size_t mem_size,
		     const struct opts *o)
{
	struct pooled *p;

	if (easy == NULL)
		return;
	if (h->n_pool == h->pool_cap) {
		curl_easy_cleanup(easy);
		return;
	}
	p = &h->pool[h->n_pool++];
	p->easy = easy;
	p->mem = NULL;
	if (mem == NULL || *mem == NULL ||
	    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, (char *)NULL) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)NULL) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)NULL) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_HEADERDATA, (void *)NULL) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_CURLU, (CURLU *)NULL) != CURLE_OK) {
		curl_easy_reset(easy);
		return;
	}
	/* nothing points at the transfer about to be freed any more */
	p->mem = *mem;
	p->mem_size = mem_size;
	p->o = *o;
	*mem = NULL;
}

/* ---- transfers ---- */

static void transfer_link(struct tg_http_transfer *t)
{
	struct tg_http *h = t->h;

	t->next = h->transfers;
	if (h->transfers != NULL)
		h->transfers->prev = t;
	h->transfers = t;
	h->n_transfers++;
}

/* Takes t out of the multi and of every list (t->easy stays); the slot and
 * the host's share it held are free again, but nothing begins here. */
static void detach(struct tg_http_transfer *t)
{
	struct tg_http *h = t->h;

	switch (t->state) {
	case ST_QUEUED:
		tl_remove(&t->host->q, t);
		break;
	case ST_ACTIVE:
		(void)curl_multi_remove_handle(h->multi, t->easy);
		h->active--;
		t->host->active--;
		break;
	case ST_FAILED:
		tl_remove(&h->failed, t);
		break;
	case ST_DONE:
		return;
	}
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		h->transfers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	h->n_transfers--;
	host_release(h, t->host);
	t->host = NULL;
	t->state = ST_DONE;
}

/* t must be detached (or never linked). */
static void transfer_free(struct tg_http_transfer *t)
{
	size_t i;

	if (t == NULL)
		return;
	if (t->raw_done != NULL)
		curl_easy_cleanup(t->easy);
	else
		pool_put(t->h, t->easy, NULL, 0, NULL);   /* maybe cut short: reset */
	free_mem(t->mem, t->mem_size);
	curl_url_cleanup(t->uh);
	for (i = 0; i < N_SECRETS; i++)
		free_secret(t->secrets[i]);
	free(t->rurl);
	free(t->buf);
	free(t->etag);
	free(t->last_modified);
	free(t->encoding);
	free(t->effective_url);
	free(t->redirect_url);
	free(t->error);
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

/* t->error, a copy of msg with every secret scrubbed; NULL without memory. */
static void set_error(struct tg_http_transfer *t, char *msg, size_t size)
{
	size_t i;

	for (i = 0; i < N_SECRETS; i++)
		scrub(msg, size, t->secrets[i]);
	free(t->error);
	t->error = strdup(msg);
}

/* What a failed transfer's callback shows when even its message could not
 * be allocated. */
static const char *error_of(const struct tg_http_transfer *t)
{
	return t->error != NULL ? t->error : "http: out of memory";
}

/* Fills t->error with "URL: what happened" and returns the result code. */
static int describe_failure(struct tg_http_transfer *t, CURLcode code,
			    struct tg_http_response *r)
{
	char what[512], tmp[64], quoted[400], msg[TG_ERROR_MAX];
	const char *detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(code);
	int rc;

	tg_error_quote(detail, strlen(detail), 300, quoted, sizeof(quoted));
	if (t->oom) {
		rc = -ENOMEM;
		snprintf(what, sizeof(what), "out of memory while receiving the response");
	} else if (code == CURLE_WRITE_ERROR && t->encoding != NULL && t->o.method != M_BODY) {
		rc = -EPROTO;
		snprintf(what, sizeof(what), "the body came compressed (Content-Encoding: %.64s) "
			 "though none was asked for: refused", t->encoding);
	} else if (t->too_large || code == CURLE_FILESIZE_EXCEEDED) {
		r->too_large = true;
		rc = -EFBIG;
		format_size(t->o.max_size, tmp, sizeof(tmp));
		snprintf(what, sizeof(what), "response larger than %s: aborted", tmp);
	} else if (code == CURLE_OPERATION_TIMEDOUT) {
		r->timed_out = true;
		rc = -ETIMEDOUT;
		/* curl reports the low-speed limit with the same code */
		if (strncmp(t->errbuf, "Operation too slow", 18) == 0) {
			snprintf(what, sizeof(what),
				 "too slow: less than %ld byte%s/s for %ld s: aborted",
				 t->o.low_speed_limit, t->o.low_speed_limit == 1 ? "" : "s",
				 t->o.low_speed_time);
		} else {
			tg_http_format_ms(t->o.timeout_ms, tmp, sizeof(tmp));
			snprintf(what, sizeof(what), "timed out after %s", tmp);
		}
	} else if (code == CURLE_UNSUPPORTED_PROTOCOL && t->o.https) {
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
	snprintf(msg, sizeof(msg), "%s: %s", t->rurl, what);
	set_error(t, msg, sizeof(msg));
	return rc;
}

#define SETOPT(opt, val)                                                                   \
	do {                                                                               \
		if (curl_easy_setopt(easy, opt, val) != CURLE_OK)                          \
			return tg_error_setc(err, -EIO, "%s: libcurl refused option %s",   \
					     t->rurl, #opt);                               \
	} while (0)

/* Every option of an HTTP transfer, from the copy of its request, on a
 * fresh or reset handle. */
/* The options that point at t and at its own body and header list. */
static int set_own_options(struct tg_http_transfer *t, CURL *easy, struct tg_error *err)
{
	SETOPT(CURLOPT_ERRORBUFFER, t->errbuf);
	SETOPT(CURLOPT_PRIVATE, (void *)t);
	SETOPT(CURLOPT_WRITEDATA, (void *)t);
	SETOPT(CURLOPT_HEADERDATA, (void *)t);
	/* the URL already parsed: curl copies it instead of parsing it again.
	 * A handle reused with the same opts had the same URL. */
	SETOPT(CURLOPT_CURLU, t->uh);
	if (t->o.method == M_BODY) {
		/* t->body lives as long as the transfer: no copy in curl */
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
		SETOPT(CURLOPT_POSTFIELDS, t->body);
	}
	SETOPT(CURLOPT_HTTPHEADER, t->headers);
	return 0;
}

static int set_options(struct tg_http_transfer *t, CURL *easy, struct tg_error *err)
{
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, t->o.https ? "https" : "http,https");
	SETOPT(CURLOPT_FOLLOWLOCATION, t->o.no_redirect ? 0L : 1L);
	SETOPT(CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	SETOPT(CURLOPT_TIMEOUT_MS, (long)t->o.timeout_ms);
	SETOPT(CURLOPT_LOW_SPEED_LIMIT, t->o.low_speed_limit);
	SETOPT(CURLOPT_LOW_SPEED_TIME, t->o.low_speed_time);
	if (!t->o.truncate_body)
		SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(t->o.max_size > (size_t)INT64_MAX ?
							       INT64_MAX : (int64_t)t->o.max_size));
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (t->o.ca_file != NULL) {
		/* only this CA: the distribution's directory must not widen it */
		SETOPT(CURLOPT_CAINFO, t->o.ca_file);
		SETOPT(CURLOPT_CAPATH, (char *)NULL);
	}
	if (t->o.proxy != NULL) {
		SETOPT(CURLOPT_PROXY, t->o.proxy);
		SETOPT(CURLOPT_NOPROXY, "");   /* no_proxy from the environment ignored too */
	} else {
		SETOPT(CURLOPT_NOPROXY, "*");  /* http_proxy & co. ignored */
	}
	/* No compressed answers: libcurl (7.88) takes a gzip stream cut short
	 * for a whole body, and a feed's rows would be lost without an error.
	 * A body compressed anyway is refused (on_write). */
	SETOPT(CURLOPT_USERAGENT, "traguardo/" TG_VERSION);
	SETOPT(CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SETOPT(CURLOPT_OPENSOCKETDATA, (void *)t->h);
	SETOPT(CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	SETOPT(CURLOPT_CLOSESOCKETDATA, (void *)t->h);
	if (t->o.bearer != NULL) {
		SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		SETOPT(CURLOPT_XOAUTH2_BEARER, t->o.bearer);
	} else if (t->o.username != NULL) {
		SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(CURLOPT_USERNAME, t->o.username);
		SETOPT(CURLOPT_PASSWORD, t->o.password != NULL ? t->o.password : "");
	}
	if (t->o.method == M_HEAD) {
		SETOPT(CURLOPT_NOBODY, 1L);
	} else if (t->o.method == M_DELETE) {
		SETOPT(CURLOPT_CUSTOMREQUEST, "DELETE");
	} else if (t->o.method == M_BODY && t->o.custom != NULL) {
		SETOPT(CURLOPT_CUSTOMREQUEST, t->o.custom);
	}
	return set_own_options(t, easy, err);
}

#undef SETOPT

/* Puts t in the multi.  The timeout starts now: curl counts it from here. */
static int launch(struct tg_http_transfer *t, struct tg_error *err)
{
	struct tg_http *h = t->h;
	int rc;

	if (t->raw_done == NULL) {
		bool same = false;

		if (t->easy == NULL && (t->easy = pool_take(h, &t->o, &same)) == NULL)
			return tg_error_setc(err, -ENOMEM, "%s: out of memory", t->rurl);
		rc = same ? set_own_options(t, t->easy, err) : set_options(t, t->easy, err);
		if (rc < 0)
			return rc;
	}
	if (curl_multi_add_handle(h->multi, t->easy) != CURLM_OK)
		return tg_error_setc(err, -EIO, "%s: libcurl refused the transfer",
				     t->rurl != NULL ? t->rurl : "http");
	t->state = ST_ACTIVE;
	h->active++;
	t->host->active++;
	return 0;
}

/* A transfer that left its queue but could not begin: its callback comes
 * from the loop (on_defer), never from the function that tried. */
static void fail_later(struct tg_http_transfer *t, int rc, char *msg, size_t size)
{
	struct tg_http *h = t->h;
	struct host *ho = t->host;

	t->fail_rc = rc;
	t->fail_code = rc == -ENOMEM ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
	set_error(t, msg, size);
	t->state = ST_FAILED;
	t->host = NULL;
	host_release(h, ho);
	tl_push(&h->failed, t);
	(void)sd_event_source_set_enabled(h->defer, SD_EVENT_ONESHOT);
}

/* Begins waiting transfers, oldest first, while there is room.  Afterwards
 * either every slot is taken or nothing waiting may begin (its host is at
 * its limit): tg_http_start relies on it.  Calls no callback. */
static void pump(struct tg_http *h)
{
	while (!h->free_pending && h->active < h->max_parallel) {
		struct host *ho = next_host(h);
		struct tg_http_transfer *t;
		struct tg_error err;
		int rc;

		if (ho == NULL)
			return;
		t = ho->q.head;
		tl_remove(&ho->q, t);
		rc = launch(t, &err);
		if (rc < 0)
			fail_later(t, rc, err.msg, sizeof(err.msg));
	}
}

static void transfer_complete(struct tg_http_transfer *t, CURLcode code)
{
	struct tg_http *h = t->h;
	struct tg_http_response r = { .retry_after = -1 };
	char *eff = NULL;
	long status = 0;

	if (t->raw_done != NULL) {
		detach(t);
		pump(h);
		t->finishing = true;
		t->raw_done(t->ctx, t->easy, (int)code);
		transfer_free(t);
		return;
	}

	r.elapsed_ms = (int64_t)((now_usec() - t->started_usec) / 1000u);
	/* the same URL (no redirect): its redacted form is t->rurl already */
	if (curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff != NULL &&
	    strcmp(eff, t->o.url) != 0)
		t->effective_url = redact_dup(eff);
	if (t->hide_path && t->effective_url != NULL)
		tg_http_hide_path(t->effective_url, strlen(t->effective_url) + 1);
	r.effective_url = t->effective_url != NULL ? t->effective_url : t->rurl;
	r.body = "";
	if (code == CURLE_OK && !t->too_large && !t->oom) {
		(void)curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
		r.status = status;
		if (status >= 300 && status <= 399 && t->o.no_redirect &&
		    curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &eff) == CURLE_OK &&
		    eff != NULL) {
			t->redirect_url = redact_dup(eff);
			if (t->hide_path && t->redirect_url != NULL)
				tg_http_hide_path(t->redirect_url, strlen(t->redirect_url) + 1);
			r.redirect_url = t->redirect_url;
		}
		if (t->buf != NULL) {
			r.body = t->buf;
			r.len = t->len;
		}
		r.etag = t->etag;
		r.last_modified = t->last_modified;
		r.retry_after = t->retry_after;
	} else {
		r.result = describe_failure(t, code, &r);
		r.error = error_of(t);
		if (curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
			r.status_seen = status;
	}

	detach(t);
	/* the handle (and its connection) go to the next one before the
	 * callback: whatever the callback starts waits behind older requests */
	pool_put(h, t->easy, &t->mem, t->mem_size, &t->o);
	t->easy = NULL;
	memset(&t->o, 0, sizeof(t->o));   /* its strings may be gone with the pool's */
	pump(h);
	t->finishing = true;   /* a tg_http_cancel(t) from the callback is a no-op */
	t->done(t->ctx, &r);
	transfer_free(t);
}

static void report_failed(struct tg_http_transfer *t)
{
	struct tg_http_response r = { .retry_after = -1 };

	detach(t);
	t->finishing = true;
	if (t->raw_done != NULL) {
		t->raw_done(t->ctx, t->easy, (int)t->fail_code);
	} else {
		r.result = t->fail_rc;
		r.error = error_of(t);
		r.body = "";
		r.effective_url = t->rurl;
		r.elapsed_ms = (int64_t)((now_usec() - t->started_usec) / 1000u);
		t->done(t->ctx, &r);
	}
	transfer_free(t);
}

static void destroy(struct tg_http *h);

static int on_defer(sd_event_source *src, void *userdata)
{
	struct tg_http *h = userdata;

	(void)src;
	h->draining = true;
	while (!h->free_pending && h->failed.head != NULL)
		report_failed(h->failed.head);
	h->draining = false;
	if (h->free_pending)
		destroy(h);
	return 0;
}

static void memo_clear(struct tg_http *h)
{
	free_secret(h->memo_url);   /* a webhook's path is its secret */
	free_secret(h->memo_rurl);
	free(h->memo_key);
	curl_url_cleanup(h->memo_uh);
	h->memo_url = h->memo_rurl = h->memo_key = NULL;
	h->memo_uh = NULL;
}

static void memo_set(struct tg_http *h, const char *url, const char *rurl, const char *key,
		     CURLU *uh, bool https)
{
	memo_clear(h);
	h->memo_url = strdup(url);
	h->memo_rurl = strdup(rurl);
	h->memo_key = strdup(key);
	h->memo_uh = curl_url_dup(uh);
	h->memo_https = https;
	if (h->memo_url == NULL || h->memo_rurl == NULL || h->memo_key == NULL ||
	    h->memo_uh == NULL)
		memo_clear(h);   /* only a shortcut: nothing is lost */
}

static void destroy(struct tg_http *h)
{
	while (h->transfers != NULL) {
		struct tg_http_transfer *t = h->transfers;

		detach(t);
		transfer_free(t);
	}
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);   /* may still report sockets removed */
	while (h->socks != NULL)
		sock_free(h->socks);
	while (h->n_pool > 0) {
		struct pooled *p = &h->pool[--h->n_pool];

		curl_easy_cleanup(p->easy);
		free_mem(p->mem, p->mem_size);
	}
	free(h->pool);
	memo_clear(h);
	while (h->hosts != NULL)
		host_free(h, h->hosts);
	sd_event_source_disable_unref(h->timer);
	sd_event_source_disable_unref(h->kick);
	sd_event_source_disable_unref(h->defer);
	sd_event_unref(h->ev);
	if (h->curl_global)
		curl_global_cleanup();
	free(h);
}

/* Completes every finished transfer.  Returns false when a callback freed
 * the engine (h is gone). */
static bool drain(struct tg_http *h)
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
	if (h->free_pending) {
		destroy(h);
		return false;
	}
	return true;
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
	h->max_parallel = (size_t)parallel;
	h->max_per_host = (size_t)per_host;
	h->pool_cap = h->max_parallel < POOL_MAX ? h->max_parallel : POOL_MAX;
	h->pool = calloc(h->pool_cap, sizeof(*h->pool));
	h->raw = calloc(1, sizeof(*h->raw) + 1);
	if (h->pool == NULL || h->raw == NULL) {
		free(h->raw);
		h->raw = NULL;
		tg_error_set(err, "http: out of memory");
		goto fail;
	}
	h->raw->unlimited = true;
	h->hosts = h->raw;
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
	r = sd_event_add_defer(ev, &h->kick, on_kick, h);
	if (r < 0 || (r = sd_event_source_set_enabled(h->kick, SD_EVENT_OFF)) < 0) {
		tg_error_setc(err, r, "http: cannot create an event source: %s", strerror(-r));
		goto fail;
	}
	(void)sd_event_source_set_description(h->kick, "http-now");
	r = sd_event_add_defer(ev, &h->defer, on_defer, h);
	if (r < 0 || (r = sd_event_source_set_enabled(h->defer, SD_EVENT_OFF)) < 0) {
		tg_error_setc(err, r, "http: cannot create an event source: %s", strerror(-r));
		goto fail;
	}
	(void)sd_event_source_set_description(h->defer, "http-failed");
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
	struct tg_http *h;
	bool was_active;

	if (t == NULL || t->finishing)
		return;
	h = t->h;
	was_active = t->state == ST_ACTIVE;
	detach(t);
	transfer_free(t);
	if (was_active)
		pump(h);   /* its slot goes to the next one */
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

/* Checks req, all but its URL. */
static int check_request(const struct tg_http_request *req, const char *rurl, bool *sends_body,
			 struct tg_error *err)
{
	const char *m = req->method;
	size_t i;

	*sends_body = false;
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

	return 0;
}

/* Checks the URL of req and fills what only the URL parser knows: the
 * scheme, the password, and the key of the host for the per-host limit
 * ("host:port", or the proxy: the connection goes there); *uh is the URL
 * parsed, for curl. */
static int parse_url(const struct tg_http_request *req, const char *rurl, bool *https,
		     char **url_password, char **key, CURLU **uh, struct tg_error *err)
{
	CURLU *u;
	CURLUcode uc;
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = 0;

	*url_password = NULL;
	*key = NULL;
	*uh = NULL;
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
		if (req->proxy != NULL) {
			if (asprintf(key, "proxy %s", req->proxy) < 0)
				*key = NULL;
		} else if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
			   curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
			if (asprintf(key, "%s:%s", host, port) < 0)
				*key = NULL;
			else
				for (char *p = *key; *p != '\0'; p++)
					*p = lower(*p);
		} else {
			*key = strdup("");   /* no host: curl will say so */
		}
		if (*key == NULL)
			rc = tg_error_setc(err, -ENOMEM, "%s: out of memory", rurl);
	}
	curl_free(port);
	curl_free(host);
	curl_free(scheme);
	if (rc == 0)
		*uh = u;
	else
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

/* ---- the copy of a request ---- */

struct block {
	char *p;
	size_t size;   /* what is needed; SIZE_MAX once it overflowed */
};

static void need(struct block *b, size_t n)
{
	b->size = n > SIZE_MAX - b->size ? SIZE_MAX : b->size + n;
}

static size_t len_or_0(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

/* Copies name[": " value] into the block, NUL-terminated. */
static char *put(struct block *b, const char *name, const char *value, size_t value_len)
{
	char *d = b->p;
	size_t n = strlen(name);

	memcpy(b->p, name, n);
	b->p += n;
	if (value != NULL) {
		if (name[0] != '\0') {
			memcpy(b->p, ": ", 2);
			b->p += 2;
		}
		memcpy(b->p, value, value_len);
		b->p += value_len;
	}
	*b->p++ = '\0';
	return d;
}

static const char *put_or_null(struct block *b, const char *s)
{
	return s != NULL ? put(b, "", s, strlen(s)) : NULL;
}

static void add_line(struct curl_slist *node, struct curl_slist ***tail, char *line)
{
	node->data = line;
	node->next = NULL;
	**tail = node;
	*tail = &node->next;
}

/*
 * Everything of req the transfer needs once it begins, in one block:
 * the header list's nodes first, then the strings and the body (unless
 * borrowed).  The request may wait in the queue long after the caller's
 * strings are gone.
 */
static int copy_request(struct tg_http_transfer *t, const struct tg_http_request *req,
			bool sends_body)
{
	static const char inm[] = "If-None-Match", ims[] = "If-Modified-Since",
			  expect[] = "Expect:";
	size_t n_lines = req->n_headers, i, k = 0;
	struct block b = { NULL, 0 };
	struct curl_slist *nodes, **tail;

	n_lines += (req->if_none_match != NULL) + (req->if_modified_since != NULL) + sends_body;
	if (n_lines > SIZE_MAX / sizeof(*nodes))
		return -ENOMEM;
	need(&b, n_lines * sizeof(*nodes));
	need(&b, strlen(req->url) + 1);
	need(&b, len_or_0(req->ca_file) + 1);
	need(&b, len_or_0(req->proxy) + 1);
	need(&b, len_or_0(req->bearer_token) + 1);
	need(&b, len_or_0(req->username) + 1);
	need(&b, len_or_0(req->password) + 1);
	if (!req->borrow_body)
		need(&b, req->body_len);
	need(&b, 1);
	for (i = 0; i < req->n_headers; i++)
		need(&b, strlen(req->headers[i]) + 1);
	if (req->if_none_match != NULL)
		need(&b, sizeof(inm) + 2 + strlen(req->if_none_match));
	if (req->if_modified_since != NULL)
		need(&b, sizeof(ims) + 2 + strlen(req->if_modified_since));
	if (sends_body)
		need(&b, sizeof(expect));
	if (b.size == SIZE_MAX || (t->mem = malloc(b.size)) == NULL)
		return -ENOMEM;
	t->mem_size = b.size;
	nodes = (struct curl_slist *)(void *)t->mem;
	b.p = t->mem + n_lines * sizeof(*nodes);

	t->o.url = put(&b, "", req->url, strlen(req->url));
	t->o.ca_file = put_or_null(&b, req->ca_file);
	t->o.proxy = put_or_null(&b, req->proxy);
	t->o.bearer = put_or_null(&b, req->bearer_token);
	t->o.username = put_or_null(&b, req->username);
	t->o.password = put_or_null(&b, req->password);
	if (req->borrow_body && req->body_len > 0)
		t->body = req->body;   /* the caller keeps it until done or cancel */
	else
		t->body = put(&b, "", req->body_len > 0 ? req->body : "", req->body_len);
	t->body_len = req->body_len;

	/* curl only reads the list: nodes in the block are as good as
	 * curl_slist_append's, and cost no allocation each */
	tail = &t->headers;
	for (i = 0; i < req->n_headers; i++)
		add_line(&nodes[k++], &tail, put(&b, req->headers[i], NULL, 0));
	if (req->if_none_match != NULL)
		add_line(&nodes[k++], &tail, put(&b, inm, req->if_none_match,
						  strlen(req->if_none_match)));
	if (req->if_modified_since != NULL)
		add_line(&nodes[k++], &tail, put(&b, ims, req->if_modified_since,
						  strlen(req->if_modified_since)));
	/* no "Expect: 100-continue" round trip (and its 1 s stall) on large bodies */
	if (sends_body)
		add_line(&nodes[k++], &tail, put(&b, expect, NULL, 0));
	return 0;
}

struct tg_http_transfer *tg_http_start(struct tg_http *h, const struct tg_http_request *req,
				       tg_http_done_fn done, void *ctx, struct tg_error *err)
{
	struct tg_http_transfer *t;
	char *url_pw = NULL, *key_alloc = NULL, *plain = NULL;
	const char *key = NULL;
	bool sends_body = false, oom = false, https = false, memo;
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
	t->state = ST_DONE;
	t->started_usec = now_usec();
	memo = req->proxy == NULL && h->memo_url != NULL && strcmp(req->url, h->memo_url) == 0;
	t->rurl = memo ? strdup(h->memo_rurl) : redact_dup(req->url);
	t->hide_path = req->hide_path;
	t->o.truncate_body = req->truncate_body;
	if (t->rurl != NULL && !memo && t->hide_path)
		plain = strdup(t->rurl);   /* for the memo (a miss is rare) */
	if (t->rurl != NULL && t->hide_path)
		tg_http_hide_path(t->rurl, strlen(t->rurl) + 1);
	if (t->rurl == NULL) {
		tg_error_set(err, "http: out of memory");
		free(t);
		return NULL;
	}
	rc = check_request(req, t->rurl, &sends_body, err);
	if (rc == 0 && memo) {
		https = h->memo_https;
		key = h->memo_key;
		if ((t->uh = curl_url_dup(h->memo_uh)) == NULL)
			oom = true;
	} else if (rc == 0) {
		rc = parse_url(req, t->rurl, &https, &url_pw, &key_alloc, &t->uh, err);
		key = key_alloc;
		if (rc == 0 && url_pw == NULL && req->proxy == NULL &&
		    (plain != NULL || !t->hide_path))
			memo_set(h, req->url, plain != NULL ? plain : t->rurl, key, t->uh, https);
	}
	free(plain);
	t->secrets[0] = take_curl_string(url_pw, &oom);
	if (rc < 0)
		goto fail;
	t->o.https = https;
	t->o.no_redirect = req->no_redirect;
	t->secrets[1] = dup_or_null(req->password, &oom);
	t->secrets[2] = dup_or_null(req->bearer_token, &oom);
	if (req->proxy != NULL)
		t->secrets[3] = take_curl_string(proxy_password(req->proxy), &oom);
	t->o.timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (t->o.timeout_ms > LONG_MAX)
		t->o.timeout_ms = LONG_MAX;
	t->o.max_size = req->max_size > 0 ? req->max_size : DEFAULT_MAX_SIZE;
	if (t->o.max_size > SIZE_MAX - 2)
		t->o.max_size = SIZE_MAX - 2;
	t->o.low_speed_limit = req->low_speed_limit > 0 ? req->low_speed_limit : DEFAULT_LOW_LIMIT;
	t->o.low_speed_time = req->low_speed_time > 0 ? req->low_speed_time : DEFAULT_LOW_TIME;
	if (req->method == NULL || strcmp(req->method, "GET") == 0)
		t->o.method = M_GET;
	else if (strcmp(req->method, "HEAD") == 0)
		t->o.method = M_HEAD;
	else if (strcmp(req->method, "DELETE") == 0)
		t->o.method = M_DELETE;
	else
		t->o.method = M_BODY;
	if (sends_body && strcmp(req->method, "PUT") == 0)
		t->o.custom = "PUT";
	else if (sends_body && strcmp(req->method, "PATCH") == 0)
		t->o.custom = "PATCH";
	if (oom || copy_request(t, req, sends_body) < 0 || (t->host = host_get(h, key)) == NULL) {
		rc = tg_error_setc(err, -ENOMEM, "%s: out of memory", t->rurl);
		goto fail;
	}
	free(key_alloc);
	key_alloc = NULL;
	t->seq = h->next_seq++;
	if (h->active < h->max_parallel && t->host->active < h->max_per_host &&
	    t->host->q.head == NULL) {
		/* room for it: it begins now, and a refusal is the caller's error */
		rc = launch(t, err);
		if (rc < 0)
			goto fail;
		transfer_link(t);
	} else {
		t->state = ST_QUEUED;
		tl_push(&t->host->q, t);
		transfer_link(t);
		pump(h);
	}
	return t;
fail:
	free(key_alloc);
	if (t->host != NULL) {
		struct host *ho = t->host;

		t->host = NULL;
		host_release(h, ho);
	}
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
	t->state = ST_DONE;
	t->started_usec = now_usec();
	t->host = h->raw;
	t->seq = h->next_seq++;
	if (curl_easy_setopt(t->easy, CURLOPT_PRIVATE, (void *)t) != CURLE_OK) {
		tg_error_set(err, "libcurl refused the transfer");
		transfer_free(t);
		return NULL;
	}
	if (h->active < h->max_parallel && h->raw->q.head == NULL) {
		if (curl_multi_add_handle(h->multi, t->easy) != CURLM_OK) {
			tg_error_set(err, "libcurl refused the transfer");
			transfer_free(t);
			return NULL;
		}
		t->state = ST_ACTIVE;
		h->active++;
		h->raw->active++;
		transfer_link(t);
	} else {
		t->state = ST_QUEUED;
		tl_push(&h->raw->q, t);
		transfer_link(t);
		pump(h);
	}
	return t;
}
