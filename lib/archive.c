/*
 * archive.c — the PostgreSQL archive and its spool (see archive.h).
 *
 * Three parts.  The tracker remembers, per indicator, what was last
 * spooled (a copy of the series, the last evaluation), so that each call
 * spools only what changed.  The spool is a directory of whole files, one
 * per call, written atomically; it is the only truth about what is still
 * to be written, and its files are deleted only after a commit.  The
 * connection is a state machine on the sd-event loop driven by libpq's
 * asynchronous API (as in source_pg.c): DOWN (a timer waits for the next
 * attempt), CONNECTING, CHECKING (schema_version), READY, SENDING (one
 * batch statement in flight).  One timer serves every state: the backoff
 * when DOWN, a deadline otherwise, since libpq has no timeout of its own
 * in non-blocking mode.
 *
 * Idempotence is the server's job (unique keys and "equal to the latest
 * row" checks in BATCH_SQL), so every doubt is resolved by sending again.
 */
#include "archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "pgutil.h"
#include "secret.h"
#include "utf8.h"

#define FILE_RECORDS 2000                  /* records per spool file at most */
#define FILE_MAX_BYTES (16u << 20)         /* a bigger file is not ours */
#define BATCH_FILES 64
#define BATCH_BYTES (4u << 20)
#define SPOOL_MAX_BYTES ((size_t)256 << 20)
#define SPOOL_MAX_FILES 100000
#define TEXT_MAX 4096                      /* per string written */
#define LIST_MAX 1000                      /* recipients, events written */
#define LOAD_TEXT_MAX 65536                /* per string read back */
#define LOAD_LIST_MAX 10000
#define UNIX_MAX 253402300799LL            /* 9999-12-31T23:59:59Z */
#define CONNECT_TIMEOUT_SEC 30
#define STATEMENT_TIMEOUT_SEC 60
#define GRACE_SEC 5
#define BACKOFF_FIRST_USEC 1000000ULL
#define BACKOFF_MAX_USEC 60000000ULL
#define SEQ_DIGITS 20

/* One statement per batch: $1 measurements, $2 evaluations, $3
 * notifications, each a JSON array of spool records.  A record equal to
 * the previous one of its key in the batch, or (for the first of its key)
 * to the latest row already in the table, is skipped: the same state
 * offered again after a restart or a failover adds nothing.  Returns the
 * rows inserted per table. */
static const char BATCH_SQL[] =
"WITH m_in AS ("
"  SELECT r.*, row_number() OVER w AS rn, lag(r.value) OVER w AS p_value,"
"         lag(r.source) OVER w AS p_source, lead(r.ord) OVER w AS n_ord"
"    FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (indicator text, period date,"
"         value double precision, source text, provenance text, loaded_at bigint))"
"         WITH ORDINALITY AS r(indicator, period, value, source, provenance, loaded_at, ord)"
"  WINDOW w AS (PARTITION BY r.indicator, r.period ORDER BY r.loaded_at, r.ord)),"
"m AS ("
"  INSERT INTO traguardo.measurements (indicator, period, value, source, provenance, loaded_at)"
"  SELECT i.indicator, i.period, i.value, i.source, i.provenance, to_timestamp(i.loaded_at)"
"    FROM m_in i"
"   WHERE CASE WHEN i.rn > 1"
"              THEN (i.value, i.source) IS DISTINCT FROM (i.p_value, i.p_source)"
"         ELSE NOT EXISTS ("
"           SELECT 1 FROM (SELECT x.value, x.source FROM traguardo.measurements x"
"                           WHERE x.indicator = i.indicator AND x.period = i.period"
"                             AND x.loaded_at <= to_timestamp(i.loaded_at)"
"                           ORDER BY x.loaded_at DESC, x.id DESC LIMIT 1) l"
"            WHERE (l.value, l.source) IS NOT DISTINCT FROM (i.value, i.source)) END"
/* nor, for the last of its key in the batch, an earlier copy of the next
 * row (another daemon read it a moment before the one that archived it);
 * an earlier one of the batch is followed by the batch's next */
"     AND (i.n_ord IS NOT NULL OR NOT EXISTS ("
"           SELECT 1 FROM (SELECT x.value, x.source FROM traguardo.measurements x"
"                           WHERE x.indicator = i.indicator AND x.period = i.period"
"                             AND x.loaded_at > to_timestamp(i.loaded_at)"
"                           ORDER BY x.loaded_at, x.id LIMIT 1) f"
"            WHERE (f.value, f.source) IS NOT DISTINCT FROM (i.value, i.source)))"
"   ORDER BY i.ord"
"  ON CONFLICT DO NOTHING RETURNING 1),"
"e_in AS ("
"  SELECT r.*, row_number() OVER w AS rn, lag(r.status) OVER w AS p_status,"
"         lag(r.period) OVER w AS p_period, lag(r.value) OVER w AS p_value,"
"         lead(r.ord) OVER w AS n_ord"
"    FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (indicator text, evaluated_at bigint,"
"         as_of timestamp, status text, period date, value double precision, name text,"
"         department text, process text, unit text, better text, target double precision,"
"         critical double precision, min double precision, max double precision,"
"         critical_min double precision, critical_max double precision,"
"         forecast double precision, forecast_year integer, forecast_misses boolean,"
"         reason text))"
"         WITH ORDINALITY AS r(indicator, evaluated_at, as_of, status, period, value, name,"
"         department, process, unit, better, target, critical, min, max, critical_min,"
"         critical_max, forecast, forecast_year, forecast_misses, reason, ord)"
"  WINDOW w AS (PARTITION BY r.indicator ORDER BY r.evaluated_at, r.ord)),"
"e AS ("
"  INSERT INTO traguardo.evaluations (indicator, evaluated_at, as_of, status, period, value,"
"         name, department, process, unit, better, target, critical, min, max, critical_min,"
"         critical_max, forecast, forecast_year, forecast_misses, reason)"
"  SELECT i.indicator, to_timestamp(i.evaluated_at), i.as_of, i.status, i.period, i.value,"
"         i.name, i.department, i.process, i.unit, i.better, i.target, i.critical, i.min,"
"         i.max, i.critical_min, i.critical_max, i.forecast, i.forecast_year,"
"         i.forecast_misses, i.reason"
"    FROM e_in i"
"   WHERE CASE WHEN i.rn > 1"
"              THEN (i.status, i.period, i.value) IS DISTINCT FROM (i.p_status, i.p_period, i.p_value)"
"         ELSE NOT EXISTS ("
"           SELECT 1 FROM (SELECT x.status, x.period, x.value FROM traguardo.evaluations x"
"                           WHERE x.indicator = i.indicator"
"                             AND x.evaluated_at <= to_timestamp(i.evaluated_at)"
"                           ORDER BY x.evaluated_at DESC, x.id DESC LIMIT 1) l"
"            WHERE (l.status, l.period, l.value) IS NOT DISTINCT FROM"
"                  (i.status, i.period, i.value)) END"
/* nor, for the last of its indicator in the batch, an earlier copy of the
 * next row (the other daemon's, that took over while this one's spool
 * waited) */
"     AND (i.n_ord IS NOT NULL OR NOT EXISTS ("
"           SELECT 1 FROM (SELECT x.status, x.period, x.value FROM traguardo.evaluations x"
"                           WHERE x.indicator = i.indicator"
"                             AND x.evaluated_at > to_timestamp(i.evaluated_at)"
"                           ORDER BY x.evaluated_at, x.id LIMIT 1) f"
"            WHERE (f.status, f.period, f.value) IS NOT DISTINCT FROM"
"                  (i.status, i.period, i.value)))"
"   ORDER BY i.ord"
"  ON CONFLICT DO NOTHING RETURNING 1),"
"n AS ("
"  INSERT INTO traguardo.notifications (message_id, events, channel, recipients, subject,"
"         status, attempts, reply, at, delivered_at)"
"  SELECT r.message_id, r.events, r.channel, r.recipients, r.subject, r.status, r.attempts,"
"         r.reply, to_timestamp(r.at),"
"         CASE WHEN r.status = 'delivered' THEN to_timestamp(r.at) END"
"    FROM ROWS FROM (jsonb_to_recordset($3::jsonb) AS (message_id text, events text[],"
"         channel text, recipients text[], subject text, status text, attempts integer,"
"         reply text, at bigint))"
"         WITH ORDINALITY AS r(message_id, events, channel, recipients, subject, status,"
"         attempts, reply, at, ord)"
"   ORDER BY r.ord"
"  ON CONFLICT DO NOTHING RETURNING 1)"
"SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM e), (SELECT count(*) FROM n)";

static const char CHECK_SQL[] = "SELECT version FROM traguardo.schema_version";

/* ------------------------------------------------------------------ */
/* Record kinds and their fields, as written and as checked on reading */

enum kind { K_MEASUREMENT = 0, K_EVALUATION, K_NOTIFICATION, K_COUNT };
static const char *const KIND_NAME[K_COUNT] = { "measurement", "evaluation", "notification" };

enum ftype {
	F_ID,          /* non-empty text */
	F_TEXT,
	F_TEXT_NULL,
	F_DATE,        /* "YYYY-MM-DD" */
	F_DATE_NULL,
	F_CIVIL,       /* "YYYY-MM-DD HH:MM:SS" */
	F_UNIX,        /* integer 0..UNIX_MAX */
	F_NUM_NULL,
	F_YEAR_NULL,
	F_COUNT,       /* integer 0..1000000 */
	F_BOOL_NULL,
	F_TEXTS,       /* array of text */
	F_STATUS,      /* an evaluation status */
	F_NSTATUS,     /* a notification status */
	F_BETTER,
};

struct field {
	const char *name;
	enum ftype type;
};

static const struct field M_FIELDS[] = {
	{ "indicator", F_ID }, { "period", F_DATE }, { "value", F_NUM_NULL },
	{ "source", F_TEXT }, { "provenance", F_TEXT }, { "loaded_at", F_UNIX },
};
static const struct field E_FIELDS[] = {
	{ "indicator", F_ID }, { "evaluated_at", F_UNIX }, { "as_of", F_CIVIL },
	{ "status", F_STATUS }, { "period", F_DATE_NULL }, { "value", F_NUM_NULL },
	{ "name", F_TEXT }, { "department", F_TEXT }, { "process", F_TEXT_NULL },
	{ "unit", F_TEXT_NULL }, { "better", F_BETTER }, { "target", F_NUM_NULL },
	{ "critical", F_NUM_NULL }, { "min", F_NUM_NULL }, { "max", F_NUM_NULL },
	{ "critical_min", F_NUM_NULL }, { "critical_max", F_NUM_NULL },
	{ "forecast", F_NUM_NULL }, { "forecast_year", F_YEAR_NULL },
	{ "forecast_misses", F_BOOL_NULL }, { "reason", F_TEXT },
};
static const struct field N_FIELDS[] = {
	{ "message_id", F_ID }, { "events", F_TEXTS }, { "channel", F_ID },
	{ "recipients", F_TEXTS }, { "subject", F_TEXT }, { "status", F_NSTATUS },
	{ "attempts", F_COUNT }, { "reply", F_TEXT_NULL }, { "at", F_UNIX },
};
static const struct {
	const struct field *f;
	size_t n;
} FIELDS[K_COUNT] = {
	{ M_FIELDS, sizeof(M_FIELDS) / sizeof(M_FIELDS[0]) },
	{ E_FIELDS, sizeof(E_FIELDS) / sizeof(E_FIELDS[0]) },
	{ N_FIELDS, sizeof(N_FIELDS) / sizeof(N_FIELDS[0]) },
};

static const char *const NSTATUS_NAME[] = { "spooled", "retry", "delivered", "failed" };
static const char *const BETTER_NAME[] = { "higher", "lower", "range" };

/* ------------------------------------------------------------------ */

/* What was last spooled for one indicator. */
struct track {
	char *id;
	size_t n;                  /* the series as spooled */
	tg_day *period;
	double *value;
	bool has_eval;             /* the evaluation as spooled */
	enum tg_status status;
	bool has_value;
	tg_day eperiod;
	double evalue;
};

struct spool_file {
	uint64_t seq;
	size_t bytes;
	size_t records;
};

enum state { S_DOWN, S_CONNECTING, S_CHECKING, S_READY, S_SENDING };

struct tg_archive {
	sd_event *ev;
	char *conninfo;
	char *password_path;       /* resolved, or NULL */
	char *dir;                 /* STATE_DIR/archive */
	char *rejected;            /* STATE_DIR/archive/rejected */
	int lock_fd;

	PGconn *conn;
	sd_event_source *io, *timer;
	int fd;
	enum state state;
	bool flushing;             /* the query is not all sent yet */
	uint64_t backoff, backoff_first, backoff_max;

	struct spool_file *files;  /* oldest first */
	size_t n_files, cap_files;
	uint64_t next_seq;
	size_t spool_bytes, spool_records;

	/* the batch in flight: the first batch_files files */
	size_t batch_files, batch_records;
	bool single;               /* one file per batch: looking for a bad one */
	bool result_ok;            /* the counts row came */
	long long counts[3];
	char sqlstate[6];
	char errmsg[TG_ERROR_MAX / 2];
	bool failed;

	/* CHECKING */
	bool check_ok;
	char check_msg[TG_ERROR_MAX];

	struct track **tracks;     /* open addressing by id */
	size_t cap_tracks, n_tracks;

	uint64_t written, duplicates, dropped, rejected_records;
	char last_error[TG_ERROR_MAX];
	bool error_logged;
	struct tg_pg_notices notices; /* a FATAL one: why the server hung up */
};

/* ------------------------------------------------------------------ */
/* Text */

/* s with invalid UTF-8 replaced by U+FFFD, cut at max bytes on a character
 * boundary: jansson refuses invalid UTF-8, and the database refuses it too. */
static json_t *jtext(const char *s, size_t max)
{
	size_t len, cap, i = 0, o = 0;
	char *buf;
	json_t *j;

	if (s == NULL)
		return json_null();
	len = strlen(s);
	cap = len <= max / 3 ? len * 3 : max;
	if ((buf = malloc(cap + 1)) == NULL)
		return NULL;
	while (i < len) {
		size_t n = tg_utf8_len((const unsigned char *)s + i, len - i);
		const char *c = s + i;
		size_t cl = n;

		if (n == 0) {
			c = "\xef\xbf\xbd";
			cl = 3;
			n = 1;
		}
		if (o + cl > cap)
			break;
		memcpy(buf + o, c, cl);
		o += cl;
		i += n;
	}
	j = json_stringn_nocheck(buf, o);
	free(buf);
	return j;
}

/* Equal for the tracker: NaN equals NaN (never stored, but a NaN must not
 * make an unchanged value look new at every call). */
static bool same(double x, double y)
{
	return x == y || (isnan(x) && isnan(y));
}

static int set(json_t *o, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static json_t *jnum(bool has, double v)
{
	return has && isfinite(v) ? json_real(v) : json_null();
}

static json_t *jdate(tg_day d)
{
	char buf[16];

	return json_string(tg_day_iso(d, buf, sizeof(buf)));
}

static json_t *jlist(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n && i < LIST_MAX; i++)
		if (v[i] != NULL && json_array_append_new(a, jtext(v[i], TEXT_MAX)) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* ------------------------------------------------------------------ */
/* Tracker */

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void track_free(struct track *t)
{
	if (t == NULL)
		return;
	free(t->id);
	free(t->period);
	free(t->value);
	free(t);
}

static int tracks_grow(struct tg_archive *a)
{
	size_t cap = a->cap_tracks != 0 ? a->cap_tracks * 2 : 64;
	struct track **tab = calloc(cap, sizeof(*tab));

	if (tab == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < a->cap_tracks; i++) {
		struct track *t = a->tracks[i];
		size_t k;

		if (t == NULL)
			continue;
		for (k = hash(t->id) & (cap - 1); tab[k] != NULL; k = (k + 1) & (cap - 1))
			;
		tab[k] = t;
	}
	free(a->tracks);
	a->tracks = tab;
	a->cap_tracks = cap;
	return 0;
}

/* The track of id, created empty when missing; NULL on ENOMEM. */
static struct track *track_get(struct tg_archive *a, const char *id)
{
	size_t k;

	if ((a->n_tracks + 1) * 2 > a->cap_tracks && tracks_grow(a) < 0)
		return NULL;
	for (k = hash(id) & (a->cap_tracks - 1); a->tracks[k] != NULL; k = (k + 1) & (a->cap_tracks - 1))
		if (strcmp(a->tracks[k]->id, id) == 0)
			return a->tracks[k];
	if ((a->tracks[k] = calloc(1, sizeof(struct track))) == NULL)
		return NULL;
	if ((a->tracks[k]->id = strdup(id)) == NULL) {
		free(a->tracks[k]);
		a->tracks[k] = NULL;
		return NULL;
	}
	a->n_tracks++;
	return a->tracks[k];
}

/* ------------------------------------------------------------------ */
/* Spool: writing */

struct chunk {
	char *data;
	size_t len, cap;
	size_t records;
};

struct chunks {
	struct chunk *v;
	size_t n;
	size_t records, bytes;
};

static void chunks_free(struct chunks *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].data);
	free(c->v);
	*c = (struct chunks){ 0 };
}

/* Appends one record (a JSON object, consumed) as a line. */
static int chunks_add(struct chunks *c, enum kind k, json_t *o)
{
	struct chunk *ch;
	char *line;
	size_t len;
	int rc = -ENOMEM;

	if (o == NULL || json_object_set_new(o, "kind", json_string(KIND_NAME[k])) != 0)
		goto out;
	/* "kind" first, for a person reading the file */
	line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (line == NULL)
		goto out;
	len = strlen(line);
	if (c->n == 0 || c->v[c->n - 1].records >= FILE_RECORDS) {
		struct chunk *v = realloc(c->v, (c->n + 1) * sizeof(*v));

		if (v == NULL) {
			free(line);
			goto out;
		}
		c->v = v;
		c->v[c->n++] = (struct chunk){ 0 };
	}
	ch = &c->v[c->n - 1];
	if (ch->len + len + 1 > ch->cap) {
		size_t cap = ch->cap != 0 ? ch->cap : 4096;
		char *d;

		while (cap < ch->len + len + 1)
			cap *= 2;
		if ((d = realloc(ch->data, cap)) == NULL) {
			free(line);
			goto out;
		}
		ch->data = d;
		ch->cap = cap;
	}
	memcpy(ch->data + ch->len, line, len);
	ch->data[ch->len + len] = '\n';
	ch->len += len + 1;
	ch->records++;
	c->records++;
	c->bytes += len + 1;
	free(line);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

static void file_path(const char *dir, uint64_t seq, char *buf,
		      size_t size)
{
	snprintf(buf, size, "%s/%0*llu.jsonl", dir, SEQ_DIGITS, (unsigned long long)seq);
}

static void maybe_send(struct tg_archive *a);

/* Writes the chunks as spool files.  On failure the files already written
 * stay (they are whole and will be sent; the caller offers their records
 * again, which the server deduplicates). */
static int spool_write(struct tg_archive *a, struct chunks *c, struct tg_error *err)
{
	char path[4096];

	if (c->records == 0)
		return 0;
	if (a->spool_bytes + c->bytes > SPOOL_MAX_BYTES || a->n_files + c->n > SPOOL_MAX_FILES) {
		a->dropped += c->records;
		return tg_error_setc(err, -ENOSPC, "archive: the spool %s is full (%zu records, "
				     "%zu bytes waiting): %zu new records dropped", a->dir,
				     a->spool_records, a->spool_bytes, c->records);
	}
	if (a->n_files + c->n > a->cap_files) {
		size_t cap = a->cap_files != 0 ? a->cap_files : 64;
		struct spool_file *v;

		while (cap < a->n_files + c->n)
			cap *= 2;
		if ((v = realloc(a->files, cap * sizeof(*v))) == NULL) {
			a->dropped += c->records;
			return tg_error_setc(err, -ENOMEM, "archive: out of memory");
		}
		a->files = v;
		a->cap_files = cap;
	}
	for (size_t i = 0; i < c->n; i++) {
		int rc;

		file_path(a->dir, a->next_seq, path, sizeof(path));
		rc = tg_fs_write_atomic(path, c->v[i].data, c->v[i].len, 0640, err);
		if (rc < 0) {
			for (size_t j = i; j < c->n; j++)
				a->dropped += c->v[j].records;
			tg_error_prefix(err, "archive: cannot spool %zu records", c->records);
			return rc;
		}
		a->files[a->n_files++] = (struct spool_file){ a->next_seq++, c->v[i].len,
							      c->v[i].records };
		a->spool_bytes += c->v[i].len;
		a->spool_records += c->v[i].records;
	}
	maybe_send(a);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Spool: reading back */

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num2(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool valid_date(const char *s, size_t len)
{
	int y;

	if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) ||
	    !digits(s + 8, 2))
		return false;
	y = num2(s) * 100 + num2(s + 2);
	return tg_ymd_valid(y, num2(s + 5), num2(s + 8));
}

static bool valid_civil(const char *s, size_t len)
{
	return len == 19 && valid_date(s, 10) && s[10] == ' ' && s[13] == ':' && s[16] == ':' &&
	       digits(s + 11, 2) && digits(s + 14, 2) && digits(s + 17, 2) &&
	       num2(s + 11) < 24 && num2(s + 14) < 60 && num2(s + 17) < 60;
}

static bool in_list(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return true;
	return false;
}

static bool valid_text(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) <= LOAD_TEXT_MAX;
}

static bool valid_int(const json_t *v, json_int_t lo, json_int_t hi)
{
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static bool valid_field(const json_t *v, enum ftype t)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	size_t len = s != NULL ? json_string_length(v) : 0;
	enum tg_status st;

	switch (t) {
	case F_ID:
		return valid_text(v) && len > 0;
	case F_TEXT:
		return valid_text(v);
	case F_TEXT_NULL:
		return json_is_null(v) || valid_text(v);
	case F_DATE_NULL:
		if (json_is_null(v))
			return true;
		/* fall through */
	case F_DATE:
		return s != NULL && valid_date(s, len);
	case F_CIVIL:
		return s != NULL && valid_civil(s, len);
	case F_UNIX:
		return valid_int(v, 0, UNIX_MAX);
	case F_NUM_NULL:
		return json_is_null(v) || json_is_number(v);
	case F_YEAR_NULL:
		return json_is_null(v) || valid_int(v, 1, 9999);
	case F_COUNT:
		return valid_int(v, 0, 1000000);
	case F_BOOL_NULL:
		return json_is_null(v) || json_is_boolean(v);
	case F_TEXTS: {
		size_t i;
		json_t *e;

		if (!json_is_array(v) || json_array_size(v) > LOAD_LIST_MAX)
			return false;
		json_array_foreach(v, i, e)
			if (!valid_text(e))
				return false;
		return true;
	}
	case F_STATUS:
		return s != NULL && strlen(s) == len && tg_status_parse(s, &st) == 0;
	case F_NSTATUS:
		return s != NULL && in_list(s, NSTATUS_NAME, 4);
	case F_BETTER:
		return s != NULL && in_list(s, BETTER_NAME, 3);
	}
	return false;
}

/* Checks one line and appends its record (without "kind") to arr[kind]. */
static int load_line(const char *line, size_t len, json_t *arr[K_COUNT], struct tg_error *err)
{
	json_error_t je;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je), *k;
	const char *ks;
	int kind = -1;

	if (o == NULL)
		return tg_error_set(err, "not JSON (%s)", je.text);
	k = json_object_get(o, "kind");
	ks = json_is_string(k) ? json_string_value(k) : "";
	for (int i = 0; i < K_COUNT; i++)
		if (strcmp(ks, KIND_NAME[i]) == 0)
			kind = i;
	if (!json_is_object(o) || kind < 0) {
		json_decref(o);
		return tg_error_set(err, "not a record (no known \"kind\")");
	}
	if (json_object_size(o) != FIELDS[kind].n + 1) {
		tg_error_set(err, "a %s record with %zu fields instead of %zu", KIND_NAME[kind],
			     json_object_size(o) - 1, FIELDS[kind].n);
		json_decref(o);
		return -EINVAL;
	}
	for (size_t i = 0; i < FIELDS[kind].n; i++) {
		const struct field *f = &FIELDS[kind].f[i];

		if (!valid_field(json_object_get(o, f->name), f->type)) {
			tg_error_set(err, "%s record: field \"%s\" missing or invalid",
				     KIND_NAME[kind], f->name);
			json_decref(o);
			return -EINVAL;
		}
	}
	json_object_del(o, "kind");
	if (json_array_append_new(arr[kind], o) != 0)
		return tg_error_setc(err, -ENOMEM, "out of memory");
	return 0;
}

static int read_file(const char *path, char **data, size_t *len, struct tg_error *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat sb;
	size_t got = 0;
	char *buf;

	*data = NULL;
	if (fd < 0)
		return tg_error_setc(err, -errno, "%s", strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > (off_t)FILE_MAX_BYTES) {
		close(fd);
		return tg_error_set(err, "not a regular file of at most %u bytes", FILE_MAX_BYTES);
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return tg_error_setc(err, -ENOMEM, "out of memory");
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			free(buf);
			close(fd);
			return tg_error_setc(err, -e, "%s", n < 0 ? strerror(e) : "file shrank");
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return 0;
}

/* Parses a whole spool file into arr (all of it or nothing). */
static int load_file(const char *path, json_t *arr[K_COUNT], size_t *records,
		     struct tg_error *err)
{
	json_t *tmp[K_COUNT] = { json_array(), json_array(), json_array() };
	char *data = NULL;
	size_t len = 0, line = 0;
	int rc = -ENOMEM;

	*records = 0;
	if (tmp[0] == NULL || tmp[1] == NULL || tmp[2] == NULL) {
		tg_error_setc(err, rc, "out of memory");
		goto out;
	}
	if ((rc = read_file(path, &data, &len, err)) < 0)
		goto out;
	rc = tg_error_set(err, "empty or cut short (no final newline)");
	if (len == 0 || data[len - 1] != '\n')
		goto out;
	for (size_t p = 0; p < len;) {
		const char *nl = memchr(data + p, '\n', len - p);
		size_t l = (size_t)(nl - (data + p));

		line++;
		if ((rc = load_line(data + p, l, tmp, err)) < 0) {
			tg_error_prefix(err, "line %zu", line);
			goto out;
		}
		p += l + 1;
	}
	for (int k = 0; k < K_COUNT; k++)
		if (json_array_extend(arr[k], tmp[k]) != 0) {
			rc = tg_error_setc(err, -ENOMEM, "out of memory");
			goto out;
		}
	*records = line;
	rc = 0;
out:
	for (int k = 0; k < K_COUNT; k++)
		json_decref(tmp[k]);
	free(data);
	return rc;
}

static void drop_files(struct tg_archive *a, size_t i, size_t n)
{
	for (size_t k = i; k < i + n; k++) {
		a->spool_bytes -= a->files[k].bytes;
		a->spool_records -= a->files[k].records;
	}
	memmove(a->files + i, a->files + i + n, (a->n_files - i - n) * sizeof(*a->files));
	a->n_files -= n;
}

/* Sets file i aside in rejected/ (never to block the others) and forgets it. */
static void reject_file(struct tg_archive *a, size_t i, const char *why)
{
	char from[4096], to[4096];

	file_path(a->dir, a->files[i].seq, from, sizeof(from));
	file_path(a->rejected, a->files[i].seq, to, sizeof(to));
	/* the numbers start again after a restart with an empty spool: an
	 * older file of the same number stays, this one takes a suffix */
	for (int k = 1; k < 1000 && access(to, F_OK) == 0; k++)
		snprintf(to, sizeof(to), "%s/%0*llu.%d.jsonl", a->rejected, SEQ_DIGITS,
			 (unsigned long long)a->files[i].seq, k);
	if (rename(from, to) < 0 && errno != ENOENT) {
		tg_log(LOG_ERR, "archive: %s: %s; cannot move it to %s: %s", from, why,
		       a->rejected, strerror(errno));
	} else {
		tg_log(LOG_ERR, "archive: %s: %s; %zu record%s set aside in %s", from, why,
		       a->files[i].records, a->files[i].records == 1 ? "" : "s", to);
	}
	a->rejected_records += a->files[i].records;
	drop_files(a, i, 1);
}

/* ------------------------------------------------------------------ */
/* Spool: opening */

static int cmp_file(const void *x, const void *y)
{
	const struct spool_file *a = x, *b = y;

	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static size_t count_lines(const char *path, size_t *bytes)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	char buf[65536];
	size_t n = 0;
	ssize_t got;

	*bytes = 0;
	if (fd < 0)
		return 0;
	while ((got = read(fd, buf, sizeof(buf))) > 0 || (got < 0 && errno == EINTR)) {
		for (ssize_t i = 0; i < got; i++)
			n += buf[i] == '\n';
		*bytes += got > 0 ? (size_t)got : 0;
	}
	close(fd);
	return n;
}

static int spool_open(struct tg_archive *a, struct tg_error *err)
{
	DIR *d;
	struct dirent *e;
	int rc;

	if ((rc = tg_fs_mkdirs(a->rejected, 0750, err)) < 0)
		return rc;
	a->lock_fd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->lock_fd < 0)
		return tg_error_setc(err, -errno, "%s: %s", a->dir, strerror(errno));
	if (flock(a->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return tg_error_setc(err, errno == EWOULDBLOCK ? -EBUSY : -errno,
				     "%s: %s", a->dir, errno == EWOULDBLOCK ?
				     "in use by another traguardo" : strerror(errno));
	if ((d = opendir(a->dir)) == NULL)
		return tg_error_setc(err, -errno, "%s: %s", a->dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		size_t len = strlen(n);
		char path[4096];

		if (len < SEQ_DIGITS + 6 || !digits(n, SEQ_DIGITS) ||
		    memcmp(n + SEQ_DIGITS, ".jsonl", 6) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", a->dir, n);
		if (len > SEQ_DIGITS + 6) {
			/* PATH.tmp-XXXXXX of tg_fs_write_atomic: never renamed,
			 * so never part of the spool */
			if (strncmp(n + SEQ_DIGITS + 6, ".tmp-", 5) == 0)
				unlink(path);
			continue;
		}
		if (a->n_files == a->cap_files) {
			size_t cap = a->cap_files != 0 ? a->cap_files * 2 : 64;
			struct spool_file *v = realloc(a->files, cap * sizeof(*v));

			if (v == NULL) {
				closedir(d);
				return tg_error_setc(err, -ENOMEM, "out of memory");
			}
			a->files = v;
			a->cap_files = cap;
		}
		a->files[a->n_files].seq = strtoull(n, NULL, 10);
		a->files[a->n_files].records = count_lines(path, &a->files[a->n_files].bytes);
		a->spool_bytes += a->files[a->n_files].bytes;
		a->spool_records += a->files[a->n_files].records;
		if (a->files[a->n_files].seq >= a->next_seq)
			a->next_seq = a->files[a->n_files].seq + 1;
		a->n_files++;
	}
	closedir(d);
	if (a->n_files > 0)
		qsort(a->files, a->n_files, sizeof(*a->files), cmp_file);
	if (a->next_seq == 0)
		a->next_seq = 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Connection */

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static void conn_close(struct tg_archive *a)
{
	a->io = sd_event_source_disable_unref(a->io);
	if (a->conn != NULL)
		PQfinish(a->conn);
	a->conn = NULL;
	a->fd = -1;
	a->flushing = false;
}

static void arm(struct tg_archive *a, uint64_t usec)
{
	if (sd_event_source_set_time_relative(a->timer, usec) < 0 ||
	    sd_event_source_set_enabled(a->timer, SD_EVENT_ONESHOT) < 0)
		tg_log(LOG_ERR, "archive: cannot arm a timer");
}

static void disarm(struct tg_archive *a)
{
	sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
}

static int watch(struct tg_archive *a, uint32_t events)
{
	int fd = PQsocket(a->conn);

	if (fd < 0)
		return -EBADF;
	if (a->io != NULL && fd != a->fd)
		a->io = sd_event_source_disable_unref(a->io);
	if (a->io == NULL) {
		int rc = sd_event_add_io(a->ev, &a->io, fd, events, on_io, a);

		if (rc < 0)
			return rc;
		a->fd = fd;
		return 0;
	}
	return sd_event_source_set_io_events(a->io, events);
}

static void go_down(struct tg_archive *a, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Closes the connection, keeps every record, retries after the backoff.
 * A problem is logged once, not at every retry. */
static void go_down(struct tg_archive *a, int prio, const char *fmt, ...)
{
	char msg[TG_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conn_close(a);
	a->state = S_DOWN;
	a->batch_files = a->batch_records = 0;
	if (!a->error_logged || strcmp(msg, a->last_error) != 0)
		tg_log(prio, "archive: %s; %zu record%s wait in %s", msg, a->spool_records,
		       a->spool_records == 1 ? "" : "s", a->dir);
	a->error_logged = true;
	snprintf(a->last_error, sizeof(a->last_error), "%s", msg);
	arm(a, a->backoff);
	a->backoff = a->backoff * 2 > a->backoff_max ? a->backoff_max : a->backoff * 2;
}

static const char *conn_error(const struct tg_archive *a, char *buf, size_t size)
{
	tg_pg_one_line(a->conn != NULL ? PQerrorMessage(a->conn) : "", buf, size);
	if (buf[0] == '\0')
		snprintf(buf, size, "unknown error");
	return buf;
}

static void lost(struct tg_archive *a)
{
	char m[TG_ERROR_MAX / 2];
	const char *said = a->notices.fatal;

	conn_error(a, m, sizeof(m));
	if (said[0] != '\0' && strstr(m, said) == NULL)
		go_down(a, LOG_WARNING, "connection to PostgreSQL lost: %s %s", said, m);
	else
		go_down(a, LOG_WARNING, "connection to PostgreSQL lost: %s", m);
}

static void start_connect(struct tg_archive *a)
{
	char timeout[16], options[TG_ERROR_MAX], uopt[TG_ERROR_MAX / 2], m[TG_ERROR_MAX];
	const char *keys[8], *vals[8];
	char *password = NULL;
	struct tg_error err;
	size_t n = 0;

	conn_close(a);
	if (a->password_path != NULL &&
	    (password = tg_secret_read(NULL, "archive", "password_file", a->password_path, &err)) == NULL) {
		go_down(a, LOG_ERR, "%s", err.msg);
		return;
	}
	snprintf(timeout, sizeof(timeout), "%d", CONNECT_TIMEOUT_SEC);
	/* synchronous_commit on: a COMMIT that returns is on disk, so the
	 * spool file may go; the conninfo's own options are kept first */
	tg_pg_user_options(a->conninfo, uopt, sizeof(uopt));
	snprintf(options, sizeof(options), "%s%s-c synchronous_commit=on -c statement_timeout=%d",
		 uopt, uopt[0] != '\0' ? " " : "", STATEMENT_TIMEOUT_SEC * 1000);
	keys[n] = "dbname"; vals[n++] = a->conninfo;
	keys[n] = "connect_timeout"; vals[n++] = timeout;
	keys[n] = "options"; vals[n++] = options;
	keys[n] = "client_encoding"; vals[n++] = "UTF8";
	keys[n] = "fallback_application_name"; vals[n++] = "traguardo-archive";
	if (password != NULL) {
		keys[n] = "password";
		vals[n++] = password;
	}
	keys[n] = NULL;
	vals[n] = NULL;
	a->conn = PQconnectStartParams(keys, vals, 1);
	tg_secret_free(password);   /* libpq keeps its own copy */
	if (a->conn == NULL) {
		go_down(a, LOG_ERR, "out of memory");
		return;
	}
	PQsetNoticeProcessor(a->conn, tg_pg_on_notice, &a->notices);
	a->notices.fatal[0] = '\0';
	if (PQstatus(a->conn) == CONNECTION_BAD) {
		go_down(a, LOG_WARNING, "cannot connect to PostgreSQL: %s", conn_error(a, m, sizeof(m)));
		return;
	}
	a->state = S_CONNECTING;
	if (watch(a, EPOLLOUT) < 0) {
		go_down(a, LOG_ERR, "cannot watch the connection");
		return;
	}
	arm(a, (uint64_t)CONNECT_TIMEOUT_SEC * 1000000);
}

/* After PQsend*: pushes the query out; the rest on write readiness. */
static void start_flush(struct tg_archive *a)
{
	int f = PQflush(a->conn);

	if (f < 0) {
		lost(a);
		return;
	}
	a->flushing = f == 1;
	if (watch(a, f == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN) < 0)
		go_down(a, LOG_ERR, "cannot watch the connection");
}

static void send_check(struct tg_archive *a)
{
	a->check_ok = false;
	snprintf(a->check_msg, sizeof(a->check_msg), "no answer to the schema version check");
	if (PQsetnonblocking(a->conn, 1) != 0 ||
	    !PQsendQueryParams(a->conn, CHECK_SQL, 0, NULL, NULL, NULL, NULL, 0)) {
		lost(a);
		return;
	}
	a->state = S_CHECKING;
	arm(a, (uint64_t)(STATEMENT_TIMEOUT_SEC + GRACE_SEC) * 1000000);
	start_flush(a);
}

static void result_error(const PGresult *res, char state[6], char *msg, size_t size)
{
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *prim = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	snprintf(state, 6, "%s", st != NULL && strlen(st) == 5 ? st : "?????");
	for (int i = 0; i < 5; i++)
		if (!((state[i] >= '0' && state[i] <= '9') || (state[i] >= 'A' && state[i] <= 'Z')))
			state[i] = '?';
	tg_pg_one_line(prim != NULL ? prim : PQresultErrorMessage(res), msg, size);
}

/* ASCII digits only, at most 9 of them; -1 otherwise. */
static long small_int(const char *s)
{
	long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 9 || !digits(s, n))
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static void check_result(struct tg_archive *a, PGresult *res)
{
	char st[6], m[TG_ERROR_MAX / 2];
	long v;

	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0)) {
			snprintf(a->check_msg, sizeof(a->check_msg),
				 "traguardo.schema_version has %d rows instead of one: apply "
				 "sql/schema.sql (see sql/README.md)", PQntuples(res));
			break;
		}
		v = small_int(PQgetvalue(res, 0, 0));
		if (v == TG_ARCHIVE_SCHEMA_VERSION) {
			a->check_ok = true;
			break;
		}
		tg_error_quote(PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)), 12, m, sizeof(m));
		snprintf(a->check_msg, sizeof(a->check_msg),
			 "the database has traguardo schema version %s but this traguardo needs "
			 "version %d: apply the sql/schema.sql of this version (see sql/README.md); "
			 "nothing is written until then", m, TG_ARCHIVE_SCHEMA_VERSION);
		break;
	case PGRES_FATAL_ERROR:
	case PGRES_NONFATAL_ERROR:
		result_error(res, st, m, sizeof(m));
		if (strcmp(st, "42P01") == 0 || strcmp(st, "3F000") == 0)
			snprintf(a->check_msg, sizeof(a->check_msg),
				 "the database has no traguardo schema (SQLSTATE %s: %s): apply "
				 "sql/schema.sql (see sql/README.md)", st, m);
		else
			snprintf(a->check_msg, sizeof(a->check_msg),
				 "cannot read traguardo.schema_version: SQLSTATE %s: %s", st, m);
		a->check_ok = false;
		break;
	default:
		snprintf(a->check_msg, sizeof(a->check_msg), "unexpected answer to the schema "
			 "version check (%s)", PQresStatus(PQresultStatus(res)));
		break;
	}
}

static void batch_result(struct tg_archive *a, PGresult *res)
{
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		if (PQntuples(res) == 1 && PQnfields(res) == 3) {
			for (int i = 0; i < 3; i++)
				a->counts[i] = small_int(PQgetvalue(res, 0, i));
			a->result_ok = true;
		}
		break;
	case PGRES_FATAL_ERROR:
	case PGRES_NONFATAL_ERROR:
		if (!a->failed)
			result_error(res, a->sqlstate, a->errmsg, sizeof(a->errmsg));
		a->failed = true;
		break;
	default:
		if (!a->failed)
			snprintf(a->errmsg, sizeof(a->errmsg), "unexpected answer (%s)",
				 PQresStatus(PQresultStatus(res)));
		snprintf(a->sqlstate, sizeof(a->sqlstate), "?????");
		a->failed = true;
		break;
	}
}

static void became_ready(struct tg_archive *a)
{
	a->state = S_READY;
	disarm(a);
	if (watch(a, EPOLLIN) < 0)
		go_down(a, LOG_ERR, "cannot watch the connection");
}

static void batch_done(struct tg_archive *a)
{
	char path[4096];
	long long inserted = 0;

	if (a->failed || !a->result_ok) {
		size_t files = a->batch_files;
		bool data = a->sqlstate[0] == '2' && (a->sqlstate[1] == '2' || a->sqlstate[1] == '3');

		a->batch_files = a->batch_records = 0;
		if (!a->failed)
			snprintf(a->errmsg, sizeof(a->errmsg), "no row counts in the answer");
		if (data && files > 1) {
			/* one bad record: find its file, the rest go through */
			a->single = true;
		} else if (data) {
			char why[TG_ERROR_MAX];

			snprintf(why, sizeof(why), "refused by PostgreSQL: SQLSTATE %s: %s",
				 a->sqlstate, a->errmsg);
			reject_file(a, 0, why);
			a->single = false;
		} else {
			go_down(a, LOG_WARNING, "a batch was not written: SQLSTATE %s: %s",
				a->sqlstate, a->errmsg);
			return;
		}
		became_ready(a);
		if (a->state == S_READY)
			maybe_send(a);
		return;
	}
	for (size_t i = 0; i < a->batch_files; i++) {
		file_path(a->dir, a->files[i].seq, path, sizeof(path));
		if (unlink(path) < 0 && errno != ENOENT)
			/* sent again by the next process, and skipped there */
			tg_log(LOG_WARNING, "archive: %s: written but cannot be removed: %s",
			       path, strerror(errno));
	}
	for (int i = 0; i < 3; i++)
		inserted += a->counts[i] > 0 ? a->counts[i] : 0;
	a->written += (uint64_t)inserted;
	if ((size_t)inserted < a->batch_records)
		a->duplicates += a->batch_records - (size_t)inserted;
	drop_files(a, 0, a->batch_files);
	a->batch_files = a->batch_records = 0;
	if (a->n_files == 0)
		a->single = false;
	became_ready(a);
	if (a->state == S_READY)
		maybe_send(a);
}

static void check_done(struct tg_archive *a)
{
	if (!a->check_ok) {
		go_down(a, LOG_ERR, "%s", a->check_msg);
		return;
	}
	if (a->error_logged)
		tg_log(LOG_NOTICE, "archive: connected to PostgreSQL again; %zu record%s to write",
		       a->spool_records, a->spool_records == 1 ? "" : "s");
	a->error_logged = false;
	a->last_error[0] = '\0';
	a->backoff = a->backoff_first;
	became_ready(a);
	if (a->state == S_READY)
		maybe_send(a);
}

static void step(struct tg_archive *a)
{
	char m[TG_ERROR_MAX];

	if (a->state == S_DOWN || a->conn == NULL)
		return;
	if (a->state == S_CONNECTING) {
		PostgresPollingStatusType ps = PQconnectPoll(a->conn);

		/* libpq may have moved to another address on a new socket that
		 * got the same number: epoll forgot the old one, watch afresh */
		a->io = sd_event_source_disable_unref(a->io);
		switch (ps) {
		case PGRES_POLLING_READING:
		case PGRES_POLLING_WRITING:
			if (watch(a, ps == PGRES_POLLING_READING ? EPOLLIN : EPOLLOUT) < 0)
				go_down(a, LOG_ERR, "cannot watch the connection");
			return;
		case PGRES_POLLING_OK:
			send_check(a);
			return;
		default:
			go_down(a, LOG_WARNING, "cannot connect to PostgreSQL: %s",
				conn_error(a, m, sizeof(m)));
			return;
		}
	}
	if (!PQconsumeInput(a->conn)) {
		lost(a);
		return;
	}
	if (a->flushing) {
		int f = PQflush(a->conn);

		if (f < 0) {
			lost(a);
			return;
		}
		if (f == 1) {
			if (watch(a, EPOLLIN | EPOLLOUT) < 0)
				go_down(a, LOG_ERR, "cannot watch the connection");
			return;
		}
		a->flushing = false;
		if (watch(a, EPOLLIN) < 0) {
			go_down(a, LOG_ERR, "cannot watch the connection");
			return;
		}
	}
	if (a->state == S_READY) {
		PGnotify *n;

		while ((n = PQnotifies(a->conn)) != NULL)
			PQfreemem(n);
		if (PQstatus(a->conn) == CONNECTION_BAD)
			lost(a);
		return;
	}
	while (!PQisBusy(a->conn)) {
		PGresult *res = PQgetResult(a->conn);

		if (res == NULL) {
			if (a->state == S_CHECKING)
				check_done(a);
			else
				batch_done(a);
			return;
		}
		if (a->state == S_CHECKING)
			check_result(a, res);
		else
			batch_result(a, res);
		PQclear(res);
	}
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	step(userdata);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct tg_archive *a = userdata;

	(void)s;
	(void)usec;
	switch (a->state) {
	case S_DOWN:
		start_connect(a);
		break;
	case S_CONNECTING:
		go_down(a, LOG_WARNING, "no connection to PostgreSQL after %ds", CONNECT_TIMEOUT_SEC);
		break;
	case S_CHECKING:
	case S_SENDING:
		go_down(a, LOG_WARNING, "no answer from PostgreSQL after %ds",
			STATEMENT_TIMEOUT_SEC + GRACE_SEC);
		break;
	case S_READY:
		break;
	}
	return 0;
}

/* Takes the oldest files (a bad one is set aside) into one batch. */
static void maybe_send(struct tg_archive *a)
{
	json_t *arr[K_COUNT] = { NULL, NULL, NULL };
	char *params[K_COUNT] = { NULL, NULL, NULL };
	const char *vals[K_COUNT];
	size_t bytes = 0, limit = a->single ? 1 : BATCH_FILES;
	char path[4096];

	if (a->state != S_READY || a->n_files == 0)
		return;
	for (int k = 0; k < K_COUNT; k++)
		if ((arr[k] = json_array()) == NULL)
			goto nomem;
	a->batch_files = a->batch_records = 0;
	while (a->batch_files < a->n_files && a->batch_files < limit &&
	       (a->batch_files == 0 || bytes + a->files[a->batch_files].bytes <= BATCH_BYTES)) {
		struct tg_error err;
		size_t i = a->batch_files, records;
		int rc;

		file_path(a->dir, a->files[i].seq, path, sizeof(path));
		rc = load_file(path, arr, &records, &err);
		if (rc == -ENOMEM)
			goto nomem;
		if (rc < 0) {
			reject_file(a, i, err.msg);
			continue;
		}
		/* the count made at start-up only guessed for a damaged file */
		a->spool_records += records;
		a->spool_records -= a->files[i].records;
		a->files[i].records = records;
		bytes += a->files[i].bytes;
		a->batch_records += records;
		a->batch_files++;
	}
	if (a->batch_files == 0)
		goto out;
	for (int k = 0; k < K_COUNT; k++) {
		if ((params[k] = json_dumps(arr[k], JSON_COMPACT | JSON_REAL_PRECISION(17))) == NULL)
			goto nomem;
		vals[k] = params[k];
	}
	a->result_ok = a->failed = false;
	a->sqlstate[0] = a->errmsg[0] = '\0';
	if (!PQsendQueryParams(a->conn, BATCH_SQL, K_COUNT, NULL, vals, NULL, NULL, 0)) {
		lost(a);
		goto out;
	}
	a->state = S_SENDING;
	arm(a, (uint64_t)(STATEMENT_TIMEOUT_SEC + GRACE_SEC) * 1000000);
	start_flush(a);
	goto out;
nomem:
	go_down(a, LOG_ERR, "out of memory while preparing a batch");
out:
	for (int k = 0; k < K_COUNT; k++) {
		json_decref(arr[k]);
		free(params[k]);
	}
}

/* ------------------------------------------------------------------ */
/* Public */

struct tg_archive *tg_archive_new(const struct tg_config *cfg, sd_event *ev,
				  struct tg_error *err)
{
	struct tg_archive *a;
	int rc;

	if (cfg == NULL || !cfg->archive.set || cfg->archive.conninfo == NULL || ev == NULL) {
		tg_error_set(err, "archive: not configured");
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto nomem;
	a->lock_fd = -1;
	a->fd = -1;
	a->notices.who = "archive";
	a->backoff = a->backoff_first = BACKOFF_FIRST_USEC;
	a->backoff_max = BACKOFF_MAX_USEC;
	a->ev = sd_event_ref(ev);
	if ((a->conninfo = strdup(cfg->archive.conninfo)) == NULL ||
	    (a->dir = tg_fs_join(cfg->daemon.state_dir, "archive")) == NULL ||
	    (a->rejected = tg_fs_join(a->dir, "rejected")) == NULL)
		goto nomem;
	if (cfg->archive.password_file != NULL) {
		char *secret;

		if ((a->password_path = tg_config_secret_path(cfg, cfg->archive.password_file)) == NULL)
			goto nomem;
		/* refused now rather than at every retry, unseen */
		secret = tg_secret_read(cfg, "archive", "password_file", cfg->archive.password_file, err);
		if (secret == NULL)
			goto fail;
		tg_secret_free(secret);
	}
	if ((rc = spool_open(a, err)) < 0) {
		tg_error_prefix(err, "archive: spool");
		goto fail;
	}
	rc = sd_event_add_time_relative(ev, &a->timer, CLOCK_MONOTONIC, 0, 0, on_timer, a);
	if (rc < 0) {
		tg_error_setc(err, rc, "archive: cannot add a timer: %s", strerror(-rc));
		goto fail;
	}
	sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
	start_connect(a);
	return a;
nomem:
	tg_error_setc(err, -ENOMEM, "archive: out of memory");
fail:
	tg_archive_free(a);
	return NULL;
}

void tg_archive_free(struct tg_archive *a)
{
	if (a == NULL)
		return;
	conn_close(a);
	sd_event_source_disable_unref(a->timer);
	for (size_t i = 0; i < a->cap_tracks; i++)
		track_free(a->tracks[i]);
	free(a->tracks);
	free(a->files);
	if (a->lock_fd >= 0)
		close(a->lock_fd);
	free(a->conninfo);
	free(a->password_path);
	free(a->dir);
	free(a->rejected);
	sd_event_unref(a->ev);
	free(a);
}

/* Where a source's values come from, as people may see it: a feed's URL
 * redacted (a token in its query stays out of the spool and the database,
 * as out of the logs and the state directory); buf holds it. */
static const char *provenance(const struct tg_config *cfg, const char *source, char *buf,
			      size_t size)
{
	ssize_t i = source != NULL ? tg_config_source_index(cfg, source) : -1;
	const struct tg_source *s;

	if (i < 0)
		return "";
	s = &cfg->sources[i];
	switch (s->type) {
	case TG_SOURCE_CSV:
		return s->path != NULL ? s->path : "";
	case TG_SOURCE_HTTP:
		return s->url != NULL ? tg_http_redact_url(s->url, buf, size) : "";
	case TG_SOURCE_PG:
		return s->query != NULL ? s->query : "";
	}
	return "";
}

static json_t *measurement(const char *id, tg_day period, double value, const char *source,
			   const char *prov, int64_t loaded_at)
{
	json_t *o = json_object();

	if (o == NULL || set(o, "indicator", jtext(id, TEXT_MAX)) < 0 ||
	    set(o, "period", jdate(period)) < 0 || set(o, "value", jnum(true, value)) < 0 ||
	    set(o, "source", jtext(source != NULL ? source : "", TEXT_MAX)) < 0 ||
	    set(o, "provenance", jtext(prov, TEXT_MAX)) < 0 ||
	    set(o, "loaded_at", json_integer(loaded_at)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

struct snap {
	struct track *t;
	size_t n;
	tg_day *period;
	double *value;
};

int tg_archive_measurements(struct tg_archive *a, const struct tg_config *cfg,
			    const struct tg_store *st, int64_t wall, struct tg_error *err)
{
	struct chunks c = { 0 };
	struct snap *snaps;
	size_t n_snaps = 0;
	int rc = -ENOMEM;

	if (wall < 0 || wall > UNIX_MAX)
		wall = 0;
	if ((snaps = calloc(cfg->n_indicators + 1, sizeof(*snaps))) == NULL)
		return tg_error_setc(err, -ENOMEM, "archive: out of memory");
	for (size_t i = 0; i < cfg->n_indicators; i++) {
		const char *id = cfg->indicators[i].id;
		const struct tg_series *s = tg_store_series(st, id);
		struct track *t;
		const char *prov;
		char pbuf[2048];
		int64_t loaded;
		size_t j = 0, changed = 0;

		if (s == NULL || s->n == 0)
			continue;
		if ((t = track_get(a, id)) == NULL)
			goto nomem;
		prov = provenance(cfg, s->source, pbuf, sizeof(pbuf));
		loaded = s->last_loaded > 0 && s->last_loaded <= UNIX_MAX ? s->last_loaded : wall;
		for (size_t k = 0; k < s->n; k++) {
			while (j < t->n && t->period[j] < s->period[k])
				j++;
			if (j < t->n && t->period[j] == s->period[k] && same(t->value[j], s->value[k]))
				continue;
			changed++;
			if (chunks_add(&c, K_MEASUREMENT, measurement(id, s->period[k], s->value[k],
								     s->source, prov, loaded)) < 0)
				goto nomem;
		}
		if (changed == 0)
			continue;
		snaps[n_snaps].t = t;
		snaps[n_snaps].n = s->n;
		snaps[n_snaps].period = malloc(s->n * sizeof(tg_day));
		snaps[n_snaps].value = malloc(s->n * sizeof(double));
		n_snaps++;
		if (snaps[n_snaps - 1].period == NULL || snaps[n_snaps - 1].value == NULL)
			goto nomem;
		memcpy(snaps[n_snaps - 1].period, s->period, s->n * sizeof(tg_day));
		memcpy(snaps[n_snaps - 1].value, s->value, s->n * sizeof(double));
	}
	if ((rc = spool_write(a, &c, err)) < 0)
		goto out;
	for (size_t i = 0; i < n_snaps; i++) {
		struct track *t = snaps[i].t;

		free(t->period);
		free(t->value);
		t->n = snaps[i].n;
		t->period = snaps[i].period;
		t->value = snaps[i].value;
		snaps[i].period = NULL;
		snaps[i].value = NULL;
	}
	rc = (int)(c.records > (size_t)INT32_MAX ? INT32_MAX : c.records);
	goto out;
nomem:
	rc = tg_error_setc(err, -ENOMEM, "archive: out of memory");
out:
	for (size_t i = 0; i < n_snaps; i++) {
		free(snaps[i].period);
		free(snaps[i].value);
	}
	free(snaps);
	chunks_free(&c);
	return rc;
}

static const char *civil(tg_time t, char *buf, size_t size)
{
	tg_day d = tg_time_day(t);
	int64_t s = t - (int64_t)d * TG_DAY_SECONDS;
	int y, mo, da;

	tg_day_to_ymd(d, &y, &mo, &da);
	if (y < 1 || y > 9999)
		return NULL;
	snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, da, (int)(s / 3600),
		 (int)(s / 60 % 60), (int)(s % 60));
	return buf;
}

static json_t *evaluation(const struct tg_indicator *ind, const struct tg_eval_result *r,
			  const char *as_of, int64_t wall)
{
	json_t *o = json_object();
	bool range = ind->better == TG_BETTER_RANGE;

	if (o == NULL || set(o, "indicator", jtext(ind->id, TEXT_MAX)) < 0 ||
	    set(o, "evaluated_at", json_integer(wall)) < 0 ||
	    set(o, "as_of", json_string(as_of)) < 0 ||
	    set(o, "status", json_string(tg_status_name(r->status))) < 0 ||
	    set(o, "period", r->has_value ? jdate(r->period) : json_null()) < 0 ||
	    set(o, "value", jnum(r->has_value, r->value)) < 0 ||
	    set(o, "name", jtext(ind->name != NULL ? ind->name : "", TEXT_MAX)) < 0 ||
	    set(o, "department", jtext(ind->department != NULL ? ind->department : "", TEXT_MAX)) < 0 ||
	    set(o, "process", jtext(ind->process, TEXT_MAX)) < 0 ||
	    set(o, "unit", jtext(ind->unit, TEXT_MAX)) < 0 ||
	    set(o, "better", json_string(BETTER_NAME[ind->better <= TG_BETTER_RANGE ? ind->better : 0])) < 0 ||
	    set(o, "target", jnum(!range && ind->has_target, ind->target)) < 0 ||
	    set(o, "critical", jnum(!range && ind->has_critical, ind->critical)) < 0 ||
	    set(o, "min", jnum(range && ind->has_min, ind->min)) < 0 ||
	    set(o, "max", jnum(range && ind->has_max, ind->max)) < 0 ||
	    set(o, "critical_min", jnum(range && ind->has_critical_min, ind->critical_min)) < 0 ||
	    set(o, "critical_max", jnum(range && ind->has_critical_max, ind->critical_max)) < 0 ||
	    set(o, "forecast", jnum(r->has_forecast, r->forecast)) < 0 ||
	    set(o, "forecast_year", r->has_forecast && r->forecast_year >= 1 && r->forecast_year <= 9999 ?
		json_integer(r->forecast_year) : json_null()) < 0 ||
	    set(o, "forecast_misses", r->has_forecast ? json_boolean(r->forecast_misses) : json_null()) < 0 ||
	    set(o, "reason", jtext(r->reason, TEXT_MAX)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int tg_archive_evaluations(struct tg_archive *a, const struct tg_config *cfg,
			   const struct tg_eval_result *res, tg_time now, int64_t wall,
			   struct tg_error *err)
{
	struct chunks c = { 0 };
	struct changed {
		struct track *t;
		const struct tg_eval_result *r;
	} *changed;
	size_t n_changed = 0;
	char as_of[32];
	int rc;

	if (civil(now, as_of, sizeof(as_of)) == NULL)
		return tg_error_set(err, "archive: evaluation time out of range");
	if (wall < 0 || wall > UNIX_MAX)
		return tg_error_set(err, "archive: wall clock out of range");
	if ((changed = calloc(cfg->n_indicators + 1, sizeof(*changed))) == NULL)
		return tg_error_setc(err, -ENOMEM, "archive: out of memory");
	for (size_t i = 0; i < cfg->n_indicators; i++) {
		const struct tg_eval_result *r = &res[i];
		struct track *t = track_get(a, cfg->indicators[i].id);

		if (t == NULL)
			goto nomem;
		if (t->has_eval && t->status == r->status && t->has_value == r->has_value &&
		    (!r->has_value || (t->eperiod == r->period && same(t->evalue, r->value))))
			continue;
		if (chunks_add(&c, K_EVALUATION, evaluation(&cfg->indicators[i], r, as_of, wall)) < 0)
			goto nomem;
		changed[n_changed].t = t;
		changed[n_changed++].r = r;
	}
	if ((rc = spool_write(a, &c, err)) < 0)
		goto out;
	for (size_t i = 0; i < n_changed; i++) {
		struct track *t = changed[i].t;
		const struct tg_eval_result *r = changed[i].r;

		t->has_eval = true;
		t->status = r->status;
		t->has_value = r->has_value;
		t->eperiod = r->has_value ? r->period : 0;
		t->evalue = r->has_value ? r->value : 0;
	}
	rc = (int)n_changed;
	goto out;
nomem:
	rc = tg_error_setc(err, -ENOMEM, "archive: out of memory");
out:
	free(changed);
	chunks_free(&c);
	return rc;
}

int tg_archive_notification(struct tg_archive *a, const struct tg_archive_note *n,
			    struct tg_error *err)
{
	struct chunks c = { 0 };
	json_t *o;
	int rc;

	if (n == NULL || n->message_id == NULL || n->message_id[0] == '\0' ||
	    n->channel == NULL || n->channel[0] == '\0')
		return tg_error_set(err, "archive: a notification needs a message id and a channel");
	if ((unsigned)n->status > TG_ARCHIVE_FAILED || n->attempts < 0 || n->at < 0 ||
	    n->at > UNIX_MAX)
		return tg_error_set(err, "archive: notification '%.64s': status, attempts or time "
				    "out of range", n->message_id);
	o = json_object();
	if (o == NULL || set(o, "message_id", jtext(n->message_id, TEXT_MAX)) < 0 ||
	    set(o, "events", jlist(n->events, n->events != NULL ? n->n_events : 0)) < 0 ||
	    set(o, "channel", jtext(n->channel, TEXT_MAX)) < 0 ||
	    set(o, "recipients", jlist(n->recipients, n->recipients != NULL ? n->n_recipients : 0)) < 0 ||
	    set(o, "subject", jtext(n->subject != NULL ? n->subject : "", TEXT_MAX)) < 0 ||
	    set(o, "status", json_string(NSTATUS_NAME[n->status])) < 0 ||
	    set(o, "attempts", json_integer(n->attempts > 1000000 ? 1000000 : n->attempts)) < 0 ||
	    set(o, "reply", jtext(n->reply, TEXT_MAX)) < 0 ||
	    set(o, "at", json_integer(n->at)) < 0) {
		json_decref(o);
		return tg_error_setc(err, -ENOMEM, "archive: out of memory");
	}
	if (chunks_add(&c, K_NOTIFICATION, o) < 0)
		rc = tg_error_setc(err, -ENOMEM, "archive: out of memory");
	else
		rc = spool_write(a, &c, err);
	chunks_free(&c);
	return rc < 0 ? rc : 1;
}

void tg_archive_forget(struct tg_archive *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->cap_tracks; i++) {
		track_free(a->tracks[i]);
		a->tracks[i] = NULL;
	}
	a->n_tracks = 0;
}

void tg_archive_flush(struct tg_archive *a)
{
	if (a == NULL)
		return;
	if (a->state == S_DOWN) {
		a->backoff = a->backoff_first;
		disarm(a);
		start_connect(a);
	} else {
		maybe_send(a);
	}
}

size_t tg_archive_pending(const struct tg_archive *a)
{
	return a != NULL ? a->spool_records : 0;
}

bool tg_archive_busy(const struct tg_archive *a)
{
	return a != NULL && a->state != S_DOWN && a->state != S_READY;
}

bool tg_archive_connected(const struct tg_archive *a)
{
	return a != NULL && (a->state == S_READY || a->state == S_SENDING);
}

void tg_archive_stats(const struct tg_archive *a, struct tg_archive_stats *out)
{
	*out = (struct tg_archive_stats){ 0 };
	if (a == NULL)
		return;
	out->pending = a->spool_records;
	out->files = a->n_files;
	out->written = a->written;
	out->duplicates = a->duplicates;
	out->dropped = a->dropped;
	out->rejected = a->rejected_records;
}

const char *tg_archive_status_line(const struct tg_archive *a, char *buf, size_t size)
{
	char extra[96] = "";
	const char *state;

	if (size == 0)
		return buf;
	if (a == NULL) {
		snprintf(buf, size, "archive off");
		return buf;
	}
	if (a->dropped > 0 || a->rejected_records > 0)
		snprintf(extra, sizeof(extra), "%s%llu dropped, %llu rejected",
			 ", ", (unsigned long long)a->dropped, (unsigned long long)a->rejected_records);
	switch (a->state) {
	case S_READY:
	case S_SENDING:
		state = "connected";
		break;
	case S_CONNECTING:
	case S_CHECKING:
		state = a->error_logged ? NULL : "connecting";
		break;
	default:
		state = NULL;
		break;
	}
	if (state != NULL)
		snprintf(buf, size, "archive %s, %zu waiting%s", state, a->spool_records, extra);
	else
		snprintf(buf, size, "archive disconnected (%s), %zu waiting%s",
			 a->last_error[0] != '\0' ? a->last_error : "not connected yet",
			 a->spool_records, extra);
	tg_utf8_scrub(buf);   /* a server's message, maybe cut mid-character */
	return buf;
}

void tg_archive_set_backoff(struct tg_archive *a, uint64_t first_usec, uint64_t max_usec)
{
	if (a == NULL || first_usec == 0)
		return;
	a->backoff_first = first_usec;
	a->backoff_max = max_usec > first_usec ? max_usec : first_usec;
	if (a->backoff > a->backoff_max || a->backoff < a->backoff_first)
		a->backoff = a->backoff_first;
}
