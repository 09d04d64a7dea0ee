# tests/unit.mk: host tests, included from tests/tests.mk.
#
#   make check-unit      cmocka tests on the ring simulator (tests/unit/),
#                        plus a replay of every fuzz corpus file; ends with
#                        "N passed, N failed"
#   make check-sanitize  the same, built with ASan+UBSan (leak checks on)
#   make check-tsan      the same, built with ThreadSanitizer (clang); a
#                        data race fails the binary (halt_on_error)
#   make fuzz            libFuzzer targets (tests/fuzz/), FUZZ_SECONDS each
#                        (FUZZ_TARGETS=fuzz_qcow2: that one alone)
#   make fuzz-smoke      the same, 10 s each (part of `make check`)
#
# Everything is built under tests/build/<variant>/ from the core sources,
# with the tests' own flags, so nothing clashes with the top-level objects.

UNIT_VARIANT ?= unit
UB := tests/build/$(UNIT_VARIANT)

UNIT_CORE := ring uio netlink recover scsi_sense api device dev_io io_queue handler_loader \
	     log scsi_emulate scsi_table scsi_inquiry scsi_mode scsi_verify \
	     scsi_provision scsi_opcodes scsi_alua alua_groups scsi_xcopy xcopy_status dev_registry dev_ua dev_durable \
	     dev_seq dev_watch dev_tmr dev_stats log_sink log_limit ring_sim sim_device \
	     config config_live status_fmt dev_tunables
UNIT_SUPPORT := tests/unit/sim_dev tests/unit/mem_handler \
		tests/unit/fake_cfgfs \
		tests/unit/quiet_log tests/unit/log_capture tests/unit/qcow_fixture \
		tests/unit/qcow_same tests/unit/crash_replay tests/unit/crash_run \
		handler_file image_lock dev_filter fd_limit daemon_devices daemon_stop dev_reaping store_key dbus_service dbus_gen change_medium
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
# test_rbd_service needs librados's and librbd's headers (not the libraries).
ifeq ($(RBD_LIBS),)
UNIT_TESTS := $(filter-out test_rbd_service,$(UNIT_TESTS))
endif
UNIT_PLUGINS := $(patsubst tests/unit/plugins/%.c,%,$(wildcard tests/unit/plugins/*.c))
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

UNIT_PKGS := libnl-genl-3.0 gio-2.0 libkmod cmocka
UNIT_PKG_CFLAGS = $(shell pkg-config --cflags $(UNIT_PKGS) 2>/dev/null)
UNIT_PKG_LIBS = $(shell pkg-config --libs $(UNIT_PKGS) 2>/dev/null)
UNIT_WARN := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
UNIT_DEFS := -DUNIT_BUILD_DIR=\"$(UB)\"
UNIT_HDRS := $(wildcard *.h tests/unit/*.h)

ifeq ($(UNIT_VARIANT),asan)
UNIT_CC := $(CC)
UNIT_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer \
	    -fno-sanitize-recover=undefined
UNIT_OPT := -O1 -g
# Fewer power-loss crash points under the sanitizers (test_*_powerloss:
# 16 a workload otherwise), to stay inside run.sh's 120 s on a loaded
# machine: the plain build does the search, these look for memory and
# thread errors on the way.
UNIT_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1 \
	    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 CRASH_POINTS=8
else ifeq ($(UNIT_VARIANT),tsan)
UNIT_CC := clang
UNIT_SAN := -fsanitize=thread -fno-omit-frame-pointer
UNIT_OPT := -O1 -g
UNIT_ENV := TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 \
	    suppressions=$(CURDIR)/tests/unit/tsan.supp" CRASH_POINTS=5
else
UNIT_CC := $(CC)
UNIT_SAN :=
UNIT_OPT := -O2 -g
UNIT_ENV :=
endif
UNIT_CFLAGS = $(UNIT_OPT) $(UNIT_SAN) -std=gnu11 -fPIC $(UNIT_WARN) -I. -Itests/unit \
	       $(UNIT_PKG_CFLAGS) $(UNIT_DEFS)
UNIT_LIBS = $(UNIT_PKG_LIBS) -lpthread -ldl

UNIT_CORE_OBJS := $(UNIT_CORE:%=$(UB)/%.o)
UNIT_BINS := $(UNIT_TESTS:%=$(UB)/%) $(FUZZ_TARGETS:%=$(UB)/replay_%)
UNIT_PLUGIN_SOS := $(UNIT_PLUGINS:%=$(UB)/plugins/handler_%.so) $(UB)/handler_file.so \
		   $(UB)/handler_qcow.so

# Objects are kept between runs (make would delete them as intermediates).
.PRECIOUS: $(UB)/%.o $(UB)/tests/unit/%.o $(UB)/tests/fuzz/%.o \
	   tests/build/fuzz/%.o tests/build/fuzz/tests/fuzz/%.o

.PHONY: check-unit check-sanitize check-tsan unit-build fuzz fuzz-smoke fuzz-build fuzz-seeds unit-clean

check-unit: unit-build
	@$(UNIT_ENV) tests/unit/run.sh $(UNIT_BINS)

check-sanitize:
	@$(MAKE) --no-print-directory check-unit UNIT_VARIANT=asan

check-tsan:
	@$(MAKE) --no-print-directory check-unit UNIT_VARIANT=tsan

unit-build: $(UNIT_BINS) $(UNIT_PLUGIN_SOS)

$(UB)/%.o: %.c $(UNIT_HDRS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) -c -o $@ $<

# Generated: not in UNIT_HDRS's wildcard on a fresh clone, so named.
$(UB)/dbus_service.o: dbus_gen.h

$(UB)/libsupport.a: $(UNIT_SUPPORT:%=$(UB)/%.o)
	$(AR) rcs $@ $^

# -rdynamic: plugins call the daemon's API. The file handler's preadv2,
# pwritev2 and fdatasync go through tests/unit/file_spy.c, which counts
# them (and shortens or fails them when a test asks).
UNIT_SPY_LD := -Wl,--wrap=preadv2 -Wl,--wrap=pwritev2 -Wl,--wrap=fdatasync
$(UB)/test_%: $(UB)/tests/unit/test_%.o $(UNIT_CORE_OBJS) $(UB)/libsupport.a \
	      $(UB)/tests/unit/file_spy.o
	$(UNIT_CC) $(UNIT_SAN) -rdynamic $(UNIT_SPY_LD) -o $@ $< $(UNIT_CORE_OBJS) \
		$(UB)/libsupport.a $(UB)/tests/unit/file_spy.o \
		$(filter %/crash_log.o,$^) $(UNIT_LIBS)

# The power-loss tests log every write and sync of the handlers
# (crash_log.c defines pwrite, fdatasync, ... itself, for the whole
# binary): linked into those alone.
$(filter %_powerloss,$(UNIT_BINS)): $(UB)/tests/unit/crash_log.o

$(UB)/test_handler_loader: $(UNIT_PLUGIN_SOS)
# Holds open the window between "aborted?" and the handler call.
$(UB)/test_io_abort_window: UNIT_SPY_LD += -Wl,--wrap=dev_durable_refuses
# rbd_service.c compiled in, against fakes of librados and librbd: no
# daemon core, no cluster libraries.
$(UB)/tests/unit/test_rbd_service.o: rbd_service.c
$(UB)/test_rbd_service: $(UB)/tests/unit/test_rbd_service.o
	$(UNIT_CC) $(UNIT_SAN) -o $@ $< $(UNIT_LIBS)

# handler_glfs's gfapi-free parts, compiled into their tests.
$(UB)/tests/unit/test_glfs_cfg.o: glfs_cfg.c glfs_ping.c
$(UB)/tests/unit/test_glfs_ping.o: glfs_ping.c

# A fuzz target's input function plus a main that replays its corpus.
$(UB)/replay_%: $(UB)/tests/fuzz/%.o $(UB)/tests/fuzz/replay_main.o $(UNIT_CORE_OBJS) \
		$(UB)/libsupport.a
	$(UNIT_CC) $(UNIT_SAN) -rdynamic -o $@ $(filter %.o,$^) $(UB)/libsupport.a $(UNIT_LIBS)

# `make fuzz-seeds` rewrites the committed seed inputs (tests/fuzz/corpus/);
# fuzz_qcow2's images come from qemu-img and qemu-io.
fuzz-seeds: $(UB)/seeds_gen
	$(UB)/seeds_gen

$(UB)/seeds_gen: $(UB)/tests/fuzz/seeds_gen.o $(UNIT_CORE_OBJS) $(UB)/libsupport.a
	$(UNIT_CC) $(UNIT_SAN) -o $@ $< $(UNIT_CORE_OBJS) $(UB)/libsupport.a $(UNIT_LIBS)

$(UB)/tests/fuzz/replay_main.o: UNIT_CFLAGS += -DREPLAY_CORPUS_ROOT=\"tests/fuzz/corpus\"

$(UB)/plugins/handler_%.so: tests/unit/plugins/%.c tcmu-runner.h
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) -shared -o $@ $<

$(UB)/handler_file.so: handler_file.c image_lock.c image_lock.h tcmu-runner.h
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) -shared -o $@ handler_file.c image_lock.c

# handler_qcow.so: the qcow2 sources, with the tests' flags (sanitizers).
$(UB)/handler_qcow.so: $(QCOW_SRCS) qcow2.h image_lock.h tcmu-runner.h
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) -shared -o $@ $(QCOW_SRCS) -lz -lpthread

# The qcow tests load it (tests/unit/qcow_fixture.c) and need QEMU's tools.
$(filter $(UB)/test_qcow_%,$(UNIT_BINS)): $(UB)/handler_qcow.so

# fuzz_qcow2 (and its replay) link the qcow2 format code itself, without
# handler_qcow.c (whose handler table would clash with handler_file's).
QCOW2_FMT := $(patsubst %.c,%,$(filter-out handler_qcow.c,$(QCOW_SRCS)))
$(UB)/replay_fuzz_qcow2: $(QCOW2_FMT:%=$(UB)/%.o)
$(UB)/replay_fuzz_qcow2: UNIT_LIBS += -lz

# ---- libFuzzer ------------------------------------------------------------

FB := tests/build/fuzz
FUZZ_CC := clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer -std=gnu11 -fPIC -I. -Itests/unit \
	       $(UNIT_PKG_CFLAGS) -DUNIT_BUILD_DIR=\"$(FB)\" -Wno-unused-parameter \
	       -fsanitize=address,undefined -fno-sanitize-recover=undefined
# The power-loss simulator's replay needs crash_log.o's interposers,
# which a fuzzer must not carry: it leaves the simulator out.
FUZZ_OBJS := $(UNIT_CORE:%=$(FB)/%.o) \
	     $(patsubst %,$(FB)/%.o,$(filter-out tests/unit/crash_%,$(UNIT_SUPPORT)))

fuzz-build: $(FUZZ_TARGETS:%=$(FB)/%)

fuzz: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@tests/fuzz/run.sh 10 $(FUZZ_TARGETS)

$(FB)/%.o: %.c $(UNIT_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FB)/fuzz_%: $(FB)/tests/fuzz/fuzz_%.o $(FUZZ_OBJS)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(UNIT_LIBS)

$(FB)/fuzz_qcow2: $(QCOW2_FMT:%=$(FB)/%.o)
$(FB)/fuzz_qcow2: UNIT_LIBS += -lz

# ----------------------------------------------------------------------------

tests-clean: unit-clean
unit-clean:
	rm -rf tests/build/unit tests/build/asan tests/build/tsan tests/build/fuzz
