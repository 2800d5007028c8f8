/*
 * csv.h — a streaming CSV reader for spreadsheet exports.
 *
 * Reads one record at a time from a file descriptor (or a memory buffer)
 * with memory bounded by the longest record, whatever the file size.
 * RFC 4180 quoting (separators, newlines and doubled quotes inside quotes),
 * CRLF or LF, a last line without newline, a UTF-8 BOM.  Lenient where
 * spreadsheets are sloppy (a bare quote inside an unquoted field is kept as
 * a character), strict where data would be corrupted (unterminated quote,
 * NUL byte, over-long record, invalid text in a declared encoding): such a
 * record is reported with its line and skipped, and reading goes on.
 *
 * Fields are returned in UTF-8 whatever the input encoding.
 */
#ifndef TG_CSV_H
#define TG_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum tg_encoding {
	TG_ENC_AUTO = 0,    /* UTF-8; a field that is not valid UTF-8 is Windows-1252 */
	TG_ENC_UTF8,
	TG_ENC_WINDOWS_1252,
	TG_ENC_ISO_8859_1,
};

/* "auto" "utf-8" "utf8" "windows-1252" "cp1252" "iso-8859-1" "latin1"
 * (case-insensitive) -> encoding; returns 0 or -EINVAL. */
int tg_encoding_parse(const char *s, enum tg_encoding *out);
const char *tg_encoding_name(enum tg_encoding enc);

struct tg_csv_options {
	char separator;            /* 0 = auto: the most frequent of ; , TAB | in
				      the first line, outside quotes (ties: ;) */
	enum tg_encoding encoding;
	size_t max_record;         /* bytes; 0 = default 8 MiB */
};

struct tg_csv_record {
	size_t nfields;
	const char *const *fields; /* NUL-terminated UTF-8, valid until next call */
	const size_t *lens;        /* lengths without the NUL */
	unsigned long line;        /* line where the record starts (1-based) */
};

struct tg_csv_reader;

/* Takes nothing: fd stays the caller's (not closed by tg_csv_free).
 * name is copied and used in messages ("name:line: ..."). */
struct tg_csv_reader *tg_csv_open_fd(int fd, const char *name,
				     const struct tg_csv_options *opt);
/* Reads from buf[0..len) without copying it; buf must outlive the reader. */
struct tg_csv_reader *tg_csv_open_mem(const char *buf, size_t len, const char *name,
				      const struct tg_csv_options *opt);
void tg_csv_free(struct tg_csv_reader *r);

#define TG_CSV_RECORD 1
#define TG_CSV_EOF 0
#define TG_CSV_BAD_RECORD (-2)  /* err says "name:line: why"; call again to go on */
#define TG_CSV_IO_ERROR (-5)    /* err says "name: strerror"; stop */

/*
 * Next record.  *rec points into the reader and is valid until the next call.
 * An empty line is a record with one empty field (callers usually skip it).
 */
int tg_csv_next(struct tg_csv_reader *r, struct tg_csv_record *rec, struct tg_error *err);

/* The separator in use (known after the first tg_csv_next). */
char tg_csv_separator(const struct tg_csv_reader *r);

/*
 * Header matching as people expect it: equal after trimming, collapsing runs
 * of spaces, and case folding (ASCII and Latin-1 letters, so "UNITÀ" matches
 * "Unità"); accents must be as written ("unita" does not match "unità").
 */
bool tg_csv_header_equal(const char *a, const char *b);

#endif
