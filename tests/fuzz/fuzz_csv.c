/*
 * fuzz_csv.c — libFuzzer target for the CSV reader.
 *
 * Reads the input with every encoding, with the separator detected and
 * with ';', and with the default and a tiny max_record (so the over-long
 * path is exercised too), from memory and from a file descriptor (a memfd:
 * 64 KiB reads, plain lines ended in place in the read buffer), which must
 * read exactly the same.  Every field returned must be valid UTF-8,
 * NUL-terminated at lens[i] and free of NUL bytes; every call must make
 * progress; a bad record must come with a message.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], need, min;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
			cp = c & 0x1F;
			min = 0x80;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			cp = c & 0x0F;
			min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (len - i <= need)
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

/* Reads everything, checks each record, and returns a hash of all that was
 * read (records, lines, fields, messages): the same input must give the same
 * transcript from memory and from a file descriptor (where the fields of
 * plain lines are ended in place in the read buffer). */
static uint64_t mix(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t drain(struct tg_csv_reader *r, size_t size)
{
	struct tg_csv_record rec;
	struct tg_error err;
	size_t calls = 0;
	uint64_t h = 0xcbf29ce484222325ULL;
	char sep;
	int rc;

	for (;;) {
		err.msg[0] = '\0';
		rc = tg_csv_next(r, &rec, &err);
		/* each call consumes at least one byte, or ends */
		if (++calls > size + 2)
			abort();
		h = mix(h, &rc, sizeof(rc));
		if (rc == TG_CSV_EOF)
			break;
		if (rc == TG_CSV_BAD_RECORD) {
			if (strncmp(err.msg, "fuzz:", 5) != 0)
				abort();
			h = mix(h, err.msg, strlen(err.msg));
			continue;
		}
		if (rc != TG_CSV_RECORD || rec.nfields == 0)
			abort();
		h = mix(h, &rec.line, sizeof(rec.line));
		h = mix(h, &rec.nfields, sizeof(rec.nfields));
		for (size_t i = 0; i < rec.nfields; i++) {
			const char *f = rec.fields[i];

			if (f[rec.lens[i]] != '\0' || memchr(f, '\0', rec.lens[i]) != NULL)
				abort();
			if (!valid_utf8((const unsigned char *)f, rec.lens[i]))
				abort();
			h = mix(h, f, rec.lens[i] + 1);
		}
	}
	sep = tg_csv_separator(r);
	if (sep != ';' && sep != ',' && sep != '\t' && sep != '|')
		abort();
	if (tg_csv_next(r, &rec, &err) != TG_CSV_EOF)
		abort();
	return mix(h, &sep, 1);
}

static void run(const uint8_t *data, size_t size, char sep, enum tg_encoding enc,
		size_t max_record, int fd)
{
	struct tg_csv_options o = { sep, enc, max_record };
	struct tg_csv_reader *r = tg_csv_open_mem((const char *)data, size, "fuzz", &o);
	uint64_t from_mem, from_fd;

	if (r == NULL)
		abort();
	from_mem = drain(r, size);
	tg_csv_free(r);
	if (fd < 0 || lseek(fd, 0, SEEK_SET) != 0)
		return;
	r = tg_csv_open_fd(fd, "fuzz", &o);
	if (r == NULL)
		abort();
	from_fd = drain(r, size);
	tg_csv_free(r);
	if (from_fd != from_mem)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum tg_encoding encs[] = {
		TG_ENC_AUTO, TG_ENC_UTF8, TG_ENC_WINDOWS_1252, TG_ENC_ISO_8859_1,
	};
	int fd = memfd_create("fuzz-csv", MFD_CLOEXEC);

	if (fd >= 0 && (size_t)write(fd, data, size) != size) {
		close(fd);
		fd = -1;
	}
	for (size_t e = 0; e < sizeof(encs) / sizeof(encs[0]); e++) {
		run(data, size, 0, encs[e], 0, fd);
		run(data, size, ';', encs[e], 0, fd);
	}
	run(data, size, 0, TG_ENC_AUTO, 16, fd);
	run(data, size, ';', TG_ENC_UTF8, 7, fd);
	if (fd >= 0)
		close(fd);
	return 0;
}
