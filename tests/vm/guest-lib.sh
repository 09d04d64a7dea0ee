# guest-lib.sh - helpers for guest test scripts run by tests/vm/run-vm.sh.
# shellcheck shell=bash
#
# Source it from a bash guest script:   . "$TCMU_SRC/tests/vm/guest-lib.sh"
#
# The function names below are a contract with the daemon's tests; keep them.
#   Kernel/bus:  lio_load, bus_start (targetcli needs the system bus even
#                for fileio; started on demand if a script forgets)
#   Daemon:      daemon_start [ARGS...], daemon_stop, wait_handler SUBTYPE [SECS],
#                wait_log TEXT [SECS] (a daemon.log line contains TEXT)
#   LUNs:        loopback_ensure, lun_create_user NAME SIZE CFG [SUBTYPE [ARGS...]],
#                lun_create_fileio NAME SIZE PATH, lun_delete NAME [SUBTYPE],
#                lun_by_hand DIR CONFIG SIZE (configfs only, enable's status)
#                (create sets LUN_SD=/dev/sdX, LUN_SG=/dev/sgN, LUN_HCTL=h:c:t:l)
#   I/O:         fio_verify DEV [SIZE [FIO-ARGS...]], lun_capacity DEV,
#                lun_stat NAME FIELD (the LUN's GetStats figures),
#                serves_again TRIES DELAY DEV SIZE [FIO-ARGS...],
#                ext4_loop MNT SIZE (a real file system for clusters)
#   Health:      bus_alive, dstate_now, no_stuck_process (nothing but kernel
#                threads in D state over 3 s)
#   Accounting:  tc_run, tc_expect_eq, tc_pass, tc_fail, tc_skip, tc_summary
#   Teardown:    cleanup_all (safe to call twice; use `trap cleanup_all EXIT`)
#
# Environment (set by run-vm.sh; may be overridden from the host, since all
# TCMU_* variables are passed into the guest):
#   TCMU_SRC           repo checkout (cwd of the guest script)
#   TCMU_RESULTS       per-run results folder, shared with the host
#   TCMU_DAEMON        daemon binary (default $TCMU_SRC/tcmu-runner)
#   TCMU_HANDLER_PATH  handler folder (default $TCMU_SRC)
#   TCMU_DAEMON_DEBUG  0 drops the daemon's -d flag (default 1: -d is passed)
#
# Logs in $TCMU_RESULTS: daemon.log (daemon stdout+stderr), targetcli.log
# (every targetcli call and its output), tc/<test>.log (each tc_run's output).
#
# No udev runs in the guest: nothing loads drivers or makes device nodes on
# demand, hence the explicit modprobes and the mknod fallback below.

: "${TCMU_SRC:?run through tests/vm/run-vm.sh (TCMU_SRC unset)}"
: "${TCMU_RESULTS:?run through tests/vm/run-vm.sh (TCMU_RESULTS unset)}"

CFS=/sys/kernel/config/target

# State (globals by necessity: a sourced shell library has nowhere else).
DAEMON_PID=""
LOOPBACK_WWN=""
_LOOPBACK_CREATED=0
LUN_SD="" LUN_SG="" LUN_HCTL=""
declare -A _LUN_BS=()    # name -> targetcli backstore path
declare -A _LUN_NUM=()   # name -> LUN number on the loopback TPG
_LUN_ORDER=()            # names in creation order, for reverse teardown
TC_PASSED=0 TC_FAILED=0 TC_SKIPPED=0

_glog() { printf 'guest-lib: %s\n' "$*" >&2; }

# --- kernel and bus ---------------------------------------------------------

# Load LIO, TCMU, the fileio reference backstore, the loopback fabric, and the
# SCSI upper drivers (without sd_mod/sg a tcm_loop LUN has no /dev node).
# target_core_user pulls in configfs, but nothing mounts it for us.
lio_load() {
	local m
	# target_core_mod keeps persistent-reservation (APTPL) and ALUA state
	# under its db_root, /etc/target; without it, it logs "db_root: cannot
	# open" and cannot persist. Created in the overlay only.
	mkdir -p /etc/target
	for m in target_core_mod target_core_user target_core_file tcm_loop sd_mod sg; do
		modprobe "$m" || { _glog "modprobe $m failed"; return 1; }
	done
	if ! grep -q ' /sys/kernel/config configfs ' /proc/mounts; then
		mount -t configfs none /sys/kernel/config ||
			{ _glog "mount configfs failed"; return 1; }
	fi
	[ -d "$CFS" ] || { _glog "$CFS missing after loading LIO"; return 1; }
}

# Start the system bus. targetcli lists user:<subtype> backstores only while a
# daemon owns org.kernel.TCMUService1 on it.
# The policy files the bus reads that name our service, one a line.
bus_policies_naming_us() {
	grep -l "org.kernel.TCMUService1" /etc/dbus-1/system.d/*.conf \
		/usr/share/dbus-1/system.d/*.conf 2>/dev/null
}

bus_policy_ours_only() {
	local f
	for f in $(bus_policies_naming_us); do
		_glog "removing bus policy $f (not ours)"
		rm -f "$f" || return 1
	done
	install -m 644 "$TCMU_SRC/org.kernel.TCMUService1.conf" \
		/usr/share/dbus-1/system.d/ || return 1
}

bus_start() {
	local i
	# Debian's tcmu-runner package (if installed on the host) ships a bus
	# activation file: the first targetcli query would start *that* daemon
	# and ours would find the name taken. The overlay keeps the host intact.
	rm -f /usr/share/dbus-1/system-services/org.kernel.TCMUService1.service
	# No bus policy but ours: a peer's (Debian's tcmu-runner.conf lets
	# everyone send to org.kernel.TCMUService1) would make our tests pass
	# where a user's machine fails. Removed from the overlay only.
	bus_policy_ours_only || return 1
	if [ -S /run/dbus/system_bus_socket ] && [ -s /run/dbus/pid ] &&
		_pid_alive "$(cat /run/dbus/pid)"; then
		return 0    # already running (bus_start called twice)
	fi
	# dbus-daemon refuses to start without a machine id; a minimal CI
	# image may lack one. Written to the overlay only.
	if [ ! -s /etc/machine-id ] && [ ! -s /var/lib/dbus/machine-id ]; then
		dbus-uuidgen --ensure || return 1
	fi
	mkdir -p /run/dbus
	rm -f /run/dbus/pid
	dbus-daemon --system --fork || { _glog "dbus-daemon failed to start"; return 1; }
	for i in $(seq 50); do
		[ -S /run/dbus/system_bus_socket ] && return 0
		sleep 0.1
	done
	_glog "dbus socket did not appear"
	return 1
}

# bus_start unless the system bus socket is there already.
_bus_ensure() {
	[ -S /run/dbus/system_bus_socket ] && return 0
	_glog "system bus not running; starting it (call bus_start first)"
	bus_start
}

# --- daemon -----------------------------------------------------------------

# True if PID exists and is not a zombie (kill -0 succeeds on zombies).
_pid_alive() {
	local state
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$state" ] && [ "$state" != Z ]
}

# daemon_start [ARGS...]: start the daemon in the background as
#   $TCMU_DAEMON --handler-path $TCMU_HANDLER_PATH -d ARGS...
# with stdout+stderr appended to $TCMU_RESULTS/daemon.log. Call it from the
# script's top-level shell (not in $(...) or a pipeline), or daemon_stop
# cannot collect its exit status.
daemon_start() {
	local bin=${TCMU_DAEMON:-$TCMU_SRC/tcmu-runner}
	local hp=${TCMU_HANDLER_PATH:-$TCMU_SRC}
	local dbg=-d
	# Per-command debug logging is costly under emulation (Debian's 1.5.4
	# daemon: a 16 MiB fio verify takes 150 s with -d, 3 s without), so a
	# test that measures speed may set TCMU_DAEMON_DEBUG=0.
	[ "${TCMU_DAEMON_DEBUG:-1}" = 0 ] && dbg=
	if [ -n "$DAEMON_PID" ] && _pid_alive "$DAEMON_PID"; then
		_glog "daemon already running (pid $DAEMON_PID)"
		return 1
	fi
	[ -x "$bin" ] || { _glog "daemon not executable: $bin"; return 1; }
	# The daemon reads the bus only at start: the bus must come first.
	_bus_ensure || return 1
	echo "=== $(date '+%F %T') $bin --handler-path $hp $dbg $*" \
		>>"$TCMU_RESULTS/daemon.log"
	# shellcheck disable=SC2086 # $dbg is one flag or nothing
	"$bin" --handler-path "$hp" $dbg "$@" >>"$TCMU_RESULTS/daemon.log" 2>&1 &
	DAEMON_PID=$!
	# Catch a daemon that dies at once (bad option, missing library) here,
	# rather than as a handler that never appears.
	sleep 0.5
	if ! _pid_alive "$DAEMON_PID"; then
		wait "$DAEMON_PID"
		_glog "daemon exited at once with status $? (see daemon.log)"
		DAEMON_PID=""
		return 1
	fi
}

# SIGTERM the daemon, wait up to 10 s. Returns 0 only for a clean exit
# (status 0 within the 10 s); non-zero if it had to be killed or failed.
daemon_stop() {
	local pid=$DAEMON_PID i rc
	[ -n "$pid" ] || return 0
	DAEMON_PID=""
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 100); do
		_pid_alive "$pid" || break
		sleep 0.1
	done
	if _pid_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		_glog "daemon (pid $pid) ignored SIGTERM for 10 s; killed"
		return 1
	fi
	wait "$pid"
	rc=$?
	if [ "$rc" != 0 ]; then
		_glog "daemon (pid $pid) exited with status $rc after SIGTERM"
		return 1
	fi
	_glog "daemon (pid $pid) exited cleanly"
}

# True if the daemon exports handler SUBTYPE on the bus, asked the way
# targetcli asks (ObjectManager.GetManagedObjects on /org/kernel/TCMUService1),
# but through dbus-send: ~0.1 s against ~5 s for a targetcli start under
# emulation. Without dbus-send, say yes and let targetcli decide.
_handler_on_bus() {
	command -v dbus-send >/dev/null || return 0
	dbus-send --system --print-reply --reply-timeout=5000 \
		--dest=org.kernel.TCMUService1 /org/kernel/TCMUService1 \
		org.freedesktop.DBus.ObjectManager.GetManagedObjects 2>/dev/null |
		grep -qF "object path \"/org/kernel/TCMUService1/$1\""
}

# Wait until targetcli lists user:SUBTYPE, i.e. the daemon registered the
# handler on the bus. Polls the bus cheaply, then confirms with targetcli.
wait_handler() {
	local sub=$1 timeout=${2:-60} deadline
	deadline=$((SECONDS + timeout))
	while :; do
		if _handler_on_bus "$sub" &&
			targetcli ls /backstores 2>/dev/null | grep -qF -- "o- user:$sub "; then
			return 0
		fi
		if [ -n "$DAEMON_PID" ] && ! _pid_alive "$DAEMON_PID"; then
			_glog "daemon died while waiting for handler $sub"
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			_glog "handler user:$sub not listed after ${timeout}s"
			return 1
		fi
		sleep 1
	done
}

# Wait until the daemon's log has a line containing TEXT (fixed string).
wait_log() {
	local text=$1 timeout=${2:-30} deadline
	deadline=$((SECONDS + timeout))
	until grep -qF -- "$text" "$TCMU_RESULTS/daemon.log" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			_glog "no daemon log line '$text' after ${timeout}s"
			return 1
		fi
		sleep 0.5
	done
}

# --- targetcli and LUNs -----------------------------------------------------

# Run one targetcli command, logging it and its output to targetcli.log;
# print the output to stderr when it fails. Output on stdout as usual.
_tcli() {
	local out rc start=$SECONDS
	# targetcli asks the system bus for user:* handlers on every start and
	# fails outright without a bus, even for fileio. Start it if needed.
	_bus_ensure || return 1
	out=$(targetcli "$@" 2>&1)
	rc=$?
	printf '$ targetcli %s\n%s\n[exit %s after %ss]\n' "$*" "$out" "$rc" \
		"$((SECONDS - start))" >>"$TCMU_RESULTS/targetcli.log"
	if [ "$rc" != 0 ]; then
		_glog "targetcli $* failed ($rc): $out"
		return "$rc"
	fi
	printf '%s\n' "$out"
}

# Entries of a folder, one per line, sorted (empty if it does not exist).
# shellcheck disable=SC2012 # sysfs/configfs names: no odd characters
_ls() { ls -1 "$1" 2>/dev/null | sort; }

# Lines of list $2 that are not in list $1 (one entry per line).
_added() {
	local l
	while IFS= read -r l; do
		[ -n "$l" ] && ! grep -qxF -- "$l" <<<"$1" && printf '%s\n' "$l"
	done <<<"$2"
}

# Create one tcm_loop target (the local SCSI HBA our LUNs hang off), once.
loopback_ensure() {
	local before after
	if [ -n "$LOOPBACK_WWN" ] && [ -d "$CFS/loopback/$LOOPBACK_WWN" ]; then
		return 0
	fi
	before=$(_ls "$CFS/loopback")
	_tcli /loopback create >/dev/null || return 1
	after=$(_ls "$CFS/loopback")
	LOOPBACK_WWN=$(_added "$before" "$after" | grep '^naa\.' | head -n 1)
	[ -n "$LOOPBACK_WWN" ] || { _glog "no new loopback target appeared"; return 1; }
	_LOOPBACK_CREATED=1
}

# Make /dev/NAME from sysfs dev numbers if devtmpfs did not (TYPE b or c).
_ensure_node() {
	local type=$1 name=$2 sysdev=$3 majmin
	[ -e "/dev/$name" ] && return 0
	majmin=$(cat "$sysdev") || return 1
	mknod -m 660 "/dev/$name" "$type" "${majmin%%:*}" "${majmin##*:}"
}

# Map backstore BSPATH (targetcli path) as a LUN of the loopback target and
# find its SCSI disk: the entry that appears in /sys/class/scsi_device.
_lun_map() {
	local name=$1 bspath=$2 lundir before_lun before_sd lun hctl blk sg i
	loopback_ensure || return 1
	lundir=$(echo "$CFS/loopback/$LOOPBACK_WWN"/tpgt_*/lun)
	before_lun=$(_ls "$lundir")
	before_sd=$(_ls /sys/class/scsi_device)
	_tcli "/loopback/$LOOPBACK_WWN/luns" create "$bspath" >/dev/null || return 1
	lun=$(_added "$before_lun" "$(_ls "$lundir")" | head -n 1)
	[ -n "$lun" ] || { _glog "no LUN appeared in $lundir"; return 1; }
	_LUN_NUM[$name]=${lun#lun_}
	# The SCSI device, its disk and its sg node may appear asynchronously.
	for i in $(seq 300); do
		hctl=$(_added "$before_sd" "$(_ls /sys/class/scsi_device)" | head -n 1)
		if [ -n "$hctl" ]; then
			blk=$(_ls "/sys/class/scsi_device/$hctl/device/block" | head -n 1)
			sg=$(_ls "/sys/class/scsi_device/$hctl/device/scsi_generic" | head -n 1)
			[ -n "$blk" ] && [ -n "$sg" ] && break
		fi
		sleep 0.1
	done
	if [ -z "$hctl" ] || [ -z "$blk" ] || [ -z "$sg" ]; then
		_glog "LUN $name: no SCSI disk appeared (hctl='$hctl' block='$blk' sg='$sg')"
		return 1
	fi
	_ensure_node b "$blk" "/sys/class/block/$blk/dev" || return 1
	_ensure_node c "$sg" "/sys/class/scsi_generic/$sg/dev" || return 1
	# shellcheck disable=SC2034 # outputs for the calling test script
	LUN_HCTL=$hctl LUN_SD=/dev/$blk LUN_SG=/dev/$sg
	_glog "LUN $name: $LUN_SD $LUN_SG ($hctl, lun ${_LUN_NUM[$name]})"
}

# Remember a backstore for lun_delete/cleanup_all.
_lun_record() {
	_LUN_BS[$1]=$2
	_LUN_ORDER+=("$1")
}

# lun_create_user NAME SIZE CFGSTRING [SUBTYPE [EXTRA...]]
# A user (TCMU) backstore served by the daemon, mapped on the loopback
# target. EXTRA are more targetcli create arguments, e.g.
# control=max_data_area_mb=8 or hw_max_sectors=1024.
# targetcli joins its arguments with spaces and re-parses them, so
# CFGSTRING must not contain spaces. targetcli first calls the daemon's
# CheckConfig("SUBTYPE/CFGSTRING") over the bus.
lun_create_user() {
	local name=$1 size=$2 cfg=$3 sub=${4:-file}
	shift 3; [ $# -gt 0 ] && shift
	_tcli "/backstores/user:$sub" create "name=$name" "size=$size" \
		"cfgstring=$cfg" "$@" >/dev/null || return 1
	_lun_record "$name" "/backstores/user:$sub"
	_lun_map "$name" "/backstores/user:$sub/$name"
}

# lun_by_hand DIR CONFIG SIZE: a user backstore made straight in configfs
# (no targetcli, so no CheckConfig first) at DIR (core/user_N/NAME) and
# enabled: the kernel waits for the daemon's answer, and a refusal fails
# the enable write. DIR is removed again; returns the enable's status.
lun_by_hand() {
	local dir=$1 rc
	mkdir -p "$dir" &&
		echo "dev_config=$2" >"$dir/control" &&
		echo "dev_size=$3" >"$dir/control" || return 1
	echo 1 >"$dir/enable"
	rc=$?
	echo "enable $dir: exit $rc"
	rmdir "$dir"
	return $rc
}

# lun_create_fileio NAME SIZE PATH
# The kernel's own fileio backstore on PATH: the in-kernel reference.
lun_create_fileio() {
	local name=$1 size=$2 path=$3
	_tcli /backstores/fileio create "name=$name" "file_or_dev=$path" \
		"size=$size" >/dev/null || return 1
	_lun_record "$name" /backstores/fileio
	_lun_map "$name" "/backstores/fileio/$name"
}

# lun_delete NAME [SUBTYPE]
# Unmap the LUN, then delete its backstore. SUBTYPE names a user:SUBTYPE
# backstore this library did not create itself.
lun_delete() {
	local name=$1 bs rc=0
	if [ -n "${2:-}" ]; then
		bs=/backstores/user:$2
	else
		bs=${_LUN_BS[$name]:-}
	fi
	[ -n "$bs" ] || { _glog "lun_delete: unknown LUN $name"; return 1; }
	if [ -n "${_LUN_NUM[$name]:-}" ] && [ -n "$LOOPBACK_WWN" ]; then
		_tcli "/loopback/$LOOPBACK_WWN/luns" delete "lun=${_LUN_NUM[$name]}" \
			>/dev/null || rc=1
	fi
	_tcli "$bs" delete "$name" >/dev/null || rc=1
	lun_forget "$name"
	return $rc
}

# lun_forget NAME: drop a LUN from this library's records (one a test
# removed by other means, say rmdir in configfs).
lun_forget() {
	local i
	unset "_LUN_NUM[$1]" "_LUN_BS[$1]"
	for i in "${!_LUN_ORDER[@]}"; do
		[ "${_LUN_ORDER[$i]}" = "$1" ] && unset "_LUN_ORDER[$i]"
	done
	return 0
}

# ext4_loop MNT SIZE: an ext4 file system of SIZE on a loop file in the
# guest's tmpfs, mounted at MNT, for what tmpfs cannot hold (bluestore and
# Gluster bricks want O_DIRECT and real xattrs; Debian's qcow handler wants
# fallocate). Also brings up lo and names the host: cluster daemons bind
# to 127.0.0.1 and an OSD without a host name cannot place itself.
ext4_loop() {
	local img=/tmp/ext4-$(basename "$1").img
	ip link set lo up && hostname guest && modprobe loop && modprobe ext4 &&
		truncate -s "$2" "$img" && mkfs.ext4 -q -F "$img" &&
		mkdir -p "$1" && mount -o loop "$img" "$1"
}

# --- I/O helpers ------------------------------------------------------------

# fio_verify DEV [SIZE [FIO-ARGS...]]: write SIZE (default 16M) at random
# offsets with 4k-64k blocks, then read it all back and check crc32c.
# Extra arguments override the defaults (later fio options win).
fio_verify() {
	local dev=$1 size=${2:-16M}
	shift; [ $# -gt 0 ] && shift
	fio --name=verify --filename="$dev" --size="$size" \
		--rw=randwrite --bsrange=4k-64k --iodepth=8 --ioengine=libaio \
		--direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--verify_state_save=0 --exitall_on_error=1 "$@"
}

# serves_again TRIES DELAY DEV SIZE [FIO-ARGS...]: fio_verify, tried up to
# TRIES times DELAY s apart, for a LUN whose backend is coming back (its
# commands fail retryable meanwhile); the last try's output on failure.
serves_again() {
	local tries=$1 delay=$2 i
	shift 2
	for i in $(seq "$tries"); do
		fio_verify "$@" >/tmp/serves-again.log 2>&1 && return 0
		echo "try $i: $(grep -m1 -E 'io_u error|bad magic|err=' /tmp/serves-again.log)"
		sleep "$delay"
	done
	cat /tmp/serves-again.log
	return 1
}

# lun_stat NAME FIELD: a figure of LUN NAME's statistics (GetStats on the
# bus, as tcmu-runner --status --json shows them): "read_cmds", or a
# handler's health figure such as "rbd.locks_lost".
lun_stat() {
	"${TCMU_DAEMON:-$TCMU_SRC/tcmu-runner}" --status --json | python3 -c '
import json, sys
for d in json.load(sys.stdin)["devices"]:
    if d["name"] == sys.argv[1]:
        print(d["stats"][sys.argv[2]])' "$1" "$2"
}

# figure_is NAME FIELD WANT: lun_stat NAME FIELD is WANT (said either way).
figure_is() {
	local v
	v=$(lun_stat "$1" "$2")
	echo "$1 $2: $v (want $3)"
	[ "$v" = "$3" ]
}

# lun_cfs NAME: the configfs directory of user backstore NAME.
lun_cfs() { ls -d "$CFS"/core/user_*/"$1" | head -n 1; }

# sc SG CDB-HEX [ARGS]: one command through SG_IO (tests/vm/scsi_cmd.py:
# its status and sense on the first line), 90 s at most.
sc() { timeout 90 python3 "$TCMU_SRC/tests/vm/scsi_cmd.py" "$@"; }
# sense_is SG "TOKENS" CDB [ARGS]: the reply's first line has every token.
sense_is() {
	local sg=$1 want=$2 out w
	shift 2
	out=$(sc "$sg" "$@" | head -n 1)
	echo "reply: $out (want: $want)"
	for w in $want; do
		[[ " $out " == *" $w "* ]] || return 1
	done
}
# clear_ua SG: take pending unit attentions with TEST UNIT READY.
clear_ua() { sg_turs "$1" >/dev/null 2>&1; sg_turs "$1" >/dev/null 2>&1; true; }

# The kernel's own backstore as a differential oracle (scsi_oracle.py).
# oracle_fileio NAME FILE: the kernel's side, a fileio LUN of 16 MiB on
# FILE taking UNMAP and WRITE SAME with UNMAP (emulate_tpu, emulate_tpws),
# as ours do. Sets LUN_SG like the others.
oracle_fileio() {
	lun_create_fileio "$1" 16M "$2" &&
		_tcli "/backstores/fileio/$1" set attribute emulate_tpu=1 emulate_tpws=1 \
			>/dev/null
}
# oracle_run KERNEL_SG OURS_SG SEED COUNT: the same commands to both
# 16 MiB LUNs; every difference must be a deliberate one. Their unit
# attentions (a LUN made after another gives that one REPORTED LUNS DATA
# HAS CHANGED) are cleared first.
oracle_run() {
	clear_ua "$1"
	clear_ua "$2"
	python3 "$TCMU_SRC/tests/vm/scsi_oracle.py" "$1" "$2" 32768 "$3" "$4"
}

# lun_capacity DEV: capacity in bytes per READ CAPACITY (sg_readcap).
lun_capacity() {
	sg_readcap "$1" | awk -F'[=, ]+' '
		/Number of logical blocks=/ { for (i = 1; i < NF; i++)
			if ($i == "blocks") n = $(i + 1) }
		/Logical block length=/ { for (i = 1; i < NF; i++)
			if ($i == "length") b = $(i + 1) }
		END { if (n == "" || b == "") exit 1; printf "%.0f\n", n * b }'
}

# Processes in D state now, one "pid comm (kernel thread)" a line.
dstate_now() {
	local f st pid kind
	for f in /proc/[0-9]*/stat; do
		st=$(sed 's/^.*) //' "$f" 2>/dev/null | cut -d' ' -f1)
		[ "$st" = D ] || continue
		pid=${f#/proc/}
		pid=${pid%/stat}
		kind=""
		[ -s "/proc/$pid/cmdline" ] || kind=" (kernel thread)"
		echo "$pid $(cat "/proc/$pid/comm" 2>/dev/null)$kind"
	done | sort
}

# No process other than a kernel thread stays in D state over 3 samples
# a second apart (one may pass through it); the kernel threads that do are
# shown, not failed: ours to wait on are the initiator's processes.
no_stuck_process() {
	local a b c stuck
	a=$(dstate_now); sleep 1
	b=$(dstate_now); sleep 1
	c=$(dstate_now)
	stuck=$(comm -12 <(echo "$a") <(echo "$b") | comm -12 - <(echo "$c") | grep -v '^$')
	[ -z "$stuck" ] && return 0
	echo "in D state throughout:"
	echo "$stuck"
	! grep -qv "(kernel thread)" <<<"$stuck"
}

# bus_alive: the daemon's main loop answers on the bus within 10 s.
bus_alive() {
	timeout 10 gdbus call --system --dest org.kernel.TCMUService1 \
		--object-path /org/kernel/TCMUService1 \
		--method org.freedesktop.DBus.ObjectManager.GetManagedObjects >/dev/null
}

# --- test accounting --------------------------------------------------------

# A file name for a test's log.
_tc_log() {
	mkdir -p "$TCMU_RESULTS/tc"
	printf '%s/tc/%s.log' "$TCMU_RESULTS" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9_.-' _)"
}

tc_pass() { TC_PASSED=$((TC_PASSED + 1)); echo "PASS: $1"; }

# tc_fail NAME [MESSAGE...]
tc_fail() {
	local name=$1; shift
	TC_FAILED=$((TC_FAILED + 1))
	echo "FAIL: $name"
	[ $# -gt 0 ] && printf '    %s\n' "$*"
	return 0
}

# tc_skip NAME REASON: a missing prerequisite is a skip, never a pass.
tc_skip() {
	TC_SKIPPED=$((TC_SKIPPED + 1))
	echo "SKIP: $1: ${2:-no reason given}"
}

# tc_run NAME CMD [ARGS...]: run CMD in this shell (so functions may set
# variables such as LUN_SD), output to tc/NAME.log; shown only on failure.
# Returns CMD's status, so `tc_run ... || exit` can stop a script.
tc_run() {
	local name=$1 logf rc start
	shift
	logf=$(_tc_log "$name")
	start=$SECONDS
	if "$@" >"$logf" 2>&1; then rc=0; else rc=$?; fi
	echo "[exit $rc after $((SECONDS - start))s: $*]" >>"$logf"
	if [ "$rc" = 0 ]; then
		tc_pass "$name"
	else
		tc_fail "$name" "exit $rc: $*"
		sed 's/^/    | /' "$logf" | tail -n 100
	fi
	return "$rc"
}

# tc_expect_eq NAME EXPECTED ACTUAL
tc_expect_eq() {
	if [ "$2" = "$3" ]; then
		tc_pass "$1"
	else
		tc_fail "$1" "expected '$2', got '$3'"
		return 1
	fi
}

# tc_summary: the one closing line the CI reads; non-zero if anything failed.
tc_summary() {
	local line="$TC_PASSED passed, $TC_FAILED failed"
	[ "$TC_SKIPPED" -gt 0 ] && line="$line, $TC_SKIPPED skipped"
	echo "$line"
	[ "$TC_FAILED" = 0 ]
}

# --- teardown ---------------------------------------------------------------

# Delete what this library created (LUNs newest first, the loopback target),
# then stop the daemon. Idempotent. Non-zero if any step failed, including
# a daemon that did not exit cleanly.
cleanup_all() {
	local rc=0 i names
	names=("${_LUN_ORDER[@]}")    # a compact copy: lun_delete edits the list
	for ((i = ${#names[@]} - 1; i >= 0; i--)); do
		lun_delete "${names[$i]}" || rc=1
	done
	_LUN_ORDER=()
	if [ "$_LOOPBACK_CREATED" = 1 ] && [ -n "$LOOPBACK_WWN" ]; then
		_tcli /loopback delete "$LOOPBACK_WWN" >/dev/null || rc=1
		_LOOPBACK_CREATED=0 LOOPBACK_WWN=""
	fi
	daemon_stop || rc=1
	return $rc
}
