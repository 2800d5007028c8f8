/*
 * preview.c — dry-run messages as files (see preview.h).
 */
#include "preview.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "number.h"
#include "period.h"

static void clear_previews(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 4 && strcmp(de->d_name + n - 4, ".txt") == 0 &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < sizeof(path))
			unlink(path);
	}
	closedir(d);
}

/* A file-name-safe copy: letters, digits, '.', '-', '_' and '@' only. */
static void safe_name(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (; *s && o + 1 < size; s++) {
		unsigned char c = (unsigned char)*s;

		buf[o++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    c == '.' || c == '-' || c == '_' || c == '@') ? (char)c : '_';
	}
	buf[o] = '\0';
}

static void write_digest(FILE *f, const struct tg_config *cfg, const struct tg_eval_result *res,
			 const struct tg_digest *d, tg_time now)
{
	const struct tg_channel *ch = &cfg->channels[d->channel];
	const char *lang = cfg->daemon.language;
	bool en = strcmp(lang, "en") == 0;
	const char *dept = NULL;
	char subject[256], label[64], num[64], iso[16];
	/* seconds into the day, also before 1970 ("%" of a negative is negative) */
	tg_time sec = now - (tg_time)tg_time_day(now) * TG_DAY_SECONDS;

	fprintf(f, en ? "Channel: %s (%s)\n" : "Canale: %s (%s)\n", ch->name,
		ch->type == TG_CHANNEL_EMAIL ? "email" : "webhook");
	if (d->recipient != NULL)
		fprintf(f, en ? "To: %s\n" : "A: %s\n", d->recipient);
	else
		fprintf(f, "URL: %s\n", ch->url);
	fprintf(f, en ? "Subject: %s\n" : "Oggetto: %s\n",
		tg_digest_subject(cfg, res, d, subject, sizeof(subject)));
	fprintf(f, en ? "Evaluated at: %s %02d:%02d\n\n" : "Valutazione del: %s %02d:%02d\n\n",
		tg_day_iso(tg_time_day(now), iso, sizeof(iso)),
		(int)(sec / 3600), (int)(sec % 3600 / 60));
	for (size_t i = 0; i < d->n; i++) {
		const struct tg_indicator *ind = &cfg->indicators[d->indicators[i]];
		const struct tg_eval_result *r = &res[d->indicators[i]];

		if (dept == NULL || strcmp(dept, ind->department) != 0) {
			dept = ind->department;
			fprintf(f, "%s\n", dept);
		}
		fprintf(f, "  [%s] %s — %s\n", tg_status_label(r->status, lang), ind->id, ind->name);
		if (r->has_value)
			fprintf(f, en ? "      value: %s%s%s (%s)\n" : "      valore: %s%s%s (%s)\n",
				tg_number_format(r->value, ind->decimals, lang, num, sizeof(num)),
				ind->unit && strcmp(ind->unit, "%") != 0 ? " " : "",
				ind->unit ? ind->unit : "",
				tg_period_label(ind->period, r->period, lang, label, sizeof(label)));
		fprintf(f, "      %s\n", r->reason);
		if (ind->owner != NULL)
			fprintf(f, en ? "      owner: %s\n" : "      responsabile: %s\n", ind->owner);
	}
}

int tg_preview_write(const struct tg_config *cfg, const struct tg_eval_result *res,
		     const struct tg_digests *d, tg_time now, const char *dir,
		     struct tg_error *err)
{
	int rc = tg_fs_mkdirs(dir, 0750, err);

	if (rc < 0)
		return rc;
	clear_previews(dir);
	for (size_t i = 0; i < d->n; i++) {
		char name[160], path[4096];
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		if (f == NULL)
			return tg_error_setc(err, -ENOMEM, "out of memory");
		write_digest(f, cfg, res, &d->v[i], now);
		if (fclose(f) != 0) {
			free(text);
			return tg_error_setc(err, -ENOMEM, "out of memory");
		}
		safe_name(d->v[i].recipient != NULL ? d->v[i].recipient : "webhook", name, sizeof(name));
		if ((size_t)snprintf(path, sizeof(path), "%s/%03zu-%s-%s.txt", dir, i + 1,
				     cfg->channels[d->v[i].channel].name, name) >= sizeof(path)) {
			free(text);
			return tg_error_setc(err, -ENAMETOOLONG, "%s: path too long", dir);
		}
		rc = tg_fs_write_atomic(path, text, len, 0640, err);
		free(text);
		if (rc < 0)
			return rc;
	}
	return (int)d->n;
}
