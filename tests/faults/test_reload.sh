#!/bin/sh
# Fault: 1,000 SIGHUPs in a row, alternating good and bad configurations (an
# unknown key, a syntax error, an unknown source, a wrong type), each sent as
# soon as the daemon answered the previous one (RELOADING=1, then READY=1 on
# the notify socket).  Must hold: the daemon still runs, the last good
# configuration is in force (its target is in status.json), every bad one is
# logged, VmRSS after 1,000 reloads is within 2 MB of VmRSS after 100, SIGTERM
# exits 0, and no sanitizer report (LeakSanitizer included, in the ASan build).
# The driver is tests/faults/sighup.py.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/helpers.sh"

http web; P=$port
printf 'Codice;Mese;Valore\r\nR-01;01/10/2026;95\r\n' >"$T/r.csv"
printf 'Codice;Mese;Valore\r\nF-01;01/10/2026;5\r\n' >"$T/feeds/f.csv"
$PY "$FAULTS_DIR/sighup.py" "$TRAGUARDO" "$T" "$P" "${RELOADS:-1000}"

exit 0
