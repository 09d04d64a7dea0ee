#!/bin/bash
# bench_host.sh - make bench-host: the daemon's own cost per command, on
# this machine, no kernel: tcmu-sim bench with the null handler (stores
# nothing: the floor) and the file handler (a file on $TMPDIR), 4 KiB
# random reads and writes at queue depth 1 and 16; then callgrind's count
# of instructions per command for the null handler, the daemon's threads
# only (the device thread and the I/O threads), to judge a change to the
# hot path to the instruction. Figures only, never pass/fail.
#
# Environment: BENCH_SECONDS (default 3) per run.
set -eu
cd "$(dirname "$0")/../.."
SECS=${BENCH_SECONDS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
truncate -s 1G "$tmp/lun.img"

echo "=== tcmu-sim bench, ${SECS} s each (commands per CPU second: the whole"
echo "    process, the simulated kernel's side included)"
printf '%-8s %-10s %3s %10s %12s %10s %10s\n' handler rw qd IOPS "cmds/CPU-s" "mean us" "p99 us"
for h in null/ "file/$tmp/lun.img"; do
	for rw in randread randwrite; do
		for qd in 1 16; do
			./tcmu-sim bench --handler-path . "$h" --size 1G --rw "$rw" --qd "$qd" \
				--seconds "$SECS" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%-8s %-10s %3d %10.0f %12.0f %10.1f %10.0f" % (d["handler"], d["rw"], d["qd"],
      d["iops"], d["cmds_per_cpu_s"], d["lat_mean_us"], d["lat_p99_us"]))'
		done
	done
done

if ! command -v valgrind >/dev/null; then
	echo "=== callgrind: valgrind not installed (scripts/install-deps.sh installs it)"
	exit 0
fi
# Instructions of the daemon's threads for N commands; two runs, so that
# start-up and tear-down cancel out of the difference.
ir() {	# ir COMMANDS
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1" \
		--toggle-collect=dev_thread --toggle-collect=io_thread \
		./tcmu-sim bench --handler-path . null/ --size 1G --rw randread --qd 16 \
		--commands "$1" >/dev/null 2>"$tmp/vg.$1" || { cat "$tmp/vg.$1"; return 1; }
	sed -n 's/^summary: //p; s/^totals: //p' "$tmp/cg.$1" | head -n 1 | awk '{print $1}'
}
n1=20000 n2=60000
i1=$(ir $n1)
i2=$(ir $n2)
echo "=== callgrind, null handler, 4 KiB random reads, qd 16: daemon threads only"
echo "instructions per command: $(( (i2 - i1) / (n2 - n1) ))" \
	"(from $i1 for $n1 commands and $i2 for $n2)"
