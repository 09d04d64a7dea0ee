/*
 * handler_slowcheck: a test plugin whose CheckConfig takes SLOW_SECS, as a
 * cluster handler's may while it connects. test_review.sh shows the
 * daemon keeps answering the bus (and the kernel) meanwhile. It serves no
 * I/O: every read and write fails.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "scsi_defs.h"
#include "tcmu-runner.h"

#define SLOW_SECS 6

static bool slow_check_config(const char *cfg, char **reason)
{
	(void)cfg;
	(void)reason;
	sleep(SLOW_SECS);
	return true;
}

static int slow_open(struct tcmur_device *dev, bool reopen)
{
	(void)dev;
	(void)reopen;
	return 0;
}

static void slow_close(struct tcmur_device *dev)
{
	(void)dev;
}

static tcmu_sts slow_io(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
			size_t iov_cnt, size_t len, uint64_t offset)
{
	(void)dev, (void)iov, (void)iov_cnt, (void)len, (void)offset;
	return tcmur_cmd_errno(cmd, -EIO, false);
}

static tcmu_sts slow_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	(void)dev;
	(void)cmd;
	return TCMU_STS_GOOD;
}

TCMUR_REGISTER_HANDLER(
	.name = "Slow CheckConfig (tests)",
	.subtype = "slowcheck",
	.cfg_desc = "anything; CheckConfig takes a while",
	.thread_model = TCMUR_THREAD_SERIAL,
	.check_config = slow_check_config,
	.open = slow_open,
	.close = slow_close,
	.read = slow_io,
	.write = slow_io,
	.flush = slow_flush,
);
