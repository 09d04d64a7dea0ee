include tests/unit.mk
include tests/vm.mk

.PHONY: check check-host
check-host: all
	tests/host/test_service_files.sh

# Everything, with one total line at the end; deps first, in its own
# step, since pkg-config answers only once the -dev packages are there.
check: deps
	$(MAKE) all
	tests/run-check.sh

tests-clean: vm-clean
