/*
 * error.c — formatting of struct tg_error messages.
 */
#include "error.h"

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

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

/* Copies (escaping) as much of p[0..lim) as fits in room bytes of buf;
 * returns the bytes written and sets *used to the input consumed. */
static size_t quote_fill(const unsigned char *p, size_t len, size_t lim, char *buf, size_t room,
			 size_t *used)
{
	size_t o = 0, i = 0;

	while (i < lim) {
		size_t n = utf8_len(p + i, len - i);

		/* C0 and DEL, and the C1 controls (U+0080..U+009F, which some
		 * terminals obey as escape sequences) are shown as bytes */
		if ((n == 1 && (p[i] < 0x20 || p[i] == 0x7F)) ||
		    (n == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0))
			n = 0;
		if (n == 0) {
			if (o + 4 > room)
				break;
			snprintf(buf + o, 5, "\\x%02X", p[i]);
			o += 4;
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

const char *tg_error_quote(const char *s, size_t len, size_t max, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t lim = len < max ? len : max, used, o;

	if (size == 0)
		return buf;
	o = quote_fill(p, len, lim, buf, size - 1, &used);
	if (used < len) {
		/* cut (by max or by size): again with room for "..." so that
		 * the cut is always visible */
		o = quote_fill(p, len, lim, buf, size > 4 ? size - 4 : 0, &used);
		if (o + 4 <= size) {
			memcpy(buf + o, "...", 3);
			o += 3;
		}
	}
	buf[o] = '\0';
	return buf;
}
