include tests/unit.mk
include tests/vm.mk

.PHONY: check check-host check-sim
check-host: all
	tests/host/test_service_files.sh
	tests/host/test_first_contact.sh
	tests/host/test_image_locks.sh

# tcmu-sim against the file handler and handlers broken on purpose.
SIM_PLUGIN_DIR := tests/build/sim-plugins
SIM_PLUGINS := $(patsubst tests/sim/plugins/%.c,$(SIM_PLUGIN_DIR)/handler_%.so,\
		 $(wildcard tests/sim/plugins/*.c))
$(SIM_PLUGIN_DIR)/handler_%.so: tests/sim/plugins/%.c tcmu-runner.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -I. -shared -o $@ $< -lpthread
sim-test-build: all $(SIM_PLUGINS) tests/build/broken/handler_file.so \
		tests/build/unit/plugins/handler_api2.so
check-sim: sim-test-build
	tests/host/test_tcmu_sim.sh

# The Debian packages (debian/) built in a scratch copy of the tree, then
# judged by lintian and by their contents and Depends; never installed on
# the host. About 25 s on 2 cores; needs debhelper and lintian (make
# deps); make check runs it as a stage of its own. The packages stay in
# $(DEB_DIR), where the systemd guest (tests/vm/test_systemd.sh) installs
# them; $(DEB_STAMP) says they were judged and are newer than every
# tracked file, else check-vm builds them again.
DEB_DIR := tests/build/deb
DEB_STAMP := $(DEB_DIR)/.judged
.PHONY: check-deb
check-deb:
	rm -f $(DEB_STAMP)
	$(MAKE) --no-print-directory $(DEB_STAMP)
$(DEB_STAMP): $(wildcard $(shell git ls-files -co --exclude-standard 2>/dev/null))
	TCMU_DEB_KEEP=$(DEB_DIR) tests/host/test_debian_package.sh
	touch $@

# handler_rbd against a real single-node Ceph cluster (tests/cluster/
# ceph.sh), started and torn down by each part: on the host through
# tcmu-sim (about 2 min), then inside a real-kernel guest through a LUN
# (about 6 min). Each part ends "N passed, N failed"; make check runs
# them as two stages.
.PHONY: check-rbd check-rbd-host check-rbd-vm
check-rbd-host: deps
	$(MAKE) all
	tests/host/test_rbd.sh
check-rbd-vm: deps
	$(MAKE) all
	TCMU_VM_HANG_CHECK=0 tests/vm/run-all.sh tests/vm/test_rbd.sh
check-rbd: check-rbd-host check-rbd-vm

# handler_glfs against a real one-brick GlusterFS volume (tests/cluster/
# gluster.sh), started and torn down by each part: on the host through
# tcmu-sim (about 2 min), then inside a real-kernel guest through a LUN
# (about 5 min); make check runs them as two stages.
.PHONY: check-glfs check-glfs-host check-glfs-vm
check-glfs-host: deps
	$(MAKE) all tests/build/glfs_tool
	tests/host/test_glfs.sh
check-glfs-vm: deps
	$(MAKE) all tests/build/glfs_tool
	TCMU_VM_HANG_CHECK=0 tests/vm/run-all.sh tests/vm/test_glfs.sh
check-glfs: check-glfs-host check-glfs-vm

# Everything, with one total line at the end; deps first, in its own
# step, since pkg-config answers only once the -dev packages are there.
check: deps
	$(MAKE) all
	tests/run-check.sh

tests-clean: vm-clean
	rm -rf $(SIM_PLUGIN_DIR)
