# helpers.sh — shared by the fault-injection scripts (sourced after
# tests/integration/lib.sh).  Servers are started in the background with
# their pids collected in $pids; the EXIT trap kills them (only those) and
# unmounts what a script mounted ($mounts).
pids=""
mounts=""
FAULTS_DIR="$TESTS_DIR/faults"
SMTP="$TESTS_DIR/smtp_server.py"
HTTP="$TESTS_DIR/http_server.py"
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null
      for m in $mounts; do umount "$m" 2>/dev/null; done; rm -rf "$T"' EXIT INT TERM

have_aiosmtpd() { $PY -c 'import aiosmtpd' 2>/dev/null; }

# wait_port FILE: prints the port written there by a server (10 s at most)
wait_port() {
	_i=0
	while [ ! -s "$1" ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	cat "$1" 2>/dev/null
}
# free_port: a port nothing listens on (bound then released)
free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# smtp NAME [ARGS]: an SMTP server storing into $T/NAME/; sets $port and $spid
smtp() {
	_name=$1; shift
	mkdir -p "$T/$_name"; rm -f "$T/$_name.port"
	$PY "$SMTP" --dir "$T/$_name" --port-file "$T/$_name.port" "$@" >"$T/$_name.log" 2>&1 &
	spid=$!; pids="$pids $spid"
	port=$(wait_port "$T/$_name.port")
	[ -n "$port" ] || { notok "smtp server $_name started" "$(cat "$T/$_name.log")"; exit 1; }
}
# http NAME [ARGS]: the loopback HTTP server (feeds in $T/feeds, hooks in
# $T/hooks, request log $T/NAME.log); sets $port
http() {
	_name=$1; shift
	mkdir -p "$T/feeds" "$T/hooks"; rm -f "$T/$_name.port"
	$PY "$HTTP" --port-file "$T/$_name.port" --feed-dir "$T/feeds" --hook-dir "$T/hooks" \
		--log "$T/$_name.log" "$@" >"$T/$_name.stdout" 2>"$T/$_name.stderr" &
	pids="$pids $!"
	port=$(wait_port "$T/$_name.port")
	[ -n "$port" ] || { notok "http server $_name started" "$(cat "$T/$_name.stderr")"; exit 1; }
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# sane NAME : after run (lib.sh): no signal, no sanitizer report in $T/err
sane() {
	if [ "$got" -gt 4 ]; then
		notok "$1: no crash" "exit status $got (a signal?)" "$(tail -c 2000 "$T/err")"
	elif grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' "$T/err"; then
		notok "$1: no sanitizer report" "$(grep -E -A12 'Sanitizer|runtime error' "$T/err" | head -40)"
	else ok "$1: no crash, no sanitizer report"; fi
}

# check NAME: runs the Python on stdin with helpers; ok when it exits 0
check() {
	_cn=$1
	if _out=$($PY - "$T" 2>&1 <<PYEOF
import email, email.policy, glob, json, os, re, sys, collections
T = sys.argv[1]
def mails(d):
    r = []
    # by the .json, which the server writes last: a message still being
    # stored is not seen yet
    for j in sorted(glob.glob(os.path.join(T, d, "*.json"))):
        f = j[:-5] + ".eml"
        m = email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)
        meta = json.load(open(j))
        r.append((m, meta, open(f, "rb").read()))
    return r
def events(d): return collections.Counter(m["X-Traguardo-Event"] for m, _, _ in mails(d))
def to(m): return sorted(x.strip() for x in m["To"].split(","))
def text(m): return m.get_body(("plain",)).get_content()
def html(m): return m.get_body(("html",)).get_content()
def ls(p):
    p = os.path.join(T, p)
    return sorted(os.listdir(p)) if os.path.isdir(p) else []
$(cat)
PYEOF
); then ok "$_cn"; else notok "$_cn" "$_out"; fi
}

# maxrss CMD... : runs CMD (stdout to $T/out, stderr to $T/err); sets $kb
# to its peak resident memory in KiB and $got to its exit status
maxrss() {
	$PY -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1] + "/out", "wb"),
                   stderr=open(sys.argv[1] + "/err", "wb"), timeout=120)
open(sys.argv[1] + "/rc", "w").write(str(r.returncode if r.returncode >= 0 else 128 - r.returncode))
open(sys.argv[1] + "/kb", "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))' "$T" "$@"
	got=$(cat "$T/rc" 2>/dev/null || echo 99); kb=$(cat "$T/kb" 2>/dev/null)
}
