/*
 * Task management; see dev_tmr.h for what the kernel does and what the
 * daemon does about it. Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "cmd.h"
#include "dev_tmr.h"
#include "device.h"
#include "tcmu_uapi.h"

#define tmr_warn(dev, ...) log_write((dev)->log, TCMU_LOG_WARN, (dev)->who, __func__, __VA_ARGS__)
#define tmr_info(dev, ...) log_write((dev)->log, TCMU_LOG_INFO, (dev)->who, __func__, __VA_ARGS__)
#define tmr_dbg(dev, ...) log_write((dev)->log, TCMU_LOG_DEBUG, (dev)->who, __func__, __VA_ARGS__)

#define TMR_ATTR "attrib/tmr_notification"

void dev_tmr_enable(struct tcmur_device *dev)
{
	const char *root = dev_cfgfs_root(dev);
	char cur[8] = "";
	int err;

	err = tcmu_cfgfs_read_str(&dev->info, root, TMR_ATTR, cur, sizeof(cur));
	if (!err && !strcmp(cur, "1")) {
		tmr_dbg(dev, "task management reported already");
		return;
	}
	if (!err)
		err = tcmu_cfgfs_write_str(&dev->info, root, TMR_ATTR, "1");
	if (err == -ENOENT)
		tmr_info(dev, "no %s in configfs (a kernel before 5.9, or no configfs): aborts "
			 "and LUN resets are not reported; an aborted command ends with the "
			 "kernel's cmd_time_out", TMR_ATTR);
	else if (err)
		tmr_warn(dev, "set %s: %s; aborts and LUN resets are not reported", TMR_ATTR,
			 strerror(-err));
	else
		tmr_dbg(dev, "task management reported (%s 1)", TMR_ATTR);
}

static const char *tmr_name(uint8_t type)
{
	switch (type) {
	case TCMU_TMR_ABORT_TASK:
		return "ABORT TASK";
	case TCMU_TMR_ABORT_TASK_SET:
		return "ABORT TASK SET";
	case TCMU_TMR_CLEAR_ACA:
		return "CLEAR ACA";
	case TCMU_TMR_CLEAR_TASK_SET:
		return "CLEAR TASK SET";
	case TCMU_TMR_LUN_RESET:
		return "LOGICAL UNIT RESET";
	case TCMU_TMR_TARGET_WARM_RESET:
		return "TARGET WARM RESET";
	case TCMU_TMR_TARGET_COLD_RESET:
		return "TARGET COLD RESET";
	case TCMU_TMR_LUN_RESET_PRO:
		return "PREEMPT AND ABORT";
	default:
		return "unknown task management function";
	}
}

static bool tmr_resets_lu(uint8_t type)
{
	return type == TCMU_TMR_LUN_RESET || type == TCMU_TMR_TARGET_WARM_RESET ||
	       type == TCMU_TMR_TARGET_COLD_RESET;
}

static void stat_add(unsigned int *v, unsigned int n)
{
	__atomic_add_fetch(v, n, __ATOMIC_RELAXED);
}

/* Mark the command @cmd_id aborted and tell its handler; false if it is
 * not in flight (answered already, or never ours). */
static bool tmr_abort_cmd(struct tcmur_device *dev, uint16_t cmd_id, unsigned int *told)
{
	struct tcmu_cmd *rcmd = tcmu_ring_find(dev->ring, cmd_id);
	struct cmd_ctx *ctx;

	if (!rcmd)
		return false;
	ctx = rcmd->priv;
	/* It may complete on another thread from here on: only atomics, and
	 * the op_live handshake, touch it. Its memory stays ours until this
	 * thread takes the next command off the ring. */
	/* Sequentially consistent: see op_start in dev_io.c. */
	if (__atomic_exchange_n(&ctx->aborted, 1, __ATOMIC_SEQ_CST))
		return true;	/* a TMR named it before */
	if (dev_io_abort_live(dev, ctx))
		(*told)++;
	return true;
}

/* End the parked commands the TMR aborted; how many. */
static unsigned int tmr_unpark(struct tcmur_device *dev)
{
	struct cmd_ctx *c = dev_io_unpark_aborted(dev), *next;
	unsigned int n = 0;

	for (; c; c = next, n++) {
		next = c->next;
		dev_finish(dev, c, TCMU_STS_TASK_ABORTED, false);
	}
	return n;
}

/* What a logical unit reset clears that the daemon holds (dev_tmr.h). */
static void tmr_reset_lu(struct tcmur_device *dev)
{
	bool d_sense;

	pthread_mutex_lock(&dev->state_lock);
	d_sense = dev->d_sense;
	dev->d_sense = false;
	pthread_mutex_unlock(&dev->state_lock);
	tmr_info(dev, "logical unit reset: commands aborted%s; pending unit attentions "
		 "kept (the kernel reports 29h/03h itself)",
		 d_sense ? ", D_SENSE back to its default 0" : "");
}

void dev_tmr_handle(struct tcmur_device *dev, const struct tcmu_tmr *tmr)
{
	struct dev_tmr_stats *st = &dev->tmr_stats;
	unsigned int found = 0, told = 0, unparked;

	for (uint32_t i = 0; i < tmr->cmd_cnt; i++)
		found += tmr_abort_cmd(dev, tmr->cmd_ids[i], &told);
	unparked = tmr_unpark(dev);
	tmr_info(dev, "%s (%u) for %u commands: %u in flight here, %u told to the handler, "
		 "%u ended waiting for the I/O lock", tmr_name(tmr->type), tmr->type,
		 tmr->cmd_cnt, found, told, unparked);
	if (tmr_resets_lu(tmr->type)) {
		tmr_reset_lu(dev);
		stat_add(&st->resets, 1);
	}
	stat_add(&st->tmrs, 1);
	stat_add(&st->named, tmr->cmd_cnt);
	stat_add(&st->found, found);
	stat_add(&st->told, told);
	stat_add(&st->unparked, unparked);
}

void dev_tmr_stats(struct tcmur_device *dev, struct dev_tmr_stats *out)
{
	const struct dev_tmr_stats *st = &dev->tmr_stats;

	out->tmrs = __atomic_load_n(&st->tmrs, __ATOMIC_RELAXED);
	out->named = __atomic_load_n(&st->named, __ATOMIC_RELAXED);
	out->found = __atomic_load_n(&st->found, __ATOMIC_RELAXED);
	out->told = __atomic_load_n(&st->told, __ATOMIC_RELAXED);
	out->unparked = __atomic_load_n(&st->unparked, __ATOMIC_RELAXED);
	out->resets = __atomic_load_n(&st->resets, __ATOMIC_RELAXED);
}
