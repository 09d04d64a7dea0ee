#!/bin/bash
# bench_qcow.sh - part of make bench: our qcow handler beside our file
# handler on a raw image, and beside Debian's tcmu-runner (its qcow
# handler) on the same qcow2 image, in one boot. Every image sits on ext4
# (a loop file on the guest's tmpfs): Debian's handler fails allocating
# writes where fallocate is refused, as on tmpfs.
#
# The qcow2 image (64 KiB clusters) is first written whole through our LUN,
# so every run reads and overwrites allocated clusters, as the issue asks:
# 4 KiB random read and write at queue depth 16, 1 MiB sequential read at
# queue depth 4 (fio, libaio, direct, time based, 1 s ramp). Ours: qcow and
# raw interleaved for TCMU_BENCH_ROUNDS rounds; then Debian's daemon on the
# same image (TCMU_BENCH_PEER=1 and the package installed). Figures only,
# never pass/fail: a table on stdout, the same in $TCMU_RESULTS/bench-qcow.tsv.
# vm-mem: 3072
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"

SECS=${TCMU_BENCH_SECS:-5}
ROUNDS=${TCMU_BENCH_ROUNDS:-2}
MB=256
MNT=/mnt/bench
PEER=/usr/bin/tcmu-runner
PEER_HANDLERS=/usr/lib/x86_64-linux-gnu/tcmu-runner
TSV=$TCMU_RESULTS/bench-qcow.tsv
WLS=(randread-4k-qd16 randwrite-4k-qd16 read-1m-qd4)
export TCMU_DAEMON_DEBUG=0

blog() { printf 'bench-qcow: %s\n' "$*"; }
trap 'cleanup_all; umount "$MNT" 2>/dev/null' EXIT

wl_args() {
	case $1 in
	randread-4k-qd16) echo "--rw=randread --bs=4k --iodepth=16" ;;
	randwrite-4k-qd16) echo "--rw=randwrite --bs=4k --iodepth=16" ;;
	read-1m-qd4) echo "--rw=read --bs=1M --iodepth=4" ;;
	esac
}

# run WHO WORKLOAD ROUND DEV: one fio run; a line in the TSV (IOPS, MiB/s).
run() {
	local json=$TCMU_RESULTS/bench-qcow-$1-$2-$3.json args
	read -r -a args <<<"$(wl_args "$2")"
	fio --name=b --filename="$4" --ioengine=libaio --direct=1 --time_based \
		--runtime="$SECS" --ramp_time=1 --output-format=json --output="$json" \
		"${args[@]}" 2>>"$TCMU_RESULTS/bench-qcow-fio.log" || { blog "$1 $2: fio failed"; return 0; }
	python3 - "$json" "$1" "$2" "$3" >>"$TSV" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
iops = j["read"]["iops"] + j["write"]["iops"]
mib = (j["read"]["bw_bytes"] + j["write"]["bw_bytes"]) / 1048576
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{sys.argv[4]}\t{iops:.0f}\t{mib:.1f}")
EOF
	blog "round $3 $2 $1: $(tail -n 1 "$TSV" | cut -f4,5 | sed 's/\t/ IOPS, /') MiB/s"
}

setup() {
	ext4_loop "$MNT" 1G &&
		qemu-img create -q -f qcow2 "$MNT/q.qcow2" ${MB}M &&
		dd if=/dev/zero of="$MNT/raw.img" bs=1M count=$MB status=none
}

# Allocate every cluster of the qcow2 image through LUN DEV.
fill() {
	fio --name=fill --filename="$1" --rw=write --bs=1M --iodepth=4 --ioengine=libaio \
		--direct=1 --output="$TCMU_RESULTS/bench-qcow-fill-$2.log"
}

: >"$TSV"
lio_load && bus_start && setup || { blog "set-up failed"; exit 1; }
daemon_start && wait_handler qcow 60 || { blog "our daemon did not start"; exit 1; }
lun_create_user q ${MB}M "$MNT/q.qcow2" qcow || exit 1
QDEV=$LUN_SD
lun_create_user r ${MB}M "$MNT/raw.img" file || exit 1
RDEV=$LUN_SD
fill "$QDEV" ours || exit 1
qemu-img info "$MNT/q.qcow2" | grep -E "disk size|cluster"
for r in $(seq "$ROUNDS"); do
	for wl in "${WLS[@]}"; do
		run ours-qcow "$wl" "$r" "$QDEV"
		run ours-raw "$wl" "$r" "$RDEV"
	done
done
lun_delete q && lun_delete r || exit 1
daemon_stop || blog "our daemon did not stop cleanly"
qemu-img check "$MNT/q.qcow2" | tail -n 2

peer_note="ran"
if [ "${TCMU_BENCH_PEER:-0}" != 1 ]; then
	peer_note="skipped (TCMU_BENCH_PEER=1 runs it)"
elif [ ! -x "$PEER" ] || [ ! -e "$PEER_HANDLERS/handler_qcow.so" ]; then
	peer_note="skipped: Debian's tcmu-runner is not installed (install-deps.sh --with-peer)"
elif TCMU_DAEMON=$PEER TCMU_HANDLER_PATH=$PEER_HANDLERS daemon_start -l "$TCMU_RESULTS" &&
	wait_handler qcow 90 && lun_create_user p ${MB}M "$MNT/q.qcow2" qcow; then
	for r in $(seq "$ROUNDS"); do
		for wl in "${WLS[@]}"; do
			run peer-qcow "$wl" "$r" "$LUN_SD"
		done
	done
else
	peer_note="failed to start or to serve the image (see daemon.log)"
fi
blog "Debian's daemon: $peer_note"

# Medians over rounds, and the ratios.
python3 - "$TSV" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
fig = {}
for who, wl, _, iops, mib in rows:
    fig.setdefault((who, wl), []).append((float(iops), float(mib)))
def med(who, wl, i):
    v = fig.get((who, wl))
    return statistics.median(x[i] for x in v) if v else None
print(f"{'workload':20} {'ours qcow':>12} {'ours raw':>12} {'qcow/raw':>9} {'Debian qcow':>12} {'ours/Debian':>11}")
for wl in ("randread-4k-qd16", "randwrite-4k-qd16", "read-1m-qd4"):
    i = 1 if wl.startswith("read-1m") else 0
    unit = "MiB/s" if i else "IOPS"
    q, r, p = med("ours-qcow", wl, i), med("ours-raw", wl, i), med("peer-qcow", wl, i)
    fmt = lambda x: f"{x:.0f} {unit}" if x is not None else "-"
    rat = lambda a, b: f"{a / b:.2f}" if a and b else "-"
    print(f"{wl:20} {fmt(q):>12} {fmt(r):>12} {rat(q, r):>9} {fmt(p):>12} {rat(q, p):>11}")
EOF
