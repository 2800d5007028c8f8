#!/bin/sh
# run.sh BUILD_DIR... — runs every unit test binary of each build, every
# integration test script against each build that has a daemon (build-tsan
# holds only the tests of the CSV reader thread, under ThreadSanitizer), the
# fault-injection scripts (tests/faults/) against the last one (the
# sanitizer build in `make check`: there a fault also shows memory errors;
# once keeps CI under 10 minutes), and ends with one line over all of them:
#   N passed, N failed[, N skipped]
# (each suite's line also says how many seconds it took: CI has 10 minutes)
# Unit tests are cmocka binaries (their own summary lines are parsed; a
# sanitizer's report makes the binary exit non-zero: a failure);
# integration and fault tests are shell scripts printing "ok - ..." /
# "not ok - ..." / "ok - ... # SKIP why" lines (tests/integration/lib.sh).
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0; skipped=0; failures=""
log=$(mktemp -d "${TMPDIR:-/tmp}/traguardo-check.XXXXXX")
trap 'rm -rf "$log"' EXIT INT TERM

num() { sed -n "s/^\[  $1 *\] \([0-9][0-9]*\) test.*/\1/p" "$2" | tail -n 1; }

for last in "$@"; do :; done
for build in "$@"; do
	faults=""
	[ "$build" = "$last" ] && faults="tests/faults/test_*.sh"
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		out="$log/out"; t0=$(date +%s)
		"$t" >"$out" 2>&1
		rc=$?
		p=$(num PASSED "$out"); f=$(num FAILED "$out"); s=$(num SKIPPED "$out")
		p=${p:-0}; f=${f:-0}; s=${s:-0}
		if [ "$rc" -ne 0 ] && grep -q 'FATAL: ThreadSanitizer: unexpected memory mapping' "$out"; then
			# this kernel's address-space layout leaves TSan no room
			# (vm.mmap_rnd_bits above 28): nothing ran, nothing failed
			echo "$t: skipped: $(grep -m1 'FATAL: ThreadSanitizer' "$out")"
			rc=0; p=0; f=0; s=1
		fi
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # crashed: no summary
		passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
		printf '%-48s %4d passed %3d failed %3d skipped %4ds\n' "$t" "$p" "$f" "$s" \
			$(($(date +%s) - t0))
		if [ "$f" -ne 0 ]; then
			failures="$failures $t"
			grep -E '^\[  (FAILED|ERROR) |ERROR|Failure|error:|runtime error|Sanitizer' "$out" | head -n 40
			tail -n 20 "$out"
		fi
	done
	[ -x "$build/traguardo" ] || continue
	for t in tests/integration/test_*.sh $faults; do
		[ -f "$t" ] || continue
		out="$log/out"; t0=$(date +%s)
		TRAGUARDO="$PWD/$build/traguardo" sh "$t" >"$out" 2>&1
		rc=$?
		p=$(grep -c '^ok ' "$out" | tr -d ' '); s=$(grep -c '^ok .*# SKIP' "$out" | tr -d ' ')
		f=$(grep -c '^not ok ' "$out" | tr -d ' ')
		p=$((p - s))
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
		printf '%-48s %4d passed %3d failed %3d skipped %4ds\n' "$t [$build]" "$p" "$f" "$s" \
			$(($(date +%s) - t0))
		if [ "$f" -ne 0 ]; then
			failures="$failures $t[$build]"
			grep -E '^not ok |^#' "$out" | head -n 60
		fi
	done
done
# fuzz targets: a short smoke pass (built by `make check` with clang)
if ls build-fuzz/fuzz_* >/dev/null 2>&1; then
	out="$log/out"; t0=$(date +%s)
	sh tests/fuzz/smoke.sh >"$out" 2>&1
	p=$(grep -c '^ok ' "$out" | tr -d ' '); f=$(grep -c '^not ok ' "$out" | tr -d ' ')
	passed=$((passed + p)); failed=$((failed + f))
	printf '%-48s %4d passed %3d failed %3d skipped %4ds\n' "tests/fuzz (smoke)" "$p" "$f" 0 \
		$(($(date +%s) - t0))
	[ "$f" -ne 0 ] && { failures="$failures fuzz"; grep -E '^not ok |^#' "$out"; }
fi
[ -n "$failures" ] && echo "failing:$failures"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
