#!/bin/bash
# test_debian_package.sh - the Debian packages (debian/), built on the host
# in a scratch copy of the tree and judged without installing them (that
# would change this machine's bus policy for everyone): the build leaves
# the shipped files alone and cleans up after itself, lintian finds no
# error, each .deb holds its pieces, and its Depends are the expected ones.
# About 30 s on 2 cores. Ends "N passed, N failed".
#   TCMU_DEB_KEEP=DIR  build in DIR and leave it there (for the guest)
set -u
. "$(dirname "$0")/check_lib.sh"

for t in git dpkg-buildpackage dh lintian dpkg-deb; do
	command -v "$t" >/dev/null || skip "$t not installed (debhelper, lintian, dpkg-dev)"
done
git rev-parse --git-dir >/dev/null 2>&1 || skip "not a git checkout"

if [ -n "${TCMU_DEB_KEEP:-}" ]; then
	mkdir -p "$TCMU_DEB_KEEP" && tmp=$(cd "$TCMU_DEB_KEEP" && pwd) || exit 1
else
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
fi
version=$(sed -n 's/^VERSION *:= *//p' Makefile)
src=$tmp/tcmu-runner-$version
rm -rf "$src" "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo
mkdir -p "$src"
# The tracked files and new ones not ignored: what a commit would hold.
git ls-files -z -co --exclude-standard | xargs -0 cp --parents -t "$src"
(cd "$src" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$tmp/before"

build() {
	(cd "$src" && nice -n 10 dpkg-buildpackage -us -uc -b -j"$(nproc)") \
		>"$tmp/build.log" 2>&1 || { tail -n 30 "$tmp/build.log"; return 1; }
}
check "dpkg-buildpackage -us -uc -b (version $version)" build

unchanged() {	# no shipped file rewritten by the build
	(cd "$src" && sha256sum --quiet -c "$tmp/before")
}
check "the build changes no file of the tree" unchanged

clean() {	# debian/rules clean leaves exactly the files the tree had
	(cd "$src" && debian/rules clean) >"$tmp/clean.log" 2>&1 || return 1
	diff <(cut -c67- "$tmp/before") <(cd "$src" && find . -type f | sort)
}
check "debian/rules clean removes every build product" clean

lint() {
	lintian --pedantic --info "$tmp/tcmu-runner_${version}_"*.changes >"$tmp/lintian" 2>&1
	# Warnings are shown, errors fail.
	grep -E '^[WIP]:' "$tmp/lintian" | sed 's/^/    | /'
	! grep -E '^E:' "$tmp/lintian"
}
check "lintian: no errors" lint

deb() { echo "$tmp/${1}_${version}_$(dpkg --print-architecture).deb"; }
has() {	# has PACKAGE PATH...: the .deb holds each path
	local p=$1 f list
	shift
	list=$(dpkg-deb -c "$(deb "$p")" | awk '{ print $6 }' | sed 's|^\./|/|') || return 1
	for f in "$@"; do
		grep -qx -- "$f" <<<"$list" || { echo "$p lacks $f"; return 1; }
	done
}
lacks() {	# lacks PACKAGE PATTERN: no path of the .deb matches
	! dpkg-deb -c "$(deb "$1")" | awk '{ print $6 }' | grep -E -- "$2"
}
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
check "tcmu-runner: daemon, tcmu-sim, handlers, unit, bus files, man pages, conf" \
	has tcmu-runner /usr/bin/tcmu-runner /usr/bin/tcmu-sim \
	/usr/lib/tcmu-runner/handler_file.so /usr/lib/tcmu-runner/handler_null.so \
	/usr/lib/tcmu-runner/handler_qcow.so /lib/systemd/system/tcmu-runner.service \
	/usr/share/dbus-1/system.d/org.kernel.TCMUService1.conf \
	/usr/share/dbus-1/system-services/org.kernel.TCMUService1.service \
	/usr/share/man/man8/tcmu-runner.8.gz /usr/share/man/man1/tcmu-sim.1.gz \
	/etc/tcmu/tcmu.conf
check "tcmu-runner: not the rbd and glfs handlers, not the library" \
	lacks tcmu-runner 'handler_(rbd|glfs)|libtcmu'
check "tcmu-runner-handler-rbd: handler_rbd.so" \
	has tcmu-runner-handler-rbd /usr/lib/tcmu-runner/handler_rbd.so
check "tcmu-runner-handler-glfs: handler_glfs.so" \
	has tcmu-runner-handler-glfs /usr/lib/tcmu-runner/handler_glfs.so
check "libtcmu1: libtcmu.so.1" has libtcmu1 "/usr/lib/$multiarch/libtcmu.so.1"
check "libtcmu-dev: headers, libtcmu.so, libtcmu.a, libtcmu.pc" \
	has libtcmu-dev /usr/include/libtcmu.h /usr/include/tcmu-runner.h \
	/usr/include/scsi_defs.h "/usr/lib/$multiarch/libtcmu.so" \
	"/usr/lib/$multiarch/libtcmu.a" "/usr/lib/$multiarch/pkgconfig/libtcmu.pc"

field() { dpkg-deb -f "$(deb "$1")" "$2"; }
depends() {	# depends PACKAGE WANT-REGEX... [! UNWANTED-REGEX]: each WANT matches
	local p=$1 d re neg=0
	shift
	d=$(field "$p" Depends) || return 1
	echo "    | $p: Depends: $d"
	for re in "$@"; do
		[ "$re" = "!" ] && { neg=1; continue; }
		if [ "$neg" = 1 ]; then
			! grep -Eq -- "$re" <<<"$d" || { echo "$p depends on $re"; return 1; }
		else
			grep -Eq -- "$re" <<<"$d" || { echo "$p lacks $re"; return 1; }
		fi
	done
}
check "tcmu-runner depends on its libraries, a system bus and kmod, not on Ceph or Gluster" \
	depends tcmu-runner 'libnl-genl-3-200' 'libglib2\.0-0' 'libkmod2' 'zlib1g' \
	'dbus-system-bus' '(^|, )kmod' ! 'librbd|librados|libgfapi|libtcmu'
handlers_depend() {
	depends tcmu-runner-handler-rbd "tcmu-runner \(= $version\)" librbd1 librados2 &&
		depends tcmu-runner-handler-glfs "tcmu-runner \(= $version\)" libgfapi0
}
check "handler packages depend on the same daemon build and their client library" \
	handlers_depend
check "libtcmu1 depends on libnl only (no GLib, no kmod)" \
	depends libtcmu1 'libnl-genl-3-200' ! 'glib|kmod|gio'
check "libtcmu-dev depends on the same libtcmu1 and libnl's -dev (libtcmu.pc)" \
	depends libtcmu-dev "libtcmu1 \(= $version\)" libnl-genl-3-dev

maintscripts() {	# the unit enabled and started; tcmu.conf a conffile
	local ctl=$tmp/ctl
	rm -rf "$ctl"
	dpkg-deb -e "$(deb tcmu-runner)" "$ctl" || return 1
	grep -q "deb-systemd-helper enable 'tcmu-runner.service'" "$ctl/postinst" &&
		grep -q "deb-systemd-invoke \$_dh_action 'tcmu-runner.service'" "$ctl/postinst" &&
		grep -q "_dh_action=.*start" "$ctl/postinst" &&
		grep -qx /etc/tcmu/tcmu.conf "$ctl/conffiles"
}
check "postinst enables and starts the unit; /etc/tcmu/tcmu.conf is a conffile" maintscripts

unit_paths() {	# the packaged unit runs the packaged daemon
	local u
	u=$(dpkg-deb --fsys-tarfile "$(deb tcmu-runner)" |
		tar -xO ./lib/systemd/system/tcmu-runner.service) || return 1
	grep -q '^ExecStart=/usr/bin/tcmu-runner\( \|$\)' <<<"$u"
}
check "the packaged unit starts /usr/bin/tcmu-runner" unit_paths

finish
