/*
 * fuzz_csv.c — libFuzzer target for the CSV reader.
 *
 * Reads the input from memory with every encoding, with the separator
 * detected and with ';', and with the default and a tiny max_record (so the
 * over-long path is exercised too).  Every field returned must be valid
 * UTF-8, NUL-terminated at lens[i] and free of NUL bytes; every call must
 * make progress; a bad record must come with a message.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

static void run(const uint8_t *data, size_t size, char sep, enum tg_encoding enc,
		size_t max_record)
{
	struct tg_csv_options o = { sep, enc, max_record };
	struct tg_csv_reader *r = tg_csv_open_mem((const char *)data, size, "fuzz", &o);
	struct tg_csv_record rec;
	struct tg_error err;
	size_t calls = 0;
	int rc;

	if (r == NULL)
		abort();
	for (;;) {
		err.msg[0] = '\0';
		rc = tg_csv_next(r, &rec, &err);
		/* each call consumes at least one byte, or ends */
		if (++calls > size + 2)
			abort();
		if (rc == TG_CSV_EOF)
			break;
		if (rc == TG_CSV_BAD_RECORD) {
			if (strncmp(err.msg, "fuzz:", 5) != 0)
				abort();
			continue;
		}
		if (rc != TG_CSV_RECORD || rec.nfields == 0)
			abort();
		for (size_t i = 0; i < rec.nfields; i++) {
			const char *f = rec.fields[i];

			if (f[rec.lens[i]] != '\0' || memchr(f, '\0', rec.lens[i]) != NULL)
				abort();
			if (!valid_utf8((const unsigned char *)f, rec.lens[i]))
				abort();
		}
	}
	sep = tg_csv_separator(r);
	if (sep != ';' && sep != ',' && sep != '\t' && sep != '|')
		abort();
	if (tg_csv_next(r, &rec, &err) != TG_CSV_EOF)
		abort();
	tg_csv_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum tg_encoding encs[] = {
		TG_ENC_AUTO, TG_ENC_UTF8, TG_ENC_WINDOWS_1252, TG_ENC_ISO_8859_1,
	};

	for (size_t e = 0; e < sizeof(encs) / sizeof(encs[0]); e++) {
		run(data, size, 0, encs[e], 0);
		run(data, size, ';', encs[e], 0);
	}
	run(data, size, 0, TG_ENC_AUTO, 16);
	run(data, size, ';', TG_ENC_UTF8, 7);
	return 0;
}
