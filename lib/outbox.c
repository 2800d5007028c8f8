/*
 * outbox.c — the durable spool of messages (see outbox.h).
 *
 * Owns STATE_DIR/outbox/{tmp,new,failed}/ and the format of a message file:
 * one JSON object, written only by this module.  Every write is the same
 * sequence: a temporary in tmp/ created with O_EXCL, written whole,
 * fsync'ed, renamed into new/ or failed/ (with RENAME_NOREPLACE, or a hard
 * link, wherever an existing file must win), and the target directory
 * fsync'ed; so a crash leaves either the old file or the new one, and a
 * message the caller was told is spooled is on disk.  Names are resolved
 * relative to directory descriptors opened once by tg_outbox_open.
 *
 * A file read back is untrusted: it is bounded before it is read, its JSON
 * values are counted before jansson builds them, and every field is
 * type- and range-checked; what fails is moved to failed/ as .corrupt so that
 * one bad file never blocks the others.  What this module writes is checked
 * by the same rules first, so nothing it spools can come back as corrupt.
 */
#include "outbox.h"
#include "utf8.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"

#define FILE_MAX (64u << 20)        /* a larger file is refused unread */
#define TO_MAX 10000
#define EVENTS_MAX 100000
/* values jansson may build: the arrays, the fields and some slack */
#define VALUES_MAX (TO_MAX + EVENTS_MAX + 64)
#define CHANNEL_MAX 256
#define ADDRESS_MAX 1024
#define EVENT_ID_MAX 256
#define SUBJECT_MAX 4096
#define LAST_ERROR_MAX 4096
#define TIME_MAX INT64_C(253402300799)  /* 9999-12-31T23:59:59Z */
#define ATTEMPTS_MAX 1000000
#define VERSION 1
#define BACKOFF_FIRST 60
#define BACKOFF_CAP 3600
#define MAX_AGE_DEFAULT 259200          /* 3 days */
#define TMP_MAX_AGE 3600
#define SUFFIX_MAX 1000                 /* failed/ID.json.N, N <= this */
#define FILE_MODE 0640
#define DIR_MODE 0750
#define NAME_SIZE 64                    /* "ID.json.corrupt.NNNN" and the like */
#define QUOTE 40                        /* bytes of offending text in messages */
#define QBUF (QUOTE * 4 + 8)

struct tg_outbox {
	char *path;          /* STATE_DIR/outbox, for messages */
	int tmp_fd, new_fd, failed_fd, sent_fd, staging_fd;
	unsigned seq;        /* makes this process's temporary names unique */
	unsigned dones;      /* sent/ is pruned every SENT_PRUNE_EVERY deliveries */
	bool staging;        /* put writes to staging/ (tg_outbox_stage) */
	struct retried *retried;   /* the wall clock at each message's last retry */
	size_t n_retried, cap_retried;
};

/* A message's last tg_outbox_retry in this process (the messages waiting
 * are few: a short array).  Not kept on disk: a start delivers every
 * message waiting whatever its backoff. */
struct retried {
	char id[TG_OUTBOX_ID_SIZE];
	int64_t at;
};

/* seconds the wall clock may go back (an NTP step) before the retries
 * counted on it are taken as due */
#define CLOCK_SLACK 2

/* sent/ID: an empty marker per delivered message, kept SENT_KEEP seconds, so
 * that a cycle replayed after its state could not be saved (a crash, a full
 * disk) does not spool again what was already delivered. */
#define SENT_KEEP        (8 * 86400)
#define SENT_PRUNE_EVERY 64

static const char *const FIELDS[] = {
	"version", "id", "kind", "channel", "to", "subject", "events", "created",
	"next_attempt", "attempts", "last_error", "body",
};

/* ---- small helpers ---- */

static bool id_valid(const char *s)
{
	for (int i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[32] == '\0';
}

/* The id of a file named ID.json, or false. */
static bool msg_name(const char *name, char id[TG_OUTBOX_ID_SIZE])
{
	if (strlen(name) != 37 || strcmp(name + 32, ".json") != 0)
		return false;
	memcpy(id, name, 32);
	id[32] = '\0';
	return id_valid(id);
}

/* ID.json or ID.json.ANYTHING: what failed/ holds for a message. */
static bool failed_name(const char *name)
{
	char id[TG_OUTBOX_ID_SIZE];
	size_t len = strlen(name);

	if (len < 37 || memcmp(name + 32, ".json", 5) != 0 || (len > 37 && name[37] != '.'))
		return false;
	memcpy(id, name, 32);
	id[32] = '\0';
	return id_valid(id);
}

/* The names a message takes in failed/: ID.json, ID.json.N,
 * ID.json.corrupt, ID.json.corrupt.N. */
static bool copy_name(const char *name)
{
	const char *p = name + 37;

	if (!failed_name(name) || strlen(name) >= NAME_SIZE)
		return false;
	if (strncmp(p, ".corrupt", 8) == 0)
		p += 8;
	if (*p == '.' && p[1] != '\0')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	return *p == '\0';
}

static const char *quoted(const char *s, size_t len, char *buf, size_t size)
{
	return tg_error_quote_in(s, len, QUOTE, "'\\", buf, size);
}

/* The id for messages: m->id need not be terminated. */
static const char *shown_id(const char *id, char *buf, size_t size)
{
	return quoted(id, strnlen(id, TG_OUTBOX_ID_SIZE), buf, size);
}

/* C0, DEL and the C1 range, given the UTF-8 sequence at p of length n. */
static bool is_control(const unsigned char *p, size_t n)
{
	return (n == 1 && (p[0] < 0x20 || p[0] == 0x7F)) || (n == 2 && p[0] == 0xC2 && p[1] < 0xA0);
}

enum text_fault { TEXT_OK, TEXT_UTF8, TEXT_NUL, TEXT_CONTROL };

/* Checks s[0..len): valid UTF-8, no NUL, and no control characters unless
 * controls; *at gets the offset of the fault. */
static enum text_fault text_check(const char *s, size_t len, bool controls, size_t *at)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = tg_utf8_len(p + i, len - i);

		*at = i;
		if (n == 0)
			return TEXT_UTF8;
		if (p[i] == '\0')
			return TEXT_NUL;
		if (!controls && is_control(p + i, n))
			return TEXT_CONTROL;
		i += n;
	}
	return TEXT_OK;
}

static const char *fault_text(enum text_fault f)
{
	switch (f) {
	case TEXT_UTF8:
		return "is not valid UTF-8";
	case TEXT_NUL:
		return "contains a NUL byte";
	case TEXT_CONTROL:
		return "contains a control character";
	default:
		return "is valid";
	}
}

/* A copy of s fit for a one-line display field: invalid UTF-8 as '?',
 * controls as spaces, cut at a character boundary to at most max bytes.
 * NULL only when out of memory. */
static char *display_copy(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t len = strlen((const char *)p), o = 0;
	char *out = malloc((len < max ? len : max) + 1);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = tg_utf8_len(p + i, len - i);

		if (n == 0 || is_control(p + i, n)) {
			if (o + 1 > max)
				break;
			out[o++] = n == 0 ? '?' : ' ';
			i += n == 0 ? 1 : n;
			continue;
		}
		if (o + n > max)
			break;
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

/* Makes renames and unlinks in the directory durable.  EINVAL: a file
 * system that cannot sync directories (nothing more can be done). */
static int fsync_dir(int fd)
{
	return fsync(fd) < 0 && errno != EINVAL ? -errno : 0;
}

/* Renames, never replacing to: 0, -EEXIST, or -errno. */
static int rename_noreplace(int from_fd, const char *from, int to_fd, const char *to)
{
	if (renameat2(from_fd, from, to_fd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -errno;
	/* a file system without RENAME_NOREPLACE: link(2) refuses an
	 * existing name the same way */
	if (linkat(from_fd, from, to_fd, to, 0) < 0)
		return -errno;
	(void)unlinkat(from_fd, from, 0);
	return 0;
}

/* Writes data as dir/name (dir_fd, sub = "new" or "failed" for messages)
 * through tmp/: 1 when written, 0 when noreplace and the name was taken,
 * negative with err. */
static int write_file(struct tg_outbox *ob, int dir_fd, const char *sub, const char *name,
		      const char *data, size_t len, bool noreplace, struct tg_error *err)
{
	char tmp[NAME_SIZE + 48];
	int fd = -1, r;

	for (int i = 0; i < 100 && fd < 0; i++) {
		snprintf(tmp, sizeof(tmp), "%s.%ld.%u", name, (long)getpid(), ob->seq++);
		fd = openat(ob->tmp_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			    FILE_MODE);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return tg_error_setc(err, -errno, "%s/tmp/%s: %s", ob->path, tmp, strerror(errno));
	/* the umask does not decide who may read the spool */
	r = fchmod(fd, FILE_MODE) < 0 ? -errno : 0;
	if (r == 0)
		r = tg_fs_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(ob->tmp_fd, tmp, 0);
		return tg_error_setc(err, r, "%s/tmp/%s: %s", ob->path, tmp, strerror(-r));
	}
	if (noreplace)
		r = rename_noreplace(ob->tmp_fd, tmp, dir_fd, name);
	else
		r = renameat(ob->tmp_fd, tmp, dir_fd, name) < 0 ? -errno : 0;
	if (r < 0) {
		(void)unlinkat(ob->tmp_fd, tmp, 0);
		if (r == -EEXIST && noreplace)
			return 0;
		return tg_error_setc(err, r, "%s/%s/%s: %s", ob->path, sub, name, strerror(-r));
	}
	if ((r = fsync_dir(dir_fd)) < 0)
		return tg_error_setc(err, r, "%s/%s: %s", ob->path, sub, strerror(-r));
	return 1;
}

/* Reads dir/name whole.  0; -EBADMSG with *why when the file cannot be a
 * message whatever happens (not regular, too big); -errno otherwise. */
static int read_file(int dir_fd, const char *name, char **out, size_t *len, const char **why)
{
	struct stat st;
	size_t size, got = 0;
	char *buf;
	int fd, r = 0;

	*out = NULL;
	*len = 0;
	*why = NULL;
	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP) {
			*why = "a symbolic link, not a regular file";
			return -EBADMSG;
		}
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0) {
		close(fd);
		*why = "not a regular file";
		return -EBADMSG;
	}
	if ((uint64_t)st.st_size > FILE_MAX) {
		close(fd);
		*why = "larger than 64 MiB";
		return -EBADMSG;
	}
	size = (size_t)st.st_size;
	if ((buf = malloc(size + 1)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

/* ---- the file format ---- */

void tg_outbox_msg_clear(struct tg_outbox_msg *m)
{
	if (m == NULL)
		return;
	free(m->channel);
	for (size_t i = 0; m->to != NULL && i < m->n_to; i++)
		free(m->to[i]);
	free(m->to);
	free(m->subject);
	for (size_t i = 0; m->events != NULL && i < m->n_events; i++)
		free(m->events[i]);
	free(m->events);
	free(m->body);
	free(m->last_error);
	memset(m, 0, sizeof(*m));
}

/* An upper bound of the values in a JSON text (each value but the first
 * follows a comma or an opening bracket), so that jansson is never asked to
 * build millions of them from a few megabytes. */
static size_t json_values_bound(const char *p, size_t len)
{
	size_t n = 1;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == ',' || c == '[' || c == '{') {
			n++;
		}
	}
	return n;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* 'the string' (quoted), or the type of anything else. */
static const char *shown_value(const json_t *v, char *buf, size_t size)
{
	if (!json_is_string(v) || size < 3)
		return type_name(v);
	buf[0] = '\'';
	quoted(json_string_value(v), json_string_length(v), buf + 1, size - 2);
	strcat(buf, "'");
	return buf;
}

static int field_error(struct tg_error *err, const char *name, const char *field, long long idx,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "NAME: field 'F'[IDX]: ..." (idx < 0: no index). */
static int field_error(struct tg_error *err, const char *name, const char *field, long long idx,
		       const char *fmt, ...)
{
	char what[TG_ERROR_MAX], where[32] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (idx >= 0)
		snprintf(where, sizeof(where), "[%lld]", idx);
	return tg_error_setc(err, -EBADMSG, "%s: field '%s'%s: %s", name, field, where, what);
}

/* Copies the string v after checking it; *out is NUL-terminated. */
static int take_text(const json_t *v, const char *name, const char *field, long long idx,
		     size_t min, size_t max, bool controls, char **out, size_t *out_len,
		     struct tg_error *err)
{
	char qb[QBUF];
	const char *s;
	size_t len, at;
	enum text_fault f;

	if (!json_is_string(v))
		return field_error(err, name, field, idx, "expected a string, got %s", type_name(v));
	s = json_string_value(v);
	len = json_string_length(v);
	if (len < min)
		return field_error(err, name, field, idx, "must not be empty");
	if (len > max)
		return field_error(err, name, field, idx, "longer than %zu bytes (%zu): '%s'", max,
				   len, quoted(s, len, qb, sizeof(qb)));
	if ((f = text_check(s, len, controls, &at)) != TEXT_OK)
		return field_error(err, name, field, idx, "%s at byte %zu: '%s'", fault_text(f), at,
				   quoted(s, len, qb, sizeof(qb)));
	if ((*out = malloc(len + 1)) == NULL)
		return tg_error_setc(err, -ENOMEM, "%s: out of memory", name);
	memcpy(*out, s, len);
	(*out)[len] = '\0';
	if (out_len != NULL)
		*out_len = len;
	return 0;
}

static int take_int(const json_t *v, const char *name, const char *field, int64_t min,
		    int64_t max, int64_t *out, struct tg_error *err)
{
	json_int_t x;

	if (!json_is_integer(v))
		return field_error(err, name, field, -1, "expected an integer, got %s",
				   type_name(v));
	x = json_integer_value(v);
	if (x < min || x > max)
		return field_error(err, name, field, -1, "%lld is out of range %lld..%lld",
				   (long long)x, (long long)min, (long long)max);
	*out = x;
	return 0;
}

static int take_list(const json_t *v, const char *name, const char *field, size_t max_n,
		     size_t max_len, char ***out, size_t *n, struct tg_error *err)
{
	size_t count;
	int r;

	if (!json_is_array(v))
		return field_error(err, name, field, -1, "expected an array, got %s", type_name(v));
	count = json_array_size(v);
	if (count > max_n)
		return field_error(err, name, field, -1, "more than %zu entries (%zu)", max_n,
				   count);
	if (count == 0)
		return 0;
	if ((*out = calloc(count, sizeof(**out))) == NULL)
		return tg_error_setc(err, -ENOMEM, "%s: out of memory", name);
	for (size_t i = 0; i < count; i++) {
		r = take_text(json_array_get(v, i), name, field, (long long)i, 1, max_len, false,
			      &(*out)[i], NULL, err);
		if (r < 0)
			return r;
		*n = i + 1;
	}
	return 0;
}

static int parse_fields(const json_t *root, const char *name, struct tg_outbox_msg *m,
			struct tg_error *err)
{
	const json_t *v[sizeof(FIELDS) / sizeof(FIELDS[0])];
	char qb[QBUF], *s = NULL;
	const char *key;
	json_t *val;
	int64_t x;
	int r;

	json_object_foreach((json_t *)root, key, val) {
		size_t k = 0;

		while (k < sizeof(FIELDS) / sizeof(FIELDS[0]) && strcmp(key, FIELDS[k]) != 0)
			k++;
		if (k == sizeof(FIELDS) / sizeof(FIELDS[0]))
			return tg_error_setc(err, -EBADMSG, "%s: unknown field '%s'", name,
					     quoted(key, strlen(key), qb, sizeof(qb)));
	}
	for (size_t k = 0; k < sizeof(FIELDS) / sizeof(FIELDS[0]); k++)
		if ((v[k] = json_object_get(root, FIELDS[k])) == NULL)
			return tg_error_setc(err, -EBADMSG, "%s: field '%s' is missing", name,
					     FIELDS[k]);
	/* the order of FIELDS */
	if ((r = take_int(v[0], name, "version", 0, INT64_MAX, &x, err)) < 0)
		return r;
	if (x != VERSION)
		return field_error(err, name, "version", -1, "version %lld is not supported (%d is)",
				   (long long)x, VERSION);
	if (!json_is_string(v[1]) || json_string_length(v[1]) != 32 ||
	    !id_valid(json_string_value(v[1])))
		return field_error(err, name, "id", -1, "expected 32 lower-case hex digits, got %s",
				   shown_value(v[1], qb, sizeof(qb)));
	memcpy(m->id, json_string_value(v[1]), TG_OUTBOX_ID_SIZE);
	if (json_is_string(v[2]) && strcmp(json_string_value(v[2]), "email") == 0 &&
	    json_string_length(v[2]) == 5)
		m->kind = TG_OUTBOX_EMAIL;
	else if (json_is_string(v[2]) && strcmp(json_string_value(v[2]), "webhook") == 0 &&
		 json_string_length(v[2]) == 7)
		m->kind = TG_OUTBOX_WEBHOOK;
	else
		return field_error(err, name, "kind", -1, "expected \"email\" or \"webhook\", got %s",
				   shown_value(v[2], qb, sizeof(qb)));
	if ((r = take_text(v[3], name, "channel", -1, 1, CHANNEL_MAX, false, &m->channel, NULL,
			   err)) < 0 ||
	    (r = take_list(v[4], name, "to", TO_MAX, ADDRESS_MAX, &m->to, &m->n_to, err)) < 0 ||
	    (r = take_text(v[5], name, "subject", -1, 0, SUBJECT_MAX, false, &m->subject, NULL,
			   err)) < 0 ||
	    (r = take_list(v[6], name, "events", EVENTS_MAX, EVENT_ID_MAX, &m->events,
			   &m->n_events, err)) < 0 ||
	    (r = take_int(v[7], name, "created", 1, TIME_MAX, &m->created, err)) < 0 ||
	    (r = take_int(v[8], name, "next_attempt", 0, TIME_MAX, &m->next_attempt, err)) < 0 ||
	    (r = take_int(v[9], name, "attempts", 0, ATTEMPTS_MAX, &x, err)) < 0)
		return r;
	m->attempts = (int)x;
	if (!json_is_null(v[10])) {
		if ((r = take_text(v[10], name, "last_error", -1, 0, LAST_ERROR_MAX, false, &s,
				   NULL, err)) < 0)
			return r;
		m->last_error = s;
	}
	return take_text(v[11], name, "body", -1, 0, FILE_MAX, true, &m->body, &m->body_len, err);
}

int tg_outbox_parse(const char *data, size_t len, const char *name, struct tg_outbox_msg *m,
		    struct tg_error *err)
{
	char qb[JSON_ERROR_TEXT_LENGTH * 4 + 8];
	json_error_t je;
	json_t *root;
	int r;

	memset(m, 0, sizeof(*m));
	if (name == NULL)
		name = "outbox message";
	if (len > FILE_MAX)
		return tg_error_setc(err, -EBADMSG, "%s: larger than 64 MiB", name);
	if (json_values_bound(data, len) > VALUES_MAX)
		return tg_error_setc(err, -EBADMSG, "%s: more than %d JSON values", name,
				     VALUES_MAX);
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		tg_error_quote(je.text, strnlen(je.text, sizeof(je.text)), sizeof(je.text), qb,
			       sizeof(qb));
		if (je.line > 0)
			return tg_error_setc(err, -EBADMSG, "%s:%d: invalid JSON: %s", name, je.line,
					     qb);
		return tg_error_setc(err, -EBADMSG, "%s: invalid JSON: %s", name, qb);
	}
	if (!json_is_object(root))
		r = tg_error_setc(err, -EBADMSG, "%s: expected a JSON object, got %s", name,
				  type_name(root));
	else
		r = parse_fields(root, name, m, err);
	json_decref(root);
	if (r < 0)
		tg_outbox_msg_clear(m);
	return r;
}

/* The checks of parse_fields, on a message about to be written (subject
 * and last_error are cleaned by serialize instead). */
static int check_msg(const struct tg_outbox_msg *m, struct tg_error *err)
{
	char qb[QBUF], ib[QBUF];
	size_t at;
	enum text_fault f;

	if (!id_valid(m->id))
		return tg_error_set(err, "outbox: message id '%s' is not 32 lower-case hex digits",
				    shown_id(m->id, qb, sizeof(qb)));
	shown_id(m->id, ib, sizeof(ib));
	if (m->kind != TG_OUTBOX_EMAIL && m->kind != TG_OUTBOX_WEBHOOK)
		return tg_error_set(err, "outbox: message %s: unknown kind %d", ib, (int)m->kind);
	if (m->channel == NULL || m->channel[0] == '\0' || strlen(m->channel) > CHANNEL_MAX ||
	    text_check(m->channel, strlen(m->channel), false, &at) != TEXT_OK)
		return tg_error_set(err, "outbox: message %s: invalid channel name '%s'", ib,
				    m->channel != NULL
				    ? quoted(m->channel, strlen(m->channel), qb, sizeof(qb)) : "");
	if (m->n_to > TO_MAX || (m->n_to > 0 && m->to == NULL))
		return tg_error_set(err, "outbox: message %s: %zu recipients (at most %d)", ib,
				    m->n_to, TO_MAX);
	for (size_t i = 0; i < m->n_to; i++) {
		const char *s = m->to[i] != NULL ? m->to[i] : "";
		size_t len = strlen(s);

		if (len == 0 || len > ADDRESS_MAX || text_check(s, len, false, &at) != TEXT_OK)
			return tg_error_set(err, "outbox: message %s: invalid recipient '%s'", ib,
					    quoted(s, len, qb, sizeof(qb)));
	}
	if (m->n_events > EVENTS_MAX || (m->n_events > 0 && m->events == NULL))
		return tg_error_set(err, "outbox: message %s: %zu events (at most %d)", ib,
				    m->n_events, EVENTS_MAX);
	for (size_t i = 0; i < m->n_events; i++) {
		const char *s = m->events[i] != NULL ? m->events[i] : "";
		size_t len = strlen(s);

		if (len == 0 || len > EVENT_ID_MAX || text_check(s, len, false, &at) != TEXT_OK)
			return tg_error_set(err, "outbox: message %s: invalid event id '%s'", ib,
					    quoted(s, len, qb, sizeof(qb)));
	}
	if (m->created < 1 || m->created > TIME_MAX)
		return tg_error_set(err, "outbox: message %s: creation time %lld is out of range "
				    "1..%lld", ib, (long long)m->created, (long long)TIME_MAX);
	if (m->next_attempt < 0 || m->next_attempt > TIME_MAX || m->attempts < 0 ||
	    m->attempts > ATTEMPTS_MAX)
		return tg_error_set(err, "outbox: message %s: invalid retry bookkeeping", ib);
	if (m->body == NULL && m->body_len > 0)
		return tg_error_set(err, "outbox: message %s: no body", ib);
	/* some bytes of room for the other fields */
	if (m->body_len > FILE_MAX - 65536)
		return tg_error_setc(err, -EFBIG, "outbox: message %s: body of %zu bytes is too "
				     "large", ib, m->body_len);
	if (m->body != NULL && (f = text_check(m->body, m->body_len, true, &at)) != TEXT_OK)
		return tg_error_set(err, "outbox: message %s: the body %s at byte %zu: refusing "
				    "to spool it", ib, fault_text(f), at);
	return 0;
}

static json_t *string_list(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	return a;
}

static bool set(json_t *o, const char *key, json_t *v)
{
	/* json_object_set_new takes v, even on failure; v NULL fails */
	return json_object_set_new(o, key, v) == 0;
}

/* The file content for m: 0 with *out (malloc'ed) and *len, or <0 with err. */
static int serialize(const struct tg_outbox_msg *m, char **out, size_t *len,
		     struct tg_error *err)
{
	const size_t flags = JSON_INDENT(1) | JSON_PRESERVE_ORDER;
	char *subject = NULL, *last_error = NULL, *buf = NULL;
	json_t *o = NULL;
	size_t size;
	int r;

	*out = NULL;
	if ((r = check_msg(m, err)) < 0)
		return r;
	subject = display_copy(m->subject, SUBJECT_MAX);
	if (m->last_error != NULL)
		last_error = display_copy(m->last_error, LAST_ERROR_MAX);
	o = json_object();
	if (subject == NULL || (m->last_error != NULL && last_error == NULL) || o == NULL ||
	    !set(o, "version", json_integer(VERSION)) || !set(o, "id", json_stringn(m->id, 32)) ||
	    !set(o, "kind", json_string(m->kind == TG_OUTBOX_EMAIL ? "email" : "webhook")) ||
	    !set(o, "channel", json_string(m->channel)) ||
	    !set(o, "to", string_list(m->to, m->n_to)) || !set(o, "subject", json_string(subject)) ||
	    !set(o, "events", string_list(m->events, m->n_events)) ||
	    !set(o, "created", json_integer(m->created)) ||
	    !set(o, "next_attempt", json_integer(m->next_attempt)) ||
	    !set(o, "attempts", json_integer(m->attempts)) ||
	    !set(o, "last_error", last_error != NULL ? json_string(last_error) : json_null()) ||
	    !set(o, "body", json_stringn(m->body != NULL ? m->body : "", m->body_len)) ||
	    (size = json_dumpb(o, NULL, 0, flags)) == 0 || (buf = malloc(size + 1)) == NULL ||
	    json_dumpb(o, buf, size, flags) != size) {
		free(buf);
		r = tg_error_setc(err, -ENOMEM, "outbox: message %.32s: out of memory", m->id);
	} else {
		buf[size] = '\n';
		*out = buf;
		*len = size + 1;
		r = 0;
	}
	json_decref(o);
	free(subject);
	free(last_error);
	return r;
}

/* ---- the spool ---- */

/* Removes what an interrupted write left in tmp/ an hour ago or more:
 * younger files may be a write in progress (of `traguardo status` racing
 * the daemon, say).  Best effort. */
static void clean_tmp(struct tg_outbox *ob)
{
	(void)tg_fs_remove_stale(ob->tmp_fd, NULL, time(NULL), TMP_MAX_AGE);
}

/* Drops the markers of messages delivered more than SENT_KEEP ago. */
static void prune_sent(struct tg_outbox *ob)
{
	time_t now = time(NULL);
	struct dirent *de;
	DIR *d = tg_fs_opendir_at(ob->sent_fd);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (id_valid(de->d_name) &&
		    fstatat(ob->sent_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_mtime < now - SENT_KEEP)
			(void)unlinkat(ob->sent_fd, de->d_name, 0);
	}
	closedir(d);
}

int tg_outbox_open(const char *state_dir, struct tg_outbox **out, struct tg_error *err)
{
	static const char *const SUB[] = { "tmp", "new", "failed", "sent", "staging" };
	struct tg_outbox *ob;
	size_t len;
	int *fds[5], r = 0;

	*out = NULL;
	len = strlen(state_dir);
	if (len == 0)
		return tg_error_set(err, "outbox: the state directory is not set");
	if ((ob = calloc(1, sizeof(*ob))) == NULL || (ob->path = malloc(len + 8)) == NULL) {
		free(ob);
		return tg_error_setc(err, -ENOMEM, "out of memory");
	}
	memcpy(ob->path, state_dir, len);
	memcpy(ob->path + len, "/outbox", 8);
	ob->tmp_fd = ob->new_fd = ob->failed_fd = ob->sent_fd = ob->staging_fd = -1;
	fds[0] = &ob->tmp_fd;
	fds[1] = &ob->new_fd;
	fds[2] = &ob->failed_fd;
	fds[3] = &ob->sent_fd;
	fds[4] = &ob->staging_fd;
	for (int i = 0; i < 5 && r == 0; i++) {
		char *dir = malloc(len + 16);

		if (dir == NULL) {
			r = tg_error_setc(err, -ENOMEM, "out of memory");
			break;
		}
		snprintf(dir, len + 16, "%s/%s", ob->path, SUB[i]);
		r = tg_fs_mkdirs(dir, DIR_MODE, err);
		if (r == 0 && (*fds[i] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			r = tg_error_setc(err, -errno, "%s: %s", dir, strerror(errno));
		free(dir);
	}
	if (r < 0) {
		tg_outbox_free(ob);
		return r;
	}
	clean_tmp(ob);
	prune_sent(ob);
	*out = ob;
	return 0;
}

void tg_outbox_free(struct tg_outbox *ob)
{
	if (ob == NULL)
		return;
	if (ob->tmp_fd >= 0)
		close(ob->tmp_fd);
	if (ob->new_fd >= 0)
		close(ob->new_fd);
	if (ob->failed_fd >= 0)
		close(ob->failed_fd);
	if (ob->sent_fd >= 0)
		close(ob->sent_fd);
	if (ob->staging_fd >= 0)
		close(ob->staging_fd);
	free(ob->retried);
	free(ob->path);
	free(ob);
}

static struct retried *retried_find(const struct tg_outbox *ob, const char *id)
{
	for (size_t i = 0; i < ob->n_retried; i++)
		if (strncmp(ob->retried[i].id, id, 32) == 0)   /* ids: 32 hex digits */
			return &ob->retried[i];
	return NULL;
}

/* Remembers when id was retried; without memory, it is not (the message
 * then waits for its next_attempt, as before). */
static void retried_set(struct tg_outbox *ob, const char *id, int64_t at)
{
	struct retried *r = retried_find(ob, id);

	if (r == NULL) {
		if (ob->n_retried == ob->cap_retried) {
			size_t cap = ob->cap_retried ? ob->cap_retried * 2 : 16;
			struct retried *v = cap > SIZE_MAX / sizeof(*v) ? NULL
					    : realloc(ob->retried, cap * sizeof(*v));

			if (v == NULL)
				return;
			ob->retried = v;
			ob->cap_retried = cap;
		}
		r = &ob->retried[ob->n_retried++];
		snprintf(r->id, sizeof(r->id), "%.32s", id);
	}
	r->at = at;
}

static void retried_drop(struct tg_outbox *ob, const char *id)
{
	struct retried *r = retried_find(ob, id);

	if (r != NULL)
		*r = ob->retried[--ob->n_retried];
}

/* 1 if dir/name exists, 0 if not, or -errno. */
static int exists(int dir_fd, const char *name)
{
	struct stat st;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int tg_outbox_put(struct tg_outbox *ob, const struct tg_outbox_msg *m, struct tg_error *err)
{
	struct tg_outbox_msg c = *m;
	char name[NAME_SIZE], *data;
	size_t len;
	int r;

	c.attempts = 0;
	c.next_attempt = 0;
	c.last_error = NULL;
	if ((r = check_msg(&c, err)) < 0)
		return r;
	snprintf(name, sizeof(name), "%s.json", m->id);
	/* a replayed cycle: already delivered, refused for good, or waiting */
	if ((r = exists(ob->sent_fd, m->id)) != 0)
		return r > 0 ? 0 : tg_error_setc(err, r, "%s/sent/%s: %s", ob->path, m->id,
						 strerror(-r));
	if ((r = exists(ob->failed_fd, name)) != 0)
		return r > 0 ? 0 : tg_error_setc(err, r, "%s/failed/%s: %s", ob->path, name,
						 strerror(-r));
	if ((r = exists(ob->new_fd, name)) != 0)
		return r > 0 ? 0 : tg_error_setc(err, r, "%s/new/%s: %s", ob->path, name,
						 strerror(-r));
	if ((r = serialize(&c, &data, &len, err)) < 0)
		return r;
	if (ob->staging)
		r = write_file(ob, ob->staging_fd, "staging", name, data, len, true, err);
	else
		r = write_file(ob, ob->new_fd, "new", name, data, len, true, err);
	free(data);
	return r;
}

void tg_outbox_stage(struct tg_outbox *ob, bool on)
{
	ob->staging = on;
}

/* Applies fn to every *.json of staging/. */
static int each_staged(struct tg_outbox *ob, int (*fn)(struct tg_outbox *, const char *, void *),
		       void *arg)
{
	char id[TG_OUTBOX_ID_SIZE];
	struct dirent *de;
	DIR *d = tg_fs_opendir_at(ob->staging_fd);
	int r = 0;

	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL)
		if (msg_name(de->d_name, id)) {
			int x = fn(ob, de->d_name, arg);

			if (x < 0 && r == 0)
				r = x;
		}
	closedir(d);
	return r;
}

static int promote_one(struct tg_outbox *ob, const char *name, void *arg)
{
	int r = rename_noreplace(ob->staging_fd, name, ob->new_fd, name);

	(void)arg;
	if (r == -EEXIST)   /* already waiting: the staged copy is the same message */
		r = unlinkat(ob->staging_fd, name, 0) < 0 ? -errno : 0;
	return r;
}

static int discard_one(struct tg_outbox *ob, const char *name, void *arg)
{
	const struct timespec *keep_until = arg;
	struct stat st;

	if (keep_until != NULL && fstatat(ob->staging_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    tg_fs_not_newer(&st.st_mtim, keep_until))
		return promote_one(ob, name, NULL);
	return unlinkat(ob->staging_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}

int tg_outbox_commit(struct tg_outbox *ob, struct tg_error *err)
{
	int r = each_staged(ob, promote_one, NULL);

	if (r == 0)
		r = fsync_dir(ob->new_fd);
	if (r == 0)
		r = fsync_dir(ob->staging_fd);
	return r < 0 ? tg_error_setc(err, r, "%s/staging: %s", ob->path, strerror(-r)) : 0;
}

int tg_outbox_rollback(struct tg_outbox *ob, const struct timespec *committed,
		       struct tg_error *err)
{
	int r = each_staged(ob, discard_one, (void *)committed);

	if (r == 0)
		r = fsync_dir(ob->new_fd);
	if (r == 0)
		r = fsync_dir(ob->staging_fd);
	return r < 0 ? tg_error_setc(err, r, "%s/staging: %s", ob->path, strerror(-r)) : 0;
}

struct listed {
	int64_t created;
	char id[TG_OUTBOX_ID_SIZE];
};

static int listed_cmp(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The creation time of new/name, -1 when it cannot be read or parsed (it
 * is listed first, so that tg_outbox_load sets it aside early), -ENOENT
 * when it is gone, -ENOMEM. */
static int64_t created_of(struct tg_outbox *ob, const char *name)
{
	struct tg_outbox_msg m;
	struct tg_error e;
	const char *why;
	char *data;
	size_t len;
	int64_t t;
	int r = read_file(ob->new_fd, name, &data, &len, &why);

	if (r == -ENOENT || r == -ENOMEM)
		return r;
	if (r < 0)
		return -1;
	r = tg_outbox_parse(data, len, name, &m, &e);
	free(data);
	if (r == -ENOMEM)
		return r;
	t = r == 0 ? m.created : -1;
	tg_outbox_msg_clear(&m);
	return t;
}

/*
 * A copy from failed/ moved back by hand keeps its name there (ID.json.N,
 * ID.json.corrupt[.N]): it becomes new/ID.json, unless that message is
 * already waiting, when the copy waits for its turn (the copy of an e-mail
 * names the recipients that refused it, the waiting one the others).  At
 * most TAKE_BACK_MAX a call, the rest at the next.
 */
#define TAKE_BACK_MAX 64

static int take_back(struct tg_outbox *ob)
{
	char names[TAKE_BACK_MAX][NAME_SIZE], id[TG_OUTBOX_ID_SIZE];
	size_t n = 0;
	struct dirent *de;
	DIR *d = tg_fs_opendir_at(ob->new_fd);

	if (d == NULL)
		return -errno;
	while (n < TAKE_BACK_MAX && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (!msg_name(de->d_name, id) && copy_name(de->d_name))
			memcpy(names[n++], de->d_name, len + 1);
	}
	closedir(d);
	/* renamed once the directory is closed: readdir may or may not
	 * return a name made while it reads.  One that cannot be renamed (a
	 * directory, say) stays where it is and stops nothing else. */
	for (size_t i = 0; i < n; i++) {
		char base[NAME_SIZE];

		snprintf(base, sizeof(base), "%.37s", names[i]);   /* ID.json */
		(void)rename_noreplace(ob->new_fd, names[i], ob->new_fd, base);
	}
	return 0;
}

ssize_t tg_outbox_list(struct tg_outbox *ob, char (**ids)[TG_OUTBOX_ID_SIZE],
		       struct tg_error *err)
{
	struct listed *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	ssize_t r = 0;
	DIR *d = NULL;

	*ids = NULL;
	if ((r = take_back(ob)) < 0)
		return tg_error_setc(err, (int)r, "%s/new: %s", ob->path, strerror((int)-r));
	if ((d = tg_fs_opendir_at(ob->new_fd)) == NULL) {
		r = -errno;
		return tg_error_setc(err, (int)r, "%s/new: %s", ob->path, strerror((int)-r));
	}
	for (;;) {
		char id[TG_OUTBOX_ID_SIZE];
		int64_t t;

		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				r = tg_error_setc(err, -errno, "%s/new: %s", ob->path, strerror(errno));
			break;
		}
		if (!msg_name(de->d_name, id))
			continue;
		t = created_of(ob, de->d_name);
		if (t == -ENOENT)
			continue;   /* delivered meanwhile */
		if (t == -ENOMEM)
			break;
		if (n == cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			struct listed *nv = ncap > SIZE_MAX / sizeof(*v) / 2 ? NULL
					  : realloc(v, ncap * sizeof(*v));

			if (nv == NULL) {
				t = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		v[n].created = t;
		memcpy(v[n].id, id, sizeof(id));
		n++;
	}
	closedir(d);
	if (r == 0 && de != NULL)   /* left the loop on ENOMEM */
		r = tg_error_setc(err, -ENOMEM, "%s/new: out of memory", ob->path);
	if (r == 0 && n > 0) {
		char (*out)[TG_OUTBOX_ID_SIZE] = malloc(n * sizeof(*out));

		if (out == NULL) {
			r = tg_error_setc(err, -ENOMEM, "%s/new: out of memory", ob->path);
		} else {
			qsort(v, n, sizeof(*v), listed_cmp);
			for (size_t i = 0; i < n; i++)
				memcpy(out[i], v[i].id, TG_OUTBOX_ID_SIZE);
			*ids = out;
			r = (ssize_t)n;
		}
	}
	free(v);
	return r;
}

/* Moves new/ID.json aside as failed/ID.json.corrupt (or .corrupt.N).
 * why (with the path) is the message; returns -EBADMSG, or the error of
 * the move when the file could not be moved. */
static int set_aside(struct tg_outbox *ob, const char *id, const char *why, struct tg_error *err)
{
	char name[NAME_SIZE], to[NAME_SIZE], msg[TG_ERROR_MAX];
	int r = -EEXIST;

	snprintf(msg, sizeof(msg), "%s", why);
	snprintf(name, sizeof(name), "%s.json", id);
	retried_drop(ob, id);
	for (int i = 0; i <= SUFFIX_MAX && r == -EEXIST; i++) {
		if (i == 0)
			snprintf(to, sizeof(to), "%.32s.json.corrupt", id);
		else
			snprintf(to, sizeof(to), "%.32s.json.corrupt.%d", id, i);
		r = rename_noreplace(ob->new_fd, name, ob->failed_fd, to);
	}
	if (r == 0) {
		/* moved whatever the syncs say: that is what the caller must know */
		(void)fsync_dir(ob->failed_fd);
		(void)fsync_dir(ob->new_fd);
	}
	if (r < 0)
		return tg_error_setc(err, r, "%s; and it could not be moved to %s/failed/: %s", msg,
				     ob->path, strerror(-r));
	return tg_error_setc(err, -EBADMSG, "%s; moved to %s/failed/%s", msg, ob->path, to);
}

int tg_outbox_load(struct tg_outbox *ob, const char *id, struct tg_outbox_msg *m,
		   struct tg_error *err)
{
	char name[NAME_SIZE], path[4200], qb[QBUF];
	const char *why;
	char *data;
	size_t len;
	int r;

	memset(m, 0, sizeof(*m));
	if (!id_valid(id))
		return tg_error_set(err, "outbox: invalid message id '%s'",
				    quoted(id, strnlen(id, 64), qb, sizeof(qb)));
	snprintf(name, sizeof(name), "%s.json", id);
	snprintf(path, sizeof(path), "%s/new/%s", ob->path, name);
	r = read_file(ob->new_fd, name, &data, &len, &why);
	if (r == -ENOENT) {
		retried_drop(ob, id);   /* gone: delivered by another, or removed by hand */
		return tg_error_setc(err, r, "%s: %s", path, strerror(-r));
	}
	if (r == -EBADMSG) {
		struct tg_error e;

		tg_error_set(&e, "%s: %s", path, why);
		return set_aside(ob, id, e.msg, err);
	}
	if (r == -ENOMEM || r == -EMFILE || r == -ENFILE || r == -EINTR)
		return tg_error_setc(err, r, "%s: %s", path, strerror(-r));
	if (r < 0) {
		/* unreadable (EIO, EACCES): it would fail on every pass */
		struct tg_error e;

		tg_error_set(&e, "%s: %s", path, strerror(-r));
		return set_aside(ob, id, e.msg, err);
	}
	{
		struct tg_error e;

		r = tg_outbox_parse(data, len, path, m, &e);
		free(data);
		if (r == 0 && strcmp(m->id, id) != 0) {
			tg_error_set(&e, "%s: field 'id': '%s' is not the file's name", path, m->id);
			tg_outbox_msg_clear(m);
			r = -EBADMSG;
		}
		if (r == -EBADMSG)
			return set_aside(ob, id, e.msg, err);
		if (r < 0)
			return tg_error_setc(err, r, "%s", e.msg);
	}
	return 0;
}

int64_t tg_outbox_due_at(const struct tg_outbox *ob, const struct tg_outbox_msg *m, int64_t wall)
{
	/* earlier than this message's last retry in this process: the clock
	 * was set back since, and its next_attempt counted on the clock as it
	 * was.  The retry made then counts from the clock as it is: no storm. */
	const struct retried *r = retried_find(ob, m->id);

	return r != NULL && wall < r->at - CLOCK_SLACK ? 0 : m->next_attempt;
}

int tg_outbox_done(struct tg_outbox *ob, const char *id, struct tg_error *err)
{
	char name[NAME_SIZE], qb[QBUF];
	int r;

	if (!id_valid(id))
		return tg_error_set(err, "outbox: invalid message id '%s'",
				    quoted(id, strnlen(id, 64), qb, sizeof(qb)));
	snprintf(name, sizeof(name), "%s.json", id);
	retried_drop(ob, id);
	/* the marker first: a crash between the two leaves both, and the
	 * message is sent again (same id) rather than spooled again later */
	if ((r = openat(ob->sent_fd, id, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, FILE_MODE)) >= 0)
		close(r);
	if (++ob->dones % SENT_PRUNE_EVERY == 0)
		prune_sent(ob);
	if (unlinkat(ob->new_fd, name, 0) < 0) {
		if (errno == ENOENT)
			return 0;
		return tg_error_setc(err, -errno, "%s/new/%s: %s", ob->path, name, strerror(errno));
	}
	if ((r = fsync_dir(ob->new_fd)) < 0)
		return tg_error_setc(err, r, "%s/new: %s", ob->path, strerror(-r));
	return 0;
}

/* Writes m to failed/ID.json (ID.json.N when taken: a permanent failure is
 * never overwritten), then removes new/ID.json unless keep_new. */
static int move_to_failed(struct tg_outbox *ob, const struct tg_outbox_msg *m, bool keep_new,
			  struct tg_error *err)
{
	char name[NAME_SIZE], base[NAME_SIZE], *data;
	size_t len;
	int r;

	if ((r = serialize(m, &data, &len, err)) < 0)
		return r;
	snprintf(base, sizeof(base), "%s.json", m->id);
	r = 0;
	for (int i = 0; i <= SUFFIX_MAX && r == 0; i++) {
		if (i == 0)
			snprintf(name, sizeof(name), "%s", base);
		else
			snprintf(name, sizeof(name), "%.32s.json.%d", m->id, i);
		r = write_file(ob, ob->failed_fd, "failed", name, data, len, true, err);
	}
	free(data);
	if (r == 0)
		return tg_error_setc(err, -EEXIST, "%s/failed/%s: %d copies already", ob->path, base,
				     SUFFIX_MAX + 1);
	if (r < 0 || keep_new)
		return r < 0 ? r : 0;
	retried_drop(ob, m->id);
	if (unlinkat(ob->new_fd, base, 0) < 0 && errno != ENOENT)
		return tg_error_setc(err, -errno, "%s/new/%s: kept in failed/, but: %s", ob->path,
				     base, strerror(errno));
	if ((r = fsync_dir(ob->new_fd)) < 0)
		return tg_error_setc(err, r, "%s/new: %s", ob->path, strerror(-r));
	return 0;
}

static int set_last_error(struct tg_outbox_msg *m, const char *error, struct tg_error *err)
{
	char *s = display_copy(error, LAST_ERROR_MAX);

	if (s == NULL)
		return tg_error_setc(err, -ENOMEM, "out of memory");
	free(m->last_error);
	m->last_error = s;
	return 0;
}

static int64_t backoff(int attempts)
{
	if (attempts <= 1)
		return BACKOFF_FIRST;
	if (attempts > 7)
		return BACKOFF_CAP;
	return (int64_t)BACKOFF_FIRST << (attempts - 1) < BACKOFF_CAP
	       ? (int64_t)BACKOFF_FIRST << (attempts - 1) : BACKOFF_CAP;
}

int tg_outbox_retry(struct tg_outbox *ob, struct tg_outbox_msg *m, const char *error,
		    int64_t now, int64_t retry_after, int64_t max_age, struct tg_error *err)
{
	char name[NAME_SIZE], qb[QBUF], *data;
	int64_t age, delay, cap;
	size_t len;
	int r;

	if (!id_valid(m->id))
		return tg_error_set(err, "outbox: invalid message id '%s'",
				    shown_id(m->id, qb, sizeof(qb)));
	if (max_age <= 0)
		max_age = MAX_AGE_DEFAULT;
	if ((r = set_last_error(m, error, err)) < 0)
		return r;
	if (m->attempts < 0)
		m->attempts = 0;
	if (m->attempts < ATTEMPTS_MAX)
		m->attempts++;
	if (__builtin_sub_overflow(now, m->created, &age))
		age = now > 0 ? INT64_MAX : INT64_MIN;
	if (age >= max_age) {
		r = move_to_failed(ob, m, false, err);
		return r < 0 ? r : 1;
	}
	delay = backoff(m->attempts);
	/* a server asking for more than the message's whole life gets one
	 * more attempt at its end */
	cap = retry_after < max_age ? retry_after : max_age;
	if (cap > delay)
		delay = cap;
	m->next_attempt = now < 0 ? delay : now > TIME_MAX - delay ? TIME_MAX : now + delay;
	snprintf(name, sizeof(name), "%s.json", m->id);
	/* the file itself is replaced: but a message already done or set
	 * aside must not come back */
	if ((r = exists(ob->new_fd, name)) <= 0)
		return tg_error_setc(err, r < 0 ? r : -ENOENT, "%s/new/%s: %s", ob->path, name,
				     strerror(r < 0 ? -r : ENOENT));
	if ((r = serialize(m, &data, &len, err)) < 0)
		return r;
	r = write_file(ob, ob->new_fd, "new", name, data, len, false, err);
	free(data);
	if (r >= 0)
		retried_set(ob, m->id, now);   /* only for a message that waits */
	return r < 0 ? r : 0;
}

int tg_outbox_fail(struct tg_outbox *ob, struct tg_outbox_msg *m, const char *error,
		   struct tg_error *err)
{
	char qb[QBUF];
	int r;

	if (!id_valid(m->id))
		return tg_error_set(err, "outbox: invalid message id '%s'",
				    shown_id(m->id, qb, sizeof(qb)));
	if ((r = set_last_error(m, error, err)) < 0)
		return r;
	return move_to_failed(ob, m, false, err);
}

int tg_outbox_fail_copy(struct tg_outbox *ob, struct tg_outbox_msg *m, const char *error,
			struct tg_error *err)
{
	char qb[QBUF];
	int r;

	if (!id_valid(m->id))
		return tg_error_set(err, "outbox: invalid message id '%s'",
				    shown_id(m->id, qb, sizeof(qb)));
	if ((r = set_last_error(m, error, err)) < 0)
		return r;
	return move_to_failed(ob, m, true, err);
}

/* Entries of the directory that name a message.  A scan per call: the
 * directories hold a handful of files; files coming and going meanwhile
 * (the daemon at work) are counted or not, never an error. */
static size_t count(int dir_fd, bool (*is_msg)(const char *))
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = tg_fs_opendir_at(dir_fd);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (is_msg(de->d_name))
			n++;
	closedir(d);
	return n;
}

size_t tg_outbox_pending(struct tg_outbox *ob)
{
	return count(ob->new_fd, copy_name);
}

size_t tg_outbox_failed(struct tg_outbox *ob)
{
	return count(ob->failed_fd, failed_name);
}
