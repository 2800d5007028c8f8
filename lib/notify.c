/*
 * notify.c — alert state, messages, outbox and delivery tied together (see
 * notify.h).  It owns the order of the durable steps: spool every message,
 * then save state.json; delete a message only after its server said yes.
 */
#include "notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "archive.h"
#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "message.h"
#include "mime.h"
#include "notify_email.h"
#include "notify_webhook.h"
#include "outbox.h"
#include "preview.h"
#include "report.h"
#include "route.h"
#include "secret.h"
#include "sentlog.h"
#include "strbuf.h"
#include "utf8.h"

struct delivery {
	struct tg_notifier *n;
	struct delivery *prev, *next;
	struct tg_outbox_msg msg;
	struct tg_email_transfer *email;
	struct tg_http_transfer *http;
	/* test-notify: not from the outbox */
	tg_notifier_test_fn test_done;
	void *test_ctx;
};

struct tg_notifier {
	const struct tg_config *cfg;
	sd_event *ev;
	bool dry_run;
	struct tg_alerts *alerts;
	struct tg_outbox *ob;
	struct tg_http *http;
	struct tg_http_limits http_lim;   /* those http was made with */
	char *state_path;
	struct delivery *flying;
	size_t n_flying;
	void (*idle)(void *ctx);
	void *idle_ctx;
	struct tg_notify_stats stats;
	struct tg_archive *archive;   /* borrowed; NULL without archive = {...} */
	bool standby;                 /* ha: another daemon sends */
	bool commit_pending;          /* a cycle's state was saved but its messages
					 are still staged (the commit failed) */
};

void tg_notifier_set_archive(struct tg_notifier *n, struct tg_archive *a)
{
	n->archive = a;
}

void tg_notifier_set_standby(struct tg_notifier *n, bool standby)
{
	n->standby = standby;
}

/* One state change of a message for the archive (logged, never fatal). */
static void archive_note(struct tg_notifier *n, const struct tg_outbox_msg *m,
			 enum tg_archive_note_status status, const char *reply)
{
	struct tg_error err = { 0 };
	struct tg_archive_note note = {
		.message_id = m->id, .channel = m->channel,
		.recipients = (const char *const *)m->to, .n_recipients = m->n_to,
		.events = (const char *const *)m->events, .n_events = m->n_events,
		.subject = m->subject, .status = status, .attempts = m->attempts, .reply = reply,
		.at = (int64_t)time(NULL),
	};

	if (n->archive != NULL && tg_archive_notification(n->archive, &note, &err) < 0)
		tg_log(LOG_WARNING, "archive: %s", err.msg);
}

static bool en(const struct tg_config *cfg)
{
	return strcmp(cfg->daemon.language, "en") == 0;
}

/* ---- set-up ---- */

static int load_state(struct tg_notifier *n, struct tg_error *err)
{
	struct tg_error lerr = { 0 };
	int rc = tg_alerts_load(n->state_path, &n->alerts, &lerr);

	if (rc == -EBADMSG && !n->dry_run) {
		char aside[4200];

		snprintf(aside, sizeof(aside), "%s.corrupt-%lld", n->state_path, (long long)time(NULL));
		if (rename(n->state_path, aside) == 0) {
			size_t removed = tg_fs_prune_corrupt(n->state_path, aside,
							     TG_CORRUPT_KEEP);

			tg_log(LOG_ERR, "%s; moved aside to %s, alerts start again from nothing "
			       "(problems still there are notified again)", lerr.msg, aside);
			if (removed > 0)
				tg_log(LOG_NOTICE, "%zu older %s.corrupt-* removed (the %d newest are "
				       "kept)", removed, n->state_path, TG_CORRUPT_KEEP);
		} else
			tg_log(LOG_ERR, "%s; could not move it aside (%s)", lerr.msg, strerror(errno));
		return 0;
	}
	if (rc == -EBADMSG) {
		tg_log(LOG_WARNING, "%s; the dry run starts from no alerts", lerr.msg);
		return 0;
	}
	if (rc < 0) {
		tg_error_setc(err, rc, "%s", lerr.msg);
		return rc;
	}
	return 0;
}

static void pending_recover(struct tg_notifier *n, const struct timespec *committed);

struct tg_notifier *tg_notifier_new(const struct tg_config *cfg, sd_event *ev, bool dry_run,
				    struct tg_error *err)
{
	struct tg_notifier *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		tg_error_setc(err, -ENOMEM, "out of memory");
		return NULL;
	}
	n->cfg = cfg;
	n->dry_run = dry_run;
	n->ev = ev != NULL ? sd_event_ref(ev) : NULL;
	if ((n->state_path = tg_fs_join(cfg->daemon.state_dir, "state.json")) == NULL) {
		tg_error_setc(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (load_state(n, err) < 0)
		goto fail;
	if (n->alerts == NULL && (n->alerts = tg_alerts_new()) == NULL) {
		tg_error_setc(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (!dry_run && tg_outbox_open(cfg->daemon.state_dir, &n->ob, err) < 0)
		goto fail;
	if (n->ob != NULL) {
		/* a cycle cut by a crash: its staged messages go out only if its
		 * state was saved (state.json no older than them) */
		struct stat st;
		struct tg_error rerr = { 0 };
		const struct timespec *committed = stat(n->state_path, &st) == 0 ? &st.st_mtim : NULL;

		if (tg_outbox_rollback(n->ob, committed, &rerr) < 0)
			tg_log(LOG_ERR, "outbox: %s", rerr.msg);
		pending_recover(n, committed);
	}
	return n;
fail:
	tg_notifier_free(n);
	return NULL;
}

static void delivery_free(struct delivery *d)
{
	struct tg_notifier *n = d->n;

	if (d->prev != NULL)
		d->prev->next = d->next;
	else if (n->flying == d)
		n->flying = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
	if (d->test_done == NULL)
		n->n_flying--;
	tg_outbox_msg_clear(&d->msg);
	free(d);
}

static void cancel_all(struct tg_notifier *n)
{
	while (n->flying != NULL) {
		struct delivery *d = n->flying;

		tg_email_cancel(d->email);
		tg_http_cancel(d->http);
		delivery_free(d);
	}
}

void tg_notifier_free(struct tg_notifier *n)
{
	if (n == NULL)
		return;
	cancel_all(n);
	tg_http_free(n->http);
	tg_outbox_free(n->ob);
	tg_alerts_free(n->alerts);
	free(n->state_path);
	sd_event_unref(n->ev);
	free(n);
}

int tg_notifier_reconfigure(struct tg_notifier *n, const struct tg_config *cfg,
			    struct tg_error *err)
{
	if (strcmp(cfg->daemon.state_dir, n->cfg->daemon.state_dir) != 0)
		return tg_error_set(err, "state_dir changed from %s to %s: that needs a restart",
				    n->cfg->daemon.state_dir, cfg->daemon.state_dir);
	/* deliveries in flight keep going: they copied what they send, and
	 * their callbacks look the channel up in the new configuration */
	n->cfg = cfg;
	return 0;
}

/* ---- a cycle ---- */

static const char *recipients_text(const struct tg_plan *p, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n_to && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", p->to[i]);
	return buf;
}

static int utc_offset(int64_t wall)
{
	time_t t = (time_t)wall;
	struct tm tm;

	return localtime_r(&t, &tm) != NULL ? (int)tm.tm_gmtoff : 0;
}

/* The payload of one message: the MIME text or the webhook JSON. */
static int build_payload(struct tg_notifier *n, const struct tg_message_input *in,
			 const struct tg_message *m, int64_t wall, char **out, size_t *len,
			 struct tg_error *err)
{
	const struct tg_channel *ch = &n->cfg->channels[in->plan->channel];

	if (ch->type == TG_CHANNEL_WEBHOOK)
		return tg_webhook_body(in, out, len, err);

	struct tg_mime_email e = {
		.from = ch->from,
		.to = (const char *const *)in->plan->to,
		.n_to = in->plan->n_to,
		.subject = m->subject,
		.text = m->text,
		.html = m->html,
		.id = in->plan->id,
		.lang = n->cfg->daemon.language,
		.date = wall,
		.utc_offset = utc_offset(wall),
	};
	return tg_mime_build(&e, out, len, err);
}

static int preview(struct tg_notifier *n, size_t idx, const struct tg_plan *p,
		   const struct tg_message *m, const char *payload, size_t len, tg_time now,
		   struct tg_error *err)
{
	const struct tg_channel *ch = &n->cfg->channels[p->channel];
	bool e = en(n->cfg);
	char dir[4200], to[2048], *view = NULL;
	size_t vlen = 0;
	FILE *f;
	int rc;

	snprintf(dir, sizeof(dir), "%s/preview", n->cfg->daemon.state_dir);
	if ((f = open_memstream(&view, &vlen)) == NULL)
		return tg_error_setc(err, -ENOMEM, "out of memory");
	fprintf(f, e ? "Channel: %s (%s)\n" : "Canale: %s (%s)\n", ch->name,
		ch->type == TG_CHANNEL_EMAIL ? "email" : "webhook");
	if (ch->type == TG_CHANNEL_EMAIL)
		fprintf(f, e ? "To: %s\n" : "A: %s\n", recipients_text(p, to, sizeof(to)));
	else {
		char url[2048];

		tg_http_redact_url(ch->url, url, sizeof(url));
		fprintf(f, "URL: %s\n", tg_http_hide_path(url, sizeof(url)));
	}
	fprintf(f, e ? "Subject: %s\n" : "Oggetto: %s\n", m->subject);
	fprintf(f, "Id: %s\n\n%s", p->id, m->text);
	if (m->text[0] != '\0' && m->text[strlen(m->text) - 1] != '\n')
		fputc('\n', f);
	(void)now;
	if (fclose(f) != 0) {
		free(view);
		return tg_error_setc(err, -ENOMEM, "out of memory");
	}
	rc = tg_preview_write(dir, idx + 1, ch->name, p->n_to > 0 ? p->to[0] : NULL, view, vlen,
			      payload, len, ch->type == TG_CHANNEL_EMAIL ? "eml" : "json", err);
	free(view);
	return rc;
}

/* The sent.log lines of a message newly spooled (one per event of plan p)
 * added to *lines.  The message is safe in the outbox whatever happens
 * here: a failure is logged, not fatal. */
static void sent_lines(struct tg_notifier *n, const struct tg_alert_events *ev,
		       const struct tg_plan *p, tg_time now, int64_t wall, struct tg_sb *lines)
{
	const struct tg_channel *ch = &n->cfg->channels[p->channel];
	struct tg_sentlog_entry *se = calloc(p->n_events ? p->n_events : 1, sizeof(*se));
	struct tg_error serr = { 0 };
	char *text = NULL;
	size_t len = 0;

	if (se == NULL) {
		tg_logf(LOG_WARNING, "CHANNEL", ch->name, "sent.log: out of memory");
		return;
	}
	for (size_t i = 0; i < p->n_events; i++) {
		const struct tg_alert_event *e = &ev->v[p->events[i]];

		se[i] = (struct tg_sentlog_entry){
			.wall = wall, .cycle = now, .indicator = n->cfg->indicators[e->indicator].id,
			.kind = e->kind, .status = e->status, .channel = ch->name,
			.to = p->to, .n_to = p->n_to, .message = p->id, .event = e->id, .route = e->route,
		};
	}
	if (tg_sentlog_lines(se, p->n_events, &text, &len, &serr) < 0)
		tg_logf(LOG_WARNING, "CHANNEL", ch->name, "%s", serr.msg);
	else
		tg_sb_putn(lines, text, len);
	free(text);
	free(se);
}

/* STATE_DIR/sent.log.pending: the sent.log lines of the cycle being
 * committed, written before its state.  Lines of a cycle whose state was
 * saved (the file no newer than state.json) reach sent.log even when a crash
 * came before (at the next start: tg_notifier_new); the others are
 * dropped with the cycle's staged messages. */
static char *pending_path(const struct tg_notifier *n)
{
	return tg_fs_join(n->cfg->daemon.state_dir, TG_SENTLOG_FILE ".pending");
}

/* committed: state.json's time, NULL when there is none */
static void pending_recover(struct tg_notifier *n, const struct timespec *committed)
{
	char *path = pending_path(n), *data = NULL;
	struct stat ps;
	struct tg_error err = { 0 };
	FILE *f;
	size_t len = 0;

	if (path == NULL || stat(path, &ps) < 0) {
		free(path);
		return;
	}
	if (committed != NULL && S_ISREG(ps.st_mode) && tg_fs_not_newer(&ps.st_mtim, committed) &&
	    ps.st_size > 0 && ps.st_size <= 64 * 1024 * 1024 && (f = fopen(path, "re")) != NULL) {
		data = malloc((size_t)ps.st_size);
		len = data != NULL ? fread(data, 1, (size_t)ps.st_size, f) : 0;
		fclose(f);
		if (len > 0 && tg_sentlog_append_lines(n->cfg->daemon.state_dir, data, len, &err) < 0)
			tg_log(LOG_WARNING, "%s", err.msg);
		else if (len > 0)
			tg_log(LOG_NOTICE, "sent.log: the lines of the last cycle (cut short after its "
			       "state was saved) added");
	}
	if (unlink(path) < 0 && errno != ENOENT)
		tg_log(LOG_WARNING, "%s: cannot remove: %s", path, strerror(errno));
	free(data);
	free(path);
}

static int spool(struct tg_notifier *n, const struct tg_alert_events *ev, const struct tg_plan *p,
		 const struct tg_message *m, char *payload, size_t len, int64_t wall,
		 struct tg_error *err)
{
	const struct tg_channel *ch = &n->cfg->channels[p->channel];
	struct tg_outbox_msg msg = { 0 };
	char **ids = calloc(p->n_events + 1, sizeof(*ids));
	int rc;

	if (ids == NULL)
		return tg_error_setc(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < p->n_events; i++)
		ids[i] = (char *)ev->v[p->events[i]].id;
	memcpy(msg.id, p->id, sizeof(msg.id));
	msg.kind = ch->type == TG_CHANNEL_EMAIL ? TG_OUTBOX_EMAIL : TG_OUTBOX_WEBHOOK;
	msg.channel = ch->name;
	msg.to = p->to;
	msg.n_to = p->n_to;
	msg.subject = m->subject;
	msg.events = ids;
	msg.n_events = p->n_events;
	msg.body = payload;
	msg.body_len = len;
	msg.created = wall;
	rc = tg_outbox_put(n->ob, &msg, err);
	free(ids);
	return rc;
}

/* A message of a committed cycle: logged and archived (its sent.log lines
 * went with the cycle's: sent_lines). */
static void announce(struct tg_notifier *n, const struct tg_alert_events *ev,
		     const struct tg_plan *p, const char *subject)
{
	const struct tg_channel *ch = &n->cfg->channels[p->channel];
	struct tg_outbox_msg msg = { 0 };
	char **ids = calloc(p->n_events + 1, sizeof(*ids));

	tg_logf(LOG_INFO, "CHANNEL", ch->name, "%s: message %s spooled (%zu event%s): %s", ch->name,
		p->id, p->n_events, p->n_events == 1 ? "" : "s", subject);
	for (size_t i = 0; ids != NULL && i < p->n_events; i++)
		ids[i] = (char *)ev->v[p->events[i]].id;
	memcpy(msg.id, p->id, sizeof(msg.id));
	msg.channel = ch->name;
	msg.to = p->to;
	msg.n_to = p->n_to;
	msg.subject = (char *)subject;
	msg.events = ids;
	msg.n_events = ids != NULL ? p->n_events : 0;
	archive_note(n, &msg, TG_ARCHIVE_SPOOLED, NULL);
	free(ids);
}

int tg_notifier_cycle(struct tg_notifier *n, const struct tg_eval_result *res,
		      const struct tg_store *store, tg_time now, int64_t wall, struct tg_error *err)
{
	struct tg_alerts *next = NULL;
	struct tg_alert_events ev = { 0 };
	struct tg_plans plans = { 0 };
	char **subjects = NULL;   /* of the messages newly spooled, NULL for the others */
	struct tg_sb lines = { 0 };   /* their sent.log lines */
	char *ppath = NULL;       /* sent.log.pending, when written */
	size_t done = 0;
	int rc;

	/* The messages of a cycle whose state was saved but whose commit
	 * failed are still staged: they go first.  Until they can, no cycle
	 * stages more (the alerts come again): a failure would roll back
	 * everything staged, theirs too. */
	if (!n->dry_run && n->commit_pending) {
		if ((rc = tg_outbox_commit(n->ob, err)) < 0) {
			tg_error_prefix(err, "outbox: the messages of an earlier cycle are still "
					"staged, this cycle's alerts wait for them");
			return rc;
		}
		n->commit_pending = false;
	}
	if ((rc = tg_alerts_step(n->alerts, n->cfg, res, now, &next, &ev)) < 0)
		return tg_error_setc(err, rc, "alerts: out of memory");
	n->stats.events = ev.n;
	n->stats.spooled = 0;
	if ((rc = tg_route_plan(n->cfg, &ev, &plans)) < 0) {
		tg_error_setc(err, rc, "routes: out of memory");
		goto out;
	}
	if (n->dry_run) {
		char dir[4200];

		snprintf(dir, sizeof(dir), "%s/preview", n->cfg->daemon.state_dir);
		if ((rc = tg_preview_clear(dir, err)) < 0)
			goto out;
	} else {
		/* the messages become visible only with the state that says so */
		tg_outbox_stage(n->ob, true);
	}
	if ((subjects = calloc(plans.n + 1, sizeof(*subjects))) == NULL) {
		rc = tg_error_setc(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < plans.n && !n->standby; i++) {
		struct tg_message_input in = {
			.cfg = n->cfg, .events = &ev, .plan = &plans.v[i], .results = res,
			.store = store, .now = now, .templates_dir = n->cfg->daemon.templates,
		};
		struct tg_message m = { 0 };
		char *payload = NULL;
		size_t len = 0;

		rc = tg_message_render(&in, &m, err);
		if (rc < 0 && rc != -ENOMEM && in.templates_dir != NULL) {
			/* a broken template must not silence the alerts */
			tg_log(LOG_ERR, "templates: %s; this message uses the built-in wording",
			       err->msg);
			tg_message_free(&m);
			in.templates_dir = NULL;
			rc = tg_message_render(&in, &m, err);
		}
		if (rc >= 0)
			rc = build_payload(n, &in, &m, wall, &payload, &len, err);
		if (rc >= 0)
			rc = n->dry_run ? preview(n, i, &plans.v[i], &m, payload, len, now, err)
					: spool(n, &ev, &plans.v[i], &m, payload, len, wall, err);
		if (rc > 0 && !n->dry_run) {
			subjects[i] = m.subject, m.subject = NULL;
			sent_lines(n, &ev, &plans.v[i], now, wall, &lines);
		}
		free(payload);
		tg_message_free(&m);
		if (rc < 0) {
			tg_error_prefix(err, "channel '%s'", n->cfg->channels[plans.v[i].channel].name);
			goto out;
		}
		done++;
	}
	n->stats.spooled = done;
	rc = (int)done;
	if (n->dry_run)
		goto out;
	/* every message is on disk (staged), and their sent.log lines: the new
	 * state may say they were sent; then they become visible.  A crash in
	 * between is sorted out by tg_notifier_new (staged files and the lines
	 * no newer than state.json go out) */
	if (lines.len > 0 && !lines.oom) {
		struct tg_error perr = { 0 };

		if ((ppath = pending_path(n)) == NULL ||
		    tg_fs_write_atomic(ppath, tg_sb_str(&lines), lines.len, 0640, &perr) < 0) {
			tg_log(LOG_WARNING, "sent.log: %s; its lines are written after the commit",
			       ppath == NULL ? "out of memory" : perr.msg);
			free(ppath);
			ppath = NULL;
		}
	}
	n->stats.state_unsaved = false;
	if ((rc = tg_alerts_save(next, n->state_path, err)) < 0) {
		n->stats.state_unsaved = true;
		tg_error_prefix(err, "the alert state could not be saved (nothing sent, the "
				"alerts come again next cycle)");
		goto out;
	}
	if (tg_outbox_commit(n->ob, err) < 0) {
		tg_log(LOG_ERR, "outbox: %s; the messages go with the next cycle, or at the next "
		       "start", err->msg);
		n->commit_pending = true;
	}
	tg_outbox_stage(n->ob, false);
	if (lines.len > 0 && !lines.oom) {
		struct tg_error serr = { 0 };

		if (tg_sentlog_append_lines(n->cfg->daemon.state_dir, tg_sb_str(&lines), lines.len,
					    &serr) < 0)
			tg_log(LOG_WARNING, "%s", serr.msg);
	} else if (lines.oom) {
		tg_log(LOG_WARNING, "sent.log: out of memory; this cycle's lines are missing");
	}
	for (size_t i = 0; i < plans.n; i++)
		if (subjects[i] != NULL)
			announce(n, &ev, &plans.v[i], subjects[i]);
	rc = (int)done;
	tg_alerts_free(n->alerts);
	n->alerts = next;
	next = NULL;
out:
	if (!n->dry_run && n->ob != NULL) {
		struct tg_error rerr = { 0 };

		if (rc < 0 && tg_outbox_rollback(n->ob, NULL, &rerr) < 0)
			tg_log(LOG_ERR, "outbox: %s", rerr.msg);
		tg_outbox_stage(n->ob, false);
	}
	/* its lines are in sent.log now, or (a failed cycle) its messages gone */
	if (ppath != NULL && unlink(ppath) < 0 && errno != ENOENT)
		tg_log(LOG_WARNING, "%s: cannot remove: %s", ppath, strerror(errno));
	free(ppath);
	tg_sb_free(&lines);
	for (size_t i = 0; subjects != NULL && i < plans.n; i++)
		free(subjects[i]);
	free(subjects);
	tg_alerts_free(next);
	tg_plans_free(&plans);
	tg_alert_events_free(&ev);
	return rc;
}

/* ---- scheduled reports ---- */

/* The key of route i in reports.json: its name, else "route N". */
static const char *report_key(const struct tg_config *cfg, size_t i, char *buf, size_t size)
{
	if (cfg->routes[i].name != NULL)
		return cfg->routes[i].name;
	snprintf(buf, size, "route %zu", i + 1);
	return buf;
}

/* The report of year-month for route i as text and (format html) HTML. */
static int render_report(struct tg_notifier *n, size_t i, const struct tg_store *st, int year,
			 int month, char **text, char **html, struct tg_error *err)
{
	struct tg_sentlog_counts sent;
	struct tg_error serr = { 0 };
	struct tg_report_options o = { .cfg = n->cfg, .st = st, .year = year, .month = month,
				       .route = &n->cfg->routes[i] };
	bool with_sent, want_html = n->cfg->routes[i].report.format == NULL ||
				   strcmp(n->cfg->routes[i].report.format, "html") == 0;
	char *buf[2] = { NULL, NULL };
	size_t len;
	int rc = 0;
	tg_day from, until;

	tg_report_month_days(year, month, &from, &until);
	with_sent = tg_sentlog_read(n->cfg->daemon.state_dir, from, until, &sent, &serr) == 0;
	o.sent = with_sent ? &sent : NULL;
	for (int k = 0; k < (want_html ? 2 : 1) && rc == 0; k++) {
		FILE *f = open_memstream(&buf[k], &len);

		if (f == NULL) {
			rc = tg_error_setc(err, -ENOMEM, "out of memory");
			break;
		}
		o.format = k == 0 ? TG_REPORT_TEXT : TG_REPORT_HTML;
		rc = tg_report_write_opts(f, &o, err);
		if (fclose(f) != 0 && rc == 0)
			rc = tg_error_setc(err, -ENOMEM, "out of memory");
	}
	if (with_sent)
		tg_sentlog_counts_free(&sent);
	if (rc < 0) {
		free(buf[0]);
		free(buf[1]);
		return rc;
	}
	*text = buf[0];
	*html = buf[1];
	return 0;
}

/* 32 hex digits of SHA-256 over "report\0KEY\0YYYY-MM": the same report is
 * the same message, so the outbox never sends it twice. */
static void report_id(const char *key, const char *month, char out[TG_OUTBOX_ID_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char data[512];
	int n = snprintf(data, sizeof(data), "report%c%s%c%s", 0, key, 0, month);

	if (n < 0 || (size_t)n >= sizeof(data) ||
	    EVP_Digest(data, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
		memset(md, 0, sizeof(md));
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int tg_notifier_reports(struct tg_notifier *n, const struct tg_store *st, tg_time now,
			int64_t wall, struct tg_error *err)
{
	char *path = tg_fs_join(n->cfg->daemon.state_dir, "reports.json");
	json_error_t jerr;
	json_t *done;
	bool changed = false, en_ = en(n->cfg);
	int spooled = 0, rc = 0;

	if (path == NULL)
		return tg_error_setc(err, -ENOMEM, "out of memory");
	done = json_load_file(path, 0, &jerr);
	if (done == NULL && access(path, F_OK) == 0)
		tg_log(LOG_WARNING, "%s: %s; reports are judged as never sent (the outbox still "
		       "sends each at most once)", path, jerr.text);
	if (!json_is_object(done)) {
		json_decref(done);
		done = json_object();
	}
	for (size_t i = 0; i < n->cfg->n_routes && done != NULL && rc == 0; i++) {
		const struct tg_route *r = &n->cfg->routes[i];
		char kb[32], month[16], id[TG_OUTBOX_ID_SIZE], subject[200], label[64];
		const char *key = report_key(n->cfg, i, kb, sizeof(kb)), *last;
		const struct tg_channel *ch = NULL;
		char *text = NULL, *html = NULL, *mime = NULL;
		size_t mlen = 0;
		int year, mon;

		if (!r->report.set)
			continue;
		last = json_string_value(json_object_get(done, key));
		if (!tg_report_due(tg_time_day(now), last, &year, &mon))
			continue;
		if (n->standby) {
			/* ha: the active daemon sends it; taken as sent, as the
			 * alerts are, so that a takeover does not send it again */
			snprintf(month, sizeof(month), "%04d-%02d", year, mon);
			tg_log(LOG_INFO, "report of %s for %s: sent by the active daemon (ha standby)",
			       month, key);
			changed = json_object_set_new(done, key, json_string(month)) == 0 || changed;
			continue;
		}
		for (size_t c = 0; c < r->channels.n && ch == NULL; c++) {
			ssize_t k = tg_config_channel_index(n->cfg, r->channels.v[c]);

			if (k >= 0 && n->cfg->channels[k].type == TG_CHANNEL_EMAIL)
				ch = &n->cfg->channels[k];
		}
		if (ch == NULL)
			continue;   /* check refuses it: a route without e-mail channel */
		snprintf(month, sizeof(month), "%04d-%02d", year, mon);
		report_id(key, month, id);
		tg_period_label(TG_PERIOD_MONTH, tg_day_from_ymd(year, mon, 1), n->cfg->daemon.language,
				label, sizeof(label));
		{
			/* a long organization is cut (between two characters),
			 * never the month */
			const char *org = n->cfg->daemon.organization;
			const char *what = en_ ? "Management review — " : "Riesame della direzione — ";
			size_t fixed = strlen("[traguardo] : ") + strlen(what) + strlen(label);
			size_t room = fixed < sizeof(subject) ? sizeof(subject) - 1 - fixed : 0;

			snprintf(subject, sizeof(subject), "[traguardo] %.*s%s%s%s",
				 org != NULL ? (int)tg_utf8_cut(org, strlen(org), room) : 0,
				 org != NULL ? org : "",
				 org != NULL ? ": " : "", what, label);
		}
		rc = render_report(n, i, st, year, mon, &text, &html, err);
		if (rc == 0) {
			struct tg_mime_email e = {
				.from = ch->from, .to = (const char *const *)r->report.to.v,
				.n_to = r->report.to.n, .subject = subject, .text = text, .html = html,
				.id = id, .lang = n->cfg->daemon.language, .date = wall,
				.utc_offset = utc_offset(wall),
			};

			rc = tg_mime_build(&e, &mime, &mlen, err);
		}
		if (rc == 0) {
			char *ev[1] = { id };
			struct tg_outbox_msg msg = {
				.kind = TG_OUTBOX_EMAIL, .channel = ch->name, .to = r->report.to.v,
				.n_to = r->report.to.n, .subject = subject, .events = ev, .n_events = 1,
				.body = mime, .body_len = mlen, .created = wall,
			};

			memcpy(msg.id, id, sizeof(msg.id));
			rc = n->dry_run ? 0 : tg_outbox_put(n->ob, &msg, err);
			if (rc >= 0) {
				tg_logf(LOG_INFO, "CHANNEL", ch->name, "%s: report of %s for %s spooled "
					"(message %s)", ch->name, month, key, id);
				rc = 0;
				spooled++;
				changed = json_object_set_new(done, key, json_string(month)) == 0 || changed;
			}
		}
		free(text);
		free(html);
		free(mime);
	}
	if (changed && !n->dry_run) {
		char *data = json_dumps(done, JSON_INDENT(1) | JSON_SORT_KEYS);
		struct tg_error werr = { 0 };

		if (data == NULL || tg_fs_write_atomic(path, data, strlen(data), 0640, &werr) < 0)
			tg_log(LOG_ERR, "%s: %s; the report may be spooled again (the outbox drops "
			       "the duplicate)", path, data == NULL ? "out of memory" : werr.msg);
		free(data);
	}
	json_decref(done);
	free(path);
	return rc < 0 ? rc : spooled;
}

/* ---- delivery ---- */

static void ended(struct tg_notifier *n, struct delivery *d)
{
	bool counted = d->test_done == NULL;

	delivery_free(d);
	if (counted && n->n_flying == 0 && n->idle != NULL)
		n->idle(n->idle_ctx);
}

static void retry(struct tg_notifier *n, struct delivery *d, const char *error, int64_t retry_after)
{
	struct tg_error err = { 0 };
	int64_t wall = (int64_t)time(NULL);
	int rc = tg_outbox_retry(n->ob, &d->msg, error, wall, retry_after,
				 n->cfg->daemon.outbox_max_age, &err);

	if (rc < 0) {
		tg_logf(LOG_ERR, "CHANNEL", d->msg.channel, "%s: message %s: %s; and its retry could not be recorded: %s",
			d->msg.channel, d->msg.id, error, err.msg);
	} else if (rc == 1) {
		archive_note(n, &d->msg, TG_ARCHIVE_FAILED, error);
		n->stats.failed++;
		tg_logf(LOG_ERR, "EVENT_ID", d->msg.id,
			"%s: message %s not delivered after %d attempts, moved to outbox/failed: %s",
			d->msg.channel, d->msg.id, d->msg.attempts, error);
	} else {
		archive_note(n, &d->msg, TG_ARCHIVE_RETRY, error);
		n->stats.deferred++;
		tg_logf(LOG_WARNING, "EVENT_ID", d->msg.id,
			"%s: message %s not delivered (attempt %d), retried later: %s", d->msg.channel,
			d->msg.id, d->msg.attempts, error);
	}
}

static void fail(struct tg_notifier *n, struct delivery *d, const char *error)
{
	struct tg_error err = { 0 };

	n->stats.failed++;
	archive_note(n, &d->msg, TG_ARCHIVE_FAILED, error);
	if (tg_outbox_fail(n->ob, &d->msg, error, &err) < 0)
		tg_logf(LOG_ERR, "EVENT_ID", d->msg.id, "%s: message %s: %s; moving it to failed/: %s",
			d->msg.channel, d->msg.id, error, err.msg);
	else
		tg_logf(LOG_ERR, "EVENT_ID", d->msg.id,
			"%s: message %s refused for good, moved to outbox/failed: %s", d->msg.channel,
			d->msg.id, error);
}

static void delivered(struct tg_notifier *n, struct delivery *d, const char *reply)
{
	struct tg_error err = { 0 };

	n->stats.delivered++;
	archive_note(n, &d->msg, TG_ARCHIVE_DELIVERED, reply);
	if (tg_outbox_done(n->ob, d->msg.id, &err) < 0)
		tg_log(LOG_ERR, "%s: message %s delivered, but not removed from the outbox (it may "
		       "be sent again): %s", d->msg.channel, d->msg.id, err.msg);
	tg_logf(LOG_INFO, "EVENT_ID", d->msg.id, "%s: message %s delivered%s%s", d->msg.channel,
		d->msg.id, reply != NULL ? ": " : "", reply != NULL ? reply : "");
}

static bool some_tempfail(const struct delivery *d, const struct tg_email_result *r)
{
	for (size_t i = 0; i < d->msg.n_to && i < r->n_rcpt; i++)
		if (r->rcpt[i] == TG_RCPT_TEMPFAIL)
			return true;
	return false;
}

/* Keeps in d->msg.to only the recipients whose result is want; returns how
 * many (none kept when the server said nothing per recipient). */
static size_t narrow(struct delivery *d, const struct tg_email_result *r, enum tg_rcpt_result want)
{
	size_t keep = 0;

	if (r->n_rcpt < d->msg.n_to)
		return 0;
	for (size_t i = 0; i < d->msg.n_to; i++) {
		if (r->rcpt[i] == want) {
			char *t = d->msg.to[keep];

			d->msg.to[keep] = d->msg.to[i];
			d->msg.to[i] = t;
			keep++;
		}
	}
	if (keep == 0)
		return 0;
	for (size_t i = keep; i < d->msg.n_to; i++) {
		free(d->msg.to[i]);
		d->msg.to[i] = NULL;
	}
	d->msg.n_to = keep;
	return keep;
}

/* Recipients refused for good (5xx) while the message went to others or
 * waits for them: logged, and a copy naming them goes to outbox/failed/ so
 * that `traguardo status` counts it and nothing is silently dropped. */
static void report_refused(struct tg_notifier *n, struct delivery *d,
			   const struct tg_email_result *r)
{
	struct tg_outbox_msg copy;
	struct tg_error err = { 0 };
	char text[1024] = "", **to;
	size_t k = 0;

	if (r->n_rcpt < d->msg.n_to || (to = calloc(d->msg.n_to, sizeof(*to))) == NULL)
		return;
	for (size_t i = 0; i < d->msg.n_to; i++) {
		const char *reply = r->rcpt_reply && r->rcpt_reply[i] ? r->rcpt_reply[i] : "(no reply)";
		size_t o = strlen(text);

		if (r->rcpt[i] != TG_RCPT_REFUSED)
			continue;
		to[k++] = d->msg.to[i];
		tg_logf(LOG_ERR, "EVENT_ID", d->msg.id, "%s: message %s: recipient %s refused: %s",
			d->msg.channel, d->msg.id, d->msg.to[i], reply);
		snprintf(text + o, sizeof(text) - o, "%s%s: %s", o ? "; " : "", d->msg.to[i], reply);
	}
	if (k > 0) {
		copy = d->msg;
		copy.to = to;
		copy.n_to = k;
		copy.last_error = NULL;
		n->stats.failed++;
		if (tg_outbox_fail_copy(n->ob, &copy, text, &err) < 0)
			tg_log(LOG_ERR, "%s: message %s: %s", d->msg.channel, d->msg.id, err.msg);
		free(copy.last_error);
	}
	free(to);
}

static void email_done(void *ctx, const struct tg_email_result *r)
{
	struct delivery *d = ctx;
	struct tg_notifier *n = d->n;
	size_t keep;

	d->email = NULL;
	if (d->test_done != NULL) {
		d->test_done(d->test_ctx, r->result, r->result < 0 ? r->error
				  : r->final_reply ? r->final_reply : "accepted");
		ended(n, d);
		return;
	}
	if (r->result == -EPERM && !some_tempfail(d, r)) {
		fail(n, d, r->error);
		ended(n, d);
		return;
	}
	if (r->result == -EACCES) {
		/* the channel's settings: the message waits for the administrator */
		tg_logf(LOG_ERR, "CHANNEL", d->msg.channel, "%s: %s; fix the channel's settings "
			"(the message is kept and retried)", d->msg.channel, r->error);
		retry(n, d, r->error, -1);
		ended(n, d);
		return;
	}
	/* per recipient: keep those to try again, set the refused aside */
	report_refused(n, d, r);
	keep = narrow(d, r, TG_RCPT_TEMPFAIL);
	if (keep > 0)
		retry(n, d, r->result < 0 ? r->error : "recipient deferred by the server (4xx)", -1);
	else if (r->result < 0)
		retry(n, d, r->error, -1);
	else
		delivered(n, d, r->final_reply);
	ended(n, d);
}

static void webhook_done(void *ctx, const struct tg_http_response *r)
{
	struct delivery *d = ctx;
	struct tg_notifier *n = d->n;
	char what[TG_ERROR_MAX + 64];
	/* a 2xx is a delivery, however the rest of the answer went: posting
	 * it again would send the alert twice */
	bool got_2xx = r->result < 0 && r->status_seen >= 200 && r->status_seen <= 299;
	long status = got_2xx ? r->status_seen : r->status;
	int result = got_2xx ? 0 : r->result;

	d->http = NULL;
	if (got_2xx)
		snprintf(what, sizeof(what), "HTTP %ld (then: %s)", status, r->error);
	else if (r->result < 0)
		snprintf(what, sizeof(what), "%s", r->error);
	else
		snprintf(what, sizeof(what), "HTTP %ld%s%.*s", r->status, r->len ? ": " : "",
			 (int)(r->len > 200 ? 200 : r->len), r->body);
	/* the reply body is the server's words: no control bytes into the log */
	for (char *p = what; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	if (d->test_done != NULL) {
		bool ok = tg_webhook_verdict(status, result) == TG_WEBHOOK_DELIVERED;

		d->test_done(d->test_ctx, ok ? 0 : -EIO, what);
		ended(n, d);
		return;
	}
	switch (tg_webhook_verdict(status, result)) {
	case TG_WEBHOOK_DELIVERED:
		delivered(n, d, what);
		break;
	case TG_WEBHOOK_RETRY:
		retry(n, d, what, r->retry_after);
		break;
	case TG_WEBHOOK_PERMANENT:
		fail(n, d, what);
		break;
	}
	ended(n, d);
}

static int ensure_http(struct tg_notifier *n, struct tg_error *err)
{
	struct tg_http_limits lim = { .max_parallel = n->cfg->daemon.http_max_parallel,
				      .max_per_host = n->cfg->daemon.http_max_per_host };

	if (n->http != NULL && n->n_flying == 0 &&
	    (n->http_lim.max_parallel != lim.max_parallel ||
	     n->http_lim.max_per_host != lim.max_per_host)) {
		/* limits changed by a reload: a new engine, once nothing is in
		 * flight (never from inside one of its callbacks: deliveries
		 * start from the cycle, the outbox timer and test-notify) */
		tg_http_free(n->http);
		n->http = NULL;
	}
	if (n->http != NULL)
		return 0;
	n->http_lim = lim;
	if (n->ev == NULL)
		return tg_error_set(err, "no event loop for deliveries");
	n->http = tg_http_new(n->ev, &lim, err);
	return n->http != NULL ? 0 : -EIO;
}

/* Starts d (its msg filled) on its channel.  On failure d is freed and the
 * message handled (retry or fail) unless it is a test. */
static int start(struct tg_notifier *n, struct delivery *d, const struct tg_channel *ch,
		 struct tg_error *err)
{
	char owner[128];
	char *secret = NULL;
	int rc = 0;

	snprintf(owner, sizeof(owner), "channel '%s'", ch->name);
	if (ch->type == TG_CHANNEL_EMAIL) {
		char from[512];
		struct tg_email_request req = {
			.url = ch->url, .starttls = ch->starttls, .ca_file = ch->ca_file,
			.username = ch->username,
			.to = (const char *const *)d->msg.to, .n_to = d->msg.n_to,
			.message = d->msg.body, .len = d->msg.body_len,
			.timeout_ms = ch->timeout * 1000,
		};

		if (ch->password_file != NULL &&
		    (secret = tg_secret_read(n->cfg, owner, "password_file", ch->password_file, err)) == NULL)
			return -EACCES;
		req.password = secret;
		req.from = tg_email_addr_spec(ch->from, from, sizeof(from));
		d->email = tg_email_send(n->http, &req, email_done, d, err);
		if (d->email == NULL)
			rc = -EIO;
	} else {
		char sig[128], sig_header[160], event_header[80];
		const char *headers[3] = { "Content-Type: application/json; charset=utf-8",
					   event_header, sig_header };
		size_t n_headers = 2;
		struct tg_http_request req = {
			.url = ch->url, .method = "POST", .body = d->msg.body,
			.body_len = d->msg.body_len, .headers = headers, .ca_file = ch->ca_file,
			.timeout_ms = ch->timeout * 1000, .max_size = 64 * 1024,
			/* a redirect would turn the POST into a GET elsewhere and look
			 * delivered; a long 2xx answer is still a 2xx; the path of a
			 * webhook URL is its secret (Slack, Mattermost, Teams) */
			.no_redirect = true, .truncate_body = true, .hide_path = true,
			/* d (and its message) lives until webhook_done or the
			 * cancel in tg_notifier_free */
			.borrow_body = true,
		};

		snprintf(event_header, sizeof(event_header), "X-Traguardo-Event: %s", d->msg.id);
		if (ch->secret_file != NULL) {
			if ((secret = tg_secret_read(n->cfg, owner, "secret_file", ch->secret_file, err)) == NULL)
				return -EACCES;
			if (tg_webhook_signature(secret, strlen(secret), (int64_t)time(NULL), d->msg.body,
						 d->msg.body_len, sig, sizeof(sig)) == NULL) {
				tg_secret_free(secret);
				return tg_error_set(err, "%s: cannot compute the HMAC signature", owner);
			}
			snprintf(sig_header, sizeof(sig_header), "X-Traguardo-Signature: %s", sig);
			n_headers = 3;
		}
		req.n_headers = n_headers;
		d->http = tg_http_start(n->http, &req, webhook_done, d, err);
		if (d->http == NULL)
			rc = -EIO;
	}
	tg_secret_free(secret);
	return rc;
}

size_t tg_notifier_deliver(struct tg_notifier *n, int64_t wall, bool force)
{
	char (*ids)[TG_OUTBOX_ID_SIZE] = NULL;
	struct tg_error err = { 0 };
	ssize_t count;
	size_t started = 0;

	/* a standby too: its outbox holds only what it spooled while active
	 * (see tg_notifier_set_standby) */
	if (n->dry_run || n->ob == NULL)
		return 0;
	if ((count = tg_outbox_list(n->ob, &ids, &err)) < 0) {
		tg_log(LOG_ERR, "outbox: %s", err.msg);
		return 0;
	}
	if (count > 0 && ensure_http(n, &err) < 0) {
		tg_log(LOG_ERR, "outbox: %s", err.msg);
		free(ids);
		return 0;
	}
	for (ssize_t i = 0; i < count; i++) {
		struct delivery *d, *f;
		ssize_t ch;
		int rc;

		for (f = n->flying; f != NULL; f = f->next)
			if (f->test_done == NULL && strcmp(f->msg.id, ids[i]) == 0)
				break;
		if (f != NULL)
			continue;
		if ((d = calloc(1, sizeof(*d))) == NULL)
			break;
		d->n = n;
		rc = tg_outbox_load(n->ob, ids[i], &d->msg, &err);
		if (rc < 0) {
			if (rc != -ENOENT)
				tg_log(LOG_ERR, "outbox: %s", err.msg);
			free(d);
			continue;
		}
		if (!force && tg_outbox_due_at(n->ob, &d->msg, wall) > wall) {
			tg_outbox_msg_clear(&d->msg);
			free(d);
			continue;
		}
		d->next = n->flying;
		if (n->flying != NULL)
			n->flying->prev = d;
		n->flying = d;
		n->n_flying++;
		ch = tg_config_channel_index(n->cfg, d->msg.channel);
		/* kept until outbox_max_age: the channel may come back */
		if (ch < 0) {
			retry(n, d, "no channel of this name in the configuration (renamed or "
			      "removed?)", -1);
			delivery_free(d);
			continue;
		}
		if ((d->msg.kind == TG_OUTBOX_EMAIL) != (n->cfg->channels[ch].type == TG_CHANNEL_EMAIL)) {
			retry(n, d, "the channel changed type (email/webhook) since the message was "
			      "spooled", -1);
			delivery_free(d);
			continue;
		}
		rc = start(n, d, &n->cfg->channels[ch], &err);
		if (rc < 0) {
			/* a secret file missing or refused, out of memory: the
			 * administrator can fix it; keep the message */
			retry(n, d, err.msg, -1);
			delivery_free(d);
			continue;
		}
		started++;
	}
	free(ids);
	return started;
}

size_t tg_notifier_in_flight(const struct tg_notifier *n)
{
	return n->n_flying;
}

void tg_notifier_on_idle(struct tg_notifier *n, void (*fn)(void *ctx), void *ctx)
{
	n->idle = fn;
	n->idle_ctx = ctx;
}

int64_t tg_notifier_next_attempt(struct tg_notifier *n, int64_t wall)
{
	char (*ids)[TG_OUTBOX_ID_SIZE] = NULL;
	struct tg_error err = { 0 };
	ssize_t count;
	int64_t best = -1;

	if (n->ob == NULL || (count = tg_outbox_list(n->ob, &ids, &err)) < 0)
		return -1;
	for (ssize_t i = 0; i < count; i++) {
		struct tg_outbox_msg m = { 0 };
		const struct delivery *f;

		for (f = n->flying; f != NULL; f = f->next)
			if (f->test_done == NULL && strcmp(f->msg.id, ids[i]) == 0)
				break;
		if (f != NULL)
			continue;   /* in flight: its end re-arms the timer */
		if (tg_outbox_load(n->ob, ids[i], &m, &err) == 0) {
			int64_t at = tg_outbox_due_at(n->ob, &m, wall);

			if (best < 0 || at < best)
				best = at;
			tg_outbox_msg_clear(&m);
		}
	}
	free(ids);
	return best;
}

size_t tg_notifier_pending(struct tg_notifier *n)
{
	return n->ob != NULL ? tg_outbox_pending(n->ob) : 0;
}

size_t tg_notifier_failed(struct tg_notifier *n)
{
	return n->ob != NULL ? tg_outbox_failed(n->ob) : 0;
}

const struct tg_notify_stats *tg_notifier_stats(const struct tg_notifier *n)
{
	return &n->stats;
}

const struct tg_alerts *tg_notifier_alerts(const struct tg_notifier *n)
{
	return n->alerts;
}

/* ---- test-notify ---- */

/* A short test message in the channel's own format. */
static char *test_webhook_body(const struct tg_config *cfg, const struct tg_channel *ch,
			       const char *id, bool e, size_t *len)
{
	const char *words = e ? "traguardo test message: the channel works"
			      : "traguardo, messaggio di prova: il canale funziona";
	json_t *o = NULL;
	char *body;

	switch (ch->format) {
	case TG_WEBHOOK_GENERIC:
		o = json_pack("{s:s, s:s, s:s, s:{}, s:{s:s}, s:{}, s:s, s:i, s:[], s:{s:b, s:s, s:s?}}",
			      "version", "4", "status", "resolved", "receiver", ch->name,
			      "groupLabels", "commonLabels", "alertname", "traguardo-test",
			      "commonAnnotations", "externalURL", "", "truncatedAlerts", 0, "alerts",
			      "traguardo", "test", 1, "message_id", id, "organization",
			      cfg->daemon.organization);
		break;
	case TG_WEBHOOK_TEAMS:
		o = json_pack("{s:s, s:[{s:s, s:n, s:{s:s, s:s, s:s, s:[{s:s, s:s, s:b}]}}]}",
			      "type", "message", "attachments", "contentType",
			      "application/vnd.microsoft.card.adaptive", "contentUrl", "content",
			      "$schema", "http://adaptivecards.io/schemas/adaptive-card.json", "type",
			      "AdaptiveCard", "version", "1.4", "body", "type", "TextBlock", "text",
			      words, "wrap", 1);
		break;
	case TG_WEBHOOK_MATTERMOST:
		o = json_pack("{s:s, s:s}", "text", words, "username", "traguardo");
		break;
	case TG_WEBHOOK_SLACK:
	case TG_WEBHOOK_GOOGLECHAT:
		o = json_pack("{s:s}", "text", words);
		break;
	}
	if (o == NULL)
		return NULL;
	body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	*len = body != NULL ? strlen(body) : 0;
	return body;
}

int tg_notifier_test(struct tg_notifier *n, size_t channel, const char *to, int64_t wall,
		     tg_notifier_test_fn done, void *ctx, struct tg_error *err)
{
	const struct tg_config *cfg = n->cfg;
	const struct tg_channel *ch;
	bool e = en(cfg);
	struct delivery *d;
	char id[TG_OUTBOX_ID_SIZE], text[1024];
	int rc;

	if (channel >= cfg->n_channels)
		return tg_error_set(err, "no such channel");
	ch = &cfg->channels[channel];
	if ((rc = ensure_http(n, err)) < 0)
		return rc;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return tg_error_setc(err, -ENOMEM, "out of memory");
	d->n = n;
	d->test_done = done;
	d->test_ctx = ctx;
	snprintf(id, sizeof(id), "%016llx%016llx", (unsigned long long)wall,
		 (unsigned long long)getpid());
	memcpy(d->msg.id, id, sizeof(d->msg.id));
	snprintf(text, sizeof(text),
		 e ? "This is a test message from traguardo%s%s, channel '%s'.\n"
		     "If you read it, the channel works.\n"
		   : "Questo è un messaggio di prova di traguardo%s%s, canale '%s'.\n"
		     "Se lo leggete, il canale funziona.\n",
		 cfg->daemon.organization ? " — " : "",
		 cfg->daemon.organization ? cfg->daemon.organization : "", ch->name);
	if (ch->type == TG_CHANNEL_EMAIL) {
		const char *list[1] = { to };
		const char *const *rcpts = to != NULL ? list : (const char *const *)cfg->daemon.admins.v;
		size_t n_rcpts = to != NULL ? 1 : cfg->daemon.admins.n;
		struct tg_mime_email m = {
			.from = ch->from, .to = rcpts, .n_to = n_rcpts,
			.subject = e ? "[traguardo] test message" : "[traguardo] messaggio di prova",
			.text = text, .id = id, .lang = cfg->daemon.language, .date = wall,
			.utc_offset = utc_offset(wall),
		};

		if (n_rcpts == 0) {
			free(d);
			return tg_error_set(err, "channel '%s': no recipient: give --to ADDRESS or set daemon.admins",
					    ch->name);
		}
		if ((rc = tg_mime_build(&m, &d->msg.body, &d->msg.body_len, err)) < 0 ||
		    (d->msg.to = calloc(n_rcpts, sizeof(char *))) == NULL) {
			tg_outbox_msg_clear(&d->msg);
			free(d);
			return rc < 0 ? rc : tg_error_setc(err, -ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < n_rcpts; i++)
			if ((d->msg.to[d->msg.n_to++] = strdup(rcpts[i])) == NULL)
				rc = -ENOMEM;
	} else {
		d->msg.body = test_webhook_body(cfg, ch, id, e, &d->msg.body_len);
		rc = d->msg.body != NULL ? 0 : -ENOMEM;
	}
	if (rc < 0) {
		tg_outbox_msg_clear(&d->msg);
		free(d);
		return tg_error_setc(err, -ENOMEM, "out of memory");
	}
	d->next = n->flying;
	if (n->flying != NULL)
		n->flying->prev = d;
	n->flying = d;
	if ((rc = start(n, d, ch, err)) < 0) {
		delivery_free(d);
		return rc;
	}
	return 0;
}
