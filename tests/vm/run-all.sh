#!/bin/bash
# run-all.sh - run VM test scripts, one boot each, and add up their counts.
#
# Usage: tests/vm/run-all.sh GUEST_SCRIPT...
# Each script ends with guest-lib's "N passed, N failed" line; a script
# whose VM fails (timeout, panic, no summary) counts as one failure. Also
# checks the harness itself: a guest that hangs must be reported as a
# failure (TCMU_VM_HANG_CHECK=0 skips that 40 s check). A script with a
# line "# vm-mem: MiB" gets a guest of that size; one with a line
# "# vm-systemd: yes" boots systemd as PID 1 (run-vm.sh's TCMU_VM_SYSTEMD).
# Ends with one line "N passed, N failed"; exits non-zero on any failure.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
passed=0 failed=0 skipped=0

for script in "$@"; do
	echo "=== VM: $script"
	out=$(mktemp)
	# A script may ask for a larger guest: a line "# vm-mem: MiB".
	mem=$(sed -n 's/^# vm-mem: *\([0-9][0-9]*\).*/\1/p' "$script" | head -n 1)
	sysd=0
	grep -q '^# vm-systemd: *yes' "$script" && sysd=1
	TCMU_VM_MEM=${mem:-${TCMU_VM_MEM:-2048}} TCMU_VM_SYSTEMD=$sysd \
		"$HERE/run-vm.sh" "$script" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$line" ]; then
		echo "FAIL: $script produced no summary (exit $rc)"
		failed=$((failed + 1))
		continue
	fi
	p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
	s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL: $script exited $rc with no failed case"
		failed=$((failed + 1))
	fi
done

if [ "${TCMU_VM_HANG_CHECK:-1}" = 1 ]; then
	echo "=== VM: a hanging guest must be reported as a failure"
	start=$SECONDS
	TCMU_VM_TIMEOUT=40 "$HERE/run-vm.sh" "$HERE/test_harness_timeout.sh" >/tmp/hang.$$ 2>&1
	rc=$?
	if [ "$rc" = 124 ] && grep -q "console" /tmp/hang.$$; then
		echo "PASS: hanging guest killed after $((SECONDS - start))s, exit 124, console shown"
		passed=$((passed + 1))
	else
		tail -n 20 /tmp/hang.$$
		echo "FAIL: hanging guest: exit $rc after $((SECONDS - start))s"
		failed=$((failed + 1))
	fi
	rm -f /tmp/hang.$$
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
