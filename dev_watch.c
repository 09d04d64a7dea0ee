/*
 * Late commands; see dev_watch.h for the limit, what the kernel does at
 * its cmd_time_out and why the daemon answers a late command once.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "dev_watch.h"
#include "device.h"
#include "scsi_emulate.h"

#define watch_err(dev, ...) log_write((dev)->log, TCMU_LOG_ERR, (dev)->who, __func__, __VA_ARGS__)
#define watch_info(dev, ...) log_write((dev)->log, TCMU_LOG_INFO, (dev)->who, __func__, __VA_ARGS__)

/* Late commands logged per scan; the rest wait for the next scan. */
#define WATCH_BATCH 8
/* CDB bytes shown. */
#define WATCH_CDB_BYTES 16

/* A late command, copied out of the ring's walk to be logged after it. */
struct late_cmd {
	uint16_t cmd_id;
	uint8_t cdb[WATCH_CDB_BYTES];
	unsigned int cdb_len;
	uint64_t age_ms;
	bool in_handler, aborted;
};

struct watch_walk {
	struct tcmur_device *dev;
	uint64_t now, limit_ns;
	unsigned int inflight;
	unsigned int n;
	struct late_cmd late[WATCH_BATCH];
};

int dev_watch_read_kernel_s(const struct tcmur_device *dev, unsigned int *s)
{
	uint64_t v;
	int err = tcmu_cfgfs_read_u64(&dev->info, dev_cfgfs_root(dev), "attrib/cmd_time_out",
				      &v);

	if (!err)
		*s = v > UINT32_MAX / 1000 ? UINT32_MAX / 1000 : (unsigned int)v;
	return err;
}

static void watch_read_kernel(struct tcmur_device *dev, struct dev_watch *w)
{
	char buf[32];

	w->kernel_s = DEV_WATCH_DEFAULT_MS / 1000;
	w->qfull_s = -1;
	if (dev_watch_read_kernel_s(dev, &w->kernel_s) ||
	    tcmu_cfgfs_read_str(&dev->info, dev_cfgfs_root(dev), "attrib/qfull_time_out", buf,
				sizeof(buf))) {
		w->kernel_s = DEV_WATCH_DEFAULT_MS / 1000;
		if (!w->limit_ms)	/* said once, when the device is made */
			watch_info(dev, "attrib/cmd_time_out or qfull_time_out unreadable in "
				   "configfs: taking the kernel's defaults (30 s, -1)");
		return;
	}
	w->qfull_s = atoi(buf);
}

/* Work out the limit from the handler and @w's kernel values. */
static void watch_limit(const struct tcmur_handler *h, struct dev_watch *w)
{
	unsigned int hms = handler_minor(h) >= 3 ? h->cmd_time_out_ms : 0;
	uint64_t every;

	w->limit_ms = w->kernel_s * 1000;
	w->limit_from = "the kernel's cmd_time_out: the initiator has had its error";
	if (hms && (!w->limit_ms || hms < w->limit_ms)) {
		w->limit_ms = hms;
		w->limit_from = "the handler's cmd_time_out_ms";
	}
	if (!w->limit_ms) {
		w->limit_ms = DEV_WATCH_DEFAULT_MS;
		w->limit_from = "the default; the kernel never times out";
	}
	every = (uint64_t)w->limit_ms * 100000;		/* a tenth, in ns */
	if (every < 1000000)
		every = 1000000;
	if (every > 1000000000)
		every = 1000000000;
	w->scan_every_ns = every;
}

static void watch_say(struct tcmur_device *dev, const char *what)
{
	const struct dev_watch *w = &dev->watch;
	char qfull[48];

	if (w->qfull_s < 0)
		snprintf(qfull, sizeof(qfull), "%d (as cmd_time_out)", w->qfull_s);
	else
		snprintf(qfull, sizeof(qfull), "%d s%s", w->qfull_s, w->qfull_s ? "" : " (at once)");
	watch_info(dev, "%scommands late after %u ms (%s); the kernel's cmd_time_out %u s%s, "
		   "qfull_time_out %s", what, w->limit_ms, w->limit_from, w->kernel_s,
		   w->kernel_s ? "" : " (never)", qfull);
}

void dev_watch_init(struct tcmur_device *dev)
{
	struct dev_watch *w = &dev->watch;

	watch_read_kernel(dev, w);
	watch_limit(&dev->handler->ops, w);
	w->next_scan_ns = 0;
	w->idle_since_ns = 0;
	watch_say(dev, "");
}

/* Busy again after a while: the admin may have set new timeouts. */
static void watch_reread(struct tcmur_device *dev)
{
	struct dev_watch *w = &dev->watch, old = *w;

	watch_read_kernel(dev, w);
	if (w->kernel_s == old.kernel_s && w->qfull_s == old.qfull_s)
		return;
	watch_limit(&dev->handler->ops, w);
	watch_say(dev, "timeouts changed in configfs: ");
}

void dev_watch_idle(struct tcmur_device *dev)
{
	if (!dev->watch.idle_since_ns)
		dev->watch.idle_since_ns = dev_watch_now_ns();
}

void dev_watch_take(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	struct dev_watch *w = &dev->watch;

	ctx->taken_ns = dev_watch_now_ns();
	if (!w->idle_since_ns)
		return;
	if (ctx->taken_ns - w->idle_since_ns >= 1000000000)
		watch_reread(dev);
	w->idle_since_ns = 0;
}

/* Under the ring's lock: note @rcmd if it just became late. */
static void watch_one(void *opaque, struct tcmu_cmd *rcmd)
{
	struct watch_walk *ww = opaque;
	struct cmd_ctx *ctx = rcmd->priv;
	struct late_cmd *l;

	ww->inflight++;
	if (!ctx || __atomic_load_n(&ctx->late, __ATOMIC_RELAXED) ||
	    ww->now - ctx->taken_ns < ww->limit_ns || ww->n == WATCH_BATCH)
		return;
	__atomic_store_n(&ctx->late, 1, __ATOMIC_RELAXED);
	l = &ww->late[ww->n++];
	l->cmd_id = rcmd->cmd_id;
	l->cdb_len = rcmd->cdb_len;
	memcpy(l->cdb, rcmd->cdb, rcmd->cdb_len < WATCH_CDB_BYTES ? rcmd->cdb_len
								  : WATCH_CDB_BYTES);
	l->age_ms = (ww->now - ctx->taken_ns) / 1000000;
	l->in_handler = __atomic_load_n(&ctx->op_live, __ATOMIC_RELAXED) != OP_IDLE;
	l->aborted = __atomic_load_n(&ctx->aborted, __ATOMIC_RELAXED);
}

/* The command's name from the emulation's table (without asking the
 * handler whether it takes it: this is the device thread). */
static const char *watch_op_name(const uint8_t *cdb, unsigned int len)
{
	int sa = scsi_op_has_sa(cdb[0]) && len > 1 ? cdb[1] & 0x1f : -1;
	size_t count;
	const struct scsi_op *ops = scsi_ops(&count);

	for (size_t i = 0; i < count; i++)
		if (ops[i].opcode == cdb[0] && ops[i].service_action == sa)
			return ops[i].name;
	return "not in the table";
}

static void watch_log(struct tcmur_device *dev, const struct late_cmd *l, unsigned int inflight)
{
	const struct dev_watch *w = &dev->watch;
	char hex[WATCH_CDB_BYTES * 3 + 4];
	unsigned int i, n = l->cdb_len < WATCH_CDB_BYTES ? l->cdb_len : WATCH_CDB_BYTES;
	size_t off = 0;

	hex[0] = '\0';
	for (i = 0; i < n; i++)
		off += snprintf(hex + off, sizeof(hex) - off, "%s%02x", i ? " " : "", l->cdb[i]);
	if (n < l->cdb_len)
		snprintf(hex + off, sizeof(hex) - off, " ...");
	watch_err(dev, "late command: cmd %u opcode 0x%02x (%s) in flight %llu ms, past %u ms "
		  "(%s); %s%s; %u in flight; CDB %s", l->cmd_id, n ? l->cdb[0] : 0,
		  n ? watch_op_name(l->cdb, n) : "no CDB", (unsigned long long)l->age_ms, w->limit_ms,
		  w->limit_from, l->aborted ? "aborted, " : "",
		  l->in_handler ? "in the handler" :
		  "in the daemon (queued, waiting for the I/O lock or between steps)",
		  inflight, hex);
}

void dev_watch_scan(struct tcmur_device *dev)
{
	struct dev_watch *w = &dev->watch;
	struct watch_walk ww = { .dev = dev };

	ww.now = dev_watch_now_ns();
	if (ww.now < w->next_scan_ns)
		return;
	w->next_scan_ns = ww.now + w->scan_every_ns;
	ww.limit_ns = (uint64_t)w->limit_ms * 1000000;
	tcmu_ring_for_each(dev->ring, watch_one, &ww);
	for (unsigned int i = 0; i < ww.n; i++)
		watch_log(dev, &ww.late[i], ww.inflight);
	if (ww.n)
		__atomic_add_fetch(&w->late, ww.n, __ATOMIC_RELAXED);
}

void dev_watch_done(struct tcmur_device *dev, const struct cmd_ctx *ctx, uint8_t status)
{
	const struct dev_watch *w = &dev->watch;
	uint64_t age_ms = (dev_watch_now_ns() - ctx->taken_ns) / 1000000;
	bool expired = w->kernel_s && age_ms >= (uint64_t)w->kernel_s * 1000;

	watch_info(dev, "late command: cmd %u opcode 0x%02x completed after %llu ms, status "
		   "0x%02x%s", ctx->rcmd->cmd_id, ctx->pub.cdb_len ? ctx->pub.cdb[0] : 0,
		   (unsigned long long)age_ms, status,
		   expired ? "; past cmd_time_out, so the kernel has failed it already and "
			     "only frees its slot" : "");
}

unsigned int dev_watch_limit_ms(const struct tcmur_device *dev)
{
	return dev->watch.limit_ms;
}

unsigned int dev_late_commands(struct tcmur_device *dev)
{
	return __atomic_load_n(&dev->watch.late, __ATOMIC_RELAXED);
}
