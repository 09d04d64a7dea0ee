#!/bin/bash
# test_timeout_tmr.sh - timeouts and task management through the real
# kernel (issue 13), on LUNs served by the test plugin handler_hang
# (tests/vm/plugins/handler_hang.c: <image>.hang holds writes,
# <image>.delay_ms delays I/O, abort ends a command at once):
#  (i)   a backend that stops answering, on a LUN whose cmd_time_out is
#        5 s: the initiator's write fails after about 5 s and nothing
#        stays in D state; the daemon logs each late command once; once
#        the backend answers, each is answered once and the LUN serves
#        again (fio verify);
#  (ii)  ABORT TASK: an SG_IO write with a 3 s time-out on a backend
#        that takes 8 s, so that the SCSI midlayer aborts it: the abort
#        reaches the handler, which ends the write, and the LUN serves on;
#  (iii) LOGICAL UNIT RESET (sg_reset -d, twice) under queue-depth-16
#        writes to a backend that takes 20 ms an I/O: fio ends, the LUN
#        serves on.
# Throughout: the daemon set attrib/tmr_notification, the kernel never
# saw an answer for a command it did not have ("ring is broken") and no
# completion was stray. One boot, about 3 min under emulation.
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"

IMG=/tmp/timeout-tmr
# The file handler and the test plugins, side by side.
export TCMU_HANDLER_PATH=$TCMU_SRC/tests/build/vm-plugins
LOG=$TCMU_RESULTS/daemon.log
FIO_PID=""

# shellcheck disable=SC2317 # run by the EXIT trap
tt_cleanup() {
	# Let held and delayed I/O go first: a LUN is not removed under it.
	rm -f "$IMG"/*.hang "$IMG"/*.delay_ms
	[ -n "$FIO_PID" ] && kill -KILL "$FIO_PID" 2>/dev/null
	cleanup_all
}
trap tt_cleanup EXIT

tc_run "lio loads" lio_load || exit 1
tc_run "system bus starts" bus_start || exit 1
tc_run "daemon starts" daemon_start || exit 1
tc_run "targetcli lists user:hang" wait_handler hang 60 || exit 1
mkdir -p "$IMG"

# The LUN's folder in configfs.
cfs_dev() {
	local d
	for d in "$CFS"/core/user_*/"$1"; do
		[ -d "$d" ] && echo "$d" && return 0
	done
	return 1
}

# hang_lun NAME CMD_TIME_OUT: a 64 MiB user:hang LUN, its cmd_time_out set
# before it is exported (the kernel refuses it after), mapped on the
# loopback target (sets LUN_SD, LUN_SG); its unit attentions cleared.
hang_lun() {
	local name=$1 tmo=$2 dev
	truncate -s 64M "$IMG/$name.img" &&
		_tcli /backstores/user:hang create "name=$name" size=64M \
			"cfgstring=$IMG/$name.img" >/dev/null || return 1
	_lun_record "$name" /backstores/user:hang
	dev=$(cfs_dev "$name") || { echo "no configfs folder for $name"; return 1; }
	echo "$tmo" >"$dev/attrib/cmd_time_out" || return 1
	_lun_map "$name" "/backstores/user:hang/$name" || return 1
	sg_turs "$LUN_SG" >/dev/null 2>&1
	sg_turs "$LUN_SG" >/dev/null 2>&1
	true
}

# Lines of the daemon log for LUN NAME containing TEXT.
dlog() { grep -F -- "[$1 hang] " "$LOG" | grep -F -- "$2"; }

# The cmd_ids named in the daemon's late-command lines for NAME of KIND
# ("watch_log" when found late, "dev_watch_done" when completed).
late_ids() {
	dlog "$1" "$2: late command: cmd " | sed -E 's/.*late command: cmd ([0-9]+) .*/\1/'
}

# --- (i) a backend that stops answering -----------------------------------

tc_run "user:hang LUN with cmd_time_out 5 s" hang_lun tmo 5 || exit 1
TMO_SD=$LUN_SD TMO_DEV=$(cfs_dev tmo)

tmr_on() {
	local v
	v=$(cat "$1/attrib/tmr_notification" 2>/dev/null) ||
		{ echo "no attrib/tmr_notification"; return 2; }
	echo "tmr_notification: $v"
	[ "$v" = 1 ]
}
TMR=1
if [ -e "$TMO_DEV/attrib/tmr_notification" ]; then
	tc_run "the daemon set attrib/tmr_notification when it added the device" \
		tmr_on "$TMO_DEV"
else
	TMR=0
	tc_skip "task management" "this kernel has no attrib/tmr_notification"
fi

# The daemon took the 5 s, set after it added the device, once the LUN
# was exported and busy.
tc_run "the daemon's late limit follows cmd_time_out" \
	wait_log "[tmo hang] watch_say: timeouts changed in configfs: commands late after 5000 ms" 30

held_write_fails() {
	local t0 rc el
	touch "$IMG/tmo.img.hang"
	t0=$SECONDS
	timeout 120 dd if=/dev/urandom of="$TMO_SD" bs=4k count=1 seek=100 oflag=direct
	rc=$?
	el=$((SECONDS - t0))
	echo "dd: exit $rc after $el s (cmd_time_out 5 s)"
	if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
		echo "the write did not fail"
		return 1
	fi
	if [ "$el" -lt 4 ] || [ "$el" -gt 60 ]; then
		echo "not failed at cmd_time_out"
		return 1
	fi
	no_stuck_process
}
tc_run "(i) a write the backend holds fails after cmd_time_out, nothing in D state" \
	held_write_fails

logged_late_once() {
	local ids dup
	wait_log "[tmo hang] watch_log: late command: cmd " 15 || return 1
	sleep 3		# several more scans
	dlog tmo "watch_log: late command:"
	ids=$(late_ids tmo watch_log)
	dup=$(sort <<<"$ids" | uniq -d)
	[ -n "$ids" ] || { echo "no late command logged"; return 1; }
	[ -z "$dup" ] || { echo "logged more than once: $dup"; return 1; }
	dlog tmo "watch_log: late command:" | grep -q "opcode 0x2a (WRITE(10))" ||
		{ echo "no late WRITE(10) named"; return 1; }
}
tc_run "(i) the daemon logs each late command once, with its CDB and age" logged_late_once

released_serves() {
	local ids done_ids id
	ids=$(late_ids tmo watch_log | sort -n)
	rm -f "$IMG/tmo.img.hang"
	for id in $ids; do
		wait_log "[tmo hang] dev_watch_done: late command: cmd $id opcode" 20 || return 1
	done
	dlog tmo "dev_watch_done: late command:"
	done_ids=$(late_ids tmo dev_watch_done | sort -n)
	[ "$done_ids" = "$ids" ] || { echo "completed: $done_ids, late: $ids"; return 1; }
	fio_verify "$TMO_SD" 8M
}
tc_run "(i) answered once each when the backend lets go, then the LUN serves (fio verify)" \
	released_serves

# --- (ii) ABORT TASK --------------------------------------------------------

abort_task() {
	local sg=$1 t0 rc el
	echo 8000 >"$IMG/abt.img.delay_ms"
	t0=$SECONDS
	# WRITE(10), LBA 256, one block; the midlayer aborts it after 3 s.
	sg_raw -t 3 -s 512 -i /dev/zero "$sg" 2a 00 00 00 01 00 00 00 01 00
	rc=$?
	el=$((SECONDS - t0))
	rm -f "$IMG/abt.img.delay_ms"
	echo "sg_raw: exit $rc after $el s"
	[ "$rc" != 0 ] || { echo "the write was not aborted"; return 1; }
	[ "$el" -le 30 ] || { echo "the abort took too long"; return 1; }
	wait_log "[abt hang] hang_abort: abort: opcode 0x2a" 10 || return 1
	dlog abt "dev_tmr_handle:"
	dlog abt "hang_abort:"
	dlog abt "dev_tmr_handle:" | grep -qE "(ABORT TASK|LOGICAL UNIT RESET) \([0-9]+\) for [0-9]+ commands: [1-9][0-9]* in flight here, [1-9][0-9]* told to the handler" ||
		{ echo "no TMR told the handler"; return 1; }
	no_stuck_process
}
if [ "$TMR" = 1 ]; then
	tc_run "user:hang LUN for aborts" hang_lun abt 30 || exit 1
	ABT_SD=$LUN_SD
	tc_run "(ii) an SG_IO write timed out by the midlayer: the abort reaches the handler" \
		abort_task "$LUN_SG"
	tc_run "(ii) the LUN serves after the abort (fio verify)" fio_verify "$ABT_SD" 8M
fi

# --- (iii) LUN reset under load ----------------------------------------------

resets_under_load() {
	local sd=$1 sg=$2 rc n0 n1 deadline
	# Commands a reset leaves unanswered on the initiator's side time
	# out here, and are retried, in 10 s rather than 30.
	echo 10 >"/sys/block/${sd#/dev/}/device/timeout"
	echo 20 >"$IMG/rst.img.delay_ms"
	n0=$(dlog rst "LOGICAL UNIT RESET (5)" | wc -l)
	fio --name=load --filename="$sd" --rw=randwrite --bs=4k --iodepth=16 \
		--ioengine=libaio --direct=1 --size=32M --time_based --runtime=15 \
		--continue_on_error=all --output="$IMG/fio-load.txt" &
	FIO_PID=$!
	sleep 4
	sg_reset -N -d "$sg" || echo "sg_reset: exit $?"
	sleep 3
	sg_reset -N -d "$sg" || echo "sg_reset: exit $?"
	deadline=$((SECONDS + 120))
	while _pid_alive "$FIO_PID"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "fio did not end within 120 s"
			dstate_now
			return 1
		fi
		sleep 0.5
	done
	wait "$FIO_PID"
	rc=$?
	FIO_PID=""
	rm -f "$IMG/rst.img.delay_ms"
	echo "fio: exit $rc"
	grep -E "err=|IOPS" "$IMG/fio-load.txt"
	dlog rst "dev_tmr_handle:"
	n1=$(dlog rst "LOGICAL UNIT RESET (5)" | wc -l)
	[ "$n1" -gt "$n0" ] || { echo "no LOGICAL UNIT RESET reached the daemon"; return 1; }
	no_stuck_process
}
if [ "$TMR" = 1 ]; then
	tc_run "user:hang LUN for resets" hang_lun rst 30 || exit 1
	RST_SD=$LUN_SD
	tc_run "(iii) LUN resets under qd-16 writes: fio ends, nothing in D state" \
		resets_under_load "$RST_SD" "$LUN_SG"
	tc_run "(iii) the LUN serves after the resets (fio verify)" fio_verify "$RST_SD" 8M
fi

# --- throughout -----------------------------------------------------------------

never_broken() {
	! dmesg | grep -iE "ring is broken|cmd_id [0-9]+ not found"
}
tc_run "the kernel never took an answer for a command it did not have" never_broken
no_stray() {
	! grep -F "completed again" "$LOG"
}
tc_run "no completion was stray (none answered twice)" no_stray
tc_run "daemon stops cleanly" tt_cleanup
tc_summary
