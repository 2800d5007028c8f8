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
#include <time.h>

#include "fsutil.h"
#include "log.h"
#include "source_http.h"
#include "source_pg.h"

/* One per source: what its run in progress needs, and the sink's context. */
struct slot {
	struct tg_engine *e;
	size_t idx;
	int64_t wall;                      /* wall clock of the run: loaded_at */
	struct tg_source_http_run *run;    /* an HTTP run in progress, or NULL */
	struct tg_source_pg_run *pg;       /* a PostgreSQL run in progress, or NULL */
	size_t last;                       /* indicator of the last row, or SIZE_MAX */
	bool stepped;                      /* ... the one after the row's before: try the next first */
	/* the period of the last row: rows sorted by period repeat it */
	tg_day last_day, last_start;
	enum tg_period_kind last_kind;
	bool have_start;
	const char *store_name;            /* the store's copy of the source's name, or NULL */
	struct tg_source_sink sink;        /* outlives the run: it points here */
	tg_engine_done_fn done;
	void *ctx;
};

struct ind_info {
	uint32_t ref;                      /* its series in the store, NO_REF until its first point */
	uint32_t idlen;
	uint8_t period;                    /* enum tg_period_kind */
	uint16_t source;                   /* its 'source' setting: the index of
					      that source, SOURCE_ANY or SOURCE_BY_NAME */
};

#define SOURCE_ANY UINT16_MAX              /* no 'source' setting */
#define SOURCE_BY_NAME (UINT16_MAX - 1)    /* compare the names (no index fits) */

struct ind_index {
	struct ind_info *info;
	char **id;                         /* the ids, copied one after the other */
	char *ids;
};

static void index_free(struct ind_index *x)
{
	if (x == NULL)
		return;
	free(x->info);
	free(x->id);
	free(x->ids);
	free(x);
}

struct tg_engine {
	const struct tg_config *cfg;
	struct tg_store *store;
	struct tg_source_state *sources;
	struct slot *slots;
	struct tg_eval_result *results;
	/* what a row needs of each indicator of the config, packed: rows
	 * in config order read them in memory order, not the config's large
	 * structures */
	struct ind_index *index;
	sd_event *event;
	struct tg_http *http;              /* only with HTTP sources */
	struct tg_source_http_cache *cache;
	enum tg_engine_journal journal;
	bool journal_failed;               /* the last commit to the journal failed */
};

static bool has_http_sources(const struct tg_config *cfg)
{
	for (size_t i = 0; i < cfg->n_sources; i++)
		if (cfg->sources[i].type == TG_SOURCE_HTTP)
			return true;
	return false;
}

#define NO_REF UINT32_MAX
#define PREFETCH_AHEAD 16

/* What rows need of cfg's indicators (no store references yet), or NULL. */
static struct ind_index *index_new(const struct tg_config *cfg)
{
	size_t n = cfg->n_indicators ? cfg->n_indicators : 1, total = 1, o = 0;
	struct ind_index *x = calloc(1, sizeof(*x));

	if (x == NULL || (x->info = calloc(n, sizeof(*x->info))) == NULL ||
	    (x->id = calloc(n, sizeof(*x->id))) == NULL)
		goto fail;
	for (size_t i = 0; i < cfg->n_indicators; i++) {
		const struct tg_indicator *ind = &cfg->indicators[i];
		size_t len = strlen(ind->id);

		if (len > UINT32_MAX / 2)
			goto fail;
		x->info[i] = (struct ind_info){ .ref = NO_REF, .idlen = (uint32_t)len,
						.period = (uint8_t)ind->period,
						.source = ind->source != NULL ? SOURCE_BY_NAME : SOURCE_ANY };
		for (size_t j = 0; ind->source != NULL && j < cfg->n_sources && j < SOURCE_BY_NAME; j++)
			if (strcmp(cfg->sources[j].name, ind->source) == 0) {
				x->info[i].source = (uint16_t)j;
				break;
			}
		total += len + 1;
	}
	if ((x->ids = malloc(total)) == NULL)
		goto fail;
	for (size_t i = 0; i < cfg->n_indicators; i++) {
		x->id[i] = x->ids + o;
		memcpy(x->id[i], cfg->indicators[i].id, x->info[i].idlen + 1);
		o += x->info[i].idlen + 1;
	}
	return x;
fail:
	index_free(x);
	return NULL;
}

struct tg_engine *tg_engine_new(const struct tg_config *cfg, enum tg_engine_journal journal,
				sd_event *event, struct tg_error *err)
{
	struct tg_engine *e = calloc(1, sizeof(*e));

	if (e == NULL)
		goto nomem;
	e->cfg = cfg;
	e->journal = journal;
	if (event != NULL)
		e->event = sd_event_ref(event);   /* kept: a reload may add HTTP sources */
	e->store = tg_store_new();
	e->sources = calloc(cfg->n_sources ? cfg->n_sources : 1, sizeof(*e->sources));
	e->slots = calloc(cfg->n_sources ? cfg->n_sources : 1, sizeof(*e->slots));
	e->results = calloc(cfg->n_indicators ? cfg->n_indicators : 1, sizeof(*e->results));
	e->index = index_new(cfg);
	if (e->store == NULL || e->sources == NULL || e->slots == NULL || e->results == NULL ||
	    e->index == NULL)
		goto nomem;
	for (size_t i = 0; i < cfg->n_sources; i++)
		e->slots[i] = (struct slot){ .e = e, .idx = i, .last = SIZE_MAX };
	if (has_http_sources(cfg)) {
		struct tg_http_limits lim = {
			.max_parallel = cfg->daemon.http_max_parallel,
			.max_per_host = cfg->daemon.http_max_per_host,
		};

		if (event == NULL) {
			tg_error_set(err, "HTTP sources need an event loop");
			goto fail;
		}
		if ((e->http = tg_http_new(event, &lim, err)) == NULL)
			goto fail;
		/* the validators are state like the journal: written only when it is */
		e->cache = tg_source_http_cache_load(cfg->daemon.state_dir, journal == TG_JOURNAL_WRITE);
		if (e->cache == NULL)
			goto nomem;
	}
	if ((journal == TG_JOURNAL_WRITE &&
	     tg_store_open_journal(e->store, cfg->daemon.state_dir, err) < 0) ||
	    (journal == TG_JOURNAL_READ &&
	     tg_store_read_journal(e->store, cfg->daemon.state_dir, err) < 0))
		goto fail;
	if (journal != TG_JOURNAL_NONE) {
		struct tg_store_stats ss;

		tg_store_stats(e->store, &ss);
		if (ss.skipped_corrupt > 0)
			tg_log(LOG_WARNING,
			       "%s/journal: %zu damaged record%s skipped (%zu read)%s", cfg->daemon.state_dir,
			       ss.skipped_corrupt, ss.skipped_corrupt == 1 ? "" : "s", ss.replayed,
			       journal == TG_JOURNAL_READ ? "" :
			       "; unless only the last one was cut by a crash, the damaged journal was kept as journal.corrupt-TIME");
		if (ss.corrupt_removed > 0)
			tg_log(LOG_NOTICE, "%s/journal: %zu older journal.corrupt-* removed (the %d "
			       "newest are kept)", cfg->daemon.state_dir, ss.corrupt_removed,
			       TG_CORRUPT_KEEP);
	}
	return e;
nomem:
	tg_error_set(err, "out of memory");
fail:
	tg_engine_free(e);
	return NULL;
}

void tg_engine_free(struct tg_engine *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; e->slots != NULL && i < e->cfg->n_sources; i++) {
		tg_source_http_cancel(e->slots[i].run);
		tg_source_pg_cancel(e->slots[i].pg);
	}
	tg_http_free(e->http);
	tg_source_http_cache_free(e->cache);
	sd_event_unref(e->event);
	tg_store_free(e->store);
	free(e->slots);
	free(e->sources);
	free(e->results);
	index_free(e->index);
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

static inline __attribute__((always_inline)) bool id_is(const struct tg_engine *e, size_t i,
							 const char *id, size_t len)
{
	return i < e->cfg->n_indicators && e->index->info[i].idlen == len &&
	       tg_source_same_bytes(e->index->id[i], id, len);
}

/* The index of indicator id in the config, or -1.  Exports are sorted: by
 * code (a row's indicator is the last row's) or by period then code (the
 * next one of the config, when it lists them in the same order), so those
 * two are tried before the hash table. */
static ssize_t find_indicator(struct slot *sl, const char *id, size_t len)
{
	const struct tg_engine *e = sl->e;
	ssize_t i;

	if (sl->last != SIZE_MAX) {
		if (!sl->stepped && id_is(e, sl->last, id, len))
			return (ssize_t)sl->last;
		if (id_is(e, sl->last + 1, id, len)) {
			/* rows walk the indicators in order: the series a few
			 * rows ahead will be written soon */
			if (sl->last + 2 * PREFETCH_AHEAD < e->cfg->n_indicators)
				tg_store_prefetch_ref(e->store, e->index->info[sl->last + PREFETCH_AHEAD].ref,
						      e->index->info[sl->last + 2 * PREFETCH_AHEAD].ref);
			sl->stepped = true;
			return (ssize_t)++sl->last;
		}
		if (sl->stepped && id_is(e, sl->last, id, len)) {
			sl->stepped = false;
			return (ssize_t)sl->last;
		}
	}
	i = tg_config_indicator_index(e->cfg, id, len);
	if (i >= 0)
		sl->last = (size_t)i;
	sl->stepped = false;
	return i;
}

/* Why a date does not fit the indicator (apart: its buffer would cost every
 * row a stack canary). */
static int does_not_fit(const struct tg_indicator *ind, const struct tg_date *date,
			enum tg_period_kind kind, struct tg_error *err) __attribute__((noinline));
static int does_not_fit(const struct tg_indicator *ind, const struct tg_date *date,
			enum tg_period_kind kind, struct tg_error *err)
{
	char label[64];

	return tg_error_set(err, "'%s' (a %s) does not fit indicator %s, which is by %s",
			    tg_period_label(date->precision, date->day, "en", label, sizeof(label)),
			    tg_period_kind_name(date->precision), ind->id, tg_period_kind_name(kind));
}

static int sink_measure(void *ctx, const struct tg_source *src, const char *id, size_t len,
			const struct tg_date *date, double value, struct tg_error *err)
{
	struct slot *sl = ctx;
	struct tg_engine *e = sl->e;
	const struct tg_indicator *ind;
	struct ind_info *info;
	enum tg_period_kind kind;
	ssize_t i = find_indicator(sl, id, len);

	if (i < 0)
		return TG_SINK_UNKNOWN;
	info = &e->index->info[i];
	kind = (enum tg_period_kind)info->period;
	ind = &e->cfg->indicators[i];
	/* a located bad row, not an unknown indicator: the id is right, the
	 * file is not the one the configuration names for it */
	if (info->source != SOURCE_ANY &&
	    (info->source == SOURCE_BY_NAME ? strcmp(ind->source, src->name) != 0
					    : info->source != sl->idx))
		return tg_error_set(err, "indicator %s takes values only from source '%s' (its 'source' setting)",
				    ind->id, ind->source);
	if (!date_fits(date->precision, kind))
		return does_not_fit(ind, date, kind, err);
	if (info->ref == NO_REF && tg_store_ref(e->store, e->index->id[i], info->idlen, &info->ref, err) < 0)
		return -EINVAL;
	if (!sl->have_start || sl->last_day != date->day || sl->last_kind != kind) {
		sl->last_start = tg_period_start(kind, date->day);
		sl->last_day = date->day;
		sl->last_kind = kind;
		sl->have_start = true;
	}
	if (sl->store_name == NULL)
		sl->store_name = tg_store_source(e->store, src->name);
	return tg_store_put_ref(e->store, info->ref, sl->last_start, value,
				sl->store_name != NULL ? sl->store_name : src->name, sl->wall,
				err) < 0 ? -EINVAL : TG_SINK_ACCEPTED;
}

static void sink_warn(void *ctx, const struct tg_source *src, const char *msg)
{
	(void)ctx;
	tg_logf(LOG_WARNING, "SOURCE", src->name, "source '%s': %s", src->name, msg);
}

/* The end of any run: what was read is committed (kept even when the source
 * failed half-way), and the source's state says how it went. */
static void run_ended(struct tg_engine *e, size_t source, int rc, const struct tg_error *err,
		      bool not_modified)
{
	struct tg_source_state *st = &e->sources[source];
	struct tg_error cerr;

	e->journal_failed = tg_store_commit(e->store, &cerr) < 0;
	if (e->journal_failed)
		tg_log(LOG_ERR, "journal: %s", cerr.msg);
	/* the HTTP validators follow the journal to disk, never ahead of it */
	else if (tg_source_http_cache_save(e->cache, &cerr) < 0)
		tg_log(LOG_WARNING, "%s; the next run fetches the feeds in full", cerr.msg);
	st->failed = rc < 0;
	st->not_modified = rc >= 0 && not_modified;
	if (rc < 0)
		snprintf(st->error, sizeof(st->error), "%s", err != NULL ? err->msg : "failed");
	else
		st->error[0] = '\0';
}

int tg_engine_run_source(struct tg_engine *e, size_t source, int64_t wall_clock)
{
	const struct tg_source *src;
	struct tg_source_state *st;
	struct tg_source_sink sink;
	struct tg_error err;
	int rc;

	if (source >= e->cfg->n_sources)
		return -EINVAL;
	src = &e->cfg->sources[source];
	if (src->type != TG_SOURCE_CSV)
		return -EINVAL;
	st = &e->sources[source];
	e->slots[source].wall = wall_clock;
	sink = (struct tg_source_sink){ sink_measure, sink_warn, &e->slots[source] };
	st->ran = true;
	st->last_run = wall_clock;
	rc = tg_source_csv_run(src, &sink, &st->stats, &err);
	run_ended(e, source, rc, &err, false);
	return rc;
}

static void http_done(void *ctx, int rc, bool not_modified, const struct tg_error *err)
{
	struct slot *sl = ctx;
	struct tg_engine *e = sl->e;
	const struct tg_source *src = &e->cfg->sources[sl->idx];

	sl->run = NULL;
	run_ended(e, sl->idx, rc, err, not_modified);
	if (rc >= 0)
		tg_logf(LOG_DEBUG, "SOURCE", src->name, "source '%s' read: %s", src->name,
			not_modified ? "not modified" : "updated");
	sl->done(sl->ctx, sl->idx);
}

static void pg_done(void *ctx, int rc, const struct tg_error *err)
{
	struct slot *sl = ctx;
	struct tg_engine *e = sl->e;
	const struct tg_source *src = &e->cfg->sources[sl->idx];

	sl->pg = NULL;
	run_ended(e, sl->idx, rc, err, false);
	if (rc >= 0)
		tg_logf(LOG_DEBUG, "SOURCE", src->name, "source '%s' read", src->name);
	sl->done(sl->ctx, sl->idx);
}

/* The local civil date of a unix time: the day a person at the office calls
 * today, which a PostgreSQL source's `since` counts back from. */
static tg_day local_day(int64_t wall_clock)
{
	time_t t = (time_t)wall_clock;
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return tg_time_day(wall_clock);
	return tg_time_day(wall_clock + tm.tm_gmtoff);
}

/* A PostgreSQL run on the loop; done is called from it, or now if it cannot
 * start. */
static void start_pg(struct tg_engine *e, size_t source, int64_t wall_clock)
{
	struct slot *sl = &e->slots[source];
	struct tg_error err;
	struct tg_source_pg_params p = {
		.event = e->event,
		.cfg = e->cfg,
		.src = &e->cfg->sources[source],
		.sink = &sl->sink,
		.stats = &e->sources[source].stats,
		.today = local_day(wall_clock),
		.done = pg_done,
		.ctx = sl,
	};

	if (e->event == NULL)
		tg_error_set(&err, "source '%s': PostgreSQL sources need an event loop", p.src->name);
	else
		sl->pg = tg_source_pg_start(&p, &err);
	if (sl->pg == NULL) {
		run_ended(e, source, -EIO, &err, false);
		sl->done(sl->ctx, source);
	}
}

int tg_engine_start_source(struct tg_engine *e, size_t source, int64_t wall_clock,
			   tg_engine_done_fn done, void *ctx)
{
	const struct tg_source *src;
	struct slot *sl;
	struct tg_error err;

	if (source >= e->cfg->n_sources)
		return -EINVAL;
	src = &e->cfg->sources[source];
	sl = &e->slots[source];
	if (sl->run != NULL || sl->pg != NULL)
		return -EBUSY;
	if (src->type == TG_SOURCE_CSV) {
		tg_engine_run_source(e, source, wall_clock);
		tg_logf(LOG_DEBUG, "SOURCE", src->name, "source '%s' read", src->name);
		done(ctx, source);
		return 0;
	}
	sl->wall = wall_clock;
	sl->done = done;
	sl->ctx = ctx;
	e->sources[source].ran = true;
	e->sources[source].last_run = wall_clock;
	sl->sink = (struct tg_source_sink){ sink_measure, sink_warn, sl };
	if (src->type == TG_SOURCE_PG) {
		start_pg(e, source, wall_clock);
		return 0;
	}
	{
		struct tg_source_http_params p = {
			.event = e->event,
			.http = e->http,
			.cache = e->cache,
			.cfg = e->cfg,
			.src = src,
			.sink = &sl->sink,
			.stats = &e->sources[source].stats,
			.have_data = tg_store_has_source(e->store, src->name),
			.done = http_done,
			.ctx = sl,
		};

		sl->run = tg_source_http_start(&p, &err);
	}
	if (sl->run == NULL) {
		run_ended(e, source, -EIO, &err, false);
		done(ctx, source);
	}
	return 0;
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
		const struct tg_series *s;
		const struct tg_source_state *fs;
		struct tg_eval_context ctx = { .now = now, .lang = cfg->daemon.language };
		size_t which = 0;

		if (e->index->info[i].ref != NO_REF) {
			s = tg_store_series_ref(e->store, e->index->info[i].ref);
		} else {
			/* points from the journal only: keep the reference for the
			 * next cycles */
			s = tg_store_series(e->store, ind->id);
			if (s != NULL &&
			    tg_store_ref(e->store, ind->id, e->index->info[i].idlen, &e->index->info[i].ref, NULL) < 0)
				e->index->info[i].ref = NO_REF;
		}
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

size_t tg_engine_running(const struct tg_engine *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->cfg->n_sources; i++)
		n += e->slots[i].run != NULL || e->slots[i].pg != NULL;
	return n;
}

/* Cancels the runs in progress; what they had put in the store stays and is
 * committed. */
static int cancel_runs(struct tg_engine *e, struct tg_error *err)
{
	for (size_t i = 0; i < e->cfg->n_sources; i++) {
		if (e->slots[i].run == NULL && e->slots[i].pg == NULL)
			continue;
		tg_source_http_cancel(e->slots[i].run);
		e->slots[i].run = NULL;
		tg_source_pg_cancel(e->slots[i].pg);
		e->slots[i].pg = NULL;
		tg_logf(LOG_INFO, "SOURCE", e->cfg->sources[i].name, "source '%s': run cancelled",
			e->cfg->sources[i].name);
	}
	e->journal_failed = tg_store_commit(e->store, err) < 0;
	return e->journal_failed ? -EIO : 0;
}

int tg_engine_cancel_all(struct tg_engine *e, struct tg_error *err)
{
	return cancel_runs(e, err);
}

int tg_engine_reconfigure(struct tg_engine *e, const struct tg_config *cfg, struct tg_error *err)
{
	const struct tg_config *old = e->cfg;
	struct tg_source_state *sources = NULL;
	struct slot *slots = NULL;
	struct tg_eval_result *results = NULL;
	struct tg_http *http = NULL;
	struct tg_source_http_cache *cache = NULL;
	struct ind_index *index = NULL;
	bool new_http = false;
	struct tg_error cerr;

	if (strcmp(old->daemon.state_dir, cfg->daemon.state_dir) != 0)
		return tg_error_set(err, "%s: state_dir cannot change on reload (it is '%s'): restart the service",
				    cfg->file, old->daemon.state_dir);
	/* everything that can fail comes first: a failure changes nothing */
	sources = calloc(cfg->n_sources ? cfg->n_sources : 1, sizeof(*sources));
	slots = calloc(cfg->n_sources ? cfg->n_sources : 1, sizeof(*slots));
	results = calloc(cfg->n_indicators ? cfg->n_indicators : 1, sizeof(*results));
	index = index_new(cfg);
	if (sources == NULL || slots == NULL || results == NULL || index == NULL)
		goto nomem;
	if (has_http_sources(cfg)) {
		struct tg_http_limits lim = {
			.max_parallel = cfg->daemon.http_max_parallel,
			.max_per_host = cfg->daemon.http_max_per_host,
		};

		if (e->event == NULL) {
			tg_error_set(err, "HTTP sources need an event loop");
			goto fail;
		}
		/* new limits need a new multi handle; the runs it carries are
		 * cancelled below anyway.  A handle kept through a configuration
		 * without HTTP sources has the limits of an older one, not old's. */
		new_http = e->http == NULL || !has_http_sources(old) ||
			   old->daemon.http_max_parallel != lim.max_parallel ||
			   old->daemon.http_max_per_host != lim.max_per_host;
		if (new_http && (http = tg_http_new(e->event, &lim, err)) == NULL)
			goto fail;
		if (e->cache == NULL &&
		    (cache = tg_source_http_cache_load(cfg->daemon.state_dir,
						       e->journal == TG_JOURNAL_WRITE)) == NULL)
			goto nomem;
	}
	for (size_t i = 0; i < cfg->n_sources; i++) {
		ssize_t o = tg_config_source_index(old, cfg->sources[i].name);

		slots[i] = (struct slot){ .e = e, .idx = i, .last = SIZE_MAX };
		if (o >= 0)
			sources[i] = e->sources[o];
	}
	if (cancel_runs(e, &cerr) < 0)
		tg_log(LOG_ERR, "journal: %s", cerr.msg);
	if (new_http) {
		tg_http_free(e->http);
		e->http = http;
	}
	if (cache != NULL)
		e->cache = cache;
	free(e->sources);
	free(e->slots);
	free(e->results);
	e->sources = sources;
	e->slots = slots;
	e->results = results;
	index_free(e->index);
	e->index = index;  /* the store's references are found again by id */
	e->cfg = cfg;
	return 0;
nomem:
	tg_error_set(err, "out of memory");
fail:
	tg_http_free(http);
	tg_source_http_cache_free(cache);
	free(sources);
	free(slots);
	free(results);
	index_free(index);
	return -ENOMEM;
}
