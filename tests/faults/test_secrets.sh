#!/bin/sh
# Secrets: an SMTP password (right and wrong), a bearer token (accepted and
# refused with 401), an HTTP basic password, an HMAC key (delivered, and kept
# in the outbox after a 500), a PostgreSQL password (server down), a token
# in a feed URL's query, a password and a signature in a webhook's URL.  After
# check, once (-v), once --dry-run, status, report, test-notify and a short
# run of the daemon, none of the secrets appears in any output, log,
# status.json, state.json, journal, http-cache.json, preview or outbox
# file.  A password in a feed URL is refused without being shown.  Secret
# files readable or writable by others are refused with a clear error.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/helpers.sh"

have_aiosmtpd || { echo "ok - secrets # SKIP /usr/bin/python3 has no aiosmtpd (apt-get install python3-aiosmtpd)"; exit 0; }
TLS="$TESTS_DIR/data/tls"

SMTP_PW=smtp-pw-Q7xK2vL
SMTP_BAD=smtp-bad-Z9wP4c
TOKEN=bearer-tok-M3v8Ns
BASIC_PW=basic-pw-R5t1Dq
HMAC=hmac-key-J4n6Yb
PG_PW=pg-pw-W2e9Hx
URL_TOKEN=url-tok-C8d3Fg
HOOK_SIG=hook-sig-B1f7Tk
URL_PW=url-pass-H6k2Ja
HOOK_PW=hook-pass-V5s8Lm
SECRETS="$SMTP_PW $SMTP_BAD $TOKEN $BASIC_PW $HMAC $PG_PW $URL_TOKEN $HOOK_SIG $URL_PW $HOOK_PW"
mkdir -p "$T/etc"
for s in smtp:$SMTP_PW smtpbad:$SMTP_BAD token:$TOKEN basic:$BASIC_PW hmac:$HMAC pg:$PG_PW; do
	printf '%s\n' "${s#*:}" >"$T/etc/${s%%:*}.secret"; chmod 0600 "$T/etc/${s%%:*}.secret"
done

smtp mail --tls-cert "$TLS/localhost.pem" --tls-key "$TLS/localhost.key" --require-tls \
	--auth "traguardo:$SMTP_PW" --auth-required; SP=$port
http web; HP=$port
PGP=$(free_port)
for f in tok tok401 basic qtok; do
	printf 'Codice;Mese;Valore\r\n%s;01/10/2026;50\r\n' "$(echo $f | tr a-z A-Z)" >"$T/feeds/$f.csv"
done
U="http://127.0.0.1:$HP/feeds"
ind() { printf '{ id = "%s"; name = "%s"; department = "D"; owner = "o@comune.test"; target = 90.0; source = "%s"; }' "$1" "$1" "$2"; }
cat >"$T/etc/s.conf" <<EOF
daemon = { state_dir = "../state"; language = "en"; admins = ["ced@comune.test"]; };
sources = (
  { name = "tok"; type = "http"; url = "$U/tok.csv"; bearer_token_file = "token.secret"; every = "10s"; },
  { name = "tok401"; type = "http"; url = "$U/tok401.csv?_status=401"; bearer_token_file = "token.secret"; retries = 0; every = "10s"; },
  { name = "basic"; type = "http"; url = "$U/basic.csv"; username = "utente"; password_file = "basic.secret"; every = "10s"; },
  { name = "qtok"; type = "http"; url = "$U/qtok.csv?token=$URL_TOKEN&_status=500"; retries = 0; every = "10s"; },
  { name = "pg"; type = "postgresql"; conninfo = "host=127.0.0.1 port=$PGP user=traguardo dbname=kpi connect_timeout=2";
    password_file = "pg.secret"; query = "SELECT 1"; every = "10s"; }
);
indicators = (
  $(ind TOK tok), $(ind TOK401 tok401), $(ind BASIC basic), $(ind QTOK qtok), $(ind PG pg)
);
channels = (
  { name = "posta"; type = "email"; url = "smtp://localhost:$SP"; ca_file = "$TLS/ca.pem";
    username = "traguardo"; password_file = "smtp.secret"; from = "traguardo@comune.test"; },
  { name = "postabad"; type = "email"; url = "smtp://localhost:$SP"; ca_file = "$TLS/ca.pem";
    username = "traguardo"; password_file = "smtpbad.secret"; from = "traguardo@comune.test"; },
  { name = "hook"; type = "webhook"; url = "http://127.0.0.1:$HP/hooks/ok"; secret_file = "hmac.secret"; },
  { name = "hook500"; type = "webhook"; url = "http://127.0.0.1:$HP/hooks/ko?sig=$HOOK_SIG&_status=500"; secret_file = "hmac.secret"; }
);
routes = ( { name = "all"; channels = ["posta", "postabad", "hook", "hook500"]; to = ["q@comune.test"]; } );
EOF
C="$T/etc/s.conf"
O="$T/outputs"; mkdir -p "$O"
# runs NAME CMD...: like run (lib.sh), exit 3 (a source failed) or 4 (messages wait) expected
runs() {
	_n=$1; shift
	"$@" >"$T/out" 2>"$T/err"; got=$?
	case $got in 3|4) ok "$_n: exit $got";; *) notok "$_n: exit $got, expected 3 or 4" "$(head -c 3000 "$T/err")";; esac
}
# keep NAME: saves the last command's stdout and stderr for the final grep
keep() { cp "$T/out" "$O/$1.out"; cp "$T/err" "$O/$1.err"; }

run "check" 0 "$TRAGUARDO" -v -c "$C" check; keep check
runs "dry run" "$TRAGUARDO" -v -c "$C" once --dry-run --now 2026-11-10T09:00; keep dry
runs "once: some sources fail, some messages wait" "$TRAGUARDO" -v -c "$C" once --json --now 2026-11-10T09:00; keep once
sane "once"
json "the token, the basic password and the HMAC key worked" \
	"by['TOK']['value'] == 50 and by['BASIC']['value'] == 50 and by['TOK401']['status'] == 'error' and by['PG']['status'] == 'error'"
contains "401: says to check the credentials file" "$T/err" "401"
contains "the wrong SMTP password: an authentication error" "$T/err" "authentication"
check "delivered over STARTTLS with AUTH; webhook signed; the others wait in the outbox" <<'PY'
assert any(meta["auth_user"] == "traguardo" and meta["tls"] for _, meta, _ in mails("mail")), [x[1] for x in mails("mail")]
assert len(glob.glob(os.path.join(T, "hooks", "*.json"))) >= 1
assert len(ls("state/outbox/new")) == 2, ls("state/outbox/new")
PY
runs "once again (retries)" "$TRAGUARDO" -v -c "$C" once --now 2026-11-10T09:10; keep once2
run "status" 0 "$TRAGUARDO" -c "$C" status; keep status
run "status --json" 0 "$TRAGUARDO" -c "$C" status --json; keep statusjson
for f in text csv html; do
	run "report --format $f" 0 "$TRAGUARDO" -c "$C" report --month 2026-10 --format $f; keep "report-$f"
done
run "test-notify with the wrong password" 1 "$TRAGUARDO" -v -c "$C" test-notify postabad --to x@comune.test; keep tn1
run "test-notify of the failing webhook" 1 "$TRAGUARDO" -v -c "$C" test-notify hook500; keep tn2
run "test-notify, right password" 0 "$TRAGUARDO" -v -c "$C" test-notify posta --to x@comune.test; keep tn3

# the daemon, for a moment, with its own logs and STATUS=
$PY "$TESTS_DIR/notify_listen.py" "$T/notify.sock" "$O/notify" 2>"$T/notify.stderr" &
pids="$pids $!"
i=0; while [ ! -S "$T/notify.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
NOTIFY_SOCKET="$T/notify.sock" "$TRAGUARDO" -v -c "$C" run >"$O/daemon.out" 2>"$O/daemon.err" &
dpid=$!; pids="$pids $dpid"
i=0; while ! grep -q "source 'pg' failed" "$O/daemon.err" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
kill -HUP "$dpid"; sleep 0.3
kill -TERM "$dpid"; wait "$dpid"
contains "the daemon ran its sources" "$O/daemon.err" "source 'pg' failed"

# ---------------------------------------------------------------- the grep
found=""
for s in $SECRETS; do
	hits=$(grep -rlF -- "$s" "$O" "$T/state" "$T/hooks" 2>/dev/null | sed "s|$T/||")
	[ -n "$hits" ] && found="$found
$s in: $(echo $hits)"
done
files=$(find "$O" "$T/state" -type f | wc -l | tr -d ' ')
if [ -z "$found" ]; then ok "no secret in any of $files outputs, logs and state files"
else notok "no secret in any of $files outputs, logs and state files" "$found"; fi
if grep -rqF "***" "$O" "$T/state"; then ok "URLs with a token shown redacted (***)"
else notok "URLs with a token shown redacted (***)" "$(grep -rh 'qtok\|hook500' "$O" | head -5)"; fi

# a password in a feed's URL: refused, and not shown
sed "s|url = \"$U/basic.csv\"; username = \"utente\"; password_file = \"basic.secret\";|url = \"http://utente:$URL_PW@127.0.0.1:$HP/feeds/basic.csv\";|" "$C" >"$T/etc/u.conf"
run "a password in a feed URL is refused" 1 "$TRAGUARDO" -c "$T/etc/u.conf" check
contains "a password in a feed URL: says why" "$T/err" "must not carry a password"
lacks "a password in a feed URL: not shown" "$T/err" "$URL_PW"

# the same for a webhook's URL
sed "s|url = \"http://127.0.0.1:$HP/hooks/ko?|url = \"http://hook:$HOOK_PW@127.0.0.1:$HP/hooks/ko?|" "$C" >"$T/etc/h.conf"
run "a password in a webhook URL is refused" 1 "$TRAGUARDO" -c "$T/etc/h.conf" check
contains "a password in a webhook URL: says why" "$T/err" "must not carry a password"
lacks "a password in a webhook URL: not shown" "$T/err" "$HOOK_PW"

# ---------------------------------------------------------------- permissions
# perm NAME FILE MODE TEXT CMD...: FILE chmod MODE, CMD's stderr names it and says TEXT
perm() {
	_n=$1; _f=$2; _m=$3; _t=$4; shift 4
	chmod "$_m" "$T/etc/$_f"
	"$@" >"$T/out" 2>"$T/err"; got=$?
	chmod 0600 "$T/etc/$_f"
	if grep -qF "$_f'" "$T/err" && grep -qF "$_t" "$T/err"; then ok "$_n ($_m): refused, naming the file"
	else notok "$_n ($_m): refused, naming the file" "exit $got" "$(grep -F "$_f" "$T/err" | head -5)" "$(head -c 1500 "$T/err")"; fi
	sane "$_n ($_m)"
	for s in $SECRETS; do grep -qF -- "$s" "$T/out" "$T/err" && notok "$_n ($_m): no secret shown" "$s"; done
}
rm -rf "$T/state"
perm "bearer token readable by others" token.secret 0644 "readable by everyone" \
	"$TRAGUARDO" -c "$C" once --now 2026-11-10T09:00
perm "bearer token writable by others" token.secret 0602 "writable by everyone" \
	"$TRAGUARDO" -c "$C" once --now 2026-11-10T09:00
perm "HTTP password readable by others" basic.secret 0604 "by everyone" \
	"$TRAGUARDO" -c "$C" once --now 2026-11-10T09:00
perm "PostgreSQL password readable by others" pg.secret 0644 "by everyone" \
	"$TRAGUARDO" -c "$C" once --now 2026-11-10T09:00
perm "SMTP password readable by others" smtp.secret 0644 "by everyone" \
	"$TRAGUARDO" -c "$C" test-notify posta --to x@comune.test
perm "HMAC key readable by others" hmac.secret 0644 "by everyone" \
	"$TRAGUARDO" -c "$C" test-notify hook

exit 0
