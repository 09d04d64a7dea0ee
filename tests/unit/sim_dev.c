/*
 * sim_dev: a served device on a simulated ring; see sim_dev.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_dev.h"

/* handler_file.c's table, linked in. */
extern const struct tcmur_handler tcmur_handler_entry;

static int make_backing_file(struct sim_dev *sd, uint64_t size)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int fd;

	snprintf(sd->path, sizeof(sd->path), "%.40s/tcmu-unit-XXXXXX", dir);
	fd = mkstemp(sd->path);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) < 0) {
		int err = -errno;

		close(fd);
		unlink(sd->path);
		return err;
	}
	close(fd);
	return 0;
}

int sim_dev_new(struct sim_dev **out, const struct sim_dev_cfg *cfg)
{
	static const struct sim_dev_cfg defaults;
	struct tcmu_dev_info info = { 0 };
	struct dev_params params = { 0 };
	struct sim_dev *sd;
	char uio_name[256];
	int err;

	if (!cfg)
		cfg = &defaults;
	sd = calloc(1, sizeof(*sd));
	if (!sd)
		return -ENOMEM;
	sim_log_init(&sd->log);
	sd->hd.ops = cfg->ops ? *cfg->ops : tcmur_handler_entry;
	params.size = cfg->size ? cfg->size : 1024 * 1024;
	params.block_size = cfg->block_size ? cfg->block_size : 512;
	params.max_xfer_blocks = cfg->max_xfer_blocks ? cfg->max_xfer_blocks : 1024;
	params.write_cache = !cfg->write_cache_off;
	params.unit_serial = cfg->serial ? cfg->serial : SIM_DEV_SERIAL;
	params.registry = cfg->registry;
	if (!cfg->ops) {
		err = make_backing_file(sd, params.size);
		if (err)
			goto out_free;
	}
	snprintf(uio_name, sizeof(uio_name), "tcm-user/1/simlun/%s/%s",
		 sd->hd.ops.subtype,
		 cfg->ops ? (cfg->handler_cfg ? cfg->handler_cfg : "") : sd->path);
	err = tcmu_dev_info_parse(&info, uio_name);
	if (err)
		goto out_file;
	err = ring_sim_new(&sd->sim, &cfg->ring);
	if (err)
		goto out_file;
	err = dev_new(&sd->dev, &info, &sd->hd, &params, ring_sim_fd(sd->sim),
		      ring_sim_map(sd->sim), ring_sim_map_size(sd->sim), false, &sd->log);
	if (err)
		goto out_sim;
	*out = sd;
	return 0;

out_sim:
	ring_sim_free(sd->sim);
out_file:
	if (sd->path[0])
		unlink(sd->path);
out_free:
	sim_log_fini(&sd->log);
	free(sd);
	return err;
}

void sim_dev_free(struct sim_dev *sd)
{
	if (!sd)
		return;
	dev_free(sd->dev);
	ring_sim_free(sd->sim);
	if (sd->path[0])
		unlink(sd->path);
	sim_log_fini(&sd->log);
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

/* cmocka fixtures (declared in unit_test.h). */
int sim_dev_setup(void **state)
{
	struct sim_dev *sd;

	if (sim_dev_new(&sd, NULL))
		return -1;
	*state = sd;
	return 0;
}

int sim_dev_teardown(void **state)
{
	sim_dev_free(*state);
	return 0;
}
