/*
 * preview.c — dry-run messages as files (see preview.h).
 */
#include "preview.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

int tg_preview_clear(const char *dir, struct tg_error *err)
{
	int rc = tg_fs_mkdirs(dir, 0750, err);
	DIR *d;
	struct dirent *de;
	char path[4096];

	if (rc < 0)
		return rc;
	if ((d = opendir(dir)) == NULL)
		return tg_error_setc(err, -errno, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if ((has_suffix(de->d_name, ".txt") || has_suffix(de->d_name, ".eml") ||
		     has_suffix(de->d_name, ".json")) &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < sizeof(path))
			unlink(path);
	closedir(d);
	return 0;
}

/* A file-name-safe copy: letters, digits, '.', '-', '_' and '@' only. */
static void safe_name(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (; *s && o + 1 < size; s++) {
		unsigned char c = (unsigned char)*s;

		buf[o++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    c == '.' || c == '-' || c == '_' || c == '@') ? (char)c : '_';
	}
	buf[o] = '\0';
}

int tg_preview_write(const char *dir, size_t n, const char *channel, const char *to,
		     const char *view, size_t view_len, const char *payload, size_t payload_len,
		     const char *ext, struct tg_error *err)
{
	char ch[80], rcpt[120], path[4096], path2[4096];
	int rc;

	safe_name(channel, ch, sizeof(ch));
	safe_name(to != NULL ? to : "webhook", rcpt, sizeof(rcpt));
	if ((size_t)snprintf(path, sizeof(path), "%s/%03zu-%s-%s.txt", dir, n, ch, rcpt) >= sizeof(path) ||
	    (size_t)snprintf(path2, sizeof(path2), "%s/%03zu-%s-%s.%s", dir, n, ch, rcpt, ext) >= sizeof(path2))
		return tg_error_setc(err, -ENAMETOOLONG, "%s: path too long", dir);
	if ((rc = tg_fs_write_atomic(path, view, view_len, 0640, err)) < 0)
		return rc;
	return tg_fs_write_atomic(path2, payload, payload_len, 0640, err);
}
