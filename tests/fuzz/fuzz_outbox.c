/*
 * fuzz_outbox.c — parses arbitrary bytes as an outbox message file.
 *
 * Checks what must hold whatever the file: tg_outbox_parse returns 0 or
 * -EBADMSG with a message that names the file, leaves nothing allocated on
 * failure, and on success gives a message within the documented bounds.  A
 * message it accepts must survive the spool unchanged: it is put into a real
 * outbox (under /dev/shm when there is one: fsync is cheap there), loaded
 * back and compared field by field, retried once (the rewrite with a
 * last_error) and loaded again, then removed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct tg_outbox *ob;

static void remove_dir(void)
{
	static const char *const sub[] = { "outbox/tmp", "outbox/new", "outbox/failed", "outbox/sent",
					   "outbox" };
	char path[128];

	tg_outbox_free(ob);
	ob = NULL;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
		rmdir(path);
	}
	rmdir(dir);
}

static struct tg_outbox *outbox(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	struct tg_error err;

	if (ob != NULL)
		return ob;
	snprintf(dir, sizeof(dir), "%s/fuzz_outbox-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		abort();
	if (tg_outbox_open(dir, &ob, &err) != 0) {
		fprintf(stderr, "open: %s\n", err.msg);
		abort();
	}
	atexit(remove_dir);
	return ob;
}

static bool text_ok(const char *s, size_t max, bool empty_ok)
{
	size_t len;

	if (s == NULL)
		return false;
	len = strlen(s);
	if (len > max || (len == 0 && !empty_ok))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static void check_bounds(const struct tg_outbox_msg *m)
{
	if (strlen(m->id) != 32 || strspn(m->id, "0123456789abcdef") != 32)
		abort();
	if (m->kind != TG_OUTBOX_EMAIL && m->kind != TG_OUTBOX_WEBHOOK)
		abort();
	if (!text_ok(m->channel, 256, false) || !text_ok(m->subject, 4096, true))
		abort();
	if (m->n_to > 10000 || (m->n_to > 0) != (m->to != NULL))
		abort();
	for (size_t i = 0; i < m->n_to; i++)
		if (!text_ok(m->to[i], 1024, false))
			abort();
	if (m->n_events > 100000 || (m->n_events > 0) != (m->events != NULL))
		abort();
	for (size_t i = 0; i < m->n_events; i++)
		if (!text_ok(m->events[i], 256, false))
			abort();
	if (m->body == NULL || m->body[m->body_len] != '\0' || strlen(m->body) != m->body_len)
		abort();
	if (m->created < 1 || m->created > INT64_C(253402300799) || m->next_attempt < 0 ||
	    m->next_attempt > INT64_C(253402300799) || m->attempts < 0 || m->attempts > 1000000)
		abort();
	if (m->last_error != NULL && !text_ok(m->last_error, 4096, true))
		abort();
}

static void same(const struct tg_outbox_msg *a, const struct tg_outbox_msg *b)
{
	if (strcmp(a->id, b->id) != 0 || a->kind != b->kind || strcmp(a->channel, b->channel) != 0 ||
	    strcmp(a->subject, b->subject) != 0 || a->n_to != b->n_to ||
	    a->n_events != b->n_events || a->body_len != b->body_len ||
	    memcmp(a->body, b->body, a->body_len) != 0 || a->created != b->created)
		abort();
	for (size_t i = 0; i < a->n_to; i++)
		if (strcmp(a->to[i], b->to[i]) != 0)
			abort();
	for (size_t i = 0; i < a->n_events; i++)
		if (strcmp(a->events[i], b->events[i]) != 0)
			abort();
}

static void load(const char *id, struct tg_outbox_msg *m)
{
	struct tg_error err;

	if (tg_outbox_load(outbox(), id, m, &err) != 0) {
		fprintf(stderr, "load: %s\n", err.msg);
		abort();
	}
}

static void round_trip(const struct tg_outbox_msg *m)
{
	struct tg_outbox_msg back, again;
	struct tg_error err;
	int r = tg_outbox_put(outbox(), m, &err);

	if (r != 1) {
		fprintf(stderr, "put: %d %s\n", r, r < 0 ? err.msg : "");
		abort();
	}
	load(m->id, &back);
	same(m, &back);
	if (back.attempts != 0 || back.next_attempt != 0 || back.last_error != NULL)
		abort();
	r = tg_outbox_retry(outbox(), &back, m->last_error != NULL ? m->last_error : "x",
			    m->created, -1, INT64_MAX, &err);
	if (r != 0) {
		fprintf(stderr, "retry: %d %s\n", r, err.msg);
		abort();
	}
	load(m->id, &again);
	same(m, &again);
	if (again.attempts != 1 ||
	    again.next_attempt != (m->created > INT64_C(253402300799) - 60 ? INT64_C(253402300799)
				   : m->created + 60) ||
	    strcmp(again.last_error, m->last_error != NULL ? m->last_error : "x") != 0)
		abort();
	tg_outbox_msg_clear(&back);
	tg_outbox_msg_clear(&again);
	if (tg_outbox_done(outbox(), m->id, &err) != 0 || tg_outbox_pending(outbox()) != 0)
		abort();
	/* delivered: remembered in sent/ (so a replay spools nothing); forget
	 * it so that the next input may use the same id */
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/outbox/sent/%s", dir, m->id);
		if (tg_outbox_put(outbox(), m, &err) != 0 || unlink(path) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tg_outbox_msg m;
	struct tg_error err;
	int r;

	memset(&m, 0xA5, sizeof(m));   /* parse must not rely on a cleared m */
	r = tg_outbox_parse((const char *)data, size, "FUZZ", &m, &err);
	if (r != 0) {
		static const struct tg_outbox_msg zero;

		if (r != -EBADMSG || strncmp(err.msg, "FUZZ", 4) != 0 ||
		    memcmp(&m, &zero, sizeof(m)) != 0)
			abort();
		return 0;
	}
	check_bounds(&m);
	round_trip(&m);
	tg_outbox_msg_clear(&m);
	return 0;
}
