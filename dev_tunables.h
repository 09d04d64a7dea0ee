/*
 * The configuration's [device] defaults (config.h) given to a device the
 * daemon adds: each attribute that still holds the kernel's own default
 * (cmd_time_out 30, qfull_time_out -1) is written with the configured
 * value; one an admin has set is left alone. The kernel takes a new
 * cmd_time_out only while the LUN is not exported (a device targetcli
 * has just made is not yet); a refusal is logged, naming the device, and
 * the device served with the kernel's value. Neither write sends a
 * netlink event back to us. Main thread, before dev_new (which reads
 * the values: dev_watch.h). Licensed under the Apache License, Version 2.0.
 */
#ifndef DEV_TUNABLES_H
#define DEV_TUNABLES_H

#include "config.h"
#include "libtcmu.h"

/* The kernel's defaults (target_core_user.c: TCMU_TIME_OUT, qfull -1). */
#define KERNEL_CMD_TIME_OUT 30
#define KERNEL_QFULL_TIME_OUT (-1)

/* @root: configfs (NULL: /sys/kernel/config). Returns how many
 * attributes were written. */
int dev_tunables_apply(const struct config_dev *c, const struct tcmu_dev_info *info,
		       const char *root, const struct log_cfg *log);

#endif
