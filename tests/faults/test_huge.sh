#!/bin/sh
# Fault: inputs far too large.  An HTTP feed that answers 1 GB (with a
# Content-Length, and chunked without one; CSV and JSON), a CSV file with a
# 100 MB line, and an HTTP CSV feed of one 40 MB line (under max_size).
# Must hold: the peak resident memory of `traguardo once` stays under
# 200 MB, the cycle ends (source failed, exit 3, or the line skipped), the
# error names the source (or the file and line), the other sources are read.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/helpers.sh"

LIMIT_KB=204800
http web; P=$port
printf 'Codice;Mese;Valore\r\nOK-01;01/10/2026;95\r\n' >"$T/ok.csv"
hconf() {   # hconf FILE SOURCE-SETTINGS
	cat >"$1" <<EOF
daemon = { state_dir = "state"; language = "en"; };
sources = ( { name = "ok"; type = "csv"; path = "ok.csv"; },
            { name = "huge"; $2 } );
indicators = ( { id = "OK-01"; name = "ok"; department = "D"; target = 90.0; source = "ok"; },
               { id = "H-01"; name = "huge"; department = "D"; target = 90.0; source = "huge"; } );
EOF
}
# huge NAME WANT-RC TEXT SOURCE-SETTINGS: one cycle, bounded memory, TEXT in the error
huge() {
	hconf "$T/h.conf" "$4"
	rm -rf "$T/state"
	maxrss "$TRAGUARDO" -c "$T/h.conf" once --json --now 2026-11-10T09:00
	if [ "$got" -eq "$2" ]; then ok "$1: exit $2"; else notok "$1: exit $got, expected $2" "$(head -c 2000 "$T/err")"; fi
	sane "$1"
	if [ -n "$kb" ] && [ "$kb" -lt $LIMIT_KB ]; then ok "$1: peak memory $((kb / 1024)) MB < 200 MB"
	else notok "$1: peak memory ${kb:-?} kB, limit $LIMIT_KB kB"; fi
	contains "$1: the error says what and where" "$T/err" "$3"
	json "$1: the other source is read" "by['OK-01']['value'] == 95"
}
G=1073741824
huge "HTTP CSV feed of 1 GB (Content-Length)" 3 "source 'huge'" \
	"type = \"http\"; url = \"http://127.0.0.1:$P/feeds/big.csv?_size=$G\"; retries = 0; timeout = \"60s\";"
contains "1 GB with Content-Length: says it is too large" "$T/err" "larger"
huge "HTTP CSV feed of 1 GB (chunked)" 3 "source 'huge'" \
	"type = \"http\"; url = \"http://127.0.0.1:$P/feeds/big.csv?_size=$G&_chunked=1\"; retries = 0; timeout = \"60s\";"
contains "1 GB chunked: says it is too large" "$T/err" "larger"
json "1 GB chunked: its indicator is in error" "by['H-01']['status'] == 'error'"
huge "HTTP JSON feed of 1 GB (chunked)" 3 "source 'huge'" \
	"type = \"http\"; format = \"json\"; url = \"http://127.0.0.1:$P/feeds/big.json?_size=$G&_chunked=1\"; retries = 0; timeout = \"60s\";"

# one CSV line of 40 MB through HTTP (under the 50 MB max_size)
$PY -c 'import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"Codice;Mese;Valore\r\nH-01;01/09/2026;91\r\nH-01;01/10/2026;")
    f.write(b"9" * 40000000)
    f.write(b"\r\n")' "$T/feeds/long.csv"
huge "HTTP CSV feed with a 40 MB line" 0 "long.csv:3: record longer than" \
	"type = \"http\"; url = \"http://127.0.0.1:$P/feeds/long.csv\"; retries = 0; timeout = \"60s\";"
json "40 MB line: the row before it is read" "by['H-01']['value'] == 91"

# a CSV file with a 100 MB line between two good ones
$PY -c 'import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"Codice;Mese;Valore\r\nH-01;01/09/2026;91\r\n")
    f.write(b"H-01;01/10/2026;\"" + b"x" * 100000000 + b"\"\r\n")
    f.write(b"OK-99;01/10/2026;1\r\n")' "$T/big.csv"
huge "CSV file with a 100 MB line" 0 "big.csv:3" "type = \"csv\"; path = \"big.csv\";"
json "100 MB line: the row before it is read" "by['H-01']['value'] == 91"
contains "100 MB line: the row after it is read (an unknown indicator, counted)" "$T/err" "OK-99"
rm -f "$T/big.csv" "$T/feeds/long.csv"

exit 0
