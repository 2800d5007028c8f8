/*
 * test_sentlog.c — sent.log: lines written exactly and safely (no data can
 * add a field or a line), the batch append (header, torn last line, refused
 * symlinks), and the reader against hostile files: every kind of bad line
 * skipped and counted, month boundaries, one count per (indicator, message).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sentlog.h"

#define MSG1 "0123456789abcdef0123456789abcdef"
#define MSG2 "fedcba9876543210fedcba9876543210"
#define MSG3 "00000000000000000000000000000003"
#define EV1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static tg_time at(int y, int m, int d, int hh, int mm)
{
	return (tg_time)tg_day_from_ymd(y, m, d) * TG_DAY_SECONDS + hh * 3600 + mm * 60;
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/test_sentlog-XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void rmtmp(char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/" TG_SENTLOG_FILE, dir);
	unlink(path);
	rmdir(path);
	assert_int_equal(rmdir(dir), 0);
	free(dir);
}

static char *slurp(const char *dir)
{
	char path[512], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/" TG_SENTLOG_FILE, dir);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Counts of data[0..len) over [from, until]. */
static void read_mem(const char *data, size_t len, tg_day from, tg_day until,
		     struct tg_sentlog_counts *c)
{
	struct tg_error err;
	FILE *f = fmemopen((void *)data, len, "r");

	assert_non_null(f);
	assert_int_equal(tg_sentlog_read_stream(f, "sent.log", from, until, c, &err), 0);
	fclose(f);
}

static const tg_day ALL_FROM = -1000000, ALL_UNTIL = 3000000;

/* ------------------------------------------------------------ format */

static void test_format_exact(void **state)
{
	char t1[] = "a@x.it", t2[] = "b@y.it", *to[] = { t1, t2 };
	struct tg_sentlog_entry e = {
		.wall = 1792483200, .cycle = at(2026, 10, 14, 9, 5), .indicator = "RAG-01",
		.kind = TG_ALERT_ESCALATED, .status = TG_STATUS_CRITICAL, .channel = "posta",
		.to = to, .n_to = 2, .message = MSG1, .event = EV1, .route = "r-1",
	};
	char buf[TG_SENTLOG_LINE_MAX];
	int n;

	(void)state;
	n = tg_sentlog_format(&e, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf, "1792483200\t2026-10-14T09:05\tRAG-01\tescalated\tcritical\tposta\t"
				 "a@x.it,b@y.it\t" MSG1 "\t" EV1 "\tr-1\n");
	/* a webhook, no event id, a negative wall clock */
	e.to = NULL;
	e.n_to = 0;
	e.event = NULL;
	e.wall = -5;
	e.route = NULL;
	e.kind = TG_ALERT_RESOLVED;
	e.status = TG_STATUS_OK;
	e.cycle = at(1969, 12, 31, 23, 59);
	tg_sentlog_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "0\t1969-12-31T23:59\tRAG-01\tresolved\tok\tposta\t-\t" MSG1 "\t-\t-\n");
	/* too small a buffer */
	assert_int_equal(tg_sentlog_format(&e, buf, 20), -ENOSPC);
}

static void test_format_sanitised(void **state)
{
	char t1[] = "x\t@y", t2[] = "", t4[] = "z\r\n@w\xff", *to[] = { t1, t2, NULL, t4 };
	struct tg_sentlog_entry e = {
		.wall = 1, .cycle = at(2026, 10, 1, 0, 0), .indicator = "A\tB\nC\rD\x01\x7f\xc2\x85\xff",
		.kind = TG_ALERT_FIRING, .status = TG_STATUS_WARNING, .channel = "\t\t",
		.to = to, .n_to = 4, .message = MSG1, .route = "a\tb\n",
	};
	char buf[TG_SENTLOG_LINE_MAX];
	size_t tabs = 0, lfs = 0;
	struct tg_sentlog_counts c;

	(void)state;
	assert_true(tg_sentlog_format(&e, buf, sizeof(buf)) > 0);
	for (const char *p = buf; *p != '\0'; p++) {
		tabs += *p == '\t';
		lfs += *p == '\n';
		assert_false(*p == '\r');
		assert_false((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n');
	}
	assert_int_equal(tabs, 9);
	assert_int_equal(lfs, 1);
	assert_non_null(strstr(buf, "\tA B C D   ?\tfiring\twarning\t  \tx @y,z  @w?\t"));
	assert_non_null(strstr(buf, MSG1 "\t-\ta b \n"));
	/* and the reader takes what the writer wrote */
	read_mem(buf, strlen(buf), ALL_FROM, ALL_UNTIL, &c);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.v[0].id, "A B C D   ?");
	tg_sentlog_counts_free(&c);
}

static void test_format_bounded(void **state)
{
	char big[20000], *to[300], addr[] = "someone.with.a.long.name@comune.example.it";
	char buf[TG_SENTLOG_LINE_MAX];
	struct tg_sentlog_entry e = {
		.wall = INT64_MAX, .cycle = at(9999, 12, 31, 23, 59), .indicator = big,
		.kind = TG_ALERT_REMINDER, .status = TG_STATUS_LATE, .channel = big,
		.to = to, .n_to = 300, .message = MSG1, .event = MSG2, .route = big,
	};
	struct tg_sentlog_counts c;
	int n;

	(void)state;
	/* multi-byte characters, so that a cut must land on a boundary */
	for (size_t i = 0; i + 3 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa0", 2);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 0; i < 300; i++)
		to[i] = addr;
	n = tg_sentlog_format(&e, buf, sizeof(buf));
	assert_true(n > 0 && n < TG_SENTLOG_LINE_MAX);
	assert_non_null(strstr(buf, "...\t" MSG1));
	read_mem(buf, (size_t)n, ALL_FROM, ALL_UNTIL, &c);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(strlen(c.v[0].id), TG_SENTLOG_ID_MAX);
	tg_sentlog_counts_free(&c);
}

static void test_format_refused(void **state)
{
	static const struct tg_sentlog_entry good = {
		.wall = 1, .cycle = 0, .indicator = "I", .kind = TG_ALERT_FIRING,
		.status = TG_STATUS_WARNING, .channel = "c", .message = MSG1,
	};
	char buf[TG_SENTLOG_LINE_MAX], t1[] = "a@b", *to[1] = { t1 };
	struct tg_sentlog_entry e;
	const size_t ncases = 13;

	(void)state;
	assert_true(tg_sentlog_format(&good, buf, sizeof(buf)) > 0);
	for (size_t i = 0; i < ncases; i++) {
		e = good;
		switch (i) {
		case 0: e.indicator = NULL; break;
		case 1: e.indicator = ""; break;
		case 2: e.channel = NULL; break;
		case 3: e.channel = ""; break;
		case 4: e.kind = (enum tg_alert_kind)4; break;
		case 5: e.status = (enum tg_status)TG_STATUS_COUNT; break;
		case 6: e.message = NULL; break;
		case 7: e.message = "0123456789ABCDEF0123456789abcdef"; break;
		case 8: e.message = MSG1 "0"; break;
		case 9: e.event = "xyz"; break;
		case 10: e.cycle = at(9999, 12, 31, 23, 59) + 60; break;
		case 11: e.cycle = (tg_time)tg_day_from_ymd(1, 1, 1) * TG_DAY_SECONDS - 1; break;
		case 12: e.n_to = 1; e.to = NULL; break;
		}
		if (tg_sentlog_format(&e, buf, sizeof(buf)) != -EINVAL) {
			print_error("case %zu: accepted\n", i);
			fail();
		}
	}
	e = good;
	e.to = to;
	e.n_to = 1;
	assert_true(tg_sentlog_format(&e, buf, sizeof(buf)) > 0);
}

/* ------------------------------------------------------------ append */

static void test_append_round_trip(void **state)
{
	char *dir = tmpdir(), *text;
	char t1[] = "uff@comune.it", *to[] = { t1 };
	struct tg_sentlog_entry e[3] = {
		{ .wall = 100, .cycle = at(2026, 10, 3, 9, 0), .indicator = "RAG-01", .kind = TG_ALERT_FIRING,
		  .status = TG_STATUS_WARNING, .channel = "posta", .to = to, .n_to = 1, .message = MSG1,
		  .event = EV1, .route = "rag" },
		{ .wall = 100, .cycle = at(2026, 10, 3, 9, 0), .indicator = "ANA-02", .kind = TG_ALERT_FIRING,
		  .status = TG_STATUS_CRITICAL, .channel = "posta", .to = to, .n_to = 1, .message = MSG1 },
		{ .wall = 200, .cycle = at(2026, 10, 14, 11, 30), .indicator = "RAG-01",
		  .kind = TG_ALERT_REMINDER, .status = TG_STATUS_CRITICAL, .channel = "teams",
		  .message = MSG2 },
	};
	struct tg_sentlog_counts c;
	const struct tg_sentlog_count *k;
	struct tg_error err;
	struct stat sb;
	char path[512];

	(void)state;
	assert_int_equal(tg_sentlog_append(dir, e, 0, &err), 0);   /* nothing: no file */
	snprintf(path, sizeof(path), "%s/" TG_SENTLOG_FILE, dir);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(tg_sentlog_append(dir, e, 2, &err), 0);
	assert_int_equal(tg_sentlog_append(dir, e + 2, 1, &err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0077 & ~0040, 0);   /* not world-readable, not writable by group */
	text = slurp(dir);
	assert_true(text[0] == '#');
	assert_non_null(strstr(text, "\n100\t2026-10-03T09:00\tRAG-01\tfiring\twarning\tposta\tuff@comune.it\t"
				     MSG1 "\t" EV1 "\trag\n100\t2026-10-03T09:00\tANA-02\t"));
	assert_non_null(strstr(text, "\n200\t2026-10-14T11:30\tRAG-01\treminder\tcritical\tteams\t-\t" MSG2
				     "\t-\t-\n"));
	assert_int_equal(strchr(text, '#') - text, 0);
	assert_null(strchr(text + 1, '#'));   /* one header only */
	free(text);

	assert_int_equal(tg_sentlog_read(dir, tg_day_from_ymd(2026, 10, 1), tg_day_from_ymd(2026, 10, 31),
					 &c, &err), 0);
	assert_int_equal(c.lines, 4);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.v[0].id, "ANA-02");   /* sorted */
	k = tg_sentlog_counts_find(&c, "RAG-01");
	assert_non_null(k);
	assert_int_equal(k->alerts, 2);
	assert_int_equal(k->last, tg_day_from_ymd(2026, 10, 14));
	assert_int_equal(k->resolved, 0);
	assert_int_equal(tg_sentlog_counts_find(&c, "ANA-02")->alerts, 1);
	assert_null(tg_sentlog_counts_find(&c, "RAG-0"));
	assert_null(tg_sentlog_counts_find(&c, "ZZZ"));
	assert_int_equal(c.alerts, 3);
	tg_sentlog_counts_free(&c);
	tg_sentlog_counts_free(&c);   /* twice: emptied, harmless */
	tg_sentlog_counts_free(NULL);

	/* an invalid entry in a batch: nothing of the batch is written */
	e[1].message = "nope";
	text = slurp(dir);
	assert_int_equal(tg_sentlog_append(dir, e, 3, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "entry 2 of 3"));
	{
		char *after = slurp(dir);

		assert_string_equal(after, text);
		free(after);
	}
	free(text);
	rmtmp(dir);
}

static void test_append_after_torn_line(void **state)
{
	char *dir = tmpdir(), path[512];
	struct tg_sentlog_entry e = {
		.wall = 1, .cycle = at(2026, 10, 5, 8, 0), .indicator = "X", .kind = TG_ALERT_FIRING,
		.status = TG_STATUS_WARNING, .channel = "c", .message = MSG3,
	};
	struct tg_sentlog_counts c;
	struct tg_error err;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/" TG_SENTLOG_FILE, dir);
	f = fopen(path, "w");
	assert_non_null(f);
	/* a line cut by a crash in the middle of its message id */
	fputs("1\t2026-10-04T08:00\tX\tfiring\twarning\tc\t-\t0123456789", f);
	fclose(f);
	read_mem("1\t2026-10-04T08:00\tX\tfiring\twarning\tc\t-\t0123456789", 50, ALL_FROM, ALL_UNTIL, &c);
	assert_int_equal(c.bad, 1);
	assert_non_null(strstr(c.bad_reason.msg, "no end of line"));
	tg_sentlog_counts_free(&c);

	assert_int_equal(tg_sentlog_append(dir, &e, 1, &err), 0);
	assert_int_equal(tg_sentlog_read(dir, ALL_FROM, ALL_UNTIL, &c, &err), 0);
	assert_int_equal(c.lines, 2);
	assert_int_equal(c.bad, 1);   /* the torn line, alone */
	assert_int_equal(c.first_bad, 1);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0].alerts, 1);
	assert_int_equal(c.v[0].last, tg_day_from_ymd(2026, 10, 5));
	tg_sentlog_counts_free(&c);
	rmtmp(dir);
}

static void test_append_and_read_refusals(void **state)
{
	char *dir = tmpdir(), path[512], missing[600];
	struct tg_sentlog_entry e = {
		.wall = 1, .cycle = 0, .indicator = "X", .kind = TG_ALERT_FIRING,
		.status = TG_STATUS_WARNING, .channel = "c", .message = MSG3,
	};
	struct tg_sentlog_counts c;
	struct tg_error err;

	(void)state;
	snprintf(path, sizeof(path), "%s/" TG_SENTLOG_FILE, dir);
	/* a missing file, a missing directory: zero alerts */
	assert_int_equal(tg_sentlog_read(dir, ALL_FROM, ALL_UNTIL, &c, &err), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(c.lines, 0);
	snprintf(missing, sizeof(missing), "%s/nothing/here", dir);
	assert_int_equal(tg_sentlog_read(missing, ALL_FROM, ALL_UNTIL, &c, &err), 0);
	assert_int_equal(c.n, 0);
	/* a missing directory when appending: an error naming the file */
	assert_int_equal(tg_sentlog_append(missing, &e, 1, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "nothing/here/sent.log"));
	/* a symlink: refused both ways */
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(tg_sentlog_append(dir, &e, 1, &err), -ELOOP);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_int_equal(tg_sentlog_read(dir, ALL_FROM, ALL_UNTIL, &c, &err), -ELOOP);
	assert_int_equal(c.n, 0);
	unlink(path);
	/* a FIFO: refused, never waited on */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(tg_sentlog_read(dir, ALL_FROM, ALL_UNTIL, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a regular file"));
	unlink(path);
	/* a directory */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(tg_sentlog_append(dir, &e, 1, &err) < 0);
	assert_true(tg_sentlog_read(dir, ALL_FROM, ALL_UNTIL, &c, &err) < 0);
	rmdir(path);
	assert_int_equal(tg_sentlog_append(NULL, &e, 1, &err), -EINVAL);
	assert_int_equal(tg_sentlog_read(NULL, ALL_FROM, ALL_UNTIL, &c, &err), -EINVAL);
	rmtmp(dir);
}

/* ------------------------------------------------------------ reading */

static void test_month_boundaries(void **state)
{
	static const char text[] =
		"1\t2026-09-30T23:59\tA\tfiring\twarning\tc\t-\t" MSG1 "\t-\tr\n"
		"2\t2026-10-01T00:00\tA\tfiring\twarning\tc\t-\t" MSG2 "\t-\tr\n"
		"3\t2026-10-31T23:59\tA\treminder\tcritical\tc\t-\t" MSG3 "\t-\tr\n"
		"4\t2026-11-01T00:00\tA\tescalated\tcritical\tc\t-\t" EV1 "\t-\tr\n"
		"5\t2026-10-20T10:00\tA\tresolved\tok\tc\t-\t" EV1 "\t-\tr\n"
		"6\t2026-10-10T10:00\tB\tresolved\tok\tc\t-\t" EV1 "\t-\tr\n";
	struct tg_sentlog_counts c;
	const struct tg_sentlog_count *a, *b;

	(void)state;
	read_mem(text, sizeof(text) - 1, tg_day_from_ymd(2026, 10, 1), tg_day_from_ymd(2026, 10, 31), &c);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.lines, 6);
	a = tg_sentlog_counts_find(&c, "A");
	b = tg_sentlog_counts_find(&c, "B");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->alerts, 2);
	assert_int_equal(a->last, tg_day_from_ymd(2026, 10, 31));
	assert_int_equal(a->resolved, 1);
	assert_int_equal(a->last_resolved, tg_day_from_ymd(2026, 10, 20));
	assert_int_equal(b->alerts, 0);   /* only a resolution: 0 alerts */
	assert_int_equal(b->resolved, 1);
	assert_int_equal(c.alerts, 2);
	assert_int_equal(c.resolved, 2);
	tg_sentlog_counts_free(&c);
	/* September only */
	read_mem(text, sizeof(text) - 1, tg_day_from_ymd(2026, 9, 1), tg_day_from_ymd(2026, 9, 30), &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0].alerts, 1);
	assert_int_equal(c.v[0].last, tg_day_from_ymd(2026, 9, 30));
	tg_sentlog_counts_free(&c);
	/* a year that has nothing */
	read_mem(text, sizeof(text) - 1, tg_day_from_ymd(2020, 1, 1), tg_day_from_ymd(2020, 12, 31), &c);
	assert_int_equal(c.n, 0);
	assert_int_equal(c.alerts, 0);
	tg_sentlog_counts_free(&c);
}

static void test_dedup(void **state)
{
	static const char text[] =
		/* the same (indicator, message) twice is a replayed spool: counted once */
		"1\t2026-10-02T09:00\tA\tfiring\twarning\tmail\ta@b\t" MSG1 "\t" EV1 "\tr\n"
		"1\t2026-10-02T09:00\tA\tfiring\twarning\tmail\ta@b\t" MSG1 "\t" EV1 "\tr\n"
		/* two routes' events for A in the same message: one message about A */
		"1\t2026-10-02T09:00\tA\tfiring\tcritical\tmail\ta@b\t" MSG1 "\t" MSG3 "\tr\n"
		/* the same events in another message (another channel): counted */
		"1\t2026-10-02T09:00\tA\tfiring\twarning\tteams\t-\t" MSG2 "\t" EV1 "\tr\n"
		/* B in the same message as A: B's own count */
		"1\t2026-10-02T09:00\tB\tfiring\twarning\tmail\ta@b\t" MSG1 "\t-\tr\n"
		/* a resolution and an alert of A in one message: both kinds */
		"9\t2026-10-05T09:00\tA\tresolved\tok\tmail\ta@b\t" MSG3 "\t-\tr\n"
		"9\t2026-10-05T09:00\tA\tescalated\tcritical\tmail\ta@b\t" MSG3 "\t-\tr\n"
		/* the administrators told that A's source fails: not an alert about A */
		"9\t2026-10-06T09:00\tA\tfiring\terror\tmail\tit@b\t" MSG2 "\t-\tadmins\n"
		"9\t2026-10-07T09:00\tC\tresolved\tok\tmail\tit@b\t" MSG2 "\t-\tadmins\n";
	struct tg_sentlog_counts c;
	const struct tg_sentlog_count *a;

	(void)state;
	read_mem(text, sizeof(text) - 1, ALL_FROM, ALL_UNTIL, &c);
	assert_int_equal(c.bad, 0);
	a = tg_sentlog_counts_find(&c, "A");
	assert_int_equal(a->alerts, 3);   /* MSG1, MSG2, MSG3 */
	assert_int_equal(a->resolved, 1);
	assert_int_equal(a->last, tg_day_from_ymd(2026, 10, 5));
	assert_int_equal(tg_sentlog_counts_find(&c, "B")->alerts, 1);
	assert_int_equal(c.duplicates, 2);
	assert_false(c.pairs_full);
	assert_int_equal(c.admins, 2);
	assert_null(tg_sentlog_counts_find(&c, "C"));
	assert_int_equal(c.n, 2);
	tg_sentlog_counts_free(&c);
}

#define GOOD "1792483200\t2026-10-14T09:05\tRAG-01\tfiring\twarning\tposta\ta@b.it\t" MSG1 "\t" EV1 "\trag"

static void test_hostile_lines(void **state)
{
	static const struct {
		const char *line;     /* without the LF; NULL-free unless len says so */
		size_t len;           /* 0 = strlen */
		const char *reason;   /* expected in bad_reason; NULL = the line is good */
	} cases[] = {
		{ GOOD, 0, NULL },
		{ GOOD "\textra\tfields", 0, NULL },            /* a later version's fields */
		{ "# a comment\twith\ttabs", 0, NULL },
		{ "", 0, "empty line" },
		{ "just text", 0, "too few fields" },
		{ "1\t2\t3\t4\t5\t6\t7\t8\t9", 0, "too few fields" },
		{ "x792483200\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad wall" },
		{ "\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad wall" },
		{ "99999999999999999999\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad wall" },
		{ "9223372036854775808\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad wall" },
		{ "9223372036854775807\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, NULL },
		{ "-1\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad wall" },
		{ "1\t2026-10-14 09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad cycle" },
		{ "1\t2026-02-30T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad cycle" },
		{ "1\t2026-10-14T24:00\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad cycle" },
		{ "1\t2026-10-14T09:60\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad cycle" },
		{ "1\t0000-10-14T09:00\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad cycle" },
		{ "1\t2026-10-14T09:05:00\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad cycle" },
		{ "1\t2026-10-14T09:05\t\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad indicator" },
		{ "1\t2026-10-14T09:05\tR\xff\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad indicator id 'R\\xff'" },
		{ "1\t2026-10-14T09:05\t\xc0\xafR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad indicator" },
		{ "1\t2026-10-14T09:05\tR\x1b[31m\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad indicator id 'R\\x1b" },
		{ "1\t2026-10-14T09:05\tR\xc2\x9b\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad indicator" },
		{ "1\t2026-10-14T09:05\tR\r\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "bad indicator" },
		{ "1\t2026-10-14T09:05\tR\tFiring\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "unknown kind" },
		{ "1\t2026-10-14T09:05\tR\tfirin\twarning\tp\t-\t" MSG1 "\t-\tr", 0, "unknown kind" },
		{ "1\t2026-10-14T09:05\tR\tfiring\tawful\tp\t-\t" MSG1 "\t-\tr", 0, "unknown status" },
		{ "1\t2026-10-14T09:05\tR\tfiring\twarning\t\t-\t" MSG1 "\t-\tr", 0, "bad channel" },
		{ "1\t2026-10-14T09:05\tR\tfiring\twarning\tp\t\t" MSG1 "\t-\tr", 0, "bad recipients" },
		{ "1\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" "0123\t-\tr", 0, "bad message id" },
		{ "1\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" "0123456789ABCDEF0123456789abcdef\t-\tr", 0,
		  "bad message id" },
		{ "1\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t\tr", 0, "bad event id" },
		{ "1\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t--\tr", 0, "bad event id" },
		{ "1\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\r\tr", 0, "bad event id" },
		{ "1\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr\r", 0, "bad route" },  /* CRLF */
		{ "1\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\t", 0, "bad route" },
		{ "1\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr\x7f", 0, "bad route" },
		{ "1\t2026-10-14T09:05\tR\tfiring\twarning\tp\t-\t" MSG1 "\t-", 0, "too few fields" },
		{ "1\t2026-10-14T09:05\tR\0X\tfiring\twarning\tp\t-\t" MSG1 "\t-\tr", 78, "bad indicator id 'R\\x00X'" },
		{ "\0", 1, "too few fields" },
	};
	struct tg_sentlog_counts c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].line);
		char *buf = malloc(len + 1);
		bool ok;

		assert_non_null(buf);
		memcpy(buf, cases[i].line, len);
		buf[len] = '\n';
		read_mem(buf, len + 1, ALL_FROM, ALL_UNTIL, &c);
		ok = cases[i].reason == NULL ? c.bad == 0 && c.lines == 1
					     : c.bad == 1 && c.first_bad == 1 && c.n == 0 &&
					       strstr(c.bad_reason.msg, cases[i].reason) != NULL &&
					       strncmp(c.bad_reason.msg, "sent.log:1: ", 12) == 0;
		if (!ok) {
			print_error("case %zu: bad %zu n %zu reason [%s]\n", i, c.bad, c.n, c.bad_reason.msg);
			tg_sentlog_counts_free(&c);
			free(buf);
			fail();
		}
		tg_sentlog_counts_free(&c);
		free(buf);
	}
}

static void test_huge_and_mixed(void **state)
{
	size_t big = 1024 * 1024, len = 0;
	char *text = malloc(3 * big);
	struct tg_sentlog_counts c;
	const char good[] = GOOD "\n";

	(void)state;
	assert_non_null(text);
	memcpy(text + len, good, sizeof(good) - 1);
	len += sizeof(good) - 1;
	/* a 1 MB line of a good line repeated without LF */
	for (size_t i = 0; i < big; i++)
		text[len++] = i % 7 == 0 ? '\t' : 'x';
	text[len++] = '\n';
	/* a line of exactly TG_SENTLOG_LINE_MAX bytes (bad, but not too long) and one more */
	memset(text + len, 'y', TG_SENTLOG_LINE_MAX);
	len += TG_SENTLOG_LINE_MAX;
	text[len++] = '\n';
	memset(text + len, 'z', TG_SENTLOG_LINE_MAX + 1);
	len += TG_SENTLOG_LINE_MAX + 1;
	text[len++] = '\n';
	/* NULs everywhere */
	memset(text + len, 0, 5000);
	len += 5000;
	text[len++] = '\n';
	memcpy(text + len, good, sizeof(good) - 1);
	len += sizeof(good) - 1;
	read_mem(text, len, ALL_FROM, ALL_UNTIL, &c);
	assert_int_equal(c.lines, 6);
	assert_int_equal(c.bad, 4);
	assert_int_equal(c.first_bad, 2);
	assert_non_null(strstr(c.bad_reason.msg, "sent.log:2: line too long"));
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0].alerts, 1);       /* the same message twice */
	assert_int_equal(c.duplicates, 1);
	tg_sentlog_counts_free(&c);
	/* the last line without LF, over the cap */
	read_mem(text + sizeof(good) - 1, big, ALL_FROM, ALL_UNTIL, &c);
	assert_int_equal(c.lines, 1);
	assert_int_equal(c.bad, 1);
	tg_sentlog_counts_free(&c);
	free(text);
}

static void test_many_indicators_capped(void **state)
{
	size_t n = TG_SENTLOG_MAX_IDS + 10, len = 0;
	char *text = malloc(n * 100);
	struct tg_sentlog_counts c;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "1\t2026-10-01T00:00\tID-%zu\tfiring\twarning\tc\t-\t%s\t-\t-\n",
				       i, MSG1);
	read_mem(text, len, ALL_FROM, ALL_UNTIL, &c);
	assert_int_equal(c.n, TG_SENTLOG_MAX_IDS);
	assert_int_equal(c.bad, 10);
	assert_non_null(strstr(c.bad_reason.msg, "too many indicators"));
	assert_int_equal(c.alerts, TG_SENTLOG_MAX_IDS);
	for (size_t i = 1; i < c.n; i++)
		assert_true(strcmp(c.v[i - 1].id, c.v[i].id) < 0);
	assert_non_null(tg_sentlog_counts_find(&c, "ID-0"));
	assert_non_null(tg_sentlog_counts_find(&c, "ID-16383"));
	assert_null(tg_sentlog_counts_find(&c, "ID-16384"));
	tg_sentlog_counts_free(&c);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_exact),
		cmocka_unit_test(test_format_sanitised),
		cmocka_unit_test(test_format_bounded),
		cmocka_unit_test(test_format_refused),
		cmocka_unit_test(test_append_round_trip),
		cmocka_unit_test(test_append_after_torn_line),
		cmocka_unit_test(test_append_and_read_refusals),
		cmocka_unit_test(test_month_boundaries),
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_hostile_lines),
		cmocka_unit_test(test_huge_and_mixed),
		cmocka_unit_test(test_many_indicators_capped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
