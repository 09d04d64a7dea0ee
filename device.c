/*
 * A served device: its thread that drains the ring, its I/O threads, and
 * the handler calls around them. See device.h for the lock order.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cmd.h"
#include "deadline.h"
#include "dev_registry.h"
#include "dev_seq.h"
#include "device.h"
#include "scsi_alua.h"
#include "scsi_defs.h"
#include "scsi_emulate.h"

#define DEV_DEFAULT_IO_THREADS 4
/* The longest a finished command's status waits unseen by the kernel:
 * the I/O threads kick when their queue empties, and while commands are
 * in flight this thread kicks for what finished behind a slow one. */
#define DEV_KICK_DELAY_MS 1
/*
 * How long a pause waits for commands in flight. A handler never has a
 * command closed or freed under it: removal waits a moment, then leaves
 * the rest to a thread of the device's own (dev_free); a reconfigure
 * that cannot drain is refused, the device serving on; a restart keeps
 * the I/O threads that still run commands.
 */
#define DEV_FREE_GRACE_MS 200
#define DEV_RECONFIG_DRAIN_MS 5000
/* The flush before the write cache goes off. */
#define DEV_RECONFIG_FLUSH_MS 10000
#define DEV_RESTART_DRAIN_MS 1000
/*
 * How long a pause waits for the device thread to stop. It may be in an
 * inline handler call (API 1.3) that blocks: the main loop, which
 * pauses devices, never waits longer; the change that wanted the pause
 * is refused and the thread serves on (dev_thread_stop).
 */
#define DEV_THREAD_JOIN_MS 1000
/* A removed device still waiting for its handler says so this often. */
#define DEV_ZOMBIE_LOG_MS 30000

#define dev_err(dev, ...) log_write((dev)->log, TCMU_LOG_ERR, (dev)->who, __func__, __VA_ARGS__)
#define dev_warn(dev, ...) log_write((dev)->log, TCMU_LOG_WARN, (dev)->who, __func__, __VA_ARGS__)
#define dev_info(dev, ...) log_write((dev)->log, TCMU_LOG_INFO, (dev)->who, __func__, __VA_ARGS__)
#define dev_dbg(dev, ...) log_write((dev)->log, TCMU_LOG_DEBUG, (dev)->who, __func__, __VA_ARGS__)
/* A step of opening the device failed with -errno @err: an error, but
 * for a descriptor limit reached, which the daemon names (fd_limit.h). */
#define dev_open_err(dev, err, ...)						\
	log_write((dev)->log, tcmu_open_err_level(err), (dev)->who, __func__, __VA_ARGS__)

static bool dev_busy(struct tcmur_device *dev)
{
	return tcmu_ring_inflight(dev->ring) ||
	       __atomic_load_n(&dev->completing, __ATOMIC_ACQUIRE) ||
	       dev_seq_foreign(dev);
}

void dev_queue_io(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	io_queue_push(dev->ioq, ctx);
}

bool dev_is_offline(struct tcmur_device *dev)
{
	bool off;

	pthread_mutex_lock(&dev->state_lock);
	off = dev->offline;
	pthread_mutex_unlock(&dev->state_lock);
	return off;
}

bool dev_is_failed(struct tcmur_device *dev)
{
	bool failed;

	pthread_mutex_lock(&dev->state_lock);
	failed = dev->failed;
	pthread_mutex_unlock(&dev->state_lock);
	return failed;
}

static void dev_take_cmd(struct tcmur_device *dev, struct tcmu_cmd *rcmd)
{
	struct cmd_ctx *ctx = rcmd->priv;
	tcmu_sts sts;

	ctx->pub.cdb = rcmd->cdb;
	ctx->pub.cdb_len = rcmd->cdb_len;
	ctx->pub.iov = rcmd->iov;
	ctx->pub.iov_cnt = rcmd->iov_cnt;
	ctx->pub.data_len = rcmd->data_len;
	ctx->rcmd = rcmd;
	ctx->dev = dev;
	ctx->sense = rcmd->sense;
	dev_watch_take(dev, ctx);
	pthread_mutex_lock(&dev->state_lock);
	ctx->sense_desc = dev->d_sense;
	pthread_mutex_unlock(&dev->state_lock);

	if (dev_is_offline(dev)) {
		dev_finish(dev, ctx, tcmur_cmd_sense(&ctx->pub, SENSE_NOT_READY,
						     ASC_NOT_READY_MANUAL_INTERVENTION), false);
		return;
	}
	/* The one place unit attentions are reported (dev_ua.h). */
	if (dev_ua_report(dev, ctx, &sts)) {
		dev_finish(dev, ctx, sts, false);
		return;
	}
	if (dev->handler->ops.handle_cmd) {
		ctx->io = CMD_IO_HANDLER;
		dev_queue_io(dev, ctx);
		return;
	}
	sts = scsi_emulate(dev, ctx);
	if (sts == TCMU_STS_ASYNC && dev_io_inline(dev, ctx))
		dev_run_inline(dev, ctx);
	else if (sts == TCMU_STS_ASYNC && ctx->io != CMD_IO_NONE)
		dev_queue_io(dev, ctx);
	else if (sts != TCMU_STS_ASYNC)
		dev_finish(dev, ctx, sts, false);
}

/* tcmu_ring_next's TMR callback: abort what it names (dev_tmr.h). */
static void dev_tmr(void *opaque, const struct tcmu_tmr *tmr)
{
	dev_tmr_handle(opaque, tmr);
}

bool dev_is_gone(struct tcmur_device *dev)
{
	bool gone;

	pthread_mutex_lock(&dev->state_lock);
	gone = dev->gone;
	pthread_mutex_unlock(&dev->state_lock);
	return gone;
}

/* The device no longer serves its ring: say so once, and tell the owner.
 * @gone: because its uio went away, the kernel having dropped it; no
 * restart can serve it again. */
static void dev_fail(struct tcmur_device *dev, bool gone, const char *why)
{
	pthread_mutex_lock(&dev->state_lock);
	dev->failed = true;
	dev->gone |= gone;
	pthread_mutex_unlock(&dev->state_lock);
	if (gone)
		dev_err(dev, "device gone: %s; the kernel no longer has it", why);
	else
		dev_err(dev, "device failed: %s; its commands wait for a restart or time "
			"out in the kernel", why);
	if (dev->on_failed)
		dev->on_failed(dev->failed_opaque, dev->info.uio_minor);
}

/* dev->stop_state: a stop asked through stop_efd, which a pause that
 * gave up waiting may withdraw before the thread takes it. */
enum { DEV_THREAD_RUN, DEV_THREAD_STOP_ASKED, DEV_THREAD_STOPPING };

/* The device thread, at a stop event: true to stop; false if the stop
 * was withdrawn (the event cleared, serve on). */
static bool dev_thread_stop_taken(struct tcmur_device *dev)
{
	int s = DEV_THREAD_STOP_ASKED;
	uint64_t v;

	if (__atomic_compare_exchange_n(&dev->stop_state, &s, DEV_THREAD_STOPPING, false,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return true;
	if (read(dev->stop_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		dev_err(dev, "clear withdrawn stop: %s", strerror(errno));
	return false;
}

/*
 * The device thread, at an event on the uio fd: clear it (reading does;
 * the count itself is not needed), true. False once the uio went away:
 * the kernel's uio_poll reports an error (and its read -EIO) for a
 * device it has unregistered, whether or not a REMOVED event told us.
 */
static bool dev_thread_event(struct tcmur_device *dev, short revents)
{
	char why[64];
	uint32_t count;

	if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
		snprintf(why, sizeof(why), "its uio reports %s (revents 0x%x)",
			 revents & POLLHUP ? "a hang-up" : "an error", revents);
		dev_fail(dev, true, why);
		return false;
	}
	if (!(revents & POLLIN) || read(dev->fd, &count, sizeof(count)) >= 0 ||
	    errno == EAGAIN || errno == EINTR)
		return true;
	snprintf(why, sizeof(why), "reading its uio: %s", strerror(errno));
	dev_fail(dev, true, why);
	return false;
}

static void *dev_thread(void *arg)
{
	struct tcmur_device *dev = arg;
	struct pollfd pfd[2] = {
		{ .fd = dev->fd, .events = POLLIN },
		{ .fd = dev->stop_efd, .events = POLLIN },
	};

	for (;;) {
		struct tcmu_cmd *rcmd;
		unsigned int inflight;

		while ((rcmd = tcmu_ring_next(dev->ring, dev_tmr, dev)))
			dev_take_cmd(dev, rcmd);
		tcmu_ring_kick(dev->ring);	/* a no-op when nothing finished */
		inflight = tcmu_ring_inflight(dev->ring);
		if (inflight)
			dev_watch_scan(dev);	/* late commands (dev_watch.h) */
		else
			dev_watch_idle(dev);
		if (poll(pfd, 2, inflight ? DEV_KICK_DELAY_MS : -1) < 0) {
			if (errno == EINTR)
				continue;
			dev_err(dev, "poll: %s", strerror(errno));
			dev_fail(dev, false, "cannot wait for commands");
			break;
		}
		if (pfd[1].revents) {
			if (dev_thread_stop_taken(dev))
				break;
			continue;
		}
		if (!dev_thread_event(dev, pfd[0].revents))
			break;
	}
	return NULL;
}

static unsigned int dev_io_threads(const struct tcmur_handler *h)
{
	if (h->thread_model == TCMUR_THREAD_SERIAL)
		return 1;
	return h->nr_threads ? h->nr_threads : DEV_DEFAULT_IO_THREADS;
}

/* "tcmu-uioN": an admin finds a device's thread in top -H. */
static void dev_thread_name(struct tcmur_device *dev)
{
	char tname[16];

	snprintf(tname, sizeof(tname), "tcmu-uio%u", dev->info.uio_minor);
	pthread_setname_np(dev->thread, tname);
}

/* Start the device thread and the I/O threads. */
static int dev_resume(struct tcmur_device *dev)
{
	uint64_t zero = 0;
	int err;

	/* Kept by a pause that did not drain: its threads run commands. */
	if (!dev->ioq) {
		err = io_queue_new(&dev->ioq, dev_io_threads(&dev->handler->ops),
				   dev_io_thread_fn, dev);
		if (err) {
			dev_err(dev, "start I/O threads: %s", strerror(-err));
			return err;
		}
	}
	/* Kept too by a pause that gave up waiting for it (it serves on). */
	if (!dev->thread_started) {
		/* Drain any stop request left from a pause. */
		if (read(dev->stop_efd, &zero, sizeof(zero)) < 0 && errno != EAGAIN)
			dev_err(dev, "reset stop event: %s", strerror(errno));
		__atomic_store_n(&dev->stop_state, DEV_THREAD_RUN, __ATOMIC_SEQ_CST);
		err = pthread_create(&dev->thread, NULL, dev_thread, dev);
		if (err) {
			dev_err(dev, "start device thread: %s", strerror(err));
			io_queue_free(dev->ioq);
			dev->ioq = NULL;
			return -err;
		}
		dev->thread_started = true;
		dev_thread_name(dev);
	}
	dev_seq_open(dev);
	return 0;
}

/* Wait up to @wait_ms for no command in flight; true if none is. */
static bool dev_drain(struct tcmur_device *dev, int wait_ms)
{
	for (int waited = 0; dev_busy(dev) && waited < wait_ms; waited++)
		usleep(1000);
	return !dev_busy(dev);
}

/*
 * Stop the device thread, waiting DEV_THREAD_JOIN_MS at most; true once
 * it has ended. False: it is still in a handler call (inline I/O); with
 * @withdraw the stop is taken back and it serves on, else it stops when
 * the call returns and whoever frees the device joins it (dev_reaper).
 */
static bool dev_thread_stop(struct tcmur_device *dev, bool withdraw)
{
	int s = DEV_THREAD_STOP_ASKED;
	uint64_t one = 1;
	struct timespec until;

	if (!dev->thread_started)
		return true;
	__atomic_store_n(&dev->stop_state, DEV_THREAD_STOP_ASKED, __ATOMIC_SEQ_CST);
	if (write(dev->stop_efd, &one, sizeof(one)) != sizeof(one))
		dev_err(dev, "signal device thread: %s", strerror(errno));
	until = deadline_after_ms(DEV_THREAD_JOIN_MS);
	if (pthread_timedjoin_np(dev->thread, NULL, &until)) {
		if (!withdraw)
			return false;
		if (__atomic_compare_exchange_n(&dev->stop_state, &s, DEV_THREAD_RUN, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return false;
		pthread_join(dev->thread, NULL);	/* it took the stop: leaving */
	}
	dev->thread_started = false;
	return true;
}

/*
 * Stop taking commands and other devices' EXTENDED COPY I/O, and wait up
 * to @wait_ms until none is in flight. True if none is: the I/O threads
 * are stopped too. False: they stay, for the commands still running (a
 * command's next step, dev_seq.h, is queued to them from a handler's
 * completion), and the handler must not be closed; so does the device
 * thread if it was stuck in a handler call (dev_thread_stop, @withdraw).
 */
static bool dev_pause(struct tcmur_device *dev, int wait_ms, bool withdraw)
{
	dev_seq_close(dev);
	if (!dev_thread_stop(dev, withdraw))
		return false;
	if (!dev_drain(dev, wait_ms))
		return false;
	io_queue_free(dev->ioq);
	dev->ioq = NULL;
	tcmu_ring_kick(dev->ring);
	return true;
}

static void dev_set_who(struct tcmur_device *dev)
{
	snprintf(dev->who, sizeof(dev->who), "%s %s", dev->info.name,
		 dev->handler->ops.subtype);
}

int dev_new(struct tcmur_device **out, const struct tcmu_dev_info *info,
	    const struct handler *handler, const struct dev_params *params,
	    int fd, void *map, size_t map_size, bool owns_uio,
	    const struct log_cfg *log)
{
	struct tcmur_device *dev;
	int err = -ENOMEM;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return err;
	dev->info = *info;
	dev->handler = handler;
	dev->log = log;
	dev_set_who(dev);
	dev->fd = fd;
	dev->map = map;
	dev->map_size = map_size;
	dev->size = params->size;
	dev->block_size = params->block_size ? params->block_size : 512;
	dev->max_xfer_blocks = params->max_xfer_blocks;
	dev->write_cache = params->write_cache;
	dev->registry = params->registry;
	dev->on_failed = params->on_failed;
	dev->failed_opaque = params->failed_opaque;
	dev->on_freed = params->on_freed;
	dev->freed_opaque = params->freed_opaque;
	dev->tas = !params->tas_off;
	snprintf(dev->cfgfs_root, sizeof(dev->cfgfs_root), "%s",
		 params->cfgfs_root ? params->cfgfs_root : "");
	snprintf(dev->unit_serial, sizeof(dev->unit_serial), "%s",
		 params->unit_serial ? params->unit_serial : "");
	snprintf(dev->handler_cfg, sizeof(dev->handler_cfg), "%s",
		 tcmu_dev_info_handler_cfg(info));
	dev->logger = log_as_tcmu_logger((struct log_cfg *)log);
	pthread_mutex_init(&dev->state_lock, NULL);
	dev_io_lock_init(dev);
	dev_seq_init(dev);
	dev->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dev->stop_efd < 0) {
		err = -errno;
		dev_open_err(dev, err, "eventfd: %s", strerror(-err));
		goto out_free;
	}
	err = alua_cache_new(&dev->alua);
	if (err)
		goto out_efd;
	if (handler->ops.dev_private_size) {
		dev->hpriv = calloc(1, handler->ops.dev_private_size);
		err = -ENOMEM;
		if (!dev->hpriv)
			goto out_alua;
	}
	err = tcmu_ring_new(&dev->ring, fd, map, map_size, sizeof(struct cmd_ctx),
			    &dev->logger, dev->who);
	if (err)
		goto out_hpriv;
	dev_watch_init(dev);
	dev_tmr_enable(dev);
	err = handler->ops.open(dev, false);
	if (err) {
		dev_open_err(dev, err, "handler refused to open '%s': %s", dev->handler_cfg,
			     strerror(-err));
		goto out_ring;
	}
	err = dev_resume(dev);
	if (err)
		goto out_close;
	dev->owns_uio = owns_uio;
	*out = dev;
	return 0;

out_close:
	handler->ops.close(dev);
out_ring:
	tcmu_ring_free(dev->ring);
out_hpriv:
	free(dev->hpriv);
out_alua:
	alua_cache_free(dev->alua);
out_efd:
	close(dev->stop_efd);
out_free:
	dev_seq_destroy(dev);
	dev_io_lock_destroy(dev);
	pthread_mutex_destroy(&dev->state_lock);
	free(dev);
	return err;
}

/* Paused and drained: close the handler, free everything. */
static void dev_destroy(struct tcmur_device *dev)
{
	io_queue_free(dev->ioq);
	if (!dev->offline)
		dev->handler->ops.close(dev);
	tcmu_ring_free(dev->ring);
	if (dev->owns_uio)
		tcmu_uio_close(dev->fd, dev->map, dev->map_size);
	free(dev->hpriv);
	alua_cache_free(dev->alua);
	close(dev->stop_efd);
	dev_seq_destroy(dev);
	dev_io_lock_destroy(dev);
	pthread_mutex_destroy(&dev->state_lock);
	free(dev);
}

/* A removed device's own thread: wait for the handler's last command,
 * however long it takes, then free it all. */
static void *dev_reaper(void *arg)
{
	struct tcmur_device *dev = arg;
	void (*on_freed)(void *) = dev->on_freed;
	void *opaque = dev->freed_opaque;
	char who[sizeof(dev->who)];
	int waited = 0;

	if (dev->thread_started) {	/* in a handler call when removed */
		pthread_join(dev->thread, NULL);
		dev->thread_started = false;
	}
	while (!dev_drain(dev, DEV_ZOMBIE_LOG_MS)) {
		waited += DEV_ZOMBIE_LOG_MS / 1000;
		dev_err(dev, "removed, still waiting for %u commands after %d s",
			tcmu_ring_inflight(dev->ring), waited);
	}
	/* An EXTENDED COPY that named it ends at its next step on it. */
	for (waited = 0; dev_registry_held(dev); waited++) {
		if (waited && !(waited % DEV_ZOMBIE_LOG_MS))
			dev_err(dev, "removed, still named by an EXTENDED COPY after %d s",
				waited / 1000);
		usleep(1000);
	}
	memcpy(who, dev->who, sizeof(who));
	log_write(dev->log, TCMU_LOG_INFO, who, __func__,
		  "the handler's last commands completed: freed");
	dev_destroy(dev);
	if (on_freed)
		on_freed(opaque);
	return NULL;
}

bool dev_free(struct tcmur_device *dev)
{
	pthread_attr_t attr;
	pthread_t th;
	int err;

	if (!dev)
		return true;
	if (dev_pause(dev, DEV_FREE_GRACE_MS, false)) {
		if (!dev_registry_held(dev)) {
			dev_destroy(dev);
			return true;
		}
		dev_info(dev, "removed while an EXTENDED COPY names it: freed once the "
			 "copy lets go (it ends with COPY ABORTED)");
	} else if (dev->thread_started) {
		dev_err(dev, "the device thread is still in an inline handler call after "
			"%d ms: it stops once the call returns", DEV_THREAD_JOIN_MS);
	}
	if (dev_busy(dev))
		dev_err(dev, "removed with %u commands still with the handler: freed once "
			"they complete (the kernel fails them to the initiator at its "
			"cmd_time_out)", tcmu_ring_inflight(dev->ring));
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&th, &attr, dev_reaper, dev);
	pthread_attr_destroy(&attr);
	if (err) {
		/* No thread to wait on: wait here rather than free under them. */
		dev_err(dev, "start reaper thread: %s; waiting here", strerror(err));
		dev_reaper(dev);
	}
	return false;
}

/* What a reconfig can change: to apply, and to put back. */
struct dev_settings {
	uint64_t size;
	bool write_cache;
	char cfg[sizeof(((struct tcmur_device *)0)->handler_cfg)];
};

static void dev_settings_get(struct tcmur_device *dev, struct dev_settings *s)
{
	pthread_mutex_lock(&dev->state_lock);
	s->size = dev->size;
	s->write_cache = dev->write_cache;
	pthread_mutex_unlock(&dev->state_lock);
	memcpy(s->cfg, dev->handler_cfg, sizeof(s->cfg));
}

/* Paused device only: handler_cfg is read without the lock. */
static void dev_settings_set(struct tcmur_device *dev, const struct dev_settings *s)
{
	pthread_mutex_lock(&dev->state_lock);
	dev->size = s->size;
	dev->write_cache = s->write_cache;
	pthread_mutex_unlock(&dev->state_lock);
	memcpy(dev->handler_cfg, s->cfg, sizeof(dev->handler_cfg));
}

static void dev_set_offline(struct tcmur_device *dev, bool off)
{
	pthread_mutex_lock(&dev->state_lock);
	dev->offline = off;
	pthread_mutex_unlock(&dev->state_lock);
}

/* Close the handler and open it with @want; if that fails, with @old.
 * Returns 0 or the failed open's -errno. */
static int dev_reopen(struct tcmur_device *dev, const struct dev_settings *want,
		      const struct dev_settings *old)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	int err;

	if (!dev->offline)
		h->close(dev);
	dev_settings_set(dev, want);
	err = h->open(dev, true);
	if (!err) {
		dev_set_offline(dev, false);
		return 0;
	}
	dev_err(dev, "reopen with '%s', %llu bytes: %s; back to '%s', %llu bytes",
		want->cfg, (unsigned long long)want->size, strerror(-err), old->cfg,
		(unsigned long long)old->size);
	dev_settings_set(dev, old);
	if (h->open(dev, true)) {
		/* Nothing to serve from: answer NOT READY until the admin
		 * fixes or removes the device. */
		dev_err(dev, "reopen with the old settings failed too; device offline");
		dev_set_offline(dev, true);
	}
	return err;
}

/*
 * Which of @rc's changes are real, into @hrc (what the handler is told)
 * and @want. A handler older than API 1.2 is told of config changes only,
 * as it always was. 0, or -EINVAL for another handler's config.
 */
static int dev_reconfig_plan(struct tcmur_device *dev, const struct tcmu_reconfig *rc,
			     struct tcmur_reconfig *hrc, struct dev_settings *want)
{
	const struct tcmur_handler *h = &dev->handler->ops;

	if (rc->has_config) {
		hrc->config = handler_config_part(h, rc->config);
		if (!hrc->config) {
			dev_err(dev, "new config '%s' is not for handler %s", rc->config,
				h->subtype);
			return -EINVAL;
		}
		hrc->has_config = true;
		snprintf(want->cfg, sizeof(want->cfg), "%s", hrc->config);
	}
	if (rc->has_size && rc->size != want->size) {
		hrc->has_size = true;
		hrc->size = want->size = rc->size;
	}
	if (rc->has_write_cache && rc->write_cache != want->write_cache) {
		hrc->has_write_cache = true;
		hrc->write_cache = want->write_cache = rc->write_cache;
	}
	return 0;
}

/* Ask the handler to apply @hrc on the paused device (see tcmu-runner.h:
 * reconfig); take @want if it did. */
static int dev_reconfig_apply(struct tcmur_device *dev, struct tcmur_reconfig *hrc,
			      const struct dev_settings *want, const struct dev_settings *old)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	struct tcmur_reconfig told = *hrc;
	int err;

	if (handler_minor(h) < 2)
		told.has_size = told.has_write_cache = false;
	if (!told.has_config && !told.has_size && !told.has_write_cache)
		err = 0;
	else if (!h->reconfig || dev->offline)
		err = -EOPNOTSUPP;
	else
		err = h->reconfig(dev, &told);
	if (err == -EOPNOTSUPP)
		return dev_reopen(dev, want, old);
	if (err) {
		dev_err(dev, "handler refused the change: %s", strerror(-err));
		return err;
	}
	dev_settings_set(dev, want);
	return 0;
}

/* The change took: record it and tell the initiators. */
static void dev_reconfig_done(struct tcmur_device *dev, const struct tcmu_reconfig *rc,
			      const struct tcmur_reconfig *hrc)
{
	if (hrc->has_config) {
		snprintf(dev->info.config, sizeof(dev->info.config), "%s", rc->config);
		dev->info.cfg_off = hrc->config - rc->config;
		dev_info(dev, "config is now '%s'", dev->handler_cfg);
		dev_ua_raise(dev, ASC_MEDIUM_MAY_HAVE_CHANGED);
		if (dev_durable_latched(&dev->durable))
			dev_info(dev, "flushes no longer refused: the LUN was given its config");
		dev_durable_clear(&dev->durable);
	}
	if (hrc->has_size) {
		dev_info(dev, "size is now %llu bytes", (unsigned long long)hrc->size);
		dev_ua_raise(dev, ASC_CAPACITY_DATA_HAS_CHANGED);
	}
	if (hrc->has_write_cache) {
		dev_info(dev, "write cache %s", hrc->write_cache ? "on" : "off");
		dev_ua_raise(dev, ASC_MODE_PARAMETERS_CHANGED);
	}
}

/* Pause @dev until its commands have ended (DEV_RECONFIG_DRAIN_MS at
 * most); false, logged with @refused, if some are still in flight. */
static bool dev_pause_or_say(struct tcmur_device *dev, const char *refused)
{
	if (dev_pause(dev, DEV_RECONFIG_DRAIN_MS, true))
		return true;
	if (dev->thread_started) {
		dev_err(dev, "the device thread is still in an inline handler call after "
			"%d ms: %s (it serves on)", DEV_THREAD_JOIN_MS, refused);
		return false;
	}
	dev_err(dev, "%u commands still in flight after %d ms: %s",
		tcmu_ring_inflight(dev->ring), DEV_RECONFIG_DRAIN_MS, refused);
	return false;
}

/* Resume @dev after @what; @err, or -EIO (the device failed) if it could
 * not restart. */
static int dev_resume_or_fail(struct tcmur_device *dev, const char *what, int err)
{
	char why[64];

	if (!dev_resume(dev))
		return err;
	snprintf(why, sizeof(why), "could not restart after %s", what);
	dev_fail(dev, false, why);
	return -EIO;
}

/* The write cache goes off: what it acknowledged is made stable before
 * the change takes effect (the device is paused), or the change is
 * refused. */
static int dev_reconfig_flush(struct tcmur_device *dev, const struct tcmur_reconfig *hrc)
{
	int err;

	if (!hrc->has_write_cache || hrc->write_cache || dev->offline)
		return 0;
	err = dev_io_flush_paused(dev, DEV_RECONFIG_FLUSH_MS);
	if (err == -ETIMEDOUT)
		dev_err(dev, "write cache left on: the flush before turning it off has not "
			"ended after %d ms", DEV_RECONFIG_FLUSH_MS);
	else if (err)
		dev_err(dev, "write cache left on: the flush before turning it off failed");
	return err;
}

int dev_reconfig(struct tcmur_device *dev, const struct tcmu_reconfig *rc)
{
	alua_cache_invalidate(dev->alua);
	struct tcmur_reconfig hrc = { 0 };
	struct dev_settings old, want;
	int err;

	dev_settings_get(dev, &old);
	want = old;
	err = dev_reconfig_plan(dev, rc, &hrc, &want);
	if (err)
		return err;
	if (!hrc.has_config && !hrc.has_size && !hrc.has_write_cache)
		return 0;
	if (!dev_pause_or_say(dev, "change refused"))
		err = -EBUSY;
	else if (!(err = dev_reconfig_flush(dev, &hrc)) &&
		 !(err = dev_reconfig_apply(dev, &hrc, &want, &old)))
		dev_reconfig_done(dev, rc, &hrc);
	return dev_resume_or_fail(dev, "reconfiguring", err);
}

/* ---- reopen at the handler's request (API 1.4) ---------------------- */

/* Set whether a reopen is wanted; whether it was. */
static bool dev_set_reopen_wanted(struct tcmur_device *dev, bool want)
{
	bool was;

	pthread_mutex_lock(&dev->state_lock);
	was = dev->reopen_wanted;
	dev->reopen_wanted = want;
	pthread_mutex_unlock(&dev->state_lock);
	return was;
}

void tcmur_dev_reopen(struct tcmur_device *dev, const char *why)
{
	if (dev_set_reopen_wanted(dev, true))
		return;
	dev_warn(dev, "handler asks to be reopened: %s", why ? why : "no reason given");
	if (dev->on_failed)
		dev->on_failed(dev->failed_opaque, dev->info.uio_minor);
}

void tcmur_dev_set_config(struct tcmur_device *dev, const char *config)
{
	pthread_mutex_lock(&dev->state_lock);
	snprintf(dev->config_wanted, sizeof(dev->config_wanted), "%s/%s",
		 dev->handler->ops.subtype, config);
	pthread_mutex_unlock(&dev->state_lock);
	dev_info(dev, "handler asks for the config '%s' from now on", config);
	if (dev->on_failed)
		dev->on_failed(dev->failed_opaque, dev->info.uio_minor);
}

bool dev_take_config_wanted(struct tcmur_device *dev, char *out, size_t len)
{
	bool want;

	pthread_mutex_lock(&dev->state_lock);
	want = dev->config_wanted[0];
	if (want) {
		snprintf(out, len, "%s", dev->config_wanted);
		dev->config_wanted[0] = '\0';
	}
	pthread_mutex_unlock(&dev->state_lock);
	return want;
}

bool dev_wants_reopen(struct tcmur_device *dev)
{
	bool want;

	pthread_mutex_lock(&dev->state_lock);
	want = dev->reopen_wanted;
	pthread_mutex_unlock(&dev->state_lock);
	return want;
}

int dev_reopen_now(struct tcmur_device *dev)
{
	struct dev_settings cur;
	int err = -EBUSY;

	if (dev_pause_or_say(dev, "reopen put off")) {
		/* Cleared first: a request made while we reopen is a new one. */
		dev_set_reopen_wanted(dev, false);
		dev_settings_get(dev, &cur);
		err = dev_reopen(dev, &cur, &cur);
		if (err)
			dev_set_reopen_wanted(dev, true);
	}
	err = dev_resume_or_fail(dev, "reopening", err);
	if (!err)
		dev_info(dev, "reopened at the handler's request");
	return err;
}

const char *dev_state_name(struct tcmur_device *dev)
{
	const char *name;

	pthread_mutex_lock(&dev->state_lock);
	name = dev->failed ? "failed" : dev->offline ? "offline" : "running";
	pthread_mutex_unlock(&dev->state_lock);
	return name;
}

int dev_restart(struct tcmur_device *dev)
{
	int err;

	dev->restarts++;
	dev_pause(dev, DEV_RESTART_DRAIN_MS, true);
	pthread_mutex_lock(&dev->state_lock);
	dev->failed = false;
	pthread_mutex_unlock(&dev->state_lock);
	err = dev_resume(dev);
	if (err) {
		dev_fail(dev, false, "restart failed");
		return err;
	}
	dev_info(dev, "restarted (attempt %u)", dev->restarts);
	return 0;
}

/* ---- accessors for handlers (tcmu-runner.h) ---------------------------- */

void *tcmur_dev_private(struct tcmur_device *dev)
{
	return dev->hpriv;
}

const char *tcmur_dev_name(const struct tcmur_device *dev)
{
	return dev->info.name;
}

const char *tcmur_dev_config(const struct tcmur_device *dev)
{
	return dev->handler_cfg;
}

uint64_t tcmur_dev_size(const struct tcmur_device *dev)
{
	struct tcmur_device *d = (struct tcmur_device *)dev;
	uint64_t size;

	pthread_mutex_lock(&d->state_lock);
	size = d->size;
	pthread_mutex_unlock(&d->state_lock);
	return size;
}

uint32_t tcmur_dev_block_size(const struct tcmur_device *dev)
{
	return dev->block_size;
}

unsigned int tcmur_dev_cmd_time_out(const struct tcmur_device *dev)
{
	unsigned int s = DEV_WATCH_DEFAULT_MS / 1000;	/* the kernel's default */

	dev_watch_read_kernel_s(dev, &s);
	return s;
}

bool tcmur_dev_write_cache(const struct tcmur_device *dev)
{
	struct tcmur_device *d = (struct tcmur_device *)dev;
	bool wc;

	pthread_mutex_lock(&d->state_lock);
	wc = d->write_cache;
	pthread_mutex_unlock(&d->state_lock);
	return wc;
}

void tcmur_dev_log(const struct tcmur_device *dev, int prio, const char *func,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(dev ? dev->log : NULL, prio, dev ? dev->who : NULL, func, fmt, ap);
	va_end(ap);
}
