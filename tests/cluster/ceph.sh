#!/bin/bash
# ceph.sh - a throwaway single-node Ceph cluster for the rbd tests: one
# monitor, one manager, one OSD (bluestore on a sparse file), cephx on,
# every daemon bound to 127.0.0.1, everything (config, keys, data, logs,
# sockets) under DIR. No systemd, nothing in /etc or /var/lib/ceph.
#
# Usage: tests/cluster/ceph.sh start DIR     (DIR must not exist)
#        tests/cluster/ceph.sh stop DIR      (kills what start started)
#        tests/cluster/ceph.sh osd-stop DIR | osd-start DIR
# After start: export CEPH_CONF=DIR/ceph.conf; pool "rbd" exists.
# Env: MON_V2_PORT (3300), MON_V1_PORT (6789), OSD_BLOCK_SIZE (4G),
#      CEPH_WAIT (seconds for each step, 300).
# Facts this relies on (measured on Debian 12's Ceph 16.2): ceph-mon --mkfs
# wants an absent mon folder and may exit 0 on failure (check its store);
# an OSD without a host name cannot place itself in CRUSH; bluestore opens
# its block file with O_DIRECT, so DIR must not be on tmpfs; every librados
# client needs its own admin socket name or they collide.
set -eu
CMD=${1:-} DIR=${2:-}
[ -n "$CMD" ] && [ -n "$DIR" ] || { sed -n '6,10p' "$0" >&2; exit 2; }
WAIT=${CEPH_WAIT:-300}
say() { printf 'ceph.sh: [%3ds] %s\n' "$SECONDS" "$*"; }
die() { say "error: $*" >&2; exit 1; }

pid_of() { cat "$DIR/run/$1.pid" 2>/dev/null; }
alive() { local p; p=$(pid_of "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# until SECONDS-LIMIT WHAT DAEMON COMMAND...: retry COMMAND every 0.3 s;
# fail early if DAEMON died.
until_ok() {
	local what=$1 daemon=$2 end=$((SECONDS + WAIT))
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ -z "$daemon" ] || alive "$daemon" || die "$daemon died while waiting for $what (see $DIR/log)"
		if [ $SECONDS -ge $end ]; then
			# What the cluster says it lacks, for the log of a failed run.
			[ "$what" != HEALTH_OK ] || timeout 20 ceph health detail 2>&1 | sed 's/^/  | /' >&2
			die "no $what after ${WAIT}s (see $DIR/log)"
		fi
		sleep 0.3
	done
	say "$what"
}

write_conf() {
	cat >"$DIR/ceph.conf" <<EOF
[global]
fsid = $1
mon initial members = a
mon host = [v2:127.0.0.1:${MON_V2_PORT:-3300},v1:127.0.0.1:${MON_V1_PORT:-6789}]
public addr = 127.0.0.1
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $DIR/run
admin socket = $DIR/run/\$cluster-\$name.asok
log file = $DIR/log/\$cluster-\$name.log
log to stderr = false
crash dir = $DIR/crash
mon data = $DIR/\$type.\$id
mgr data = $DIR/\$type.\$id
osd data = $DIR/\$type.\$id
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1

[client]
keyring = $DIR/ceph.client.admin.keyring
admin socket = $DIR/run/\$cluster-\$name.\$pid.asok
log file = $DIR/log/\$cluster-\$name.\$pid.log

[mon]
keyring = $DIR/\$type.\$id/keyring

[mgr]
keyring = $DIR/\$type.\$id/keyring
mgr disabled modules = alerts,diskprediction_local,influx,insights,iostat,localpool,mirroring,nfs,osd_perf_query,osd_support,prometheus,restful,selftest,snap_schedule,stats,telegraf,test_orchestrator,zabbix

[osd]
keyring = $DIR/\$type.\$id/keyring
osd objectstore = bluestore
bluestore block create = true
bluestore block size = ${OSD_BLOCK_SIZE:-4G}
osd memory target = 939524096
osd op num shards = 2
osd op num threads per shard = 1
EOF
}

# spawn NAME COMMAND...: a daemon in the foreground of a background job.
spawn() {
	local name=$1
	shift
	"$@" -f 2>"$DIR/log/$name.stderr" &
	echo $! >"$DIR/run/$name.pid"
}

osd_up() { ceph osd dump 2>/dev/null | grep -q '^osd.0 up'; }

start() {
	local fsid uuid
	[ -e "$DIR" ] && die "$DIR exists: refusing to reuse it"
	mkdir -p "$DIR"/run "$DIR"/log "$DIR"/crash "$DIR"/mgr.x "$DIR"/osd.0
	fsid=$(uuidgen)
	write_conf "$fsid"
	export CEPH_CONF=$DIR/ceph.conf
	ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. \
		--cap mon 'allow *' >/dev/null
	ceph-authtool --create-keyring "$DIR/ceph.client.admin.keyring" --gen-key \
		-n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' \
		>/dev/null
	ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/ceph.client.admin.keyring" \
		>/dev/null
	chmod 600 "$DIR"/*.keyring
	monmaptool --create --fsid "$fsid" --addv a \
		"[v2:127.0.0.1:${MON_V2_PORT:-3300},v1:127.0.0.1:${MON_V1_PORT:-6789}]" \
		"$DIR/monmap" >/dev/null
	ceph-mon --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring"
	[ -f "$DIR/mon.a/store.db/CURRENT" ] || die "ceph-mon --mkfs made no store"
	spawn mon.a ceph-mon -i a
	until_ok "monitor in quorum" mon.a timeout 5 ceph --connect-timeout 3 mon stat
	ceph auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' \
		-o "$DIR/mgr.x/keyring"
	spawn mgr.x ceph-mgr -i x
	uuid=$(uuidgen)
	[ "$(ceph osd new "$uuid")" = 0 ] || die "the new OSD is not osd.0"
	ceph auth get-or-create osd.0 mon 'allow profile osd' mgr 'allow profile osd' \
		osd 'allow *' -o "$DIR/osd.0/keyring"
	ceph-osd -i 0 --mkfs --osd-uuid "$uuid" 2>"$DIR/log/osd.0.mkfs.stderr" ||
		die "ceph-osd --mkfs failed (see $DIR/log/osd.0.mkfs.stderr)"
	spawn osd.0 ceph-osd -i 0
	until_ok "OSD up" osd.0 osd_up
	ceph osd pool create rbd 8 8 >/dev/null 2>&1
	rbd pool init rbd
	until_ok "HEALTH_OK" "" test "$(ceph health 2>/dev/null)" = HEALTH_OK
}

stop() {
	local n p
	for n in osd.0 mgr.x mon.a; do
		p=$(pid_of $n) && [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
	done
	for _ in $(seq 50); do
		alive osd.0 || alive mgr.x || alive mon.a || break
		sleep 0.1
	done
	for n in osd.0 mgr.x mon.a; do
		p=$(pid_of $n) && [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "$DIR"
}

export CEPH_CONF=$DIR/ceph.conf
case $CMD in
start) start ;;
stop) stop ;;
# The OSD killed hard (as a crash or power loss would) and started again.
osd-stop)
	kill -KILL "$(pid_of osd.0)"
	until_ok "OSD marked down" "" timeout 20 bash -c \
		"ceph osd down 0 >/dev/null 2>&1; ! ceph osd dump | grep -q '^osd.0 up'"
	;;
osd-start)
	spawn osd.0 ceph-osd -i 0
	until_ok "OSD up" osd.0 osd_up
	# Up is not serving: its placement groups peer first.
	until_ok "HEALTH_OK" "" test "$(ceph health 2>/dev/null)" = HEALTH_OK
	;;
*) die "unknown command $CMD" ;;
esac
