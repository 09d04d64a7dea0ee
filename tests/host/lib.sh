# lib.sh - what the host tests share; sourced, after `cd` to the top of
# the tree and with $tmp set to a scratch directory.
#   ok NAME / ko NAME       count a case, print PASS:/FAIL:
#   check NAME CMD...       ok if CMD succeeds, else ko
#   skip WHY                print SKIP: and exit 77
#   run_sim WANT ARGS...    tcmu-sim ARGS (at most $SIM_TIMEOUT s, default
#                           300), its output indented and in $tmp/out; true
#                           if it exits WANT
# The script ends with: echo "$passed passed, $failed failed".
passed=0 failed=0
SIM=${SIM:-./tcmu-sim}
ok() { echo "PASS: $1"; passed=$((passed + 1)); }
ko() { echo "FAIL: $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }
skip() { echo "SKIP: $*"; exit 77; }

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
