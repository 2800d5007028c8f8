#!/bin/sh
# End-to-end tests of the command line on real files: check, once, the JSON
# contract, bad input, failing sources, the journal across runs, late data.
. "$(dirname "$0")/lib.sh"

# ---------------------------------------------------------------- fixtures
printf 'Codice;Mese;Valore;Note\r\n' >"$T/rag.csv"
for m in 01 02 03 04 05 06 07 08 09 10; do
	printf 'RAG-01;01/%s/2026;%s;\r\n' "$m" "$(( 20 + ${m#0} ))" >>"$T/rag.csv"   # lower is better, target 30
	printf 'RAG-02;01/%s/2026;%s\r\n' "$m" "9$m,5" >>"$T/rag.csv"
done
printf 'RAG-02;01/11/2026;12,5,3\r\n' >>"$T/rag.csv"          # bad value: reported, skipped
printf 'XYZ-99;01/10/2026;1\r\nXYZ-98;01/10/2026;2\r\n' >>"$T/rag.csv"  # unknown indicators
printf 'RAG-03;01/10/2026;n.d.\r\n' >>"$T/rag.csv"            # missing: no value, not zero

# wide layout, Windows-1252 (the header says "Unità" in 1252)
$PY - "$T/urp.csv" <<'PY'
import sys
rows = ["Codice;Descrizione;Unit\u00e0;Gen 2026;Feb 2026;Mar 2026",
        "URP-01;Soddisfazione \u2014 qualit\u00e0;%;91,5;88,0;72,25",
        "URP-02;Reclami;n.;10;;12"]
open(sys.argv[1], "wb").write(("\r\n".join(rows) + "\r\n").encode("cp1252"))
PY

cat >"$T/t.conf" <<'EOF2'
daemon = { state_dir = "state"; language = "it"; admins = ["ced@comune.example"]; };
sources = (
  { name = "ragioneria"; type = "csv"; path = "rag.csv";
    columns = { indicator = "codice"; period = "MESE"; value = "Valore"; }; },
  { name = "urp"; type = "csv"; path = "urp.csv"; layout = "wide";
    columns = { indicator = "Codice"; }; dialect = { encoding = "windows-1252"; }; }
);
indicators = (
  { id = "RAG-01"; name = "Tempo medio di pagamento"; department = "Ragioneria"; unit = "giorni";
    better = "lower"; target = 30.0; critical = 45.0; late_after = "20d"; source = "ragioneria";
    owner = "rag@comune.example"; },
  { id = "RAG-02"; name = "Indice di tempestività"; department = "Ragioneria"; unit = "%";
    target = 95; critical = 90; },
  { id = "RAG-03"; name = "Fatture registrate"; department = "Ragioneria"; target = 1; },
  { id = "URP-01"; name = "Soddisfazione utenti"; department = "URP"; unit = "%"; target = 80; critical = 75;
    owner = "urp@comune.example"; },
  { id = "URP-02"; name = "Reclami"; department = "URP"; better = "lower"; target = 15; }
);
channels = ( { name = "posta"; type = "email"; url = "smtp://localhost:587"; from = "Qualità <q@comune.example>"; } );
routes = ( { channels = ["posta"]; to = ["@owner"]; min_status = "warning"; } );
EOF2

# ---------------------------------------------------------------- basics
run "--version" 0 "$TRAGUARDO" --version
contains "--version prints the version" "$T/out" "traguardo "
run "--help" 0 "$TRAGUARDO" --help
contains "--help documents exit codes" "$T/out" "exit status"
run "unknown command" 2 "$TRAGUARDO" -c "$T/t.conf" frobnicate
run "once with a stray argument" 2 "$TRAGUARDO" -c "$T/t.conf" once extra
run "bad --now" 2 "$TRAGUARDO" -c "$T/t.conf" once --now 2026-13-01
run "an unknown option of a command" 2 "$TRAGUARDO" -c "$T/t.conf" once --bogus
contains "an unknown option: the program and the command named" "$T/err" "traguardo once: unrecognized option '--bogus'"

run "check good config" 0 "$TRAGUARDO" -c "$T/t.conf" check
contains "check says OK" "$T/out" "configuration OK"
run "check via \$TRAGUARDO_CONFIG" 0 env TRAGUARDO_CONFIG="$T/t.conf" "$TRAGUARDO" check
# exit 1 when the output cannot be written, as once and status
if [ -w /dev/full ]; then
	"$TRAGUARDO" -c "$T/t.conf" check >/dev/full 2>"$T/err"; got=$?
	[ "$got" -eq 1 ] && ok "check with a full standard output: exit 1" ||
		notok "check with a full standard output: exit 1" "exit $got"
	contains "check with a full standard output: said so" "$T/err" "standard output"
	"$TRAGUARDO" -c "$T/t.conf" once --dry-run --json >/dev/full 2>"$T/err"; got=$?
	[ "$got" -eq 1 ] && ok "once with a full standard output: exit 1" ||
		notok "once with a full standard output: exit 1" "exit $got"
fi

cat >"$T/bad.conf" <<'EOF2'
daemon = { state_dir = "state"; };
sources = ( { name = "a"; type = "csv"; path = "x.csv"; evry = "15m"; } );
indicators = ( { id = "A-1"; name = "A"; department = "D"; tagret = 3; source = "nope"; } );
EOF2
run "check bad config" 1 "$TRAGUARDO" -c "$T/bad.conf" check
contains "error names file and line of the typo" "$T/err" "$T/bad.conf:2:"
contains "unknown key reported" "$T/err" "evry"
contains "second error in the same run" "$T/err" "$T/bad.conf:3:"
contains "unknown source reported" "$T/err" "nope"
printf 'daemon = { state_dir = "s" \n' >"$T/syntax.conf"
run "check syntax error" 1 "$TRAGUARDO" -c "$T/syntax.conf" check
contains "syntax error located" "$T/err" "$T/syntax.conf:"
run "check missing file" 1 "$TRAGUARDO" -c "$T/none.conf" check

# ---------------------------------------------------------------- once --json
run "once --dry-run --json" 0 "$TRAGUARDO" -c "$T/t.conf" once --dry-run --json --now 2026-11-05T10:00
json "JSON is an array with every indicator" "len(d) == 5 and set(by) == {'RAG-01','RAG-02','RAG-03','URP-01','URP-02'}"
json "JSON contract fields" "all(k in o for o in d for k in ('id','name','department','status','period','value','target','forecast','reason'))"
json "RAG-01: October value 30 is on target (lower, <= 30)" "by['RAG-01']['status'] == 'ok' and by['RAG-01']['value'] == 30 and by['RAG-01']['period'] == '2026-10-01'"
json "RAG-02: decimal comma, 910.5 ... the bad row for November skipped" "by['RAG-02']['period'] == '2026-10-01' and by['RAG-02']['value'] == 910.5"
json "RAG-03: n.d. is no value, not zero" "by['RAG-03']['status'] == 'unknown' and by['RAG-03']['value'] is None"
json "URP-01: wide layout, 1252: March 72.25 is critical" "by['URP-01']['value'] == 72.25 and by['URP-01']['status'] == 'critical' and by['URP-01']['period'] == '2026-03-01'"
json "URP-02: empty wide cell is missing; latest is March" "by['URP-02']['value'] == 12 and by['URP-02']['status'] == 'ok'"
json "reasons are words" "all(len(o['reason']) > 5 for o in d)"
contains "bad row reported with file:line" "$T/err" "rag.csv:22:"
contains "unknown indicators reported once, with a count" "$T/err" "2 rows for 2 indicators not in the configuration"
if [ "$(grep -c 'XYZ-9' "$T/err")" -eq 1 ]; then ok "unknown indicators: one line, not one per row"; else notok "unknown indicators: one line" "$(cat "$T/err")"; fi
contains "dry run says where the messages are" "$T/err" "$T/state/preview"
if ls "$T/state/preview/"*urp@comune.example.txt >/dev/null 2>&1; then ok "preview for the URP owner written"; else notok "preview for the URP owner written" "$(ls -R "$T/state" 2>&1)"; fi
[ ! -e "$T/state/journal" ] && ok "dry run writes no journal" || notok "dry run writes no journal"

# ---------------------------------------------------------------- table
run "once table" 0 "$TRAGUARDO" -c "$T/t.conf" once --dry-run --now 2026-11-05T10:00
contains "table has a department block" "$T/out" "Ragioneria"
contains "table shows Italian status" "$T/out" "critico"
contains "table shows the value with unit" "$T/out" "72,25%"
lacks "no colour codes when not a terminal" "$T/out" "$(printf '\033[')"

# ---------------------------------------------------------------- late_after, exactly
# RAG-01: October ends 2026-11-01; late_after 20d -> November's value is due 2026-12-21T00:00.
run "one second before the deadline" 0 "$TRAGUARDO" -c "$T/t.conf" once --dry-run --json --now 2026-12-20T23:59
json "not late one minute before" "by['RAG-01']['status'] != 'late'"
run "exactly at the deadline" 0 "$TRAGUARDO" -c "$T/t.conf" once --dry-run --json --now 2026-12-21T00:00
json "late exactly at late_after" "by['RAG-01']['status'] == 'late' and by['RAG-01']['expected_period'] == '2026-11-01'"

# ---------------------------------------------------------------- failing source
mv "$T/urp.csv" "$T/urp.csv.away"
run "a failing source: exit 3" 3 "$TRAGUARDO" -c "$T/t.conf" once --dry-run --json --now 2026-11-05T10:00
json "its indicators are error, the others are not" "by['URP-01']['status'] == 'error' and by['RAG-01']['status'] == 'ok'"
json "the error says which source and why" "'urp' in by['URP-01']['reason'] and 'urp.csv' in by['URP-01']['reason']"
contains "the failure is logged with the path" "$T/err" "urp.csv"
mv "$T/urp.csv.away" "$T/urp.csv"

# a file with the wrong columns fails the source with a clear error
printf 'Code;Month;Value\r\nRAG-01;01/10/2026;10\r\n' >"$T/rag.csv.new"
cp "$T/rag.csv" "$T/rag.csv.good"; mv "$T/rag.csv.new" "$T/rag.csv"
run "missing column fails the source" 3 "$TRAGUARDO" -c "$T/t.conf" once --dry-run --json --now 2026-11-05T10:00
contains "missing column named" "$T/err" "no column 'codice'"
mv "$T/rag.csv.good" "$T/rag.csv"

# ---------------------------------------------------------------- journal across runs
cat >"$T/j.conf" <<'EOF2'
daemon = { state_dir = "jstate"; };
sources = ( { name = "feed"; type = "csv"; path = "feed.csv"; } );
indicators = ( { id = "K-1"; name = "K"; department = "D"; target = 10; confirm_periods = 2; } );
EOF2
printf 'Codice;Mese;Valore\n' >"$T/feed.csv"; printf 'K-1;09/2026;5\n' >>"$T/feed.csv"
run "journal: first run" 0 "$TRAGUARDO" -c "$T/j.conf" once --json --now 2026-10-15
json "one period out of target: not confirmed yet" "by['K-1']['status'] == 'ok' and by['K-1']['light'] == 'critical'"
[ -s "$T/jstate/journal" ] && ok "journal written" || notok "journal written"
[ -s "$T/jstate/status.json" ] && ok "status.json written" || notok "status.json written"
printf 'Codice;Mese;Valore\nK-1;10/2026;4\n' >"$T/feed.csv"   # the feed now only has the latest value
run "journal: second run" 0 "$TRAGUARDO" -c "$T/j.conf" once --json --now 2026-11-15
json "history from the journal confirms the second miss" "by['K-1']['status'] == 'critical' and by['K-1']['value'] == 4"

# ---------------------------------------------------------------- duplicates, future data, Feb 29
cat >"$T/d.conf" <<'EOF2'
daemon = { state_dir = "dstate"; };
sources = ( { name = "feed"; type = "csv"; path = "dup.csv"; } );
indicators = (
  { id = "D-1"; name = "Duplicated"; department = "D"; target = 10; },
  { id = "D-2"; name = "Daily"; department = "D"; target = 10; period = "day"; late_after = "1d"; }
);
EOF2
printf 'Codice;Data;Valore\nD-1;03/2026;5\nD-1;31/03/2026;12\nD-1;04/2026;1\nD-2;29/02/2028;11\nD-2;01/03/2028;3\n' >"$T/dup.csv"
run "duplicates and future data" 0 "$TRAGUARDO" -c "$T/d.conf" once --dry-run --json --now 2026-03-31T12:00
json "the later row for the same period wins" "by['D-1']['value'] == 12 and by['D-1']['period'] == '2026-03-01'"
json "a value for a future period is not the latest" "by['D-1']['status'] == 'ok'"
run "Feb 29 of a leap year" 0 "$TRAGUARDO" -c "$T/d.conf" once --dry-run --json --now 2028-02-29T18:00
json "29/02/2028 is a day of its own" "by['D-2']['period'] == '2028-02-29' and by['D-2']['value'] == 11"
run "the day after" 0 "$TRAGUARDO" -c "$T/d.conf" once --dry-run --json --now 2028-03-02T00:00
json "daily data: March 1st is the latest, critical" "by['D-2']['period'] == '2028-03-01' and by['D-2']['status'] == 'critical'"

# ---------------------------------------------------------------- dry run reads the history, writes nothing
printf 'Codice;Mese;Valore\nK-1;11/2026;3\n' >"$T/feed.csv"
before=$(cksum <"$T/jstate/journal")
run "dry run with a journal" 0 "$TRAGUARDO" -c "$T/j.conf" once --dry-run --json --now 2026-12-15
json "dry run sees the journal's history (October confirms November)" "by['K-1']['status'] == 'critical' and by['K-1']['value'] == 3"
[ "$(cksum <"$T/jstate/journal")" = "$before" ] && ok "dry run leaves the journal as it was" || notok "dry run leaves the journal as it was"

# ---------------------------------------------------------------- root on the service's state directory
# files written as root there would stop the service (it runs as its own
# user and could no longer replace them): once refuses, saying how to run it
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	rm -rf "$T/jstate"; mkdir -p "$T/jstate"; chown nobody "$T/jstate"
	run "as root, once on a state directory of another user: refused" 1 "$TRAGUARDO" -c "$T/j.conf" once --now 2026-11-15
	contains "says how to run it" "$T/err" "belongs to user nobody"
	contains "names the command" "$T/err" "runuser -u nobody -- traguardo -c $T/j.conf once"
	[ -z "$(ls -A "$T/jstate")" ] && ok "nothing written there" || notok "nothing written there" "$(ls -la "$T/jstate")"
	run "as root, the dry run too (it writes preview/ there)" 1 "$TRAGUARDO" -c "$T/j.conf" once --dry-run --now 2026-11-15
	[ -z "$(ls -A "$T/jstate")" ] && ok "nothing written there by the dry run" || notok "nothing written there by the dry run" "$(ls -la "$T/jstate")"
	chown root "$T/jstate"
	run "root's own state directory: allowed" 0 "$TRAGUARDO" -c "$T/j.conf" once --now 2026-11-15
else
	echo "ok - root on the service's state directory # SKIP needs root and a user nobody"
fi

# ---------------------------------------------------------------- status: values as people write them
printf 'Codice;Mese;Valore\nK-1;11/2026;1234,5\n' >"$T/feed.csv"
rm -rf "$T/jstate"
run "once for status" 0 "$TRAGUARDO" -c "$T/j.conf" once --now 2026-11-15
run "status" 0 "$TRAGUARDO" -c "$T/j.conf" status
contains "status: the value with a decimal comma and grouped thousands" "$T/out" " 1.234,5  "
