#!/bin/bash
# test_glfs.sh - handler_glfs against a real GlusterFS volume: a private
# glusterd and a one-brick volume (a directory on /var/tmp, 127.0.0.1
# only), started here and torn down on every exit. Through tcmu-sim and
# tests/build/sim_pattern: never a blank disk: a missing image is refused
# with the reason (check and open) unless the config says ;create, which
# makes it at the LUN's size; an image removed or renamed under a served
# LUN (tests/build/sim_hold), then reopened, with or without the brick
# restarted in between, answers NOT READY, never zeros, and is not made
# again; check passes on a file it creates; random data
# of random sizes reads back and is what gfapi reads from the volume; an
# UNMAP punches a hole the brick's file shows; a bad volume, host or path
# is refused with a reason, in bounded time; write-behind acknowledges
# writes a dead brick never stored unless its pass-through is on (the
# handler's setting); a failing fdatasync fails FUA writes and SYNCHRONIZE
# CACHE until it works again; with the brick killed under the handler and
# restarted, commands fail retryable or complete and nothing acknowledged
# is lost; ping_timeout: bad values refused, the one in force logged (ours
# by default, the volume's read from its volfile when asked) with a
# warning when twice it reaches the device's cmd_time_out (30 s here); with
# the brick and glusterd frozen (SIGSTOP) gfapi fails a write within
# twice the client's ping-timeout, and so does the handler, retryable,
# nothing acknowledged lost; bench figures beside fio's gfapi_async engine
# on the same file.
# Needs glusterd, gluster (glusterfs-server), libglusterfs-dev (so
# handler_glfs.so is built) and root, which make check installs: a
# missing one is a failure under CI, a skip (exit 77) elsewhere. The
# volume: tests/cluster/gluster.sh. Env: BENCH_SECONDS.
# Ends "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
BENCH_SECONDS=${BENCH_SECONDS:-3}
. tests/host/check_lib.sh

[ "$(id -u)" = 0 ] || skip "not root (bricks need trusted.* xattrs)"
for t in glusterd gluster python3; do
	command -v $t >/dev/null || skip "$t not installed"
done
[ -f handler_glfs.so ] || skip "handler_glfs.so not built (libglusterfs-dev missing?)"
[ -x tests/build/sim_pattern ] && [ -x tests/build/sim_hold ] && [ -x tests/build/glfs_tool ] ||
	skip "tests/build/sim_pattern, sim_hold or glfs_tool not built"
if ss -Htln 'sport = :24007' 2>/dev/null | grep -q .; then
	skip "port 24007 is taken: another glusterd runs here"
fi

VOL=testvol BRICKHOST=127.1
GT=$(mktemp -u /var/tmp/glfs-test.XXXXXX)
GLUSTER_SH=$PWD/tests/cluster/gluster.sh
tmp=$(mktemp -d)
# what glusterd makes outside $GT on a first start: removed if we made it
made_outside=""
for d in /var/lib/glusterd/geo-replication /var/lib/glusterd/ss_brick /var/run/gluster/snaps; do
	[ -e "$d" ] || made_outside="$made_outside $d"
done
cleanup() {
	[ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null
	[ -n "${HOLD_PID:-}" ] && kill "$HOLD_PID" 2>/dev/null
	# shellcheck disable=SC2086
	[ -n "${frozen:-}" ] && kill -CONT $frozen 2>/dev/null
	"$GLUSTER_SH" stop "$GT" "$VOL" >/dev/null 2>&1
	for d in $made_outside; do rm -rf "$d"; done
	rm -rf "$GT" "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

G() { timeout 60 gluster --glusterd-sock="$GT/run/glusterd.socket" \
	--log-file="$GT/log/cli.log" --mode=script "$@"; }
brick_online() { G volume status "$VOL" --xml 2>/dev/null | grep -q '<status>1</status>'; }
brick_pid() { cat "$GT"/run/vols/"$VOL"/*.pid 2>/dev/null | head -n 1; }

t0=$SECONDS
if ! "$GLUSTER_SH" start "$GT" "$VOL" >"$tmp/up.log" 2>&1; then
	cat "$tmp/up.log"
	tail -n 5 "$GT/log/glusterd.log" 2>/dev/null
	ko "glusterd and a one-brick volume start"
	echo "$passed passed, $failed failed"
	exit 1
fi
# gluster.sh turns write-behind off on the volume; the volume's default
# (on) is what the handler must protect itself from.
G volume reset "$VOL" performance.write-behind >/dev/null
echo "volume $VOL up in $((SECONDS - t0)) s (brick $BRICKHOST:$GT/brick/$VOL)"
BRICK=$GT/brick/$VOL
export TCMU_GLFS_LOG=$GT/log/gfapi.log
H=127.0.0.1

# refused PATTERN MAX-SECONDS CONFIG: exit 2 within the time, the reason matches
refused() {
	local pat=$1 max=$2 t=$SECONDS
	run_sim 2 check --handler-path . "$3" --size 64M && grep -qE "$pat" "$tmp/out" &&
		{ echo "    | refused in $((SECONDS - t)) s (at most $max)"; [ $((SECONDS - t)) -le "$max" ]; }
}

# Never a blank disk: a missing image is refused, by check_config
# (targetcli's CheckConfig, tcmu-sim check) and by open (sim_hold opens
# without asking check_config), each saying why; nothing is made.
missing_refused() {
	local rc ok=0
	refused "/absent.img: missing, and ;create is not in the config" 12 \
		"glfs/$VOL@$H/absent.img" || ok=1
	echo quit | timeout 120 tests/build/sim_hold --handler-path . --size 64M \
		"glfs/$VOL@$H/absent.img" >"$tmp/out" 2>&1
	rc=$?
	sed 's/^/    | /' "$tmp/out"
	echo "    | exit $rc (want 1); on the volume: $(tests/build/glfs_tool size $H "$VOL" /absent.img)"
	[ $rc = 1 ] && grep -q "^open: No such file or directory" "$tmp/out" &&
		grep -q "/absent.img on volume $VOL is missing: .*;create" "$tmp/out" &&
		[ "$(tests/build/glfs_tool size $H "$VOL" /absent.img)" = missing ] || ok=1
	return $ok
}
check "a missing image without ;create: check and open refuse it, saying why; nothing made" \
	missing_refused
new_file_checked() {
	run_sim 0 check --handler-path . "glfs/$VOL@$H/lun.img;create" --size 256M &&
		[ "$(stat -c %s "$BRICK/lun.img")" = 268435456 ]
}
check "with ;create, check passes on a file it creates at the LUN's size (256 MiB)" \
	new_file_checked
check "check passes again on the existing file, 4096-byte blocks, qd 1" \
	run_sim 0 check --handler-path . "glfs/$VOL@$H:24007/lun.img" --size 256M \
		--block-size 4096 --qd 1
check "a file smaller than the LUN is not opened" \
	run_sim 1 check --handler-path . "glfs/$VOL@$H/lun.img" --size 512M

check "a volume that does not exist is refused, naming the volume" \
	refused "volume novol on $H, connect: glfs_init" 12 "glfs/novol@$H/x.img"
check "a host where no glusterd answers is refused within 12 s" \
	refused "volume $VOL on $H:24999, connect" 12 "glfs/$VOL@$H:24999/x.img"
check "a path whose directory is missing is refused" \
	refused "/nodir/x.img: missing, and so is its directory" 12 \
		"glfs/$VOL@$H/nodir/x.img;create"
check "a path that is a directory is refused" \
	eval 'tests/build/glfs_tool mkdir $H "$VOL" /d &&
		refused "/d: a directory" 12 "glfs/$VOL@$H/d"'
check "a malformed config is refused with a reason" \
	refused "expected <volume>@<host>" 2 "glfs/$VOL/x.img"
bad_ping() {
	local v
	for v in 0 1014 abc -5 "" 10s; do
		refused "ping_timeout=$v: ping_timeout is seconds, 1..1013, or \"volume\"" 2 \
			"glfs/$VOL@$H/x.img;ping_timeout=$v" || return 1
	done
	refused "unknown option" 2 "glfs/$VOL@$H/x.img;ping=5"
}
check "ping_timeout refused unless 1..1013 or \"volume\"; an unknown option refused" bad_ping

# ping_timeout in force, from tcmu-sim -d's log: PING-SECONDS WHOSE WARN CONFIG
ping_logged() {
	run_sim 0 check -d --handler-path . "$4" --size 64M >/dev/null &&
		grep -q "connected, ping-timeout $1 s ($2" "$tmp/out" &&
		grep -q "within $(($1 * 2)) s" "$tmp/out" || return 1
	grep -E "ping-timeout|frozen brick" "$tmp/out" | sed 's/^.*\] /    | /'
	if [ "$3" = warn ]; then
		grep -q "holds commands up to $(($1 * 2)) s, not below the device's cmd_time_out of 30 s.*;ping_timeout=14 or less" "$tmp/out"
	else
		! grep -q "holds commands up to" "$tmp/out"
	fi
}
check "ping-timeout 10 s, ours, by default whatever the volume says; no warning" \
	eval 'G volume set "$VOL" network.ping-timeout 17 >/dev/null &&
		ping_logged 10 ours none "glfs/$VOL@$H/lun.img"'
check "ping_timeout=volume: the volume's 17 s from its volfile, and a warning (34 s >= 30 s)" \
	ping_logged 17 "the volume's" warn "glfs/$VOL@$H/lun.img;ping_timeout=volume"
check "ping_timeout=volume, none set on the volume: protocol/client's 42 s, and a warning" \
	eval 'G volume reset "$VOL" network.ping-timeout >/dev/null &&
		ping_logged 42 "the volume'"'"'s" warn "glfs/$VOL@$H/lun.img;ping_timeout=volume"'
check "ping_timeout=5: ours, no warning" \
	ping_logged 5 ours none "glfs/$VOL@$H/lun.img;ping_timeout=5"

# Random writes of 1-256 blocks (some FUA, flushes), an UNMAP of 4 MiB at
# 8 MiB, a full read-back; then gfapi's read of the file must equal it.
# A second LUN on the same volume, open all along, shares the connection.
data_matches() {
	timeout 300 tests/build/sim_pattern -v --handler-path . --size 64M --ops 400 \
		--unmap 16384,8192 --out "$tmp/want.img" --also "glfs/$VOL@$H/data2.img;create" \
		"glfs/$VOL@$H/data.img;create" >"$tmp/out" 2>&1
	local rc=$?
	grep -v -e watch_ -e dev_tmr_enable "$tmp/out" | sed 's/^/    | /'
	[ $rc = 0 ] && [ "$(grep -c ' 0 differ' "$tmp/out")" = 2 ] &&
		grep -q "volume $VOL on $H: connection shared (2 users)" "$tmp/out" &&
		tests/build/glfs_tool cat $H "$VOL" /data.img >"$tmp/got.img" &&
		cmp "$tmp/got.img" "$tmp/want.img" && echo "    | gfapi's read of /data.img: the same 64 MiB"
}
check "random data of random sizes reads back on two LUNs sharing a connection; gfapi reads the same" \
	data_matches
hole_punched() {
	python3 - "$BRICK/data.img" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
off, end = 16384 * 512, (16384 + 8192) * 512
hole = os.lseek(fd, off, os.SEEK_HOLE)
data = os.lseek(fd, hole, os.SEEK_DATA) if hole < os.fstat(fd).st_size else hole
# the 4 MiB unmapped lie in one hole (writes may end or start inside
# its first or last block)
print("    | brick file: hole %d..%d, unmapped %d..%d, %d blocks allocated" %
      (hole, data, off, end, os.fstat(fd).st_blocks))
sys.exit(0 if hole <= off + 4096 and data >= end - 4096 else 1)
EOF
}
check "UNMAP punched a hole in the brick's file (SEEK_HOLE)" hole_punched

# An fdatasync that fails (error-gen on the client's fsync): FUA writes
# and SYNCHRONIZE CACHE end in MEDIUM ERROR, WRITE ERROR; once fsync works
# again, so do they.
sync_errors() {	# error-gen reset whatever happened: it would fail later cases
	local o ok=0
	for o in "error-gen client" "error-fops fsync" "error-failure 100"; do
		G volume set "$VOL" debug.$o >/dev/null || ok=1
	done
	run_sim 1 check --handler-path . "glfs/$VOL@$H/sync.img;create" --size 64M &&
		grep -q "^FAIL: WRITE(16) FUA and SYNCHRONIZE CACHE.*sense 3/0c/00" "$tmp/out" ||
		ok=1
	G volume reset "$VOL" debug.error-gen >/dev/null || ok=1
	run_sim 0 check --handler-path . "glfs/$VOL@$H/sync.img" --size 64M || ok=1
	return $ok
}
check "a failing fdatasync fails FUA and SYNCHRONIZE CACHE (3/0c/00); then they work again" \
	sync_errors

# Write-behind, the volume's default: with the brick dead it acknowledges
# writes no brick stored; with pass-through on it does not.
# SIGKILL the brick, and wait until it is reaped: glusterd takes a zombie
# for a running brick and would not start it again.
kill_brick() {
	local p i=0
	p=$(brick_pid)
	[ -n "$p" ] && kill -KILL "$p" || return 1
	while [ -e /proc/"$p" ]; do
		i=$((i + 1)); [ $i -lt 100 ] || return 1
		sleep 0.1
	done
}
restart_brick() {
	G volume start "$VOL" force >/dev/null || return 1
	local i=0
	until brick_online; do
		i=$((i + 1)); [ $i -lt 300 ] || return 1
		sleep 0.1
	done
}
wb_acked() {	# wb_acked on|off: acked writes with the brick killed
	local n
	coproc WB { tests/build/glfs_tool wbprobe $H "$VOL" "/wb-$1.img" "$1" 2>&1; }
	read -r -t 30 line <&"${WB[0]}"
	[ "$line" = ready ] || { echo "    | probe: $line" >&2; return 1; }
	kill_brick || return 1
	echo go >&"${WB[1]}"
	read -r -t 60 line <&"${WB[0]}"
	wait "$WB_PID" 2>/dev/null
	echo "    | pass-through $1, brick killed: $line" >&2
	restart_brick >&2 || return 1
	n=${line#acked }
	echo "${n%% *}"
}
write_behind() {
	local off on
	off=$(wb_acked off) && on=$(wb_acked on) &&
		[ -n "$off" ] && [ "$off" -gt 0 ] && [ "$on" = 0 ]
}
check "write-behind acknowledges writes a dead brick lost; with pass-through none" \
	write_behind

# sim_hold on CONFIG as the coprocess HOLD (its stderr in $tmp/hold.err);
# true if it opened.
hold_start() {
	coproc HOLD { timeout 600 tests/build/sim_hold --handler-path . --size 64M "$1" \
		2>"$tmp/hold.err"; }
	[ "$(hold_cmd)" = "open: ok" ]
}
# hold_cmd [COMMAND]: COMMAND to sim_hold (none: its first line); prints
# the answer, and shows it on stderr.
hold_cmd() {
	local line
	[ $# = 0 ] || echo "$1" >&"${HOLD[1]}"
	read -r -t 150 line <&"${HOLD[0]}" || line="(no answer)"
	echo "    | $line" >&2
	echo "$line"
}
hold_end() {
	[ -n "${HOLD[1]:-}" ] && echo quit >&"${HOLD[1]}"
	wait "$HOLD_PID" 2>/dev/null
	grep -v -e watch_ -e dev_tmr_enable "$tmp/hold.err" | sed 's/^/    | /'
}
# Never a blank disk: an image (made beforehand, the config without
# ;create) removed (rm) or renamed (mv) under a served LUN. The open fd
# may still read what the file held (an unlinked or renamed file is still
# the data) or fail, never zeros. With "reconnect" the brick is killed
# and restarted meanwhile (gfapi opens its fds again by themselves). Then
# a reopen, as the daemon does on a config change: it fails, and the LUN
# answers NOT READY, MANUAL INTERVENTION REQUIRED (2/04/03), not a new
# empty disk; the image is still not on the volume.
data_or_error() {	# an answer to a read on the old fd: fine or not
	case $1 in "read: the pattern"|"read: sense "*) return 0 ;; esac
	return 1
}
vanish() {	# vanish rm|mv [reconnect]
	local img=/vanish-$1${2:+-$2}.img r i ok=0
	tests/build/glfs_tool create $H "$VOL" "$img" 67108864 || return 1
	hold_start "glfs/$VOL@$H$img" || { hold_end; return 1; }
	[ "$(hold_cmd write)" = "write: GOOD" ] && [ "$(hold_cmd read)" = "read: the pattern" ] ||
		ok=1
	if [ "$1" = rm ]; then
		tests/build/glfs_tool rm $H "$VOL" "$img" || ok=1
	else
		tests/build/glfs_tool mv $H "$VOL" "$img" "$img.moved" || ok=1
	fi
	data_or_error "$(hold_cmd read)" || ok=1
	if [ "${2:-}" = reconnect ]; then
		kill_brick && restart_brick || ok=1
		# until the client is back on the brick's new port (about 3 s)
		for i in $(seq 20); do
			r=$(hold_cmd read)
			[ "$r" = "read: sense 2/08/00" ] || break
			sleep 2
		done
		[ "$r" != "read: sense 2/08/00" ] && data_or_error "$r" || ok=1
	fi
	[ "$(hold_cmd reopen)" = "reopen: failed: No such file or directory" ] || ok=1
	[ "$(hold_cmd read)" = "read: sense 2/04/03" ] || ok=1
	hold_end
	r=$(tests/build/glfs_tool size $H "$VOL" "$img")
	echo "    | $img on the volume after the reopen: $r"
	[ "$r" = missing ] && [ ! -e "$BRICK$img" ] || ok=1
	if [ "$1" = mv ] && cmp -s -n 262144 "$BRICK$img.moved" /dev/zero; then
		echo "    | the renamed file reads zeros"
		ok=1
	fi
	return $ok
}
check "an image removed under a served LUN: a reopen fails, then NOT READY (2/04/03), never zeros; not made again" \
	vanish rm
check "an image renamed under a served LUN: likewise; the renamed file keeps the data" \
	vanish mv
check "an image removed, the brick restarted (reconnect): errors or the data, never zeros; a reopen fails, NOT READY; not made again" \
	vanish rm reconnect

# The brick killed under random writes and started again 4 s later.
brick_kill() {
	local rc t=$SECONDS
	timeout 200 tests/build/sim_pattern --handler-path . --size 64M --seconds 12 \
		"glfs/$VOL@$H/kill.img;create" >"$tmp/out" 2>&1 &
	sim_pid=$!
	sleep 3
	kill_brick && echo "    | brick killed at $((SECONDS - t)) s"
	sleep 4
	restart_brick && echo "    | brick started again at $((SECONDS - t)) s"
	wait $sim_pid
	rc=$?
	sim_pid=
	sed 's/^/    | /' "$tmp/out"
	echo "    | exit $rc in $((SECONDS - t)) s"
	[ $rc = 0 ] && grep -Eq "writes: [0-9]+ good, [1-9][0-9]* retryable" "$tmp/out" &&
		grep -q " 0 differ" "$tmp/out"
}
check "brick killed and restarted: retryable errors, nothing acknowledged lost, no hang" \
	brick_kill

# glusterd and the brick frozen: SIGSTOP both (what a hung server looks
# like: the TCP connections stay up), $frozen for cleanup.
freeze() { frozen="$(brick_pid) $(cat "$GT/run/glusterd.pid")"; kill -STOP $frozen; }
thaw() { kill -CONT $frozen; frozen=; }
# gfapi alone, the client xlator option as the handler sets it: a write
# to the frozen brick fails within [T, 2T] (+1 s) of ping-timeout T = 3.
gfapi_bound() {
	local line s
	coproc ST { tests/build/glfs_tool stall $H "$VOL" /stall.img "$VOL-client-*" \
		ping-timeout 3 2>&1; }
	read -r -t 30 line <&"${ST[0]}"
	[ "$line" = ready ] || { echo "    | stall: $line"; return 1; }
	freeze
	echo go >&"${ST[1]}"
	read -r -t 60 line <&"${ST[0]}"
	thaw
	wait "$ST_PID" 2>/dev/null
	echo "    | client ping-timeout 3 s, brick frozen: $line"
	s=$(echo "$line" | sed -n 's/^write failed after \([0-9]*\)\.[0-9] s: .*/\1/p')
	[ -n "$s" ] && [ "$s" -ge 3 ] && [ "$s" -le 6 ]
}
check "gfapi: a write to a frozen brick fails within twice the client's ping-timeout (3 s)" \
	gfapi_bound

# The handler with ping_timeout=3 under random writes, brick and glusterd
# frozen 15 s: no command held past 2 x 3 s (+2 s), they fail retryable,
# nothing acknowledged is lost, and writes work again after SIGCONT.
frozen_bound() {
	local rc longest t=$SECONDS
	sleep 4		# the brick reconnected after the last case's thaw
	timeout 200 tests/build/sim_pattern --handler-path . --size 64M --seconds 25 \
		"glfs/$VOL@$H/freeze.img;ping_timeout=3;create" >"$tmp/out" 2>&1 &
	sim_pid=$!
	sleep 3
	freeze && echo "    | frozen at $((SECONDS - t)) s"
	sleep 15
	thaw && echo "    | thawed at $((SECONDS - t)) s"
	wait $sim_pid
	rc=$?
	sim_pid=
	sed 's/^/    | /' "$tmp/out"
	longest=$(sed -n 's/^writes: .*; longest \([0-9]*\)\.[0-9] s$/\1/p' "$tmp/out")
	echo "    | exit $rc in $((SECONDS - t)) s; longest command ${longest:-?} s (at most 8)"
	[ $rc = 0 ] && grep -Eq "writes: [0-9]+ good, [1-9][0-9]* retryable" "$tmp/out" &&
		grep -q " 0 differ" "$tmp/out" && [ -n "$longest" ] && [ "$longest" -le 8 ]
}
check "brick frozen 15 s, ping_timeout=3: commands fail retryable within 8 s, nothing lost" \
	frozen_bound

bench() {	# bench ARGS...: one figure line
	timeout 120 ./tcmu-sim bench --handler-path . "glfs/$VOL@$H/lun.img" --size 256M \
		--seconds "$BENCH_SECONDS" "$@" 2>&1 | tail -n 1 | sed 's/^/    | /' |
		tee -a "$tmp/bench"
}
bench_runs() {
	echo "    tcmu-sim bench, handler_glfs:"
	: >"$tmp/bench"
	bench --rw randwrite --bs 4k --qd 16 && bench --rw randread --bs 4k --qd 16 &&
		bench --rw write --bs 1M --qd 4 && bench --rw read --bs 1M --qd 4 &&
		[ "$(grep -c IOPS "$tmp/bench")" = 4 ]
}
check "bench runs (4 KiB random qd 16, 1 MiB sequential qd 4)" bench_runs
if command -v fio >/dev/null && fio --enghelp 2>/dev/null | grep -qx '[[:space:]]*gfapi_async'; then
	# fio cannot set pass-through: the volume's write-behind off instead,
	# the same for it as for the handler.
	G volume set "$VOL" performance.write-behind off >/dev/null
	echo "    fio's gfapi_async engine, same file, write-behind off on the volume:"
	for spec in "randwrite 4k 16" "randread 4k 16" "write 1M 4" "read 1M 4"; do
		set -- $spec
		timeout 120 fio --name=f --ioengine=gfapi_async --volume="$VOL" --brick=$H \
			--filename=lun.img --rw=$1 --bs=$2 --iodepth=$3 \
			--runtime="$BENCH_SECONDS" --time_based --size=256M 2>&1 |
			grep -E '^ *(read|write): IOPS' | sed "s/^ */    | $1 bs=$2 qd=$3: /"
	done
else
	echo "    (fio without the gfapi_async engine: no comparison)"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
