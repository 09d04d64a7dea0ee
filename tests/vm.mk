# Real-kernel tests: Debian's kernel under QEMU (tests/vm/run-vm.sh).
# Included from the top-level Makefile; paths are relative to the top.

VM_TESTS := tests/vm/test_core.sh tests/vm/test_sbc.sh

# The deliberately broken handler make check-vm must catch.
tests/build/broken/handler_file.so: tests/vm/broken/handler_file_corrupt.c handler_file.c tcmu-runner.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared -o $@ $<

.PHONY: deps check-vm demo vm-clean
deps:
	@scripts/install-deps.sh

# deps first, in its own step: pkg-config can only answer once the -dev
# packages are there.
check-vm: deps
	$(MAKE) all tests/build/broken/handler_file.so
	tests/vm/run-all.sh $(VM_TESTS)

demo: deps
	$(MAKE) all
	tests/vm/run-vm.sh tests/vm/demo.sh

vm-clean:
	rm -rf tests/vm/results tests/build/broken

# Figures, never pass/fail: 4 KiB random IOPS, ours against the kernel's
# fileio backstore on the same tmpfs in one boot (TCMU_BENCH_SECS each).
.PHONY: bench
bench: deps
	$(MAKE) all
	tests/vm/run-vm.sh tests/vm/bench.sh
