#!/bin/bash
# demo.sh - what `make demo` shows: our daemon serving a LUN through the
# real kernel, written and read back. Run by tests/vm/run-vm.sh.
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"
trap cleanup_all EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Loading LIO (target_core_user, tcm_loop) in Debian's kernel $(uname -r)"
lio_load || exit 1
bus_start || exit 1

say "Starting our tcmu-runner ($TCMU_SRC/tcmu-runner --handler-path $TCMU_SRC)"
daemon_start || exit 1
wait_handler file 60 || exit 1

say "targetcli sees our handlers on the system bus"
targetcli ls /backstores

say "Creating a 256 MiB user:file LUN on /tmp/demo.img and mapping it via tcm_loop"
truncate -s 256M /tmp/demo.img
lun_create_user demo 256M /tmp/demo.img || exit 1
targetcli ls /backstores/user:file
echo
lsscsi

say "INQUIRY and READ CAPACITY, answered by our daemon ($LUN_SG)"
sg_inq "$LUN_SG" | grep -E "identification|revision|version"
sg_readcap "$LUN_SG" | grep -E "Last LBA|block length|Device size"
sg_vpd -p 0x83 "$LUN_SG" | grep -E "0x6001405|vendor id"

say "fio: 64 MiB of random writes (4k-256k, queue depth 16), then read back and verified"
fio_verify "$LUN_SD" 64M --bsrange=4k-256k --iodepth=16 \
	--group_reporting | grep -E "WRITE:|READ:|err=|verify"
rc=${PIPESTATUS[0]}
if [ "$rc" = 0 ]; then
	echo "verify: all data read back intact"
else
	echo "verify FAILED (fio exit $rc)"
fi

say "The daemon's log"
lun_delete demo
daemon_stop
grep -vE "DEBUG" "$TCMU_RESULTS/daemon.log"
exit "$rc"
