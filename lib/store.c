/*
 * store.c — the measurements in memory and their journal on disk.
 *
 * Memory is laid out for 10^5 indicators x 10^2 periods: an open-addressing
 * table (FNV-1a, linear probing, grown at 70% load) maps an indicator id to a
 * dense array of entries; each entry owns ONE allocation holding its values
 * (double[cap]) followed by its periods (tg_day[cap]), so a point costs 12
 * bytes plus a little slack.  Data nearly always arrives in period order, so
 * the append path is checked first; capacity grows by 25% (still amortised
 * O(1)) and is trimmed to the exact size after a replay, because the replay
 * is where nearly all points come from.  Ids and source names live in an
 * arena; source names are interned (there are few of them) so a series only
 * points at one.
 *
 * The journal (format in store.h) is append-only; every change is formatted
 * at put time into a pending buffer and written with one write() + fsync()
 * per commit.  A failed append is cut off again with ftruncate() so that the
 * retry never glues a record to a torn one.  The file is flock()ed so two
 * processes never append to the same journal.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"

#define ID_MAX 64
#define SOURCE_MAX 255
#define JLINE_MAX 4096          /* longer journal lines are corrupt */
#define RBUF_SIZE 65536         /* replay read buffer (> JLINE_MAX) */
#define WBUF_SIZE 262144        /* compaction write buffer */
#define REC_MAX 512             /* upper bound of one formatted record */
#define ARENA_CHUNK 65536
#define DAY_MIN (-719162)       /* 0001-01-01 */
#define DAY_MAX 2932896         /* 9999-12-31 */
#define COMPACT_SLACK 10000
#define PENDING_KEEP (4u << 20) /* a larger pending buffer is freed once written */
#define PENDING_WRITE (1u << 20) /* pending records written out (not synced) */
#define TABLE_MAX_SIZE 0x80000000u

struct key {
	const char *s;
	uint32_t len;
	uint32_t hash;
};

/* slot[i] is 0 when empty, else 1 + index into the key array */
struct table {
	uint32_t *slot;
	uint32_t size;  /* 0 or a power of two */
	uint32_t count;
};

struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
};

struct entry {
	struct tg_series s;     /* the view handed out; s.n is the count */
	double *val;            /* the allocation; periods follow at val + cap */
	tg_day *per;
	uint32_t cap;
	tg_day last;            /* per[s.n - 1] when s.n > 0: appending a newer
				   period (most puts) reads nothing else */
};

struct tg_store {
	struct key *ikey;       /* ikey[i] and ent[i] describe indicator i */
	struct entry *ent;
	uint32_t nent, capent;
	struct table itab;

	struct key *skey;       /* interned source names */
	uint32_t nsrc, capsrc;
	const char *put_src;    /* the name tg_store_source gave last, and its length */
	size_t put_slen;
	struct table stab;

	struct chunk *arena;
	size_t points, indicators;
	locale_t c_locale;
	uint32_t crc_tab[8][256];

	/* journal: fd < 0 when memory-only */
	int fd;
	char *dir, *path;
	char *pending;
	size_t plen, pcap, pending_records;
	bool tail_dirty;        /* the file ends with a partial line we could not cut */
	bool unsynced;          /* written since the last fsync */
	bool write_failed;      /* an early write failed: wait for the commit */
	bool must_rewrite;      /* an fsync failed: the next commit compacts */
	size_t journal_records, replayed, skipped;
	size_t corrupt_removed; /* older journal.corrupt-* removed when one was kept */
	bool torn;              /* the last line had no newline: a write cut by a crash */
};

/* ---- small helpers ---- */

/* CRC-32 (zlib's polynomial), sliced by 8: replay and compaction spend
 * most of their time here otherwise.  The tables live in the store (8 KiB),
 * filled by tg_store_new. */
static void crc32_init(uint32_t tab[8][256])
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		tab[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int t = 1; t < 8; t++)
			tab[t][n] = (tab[t - 1][n] >> 8) ^ tab[0][tab[t - 1][n] & 0xff];
}

static uint32_t crc32_calc(const uint32_t tab[8][256], const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t crc = 0xffffffffu;

	while (len >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
				     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
			      (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;

		crc = tab[7][lo & 0xff] ^ tab[6][(lo >> 8) & 0xff] ^
		      tab[5][(lo >> 16) & 0xff] ^ tab[4][lo >> 24] ^
		      tab[3][hi & 0xff] ^ tab[2][(hi >> 8) & 0xff] ^
		      tab[1][(hi >> 16) & 0xff] ^ tab[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint32_t fnv1a(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* The offending text for a message, shown between double quotes: at most
 * 40 bytes (not cutting a UTF-8 character), control bytes, '"', '\\' and
 * invalid UTF-8 escaped as \xNN.  buf needs 4 * 40 + 8 bytes. */
static const char *quote(const char *s, size_t len, char *buf, size_t size)
{
	return tg_error_quote_in(s, len, 40, "\"\\", buf, size);
}

static bool name_ok(const char *s, size_t len, size_t max)
{
	if (len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20)
			return false;
	return true;
}

static bool same_value(double a, double b)
{
	return a == b || memcmp(&a, &b, sizeof(a)) == 0;
}

static int fsync_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (dfd < 0)
		return -errno;
	if (fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

/* ---- arena and tables ---- */

static const char *arena_dup(struct tg_store *st, const char *s, size_t len)
{
	struct chunk *c = st->arena;
	char *p;

	if (c == NULL || c->size - c->used < len + 1) {
		size_t size = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;

		c = malloc(sizeof(*c) + size);
		if (c == NULL)
			return NULL;
		c->next = st->arena;
		c->used = 0;
		c->size = size;
		st->arena = c;
	}
	p = c->data + c->used;
	memcpy(p, s, len);
	p[len] = '\0';
	c->used += len + 1;
	return p;
}

/* The slot holding s, or the empty slot where it would go; NULL if the
 * table has no slots yet.  Terminates because the load stays under 70%. */
static uint32_t *table_find(const struct table *t, const struct key *keys,
			    const char *s, size_t len, uint32_t h)
{
	uint32_t mask = t->size - 1;

	if (t->size == 0)
		return NULL;
	for (uint32_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t v = t->slot[i];
		const struct key *k;

		if (v == 0)
			return &t->slot[i];
		k = &keys[v - 1];
		if (k->hash == h && k->len == len && memcmp(k->s, s, len) == 0)
			return &t->slot[i];
	}
}

/* Makes room for one more key (grows at 70% load). */
static int table_reserve(struct table *t, const struct key *keys)
{
	uint32_t nsize, mask, *slot;

	if (t->size != 0 && ((uint64_t)t->count + 1) * 10 <= (uint64_t)t->size * 7)
		return 0;
	if (t->size >= TABLE_MAX_SIZE)
		return -ENOMEM;
	nsize = t->size ? t->size * 2 : 16;
	slot = calloc(nsize, sizeof(*slot));
	if (slot == NULL)
		return -ENOMEM;
	mask = nsize - 1;
	for (uint32_t k = 0; k < t->count; k++) {
		uint32_t i = keys[k].hash & mask;

		while (slot[i] != 0)
			i = (i + 1) & mask;
		slot[i] = k + 1;
	}
	free(t->slot);
	t->slot = slot;
	t->size = nsize;
	return 0;
}

/* Doubles an array of cap elements (cap == n, the array is full). */
static int grow_array(void **arr, uint32_t cap, size_t elem)
{
	uint32_t ncap;
	void *p;

	if (cap >= UINT32_MAX / 2)
		return -ENOMEM;
	ncap = cap ? cap * 2 : 16;
	p = realloc(*arr, (size_t)ncap * elem);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	return 0;
}

static uint32_t grown(uint32_t cap)
{
	return cap ? cap * 2 : 16;
}

static const char *intern_source(struct tg_store *st, const char *s, size_t len)
{
	uint32_t h = fnv1a(s, len), *slot;
	struct key *k;
	void *arr;

	slot = table_find(&st->stab, st->skey, s, len, h);
	if (slot != NULL && *slot != 0)
		return st->skey[*slot - 1].s;
	if (table_reserve(&st->stab, st->skey) < 0)
		return NULL;
	if (st->nsrc == st->capsrc) {
		arr = st->skey;
		if (grow_array(&arr, st->capsrc, sizeof(*st->skey)) < 0)
			return NULL;
		st->skey = arr;
		st->capsrc = grown(st->capsrc);
	}
	k = &st->skey[st->nsrc];
	k->s = arena_dup(st, s, len);
	if (k->s == NULL)
		return NULL;
	k->len = (uint32_t)len;
	k->hash = h;
	slot = table_find(&st->stab, st->skey, s, len, h);
	*slot = ++st->nsrc;
	st->stab.count++;
	return k->s;
}

static struct entry *find_entry(const struct tg_store *st, const char *id, size_t len,
				uint32_t h)
{
	uint32_t *slot = table_find(&st->itab, st->ikey, id, len, h);

	return slot != NULL && *slot != 0 ? &st->ent[*slot - 1] : NULL;
}

static struct entry *add_entry(struct tg_store *st, const char *id, size_t len, uint32_t h)
{
	uint32_t *slot;
	void *arr;
	struct key *k;
	struct entry *e;

	if (table_reserve(&st->itab, st->ikey) < 0)
		return NULL;
	if (st->nent == st->capent) {
		/* if the second realloc fails the first array is merely larger */
		arr = st->ikey;
		if (grow_array(&arr, st->capent, sizeof(*st->ikey)) < 0)
			return NULL;
		st->ikey = arr;
		arr = st->ent;
		if (grow_array(&arr, st->capent, sizeof(*st->ent)) < 0)
			return NULL;
		st->ent = arr;
		st->capent = grown(st->capent);
	}
	k = &st->ikey[st->nent];
	k->s = arena_dup(st, id, len);
	if (k->s == NULL)
		return NULL;
	k->len = (uint32_t)len;
	k->hash = h;
	e = &st->ent[st->nent];
	memset(e, 0, sizeof(*e));
	slot = table_find(&st->itab, st->ikey, id, len, h);
	*slot = ++st->nent;
	st->itab.count++;
	return e;
}

/* ---- series ---- */

/* After a bulk import the buffer may be huge: do not keep it around. */
static void pending_clear(struct tg_store *st)
{
	st->plen = 0;
	st->pending_records = 0;
	if (st->pcap > PENDING_KEEP) {
		free(st->pending);
		st->pending = NULL;
		st->pcap = 0;
	}
}

static void series_sync(struct entry *e)
{
	e->s.value = e->val;
	e->s.period = e->per;
}

/* Room for one more point: 8, then four times as much up to 128 points,
 * then double; periods move behind the values.  (A bulk load grows every
 * series a point at a time and each growth is a copy: a monthly series of
 * ten years reaches 128 after two copies instead of four, with the same
 * room at the end.  The room left over is given back when a journal is
 * replayed.) */
static int series_reserve(struct entry *e)
{
	size_t ncap;
	double *val;

	if (e->s.n < e->cap)
		return 0;
	ncap = e->cap == 0 ? 8 : (size_t)e->cap * (e->cap < 128 ? 4 : 2);
	if (ncap > UINT32_MAX)
		return -ENOMEM;
	val = realloc(e->val, ncap * (sizeof(double) + sizeof(tg_day)));
	if (val == NULL)
		return -ENOMEM;
	memmove(val + ncap, val + e->cap, e->s.n * sizeof(tg_day));
	e->val = val;
	e->per = (tg_day *)(val + ncap);
	e->cap = (uint32_t)ncap;
	series_sync(e);
	return 0;
}

static void series_trim(struct entry *e)
{
	double *val;

	if (e->cap == e->s.n || e->s.n == 0)
		return;
	memmove(e->val + e->s.n, e->per, e->s.n * sizeof(tg_day));
	e->per = (tg_day *)(e->val + e->s.n);
	e->cap = (uint32_t)e->s.n;
	val = realloc(e->val, e->s.n * (sizeof(double) + sizeof(tg_day)));
	if (val != NULL) {
		e->val = val;
		e->per = (tg_day *)(val + e->s.n);
	}
	series_sync(e);
}

/* Index of the first period >= p. */
static size_t series_search(const struct entry *e, tg_day p)
{
	size_t lo = 0, hi = e->s.n;

	if (hi == 0 || e->last < p)
		return hi;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->per[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- journal records ---- */

static char *put_digits(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/*
 * "%.17g" of a value that is not an integer, from 1e-4 up, computed exactly:
 * |v| = m * 2^e (m < 2^53, e < 0), its 17 significant digits are
 * N = m * 10^k / 2^-e rounded half to even (printf's rounding of the exact
 * value) with k = 16 - X, X the decimal exponent; m * 10^k < 2^123 fits in
 * 128 bits.  Returns the length written, 0 when the value is outside that
 * range (printf writes those).  A bulk load formats millions of these, and
 * glibc's printf goes through multi-precision arithmetic for each.
 */
#ifdef __SIZEOF_INT128__
static size_t format_17g(double v, char *out)
{
	const unsigned __int128 e16 = (unsigned __int128)10000000000000000ull;
	const unsigned __int128 e17 = e16 * 10;
	double a = fabs(v);
	int bexp, X, k, shift, tries;
	uint64_t m;
	unsigned __int128 p10, N = 0;
	char digits[24], *o = out;

	if (!(a >= 1e-4 && a < 1e16))
		return 0;
	m = (uint64_t)ldexp(frexp(a, &bexp), 53);
	shift = 53 - bexp;  /* a = m / 2^shift */
	if (shift <= 0 || shift > 100)
		return 0;
	X = (int)floor(log10(a));
	for (tries = 0; tries < 3; tries++) {
		unsigned __int128 P, rem, half;

		k = 16 - X;
		if (k < 0 || k > 22)
			return 0;
		p10 = 1;
		for (int i = 0; i < k; i++)
			p10 *= 10;
		P = (unsigned __int128)m * p10;
		N = P >> shift;
		rem = P - (N << shift);
		half = (unsigned __int128)1 << (shift - 1);
		if (rem > half || (rem == half && (N & 1)))
			N++;
		if (N >= e17 && N != e17)
			X++;
		else if (N < e16)
			X--;
		else
			break;
	}
	if (tries == 3)
		return 0;
	if (N == e17) {  /* rounded up to the next power of ten */
		N = e16;
		X++;
	}
	if (X < -4 || X >= 17)
		return 0;  /* the exponent form: printf's */
	for (uint64_t d = (uint64_t)N, i = 17; i-- > 0; d /= 10)  /* N < 10^17 */
		digits[i] = (char)('0' + (int)(d % 10));
	/* fixed form: 16 - X decimals, trailing zeros dropped */
	int ndig = 17, frac = 16 - X, intd;

	while (ndig > 0 && frac > 0 && digits[ndig - 1] == '0') {
		ndig--;
		frac--;
	}
	if (signbit(v))
		*o++ = '-';
	intd = ndig - frac;  /* digits before the point, <= 0: "0.00ddd" */
	if (intd <= 0) {
		*o++ = '0';
	} else {
		memcpy(o, digits, (size_t)intd);
		o += intd;
	}
	if (frac > 0) {
		*o++ = '.';
		for (int i = intd; i < 0; i++)
			*o++ = '0';
		memcpy(o, digits + (intd > 0 ? intd : 0), (size_t)(ndig - (intd > 0 ? intd : 0)));
		o += ndig - (intd > 0 ? intd : 0);
	}
	return (size_t)(o - out);
}
#else
static size_t format_17g(double v, char *out)
{
	(void)v;
	(void)out;
	return 0;  /* no 128-bit integers: printf writes them all */
}
#endif

/* "%.17g", with whatever radix character the C library used made a '.' so
 * that a setlocale() elsewhere cannot change the journal. */
static size_t format_value(double v, char *out)
{
	char tmp[64];
	int n;
	size_t o = 0;
	bool radix = false;

	/* integers below 1e17 are what %.17g prints as plain digits: done here
	 * because counts are common and snprintf is most of a compaction */
	if (fabs(v) < 1e17 && v == (double)(int64_t)v) {
		int64_t i = (int64_t)v;
		uint64_t u = i < 0 ? (uint64_t)-i : (uint64_t)i;
		char *p = tmp + sizeof(tmp);

		do {
			*--p = (char)('0' + u % 10);
			u /= 10;
		} while (u != 0);
		if (signbit(v))
			*--p = '-';
		o = (size_t)(tmp + sizeof(tmp) - p);
		memcpy(out, p, o);
		return o;
	}
	if ((o = format_17g(v, out)) > 0)
		return o;
	n = snprintf(tmp, sizeof(tmp), "%.17g", v);

	if (n < 0 || (size_t)n >= sizeof(tmp))
		n = 0;
	for (int i = 0; i < n; i++) {
		char c = tmp[i];

		if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e') {
			out[o++] = c;
			radix = false;
		} else if (!radix) {
			out[o++] = '.';
			radix = true;
		}
	}
	return o;
}

static size_t format_int64(int64_t v, char *out)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	n = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(out, p, n);
	return n;
}

/* Writes a whole record line at out (at most REC_MAX bytes); returns its length. */
static size_t format_record(const struct tg_store *st, char *out, const char *id, size_t ilen,
			    tg_day period, double v, const char *src, size_t slen,
			    int64_t loaded_at)
{
	char *body = out + 12, *p = body;
	int y, m, d;
	uint32_t crc;

	memcpy(p, id, ilen);
	p += ilen;
	*p++ = '\t';
	tg_day_to_ymd(period, &y, &m, &d);
	p = put_digits(p, (unsigned)y, 4);
	*p++ = '-';
	p = put_digits(p, (unsigned)m, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)d, 2);
	*p++ = '\t';
	p += format_value(v, p);
	*p++ = '\t';
	memcpy(p, src, slen);
	p += slen;
	*p++ = '\t';
	p += format_int64(loaded_at, p);
	crc = crc32_calc(st->crc_tab, body, (size_t)(p - body));
	*p++ = '\n';
	memcpy(out, "M1 ", 3);
	for (int i = 0; i < 8; i++)
		out[3 + i] = "0123456789abcdef"[(crc >> (28 - 4 * i)) & 0xf];
	out[11] = '\t';
	return (size_t)(p - out);
}

static bool parse_hex8(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint32_t)(c - 'a' + 10);
		else
			return false;
	}
	*out = v;
	return true;
}

static bool parse_digits(const char *s, size_t len, int *out)
{
	int v = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool parse_day(const char *s, size_t len, tg_day *out)
{
	int y, m, d;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return false;
	if (!parse_digits(s, 4, &y) || !parse_digits(s + 5, 2, &m) ||
	    !parse_digits(s + 8, 2, &d) || !tg_ymd_valid(y, m, d))
		return false;
	*out = tg_day_from_ymd(y, m, d);
	return *out >= DAY_MIN && *out <= DAY_MAX;
}

/* Strictly what "%.17g" writes for a finite value. */
static bool parse_value(const struct tg_store *st, const char *s, size_t len, double *out)
{
	char tmp[48];
	size_t i = 0, digits = 0, idigits;
	bool neg = false, plain = true;
	char *end;

	if (len == 0 || len >= sizeof(tmp))
		return false;
	if (s[i] == '-') {
		neg = true;
		i++;
	}
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (digits == 0)
		return false;
	idigits = digits;
	if (i < len && s[i] == '.') {
		plain = false;
		i++;
		digits = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
		if (digits == 0)
			return false;
	}
	if (i < len && s[i] == 'e') {
		plain = false;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		digits = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
		if (digits == 0)
			return false;
	}
	if (i != len)
		return false;
	if (plain && idigits <= 15) {
		/* an integer below 2^53: exact without strtod */
		int64_t v = 0;

		for (i = neg; i < len; i++)
			v = v * 10 + (s[i] - '0');
		*out = neg ? -(double)v : (double)v;
		return true;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	*out = strtod_l(tmp, &end, st->c_locale);
	return end == tmp + len && isfinite(*out);
}

static bool parse_int64(const char *s, size_t len, int64_t *out)
{
	uint64_t v = 0, limit = (uint64_t)INT64_MAX;
	size_t i = 0;
	bool neg = false;

	if (len > 0 && s[0] == '-') {
		neg = true;
		limit++;
		i++;
	}
	if (i == len || len - i > 19)
		return false;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > limit)
			return false;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* ---- put ---- */

static int write_pending(struct tg_store *st, struct tg_error *err);

/* A period newer than the series' last at its end (room made). */
static inline void append_point(struct tg_store *st, struct entry *e, tg_day period, double v)
{
	e->val[e->s.n] = v;
	e->per[e->s.n] = period;
	e->last = period;
	if (e->s.n++ == 0)
		st->indicators++;
	st->points++;
}

/* Applies one measurement to the series of entry idx (e, or NULL when the
 * indicator has none yet: it is added); journals it when journal is true.
 * Returns 1, 0 or -ENOMEM.  Nothing is changed when it fails. */
static int put_entry(struct tg_store *st, struct entry *e, const char *id, size_t ilen,
		     uint32_t h, tg_day period, double v, const char *src, size_t slen,
		     int64_t loaded_at, bool journal)
{
	size_t pos = 0;
	bool exists = false;
	const char *isrc = NULL;

	if (e != NULL) {
		pos = series_search(e, period);
		exists = pos < e->s.n && e->per[pos] == period;
		if (exists && same_value(e->val[pos], v))
			return 0;
	}
	if (slen > 0) {
		if (e != NULL && e->s.source != NULL &&
		    (e->s.source == src ||
		     (strncmp(e->s.source, src, slen) == 0 && e->s.source[slen] == '\0')))
			isrc = e->s.source;
		else if ((isrc = intern_source(st, src, slen)) == NULL)
			return -ENOMEM;
	}
	if (journal) {
		if (st->pcap - st->plen < REC_MAX) {
			size_t ncap = st->pcap ? st->pcap * 2 : 65536;
			char *p = realloc(st->pending, ncap);

			if (p == NULL)
				return -ENOMEM;
			st->pending = p;
			st->pcap = ncap;
		}
	}
	if (e == NULL) {
		e = add_entry(st, id, ilen, h);
		if (e == NULL)
			return -ENOMEM;
	}
	if (!exists && series_reserve(e) < 0)
		return -ENOMEM;

	/* nothing can fail from here */
	if (journal) {
		st->plen += format_record(st, st->pending + st->plen, id, ilen, period, v, src, slen,
					  loaded_at);
		st->pending_records++;
		/* a bulk load goes to the file as it comes, not to memory; a
		 * failed write keeps it pending for the commit to report */
		if (st->plen >= PENDING_WRITE && !st->write_failed)
			st->write_failed = write_pending(st, NULL) < 0;
	}
	if (exists) {
		e->val[pos] = v;
	} else if (pos == e->s.n) {
		append_point(st, e, period, v);  /* the common case: a newer period */
	} else {
		memmove(e->val + pos + 1, e->val + pos, (e->s.n - pos) * sizeof(double));
		memmove(e->per + pos + 1, e->per + pos, (e->s.n - pos) * sizeof(tg_day));
		e->val[pos] = v;
		e->per[pos] = period;
		if (e->s.n++ == 0)
			st->indicators++;
		st->points++;
	}
	e->s.source = isrc;
	e->s.last_loaded = loaded_at;
	return 1;
}

static int put(struct tg_store *st, const char *id, size_t ilen, tg_day period, double v,
	       const char *src, size_t slen, int64_t loaded_at, bool journal)
{
	uint32_t h = fnv1a(id, ilen);

	return put_entry(st, find_entry(st, id, ilen, h), id, ilen, h, period, v, src, slen,
			 loaded_at, journal);
}

/* The checks of tg_store_put on everything but the indicator. */
static int check_put(const char *indicator, size_t ilen, tg_day period, double value,
		     const char *src, size_t slen, struct tg_error *err)
{
	char q[200], q2[200];

	if (!name_ok(src, slen, SOURCE_MAX))
		return tg_error_set(err, "indicator \"%s\": invalid source name \"%s\": %s",
				    quote(indicator, ilen, q, sizeof(q)),
				    quote(src, slen, q2, sizeof(q2)),
				    slen > SOURCE_MAX ? "longer than 255 bytes"
						      : "contains a control character");
	if (!isfinite(value))
		return tg_error_set(err, "indicator \"%s\": value is not a finite number",
				    quote(indicator, ilen, q, sizeof(q)));
	if (period < DAY_MIN || period > DAY_MAX)
		return tg_error_setc(err, -ERANGE,
				     "indicator \"%s\": period (day %" PRId32
				     ") outside the years 1..9999",
				     quote(indicator, ilen, q, sizeof(q)), period);
	return 0;
}

static int check_id(const char *indicator, size_t ilen, struct tg_error *err)
{
	char q[200];

	if (indicator == NULL || ilen == 0)
		return tg_error_set(err, "empty indicator id");
	if (ilen > ID_MAX || !name_ok(indicator, ilen, ID_MAX))
		return tg_error_set(err, "invalid indicator id \"%s\": %s",
				    quote(indicator, ilen, q, sizeof(q)),
				    ilen > ID_MAX ? "longer than 64 bytes"
						  : "contains a control character (TAB, CR, LF, NUL...)");
	return 0;
}

int tg_store_put(struct tg_store *st, const char *indicator, size_t ilen, tg_day period,
		 double value, const char *source, int64_t loaded_at, struct tg_error *err)
{
	char q[200];
	const char *src = source != NULL ? source : "";
	size_t slen = strlen(src);
	int r;

	if ((r = check_id(indicator, ilen, err)) < 0 ||
	    (r = check_put(indicator, ilen, period, value, src, slen, err)) < 0)
		return r;
	r = put(st, indicator, ilen, period, value, src, slen, loaded_at, st->fd >= 0);
	if (r < 0)
		return tg_error_setc(err, r, "indicator \"%s\": out of memory",
				     quote(indicator, ilen, q, sizeof(q)));
	return r;
}

int tg_store_ref(struct tg_store *st, const char *indicator, size_t ilen, uint32_t *ref,
		 struct tg_error *err)
{
	char q[200];
	uint32_t h;
	struct entry *e;
	int r;

	if ((r = check_id(indicator, ilen, err)) < 0)
		return r;
	h = fnv1a(indicator, ilen);
	e = find_entry(st, indicator, ilen, h);
	if (e == NULL && (e = add_entry(st, indicator, ilen, h)) == NULL)
		return tg_error_setc(err, -ENOMEM, "indicator \"%s\": out of memory",
				     quote(indicator, ilen, q, sizeof(q)));
	*ref = (uint32_t)(e - st->ent);
	return 0;
}

static int put_ref_general(struct tg_store *st, struct entry *e, const struct key *k,
			   tg_day period, double value, const char *source, int64_t loaded_at,
			   struct tg_error *err) __attribute__((noinline));

int tg_store_put_ref(struct tg_store *st, uint32_t ref, tg_day period, double value,
		     const char *source, int64_t loaded_at, struct tg_error *err)
{
	struct entry *e;

	if (ref >= st->nent)
		return tg_error_set(err, "invalid series reference %" PRIu32, ref);
	e = &st->ent[ref];
	/* A bulk load into memory, as put_entry would do it: the next period
	 * at the end of the series, room for it, the source of the series'
	 * points (the store's own copy of its name: tg_store_source).  Kept
	 * apart from the general path, whose frame costs more than it does. */
	if (st->fd < 0 && source == e->s.source && source != NULL && e->s.n < e->cap &&
	    period > e->last && e->s.n > 0 && period <= DAY_MAX && isfinite(value)) {
		append_point(st, e, period, value);
		e->s.last_loaded = loaded_at;
		return 1;
	}
	return put_ref_general(st, e, &st->ikey[ref], period, value, source, loaded_at, err);
}

static int put_ref_general(struct tg_store *st, struct entry *e, const struct key *k,
			   tg_day period, double value, const char *source, int64_t loaded_at,
			   struct tg_error *err)
{
	char q[200];
	const char *src = source != NULL ? source : "";
	size_t slen;
	int r;

	/* the same source as the series' latest point: already checked (the
	 * same pointer when the caller passes the store's copy) */
	if (e->s.source != NULL && (e->s.source == src || strcmp(e->s.source, src) == 0)) {
		src = e->s.source;
		slen = src == st->put_src ? st->put_slen : strlen(src);
	} else {
		slen = strlen(src);
		if (!name_ok(src, slen, SOURCE_MAX))
			return check_put(k->s, k->len, period, value, src, slen, err);
	}
	if (!isfinite(value) || period < DAY_MIN || period > DAY_MAX)
		return check_put(k->s, k->len, period, value, src, slen, err);
	r = put_entry(st, e, k->s, k->len, k->hash, period, value, src, slen, loaded_at,
		      st->fd >= 0);
	if (r < 0)
		return tg_error_setc(err, r, "indicator \"%s\": out of memory",
				     quote(k->s, k->len, q, sizeof(q)));
	return r;
}

/* ---- replay ---- */

/* 1: applied, 0: corrupt, <0: out of memory. */
static int replay_line(struct tg_store *st, const char *line, size_t len)
{
	const char *f[5], *body, *end = line + len;
	size_t flen[5];
	uint32_t crc;
	tg_day period;
	double v;
	int64_t loaded;
	int r;

	if (len < 12 || memcmp(line, "M1 ", 3) != 0 || line[11] != '\t' ||
	    !parse_hex8(line + 3, &crc))
		return 0;
	body = line + 12;
	if (crc32_calc(st->crc_tab, body, (size_t)(end - body)) != crc)
		return 0;
	for (int i = 0; i < 5; i++) {
		const char *tab = memchr(body, '\t', (size_t)(end - body));

		if ((tab == NULL) != (i == 4))
			return 0;
		f[i] = body;
		flen[i] = (size_t)((tab != NULL ? tab : end) - body);
		body = tab != NULL ? tab + 1 : end;
	}
	if (flen[0] == 0 || !name_ok(f[0], flen[0], ID_MAX) ||
	    !parse_day(f[1], flen[1], &period) || !parse_value(st, f[2], flen[2], &v) ||
	    !name_ok(f[3], flen[3], SOURCE_MAX) || !parse_int64(f[4], flen[4], &loaded))
		return 0;
	r = put(st, f[0], flen[0], period, v, f[3], flen[3], loaded, false);
	return r < 0 ? r : 1;
}

/* Streams the journal from the start of fd: bounded memory whatever the file. */
static int replay(struct tg_store *st, int fd, struct tg_error *err)
{
	char *buf = malloc(RBUF_SIZE);
	size_t len = 0, lines = 0, skipped = 0, replayed = 0;
	bool skipping = false;
	int r = 0;

	if (buf == NULL)
		return tg_error_setc(err, -ENOMEM, "%s: out of memory", st->path);
	for (;;) {
		ssize_t n = read(fd, buf + len, RBUF_SIZE - len);
		size_t start = 0, rest;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = tg_error_setc(err, -errno, "%s: read: %s", st->path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		for (;;) {
			char *nl = memchr(buf + start, '\n', len - start);
			size_t l;

			if (nl == NULL)
				break;
			l = (size_t)(nl - (buf + start));
			lines++;
			if (skipping || l > JLINE_MAX) {
				skipped++;
				skipping = false;
			} else {
				r = replay_line(st, buf + start, l);
				if (r < 0) {
					r = tg_error_setc(err, r, "%s: out of memory after %zu records",
							  st->path, replayed);
					goto out;
				}
				if (r == 1)
					replayed++;
				else
					skipped++;
			}
			start = (size_t)(nl - buf) + 1;
		}
		rest = len - start;
		if (skipping || rest > JLINE_MAX) {
			skipping = true;
			rest = 0;
		}
		memmove(buf, buf + start, rest);
		len = rest;
	}
	if (skipping || len > 0) {  /* an overlong or torn last line */
		lines++;
		skipped++;
		st->torn = !skipping;
	}
	st->journal_records = lines;
	st->replayed = replayed;
	st->skipped = skipped;
	r = 0;
out:
	free(buf);
	return r;
}

/* Keeps the corrupt journal as journal.corrupt-<unix time>[-N]: a hard link
 * costs nothing; where links are not possible, a copy. */
static int keep_corrupt(struct tg_store *st, int fd, struct tg_error *err)
{
	size_t plen = strlen(st->path) + 48;
	char *name = malloc(plen);
	long long now = (long long)time(NULL);
	int r = -EEXIST;

	if (name == NULL)
		return tg_error_setc(err, -ENOMEM, "%s: out of memory", st->path);
	for (int i = 0; i < 100 && r == -EEXIST; i++) {
		if (i == 0)
			snprintf(name, plen, "%s.corrupt-%lld", st->path, now);
		else
			snprintf(name, plen, "%s.corrupt-%lld-%d", st->path, now, i);
		r = link(st->path, name) < 0 ? -errno : 0;
	}
	if (r < 0 && r != -EEXIST) {
		/* no hard links here: copy */
		char *buf = malloc(RBUF_SIZE);
		int cfd = buf != NULL ? open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640) : -1;
		off_t off = 0;

		r = buf == NULL ? -ENOMEM : cfd < 0 ? -errno : 0;
		while (r == 0) {
			ssize_t n = pread(fd, buf, RBUF_SIZE, off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = n < 0 ? -errno : 0;
				break;
			}
			off += n;
			r = tg_fs_write_all(cfd, buf, (size_t)n);
		}
		if (r == 0 && fsync(cfd) < 0)
			r = -errno;
		if (cfd >= 0) {
			close(cfd);
			if (r < 0)
				unlink(name);
		}
		free(buf);
	}
	if (r < 0)
		tg_error_setc(err, r, "%s: cannot keep a copy of the corrupt journal: %s",
			      name, strerror(-r));
	else
		st->corrupt_removed = tg_fs_prune_corrupt(st->path, name, TG_CORRUPT_KEEP);
	free(name);
	return r;
}

/* ---- compaction ---- */

static int compact(struct tg_store *st, struct tg_error *err)
{
	size_t tlen = strlen(st->path) + 5;
	char *tmp = malloc(tlen), *wbuf = malloc(WBUF_SIZE);
	size_t wlen = 0, records = 0;
	int tfd = -1, r = 0;
	const char *what = "write";

	if (tmp == NULL || wbuf == NULL) {
		r = tg_error_setc(err, -ENOMEM, "%s: compaction: out of memory", st->path);
		goto fail;
	}
	snprintf(tmp, tlen, "%s.tmp", st->path);
	tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (tfd < 0) {
		r = -errno;
		what = "open";
		goto fail_io;
	}
	for (uint32_t i = 0; i < st->nent; i++) {
		const struct key *k = &st->ikey[i];
		const struct entry *e = &st->ent[i];
		const char *src = e->s.source != NULL ? e->s.source : "";
		size_t slen = strlen(src);

		for (size_t j = 0; j < e->s.n; j++) {
			if (WBUF_SIZE - wlen < REC_MAX) {
				if ((r = tg_fs_write_all(tfd, wbuf, wlen)) < 0)
					goto fail_io;
				wlen = 0;
			}
			wlen += format_record(st, wbuf + wlen, k->s, k->len, e->per[j], e->val[j],
					      src, slen, e->s.last_loaded);
			records++;
		}
	}
	if ((r = tg_fs_write_all(tfd, wbuf, wlen)) < 0)
		goto fail_io;
	what = "fsync";
	if (fsync(tfd) < 0) {
		r = -errno;
		goto fail_io;
	}
	/* lock the new file before its name appears, so no other process can
	 * take it between the rename and our switch to it */
	what = "lock";
	if (flock(tfd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		goto fail_io;
	}
	if (rename(tmp, st->path) < 0) {
		r = tg_error_setc(err, -errno, "%s: compaction: rename to %s: %s", tmp, st->path,
				  strerror(errno));
		goto fail;
	}
	/* From here the new file is the journal, whatever else fails. */
	if (fcntl(tfd, F_SETFL, O_APPEND) < 0)
		r = tg_error_setc(err, -errno, "%s: fcntl: %s", st->path, strerror(errno));
	close(st->fd);
	st->fd = tfd;
	st->tail_dirty = false;
	st->journal_records = records;
	pending_clear(st);
	if (r == 0) {
		int d = fsync_dir(st->dir);

		if (d < 0)
			r = tg_error_setc(err, d, "%s: compaction: fsync of the directory: %s",
					  st->dir, strerror(-d));
	}
	free(tmp);
	free(wbuf);
	return r;

fail_io:
	tg_error_setc(err, r, "%s: compaction: %s: %s", tmp, what, strerror(-r));
fail:
	if (tfd >= 0) {
		close(tfd);
		unlink(tmp);
	}
	free(tmp);
	free(wbuf);
	return r;
}

int tg_store_compact(struct tg_store *st, struct tg_error *err)
{
	if (st->fd < 0)
		return 0;
	return compact(st, err);
}

/* ---- public ---- */

struct tg_store *tg_store_new(void)
{
	struct tg_store *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->fd = -1;
	crc32_init(st->crc_tab);
	st->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (st->c_locale == (locale_t)0) {
		free(st);
		return NULL;
	}
	return st;
}

static void free_contents(struct tg_store *st)
{
	for (uint32_t i = 0; i < st->nent; i++)
		free(st->ent[i].val);
	free(st->ent);
	free(st->ikey);
	free(st->itab.slot);
	free(st->skey);
	free(st->stab.slot);
	while (st->arena != NULL) {
		struct chunk *next = st->arena->next;

		free(st->arena);
		st->arena = next;
	}
	free(st->pending);
	free(st->dir);
	free(st->path);
	if (st->fd >= 0)
		close(st->fd);
}

void tg_store_free(struct tg_store *st)
{
	if (st == NULL)
		return;
	free_contents(st);
	freelocale(st->c_locale);
	free(st);
}

int tg_store_open_journal(struct tg_store *st, const char *state_dir, struct tg_error *err)
{
	size_t dlen;
	struct stat sb;
	int r;

	if (st->fd >= 0)
		return tg_error_setc(err, -EBUSY, "%s: journal already open", st->path);
	if (st->nent > 0)
		return tg_error_setc(err, -EBUSY,
				     "%s: the journal must be opened before any measurement is put",
				     state_dir != NULL ? state_dir : "journal");
	if (state_dir == NULL || state_dir[0] == '\0')
		return tg_error_set(err, "no state directory given for the journal");
	dlen = strlen(state_dir);
	while (dlen > 1 && state_dir[dlen - 1] == '/')
		dlen--;
	st->dir = strndup(state_dir, dlen);
	st->path = malloc(dlen + sizeof("/journal"));
	if (st->dir == NULL || st->path == NULL) {
		r = tg_error_setc(err, -ENOMEM, "%s/journal: out of memory", state_dir);
		goto fail;
	}
	memcpy(st->path, state_dir, dlen);
	memcpy(st->path + dlen, "/journal", sizeof("/journal"));

	/* The lock is on the file opened: a holder that compacts renames a new
	 * journal over it (locked before) and then lets the old one go, so a
	 * lock got meanwhile may be on a file no longer called journal.  Then
	 * the journal is opened again. */
	for (int tries = 0;; tries++) {
		struct stat named;

		st->fd = open(st->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (st->fd < 0) {
			r = tg_error_setc(err, -errno, "%s: %s", st->path, strerror(errno));
			goto fail;
		}
		if (fstat(st->fd, &sb) < 0) {
			r = tg_error_setc(err, -errno, "%s: %s", st->path, strerror(errno));
			goto fail;
		}
		if (!S_ISREG(sb.st_mode)) {
			r = tg_error_set(err, "%s: not a regular file", st->path);
			goto fail;
		}
		if (flock(st->fd, LOCK_EX | LOCK_NB) < 0) {
			r = errno == EWOULDBLOCK
				? tg_error_setc(err, -EBUSY, "%s: in use by another process", st->path)
				: tg_error_setc(err, -errno, "%s: lock: %s", st->path, strerror(errno));
			goto fail;
		}
		if (fstat(st->fd, &sb) < 0) {
			r = tg_error_setc(err, -errno, "%s: %s", st->path, strerror(errno));
			goto fail;
		}
		if (stat(st->path, &named) == 0 && named.st_dev == sb.st_dev &&
		    named.st_ino == sb.st_ino)
			break;
		if (tries == 9) {
			r = tg_error_setc(err, -EBUSY, "%s: in use by another process (it keeps "
					  "replacing the journal)", st->path);
			goto fail;
		}
		close(st->fd);
		st->fd = -1;
	}
	if (sb.st_size == 0 && (r = fsync_dir(st->dir)) < 0) {
		tg_error_setc(err, r, "%s: fsync: %s", st->dir, strerror(-r));
		goto fail;
	}
	if ((r = replay(st, st->fd, err)) < 0)
		goto fail;
	for (uint32_t i = 0; i < st->nent; i++)
		series_trim(&st->ent[i]);
	if (st->skipped > 0) {
		/* A torn last line is what any crash during a write leaves: drop it
		 * quietly.  Anything else is corruption, and its evidence is kept. */
		bool only_torn = st->torn && st->skipped == 1;

		if ((!only_torn && (r = keep_corrupt(st, st->fd, err)) < 0) ||
		    (r = compact(st, err)) < 0)
			goto fail;
	}
	return 0;

fail:
	/* leave the store as it was: empty and memory-only */
	{
		locale_t loc = st->c_locale;

		free_contents(st);
		memset(st, 0, sizeof(*st));
		st->c_locale = loc;
		st->fd = -1;
		crc32_init(st->crc_tab);
	}
	return r;
}

int tg_store_read_journal(struct tg_store *st, const char *state_dir, struct tg_error *err)
{
	char *path;
	int fd, r;

	if (st->fd >= 0 || st->nent > 0)
		return tg_error_setc(err, -EBUSY, "%s/journal: the store is not empty", state_dir);
	if (state_dir == NULL || state_dir[0] == '\0')
		return tg_error_set(err, "no state directory given for the journal");
	if (asprintf(&path, "%s/journal", state_dir) < 0)
		return tg_error_setc(err, -ENOMEM, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = errno == ENOENT ? 0 : tg_error_setc(err, -errno, "%s: %s", path, strerror(errno));
		free(path);
		return r;
	}
	/* replay() names the file in its messages; the store stays memory-only */
	st->path = path;
	r = replay(st, fd, err);
	close(fd);
	st->path = NULL;
	free(path);
	for (uint32_t i = 0; i < st->nent; i++)
		series_trim(&st->ent[i]);
	return r;
}

/* Appends the pending records to the journal (without fsync).  On error
 * whatever was written is cut off again and the records stay pending. */
static int write_pending(struct tg_store *st, struct tg_error *err)
{
	struct stat sb;
	int r;

	if (st->plen > 0) {
		if (st->tail_dirty) {
			/* end the partial line a failed append left behind */
			if ((r = tg_fs_write_all(st->fd, "\n", 1)) < 0)
				return tg_error_setc(err, r, "%s: write: %s", st->path, strerror(-r));
			st->tail_dirty = false;
			st->journal_records++;
		}
		if (fstat(st->fd, &sb) < 0)
			return tg_error_setc(err, -errno, "%s: %s", st->path, strerror(errno));
		r = tg_fs_write_all(st->fd, st->pending, st->plen);
		if (r < 0) {
			/* cut off what may have been written, so that the retry does
			 * not glue its first record to a torn line */
			tg_error_setc(err, r, "%s: append of %zu records: %s", st->path,
				      st->pending_records, strerror(-r));
			if (ftruncate(st->fd, sb.st_size) < 0) {
				struct stat now;

				st->tail_dirty = fstat(st->fd, &now) < 0 ||
						 now.st_size != sb.st_size;
			}
			return r;
		}
		st->journal_records += st->pending_records;
		st->plen = 0;
		st->pending_records = 0;
		st->unsynced = true;
	}
	return 0;
}

int tg_store_commit(struct tg_store *st, struct tg_error *err)
{
	int r;

	if (st->fd < 0)
		return 0;
	st->write_failed = false;
	if (st->must_rewrite) {
		/* a failed fsync is reported once (Linux): a second one would pass
		 * with the lost pages still lost, so the journal is written again
		 * from memory, where every value is */
		if ((r = compact(st, err)) < 0)
			return r;
		st->must_rewrite = false;
		st->unsynced = false;
		return 0;
	}
	if ((r = write_pending(st, err)) < 0)
		return r;
	if (st->unsynced) {
		if (fsync(st->fd) < 0) {
			st->must_rewrite = true;
			return tg_error_setc(err, -errno, "%s: fsync: %s", st->path, strerror(errno));
		}
		st->unsynced = false;
	}
	pending_clear(st);
	if (st->journal_records > 2 * st->points + COMPACT_SLACK)
		return compact(st, err);
	return 0;
}

const struct tg_series *tg_store_series(const struct tg_store *st, const char *indicator)
{
	size_t len;
	const struct entry *e;

	if (indicator == NULL)
		return NULL;
	len = strlen(indicator);
	e = find_entry(st, indicator, len, fnv1a(indicator, len));
	return e != NULL && e->s.n > 0 ? &e->s : NULL;
}

const char *tg_store_source(struct tg_store *st, const char *name)
{
	size_t len = name != NULL ? strlen(name) : 0;

	if (name == NULL || !name_ok(name, len, SOURCE_MAX))
		return NULL;
	st->put_src = intern_source(st, name, len);
	st->put_slen = len;
	return st->put_src;
}

void tg_store_prefetch_ref(const struct tg_store *st, uint32_t ref, uint32_t later)
{
	const struct entry *e;

	if (later < st->nent)
		__builtin_prefetch(&st->ent[later], 0);
	if (ref >= st->nent)
		return;
	e = &st->ent[ref];
	if (e->s.n < e->cap) {
		__builtin_prefetch(e->val + e->s.n, 1);
		__builtin_prefetch(e->per + e->s.n, 1);
	}
}

const struct tg_series *tg_store_series_ref(const struct tg_store *st, uint32_t ref)
{
	return ref < st->nent && st->ent[ref].s.n > 0 ? &st->ent[ref].s : NULL;
}

bool tg_store_has_source(const struct tg_store *st, const char *source)
{
	for (uint32_t i = 0; i < st->nent; i++)
		if (st->ent[i].s.n > 0 && st->ent[i].s.source != NULL &&
		    strcmp(st->ent[i].s.source, source) == 0)
			return true;
	return false;
}

void tg_store_stats(const struct tg_store *st, struct tg_store_stats *out)
{
	out->indicators = st->indicators;
	out->points = st->points;
	out->journal_records = st->journal_records;
	out->replayed = st->replayed;
	out->skipped_corrupt = st->skipped;
	out->corrupt_removed = st->corrupt_removed;
}
