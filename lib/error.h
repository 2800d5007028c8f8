/*
 * error.h — the error value every lib/ function fills in.
 *
 * Functions return 0 (or a positive count) on success and a negative
 * errno-style code on failure; the human message, with its location
 * (FILE:LINE, source name, URL), goes into a caller-supplied struct tg_error.
 * Only main() decides to exit.
 */
#ifndef TG_ERROR_H
#define TG_ERROR_H

#include <stddef.h>

#define TG_ERROR_MAX 1024

struct tg_error {
	char msg[TG_ERROR_MAX];
};

/* Sets err->msg (printf-style); err may be NULL.  Always returns -EINVAL
 * so that "return tg_error_set(err, ...)" reads naturally. */
int tg_error_set(struct tg_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* As tg_error_set, returning code instead of -EINVAL. */
int tg_error_setc(struct tg_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the existing message: "prefix: old message". */
void tg_error_prefix(struct tg_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void tg_error_clear(struct tg_error *err);

/* Copies untrusted text s[0..len) into buf for a message: at most max bytes
 * of it, control bytes (C0, DEL, and the C1 range U+0080..U+009F) and invalid
 * UTF-8 escaped as \xHH, so no data can forge a log line or drive a terminal.
 * A cut (by max or by size) ends with "...".  Returns buf (size 0: untouched). */
const char *tg_error_quote(const char *s, size_t len, size_t max, char *buf, size_t size);

/* As tg_error_quote, for text the message shows between delimiters: the
 * ASCII characters in delims (the delimiter and the backslash, e.g. "'\\")
 * are escaped as \xHH too, with the hex digits in lower case (the form the
 * number, date and store messages have always had).  s may be NULL (empty). */
const char *tg_error_quote_in(const char *s, size_t len, size_t max, const char *delims,
			      char *buf, size_t size);

#endif
