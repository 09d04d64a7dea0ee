# Real-kernel tests: Debian's kernel under QEMU (tests/vm/run-vm.sh).
# Included from the top-level Makefile; paths are relative to the top.

VM_TESTS := tests/vm/test_core.sh tests/vm/test_sbc.sh tests/vm/test_review.sh \
	    tests/vm/test_recovery.sh tests/vm/test_timeout_tmr.sh tests/vm/test_ops.sh \
	    tests/vm/test_qcow.sh tests/vm/test_durability.sh tests/vm/test_systemd.sh \
	    tests/vm/test_sense_outage.sh tests/vm/test_oracle.sh

# The deliberately broken handler make check-vm must catch.
tests/build/broken/handler_file.so: tests/vm/broken/handler_file_corrupt.c handler_file.c \
				    image_lock.c image_lock.h tcmu-runner.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared -o $@ $< image_lock.c

# Test plugins for the VM tests, beside the real file handler, in one
# handler folder (test_review.sh and test_timeout_tmr.sh start the daemon
# on it).
VM_PLUGIN_DIR := tests/build/vm-plugins
$(VM_PLUGIN_DIR)/handler_%.so: tests/vm/plugins/handler_%.c tcmu-runner.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -I. -shared -o $@ $<
$(VM_PLUGIN_DIR)/handler_file.so: handler_file.so
	@mkdir -p $(@D)
	ln -sf ../../../handler_file.so $@
VM_PLUGINS := $(VM_PLUGIN_DIR)/handler_slowcheck.so $(VM_PLUGIN_DIR)/handler_hang.so \
	      $(VM_PLUGIN_DIR)/handler_outage.so \
	      $(VM_PLUGIN_DIR)/handler_file.so

.PHONY: deps check-vm demo vm-clean
deps:
	@scripts/install-deps.sh

# deps first, in its own step: pkg-config can only answer once the -dev
# packages are there.
check-vm: deps
	$(MAKE) all tests/build/broken/handler_file.so $(VM_PLUGINS)
	$(MAKE) --no-print-directory $(DEB_STAMP) || \
		echo "check-vm: the Debian packages were not built; test_systemd.sh will fail"
	tests/vm/run-all.sh $(VM_TESTS)

demo: deps
	$(MAKE) all
	tests/vm/run-vm.sh tests/vm/demo.sh

vm-clean:
	rm -rf tests/vm/results tests/build/broken $(VM_PLUGIN_DIR)

# Figures, never pass/fail, without the kernel: tcmu-sim bench with the
# null and file handlers, and callgrind's instructions per command.
.PHONY: bench-host
bench-host: deps
	$(MAKE) all
	tests/bench/bench_host.sh

# Figures, never pass/fail (tests/vm/bench.sh): our user:file LUN against
# the kernel's fileio backstore on the same tmpfs in one boot, interleaved
# over TCMU_BENCH_ROUNDS (3) rounds of TCMU_BENCH_SECS (5) s per fio run:
# 4 KiB random read/write at qd 1/16/64, 1 MiB sequential at qd 4, 70/30
# mix on one LUN and on four; medians, ratio ours/kernel with its spread,
# daemon CPU per I/O, threads per LUN, RSS with 16 LUNs; also
# $results/bench.json. TCMU_BENCH_PEER=1 adds Debian's tcmu-runner (qcow).
# About 15 min under TCG, most of it fio (60 runs) and targetcli (~35
# calls); hence the longer VM time-out. Then tests/vm/bench_qcow.sh in a
# boot of its own (about 6 min): our qcow handler beside our file handler
# on raw and, with TCMU_BENCH_PEER=1, beside Debian's qcow handler on the
# same image. Then tests/vm/bench_rbd.sh (about 8 min): our rbd handler
# through the kernel beside Debian's on the same image of a Ceph cluster
# inside the guest. bench-qcow and bench-rbd run those parts alone.
.PHONY: bench bench-qcow bench-rbd
bench: deps
	$(MAKE) all
	TCMU_VM_TIMEOUT=$${TCMU_VM_TIMEOUT:-2400} tests/vm/run-vm.sh tests/vm/bench.sh
	TCMU_VM_MEM=3072 tests/vm/run-vm.sh tests/vm/bench_qcow.sh
	TCMU_VM_MEM=4096 tests/vm/run-vm.sh tests/vm/bench_rbd.sh
bench-qcow: deps
	$(MAKE) all
	TCMU_VM_MEM=3072 tests/vm/run-vm.sh tests/vm/bench_qcow.sh
bench-rbd: deps
	$(MAKE) all
	TCMU_VM_MEM=4096 tests/vm/run-vm.sh tests/vm/bench_rbd.sh
