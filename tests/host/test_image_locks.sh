#!/bin/bash
# test_image_locks.sh - one writer per image, as QEMU's own tools see it.
# A LUN (tcmu-sim serving the file or qcow handler, no kernel) takes
# QEMU's image locks, so while it serves an image:
#   - qemu-io opening it for write is refused by QEMU's locking ("Failed
#     to get "write" lock"), for a raw file, a qcow2 image and a block
#     device (a loop device, as root);
#   - qemu-img info without -U on a qcow2 image is refused, as against a
#     running QEMU guest; with -U (force share) it works, raw or qcow2;
# and the LUN's locks go with it. The other way round: while qemu-io holds
# an image open for write, our LUN is refused, saying why (the image, "in
# use", QEMU's lock), and opens once qemu-io has quit.
# Needs qemu-io and qemu-img (qemu-utils). Ends "N passed, N failed".
set -u
. "$(dirname "$0")/check_lib.sh"

command -v qemu-io >/dev/null && command -v qemu-img >/dev/null ||
	skip "qemu-io and qemu-img (qemu-utils) are needed"
[ -x "$SIM" ] && [ -e handler_file.so ] && [ -e handler_qcow.so ] ||
	skip "build first: make (tcmu-sim, handler_file.so, handler_qcow.so)"

tmp=$(mktemp -d)
sim_pid= qio_pid= loop=
stop_sim() {
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
	sim_pid=
}
stop_qemu_io() {
	exec 3>&- 2>/dev/null
	[ -n "$qio_pid" ] && wait "$qio_pid" 2>/dev/null
	qio_pid=
}
cleanup() {
	stop_sim
	stop_qemu_io
	[ -n "$loop" ] && losetup -d "$loop"
	rm -rf "$tmp"
}
trap cleanup EXIT

qemu-img create -q -f raw "$tmp/disk.img" 64M &&
	qemu-img create -q -f qcow2 "$tmp/disk.qcow2" 64M || exit 1

# serve CONFIG: a LUN on CONFIG (tcmu-sim bench, reading, for up to a
# minute) in the background, once the handler has opened it.
serve() {
	"$SIM" bench -d --handler-path . "$1" --size 64M --rw read --qd 1 --seconds 60 \
		>"$tmp/sim.log" 2>&1 &
	sim_pid=$!
	for _ in $(seq 100); do
		grep -q "_open: opened " "$tmp/sim.log" && return 0
		kill -0 "$sim_pid" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/    | /' "$tmp/sim.log"
	return 1
}

# qemu_says WANT-STATUS PATTERN COMMAND...: the command exits as wanted
# (0, or "fail": non-zero) and its output matches PATTERN.
qemu_says() {
	local want=$1 pat=$2 rc
	shift 2
	"$@" >"$tmp/q.out" 2>&1
	rc=$?
	sed 's/^/    | /' "$tmp/q.out"
	echo "    | exit $rc"
	{ [ "$want" = fail ] && [ "$rc" != 0 ]; } || [ "$want" = "$rc" ] || return 1
	grep -qE "$pat" "$tmp/q.out"
}

# hold FMT IMAGE: qemu-io holds IMAGE open for write, its commands from a
# fifo (our fd 3), until stop_qemu_io; true once it has read from it.
hold() {
	rm -f "$tmp/fifo" && mkfifo "$tmp/fifo" || return 1
	qemu-io -f "$1" "$2" <"$tmp/fifo" >"$tmp/qio.out" 2>&1 &
	qio_pid=$!
	exec 3>"$tmp/fifo"
	echo "read 0 512" >&3
	for _ in $(seq 100); do
		grep -q "read 512/512 bytes" "$tmp/qio.out" && return 0
		sleep 0.1
	done
	sed 's/^/    | /' "$tmp/qio.out"
	return 1
}

# lun_refused CONFIG PATTERN: a LUN on CONFIG is not opened, and the
# handler's log line says why (matches PATTERN).
lun_refused() {
	run_sim 1 bench --handler-path . "$1" --size 64M --rw read --seconds 0.2 &&
		grep -q "open: Device or resource busy" "$tmp/out" &&
		grep -E "ERROR .*in use: another process or LUN" "$tmp/out" | grep -qE "$2"
}

lun_opens() {
	run_sim 0 bench --handler-path . "$1" --size 64M --rw read --seconds 0.2
}

LOCK='Failed to get "write" lock'
SHARED_LOCK='Failed to get shared "write" lock'

# ---- raw file, file handler --------------------------------------------
img=$tmp/disk.img
if serve "file/$img"; then
	check "raw, served: qemu-io -c 'write 0 4k' is refused by QEMU's lock" \
		qemu_says fail "$LOCK" qemu-io -f raw -c 'write 0 4k' "$img"
	check "raw, served: qemu-img info -U works" \
		qemu_says 0 "file format: raw" qemu-img info -U "$img"
	stop_sim
	check "raw, the LUN gone: qemu-io -c 'write 0 4k' works" \
		qemu_says 0 "wrote 4096/4096" qemu-io -f raw -c 'write 0 4k' "$img"
else
	ko "raw: tcmu-sim serves file/$img"
fi
if hold raw "$img"; then
	check "raw, qemu-io holds it for write: our LUN is refused, saying why" \
		lun_refused "file/$img" "$img: in use: .*\"write\" \(QEMU's lock byte 101\)"
	stop_qemu_io
	check "raw, qemu-io gone: our LUN opens" lun_opens "file/$img"
else
	ko "raw: qemu-io holds $img"
fi

# ---- qcow2 image, qcow handler ------------------------------------------
img=$tmp/disk.qcow2
if serve "qcow/$img"; then
	check "qcow2, served: qemu-io -c 'write 0 4k' is refused by QEMU's lock" \
		qemu_says fail "$LOCK" qemu-io -f qcow2 -c 'write 0 4k' "$img"
	check "qcow2, served: qemu-img info (no -U) is refused, as against a running guest" \
		qemu_says fail "$SHARED_LOCK" qemu-img info "$img"
	check "qcow2, served: qemu-img info -U works" \
		qemu_says 0 "file format: qcow2" qemu-img info -U "$img"
	stop_sim
	check "qcow2, the LUN gone: qemu-img info works" \
		qemu_says 0 "file format: qcow2" qemu-img info "$img"
else
	ko "qcow2: tcmu-sim serves qcow/$img"
fi
if hold qcow2 "$img"; then
	check "qcow2, qemu-io holds it for write: our LUN is refused, saying why" \
		lun_refused "qcow/$img" "$img: in use: .*\"write\" \(QEMU's lock byte 201\)"
	stop_qemu_io
	check "qcow2, qemu-io gone: our LUN opens" lun_opens "qcow/$img"
else
	ko "qcow2: qemu-io holds $img"
fi

# ---- a block device (a loop device over the raw file), file handler -----
if [ "$(id -u)" = 0 ] && loop=$(losetup -f --show "$tmp/disk.img" 2>/dev/null); then
	if serve "file/$loop"; then
		check "block device, served: qemu-io -c 'write 0 4k' is refused by QEMU's lock" \
			qemu_says fail "$LOCK" qemu-io -f raw -c 'write 0 4k' "$loop"
		stop_sim
	else
		ko "block device: tcmu-sim serves file/$loop"
	fi
	if hold raw "$loop"; then
		check "block device, qemu-io holds it for write: our LUN is refused" \
			lun_refused "file/$loop" "$loop: in use"
		stop_qemu_io
	else
		ko "block device: qemu-io holds $loop"
	fi
	losetup -d "$loop" && loop=
else
	echo "SKIP: block device (needs root and a free loop device)"
fi

finish
