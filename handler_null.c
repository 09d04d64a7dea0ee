/*
 * handler_null: a LUN that stores nothing. Every read and write completes
 * at once without touching the data (reads return whatever the buffer
 * held); flush does nothing. Config string: "null/" (anything after the
 * slash is ignored). It is the floor every other handler's figures are
 * measured against: `tcmu-sim bench null/ ...` is the daemon's own cost
 * per command. Never for data anyone wants back.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <stdbool.h>

#include "scsi_defs.h"
#include "tcmu-runner.h"

static int null_open(struct tcmur_device *dev, bool reopen)
{
	(void)reopen;
	tcmu_dev_dbg(dev, "null device: data is not kept");
	return 0;
}

static void null_close(struct tcmur_device *dev)
{
	(void)dev;
}

static tcmu_sts null_io(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	(void)dev, (void)cmd, (void)iov, (void)iov_cnt, (void)len, (void)offset;
	return TCMU_STS_GOOD;
}

static tcmu_sts null_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	(void)dev;
	(void)cmd;
	return TCMU_STS_GOOD;
}

static bool null_can_fua(struct tcmur_device *dev)
{
	(void)dev;
	return true;	/* nothing is ever volatile: nothing is kept */
}

static int null_reconfig(struct tcmur_device *dev, const struct tcmur_reconfig *rc)
{
	(void)dev;
	(void)rc;
	return 0;	/* nothing to change */
}

TCMUR_REGISTER_HANDLER(
	.name = "Null (stores nothing)",
	.subtype = "null",
	.cfg_desc = "Nothing after 'null/': every I/O completes at once and no "
		    "data is kept. For measuring the daemon itself.",
	.thread_model = TCMUR_THREAD_PARALLEL,
	.open = null_open,
	.close = null_close,
	.reconfig = null_reconfig,
	.read = null_io,
	.write = null_io,
	.flush = null_flush,
	.can_fua = null_can_fua,
	.inline_io = true,	/* nothing to wait for */
);
