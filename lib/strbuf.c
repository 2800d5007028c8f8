/*
 * strbuf.c — the growing string of message.c, notify_webhook.c and mime.c
 * (see strbuf.h): doubling from 256 bytes, bounded to SIZE_MAX / 2.
 */
#include "strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool tg_sb_reserve(struct tg_sb *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (more > SIZE_MAX / 2 - b->len - 1) {
		b->oom = true;
		return false;
	}
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < b->len + more + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void tg_sb_putn(struct tg_sb *b, const void *s, size_t n)
{
	if (!tg_sb_reserve(b, n))
		return;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void tg_sb_puts(struct tg_sb *b, const char *s)
{
	tg_sb_putn(b, s, strlen(s));
}

void tg_sb_printf(struct tg_sb *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		tg_sb_putn(b, small, (size_t)n);
		return;
	}
	if (!tg_sb_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *tg_sb_take(struct tg_sb *b, size_t *len)
{
	char *p;

	tg_sb_putn(b, "", 0);  /* an empty result is still a string */
	if (b->oom) {
		free(b->p);
		*b = (struct tg_sb){ 0 };
		return NULL;
	}
	p = b->p;
	if (len != NULL)
		*len = b->len;
	*b = (struct tg_sb){ 0 };
	return p;
}

void tg_sb_reset(struct tg_sb *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void tg_sb_free(struct tg_sb *b)
{
	free(b->p);
	*b = (struct tg_sb){ 0 };
}

const char *tg_sb_str(const struct tg_sb *b)
{
	return b->p != NULL && !b->oom ? b->p : "";
}
