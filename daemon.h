/*
 * The daemon's state, made in main() and passed down: no globals.
 * Everything here is touched on the main thread only (netlink, DBus and
 * signals all run in its GLib main loop).
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include <glib.h>

#include "config_live.h"
#include "dev_filter.h"
#include "dev_reaping.h"
#include "dev_registry.h"
#include "device.h"
#include "handler_loader.h"
#include "libtcmu.h"
#include "log.h"

struct dbus_service;

struct tcmur_daemon {
	struct log_cfg log;
	struct config_live config;	/* the configuration file, applied */
	struct tcmu_logger logger;
	const char *handler_path;
	const char *cfgfs_root;		/* NULL: /sys/kernel/config (tests: a fake) */
	struct handler_set handlers;
	struct dev_filter filter;	/* --devices: which devices are ours */
	GHashTable *devices;		/* uio minor -> struct tcmur_device * */
	/* Opens and maps a device's /dev/uioN (NULL: tcmu_uio_open); a test
	 * hands out a ring simulator's fd and map. The device owns them
	 * once served (tcmu_uio_close). */
	int (*uio_open)(void *opaque, const struct tcmu_dev_info *info, int *fd,
			void **map, size_t *map_size);
	void *uio_opaque;
	struct dev_registry registry;	/* the same devices, for any thread */
	struct tcmu_nl *nl;
	GMainLoop *loop;
	struct dbus_service *dbus;
	int exit_code;
	/* Devices dev_free left to their own thread (a command still with
	 * the handler), not yet freed, and the stores they hold: any
	 * thread (dev_reaping.h). */
	struct dev_reaping reaping;
};

/* Netlink callbacks for the daemon (opaque is the daemon). */
extern const struct tcmu_nl_ops daemon_nl_ops;

/* Serve a device the kernel has; 0 or -errno (logged with the reason):
 * -EBUSY while a removed device that still has commands with its
 * handler holds the same backing store (store_key.h), until it is freed.
 * @recover: found at start, maybe left by a daemon that died: block it
 * and reset its ring first (tcmu_recover_dev). */
int daemon_dev_add(struct tcmur_daemon *d, const struct tcmu_dev_info *info, bool recover);
/* The device table, the registry and the removed devices' list, empty;
 * daemon_dev_fini frees them (daemon_free_base calls it). */
void daemon_dev_init(struct tcmur_daemon *d);
void daemon_dev_fini(struct tcmur_daemon *d);
/* Serve every TCMU device already present, recovered; returns how many. */
int daemon_dev_scan(struct tcmur_daemon *d);
/* Close every device (the kernel keeps them; a restart picks them up). */
void daemon_dev_close_all(struct tcmur_daemon *d);
/* Devices closed whose own thread has not yet freed them. Any thread. */
unsigned int daemon_dev_reaping(const struct tcmur_daemon *d);
/*
 * Serve @info on its open, mapped /dev/uioN (@fd, @map: the device owns
 * them once served), with handler @h; 0 or -errno, logged (-EBUSY: see
 * daemon_dev_add). @recovered: a device found at start, which a daemon
 * served before; the unit attentions and ALUA states that daemon kept
 * are lost, so it reports POWER ON, RESET, OR BUS DEVICE RESET OCCURRED
 * (29/00) once, as a target does after a reset. daemon_dev_add's last
 * step, for a test on the ring simulator.
 */
int daemon_dev_serve(struct tcmur_daemon *d, const struct tcmu_dev_info *info,
		     const struct handler *h, int fd, void *map, size_t map_size,
		     bool recovered);

/* How long a stopping daemon waits for handlers to give back commands. */
#define DAEMON_EXIT_WAIT_MS 10000
/*
 * After the main loop (daemon_stop.c): stop answering the kernel, close
 * every device, free the bus and netlink; wait up to @wait_ms for the
 * devices still freeing themselves (a command with a handler that hangs),
 * then free the handlers and what main() made (daemon_free_base), the
 * log sink last. True once all is freed. False: some device's thread may
 * still call its handler and log, so both are kept (logged); the caller
 * leaves with _exit, or calls again once daemon_dev_reaping() is 0.
 */
bool daemon_stop(struct tcmur_daemon *d, int wait_ms);
/* The device tables (daemon_dev_fini) and the configuration with the
 * log sink: what main() made before run(). */
void daemon_free_base(struct tcmur_daemon *d);

#endif
