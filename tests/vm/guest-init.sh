#!/bin/busybox sh
# guest-init.sh - /init of the tiny initramfs that tests/vm/run-vm.sh boots.
#
# Runs as PID 1 under busybox. It turns the host's root (9p, read-only) plus a
# tmpfs overlay into the guest's root, mounts the per-run results folder (9p,
# read-write) at the same path it has on the host, chroots and runs the guest
# command that run-vm.sh wrote into that folder, records its exit code, and
# powers off. Every failure path also powers off, so a broken boot ends in
# seconds instead of waiting for run-vm.sh's outer timeout.
#
# Contract with run-vm.sh (all inside the results 9p export, tag "results"):
#   run.conf       sourced here: KVER, MODDIR (host path of the cached
#                  lib/modules/<ver>), RESULTS (host path of this folder),
#                  REPO (host path of the checkout)
#   guest-cmd.sh   the command to run in the chroot (cd, env, exec script)
#   output.log     written here: the guest command's stdout+stderr
#   exit_code      written here: its exit status, only when it finished
#
# A systemd guest (tcmu.systemd on the kernel's command line, run-vm.sh's
# TCMU_VM_SYSTEMD=1): the overlay's upper layer is the ext4 disk /dev/vda
# (kept across the guest's reboots), and instead of running the command
# here this init hands the root to systemd as PID 1; the unit
# tcmu-guest-test.service runs it there (tests/vm/guest-systemd.sh), and
# may reboot the guest between phases. Boots are counted in "boots"; a
# fourth is taken for a reboot loop (a panic reboots too) and powers off.

/bin/busybox --install -s /bin
export PATH=/bin

mount -t devtmpfs dev /dev 2>/dev/null
# Make sure our messages reach the serial console (console.log on the host).
exec </dev/console >/dev/console 2>&1

say() { echo "guest-init: $*"; }

poweroff_now() {
	sync
	echo o >/proc/sysrq-trigger
	# sysrq "o" powers off asynchronously; do not return into a broken init
	# (PID 1 exiting would panic the kernel, which also ends QEMU, but less
	# clearly in the log).
	sleep 30
	say "sysrq poweroff did not happen"
}

die() {
	say "FATAL: $*"
	poweroff_now
}

mount -t proc proc /proc || die "mount /proc"
mount -t sysfs sys /sys || die "mount /sys"

# Modules for 9p and overlay, in the order modprobe --show-depends gave
# (dependencies first; a wrong order fails quietly and the mount fails later).
while read -r ko; do
	insmod "/modules/$ko" || die "insmod $ko"
done </modules/order

# msize: larger 9p messages make reads of big files (python, binaries) faster.
P9OPTS=trans=virtio,version=9p2000.L,msize=262144

mkdir -p /results /lower /ovl /newroot
mount -t 9p -o "$P9OPTS" results /results || die "mount results 9p"
[ -r /results/run.conf ] || die "no run.conf in results folder"
# shellcheck source=/dev/null
. /results/run.conf

# The host root is read-only from here (and exported read-only by QEMU);
# writes land in a tmpfs upper layer and vanish at power-off.
mount -t 9p -o "$P9OPTS,ro" hostroot /lower || die "mount hostroot 9p"
SYSTEMD=0
grep -qw tcmu.systemd /proc/cmdline && SYSTEMD=1
if [ $SYSTEMD = 1 ]; then
	boots=$(($(cat /results/boots 2>/dev/null || echo 0) + 1))
	echo "$boots" >/results/boots
	[ "$boots" -le 3 ] || die "boot $boots of a systemd guest: a reboot loop"
	mount -t ext4 /dev/vda /ovl || die "mount the state disk"
else
	mount -t tmpfs -o mode=0755 ovl /ovl || die "mount overlay tmpfs"
fi
mkdir -p /ovl/upper /ovl/work
mount -t overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work \
	overlay /newroot || die "mount overlay root"

# Results folder at the same path as on the host, so the guest command and
# the host agree on file names.
mount --move /results "/newroot$RESULTS" || die "move results to $RESULTS"

# The cached Debian kernel's modules are visible through the 9p root at
# MODDIR; bind them to the standard place so plain `modprobe` works in the
# chroot. Done before /tmp gets a fresh tmpfs, in case MODDIR is under /tmp.
mkdir -p "/newroot/lib/modules/$KVER" || die "mkdir /lib/modules/$KVER"
mount --bind "/newroot$MODDIR" "/newroot/lib/modules/$KVER" ||
	die "bind $MODDIR to /lib/modules/$KVER"

mount -t proc proc /newroot/proc || die "mount chroot /proc"
mount -t sysfs sys /newroot/sys || die "mount chroot /sys"
# devtmpfs: the kernel creates /dev/sdX and /dev/sgN nodes itself (no udev).
mount -t devtmpfs dev /newroot/dev || die "mount chroot /dev"
# What udev/systemd would add: bash's <(...) and many tools need /dev/fd.
ln -sf /proc/self/fd /newroot/dev/fd
ln -sf /proc/self/fd/0 /newroot/dev/stdin
ln -sf /proc/self/fd/1 /newroot/dev/stdout
ln -sf /proc/self/fd/2 /newroot/dev/stderr
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts ||
	die "mount chroot /dev/pts"
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm || die "mount /dev/shm"
# Fresh /tmp and /run: hide the host's (its sockets, pid files, and dbus
# state must not leak into the guest). But a checkout (CI clones somewhere)
# or a results folder under /tmp or /run must stay visible: hold it aside
# with a recursive bind (keeping the results mount inside it) and put it
# back on top of the new tmpfs.
under_tmp() { case $1 in /tmp | /tmp/* | /run | /run/*) return 0 ;; esac; return 1; }
keep_repo=0 keep_results=0
under_tmp "$REPO" && keep_repo=1
case $RESULTS in "$REPO"/*) ;; *) under_tmp "$RESULTS" && keep_results=1 ;; esac
mkdir -p /keep/repo /keep/results
[ $keep_repo = 1 ] && { mount --rbind "/newroot$REPO" /keep/repo || die "hold $REPO"; }
[ $keep_results = 1 ] && { mount --rbind "/newroot$RESULTS" /keep/results || die "hold $RESULTS"; }
mount -t tmpfs -o mode=1777 tmp /newroot/tmp || die "mount chroot /tmp"
mount -t tmpfs -o mode=0755 run /newroot/run || die "mount chroot /run"
if [ $keep_repo = 1 ]; then
	{ mkdir -p "/newroot$REPO" && mount --move /keep/repo "/newroot$REPO"; } ||
		die "restore $REPO"
fi
if [ $keep_results = 1 ]; then
	{ mkdir -p "/newroot$RESULTS" &&
		mount --move /keep/results "/newroot$RESULTS"; } || die "restore $RESULTS"
fi

# The systemd guest's units, in its root's upper layer: of what the host
# enables (and mounts: fstab) only what the tests are about stays (the host's other services,
# a cluster's or a database's, have no place in the guest and would slow
# its boot), and tcmu-guest-test.service runs the guest command once the
# boot is done. The host's own /etc is never written (read-only lower).
KEEP_UNITS="tcmu-runner.service rtslib-fb-targetctl.service target.service dbus.service dbus.socket"
systemd_units() {
	local etc=/newroot/etc/systemd/system l name
	for l in "$etc"/*.wants/* "$etc"/*.requires/*; do
		[ -L "$l" ] || continue
		name=${l##*/}
		case " $KEEP_UNITS tcmu-guest-test.service " in *" $name "*) continue ;; esac
		rm -f "$l" || return 1
	done
	# The host's file systems and encrypted disks are not the guest's:
	# systemd would wait for them, fail, and end in emergency mode.
	: >/newroot/etc/fstab || return 1
	[ -e /newroot/etc/crypttab ] && { : >/newroot/etc/crypttab || return 1; }
	cat >"$etc/tcmu-guest-test.service" <<-EOF || return 1
	[Unit]
	Description=tcmu-runner guest test (tests/vm/run-vm.sh)
	After=basic.target
	[Service]
	Type=simple
	Environment=TCMU_VM_RESULTS=$RESULTS
	ExecStart=/bin/sh $REPO/tests/vm/guest-systemd.sh
	StandardOutput=journal+console
	EOF
	mkdir -p "$etc/multi-user.target.wants" &&
		ln -sf ../tcmu-guest-test.service "$etc/multi-user.target.wants/" &&
		ln -sf /lib/systemd/system/multi-user.target "$etc/default.target"
}

# The kernel's request_module() runs /sbin/modprobe in *this* root (the
# initramfs), not in the chroot: forward it, so LIO's on-demand module
# loads (backstore plugins, fabrics) work as on a normal system.
mkdir -p /sbin
printf '#!/bin/sh\nexec chroot /newroot /sbin/modprobe "$@"\n' >/sbin/modprobe
chmod 755 /sbin/modprobe

if [ $SYSTEMD = 1 ]; then
	systemd_units || die "cannot set up the systemd guest's units"
	say "root ready after $(cut -d" " -f1 /proc/uptime)s uptime, boot $boots: systemd"
	exec switch_root /newroot /lib/systemd/systemd
fi

say "root ready after $(cut -d" " -f1 /proc/uptime)s uptime, running guest command"
chroot /newroot /usr/bin/env -i /bin/sh "$RESULTS/guest-cmd.sh" \
	>"/newroot$RESULTS/output.log" 2>&1
rc=$?
echo "$rc" >"/newroot$RESULTS/exit_code"
say "guest command exited with $rc at $(cut -d" " -f1 /proc/uptime)s uptime"
poweroff_now
