/*
 * fuzz_state.c — arbitrary bytes as state.json.
 *
 * What must hold whatever the file: the loader answers 0 (a state) or
 * -EBADMSG (an empty state and a message), never crashes; a state it
 * accepted is saved and read back to the same state (the two saved files
 * are identical byte for byte, and the counts agree); and one cycle of the
 * state machine on it, under a small fixed configuration whose names the
 * seeds use, gives events that group into plans and a new state that saves
 * and loads cleanly.  Temporary files go to /dev/shm when there is one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char conf_text[] =
	"daemon = { state_dir = \"/tmp/x\"; admins = [\"ced@comune.example\"]; };\n"
	"sources = ( { name = \"s\"; type = \"csv\"; path = \"/tmp/x.csv\"; } );\n"
	"indicators = (\n"
	"  { id = \"RAG-01\"; name = \"A\"; department = \"Ragioneria\"; owner = \"rag@comune.example\";\n"
	"    target = 30; better = \"lower\"; },\n"
	"  { id = \"URP-01\"; name = \"B\"; department = \"URP\"; target = 90; }\n"
	");\n"
	"channels = (\n"
	"  { name = \"posta\"; type = \"email\"; url = \"smtp://mail.example:587\"; from = \"q@comune.example\"; },\n"
	"  { name = \"chat\"; type = \"webhook\"; url = \"https://example.invalid/hook\"; }\n"
	");\n"
	"routes = (\n"
	"  { name = \"ragioneria\"; channels = [\"posta\", \"chat\"]; to = [\"@owner\", \"capo@comune.example\"];\n"
	"    repeat_every = \"1d\"; escalate_after = \"2d\"; escalate_to = [\"dir@comune.example\"]; },\n"
	"  { channels = [\"chat\"]; min_status = \"unknown\"; }\n"
	");\n";

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	do {
		char *nb;

		if (n == cap) {
			cap = cap ? 2 * cap : 65536;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return buf;
}

/* Saves a, loads it back (must succeed), saves again: the files agree. */
static void roundtrip(const struct tg_alerts *a, const char *dir)
{
	char p1[128], p2[128];
	struct tg_alerts *back = NULL;
	struct tg_error err;
	char *t1, *t2;
	size_t l1 = 0, l2 = 0;

	snprintf(p1, sizeof(p1), "%s/state.json", dir);
	snprintf(p2, sizeof(p2), "%s/state2.json", dir);
	if (tg_alerts_save(a, p1, &err) < 0) {
		if (strstr(err.msg, "out of memory") != NULL)
			return;
		fprintf(stderr, "save: %s\n", err.msg);
		abort();
	}
	if (tg_alerts_load(p1, &back, &err) != 0) {
		fprintf(stderr, "reload: %s\n", err.msg);
		abort();
	}
	if (tg_alerts_active(back) != tg_alerts_active(a))
		abort();
	if (tg_alerts_save(back, p2, &err) < 0)
		abort();
	t1 = slurp(p1, &l1);
	t2 = slurp(p2, &l2);
	if (t1 != NULL && t2 != NULL && (l1 != l2 || memcmp(t1, t2, l1) != 0)) {
		fprintf(stderr, "round trip differs:\n%.*s\n---\n%.*s\n", (int)l1, t1, (int)l2, t2);
		abort();
	}
	free(t1);
	free(t2);
	tg_alerts_free(back);
	unlink(p1);
	unlink(p2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tg_config *cfg;   /* loaded once: it is the same for every input */
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	struct tg_eval_result res[2];
	struct tg_alerts *a = NULL, *next = NULL;
	struct tg_alert_events ev = { 0 };
	struct tg_plans plans = { 0 };
	struct tg_error err = { { 0 } };
	char dir[64];
	int rc;

	if (size > 1024 * 1024)
		return 0;
	if (cfg == NULL && (cfg = tg_config_load_string(conf_text, "/tmp/f.conf", NULL, NULL, &err)) == NULL) {
		fprintf(stderr, "config: %s\n", err.msg);
		abort();
	}
	rc = tg_alerts_load_mem((const char *)data, size, "fuzz", &a, &err);
	if (rc == -ENOMEM) {
		if (a != NULL)
			abort();
		return 0;
	}
	if ((rc != 0 && rc != -EBADMSG) || a == NULL)
		abort();
	if (rc == -EBADMSG) {
		if (tg_alerts_active(a) != 0 || strncmp(err.msg, "fuzz: ", 6) != 0)
			abort();
		tg_alerts_free(a);
		return 0;
	}

	snprintf(dir, sizeof(dir), "%s/fuzz_state-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		tg_alerts_free(a);
		return 0;
	}
	roundtrip(a, dir);

	/* one cycle on the loaded state; statuses from the input's length */
	memset(res, 0, sizeof(res));
	res[0].status = (enum tg_status)(size % TG_STATUS_COUNT);
	res[1].status = (enum tg_status)(size / TG_STATUS_COUNT % TG_STATUS_COUNT);
	res[0].has_value = true;
	res[0].value = 31.5;
	res[0].period = 20362;
	if (tg_alerts_step(a, cfg, res, (tg_time)20400 * 86400 + 3600, &next, &ev) == 0) {
		if (tg_route_plan(cfg, &ev, &plans) == 0) {
			for (size_t i = 0; i < plans.n; i++)
				for (size_t k = 0; k < plans.v[i].n_events; k++)
					if (plans.v[i].events[k] >= ev.n)
						abort();
		}
		for (size_t i = 0; i < ev.n; i++)
			if (ev.v[i].indicator >= cfg->n_indicators || ev.v[i].n_to == 0 ||
			    strlen(ev.v[i].id) != 32)
				abort();
		roundtrip(next, dir);
	}
	tg_plans_free(&plans);
	tg_alert_events_free(&ev);
	tg_alerts_free(next);
	tg_alerts_free(a);
	rmdir(dir);
	return 0;
}
