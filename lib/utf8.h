/*
 * utf8.h — the one UTF-8 validator of lib/.
 *
 * Every module that checks, copies or quotes untrusted text asks this one
 * function whether the bytes in front of it form a well-formed UTF-8
 * character, so that all of them agree on what "valid" means; and the
 * parsers of numbers and dates share one idea of a blank.
 */
#ifndef TG_UTF8_H
#define TG_UTF8_H

#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..n), or 0 if there
 * is none: a stray continuation byte, an overlong form (C0, C1, E0 80..9F,
 * F0 80..8F), a surrogate (ED A0..BF), a code point above U+10FFFF (F4 90..,
 * F5..FF) or a sequence cut short by n.  n == 0 gives 0 without reading.
 * An ASCII byte, NUL included, is a sequence of 1.
 *
 * Bytes after s[0] are read one at a time and only while each is a
 * continuation byte (80..BF), never beyond s[n - 1]; since NUL is no
 * continuation byte, NUL-terminated text may pass n = SIZE_MAX. */
size_t tg_utf8_len(const unsigned char *s, size_t n);

/* Length of the blank at s[0..n), or 0: ASCII space, tab, CR, LF, and the
 * no-break spaces spreadsheets put in numbers and dates, U+00A0 (C2 A0) and
 * U+202F (E2 80 AF).  Never reads past s[n - 1]. */
size_t tg_utf8_blank_len(const unsigned char *s, size_t n);

/* Where to cut s[0..len) (valid UTF-8) to keep at most max bytes without
 * splitting a character: min(len, max), less the continuation bytes there. */
size_t tg_utf8_cut(const char *s, size_t len, size_t max);

/* Makes the NUL-terminated s, in place, one line of valid UTF-8 for a
 * status: each byte of an invalid sequence becomes '?', a control
 * character (C0, DEL) a space, and a sequence cut short at the end (text
 * cut by snprintf) is dropped. */
void tg_utf8_scrub(char *s);

/* Drops the blanks (as tg_utf8_blank_len) at both ends of s[0..*len):
 * advances *s and shortens *len. */
void tg_utf8_trim(const char **s, size_t *len);

#endif
