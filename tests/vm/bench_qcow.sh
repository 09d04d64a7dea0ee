#!/bin/bash
# bench_qcow.sh - part of make bench: our qcow handler beside our file
# handler on a raw image, and beside Debian's tcmu-runner (its qcow
# handler) on the same qcow2 image, in one boot. Every image sits on ext4
# (a loop file on the guest's tmpfs): Debian's handler fails allocating
# writes where fallocate is refused, as on tmpfs.
#
# The qcow2 image (64 KiB clusters) is first written whole through our LUN,
# so every run reads and overwrites allocated clusters, as the issue asks:
# 4 KiB random read and write at queue depth 16, 1 MiB sequential read at
# queue depth 4 (fio, libaio, direct, time based, 1 s ramp). Ours: qcow and
# raw interleaved for TCMU_BENCH_ROUNDS rounds; then Debian's daemon on the
# same image (TCMU_BENCH_PEER=1 and the package installed). Figures only,
# never pass/fail: a table on stdout (ratios ours-qcow/ours-raw and
# ours-qcow/peer-qcow), the samples in $TCMU_RESULTS/bench-qcow.tsv.
# vm-mem: 3072
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"

ROUNDS=${TCMU_BENCH_ROUNDS:-2}
MB=256
MNT=/mnt/bench
BENCH_NAME=bench-qcow
BENCH_TSV=$TCMU_RESULTS/bench-qcow.tsv
BENCH_WLS=(randread-4k-qd16 randwrite-4k-qd16 read-1m-qd4)
export TCMU_DAEMON_DEBUG=0
. "$TCMU_SRC/tests/vm/bench_lib.sh"

trap 'cleanup_all; umount "$MNT" 2>/dev/null' EXIT

setup() {
	ext4_loop "$MNT" 1G &&
		qemu-img create -q -f qcow2 "$MNT/q.qcow2" ${MB}M &&
		dd if=/dev/zero of="$MNT/raw.img" bs=1M count=$MB status=none
}

# Allocate every cluster of the qcow2 image through LUN DEV.
fill() {
	fio --name=fill --filename="$1" --rw=write --bs=1M --iodepth=4 --ioengine=libaio \
		--direct=1 --output="$TCMU_RESULTS/bench-qcow-fill-$2.log"
}

: >"$BENCH_TSV"
lio_load && bus_start && setup || { blog "set-up failed"; exit 1; }
daemon_start && wait_handler qcow 60 || { blog "our daemon did not start"; exit 1; }
lun_create_user q ${MB}M "$MNT/q.qcow2" qcow || exit 1
QDEV=$LUN_SD
lun_create_user r ${MB}M "$MNT/raw.img" file || exit 1
RDEV=$LUN_SD
fill "$QDEV" ours || exit 1
qemu-img info -U "$MNT/q.qcow2" | grep -E "disk size|cluster"	# -U: the LUN holds it
# Interleaved, round by round, so that drift falls on both.
for r in $(seq "$ROUNDS"); do
	for wl in "${BENCH_WLS[@]}"; do
		bench_run ours-qcow "$wl" "$r" "$QDEV"
		bench_run ours-raw "$wl" "$r" "$RDEV"
	done
done
lun_delete q && lun_delete r || exit 1
daemon_stop || blog "our daemon did not stop cleanly"
qemu-img check "$MNT/q.qcow2" | tail -n 2

bench_peer qcow ${MB}M "$MNT/q.qcow2" peer-qcow

bench_table ours-qcow ours-raw peer-qcow
