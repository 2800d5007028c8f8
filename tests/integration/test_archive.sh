#!/bin/sh
# The PostgreSQL archive and active/standby, end to end: sql/schema.sql
# applied twice; two daemons sharing one database with `ha`: one active
# (archives measurements, evaluations and notifications; sends), one
# standby (sends nothing); the active killed -> the standby takes over and
# says so in STATUS=; the database stopped while values change, then
# started -> every record arrives, once.
. "$(dirname "$0")/lib.sh"

PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
if [ ! -x "$PGBIN/initdb" ] || { [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; }; then
	echo "ok - archive and ha # SKIP no initdb (apt-get install postgresql)"
	exit 0
fi
if ! $PY -c 'import aiosmtpd' 2>/dev/null; then
	echo "ok - archive and ha # SKIP /usr/bin/python3 has no aiosmtpd"
	exit 0
fi
if [ "$(id -u)" = 0 ]; then AS="runuser -u postgres --"; else AS=""; fi
PGD=$(mktemp -d /tmp/tgpg.XXXXXX)
pids=""; dpids=""
trap 'for p in $dpids; do kill -9 "$p" 2>/dev/null; done; for p in $pids; do kill "$p" 2>/dev/null; done;
      wait 2>/dev/null; sh "$TESTS_DIR/pg_cluster.sh" stop "$PGD"; rm -rf "$T"' EXIT INT TERM
if ! CI=$(sh "$TESTS_DIR/pg_cluster.sh" start "$PGD" 2>"$T/cluster.err"); then
	notok "throwaway cluster started" "$(cat "$T/cluster.err" "$PGD/server.log" 2>/dev/null | tail -20)"
	exit 1
fi
ok "throwaway cluster started"
psql_do() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$CI" "$@"; }
q() { "$PGBIN/psql" -X -qAt "$CI" -c "$1" 2>/dev/null; }
# wait_until SECONDS SHELL-CONDITION
wait_until() {
	n=0
	while [ $n -lt $(($1 * 10)) ]; do
		eval "$2" && return 0
		sleep 0.1; n=$((n + 1))
	done
	return 1
}

SQL="$TESTS_DIR/../sql/schema.sql"
if psql_do -f "$SQL" >"$T/s1" 2>&1 && psql_do -f "$SQL" >"$T/s2" 2>&1; then
	ok "sql/schema.sql applied twice"
else
	notok "sql/schema.sql applied twice" "$(cat "$T/s1" "$T/s2")"
fi
[ "$(q 'SELECT version FROM traguardo.schema_version')" = 1 ] && ok "schema_version is 1" \
	|| notok "schema_version is 1" "$(q 'SELECT * FROM traguardo.schema_version')"

mkdir -p "$T/mail" "$T/a" "$T/b"
$PY "$TESTS_DIR/smtp_server.py" --dir "$T/mail" --port-file "$T/smtp.port" >"$T/smtp.log" 2>&1 &
pids="$pids $!"
for who in a b; do
	$PY "$TESTS_DIR/notify_listen.py" "$T/$who/notify.sock" "$T/$who/notify" 2>"$T/$who/notify.err" &
	pids="$pids $!"
done
wait_until 10 '[ -s "$T/smtp.port" ] && [ -S "$T/a/notify.sock" ] && [ -S "$T/b/notify.sock" ]' ||
	{ notok "helpers started"; exit 1; }
SP=$(cat "$T/smtp.port")
printf 'Codice;Mese;Valore\nA-01;01/09/2026;40\nA-01;01/10/2026;47,5\n' >"$T/dati.csv"
for who in a b; do
	cat >"$T/$who/t.conf" <<EOF
daemon = { state_dir = "state"; evaluate_every = "10s"; };
sources = ( { name = "dati"; type = "csv"; path = "../dati.csv"; every = "10s"; } );
indicators = ( { id = "A-01"; name = "Tempo di pagamento"; department = "Ragioneria";
    better = "lower"; target = 30.0; } );
channels = ( { name = "posta"; type = "email"; url = "smtp://127.0.0.1:$SP"; starttls = false;
    from = "traguardo@comune.test"; } );
routes = ( { name = "r"; channels = ["posta"]; to = ["qualita@comune.test"];
    report = { every = "month"; to = ["direzione@comune.test"]; }; } );
archive = { conninfo = "$CI"; };
ha = { conninfo = "$CI"; lock = 4242; };
EOF
done
status_of() { grep "	STATUS=" "$T/$1/notify" 2>/dev/null | tail -n 1; }
# mails: how many alert messages the SMTP server has stored; reports: how
# many monthly reports (to direzione@, each a .json beside its .eml)
mails() { grep -L '"direzione@comune.test"' "$T/mail"/*.json 2>/dev/null | wc -l; }
reports() { grep -l '"direzione@comune.test"' "$T/mail"/*.json 2>/dev/null | wc -l; }
# the reports expected today: 1 from the month's first working day (Italian
# holidays and weekends skipped, as lib/report.c does), 0 before it
R=$($PY - <<'PY'
import datetime
def easter(y):
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    x = h + l - 7 * m + 114
    return datetime.date(y, x // 31, x % 31 + 1)
fixed = {(1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8), (12, 25), (12, 26)}
today = datetime.date.today()
d = today.replace(day=1)
while d.weekday() >= 5 or (d.month, d.day) in fixed or d == easter(d.year) + datetime.timedelta(1):
    d += datetime.timedelta(1)
print(1 if today >= d else 0)
PY
)
# start DIR CONF OUT ERR [NOTIFY_SOCKET]: a daemon run in DIR, its pid in
# $started (killed at the end if still there)
start() {
	(cd "$1" && if [ -n "${5-}" ]; then NOTIFY_SOCKET=$5; export NOTIFY_SOCKET; fi
	 exec "$TRAGUARDO" -c "$2" run) >"$3" 2>"$4" &
	started=$!; dpids="$dpids $started"
}
# stops PID WHAT: SIGTERM, and the daemon exits 0
stops() {
	kill -TERM "$1"; wait "$1"; rc=$?
	[ "$rc" -eq 0 ] && ok "the daemon stops with exit 0 ($2)" ||
		notok "the daemon stops with exit 0 ($2)" "exit $rc"
}
# own_daemon DIR: a daemon's directory with its own copy of the data (the
# indicator off target) and a t.conf like the first daemon's that reads it
own_daemon() {
	mkdir -p "$1"
	printf 'Codice;Mese;Valore\nA-01;01/09/2026;40\nA-01;01/10/2026;47,5\n' >"$1/dati.csv"
	sed -e "s|path = \"../dati.csv\"|path = \"$1/dati.csv\"|" "$T/a/t.conf" >"$1/t.conf"
}

start "$T/a" t.conf "$T/a/out" "$T/a/err" "$T/a/notify.sock"; A=$started
if wait_until 30 'status_of a | grep -q "ha active"'; then ok "first daemon: ha active"
else notok "first daemon: ha active" "$(status_of a)" "$(tail -5 "$T/a/err")"; fi
start "$T/b" t.conf "$T/b/out" "$T/b/err" "$T/b/notify.sock"; B=$started
if wait_until 30 'status_of b | grep -q "ha standby (lock 4242 held by another"'; then ok "second daemon: ha standby"
else notok "second daemon: ha standby" "$(status_of b)" "$(tail -5 "$T/b/err")"; fi

if wait_until 40 '[ "$(q "SELECT count(*) FROM traguardo.notifications WHERE status = '"'delivered'"'")" -ge 1 ]'; then
	ok "archive: the delivered notification recorded"
else
	notok "archive: the delivered notification recorded" "$(q 'SELECT status, channel FROM traguardo.notifications')" "$(tail -5 "$T/a/err")"
fi
[ "$(q "SELECT count(*) FROM traguardo.measurements WHERE indicator = 'A-01'")" = 2 ] &&
	ok "archive: both measurements, once each" ||
	notok "archive: both measurements, once each" "$(q 'SELECT indicator, period, value FROM traguardo.measurements')"
[ "$(q "SELECT count(*) FROM traguardo.evaluations WHERE indicator = 'A-01'")" -ge 1 ] &&
	ok "archive: the evaluation" || notok "archive: the evaluation" "$(q 'SELECT * FROM traguardo.evaluations')"
# none from before the source was read (an empty journal: "unknown")
[ "$(q "SELECT count(*) FROM traguardo.evaluations WHERE status <> 'critical'")" = 0 ] &&
	ok "archive: no evaluation before the first read" ||
	notok "archive: no evaluation before the first read" "$(q 'SELECT indicator, status, evaluated_at FROM traguardo.evaluations')"
wait_until 20 '[ "$(reports)" -ge "$R" ]'
sleep 3
n=$(mails)
[ "$n" -eq 1 ] && ok "one message for the two daemons (the standby sends nothing)" ||
	notok "one message for the two daemons (the standby sends nothing)" "$n messages"
n=$(reports)
[ "$n" -eq "$R" ] && ok "$R report(s) for the two daemons (last month's, never sent, once due)" ||
	notok "$R report(s) for the two daemons (last month's, never sent, once due)" "$n reports"

# the active one dies: the standby takes over within one evaluate_every (+ the poll)
kill -9 "$A"; wait "$A" 2>/dev/null
if wait_until 30 'status_of b | grep -q "ha active"'; then ok "the standby takes over when the active dies"
else notok "the standby takes over when the active dies" "$(status_of b)" "$(tail -5 "$T/b/err")"; fi
contains "and logs it" "$T/b/err" "ha: now active"
sleep 1
run "traguardo status says the role" 0 "$TRAGUARDO" -c "$T/b/t.conf" status
contains "status: ha active" "$T/out" "ha active"
contains "status: archive" "$T/out" "archive connected"
sleep 2
n=$(mails)
[ "$n" -eq 1 ] && ok "taking over repeats nothing (the standby kept the alert state)" ||
	notok "taking over repeats nothing (the standby kept the alert state)" "$n messages"
n=$(reports)
[ "$n" -eq "$R" ] && ok "nor the report (the standby took it as sent)" ||
	notok "nor the report (the standby took it as sent)" "$n reports" "$(tail -5 "$T/b/err")"
# the new leader sends: the indicator comes back on target
printf 'Codice;Mese;Valore\nA-01;01/09/2026;40\nA-01;01/10/2026;47,5\nA-01;01/11/2026;20\n' >"$T/dati.csv"
if wait_until 40 '[ "$(mails)" -eq 2 ]' &&
	grep -q "^X-Traguardo-Event" "$(grep -L '"direzione@comune.test"' "$T/mail"/*.json | tail -n 1 | sed 's/json$/eml/')"; then ok "the new active daemon sends (back on target)"
else notok "the new active daemon sends (back on target)" "$(ls "$T/mail")" "$(tail -5 "$T/b/err")"; fi

stops "$B" ha

# without ha: the database stops, a new value arrives meanwhile, the
# daemon keeps going and the records wait; the database comes back
grep -v '^ha = ' "$T/b/t.conf" >"$T/b/t2.conf"
was=$(grep -c "archive connected" "$T/b/notify")
start "$T/b" t2.conf "$T/b/out2" "$T/b/err2" "$T/b/notify.sock"; B=$started
wait_until 30 '[ "$(grep -c "archive connected" "$T/b/notify")" -gt "$was" ]'
$AS "$PGBIN/pg_ctl" -D "$PGD/data" -m fast -w stop >/dev/null 2>&1
printf 'Codice;Mese;Valore\nA-01;01/09/2026;40\nA-01;01/10/2026;47,5\nA-01;01/11/2026;20\nA-01;01/12/2026;25\n' >"$T/dati.csv"
if wait_until 40 'ls "$T/b/state/archive/"*.jsonl >/dev/null 2>&1'; then ok "database down: records wait in the spool"
else notok "database down: records wait in the spool" "$(ls -R "$T/b/state" | head -30)" "$(tail -5 "$T/b/err2")"; fi
$AS "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 30 start >/dev/null 2>&1
if wait_until 90 '[ "$(q "SELECT count(*) FROM traguardo.measurements WHERE indicator = '"'A-01'"' AND period = '"'2026-12-01'"'")" = 1 ]'; then
	ok "database back: the new measurement arrives"
else
	notok "database back: the new measurement arrives" "$(q 'SELECT indicator, period, value FROM traguardo.measurements')" "$(tail -5 "$T/b/err")"
fi
wait_until 30 '[ -z "$(ls "$T/b/state/archive/"*.jsonl 2>/dev/null)" ]'
[ "$(q "SELECT count(*) FROM traguardo.measurements WHERE indicator = 'A-01'")" = 4 ] &&
	ok "database back: every measurement once" ||
	notok "database back: every measurement once" "$(q 'SELECT indicator, period, value, source, loaded_at, archived_at FROM traguardo.measurements')"
stops "$B" archive

# ha with the database down at the start: the daemon cannot know its role,
# so its alert waits (neither sent nor taken as sent by another daemon) and
# goes out as soon as it holds the lock; the values it read meanwhile (its
# source reads once an hour: the next read is far away) are archived then
# (the source's first read: within 10 s of the start, not 10 % of an hour)
$AS "$PGBIN/pg_ctl" -D "$PGD/data" -m fast -w stop >/dev/null 2>&1
own_daemon "$T/c"
printf 'A-01;01/08/2026;33\n' >>"$T/c/dati.csv"
sed -i -e 's/every = "10s"; } );/every = "1h"; } );/' "$T/c/t.conf"
before=$(mails)
start "$T/c" t.conf "$T/c/out" "$T/c/err"; C=$started
if wait_until 40 'grep -q "\"measurements\": 3" "$T/c/state/status.json" 2>/dev/null && grep -q "no connection" "$T/c/state/status.json"'; then
	ok "database down at the start: cycles run, the role is unknown"
else
	notok "database down at the start: cycles run, the role is unknown" "$(cat "$T/c/state/status.json" 2>/dev/null | head -20)" "$(tail -5 "$T/c/err")"
fi
sleep 1
n=$(mails)
[ "$n" -eq "$before" ] && ok "database down at the start: nobody sends" ||
	notok "database down at the start: nobody sends" "$n messages, $before before"
# the file gone: the read the takeover makes fails and archives nothing, so
# only what the daemon held when it became active can reach the archive
rm -f "$T/c/dati.csv"
$AS "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 30 start >/dev/null 2>&1
if wait_until 60 '[ "$(mails)" -eq $((before + 1)) ]'; then
	ok "database back: the alert that waited goes out (ha active)"
else
	notok "database back: the alert that waited goes out (ha active)" "$(ls "$T/mail")" "$(tail -8 "$T/c/err")"
fi
if wait_until 30 '[ "$(q "SELECT count(*) FROM traguardo.measurements WHERE period = '"'2026-08-01'"'")" = 1 ]'; then
	ok "database back: what was read before the role was known is archived"
else
	notok "database back: what was read before the role was known is archived" "$(q 'SELECT indicator, period, value FROM traguardo.measurements')" "$(tail -8 "$T/c/err")"
fi
stops "$C" "ha, late database"

# a daemon that dies with a message in its outbox (its mail server down)
# comes back as the standby: the other took that alert as sent, so the
# message goes from the daemon that spooled it, whatever its role
own_daemon "$T/d"
own_daemon "$T/e"
sed -e "s|smtp://127.0.0.1:$SP|smtp://127.0.0.1:1|" "$T/d/t.conf" >"$T/d/down.conf"
before=$(mails)
start "$T/d" down.conf "$T/d/out" "$T/d/err"; D=$started
if wait_until 40 'grep -q "not delivered (attempt 1), retried later" "$T/d/err"'; then
	ok "active daemon, mail server down: its alert waits in its outbox"
else
	notok "active daemon, mail server down: its alert waits in its outbox" "$(tail -8 "$T/d/err")"
fi
start "$T/e" t.conf "$T/e/out" "$T/e/err"; E=$started
if wait_until 40 'grep -q "ha standby (lock 4242 held by another" "$T/e/state/status.json" 2>/dev/null && grep -q "A-01" "$T/e/state/state.json" 2>/dev/null'; then
	ok "the other daemon, standby, takes that alert as sent"
else
	notok "the other daemon, standby, takes that alert as sent" "$(cat "$T/e/state/status.json" 2>/dev/null | head -20)" "$(tail -5 "$T/e/err")"
fi
# the first dies; the other, restarted (at once active: no poll to wait
# for), goes on from the alert state it saved
kill -9 "$D"; wait "$D" 2>/dev/null
kill -TERM "$E"; wait "$E"
start "$T/e" t.conf "$T/e/out2" "$T/e/err2"; E=$started
if wait_until 30 'grep -q "ha active" "$T/e/state/status.json"'; then ok "it takes over when the first dies"
else notok "it takes over when the first dies" "$(tail -5 "$T/e/err2")"; fi
sleep 1
n=$(mails)
[ "$n" -eq "$before" ] && ok "and sends nothing (the alert was taken as sent)" ||
	notok "and sends nothing (the alert was taken as sent)" "$n messages, $before before"
# the first comes back (its mail server mended: t.conf) as the standby
start "$T/d" t.conf "$T/d/out2" "$T/d/err2"; D=$started
if wait_until 30 '[ "$(mails)" -eq $((before + 1)) ] && grep -q "delivered" "$T/d/err2"'; then
	ok "back as the standby, it sends the message it had spooled"
else
	notok "back as the standby, it sends the message it had spooled" "$(ls "$T/mail")" "$(tail -8 "$T/d/err2")"
fi
if wait_until 30 'grep -q "ha standby (lock 4242 held by another" "$T/d/state/status.json"'; then ok "(and it is the standby)"
else notok "(and it is the standby)" "$(cat "$T/d/state/status.json" 2>/dev/null | head -20)"; fi
sleep 1
n=$(mails)
[ "$n" -eq $((before + 1)) ] && ok "once" || notok "once" "$n messages, $before before"
for p in "$D" "$E"; do stops "$p" "ha, outbox"; done
