#!/bin/bash
# test_recovery.sh - the daemon SIGKILLed in the middle of queue-depth-16
# writes and restarted, TCMU_RECOVERY_CYCLES (5) times in a row, through
# the real kernel (issue 13). Each cycle: recovery_io.py writes 4 KiB
# blocks with O_DIRECT from 16 threads to a user:file LUN on tmpfs,
# logging each write once it is acknowledged; the daemon is killed after a
# few hundred, restarted a second later, and must
#  - serve the LUN again within 30 s (new writes acknowledged),
#  - let the writes in flight at the kill end (the writer exits once told
#    to; none of its threads, nor any other process, stuck in D state),
#  - have every write acknowledged before (and after) the kill read back
#    intact, and
#  - say in its log that it blocked the device, reset its ring and
#    unblocked it (tcmu_recover_dev), and that it failed the netlink
#    events left waiting (tcmu_recover_netlink_block).
# At the end: every cycle's acknowledged writes still intact, and the
# kernel never saw an answer for a command it did not have (it logs
# "ring is broken" then). About 10-15 s a cycle under emulation.
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"

IMG=/tmp/recovery		# its own tmpfs: the LUN's file and the logs
WORK=$IMG/io
CYCLES=${TCMU_RECOVERY_CYCLES:-5}
LUN_MB=128
BLOCKS=$((LUN_MB * 256))	# 4 KiB blocks
WRITER=""
PYIO=(python3 "$TCMU_SRC/tests/vm/recovery_io.py")

# Writes acknowledged in DIR so far.
acks() {
	if [ -f "$1/acks" ]; then wc -l <"$1/acks"; else echo 0; fi
}

# shellcheck disable=SC2317 # run by the EXIT trap
recovery_cleanup() {
	local d
	if [ -n "$WRITER" ]; then
		touch "$WORK/stop"
		kill -KILL "$WRITER" 2>/dev/null
	fi
	mkdir -p "$TCMU_RESULTS/recovery"
	for d in "$WORK"/c*; do
		[ -d "$d" ] || continue
		cp "$d/fails" "$TCMU_RESULTS/recovery/${d##*/}.fails" 2>/dev/null
		acks "$d" >"$TCMU_RESULTS/recovery/${d##*/}.acks"
	done
	cleanup_all
	umount "$IMG" 2>/dev/null
	return 0
}
trap recovery_cleanup EXIT

tc_run "lio loads" lio_load || exit 1
tc_run "system bus starts" bus_start || exit 1
tc_run "daemon starts" daemon_start || exit 1
tc_run "targetcli lists user:file" wait_handler file 60 || exit 1

setup() {
	mkdir -p "$IMG" &&
		mount -t tmpfs -o "size=$((LUN_MB + 64))M" tcmu-recovery "$IMG" &&
		mkdir -p "$WORK" &&
		truncate -s "${LUN_MB}M" "$IMG/disk.img" &&
		lun_create_user rec "${LUN_MB}M" "$IMG/disk.img"
}
tc_run "user:file LUN on tmpfs" setup || exit 1
SD=$LUN_SD
sg_turs "$LUN_SG" >/dev/null 2>&1	# the unit attentions of a new LUN
sg_turs "$LUN_SG" >/dev/null 2>&1


# wait_acks DIR N SECS: DIR/acks has N lines within SECS seconds.
wait_acks() {
	local deadline=$((SECONDS + $3))
	until [ "$(acks "$1")" -ge "$2" ]; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# wait_gone PID SECS: the process has ended within SECS seconds (reaped).
wait_gone() {
	local deadline=$((SECONDS + $2))
	while _pid_alive "$1"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
	wait "$1" 2>/dev/null
	return 0
}

logged() { grep -cF -- "$1" "$TCMU_RESULTS/daemon.log"; }
REC_LINE="[rec] tcmu_recover_dev: recovered: blocked; ring reset"
NL_LINE="netlink blocked; events waiting for a reply failed"

# One kill and restart under load; cycle N writes to $WORK/cN.
cycle() {
	local n=$1 dir=$WORK/c$1 first rec0 nl0 at_kill t0
	mkdir -p "$dir"
	rm -f "$WORK/stop"
	first=$(cat "$WORK/last" 2>/dev/null || echo 0)
	rec0=$(logged "$REC_LINE")
	nl0=$(logged "$NL_LINE")
	"${PYIO[@]}" write "$SD" --first "$first" --blocks "$BLOCKS" --qd 16 \
		--dir "$dir" --stop "$WORK/stop" &
	WRITER=$!
	wait_acks "$dir" 300 60 || { echo "the writer made no progress before the kill"; return 1; }
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=""
	at_kill=$(acks "$dir")
	echo "cycle $n: daemon killed after $at_kill acknowledged writes"
	sleep 1
	t0=$SECONDS
	# shellcheck disable=SC2119 # no extra daemon arguments
	daemon_start || return 1
	if ! wait_acks "$dir" $((at_kill + 200)) 30; then
		echo "fewer than 200 writes acknowledged within 30 s of the restart" \
			"($(acks "$dir") in all)"
		dstate_now
		return 1
	fi
	echo "cycle $n: serving again $((SECONDS - t0)) s after the restart"
	touch "$WORK/stop"
	if ! wait_gone "$WRITER" 60; then
		echo "the writer did not end 60 s after being told: I/O in flight hangs"
		dstate_now
		return 1
	fi
	WRITER=""
	mv "$dir/last" "$WORK/last" || return 1
	echo "cycle $n: $(acks "$dir") writes acknowledged," \
		"$(wc -l <"$dir/fails") failed"
	no_stuck_process || return 1
	"${PYIO[@]}" verify "$SD" --blocks "$BLOCKS" --dir "$dir" || return 1
	grep -F -- "$REC_LINE" "$TCMU_RESULTS/daemon.log" | tail -n 1
	[ "$(logged "$REC_LINE")" -gt "$rec0" ] ||
		{ echo "no line '$REC_LINE' after the restart"; return 1; }
	grep -F -- "$REC_LINE" "$TCMU_RESULTS/daemon.log" | tail -n 1 | grep -qF "; unblocked" ||
		{ echo "the recovery line does not say it unblocked"; return 1; }
	[ "$(logged "$NL_LINE")" -gt "$nl0" ] ||
		{ echo "no line '$NL_LINE' after the restart"; return 1; }
}

# After a failed cycle: the writer stopped, a daemon running, so that
# the checks below still read the LUN.
after_failure() {
	if [ -n "$WRITER" ]; then
		touch "$WORK/stop"
		wait_gone "$WRITER" 60 || kill -KILL "$WRITER" 2>/dev/null
		WRITER=""
	fi
	[ -f "$WORK/c$1/last" ] && mv "$WORK/c$1/last" "$WORK/last"
	if [ -z "$DAEMON_PID" ] || ! _pid_alive "$DAEMON_PID"; then
		DAEMON_PID=""
		# shellcheck disable=SC2119 # no extra daemon arguments
		daemon_start
	fi
}

for n in $(seq "$CYCLES"); do
	if ! tc_run "kill $n of $CYCLES under qd-16 writes: serves again within 30 s, writes intact, I/O ended, recovery logged" \
		cycle "$n"; then
		after_failure "$n"
		break
	fi
done

all_intact() {
	local dirs=() d
	for d in "$WORK"/c*; do dirs+=(--dir "$d"); done
	"${PYIO[@]}" verify "$SD" --blocks "$BLOCKS" "${dirs[@]}"
}
tc_run "every write acknowledged in the $CYCLES cycles reads back intact" all_intact
never_broken() {
	! dmesg | grep -i "ring is broken"
}
tc_run "the kernel never took an answer for a command it did not have" never_broken
# --- a LUN grown, and a LUN removed under I/O --------------------------------

# 256 MiB grown to 512 MiB through configfs: the daemon takes the new
# size (RECONFIG) and raises CAPACITY DATA HAS CHANGED; after a rescan
# the initiator sees 512 MiB; what was written below 256 MiB is intact.
grow() {
	local sd sg hctl cfs off ua
	truncate -s 256M "$IMG/grow.img"
	lun_create_user grow 256M "$IMG/grow.img" || return 1
	sd=$LUN_SD sg=$LUN_SG hctl=$LUN_HCTL
	clear_ua "$sg"
	for off in 0 100 255; do
		head -c 1M /dev/urandom >"$IMG/pat$off"
		dd if="$IMG/pat$off" of="$sd" bs=1M seek=$off oflag=direct status=none ||
			return 1
	done
	cfs=$(ls -d /sys/kernel/config/target/core/user_*/grow) || return 1
	echo $((512 << 20)) >"$cfs/attrib/dev_size" || { echo "dev_size refused"; return 1; }
	ua=$(sg_turs -v "$sg" 2>&1)
	echo "$ua"
	# The initiator's own I/O may take the unit attention first: then
	# its kernel logged it.
	echo "$ua" | grep -qi "capacity data has changed" ||
		dmesg | grep -qi "capacity data has changed" ||
		{ echo "no CAPACITY DATA HAS CHANGED seen"; return 1; }
	echo 1 >"/sys/class/scsi_device/$hctl/device/rescan"
	sleep 1
	[ "$(blockdev --getsize64 "$sd")" = $((512 << 20)) ] ||
		{ echo "size after rescan: $(blockdev --getsize64 "$sd")"; return 1; }
	for off in 0 100 255; do
		dd if="$sd" bs=1M skip=$off count=1 iflag=direct status=none |
			cmp - "$IMG/pat$off" || { echo "data at $off MiB changed"; return 1; }
	done
	fio_verify "$sd" 8M --offset=400M --iodepth=4 >/dev/null || return 1
	lun_delete grow
}
tc_run "a LUN grown from 256 to 512 MiB in configfs: unit attention, new size after a rescan, data intact" grow

# Two LUNs under fio; one is deleted with targetcli meanwhile: its I/O
# ends, the other's verifies, the daemon answers on the bus and logs
# the removal.
remove_under_io() {
	local va vb pa pb rc=0
	truncate -s 64M "$IMG/ra.img" "$IMG/rb.img"
	lun_create_user ra 64M "$IMG/ra.img" || return 1
	va=$LUN_SD
	lun_create_user rb 64M "$IMG/rb.img" || return 1
	vb=$LUN_SD
	clear_ua "${LUN_SG}"
	fio --name=victim --filename="$va" --rw=randrw --bs=4k --iodepth=16 \
		--ioengine=libaio --direct=1 --time_based --runtime=60 >/dev/null 2>&1 &
	pa=$!
	fio_verify "$vb" 24M --iodepth=16 >"$IMG/rb.fio" 2>&1 &
	pb=$!
	sleep 3
	lun_delete ra || { echo "deleting the LUN under I/O failed"; rc=1; }
	wait_gone "$pa" 60 || { echo "fio on the deleted LUN did not end"; rc=1; }
	wait "$pb" || { echo "fio verify on the other LUN failed"; cat "$IMG/rb.fio"; rc=1; }
	bus_alive || { echo "the daemon's main loop does not answer"; rc=1; }
	_pid_alive "$DAEMON_PID" || { echo "the daemon died"; rc=1; }
	grep -F "removed uio" "$TCMU_RESULTS/daemon.log" | tail -n 2
	no_stuck_process || rc=1
	lun_delete rb || rc=1
	return $rc
}
tc_run "a LUN deleted under fio: its I/O ends, the other LUN verifies, the daemon serves on" remove_under_io

tc_run "daemon stops cleanly" daemon_stop
tc_summary
