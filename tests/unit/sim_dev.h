/*
 * The tests' way to a simulated device (sim_device.h): the file handler
 * (handler_file.c, linked in) on a fresh temporary file unless a config
 * names another handler table, a serial unless told otherwise, and a
 * log that is silent unless TEST_LOG is set in the environment.
 */
#ifndef SIM_DEV_H
#define SIM_DEV_H

#include <string.h>

#include "sim_device.h"

/* Unit serial every test device gets unless told otherwise. */
#define SIM_DEV_SERIAL "0123456789abcdef0123456789abcdef"

/*
 * sim_dev_open() with the tests' defaults: @cfg may be NULL; ops NULL is
 * the file handler on a temporary file of cfg->size bytes; serial NULL
 * is SIM_DEV_SERIAL ("" for none). 0 or -errno.
 */
int sim_dev_new(struct sim_dev **out, const struct sim_dev_cfg *cfg);

/* The memory handler (mem_handler.h) with options @opts ("" for none)
 * on a LUN of @size bytes. 0 or -errno. */
int sim_dev_mem_new(struct sim_dev **out, const char *opts, uint64_t size);

/* A READ(10)/WRITE(10)-shaped CDB: @op, @n blocks at @lba, flags 0. */
static inline void sim_rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t n)
{
	memset(cdb, 0, 10);
	cdb[0] = op;
	tcmu_put_be32(cdb + 2, lba);
	tcmu_put_be16(cdb + 7, n);
}

/* Give the device its own config again (the admin's way to clear a
 * failed flush's latch, dev_durable.h) and take the unit attention that
 * raises. 0 or -errno. */
int sim_dev_repoint(struct sim_dev *sd);

/* A log for tests: silent unless TEST_LOG is set in the environment. */
void sim_log_init(struct log_cfg *log);
void sim_log_fini(struct log_cfg *log);

#endif
