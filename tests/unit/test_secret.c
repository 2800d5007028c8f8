/*
 * test_secret.c — secrets from files: what is refused and why, the trailing
 * newline, $CREDENTIALS_DIRECTORY first, and no secret in any message.
 */
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

#include "config.h"
#include "secret.h"

static char dir[64], conf[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tg-secret-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/x.conf", dir);
	return 0;
}

static int teardown(void **state)
{
	static const char *const names[] = { "s", "fifo", "creds/s", "creds" };
	char p[256];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		if (unlink(p) < 0)
			rmdir(p);
	}
	rmdir(dir);
	return 0;
}

static void put(const char *name, const char *content, size_t len, mode_t mode)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
}

static void test_cases(void **state)
{
	static const struct {
		const char *content;
		mode_t mode;
		const char *want;     /* the secret, or NULL */
		const char *error;    /* a piece of the message when refused */
	} cases[] = {
		{ "t0ken\n", 0600, "t0ken", NULL },
		{ "t0ken\r\n", 0640, "t0ken", NULL },
		{ "t0ken", 0400, "t0ken", NULL },
		{ "t0ken\n", 0604, NULL, "readable by everyone" },
		{ "t0ken\n", 0602, NULL, "writable by everyone" },
		{ "", 0600, NULL, "empty" },
		{ "\n", 0600, NULL, "empty" },
		{ "a\nb\n", 0600, NULL, "more than one line" },
	};
	struct tg_config *cfg = tg_config_load_string("", conf, NULL, NULL, NULL);

	(void)state;
	assert_non_null(cfg);
	unsetenv("CREDENTIALS_DIRECTORY");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tg_error err = { "" };
		char *s;

		put("s", cases[i].content, strlen(cases[i].content), cases[i].mode);
		s = tg_secret_read(cfg, "source 'x'", "password_file", "s", &err);
		if (cases[i].want != NULL) {
			if (s == NULL || strcmp(s, cases[i].want) != 0)
				fail_msg("case %zu: got %s (%s)", i, s ? s : "NULL", err.msg);
		} else {
			if (s != NULL || strstr(err.msg, cases[i].error) == NULL ||
			    strstr(err.msg, "source 'x': password_file") == NULL)
				fail_msg("case %zu: expected '%s', got '%s'", i, cases[i].error, err.msg);
			if (strstr(err.msg, "t0ken") != NULL)
				fail_msg("case %zu: the secret is in the message", i);
		}
		tg_secret_free(s);
	}
	tg_config_free(cfg);
}

static void test_too_long_and_not_regular(void **state)
{
	struct tg_config *cfg = tg_config_load_string("", conf, NULL, NULL, NULL);
	char big[5000], p[256];
	struct tg_error err;

	(void)state;
	memset(big, 'k', sizeof(big));
	put("s", big, sizeof(big), 0600);
	assert_null(tg_secret_read(cfg, "channel 'posta'", "password_file", "s", &err));
	assert_non_null(strstr(err.msg, "longer than 4 KiB"));
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	/* refused at once: open(O_NONBLOCK) cannot hang on a FIFO */
	assert_null(tg_secret_read(cfg, "channel 'posta'", "password_file", "fifo", &err));
	assert_non_null(strstr(err.msg, "not a regular file"));
	assert_null(tg_secret_read(cfg, "channel 'posta'", "password_file", "missing", &err));
	assert_non_null(strstr(err.msg, "No such file"));
	tg_config_free(cfg);
}

static void test_credentials_directory_first(void **state)
{
	struct tg_config *cfg = tg_config_load_string("", conf, NULL, NULL, NULL);
	char creds[256];
	struct tg_error err;
	char *s;

	(void)state;
	snprintf(creds, sizeof(creds), "%s/creds", dir);
	assert_int_equal(mkdir(creds, 0700), 0);
	put("s", "from-config-dir\n", 16, 0600);
	put("creds/s", "from-credentials\n", 17, 0600);
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	s = tg_secret_read(cfg, "source 'x'", "bearer_token_file", "s", &err);
	assert_non_null(s);
	assert_string_equal(s, "from-credentials");
	tg_secret_free(s);
	unsetenv("CREDENTIALS_DIRECTORY");
	tg_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_too_long_and_not_regular),
		cmocka_unit_test(test_credentials_directory_first),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
