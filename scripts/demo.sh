#!/bin/sh
# demo.sh BINARY — one cycle on the bundled demo data (conf/demo.conf):
# a fictional comune, evaluated as of a fixed date so the output is the same
# every time.  Sends nothing: the messages go to build/demo-state/preview/.
set -u
bin=${1:-build/traguardo}
cd "$(dirname "$0")/.."
now=2026-11-20T09:00
echo "traguardo demo: Comune di Borgo Fittizio, evaluated as of $now"
echo "\$ $bin -c conf/demo.conf once --dry-run --now $now"
echo
"$bin" -c conf/demo.conf once --dry-run --now "$now"
rc=$?
# exit 3 means "a source failed": the demo has none, so any failure is real
[ "$rc" -eq 0 ] || { echo "demo: traguardo exited with $rc" >&2; exit "$rc"; }
echo
echo "Read a message:  ls build/demo-state/preview/ && cat build/demo-state/preview/001-*.txt"
echo "JSON output:     $bin -c conf/demo.conf once --dry-run --now $now --json"
