/*
 * strbuf.h — a growing NUL-terminated string for building messages and
 * JSON bodies.  After the first failed allocation every operation is a
 * no-op and oom stays set, so callers check once, at the end, instead of
 * at each of a hundred appends.  Zero-initialised is empty.
 */
#ifndef TG_STRBUF_H
#define TG_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct tg_sb {
	char *p;        /* NULL until something is written */
	size_t len, cap;
	bool oom;
};

/* Room for more bytes and a NUL; false (and oom) when it cannot be had. */
bool tg_sb_reserve(struct tg_sb *b, size_t more);
void tg_sb_putn(struct tg_sb *b, const void *s, size_t n);
void tg_sb_puts(struct tg_sb *b, const char *s);
void tg_sb_printf(struct tg_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The string, owned by the caller (never NULL unless out of memory: then
 * NULL and the memory freed), its length in *len if len is not NULL; b is
 * empty again. */
char *tg_sb_take(struct tg_sb *b, size_t *len);
/* Empty again, keeping the memory. */
void tg_sb_reset(struct tg_sb *b);
void tg_sb_free(struct tg_sb *b);
/* The text so far: "" when nothing was written or after a failure. */
const char *tg_sb_str(const struct tg_sb *b);

#endif
