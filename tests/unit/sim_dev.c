/*
 * The tests' defaults over sim_device.c; see sim_dev.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "mem_handler.h"
#include "scsi_defs.h"
#include "sim_dev.h"

/* handler_file.c's table, linked in. */
extern const struct tcmur_handler tcmur_handler_entry;

static int make_backing_file(char *path, size_t path_len, uint64_t size)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int fd;

	snprintf(path, path_len, "%.40s/tcmu-unit-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) < 0) {
		int err = -errno;

		close(fd);
		unlink(path);
		return err;
	}
	close(fd);
	return 0;
}

int sim_dev_new(struct sim_dev **out, const struct sim_dev_cfg *cfg)
{
	static const struct sim_dev_cfg defaults;
	struct sim_dev_cfg c = cfg ? *cfg : defaults;
	struct log_cfg verbose;
	char path[64] = "";
	int err;

	if (!c.serial)
		c.serial = SIM_DEV_SERIAL;
	if (getenv("TEST_LOG") && !c.log) {
		log_init(&verbose, true);
		c.log = &verbose;
	}
	if (!c.ops) {
		c.ops = &tcmur_handler_entry;
		err = make_backing_file(path, sizeof(path), c.size ? c.size : 1024 * 1024);
		if (err)
			return err;
		c.handler_cfg = path;
	}
	err = sim_dev_open(out, &c);
	if (err) {
		if (path[0])
			unlink(path);
		return err;
	}
	snprintf((*out)->path, sizeof((*out)->path), "%s", path);
	return 0;
}

int sim_dev_mem_new(struct sim_dev **out, const char *opts, uint64_t size)
{
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = opts,
				   .size = size };

	return sim_dev_new(out, &cfg);
}

int sim_dev_repoint(struct sim_dev *sd)
{
	struct tcmu_reconfig rc = { .has_config = true };
	static const uint8_t tur[6] = { TEST_UNIT_READY };
	int err;

	snprintf(rc.config, sizeof(rc.config), "%s/%s", sd->dev->handler->ops.subtype,
		 tcmur_dev_config(sd->dev));
	err = dev_reconfig(sd->dev, &rc);
	if (!err)
		sim_dev_run(sd, tur, sizeof(tur), NULL, 0);
	return err;
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
