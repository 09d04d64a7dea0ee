#!/bin/bash
# run-vm.sh - run one guest test script under Debian's real kernel in QEMU.
#
# Usage: tests/vm/run-vm.sh GUEST_SCRIPT [ARGS...]
#
# Why a VM: the host kernel has no configfs, UIO or LIO and must not be
# changed. Debian's kernel has them all as modules, so we boot it (software
# emulation, no KVM) with the host's root exported read-only over 9p and a
# tmpfs overlay on top: every host tool and the freshly built daemon are
# visible in the guest, and nothing the guest writes reaches the host except
# the per-run results folder (a second, read-write 9p export).
#
# In the guest, GUEST_SCRIPT runs as root with cwd = the repo checkout and
#   TCMU_SRC=<repo path>  TCMU_RESULTS=<results folder>  (same paths as here)
# plus every TCMU_* variable of this environment (TCMU_VM_* excepted), so
# e.g. `TCMU_DAEMON=... tests/vm/run-vm.sh ...` reaches guest-lib.sh.
# Its output is streamed here and saved in the results folder as output.log;
# this script exits with its exit code.
#
# Failure: a guest that hangs (outer timeout), panics, or ends without writing
# an exit code is a failure: the console tail is printed and we exit with
#   124  timeout (TCMU_VM_TIMEOUT seconds passed; QEMU killed)
#   125  guest ended without an exit code (panic, init failure, crash)
#   126  this script could not start the VM (missing kernel, qemu, ...)
#
# Environment:
#   TCMU_VM_TIMEOUT  seconds before QEMU is killed (default 900)
#   TCMU_VM_CACHE    kernel cache, shared with scripts/install-deps.sh
#                    (default $REPO/.cache/kernel)
#   TCMU_VM_RESULTS  results folder (default
#                    $REPO/tests/vm/results/<timestamp>-<script>-<pid>)
#   TCMU_VM_MEM, TCMU_VM_SMP  guest size (default 2048 MiB, 2 vCPUs)
#   TCMU_VM_SYSTEMD  1: boot systemd as PID 1 instead of running the script
#                    from the initramfs (guest-init.sh says how), with the
#                    overlay's upper layer on an ext4 disk (state.img in the
#                    results folder) that a guest reboot keeps; a reboot
#                    restarts the guest in the same QEMU (no -no-reboot).
#
# Results folder contents: output.log (guest script), exit_code,
# console.log (serial console: kernel and guest-init messages),
# plus whatever the guest script writes to $TCMU_RESULTS (e.g. daemon.log).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${TCMU_VM_CACHE:-$REPO/.cache/kernel}
TIMEOUT=${TCMU_VM_TIMEOUT:-900}
CONSOLE_TAIL=80

log() { printf 'run-vm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 126; }

# Quote a string for a POSIX shell (busybox sh in the initramfs, sh in the
# guest): wrap in single quotes, and write each ' as '\''.
shquote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

[ $# -ge 1 ] || { sed -n '2,4p' "$0" >&2; exit 126; }

# --- Guest script: resolve to an absolute path (valid in the guest too,
# since the guest's root is the host's root).
script=$1; shift
[ -f "$script" ] || die "guest script not found: $script"
script=$(cd "$(dirname "$script")" && pwd)/$(basename "$script")
# The guest gets fresh /tmp and /run; only the checkout and the results
# folder are carried over from there.
case $script in
"$REPO"/*) ;;
/tmp/* | /run/*) die "guest script must not live under /tmp or /run (outside the checkout): $script" ;;
esac

# --- Kernel: fetched by scripts/install-deps.sh; fetch it now if missing,
# so a fresh checkout can run a VM test directly.
kver=""
[ -s "$CACHE/current" ] && kver=$(cat "$CACHE/current")
if [ -z "$kver" ] || [ ! -e "$CACHE/$kver/.complete" ]; then
	log "no cached kernel in $CACHE; running scripts/install-deps.sh --kernel-only"
	TCMU_VM_CACHE=$CACHE "$REPO/scripts/install-deps.sh" --kernel-only ||
		die "could not fetch the guest kernel"
	kver=$(cat "$CACHE/current")
fi
kroot=$CACHE/$kver/root
vmlinuz=$kroot/boot/vmlinuz-$kver
moddir=$kroot/lib/modules/$kver
[ -f "$vmlinuz" ] || die "missing $vmlinuz"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not installed"
[ -x /bin/busybox ] || die "/bin/busybox missing (package busybox-static)"

# --- Initramfs: busybox, /init, and the modules to mount a 9p root with an
# overlay. Cached per kernel; rebuilt when missing or older than the files
# that define it (this script holds the module list, guest-init.sh the init).
initrd=$CACHE/$kver/initramfs.cpio.gz
build_initramfs() {
	local stage ko seen mod deps verb
	stage=$(mktemp -d "$CACHE/$kver/.initramfs.XXXXXX") || return 1
	mkdir -p "$stage"/{bin,dev,proc,sys,modules} || return 1
	cp /bin/busybox "$stage/bin/busybox" || return 1
	cp "$HERE/guest-init.sh" "$stage/init" && chmod 755 "$stage/init" || return 1
	# The kernel opens /dev/console for init before anything is mounted;
	# without the node, init starts with no stdout. (Root can mknod.)
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
	# modprobe --show-depends prints "insmod PATH" lines in load order;
	# modules shared by several (virtio, 9pnet) appear twice: keep the first.
	# virtio_blk and ext4: the state disk of a systemd guest.
	deps=$(for mod in virtio_pci 9pnet_virtio 9p overlay virtio_blk ext4; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$mod" || exit 1
	done) || { log "modprobe --show-depends failed"; return 1; }
	seen=" "
	while read -r verb ko _; do
		[ "$verb" = insmod ] || continue     # skip "builtin ..." lines
		case $seen in *" $ko "*) continue ;; esac
		seen="$seen$ko "
		cp "$ko" "$stage/modules/" || return 1
		basename "$ko" >>"$stage/modules/order"
	done <<<"$deps"
	[ -s "$stage/modules/order" ] || { log "no modules resolved"; return 1; }
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) \
		>"$stage.cpio.gz" || return 1
	# Atomic: a concurrent run never sees a half-written initramfs.
	mv "$stage.cpio.gz" "$initrd" || return 1
	rm -rf "$stage"
}
if [ ! -s "$initrd" ] || [ "$HERE/guest-init.sh" -nt "$initrd" ] ||
	[ "${BASH_SOURCE[0]}" -nt "$initrd" ]; then
	log "building initramfs for $kver"
	build_initramfs || die "initramfs build failed"
fi

# --- Results folder, and the files that tell the guest what to do.
if [ -n "${TCMU_VM_RESULTS:-}" ]; then
	results=$TCMU_VM_RESULTS
else
	results=$REPO/tests/vm/results/$(date +%Y%m%d-%H%M%S)-$(basename "$script" .sh)-$$
fi
mkdir -p "$results" || die "cannot create $results"
results=$(cd "$results" && pwd)
rm -f "$results"/{exit_code,output.log,console.log,run.conf,guest-cmd.sh,boots,state.img}

{
	echo "KVER=$(shquote "$kver")"
	echo "MODDIR=$(shquote "$moddir")"
	echo "RESULTS=$(shquote "$results")"
	echo "REPO=$(shquote "$REPO")"
} >"$results/run.conf"

{
	echo "# Written by tests/vm/run-vm.sh; run in the guest's root with an empty"
	echo "# environment (env -i) by guest-init.sh, or guest-systemd.sh under systemd."
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	echo "export HOME=/root TERM=dumb LANG=C.UTF-8"
	echo "cd $(shquote "$REPO") || exit 125"
	# Pass TCMU_* settings through (not the VM's own knobs).
	while IFS= read -r name; do
		case $name in TCMU_VM_* | TCMU_SRC | TCMU_RESULTS) continue ;; esac
		echo "export $name=$(shquote "${!name}")"
	done < <(compgen -e | grep '^TCMU_')
	[ -n "${CI:-}" ] && echo "export CI=$(shquote "$CI")"
	echo "export TCMU_SRC=$(shquote "$REPO")"
	echo "export TCMU_RESULTS=$(shquote "$results")"
	cmd=""
	# A script without the execute bit still runs (through bash).
	[ -x "$script" ] || cmd="/bin/bash "
	cmd="$cmd$(shquote "$script")"
	for a in "$@"; do cmd="$cmd $(shquote "$a")"; done
	echo "exec $cmd"
} >"$results/guest-cmd.sh"

: >"$results/output.log"
: >"$results/console.log"

# --- A systemd guest: its root's upper layer on a disk of its own, so that
# what it installs and saves outlives a reboot; the kernel is told
# (tcmu.systemd on its command line) and may reboot.
append="console=ttyS0 quiet panic=-1"
mode=(-no-reboot)
if [ "${TCMU_VM_SYSTEMD:-0}" = 1 ]; then
	command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 missing (package e2fsprogs)"
	truncate -s 2G "$results/state.img" && mkfs.ext4 -q -F "$results/state.img" ||
		die "cannot make the state disk"
	append="$append tcmu.systemd systemd.show_status=0"
	mode=(-drive "file=$results/state.img,format=raw,if=virtio,cache=unsafe")
fi

# --- Boot. `timeout` is the outer watchdog: a hung guest is killed (TERM,
# then KILL 10 s later) and reported as failure.
log "kernel $kver, timeout ${TIMEOUT}s, results in $results"
start=$(date +%s)
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 \
	-machine q35 -accel tcg -cpu max \
	-m "${TCMU_VM_MEM:-2048}" -smp "${TCMU_VM_SMP:-2}" \
	-nodefaults -display none "${mode[@]}" \
	-serial "file:$results/console.log" \
	-kernel "$vmlinuz" -initrd "$initrd" \
	-append "$append" \
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
	-virtfs "local,path=$results,mount_tag=results,security_model=none,multidevs=remap" \
	</dev/null >"$results/qemu.log" 2>&1 &
qemu_pid=$!
# Ctrl-C or a CI cancel must not leave QEMU behind.
trap 'kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null; exit 130' INT TERM HUP

# Stream the guest script's output while it runs; tail exits by itself
# shortly after QEMU (via timeout) is gone.
tail -n +1 -F --pid="$qemu_pid" "$results/output.log" 2>/dev/null &
tail_pid=$!

wait "$qemu_pid"
qemu_rc=$?
wait "$tail_pid" 2>/dev/null
trap - INT TERM HUP
elapsed=$(($(date +%s) - start))

console_tail() {
	log "last $CONSOLE_TAIL lines of $results/console.log:"
	tail -n "$CONSOLE_TAIL" "$results/console.log" >&2
	if [ -s "$results/qemu.log" ]; then
		log "QEMU said:"
		cat "$results/qemu.log" >&2
	fi
}

if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	log "FAIL: guest timed out after ${TIMEOUT}s (QEMU killed)"
	console_tail
	exit 124
fi
rc=$(cat "$results/exit_code" 2>/dev/null)
case $rc in
'' | *[!0-9]*)
	log "FAIL: guest ended without an exit code after ${elapsed}s (QEMU exit $qemu_rc)"
	console_tail
	exit 125
	;;
esac
log "guest script exited with $rc after ${elapsed}s"
# A passed systemd guest's disk is of no further use (a failed one's is
# kept to look into: losetup or debugfs on the host).
[ "$rc" = 0 ] && rm -f "$results/state.img"
exit "$rc"
