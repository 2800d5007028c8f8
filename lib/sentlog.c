/*
 * sentlog.c — STATE_DIR/sent.log, the append-only record of the alerts sent
 * (format in sentlog.h), and the reader that counts them for the report.
 *
 * It exists apart from the outbox because the outbox forgets a message once
 * it is delivered, and the alert state forgets an alert once it resolves;
 * the quality office needs, months later, "how many alerts about RAG-01 in
 * October, and when".  Plain tab-separated text so that an auditor can read
 * it with less and grep, and so that a damaged line damages only itself.
 *
 * The writer never lets data shape a line (every field is sanitised and
 * bounded); the reader never trusts a line (every field is checked, memory
 * is bounded by one line buffer and two capped hash tables).
 */
#include "sentlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "utf8.h"

#define HEADER "# traguardo sent.log: wall\tcycle\tindicator\tkind\tstatus\tchannel\tto\tmessage\tevent\troute\n"
#define HEX_ID_LEN 32
#define CHUNK 65536

static const char *const kind_names[] = { "firing", "reminder", "escalated", "resolved" };
#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

/* ------------------------------------------------------------ shared checks */

static bool hex_id(const char *s, size_t len)
{
	if (len != HEX_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A C0 or C1 control character, or DEL, of length n at s. */
static bool is_control(const unsigned char *s, size_t n)
{
	if (n == 1)
		return s[0] < 0x20 || s[0] == 0x7F;
	return n == 2 && s[0] == 0xC2 && s[1] < 0xA0;
}

/* The first and last instants the cycle field can write (years 1..9999). */
static bool cycle_in_range(tg_time t)
{
	tg_time lo = (tg_time)tg_day_from_ymd(1, 1, 1) * TG_DAY_SECONDS;
	tg_time hi = ((tg_time)tg_day_from_ymd(9999, 12, 31) + 1) * TG_DAY_SECONDS;

	return t >= lo && t < hi;
}

/* ------------------------------------------------------------ writing */

struct out {
	char *buf;
	size_t size, len;
	bool full;
};

static void out_bytes(struct out *o, const char *p, size_t n)
{
	if (o->full || n >= o->size - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

/* Appends s sanitised (controls as spaces, invalid bytes as '?'), at most
 * *room bytes, whole characters only; returns whether all of s fitted. */
static bool put_clean(struct out *o, const char *s, size_t *room)
{
	while (*s != '\0') {
		size_t n = tg_utf8_len((const unsigned char *)s, SIZE_MAX);
		const char *src = s;
		size_t len = n;

		if (n == 0) {
			src = "?";
			len = n = 1;
		} else if (is_control((const unsigned char *)s, n)) {
			src = " ";
			len = 1;
		}
		if (len > *room)
			return false;
		out_bytes(o, src, len);
		*room -= len;
		s += n;
	}
	return true;
}

static void put_field(struct out *o, const char *s, size_t cap)
{
	size_t start = o->len, room = cap;

	put_clean(o, s != NULL ? s : "", &room);
	if (o->len == start)
		out_bytes(o, "-", 1);
}

static void put_recipients(struct out *o, char *const *to, size_t n_to)
{
	size_t start = o->len, room = TG_SENTLOG_TO_MAX - 3;

	for (size_t i = 0; i < n_to; i++) {
		if (to[i] == NULL || to[i][0] == '\0')
			continue;
		if (o->len > start) {
			if (room == 0) {
				out_bytes(o, "...", 3);
				return;
			}
			out_bytes(o, ",", 1);
			room--;
		}
		if (!put_clean(o, to[i], &room)) {
			out_bytes(o, "...", 3);
			return;
		}
	}
	if (o->len == start)
		out_bytes(o, "-", 1);
}

static bool entry_valid(const struct tg_sentlog_entry *e)
{
	return e->indicator != NULL && e->indicator[0] != '\0' && e->channel != NULL &&
	       e->channel[0] != '\0' && (unsigned)e->kind < N_KINDS &&
	       (unsigned)e->status < TG_STATUS_COUNT && e->message != NULL &&
	       hex_id(e->message, strnlen(e->message, HEX_ID_LEN + 1)) &&
	       (e->event == NULL || hex_id(e->event, strnlen(e->event, HEX_ID_LEN + 1))) &&
	       (e->n_to == 0 || e->to != NULL) && cycle_in_range(e->cycle);
}

int tg_sentlog_format(const struct tg_sentlog_entry *e, char *buf, size_t size)
{
	struct out o = { .buf = buf, .size = size };
	tg_day day;
	int64_t secs;
	int y, m, d, len;
	char head[64];

	if (e == NULL || buf == NULL || !entry_valid(e))
		return -EINVAL;
	day = tg_time_day(e->cycle);
	secs = e->cycle - (tg_time)day * TG_DAY_SECONDS;
	tg_day_to_ymd(day, &y, &m, &d);
	len = snprintf(head, sizeof(head), "%lld\t%04d-%02d-%02dT%02d:%02d\t",
		       (long long)(e->wall < 0 ? 0 : e->wall), y, m, d, (int)(secs / 3600),
		       (int)(secs % 3600 / 60));
	out_bytes(&o, head, (size_t)len);
	put_field(&o, e->indicator, TG_SENTLOG_ID_MAX);
	out_bytes(&o, "\t", 1);
	out_bytes(&o, kind_names[e->kind], strlen(kind_names[e->kind]));
	out_bytes(&o, "\t", 1);
	out_bytes(&o, tg_status_name(e->status), strlen(tg_status_name(e->status)));
	out_bytes(&o, "\t", 1);
	put_field(&o, e->channel, TG_SENTLOG_CHANNEL_MAX);
	out_bytes(&o, "\t", 1);
	put_recipients(&o, e->to, e->n_to);
	out_bytes(&o, "\t", 1);
	out_bytes(&o, e->message, HEX_ID_LEN);
	out_bytes(&o, "\t", 1);
	out_bytes(&o, e->event != NULL ? e->event : "-", e->event != NULL ? HEX_ID_LEN : 1);
	out_bytes(&o, "\t", 1);
	put_field(&o, e->route, TG_SENTLOG_ROUTE_MAX);
	out_bytes(&o, "\n", 1);
	if (o.full)
		return -ENOSPC;
	buf[o.len] = '\0';
	return (int)o.len;
}

int tg_sentlog_lines(const struct tg_sentlog_entry *e, size_t n, char **out, size_t *len,
		     struct tg_error *err)
{
	char *buf;
	size_t cap, o = 0;

	*out = NULL;
	*len = 0;
	if (n == 0)
		return 0;
	if (e == NULL)
		return tg_error_set(err, "sent.log: bad arguments");
	for (size_t i = 0; i < n; i++)
		if (!entry_valid(&e[i]))
			return tg_error_set(err, "sent.log: entry %zu of %zu is not valid (missing field, "
					    "unknown kind or status, bad id or cycle time): nothing written",
					    i + 1, n);
	if (n > (SIZE_MAX - 1) / TG_SENTLOG_LINE_MAX)
		return tg_error_setc(err, -ENOMEM, "sent.log: out of memory");
	cap = 1 + n * TG_SENTLOG_LINE_MAX;
	if ((buf = malloc(cap)) == NULL)
		return tg_error_setc(err, -ENOMEM, "sent.log: out of memory");
	for (size_t i = 0; i < n; i++) {
		int k = tg_sentlog_format(&e[i], buf + o, cap - o);

		if (k < 0) {   /* cannot happen: each line fits in TG_SENTLOG_LINE_MAX */
			free(buf);
			return tg_error_setc(err, k, "sent.log: entry %zu does not fit a line", i + 1);
		}
		o += (size_t)k;
	}
	*out = buf;
	*len = o;
	return 0;
}

int tg_sentlog_append_lines(const char *state_dir, const char *lines, size_t n,
			    struct tg_error *err)
{
	char path[4096], *buf;
	size_t len = 0;
	struct stat sb;
	int fd, rc;

	if (n == 0)
		return 0;
	if (state_dir == NULL || lines == NULL)
		return tg_error_set(err, "sent.log: bad arguments");
	if ((size_t)snprintf(path, sizeof(path), "%s/" TG_SENTLOG_FILE, state_dir) >= sizeof(path))
		return tg_error_setc(err, -ENAMETOOLONG, "%s/" TG_SENTLOG_FILE ": path too long", state_dir);
	if (n > SIZE_MAX - sizeof(HEADER) - 1)
		return tg_error_setc(err, -ENOMEM, "%s: out of memory", path);
	if ((buf = malloc(1 + sizeof(HEADER) + n)) == NULL)
		return tg_error_setc(err, -ENOMEM, "%s: out of memory", path);

	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		rc = -errno;
		free(buf);
		if (rc == -ELOOP)
			return tg_error_setc(err, rc, "%s: is a symbolic link (refused)", path);
		return tg_error_setc(err, rc, "%s: cannot open: %s", path, strerror(-rc));
	}
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		tg_error_setc(err, rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = tg_error_setc(err, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if (sb.st_size == 0) {
		memcpy(buf, HEADER, sizeof(HEADER) - 1);
		len = sizeof(HEADER) - 1;
	} else {
		char last = '\n';

		/* a torn last line stays alone: the batch starts on a line of its own */
		if (pread(fd, &last, 1, sb.st_size - 1) == 1 && last != '\n')
			buf[len++] = '\n';
	}
	memcpy(buf + len, lines, n);
	len += n;
	if ((rc = tg_fs_write_all(fd, buf, len)) < 0) {
		tg_error_setc(err, rc, "%s: cannot append: %s", path, strerror(-rc));
		goto out;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		tg_error_setc(err, rc, "%s: cannot sync: %s", path, strerror(-rc));
		goto out;
	}
	rc = 0;
out:
	if (close(fd) < 0 && rc == 0) {
		rc = -errno;
		tg_error_setc(err, rc, "%s: cannot close: %s", path, strerror(-rc));
	}
	free(buf);
	return rc;
}

int tg_sentlog_append(const char *state_dir, const struct tg_sentlog_entry *e, size_t n,
		      struct tg_error *err)
{
	char *lines;
	size_t len;
	int rc;

	if (n == 0)
		return 0;
	if (state_dir == NULL || e == NULL)
		return tg_error_set(err, "sent.log: bad arguments");
	if ((rc = tg_sentlog_lines(e, n, &lines, &len, err)) < 0)
		return rc;
	rc = tg_sentlog_append_lines(state_dir, lines, len, err);
	free(lines);
	return rc;
}

/* ------------------------------------------------------------ reading */

struct reader {
	const char *name;
	tg_day from, until;
	struct tg_sentlog_counts *out;
	size_t cap;                   /* of out->v */
	uint32_t *ids;                /* open addressing: index + 1 into out->v, 0 empty */
	size_t ids_size;
	uint64_t *pairs;              /* open addressing: hash of (class, id, message), 0 empty */
	size_t pairs_size, n_pairs;
};

static uint64_t mix(uint64_t h)
{
	/* splitmix64's finaliser: FNV alone clusters in the low bits we index by */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

static uint64_t fnv(uint64_t h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void bad(struct reader *r, size_t lineno, const char *what, const char *s, size_t len)
{
	struct tg_sentlog_counts *c = r->out;
	char q[200];

	c->bad++;
	if (c->first_bad != 0)
		return;
	c->first_bad = lineno;
	if (s != NULL)
		tg_error_set(&c->bad_reason, "%s:%zu: %s '%s'", r->name, lineno, what,
			     tg_error_quote_in(s, len, 40, "'\\", q, sizeof(q)));
	else
		tg_error_set(&c->bad_reason, "%s:%zu: %s", r->name, lineno, what);
}

/* Text of 1..max bytes: valid UTF-8, no control character. */
static bool text_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len;) {
		size_t n = tg_utf8_len((const unsigned char *)s + i, len - i);

		if (n == 0 || is_control((const unsigned char *)s + i, n))
			return false;
		i += n;
	}
	return true;
}

static bool all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num(const char *s, size_t len)
{
	int v = 0;

	for (size_t i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool wall_ok(const char *s, size_t len)
{
	/* up to 19 digits, and no more than INT64_MAX */
	return len >= 1 && len <= 19 && all_digits(s, len) &&
	       (len < 19 || memcmp(s, "9223372036854775807", 19) <= 0);
}

/* "YYYY-MM-DDTHH:MM" -> its day. */
static bool cycle_parse(const char *s, size_t len, tg_day *day)
{
	int y, m, d;

	if (len != 16 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    !all_digits(s, 4) || !all_digits(s + 5, 2) || !all_digits(s + 8, 2) ||
	    !all_digits(s + 11, 2) || !all_digits(s + 14, 2))
		return false;
	y = num(s, 4);
	m = num(s + 5, 2);
	d = num(s + 8, 2);
	if (!tg_ymd_valid(y, m, d) || num(s + 11, 2) > 23 || num(s + 14, 2) > 59)
		return false;
	*day = tg_day_from_ymd(y, m, d);
	return true;
}

static int name_index(const char *const *names, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return (int)i;
	return -1;
}

static bool status_ok(const char *s, size_t len)
{
	for (int i = 0; i < TG_STATUS_COUNT; i++) {
		const char *name = tg_status_name((enum tg_status)i);

		if (strlen(name) == len && memcmp(name, s, len) == 0)
			return true;
	}
	return false;
}

/* Index of id in out->v, adding it; -1 when TG_SENTLOG_MAX_IDS are there,
 * -2 on ENOMEM. */
static long id_slot(struct reader *r, const char *id, size_t len)
{
	struct tg_sentlog_counts *c = r->out;
	size_t mask, i;

	if (c->n < TG_SENTLOG_MAX_IDS && (r->ids_size == 0 || (c->n + 1) * 2 > r->ids_size)) {
		size_t size = r->ids_size == 0 ? 64 : r->ids_size * 2;
		uint32_t *t;

		if ((t = calloc(size, sizeof(*t))) == NULL)
			return -2;
		for (size_t k = 0; k < c->n; k++) {
			const char *s = c->v[k].id;

			i = mix(fnv(0xcbf29ce484222325ULL, s, strlen(s))) & (size - 1);
			while (t[i] != 0)
				i = (i + 1) & (size - 1);
			t[i] = (uint32_t)(k + 1);
		}
		free(r->ids);
		r->ids = t;
		r->ids_size = size;
	}
	mask = r->ids_size - 1;
	i = mix(fnv(0xcbf29ce484222325ULL, id, len)) & mask;
	for (; r->ids[i] != 0; i = (i + 1) & mask) {
		const char *s = c->v[r->ids[i] - 1].id;

		if (strlen(s) == len && memcmp(s, id, len) == 0)
			return (long)r->ids[i] - 1;
	}
	if (c->n >= TG_SENTLOG_MAX_IDS)
		return -1;
	if (c->n == r->cap) {
		size_t cap = r->cap == 0 ? 16 : r->cap * 2;
		struct tg_sentlog_count *v = realloc(c->v, cap * sizeof(*v));

		if (v == NULL)
			return -2;
		c->v = v;
		r->cap = cap;
	}
	memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
	memcpy(c->v[c->n].id, id, len);
	c->v[c->n].id[len] = '\0';
	r->ids[i] = (uint32_t)(c->n + 1);
	return (long)c->n++;
}

/* Remembers the pair: 1 new, 0 seen before, -1 ENOMEM. */
static int pair_new(struct reader *r, int class, const char *id, size_t id_len, const char *msg)
{
	uint64_t h = fnv(0xcbf29ce484222325ULL, class ? "R" : "A", 1);
	size_t mask, i;

	h = fnv(h, id, id_len);
	h = fnv(h, "\t", 1);
	h = mix(fnv(h, msg, HEX_ID_LEN));
	if (h == 0)
		h = 1;
	if (r->n_pairs < TG_SENTLOG_MAX_PAIRS &&
	    (r->pairs_size == 0 || (r->n_pairs + 1) * 2 > r->pairs_size)) {
		size_t size = r->pairs_size == 0 ? 256 : r->pairs_size * 2;
		uint64_t *t = calloc(size, sizeof(*t));

		if (t == NULL)
			return -1;
		for (size_t k = 0; k < r->pairs_size; k++) {
			if (r->pairs[k] == 0)
				continue;
			for (i = r->pairs[k] & (size - 1); t[i] != 0; i = (i + 1) & (size - 1))
				;
			t[i] = r->pairs[k];
		}
		free(r->pairs);
		r->pairs = t;
		r->pairs_size = size;
	}
	mask = r->pairs_size - 1;
	for (i = h & mask; r->pairs[i] != 0; i = (i + 1) & mask)
		if (r->pairs[i] == h)
			return 0;
	if (r->n_pairs >= TG_SENTLOG_MAX_PAIRS) {
		r->out->pairs_full = true;
		return 1;
	}
	r->pairs[i] = h;
	r->n_pairs++;
	return 1;
}

static void inc(unsigned *u)
{
	if (*u < UINT_MAX)
		(*u)++;
}

/* One line without its LF.  Returns 0 or -ENOMEM. */
static int line(struct reader *r, size_t lineno, const char *s, size_t len)
{
	enum { WALL, CYCLE, ID, KIND, STATUS, CHANNEL, TO, MESSAGE, EVENT, ROUTE, NF };
	static const char *const what[NF] = {
		"bad wall time", "bad cycle time (expected YYYY-MM-DDTHH:MM)", "bad indicator id",
		"unknown kind", "unknown status", "bad channel", "bad recipients",
		"bad message id", "bad event id", "bad route",
	};
	const char *f[NF];
	size_t fl[NF], nf = 0, p = 0;
	struct tg_sentlog_count *c;
	tg_day day;
	int kind, rc;
	long k;

	if (len > 0 && s[0] == '#')
		return 0;
	if (len == 0) {
		bad(r, lineno, "empty line", NULL, 0);
		return 0;
	}
	while (nf < NF) {
		const char *tab = memchr(s + p, '\t', len - p);
		size_t end = tab != NULL ? (size_t)(tab - s) : len;

		f[nf] = s + p;
		fl[nf++] = end - p;
		if (tab == NULL)
			break;
		p = end + 1;
	}
	if (nf < NF) {
		bad(r, lineno, "too few fields in", s, len);
		return 0;
	}
	if (!wall_ok(f[WALL], fl[WALL])) {
		bad(r, lineno, what[WALL], f[WALL], fl[WALL]);
		return 0;
	}
	if (!cycle_parse(f[CYCLE], fl[CYCLE], &day)) {
		bad(r, lineno, what[CYCLE], f[CYCLE], fl[CYCLE]);
		return 0;
	}
	kind = name_index(kind_names, N_KINDS, f[KIND], fl[KIND]);
	for (int i = ID; i < NF; i++) {
		bool ok;

		switch (i) {
		case ID: ok = text_ok(f[i], fl[i], TG_SENTLOG_ID_MAX); break;
		case KIND: ok = kind >= 0; break;
		case STATUS: ok = status_ok(f[i], fl[i]); break;
		case CHANNEL: ok = text_ok(f[i], fl[i], TG_SENTLOG_CHANNEL_MAX); break;
		case TO: ok = text_ok(f[i], fl[i], TG_SENTLOG_TO_MAX); break;
		case MESSAGE: ok = hex_id(f[i], fl[i]); break;
		case EVENT: ok = (fl[i] == 1 && f[i][0] == '-') || hex_id(f[i], fl[i]); break;
		default: ok = text_ok(f[i], fl[i], TG_SENTLOG_ROUTE_MAX); break;
		}
		if (!ok) {
			bad(r, lineno, what[i], f[i], fl[i]);
			return 0;
		}
	}
	if (day < r->from || day > r->until)
		return 0;
	if (fl[ROUTE] == 6 && memcmp(f[ROUTE], "admins", 6) == 0) {
		inc(&r->out->admins);
		return 0;
	}
	if ((k = id_slot(r, f[ID], fl[ID])) == -2)
		return -ENOMEM;
	if (k < 0) {
		bad(r, lineno, "too many indicators; skipped", f[ID], fl[ID]);
		return 0;
	}
	if ((rc = pair_new(r, kind == TG_ALERT_RESOLVED, f[ID], fl[ID], f[MESSAGE])) < 0)
		return -ENOMEM;
	if (rc == 0) {
		r->out->duplicates++;
		return 0;
	}
	c = &r->out->v[k];
	if (kind == TG_ALERT_RESOLVED) {
		if (c->resolved == 0 || day > c->last_resolved)
			c->last_resolved = day;
		inc(&c->resolved);
	} else {
		if (c->alerts == 0 || day > c->last)
			c->last = day;
		inc(&c->alerts);
	}
	return 0;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct tg_sentlog_count *)a)->id, ((const struct tg_sentlog_count *)b)->id);
}

int tg_sentlog_read_stream(FILE *f, const char *name, tg_day from, tg_day until,
			   struct tg_sentlog_counts *out, struct tg_error *err)
{
	struct reader r = { .name = name != NULL ? name : TG_SENTLOG_FILE, .from = from,
			    .until = until, .out = out };
	char *chunk = malloc(CHUNK), *buf = malloc(TG_SENTLOG_LINE_MAX);
	size_t len = 0, got, lineno = 0;
	bool too_long = false;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (chunk == NULL || buf == NULL) {
		rc = tg_error_setc(err, -ENOMEM, "%s: out of memory", r.name);
		goto out;
	}
	while (rc == 0 && (got = fread(chunk, 1, CHUNK, f)) > 0) {
		const char *p = chunk, *end = chunk + got;

		while (rc == 0 && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t seg = (size_t)((nl != NULL ? nl : end) - p);

			if (!too_long && seg > TG_SENTLOG_LINE_MAX - len)
				too_long = true;
			if (!too_long) {
				memcpy(buf + len, p, seg);
				len += seg;
			}
			if (nl == NULL)
				break;
			lineno++;
			if (too_long)
				bad(&r, lineno, "line too long", NULL, 0);
			else
				rc = line(&r, lineno, buf, len);
			len = 0;
			too_long = false;
			p = nl + 1;
		}
	}
	if (rc == 0 && ferror(f))
		rc = tg_error_setc(err, -EIO, "%s: read error", r.name);
	if (rc == -ENOMEM)
		tg_error_setc(err, rc, "%s: out of memory", r.name);
	if (rc == 0 && (len > 0 || too_long)) {
		lineno++;
		bad(&r, lineno, "last line has no end of line (a torn write?)", NULL, 0);
	}
	out->lines = lineno;
out:
	free(chunk);
	free(buf);
	free(r.ids);
	free(r.pairs);
	if (rc < 0) {
		free(out->v);
		memset(out, 0, sizeof(*out));
		return rc;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), by_id);
	for (size_t i = 0; i < out->n; i++) {
		out->alerts = out->alerts > UINT_MAX - out->v[i].alerts ? UINT_MAX
									: out->alerts + out->v[i].alerts;
		out->resolved = out->resolved > UINT_MAX - out->v[i].resolved
					? UINT_MAX : out->resolved + out->v[i].resolved;
	}
	return 0;
}

int tg_sentlog_read(const char *state_dir, tg_day from, tg_day until,
		    struct tg_sentlog_counts *out, struct tg_error *err)
{
	char path[4096];
	struct stat sb;
	FILE *f;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	if (state_dir == NULL)
		return tg_error_set(err, "sent.log: no state directory");
	if ((size_t)snprintf(path, sizeof(path), "%s/" TG_SENTLOG_FILE, state_dir) >= sizeof(path))
		return tg_error_setc(err, -ENAMETOOLONG, "%s/" TG_SENTLOG_FILE ": path too long", state_dir);
	/* O_NONBLOCK: a FIFO planted there must not hang the report */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			return 0;
		if (rc == -ELOOP)
			return tg_error_setc(err, rc, "%s: is a symbolic link (refused)", path);
		return tg_error_setc(err, rc, "%s: cannot open: %s", path, strerror(-rc));
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return tg_error_setc(err, -EINVAL, "%s: not a regular file", path);
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		rc = -errno;
		close(fd);
		return tg_error_setc(err, rc, "%s: %s", path, strerror(-rc));
	}
	rc = tg_sentlog_read_stream(f, path, from, until, out, err);
	fclose(f);
	return rc;
}

const struct tg_sentlog_count *tg_sentlog_counts_find(const struct tg_sentlog_counts *c,
						      const char *id)
{
	size_t lo = 0, hi;

	if (c == NULL || id == NULL)
		return NULL;
	hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(c->v[mid].id, id);

		if (d == 0)
			return &c->v[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void tg_sentlog_counts_free(struct tg_sentlog_counts *c)
{
	if (c == NULL)
		return;
	free(c->v);
	memset(c, 0, sizeof(*c));
}
