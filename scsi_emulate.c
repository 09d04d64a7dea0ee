/*
 * Command dispatch and the block commands: READ/WRITE, READ CAPACITY,
 * SYNCHRONIZE CACHE and the small housekeeping ones (SBC-3, SPC-4).
 * The command table is scsi_table.c; INQUIRY is in scsi_inquiry.c, MODE
 * SENSE/SELECT in scsi_mode.c, VERIFY and COMPARE AND WRITE in
 * scsi_verify.c, UNMAP and WRITE SAME in scsi_provision.c.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <string.h>

#include "scsi_defs.h"
#include "scsi_emulate.h"
#include "scsi_sense.h"

/* log2 of the handler's physical block over the logical one (0: the
 * same, unknown, or no power of two). */
static uint8_t phys_exponent(struct tcmur_device *dev, uint32_t lbs)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	uint64_t pbs;
	uint8_t e = 0;

	if (!h->physical_block_size || !lbs)
		return 0;
	pbs = h->physical_block_size(dev);
	while (e < 15 && ((uint64_t)lbs << (e + 1)) <= pbs)
		e++;
	return ((uint64_t)lbs << e) == pbs ? e : 0;
}

void scsi_geometry(struct tcmur_device *dev, struct scsi_geometry *g)
{
	pthread_mutex_lock(&dev->state_lock);
	g->block_size = dev->block_size;
	g->num_lbas = dev->size / dev->block_size;
	g->write_cache = dev->write_cache;
	g->d_sense = dev->d_sense;
	g->tas = dev->tas;
	pthread_mutex_unlock(&dev->state_lock);
	g->can_unmap = scsi_can_unmap(dev);
	g->unmap_zeroes = g->can_unmap && scsi_unmap_zeroes(dev);
	g->phys_exp = phys_exponent(dev, g->block_size);
}

/* The data-in is the first @len bytes of the buffer: report them, and
 * clear the rest, in every iovec (the kernel hands us data pages as they
 * were). */
static void data_in_len(struct cmd_ctx *ctx, size_t len)
{
	size_t skip = len;

	ctx->rcmd->has_read_len = true;
	ctx->rcmd->read_len = len;
	for (size_t i = 0; i < ctx->pub.iov_cnt; i++) {
		const struct iovec *v = &ctx->pub.iov[i];

		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		memset((uint8_t *)v->iov_base + skip, 0, v->iov_len - skip);
		skip = 0;
	}
}

tcmu_sts scsi_xfer_check(struct cmd_ctx *ctx, enum scsi_xfer xfer, uint64_t want)
{
	size_t have = ctx->pub.data_len;

	switch (xfer) {
	case SCSI_XFER_IN:
		/* Overflow: what fits; underflow: only what the CDB asks. */
		data_in_len(ctx, want < have ? want : have);
		return TCMU_STS_GOOD;
	case SCSI_XFER_OUT_DATA:
		if (want == have)
			return TCMU_STS_GOOD;
		tcmu_dev_dbg(ctx->dev, "opcode 0x%02x: %zu bytes of data-out, the CDB's "
			     "blocks are %llu", ctx->pub.cdb[0], have,
			     (unsigned long long)want);
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_INVALID_FIELD_IN_COMMAND_IU);
	case SCSI_XFER_OUT_PARAM:
		if (want <= have)
			return TCMU_STS_GOOD;
		tcmu_dev_dbg(ctx->dev, "opcode 0x%02x: %zu bytes of data-out, the CDB's "
			     "parameter list is %llu", ctx->pub.cdb[0], have,
			     (unsigned long long)want);
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_INVALID_FIELD_IN_CDB);
	}
	return TCMU_STS_GOOD;
}

void scsi_respond(struct cmd_ctx *ctx, const void *buf, size_t len, size_t alloc_len)
{
	size_t n = len < alloc_len ? len : alloc_len;

	/* Only what we write is data: the initiator learns the residual. */
	scsi_xfer_check(ctx, SCSI_XFER_IN, n);
	tcmu_iov_from_buf(ctx->pub.iov, ctx->pub.iov_cnt, buf, n);
}

tcmu_sts scsi_check_range(struct cmd_ctx *ctx, uint64_t lba, uint64_t n,
			  uint64_t num_lbas)
{
	if (lba > num_lbas || n > num_lbas - lba)
		return tcmur_cmd_sense_info(&ctx->pub, SENSE_ILLEGAL_REQUEST,
					    ASC_LBA_OUT_OF_RANGE, lba);
	return TCMU_STS_GOOD;
}

static bool is_write(uint8_t op)
{
	return op == WRITE_6 || op == WRITE_10 || op == WRITE_12 || op == WRITE_16;
}

static bool handler_can_fua(struct tcmur_device *dev)
{
	const struct tcmur_handler *h = &dev->handler->ops;

	return h->can_fua && h->can_fua(dev);
}

bool scsi_handler_op(struct tcmur_device *dev, struct cmd_ctx *ctx, enum cmd_io io)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	bool has = io == CMD_IO_WRITE_SAME ? h->write_same != NULL
					   : h->compare_and_write != NULL;

	if (!has || handler_minor(h) < 4)
		return false;
	ctx->io = io;
	ctx->flush_after = ctx->pub.fua && !handler_can_fua(dev);
	return true;
}

tcmu_sts scsi_read_write(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	bool write = is_write(cdb[0]), fua = false;
	uint64_t lba = tcmu_cdb_lba(cdb);
	uint64_t nblocks = tcmu_cdb_xfer_len(cdb);
	struct scsi_geometry g;
	tcmu_sts sts;

	if (cdb[0] != READ_6 && cdb[0] != WRITE_6)
		fua = cdb[1] & 0x08;
	scsi_geometry(dev, &g);
	sts = scsi_check_range(ctx, lba, nblocks, g.num_lbas);
	if (sts != TCMU_STS_GOOD)
		return sts;
	ctx->len = nblocks * g.block_size;
	sts = scsi_xfer_check(ctx, write ? SCSI_XFER_OUT_DATA : SCSI_XFER_IN, ctx->len);
	if (sts != TCMU_STS_GOOD)
		return sts;
	/* A READ into a smaller buffer moves what fits. */
	if (ctx->len > ctx->pub.data_len)
		ctx->len = ctx->pub.data_len;
	if (!ctx->len)
		return TCMU_STS_GOOD;
	ctx->offset = lba * g.block_size;
	ctx->io = write ? CMD_IO_WRITE : CMD_IO_READ;
	/* With the write cache off every write must be stable when it
	 * completes, exactly as with FUA. */
	ctx->pub.fua = write && (fua || !g.write_cache);
	ctx->flush_after = ctx->pub.fua && !handler_can_fua(dev);
	return TCMU_STS_ASYNC;
}

/* LBA and block count of the 10- and 16-byte cache commands. */
static void cache_cdb_range(const uint8_t *cdb, uint64_t *lba, uint64_t *n)
{
	if (cdb[0] == SYNCHRONIZE_CACHE_10 || cdb[0] == PRE_FETCH_10) {
		*lba = tcmu_get_be32(cdb + 2);
		*n = tcmu_get_be16(cdb + 7);
	} else {
		*lba = tcmu_get_be64(cdb + 2);
		*n = tcmu_get_be32(cdb + 10);
	}
}

tcmu_sts scsi_sync_cache(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	uint64_t lba, nblocks;
	struct scsi_geometry g;
	tcmu_sts sts;

	cache_cdb_range(ctx->pub.cdb, &lba, &nblocks);
	scsi_geometry(dev, &g);
	sts = scsi_check_range(ctx, lba, nblocks, g.num_lbas);
	if (sts != TCMU_STS_GOOD)
		return sts;
	ctx->io = CMD_IO_FLUSH;
	return TCMU_STS_ASYNC;
}

tcmu_sts scsi_pre_fetch(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	uint64_t lba, nblocks;
	struct scsi_geometry g;

	/* We keep no cache of our own to load: only the range is checked,
	 * and GOOD says the blocks were not all cached (SBC-3 5.8). */
	cache_cdb_range(ctx->pub.cdb, &lba, &nblocks);
	scsi_geometry(dev, &g);
	return scsi_check_range(ctx, lba, nblocks, g.num_lbas);
}

tcmu_sts scsi_tur(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	(void)dev;
	(void)ctx;
	return TCMU_STS_GOOD;
}

tcmu_sts scsi_prevent_allow(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	(void)dev;
	(void)ctx;
	/* Nothing removable to lock in: accepted and nothing to do. */
	return TCMU_STS_GOOD;
}

tcmu_sts scsi_request_sense(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	uint8_t buf[TCMU_SENSE_LEN];
	bool desc = ctx->pub.cdb[1] & 0x01;
	uint16_t asc;
	unsigned int len;

	/* A pending unit attention is returned and cleared (SPC-4 6.39);
	 * no deferred errors are kept, so otherwise NO SENSE. */
	if (dev_ua_take(dev, &asc))
		len = scsi_sense_build(buf, desc, SENSE_UNIT_ATTENTION, asc, false, 0, NULL);
	else
		len = scsi_sense_build(buf, desc, SENSE_NO_SENSE, ASC_NONE, false, 0, NULL);
	scsi_respond(ctx, buf, len, ctx->pub.cdb[4]);
	return TCMU_STS_GOOD;
}

tcmu_sts scsi_read_capacity_10(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	struct scsi_geometry g;
	uint8_t buf[8];
	uint64_t last;

	/* PMI is obsolete; a non-zero LBA without it is invalid (SBC-3 5.16). */
	if (!(cdb[8] & 0x01) && tcmu_get_be32(cdb + 2))
		return tcmur_cmd_invalid_cdb(&ctx->pub, 2, -1);
	scsi_geometry(dev, &g);
	last = g.num_lbas ? g.num_lbas - 1 : 0;
	tcmu_put_be32(buf, last > 0xfffffffe ? 0xffffffff : last);
	tcmu_put_be32(buf + 4, g.block_size);
	scsi_respond(ctx, buf, sizeof(buf), sizeof(buf));
	return TCMU_STS_GOOD;
}

tcmu_sts scsi_read_capacity_16(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	struct scsi_geometry g;
	uint8_t buf[32] = { 0 };

	scsi_geometry(dev, &g);
	tcmu_put_be64(buf, g.num_lbas ? g.num_lbas - 1 : 0);
	tcmu_put_be32(buf + 8, g.block_size);
	buf[13] = g.phys_exp;
	/* LBPME, and LBPRZ when unmapped blocks read back as zeros. */
	if (g.can_unmap)
		buf[14] = 0x80 | (g.unmap_zeroes ? 0x40 : 0);
	scsi_respond(ctx, buf, sizeof(buf), tcmu_get_be32(ctx->pub.cdb + 10));
	return TCMU_STS_GOOD;
}

tcmu_sts scsi_start_stop(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	(void)dev;
	/* A disk with no medium to eject: LOEJ asks the impossible. */
	if (ctx->pub.cdb[4] & 0x02)
		return tcmur_cmd_invalid_cdb(&ctx->pub, 4, 1);
	return TCMU_STS_GOOD;
}

tcmu_sts scsi_read_defect_data(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	uint8_t buf[8] = { 0 };

	(void)dev;
	/* No defects, in whatever list and format was asked for: a header
	 * that echoes the request and a length of zero (SBC-3 5.12). */
	if (cdb[0] == READ_DEFECT_DATA_10) {
		buf[1] = cdb[2] & 0x1f;
		scsi_respond(ctx, buf, 4, tcmu_get_be16(cdb + 7));
	} else {
		buf[1] = cdb[1] & 0x1f;
		scsi_respond(ctx, buf, 8, tcmu_get_be32(cdb + 6));
	}
	return TCMU_STS_GOOD;
}

tcmu_sts scsi_format_unit(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	uint8_t hdr[4];
	tcmu_sts sts;

	(void)dev;
	if (!(cdb[1] & 0x10))	/* FMTDATA 0: nothing to change, done */
		return TCMU_STS_GOOD;
	/* No length in the CDB: the list is the short header (no LONGLIST),
	 * and a defect list after it is refused below. */
	sts = scsi_xfer_check(ctx, SCSI_XFER_OUT_PARAM, sizeof(hdr));
	if (sts != TCMU_STS_GOOD)
		return sts;
	tcmu_iov_to_buf(hdr, sizeof(hdr), ctx->pub.iov, ctx->pub.iov_cnt);
	/* Short header: no defect list and no initialization pattern (IP)
	 * are the only things a medium with no defects can take. */
	if (hdr[1] & 0x08)
		return tcmur_cmd_invalid_param(&ctx->pub, 1, 3);
	if (tcmu_get_be16(hdr + 2))
		return tcmur_cmd_invalid_param(&ctx->pub, 2, -1);
	return TCMU_STS_GOOD;
}

/* The bits of byte 1 that hold RDPROTECT, WRPROTECT or VRPROTECT (7-5)
 * or FMTPINFO (7-6, LONGLIST is bit 5): one field, not single reserved
 * bits. 0: the command has no such field. */
static uint8_t protect_field(uint8_t opcode)
{
	switch (opcode) {
	case FORMAT_UNIT:
		return 0xc0;
	case READ_10: case READ_12: case READ_16:
	case WRITE_10: case WRITE_12: case WRITE_16:
	case VERIFY_10: case VERIFY_12: case VERIFY_16:
	case WRITE_VERIFY_10: case WRITE_VERIFY_12: case WRITE_VERIFY_16:
	case COMPARE_AND_WRITE: case WRITE_SAME_10: case WRITE_SAME_16:
		return 0xe0;
	default:
		return 0;
	}
}

/*
 * The first CDB bit, from the top, that the usage map does not allow.
 * A multi-bit field in error is pointed at by its top bit (SPC-4
 * 4.5.2.4.2).
 */
static int cdb_bad_bit(const struct scsi_op *op, const uint8_t *cdb, int *byte)
{
	for (int i = 1; i < op->cdb_len; i++) {
		uint8_t bad = cdb[i] & ~op->usage[i];

		if (!bad)
			continue;
		*byte = i;
		if (i == 1 && (bad & protect_field(op->opcode)))
			return 7;
		return 31 - __builtin_clz(bad);
	}
	return -1;
}

tcmu_sts scsi_emulate(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	const struct scsi_op *op;
	int byte = 0, bit;

	ctx->io = CMD_IO_NONE;
	ctx->flush_after = false;
	ctx->exclusive = false;
	ctx->no_io_lock = false;
	ctx->custom = NULL;
	ctx->custom_arg = NULL;
	ctx->pub.fua = false;
	op = scsi_op_lookup(dev, cdb[0], scsi_op_has_sa(cdb[0]) ? cdb[1] & 0x1f : -1);
	if (!op) {
		/* A known opcode with an unknown service action points at the
		 * SERVICE ACTION field (SPC-4 4.2.5.1). */
		if (scsi_op_has_sa(cdb[0]) && scsi_op_lookup(dev, cdb[0], -2))
			return tcmur_cmd_invalid_cdb(&ctx->pub, 1, 4);
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_INVALID_COMMAND_OPERATION_CODE);
	}
	if (ctx->pub.cdb_len < op->cdb_len)
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_INVALID_COMMAND_OPERATION_CODE);
	/* Reserved and unsupported bits, NACA among them (SAM-5 5.9). */
	bit = cdb_bad_bit(op, cdb, &byte);
	if (bit >= 0)
		return tcmur_cmd_invalid_cdb(&ctx->pub, byte, bit);
	return op->fn(dev, ctx);
}
