/*
 * Running a device's I/O: handler calls, the I/O lock that makes COMPARE
 * AND WRITE atomic, and finishing commands into the ring (commands made
 * of several handler calls are dev_seq.c's). Lock order: dev->io_mutex is
 * a leaf, held only to take, park on or give back the I/O lock; nobody
 * waits while holding the I/O lock itself except for handler calls.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "deadline.h"
#include "dev_durable.h"
#include "dev_seq.h"
#include "device.h"
#include "scsi_defs.h"
#include "scsi_emulate.h"
#include "scsi_sense.h"

#define dev_err(dev, ...) log_write((dev)->log, TCMU_LOG_ERR, (dev)->who, __func__, __VA_ARGS__)

/* A dev_run_io_wait() or dev_io_flush_paused() caller waiting for its
 * command's end. A waiter that gave up leaves @mem (holding this) to be
 * freed by the completion. */
struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	bool abandoned;
	void *mem;
	tcmu_sts sts;
};

static void sync_wait_init(struct sync_wait *w, void *mem)
{
	*w = (struct sync_wait){ .mem = mem };
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
}

static void sync_wait_destroy(struct sync_wait *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

/* The command ended with @sts: wake the waiter, or free what it left. */
static void sync_wait_done(struct sync_wait *w, tcmu_sts sts)
{
	pthread_mutex_lock(&w->lock);
	if (w->abandoned) {
		pthread_mutex_unlock(&w->lock);
		sync_wait_destroy(w);
		free(w->mem);
		return;
	}
	w->sts = sts;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void dev_io_lock_init(struct tcmur_device *dev)
{
	pthread_mutex_init(&dev->io_mutex, NULL);
}

void dev_io_lock_destroy(struct tcmur_device *dev)
{
	pthread_mutex_destroy(&dev->io_mutex);
}

/* Whether the kernel aborted @ctx's command (a sub-op: its command's). */
static bool cmd_aborted(const struct cmd_ctx *ctx)
{
	const struct cmd_ctx *cmd = ctx->is_sub ? ((const struct dev_seq *)ctx)->ctx : ctx;

	return __atomic_load_n(&cmd->aborted, __ATOMIC_ACQUIRE);
}

/* The same, ordered with the aborting side's store (op_start). */
static bool cmd_aborted_sc(const struct cmd_ctx *ctx)
{
	const struct cmd_ctx *cmd = ctx->is_sub ? ((const struct dev_seq *)ctx)->ctx : ctx;

	return __atomic_load_n(&cmd->aborted, __ATOMIC_SEQ_CST);
}

static bool lock_grantable(struct tcmur_device *dev, bool exclusive)
{
	return exclusive ? !dev->io_writer && !dev->io_readers : !dev->io_writer;
}

static void lock_grant(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	if (ctx->exclusive)
		dev->io_writer = true;
	else
		dev->io_readers++;
	ctx->io_locked = true;
}

/*
 * Shared for ordinary I/O, alone for ctx->exclusive. Nobody waits for it:
 * a command that cannot have it now is parked, in arrival order, and
 * pushed back to the I/O queue holding it once it is free (a parked
 * exclusive command holds later shared ones back, so it is not starved).
 */
bool dev_io_lock_or_park(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	bool got = false;

	pthread_mutex_lock(&dev->io_mutex);
	if (!dev->io_parked && lock_grantable(dev, ctx->exclusive)) {
		lock_grant(dev, ctx);
		got = true;
	} else {
		ctx->next = NULL;
		if (dev->io_parked_tail)
			dev->io_parked_tail->next = ctx;
		else
			dev->io_parked = ctx;
		dev->io_parked_tail = ctx;
	}
	pthread_mutex_unlock(&dev->io_mutex);
	return got;
}

void dev_io_unlock(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	struct cmd_ctx *granted = NULL, **tail = &granted, *next;

	if (!ctx->io_locked)
		return;
	ctx->io_locked = false;
	pthread_mutex_lock(&dev->io_mutex);
	if (ctx->exclusive)
		dev->io_writer = false;
	else
		dev->io_readers--;
	while (dev->io_parked && lock_grantable(dev, dev->io_parked->exclusive)) {
		struct cmd_ctx *c = dev->io_parked;

		dev->io_parked = c->next;
		if (!dev->io_parked)
			dev->io_parked_tail = NULL;
		lock_grant(dev, c);
		c->next = NULL;
		*tail = c;
		tail = &c->next;
	}
	pthread_mutex_unlock(&dev->io_mutex);
	/* Parked commands are in flight, so the queue outlives them. */
	for (; granted; granted = next) {
		next = granted->next;
		io_queue_push(dev->ioq, granted);
	}
}

struct cmd_ctx *dev_io_unpark_aborted(struct tcmur_device *dev)
{
	struct cmd_ctx *out = NULL, **tail = &out, **pp, *c;

	pthread_mutex_lock(&dev->io_mutex);
	dev->io_parked_tail = NULL;
	for (pp = &dev->io_parked; (c = *pp);) {
		if (cmd_aborted(c)) {
			*pp = c->next;
			c->next = NULL;
			*tail = c;
			tail = &c->next;
		} else {
			dev->io_parked_tail = c;
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&dev->io_mutex);
	return out;
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

/* How a handler operation's completion (a status returned, or
 * tcmur_cmd_complete) stands with cmd_ctx.op_live. */
enum op_end {
	OP_END_NOW,		/* the op was live: finish the command */
	OP_END_DEFERRED,	/* abort() is running: the device thread finishes */
	OP_END_STRAY,		/* it had completed already: a handler bug */
};

static enum op_end op_end(struct cmd_ctx *ctx, tcmu_sts sts)
{
	for (;;) {
		int s = OP_LIVE;

		if (__atomic_compare_exchange_n(&ctx->op_live, &s, OP_IDLE, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return OP_END_NOW;
		if (s != OP_ABORTING)
			return OP_END_STRAY;
		__atomic_store_n(&ctx->deferred_sts, sts, __ATOMIC_RELAXED);
		if (__atomic_compare_exchange_n(&ctx->op_live, &s, OP_DONE_ABORTING, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return OP_END_DEFERRED;
		/* abort() returned meanwhile: live again, try once more. */
	}
}

/* What @ctx's handler operation is to the flush latch (dev_durable.h). */
static struct dev_durable_op durable_op(const struct cmd_ctx *ctx)
{
	struct dev_durable_op op = { .writes = true };

	switch (ctx->io) {
	case CMD_IO_FLUSH:
		op.stable = op.flush = true;
		break;
	case CMD_IO_WRITE:
	case CMD_IO_WRITE_SAME:
	case CMD_IO_CAW:
		op.stable = ctx->pub.fua;
		break;
	case CMD_IO_UNMAP:
		break;
	default:
		op.writes = false;
		break;
	}
	return op;
}

static tcmu_sts durable_refused(struct cmd_ctx *ctx)
{
	return tcmur_cmd_sense(&ctx->pub, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
}

/* Before a handler operation: false if the latch refuses it (its sense
 * then set by the caller); notes where it starts. */
static bool durable_start(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	struct dev_durable_op op = durable_op(ctx);

	return !op.writes || !dev_durable_refuses(&dev->durable, &op, &ctx->durable);
}

/* A handler operation ended with @sts: latch, or fail a flush that the
 * latch overtook; the status to go on with. */
static tcmu_sts durable_end(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts sts)
{
	struct dev_durable_op op = durable_op(ctx);
	uint8_t key = sts == TCMU_STS_CHECK_CONDITION ? scsi_sense_key(ctx->sense) : 0;
	bool latched_now;

	if (!op.writes)
		return sts;
	if (dev_durable_end(&dev->durable, &op, &ctx->durable, sts, key, &latched_now))
		return durable_refused(ctx);
	if (latched_now)
		dev_err(dev, "%s failed (opcode 0x%02x, sense key 0x%x): what was written "
			"since the last good flush may be lost, so flushes and FUA writes "
			"now fail with MEDIUM ERROR until the LUN is given its config again "
			"(configfs or ChangeMedium) or re-created",
			op.stable ? "a flush or stable write" : "a write", ctx->pub.cdb[0], key);
	return sts;
}

/*
 * Call a handler operation that may complete later (tcmur_cmd_complete).
 * It is live until its one completion: a handler that also returns a
 * status after completing, or completes twice, is caught here and in
 * tcmur_cmd_complete and the extra completion ignored. (A completion
 * that comes after the command's slot was reused cannot be told from a
 * good one: handlers must complete once.) A completion while the
 * handler's abort callback runs is left to the device thread, which
 * finishes the command once abort returns (dev_io_abort_live).
 */
static tcmu_sts call_live(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts sts)
{
	if (sts == TCMU_STS_ASYNC)
		return sts;
	switch (op_end(ctx, sts)) {
	case OP_END_NOW:
		return durable_end(dev, ctx, sts);
	case OP_END_DEFERRED:
		return TCMU_STS_ASYNC;	/* finished by the device thread */
	default:
		stray(dev, ctx, "returned a status after completing it");
		return TCMU_STS_ASYNC;	/* finished already */
	}
}

/*
 * Just before a handler call: false if the command was aborted, and the
 * call is not to be made. An abort (dev_io_abort_live) that comes while
 * we check finds OP_STARTING and takes it back to OP_IDLE, which we see
 * here; one that came before we stored OP_STARTING is seen in the
 * aborted flag (both sides store, then load, sequentially consistent).
 * So an abort either keeps the command from the handler or reaches the
 * handler's abort, never neither.
 */
static bool op_start(struct cmd_ctx *ctx)
{
	int s = OP_STARTING;

	__atomic_store_n(&ctx->op_live, OP_STARTING, __ATOMIC_SEQ_CST);
	if (!cmd_aborted_sc(ctx) &&
	    __atomic_compare_exchange_n(&ctx->op_live, &s, OP_LIVE, false, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST))
		return true;
	__atomic_store_n(&ctx->op_live, OP_IDLE, __ATOMIC_RELEASE);
	return false;
}

#define CALL_LIVE(dev, ctx, call)					\
	(op_start(ctx) ? call_live(dev, ctx, (call)) : TCMU_STS_TASK_ABORTED)

/* Take the handler's operation on @ctx for its abort (OP_ABORTING), or
 * keep one about to start from starting; false if none is live. */
static bool op_abort_begin(struct cmd_ctx *ctx)
{
	for (;;) {
		int s = OP_LIVE;

		if (__atomic_compare_exchange_n(&ctx->op_live, &s, OP_ABORTING, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return true;
		if (s != OP_STARTING)
			return false;
		if (__atomic_compare_exchange_n(&ctx->op_live, &s, OP_IDLE, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return false;	/* op_start sees it: never called */
		/* It went live meanwhile: abort that. */
	}
}

bool dev_io_abort_live(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	void (*abort_fn)(struct tcmur_device *, struct tcmur_cmd *) = dev->handler->ops.abort;
	int s;

	if (!abort_fn || handler_minor(&dev->handler->ops) < 3 || !op_abort_begin(ctx))
		return false;
	abort_fn(dev, &ctx->pub);
	s = OP_ABORTING;
	if (__atomic_compare_exchange_n(&ctx->op_live, &s, OP_LIVE, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return true;
	/* Completed while abort ran (OP_DONE_ABORTING): the completer left
	 * the rest to us. Whatever it was, the command ends here. */
	__atomic_store_n(&ctx->op_live, OP_IDLE, __ATOMIC_RELEASE);
	dev_finish(dev, ctx, __atomic_load_n(&ctx->deferred_sts, __ATOMIC_RELAXED), false);
	return true;
}

tcmu_sts dev_io_handler_op(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	struct tcmur_cmd *cmd = &ctx->pub;

	if (cmd_aborted(ctx))
		return TCMU_STS_TASK_ABORTED;	/* never reaches the handler */
	if (!durable_start(dev, ctx))
		return durable_refused(ctx);
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
	case CMD_IO_WRITE_SAME:
		return CALL_LIVE(dev, ctx, h->write_same(dev, cmd, cmd->iov, cmd->iov_cnt,
							 ctx->len, ctx->offset));
	case CMD_IO_CAW:
		return CALL_LIVE(dev, ctx, h->compare_and_write(dev, cmd, cmd->iov,
								cmd->iov_cnt, ctx->len,
								ctx->offset));
	default:
		break;
	}
	dev_err(dev, "cmd %u has no I/O to run (%d)", ctx->rcmd->cmd_id, ctx->io);
	return tcmur_cmd_sense(cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
}

tcmu_sts dev_run_io(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	tcmu_sts sts;

	if (cmd_aborted(ctx))
		return TCMU_STS_TASK_ABORTED;
	if (ctx->io == CMD_IO_HANDLER) {
		sts = CALL_LIVE(dev, ctx, dev->handler->ops.handle_cmd(dev, &ctx->pub));
		if (sts != TCMU_STS_NOT_HANDLED)
			return sts;
		sts = scsi_emulate(dev, ctx);
		if (sts != TCMU_STS_ASYNC || ctx->io == CMD_IO_NONE)
			return sts;
	}
	if (!ctx->io_locked && !ctx->no_io_lock && !dev_io_lock_or_park(dev, ctx))
		return TCMU_STS_ASYNC;
	return dev_io_handler_op(dev, ctx);
}

bool dev_io_inline(const struct tcmur_device *dev, const struct cmd_ctx *ctx)
{
	const struct tcmur_handler *h = &dev->handler->ops;

	if (!h->inline_io || h->thread_model != TCMUR_THREAD_PARALLEL ||
	    handler_minor(h) < 3)
		return false;
	/* A FUA write the handler cannot do itself ends with a flush that
	 * dev_finish() calls as it is: not on this thread. */
	if (ctx->flush_after)
		return false;
	return ctx->io == CMD_IO_READ || ctx->io == CMD_IO_WRITE || ctx->io == CMD_IO_FLUSH;
}

void dev_run_inline(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	tcmu_sts sts;

	if (!ctx->io_locked && !ctx->no_io_lock && !dev_io_lock_or_park(dev, ctx))
		return;		/* an I/O thread runs it once the lock is free */
	ctx->pub.nowait = true;
	sts = dev_io_handler_op(dev, ctx);
	ctx->pub.nowait = false;
	if (sts == TCMU_STS_AGAIN)
		dev_queue_io(dev, ctx);		/* holding the I/O lock */
	else if (sts != TCMU_STS_ASYNC)
		dev_finish(dev, ctx, sts, false);
}

void dev_finish(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts sts, bool kick)
{
	if (ctx->is_sub) {
		dev_seq_finish(dev, ctx, sts);
		return;
	}
	if (ctx->waiter) {
		sync_wait_done(ctx->waiter, sts);
		return;
	}
	if (__atomic_load_n(&ctx->aborted, __ATOMIC_ACQUIRE)) {
		/* The kernel drops its status; no FUA flush is owed either. */
		sts = TCMU_STS_TASK_ABORTED;
		ctx->flush_after = false;
	}
	if (sts == TCMU_STS_GOOD && ctx->flush_after) {
		ctx->flush_after = false;
		ctx->io = CMD_IO_FLUSH;
		if (!durable_start(dev, ctx))
			sts = durable_refused(ctx);
		else
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
	if (__atomic_load_n(&ctx->late, __ATOMIC_RELAXED))
		dev_watch_done(dev, ctx, (uint8_t)sts);
	dev_stats_done(dev, ctx, sts);
	tcmu_ring_complete(dev->ring, ctx->rcmd, (uint8_t)sts);
	if (kick)
		tcmu_ring_kick(dev->ring);
}

void dev_cmd_complete(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts sts)
{
	/* Counted, so that removal waits until this thread is out of the
	 * ring (the command leaves the in-flight count before the kick). */
	__atomic_add_fetch(&dev->completing, 1, __ATOMIC_ACQ_REL);
	dev_finish(dev, ctx, sts, true);
	__atomic_sub_fetch(&dev->completing, 1, __ATOMIC_ACQ_REL);
}

/* A handler's completion: the one its live operation owes (call_live). */
void tcmur_cmd_complete(struct tcmur_device *dev, struct tcmur_cmd *cmd, tcmu_sts sts)
{
	struct cmd_ctx *ctx = cmd_ctx_of(cmd);

	switch (op_end(ctx, sts)) {
	case OP_END_NOW:
		dev_cmd_complete(dev, ctx, durable_end(dev, ctx, sts));
		break;
	case OP_END_DEFERRED:
		break;		/* the device thread finishes it after abort() */
	default:
		stray(dev, ctx, "tcmur_cmd_complete once more");
		break;
	}
}

tcmu_sts dev_run_io_wait(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	struct sync_wait w;
	tcmu_sts sts;

	sync_wait_init(&w, NULL);
	ctx->waiter = &w;
	sts = dev_run_io(dev, ctx);
	if (sts == TCMU_STS_ASYNC) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		sts = w.sts;
		pthread_mutex_unlock(&w.lock);
	}
	ctx->waiter = NULL;
	sync_wait_destroy(&w);
	return sts;
}

/* dev_io_flush_paused's command: no ring behind it; room for sense as
 * scsi_sense_build() needs it. */
#define PAUSED_FLUSH_SENSE 96
struct paused_flush {
	struct cmd_ctx ctx;
	struct sync_wait w;
	uint8_t sense[PAUSED_FLUSH_SENSE];
};

static const uint8_t sync_cache_cdb[10] = { SYNCHRONIZE_CACHE_10 };

int dev_io_flush_paused(struct tcmur_device *dev, int wait_ms)
{
	struct paused_flush *f = calloc(1, sizeof(*f));
	struct timespec until;
	tcmu_sts sts;
	int err = 0;

	if (!f)
		return -ENOMEM;
	sync_wait_init(&f->w, f);
	f->ctx.dev = dev;
	f->ctx.pub.cdb = sync_cache_cdb;
	f->ctx.pub.cdb_len = sizeof(sync_cache_cdb);
	f->ctx.sense = f->sense;
	f->ctx.io = CMD_IO_FLUSH;
	f->ctx.waiter = &f->w;
	sts = dev_io_handler_op(dev, &f->ctx);
	if (sts != TCMU_STS_ASYNC)
		sync_wait_done(&f->w, sts);
	until = deadline_after_ms(wait_ms);
	pthread_mutex_lock(&f->w.lock);
	while (!f->w.done && !err)
		err = pthread_cond_timedwait(&f->w.cond, &f->w.lock, &until);
	if (!f->w.done) {
		f->w.abandoned = true;		/* its completion frees it */
		pthread_mutex_unlock(&f->w.lock);
		return -ETIMEDOUT;
	}
	sts = f->w.sts;
	pthread_mutex_unlock(&f->w.lock);
	sync_wait_destroy(&f->w);
	free(f);
	return sts == TCMU_STS_GOOD ? 0 : -EIO;
}

void dev_io_thread_fn(void *opaque, struct cmd_ctx *ctx, bool queue_empty)
{
	struct tcmur_device *dev = opaque;
	tcmu_sts sts;

	(void)queue_empty;
	if (ctx->is_sub) {
		/* Completes nothing on our ring, but a command finished
		 * before it may have left its kick to it (below). */
		dev_seq_run(dev, ctx);
	} else {
		sts = dev_run_io(dev, ctx);
		if (sts != TCMU_STS_ASYNC)
			dev_finish(dev, ctx, sts, false);
	}
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
