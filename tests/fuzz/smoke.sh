#!/bin/sh
# smoke.sh — a short pass of every fuzz target over its seed corpus and a few
# seconds of new inputs, so CI catches a regression the fuzzers know about.
# Prints "ok - ..." / "not ok - ..." lines for tests/run.sh.
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SMOKE_SECONDS:-4}
work=$(mktemp -d "${TMPDIR:-/tmp}/tg-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
for f in build-fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	n=${f#build-fuzz/fuzz_}
	mkdir -p "$work/$n"
	if "$f" -max_total_time="$secs" -max_len=16384 -artifact_prefix="$work/" \
		"$work/$n" "tests/fuzz/corpus/$n" >"$work/log" 2>&1; then
		echo "ok - fuzz smoke: $n"
	else
		echo "not ok - fuzz smoke: $n"
		grep -E 'ERROR|SUMMARY|Test unit written' "$work/log" | sed 's/^/# /' | head -n 20
	fi
done
