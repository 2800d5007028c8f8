#!/bin/sh
# The whole `once` path under valgrind (memcheck): no invalid access, no
# definite leak.  ASan builds are skipped (the two tools do not mix).
. "$(dirname "$0")/lib.sh"
case "$TRAGUARDO" in
*build-san*) echo "ok - valgrind: demo cycle # SKIP sanitizer build"; exit 0 ;;
esac
if ! command -v valgrind >/dev/null 2>&1; then
	echo "ok - valgrind: demo cycle # SKIP valgrind not installed"; exit 0
fi
cp -r "$TESTS_DIR/../conf" "$T/conf"
vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
run "valgrind: demo cycle, dry run" 0 $vg "$TRAGUARDO" -c "$T/conf/demo.conf" once --dry-run --now 2026-11-20T09:00
run "valgrind: demo cycle with journal" 0 $vg "$TRAGUARDO" -c "$T/conf/demo.conf" once --json --now 2026-11-20T09:00
run "valgrind: replay of the journal" 0 $vg "$TRAGUARDO" -c "$T/conf/demo.conf" once --json --now 2026-11-20T09:00
run "valgrind: check" 0 $vg "$TRAGUARDO" -c "$T/conf/demo.conf" check
