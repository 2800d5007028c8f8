#!/bin/sh
# PostgreSQL sources end to end against a throwaway cluster
# (tests/pg_cluster.sh): date, timestamptz, text and integer-year periods,
# numeric and text values, NULLs, bad rows, an unknown indicator, $1 (since),
# a syntax error, a server that is not there next to a working CSV source,
# statement_timeout, and a large result read with bounded memory.
. "$(dirname "$0")/lib.sh"

PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
if [ ! -x "$PGBIN/initdb" ] || { [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; }; then
	echo "ok - postgresql sources # SKIP no initdb (apt-get install postgresql)"
	exit 0
fi
PGD=$(mktemp -d /tmp/tgpg.XXXXXX)
trap 'sh "$TESTS_DIR/pg_cluster.sh" stop "$PGD"; rm -rf "$T"' EXIT INT TERM
if ! CI=$(sh "$TESTS_DIR/pg_cluster.sh" start "$PGD" 2>"$T/cluster.err"); then
	notok "throwaway cluster started" "$(cat "$T/cluster.err" "$PGD/initdb.log" "$PGD/server.log" 2>/dev/null | tail -20)"
	exit 1
fi
ok "throwaway cluster started"
PORT=$(printf '%s\n' "$CI" | sed 's/.*port=\([0-9]*\).*/\1/')

psql_do() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$CI" "$@"; }
psql_do <<'SQL' >"$T/psql.out" 2>&1 || notok "test tables created" "$(cat "$T/psql.out")"
CREATE TABLE t_date (code text, d date, v numeric);
INSERT INTO t_date VALUES
  ('P-DATE', '2026-09-01', 10.5), ('P-DATE', '2026-10-01', 11.25),
  ('P-NULL', '2026-10-01', NULL),
  ('P-OLD', '2020-01-01', 5),           -- older than since: not selected
  -- (since = 2000 days from the real today: the 2026 rows stay in until 2032)
  ('ZZ-NOPE', '2026-10-01', 1),         -- unknown indicator
  (NULL, '2026-10-01', 1);              -- bad row: no indicator
CREATE TABLE t_ts (code varchar(20), ts timestamptz, v float8);
INSERT INTO t_ts VALUES ('P-TS', '2026-10-15 12:00+00', 0.125);
CREATE TABLE t_text (junk int, kpi text, mese text, valore text);
INSERT INTO t_text VALUES
  (1, 'P-TEXT', '09/2026', '1.234,5'), (2, 'P-TEXT', '10/2026', 'n.d.'),
  (3, 'P-TEXT', 'boh', '1'), (4, 'P-TEXT', '08/2026', 'abc');
CREATE TABLE t_year (code text, y int, v int);
INSERT INTO t_year VALUES ('P-YEAR', 2026, 77), ('P-YEAR', 20261, 1);
SQL

printf 'Codice;Mese;Valore\nC-CSV;01/10/2026;3\n' >"$T/c.csv"
ind() { printf '{ id = "%s"; name = "%s"; department = "D"; target = 1; source = "%s"; %s },\n' "$1" "$1" "$2" "${3:-}"; }
cat >"$T/p.conf" <<EOF2
daemon = { state_dir = "state"; };
sources = (
  { name = "csv"; type = "csv"; path = "c.csv"; },
  { name = "dates"; type = "postgresql"; conninfo = "$CI"; since = "2000d";
    query = "SELECT code, d, v FROM t_date WHERE d >= \$1::date"; },
  { name = "ts"; type = "postgresql"; conninfo = "postgresql://postgres@127.0.0.1:$PORT/postgres";
    query = "SELECT code, ts, v FROM t_ts"; },
  { name = "text"; type = "postgresql"; conninfo = "$CI"; query = "SELECT * FROM t_text ORDER BY junk";
    dialect = { date_format = "%m/%Y"; };
    columns = { indicator = "KPI"; period = "mese"; value = "valore"; }; },
  { name = "year"; type = "postgresql"; conninfo = "$CI"; query = "SELECT code, y, v FROM t_year"; },
  { name = "syntax"; type = "postgresql"; conninfo = "$CI"; query = "SELEC code FROM t_year"; },
  { name = "down"; type = "postgresql"; conninfo = "host=127.0.0.1 port=1 user=postgres"; query = "SELECT 1"; }
);
indicators = (
$(ind C-CSV csv)
$(ind P-DATE dates)
$(ind P-NULL dates)
$(ind P-OLD dates)
$(ind P-TS ts)
$(ind P-TEXT text)
$(ind P-YEAR year 'period = "year";')
$(ind P-SYN syntax)
  { id = "P-DOWN"; name = "down"; department = "D"; target = 1; source = "down"; }
);
EOF2

run "check a config of PostgreSQL sources" 0 "$TRAGUARDO" -c "$T/p.conf" check
run "once: two PostgreSQL sources fail" 3 "$TRAGUARDO" -v -c "$T/p.conf" once --json --now 2026-11-05T10:00
json "date period, numeric value" "by['P-DATE']['value'] == 11.25 and by['P-DATE']['status'] == 'ok'"
json "NULL value is missing, not zero" "by['P-NULL']['value'] is None and by['P-NULL']['status'] != 'error'"
json "\$1 is today minus since: old rows not selected" "by['P-OLD']['value'] is None"
json "timestamptz period, float8 value (URI conninfo over TCP)" "by['P-TS']['value'] == 0.125"
json "text period with date_format, text value in the dialect, columns by name" "by['P-TEXT']['value'] == 1234.5"
json "integer year period" "by['P-YEAR']['value'] == 77"
json "syntax error fails its indicators" "by['P-SYN']['status'] == 'error'"
json "server not there fails only its source" "by['P-DOWN']['status'] == 'error' and by['C-CSV']['value'] == 3 and by['C-CSV']['status'] == 'ok'"
json "syntax error: the reason gives the source, the SQLSTATE and the message" "\"'syntax'\" in by['P-SYN']['reason'] and 'SQLSTATE 42601: syntax error at or near' in by['P-SYN']['reason']"
json "connection failure: the reason gives the source and libpq's message" "\"'down'\" in by['P-DOWN']['reason'] and 'connection failed' in by['P-DOWN']['reason'] and 'port 1' in by['P-DOWN']['reason']"
contains "syntax error logged with the source" "$T/err" "source 'syntax' failed: query failed: SQLSTATE 42601"
contains "bad period row reported with its row number" "$T/err" "source 'text': row 3: period:"
contains "bad text value reported" "$T/err" "source 'text': row 4: value:"
contains "NULL indicator reported" "$T/err" "the indicator is NULL"
contains "year out of range reported" "$T/err" "is not a year"
contains "unknown indicator reported once" "$T/err" "ZZ-NOPE"

# ---------------------------------------------------------------- no leak on the PostgreSQL path
if ldd "$TRAGUARDO" 2>/dev/null | grep -q asan; then
	echo "ok - valgrind: PostgreSQL cycle # SKIP sanitizer build"
elif command -v valgrind >/dev/null 2>&1; then
	run "valgrind: PostgreSQL cycle with failures and bad rows" 3 valgrind -q --leak-check=full \
		--errors-for-leak-kinds=definite --error-exitcode=99 \
		"$TRAGUARDO" -c "$T/p.conf" once --dry-run --json --now 2026-11-05T10:00
else
	echo "ok - valgrind: PostgreSQL cycle # SKIP no valgrind"
fi

# ---------------------------------------------------------------- statement_timeout
cat >"$T/t.conf" <<EOF2
daemon = { state_dir = "tstate"; };
sources = ( { name = "sleepy"; type = "postgresql"; conninfo = "$CI"; timeout = "1s";
              query = "SELECT 'T-1', now()::date, 1 FROM pg_sleep(60)"; } );
indicators = ( { id = "T-1"; name = "t"; department = "D"; target = 1; } );
EOF2
start=$(date +%s)
run "statement_timeout: the source fails" 3 "$TRAGUARDO" -c "$T/t.conf" once --dry-run --json
el=$(( $(date +%s) - start ))
contains "statement_timeout: SQLSTATE 57014" "$T/err" "source 'sleepy' failed: query failed: SQLSTATE 57014"
# (not a timing goal: a client that waited for the query would take 60 s)
[ "$el" -lt 30 ] && ok "statement_timeout: given up long before the query ends (${el}s)" || notok "statement_timeout: given up early" "took ${el}s"

# ---------------------------------------------------------------- password_file
printf 'not-the-password\n' >"$T/pw"; chmod 644 "$T/pw"
sed 's|name = "sleepy";|name = "sleepy"; password_file = "pw";|' "$T/t.conf" >"$T/pw.conf"
run "world-readable password_file: the source fails" 3 "$TRAGUARDO" -c "$T/pw.conf" once --dry-run --json
contains "world-readable password_file refused" "$T/err" "is readable by everyone: refused"
lacks "the password is not shown" "$T/err" "not-the-password"

# ---------------------------------------------------------------- the environment
# PGOPTIONS is libpq's default for 'options', which traguardo gives: it is
# kept (search_path here); PGDATESTYLE would outweigh DateStyle=ISO and
# swap day and month: the source refuses to read
psql_do <<'SQL' >"$T/psql.out" 2>&1 || notok "schema kpi created" "$(cat "$T/psql.out")"
CREATE SCHEMA kpi;
CREATE TABLE kpi.valori (code text, d date, v int);
INSERT INTO kpi.valori VALUES ('E-1', '2026-10-03', 42);
CREATE TABLE public.valori (code text, d date, v int);
INSERT INTO public.valori VALUES ('E-1', '2026-10-03', 999);
SQL
cat >"$T/e.conf" <<EOF2
daemon = { state_dir = "estate"; };
sources = ( { name = "env"; type = "postgresql"; conninfo = "$CI";
              query = "SELECT code, d, v FROM valori"; } );
indicators = ( { id = "E-1"; name = "e"; department = "D"; target = 1; } );
EOF2
PGOPTIONS="-c search_path=kpi" run "PGOPTIONS: a run" 0 "$TRAGUARDO" -c "$T/e.conf" once --dry-run --json --now 2026-11-05T10:00
json "PGOPTIONS kept: the value of kpi.valori" "by['E-1']['value'] == 42"
PGDATESTYLE="SQL, MDY" run "PGDATESTYLE: the source fails" 3 "$TRAGUARDO" -c "$T/e.conf" once --dry-run --json --now 2026-11-05T10:00
contains "PGDATESTYLE: says why" "$T/err" "the server's DateStyle is 'SQL, MDY', not ISO"

# ---------------------------------------------------------------- large result, flat memory
big() {  # big ROWS: peak RSS in kB of a once run reading ROWS rows
	cat >"$T/b.conf" <<EOF2
daemon = { state_dir = "bstate"; };
sources = ( { name = "big"; type = "postgresql"; conninfo = "$CI";
              query = "SELECT 'BIG', DATE '2026-01-01' + (i % 300), i::float8 FROM generate_series(1, $1) i"; } );
indicators = ( { id = "BIG"; name = "big"; department = "D"; target = 1; period = "day"; } );
EOF2
	$PY - "$TRAGUARDO" "$T/b.conf" <<'PY'
import resource, subprocess, sys
r = subprocess.run([sys.argv[1], "-c", sys.argv[2], "once", "--dry-run", "--json"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
if ldd "$TRAGUARDO" 2>/dev/null | grep -q asan; then
	echo "ok - 200k rows read with flat memory # SKIP sanitizer build (its quarantine holds freed memory)"
	exit 0
fi
set -- $(big 20000); rc1=$1; small=$2
set -- $(big 200000); rc2=$1; large=$2
if [ "$rc1" -le 2 ] && [ "$rc2" -le 2 ] && [ $((large - small)) -lt 8192 ]; then
	ok "200k rows read with flat memory (peak ${small} kB for 20k rows, ${large} kB for 200k)"
else
	notok "200k rows read with flat memory" "exit $rc1/$rc2, peak ${small} kB for 20k rows, ${large} kB for 200k"
fi
