/*
 * Commands made of several handler operations (VERIFY, WRITE AND VERIFY,
 * COMPARE AND WRITE, WRITE SAME, UNMAP, EXTENDED COPY) run as a chain of
 * continuations, a struct dev_seq: each handler operation is a sub-op
 * queued to the I/O queue of the device it runs on, and its completion,
 * on whatever thread the handler completes it, runs the command's next
 * step. No thread waits for a handler, and a device's handler is only
 * ever called from that device's own I/O threads, under its own thread
 * model.
 *
 * A command the kernel aborts (dev_tmr.h) starts no further step: the
 * sub-op in the handler's hands finishes, and the command ends with TASK
 * ABORTED (queued or parked sub-ops never reach the handler).
 *
 * A sub-op on another device (EXTENDED COPY) is counted in flight there
 * and refused once that device pauses (reconfigure, removal) or goes
 * offline, so that its handler is never called while closed. It takes
 * that device's I/O lock shared, for itself alone: a command never holds
 * one device's lock while waiting for another's.
 *
 * Lock order: see device.h (dev->sub_lock after dev->state_lock, before
 * the I/O queue's lock).
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DEV_SEQ_H
#define DEV_SEQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "cmd.h"

struct dev_seq;

/*
 * The next step of @seq, given the status of its last sub-op (GOOD for
 * the first step): start one sub-op (dev_seq_io) and return
 * TCMU_STS_ASYNC, or return the command's final status. A step that has
 * started a sub-op must not touch @seq again: the sub-op may already have
 * completed and run the next step on another thread.
 */
typedef tcmu_sts (*dev_seq_step)(struct dev_seq *seq, tcmu_sts sts);

struct dev_seq {
	struct cmd_ctx sub;		/* the sub-op in flight; must stay first */
	struct tcmur_device *dev;	/* the command's device */
	struct cmd_ctx *ctx;		/* the command */
	dev_seq_step step;
	void (*free)(struct dev_seq *seq);	/* frees the struct holding it */
	bool flush_pending;		/* stable write, handler cannot FUA */
};

/*
 * Start @seq (dev, ctx, step and free filled in) from a CMD_IO_CUSTOM
 * function; return what it returns. TCMU_STS_ASYNC: the last step will
 * complete the command (tcmur_cmd_complete) and free @seq. Otherwise the
 * final status, @seq freed.
 */
tcmu_sts dev_seq_start(struct dev_seq *seq);

/*
 * From a step: one handler operation @io on @dev, on @iov (which must
 * outlive it), @len bytes at byte @offset; sense goes to the command.
 * @stable: a write is on stable storage when the step after it runs (FUA,
 * or a flush after it). @take_lock: the sub-op takes @dev's I/O lock
 * shared (for a command that holds none). 0, or -ENODEV when @dev is
 * another device that is paused, going away or offline.
 */
int dev_seq_io(struct dev_seq *seq, struct tcmur_device *dev, enum cmd_io io,
	       struct iovec *iov, size_t iov_cnt, uint64_t offset, uint64_t len,
	       bool stable, bool take_lock);

/* For dev_io.c: run a queued sub-op on an I/O thread, and finish it
 * (dev_finish of a sub-op). */
void dev_seq_run(struct tcmur_device *dev, struct cmd_ctx *ctx);
void dev_seq_finish(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts sts);

/* For device.c: init/destroy; take other devices' sub-ops (after the I/O
 * threads start); stop taking them; how many are still in flight (a
 * pause waits for them as for its own commands). */
void dev_seq_init(struct tcmur_device *dev);
void dev_seq_destroy(struct tcmur_device *dev);
void dev_seq_open(struct tcmur_device *dev);
void dev_seq_close(struct tcmur_device *dev);
unsigned int dev_seq_foreign(struct tcmur_device *dev);

#endif
