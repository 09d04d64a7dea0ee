#!/bin/bash
# test_durability.sh - never acknowledge what was lost (issue 26), through
# the real kernel:
#  - file and qcow LUNs, write cache on, their images on ext2 on a
#    device-mapper device that fails every I/O for a moment under dirty
#    data: the SYNCHRONIZE CACHE then fails, and so does every later one
#    once the device is healthy again (Linux told its one fsync and
#    forgot), until the LUN is given its config again.
# One boot.
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"
trap cleanup_all EXIT

tc_run "lio loads" lio_load || exit 1
tc_run "system bus starts" bus_start || exit 1
tc_run "daemon starts" daemon_start || exit 1
tc_run "targetcli lists user:qcow" wait_handler qcow 60 || exit 1

# --- A failed flush stays failed (issue 26) ---------------------------------
# The file and qcow LUNs' images on ext2 (no journal, so nothing but the
# data's writeback fails, and Linux reports that to one fsync and then
# forgets it) on a device-mapper device whose table turns to "error"
# under dirty data, and back. No udev in the guest: libdevmapper makes
# the nodes itself.
export DM_DISABLE_UDEV=1
FLAKY=/mnt/flaky FLAKY_LOOP=""
flaky_table() {
	local n t
	n=$(blockdev --getsz "$FLAKY_LOOP") || return 1
	t="0 $n linear $FLAKY_LOOP 0"
	[ "$1" = error ] && t="0 $n error"
	dmsetup suspend --nolockfs flaky && dmsetup load flaky --table "$t" &&
		dmsetup resume flaky && echo "flaky: $1"
}
flaky_luns() {
	modprobe dm-mod && modprobe loop && truncate -s 128M /tmp/flaky.img &&
		FLAKY_LOOP=$(losetup -f --show /tmp/flaky.img) &&
		dmsetup create flaky --table "0 $(blockdev --getsz "$FLAKY_LOOP") linear $FLAKY_LOOP 0" &&
		mkfs.ext2 -q -F /dev/mapper/flaky && mkdir -p "$FLAKY" &&
		mount -t ext2 -o errors=continue /dev/mapper/flaky "$FLAKY" &&
		truncate -s 32M "$FLAKY/f.img" && qemu-img create -q -f qcow2 "$FLAKY/q.qcow2" 32M &&
		lun_create_user ffile 32M "$FLAKY/f.img" file && SGF=$LUN_SG SDF=$LUN_SD &&
		lun_create_user fqcow 32M "$FLAKY/q.qcow2" qcow && SGQ=$LUN_SG SDQ=$LUN_SD &&
		echo 1 >"$(lun_cfs ffile)/attrib/emulate_write_cache" &&
		echo 1 >"$(lun_cfs fqcow)/attrib/emulate_write_cache" &&
		clear_ua "$SGF" && clear_ua "$SGQ"
}
SYNC10=35000000000000000000
tc_run "file and qcow LUNs on ext2 on a device-mapper device, write cache on" flaky_luns
dirty_then_fail() {
	dd if=/dev/urandom of="$SDF" bs=64k count=16 oflag=direct status=none &&
		dd if=/dev/urandom of="$SDQ" bs=64k count=16 oflag=direct status=none &&
		flaky_table error &&
		sense_is "$SGF" "status=0x02 key=0x3" "$SYNC10" &&
		sense_is "$SGQ" "status=0x02 key=0x3" "$SYNC10"
}
tc_run "writes acknowledged, the device fails: SYNCHRONIZE CACHE fails on both" dirty_then_fail
# The old code answered GOOD here: the file system had told its one fsync.
still_failed() {
	flaky_table linear &&
		sense_is "$SGF" "status=0x02 key=0x3 asc=0x0c ascq=0x00" "$SYNC10" &&
		sense_is "$SGQ" "status=0x02 key=0x3 asc=0x0c ascq=0x00" "$SYNC10" &&
		figure_is ffile core.flush_failed 1 && figure_is fqcow core.flush_failed 1 &&
		grep "until the LUN is given its config again" "$TCMU_RESULTS/daemon.log" |
		grep -q "ffile file"
}
tc_run "the device healthy again: the next SYNCHRONIZE CACHE is still not GOOD" still_failed
repointed() {
	local d cfg
	d=$(lun_cfs ffile) && cfg=$(cat "$d/attrib/dev_config") &&
		echo -n "$cfg" >"$d/attrib/dev_config" && clear_ua "$SGF" &&
		wait_log "[ffile file] dev_reconfig_done: flushes no longer refused" 10 || return 1
	# Flushes reach the handler again. A writeback error the file
	# system had still to tell (ext2 went on writing its metadata while
	# the table was "error") may fail one more fdatasync: with nothing
	# acknowledged in doubt since the re-point, that does not latch, and
	# the next flush is GOOD.
	for _ in 1 2 3; do
		sense_is "$SGF" "status=0x00" "$SYNC10" && return 0
	done
	return 1
}
tc_run "given its config again, the file LUN flushes" repointed
flaky_gone() {
	lun_delete ffile && lun_delete fqcow && umount "$FLAKY" &&
		dmsetup remove flaky && losetup -d "$FLAKY_LOOP"
}
tc_run "LUNs on the failing device deleted" flaky_gone

tc_run "daemon stops cleanly" daemon_stop
tc_summary
