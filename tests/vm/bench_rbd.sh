#!/bin/bash
# bench_rbd.sh - part of make bench (make bench-rbd alone): our rbd handler
# through the real kernel beside Debian's tcmu-runner (its rbd handler) on
# the same image of the same single-node Ceph cluster, which runs inside
# this guest (tests/cluster/ceph.sh, on ext4), in one boot; and the
# kernel's own fileio backstore on an ext4 file as a yardstick for what
# the guest can do. 4 KiB random read and write at queue depth 16, 1 MiB
# sequential read and write at queue depth 4 (fio, libaio, direct), the
# LUNs' write cache off (the kernel's default), osd_op_timeout 30.
# Figures only, never pass/fail: a table on stdout, the samples in
# $TCMU_RESULTS/bench-rbd.tsv. Slow under emulation: the cluster alone
# does a few hundred 4 KiB IOPS here.
# vm-mem: 4096
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"

ROUNDS=${TCMU_BENCH_ROUNDS:-1}
MNT=/mnt/ceph
DIR=$MNT/cluster
BENCH_NAME=bench-rbd
BENCH_TSV=$TCMU_RESULTS/bench-rbd.tsv
BENCH_WLS=(randread-4k-qd16 randwrite-4k-qd16 read-1m-qd4 write-1m-qd4)
export TCMU_DAEMON_DEBUG=0
. "$TCMU_SRC/tests/vm/bench_lib.sh"

trap 'cleanup_all; "$TCMU_SRC/tests/cluster/ceph.sh" stop "$DIR" >/dev/null 2>&1; umount "$MNT" 2>/dev/null' EXIT

: >"$BENCH_TSV"
lio_load && ext4_loop "$MNT" 3G || { blog "set-up failed"; exit 1; }
OSD_BLOCK_SIZE=2G CEPH_WAIT=400 "$TCMU_SRC/tests/cluster/ceph.sh" start "$DIR" ||
	{ blog "the cluster did not start"; exit 1; }
export CEPH_CONF=$DIR/ceph.conf
timeout 120 rbd create rbd/b --size 256M || exit 1
# Written whole first, so no run reads objects that do not exist yet.
bus_start && daemon_start && wait_handler rbd 60 || { blog "our daemon did not start"; exit 1; }
lun_create_user ours 256M "rbd/b;osd_op_timeout=30" rbd || exit 1
fio --name=fill --filename="$LUN_SD" --rw=write --bs=1M --iodepth=4 --ioengine=libaio \
	--direct=1 --output="$TCMU_RESULTS/bench-rbd-fill.log" || exit 1
bench_rounds ours-rbd "$LUN_SD"
lun_delete ours || exit 1
daemon_stop || blog "our daemon did not stop cleanly"

bench_peer rbd 256M "rbd/b;osd_op_timeout=30" peer-rbd
lun_delete peer 2>/dev/null
daemon_stop

truncate -s 256M "$MNT/fileio.img"
lun_create_fileio kernel 256M "$MNT/fileio.img" && bench_rounds kernel-fileio "$LUN_SD"

bench_table ours-rbd peer-rbd kernel-fileio
