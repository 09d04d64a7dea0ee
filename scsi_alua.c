/*
 * REPORT and SET TARGET PORT GROUPS (SPC-4 6.27, 6.39). The kernel keeps
 * a TCMU device's target port groups in configfs and, unless
 * alua_support is 0, enforces their states on every command; it passes
 * both commands to us. We answer from the groups as alua_groups.c caches
 * them.
 *
 * What the kernel lets us change (target_core_configfs.c,
 * target_tg_pt_gp_alua_access_state_store; target_core_alua.c,
 * core_alua_do_port_transition): writing alua_access_state is an
 * *implicit* transition. It is refused (-EINVAL) when the group's
 * alua_access_type lacks Implicit, for LBA dependent when Explicit is
 * set too, and always when alua_support is 0 (TRANSPORT_FLAG_PASSTHROUGH_ALUA,
 * core_alua_do_port_transition returns -ENODEV). When it is taken, the
 * kernel reports TRANSITIONING, queues ASYMMETRIC ACCESS STATE CHANGED
 * unit attentions, sleeps trans_delay_msecs in the writer's write(), then
 * sets the state with status "altered by implicit ALUA".
 *
 * So STPG runs on an I/O thread, never on the device thread: for a group
 * the kernel takes writes for, it writes configfs (the kernel sleeps
 * there); for an explicit-only group (or a refused write) the daemon
 * keeps the state itself, reporting TRANSITIONING for trans_delay_msecs
 * as the kernel would. The kernel then still enforces its own, older
 * state for that group: that is beyond what configfs lets us change.
 * As the kernel's own STPG does, the command completes once the
 * transition is done.
 *
 * TCMU does not say through which port a command came: INQUIRY's TPGS and
 * VPD 0x83's port designators describe the first group that has ports.
 *
 * A handler whose backend has an exclusive lock shared between gateways
 * (API 1.5, tcmur_handler.lock_owner) decides the reported state of our
 * groups (those with ports) while someone holds the lock: ACTIVE/OPTIMIZED
 * when we do, STANDBY (ACTIVE/NON-OPTIMIZED if the group does not support
 * standby) when another gateway does; configfs's state while nobody does.
 * That is what dm-multipath's "prio alua" with failover grouping, as Ceph
 * documents it for LIO-ORG TCMU devices, ranks: the owner's path first.
 * The RTPG then runs on an I/O thread, as the handler may ask its backend.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scsi_alua.h"
#include "scsi_defs.h"
#include "scsi_emulate.h"

#define ASC_STPG_FAILED 0x670a
#define STPG_MAX_LEN 1024

static bool alua_explicit(struct tcmur_device *dev)
{
	struct alua_group groups[ALUA_MAX_GROUPS];
	int n = alua_groups_read(dev, groups, ALUA_MAX_GROUPS);

	for (int i = 0; i < n; i++)
		if (groups[i].type & ALUA_TYPE_EXPLICIT)
			return true;
	return false;
}

bool scsi_stpg_supported(struct tcmur_device *dev)
{
	return alua_explicit(dev);
}

/*
 * API 1.5: the state a group of ours is in by the backend's lock, as
 * tcmur_handler.lock_owner documents; configfs's when nobody holds it.
 */
static void lock_state(struct alua_group *g, enum tcmur_lock_owner who)
{
	uint8_t state = g->state;

	if (who == TCMUR_LOCK_OURS)
		state = ALUA_STATE_ACTIVE_OPTIMIZED;
	else if (who == TCMUR_LOCK_THEIRS)
		state = g->sup & ALUA_SUP_STANDBY ? ALUA_STATE_STANDBY
						  : ALUA_STATE_ACTIVE_NONOPTIMIZED;
	if (state == g->state)
		return;
	g->state = state;
	g->status = ALUA_STATUS_BY_IMPLICIT;
}

/* The RTPG answer, @who deciding the states (TCMUR_LOCK_NONE: configfs's). */
static tcmu_sts rtpg_answer(struct tcmur_device *dev, struct cmd_ctx *ctx,
			    enum tcmur_lock_owner who)
{
	const uint8_t *cdb = ctx->pub.cdb;
	int format = cdb[1] >> 5;
	size_t alloc_len = tcmu_get_be32(cdb + 6), hdr = format ? 8 : 4, off;
	struct alua_group groups[ALUA_MAX_GROUPS];
	uint8_t buf[4096] = { 0 };
	bool port_group = false;
	int n;

	n = alua_groups_read(dev, groups, ALUA_MAX_GROUPS);
	off = hdr;
	for (int i = 0; i < n; i++) {
		struct alua_group *g = &groups[i];

		if (!g->nports)		/* as the kernel: only groups with ports */
			continue;
		lock_state(g, who);
		if (format && !port_group) {
			buf[5] = g->trans_secs;
			port_group = true;
		}
		buf[off] = (g->pref ? 0x80 : 0) | g->state;
		buf[off + 1] = g->sup;
		tcmu_put_be16(buf + off + 2, g->id);
		buf[off + 5] = g->status;
		buf[off + 7] = g->nports;
		off += 8;
		for (unsigned int p = 0; p < g->nports; p++, off += 4)
			tcmu_put_be16(buf + off + 2, g->rtpi[p]);
	}
	tcmu_put_be32(buf, off - 4);
	if (format)
		buf[4] = 0x10;
	scsi_respond(ctx, buf, off, alloc_len);
	return TCMU_STS_GOOD;
}

static bool has_lock_owner(const struct tcmur_device *dev)
{
	const struct tcmur_handler *h = &dev->handler->ops;

	return handler_minor(h) >= 5 && h->lock_owner;
}

/* CMD_IO_CUSTOM, on an I/O thread: the handler may ask its backend. */
static tcmu_sts rtpg_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	enum tcmur_lock_owner who = dev->handler->ops.lock_owner(dev);

	if (who != TCMUR_LOCK_OURS && who != TCMUR_LOCK_THEIRS)
		who = TCMUR_LOCK_NONE;
	return rtpg_answer(dev, ctx, who);
}

tcmu_sts scsi_rtpg(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	/* Formats: 000b length only, 001b extended header. */
	if ((ctx->pub.cdb[1] >> 5) > 1)
		return tcmur_cmd_invalid_cdb(&ctx->pub, 1, 7);
	if (!has_lock_owner(dev))
		return rtpg_answer(dev, ctx, TCMUR_LOCK_NONE);
	ctx->io = CMD_IO_CUSTOM;
	ctx->custom = rtpg_run;
	return TCMU_STS_ASYNC;
}

/* One transition an STPG asks for, checked on the device thread. */
struct stpg_step {
	char group[64];
	uint16_t id;
	uint8_t state;
	bool cfgfs;		/* the kernel takes the write */
	uint32_t delay_ms;	/* trans_delay_msecs, if we must wait it */
};

struct stpg_plan {
	unsigned int n;
	struct stpg_step steps[STPG_MAX_LEN / 4];
};

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The configfs state of group @id now ("transitioning" if unreadable). */
static uint8_t cfgfs_state(struct tcmur_device *dev, const char *group)
{
	char rel[256];
	uint64_t v;

	snprintf(rel, sizeof(rel), "alua/%s/alua_access_state", group);
	if (tcmu_cfgfs_read_u64(&dev->info, dev_cfgfs_root(dev), rel, &v))
		return ALUA_STATE_TRANSITIONING;
	return v & 0x0f;
}

static void stpg_step_run(struct tcmur_device *dev, const struct stpg_step *s)
{
	int err = -EPERM;

	if (s->cfgfs) {
		/* The kernel sleeps its delay inside this write. */
		err = alua_group_write_state(dev, s->group, s->state);
		if (err)
			tcmu_dev_warn(dev, "write ALUA group %s state %u: %s; keeping it here",
				      s->group, s->state, strerror(-err));
	}
	if (err)
		sleep_ms(s->delay_ms);
	alua_group_keep(dev, s->id, s->state, cfgfs_state(dev, s->group));
	tcmu_dev_info(dev, "ALUA group %s (%u) set to state %u%s", s->group, s->id,
		      s->state, err ? " (kept by the daemon)" : "");
}

/* CMD_IO_CUSTOM, on an I/O thread. */
static tcmu_sts stpg_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	struct stpg_plan *plan = ctx->custom_arg;

	for (unsigned int i = 0; i < plan->n; i++)
		stpg_step_run(dev, &plan->steps[i]);
	free(plan);
	ctx->custom_arg = NULL;
	return TCMU_STS_GOOD;
}

/* Check one descriptor of the list, at byte @at, into @s. */
static tcmu_sts stpg_check(struct cmd_ctx *ctx, const uint8_t *d, size_t at,
			   const struct alua_group *groups, int n, struct stpg_step *s)
{
	int state = d[0] & 0x0f;
	uint16_t id = tcmu_get_be16(d + 2);

	/* Only the primary states may be asked for (SPC-4 6.39). */
	if (state > ALUA_STATE_UNAVAILABLE)
		return tcmur_cmd_invalid_param(&ctx->pub, at, 3);
	for (int i = 0; i < n; i++) {
		const struct alua_group *g = &groups[i];

		if (g->id != id)
			continue;
		if (!(g->type & ALUA_TYPE_EXPLICIT) || !(g->sup & (1u << state)))
			return tcmur_cmd_invalid_param(&ctx->pub, at, 3);
		snprintf(s->group, sizeof(s->group), "%s", g->name);
		s->id = id;
		s->state = state;
		s->cfgfs = g->type & ALUA_TYPE_IMPLICIT;
		s->delay_ms = g->trans_delay_ms;
		return TCMU_STS_GOOD;
	}
	return tcmur_cmd_invalid_param(&ctx->pub, at + 2, -1);
}

tcmu_sts scsi_stpg(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	size_t len = tcmu_get_be32(ctx->pub.cdb + 6);
	struct alua_group groups[ALUA_MAX_GROUPS];
	struct stpg_plan *plan;
	uint8_t buf[STPG_MAX_LEN];
	tcmu_sts sts = TCMU_STS_GOOD;
	int n;

	sts = scsi_xfer_check(ctx, SCSI_XFER_OUT_PARAM, len);
	if (sts != TCMU_STS_GOOD || !len)
		return sts;
	if (len < 4 || len > sizeof(buf) || (len - 4) % 4)
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_PARAMETER_LIST_LENGTH_ERROR);
	plan = calloc(1, sizeof(*plan));
	if (!plan)
		return TCMU_STS_BUSY;
	tcmu_iov_to_buf(buf, len, ctx->pub.iov, ctx->pub.iov_cnt);
	n = alua_groups_read(dev, groups, ALUA_MAX_GROUPS);
	for (size_t off = 4; off < len && sts == TCMU_STS_GOOD; off += 4)
		sts = stpg_check(ctx, buf + off, off, groups, n, &plan->steps[plan->n++]);
	if (sts != TCMU_STS_GOOD) {
		free(plan);
		return sts;
	}
	/* Nothing is changed unless the whole list is good. */
	for (unsigned int i = 0; i < plan->n; i++)
		alua_group_transitioning(dev, plan->steps[i].id);
	ctx->custom_arg = plan;
	ctx->io = CMD_IO_CUSTOM;
	ctx->custom = stpg_run;
	return TCMU_STS_ASYNC;
}
