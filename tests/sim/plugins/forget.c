/*
 * A broken handler for tcmu-sim check: a RAM disk that loses its data
 * when the device is closed (a handler that forgets to write back). Its
 * I/O is right while the device is open, so only the reopen case fails.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcmu-runner.h"

struct forget_dev {
	uint8_t *data;
};

static int forget_open(struct tcmur_device *dev, bool reopen)
{
	struct forget_dev *f = tcmur_dev_private(dev);

	(void)reopen;
	f->data = calloc(1, tcmur_dev_size(dev));
	return f->data ? 0 : -ENOMEM;
}

static void forget_close(struct tcmur_device *dev)
{
	struct forget_dev *f = tcmur_dev_private(dev);

	free(f->data);
	f->data = NULL;
}

static tcmu_sts forget_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			    struct iovec *iov, size_t iov_cnt, size_t len, uint64_t off)
{
	struct forget_dev *f = tcmur_dev_private(dev);

	(void)cmd;
	tcmu_iov_from_buf(iov, iov_cnt, f->data + off, len);
	return TCMU_STS_GOOD;
}

static tcmu_sts forget_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			     struct iovec *iov, size_t iov_cnt, size_t len, uint64_t off)
{
	struct forget_dev *f = tcmur_dev_private(dev);

	(void)cmd;
	tcmu_iov_to_buf(f->data + off, len, iov, iov_cnt);
	return TCMU_STS_GOOD;
}

static tcmu_sts forget_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	(void)dev;
	(void)cmd;
	return TCMU_STS_GOOD;
}

TCMUR_REGISTER_HANDLER(
	.name = "Forgets its data on close (tests)",
	.subtype = "forget",
	.cfg_desc = "nothing: a RAM disk",
	.dev_private_size = sizeof(struct forget_dev),
	.thread_model = TCMUR_THREAD_SERIAL,
	.open = forget_open,
	.close = forget_close,
	.read = forget_read,
	.write = forget_write,
	.flush = forget_flush,
);
