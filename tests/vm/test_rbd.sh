#!/bin/bash
# test_rbd.sh - handler_rbd through the real kernel, on a real Ceph cluster
# that runs inside this guest (tests/cluster/ceph.sh: one monitor, one
# manager, one OSD on an ext4 loop file, cephx, the guest's own loopback),
# so no connection leaves the guest. A user:rbd LUN made by targetcli with
# ceph-iscsi's settings, then:
#  - fio random writes of random sizes (512 B - 128 KiB) at queue depth 16,
#    crc32c verified; the LUN read whole is what `rbd export` holds;
#  - COMPARE AND WRITE through the kernel (sg_compare_and_write): a match
#    writes, a miscompare is MISCOMPARE naming the byte (also in a later
#    RADOS object), the blocks left alone;
#  - WRITE SAME of a pattern, read back and in `rbd export`;
#  - UNMAP of 32 MiB frees space `rbd du` sees;
#  - the kernel's fileio as an oracle (scsi_oracle.py) against a user:rbd
#    LUN on the same data: every difference a deliberate one;
#  - the Ceph service map: ceph -s counts our portal, its status counts
#    the OSD outage below;
#  - the OSD killed mid-I/O and restarted: every write is answered (GOOD
#    or a retryable error) within the handler's osd_op_timeout, nothing
#    stays in D state, the daemon answers its bus, what was written and
#    acknowledged before the kill reads back, and the LUN serves again;
#  - the daemon's client blocklisted by the cluster: commands fail
#    retryable, the handler asks for a reopen (a new client) and the LUN
#    serves again, with no restart;
#  - two gateways (two LUNs, two daemons, so two processes and two librbd
#    clients, on one image: the first daemon runs with --devices '!gw2',
#    a second one with --devices gw2): writes through one read back
#    through the other, none stale; the exclusive lock moves once (the
#    first daemon's health figures in tcmu-runner --status);
#    REPORT TARGET PORT GROUPS (sg_rtpg) says active/optimized through the
#    lock's owner and standby through the other, and the reverse once the
#    lock has moved (API 1.5 lock_owner).
# One boot, about 5 min under emulation; needs 4 GiB (vm-mem below).
# vm-mem: 4096
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"

CEPH_SH=$TCMU_SRC/tests/cluster/ceph.sh
MNT=/mnt/ceph
DIR=$MNT/cluster
TIMEOUT=15		# osd_op_timeout, seconds
RBD() { timeout 120 rbd "$@"; }

rbd_cleanup() {
	cleanup_all
	declare -F gw2_daemon_stop >/dev/null && gw2_daemon_stop
	"$CEPH_SH" stop "$DIR" >/dev/null 2>&1
	umount "$MNT" 2>/dev/null
}
trap rbd_cleanup EXIT


tc_run "lio loads" lio_load || exit 1
for t in ceph-mon ceph-osd rbd; do
	command -v $t >/dev/null || { tc_fail "$t installed"; tc_summary; exit 1; }
done
tc_run "an ext4 file system for the OSD" ext4_loop "$MNT" 3G || { tc_summary; exit 1; }
tc_run "a Ceph cluster starts in the guest (HEALTH_OK)" \
	env OSD_BLOCK_SIZE=2G CEPH_WAIT=400 "$CEPH_SH" start "$DIR" || { tc_summary; exit 1; }
export CEPH_CONF=$DIR/ceph.conf
export CEPH_ARGS="--rados-osd-op-timeout 60 --rados-mon-op-timeout 60 --client-mount-timeout 60"
tc_run "rbd create rbd/lun 128 MiB" RBD create rbd/lun --size 128M || { tc_summary; exit 1; }
tc_run "system bus starts" bus_start || exit 1
# CEPH_CONF reaches the daemon (and its handler) through the environment.
# It leaves gw2, the second gateway's LUN, to a second daemon (below).
tc_run "daemon starts" daemon_start --devices '!gw2' || exit 1
tc_run "targetcli lists user:rbd" wait_handler rbd 60 || exit 1

# ceph-iscsi's LUN settings: a small data area, hw_max_sectors 1024,
# qfull_time_out 5, cmd_time_out 0 (set before the LUN is exported).
rbd_lun() {
	local d
	_tcli /backstores/user:rbd create name=lun size=128M \
		"cfgstring=rbd/lun;osd_op_timeout=$TIMEOUT" hw_max_sectors=1024 \
		control=max_data_area_mb=8 >/dev/null || return 1
	_lun_record lun /backstores/user:rbd
	for d in "$CFS"/core/user_*/lun; do
		[ -d "$d" ] && break
	done
	echo 5 >"$d/attrib/qfull_time_out" && echo 0 >"$d/attrib/cmd_time_out" &&
		grep . "$d/attrib/hw_max_sectors" "$d/attrib/qfull_time_out" \
			"$d/attrib/cmd_time_out" "$d/attrib/max_data_area_mb" &&
		_lun_map lun /backstores/user:rbd/lun
}
tc_run "a user:rbd LUN with ceph-iscsi's settings" rbd_lun || exit 1
SD=$LUN_SD SG=$LUN_SG

# --- data: fio through the kernel, then rbd export -----------------------
tc_run "fio random sizes 512 B-128 KiB, qd 16, crc32c verified" \
	fio_verify "$SD" 24M --bsrange=512-128k --blockalign=512 --iodepth=16 \
	--offset=8M || exit 1
same_as_export() {
	RBD export rbd/lun /tmp/export.img >/dev/null 2>&1 &&
		dd if="$SD" of=/tmp/lun.img bs=1M iflag=direct status=none &&
		cmp /tmp/export.img /tmp/lun.img
}
tc_run "the LUN read whole is what rbd export holds" same_as_export

# --- COMPARE AND WRITE and WRITE SAME -------------------------------------
# bytes N OCTAL: N bytes of one value.
bytes() { head -c "$1" /dev/zero | tr '\0' "\\$2"; }
# caw LBA CMP-BYTE DATA-BYTE [AT]: one block, compare with CMP-BYTE x 512
# (but byte AT, if given, is 'z'), write DATA-BYTE x 512.
caw() {
	if [ -n "${4:-}" ]; then
		{ bytes "$4" "$2"; printf z; bytes $((511 - $4)) "$2"; } >/tmp/cmp.bin
	else
		bytes 512 "$2" >/tmp/cmp.bin
	fi
	cat /tmp/cmp.bin <(bytes 512 "$3") >/tmp/caw.bin
	sg_compare_and_write --in=/tmp/caw.bin --lba="$1" --num=1 --xferlen=1024 "$SG"
}
block_is() {	# block_is LBA OCTAL-BYTE
	cmp <(dd if="$SD" bs=512 skip="$1" count=1 iflag=direct status=none) \
		<(head -c 512 /dev/zero | tr '\0' "\\$2")
}
caw_cases() {
	local lba out rc
	# LBA 100 and one in the third 4 MiB RADOS object (librbd 16 names
	# a miscompare's byte as if in the first object: the handler knows).
	for lba in 100 16400; do
		bytes 512 141 | dd of="$SD" bs=512 seek=$lba oflag=direct status=none ||
			return 1
		caw $lba 141 142 || { echo "CAW a->b at $lba failed"; return 1; }
		block_is $lba 142 || { echo "CAW at $lba did not write"; return 1; }
		out=$(caw $lba 142 143 17 2>&1)
		rc=$?
		echo "$out"
		[ $rc = 14 ] || { echo "miscompare at $lba: exit $rc, not 14"; return 1; }
		grep -q "Miscompare at byte offset: 17 " <<<"$out" ||
			{ echo "miscompare at $lba: not at byte 17"; return 1; }
		block_is $lba 142 || { echo "a miscompare at $lba wrote"; return 1; }
	done
	# VPD B0: MAXIMUM COMPARE AND WRITE LENGTH 1 (librbd 16: one sector).
	sg_vpd --page=bl "$SG" | grep -E "Maximum compare and write length: 1 blocks"
}
tc_run "COMPARE AND WRITE: match writes, miscompare is MISCOMPARE and writes nothing" caw_cases
write_same_case() {
	bytes 512 127 >/tmp/ws.bin
	bytes $((300 * 512)) 127 >/tmp/ws-want.bin
	sg_write_same --in=/tmp/ws.bin --lba=20000 --num=300 --xferlen=512 "$SG" &&
		dd if="$SD" bs=512 skip=20000 count=300 iflag=direct status=none |
		cmp - /tmp/ws-want.bin &&
		rm -f /tmp/export.img && RBD export rbd/lun /tmp/export.img >/dev/null 2>&1 &&
		dd if=/tmp/export.img bs=512 skip=20000 count=300 status=none |
		cmp - /tmp/ws-want.bin
}
tc_run "WRITE SAME: the pattern reads back, and rbd export holds it" write_same_case

# --- UNMAP: space the cluster sees ---------------------------------------
used_mib() {	# USED of rbd/lun in rbd du, in MiB
	RBD du rbd/lun --format json 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["images"][0]["used_size"] >> 20)'
}
unmap_frees() {
	local before after
	dd if=/dev/urandom of="$SD" bs=1M count=32 seek=64 oflag=direct status=none &&
		sync && before=$(used_mib) && blkdiscard -o $((64 << 20)) -l $((32 << 20)) "$SD" &&
		after=$(used_mib) || return 1
	echo "rbd du: ${before} MiB used before the discard, ${after} MiB after"
	[ "$after" -le $((before - 28)) ]
}
tc_run "UNMAP of 32 MiB frees space rbd du sees" unmap_frees

# --- the kernel as an oracle (issue 28) ----------------------------------
# A kernel fileio LUN and a user:rbd LUN on an image imported from the
# same 16 MiB of random data; scsi_oracle.py sends both the same opcode
# sweep and drawn cases (fewer than test_oracle.sh's, librbd is slower);
# the rbd LUN reports LBPRZ 0, so what an UNMAP names is taken from the
# kernel's LUN after it. Both deleted, rbd export equals the kernel's file.
ORC=/tmp/oracle
ORACLE_SEED=${TCMU_ORACLE_SEED:-20261209}
ORACLE_COUNT=${TCMU_ORACLE_COUNT:-1500}
oracle_luns() {
	mkdir -p "$ORC" && head -c 16M /dev/urandom >"$ORC/k.img" &&
		RBD import "$ORC/k.img" rbd/orc >/dev/null 2>&1 &&
		oracle_fileio kor "$ORC/k.img" || return 1
	ORC_SGK=$LUN_SG
	lun_create_user orc 16M "rbd/orc;osd_op_timeout=$TIMEOUT" rbd || return 1
	ORC_SGO=$LUN_SG
	clear_ua "$ORC_SGO"
}
oracle_equal() {
	lun_delete kor && lun_delete orc &&
		RBD export rbd/orc "$ORC/r.img" >/dev/null 2>&1 &&
		cmp "$ORC/k.img" "$ORC/r.img" && echo "rbd export equals the kernel's file"
}
if tc_run "a fileio LUN and a user:rbd LUN on the same 16 MiB of random data" oracle_luns; then
	tc_run "rbd: the same commands to both, every difference deliberate (seed $ORACLE_SEED)" \
		oracle_run "$ORC_SGK" "$ORC_SGO" "$ORACLE_SEED" "$ORACLE_COUNT"
	tc_run "both LUNs deleted; rbd export equals the kernel's file" oracle_equal
fi

# --- the Ceph service map (issue 30) -------------------------------------
# Our daemon registers each served image as a portal of service
# tcmu-runner (<host>:rbd/lun here); ceph -s counts the portals, and the
# status (lock_owner, lock_lost_cnt, conn_lost_cnt, cmd_timed_out_cnt)
# must count the OSD outage below. The mgr takes a status with the
# client's next report (5 s) and the handler sends one change in 3 s.
svc_status() {	# KEY: the figure in our portal's status for rbd/lun
	timeout 30 ceph service status -f json 2>/dev/null | python3 -c 'import json, sys
for name, v in json.load(sys.stdin).get("tcmu-runner", {}).items():
    if name.endswith(":rbd/lun"):
        print(v["status"][sys.argv[1]])' "$1" 2>/dev/null
}
svc_outages() {
	local t c
	t=$(svc_status cmd_timed_out_cnt) && c=$(svc_status conn_lost_cnt) &&
		[ -n "$t" ] && [ -n "$c" ] && echo $((t + c))
}
svc_portal() {
	local i
	for i in $(seq 30); do
		SVC_BEFORE=$(svc_outages) && [ -n "$SVC_BEFORE" ] && break
		sleep 1
	done
	timeout 30 ceph -s | grep "tcmu-runner" &&
		[ "$(svc_status lock_owner)" = true ] && echo "lock_owner true, outages $SVC_BEFORE"
}
tc_run "ceph -s counts our portal; its status has lock_owner true and the counters" svc_portal
svc_counted() {
	local i n=
	for i in $(seq 30); do
		n=$(svc_outages)
		[ -n "$n" ] && [ "$n" -gt "${SVC_BEFORE:-0}" ] && break
		sleep 1
	done
	echo "cmd_timed_out_cnt + conn_lost_cnt: ${SVC_BEFORE:-?} before the outage, ${n:-?} after"
	[ -n "$n" ] && [ "$n" -gt "${SVC_BEFORE:-0}" ]
}

# --- the OSD killed mid-I/O and restarted --------------------------------
# Region A (72-80 MiB) is written and verified first; writes then run at
# 100-120 MiB while the OSD is killed, kept down 10 s, and started again.
osd_cycle() {
	local fio_pid t0 rc
	fio_verify "$SD" 8M --offset=72M --bsrange=4k-64k >/tmp/a.log 2>&1 ||
		{ cat /tmp/a.log; return 1; }
	fio --name=bg --filename="$SD" --offset=100M --size=20M --rw=randwrite --bs=16k \
		--iodepth=16 --ioengine=libaio --direct=1 --time_based --runtime=45 \
		--continue_on_error=all >/tmp/bg.log 2>&1 &
	fio_pid=$!
	sleep 5
	"$CEPH_SH" osd-stop "$DIR" || return 1
	t0=$SECONDS
	sleep 10
	dstate_now
	"$CEPH_SH" osd-start "$DIR" || return 1
	echo "OSD down for $((SECONDS - t0)) s"
	wait $fio_pid
	rc=$?
	grep -E "err=|IOPS" /tmp/bg.log | head -n 5
	echo "background fio exit $rc"
	no_stuck_process || return 1
	bus_alive || { echo "the daemon's bus does not answer"; return 1; }
	# Written and acknowledged before the kill: still there.
	fio_verify "$SD" 8M --offset=72M --bsrange=4k-64k --verify_only >/tmp/v.log 2>&1 ||
		{ cat /tmp/v.log; echo "region A lost data"; return 1; }
	# And the LUN serves again, without a restart: once librbd has its
	# exclusive lock back (it waits out its own dead watch, up to ~30 s),
	# a few tries apart; commands in between fail retryable.
	serves_again 8 10 "$SD" 8M --offset=88M
}
tc_run "the OSD killed mid-I/O and restarted: no hang, nothing acknowledged lost, LUN serves again" \
	osd_cycle
timed_out=$(grep -c "timed out" "$TCMU_RESULTS/daemon.log")
echo "daemon log: $timed_out lines of timed-out operations"
tc_run "the service map's status counts the OSD outage (within 30 s)" svc_counted

# health LUN NAME: rbd.NAME of LUN's device, from tcmu-runner --status --json.
health() { lun_stat "$1" "rbd.$2"; }

# --- blocklisted: a new client, without a restart -------------------------
# The cluster blocklists the daemon's client (as another gateway breaking
# its lock would): its commands fail retryable, the handler asks to be
# reopened (API 1.4), and the LUN serves again through a new client.
blocklisted() {
	local addr
	addr=$(RBD status rbd/lun 2>/dev/null | sed -n 's/.*watcher=\([^ ]*\) .*/\1/p' | head -n 1)
	[ -n "$addr" ] || { echo "no watcher on rbd/lun"; return 1; }
	echo "blocklisting $addr"
	timeout 60 ceph osd blocklist add "$addr" || return 1
	serves_again 8 5 "$SD" 4M --offset=60M || return 1
	grep -F "handler asks to be reopened" "$TCMU_RESULTS/daemon.log" | tail -n 1
	grep -qF "reopened at the handler's request" "$TCMU_RESULTS/daemon.log" ||
		{ echo "the daemon did not reopen the device"; return 1; }
	echo "rbd.connections_lost = $(health lun connections_lost)"
	[ "$(health lun connections_lost)" -ge 1 ]
}
tc_run "the client blocklisted: commands fail retryable, a reopen with a new client serves again" \
	blocklisted

# --- two gateways on one image -------------------------------------------
# A second gateway: a second daemon, its own process, serving only gw2
# (--devices gw2) while the first skips it; without the bus, which the
# first one holds (so its health figures are not on it). Started before
# gw2 exists: the kernel waits for its answer to gw2's ADDED event.
GW2_PID=""
gw2_daemon_start() {
	echo "=== $(date '+%F %T') second daemon --devices gw2" >>"$TCMU_RESULTS/daemon-gw2.log"
	"$TCMU_SRC/tcmu-runner" --handler-path "$TCMU_SRC" -d --no-dbus --no-modprobe \
		--devices gw2 >>"$TCMU_RESULTS/daemon-gw2.log" 2>&1 &
	GW2_PID=$!
	sleep 1
	kill -0 "$GW2_PID" 2>/dev/null || { cat "$TCMU_RESULTS/daemon-gw2.log"; return 1; }
	grep -F "serving only devices named --devices gw2" "$TCMU_RESULTS/daemon-gw2.log"
}
# After gw2 is gone (its REMOVED event is the second daemon's to answer).
gw2_daemon_stop() {
	local pid=$GW2_PID rc
	[ -n "$pid" ] || return 0
	GW2_PID=""
	kill -TERM "$pid" 2>/dev/null
	timeout 20 tail --pid="$pid" -f /dev/null
	kill -KILL "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	echo "second daemon exited with status $rc"
	[ "$rc" = 0 ]
}
tc_run "a second daemon starts, serving only gw2" gw2_daemon_start || exit 1
# A second LUN on the same image, served by the second daemon with its own
# librbd client, as a second gateway's would be. The initiator writes through one, then the other,
# and reads each one's writes through the other: no write lost, no stale
# read (a reader's cache must not outlive the other's writes), and the
# exclusive lock moves once, not back and forth (GetStats' health figures).
rbd_lun2() {
	_tcli /backstores/user:rbd create name=gw2 size=128M \
		"cfgstring=rbd/lun;osd_op_timeout=$TIMEOUT" >/dev/null || return 1
	_lun_record gw2 /backstores/user:rbd
	_lun_map gw2 /backstores/user:rbd/gw2 || return 1
	# The second daemon serves it, the first does not.
	grep -q "gw2.*added uio" "$TCMU_RESULTS/daemon-gw2.log" &&
		! grep -q "gw2.*added uio" "$TCMU_RESULTS/daemon.log" ||
		{ echo "gw2 is not served by the second daemon alone"; return 1; }
}
tc_run "a second gateway's LUN on the same image" rbd_lun2 || exit 1
SD2=$LUN_SD SG2=$LUN_SG
# alua_state SG: the asymmetric access state sg_rtpg decodes for the first
# target port group ("active/optimized", "standby", ...); asked up to three
# times, as a unit attention (a reopen, a new LUN) may answer the first.
alua_state() {
	local i s
	for i in 1 2 3; do
		s=$(sg_rtpg -d "$1" 2>&1 |
			sed -n 's/.*access state : 0x[0-9a-f]* (\([^)]*\)).*/\1/p' | head -n 1)
		[ -n "$s" ] && break
	done
	echo "$s"
}
# alua_states WANT1 WANT2: what RTPG says through gateway 1 and 2.
alua_states() {
	local s1 s2
	s1=$(alua_state "$SG") s2=$(alua_state "$SG2")
	echo "RTPG: gateway 1 ($SG) $s1, gateway 2 ($SG2) $s2"
	[ "$s1" = "$1" ] && [ "$s2" = "$2" ] ||
		{ echo "expected gateway 1 $1, gateway 2 $2"; sg_rtpg -d "$SG"; return 1; }
}
two_gateways() {
	local acq0 lost0
	acq0=$(health lun locks_acquired) lost0=$(health lun locks_lost)
	# Gateway 1 wrote last (the cases above): its client holds the lock.
	alua_states active/optimized standby || return 1
	# Through gateway 1, then read back through gateway 2.
	fio_verify "$SD" 8M --offset=40M >/dev/null || return 1
	fio_verify "$SD2" 8M --offset=40M --verify_only >/dev/null ||
		{ echo "gateway 2 does not read gateway 1's writes"; return 1; }
	# Gateway 2 writes A; gateway 1 reads A; gateway 2 writes B over it;
	# gateway 1 must read B.
	head -c 4M /dev/urandom >/tmp/A && head -c 4M /dev/urandom >/tmp/B || return 1
	dd if=/tmp/A of="$SD2" bs=1M seek=52 oflag=direct status=none &&
		dd if="$SD" bs=1M skip=52 count=4 iflag=direct status=none | cmp - /tmp/A ||
		{ echo "gateway 1 does not read gateway 2's first write"; return 1; }
	dd if=/tmp/B of="$SD2" bs=1M seek=52 oflag=direct status=none &&
		dd if="$SD" bs=1M skip=52 count=4 iflag=direct status=none | cmp - /tmp/B ||
		{ echo "gateway 1 reads stale data after gateway 2's second write"; return 1; }
	# Gateway 2's writes took the lock: the states are the other way round.
	alua_states standby active/optimized || return 1
	for k in lock_owner locks_acquired locks_lost ops_timed_out; do
		echo "lun rbd.$k = $(health lun $k)"
	done
	# Gateway 1 lost the lock once and never took it back (gateway 2's
	# RTPG above says it holds it).
	[ "$(health lun lock_owner)" = 0 ] &&
		[ "$(health lun locks_lost)" = $((lost0 + 1)) ] &&
		[ "$(health lun locks_acquired)" = "$acq0" ]
}
tc_run "two gateways on one image: each reads the other's writes, the lock moves once, RTPG follows it" \
	two_gateways

tc_run "the LUN is removed and the daemon exits cleanly" cleanup_all
tc_run "the second daemon exits cleanly" gw2_daemon_stop
tc_summary
