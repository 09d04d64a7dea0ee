/*
 * REPORT SUPPORTED OPERATION CODES (SPC-4 6.35), answered from the same
 * table that dispatches commands (scsi_table.c): what we report is what
 * we accept, field by field. Licensed under the Apache License, 2.0.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "scsi_defs.h"
#include "scsi_emulate.h"

#define TIMEOUTS_LEN 12
/* Seconds: the kernel's default cmd_time_out, for every command. */
#define RECOMMENDED_TIMEOUT 30

static size_t put_timeouts(uint8_t *p)
{
	memset(p, 0, TIMEOUTS_LEN);
	tcmu_put_be16(p, TIMEOUTS_LEN - 2);
	tcmu_put_be32(p + 8, RECOMMENDED_TIMEOUT);
	return TIMEOUTS_LEN;
}

static tcmu_sts report_all(struct tcmur_device *dev, struct cmd_ctx *ctx, bool rctd,
			   size_t alloc_len)
{
	size_t count, off = 4;
	const struct scsi_op *ops = scsi_ops(&count);
	uint8_t *buf = calloc(1, 4 + count * (8 + TIMEOUTS_LEN));

	if (!buf)
		return TCMU_STS_BUSY;
	for (size_t i = 0; i < count; i++) {
		const struct scsi_op *op = &ops[i];
		uint8_t *d = buf + off;

		if (op->supported && !op->supported(dev))
			continue;
		memset(d, 0, 8);
		d[0] = op->opcode;
		if (op->service_action >= 0) {
			tcmu_put_be16(d + 2, op->service_action);
			d[5] |= 0x01;			/* SERVACTV */
		}
		if (rctd)
			d[5] |= 0x02;			/* CTDP */
		tcmu_put_be16(d + 6, op->cdb_len);
		off += 8;
		if (rctd)
			off += put_timeouts(buf + off);
	}
	tcmu_put_be32(buf, off - 4);
	scsi_respond(ctx, buf, off, alloc_len);
	free(buf);
	return TCMU_STS_GOOD;
}

static tcmu_sts report_one(struct tcmur_device *dev, struct cmd_ctx *ctx, bool rctd,
			   int opts, size_t alloc_len)
{
	const uint8_t *cdb = ctx->pub.cdb;
	uint8_t req_op = cdb[3], buf[4 + 16 + TIMEOUTS_LEN] = { 0 };
	bool has_sa = scsi_op_has_sa(req_op);
	const struct scsi_op *op;
	size_t off = 4;

	/* Option 1 is for opcodes without service actions, 2 for those with. */
	if ((opts == 1 && has_sa) || (opts == 2 && !has_sa))
		return tcmur_cmd_invalid_cdb(&ctx->pub, 2, 2);
	op = scsi_op_lookup(dev, req_op, has_sa ? tcmu_get_be16(cdb + 4) : -1);
	if (!op) {
		buf[1] = 0x01;				/* not supported */
		scsi_respond(ctx, buf, 4, alloc_len);
		return TCMU_STS_GOOD;
	}
	buf[1] = 0x03 | (rctd ? 0x80 : 0);		/* supported, CTDP */
	tcmu_put_be16(buf + 2, op->cdb_len);
	memcpy(buf + off, op->usage, op->cdb_len);
	/* The service action code itself, where the CDB has it (SPC-4
	 * 6.35.3); the map marks those bits as used for dispatch. */
	if (op->service_action >= 0)
		buf[off + 1] = (buf[off + 1] & ~0x1f) | op->service_action;
	off += op->cdb_len;
	if (rctd)
		off += put_timeouts(buf + off);
	scsi_respond(ctx, buf, off, alloc_len);
	return TCMU_STS_GOOD;
}

tcmu_sts scsi_report_opcodes(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	bool rctd = cdb[2] & 0x80;
	int opts = cdb[2] & 0x07;
	size_t alloc_len = tcmu_get_be32(cdb + 6);

	if (opts == 0)
		return report_all(dev, ctx, rctd, alloc_len);
	if (opts <= 3)
		return report_one(dev, ctx, rctd, opts, alloc_len);
	return tcmur_cmd_invalid_cdb(&ctx->pub, 2, 2);
}
