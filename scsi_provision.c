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

#include "dev_seq.h"
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

/* UNMAP's descriptors one by one, or WRITE SAME's pieces (or its one
 * deallocation), then a flush if deallocation must be durable. */
struct prov_seq {
	struct dev_seq seq;		/* must stay first */
	uint8_t *buf;			/* UNMAP's list, or WRITE SAME's pattern */
	size_t ndesc, next;		/* UNMAP: descriptors, the next one */
	bool ws_unmap;			/* WRITE SAME by deallocation */
	size_t chunk;			/* WRITE SAME: piece size */
	uint64_t done;			/* WRITE SAME: bytes started */
	bool flushed;
	struct iovec iov;
};

static void prov_free(struct dev_seq *seq)
{
	struct prov_seq *p = (struct prov_seq *)seq;

	free(p->buf);
	free(p);
}

/* With the write cache off, deallocation is as durable as a write. */
static tcmu_sts unmap_stable(struct prov_seq *p)
{
	if (p->flushed || tcmur_dev_write_cache(p->seq.dev))
		return TCMU_STS_GOOD;
	p->flushed = true;
	dev_seq_io(&p->seq, p->seq.dev, CMD_IO_FLUSH, NULL, 0, 0, 0, false, false);
	return TCMU_STS_ASYNC;
}

static tcmu_sts unmap_step(struct dev_seq *seq, tcmu_sts sts)
{
	struct prov_seq *p = (struct prov_seq *)seq;
	uint32_t bs = tcmur_dev_block_size(seq->dev);

	if (sts != TCMU_STS_GOOD)
		return sts;
	while (p->next < p->ndesc) {
		const uint8_t *d = p->buf + UNMAP_HDR + p->next++ * UNMAP_DESC;
		uint64_t n = tcmu_get_be32(d + 8);

		if (!n)
			continue;
		dev_seq_io(seq, seq->dev, CMD_IO_UNMAP, NULL, 0, tcmu_get_be64(d) * bs, n * bs,
			   false, false);
		return TCMU_STS_ASYNC;
	}
	return unmap_stable(p);
}

static tcmu_sts prov_start(struct prov_seq *p, struct tcmur_device *dev,
			   struct cmd_ctx *ctx, dev_seq_step step)
{
	p->seq = (struct dev_seq){ .dev = dev, .ctx = ctx, .step = step,
				   .free = prov_free };
	return dev_seq_start(&p->seq);
}

static tcmu_sts unmap_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	struct prov_seq *p = calloc(1, sizeof(*p));
	tcmu_sts sts;

	if (!p)
		return TCMU_STS_BUSY;
	p->buf = unmap_params(dev, ctx, &p->ndesc, &sts);
	if (!p->buf) {
		free(p);
		return sts;
	}
	return prov_start(p, dev, ctx, unmap_step);
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

static tcmu_sts ws_step(struct dev_seq *seq, tcmu_sts sts)
{
	struct prov_seq *p = (struct prov_seq *)seq;
	struct cmd_ctx *ctx = seq->ctx;
	size_t n;

	if (sts != TCMU_STS_GOOD)
		return sts;
	if (p->ws_unmap) {
		/* Deallocating zero blocks is writing them, when they read
		 * as zeros. */
		if (p->done)
			return unmap_stable(p);
		p->done = ctx->len;
		dev_seq_io(seq, seq->dev, CMD_IO_UNMAP, NULL, 0, ctx->offset, ctx->len, false,
			   false);
		return TCMU_STS_ASYNC;
	}
	if (p->done >= ctx->len)
		return TCMU_STS_GOOD;
	n = ctx->len - p->done < p->chunk ? ctx->len - p->done : p->chunk;
	p->iov = (struct iovec){ p->buf, n };
	p->done += n;
	dev_seq_io(seq, seq->dev, CMD_IO_WRITE, &p->iov, 1, ctx->offset + p->done - n, n,
		   ctx->pub.fua, false);
	return TCMU_STS_ASYNC;
}

static tcmu_sts ws_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	bool unmap = cdb[1] & 0x08, ndob = cdb[0] == WRITE_SAME_16 && (cdb[1] & 0x01);
	uint32_t bs = tcmur_dev_block_size(dev);
	struct prov_seq *p = calloc(1, sizeof(*p));

	if (!p)
		return TCMU_STS_BUSY;
	/* Whole blocks per piece (hw_block_size need not divide WS_CHUNK). */
	p->chunk = WS_CHUNK > bs ? WS_CHUNK / bs * bs : bs;
	if (ctx->len < p->chunk)
		p->chunk = ctx->len;
	p->buf = calloc(1, p->chunk);
	if (!p->buf) {
		free(p);
		return TCMU_STS_BUSY;
	}
	if (!ndob)
		tcmu_iov_to_buf(p->buf, bs, ctx->pub.iov, ctx->pub.iov_cnt);
	p->ws_unmap = unmap && scsi_can_unmap(dev) && scsi_unmap_zeroes(dev) &&
		      all_zero(p->buf, bs);
	for (size_t off = bs; off < p->chunk && !p->ws_unmap; off += bs)
		memcpy(p->buf + off, p->buf, bs);
	return prov_start(p, dev, ctx, ws_step);
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
	/* Exactly one logical block, or none with NDOB (SBC-4 5.49): the
	 * Data-Out is data the CDB sizes, and any other length disagrees
	 * with it as a WRITE's would (INVALID FIELD IN COMMAND IU). The
	 * kernel's own backends refuse only a short one (24/00). */
	sts = scsi_xfer_check(ctx, SCSI_XFER_OUT_DATA, ndob ? 0 : g.block_size);
	if (sts != TCMU_STS_GOOD)
		return sts;
	ctx->offset = lba * g.block_size;
	ctx->len = n * g.block_size;
	ctx->pub.fua = !g.write_cache;
	/* UNMAP and NDOB stay ours: they may unmap, and NDOB has no block. */
	if (!ndob && !(cdb[1] & 0x08) && scsi_handler_op(dev, ctx, CMD_IO_WRITE_SAME))
		return TCMU_STS_ASYNC;
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
