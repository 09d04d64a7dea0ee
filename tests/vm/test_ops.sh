#!/bin/bash
# test_ops.sh - operations through the real kernel (issue 15), on a
# user:file LUN:
#  - SIGHUP after the log level changed in the configuration file takes
#    effect while fio writes and verifies at queue depth 16: no command is
#    lost or fails; a bad line is named with its file and line number, and
#    the old value is kept;
#  - tcmu-runner --status --json: the read and write counters of the LUN
#    grow by what fio says it issued (within 1 %), bytes likewise, with
#    non-zero latencies.
# One boot, about 2 min under emulation.
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"

CONF=/tmp/tcmu.conf
LOG=$TCMU_RESULTS/daemon.log
trap cleanup_all EXIT

printf '[log]\nlevel = info\n' >"$CONF"
export TCMU_DAEMON_DEBUG=0
tc_run "lio loads" lio_load || exit 1
tc_run "system bus starts" bus_start || exit 1
tc_run "daemon starts with --config" daemon_start --config "$CONF" || exit 1
tc_run "targetcli lists user:file" wait_handler file 60 || exit 1
truncate -s 256M /tmp/ops.img
tc_run "a user:file LUN" lun_create_user ops 256M /tmp/ops.img || exit 1
SD=$LUN_SD

# --- SIGHUP under I/O -------------------------------------------------------
sighup_under_io() {
	local fio_pid rc
	fio_verify "$SD" 64M --iodepth=16 --bsrange=4k-128k --loops=2 >/tmp/fio-hup.log 2>&1 &
	fio_pid=$!
	sleep 3
	printf '[log]\nlevel = debug\n' >"$CONF"
	kill -HUP "$DAEMON_PID"
	wait_log "SIGHUP: read $CONF, 0 bad lines: log level debug" 20 || return 1
	sleep 2
	# A bad value on line 2: named, and the level stays debug.
	printf '[log]\nlevel = loud\n' >"$CONF"
	kill -HUP "$DAEMON_PID"
	wait_log "$CONF:2: [log] level = 'loud'" 20 || return 1
	wait_log "SIGHUP: read $CONF, 1 bad lines: log level debug" 20 || return 1
	wait $fio_pid
	rc=$?
	grep -E "err=|issued rwts" /tmp/fio-hup.log
	[ $rc = 0 ] || { cat /tmp/fio-hup.log; return 1; }
	grep -q "err= 0" /tmp/fio-hup.log
}
tc_run "SIGHUP under fio: new level taken, bad line named with the old value kept, no command lost" \
	sighup_under_io

# --- statistics against fio -----------------------------------------------
# stat FIELD: the LUN's figure from tcmu-runner --status --json.
stat() { lun_stat ops "$1"; }
# within A B: A and B differ by at most 1 % of B.
within() { python3 -c 'import sys; a, b = map(int, sys.argv[1:]); sys.exit(abs(a - b) > b / 100)' "$1" "$2"; }
stats_match_fio() {
	local r0 w0 rb0 wb0 r1 w1 rb1 wb1 fr fw
	r0=$(stat read_cmds) w0=$(stat write_cmds) rb0=$(stat read_bytes) wb0=$(stat write_bytes) ||
		return 1
	fio --name=count --filename="$SD" --size=64M --rw=randrw --rwmixread=60 --bs=4k \
		--iodepth=8 --ioengine=libaio --direct=1 --number_ios=3000 \
		--output-format=json >/tmp/count.json || return 1
	read -r fr fw < <(python3 -c '
import json
j = json.load(open("/tmp/count.json"))["jobs"][0]
print(j["read"]["total_ios"], j["write"]["total_ios"])')
	r1=$(stat read_cmds) w1=$(stat write_cmds) rb1=$(stat read_bytes) wb1=$(stat write_bytes)
	echo "fio issued $fr reads, $fw writes; the LUN counted $((r1 - r0)) reads," \
		"$((w1 - w0)) writes, $((rb1 - rb0)) and $((wb1 - wb0)) bytes"
	echo "latency p50/p99: read $(stat read_latency_p50_us)/$(stat read_latency_p99_us) us," \
		"write $(stat write_latency_p50_us)/$(stat write_latency_p99_us) us"
	[ "$fr" -gt 0 ] && [ "$fw" -gt 0 ] &&
		within $((r1 - r0)) "$fr" && within $((w1 - w0)) "$fw" &&
		within $((rb1 - rb0)) $((fr * 4096)) && within $((wb1 - wb0)) $((fw * 4096)) &&
		[ "$(stat read_latency_p50_us)" -gt 0 ] && [ "$(stat write_latency_p99_us)" -gt 0 ] &&
		[ "$(stat read_errors)" = 0 ] && [ "$(stat write_errors)" = 0 ]
}
tc_run "tcmu-runner --status: read and write counters match fio's within 1 %, latencies set" \
	stats_match_fio
status_text() {
	"$TCMU_SRC/tcmu-runner" --status | tee /tmp/status.txt && grep -q "ops" /tmp/status.txt
}
tc_run "tcmu-runner --status lists the LUN" status_text

tc_run "the LUN is removed and the daemon exits cleanly" cleanup_all
tc_summary
