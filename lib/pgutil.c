/*
 * pgutil.c — shared libpq helpers (see pgutil.h).
 */
#include "pgutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"

void tg_pg_user_options(const char *conninfo, char *buf, size_t size)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *v = NULL;

	buf[0] = '\0';
	for (const PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "options") == 0 && o->val != NULL)
			v = o->val;
	/* libpq's own default for the keyword, which giving it replaces */
	if (v == NULL)
		v = getenv("PGOPTIONS");
	if (v != NULL && strlen(v) < size)
		snprintf(buf, size, "%s", v);
	else if (v != NULL)
		tg_log(LOG_WARNING, "PostgreSQL options of %zu bytes (at most %zu) not used: %.60s...",
		       strlen(v), size - 1, v);
	PQconninfoFree(opts);
}

const char *tg_pg_one_line(const char *s, char *buf, size_t size)
{
	char line[TG_ERROR_MAX];
	size_t o = 0;
	bool space = false;

	for (const char *p = s != NULL ? s : ""; *p != '\0' && o + 2 < sizeof(line); p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
			space = o > 0;
			continue;
		}
		if (space)
			line[o++] = ' ';
		space = false;
		line[o++] = *p;
	}
	line[o] = '\0';
	return tg_error_quote(line, o, size, buf, size);
}

void tg_pg_on_notice(void *arg, const char *message)
{
	struct tg_pg_notices *n = arg;
	char m[TG_ERROR_MAX / 2];

	tg_pg_one_line(message, m, sizeof(m));
	if (strncmp(m, "FATAL:", 6) == 0)
		snprintf(n->fatal, sizeof(n->fatal), "%.*s", (int)sizeof(n->fatal) - 1, m);
	if (tg_log_verbosity() > 0)
		tg_log(LOG_DEBUG, "%s: server says: %s", n->who, m);
}
