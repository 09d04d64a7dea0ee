/*
 * The tests' way to a simulated device (sim_device.h): the file handler
 * (handler_file.c, linked in) on a fresh temporary file unless a config
 * names another handler table, a serial unless told otherwise, and a
 * log that is silent unless TEST_LOG is set in the environment.
 */
#ifndef SIM_DEV_H
#define SIM_DEV_H

#include "sim_device.h"

/* Unit serial every test device gets unless told otherwise. */
#define SIM_DEV_SERIAL "0123456789abcdef0123456789abcdef"

/*
 * sim_dev_open() with the tests' defaults: @cfg may be NULL; ops NULL is
 * the file handler on a temporary file of cfg->size bytes; serial NULL
 * is SIM_DEV_SERIAL ("" for none). 0 or -errno.
 */
int sim_dev_new(struct sim_dev **out, const struct sim_dev_cfg *cfg);

/* A log for tests: silent unless TEST_LOG is set in the environment. */
void sim_log_init(struct log_cfg *log);
void sim_log_fini(struct log_cfg *log);

#endif
