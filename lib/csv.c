/*
 * csv.c — the streaming CSV reader behind every CSV source.
 *
 * It owns the byte-level dialect: quoting, line ends, the BOM, separator
 * detection, text encodings and the recovery from broken records.  Memory
 * is one fixed read buffer (64 KiB, fd readers only), one record buffer that
 * grows up to max_record, the per-field arrays (reused from record to record)
 * and, for fields that need converting, one output buffer of at most three
 * times the record.  Nothing is allocated per field or per record once the
 * buffers have reached the size of the longest record.
 *
 * Dialect decisions (users see them; README and traguardo.conf(5) repeat them):
 *  - RFC 4180 quotes: a field that starts with '"' runs to the next lone
 *    '"'; inside it separators, CR, LF and doubled quotes ("") are data.
 *    A CRLF inside quotes is kept as CRLF, a lone CR inside quotes is kept.
 *  - A record ends at LF, CRLF or a lone CR outside quotes (old Mac exports);
 *    a last line without a line end is a record; an empty line is a record
 *    with one empty field; a trailing separator gives an empty last field.
 *  - Lenient like Excel: a '"' inside an unquoted field is an ordinary
 *    character (5"3 -> 5"3), and text after a closing quote is appended to
 *    the field ("ab"c -> abc), so sloppy exports still load.
 *  - A UTF-8 BOM at the very start is skipped, whatever the encoding.
 *  - Separator 0 (auto): the most frequent of ; , TAB | in the first record
 *    (first 64 KiB at most), outside quotes; a tie, or none at all, gives ';'
 *    (the Italian Excel default).
 *  - Encodings: output is always UTF-8.  utf-8: a field that is not valid
 *    UTF-8 makes the record bad (line and byte column in the message).
 *    windows-1252 / iso-8859-1: converted with iconv; the five bytes that
 *    Windows-1252 leaves undefined (81 8D 8F 90 9D) become U+FFFD.  auto: a
 *    field that is valid UTF-8 stays as it is, any other is Windows-1252.
 *  - Broken records are reported (TG_CSV_BAD_RECORD, "name:LINE: why") and
 *    skipped, and the next call goes on:
 *      * NUL byte: the record is parsed to its end (quotes still honoured)
 *        and dropped;
 *      * unterminated quote at end of input: a stray quote swallowed the
 *        rest of the input into one field; the record is dropped, reported
 *        at the quote's line, and the lines after that one are read again
 *        (given back from the field's text, so pipes too; see give_back());
 *        only when that is impossible is the rest of the input lost;
 *      * record longer than max_record bytes (its text after unquoting,
 *        plus one byte a field), or with more than 131072 fields (a bound
 *        on memory; Excel stops at 16384 columns): reported at the line
 *        where the record starts; the reader stops storing and skips to
 *        the next raw line end (quotes no longer honoured: an over-long
 *        record is most often a runaway quote, and resyncing at the next
 *        line end loses the least data).
 *  - Line numbers are physical lines (LF, CRLF and a lone CR outside quotes
 *    each end one, an LF inside quotes too); byte columns count from 1,
 *    after the BOM on line 1.
 *
 * Speed: a whole line without quotes (nearly every line of an export) is
 * scanned 16 bytes at a time (SSE2; else 8, in a 64-bit word) and its
 * fields are ended in place (fast_record); the rest goes through a
 * table-driven state machine that copies each field chunk once.  ASCII
 * fields skip all encoding work.
 */
#include "csv.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "utf8.h"

#define READ_BUF_SIZE (64 * 1024)
#define DEFAULT_MAX_RECORD ((size_t)8 * 1024 * 1024)
/* Caps memory for hostile input made of separators only (the per-field
 * arrays cost ~50 bytes a field); Excel stops at 16384 columns. */
#define MAX_FIELDS ((size_t)131072)
#define DETECT_LIMIT READ_BUF_SIZE
#define QUOTE_MAX 40

enum state {
	ST_REC_START,    /* before the first byte of a record */
	ST_FIELD_START,  /* before the first byte of a field */
	ST_UNQUOTED,
	ST_QUOTED,
	ST_QUOTE_SEEN,   /* a '"' inside quotes: closing, or the first of "" */
	ST_SKIP,         /* dropping an over-long record up to the line end */
};

struct field_meta {
	size_t off;          /* start of the field's text in rec */
	unsigned long line;  /* source position of its first text byte */
	size_t col;
	size_t qlen;         /* quoted: the text bytes inside the quotes (the
				rest, after the closing quote, was unquoted) */
	bool quoted;
};

struct tg_csv_reader {
	int fd;                  /* -1 for memory readers */
	char *name;
	const char *in;          /* input window: in[pos..end) not yet parsed */
	char *ibuf;              /* owned read buffer (fd readers) */
	size_t pos, end, cap;
	uint64_t base;           /* input offset of in[0] */
	bool eof;                /* nothing more to read after in[end) */
	int io_errno;            /* sticky: once set, every call fails */
	bool started;

	char sep;                /* 0 until detected */
	enum tg_encoding enc;
	size_t max_record;
	iconv_t cd;
	unsigned char cls_unq[256];  /* bytes that stop an unquoted scan */

	unsigned long line;      /* physical line at in[pos] */
	uint64_t line_start;     /* input offset where that line starts */
	bool skip_lf;            /* the last record ended with CR: eat one LF */
	bool quoted_cr;          /* a CR inside quotes was the last byte: an LF
				    right after it ends the same line */

	/* the record being read */
	enum state st;
	bool bad;                /* an error was reported; drop the rest */
	unsigned long rec_line, quote_line;
	char *rec;
	size_t reclen, reccap;
	struct field_meta *meta;
	size_t nfields, metacap;
	const char **fptr;
	size_t *flen;
	size_t outcap;
	char *conv;
	size_t convcap;
	char *replay;            /* input given back after a runaway quote */
	size_t replayed;         /* bytes given back so far (bounded) */
};

static const unsigned char cls_quoted[256] = {
	['"'] = 1, ['\n'] = 1, ['\r'] = 1, ['\0'] = 1,
};

/* ---- small helpers ---------------------------------------------------- */

static int ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool ascii_case_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
			return false;
	return *a == *b;
}

/* Length of the leading run of ASCII bytes. */
static size_t ascii_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, sizeof(w));
		if (w & UINT64_C(0x8080808080808080))
			break;
	}
	while (i < len && s[i] < 0x80)
		i++;
	return i;
}

/* Offset of the first byte that does not begin a well-formed UTF-8
 * sequence (overlongs, surrogates and > U+10FFFF rejected), or len. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0, k;

	while (i < len) {
		if (s[i] < 0x80) {
			i += 1 + ascii_prefix(s + i + 1, len - i - 1);
			continue;
		}
		k = tg_utf8_len(s + i, len - i);
		if (k == 0)
			return i;
		i += k;
	}
	return len;
}

/* Writes s[from..len) for a message: printable ASCII as is (with \" and \\),
 * anything else as \xHH, at most QUOTE_MAX source bytes, "..." where cut. */
static void quote_text(char *dst, size_t dstsz, const char *s, size_t len, size_t from)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i = from, stop = len;

	if (from > len)
		from = i = len;
	if (stop - from > QUOTE_MAX)
		stop = from + QUOTE_MAX;
	if (from > 0 && o + 3 < dstsz) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	for (; i < stop; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			if (o + 2 >= dstsz)
				break;
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			if (o + 1 >= dstsz)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstsz)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (stop < len && o + 3 < dstsz) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o < dstsz ? o : dstsz - 1] = '\0';
}

/* ---- encodings ---------------------------------------------------------- */

int tg_encoding_parse(const char *s, enum tg_encoding *out)
{
	static const struct {
		const char *name;
		enum tg_encoding enc;
	} names[] = {
		{ "auto", TG_ENC_AUTO },
		{ "utf-8", TG_ENC_UTF8 },
		{ "utf8", TG_ENC_UTF8 },
		{ "windows-1252", TG_ENC_WINDOWS_1252 },
		{ "cp1252", TG_ENC_WINDOWS_1252 },
		{ "iso-8859-1", TG_ENC_ISO_8859_1 },
		{ "latin1", TG_ENC_ISO_8859_1 },
	};
	size_t i;

	if (s == NULL)
		return -EINVAL;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (ascii_case_eq(s, names[i].name)) {
			if (out != NULL)
				*out = names[i].enc;
			return 0;
		}
	}
	return -EINVAL;
}

const char *tg_encoding_name(enum tg_encoding enc)
{
	switch (enc) {
	case TG_ENC_AUTO:
		return "auto";
	case TG_ENC_UTF8:
		return "utf-8";
	case TG_ENC_WINDOWS_1252:
		return "windows-1252";
	case TG_ENC_ISO_8859_1:
		return "iso-8859-1";
	}
	return "unknown";
}

/* ---- opening and closing ------------------------------------------------- */

static struct tg_csv_reader *reader_new(const char *name, const struct tg_csv_options *opt)
{
	struct tg_csv_options def = { 0, TG_ENC_AUTO, 0 };
	struct tg_csv_reader *r;
	unsigned char sep;

	if (opt == NULL)
		opt = &def;
	sep = (unsigned char)opt->separator;
	/* A quote or line end cannot separate; a non-ASCII byte would cut
	 * UTF-8 sequences in two. */
	if (sep == '"' || sep == '\n' || sep == '\r' || sep >= 0x80 ||
	    (unsigned)opt->encoding > (unsigned)TG_ENC_ISO_8859_1) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->fd = -1;
	r->cd = (iconv_t)-1;
	r->name = strdup(name != NULL ? name : "<input>");
	if (r->name == NULL)
		goto fail;
	r->sep = (char)sep;
	r->enc = opt->encoding;
	r->max_record = opt->max_record != 0 ? opt->max_record : DEFAULT_MAX_RECORD;
	/* keeps 3 * max_record and friends far from overflowing */
	if (r->max_record > SIZE_MAX / 8)
		r->max_record = SIZE_MAX / 8;
	r->line = 1;
	if (r->enc != TG_ENC_UTF8) {
		r->cd = iconv_open("UTF-8", r->enc == TG_ENC_ISO_8859_1 ? "ISO-8859-1"
									  : "WINDOWS-1252");
		if (r->cd == (iconv_t)-1)
			goto fail;
	}
	return r;
fail:
	tg_csv_free(r);
	return NULL;
}

struct tg_csv_reader *tg_csv_open_fd(int fd, const char *name,
				     const struct tg_csv_options *opt)
{
	struct tg_csv_reader *r;

	if (fd < 0) {
		errno = EBADF;
		return NULL;
	}
	r = reader_new(name, opt);
	if (r == NULL)
		return NULL;
	r->fd = fd;
	r->cap = READ_BUF_SIZE;
	r->ibuf = malloc(r->cap);
	if (r->ibuf == NULL) {
		tg_csv_free(r);
		return NULL;
	}
	r->in = r->ibuf;
	return r;
}

struct tg_csv_reader *tg_csv_open_mem(const char *buf, size_t len, const char *name,
				      const struct tg_csv_options *opt)
{
	struct tg_csv_reader *r;

	if (buf == NULL && len > 0) {
		errno = EINVAL;
		return NULL;
	}
	r = reader_new(name, opt);
	if (r == NULL)
		return NULL;
	r->in = buf != NULL ? buf : "";
	r->end = r->cap = len;
	r->eof = true;
	return r;
}

void tg_csv_free(struct tg_csv_reader *r)
{
	if (r == NULL)
		return;
	if (r->cd != (iconv_t)-1)
		iconv_close(r->cd);
	free(r->name);
	free(r->ibuf);
	free(r->rec);
	free(r->meta);
	free(r->fptr);
	free(r->flen);
	free(r->conv);
	free(r->replay);
	free(r);
}

char tg_csv_separator(const struct tg_csv_reader *r)
{
	return r != NULL ? r->sep : 0;
}

/* ---- input ------------------------------------------------------------- */

/* Reads more input after in[end).  Returns bytes read, 0 at end of input
 * (and sets eof), or -errno. */
static long fill(struct tg_csv_reader *r)
{
	if (r->ibuf == NULL || r->eof) {
		r->eof = true;
		return 0;
	}
	if (r->pos == r->end) {
		r->base += r->pos;
		r->pos = r->end = 0;
	} else if (r->end == r->cap && r->pos > 0) {
		memmove(r->ibuf, r->ibuf + r->pos, r->end - r->pos);
		r->base += r->pos;
		r->end -= r->pos;
		r->pos = 0;
	}
	if (r->end == r->cap)
		return -ENOBUFS;  /* callers never let this happen */
	for (;;) {
		ssize_t n = read(r->fd, r->ibuf + r->end, r->cap - r->end);

		if (n > 0) {
			r->end += (size_t)n;
			return (long)n;
		}
		if (n == 0) {
			r->eof = true;
			return 0;
		}
		if (errno != EINTR)
			return errno > 0 ? -errno : -EIO;
	}
}

static int io_error(struct tg_csv_reader *r, struct tg_error *err)
{
	tg_error_set(err, "%s: %s", r->name, strerror(r->io_errno));
	return TG_CSV_IO_ERROR;
}

/* Counts candidate separators in the first record, reading more input
 * (without consuming it) until its end, DETECT_LIMIT bytes, or EOF. */
static int detect_separator(struct tg_csv_reader *r)
{
	static const char cand[] = { ';', ',', '\t', '|' };
	size_t count[4] = { 0, 0, 0, 0 };
	size_t scanned = 0;  /* relative to pos: fill() may move the window */
	bool inq = false, done = false;
	size_t i, best;

	while (!done) {
		size_t lim = r->end - r->pos;

		if (lim > DETECT_LIMIT)
			lim = DETECT_LIMIT;
		for (; scanned < lim; scanned++) {
			char c = r->in[r->pos + scanned];

			if (c == '"') {
				inq = !inq;
			} else if (!inq) {
				if (c == '\n' || c == '\r') {
					done = true;
					break;
				}
				for (i = 0; i < 4; i++)
					if (c == cand[i])
						count[i]++;
			}
		}
		if (done || r->eof || lim >= DETECT_LIMIT || r->ibuf == NULL)
			break;
		long n = fill(r);

		if (n < 0)
			return (int)n;
	}
	best = 0;
	for (i = 1; i < 4; i++)
		if (count[i] > count[best])
			best = i;
	for (i = 0; i < 4; i++)
		if (i != best && count[i] == count[best])
			best = 0;  /* a tie for the most, or none at all: ';' */
	r->sep = cand[best];
	return 0;
}

static int start(struct tg_csv_reader *r)
{
	while (r->end - r->pos < 3 && !r->eof) {
		long n = fill(r);

		if (n < 0)
			return (int)n;
	}
	if (r->end - r->pos >= 3 && memcmp(r->in + r->pos, "\xEF\xBB\xBF", 3) == 0) {
		r->pos += 3;
		r->line_start = r->base + r->pos;
	}
	if (r->sep == 0) {
		int rc = detect_separator(r);

		if (rc < 0)
			return rc;
	}
	memset(r->cls_unq, 0, sizeof(r->cls_unq));
	r->cls_unq[(unsigned char)r->sep] = 1;
	r->cls_unq['\n'] = 1;
	r->cls_unq['\r'] = 1;
	r->cls_unq['\0'] = 1;
	r->started = true;
	return 0;
}

/* ---- building the record ---------------------------------------------- */

enum { PUT_OK = 0, PUT_TOO_LONG = -1, PUT_NOMEM = -2 };

static int rec_grow(struct tg_csv_reader *r, size_t n)
{
	size_t limit = r->max_record + 1;  /* + the last field's NUL */
	size_t want, ncap;
	char *p;

	if (n > limit - r->reclen)
		return PUT_TOO_LONG;
	want = r->reclen + n;
	ncap = r->reccap != 0 ? r->reccap : 1024;
	while (ncap < want)
		ncap = ncap > limit / 2 ? limit : ncap * 2;
	if (ncap > limit)
		ncap = limit;
	p = realloc(r->rec, ncap);
	if (p == NULL)
		return PUT_NOMEM;
	r->rec = p;
	r->reccap = ncap;
	return PUT_OK;
}

static inline int put(struct tg_csv_reader *r, const unsigned char *s, size_t n)
{
	if (r->bad)
		return PUT_OK;
	if (n > r->reccap - r->reclen) {
		int rc = rec_grow(r, n);

		if (rc != PUT_OK)
			return rc;
	}
	memcpy(r->rec + r->reclen, s, n);
	r->reclen += n;
	return PUT_OK;
}

static inline int end_field(struct tg_csv_reader *r)
{
	static const unsigned char nul = 0;

	return put(r, &nul, 1);
}

/* A new field whose text starts at in[i]. */
static int push_field(struct tg_csv_reader *r, size_t i, bool quoted)
{
	struct field_meta *m;

	if (r->bad)
		return PUT_OK;
	if (r->nfields == r->metacap) {
		size_t ncap = r->metacap != 0 ? r->metacap * 2 : 64;

		if (r->nfields >= MAX_FIELDS)
			return PUT_TOO_LONG;
		if (ncap > MAX_FIELDS)
			ncap = MAX_FIELDS;
		m = realloc(r->meta, ncap * sizeof(*m));
		if (m == NULL)
			return PUT_NOMEM;
		r->meta = m;
		r->metacap = ncap;
	}
	m = &r->meta[r->nfields++];
	m->off = r->reclen;
	m->line = r->line;
	m->col = (size_t)(r->base + i - r->line_start) + 1;
	m->quoted = quoted;
	m->qlen = SIZE_MAX;
	return PUT_OK;
}

static inline void newline(struct tg_csv_reader *r, size_t next)
{
	r->line++;
	r->line_start = r->base + next;
}

/* The first error of a record wins; the rest of the record is dropped. */
static void record_error(struct tg_csv_reader *r, struct tg_error *err, unsigned long line,
			 const char *what)
{
	if (r->bad)
		return;
	r->bad = true;
	tg_error_set(err, "%s:%lu: %s", r->name, line, what);
}

static void too_long(struct tg_csv_reader *r, struct tg_error *err, bool fields)
{
	char what[96];

	if (fields)
		snprintf(what, sizeof(what), "record has more than %zu fields", MAX_FIELDS);
	else
		snprintf(what, sizeof(what), "record longer than %zu bytes", r->max_record);
	record_error(r, err, r->rec_line, what);
	r->st = ST_SKIP;
}

static void nul_error(struct tg_csv_reader *r, struct tg_error *err, size_t i)
{
	char what[64];

	/* a file of NULs (a sparse file) must not cost a snprintf a byte */
	if (r->bad)
		return;
	snprintf(what, sizeof(what), "NUL byte at column %zu",
		 (size_t)(r->base + i - r->line_start) + 1);
	record_error(r, err, r->line, what);
}

/*
 * Parses in[pos..end).  Returns 1 when a record is complete, 0 when more
 * input is needed, PUT_NOMEM when out of memory.
 */
static int parse(struct tg_csv_reader *r, struct tg_error *err)
{
	const unsigned char *buf = (const unsigned char *)r->in;
	const unsigned char *cls = r->cls_unq;
	const unsigned char sep = (unsigned char)r->sep;
	size_t i = r->pos, n = r->end, s;
	unsigned char c;
	int rc;

	while (i < n) {
		switch (r->st) {
		case ST_REC_START:
			if (r->skip_lf) {
				r->skip_lf = false;
				if (buf[i] == '\n') {
					i++;
					r->line_start = r->base + i;
					continue;
				}
			}
			r->rec_line = r->line;
			r->st = ST_FIELD_START;
			/* fall through */
		case ST_FIELD_START:
			c = buf[i];
			rc = push_field(r, i + (c == '"'), c == '"');
			if (rc != PUT_OK) {
				if (rc == PUT_NOMEM)
					goto nomem;
				too_long(r, err, true);
				continue;
			}
			if (c == '"') {
				r->quote_line = r->line;
				i++;
				r->st = ST_QUOTED;
				continue;
			}
			r->st = ST_UNQUOTED;
			/* fall through */
		case ST_UNQUOTED:
			s = i;
			while (i < n && !cls[buf[i]])
				i++;
			if (i > s && (rc = put(r, buf + s, i - s)) != PUT_OK)
				goto put_failed;
			if (i == n)
				break;
			c = buf[i++];
			if (c == sep) {
				if ((rc = end_field(r)) != PUT_OK)
					goto put_failed;
				r->st = ST_FIELD_START;
				continue;
			}
			if (c == '\n' || c == '\r') {
				newline(r, i);
				r->skip_lf = c == '\r';
				if ((rc = end_field(r)) != PUT_OK) {
					if (rc == PUT_NOMEM)
						goto nomem;
					too_long(r, err, false);
				}
				goto done;
			}
			nul_error(r, err, i - 1);
			while (i < n && buf[i] == '\0')
				i++;  /* a run of NULs (sparse file): one pass */
			continue;
		case ST_QUOTED:
			/* line ends inside quotes are counted as outside (CR, LF,
			 * CRLF), and stop the scan: after a record too long the
			 * reader skips to the next one (ST_SKIP) */
			if (r->quoted_cr) {
				r->quoted_cr = false;
				if (buf[i] == '\n') {
					c = buf[i++];
					if ((rc = put(r, &c, 1)) != PUT_OK)
						goto put_failed;
					r->line_start = r->base + i;
					continue;
				}
			}
			s = i;
			while (i < n && !cls_quoted[buf[i]])
				i++;
			if (i > s && (rc = put(r, buf + s, i - s)) != PUT_OK)
				goto put_failed;
			if (i == n)
				break;
			c = buf[i++];
			if (c == '"') {
				r->st = ST_QUOTE_SEEN;
			} else if (c == '\n' || c == '\r') {
				if ((rc = put(r, &c, 1)) != PUT_OK)
					goto put_failed;
				newline(r, i);
				r->quoted_cr = c == '\r';
			} else {
				nul_error(r, err, i - 1);
				while (i < n && buf[i] == '\0')
					i++;
			}
			continue;
		case ST_QUOTE_SEEN:
			if (buf[i] == '"') {
				if ((rc = put(r, buf + i, 1)) != PUT_OK)
					goto put_failed;
				i++;
				r->st = ST_QUOTED;
			} else {
				/* closing quote: the unquoted scan ends the
				 * field, or keeps trailing text ("ab"c) */
				if (!r->bad && r->nfields > 0)
					r->meta[r->nfields - 1].qlen =
						r->reclen - r->meta[r->nfields - 1].off;
				r->st = ST_UNQUOTED;
			}
			continue;
		case ST_SKIP:
			while (i < n && buf[i] != '\n' && buf[i] != '\r')
				i++;
			if (i == n)
				break;
			c = buf[i++];
			newline(r, i);
			r->skip_lf = c == '\r';
			goto done;
		}
		continue;
put_failed:
		if (rc == PUT_NOMEM)
			goto nomem;
		too_long(r, err, false);
	}
	r->pos = i;
	return 0;
done:
	r->pos = i;
	return 1;
nomem:
	r->pos = i;
	return PUT_NOMEM;
}

static bool ensure_out(struct tg_csv_reader *r, size_t n);

/* 0x80 in each byte of x that is zero, nothing else (exact: no borrow
 * crosses bytes). */
static inline uint64_t zero_bytes(uint64_t x)
{
	const uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL;

	return ~(((x & low7) + low7) | x | low7);
}

/* Byte index of the lowest flagged byte of a zero_bytes() mask. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR_SCAN 1
#define FIRST_BYTE(m) ((size_t)__builtin_ctzll(m) / 8)
#else
#define SWAR_SCAN 0
#define FIRST_BYTE(m) ((size_t)0)
#endif

/* Room in flen[] for the separator after nsep others and the last field.
 * false: too many fields, or no memory.  The arrays never grow past
 * MAX_FIELDS, so the limit holds whatever size the records before left
 * them at.  Doubling is not always enough: the records before can have
 * left them at the size of a short record (finish and fast_record size
 * them exactly), and the 16-byte step asks for 16 more at once. */
static bool room_for_sep(struct tg_csv_reader *r, size_t nsep)
{
	size_t want = r->outcap != 0 ? 2 * r->outcap : 64;

	if (nsep + 2 <= r->outcap)
		return true;
	if (nsep + 2 > MAX_FIELDS)
		return false;
	if (want < nsep + 2)
		want = nsep + 2;
	return ensure_out(r, want < MAX_FIELDS ? want : MAX_FIELDS);
}

/* Remembers a separator at offset off of the line in flen[] (turned into
 * field lengths by fast_record), through locals the compiler can keep in
 * registers: sep (flen) and cap (outcap) are refreshed after a growth. */
#define NOTE_SEP(off)                                                   \
	do {                                                            \
		if (nsep + 2 > cap) {                                   \
			if (!room_for_sep(r, nsep))                     \
				return 0;                               \
			sep = r->flen;                                  \
			cap = r->outcap;                                \
		}                                                       \
		sep[nsep++] = (off);                                    \
	} while (0)

/*
 * The common record: a whole line in the buffer without quotes, NUL bytes
 * or CRs (but the CR of a CRLF).  Built as parse() builds it (each
 * separator turned into the NUL that ends a field, the same field positions
 * for messages; the line copied once, or, all ASCII in the reader's own
 * buffer, not at all), without the state machine: the line is scanned 16
 * bytes at a time (SSE2; else 8 in a word) for its end, the separators and
 * the bytes that need the general path, and the fields go straight to fptr
 * and flen.  Returns 1 with the record built and the line consumed (2: and
 * it is all ASCII, so finish() has nothing to check: fptr and flen are the
 * record), 0 for the general path (nothing consumed, nothing kept: also for
 * too many fields, which the general path reports), PUT_NOMEM.
 */
static int fast_record(struct tg_csv_reader *r)
{
	const unsigned char *buf;
	size_t avail, i = 0, lf = SIZE_MAX, special = SIZE_MAX, len, nsep = 0, from, k;
	uint64_t high = 0;
	char *text;
	size_t *sep = r->flen, cap = r->outcap;
	const char **fptr;
	int rc;

	if (r->skip_lf && r->pos < r->end) {
		/* the LF of a CRLF whose CR ended the record before (read by
		 * parse() across the end of the buffer) */
		r->skip_lf = false;
		if (r->in[r->pos] == '\n') {
			r->pos++;
			r->line_start = r->base + r->pos;
		}
	}
	if (r->skip_lf)
		return 0;
	buf = (const unsigned char *)r->in + r->pos;
	avail = r->end - r->pos;
#ifdef __SSE2__
	{
		const __m128i vsep = _mm_set1_epi8(r->sep), vlf = _mm_set1_epi8('\n');
		const __m128i vquote = _mm_set1_epi8('"'), vcr = _mm_set1_epi8('\r');
		const __m128i zero = _mm_setzero_si128();

		for (; i + 16 <= avail; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
			unsigned ml = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vlf));
			unsigned ms = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vsep));
			unsigned mq = (unsigned)_mm_movemask_epi8(
				_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, vquote), _mm_cmpeq_epi8(v, vcr)),
					     _mm_cmpeq_epi8(v, zero)));
			unsigned mh = (unsigned)_mm_movemask_epi8(v);

			if (ml != 0) {
				/* only the bytes before the line's end count */
				unsigned keep = (ml & (0u - ml)) - 1;

				ms &= keep;
				mq &= keep;
				mh &= keep;
				lf = i + (size_t)__builtin_ctz(ml);
			}
			high |= mh;
			if (mq != 0 && special == SIZE_MAX)
				special = i + (size_t)__builtin_ctz(mq);
			if (nsep + 18 > cap) {
				/* room for the 16 separators this step can hold,
				 * so that the loop below needs no check */
				if (!room_for_sep(r, nsep + 16))
					return 0;
				sep = r->flen;
				cap = r->outcap;
			}
			for (; ms != 0; ms &= ms - 1)
				sep[nsep++] = i + (size_t)__builtin_ctz(ms);
			if (lf != SIZE_MAX)
				break;
			if (i > r->max_record)
				return 0;
		}
	}
#endif
#if SWAR_SCAN
	if (lf == SIZE_MAX) {
		const uint64_t ones = 0x0101010101010101ULL, top = 0x8080808080808080ULL;
		const uint64_t vsep = ones * (unsigned char)r->sep, vlf = ones * '\n';
		const uint64_t vquote = ones * '"', vcr = ones * '\r';

		for (; i + 8 <= avail; i += 8) {
			uint64_t w, zl, zs, zq;

			memcpy(&w, buf + i, sizeof(w));
			zl = zero_bytes(w ^ vlf);
			zs = zero_bytes(w ^ vsep);
			zq = zero_bytes(w ^ vquote) | zero_bytes(w ^ vcr) | zero_bytes(w);
			if (zl != 0) {
				/* only the bytes before the line's end count */
				uint64_t keep = (zl & (0 - zl)) - 1;

				zs &= keep;
				zq &= keep;
				w &= keep;
				lf = i + FIRST_BYTE(zl);
			}
			high |= w & top;
			if (zq != 0 && special == SIZE_MAX)
				special = i + FIRST_BYTE(zq);
			for (; zs != 0; zs &= zs - 1)
				NOTE_SEP(i + FIRST_BYTE(zs));
			if (lf != SIZE_MAX)
				break;
			if (i > r->max_record)
				return 0;
		}
	}
#endif
	for (; lf == SIZE_MAX && i < avail; i++) {
		unsigned char c = buf[i];

		if (c == '\n') {
			lf = i;
			break;
		}
		high |= c & 0x80;
		if (c == (unsigned char)r->sep) {
			NOTE_SEP(i);
		} else if ((c == '"' || c == '\r' || c == '\0') && special == SIZE_MAX) {
			special = i;
		}
	}
	if (lf == SIZE_MAX)
		return 0;
	len = lf;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	/* the CR of the CRLF is the only special byte allowed, at len */
	if (special < len || len > r->max_record)
		return 0;
	if (nsep + 1 > r->outcap && !ensure_out(r, nsep + 1))
		return PUT_NOMEM;
	if (high == 0 && r->in == r->ibuf) {
		/* ASCII in our own read buffer: the fields stay where they are,
		 * ended in place (the line is consumed; the buffer is only read
		 * again after this record's life) */
		text = r->ibuf + r->pos;
	} else {
		if (len + 1 > r->reccap && (rc = rec_grow(r, len + 1)) != PUT_OK)
			return rc == PUT_NOMEM ? PUT_NOMEM : 0;
		memcpy(r->rec, buf, len);
		text = r->rec;
	}
	text[len] = '\0';
	sep = r->flen;
	fptr = r->fptr;
	for (k = 0, from = 0; k < nsep; k++) {
		size_t at = sep[k];

		text[at] = '\0';
		fptr[k] = text + from;
		sep[k] = at - from;
		from = at + 1;
	}
	fptr[nsep] = text + from;
	sep[nsep] = len - from;
	r->nfields = nsep + 1;
	r->reclen = len + 1;
	r->rec_line = r->line;
	if (high != 0) {
		/* not ASCII: finish() checks or converts, and wants the fields'
		 * positions */
		if (r->metacap < r->nfields) {
			struct field_meta *m = realloc(r->meta, r->nfields * sizeof(*m));

			if (m == NULL) {
				r->nfields = 0;
				r->reclen = 0;
				return PUT_NOMEM;
			}
			r->meta = m;
			r->metacap = r->nfields;
		}
		for (k = 0; k < r->nfields; k++) {
			size_t off = (size_t)(r->fptr[k] - r->rec);

			r->meta[k] = (struct field_meta){
				.off = off, .line = r->line, .quoted = false, .qlen = SIZE_MAX,
				.col = (size_t)(r->base + r->pos + off - r->line_start) + 1 };
		}
	}
	r->pos += lf + 1;
	newline(r, r->pos);
	return high != 0 ? 1 : 2;
}

static bool ensure_out(struct tg_csv_reader *r, size_t n)
{
	const char **p;
	size_t *l;

	if (n <= r->outcap)
		return true;
	p = realloc(r->fptr, n * sizeof(*p));
	if (p == NULL)
		return false;
	r->fptr = p;
	l = realloc(r->flen, n * sizeof(*l));
	if (l == NULL)
		return false;
	r->flen = l;
	r->outcap = n;
	return true;
}

/* Converts src (single-byte charset) to UTF-8 at out, which has room for
 * 3 * len bytes; returns the length written. */
static size_t convert(struct tg_csv_reader *r, const char *src, size_t len, size_t ascii,
		      char *out)
{
	char *ip = (char *)(uintptr_t)(src + ascii);
	char *op = out + ascii;
	size_t il = len - ascii, ol = 3 * len - ascii;

	memcpy(out, src, ascii);
	iconv(r->cd, NULL, NULL, NULL, NULL);
	while (il > 0) {
		if (iconv(r->cd, &ip, &il, &op, &ol) != (size_t)-1)
			break;
		if ((errno != EILSEQ && errno != EINVAL) || ol < 3)
			break;  /* E2BIG cannot happen: 3 bytes a byte is enough */
		/* Windows-1252's undefined 81 8D 8F 90 9D */
		memcpy(op, "\xEF\xBF\xBD", 3);
		op += 3;
		ol -= 3;
		ip++;
		il--;
	}
	return (size_t)(op - out);
}

static int utf8_error(struct tg_csv_reader *r, struct tg_error *err, size_t fi,
		      const char *p, size_t len, size_t bad)
{
	const struct field_meta *m = &r->meta[fi];
	unsigned long line = m->line;
	size_t col = m->col, j;
	char q[QUOTE_MAX * 4 + 8];

	/* map the offset in the unquoted text back to the source line: in
	 * quotes a '"' was written twice and a line end counts as outside
	 * (CR, LF, CRLF); the closing quote is not in the text */
	for (j = 0; j < bad; j++) {
		bool in_quotes = m->quoted && j < m->qlen;

		if (m->quoted && j == m->qlen)
			col++;
		if (p[j] == '\n' && !(j > 0 && p[j - 1] == '\r')) {
			line++;
			col = 1;
		} else if (p[j] == '\r') {
			line++;
			col = 1;
		} else if (p[j] != '\n') {
			col += p[j] == '"' && in_quotes ? 2 : 1;
		}
	}
	if (m->quoted && bad == m->qlen)
		col++;
	quote_text(q, sizeof(q), p, len, bad > 20 ? bad - 20 : 0);
	tg_error_set(err, "%s:%lu: invalid UTF-8 at byte column %zu (field %zu): \"%s\"",
		     r->name, line, col, fi + 1, q);
	return TG_CSV_BAD_RECORD;
}

static int finish(struct tg_csv_reader *r, struct tg_csv_record *rec, struct tg_error *err)
{
	size_t i, nf = r->nfields, need = 0;
	char *out;

	rec->line = r->rec_line;
	rec->nfields = 0;
	rec->fields = NULL;
	rec->lens = NULL;
	if (r->bad)
		return TG_CSV_BAD_RECORD;
	if (!ensure_out(r, nf)) {
		r->io_errno = ENOMEM;
		return io_error(r, err);
	}
	for (i = 0; i < nf; i++) {
		size_t off = r->meta[i].off;
		size_t len = (i + 1 < nf ? r->meta[i + 1].off : r->reclen) - off - 1;
		const unsigned char *p = (const unsigned char *)r->rec + off;
		size_t k = ascii_prefix(p, len);

		r->flen[i] = len;
		r->fptr[i] = (const char *)p;
		if (k == len)
			continue;
		if (r->enc == TG_ENC_UTF8 || r->enc == TG_ENC_AUTO) {
			size_t bad = k + utf8_valid_prefix(p + k, len - k);

			if (bad == len)
				continue;
			if (r->enc == TG_ENC_UTF8)
				return utf8_error(r, err, i, (const char *)p, len, bad);
		}
		r->fptr[i] = NULL;  /* to convert below */
		need += 3 * len + 1;
	}
	if (need > 0) {
		if (need > r->convcap) {
			char *c = realloc(r->conv, need);

			if (c == NULL) {
				r->io_errno = ENOMEM;
				return io_error(r, err);
			}
			r->conv = c;
			r->convcap = need;
		}
		out = r->conv;
		for (i = 0; i < nf; i++) {
			const char *p;
			size_t len;

			if (r->fptr[i] != NULL)
				continue;
			p = r->rec + r->meta[i].off;
			len = r->flen[i];
			len = convert(r, p, len, ascii_prefix((const unsigned char *)p, len), out);
			out[len] = '\0';
			r->fptr[i] = out;
			r->flen[i] = len;
			out += len + 1;
		}
	}
	rec->nfields = nf;
	rec->fields = r->fptr;
	rec->lens = r->flen;
	return TG_CSV_RECORD;
}

/*
 * The input ended inside quotes: the quote opened at quote_line was a stray
 * one, and everything after it went into one field.  That field is exactly
 * the rest of the input with each '"' written once instead of twice (in
 * quotes a lone '"' would have closed it; NUL bytes make the record bad,
 * and then nothing was kept, so this is not called).  The lines after the
 * quote's line are given back as input, so one stray quote costs its own
 * line, not the rest of the file, the same from a pipe as from a file.
 * Returns false (the rest is lost, as before) when there is nothing after
 * the quote's line, when out of memory, or past the replay budget (four
 * times max_record per reader: a bound on the work of hostile input).
 */
static bool give_back(struct tg_csv_reader *r)
{
	const struct field_meta *m;
	const char *t;
	size_t tlen, k, n, q, i;
	char *buf;

	if (r->bad || r->nfields == 0 || r->rec == NULL)
		return false;  /* (rec is NULL when nothing was kept yet: input '"') */
	m = &r->meta[r->nfields - 1];
	t = r->rec + m->off;
	tlen = r->reclen - m->off;
	for (k = 0; k < tlen && t[k] != '\n' && t[k] != '\r'; k++)
		;
	if (k == tlen)
		return false;
	k += (t[k] == '\r' && k + 1 < tlen && t[k + 1] == '\n') ? 2 : 1;
	for (q = 0, i = k; i < tlen; i++)
		q += t[i] == '"';
	n = tlen - k + q;
	if (n == 0 || n > r->max_record * 4 - r->replayed)
		return false;
	buf = malloc(n);
	if (buf == NULL)
		return false;
	for (i = k, q = 0; i < tlen; i++) {
		buf[q++] = t[i];
		if (t[i] == '"')
			buf[q++] = '"';
	}
	free(r->replay);
	r->replay = buf;
	r->replayed += n;
	r->in = buf;
	r->pos = 0;
	r->end = n;
	r->eof = true;
	r->base = 0;
	r->line = r->quote_line + 1;
	r->line_start = 0;
	r->skip_lf = false;
	r->quoted_cr = false;
	return true;
}

/* End of input inside or before a record. */
static int at_eof(struct tg_csv_reader *r, struct tg_csv_record *rec, struct tg_error *err)
{
	unsigned long line;
	int rc;
	char what[96];

	switch (r->st) {
	case ST_REC_START:
		return TG_CSV_EOF;
	case ST_FIELD_START:
		rc = push_field(r, r->pos, false);
		if (rc == PUT_OK)
			rc = end_field(r);
		break;
	case ST_UNQUOTED:
	case ST_QUOTE_SEEN:
		rc = end_field(r);
		break;
	case ST_QUOTED:
		if (give_back(r)) {
			record_error(r, err, r->quote_line,
				     "unterminated quoted field (a quote opened on this line never closes)");
			rc = PUT_OK;
			break;
		}
		/* the problem is where the input ends: the last line that has
		 * anything on it */
		line = r->line;
		if (r->base + r->pos == r->line_start && line > r->quote_line)
			line--;
		snprintf(what, sizeof(what), "unterminated quoted field (opened at line %lu)",
			 r->quote_line);
		record_error(r, err, line, what);
		rc = PUT_OK;
		break;
	default:
		rc = PUT_OK;
		break;
	}
	r->st = ST_REC_START;
	if (rc == PUT_NOMEM) {
		r->io_errno = ENOMEM;
		return io_error(r, err);
	}
	if (rc != PUT_OK)
		too_long(r, err, r->nfields >= MAX_FIELDS);
	return finish(r, rec, err);
}

int tg_csv_next(struct tg_csv_reader *r, struct tg_csv_record *rec, struct tg_error *err)
{
	int rc;

	if (r == NULL || rec == NULL) {
		tg_error_set(err, "csv: no reader");
		return TG_CSV_IO_ERROR;
	}
	if (r->io_errno != 0)
		return io_error(r, err);
	if (!r->started) {
		rc = start(r);
		if (rc < 0) {
			r->io_errno = -rc;
			return io_error(r, err);
		}
	}
	r->st = ST_REC_START;
	r->bad = false;
	r->reclen = 0;
	r->nfields = 0;
	rc = fast_record(r);
	if (rc == 2) {
		rec->line = r->rec_line;
		rec->nfields = r->nfields;
		rec->fields = r->fptr;
		rec->lens = r->flen;
		return TG_CSV_RECORD;
	}
	if (rc > 0)
		return finish(r, rec, err);
	if (rc == PUT_NOMEM) {
		r->io_errno = ENOMEM;
		return io_error(r, err);
	}
	for (;;) {
		if (r->pos == r->end) {
			long n = fill(r);

			if (n < 0) {
				r->io_errno = (int)-n;
				return io_error(r, err);
			}
			if (n == 0)
				return at_eof(r, rec, err);
		}
		rc = parse(r, err);
		if (rc == 1) {
			r->st = ST_REC_START;
			return finish(r, rec, err);
		}
		if (rc == PUT_NOMEM) {
			r->io_errno = ENOMEM;
			return io_error(r, err);
		}
	}
}

/* ---- headers --------------------------------------------------------------- */

/* Yields the bytes of a header as compared: trimmed, runs of blanks as one
 * space, ASCII and Latin-1 capitals (U+00C0..U+00DE but U+00D7) folded. */
struct fold {
	const unsigned char *p;
	unsigned char prev;
};

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int fold_next(struct fold *f)
{
	unsigned char c = *f->p, raw;

	if (is_blank(c)) {
		while (is_blank(*f->p))
			f->p++;
		if (*f->p == '\0')
			return -1;  /* trailing blanks */
		f->prev = ' ';
		return ' ';
	}
	if (c == '\0')
		return -1;
	f->p++;
	raw = c;
	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c + 32);
	else if (f->prev == 0xC3 && c >= 0x80 && c <= 0x9E && c != 0x97)
		c = (unsigned char)(c + 32);  /* U+00C0..U+00DE -> U+00E0..U+00FE */
	f->prev = raw;
	return c;
}

bool tg_csv_header_equal(const char *a, const char *b)
{
	struct fold fa, fb;
	int ca, cb;

	if (a == NULL || b == NULL)
		return false;
	fa.p = (const unsigned char *)a;
	fb.p = (const unsigned char *)b;
	while (is_blank(*fa.p))
		fa.p++;
	while (is_blank(*fb.p))
		fb.p++;
	fa.prev = fb.prev = 0;
	do {
		ca = fold_next(&fa);
		cb = fold_next(&fb);
		if (ca != cb)
			return false;
	} while (ca >= 0);
	return true;
}
