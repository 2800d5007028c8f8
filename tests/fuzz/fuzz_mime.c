/*
 * fuzz_mime.c — libFuzzer target for tg_mime_build and tg_mime_decode_header.
 *
 * Input: one flags byte, then up to four fields separated by NUL bytes:
 * subject, text, html, display name (the NUL is the only byte a C string
 * cannot carry, so every other byte reaches the builder).  Flags: bit 0
 * html present, bit 1 Content-Language, bit 2 From with the display name,
 * bits 3..5 a UTC offset from a table.
 *
 * Checks: the build fails exactly when "name <a@b.example>" is no valid
 * From, with a terminated message; otherwise the message is 7-bit with no
 * NUL, only CRLF line ends, every line <= 78 (no unbreakable token here is
 * longer); the header block holds only the known fields, each once; the
 * Subject, unfolded and decoded, equals the subject with invalid UTF-8
 * replaced by U+FFFD and control characters by spaces; From ends with the
 * address; the text and html parts decode (strict quoted-printable) to
 * their input with LF and CRLF as CRLF and invalid UTF-8 replaced.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mime.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID "0123456789abcdef0123456789abcdef"
#define BOUNDARY "=_tg_" ID

static const char *const known[] = {
	"Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "Content-Language", "Auto-Submitted", "X-Traguardo-Event",
	"X-Mailer",
};

static const int offsets[] = { 0, 3600, 7200, -18000, 19800, -34200, 86399, -86399 };

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* header: invalid UTF-8 -> U+FFFD, controls -> space; body: invalid UTF-8
 * -> U+FFFD, LF and CRLF -> CRLF. */
static char *expected(const char *s, bool header, size_t *out_len)
{
	size_t len = strlen(s), o = 0;
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(len * 3 + 1);

	check(out != NULL);
	for (size_t i = 0; i < len;) {
		size_t n = tg_utf8_len(p + i, len - i);

		if (n == 0) {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		} else if (header && (p[i] < 0x20 || p[i] == 0x7F ||
				      (n == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0))) {
			out[o++] = ' ';
			i += n;
		} else if (!header && (p[i] == '\n' || (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n'))) {
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
	if (out_len != NULL)
		*out_len = o;
	return out;
}

static int hexv(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Strict: aborts on anything our encoder must never write. */
static char *qp_decode(const char *s, size_t n, size_t *out_len)
{
	char *out = malloc(n + 1);
	size_t o = 0, col = 0;

	check(out != NULL);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\r') {
			check(i + 1 < n && s[i + 1] == '\n');
			check(i == 0 || (s[i - 1] != ' ' && s[i - 1] != '\t'));
			out[o++] = '\r';
			out[o++] = '\n';
			i++;
			col = 0;
			continue;
		}
		check(c != '\n' && ++col <= 76);
		check(!(col == 1 && c == '.'));
		if (c == '=') {
			if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
				i += 2;
				col = 0;
				continue;
			}
			check(i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0);
			out[o++] = (char)(hexv(s[i + 1]) << 4 | hexv(s[i + 2]));
			i += 2;
			col += 2;
			check(col <= 76);
			continue;
		}
		check((c >= 33 && c <= 126) || c == ' ' || c == '\t');
		check(!((c == ' ' || c == '\t') && i + 1 == n));
		out[o++] = c;
	}
	*out_len = o;
	return out;
}

/* The unfolded value of the one field called name (after "Name:" and one
 * space), or NULL; aborts when it appears twice. */
static char *field(const char *msg, const char *hend, const char *name)
{
	size_t nl = strlen(name);
	const char *found = NULL;

	for (const char *p = msg; p < hend; p = strstr(p, "\r\n") + 2) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
			check(found == NULL);
			found = p;
		}
	}
	if (found == NULL)
		return NULL;

	char *v = malloc((size_t)(hend - found) + 1);
	size_t o = 0;
	const char *q = found + nl + 1;

	check(v != NULL);
	for (;;) {
		const char *e = strstr(q, "\r\n");

		memcpy(v + o, q, (size_t)(e - q));
		o += (size_t)(e - q);
		q = e + 2;
		if (*q != ' ')
			break;
	}
	v[o] = '\0';
	if (v[0] == ' ')
		memmove(v, v + 1, o);
	return v;
}

/* The part of the given type decodes to want. */
static void check_part(const char *msg, const char *type, const char *input)
{
	char head[256];
	const char *p, *body, *end;
	char *d, *want;
	size_t n, wn;

	strcpy(head, "\r\n--" BOUNDARY "\r\nContent-Type: ");
	strcat(head, type);
	strcat(head, "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
	p = strstr(msg, head);
	check(p != NULL);
	body = p + strlen(head);
	end = strstr(body, "\r\n--" BOUNDARY);
	check(end != NULL);
	d = qp_decode(body, (size_t)(end - body), &n);
	want = expected(input, false, &wn);
	check(n == wn && memcmp(d, want, n) == 0);
	free(d);
	free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *field_v[4] = { NULL, NULL, NULL, NULL }, *from = NULL, *out = NULL;
	const char *to[] = { "x@y.example", "z@y.example" };
	struct tg_error err;
	unsigned flags;
	size_t len = 0, start = 1, k = 0;
	bool valid = true;
	int rc;

	if (size < 1)
		return 0;
	flags = data[0];
	for (size_t i = 1; i <= size && k < 4; i++) {
		if (i == size || data[i] == 0 || k == 3) {
			size_t e = k == 3 ? size : i;

			field_v[k] = malloc(e - start + 1);
			check(field_v[k] != NULL);
			memcpy(field_v[k], data + start, e - start);
			field_v[k][e - start] = '\0';      /* the name may hold NULs: cut */
			k++;
			start = i + 1;
		}
	}
	for (; k < 4; k++) {
		field_v[k] = calloc(1, 1);
		check(field_v[k] != NULL);
	}
	if (flags & 4) {
		size_t nl = strlen(field_v[3]);

		from = malloc(nl + 16);
		check(from != NULL);
		memcpy(from, field_v[3], nl);
		memcpy(from + nl, " <a@b.example>", 15);
		valid = tg_config_email_valid(from, true);
	}

	struct tg_mime_email m = {
		.from = from != NULL ? from : "a@b.example",
		.to = to,
		.n_to = 2,
		.subject = field_v[0],
		.text = field_v[1],
		.html = (flags & 1) ? field_v[2] : NULL,
		.id = ID,
		.lang = (flags & 2) ? "it" : NULL,
		.date = 1795457100,
		.utc_offset = offsets[(flags >> 3) & 7],
	};

	memset(err.msg, 'X', sizeof(err.msg));
	rc = tg_mime_build(&m, &out, &len, &err);
	if (!valid) {
		check(rc == -22 && out == NULL && memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		goto done;
	}
	check(rc == 0 && out != NULL && out[len] == '\0');

	/* 7-bit, CRLF, lines <= 78 */
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];

		check(c != 0 && c < 128 && c != '\n');
		if (c == '\r') {
			check(i + 1 < len && out[i + 1] == '\n');
			i++;
			col = 0;
		} else {
			check(++col <= 78);
		}
	}
	check(len >= 2 && out[len - 2] == '\r' && out[len - 1] == '\n');

	/* the header block: known fields only, each once */
	const char *hend = strstr(out, "\r\n\r\n");

	check(hend != NULL);
	hend += 2;
	for (const char *p = out; p < hend; p = strstr(p, "\r\n") + 2) {
		bool ok = *p == ' ';

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !ok; i++) {
			size_t n = strlen(known[i]);

			ok = strncmp(p, known[i], n) == 0 && p[n] == ':';
		}
		check(ok);
		check(strncmp(p, " \r\n", 3) != 0);    /* no line of white space only */
	}
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		char *v = field(out, hend, known[i]);
		bool want = true;

		if (strcmp(known[i], "Content-Language") == 0)
			want = (flags & 2) != 0;
		if (strcmp(known[i], "Content-Transfer-Encoding") == 0)
			want = !(flags & 1);
		check((v != NULL) == want);
		free(v);
	}

	/* Subject round trip */
	char *v = field(out, hend, "Subject"), *d, *want;

	d = tg_mime_decode_header(v);
	want = expected(field_v[0], true, NULL);
	check(d != NULL && strcmp(d, want) == 0);
	free(d);
	free(want);
	free(v);

	/* From: decodable, ends with the address */
	v = field(out, hend, "From");
	d = tg_mime_decode_header(v);
	check(d != NULL);
	check(strcmp(d, "a@b.example") == 0 ||
	      (strlen(d) > 14 && strcmp(d + strlen(d) - 14, " <a@b.example>") == 0));
	free(d);
	free(v);

	if (flags & 1) {
		check_part(out, "text/plain", field_v[1]);
		check_part(out, "text/html", field_v[2]);
	}

done:
	free(out);
	free(from);
	for (k = 0; k < 4; k++)
		free(field_v[k]);
	return 0;
}
