/*
 * test_store.c — the store: ordering and updates of series in memory, the
 * journal's round trip, and above all its recovery from torn and corrupted
 * lines (every byte offset of a torn last record), compaction and reopening.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

/* fsync as the store sees it: the real one, or EIO when a test says so
 * (this definition takes the place of the C library's in this program) */
static int fail_fsync;

int fsync(int fd);
int fsync(int fd)
{
	if (fail_fsync) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

/* flock as the store sees it, with something done just before it when a
 * test says so (another process's move between the open and the lock) */
static void (*before_flock)(void);

int flock(int fd, int op);
int flock(int fd, int op)
{
	void (*f)(void) = before_flock;

	before_flock = NULL;
	if (f != NULL)
		f();
	return (int)syscall(SYS_flock, fd, op);
}

#ifndef TG_TEST_DATA
#define TG_TEST_DATA "tests/data"
#endif

/* ---- helpers ---- */

/* Bitwise CRC-32 (zlib polynomial), independent of the store's table. */
static uint32_t ref_crc32(const char *s, size_t len)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= (unsigned char)s[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return ~c;
}

/* A journal line with a correct CRC around body (no newline in body). */
static void make_line(char *out, size_t size, const char *body)
{
	snprintf(out, size, "M1 %08x\t%s\n", ref_crc32(body, strlen(body)), body);
}

static char *make_dir(void)
{
	char *d = strdup("/tmp/tg-store-test-XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void remove_dir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(unlink(path), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(dir), 0);
	free(dir);
}

/* Number of files whose name starts with prefix in dir. */
static int count_files(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static void remove_corrupt_copies(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "journal.corrupt-", 16) == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			assert_int_equal(unlink(path), 0);
		}
	closedir(d);
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

static struct tg_store *open_store(const char *dir, struct tg_store_stats *stats)
{
	struct tg_store *st = tg_store_new();
	struct tg_error err = { "" };
	int r;

	assert_non_null(st);
	r = tg_store_open_journal(st, dir, &err);
	if (r != 0)
		print_error("open_journal(%s): %d %s\n", dir, r, err.msg);
	assert_int_equal(r, 0);
	if (stats != NULL)
		tg_store_stats(st, stats);
	return st;
}

static int put(struct tg_store *st, const char *id, tg_day p, double v)
{
	struct tg_error err = { "" };

	return tg_store_put(st, id, strlen(id), p, v, "src", 1000, &err);
}

static void must_put(struct tg_store *st, const char *id, tg_day p, double v)
{
	int r = put(st, id, p, v);

	assert_true(r == 0 || r == 1);
}

static void must_commit(struct tg_store *st)
{
	struct tg_error err = { "" };
	int r = tg_store_commit(st, &err);

	if (r != 0)
		print_error("commit: %d %s\n", r, err.msg);
	assert_int_equal(r, 0);
}

/* Same indicators, periods, value bits, sources and last_loaded. */
static void assert_same_store(const struct tg_store *a, const struct tg_store *b,
			      const char *const *ids, size_t n_ids)
{
	struct tg_store_stats sa, sb;

	tg_store_stats(a, &sa);
	tg_store_stats(b, &sb);
	assert_int_equal(sa.indicators, sb.indicators);
	assert_int_equal(sa.points, sb.points);
	for (size_t i = 0; i < n_ids; i++) {
		const struct tg_series *x = tg_store_series(a, ids[i]);
		const struct tg_series *y = tg_store_series(b, ids[i]);

		if ((x == NULL) != (y == NULL))
			fail_msg("id %s: present in one store only", ids[i]);
		if (x == NULL)
			continue;
		assert_int_equal(x->n, y->n);
		assert_memory_equal(x->period, y->period, x->n * sizeof(tg_day));
		assert_memory_equal(x->value, y->value, x->n * sizeof(double));
		assert_int_equal(x->last_loaded, y->last_loaded);
		if ((x->source == NULL) != (y->source == NULL))
			fail_msg("id %s: source differs", ids[i]);
		if (x->source != NULL)
			assert_string_equal(x->source, y->source);
	}
}

static tg_day ymd(int y, int m, int d)
{
	return tg_day_from_ymd(y, m, d);
}

/* ---- memory ---- */

static void test_crc_reference(void **state)
{
	char line[128];

	(void)state;
	assert_int_equal(ref_crc32("123456789", 9), 0xcbf43926u);
	make_line(line, sizeof(line), "a\t2024-01-01\t1\t\t0");
	assert_string_equal(line, "M1 fbe0bdbe\ta\t2024-01-01\t1\t\t0\n");
}

static void test_day_bounds(void **state)
{
	struct tg_store *st = tg_store_new();
	struct tg_error err = { "" };

	(void)state;
	assert_int_equal(tg_store_put(st, "a", 1, ymd(1, 1, 1), 1, NULL, 0, &err), 1);
	assert_int_equal(tg_store_put(st, "a", 1, ymd(9999, 12, 31), 1, NULL, 0, &err), 1);
	assert_int_equal(tg_store_put(st, "a", 1, ymd(1, 1, 1) - 1, 1, NULL, 0, &err), -ERANGE);
	assert_int_equal(tg_store_put(st, "a", 1, ymd(9999, 12, 31) + 1, 1, NULL, 0, &err),
			 -ERANGE);
	assert_int_equal(tg_store_put(st, "a", 1, INT32_MIN, 1, NULL, 0, &err), -ERANGE);
	assert_int_equal(tg_store_put(st, "a", 1, INT32_MAX, 1, NULL, 0, &err), -ERANGE);
	tg_store_free(st);
}

struct order_case {
	const char *name;
	int n;
	int month[8];       /* months of 2024 put in this order */
	double value[8];
	int ret[8];         /* expected return of each put */
	int n_out;
	int out_month[8];
	double out_value[8];
};

static const struct order_case order_cases[] = {
	{ "in order", 4, { 1, 2, 3, 4 }, { 1, 2, 3, 4 }, { 1, 1, 1, 1 },
	  4, { 1, 2, 3, 4 }, { 1, 2, 3, 4 } },
	{ "reverse", 4, { 4, 3, 2, 1 }, { 4, 3, 2, 1 }, { 1, 1, 1, 1 },
	  4, { 1, 2, 3, 4 }, { 1, 2, 3, 4 } },
	{ "middle", 5, { 1, 5, 3, 2, 4 }, { 1, 5, 3, 2, 4 }, { 1, 1, 1, 1, 1 },
	  5, { 1, 2, 3, 4, 5 }, { 1, 2, 3, 4, 5 } },
	{ "same value", 3, { 1, 1, 1 }, { 7, 7, 7 }, { 1, 0, 0 }, 1, { 1 }, { 7 } },
	{ "update", 3, { 1, 2, 1 }, { 7, 8, 9 }, { 1, 1, 1 }, 2, { 1, 2 }, { 9, 8 } },
	{ "update first of many", 5, { 3, 4, 5, 6, 3 }, { 1, 1, 1, 1, 2 }, { 1, 1, 1, 1, 1 },
	  4, { 3, 4, 5, 6 }, { 2, 1, 1, 1 } },
	{ "zero and minus zero", 2, { 1, 1 }, { 0.0, -0.0 }, { 1, 0 }, 1, { 1 }, { 0.0 } },
	{ "back and forth", 6, { 6, 1, 6, 1, 12, 7 }, { 1, 2, 3, 2, 5, 6 }, { 1, 1, 1, 0, 1, 1 },
	  4, { 1, 6, 7, 12 }, { 2, 3, 6, 5 } },
};

static void test_put_order(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(order_cases) / sizeof(order_cases[0]); c++) {
		const struct order_case *oc = &order_cases[c];
		struct tg_store *st = tg_store_new();
		const struct tg_series *s;

		assert_non_null(st);
		for (int i = 0; i < oc->n; i++) {
			int r = put(st, "ind", ymd(2024, oc->month[i], 1), oc->value[i]);

			if (r != oc->ret[i])
				fail_msg("case %zu (%s): put %d returned %d, expected %d", c,
					 oc->name, i, r, oc->ret[i]);
		}
		s = tg_store_series(st, "ind");
		assert_non_null(s);
		if (s->n != (size_t)oc->n_out)
			fail_msg("case %zu (%s): %zu points, expected %d", c, oc->name, s->n,
				 oc->n_out);
		for (int i = 0; i < oc->n_out; i++)
			if (s->period[i] != ymd(2024, oc->out_month[i], 1) ||
			    memcmp(&s->value[i], &oc->out_value[i], sizeof(double)) != 0)
				fail_msg("case %zu (%s): point %d is (%d, %g)", c, oc->name, i,
					 (int)s->period[i], s->value[i]);
		assert_null(tg_store_series(st, "other"));
		assert_null(tg_store_series(st, "in"));
		tg_store_free(st);
	}
}

/* One series grown a point at a time past every change of room (8, 32,
 * 128, 256, 512), by reference in memory (the bulk-load path) and by name,
 * with an older period put in the middle now and then (the points after it
 * move): both must hold exactly what a sorted model holds. */
static void test_growth(void **state)
{
	enum { N = 600 };
	static tg_day per[N + N / 7];
	static double val[N + N / 7];
	struct tg_store *st[2] = { tg_store_new(), tg_store_new() };
	struct tg_error err = { "" };
	const char *src;
	uint32_t ref;
	size_t n = 0;

	(void)state;
	assert_non_null(st[0]);
	assert_non_null(st[1]);
	src = tg_store_source(st[0], "src");
	assert_non_null(src);
	assert_int_equal(tg_store_ref(st[0], "g", 1, &ref, &err), 0);
	for (int i = 0; i < N; i++) {
		tg_day p = 10000 + 2 * i;
		size_t at = n;

		if (i % 7 == 6)
			p = 10000 + 2 * (i / 2) + 1;   /* older: between two points */
		while (at > 0 && per[at - 1] > p)
			at--;
		memmove(per + at + 1, per + at, (n - at) * sizeof(per[0]));
		memmove(val + at + 1, val + at, (n - at) * sizeof(val[0]));
		per[at] = p;
		val[at] = i;
		n++;
		assert_int_equal(tg_store_put_ref(st[0], ref, p, i, src, 1, &err), 1);
		assert_int_equal(tg_store_put(st[1], "g", 1, p, i, "src", 1, &err), 1);
		for (int k = 0; k < 2; k++) {
			const struct tg_series *s = tg_store_series(st[k], "g");

			assert_non_null(s);
			if (s->n != n || memcmp(s->period, per, n * sizeof(per[0])) != 0 ||
			    memcmp(s->value, val, n * sizeof(val[0])) != 0)
				fail_msg("store %d after put %d: %zu points, expected %zu", k, i,
					 s->n, n);
		}
	}
	tg_store_free(st[0]);
	tg_store_free(st[1]);
}

static void test_source_and_loaded(void **state)
{
	struct tg_store *st = tg_store_new();
	struct tg_error err = { "" };
	const struct tg_series *s;
	struct tg_store_stats stats;

	(void)state;
	assert_int_equal(tg_store_put(st, "x", 1, 100, 1.5, "csv1", 10, &err), 1);
	s = tg_store_series(st, "x");
	assert_string_equal(s->source, "csv1");
	assert_int_equal(s->last_loaded, 10);
	/* unchanged value: nothing changes, not even source or loaded_at */
	assert_int_equal(tg_store_put(st, "x", 1, 100, 1.5, "csv2", 20, &err), 0);
	s = tg_store_series(st, "x");
	assert_string_equal(s->source, "csv1");
	assert_int_equal(s->last_loaded, 10);
	assert_int_equal(tg_store_put(st, "x", 1, 101, 2.5, NULL, 30, &err), 1);
	s = tg_store_series(st, "x");
	assert_null(s->source);
	assert_int_equal(s->last_loaded, 30);
	assert_int_equal(tg_store_put(st, "x", 1, 102, 2.5, "", 40, &err), 1);
	assert_null(tg_store_series(st, "x")->source);
	/* interned: the same pointer for every series of one source */
	assert_int_equal(tg_store_put(st, "y", 1, 100, 1, "csv1", 50, &err), 1);
	assert_int_equal(tg_store_put(st, "z", 1, 100, 1, "csv1", 50, &err), 1);
	assert_ptr_equal(tg_store_series(st, "y")->source, tg_store_series(st, "z")->source);
	/* ilen is honoured: "yy" with ilen 1 is "y" */
	assert_int_equal(tg_store_put(st, "yy", 1, 100, 1, "csv1", 50, &err), 0);
	tg_store_stats(st, &stats);
	assert_int_equal(stats.indicators, 3);
	assert_int_equal(stats.points, 5);
	assert_int_equal(stats.journal_records, 0);
	/* no journal: commit and compact are no-ops */
	assert_int_equal(tg_store_commit(st, &err), 0);
	assert_int_equal(tg_store_compact(st, &err), 0);
	tg_store_free(st);
	tg_store_free(NULL);
}

struct id_case {
	const char *id;
	size_t len;
	int ok;
	const char *in_msg;   /* expected in the error message */
};

static const char long65[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static const struct id_case id_cases[] = {
	{ "a", 1, 1, NULL },
	{ "qualità.tempo medio", 20, 1, NULL },
	{ long65, 64, 1, NULL },
	{ long65, 65, 0, "longer than 64" },
	{ "", 0, 0, "empty" },
	{ "a\tb", 3, 0, "a\\x09b" },
	{ "a\nb", 3, 0, "a\\x0ab" },
	{ "a\rb", 3, 0, "a\\x0db" },
	{ "a\0b", 3, 0, "a\\x00b" },
	{ "\x01", 1, 0, "\\x01" },
	{ "x\x1f", 2, 0, "x\\x1f" },
};

static void test_bad_ids(void **state)
{
	struct tg_store *st = tg_store_new();

	(void)state;
	for (size_t c = 0; c < sizeof(id_cases) / sizeof(id_cases[0]); c++) {
		const struct id_case *ic = &id_cases[c];
		struct tg_error err = { "" };
		int r = tg_store_put(st, ic->id, ic->len, 10, 1.0, NULL, 0, &err);

		if (ic->ok ? r != 1 : r != -EINVAL)
			fail_msg("case %zu: put returned %d (%s)", c, r, err.msg);
		if (ic->in_msg != NULL && strstr(err.msg, ic->in_msg) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", c, err.msg, ic->in_msg);
	}
	tg_store_free(st);
}

static void test_bad_values_and_sources(void **state)
{
	struct tg_store *st = tg_store_new();
	struct tg_error err = { "" };
	char longsrc[300];
	struct tg_store_stats stats;

	(void)state;
	assert_int_equal(tg_store_put(st, "a", 1, 10, NAN, NULL, 0, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "\"a\""));
	assert_int_equal(tg_store_put(st, "a", 1, 10, INFINITY, NULL, 0, &err), -EINVAL);
	assert_int_equal(tg_store_put(st, "a", 1, 10, -INFINITY, NULL, 0, &err), -EINVAL);
	/* C1 controls and invalid UTF-8 in an id are escaped in the message */
	assert_int_equal(tg_store_put(st, "a\xc2\x85\xff\"", 5, 10, NAN, NULL, 0, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "\"a\\xc2\\x85\\xff\\x22\""));
	assert_int_equal(tg_store_put(st, "a", 1, 10, 1, "s\tx", 0, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "s\\x09x"));
	assert_int_equal(tg_store_put(st, "a", 1, 10, 1, "s\n", 0, &err), -EINVAL);
	memset(longsrc, 's', sizeof(longsrc) - 1);
	longsrc[sizeof(longsrc) - 1] = '\0';
	assert_int_equal(tg_store_put(st, "a", 1, 10, 1, longsrc, 0, &err), -EINVAL);
	longsrc[255] = '\0';
	assert_int_equal(tg_store_put(st, "a", 1, 10, 1, longsrc, 0, &err), 1);
	assert_int_equal(tg_store_put(st, "a", 1, 11, DBL_MAX, NULL, 0, &err), 1);
	assert_int_equal(tg_store_put(st, "a", 1, 12, -DBL_MIN / 4, NULL, 0, &err), 1);
	tg_store_stats(st, &stats);
	assert_int_equal(stats.points, 3);
	tg_store_free(st);
}

static void test_many_indicators(void **state)
{
	struct tg_store *st = tg_store_new();
	struct tg_store_stats stats;
	char id[32];
	const int n_ind = 10000, n_per = 120;

	(void)state;
	/* periods in order for most, reverse for every 7th indicator */
	for (int p = 0; p < n_per; p++)
		for (int i = 0; i < n_ind; i++) {
			int pp = i % 7 == 0 ? n_per - 1 - p : p;

			snprintf(id, sizeof(id), "comune.%05d.kpi", i);
			assert_int_equal(put(st, id, ymd(2010, 1, 1) + pp * 31, i * 1000.0 + pp), 1);
		}
	tg_store_stats(st, &stats);
	assert_int_equal(stats.indicators, n_ind);
	assert_int_equal(stats.points, (size_t)n_ind * n_per);
	for (int i = 0; i < n_ind; i += 97) {
		const struct tg_series *s;

		snprintf(id, sizeof(id), "comune.%05d.kpi", i);
		s = tg_store_series(st, id);
		assert_non_null(s);
		assert_int_equal(s->n, n_per);
		for (int p = 0; p < n_per; p++) {
			assert_int_equal(s->period[p], ymd(2010, 1, 1) + p * 31);
			assert_true(s->value[p] == i * 1000.0 + p);
		}
	}
	assert_null(tg_store_series(st, "comune.10000.kpi"));
	tg_store_free(st);
}

/* ---- journal ---- */

static const char *const rt_ids[] = { "a", "b.x", "qualità", "c", "never" };

static void fill_sample(struct tg_store *st)
{
	struct tg_error err = { "" };
	static const double vals[] = {
		0.1, -0.0, 1e-300, 4.9406564584124654e-324, DBL_MAX, -DBL_MAX, 123456789.125,
		1.0 / 3.0, 1e21, -2.5e-7,
	};

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		assert_int_equal(tg_store_put(st, "a", 1, ymd(2024, 1, 1) + (tg_day)i, vals[i],
					      "sorgente csv", 1700000000 + (int64_t)i, &err), 1);
	assert_int_equal(tg_store_put(st, "b.x", 3, ymd(1, 1, 1), 1, NULL, -5, &err), 1);
	assert_int_equal(tg_store_put(st, "b.x", 3, ymd(9999, 12, 31), 2, NULL, INT64_MIN, &err),
			 1);
	assert_int_equal(tg_store_put(st, "qualità", strlen("qualità"), ymd(2023, 6, 1), 3,
				      "è", INT64_MAX, &err), 1);
	assert_int_equal(tg_store_put(st, "c", 1, ymd(2023, 6, 1), 3, "s", 1, &err), 1);
	assert_int_equal(tg_store_put(st, "c", 1, ymd(2023, 5, 1), 4, "s", 2, &err), 1);
	assert_int_equal(tg_store_put(st, "c", 1, ymd(2023, 6, 1), 5, "t", 3, &err), 1);
}

static void test_journal_round_trip(void **state)
{
	char *dir = make_dir();
	struct tg_store *st, *st2, *mem;
	struct tg_store_stats stats;
	char *data;
	size_t len;

	(void)state;
	st = open_store(dir, &stats);
	assert_int_equal(stats.journal_records, 0);
	assert_int_equal(stats.replayed, 0);
	fill_sample(st);
	/* buffered until commit */
	data = read_file(dir, "journal", &len);
	assert_int_equal(len, 0);
	free(data);
	must_commit(st);
	tg_store_stats(st, &stats);
	assert_int_equal(stats.journal_records, 16);

	mem = tg_store_new();
	fill_sample(mem);
	assert_same_store(st, mem, rt_ids, 5);

	/* an unchanged value is not journaled */
	assert_int_equal(tg_store_put(st, "c", 1, ymd(2023, 6, 1), 5, "u", 9, NULL), 0);
	must_commit(st);
	tg_store_stats(st, &stats);
	assert_int_equal(stats.journal_records, 16);

	tg_store_free(st);
	st2 = open_store(dir, &stats);
	assert_int_equal(stats.replayed, 16);
	assert_int_equal(stats.skipped_corrupt, 0);
	assert_int_equal(stats.journal_records, 16);
	assert_same_store(st2, mem, rt_ids, 5);
	assert_string_equal(tg_store_series(st2, "c")->source, "t");
	assert_int_equal(tg_store_series(st2, "b.x")->last_loaded, INT64_MIN);

	/* every line verifies against the reference CRC */
	data = read_file(dir, "journal", &len);
	for (char *line = data; *line != '\0';) {
		char *nl = strchr(line, '\n');
		unsigned crc;

		assert_non_null(nl);
		assert_int_equal(sscanf(line, "M1 %8x\t", &crc), 1);
		assert_int_equal(crc, ref_crc32(line + 12, (size_t)(nl - line - 12)));
		line = nl + 1;
	}
	assert_non_null(strstr(data, "\ta\t2024-01-01\t0.10000000000000001\tsorgente csv\t1700000000\n"));
	assert_non_null(strstr(data, "\tb.x\t0001-01-01\t1\t\t-5\n"));
	assert_non_null(strstr(data, "\t-0\t"));
	free(data);
	assert_int_equal(count_files(dir, "journal.corrupt"), 0);

	tg_store_free(st2);
	tg_store_free(mem);
	remove_dir(dir);
}

/* The text of values in the journal is exactly printf's "%.17g" (the store
 * prints integers itself) and reads back to the same bits. */
static void test_value_text(void **state)
{
	static const double vals[] = {
		0, -0.0, 1, -1, 42, -123, 1e15, 999999999999999, 1e16, -1e16,
		99999999999999984.0, 1e17, -1e17, 123456789012345678.0, 0.5, 95.3, 1e-5,
		9007199254740993.0, 2.5e300,
	};
	char *dir = make_dir();
	struct tg_store *st;
	char id[16], expect[64], *data;
	size_t len;

	(void)state;
	st = open_store(dir, NULL);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		snprintf(id, sizeof(id), "v%zu", i);
		must_put(st, id, 1, vals[i]);
	}
	must_commit(st);
	tg_store_free(st);
	data = read_file(dir, "journal", &len);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		snprintf(expect, sizeof(expect), "\tv%zu\t1970-01-02\t%.17g\tsrc\t", i, vals[i]);
		if (strstr(data, expect) == NULL)
			fail_msg("case %zu: \"%s\" not in the journal", i, expect);
	}
	free(data);
	st = open_store(dir, NULL);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		const struct tg_series *s;

		snprintf(id, sizeof(id), "v%zu", i);
		s = tg_store_series(st, id);
		assert_non_null(s);
		if (memcmp(&s->value[0], &vals[i], sizeof(double)) != 0)
			fail_msg("case %zu: read back %.17g, expected %.17g", i, s->value[0], vals[i]);
	}
	tg_store_free(st);
	remove_dir(dir);
}

static void test_open_errors(void **state)
{
	char *dir = make_dir();
	char path[512];
	struct tg_error err = { "" };
	struct tg_store *st = tg_store_new(), *st2;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(tg_store_open_journal(st, path, &err), -ENOENT);
	snprintf(path, sizeof(path), "%s/missing/journal: No such file or directory", dir);
	assert_string_equal(err.msg, path);
	/* still usable, memory-only */
	assert_int_equal(put(st, "a", 1, 1), 1);
	/* not empty any more */
	assert_int_equal(tg_store_open_journal(st, dir, &err), -EBUSY);
	tg_store_free(st);

	st = tg_store_new();
	assert_int_equal(tg_store_open_journal(st, "", &err), -EINVAL);
	assert_int_equal(tg_store_open_journal(st, NULL, &err), -EINVAL);
	tg_store_free(st);

	/* a file where the directory should be */
	write_file(dir, "file", "x", 1);
	snprintf(path, sizeof(path), "%s/file", dir);
	st = tg_store_new();
	assert_int_equal(tg_store_open_journal(st, path, &err), -ENOTDIR);
	assert_non_null(strstr(err.msg, "/file/journal: "));
	tg_store_free(st);

	/* journal is a directory */
	snprintf(path, sizeof(path), "%s/journal", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	st = tg_store_new();
	assert_true(tg_store_open_journal(st, dir, &err) < 0);
	assert_non_null(strstr(err.msg, "/journal"));
	tg_store_free(st);
	assert_int_equal(rmdir(path), 0);

	/* trailing slashes are fine; a second opener is refused */
	snprintf(path, sizeof(path), "%s//", dir);
	st = open_store(path, NULL);
	assert_int_equal(tg_store_open_journal(st, dir, &err), -EBUSY);
	st2 = tg_store_new();
	assert_int_equal(tg_store_open_journal(st2, dir, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "another process"));
	tg_store_free(st2);
	tg_store_free(st);
	remove_dir(dir);
}

/* Between a second opener's open and its lock, the holder compacted: a new
 * journal renamed over the one opened, the old one let go.  The lock got on
 * the old file must not count: the store opens the journal again, and what
 * it commits is in the file called journal. */
static char *race_dir;

static void compact_meanwhile(void)
{
	char from[600], to[600];
	size_t len;
	char *data = read_file(race_dir, "journal", &len);

	write_file(race_dir, "journal.tmp", data, len);
	free(data);
	snprintf(from, sizeof(from), "%s/journal.tmp", race_dir);
	snprintf(to, sizeof(to), "%s/journal", race_dir);
	assert_int_equal(rename(from, to), 0);
}

static void test_lock_on_replaced_journal(void **state)
{
	char *dir = make_dir();
	struct tg_store *st;
	char *data;
	size_t len;

	(void)state;
	st = open_store(dir, NULL);
	must_put(st, "a", ymd(2026, 9, 1), 1.5);
	must_commit(st);
	tg_store_free(st);

	race_dir = dir;
	before_flock = compact_meanwhile;
	st = open_store(dir, NULL);
	assert_null(before_flock);
	must_put(st, "a", ymd(2026, 10, 1), 2.5);
	must_commit(st);
	tg_store_free(st);
	data = read_file(dir, "journal", &len);
	assert_non_null(strstr(data, "2026-10-01"));
	free(data);
	remove_dir(dir);
}

/* Writes n records to a fresh journal and returns the file's bytes. */
static char *sample_journal(const char *dir, int n, size_t *len)
{
	struct tg_store *st = open_store(dir, NULL);
	char id[16];

	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "k%d", i % 3);
		must_put(st, id, ymd(2020, 1 + i % 12, 1) + i / 12 * 366, i + 0.5);
	}
	must_commit(st);
	tg_store_free(st);
	return read_file(dir, "journal", len);
}

static void test_torn_last_line(void **state)
{
	char *dir = make_dir();
	size_t len, last;
	char *orig = sample_journal(dir, 10, &len);

	(void)state;
	assert_int_equal(count_lines(orig, len), 10);
	last = len - 1;
	while (last > 0 && orig[last - 1] != '\n')
		last--;
	for (size_t cut = last; cut <= len; cut++) {
		struct tg_store_stats stats;
		struct tg_store *st;
		const struct tg_series *s;
		size_t cur;
		char *now;

		remove_corrupt_copies(dir);
		write_file(dir, "journal", orig, cut);
		st = open_store(dir, &stats);
		if (stats.replayed != (cut == len ? 10u : 9u) ||
		    stats.skipped_corrupt != (cut == last || cut == len ? 0u : 1u))
			fail_msg("cut at %zu of %zu: replayed %zu skipped %zu", cut, len,
				 stats.replayed, stats.skipped_corrupt);
		assert_int_equal(stats.points, cut == len ? 10 : 9);
		s = tg_store_series(st, "k0");
		assert_non_null(s);
		assert_int_equal(s->n, cut == len ? 4 : 3);   /* k0 holds records 0 3 6 9 */
		assert_true(s->value[2] == 6.5);
		/* torn: compacted right away; a torn tail is what any crash leaves,
		 * so no copy of the journal is kept for it */
		now = read_file(dir, "journal", &cur);
		if (stats.skipped_corrupt > 0) {
			assert_int_equal(count_files(dir, "journal.corrupt-"), 0);
			assert_int_equal(stats.journal_records, 9);
			assert_int_equal(count_lines(now, cur), 9);
			assert_true(cur > 0 && now[cur - 1] == '\n');
		} else {
			assert_int_equal(count_files(dir, "journal.corrupt-"), 0);
			assert_int_equal(cur, cut);
		}
		free(now);
		/* and the next append lands on a clean line */
		must_put(st, "k9", 100, 1);
		must_commit(st);
		tg_store_free(st);
		st = open_store(dir, &stats);
		assert_int_equal(stats.skipped_corrupt, 0);
		assert_int_equal(stats.points, cut == len ? 11 : 10);
		tg_store_free(st);
	}
	/* corruption in the middle is evidence: the original bytes are kept */
	remove_corrupt_copies(dir);
	orig[5] ^= 0x01;
	write_file(dir, "journal", orig, len);
	tg_store_free(open_store(dir, NULL));
	{
		DIR *d = opendir(dir);
		struct dirent *de;
		char *copy = NULL;
		size_t clen = 0;

		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, "journal.corrupt-", 16) == 0)
				copy = read_file(dir, de->d_name, &clen);
		closedir(d);
		assert_non_null(copy);
		assert_int_equal(clen, len);
		assert_memory_equal(copy, orig, len);
		free(copy);
	}
	free(orig);
	remove_dir(dir);
}

static void test_flipped_byte(void **state)
{
	char *dir = make_dir();
	size_t len, mid;
	char *orig = sample_journal(dir, 9, &len);

	(void)state;
	/* the middle of the 5th record (record 4: k1, value 4.5) */
	mid = 0;
	for (int l = 0; l < 4; l++)
		mid = (size_t)(strchr(orig + mid, '\n') - orig) + 1;
	mid += 20;
	for (int flip = 1; flip < 256; flip <<= 1) {
		struct tg_store_stats stats;
		struct tg_store *st;
		char *bad = malloc(len);

		assert_non_null(bad);
		memcpy(bad, orig, len);
		bad[mid] = (char)(bad[mid] ^ flip);
		remove_corrupt_copies(dir);
		write_file(dir, "journal", bad, len);
		free(bad);
		st = open_store(dir, &stats);
		/* a flip to '\n' splits the record in two bad lines */
		if (stats.replayed != 8 || stats.skipped_corrupt < 1 || stats.skipped_corrupt > 2)
			fail_msg("flip 0x%02x: replayed %zu skipped %zu", flip, stats.replayed,
				 stats.skipped_corrupt);
		assert_int_equal(stats.points, 8);
		assert_int_equal(tg_store_series(st, "k1")->n, 2);
		assert_true(tg_store_series(st, "k1")->value[0] == 1.5);
		assert_true(tg_store_series(st, "k1")->value[1] == 7.5);
		assert_int_equal(tg_store_series(st, "k0")->n, 3);
		assert_int_equal(count_files(dir, "journal.corrupt-"), 1);
		tg_store_free(st);
		st = open_store(dir, &stats);
		assert_int_equal(stats.skipped_corrupt, 0);
		assert_int_equal(stats.replayed, 8);
		tg_store_free(st);
	}
	/* copies from earlier damage: the newest TG_CORRUPT_KEEP are kept */
	{
		static const char *const old[] = { "journal.corrupt-100", "journal.corrupt-200",
						   "journal.corrupt-300", "journal.corrupt-300-1",
						   "journal.corrupt-notes" };
		struct tg_store_stats stats;
		struct tg_store *st;
		char path[512];

		remove_corrupt_copies(dir);
		for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++)
			write_file(dir, old[i], "x", 1);
		orig[mid] = (char)(orig[mid] ^ 0x01);
		write_file(dir, "journal", orig, len);
		st = open_store(dir, &stats);
		assert_int_equal(stats.skipped_corrupt, 1);
		assert_int_equal(stats.corrupt_removed, 2);
		/* the one kept now, 300-1, 300; and a name not of a copy */
		assert_int_equal(count_files(dir, "journal.corrupt-"), 4);
		snprintf(path, sizeof(path), "%s/journal.corrupt-300-1", dir);
		assert_int_equal(access(path, F_OK), 0);
		snprintf(path, sizeof(path), "%s/journal.corrupt-notes", dir);
		assert_int_equal(access(path, F_OK), 0);
		snprintf(path, sizeof(path), "%s/journal.corrupt-200", dir);
		assert_int_equal(access(path, F_OK), -1);
		tg_store_free(st);
	}
	free(orig);
	remove_dir(dir);
}

struct bad_line {
	const char *line;   /* a whole line, "\n" included; %CRC% is not used */
	int crc_ok;         /* 1: body gets a correct CRC through make_line */
};

static const struct bad_line bad_lines[] = {
	{ "\n", 0 },
	{ "garbage\n", 0 },
	{ "M1 00000000\tx\t2024-01-01\t1\t\t0\n", 0 },          /* wrong CRC */
	{ "x\t2024-01-01\t1\t\t0\r", 1 },                         /* CR before the newline */
	{ "x\t2024-01-01\t1\t\t", 1 },                            /* empty loaded_at */
	{ "x\t2024-01-01\t1\t0", 1 },                             /* 4 fields */
	{ "x\t2024-01-01\t1\t\t0\t", 1 },                         /* 6 fields */
	{ "\t2024-01-01\t1\t\t0", 1 },                            /* empty id */
	{ "x\x01\t2024-01-01\t1\t\t0", 1 },                       /* control byte in id */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\t2024-01-01\t1\t\t0", 1 },
	{ "x\t2023-02-29\t1\t\t0", 1 },
	{ "x\t2024-13-01\t1\t\t0", 1 },
	{ "x\t0000-01-01\t1\t\t0", 1 },
	{ "x\t2024-1-01\t1\t\t0", 1 },
	{ "x\t2024-01-01 \t1\t\t0", 1 },
	{ "x\t2024-01-01\tnan\t\t0", 1 },
	{ "x\t2024-01-01\tinf\t\t0", 1 },
	{ "x\t2024-01-01\t1e999\t\t0", 1 },
	{ "x\t2024-01-01\t 1\t\t0", 1 },
	{ "x\t2024-01-01\t0x10\t\t0", 1 },
	{ "x\t2024-01-01\t1,5\t\t0", 1 },
	{ "x\t2024-01-01\t1.\t\t0", 1 },
	{ "x\t2024-01-01\t.5\t\t0", 1 },
	{ "x\t2024-01-01\t1e\t\t0", 1 },
	{ "x\t2024-01-01\t+1\t\t0", 1 },
	{ "x\t2024-01-01\t\t\t0", 1 },
	{ "x\t2024-01-01\t1\t\t9223372036854775808", 1 },
	{ "x\t2024-01-01\t1\t\t-9223372036854775809", 1 },
	{ "x\t2024-01-01\t1\t\t12a", 1 },
	{ "x\t2024-01-01\t1\t\t-", 1 },
	{ "x\t2024-01-01\t1\ts\x7f\x01\t0", 1 },
};

static void test_bad_lines(void **state)
{
	char *dir = make_dir();
	char good1[128], good2[128], bad[256], body[200];

	(void)state;
	make_line(good1, sizeof(good1), "x\t2024-01-01\t1\ts\t5");
	make_line(good2, sizeof(good2), "x\t2024-02-01\t2.5\ts\t6");
	for (size_t c = 0; c < sizeof(bad_lines) / sizeof(bad_lines[0]); c++) {
		struct tg_store_stats stats;
		struct tg_store *st;
		char file[1024];
		int n;

		if (bad_lines[c].crc_ok) {
			snprintf(body, sizeof(body), "%s", bad_lines[c].line);
			make_line(bad, sizeof(bad), body);
		} else {
			snprintf(bad, sizeof(bad), "%s", bad_lines[c].line);
		}
		n = snprintf(file, sizeof(file), "%s%s%s", good1, bad, good2);
		remove_corrupt_copies(dir);
		write_file(dir, "journal", file, (size_t)n);
		st = open_store(dir, &stats);
		if (stats.replayed != 2 || stats.skipped_corrupt != 1 || stats.points != 2)
			fail_msg("case %zu: replayed %zu skipped %zu points %zu", c, stats.replayed,
				 stats.skipped_corrupt, stats.points);
		tg_store_free(st);
	}
	/* the good lines themselves, and the edges of what is accepted */
	{
		static const char *const good_bodies[] = {
			"x\t2024-03-01\t-0\t\t-9223372036854775808",
			"x\t2024-04-01\t1e+300\t\t9223372036854775807",
			"x\t2024-05-01\t1.5e-7\t\t0",
			"x\t2024-06-01\t12\t\t0",
		};
		char file[1024];
		size_t o = 0;
		struct tg_store_stats stats;
		struct tg_store *st;

		for (size_t i = 0; i < 4; i++) {
			make_line(bad, sizeof(bad), good_bodies[i]);
			o += (size_t)snprintf(file + o, sizeof(file) - o, "%s", bad);
		}
		remove_corrupt_copies(dir);
		write_file(dir, "journal", file, o);
		st = open_store(dir, &stats);
		assert_int_equal(stats.replayed, 4);
		assert_int_equal(stats.skipped_corrupt, 0);
		assert_true(signbit(tg_store_series(st, "x")->value[0]));
		assert_true(tg_store_series(st, "x")->value[1] == 1e300);
		assert_int_equal(tg_store_series(st, "x")->last_loaded, 0);
		tg_store_free(st);
	}
	remove_dir(dir);
}

static void test_long_lines_and_last_wins(void **state)
{
	char *dir = make_dir();
	size_t size = 3 * 70000;
	char *file = malloc(size), line[128];
	size_t o = 0;
	struct tg_store_stats stats;
	struct tg_store *st;
	const struct tg_series *s;

	(void)state;
	assert_non_null(file);
	make_line(line, sizeof(line), "x\t2024-01-01\t1\ts\t5");
	o += (size_t)sprintf(file + o, "%s", line);
	/* 4097 bytes: corrupt; then 70000 bytes (over the read buffer) */
	memset(file + o, 'M', 4097);
	o += 4097;
	file[o++] = '\n';
	make_line(line, sizeof(line), "x\t2024-01-01\t2\ts\t6");
	o += (size_t)sprintf(file + o, "%s", line);
	memset(file + o, 'z', 70000);
	o += 70000;
	file[o++] = '\n';
	make_line(line, sizeof(line), "x\t2024-01-01\t3\tt\t7");
	o += (size_t)sprintf(file + o, "%s", line);
	/* a last line of 100000 bytes without newline */
	memset(file + o, 'q', 100000);
	o += 100000;
	write_file(dir, "journal", file, o);
	st = open_store(dir, &stats);
	assert_int_equal(stats.replayed, 3);
	assert_int_equal(stats.skipped_corrupt, 3);
	assert_int_equal(stats.points, 1);
	s = tg_store_series(st, "x");
	assert_true(s->value[0] == 3);
	assert_string_equal(s->source, "t");
	assert_int_equal(s->last_loaded, 7);
	tg_store_free(st);

	/* exactly 4096 bytes is still a line (rejected as a record, but counted once) */
	remove_corrupt_copies(dir);
	memset(file, 'M', 4096);
	file[4096] = '\n';
	write_file(dir, "journal", file, 4097);
	st = open_store(dir, &stats);
	assert_int_equal(stats.skipped_corrupt, 1);
	assert_int_equal(stats.journal_records, 0);
	tg_store_free(st);
	free(file);
	remove_dir(dir);
}

static off_t file_size(const char *dir)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/journal", dir);
	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

static void test_compaction(void **state)
{
	char *dir = make_dir();
	struct tg_store *st, *mem;
	struct tg_store_stats stats;
	struct tg_error err = { "" };
	off_t before;
	char path[512];
	struct stat sb;
	static const char *const ids[] = { "a", "b" };

	(void)state;
	st = open_store(dir, NULL);
	mem = tg_store_new();
	for (int round = 0; round < 50; round++) {
		for (int p = 0; p < 10; p++) {
			must_put(st, "a", 100 + p, round * 10 + p);
			must_put(mem, "a", 100 + p, round * 10 + p);
		}
		must_commit(st);
	}
	must_put(st, "b", 5, 5);
	must_put(mem, "b", 5, 5);
	must_commit(st);
	tg_store_stats(st, &stats);
	assert_int_equal(stats.journal_records, 501);   /* under the automatic threshold */
	before = file_size(dir);
	/* a pending change is carried by the compaction */
	must_put(st, "b", 6, 6);
	must_put(mem, "b", 6, 6);
	assert_int_equal(tg_store_compact(st, &err), 0);
	tg_store_stats(st, &stats);
	assert_int_equal(stats.journal_records, 12);
	assert_int_equal(stats.points, 12);
	assert_true(file_size(dir) * 30 < before);
	snprintf(path, sizeof(path), "%s/journal", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0077 & ~0040, 0);
	assert_int_equal(count_files(dir, "journal.tmp"), 0);
	must_commit(st);   /* nothing pending any more */
	tg_store_stats(st, &stats);
	assert_int_equal(stats.journal_records, 12);

	/* appends after compaction go to the new file */
	must_put(st, "a", 200, 1);
	must_put(mem, "a", 200, 1);
	must_commit(st);
	tg_store_free(st);
	st = open_store(dir, &stats);
	assert_int_equal(stats.replayed, 13);
	assert_int_equal(stats.skipped_corrupt, 0);
	assert_same_store(st, mem, ids, 2);
	/* and again after a reopen */
	must_put(st, "b", 7, 7);
	must_put(mem, "b", 7, 7);
	must_commit(st);
	tg_store_free(st);
	st = open_store(dir, &stats);
	assert_int_equal(stats.replayed, 14);
	assert_same_store(st, mem, ids, 2);
	tg_store_free(st);
	tg_store_free(mem);
	remove_dir(dir);
}

static void test_auto_compaction(void **state)
{
	char *dir = make_dir();
	struct tg_store *st;
	struct tg_store_stats stats;

	(void)state;
	st = open_store(dir, NULL);
	/* 2 * 1 + 10000 records is the limit */
	for (int i = 0; i < 10002; i++)
		assert_int_equal(put(st, "a", 1, i), 1);
	must_commit(st);
	tg_store_stats(st, &stats);
	assert_int_equal(stats.journal_records, 10002);
	assert_int_equal(put(st, "a", 1, -1), 1);
	must_commit(st);
	tg_store_stats(st, &stats);
	assert_int_equal(stats.journal_records, 1);
	tg_store_free(st);
	st = open_store(dir, &stats);
	assert_int_equal(stats.replayed, 1);
	assert_true(tg_store_series(st, "a")->value[0] == -1);
	tg_store_free(st);
	remove_dir(dir);
}

/* The descriptor of dir's journal in this process (the store's). */
static int journal_fd(const char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/journal", dir);
	for (int fd = 255; fd > 2; fd--) {
		char link[64], target[512];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (strcmp(target, path) == 0)
				return fd;
		}
	}
	fail_msg("no descriptor for %s", path);
	return -1;
}

static void test_commit_failure_keeps_pending(void **state)
{
	char *dir = make_dir();
	struct tg_store *st;
	struct tg_store_stats stats;
	struct tg_error err = { "" };
	char path[512];

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	st = open_store(dir, NULL);
	must_put(st, "a", 1, 1);
	must_commit(st);
	/* swap the journal for /dev/full behind the store's back */
	snprintf(path, sizeof(path), "%s/journal", dir);
	{
		int full = open("/dev/full", O_WRONLY), fd = journal_fd(dir);

		assert_true(full >= 0);
		assert_true(dup2(full, fd) == fd);
		close(full);
		must_put(st, "a", 2, 2);
		assert_int_equal(tg_store_commit(st, &err), -ENOSPC);
		assert_non_null(strstr(err.msg, "journal: append of 1 records: "));
		/* back to the real file: the retry writes the buffered change */
		full = open(path, O_WRONLY | O_APPEND);
		assert_true(full >= 0);
		assert_true(dup2(full, fd) == fd);
		close(full);
	}
	must_commit(st);
	tg_store_free(st);
	st = open_store(dir, &stats);
	assert_int_equal(stats.replayed, 2);
	assert_int_equal(stats.skipped_corrupt, 0);
	assert_int_equal(stats.points, 2);
	tg_store_free(st);
	remove_dir(dir);
}

/* A write cut short (file size limit): what was written is cut off again,
 * so the retry leaves no corrupt line behind. */
static void test_commit_partial_write(void **state)
{
	char *dir = make_dir();
	struct tg_store *st;
	struct tg_store_stats stats;
	struct tg_error err = { "" };
	struct rlimit old, lim;
	void (*old_handler)(int);
	off_t size;

	(void)state;
	st = open_store(dir, NULL);
	must_put(st, "a", 1, 1);
	must_commit(st);
	size = file_size(dir);
	for (int i = 2; i < 100; i++)
		must_put(st, "a", i, i);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)size + 50;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(tg_store_commit(st, &err), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);
	assert_int_equal(file_size(dir), size);
	must_commit(st);
	tg_store_free(st);
	st = open_store(dir, &stats);
	assert_int_equal(stats.replayed, 99);
	assert_int_equal(stats.skipped_corrupt, 0);
	tg_store_free(st);
	remove_dir(dir);
}

/* References: puts through tg_store_ref / tg_store_put_ref give what
 * tg_store_put gives, checks included. */
static void test_refs(void **state)
{
	struct tg_store *a = tg_store_new(), *b = tg_store_new();
	struct tg_error err = { "" };
	uint32_t r1, r2, r3;
	static const int months[] = { 3, 1, 2, 5, 5, 4, 12, 6 };

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(tg_store_ref(a, "x", 1, &r1, &err), 0);
	/* a reference alone makes no series */
	assert_null(tg_store_series(a, "x"));
	assert_null(tg_store_series_ref(a, r1));
	assert_null(tg_store_series_ref(a, 12345));
	tg_store_prefetch_ref(a, 12345, UINT32_MAX);  /* a hint: harmless when wrong */
	tg_store_prefetch_ref(a, r1, r1);
	assert_int_equal(tg_store_ref(a, "x", 1, &r2, &err), 0);
	assert_int_equal(r1, r2);
	assert_int_equal(tg_store_ref(a, "y", 1, &r3, &err), 0);
	assert_true(r3 != r1);
	/* the same puts, by name in b and by reference in a */
	for (size_t i = 0; i < sizeof(months) / sizeof(months[0]); i++) {
		double v = months[i] * 1.5 + (i == 4);
		const char *src = i < 5 ? "s1" : "s2";

		assert_int_equal(tg_store_put_ref(a, r1, ymd(2024, months[i], 1), v, src, (int64_t)i, &err),
				 tg_store_put(b, "x", 1, ymd(2024, months[i], 1), v, src, (int64_t)i, NULL));
	}
	assert_int_equal(tg_store_put_ref(a, r1, ymd(2024, 6, 1), 9.0, "s2", 7, &err), 0);
	{
		const char *ids[] = { "x" };

		assert_same_store(a, b, ids, 1);
	}
	assert_ptr_equal(tg_store_series_ref(a, r1), tg_store_series(a, "x"));
	/* refused as by tg_store_put, nothing changed */
	assert_int_equal(tg_store_put_ref(a, r1, ymd(2024, 7, 1), NAN, "s2", 8, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "indicator \"x\": value is not a finite number"));
	assert_int_equal(tg_store_put_ref(a, r1, 3000000, 1, "s2", 8, &err), -ERANGE);
	assert_int_equal(tg_store_put_ref(a, r1, ymd(2024, 7, 1), 1, "bad\tsource", 8, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid source name"));
	assert_int_equal(tg_store_put_ref(a, 99, ymd(2024, 7, 1), 1, NULL, 8, &err), -EINVAL);
	assert_int_equal(tg_store_series(a, "x")->n, 7);
	assert_int_equal(tg_store_ref(a, "bad\nid", 6, &r2, &err), -EINVAL);
	assert_int_equal(tg_store_ref(a, "", 0, &r2, &err), -EINVAL);
	/* the empty series counts for nothing */
	{
		struct tg_store_stats sa;

		tg_store_stats(a, &sa);
		assert_int_equal(sa.indicators, 1);
		assert_int_equal(sa.points, 7);
	}
	tg_store_free(a);
	tg_store_free(b);
}

/* Puts by reference with the store's copy of the source name (the bulk-load
 * path that appends without put_entry) against the same puts by name:
 * mostly newer periods, some older, repeated or refused ones, two sources. */
static void test_refs_interned_random(void **state)
{
	struct tg_store *a = tg_store_new(), *b = tg_store_new();
	struct tg_error err = { "" };
	const char *ids[20];
	char names[20][16];
	uint32_t ref[20];
	tg_day next[20];
	uint64_t x = 0x9E3779B97F4A7C15u;
	const char *s1, *s2;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	s1 = tg_store_source(a, "s1");
	s2 = tg_store_source(a, "s2");
	assert_non_null(s1);
	assert_non_null(s2);
	assert_ptr_equal(tg_store_source(a, "s1"), s1);
	assert_null(tg_store_source(a, "bad\tname"));
	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "K%02d", i);
		ids[i] = names[i];
		assert_int_equal(tg_store_ref(a, ids[i], strlen(ids[i]), &ref[i], &err), 0);
		next[i] = ymd(2000, 1, 1);
	}
	for (int n = 0; n < 20000; n++) {
		int i, ra, rb;
		tg_day p;
		double v;
		const char *src, *plain;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		i = (int)(x % 20);
		switch ((x >> 8) % 16) {
		case 0: p = next[i] - 31 * (tg_day)((x >> 16) % 5); break;   /* older, or repeated */
		case 1: p = 3000000; break;                                  /* out of range */
		default: p = next[i] += 1 + (tg_day)((x >> 16) % 40);
		}
		v = (x >> 24) % 50 == 0 ? NAN : (double)((x >> 24) % 1000) / 8;
		src = (x >> 40) % 10 == 0 ? s2 : s1;
		plain = src == s1 ? "s1" : "s2";
		ra = tg_store_put_ref(a, ref[i], p, v, (x >> 44) % 3 == 0 ? plain : src, n, &err);
		rb = tg_store_put(b, ids[i], strlen(ids[i]), p, v, plain, n, NULL);
		if (ra != rb) {
			print_error("put %d: %s period %d value %g: by reference %d, by name %d\n", n,
				    ids[i], (int)p, v, ra, rb);
			fail();
		}
	}
	assert_same_store(a, b, ids, 20);
	tg_store_free(a);
	tg_store_free(b);
}

/* A bulk load is written to the journal as it comes (memory stays bounded)
 * and made durable by the commit; a failing disk keeps it pending. */
static void test_bulk_load_written_as_it_goes(void **state)
{
	char *dir = make_dir();
	struct tg_store *st;
	struct tg_store_stats stats;
	struct tg_error err = { "" };
	uint32_t ref[1000];
	char id[600];
	int fd, full;

	(void)state;
	st = open_store(dir, NULL);
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "IND%06d", i);
		assert_int_equal(tg_store_ref(st, id, strlen(id), &ref[i], &err), 0);
	}
	for (int m = 0; m < 60; m++)
		for (int i = 0; i < 1000; i++)
			assert_int_equal(tg_store_put_ref(st, ref[i], ymd(2000 + m / 12, m % 12 + 1, 1),
							  i + m / 100.0, "export", 1700000000, &err), 1);
	/* 60,000 records of some 60 bytes: most of them are in the file already */
	assert_true(file_size(dir) > 2000000);
	must_commit(st);
	tg_store_stats(st, &stats);
	assert_int_equal(stats.journal_records, 60000);

	/* the disk fills up in the middle of the next load */
	if (access("/dev/full", W_OK) == 0) {
		off_t before = file_size(dir);

		fd = journal_fd(dir);
		full = open("/dev/full", O_WRONLY);
		assert_true(full >= 0);
		assert_true(dup2(full, fd) == fd);
		close(full);
		for (int i = 0; i < 1000; i++)
			for (int m = 60; m < 90; m++)
				assert_int_equal(tg_store_put_ref(st, ref[i], ymd(2000 + m / 12, m % 12 + 1, 1),
								  i + m / 100.0, "export", 1700000001, &err), 1);
		assert_int_equal(tg_store_commit(st, &err), -ENOSPC);
		assert_true(file_size(dir) == before);
		snprintf(id, sizeof(id), "%s/journal", dir);
		full = open(id, O_WRONLY | O_APPEND);
		assert_true(full >= 0);
		assert_true(dup2(full, fd) == fd);
		close(full);
		must_commit(st);
	}
	tg_store_free(st);
	st = open_store(dir, &stats);
	assert_int_equal(stats.skipped_corrupt, 0);
	assert_int_equal(stats.points, access("/dev/full", W_OK) == 0 ? 90000 : 60000);
	assert_int_equal(tg_store_series(st, "IND000999")->n, access("/dev/full", W_OK) == 0 ? 90 : 60);
	assert_true(tg_store_series(st, "IND000007")->value[59] == 7 + 59 / 100.0);
	tg_store_free(st);
	remove_dir(dir);
}

/* Values of every magnitude, decimals as spreadsheets write them, and
 * exact ties at the 17th digit: the journal's text is printf's "%.17g". */
static void test_value_text_random(void **state)
{
	enum { N = 60000 };
	char *dir = make_dir();
	struct tg_store *st;
	char id[16], *data, *line;
	size_t len, seen = 0;
	uint64_t x = 0x9E3779B97F4A7C15u;
	double *vals = malloc(N * sizeof(double));

	(void)state;
	assert_non_null(vals);
	for (size_t i = 0; i < N; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		switch (i % 5) {
		case 0:  /* cents, as exported */
			vals[i] = (double)(int64_t)(x % 100000000000ull) / 100.0;
			break;
		case 1:  /* any bits of a normal double between 1e-6 and 1e18 */
			vals[i] = ldexp(1.0 + (double)(x >> 11) / 9007199254740992.0, (int)(x % 80) - 20);
			break;
		case 2:  /* few bits: ties at the 17th digit */
			vals[i] = ldexp((double)((x >> 40) | 1), -(int)(x % 60));
			break;
		case 3:  /* decimals of 1..6 digits */
			vals[i] = (double)(int64_t)(x % 10000000ull) / pow(10, (double)(1 + x % 6));
			break;
		default:  /* near powers of ten */
			vals[i] = nextafter(pow(10, (double)((int)(x % 30) - 8)), (x & 1) ? 0 : 1e300);
			break;
		}
		if (x & 2)
			vals[i] = -vals[i];
	}
	st = open_store(dir, NULL);
	for (size_t i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "r%zu", i);
		must_put(st, id, 1, vals[i]);
	}
	must_commit(st);
	tg_store_free(st);
	data = read_file(dir, "journal", &len);
	for (line = data; *line != '\0';) {
		char *nl = strchr(line, '\n'), *f[6], expect[64];
		size_t i;
		int nf = 0;

		assert_non_null(nl);
		*nl = '\0';
		for (char *p = line; nf < 6; nf++) {
			f[nf] = p;
			p = strchr(p, '\t');
			if (p == NULL) {
				nf++;
				break;
			}
			*p++ = '\0';
		}
		assert_int_equal(nf, 6);
		assert_true(f[1][0] == 'r');
		i = strtoul(f[1] + 1, NULL, 10);
		assert_true(i < N);
		snprintf(expect, sizeof(expect), "%.17g", vals[i]);
		if (strcmp(f[3], expect) != 0)
			fail_msg("value %zu: journal \"%s\", printf \"%s\"", i, f[3], expect);
		seen++;
		line = nl + 1;
	}
	assert_int_equal(seen, N);
	free(data);
	free(vals);
	remove_dir(dir);
}

/* A failed fsync is reported once: the pages it lost would pass the next
 * one.  The next commit rewrites the journal from memory instead. */
static void test_fsync_failure_rewrites(void **state)
{
	char *dir = make_dir();
	struct tg_store *st;
	struct tg_store_stats stats;
	struct tg_error err = { "" };
	off_t good;
	char path[600];

	(void)state;
	st = open_store(dir, NULL);
	must_put(st, "a", 1, 1);
	must_commit(st);
	good = file_size(dir);
	must_put(st, "b", 1, 2);
	fail_fsync = 1;
	assert_int_equal(tg_store_commit(st, &err), -EIO);
	fail_fsync = 0;
	assert_non_null(strstr(err.msg, "fsync"));
	/* the kernel dropped the unsynced pages: b is not in the file */
	snprintf(path, sizeof(path), "%s/journal", dir);
	assert_int_equal(truncate(path, good), 0);
	must_commit(st);
	tg_store_free(st);
	st = open_store(dir, &stats);
	assert_int_equal(stats.points, 2);
	assert_int_equal(stats.skipped_corrupt, 0);
	assert_non_null(tg_store_series(st, "b"));
	tg_store_free(st);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_reference),
		cmocka_unit_test(test_lock_on_replaced_journal),
		cmocka_unit_test(test_day_bounds),
		cmocka_unit_test(test_put_order),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_source_and_loaded),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_bad_values_and_sources),
		cmocka_unit_test(test_many_indicators),
		cmocka_unit_test(test_journal_round_trip),
		cmocka_unit_test(test_value_text),
		cmocka_unit_test(test_value_text_random),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_torn_last_line),
		cmocka_unit_test(test_flipped_byte),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_long_lines_and_last_wins),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_auto_compaction),
		cmocka_unit_test(test_commit_failure_keeps_pending),
		cmocka_unit_test(test_commit_partial_write),
		cmocka_unit_test(test_fsync_failure_rewrites),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_refs_interned_random),
		cmocka_unit_test(test_bulk_load_written_as_it_goes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
