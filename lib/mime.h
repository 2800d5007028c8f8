/*
 * mime.h — Internet messages that any mail client reads and no data can
 * break: RFC 5322 headers, RFC 2047 encoded words, multipart/alternative
 * with a text/plain and a text/html part in quoted-printable.
 *
 * Guarantees of tg_mime_build, whatever the input strings hold:
 *  - the output is 7-bit ASCII with CRLF line ends, every line <= 78
 *    characters except unbreakable tokens (always <= 998);
 *  - a header value never contains CR or LF except as folding (CRLF + space)
 *    produced here: no data can add a header or a recipient;
 *  - non-ASCII or "unsafe" header text becomes RFC 2047 encoded words
 *    (=?UTF-8?B?...?=, each <= 75 characters, never splitting a UTF-8
 *    character), folded between words; invalid UTF-8 is replaced by U+FFFD
 *    first; control characters become spaces;
 *  - addresses must pass tg_config_email_valid (display names are encoded
 *    like any header text); a bad one is an error, never sent;
 *  - Date (RFC 5322, numeric zone), Message-ID "<ID@DOMAIN>" (DOMAIN: the
 *    one given, else the From address's), MIME-Version, X-Traguardo-Event,
 *    Auto-Submitted: auto-generated, Content-Language, X-Mailer.
 */
#ifndef TG_MIME_H
#define TG_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct tg_mime_email {
	const char *from;               /* "Name <addr>" or "addr" */
	const char *const *to;          /* addr-specs */
	size_t n_to;
	const char *subject;            /* UTF-8, anything */
	const char *text;               /* UTF-8 body, "\n" or "\r\n" line ends */
	const char *html;               /* UTF-8 HTML document; NULL = text only */
	const char *id;                 /* [A-Za-z0-9]{1,64}: Message-ID local part
					   and X-Traguardo-Event */
	const char *domain;             /* Message-ID right side; NULL = the from
					   address's domain */
	const char *lang;               /* Content-Language, "it"/"en"; may be NULL */
	int64_t date;                   /* unix seconds */
	int utc_offset;                 /* seconds east of UTC for the Date header */
};

/* Builds the message; *out (caller frees) is NUL-terminated, *len excludes
 * the NUL.  Returns 0, -EINVAL with err (a bad address, id, domain or lang,
 * no recipient, a date outside the years 1900..9999 or an offset of a day
 * or more), -ENOMEM; on error *out is NULL. */
int tg_mime_build(const struct tg_mime_email *m, char **out, size_t *len,
		  struct tg_error *err);

/* The header field "Name: value" folded and encoded as above, CRLF at the
 * end; name must be a valid field name (1..75 printable ASCII characters,
 * no ':').  value NULL is empty.  Caller frees.  NULL on ENOMEM or a bad
 * name. */
char *tg_mime_header(const char *name, const char *value);

/* Decodes an unfolded header value made of RFC 2047 words and text (for
 * tests and the fuzzer's round trip): B and Q, charset UTF-8 or US-ASCII
 * (any case, "*lang" allowed), white space between adjacent encoded words
 * dropped, other text kept.  Caller frees; NULL if value is NULL or
 * malformed (an encoded word in another charset or with bad base64 or Q,
 * a result that is not UTF-8 or holds a NUL). */
char *tg_mime_decode_header(const char *value);

/* Quoted-printable body encoding (RFC 2045, CRLF line ends, lines <= 76).
 * "\n" and "\r\n" become CRLF, any other byte (NUL and a lone CR too) is
 * kept, encoded when not printable ASCII; '=' and white space before a line
 * end are encoded, and so are a '.' or the 'F' of "From " at a line start
 * (for relays that forget dot-stuffing and for mbox files).  text NULL is
 * empty; out_len may be NULL.  Caller frees; NULL on ENOMEM. */
char *tg_mime_qp_encode(const char *text, size_t len, size_t *out_len);

#endif
