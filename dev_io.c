/*
 * Running a device's I/O: handler calls, the I/O lock that makes COMPARE
 * AND WRITE atomic, commands made of several handler calls, and finishing
 * commands into the ring. Lock order: the I/O lock is taken before any
 * lock of device.h's order and released after the ring completion.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include "cmd.h"
#include "device.h"
#include "scsi_defs.h"
#include "scsi_emulate.h"

#define dev_err(dev, ...) log_write((dev)->log, TCMU_LOG_ERR, (dev)->who, __func__, __VA_ARGS__)

/* A dev_io_sync() caller waiting for an asynchronous handler. */
struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	tcmu_sts sts;
};

void dev_io_lock_init(struct tcmur_device *dev)
{
	pthread_mutex_init(&dev->io_mutex, NULL);
	pthread_cond_init(&dev->io_cond, NULL);
}

void dev_io_lock_destroy(struct tcmur_device *dev)
{
	pthread_cond_destroy(&dev->io_cond);
	pthread_mutex_destroy(&dev->io_mutex);
}

/* Shared for ordinary I/O, alone for ctx->exclusive; a waiting exclusive
 * command holds new shared ones back so that it is not starved. */
static void io_lock(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	pthread_mutex_lock(&dev->io_mutex);
	if (ctx->exclusive) {
		dev->io_writers_waiting++;
		while (dev->io_writer || dev->io_readers)
			pthread_cond_wait(&dev->io_cond, &dev->io_mutex);
		dev->io_writers_waiting--;
		dev->io_writer = true;
	} else {
		while (dev->io_writer || dev->io_writers_waiting)
			pthread_cond_wait(&dev->io_cond, &dev->io_mutex);
		dev->io_readers++;
	}
	pthread_mutex_unlock(&dev->io_mutex);
	ctx->io_locked = true;
}

void dev_io_unlock(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	if (!ctx->io_locked)
		return;
	ctx->io_locked = false;
	pthread_mutex_lock(&dev->io_mutex);
	if (ctx->exclusive)
		dev->io_writer = false;
	else
		dev->io_readers--;
	pthread_cond_broadcast(&dev->io_cond);
	pthread_mutex_unlock(&dev->io_mutex);
}

void dev_io_lock_shared(struct tcmur_device *dev)
{
	struct cmd_ctx ctx = { .exclusive = false };

	io_lock(dev, &ctx);
}

void dev_io_unlock_shared(struct tcmur_device *dev)
{
	struct cmd_ctx ctx = { .exclusive = false, .io_locked = true };

	dev_io_unlock(dev, &ctx);
}

unsigned int dev_stray_completions(struct tcmur_device *dev)
{
	return __atomic_load_n(&dev->stray_completions, __ATOMIC_RELAXED);
}

static void stray(struct tcmur_device *dev, struct cmd_ctx *ctx, const char *how)
{
	if (__atomic_fetch_add(&dev->stray_completions, 1, __ATOMIC_RELAXED) == 0)
		dev_err(dev, "handler bug: cmd %u (opcode 0x%02x) completed again (%s); "
			"ignored", ctx->rcmd->cmd_id, ctx->pub.cdb[0], how);
}

/*
 * Call a handler operation that may complete later (tcmur_cmd_complete).
 * It is live until its one completion: a handler that also returns a
 * status after completing, or completes twice, is caught here and in
 * tcmur_cmd_complete and the extra completion ignored. (A completion
 * that comes after the command's slot was reused cannot be told from a
 * good one: handlers must complete once.)
 */
static tcmu_sts call_live(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts sts)
{
	if (sts != TCMU_STS_ASYNC &&
	    !__atomic_exchange_n(&ctx->op_live, 0, __ATOMIC_ACQ_REL)) {
		stray(dev, ctx, "returned a status after completing it");
		return TCMU_STS_ASYNC;	/* finished already */
	}
	return sts;
}

#define CALL_LIVE(dev, ctx, call)					\
	(__atomic_store_n(&(ctx)->op_live, 1, __ATOMIC_RELEASE),	\
	 call_live(dev, ctx, (call)))

static tcmu_sts run_handler_op(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	struct tcmur_cmd *cmd = &ctx->pub;

	switch (ctx->io) {
	case CMD_IO_READ:
		return CALL_LIVE(dev, ctx, h->read(dev, cmd, cmd->iov, cmd->iov_cnt, ctx->len,
						   ctx->offset));
	case CMD_IO_WRITE:
		return CALL_LIVE(dev, ctx, h->write(dev, cmd, cmd->iov, cmd->iov_cnt, ctx->len,
						    ctx->offset));
	case CMD_IO_FLUSH:
		return CALL_LIVE(dev, ctx, h->flush(dev, cmd));
	case CMD_IO_UNMAP:
		if (h->unmap)
			return CALL_LIVE(dev, ctx, h->unmap(dev, cmd, ctx->offset, ctx->len));
		break;
	case CMD_IO_CUSTOM:
		return ctx->custom(dev, ctx);
	default:
		break;
	}
	dev_err(dev, "cmd %u has no I/O to run (%d)", ctx->rcmd->cmd_id, ctx->io);
	return tcmur_cmd_sense(cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
}

tcmu_sts dev_run_io(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	tcmu_sts sts;

	if (ctx->io == CMD_IO_HANDLER) {
		sts = CALL_LIVE(dev, ctx, dev->handler->ops.handle_cmd(dev, &ctx->pub));
		if (sts != TCMU_STS_NOT_HANDLED)
			return sts;
		sts = scsi_emulate(dev, ctx);
		if (sts != TCMU_STS_ASYNC || ctx->io == CMD_IO_NONE)
			return sts;
	}
	if (!ctx->io_locked && !ctx->waiter)
		io_lock(dev, ctx);
	return run_handler_op(dev, ctx);
}

void dev_finish(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts sts, bool kick)
{
	if (ctx->waiter) {
		struct sync_wait *w = ctx->waiter;

		pthread_mutex_lock(&w->lock);
		w->sts = sts;
		w->done = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		return;
	}
	if (sts == TCMU_STS_GOOD && ctx->flush_after) {
		ctx->flush_after = false;
		ctx->io = CMD_IO_FLUSH;
		sts = CALL_LIVE(dev, ctx, dev->handler->ops.flush(dev, &ctx->pub));
		if (sts == TCMU_STS_ASYNC)
			return;
	}
	dev_io_unlock(dev, ctx);
	if (sts > 0xff) {
		dev_err(dev, "cmd %u (opcode 0x%02x) finished with internal status 0x%x",
			ctx->rcmd->cmd_id, ctx->pub.cdb[0], sts);
		sts = tcmur_cmd_sense(&ctx->pub, SENSE_HARDWARE_ERROR,
				      ASC_INTERNAL_TARGET_FAILURE);
	}
	tcmu_ring_complete(dev->ring, ctx->rcmd, (uint8_t)sts);
	if (kick)
		tcmu_ring_kick(dev->ring);
}

void tcmur_cmd_complete(struct tcmur_device *dev, struct tcmur_cmd *cmd, tcmu_sts sts)
{
	struct cmd_ctx *ctx = cmd_ctx_of(cmd);

	if (!__atomic_exchange_n(&ctx->op_live, 0, __ATOMIC_ACQ_REL)) {
		stray(dev, ctx, "tcmur_cmd_complete once more");
		return;
	}
	/* Counted, so that removal waits until this thread is out of the
	 * ring (the command leaves the in-flight count before the kick). */
	__atomic_add_fetch(&dev->completing, 1, __ATOMIC_ACQ_REL);
	dev_finish(dev, cmd_ctx_of(cmd), sts, true);
	__atomic_sub_fetch(&dev->completing, 1, __ATOMIC_ACQ_REL);
}

static tcmu_sts io_sync_one(struct tcmur_device *dev, struct cmd_ctx *sub)
{
	struct sync_wait w = { .done = false };
	tcmu_sts sts;

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	sub->waiter = &w;
	sts = run_handler_op(dev, sub);
	if (sts == TCMU_STS_ASYNC) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		sts = w.sts;
		pthread_mutex_unlock(&w.lock);
	}
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return sts;
}

tcmu_sts dev_io_sync(struct tcmur_device *dev, struct cmd_ctx *parent, enum cmd_io io,
		     struct iovec *iov, size_t iov_cnt, uint64_t offset, uint64_t len,
		     bool stable)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	struct cmd_ctx sub = *parent;	/* the same CDB, sense buffer, format */
	tcmu_sts sts;

	sub.pub.iov = iov;
	sub.pub.iov_cnt = iov_cnt;
	sub.pub.data_len = len;
	sub.pub.hpriv = NULL;
	sub.pub.fua = io == CMD_IO_WRITE && stable;
	sub.io = io;
	sub.offset = offset;
	sub.len = len;
	sub.flush_after = false;
	sub.io_locked = false;
	sts = io_sync_one(dev, &sub);
	if (sts == TCMU_STS_GOOD && sub.pub.fua && !(h->can_fua && h->can_fua(dev))) {
		sub.io = CMD_IO_FLUSH;
		sub.pub.fua = false;
		sts = io_sync_one(dev, &sub);
	}
	return sts;
}

void dev_io_thread_fn(void *opaque, struct cmd_ctx *ctx, bool queue_empty)
{
	struct tcmur_device *dev = opaque;
	tcmu_sts sts = dev_run_io(dev, ctx);

	(void)queue_empty;
	if (sts == TCMU_STS_ASYNC)
		return;
	dev_finish(dev, ctx, sts, false);
	/*
	 * Tell the kernel unless a command still waiting in the queue will
	 * (its kick covers ours): one kick per batch. Whether the queue was
	 * empty when this one was taken is not enough: with several I/O
	 * threads, a command taken earlier can finish after the last one
	 * taken has kicked. If the next command is slow, the device thread
	 * kicks for this one within DEV_KICK_DELAY_MS (device.c).
	 */
	if (io_queue_empty(dev->ioq))
		tcmu_ring_kick(dev->ring);
}
