/*
 * gen.c — writes the benchmark's workload files (see gen.h for the data).
 *
 *   gen csv  N M FILE          the Italian export: "Codice;Periodo;Valore",
 *                              rows "IND012345;01/03/2019;53582,72", ordered by
 *                              period (all indicators of the oldest month first)
 *   gen tsv  N P FILE          the same values for the last P months in
 *                              PostgreSQL's text COPY format (id, ISO date, value)
 *   gen conf N CSV STATE FILE  a traguardo configuration: one CSV source reading
 *                              CSV, N indicators with targets near their level
 *
 * Deterministic: the same arguments give the same bytes on any machine.
 * The files are written through a large buffer with hand-made number
 * formatting, so that generating 10 million rows takes seconds, not minutes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

static FILE *out_open(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "gen: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	return f;
}

static void out_close(FILE *f, const char *path)
{
	if (ferror(f) || fclose(f) != 0) {
		fprintf(stderr, "gen: %s: write error\n", path);
		exit(1);
	}
}

static long arg_long(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "gen: '%s' is not a number in %ld..%ld\n", s, min, max);
		exit(2);
	}
	return v;
}

/* cents as "53582<dec>72" into p; returns the end. */
static char *put_cents(char *p, int64_t cents, char dec)
{
	char tmp[24];
	int n = 0;
	int64_t units = cents / 100;
	int c = (int)(cents % 100);

	do {
		tmp[n++] = (char)('0' + units % 10);
		units /= 10;
	} while (units > 0);
	while (n > 0)
		*p++ = tmp[--n];
	*p++ = dec;
	*p++ = (char)('0' + c / 10);
	*p++ = (char)('0' + c % 10);
	return p;
}

static void gen_rows(long n, int m, int last_p, const char *path, int tsv)
{
	FILE *f = out_open(path);
	char line[96];

	if (!tsv)
		fputs("Codice;Periodo;Valore\r\n", f);
	for (int p = m - last_p; p < m; p++) {
		int mi = bench_month_index(p, m);
		int y = mi / 12, mon = mi % 12 + 1;
		char date[32];

		if (tsv)
			snprintf(date, sizeof(date), "%04d-%02d-01", y, mon);
		else
			snprintf(date, sizeof(date), "01/%02d/%04d", mon, y);
		for (long i = 1; i <= n; i++) {
			char *q = line + bench_id((uint64_t)i, line, 32);

			*q++ = tsv ? '\t' : ';';
			memcpy(q, date, 10);
			q += 10;
			*q++ = tsv ? '\t' : ';';
			q = put_cents(q, bench_cents((uint64_t)i, mi), tsv ? '.' : ',');
			if (!tsv)
				*q++ = '\r';   /* Excel writes CRLF */
			*q++ = '\n';
			fwrite(line, 1, (size_t)(q - line), f);
		}
	}
	out_close(f, path);
}

static const char *const departments[] = {
	"Ragioneria", "Tributi", "Anagrafe e Stato civile", "Servizi sociali",
	"Lavori pubblici", "Urbanistica", "Polizia locale", "Servizi scolastici",
	"Cultura e biblioteche", "Ambiente", "Personale", "URP e comunicazione",
};

static void gen_conf(long n, const char *csv, const char *state, const char *path)
{
	FILE *f = out_open(path);

	fprintf(f, "# traguardo benchmark configuration (bench/gen.c): %ld indicators\n"
		   "daemon = { state_dir = \"%s\"; language = \"it\";\n"
		   "  organization = \"Comune di Banco di Prova\"; evaluate_every = \"10m\";\n"
		   "  admins = [\"ced@comune.bancodiprova.example\"]; };\n"
		   "sources = (\n"
		   "  { name = \"export\"; type = \"csv\"; path = \"%s\"; every = \"15m\"; layout = \"long\";\n"
		   "    timeout = \"10m\";   # the default 30s cuts 10 M rows on a busy machine\n"
		   "    dialect = { separator = \";\"; decimal = \",\"; thousands = \".\";\n"
		   "                encoding = \"windows-1252\"; date_format = \"%%d/%%m/%%Y\"; };\n"
		   "    columns = { indicator = \"Codice\"; period = \"Periodo\"; value = \"Valore\"; }; }\n"
		   ");\n"
		   "indicators = (\n", n, state, csv);
	for (long i = 1; i <= n; i++) {
		uint64_t h = bench_hash((uint64_t)i, 7);
		double base = bench_base((uint64_t)i);
		double level = (double)bench_cents((uint64_t)i, bench_month_index(0, 1)) / 100.0;
		double k = 0.85 + 0.30 * bench_unit(bench_hash((uint64_t)i, 8));
		int lower = h % 5 < 2;
		const char *dep = departments[(h >> 8) % (sizeof(departments) / sizeof(departments[0]))];
		char id[32], yt[96] = "";

		(void)base;
		bench_id((uint64_t)i, id, sizeof(id));
		/* a third of them with a yearly objective, so the forecast runs too */
		if ((h >> 16) % 3 == 0)
			snprintf(yt, sizeof(yt), " year_target = { value = %.2f; aggregate = \"%s\"; };",
				 lower ? level * k : 12 * level * k, lower ? "mean" : "sum");
		fprintf(f, "  { id = \"%s\"; name = \"Indicatore di prova %ld\"; process = \"Processo %ld\";\n"
			   "    department = \"%s\"; owner = \"resp%ld@comune.bancodiprova.example\"; unit = \"%s\";\n"
			   "    better = \"%s\"; target = %.2f; critical = %.2f; late_after = \"45d\";%s%s }%s\n",
			id, i, i % 97 + 1, dep, i % 500 + 1, lower ? "giorni" : "euro",
			lower ? "lower" : "higher", level * k, level * k * (lower ? 1.08 : 0.92), yt,
			(h >> 20) % 4 == 0 ? " confirm_periods = 2;" : "",
			i == n ? "" : ",");
	}
	fputs(");\n", f);
	out_close(f, path);
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "csv") == 0) {
		long n = arg_long(argv[2], 1, 999999);
		int m = (int)arg_long(argv[3], 1, 1200);

		gen_rows(n, m, m, argv[4], 0);
	} else if (argc == 5 && strcmp(argv[1], "tsv") == 0) {
		long n = arg_long(argv[2], 1, 999999);
		int p = (int)arg_long(argv[3], 1, 1200);

		gen_rows(n, p, p, argv[4], 1);
	} else if (argc == 6 && strcmp(argv[1], "conf") == 0) {
		gen_conf(arg_long(argv[2], 1, 999999), argv[3], argv[4], argv[5]);
	} else {
		fprintf(stderr, "usage: gen csv N M FILE | gen tsv N P FILE | gen conf N CSV STATE FILE\n");
		return 2;
	}
	return 0;
}
