/*
 * sim_device: a device the daemon serves (dev_new: device thread, SCSI
 * emulation, I/O threads, a handler) on a simulated ring (ring_sim.h),
 * with no kernel. tcmu-sim runs handler plugins on it; the unit tests
 * run the emulation on it.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef SIM_DEVICE_H
#define SIM_DEVICE_H

#include "device.h"
#include "ring_sim.h"

#include <semaphore.h>

#define SIM_DEV_TIMEOUT_MS 5000

struct sim_dev_cfg {
	const struct tcmur_handler *ops;	/* required */
	const char *handler_cfg;	/* after "<subtype>/" (NULL: "") */
	uint64_t size;			/* bytes (0: 1 MiB) */
	uint32_t block_size;		/* 0: 512 */
	uint32_t max_xfer_blocks;	/* 0: 1024 */
	bool write_cache_off;
	const char *serial;		/* NULL or "": none (configfs may give one later) */
	struct dev_registry *registry;	/* NULL: none; the caller adds/removes */
	void (*on_failed)(void *opaque, unsigned int uio_minor);
	void *failed_opaque;
	const char *name;		/* configfs name (NULL: "simlun") */
	const char *cfgfs_root;		/* a fake configfs tree (NULL: the real one) */
	bool tas_off;			/* the kernel's emulate_tas is 0 */
	const struct log_cfg *log;	/* copied; NULL: silent */
	struct ring_sim_cfg ring;
};

struct sim_dev {
	struct ring_sim *sim;
	struct tcmur_device *dev;	/* NULL once the caller freed it */
	/* Posted when a dev_free() that returned false has finished. */
	sem_t freed;
	struct handler hd;
	struct log_cfg log;
	char path[64];			/* a file made for the device, or "" */
};

/* 0 or dev_new's -errno (-EINVAL without a handler). */
int sim_dev_open(struct sim_dev **out, const struct sim_dev_cfg *cfg);
/* Close the device (waiting for a deferred free: see dev_free) and free
 * the simulator; unlinks sd->path if set. */
void sim_dev_free(struct sim_dev *sd);

/* Queue one command, notify, wait for it; NULL if it never completed. */
struct sim_cmd *sim_dev_run(struct sim_dev *sd, const uint8_t *cdb, size_t cdb_len,
			    const void *data, size_t data_len);
/* The same with the buffer split into @iov_cnt iovecs. */
struct sim_cmd *sim_dev_run_iov(struct sim_dev *sd, const uint8_t *cdb, size_t cdb_len,
				const void *data, size_t data_len, unsigned int iov_cnt);

#endif
