/*
 * MODE SENSE and MODE SELECT (SPC-4 6.11-6.14) with the read-write error
 * recovery, caching, control and informational exceptions control pages.
 * Only the control page's D_SENSE is changeable; the write cache follows
 * the kernel's emulate_write_cache attribute, TAS its emulate_tas (read
 * when the device is added), both set by the admin through targetcli.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <string.h>

#include "scsi_defs.h"
#include "scsi_emulate.h"

#define PC_CURRENT 0
#define PC_CHANGEABLE 1
#define PC_DEFAULT 2
#define PC_SAVED 3

#define PAGE_RW_RECOVERY 0x01
#define PAGE_CACHING 0x08
#define PAGE_CONTROL 0x0a
#define PAGE_INFO_EXCEPTIONS 0x1c
#define PAGE_ALL 0x3f

#define MODE_BUF_LEN 256

/* In ascending page code order: MODE SENSE of all pages returns them so. */
static const uint8_t mode_pages[] = {
	PAGE_RW_RECOVERY, PAGE_CACHING, PAGE_CONTROL, PAGE_INFO_EXCEPTIONS,
};
static const char *const mode_page_names[] = {
	"Read-write error recovery", "Caching (WCE from the kernel's emulate_write_cache)",
	"Control (D_SENSE changeable)",
	"Informational exceptions control (DEXCPT: none are reported)",
};

const uint8_t *scsi_mode_pages(size_t *count, const char *const **names)
{
	*count = sizeof(mode_pages);
	*names = mode_page_names;
	return mode_pages;
}

/* Write page @page as page control @pc says into @p; returns its length. */
static size_t mode_page(uint8_t page, int pc, const struct scsi_geometry *g, uint8_t *p)
{
	size_t len;

	switch (page) {
	case PAGE_RW_RECOVERY:
		len = 12;
		break;
	case PAGE_CACHING:
		len = 20;
		if (pc != PC_CHANGEABLE && g->write_cache)
			p[2] = 0x04;				/* WCE */
		break;
	case PAGE_CONTROL:
		len = 12;
		if (pc == PC_CHANGEABLE)
			p[2] = 0x04;				/* D_SENSE */
		else if (pc == PC_CURRENT && g->d_sense)
			p[2] = 0x04;
		if (pc != PC_CHANGEABLE) {
			p[3] = 0x10;	/* unrestricted reordering allowed */
			if (g->tas)	/* aborted tasks get TASK ABORTED */
				p[5] = 0x40;
			tcmu_put_be16(p + 8, 0xffff);	/* busy timeout: unlimited */
		}
		break;
	case PAGE_INFO_EXCEPTIONS:
		/* We predict no failures and report no informational
		 * exception: the operations are disabled (DEXCPT) and
		 * MRIE 0, and an initiator cannot turn them on. */
		len = 12;
		if (pc != PC_CHANGEABLE)
			p[2] = 0x08;				/* DEXCPT */
		break;
	default:
		return 0;
	}
	p[0] = page;
	p[1] = len - 2;
	return len;
}

static size_t block_descriptor(const struct scsi_geometry *g, bool longlba, uint8_t *p)
{
	if (longlba) {
		tcmu_put_be64(p, g->num_lbas);
		tcmu_put_be32(p + 12, g->block_size);
		return 16;
	}
	tcmu_put_be32(p, g->num_lbas > 0xffffffff ? 0xffffffff : g->num_lbas);
	tcmu_put_be32(p + 4, g->block_size & 0xffffff);
	return 8;
}

tcmu_sts scsi_mode_sense(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	bool ten = cdb[0] == MODE_SENSE_10;
	bool dbd = cdb[1] & 0x08, longlba = ten && (cdb[1] & 0x10);
	int pc = cdb[2] >> 6;
	uint8_t page = cdb[2] & 0x3f, subpage = cdb[3];
	size_t alloc_len = ten ? tcmu_get_be16(cdb + 7) : cdb[4];
	size_t hdr = ten ? 8 : 4, off, bd = 0;
	uint8_t buf[MODE_BUF_LEN] = { 0 };
	struct scsi_geometry g;

	if (pc == PC_SAVED)
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
	/* We have no subpages: only 0, or 0xff meaning "all of them". */
	if (subpage != 0x00 && subpage != 0xff)
		return tcmur_cmd_invalid_cdb(&ctx->pub, 3, -1);
	scsi_geometry(dev, &g);
	off = hdr;
	if (!dbd) {
		bd = block_descriptor(&g, longlba, buf + off);
		off += bd;
	}
	if (page == PAGE_ALL) {
		for (size_t i = 0; i < sizeof(mode_pages); i++)
			off += mode_page(mode_pages[i], pc, &g, buf + off);
	} else {
		size_t n = mode_page(page, pc, &g, buf + off);

		if (!n)
			return tcmur_cmd_invalid_cdb(&ctx->pub, 2, 5);
		off += n;
	}
	if (ten) {
		tcmu_put_be16(buf, off - 2);
		buf[3] = 0x10;			/* DPOFUA */
		buf[4] = longlba && bd ? 0x01 : 0;
		tcmu_put_be16(buf + 6, bd);
	} else {
		buf[0] = off - 1;
		buf[2] = 0x10;			/* DPOFUA */
		buf[3] = bd;
	}
	scsi_respond(ctx, buf, off, alloc_len);
	return TCMU_STS_GOOD;
}

/* Check one page of a MODE SELECT list against what may change; apply it. */
static tcmu_sts mode_select_page(struct tcmur_device *dev, struct cmd_ctx *ctx,
				 const uint8_t *p, size_t avail, size_t at,
				 const struct scsi_geometry *g, size_t *used)
{
	uint8_t cur[MODE_BUF_LEN] = { 0 }, mask[MODE_BUF_LEN] = { 0 };
	uint8_t page = p[0] & 0x3f;
	size_t len;

	if (p[0] & 0x40)	/* SPF: a subpage, and we have none */
		return tcmur_cmd_invalid_param(&ctx->pub, at, 6);
	len = mode_page(page, PC_CURRENT, g, cur);
	if (!len)
		return tcmur_cmd_invalid_param(&ctx->pub, at, 5);
	mode_page(page, PC_CHANGEABLE, g, mask);
	if (avail < 2 || p[1] != len - 2)
		return tcmur_cmd_invalid_param(&ctx->pub, at + 1, -1);
	if (avail < len)
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_PARAMETER_LIST_LENGTH_ERROR);
	for (size_t i = 2; i < len; i++) {
		if ((p[i] & ~mask[i]) != (cur[i] & ~mask[i]))
			return tcmur_cmd_invalid_param(&ctx->pub, at + i, -1);
	}
	if (page == PAGE_CONTROL) {
		pthread_mutex_lock(&dev->state_lock);
		dev->d_sense = p[2] & 0x04;
		pthread_mutex_unlock(&dev->state_lock);
	}
	*used = len;
	return TCMU_STS_GOOD;
}

tcmu_sts scsi_mode_select(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	bool ten = cdb[0] == MODE_SELECT_10;
	size_t list_len = ten ? tcmu_get_be16(cdb + 7) : cdb[4];
	size_t hdr = ten ? 8 : 4, bd, off;
	uint8_t buf[MODE_BUF_LEN];
	struct scsi_geometry g;
	tcmu_sts sts;

	sts = scsi_xfer_check(ctx, SCSI_XFER_OUT_PARAM, list_len);
	if (sts != TCMU_STS_GOOD)
		return sts;
	if (cdb[1] & 0x01)	/* SP: we save nothing */
		return tcmur_cmd_invalid_cdb(&ctx->pub, 1, 0);
	/* SPC-4 MODE SELECT: a PARAMETER LIST LENGTH of zero transfers
	 * nothing and is not an error, whatever PF says. */
	if (!list_len)
		return TCMU_STS_GOOD;
	if (!(cdb[1] & 0x10))	/* PF: only the page format is spoken */
		return tcmur_cmd_invalid_cdb(&ctx->pub, 1, 4);
	if (list_len > sizeof(buf) || list_len < hdr)
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_PARAMETER_LIST_LENGTH_ERROR);
	tcmu_iov_to_buf(buf, list_len, ctx->pub.iov, ctx->pub.iov_cnt);
	bd = ten ? tcmu_get_be16(buf + 6) : buf[3];
	if (hdr + bd > list_len)
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_PARAMETER_LIST_LENGTH_ERROR);
	scsi_geometry(dev, &g);
	/* A block descriptor may not change the block size. */
	if (bd >= 8 && (tcmu_get_be32(buf + hdr + bd - 4) & 0xffffff) != g.block_size)
		return tcmur_cmd_invalid_param(&ctx->pub, hdr + bd - 3, -1);
	for (off = hdr + bd; off < list_len;) {
		size_t used = 0;
		tcmu_sts sts = mode_select_page(dev, ctx, buf + off, list_len - off, off,
						&g, &used);

		if (sts != TCMU_STS_GOOD)
			return sts;
		off += used;
	}
	return TCMU_STS_GOOD;
}
