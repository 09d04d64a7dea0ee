# check_lib.sh - sourced by the host test scripts: run from the top of the
# tree, count checks, end with the one summary line.
#   ok NAME / ko NAME       count a case, print PASS:/FAIL:
#   check NAME COMMAND...   PASS or FAIL by the command's status
#   skip WHY                a missing prerequisite: SKIP and exit 77, but
#                           under CI (make check installs everything) a
#                           failure
#   run_sim WANT ARGS...    tcmu-sim ARGS (at most $SIM_TIMEOUT s, default
#                           300), its output indented and in $tmp/out
#                           ($tmp: the script's scratch folder); true if
#                           it exits WANT
#   finish                  prints "N passed, N failed"; fails on any failure
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
passed=0 failed=0
SIM=${SIM:-./tcmu-sim}
ok() { echo "PASS: $1"; passed=$((passed + 1)); }
ko() { echo "FAIL: $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }
skip() {
	if [ -n "${CI:-}" ]; then
		echo "FAIL: $*"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}
run_sim() {
	local want=$1 rc
	shift
	timeout "${SIM_TIMEOUT:-300}" "$SIM" "$@" >"$tmp/out" 2>&1
	rc=$?
	# Indented: tcmu-sim's own lines and count are not the script's.
	sed 's/^/    | /' "$tmp/out"
	echo "    | exit $rc (want $want)"
	[ "$rc" = "$want" ]
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
