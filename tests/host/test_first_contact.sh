#!/bin/bash
# test_first_contact.sh - what the daemon says on a first run from the
# build tree, on a private bus of our own (dbus-daemon --config-file,
# DBUS_SYSTEM_BUS_ADDRESS): nothing under /etc or /usr is read or changed.
#   - a bus whose policy does not let us own org.kernel.TCMUService1:
#     the daemon says the bus refused (AccessDenied), which policy file
#     to install where, or --no-dbus; and exits 1 before touching devices;
#   - a bus with our shipped policy (as root): the name is ours;
#   - --status with no daemon on the bus: says none answers;
#   - --config with bad lines: each named by file and line.
# Ends "N passed, N failed".
set -u
. "$(dirname "$0")/check_lib.sh"

tmp=$(mktemp -d)
bus_pid=
stop_bus() { [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null; wait "$bus_pid" 2>/dev/null; bus_pid=; }
trap 'stop_bus; rm -rf "$tmp"' EXIT

# start_bus POLICY_XML: a private bus with that <policy> (or <include>) text.
start_bus() {
	stop_bus
	rm -f "$tmp/bus"
	cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <!-- Everything allowed (an eavesdrop="true" rule matches every
       message, replies included); then the test's own rules. -->
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  $1
</busconfig>
CONF
	dbus-daemon --config-file="$tmp/bus.conf" --nofork >"$tmp/bus.log" 2>&1 &
	bus_pid=$!
	for _ in $(seq 50); do [ -S "$tmp/bus" ] && return 0; sleep 0.1; done
	cat "$tmp/bus.log"
	return 1
}
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/bus"
# No configuration file of the host's, and no modules loaded.
run_daemon() {
	timeout 20 ./tcmu-runner --handler-path . --no-modprobe --config "$tmp/none.conf" "$@" \
		>"$tmp/out" 2>&1
	echo $? >"$tmp/rc"
	cat "$tmp/out"
}

if ! command -v dbus-daemon >/dev/null; then
	echo "SKIP: dbus-daemon not installed (bus tests)"
else
	refused() {
		start_bus '<policy context="default"><deny own="org.kernel.TCMUService1"/></policy>' ||
			return 1
		run_daemon
		[ "$(cat "$tmp/rc")" = 1 ] || { echo "exit $(cat "$tmp/rc"), not 1"; return 1; }
		grep -q 'does not allow this process to own org.kernel.TCMUService1 (AccessDenied' \
			"$tmp/out" &&
		grep -q 'copy org.kernel.TCMUService1.conf into /etc/dbus-1/system.d/ or /usr/share/dbus-1/system.d/' \
			"$tmp/out" &&
		grep -q 'or run with --no-dbus' "$tmp/out" &&
		! grep -q 'owned by another process' "$tmp/out" &&
		# Before any device: no netlink, no scan.
		! grep -q 'cannot listen for TCMU devices' "$tmp/out"
	}
	check "bus refuses the name: the daemon says AccessDenied, the policy file and --no-dbus" refused

	if [ "$(id -u)" = 0 ]; then
		shipped_policy() {
			start_bus "<include>$PWD/org.kernel.TCMUService1.conf</include>" || return 1
			run_daemon
			grep -q 'bus name org.kernel.TCMUService1 acquired' "$tmp/out"
		}
		check "with the shipped policy (as root) the name is ours" shipped_policy
	else
		echo "SKIP: not root (the shipped policy lets root own the name)"
	fi

	no_daemon() {
		start_bus "" || return 1
		./tcmu-runner --status >"$tmp/out" 2>&1
		local rc=$?
		cat "$tmp/out"
		[ "$rc" = 1 ] && grep -q 'no daemon answers on the system bus' "$tmp/out" &&
			grep -q 'is tcmu-runner running?' "$tmp/out"
	}
	check "--status with no daemon says none answers" no_daemon
	stop_bus
fi

bad_config() {
	printf '[log]\nlevel = info\n\n# a typo:\nlevel = loud\nnot a line\n[device]\ncmd_time_out = soon\n' \
		>"$tmp/bad.conf"
	timeout 20 ./tcmu-runner --handler-path . --no-modprobe --no-dbus --config "$tmp/bad.conf" \
		>"$tmp/out" 2>&1
	cat "$tmp/out"
	grep -q "bad.conf:6: Key file contains line .not a line." "$tmp/out" &&
	grep -q "bad.conf:5: \[log\] level = 'loud': not a level" "$tmp/out" &&
	grep -q "bad.conf:8: \[device\] cmd_time_out = 'soon'" "$tmp/out"
}
check "--config: each bad line named by file and line" bad_config

check "--json alone is refused" sh -c './tcmu-runner --json >/dev/null 2>&1; [ $? = 2 ]'

finish
