#!/bin/sh
# HTTP feeds end to end against a real loopback server (tests/http_server.py):
# CSV and JSON, conditional GET, retries, Retry-After, timeouts, a trickling
# body, a reset connection, a body over max_size, invalid JSON, redirects,
# HTTPS with and without the test CA, credentials, and a slow feed that must
# not delay a fast one.
. "$(dirname "$0")/lib.sh"

SERVER="$TESTS_DIR/http_server.py"
TLS="$TESTS_DIR/data/tls"
mkdir -p "$T/feeds" "$T/hooks"
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT INT TERM

# start_server NAME [TLS args]: runs the server, sets $port
start_server() {
	name=$1; shift
	$PY "$SERVER" --port-file "$T/$name.port" --feed-dir "$T/feeds" --hook-dir "$T/hooks" \
		--log "$T/$name.log" "$@" >"$T/$name.stdout" 2>"$T/$name.stderr" &
	pids="$pids $!"
	i=0
	while [ ! -s "$T/$name.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	port=$(cat "$T/$name.port" 2>/dev/null)
	[ -n "$port" ] || { notok "$name server started" "$(cat "$T/$name.stderr")"; exit 1; }
}
start_server plain; P=$port
start_server tls --tls-cert "$TLS/localhost.pem" --tls-key "$TLS/localhost.key"; S=$port
U="http://127.0.0.1:$P/feeds"
SU="https://localhost:$S/feeds"

# ---------------------------------------------------------------- the feeds
printf 'Codice;Mese;Valore\r\nH-CSV;01/09/2026;10\r\nH-CSV;01/10/2026;12,5\r\n' >"$T/feeds/rag.csv"
cat >"$T/feeds/urp.json" <<'J'
{ "data": { "items": [
  { "code": "H-JSON", "month": "2026-09", "value": 81.5 },
  { "code": "H-JSON", "month": "2026-10", "value": "79,25" },
  { "code": "H-JSON", "month": "2026-08", "value": {"bad": 1} },
  { "code": "ZZ-UNKNOWN", "month": "2026-10", "value": 1 }
] } }
J
cat >"$T/feeds/series.json" <<'J'
{ "H-SER": [ { "period": "2026-09", "value": 3 }, { "period": "2026-10", "value": 4 } ] }
J
printf '{ "data": [ {"code": "H-BAD", ' >"$T/feeds/broken.json"
printf 'Codice;Mese;Valore\nH-FF;01/10/2026;7\n' >"$T/feeds/ff.csv"
printf 'Codice;Mese;Valore\nH-TLS;01/10/2026;9\n' >"$T/feeds/tls.csv"
printf 's3cr3t-t0ken-value\n' >"$T/token"; chmod 600 "$T/token"
printf 'Codice;Mese;Valore\nH-AUTH;01/10/2026;1\n' >"$T/feeds/auth.csv"

ind() { printf '{ id = "%s"; name = "%s"; department = "D"; target = 1; source = "%s"; },\n' "$1" "$1" "$2"; }
cat >"$T/h.conf" <<EOF2
daemon = { state_dir = "state"; };
sources = (
  { name = "csv"; type = "http"; url = "$U/rag.csv"; },
  { name = "json"; type = "http"; url = "$U/urp.json"; format = "json";
    json = { records = "data.items"; indicator = "code"; period = "month"; value = "value"; }; },
  { name = "series"; type = "http"; url = "$U/series.json"; format = "json"; layout = "by_indicator"; },
  { name = "broken"; type = "http"; url = "$U/broken.json"; format = "json"; },
  { name = "flaky"; type = "http"; url = "$U/ff.csv?_failfirst=2"; retries = 3; },
  { name = "tls"; type = "http"; url = "$SU/tls.csv"; ca_file = "$TLS/ca.pem"; },
  { name = "auth"; type = "http"; url = "$U/auth.csv"; bearer_token_file = "token"; },
  { name = "slow"; type = "http"; url = "$U/rag.csv?_delay=2"; retries = 0; timeout = "10s"; }
);
indicators = (
$(ind H-CSV csv)
$(ind H-JSON json)
$(ind H-SER series)
$(ind H-BAD broken)
$(ind H-FF flaky)
$(ind H-TLS tls)
$(ind H-AUTH auth)
  { id = "H-SLOW"; name = "slow"; department = "D"; target = 1; source = "slow"; }
);
EOF2

run "check a config of HTTP sources" 0 "$TRAGUARDO" -c "$T/h.conf" check
run "once with HTTP feeds (one broken)" 3 "$TRAGUARDO" -v -c "$T/h.conf" once --json --now 2026-11-05T10:00
json "CSV over HTTP" "by['H-CSV']['value'] == 12.5 and by['H-CSV']['status'] == 'ok'"
json "JSON records with a nested path; decimal comma in a string" "by['H-JSON']['value'] == 79.25"
json "JSON object of series (by_indicator)" "by['H-SER']['value'] == 4"
json "invalid JSON fails its source only" "by['H-BAD']['status'] == 'error' and 'invalid JSON' in by['H-BAD']['reason']"
json "500 twice then 200: retried and read" "by['H-FF']['value'] == 7"
json "HTTPS with the test CA (ca_file)" "by['H-TLS']['value'] == 9"
json "bearer token accepted" "by['H-AUTH']['value'] == 1"
contains "bad JSON record reported with its path and index" "$T/err" '$.data.items[2].value'
contains "unknown indicator in a feed reported" "$T/err" "ZZ-UNKNOWN"
contains "the retries are logged" "$T/err" "retrying in"
if grep -q "Authorization: Bearer s3cr3t-t0ken-value" "$T/auth.log" 2>/dev/null ||
   grep -q '"Authorization": "Bearer s3cr3t-t0ken-value"' "$T/plain.log"; then ok "the token reached the server"; else notok "the token reached the server" "$(grep -i auth "$T/plain.log" | head -3)"; fi
if grep -q "s3cr3t-t0ken-value" "$T/out" "$T/err" "$T/state/"* 2>/dev/null; then notok "the token appears in no output nor state file"; else ok "the token appears in no output nor state file"; fi
fast=$(grep -n "source 'csv' read" "$T/err" | head -1 | cut -d: -f1)
slow=$(grep -n "source 'slow' read" "$T/err" | head -1 | cut -d: -f1)
if [ -n "$fast" ] && [ -n "$slow" ] && [ "$fast" -lt "$slow" ]; then ok "a slow feed does not delay a fast one (the fast one ends first)"; else notok "a slow feed does not delay a fast one" "fast line: $fast, slow line: $slow" "$(grep "read" "$T/err")"; fi

# ---------------------------------------------------------------- conditional GET
run "second run" 3 "$TRAGUARDO" -v -c "$T/h.conf" once --json --now 2026-11-05T10:00
json "values kept after 304" "by['H-CSV']['value'] == 12.5 and by['H-JSON']['value'] == 79.25"
if $PY - "$T/plain.log" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
csv = [r for r in reqs if r["path"] == "/feeds/rag.csv"]
hdr = {k.lower(): v for k, v in csv[-1]["headers"].items()}
sys.exit(0 if len(csv) >= 2 and "if-none-match" in hdr else 1)
PY
then ok "the second fetch was conditional (If-None-Match sent)"; else notok "the second fetch was conditional" "$(grep rag.csv "$T/plain.log" | tail -2)"; fi
contains "304: not modified" "$T/err" "source 'csv' read: not modified"
[ -s "$T/state/http-cache.json" ] && ok "validators kept in the state directory" || notok "validators kept in the state directory"

# ---------------------------------------------------------------- failures, one source each
fails() {  # fails NAME URL-EXTRA CONFIG-EXTRA EXPECTED-TEXT
	cat >"$T/f.conf" <<EOF2
daemon = { state_dir = "fstate"; };
sources = ( { name = "f"; type = "http"; $2 } );
indicators = ( { id = "F-1"; name = "f"; department = "D"; target = 1; } );
EOF2
	run "$1: the source fails" 3 "$TRAGUARDO" -c "$T/f.conf" once --dry-run --json --now 2026-11-05T10:00
	json "$1: error status" "by['F-1']['status'] == 'error'"
	contains "$1: says why" "$T/err" "$3"
}
fails "timeout" "url = \"$U/rag.csv?_delay=5\"; timeout = \"1s\"; retries = 0;" "timed out"
fails "trickle below the low-speed limit" "url = \"$U/rag.csv?_trickle=0.5\"; timeout = \"6s\"; retries = 0;" "slow"
fails "connection reset" "url = \"$U/rag.csv?_reset=1\"; retries = 0;" "rag.csv"
fails "body over max_size" "url = \"$U/big?_size=200000\"; max_size = \"10kB\";" "larger than"
fails "429 with Retry-After" "url = \"$U/rag.csv?_retryafter=1\"; retries = 1;" "429"
n=$(grep -c '_retryafter=1' "$T/plain.log")
[ "$n" -eq 2 ] && ok "429: asked again once after Retry-After (retries = 1)" || notok "429: asked again once" "requests: $n"
contains "429: the wait honours Retry-After" "$T/err" "retrying in 1"
fails "404 not retried" "url = \"$U/nothing.csv\";" "404"
fails "401: check the credentials" "url = \"$U/rag.csv?_status=401\";" "check the credentials file"
fails "redirect from https to http refused" "url = \"$SU/tls.csv?_redirect=$U/rag.csv\"; ca_file = \"$TLS/ca.pem\";" "tls.csv"
fails "HTTPS without the CA: certificate error" "url = \"$SU/tls.csv\";" "certificate"
# libcurl would take custom headers (an API key) along to another server
fails "a feed with headers follows no redirect" "url = \"$U/rag.csv?_redirect=http://localhost:$P/feeds/elsewhere.csv\"; headers = [\"X-Api-Key: HDRSECRET\"]; retries = 1;" "HTTP 302: a redirect to http://localhost:$P/feeds/elsewhere.csv, not followed"
n=$(grep -c '"path": "/feeds/elsewhere.csv' "$T/plain.log")
[ "$n" -eq 0 ] && ok "headers: the redirect's target was not asked" || notok "headers: the redirect's target was not asked" "requests: $n"

# ---------------------------------------------------------------- no leak on the HTTP path
case "$TRAGUARDO" in
*build-san*) echo "ok - valgrind: HTTP cycle # SKIP sanitizer build" ;;
*)
	if command -v valgrind >/dev/null 2>&1; then
		run "valgrind: HTTP cycle with retries and a failure" 3 valgrind -q --leak-check=full \
			--errors-for-leak-kinds=definite --error-exitcode=99 \
			"$TRAGUARDO" -c "$T/h.conf" once --dry-run --json --now 2026-11-05T10:00
	else
		echo "ok - valgrind: HTTP cycle # SKIP valgrind not installed"
	fi ;;
esac
