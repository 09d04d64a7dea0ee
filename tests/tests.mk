include tests/unit.mk
include tests/vm.mk

.PHONY: check
# Host tests first (seconds), then the real kernel (minutes).
check: deps
	$(MAKE) all
	$(MAKE) check-unit
	$(MAKE) check-vm

tests-clean: vm-clean
