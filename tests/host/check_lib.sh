# check_lib.sh - sourced by the host test scripts: run from the top of the
# tree, count checks, end with the one summary line.
#   check NAME COMMAND...   PASS or FAIL by the command's status
#   finish                  prints "N passed, N failed"; fails on any failure
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
passed=0 failed=0
ok() { echo "PASS: $1"; passed=$((passed + 1)); }
ko() { echo "FAIL: $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
