/*
 * preview.h — the messages a cycle would send, written as plain-text files
 * for `traguardo once --dry-run`: one file per digest in a directory, so an
 * administrator can read exactly who would be told what before enabling
 * delivery.
 */
#ifndef TG_PREVIEW_H
#define TG_PREVIEW_H

#include "config.h"
#include "evaluate.h"
#include "route.h"

/* Empties dir of earlier *.txt previews (creating it if needed) and writes
 * one NNN-CHANNEL-RECIPIENT.txt per digest.  Returns the number written or a
 * negative code with err. */
int tg_preview_write(const struct tg_config *cfg, const struct tg_eval_result *res,
		     const struct tg_digests *d, tg_time now, const char *dir,
		     struct tg_error *err);

#endif
