/*
 * source_pg.c — a PostgreSQL query read row by row on the event loop (see
 * source_pg.h).
 *
 * One state machine per run, fed by readiness of libpq's socket: connecting
 * (PQconnectPoll says which direction it waits for, and the socket may change
 * between attempts, e.g. from one host of a list to the next), sending
 * (PQflush until the query is out), reading (PQconsumeInput, then every
 * result that PQisBusy says is complete).  One timer bounds the run, since
 * libpq enforces no timeout in non-blocking mode and statement_timeout does
 * not cover the connection.
 */
#include "source_pg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pgutil.h"
#include "secret.h"

#define WARN_ROWS 20       /* bad rows reported one by one, then only counted */
#define GRACE_SEC 5        /* past statement_timeout before we give up ourselves */

/* PostgreSQL type OIDs (pg_type.dat; stable across versions) */
#define OID_BOOL 16
#define OID_NAME 19
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_BPCHAR 1042
#define OID_VARCHAR 1043
#define OID_DATE 1082
#define OID_TIMESTAMP 1114
#define OID_TIMESTAMPTZ 1184
#define OID_NUMERIC 1700

enum state { CONNECTING, SENDING, READING };
enum pkind { P_DATE, P_TEXT, P_YEAR };
enum vkind { V_NUMBER, V_TEXT };

struct tg_source_pg_run {
	struct tg_source_pg_params p;
	PGconn *conn;
	sd_event_source *io, *timer;
	int fd;                       /* the socket io watches */
	enum state state;
	bool have_columns;
	int ci, cp, cv;               /* column numbers */
	enum pkind pk;
	enum vkind vk;
	char last_date[10];           /* the last "YYYY-MM-DD" read, and its date */
	struct tg_date last;
	unsigned long row;
	size_t warned;
	struct tg_unknown_ids *unknown;
	struct tg_error err;          /* the first query error, reported at the end */
	bool failed;
	char *password;
};

static void run_free(struct tg_source_pg_run *r)
{
	if (r == NULL)
		return;
	sd_event_source_disable_unref(r->io);
	sd_event_source_disable_unref(r->timer);
	if (r->conn != NULL)
		PQfinish(r->conn);
	tg_unknown_ids_free(r->unknown);
	tg_secret_free(r->password);
	free(r);
}

void tg_source_pg_cancel(struct tg_source_pg_run *run)
{
	run_free(run);
}

/* libpq messages end with a newline and may span lines ("...refused\n\tIs
 * the server running..."): one line for logs, a line break becoming "; ". */
static void one_line(char *s)
{
	char *out = s;

	for (const char *in = s; *in != '\0';) {
		if (*in == '\n' || *in == '\r' || *in == '\t') {
			bool nl = false;

			for (; *in == '\n' || *in == '\r' || *in == '\t' || *in == ' '; in++)
				nl |= *in == '\n' || *in == '\r';
			if (*in != '\0' && out > s) {
				if (nl)
					*out++ = ';';
				*out++ = ' ';
			}
			continue;
		}
		*out++ = *in++;
	}
	while (out > s && out[-1] == ' ')
		out--;
	*out = '\0';
}

/* Server text (messages may quote data, a RAISE anything): one line, then
 * quoted so no byte from the database forges a log line. */
static const char *server_text(const char *s, char *buf, size_t size)
{
	char line[TG_ERROR_MAX];

	snprintf(line, sizeof(line), "%s", s != NULL ? s : "");
	one_line(line);
	return tg_error_quote(line, strlen(line), size, buf, size);
}

static void fail_conn(struct tg_source_pg_run *r, const char *what)
{
	char msg[TG_ERROR_MAX];

	server_text(PQerrorMessage(r->conn), msg, sizeof(msg));
	tg_error_set(&r->err, "%s: %s", what, msg[0] != '\0' ? msg : "unknown error");
	r->failed = true;
}

static void fail_result(struct tg_source_pg_run *r, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *prim = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	char msg[TG_ERROR_MAX];
	char st[32];

	if (r->failed)
		return;   /* the first error explains; the rest follow from it */
	server_text(prim != NULL ? prim : PQresultErrorMessage(res), msg, sizeof(msg));
	tg_error_quote(state != NULL ? state : "?????", state != NULL ? strlen(state) : 5, 8,
		       st, sizeof(st));
	tg_error_set(&r->err, "query failed: SQLSTATE %s: %s", st, msg);
	r->failed = true;
}

/* The end of a run: free first, then tell (the callback may start another). */
static void finish(struct tg_source_pg_run *r)
{
	tg_source_pg_done_fn done = r->p.done;
	void *ctx = r->p.ctx;
	struct tg_error err = r->err;
	int rc = r->failed ? -EIO : 0;

	if (!r->failed)
		tg_unknown_ids_report(r->unknown, r->p.sink, r->p.src, "query", r->p.stats);
	if (!r->failed && r->warned > WARN_ROWS) {
		char m[128];

		snprintf(m, sizeof(m), "%zu more bad rows not shown", r->warned - WARN_ROWS);
		r->p.sink->warn(r->p.sink->ctx, r->p.src, m);
	}
	run_free(r);
	done(ctx, rc, rc < 0 ? &err : NULL);
}

static void bad_row(struct tg_source_pg_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bad_row(struct tg_source_pg_run *r, const char *fmt, ...)
{
	char why[TG_ERROR_MAX], msg[TG_ERROR_MAX + 64];
	va_list ap;

	r->p.stats->bad_rows++;
	if (++r->warned > WARN_ROWS || r->p.sink->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "row %lu: %s; row skipped", r->row, why);
	r->p.sink->warn(r->p.sink->ctx, r->p.src, msg);
}

/* A column given by name: exact first, then ASCII caseless (PostgreSQL folds
 * unquoted names to lower case, a config may not). */
static int find_column(const PGresult *res, const char *name)
{
	int n = PQnfields(res);

	for (int i = 0; i < n; i++)
		if (strcmp(PQfname(res, i), name) == 0)
			return i;
	for (int i = 0; i < n; i++)
		if (strcasecmp(PQfname(res, i), name) == 0)
			return i;
	return -1;
}

/* A column's name as the message shows it: it comes from the query (an
 * alias can hold any byte), so quoted. */
static const char *column_name(const PGresult *res, int col, char *buf, size_t size)
{
	const char *name = PQfname(res, col);

	return tg_error_quote_in(name, name != NULL ? strlen(name) : 0, 64, "'\\", buf, size);
}

static int setup_columns(struct tg_source_pg_run *r, const PGresult *res)
{
	const struct tg_source *src = r->p.src;
	const char *names[3] = { src->col_indicator, src->col_period, src->col_value };
	int *cols[3] = { &r->ci, &r->cp, &r->cv };
	char q[4 * 64 + 8];
	Oid t;

	if (PQnfields(res) < 3 && src->col_indicator == NULL)
		return tg_error_set(&r->err, "the query returns %d column%s: it needs "
				    "indicator, period and value", PQnfields(res),
				    PQnfields(res) == 1 ? "" : "s");
	for (int k = 0; k < 3; k++) {
		*cols[k] = names[k] != NULL ? find_column(res, names[k]) : k;
		if (*cols[k] < 0)
			return tg_error_set(&r->err, "the query returns no column '%.64s' "
					    "(see 'columns')", names[k]);
	}
	switch (t = PQftype(res, r->cp)) {
	case OID_DATE: case OID_TIMESTAMP: case OID_TIMESTAMPTZ:
		r->pk = P_DATE;
		break;
	case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR: case OID_NAME:
		r->pk = P_TEXT;
		break;
	case OID_INT2: case OID_INT4: case OID_INT8:
		r->pk = P_YEAR;
		break;
	default:
		return tg_error_set(&r->err, "period column '%s' has type OID %u: "
				    "use a date, a timestamp, text or an integer year",
				    column_name(res, r->cp, q, sizeof(q)), (unsigned)t);
	}
	switch (t = PQftype(res, r->cv)) {
	case OID_INT2: case OID_INT4: case OID_INT8: case OID_FLOAT4: case OID_FLOAT8:
	case OID_NUMERIC:
		r->vk = V_NUMBER;
		break;
	case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR:
		r->vk = V_TEXT;
		break;
	default:
		return tg_error_set(&r->err, "value column '%s' has type OID %u: "
				    "use a numeric type or text",
				    column_name(res, r->cv, q, sizeof(q)), (unsigned)t);
	}
	r->have_columns = true;
	return 0;
}

/* The period of a date or timestamp column: the date as written. */
static int period_date(struct tg_source_pg_run *r, const char *ps, size_t plen,
		       struct tg_date *date, struct tg_error *err)
{
	if (plen > 3 && memcmp(ps + plen - 3, " BC", 3) == 0)
		return tg_error_set(err, "a date before Christ");   /* cut to 10, it would pass as AD */
	/* DateStyle ISO: "YYYY-MM-DD[ time[zone]]" */
	if (plen > 10)
		plen = 10;
	/* an export repeats the same date row after row */
	if (plen == 10 && r->last_date[0] != '\0' && memcmp(ps, r->last_date, 10) == 0) {
		*date = r->last;
		return 0;
	}
	if (tg_date_parse(ps, plen, NULL, date, err) < 0)
		return -EINVAL;
	if (plen == 10) {
		memcpy(r->last_date, ps, 10);
		r->last = *date;
	}
	return 0;
}

/* A cell of the row: NULL for SQL NULL.  The length first: only an empty
 * cell can be NULL, so most cells cost two calls into libpq, not three. */
static const char *cell(const PGresult *res, int col, size_t *len)
{
	int n = PQgetlength(res, 0, col);

	if (n <= 0 && PQgetisnull(res, 0, col))
		return NULL;
	*len = n > 0 ? (size_t)n : 0;
	return PQgetvalue(res, 0, col);
}

static void take_row(struct tg_source_pg_run *r, const PGresult *res)
{
	const struct tg_source *src = r->p.src;
	const char *id, *ps, *vs;
	size_t idlen, plen, vlen;
	struct tg_date date;
	struct tg_error err;
	double v;
	int rc;

	r->row++;
	r->p.stats->rows++;
	if ((id = cell(res, r->ci, &idlen)) == NULL) {
		bad_row(r, "the indicator is NULL");
		return;
	}
	tg_source_trim_id(&id, &idlen);
	if (idlen == 0) {
		bad_row(r, "the indicator is empty");
		return;
	}
	if ((ps = cell(res, r->cp, &plen)) == NULL) {
		bad_row(r, "the period is NULL");
		return;
	}
	tg_error_clear(&err);
	if (r->pk == P_DATE)
		rc = period_date(r, ps, plen, &date, &err);
	else if (r->pk == P_TEXT)
		rc = tg_date_parse(ps, plen, src->dialect.date_format, &date, &err);
	else if (plen != 4 || (rc = tg_date_parse(ps, plen, NULL, &date, &err)) < 0 ||
		 date.precision != TG_PERIOD_YEAR)
	{
		char q[4 * 20 + 8];

		rc = tg_error_set(&err, "%s is not a year (1000 to 9999)",
				  tg_error_quote(ps, plen, 20, q, sizeof(q)));
	}
	if (rc < 0) {
		bad_row(r, "period: %s", err.msg);
		return;
	}
	if ((vs = cell(res, r->cv, &vlen)) == NULL) {
		r->p.stats->missing++;
		return;
	}
	tg_error_clear(&err);
	rc = tg_number_parse(vs, vlen, r->vk == V_NUMBER ? NULL : &src->dialect.number, &v, &err);
	if (rc == TG_NUMBER_MISSING) {
		r->p.stats->missing++;
		return;
	}
	if (rc < 0) {
		bad_row(r, "value: %s", err.msg);
		return;
	}
	tg_error_clear(&err);
	rc = r->p.sink->measure(r->p.sink->ctx, src, id, idlen, &date, v, &err);
	if (rc == TG_SINK_UNKNOWN)
		tg_unknown_ids_add(r->unknown, id, idlen, r->p.stats);
	else if (rc < 0)
		bad_row(r, "%s", err.msg[0] != '\0' ? err.msg : "value refused");
	else
		r->p.stats->measurements++;
}

/* Returns 1 when the run must end now (a COPY: PQgetResult would hand out
 * COPY results forever). */
static int take_result(struct tg_source_pg_run *r, PGresult *res)
{
	int stop = 0;

	switch (PQresultStatus(res)) {
	case PGRES_SINGLE_TUPLE:
		if (r->failed)
			break;
		if (!r->have_columns && setup_columns(r, res) < 0) {
			r->failed = true;
			break;
		}
		take_row(r, res);
		break;
	case PGRES_TUPLES_OK:      /* the end of the rows (or none) */
		if (!r->failed && !r->have_columns && setup_columns(r, res) < 0)
			r->failed = true;
		if (!r->failed)
			r->p.stats->files++;
		break;
	case PGRES_COMMAND_OK:
	case PGRES_EMPTY_QUERY:
		if (!r->failed) {
			tg_error_set(&r->err, "the query returns no rows (it must be a "
				     "SELECT of indicator, period and value)");
			r->failed = true;
		}
		break;
	case PGRES_COPY_OUT:
	case PGRES_COPY_IN:
	case PGRES_COPY_BOTH:
		if (!r->failed)
			tg_error_set(&r->err, "the query starts a COPY (it must be a "
				     "SELECT of indicator, period and value)");
		r->failed = true;
		stop = 1;
		break;
	default:
		fail_result(r, res);
		break;
	}
	PQclear(res);
	return stop;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* Watches the connection's socket for events; a new socket (libpq moved on to
 * another address) gets a new io source. */
static int watch(struct tg_source_pg_run *r, uint32_t events)
{
	int fd = PQsocket(r->conn);

	if (fd < 0)
		return -EBADF;
	if (r->io != NULL && fd != r->fd)
		r->io = sd_event_source_disable_unref(r->io);
	if (r->io == NULL) {
		int rc = sd_event_add_io(r->p.event, &r->io, fd, events, on_io, r);

		if (rc < 0)
			return rc;
		r->fd = fd;
		return 0;
	}
	return sd_event_source_set_io_events(r->io, events);
}

static int send_query(struct tg_source_pg_run *r)
{
	const struct tg_source *src = r->p.src;
	char since[16];
	const char *values[1] = { since };
	/* a query that ignores $1 would be refused for the extra parameter */
	int nparams = strstr(src->query, "$1") != NULL ? 1 : 0;
	tg_day from = (tg_day)(r->p.today - src->since / 86400);

	tg_day_iso(from, since, sizeof(since));
	if (PQsetnonblocking(r->conn, 1) != 0 ||
	    !PQsendQueryParams(r->conn, src->query, nparams, NULL, values, NULL, NULL, 0)) {
		fail_conn(r, "cannot send the query");
		return -EIO;
	}
	if (!PQsetSingleRowMode(r->conn)) {
		fail_conn(r, "cannot read row by row");
		return -EIO;
	}
	r->state = SENDING;
	/* the connection had its own deadline; now statement_timeout runs on
	 * the server, and ours only catches a server or network gone silent */
	if (sd_event_source_set_time_relative(r->timer, (uint64_t)(src->timeout + GRACE_SEC) * 1000000) < 0 ||
	    sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT) < 0) {
		tg_error_set(&r->err, "cannot arm the timer");
		r->failed = true;
		return -EIO;
	}
	return 0;
}

/* Returns 1 when the run has ended (failed or all results read). */
static int step(struct tg_source_pg_run *r)
{
	if (r->state == CONNECTING) {
		PostgresPollingStatusType ps = PQconnectPoll(r->conn);

		/* libpq may have closed the socket for a new one (next address)
		 * that got the same number: epoll forgot the old one, so a kept
		 * source would watch nothing.  Watch afresh at each step. */
		r->io = sd_event_source_disable_unref(r->io);
		switch (ps) {
		case PGRES_POLLING_READING:
			return watch(r, EPOLLIN) < 0 ? (fail_conn(r, "connection failed"), 1) : 0;
		case PGRES_POLLING_WRITING:
			return watch(r, EPOLLOUT) < 0 ? (fail_conn(r, "connection failed"), 1) : 0;
		case PGRES_POLLING_OK: {
			/* the dates are read as ISO (options); PGDATESTYLE in the
			 * environment outweighs that, and "03/10/2026" would be
			 * read as another day */
			const char *ds = PQparameterStatus(r->conn, "DateStyle");

			if (ds != NULL && strncmp(ds, "ISO", 3) != 0) {
				char q[64];

				tg_error_set(&r->err, "the server's DateStyle is '%s', not ISO as traguardo "
					     "asks (PGDATESTYLE in the environment?): dates would be "
					     "misread; not read",
					     tg_error_quote(ds, strlen(ds), 40, q, sizeof(q)));
				r->failed = true;
				return 1;
			}
			if (send_query(r) < 0)
				return 1;
			break;
		}
		default:
			fail_conn(r, "connection failed");
			return 1;
		}
	}
	if (r->state == SENDING) {
		int f;

		/* libpq: when read-ready while sending, consume the input first
		 * (the server may be answering or refusing) */
		if (!PQconsumeInput(r->conn)) {
			fail_conn(r, "cannot send the query");
			return 1;
		}
		f = PQflush(r->conn);
		if (f < 0) {
			fail_conn(r, "cannot send the query");
			return 1;
		}
		if (f == 1)   /* more to send; the server may answer meanwhile */
			return watch(r, EPOLLIN | EPOLLOUT) < 0 ? (fail_conn(r, "lost"), 1) : 0;
		r->state = READING;
		if (watch(r, EPOLLIN) < 0) {
			fail_conn(r, "connection lost");
			return 1;
		}
		/* no return: PQconsumeInput and PQflush may have read the answer
		 * already, and a socket with nothing left would never wake us */
	}
	if (!PQconsumeInput(r->conn)) {
		fail_conn(r, "connection lost");
		return 1;
	}
	while (!PQisBusy(r->conn)) {
		PGresult *res = PQgetResult(r->conn);

		if (res == NULL || take_result(r, res))
			return 1;
	}
	return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct tg_source_pg_run *r = userdata;

	(void)s;
	(void)fd;
	(void)revents;
	if (step(r))
		finish(r);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct tg_source_pg_run *r = userdata;

	(void)s;
	(void)usec;
	tg_error_set(&r->err, "%s after %llds",
		     r->state == CONNECTING ? "no connection" : "no answer from the server",
		     (long long)r->p.src->timeout);
	r->failed = true;
	finish(r);
	return 0;
}

struct tg_source_pg_run *tg_source_pg_start(const struct tg_source_pg_params *p,
					    struct tg_error *err)
{
	const struct tg_source *src = p->src;
	struct tg_source_pg_run *r = calloc(1, sizeof(*r));
	char timeout[32], options[TG_ERROR_MAX], uopt[TG_ERROR_MAX / 2], owner[96];
	const char *keys[8], *vals[8];
	size_t n = 0;
	int rc;

	if (r == NULL || (r->unknown = tg_unknown_ids_new()) == NULL) {
		free(r);
		tg_error_set(err, "out of memory");
		return NULL;
	}
	r->p = *p;
	r->fd = -1;
	*p->stats = (struct tg_source_stats){ 0 };
	snprintf(owner, sizeof(owner), "source '%s'", src->name);
	if (src->password_file != NULL &&
	    (r->password = tg_secret_read(p->cfg, owner, "password_file", src->password_file, err)) == NULL)
		goto fail;
	snprintf(timeout, sizeof(timeout), "%lld", (long long)src->timeout);
	/* DateStyle ISO: dates and timestamps come as YYYY-MM-DD whatever the
	 * server's default; the keywords after dbname override the conninfo's,
	 * so its own options are kept by putting them first */
	tg_pg_user_options(src->conninfo, uopt, sizeof(uopt));
	snprintf(options, sizeof(options), "%s%s-c statement_timeout=%lld -c DateStyle=ISO,YMD",
		 uopt, uopt[0] != '\0' ? " " : "", (long long)src->timeout * 1000);
	keys[n] = "dbname"; vals[n++] = src->conninfo;     /* expanded: any conninfo form */
	keys[n] = "connect_timeout"; vals[n++] = timeout;
	keys[n] = "options"; vals[n++] = options;
	keys[n] = "client_encoding"; vals[n++] = "UTF8";
	keys[n] = "fallback_application_name"; vals[n++] = "traguardo";
	if (r->password != NULL) {
		keys[n] = "password";
		vals[n++] = r->password;
	}
	keys[n] = NULL;
	vals[n] = NULL;
	r->conn = PQconnectStartParams(keys, vals, 1);
	if (r->conn == NULL) {
		tg_error_set(err, "out of memory");
		goto fail;
	}
	if (PQstatus(r->conn) == CONNECTION_BAD) {
		fail_conn(r, "connection failed");
		*err = r->err;
		goto fail;
	}
	rc = sd_event_add_time_relative(p->event, &r->timer, CLOCK_MONOTONIC,
					(uint64_t)src->timeout * 1000000, 0, on_timer, r);
	if (rc < 0 || watch(r, EPOLLOUT) < 0) {
		tg_error_setc(err, rc < 0 ? rc : -EIO, "source '%s': cannot watch the connection",
			      src->name);
		goto fail;
	}
	return r;
fail:
	run_free(r);
	return NULL;
}
