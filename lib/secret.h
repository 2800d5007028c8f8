/*
 * secret.h — secrets (passwords, tokens, keys) read from files, never from
 * the configuration itself.
 *
 * The file is looked up with tg_config_secret_path ($CREDENTIALS_DIRECTORY
 * first, then relative to the configuration); it is refused when everyone
 * may read it (it may have been read already) or write it (anyone could
 * choose what we send), when it is not a regular file (O_NONBLOCK: a FIFO
 * put there cannot hang the event loop), empty, longer than 4 KiB or of more
 * than one line.  A trailing newline is cut.  The secret's value never
 * appears in a message; its memory is wiped when freed.
 */
#ifndef TG_SECRET_H
#define TG_SECRET_H

#include "config.h"
#include "error.h"

/* owner names who wants it in messages ("source 'urp'"), key the setting
 * ("bearer_token_file"), name its value as written.  Returns the secret
 * (free with tg_secret_free) or NULL with err. */
char *tg_secret_read(const struct tg_config *cfg, const char *owner, const char *key,
		     const char *name, struct tg_error *err);
/* Wipes and frees; NULL ok. */
void tg_secret_free(char *secret);

#endif
