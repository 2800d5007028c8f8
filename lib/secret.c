/*
 * secret.c — secrets read from files (see secret.h).
 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_MAX 4096

void tg_secret_free(char *s)
{
	/* the whole buffer: a failed read may have left bytes after a NUL */
	if (s != NULL) {
		explicit_bzero(s, SECRET_MAX + 1);
		free(s);
	}
}

char *tg_secret_read(const struct tg_config *cfg, const char *owner, const char *key,
		     const char *name, struct tg_error *err)
{
	char *path = tg_config_secret_path(cfg, name);
	char *buf = NULL;
	struct stat st;
	ssize_t n = 0, k;
	int fd;

	if (path == NULL) {
		tg_error_set(err, "out of memory");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		tg_error_setc(err, -errno, "%s: %s '%s': %s", owner, key, path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		tg_error_set(err, "%s: %s '%s': not a regular file", owner, key, path);
		goto out;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		tg_error_set(err, "%s: %s '%s' is %s by everyone: refused (chmod o-rw it)",
			     owner, key, path, st.st_mode & S_IROTH ? "readable" : "writable");
		goto out;
	}
	buf = malloc(SECRET_MAX + 1);
	if (buf == NULL) {
		tg_error_set(err, "out of memory");
		goto out;
	}
	while (n <= SECRET_MAX && (k = read(fd, buf + n, (size_t)(SECRET_MAX + 1 - n))) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			n = -1;
			break;
		}
		n += k;
	}
	if (n < 0 || n > SECRET_MAX || n == 0) {
		tg_error_set(err, "%s: %s '%s': %s", owner, key, path,
			     n < 0 ? strerror(errno) : n == 0 ? "empty" : "longer than 4 KiB");
		tg_secret_free(buf);
		buf = NULL;
		goto out;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (n == 0 || strpbrk(buf, "\r\n") != NULL || strlen(buf) != (size_t)n) {
		tg_error_set(err, "%s: %s '%s': %s", owner, key, path,
			     n == 0 ? "empty" : "more than one line");
		tg_secret_free(buf);
		buf = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return buf;
}

