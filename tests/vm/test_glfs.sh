#!/bin/bash
# test_glfs.sh - handler_glfs through the real kernel, on a real Gluster
# volume that runs inside this guest (tests/cluster/gluster.sh: a private
# glusterd, one brick on an ext4 loop file, the guest's own loopback;
# write-behind left on, as volumes have it by default). A user:glfs LUN:
#  - the LUN made with ;create: the image is made, and ;create leaves
#    the config the kernel holds;
#  - fio random writes of random sizes at queue depth 16, crc32c verified;
#    the LUN read whole is what gfapi reads of the file;
#  - UNMAP (blkdiscard) punches a hole the brick's file shows;
#  - WRITE SAME of 3000 blocks, through the LUN and through gfapi;
#  - the kernel's fileio as an oracle (scsi_oracle.py) against a second
#    user:glfs LUN with the same data: every difference a deliberate one;
#  - the brick killed mid-I/O and restarted: writes fail with retryable
#    sense or complete (counted in the LUN's glfs.connection_errors),
#    nothing stays in D state, what was acknowledged
#    before the kill reads back, and the LUN serves again;
#  - the brick killed for 10 s under fio: no I/O error reaches fio (the
#    kernel retries NOT READY, BECOMING READY within its window);
#  - glusterd and the brick frozen (SIGSTOP) for 27 s, the volume's
#    network.ping-timeout left at its default (42 s): the handler's own
#    ping-timeout (10 s, glfs.ping_timeout_s) fails the commands within
#    twice that, retryable (glfs.connection_errors grew), before the
#    kernel's cmd_time_out (30 s) gives up on them; no hang; after
#    SIGCONT the LUN serves again;
#  - a failed flush stays failed: with the write cache on, writes
#    acknowledged, the brick killed, SYNCHRONIZE CACHE fails; with the
#    brick back it still is not GOOD (what the brick had not synced may
#    be gone) until the LUN is given its config again.
# One boot, about 5 min under emulation.
# vm-mem: 3072
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"

GLUSTER_SH=$TCMU_SRC/tests/cluster/gluster.sh
GTOOL=$TCMU_SRC/tests/build/glfs_tool
MNT=/mnt/gluster
DIR=$MNT/g
VOL=vol
H=127.0.0.1
G() { timeout 60 gluster --glusterd-sock="$DIR/run/glusterd.socket" \
	--log-file="$DIR/log/cli.log" --mode=script "$@"; }
brick_pid() { cat "$DIR"/run/vols/"$VOL"/*.pid 2>/dev/null | head -n 1; }
brick_online() { G volume status "$VOL" --xml 2>/dev/null | grep -q '<status>1</status>'; }

glfs_cleanup() {
	local p
	for p in $(brick_pid) $(cat "$DIR/run/glusterd.pid" 2>/dev/null); do
		kill -CONT "$p" 2>/dev/null
	done
	cleanup_all
	"$GLUSTER_SH" stop "$DIR" "$VOL" >/dev/null 2>&1
	umount "$MNT" 2>/dev/null
}
trap glfs_cleanup EXIT

volume_up() {
	"$GLUSTER_SH" start "$DIR" "$VOL" &&
		G volume reset "$VOL" performance.write-behind >/dev/null
}

tc_run "lio loads" lio_load || exit 1
tc_run "an ext4 file system for the brick" ext4_loop "$MNT" 1G || { tc_summary; exit 1; }
tc_run "glusterd and a one-brick volume start in the guest" volume_up ||
	{ tc_summary; exit 1; }
tc_run "system bus starts" bus_start || exit 1
tc_run "daemon starts" daemon_start || exit 1
tc_run "targetcli lists user:glfs" wait_handler glfs 60 || exit 1
tc_run "a user:glfs LUN (;create: the file made at its size)" \
	lun_create_user lun 128M "$VOL@$H/lun.img;create" glfs || exit 1
SD=$LUN_SD SG=$LUN_SG
# Made once: ;create leaves the config the kernel holds (and targetcli
# saves), so that a restore at boot never makes an empty image where the
# file went missing.
create_dropped() {
	local d cfg
	d=$(lun_cfs lun) || return 1
	for _ in $(seq 60); do
		cfg=$(cat "$d/attrib/dev_config")
		[[ $cfg != *";create"* ]] && break
		sleep 0.5
	done
	echo "attrib/dev_config: $cfg"
	[ "$cfg" = "glfs/$VOL@$H/lun.img" ] && clear_ua "$LUN_SG"
}
tc_run "the image made, ;create leaves the LUN's config (what saveconfig keeps)" create_dropped

tc_run "fio random sizes 512 B-128 KiB, qd 16, crc32c verified" \
	fio_verify "$SD" 24M --bsrange=512-128k --blockalign=512 --iodepth=16
same_as_gfapi() {
	dd if="$SD" of=/tmp/lun.img bs=1M iflag=direct status=none &&
		"$GTOOL" cat $H "$VOL" /lun.img >/tmp/gfapi.img && cmp /tmp/lun.img /tmp/gfapi.img
}
tc_run "the LUN read whole is what gfapi reads of the file" same_as_gfapi

# Allocated blocks of the brick's file in [64 MiB, 96 MiB), in KiB.
brick_kib() {
	python3 - "$DIR/brick/$VOL/lun.img" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
off, end, data = 64 << 20, 96 << 20, 0
while off < end:
    try:
        d = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    if d >= end:
        break
    h = min(os.lseek(fd, d, os.SEEK_HOLE), end)
    data += h - d
    off = h
print(data >> 10)
EOF
}
unmap_punches() {
	local before after
	dd if=/dev/urandom of="$SD" bs=1M count=32 seek=64 oflag=direct status=none &&
		before=$(brick_kib) && blkdiscard -o $((64 << 20)) -l $((32 << 20)) "$SD" &&
		after=$(brick_kib) || return 1
	echo "brick file: $before KiB allocated in the range before, $after KiB after"
	[ "$before" -ge $((30 << 10)) ] && [ "$after" -le 1024 ] &&
		dd if="$SD" bs=1M skip=64 count=32 iflag=direct status=none |
		cmp - <(head -c 32M /dev/zero)
}
tc_run "UNMAP punches a hole the brick's file shows, and reads back zeros" unmap_punches

# WRITE SAME of 3000 blocks (three pieces of gfapi writes), read back
# through the LUN and through gfapi.
write_same_case() {
	head -c 512 /dev/zero | tr '\0' 'G' >/tmp/ws.bin
	head -c $((3000 * 512)) /dev/zero | tr '\0' 'G' >/tmp/ws-want.bin
	sg_write_same --in=/tmp/ws.bin --lba=40000 --num=3000 --xferlen=512 "$LUN_SG" &&
		dd if="$SD" bs=512 skip=40000 count=3000 iflag=direct status=none |
		cmp - /tmp/ws-want.bin &&
		"$GTOOL" cat $H "$VOL" /lun.img | dd bs=512 skip=40000 count=3000 status=none |
		cmp - /tmp/ws-want.bin
}
tc_run "WRITE SAME of 3000 blocks reads back, through the LUN and through gfapi" \
	write_same_case

# The kernel as an oracle (issue 28): a kernel fileio LUN and a second
# user:glfs LUN (;create) holding the same 16 MiB of random data (written
# through the LUN), the same opcode sweep and drawn cases to both. Both
# deleted, gfapi reads the kernel's file.
ORC=/tmp/oracle
ORACLE_SEED=${TCMU_ORACLE_SEED:-20261210}
ORACLE_COUNT=${TCMU_ORACLE_COUNT:-1500}
oracle_luns() {
	mkdir -p "$ORC" && head -c 16M /dev/urandom >"$ORC/k.img" &&
		oracle_fileio kor "$ORC/k.img" || return 1
	ORC_SGK=$LUN_SG
	lun_create_user orc 16M "$VOL@$H/orc.img;create" glfs || return 1
	ORC_SGO=$LUN_SG
	dd if="$ORC/k.img" of="$LUN_SD" bs=1M oflag=direct status=none &&
		clear_ua "$ORC_SGO"
}
oracle_equal() {
	lun_delete kor && lun_delete orc &&
		"$GTOOL" cat $H "$VOL" /orc.img >"$ORC/g.img" &&
		cmp "$ORC/k.img" "$ORC/g.img" && echo "gfapi reads the kernel's file"
}
if tc_run "a fileio LUN and a user:glfs LUN with the same 16 MiB of random data" oracle_luns
then
	tc_run "glfs: the same commands to both, every difference deliberate (seed $ORACLE_SEED)" \
		oracle_run "$ORC_SGK" "$ORC_SGO" "$ORACLE_SEED" "$ORACLE_COUNT"
	tc_run "both LUNs deleted; gfapi reads the kernel's file" oracle_equal
fi
# glfs.NAME of the LUN, from tcmu-runner --status --json.
health() { lun_stat lun "glfs.$1"; }

brick_cycle() {
	local fio_pid p rc
	fio_verify "$SD" 8M --offset=100M >/tmp/a.log 2>&1 || { cat /tmp/a.log; return 1; }
	fio --name=bg --filename="$SD" --offset=112M --size=8M --rw=randwrite --bs=16k \
		--iodepth=16 --ioengine=libaio --direct=1 --time_based --runtime=30 \
		--continue_on_error=all >/tmp/bg.log 2>&1 &
	fio_pid=$!
	sleep 4
	p=$(brick_pid) && [ -n "$p" ] && kill -KILL "$p" || return 1
	echo "brick $p killed"
	sleep 6
	G volume start "$VOL" force >/dev/null || return 1
	for _ in $(seq 600); do brick_online && break; sleep 0.1; done
	brick_online || { echo "the brick did not come back"; return 1; }
	echo "brick started again"
	wait $fio_pid
	rc=$?
	grep -E "err=|IOPS" /tmp/bg.log | head -n 3
	echo "background fio exit $rc"
	echo "health: glfs.commands_failed $(health commands_failed)," \
		"glfs.connection_errors $(health connection_errors)"
	[ "$(health connection_errors)" -gt 0 ] ||
		{ echo "the brick's death is not in the LUN's health figures"; return 1; }
	no_stuck_process || return 1
	bus_alive || return 1
	fio_verify "$SD" 8M --offset=100M --verify_only >/tmp/v.log 2>&1 ||
		{ cat /tmp/v.log; echo "acknowledged writes lost"; return 1; }
	# The handler reconnects by itself: the LUN serves again (a few tries
	# while gfapi finds the brick's new port).
	serves_again 6 5 "$SD" 4M --offset=124M
}
tc_run "the brick killed mid-I/O and restarted: no hang, nothing acknowledged lost, LUN serves again" \
	brick_cycle

# A single path rides out a 10 s brick outage: the handler answers NOT
# READY, BECOMING READY (api.c) while the brick is away, Linux retries
# within its window, and fio (no continue_on_error) sees no error. (What
# was acknowledged reading back is brick_cycle's check.)
ride_out() {
	local fio_pid p rc
	serves_again 6 5 "$SD" 1M --offset=60M >/dev/null || return 1
	fio --name=ride --filename="$SD" --offset=64M --size=8M --rw=randwrite --bs=16k \
		--iodepth=8 --ioengine=libaio --direct=1 --time_based --runtime=30 \
		>/tmp/ride.log 2>&1 &
	fio_pid=$!
	sleep 4
	p=$(brick_pid) && [ -n "$p" ] && kill -KILL "$p" || return 1
	echo "brick $p killed"
	sleep 10
	G volume start "$VOL" force >/dev/null || return 1
	for _ in $(seq 600); do brick_online && break; sleep 0.1; done
	echo "brick started again"
	wait $fio_pid
	rc=$?
	grep -E "err=|IOPS|error" /tmp/ride.log | head -n 4
	echo "fio exit $rc"
	[ $rc = 0 ]
}
tc_run "a 10 s brick outage under fio: no I/O error reaches fio on a single path" ride_out

freeze_cycle() {
	local pids fio_pid t0 rc e0 e1 ping
	ping=$(health ping_timeout_s)
	echo "glfs.ping_timeout_s $ping; the volume's network.ping-timeout:" \
		"$(G volume get "$VOL" network.ping-timeout | awk '/ping-timeout/ {print $2}')"
	[ "$ping" = 10 ] || { echo "not the handler's default ping-timeout"; return 1; }
	pids="$(brick_pid) $(cat "$DIR/run/glusterd.pid")"
	fio --name=fz --filename="$SD" --offset=16M --size=8M --rw=randwrite --bs=16k \
		--iodepth=16 --ioengine=libaio --direct=1 --time_based --runtime=35 \
		--continue_on_error=all >/tmp/fz.log 2>&1 &
	fio_pid=$!
	sleep 3
	# shellcheck disable=SC2086 # PIDs, one word each
	kill -STOP $pids || return 1
	t0=$SECONDS
	echo "glusterd and the brick stopped ($pids)"
	e0=$(health connection_errors)
	# Past twice the handler's ping-timeout (20 s), short of the kernel's
	# cmd_time_out (30 s): the commands must have failed by now.
	sleep 27
	e1=$(health connection_errors)
	echo "glfs.connection_errors $e0 when frozen, $e1 after 27 s"
	dstate_now
	# shellcheck disable=SC2086
	kill -CONT $pids
	echo "resumed after $((SECONDS - t0)) s"
	wait $fio_pid
	rc=$?
	grep -E "err=|IOPS" /tmp/fz.log | head -n 3
	echo "fio exit $rc"
	no_stuck_process || return 1
	bus_alive || return 1
	[ "$e1" -gt "$e0" ] ||
		{ echo "no command failed within twice the handler's ping-timeout"; return 1; }
	serves_again 6 5 "$SD" 4M --offset=40M
}
tc_run "glusterd and the brick frozen 27 s, the volume's default ping-timeout: commands fail (retryable) before cmd_time_out, no hang, serves after SIGCONT" \
	freeze_cycle

SYNC10=35000000000000000000
flush_stays_failed() {
	local sg=$SG p
	echo 1 >"$(lun_cfs lun)/attrib/emulate_write_cache" && clear_ua "$sg" || return 1
	dd if=/dev/urandom of="$SD" bs=64k count=16 seek=800 oflag=direct status=none ||
		return 1
	p=$(brick_pid) && [ -n "$p" ] && kill -KILL "$p" || return 1
	echo "brick $p killed with writes acknowledged under the write cache"
	sense_is "$sg" "status=0x02" "$SYNC10" || return 1
	G volume start "$VOL" force >/dev/null || return 1
	for _ in $(seq 600); do brick_online && break; sleep 0.1; done
	# Reads work again once gfapi has found the brick's new port.
	for _ in $(seq 20); do
		dd if="$SD" of=/dev/null bs=64k count=1 iflag=direct status=none 2>/dev/null &&
			break
		sleep 3
	done
	sense_is "$sg" "status=0x02 key=0x3 asc=0x0c ascq=0x00" "$SYNC10" &&
		figure_is lun core.flush_failed 1 || return 1
	# Given its config again, the LUN flushes; the write cache goes off
	# (its flush first) for what follows.
	cat "$(lun_cfs lun)/attrib/dev_config" >/tmp/cfg &&
		cat /tmp/cfg >"$(lun_cfs lun)/attrib/dev_config" && clear_ua "$sg" &&
		sense_is "$sg" "status=0x00" "$SYNC10" &&
		echo 0 >"$(lun_cfs lun)/attrib/emulate_write_cache"
}
tc_run "write cache on, brick killed: the flush fails, and after the brick is back the next is still not GOOD" \
	flush_stays_failed

tc_run "the LUN is removed and the daemon exits cleanly" cleanup_all
tc_summary
