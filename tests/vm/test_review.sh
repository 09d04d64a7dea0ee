#!/bin/bash
# test_review.sh - the defects a review of the core found, through the real
# kernel: LUNs made by hand in configfs (no serial, different block
# sizes), EXTENDED COPY between them refused and both deleted with no
# hang, distinct identities, transfer lengths that disagree with the CDB,
# UNMAP on a block device without WRITE ZEROES, and a slow CheckConfig
# that does not stall the daemon. One boot.
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"
trap cleanup_all EXIT

IMG=/tmp/review
mkdir -p "$IMG"
BUS=org.kernel.TCMUService1
ROOT=/org/kernel/TCMUService1
# The file handler and the test plugins, side by side.
export TCMU_HANDLER_PATH=$TCMU_SRC/tests/build/vm-plugins

tc_run "lio loads" lio_load || exit 1
tc_run "system bus starts" bus_start || exit 1
tc_run "daemon starts" daemon_start || exit 1
tc_run "targetcli lists user:file" wait_handler file 60 || exit 1

be16() { printf '%04x' "$1"; }
be32() { printf '%08x' "$1"; }
be64() { printf '%016x' "$1"; }
hex() { od -An -v -tx1 | tr -d ' \n'; }

# --- LUNs made by hand: no serial, or a serial; block sizes 512 and 4096 --

# by_hand NAME BLOCK-SIZE HBA [SERIAL]: a user:file device in configfs,
# with SERIAL written (as rtslib does, after enable and before the LUN is
# exported) or none, mapped on the loopback target with targetcli (sets
# LUN_SD, LUN_SG). One HBA each: targetcli removes a device's HBA with it.
by_hand() {
	local name=$1 bs=$2 dev=$CFS/core/user_$3/$1 serial=${4:-}
	truncate -s 16M "$IMG/$name.img"
	mkdir -p "$dev" &&
		echo "dev_config=file/$IMG/$name.img" >"$dev/control" &&
		echo "dev_size=$((16 * 1024 * 1024))" >"$dev/control" &&
		echo "hw_block_size=$bs" >"$dev/control" &&
		echo 1 >"$dev/enable" || return 1
	if [ -n "$serial" ]; then
		echo "$serial" >"$dev/wwn/vpd_unit_serial" || return 1
	fi
	_lun_record "$name" /backstores/user:file
	_lun_map "$name" "/backstores/user:file/$name"
}

# The LUN's binary NAA designator from VPD 0x83 (hex), or nothing.
naa_hex() {
	sc "$1" 120183040000 --in 1024 | sed -n 2p | python3 -c '
import sys
d = bytes.fromhex(sys.stdin.read().strip())
i = 4
while i + 4 <= len(d):
    l = d[i + 3]
    if (d[i + 1] & 0x0f) == 3 and l == 16:
        print(d[i + 4:i + 20].hex()); break
    i += 4 + l'
}

tc_run "LUN made by hand without a serial (1)" by_hand rvns1 512 5 || exit 1
SGA=$LUN_SG
tc_run "LUN made by hand without a serial (2)" by_hand rvns2 512 6 || exit 1
SGB=$LUN_SG
clear_ua "$SGA"
clear_ua "$SGB"
distinct_ids() {
	local a b
	a=$(naa_hex "$SGA") && b=$(naa_hex "$SGB") || return 1
	sg_vpd -p 0x83 "$SGA"
	sg_vpd -p 0x83 "$SGB"
	echo "NAA designators: '$a' and '$b'"
	[ -z "$a" ] || [ "$a" != "$b" ]
}
tc_run "two LUNs without serials: different (or no) NAA designators (sg_vpd 0x83)" \
	distinct_ids
tc_run "serial-less LUN 1 deleted" lun_delete rvns1
tc_run "serial-less LUN 2 deleted" lun_delete rvns2

# --- transfer lengths that disagree with the CDB ----------------------------

truncate -s 16M "$IMG/xfer.img"
tc_run "create user:file LUN for transfer lengths (hw_max_sectors=256)" \
	lun_create_user rvx 16M "$IMG/xfer.img" file hw_max_sectors=256 || exit 1
SGX=$LUN_SG SDX=$LUN_SD
clear_ua "$SGX"
max_xfer_kept() {	# an hw_max_sectors the admin chose is what B0 says
	sg_vpd -p 0xb0 "$SGX" | tee /dev/stderr |
		grep -q "Maximum transfer length: 256 blocks" &&
		[ "$(cat "/sys/block/${SDX#/dev/}/queue/max_sectors_kb")" -eq 128 ]
}
tc_run "sg_vpd 0xb0: an hw_max_sectors set at creation is the maximum transfer" max_xfer_kept
head -c 1024 /dev/urandom >"$IMG/old"
dd if="$IMG/old" of="$SDX" bs=512 seek=100 oflag=direct status=none
short_write() {	# WRITE(10) of 2 blocks carrying 1 block of data
	sense_is "$SGX" "status=0x02 key=0x5 asc=0x0e ascq=0x03" \
		"2a00$(be32 100)00$(be16 2)00" --out-hex "$(head -c 512 /dev/zero | hex)" &&
		cmp "$IMG/old" <(dd if="$SDX" bs=512 skip=100 count=2 iflag=direct status=none)
}
tc_run "WRITE with too little data (SG_IO): refused with sense, nothing written" short_write
long_write() {	# WRITE(10) of 1 block carrying 2 blocks of data
	sense_is "$SGX" "status=0x02 key=0x5 asc=0x0e ascq=0x03" \
		"2a00$(be32 100)00$(be16 1)00" --out-hex "$(head -c 1024 /dev/zero | hex)" &&
		cmp "$IMG/old" <(dd if="$SDX" bs=512 skip=100 count=2 iflag=direct status=none)
}
tc_run "WRITE with too much data: refused with sense, nothing written" long_write
read_underflow() {	# READ(10) of 1 block into a 2-block buffer
	local out
	out=$(sc "$SGX" "2800$(be32 100)00$(be16 1)00" --in 1024 --resid)
	echo "$out" | head -c 300
	[[ "$(sed -n 1p <<<"$out")" == "status=0x00 resid=512" ]] &&
		[ "$(sed -n 2p <<<"$out")" = "$(head -c 512 "$IMG/old" | hex)" ]
}
tc_run "READ(10) into a larger buffer: GOOD, resid 512, only the block's data" read_underflow
read_overflow() {	# READ(16) of 2 blocks into a 1-block buffer
	local out
	out=$(sc "$SGX" "8800$(be64 100)$(be32 2)0000" --in 512 --resid)
	echo "$out" | head -c 300
	[[ "$(sed -n 1p <<<"$out")" == "status=0x00 resid=0" ]] &&
		[ "$(sed -n 2p <<<"$out")" = "$(head -c 512 "$IMG/old" | hex)" ]
}
tc_run "READ(16) into a smaller buffer: GOOD, the first block's data" read_overflow
wv_short() {	# WRITE AND VERIFY(10) of 2 blocks carrying 1
	sense_is "$SGX" "status=0x02 key=0x5 asc=0x0e ascq=0x03" \
		"2e00$(be32 100)00$(be16 2)00" --out-hex "$(head -c 512 /dev/zero | hex)" &&
		cmp "$IMG/old" <(dd if="$SDX" bs=512 skip=100 count=2 iflag=direct status=none)
}
tc_run "WRITE AND VERIFY with too little data: refused, nothing written" wv_short
tc_run "transfer-length LUN deleted" lun_delete rvx

# --- UNMAP on a block device without WRITE ZEROES ---------------------------

# null_blk: memory backed, discard but no WRITE ZEROES, 4096-byte blocks.
nullb() {
	modprobe null_blk nr_devices=1 gb=1 bs=4096 memory_backed=1 discard=1 || return 1
	_ensure_node b nullb0 /sys/block/nullb0/dev || return 1
	echo "discard_max_bytes=$(cat /sys/block/nullb0/queue/discard_max_bytes)" \
		"write_zeroes_max_bytes=$(cat /sys/block/nullb0/queue/write_zeroes_max_bytes)"
	[ "$(cat /sys/block/nullb0/queue/write_zeroes_max_bytes)" = 0 ]
}
tc_run "null_blk device with discard and no WRITE ZEROES" nullb || exit 1
tc_run "create user:file LUN on the block device" lun_create_user rvb 64M /dev/nullb0 || exit 1
SGN=$LUN_SG
clear_ua "$SGN"
tc_run "VPD 0xB1 of a LUN on a non-rotating block device: non-rotating" \
	sh -c "sg_vpd -p 0xb1 $SGN | tee /dev/stderr | grep -q 'Non-rotating medium'"
tc_run "READ CAPACITY(16): thin provisioned, LBPRZ 0 (discard promises no zeros)" \
	sh -c "sg_readcap --16 $SGN | tee /dev/stderr | grep -q 'lbpme=1, lbprz=0'"
tc_run "UNMAP of an aligned range: GOOD" sg_unmap --force --lba=8 --num=64 "$SGN"
tc_run "UNMAP of a range not aligned to the device's 4 KiB: GOOD" \
	sg_unmap --force --lba=3 --num=5 "$SGN"
ws_unmap_zeroes() {	# WRITE SAME UNMAP of zeros must still read back zeros
	head -c 65536 /dev/urandom | dd of="$LUN_SD" bs=512 seek=1024 oflag=direct status=none &&
		head -c 512 /dev/zero >"$IMG/zero" &&
		sg_write_same --16 --unmap --in="$IMG/zero" --lba=1024 --num=128 "$SGN" &&
		cmp <(head -c 65536 /dev/zero) \
			<(dd if="$LUN_SD" bs=512 skip=1024 count=128 iflag=direct status=none)
}
tc_run "WRITE SAME UNMAP of zeros on it reads back zeros" ws_unmap_zeroes
tc_run "block-device LUN deleted" lun_delete rvb

# --- a slow CheckConfig does not stall the daemon ---------------------------

tc_run "the slow-check test handler is listed" wait_handler slowcheck 60
slow_check() {
	local start=$SECONDS pid
	gdbus call --system --dest $BUS --object-path $ROOT/slowcheck \
		--method $BUS.CheckConfig "slowcheck/x" >"$IMG/slow.out" 2>&1 &
	pid=$!
	sleep 1
	bus_alive || { echo "bus call blocked behind the check"; return 1; }
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "the check ended before the bus call: proves nothing"
		return 1
	fi
	echo "bus answered after $((SECONDS - start)) s while the check ran"
	wait "$pid"
	cat "$IMG/slow.out"
	grep -q "(true, 'success')" "$IMG/slow.out"
}
tc_run "a slow CheckConfig runs off the main loop: the bus still answers" slow_check

# --- four LUNs at queue depth 64, data verified ------------------------------
# The I/O path as fio drives it hardest here: reads and writes on the
# device thread (inline) and on I/O threads, four devices at once.

four_luns_qd64() {
	local i devs=() args=() rc=0
	for i in 1 2 3 4; do
		truncate -s 24M "$IMG/q$i.img"
		lun_create_user "rvq$i" 24M "$IMG/q$i.img" || return 1
		clear_ua "$LUN_SG"
		devs+=("$LUN_SD")
	done
	for i in 0 1 2 3; do
		args+=(--name="lun$i" --filename="${devs[$i]}")
	done
	fio --size=16M --rw=randwrite --bsrange=4k-128k --iodepth=64 --ioengine=libaio \
		--direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--verify_state_save=0 --exitall_on_error=1 "${args[@]}" || rc=1
	for i in 1 2 3 4; do
		lun_delete "rvq$i" || rc=1
	done
	return $rc
}
tc_run "four LUNs at once, fio random writes 4k-128k qd64 each, crc32c verified" four_luns_qd64

# --- EXTENDED COPY between LUNs of different block sizes -------------------
# Last: on a daemon that leaks the copy's reference, the second deletion
# never returns and the guest's time-out ends the run.

tc_run "LUN made by hand, 512-byte blocks" \
	by_hand rv512 512 7 1111aaaa-2222-4333-8444-555566667777 || exit 1
SGA=$LUN_SG
tc_run "LUN made by hand, 4096-byte blocks" \
	by_hand rv4k 4096 8 8888bbbb-9999-4aaa-8bbb-ccccddddeeee || exit 1
SGB=$LUN_SG
clear_ua "$SGA"
clear_ua "$SGB"
tc_run "the second LUN reports 4096-byte blocks" \
	sh -c "sg_readcap $SGB | tee /dev/stderr | grep -q 'Logical block length=4096'"
xcopy_mismatch() {
	local a b list
	a=$(naa_hex "$SGA") && b=$(naa_hex "$SGB") || return 1
	echo "NAA a=$a b=$b"
	[ -n "$a" ] && [ -n "$b" ] || { echo "no NAA designator to name"; return 1; }
	# header (list id 0, 2 CSCDs = 64 bytes, one 28-byte segment), CSCDs,
	# a block-to-block segment: 8 blocks from LBA 0 of A to LBA 0 of B.
	# B's DISK BLOCK LENGTH is 0 (not given): only the LUN found by its
	# NAA says 4096, after the lookup that takes a reference.
	list="00000040""00000000""0000001c""00000000"
	list+="e4000000""01030010""$a""00000000""00000200"
	list+="e4000000""01030010""$b""00000000""00000000"
	list+="02000018""00000001""00000008""$(be64 0)$(be64 0)"
	sense_is "$SGA" "status=0x02 key=0x5 asc=0x26" \
		"83000000000000000000$(be32 $((${#list} / 2)))0000" --out-hex "$list"
}
tc_run "EXTENDED COPY between LUNs of different block sizes: refused" xcopy_mismatch
# A hang here (the daemon stuck on a leaked reference) stalls the guest:
# run-vm.sh's time-out then fails the run, console shown.
delete_no_hang() {
	lun_delete "$1" && bus_alive
}
tc_run "the 512-byte LUN deleted with targetcli, no hang" delete_no_hang rv512
tc_run "the 4096-byte LUN deleted with targetcli, no hang" delete_no_hang rv4k


# --- Removing the source of a running EXTENDED COPY (issue 27, item 1) -----
# The copy's destination (user:hang) holds its writes; the source's
# backstore is removed meanwhile, by the rmdir in configfs that targetcli's
# delete does (targetcli itself takes 5-12 s a command in this emulated
# guest; the source is unmapped first, as a LUN's unmapping waits for the
# fabric's own commands). The kernel's rmdir waits for the daemon's answer:
# the main loop never waits for the copy, so the rmdir returns within 5 s
# and the bus answers; released, the copy's next read of the gone source
# ends it with COPY ABORTED, COPY TARGET DEVICE NOT REACHABLE.
truncate -s 16M "$IMG/xdst.img" "$IMG/xsrc.img"
tc_run "user:hang LUN, the copy's destination" \
	lun_create_user xdst 16M "$IMG/xdst.img" hang || exit 1
SGD=$LUN_SG
tc_run "user:file LUN, the copy's source" lun_create_user xsrc 16M "$IMG/xsrc.img" || exit 1
SGS=$LUN_SG
clear_ua "$SGD"
clear_ua "$SGS"
XCOPY_OUT=$IMG/xcopy.out
xcopy_source_gone() {
	local d s list pid rpid dir t0 took i rc=0
	d=$(naa_hex "$SGD") && s=$(naa_hex "$SGS") || return 1
	[ -n "$d" ] && [ -n "$s" ] || { echo "no NAA designator to name"; return 1; }
	_tcli "/loopback/$LOOPBACK_WWN/luns" delete "lun=${_LUN_NUM[xsrc]}" >/dev/null ||
		return 1
	clear_ua "$SGD"		# REPORTED LUNS DATA HAS CHANGED
	dir=$(lun_cfs xsrc) || return 1
	# 4096 blocks (2 MiB, two of the daemon's 1 MiB steps) from the
	# source's LBA 0 to the destination's.
	list="00000040""00000000""0000001c""00000000"
	list+="e4000000""01030010""$s""00000000""00000200"
	list+="e4000000""01030010""$d""00000000""00000200"
	list+="02000018""00000001""00001000""$(be64 0)$(be64 0)"
	touch "$IMG/xdst.img.hang"
	sc "$SGD" "83000000000000000000$(be32 $((${#list} / 2)))0000" \
		--out-hex "$list" >"$XCOPY_OUT" 2>&1 &
	pid=$!
	wait_log "[xdst hang] hang_look: holding writes" 10 || rc=1
	sleep 1
	kill -0 "$pid" 2>/dev/null || { echo "the copy ended before the removal:"; \
		cat "$XCOPY_OUT"; rm -f "$IMG/xdst.img.hang"; return 1; }
	# In the background: a daemon that waits for the copy leaves the
	# rmdir waiting until the hold below is let go.
	t0=$(date +%s%N)
	rmdir "$dir" &
	rpid=$!
	for i in $(seq 50); do
		kill -0 "$rpid" 2>/dev/null || break
		sleep 0.1
	done
	took=$((($(date +%s%N) - t0) / 1000000))
	if kill -0 "$rpid" 2>/dev/null; then
		echo "the rmdir still waits after $took ms (the copy still held)"
		rc=1
	else
		echo "the source's backstore removed in $took ms (the copy still held)"
	fi
	bus_alive || { echo "the bus did not answer after the removal"; rc=1; }
	kill -0 "$pid" 2>/dev/null || { echo "the copy ended before its release"; rc=1; }
	rm -f "$IMG/xdst.img.hang"
	wait "$rpid" || rc=1
	rmdir "$(dirname "$dir")" 2>/dev/null	# its HBA, as targetcli does
	lun_forget xsrc
	wait "$pid"
	cat "$XCOPY_OUT"
	head -n 1 "$XCOPY_OUT" | grep -q "status=0x02 .*key=0xa asc=0x0d ascq=0x02" ||
		{ echo "want COPY ABORTED, 0D/02"; rc=1; }
	return $rc
}
tc_run "EXTENDED COPY's source removed mid-copy: rmdir within 5 s, bus answers, COPY ABORTED" \
	xcopy_source_gone
tc_run "the removed source is freed once the copy lets go" \
	wait_log "[xsrc file] dev_reaper: the handler's last commands completed: freed" 20
tc_run "the copy's destination deleted" lun_delete xdst

tc_run "daemon stops cleanly" daemon_stop
tc_summary
