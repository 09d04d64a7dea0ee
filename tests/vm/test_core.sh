#!/bin/bash
# test_core.sh - the core through the real kernel, in one boot: our daemon
# serves user:file LUNs made by targetcli-fb and by hand in configfs; data
# written through the kernel reads back intact; SCSI answers are checked
# with sg3_utils; the bus service answers targetcli and refuses non-root.
# Run by tests/vm/run-vm.sh (make check-vm).
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"
trap cleanup_all EXIT

IMG=/tmp/luns
mkdir -p "$IMG"
BUS=org.kernel.TCMUService1
ROOT=/org/kernel/TCMUService1

tc_run "lio loads" lio_load || exit 1
tc_run "system bus starts" bus_start || exit 1
# As under systemd: log lines carry their journal priority ("<N>").
JOURNAL_STREAM=1:1 tc_run "daemon starts" daemon_start || exit 1
tc_run "targetcli lists user:file" wait_handler file 60 || exit 1

# --- DBus and targetcli's view --------------------------------------------

help_create() {
	targetcli /backstores/user:file help create | tee /dev/stderr |
		grep -q "absolute path of an existing file"
}
tc_run "targetcli help create shows our ConfigDesc" help_create

bad_cfg() {
	local out
	out=$(targetcli /backstores/user:file create name=bad size=1M \
		cfgstring=/nonexistent/disk.img 2>&1)
	echo "$out"
	echo "$out" | grep -q "cfgstring invalid: /nonexistent/disk.img: cannot stat"
}
tc_run "bad cfgstring refused with our reason" bad_cfg

managed() {	# managed PATH: GetManagedObjects of the manager at PATH
	gdbus call --system --dest $BUS --object-path "$1" \
		--method org.freedesktop.DBus.ObjectManager.GetManagedObjects
}
has_object() {	# has_object MANAGER TEXT: TEXT quoted in its objects
	managed "$1" | tee /dev/stderr | grep -qF "'$2'"
}
tc_run "GetManagedObjects lists the file handler" has_object $ROOT $ROOT/file

check_config() {
	gdbus call --system --dest $BUS --object-path $ROOT/file \
		--method $BUS.CheckConfig "$1"
}
truncate -s 1M "$IMG/ok.img"
check_ok() { check_config "$1" | tee /dev/stderr | grep -q '^(true,'; }
check_refused() { check_config "$1" | tee /dev/stderr | grep -q '^(false,'; }
tc_run "CheckConfig accepts an existing file" check_ok "file/$IMG/ok.img"
tc_run "CheckConfig rejects another subtype's config" check_refused "qcow/$IMG/ok.img"
tc_run "CheckConfig rejects a directory" check_refused "file/$IMG"

as_nobody_refused() {
	local out
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		gdbus call --system --dest $BUS --object-path $ROOT/file \
		--method $BUS.CheckConfig "file/$IMG/ok.img" 2>&1)
	echo "$out"
	echo "$out" | grep -q "AccessDenied"
}
tc_run "non-root CheckConfig refused by bus policy" as_nobody_refused
nobody_denied() {	# nobody_denied GDBUS-CALL-ARGS...: refused with AccessDenied
	local out
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups gdbus call --system "$@" 2>&1)
	echo "$out"
	echo "$out" | grep -q "AccessDenied"
}
tc_run "non-root RegisterHandler refused by bus policy" \
	nobody_denied --dest $BUS --object-path $ROOT/HandlerManager1 \
	--method $BUS.HandlerManager1.RegisterHandler evil "evil handler"
tc_run "non-root may not own an external handler's bus name" \
	nobody_denied --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
	--method org.freedesktop.DBus.RequestName $BUS.HandlerManager1.evil 4
only_our_policy() {	# the bus reads our policy and no peer's
	local files
	files=$(bus_policies_naming_us)
	echo "$files"
	[ "$files" = /usr/share/dbus-1/system.d/org.kernel.TCMUService1.conf ]
}
tc_run "the bus reads no policy naming our service but ours" only_our_policy
tc_run "non-root may still list objects" \
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	gdbus call --system --dest $BUS --object-path $ROOT \
	--method org.freedesktop.DBus.ObjectManager.GetManagedObjects

# --- LUN one: data integrity and SCSI answers ------------------------------

truncate -s 64M "$IMG/lun1.img"
tc_run "create user:file LUN lun1" lun_create_user lun1 64M "$IMG/lun1.img" || exit 1
SD1=$LUN_SD SG1=$LUN_SG

fio_all_back() {	# every byte written is read back and verified
	local out
	out=$(fio_verify "$SD1" 64M --bsrange=4k-256k --iodepth=16 --group_reporting) || {
		echo "$out"
		return 1
	}
	echo "$out"
	grep -E "READ: .*io=64\.0MiB" <<<"$out" && grep -E "WRITE: .*io=64\.0MiB" <<<"$out"
}
tc_run "fio 64 MiB random writes 4k-256k qd16, all read back with crc32c verify" \
	fio_all_back

readcap() {
	local out
	out=$(sg_readcap --16 "$SG1")
	echo "$out"
	echo "$out" | grep -q "Last LBA=131071 " &&
		echo "$out" | grep -q "Logical block length=512 bytes"
}
tc_run "sg_readcap: 131072 blocks of 512 bytes" readcap

inq() {
	local out
	out=$(sg_inq "$SG1")
	echo "$out"
	echo "$out" | grep -q "Vendor identification: LIO-ORG" &&
		echo "$out" | grep -q "Product identification: TCMU device" &&
		echo "$out" | grep -q "version=0x06"
}
tc_run "sg_inq: LIO-ORG TCMU device, SPC-4" inq

vpd83() {
	local serial hex out
	serial=$(sed 's/.*: //' "$CFS/core"/user_*/lun1/wwn/vpd_unit_serial)
	hex=$(printf '%s' "$serial" | tr -dc '0-9a-fA-F' | cut -c1-25 | tr 'A-F' 'a-f')
	out=$(sg_vpd -p 0x83 "$SG1")
	echo "serial=$serial expect 0x6001405$hex"
	echo "$out"
	echo "$out" | grep -q "0x6001405$hex" &&
		echo "$out" | grep -q "vendor id: LIO-ORG" &&
		echo "$out" | grep -q "$serial"
}
tc_run "sg_vpd 0x83: NAA from the unit serial, T10 vendor id" vpd83

vpd80() {
	local serial out
	serial=$(sed 's/.*: //' "$CFS/core"/user_*/lun1/wwn/vpd_unit_serial)
	out=$(sg_vpd -p 0x80 "$SG1")
	echo "$out"
	echo "$out" | grep -q "Unit serial number: $serial"
}
tc_run "sg_vpd 0x80: unit serial from configfs" vpd80

vpdb0() {
	local out
	out=$(sg_vpd -p 0xb0 "$SG1")
	echo "$out"
	# hw_max_sectors left at the kernel's 128: 8 MiB of 512-byte blocks,
	# and the initiator sends 1 MiB I/O whole.
	echo "$out" | grep -q "Maximum transfer length: 16384 blocks" &&
		[ "$(cat "/sys/block/${SD1#/dev/}/queue/max_sectors_kb")" -ge 1024 ]
}
tc_run "sg_vpd 0xb0: maximum transfer length 8 MiB for the default hw_max_sectors" vpdb0

vpdb1() {	# a file on tmpfs: no block device says how it turns
	sg_vpd -p 0xb1 "$SG1" | tee /dev/stderr | grep -q "Medium rotation rate is not reported"
}
tc_run "sg_vpd 0xb1: rotation rate not reported for a file on tmpfs" vpdb1

modes() {
	local out
	out=$(sg_modes -a "$SG1")
	echo "$out"
	echo "$out" | grep -q "DpoFua=1" &&
		echo "$out" | grep -q "Caching, page_control: current" &&
		echo "$out" | grep -q "Control, page_control: current" &&
		echo "$out" | grep -q "Read-Write error recovery"
}
tc_run "sg_modes: caching, control, error recovery pages; DPOFUA" modes

# sg_raw exits with a code per sense: 22 is LBA OUT OF RANGE, 9 INVALID
# COMMAND OPERATION CODE (sg3_utils' exit status table).
past_end() {
	local rc
	# READ(16) of one block at LBA 131072, one past the last.
	sg_raw -r 512 "$SG1" 88 00 00 00 00 00 00 02 00 00 00 00 00 01 00 00
	rc=$?
	echo "sg_raw exit $rc"
	[ "$rc" = 22 ]
}
tc_run "READ past the end: LBA OUT OF RANGE" past_end

bad_opcode() {
	local rc
	sg_raw "$SG1" d5 00 00 00 00 00
	rc=$?
	echo "sg_raw exit $rc"
	[ "$rc" = 9 ]
}
tc_run "unknown opcode: INVALID COMMAND OPERATION CODE" bad_opcode

file_has_data() {
	# Written through the kernel with O_DIRECT: the backing file holds it.
	dd if=/dev/urandom of=/tmp/pattern bs=64k count=4 status=none &&
		dd if=/tmp/pattern of="$SD1" bs=64k seek=100 oflag=direct conv=fsync status=none &&
		cmp /tmp/pattern <(dd if="$IMG/lun1.img" bs=64k skip=100 count=4 status=none)
}
tc_run "data written through the LUN is in the backing file" file_has_data

tc_run "GetManagedObjects lists the device lun1" has_object $ROOT/devices lun1

# --- LUN two: two devices, each with its own thread --------------------------

truncate -s 32M "$IMG/lun2.img"
tc_run "create a second LUN lun2" lun_create_user lun2 32M "$IMG/lun2.img" || exit 1
SD2=$LUN_SD SG2=$LUN_SG

two_threads() {
	local comms
	comms=$(cat /proc/"$DAEMON_PID"/task/*/comm | sort)
	echo "$comms"
	[ "$(echo "$comms" | grep -c '^tcmu-uio')" = 2 ]
}
tc_run "two LUNs, two device threads" two_threads

remove_under_io() {
	local fio_pid rc
	fio_verify "$SD2" 32M --bsrange=4k-64k --iodepth=8 \
		>"$TCMU_RESULTS/fio-lun2.log" 2>&1 &
	fio_pid=$!
	sleep 2
	lun_delete lun1 || { wait $fio_pid; return 1; }
	wait $fio_pid
	rc=$?
	cat "$TCMU_RESULTS/fio-lun2.log"
	return $rc
}
tc_run "deleting lun1 while lun2 does verified I/O disturbs nothing" remove_under_io
tc_run "daemon logged lun1's removal" grep -q "lun1 file.*removed uio" "$TCMU_RESULTS/daemon.log"
no_object() { ! has_object "$@"; }
tc_run "GetManagedObjects no longer lists lun1" no_object $ROOT/devices lun1

# --- a LUN made by hand in configfs, no targetcli ---------------------------

HBA=$CFS/core/user_42
by_hand() {
	local dev=$HBA/hand lundir
	truncate -s 16M "$IMG/hand.img"
	mkdir -p "$dev" &&
		echo "dev_config=file/$IMG/hand.img" >"$dev/control" &&
		echo "dev_size=$((16 * 1024 * 1024))" >"$dev/control" &&
		echo 1 >"$dev/enable" || return 1
	loopback_ensure || return 1
	lundir=$(echo "$CFS/loopback/$LOOPBACK_WWN"/tpgt_*/lun)/lun_42
	local before
	before=$(ls /sys/class/scsi_device | sort)
	mkdir "$lundir" && ln -s "$dev" "$lundir/hand" || return 1
	local hctl="" blk="" i
	for i in $(seq 100); do
		hctl=$(comm -13 <(echo "$before") <(ls /sys/class/scsi_device | sort) | head -n1)
		[ -n "$hctl" ] && blk=$(ls "/sys/class/scsi_device/$hctl/device/block" 2>/dev/null | head -n1)
		[ -n "$blk" ] && break
		sleep 0.1
	done
	[ -n "$blk" ] || { echo "no disk for the hand-made LUN"; return 1; }
	[ -e "/dev/$blk" ] || mknod "/dev/$blk" b $(tr ':' ' ' <"/sys/class/block/$blk/dev")
	fio_verify "/dev/$blk" 16M --iodepth=4
	local rc=$?
	rm -f "$lundir/hand" && rmdir "$lundir"
	return $rc
}
tc_run "LUN made by hand through configfs is served" by_hand

missing_file() {
	! lun_by_hand "$HBA/missing" "file/$IMG/does-not-exist.img" 1048576 &&
		grep "missing file" "$TCMU_RESULTS/daemon.log" | tee /dev/stderr |
		grep -q "does-not-exist.img: cannot stat"
}
tc_run "missing file refused, with the reason in the log" missing_file
tc_run "other LUN still serves after the refusal" fio_verify "$SD2" 8M --iodepth=4

change_medium() {
	truncate -s 48M "$IMG/lun2b.img"
	dd if=/dev/urandom of=/tmp/medpat bs=64k count=4 status=none
	dd if=/tmp/medpat of="$IMG/lun2b.img" bs=64k seek=2 conv=notrunc status=none
	gdbus call --system --dest $BUS --object-path $ROOT/file \
		--method $BUS.ChangeMedium lun2 $((48 * 1024 * 1024)) "file/$IMG/lun2b.img" |
		tee /dev/stderr | grep -q "^(0," || return 1
	grep "config is now '$IMG/lun2b.img'" "$TCMU_RESULTS/daemon.log" || return 1
	# The initiator is told: MEDIUM MAY HAVE CHANGED, then CAPACITY DATA
	# HAS CHANGED, each once, then the LUN is ready.
	local uas="" i reply
	for i in 1 2 3 4; do
		reply=$(python3 "$TCMU_SRC/tests/vm/scsi_cmd.py" "$SG2" 000000000000 | head -n 1)
		echo "TEST UNIT READY: $reply"
		[ "$reply" = "status=0x00" ] && break
		uas+=$(sed -nE 's/.*key=0x6 asc=(0x..) ascq=(0x..).*/ \1\/\2/p' <<<"$reply")
	done
	echo "unit attentions:$uas"
	[ "$uas" = " 0x28/0x00 0x2a/0x09" ] || return 1
	sg_readcap "$SG2" | tee /dev/stderr | grep -q "Last LBA=98303 " &&
		blockdev --flushbufs "$SD2" &&
		cmp /tmp/medpat <(dd if="$SD2" bs=64k skip=2 count=4 iflag=direct status=none) &&
		has_object $ROOT/devices "file/$IMG/lun2b.img"
}
tc_run "ChangeMedium points lun2 at another file and size; the initiator sees 28/00 then 2A/09" \
	change_medium
medium_refused() {
	gdbus call --system --dest $BUS --object-path $ROOT/file \
		--method $BUS.ChangeMedium lun2 1048576 "file/$IMG/nope.img" |
		tee /dev/stderr | grep -q "^(-22, '$IMG/nope.img: cannot stat"
}
tc_run "ChangeMedium to a missing file refused with the reason" medium_refused

tc_run "hand-made device removed" rmdir "$HBA/hand"

# --- an external handler process registers over DBus ------------------------

EXT_PID=""
ext_start() {
	"$TCMU_SRC/examples/ext_handler_ram" >"$TCMU_RESULTS/ext_ram.log" 2>&1 &
	EXT_PID=$!
	wait_handler ram 60
}
tc_run "external handler process registers user:ram" ext_start
ext_check() {	# CheckConfig on user:ram is answered by the external process
	gdbus call --system --dest $BUS --object-path $ROOT/ram \
		--method $BUS.CheckConfig "$1" | tee /dev/stderr | grep -q "$2"
}
tc_run "CheckConfig forwarded to the external handler" ext_check "ram/a/b" "want ram/<label>"
ext_io() {
	lun_create_user ram1 16M disk1 ram || return 1
	dd if=/dev/urandom of=/tmp/rampat bs=64k count=8 status=none &&
		dd if=/tmp/rampat of="$LUN_SD" bs=64k seek=3 oflag=direct status=none &&
		cmp /tmp/rampat <(dd if="$LUN_SD" bs=64k skip=3 count=8 iflag=direct status=none)
}
tc_run "external handler serves a LUN through the kernel" ext_io
tc_run "external handler's LUN deleted" lun_delete ram1
ext_gone() {
	kill -TERM "$EXT_PID"; wait "$EXT_PID"
	local i
	for i in $(seq 30); do
		targetcli ls /backstores | grep -q "user:ram" || return 0
		sleep 1
	done
	echo "user:ram still listed after its process exited"
	return 1
}
tc_run "user:ram disappears when its process exits" ext_gone

# The established libtcmu-register protocol: the process owns
# org.kernel.TCMUService1.HandlerManager1.ram and serves CheckConfig at
# $ROOT/HandlerManager1/ram.
ext_start_established() {
	"$TCMU_SRC/examples/ext_handler_ram" --established \
		>"$TCMU_RESULTS/ext_ram_established.log" 2>&1 &
	EXT_PID=$!
	wait_handler ram 60 &&
		wait_log "external handler ram answers as $BUS.HandlerManager1.ram" 30
}
tc_run "established-protocol handler owns its name and registers user:ram" \
	ext_start_established
tc_run "CheckConfig forwarded to the established-protocol handler" \
	ext_check "ram/x/y" "want ram/<label>"
tc_run "CheckConfig accepted by the established-protocol handler" \
	ext_check "ram/disk9" "(true, 'success')"
tc_run "non-root CheckConfig to the external handler refused by bus policy" \
	nobody_denied --dest $BUS.HandlerManager1.ram \
	--object-path $ROOT/HandlerManager1/ram --method $BUS.CheckConfig ram/x
tc_run "established-protocol user:ram disappears when its process exits" ext_gone
tc_run "lun2 deleted" lun_delete lun2
prio() {	# prio N PATTERN: a daemon line of priority N matches
	grep -E "^<$1>.*$2" "$TCMU_RESULTS/daemon.log" | head -n 3 | tee /dev/stderr | grep -q .
}
tc_run "journal: a device added is info (<6>)" prio 6 "lun1 file\] daemon_dev_serve: added uio"
tc_run "journal: a handler's refusal is an error (<3>)" prio 3 "missing file\] file_open:"
tc_run "journal: handler loading details are debug (<7>)" prio 7 "handler_set_load_file: loaded"
tc_run "daemon stops cleanly on SIGTERM" daemon_stop
tc_run "daemon logged its stop" grep -q "stopped" "$TCMU_RESULTS/daemon.log"

# --- the tests can fail: a daemon whose reads are corrupt is caught ---------

broken_daemon_caught() {
	local rc
	TCMU_HANDLER_PATH=$TCMU_SRC/tests/build/broken daemon_start || return 1
	wait_handler file 60 || return 1
	truncate -s 16M "$IMG/broken.img"
	lun_create_user broken 16M "$IMG/broken.img" || return 1
	if fio_verify "$LUN_SD" 8M --iodepth=4; then
		echo "fio verify PASSED on a LUN whose reads are corrupted"
		rc=1
	else
		echo "fio verify failed, as it must"
		rc=0
	fi
	lun_delete broken
	daemon_stop
	return $rc
}
tc_run "a daemon that corrupts reads fails fio verify" broken_daemon_caught

tc_summary
