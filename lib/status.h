/*
 * status.h — the status of an indicator, ordered by how bad it is for the
 * people who read it (the order of a digest: worst first).
 */
#ifndef TG_STATUS_H
#define TG_STATUS_H

enum tg_status {
	TG_STATUS_OK = 0,
	TG_STATUS_UNKNOWN,  /* no data yet, nothing expected yet */
	TG_STATUS_WARNING,
	TG_STATUS_LATE,     /* data expected and not arrived: for the owner */
	TG_STATUS_CRITICAL,
	TG_STATUS_ERROR,    /* the source failed: for the administrators */
};
#define TG_STATUS_COUNT 6

/* "ok" "unknown" "warning" "late" "critical" "error" */
const char *tg_status_name(enum tg_status s);
/* Returns 0 or -EINVAL. */
int tg_status_parse(const char *s, enum tg_status *out);
/* Words for people: "it": "in obiettivo", "attenzione", "critico", "in ritardo",
 * "errore fonte", "senza dati"; "en": "on target", "warning", ... */
const char *tg_status_label(enum tg_status s, const char *lang);
/* Severity for sorting and min_status (higher is worse):
 * ok 0, unknown 1, warning 2, late 3, critical 4, error 5 (the enum order). */
static inline int tg_status_severity(enum tg_status s) { return (int)s; }

#endif
