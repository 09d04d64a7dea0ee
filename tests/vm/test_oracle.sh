#!/bin/bash
# test_oracle.sh - the kernel's own backstore as a differential oracle
# (issue 28): a kernel fileio LUN and our user:file LUN on identical
# backing files (random data; the fileio LUN with UNMAP and WRITE SAME
# with UNMAP on, as ours has), the same commands sent to both through SG
# (tests/vm/scsi_oracle.py: every opcode with a zero CDB, then drawn cases
# from a fixed seed, printed; TCMU_ORACLE_SEED and TCMU_ORACLE_COUNT
# change them). Every difference must be in scsi_oracle.py's table of
# deliberate ones, with our answer as listed; the two files end equal.
# Then the same against a user:qcow LUN on a qcow2 image of the data.
# One boot.
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"
trap cleanup_all EXIT

DIR=/tmp/oracle
SEED=${TCMU_ORACLE_SEED:-20261207}
COUNT=${TCMU_ORACLE_COUNT:-2000}
mkdir -p "$DIR"

tc_run "lio loads" lio_load || exit 1
tc_run "system bus starts" bus_start || exit 1
tc_run "daemon starts" daemon_start || exit 1
tc_run "targetcli lists user:file" wait_handler file 60 || exit 1

head -c 16M /dev/urandom >"$DIR/k.img"
cp "$DIR/k.img" "$DIR/u.img"
tc_run "kernel fileio LUN on a 16 MiB file of random data, with UNMAP and WRITE SAME" \
	oracle_fileio kor "$DIR/k.img" || exit 1
SGK=$LUN_SG
tc_run "our user:file LUN on a copy of it" lun_create_user uor 16M "$DIR/u.img" || exit 1
SGO=$LUN_SG

oracle() { oracle_run "$SGK" "$SGO" "$SEED" "$COUNT"; }
tc_run "the same commands to both: every difference is a deliberate one (seed $SEED)" oracle
same_files() {
	sync
	cmp "$DIR/k.img" "$DIR/u.img" && echo "the two backing files are equal"
}
tc_run "after them, the two backing files are equal" same_files

tc_run "fileio LUN deleted" lun_delete kor
tc_run "our LUN deleted" lun_delete uor

# The same against a user:qcow LUN on a qcow2 image made from the same
# random data (qemu-img convert), the kernel's fileio on the raw file:
# the qcow handler does UNMAP, WRITE SAME and GET LBA STATUS itself. At
# the end qemu-img check passes and the image converts back to the
# kernel's file.
tc_run "targetcli lists user:qcow" wait_handler qcow 60 || exit 1
head -c 16M /dev/urandom >"$DIR/k2.img"
qemu-img convert -q -f raw -O qcow2 "$DIR/k2.img" "$DIR/q.qcow2"
tc_run "kernel fileio LUN on another 16 MiB of random data, with UNMAP and WRITE SAME" \
	oracle_fileio kq "$DIR/k2.img" || exit 1
SGK=$LUN_SG
tc_run "our user:qcow LUN on a qcow2 image of it" \
	lun_create_user qor 16M "$DIR/q.qcow2" qcow || exit 1
SGO=$LUN_SG
SEED=$((SEED + 1))
tc_run "qcow: the same commands to both, every difference deliberate (seed $SEED)" oracle
tc_run "fileio LUN deleted (qcow)" lun_delete kq
tc_run "our qcow LUN deleted" lun_delete qor
qcow_equal() {
	local rc=0
	qemu-img check "$DIR/q.qcow2" || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "qemu-img check: exit $rc"; return 1; }
	qemu-img convert -q -O raw "$DIR/q.qcow2" "$DIR/q.raw" &&
		cmp "$DIR/k2.img" "$DIR/q.raw" && echo "the image converts to the kernel's file"
}
tc_run "qemu-img check passes (leaks at most); the image converts to the kernel's file" \
	qcow_equal
tc_run "daemon stops cleanly" daemon_stop
tc_summary
