/*
 * test_mime.c — the email message builder: subjects (table: ASCII, Italian
 * accents, emoji, long, control characters, header and encoded-word
 * injection attempts) checked for 7-bit CRLF lines <= 78, encoded words
 * <= 75 that each decode alone (no split character) and a round trip
 * through tg_mime_decode_header equal to an independent sanitizer's result;
 * the decoder on its own; quoted-printable against exact expectations and
 * round-tripped through a strict decoder written here; address, id, domain,
 * language and date errors; Date for offsets and dates (leap days, 2038,
 * 2100, 9999); the structure of whole messages; hostile sizes (10,000-byte
 * subject, 100 KB line, NULs through explicit lengths).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mime.h"
#include "utf8.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* Oracles written independently of lib/mime.c. */

/* Invalid UTF-8 (each byte that starts no sequence) -> U+FFFD; C0, DEL and
 * C1 -> one space each. */
static char *sanitize_ref(const char *s)
{
	size_t len = strlen(s), o = 0;
	char *out = malloc(len * 3 + 1);
	const unsigned char *p = (const unsigned char *)s;

	assert_non_null(out);
	for (size_t i = 0; i < len;) {
		size_t n = tg_utf8_len(p + i, len - i);

		if (n == 0) {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		} else if (p[i] < 0x20 || p[i] == 0x7F || (n == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0)) {
			out[o++] = ' ';
			i += n;
		} else {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}

/* Body text as the message must carry it: invalid UTF-8 -> U+FFFD (controls
 * kept), then "\n" and "\r\n" -> CRLF. */
static char *body_ref(const char *s, size_t *out_len)
{
	size_t len = strlen(s), o = 0;
	char *out = malloc(len * 3 + 1);
	const unsigned char *p = (const unsigned char *)s;

	assert_non_null(out);
	for (size_t i = 0; i < len;) {
		size_t n = tg_utf8_len(p + i, len - i);

		if (n == 0) {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		} else if (p[i] == '\n' || (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')) {
			out[o++] = '\r';
			out[o++] = '\n';
			i += p[i] == '\r' ? 2 : 1;
		} else {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;     /* lower case is not what we write */
}

/* Strict quoted-printable decoder: NULL when the text breaks a rule of RFC
 * 2045 6.7 we promise (a '=' not followed by two upper-case hex digits or
 * CRLF, a bare CR or LF, white space or a lone '.' at a line end or start,
 * a byte outside 33..126 other than space and tab, a line over 76). */
static char *qp_decode(const char *s, size_t n, size_t *out_len)
{
	char *out = malloc(n + 1);
	size_t o = 0, col = 0;

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n' || (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t')))
				goto bad;
			out[o++] = '\r';
			out[o++] = '\n';
			i++;
			col = 0;
			continue;
		}
		if (c == '\n' || ++col > 76)
			goto bad;
		if (col == 1 && c == '.')
			goto bad;
		if (c == '=') {
			if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
				i += 2;
				col = 0;
				continue;
			}
			if (i + 2 >= n || hexv(s[i + 1]) < 0 || hexv(s[i + 2]) < 0)
				goto bad;
			out[o++] = (char)(hexv(s[i + 1]) << 4 | hexv(s[i + 2]));
			i += 2;
			col += 2;
			if (col > 76)
				goto bad;
			continue;
		}
		if ((c < 33 || c > 126) && c != ' ' && c != '\t')
			goto bad;
		if ((c == ' ' || c == '\t') && i + 1 == n)
			goto bad;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*out_len = o;
	return out;
bad:
	free(out);
	return NULL;
}

/* Every byte 7-bit and not NUL, every line end CRLF, every line <= max. */
static void check_lines(const char *s, size_t len, size_t max, const char *what)
{
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0 || c > 127) {
			print_error("%s: byte 0x%02x at %zu\n", what, c, i);
			fail();
		}
		if (c == '\r') {
			if (i + 1 >= len || s[i + 1] != '\n') {
				print_error("%s: bare CR at %zu\n", what, i);
				fail();
			}
			i++;
			col = 0;
			continue;
		}
		if (c == '\n') {
			print_error("%s: bare LF at %zu\n", what, i);
			fail();
		}
		if (++col > max) {
			print_error("%s: line longer than %zu at %zu\n", what, max, i);
			fail();
		}
	}
}

/* The value of the first header field called name in the header block of
 * msg, unfolded (CRLFs removed) and without the one space after the colon;
 * *count is the number of such fields.  NULL when there is none. */
static char *field(const char *msg, const char *name, int *count)
{
	const char *end = strstr(msg, "\r\n\r\n"), *p = msg, *found = NULL;
	size_t nl = strlen(name);

	*count = 0;
	assert_non_null(end);
	while (p < end + 2) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			if (found == NULL)
				found = p;
			(*count)++;
		}
		p = strstr(p, "\r\n") + 2;
	}
	if (found == NULL)
		return NULL;

	char *v = malloc((size_t)(end - found) + 1);
	size_t o = 0;
	const char *q = found + nl + 1;

	assert_non_null(v);
	for (;;) {
		const char *e = strstr(q, "\r\n");

		memcpy(v + o, q, (size_t)(e - q));
		o += (size_t)(e - q);
		q = e + 2;
		if (*q != ' ' && *q != '\t')
			break;
	}
	v[o] = '\0';
	if (v[0] == ' ')
		memmove(v, v + 1, o);
	return v;
}

/* Every encoded word of the header text h: at most 75 characters and
 * decodable alone (so it holds whole UTF-8 characters only). */
static void check_words(const char *h, const char *what)
{
	const char *p = h;

	while ((p = strstr(p, "=?")) != NULL) {
		const char *e = strstr(p + 2, "?=");
		size_t n;

		assert_non_null(e);
		/* "?=" inside "=?UTF-8?B?" cannot occur: find the closing one */
		e = strchr(p + 10, '?');
		assert_non_null(e);
		assert_int_equal(e[1], '=');
		n = (size_t)(e + 2 - p);
		if (n > 75) {
			print_error("%s: encoded word of %zu characters\n", what, n);
			fail();
		}
		char *w = malloc(n + 1), *d;

		assert_non_null(w);
		memcpy(w, p, n);
		w[n] = '\0';
		d = tg_mime_decode_header(w);
		if (d == NULL) {
			print_error("%s: word %s does not decode alone\n", what, w);
			fail();
		}
		free(d);
		free(w);
		p = e + 2;
	}
}

static const char *const to1[] = { "mario.rossi@comune.example" };

static struct tg_mime_email base_email(void)
{
	struct tg_mime_email m = {
		.from = "qualita@comune.example",
		.to = to1,
		.n_to = 1,
		.subject = "Prova",
		.text = "Testo.\n",
		.html = NULL,
		.id = "0123456789abcdef0123456789abcdef",
		.domain = NULL,
		.lang = "it",
		.date = 1795457100,
		.utc_offset = 3600,
	};
	return m;
}

static char *build_ok(const struct tg_mime_email *m, size_t *len)
{
	struct tg_error err = { { 0 } };
	char *out = NULL;
	size_t n = 0;
	int rc = tg_mime_build(m, &out, &n, &err);

	if (rc != 0) {
		print_error("tg_mime_build: %d %s\n", rc, err.msg);
		fail();
	}
	assert_non_null(out);
	assert_int_equal(strlen(out), n);
	assert_int_equal(out[n], '\0');
	check_lines(out, n, 998, "message");
	if (len != NULL)
		*len = n;
	return out;
}

/* ------------------------------------------------------------------ */
/* Subjects. */

struct subject_case {
	const char *name;
	const char *subject;
	const char *exact;      /* the whole header, when fixed */
	int plain;              /* 1: no encoded word; 0: only encoded words */
};

static char long_ascii[301], long_word[301], word69[70], word70[71];

static const struct subject_case subject_cases[] = {
	{ "ASCII short", "Hello world", "Subject: Hello world\r\n", 1 },
	{ "empty", "", "Subject:\r\n", 1 },
	{ "Italian accents", "Qualit\xc3\xa0 \xe2\x80\x94 Ragioneria",
	  "Subject: =?UTF-8?B?UXVhbGl0w6Ag4oCUIFJhZ2lvbmVyaWE=?=\r\n", 0 },
	{ "emoji", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	  "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	  "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", NULL, 0 },
	{ "300 ASCII characters with spaces", long_ascii, NULL, 1 },
	{ "300 ASCII characters, one word", long_word, NULL, 0 },
	{ "a word of 69 fits after Subject:", word69, NULL, 1 },
	{ "a word of 70 does not", word70, NULL, 0 },
	{ "control characters", "a\tb\x01" "c\x7f" "d\x1b[31m", "Subject: a b c d [31m\r\n", 1 },
	{ "C1 control NEL", "a\xc2\x85" "b", "Subject: a b\r\n", 1 },
	{ "encoded word injection", "=?utf-8?q?fake?=", NULL, 0 },
	{ "encoded word inside", "see =?UTF-8?B?QQ==?= here", NULL, 0 },
	{ "header injection", "\r\nBcc: x@y", NULL, 0 },
	{ "header injection mid", "Ciao\r\nBcc: victim@example.org\r\n\r\nbody", NULL, 0 },
	{ "LF injection", "Ciao\nTo: other@example.org", "Subject: Ciao To: other@example.org\r\n", 1 },
	{ "invalid UTF-8", "\xff\xfe abc \xc3", NULL, 0 },
	{ "overlong and surrogate", "\xc0\xaf \xed\xa0\x80", NULL, 0 },
	{ "double space", "a  b", NULL, 0 },
	{ "leading space", " a", NULL, 0 },
	{ "trailing space", "a ", NULL, 0 },
	{ "only spaces", "   ", NULL, 0 },
	{ "ASCII specials", "Re: [traguardo] 3 indicatori (100%) <ok> \"x\"", NULL, 1 },
	{ "question mark equals", "a?= =b ?x", NULL, 1 },
	{ "mixed scripts", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xe4\xbd\xa0\xe5\xa5\xbd "
	  "\xce\xb1\xce\xb2\xce\xb3 caff\xc3\xa8 \xf0\x9f\x87\xae\xf0\x9f\x87\xb9 \xe2\x82\xac 1.000,50", NULL, 0 },
};

static void fill_subjects(void)
{
	for (size_t i = 0; i < 300; i++) {
		long_ascii[i] = i % 10 == 9 ? ' ' : (char)('a' + i % 26);
		long_word[i] = (char)('A' + i % 26);
	}
	long_ascii[299] = 'z';
	long_ascii[300] = long_word[300] = '\0';
	memset(word69, 'w', 69);
	memset(word70, 'w', 70);
	word69[69] = word70[70] = '\0';
}

/* Checks one Subject header h (as returned by tg_mime_header or cut out of a
 * message) for the subject s. */
static void check_subject_header(const char *h, const char *s, const char *what)
{
	char *unfolded = malloc(strlen(h) + 1), *dec, *want;
	size_t o = 0;

	check_lines(h, strlen(h), 78, what);
	check_words(h, what);
	assert_true(strncmp(h, "Subject:", 8) == 0);
	assert_non_null(unfolded);
	/* one field: every line after the first is a continuation */
	for (const char *p = h; *p;) {
		const char *e = strstr(p, "\r\n");

		assert_non_null(e);
		if (p != h && *p != ' ') {
			print_error("%s: a second field starts: %.20s\n", what, p);
			fail();
		}
		memcpy(unfolded + o, p, (size_t)(e - p));
		o += (size_t)(e - p);
		p = e + 2;
	}
	unfolded[o] = '\0';
	assert_int_equal(h[strlen(h) - 1], '\n');
	dec = tg_mime_decode_header(unfolded + 8 + (unfolded[8] == ' '));
	want = sanitize_ref(s);
	if (dec == NULL || strcmp(dec, want) != 0) {
		print_error("%s: decoded \"%s\", want \"%s\"\n", what, dec ? dec : "(NULL)", want);
		fail();
	}
	free(dec);
	free(want);
	free(unfolded);
}

static void test_subjects(void **state)
{
	(void)state;
	fill_subjects();
	for (size_t i = 0; i < ARRAY_SIZE(subject_cases); i++) {
		const struct subject_case *c = &subject_cases[i];
		char what[128];
		char *h = tg_mime_header("Subject", c->subject);

		snprintf(what, sizeof(what), "case %zu (%s)", i, c->name);
		assert_non_null(h);
		if (c->exact != NULL && strcmp(h, c->exact) != 0) {
			print_error("%s: got \"%s\"\n", what, h);
			fail();
		}
		if (c->plain != (strstr(h, "=?UTF-8?B?") == NULL)) {
			print_error("%s: plain %d expected: \"%s\"\n", what, c->plain, h);
			fail();
		}
		check_subject_header(h, c->subject, what);
		free(h);

		/* the same through a whole message: one Subject, no Bcc, and the
		 * header block holds only our fields */
		struct tg_mime_email m = base_email();
		char *msg, *v, *line;
		int count;

		m.subject = c->subject;
		msg = build_ok(&m, NULL);
		v = field(msg, "Subject", &count);
		assert_int_equal(count, 1);
		assert_non_null(v);
		char *dec = tg_mime_decode_header(v), *want = sanitize_ref(c->subject);

		if (dec == NULL || strcmp(dec, want) != 0) {
			print_error("%s: message Subject decodes to \"%s\"\n", what, dec ? dec : "(NULL)");
			fail();
		}
		for (line = msg; line != NULL && line < strstr(msg, "\r\n\r\n"); line = strstr(line, "\r\n")) {
			if (line != msg)
				line += 2;
			if (strncasecmp(line, "Bcc", 3) == 0 || strncasecmp(line, "To: other", 9) == 0) {
				print_error("%s: injected header line: %.30s\n", what, line);
				fail();
			}
		}
		v = (free(v), field(msg, "Bcc", &count));
		assert_null(v);
		assert_int_equal(count, 0);
		free(dec);
		free(want);
		free(msg);
	}
}

/* Strings of 1..n characters of every UTF-8 length: each word <= 75, made
 * of whole characters, every line <= 78, round trip exact. */
static void test_subject_word_boundaries(void **state)
{
	static const char *const chars[] = { "a", "\xc3\xa8", "\xe2\x80\x94", "\xf0\x9f\x98\x80" };
	char s[4 * 120 + 1], what[64];

	(void)state;
	for (size_t mix = 0; mix < 5; mix++) {
		for (size_t n = 1; n <= 120; n++) {
			size_t o = 0;

			for (size_t k = 0; k < n; k++) {
				const char *c = chars[mix < 4 ? mix : (k * 7 + n) % 4];

				memcpy(s + o, c, strlen(c));
				o += strlen(c);
			}
			s[o] = '\0';
			snprintf(what, sizeof(what), "mix %zu length %zu", mix, n);
			char *h = tg_mime_header("Subject", s);

			assert_non_null(h);
			check_subject_header(h, s, what);
			free(h);
		}
	}
}

static void test_header_names(void **state)
{
	char name[80], *h;

	(void)state;
	assert_null(tg_mime_header(NULL, "x"));
	assert_null(tg_mime_header("", "x"));
	assert_null(tg_mime_header("Bad Name", "x"));
	assert_null(tg_mime_header("Bad:Name", "x"));
	assert_null(tg_mime_header("Bad\r\nName", "x"));
	assert_null(tg_mime_header("Caff\xc3\xa8", "x"));
	memset(name, 'X', 76);
	name[76] = '\0';
	assert_null(tg_mime_header(name, "x"));
	name[75] = '\0';
	/* a name that leaves room for nothing: the value starts on the next
	 * line, still in words of at most 75 */
	h = tg_mime_header(name, "caff\xc3\xa8 caff\xc3\xa8 caff\xc3\xa8 caff\xc3\xa8 caff\xc3\xa8");
	assert_non_null(h);
	check_lines(h, strlen(h), 78, "long name");
	check_words(h, "long name");
	free(h);
	h = tg_mime_header("X-Test", NULL);
	assert_string_equal(h, "X-Test:\r\n");
	free(h);
	h = tg_mime_header("X-Test", "uno due");
	assert_string_equal(h, "X-Test: uno due\r\n");
	free(h);
}

/* ------------------------------------------------------------------ */
/* Decoding. */

struct decode_case {
	const char *in;
	const char *want;       /* NULL: malformed */
};

static const struct decode_case decode_cases[] = {
	{ "plain text", "plain text" },
	{ "", "" },
	{ "=?UTF-8?B?UXVhbGl0w6A=?=", "Qualit\xc3\xa0" },
	{ "=?utf-8?b?UXVhbGl0w6A=?=", "Qualit\xc3\xa0" },
	{ "=?UTF-8?Q?Qualit=C3=A0_totale?=", "Qualit\xc3\xa0 totale" },
	{ "=?utf-8?q?Qualit=c3=a0?=", "Qualit\xc3\xa0" },
	{ "=?UTF-8*it?Q?ciao?=", "ciao" },
	{ "=?us-ascii?Q?ciao?=", "ciao" },
	/* white space between adjacent encoded words goes, elsewhere it stays */
	{ "=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab" },
	{ "=?UTF-8?Q?a?=  \t =?UTF-8?Q?b?=", "ab" },
	{ "x =?UTF-8?Q?a?= y", "x a y" },
	{ "=?UTF-8?Q?a?= y =?UTF-8?Q?b?=", "a y b" },
	{ "  lead and trail  ", "  lead and trail  " },
	/* a character split between two words (other encoders do it) */
	{ "=?UTF-8?B?w6Dw?= =?UTF-8?B?n5iA?=", "\xc3\xa0\xf0\x9f\x98\x80" },
	/* base64 without padding */
	{ "=?UTF-8?B?YQ?=", "a" },
	/* not encoded words: left as they are */
	{ "=?UTF-8?B?YQ==?==?UTF-8?B?Yg==?=", "=?UTF-8?B?YQ==?==?UTF-8?B?Yg==?=" },
	{ "=?UTF-8?B?", "=?UTF-8?B?" },
	{ "=??B?YQ==?=", "=??B?YQ==?=" },
	{ "a=?b", "a=?b" },
	/* malformed encoded words */
	{ "=?ISO-8859-1?Q?caf=E8?=", NULL },
	{ "=?UTF-8?X?abc?=", NULL },
	{ "=?UTF-8?B?Y!==?=", NULL },
	{ "=?UTF-8?B?Y===?=", NULL },
	{ "=?UTF-8?B?YQ=?=", NULL },
	{ "=?UTF-8?B?YR==?=", NULL },     /* non-zero leftover bits */
	{ "=?UTF-8?B?Y?=", NULL },
	{ "=?UTF-8?B?YQ==YQ==?=", NULL },
	{ "=?UTF-8?Q?a=4?=", NULL },
	{ "=?UTF-8?Q?a=ZZ?=", NULL },
	{ "=?UTF-8?Q?=FF?=", NULL },      /* invalid UTF-8 */
	{ "=?UTF-8?Q?a=00b?=", NULL },    /* NUL */
	{ "=?UTF-8?B?AA==?=", NULL },     /* NUL */
	{ "=?UTF-8?B?w6Dw?=", NULL },     /* cut character at the end */
	{ "=?US-ASCII?Q?=E8?=", NULL },
};

static void test_decode(void **state)
{
	(void)state;
	assert_null(tg_mime_decode_header(NULL));
	for (size_t i = 0; i < ARRAY_SIZE(decode_cases); i++) {
		const struct decode_case *c = &decode_cases[i];
		char *d = tg_mime_decode_header(c->in);

		if ((d == NULL) != (c->want == NULL) || (d != NULL && strcmp(d, c->want) != 0)) {
			print_error("case %zu \"%s\": got \"%s\", want \"%s\"\n", i, c->in,
				    d ? d : "(NULL)", c->want ? c->want : "(NULL)");
			fail();
		}
		free(d);
	}
}

/* ------------------------------------------------------------------ */
/* Quoted-printable. */

struct qp_case {
	const char *name;
	const char *in;
	size_t len;
	const char *want;
};

#define Q(name, lit, want) { name, lit, sizeof(lit) - 1, want }

static const struct qp_case qp_cases[] = {
	Q("empty", "", ""),
	Q("ASCII", "Buongiorno", "Buongiorno"),
	Q("LF to CRLF", "a\nb\n", "a\r\nb\r\n"),
	Q("CRLF kept", "a\r\nb\r\n", "a\r\nb\r\n"),
	Q("lone CR encoded", "a\rb", "a=0Db"),
	Q("equals", "a=b", "a=3Db"),
	Q("trailing space before LF", "a \nb", "a=20\r\nb"),
	Q("trailing tab before CRLF", "a\t\r\nb", "a=09\r\nb"),
	Q("trailing space at end", "a  ", "a =20"),
	Q("inner spaces", "a b\tc", "a b\tc"),
	Q("accents", "caff\xc3\xa8 \xe2\x80\x94", "caff=C3=A8 =E2=80=94"),
	Q("invalid byte", "\xff", "=FF"),
	Q("leading dot", ".\n.a\nb.c", "=2E\r\n=2Ea\r\nb.c"),
	Q("From at line start", "From here\nx From y\nFrom", "=46rom here\r\nx From y\r\nFrom"),
	Q("NUL and controls", "a\0b\x01\x7f", "a=00b=01=7F"),
	Q("soft break", "0123456789012345678901234567890123456789012345678901234567890123456789012345678",
	  "012345678901234567890123456789012345678901234567890123456789012345678901234=\r\n5678"),
	Q("soft break before a dot", "012345678901234567890123456789012345678901234567890123456789012345678901234.x",
	  "012345678901234567890123456789012345678901234567890123456789012345678901234=\r\n=2Ex"),
	Q("character kept whole at a soft break",
	  "0123456789012345678901234567890123456789012345678901234567890123456789012\xc3\xa8",
	  "0123456789012345678901234567890123456789012345678901234567890123456789012=\r\n=C3=A8"),
};

static void check_qp_roundtrip(const char *in, size_t len, const char *what)
{
	size_t n = 0, dn = 0, wn = 0, o = 0;
	char *qp = tg_mime_qp_encode(in, len, &n), *d, *want = malloc(2 * len + 1);

	assert_non_null(qp);
	assert_non_null(want);
	assert_int_equal(strlen(qp), n);
	check_lines(qp, n, 76, what);
	/* the reference: LF and CRLF become CRLF, every other byte stays */
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' || (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')) {
			want[o++] = '\r';
			want[o++] = '\n';
			i += in[i] == '\r';
		} else {
			want[o++] = in[i];
		}
	}
	wn = o;
	d = qp_decode(qp, n, &dn);
	if (d == NULL || dn != wn || memcmp(d, want, wn) != 0) {
		print_error("%s: QP round trip differs (%s)\n", what, d == NULL ? "invalid QP" : "content");
		fail();
	}
	free(d);
	free(want);
	free(qp);
}

static void test_qp(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(qp_cases); i++) {
		const struct qp_case *c = &qp_cases[i];
		char what[96];
		size_t n = 0;
		char *qp = tg_mime_qp_encode(c->in, c->len, &n);

		snprintf(what, sizeof(what), "case %zu (%s)", i, c->name);
		assert_non_null(qp);
		if (strcmp(qp, c->want) != 0 || n != strlen(c->want)) {
			print_error("%s: got \"%s\"\n", what, qp);
			fail();
		}
		free(qp);
		check_qp_roundtrip(c->in, c->len, what);
	}
	/* NULL with a length is an empty text */
	size_t n = 99;
	char *qp = tg_mime_qp_encode(NULL, 10, &n);

	assert_non_null(qp);
	assert_int_equal(n, 0);
	free(qp);
}

/* Random texts over a small alphabet rich in what matters (spaces, tabs,
 * CR, LF, '=', '.', 'F', NUL, bytes >= 0x80), all lengths to 400, and
 * random cut points: the round trip is exact and the output strict. */
static void test_qp_random(void **state)
{
	static const char alphabet[] = " \t\r\n=.Fromx\0\xc3\xa8\xe2\x80\x94\xff";
	uint32_t seed = 12345;
	char buf[400], what[64];

	(void)state;
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = (size_t)(iter % 400);

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		snprintf(what, sizeof(what), "random text %d", iter);
		check_qp_roundtrip(buf, len, what);
	}
}

static void test_qp_hostile_sizes(void **state)
{
	size_t big = 100 * 1024;
	char *s = malloc(big + 1);

	(void)state;
	assert_non_null(s);
	/* one line of 100 KB: soft breaks everywhere, nothing over 76 */
	memset(s, 'x', big);
	check_qp_roundtrip(s, big, "100 KB line");
	/* all '=' (three times the size), all spaces, all NUL */
	memset(s, '=', big);
	check_qp_roundtrip(s, big, "100 KB of =");
	memset(s, ' ', big);
	check_qp_roundtrip(s, big, "100 KB of spaces");
	memset(s, '\0', big);
	check_qp_roundtrip(s, big, "100 KB of NUL");
	memset(s, '\n', big);
	check_qp_roundtrip(s, big, "100 KB of LF");
	free(s);
}

/* ------------------------------------------------------------------ */
/* Errors. */

struct error_case {
	const char *name;
	const char *from;
	const char *to;         /* one recipient; NULL: none */
	const char *id;
	const char *domain;
	const char *lang;
	int64_t date;
	int offset;
	const char *in_msg;     /* expected in err.msg */
};

#define D 1795457100

static const struct error_case error_cases[] = {
	{ "From not an address", "qualita", "a@b.example", "abc", NULL, "it", D, 0, "sender \"qualita\"" },
	{ "From with CRLF", "q@b.example\r\nBcc: x@y.example", "a@b.example", "abc", NULL, "it", D, 0,
	  "sender \"q@b.example\\x0d\\x0aBcc: x@y.example\"" },
	{ "From NULL", NULL, "a@b.example", "abc", NULL, "it", D, 0, "sender \"\"" },
	{ "From name with a comma", "Rossi, Mario <m@b.example>", "a@b.example", "abc", NULL, "it", D, 0,
	  "sender \"Rossi, Mario <m@b.example>\"" },
	{ "To with a name", "q@b.example", "Mario <m@b.example>", "abc", NULL, "it", D, 0,
	  "recipient 1 \"Mario <m@b.example>\"" },
	{ "To with CRLF", "q@b.example", "a@b.example\r\nBcc: x@y.example", "abc", NULL, "it", D, 0,
	  "recipient 1 \"a@b.example\\x0d\\x0aBcc:" },
	{ "To with two addresses", "q@b.example", "a@b.example, c@d.example", "abc", NULL, "it", D, 0,
	  "recipient 1 \"a@b.example, c@d.example\"" },
	{ "To empty", "q@b.example", "", "abc", NULL, "it", D, 0, "recipient 1 \"\"" },
	{ "To long", "q@b.example",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b.example", "abc", NULL, "it", D, 0,
	  "recipient 1 \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"" },
	{ "no recipient", "q@b.example", NULL, "abc", NULL, "it", D, 0, "no recipient" },
	{ "id empty", "q@b.example", "a@b.example", "", NULL, "it", D, 0, "message id \"\"" },
	{ "id NULL", "q@b.example", "a@b.example", NULL, NULL, "it", D, 0, "message id \"\"" },
	{ "id with a dash", "q@b.example", "a@b.example", "ab-c", NULL, "it", D, 0, "message id \"ab-c\"" },
	{ "id with CRLF", "q@b.example", "a@b.example", "ab\r\nX: y", NULL, "it", D, 0, "message id \"ab\\x0d\\x0aX: y\"" },
	{ "id of 65", "q@b.example", "a@b.example",
	  "01234567890123456789012345678901234567890123456789012345678901234", NULL, "it", D, 0, "message id" },
	{ "domain bad", "q@b.example", "a@b.example", "abc", "bad domain", "it", D, 0, "domain \"bad domain\"" },
	{ "domain with >", "q@b.example", "a@b.example", "abc", "x.example>", "it", D, 0, "domain \"x.example>\"" },
	{ "domain empty", "q@b.example", "a@b.example", "abc", "", "it", D, 0, "domain \"\"" },
	{ "lang bad", "q@b.example", "a@b.example", "abc", NULL, "it\r\nX: y", D, 0, "language \"it\\x0d\\x0aX: y\"" },
	{ "lang empty", "q@b.example", "a@b.example", "abc", NULL, "", D, 0, "language \"\"" },
	{ "lang digit first", "q@b.example", "a@b.example", "abc", NULL, "1t", D, 0, "language" },
	{ "lang subtag too long", "q@b.example", "a@b.example", "abc", NULL, "it-abcdefghi", D, 0, "language" },
	{ "date before 1900", "q@b.example", "a@b.example", "abc", NULL, "it", INT64_C(-2208988801), 0, "out of range" },
	{ "date after 9999", "q@b.example", "a@b.example", "abc", NULL, "it", INT64_C(253402300800), 0, "out of range" },
	{ "date huge", "q@b.example", "a@b.example", "abc", NULL, "it", INT64_MAX, 3600, "out of range" },
	{ "date very negative", "q@b.example", "a@b.example", "abc", NULL, "it", INT64_MIN, -3600, "out of range" },
	{ "offset moves 9999 past", "q@b.example", "a@b.example", "abc", NULL, "it", INT64_C(253402300799), 60, "out of range" },
	{ "offset a day", "q@b.example", "a@b.example", "abc", NULL, "it", D, 86400, "UTC offset" },
	{ "offset INT_MIN", "q@b.example", "a@b.example", "abc", NULL, "it", D, -2147483647 - 1, "UTC offset" },
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *c = &error_cases[i];
		const char *list[1] = { c->to };
		struct tg_mime_email m = base_email();
		struct tg_error err = { { 0 } };
		char *out = (char *)&err;
		size_t len = 99;
		int rc;

		m.from = c->from;
		m.to = c->to != NULL ? list : NULL;
		m.n_to = c->to != NULL ? 1 : 0;
		m.id = c->id;
		m.domain = c->domain;
		m.lang = c->lang;
		m.date = c->date;
		m.utc_offset = c->offset;
		rc = tg_mime_build(&m, &out, &len, &err);
		if (rc != -22 || out != NULL || len != 0 || strstr(err.msg, c->in_msg) == NULL) {
			print_error("case %zu (%s): rc %d, message \"%s\"\n", i, c->name, rc, err.msg);
			fail();
		}
	}
}

static void test_error_later_recipient(void **state)
{
	const char *list[] = { "a@b.example", "c@d.example", "bad" };
	struct tg_mime_email m = base_email();
	struct tg_error err = { { 0 } };
	char *out;
	size_t len;

	(void)state;
	m.to = list;
	m.n_to = 3;
	assert_int_equal(tg_mime_build(&m, &out, &len, &err), -22);
	assert_null(out);
	assert_non_null(strstr(err.msg, "recipient 3 \"bad\""));
	/* NULL in the list */
	list[2] = NULL;
	assert_int_equal(tg_mime_build(&m, &out, &len, &err), -22);
	assert_null(out);
	assert_int_equal(tg_mime_build(NULL, &out, &len, &err), -22);
}

/* ------------------------------------------------------------------ */
/* Date. */

struct date_case {
	int64_t t;
	int offset;
	const char *want;
};

static const struct date_case date_cases[] = {
	{ 0, 0, "Thu, 1 Jan 1970 00:00:00 +0000" },
	{ 1795457100, 3600, "Mon, 23 Nov 2026 19:05:00 +0100" },
	{ 1709208000, 7200, "Thu, 29 Feb 2024 14:00:00 +0200" },
	{ 951782400, 0, "Tue, 29 Feb 2000 00:00:00 +0000" },
	{ 4107542400, 0, "Mon, 1 Mar 2100 00:00:00 +0000" },      /* 2100: no 29 Feb */
	{ INT64_C(2147483648), 0, "Tue, 19 Jan 2038 03:14:08 +0000" },
	{ 4102444800, 0, "Fri, 1 Jan 2100 00:00:00 +0000" },
	{ 1767232800, -18000, "Wed, 31 Dec 2025 21:00:00 -0500" },
	{ 1767232800, 19800, "Thu, 1 Jan 2026 07:30:00 +0530" },
	{ 1767232800, -34200, "Wed, 31 Dec 2025 16:30:00 -0930" },
	{ 1767232800, 2996, "Thu, 1 Jan 2026 02:49:00 +0049" },   /* LMT seconds dropped */
	{ 1767232800, -2996, "Thu, 1 Jan 2026 01:11:00 -0049" },
	{ 1767232800, 86399, "Fri, 2 Jan 2026 01:59:00 +2359" },
	{ -1, 0, "Wed, 31 Dec 1969 23:59:59 +0000" },
	{ -31536000, 3600, "Wed, 1 Jan 1969 01:00:00 +0100" },
	{ INT64_C(-2208988800), 0, "Mon, 1 Jan 1900 00:00:00 +0000" },
	{ INT64_C(253402300799), 0, "Fri, 31 Dec 9999 23:59:59 +0000" },
};

static void test_dates(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(date_cases); i++) {
		struct tg_mime_email m = base_email();
		char *msg, *v;
		int count;

		m.date = date_cases[i].t;
		m.utc_offset = date_cases[i].offset;
		msg = build_ok(&m, NULL);
		v = field(msg, "Date", &count);
		assert_int_equal(count, 1);
		if (v == NULL || strcmp(v, date_cases[i].want) != 0) {
			print_error("case %zu: Date \"%s\", want \"%s\"\n", i, v ? v : "(NULL)",
				    date_cases[i].want);
			fail();
		}
		free(v);
		free(msg);
	}
}

/* ------------------------------------------------------------------ */
/* Whole messages. */

static const char *const known_fields[] = {
	"Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "Content-Language", "Auto-Submitted", "X-Traguardo-Event",
	"X-Mailer",
};

/* Every line of the header block is a continuation or one of our fields,
 * each present once (Content-Language and Content-Transfer-Encoding as
 * told); all lines <= 78 unless max_line says otherwise. */
static void check_header_block(const char *msg, bool lang, bool multipart, size_t max_line)
{
	const char *end = strstr(msg, "\r\n\r\n");
	int count;

	assert_non_null(end);
	check_lines(msg, (size_t)(end - msg) + 2, max_line, "header block");
	for (const char *p = msg; p < end + 2; p = strstr(p, "\r\n") + 2) {
		bool ok = *p == ' ';

		for (size_t k = 0; k < ARRAY_SIZE(known_fields) && !ok; k++) {
			size_t n = strlen(known_fields[k]);

			ok = strncmp(p, known_fields[k], n) == 0 && p[n] == ':';
		}
		if (!ok) {
			print_error("unknown header line: %.40s\n", p);
			fail();
		}
	}
	for (size_t k = 0; k < ARRAY_SIZE(known_fields); k++) {
		char *v = field(msg, known_fields[k], &count);
		int want = 1;

		if (strcmp(known_fields[k], "Content-Language") == 0)
			want = lang;
		if (strcmp(known_fields[k], "Content-Transfer-Encoding") == 0)
			want = !multipart;
		if (count != want) {
			print_error("field %s %d times, want %d\n", known_fields[k], count, want);
			fail();
		}
		free(v);
	}
}

static char *field_decoded(const char *msg, const char *name)
{
	int count;
	char *v = field(msg, name, &count), *d;

	assert_non_null(v);
	d = tg_mime_decode_header(v);
	assert_non_null(d);
	free(v);
	return d;
}

/* The decoded content of the part between the delimiter line before
 * headers_at and the next delimiter. */
static void check_part(const char *msg, const char *boundary, const char *type, const char *text)
{
	char delim[128], head[400];
	const char *p, *body, *end;
	size_t n, wn;
	char *d, *want;

	snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	snprintf(head, sizeof(head), "%s\r\nContent-Type: %s; charset=UTF-8\r\n"
		 "Content-Transfer-Encoding: quoted-printable\r\n\r\n", delim, type);
	p = strstr(msg, head);
	assert_non_null(p);
	body = p + strlen(head);
	end = strstr(body, delim);
	assert_non_null(end);
	d = qp_decode(body, (size_t)(end - body), &n);
	want = body_ref(text, &wn);
	if (d == NULL || n != wn || memcmp(d, want, n) != 0) {
		print_error("%s part: decoded \"%s\", want \"%s\"\n", type, d ? d : "(NULL)", want);
		fail();
	}
	free(d);
	free(want);
}

static void test_multipart(void **state)
{
	const char *to[] = { "responsabile.ragioneria@comune.example", "dirigente.finanze@comune.example",
			     "qualita@comune.example", "a@b.example" };
	struct tg_mime_email m = base_email();
	const char *text = "Buongiorno,\n\nl'indicatore RAG-01 \xc3\xa8 al 92,5% \xe2\x80\x94 obiettivo \xe2\x89\xa5 95%.\r\n"
			   ".\nFrom here \nbad \xff byte\n--=_tg_0123456789abcdef0123456789abcdef\n";
	const char *html = "<!DOCTYPE html>\n<html><body><p style=\"color:#b22222\">92,5% \xe2\x80\x94</p>"
			   "</body></html>";
	char *msg, *v, *s;
	size_t len;
	int count;

	(void)state;
	m.from = "Ufficio Qualit\xc3\xa0 <qualita@comune.example>";
	m.to = to;
	m.n_to = 4;
	m.subject = "[traguardo] 3 indicatori fuori obiettivo \xe2\x80\x94 Ragioneria";
	m.text = text;
	m.html = html;
	msg = build_ok(&m, &len);
	check_header_block(msg, true, true, 78);

	s = field_decoded(msg, "From");
	assert_string_equal(s, "Ufficio Qualit\xc3\xa0 <qualita@comune.example>");
	free(s);
	s = field_decoded(msg, "To");
	assert_string_equal(s, "responsabile.ragioneria@comune.example, dirigente.finanze@comune.example, "
			    "qualita@comune.example, a@b.example");
	free(s);
	v = field(msg, "Message-ID", &count);
	assert_string_equal(v, "<0123456789abcdef0123456789abcdef@comune.example>");
	free(v);
	v = field(msg, "X-Traguardo-Event", &count);
	assert_string_equal(v, "0123456789abcdef0123456789abcdef");
	free(v);
	v = field(msg, "Content-Type", &count);
	assert_string_equal(v, "multipart/alternative; boundary=\"=_tg_0123456789abcdef0123456789abcdef\"");
	free(v);
	v = field(msg, "MIME-Version", &count);
	assert_string_equal(v, "1.0");
	free(v);
	v = field(msg, "Auto-Submitted", &count);
	assert_string_equal(v, "auto-generated");
	free(v);
	v = field(msg, "Content-Language", &count);
	assert_string_equal(v, "it");
	free(v);
	v = field(msg, "X-Mailer", &count);
	assert_true(strncmp(v, "traguardo", 9) == 0);
	free(v);

	/* the delimiter appears exactly three times, each on a line of its own,
	 * even though the text carries the same words: QP cannot write "=_" */
	count = 0;
	for (const char *p = msg; (p = strstr(p, "--=_tg_0123456789abcdef0123456789abcdef")) != NULL; p++) {
		assert_true(p[-1] == '\n' && p[-2] == '\r');
		count++;
	}
	assert_int_equal(count, 3);
	assert_non_null(strstr(msg, "\r\n--=_tg_0123456789abcdef0123456789abcdef--\r\n"));
	assert_int_equal(strcmp(msg + len - 2, "\r\n"), 0);
	check_part(msg, "=_tg_0123456789abcdef0123456789abcdef", "text/plain", text);
	check_part(msg, "=_tg_0123456789abcdef0123456789abcdef", "text/html", html);
	free(msg);
}

static void test_text_only(void **state)
{
	struct tg_mime_email m = base_email();
	char *msg, *v, *body, *d, *want;
	size_t len, n, wn;
	int count;

	(void)state;
	m.lang = NULL;
	m.domain = "mail.comune.example";
	m.text = "riga uno\nriga due";
	msg = build_ok(&m, &len);
	check_header_block(msg, false, false, 78);
	v = field(msg, "Content-Type", &count);
	assert_string_equal(v, "text/plain; charset=UTF-8");
	free(v);
	v = field(msg, "Content-Transfer-Encoding", &count);
	assert_string_equal(v, "quoted-printable");
	free(v);
	v = field(msg, "Message-ID", &count);
	assert_string_equal(v, "<0123456789abcdef0123456789abcdef@mail.comune.example>");
	free(v);
	v = field(msg, "From", &count);
	assert_string_equal(v, "qualita@comune.example");
	free(v);
	assert_null(strstr(msg, "multipart"));
	/* the body: the text, with the message's final CRLF added */
	body = strstr(msg, "\r\n\r\n") + 4;
	d = qp_decode(body, (size_t)(msg + len - body), &n);
	want = body_ref("riga uno\nriga due\n", &wn);
	assert_non_null(d);
	assert_int_equal(n, wn);
	assert_memory_equal(d, want, n);
	free(d);
	free(want);
	free(msg);

	/* a text that ends with a line end gets no second one; NULL is empty */
	m.text = "x\n";
	msg = build_ok(&m, &len);
	assert_string_equal(msg + len - 7, "\r\n\r\nx\r\n");
	free(msg);
	m.text = NULL;
	m.subject = NULL;
	msg = build_ok(&m, &len);
	assert_int_equal(strcmp(msg + len - 4, "\r\n\r\n"), 0);
	assert_non_null(strstr(msg, "\r\nSubject:\r\n"));
	free(msg);
}

struct from_case {
	const char *from;
	const char *header;     /* the From field as written, unfolded */
	const char *decoded;    /* after decoding; NULL = header */
};

static const struct from_case from_cases[] = {
	{ "q@comune.example", "q@comune.example", NULL },
	{ "<q@comune.example>", "q@comune.example", NULL },
	{ "Mario Rossi <m@comune.example>", "Mario Rossi <m@comune.example>", NULL },
	{ "  Mario   <m@comune.example>", "Mario <m@comune.example>", NULL },
	{ "\"Rossi, Mario\" <m@comune.example>", "\"Rossi, Mario\" <m@comune.example>", NULL },
	{ "\"Dott. \\\"Mario\\\" \\\\ Rossi\" <m@comune.example>",
	  "\"Dott. \\\"Mario\\\" \\\\ Rossi\" <m@comune.example>", NULL },
	{ "\"=?utf-8?q?x?=\" <m@comune.example>", "=?UTF-8?B?PT91dGYtOD9xP3g/PQ==?= <m@comune.example>",
	  "=?utf-8?q?x?= <m@comune.example>" },
	{ "Ufficio Qualit\xc3\xa0 <qualita@comune.example>",
	  "=?UTF-8?B?VWZmaWNpbyBRdWFsaXTDoA==?= <qualita@comune.example>",
	  "Ufficio Qualit\xc3\xa0 <qualita@comune.example>" },
	{ "\"Comune di Sant'Agata - Ufficio Qualit\xc3\xa0 e Controllo di Gestione, Servizi al Cittadino\" "
	  "<qualita@comune.example>", NULL,
	  "Comune di Sant'Agata - Ufficio Qualit\xc3\xa0 e Controllo di Gestione, Servizi al Cittadino "
	  "<qualita@comune.example>" },
	{ "\"A very long but ASCII only display name that does not fit on one line at all\" <a@b.example>",
	  NULL, "A very long but ASCII only display name that does not fit on one line at all <a@b.example>" },
};

static void test_from(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(from_cases); i++) {
		const struct from_case *c = &from_cases[i];
		struct tg_mime_email m = base_email();
		char *msg, *v, *d, what[32];
		int count;

		snprintf(what, sizeof(what), "from case %zu", i);
		m.from = c->from;
		msg = build_ok(&m, NULL);
		check_header_block(msg, true, false, 78);
		v = field(msg, "From", &count);
		assert_non_null(v);
		check_words(v, what);
		d = tg_mime_decode_header(v);
		if ((c->header != NULL && strcmp(v, c->header) != 0) || d == NULL ||
		    strcmp(d, c->decoded != NULL ? c->decoded : c->header) != 0) {
			print_error("%s: From \"%s\" decoded \"%s\"\n", what, v, d ? d : "(NULL)");
			fail();
		}
		free(d);
		/* several encoded words: each but the last ends with a space
		 * when its text has one, so that readers that keep the space
		 * between encoded words (Python before gh-128110) show a
		 * double space, not a word cut in two */
		for (const char *p = strstr(v, "=?"), *e; p != NULL; p = strstr(e, "=?")) {
			char w[80];

			e = strchr(p + 10, '?') + 2;
			if (strstr(e, "=?") == NULL)
				break;
			memcpy(w, p, (size_t)(e - p));
			w[e - p] = '\0';
			d = tg_mime_decode_header(w);
			assert_non_null(d);
			if (strchr(d, ' ') != NULL && d[strlen(d) - 1] != ' ') {
				print_error("%s: word \"%s\" is cut inside a word\n", what, d);
				fail();
			}
			free(d);
		}
		free(v);
		free(msg);
	}
}

/* A 64-character id and a 252-character domain: unbreakable tokens, lines
 * longer than 78 but far below 998; a 254-character address too. */
static void test_long_tokens(void **state)
{
	char domain[254], addr[260], id[65];
	const char *list[] = { addr, addr, addr };
	struct tg_mime_email m = base_email();
	char *msg, *v;
	int count;

	(void)state;
	for (size_t i = 0; i < 253; i++)
		domain[i] = (i % 62 == 61) ? '.' : 'd';
	domain[253] = '\0';
	memset(id, 'Z', 64);
	id[64] = '\0';
	/* 254 characters, the most an address may have */
	memcpy(addr, "x@", 2);
	memcpy(addr + 2, domain + 1, 253);
	m.id = id;
	m.domain = domain + 1;     /* 252: "x@" + it is the longest address */
	m.to = list;
	m.n_to = 3;
	m.html = "<p>x</p>";
	msg = build_ok(&m, NULL);
	check_header_block(msg, true, true, 400);
	v = field(msg, "X-Traguardo-Event", &count);
	assert_string_equal(v, id);
	free(v);
	v = field(msg, "To", &count);
	assert_non_null(strstr(v, addr));
	free(v);
	free(msg);
}

/* ------------------------------------------------------------------ */
/* Hostile input to the whole builder. */

static void test_hostile(void **state)
{
	size_t big = 100 * 1024, len;
	char *subject = malloc(10001), *text = malloc(big + 1), *emoji = malloc(4 * 2000 + 1);
	char *msg, *v, *d, *want;
	struct tg_mime_email m = base_email();
	int count;

	(void)state;
	assert_non_null(subject);
	assert_non_null(text);
	assert_non_null(emoji);
	memset(subject, 'S', 10000);
	subject[10000] = '\0';
	memset(text, 'T', big);
	text[big] = '\0';
	for (size_t i = 0; i < 2000; i++)
		memcpy(emoji + 4 * i, "\xf0\x9f\x98\x80", 4);
	emoji[8000] = '\0';

	m.subject = subject;
	m.text = text;
	m.html = text;
	msg = build_ok(&m, &len);
	check_header_block(msg, true, true, 78);
	check_lines(msg, len, 78, "10,000-byte subject, 100 KB lines");
	v = field(msg, "Subject", &count);
	check_words(v, "10,000-byte subject");
	d = tg_mime_decode_header(v);
	assert_string_equal(d, subject);
	free(d);
	free(v);
	free(msg);

	m.subject = emoji;
	msg = build_ok(&m, &len);
	check_header_block(msg, true, true, 78);
	v = field(msg, "Subject", &count);
	check_words(v, "all-emoji subject");
	d = tg_mime_decode_header(v);
	assert_string_equal(d, emoji);
	free(d);
	free(v);
	free(msg);

	/* every byte value in subject, name and bodies */
	char all[256], from[300];

	for (int i = 0; i < 255; i++)
		all[i] = (char)(i + 1);
	all[255] = '\0';
	snprintf(from, sizeof(from), "%s <a@b.example>", "Caff\xc3\xa8 \xe2\x98\x95");
	m.subject = all;
	m.text = all;
	m.html = all;
	m.from = from;
	msg = build_ok(&m, &len);
	check_header_block(msg, true, true, 78);
	d = field_decoded(msg, "Subject");
	want = sanitize_ref(all);
	assert_string_equal(d, want);
	free(d);
	free(want);
	check_part(msg, "=_tg_0123456789abcdef0123456789abcdef", "text/plain", all);
	free(msg);

	free(subject);
	free(text);
	free(emoji);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subjects),
		cmocka_unit_test(test_subject_word_boundaries),
		cmocka_unit_test(test_header_names),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_qp_random),
		cmocka_unit_test(test_qp_hostile_sizes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_later_recipient),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_text_only),
		cmocka_unit_test(test_from),
		cmocka_unit_test(test_long_tokens),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
