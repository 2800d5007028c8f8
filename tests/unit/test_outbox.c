/*
 * test_outbox.c — the durable spool on real files (a mkdtemp directory per
 * test): put/list/load/done round trip, idempotent put (new/ and failed/),
 * retry bookkeeping and the backoff sequence, max_age, failed/ never
 * overwritten, corrupt files set aside without blocking the others, a table
 * of hostile files, tmp/ cleanup, counts, and what a crash may leave.
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
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "outbox.h"

/* ---- helpers ---- */

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tg-outbox-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *at(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* dir/FMT..., in one of 8 rotating buffers */
static const char *at(const char *fmt, ...)
{
	static char path[8][512];
	static int k;
	char rel[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	k = (k + 1) % 8;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, rel);
	return path[k];
}

/* 32 hex digits from n */
static const char *id_of(unsigned n)
{
	static char buf[4][TG_OUTBOX_ID_SIZE];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%032x", n);
	return buf[k];
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static bool present(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static size_t entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

static void expect_in(const char *hay, const char *needle, const char *what)
{
	if (strstr(hay, needle) == NULL) {
		print_error("%s: '%s' is not in '%s'\n", what, needle, hay);
		fail();
	}
}

static char chan[] = "posta";
static char to_a[] = "a@b.it";
static char to_b[] = "ufficio.qualit\xc3\xa0@comune.example";
static char *to2[] = { to_a, to_b };
static char ev_a[] = "00112233445566778899aabbccddeeff";
static char ev_b[] = "ffeeddccbbaa99887766554433221100";
static char *ev2[] = { ev_a, ev_b };
static char subj[] = "[traguardo] 3 indicatori fuori obiettivo \xe2\x80\x94 Ragioneria";
static char body[] = "From: traguardo <t@comune.example>\r\nTo: a@b.it\r\n"
		     "Subject: =?UTF-8?Q?x?=\r\n\r\nCiao \"tutti\"\t\\ \xc3\xa8\r\n.\r\n";

static void sample(struct tg_outbox_msg *m, const char *id, int64_t created)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->kind = TG_OUTBOX_EMAIL;
	m->channel = chan;
	m->to = to2;
	m->n_to = 2;
	m->subject = subj;
	m->events = ev2;
	m->n_events = 2;
	m->body = body;
	m->body_len = sizeof(body) - 1;
	m->created = created;
}

static struct tg_outbox *open_ob(void)
{
	struct tg_outbox *ob = NULL;
	struct tg_error err = { "" };

	if (tg_outbox_open(dir, &ob, &err) != 0) {
		print_error("open: %s\n", err.msg);
		fail();
	}
	return ob;
}

static void put_ok(struct tg_outbox *ob, const char *id, int64_t created)
{
	struct tg_outbox_msg m;
	struct tg_error err = { "" };
	int r;

	sample(&m, id, created);
	r = tg_outbox_put(ob, &m, &err);
	if (r != 1) {
		print_error("put %s: %d %s\n", id, r, err.msg);
		fail();
	}
}

static void load_ok(struct tg_outbox *ob, const char *id, struct tg_outbox_msg *m)
{
	struct tg_error err = { "" };
	int r = tg_outbox_load(ob, id, m, &err);

	if (r != 0) {
		print_error("load %s: %d %s\n", id, r, err.msg);
		fail();
	}
}

static void same_as_sample(const struct tg_outbox_msg *m, const char *id, int64_t created)
{
	assert_string_equal(m->id, id);
	assert_int_equal(m->kind, TG_OUTBOX_EMAIL);
	assert_string_equal(m->channel, chan);
	assert_int_equal(m->n_to, 2);
	assert_string_equal(m->to[0], to_a);
	assert_string_equal(m->to[1], to_b);
	assert_string_equal(m->subject, subj);
	assert_int_equal(m->n_events, 2);
	assert_string_equal(m->events[0], ev_a);
	assert_string_equal(m->events[1], ev_b);
	assert_int_equal(m->body_len, sizeof(body) - 1);
	assert_memory_equal(m->body, body, sizeof(body));   /* with its NUL */
	assert_int_equal(m->created, created);
}

/* ---- round trip ---- */

static void test_round_trip(void **state)
{
	struct tg_outbox *ob = open_ob();
	char (*ids)[TG_OUTBOX_ID_SIZE] = NULL;
	struct tg_outbox_msg m;
	struct tg_error err = { "" };
	struct stat st;
	ssize_t n;

	(void)state;
	assert_true(present(at("outbox/tmp")) && present(at("outbox/new")) &&
		    present(at("outbox/failed")));
	n = tg_outbox_list(ob, &ids, &err);
	assert_int_equal(n, 0);
	free(ids);
	/* oldest first, then by id */
	put_ok(ob, id_of(3), 1763600300);
	put_ok(ob, id_of(2), 1763600000);
	put_ok(ob, id_of(1), 1763600300);
	put_ok(ob, id_of(4), 1763599999);
	assert_int_equal(tg_outbox_pending(ob), 4);
	assert_int_equal(tg_outbox_failed(ob), 0);
	n = tg_outbox_list(ob, &ids, &err);
	assert_int_equal(n, 4);
	assert_string_equal(ids[0], id_of(4));
	assert_string_equal(ids[1], id_of(2));
	assert_string_equal(ids[2], id_of(1));
	assert_string_equal(ids[3], id_of(3));
	free(ids);

	load_ok(ob, id_of(2), &m);
	same_as_sample(&m, id_of(2), 1763600000);
	assert_int_equal(m.attempts, 0);
	assert_int_equal(m.next_attempt, 0);
	assert_null(m.last_error);
	tg_outbox_msg_clear(&m);
	assert_null(m.channel);
	tg_outbox_msg_clear(&m);   /* twice: harmless */
	tg_outbox_msg_clear(NULL);

	assert_int_equal(stat(at("outbox/new/%s.json", id_of(2)), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	assert_int_equal(tg_outbox_done(ob, id_of(2), &err), 0);
	assert_false(present(at("outbox/new/%s.json", id_of(2))));
	assert_int_equal(tg_outbox_pending(ob), 3);
	assert_int_equal(tg_outbox_done(ob, id_of(2), &err), 0);   /* gone already */
	assert_int_equal(tg_outbox_load(ob, id_of(2), &m, &err), -ENOENT);
	expect_in(err.msg, at("outbox/new/%s.json", id_of(2)), "load of a done message");

	/* a webhook, no recipients, JSON body */
	{
		static char wbody[] = "{\"text\":\"3 indicatori \\u00e8\"}";
		struct tg_outbox_msg w;

		sample(&w, id_of(9), 1763600001);
		w.kind = TG_OUTBOX_WEBHOOK;
		w.to = NULL;
		w.n_to = 0;
		w.body = wbody;
		w.body_len = strlen(wbody);
		assert_int_equal(tg_outbox_put(ob, &w, &err), 1);
		load_ok(ob, id_of(9), &m);
		assert_int_equal(m.kind, TG_OUTBOX_WEBHOOK);
		assert_int_equal(m.n_to, 0);
		assert_string_equal(m.body, wbody);
		tg_outbox_msg_clear(&m);
	}
	/* bad ids never reach the file system */
	assert_int_equal(tg_outbox_load(ob, "../../etc/passwd", &m, &err), -EINVAL);
	expect_in(err.msg, "invalid message id", "load ../");
	assert_int_equal(tg_outbox_done(ob, "0123", &err), -EINVAL);
	assert_int_equal(entries(at("outbox/tmp")), 0);
	tg_outbox_free(ob);
	tg_outbox_free(NULL);
}

static void test_put_twice(void **state)
{
	struct tg_outbox *ob = open_ob();
	struct tg_outbox_msg m;
	struct tg_error err = { "" };
	char *before, *after;
	static char other[] = "another subject";

	(void)state;
	put_ok(ob, id_of(7), 1763600000);
	before = slurp(at("outbox/new/%s.json", id_of(7)), NULL);
	assert_non_null(before);
	sample(&m, id_of(7), 1763609999);
	m.subject = other;
	assert_int_equal(tg_outbox_put(ob, &m, &err), 0);
	after = slurp(at("outbox/new/%s.json", id_of(7)), NULL);
	assert_string_equal(before, after);
	assert_int_equal(entries(at("outbox/tmp")), 0);
	free(before);
	free(after);

	/* already refused for good: not spooled again */
	spit(at("outbox/failed/%s.json", id_of(8)), "x", 1);
	sample(&m, id_of(8), 1763600000);
	assert_int_equal(tg_outbox_put(ob, &m, &err), 0);
	assert_false(present(at("outbox/new/%s.json", id_of(8))));
	/* a corrupt copy was never sent: that one is spooled */
	spit(at("outbox/failed/%s.json.corrupt", id_of(10)), "x", 1);
	put_ok(ob, id_of(10), 1763600000);

	/* delivered: a replay of its cycle (state not saved) spools nothing */
	assert_int_equal(tg_outbox_done(ob, id_of(10), &err), 0);
	assert_true(present(at("outbox/sent/%s", id_of(10))));
	sample(&m, id_of(10), 1763600000);
	assert_int_equal(tg_outbox_put(ob, &m, &err), 0);
	assert_false(present(at("outbox/new/%s.json", id_of(10))));
	tg_outbox_free(ob);
}

/* what put refuses; nothing is left behind */
static void test_put_refused(void **state)
{
	static char bad_utf8[] = "caf\xe9";
	static char with_nul[] = "a\0b";
	static char empty[] = "";
	static char crlf[] = "a@b.it\r\nRCPT TO:<x@evil>";
	static char long_chan[300];
	static char upper[] = "0123456789ABCDEF0123456789abcdef";
	struct case_ {
		const char *what;
		int field;
		char *value;
		size_t len;
		const char *msg;
	} cases[] = {
		{ "upper-case id", 0, upper, 0, "lower-case hex" },
		{ "body not UTF-8", 1, bad_utf8, sizeof(bad_utf8) - 1, "not valid UTF-8 at byte 3" },
		{ "body with NUL", 1, with_nul, 3, "NUL byte at byte 1" },
		{ "empty channel", 2, empty, 0, "invalid channel" },
		{ "long channel", 2, long_chan, 0, "invalid channel" },
		{ "CRLF in recipient", 3, crlf, 0, "invalid recipient 'a@b.it\\x0d\\x0aRCPT" },
		{ "empty event id", 4, empty, 0, "invalid event id" },
		{ "created 0", 5, NULL, 0, "creation time 0" },
		{ "unknown kind", 6, NULL, 0, "unknown kind" },
		{ "too many recipients", 7, NULL, 0, "10001 recipients" },
	};
	struct tg_outbox *ob = open_ob();

	(void)state;
	memset(long_chan, 'c', sizeof(long_chan) - 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tg_outbox_msg m;
		struct tg_error err = { "" };
		char *to[1];
		char **many = NULL;
		int r;

		sample(&m, id_of(100 + (unsigned)i), 1763600000);
		switch (cases[i].field) {
		case 0:
			memcpy(m.id, cases[i].value, TG_OUTBOX_ID_SIZE);
			break;
		case 1:
			m.body = cases[i].value;
			m.body_len = cases[i].len;
			break;
		case 2:
			m.channel = cases[i].value;
			break;
		case 3:
			to[0] = cases[i].value;
			m.to = to;
			m.n_to = 1;
			break;
		case 4:
			m.events[0] = cases[i].value;
			break;
		case 5:
			m.created = 0;
			break;
		case 6:
			m.kind = (enum tg_outbox_kind)7;
			break;
		case 7:
			many = calloc(10001, sizeof(*many));
			assert_non_null(many);
			for (size_t k = 0; k < 10001; k++)
				many[k] = to_a;
			m.to = many;
			m.n_to = 10001;
			break;
		}
		r = tg_outbox_put(ob, &m, &err);
		ev2[0] = ev_a;
		free(many);
		if (r >= 0) {
			print_error("case %zu (%s): put gave %d\n", i, cases[i].what, r);
			fail();
		}
		expect_in(err.msg, cases[i].msg, cases[i].what);
	}
	assert_int_equal(entries(at("outbox/new")), 0);
	assert_int_equal(entries(at("outbox/tmp")), 0);

	/* subject and last_error are for display: cleaned, not refused */
	{
		struct tg_outbox_msg m, back;
		struct tg_error err = { "" };
		size_t big = 10000;
		char *s = malloc(big + 1);
		static char ctl[] = "two\r\nlines\x01 and \xff bad";
		static char last[] = "ignored by put";

		assert_non_null(s);
		memset(s, 'x', big);
		s[big] = '\0';
		memcpy(s, "\xc3\xa8", 2);
		s[4095] = '\xc3';   /* a character across the 4096-byte cut */
		s[4096] = '\xa0';
		sample(&m, id_of(200), 1763600000);
		m.subject = s;
		m.attempts = 5;
		m.next_attempt = 99;
		m.last_error = last;
		assert_int_equal(tg_outbox_put(ob, &m, &err), 1);
		load_ok(ob, id_of(200), &back);
		assert_int_equal(strlen(back.subject), 4095);
		assert_memory_equal(back.subject, s, 4095);
		assert_int_equal(back.attempts, 0);
		assert_int_equal(back.next_attempt, 0);
		assert_null(back.last_error);
		tg_outbox_msg_clear(&back);
		free(s);

		sample(&m, id_of(201), 1763600000);
		m.subject = ctl;
		assert_int_equal(tg_outbox_put(ob, &m, &err), 1);
		load_ok(ob, id_of(201), &back);
		assert_string_equal(back.subject, "two  lines  and ? bad");
		tg_outbox_msg_clear(&back);
	}
	tg_outbox_free(ob);
}

/* ---- retries ---- */

static void test_retry_backoff(void **state)
{
	static const int64_t expect[] = { 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600 };
	struct tg_outbox *ob = open_ob();
	struct tg_outbox_msg m;
	struct tg_error err = { "" };
	const int64_t created = 1763600000;
	int64_t now = created + 10;

	(void)state;
	put_ok(ob, id_of(1), created);
	load_ok(ob, id_of(1), &m);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		char e[32];
		int r;

		snprintf(e, sizeof(e), "451 try again (%zu)", i);
		r = tg_outbox_retry(ob, &m, e, now, -1, 0, &err);
		if (r != 0) {
			print_error("case %zu: retry gave %d: %s\n", i, r, err.msg);
			fail();
		}
		/* updated in place and on disk */
		assert_int_equal(m.attempts, (int)i + 1);
		assert_int_equal(m.next_attempt, now + expect[i]);
		tg_outbox_msg_clear(&m);
		load_ok(ob, id_of(1), &m);
		if (m.attempts != (int)i + 1 || m.next_attempt != now + expect[i]) {
			print_error("case %zu: attempts %d next %lld, expected %zu %lld\n", i,
				    m.attempts, (long long)m.next_attempt, i + 1,
				    (long long)(now + expect[i]));
			fail();
		}
		assert_string_equal(m.last_error, e);
		same_as_sample(&m, id_of(1), created);
		now += expect[i];
	}
	assert_int_equal(entries(at("outbox/tmp")), 0);
	tg_outbox_msg_clear(&m);

	/* Retry-After: the larger wins, never beyond max_age */
	put_ok(ob, id_of(2), created);
	load_ok(ob, id_of(2), &m);
	assert_int_equal(tg_outbox_retry(ob, &m, "429", created, 7200, 0, &err), 0);
	assert_int_equal(m.next_attempt, created + 7200);
	assert_int_equal(tg_outbox_retry(ob, &m, "429", created, 30, 0, &err), 0);
	assert_int_equal(m.next_attempt, created + 120);   /* 2nd attempt: 2 min */
	assert_int_equal(tg_outbox_retry(ob, &m, "429", created, 999999999, 0, &err), 0);
	assert_int_equal(m.next_attempt, created + 259200);
	assert_int_equal(tg_outbox_retry(ob, &m, "429", created, 999999999, 7200, &err), 0);
	assert_int_equal(m.next_attempt, created + 7200);
	tg_outbox_msg_clear(&m);
	load_ok(ob, id_of(2), &m);
	assert_int_equal(m.attempts, 4);
	assert_int_equal(m.next_attempt, created + 7200);

	/* a hostile error text is kept readable and one line; the recipients
	 * narrowed by the caller are what is written */
	{
		static char bad[] = "550 no\r\nsuch\x1b[31m user \xff";

		m.n_to = 1;
		free(m.to[1]);
		m.to[1] = NULL;
		assert_int_equal(tg_outbox_retry(ob, &m, bad, created, -1, 0, &err), 0);
		tg_outbox_msg_clear(&m);
		load_ok(ob, id_of(2), &m);
		assert_string_equal(m.last_error, "550 no  such [31m user ?");
		assert_int_equal(m.n_to, 1);
		assert_string_equal(m.to[0], to_a);
	}
	/* done meanwhile: not recreated */
	assert_int_equal(tg_outbox_done(ob, id_of(2), &err), 0);
	assert_int_equal(tg_outbox_retry(ob, &m, "x", created, -1, 0, &err), -ENOENT);
	assert_false(present(at("outbox/new/%s.json", id_of(2))));
	tg_outbox_msg_clear(&m);
	tg_outbox_free(ob);
}

/* A retry's next_attempt is counted on the wall clock: when the clock is
 * set back after it, the message is due at once instead of waiting for the
 * time set back; the retries made then count on the clock as it is (no
 * storm of attempts until it catches up). */
static void test_due_after_clock_step(void **state)
{
	struct tg_outbox *ob = open_ob();
	struct tg_outbox_msg m, m2;
	struct tg_error err = { "" };
	const int64_t t = 1763600000, back = t - 3600;

	(void)state;
	put_ok(ob, id_of(3), t - 100);
	put_ok(ob, id_of(4), t - 100);
	load_ok(ob, id_of(3), &m);
	load_ok(ob, id_of(4), &m2);
	/* nothing retried yet: next_attempt as it is */
	assert_int_equal(tg_outbox_due_at(ob, &m, back), 0);
	assert_int_equal(tg_outbox_retry(ob, &m2, "451", t - 50, 7200, 0, &err), 0);
	assert_int_equal(tg_outbox_retry(ob, &m, "451", t, -1, 0, &err), 0);
	assert_int_equal(m.next_attempt, t + 60);
	/* the clock as it was, or an NTP step of a second or two: the delay */
	assert_int_equal(tg_outbox_due_at(ob, &m, t + 10), t + 60);
	assert_int_equal(tg_outbox_due_at(ob, &m, t - 2), t + 60);
	assert_int_equal(tg_outbox_due_at(ob, &m2, t + 10), t - 50 + 7200);
	/* set back by an hour: both due at once, Retry-After or not */
	assert_int_equal(tg_outbox_due_at(ob, &m, back), 0);
	assert_int_equal(tg_outbox_due_at(ob, &m2, back), 0);
	/* retried on the clock as it is now: its delay counts again, and the
	 * other one is still due at once */
	assert_int_equal(tg_outbox_retry(ob, &m, "451", back, -1, 0, &err), 0);
	assert_int_equal(tg_outbox_due_at(ob, &m, back + 10), back + 120);
	assert_int_equal(tg_outbox_due_at(ob, &m2, back + 10), 0);
	assert_int_equal(tg_outbox_retry(ob, &m2, "451", back + 1, 7200, 0, &err), 0);
	assert_int_equal(tg_outbox_due_at(ob, &m2, back + 10), back + 1 + 7200);
	/* delivered: forgotten; a retry of a message gone is remembered by no one */
	assert_int_equal(tg_outbox_done(ob, id_of(3), &err), 0);
	assert_int_equal(tg_outbox_retry(ob, &m, "451", back + 5, -1, 0, &err), -ENOENT);
	assert_int_equal(tg_outbox_due_at(ob, &m, back - 100), m.next_attempt);
	tg_outbox_msg_clear(&m);
	tg_outbox_msg_clear(&m2);
	tg_outbox_free(ob);
}

static void test_max_age(void **state)
{
	struct tg_outbox *ob = open_ob();
	struct tg_outbox_msg m;
	struct tg_error err = { "" };
	const int64_t created = 1763600000;

	(void)state;
	put_ok(ob, id_of(1), created);
	load_ok(ob, id_of(1), &m);
	/* one second short of the default 3 days */
	assert_int_equal(tg_outbox_retry(ob, &m, "first", created + 259199, -1, -5, &err), 0);
	assert_true(present(at("outbox/new/%s.json", id_of(1))));
	assert_int_equal(tg_outbox_retry(ob, &m, "421 busy", created + 259200, -1, 0, &err), 1);
	assert_false(present(at("outbox/new/%s.json", id_of(1))));
	tg_outbox_msg_clear(&m);
	{
		size_t len;
		char *data = slurp(at("outbox/failed/%s.json", id_of(1)), &len);
		struct tg_outbox_msg f;

		assert_non_null(data);
		assert_int_equal(tg_outbox_parse(data, len, "f", &f, &err), 0);
		assert_string_equal(f.last_error, "421 busy");
		assert_int_equal(f.attempts, 2);
		same_as_sample(&f, id_of(1), created);
		tg_outbox_msg_clear(&f);
		free(data);
	}
	assert_int_equal(tg_outbox_pending(ob), 0);
	assert_int_equal(tg_outbox_failed(ob), 1);

	/* an explicit max_age */
	put_ok(ob, id_of(2), created);
	load_ok(ob, id_of(2), &m);
	assert_int_equal(tg_outbox_retry(ob, &m, "x", created + 3599, -1, 3600, &err), 0);
	assert_int_equal(tg_outbox_retry(ob, &m, "y", created + 3600, -1, 3600, &err), 1);
	assert_true(present(at("outbox/failed/%s.json", id_of(2))));
	tg_outbox_msg_clear(&m);
	assert_int_equal(entries(at("outbox/tmp")), 0);
	tg_outbox_free(ob);
}

static void test_fail_never_overwrites(void **state)
{
	struct tg_outbox *ob = open_ob();
	struct tg_outbox_msg m, f;
	struct tg_error err = { "" };
	char *data;
	size_t len;

	(void)state;
	put_ok(ob, id_of(5), 1763600000);
	load_ok(ob, id_of(5), &m);
	assert_int_equal(tg_outbox_fail(ob, &m, "550 5.1.1 user unknown", &err), 0);
	assert_string_equal(m.last_error, "550 5.1.1 user unknown");
	assert_false(present(at("outbox/new/%s.json", id_of(5))));
	assert_true(present(at("outbox/failed/%s.json", id_of(5))));
	/* the same id fails again (spooled again after failed/ was cleaned up
	 * by hand, say): both kept */
	assert_int_equal(tg_outbox_fail(ob, &m, "second", &err), 0);
	assert_int_equal(tg_outbox_fail(ob, &m, "third", &err), 0);
	tg_outbox_msg_clear(&m);
	data = slurp(at("outbox/failed/%s.json", id_of(5)), &len);
	assert_non_null(data);
	assert_int_equal(tg_outbox_parse(data, len, "f", &f, &err), 0);
	assert_string_equal(f.last_error, "550 5.1.1 user unknown");
	tg_outbox_msg_clear(&f);
	free(data);
	data = slurp(at("outbox/failed/%s.json.2", id_of(5)), &len);
	assert_non_null(data);
	assert_int_equal(tg_outbox_parse(data, len, "f", &f, &err), 0);
	assert_string_equal(f.last_error, "third");
	tg_outbox_msg_clear(&f);
	free(data);
	assert_int_equal(tg_outbox_failed(ob), 3);
	assert_int_equal(entries(at("outbox/tmp")), 0);

	/* a copy for the refused recipients leaves the message in new/ */
	put_ok(ob, id_of(6), 1763600000);
	load_ok(ob, id_of(6), &m);
	assert_int_equal(tg_outbox_fail_copy(ob, &m, "550 no such user", &err), 0);
	assert_true(present(at("outbox/new/%s.json", id_of(6))));
	assert_true(present(at("outbox/failed/%s.json", id_of(6))));
	tg_outbox_msg_clear(&m);
	tg_outbox_free(ob);
}

/* The README's way to send a failed message again: mv failed/X new/,
 * whatever suffix X has in failed/. */
static void test_moved_back(void **state)
{
	struct tg_outbox *ob = open_ob();
	char (*ids)[TG_OUTBOX_ID_SIZE] = NULL;
	struct tg_outbox_msg m;
	struct tg_error err = { "" };
	const char *id = id_of(5), *bad = id_of(8);

	(void)state;
	put_ok(ob, id, 1763600000);
	load_ok(ob, id, &m);
	assert_int_equal(tg_outbox_fail(ob, &m, "first", &err), 0);
	assert_int_equal(tg_outbox_fail(ob, &m, "second", &err), 0);
	assert_int_equal(tg_outbox_fail(ob, &m, "third", &err), 0);
	tg_outbox_msg_clear(&m);
	assert_int_equal(tg_outbox_pending(ob), 0);

	/* ID.json.2 moved back: counted, listed, and new/ID.json again */
	assert_int_equal(rename(at("outbox/failed/%s.json.2", id), at("outbox/new/%s.json.2", id)), 0);
	assert_int_equal(tg_outbox_pending(ob), 1);
	assert_int_equal(tg_outbox_list(ob, &ids, &err), 1);
	assert_string_equal(ids[0], id);
	free(ids);
	assert_false(present(at("outbox/new/%s.json.2", id)));
	load_ok(ob, id, &m);
	assert_string_equal(m.last_error, "third");
	tg_outbox_msg_clear(&m);

	/* ID.json.1 moved back while that id waits: it waits for its turn */
	assert_int_equal(rename(at("outbox/failed/%s.json.1", id), at("outbox/new/%s.json.1", id)), 0);
	assert_int_equal(tg_outbox_pending(ob), 2);
	assert_int_equal(tg_outbox_list(ob, &ids, &err), 1);
	free(ids);
	assert_true(present(at("outbox/new/%s.json.1", id)));
	load_ok(ob, id, &m);
	assert_string_equal(m.last_error, "third");
	tg_outbox_msg_clear(&m);
	assert_int_equal(tg_outbox_done(ob, id, &err), 0);
	assert_int_equal(tg_outbox_list(ob, &ids, &err), 1);
	assert_string_equal(ids[0], id);
	free(ids);
	assert_false(present(at("outbox/new/%s.json.1", id)));
	load_ok(ob, id, &m);
	assert_string_equal(m.last_error, "second");
	tg_outbox_msg_clear(&m);
	assert_int_equal(tg_outbox_done(ob, id, &err), 0);

	/* a .corrupt moved back is tried, and set aside again */
	spit(at("outbox/new/%s.json.corrupt", bad), "x", 1);
	assert_int_equal(tg_outbox_pending(ob), 1);
	assert_int_equal(tg_outbox_list(ob, &ids, &err), 1);
	assert_string_equal(ids[0], bad);
	free(ids);
	assert_int_equal(tg_outbox_load(ob, bad, &m, &err), -EBADMSG);
	assert_true(present(at("outbox/failed/%s.json.corrupt", bad)));

	/* names the daemon never gives a copy stay where they are */
	spit(at("outbox/new/%s.json.tmp-abc", bad), "x", 1);
	spit(at("outbox/new/%s.json.corruptx", bad), "x", 1);
	spit(at("outbox/new/%s.json.", bad), "x", 1);
	spit(at("outbox/new/%s.json.1x", bad), "x", 1);
	assert_int_equal(tg_outbox_pending(ob), 0);
	assert_int_equal(tg_outbox_list(ob, &ids, &err), 0);
	assert_true(present(at("outbox/new/%s.json.tmp-abc", bad)));
	assert_true(present(at("outbox/new/%s.json.1x", bad)));
	tg_outbox_free(ob);
}

/* ---- corrupt and hostile files ---- */

static void test_corrupt_set_aside(void **state)
{
	static const char garbage[] = "{\"version\": 1,\n  oops\n}";
	struct tg_outbox *ob = open_ob();
	char (*ids)[TG_OUTBOX_ID_SIZE] = NULL;
	struct tg_outbox_msg m;
	struct tg_error err = { "" };
	char bad[TG_OUTBOX_ID_SIZE], *kept;
	ssize_t n;

	(void)state;
	memcpy(bad, id_of(0xbad), sizeof(bad));
	put_ok(ob, id_of(1), 1763600000);
	put_ok(ob, id_of(2), 1763600001);
	spit(at("outbox/new/%s.json", bad), garbage, sizeof(garbage) - 1);
	assert_int_equal(tg_outbox_pending(ob), 3);
	n = tg_outbox_list(ob, &ids, &err);
	assert_int_equal(n, 3);
	assert_string_equal(ids[0], bad);   /* unparsable first */
	assert_string_equal(ids[1], id_of(1));
	assert_string_equal(ids[2], id_of(2));
	free(ids);

	assert_int_equal(tg_outbox_load(ob, bad, &m, &err), -EBADMSG);
	expect_in(err.msg, at("outbox/new/%s.json:2: invalid JSON", bad), "corrupt");
	expect_in(err.msg, at("outbox/failed/%s.json.corrupt", bad), "corrupt");
	assert_null(m.channel);
	assert_false(present(at("outbox/new/%s.json", bad)));
	kept = slurp(at("outbox/failed/%s.json.corrupt", bad), NULL);
	assert_non_null(kept);
	assert_string_equal(kept, garbage);
	free(kept);
	/* the others are not blocked */
	n = tg_outbox_list(ob, &ids, &err);
	assert_int_equal(n, 2);
	free(ids);
	load_ok(ob, id_of(1), &m);
	tg_outbox_msg_clear(&m);
	load_ok(ob, id_of(2), &m);
	tg_outbox_msg_clear(&m);

	/* again the same name: the first copy stays; err may be NULL */
	spit(at("outbox/new/%s.json", bad), "", 0);
	assert_int_equal(tg_outbox_load(ob, bad, &m, NULL), -EBADMSG);
	assert_true(present(at("outbox/failed/%s.json.corrupt.1", bad)));
	kept = slurp(at("outbox/failed/%s.json.corrupt", bad), NULL);
	assert_string_equal(kept, garbage);
	free(kept);

	/* a file named after another id */
	{
		size_t len;
		char *data = slurp(at("outbox/new/%s.json", id_of(1)), &len);

		spit(at("outbox/new/%s.json", id_of(3)), data, len);
		free(data);
		assert_int_equal(tg_outbox_load(ob, id_of(3), &m, &err), -EBADMSG);
		expect_in(err.msg, "field 'id'", "id mismatch");
		expect_in(err.msg, "is not the file's name", "id mismatch");
		assert_true(present(at("outbox/failed/%s.json.corrupt", id_of(3))));
	}
	/* larger than 64 MiB: refused unread */
	{
		int fd = open(at("outbox/new/%s.json", id_of(4)), O_WRONLY | O_CREAT, 0600);

		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, (64 << 20) + 1), 0);
		close(fd);
		assert_int_equal(tg_outbox_load(ob, id_of(4), &m, &err), -EBADMSG);
		expect_in(err.msg, "larger than 64 MiB", "big file");
		assert_true(present(at("outbox/failed/%s.json.corrupt", id_of(4))));
	}
	/* a symlink and a directory: never followed, set aside */
	{
		assert_int_equal(symlink("/etc/passwd", at("outbox/new/%s.json", id_of(5))), 0);
		assert_int_equal(tg_outbox_load(ob, id_of(5), &m, &err), -EBADMSG);
		expect_in(err.msg, "symbolic link", "symlink");
		assert_true(present(at("outbox/failed/%s.json.corrupt", id_of(5))));
		assert_int_equal(mkdir(at("outbox/new/%s.json", id_of(6)), 0700), 0);
		assert_int_equal(tg_outbox_load(ob, id_of(6), &m, &err), -EBADMSG);
		expect_in(err.msg, "not a regular file", "directory");
	}
	assert_int_equal(tg_outbox_pending(ob), 2);
	tg_outbox_free(ob);
}

/* A valid message with field `field` set to the raw JSON `value` (NULL:
 * left out); extra is added before the closing brace. */
static char *doc(const char *field, const char *value, const char *extra)
{
	static const char *const names[] = {
		"version", "id", "kind", "channel", "to", "subject", "events", "created",
		"next_attempt", "attempts", "last_error", "body",
	};
	static const char *const values[] = {
		"1", "\"0123456789abcdef0123456789abcdef\"", "\"email\"", "\"posta\"",
		"[\"a@b.it\"]", "\"s\"", "[\"e1\"]", "1763600000", "0", "0", "null", "\"b\"",
	};
	size_t size = 1024 + (value != NULL ? strlen(value) : 0) + (extra != NULL ? strlen(extra) : 0);
	char *out = malloc(size);
	size_t o = 0;

	assert_non_null(out);
	o += (size_t)snprintf(out + o, size - o, "{\n");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = values[i];

		if (field != NULL && strcmp(field, names[i]) == 0) {
			if (value == NULL)
				continue;
			v = value;
		}
		o += (size_t)snprintf(out + o, size - o, "%s\"%s\": %s", o > 2 ? ",\n" : "",
				      names[i], v);
	}
	snprintf(out + o, size - o, "%s\n}\n", extra != NULL ? extra : "");
	return out;
}

static char *repeat(const char *pre, const char *unit, size_t n, const char *post)
{
	size_t u = strlen(unit), size = strlen(pre) + u * n + strlen(post) + 1;
	char *s = malloc(size), *p;

	assert_non_null(s);
	p = stpcpy(s, pre);
	for (size_t i = 0; i < n; i++)
		p = stpcpy(p, unit);
	strcpy(p, post);
	return s;
}

static void test_hostile_table(void **state)
{
	struct case_ {
		const char *what;
		const char *text;   /* whole file, or built from field/value/extra */
		const char *field, *value, *extra;
		const char *msg;
	} cases[] = {
		{ "bad JSON on line 4", NULL, "kind", "email", NULL, "NAME:4: invalid JSON" },
		{ "truncated", "{\"version\": 1,\n\"id\": \"0", NULL, NULL, NULL, "NAME:2: invalid JSON" },
		{ "empty", "", NULL, NULL, NULL, "NAME:1: invalid JSON" },
		{ "trailing garbage", NULL, NULL, NULL, "}{", "invalid JSON" },
		{ "an array", "[1, 2]", NULL, NULL, NULL, "expected a JSON object, got an array" },
		{ "a number", "12", NULL, NULL, NULL, "invalid JSON" },
		{ "version as string", NULL, "version", "\"1\"", NULL,
		  "field 'version': expected an integer, got a string" },
		{ "version 2", NULL, "version", "2", NULL, "version 2 is not supported" },
		{ "to as string", NULL, "to", "\"a@b.it\"", NULL,
		  "field 'to': expected an array, got a string" },
		{ "to of numbers", NULL, "to", "[\"a@b.it\", 7]", NULL,
		  "field 'to'[1]: expected a string, got an integer" },
		{ "empty recipient", NULL, "to", "[\"\"]", NULL, "field 'to'[0]: must not be empty" },
		{ "CR LF in recipient", NULL, "to", "[\"a@b.it\\r\\nDATA\"]", NULL,
		  "field 'to'[0]: contains a control character at byte 6: 'a@b.it\\x0d\\x0aDATA'" },
		{ "C1 control in subject", NULL, "subject", "\"x\\u009b2J\"", NULL,
		  "contains a control character at byte 1" },
		{ "created real", NULL, "created", "1763600000.5", NULL,
		  "field 'created': expected an integer, got a real number" },
		{ "created 0", NULL, "created", "0", NULL, "0 is out of range 1..253402300799" },
		{ "created negative", NULL, "created", "-5", NULL, "out of range" },
		{ "next_attempt huge", NULL, "next_attempt", "9223372036854775807", NULL,
		  "field 'next_attempt': 9223372036854775807 is out of range" },
		{ "created beyond int64", NULL, "created", "99999999999999999999", NULL,
		  "invalid JSON: too big" },
		{ "created 1e400", NULL, "created", "1e400", NULL, "invalid JSON" },
		{ "attempts negative", NULL, "attempts", "-1", NULL, "field 'attempts': -1" },
		{ "attempts huge", NULL, "attempts", "2147483648", NULL, "field 'attempts'" },
		{ "attempts boolean", NULL, "attempts", "true", NULL, "got a boolean" },
		{ "kind unknown", NULL, "kind", "\"sms\"", NULL, "field 'kind'" },
		{ "kind null", NULL, "kind", "null", NULL, "got null" },
		{ "last_error number", NULL, "last_error", "5", NULL,
		  "field 'last_error': expected a string" },
		{ "body missing", NULL, "body", NULL, NULL, "field 'body' is missing" },
		{ "unknown field", NULL, NULL, NULL, ",\n\"x\\u001b\": 1",
		  "unknown field 'x\\x1b'" },
		{ "duplicate field", NULL, NULL, NULL, ",\n\"kind\": \"email\"", "duplicate" },
		{ "NUL via \\u0000", NULL, "subject", "\"a\\u0000b\"", NULL, "invalid JSON" },
		{ "NUL via \\u0000 in body", NULL, "body", "\"a\\u0000b\"", NULL, "invalid JSON" },
		{ "raw NUL byte", "{\"version\": 1,\n\"id\": \"a\0b\"}", NULL, NULL, NULL,
		  "invalid JSON" },
		{ "invalid UTF-8", NULL, "subject", "\"caf\xe9\"", NULL, "invalid JSON" },
		{ "lone surrogate", NULL, "subject", "\"\\ud800\"", NULL, "invalid JSON" },
		{ "upper-case id", NULL, "id", "\"0123456789ABCDEF0123456789abcdef\"", NULL,
		  "field 'id': expected 32 lower-case hex digits, got '0123456789ABCDEF" },
		{ "short id", NULL, "id", "\"0123\"", NULL, "got '0123'" },
		{ "non-hex id", NULL, "id", "\"0123456789abcdef0123456789abcdeg\"", NULL,
		  "lower-case hex" },
		{ "path in id", NULL, "id", "\"../../../../../../../etc/passwd\"", NULL,
		  "lower-case hex" },
		{ "id number", NULL, "id", "5", NULL, "got an integer" },
		{ "long channel", NULL, "channel", NULL, NULL, "field 'channel': longer than 256" },
		{ "10 MB subject", NULL, "subject", NULL, NULL,
		  "field 'subject': longer than 4096 bytes (10000000)" },
		{ "10001 recipients", NULL, "to", NULL, NULL, "more than 10000 entries (10001)" },
		{ "200000 values", NULL, "events", NULL, NULL, "more than 110064 JSON values" },
		{ "deep nesting", NULL, "body", NULL, NULL, "invalid JSON" },
	};
	struct tg_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct case_ *c = &cases[i];
		struct tg_outbox_msg m;
		char *text = NULL, *value = NULL;
		size_t len;
		int r;

		if (strcmp(c->what, "long channel") == 0)
			value = repeat("\"", "c", 257, "\"");
		else if (strcmp(c->what, "10 MB subject") == 0)
			value = repeat("\"", "x", 10000000, "\"");
		else if (strcmp(c->what, "10001 recipients") == 0)
			value = repeat("[\"a@b.it\"", ",\"a@b.it\"", 10000, "]");
		else if (strcmp(c->what, "200000 values") == 0)
			value = repeat("[\"e\"", ",\"e\"", 199999, "]");
		else if (strcmp(c->what, "deep nesting") == 0)
			value = repeat("", "[", 100000, "");
		if (c->text != NULL) {
			len = strlen(c->text);
			if (strcmp(c->what, "raw NUL byte") == 0)   /* and what follows it */
				len += 1 + strlen(c->text + len + 1);
			r = tg_outbox_parse(c->text, len, "NAME", &m, &err);
		} else {
			if (strcmp(c->what, "bad JSON on line 4") == 0)
				text = doc(c->field, "email", NULL);   /* unquoted */
			else
				text = doc(c->field, value != NULL ? value : c->value, c->extra);
			r = tg_outbox_parse(text, strlen(text), "NAME", &m, &err);
		}
		if (r != -EBADMSG) {
			print_error("case %zu (%s): parse gave %d\n", i, c->what, r);
			fail();
		}
		assert_null(m.channel);   /* nothing half-filled */
		assert_null(m.body);
		expect_in(err.msg, c->msg, c->what);
		if (strncmp(err.msg, "NAME", 4) != 0) {
			print_error("case %zu (%s): no name in '%s'\n", i, c->what, err.msg);
			fail();
		}
		free(text);
		free(value);
	}
	/* the template itself is valid, and a file at the bounds passes */
	{
		struct tg_outbox_msg m;
		char *text = doc(NULL, NULL, NULL);

		assert_int_equal(tg_outbox_parse(text, strlen(text), "ok", &m, &err), 0);
		assert_string_equal(m.id, "0123456789abcdef0123456789abcdef");
		assert_string_equal(m.body, "b");
		tg_outbox_msg_clear(&m);
		free(text);
		text = doc("created", "253402300799", NULL);
		assert_int_equal(tg_outbox_parse(text, strlen(text), "ok", &m, &err), 0);
		assert_int_equal(m.created, INT64_C(253402300799));
		tg_outbox_msg_clear(&m);
		free(text);
		text = doc("last_error", "\"550 \\u00e8\"", NULL);
		assert_int_equal(tg_outbox_parse(text, strlen(text), NULL, &m, &err), 0);
		assert_string_equal(m.last_error, "550 \xc3\xa8");
		tg_outbox_msg_clear(&m);
		free(text);
	}
	/* and through load: the syntax error names the file and the line */
	{
		struct tg_outbox *ob = open_ob();
		struct tg_outbox_msg m;
		char *text = doc("attempts", "-1", NULL);

		spit(at("outbox/new/0123456789abcdef0123456789abcdef.json"), text, strlen(text));
		assert_int_equal(tg_outbox_load(ob, "0123456789abcdef0123456789abcdef", &m, &err),
				 -EBADMSG);
		expect_in(err.msg, at("outbox/new/0123456789abcdef0123456789abcdef.json: field "
				      "'attempts': -1 is out of range"), "load");
		free(text);
		tg_outbox_free(ob);
	}
}

/* ---- the directories ---- */

static void test_tmp_cleanup(void **state)
{
	struct tg_outbox *ob = open_ob();
	struct timespec ts[2];
	time_t now = time(NULL);

	(void)state;
	tg_outbox_free(ob);
	spit(at("outbox/tmp/old"), "x", 1);
	spit(at("outbox/tmp/young"), "x", 1);
	assert_int_equal(mkdir(at("outbox/tmp/olddir"), 0700), 0);
	ts[0].tv_sec = ts[1].tv_sec = now - 7200;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, at("outbox/tmp/old"), ts, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, at("outbox/tmp/olddir"), ts, 0), 0);
	ts[0].tv_sec = ts[1].tv_sec = now - 600;
	assert_int_equal(utimensat(AT_FDCWD, at("outbox/tmp/young"), ts, 0), 0);
	ob = open_ob();
	assert_false(present(at("outbox/tmp/old")));
	assert_true(present(at("outbox/tmp/young")));
	assert_true(present(at("outbox/tmp/olddir")));
	/* a leftover never counts as a message */
	assert_int_equal(tg_outbox_pending(ob), 0);
	tg_outbox_free(ob);
}

static void test_counts_and_names(void **state)
{
	struct tg_outbox *ob = open_ob();
	char (*ids)[TG_OUTBOX_ID_SIZE] = NULL;
	struct tg_error err = { "" };
	ssize_t n;

	(void)state;
	put_ok(ob, id_of(1), 1763600000);
	put_ok(ob, id_of(2), 1763600000);
	/* not messages: skipped silently */
	spit(at("outbox/new/README"), "x", 1);
	spit(at("outbox/new/.%s.json", id_of(3)), "x", 1);
	spit(at("outbox/new/%s.json.tmp-abc", id_of(3)), "x", 1);
	spit(at("outbox/new/%s.JSON", id_of(3)), "x", 1);
	spit(at("outbox/new/0123456789ABCDEF0123456789abcdef.json"), "x", 1);
	spit(at("outbox/new/0123.json"), "x", 1);
	assert_int_equal(mkdir(at("outbox/new/subdir"), 0700), 0);
	assert_int_equal(tg_outbox_pending(ob), 2);
	n = tg_outbox_list(ob, &ids, &err);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], id_of(1));
	assert_string_equal(ids[1], id_of(2));
	free(ids);
	assert_int_equal(tg_outbox_failed(ob), 0);
	spit(at("outbox/failed/%s.json", id_of(7)), "x", 1);
	spit(at("outbox/failed/%s.json.1", id_of(7)), "x", 1);
	spit(at("outbox/failed/%s.json.corrupt", id_of(8)), "x", 1);
	spit(at("outbox/failed/notes.txt"), "x", 1);
	spit(at("outbox/failed/%s.jsonx", id_of(9)), "x", 1);
	assert_int_equal(tg_outbox_failed(ob), 3);
	assert_int_equal(tg_outbox_pending(ob), 2);
	tg_outbox_free(ob);
}

static void test_open_errors(void **state)
{
	struct tg_outbox *ob = (struct tg_outbox *)1;
	struct tg_error err = { "" };
	char sub[600];

	(void)state;
	spit(at("file"), "x", 1);
	assert_int_equal(tg_outbox_open(at("file"), &ob, &err), -ENOTDIR);
	assert_null(ob);
	expect_in(err.msg, at("file"), "state dir is a file");
	assert_int_equal(mkdir(at("s"), 0700), 0);
	assert_int_equal(mkdir(at("s/outbox"), 0700), 0);
	spit(at("s/outbox/new"), "x", 1);
	assert_int_equal(tg_outbox_open(at("s"), &ob, &err), -ENOTDIR);
	expect_in(err.msg, at("s/outbox/new"), "new is a file");
	assert_int_equal(tg_outbox_open("", &ob, &err), -EINVAL);
	assert_null(ob);
	/* nested state directory, created */
	snprintf(sub, sizeof(sub), "%s", at("a/b/c"));
	assert_int_equal(tg_outbox_open(sub, &ob, &err), 0);
	assert_true(present(at("a/b/c/outbox/failed")));
	tg_outbox_free(ob);
}

/* After put (and every rewrite) returns, the file is complete in place and
 * no temporary is left; a crash's leftover in tmp/ changes nothing. */
static void test_crash_safety(void **state)
{
	struct tg_outbox *ob = open_ob();
	struct tg_outbox_msg m, back;
	struct tg_error err = { "" };
	char (*ids)[TG_OUTBOX_ID_SIZE] = NULL;
	char *data;
	size_t len;

	(void)state;
	/* a write interrupted before its rename */
	spit(at("outbox/tmp/%s.json.999.0", id_of(1)), "{\"version\": 1, \"id\"", 19);
	put_ok(ob, id_of(1), 1763600000);
	assert_int_equal(entries(at("outbox/tmp")), 1);   /* only the leftover */
	assert_int_equal(entries(at("outbox/new")), 1);
	data = slurp(at("outbox/new/%s.json", id_of(1)), &len);
	assert_non_null(data);
	assert_true(len > 0 && data[len - 1] == '\n');
	assert_int_equal(tg_outbox_parse(data, len, "new", &back, &err), 0);
	same_as_sample(&back, id_of(1), 1763600000);
	tg_outbox_msg_clear(&back);
	free(data);
	/* a rewrite replaces the whole file */
	load_ok(ob, id_of(1), &m);
	assert_int_equal(tg_outbox_retry(ob, &m, "later", 1763600100, -1, 0, &err), 0);
	assert_int_equal(entries(at("outbox/tmp")), 1);
	assert_int_equal(entries(at("outbox/new")), 1);
	data = slurp(at("outbox/new/%s.json", id_of(1)), &len);
	assert_int_equal(tg_outbox_parse(data, len, "new", &back, &err), 0);
	assert_int_equal(back.attempts, 1);
	tg_outbox_msg_clear(&back);
	free(data);
	assert_int_equal(tg_outbox_list(ob, &ids, &err), 1);
	free(ids);
	assert_int_equal(tg_outbox_fail(ob, &m, "no", &err), 0);
	assert_int_equal(entries(at("outbox/tmp")), 1);
	assert_int_equal(entries(at("outbox/new")), 0);
	assert_int_equal(entries(at("outbox/failed")), 1);
	tg_outbox_msg_clear(&m);
	tg_outbox_free(ob);
}

/* What put writes parses back to the same message, field for field, and
 * the file is readable: one field per line, in a fixed order. */
static void test_file_format(void **state)
{
	struct tg_outbox *ob = open_ob();
	char *data;
	size_t len;

	(void)state;
	put_ok(ob, id_of(1), 1763600000);
	data = slurp(at("outbox/new/%s.json", id_of(1)), &len);
	assert_non_null(data);
	expect_in(data, "{\n \"version\": 1,\n \"id\": \"00000000000000000000000000000001\",\n"
		  " \"kind\": \"email\",\n \"channel\": \"posta\",\n \"to\": [\n", "format");
	expect_in(data, "\"created\": 1763600000,\n \"next_attempt\": 0,\n \"attempts\": 0,\n"
		  " \"last_error\": null,\n \"body\": \"From:", "format");
	free(data);
	tg_outbox_free(ob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_due_after_clock_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_never_overwrites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moved_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_set_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmp_cleanup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_and_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_format, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
