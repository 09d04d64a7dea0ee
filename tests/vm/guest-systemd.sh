#!/bin/sh
# guest-systemd.sh - ExecStart of tcmu-guest-test.service in a systemd guest
# (tests/vm/run-vm.sh with TCMU_VM_SYSTEMD=1; guest-init.sh writes the unit).
#
# Runs the guest command that run-vm.sh wrote, as guest-init.sh does in a
# plain guest, with TCMU_VM_BOOT set to the boot's number (1, 2, ...), its
# output appended to output.log (a later boot adds to it). Then:
#   - the command left a file "reboot" in the results folder: it is removed
#     and the guest reboots cleanly (systemctl reboot); the command runs
#     again in the next boot, which keeps what this one wrote to its root;
#   - otherwise its exit status goes to exit_code and the guest powers off
#     cleanly.
# Contract with run-vm.sh as in guest-init.sh (exit_code only when done).
R=${TCMU_VM_RESULTS:?set by tcmu-guest-test.service}
boot=$(cat "$R/boots" 2>/dev/null || echo 0)
echo "guest-systemd: boot $boot, running the guest command" >/dev/console

/usr/bin/env -i TCMU_VM_BOOT="$boot" /bin/sh "$R/guest-cmd.sh" >>"$R/output.log" 2>&1
rc=$?

if [ -e "$R/reboot" ]; then
	rm -f "$R/reboot"
	echo "guest-systemd: boot $boot asks for a reboot (exit $rc)" >/dev/console
	sync
	exec systemctl reboot
fi
echo "$rc" >"$R/exit_code"
sync
echo "guest-systemd: guest command exited with $rc, powering off" >/dev/console
exec systemctl poweroff
