/*
 * output.h — what a person or a program reads after a cycle: the aligned
 * status table, the JSON array of `--json`, and status.json in the state
 * directory (read by `traguardo status`).
 */
#ifndef TG_OUTPUT_H
#define TG_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "engine.h"
#include "evaluate.h"

/* The table, grouped by department, worst first within each, with the reason
 * under each row; colours only when colour is true; a summary at the end. */
void tg_output_table(FILE *f, const struct tg_config *cfg, const struct tg_engine *e,
		     tg_time now, bool colour);

/* One JSON array, one object per indicator (the DESIGN.md contract:
 * id, name, department, status, period, value, target, forecast, reason, ...).
 * Returns a malloc'ed NUL-terminated string, or NULL on ENOMEM. */
char *tg_output_json(const struct tg_config *cfg, const struct tg_engine *e);

/* What the notification side adds to status.json. */
struct tg_output_notify {
	size_t outbox;            /* messages waiting in outbox/new */
	size_t outbox_failed;     /* messages in outbox/failed */
	size_t alerts_active;     /* alerts firing and not yet resolved */
	const char *ha;           /* "ha active (lock 4242)" or NULL without ha */
	const char *archive;      /* "archive connected, 0 waiting" or NULL */
};

/* STATE_DIR/status.json: { "now", "generated_at", "indicators": [...], "sources": [...],
 * "notifications": {"outbox", "failed", "alerts_active", "ha", "archive"}
 * (only when notify is not NULL; ha and archive null when not configured) }, replaced atomically, mode 0640. */
int tg_output_status_file(const struct tg_config *cfg, const struct tg_engine *e, tg_time now,
			  int64_t wall_clock, const struct tg_output_notify *notify,
			  struct tg_error *err);

/* Prints UTF-8 text padded or cut to w - 1 terminal columns (a cut ends with
 * "…") and a space, so that neighbouring columns never touch; combining
 * marks count 0 columns, East Asian wide characters and emoji 2.  w >= 2. */
void tg_output_cell(FILE *f, const char *s, size_t w);

/* A value as people read it, with its unit: "27,6 giorni", "95,3%". */
const char *tg_output_value(const struct tg_indicator *ind, double v, const char *lang,
			    char *buf, size_t size);
/* The target as the table shows it: "≥ 30", "≤ 30", "80–95". */
const char *tg_output_target(const struct tg_indicator *ind, const char *lang, char *buf,
			     size_t size);

/* "12 indicatori: 8 in obiettivo, 2 attenzione, 1 critico, 1 in ritardo". */
const char *tg_output_summary(const struct tg_config *cfg, const struct tg_engine *e,
			      char *buf, size_t size);

#endif
