include tests/unit.mk
include tests/vm.mk

.PHONY: check check-host check-sim
check-host: all
	tests/host/test_service_files.sh

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

# handler_rbd against a real single-node Ceph cluster started and torn
# down here (needs ceph-mon, ceph-mgr, ceph-osd, librbd-dev; about 1 min).
# Not in `make check` yet (issue 19).
.PHONY: check-rbd
check-rbd: all
	tests/host/test_rbd.sh

# handler_glfs against a real one-brick GlusterFS volume started and torn
# down here (needs glusterfs-server, libglusterfs-dev; about 2 min). Not
# in `make check`; on a shared machine run it under flock /work/heavy.lock.
.PHONY: check-glfs
check-glfs: all $(if $(GLFS_LIBS),tests/build/glfs_tool)
	tests/host/test_glfs.sh

# Everything, with one total line at the end; deps first, in its own
# step, since pkg-config answers only once the -dev packages are there.
check: deps
	$(MAKE) all
	tests/run-check.sh

tests-clean: vm-clean
	rm -rf $(SIM_PLUGIN_DIR)
