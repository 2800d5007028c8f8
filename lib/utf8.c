/*
 * utf8.c — the UTF-8 helpers shared by every module (see utf8.h).
 *
 * Validation follows the table of well-formed byte sequences of the Unicode
 * standard (chapter 3, table 3-7): the lead byte fixes the length and the
 * range allowed for the second byte, which is where overlongs, surrogates
 * and code points above U+10FFFF are excluded; later bytes are plain
 * continuation bytes.
 *
 * Blanks: what a spreadsheet or an office suite may put around or inside a
 * number or a date, where a person sees only a space.
 */
#include "utf8.h"

#include <string.h>

size_t tg_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		if (s[0] == 0xE0)
			lo = 0xA0;      /* below: overlong (< U+0800) */
		else if (s[0] == 0xED)
			hi = 0x9F;      /* above: surrogates U+D800..U+DFFF */
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		if (s[0] == 0xF0)
			lo = 0x90;      /* below: overlong (< U+10000) */
		else if (s[0] == 0xF4)
			hi = 0x8F;      /* above: beyond U+10FFFF */
	} else {
		return 0;               /* continuation byte, C0, C1, F5..FF */
	}
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

size_t tg_utf8_blank_len(const unsigned char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n')
		return 1;
	if (n >= 2 && s[0] == 0xC2 && s[1] == 0xA0)
		return 2;
	if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 && s[2] == 0xAF)
		return 3;
	return 0;
}

size_t tg_utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;

	while (n > 0 && n < len && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

void tg_utf8_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t left = strlen(s);

	while (*p != '\0') {
		size_t n = tg_utf8_len(p, left);

		if (n == 0) {
			/* cut short at the very end: drop it; else one '?' a byte */
			size_t k = 1;

			while (k < left && (p[k] & 0xC0) == 0x80)
				k++;
			if (k == left && *p >= 0xC2 && *p <= 0xF4) {
				*p = '\0';
				return;
			}
			*p++ = '?';
			left--;
			continue;
		}
		if (n == 1 && (*p < 0x20 || *p == 0x7F))
			*p = ' ';
		p += n;
		left -= n;
	}
}

/* The blank that ends s[0..n), or 0. */
static size_t blank_len_back(const unsigned char *s, size_t n)
{
	if (n >= 1 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		return 1;
	if (n >= 2 && s[n - 2] == 0xC2 && s[n - 1] == 0xA0)
		return 2;
	if (n >= 3 && s[n - 3] == 0xE2 && s[n - 2] == 0x80 && s[n - 1] == 0xAF)
		return 3;
	return 0;
}

void tg_utf8_trim(const char **s, size_t *len)
{
	const unsigned char *u = (const unsigned char *)*s;
	size_t i = 0, n = *len, k;

	while (i < n && (k = tg_utf8_blank_len(u + i, n - i)) > 0)
		i += k;
	while (n > i && (k = blank_len_back(u + i, n - i)) > 0)
		n -= k;
	*s += i;
	*len = n - i;
}
