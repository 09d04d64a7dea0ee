/*
 * Command dispatch and the block commands: READ/WRITE, READ CAPACITY,
 * SYNCHRONIZE CACHE and the small housekeeping ones (SBC-3, SPC-4).
 * INQUIRY lives in scsi_inquiry.c, MODE SENSE/SELECT in scsi_mode.c.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <string.h>

#include "scsi_defs.h"
#include "scsi_emulate.h"
#include "scsi_sense.h"

void scsi_geometry(struct tcmur_device *dev, struct scsi_geometry *g)
{
	pthread_mutex_lock(&dev->state_lock);
	g->block_size = dev->block_size;
	g->num_lbas = dev->size / dev->block_size;
	g->write_cache = dev->write_cache;
	g->d_sense = dev->d_sense;
	pthread_mutex_unlock(&dev->state_lock);
	g->can_unmap = dev->handler->ops.unmap != NULL;
}

void scsi_respond(struct cmd_ctx *ctx, const void *buf, size_t len, size_t alloc_len)
{
	size_t n = len < alloc_len ? len : alloc_len;
	size_t skip = tcmu_iov_from_buf(ctx->pub.iov, ctx->pub.iov_cnt, buf, n);

	/* The kernel hands us data pages as they were: clear what we don't
	 * fill, in every iovec. */
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

static tcmu_sts lba_out_of_range(struct cmd_ctx *ctx, uint64_t lba)
{
	return tcmur_cmd_sense_info(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				    ASC_LBA_OUT_OF_RANGE, lba);
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

static tcmu_sts emu_read_write(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	bool write = is_write(cdb[0]), fua = false;
	uint64_t lba = tcmu_cdb_lba(cdb);
	uint64_t nblocks = tcmu_cdb_xfer_len(cdb);
	struct scsi_geometry g;

	if (cdb[0] != READ_6 && cdb[0] != WRITE_6) {
		/* No protection information on our LUNs (SBC-3 5.15). */
		if (cdb[1] & 0xe0)
			return tcmur_cmd_invalid_cdb(&ctx->pub, 1, 7);
		fua = cdb[1] & 0x08;
	}
	scsi_geometry(dev, &g);
	if (lba > g.num_lbas || nblocks > g.num_lbas - lba)
		return lba_out_of_range(ctx, lba);
	if (!nblocks)
		return TCMU_STS_GOOD;
	ctx->offset = lba * g.block_size;
	ctx->len = nblocks * g.block_size;
	if (ctx->len > ctx->pub.data_len)
		ctx->len = ctx->pub.data_len;
	ctx->io = write ? CMD_IO_WRITE : CMD_IO_READ;
	/* With the write cache off every write must be stable when it
	 * completes, exactly as with FUA. */
	ctx->pub.fua = write && (fua || !g.write_cache);
	ctx->flush_after = ctx->pub.fua && !handler_can_fua(dev);
	return TCMU_STS_ASYNC;
}

static tcmu_sts emu_sync_cache(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	uint64_t lba, nblocks;
	struct scsi_geometry g;

	if (cdb[0] == SYNCHRONIZE_CACHE_10) {
		lba = tcmu_get_be32(cdb + 2);
		nblocks = tcmu_get_be16(cdb + 7);
	} else {
		lba = tcmu_get_be64(cdb + 2);
		nblocks = tcmu_get_be32(cdb + 10);
	}
	scsi_geometry(dev, &g);
	if (lba > g.num_lbas || nblocks > g.num_lbas - lba)
		return lba_out_of_range(ctx, lba);
	ctx->io = CMD_IO_FLUSH;
	return TCMU_STS_ASYNC;
}

static tcmu_sts emu_tur(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	(void)dev;
	(void)ctx;
	return TCMU_STS_GOOD;
}

static tcmu_sts emu_request_sense(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	uint8_t buf[TCMU_SENSE_LEN];
	bool desc = ctx->pub.cdb[1] & 0x01;
	unsigned int len;

	(void)dev;
	/* No deferred errors or pending conditions are kept: NO SENSE. */
	len = scsi_sense_build(buf, desc, SENSE_NO_SENSE, ASC_NONE, false, 0, NULL);
	scsi_respond(ctx, buf, len, ctx->pub.cdb[4]);
	return TCMU_STS_GOOD;
}

static tcmu_sts emu_read_capacity_10(struct tcmur_device *dev, struct cmd_ctx *ctx)
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

static tcmu_sts emu_read_capacity_16(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	struct scsi_geometry g;
	uint8_t buf[32] = { 0 };

	scsi_geometry(dev, &g);
	tcmu_put_be64(buf, g.num_lbas ? g.num_lbas - 1 : 0);
	tcmu_put_be32(buf + 8, g.block_size);
	/* LBPME and LBPRZ: unmapped blocks read back as zeros. */
	if (g.can_unmap)
		buf[14] = 0x80 | 0x40;
	scsi_respond(ctx, buf, sizeof(buf), tcmu_get_be32(ctx->pub.cdb + 10));
	return TCMU_STS_GOOD;
}

static tcmu_sts emu_start_stop(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	(void)dev;
	/* A disk with no medium to eject: LOEJ asks the impossible. */
	if (ctx->pub.cdb[4] & 0x02)
		return tcmur_cmd_invalid_cdb(&ctx->pub, 4, 1);
	return TCMU_STS_GOOD;
}

static const struct scsi_op scsi_op_table[] = {
	{ TEST_UNIT_READY, -1, 6, "TEST UNIT READY", emu_tur },
	{ REQUEST_SENSE, -1, 6, "REQUEST SENSE", emu_request_sense },
	{ READ_6, -1, 6, "READ(6)", emu_read_write },
	{ WRITE_6, -1, 6, "WRITE(6)", emu_read_write },
	{ INQUIRY, -1, 6, "INQUIRY", scsi_inquiry },
	{ MODE_SELECT_6, -1, 6, "MODE SELECT(6)", scsi_mode_select },
	{ MODE_SENSE_6, -1, 6, "MODE SENSE(6)", scsi_mode_sense },
	{ START_STOP_UNIT, -1, 6, "START STOP UNIT", emu_start_stop },
	{ READ_CAPACITY_10, -1, 10, "READ CAPACITY(10)", emu_read_capacity_10 },
	{ READ_10, -1, 10, "READ(10)", emu_read_write },
	{ WRITE_10, -1, 10, "WRITE(10)", emu_read_write },
	{ SYNCHRONIZE_CACHE_10, -1, 10, "SYNCHRONIZE CACHE(10)", emu_sync_cache },
	{ MODE_SELECT_10, -1, 10, "MODE SELECT(10)", scsi_mode_select },
	{ MODE_SENSE_10, -1, 10, "MODE SENSE(10)", scsi_mode_sense },
	{ READ_16, -1, 16, "READ(16)", emu_read_write },
	{ WRITE_16, -1, 16, "WRITE(16)", emu_read_write },
	{ SYNCHRONIZE_CACHE_16, -1, 16, "SYNCHRONIZE CACHE(16)", emu_sync_cache },
	{ SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, 16, "READ CAPACITY(16)",
	  emu_read_capacity_16 },
	{ READ_12, -1, 12, "READ(12)", emu_read_write },
	{ WRITE_12, -1, 12, "WRITE(12)", emu_read_write },
};

const struct scsi_op *scsi_ops(size_t *count)
{
	*count = sizeof(scsi_op_table) / sizeof(scsi_op_table[0]);
	return scsi_op_table;
}

static const struct scsi_op *scsi_op_find(const uint8_t *cdb, bool *sa_mismatch)
{
	*sa_mismatch = false;
	for (size_t i = 0; i < sizeof(scsi_op_table) / sizeof(scsi_op_table[0]); i++) {
		const struct scsi_op *op = &scsi_op_table[i];

		if (op->opcode != cdb[0])
			continue;
		if (op->service_action < 0 || op->service_action == (cdb[1] & 0x1f))
			return op;
		*sa_mismatch = true;
	}
	return NULL;
}

tcmu_sts scsi_emulate(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	const struct scsi_op *op;
	bool sa_mismatch;

	ctx->io = CMD_IO_NONE;
	ctx->flush_after = false;
	ctx->pub.fua = false;
	op = scsi_op_find(cdb, &sa_mismatch);
	if (!op) {
		/* A known opcode with an unknown service action points at the
		 * SERVICE ACTION field (SPC-4 4.2.5.1). */
		if (sa_mismatch)
			return tcmur_cmd_invalid_cdb(&ctx->pub, 1, 4);
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_INVALID_COMMAND_OPERATION_CODE);
	}
	if (ctx->pub.cdb_len < op->cdb_len)
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_INVALID_COMMAND_OPERATION_CODE);
	/* We do not support NACA (SAM-5 5.9): the CONTROL byte's bit 2. */
	if (cdb[op->cdb_len - 1] & 0x04)
		return tcmur_cmd_invalid_cdb(&ctx->pub, op->cdb_len - 1, 2);
	return op->fn(dev, ctx);
}
