#!/bin/bash
# run.sh SECONDS TARGET... - run each libFuzzer target (built in
# tests/build/fuzz/) for SECONDS on its seeds (tests/fuzz/corpus/<target>/,
# read only) plus a scratch corpus in the build dir; report executions per
# target and end with "N passed, N failed" (a target fails if it crashed,
# leaked, or hung). Crash inputs land in tests/build/fuzz/artifacts/.
set -u
secs=$1
shift
build=tests/build/fuzz
passed=0 failed=0
declare -A pids
mkdir -p "$build/artifacts"
# All targets at once: SECONDS of wall time each, whatever their number.
for t in "$@"; do
	mkdir -p "$build/corpus/$t"
	"$build/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len=16384 -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$t-" \
		"$build/corpus/$t" "tests/fuzz/corpus/$t" >"$build/$t.log" 2>&1 &
	pids[$t]=$!
done
for t in "$@"; do
	log="$build/$t.log"
	wait "${pids[$t]}"
	rc=$?
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
		echo "$t: ok, ${execs:-?} execs in ${secs}s, ${cov:-cov: ?}"
	else
		failed=$((failed + 1))
		echo "$t: FAILED (exit $rc), log $log:"
		grep -E -A30 '^==[0-9]+==ERROR|runtime error|deadly signal|timeout' "$log" | head -n 40
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
