#!/bin/bash
# run-check.sh - make check: every stage in turn (host unit tests, the
# same under ASan/UBSan and under ThreadSanitizer, host checks of the
# service files, of what a first run says, of QEMU's image locks against
# our LUNs and of the Debian package (built and linted, not installed),
# tcmu-sim on good and broken handlers, 45 s of each fuzzer, the real
# kernel, handler_rbd on a real Ceph cluster, handler_glfs on a real
# Gluster volume), each ending in "N passed, N failed"; then one grand
# total line. Exits non-zero if any stage failed or printed no summary.
set -u
cd "$(dirname "$0")/.."
total_p=0 total_f=0 total_s=0 bad=0

stage() {	# stage NAME COMMAND...
	local name=$1 out rc line p f s
	shift
	echo "=== $name: $*"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$line" ]; then
		echo "=== $name: no summary line (exit $rc)"
		total_f=$((total_f + 1)) bad=1
		return
	fi
	line=${line#*: }
	p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
	s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
	total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + ${s:-0}))
	if [ "$rc" != 0 ]; then
		bad=1
		[ "$f" = 0 ] && total_f=$((total_f + 1)) && echo "=== $name: exit $rc"
	fi
}

stage "unit tests" make --no-print-directory check-unit
stage "unit tests under ASan/UBSan" make --no-print-directory check-sanitize
stage "unit tests under ThreadSanitizer" make --no-print-directory check-tsan
stage "service files" tests/host/test_service_files.sh
stage "first contact" tests/host/test_first_contact.sh
stage "image locks" tests/host/test_image_locks.sh
stage "Debian package" make --no-print-directory check-deb
stage "tcmu-sim" make --no-print-directory check-sim
stage "fuzz, 45 s per target" make --no-print-directory fuzz FUZZ_SECONDS=45
stage "real kernel" make --no-print-directory check-vm
stage "rbd on a real Ceph cluster, host" env BENCH_SECONDS=2 make --no-print-directory check-rbd-host
stage "rbd on a real Ceph cluster, real kernel" make --no-print-directory check-rbd-vm
stage "glfs on a real Gluster volume, host" env BENCH_SECONDS=2 make --no-print-directory check-glfs-host
stage "glfs on a real Gluster volume, real kernel" make --no-print-directory check-glfs-vm

echo "=== make check total"
if [ "$total_s" -gt 0 ]; then
	echo "$total_p passed, $total_f failed, $total_s skipped"
else
	echo "$total_p passed, $total_f failed"
fi
[ "$bad" = 0 ] && [ "$total_f" = 0 ]
