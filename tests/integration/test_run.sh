#!/bin/sh
# The daemon (`traguardo run`) under a stand-in for systemd: a NOTIFY_SOCKET
# listener (tests/notify_listen.py) records READY=1, STATUS=, WATCHDOG=1,
# RELOADING=1 and STOPPING=1; a real HTTP server (tests/http_server.py)
# provides a feed that hangs.  Checks: readiness, the STATUS= counts, the
# watchdog pings while a source hangs, SIGHUP with a good and a broken
# configuration, `traguardo status` while the daemon runs, and SIGTERM.
# Every wait is bounded; no timing is asserted beyond generous bounds.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/feeds" "$T/hooks" "$T/data"
pids=""
dpid=""
trap 'for p in $dpid $pids; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT INT TERM

# wait_for FILE PATTERN SECONDS: grep -E PATTERN in FILE, polling; 0 when found
wait_for() {
	n=0
	while [ $n -lt $(($3 * 10)) ]; do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1; n=$((n + 1))
	done
	return 1
}
last_status() { grep "	STATUS=" "$T/notify" | tail -n 1 | cut -f2-; }
count() { grep -c -- "	$1\$" "$T/notify" 2>/dev/null | tr -d ' '; }

# ---------------------------------------------------------------- servers
$PY "$TESTS_DIR/http_server.py" --port-file "$T/http.port" --feed-dir "$T/feeds" --hook-dir "$T/hooks" \
	--log "$T/http.log" >"$T/http.stdout" 2>"$T/http.stderr" &
pids="$pids $!"
$PY "$TESTS_DIR/notify_listen.py" "$T/notify.sock" "$T/notify" 2>"$T/notify.stderr" &
pids="$pids $!"
i=0
while { [ ! -s "$T/http.port" ] || [ ! -S "$T/notify.sock" ]; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
P=$(cat "$T/http.port" 2>/dev/null)
[ -n "$P" ] && [ -S "$T/notify.sock" ] || { notok "helpers started" "$(cat "$T/http.stderr" "$T/notify.stderr")"; exit 1; }

printf 'Codice;Mese;Valore\r\nR-OK;01/10/2026;12\r\nR-WARN;01/10/2026;7\r\nR-CRIT;01/10/2026;2\r\n' >"$T/data/rag.csv"
printf 'Codice;Mese;Valore\nH-SLOW;01/10/2026;5\n' >"$T/feeds/slow.csv"

# conf FILE WARN-TARGET [EXTRA]: the daemon's configuration
conf() {
	[ -n "$2" ] || exit 1    # never write a config without state_dir
	cat >"$1" <<EOF2
daemon = { state_dir = "state"; language = "en"; evaluate_every = "1m"; };
sources = (
  { name = "rag"; type = "csv"; path = "data/rag.csv"; every = "10s"; },
  { name = "slow"; type = "http"; url = "http://127.0.0.1:$P/feeds/slow.csv?_delay=20";
    timeout = "30s"; retries = 0; every = "10s"; }
);
indicators = (
  { id = "R-OK"; name = "ok"; department = "D"; target = 10.0; critical = 5.0; source = "rag"; },
  { id = "R-WARN"; name = "warn"; department = "D"; target = $2; critical = 5.0; source = "rag"; },
  { id = "R-CRIT"; name = "crit"; department = "D"; target = 10.0; critical = 5.0; source = "rag"; },
  { id = "H-SLOW"; name = "slow"; department = "D"; target = 1.0; source = "slow"; ${3:-} }
);
EOF2
}
conf "$T/t.conf" 10.0

run "status before any cycle" 1 "$TRAGUARDO" -c "$T/t.conf" status
contains "status before any cycle: says how to get one" "$T/err" "no status yet"

# ---------------------------------------------------------------- start
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=1000000 sh -c \
	'export WATCHDOG_PID=$$; exec "$0" -v -c "$1" run' "$TRAGUARDO" "$T/t.conf" \
	>"$T/daemon.out" 2>"$T/daemon.err" &
dpid=$!

if wait_for "$T/notify" "	READY=1$" 5; then ok "READY=1"; else notok "READY=1" "$(cat "$T/notify")" "$(tail -20 "$T/daemon.err")"; fi
if wait_for "$T/notify" "	STATUS=4 indicators: 1 ok, 1 warning, 1 critical" 5; then
	ok "STATUS= counts after the CSV source ran"
else notok "STATUS= counts after the CSV source ran" "$(grep STATUS "$T/notify" | tail -3)" "$(tail -20 "$T/daemon.err")"; fi
contains "STATUS= says when the last cycle was" "$T/notify" "; last cycle "

# ---------------------------------------------------------------- watchdog while a source hangs
if wait_for "$T/http.log" "slow.csv" 5; then
	before=$(count WATCHDOG=1)
	sleep 4
	after=$(count WATCHDOG=1)
	if [ $((after - before)) -ge 3 ] && grep -q "slow.csv" "$T/http.log" && ! grep -q "source 'slow' read" "$T/daemon.err"; then
		ok "WATCHDOG=1 keeps coming while an HTTP source hangs ($((after - before)) in 4 s)"
	else notok "WATCHDOG=1 keeps coming while an HTTP source hangs" "pings: $before -> $after" "$(tail -5 "$T/daemon.err")"; fi
else notok "the slow HTTP source started" "$(cat "$T/http.log")" "$(tail -20 "$T/daemon.err")"; fi

# ---------------------------------------------------------------- status while running
run "status while the daemon runs" 0 "$TRAGUARDO" -c "$T/t.conf" status
contains "status: a row per indicator" "$T/out" "R-WARN"
contains "status: statuses" "$T/out" "critical"
run "status --json while the daemon runs" 0 "$TRAGUARDO" -c "$T/t.conf" status --json
json "status --json: the once --json objects" \
	"len(d) == 4 and by['R-OK']['status'] == 'ok' and by['R-WARN']['status'] == 'warning' and by['R-CRIT']['value'] == 2 and all(k in by['R-OK'] for k in ('id','name','department','status','period','value','target','forecast','reason'))"

# ---------------------------------------------------------------- SIGHUP: a good config
conf "$T/t.conf" 6.0
ready=$(count READY=1)
kill -HUP "$dpid"
if wait_for "$T/notify" "	RELOADING=1$" 5 && wait_for "$T/notify" "	MONOTONIC_USEC=[0-9]+$" 1; then
	ok "SIGHUP: RELOADING=1 with MONOTONIC_USEC"
else notok "SIGHUP: RELOADING=1 with MONOTONIC_USEC" "$(tail -5 "$T/notify")"; fi
n=0; while [ "$(count READY=1)" -le "$ready" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
[ "$(count READY=1)" -gt "$ready" ] && ok "SIGHUP: READY=1 again" || notok "SIGHUP: READY=1 again" "$(tail -5 "$T/notify")"
# (H-SLOW, the 4th, is ok if its slow read ended before the reload cancelled it)
if wait_for "$T/notify" "	STATUS=4 indicators: [23] ok, 0 warning, 1 critical" 5; then
	ok "SIGHUP: the new target is in force (STATUS=)"
else notok "SIGHUP: the new target is in force (STATUS=)" "$(last_status)" "$(tail -20 "$T/daemon.err")"; fi
run "status --json after the reload" 0 "$TRAGUARDO" -c "$T/t.conf" status --json
json "status.json uses the new target" "by['R-WARN']['status'] == 'ok' and by['R-WARN']['target'] == 6"

# ---------------------------------------------------------------- SIGHUP: a broken config
cp "$T/t.conf" "$T/good.conf"
conf "$T/t.conf" 10.0 'targett = 3;'
kill -HUP "$dpid"
if wait_for "$T/notify" "	STATUS=reload failed: " 5; then ok "bad config: STATUS= says the reload failed"
else notok "bad config: STATUS= says the reload failed" "$(last_status)" "$(tail -20 "$T/daemon.err")"; fi
contains "bad config: STATUS= says the old one keeps running" "$T/notify" "running with the previous configuration"
if grep -qE "t\.conf:1[0-9]: .*targett" "$T/daemon.err"; then ok "bad config: the error logged with file:line"
else notok "bad config: the error logged with file:line" "$(grep -i targett "$T/daemon.err")"; fi
sleep 0.5
kill -0 "$dpid" 2>/dev/null && ok "bad config: the daemon keeps running" || notok "bad config: the daemon keeps running" "$(tail -20 "$T/daemon.err")"
# an @include of a directory: libconfig's scanner would exit the process
mkdir -p "$T/inc.d"
{ cat "$T/good.conf"; printf '@include "inc.d"\n'; } >"$T/t.conf"
kill -HUP "$dpid"
wait_for "$T/daemon.err" "@include of" 10
kill -0 "$dpid" 2>/dev/null && ok "an @include of a directory: the daemon keeps running" ||
	notok "an @include of a directory: the daemon keeps running" "$(tail -20 "$T/daemon.err")"
contains "an @include of a directory: refused with file:line" "$T/daemon.err" "t.conf:$(($(wc -l <"$T/good.conf") + 1)): @include of"
# ha added: the election is made at start, so a reload cannot bring it
{ cat "$T/good.conf"; printf 'ha = { conninfo = "host=/nonexistent dbname=x"; lock = 7; };\n'; } >"$T/t.conf"
kill -HUP "$dpid"
if wait_for "$T/notify" "STATUS=reload failed: 'ha' changed: that needs a restart" 5; then
	ok "ha added by a reload: refused, a restart is needed"
else notok "ha added by a reload: refused, a restart is needed" "$(last_status)" "$(tail -5 "$T/daemon.err")"; fi
cp "$T/good.conf" "$T/t.conf"    # status reads the configuration for state_dir
run "status --json after the failed reload" 0 "$TRAGUARDO" -c "$T/t.conf" status --json
json "the previous configuration is still in force" "by['R-WARN']['status'] == 'ok' and by['R-WARN']['target'] == 6"

# ---------------------------------------------------------------- SIGTERM
kill -TERM "$dpid"
n=0; while kill -0 "$dpid" 2>/dev/null && [ $n -lt 120 ]; do sleep 0.1; n=$((n + 1)); done
if kill -0 "$dpid" 2>/dev/null; then
	notok "SIGTERM: the daemon exits within 12 s" "$(tail -20 "$T/daemon.err")"
	kill -9 "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
else
	wait "$dpid"; rc=$?
	[ "$rc" -eq 0 ] && ok "SIGTERM: exit 0 within 12 s" || notok "SIGTERM: exit 0 within 12 s" "exit $rc" "$(tail -20 "$T/daemon.err")"
fi
dpid=""
contains "SIGTERM: STOPPING=1" "$T/notify" "	STOPPING=1"
[ "$(last_status)" = "STATUS=stopping" ] && ok "SIGTERM: STATUS= stays \"stopping\" to the end" ||
	notok "SIGTERM: STATUS= stays \"stopping\" to the end" "$(last_status)"
if grep -qE 'runtime error|Sanitizer|LeakSanitizer' "$T/daemon.err"; then
	notok "no sanitizer report" "$(grep -A5 -E 'runtime error|Sanitizer' "$T/daemon.err" | head -30)"
else ok "no sanitizer report"; fi
grep -q "R-OK	2026-10-01	12" "$T/state/journal" 2>/dev/null && ok "journal: the values are there" ||
	notok "journal: the values are there" "$(head -5 "$T/state/journal" 2>&1)"
printf 'Codice;Mese;Valore\n' >"$T/data/empty.csv"
# the journal replays cleanly (a dry run reads it and changes nothing)
cat >"$T/j.conf" <<EOF2
daemon = { state_dir = "state"; language = "en"; };
sources = ( { name = "empty"; type = "csv"; path = "data/empty.csv"; } );
indicators = ( { id = "R-OK"; name = "ok"; department = "D"; target = 10.0; } );
EOF2
run "journal: replayed after the stop" 0 "$TRAGUARDO" -c "$T/j.conf" once --dry-run --json
json "journal: the value survived" "by['R-OK']['value'] == 12"
lacks "journal: no damaged record" "$T/err" "damaged"
# what a kill between writing a temporary and renaming it leaves: removed at
# the next start once an hour old; a younger one may be another process's
# write in progress
: >"$T/state/status.json.tmp-Ab12Cd"; touch -d '2 hours ago' "$T/state/status.json.tmp-Ab12Cd"
: >"$T/state/state.json.tmp-Ef34Gh"
run "stale temporaries: once" 0 "$TRAGUARDO" -c "$T/j.conf" once
contains "stale temporaries: removal logged" "$T/err" "1 temporary file of an interrupted write removed"
if [ ! -e "$T/state/status.json.tmp-Ab12Cd" ] && [ -e "$T/state/state.json.tmp-Ef34Gh" ]; then
	ok "stale temporaries: the old one removed, the young one kept"
else notok "stale temporaries: the old one removed, the young one kept" "$(ls -la "$T/state")"; fi
# `status` reads a file that quotes data and servers: nothing raw reaches
# the terminal (C0, DEL, C1 as U+009B), and a file of another version or
# that is not JSON is refused with its name
cp "$T/state/status.json" "$T/status.good"
$PY - "$T/state/status.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["now"] = "2026\u001b]0;PWNED\u0007\u001b[2J\u009b31m"
d["notifications"] = {"outbox": 0, "failed": 0, "alerts_active": 0, "ha": "ha \u001b[5mstandby\u007f", "archive": None}
d["indicators"][0]["reason"] = "x\u009b2Jy"
json.dump(d, open(sys.argv[1], "w"))
PY
run "status of a file with control characters" 0 "$TRAGUARDO" -c "$T/j.conf" status
if LC_ALL=C grep -q "$(printf '\033')\|$(printf '\007')\|$(printf '\177')\|$(printf '\302\233')" "$T/out"; then
	notok "status: no raw control characters" "$(cat -v "$T/out" | head -5)"
else ok "status: no raw control characters"; fi
$PY -c 'import json, sys; d = json.load(open(sys.argv[1])); d["version"] = 99; json.dump(d, open(sys.argv[1], "w"))' "$T/state/status.json"
run "status of a file of another version" 1 "$TRAGUARDO" -c "$T/j.conf" status
contains "status of another version: said so" "$T/err" "not a status file of this version"
printf '{"version": 1, "now": "\033[2J' >"$T/state/status.json"
run "status of a file that is not JSON" 1 "$TRAGUARDO" -c "$T/j.conf" status
if grep -q "$(printf '\033')" "$T/err"; then notok "status of bad JSON: no raw escape" "$(cat -v "$T/err")"
else ok "status of bad JSON: no raw escape"; fi
cp "$T/status.good" "$T/state/status.json"
