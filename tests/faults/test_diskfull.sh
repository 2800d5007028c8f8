#!/bin/sh
# Fault: the state directory is full, or read-only.  As root, the state
# directory is a small tmpfs (filled up with a filler file, then remounted
# read-only); as another user, outbox/new/ is made read-only (chmod 0555)
# instead; as root where mounting is not allowed, skipped (root ignores
# permissions).  Must hold: the errors are logged (ENOSPC / EROFS named), no
# crash, nothing is half-written (outbox/tmp/ empty), nothing is sent that
# was not spooled; when space returns, the messages come again with the same
# ids (those of a dry run of the same cycle) and are delivered once.  The
# daemon, with its disk full at a reload, keeps running and delivers after;
# values its journal could not take are written when it stops (tmpfs).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/helpers.sh"

have_aiosmtpd || { echo "ok - disk full # SKIP /usr/bin/python3 has no aiosmtpd (apt-get install python3-aiosmtpd)"; exit 0; }

S="$T/state"
mkdir -p "$S"
mode=""
if [ "$(id -u)" = 0 ]; then
	if mount -t tmpfs -o size=512k,mode=0750 tgfaults "$S" 2>"$T/mount.err"; then
		mounts="$S"; mode=tmpfs
	else
		echo "ok - disk full # SKIP root, but mount -t tmpfs is not allowed here ($(head -c 200 "$T/mount.err")); chmod would not stop root"
		exit 0
	fi
else
	mode=chmod
fi

smtp mail; SP=$port
data() {   # data VALUE: the October values of the three indicators
	printf 'Codice;Mese;Valore\r\nA-01;01/10/2026;%s\r\nB-01;01/10/2026;%s\r\nC-01;01/10/2026;%s\r\n' "$1" "$1" "$1" >"$T/dati.csv"
}
fconf() {   # fconf FILE TARGET
	cat >"$1" <<EOF
daemon = { state_dir = "state"; evaluate_every = "1h"; };
sources = ( { name = "dati"; type = "csv"; path = "dati.csv"; every = "10s"; } );
indicators = (
  { id = "A-01"; name = "Primo"; department = "A"; owner = "a@comune.test"; target = $2; },
  { id = "B-01"; name = "Secondo"; department = "B"; owner = "b@comune.test"; target = $2; },
  { id = "C-01"; name = "Terzo"; department = "C"; owner = "c@comune.test"; target = $2; }
);
channels = ( { name = "posta"; type = "email"; url = "smtp://127.0.0.1:$SP"; starttls = false;
    from = "traguardo@comune.test"; timeout = "5s"; } );
routes = ( { name = "owners"; channels = ["posta"]; to = ["@owner"]; } );
EOF
}
fconf "$T/f.conf" 90.0
nmail() { ls "$T/mail"/*.json 2>/dev/null | wc -l | tr -d ' '; }   # .json: the server's last write
# fill: takes the space left (tmpfs) or write access to outbox/new (chmod)
fill() {
	if [ $mode = tmpfs ]; then dd if=/dev/zero of="$S/filler" bs=4k >/dev/null 2>&1; true
	else chmod 0555 "$S/outbox/new"; fi
}
unfill() { if [ $mode = tmpfs ]; then rm -f "$S/filler"; else chmod 0750 "$S/outbox/new"; fi; }
[ $mode = tmpfs ] && WHY="No space left on device" || WHY="Permission denied"

# ---------------------------------------------------------------- once
data 95
run "all on target" 0 "$TRAGUARDO" -c "$T/f.conf" once --now 2026-11-10T09:00
data 50
run "dry run of the next cycle" 0 "$TRAGUARDO" -c "$T/f.conf" once --dry-run --now 2026-11-10T10:00
grep -h '^Id: ' "$S"/preview/*.txt 2>/dev/null | sed 's/^Id: //' | sort >"$T/want.ids"
[ "$(wc -l <"$T/want.ids")" -eq 3 ] && ok "dry run: 3 messages would go" || notok "dry run: 3 messages would go" "$(cat "$T/want.ids")" "$(cat "$T/err")"
rm -rf "$S/preview"
fill
"$TRAGUARDO" -c "$T/f.conf" once --now 2026-11-10T10:00 >"$T/out" 2>"$T/err"; got=$?
[ "$got" -ne 0 ] && ok "$mode: the cycle says it failed (exit $got)" || notok "$mode: the cycle says it failed (exit 0)" "$(cat "$T/err")"
sane "$mode"
contains "$mode: the error is logged" "$T/err" "$WHY"
check "$mode: nothing sent, nothing spooled, nothing half-written" <<'PY'
assert mails("mail") == [], len(mails("mail"))
assert ls("state/outbox/new") == [] and ls("state/outbox/tmp") == [], (ls("state/outbox/new"), ls("state/outbox/tmp"))
PY
unfill
run "space back: the same cycle again" 0 "$TRAGUARDO" -c "$T/f.conf" once --now 2026-11-10T10:00
check "space back: the messages delivered once, with the ids of the dry run" <<'PY'
want = open(os.path.join(T, "want.ids")).read().split()
ev = events("mail")
assert sorted(ev) == want and set(ev.values()) == {1}, (ev, want)
assert ls("state/outbox/new") == []
PY

if [ $mode = tmpfs ]; then
	mount -o remount,ro "$S"
	run "read-only: a clear error" 1 "$TRAGUARDO" -c "$T/f.conf" once --now 2026-11-10T11:00
	sane "read-only"
	contains "read-only: says so" "$T/err" "Read-only file system"
	mount -o remount,rw "$S"
	run "read-write again: the cycle runs" 0 "$TRAGUARDO" -c "$T/f.conf" once --now 2026-11-10T11:00
fi

# ---------------------------------------------------------------- the daemon
rm -rf "$S"/* "$T/mail"/*
data 95
$PY "$TESTS_DIR/notify_listen.py" "$T/notify.sock" "$T/notify" 2>"$T/notify.stderr" &
pids="$pids $!"
i=0; while [ ! -S "$T/notify.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
NOTIFY_SOCKET="$T/notify.sock" "$TRAGUARDO" -c "$T/f.conf" run >"$T/d.out" 2>"$T/d.err" &
dpid=$!; pids="$pids $dpid"
nready() { grep -c "	READY=1" "$T/notify" 2>/dev/null | tr -d ' '; }
# hup: SIGHUP, then wait for the next READY=1
hup() {
	_r=$(nready); kill -HUP "$dpid"
	_i=0; while [ "$(nready)" -le "$_r" ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
}
i=0; while ! grep -q "STATUS=3 indicators: 3 ok" "$T/notify" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
grep -q "STATUS=3 indicators: 3 ok" "$T/notify" && ok "daemon: started, source read" || notok "daemon: started, source read" "$(cat "$T/notify")" "$(cat "$T/d.err")"
fill
fconf "$T/f.conf" 99.0       # every indicator now misses its target: 3 messages due
hup
sleep 0.3
kill -0 "$dpid" 2>/dev/null && ok "daemon $mode: still running after a cycle that could not spool" || notok "daemon $mode: still running" "$(tail -20 "$T/d.err")"
contains "daemon $mode: the error is logged" "$T/d.err" "$WHY"
[ "$(nmail)" = 0 ] && ok "daemon $mode: nothing sent" || notok "daemon $mode: nothing sent" "$(nmail) messages"
unfill
hup
i=0; while [ "$(nmail)" -lt 3 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
check "daemon: space back, the next cycle delivers the 3 messages once" <<'PY'
ev = events("mail")
assert len(ev) == 3 and set(ev.values()) == {1}, ev
assert sorted(to(m)[0] for m, _, _ in mails("mail")) == ["a@comune.test", "b@comune.test", "c@comune.test"]
PY
if [ $mode = tmpfs ]; then
	# the journal cannot be written (40 years of months: it needs new
	# pages), the space comes back, SIGTERM before the next run: the
	# values waiting are written at the stop (the disk full before the
	# file is in place: no read may journal it first)
	printf 'Codice;Mese;Valore\r\n' >"$T/dati.new"
	for y in $(seq 1986 2025); do
		for m in 01 02 03 04 05 06 07 08 09 10 11 12; do
			printf 'A-01;01/%s/%s;95\r\nB-01;01/%s/%s;95\r\nC-01;01/%s/%s;95\r\n' $m $y $m $y $m $y
		done
	done >>"$T/dati.new"
	fill
	mv "$T/dati.new" "$T/dati.csv"
	i=0; while ! grep -q "journal: .*$WHY" "$T/d.err" && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
	contains "daemon: the journal cannot be written" "$T/d.err" "journal: "
	unfill
fi
kill -TERM "$dpid"; wait "$dpid"; drc=$?
[ "$drc" -eq 0 ] && ok "daemon: exit 0 on SIGTERM" || notok "daemon: exit 0 on SIGTERM" "exit $drc" "$(tail -20 "$T/d.err")"
if [ $mode = tmpfs ]; then
	n=$(grep -c "	A-01	1986-" "$S/journal")
	[ "$n" -eq 12 ] && ok "daemon: at the stop the journal has the values it could not write before" ||
		notok "daemon: at the stop the journal has the values it could not write before" "$n lines of 1986" "$(tail -5 "$T/d.err")"
fi
if grep -qE 'Sanitizer|runtime error:' "$T/d.err"; then notok "daemon: no sanitizer report" "$(grep -A10 -E 'Sanitizer|runtime error:' "$T/d.err" | head -30)"
else ok "daemon: no sanitizer report"; fi

exit 0
