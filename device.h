/*
 * A TCMU device the daemon serves: its ring, its handler, its I/O threads
 * and the SCSI state the emulation keeps for it.
 *
 * Lock order: dev->state_lock, then dev->sub_lock, then the ring's lock,
 * then the I/O queue's lock; dev->io_mutex is a leaf. No lock is held
 * while waiting for another device. The device thread owns the ring's
 * consumer side.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DEVICE_H
#define DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cmd.h"
#include "dev_durable.h"
#include "dev_stats.h"
#include "dev_tmr.h"
#include "dev_ua.h"
#include "dev_watch.h"
#include "handler_loader.h"
#include "io_queue.h"
#include "libtcmu.h"
#include "log.h"
#include "xcopy_status.h"

struct tcmur_device {
	struct tcmu_dev_info info;
	const struct handler *handler;
	const struct log_cfg *log;
	char who[320];			/* "<name> <subtype>" for log lines */

	int fd;				/* UIO fd (or a test's stand-in) */
	void *map;
	size_t map_size;
	bool owns_uio;			/* close fd/unmap map on free */
	struct tcmu_ring *ring;
	struct tcmu_logger logger;

	pthread_t thread;
	bool thread_started;
	int stop_state;			/* DEV_THREAD_* (device.c), atomic */
	int stop_efd;			/* eventfd that stops the thread */
	struct io_queue *ioq;
	int completing;			/* async completions under way (atomic) */
	unsigned int stray_completions;	/* a handler completed twice (atomic) */

	/* The I/O lock: commands share it, COMPARE AND WRITE takes it alone.
	 * Not a pthread rwlock: an async command releases it from the
	 * handler's thread, and nobody blocks on it (dev_io_lock_or_park). */
	pthread_mutex_t io_mutex;
	unsigned int io_readers;
	bool io_writer;
	struct cmd_ctx *io_parked, *io_parked_tail;	/* waiting for it */

	/* Other devices' EXTENDED COPY sub-ops queued here (dev_seq.c). */
	pthread_mutex_t sub_lock;
	bool subs_open;			/* taking them: not paused */
	unsigned int subs_inflight;

	pthread_mutex_t state_lock;	/* guards the fields below */
	uint64_t size;			/* bytes */
	uint32_t block_size;
	uint32_t max_xfer_blocks;	/* VPD 0xB0 MAXIMUM TRANSFER LENGTH */
	bool write_cache;
	bool d_sense;			/* control mode page D_SENSE */
	bool offline;			/* handler closed after a failed reopen */
	bool failed;			/* no device thread: see dev_restart() */
	bool gone;			/* its uio went away: failed for good */
	bool reopen_wanted;		/* the handler asked (tcmur_dev_reopen) */
	/* "<subtype>/<config>" the handler asked for (tcmur_dev_set_config),
	 * not yet written to configfs; "": none. */
	char config_wanted[1040];
	unsigned int restarts;		/* dev_restart() calls since the last good one */
	char unit_serial[128];		/* VPD 0x80, from configfs ("": none yet) */
	bool tas;			/* control mode page TAS: the kernel's emulate_tas */
	char handler_cfg[1024];		/* after "<subtype>/" */
	struct dev_ua_queue ua;		/* pending unit attentions (dev_ua.h) */
	struct xcopy_status_log xcopies; /* finished copies (xcopy_status.h) */

	void *hpriv;			/* handler's dev_private_size bytes */

	struct dev_watch watch;		/* late commands (dev_watch.h) */
	struct dev_tmr_stats tmr_stats;	/* task management (dev_tmr.h), atomic */
	struct dev_stats stats;		/* I/O statistics (dev_stats.h), atomic */
	struct dev_durable durable;	/* a failed flush remembered (dev_durable.h) */

	/* Where configfs is mounted ("": /sys/kernel/config); a test points
	 * it at a tree of its own. Set at creation, then read-only. */
	char cfgfs_root[256];
	/* ALUA groups as last read from configfs, and the states the daemon
	 * keeps itself (scsi_alua.h); its own lock. */
	struct alua_cache *alua;

	/* The daemon's devices, for EXTENDED COPY (NULL: none but us). */
	struct dev_registry *registry;
	unsigned int registry_refs;	/* atomic (dev_registry.h) */

	void (*on_failed)(void *opaque, unsigned int uio_minor);
	void *failed_opaque;
	void (*on_freed)(void *opaque);
	void *freed_opaque;
};

/* Where a device's settings come from when it is made. */
struct dev_registry;
struct alua_cache;

struct dev_params {
	uint64_t size;
	uint32_t block_size;
	uint32_t max_xfer_blocks;
	bool write_cache;
	bool tas_off;			/* the kernel's emulate_tas is 0 */
	const char *unit_serial;
	struct dev_registry *registry;	/* may be NULL */
	/* Optional: called from any thread when the device stops serving
	 * (its thread met an error, or could not be restarted; or its uio
	 * went away, dev_is_gone, and the owner drops it), or when its
	 * handler asks to be reopened (dev_wants_reopen) or for a new config
	 * (dev_take_config_wanted). The owner shows it and may try
	 * dev_restart() or dev_reopen_now(), or write the config to
	 * configfs, on its own thread. */
	void (*on_failed)(void *opaque, unsigned int uio_minor);
	void *failed_opaque;
	/* Optional: called on the device's own thread when dev_free() had
	 * to leave the freeing to it (it returned false), once done. An
	 * owner that does not own the UIO fd and map keeps them till then. */
	void (*on_freed)(void *opaque);
	void *freed_opaque;
	const char *cfgfs_root;		/* NULL: /sys/kernel/config */
};

/* The configfs root to pass to tcmu_cfgfs_*(): NULL for the real one. */
static inline const char *dev_cfgfs_root(const struct tcmur_device *dev)
{
	return dev->cfgfs_root[0] ? dev->cfgfs_root : NULL;
}

/*
 * Make a device over an already mapped region (@fd, @map) and open it with
 * @handler; start its thread. The device takes ownership of fd/map when
 * @owns_uio. Returns 0 or -errno, having logged why.
 */
int dev_new(struct tcmur_device **out, const struct tcmu_dev_info *info,
	    const struct handler *handler, const struct dev_params *params,
	    int fd, void *map, size_t map_size, bool owns_uio,
	    const struct log_cfg *log);
/*
 * Stop the thread, close the handler, free; true once done. A handler
 * never has its device closed or freed under a command it still holds:
 * if some remain after a moment (a backend that hangs; the kernel fails
 * them to the initiator at its cmd_time_out), a thread of the device's
 * own frees it once the last completes, calls params->on_freed, and
 * dev_free returns false at once. Main thread.
 */
bool dev_free(struct tcmur_device *dev);
/* "running", "offline" (handler could not reopen: NOT READY) or "failed"
 * (no thread serves the ring). */
const char *dev_state_name(struct tcmur_device *dev);
/* Restart a failed device's threads; 0 or -errno (and failed again). */
int dev_restart(struct tcmur_device *dev);
/* Whether the handler asked to be closed and opened again (API 1.4,
 * tcmur_dev_reopen), and not yet done. */
bool dev_wants_reopen(struct tcmur_device *dev);
/* The "<subtype>/<config>" the handler asked for (API 1.7,
 * tcmur_dev_set_config) into @out, taken: true once per request. */
bool dev_take_config_wanted(struct tcmur_device *dev, char *out, size_t len);
/*
 * Do it (main thread): pause the device until its commands have ended,
 * close the handler, open it again with the same settings, resume. 0; or
 * -EBUSY (commands did not end: nothing done, still wanted), or the
 * open's -errno (the device is offline, answering NOT READY, and the
 * reopen still wanted: the owner tries again later).
 */
int dev_reopen_now(struct tcmur_device *dev);
/*
 * Apply a RECONFIG event (main thread): pause the device, let the handler
 * apply what really changes (or reopen it), take the new values and
 * raise the unit attentions they call for, resume. 0, or -errno with
 * nothing changed and no unit attention raised.
 */
int dev_reconfig(struct tcmur_device *dev, const struct tcmu_reconfig *rc);

/* Hand a validated I/O command to the I/O threads (or run it). */
void dev_queue_io(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* Finish a command: FUA follow-up, ring completion, kick when due. */
void dev_finish(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts sts,
		bool kick);
/* Finish a command from any thread, as the core's own asynchronous
 * completion (a multi-step command's last step): kick, and counted for
 * removal. Handlers use tcmur_cmd_complete. */
void dev_cmd_complete(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts sts);
/* Completions a handler sent for commands it had already completed
 * (ignored, and logged): a handler bug tcmu-sim check reports. */
unsigned int dev_stray_completions(struct tcmur_device *dev);
/* Run a command's I/O on the calling thread; it takes the I/O lock,
 * which dev_finish() (or, for a caller that finishes by itself,
 * dev_io_unlock()) gives back. */
tcmu_sts dev_run_io(struct tcmur_device *dev, struct cmd_ctx *ctx);
void dev_io_unlock(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* Whether @ctx's I/O may first run on the device thread (the handler's
 * inline_io: a plain read, write or flush). */
bool dev_io_inline(const struct tcmur_device *dev, const struct cmd_ctx *ctx);
/* On the device thread: take the I/O lock (or park), call the handler
 * with cmd->nowait, and finish the command, or hand it to the I/O
 * threads if the handler answers TCMU_STS_AGAIN. The caller kicks. */
void dev_run_inline(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* Take @dev's I/O lock for @ctx (true), or park @ctx to be pushed to the
 * I/O queue holding it when it is free (false). */
bool dev_io_lock_or_park(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* Take the parked commands (and sub-ops) whose command the kernel has
 * aborted off the parked list, linked by ->next, for the caller to
 * finish (dev_finish, TASK ABORTED); they hold no lock. */
struct cmd_ctx *dev_io_unpark_aborted(struct tcmur_device *dev);
/* The device thread, for an aborted command: if a handler operation has
 * it, call the handler's abort callback (API 1.3) and return true; a
 * completion meanwhile is held back until it returns, then finished
 * here. False: no operation has it, or the handler has no callback. */
bool dev_io_abort_live(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* The handler operation ctx->io names (or ctx->custom), on this thread. */
tcmu_sts dev_io_handler_op(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* dev_run_io, then wait for the command's end (TCMU_STS_ASYNC included),
 * with no ring: for the fuzzers. The caller gives the I/O lock back. */
tcmu_sts dev_run_io_wait(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* The core's own flush of a paused device (no ring command behind it),
 * waiting @wait_ms at most: 0, -EIO if the handler failed it (or the
 * flush latch refused it: dev_durable.h), -ETIMEDOUT if it has not ended
 * (it goes on, and frees itself when it does). */
int dev_io_flush_paused(struct tcmur_device *dev, int wait_ms);
/* Whether @dev is offline (handler closed after a failed reopen). */
bool dev_is_offline(struct tcmur_device *dev);
/* No thread serves the ring (see dev_restart). */
bool dev_is_failed(struct tcmur_device *dev);
/* Failed because its uio went away (an error or hang-up on the fd): the
 * kernel dropped the device, REMOVED or not, and may give its minor to
 * the next one. No restart serves it again. */
bool dev_is_gone(struct tcmur_device *dev);
/* The I/O threads' work function (io_queue_fn). */
void dev_io_thread_fn(void *opaque, struct cmd_ctx *ctx, bool queue_empty);

/* Set up and tear down the I/O lock (dev_new/dev_free). */
void dev_io_lock_init(struct tcmur_device *dev);
void dev_io_lock_destroy(struct tcmur_device *dev);

#endif
