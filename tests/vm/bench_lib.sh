# bench_lib.sh - what the one-handler benchmarks (bench_qcow.sh,
# bench_rbd.sh) share; sourced after guest-lib.sh. Figures only.
# shellcheck shell=bash
#   bench_run WHO WORKLOAD ROUND DEV   one fio run (libaio, direct, time
#                                      based, 1 s ramp, $TCMU_BENCH_SECS s);
#                                      a line "WHO WORKLOAD ROUND IOPS MiB/s"
#                                      in $BENCH_TSV
#   bench_rounds WHO DEV               $ROUNDS rounds of $BENCH_WLS on DEV
#   bench_peer SUBTYPE SIZE CFG WHO    Debian's tcmu-runner (with
#                                      TCMU_BENCH_PEER=1, if installed) on a
#                                      user:SUBTYPE LUN of CFG: bench_rounds
#                                      as WHO; ours must be stopped first
#   bench_table A B C                  medians over rounds of A, B and C
#                                      for $BENCH_WLS, with A/B and A/C
# Workloads: randread-4k-qd16, randwrite-4k-qd16, read-1m-qd4, write-1m-qd4.
BENCH_SECS=${TCMU_BENCH_SECS:-5}

blog() { printf '%s: %s\n' "${BENCH_NAME:-bench}" "$*"; }

bench_args() {
	case $1 in
	randread-4k-qd16) echo "--rw=randread --bs=4k --iodepth=16" ;;
	randwrite-4k-qd16) echo "--rw=randwrite --bs=4k --iodepth=16" ;;
	read-1m-qd4) echo "--rw=read --bs=1M --iodepth=4" ;;
	write-1m-qd4) echo "--rw=write --bs=1M --iodepth=4" ;;
	esac
}

bench_run() {
	local json=$TCMU_RESULTS/$BENCH_NAME-$1-$2-$3.json args
	read -r -a args <<<"$(bench_args "$2")"
	fio --name=b --filename="$4" --ioengine=libaio --direct=1 --time_based \
		--runtime="$BENCH_SECS" --ramp_time=1 --output-format=json --output="$json" \
		"${args[@]}" 2>>"$TCMU_RESULTS/$BENCH_NAME-fio.log" ||
		{ blog "$1 $2: fio failed"; return 0; }
	python3 - "$json" "$1" "$2" "$3" >>"$BENCH_TSV" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
iops = j["read"]["iops"] + j["write"]["iops"]
mib = (j["read"]["bw_bytes"] + j["write"]["bw_bytes"]) / 1048576
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{sys.argv[4]}\t{iops:.0f}\t{mib:.1f}")
EOF
	blog "round $3 $2 $1: $(tail -n 1 "$BENCH_TSV" | cut -f4,5 | sed 's/\t/ IOPS, /') MiB/s"
}

bench_rounds() {
	local r wl
	for r in $(seq "${ROUNDS:-1}"); do
		for wl in "${BENCH_WLS[@]}"; do
			bench_run "$1" "$wl" "$r" "$2"
		done
	done
}

bench_peer() {
	local peer=/usr/bin/tcmu-runner dir=/usr/lib/x86_64-linux-gnu/tcmu-runner note=ran
	if [ "${TCMU_BENCH_PEER:-0}" != 1 ]; then
		note="skipped (TCMU_BENCH_PEER=1 runs it)"
	elif [ ! -x "$peer" ] || [ ! -e "$dir/handler_$1.so" ]; then
		note="skipped: Debian's tcmu-runner is not installed (install-deps.sh --with-peer)"
	elif TCMU_DAEMON=$peer TCMU_HANDLER_PATH=$dir daemon_start -l "$TCMU_RESULTS" &&
		wait_handler "$1" 90 && lun_create_user peer "$2" "$3" "$1"; then
		bench_rounds "$4" "$LUN_SD"
	else
		note="failed to start or to serve the LUN (see daemon.log)"
	fi
	blog "Debian's daemon: $note"
}

bench_table() {
	python3 - "$BENCH_TSV" "$1" "$2" "$3" "${BENCH_WLS[@]}" <<'EOF'
import statistics, sys
tsv, a, b, c, wls = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
fig = {}
for l in open(tsv):
    if l.strip():
        who, wl, _, iops, mib = l.rstrip("\n").split("\t")
        fig.setdefault((who, wl), []).append((float(iops), float(mib)))
def med(who, wl, i):
    v = fig.get((who, wl))
    return statistics.median(x[i] for x in v) if v else None
print(f"{'workload':20} {a:>14} {b:>14} {a + '/' + b:>16} {c:>14} {a + '/' + c:>16}")
for wl in wls:
    i = 1 if "-1m-" in wl else 0
    unit = "MiB/s" if i else "IOPS"
    x, y, z = med(a, wl, i), med(b, wl, i), med(c, wl, i)
    fmt = lambda v: f"{v:.0f} {unit}" if v is not None else "-"
    rat = lambda p, q: f"{p / q:.2f}" if p and q else "-"
    print(f"{wl:20} {fmt(x):>14} {fmt(y):>14} {rat(x, y):>16} {fmt(z):>14} {rat(x, z):>16}")
EOF
}
