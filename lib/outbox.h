/*
 * outbox.h — the durable spool of messages: nothing is lost, nothing is
 * repeated without reason.
 *
 * STATE_DIR/outbox/{tmp,new,failed,sent}/, like a maildir.  A message is
 * written to tmp/ under a unique name, fsync'ed, renamed to new/ID.json and
 * the directory fsync'ed, BEFORE any attempt to send it; it is deleted only
 * after the server accepted it, leaving an empty marker sent/ID for 8 days.
 * Each file is one JSON object (the message and its delivery bookkeeping);
 * rewriting the bookkeeping after a failed attempt is another atomic tmp/ +
 * rename.  ID = the plan's id (32 hex digits): putting a message whose id is
 * in new/, failed/ or sent/ is a no-op, so a cycle replayed after a crash or
 * after its alert state could not be saved spools nothing twice.
 *
 * Retries: next attempt after 1, 2, 4 ... minutes (doubling, capped at 1 h),
 * or at a server's Retry-After when later; after max_age since creation the
 * message moves to failed/ with its last error.  Files in new/ that cannot be
 * read or parsed are moved to failed/ as NAME.corrupt (logged by the caller
 * from the error) and never block the rest.  tmp/ leftovers older than one
 * hour are removed by tg_outbox_open.
 *
 * File format (version 1): {"version":1,"id","kind":"email"|"webhook",
 * "channel","to":[...],"subject","events":[...],"created","next_attempt",
 * "attempts","last_error":null|"...","body"}, every field required, no
 * other.  Bounds (a file outside them is corrupt; a message outside them is
 * refused by put): file <= 64 MiB; channel 1..256 bytes, recipients and
 * event ids 1..1024 / 1..256 bytes with at most 10,000 recipients and
 * 100,000 events, all without control characters; subject and last_error
 * <= 4096 bytes, one line (put and retry/fail cut and clean them: they are
 * for display only); body valid UTF-8 without NUL (else put refuses it);
 * created 1..253402300799, next_attempt 0..same, attempts 0..1,000,000.
 * Files are mode 0640.
 */
#ifndef TG_OUTBOX_H
#define TG_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"

#define TG_OUTBOX_ID_SIZE 33

enum tg_outbox_kind { TG_OUTBOX_EMAIL = 0, TG_OUTBOX_WEBHOOK };

struct tg_outbox_msg {
	char id[TG_OUTBOX_ID_SIZE];   /* [0-9a-f]{32} */
	enum tg_outbox_kind kind;
	char *channel;                /* channel name */
	char **to;                    /* email: recipients still to deliver */
	size_t n_to;
	char *subject;                /* for logs and `traguardo status` */
	char **events;                /* event ids in it */
	size_t n_events;
	char *body;                   /* the whole RFC 5322 message, or the JSON body */
	size_t body_len;
	int64_t created;              /* unix seconds */
	int64_t next_attempt;         /* unix seconds; 0 = at once */
	int attempts;
	char *last_error;             /* NULL until a failure */
};
void tg_outbox_msg_clear(struct tg_outbox_msg *m);   /* frees the members; NULL ok */

struct tg_outbox;

/* Opens (creating the directories, mode 0750) STATE_DIR/outbox. */
int tg_outbox_open(const char *state_dir, struct tg_outbox **out, struct tg_error *err);
void tg_outbox_free(struct tg_outbox *ob);

/* Spools m (all fields but attempts/next_attempt/last_error are taken as
 * given; created must be set, >= 1).  "Already in failed/" means
 * failed/ID.json exists (a .corrupt copy does not count: that message was
 * never sent).  Returns 1 when written, 0 when the id was
 * already in new/, failed/ or sent/, negative with err (disk full, permissions: the
 * caller must then keep its alert state so the events come again). */
int tg_outbox_put(struct tg_outbox *ob, const struct tg_outbox_msg *m, struct tg_error *err);

/*
 * A cycle's messages and its alert state must change together.  With
 * staging on, put writes to staging/ (invisible to list and delivery);
 * after the alert state is saved, tg_outbox_commit moves them all to new/;
 * if the cycle fails, tg_outbox_rollback(ob, NULL) drops them.  After a
 * crash, tg_outbox_rollback(ob, &state_mtime) promotes the staged files
 * written no later than the alert state saved last (their cycle committed)
 * and drops the others (their cycle never did: it will come again).
 */
void tg_outbox_stage(struct tg_outbox *ob, bool on);
int tg_outbox_commit(struct tg_outbox *ob, struct tg_error *err);
int tg_outbox_rollback(struct tg_outbox *ob, const struct timespec *committed,
		       struct tg_error *err);

/* Ids of the messages in new/, oldest first (by created, then id); caller
 * frees with free().  Returns the count or a negative code with err.
 * Reads and parses every file (to sort by created): the cost is that of
 * loading them all.  A copy moved back from failed/ (ID.json.N,
 * ID.json.corrupt) is renamed ID.json first, unless that id is waiting
 * already (then at a later call); other names are skipped silently.  A file
 * that cannot be parsed is listed first (tg_outbox_load sets it aside). */
ssize_t tg_outbox_list(struct tg_outbox *ob, char (**ids)[TG_OUTBOX_ID_SIZE],
		       struct tg_error *err);

/* Loads new/ID.json into *m (overwritten, not freed first).  -ENOENT when gone; -EBADMSG when the file is
 * not a valid message: it has been moved to failed/ID.json.corrupt and err
 * says why (with the path); an error other than -EBADMSG/-ENOENT with the
 * file still in new/ when it could not be moved (or on ENOMEM, EMFILE). */
int tg_outbox_load(struct tg_outbox *ob, const char *id, struct tg_outbox_msg *m,
		   struct tg_error *err);

/* When m is due, seen at wall (unix seconds): its next_attempt, or 0 (at
 * once) when wall is more than 2 s earlier than m's last tg_outbox_retry in
 * this process, i.e. the clock was set back since: a retry counted on the
 * clock as it was would wait the time set back on top of its delay.  The
 * retry made then counts from the clock as it is now. */
int64_t tg_outbox_due_at(const struct tg_outbox *ob, const struct tg_outbox_msg *m,
			 int64_t wall);

/* The server accepted it: marks sent/ID, deletes new/ID.json (already
 * gone: 0). */
int tg_outbox_done(struct tg_outbox *ob, const char *id, struct tg_error *err);

/* A temporary failure at `now`: attempts++, last_error = error, the next
 * attempt by the backoff (or retry_after seconds from now when larger;
 * -1 = none); m->to may have been narrowed by the caller to the recipients
 * still due.  Rewrites the file.  Returns 0, or 1 when max_age has passed:
 * then the message has been moved to failed/ instead.  Backoff after the
 * n-th failure: 60 s * 2^(n-1), at most 3600 s; a retry_after above that
 * wins, but never beyond max_age.  max_age <= 0: 3 days.  "Passed" means
 * now - created >= max_age.  m->attempts, last_error and next_attempt are
 * updated in place even when the rewrite fails; -ENOENT when new/ID.json
 * is no longer there (it is not recreated). */
int tg_outbox_retry(struct tg_outbox *ob, struct tg_outbox_msg *m, const char *error,
		    int64_t now, int64_t retry_after, int64_t max_age, struct tg_error *err);

/* A permanent failure: writes m with last_error = error to failed/ID.json
 * (failed/ID.json.1, .2 ... when taken: nothing there is ever replaced) and
 * removes new/ID.json. */
int tg_outbox_fail(struct tg_outbox *ob, struct tg_outbox_msg *m, const char *error,
		   struct tg_error *err);

/* Some recipients refused for good while others are still due: writes m
 * (with last_error = error; m->to naming the refused ones) to
 * failed/ID.json (or ID.json.N) and leaves new/ID.json as it is. */
int tg_outbox_fail_copy(struct tg_outbox *ob, struct tg_outbox_msg *m, const char *error,
			struct tg_error *err);

/* Counts of message files in new/ and in failed/ (ID.json, ID.json.N,
 * ID.json.corrupt...: in new/, a copy moved back from failed/).  Each call scans the directory, which
 * holds few files; safe while the daemon writes (files may come and go).
 * An unreadable directory counts 0. */
size_t tg_outbox_pending(struct tg_outbox *ob);
size_t tg_outbox_failed(struct tg_outbox *ob);

/* Parses one message file's content (for tests and the fuzzer): 0 or
 * -EBADMSG with err; name is used in messages. */
int tg_outbox_parse(const char *data, size_t len, const char *name,
		    struct tg_outbox_msg *m, struct tg_error *err);

#endif
