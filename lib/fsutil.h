/*
 * fsutil.h — small file-system operations done right once: atomic replace
 * of a file (write temp, fsync, rename, fsync directory) and mkdir -p.
 */
#ifndef TG_FSUTIL_H
#define TG_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Replaces path with data atomically: a reader sees the old or the new
 * content, never a mix, even after a crash. */
int tg_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		       struct tg_error *err);

/* Creates dir and its missing parents with mode (like mkdir -p). */
int tg_fs_mkdirs(const char *dir, mode_t mode, struct tg_error *err);

#endif
