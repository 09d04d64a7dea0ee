#!/bin/bash
# run.sh BINARY... - run cmocka test binaries in turn and end with one line,
# "N passed, N failed", summed over all of them. A binary that crashes, or
# exits non-zero (a sanitizer's leak report, say) with no failed test
# counted, adds one failure. Exits non-zero on any failure.
set -u
passed=0 failed=0
for bin in "$@"; do
	out=$(mktemp)
	timeout 120 "$bin" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$out" | tail -n 1)
	f=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' "$out" | tail -n 1)
	rm -f "$out"
	p=${p:-0} f=${f:-0}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "*** $bin: exit $rc with no failed test counted"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
