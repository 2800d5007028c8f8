/*
 * number.h — locale-independent parsing of numbers as written by people and
 * spreadsheets (Italian "1.234,56", "95,3%", "n.d.").
 *
 * Never depends on setlocale(); never accepts an ambiguous number: with
 * decimal ',' and no thousands separator, "1.234" is an error, not 1.234.
 */
#ifndef TG_NUMBER_H
#define TG_NUMBER_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct tg_number_format {
	char decimal;   /* '.' or ',' */
	char thousands; /* '.', ',', ' ', '\'' or 0 for none; != decimal */
	/* Markers that mean "no value" (compared case-insensitively after
	 * trimming spaces).  The empty string is always a missing marker. */
	const char *const *missing;
	size_t n_missing;
	/* Set by tg_number_prepare(): no marker is itself a number, so a cell
	 * that is a plain number is not compared with them.  Only a shortcut:
	 * false is always right. */
	bool markers_not_numbers;
};

/* Sets fmt->markers_not_numbers; call it again after changing decimal or
 * the markers. */
void tg_number_prepare(struct tg_number_format *fmt);

#define TG_NUMBER_VALUE 0
#define TG_NUMBER_MISSING 1

/*
 * Parses s[0..len).  Accepted: optional spaces (also U+00A0 and U+202F in
 * UTF-8) around; optional sign '+' '-' (also U+2212); digits with the
 * configured thousands separator in groups of exactly three; the decimal
 * separator and decimals; an optional exponent e/E[+-]digits; an optional
 * '%' at the end (the number is kept as written: "95,3%" -> 95.3).
 * A thousands separator of ' ' also accepts U+00A0 and U+202F.
 * Returns TG_NUMBER_VALUE with *out set, TG_NUMBER_MISSING (out untouched)
 * for a missing marker, or -EINVAL with err ("'1.234' is not a number: '.'
 * is not the decimal separator ','", ...).  Infinite or NaN results are errors.
 * Exactly rounded for up to 19 significant digits without calling strtod
 * (more digits: strtod on digits and an exponent, no radix character, so
 * LC_NUMERIC cannot matter).  fmt NULL means C syntax: decimal '.', no
 * thousands separator, no markers but "".  Underflow gives 0; "-0" gives 0.
 */
int tg_number_parse(const char *s, size_t len, const struct tg_number_format *fmt,
		    double *out, struct tg_error *err);

/* Formats a value for people: decimal separator of the language ("it": ',',
 * "en": '.'), thousands grouping ("it": '.', "en": ','), at most `decimals`
 * decimals with trailing zeros removed (decimals < 0: up to 2; at most 20).
 * Rounds the exact binary value half away from zero (0.125 -> "0,13"), never
 * writes "-0"; NaN is "n.d." ("en": "n/a"), infinities "∞" / "-∞".  Any lang
 * but "en"/"en_*"/"en-*" is Italian.  A number whose digits do not fit in
 * size is written in scientific form, three significant digits at most
 * ("1,79e308", "-1.8e25"), never cut into a different number; only when even
 * that does not fit is the text truncated.  Returns buf. */
const char *tg_number_format(double v, int decimals, const char *lang, char *buf, size_t size);

#endif
