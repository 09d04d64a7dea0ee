# tcmu-runner: a plain Makefile; dependencies come from pkg-config.
# `make` builds the daemon, libtcmu and the handlers in this directory.
# See README.md for the check, demo and install targets.

VERSION    := 0.1.0
PREFIX     ?= /usr
LIBDIR     ?= $(PREFIX)/lib
HANDLERDIR ?= $(PREFIX)/lib/tcmu-runner
DESTDIR    ?=

CC      ?= gcc
PKGS    := libnl-genl-3.0 gio-2.0 gio-unix-2.0 libkmod
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS  ?= -O2 -g
CFLAGS  += $(WARN) -std=gnu11 -fPIC $(PKG_CFLAGS) \
	   -DTCMUR_VERSION=\"$(VERSION)\" -DDEFAULT_HANDLER_PATH=\"$(HANDLERDIR)\"
LDLIBS  += $(PKG_LIBS) -lpthread -ldl

LIBTCMU_OBJS := ring.o uio.o netlink.o recover.o scsi_sense.o
CORE_OBJS    := api.o device.o dev_io.o io_queue.o handler_loader.o log.o \
		scsi_emulate.o scsi_table.o scsi_inquiry.o scsi_mode.o \
		scsi_verify.o scsi_provision.o scsi_opcodes.o scsi_alua.o alua_groups.o scsi_xcopy.o xcopy_status.o \
		dev_registry.o dev_ua.o dev_durable.o dev_seq.o dev_watch.o dev_tmr.o dev_stats.o \
		log_sink.o log_limit.o
DAEMON_OBJS  := main.o fd_limit.o daemon_devices.o daemon_stop.o dev_reaping.o store_key.o dev_filter.o dbus_service.o dbus_gen.o module_load.o \
		change_medium.o config.o config_live.o status_cmd.o status_fmt.o \
		dev_tunables.o
SIM_OBJS     := tcmu_sim.o sim_check.o sim_bench.o sim_device.o ring_sim.o
HANDLERS     := handler_file.so handler_null.so

# handler_qcow.so only where zlib's header is. QCOW=0 skips it.
QCOW_SRCS := handler_qcow.c qcow2_header.c qcow2_cache.c qcow2_cluster.c \
	     qcow2_refcount.c qcow2_reftable.c qcow2_repair.c qcow2_data.c image_lock.c
ifneq ($(QCOW),0)
ifneq ($(shell echo '\#include <zlib.h>' | $(CC) -E -x c - >/dev/null 2>&1 && echo y),)
HANDLERS     += handler_qcow.so
endif
endif

# handler_rbd.so only where librbd is: pkg-config if it knows librbd, else
# its header (Debian's librbd-dev 16.2 ships no librbd.pc). RBD=0 skips it.
RBD_LIBS := $(shell pkg-config --libs librbd librados 2>/dev/null || \
	      { echo '\#include <rbd/librbd.h>' | $(CC) -E -x c - >/dev/null 2>&1 && \
		echo -lrbd -lrados; })
ifneq ($(RBD),0)
ifneq ($(RBD_LIBS),)
HANDLERS     += handler_rbd.so
endif
endif

# handler_glfs.so only where gfapi is (pkg-config glusterfs-api, from
# libglusterfs-dev). GLFS=0 skips it.
GLFS_LIBS := $(shell pkg-config --libs glusterfs-api 2>/dev/null)
ifneq ($(GLFS),0)
ifneq ($(GLFS_LIBS),)
HANDLERS     += handler_glfs.so
endif
endif

.PHONY: all clean install
all: libtcmu.so.1 libtcmu.a tcmu-runner tcmu-sim $(HANDLERS)

dbus_gen.c dbus_gen.h &: org.kernel.TCMUService1.xml
	gdbus-codegen --interface-prefix org.kernel. --c-namespace Tcmu \
		--generate-c-code dbus_gen --c-generate-object-manager $<

dbus_gen.o: CFLAGS += -Wno-unused-parameter
dbus_service.o status_cmd.o: dbus_gen.h

libtcmu.a: $(LIBTCMU_OBJS)
	$(AR) rcs $@ $^

libtcmu.so.1: $(LIBTCMU_OBJS)
	$(CC) -shared -Wl,-soname,libtcmu.so.1 $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread
	ln -sf libtcmu.so.1 libtcmu.so

# -rdynamic: handlers call the daemon's API (tcmu-runner.h) at run time.
tcmu-runner: $(DAEMON_OBJS) $(CORE_OBJS) libtcmu.a
	$(CC) -rdynamic -o $@ $^ $(LDFLAGS) $(LDLIBS)

# tcmu-sim: handlers on a simulated ring, no kernel (tcmu_sim.h).
tcmu-sim: $(SIM_OBJS) $(CORE_OBJS) libtcmu.a
	$(CC) -rdynamic -o $@ $^ $(LDFLAGS) $(LDLIBS)

handler_%.so: handler_%.c tcmu-runner.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared $(LDFLAGS) -o $@ $<

# QEMU's image locks (image_lock.h), built into both handlers that serve images.
handler_file.so: handler_file.c image_lock.c image_lock.h tcmu-runner.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared $(LDFLAGS) -o $@ handler_file.c image_lock.c

handler_qcow.so: $(QCOW_SRCS) qcow2.h image_lock.h tcmu-runner.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared $(LDFLAGS) -o $@ $(QCOW_SRCS) -lz -lpthread

# rbd_service.c: the Ceph service map (ceph -s, ceph-iscsi, the dashboard).
RBD_SRCS := handler_rbd.c rbd_service.c
handler_rbd.so: $(RBD_SRCS) rbd_service.h scsi_defs.h tcmu-runner.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell pkg-config --cflags librbd librados 2>/dev/null) \
		-shared $(LDFLAGS) -o $@ $(RBD_SRCS) $(RBD_LIBS) -lpthread

# -z nodelete: a detached glfs_fini may still run in it after dlclose.
GLFS_SRCS := handler_glfs.c glfs_cfg.c glfs_conn.c glfs_ping.c
handler_glfs.so: $(GLFS_SRCS) glfs_cfg.h glfs_conn.h glfs_ping.h tcmu-runner.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell pkg-config --cflags glusterfs-api 2>/dev/null) \
		-shared -Wl,-z,nodelete $(LDFLAGS) -o $@ $(GLFS_SRCS) $(GLFS_LIBS) -lpthread

%.o: %.c $(wildcard *.h)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

include tests/tests.mk

clean: tests-clean
	rm -f *.o *.so *.so.1 *.a tcmu-runner tcmu-sim dbus_gen.c dbus_gen.h

# Where Debian expects each piece; DESTDIR and PREFIX as usual.
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DBUSDIR    ?= $(PREFIX)/share/dbus-1
SYSCONFDIR ?= /etc
DOCDIR     ?= $(PREFIX)/share/doc/tcmu-runner
install: all
	install -D -m 755 tcmu-runner $(DESTDIR)$(PREFIX)/bin/tcmu-runner
	install -m 755 tcmu-sim $(DESTDIR)$(PREFIX)/bin/tcmu-sim
	install -d $(DESTDIR)$(HANDLERDIR)
	install -m 755 $(HANDLERS) $(DESTDIR)$(HANDLERDIR)/
	install -D -m 755 libtcmu.so.1 $(DESTDIR)$(LIBDIR)/libtcmu.so.1
	ln -sf libtcmu.so.1 $(DESTDIR)$(LIBDIR)/libtcmu.so
	install -m 644 libtcmu.a $(DESTDIR)$(LIBDIR)/
	install -D -m 644 libtcmu.h $(DESTDIR)$(PREFIX)/include/libtcmu.h
	install -m 644 tcmu-runner.h scsi_defs.h $(DESTDIR)$(PREFIX)/include/
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@VERSION@|$(VERSION)|' \
		libtcmu.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libtcmu.pc
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/bin/tcmu-runner|$(PREFIX)/bin/tcmu-runner|' tcmu-runner.service \
		> $(DESTDIR)$(UNITDIR)/tcmu-runner.service
	install -D -m 644 org.kernel.TCMUService1.conf \
		$(DESTDIR)$(DBUSDIR)/system.d/org.kernel.TCMUService1.conf
	install -d $(DESTDIR)$(DBUSDIR)/system-services
	sed -e 's|/usr/bin/tcmu-runner|$(PREFIX)/bin/tcmu-runner|' org.kernel.TCMUService1.service \
		> $(DESTDIR)$(DBUSDIR)/system-services/org.kernel.TCMUService1.service
	install -D -m 644 tcmu-runner.8 $(DESTDIR)$(PREFIX)/share/man/man8/tcmu-runner.8
	install -D -m 644 tcmu.conf $(DESTDIR)$(DOCDIR)/tcmu.conf.example
	# The example as the configuration, unless the admin has one.
	[ -e $(DESTDIR)$(SYSCONFDIR)/tcmu/tcmu.conf ] || \
		install -D -m 644 tcmu.conf $(DESTDIR)$(SYSCONFDIR)/tcmu/tcmu.conf
	install -D -m 644 tcmu-sim.1 $(DESTDIR)$(PREFIX)/share/man/man1/tcmu-sim.1

# An external handler process built on libtcmu (see its header comment).
examples/ext_handler_ram: examples/ext_handler_ram.c dbus_gen.o libtcmu.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
all: examples/ext_handler_ram

# The command table, printed from the code itself (README, sg_opcodes test).
tests/build/scsi_table_dump: tests/tools/scsi_table_dump.c $(CORE_OBJS) libtcmu.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -I. -o $@ $^ $(LDLIBS)
all: tests/build/scsi_table_dump

# Rewrite README.md's SCSI table between its markers from the code.
.PHONY: readme-table
readme-table: tests/build/scsi_table_dump
	tests/tools/readme_table.sh update

# Random data through a handler on the simulated ring (host tests).
tests/build/sim_pattern: tests/tools/sim_pattern.c sim_device.o ring_sim.o $(CORE_OBJS) libtcmu.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -rdynamic -I. -o $@ $^ $(LDLIBS)
all: tests/build/sim_pattern

# A device held open and driven from stdin (host tests).
tests/build/sim_hold: tests/tools/sim_hold.c sim_device.o ring_sim.o $(CORE_OBJS) libtcmu.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -rdynamic -I. -o $@ $^ $(LDLIBS)
all: tests/build/sim_hold

# A gfapi reader and the write-behind probe (tests/host/test_glfs.sh).
tests/build/glfs_tool: tests/tools/glfs_tool.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags glusterfs-api 2>/dev/null) -o $@ $< \
		$(GLFS_LIBS)
