/*
 * pgutil.h — the small pieces every libpq client of traguardo needs (the
 * PostgreSQL source, the archive, active/standby), kept in one place.
 */
#ifndef TG_PGUTIL_H
#define TG_PGUTIL_H

#include <stddef.h>

#include "error.h"

/* The options= of a conninfo into buf, else PGOPTIONS (libpq's default
 * for the keyword, which giving it replaces); "" when none, unparsable or
 * too long to keep (logged).  Callers append their own -c settings after
 * it, so that the administrator's options are kept.  A service file's
 * options= cannot be seen from here. */
void tg_pg_user_options(const char *conninfo, char *buf, size_t size);

/* A libpq or server message (may span lines, end with a newline, quote any
 * byte) as one quoted line for a log: runs of blanks become one space.
 * Returns buf. */
const char *tg_pg_one_line(const char *s, char *buf, size_t size);

/* A notice processor (PQsetNoticeProcessor(conn, tg_pg_on_notice, &n)):
 * libpq prints notices and the server's last words on stderr by default;
 * here a FATAL one is kept in fatal (why the server hung up) and every one
 * is logged at debug level as "WHO: server says: ...". */
struct tg_pg_notices {
	const char *who;                /* "archive", "ha" */
	char fatal[TG_ERROR_MAX / 4];   /* the last FATAL notice, or "" */
};
void tg_pg_on_notice(void *arg, const char *message);

#endif
