/*
 * config.c — turns a libconfig file into a validated, immutable struct
 * tg_config.
 *
 * The file is parsed by libconfig; everything after that is ours.  Each
 * group of the configuration (top level, daemon, source, dialect, columns,
 * json, indicator, year_target, channel, route, silence) is described by a static
 * table of keys: name, type, whether it is required, bounds, allowed values
 * and where the value goes in the struct.  One walker checks every setting of
 * a group against its table (unknown keys, with a "did you mean" by edit
 * distance; types; ranges; enumerations; patterns) and stores it; the code of
 * each group then checks what depends on several keys (critical against
 * target, url scheme against channel type, ...) and finally the
 * cross-references are resolved through a small FNV-1a open-addressing hash,
 * which also serves the O(1) lookups of the public API.
 *
 * An administrator fixes a configuration in one go only if she sees every
 * problem at once, so nothing stops at the first error: each is reported with
 * the file and line of the offending setting (the group's line when a key is
 * missing) and checking goes on.  Checks that would only repeat an earlier
 * error (a comparison with a value that was already rejected) are skipped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <libpq-fe.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "http.h"
#include "utf8.h"

/* Enumerations are stored through an int: they must have its size. */
_Static_assert(sizeof(enum tg_source_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tg_layout) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tg_format) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tg_encoding) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tg_period_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tg_better) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tg_aggregate) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tg_channel_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tg_webhook_format) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tg_status) == sizeof(int), "enum size");

#define TEXT_MAX 200        /* names, departments, processes, units, reasons */
#define PATH_MAX_LEN 4095
#define SQL_MAX 65536       /* a source's query */
#define URL_MAX 2048
#define HEADERS_MAX 50      /* headers of an http source */
#define HEADER_LEN_MAX 1000 /* bytes of one "Name: value" */
#define SIZE_MIN 1000       /* max_size: 1 kB ... */
#define SIZE_MAX_BYTES INT64_C(2000000000) /* ... 2 GB */
#define DEFAULT_MAX_SIZE INT64_C(52428800) /* 50 MiB */
#define ID_MAX 64
#define QUOTE_CHARS 40      /* characters of a value shown in a message */
#define QBUF 192            /* room for QUOTE_CHARS escaped characters */
#define MAX_KEYS 24
#define SUGGEST_BUDGET 200000 /* names compared for "did you mean" references, per load */
#define SCAN_FILES_MAX 256  /* included files read by scan_text(), per load */

static const char *const default_missing[] = {
	"", "n.d.", "n/d", "nd", "-", "--", "N/A", "n.a.",
};

/* ------------------------------------------------------------------ */
/* Hash of names: open addressing, linear probing, FNV-1a.             */

struct hslot {
	const char *key;            /* owned by the config; NULL = empty */
	size_t len;
	size_t idx;
};

struct htab {
	struct hslot *slots;
	size_t mask;
	size_t n;
};

struct tg_config_index {
	struct htab indicators, sources, channels;
	char **files;               /* interned file names for tg_location */
	size_t n_files;
};

static uint64_t fnv1a(const char *s, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static int htab_alloc(struct htab *h, size_t expected)
{
	size_t cap = 16;

	while (cap / 2 < expected) {
		if (cap > SIZE_MAX / 4 / sizeof(struct hslot))
			return -ENOMEM;
		cap <<= 1;
	}
	h->slots = calloc(cap, sizeof(*h->slots));
	if (h->slots == NULL)
		return -ENOMEM;
	h->mask = cap - 1;
	h->n = 0;
	return 0;
}

static void htab_free(struct htab *h)
{
	free(h->slots);
	h->slots = NULL;
	h->n = 0;
}

static ssize_t htab_find(const struct htab *h, const char *key, size_t len)
{
	if (h->slots == NULL || key == NULL)
		return -1;
	for (size_t i = (size_t)fnv1a(key, len) & h->mask;; i = (i + 1) & h->mask) {
		const struct hslot *s = &h->slots[i];

		if (s->key == NULL)
			return -1;
		if (s->len == len && memcmp(s->key, key, len) == 0)
			return (ssize_t)s->idx;
	}
}

static int htab_grow(struct htab *h)
{
	struct htab bigger;

	if (htab_alloc(&bigger, (h->mask + 1)) < 0)
		return -ENOMEM;
	for (size_t i = 0; i <= h->mask; i++) {
		const struct hslot *s = &h->slots[i];
		size_t j;

		if (s->key == NULL)
			continue;
		for (j = (size_t)fnv1a(s->key, s->len) & bigger.mask; bigger.slots[j].key != NULL;
		     j = (j + 1) & bigger.mask)
			;
		bigger.slots[j] = *s;
		bigger.n++;
	}
	free(h->slots);
	*h = bigger;
	return 0;
}

/* Inserts key -> idx unless present.  Returns the index already there, -1
 * when inserted, -2 when out of memory.  The table never fills beyond half. */
static ssize_t htab_insert(struct htab *h, const char *key, size_t idx)
{
	size_t len = strlen(key);
	ssize_t old = htab_find(h, key, len);
	size_t i;

	if (old >= 0)
		return old;
	if (h->slots == NULL || h->n + 1 > (h->mask + 1) / 2) {
		if (h->slots == NULL ? htab_alloc(h, 8) < 0 : htab_grow(h) < 0)
			return -2;
	}
	for (i = (size_t)fnv1a(key, len) & h->mask; h->slots[i].key != NULL; i = (i + 1) & h->mask)
		;
	h->slots[i].key = key;
	h->slots[i].len = len;
	h->slots[i].idx = idx;
	h->n++;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Small ASCII and UTF-8 helpers (no locale).                          */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool same_caseless(const char *a, const char *b)
{
	while (*a && lower((unsigned char)*a) == lower((unsigned char)*b)) {
		a++;
		b++;
	}
	return *a == '\0' && *b == '\0';
}

static bool starts_caseless(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (lower((unsigned char)*s) != lower((unsigned char)*prefix))
			return false;
	return true;
}

/* C0, DEL and C1 (U+0080..U+009F, encoded C2 80..C2 9F). */
static bool is_control_at(const unsigned char *p)
{
	return p[0] < 0x20 || p[0] == 0x7f || (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F);
}

/* Writes s in double quotes for a message: at most QUOTE_CHARS characters,
 * control bytes, quotes and invalid UTF-8 escaped.  buf has QBUF bytes. */
static const char *quote(char *buf, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, shown = 0;

	buf[o++] = '"';
	while (*p && shown < QUOTE_CHARS) {
		size_t n = tg_utf8_len(p, SIZE_MAX);    /* the NUL stops it */

		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p++;
		} else if (*p == '\n' || *p == '\t' || *p == '\r') {
			buf[o++] = '\\';
			buf[o++] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
			p++;
		} else if (n == 0 || is_control_at(p)) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
			p++;
		} else {
			memcpy(buf + o, p, n);
			o += n;
			p += n;
		}
		shown++;
	}
	if (*p) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* "12h", "1w", "90s": the largest unit that divides exactly. */
static const char *secs_str(char *buf, size_t size, int64_t s)
{
	static const struct { int64_t n; char u; } units[] = {
		{ 604800, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (s % units[i].n == 0 || units[i].n == 1) {
			snprintf(buf, size, "%lld%c", (long long)(s / units[i].n), units[i].u);
			break;
		}
	return buf;
}

static bool id_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if (n >= ID_MAX)
			return false;
		if (!is_alnum((unsigned char)s[n]) && s[n] != '_' && s[n] != '.' && s[n] != '-')
			return false;
	}
	return n > 0;
}

/* Optimal string alignment distance, case-insensitive; strings <= ID_MAX. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[ID_MAX + 1][ID_MAX + 1];

	if (la > ID_MAX || lb > ID_MAX)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = lower((unsigned char)a[i - 1]), cb = lower((unsigned char)b[j - 1]);
			size_t best = d[i - 1][j - 1] + (ca != cb);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && ca == lower((unsigned char)b[j - 2]) &&
			    lower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* Keeps the closest candidate within distance 2 (and closer than the
 * length of the word, so that "x" does not suggest "to"). */
struct suggest {
	const char *word;
	const char *best;
	size_t dist;
};

static void suggest_init(struct suggest *sg, const char *word)
{
	sg->word = word;
	sg->best = NULL;
	sg->dist = 3;
}

static void suggest_try(struct suggest *sg, const char *candidate)
{
	size_t d, wl = strlen(sg->word);

	if (candidate == NULL || wl > ID_MAX || strlen(candidate) > ID_MAX)
		return;
	d = edit_distance(sg->word, candidate);
	if (d < sg->dist && (d < wl || d == 0)) {
		sg->dist = d;
		sg->best = candidate;
	}
}

/* " (did you mean 'x'?)" or "" */
static const char *suggest_text(char *buf, size_t size, const struct suggest *sg, char q)
{
	char qb[QBUF];

	buf[0] = '\0';
	if (sg->best == NULL)
		return buf;
	if (q == '"')
		snprintf(buf, size, " (did you mean %s?)", quote(qb, sg->best));
	else
		snprintf(buf, size, " (did you mean '%s'?)", sg->best);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Email addresses.                                                     */

static bool local_char(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

static bool addr_spec_valid(const char *s, size_t len)
{
	const char *at = NULL;
	size_t local, label = 0;

	if (len == 0 || len > 254)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '@')
			at = s + i;
	if (at == NULL)
		return false;
	local = (size_t)(at - s);
	if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.')
		return false;
	for (size_t i = 0; i < local; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!local_char((unsigned char)s[i]))
			return false;
	}
	const char *d = at + 1;
	size_t dl = len - local - 1, dots = 0;

	if (dl == 0 || dl > 253)
		return false;
	for (size_t i = 0; i < dl; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			dots++;
		} else if (is_alnum(c) || c == '-') {
			if (c == '-' && label == 0)
				return false;
			if (++label > 63)
				return false;
		} else
			return false;
	}
	if (label == 0 || d[dl - 1] == '-')
		return false;
	return dots > 0 || (dl == 9 && starts_caseless(d, "localhost"));
}

bool tg_config_email_valid(const char *s, bool allow_name)
{
	const unsigned char *p;
	size_t len;

	if (s == NULL)
		return false;
	len = strlen(s);
	if (len > 1024)
		return false;
	for (p = (const unsigned char *)s; *p;) {
		size_t n = tg_utf8_len(p, len - (size_t)(p - (const unsigned char *)s));

		if (n == 0 || is_control_at(p))
			return false;
		p += n;
	}
	if (addr_spec_valid(s, len))
		return true;
	if (!allow_name || len < 3 || s[len - 1] != '>')
		return false;

	/* Name <addr>: the name either in double quotes (anything but control
	 * characters, \" and \\ escaped) or bare without the characters that
	 * would make it ambiguous in a header. */
	const char *q = s;

	if (*q == '"') {
		for (q++; *q != '"'; q++) {
			if (*q == '\0')
				return false;
			if (*q == '\\' && (q[1] == '"' || q[1] == '\\'))
				q++;
			else if (*q == '\\')
				return false;
		}
		q++;
		while (*q == ' ')
			q++;
	} else {
		for (; *q != '<'; q++)
			if (*q == '\0' || strchr(",;:\"<>@\\()[]", *q) != NULL)
				return false;
	}
	if (*q != '<')
		return false;
	q++;
	return addr_spec_valid(q, (size_t)(s + len - 1 - q));
}

/* ------------------------------------------------------------------ */
/* The schema.                                                          */

enum ktype {
	T_STRING, T_BOOL, T_INT, T_NUMBER, T_DURATION, T_EMAIL, T_EMAIL_LIST,
	T_STRING_LIST, T_ENUM, T_DATE, T_GROUP, T_GROUP_LIST,
	T_SIZE,        /* bytes: an integer, or a string with a unit ("50MB") */
};

/* What a string (or each string of a list) must look like. */
enum kstr {
	S_TEXT = 0,    /* printable UTF-8, 1..TEXT_MAX bytes */
	S_MISSING,     /* the same, may be empty */
	S_ID,          /* [A-Za-z0-9_.-]{1,64} */
	S_PATH,        /* made absolute against the config directory */
	S_SECRET,      /* a *_file: kept as written */
	S_URL,
	S_CHANNEL_URL,  /* a URL whose path may be a secret (a webhook's): never shown */
	S_DATEFMT,     /* tg_date_format_check */
	S_ADDR,        /* addr-spec */
	S_FROM,        /* addr-spec or Name <addr-spec> */
	S_RECIPIENT,   /* addr-spec or "@owner" */
	S_HEADER,      /* "Name: value" of an HTTP request */
	S_JPATH,       /* a dot path of JSON keys, "data.items" */
	S_JPATH_TOP,   /* the same, or "" for the top level */
	S_CONNINFO,    /* a libpq connection string: printable, checked by libpq */
	S_SQL,         /* a query: UTF-8, line breaks and tabs allowed */
};

#define K_REQUIRED 0x01
#define K_NEVER    0x02  /* duration: "never" is accepted, stored as .never */
#define K_NONEMPTY 0x04  /* list: at least one element */
#define K_CHAR     0x08  /* enum stored as a char */
#define K_ENUMSTR  0x10  /* enum stored as a copy of its name (char *) */

#define NOFF ((ptrdiff_t)-1)

struct enum_def {
	const char *const *names;    /* NULL-terminated; shown in messages */
	const int *values;           /* NULL: the index in names */
	int (*parse)(const char *s, int *out); /* NULL: caseless match on names */
};

struct key {
	const char *name;
	enum ktype type;
	unsigned flags;
	enum kstr str;
	int64_t min, max;            /* int, size and duration bounds (max 0: none);
					list: max entries (0: any) */
	int64_t never;
	const struct enum_def *en;
	ptrdiff_t off;               /* where the value goes; NOFF: the group's code */
	ptrdiff_t has;               /* a bool set when the value is valid, or NOFF */
};

struct schema {
	const struct key *keys;
	size_t n;
};

#define AT(T, m) .off = offsetof(T, m), .has = NOFF
#define AT_HAS(T, m, h) .off = offsetof(T, m), .has = offsetof(T, h)
#define NOWHERE .off = NOFF, .has = NOFF

static int parse_period(const char *s, int *out)
{
	enum tg_period_kind k;

	if (tg_period_kind_parse(s, &k) < 0)
		return -EINVAL;
	*out = (int)k;
	return 0;
}

static int parse_encoding(const char *s, int *out)
{
	enum tg_encoding e;

	if (tg_encoding_parse(s, &e) < 0)
		return -EINVAL;
	*out = (int)e;
	return 0;
}

static int parse_status(const char *s, int *out)
{
	enum tg_status st;

	if (tg_status_parse(s, &st) < 0)
		return -EINVAL;
	*out = (int)st;
	return 0;
}

static const char *const source_type_names[] = { "csv", "http", "postgresql", NULL };
static const struct enum_def source_type_enum = { source_type_names, NULL, NULL };
static const char *const layout_names[] = { "long", "wide", "by_indicator", NULL };
static const struct enum_def layout_enum = { layout_names, NULL, NULL };
static const char *const feed_format_names[] = { "csv", "json", NULL };
static const struct enum_def feed_format_enum = { feed_format_names, NULL, NULL };
static const char *const separator_names[] = { "auto", ";", ",", "\t", "tab", "|", NULL };
static const int separator_values[] = { 0, ';', ',', '\t', '\t', '|' };
static const struct enum_def separator_enum = { separator_names, separator_values, NULL };
static const char *const decimal_names[] = { ",", ".", NULL };
static const int decimal_values[] = { ',', '.' };
static const struct enum_def decimal_enum = { decimal_names, decimal_values, NULL };
static const char *const thousands_names[] = { "", ".", ",", " ", "'", NULL };
static const int thousands_values[] = { 0, '.', ',', ' ', '\'' };
static const struct enum_def thousands_enum = { thousands_names, thousands_values, NULL };
static const char *const encoding_names[] = { "auto", "utf-8", "windows-1252", "iso-8859-1", NULL };
static const struct enum_def encoding_enum = { encoding_names, NULL, parse_encoding };
static const char *const period_names[] = { "day", "week", "month", "quarter", "year", NULL };
static const struct enum_def period_enum = { period_names, NULL, parse_period };
static const char *const better_names[] = { "higher", "lower", "range", NULL };
static const struct enum_def better_enum = { better_names, NULL, NULL };
static const char *const aggregate_names[] = { "mean", "sum", "last", NULL };
static const struct enum_def aggregate_enum = { aggregate_names, NULL, NULL };
static const char *const channel_type_names[] = { "email", "webhook", NULL };
static const struct enum_def channel_type_enum = { channel_type_names, NULL, NULL };
static const char *const format_names[] = {
	"generic", "teams", "slack", "mattermost", "googlechat", NULL,
};
static const struct enum_def format_enum = { format_names, NULL, NULL };
/* a route's threshold: "ok" would make every indicator a problem (and none
 * ever back on target), "error" goes to the admins only (nothing would
 * reach the route) */
static int parse_min_status(const char *s, int *out)
{
	if (parse_status(s, out) < 0 || *out == (int)TG_STATUS_OK || *out == (int)TG_STATUS_ERROR)
		return -EINVAL;
	return 0;
}
static const char *const min_status_names[] = { "unknown", "warning", "late", "critical", NULL };
static const struct enum_def min_status_enum = { min_status_names, NULL, parse_min_status };
static const char *const language_names[] = { "it", "en", NULL };
static const struct enum_def language_enum = { language_names, NULL, NULL };

enum { TK_DAEMON, TK_SOURCES, TK_INDICATORS, TK_CHANNELS, TK_ROUTES, TK_SILENCES, TK_ARCHIVE,
       TK_HA, TK_N };
static const struct key top_keys[TK_N] = {
	[TK_DAEMON] = { .name = "daemon", .type = T_GROUP, NOWHERE },
	[TK_SOURCES] = { .name = "sources", .type = T_GROUP_LIST, NOWHERE },
	[TK_INDICATORS] = { .name = "indicators", .type = T_GROUP_LIST, NOWHERE },
	[TK_CHANNELS] = { .name = "channels", .type = T_GROUP_LIST, NOWHERE },
	[TK_ROUTES] = { .name = "routes", .type = T_GROUP_LIST, NOWHERE },
	[TK_SILENCES] = { .name = "silences", .type = T_GROUP_LIST, NOWHERE },
	[TK_ARCHIVE] = { .name = "archive", .type = T_GROUP, NOWHERE },
	[TK_HA] = { .name = "ha", .type = T_GROUP, NOWHERE },
};

#define AT_ struct tg_config
enum { AK_CONNINFO, AK_PASSWORD_FILE, AK_N };
static const struct key archive_keys[AK_N] = {
	[AK_CONNINFO] = { .name = "conninfo", .type = T_STRING, .flags = K_REQUIRED,
			  .str = S_CONNINFO, AT(AT_, archive.conninfo) },
	[AK_PASSWORD_FILE] = { .name = "password_file", .type = T_STRING, .str = S_SECRET,
			       AT(AT_, archive.password_file) },
};
enum { AH_CONNINFO, AH_PASSWORD_FILE, AH_LOCK, AH_N };
static const struct key ha_keys[AH_N] = {
	[AH_CONNINFO] = { .name = "conninfo", .type = T_STRING, .flags = K_REQUIRED,
			  .str = S_CONNINFO, AT(AT_, ha.conninfo) },
	[AH_PASSWORD_FILE] = { .name = "password_file", .type = T_STRING, .str = S_SECRET,
			       AT(AT_, ha.password_file) },
	[AH_LOCK] = { .name = "lock", .type = T_INT, .min = 1, .max = INT32_MAX, AT(AT_, ha.lock) },
};
#undef AT_

#define DT struct tg_config
enum {
	DK_STATE_DIR, DK_LANGUAGE, DK_ORGANIZATION, DK_EVALUATE_EVERY, DK_HTTP_MAX_PARALLEL,
	DK_HTTP_MAX_PER_HOST, DK_ADMINS, DK_OUTBOX_MAX_AGE, DK_TEMPLATES, DK_N
};
static const struct key daemon_keys[DK_N] = {
	[DK_STATE_DIR] = { .name = "state_dir", .type = T_STRING, .str = S_PATH,
			   AT(DT, daemon.state_dir) },
	[DK_LANGUAGE] = { .name = "language", .type = T_ENUM, .flags = K_ENUMSTR,
			  .en = &language_enum, AT(DT, daemon.language) },
	[DK_ORGANIZATION] = { .name = "organization", .type = T_STRING, .str = S_TEXT,
			      AT(DT, daemon.organization) },
	[DK_EVALUATE_EVERY] = { .name = "evaluate_every", .type = T_DURATION, .min = 10,
				AT(DT, daemon.evaluate_every) },
	[DK_HTTP_MAX_PARALLEL] = { .name = "http_max_parallel", .type = T_INT, .min = 1, .max = 64,
				   AT(DT, daemon.http_max_parallel) },
	[DK_HTTP_MAX_PER_HOST] = { .name = "http_max_per_host", .type = T_INT, .min = 1, .max = 16,
				   AT(DT, daemon.http_max_per_host) },
	[DK_ADMINS] = { .name = "admins", .type = T_EMAIL_LIST, .str = S_ADDR,
			AT(DT, daemon.admins) },
	[DK_OUTBOX_MAX_AGE] = { .name = "outbox_max_age", .type = T_DURATION, .min = 3600,
				AT(DT, daemon.outbox_max_age) },
	[DK_TEMPLATES] = { .name = "templates", .type = T_STRING, .str = S_PATH,
			   AT(DT, daemon.templates) },
};
#undef DT

#define ST struct tg_source
enum {
	SK_NAME, SK_TYPE, SK_EVERY, SK_TIMEOUT, SK_PATH, SK_LAYOUT, SK_DIALECT, SK_COLUMNS,
	SK_URL, SK_FORMAT, SK_CA_FILE, SK_PROXY, SK_BEARER_TOKEN_FILE, SK_USERNAME,
	SK_PASSWORD_FILE, SK_HEADERS, SK_MAX_SIZE, SK_RETRIES, SK_JSON, SK_CONNINFO, SK_QUERY,
	SK_SINCE, SK_N
};
static const struct key source_keys[SK_N] = {
	[SK_NAME] = { .name = "name", .type = T_STRING, .flags = K_REQUIRED, .str = S_ID,
		      AT(ST, name) },
	[SK_TYPE] = { .name = "type", .type = T_ENUM, .flags = K_REQUIRED,
		      .en = &source_type_enum, AT(ST, type) },
	[SK_EVERY] = { .name = "every", .type = T_DURATION, .min = 10, AT(ST, every) },
	[SK_TIMEOUT] = { .name = "timeout", .type = T_DURATION, .min = 1, .max = 3600,
			 AT(ST, timeout) },
	/* path (csv) and url (http) are required by type: see load_source */
	[SK_PATH] = { .name = "path", .type = T_STRING, .str = S_PATH, AT(ST, path) },
	[SK_LAYOUT] = { .name = "layout", .type = T_ENUM, .en = &layout_enum, AT(ST, layout) },
	[SK_DIALECT] = { .name = "dialect", .type = T_GROUP, NOWHERE },
	[SK_COLUMNS] = { .name = "columns", .type = T_GROUP, NOWHERE },
	[SK_URL] = { .name = "url", .type = T_STRING, .str = S_URL, AT(ST, url) },
	[SK_FORMAT] = { .name = "format", .type = T_ENUM, .en = &feed_format_enum,
			AT(ST, format) },
	[SK_CA_FILE] = { .name = "ca_file", .type = T_STRING, .str = S_PATH, AT(ST, ca_file) },
	[SK_PROXY] = { .name = "proxy", .type = T_STRING, .str = S_URL, AT(ST, proxy) },
	[SK_BEARER_TOKEN_FILE] = { .name = "bearer_token_file", .type = T_STRING, .str = S_SECRET,
				   AT(ST, bearer_token_file) },
	[SK_USERNAME] = { .name = "username", .type = T_STRING, AT(ST, username) },
	[SK_PASSWORD_FILE] = { .name = "password_file", .type = T_STRING, .str = S_SECRET,
			       AT(ST, password_file) },
	[SK_HEADERS] = { .name = "headers", .type = T_STRING_LIST, .str = S_HEADER,
			 .max = HEADERS_MAX, AT(ST, headers) },
	[SK_MAX_SIZE] = { .name = "max_size", .type = T_SIZE, .min = SIZE_MIN,
			  .max = SIZE_MAX_BYTES, AT(ST, max_size) },
	[SK_RETRIES] = { .name = "retries", .type = T_INT, .min = 0, .max = 10, AT(ST, retries) },
	[SK_JSON] = { .name = "json", .type = T_GROUP, NOWHERE },
	[SK_CONNINFO] = { .name = "conninfo", .type = T_STRING, .str = S_CONNINFO,
			  AT(ST, conninfo) },
	[SK_QUERY] = { .name = "query", .type = T_STRING, .str = S_SQL, AT(ST, query) },
	[SK_SINCE] = { .name = "since", .type = T_DURATION, .min = 86400, AT(ST, since) },
};

enum { CK_INDICATOR, CK_PERIOD, CK_VALUE, CK_N };
static const struct key columns_keys[CK_N] = {
	[CK_INDICATOR] = { .name = "indicator", .type = T_STRING, AT(ST, col_indicator) },
	[CK_PERIOD] = { .name = "period", .type = T_STRING, AT(ST, col_period) },
	[CK_VALUE] = { .name = "value", .type = T_STRING, AT(ST, col_value) },
};

enum { JK_RECORDS, JK_INDICATOR, JK_PERIOD, JK_VALUE, JK_N };
static const struct key json_keys[JK_N] = {
	[JK_RECORDS] = { .name = "records", .type = T_STRING, .str = S_JPATH_TOP,
			 AT(ST, json_records) },
	[JK_INDICATOR] = { .name = "indicator", .type = T_STRING, .str = S_JPATH,
			   AT(ST, json_indicator) },
	[JK_PERIOD] = { .name = "period", .type = T_STRING, .str = S_JPATH, AT(ST, json_period) },
	[JK_VALUE] = { .name = "value", .type = T_STRING, .str = S_JPATH, AT(ST, json_value) },
};
#undef ST

#define XT struct tg_dialect
enum { XK_SEPARATOR, XK_DECIMAL, XK_THOUSANDS, XK_ENCODING, XK_DATE_FORMAT, XK_MISSING, XK_N };
static const struct key dialect_keys[XK_N] = {
	[XK_SEPARATOR] = { .name = "separator", .type = T_ENUM, .flags = K_CHAR,
			   .en = &separator_enum, AT(XT, separator) },
	[XK_DECIMAL] = { .name = "decimal", .type = T_ENUM, .flags = K_CHAR,
			 .en = &decimal_enum, AT(XT, number.decimal) },
	[XK_THOUSANDS] = { .name = "thousands", .type = T_ENUM, .flags = K_CHAR,
			   .en = &thousands_enum, AT(XT, number.thousands) },
	[XK_ENCODING] = { .name = "encoding", .type = T_ENUM, .en = &encoding_enum,
			  AT(XT, encoding) },
	[XK_DATE_FORMAT] = { .name = "date_format", .type = T_STRING, .str = S_DATEFMT,
			     AT(XT, date_format) },
	[XK_MISSING] = { .name = "missing", .type = T_STRING_LIST, .str = S_MISSING,
			 AT(XT, missing) },
};
#undef XT

#define IT struct tg_indicator
enum {
	IK_ID, IK_NAME, IK_PROCESS, IK_DEPARTMENT, IK_OWNER, IK_UNIT, IK_SOURCE, IK_PERIOD,
	IK_BETTER, IK_TARGET, IK_CRITICAL, IK_MIN, IK_MAX, IK_CRITICAL_MIN, IK_CRITICAL_MAX,
	IK_YEAR_TARGET, IK_LATE_AFTER, IK_CONFIRM_PERIODS, IK_DECIMALS, IK_N
};
static const struct key indicator_keys[IK_N] = {
	[IK_ID] = { .name = "id", .type = T_STRING, .flags = K_REQUIRED, .str = S_ID, AT(IT, id) },
	[IK_NAME] = { .name = "name", .type = T_STRING, .flags = K_REQUIRED, AT(IT, name) },
	[IK_PROCESS] = { .name = "process", .type = T_STRING, AT(IT, process) },
	[IK_DEPARTMENT] = { .name = "department", .type = T_STRING, .flags = K_REQUIRED,
			    AT(IT, department) },
	[IK_OWNER] = { .name = "owner", .type = T_EMAIL, .str = S_ADDR, AT(IT, owner) },
	[IK_UNIT] = { .name = "unit", .type = T_STRING, AT(IT, unit) },
	[IK_SOURCE] = { .name = "source", .type = T_STRING, .str = S_ID, AT(IT, source) },
	[IK_PERIOD] = { .name = "period", .type = T_ENUM, .en = &period_enum, AT(IT, period) },
	[IK_BETTER] = { .name = "better", .type = T_ENUM, .en = &better_enum, AT(IT, better) },
	[IK_TARGET] = { .name = "target", .type = T_NUMBER, AT_HAS(IT, target, has_target) },
	[IK_CRITICAL] = { .name = "critical", .type = T_NUMBER,
			  AT_HAS(IT, critical, has_critical) },
	[IK_MIN] = { .name = "min", .type = T_NUMBER, AT_HAS(IT, min, has_min) },
	[IK_MAX] = { .name = "max", .type = T_NUMBER, AT_HAS(IT, max, has_max) },
	[IK_CRITICAL_MIN] = { .name = "critical_min", .type = T_NUMBER,
			      AT_HAS(IT, critical_min, has_critical_min) },
	[IK_CRITICAL_MAX] = { .name = "critical_max", .type = T_NUMBER,
			      AT_HAS(IT, critical_max, has_critical_max) },
	[IK_YEAR_TARGET] = { .name = "year_target", .type = T_GROUP, NOWHERE },
	[IK_LATE_AFTER] = { .name = "late_after", .type = T_DURATION, .flags = K_NEVER,
			    .min = 1, .never = -1, AT(IT, late_after) },
	[IK_CONFIRM_PERIODS] = { .name = "confirm_periods", .type = T_INT, .min = 1, .max = 24,
				 AT(IT, confirm_periods) },
	[IK_DECIMALS] = { .name = "decimals", .type = T_INT, .min = 0, .max = 6,
			  AT(IT, decimals) },
};

enum { YK_VALUE, YK_AGGREGATE, YK_N };
static const struct key year_target_keys[YK_N] = {
	[YK_VALUE] = { .name = "value", .type = T_NUMBER, .flags = K_REQUIRED,
		       AT_HAS(IT, year_target.value, year_target.set) },
	[YK_AGGREGATE] = { .name = "aggregate", .type = T_ENUM, .en = &aggregate_enum,
			   AT(IT, year_target.aggregate) },
};
#undef IT

#define HT struct tg_channel
enum {
	HK_NAME, HK_TYPE, HK_URL, HK_STARTTLS, HK_FROM, HK_USERNAME, HK_PASSWORD_FILE,
	HK_FORMAT, HK_SECRET_FILE, HK_CA_FILE, HK_TIMEOUT, HK_N
};
static const struct key channel_keys[HK_N] = {
	[HK_NAME] = { .name = "name", .type = T_STRING, .flags = K_REQUIRED, .str = S_ID,
		      AT(HT, name) },
	[HK_TYPE] = { .name = "type", .type = T_ENUM, .flags = K_REQUIRED,
		      .en = &channel_type_enum, AT(HT, type) },
	[HK_URL] = { .name = "url", .type = T_STRING, .flags = K_REQUIRED, .str = S_CHANNEL_URL,
		     AT(HT, url) },
	[HK_STARTTLS] = { .name = "starttls", .type = T_BOOL, AT(HT, starttls) },
	[HK_FROM] = { .name = "from", .type = T_EMAIL, .str = S_FROM, AT(HT, from) },
	[HK_USERNAME] = { .name = "username", .type = T_STRING, AT(HT, username) },
	[HK_PASSWORD_FILE] = { .name = "password_file", .type = T_STRING, .str = S_SECRET,
			       AT(HT, password_file) },
	[HK_FORMAT] = { .name = "format", .type = T_ENUM, .en = &format_enum, AT(HT, format) },
	[HK_SECRET_FILE] = { .name = "secret_file", .type = T_STRING, .str = S_SECRET,
			     AT(HT, secret_file) },
	[HK_CA_FILE] = { .name = "ca_file", .type = T_STRING, .str = S_PATH, AT(HT, ca_file) },
	[HK_TIMEOUT] = { .name = "timeout", .type = T_DURATION, .min = 1, .max = 3600,
			 AT(HT, timeout) },
};
#undef HT

#define RT struct tg_route
enum {
	RK_NAME, RK_DEPARTMENTS, RK_PROCESSES, RK_INDICATORS, RK_MIN_STATUS, RK_CHANNELS,
	RK_TO, RK_REPEAT_EVERY, RK_ESCALATE_AFTER, RK_ESCALATE_TO, RK_REPORT, RK_N
};
static const struct key route_keys[RK_N] = {
	[RK_NAME] = { .name = "name", .type = T_STRING, .str = S_ID, AT(RT, name) },
	[RK_DEPARTMENTS] = { .name = "departments", .type = T_STRING_LIST, .str = S_TEXT,
			     AT(RT, departments) },
	[RK_PROCESSES] = { .name = "processes", .type = T_STRING_LIST, .str = S_TEXT,
			   AT(RT, processes) },
	[RK_INDICATORS] = { .name = "indicators", .type = T_STRING_LIST, .str = S_ID,
			    AT(RT, indicators) },
	[RK_MIN_STATUS] = { .name = "min_status", .type = T_ENUM, .en = &min_status_enum,
			    AT(RT, min_status) },
	[RK_CHANNELS] = { .name = "channels", .type = T_STRING_LIST,
			  .flags = K_REQUIRED | K_NONEMPTY, .str = S_ID, AT(RT, channels) },
	[RK_TO] = { .name = "to", .type = T_EMAIL_LIST, .str = S_RECIPIENT, AT(RT, to) },
	[RK_REPEAT_EVERY] = { .name = "repeat_every", .type = T_DURATION, .flags = K_NEVER,
			      .min = 60, .never = 0, AT(RT, repeat_every) },
	[RK_ESCALATE_AFTER] = { .name = "escalate_after", .type = T_DURATION, .flags = K_NEVER,
				.min = 60, .never = 0, AT(RT, escalate_after) },
	[RK_ESCALATE_TO] = { .name = "escalate_to", .type = T_EMAIL_LIST, .str = S_ADDR,
			     AT(RT, escalate_to) },
	[RK_REPORT] = { .name = "report", .type = T_GROUP, NOWHERE },
};

static const char *const report_every_names[] = { "month", NULL };
static const struct enum_def report_every_enum = { report_every_names, NULL, NULL };
static const char *const report_format_names[] = { "html", "text", NULL };
static const struct enum_def report_format_enum = { report_format_names, NULL, NULL };
enum { PK_EVERY, PK_TO, PK_FORMAT, PK_N };
static const struct key report_keys[PK_N] = {
	[PK_EVERY] = { .name = "every", .type = T_ENUM, .flags = K_REQUIRED | K_ENUMSTR,
		       .en = &report_every_enum, AT(RT, report.every) },
	[PK_TO] = { .name = "to", .type = T_EMAIL_LIST, .flags = K_REQUIRED | K_NONEMPTY,
		    .str = S_ADDR, AT(RT, report.to) },
	[PK_FORMAT] = { .name = "format", .type = T_ENUM, .flags = K_ENUMSTR,
			.en = &report_format_enum, AT(RT, report.format) },
};
#undef RT

#define LT struct tg_silence
enum { LK_DEPARTMENTS, LK_PROCESSES, LK_INDICATORS, LK_FROM, LK_UNTIL, LK_REASON, LK_N };
static const struct key silence_keys[LK_N] = {
	[LK_DEPARTMENTS] = { .name = "departments", .type = T_STRING_LIST, .str = S_TEXT,
			     AT(LT, departments) },
	[LK_PROCESSES] = { .name = "processes", .type = T_STRING_LIST, .str = S_TEXT,
			   AT(LT, processes) },
	[LK_INDICATORS] = { .name = "indicators", .type = T_STRING_LIST, .str = S_ID,
			    AT(LT, indicators) },
	[LK_FROM] = { .name = "from", .type = T_DATE, .flags = K_REQUIRED, AT(LT, from) },
	[LK_UNTIL] = { .name = "until", .type = T_DATE, .flags = K_REQUIRED, AT(LT, until) },
	[LK_REASON] = { .name = "reason", .type = T_STRING, .flags = K_REQUIRED, AT(LT, reason) },
};
#undef LT

#define SCHEMA(k) { k, sizeof(k) / sizeof((k)[0]) }
static const struct schema top_schema = SCHEMA(top_keys);
static const struct schema daemon_schema = SCHEMA(daemon_keys);
static const struct schema source_schema = SCHEMA(source_keys);
static const struct schema columns_schema = SCHEMA(columns_keys);
static const struct schema json_schema = SCHEMA(json_keys);
static const struct schema dialect_schema = SCHEMA(dialect_keys);
static const struct schema indicator_schema = SCHEMA(indicator_keys);
static const struct schema year_target_schema = SCHEMA(year_target_keys);
static const struct schema channel_schema = SCHEMA(channel_keys);
static const struct schema route_schema = SCHEMA(route_keys);
static const struct schema silence_schema = SCHEMA(silence_keys);
static const struct schema archive_schema = SCHEMA(archive_keys);
static const struct schema ha_schema = SCHEMA(ha_keys);
static const struct schema report_schema = SCHEMA(report_keys);

/* ------------------------------------------------------------------ */
/* Loading state and reporting.                                         */

/* An error kept until the end of the load, to be reported in file order
 * (groups are checked in dependency order, not in the order written). */
struct pending {
	const char *file;           /* interned in the config, or the main name */
	int line;
	size_t seq;
	char *msg;
};

struct loader {
	struct tg_config *cfg;
	tg_config_report_fn report;
	void *ctx;
	struct tg_error *err;
	const char *main_name;      /* for settings of the main file */
	const char *include_dir;    /* as libconfig prefixes included names, or NULL */
	size_t nerr;
	bool oom;
	bool emitted;               /* the first error went into err */
	const char *last_raw;       /* intern cache: last libconfig file pointer */
	const char *last_interned;
	size_t suggest_left;        /* SUGGEST_BUDGET, spent by report_unknown_ref */
	struct pending *pend;       /* NULL: report at once */
	size_t npend, cappend;
	bool buffer;
	bool precheck;              /* before libconfig: only the @include files */
};

static void emit(struct loader *L, const char *file, int line, const char *msg)
{
	char safe[1024];
	size_t i;

	/* a file name is shown as it is, but for its control bytes (an
	 * included file may be named anything) */
	for (i = 0; file[i] != '\0' && i < sizeof(safe) - 1; i++)
		safe[i] = (unsigned char)file[i] < 0x20 || file[i] == 0x7f ? '?' : file[i];
	safe[i] = '\0';
	file = safe;
	if (!L->emitted) {
		if (line > 0)
			tg_error_set(L->err, "%s:%d: %s", file, line, msg);
		else
			tg_error_set(L->err, "%s: %s", file, msg);
		L->emitted = true;
	}
	if (L->report != NULL)
		L->report(L->ctx, file, line, msg);
}

static void report_at(struct loader *L, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report_at(struct loader *L, const char *file, int line, const char *fmt, ...)
{
	char msg[TG_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (file == NULL)
		file = L->main_name;
	L->nerr++;
	if (L->buffer) {
		if (L->npend == L->cappend) {
			size_t cap = L->cappend ? L->cappend * 2 : 16;
			struct pending *p = realloc(L->pend, cap * sizeof(*p));

			if (p != NULL) {
				L->pend = p;
				L->cappend = cap;
			}
		}
		if (L->npend < L->cappend) {
			struct pending *p = &L->pend[L->npend];

			p->msg = strdup(msg);
			if (p->msg != NULL) {
				p->file = file;
				p->line = line;
				p->seq = L->npend++;
				return;
			}
		}
		/* No memory to keep it: say it now rather than never. */
	}
	emit(L, file, line, msg);
}

/* Main file first, then included files in the order they were first seen. */
static size_t file_rank(const struct loader *L, const char *file)
{
	const struct tg_config_index *ix = L->cfg ? L->cfg->index : NULL;

	if (file == L->main_name || ix == NULL)
		return 0;
	for (size_t i = 0; i < ix->n_files; i++)
		if (ix->files[i] == file)
			return i + 1;
	return SIZE_MAX;
}

struct rank {
	size_t file;
	const struct pending *p;
};

static int rank_cmp(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->p->line != y->p->line)
		return x->p->line < y->p->line ? -1 : 1;
	return x->p->seq < y->p->seq ? -1 : x->p->seq > y->p->seq;
}

/* Reports the kept errors sorted by file and line, and forgets them. */
static void flush_pending(struct loader *L)
{
	struct rank *r = L->npend ? calloc(L->npend, sizeof(*r)) : NULL;

	if (r != NULL) {
		for (size_t i = 0; i < L->npend; i++) {
			r[i].file = file_rank(L, L->pend[i].file);
			r[i].p = &L->pend[i];
		}
		qsort(r, L->npend, sizeof(*r), rank_cmp);
		for (size_t i = 0; i < L->npend; i++)
			emit(L, r[i].p->file, r[i].p->line, r[i].p->msg);
	} else {
		for (size_t i = 0; i < L->npend; i++)
			emit(L, L->pend[i].file, L->pend[i].line, L->pend[i].msg);
	}
	free(r);
	for (size_t i = 0; i < L->npend; i++)
		free(L->pend[i].msg);
	free(L->pend);
	L->pend = NULL;
	L->npend = L->cappend = 0;
	L->buffer = false;
}

static void *xcalloc(struct loader *L, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		L->oom = true;
	return p;
}

static char *xstrdup(struct loader *L, const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		L->oom = true;
	return p;
}

/* The name by which a file is shown: the main file as the caller named it,
 * an included one with the include directory libconfig put before it. */
static const char *shown_file(struct loader *L, const char *raw)
{
	struct tg_config_index *ix = L->cfg->index;
	char *name, **files;

	if (raw == NULL)
		return L->main_name;
	if (raw == L->last_raw)
		return L->last_interned;
	if (L->include_dir != NULL && raw[0] != '/')
		name = tg_fs_join(L->include_dir, raw);
	else
		name = strdup(raw);
	if (name == NULL) {
		L->oom = true;
		return raw;
	}
	for (size_t i = 0; i < ix->n_files; i++) {
		if (strcmp(ix->files[i], name) == 0) {
			free(name);
			L->last_raw = raw;
			L->last_interned = ix->files[i];
			return ix->files[i];
		}
	}
	files = realloc(ix->files, (ix->n_files + 1) * sizeof(*files));
	if (files == NULL) {
		free(name);
		L->oom = true;
		return raw;
	}
	ix->files = files;
	files[ix->n_files++] = name;
	L->last_raw = raw;
	L->last_interned = name;
	return name;
}

static int setting_line(const config_setting_t *s)
{
	unsigned int line = config_setting_source_line(s);

	return line > INT_MAX ? INT_MAX : (int)line;
}

static struct tg_location locate(struct loader *L, const config_setting_t *s)
{
	struct tg_location loc = { shown_file(L, config_setting_source_file(s)), setting_line(s) };

	return loc;
}

static void report_s(struct loader *L, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report_s(struct loader *L, const config_setting_t *s, const char *fmt, ...)
{
	char msg[TG_ERROR_MAX];
	va_list ap;
	struct tg_location loc = locate(L, s);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report_at(L, loc.file, loc.line, "%s", msg);
}

/* How a value was written, for "must be X, not Y". */
static const char *describe(char *buf, size_t size, const config_setting_t *s)
{
	char qb[QBUF];

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(buf, size, "%lld", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, size, "%g", config_setting_get_float(s));
		break;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, size, "%s", config_setting_get_bool(s) ? "true" : "false");
		break;
	case CONFIG_TYPE_STRING:
		snprintf(buf, size, "%s", quote(qb, config_setting_get_string(s)));
		break;
	case CONFIG_TYPE_GROUP:
		snprintf(buf, size, "a group { ... }");
		break;
	case CONFIG_TYPE_ARRAY:
		snprintf(buf, size, "an array [ ... ]");
		break;
	case CONFIG_TYPE_LIST:
		snprintf(buf, size, "a list ( ... )");
		break;
	default:
		snprintf(buf, size, "nothing");
		break;
	}
	return buf;
}

/* "one of \"higher\", \"lower\", \"range\"" */
static const char *enum_choices(char *buf, size_t size, const struct enum_def *en)
{
	char qb[QBUF];
	size_t o = (size_t)snprintf(buf, size, "one of ");

	for (size_t i = 0; en->names[i] != NULL && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
				      quote(qb, en->names[i]));
	return buf;
}

static const char *expected(char *buf, size_t size, const struct key *k)
{
	static const char *const what[] = {
		[T_STRING] = "a string in double quotes",
		[T_BOOL] = "true or false",
		[T_INT] = "an integer",
		[T_NUMBER] = "a number",
		[T_DURATION] = "a duration like \"15m\"",
		[T_EMAIL] = "an email address in double quotes",
		[T_EMAIL_LIST] = "a list of email addresses like [\"name@example.org\"]",
		[T_STRING_LIST] = "a list of strings like [\"...\"]",
		[T_ENUM] = "",
		[T_DATE] = "a date like \"2026-08-01\"",
		[T_GROUP] = "a group { ... }",
		[T_GROUP_LIST] = "a list of groups ( { ... }, ... )",
		[T_SIZE] = "a size like \"50MB\", \"512kB\", \"10MiB\" or a number of bytes",
	};

	if (k->type == T_ENUM)
		return enum_choices(buf, size, k->en);
	snprintf(buf, size, "%s", what[k->type]);
	return buf;
}

static void bad_type(struct loader *L, const config_setting_t *s, const struct key *k)
{
	char eb[512], db[QBUF + 32];

	report_s(L, s, "'%s' must be %s, not %s", k->name, expected(eb, sizeof(eb), k),
		 describe(db, sizeof(db), s));
}

/* Checks UTF-8 text; on failure writes why into why.  Multi-line text (a
 * query) may hold line breaks and tabs; any other text is printable only. */
static bool text_check(const char *s, size_t max, bool allow_empty, bool multiline, bool hide,
		       char *why, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	char qb[QBUF];

	if (len == 0 && !allow_empty) {
		snprintf(why, size, "must not be empty");
		return false;
	}
	if (len > max) {
		snprintf(why, size, "is longer than %zu bytes", max);
		return false;
	}
	while (*p) {
		size_t n = tg_utf8_len(p, len - (size_t)(p - (const unsigned char *)s));

		/* hide: text that may carry a secret is not quoted; the byte is
		 * named by its offset instead */
		if (n == 0) {
			if (hide)
				snprintf(why, size, "is not valid UTF-8 (byte %zu)",
					 (size_t)(p - (const unsigned char *)s) + 1);
			else
				snprintf(why, size, "is not valid UTF-8: %s", quote(qb, s));
			return false;
		}
		if (multiline ? *p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r' : is_control_at(p)) {
			if (hide)
				snprintf(why, size, "must not contain control characters (line breaks, "
					 "tabs; byte %zu)", (size_t)(p - (const unsigned char *)s) + 1);
			else
				snprintf(why, size, multiline ? "must not contain control characters: %s" :
					 "must not contain control characters (line breaks, tabs): %s",
					 quote(qb, s));
			return false;
		}
		p += n;
	}
	return true;
}

static bool text_ok(const char *s, size_t max, bool allow_empty, char *why, size_t size)
{
	return text_check(s, max, allow_empty, false, false, why, size);
}

/* The userinfo of a URL: [*user, *at) when the authority has an '@'
 * (the last one before the path), else false. */
static bool url_userinfo(const char *url, const char **user, const char **at)
{
	const char *p = strstr(url, "://"), *a = NULL;

	if (p == NULL)
		return false;
	p += 3;
	*user = p;
	for (; *p != '\0' && *p != '/' && *p != '?' && *p != '#'; p++)
		if (*p == '@')
			a = p;
	*at = a;
	return a != NULL;
}

/* A URL as it may be shown: a password in its userinfo becomes "***"
 * ("https://user:***@host/"), so that no message carries it.  Malformed
 * URLs are redacted too: the text between the last '@' (before any '?' or
 * '#') and the ':' after the '/' before it, so "https//u:pw@h" is covered
 * and an '@' in a path at worst hides a little of the path. */
static const char *redact_url(char *buf, size_t size, const char *url)
{
	const char *end = url + strcspn(url, "?#"), *at = NULL, *seg, *colon;

	for (const char *p = url; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL) {
		snprintf(buf, size, "%s", url);
		return buf;
	}
	for (seg = at; seg > url && seg[-1] != '/'; seg--)
		;
	colon = memchr(seg, ':', (size_t)(at - seg));
	if (colon == NULL) {
		snprintf(buf, size, "%s", url);
		return buf;
	}
	snprintf(buf, size, "%.*s***%s", (int)(colon + 1 - url), url, at);
	return buf;
}

/* The end of s's scheme ("https" in "https://..."), s when it has none. */
static const char *scheme_end(const char *s)
{
	while (is_alnum((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.')
		s++;
	return s;
}

/* A URL as an error may show it: redacted, and for a channel (hide) cut
 * after its host, "https://hooks.slack.com/…": a webhook's path is its
 * secret.  Without a scheme, nothing of it is shown. */
static const char *shown_url(char *buf, size_t size, const char *url, bool hide)
{
	const char *p = scheme_end(url);
	char tmp[TG_ERROR_MAX];

	/* the userinfo (also of a malformed URL), then the query's tokens */
	redact_url(tmp, sizeof(tmp), url);
	tg_http_redact_url(tmp, buf, size);
	/* a URL in an error may be malformed in any way: a password with a
	 * '#', '?' or '/' in it ends the userinfo early.  Everything from the
	 * scheme to the last '@' goes (an '@' in a path or a query takes the
	 * host with it: the message is about a URL that is wrong anyway),
	 * unless it is "user" or "user:password" (shown "user:***").  Decided
	 * on the URL itself: buf may have been cut before its '@'. */
	if (p != url && strncmp(p, "://", 3) == 0 && (size_t)(p - url) + 3 < size) {
		const char *start = p + 3, *at = strrchr(start, '@');
		size_t n = at != NULL ? (size_t)(at - start) : 0;
		const char *colon = at != NULL ? memchr(start, ':', n) : NULL;
		bool plain = at != NULL && memchr(start, '/', n) == NULL &&
			     memchr(start, '?', n) == NULL && memchr(start, '#', n) == NULL &&
			     (colon == NULL || memchr(colon + 1, ':', n - (size_t)(colon + 1 - start)) == NULL);

		if (at != NULL && !plain) {
			size_t len;
			char *t2 = malloc(strlen(at) + (size_t)(start - url) + 4);

			if (t2 == NULL) {
				snprintf(buf, size, "…");
				return buf;
			}
			sprintf(t2, "%.*s***%s", (int)(start - url), url, at);
			tg_http_redact_url(t2, tmp, sizeof(tmp));   /* its query's tokens */
			free(t2);
			len = strlen(tmp) < size ? strlen(tmp) : size - 1;   /* cut: it is shown */
			memcpy(buf, tmp, len);
			buf[len] = '\0';
		}
	}
	if (!hide)
		return buf;
	if (p == url || strncmp(p, "://", 3) != 0) {
		snprintf(buf, size, "…");
		return buf;
	}
	return tg_http_hide_path(buf, size);
}

static bool url_ok(const char *s, bool hide, char *why, size_t size)
{
	const char *p = s;
	char qb[QBUF], rb[256];

	if (!text_check(s, URL_MAX, false, false, true, why, size)) {
		size_t n = strlen(why);

		snprintf(why + n, size - n, ": %s", quote(qb, shown_url(rb, sizeof(rb), s, hide)));
		return false;
	}
	for (; *p; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
			snprintf(why, size, "must be a URL without spaces or non-ASCII characters"
				 " (percent-encode them), not %s",
				 quote(qb, shown_url(rb, sizeof(rb), s, hide)));
			return false;
		}
	}
	p = scheme_end(s);
	if (p == s || strncmp(p, "://", 3) != 0 || p[3] == '\0' || p[3] == '/') {
		snprintf(why, size, "must be a URL like \"https://host/path\", not %s",
			 quote(qb, shown_url(rb, sizeof(rb), s, hide)));
		return false;
	}
	return true;
}

/* RFC 9110 token characters, for header names. */
static bool tchar(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool same_caseless_n(const char *a, size_t n, const char *b)
{
	size_t i;

	for (i = 0; i < n && b[i] != '\0'; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return i == n && b[i] == '\0';
}

/* Headers the HTTP engine sets itself, or that would put a secret in the
 * configuration. */
static const struct {
	const char *name;
	const char *why;
} refused_headers[] = {
	{ "Authorization", "use 'bearer_token_file', or 'username' and 'password_file' "
	  "(secrets stay out of the configuration)" },
	{ "Cookie", "a cookie is a credential, and secrets stay out of the configuration "
	  "(use 'bearer_token_file', or 'username' and 'password_file')" },
	{ "Host", "the host comes from 'url'" },
	{ "Content-Length", "the HTTP engine frames the request itself" },
	{ "Transfer-Encoding", "the HTTP engine frames the request itself" },
	{ "If-None-Match", "conditional requests are automatic (the ETag of the last answer "
	  "is sent back)" },
	{ "If-Modified-Since", "conditional requests are automatic (the Last-Modified of the "
	  "last answer is sent back)" },
};

/* "Name: value".  Messages quote the name only: a value may be an API key. */
static bool header_ok(const char *s, char *why, size_t size)
{
	const char *colon = strchr(s, ':');
	const unsigned char *v;
	size_t len = strlen(s), nl;
	char qb[QBUF], name[QUOTE_CHARS + 8];
	bool token = true;

	if (len > HEADER_LEN_MAX) {
		snprintf(why, size, "is longer than %d bytes", HEADER_LEN_MAX);
		return false;
	}
	if (colon == NULL) {
		snprintf(why, size, "must be \"Name: value\" (there is no colon)");
		return false;
	}
	nl = (size_t)(colon - s);
	for (size_t i = 0; i < nl; i++)
		token &= tchar((unsigned char)s[i]);
	snprintf(name, sizeof(name), "%.*s", (int)(nl < QUOTE_CHARS + 4 ? nl : QUOTE_CHARS + 4), s);
	if (nl == 0 || !token) {
		snprintf(why, size, "must be \"Name: value\" with a name of letters, digits and "
			 "!#$%%&'*+-.^_`|~ before the colon, not a name %s", quote(qb, name));
		return false;
	}
	for (size_t i = 0; i < sizeof(refused_headers) / sizeof(refused_headers[0]); i++) {
		if (same_caseless_n(s, nl, refused_headers[i].name)) {
			snprintf(why, size, "(%s) is not allowed: %s", refused_headers[i].name,
				 refused_headers[i].why);
			return false;
		}
	}
	for (v = (const unsigned char *)colon + 1; *v;) {
		size_t n = tg_utf8_len(v, len - (size_t)((const char *)v - s));

		if (n == 0) {
			snprintf(why, size, "(%s) is not valid UTF-8", quote(qb, name));
			return false;
		}
		if (is_control_at(v)) {
			snprintf(why, size, "(%s) must not contain control characters (line breaks, "
				 "tabs)", quote(qb, name));
			return false;
		}
		v += n;
	}
	for (v = (const unsigned char *)colon + 1; *v == ' '; v++)
		;
	if (*v == '\0') {
		/* libcurl would remove the header "Name:" instead of sending it */
		snprintf(why, size, "(%s) has an empty value", quote(qb, name));
		return false;
	}
	return true;
}

/* Keys separated by single dots ("data.items"); "" only when allowed. */
static bool dotpath_ok(const char *s, bool allow_empty, char *why, size_t size)
{
	size_t len = strlen(s);
	char qb[QBUF];

	if (!text_ok(s, TEXT_MAX, allow_empty, why, size))
		return false;
	if (strchr(s, ' ') != NULL) {
		snprintf(why, size, "must not contain spaces: %s", quote(qb, s));
		return false;
	}
	if (len > 0 && (s[0] == '.' || s[len - 1] == '.' || strstr(s, "..") != NULL)) {
		snprintf(why, size, "must be keys separated by single dots, like \"data.items\", "
			 "not %s", quote(qb, s));
		return false;
	}
	return true;
}

/* A query: any UTF-8 text a person may write over several lines. */
static bool sql_ok(const char *s, char *why, size_t size)
{
	return text_check(s, SQL_MAX, false, true, false, why, size);
}

/* Checks one string: what is "'name'" or "'to' entry 2". */
static bool string_ok(struct loader *L, const config_setting_t *s, const char *what,
		      enum kstr kind, const char *v)
{
	char why[TG_ERROR_MAX / 2], qb[QBUF];
	struct tg_error e;

	switch (kind) {
	case S_TEXT:
	case S_MISSING:
		if (text_ok(v, TEXT_MAX, kind == S_MISSING, why, sizeof(why)))
			return true;
		break;
	case S_ID:
		if (id_valid(v))
			return true;
		snprintf(why, sizeof(why),
			 "must be 1 to 64 letters, digits, '_', '.' or '-', not %s", quote(qb, v));
		break;
	case S_PATH:
	case S_SECRET:
		if (text_ok(v, PATH_MAX_LEN, false, why, sizeof(why)))
			return true;
		break;
	case S_URL:
	case S_CHANNEL_URL:
		if (url_ok(v, kind == S_CHANNEL_URL, why, sizeof(why)))
			return true;
		break;
	case S_DATEFMT:
		if (!text_ok(v, TEXT_MAX, false, why, sizeof(why)))
			break;
		e.msg[0] = '\0';
		if (tg_date_format_check(v, &e) == 0)
			return true;
		if (e.msg[0] != '\0')
			snprintf(why, sizeof(why), "is not a valid date format (%.*s)", 400, e.msg);
		else
			snprintf(why, sizeof(why), "is not a valid date format: %s", quote(qb, v));
		break;
	case S_ADDR:
		if (tg_config_email_valid(v, false))
			return true;
		snprintf(why, sizeof(why), "must be an email address like \"name@example.org\", not %s",
			 quote(qb, v));
		break;
	case S_FROM:
		if (tg_config_email_valid(v, true))
			return true;
		snprintf(why, sizeof(why), "must be an email address like \"name@example.org\" or "
			 "\"Name <name@example.org>\", not %s", quote(qb, v));
		break;
	case S_RECIPIENT:
		if (strcmp(v, "@owner") == 0 || tg_config_email_valid(v, false))
			return true;
		snprintf(why, sizeof(why),
			 "must be an email address like \"name@example.org\" or \"@owner\", not %s",
			 quote(qb, v));
		break;
	case S_HEADER:
		if (header_ok(v, why, sizeof(why)))
			return true;
		break;
	case S_JPATH:
	case S_JPATH_TOP:
		if (dotpath_ok(v, kind == S_JPATH_TOP, why, sizeof(why)))
			return true;
		break;
	case S_CONNINFO:
		/* a password may be in it (refused, but only once it parses) */
		if (text_check(v, PATH_MAX_LEN, false, false, true, why, sizeof(why)))
			return true;
		break;
	case S_SQL:
		if (sql_ok(v, why, sizeof(why)))
			return true;
		break;
	}
	report_s(L, s, "%s %s", what, why);
	return false;
}

/* Removes "." and ".." segments and repeated slashes from an absolute path,
 * in place and without touching the file system (the path may be a glob, or
 * not exist yet): "/etc/traguardo/../x//y" -> "/etc/x/y". */
static void normalize_path(char *p)
{
	char *out = p, *in = p;

	while (*in != '\0') {
		char *seg;
		size_t len;

		while (*in == '/')
			in++;
		seg = in;
		while (*in != '\0' && *in != '/')
			in++;
		len = (size_t)(in - seg);
		if (len == 0 || (len == 1 && seg[0] == '.'))
			continue;
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (out > p && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, seg, len);
		out += len;
	}
	if (out == p)
		*out++ = '/';
	*out = '\0';
}

static char *store_text(struct loader *L, const char *v, enum kstr kind)
{
	char *p;

	if (kind != S_PATH)
		return xstrdup(L, v);
	p = v[0] == '/' ? xstrdup(L, v) : tg_fs_join(L->cfg->dir ? L->cfg->dir : "/", v);
	if (p == NULL)
		L->oom = true;
	else
		normalize_path(p);
	return p;
}

static void strings_free(struct tg_strings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static bool take_list(struct loader *L, const config_setting_t *s, const struct key *k,
		      void *field)
{
	int t = config_setting_type(s);
	struct tg_strings out = { NULL, 0 };
	size_t n;
	bool ok = true;

	if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
		bad_type(L, s, k);
		return false;
	}
	n = (size_t)config_setting_length(s);
	if (n == 0 && (k->flags & K_NONEMPTY)) {
		report_s(L, s, "'%s' must not be empty", k->name);
		return false;
	}
	if (k->max > 0 && n > (size_t)k->max) {
		report_s(L, s, "'%s' has %zu entries: at most %lld are allowed", k->name, n,
			 (long long)k->max);
		return false;
	}
	out.v = xcalloc(L, n + 1, sizeof(*out.v));
	if (out.v == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		char what[96], db[QBUF + 32];
		const char *v;

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			report_s(L, e, "'%s' entry %zu must be a string, not %s", k->name, i + 1,
				 describe(db, sizeof(db), e));
			ok = false;
			continue;
		}
		v = config_setting_get_string(e);
		snprintf(what, sizeof(what), "'%s' entry %zu", k->name, i + 1);
		if (!string_ok(L, e, what, k->str, v)) {
			ok = false;
			continue;
		}
		if (ok) {
			out.v[out.n] = xstrdup(L, v);
			if (out.v[out.n] != NULL)
				out.n++;
		}
	}
	if (!ok || L->oom) {
		strings_free(&out);
		return false;
	}
	if (field != NULL) {
		strings_free(field);
		*(struct tg_strings *)field = out;
	} else
		strings_free(&out);
	return true;
}

/* Finds v among the names of an enum, case-insensitively; -1 if absent. */
static int enum_index(const struct enum_def *en, const char *v)
{
	for (int i = 0; en->names[i] != NULL; i++)
		if (same_caseless(en->names[i], v))
			return i;
	return -1;
}

static bool take_enum(struct loader *L, const config_setting_t *s, const struct key *k,
		      void *field)
{
	const struct enum_def *en = k->en;
	const char *v;
	int idx = -1, val = 0;
	bool ok;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		bad_type(L, s, k);
		return false;
	}
	v = config_setting_get_string(s);
	if (en->parse != NULL) {
		ok = en->parse(v, &val) == 0;
		if (!ok && (idx = enum_index(en, v)) >= 0)
			ok = en->parse(en->names[idx], &val) == 0;
	} else {
		idx = enum_index(en, v);
		ok = idx >= 0;
		if (ok)
			val = en->values ? en->values[idx] : idx;
	}
	if (!ok) {
		char eb[512], qb[QBUF], sb[QBUF + 32];
		struct suggest sg;

		suggest_init(&sg, v);
		for (size_t i = 0; en->names[i] != NULL; i++)
			if (en->names[i][0] != '\0' && en->names[i][0] != '\t')
				suggest_try(&sg, en->names[i]);
		report_s(L, s, "'%s' must be %s, not %s%s", k->name,
			 enum_choices(eb, sizeof(eb), en), quote(qb, v),
			 suggest_text(sb, sizeof(sb), &sg, '"'));
		return false;
	}
	if (field == NULL)
		return true;
	if (k->flags & K_CHAR) {
		*(char *)field = (char)val;
	} else if (k->flags & K_ENUMSTR) {
		char *copy = xstrdup(L, idx >= 0 ? en->names[idx] : v);

		if (copy == NULL)
			return false;
		free(*(char **)field);
		*(char **)field = copy;
	} else {
		memcpy(field, &val, sizeof(val));
	}
	return true;
}

static bool take_duration(struct loader *L, const config_setting_t *s, const struct key *k,
			  void *field)
{
	char qb[QBUF], b1[32], b2[32];
	struct tg_error e;
	const char *v;
	int64_t secs = 0;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		bad_type(L, s, k);
		return false;
	}
	v = config_setting_get_string(s);
	if ((k->flags & K_NEVER) && same_caseless(v, "never")) {
		secs = k->never;
	} else {
		e.msg[0] = '\0';
		if (tg_duration_parse(v, &secs, &e) < 0) {
			/* period.c says what is wrong, quoting the text safely. */
			if (e.msg[0] != '\0')
				report_s(L, s, "'%s': %s%s", k->name, e.msg,
					 (k->flags & K_NEVER) ? " (or \"never\")" : "");
			else
				report_s(L, s, "'%s' must be a duration like \"15m\"%s, not %s",
					 k->name, (k->flags & K_NEVER) ? " or \"never\"" : "",
					 quote(qb, v));
			return false;
		}
		if (secs < k->min) {
			report_s(L, s, "'%s' must be at least %s, not %s", k->name,
				 secs_str(b1, sizeof(b1), k->min), quote(qb, v));
			return false;
		}
		if (k->max > 0 && secs > k->max) {
			report_s(L, s, "'%s' must be at most %s, not %s", k->name,
				 secs_str(b2, sizeof(b2), k->max), quote(qb, v));
			return false;
		}
	}
	if (field != NULL)
		memcpy(field, &secs, sizeof(secs));
	return true;
}

static bool take_date(struct loader *L, const config_setting_t *s, const struct key *k,
		      void *field)
{
	char qb[QBUF];
	struct tg_error e;
	struct tg_date d;
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		bad_type(L, s, k);
		return false;
	}
	v = config_setting_get_string(s);
	e.msg[0] = '\0';
	if (tg_date_parse(v, strlen(v), NULL, &d, &e) < 0) {
		if (e.msg[0] != '\0')
			report_s(L, s, "'%s': %s", k->name, e.msg);
		else
			report_s(L, s, "'%s' must be a date like \"2026-08-01\", not %s", k->name,
				 quote(qb, v));
		return false;
	}
	if (d.precision != TG_PERIOD_DAY) {
		report_s(L, s, "'%s' must be a full date like \"2026-08-01\", not %s", k->name,
			 quote(qb, v));
		return false;
	}
	if (field != NULL)
		memcpy(field, &d.day, sizeof(d.day));
	return true;
}

/* "52428800", "512kB", "50 MB", "10MiB": units caseless, kB = 1000 bytes,
 * KiB = 1024.  -ERANGE beyond int64. */
static int parse_size(const char *s, int64_t *out)
{
	static const struct { const char *unit; int64_t mult; } units[] = {
		{ "", 1 }, { "b", 1 }, { "kb", 1000 }, { "mb", 1000000 }, { "gb", 1000000000 },
		{ "kib", 1024 }, { "mib", 1048576 }, { "gib", 1073741824 },
	};
	const char *p = s;
	bool over = false;
	int64_t v = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			over = true;
		else
			v = v * 10 + (*p - '0');
	}
	if (*p == ' ' && p[1] != '\0')
		p++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!same_caseless(p, units[i].unit))
			continue;
		if (over || v > INT64_MAX / units[i].mult)
			return -ERANGE;
		*out = v * units[i].mult;
		return 0;
	}
	return -EINVAL;
}

/* "1kB", "2GB", "50MiB": a bound as it is best written. */
static const char *size_str(char *buf, size_t size, int64_t v)
{
	static const struct { int64_t n; const char *u; } units[] = {
		{ 1073741824, "GiB" }, { 1000000000, "GB" }, { 1048576, "MiB" },
		{ 1000000, "MB" }, { 1024, "KiB" }, { 1000, "kB" },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (v > 0 && v % units[i].n == 0) {
			snprintf(buf, size, "%lld%s", (long long)(v / units[i].n), units[i].u);
			return buf;
		}
	snprintf(buf, size, "%lld bytes", (long long)v);
	return buf;
}

static bool take_size(struct loader *L, const config_setting_t *s, const struct key *k,
		      void *field)
{
	char qb[QBUF], eb[160], b1[32], b2[32];
	int t = config_setting_type(s);
	int64_t v = 0;

	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		v = config_setting_get_int64(s);
		snprintf(qb, sizeof(qb), "%lld", (long long)v);
	} else if (t == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s);
		int rc = parse_size(str, &v);

		quote(qb, str);
		if (rc == -EINVAL) {
			report_s(L, s, "'%s' must be %s, not %s", k->name, expected(eb, sizeof(eb), k),
				 qb);
			return false;
		}
		if (rc < 0)
			v = INT64_MAX;
	} else {
		bad_type(L, s, k);
		return false;
	}
	if (v < k->min || v > k->max) {
		report_s(L, s, "'%s' must be from %s to %s (%lld to %lld bytes), not %s", k->name,
			 size_str(b1, sizeof(b1), k->min), size_str(b2, sizeof(b2), k->max),
			 (long long)k->min, (long long)k->max, qb);
		return false;
	}
	if (field != NULL)
		memcpy(field, &v, sizeof(v));
	return true;
}

/* Checks one setting against its key and stores its value in base. */
static bool take(struct loader *L, const config_setting_t *s, const struct key *k, void *base)
{
	void *field = base != NULL && k->off != NOFF ? (char *)base + k->off : NULL;
	int t = config_setting_type(s);
	bool ok = true;

	switch (k->type) {
	case T_STRING:
	case T_EMAIL: {
		char what[80];
		char *copy;

		if (t != CONFIG_TYPE_STRING) {
			bad_type(L, s, k);
			return false;
		}
		snprintf(what, sizeof(what), "'%s'", k->name);
		if (!string_ok(L, s, what, k->str, config_setting_get_string(s)))
			return false;
		if (field == NULL)
			break;
		copy = store_text(L, config_setting_get_string(s), k->str);
		if (copy == NULL)
			return false;
		free(*(char **)field);
		*(char **)field = copy;
		break;
	}
	case T_BOOL:
		if (t != CONFIG_TYPE_BOOL) {
			bad_type(L, s, k);
			return false;
		}
		if (field != NULL)
			*(bool *)field = config_setting_get_bool(s) != 0;
		break;
	case T_INT: {
		long long v;
		int iv;

		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
			bad_type(L, s, k);
			return false;
		}
		v = config_setting_get_int64(s);
		if (v < k->min || v > k->max) {
			report_s(L, s, "'%s' must be between %lld and %lld, not %lld", k->name,
				 (long long)k->min, (long long)k->max, v);
			return false;
		}
		iv = (int)v;
		if (field != NULL)
			memcpy(field, &iv, sizeof(iv));
		break;
	}
	case T_NUMBER: {
		double v;

		if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
			v = (double)config_setting_get_int64(s);
		else if (t == CONFIG_TYPE_FLOAT)
			v = config_setting_get_float(s);
		else {
			bad_type(L, s, k);
			return false;
		}
		if (!isfinite(v)) {
			report_s(L, s, "'%s' must be a finite number", k->name);
			return false;
		}
		if (field != NULL)
			memcpy(field, &v, sizeof(v));
		break;
	}
	case T_DURATION:
		ok = take_duration(L, s, k, field);
		break;
	case T_ENUM:
		ok = take_enum(L, s, k, field);
		break;
	case T_DATE:
		ok = take_date(L, s, k, field);
		break;
	case T_SIZE:
		ok = take_size(L, s, k, field);
		break;
	case T_EMAIL_LIST:
	case T_STRING_LIST:
		ok = take_list(L, s, k, field);
		break;
	case T_GROUP:
		if (t != CONFIG_TYPE_GROUP) {
			bad_type(L, s, k);
			return false;
		}
		break;
	case T_GROUP_LIST:
		/* An empty [] is an empty array to libconfig: as good as (). */
		if (t != CONFIG_TYPE_LIST &&
		    !(t == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0)) {
			bad_type(L, s, k);
			return false;
		}
		break;
	}
	if (ok && k->has != NOFF && base != NULL)
		*(bool *)((char *)base + k->has) = true;
	return ok;
}

/*
 * Checks every member of group g against the schema, storing valid values
 * into base; found[k] is the member for key k (valid or not) or NULL.
 * label names the group in messages ("indicator 'RAG-01'"), NULL for the
 * top level.  Returns true when nothing was wrong.
 */
static bool walk_group(struct loader *L, const config_setting_t *g, const struct schema *sc,
		       void *base, const char *label, const config_setting_t **found)
{
	size_t before = L->nerr;
	unsigned int n = (unsigned int)config_setting_length(g);

	for (size_t k = 0; k < sc->n; k++)
		found[k] = NULL;
	for (unsigned int i = 0; i < n && !L->oom; i++) {
		const config_setting_t *m = config_setting_get_elem(g, i);
		const char *name = config_setting_name(m);
		size_t k;

		if (name == NULL)
			continue;
		for (k = 0; k < sc->n; k++)
			if (strcmp(sc->keys[k].name, name) == 0)
				break;
		if (k == sc->n) {
			char sb[QBUF + 32];
			struct suggest sg;

			suggest_init(&sg, name);
			for (k = 0; k < sc->n; k++)
				suggest_try(&sg, sc->keys[k].name);
			suggest_text(sb, sizeof(sb), &sg, '\'');
			/* libconfig names are [A-Za-z*][-A-Za-z0-9_*]*: safe, maybe long. */
			if (label == NULL)
				report_s(L, m, "unknown setting '%.64s%s' at top level%s", name,
					 strlen(name) > 64 ? "..." : "", sb);
			else
				report_s(L, m, "unknown setting '%.64s%s' in %s%s", name,
					 strlen(name) > 64 ? "..." : "", label, sb);
			continue;
		}
		found[k] = m;
		take(L, m, &sc->keys[k], base);
	}
	for (size_t k = 0; k < sc->n; k++)
		if ((sc->keys[k].flags & K_REQUIRED) && found[k] == NULL)
			report_s(L, g, "%s has no '%s'", label ? label : "the configuration",
				 sc->keys[k].name);
	return L->nerr == before;
}

/* "indicator 'RAG-01'", or "indicator 3" when it has no usable id. */
static void entity_label(char *buf, size_t size, const char *kind, const config_setting_t *g,
			 const char *idkey, size_t pos)
{
	const config_setting_t *m = NULL;

	if (config_setting_type(g) == CONFIG_TYPE_GROUP)
		m = config_setting_get_member(g, idkey);
	if (m != NULL && config_setting_type(m) == CONFIG_TYPE_STRING &&
	    id_valid(config_setting_get_string(m)))
		snprintf(buf, size, "%s '%s'", kind, config_setting_get_string(m));
	else
		snprintf(buf, size, "%s %zu", kind, pos);
}

static bool is_group_elem(struct loader *L, const config_setting_t *e, const char *list,
			  size_t pos)
{
	char db[QBUF + 32];

	if (config_setting_type(e) == CONFIG_TYPE_GROUP)
		return true;
	report_s(L, e, "'%s' entry %zu must be a group { ... }, not %s", list, pos,
		 describe(db, sizeof(db), e));
	return false;
}

static void report_duplicate(struct loader *L, const config_setting_t *s, const char *what,
			     const char *name, struct tg_location first)
{
	report_s(L, s, "duplicate %s '%s' (first at %s:%d)", what, name,
		 first.file ? first.file : L->main_name, first.line);
}

/* ------------------------------------------------------------------ */
/* The groups.                                                          */

static void load_daemon(struct loader *L, const config_setting_t *g)
{
	struct tg_config *cfg = L->cfg;
	const config_setting_t *found[MAX_KEYS];

	cfg->daemon.state_dir = xstrdup(L, "/var/lib/traguardo");
	cfg->daemon.language = xstrdup(L, "it");
	cfg->daemon.evaluate_every = 600;
	cfg->daemon.http_max_parallel = 8;
	cfg->daemon.http_max_per_host = 4;
	cfg->daemon.outbox_max_age = 3 * 86400;
	if (g != NULL && config_setting_type(g) == CONFIG_TYPE_GROUP)
		walk_group(L, g, &daemon_schema, cfg, "daemon", found);
	if (cfg->daemon.templates == NULL && cfg->dir != NULL &&
	    (cfg->daemon.templates = tg_fs_join(cfg->dir, "templates")) == NULL)
		L->oom = true;
}

static int dialect_defaults(struct loader *L, struct tg_dialect *d)
{
	size_t n = sizeof(default_missing) / sizeof(default_missing[0]);

	d->separator = 0;
	d->encoding = TG_ENC_AUTO;
	d->number.decimal = ',';
	d->number.thousands = '.';
	d->date_format = NULL;
	d->missing.v = xcalloc(L, n + 1, sizeof(char *));
	if (d->missing.v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		d->missing.v[i] = xstrdup(L, default_missing[i]);
		if (d->missing.v[i] == NULL)
			return -ENOMEM;
		d->missing.n++;
	}
	return 0;
}

/* json: the source is a JSON feed, whose values and periods use the
 * number and date settings but which has no separator nor encoding. */
static void load_dialect(struct loader *L, const config_setting_t *g, struct tg_source *src,
			 const char *label, bool json)
{
	const config_setting_t *found[MAX_KEYS];
	struct tg_dialect *d = &src->dialect;
	char lb[160];

	snprintf(lb, sizeof(lb), "dialect of %s", label);
	walk_group(L, g, &dialect_schema, d, lb, found);
	/* A thousands separator equal to the decimal one cannot be read; with
	 * decimal "." the default thousands separator becomes ",". */
	if (found[XK_THOUSANDS] == NULL && d->number.decimal == '.')
		d->number.thousands = ',';
	if (found[XK_THOUSANDS] != NULL && d->number.thousands != 0 &&
	    d->number.thousands == d->number.decimal) {
		char c[2] = { d->number.decimal, 0 }, qb[QBUF];

		report_s(L, found[XK_THOUSANDS], "'thousands' must differ from 'decimal' (both %s)",
			 quote(qb, c));
	}
	if (json && found[XK_SEPARATOR] != NULL)
		report_s(L, found[XK_SEPARATOR], "'separator' has no meaning with format = \"json\"");
	if (json && found[XK_ENCODING] != NULL)
		report_s(L, found[XK_ENCODING], "'encoding' has no meaning with format = \"json\" "
			 "(JSON is UTF-8)");
}

static void load_columns(struct loader *L, const config_setting_t *g, struct tg_source *src,
			 const char *label, bool layout_valid)
{
	const config_setting_t *found[MAX_KEYS];
	char lb[160];

	snprintf(lb, sizeof(lb), "columns of %s", label);
	walk_group(L, g, &columns_schema, src, lb, found);
	if (!layout_valid)
		return;
	if (src->layout == TG_LAYOUT_WIDE) {
		for (size_t k = CK_PERIOD; k <= CK_VALUE; k++)
			if (found[k] != NULL)
				report_s(L, found[k], "'%s' has no meaning with layout = \"wide\" "
					 "(periods are the other column headers)",
					 columns_keys[k].name);
	} else if (found[CK_INDICATOR] || found[CK_PERIOD] || found[CK_VALUE]) {
		for (size_t k = 0; k < CK_N; k++)
			if (found[k] == NULL)
				report_s(L, g, "%s has no '%s' (with layout = \"long\" give the "
					 "headers of all three columns, or none to use positions)",
					 lb, columns_keys[k].name);
	}
}

/* Whether the member is a string naming a value of the enum (false when
 * absent: the default applies, and that is valid). */
static bool enum_given_valid(const config_setting_t *m, const struct enum_def *en)
{
	return m != NULL && config_setting_type(m) == CONFIG_TYPE_STRING &&
	       enum_index(en, config_setting_get_string(m)) >= 0;
}

/* The url of an http source: http(s) only, a host, no password in it. */
static void check_feed_url(struct loader *L, const config_setting_t *m, const char *url)
{
	const char *user, *at, *host, *end;
	char qb[QBUF], rb[256];

	if (url_userinfo(url, &user, &at) && memchr(user, ':', (size_t)(at - user)) != NULL) {
		report_s(L, m, "'url' must not carry a password (%s): put the user name in "
			 "'username' and the password in the file named by 'password_file'",
			 quote(qb, shown_url(rb, sizeof(rb), url, false)));
		return;
	}
	if (!starts_caseless(url, "http://") && !starts_caseless(url, "https://")) {
		report_s(L, m, "'url' of an http source must start with http:// or https://, not %s",
			 quote(qb, shown_url(rb, sizeof(rb), url, false)));
		return;
	}
	host = strstr(url, "://") + 3;
	if (url_userinfo(url, &user, &at))
		host = at + 1;
	for (end = host; *end != '\0' && *end != '/' && *end != '?' && *end != '#'; end++)
		;
	if (end == host || *host == ':')
		report_s(L, m, "'url' has no host: %s", quote(qb, shown_url(rb, sizeof(rb), url, false)));
}

/* The keys of an http source, once its type is known to be http. */
static void check_http_source(struct loader *L, const config_setting_t *g, struct tg_source *src,
			      const config_setting_t **found, const char *label)
{
	char qb[QBUF], rb[256];

	if (found[SK_URL] == NULL)
		report_s(L, g, "%s has no 'url' (required for http sources)", label);
	else if (src->url != NULL)
		check_feed_url(L, found[SK_URL], src->url);
	if (found[SK_PATH] != NULL)
		report_s(L, found[SK_PATH], "'path' is only for csv sources (an http source reads "
			 "its 'url')");
	if (src->proxy != NULL && !starts_caseless(src->proxy, "http://") &&
	    !starts_caseless(src->proxy, "https://") && !starts_caseless(src->proxy, "socks5://") &&
	    !starts_caseless(src->proxy, "socks5h://"))
		report_s(L, found[SK_PROXY], "'proxy' must start with http://, https://, socks5:// or "
			 "socks5h://, not %s", quote(qb, shown_url(rb, sizeof(rb), src->proxy, false)));

	/* one kind of authentication, and basic needs both halves */
	if (found[SK_BEARER_TOKEN_FILE] != NULL &&
	    (found[SK_USERNAME] != NULL || found[SK_PASSWORD_FILE] != NULL))
		report_s(L, found[SK_BEARER_TOKEN_FILE], "'bearer_token_file' cannot go with "
			 "'username' and 'password_file': choose one kind of authentication");
	else if (found[SK_PASSWORD_FILE] != NULL && found[SK_USERNAME] == NULL)
		report_s(L, found[SK_PASSWORD_FILE], "'password_file' needs 'username'");
	else if (found[SK_USERNAME] != NULL && found[SK_PASSWORD_FILE] == NULL)
		report_s(L, found[SK_USERNAME], "'username' needs 'password_file' (the password is "
			 "read from that file)");
	if (src->username != NULL && strchr(src->username, ':') != NULL)
		report_s(L, found[SK_USERNAME], "'username' must not contain ':' (HTTP basic "
			 "authentication cannot carry it): %s", quote(qb, src->username));

	if (!(found[SK_FORMAT] == NULL || enum_given_valid(found[SK_FORMAT], &feed_format_enum)))
		return; /* format was rejected: nothing to check against */
	if (src->format == TG_FORMAT_JSON) {
		if (found[SK_COLUMNS] != NULL)
			report_s(L, found[SK_COLUMNS], "'columns' is only for format = \"csv\" (a JSON "
				 "feed names its fields in 'json')");
		if (found[SK_LAYOUT] != NULL && src->layout == TG_LAYOUT_WIDE &&
		    enum_given_valid(found[SK_LAYOUT], &layout_enum))
			report_s(L, found[SK_LAYOUT], "layout = \"wide\" is only for CSV (with format = "
				 "\"json\" use \"long\" or \"by_indicator\")");
		if (found[SK_JSON] != NULL && config_setting_type(found[SK_JSON]) == CONFIG_TYPE_GROUP) {
			const config_setting_t *jfound[MAX_KEYS];
			char lb[160];

			snprintf(lb, sizeof(lb), "json of %s", label);
			walk_group(L, found[SK_JSON], &json_schema, src, lb, jfound);
			if (jfound[JK_INDICATOR] != NULL && src->layout == TG_LAYOUT_BY_INDICATOR)
				report_s(L, jfound[JK_INDICATOR], "'indicator' has no meaning with "
					 "layout = \"by_indicator\" (the ids are the keys of the object)");
		}
	} else {
		if (found[SK_JSON] != NULL)
			report_s(L, found[SK_JSON], "'json' is only for format = \"json\"");
		if (found[SK_LAYOUT] != NULL && src->layout == TG_LAYOUT_BY_INDICATOR)
			report_s(L, found[SK_LAYOUT], "layout = \"by_indicator\" is only for format = "
				 "\"json\" (CSV takes \"long\" or \"wide\")");
	}
}

/* Whether s[0..n) is the name of a libpq connection option. */
static bool pq_keyword(const char *s, size_t n)
{
	PQconninfoOption *d = PQconndefaults();
	bool found = false;

	for (const PQconninfoOption *o = d; o != NULL && o->keyword != NULL && !found; o++)
		found = strlen(o->keyword) == n && memcmp(o->keyword, s, n) == 0;
	PQconninfoFree(d);
	return found;
}

/* libpq's "missing "=" after "NAME" in connection info string", NAME the
 * name of an option (a typo's likely cause, and no secret). */
static bool missing_equals(const char *m)
{
	static const char head[] = "missing \"=\" after \"", tail[] = "\" in connection info string";
	const char *name = m + sizeof(head) - 1, *end;

	if (strncmp(m, head, sizeof(head) - 1) != 0 || (end = strchr(name, '"')) == NULL ||
	    strcmp(end, tail) != 0)
		return false;
	return pq_keyword(name, (size_t)(end - name));
}

/* A conninfo is parsed by libpq itself so that its message names what it did
 * not accept; a password in it would be logged and shown by every tool that
 * prints the configuration: it goes in password_file. */
static void check_conninfo(struct loader *L, const config_setting_t *at, const char *conninfo)
{
	char *msg = NULL;
	PQconninfoOption *opts;

	if (conninfo == NULL)
		return;
	if ((opts = PQconninfoParse(conninfo, &msg)) == NULL) {
		char m[TG_ERROR_MAX / 2];
		size_t n;

		snprintf(m, sizeof(m), "%s", msg != NULL ? msg : "out of memory");
		for (n = strlen(m); n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '); n--)
			m[n - 1] = '\0';
		/* libpq quotes what it could not parse as it was written, a
		 * password and all (a URI, a percent-encoded token, a word
		 * without "="), and a quote inside it would break any pairing
		 * of quotes: its words are shown up to the first quote.  Whole:
		 * an unknown option's name, a bad number (port=abc), and a
		 * missing "=" after an option's name. */
		if (strncmp(m, "invalid connection option ", 26) != 0 &&
		    strncmp(m, "invalid integer value ", 22) != 0 && !missing_equals(m)) {
			char *q = strchr(m, '"');

			if (q != NULL)
				snprintf(q, sizeof(m) - (size_t)(q - m), "(the text libpq quotes is "
					 "not shown: it may hold a password)");
		}
		report_s(L, at, "'conninfo' is not valid: %s", m);
	} else {
		for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
				report_s(L, at, "'conninfo' must not carry a password: put it in "
					 "the file named by 'password_file'");
		PQconninfoFree(opts);
	}
	PQfreemem(msg);
}

/* The keys of a postgresql source, once its type is known.  The conninfo is
 * parsed by libpq itself so that its message names what it did not accept;
 * a password in it would be logged and shown by every tool that prints the
 * configuration: it goes in password_file. */
static void check_pg_source(struct loader *L, const config_setting_t *g, struct tg_source *src,
			    const config_setting_t **found, const char *label)
{
	static const size_t not_pg[] = {
		SK_PATH, SK_URL, SK_FORMAT, SK_CA_FILE, SK_PROXY, SK_BEARER_TOKEN_FILE,
		SK_USERNAME, SK_HEADERS, SK_MAX_SIZE, SK_RETRIES, SK_JSON,
	};

	for (size_t k = 0; k < sizeof(not_pg) / sizeof(not_pg[0]); k++)
		if (found[not_pg[k]] != NULL)
			report_s(L, found[not_pg[k]], "'%s' is not for postgresql sources%s",
				 source_keys[not_pg[k]].name,
				 not_pg[k] == SK_USERNAME ? " (put user= in 'conninfo')" : "");
	if (found[SK_LAYOUT] != NULL && src->layout != TG_LAYOUT_LONG)
		report_s(L, found[SK_LAYOUT], "a postgresql source takes only layout = \"long\" "
			 "(one row per indicator, period and value)");
	if (found[SK_QUERY] == NULL)
		report_s(L, g, "%s has no 'query' (required for postgresql sources)", label);
	if (found[SK_CONNINFO] == NULL)
		report_s(L, g, "%s has no 'conninfo' (required for postgresql sources)", label);
	else
		check_conninfo(L, found[SK_CONNINFO], src->conninfo);
}

static void load_source(struct loader *L, const config_setting_t *g, size_t i)
{
	static const size_t http_only[] = {
		SK_URL, SK_FORMAT, SK_CA_FILE, SK_PROXY, SK_BEARER_TOKEN_FILE, SK_USERNAME,
		SK_PASSWORD_FILE, SK_HEADERS, SK_MAX_SIZE, SK_RETRIES, SK_JSON,
	};
	struct tg_config *cfg = L->cfg;
	struct tg_source *src = &cfg->sources[i];
	static const size_t pg_only[] = { SK_CONNINFO, SK_QUERY, SK_SINCE };
	const config_setting_t *found[MAX_KEYS];
	bool type_valid, format_valid, layout_valid, json;
	char label[128];

	src->every = 900;
	src->timeout = 30;
	src->layout = TG_LAYOUT_LONG;
	src->format = TG_FORMAT_CSV;
	src->max_size = DEFAULT_MAX_SIZE;
	src->retries = 3;
	src->since = 400 * 86400;
	src->json_records = xstrdup(L, "");
	src->json_indicator = xstrdup(L, "indicator");
	src->json_period = xstrdup(L, "period");
	src->json_value = xstrdup(L, "value");
	if (L->oom || dialect_defaults(L, &src->dialect) < 0)
		return;
	src->dialect.number.missing = (const char *const *)src->dialect.missing.v;
	src->dialect.number.n_missing = src->dialect.missing.n;
	if (!is_group_elem(L, g, "sources", i + 1))
		return;
	src->loc = locate(L, g);
	entity_label(label, sizeof(label), "source", g, "name", i + 1);

	walk_group(L, g, &source_schema, src, label, found);
	type_valid = enum_given_valid(found[SK_TYPE], &source_type_enum);
	format_valid = found[SK_FORMAT] == NULL || enum_given_valid(found[SK_FORMAT],
								    &feed_format_enum);
	json = type_valid && format_valid && src->type == TG_SOURCE_HTTP &&
		src->format == TG_FORMAT_JSON;
	/* by_indicator is an error wherever columns apply: nothing to check them against */
	layout_valid = (found[SK_LAYOUT] == NULL || enum_given_valid(found[SK_LAYOUT], &layout_enum)) &&
		src->layout != TG_LAYOUT_BY_INDICATOR;
	if (found[SK_DIALECT] != NULL && config_setting_type(found[SK_DIALECT]) == CONFIG_TYPE_GROUP)
		load_dialect(L, found[SK_DIALECT], src, label, json);
	if (found[SK_COLUMNS] != NULL && config_setting_type(found[SK_COLUMNS]) == CONFIG_TYPE_GROUP &&
	    !json)
		load_columns(L, found[SK_COLUMNS], src, label, layout_valid);
	src->dialect.number.missing = (const char *const *)src->dialect.missing.v;
	src->dialect.number.n_missing = src->dialect.missing.n;
	tg_number_prepare(&src->dialect.number);

	if (type_valid && src->type != TG_SOURCE_PG)
		for (size_t k = 0; k < sizeof(pg_only) / sizeof(pg_only[0]); k++)
			if (found[pg_only[k]] != NULL)
				report_s(L, found[pg_only[k]], "'%s' is only for postgresql sources",
					 source_keys[pg_only[k]].name);
	if (type_valid && src->type == TG_SOURCE_PG) {
		check_pg_source(L, g, src, found, label);
	} else if (type_valid && src->type == TG_SOURCE_CSV) {
		if (found[SK_PATH] == NULL)
			report_s(L, g, "%s has no 'path' (required for csv sources)", label);
		for (size_t k = 0; k < sizeof(http_only) / sizeof(http_only[0]); k++)
			if (found[http_only[k]] != NULL)
				report_s(L, found[http_only[k]], "'%s' is only for http sources",
					 source_keys[http_only[k]].name);
		if (found[SK_LAYOUT] != NULL && src->layout == TG_LAYOUT_BY_INDICATOR)
			report_s(L, found[SK_LAYOUT], "layout = \"by_indicator\" is only for JSON "
				 "feeds (type = \"http\", format = \"json\")");
	} else if (type_valid) {
		check_http_source(L, g, src, found, label);
	}

	if (src->name != NULL) {
		ssize_t old = htab_insert(&cfg->index->sources, src->name, i);

		if (old == -2)
			L->oom = true;
		else if (old >= 0)
			report_duplicate(L, config_setting_get_member(g, "name"), "source name",
					 src->name, cfg->sources[old].loc);
	}
}

static void check_targets(struct loader *L, struct tg_indicator *ind, const config_setting_t *g,
			  const config_setting_t **found, const char *label)
{
	const char *better = better_names[ind->better];

	if (found[IK_BETTER] != NULL && !(config_setting_type(found[IK_BETTER]) == CONFIG_TYPE_STRING &&
					  enum_index(&better_enum,
						     config_setting_get_string(found[IK_BETTER])) >= 0))
		return; /* better was rejected: nothing to compare against */
	if (ind->better != TG_BETTER_RANGE) {
		if (found[IK_TARGET] == NULL)
			report_s(L, g, "%s has no 'target' (required when better = \"%s\")", label,
				 better);
		for (size_t k = IK_MIN; k <= IK_CRITICAL_MAX; k++)
			if (found[k] != NULL)
				report_s(L, found[k], "'%s' is only for better = \"range\" (this "
					 "indicator has better = \"%s\": use 'target' and 'critical')",
					 indicator_keys[k].name, better);
		if (ind->has_target && ind->has_critical) {
			if (ind->better == TG_BETTER_HIGHER && ind->critical > ind->target)
				report_s(L, found[IK_CRITICAL], "'critical' (%g) must not be above "
					 "'target' (%g) when better = \"higher\"", ind->critical,
					 ind->target);
			if (ind->better == TG_BETTER_LOWER && ind->critical < ind->target)
				report_s(L, found[IK_CRITICAL], "'critical' (%g) must not be below "
					 "'target' (%g) when better = \"lower\"", ind->critical,
					 ind->target);
		}
		return;
	}
	if (found[IK_MIN] == NULL && found[IK_MAX] == NULL)
		report_s(L, g, "%s has no 'min' or 'max' (at least one is required when "
			 "better = \"range\")", label);
	for (size_t k = IK_TARGET; k <= IK_CRITICAL; k++)
		if (found[k] != NULL)
			report_s(L, found[k], "'%s' is not for better = \"range\" (use 'min', 'max', "
				 "'critical_min', 'critical_max')", indicator_keys[k].name);
	if (found[IK_YEAR_TARGET] != NULL)
		report_s(L, found[IK_YEAR_TARGET], "'year_target' needs better = \"higher\" or "
			 "\"lower\" (a range has no direction to forecast)");
	if (ind->has_min && ind->has_max && ind->min > ind->max)
		report_s(L, found[IK_MIN], "'min' (%g) must not be above 'max' (%g)", ind->min,
			 ind->max);
	if (found[IK_CRITICAL_MIN] != NULL && found[IK_MIN] == NULL)
		report_s(L, found[IK_CRITICAL_MIN], "'critical_min' needs 'min'");
	if (found[IK_CRITICAL_MAX] != NULL && found[IK_MAX] == NULL)
		report_s(L, found[IK_CRITICAL_MAX], "'critical_max' needs 'max'");
	if (ind->has_critical_min && ind->has_min && ind->critical_min > ind->min)
		report_s(L, found[IK_CRITICAL_MIN], "'critical_min' (%g) must not be above 'min' (%g)",
			 ind->critical_min, ind->min);
	if (ind->has_critical_max && ind->has_max && ind->critical_max < ind->max)
		report_s(L, found[IK_CRITICAL_MAX], "'critical_max' (%g) must not be below 'max' (%g)",
			 ind->critical_max, ind->max);
}

static const char *source_name_at(const struct tg_config *cfg, size_t i)
{
	return cfg->sources[i].name;
}

static const char *channel_name_at(const struct tg_config *cfg, size_t i)
{
	return cfg->channels[i].name;
}

static const char *indicator_id_at(const struct tg_config *cfg, size_t i)
{
	return cfg->indicators[i].id;
}

/* Unknown reference: "unknown source 'x' (did you mean 'y'?)".  The
 * comparisons are budgeted: many bad references among 100,000 indicators
 * must not turn a config check into minutes of edit distances. */
static void report_unknown_ref(struct loader *L, const config_setting_t *s, const char *prefix,
			       const char *what, const char *name,
			       const char *(*name_at)(const struct tg_config *, size_t), size_t n)
{
	char sb[QBUF + 32];
	struct suggest sg;

	suggest_init(&sg, name);
	if (n <= L->suggest_left) {
		L->suggest_left -= n;
		for (size_t i = 0; i < n; i++)
			suggest_try(&sg, name_at(L->cfg, i));
	}
	report_s(L, s, "%sunknown %s '%s'%s", prefix, what, name,
		 suggest_text(sb, sizeof(sb), &sg, '\''));
}

static void load_indicator(struct loader *L, const config_setting_t *g, size_t i)
{
	struct tg_config *cfg = L->cfg;
	struct tg_indicator *ind = &cfg->indicators[i];
	const config_setting_t *found[MAX_KEYS], *yfound[MAX_KEYS];
	char label[128];

	ind->source_index = -1;
	ind->period = TG_PERIOD_MONTH;
	ind->better = TG_BETTER_HIGHER;
	ind->year_target.aggregate = TG_AGG_MEAN;
	ind->late_after = -1;
	ind->confirm_periods = 1;
	ind->decimals = -1;
	if (!is_group_elem(L, g, "indicators", i + 1))
		return;
	ind->loc = locate(L, g);
	entity_label(label, sizeof(label), "indicator", g, "id", i + 1);
	walk_group(L, g, &indicator_schema, ind, label, found);
	if (found[IK_YEAR_TARGET] != NULL &&
	    config_setting_type(found[IK_YEAR_TARGET]) == CONFIG_TYPE_GROUP) {
		char lb[160];

		snprintf(lb, sizeof(lb), "year_target of %s", label);
		walk_group(L, found[IK_YEAR_TARGET], &year_target_schema, ind, lb, yfound);
	}
	check_targets(L, ind, g, found, label);

	if (ind->source != NULL) {
		ssize_t s = htab_find(&cfg->index->sources, ind->source, strlen(ind->source));

		if (s >= 0)
			ind->source_index = (int)s;
		else
			report_unknown_ref(L, found[IK_SOURCE], "", "source", ind->source,
					   source_name_at, cfg->n_sources);
	}
	if (ind->id != NULL) {
		ssize_t old = htab_insert(&cfg->index->indicators, ind->id, i);

		if (old == -2)
			L->oom = true;
		else if (old >= 0)
			report_duplicate(L, found[IK_ID], "indicator id", ind->id,
					 cfg->indicators[old].loc);
	}
}

/* smtp://127.0.0.1, smtp://[::1], smtp://localhost (any port or path). */
static bool loopback_url(const char *url)
{
	static const char *const hosts[] = { "127.0.0.1", "[::1]", "localhost" };
	const char *h = strstr(url, "://");

	if (h == NULL)
		return false;
	h += 3;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t n = strlen(hosts[i]);

		if (strncasecmp(h, hosts[i], n) == 0 && (h[n] == '\0' || h[n] == ':' || h[n] == '/'))
			return true;
	}
	return false;
}

static void load_channel(struct loader *L, const config_setting_t *g, size_t i)
{
	static const size_t email_only[] = { HK_STARTTLS, HK_FROM, HK_USERNAME, HK_PASSWORD_FILE };
	static const size_t webhook_only[] = { HK_FORMAT, HK_SECRET_FILE };
	struct tg_config *cfg = L->cfg;
	struct tg_channel *ch = &cfg->channels[i];
	const config_setting_t *found[MAX_KEYS];
	char label[128], qb[QBUF];
	bool type_valid;

	ch->timeout = 30;
	ch->format = TG_WEBHOOK_GENERIC;
	if (!is_group_elem(L, g, "channels", i + 1))
		return;
	ch->loc = locate(L, g);
	entity_label(label, sizeof(label), "channel", g, "name", i + 1);
	walk_group(L, g, &channel_schema, ch, label, found);
	type_valid = found[HK_TYPE] != NULL &&
		config_setting_type(found[HK_TYPE]) == CONFIG_TYPE_STRING &&
		enum_index(&channel_type_enum, config_setting_get_string(found[HK_TYPE])) >= 0;

	if (type_valid && ch->type == TG_CHANNEL_EMAIL) {
		bool smtps = ch->url != NULL && starts_caseless(ch->url, "smtps://");

		if (ch->url != NULL && !smtps && !starts_caseless(ch->url, "smtp://")) {
			char ub[256];

			report_s(L, found[HK_URL], "'url' of an email channel must start with "
				 "smtp:// or smtps://, not %s",
				 quote(qb, shown_url(ub, sizeof(ub), ch->url, true)));
		}
		if (found[HK_FROM] == NULL)
			report_s(L, g, "%s has no 'from' (required for email channels)", label);
		for (size_t k = 0; k < sizeof(webhook_only) / sizeof(webhook_only[0]); k++)
			if (found[webhook_only[k]] != NULL)
				report_s(L, found[webhook_only[k]], "'%s' is only for webhook channels",
					 channel_keys[webhook_only[k]].name);
		if (found[HK_STARTTLS] == NULL)
			ch->starttls = !smtps;
		else if (smtps && ch->starttls)
			report_s(L, found[HK_STARTTLS], "'starttls = true' contradicts the smtps:// "
				 "url (TLS from the first byte): use smtp:// with starttls, or "
				 "remove 'starttls'");
		if (found[HK_PASSWORD_FILE] != NULL && found[HK_USERNAME] == NULL)
			report_s(L, found[HK_PASSWORD_FILE], "'password_file' needs 'username'");
		/* AUTH PLAIN/LOGIN in clear text: only to a relay on this machine */
		if (ch->url != NULL && !smtps && !ch->starttls && found[HK_PASSWORD_FILE] != NULL &&
		    !loopback_url(ch->url))
			report_s(L, found[HK_PASSWORD_FILE], "a password over smtp:// without "
				 "STARTTLS would cross the network in clear text: use starttls = "
				 "true or smtps:// (clear text only to 127.0.0.1, ::1 or localhost)");
	} else if (type_valid) {
		char rb[256];

		if (ch->url != NULL && !starts_caseless(ch->url, "http://") &&
		    !starts_caseless(ch->url, "https://"))
			report_s(L, found[HK_URL], "'url' of a webhook channel must start with "
				 "http:// or https://, not %s",
				 quote(qb, shown_url(rb, sizeof(rb), ch->url, true)));
		for (size_t k = 0; k < sizeof(email_only) / sizeof(email_only[0]); k++)
			if (found[email_only[k]] != NULL)
				report_s(L, found[email_only[k]], "'%s' is only for email channels",
					 channel_keys[email_only[k]].name);
	}
	if (ch->url != NULL) {
		const char *user, *at;
		char rb[256];

		/* a password in the url would be logged and shown by every tool that
		 * prints the configuration, and bypasses password_file */
		if (url_userinfo(ch->url, &user, &at) && memchr(user, ':', (size_t)(at - user)) != NULL)
			report_s(L, found[HK_URL], "'url' must not carry a password (%s): %s",
				 quote(qb, shown_url(rb, sizeof(rb), ch->url, true)),
				 ch->type == TG_CHANNEL_EMAIL ? "use 'username' and 'password_file'"
							      : "for a webhook use 'secret_file', or "
								"a token in the path");
	}
	if (ch->name != NULL) {
		ssize_t old = htab_insert(&cfg->index->channels, ch->name, i);

		if (old == -2)
			L->oom = true;
		else if (old >= 0)
			report_duplicate(L, found[HK_NAME], "channel name", ch->name,
					 cfg->channels[old].loc);
	}
}

/* Each id of the list must name an indicator. */
static void check_indicator_refs(struct loader *L, const config_setting_t *list,
				 const struct tg_strings *ids, const char *label)
{
	struct tg_config *cfg = L->cfg;
	char prefix[160];

	if (list == NULL || ids->n == 0)
		return;
	snprintf(prefix, sizeof(prefix), "%s: ", label);
	for (size_t j = 0; j < ids->n; j++) {
		if (htab_find(&cfg->index->indicators, ids->v[j], strlen(ids->v[j])) >= 0)
			continue;
		report_unknown_ref(L, config_setting_get_elem(list, (unsigned int)j), prefix,
				   "indicator", ids->v[j], indicator_id_at, cfg->n_indicators);
	}
}

static void load_route(struct loader *L, const config_setting_t *g, size_t i,
		       struct htab *names)
{
	struct tg_config *cfg = L->cfg;
	struct tg_route *rt = &cfg->routes[i];
	const config_setting_t *found[MAX_KEYS];
	char label[128], prefix[160];
	bool has_email = false, all_known = true;
	size_t email_channel = 0;

	rt->min_status = TG_STATUS_WARNING;
	if (!is_group_elem(L, g, "routes", i + 1))
		return;
	rt->loc = locate(L, g);
	entity_label(label, sizeof(label), "route", g, "name", i + 1);
	snprintf(prefix, sizeof(prefix), "%s: ", label);
	walk_group(L, g, &route_schema, rt, label, found);

	for (size_t j = 0; j < rt->channels.n; j++) {
		const char *c = rt->channels.v[j];
		ssize_t idx = htab_find(&cfg->index->channels, c, strlen(c));

		if (idx < 0) {
			all_known = false;
			report_unknown_ref(L, config_setting_get_elem(found[RK_CHANNELS],
								      (unsigned int)j),
					   prefix, "channel", c, channel_name_at, cfg->n_channels);
		} else if (cfg->channels[idx].type == TG_CHANNEL_EMAIL && !has_email) {
			has_email = true;
			email_channel = (size_t)idx;
		}
	}
	check_indicator_refs(L, found[RK_INDICATORS], &rt->indicators, label);

	if (has_email && found[RK_TO] == NULL)
		report_s(L, g, "%s has no 'to' (required: channel '%s' is an email channel; "
			 "use [\"@owner\"] for the indicator's owner)", label,
			 cfg->channels[email_channel].name);
	if (has_email && found[RK_TO] != NULL && rt->to.n == 0 &&
	    config_setting_length(found[RK_TO]) == 0)
		report_s(L, found[RK_TO], "'to' must not be empty (channel '%s' is an email channel)",
			 cfg->channels[email_channel].name);
	if (!has_email && all_known && rt->channels.n > 0) {
		if (found[RK_TO] != NULL)
			report_s(L, found[RK_TO], "'to' is only for email channels (this route has "
				 "none)");
		if (found[RK_ESCALATE_TO] != NULL)
			report_s(L, found[RK_ESCALATE_TO], "'escalate_to' needs an email channel "
				 "(this route has none)");
	}
	if (found[RK_ESCALATE_AFTER] != NULL && rt->escalate_after > 0 &&
	    found[RK_ESCALATE_TO] == NULL)
		report_s(L, found[RK_ESCALATE_AFTER], "'escalate_after' without 'escalate_to' "
			 "(whom to escalate to?)");
	if (found[RK_ESCALATE_TO] != NULL && found[RK_ESCALATE_AFTER] == NULL)
		report_s(L, found[RK_ESCALATE_TO], "'escalate_to' without 'escalate_after' "
			 "(escalate after how long?)");
	if (found[RK_ESCALATE_TO] != NULL && config_setting_length(found[RK_ESCALATE_TO]) == 0 &&
	    rt->escalate_after > 0)
		report_s(L, found[RK_ESCALATE_TO], "'escalate_to' must not be empty");

	if (found[RK_REPORT] != NULL && config_setting_type(found[RK_REPORT]) == CONFIG_TYPE_GROUP) {
		const config_setting_t *pfound[MAX_KEYS];
		char lb[160];

		snprintf(lb, sizeof(lb), "report of %s", label);
		rt->report.set = true;
		walk_group(L, found[RK_REPORT], &report_schema, rt, lb, pfound);
		if (!has_email && all_known && rt->channels.n > 0)
			report_s(L, found[RK_REPORT], "'report' is sent by e-mail: the route needs an "
				 "email channel");
	}
	if (rt->name != NULL && strcmp(rt->name, "admins") == 0)
		report_s(L, found[RK_NAME], "route name 'admins' is reserved (the administrators' "
			 "alerts about failing sources)");
	if (rt->name != NULL) {
		ssize_t old = htab_insert(names, rt->name, i);

		if (old == -2)
			L->oom = true;
		else if (old >= 0)
			report_duplicate(L, found[RK_NAME], "route name", rt->name,
					 cfg->routes[old].loc);
	}
}

static void load_silence(struct loader *L, const config_setting_t *g, size_t i)
{
	struct tg_silence *sl = &L->cfg->silences[i];
	const config_setting_t *found[MAX_KEYS];
	bool from_ok, until_ok;
	char label[64];

	if (!is_group_elem(L, g, "silences", i + 1))
		return;
	sl->loc = locate(L, g);
	snprintf(label, sizeof(label), "silence %zu", i + 1);
	walk_group(L, g, &silence_schema, sl, label, found);
	check_indicator_refs(L, found[LK_INDICATORS], &sl->indicators, label);
	/* Both dates valid iff they were stored: parse again cheaply instead of
	 * keeping flags in the public struct. */
	from_ok = found[LK_FROM] != NULL && config_setting_type(found[LK_FROM]) == CONFIG_TYPE_STRING;
	until_ok = found[LK_UNTIL] != NULL &&
		config_setting_type(found[LK_UNTIL]) == CONFIG_TYPE_STRING;
	if (from_ok && until_ok) {
		struct tg_date a, b;
		struct tg_error e;
		const char *fs = config_setting_get_string(found[LK_FROM]);
		const char *us = config_setting_get_string(found[LK_UNTIL]);

		if (tg_date_parse(fs, strlen(fs), NULL, &a, &e) == 0 &&
		    tg_date_parse(us, strlen(us), NULL, &b, &e) == 0 &&
		    a.precision == TG_PERIOD_DAY && b.precision == TG_PERIOD_DAY && b.day < a.day) {
			char q1[QBUF], q2[QBUF];

			report_s(L, found[LK_UNTIL], "'until' (%s) is before 'from' (%s)",
				 quote(q1, us), quote(q2, fs));
		}
	}
}

/* Entries of a top-level list; 0 when absent or not a list (already reported). */
static size_t list_len(const config_setting_t *list)
{
	if (list == NULL || config_setting_type(list) != CONFIG_TYPE_LIST)
		return 0;
	return (size_t)config_setting_length(list);
}

static void load_all(struct loader *L, const config_setting_t *root)
{
	struct tg_config *cfg = L->cfg;
	struct tg_config_index *ix = cfg->index;
	const config_setting_t *top[MAX_KEYS];
	const config_setting_t *list;
	struct htab route_names = { NULL, 0, 0 };
	size_t n;

	walk_group(L, root, &top_schema, NULL, NULL, top);
	if (L->oom)
		return;
	load_daemon(L, top[TK_DAEMON]);

	/* Sources and channels before indicators and routes, whatever the
	 * order in the file: references are resolved as entries are read. */
	list = top[TK_SOURCES];
	n = list_len(list);
	cfg->sources = xcalloc(L, n, sizeof(*cfg->sources));
	if (cfg->sources == NULL || htab_alloc(&ix->sources, n) < 0)
		goto oom;
	cfg->n_sources = n;
	for (size_t i = 0; i < n && !L->oom; i++)
		load_source(L, config_setting_get_elem(list, (unsigned int)i), i);

	list = top[TK_CHANNELS];
	n = list_len(list);
	cfg->channels = xcalloc(L, n, sizeof(*cfg->channels));
	if (cfg->channels == NULL || htab_alloc(&ix->channels, n) < 0)
		goto oom;
	cfg->n_channels = n;
	for (size_t i = 0; i < n && !L->oom; i++)
		load_channel(L, config_setting_get_elem(list, (unsigned int)i), i);

	list = top[TK_INDICATORS];
	n = list_len(list);
	cfg->indicators = xcalloc(L, n, sizeof(*cfg->indicators));
	if (cfg->indicators == NULL || htab_alloc(&ix->indicators, n) < 0)
		goto oom;
	cfg->n_indicators = n;
	for (size_t i = 0; i < n && !L->oom; i++)
		load_indicator(L, config_setting_get_elem(list, (unsigned int)i), i);

	list = top[TK_ROUTES];
	n = list_len(list);
	cfg->routes = xcalloc(L, n, sizeof(*cfg->routes));
	if (cfg->routes == NULL || htab_alloc(&route_names, n) < 0)
		goto oom;
	cfg->n_routes = n;
	for (size_t i = 0; i < n && !L->oom; i++)
		load_route(L, config_setting_get_elem(list, (unsigned int)i), i, &route_names);
	htab_free(&route_names);

	list = top[TK_SILENCES];
	n = list_len(list);
	cfg->silences = xcalloc(L, n, sizeof(*cfg->silences));
	if (cfg->silences == NULL)
		goto oom;
	cfg->n_silences = n;
	for (size_t i = 0; i < n && !L->oom; i++)
		load_silence(L, config_setting_get_elem(list, (unsigned int)i), i);

	if (top[TK_ARCHIVE] != NULL && config_setting_type(top[TK_ARCHIVE]) == CONFIG_TYPE_GROUP) {
		const config_setting_t *afound[MAX_KEYS];

		cfg->archive.set = true;
		walk_group(L, top[TK_ARCHIVE], &archive_schema, cfg, "archive", afound);
		check_conninfo(L, afound[AK_CONNINFO], cfg->archive.conninfo);
	}
	if (top[TK_HA] != NULL && config_setting_type(top[TK_HA]) == CONFIG_TYPE_GROUP) {
		const config_setting_t *hfound[MAX_KEYS];

		cfg->ha.set = true;
		cfg->ha.lock = 4242;
		walk_group(L, top[TK_HA], &ha_schema, cfg, "ha", hfound);
		check_conninfo(L, hfound[AH_CONNINFO], cfg->ha.conninfo);
	}
	return;
oom:
	htab_free(&route_names);
	L->oom = true;
}

/* cfg->dir: the real path of the directory holding the file (symlinks to
 * the file itself are not followed: its neighbours are where it was named);
 * cfg->file: that directory and the file's base name. */
static int set_paths(struct tg_config *cfg, const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	char *dir, *real;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == name)
		dir = strdup("/");
	else
		dir = strndup(name, (size_t)(slash - name));
	if (dir == NULL)
		return -ENOMEM;
	real = realpath(dir, NULL);
	if (real == NULL && dir[0] == '/') {
		real = dir;
		dir = NULL;
	} else if (real == NULL) {
		char *cwd = getcwd(NULL, 0);

		real = cwd ? tg_fs_join(cwd, strcmp(dir, ".") == 0 ? "" : dir) : strdup(dir);
		free(cwd);
		if (real != NULL && strlen(real) > 1 && real[strlen(real) - 1] == '/')
			real[strlen(real) - 1] = '\0';
	}
	free(dir);
	if (real == NULL)
		return -ENOMEM;
	cfg->dir = real;
	cfg->file = tg_fs_join(real, base);
	return cfg->file ? 0 : -ENOMEM;
}

static void scan_text(struct loader *L, const char *text, const char *file, int depth,
		      size_t *files_left);

/* text: the main file as read, for the checks libconfig cannot do (NULL: none). */
static struct tg_config *load_parsed(config_t *c, bool parsed, const char *name,
				     const char *include_dir, const char *text,
				     tg_config_report_fn report, void *ctx, struct tg_error *err)
{
	struct loader L = { .report = report, .ctx = ctx, .err = err, .main_name = name,
			    .include_dir = include_dir, .suggest_left = SUGGEST_BUDGET };
	struct tg_config *cfg;
	size_t files_left = SCAN_FILES_MAX;

	if (!parsed) {
		const char *f = config_error_file(c);
		char *shown = NULL;

		/* a NUL byte in an included file is the real cause of many a
		 * "syntax error": say it first */
		if (text != NULL)
			scan_text(&L, text, name, 0, &files_left);

		if (f != NULL && include_dir != NULL && f[0] != '/')
			shown = tg_fs_join(include_dir, f);
		const char *what = config_error_text(c) ? config_error_text(c) : "syntax error";

		/* libconfig's parser says so when its stack (10000 levels) runs
		 * out: groups and lists nested thousands deep */
		if (strcmp(what, "memory exhausted") == 0)
			what = "groups or lists nested too deeply (libconfig: memory exhausted)";
		report_at(&L, shown ? shown : f ? f : name, config_error_line(c), "%s", what);
		free(shown);
		return NULL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL || (cfg->index = calloc(1, sizeof(*cfg->index))) == NULL ||
	    set_paths(cfg, name) < 0) {
		tg_config_free(cfg);
		report_at(&L, name, 0, "out of memory");
		return NULL;
	}
	L.cfg = cfg;
	L.buffer = true;
	if (text != NULL) {
		scan_text(&L, text, name, 0, &files_left);
		L.last_raw = NULL;  /* the scan's names were temporaries */
	}
	load_all(&L, config_root_setting(c));
	flush_pending(&L);
	if (L.oom) {
		report_at(&L, name, 0, "out of memory");
		if (err != NULL)
			tg_error_setc(err, -ENOMEM, "%s: out of memory", name);
	}
	if (L.nerr > 0) {
		tg_config_free(cfg);
		return NULL;
	}
	return cfg;
}

#define CONFIG_FILE_MAX (256u << 20)

/* Reads the whole file: libconfig would silently cut a string at a NUL
 * byte, so the text is checked before it is parsed. */
static char *read_all(struct loader *L, FILE *f, const char *path)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *p;

			if (cap >= CONFIG_FILE_MAX) {
				report_at(L, path, 0, "is larger than %u MiB: not a configuration file",
					  CONFIG_FILE_MAX >> 20);
				free(buf);
				return NULL;
			}
			cap = cap ? cap * 2 : 65536;
			p = realloc(buf, cap + 1);
			if (p == NULL) {
				report_at(L, path, 0, "out of memory");
				free(buf);
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				report_at(L, path, 0, "cannot read: %s", strerror(errno));
				free(buf);
				return NULL;
			}
			break;
		}
	}
	buf[len] = '\0';
	const char *nul = memchr(buf, '\0', len);
	/* the check before libconfig leaves it to the scan after (with the
	 * rest of that scan's findings), but libconfig reads past a NUL in a
	 * comment or a string: so does the check, for its @include lines */
	if (nul != NULL && L->precheck) {
		for (char *q = buf; q < buf + len; q++)
			if (*q == '\0')
				*q = ' ';
		return buf;
	}
	if (nul != NULL) {
		int line = 1;

		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		report_at(L, path, line, "NUL byte in the file: not a text configuration");
		free(buf);
		return NULL;
	}
	return buf;
}

/* Editors on Windows start UTF-8 files with a byte order mark, which
 * libconfig takes for a syntax error. */
static const char *skip_bom(const char *text)
{
	return strncmp(text, "\xEF\xBB\xBF", 3) == 0 ? text + 3 : text;
}

/*
 * What libconfig 1.5 gets silently wrong, found in the text itself:
 *  - an integer literal without the L suffix is read with atoi() and a hex
 *    one with strtoul() cast to int, so 4294967297 becomes 1, 2147483648
 *    becomes -2147483648 and confirm_periods = 4294967297 would pass as 1;
 *    with L, atoll() saturates.  Any literal that does not fit is an error.
 *  - an @included file is read by libconfig, not by read_all(): its NUL
 *    bytes would cut strings silently.  Included files are read and
 *    scanned the same way (as libconfig finds them: include_dir + "/" +
 *    name), at most SCAN_FILES_MAX of them, as deep as libconfig goes.
 * The scan is lexical, like libconfig's scanner: strings, comments and
 * names are skipped, so "4294967297" in a string is text.  Files that
 * cannot be opened are left to libconfig to report.
 */
static bool name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '*';
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* An integer literal at p (after an optional sign): checks its range,
 * returns the length consumed (0: not an integer, e.g. a float). */
static size_t scan_number(struct loader *L, const char *p, const char *file, int line)
{
	const char *q = p, *digits;
	bool neg = false, hex = false, over = false, wide = false;
	uint64_t v = 0;
	char lit[48];

	if (*q == '-' || *q == '+')
		neg = *q++ == '-';
	digits = q;
	if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X') && hex_value((unsigned char)q[2]) >= 0) {
		hex = true;
		for (q += 2; hex_value((unsigned char)*q) >= 0; q++) {
			over |= v > (UINT64_MAX >> 4);
			v = (v << 4) | (uint64_t)hex_value((unsigned char)*q);
		}
	} else {
		for (; *q >= '0' && *q <= '9'; q++) {
			unsigned d = (unsigned)(*q - '0');

			over |= v > (UINT64_MAX - d) / 10;
			v = v * 10 + d;
		}
		/* "1.5", "1e3", "1." are floats: libconfig reads them right */
		if (*q == '.' || *q == 'e' || *q == 'E')
			return 0;
	}
	if (q == digits)
		return 0;
	if (*q == 'L') {
		wide = true;
		q++;
		if (*q == 'L')
			q++;
	}
	if (name_char((unsigned char)*q))
		return (size_t)(q - p);  /* not a number: libconfig says syntax error */
	if (wide)
		over |= neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX;
	else if (hex)
		over |= v > (uint64_t)INT32_MAX;
	else
		over |= neg ? v > (uint64_t)INT32_MAX + 1 : v > (uint64_t)INT32_MAX;
	if (over) {
		size_t n = (size_t)(q - p);

		snprintf(lit, sizeof(lit), "%.*s%s", n > 40 ? 40 : (int)n, p, n > 40 ? "..." : "");
		int w = n > 40 ? 40 : (int)n;

		if (wide)
			report_at(L, file, line, "the integer %s is out of range"
				  " (-9223372036854775808 to 9223372036854775807)", lit);
		else if (hex)
			report_at(L, file, line, "the integer %s does not fit in 31 bits, and libconfig"
				  " would read it wrong: write it with the L suffix (%.*sL)", lit, w, p);
		else
			report_at(L, file, line, "the integer %s does not fit in 32 bits, and libconfig"
				  " would read it wrong: write it as a number (%.*s.0) or with the"
				  " L suffix (%.*sL)", lit, w, p, w, p);
	}
	return (size_t)(q - p);
}

/*
 * The file an @include names, as libconfig opens it, and as shown; at
 * (file, line) is the @include.  Before libconfig reads anything
 * (L->precheck), what it must not be given is refused there: it exits the
 * process on a directory (its scanner's fatal error) and waits forever on a
 * FIFO, and it reads a file again for every @include of it, so includes
 * that multiply (each file including the next several times) are counted.
 */
static void scan_include(struct loader *L, const char *name, int depth, size_t *files_left,
			 const char *at, int line)
{
	char *path, *text;
	const char *shown;
	struct stat st;
	FILE *f = NULL;
	int fd;

	if (depth >= 10)
		return;  /* libconfig stops at 10 levels */
	if (L->precheck && name[0] == '/') {
		char qb[QBUF];

		report_at(L, at, line, "@include of %s: an absolute name (libconfig puts the "
			  "configuration's directory in front of it): write it relative to that "
			  "directory", quote(qb, name));
		return;
	}
	if (L->precheck && (strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0 ||
			    strstr(name, "/../") != NULL ||
			    (strlen(name) >= 3 && strcmp(name + strlen(name) - 3, "/..") == 0))) {
		/* an error quoting an included file's text would show it */
		char qb[QBUF];

		report_at(L, at, line, "@include of %s: a file outside the directory of the "
			  "configuration", quote(qb, name));
		return;
	}
	if (*files_left == 0) {
		if (L->precheck && !L->oom && L->nerr == 0)
			report_at(L, at, line, "more than %d files read through @include in all "
				  "(an @include loop?)", SCAN_FILES_MAX);
		return;
	}
	(*files_left)--;
	path = L->include_dir != NULL ? tg_fs_join(L->include_dir, name) : strdup(name);
	if (path == NULL) {
		L->oom = true;
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (f = fdopen(fd, "r")) == NULL) {
		char qb[QBUF];

		if (L->precheck && fd >= 0)
			report_at(L, at, line, "@include of %s: not a regular file", quote(qb, path));
		if (fd >= 0)
			close(fd);
		free(path);   /* missing: libconfig says so */
		return;
	}
	/* messages name included files as the rest of the loader does */
	L->last_raw = NULL;  /* name is a temporary: no cache by its address */
	shown = L->cfg != NULL ? shown_file(L, name) : path;
	text = read_all(L, f, shown);
	fclose(f);
	if (text != NULL)
		scan_text(L, text, shown, depth + 1, files_left);
	free(text);
	free(path);
}

static void scan_text(struct loader *L, const char *text, const char *file, int depth,
		      size_t *files_left)
{
	const char *p = text;
	bool line_start = true;  /* only blanks so far on this line */
	int line = 1;

	while (*p != '\0') {
		unsigned char c = (unsigned char)*p;

		if (c == '\n') {
			line++;
			line_start = true;
			p++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r') {
			p++;
			continue;
		}
		if (c == '#' || (c == '/' && p[1] == '/')) {
			while (*p != '\0' && *p != '\n')
				p++;
			continue;
		}
		if (c == '/' && p[1] == '*') {
			for (p += 2; *p != '\0' && !(p[0] == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			if (*p != '\0')
				p += 2;
			line_start = false;
			continue;
		}
		if (c == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				line += *p == '\n';
			}
			if (*p != '\0')
				p++;
			line_start = false;
			continue;
		}
		if (c == '@' && line_start && strncmp(p, "@include", 8) == 0 &&
		    (p[8] == ' ' || p[8] == '\t')) {
			const char *q = p + 8, *end;

			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '"' && (end = strchr(q + 1, '"')) != NULL &&
			    memchr(q + 1, '\n', (size_t)(end - q - 1)) == NULL &&
			    memchr(q + 1, '\\', (size_t)(end - q - 1)) == NULL) {
				char *name = strndup(q + 1, (size_t)(end - q - 1));

				if (name == NULL) {
					L->oom = true;
					return;
				}
				scan_include(L, name, depth, files_left, file, line);
				free(name);
				p = end + 1;
			} else {
				p = q;
			}
			line_start = false;
			continue;
		}
		line_start = false;
		if (name_char(c) && !(c >= '0' && c <= '9') && c != '-') {
			while (name_char((unsigned char)*p))
				p++;
			continue;
		}
		if ((c >= '0' && c <= '9') ||
		    ((c == '-' || c == '+') && p[1] >= '0' && p[1] <= '9')) {
			size_t n = L->precheck ? 0 : scan_number(L, p, file, line);

			if (n > 0) {
				p += n;
				continue;
			}
			/* a float: its digits, point, exponent and sign */
			for (p++; (*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' ||
				  *p == 'E' || ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E'));
			     p++)
				;
			continue;
		}
		p++;
	}
}

struct tg_config *tg_config_load(const char *path, tg_config_report_fn report, void *ctx,
				 struct tg_error *err)
{
	struct loader L = { .report = report, .ctx = ctx, .err = err,
			    .main_name = path ? path : "(null)" };
	struct tg_config *cfg;
	const char *slash;
	char *include_dir = NULL, *text;
	struct stat st;
	config_t c;
	FILE *f;
	int ok;

	if (path == NULL || path[0] == '\0') {
		report_at(&L, "(config)", 0, "no configuration file given");
		return NULL;
	}
	f = fopen(path, "re");
	if (f == NULL) {
		report_at(&L, path, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		report_at(&L, path, 0, "is a directory, not a configuration file");
		return NULL;
	}
	text = read_all(&L, f, path);
	fclose(f);
	if (text == NULL)
		return NULL;
	/* libconfig 1.5 puts include_dir before every @include name: the
	 * directory as the caller wrote it keeps messages short and true. */
	slash = strrchr(path, '/');
	if (slash != NULL) {
		include_dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
		if (include_dir == NULL) {
			free(text);
			report_at(&L, path, 0, "out of memory");
			return NULL;
		}
	}
	{
		struct loader P = { .report = report, .ctx = ctx, .err = err, .main_name = path,
				    .include_dir = include_dir, .precheck = true };
		size_t files_left = SCAN_FILES_MAX;

		scan_text(&P, skip_bom(text), path, 0, &files_left);   /* as libconfig reads it */
		if (P.nerr > 0 || P.oom) {
			if (P.oom)
				report_at(&P, path, 0, "out of memory");
			free(text);
			free(include_dir);
			return NULL;
		}
	}
	config_init(&c);
	/* "." for a path without a slash: without an include_dir libconfig
	 * would take an absolute @include name as it is, and the same file
	 * would load or not depending on how -c was written */
	config_set_include_dir(&c, include_dir != NULL ? include_dir : ".");
	ok = config_read_string(&c, skip_bom(text));
	cfg = load_parsed(&c, ok == CONFIG_TRUE, path, include_dir, text, report, ctx, err);
	free(text);
	config_destroy(&c);
	free(include_dir);
	return cfg;
}

struct tg_config *tg_config_load_string(const char *text, const char *name,
					tg_config_report_fn report, void *ctx,
					struct tg_error *err)
{
	struct tg_config *cfg;
	config_t c;
	int ok;

	if (name == NULL)
		name = "(config)";
	if (text == NULL) {
		struct loader L = { .report = report, .ctx = ctx, .err = err, .main_name = name };

		report_at(&L, name, 0, "no configuration text");
		return NULL;
	}
	config_init(&c);
	ok = config_read_string(&c, skip_bom(text));
	cfg = load_parsed(&c, ok == CONFIG_TRUE, name, NULL, text, report, ctx, err);
	config_destroy(&c);
	return cfg;
}

static void dialect_free(struct tg_dialect *d)
{
	free(d->date_format);
	strings_free(&d->missing);
}

void tg_config_free(struct tg_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->file);
	free(cfg->dir);
	free(cfg->daemon.state_dir);
	free(cfg->daemon.templates);
	free(cfg->archive.conninfo);
	free(cfg->archive.password_file);
	free(cfg->ha.conninfo);
	free(cfg->ha.password_file);
	free(cfg->daemon.language);
	free(cfg->daemon.organization);
	strings_free(&cfg->daemon.admins);
	for (size_t i = 0; i < cfg->n_sources; i++) {
		struct tg_source *s = &cfg->sources[i];

		free(s->name);
		free(s->path);
		dialect_free(&s->dialect);
		free(s->col_indicator);
		free(s->col_period);
		free(s->col_value);
		free(s->url);
		free(s->ca_file);
		free(s->proxy);
		free(s->bearer_token_file);
		free(s->username);
		free(s->password_file);
		strings_free(&s->headers);
		free(s->json_records);
		free(s->json_indicator);
		free(s->json_period);
		free(s->json_value);
		free(s->conninfo);
		free(s->query);
	}
	free(cfg->sources);
	for (size_t i = 0; i < cfg->n_indicators; i++) {
		struct tg_indicator *ind = &cfg->indicators[i];

		free(ind->id);
		free(ind->name);
		free(ind->process);
		free(ind->department);
		free(ind->owner);
		free(ind->unit);
		free(ind->source);
	}
	free(cfg->indicators);
	for (size_t i = 0; i < cfg->n_channels; i++) {
		struct tg_channel *ch = &cfg->channels[i];

		free(ch->name);
		free(ch->url);
		free(ch->from);
		free(ch->username);
		free(ch->password_file);
		free(ch->secret_file);
		free(ch->ca_file);
	}
	free(cfg->channels);
	for (size_t i = 0; i < cfg->n_routes; i++) {
		struct tg_route *r = &cfg->routes[i];

		free(r->name);
		strings_free(&r->departments);
		strings_free(&r->processes);
		strings_free(&r->indicators);
		strings_free(&r->channels);
		strings_free(&r->to);
		strings_free(&r->escalate_to);
		strings_free(&r->report.to);
		free(r->report.every);
		free(r->report.format);
	}
	free(cfg->routes);
	for (size_t i = 0; i < cfg->n_silences; i++) {
		struct tg_silence *s = &cfg->silences[i];

		strings_free(&s->departments);
		strings_free(&s->processes);
		strings_free(&s->indicators);
		free(s->reason);
	}
	free(cfg->silences);
	if (cfg->index != NULL) {
		htab_free(&cfg->index->indicators);
		htab_free(&cfg->index->sources);
		htab_free(&cfg->index->channels);
		for (size_t i = 0; i < cfg->index->n_files; i++)
			free(cfg->index->files[i]);
		free(cfg->index->files);
		free(cfg->index);
	}
	free(cfg);
}

ssize_t tg_config_indicator_index(const struct tg_config *cfg, const char *id, size_t len)
{
	if (cfg == NULL || cfg->index == NULL || id == NULL)
		return -1;
	return htab_find(&cfg->index->indicators, id, len);
}

ssize_t tg_config_source_index(const struct tg_config *cfg, const char *name)
{
	if (cfg == NULL || cfg->index == NULL || name == NULL)
		return -1;
	return htab_find(&cfg->index->sources, name, strlen(name));
}

ssize_t tg_config_channel_index(const struct tg_config *cfg, const char *name)
{
	if (cfg == NULL || cfg->index == NULL || name == NULL)
		return -1;
	return htab_find(&cfg->index->channels, name, strlen(name));
}

char *tg_config_secret_path(const struct tg_config *cfg, const char *name)
{
	const char *creds;

	if (name == NULL)
		return NULL;
	if (name[0] == '/')
		return strdup(name);
	creds = getenv("CREDENTIALS_DIRECTORY");
	if (creds != NULL && creds[0] != '\0') {
		char *p = tg_fs_join(creds, name);

		if (p == NULL)
			return NULL;
		if (access(p, F_OK) == 0)
			return p;
		free(p);
	}
	return tg_fs_join(cfg != NULL && cfg->dir != NULL ? cfg->dir : ".", name);
}
