/*
 * notify_email.c — one SMTP transaction with libcurl, driven on the event
 * loop by lib/http's raw transfers, and what the server said to each step.
 *
 * libcurl speaks SMTP but only reports one result code for the whole
 * transaction; to tell the outbox which recipients to retry, which were
 * refused and why, we follow the dialogue through curl's protocol trace
 * (CURLOPT_DEBUGFUNCTION): the command lines the client sent tell which step
 * a reply belongs to, the server's reply lines are kept (the last line of a
 * multi-line reply, bounded).  Only the verb of a command is looked at; the
 * client's SASL responses after AUTH (the password, in base64), the message
 * body and the TLS records are never looked at nor kept.
 *
 * Security decisions: TLS is required (smtps://, or STARTTLS with
 * CURLUSESSL_ALL) unless the configuration turns STARTTLS off for a local
 * relay; certificates are always verified; addresses with control bytes or
 * angle brackets are refused (they would be SMTP command injection); bare CR
 * and LF in the message become CRLF, so that no "\n.\r\n" sequence can end
 * the DATA early on a lenient server and smuggle a second message.
 *
 * A libcurl limitation the caller must know: after the end of the message
 * libcurl waits for the server's final reply with a blocking poll (smtp_done
 * runs its state machine in blocking mode), bounded by timeout_ms; a server
 * that is slow to answer the end of DATA stalls the loop that long.
 */
#include "notify_email.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* curl 8.2 fixed the option's name; 7.69 ... 8.1 only have the misspelling */
#if LIBCURL_VERSION_NUM < 0x080200
#define CURLOPT_MAIL_RCPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLLOWFAILS
#endif

#define DEFAULT_TIMEOUT_MS  INT64_C(60000)
#define CONNECT_TIMEOUT_MS  INT64_C(30000)
/* RFC 5321 4.5.3.1.5: a reply line is at most 512 bytes with its CRLF */
#define REPLY_MAX           512
/* RFC 5321 4.5.3.1.3: a path is at most 256 bytes with its angle brackets */
#define ADDR_MAX            254
#define URL_SHOWN           512

/* The step of the dialogue a reply answers. */
enum stage {
	ST_GREETING,
	ST_EHLO,
	ST_STARTTLS,
	ST_AUTH,
	ST_MAIL,
	ST_RCPT,
	ST_DATA,        /* the DATA command: 354 expected */
	ST_EOD,         /* the end of the message: the final reply */
	ST_QUIT,
	ST_OTHER,
	N_STAGES
};

struct reply {
	int code;                     /* 0: no reply */
	size_t len;
	char text[REPLY_MAX];         /* raw: quoted only when shown */
};

struct tg_email_transfer {
	struct tg_http_transfer *ht;
	CURL *easy;                   /* owned by the engine: valid while ht runs */
	tg_email_done_fn done;
	void *ctx;
	char rurl[URL_SHOWN];         /* redacted */
	char *password;               /* only to scrub it from messages */
	char **to;
	size_t n_to;
	struct curl_slist *rcpts;     /* curl does not copy lists */
	char *msg;                    /* CRLF-normalised copy */
	size_t len, off;
	int64_t timeout_ms;

	/* the dialogue, as traced */
	enum stage cur;
	bool sasl;                    /* the server sent 334: the next line is a SASL response */
	bool tls_started;             /* 220 to STARTTLS: the handshake follows */
	size_t rcpt_idx, n_rcpt_sent;
	int fail_stage;               /* stage of the last reply if it was 4xx/5xx, else -1 */
	struct reply stage_reply[N_STAGES];
	struct reply *rcpt;           /* n_to entries */
	char line[REPLY_MAX];         /* a reply line being assembled */
	size_t line_len;

	bool finishing;
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- small helpers ---- */

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* An addr-spec we can put between < and > on a command line: no control
 * byte, no space, no angle bracket (each would let the address end the
 * command early or add parameters to it). */
static bool addr_ok(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>')
			return false;
		if (n >= ADDR_MAX)
			return false;
	}
	return n > 0;
}

static const char *quote_addr(const char *s, char *buf, size_t size)
{
	return tg_error_quote(s, strlen(s), 60, buf, size);
}

static void free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* A server may echo what it was given: the password never reaches a message. */
static void scrub(char *msg, size_t size, const char *secret)
{
	char tmp[TG_ERROR_MAX];
	size_t n = 0, slen;
	const char *p = msg, *hit;

	if (secret == NULL || (slen = strlen(secret)) == 0 || strstr(msg, secret) == NULL)
		return;
	while ((hit = strstr(p, secret)) != NULL && n < sizeof(tmp) - 4) {
		size_t k = (size_t)(hit - p);

		if (k > sizeof(tmp) - 4 - n)
			k = sizeof(tmp) - 4 - n;
		memcpy(tmp + n, p, k);
		n += k;
		memcpy(tmp + n, "***", 3);
		n += 3;
		p = hit + slen;
	}
	while (*p != '\0' && n < sizeof(tmp) - 1)
		tmp[n++] = *p++;
	tmp[n] = '\0';
	snprintf(msg, size, "%s", tmp);
}

/* ---- the protocol trace ---- */

static enum stage command_stage(const char *data, size_t size)
{
	static const struct {
		const char *verb;
		enum stage stage;
	} verbs[] = {
		{ "EHLO", ST_EHLO }, { "HELO", ST_EHLO }, { "STARTTLS", ST_STARTTLS },
		{ "AUTH", ST_AUTH }, { "MAIL", ST_MAIL }, { "RCPT", ST_RCPT },
		{ "DATA", ST_DATA }, { "QUIT", ST_QUIT },
	};
	char verb[9];
	size_t n = 0, i;

	while (n < size && n < sizeof(verb) - 1 && data[n] != ' ' && data[n] != '\r' &&
	       data[n] != '\n') {
		verb[n] = upper(data[n]);
		n++;
	}
	verb[n] = '\0';
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verb, verbs[i].verb) == 0)
			return verbs[i].stage;
	return ST_OTHER;
}

static void on_command(struct tg_email_transfer *t, const char *data, size_t size)
{
	if (t->cur == ST_AUTH && t->sasl) {
		/* a SASL response (the credentials in base64): not even parsed */
		t->sasl = false;
		return;
	}
	if (t->cur == ST_EOD && command_stage(data, size) == ST_OTHER)
		return;   /* the end-of-data mark, should a libcurl ever trace it */
	t->cur = command_stage(data, size);
	t->sasl = false;
	if (t->cur == ST_MAIL) {
		/* a transaction begins (again, if curl retried on a fresh connection
		 * after a reused one died): the last attempt's replies go */
		t->n_rcpt_sent = 0;
		memset(t->rcpt, 0, t->n_to * sizeof(*t->rcpt));
		t->stage_reply[ST_DATA].code = t->stage_reply[ST_EOD].code = 0;
	} else if (t->cur == ST_RCPT) {
		/* curl sends the RCPTs in the order of the list, one at a time */
		t->rcpt_idx = t->n_rcpt_sent++;
	} else if (t->cur == ST_EHLO) {
		t->tls_started = false;
	}
}

static void keep_reply(struct reply *r, int code, const char *line, size_t len)
{
	r->code = code;
	r->len = len < sizeof(r->text) ? len : sizeof(r->text);
	memcpy(r->text, line, r->len);
}

static void on_reply_line(struct tg_email_transfer *t, const char *line, size_t len)
{
	int code;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
		return;   /* not a reply line: curl ignores it too */
	if (len > 3 && line[3] != ' ')
		return;   /* "250-..." continues: the last line is the one kept */
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (t->cur == ST_QUIT)
		return;   /* after an error curl says goodbye: the error stays */
	t->fail_stage = code >= 400 && t->cur != ST_RCPT ? (int)t->cur : -1;
	switch (t->cur) {
	case ST_AUTH:
		if (code == 334) {
			t->sasl = true;   /* a challenge: not kept */
			return;
		}
		break;
	case ST_RCPT:
		if (t->rcpt_idx < t->n_to)
			keep_reply(&t->rcpt[t->rcpt_idx], code, line, len);
		return;
	case ST_STARTTLS:
		t->tls_started = code == 220;
		break;
	case ST_DATA:
		if (code == 354) {
			keep_reply(&t->stage_reply[ST_DATA], code, line, len);
			t->cur = ST_EOD;   /* the body goes out, then the final reply */
			return;
		}
		break;
	default:
		break;
	}
	keep_reply(&t->stage_reply[t->cur], code, line, len);
	if (t->cur == ST_EOD)
		t->cur = ST_OTHER;
}

static void on_reply_bytes(struct tg_email_transfer *t, const char *data, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++) {
		if (data[i] == '\n') {
			on_reply_line(t, t->line, t->line_len);
			t->line_len = 0;
		} else if (t->line_len < sizeof(t->line)) {
			t->line[t->line_len++] = data[i];
		}
	}
}

static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size, void *userp)
{
	struct tg_email_transfer *t = userp;

	(void)easy;
	/* CURLINFO_TEXT, the DATA_* (the message) and SSL_DATA_* are ignored */
	if (type == CURLINFO_HEADER_OUT)
		on_command(t, data, size);
	else if (type == CURLINFO_HEADER_IN)
		on_reply_bytes(t, data, size);
	return 0;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *userp)
{
	struct tg_email_transfer *t = userp;
	size_t n = size * nmemb;   /* curl's buffer: size is 1 */

	if (n > t->len - t->off)
		n = t->len - t->off;
	memcpy(buf, t->msg + t->off, n);
	t->off += n;
	return n;
}

/* A reused connection found dead is retried by curl on a new one: from the start. */
static int on_seek(void *userp, curl_off_t offset, int origin)
{
	struct tg_email_transfer *t = userp;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > (uint64_t)t->len)
		return CURL_SEEKFUNC_CANTSEEK;
	t->off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- the result ---- */

static const char *reply_text(const struct reply *r, char *buf, size_t size)
{
	return tg_error_quote(r->text, r->len, 300, buf, size);
}

static const char *waiting_for(const struct tg_email_transfer *t)
{
	switch (t->cur) {
	case ST_GREETING:
		return "waiting for the server's greeting";
	case ST_EHLO:
		return "waiting for the reply to EHLO";
	case ST_STARTTLS:
		return t->tls_started ? "during the TLS handshake" : "waiting for the reply to STARTTLS";
	case ST_AUTH:
		return "during authentication";
	case ST_MAIL:
		return "waiting for the reply to MAIL FROM";
	case ST_RCPT:
		return "waiting for the reply to RCPT TO";
	case ST_DATA:
		return "waiting for the reply to DATA";
	case ST_EOD:
		return "sending the message or waiting for the final reply";
	default:
		return "waiting for the server";
	}
}

/* "message refused: 554 ..." for the step whose reply ended the transaction. */
static int reply_failure(const struct tg_email_transfer *t, enum stage st, char *what, size_t size)
{
	static const char *const names[N_STAGES] = {
		[ST_GREETING] = "connection", [ST_EHLO] = "EHLO", [ST_STARTTLS] = "STARTTLS",
		[ST_AUTH] = "authentication", [ST_MAIL] = "sender", [ST_RCPT] = "recipient",
		[ST_DATA] = "DATA", [ST_EOD] = "message", [ST_QUIT] = "QUIT", [ST_OTHER] = "command",
	};
	const struct reply *r = &t->stage_reply[st];
	char q[400];
	bool temp = r->code >= 400 && r->code < 500;

	reply_text(r, q, sizeof(q));
	if (st == ST_AUTH)
		snprintf(what, size, "authentication %s: %s", temp ? "deferred" : "failed", q);
	else
		snprintf(what, size, "%s %s: %s", names[st], temp ? "deferred" : "refused", q);
	if (temp)
		return -EAGAIN;
	/* refused before any recipient: the server does not take mail from us
	 * as configured (no service, authentication required, sender not
	 * ours): the channel's settings, not this message, are wrong */
	return st <= ST_MAIL ? -EACCES : -EPERM;
}

static int all_refused(const struct tg_email_transfer *t, char *what, size_t size)
{
	size_t i, n;
	bool any_temp = false, all_policy = t->n_to > 0;

	n = (size_t)snprintf(what, size, "every recipient refused: ");
	for (i = 0; i < t->n_to; i++) {
		char qa[256], qr[400];
		const struct reply *r = &t->rcpt[i];

		if (r->code >= 400 && r->code < 500)
			any_temp = true;
		/* "554 5.7.1 Relay access denied" to everyone: the server's policy
		 * about us (authentication, relaying), not the addresses */
		if (!(r->code >= 500 && r->len >= 9 && memcmp(r->text + 4, "5.7.", 4) == 0))
			all_policy = false;
		if (n < size)
			n += (size_t)snprintf(what + n, size - n, "%s%s: %s", i ? "; " : "",
					      quote_addr(t->to[i], qa, sizeof(qa)),
					      reply_text(r, qr, sizeof(qr)));
	}
	return any_temp ? -EAGAIN : all_policy ? -EACCES : -EPERM;
}

static bool rcpts_all_failed(const struct tg_email_transfer *t)
{
	size_t i;

	if (t->n_rcpt_sent < t->n_to)
		return false;
	for (i = 0; i < t->n_to; i++)
		if (t->rcpt[i].code < 400)
			return false;
	return true;
}

/* Fills error and returns 0, -EAGAIN or -EPERM. */
static int classify(struct tg_email_transfer *t, CURLcode code, char *error, size_t size)
{
	const char *detail = t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(code);
	char what[TG_ERROR_MAX], q[400], tmp[32];
	int rc;

	error[0] = '\0';
	if (code == CURLE_OK)
		return 0;
	tg_error_quote(detail, strlen(detail), 300, q, sizeof(q));
	switch (code) {
	case CURLE_LOGIN_DENIED:
		if (t->stage_reply[ST_AUTH].code != 0) {
			rc = reply_failure(t, ST_AUTH, what, sizeof(what));
			if (rc == -EPERM)
				rc = -EACCES;   /* our credentials, not the message */
		} else {
			rc = -EACCES;
			snprintf(what, sizeof(what), "authentication failed: %s", q);
		}
		break;
	case CURLE_AUTH_ERROR:
		rc = -EACCES;
		snprintf(what, sizeof(what), "authentication impossible: the server offers no "
			 "mechanism libcurl can use (%s)", q);
		break;
	case CURLE_USE_SSL_FAILED:
		if (t->stage_reply[ST_STARTTLS].code >= 400) {
			rc = reply_failure(t, ST_STARTTLS, what, sizeof(what));
		} else {
			rc = -EACCES;
			snprintf(what, sizeof(what), "the server does not offer STARTTLS (required: "
				 "starttls = false only for a local relay)");
		}
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		rc = -EACCES;
		snprintf(what, sizeof(what), "certificate not trusted: %s", q);
		break;
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CRL_BADFILE:
		rc = -EACCES;
		snprintf(what, sizeof(what), "TLS set-up failed (check ca_file): %s", q);
		break;
	case CURLE_SSL_CONNECT_ERROR:
		rc = -EAGAIN;
		snprintf(what, sizeof(what), "TLS handshake failed: %s", q);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		rc = -EAGAIN;
		snprintf(what, sizeof(what), "cannot resolve the host: %s", q);
		break;
	case CURLE_COULDNT_CONNECT:
		rc = -EAGAIN;
		snprintf(what, sizeof(what), "cannot connect: %s", q);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		rc = -EAGAIN;
		tg_http_format_ms(t->timeout_ms, tmp, sizeof(tmp));
		snprintf(what, sizeof(what), "timed out after %s, %s", tmp, waiting_for(t));
		break;
	case CURLE_OUT_OF_MEMORY:
		rc = -EAGAIN;
		snprintf(what, sizeof(what), "out of memory");
		break;
	default:
		if (t->fail_stage >= 0) {
			rc = reply_failure(t, (enum stage)t->fail_stage, what, sizeof(what));
		} else if (rcpts_all_failed(t)) {
			rc = all_refused(t, what, sizeof(what));
		} else {
			/* the connection lost, an answer that made no sense: try again later */
			rc = -EAGAIN;
			snprintf(what, sizeof(what), "%s (%s)", q, waiting_for(t));
		}
		break;
	}
	if (snprintf(error, size, "%s: %s", t->rurl, what) >= (int)size && size >= 4) {
		size_t o = size - 4;

		while (o > 0 && ((unsigned char)error[o] & 0xc0) == 0x80)
			o--;   /* not inside a UTF-8 sequence */
		memcpy(error + o, "...", 4);
	}
	scrub(error, size, t->password);
	return rc;
}

static char *dup_reply(const struct reply *r)
{
	char q[REPLY_MAX * 4 + 8];

	if (r->code == 0)
		return NULL;
	tg_error_quote(r->text, r->len, REPLY_MAX, q, sizeof(q));
	return strdup(q);   /* NULL when out of memory: "or NULL" */
}

static void transfer_free(struct tg_email_transfer *t)
{
	size_t i;

	if (t == NULL)
		return;
	curl_slist_free_all(t->rcpts);
	if (t->to != NULL)
		for (i = 0; i < t->n_to; i++)
			free(t->to[i]);
	free(t->to);
	free(t->rcpt);
	if (t->msg != NULL) {
		explicit_bzero(t->msg, t->len);
		free(t->msg);
	}
	free_secret(t->password);
	free(t);
}

/* The engine cleans easy up after we return, when t is gone: nothing of t
 * may stay reachable from it. */
static void detach(CURL *easy)
{
	(void)curl_easy_setopt(easy, CURLOPT_VERBOSE, 0L);
	(void)curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, (curl_debug_callback)NULL);
	(void)curl_easy_setopt(easy, CURLOPT_DEBUGDATA, (void *)NULL);
	(void)curl_easy_setopt(easy, CURLOPT_READFUNCTION, (curl_read_callback)NULL);
	(void)curl_easy_setopt(easy, CURLOPT_READDATA, (void *)NULL);
	(void)curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, (curl_seek_callback)NULL);
	(void)curl_easy_setopt(easy, CURLOPT_SEEKDATA, (void *)NULL);
	(void)curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, (struct curl_slist *)NULL);
	(void)curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, (char *)NULL);
}

static void on_done(void *ctx, void *easy, int curl_code)
{
	struct tg_email_transfer *t = ctx;
	struct tg_email_result res = { .result = 0 };
	enum tg_rcpt_result *rr;
	char **replies;
	size_t i;

	t->finishing = true;   /* a tg_email_cancel(t) from done is a no-op */
	detach(easy);
	res.result = classify(t, (CURLcode)curl_code, res.error, sizeof(res.error));
	rr = calloc(t->n_to, sizeof(*rr));
	replies = calloc(t->n_to, sizeof(*replies));
	if (rr == NULL || replies == NULL) {
		/* cannot say who got it: the whole message again later */
		free(rr);
		free(replies);
		rr = NULL;
		replies = NULL;
		if (res.result == 0) {
			res.result = -EAGAIN;
			snprintf(res.error, sizeof(res.error), "%s: out of memory after the "
				 "transaction (the message may arrive twice)", t->rurl);
		}
	} else {
		for (i = 0; i < t->n_to; i++) {
			int c = t->rcpt[i].code;

			if (c >= 500)
				rr[i] = TG_RCPT_REFUSED;
			else if (c >= 400)
				rr[i] = TG_RCPT_TEMPFAIL;
			else if (res.result == 0 && c >= 200 && c < 300)
				rr[i] = TG_RCPT_ACCEPTED;
			else   /* no answer of its own: the whole transaction decides */
				rr[i] = res.result == -EPERM ? TG_RCPT_REFUSED : TG_RCPT_TEMPFAIL;
			replies[i] = dup_reply(&t->rcpt[i]);
		}
		res.n_rcpt = t->n_to;
	}
	res.rcpt = rr;
	res.rcpt_reply = replies;
	res.final_reply = dup_reply(&t->stage_reply[ST_EOD]);
	t->done(t->ctx, &res);
	for (i = 0; replies != NULL && i < t->n_to; i++)
		free(replies[i]);
	free(replies);
	free(rr);
	free(res.final_reply);
	transfer_free(t);
}

/* ---- public API ---- */

const char *tg_email_addr_spec(const char *from, char *buf, size_t size)
{
	const char *s, *e, *p, *lt = NULL;

	if (from == NULL || buf == NULL || size == 0)
		return NULL;
	s = from;
	e = from + strlen(from);
	for (p = s; p < e; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return NULL;   /* even in the display name: hostile, not a typo */
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e > s && e[-1] == '>') {
		/* the last '<': a display name may hold one inside its quotes */
		for (p = s; p < e - 1; p++)
			if (*p == '<')
				lt = p;
		if (lt == NULL)
			return NULL;
		s = lt + 1;
		e--;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
	}
	if (s == e || (size_t)(e - s) >= size)
		return NULL;
	for (p = s; p < e; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return NULL;
	memcpy(buf, s, (size_t)(e - s));
	buf[e - s] = '\0';
	return buf;
}

/* Checks what curl would otherwise take as is. */
static int check_request(const struct tg_email_request *req, const char *rurl, bool *smtps,
			 struct tg_error *err)
{
	CURLU *u;
	CURLUcode uc;
	char *scheme = NULL, q[256];
	size_t i;
	int rc = 0;

	if (req->from == NULL || !addr_ok(req->from))
		return tg_error_set(err, "%s: sender \"%s\" is not an address (addr-spec without "
				    "spaces, control characters or angle brackets)", rurl,
				    req->from != NULL ? quote_addr(req->from, q, sizeof(q)) : "");
	if (req->n_to == 0 || req->to == NULL)
		return tg_error_set(err, "%s: no recipients", rurl);
	for (i = 0; i < req->n_to; i++)
		if (req->to[i] == NULL || !addr_ok(req->to[i]))
			return tg_error_set(err, "%s: recipient %zu \"%s\" is not an address (addr-spec "
					    "without spaces, control characters or angle brackets)",
					    rurl, i + 1, req->to[i] != NULL ?
					    quote_addr(req->to[i], q, sizeof(q)) : "");
	if (req->message == NULL && req->len > 0)
		return tg_error_set(err, "%s: message length %zu without a message", rurl, req->len);
	if (req->len > SIZE_MAX / 2 - 1)
		return tg_error_set(err, "%s: message too large (%zu bytes)", rurl, req->len);
	if (req->timeout_ms < 0)
		return tg_error_set(err, "%s: negative timeout", rurl);
	if (req->password != NULL && req->username == NULL)
		return tg_error_set(err, "%s: a password without a user name", rurl);
	if (req->username != NULL) {
		for (i = 0; req->username[i] != '\0'; i++)
			if ((unsigned char)req->username[i] < 0x20 || req->username[i] == 0x7f)
				return tg_error_set(err, "%s: user name with control characters", rurl);
		if (i == 0)
			return tg_error_set(err, "%s: empty user name", rurl);
	}

	u = curl_url();
	if (u == NULL)
		return tg_error_setc(err, -ENOMEM, "%s: out of memory", rurl);
	uc = curl_url_set(u, CURLUPART_URL, req->url, 0);
	if (uc != CURLUE_OK)
		rc = tg_error_set(err, "%s: not a valid URL (%s)", rurl, curl_url_strerror(uc));
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		 (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0))
		rc = tg_error_set(err, "%s: only smtp:// and smtps:// URLs are supported", rurl);
	else
		*smtps = strcmp(scheme, "smtps") == 0;
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

/* The message with every bare CR or LF made CRLF. */
static char *normalise(const char *m, size_t len, size_t *out_len)
{
	size_t i, n = 0;
	char *d;

	for (i = 0; i < len; i++) {
		if (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n') {
			n += 2;
			i++;
		} else if (m[i] == '\r' || m[i] == '\n') {
			n += 2;
		} else {
			n++;
		}
	}
	d = malloc(n + 1);   /* never malloc(0) */
	if (d == NULL)
		return NULL;
	for (i = 0, n = 0; i < len; i++) {
		if (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n') {
			d[n++] = '\r';
			d[n++] = '\n';
			i++;
		} else if (m[i] == '\r' || m[i] == '\n') {
			d[n++] = '\r';
			d[n++] = '\n';
		} else {
			d[n++] = m[i];
		}
	}
	*out_len = n;
	return d;
}

#define SETOPT(opt, val)                                                                   \
	do {                                                                               \
		if (curl_easy_setopt(easy, opt, val) != CURLE_OK) {                       \
			tg_error_set(err, "%s: libcurl refused option %s", t->rurl, #opt);   \
			goto fail;                                                         \
		}                                                                          \
	} while (0)

struct tg_email_transfer *tg_email_send(struct tg_http *h, const struct tg_email_request *req,
					tg_email_done_fn done, void *ctx, struct tg_error *err)
{
	struct tg_email_transfer *t;
	CURL *easy = NULL;
	bool smtps = false;
	char from[ADDR_MAX + 3];
	size_t i;

	if (h == NULL || req == NULL || req->url == NULL || done == NULL) {
		tg_error_set(err, "email: missing engine, request, URL or callback");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		tg_error_setc(err, -ENOMEM, "email: out of memory");
		return NULL;
	}
	t->done = done;
	t->ctx = ctx;
	t->fail_stage = -1;
	t->cur = ST_GREETING;
	tg_http_redact_url(req->url, t->rurl, sizeof(t->rurl));
	if (check_request(req, t->rurl, &smtps, err) < 0)
		goto fail;
	t->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (t->timeout_ms > LONG_MAX / 2)
		t->timeout_ms = LONG_MAX / 2;
	t->n_to = req->n_to;
	t->to = calloc(req->n_to, sizeof(*t->to));
	t->rcpt = calloc(req->n_to, sizeof(*t->rcpt));
	if (t->to == NULL || t->rcpt == NULL)
		goto oom;
	for (i = 0; i < req->n_to; i++) {
		struct curl_slist *l;

		if ((t->to[i] = strdup(req->to[i])) == NULL)
			goto oom;
		l = curl_slist_append(t->rcpts, req->to[i]);
		if (l == NULL)
			goto oom;
		t->rcpts = l;
	}
	if (req->password != NULL && (t->password = strdup(req->password)) == NULL)
		goto oom;
	t->msg = normalise(req->message != NULL ? req->message : "", req->len, &t->len);
	if (t->msg == NULL)
		goto oom;
	snprintf(from, sizeof(from), "<%s>", req->from);
	easy = curl_easy_init();
	if (easy == NULL)
		goto oom;

	SETOPT(CURLOPT_ERRORBUFFER, t->errbuf);
	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_NOPROXY, "*");   /* *_proxy from the environment ignored */
	SETOPT(CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS,
	       (long)(t->timeout_ms < CONNECT_TIMEOUT_MS ? t->timeout_ms : CONNECT_TIMEOUT_MS));
	/* bounds the blocking waits too (final reply, QUIT): curl's default is 120 s */
	SETOPT(CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)((t->timeout_ms + 999) / 1000));
	if (smtps || req->starttls)
		SETOPT(CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	else
		SETOPT(CURLOPT_USE_SSL, (long)CURLUSESSL_NONE);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file != NULL) {
		/* only this CA: the distribution's directory must not widen it */
		SETOPT(CURLOPT_CAINFO, req->ca_file);
		SETOPT(CURLOPT_CAPATH, (char *)NULL);
	}
	if (req->username != NULL) {
		SETOPT(CURLOPT_USERNAME, req->username);
		SETOPT(CURLOPT_PASSWORD, req->password != NULL ? req->password : "");
	}
	SETOPT(CURLOPT_MAIL_FROM, from);
	SETOPT(CURLOPT_MAIL_RCPT, t->rcpts);
	SETOPT(CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
	SETOPT(CURLOPT_UPLOAD, 1L);
	SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->len);
	SETOPT(CURLOPT_READFUNCTION, on_read);
	SETOPT(CURLOPT_READDATA, (void *)t);
	SETOPT(CURLOPT_SEEKFUNCTION, on_seek);
	SETOPT(CURLOPT_SEEKDATA, (void *)t);
	SETOPT(CURLOPT_DEBUGFUNCTION, on_debug);
	SETOPT(CURLOPT_DEBUGDATA, (void *)t);
	SETOPT(CURLOPT_VERBOSE, 1L);

	/* the engine owns easy from here, even when it fails */
	t->easy = easy;
	t->ht = tg_http_start_raw(h, easy, on_done, t, err);
	if (t->ht == NULL) {
		tg_error_prefix(err, "%s", t->rurl);
		transfer_free(t);
		return NULL;
	}
	return t;
oom:
	tg_error_setc(err, -ENOMEM, "%s: out of memory", t->rurl);
fail:
	if (easy != NULL)
		curl_easy_cleanup(easy);
	transfer_free(t);
	return NULL;
}

void tg_email_cancel(struct tg_email_transfer *t)
{
	if (t == NULL || t->finishing)
		return;
	/* libcurl's smtp_done ignores "premature": removing a transfer that has
	 * not failed sends the end of DATA ("\r\n.\r\n": the server accepts
	 * whatever part of the message it got) and waits for the reply with a
	 * blocking poll.  Without recipients it does neither, and the connection
	 * is dropped without QUIT. */
	(void)curl_easy_setopt(t->easy, CURLOPT_MAIL_RCPT, (struct curl_slist *)NULL);
	/* curl may still trace while the handle goes: t must outlive it */
	tg_http_cancel(t->ht);
	transfer_free(t);
}
