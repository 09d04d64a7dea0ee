/*
 * Commands that read the medium to check it: VERIFY, WRITE AND VERIFY and
 * COMPARE AND WRITE (SBC-3 5.2, 5.33, 5.34). Each is a series of handler
 * calls chained by their completions (dev_seq); COMPARE AND WRITE holds the
 * device's I/O lock alone, so no other command sees or changes its blocks
 * between the compare and the write.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "dev_seq.h"
#include "scsi_defs.h"
#include "scsi_emulate.h"

/* Medium is read in pieces of at most this many bytes. */
#define VERIFY_CHUNK (1024 * 1024)

/* Copy @len bytes starting @skip bytes into @iov to @dst. */
static void iov_read_at(uint8_t *dst, const struct iovec *iov, size_t cnt, size_t skip,
			size_t len)
{
	for (size_t i = 0; i < cnt && len; i++) {
		size_t n;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - skip < len ? iov[i].iov_len - skip : len;
		memcpy(dst, (uint8_t *)iov[i].iov_base + skip, n);
		dst += n;
		len -= n;
		skip = 0;
	}
}

static tcmu_sts miscompare(struct cmd_ctx *ctx, uint64_t offset)
{
	return tcmur_cmd_miscompare(&ctx->pub, offset);
}

/* First differing byte of two buffers, or -1. */
static ssize_t first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	if (!memcmp(a, b, len))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

struct verify_seq {
	struct dev_seq seq;		/* must stay first */
	int bytchk;
	bool write_first;		/* WRITE AND VERIFY: not written yet */
	size_t chunk, n;		/* piece size; the piece being read */
	uint64_t done;			/* bytes compared */
	uint8_t *medium, *want;
	struct iovec iov;		/* the piece */
	struct iovec *wiov;		/* WRITE AND VERIFY's copy of the iovecs */
};

static void verify_free(struct dev_seq *seq)
{
	struct verify_seq *v = (struct verify_seq *)seq;

	free(v->medium);
	free(v->want);
	free(v->wiov);
	free(v);
}

/* Compare the piece just read; 0 or MISCOMPARE. */
static tcmu_sts verify_piece(struct verify_seq *v)
{
	struct cmd_ctx *ctx = v->seq.ctx;
	uint32_t bs = tcmur_dev_block_size(v->seq.dev);
	ssize_t diff = -1;

	if (v->bytchk == 1) {
		iov_read_at(v->want, ctx->pub.iov, ctx->pub.iov_cnt, v->done, v->n);
		diff = first_diff(v->medium, v->want, v->n);
		if (diff >= 0)
			return miscompare(ctx, v->done + diff);
	} else if (v->bytchk == 3) {
		for (size_t b = 0; b < v->n && diff < 0; b += bs)
			diff = first_diff(v->medium + b, v->want, bs);
		if (diff >= 0)
			return miscompare(ctx, diff);
	}
	return TCMU_STS_GOOD;
}

/*
 * Read ctx->len bytes at ctx->offset, piece by piece, and compare them
 * with the data-out buffer: all of it (BYTCHK 1), or its one block
 * against every block (BYTCHK 3); BYTCHK 0 only reads. MISCOMPARE
 * carries the offset into the data-out buffer of the first byte that
 * differs. WRITE AND VERIFY writes (stable) first.
 */
static tcmu_sts verify_step(struct dev_seq *seq, tcmu_sts sts)
{
	struct verify_seq *v = (struct verify_seq *)seq;
	struct cmd_ctx *ctx = seq->ctx;

	if (sts != TCMU_STS_GOOD)
		return sts;
	if (v->write_first) {
		v->write_first = false;
		dev_seq_io(seq, seq->dev, CMD_IO_WRITE, v->wiov, ctx->pub.iov_cnt, ctx->offset,
			   ctx->len, true, false);
		return TCMU_STS_ASYNC;
	}
	if (v->n) {
		sts = verify_piece(v);
		if (sts != TCMU_STS_GOOD)
			return sts;
		v->done += v->n;
	}
	if (v->done >= ctx->len)
		return TCMU_STS_GOOD;
	v->n = ctx->len - v->done < v->chunk ? ctx->len - v->done : v->chunk;
	v->iov = (struct iovec){ v->medium, v->n };
	dev_seq_io(seq, seq->dev, CMD_IO_READ, &v->iov, 1, ctx->offset + v->done, v->n, false,
		   false);
	return TCMU_STS_ASYNC;
}

static tcmu_sts verify_start(struct tcmur_device *dev, struct cmd_ctx *ctx, int bytchk,
			     bool write)
{
	uint32_t bs = tcmur_dev_block_size(dev);
	struct verify_seq *v = calloc(1, sizeof(*v));
	size_t cnt = ctx->pub.iov_cnt;

	if (!v)
		return TCMU_STS_BUSY;
	/* Whole blocks per piece: BYTCHK 3 compares block by block, and
	 * the kernel's hw_block_size need not divide VERIFY_CHUNK. */
	v->chunk = VERIFY_CHUNK > bs ? VERIFY_CHUNK / bs * bs : bs;
	if (ctx->len < v->chunk)
		v->chunk = ctx->len;
	v->bytchk = bytchk;
	v->write_first = write;
	v->medium = malloc(v->chunk);
	v->want = malloc(v->chunk > bs ? v->chunk : bs);
	/* The handler gets a copy of the iovecs: it may advance them (the
	 * file handler does on a short write), and the compare reads the
	 * data-out buffer through them again. */
	v->wiov = calloc(cnt ? cnt : 1, sizeof(*v->wiov));
	v->seq = (struct dev_seq){ .dev = dev, .ctx = ctx, .step = verify_step,
				   .free = verify_free };
	if (!v->medium || !v->want || !v->wiov) {
		verify_free(&v->seq);
		return TCMU_STS_BUSY;
	}
	if (cnt)
		memcpy(v->wiov, ctx->pub.iov, cnt * sizeof(*v->wiov));
	if (bytchk == 3)
		iov_read_at(v->want, ctx->pub.iov, ctx->pub.iov_cnt, 0, bs);
	return dev_seq_start(&v->seq);
}

static tcmu_sts verify_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	return verify_start(dev, ctx, (ctx->pub.cdb[1] >> 1) & 3, false);
}

static tcmu_sts write_verify_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	return verify_start(dev, ctx, (ctx->pub.cdb[1] >> 1) & 1, true);
}

/* Common checks of the VERIFY and WRITE AND VERIFY CDBs, and of the
 * data-out length they need. */
static tcmu_sts verify_setup(struct tcmur_device *dev, struct cmd_ctx *ctx,
			     bool write, tcmu_sts (*run)(struct tcmur_device *,
							 struct cmd_ctx *))
{
	const uint8_t *cdb = ctx->pub.cdb;
	int bytchk = (cdb[1] >> 1) & 3;
	uint64_t lba = tcmu_cdb_lba(cdb), n = tcmu_cdb_xfer_len(cdb), need;
	struct scsi_geometry g;
	tcmu_sts sts;

	/* BYTCHK 10b is reserved; 11b (one block for all) is VERIFY's only. */
	if (bytchk == 2 || (write && bytchk == 3))
		return tcmur_cmd_invalid_cdb(&ctx->pub, 1, 2);
	scsi_geometry(dev, &g);
	sts = scsi_check_range(ctx, lba, n, g.num_lbas);
	if (sts != TCMU_STS_GOOD)
		return sts;
	need = write || bytchk == 1 ? n * g.block_size : bytchk == 3 && n ? g.block_size : 0;
	/* WRITE AND VERIFY is a data CDB; VERIFY's compare data is not one
	 * for the kernel (sbc_parse_cdb), so a longer buffer is fine. */
	sts = scsi_xfer_check(ctx, write ? SCSI_XFER_OUT_DATA : SCSI_XFER_OUT_PARAM, need);
	if (sts != TCMU_STS_GOOD || !n)
		return sts;
	ctx->offset = lba * g.block_size;
	ctx->len = n * g.block_size;
	ctx->io = CMD_IO_CUSTOM;
	ctx->custom = run;
	return TCMU_STS_ASYNC;
}

tcmu_sts scsi_verify(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	return verify_setup(dev, ctx, false, verify_run);
}

tcmu_sts scsi_write_verify(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	return verify_setup(dev, ctx, true, write_verify_run);
}

struct caw_seq {
	struct dev_seq seq;		/* must stay first */
	bool compared;
	uint8_t *medium, *want;
	struct iovec iov;
	struct iovec *second;		/* the data-out buffer's second half */
};

static void caw_free(struct dev_seq *seq)
{
	struct caw_seq *c = (struct caw_seq *)seq;

	free(c->second);
	free(c->medium);
	free(c->want);
	free(c);
}

/* Read, compare, write: under the command's exclusive I/O lock. */
static tcmu_sts caw_step(struct dev_seq *seq, tcmu_sts sts)
{
	struct caw_seq *c = (struct caw_seq *)seq;
	struct cmd_ctx *ctx = seq->ctx;
	size_t len = ctx->len, cnt = ctx->pub.iov_cnt;
	ssize_t diff;

	if (sts != TCMU_STS_GOOD || c->compared)
		return sts;
	if (!c->iov.iov_base) {
		c->iov = (struct iovec){ c->medium, len };
		dev_seq_io(seq, seq->dev, CMD_IO_READ, &c->iov, 1, ctx->offset, len, false,
			   false);
		return TCMU_STS_ASYNC;
	}
	iov_read_at(c->want, ctx->pub.iov, cnt, 0, len);
	diff = first_diff(c->medium, c->want, len);
	if (diff >= 0)
		return miscompare(ctx, diff);
	c->compared = true;
	cnt = tcmu_iov_seek(ctx->pub.iov, cnt, len, c->second, cnt);
	dev_seq_io(seq, seq->dev, CMD_IO_WRITE, c->second, cnt, ctx->offset, len,
		   ctx->pub.fua, false);
	return TCMU_STS_ASYNC;
}

static tcmu_sts caw_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	size_t cnt = ctx->pub.iov_cnt;
	struct caw_seq *c = calloc(1, sizeof(*c));

	if (!c)
		return TCMU_STS_BUSY;
	c->seq = (struct dev_seq){ .dev = dev, .ctx = ctx, .step = caw_step,
				   .free = caw_free };
	c->medium = malloc(ctx->len);
	c->want = malloc(ctx->len);
	c->second = calloc(cnt ? cnt : 1, sizeof(*c->second));
	if (!c->medium || !c->want || !c->second) {
		caw_free(&c->seq);
		return TCMU_STS_BUSY;
	}
	return dev_seq_start(&c->seq);
}

/*
 * The MAXIMUM COMPARE AND WRITE LENGTH that VPD 0xB0 reports (vpd_b0 in
 * scsi_inquiry.c computes it the same way): both halves in one transfer.
 * Larger is refused (SBC-3 5.2).
 */
uint32_t scsi_caw_max_blocks(struct tcmur_device *dev)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	uint32_t max_xfer, max, hmax = 0;

	pthread_mutex_lock(&dev->state_lock);
	max_xfer = dev->max_xfer_blocks;
	pthread_mutex_unlock(&dev->state_lock);
	max = max_xfer / 2 < SCSI_MAX_CAW_BLOCKS ? max_xfer / 2 : SCSI_MAX_CAW_BLOCKS;
	/* A handler's own COMPARE AND WRITE may take less (API 1.4). */
	if (handler_minor(h) >= 4 && h->compare_and_write && h->compare_and_write_max)
		hmax = h->compare_and_write_max(dev);
	if (hmax && hmax / tcmur_dev_block_size(dev) < max)
		max = hmax / tcmur_dev_block_size(dev);
	return max;
}

tcmu_sts scsi_compare_and_write(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	uint64_t lba = tcmu_get_be64(cdb + 2), n = cdb[13];
	struct scsi_geometry g;
	tcmu_sts sts;

	if (n > scsi_caw_max_blocks(dev))
		return tcmur_cmd_invalid_cdb(&ctx->pub, 13, -1);
	scsi_geometry(dev, &g);
	sts = scsi_check_range(ctx, lba, n, g.num_lbas);
	if (sts != TCMU_STS_GOOD)
		return sts;
	sts = scsi_xfer_check(ctx, SCSI_XFER_OUT_DATA, 2 * n * g.block_size);
	if (sts != TCMU_STS_GOOD || !n)
		return sts;
	ctx->offset = lba * g.block_size;
	ctx->len = n * g.block_size;
	ctx->pub.fua = (cdb[1] & 0x08) || !g.write_cache;
	if (scsi_handler_op(dev, ctx, CMD_IO_CAW))
		return TCMU_STS_ASYNC;		/* atomic in the handler's store */
	ctx->exclusive = true;
	ctx->io = CMD_IO_CUSTOM;
	ctx->custom = caw_run;
	return TCMU_STS_ASYNC;
}
