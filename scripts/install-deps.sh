#!/bin/sh
# install-deps.sh - install what building and testing this project needs.
#
# Usage: scripts/install-deps.sh [--kernel-only] [--with-peer]
#   --kernel-only  only fetch/unpack the guest kernel (used by tests/vm/run-vm.sh
#                  when its cache is empty; needs no package installs)
#   --with-peer    also install Debian's tcmu-runner, the established daemon that
#                  tests/vm/test_harness_peer.sh compares against (else it skips)
#
# Environment:
#   TCMU_VM_CACHE  where the guest kernel is unpacked (default $REPO/.cache/kernel)
#
# Idempotent: packages already installed are not touched, and `apt-get update`
# runs only when something is actually missing, so a warm machine (or CI run)
# pays nothing. Must run as root (CI and developer machines run as root).
#
# The guest kernel: the host kernel has no configfs/UIO/LIO and must never be
# changed, so we never install a kernel. We `apt-get download` the .deb that
# Debian's linux-image-amd64 metapackage currently points at and unpack it with
# `dpkg -x` into the cache; /boot and the host's /lib/modules stay untouched.
# The layout is:
#   $TCMU_VM_CACHE/<ver>/root/boot/vmlinuz-<ver>
#   $TCMU_VM_CACHE/<ver>/root/lib/modules/<ver>/...   (depmod'ed by us)
#   $TCMU_VM_CACHE/<ver>/.complete                    (unpack finished)
#   $TCMU_VM_CACHE/current                            (text file: <ver>)
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${TCMU_VM_CACHE:-$REPO/.cache/kernel}

# Build: compilers, the daemon's libraries, and the unit-test framework.
# clang + libclang-rt-14-dev give sanitizer runtimes for `make check` builds.
# zlib1g-dev: handler_qcow's compressed clusters; qemu-utils (qemu-img,
# qemu-io): what the qcow unit tests make images with and judge them by.
# debhelper, lintian: make check-deb builds and judges the Debian packages.
BUILD_PKGS="gcc make pkg-config libnl-3-dev libnl-genl-3-dev libglib2.0-dev
libkmod-dev libcmocka-dev clang libclang-rt-14-dev systemd util-linux python3
valgrind zlib1g-dev qemu-utils debhelper lintian"
# VM tests: the emulator, initramfs tools, and what guest scripts run from
# the host root (targetcli drives LIO; dbus carries the daemon's handler
# registration; sg3-utils/lsscsi/fio poke the resulting SCSI disk;
# e2fsprogs makes the systemd guest's state disk and the clusters' ext4;
# systemd, in BUILD_PKGS, is also the systemd guest's PID 1).
VM_PKGS="qemu-system-x86 busybox-static cpio kmod targetcli-fb python3-rtslib-fb
dbus sg3-utils lsscsi fio qemu-utils e2fsprogs"
# Real clusters, which make check starts on loopback: a single-node Ceph
# (tests/cluster/ceph.sh) for handler_rbd and a one-brick Gluster volume
# (tests/cluster/gluster.sh) for handler_glfs, on the host and inside the
# guest; and librbd's and gfapi's headers to build the two handlers.
CLUSTER_PKGS="ceph-mon ceph-mgr ceph-mgr-modules-core ceph-osd ceph-common
librbd-dev uuid-runtime glusterfs-server libglusterfs-dev"
PEER_PKGS="tcmu-runner"

# No prompts ever: CI has no stdin.
export DEBIAN_FRONTEND=noninteractive

log() { printf 'install-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# apt-get update at most once per invocation, and only when needed.
APT_UPDATED=0
apt_update_once() {
	[ "$APT_UPDATED" = 1 ] && return 0
	log "running apt-get update"
	apt-get update -q >&2 || die "apt-get update failed"
	APT_UPDATED=1
}

# A package counts as present only in state "install ok installed":
# dpkg-query also knows removed-but-configured ("deinstall ok config-files")
# packages, which must be reinstalled.
is_installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

install_missing() {
	missing=""
	for p in "$@"; do
		is_installed "$p" || missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		log "all $# packages already installed"
		return 0
	fi
	apt_update_once
	log "installing:$missing"
	# shellcheck disable=SC2086 # word splitting of the list is intended
	apt-get install -y -q --no-install-recommends $missing >&2 \
		|| die "apt-get install failed for:$missing"
}

# Print the kernel ABI version (e.g. 6.1.0-56-amd64) that the metapackage
# linux-image-amd64 depends on. Prints nothing if the package lists lack it.
resolve_kernel_version() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*-amd64\)$/\1/p' |
		head -n 1
}

# Fetch and unpack the guest kernel into $CACHE/<ver>, once.
fetch_kernel() {
	ver=$(resolve_kernel_version)
	if [ -z "$ver" ]; then
		# Fresh machine: no package lists yet. Update, then retry.
		apt_update_once
		ver=$(resolve_kernel_version)
	fi
	if [ -z "$ver" ]; then
		# Offline but something is cached already: keep using it rather
		# than failing the whole test run.
		if [ -s "$CACHE/current" ] &&
			[ -e "$CACHE/$(cat "$CACHE/current")/.complete" ]; then
			log "cannot resolve linux-image-amd64; using cached $(cat "$CACHE/current")"
			return 0
		fi
		die "cannot resolve the version linux-image-amd64 depends on"
	fi

	dest=$CACHE/$ver
	if [ -e "$dest/.complete" ]; then
		log "kernel $ver already unpacked in $dest"
		printf '%s\n' "$ver" >"$CACHE/current"
		return 0
	fi

	log "fetching kernel $ver into $dest"
	mkdir -p "$CACHE"
	# Unpack into a scratch folder and rename at the end, so an interrupted
	# run never leaves a half-unpacked tree that looks complete.
	tmp=$(mktemp -d "$CACHE/.unpack.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT INT TERM
	# APT::Sandbox::User=root: apt's _apt user cannot write into a folder
	# owned by root, which would only cause a warning, but keep logs clean.
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root \
		"linux-image-$ver" >&2) || die "apt-get download linux-image-$ver failed"
	for deb in "$tmp"/linux-image-"$ver"_*.deb; do break; done
	[ -f "$deb" ] || die "downloaded .deb not found in $tmp"
	dpkg -x "$deb" "$tmp/root" || die "dpkg -x $deb failed"
	rm -f "$deb"    # ~100 MB we no longer need

	[ -f "$tmp/root/boot/vmlinuz-$ver" ] || die "no vmlinuz-$ver in package"
	[ -d "$tmp/root/lib/modules/$ver" ] || die "no modules for $ver in package"
	# The .deb ships no modules.dep (its postinst runs depmod). Generate it
	# so `modprobe -d ... -S $ver` on the host and plain `modprobe` in the
	# guest both work.
	depmod -b "$tmp/root" "$ver" || die "depmod for $ver failed"

	rm -rf "$dest"
	mv "$tmp" "$dest"
	trap - EXIT INT TERM
	touch "$dest/.complete"
	printf '%s\n' "$ver" >"$CACHE/current"
	log "kernel $ver ready in $dest"
}

main() {
	kernel_only=0 with_peer=0
	for arg in "$@"; do
		case $arg in
		--kernel-only) kernel_only=1 ;;
		--with-peer) with_peer=1 ;;
		-h | --help) sed -n '2,12p' "$0"; exit 0 ;;
		*) die "unknown argument: $arg" ;;
		esac
	done
	[ "$(id -u)" = 0 ] || die "must run as root (apt-get, depmod)"

	if [ "$kernel_only" = 0 ]; then
		pkgs="$BUILD_PKGS $VM_PKGS $CLUSTER_PKGS"
		[ "$with_peer" = 1 ] && pkgs="$pkgs $PEER_PKGS"
		# shellcheck disable=SC2086
		install_missing $pkgs
	else
		# dpkg -x / apt-get download need nothing extra, depmod needs kmod.
		install_missing kmod
	fi
	fetch_kernel
}

main "$@"
