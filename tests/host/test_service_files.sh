#!/bin/bash
# test_service_files.sh - the files systemd and the bus read, checked on the
# host: the unit passes systemd-analyze verify, the bus policy and the
# activation file say what the daemon needs. Ends "N passed, N failed".
set -u
. "$(dirname "$0")/check_lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify checks that ExecStart exists: point it at the built daemon.
sed "s|/usr/bin/tcmu-runner|$PWD/tcmu-runner|" tcmu-runner.service >"$tmp/tcmu-runner.service"
# Where man-db is installed, verify also runs `man tcmu-runner(8)` for the
# unit's Documentation= line: point it at the page we ship, so the check
# means "our unit names our page" whatever the host has installed.
mkdir -p "$tmp/man/man8"
cp tcmu-runner.8 "$tmp/man/man8/"
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify tcmu-runner.service" \
		env MANPATH="$tmp/man" systemd-analyze verify "$tmp/tcmu-runner.service"
else
	echo "SKIP: systemd-analyze not installed"
fi
# The unit's sandbox (systemd-analyze security, 0 safest to 10): at most
# the figure it had when it was hardened, so a lost directive shows here.
MAX_EXPOSURE=2.6
exposure() {
	local out level
	out=$(systemd-analyze security --offline=true "$tmp/tcmu-runner.service" 2>&1)
	level=$(sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$out")
	echo "exposure ${level:-?} (at most $MAX_EXPOSURE)"
	[ -n "$level" ] && awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l <= m) }'
}
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze security: exposure at most $MAX_EXPOSURE" exposure
fi
man_page() {	# the page formats without a groff warning
	local warn
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l tcmu-runner.8 2>&1 >/dev/null)
	[ -z "$warn" ] || { echo "$warn"; return 1; }
	MANPATH="$tmp/man" man -w 8 tcmu-runner || return 1
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l tcmu-sim.1 2>&1 >/dev/null)
	[ -z "$warn" ] || { echo "$warn"; return 1; }
}
if command -v man >/dev/null; then
	check "man pages tcmu-runner(8) and tcmu-sim(1) format cleanly" man_page
else
	echo "SKIP: man not installed"
fi
check "unit is Type=dbus with our bus name" \
	grep -qx "BusName=org.kernel.TCMUService1" tcmu-runner.service
check "unit restarts on failure" grep -qx "Restart=on-failure" tcmu-runner.service
# Open files: a served device holds a few (fd_limit.h), rbd's many more.
# Soft and hard at least systemd's default hard limit for services: the
# unit must not lower what the daemon raises its soft limit to.
MIN_NOFILE=524288
nofile() {
	local v n
	v=$(sed -n 's/^LimitNOFILE=//p' tcmu-runner.service)
	echo "LimitNOFILE=${v:-(not set)} (soft and hard at least $MIN_NOFILE)"
	[ -n "$v" ] || return 1
	for n in ${v%%:*} ${v##*:}; do
		[ "$n" = infinity ] || { [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge $MIN_NOFILE ]; } ||
			return 1
	done
}
check "unit sets LimitNOFILE for thousands of devices" nofile
check "activation file names the bus name and the unit" \
	sh -c 'grep -qx "Name=org.kernel.TCMUService1" org.kernel.TCMUService1.service &&
		grep -qx "SystemdService=tcmu-runner.service" org.kernel.TCMUService1.service'

policy() {	# policy: only root owns; the default context may not call methods
	python3 - <<'PY'
import xml.etree.ElementTree as ET
root = ET.parse("org.kernel.TCMUService1.conf").getroot()
pol = {p.get("user") or p.get("context"): p for p in root.findall("policy")}
assert pol["root"].find("allow[@own='org.kernel.TCMUService1']") is not None
d = pol["default"]
assert d.find("deny[@own='org.kernel.TCMUService1']") is not None
assert d.find("deny[@send_destination='org.kernel.TCMUService1']") is not None
for a in d.findall("allow"):
    assert a.get("send_interface", "").startswith("org.freedesktop.DBus."), a.attrib
PY
}
check "bus policy: root owns, others only look" policy
check "daemon --version names the handler API" \
	sh -c './tcmu-runner --version | grep -q "handler API 1\."'
check "daemon refuses an unknown option with usage" \
	sh -c '! ./tcmu-runner --bogus 2>&1 | grep -q Usage && exit 1; ./tcmu-runner --bogus >/dev/null 2>&1; [ $? = 2 ]'

check "README's SCSI table matches the code's table" tests/tools/readme_table.sh check
tpg_labels() {	# the ALUA commands' condition is ALUA, not unmapping
	local rows
	rows=$(grep -E '^\| 0xa[34] \| 0x0a \| (REPORT|SET) TARGET PORT GROUPS \|' README.md)
	[ "$(wc -l <<<"$rows")" = 2 ] && ! grep -q unmap <<<"$rows" && grep -q ALUA <<<"$rows"
}
check "README labels the target port group commands by ALUA" tpg_labels

journal_prio() {	# under systemd, lines carry their syslog priority
	local out
	out=$(JOURNAL_STREAM=8:1 ./tcmu-runner --handler-path "$tmp/none" --no-dbus --no-modprobe 2>&1)
	echo "$out"
	grep -q '^<3>\[tcmu-runner\] handler_set_load_dir: read handler directory' <<<"$out" ||
		return 1
	# No LIO on this host: the daemon stops, after loading its handlers.
	out=$(JOURNAL_STREAM=8:1 ./tcmu-runner --handler-path . --no-dbus --no-modprobe -d 2>&1)
	echo "$out"
	grep -q '^<7>\[tcmu-runner\] handler_set_load_file: loaded handler file' <<<"$out"
}
check "journal priorities: errors <3>, debug <7>" journal_prio

installed() {
	local d=$tmp/inst f
	make --no-print-directory install DESTDIR="$d" PREFIX=/usr >/dev/null || return 1
	for f in usr/bin/tcmu-runner usr/lib/tcmu-runner/handler_file.so \
		usr/bin/tcmu-sim usr/lib/tcmu-runner/handler_null.so \
		usr/share/man/man1/tcmu-sim.1 \
		usr/lib/libtcmu.so.1 usr/lib/libtcmu.a usr/include/libtcmu.h \
		usr/include/tcmu-runner.h usr/lib/pkgconfig/libtcmu.pc \
		usr/lib/systemd/system/tcmu-runner.service \
		usr/share/dbus-1/system.d/org.kernel.TCMUService1.conf \
		usr/share/dbus-1/system-services/org.kernel.TCMUService1.service \
		usr/share/man/man8/tcmu-runner.8 etc/tcmu/tcmu.conf \
		usr/share/doc/tcmu-runner/tcmu.conf.example; do
		[ -e "$d/$f" ] || { echo "missing $f"; return 1; }
	done
	PKG_CONFIG_PATH=$d/usr/lib/pkgconfig pkg-config --libs libtcmu | grep -q -- -ltcmu
}
check "make install DESTDIR puts every piece in place" installed

example_config() {	# the example file reads cleanly: every key commented, all known
	local out
	out=$(./tcmu-runner --config tcmu.conf --handler-path "$tmp/none" --no-dbus \
		--no-modprobe 2>&1)
	echo "$out"
	! grep -q 'tcmu.conf:' <<<"$out" || return 1
	# Uncommented, every key it documents is one the daemon knows.
	sed -E 's/^#([a-z_]+ =|\[)/\1/' tcmu.conf >"$tmp/all.conf"
	out=$(./tcmu-runner --config "$tmp/all.conf" --handler-path "$tmp/none" --no-dbus \
		--no-modprobe 2>&1)
	echo "$out"
	! grep -q 'all.conf:' <<<"$out"
}
check "the example tcmu.conf is read without a complaint, commented or not" example_config

finish
