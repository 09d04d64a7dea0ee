#!/bin/bash
# test_sense_outage.sh - what Linux does with each answer a backend can give
# during a short outage (issue 26), on LUNs served by the test plugin
# handler_outage (tests/vm/plugins/handler_outage.c: while <image>.outage
# holds "<mode> <until>", every read, write and flush is answered with the
# mode's status instead of being done).
#
# For each mode, one outage of OUTAGE_S (10) s, OUTAGE_AT (2) s after the
# writes start flowing, in two fio runs of FIO_S (18) s at once (4 KiB
# direct random writes, queue depth 8, continue_on_error=all):
#   single path  a user:outage LUN on its own image;
#   multipath    a dm-multipath table made by hand (no multipathd) over two
#                LUNs on one image: path A a user:outage LUN in the outage
#                (priority group 1), path B a user:file LUN (;share_rw=on)
#                that stays healthy (priority group 2).
# Printed: a table of mode, single path (fio errors, longest completion),
# multipath (fio errors, longest completion, path A failed), and the
# kernel's lines for each mode in tc/<mode>.log.
# Asserted, for the modes that go through the daemon's errno mapping
# (tcmur_cmd_errno, what every handler uses):
#   etimedout  a single path rides out the outage: no error reaches fio;
#              multipath: no error reaches fio either;
#   erofs      the error reaches fio (a read-only image is not retried
#              for minutes), as DATA PROTECT (dmesg "Data Protect").
# TCMU_OUTAGE_ALUA=1 loads scsi_dh_alua before the LUNs appear, so that
# the kernel's ALUA handler attaches to them (they report TPGS): its
# check_sense retries 04/0A and 29/00 its own way. Without it nothing
# loads the module in the guest and dh_state says "detached".
# One boot, about 5.5 min under emulation (327 s measured).
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"

DIR=/tmp/sense-outage
export TCMU_HANDLER_PATH=$TCMU_SRC/tests/build/vm-plugins
OUTAGE_S=${TCMU_OUTAGE_S:-10}
OUTAGE_AT=2
FIO_S=${TCMU_OUTAGE_FIO_S:-18}
MODES=${TCMU_OUTAGE_MODES:-busy tsf nr0401 nr040a nr0800 ua2900 etimedout erofs}
MP=sense_mp
OUT=$TCMU_RESULTS/sense
declare -A ROW=()

# The LUNs are left for the guest's power-off: removing three takes
# two minutes under emulation.
# shellcheck disable=SC2317 # run by the EXIT trap
so_cleanup() {
	rm -f "$DIR"/*.outage
	dmsetup remove "$MP" >/dev/null 2>&1
	daemon_stop
}
trap so_cleanup EXIT

tc_run "lio loads" lio_load || exit 1
tc_run "system bus starts" bus_start || exit 1
tc_run "daemon starts" daemon_start || exit 1
tc_run "targetcli lists user:outage" wait_handler outage 60 || exit 1
tc_run "dm-multipath loads" modprobe -a dm_multipath dm_round_robin || exit 1
if [ "${TCMU_OUTAGE_ALUA:-0}" = 1 ]; then
	tc_run "scsi_dh_alua loads" modprobe scsi_dh_alua || exit 1
fi
mkdir -p "$DIR" "$OUT"

# so_lun NAME SUBTYPE CFG: a 64 MiB LUN, its unit attentions cleared.
so_lun() {
	lun_create_user "$1" 64M "$3" "$2" || return 1
	sg_turs "$LUN_SG" >/dev/null 2>&1
	sg_turs "$LUN_SG" >/dev/null 2>&1
	echo "$LUN_SD ($LUN_HCTL) dh_state: $(cat "/sys/class/scsi_device/$LUN_HCTL/device/dh_state" 2>/dev/null)"
	sg_inq "$LUN_SG" 2>/dev/null | grep -i "TPGS"
	true
}

truncate -s 64M "$DIR/s.img" "$DIR/m.img"
tc_run "single-path LUN" so_lun single outage "$DIR/s.img" || exit 1
S_SD=$LUN_SD
tc_run "multipath path A (outage)" so_lun path_a outage "$DIR/m.img" || exit 1
A_SD=$LUN_SD A_HCTL=$LUN_HCTL
tc_run "multipath path B (file, share_rw)" so_lun path_b file "$DIR/m.img;share_rw=on" || exit 1
B_SD=$LUN_SD
echo "device handler on path A (dh_state): $(cat "/sys/class/scsi_device/$A_HCTL/device/dh_state" 2>/dev/null)"
majmin() { cat "/sys/class/block/${1#/dev/}/dev"; }
A_MM=$(majmin "$A_SD") B_MM=$(majmin "$B_SD")

# A fresh table: path A in group 1 (used first), path B in group 2.
mp_create() {
	local sz dm
	dmsetup remove "$MP" >/dev/null 2>&1
	sz=$(blockdev --getsz "$A_SD") || return 1
	dmsetup create "$MP" --noudevsync --table \
		"0 $sz multipath 0 0 2 1 round-robin 0 1 1 $A_MM 1 round-robin 0 1 1 $B_MM 1" ||
		return 1
	dm=$(basename "$(readlink -f "/sys/dev/block/$(dmsetup info -c --noheadings \
		-o major,minor "$MP" | tr -d ' ')")")
	_ensure_node b "$dm" "/sys/class/block/$dm/dev" || return 1
	MP_DEV=/dev/$dm
	dmsetup status "$MP"
}

# fio_json DEV OUTFILE: the writes, in the background.
fio_bg() {
	fio --name=w --filename="$1" --direct=1 --ioengine=libaio --rw=randwrite \
		--bs=4k --iodepth=8 --size=32M --runtime="$FIO_S" --time_based \
		--continue_on_error=all --output-format=json --output="$2" >/dev/null 2>&1 &
}

# "<errors> <longest completion, ms>" from a fio JSON file.
fio_sum() {
	python3 - "$1" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))["jobs"][0]
except Exception as e:
    print("? ?"); sys.exit()
err = j.get("total_err", 0) or (1 if j.get("error") else 0)
print(err, round(j["write"]["lat_ns"]["max"] / 1e6))
EOF
}

# Path A's fail count in the table's status ("<majmin> <A|F> <count>").
path_a_fails() {
	dmsetup status "$MP" | tr ' ' '\n' | grep -A2 -xF "$A_MM" | sed -n 3p
}

# Wait (60 s at most) until DEV's write count moves.
writes_flow() {
	local st=/sys/class/block/${1#/dev/}/stat w0 i
	w0=$(awk '{ print $5 }' "$st")
	for i in $(seq 600); do
		[ "$(awk '{ print $5 }' "$st")" != "$w0" ] && return 0
		sleep 0.1
	done
	return 1
}

run_mode() {
	local m=$1 t0 s m_ sp mp fails
	mp_create || return 1
	t0=$(cut -d' ' -f1 /proc/uptime)
	echo "--- $m: outage of ${OUTAGE_S}s from ${OUTAGE_AT}s into ${FIO_S}s of writes"
	fio_bg "$S_SD" "$OUT/$m.single.json"; s=$!
	fio_bg "$MP_DEV" "$OUT/$m.mp.json"; m_=$!
	# fio takes seconds to start under emulation: the outage begins
	# OUTAGE_AT s after both devices see writes.
	writes_flow "$S_SD" && writes_flow "$MP_DEV" || echo "no writes seen after 60 s"
	sleep "$OUTAGE_AT"
	echo "$m $(($(date +%s) + OUTAGE_S))" | tee "$DIR/s.img.outage" >"$DIR/m.img.outage"
	wait "$s" "$m_"
	rm -f "$DIR"/*.outage
	sp=$(fio_sum "$OUT/$m.single.json") mp=$(fio_sum "$OUT/$m.mp.json")
	fails=$(path_a_fails)
	dmsetup status "$MP"
	echo "kernel:"
	dmesg | awk -v t="$t0" '{ s = $0; sub(/^\[ */, "", s); ts = s + 0
		sub(/^[^]]*\] /, "", s); if (ts >= t) print s }' |
		sort | uniq -c | sort -rn | head -20
	ROW[$m]="$sp $mp ${fails:-?}"
	echo "single: errors longest_ms = $sp; multipath: $mp; path A fails ${fails:-?}"
}

for m in $MODES; do
	tc_run "$m" run_mode "$m"
	sed -n '/single:/p' "$TCMU_RESULTS/tc/$m.log" 2>/dev/null
done

yn() { case $1 in 0) echo n ;; \?) echo "?" ;; *) echo "y($1)" ;; esac; }
printf '\n%-10s | %-14s %-10s | %-14s %-10s %-8s\n' mode "1 path: error" "longest" \
	"mpath: error" "longest" "A failed"
for m in $MODES; do
	# shellcheck disable=SC2086 # five words
	set -- ${ROW[$m]:-? ? ? ? ?}
	printf '%-10s | %-14s %-10s | %-14s %-10s %-8s\n' "$m" "$(yn "$1")" "${2}ms" \
		"$(yn "$3")" "${4}ms" "$(yn "$5")"
done
echo

# The assertions: the daemon's own mapping.
if [ -n "${ROW[etimedout]:-}" ]; then
	# shellcheck disable=SC2086
	set -- ${ROW[etimedout]}
	tc_expect_eq "ETIMEDOUT: a single path rides out ${OUTAGE_S}s, no error to fio" 0 "$1"
	tc_expect_eq "ETIMEDOUT: multipath, no error to fio" 0 "$3"
fi
if [ -n "${ROW[erofs]:-}" ]; then
	# shellcheck disable=SC2086
	set -- ${ROW[erofs]}
	if [ "$1" != 0 ] && [ "$1" != "?" ]; then
		tc_pass "EROFS: the error reaches fio ($1 errors)"
	else
		tc_fail "EROFS: the error reaches fio" "errors: $1"
	fi
	if grep -q "Data Protect" "$TCMU_RESULTS/tc/erofs.log"; then
		tc_pass "EROFS: the kernel saw DATA PROTECT"
	else
		tc_fail "EROFS: the kernel saw DATA PROTECT" \
			"$(grep -m3 "Sense Key\|Add. Sense" "$TCMU_RESULTS/tc/erofs.log")"
	fi
fi
tc_summary
