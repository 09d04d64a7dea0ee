#!/bin/bash
# test_harness_fileio.sh - guest test: the VM harness itself works.
#
# Run: tests/vm/run-vm.sh tests/vm/test_harness_fileio.sh
#
# Uses only the kernel's own fileio backstore (no TCMU daemon), so it shows
# that the VM boots, LIO loads, targetcli drives configfs, a tcm_loop LUN
# becomes a SCSI disk with /dev nodes, and real I/O verifies - independently
# of the daemon under development. If this fails, the harness is broken, not
# the daemon.
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"
trap cleanup_all EXIT

SIZE_MB=64

tc_run lio_load lio_load || { tc_summary; exit 1; }
# targetcli queries the system bus for user backstores even when only
# fileio is used; no daemon is started.
tc_run bus_start bus_start || { tc_summary; exit 1; }
# The backing file lives on the guest's tmpfs /tmp: fast, and it vanishes
# with the VM.
if ! tc_run create_fileio_lun lun_create_fileio fio_ref "${SIZE_MB}M" /tmp/fileio.img; then
	tc_summary; exit 1
fi
echo "LUN: $LUN_SD $LUN_SG ($LUN_HCTL)"

tc_expect_eq readcap_size "$((SIZE_MB * 1024 * 1024))" "$(lun_capacity "$LUN_SG")"
tc_run fio_write_verify_16M fio_verify "$LUN_SD" 16M
tc_run lun_delete lun_delete fio_ref
tc_run cleanup cleanup_all

tc_summary
