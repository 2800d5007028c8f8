/*
 * config.h — the configuration: a libconfig file turned into an immutable,
 * validated struct.
 *
 * tg_config_load() checks everything it can without touching the network or
 * the data: every key known (an unknown key is an error, so typos are caught),
 * types, ranges, enumerations, durations, email addresses, dates, patterns,
 * and cross-references (an indicator naming an unknown source, a route naming
 * an unknown channel or indicator, duplicate ids).  It reports ALL errors of
 * one run, each as "FILE:LINE: message", through the report callback
 * (sorted by file, main file first, and line), and returns NULL if there was
 * any.  @include works (errors name the included file); with tg_config_load
 * included names are relative to the main file's directory (libconfig 1.5
 * cannot include an absolute path then: use "../x.conf").  Relative paths (state_dir, source paths, *_file, ca_file) are made
 * absolute against the directory of the main config file, except *_file
 * secrets, which are kept as written and resolved at use time
 * ($CREDENTIALS_DIRECTORY first, then the config directory: see
 * tg_config_secret_path).
 *
 * The struct is read-only after loading; every string and array belongs to
 * the struct and is freed by tg_config_free.
 */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "csv.h"
#include "error.h"
#include "number.h"
#include "period.h"
#include "status.h"

/* Where an item was written, for messages: file is owned by the config. */
struct tg_location {
	const char *file;
	int line;
};

struct tg_strings {
	char **v;
	size_t n;
};

struct tg_dialect {
	char separator;               /* 0 = auto; ';' ',' '\t' '|' */
	enum tg_encoding encoding;    /* default auto */
	struct tg_number_format number; /* decimal (default ','), thousands (default '.',
					   but ',' when decimal is '.'; must differ from
					   decimal), missing points into `missing` below */
	char *date_format;            /* NULL = automatic (tg_date_parse) */
	struct tg_strings missing;    /* default "", "n.d.", "n/d", "nd", "-", "--", "N/A", "n.a." */
};

enum tg_source_type { TG_SOURCE_CSV = 0, TG_SOURCE_HTTP, TG_SOURCE_PG };
/* long: one record per (indicator, period, value), for CSV and JSON;
 * wide: CSV only, one row per indicator and one column per period;
 * by_indicator: JSON only, an object of series keyed by indicator id. */
enum tg_layout { TG_LAYOUT_LONG = 0, TG_LAYOUT_WIDE, TG_LAYOUT_BY_INDICATOR };
enum tg_format { TG_FORMAT_CSV = 0, TG_FORMAT_JSON };

struct tg_source {
	char *name;                   /* unique, [A-Za-z0-9_.-]{1,64} */
	enum tg_source_type type;
	int64_t every;                /* seconds, default 15m, >= 10s */
	int64_t timeout;              /* seconds, default 30s */
	/* csv */
	char *path;                   /* absolute; may be a glob */
	enum tg_layout layout;        /* default long */
	struct tg_dialect dialect;
	/* Column headers; NULL = by position: indicator 1st, period 2nd,
	 * value 3rd (long); indicator 1st (wide, period = every other column
	 * whose header is a period). */
	char *col_indicator, *col_period, *col_value;
	/* http: the CSV settings above apply to format csv too */
	char *url;                    /* http:// or https://; required */
	enum tg_format format;        /* default csv */
	char *ca_file;                /* absolute or NULL (system CAs) */
	char *proxy;                  /* a proxy URL, or NULL (direct; the *_proxy
					 environment variables are ignored) */
	char *bearer_token_file;      /* as written; see tg_config_secret_path */
	char *username;               /* basic auth, with password_file */
	char *password_file;
	struct tg_strings headers;    /* "Name: value", no control characters;
					 Authorization is refused (use the *_file keys) */
	int64_t max_size;             /* bytes, default 50 MiB ("50MB", "512kB", "1GB") */
	int retries;                  /* 0..10, default 3: attempts after the first,
					 within one run, for connection errors,
					 timeouts, 5xx and 429 */
	/* format json: dot paths (see json_feed.h); defaults "" (top level),
	 * "indicator", "period", "value" */
	char *json_records, *json_indicator, *json_period, *json_value;
	/* postgresql: the columns settings above name result columns (default:
	 * the first three); the dialect gives date_format and the number format
	 * of text columns; password_file above is the password */
	char *conninfo;               /* any libpq form; required; checked with
					 PQconninfoParse, no password in it */
	char *query;                  /* required; $1 is the first day wanted */
	int64_t since;                /* seconds, default 400d: $1 = local today - since */
	struct tg_location loc;
};

enum tg_better { TG_BETTER_HIGHER = 0, TG_BETTER_LOWER, TG_BETTER_RANGE };
enum tg_aggregate { TG_AGG_MEAN = 0, TG_AGG_SUM, TG_AGG_LAST };

struct tg_indicator {
	char *id;                     /* unique, [A-Za-z0-9_.-]{1,64} */
	char *name;                   /* required */
	char *process;                /* may be NULL */
	char *department;             /* required */
	char *owner;                  /* email or NULL */
	char *unit;                   /* e.g. "giorni", "%"; may be NULL */
	char *source;                 /* NULL = any source may feed it */
	int source_index;             /* index in cfg->sources, -1 if source NULL */
	enum tg_period_kind period;   /* default month */
	enum tg_better better;        /* default higher */
	/* higher/lower: target required; critical optional (higher: critical <=
	 * target; lower: critical >= target).  Without critical, any miss of the
	 * target is critical.  range: min and/or max required (min <= max);
	 * critical_min <= min, critical_max >= max optional, same meaning. */
	double target, critical, min, max, critical_min, critical_max;
	bool has_target, has_critical, has_min, has_max, has_critical_min, has_critical_max;
	struct {
		bool set;
		double value;
		enum tg_aggregate aggregate; /* default mean */
	} year_target;
	int64_t late_after;           /* seconds after the period's end; -1 = never late
				         (the default, also written "never") */
	int confirm_periods;          /* 1..24, default 1 */
	int decimals;                 /* 0..6 for display, -1 = automatic */
	struct tg_location loc;
};

enum tg_channel_type { TG_CHANNEL_EMAIL = 0, TG_CHANNEL_WEBHOOK };
enum tg_webhook_format {
	TG_WEBHOOK_GENERIC = 0, TG_WEBHOOK_TEAMS, TG_WEBHOOK_SLACK,
	TG_WEBHOOK_MATTERMOST, TG_WEBHOOK_GOOGLECHAT,
};

struct tg_channel {
	char *name;                   /* unique */
	enum tg_channel_type type;
	char *url;                    /* email: smtp:// or smtps://; webhook: http(s):// */
	/* email */
	bool starttls;                /* default true for smtp:// (required, not opportunistic) */
	char *from;                   /* "Name <addr>" or "addr"; required for email */
	char *username;               /* may be NULL */
	char *password_file;          /* as written; see tg_config_secret_path */
	/* webhook */
	enum tg_webhook_format format; /* default generic */
	char *secret_file;            /* HMAC-SHA256 key file, may be NULL */
	/* both */
	char *ca_file;                /* absolute or NULL */
	int64_t timeout;              /* default 30s */
	struct tg_location loc;
};

struct tg_route {
	char *name;                   /* may be NULL; "route N" in messages */
	/* Match: an empty list matches everything.  All non-empty lists must match. */
	struct tg_strings departments, processes, indicators; /* indicators: known ids */
	enum tg_status min_status;    /* default warning */
	struct tg_strings channels;   /* required, known channel names */
	struct tg_strings to;         /* addresses or "@owner"; required when a channel is email */
	int64_t repeat_every;         /* seconds, 0 = never (default, or "never"); >= 1m */
	int64_t escalate_after;       /* seconds, 0 = never (default, or "never"); >= 1m */
	struct tg_strings escalate_to; /* addresses; required if escalate_after */
	struct {
		bool set;
		char *every;          /* "month": the management review of the last
					 month, on the first working day */
		struct tg_strings to; /* addresses, required, not empty */
		char *format;         /* "html" (default: text and HTML parts) or
					 "text" (plain text only) */
	} report;                     /* the route's indicators only; needs an email
					 channel (the first one sends it) */
	struct tg_location loc;
};

struct tg_silence {
	struct tg_strings departments, processes, indicators;
	tg_day from, until;           /* inclusive; from <= until */
	char *reason;                 /* required */
	struct tg_location loc;
};

struct tg_config {
	char *file;                   /* absolute path of the main file */
	char *dir;                    /* its directory */
	struct {
		char *state_dir;      /* absolute; default /var/lib/traguardo */
		char *language;       /* "it" (default) or "en" */
		char *organization;   /* e.g. "Comune di Borgo Fittizio"; may be NULL */
		int64_t evaluate_every; /* default 10m */
		int http_max_parallel;  /* 1..64, default 8: HTTP transfers at once */
		int http_max_per_host;  /* 1..16, default 4 */
		struct tg_strings admins; /* emails */
		int64_t outbox_max_age; /* default 3d, >= 1h: undelivered messages then go
					   to outbox/failed/ */
		char *templates;        /* absolute; default CONFIG_DIR/templates (a
					   missing directory is fine) */
	} daemon;
	struct tg_source *sources;       size_t n_sources;
	struct tg_indicator *indicators; size_t n_indicators;
	struct tg_channel *channels;     size_t n_channels;
	struct tg_route *routes;         size_t n_routes;
	struct tg_silence *silences;     size_t n_silences;
	struct {                         /* archive = { ... }: evidence in PostgreSQL */
		bool set;
		char *conninfo;          /* required; checked, no password in it */
		char *password_file;     /* as written; see tg_config_secret_path */
	} archive;
	struct {                         /* ha = { ... }: active/standby */
		bool set;
		char *conninfo;
		char *password_file;
		int lock;                /* advisory lock key, default 4242 */
	} ha;
	struct tg_config_index *index;   /* private: hash of ids and names */
};

/* Called once per problem: file and line of the offending setting (line 0
 * when unknown), and the message without location. */
typedef void (*tg_config_report_fn)(void *ctx, const char *file, int line, const char *msg);

/* Returns the config, or NULL after reporting every error (at least one).
 * report may be NULL (errors then go nowhere; err still gets the first). */
struct tg_config *tg_config_load(const char *path, tg_config_report_fn report, void *ctx,
				 struct tg_error *err);
/* Same from a string (for tests and the fuzzer); name is used in messages and
 * as the base of relative paths (its directory).  @include is resolved
 * relative to the current directory. */
struct tg_config *tg_config_load_string(const char *text, const char *name,
					tg_config_report_fn report, void *ctx,
					struct tg_error *err);
void tg_config_free(struct tg_config *cfg);

/* Lookups in O(1): index into the arrays, or -1. */
ssize_t tg_config_indicator_index(const struct tg_config *cfg, const char *id, size_t len);
ssize_t tg_config_source_index(const struct tg_config *cfg, const char *name);
ssize_t tg_config_channel_index(const struct tg_config *cfg, const char *name);

/* Resolves a *_file setting: absolute as is; else $CREDENTIALS_DIRECTORY/name
 * if that exists, else relative to the config directory.  Returns a newly
 * allocated path (caller frees) or NULL on ENOMEM. */
char *tg_config_secret_path(const struct tg_config *cfg, const char *name);

/* Validates an email address (the addr-spec, or "Name <addr-spec>" when
 * allow_name); no CR, LF or other control characters anywhere. */
bool tg_config_email_valid(const char *s, bool allow_name);

#endif
