/*
 * [device] defaults written to a new device; see dev_tunables.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_tunables.h"

/* Write @want to @attr if it reads as @kernel_default; 1 if written. */
static int apply_one(const struct tcmu_dev_info *info, const char *root, const char *attr,
		     int want, int kernel_default, const struct log_cfg *log)
{
	char buf[32], val[16];
	int err;

	if (want == CONFIG_DEV_UNSET || want == kernel_default)
		return 0;
	if (tcmu_cfgfs_read_str(info, root, attr, buf, sizeof(buf)) ||
	    atoi(buf) != kernel_default)
		return 0;	/* unreadable (logged when used), or the admin's */
	snprintf(val, sizeof(val), "%d", want);
	err = tcmu_cfgfs_write_str(info, root, attr, val);
	if (err) {
		log_warn(log, info->name, "%s: the kernel refused %s from the configuration: "
			 "%s (cmd_time_out is taken only before the LUN is exported); "
			 "keeping %s", attr, val, strerror(-err), buf);
		return 0;
	}
	log_info(log, info->name, "%s = %s (configuration default)", attr, val);
	return 1;
}

int dev_tunables_apply(const struct config_dev *c, const struct tcmu_dev_info *info,
		       const char *root, const struct log_cfg *log)
{
	return apply_one(info, root, "attrib/cmd_time_out", c->cmd_time_out,
			 KERNEL_CMD_TIME_OUT, log) +
	       apply_one(info, root, "attrib/qfull_time_out", c->qfull_time_out,
			 KERNEL_QFULL_TIME_OUT, log);
}
