/*
 * Commands that read the medium to check it: VERIFY, WRITE AND VERIFY and
 * COMPARE AND WRITE (SBC-3 5.2, 5.33, 5.34). They run on an I/O thread as
 * a series of handler calls (dev_io_sync); COMPARE AND WRITE holds the
 * device's I/O lock alone, so no other command sees or changes its blocks
 * between the compare and the write.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

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
	return tcmur_cmd_sense_info(&ctx->pub, SENSE_MISCOMPARE,
				    ASC_MISCOMPARE_DURING_VERIFY, offset);
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

/*
 * Read ctx->len bytes at ctx->offset and compare them with the data-out
 * buffer: all of it (@bytchk 1), or its one block against every block
 * (@bytchk 3); @bytchk 0 only reads. MISCOMPARE carries the offset into
 * the data-out buffer of the first byte that differs.
 */
static tcmu_sts verify_medium(struct tcmur_device *dev, struct cmd_ctx *ctx, int bytchk)
{
	uint32_t bs = tcmur_dev_block_size(dev);
	/* Whole blocks per piece: BYTCHK 3 compares block by block, and
	 * the kernel's hw_block_size need not divide VERIFY_CHUNK. */
	size_t chunk = VERIFY_CHUNK > bs ? VERIFY_CHUNK / bs * bs : bs;
	uint8_t *medium, *want;
	tcmu_sts sts = TCMU_STS_GOOD;

	if (ctx->len < chunk)
		chunk = ctx->len;
	medium = malloc(chunk);
	want = malloc(chunk);
	if (!medium || !want) {
		free(medium);
		free(want);
		return TCMU_STS_BUSY;
	}
	if (bytchk == 3)
		iov_read_at(want, ctx->pub.iov, ctx->pub.iov_cnt, 0, bs);
	for (uint64_t done = 0; done < ctx->len && sts == TCMU_STS_GOOD;) {
		size_t n = ctx->len - done < chunk ? ctx->len - done : chunk;
		struct iovec iov = { medium, n };
		ssize_t diff = -1;

		sts = dev_io_sync(dev, ctx, CMD_IO_READ, &iov, 1, ctx->offset + done, n, false);
		if (sts != TCMU_STS_GOOD)
			break;
		if (bytchk == 1) {
			iov_read_at(want, ctx->pub.iov, ctx->pub.iov_cnt, done, n);
			diff = first_diff(medium, want, n);
			if (diff >= 0)
				sts = miscompare(ctx, done + diff);
		} else if (bytchk == 3) {
			for (size_t b = 0; b < n && diff < 0; b += bs)
				diff = first_diff(medium + b, want, bs);
			if (diff >= 0)
				sts = miscompare(ctx, diff);
		}
		done += n;
	}
	free(medium);
	free(want);
	return sts;
}

static tcmu_sts verify_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	return verify_medium(dev, ctx, (ctx->pub.cdb[1] >> 1) & 3);
}

static tcmu_sts write_verify_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	size_t cnt = ctx->pub.iov_cnt;
	struct iovec *iov = calloc(cnt ? cnt : 1, sizeof(*iov));
	tcmu_sts sts;

	if (!iov)
		return TCMU_STS_BUSY;
	/* The handler gets a copy of the iovecs: it may advance them (the
	 * file handler does on a short write), and the compare reads the
	 * data-out buffer through them again. */
	if (cnt)
		memcpy(iov, ctx->pub.iov, cnt * sizeof(*iov));
	/* Stable first: the verify must read what the medium holds. */
	sts = dev_io_sync(dev, ctx, CMD_IO_WRITE, iov, cnt, ctx->offset, ctx->len, true);
	free(iov);
	if (sts != TCMU_STS_GOOD)
		return sts;
	return verify_medium(dev, ctx, (ctx->pub.cdb[1] >> 1) & 1);
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

static tcmu_sts caw_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	size_t len = ctx->len, cnt = ctx->pub.iov_cnt;
	uint8_t *medium = malloc(len), *want = malloc(len);
	struct iovec *second = calloc(cnt ? cnt : 1, sizeof(*second));
	struct iovec iov = { medium, len };
	tcmu_sts sts;
	ssize_t diff;

	if (!medium || !want || !second) {
		sts = TCMU_STS_BUSY;
		goto out;
	}
	sts = dev_io_sync(dev, ctx, CMD_IO_READ, &iov, 1, ctx->offset, len, false);
	if (sts != TCMU_STS_GOOD)
		goto out;
	iov_read_at(want, ctx->pub.iov, cnt, 0, len);
	diff = first_diff(medium, want, len);
	if (diff >= 0) {
		sts = miscompare(ctx, diff);
		goto out;
	}
	/* The data-out buffer's second half is what to write. */
	cnt = tcmu_iov_seek(ctx->pub.iov, cnt, len, second, cnt);
	sts = dev_io_sync(dev, ctx, CMD_IO_WRITE, second, cnt, ctx->offset, len,
			  ctx->pub.fua);
out:
	free(second);
	free(medium);
	free(want);
	return sts;
}

/*
 * The MAXIMUM COMPARE AND WRITE LENGTH that VPD 0xB0 reports (vpd_b0 in
 * scsi_inquiry.c computes it the same way): both halves in one transfer.
 * Larger is refused (SBC-3 5.2).
 */
uint32_t scsi_caw_max_blocks(struct tcmur_device *dev)
{
	uint32_t max_xfer;

	pthread_mutex_lock(&dev->state_lock);
	max_xfer = dev->max_xfer_blocks;
	pthread_mutex_unlock(&dev->state_lock);
	return max_xfer / 2 < SCSI_MAX_CAW_BLOCKS ? max_xfer / 2 : SCSI_MAX_CAW_BLOCKS;
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
	ctx->exclusive = true;
	ctx->io = CMD_IO_CUSTOM;
	ctx->custom = caw_run;
	return TCMU_STS_ASYNC;
}
