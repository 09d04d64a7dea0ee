/*
 * The daemon's view of a command: the handler-visible struct tcmur_cmd
 * first, then what the core needs to route and finish it. It lives in the
 * ring command's private area, so no allocation per command.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef CMD_H
#define CMD_H

#include <stdint.h>

#include "dev_durable.h"
#include "libtcmu.h"
#include "tcmu-runner.h"

enum cmd_io {
	CMD_IO_NONE,
	CMD_IO_READ,
	CMD_IO_WRITE,
	CMD_IO_FLUSH,
	CMD_IO_UNMAP,
	CMD_IO_HANDLER,		/* handler's handle_cmd sees it first */
	CMD_IO_CUSTOM,		/* ctx->custom runs handler calls in turn */
	CMD_IO_WRITE_SAME,	/* the handler's write_same (API 1.4) */
	CMD_IO_CAW,		/* the handler's compare_and_write (API 1.4) */
};

struct sync_wait;

/* cmd_ctx.op_live: where a handler operation on the command stands. */
enum cmd_op_state {
	OP_IDLE,		/* none, or it has completed */
	OP_STARTING,		/* about to call the handler (op_start) */
	OP_LIVE,		/* running, or answered TCMU_STS_ASYNC */
	OP_ABORTING,		/* live, and its abort callback is running */
	OP_DONE_ABORTING,	/* completed while abort ran: deferred_sts */
};

struct cmd_ctx {
	struct tcmur_cmd pub;		/* must stay first */
	struct tcmu_cmd *rcmd;		/* the ring's command */
	struct tcmur_device *dev;
	uint8_t *sense;			/* rcmd->sense */
	bool sense_desc;		/* descriptor format sense */
	enum cmd_io io;
	uint64_t offset;		/* bytes, for read/write/unmap */
	uint64_t len;
	bool flush_after;		/* FUA the handler can't do itself */
	struct cmd_ctx *next;		/* I/O queue link */
	/* CMD_IO_CUSTOM: runs on an I/O thread and returns the final
	 * status, or TCMU_STS_ASYNC when it has started a dev_seq (dev_seq.h)
	 * that completes the command; it never waits for a handler. */
	tcmu_sts (*custom)(struct tcmur_device *dev, struct cmd_ctx *ctx);
	void *custom_arg;		/* custom's, freed by custom */
	bool exclusive;			/* no other I/O while this one runs */
	bool no_io_lock;		/* takes no I/O lock (its sub-ops do) */
	bool io_locked;			/* holds the device's I/O lock */
	bool is_sub;			/* a dev_seq's sub-op (dev_seq.h) */
	bool sub_lock;			/* sub-op: takes its device's lock */
	struct sync_wait *waiter;	/* dev_run_io_wait() waits for it */
	/* enum cmd_op_state (atomic): a completion finding OP_IDLE is a
	 * stray one; one during the handler's abort callback is deferred
	 * until it returns (dev_io.c). */
	int op_live;
	int deferred_sts;		/* tcmu_sts, for OP_DONE_ABORTING (atomic) */
	struct dev_durable_mark durable; /* where its handler op started */
	/* Timeouts and task management (dev_watch.h, dev_tmr.h). */
	uint64_t taken_ns;		/* taken off the ring (CLOCK_MONOTONIC) */
	int late;			/* logged as late (atomic) */
	int aborted;			/* named by a TMR (atomic): never runs again */
};

static inline struct cmd_ctx *cmd_ctx_of(struct tcmur_cmd *cmd)
{
	return (struct cmd_ctx *)cmd;
}

#endif
