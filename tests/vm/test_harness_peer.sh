#!/bin/bash
# test_harness_peer.sh - guest test: the harness's user-backstore path works,
# proven with Debian's build of the established tcmu-runner (a peer daemon).
#
# Run: tests/vm/run-vm.sh tests/vm/test_harness_peer.sh
# Needs: Debian's tcmu-runner on the host (scripts/install-deps.sh --with-peer);
# without it the test is skipped, never passed.
#
# This exercises bus_start, daemon_start/stop, wait_handler and
# lun_create_user end to end before our own daemon exists, so a failure in
# our daemon's VM tests can be told apart from a harness failure.
#
# Debian's package (1.5.4) ships no handler_file.so, so there is no user:file
# backstore with it. We use user:file if a file handler is present and
# otherwise the qcow handler; for both the cfgstring is the image path.
# The image is qcow *version 1*: the handler grows qcow v1 files with
# ftruncate, but allocates qcow2 clusters with fallocate(FALLOC_FL_ZERO_RANGE),
# which tmpfs rejects (EOPNOTSUPP -> every write fails with MEDIUM ERROR).
set -u
. "$TCMU_SRC/tests/vm/guest-lib.sh"
trap cleanup_all EXIT

PEER=/usr/bin/tcmu-runner
PEER_HANDLERS=/usr/lib/x86_64-linux-gnu/tcmu-runner
IMG=/tmp/peer.img
SIZE_MB=64

if [ ! -x "$PEER" ]; then
	tc_skip peer_daemon "$PEER not installed (scripts/install-deps.sh --with-peer)"
	tc_summary; exit
fi
export TCMU_DAEMON=$PEER TCMU_HANDLER_PATH=$PEER_HANDLERS
# Debian's daemon at debug level logs every CDB and, for qcow, every cluster
# lookup: under emulation the fio step takes ~150 s instead of ~3 s. The peer
# is the known-good side; it does not need debug logs.
export TCMU_DAEMON_DEBUG=0

# Pick the handler and make its backing image on the guest's tmpfs.
if [ -e "$PEER_HANDLERS/handler_file.so" ]; then
	SUB="file"
	truncate -s "${SIZE_MB}M" "$IMG"
elif [ -e "$PEER_HANDLERS/handler_qcow.so" ] && command -v qemu-img >/dev/null; then
	SUB=qcow
	qemu-img create -q -f qcow "$IMG" "${SIZE_MB}M"
else
	tc_skip peer_daemon "no file or qcow handler in $PEER_HANDLERS (or no qemu-img)"
	tc_summary; exit
fi
echo "peer handler: user:$SUB on $IMG"

tc_run lio_load lio_load || { tc_summary; exit 1; }
tc_run bus_start bus_start || { tc_summary; exit 1; }
# -l: Debian's daemon also logs to a file in this folder (default /var/log).
tc_run daemon_start daemon_start -l "$TCMU_RESULTS" || { tc_summary; exit 1; }
tc_run wait_handler wait_handler "$SUB" 90 || { tc_summary; exit 1; }
if ! tc_run create_user_lun lun_create_user peer "${SIZE_MB}M" "$IMG" "$SUB"; then
	tc_summary; exit 1
fi
echo "LUN: $LUN_SD $LUN_SG ($LUN_HCTL)"

# The disk must really be served through TCMU: the daemon, not the kernel,
# answers INQUIRY, and the established daemon calls itself "TCMU device".
tc_expect_eq inquiry_product "TCMU device" \
	"$(sg_inq "$LUN_SG" | sed -n 's/^ *Product identification: *//p' | sed 's/ *$//')"
tc_expect_eq readcap_size "$((SIZE_MB * 1024 * 1024))" "$(lun_capacity "$LUN_SG")"
tc_run fio_write_verify_16M fio_verify "$LUN_SD" 16M
tc_run lun_delete lun_delete peer
tc_run daemon_stop_clean daemon_stop
tc_run cleanup cleanup_all

tc_summary
