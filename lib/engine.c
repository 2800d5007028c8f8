/*
 * engine.c — sources into the store, store into evaluations (see engine.h).
 *
 * The sink that the sources write into lives here because it is where the
 * file format meets the configuration: it knows which indicators exist,
 * which source may feed which indicator, and how a date maps to an
 * indicator's period.
 */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct tg_engine {
	const struct tg_config *cfg;
	struct tg_store *store;
	struct tg_source_state *sources;
	struct tg_eval_result *results;
	int64_t loading_at;        /* wall clock of the run in progress */
	bool journal_failed;       /* the last commit to the journal failed */
};

struct tg_engine *tg_engine_new(const struct tg_config *cfg, enum tg_engine_journal journal,
				struct tg_error *err)
{
	struct tg_engine *e = calloc(1, sizeof(*e));

	if (e == NULL)
		goto nomem;
	e->cfg = cfg;
	e->store = tg_store_new();
	e->sources = calloc(cfg->n_sources ? cfg->n_sources : 1, sizeof(*e->sources));
	e->results = calloc(cfg->n_indicators ? cfg->n_indicators : 1, sizeof(*e->results));
	if (e->store == NULL || e->sources == NULL || e->results == NULL)
		goto nomem;
	if ((journal == TG_JOURNAL_WRITE &&
	     tg_store_open_journal(e->store, cfg->daemon.state_dir, err) < 0) ||
	    (journal == TG_JOURNAL_READ &&
	     tg_store_read_journal(e->store, cfg->daemon.state_dir, err) < 0)) {
		tg_engine_free(e);
		return NULL;
	}
	if (journal != TG_JOURNAL_NONE) {
		struct tg_store_stats ss;

		tg_store_stats(e->store, &ss);
		if (ss.skipped_corrupt > 0)
			tg_log(LOG_WARNING,
			       "%s/journal: %zu damaged record%s skipped (%zu read)%s", cfg->daemon.state_dir,
			       ss.skipped_corrupt, ss.skipped_corrupt == 1 ? "" : "s", ss.replayed,
			       journal == TG_JOURNAL_READ ? "" :
			       "; unless only the last one was cut by a crash, the damaged journal was kept as journal.corrupt-TIME");
	}
	return e;
nomem:
	tg_engine_free(e);
	tg_error_set(err, "out of memory");
	return NULL;
}

void tg_engine_free(struct tg_engine *e)
{
	if (e == NULL)
		return;
	tg_store_free(e->store);
	free(e->sources);
	free(e->results);
	free(e);
}

/* Can a date written with precision p be placed in a period of kind k?
 * A day always can; otherwise only what nests: a month in a quarter or year,
 * a quarter in a year.  A week never nests in a month, nor a month in a week. */
static bool date_fits(enum tg_period_kind p, enum tg_period_kind k)
{
	if (p == TG_PERIOD_DAY || p == k)
		return true;
	if (p == TG_PERIOD_WEEK || k == TG_PERIOD_WEEK)
		return false;
	return p < k;
}

static int sink_measure(void *ctx, const struct tg_source *src, const char *id, size_t len,
			const struct tg_date *date, double value, struct tg_error *err)
{
	struct tg_engine *e = ctx;
	const struct tg_indicator *ind;
	ssize_t i = tg_config_indicator_index(e->cfg, id, len);
	char label[64];

	if (i < 0)
		return TG_SINK_UNKNOWN;
	ind = &e->cfg->indicators[i];
	/* a located bad row, not an unknown indicator: the id is right, the
	 * file is not the one the configuration names for it */
	if (ind->source != NULL && strcmp(ind->source, src->name) != 0)
		return tg_error_set(err, "indicator %s takes values only from source '%s' (its 'source' setting)",
				    ind->id, ind->source);
	if (!date_fits(date->precision, ind->period))
		return tg_error_set(err, "'%s' (a %s) does not fit indicator %s, which is by %s",
				    tg_period_label(date->precision, date->day, "en", label, sizeof(label)),
				    tg_period_kind_name(date->precision), ind->id,
				    tg_period_kind_name(ind->period));
	return tg_store_put(e->store, ind->id, strlen(ind->id),
			    tg_period_start(ind->period, date->day), value, src->name,
			    e->loading_at, err) < 0 ? -EINVAL : TG_SINK_ACCEPTED;
}

static void sink_warn(void *ctx, const struct tg_source *src, const char *msg)
{
	(void)ctx;
	tg_logf(LOG_WARNING, "SOURCE", src->name, "source '%s': %s", src->name, msg);
}

int tg_engine_run_source(struct tg_engine *e, size_t source, int64_t wall_clock)
{
	const struct tg_source *src = &e->cfg->sources[source];
	struct tg_source_state *st = &e->sources[source];
	struct tg_source_sink sink = { sink_measure, sink_warn, e };
	struct tg_error err, cerr;
	int rc;

	if (source >= e->cfg->n_sources)
		return -EINVAL;
	e->loading_at = wall_clock;
	st->ran = true;
	st->last_run = wall_clock;
	rc = tg_source_csv_run(src, &sink, &st->stats, &err);
	/* what was read is kept even when the source failed half-way */
	e->journal_failed = tg_store_commit(e->store, &cerr) < 0;
	if (e->journal_failed)
		tg_log(LOG_ERR, "journal: %s", cerr.msg);
	st->failed = rc < 0;
	if (rc < 0)
		snprintf(st->error, sizeof(st->error), "%s", err.msg);
	else
		st->error[0] = '\0';
	return rc;
}

/* The source whose failure explains this indicator's lack of fresh data. */
static const struct tg_source_state *failing_source(const struct tg_engine *e,
						    const struct tg_indicator *ind,
						    const struct tg_series *s, size_t *which)
{
	const struct tg_config *cfg = e->cfg;
	ssize_t i = -1;

	if (ind->source_index >= 0)
		i = ind->source_index;
	else if (s != NULL && s->source != NULL)
		i = tg_config_source_index(cfg, s->source);
	if (i >= 0) {
		*which = (size_t)i;
		return e->sources[i].failed ? &e->sources[i] : NULL;
	}
	/* data from a source no longer configured (or none recorded): no source
	 * of this cycle is to blame for it */
	if (s != NULL && s->n > 0)
		return NULL;
	/* never had data: any failing source may be the one that should feed it */
	for (size_t k = 0; k < cfg->n_sources; k++)
		if (e->sources[k].failed) {
			*which = k;
			return &e->sources[k];
		}
	return NULL;
}

void tg_engine_evaluate(struct tg_engine *e, tg_time now)
{
	const struct tg_config *cfg = e->cfg;

	for (size_t i = 0; i < cfg->n_indicators; i++) {
		const struct tg_indicator *ind = &cfg->indicators[i];
		const struct tg_series *s = tg_store_series(e->store, ind->id);
		const struct tg_source_state *fs;
		struct tg_eval_context ctx = { .now = now, .lang = cfg->daemon.language };
		size_t which = 0;

		fs = failing_source(e, ind, s, &which);
		if (fs != NULL) {
			ctx.failed_source = cfg->sources[which].name;
			ctx.failed_message = fs->error;
		}
		tg_eval_indicator(ind, s, &ctx, &e->results[i]);
	}
}

const struct tg_eval_result *tg_engine_results(const struct tg_engine *e)
{
	return e->results;
}

const struct tg_source_state *tg_engine_source_state(const struct tg_engine *e, size_t source)
{
	return &e->sources[source];
}

const struct tg_store *tg_engine_store(const struct tg_engine *e)
{
	return e->store;
}

bool tg_engine_journal_failed(const struct tg_engine *e)
{
	return e->journal_failed;
}
