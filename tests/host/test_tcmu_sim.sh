#!/bin/bash
# test_tcmu_sim.sh - tcmu-sim as a handler's author runs it: check passes
# on the file handler and fails, naming the case, on handlers broken on
# purpose (reads corrupted, data lost across a reopen, commands completed
# twice); bad input gets one line and exit 2; bench prints its figures.
# Ends "N passed, N failed".
set -u
SIM_TIMEOUT=120
. "$(dirname "$0")/check_lib.sh"

PLUG=tests/build/sim-plugins
BROKEN=tests/build/broken
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
truncate -s 64M "$tmp/lun.img"
# fails_naming PATTERN ARGS...: check fails, and the failed case matches.
fails_naming() {
	local pat=$1
	shift
	run_sim 1 check "$@" &&
		grep -E '^[0-9]+ passed, [1-9][0-9]* failed$' "$tmp/out" >/dev/null &&
		grep -E "^FAIL: .*$pat" "$tmp/out" >/dev/null
}

check "check passes on the file handler" \
	run_sim 0 check --handler-path . "file/$tmp/lun.img" --size 64M
check "check passes on the file handler, 4096-byte blocks, qd 1" \
	run_sim 0 check --handler-path . "file/$tmp/lun.img" --size 64M --block-size 4096 --qd 1
# The qcow handler on a fresh image, and on a v2 one over a backing file;
# QEMU then finds no error in what it wrote. No qemu-img: a failure.
qcow_sim() {	# qcow_sim QEMU-IMG-CREATE-ARGS...
	rm -f "$tmp"/*.qcow2 &&
		(cd "$tmp" && qemu-img create -q -f qcow2 base.qcow2 64M &&
		 qemu-io -f qcow2 -c 'write -P 0x5c 0 64M' base.qcow2 >/dev/null &&
		 qemu-img create -q -f qcow2 "$@") &&
		run_sim 0 check --handler-path . "qcow/$tmp/lun.qcow2" --size 64M &&
		qemu-img check "$tmp/lun.qcow2"
}
check "check passes on the qcow handler (fresh qcow2 v3 image); qemu-img check agrees" \
	qcow_sim lun.qcow2 64M
check "check passes on the qcow handler (qcow2 v2 over a backing file); qemu-img check agrees" \
	qcow_sim -o compat=0.10 -b base.qcow2 -F qcow2 lun.qcow2 64M
check "check fails on a handler that corrupts reads, naming the data case" \
	fails_naming "reads? back|return them" --handler-path "$BROKEN" "file/$tmp/lun.img" --size 64M
check "check fails on a handler that loses data across a reopen, naming that case" \
	fails_naming "closed and opened again" --handler-path "$PLUG" forget/ --size 16M
check "check fails on a handler that completes commands twice, naming that case" \
	fails_naming "completed exactly once" --handler-path "$PLUG" twice/ --size 16M

one_line_2() {	# one_line_2 ARGS...: exit 2 and exactly one line saying why
	run_sim 2 "$@" && [ "$(wc -l <"$tmp/out")" = 1 ]
}
check "a missing handler: one line, exit 2" \
	one_line_2 check --handler-path "$PLUG" nosuch/x --size 1M
check "a handler for another API major version: one line, exit 2" \
	one_line_2 check --handler-path tests/build/unit/plugins api2/x --size 1M
check "a config the handler refuses: one line, exit 2" \
	one_line_2 check --handler-path . "file/$tmp/missing.img" --size 1M
check "a size of zero: one line, exit 2" \
	one_line_2 check --handler-path . "file/$tmp/lun.img" --size 0
check "no <subtype>/: one line, exit 2" \
	one_line_2 bench --handler-path . nothing --size 1M

bench_text() {
	run_sim 0 bench --handler-path . null/ --size 1g --rw randread --qd 16 --seconds 0.5 &&
		grep -E "null/ randread bs=4096 qd=16: [0-9]+ IOPS, .* MiB/s, latency mean .* us p99 .* us, CPU .* us/cmd" "$tmp/out" >/dev/null
}
check "bench prints IOPS, MiB/s, latency and CPU per command (null handler)" bench_text
bench_json() {
	run_sim 0 bench --handler-path . "file/$tmp/lun.img" --size 64M --rw randrw --qd 4 \
		--seconds 0.5 --json &&
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["commands"] > 0 and d["iops"] > 0 and d["rw"] == "randrw", d' "$tmp/out"
}
check "bench --json: one object with the figures (file handler, randrw)" bench_json
# qd 4 commands of 1 MiB need more than the simulator's default 4 MiB
# data area: tcmu-sim sizes it to the load.
bench_1m() {
	run_sim 0 bench --handler-path . null/ --size 64M --rw write --bs 1M --qd 4 \
		--commands 64 &&
		grep -E "null/ write bs=1048576 qd=4: [0-9]+ IOPS, .* 64 commands" "$tmp/out" >/dev/null
}
check "bench runs 1 MiB commands at qd 4 (null handler)" bench_1m

finish
