#!/bin/bash
# test_oracle.sh - the kernel's own backstore as a differential oracle
# (issue 28): a kernel fileio LUN and our user:file LUN on identical
# backing files (random data; the fileio LUN with UNMAP and WRITE SAME
# with UNMAP on, as ours has), the same commands sent to both through SG
# (tests/vm/scsi_oracle.py: every opcode with a zero CDB, then drawn cases
# from a fixed seed, printed; TCMU_ORACLE_SEED and TCMU_ORACLE_COUNT
# change them). Every difference must be in scsi_oracle.py's table of
# deliberate ones, with our answer as listed; the two files end equal.
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
tc_run "kernel fileio LUN on a 16 MiB file of random data" \
	lun_create_fileio kor 16M "$DIR/k.img" || exit 1
SGK=$LUN_SG
tc_run "the fileio LUN takes UNMAP and WRITE SAME with UNMAP (emulate_tpu, emulate_tpws)" \
	_tcli /backstores/fileio/kor set attribute emulate_tpu=1 emulate_tpws=1
tc_run "our user:file LUN on a copy of it" lun_create_user uor 16M "$DIR/u.img" || exit 1
SGO=$LUN_SG
clear_ua "$SGK"
clear_ua "$SGO"

oracle() {
	python3 "$TCMU_SRC/tests/vm/scsi_oracle.py" "$SGK" "$SGO" 32768 "$SEED" "$COUNT"
}
tc_run "the same commands to both: every difference is a deliberate one (seed $SEED)" oracle
same_files() {
	sync
	cmp "$DIR/k.img" "$DIR/u.img" && echo "the two backing files are equal"
}
tc_run "after them, the two backing files are equal" same_files

tc_run "fileio LUN deleted" lun_delete kor
tc_run "our LUN deleted" lun_delete uor
tc_run "daemon stops cleanly" daemon_stop
tc_summary
