#!/bin/sh
# The whole `once` path under valgrind (memcheck), deliveries to real SMTP and
# HTTP servers included: no invalid access, no definite leak.  ASan builds
# are skipped (the two tools do not mix).
. "$(dirname "$0")/lib.sh"
case "$TRAGUARDO" in
*build-san*) echo "ok - valgrind: demo cycle # SKIP sanitizer build"; exit 0 ;;
esac
if ! command -v valgrind >/dev/null 2>&1; then
	echo "ok - valgrind: demo cycle # SKIP valgrind not installed"; exit 0
fi
cp -r "$TESTS_DIR/../conf" "$T/conf"
# real servers for the messages: SMTP (aiosmtpd) and HTTP (the Teams webhook)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT INT TERM
mkdir -p "$T/hooks" "$T/mail"
$PY "$TESTS_DIR/http_server.py" --port-file "$T/http.port" --feed-dir "$T" --hook-dir "$T/hooks" >/dev/null 2>&1 &
pids="$pids $!"
if $PY -c 'import aiosmtpd' 2>/dev/null; then
	$PY "$TESTS_DIR/smtp_server.py" --dir "$T/mail" --port-file "$T/smtp.port" >/dev/null 2>&1 &
	pids="$pids $!"
fi
i=0
while { [ ! -s "$T/http.port" ] || [ ! -s "$T/smtp.port" ]; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
HP=$(cat "$T/http.port" 2>/dev/null); SP=$(cat "$T/smtp.port" 2>/dev/null)
sed -i -e "s|smtp://localhost:587\"; starttls = true|smtp://127.0.0.1:${SP:-9}\"; starttls = false|" \
	-e "s|https://example.invalid/webhook|http://127.0.0.1:${HP:-9}/hooks/teams|" "$T/conf/demo.conf"
want=0; [ -n "$SP" ] || want=4
vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
run "valgrind: demo cycle, dry run" 0 $vg "$TRAGUARDO" -c "$T/conf/demo.conf" once --dry-run --now 2026-11-20T09:00
run "valgrind: demo cycle with journal, messages delivered" $want $vg "$TRAGUARDO" -c "$T/conf/demo.conf" once --json --now 2026-11-20T09:00
run "valgrind: replay of the journal" 0 $vg "$TRAGUARDO" -c "$T/conf/demo.conf" once --json --now 2026-11-20T09:00
n=$(ls "$T/mail"/*.json 2>/dev/null | wc -l)
[ -z "$SP" ] || { [ "$n" -eq 6 ] && ok "valgrind: six e-mails delivered" || notok "valgrind: six e-mails delivered" "$n"; }
run "valgrind: check" 0 $vg "$TRAGUARDO" -c "$T/conf/demo.conf" check
