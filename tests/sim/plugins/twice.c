/*
 * A broken handler for tcmu-sim check: a RAM disk whose asynchronous
 * completions are sent twice, from a thread of its own, for every
 * command. The data is right; the double completion must be caught.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tcmu-runner.h"

struct twice_dev {
	uint8_t *data;
};

struct twice_job {
	struct tcmur_device *dev;
	struct tcmur_cmd *cmd;
};

static void *twice_thread(void *arg)
{
	struct twice_job *job = arg;

	tcmur_cmd_complete(job->dev, job->cmd, TCMU_STS_GOOD);
	tcmur_cmd_complete(job->dev, job->cmd, TCMU_STS_GOOD);	/* the bug */
	free(job);
	return NULL;
}

static tcmu_sts twice_done(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	struct twice_job *job = malloc(sizeof(*job));
	pthread_t t;

	if (!job)
		return TCMU_STS_GOOD;
	job->dev = dev;
	job->cmd = cmd;
	if (pthread_create(&t, NULL, twice_thread, job)) {
		free(job);
		return TCMU_STS_GOOD;
	}
	pthread_detach(t);
	return TCMU_STS_ASYNC;
}

static int twice_open(struct tcmur_device *dev, bool reopen)
{
	struct twice_dev *t = tcmur_dev_private(dev);

	(void)reopen;
	t->data = calloc(1, tcmur_dev_size(dev));
	return t->data ? 0 : -ENOMEM;
}

static void twice_close(struct tcmur_device *dev)
{
	struct twice_dev *t = tcmur_dev_private(dev);

	free(t->data);
	t->data = NULL;
}

static tcmu_sts twice_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			   struct iovec *iov, size_t iov_cnt, size_t len, uint64_t off)
{
	struct twice_dev *t = tcmur_dev_private(dev);

	tcmu_iov_from_buf(iov, iov_cnt, t->data + off, len);
	return twice_done(dev, cmd);
}

static tcmu_sts twice_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			    struct iovec *iov, size_t iov_cnt, size_t len, uint64_t off)
{
	struct twice_dev *t = tcmur_dev_private(dev);

	tcmu_iov_to_buf(t->data + off, len, iov, iov_cnt);
	return twice_done(dev, cmd);
}

static tcmu_sts twice_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	return twice_done(dev, cmd);
}

TCMUR_REGISTER_HANDLER(
	.name = "Completes every command twice (tests)",
	.subtype = "twice",
	.cfg_desc = "nothing: a RAM disk",
	.dev_private_size = sizeof(struct twice_dev),
	.thread_model = TCMUR_THREAD_PARALLEL,
	.open = twice_open,
	.close = twice_close,
	.read = twice_read,
	.write = twice_write,
	.flush = twice_flush,
);
