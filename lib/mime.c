/*
 * mime.c — the Internet message of one email notification (see mime.h).
 *
 * Everything a person or the configuration supplies (subject, display name,
 * bodies) is hostile here: it may hold line breaks meant to add a Bcc:, text
 * that looks like an encoded word, invalid UTF-8 or one 100 KB line.  So the
 * output is made only of pieces this file spells itself: header names from a
 * fixed list, addresses that passed tg_config_email_valid, RFC 2047 encoded
 * words (base64, whose alphabet cannot end a line or a header), plain ASCII
 * words that were checked one by one, and quoted-printable bodies.  Folding
 * is done here and only between those pieces, so a header line is never
 * longer than 78 characters unless one unbreakable piece (an address, the
 * boundary parameter) is, and even then it stays far below 998.
 *
 * The multipart boundary starts with "=_": quoted-printable writes '='
 * only before two hex digits or a line break, so no body line can ever
 * look like a delimiter, whatever the text says.
 */
#include "mime.h"

#include "config.h"
#include "strbuf.h"
#include "utf8.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_SOFT 78            /* RFC 5322 2.1.1: lines SHOULD stay within */
#define WORD_MAX 75             /* RFC 2047 2: an encoded word at most */
#define WORD_OVERHEAD 12        /* "=?UTF-8?B?" + "?=" */
#define QP_LINE 76              /* RFC 2045 6.7 (5), the soft-break '=' included */
#define ID_MAX 64
#define QUOTE_MAX 40

/* ------------------------------------------------------------------ */
/* Text. */

static bool is_control_at(const unsigned char *p, size_t n)
{
	return p[0] < 0x20 || p[0] == 0x7F || (n == 2 && p[0] == 0xC2 && p[1] <= 0x9F);
}

/* A copy of s (NULL reads as "") where every byte that starts no
 * well-formed UTF-8 sequence becomes U+FFFD, so that "charset=UTF-8" is
 * true; in header text (header) the controls (C0, DEL, C1) also become
 * spaces: no CR, LF or NUL can reach a header.  NULL on ENOMEM. */
static char *sanitize(const char *s, bool header)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t len = strlen((const char *)p);
	struct tg_sb b = { 0 };

	for (size_t i = 0; i < len;) {
		size_t n = tg_utf8_len(p + i, len - i);

		if (n == 0) {
			tg_sb_putn(&b, "\xEF\xBF\xBD", 3);
			i++;
		} else if (header && is_control_at(p + i, n)) {
			tg_sb_putn(&b, " ", 1);
			i += n;
		} else {
			tg_sb_putn(&b, p + i, n);
			i += n;
		}
	}
	return tg_sb_take(&b, NULL);
}

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* RFC 5322 atext: what a display-name word may hold without quotes. */
static bool is_atext(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool has_encoded_word_start(const char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] == '=' && s[i + 1] == '?')
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Header folding.  A field is its name and a list of tokens, each written
 * after one space; a line break (CRLF) goes before that space when the token
 * would pass column 78.  Unfolding (removing the CRLFs) gives back exactly
 * the tokens separated by single spaces. */

struct hdr {
	struct tg_sb *b;
	size_t col;
};

static void hdr_start(struct hdr *h, struct tg_sb *b, const char *name)
{
	h->b = b;
	tg_sb_puts(b, name);
	tg_sb_putn(b, ":", 1);
	h->col = strlen(name) + 1;
}

static void hdr_token(struct hdr *h, const char *t, size_t n)
{
	if (h->col + 1 + n > LINE_SOFT) {
		tg_sb_putn(h->b, "\r\n", 2);
		h->col = 0;
	}
	tg_sb_putn(h->b, " ", 1);
	tg_sb_putn(h->b, t, n);
	h->col += 1 + n;
}

static void hdr_end(struct hdr *h)
{
	tg_sb_putn(h->b, "\r\n", 2);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of s[0..n) into out (4 * ceil(n / 3) bytes); returns its length. */
static size_t base64(const unsigned char *s, size_t n, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

/* Bytes of text that an encoded word of at most width characters holds. */
static size_t word_bytes(size_t width)
{
	if (width > WORD_MAX)
		width = WORD_MAX;
	if (width < WORD_OVERHEAD + 4)
		return 0;
	return (width - WORD_OVERHEAD) / 4 * 3;
}

/* Valid UTF-8 s[0..n) as B encoded words: each fills what is left of the
 * current line (or a new one) with whole characters only, so that every word
 * decodes to valid UTF-8 alone, as RFC 2047 section 5 asks. */
static void hdr_encoded(struct hdr *h, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		char word[WORD_MAX + 1];
		size_t room = h->col + 1 < LINE_SOFT ? LINE_SOFT - h->col - 1 : 0;
		size_t max = word_bytes(room), take = 0, o;

		for (int pass = 0; pass < 2; pass++) {
			take = 0;
			while (i + take < n) {
				size_t c = tg_utf8_len(p + i + take, n - i - take);

				if (c == 0)     /* not after sanitize(); never loop */
					c = 1;
				if (take + c > max)
					break;
				take += c;
			}
			if (take > 0)
				break;
			max = word_bytes(LINE_SOFT - 1);   /* on a line of its own */
		}
		/* a word that ends after a space: readers that wrongly keep the
		 * white space between encoded words (Python's address parser
		 * before gh-128110, older webmail) then show "e  Controllo"
		 * rather than "e Con trollo" */
		if (i + take < n) {
			size_t j = take;

			while (j > 1 && p[i + j - 1] != ' ')
				j--;
			if (j > 1)
				take = j;
		}
		memcpy(word, "=?UTF-8?B?", 10);
		o = 10 + base64(p + i, take, word + 10);
		word[o++] = '?';
		word[o++] = '=';
		hdr_token(h, word, o);
		i += take;
	}
}

/* Whether s[0..n) can go out as it is, as words separated by single spaces:
 * printable ASCII, no "=?" that a reader would decode, no leading, trailing
 * or repeated space (kept exactly only inside encoded words), and each word
 * fits on its line (first: the room after "Name:"). */
static bool plain_ok(const char *s, size_t n, size_t first_room, bool atext_only)
{
	size_t word = 0, room = first_room;

	if (has_encoded_word_start(s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ') {
			if (word == 0)
				return false;   /* leading or repeated */
			word = 0;
			room = LINE_SOFT - 1;
		} else if (c < 0x21 || c > 0x7E || (atext_only && !is_atext(c))) {
			return false;
		} else if (++word > room) {
			return false;
		}
	}
	return n == 0 || word > 0;
}

static void hdr_words(struct hdr *h, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && s[j] != ' ')
			j++;
		hdr_token(h, s + i, j - i);
		i = j + 1;
	}
}

static size_t room_after_name(const struct hdr *h)
{
	return h->col + 1 < LINE_SOFT ? LINE_SOFT - h->col - 1 : 0;
}

/* An unstructured field (Subject): sanitized, then as it is or encoded. */
static void put_unstructured(struct tg_sb *b, const char *name, const char *value)
{
	char *s = sanitize(value, true);
	struct hdr h;
	size_t n;

	if (s == NULL) {
		b->oom = true;
		return;
	}
	n = strlen(s);
	hdr_start(&h, b, name);
	if (plain_ok(s, n, room_after_name(&h), false))
		hdr_words(&h, s, n);
	else
		hdr_encoded(&h, s, n);
	hdr_end(&h);
	free(s);
}

/* A display name (RFC 5322 phrase): atext words as they are; other
 * printable ASCII as one quoted-string when it fits; anything else as
 * encoded words, which RFC 2047 5 (3) allows in a phrase. */
static void hdr_phrase(struct hdr *h, const char *s, size_t n)
{
	bool ascii = !has_encoded_word_start(s, n);
	size_t qlen = 2;

	if (plain_ok(s, n, room_after_name(h), true)) {
		hdr_words(h, s, n);
		return;
	}
	for (size_t i = 0; i < n && ascii; i++) {
		unsigned char c = (unsigned char)s[i];

		ascii = c >= 0x20 && c <= 0x7E;
		qlen += (c == '"' || c == '\\') ? 2 : 1;
	}
	if (ascii && qlen <= room_after_name(h)) {
		char q[LINE_SOFT];
		size_t o = 0;

		q[o++] = '"';
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '"' || s[i] == '\\')
				q[o++] = '\\';
			q[o++] = s[i];
		}
		q[o++] = '"';
		hdr_token(h, q, o);
		return;
	}
	hdr_encoded(h, s, n);
}

/* ------------------------------------------------------------------ */
/* Public: one header field. */

static bool field_name_ok(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return false;
	for (; name[n] != '\0'; n++)
		if ((unsigned char)name[n] < 33 || (unsigned char)name[n] > 126 || name[n] == ':')
			return false;
	/* "Name: " plus one character must fit on a line */
	return n > 0 && n <= LINE_SOFT - 3;
}

char *tg_mime_header(const char *name, const char *value)
{
	struct tg_sb b = { 0 };

	if (!field_name_ok(name))
		return NULL;
	put_unstructured(&b, name, value);
	return tg_sb_take(&b, NULL);
}

/* ------------------------------------------------------------------ */
/* Decoding (tests and the fuzzer's round trip). */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int b64val(unsigned char c)
{
	const char *p = c != '\0' && c != '=' ? strchr(b64, c) : NULL;

	return p != NULL ? (int)(p - b64) : -1;
}

static bool caseless_eq(const char *s, size_t n, const char *lit)
{
	size_t i = 0;

	for (; i < n && lit[i] != '\0'; i++) {
		unsigned char a = (unsigned char)s[i], c = (unsigned char)lit[i];

		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (a != c)
			return false;
	}
	return i == n && lit[i] == '\0';
}

static int decode_b(const char *t, size_t n, struct tg_sb *out)
{
	uint32_t acc = 0;
	size_t bits = 0, data = 0, pad;

	for (; data < n && t[data] != '='; data++) {
		int v = b64val((unsigned char)t[data]);

		if (v < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xFFFFFF;
		bits += 6;
		if (bits >= 8) {
			unsigned char c = (unsigned char)(acc >> (bits - 8));

			tg_sb_putn(out, &c, 1);
			bits -= 8;
		}
	}
	for (pad = 0; data + pad < n; pad++)
		if (t[data + pad] != '=')
			return -1;
	/* one character alone cannot end a quantum; padding, when present,
	 * completes the last one exactly; the bits left over are zero */
	if (data % 4 == 1 || (pad > 0 && (data + pad) % 4 != 0) ||
	    (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return 0;
}

static int decode_q(const char *t, size_t n, struct tg_sb *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == '_') {
			c = ' ';
		} else if (c == '=') {
			int hi, lo;

			if (n - i < 3)
				return -1;
			if ((hi = hexval((unsigned char)t[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)t[i + 2])) < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c < 0x21 || c > 0x7E) {
			return -1;
		}
		tg_sb_putn(out, &c, 1);
	}
	return 0;
}

/* t[0..n) as an encoded word: 1 decoded into out, 0 not an encoded word
 * (plain text), -1 an encoded word that cannot be decoded. */
static int decode_word(const char *t, size_t n, struct tg_sb *out)
{
	const char *cs, *enc, *text, *end = t + n;
	size_t cs_len, star;

	if (n < 8 || t[0] != '=' || t[1] != '?' || t[n - 2] != '?' || t[n - 1] != '=')
		return 0;
	cs = t + 2;
	if ((enc = memchr(cs, '?', (size_t)(end - cs))) == NULL || enc + 2 >= end ||
	    enc[2] != '?')
		return 0;
	enc++;
	text = enc + 2;
	if (text > end - 2 || memchr(text, '?', (size_t)(end - 2 - text)) != NULL)
		return 0;
	cs_len = (size_t)(enc - 1 - cs);
	if (cs_len == 0)
		return 0;
	for (star = 0; star < cs_len && cs[star] != '*'; star++)
		;
	/* RFC 2231 5: "UTF-8*it" names the language too */
	if (!caseless_eq(cs, star, "UTF-8") && !caseless_eq(cs, star, "US-ASCII"))
		return -1;
	if (*enc == 'B' || *enc == 'b')
		return decode_b(text, (size_t)(end - 2 - text), out) < 0 ? -1 : 1;
	if (*enc == 'Q' || *enc == 'q')
		return decode_q(text, (size_t)(end - 2 - text), out) < 0 ? -1 : 1;
	return -1;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *tg_mime_decode_header(const char *value)
{
	struct tg_sb b = { 0 };
	const char *p = value;
	bool prev_encoded = false;
	size_t len;
	char *s;

	if (value == NULL)
		return NULL;
	while (*p != '\0') {
		const char *ws = p, *t;
		int rc;

		while (is_wsp(*p))
			p++;
		t = p;
		while (*p != '\0' && !is_wsp(*p))
			p++;
		if (t == p) {           /* trailing white space */
			tg_sb_putn(&b, ws, (size_t)(p - ws));
			break;
		}
		/* RFC 2047 6.2: white space between two encoded words is dropped */
		struct tg_sb word = { 0 };

		rc = decode_word(t, (size_t)(p - t), &word);
		if (rc < 0 || word.oom) {
			free(word.p);
			free(b.p);
			return NULL;
		}
		if (rc == 0 || !prev_encoded)
			tg_sb_putn(&b, ws, (size_t)(t - ws));
		if (rc == 0)
			tg_sb_putn(&b, t, (size_t)(p - t));
		else
			tg_sb_putn(&b, word.p != NULL ? word.p : "", word.len);
		free(word.p);
		prev_encoded = rc > 0;
	}
	if ((s = tg_sb_take(&b, &len)) == NULL)
		return NULL;
	/* the words may split a character between them (other encoders do):
	 * only the whole result has to be UTF-8, without NUL */
	for (size_t i = 0; i < len;) {
		size_t n = tg_utf8_len((const unsigned char *)s + i, len - i);

		if (n == 0 || s[i] == '\0') {
			free(s);
			return NULL;
		}
		i += n;
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* Quoted-printable. */

static const char hexdig[] = "0123456789ABCDEF";

static size_t qp_escape(const unsigned char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		out[o++] = '=';
		out[o++] = hexdig[s[i] >> 4];
		out[o++] = hexdig[s[i] & 15];
	}
	return o;
}

/* Length of the line end at p[0..n): "\n" or "\r\n", else 0. */
static size_t eol_len(const unsigned char *p, size_t n)
{
	if (n >= 1 && p[0] == '\n')
		return 1;
	if (n >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	return 0;
}

/* The encoding of the character at p[0..n) when it lands in column col:
 * returns its length in tok (at most 12) and the input bytes in *used. */
static size_t qp_token(const unsigned char *p, size_t n, size_t col, char *tok, size_t *used)
{
	unsigned char c = p[0];

	*used = 1;
	if (c == ' ' || c == '\t') {
		/* trailing white space would be eaten by relays (RFC 2045 6.7 (3)) */
		if (n == 1 || eol_len(p + 1, n - 1) > 0)
			return qp_escape(p, 1, tok);
		tok[0] = (char)c;
		return 1;
	}
	if (c >= 0x80) {
		/* keep the bytes of one character on one line: some readers
		 * decode line by line */
		size_t k = tg_utf8_len(p, n);

		*used = k > 0 ? k : 1;
		return qp_escape(p, *used, tok);
	}
	/* a '.' alone at a line start ends an SMTP DATA when a relay forgets
	 * to dot-stuff; "From " starts a new message in an mbox */
	if (c < 0x21 || c > 0x7E || c == '=' || (col == 0 && c == '.') ||
	    (col == 0 && c == 'F' && n >= 5 && memcmp(p, "From ", 5) == 0))
		return qp_escape(p, 1, tok);
	tok[0] = (char)c;
	return 1;
}

char *tg_mime_qp_encode(const char *text, size_t len, size_t *out_len)
{
	const unsigned char *p = (const unsigned char *)text;
	struct tg_sb b = { 0 };
	size_t col = 0;

	if (text == NULL)
		len = 0;
	for (size_t i = 0; i < len;) {
		size_t e = eol_len(p + i, len - i), tn, used;
		char tok[16];

		if (e > 0) {
			tg_sb_putn(&b, "\r\n", 2);
			col = 0;
			i += e;
			continue;
		}
		tn = qp_token(p + i, len - i, col, tok, &used);
		if (col + tn > QP_LINE - 1) {
			/* soft line break; the token may change at column 0 */
			tg_sb_putn(&b, "=\r\n", 3);
			col = 0;
			tn = qp_token(p + i, len - i, col, tok, &used);
		}
		tg_sb_putn(&b, tok, tn);
		col += tn;
		i += used;
	}
	return tg_sb_take(&b, out_len);
}

/* ------------------------------------------------------------------ */
/* Date (RFC 5322 3.3), computed here: strftime would follow the locale. */

#define DATE_MIN INT64_C(-2208988800)   /* 1900-01-01T00:00:00Z */
#define DATE_MAX INT64_C(253402300799)  /* 9999-12-31T23:59:59Z */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int format_date(int64_t t, int utc_offset, char *out, size_t size, struct tg_error *err)
{
	static const char *const wday[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int64_t off_min, local, days, secs, z, era, doe, yoe, doy, mp, y, m, d;

	if (utc_offset <= -86400 || utc_offset >= 86400)
		return tg_error_set(err, "UTC offset %d s out of range (more than a day)", utc_offset);
	if (t < DATE_MIN || t > DATE_MAX)
		return tg_error_set(err, "date %lld out of range (years 1900 to 9999)", (long long)t);
	/* the zone is in whole minutes (a local mean time like +00:49:56
	 * becomes +0049), and the wall clock shown must agree with it */
	off_min = utc_offset / 60;
	local = t + off_min * 60;
	if (local < DATE_MIN || local > DATE_MAX)
		return tg_error_set(err, "date %lld out of range (years 1900 to 9999)", (long long)t);
	days = floor_div(local, 86400);
	secs = local - days * 86400;

	/* civil date from days since 1970-01-01 (proleptic Gregorian), the
	 * era-based algorithm of H. Hinnant's "chrono-compatible low-level
	 * date algorithms" */
	z = days + 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);

	snprintf(out, size, "%s, %d %s %04d %02d:%02d:%02d %c%02d%02d",
		 wday[days + 4 - floor_div(days + 4, 7) * 7], (int)d, mon[m - 1], (int)y,
		 (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
		 off_min < 0 ? '-' : '+', (int)((off_min < 0 ? -off_min : off_min) / 60),
		 (int)((off_min < 0 ? -off_min : off_min) % 60));
	return 0;
}

/* ------------------------------------------------------------------ */
/* The message. */

static const char *quoted(const char *s, char *buf, size_t size)
{
	return tg_error_quote_in(s, s != NULL ? strlen(s) : 0, QUOTE_MAX, "\"\\", buf, size);
}

static bool id_ok(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return false;
	for (; id[n] != '\0'; n++)
		if (!is_alnum((unsigned char)id[n]) || n >= ID_MAX)
			return false;
	return n > 0;
}

/* BCP 47 as far as a header needs: alphanumeric subtags of 1 to 8
 * separated by '-', the first alphabetic ("it", "en-GB", "de-CH-1996"). */
static bool lang_ok(const char *s)
{
	size_t sub = 0, total = 0;
	bool first = true;

	for (; s[total] != '\0'; total++) {
		unsigned char c = (unsigned char)s[total];

		if (c == '-') {
			if (sub == 0)
				return false;
			sub = 0;
			first = false;
		} else if (first ? !is_alpha(c) : !is_alnum(c)) {
			return false;
		} else if (++sub > 8) {
			return false;
		}
		if (total >= 35)
			return false;
	}
	return sub > 0;
}

static bool domain_ok(const char *d)
{
	char probe[300];
	size_t n = strlen(d);

	if (n == 0 || n > 253)
		return false;
	probe[0] = 'x';
	probe[1] = '@';
	memcpy(probe + 2, d, n + 1);
	return tg_config_email_valid(probe, false);
}

/* From, split: the name (maybe empty, unquoted, trimmed) and the address.
 * from has passed tg_config_email_valid(from, true). */
static int split_from(const char *from, char **name, char **addr)
{
	size_t len = strlen(from), lt, a = 0, z;

	*name = *addr = NULL;
	if (tg_config_email_valid(from, false)) {
		*name = strdup("");
		*addr = strdup(from);
		return *name != NULL && *addr != NULL ? 0 : -ENOMEM;
	}
	/* an addr-spec has no '<', so the last one opens it */
	for (lt = len - 1; lt > 0 && from[lt] != '<'; lt--)
		;
	if ((*addr = strndup(from + lt + 1, len - lt - 2)) == NULL ||
	    (*name = malloc(lt + 1)) == NULL)
		return -ENOMEM;
	z = lt;
	if (from[0] == '"') {
		size_t o = 0;

		for (size_t i = 1; i < z && from[i] != '"'; i++) {
			if (from[i] == '\\' && i + 1 < z)
				i++;
			(*name)[o++] = from[i];
		}
		(*name)[o] = '\0';
	} else {
		memcpy(*name, from, z);
		(*name)[z] = '\0';
	}
	/* trim the name: spaces at its ends say nothing */
	len = strlen(*name);
	while (a < len && (*name)[a] == ' ')
		a++;
	while (len > a && (*name)[len - 1] == ' ')
		len--;
	memmove(*name, *name + a, len - a);
	(*name)[len - a] = '\0';
	return 0;
}

static void put_tokens(struct tg_sb *b, const char *name, const char *const *tok, size_t n)
{
	struct hdr h;

	hdr_start(&h, b, name);
	for (size_t i = 0; i < n; i++)
		hdr_token(&h, tok[i], strlen(tok[i]));
	hdr_end(&h);
}

static void put_part_headers(struct tg_sb *b, const char *type)
{
	const char *ct[] = { type, "charset=UTF-8" };

	put_tokens(b, "Content-Type", ct, 2);
	tg_sb_puts(b, "Content-Transfer-Encoding: quoted-printable\r\n");
}

/* The body sanitized and quoted-printable, appended to b. */
static void put_body(struct tg_sb *b, const char *text)
{
	char *s = sanitize(text, false), *qp = NULL;
	size_t n = 0;

	if (s != NULL)
		qp = tg_mime_qp_encode(s, strlen(s), &n);
	if (qp == NULL)
		b->oom = true;
	else
		tg_sb_putn(b, qp, n);
	free(s);
	free(qp);
}

static int check(const struct tg_mime_email *m, struct tg_error *err)
{
	char q[256];

	if (!id_ok(m->id))
		return tg_error_set(err, "message id \"%s\" is not 1 to %d letters and digits",
				    quoted(m->id, q, sizeof(q)), ID_MAX);
	if (!tg_config_email_valid(m->from, true))
		return tg_error_set(err, "sender \"%s\" is not an email address like "
				    "\"name@example.org\" or \"Name <name@example.org>\"",
				    quoted(m->from, q, sizeof(q)));
	if (m->n_to == 0 || m->to == NULL)
		return tg_error_set(err, "message %s has no recipient", m->id);
	for (size_t i = 0; i < m->n_to; i++)
		if (!tg_config_email_valid(m->to[i], false))
			return tg_error_set(err, "recipient %zu \"%s\" is not an email address like "
					    "\"name@example.org\"", i + 1, quoted(m->to[i], q, sizeof(q)));
	if (m->domain != NULL && !domain_ok(m->domain))
		return tg_error_set(err, "Message-ID domain \"%s\" is not a domain name",
				    quoted(m->domain, q, sizeof(q)));
	if (m->lang != NULL && !lang_ok(m->lang))
		return tg_error_set(err, "language \"%s\" is not a language tag like \"it\"",
				    quoted(m->lang, q, sizeof(q)));
	return 0;
}

int tg_mime_build(const struct tg_mime_email *m, char **out, size_t *len, struct tg_error *err)
{
	struct tg_sb b = { 0 };
	char date[64], boundary[8 + ID_MAX], msgid[4 + ID_MAX + 256];
	char *name = NULL, *addr = NULL;
	struct hdr h;
	int rc;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (m == NULL)
		return tg_error_set(err, "no message");
	if ((rc = check(m, err)) < 0 ||
	    (rc = format_date(m->date, m->utc_offset, date, sizeof(date), err)) < 0)
		return rc;
	if (split_from(m->from, &name, &addr) < 0) {
		free(name);
		free(addr);
		return tg_error_setc(err, -ENOMEM, "out of memory");
	}
	snprintf(boundary, sizeof(boundary), "=_tg_%s", m->id);
	snprintf(msgid, sizeof(msgid), "<%s@%s>", m->id,
		 m->domain != NULL ? m->domain : strrchr(addr, '@') + 1);

	tg_sb_puts(&b, "Date: ");
	tg_sb_puts(&b, date);
	tg_sb_puts(&b, "\r\n");

	hdr_start(&h, &b, "From");
	if (name[0] != '\0') {
		char *s = sanitize(name, true);
		size_t an = strlen(addr);
		char *angle = malloc(an + 3);

		if (s == NULL || angle == NULL) {
			b.oom = true;
		} else {
			hdr_phrase(&h, s, strlen(s));
			angle[0] = '<';
			memcpy(angle + 1, addr, an);
			angle[an + 1] = '>';
			hdr_token(&h, angle, an + 2);
		}
		free(s);
		free(angle);
	} else {
		hdr_token(&h, addr, strlen(addr));
	}
	hdr_end(&h);

	hdr_start(&h, &b, "To");
	for (size_t i = 0; i < m->n_to; i++) {
		size_t n = strlen(m->to[i]);

		if (i + 1 < m->n_to) {
			char *t = malloc(n + 2);

			if (t == NULL) {
				b.oom = true;
				break;
			}
			memcpy(t, m->to[i], n);
			t[n] = ',';
			hdr_token(&h, t, n + 1);
			free(t);
		} else {
			hdr_token(&h, m->to[i], n);
		}
	}
	hdr_end(&h);

	put_unstructured(&b, "Subject", m->subject);
	{
		const char *v[] = { msgid };

		put_tokens(&b, "Message-ID", v, 1);
	}
	tg_sb_puts(&b, "MIME-Version: 1.0\r\n");
	if (m->lang != NULL) {
		tg_sb_puts(&b, "Content-Language: ");
		tg_sb_puts(&b, m->lang);
		tg_sb_puts(&b, "\r\n");
	}
	tg_sb_puts(&b, "Auto-Submitted: auto-generated\r\n");
	{
		const char *v[] = { m->id };

		put_tokens(&b, "X-Traguardo-Event", v, 1);
	}
#ifdef TG_VERSION
	tg_sb_puts(&b, "X-Mailer: traguardo " TG_VERSION "\r\n");
#else
	tg_sb_puts(&b, "X-Mailer: traguardo\r\n");
#endif

	if (m->html == NULL) {
		put_part_headers(&b, "text/plain;");
		tg_sb_puts(&b, "\r\n");
		put_body(&b, m->text);
		if (b.len >= 2 && !b.oom && memcmp(b.p + b.len - 2, "\r\n", 2) != 0)
			tg_sb_puts(&b, "\r\n");
	} else {
		char param[16 + sizeof(boundary)];
		const char *ct[] = { "multipart/alternative;", param };

		snprintf(param, sizeof(param), "boundary=\"%s\"", boundary);
		put_tokens(&b, "Content-Type", ct, 2);
		tg_sb_puts(&b, "\r\nThis is a multi-part message in MIME format.\r\n");
		/* each delimiter is CRLF "--" boundary: the CRLF belongs to
		 * it, not to the part before (RFC 2046 5.1.1) */
		tg_sb_puts(&b, "\r\n--");
		tg_sb_puts(&b, boundary);
		tg_sb_puts(&b, "\r\n");
		put_part_headers(&b, "text/plain;");
		tg_sb_puts(&b, "\r\n");
		put_body(&b, m->text);
		tg_sb_puts(&b, "\r\n--");
		tg_sb_puts(&b, boundary);
		tg_sb_puts(&b, "\r\n");
		put_part_headers(&b, "text/html;");
		tg_sb_puts(&b, "\r\n");
		put_body(&b, m->html);
		tg_sb_puts(&b, "\r\n--");
		tg_sb_puts(&b, boundary);
		tg_sb_puts(&b, "--\r\n");
	}
	free(name);
	free(addr);
	if ((*out = tg_sb_take(&b, len)) == NULL)
		return tg_error_setc(err, -ENOMEM, "out of memory");
	return 0;
}
