/*
 * fuzz_number.c — libFuzzer target for tg_number_parse and tg_number_format.
 *
 * The input is parsed as it comes (not NUL-terminated: libFuzzer's buffer is
 * exactly `size` bytes, so ASan catches a read past len) in the Italian
 * dialect (decimal ',', thousands '.') and in C syntax (decimal '.', no
 * thousands).  Checks: a value is finite; in C syntax it equals glibc's
 * strtod on the same text; formatted for people and parsed back it is the
 * same value within a relative 1e-12; messages are terminated and bounded;
 * the fast path and the general one give the same result.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const missing[] = { "n.d.", "-", "N/A" };
static const struct tg_number_format it = { ',', '.', missing, 3, false };
static const struct tg_number_format it_plain = { ',', '.', NULL, 0, false };
static const struct tg_number_format en_plain = { '.', ',', NULL, 0, false };
static const struct tg_number_format c_syntax = { '.', 0, NULL, 0, false };

static void check_error(int rc, const struct tg_error *err)
{
	if (rc != -22 /* -EINVAL */)
		abort();
	if (memchr(err->msg, '\0', sizeof(err->msg)) == NULL || err->msg[0] == '\0')
		abort();
}

/* Formats v with enough decimals for 15 significant digits and parses the
 * text back in the dialect of the language. */
static void check_roundtrip(double v)
{
	struct tg_error err;
	char buf[512];
	double back, a = fabs(v);
	int dec, rc;

	tg_number_format(v, 3, "it", buf, sizeof(buf));
	if (strcmp(buf, "-0") == 0)
		abort();
	if (a < 1e-6 || a > 1e15)
		return;
	dec = 15 - (int)floor(log10(a));
	if (dec < 0)
		dec = 0;
	if (dec > 20)
		dec = 20;
	tg_number_format(v, dec, "it", buf, sizeof(buf));
	rc = tg_number_parse(buf, strlen(buf), &it_plain, &back, &err);
	if (rc != TG_NUMBER_VALUE || fabs(back - v) > 1e-12 * a)
		abort();
	tg_number_format(v, dec, "en", buf, sizeof(buf));
	rc = tg_number_parse(buf, strlen(buf), &en_plain, &back, &err);
	if (rc != TG_NUMBER_VALUE || fabs(back - v) > 1e-12 * a)
		abort();
}

/* In C syntax what we accept is a subset of what strtod accepts; the values
 * must agree exactly (both are correctly rounded). */
static void check_strtod(const uint8_t *data, size_t size, double v)
{
	char *copy, *end;
	size_t i;
	double ref;

	for (i = 0; i < size; i++)
		if (data[i] >= 0x80 || data[i] == '%' || data[i] == '\0')
			return;
	copy = malloc(size + 1);
	if (copy == NULL)
		return;
	memcpy(copy, data, size);
	copy[size] = '\0';
	ref = strtod(copy, &end);
	free(copy);
	if (ref != v)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct tg_error err;
	double v;
	int rc;

	rc = tg_number_parse(s, size, &it, &v, &err);
	if (rc == TG_NUMBER_VALUE) {
		if (!isfinite(v))
			abort();
		check_roundtrip(v);
	} else if (rc != TG_NUMBER_MISSING) {
		check_error(rc, &err);
	}

	rc = tg_number_parse(s, size, &c_syntax, &v, &err);
	if (rc == TG_NUMBER_VALUE) {
		if (!isfinite(v))
			abort();
		check_strtod(data, size, v);
		check_roundtrip(v);
	} else if (rc != TG_NUMBER_MISSING) {
		check_error(rc, &err);
	}

	/* the fast path (text as it comes) and the general one (the same text
	 * after a space, which only the general path trims) agree */
	if (size < 64) {
		static const struct tg_number_format *const fmts[] = { &it, &c_syntax, &en_plain };
		char spaced[65];

		spaced[0] = ' ';
		memcpy(spaced + 1, data, size);
		for (size_t f = 0; f < 3; f++) {
			struct tg_error e2;
			double v1 = 0, v2 = 0;
			int r1 = tg_number_parse(s, size, fmts[f], &v1, &err);
			int r2 = tg_number_parse(spaced, size + 1, fmts[f], &v2, &e2);

			if (r1 != r2 || memcmp(&v1, &v2, sizeof(v1)) != 0 ||
			    (r1 < 0 && strcmp(err.msg, e2.msg) != 0))
				abort();
		}
	}

	/* the formatter on arbitrary bit patterns */
	if (size >= sizeof(double)) {
		char buf[600];

		memcpy(&v, data, sizeof(v));
		tg_number_format(v, size > 8 ? (int)data[8] % 24 - 2 : 2, size % 2 ? "en" : "it",
				 buf, sizeof(buf));
		if (memchr(buf, '\0', sizeof(buf)) == NULL || strcmp(buf, "-0") == 0)
			abort();
		/* a small buffer: the short form, which reads back within its
		 * three significant digits, never a cut (different) number */
		if (isfinite(v)) {
			bool en = size % 2;
			double back;

			tg_number_format(v, 2, en ? "en" : "it", buf, 16);
			if (strlen(buf) > 15 || strcmp(buf, "-0") == 0)
				abort();
			/* (near DBL_MAX the rounded form, 1,8e308, is out of range) */
			if (strchr(buf, 'e') != NULL && fabs(v) < 1e308 &&
			    (tg_number_parse(buf, strlen(buf), en ? &en_plain : &it_plain, &back, &err) !=
				     TG_NUMBER_VALUE || fabs(back - v) > 0.006 * fabs(v)))
				abort();
		}
	}
	return 0;
}
