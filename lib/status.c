/*
 * status.c — names and labels of indicator statuses.
 */
#include "status.h"

#include <errno.h>
#include <string.h>

static const char *const names[TG_STATUS_COUNT] = {
	"ok", "unknown", "warning", "late", "critical", "error",
};
static const char *const labels_it[TG_STATUS_COUNT] = {
	"in obiettivo", "senza dati", "attenzione", "in ritardo", "critico", "errore fonte",
};
static const char *const labels_en[TG_STATUS_COUNT] = {
	"on target", "no data", "warning", "late", "critical", "source error",
};

const char *tg_status_name(enum tg_status s)
{
	return (unsigned)s < TG_STATUS_COUNT ? names[s] : "?";
}

int tg_status_parse(const char *s, enum tg_status *out)
{
	for (int i = 0; i < TG_STATUS_COUNT; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum tg_status)i;
			return 0;
		}
	return -EINVAL;
}

const char *tg_status_label(enum tg_status s, const char *lang)
{
	if ((unsigned)s >= TG_STATUS_COUNT)
		return "?";
	return (lang != NULL && strcmp(lang, "en") == 0) ? labels_en[s] : labels_it[s];
}
