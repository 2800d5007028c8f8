/*
 * fsutil.c — atomic file replacement and directory creation (see fsutil.h).
 *
 * The temporary file of an atomic write has a unique name (mkostemp), so two
 * processes replacing the same file never write into each other's temporary,
 * and O_EXCL means a symlink planted under that name is never followed.
 */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STALE_TMP_AGE 3600

bool tg_fs_atomic_tmp_name(const char *name)
{
	size_t len = strlen(name);
	const char *x;

	if (len < 12)
		return false;
	x = name + len - 6;
	if (memcmp(x - 5, ".tmp-", 5) != 0)
		return false;
	for (int i = 0; i < 6; i++)
		if (!((x[i] >= 'a' && x[i] <= 'z') || (x[i] >= 'A' && x[i] <= 'Z') ||
		      (x[i] >= '0' && x[i] <= '9')))
			return false;
	return true;
}

DIR *tg_fs_opendir_at(int dir_fd)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;
	DIR *d;

	if (fd < 0)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

size_t tg_fs_remove_stale(int dir_fd, bool (*match)(const char *name), time_t now,
			  time_t max_age)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = tg_fs_opendir_at(dir_fd);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (match != NULL && !match(de->d_name)))
			continue;
		if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(st.st_mode))
			continue;
		if (st.st_mtime < now - max_age && unlinkat(dir_fd, de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

size_t tg_fs_remove_stale_tmp(const char *dir, time_t now)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t n;

	if (fd < 0)
		return 0;
	n = tg_fs_remove_stale(fd, tg_fs_atomic_tmp_name, now, STALE_TMP_AGE);
	close(fd);
	return n;
}

struct aside {
	long long t, n;
	char *name;
};

static int aside_cmp(const void *a, const void *b)
{
	const struct aside *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? 1 : -1;   /* newest first */
	return x->n < y->n ? 1 : x->n > y->n ? -1 : 0;
}

/* Digits at *p up to a '-' or the end, as a number; false when none or
 * too many. */
static bool take_number(const char **p, long long *out)
{
	const char *s = *p;
	long long v = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (s - *p >= 18)
			return false;
		v = v * 10 + (*s - '0');
	}
	*p = s;
	*out = v;
	return true;
}

size_t tg_fs_prune_corrupt(const char *path, const char *just_made, size_t keep)
{
	const char *slash = strrchr(path, '/'), *made = strrchr(just_made, '/');
	char *dir = slash == NULL ? strdup(".") : strndup(path, (size_t)(slash - path) + 1);
	char *prefix = malloc(strlen(path) + 16);
	struct aside *v = NULL;
	size_t n = 0, cap = 0, removed = 0, plen;
	struct dirent *de;
	DIR *d = NULL;
	int fd;

	if (dir == NULL || prefix == NULL)
		goto out;
	plen = (size_t)sprintf(prefix, "%s.corrupt-", slash == NULL ? path : slash + 1);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto out;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		const char *p = de->d_name + plen;
		struct aside a = { 0, 0, NULL };

		if (strncmp(de->d_name, prefix, plen) != 0 || !take_number(&p, &a.t) ||
		    (*p == '-' && (p++, !take_number(&p, &a.n))) || *p != '\0' ||
		    strcmp(de->d_name, made != NULL ? made + 1 : just_made) == 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct aside *nv = realloc(v, ncap * sizeof(*v));

			if (nv == NULL)
				break;
			v = nv;
			cap = ncap;
		}
		if ((a.name = strdup(de->d_name)) == NULL)
			break;
		v[n++] = a;
	}
	if (keep > 0)
		keep--;   /* the one just made */
	if (n > keep) {
		qsort(v, n, sizeof(*v), aside_cmp);
		for (size_t i = keep; i < n; i++)
			if (unlinkat(dirfd(d), v[i].name, 0) == 0)
				removed++;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	if (d != NULL)
		closedir(d);
	free(prefix);
	free(dir);
	return removed;
}

bool tg_fs_not_newer(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

int tg_fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Makes the rename durable.  After a successful rename the new content is
 * in place whatever happens here, so a failure is not reported as a failed
 * write (the caller could not undo it anyway). */
static void fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (copy == NULL)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

int tg_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		       struct tg_error *err)
{
	char tmp[4096];
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= sizeof(tmp))
		return tg_error_setc(err, -ENAMETOOLONG, "%s: path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return tg_error_setc(err, -errno, "%s: %s", tmp, strerror(errno));
	/* mkostemp creates 0600; the mode asked for is set exactly */
	rc = fchmod(fd, mode) < 0 ? -errno : 0;
	if (rc == 0)
		rc = tg_fs_write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return tg_error_setc(err, rc, "%s: %s", path, strerror(-rc));
	}
	fsync_dir_of(path);
	return 0;
}

int tg_fs_mkdirs(const char *dir, mode_t mode, struct tg_error *err)
{
	char buf[4096];
	size_t len = strlen(dir);
	struct stat st;

	if (len == 0 || len >= sizeof(buf))
		return tg_error_setc(err, -ENAMETOOLONG, "%s: bad directory name", dir);
	memcpy(buf, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return tg_error_setc(err, -errno, "%s: %s", buf, strerror(errno));
		buf[i] = dir[i];
	}
	/* EEXIST also means "a file of that name": only a directory will do */
	if (stat(dir, &st) < 0)
		return tg_error_setc(err, -errno, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return tg_error_setc(err, -ENOTDIR, "%s: %s", dir, strerror(ENOTDIR));
	return 0;
}

char *tg_fs_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool slash = dl > 0 && dir[dl - 1] == '/';
	char *p = malloc(dl + nl + 2);

	if (p == NULL)
		return NULL;
	memcpy(p, dir, dl);
	if (!slash && dl > 0)
		p[dl++] = '/';
	memcpy(p + dl, name, nl + 1);
	return p;
}
