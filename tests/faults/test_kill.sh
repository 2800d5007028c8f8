#!/bin/sh
# Fault: `traguardo once` killed with SIGKILL in the middle of a cycle.
#
# 1. At 20 moments spread over 0-300 ms (plus random jitter, printed on a
#    failure), against an SMTP server made slow by tests/faults/slow_proxy.py
#    (every reply 20 ms late), so that kills land while messages are being
#    read, spooled, sent, or acknowledged.  Then a normal run of the same
#    cycle.  Must hold: every message of the cycle delivered (the ids of a
#    reference run, none missing), no other id, at most one id twice (the
#    one in flight: accepted by the server, not yet removed from the outbox).
# 2. At every durable step, exactly: with strace's fault injection, SIGKILL
#    on entry to the Nth fsync() of the cycle, for every N; then the restart
#    a few minutes later (as the daemon or the next cron job would).  Must
#    hold: each recipient gets the message (none lost) and at most one is
#    repeated, with the same event id.  Skipped without strace.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/helpers.sh"

have_aiosmtpd || { echo "ok - kill # SKIP /usr/bin/python3 has no aiosmtpd (apt-get install python3-aiosmtpd)"; exit 0; }

smtp mail; SP=$port
$PY "$FAULTS_DIR/slow_proxy.py" --to "$SP" --delay 0.02 --port-file "$T/proxy.port" >"$T/proxy.log" 2>&1 &
pids="$pids $!"
PP=$(wait_port "$T/proxy.port")
[ -n "$PP" ] || { notok "slow proxy started" "$(cat "$T/proxy.log")"; exit 1; }

printf 'Codice;Mese;Valore\r\n' >"$T/dati.csv"
inds=""
for x in A B C D E; do
	printf '%s-01;01/10/2026;50\r\n' "$x" >>"$T/dati.csv"
	[ -n "$inds" ] && inds="$inds,"
	inds="$inds{ id = \"$x-01\"; name = \"Indicatore $x\"; department = \"Ufficio $x\"; owner = \"$x@comune.test\"; target = 90.0; }
"
done
kconf() {   # kconf FILE PORT
	cat >"$1" <<EOF
daemon = { state_dir = "state"; };
sources = ( { name = "dati"; type = "csv"; path = "dati.csv"; } );
indicators = (
$inds);
channels = ( { name = "posta"; type = "email"; url = "smtp://127.0.0.1:$2"; starttls = false;
    from = "traguardo@comune.test"; timeout = "10s"; } );
routes = ( { name = "owners"; channels = ["posta"]; to = ["@owner"]; } );
EOF
}
kconf "$T/slow.conf" "$PP"
kconf "$T/fast.conf" "$SP"
NOW=2026-11-10T09:00

# collect DIR: moves what the server stored so far into $T/DIR
collect() { mkdir -p "$T/$1"; for f in "$T/mail"/*; do [ -e "$f" ] && mv "$f" "$T/$1/"; done; true; }

# ---------------------------------------------------------------- reference
run "reference cycle through the slow server" 0 "$TRAGUARDO" -c "$T/slow.conf" once --now $NOW
collect ref
check "reference: 5 messages, 5 ids" <<'PY'
ev = events("ref")
assert len(ev) == 5 and set(ev.values()) == {1}, ev
PY

# ---------------------------------------------------------------- random kills
crashes=0; stray=""
i=0
while [ $i -lt 20 ]; do
	ms=$((i * 15 + $(od -An -N1 -tu1 /dev/urandom | tr -d ' ') % 15))
	echo "$ms" >"$T/delay.$i"
	rm -rf "$T/state"
	"$TRAGUARDO" -c "$T/slow.conf" once --now $NOW >"$T/k.out" 2>"$T/k.err" &
	kp=$!
	sleep "$(printf '0.%03d' "$ms")"
	kill -9 "$kp" 2>/dev/null
	{ wait "$kp"; } 2>/dev/null; krc=$?
	[ "$krc" -eq 137 ] && crashes=$((crashes + 1))
	grep -qE 'Sanitizer|runtime error:' "$T/k.err" && stray="$stray $i"
	"$TRAGUARDO" -c "$T/fast.conf" once --now $NOW >"$T/f.out" 2>"$T/f.err"; frc=$?
	echo "$krc $frc" >"$T/rc.$i"
	cp "$T/f.err" "$T/final.err.$i"
	collect "k$i"
	i=$((i + 1))
done
if [ "$crashes" -ge 10 ]; then ok "random kills: $crashes of 20 runs killed mid-cycle"
else notok "random kills: $crashes of 20 runs killed mid-cycle (expected most)" "the cycle ends too soon for the delays"; fi
[ -z "$stray" ] && ok "random kills: no sanitizer report" || notok "random kills: no sanitizer report" "runs:$stray"
check "random kills: after the final run every message delivered, no other, at most the one in flight twice" <<'PY'
want = set(events("ref"))
bad = []
for i in range(20):
    ev = events("k%d" % i)
    delay = open(os.path.join(T, "delay.%d" % i)).read().strip()
    krc, frc = open(os.path.join(T, "rc.%d" % i)).read().split()
    why = []
    if frc != "0": why.append("final run exit %s: %s" % (frc, open(os.path.join(T, "final.err.%d" % i)).read()[-400:]))
    if set(ev) - want: why.append("ids not in the reference: %s" % sorted(set(ev) - want))
    if want - set(ev): why.append("lost: %s" % sorted(want - set(ev)))
    twice = [k for k, n in ev.items() if n > 1]
    if len(twice) > 1 or any(ev[k] > 2 for k in twice): why.append("repeated: %s" % {k: ev[k] for k in twice})
    if why: bad.append("kill after %s ms (exit %s): %s" % (delay, krc, "; ".join(why)))
assert not bad, "\n".join(bad)
PY

# ---------------------------------------------------------------- every durable step
if ! command -v strace >/dev/null 2>&1 || ! strace -f -o /dev/null true 2>/dev/null; then
	echo "ok - kill at every fsync # SKIP no usable strace (apt-get install strace; ptrace allowed)"
	exit 0
fi
rm -rf "$T/state"
strace -f -o "$T/fsyncs" -e trace=fsync "$TRAGUARDO" -c "$T/fast.conf" once --now $NOW >/dev/null 2>&1
collect traced
nf=$(grep -c 'fsync(' "$T/fsyncs")
if [ "$nf" -ge 10 ]; then ok "durable steps: $nf fsync calls in one cycle"; else notok "durable steps: $nf fsync calls in one cycle" "$(cat "$T/fsyncs")"; exit 1; fi
n=1
while [ "$n" -le "$nf" ]; do
	rm -rf "$T/state"
	strace -f -o /dev/null -e trace=fsync -e inject=fsync:signal=KILL:when=$n \
		"$TRAGUARDO" -c "$T/fast.conf" once --now $NOW >"$T/k.out" 2>"$T/k.err"
	echo $? >"$T/src.$n"
	"$TRAGUARDO" -c "$T/fast.conf" once --now 2026-11-10T09:10 >"$T/f.out" 2>"$T/f.err"; echo $? >>"$T/src.$n"
	collect "s$n"
	n=$((n + 1))
done
check "killed at each of the $nf fsync calls, restarted 10 minutes later: nothing lost, at most one repeat with the same id" <<PY
bad = []
for n in range(1, $nf + 1):
    ms = mails("s%d" % n)
    krc, frc = open(os.path.join(T, "src.%d" % n)).read().split()
    by = collections.defaultdict(list)
    for m, _, _ in ms:
        by[tuple(to(m))].append(m["X-Traguardo-Event"])
    why = []
    if frc != "0": why.append("restart exit " + frc)
    lost = sorted({"%s@comune.test" % x for x in "ABCDE"} - {r[0] for r in by})
    if lost: why.append("lost: %s" % lost)
    rep = {r[0]: ids for r, ids in by.items() if len(ids) > 1}
    if len(rep) > 1 or any(len(ids) > 2 or len(set(ids)) != 1 for ids in rep.values()):
        ex = sorted(rep.items())[0]
        why.append("%d recipients got their message twice, %s with ids %s" % (len(rep), ex[0], ", ".join(ex[1])))
    if why: bad.append("SIGKILL at fsync #%d (exit %s): %s" % (n, krc, "; ".join(why)))
assert not bad, "\n".join(bad)
PY

exit 0
