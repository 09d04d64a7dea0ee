/*
 * Devices coming and going: the netlink callbacks and the start-up scan.
 * A device the scan finds may have been served by a daemon that died:
 * it is taken over through tcmu_recover_dev (recover.c), which blocks it
 * and resets its ring before we open it, so that nothing the old daemon
 * left in the ring runs again. A device an ADDED event brings is new.
 * A device --devices leaves out (dev_filter.h) is another daemon's: its
 * events are TCMU_NL_NOT_MINE (no answer: that daemon answers the
 * kernel) and its /dev/uioN is never opened, not even by the scan.
 *
 * A REMOVED may never come: a netlink reset (recover.c) fails the event
 * in the kernel, which removes the device all the same. Its uio then
 * reports a hang-up, and the device is dropped (dev_is_gone). The kernel
 * gives its minor to the next device made, so an event is matched to
 * the device we hold by identity (dev_is_same), never by minor alone: an
 * ADDED naming another device drops ours, however late we would have
 * noticed, and serves the new one; a REMOVED or RECONFIG naming another
 * is not for ours.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "change_medium.h"
#include "dbus_service.h"
#include "dev_tunables.h"
#include "dev_ua.h"
#include "fd_limit.h"
#include "scsi_defs.h"

/* A failed device is restarted this often, a second apart, then left
 * failed (on the bus and in the log) for the admin. */
#define DEV_MAX_RESTARTS 3
/* A handler that asked to be reopened (tcmur_dev_reopen) and could not
 * be is tried again every this many seconds, for as long as it takes. */
#define DEV_REOPEN_RETRY_S 5

/* The kernel's defaults for attributes it might not show (user backstore). */
#define DEFAULT_BLOCK_SIZE 512
#define DEFAULT_MAX_SECTORS 128
/*
 * The kernel does not hold a user backstore's commands to hw_max_sectors
 * (it passes them through); only its data area bounds one. Left at the
 * kernel's default of 128 blocks (64 KiB at 512 bytes), it would have the
 * initiator cut a 1 MiB I/O into 16 commands, so a default means "unset":
 * the LUN then takes what the kernel's own fileio backstore takes (8 MiB)
 * or a quarter of the data area (max_data_area_mb), whichever is less.
 * Any other hw_max_sectors is the admin's choice and is kept, up to what
 * the data area holds: the kernel refuses a command larger than that
 * (queue_cmd_ring: INVALID FIELD IN CDB), so an initiator sending the
 * maximum we report must find it fits.
 */
#define DEFAULT_MAX_XFER_BYTES (8u << 20)

/* @attr, or @dflt where the kernel does not show it; another error (a
 * descriptor limit reached, say) kept in *@err if none is yet: a device
 * must not be served on defaults that may be wrong (its block size). */
static uint64_t cfgfs_u64(const struct tcmu_dev_info *info, const char *root,
			  const char *attr, uint64_t dflt, int *err)
{
	uint64_t v;
	int e = tcmu_cfgfs_read_u64(info, root, attr, &v);

	if (!e)
		return v;
	if (e != -ENOENT && !*err)
		*err = e;
	return dflt;
}

static uint32_t max_xfer_blocks(const struct tcmu_dev_info *info, const char *root,
				uint32_t block_size, int *err)
{
	uint64_t hw = cfgfs_u64(info, root, "attrib/hw_max_sectors", DEFAULT_MAX_SECTORS,
				err);
	uint64_t area = cfgfs_u64(info, root, "attrib/max_data_area_mb", 0, err) << 20;
	uint64_t bytes = DEFAULT_MAX_XFER_BYTES;

	if (!block_size)
		return hw;
	if (hw != DEFAULT_MAX_SECTORS)
		return area && hw > area / block_size ? area / block_size : hw;
	if (area && area / 4 < bytes)
		bytes = area / 4;
	return bytes / block_size > hw ? bytes / block_size : hw;
}

/* The device's attributes from configfs; 0, or the first error other
 * than an attribute missing. */
static int dev_params_read(const struct tcmu_dev_info *info, const char *root,
			   struct dev_params *p)
{
	int err = 0;

	memset(p, 0, sizeof(*p));
	p->cfgfs_root = root;
	p->size = cfgfs_u64(info, root, "attrib/dev_size", 0, &err);
	p->block_size = cfgfs_u64(info, root, "attrib/hw_block_size", DEFAULT_BLOCK_SIZE,
				  &err);
	p->max_xfer_blocks = max_xfer_blocks(info, root, p->block_size, &err);
	p->write_cache = cfgfs_u64(info, root, "attrib/emulate_write_cache", 0, &err);
	/* The kernel defaults emulate_tas to 1 (DA_EMULATE_TAS). */
	p->tas_off = !cfgfs_u64(info, root, "attrib/emulate_tas", 1, &err);
	return err;
}

/* Take @dev off the bus and the registry and free it (out of d->devices
 * already). @why: it is dropped, the kernel having dropped it without a
 * REMOVED (logged as a warning); NULL: removed. */
static void dev_remove(struct tcmur_daemon *d, struct tcmur_device *dev, const char *why)
{
	struct reaping_dev *freeing = dev->freed_opaque;
	char who[sizeof(dev->who)], named[1400];
	unsigned int minor = dev->info.uio_minor;

	memcpy(who, dev->who, sizeof(who));
	/* The config in force now (a reconfig may have changed it). */
	snprintf(named, sizeof(named), "%s (uio%u, config '%s/%s')", dev->info.name, minor,
		 dev->info.subtype, dev->handler_cfg);
	dbus_service_remove_device(d->dbus, dev);
	dev_registry_remove(&d->registry, dev);
	/* Listed first: its thread may be done before dev_free returns. */
	dev_reaping_begin(freeing, named, dev->info.subtype, dev->handler_cfg);
	if (dev_free(dev))
		dev_reaping_end(freeing);
	if (why)
		log_warn(&d->log, who, "dropped uio%u: %s", minor, why);
	else
		log_info(&d->log, who, "removed uio%u", minor);
}

/* Out of the table and freed: see dev_remove. */
static void dev_drop(struct tcmur_daemon *d, struct tcmur_device *dev, const char *why)
{
	g_hash_table_remove(d->devices, GUINT_TO_POINTER(dev->info.uio_minor));
	dev_remove(d, dev, why);
}

/*
 * Whether @info names the device @dev serves. Its minor alone does not:
 * the kernel gives a dropped device's minor to the next device made. The
 * kernel's device ids tell when both are known (a scan gives none);
 * otherwise the configfs object (hba, name) and, if @config, the config.
 */
static bool dev_is_same(const struct tcmur_device *dev, const struct tcmu_dev_info *info,
			bool config)
{
	const struct tcmu_dev_info *held = &dev->info;

	if (held->hba != info->hba || strcmp(held->name, info->name))
		return false;
	if (held->device_id && info->device_id)
		return held->device_id == info->device_id;
	return !config || !strcmp(held->config, info->config);
}

/* The device we hold under @info's minor if it is @info's, else NULL: a
 * REMOVED or RECONFIG naming another is not for ours (which, if the
 * kernel dropped it, goes by its uio's hang-up). Configs are not
 * compared: a RECONFIG we failed may have left ours ahead. */
static struct tcmur_device *dev_held(struct tcmur_daemon *d, const struct tcmu_dev_info *info)
{
	struct tcmur_device *dev = g_hash_table_lookup(d->devices,
						       GUINT_TO_POINTER(info->uio_minor));

	return dev && dev_is_same(dev, info, false) ? dev : NULL;
}

/*
 * An ADDED or a scan for @info: true if we serve it already (a repeated
 * event). The kernel sends ADDED once the uio is made, and a live uio's
 * minor is its alone: another device we hold under it is one the kernel
 * dropped without a REMOVED, and is dropped.
 */
static bool dev_served_already(struct tcmur_daemon *d, const struct tcmu_dev_info *info)
{
	struct tcmur_device *dev = g_hash_table_lookup(d->devices,
						       GUINT_TO_POINTER(info->uio_minor));
	char why[384];

	if (!dev || dev_is_same(dev, info, true))
		return dev != NULL;
	snprintf(why, sizeof(why), "the kernel gave its minor to device %.256s (id %u)",
		 info->name, info->device_id);
	dev_drop(d, dev, why);
	return false;
}

/* A device named for the main loop by a callback on another thread. */
struct failed_dev {
	struct tcmur_daemon *d;
	unsigned int minor;	/* published last (failed_dev_new) */
};

/* Made on any thread for g_idle_add: the fields are published with a
 * release store that failed_dev_lookup's acquire pairs with, as GLib's
 * main-loop locks are futexes ThreadSanitizer cannot see. */
static struct failed_dev *failed_dev_new(struct tcmur_daemon *d, unsigned int minor)
{
	struct failed_dev *f = g_new0(struct failed_dev, 1);

	f->d = d;
	__atomic_store_n(&f->minor, minor, __ATOMIC_RELEASE);
	return f;
}

/* Main thread: the device @f names, if we still hold it. */
static struct tcmur_device *failed_dev_lookup(const struct failed_dev *f)
{
	unsigned int minor = __atomic_load_n(&f->minor, __ATOMIC_ACQUIRE);

	return g_hash_table_lookup(f->d->devices, GUINT_TO_POINTER(minor));
}

/* Main thread, a second after a failure: try the device again. */
static gboolean dev_retry(gpointer data)
{
	struct failed_dev *f = data;
	struct tcmur_device *dev = failed_dev_lookup(f);

	if (dev && dev_is_failed(dev) && !dev_restart(dev))
		dbus_service_update_device(f->d->dbus, dev);
	return G_SOURCE_REMOVE;
}

/* Main thread: reopen a device whose handler asked; while that fails
 * (the backend still away), again every DEV_REOPEN_RETRY_S seconds. */
static gboolean dev_reopen_main(gpointer data)
{
	struct failed_dev *f = data;
	struct tcmur_device *dev = failed_dev_lookup(f);

	if (!dev || !dev_wants_reopen(dev)) {
		g_free(f);
		return G_SOURCE_REMOVE;
	}
	if (dev_reopen_now(dev) && dev_wants_reopen(dev)) {
		dbus_service_update_device(f->d->dbus, dev);
		g_timeout_add_seconds(DEV_REOPEN_RETRY_S, dev_reopen_main, f);
		return G_SOURCE_REMOVE;
	}
	dbus_service_update_device(f->d->dbus, dev);
	g_free(f);
	return G_SOURCE_REMOVE;
}

static void config_written(int status, const char *msg, gpointer data)
{
	struct failed_dev *f = data;
	struct tcmur_device *dev = failed_dev_lookup(f);

	if (status)
		log_err(&f->d->log, dev ? dev->who : "tcmu-runner",
			"the config the handler asked for was not set: %s", msg);
	g_free(f);
}

/* Main thread: write the config @dev's handler asked for (API 1.7) to
 * configfs, on ChangeMedium's worker: the kernel's RECONFIG of it comes
 * back to this loop, which must stay free to answer. */
static void dev_config_main(struct tcmur_daemon *d, struct tcmur_device *dev)
{
	char cfg[sizeof(dev->config_wanted)];
	uint64_t size;

	if (!dev_take_config_wanted(dev, cfg, sizeof(cfg)))
		return;
	pthread_mutex_lock(&dev->state_lock);
	size = dev->size;
	pthread_mutex_unlock(&dev->state_lock);
	change_medium_start(d, dev->handler, dev->info.name, size, cfg, config_written,
			    failed_dev_new(d, dev->info.uio_minor));
}

/* Main thread: show the failure, and schedule a restart while tries last. */
static gboolean dev_failed_main(gpointer data)
{
	struct failed_dev *f = data;
	struct tcmur_device *dev = failed_dev_lookup(f);

	if (!dev) {		/* removed meanwhile: nothing to show */
		g_free(f);
		return G_SOURCE_REMOVE;
	}
	if (dev_is_gone(dev)) {
		dev_drop(f->d, dev, "its uio went away without a removal");
		g_free(f);
		return G_SOURCE_REMOVE;
	}
	dev_config_main(f->d, dev);
	if (!dev_is_failed(dev) && !dev_wants_reopen(dev)) {
		g_free(f);	/* only a config was asked for */
		return G_SOURCE_REMOVE;
	}
	if (dev_wants_reopen(dev) && !dev_is_failed(dev))
		return dev_reopen_main(f);
	dbus_service_update_device(f->d->dbus, dev);
	if (dev->restarts >= DEV_MAX_RESTARTS) {
		log_err(&f->d->log, dev->who, "still failed after %u restarts; left failed",
			dev->restarts);
		g_free(f);
		return G_SOURCE_REMOVE;
	}
	g_timeout_add_seconds_full(G_PRIORITY_DEFAULT, 1, dev_retry, f, g_free);
	return G_SOURCE_REMOVE;
}

/* dev_params.on_failed: any thread. */
static void dev_failed(void *opaque, unsigned int minor)
{
	g_idle_add(dev_failed_main, failed_dev_new(opaque, minor));
}

/* dev_params.on_freed: a removed device's own thread, done with it (the
 * handler closed): its store is free again. */
static void dev_freed(void *opaque)
{
	dev_reaping_end(opaque);
}

unsigned int daemon_dev_reaping(const struct tcmur_daemon *d)
{
	return dev_reaping_count(&d->reaping);
}

/*
 * -EBUSY (logged) while a removed device still has commands with its
 * handler on the store that @info's device would serve @config
 * ("<subtype>/<rest>") on: @what (a new device, a new config) would take
 * writes the old device's late commands then land on. Refused rather
 * than held: the kernel's enable (or change) fails with the reason, and
 * the admin tries again once the old commands end (the kernel fails
 * them to the initiator at its cmd_time_out).
 */
static int store_still_held(struct tcmur_daemon *d, const struct tcmu_dev_info *info,
			    const char *config, const char *what)
{
	const char *slash = strchr(config, '/');
	char old[1400];

	if (!dev_reaping_holds(&d->reaping, info->subtype, slash ? slash + 1 : "",
			       old, sizeof(old)))
		return 0;
	log_err(&d->log, info->name, "refused %s uio%u: config '%s' is still in use by "
		"removed device %s, whose handler still has commands; try again once they "
		"end", what, info->uio_minor, config, old);
	return -EBUSY;
}

/* @info refused for -errno @err after @what; logged, @err returned. A
 * descriptor limit reached is named with the limit (fd_limit.h). */
static int dev_refused(struct tcmur_daemon *d, const struct tcmu_dev_info *info, int err,
		       const char *what)
{
	if (tcmu_fd_limit_reached(err))
		fd_limit_log_refused(&d->log, info, err, g_hash_table_size(d->devices));
	else
		log_err(&d->log, info->name, "refused device uio%u: %s%s", info->uio_minor,
			what, strerror(-err));
	return err;
}

int daemon_dev_serve(struct tcmur_daemon *d, const struct tcmu_dev_info *info,
		     const struct handler *h, int fd, void *map, size_t map_size,
		     bool recovered)
{
	struct reaping_dev *freeing;
	struct tcmur_device *dev;
	struct dev_params params;
	int err;

	err = store_still_held(d, info, info->config, "device");
	if (err)
		return err;
	freeing = dev_reaping_entry_new(&d->reaping);
	if (!freeing) {
		log_err(&d->log, info->name, "refused device uio%u: out of memory",
			info->uio_minor);
		return -ENOMEM;
	}
	dev_tunables_apply(&d->config.cfg.dev, info, d->cfgfs_root, &d->log);
	err = dev_params_read(info, d->cfgfs_root, &params);
	if (err) {
		dev_reaping_end(freeing);
		return dev_refused(d, info, err, "reading its attributes in configfs: ");
	}
	params.registry = &d->registry;
	params.on_failed = dev_failed;
	params.failed_opaque = d;
	params.on_freed = dev_freed;
	params.freed_opaque = freeing;
	err = dev_new(&dev, info, h, &params, fd, map, map_size, true, &d->log);
	if (err) {
		dev_reaping_end(freeing);
		return dev_refused(d, info, err, "");
	}
	/* Before the ring is unblocked: the first command sees it. */
	if (recovered)
		dev_ua_raise(dev, ASC_POWER_ON_RESET);
	g_hash_table_insert(d->devices, GUINT_TO_POINTER(info->uio_minor), dev);
	if (dev_registry_add(&d->registry, dev))
		log_warn(&d->log, dev->who, "not offered to EXTENDED COPY (no memory)");
	dbus_service_add_device(d->dbus, dev);
	log_info(&d->log, dev->who, "added uio%u config '%s' size %llu block %u, "
		 "transfers up to %u blocks", info->uio_minor, info->config,
		 (unsigned long long)params.size, dev->block_size, params.max_xfer_blocks);
	return 0;
}

/* A device found at start, opened between tcmu_recover_dev's reset and
 * unblock. */
struct recover_open {
	struct tcmur_daemon *d;
	const struct tcmu_dev_info *info;
	const struct handler *h;
	int fd;
	void *map;
	size_t map_size;
	bool recovered;
	bool tried;		/* daemon_dev_serve called (it logs) */
	bool opened;
};

static int recover_open(void *opaque)
{
	struct recover_open *ro = opaque;
	int err = daemon_dev_serve(ro->d, ro->info, ro->h, ro->fd, ro->map, ro->map_size,
				   ro->recovered);

	ro->tried = true;
	ro->opened = !err;
	return err;
}

int daemon_dev_add(struct tcmur_daemon *d, const struct tcmu_dev_info *info, bool recover)
{
	struct recover_open ro = { .d = d, .info = info, .recovered = recover };
	int err;

	if (dev_served_already(d, info))
		return 0;
	if (!dev_filter_match(&d->filter, info->name)) {
		log_dbg(&d->log, info->name, "uio%u is not in --devices: another daemon's",
			info->uio_minor);
		return TCMU_NL_NOT_MINE;
	}
	if (dbus_service_is_external(d->dbus, info->subtype)) {
		log_dbg(&d->log, info->name, "uio%u is for external handler %s",
			info->uio_minor, info->subtype);
		return TCMU_NL_NOT_MINE;
	}
	ro.h = info->subtype[0] ? handler_set_find(&d->handlers, info->subtype) : NULL;
	if (!ro.h) {
		log_err(&d->log, info->name, "no handler for config '%s' (subtype '%s'): refused",
			info->config, info->subtype);
		return -ENOENT;
	}
	/* Opened first: the kernel lets one process open it, so no live
	 * process still serves the ring that recovery resets. */
	if (d->uio_open)
		err = d->uio_open(d->uio_opaque, info, &ro.fd, &ro.map, &ro.map_size);
	else
		err = tcmu_uio_open(NULL, info->uio_minor, &ro.fd, &ro.map, &ro.map_size,
				    &d->logger, info->name);
	if (err)	/* logged by tcmu_uio_open, but for a descriptor limit */
		return tcmu_fd_limit_reached(err) ? dev_refused(d, info, err, "") : err;
	if (recover)
		err = tcmu_recover_dev(info, NULL, ro.map, ro.map_size, recover_open, &ro,
				       &d->logger);
	else
		err = recover_open(&ro);
	if (ro.opened)		/* served, even if left blocked (logged) */
		return 0;
	tcmu_uio_close(ro.fd, ro.map, ro.map_size);
	if (!ro.tried && tcmu_fd_limit_reached(err))	/* in recovery */
		dev_refused(d, info, err, "");
	return err;
}

static int nl_added(void *opaque, const struct tcmu_dev_info *info)
{
	/* A new device: its ring has never been served. */
	return daemon_dev_add(opaque, info, false);
}

/* A device we do not hold that is not ours to answer for: another daemon's
 * (--devices) or an external handler's. */
static bool another_process_serves(struct tcmur_daemon *d, const struct tcmu_dev_info *info)
{
	return !dev_filter_match(&d->filter, info->name) ||
	       dbus_service_is_external(d->dbus, info->subtype);
}

static int nl_removed(void *opaque, const struct tcmu_dev_info *info)
{
	struct tcmur_daemon *d = opaque;
	struct tcmur_device *dev;

	dev = dev_held(d, info);
	if (!dev) {
		if (another_process_serves(d, info))
			return TCMU_NL_NOT_MINE;
		log_warn(&d->log, info->name, "removal of uio%u, which we do not serve",
			 info->uio_minor);
		return 0;
	}
	g_hash_table_remove(d->devices, GUINT_TO_POINTER(info->uio_minor));
	dev_remove(d, dev, NULL);
	return 0;
}

static int nl_reconfig(void *opaque, const struct tcmu_dev_info *info,
		       const struct tcmu_reconfig *rc)
{
	struct tcmur_daemon *d = opaque;
	struct tcmur_device *dev;
	int err;

	dev = dev_held(d, info);
	if (!dev) {
		if (another_process_serves(d, info))
			return TCMU_NL_NOT_MINE;
		log_err(&d->log, info->name, "reconfigure uio%u, which we do not serve",
			info->uio_minor);
		return -ENODEV;
	}
	if (rc->has_config) {
		err = store_still_held(d, info, rc->config, "config change of");
		if (err)
			return err;
	}
	err = dev_reconfig(dev, rc);
	dbus_service_update_device(d->dbus, dev);
	return err;
}

const struct tcmu_nl_ops daemon_nl_ops = {
	.added = nl_added,
	.removed = nl_removed,
	.reconfig = nl_reconfig,
};

static int scan_one(void *opaque, const struct tcmu_dev_info *info)
{
	struct tcmur_daemon *d = opaque;

	/* Served before, maybe, by a daemon that died: recovered. */
	daemon_dev_add(d, info, true);
	return 0;
}

void daemon_dev_init(struct tcmur_daemon *d)
{
	d->devices = g_hash_table_new(g_direct_hash, g_direct_equal);
	dev_registry_init(&d->registry);
	dev_reaping_init(&d->reaping);
}

void daemon_dev_fini(struct tcmur_daemon *d)
{
	dev_reaping_destroy(&d->reaping);
	dev_registry_destroy(&d->registry);
	if (d->devices)
		g_hash_table_destroy(d->devices);
	d->devices = NULL;
}

int daemon_dev_scan(struct tcmur_daemon *d)
{
	tcmu_uio_scan(NULL, scan_one, d);
	return g_hash_table_size(d->devices);
}

void daemon_dev_close_all(struct tcmur_daemon *d)
{
	GHashTableIter it;
	gpointer key, value;

	g_hash_table_iter_init(&it, d->devices);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		g_hash_table_iter_steal(&it);
		dev_remove(d, value, NULL);
	}
}
