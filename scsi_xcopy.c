/*
 * EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.21: COPY
 * STATUS from xcopy_status.h, and OPERATING PARAMETERS), with
 * the Third-party Copy VPD page (0x8F). A copy moves blocks between two
 * LUNs this daemon serves, named by the NAA designators of their VPD 0x83
 * pages; the data never crosses the initiator. A LUN that is not ours is
 * refused with COPY ABORTED, COPY TARGET DEVICE NOT REACHABLE; so is one
 * that is offline (its handler closed after a failed reopen) or pausing
 * for a reconfigure or removal: SPC-4 names no NOT READY code for a copy
 * target, and 0D/02 is what it gives for a copy target the copy manager
 * cannot reach. Reads and writes on another LUN run on that LUN's own I/O
 * threads, under its thread model and I/O lock (dev_seq.h).
 * Supported: identification CSCD descriptors (0xE4) naming a block
 * device by NAA, and block-to-block segments (0x02).
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "dev_registry.h"
#include "dev_seq.h"
#include "scsi_defs.h"
#include "scsi_emulate.h"
#include "scsi_sense.h"

#define XCOPY_HDR 16
#define CSCD_LEN 32
#define SEG_LEN 28
#define XCOPY_MAX_CSCDS 8
#define XCOPY_MAX_SEGS 16
#define XCOPY_MAX_LIST (XCOPY_HDR + XCOPY_MAX_CSCDS * CSCD_LEN + XCOPY_MAX_SEGS * SEG_LEN)
#define XCOPY_MAX_SEG_BYTES (64u * 1024 * 1024)
#define XCOPY_CHUNK (1024 * 1024)

#define CSCD_ID_NAA 0xe4
#define SEG_BLOCK_TO_BLOCK 0x02

#define ASC_TOO_MANY_TARGET_DESCS 0x2606
#define ASC_UNSUPPORTED_TARGET_DESC 0x2607
#define ASC_TOO_MANY_SEGMENT_DESCS 0x2608
#define ASC_UNSUPPORTED_SEGMENT_DESC 0x2609
#define ASC_COPY_TARGET_NOT_REACHABLE 0x0d02

struct xcopy_seg {
	unsigned int src, dst;		/* CSCD indexes */
	uint64_t src_lba, dst_lba;
	uint32_t nblocks;
};

/* A parsed list; holds a registry reference to each device it names. */
struct xcopy_plan {
	bool keep;			/* LIST ID USAGE 00b/10b: record its status */
	uint8_t list_id;
	struct tcmur_device *devs[XCOPY_MAX_CSCDS];
	unsigned int ncscd;
	struct xcopy_seg segs[XCOPY_MAX_SEGS];
	unsigned int nseg;
};

static void plan_free(struct tcmur_device *dev, struct xcopy_plan *plan)
{
	for (unsigned int i = 0; i < plan->ncscd; i++)
		if (plan->devs[i] && plan->devs[i] != dev)
			dev_registry_put(dev->registry, plan->devs[i]);
	free(plan);
}

/* Keep how copy @plan ended, by its list identifier, for COPY STATUS. */
static void copy_record(struct tcmur_device *dev, const struct xcopy_plan *plan, tcmu_sts sts,
			unsigned int segments, uint64_t bytes)
{
	struct xcopy_status st = { .list_id = plan->list_id, .segments = segments,
				   .bytes = bytes };

	if (!plan->keep)
		return;
	st.status = sts == TCMU_STS_GOOD ? XCOPY_DONE : XCOPY_DONE_ERRORS;
	pthread_mutex_lock(&dev->state_lock);
	xcopy_status_put(&dev->xcopies, &st);
	pthread_mutex_unlock(&dev->state_lock);
}

static tcmu_sts copy_unreachable(struct cmd_ctx *ctx)
{
	return tcmur_cmd_sense(&ctx->pub, SENSE_COPY_ABORTED, ASC_COPY_TARGET_NOT_REACHABLE);
}

/*
 * An error on a copy source or destination during the copy: COPY ABORTED
 * with the additional sense code the device gave (SPC-4: an error while
 * processing a segment ends the command with COPY ABORTED). Lists are
 * checked whole before any block moves (seg_aborted for a segment's own
 * fields).
 */
static tcmu_sts copy_failed(struct cmd_ctx *ctx, tcmu_sts sts)
{
	const uint8_t *sense = ctx->sense;
	uint16_t asc;

	if (sts != TCMU_STS_CHECK_CONDITION)
		return sts;
	if ((sense[0] & 0x7f) == 0x72 || (sense[0] & 0x7f) == 0x73) {
		if ((sense[1] & 0x0f) == SENSE_COPY_ABORTED)
			return sts;
		asc = sense[2] << 8 | sense[3];
	} else {
		if ((sense[2] & 0x0f) == SENSE_COPY_ABORTED)
			return sts;
		asc = sense[12] << 8 | sense[13];
	}
	return tcmur_cmd_sense(&ctx->pub, SENSE_COPY_ABORTED, asc);
}

static tcmu_sts param_len_error(struct cmd_ctx *ctx)
{
	return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
			       ASC_PARAMETER_LIST_LENGTH_ERROR);
}

/* The device an identification CSCD descriptor at @d (byte @at of the
 * list) names. */
static tcmu_sts parse_cscd(struct tcmur_device *dev, struct cmd_ctx *ctx, const uint8_t *d,
			   size_t at, struct tcmur_device **out)
{
	uint32_t disk_bs = tcmu_get_be32(d + 28) & 0xffffff, bs;
	tcmu_sts sts = TCMU_STS_GOOD;
	uint8_t mine[16];

	if ((d[1] & 0x1f) != 0)		/* a direct-access block device */
		return tcmur_cmd_invalid_param(&ctx->pub, at + 1, 4);
	/* A binary NAA designator of a logical unit, 16 bytes (NAA 6, as
	 * our VPD 0x83 pages give): another kind is a field we do not
	 * take; an NAA that is none of ours is a LUN we cannot reach. */
	if ((d[4] & 0x0f) != 1)
		return tcmur_cmd_invalid_param(&ctx->pub, at + 4, 3);
	if ((d[5] & 0x30) != 0)
		return tcmur_cmd_invalid_param(&ctx->pub, at + 5, 5);
	if ((d[5] & 0x0f) != 0x03)
		return tcmur_cmd_invalid_param(&ctx->pub, at + 5, 3);
	if (d[7] != 16)
		return tcmur_cmd_invalid_param(&ctx->pub, at + 7, -1);
	if (scsi_dev_naa(dev, mine) && !memcmp(mine, d + 8, 16))
		*out = dev;
	else if (!dev->registry ||
		 !(*out = dev_registry_get_by_naa(dev->registry, d + 8)))
		return copy_unreachable(ctx);
	/* From here on *out holds a reference (unless it is @dev): every
	 * refusal gives it back, as plan_free only sees counted ones. */
	bs = tcmur_dev_block_size(*out);
	if (*out != dev && dev_is_offline(*out))
		sts = copy_unreachable(ctx);
	else if ((disk_bs && disk_bs != bs) || bs != tcmur_dev_block_size(dev))
		sts = tcmur_cmd_invalid_param(&ctx->pub, at + 29, -1);
	if (sts != TCMU_STS_GOOD && *out != dev) {
		dev_registry_put(dev->registry, *out);
		*out = NULL;
	}
	return sts;
}

/*
 * A segment descriptor whose fields the copy cannot carry out: SPC-4
 * (6.4, EXTENDED COPY: errors detected during processing of segment
 * descriptors, as opposed to those found before it starts: the header,
 * the CSCD descriptors, the descriptor type codes and lengths) ends the
 * command with COPY ABORTED, the segment number in COMMAND-SPECIFIC
 * INFORMATION and a segment pointer to the field. We check every segment
 * before any block moves, so none is half done (no residual).
 */
static tcmu_sts seg_aborted(struct cmd_ctx *ctx, uint16_t asc, unsigned int seg,
			    uint16_t byte)
{
	tcmu_sts sts = tcmur_cmd_sense(&ctx->pub, SENSE_COPY_ABORTED, asc);

	scsi_sense_segment(ctx->sense, seg, byte);
	return sts;
}

static bool seg_in_range(struct tcmur_device *dev, uint64_t lba, uint32_t n)
{
	struct scsi_geometry g;

	scsi_geometry(dev, &g);
	return lba <= g.num_lbas && n <= g.num_lbas - lba;
}

/* Segment descriptor @i at @d (byte @at of the list), of a supported type. */
static tcmu_sts parse_seg(struct cmd_ctx *ctx, const struct xcopy_plan *plan,
			  const uint8_t *d, size_t at, unsigned int i, struct xcopy_seg *seg)
{
	if (tcmu_get_be16(d + 2) != SEG_LEN - 4)
		return tcmur_cmd_invalid_param(&ctx->pub, at + 2, -1);
	seg->src = tcmu_get_be16(d + 4);
	seg->dst = tcmu_get_be16(d + 6);
	/* A CSCD the list does not have is a copy target we cannot reach. */
	if (seg->src >= plan->ncscd)
		return seg_aborted(ctx, ASC_COPY_TARGET_NOT_REACHABLE, i, 4);
	if (seg->dst >= plan->ncscd)
		return seg_aborted(ctx, ASC_COPY_TARGET_NOT_REACHABLE, i, 6);
	seg->nblocks = tcmu_get_be16(d + 10);
	seg->src_lba = tcmu_get_be64(d + 12);
	seg->dst_lba = tcmu_get_be64(d + 20);
	if (!seg_in_range(plan->devs[seg->src], seg->src_lba, seg->nblocks))
		return seg_aborted(ctx, ASC_LBA_OUT_OF_RANGE, i, 12);
	if (!seg_in_range(plan->devs[seg->dst], seg->dst_lba, seg->nblocks))
		return seg_aborted(ctx, ASC_LBA_OUT_OF_RANGE, i, 20);
	return TCMU_STS_GOOD;
}

/* Check the whole list and find its devices before any block moves. */
static tcmu_sts parse_list(struct tcmur_device *dev, struct cmd_ctx *ctx,
			   const uint8_t *buf, size_t len, struct xcopy_plan *plan)
{
	size_t cscd_len = tcmu_get_be16(buf + 2), seg_len = tcmu_get_be32(buf + 8), off;
	size_t inline_len = tcmu_get_be32(buf + 12);
	unsigned int usage = (buf[1] >> 3) & 3;
	tcmu_sts sts;

	/* LIST ID USAGE (SPC-4, EXTENDED COPY parameter list): 01b is
	 * reserved, and 11b wants a zero LIST IDENTIFIER. 00b and 10b have
	 * the status kept for COPY STATUS (xcopy_status.h); a copy answers
	 * only when done, so no two of one identifier are ever in progress
	 * that we could tell apart. PRIORITY and STR are taken as they are. */
	if (usage == 1)
		return tcmur_cmd_invalid_param(&ctx->pub, 1, 4);
	if (usage == 3 && buf[0])
		return tcmur_cmd_invalid_param(&ctx->pub, 0, -1);
	plan->keep = usage != 3;
	plan->list_id = buf[0];
	if (XCOPY_HDR + cscd_len + seg_len + inline_len > len)
		return param_len_error(ctx);
	if (inline_len)				/* no inline data */
		return tcmur_cmd_invalid_param(&ctx->pub, 12, -1);
	if ((cscd_len + CSCD_LEN - 1) / CSCD_LEN > XCOPY_MAX_CSCDS)
		return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
				       ASC_TOO_MANY_TARGET_DESCS);
	/* Each descriptor's type code first: one we do not take may have
	 * another length than ours (SPC-4: UNSUPPORTED ... TYPE CODE). */
	for (off = XCOPY_HDR; off < XCOPY_HDR + cscd_len; off += CSCD_LEN) {
		if (buf[off] != CSCD_ID_NAA)
			return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
					       ASC_UNSUPPORTED_TARGET_DESC);
		if (off + CSCD_LEN > XCOPY_HDR + cscd_len)
			return tcmur_cmd_invalid_param(&ctx->pub, 2, -1);
		sts = parse_cscd(dev, ctx, buf + off, off, &plan->devs[plan->ncscd]);
		if (sts != TCMU_STS_GOOD)
			return sts;
		plan->ncscd++;
	}
	for (; off < XCOPY_HDR + cscd_len + seg_len; off += SEG_LEN) {
		if (plan->nseg == XCOPY_MAX_SEGS)
			return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
					       ASC_TOO_MANY_SEGMENT_DESCS);
		if (buf[off] != SEG_BLOCK_TO_BLOCK)
			return tcmur_cmd_sense(&ctx->pub, SENSE_ILLEGAL_REQUEST,
					       ASC_UNSUPPORTED_SEGMENT_DESC);
		if (off + SEG_LEN > XCOPY_HDR + cscd_len + seg_len)
			return param_len_error(ctx);
		sts = parse_seg(ctx, plan, buf + off, off, plan->nseg,
				&plan->segs[plan->nseg]);
		if (sts != TCMU_STS_GOOD)
			return sts;
		plan->nseg++;
	}
	return TCMU_STS_GOOD;
}

/*
 * The copy: each segment through a bounce buffer, chunk by chunk, a read
 * on the source's I/O queue, then a write on the destination's (dev_seq.h).
 * The command takes no I/O lock of its own; each read and write takes its
 * device's, alone, so no device's lock is held while waiting for another.
 */
struct xcopy_seq {
	struct dev_seq seq;		/* must stay first */
	struct xcopy_plan *plan;
	uint8_t *buf;
	unsigned int seg;		/* the segment being copied */
	uint64_t done;			/* its bytes written */
	size_t n;			/* the chunk in flight */
	bool writing;			/* the chunk in flight is the write */
	uint64_t bytes;			/* written, over all segments */
	struct iovec iov;
};

static void xcopy_free(struct dev_seq *seq)
{
	struct xcopy_seq *x = (struct xcopy_seq *)seq;

	plan_free(seq->dev, x->plan);
	free(x->buf);
	free(x);
}

static tcmu_sts xcopy_io(struct xcopy_seq *x, unsigned int cscd, enum cmd_io io,
			 uint64_t offset, bool stable)
{
	x->iov = (struct iovec){ x->buf, x->n };
	if (dev_seq_io(&x->seq, x->plan->devs[cscd], io, &x->iov, 1, offset, x->n, stable,
		       true))
		return copy_unreachable(x->seq.ctx);
	return TCMU_STS_ASYNC;
}

static tcmu_sts xcopy_next(struct dev_seq *seq, tcmu_sts sts)
{
	struct xcopy_seq *x = (struct xcopy_seq *)seq;
	const struct xcopy_plan *plan = x->plan;
	uint32_t bs = tcmur_dev_block_size(seq->dev);
	const struct xcopy_seg *s;

	if (sts != TCMU_STS_GOOD)
		return copy_failed(seq->ctx, sts);
	if (x->n && !x->writing) {
		s = &plan->segs[x->seg];
		x->writing = true;
		return xcopy_io(x, s->dst, CMD_IO_WRITE, s->dst_lba * bs + x->done,
				!tcmur_dev_write_cache(plan->devs[s->dst]));
	}
	if (x->writing) {
		x->writing = false;
		x->done += x->n;
		x->bytes += x->n;
	}
	for (; x->seg < plan->nseg; x->seg++, x->done = 0) {
		uint64_t len;

		s = &plan->segs[x->seg];
		len = (uint64_t)s->nblocks * bs;
		if (x->done >= len)
			continue;
		x->n = len - x->done < XCOPY_CHUNK ? len - x->done : XCOPY_CHUNK;
		return xcopy_io(x, s->src, CMD_IO_READ, s->src_lba * bs + x->done, false);
	}
	return TCMU_STS_GOOD;
}

/* The next read or write of the copy; once it ends, its status kept. */
static tcmu_sts xcopy_step(struct dev_seq *seq, tcmu_sts sts)
{
	struct xcopy_seq *x = (struct xcopy_seq *)seq;

	sts = xcopy_next(seq, sts);
	if (sts != TCMU_STS_ASYNC)
		copy_record(seq->dev, x->plan, sts, x->seg, x->bytes);
	return sts;
}

static tcmu_sts xcopy_run(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	struct xcopy_seq *x = calloc(1, sizeof(*x));

	if (!x) {
		plan_free(dev, ctx->custom_arg);
		ctx->custom_arg = NULL;
		return TCMU_STS_BUSY;
	}
	x->seq = (struct dev_seq){ .dev = dev, .ctx = ctx, .step = xcopy_step,
				   .free = xcopy_free };
	x->plan = ctx->custom_arg;
	ctx->custom_arg = NULL;
	x->buf = malloc(XCOPY_CHUNK);
	if (!x->buf) {
		xcopy_free(&x->seq);
		return TCMU_STS_BUSY;
	}
	return dev_seq_start(&x->seq);
}

tcmu_sts scsi_xcopy(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	size_t len = tcmu_get_be32(ctx->pub.cdb + 10);
	struct xcopy_plan *plan;
	uint8_t *buf;
	tcmu_sts sts;

	sts = scsi_xfer_check(ctx, SCSI_XFER_OUT_PARAM, len);
	if (sts != TCMU_STS_GOOD)
		return sts;
	if (!len)
		return TCMU_STS_GOOD;
	if (len < XCOPY_HDR || len > XCOPY_MAX_LIST || len > ctx->pub.data_len)
		return param_len_error(ctx);
	buf = malloc(len);
	plan = calloc(1, sizeof(*plan));
	if (!buf || !plan) {
		free(buf);
		free(plan);
		return TCMU_STS_BUSY;
	}
	tcmu_iov_to_buf(buf, len, ctx->pub.iov, ctx->pub.iov_cnt);
	sts = parse_list(dev, ctx, buf, len, plan);
	free(buf);
	if (sts != TCMU_STS_GOOD) {
		/* A segment refused (COPY ABORTED) ended a copy that began;
		 * a list refused whole (ILLEGAL REQUEST) is no copy at all. */
		if (scsi_sense_key(ctx->sense) == SENSE_COPY_ABORTED)
			copy_record(dev, plan, sts, 0, 0);
		plan_free(dev, plan);
		return sts;
	}
	ctx->custom_arg = plan;
	ctx->no_io_lock = true;
	ctx->io = CMD_IO_CUSTOM;
	ctx->custom = xcopy_run;
	return TCMU_STS_ASYNC;
}

/* RECEIVE COPY RESULTS, COPY STATUS (SPC-3 6.18.3): how the copy with
 * this LIST IDENTIFIER ended, if this LUN keeps it (xcopy_status.h). */
tcmu_sts scsi_receive_copy_status(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	uint8_t buf[XCOPY_STATUS_LEN];
	struct xcopy_status st;
	bool found;

	pthread_mutex_lock(&dev->state_lock);
	found = xcopy_status_get(&dev->xcopies, ctx->pub.cdb[2], &st);
	pthread_mutex_unlock(&dev->state_lock);
	if (!found)
		return tcmur_cmd_invalid_cdb(&ctx->pub, 2, -1);
	xcopy_status_encode(&st, buf);
	scsi_respond(ctx, buf, sizeof(buf), tcmu_get_be32(ctx->pub.cdb + 10));
	return TCMU_STS_GOOD;
}

/* RECEIVE COPY RESULTS, RECEIVE COPY OPERATING PARAMETERS (SPC-3 6.18.4). */
tcmu_sts scsi_receive_copy_results(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	uint8_t buf[46] = { 0 };
	uint32_t bs = tcmur_dev_block_size(dev);

	tcmu_put_be32(buf, sizeof(buf) - 4);
	buf[4] = 0x01;					/* SNLID */
	tcmu_put_be16(buf + 8, XCOPY_MAX_CSCDS);
	tcmu_put_be16(buf + 10, XCOPY_MAX_SEGS);
	tcmu_put_be32(buf + 12, XCOPY_MAX_LIST);
	tcmu_put_be32(buf + 16, XCOPY_MAX_SEG_BYTES);
	tcmu_put_be16(buf + 34, 1);			/* total concurrent copies */
	buf[36] = 1;					/* maximum concurrent copies */
	buf[37] = __builtin_ctz(bs);			/* data segment granularity */
	buf[43] = 2;					/* implemented descriptors: */
	buf[44] = SEG_BLOCK_TO_BLOCK;
	buf[45] = CSCD_ID_NAA;
	scsi_respond(ctx, buf, sizeof(buf), tcmu_get_be32(ctx->pub.cdb + 10));
	return TCMU_STS_GOOD;
}

/* VPD 0x8F into @buf (at least 128 bytes); returns its length. */
size_t scsi_vpd_third_party_copy(struct tcmur_device *dev, uint8_t *buf)
{
	size_t off = 4;

	/* Supported commands: EXTENDED COPY (LID1), RECEIVE COPY RESULTS
	 * (copy status, operating parameters). */
	tcmu_put_be16(buf + off, 0x0001);
	tcmu_put_be16(buf + off + 2, 8);
	buf[off + 4] = 7;
	buf[off + 5] = EXTENDED_COPY, buf[off + 6] = 1, buf[off + 7] = 0x00;
	buf[off + 8] = RECEIVE_COPY_RESULTS, buf[off + 9] = 2;
	buf[off + 10] = 0x00, buf[off + 11] = 0x03;
	off += 12;
	/* Parameter data. */
	tcmu_put_be16(buf + off, 0x0004);
	tcmu_put_be16(buf + off + 2, 0x1c);
	tcmu_put_be16(buf + off + 8, XCOPY_MAX_CSCDS);
	tcmu_put_be16(buf + off + 10, XCOPY_MAX_SEGS);
	tcmu_put_be32(buf + off + 12, XCOPY_MAX_LIST);
	off += 32;
	/* Supported descriptors. */
	tcmu_put_be16(buf + off, 0x0008);
	tcmu_put_be16(buf + off + 2, 4);
	buf[off + 4] = 2;
	buf[off + 5] = SEG_BLOCK_TO_BLOCK;
	buf[off + 6] = CSCD_ID_NAA;
	off += 8;
	/* General copy operations. */
	tcmu_put_be16(buf + off, 0x8001);
	tcmu_put_be16(buf + off + 2, 0x1c);
	tcmu_put_be32(buf + off + 4, 1);
	tcmu_put_be32(buf + off + 8, 1);
	tcmu_put_be32(buf + off + 12, XCOPY_MAX_SEG_BYTES);
	buf[off + 16] = __builtin_ctz(tcmur_dev_block_size(dev));
	off += 32;
	return off;
}
