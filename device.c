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
#include "dev_seq.h"
#include "device.h"
#include "scsi_defs.h"
#include "scsi_emulate.h"

#define DEV_DEFAULT_IO_THREADS 4
/* How long removal waits for a handler's async commands. */
#define DEV_DRAIN_TIMEOUT_MS 30000

#define dev_err(dev, ...) log_write((dev)->log, TCMU_LOG_ERR, (dev)->who, __func__, __VA_ARGS__)
#define dev_info(dev, ...) log_write((dev)->log, TCMU_LOG_INFO, (dev)->who, __func__, __VA_ARGS__)
#define dev_dbg(dev, ...) log_write((dev)->log, TCMU_LOG_DEBUG, (dev)->who, __func__, __VA_ARGS__)

static bool dev_busy(struct tcmur_device *dev)
{
	return tcmu_ring_inflight(dev->ring) ||
	       __atomic_load_n(&dev->completing, __ATOMIC_ACQUIRE);
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
	pthread_mutex_lock(&dev->state_lock);
	ctx->sense_desc = dev->d_sense;
	pthread_mutex_unlock(&dev->state_lock);

	if (dev_is_offline(dev)) {
		dev_finish(dev, ctx, tcmur_cmd_sense(&ctx->pub, SENSE_NOT_READY,
						     ASC_NOT_READY_MANUAL_INTERVENTION), false);
		return;
	}
	if (dev->handler->ops.handle_cmd) {
		ctx->io = CMD_IO_HANDLER;
		dev_queue_io(dev, ctx);
		return;
	}
	sts = scsi_emulate(dev, ctx);
	if (sts == TCMU_STS_ASYNC && ctx->io != CMD_IO_NONE)
		dev_queue_io(dev, ctx);
	else if (sts != TCMU_STS_ASYNC)
		dev_finish(dev, ctx, sts, false);
}

static void dev_tmr(void *opaque, const struct tcmu_tmr *tmr)
{
	struct tcmur_device *dev = opaque;

	dev_info(dev, "task management function %u for %u commands", tmr->type,
		 tmr->cmd_cnt);
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
		uint32_t count;

		while ((rcmd = tcmu_ring_next(dev->ring, dev_tmr, dev)))
			dev_take_cmd(dev, rcmd);
		tcmu_ring_kick(dev->ring);
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			dev_err(dev, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			dev_err(dev, "device fd closed under us (revents 0x%x)", pfd[0].revents);
			break;
		}
		/* Reading clears the UIO event; the count itself is not needed. */
		if ((pfd[0].revents & POLLIN) && read(dev->fd, &count, sizeof(count)) < 0 &&
		    errno != EAGAIN && errno != EINTR)
			dev_err(dev, "read event: %s", strerror(errno));
	}
	return NULL;
}

static unsigned int dev_io_threads(const struct tcmur_handler *h)
{
	if (h->thread_model == TCMUR_THREAD_SERIAL)
		return 1;
	return h->nr_threads ? h->nr_threads : DEV_DEFAULT_IO_THREADS;
}

/* Start the device thread and the I/O threads. */
static int dev_resume(struct tcmur_device *dev)
{
	uint64_t zero = 0;
	int err;

	err = io_queue_new(&dev->ioq, dev_io_threads(&dev->handler->ops), dev_io_thread_fn, dev);
	if (err) {
		dev_err(dev, "start I/O threads: %s", strerror(-err));
		return err;
	}
	/* Drain any stop request left from a pause. */
	if (read(dev->stop_efd, &zero, sizeof(zero)) < 0 && errno != EAGAIN)
		dev_err(dev, "reset stop event: %s", strerror(errno));
	err = pthread_create(&dev->thread, NULL, dev_thread, dev);
	if (err) {
		dev_err(dev, "start device thread: %s", strerror(err));
		io_queue_free(dev->ioq);
		dev->ioq = NULL;
		return -err;
	}
	dev->thread_started = true;
	dev_seq_open(dev);
	{
		/* "tcmu-uioN": an admin finds a device's thread in top -H. */
		char tname[16];

		snprintf(tname, sizeof(tname), "tcmu-uio%u", dev->info.uio_minor);
		pthread_setname_np(dev->thread, tname);
	}
	return 0;
}

/*
 * Stop taking commands and other devices' EXTENDED COPY I/O, and wait
 * until none is in flight. The I/O threads stay until then: a command's
 * next step (dev_seq.h) is queued to them from a handler's completion.
 */
static void dev_pause(struct tcmur_device *dev)
{
	uint64_t one = 1;
	int waited = 0;

	dev_seq_close(dev);
	if (dev->thread_started) {
		if (write(dev->stop_efd, &one, sizeof(one)) != sizeof(one))
			dev_err(dev, "signal device thread: %s", strerror(errno));
		pthread_join(dev->thread, NULL);
		dev->thread_started = false;
	}
	while (dev_busy(dev) && waited < DEV_DRAIN_TIMEOUT_MS) {
		usleep(1000);
		waited += 1;
	}
	if (tcmu_ring_inflight(dev->ring))
		dev_err(dev, "%u commands still in flight after %d ms",
			tcmu_ring_inflight(dev->ring), DEV_DRAIN_TIMEOUT_MS);
	io_queue_free(dev->ioq);
	dev->ioq = NULL;
	tcmu_ring_kick(dev->ring);
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
		dev_err(dev, "eventfd: %s", strerror(errno));
		goto out_free;
	}
	if (handler->ops.dev_private_size) {
		dev->hpriv = calloc(1, handler->ops.dev_private_size);
		if (!dev->hpriv)
			goto out_efd;
	}
	err = tcmu_ring_new(&dev->ring, fd, map, map_size, sizeof(struct cmd_ctx),
			    &dev->logger, dev->who);
	if (err)
		goto out_hpriv;
	err = handler->ops.open(dev, false);
	if (err) {
		dev_err(dev, "handler refused to open '%s': %s", dev->handler_cfg,
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
out_efd:
	close(dev->stop_efd);
out_free:
	dev_seq_destroy(dev);
	dev_io_lock_destroy(dev);
	pthread_mutex_destroy(&dev->state_lock);
	free(dev);
	return err;
}

void dev_free(struct tcmur_device *dev)
{
	if (!dev)
		return;
	dev_pause(dev);
	if (!dev->offline)
		dev->handler->ops.close(dev);
	tcmu_ring_free(dev->ring);
	if (dev->owns_uio)
		tcmu_uio_close(dev->fd, dev->map, dev->map_size);
	free(dev->hpriv);
	close(dev->stop_efd);
	dev_seq_destroy(dev);
	dev_io_lock_destroy(dev);
	pthread_mutex_destroy(&dev->state_lock);
	free(dev);
}

/* A new config string: the handler applies it, or we reopen with it. */
static int dev_reconfig_config(struct tcmur_device *dev, const char *config)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	struct tcmur_reconfig hrc = { .has_config = true };
	char old[sizeof(dev->handler_cfg)];
	int err;

	hrc.config = handler_config_part(h, config);
	if (!hrc.config) {
		dev_err(dev, "new config '%s' is not for handler %s", config, h->subtype);
		return -EINVAL;
	}
	dev_pause(dev);
	memcpy(old, dev->handler_cfg, sizeof(old));
	snprintf(dev->handler_cfg, sizeof(dev->handler_cfg), "%s", hrc.config);
	err = h->reconfig ? h->reconfig(dev, &hrc) : -EOPNOTSUPP;
	if (err == -EOPNOTSUPP) {
		h->close(dev);
		err = h->open(dev, true);
		if (err) {
			dev_err(dev, "reopen with '%s': %s; back to '%s'", hrc.config,
				strerror(-err), old);
			memcpy(dev->handler_cfg, old, sizeof(old));
			if (h->open(dev, true)) {
				/* Nothing to serve from: answer NOT READY until
				 * the admin fixes or removes the device. */
				dev_err(dev, "reopen with old config '%s' failed too; "
					"device offline", old);
				pthread_mutex_lock(&dev->state_lock);
				dev->offline = true;
				pthread_mutex_unlock(&dev->state_lock);
			}
		}
	}
	if (!err) {
		snprintf(dev->info.config, sizeof(dev->info.config), "%s", config);
		dev->info.cfg_off = hrc.config - config;
		dev_info(dev, "config is now '%s'", dev->handler_cfg);
	}
	if (dev_resume(dev))
		return -EIO;
	return err;
}

int dev_reconfig(struct tcmur_device *dev, const struct tcmu_reconfig *rc)
{
	if (rc->has_size || rc->has_write_cache) {
		pthread_mutex_lock(&dev->state_lock);
		if (rc->has_size)
			dev->size = rc->size;
		if (rc->has_write_cache)
			dev->write_cache = rc->write_cache;
		pthread_mutex_unlock(&dev->state_lock);
		if (rc->has_size)
			dev_info(dev, "size is now %llu bytes", (unsigned long long)rc->size);
		if (rc->has_write_cache)
			dev_info(dev, "write cache %s", rc->write_cache ? "on" : "off");
	}
	if (rc->has_config)
		return dev_reconfig_config(dev, rc->config);
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
