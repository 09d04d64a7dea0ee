#!/bin/bash
# bench.sh - make bench: our user:file LUN against the kernel's own fileio
# backstore, both on one tmpfs, in one boot, run by tests/vm/run-vm.sh.
#
# Workloads (fio, libaio, direct, time based, 1 s ramp): 4 KiB random read
# and write at queue depth 1, 16 and 64; 1 MiB sequential read and write at
# queue depth 4; 4 KiB 70/30 random read/write at queue depth 16 on one LUN,
# and on four LUNs at once (one fio job per LUN). Each is run ours, kernel,
# ours, kernel... for TCMU_BENCH_ROUNDS interleaved rounds, so that drift
# falls on both; the ratio ours/kernel is taken round by round and printed
# as its median and spread (min-max).
#
# The daemon: CPU time (utime+stime of /proc/PID/stat) per I/O for each of
# our runs, its threads with 0, 1, 4 and 16 LUNs open, and its resident
# memory with 16 LUNs open (12 of them made in configfs by hand: no
# targetcli, not mapped). With TCMU_BENCH_PEER=1 and Debian's tcmu-runner
# installed, the same single-LUN workloads against it (its qcow handler:
# not like for like, and labelled so).
#
# Figures only, never pass/fail: emulation is slow and noisy, and only the
# ratios within one run mean anything. The exit status says only whether
# the set-up worked. Tables on stdout; the same figures in
# $TCMU_RESULTS/bench.json, raw fio JSON in $TCMU_RESULTS/bench/.
#
# Environment: TCMU_BENCH_SECS (5) per fio run, TCMU_BENCH_ROUNDS (3),
# TCMU_BENCH_SIZE_MB (128) for the first LUN of each kind (the other three
# of the four-LUN runs are 64 MiB), TCMU_BENCH_PEER (0),
# TCMU_BENCH_PEER_ROUNDS (1).
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"

SECS=${TCMU_BENCH_SECS:-5}
ROUNDS=${TCMU_BENCH_ROUNDS:-3}
SIZE_MB=${TCMU_BENCH_SIZE_MB:-128}
EXTRA_MB=64
PEER_ROUNDS=${TCMU_BENCH_PEER_ROUNDS:-1}
PEER=/usr/bin/tcmu-runner
PEER_HANDLERS=/usr/lib/x86_64-linux-gnu/tcmu-runner
IMG=/tmp/bench              # its own tmpfs, for all backing files
OUT=$TCMU_RESULTS/bench     # raw fio JSON, samples.tsv, facts.tsv
SAMPLES=$OUT/samples.tsv
FACTS=$OUT/facts.tsv
STATS=$TCMU_SRC/tests/vm/bench_stats.py
# Per-command debug logging would be what we measure (ours and the peer's).
export TCMU_DAEMON_DEBUG=0

SINGLE=(randread-4k-qd1 randread-4k-qd16 randread-4k-qd64
	randwrite-4k-qd1 randwrite-4k-qd16 randwrite-4k-qd64
	read-1m-qd4 write-1m-qd4 randrw70-4k-qd16)
FOUR=four-luns-randrw70-4k-qd16
BYHAND=()       # configfs folders of the LUNs made by hand (the RSS figure)

blog() { printf 'bench: %s\n' "$*"; }

# wl_args WORKLOAD: its fio options, one word each.
wl_args() {
	case $1 in
	randread-4k-qd*) echo "--rw=randread --bs=4k --iodepth=${1##*qd}" ;;
	randwrite-4k-qd*) echo "--rw=randwrite --bs=4k --iodepth=${1##*qd}" ;;
	read-1m-qd4) echo "--rw=read --bs=1M --iodepth=4" ;;
	write-1m-qd4) echo "--rw=write --bs=1M --iodepth=4" ;;
	*randrw70-4k-qd16) echo "--rw=randrw --rwmixread=70 --bs=4k --iodepth=16" ;;
	*) return 1 ;;
	esac
}

fact() { printf '%s\t%s\n' "$1" "$2" >>"$FACTS"; }

# --- the daemon's figures ---------------------------------------------------

# User+system CPU time of the daemon, all its threads, in clock ticks.
# Fields 14 and 15 of /proc/PID/stat; cut after "(comm) ", they are 12, 13.
daemon_ticks() {
	sed 's/^.*) //' "/proc/$DAEMON_PID/stat" | awk '{ print $12 + $13 }'
}

daemon_tasks() {
	# shellcheck disable=SC2012 # numeric names only
	ls "/proc/$DAEMON_PID/task" | wc -l
}

# Bytes read and written so far on the SCSI disks DEV... (sectors of 512
# bytes, fields 3 and 7 of /sys/block/sdX/stat).
lun_bytes() {
	local dev sum=0 n
	for dev in "$@"; do
		n=$(awk '{ printf "%.0f\n", ($3 + $7) * 512 }' "/sys/block/${dev#/dev/}/stat")
		sum=$((sum + n))
	done
	echo "$sum"
}

# --- fio runs ---------------------------------------------------------------

# fio_run JSON WORKLOAD DEV...: one fio run, one job per DEV, reported as one
# group (IOPS summed), read and write merged ("mixed"), JSON to JSON.
fio_run() {
	local json=$1 wl=$2 dev i=0 opts args jobs=()
	shift 2
	opts=$(wl_args "$wl") || { blog "unknown workload $wl"; return 1; }
	read -r -a args <<<"$opts"
	for dev in "$@"; do
		jobs+=(--name="j$i" --filename="$dev")
		i=$((i + 1))
	done
	fio --ioengine=libaio --direct=1 --time_based --runtime="$SECS" \
		--ramp_time=1 --group_reporting --unified_rw_reporting=mixed \
		--output-format=json --output="$json" "${args[@]}" "${jobs[@]}" \
		2>>"$OUT/fio.log"
}

# run_job SECTION WORKLOAD TARGET ROUND DEV...: fio_run, one line of
# figures, and a line in samples.tsv. For a daemon's target (not "kernel"),
# also its CPU ticks and the bytes its LUNs moved, around the same run.
run_job() {
	local section=$1 wl=$2 target=$3 round=$4 json t0=- t1=- b0=0 b1=0
	shift 4
	json=$OUT/$section-$wl-$target-$round.json
	if [ "$target" != kernel ]; then
		t0=$(daemon_ticks) b0=$(lun_bytes "$@")
	fi
	if ! fio_run "$json" "$wl" "$@"; then
		blog "round $round $wl $target: fio failed (see bench/fio.log), left out"
		return 0
	fi
	if [ "$target" != kernel ]; then
		t1=$(daemon_ticks) b1=$(lun_bytes "$@")
		t1=$((t1 - t0))
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$wl" "$target" "$round" \
		"$json" "$t1" "$((b1 - b0))" >>"$SAMPLES"
	printf 'bench: round %s %-28s %-6s %s\n' "$round" "$wl" "$target" \
		"$(python3 "$STATS" line "$json" 2>&1)"
}

# rounds SECTION N TARGET "DEV..." WORKLOAD...: N rounds; in each, every
# workload on TARGET's DEVs and then on the kernel's $KERNEL_DEVS.
rounds() {
	local section=$1 n=$2 target=$3 devs=$4 r wl
	shift 4
	for r in $(seq "$n"); do
		for wl in "$@"; do
			# shellcheck disable=SC2086 # device lists: one word each
			run_job "$section" "$wl" "$target" "$r" $devs
			# shellcheck disable=SC2086
			run_job "$section" "$wl" kernel "$r" $KERNEL_DEVS
		done
	done
}

# --- LUNs -------------------------------------------------------------------

# A backing file of MB MiB, written through (tmpfs allocates its pages now,
# so no run reads holes).
image() {
	dd if=/dev/zero of="$IMG/$1.img" bs=1M count="$2" status=none
}

# pair I MB: our LUN bo<I> and the kernel's bk<I>; appends their disks to
# OURS_DEVS and KERNEL_DEVS.
pair() {
	image "bo$1" "$2" && image "bk$1" "$2" || return 1
	lun_create_user "bo$1" "${2}M" "$IMG/bo$1.img" file || return 1
	OURS_DEVS="$OURS_DEVS $LUN_SD"
	lun_create_fileio "bk$1" "${2}M" "$IMG/bk$1.img" || return 1
	KERNEL_DEVS="$KERNEL_DEVS $LUN_SD"
}

# byhand_add I: user:file LUN rss<I> made in configfs by hand (as
# test_review.sh does), not mapped: enabling it makes the daemon open it.
# One HBA each (user_90I...), far from the ones targetcli numbers.
byhand_add() {
	local dev=$CFS/core/user_$((900 + $1))/rss$1
	truncate -s 16M "$IMG/rss$1.img" && mkdir -p "$dev" || return 1
	BYHAND+=("$dev")
	echo "dev_config=file/$IMG/rss$1.img" >"$dev/control" &&
		echo "dev_size=$((16 * 1024 * 1024))" >"$dev/control" &&
		echo 1 >"$dev/enable"
}

byhand_remove_all() {
	local dev
	for dev in "${BYHAND[@]}"; do
		if ! { rmdir "$dev" && rmdir "$(dirname "$dev")"; }; then
			blog "could not remove $dev"
		fi
	done
	BYHAND=()
}

# shellcheck disable=SC2317 # run by the EXIT trap
bench_cleanup() {
	byhand_remove_all
	cleanup_all
	umount "$IMG" 2>/dev/null
	return 0
}

# --- stages -----------------------------------------------------------------

setup() {
	mkdir -p "$OUT" "$IMG" || return 1
	: >"$SAMPLES" && : >"$FACTS" || return 1
	# Ours and the kernel's (SIZE + 3 x EXTRA each), the peer's, slack.
	mount -t tmpfs -o "size=$((3 * SIZE_MB + 6 * EXTRA_MB + 64))M" tcmu-bench \
		"$IMG" || return 1
	fact secs "$SECS"; fact rounds "$ROUNDS"; fact size_mb "$SIZE_MB"
	fact kernel "$(uname -r)"; fact date "$(date '+%F %T')"
	fact commit "$(git -C "$TCMU_SRC" describe --always --dirty 2>/dev/null || echo unknown)"
	fact clk_tck "$(getconf CLK_TCK)"
	lio_load && bus_start && daemon_start && wait_handler file 60 || return 1
	fact tasks_0_luns "$(daemon_tasks)"
}

# Threads with 1 and 4 LUNs open are counted after those LUNs did I/O, in
# case a daemon starts threads on demand.
bench_main() {
	OURS_DEVS="" KERNEL_DEVS=""
	pair 0 "$SIZE_MB" || return 1
	blog "ours $OURS_DEVS, kernel $KERNEL_DEVS"
	rounds main "$ROUNDS" ours "$OURS_DEVS" "${SINGLE[@]}"
	fact tasks_1_luns "$(daemon_tasks)"
	pair 1 "$EXTRA_MB" && pair 2 "$EXTRA_MB" && pair 3 "$EXTRA_MB" || return 1
	blog "ours $OURS_DEVS, kernel $KERNEL_DEVS"
	rounds main "$ROUNDS" ours "$OURS_DEVS" "$FOUR"
	fact tasks_4_luns "$(daemon_tasks)"
}

# 12 more LUNs, by hand, so that 16 are open; memory and threads; then gone.
bench_memory() {
	local i failed=0 key
	for i in $(seq 12); do
		byhand_add "$i" || failed=$((failed + 1))
	done
	fact byhand_failed "$failed"
	sleep 2    # enable waits for the daemon's reply; let its threads settle
	fact tasks_16_luns "$(daemon_tasks)"
	for key in VmRSS VmHWM RssAnon RssFile RssShmem; do
		fact "$key" "$(awk -v k="$key:" '$1 == k { print $2 }' \
			"/proc/$DAEMON_PID/status")"
	done
	byhand_remove_all
}

# Why the peer is not run, or nothing if it can be.
peer_missing() {
	if [ "${TCMU_BENCH_PEER:-0}" != 1 ]; then
		echo "skipped (set TCMU_BENCH_PEER=1 to run it)"
	elif [ ! -x "$PEER" ]; then
		echo "skipped: $PEER not installed (scripts/install-deps.sh --with-peer)"
	elif [ ! -e "$PEER_HANDLERS/handler_qcow.so" ]; then
		echo "skipped: no handler_qcow.so in $PEER_HANDLERS"
	elif ! command -v qemu-img >/dev/null; then
		echo "skipped: no qemu-img to make its qcow image"
	fi
}

# Debian's daemon: our LUNs go and ours stops first (one bus name, and the
# peer would try to open our user:file LUNs); the kernel's bk0 stays.
# Its qcow handler grows qcow v1 images with ftruncate (qcow2 wants
# fallocate, which tmpfs refuses; see test_harness_peer.sh).
bench_peer() {
	local why i
	why=$(peer_missing)
	if [ -n "$why" ]; then
		fact peer_note "$why"
		return 0
	fi
	for i in 3 2 1 0; do
		lun_delete "bo$i" || return 1
		rm -f "$IMG/bo$i.img"
	done
	daemon_stop || blog "our daemon did not stop cleanly (see daemon.log)"
	TCMU_DAEMON=$PEER TCMU_HANDLER_PATH=$PEER_HANDLERS \
		daemon_start -l "$TCMU_RESULTS" || return 1
	wait_handler qcow 90 || return 1
	qemu-img create -q -f qcow "$IMG/bp0.img" "${SIZE_MB}M" || return 1
	lun_create_user bp0 "${SIZE_MB}M" "$IMG/bp0.img" qcow || return 1
	# Allocate every cluster, so that no run reads unallocated ones.
	fio --name=fill --filename="$LUN_SD" --rw=write --bs=1M --iodepth=4 \
		--ioengine=libaio --direct=1 --output="$OUT/peer-fill.log" || return 1
	KERNEL_DEVS=$(awk '{ print $1 }' <<<"$KERNEL_DEVS")    # bk0 only
	fact peer_rounds "$PEER_ROUNDS"
	fact peer_note "$PEER $(dpkg-query -W -f='${Version}' tcmu-runner 2>/dev/null), user:qcow, $PEER_ROUNDS round(s)"
	rounds peer "$PEER_ROUNDS" peer "$LUN_SD" "${SINGLE[@]}"
}

trap bench_cleanup EXIT
njobs=$(((${#SINGLE[@]} + 1) * 2 * ROUNDS))
blog "$njobs fio runs of ${SECS} s (+1 s ramp): about $((njobs * (SECS + 3) / 60)) min of fio, plus set-up"
setup || { blog "set-up failed"; exit 1; }
rc=0
if bench_main; then
	bench_memory
	if ! bench_peer; then
		fact peer_note "failed during its set-up (see the log above)"
	fi
else
	blog "LUN set-up failed: the figures so far only"
	rc=1
fi
python3 "$STATS" report "$SAMPLES" "$FACTS" "$TCMU_RESULTS/bench.json" || rc=1
exit "$rc"
