#!/bin/bash
# bench.sh - make bench: 4 KiB random I/O through our daemon against the
# kernel's own fileio backstore, both on the same tmpfs, in the same boot,
# and the ratio. Figures only: emulation is slow and noisy, so only the
# ratio within one run means anything, and nothing here passes or fails.
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"
trap cleanup_all EXIT

SECS=${TCMU_BENCH_SECS:-10}
lio_load || exit 1
bus_start || exit 1
# Without -d: per-command debug lines would be what we measure.
TCMU_DAEMON_DEBUG=0 daemon_start || exit 1
wait_handler file 60 || exit 1
truncate -s 256M /tmp/ours.img /tmp/kernel.img
lun_create_user ours 256M /tmp/ours.img || exit 1
OURS=$LUN_SD
lun_create_fileio kfile 256M /tmp/kernel.img || exit 1
KERNEL=$LUN_SD

# iops DEV RW: 4 KiB, queue depth 16, direct I/O, SECS seconds.
iops() {
	fio --name=bench --filename="$1" --rw="$2" --bs=4k --iodepth=16 \
		--ioengine=libaio --direct=1 --time_based --runtime="$SECS" \
		--size=256M --group_reporting --output-format=terse --terse-version=3 |
		awk -F';' -v rw="$2" '{ r = $8; w = $49; print (rw == "randread" ? r : (rw == "randwrite" ? w : r + w)) }'
}

printf '%-12s %12s %12s %8s\n' "4k, qd16" "ours IOPS" "fileio IOPS" "ratio"
for rw in randread randwrite randrw; do
	fio --name=warm --filename="$OURS" --rw=write --bs=1M --size=256M --direct=1 >/dev/null 2>&1
	fio --name=warm --filename="$KERNEL" --rw=write --bs=1M --size=256M --direct=1 >/dev/null 2>&1
	o=$(iops "$OURS" "$rw")
	k=$(iops "$KERNEL" "$rw")
	printf '%-12s %12s %12s %8s\n' "$rw" "$o" "$k" \
		"$(awk -v o="$o" -v k="$k" 'BEGIN { if (k > 0) printf "%.2f", o / k; else print "-" }')"
done
rss=$(awk '/VmHWM/ { print $2 }' /proc/"$DAEMON_PID"/status)
echo "daemon peak RSS: ${rss} kB (the 1 GiB ring map is mostly not resident)"
lun_delete ours
lun_delete kfile
daemon_stop
echo "bench done"
