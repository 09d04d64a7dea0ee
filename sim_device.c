/*
 * sim_device: a served device on a simulated ring; see sim_device.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_device.h"

static void sim_dev_freed(void *opaque)
{
	sem_post(&((struct sim_dev *)opaque)->freed);
}

int sim_dev_open(struct sim_dev **out, const struct sim_dev_cfg *cfg)
{
	struct tcmu_dev_info info = { 0 };
	struct dev_params params = { 0 };
	struct sim_dev *sd;
	char uio_name[1200];
	int err;

	if (!cfg->ops)
		return -EINVAL;
	sd = calloc(1, sizeof(*sd));
	if (!sd)
		return -ENOMEM;
	if (cfg->log) {
		sd->log = *cfg->log;
	} else {
		log_init(&sd->log, false);
		sd->log.max_prio = -1;		/* nothing passes */
	}
	sd->hd.ops = *cfg->ops;
	params.size = cfg->size ? cfg->size : 1024 * 1024;
	params.block_size = cfg->block_size ? cfg->block_size : 512;
	params.max_xfer_blocks = cfg->max_xfer_blocks ? cfg->max_xfer_blocks : 1024;
	params.write_cache = !cfg->write_cache_off;
	params.unit_serial = cfg->serial;
	params.registry = cfg->registry;
	params.cfgfs_root = cfg->cfgfs_root;
	params.tas_off = cfg->tas_off;
	params.on_failed = cfg->on_failed;
	params.failed_opaque = cfg->failed_opaque;
	params.on_freed = sim_dev_freed;
	params.freed_opaque = sd;
	sem_init(&sd->freed, 0, 0);
	snprintf(uio_name, sizeof(uio_name), "tcm-user/1/%s/%s/%s",
		 cfg->name ? cfg->name : "simlun", sd->hd.ops.subtype,
		 cfg->handler_cfg ? cfg->handler_cfg : "");
	err = tcmu_dev_info_parse(&info, uio_name);
	if (err)
		goto out_free;
	err = ring_sim_new(&sd->sim, &cfg->ring);
	if (err)
		goto out_free;
	err = dev_new(&sd->dev, &info, &sd->hd, &params, ring_sim_fd(sd->sim),
		      ring_sim_map(sd->sim), ring_sim_map_size(sd->sim), false, &sd->log);
	if (err)
		goto out_sim;
	*out = sd;
	return 0;

out_sim:
	ring_sim_free(sd->sim);
out_free:
	sem_destroy(&sd->freed);
	free(sd);
	return err;
}

void sim_dev_free(struct sim_dev *sd)
{
	if (!sd)
		return;
	/* The ring's map is ours: a device freed later still uses it. */
	if (sd->dev && !dev_free(sd->dev))
		sem_wait(&sd->freed);
	sem_destroy(&sd->freed);
	ring_sim_free(sd->sim);
	if (sd->path[0])
		unlink(sd->path);
	free(sd);
}

struct sim_cmd *sim_dev_run_iov(struct sim_dev *sd, const uint8_t *cdb, size_t cdb_len,
				const void *data, size_t data_len, unsigned int iov_cnt)
{
	struct sim_req req = {
		.cdb = cdb, .cdb_len = cdb_len, .data = data, .data_len = data_len,
		.iov_cnt = iov_cnt,
	};

	return ring_sim_run(sd->sim, &req, SIM_DEV_TIMEOUT_MS);
}

struct sim_cmd *sim_dev_run(struct sim_dev *sd, const uint8_t *cdb, size_t cdb_len,
			    const void *data, size_t data_len)
{
	return sim_dev_run_iov(sd, cdb, cdb_len, data, data_len, 0);
}
