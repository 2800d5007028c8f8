#!/bin/sh
# smoke.sh — a short pass of every fuzz target over its seed corpus and a few
# seconds of new inputs, so CI catches a regression the fuzzers know about.
# The targets run as many at a time as there are cores (each is one
# process on one core); the lines come out in the targets' order.
# Prints "ok - ..." / "not ok - ..." lines for tests/run.sh.
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SMOKE_SECONDS:-4}
jobs=$(nproc 2>/dev/null || echo 1)
work=$(mktemp -d "${TMPDIR:-/tmp}/tg-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# one target: its verdict (and the fuzzer's findings) in $work/$n.out
smoke() {
	f=$1 n=$2
	mkdir -p "$work/$n" "$work/$n.art"
	if "$f" -max_total_time="$secs" -max_len=16384 -artifact_prefix="$work/$n.art/" \
		"$work/$n" "tests/fuzz/corpus/$n" >"$work/$n.log" 2>&1; then
		echo "ok - fuzz smoke: $n" >"$work/$n.out"
	else
		{
			echo "not ok - fuzz smoke: $n"
			grep -E 'ERROR|SUMMARY|Test unit written' "$work/$n.log" | sed 's/^/# /' | head -n 20
		} >"$work/$n.out"
	fi
}

names=""
k=0
for f in build-fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	n=${f#build-fuzz/fuzz_}
	names="$names $n"
	smoke "$f" "$n" &
	k=$((k + 1))
	if [ "$k" -ge "$jobs" ]; then
		wait
		k=0
	fi
done
wait
for n in $names; do
	cat "$work/$n.out" 2>/dev/null || echo "not ok - fuzz smoke: $n (no verdict)"
done
