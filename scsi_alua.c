/*
 * ALUA (SPC-4 5.16): the kernel keeps a TCMU device's target port groups
 * in configfs (core/user_N/<dev>/alua/<group>/) and enforces their states,
 * but passes REPORT and SET TARGET PORT GROUPS to us. We answer them from
 * configfs, and a SET is written back there, so the kernel and we agree.
 *
 * TCMU does not say through which port a command came: INQUIRY's TPGS and
 * VPD 0x83's port designators describe the first group that has ports.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi_alua.h"
#include "scsi_defs.h"
#include "scsi_emulate.h"

#define ASC_STPG_FAILED 0x670a
#define CFS_TARGET "/sys/kernel/config/target"

static int read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static void group_rel(char *rel, size_t len, const char *group, const char *attr)
{
	snprintf(rel, len, "alua/%s/%s", group, attr);
}

/* A numeric attribute of @group, or -1 if it cannot be read. */
static long group_attr(struct tcmur_device *dev, const char *group, const char *attr)
{
	char rel[256];
	uint64_t v;

	group_rel(rel, sizeof(rel), group, attr);
	return tcmu_cfgfs_read_u64(&dev->info, NULL, rel, &v) ? -1 : (long)v;
}

/* A text attribute of @group ("" if it cannot be read). */
static void group_text(struct tcmur_device *dev, const char *group, const char *attr,
		       char *buf, size_t len)
{
	char rel[256];

	group_rel(rel, sizeof(rel), group, attr);
	if (tcmu_cfgfs_read_str(&dev->info, NULL, rel, buf, len))
		buf[0] = '\0';
}

/* The relative port id of a member "fabric/wwn/tpgt_N/lun_M". */
static int member_rtpi(const char *member)
{
	char path[1024], buf[32];
	const char *lun = strrchr(member, '/');

	if (!lun)
		return -1;
	snprintf(path, sizeof(path), CFS_TARGET "/%.*s/lun%s/statistics/scsi_port/indx",
		 (int)(lun - member), member, lun);
	if (read_text(path, buf, sizeof(buf)))
		return -1;
	return atoi(buf);
}

static void group_members(struct tcmur_device *dev, struct alua_group *g)
{
	char rel[256], path[1536], buf[4096], *line, *save = NULL;

	/* One line per port: read whole, not as tcmu_cfgfs_read_str does. */
	group_rel(rel, sizeof(rel), g->name, "members");
	tcmu_cfgfs_path(path, sizeof(path), &dev->info, NULL, rel);
	if (read_text(path, buf, sizeof(buf)))
		return;
	for (line = strtok_r(buf, "\n", &save); line && g->nports < ALUA_MAX_PORTS;
	     line = strtok_r(NULL, "\n", &save)) {
		int rtpi = member_rtpi(line);

		g->rtpi[g->nports++] = rtpi < 0 ? 0 : rtpi;
	}
}

static uint8_t group_supported_states(struct tcmur_device *dev, const char *name)
{
	static const struct {
		const char *attr;
		uint8_t bit;
	} sup[] = {
		{ "alua_support_transitioning", 0x80 }, { "alua_support_offline", 0x40 },
		{ "alua_support_lba_dependent", 0x10 }, { "alua_support_unavailable", 0x08 },
		{ "alua_support_standby", 0x04 }, { "alua_support_active_nonoptimized", 0x02 },
		{ "alua_support_active_optimized", 0x01 },
	};
	uint8_t bits = 0;

	for (size_t i = 0; i < sizeof(sup) / sizeof(sup[0]); i++)
		if (group_attr(dev, name, sup[i].attr) == 1)
			bits |= sup[i].bit;
	return bits;
}

/* alua_access_type reads "None", "Implicit", "Explicit" or "Implicit and
 * Explicit": the TPGS field's two bits. */
static uint8_t group_access_type(struct tcmur_device *dev, const char *name)
{
	char buf[64];
	uint8_t type = 0;

	group_text(dev, name, "alua_access_type", buf, sizeof(buf));
	if (strstr(buf, "Implicit"))
		type |= ALUA_TYPE_IMPLICIT;
	if (strstr(buf, "Explicit"))
		type |= ALUA_TYPE_EXPLICIT;
	return type;
}

static uint8_t group_status(struct tcmur_device *dev, const char *name)
{
	char buf[64];

	group_text(dev, name, "alua_access_status", buf, sizeof(buf));
	if (strstr(buf, "Explicit"))
		return 0x01;	/* altered by SET TARGET PORT GROUPS */
	if (strstr(buf, "Implicit"))
		return 0x02;	/* altered by implicit ALUA */
	return 0;
}

int alua_groups_read(struct tcmur_device *dev, struct alua_group *out, int max)
{
	char path[1536];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	tcmu_cfgfs_path(path, sizeof(path), &dev->info, NULL, "alua");
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir)) && n < max) {
		struct alua_group *g = &out[n];
		long id;

		if (de->d_name[0] == '.')
			continue;
		memset(g, 0, sizeof(*g));
		snprintf(g->name, sizeof(g->name), "%.63s", de->d_name);
		id = group_attr(dev, g->name, "tg_pt_gp_id");
		if (id < 0)
			continue;
		g->id = id;
		g->state = group_attr(dev, g->name, "alua_access_state") & 0x0f;
		g->type = group_access_type(dev, g->name);
		g->pref = group_attr(dev, g->name, "preferred") == 1;
		g->trans_secs = group_attr(dev, g->name, "implicit_trans_secs") & 0xff;
		g->sup = group_supported_states(dev, g->name);
		g->status = group_status(dev, g->name);
		group_members(dev, g);
		n++;
	}
	closedir(dir);
	return n;
}

bool alua_port_group(struct tcmur_device *dev, struct alua_group *g)
{
	struct alua_group groups[ALUA_MAX_GROUPS];
	int n = alua_groups_read(dev, groups, ALUA_MAX_GROUPS);

	for (int i = 0; i < n; i++) {
		if (groups[i].nports) {
			*g = groups[i];
			return true;
		}
	}
	return false;
}

bool alua_enabled(struct tcmur_device *dev)
{
	struct alua_group g;

	return alua_groups_read(dev, &g, 1) > 0;
}

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

tcmu_sts scsi_rtpg(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	int format = cdb[1] >> 5;
	size_t alloc_len = tcmu_get_be32(cdb + 6), hdr = format ? 8 : 4, off;
	struct alua_group groups[ALUA_MAX_GROUPS], port_group;
	uint8_t buf[4096] = { 0 };
	int n;

	/* Formats: 000b length only, 001b extended header. */
	if (format > 1)
		return tcmur_cmd_invalid_cdb(&ctx->pub, 1, 7);
	n = alua_groups_read(dev, groups, ALUA_MAX_GROUPS);
	off = hdr;
	for (int i = 0; i < n; i++) {
		const struct alua_group *g = &groups[i];

		if (!g->nports)		/* as the kernel: only groups with ports */
			continue;
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
	if (format) {
		buf[4] = 0x10;
		if (alua_port_group(dev, &port_group))
			buf[5] = port_group.trans_secs;
	}
	scsi_respond(ctx, buf, off, alloc_len);
	return TCMU_STS_GOOD;
}

static int write_state(struct tcmur_device *dev, const char *group, int state)
{
	char rel[256], val[8];

	group_rel(rel, sizeof(rel), group, "alua_access_state");
	snprintf(val, sizeof(val), "%d\n", state);
	return tcmu_cfgfs_write_str(&dev->info, NULL, rel, val);
}

/* One descriptor of a SET TARGET PORT GROUPS list, at byte @at. */
static tcmu_sts stpg_one(struct tcmur_device *dev, struct cmd_ctx *ctx, const uint8_t *d,
			 size_t at, const struct alua_group *groups, int n)
{
	int state = d[0] & 0x0f, err;
	uint16_t id = tcmu_get_be16(d + 2);

	/* Only the primary states may be asked for (SPC-4 6.39). */
	if (state > ALUA_STATE_UNAVAILABLE)
		return tcmur_cmd_invalid_param(&ctx->pub, at, 3);
	for (int i = 0; i < n; i++) {
		if (groups[i].id != id)
			continue;
		if (!(groups[i].type & ALUA_TYPE_EXPLICIT) ||
		    !(groups[i].sup & (1u << state)))
			return tcmur_cmd_invalid_param(&ctx->pub, at, 3);
		err = write_state(dev, groups[i].name, state);
		if (err) {
			tcmu_dev_err(dev, "set ALUA group %s to state %d: %s", groups[i].name,
				     state, strerror(-err));
			return tcmur_cmd_sense(&ctx->pub, SENSE_HARDWARE_ERROR,
					       ASC_STPG_FAILED);
		}
		tcmu_dev_info(dev, "ALUA group %s (%u) set to state %d", groups[i].name,
			      id, state);
		return TCMU_STS_GOOD;
	}
	return tcmur_cmd_invalid_param(&ctx->pub, at + 2, -1);
}

tcmu_sts scsi_stpg(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	size_t len = tcmu_get_be32(ctx->pub.cdb + 6);
	struct alua_group groups[ALUA_MAX_GROUPS];
	uint8_t buf[1024];
	tcmu_sts sts;
	int n;

	sts = scsi_xfer_check(ctx, SCSI_XFER_OUT_PARAM, len);
	if (sts != TCMU_STS_GOOD || !len)
		return sts;
	if (len < 4 || len > sizeof(buf) || (len - 4) % 4)
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_PARAMETER_LIST_LENGTH_ERROR);
	tcmu_iov_to_buf(buf, len, ctx->pub.iov, ctx->pub.iov_cnt);
	n = alua_groups_read(dev, groups, ALUA_MAX_GROUPS);
	for (size_t off = 4; off < len && sts == TCMU_STS_GOOD; off += 4)
		sts = stpg_one(dev, ctx, buf + off, off, groups, n);
	return sts;
}
