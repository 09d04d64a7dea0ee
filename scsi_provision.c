/*
 * Thin provisioning (SBC-3 4.7): UNMAP, WRITE SAME (with UNMAP and NDOB)
 * and GET LBA STATUS. Blocks are deallocated through the handler's unmap,
 * which makes them read back as zeros (LBPRZ) unless its unmap_zeroes
 * says otherwise.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "scsi_defs.h"
#include "scsi_emulate.h"

#define UNMAP_HDR 8
#define UNMAP_DESC 16
/* WRITE SAME writes its pattern in pieces of at most this many bytes. */
#define WS_CHUNK (1024 * 1024)

bool scsi_can_unmap(struct tcmur_device *dev)
{
	const struct tcmur_handler *h = &dev->handler->ops;

	return h->unmap && (!h->can_unmap || h->can_unmap(dev));
}

bool scsi_unmap_zeroes(struct tcmur_device *dev)
{
	const struct tcmur_handler *h = &dev->handler->ops;

	return !h->unmap_zeroes || h->unmap_zeroes(dev);
}

/* Read the UNMAP parameter list; NULL with a status in *sts if it is bad. */
static uint8_t *unmap_params(struct tcmur_device *dev, struct cmd_ctx *ctx,
			     size_t *ndesc, tcmu_sts *sts)
{
	size_t len = tcmu_get_be16(ctx->pub.cdb + 7), bd_len;
	struct scsi_geometry g;
	uint64_t total = 0;
	uint8_t *buf;

	/* scsi_unmap checked that the buffer holds @len bytes. */
	*sts = TCMU_STS_GOOD;
	if (len < UNMAP_HDR) {
		*sts = tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_PARAMETER_LIST_LENGTH_ERROR);
		return NULL;
	}
	buf = malloc(len);
	if (!buf) {
		*sts = TCMU_STS_BUSY;
		return NULL;
	}
	tcmu_iov_to_buf(buf, len, ctx->pub.iov, ctx->pub.iov_cnt);
	/* An incomplete last descriptor is ignored (SBC-3 5.28.2). */
	bd_len = tcmu_get_be16(buf + 2) / UNMAP_DESC * UNMAP_DESC;
	if (bd_len / UNMAP_DESC > SCSI_MAX_UNMAP_DESCS) {
		*sts = tcmur_cmd_invalid_param(&ctx->pub, 2, -1);
		goto fail;
	}
	if (UNMAP_HDR + bd_len > len) {
		*sts = tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_PARAMETER_LIST_LENGTH_ERROR);
		goto fail;
	}
	*ndesc = bd_len / UNMAP_DESC;
	scsi_geometry(dev, &g);
	for (size_t i = 0; i < *ndesc; i++) {
		const uint8_t *d = buf + UNMAP_HDR + i * UNMAP_DESC;
		uint64_t lba = tcmu_get_be64(d), n = tcmu_get_be32(d + 8);

		*sts = scsi_check_range(ctx, lba, n, g.num_lbas);
		if (*sts != TCMU_STS_GOOD)
			goto fail;
		total += n;
		if (total > SCSI_MAX_UNMAP_LBAS) {
			*sts = tcmur_cmd_invalid_param(&ctx->pub, UNMAP_HDR + i * UNMAP_DESC + 8,
						       -1);
			goto fail;
		}
	}
	return buf;
fail:
	free(buf);
	return NULL;
}

/* With the write cache off, deallocation is as durable as a write. */
static tcmu_sts unmap_stable(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts sts)
{
	if (sts != TCMU_STS_GOOD || tcmur_dev_write_cache(dev))
		return sts;
	return dev_io_sync(dev, ctx, CMD_IO_FLUSH, NULL, 0, 0, 0, false);
}

static tcmu_sts unmap_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	uint32_t bs = tcmur_dev_block_size(dev);
	size_t ndesc = 0;
	tcmu_sts sts;
	uint8_t *buf = unmap_params(dev, ctx, &ndesc, &sts);

	for (size_t i = 0; buf && i < ndesc && sts == TCMU_STS_GOOD; i++) {
		const uint8_t *d = buf + UNMAP_HDR + i * UNMAP_DESC;
		uint64_t n = tcmu_get_be32(d + 8);

		if (n)
			sts = dev_io_sync(dev, ctx, CMD_IO_UNMAP, NULL, 0,
					  tcmu_get_be64(d) * bs, n * bs, false);
	}
	free(buf);
	return unmap_stable(dev, ctx, sts);
}

tcmu_sts scsi_unmap(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	size_t ndesc = 0, len = tcmu_get_be16(ctx->pub.cdb + 7);
	tcmu_sts sts;
	uint8_t *buf;

	sts = scsi_xfer_check(ctx, SCSI_XFER_OUT_PARAM, len);
	if (sts != TCMU_STS_GOOD || !len)
		return sts;	/* an empty list asks for nothing */
	/* Checked here, on the device thread, so that a bad list is answered
	 * at once; the I/O thread reads it again to do the work. */
	buf = unmap_params(dev, ctx, &ndesc, &sts);
	if (!buf)
		return sts;
	free(buf);
	ctx->io = CMD_IO_CUSTOM;
	ctx->custom = unmap_run;
	return TCMU_STS_ASYNC;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	return !len || (!p[0] && !memcmp(p, p + 1, len - 1));
}

static tcmu_sts ws_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	bool unmap = cdb[1] & 0x08, ndob = cdb[0] == WRITE_SAME_16 && (cdb[1] & 0x01);
	uint32_t bs = tcmur_dev_block_size(dev);
	/* Whole blocks per piece (hw_block_size need not divide WS_CHUNK). */
	size_t chunk = WS_CHUNK > bs ? WS_CHUNK / bs * bs : bs;
	tcmu_sts sts = TCMU_STS_GOOD;
	uint8_t *pat;

	if (ctx->len < chunk)
		chunk = ctx->len;
	pat = calloc(1, chunk);
	if (!pat)
		return TCMU_STS_BUSY;
	if (!ndob)
		tcmu_iov_to_buf(pat, bs, ctx->pub.iov, ctx->pub.iov_cnt);
	/* Deallocating zero blocks is writing them, when they read as zeros. */
	if (unmap && scsi_can_unmap(dev) && scsi_unmap_zeroes(dev) && all_zero(pat, bs)) {
		sts = dev_io_sync(dev, ctx, CMD_IO_UNMAP, NULL, 0, ctx->offset, ctx->len,
				  false);
		sts = unmap_stable(dev, ctx, sts);
		goto out;
	}
	for (size_t off = bs; off < chunk; off += bs)
		memcpy(pat + off, pat, bs);
	for (uint64_t done = 0; done < ctx->len && sts == TCMU_STS_GOOD;) {
		size_t n = ctx->len - done < chunk ? ctx->len - done : chunk;
		struct iovec iov = { pat, n };

		sts = dev_io_sync(dev, ctx, CMD_IO_WRITE, &iov, 1, ctx->offset + done, n,
				  ctx->pub.fua);
		done += n;
	}
out:
	free(pat);
	return sts;
}

tcmu_sts scsi_write_same(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	bool sixteen = cdb[0] == WRITE_SAME_16, ndob = sixteen && (cdb[1] & 0x01);
	uint64_t lba = sixteen ? tcmu_get_be64(cdb + 2) : tcmu_get_be32(cdb + 2);
	uint64_t n = sixteen ? tcmu_get_be32(cdb + 10) : tcmu_get_be16(cdb + 7);
	int n_byte = sixteen ? 10 : 7;
	struct scsi_geometry g;
	tcmu_sts sts;

	/* WSNZ: zero blocks does not mean "to the end" here. */
	if (!n || n > SCSI_MAX_WRITE_SAME_BLOCKS)
		return tcmur_cmd_invalid_cdb(&ctx->pub, n_byte, -1);
	scsi_geometry(dev, &g);
	sts = scsi_check_range(ctx, lba, n, g.num_lbas);
	if (sts != TCMU_STS_GOOD)
		return sts;
	/* One block, or none with NDOB. Not a data CDB for the kernel
	 * (sbc_parse_cdb): short is refused, the rest of a longer buffer
	 * is not read. */
	sts = scsi_xfer_check(ctx, SCSI_XFER_OUT_PARAM, ndob ? 0 : g.block_size);
	if (sts != TCMU_STS_GOOD)
		return sts;
	ctx->offset = lba * g.block_size;
	ctx->len = n * g.block_size;
	ctx->pub.fua = !g.write_cache;
	ctx->io = CMD_IO_CUSTOM;
	ctx->custom = ws_run;
	return TCMU_STS_ASYNC;
}

static tcmu_sts lba_status_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	uint64_t lba = tcmu_get_be64(ctx->pub.cdb + 2), len;
	uint8_t buf[24] = { 0 };
	struct scsi_geometry g;
	bool mapped = true;
	uint64_t blocks;

	scsi_geometry(dev, &g);
	len = (g.num_lbas - lba) * g.block_size;
	if (h->lba_status) {
		int err = h->lba_status(dev, lba * g.block_size, &len, &mapped);

		if (err)
			return tcmur_cmd_errno(&ctx->pub, err, false);
	}
	blocks = (len + g.block_size - 1) / g.block_size;
	if (!blocks || blocks > g.num_lbas - lba)
		blocks = g.num_lbas - lba;
	tcmu_put_be32(buf, sizeof(buf) - 4);
	tcmu_put_be64(buf + 8, lba);
	tcmu_put_be32(buf + 16, blocks > 0xffffffff ? 0xffffffff : blocks);
	buf[20] = mapped ? 0x00 : 0x01;	/* mapped, or deallocated */
	scsi_respond(ctx, buf, sizeof(buf), tcmu_get_be32(ctx->pub.cdb + 10));
	return TCMU_STS_GOOD;
}

tcmu_sts scsi_get_lba_status(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	uint64_t lba = tcmu_get_be64(ctx->pub.cdb + 2);
	struct scsi_geometry g;

	scsi_geometry(dev, &g);
	if (lba >= g.num_lbas)
		return tcmur_cmd_sense_info(&ctx->pub, SENSE_ILLEGAL_REQUEST,
					    ASC_LBA_OUT_OF_RANGE, lba);
	ctx->io = CMD_IO_CUSTOM;
	ctx->custom = lba_status_run;
	return TCMU_STS_ASYNC;
}
