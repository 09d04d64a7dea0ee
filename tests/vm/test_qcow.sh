#!/bin/bash
# test_qcow.sh - handler_qcow through the real kernel, judged by QEMU's
# own tools (issue 14):
#  - an image made by qemu-img over a backing file, with data written by
#    qemu-io in both, reads through the LUN as qemu-img convert sees it;
#  - fio random writes of 512 B - 128 KiB (unaligned to clusters), crc32c
#    verified; then qemu-img check is clean and qemu-img convert holds
#    byte for byte what the LUN served;
#  - a compressed image (qemu-img convert -c) reads right;
#  - the daemon SIGKILLed in the middle of allocating writes: qemu-img
#    check finds no corruption (leaked clusters at most), and the
#    restarted daemon serves the LUN again.
# One boot, about 3 min under emulation.
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"

D=/tmp/qcow
WRITER=""
qcow_cleanup() {
	[ -n "$WRITER" ] && kill -KILL "$WRITER" 2>/dev/null
	cleanup_all
}
trap qcow_cleanup EXIT
mkdir -p "$D"
QI() { qemu-img "$@"; }

tc_run "lio loads" lio_load || exit 1
tc_run "system bus starts" bus_start || exit 1
tc_run "daemon starts" daemon_start || exit 1
tc_run "targetcli lists user:qcow" wait_handler qcow 60 || exit 1

# lun_reads_as NAME IMAGE: the LUN read whole equals qemu-img convert of
# IMAGE. The LUN holds IMAGE's locks (image_lock.h): qemu-img reads it with
# -U (force share), as beside a running guest.
lun_reads_as() {
	dd if="$LUN_SD" of="$D/$1.lun" bs=1M iflag=direct status=none &&
		QI convert -U -O raw "$2" "$D/$1.want" && cmp "$D/$1.lun" "$D/$1.want"
}

backing_chain() {
	cd "$D" || return 1
	QI create -q -f qcow2 base.qcow2 64M &&
		qemu-io -c 'write -P 0xaa 0 1M' -c 'write -P 0xbb 8M 64k' base.qcow2 >/dev/null &&
		QI create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2 64M &&
		qemu-io -c 'write -P 0xcc 512k 64k' -c 'write -P 0xdd 9000k 3k' top.qcow2 \
			>/dev/null &&
		lun_create_user chain 64M "$D/top.qcow2" qcow && lun_reads_as chain top.qcow2
}
tc_run "qemu-io data over a backing file reads through the LUN as qemu-img sees it" \
	backing_chain || exit 1

fio_then_qemu() {
	fio_verify "$LUN_SD" 48M --bsrange=512-128k --blockalign=512 --iodepth=16 &&
		dd if="$LUN_SD" of="$D/served" bs=1M iflag=direct status=none &&
		lun_delete chain && QI check top.qcow2 &&
		QI convert -O raw top.qcow2 "$D/converted" && cmp "$D/served" "$D/converted"
}
tc_run "fio 512 B-128 KiB verified; qemu-img check clean; qemu-img convert holds what the LUN served" \
	fio_then_qemu

compressed() {
	# Text that compresses, different in every line, then zeros.
	seq -f "line %.0f of a compressible LUN" 1 900000 | head -c 24M >"$D/rnd" &&
		head -c 8M /dev/zero >>"$D/rnd" &&
		QI convert -q -c -f raw -O qcow2 "$D/rnd" "$D/comp.qcow2" &&
		QI check "$D/comp.qcow2" | tee /dev/stderr | grep -qE " [1-9][0-9.]*% compressed" &&
		lun_create_user comp 32M "$D/comp.qcow2" qcow &&
		dd if="$LUN_SD" bs=1M iflag=direct status=none | cmp - "$D/rnd" &&
		lun_delete comp
}
tc_run "a compressed image (qemu-img convert -c) reads right" compressed

# --- SIGKILL during allocating writes ---------------------------------------
kill_mid_alloc() {
	local rc out
	QI create -q -f qcow2 "$D/alloc.qcow2" 256M &&
		lun_create_user alloc 256M "$D/alloc.qcow2" qcow || return 1
	# --thread: one process, so that killing it stops its writes (a job
	# forked by fio would write on over what the next test writes).
	fio --name=alloc --filename="$LUN_SD" --rw=randwrite --bsrange=4k-64k \
		--iodepth=16 --ioengine=libaio --direct=1 --time_based --runtime=120 \
		--thread >/dev/null 2>&1 &
	WRITER=$!
	sleep 8
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=""
	out=$(QI check "$D/alloc.qcow2" 2>&1)
	rc=$?
	echo "$out" | tail -n 5
	echo "qemu-img check exit $rc (0 clean, 3 leaks only)"
	{ [ $rc = 0 ] || [ $rc = 3 ]; } && ! grep -qE "ERROR|[Cc]orrupt" <<<"$out"
}
tc_run "SIGKILL mid-allocation: qemu-img check finds no corruption" kill_mid_alloc
serves_again() {
	daemon_start || return 1
	wait_log "tcmu_recover_dev: recovered" 60 || return 1
	kill -KILL "$WRITER" 2>/dev/null
	wait "$WRITER" 2>/dev/null
	WRITER=""
	fio_verify "$LUN_SD" 16M --offset=200M
}
tc_run "the restarted daemon serves the LUN again" serves_again

tc_run "LUNs removed, daemon exits cleanly" cleanup_all
tc_summary
