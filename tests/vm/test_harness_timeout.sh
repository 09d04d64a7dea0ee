#!/bin/sh
# test_harness_timeout.sh - negative check: a guest that never finishes.
#
# Run: TCMU_VM_TIMEOUT=60 tests/vm/run-vm.sh tests/vm/test_harness_timeout.sh
# Expected: run-vm.sh kills QEMU after ~60 s, prints the console tail and
# exits non-zero (124). If it ever exits 0, the harness would report hung
# daemons as passing: that is the bug this guards against.
echo "sleeping forever; run-vm.sh's timeout must end this"
exec sleep infinity
