/*
 * notify_email.h — sending one spooled e-mail over SMTP with libcurl, on the
 * event loop (lib/http's raw transfers), and telling exactly what each
 * recipient's server said.
 *
 * URL smtp://host[:port] or smtps://host[:port]; with smtp:// and starttls
 * (the default) STARTTLS is REQUIRED (CURLUSESSL_ALL): a server that does not
 * offer it is an error, never a plaintext fallback.  TLS verification is
 * always on; ca_file replaces the system CAs.  AUTH with username + password
 * when given (the password read by the caller from password_file).  MAIL FROM
 * is the from address's addr-spec; one RCPT TO per recipient in ONE
 * transaction, with CURLOPT_MAIL_RCPT_ALLOWFAILS so that a recipient refused
 * does not stop the others; the reply to each RCPT is captured from curl's
 * protocol trace (CURLOPT_DEBUGFUNCTION, header lines only: the message body
 * and the AUTH exchange are never looked at nor logged).
 * The message is uploaded as is (curl does the dot-stuffing), except that a
 * bare CR or LF becomes CRLF: no "\n.\r\n" can end the DATA early on a
 * lenient server and smuggle commands.  Addresses (from, to) with spaces,
 * control characters or angle brackets are refused by tg_email_send.
 * starttls = false on smtp:// sends everything in clear: for a relay on the
 * same host or network only.  The URL's path, if any, is the EHLO name
 * (smtp://host:587/comune.example); without one libcurl uses the host name.
 * libcurl waits for the reply to the end of DATA with a blocking poll: a
 * server slow to give it stalls the loop, at most timeout_ms.
 */
#ifndef TG_NOTIFY_EMAIL_H
#define TG_NOTIFY_EMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "http.h"

struct tg_email_request {
	const char *url;                /* smtp:// or smtps:// */
	bool starttls;                  /* smtp:// only: require STARTTLS */
	const char *ca_file;            /* NULL = system CAs */
	const char *username;           /* NULL = no AUTH */
	const char *password;           /* the secret itself */
	const char *from;               /* addr-spec (no display name) */
	const char *const *to;          /* addr-specs */
	size_t n_to;
	const char *message;            /* RFC 5322, CRLF line ends */
	size_t len;
	int64_t timeout_ms;             /* whole transaction; 0 = 60 s */
};

enum tg_rcpt_result {
	TG_RCPT_ACCEPTED = 0,           /* 2xx to RCPT and the DATA accepted */
	TG_RCPT_TEMPFAIL,               /* 4xx (to RCPT or to the DATA), or no answer: retry */
	TG_RCPT_REFUSED,                /* 5xx: permanent for this recipient */
};

struct tg_email_result {
	/* Whole transaction: 0 delivered to at least one recipient (see rcpt[]);
	 * -EAGAIN temporary (connection refused, timeout, 4xx, TLS handshake
	 * lost): retry all not ACCEPTED; -EACCES our side is wrong
	 * (authentication refused, STARTTLS not offered, certificate not
	 * trusted, ca_file unusable): nothing was sent, and the message is good
	 * once the administrator fixes the channel, so it is retried too (and
	 * logged as an error each time); -EPERM permanent for this message (5xx
	 * to MAIL FROM or DATA, every recipient refused).  error says it in words with
	 * the server's reply when there was one ("smtp://mail.comune.it:587:
	 * authentication failed: 535 5.7.8 ..."), never with the password. */
	int result;
	char error[TG_ERROR_MAX];
	enum tg_rcpt_result *rcpt;      /* n_to entries, same order as the request;
					   a recipient without a 4xx/5xx of its own
					   follows the whole: REFUSED when -EPERM,
					   TEMPFAIL when -EAGAIN or -EACCES */
	char **rcpt_reply;              /* the server's reply line to each RCPT
					   (control bytes escaped), or NULL */
	size_t n_rcpt;
	char *final_reply;              /* reply to the end of DATA, or NULL
					   ("250 2.0.0 OK queued as 0001") */
};

typedef void (*tg_email_done_fn)(void *ctx, const struct tg_email_result *res);

struct tg_email_transfer;

/* Starts the transaction on h.  Every string of req is copied.  done is
 * called exactly once from the loop unless cancelled; res is valid only
 * during the call.  Returns NULL with err when it cannot start. */
struct tg_email_transfer *tg_email_send(struct tg_http *h, const struct tg_email_request *req,
					tg_email_done_fn done, void *ctx, struct tg_error *err);
/* Aborts it; done is not called.  NULL ok.  Cancel every transfer still
 * running before tg_http_free (which would clean curl's handle but not the
 * memory of this module). */
void tg_email_cancel(struct tg_email_transfer *t);

/* The addr-spec of "Name <addr>" or of "addr" into buf; NULL if too long,
 * empty, or not an address tg_email_send would take (an unmatched angle
 * bracket, a space or a control character in it). */
const char *tg_email_addr_spec(const char *from, char *buf, size_t size);

#endif
