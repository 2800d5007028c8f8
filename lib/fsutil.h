/*
 * fsutil.h — small file-system operations done right once: atomic replace
 * of a file (write temp, fsync, rename, fsync directory) and mkdir -p.
 */
#ifndef TG_FSUTIL_H
#define TG_FSUTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"

/* Replaces path with data atomically: a reader sees the old or the new
 * content, never a mix, even after a crash.  The data goes to a uniquely
 * named PATH.tmp-XXXXXX in the same directory (so concurrent writers never
 * share a temporary), is fsync'ed, renamed over path, and the directory is
 * fsync'ed.  The file gets exactly mode (the umask does not apply).  If path
 * is a symlink, the link itself is replaced, never its target. */
int tg_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		       struct tg_error *err);

/* A stream over the entries of the directory dir_fd, from its start, with
 * a descriptor of its own (dir_fd stays open and unmoved); NULL with errno
 * set when it cannot be opened.  closedir() when done. */
DIR *tg_fs_opendir_at(int dir_fd);

/* Whether name is that of tg_fs_write_atomic's temporary: NAME.tmp-XXXXXX
 * (six letters or digits, as mkostemp makes them). */
bool tg_fs_atomic_tmp_name(const char *name);

/* Removes the entries of the directory dir_fd that are not directories,
 * match (any name but . and .. when match is NULL), and were last
 * modified more than max_age seconds before now: what an interrupted write
 * left behind, not a write in progress, even of another process.  Best
 * effort; returns how many were removed. */
size_t tg_fs_remove_stale(int dir_fd, bool (*match)(const char *name), time_t now,
			  time_t max_age);

/* tg_fs_remove_stale of dir with tg_fs_atomic_tmp_name, an hour old: the
 * temporaries of atomic writes a kill left in the state directory. */
size_t tg_fs_remove_stale_tmp(const char *dir, time_t now);

#define TG_CORRUPT_KEEP 3   /* copies of a damaged file kept aside */

/* Of the copies PATH.corrupt-TIME[-N] (TIME unix seconds) kept of a damaged
 * file, removes all but the keep newest, the copy just made (its path)
 * always among them, whatever the times in the other names say.  Best
 * effort; returns how many were removed. */
size_t tg_fs_prune_corrupt(const char *path, const char *just_made, size_t keep);

/* Writes all of p[0..len) to fd, again after EINTR and short writes.
 * Returns 0 or -errno (-EIO if write(2) writes nothing). */
int tg_fs_write_all(int fd, const void *p, size_t len);

/* Creates dir and its missing parents with mode (like mkdir -p; the umask
 * applies).  Fails with -ENOTDIR when dir exists but is not a directory. */
int tg_fs_mkdirs(const char *dir, mode_t mode, struct tg_error *err);

/* Whether a file's time a is no later than b: a file staged for a cycle
 * whose state (saved after it) has time b belongs to that saved state. */
bool tg_fs_not_newer(const struct timespec *a, const struct timespec *b);

/* "DIR/NAME" in a new string (caller frees), no slash doubled when dir
 * already ends with one; an empty dir gives NAME.  NULL on ENOMEM. */
char *tg_fs_join(const char *dir, const char *name);

#endif
