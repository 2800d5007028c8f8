#!/bin/sh
# Fault: PostgreSQL stopped (immediate shutdown, like a crash) while the
# daemon's query is running, then started again.  Must hold: the source
# fails with a clear error and its indicator shows `error`, the other source
# and the daemon keep running, and on its next schedule the source recovers;
# the journal then holds every value exactly once — the values read before
# the crash not doubled, a row added while the server was down caught up.
# Uses a throwaway cluster (tests/pg_cluster.sh); about 15 s (every = 10s).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/helpers.sh"

PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
if [ ! -x "$PGBIN/initdb" ] || { [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; }; then
	echo "ok - postgresql restart # SKIP no initdb (apt-get install postgresql)"
	exit 0
fi
if [ "$(id -u)" = 0 ]; then AS="runuser -u postgres --"; else AS=""; fi
PGD=$(mktemp -d /tmp/tgpgf.XXXXXX)
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null
      sh "$TESTS_DIR/pg_cluster.sh" stop "$PGD"; rm -rf "$T"' EXIT INT TERM
if ! CI=$(sh "$TESTS_DIR/pg_cluster.sh" start "$PGD" 2>"$T/cluster.err"); then
	notok "throwaway cluster started" "$(cat "$T/cluster.err" "$PGD/initdb.log" "$PGD/server.log" 2>/dev/null | tail -20)"
	exit 1
fi
psql_do() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$CI" "$@"; }
pg_up() { $AS "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 30 start >/dev/null; }
pg_down() { $AS "$PGBIN/pg_ctl" -D "$PGD/data" -m immediate -w stop >/dev/null; }
psql_do -c "CREATE TABLE kpi (code text, d date, v numeric);
            INSERT INTO kpi VALUES ('P-01', '2026-08-01', 91), ('P-01', '2026-09-01', 92);" >"$T/psql.out" 2>&1 ||
	{ notok "test table created" "$(cat "$T/psql.out")"; exit 1; }

printf 'Codice;Mese;Valore\r\nC-01;01/10/2026;95\r\n' >"$T/c.csv"
cat >"$T/p.conf" <<EOF
daemon = { state_dir = "state"; language = "en"; evaluate_every = "1h"; };
sources = ( { name = "csv"; type = "csv"; path = "c.csv"; every = "10s"; },
            { name = "pg"; type = "postgresql"; conninfo = "$CI"; every = "10s"; timeout = "20s";
              since = "2000d";   # the rows of 2026 stay in for years
              query = "SELECT code, d, v FROM kpi, pg_sleep(1.5) WHERE d >= \$1::date"; } );
indicators = ( { id = "P-01"; name = "pg"; department = "D"; target = 90.0; source = "pg"; },
               { id = "C-01"; name = "csv"; department = "D"; target = 90.0; source = "csv"; } );
EOF
# values in the journal before the daemon starts
run "a first cycle reads the database" 0 "$TRAGUARDO" -c "$T/p.conf" once --json
json "first cycle: the value from PostgreSQL" "by['P-01']['value'] == 92"

$PY "$TESTS_DIR/notify_listen.py" "$T/notify.sock" "$T/notify" 2>"$T/notify.stderr" &
pids="$pids $!"
i=0; while [ ! -S "$T/notify.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
NOTIFY_SOCKET="$T/notify.sock" "$TRAGUARDO" -v -c "$T/p.conf" run >"$T/d.out" 2>"$T/d.err" &
dpid=$!; pids="$pids $dpid"
# the first run of the pg source starts within 1 s (10 % of every); wait
# until its query is on the server, then crash the server
i=0
while [ $i -lt 50 ]; do
	n=$(psql_do -At -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(1.5)%' AND pid <> pg_backend_pid()" 2>/dev/null)
	[ "${n:-0}" -gt 0 ] && break
	sleep 0.1; i=$((i + 1))
done
[ "${n:-0}" -gt 0 ] && ok "the daemon's query is running on the server" || notok "the daemon's query is running on the server" "$(tail -5 "$T/d.err")"
pg_down
i=0; while ! grep -q "source 'pg' failed" "$T/d.err" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
contains "server stopped mid-query: the source failure is logged" "$T/d.err" "source 'pg' failed"
sleep 0.3
kill -0 "$dpid" 2>/dev/null && ok "server stopped: the daemon keeps running" || notok "server stopped: the daemon keeps running" "$(tail -20 "$T/d.err")"
run "status while the server is down" 0 "$TRAGUARDO" -c "$T/p.conf" status --json
json "server down: its indicator in error, the other source fine" "by['P-01']['status'] == 'error' and by['C-01']['status'] == 'ok'"
pg_up
psql_do -c "INSERT INTO kpi VALUES ('P-01', '2026-10-01', 93);" >"$T/psql.out" 2>&1 || notok "row added" "$(cat "$T/psql.out")"
# the next schedule, 10 s after the failed run (or the one after, on a slow
# machine where the server was not back in time): the new row in the journal
i=0; while ! grep -q "	P-01	2026-10-01	93" "$T/state/journal" 2>/dev/null && [ $i -lt 350 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
contains "server back: the source recovers on its next schedule" "$T/d.err" "source 'pg' read"
run "status after the recovery" 0 "$TRAGUARDO" -c "$T/p.conf" status --json
json "server back: the new value, status ok" "by['P-01']['status'] == 'ok' and by['P-01']['value'] == 93"
kill -TERM "$dpid"; wait "$dpid"; drc=$?
[ "$drc" -eq 0 ] && ok "daemon: exit 0 on SIGTERM" || notok "daemon: exit 0 on SIGTERM" "exit $drc" "$(tail -20 "$T/d.err")"
if grep -qE 'Sanitizer|runtime error:' "$T/d.err"; then notok "daemon: no sanitizer report" "$(grep -A10 -E 'Sanitizer|runtime error:' "$T/d.err" | head -30)"
else ok "daemon: no sanitizer report"; fi
check "journal: every PostgreSQL value exactly once (none missing, none doubled)" <<'PY'
rows = collections.Counter()
for line in open(os.path.join(T, "state", "journal"), encoding="utf-8"):
    f = line.rstrip("\n").split("\t")
    if len(f) >= 4 and f[1] == "P-01":
        rows[(f[2], f[3])] += 1
assert rows == {("2026-08-01", "91"): 1, ("2026-09-01", "92"): 1, ("2026-10-01", "93"): 1}, rows
PY

exit 0
