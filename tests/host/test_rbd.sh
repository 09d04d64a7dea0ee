#!/bin/bash
# test_rbd.sh - handler_rbd against a real single-node Ceph cluster (one
# mon, one mgr, one OSD on a sparse file, cephx, 127.0.0.1 only), started
# here in a temporary directory and torn down on every exit. Through
# tcmu-sim: check passes; a missing pool, image or an image smaller than
# the LUN is refused with a reason; what a sequential write left is what
# `rbd export` holds; an acknowledged write survives a SIGKILL (librbd's
# cache off); the image in Ceph's service map, its status current and
# registered again after a blocklisted client's reopen; bench figures
# beside fio's rbd engine on the same image.
# Needs ceph-mon, ceph-mgr, ceph-osd, rbd, librbd-dev (handler_rbd.so
# built), which make check installs: a missing one is a failure under CI,
# a skip (exit 77) elsewhere. The cluster: tests/cluster/ceph.sh.
# Env: BENCH_SECONDS. Ends "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
CEPH_SH=$PWD/tests/cluster/ceph.sh
BENCH_SECONDS=${BENCH_SECONDS:-5}
. tests/host/check_lib.sh

for t in ceph-mon ceph-mgr ceph-osd ceph rbd uuidgen; do
	command -v $t >/dev/null || skip "$t not installed"
done
[ -f handler_rbd.so ] || skip "handler_rbd.so not built (librbd-dev missing?)"

DIR=$(mktemp -u /var/tmp/ceph-rbd.XXXXXX)
tmp=$(mktemp -d)
HOLD_PID=""
cleanup() {
	[ -z "$HOLD_PID" ] || kill -9 "$HOLD_PID" 2>/dev/null
	"$CEPH_SH" stop "$DIR" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The monitor's ports: the first pair free on 127.0.0.1 (another
# cluster, another run of this test, may hold 3300/6789).
port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
for k in $(seq 0 40); do
	if port_free $((3300 + k)) && port_free $((6789 + k)); then
		export MON_V2_PORT=$((3300 + k)) MON_V1_PORT=$((6789 + k))
		break
	fi
done
t0=$SECONDS
if ! "$CEPH_SH" start "$DIR" >"$tmp/start.log" 2>&1; then
	cat "$tmp/start.log"
	tail -n 5 "$DIR"/log/ceph-mon.a.log "$DIR"/log/ceph-osd.0.log 2>/dev/null
	ko "cluster starts"
	echo "$passed passed, $failed failed"
	exit 1
fi
echo "cluster up in $((SECONDS - t0)) s (mon on 127.0.0.1:$MON_V2_PORT)"
export CEPH_CONF=$DIR/ceph.conf
# Every ceph/rbd CLI call bounded; the handler sets its own timeouts.
export CEPH_ARGS="--rados-osd-op-timeout 30 --rados-mon-op-timeout 30 --client-mount-timeout 30"
RBD() { timeout 120 rbd "$@"; }

RBD create rbd/lun --size 256M || ko "rbd create"
RBD create rbd/small --size 64M || ko "rbd create small"
OPTS=";conf=$CEPH_CONF;id=admin;osd_op_timeout=20"

refused() {	# refused PATTERN CONFIG SIZE: exit 2, the reason matches
	local pat=$1
	run_sim 2 check --handler-path . "$2" --size "$3" && grep -qE "$pat" "$tmp/out"
}

check "check passes on a 256 MiB image" \
	run_sim 0 check --handler-path . "rbd/rbd/lun$OPTS" --size 256M
check "check passes with 4096-byte blocks, qd 1" \
	run_sim 0 check --handler-path . "rbd/rbd/lun$OPTS" --size 256M --block-size 4096 --qd 1
check "a pool that does not exist is refused, naming the pool" \
	refused "pool: No such file" "rbd/nopool/lun$OPTS" 256M
check "an image that does not exist is refused, naming the image" \
	refused "image: No such file" "rbd/rbd/noimage$OPTS" 256M
check "a malformed config is refused with a reason" \
	refused "expected <pool>/<image>" "rbd/lun$OPTS" 256M
check "an unknown option is refused with a reason" \
	refused "unknown option" "rbd/rbd/lun;foo=1" 256M
# The image exists, so check_config passes; open refuses the size.
check "an image smaller than the LUN is not opened" \
	run_sim 1 check --handler-path . "rbd/rbd/small$OPTS" --size 256M

# Sequential 64 KiB writes of 0x5a from LBA 0, 10 MiB, on a fresh image:
# rbd export holds exactly that, and zeros after it.
export_matches() {
	RBD create rbd/pat --size 64M &&
		run_sim 0 bench --handler-path . "rbd/rbd/pat$OPTS" --size 64M \
			--rw write --bs 64k --qd 16 --commands 160 &&
		RBD export rbd/pat "$tmp/pat.img" >/dev/null 2>&1 &&
		head -c 10485760 /dev/zero | tr '\0' '\132' >"$tmp/want.img" &&
		truncate -s 64M "$tmp/want.img" &&
		cmp "$tmp/pat.img" "$tmp/want.img"
}
check "10 MiB written through the handler is what rbd export holds" export_matches

# Durability: librbd's own cache is off, whatever ceph.conf says (here it
# asks for write-back). A write acknowledged with the LUN's write cache on,
# after a first flush (which turns librbd's write-back cache on), then a
# SIGKILL of the process within milliseconds: a fresh client (rbd export)
# finds that write, not the flushed one before it (tests/build/sim_hold:
# "write" the pattern with FUA, "flush", "cached" its complement without
# FUA). Pacific's default policy, writearound, also acknowledges a write
# before the OSDs have it, with a window too short for this test.
killed_after_cached_write() {
	local out=$tmp/wb.out fifo=$tmp/wb.in conf=$tmp/wb.conf pid i
	RBD create rbd/wb --size 64M || return 1
	printf '[client]\nrbd cache = true\nrbd cache policy = writeback\n' |
		cat "$CEPH_CONF" - >"$conf"
	rm -f "$fifo"
	mkfifo "$fifo" || return 1
	tests/build/sim_hold --handler-path . --size 64M \
		"rbd/rbd/wb;conf=$conf;id=admin;osd_op_timeout=20" <"$fifo" >"$out" 2>&1 &
	pid=$!
	exec 9>"$fifo"
	printf 'write\nflush\ncached\n' >&9
	for i in $(seq 3000); do
		grep -q '^cached: ' "$out" && break
		sleep 0.02
	done
	kill -9 "$pid"
	exec 9>&-
	wait "$pid" 2>/dev/null
	cat "$out"
	grep -q '^cached: GOOD' "$out" || { echo "the cached write was not acknowledged"; return 1; }
	RBD export rbd/wb - 2>/dev/null | head -c 262144 >"$tmp/wb.got"
	python3 -c 'import sys
pat = bytes(((o * 7 + (o >> 9) + 1) & 0xff) for o in range(262144))
got = open(sys.argv[1], "rb").read()
if got == bytes(b ^ 0xff for b in pat):
    print("rbd export after the kill: the acknowledged write"); sys.exit(0)
print("rbd export after the kill: " + ("the write before the flush (the acknowledged one lost)"
      if got == pat else "other data")); sys.exit(1)' "$tmp/wb.got"
}
check "a write acknowledged after a flush survives a SIGKILL (librbd's cache off)" \
	killed_after_cached_write

# The Ceph service map, which ceph-iscsi (its `service status`), the
# dashboard and `ceph -s` read: a served image is service tcmu-runner,
# daemon <host>:<pool>/<image>, with metadata pool_name, image_name,
# image_id, daemon_type portal and daemon_prefix <host>, and a status of
# lock_owner, lock_lost_cnt, conn_lost_cnt, cmd_timed_out_cnt kept
# current; blocklisted and reopened, the new client registers again and
# its status counts the lost connection. A client's status reaches the mgr
# with its next report (every mgr_stats_period, 5 s) and the handler sends
# at most one change every 3 s: each wait below is bounded at 30 s.
SVC=$(hostname):rbd/svc
within() {	# within SECONDS COMMAND...: true once COMMAND is, tried each second
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 1
	done
}
# svc dump|status [KEY...]: our daemon's entry in `ceph service dump` (its
# "metadata", "addr") or `ceph service status` (its "status"), walked down
# KEYs; a dict as "k=v k=v"; false if absent.
svc() {
	timeout 30 ceph service "$1" -f json 2>/dev/null | python3 -c 'import json, sys
kind, name, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
d = json.load(sys.stdin)
d = d["services"]["tcmu-runner"]["daemons"] if kind == "dump" else d["tcmu-runner"]
d = d[name]
for k in keys:
    d = d[k]
print(" ".join("%s=%s" % kv for kv in sorted(d.items())) if isinstance(d, dict) else d)' \
		"$1" "$SVC" "${@:2}" 2>/dev/null
}
svc_status_is() { [ "$(svc status status "$1")" = "$2" ]; }
svc_status_keys() {
	local k
	for k in lock_owner lock_lost_cnt conn_lost_cnt cmd_timed_out_cnt; do
		svc status status "$k" >/dev/null || return 1
	done
}

# sim_hold on rbd/svc, a line at a time from fd 9 (tests/tools/sim_hold.c).
hold_wait() {	# hold_wait CMD N: the Nth answer to CMD, within 120 s
	local i
	for i in $(seq 600); do
		if [ "$(grep -c "^$1: " "$tmp/hold.out")" -ge "$2" ]; then
			grep "^$1: " "$tmp/hold.out" | sed -n "$2{s/^/    | /;p}"
			return 0
		fi
		sleep 0.2
	done
	echo "no answer to $1"
	return 1
}
hold_cmd() {	# hold_cmd CMD: send it, wait for its answer
	local n=$(($(grep -c "^$1: " "$tmp/hold.out") + 1))
	printf '%s\n' "$1" >&9
	hold_wait "$1" "$n"
}
hold_start() {
	RBD create rbd/svc --size 64M || return 1
	rm -f "$tmp/hold.in"
	mkfifo "$tmp/hold.in" || return 1
	tests/build/sim_hold --handler-path . --size 64M "rbd/rbd/svc$OPTS" \
		<"$tmp/hold.in" >"$tmp/hold.out" 2>&1 &
	HOLD_PID=$!
	exec 9>"$tmp/hold.in"
	hold_wait open 1 && grep -q '^open: ok' "$tmp/hold.out"
}

svc_registered() {
	local kv k v want id rc=0
	id=$(RBD info rbd/svc --format json 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
	if ! within 30 svc dump metadata >/dev/null; then
		echo "    no daemon $SVC of service tcmu-runner; ceph service dump:"
		timeout 30 ceph service dump 2>&1 | sed 's/^/    | /'
		return 1
	fi
	for kv in pool_name=rbd image_name=svc "image_id=$id" daemon_type=portal \
		  "daemon_prefix=$(hostname)"; do
		k=${kv%%=*} want=${kv#*=}
		v=$(svc dump metadata "$k")
		echo "    $SVC metadata $k = $v"
		[ "$v" = "$want" ] || { echo "    (want $want)"; rc=1; }
	done
	return $rc
}
ceph_s_portal() {
	timeout 30 ceph -s 2>/dev/null | grep -E 'tcmu-runner: +[0-9]+ portals? active \([0-9]+ hosts?\)'
}
svc_lock_owner() {
	within 30 svc_status_keys || { echo "    status: $(svc status status)"; return 1; }
	echo "    status before a write: $(svc status status)"
	hold_cmd write || return 1
	within 30 svc_status_is lock_owner true
	local rc=$?
	echo "    status after it: $(svc status status)"
	return $rc
}
svc_new_client() { [ "$(svc dump addr)" != "$1" ] && svc_status_is conn_lost_cnt 1; }
svc_after_blocklist() {
	local addr old
	old=$(svc dump addr)
	addr=$(RBD status rbd/svc 2>/dev/null | sed -n 's/.*watcher=\([^ ]*\) .*/\1/p' | head -n 1)
	[ -n "$addr" ] || { echo "    no watcher on rbd/svc"; return 1; }
	echo "    blocklisting $addr (in the service map: ${old:-nothing})"
	timeout 60 ceph osd blocklist add "$addr" >/dev/null 2>&1 || return 1
	hold_cmd write && hold_cmd reopen || return 1
	grep -q '^reopen: done' "$tmp/hold.out" || return 1
	within 30 svc_new_client "$old"
	local rc=$?
	echo "    in the service map: $(svc dump addr), status: $(svc status status)"
	return $rc
}
svc_gone() {	# the service map answers, without our daemon
	timeout 30 ceph service dump -f json 2>/dev/null | python3 -c 'import json, sys
s = json.load(sys.stdin)["services"]
sys.exit(sys.argv[1] in s.get("tcmu-runner", {}).get("daemons", {}))' "$SVC"
}
svc_unregistered() {
	printf 'quit\n' >&9
	exec 9>&-
	wait "$HOLD_PID"
	HOLD_PID=""
	within 30 svc_gone
}

f0=$failed
if hold_start; then
	check "service map: tcmu-runner $SVC with pool_name, image_name, image_id, daemon_type, daemon_prefix" \
		svc_registered
	check "ceph -s: tcmu-runner: N portals active (M hosts) (within 30 s)" within 30 ceph_s_portal
	check "service status: the four keys, lock_owner true after a write (within 30 s)" \
		svc_lock_owner
	check "blocklisted, reopened: registered again, conn_lost_cnt 1 (within 30 s)" \
		svc_after_blocklist
	check "closed: the daemon leaves the service map (within 30 s)" svc_unregistered
	[ "$failed" = "$f0" ] || { echo "    sim_hold said:"; tail -n 20 "$tmp/hold.out" | sed 's/^/    | /'; }
else
	sed 's/^/    | /' "$tmp/hold.out"
	ko "sim_hold serves rbd/svc"
fi

# Not yet: UNMAP freeing space that `rbd du` sees needs an UNMAP of a chosen
# range, which tcmu-sim cannot send (its check unmaps ranges of its own).

bench() {	# bench LABEL ARGS...: one figure line
	timeout 120 ./tcmu-sim bench --handler-path . "rbd/rbd/lun$OPTS" --size 256M \
		--seconds "$BENCH_SECONDS" "$@" 2>&1 | tail -n 1 | sed 's/^/    | /'
}
bench_runs() {
	# The image written whole first: every object exists for both sides.
	timeout 300 ./tcmu-sim bench --handler-path . "rbd/rbd/lun$OPTS" --size 256M \
		--rw write --bs 1m --qd 4 --commands 256 >/dev/null 2>&1 || return 1
	echo "    tcmu-sim bench, handler_rbd:"
	bench --rw randwrite --bs 4k --qd 16 &&
		bench --rw randread --bs 4k --qd 16 &&
		bench --rw write --bs 1m --qd 4 &&
		bench --rw read --bs 1m --qd 4
}
check "bench runs (4 KiB random qd 16, 1 MiB sequential qd 4)" bench_runs
if command -v fio >/dev/null && fio --enghelp 2>/dev/null | grep -qx '[[:space:]]*rbd'; then
	echo "    fio's rbd engine, same image, rbd cache off (as the handler's):"
	for spec in "randwrite 4k 16" "randread 4k 16" "write 1m 4" "read 1m 4"; do
		set -- $spec
		printf '[client]\nrbd cache = false\n' | cat "$CEPH_CONF" - >"$tmp/nocache.conf"
		CEPH_CONF=$tmp/nocache.conf timeout 120 fio --name=f --ioengine=rbd \
			--clientname=admin --pool=rbd --rbdname=lun --rw=$1 --bs=$2 \
			--iodepth=$3 --runtime="$BENCH_SECONDS" --time_based --size=256M 2>&1 |
			grep -E '^ *(read|write): IOPS' | sed "s/^ */    | $1 bs=$2 qd=$3: /"
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
