/*
 * Multi-step commands as continuations; see dev_seq.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

#include "dev_seq.h"
#include "device.h"

void dev_seq_init(struct tcmur_device *dev)
{
	pthread_mutex_init(&dev->sub_lock, NULL);
}

void dev_seq_destroy(struct tcmur_device *dev)
{
	pthread_mutex_destroy(&dev->sub_lock);
}

void dev_seq_open(struct tcmur_device *dev)
{
	pthread_mutex_lock(&dev->sub_lock);
	dev->subs_open = true;
	pthread_mutex_unlock(&dev->sub_lock);
}

void dev_seq_close(struct tcmur_device *dev)
{
	pthread_mutex_lock(&dev->sub_lock);
	dev->subs_open = false;
	pthread_mutex_unlock(&dev->sub_lock);
}

unsigned int dev_seq_foreign(struct tcmur_device *dev)
{
	unsigned int n;

	pthread_mutex_lock(&dev->sub_lock);
	n = dev->subs_inflight;
	pthread_mutex_unlock(&dev->sub_lock);
	return n;
}

/* Count a sub-op from another device's command in flight on @dev. */
static int foreign_get(struct tcmur_device *dev)
{
	bool offline = dev_is_offline(dev);
	int err = 0;

	pthread_mutex_lock(&dev->sub_lock);
	if (!dev->subs_open || offline)
		err = -ENODEV;
	else
		dev->subs_inflight++;
	pthread_mutex_unlock(&dev->sub_lock);
	return err;
}

/* After this, @dev may be paused or freed: touch it no more. */
static void foreign_put(struct tcmur_device *dev)
{
	pthread_mutex_lock(&dev->sub_lock);
	dev->subs_inflight--;
	pthread_mutex_unlock(&dev->sub_lock);
}

static void seq_end(struct dev_seq *seq, tcmu_sts sts)
{
	struct tcmur_device *dev = seq->dev;
	struct cmd_ctx *ctx = seq->ctx;

	seq->free(seq);
	dev_cmd_complete(dev, ctx, sts);
}

tcmu_sts dev_seq_start(struct dev_seq *seq)
{
	tcmu_sts sts = seq->step(seq, TCMU_STS_GOOD);

	if (sts != TCMU_STS_ASYNC)
		seq->free(seq);
	return sts;
}

int dev_seq_io(struct dev_seq *seq, struct tcmur_device *dev, enum cmd_io io,
	       struct iovec *iov, size_t iov_cnt, uint64_t offset, uint64_t len,
	       bool stable, bool take_lock)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	struct cmd_ctx *sub = &seq->sub;

	if (dev != seq->dev && foreign_get(dev))
		return -ENODEV;
	*sub = *seq->ctx;	/* the same CDB, sense buffer, sense format */
	sub->dev = dev;
	sub->pub.iov = iov;
	sub->pub.iov_cnt = iov_cnt;
	sub->pub.data_len = len;
	sub->pub.hpriv = NULL;
	sub->pub.fua = io == CMD_IO_WRITE && stable;
	sub->io = io;
	sub->offset = offset;
	sub->len = len;
	sub->flush_after = false;
	sub->custom = NULL;
	sub->custom_arg = NULL;
	sub->exclusive = false;
	sub->no_io_lock = false;
	sub->io_locked = false;
	sub->is_sub = true;
	sub->sub_lock = take_lock;
	sub->waiter = NULL;
	seq->flush_pending = sub->pub.fua && !(h->can_fua && h->can_fua(dev));
	/* The command is in flight on its device, and a foreign sub-op is
	 * counted on @dev: either way @dev's I/O queue is there. */
	io_queue_push(dev->ioq, sub);
	return 0;
}

void dev_seq_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	tcmu_sts sts;

	if (ctx->sub_lock && !ctx->io_locked && !dev_io_lock_or_park(dev, ctx))
		return;		/* queued again once the lock is ours */
	sts = dev_io_handler_op(dev, ctx);
	if (sts != TCMU_STS_ASYNC)
		dev_seq_finish(dev, ctx, sts);
}

void dev_seq_finish(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts sts)
{
	struct dev_seq *seq = (struct dev_seq *)ctx;
	bool foreign = dev != seq->dev;
	bool aborted = __atomic_load_n(&seq->ctx->aborted, __ATOMIC_ACQUIRE);

	if (sts == TCMU_STS_GOOD && seq->flush_pending && !aborted) {
		/* On @dev's I/O threads again, under its thread model. */
		seq->flush_pending = false;
		ctx->io = CMD_IO_FLUSH;
		ctx->pub.fua = false;
		io_queue_push(dev->ioq, ctx);
		return;
	}
	dev_io_unlock(dev, ctx);
	/* An aborted command (dev_tmr.h) starts no further step. */
	sts = aborted ? TCMU_STS_TASK_ABORTED : seq->step(seq, sts);
	if (sts != TCMU_STS_ASYNC)
		seq_end(seq, sts);
	if (foreign)
		foreign_put(dev);
}
