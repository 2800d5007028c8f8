/*
 * error.c — formatting of struct tg_error messages.
 */
#include "error.h"
#include "utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void error_vset(struct tg_error *err, const char *fmt, va_list ap)
{
	if (err == NULL)
		return;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int tg_error_set(struct tg_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int tg_error_setc(struct tg_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, fmt, ap);
	va_end(ap);
	return code;
}

void tg_error_prefix(struct tg_error *err, const char *fmt, ...)
{
	char old[TG_ERROR_MAX];
	size_t n;
	va_list ap;

	if (err == NULL)
		return;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	/* a long message is cut: the location, which comes first, survives */
	if (n < sizeof(err->msg) &&
	    snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", old) >= (int)(sizeof(err->msg) - n))
		err->msg[sizeof(err->msg) - 1] = '\0';
}

void tg_error_clear(struct tg_error *err)
{
	if (err != NULL)
		err->msg[0] = '\0';
}

/* Copies (escaping) as much of p[0..lim) as fits in room bytes of buf;
 * returns the bytes written and sets *used to the input consumed.  Besides
 * the controls and invalid UTF-8, the ASCII characters in also are escaped;
 * hex holds the 16 digits to write. */
static size_t quote_fill(const unsigned char *p, size_t len, size_t lim, const char *also,
			 const char *hex, char *buf, size_t room, size_t *used)
{
	size_t o = 0, i = 0;

	while (i < lim) {
		size_t n = tg_utf8_len(p + i, len - i);

		/* C0 and DEL, and the C1 controls (U+0080..U+009F, which some
		 * terminals obey as escape sequences) are shown as bytes */
		if ((n == 1 && (p[i] < 0x20 || p[i] == 0x7F || strchr(also, p[i]) != NULL)) ||
		    (n == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0))
			n = 0;
		if (n == 0) {
			if (o + 4 > room)
				break;
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[p[i] >> 4];
			buf[o++] = hex[p[i] & 15];
			i++;
			continue;
		}
		if (o + n > room)
			break;
		memcpy(buf + o, p + i, n);
		o += n;
		i += n;
	}
	*used = i;
	return o;
}

static const char *quote(const char *s, size_t len, size_t max, const char *also,
			 const char *hex, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t lim, used, o;

	if (size == 0)
		return buf;
	if (s == NULL)
		len = 0;
	lim = len < max ? len : max;
	o = quote_fill(p, len, lim, also, hex, buf, size - 1, &used);
	if (used < len) {
		/* cut (by max or by size): again with room for "..." so that
		 * the cut is always visible */
		o = quote_fill(p, len, lim, also, hex, buf, size > 4 ? size - 4 : 0, &used);
		if (o + 4 <= size) {
			memcpy(buf + o, "...", 3);
			o += 3;
		}
	}
	buf[o] = '\0';
	return buf;
}

const char *tg_error_quote(const char *s, size_t len, size_t max, char *buf, size_t size)
{
	return quote(s, len, max, "", "0123456789ABCDEF", buf, size);
}

const char *tg_error_quote_in(const char *s, size_t len, size_t max, const char *delims,
			      char *buf, size_t size)
{
	return quote(s, len, max, delims, "0123456789abcdef", buf, size);
}
