#!/bin/sh
# Fault: damaged files in the state directory — state.json (garbage,
# truncated, empty), the journal (a flipped value in the middle, a torn last
# line), outbox files (garbage, truncated, wrong types) and status.json.
# Must hold: each damage is detected and logged, the file is moved aside
# (state.json.corrupt-*, journal.corrupt-*, outbox/failed/ID.json.corrupt),
# the cycle goes on, what was not damaged is kept and delivered; and the
# daemon starts and keeps running over all of them at once.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/helpers.sh"

have_aiosmtpd || { echo "ok - corrupt state # SKIP /usr/bin/python3 has no aiosmtpd (apt-get install python3-aiosmtpd)"; exit 0; }

smtp mail; SP=$port
DOWN=$(free_port)
printf 'Codice;Mese;Valore\r\nA-01;01/09/2026;40\r\nA-01;01/10/2026;50\r\n' >"$T/a.csv"
printf 'Codice;Mese;Valore\r\nB-01;01/10/2026;60\r\nC-01;01/10/2026;70\r\n' >"$T/b.csv"
cconf() {   # cconf FILE SMTP-PORT
	cat >"$1" <<EOF
daemon = { state_dir = "state"; language = "en"; };
sources = ( { name = "a"; type = "csv"; path = "a.csv"; every = "1h"; },
            { name = "b"; type = "csv"; path = "b.csv"; every = "1h"; } );
indicators = (
  { id = "A-01"; name = "First"; department = "A"; owner = "a@comune.test"; target = 90.0; source = "a"; },
  { id = "B-01"; name = "Second"; department = "B"; owner = "b@comune.test"; target = 90.0; source = "b"; },
  { id = "C-01"; name = "Third"; department = "C"; owner = "c@comune.test"; target = 90.0; source = "b"; }
);
channels = ( { name = "posta"; type = "email"; url = "smtp://127.0.0.1:$2"; starttls = false;
    from = "traguardo@comune.test"; timeout = "5s"; } );
routes = ( { name = "owners"; channels = ["posta"]; to = ["@owner"]; } );
EOF
}
cconf "$T/c.conf" "$SP"
cconf "$T/down.conf" "$DOWN"
S="$T/state"
nmail() { ls "$T/mail"/*.json 2>/dev/null | wc -l | tr -d ' '; }   # .json: the server's last write

run "first cycle" 0 "$TRAGUARDO" -c "$T/c.conf" once --now 2026-11-10T09:00
[ "$(nmail)" = 3 ] && ok "first cycle: 3 messages" || notok "first cycle: 3 messages" "$(nmail) delivered" "$(cat "$T/err")"

# ---------------------------------------------------------------- state.json
# corrupt_state NAME HOW NOW: damages state.json (HOW is a shell command on
# $S/state.json), runs a cycle; the alerts start again: the 3 problems are
# notified again, state.json is rewritten and valid
corrupt_state() {
	rm -f "$S"/state.json.corrupt-*
	before=$(nmail)
	sh -c "$2" x "$S/state.json"
	run "state.json $1: the cycle runs" 0 "$TRAGUARDO" -c "$T/c.conf" once --now "$3"
	sane "state.json $1"
	if grep -q "moved aside to $S/state.json.corrupt-" "$T/err"; then ok "state.json $1: logged, with where it went"
	else notok "state.json $1: logged, with where it went" "$(cat "$T/err")"; fi
	check "state.json $1: kept aside, a new valid state.json, problems notified again" <<PY
aside = glob.glob(os.path.join(T, "state", "state.json.corrupt-*"))
assert len(aside) == 1, aside
json.load(open(os.path.join(T, "state", "state.json")))
ms = mails("mail")[$before:]
assert sorted(to(m)[0] for m, _, _ in ms) == ["a@comune.test", "b@comune.test", "c@comune.test"], [to(m) for m, _, _ in ms]
PY
}
corrupt_state "garbage" 'printf "\\000\\377 not json {{{" >"$1"' 2026-11-10T10:00
corrupt_state "truncated" 'head -c $(($(wc -c <"$1") / 2)) "$1" >"$1.t" && mv "$1.t" "$1"' 2026-11-10T11:00
corrupt_state "empty" ': >"$1"' 2026-11-10T12:00
corrupt_state "wrong types" 'sed "s/\"seq\": 1/\"seq\": \"uno\"/" "$1" >"$1.t" && mv "$1.t" "$1"' 2026-11-10T13:00

# ---------------------------------------------------------------- journal
# a.csv loses its rows: A-01's values now live only in the journal
printf 'Codice;Mese;Valore\r\n' >"$T/a.csv"
run "journal: values kept when the file loses its rows" 0 "$TRAGUARDO" -c "$T/c.conf" once --json --now 2026-11-10T14:00
json "journal: A-01 from the journal alone" "by['A-01']['value'] == 50"
# flip a value in the middle (its CRC no longer matches): B-01's line
cp "$S/journal" "$T/journal.orig"
if grep -q "	B-01	2026-10-01	60	" "$S/journal"; then
	sed 's/\(	B-01	2026-10-01	\)60	/\166	/' "$T/journal.orig" >"$S/journal"
	run "journal with a damaged line in the middle" 0 "$TRAGUARDO" -c "$T/c.conf" once --json --now 2026-11-10T15:00
	sane "journal damaged"
	contains "journal damaged: logged" "$T/err" "journal.corrupt-"
	check "journal damaged: the original kept as journal.corrupt-*, byte for byte" <<'PY'
aside = glob.glob(os.path.join(T, "state", "journal.corrupt-*"))
assert len(aside) == 1, aside
assert b"\tB-01\t2026-10-01\t66\t" in open(aside[0], "rb").read()
PY
	json "journal damaged: the other lines kept (A-01 from the journal), the damaged one re-read from its source" \
		"by['A-01']['value'] == 50 and by['B-01']['value'] == 60 and by['C-01']['value'] == 70"
else
	notok "journal: B-01's line found" "$(cat "$S/journal")"
fi
# a torn last line (a crash in the middle of an append): dropped quietly
rm -f "$S"/journal.corrupt-*
sz=$(wc -c <"$S/journal")
printf 'M1 0badc0de\tC-01\t2026-10-01\t7' >>"$S/journal"
run "journal with a torn last line" 0 "$TRAGUARDO" -c "$T/c.conf" once --json --now 2026-11-10T16:00
sane "journal torn"
json "journal torn: every complete line kept" "by['A-01']['value'] == 50 and by['C-01']['value'] == 70"
check "journal torn: no corrupt copy for a torn tail" <<'PY'
assert glob.glob(os.path.join(T, "state", "journal.corrupt-*")) == []
PY

# ---------------------------------------------------------------- outbox
# the server is down: 3 messages (a new problem each) wait in outbox/new
rm -rf "$S"
printf 'Codice;Mese;Valore\r\nA-01;01/10/2026;50\r\n' >"$T/a.csv"
run "outbox: messages waiting (server down)" 4 "$TRAGUARDO" -c "$T/down.conf" once --now 2026-11-11T09:00
set -- $(ls "$S/outbox/new")
if [ $# -eq 3 ]; then
	ok "outbox: 3 messages waiting"
	printf '{"version":1,"id":' >"$S/outbox/new/$1"                                   # truncated
	printf '\000\001\002 garbage' >"$S/outbox/new/$2"                                  # not JSON
	good=${3%.json}
	before=$(nmail)
	"$TRAGUARDO" -c "$T/c.conf" once --now 2026-11-11T09:10 >"$T/out" 2>"$T/err"; got=$?
	# 0 or 4 (failed/ is not empty): both are fair
	case $got in 0|4) ok "outbox with damaged files: the cycle runs: exit $got";;
	*) notok "outbox with damaged files: the cycle runs: exit $got" "$(cat "$T/err")";; esac
	sane "outbox damaged"
	contains "outbox damaged: logged with the file's name" "$T/err" "${1%.json}"
	contains "outbox damaged: the other one logged too" "$T/err" "${2%.json}"
	check "outbox damaged: both moved to failed/ as .corrupt, the good one delivered" <<PY
assert ls("state/outbox/new") == [], ls("state/outbox/new")
assert sorted(ls("state/outbox/failed")) == sorted(["$1.corrupt", "$2.corrupt"]), ls("state/outbox/failed")
ms = mails("mail")[$before:]
assert [m["X-Traguardo-Event"] for m, _, _ in ms] == ["$good"], [m["X-Traguardo-Event"] for m, _, _ in ms]
PY
	run "traguardo status" 0 "$TRAGUARDO" -c "$T/c.conf" status
	contains "traguardo status counts them in failed" "$T/out" "2 failed"
else
	notok "outbox: 3 messages waiting" "$(ls "$S/outbox/new")" "$(cat "$T/err")"
fi

# ---------------------------------------------------------------- status.json
printf '{"indicators": [1, 2' >"$S/status.json"
run "status with a damaged status.json: a clear error" 1 "$TRAGUARDO" -c "$T/c.conf" status
sane "status damaged"
contains "status damaged: names the file" "$T/err" "status.json"
run "the next cycle rewrites status.json" 0 "$TRAGUARDO" -c "$T/c.conf" once --now 2026-11-11T10:00
run "status works again" 0 "$TRAGUARDO" -c "$T/c.conf" status

# ---------------------------------------------------------------- the daemon, over all of them at once
rm -rf "$S"
run "daemon set-up: messages waiting" 4 "$TRAGUARDO" -c "$T/down.conf" once --now 2026-11-12T09:00
set -- $(ls "$S/outbox/new")
printf '[]' >"$S/outbox/new/$1"
good2=${2%.json}; good3=${3%.json}
printf 'garbage\n' >"$S/state.json"
sed 's/\(	A-01	2026-10-01	\)50	/\155	/' "$S/journal" >"$S/journal.t" && mv "$S/journal.t" "$S/journal"
$PY "$TESTS_DIR/notify_listen.py" "$T/notify.sock" "$T/notify" 2>"$T/notify.stderr" &
pids="$pids $!"
i=0; while [ ! -S "$T/notify.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
before=$(nmail)
NOTIFY_SOCKET="$T/notify.sock" "$TRAGUARDO" -c "$T/c.conf" run >"$T/d.out" 2>"$T/d.err" &
dpid=$!; pids="$pids $dpid"
i=0; while ! grep -q "	READY=1" "$T/notify" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
i=0; while [ "$(nmail)" -lt $((before + 2)) ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
if kill -0 "$dpid" 2>/dev/null && grep -q "	READY=1" "$T/notify"; then ok "daemon: READY=1 and running over a damaged state.json, journal and outbox file"
else notok "daemon: READY=1 and running over a damaged state.json, journal and outbox file" "$(cat "$T/d.err")"; fi
check "daemon: each damage moved aside, the good messages delivered" <<PY
assert len(glob.glob(os.path.join(T, "state", "state.json.corrupt-*"))) == 1, ls("state")
assert len(glob.glob(os.path.join(T, "state", "journal.corrupt-*"))) == 1, ls("state")
assert ls("state/outbox/failed") == ["$1.corrupt"], ls("state/outbox/failed")
ev = [m["X-Traguardo-Event"] for m, _, _ in mails("mail")[$before:]]
assert "$good2" in ev and "$good3" in ev, ev
PY
for w in "state.json.corrupt-" "journal.corrupt-" "${1%.json}"; do
	contains "daemon: logged ($w)" "$T/d.err" "$w"
done
kill -TERM "$dpid"; wait "$dpid"; drc=$?
[ "$drc" -eq 0 ] && ok "daemon: exit 0 on SIGTERM" || notok "daemon: exit 0 on SIGTERM" "exit $drc" "$(tail -20 "$T/d.err")"
if grep -qE 'Sanitizer|runtime error:' "$T/d.err"; then notok "daemon: no sanitizer report" "$(grep -A10 -E 'Sanitizer|runtime error:' "$T/d.err" | head -30)"
else ok "daemon: no sanitizer report"; fi

exit 0
