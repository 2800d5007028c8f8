/*
 * test_fsutil.c — atomic replacement (content, mode, no temporary left,
 * a symlink replaced and never followed, a stale or planted temporary name
 * harmless, errors with the path), stale temporaries removed, and mkdir -p (nested, existing, a file in
 * the way).
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
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tg-fsutil-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *at(const char *name)
{
	static char path[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
	return path[k];
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
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

static void test_not_newer(void **state)
{
	struct timespec a = { 10, 500 }, same = { 10, 500 }, later_ns = { 10, 501 },
			later_s = { 11, 0 }, earlier_s = { 9, 999999999 };

	(void)state;
	assert_true(tg_fs_not_newer(&a, &same));
	assert_true(tg_fs_not_newer(&a, &later_ns));
	assert_true(tg_fs_not_newer(&a, &later_s));
	assert_false(tg_fs_not_newer(&later_ns, &a));
	assert_false(tg_fs_not_newer(&a, &earlier_s));
}

static void test_write_and_replace(void **state)
{
	struct tg_error err;
	struct stat st;

	(void)state;
	assert_int_equal(tg_fs_write_atomic(at("a.json"), "first", 5, 0640, &err), 0);
	assert_string_equal(slurp(at("a.json")), "first");
	assert_int_equal(stat(at("a.json"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(tg_fs_write_atomic(at("a.json"), "second, longer", 14, 0600, &err), 0);
	assert_string_equal(slurp(at("a.json")), "second, longer");
	assert_int_equal(stat(at("a.json"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(tg_fs_write_atomic(at("a.json"), "", 0, 0640, &err), 0);
	assert_string_equal(slurp(at("a.json")), "");
	assert_int_equal(entries(dir), 1);   /* no temporary left behind */
	unlink(at("a.json"));
}

/* A symlink at the path is replaced by the file: its target is untouched. */
static void test_symlink_not_followed(void **state)
{
	struct tg_error err;
	struct stat st;

	(void)state;
	assert_int_equal(tg_fs_write_atomic(at("victim"), "keep", 4, 0600, &err), 0);
	assert_int_equal(symlink(at("victim"), at("b.json")), 0);
	assert_int_equal(tg_fs_write_atomic(at("b.json"), "new", 3, 0640, &err), 0);
	assert_string_equal(slurp(at("victim")), "keep");
	assert_int_equal(lstat(at("b.json"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(slurp(at("b.json")), "new");
	unlink(at("b.json"));
	unlink(at("victim"));
}

/* The old fixed temporary name "PATH.tmp": a stale file or a symlink
 * planted there by someone else neither blocks the write nor is written. */
static void test_planted_temporary(void **state)
{
	struct tg_error err;

	(void)state;
	assert_int_equal(tg_fs_write_atomic(at("victim"), "keep", 4, 0600, &err), 0);
	assert_int_equal(symlink(at("victim"), at("c.json.tmp")), 0);
	assert_int_equal(tg_fs_write_atomic(at("c.json"), "data", 4, 0640, &err), 0);
	assert_string_equal(slurp(at("victim")), "keep");
	assert_string_equal(slurp(at("c.json")), "data");
	/* two writers one after the other (each with its own temporary) */
	assert_int_equal(tg_fs_write_atomic(at("c.json"), "data2", 5, 0640, &err), 0);
	assert_string_equal(slurp(at("c.json")), "data2");
	assert_int_equal(entries(dir), 3);   /* victim, the planted link, c.json */
	unlink(at("c.json.tmp"));
	unlink(at("c.json"));
	unlink(at("victim"));
}

static void touch_at(const char *path, time_t mtime)
{
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fclose(f);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* What a kill between mkostemp and rename leaves: removed once an hour
 * old, never younger (another process's write may be in progress), never
 * a name that is not a temporary's, a directory, or a symlink's target. */
static void test_remove_stale(void **state)
{
	time_t now = time(NULL) + 7200;   /* the link below is made now */
	static const char *const left[] = { "state.json.tmp-CCCCCC", "status.json",
					    "notes.tmp-DDDDDDD", "victim" };

	(void)state;
	assert_true(tg_fs_atomic_tmp_name("status.json.tmp-a1B2c3"));
	assert_true(tg_fs_atomic_tmp_name("x.tmp-ZZZZZZ"));
	assert_false(tg_fs_atomic_tmp_name(".tmp-abcdef"));
	assert_false(tg_fs_atomic_tmp_name("status.json.tmp-abcde"));
	assert_false(tg_fs_atomic_tmp_name("status.json.tmp-abcdefg"));
	assert_false(tg_fs_atomic_tmp_name("status.json.tmp-abc.ef"));
	assert_false(tg_fs_atomic_tmp_name("status.json"));
	assert_false(tg_fs_atomic_tmp_name("journal.tmp"));

	touch_at(at("status.json.tmp-AAAAAA"), now - 3601);   /* stale */
	touch_at(at("state.json.tmp-BBBBBB"), now - 86400);   /* stale */
	touch_at(at("state.json.tmp-CCCCCC"), now - 60);      /* in progress */
	touch_at(at("status.json"), now - 86400);
	touch_at(at("notes.tmp-DDDDDDD"), now - 86400);        /* not a temporary's */
	assert_int_equal(symlink(at("victim"), at("link.tmp-EEEEEE")), 0);
	assert_int_equal(mkdir(at("dir.tmp-FFFFFF"), 0700), 0);
	touch_at(at("victim"), now);   /* the link's target: young, and kept */
	assert_int_equal(tg_fs_remove_stale_tmp(dir, now), 3);
	assert_null(slurp(at("status.json.tmp-AAAAAA")));
	assert_null(slurp(at("state.json.tmp-BBBBBB")));
	assert_non_null(slurp(at("state.json.tmp-CCCCCC")));
	assert_non_null(slurp(at("status.json")));
	assert_non_null(slurp(at("notes.tmp-DDDDDDD")));
	assert_non_null(slurp(at("victim")));   /* the link went, not its target */
	assert_int_equal(access(at("dir.tmp-FFFFFF"), F_OK), 0);
	assert_int_equal(entries(dir), 5);
	assert_int_equal(tg_fs_remove_stale_tmp(dir, now), 0);
	assert_int_equal(tg_fs_remove_stale_tmp(at("missing"), now), 0);
	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++)
		assert_int_equal(unlink(at(left[i])), 0);
	assert_int_equal(rmdir(at("dir.tmp-FFFFFF")), 0);
}

/* Copies of a damaged file: the newest TG_CORRUPT_KEEP by the time in
 * their name (then the -N), never another name. */
static void test_prune_corrupt(void **state)
{
	static const char *const gone[] = { "state.json.corrupt-99", "state.json.corrupt-1000-1",
					    "state.json.corrupt-1000" };
	static const char *const kept[] = { "state.json.corrupt-1795000000",
					    "state.json.corrupt-1000-3", "state.json.corrupt-1000-2",
					    "state.json.corrupt-", "state.json.corrupt-12x",
					    "state.json.corrupt-12-", "state.json.corrupt-12-1-1",
					    "journal.corrupt-1", "state.json" };
	char path[300];

	(void)state;
	for (size_t i = 0; i < 3; i++)
		touch_at(at(gone[i]), 0);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		touch_at(at(kept[i]), 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(tg_fs_prune_corrupt(path, at("state.json.corrupt-1795000000"), 3), 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(access(at(gone[i]), F_OK), -1);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		assert_int_equal(access(at(kept[i]), F_OK), 0);
		assert_int_equal(unlink(at(kept[i])), 0);
	}
	/* the copy just made is kept though the others' names say later
	 * times (written while the clock was ahead) */
	touch_at(at("state.json.corrupt-1900000000"), 0);
	touch_at(at("state.json.corrupt-1900000001"), 0);
	touch_at(at("state.json.corrupt-1900000002"), 0);
	touch_at(at("state.json.corrupt-1795000000"), 0);
	assert_int_equal(tg_fs_prune_corrupt(path, at("state.json.corrupt-1795000000"), 3), 1);
	assert_int_equal(access(at("state.json.corrupt-1795000000"), F_OK), 0);
	assert_int_equal(access(at("state.json.corrupt-1900000000"), F_OK), -1);
	assert_int_equal(unlink(at("state.json.corrupt-1795000000")), 0);
	assert_int_equal(unlink(at("state.json.corrupt-1900000001")), 0);
	assert_int_equal(unlink(at("state.json.corrupt-1900000002")), 0);
	assert_int_equal(tg_fs_prune_corrupt("/nonexistent/dir/state.json", "x", 3), 0);
}

static void test_write_errors(void **state)
{
	struct tg_error err;
	char longpath[5000];

	(void)state;
	err.msg[0] = '\0';
	assert_int_equal(tg_fs_write_atomic(at("no/such/dir/x.json"), "x", 1, 0640, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no/such/dir/x.json"));
	assert_int_equal(mkdir(at("d.json"), 0700), 0);   /* a directory in the way */
	assert_true(tg_fs_write_atomic(at("d.json"), "x", 1, 0640, &err) < 0);
	assert_non_null(strstr(err.msg, "d.json"));
	assert_int_equal(entries(dir), 1);                 /* the temporary was removed */
	rmdir(at("d.json"));
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(tg_fs_write_atomic(longpath, "x", 1, 0640, &err), -ENAMETOOLONG);
}

static void test_mkdirs(void **state)
{
	struct tg_error err;
	struct stat st;

	(void)state;
	assert_int_equal(tg_fs_mkdirs(at("m/n/o"), 0750, &err), 0);
	assert_int_equal(stat(at("m/n/o"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(tg_fs_mkdirs(at("m/n/o"), 0750, &err), 0);     /* exists: fine */
	assert_int_equal(tg_fs_mkdirs(at("m//n/p/"), 0750, &err), 0);   /* doubled and trailing slash */
	assert_int_equal(stat(at("m/n/p"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* a file in the way, as the last component or in the middle */
	assert_int_equal(tg_fs_write_atomic(at("m/file"), "x", 1, 0600, &err), 0);
	err.msg[0] = '\0';
	assert_int_equal(tg_fs_mkdirs(at("m/file"), 0750, &err), -ENOTDIR);
	assert_non_null(strstr(err.msg, "m/file"));
	assert_int_equal(tg_fs_mkdirs(at("m/file/sub"), 0750, &err), -ENOTDIR);
	assert_int_equal(tg_fs_mkdirs("", 0750, &err), -ENAMETOOLONG);
	assert_int_equal(tg_fs_mkdirs("/", 0750, &err), 0);
}

static void test_join(void **state)
{
	static const struct { const char *dir, *name, *want; } cases[] = {
		{ "/var/lib/traguardo", "state.json", "/var/lib/traguardo/state.json" },
		{ "/etc/traguardo/", "templates", "/etc/traguardo/templates" },
		{ "/", "x", "/x" },
		{ "", "rel", "rel" },
		{ "/tmp", "", "/tmp/" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = tg_fs_join(cases[i].dir, cases[i].name);

		assert_non_null(p);
		if (strcmp(p, cases[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, p, cases[i].want);
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_newer),
		cmocka_unit_test(test_write_and_replace),
		cmocka_unit_test(test_symlink_not_followed),
		cmocka_unit_test(test_planted_temporary),
		cmocka_unit_test(test_remove_stale),
		cmocka_unit_test(test_prune_corrupt),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_mkdirs),
		cmocka_unit_test(test_join),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
