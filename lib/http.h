/*
 * http.h — the HTTP engine: libcurl's multi interface driven by an sd-event
 * loop, shared by the HTTP feeds and (later) the webhooks.
 *
 * One io event source per socket (kept with curl_multi_assign), one one-shot
 * timer re-armed by curl's timer callback, curl_multi_info_read drained to
 * NULL after every action: nothing blocks the loop, so a slow server never
 * delays another transfer nor the watchdog.
 *
 * Every transfer: CURLOPT_NOSIGNAL; protocols http and https only;
 * redirects followed up to 5, never from https to http; a total timeout and
 * a low-speed limit; the body bounded by max_size (the transfer is aborted
 * past it, without keeping more); TLS verification always on (ca_file sets
 * CURLOPT_CAINFO: libcurl ignores CURL_CA_BUNDLE); proxies only as
 * configured (the *_proxy environment variables are ignored, so that a
 * service behaves the same whatever environment it was started from).
 * Parallel transfers are limited globally and per host (host:port, or the
 * proxy): the engine puts at most max_parallel transfers in curl's hands,
 * at most max_per_host of them to one host, and keeps the others in its own
 * queue (a copy of each request, a few hundred bytes beyond its body),
 * beginning them in the order they were started as others finish; a busy
 * host does not hold back the requests to another.  Connections and easy
 * handles are reused from one transfer to the next.
 */
#ifndef TG_HTTP_H
#define TG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "error.h"

struct tg_http_limits {
	int max_parallel;          /* transfers at once, all hosts; 0 = 8 */
	int max_per_host;          /* transfers (connections) per host; 0 = 4 */
};

struct tg_http_request {
	const char *url;                 /* http:// or https:// only */
	const char *method;              /* NULL = GET; "POST", "PUT" send body */
	const char *body;                /* may contain NULs: body_len counts */
	size_t body_len;
	const char *const *headers;      /* "Name: value" lines, no CR/LF */
	size_t n_headers;
	const char *ca_file;             /* NULL = the system's CAs */
	const char *proxy;               /* NULL = direct */
	const char *bearer_token;        /* the token itself (not a file), or NULL */
	const char *username, *password; /* basic auth, or NULL */
	const char *if_none_match;       /* conditional GET, or NULL */
	const char *if_modified_since;   /* an HTTP date as received, or NULL */
	int64_t timeout_ms;              /* total, from when the transfer begins (a
					    queued request's wait does not count);
					    0 = 30 s */
	size_t max_size;                 /* response body bound; 0 = 50 MiB */
	long low_speed_limit;            /* bytes/s below which ... 0 = 1 */
	long low_speed_time;             /* ... for this many seconds aborts; 0 = 30 */
	bool no_redirect;                /* a 3xx is the answer (a POST that must not
					    turn into a GET elsewhere) */
	bool truncate_body;              /* past max_size the rest of the body is
					    dropped, not an error (only the status
					    matters) */
	bool hide_path;                  /* messages show scheme://host/… only: in a
					    webhook URL the path is the secret */
	bool borrow_body;                /* the body is not copied: it must stay as it
					    is until done is called or the transfer
					    is cancelled (a message being delivered
					    is kept that long anyway) */
};

struct tg_http_response {
	int result;              /* 0: a response arrived (any status); <0: no response */
	long status;             /* HTTP status, 0 when result < 0 */
	const char *body;        /* NUL-terminated (the NUL is not counted); valid
				    only during the callback */
	size_t len;
	const char *etag;        /* the ETag header, or NULL */
	const char *last_modified; /* the Last-Modified header, or NULL */
	int64_t retry_after;     /* seconds from a Retry-After header (delta or date), -1 if none */
	bool timed_out;          /* the total timeout or the low-speed limit hit */
	bool too_large;          /* the body went past max_size */
	long status_seen;        /* when result < 0: the status of a response whose
				    status line arrived but not the rest (the body
				    cut short, too large, too slow), else 0; a
				    webhook's 2xx counts as delivered */
	const char *error;       /* when result < 0: what went wrong, with the URL
				    (credentials in it redacted) */
	const char *effective_url; /* after redirects (redacted) */
	const char *redirect_url;  /* a 3xx not followed (no_redirect): where it
				      points (redacted), or NULL */
	int64_t elapsed_ms;      /* from tg_http_start, the time queued included */
};

typedef void (*tg_http_done_fn)(void *ctx, const struct tg_http_response *resp);

struct tg_http;
struct tg_http_transfer;

/* The engine takes a reference on ev. */
struct tg_http *tg_http_new(sd_event *ev, const struct tg_http_limits *limits,
			    struct tg_error *err);
/* Aborts every transfer in flight or queued (their callbacks are not
 * called). NULL ok. */
void tg_http_free(struct tg_http *h);

/*
 * Starts a transfer, or queues it when the limits are reached; every string
 * of req (and the body, unless borrow_body) is copied.  done is called
 * exactly once, from the event loop (never from inside tg_http_start nor
 * tg_http_cancel), unless the transfer is cancelled first: a queued
 * transfer that cannot begin when its turn comes (out of memory, refused
 * by libcurl) gets done with result < 0.  Returns the transfer, or NULL
 * with err (a request that is not valid, or one that could begin at once
 * and that libcurl refused).
 */
struct tg_http_transfer *tg_http_start(struct tg_http *h, const struct tg_http_request *req,
				       tg_http_done_fn done, void *ctx, struct tg_error *err);
/* Aborts a transfer, running or queued; its callback is not called; the
 * next queued one may begin.  NULL ok. */
void tg_http_cancel(struct tg_http_transfer *t);
/* A timeout for messages: "20 s", "1.5 s", "0.25 s".  Returns buf. */
const char *tg_http_format_ms(int64_t ms, char *buf, size_t size);

/* Transfers started and not yet finished, the queued ones included. */
size_t tg_http_in_flight(const struct tg_http *h);

/*
 * Other protocols (SMTP): the caller sets up easy completely (every option
 * but CURLOPT_PRIVATE, which the engine owns), then hands it over; the engine
 * drives it on the loop like any transfer (queued past max_parallel, with no
 * per-host limit of the engine's: curl's applies) and calls done exactly
 * once, from the loop, with curl's result code; after done returns the
 * engine cleans easy up.  Cancel (tg_http_cancel) and tg_http_free clean it
 * up without calling done, so ctx must not depend on done to be freed.  On
 * failure (NULL returned) easy has been cleaned up too.
 */
typedef void (*tg_http_raw_done_fn)(void *ctx, void *easy, int curl_code);
struct tg_http_transfer *tg_http_start_raw(struct tg_http *h, void *easy,
					   tg_http_raw_done_fn done, void *ctx,
					   struct tg_error *err);

/* Cuts url after its authority, in place: "https://h:8443/services/T/B/X"
 * -> "https://h:8443/…" (nothing changes without "://").  Returns url. */
char *tg_http_hide_path(char *url, size_t size);

/* "https://user:secret@host/x?token=abc" -> "https://user:***@host/x?token=***"
 * (userinfo password and the values of query parameters named like
 * token, key, secret, password, sig, signature, auth are redacted). */
const char *tg_http_redact_url(const char *url, char *buf, size_t size);

#endif
