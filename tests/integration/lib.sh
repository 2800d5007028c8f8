# lib.sh — helpers for integration tests (sourced).
# Each check prints "ok - NAME" or "not ok - NAME" (with "# " lines saying why);
# tests/run.sh counts them.  $TRAGUARDO is the binary under test.
set -u
: "${TRAGUARDO:?TRAGUARDO must name the traguardo binary}"
PY=/usr/bin/python3
TESTS_DIR=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/tg-it.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; shift; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done; }

# run NAME EXPECTED_RC CMD... : runs CMD, keeps stdout in $T/out, stderr in $T/err
run() {
	name=$1; want=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$name: exit $want"; else
		notok "$name: exit $got, expected $want" "$(head -c 3000 "$T/err")" "$(head -c 2000 "$T/out")"; fi
}

# contains NAME FILE TEXT : FILE contains TEXT (fixed string)
contains() {
	if grep -qF -- "$3" "$2"; then ok "$1"; else notok "$1" "expected '$3' in $2:" "$(head -c 3000 "$2")"; fi
}
lacks() {
	if grep -qF -- "$3" "$2"; then notok "$1" "did not expect '$3' in $2:" "$(head -c 3000 "$2")"; else ok "$1"; fi
}

# json NAME PYTHON-EXPRESSION : evaluates the expression with `d` = JSON of $T/out
json() {
	if out=$($PY -c "
import json,sys
d=json.load(open('$T/out'))
by={o['id']:o for o in d} if isinstance(d,list) else {}
r=($2)
sys.exit(0 if r is True else 1)" 2>&1); then ok "$1"; else notok "$1" "expression: $2" "$out" "$(head -c 2000 "$T/out")"; fi
}
