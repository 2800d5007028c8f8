/*
 * preview.h — the messages a cycle would send, written as files for
 * `traguardo once --dry-run`: for each message a readable NNN-CHANNEL-TO.txt
 * and the exact payload next to it (.eml for e-mail, .json for a webhook),
 * so an administrator sees who would be told what before enabling delivery.
 */
#ifndef TG_PREVIEW_H
#define TG_PREVIEW_H

#include <stddef.h>

#include "error.h"

/* Creates dir if needed and removes the previews of an earlier run (*.txt,
 * *.eml, *.json).  Returns 0 or a negative code with err. */
int tg_preview_clear(const char *dir, struct tg_error *err);

/* Writes DIR/NNN-CHANNEL-TO.txt (view) and DIR/NNN-CHANNEL-TO.EXT (payload);
 * n numbers the message (from 1), to names the recipients ("webhook" for
 * none); unsafe characters in names become '_'.  Returns 0 or a negative
 * code with err. */
int tg_preview_write(const char *dir, size_t n, const char *channel, const char *to,
		     const char *view, size_t view_len, const char *payload, size_t payload_len,
		     const char *ext, struct tg_error *err);

#endif
