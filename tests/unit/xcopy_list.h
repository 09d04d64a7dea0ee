/*
 * What the EXTENDED COPY tests (test_xcopy_*.c) share: building an
 * EXTENDED COPY (LID1) parameter list, running it, and a registry of
 * sim_devs. Header-only.
 */
#ifndef XCOPY_LIST_H
#define XCOPY_LIST_H

#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "dev_registry.h"
#include "sbc_cmds.h"

#define XL_HDR 16
#define XL_CSCD 32
#define XL_SEG 28
#define XL_MAX 1024

struct xlist {
	uint8_t buf[XL_MAX];
	size_t ncscd, nseg;
	uint8_t cscds[16][XL_CSCD];
	uint8_t segs[24][XL_SEG];
};

/* An identification descriptor (0xE4) naming @dev by its NAA; @bs goes
 * into DISK BLOCK LENGTH. Returns its index. */
static inline unsigned int xl_cscd(struct xlist *l, struct tcmur_device *dev, uint32_t bs)
{
	uint8_t *d = l->cscds[l->ncscd];

	memset(d, 0, XL_CSCD);
	d[0] = 0xe4;
	d[4] = 0x01;		/* binary */
	d[5] = 0x03;		/* LU, NAA */
	d[7] = 16;
	scsi_dev_naa(dev, d + 8);
	d[29] = bs >> 16, d[30] = bs >> 8, d[31] = bs;
	return l->ncscd++;
}

/* A block-to-block segment (0x02). Returns its index. */
static inline unsigned int xl_seg(struct xlist *l, unsigned int src, unsigned int dst,
				  uint16_t n, uint64_t src_lba, uint64_t dst_lba)
{
	uint8_t *d = l->segs[l->nseg];

	memset(d, 0, XL_SEG);
	d[0] = 0x02;
	tcmu_put_be16(d + 2, XL_SEG - 4);
	tcmu_put_be16(d + 4, src);
	tcmu_put_be16(d + 6, dst);
	tcmu_put_be16(d + 10, n);
	tcmu_put_be64(d + 12, src_lba);
	tcmu_put_be64(d + 20, dst_lba);
	return l->nseg++;
}

/* Lay the list out in l->buf; its length. Byte offsets: CSCD i at
 * XL_HDR + 32 i, segment j after the CSCDs at 28 j. */
static inline size_t xl_build(struct xlist *l)
{
	size_t off = XL_HDR;

	memset(l->buf, 0, XL_HDR);
	l->buf[1] = 0x10;		/* LIST ID USAGE 10b: nothing held */
	tcmu_put_be16(l->buf + 2, l->ncscd * XL_CSCD);
	tcmu_put_be32(l->buf + 8, l->nseg * XL_SEG);
	for (size_t i = 0; i < l->ncscd; i++, off += XL_CSCD)
		memcpy(l->buf + off, l->cscds[i], XL_CSCD);
	for (size_t i = 0; i < l->nseg; i++, off += XL_SEG)
		memcpy(l->buf + off, l->segs[i], XL_SEG);
	return off;
}

static inline size_t xl_seg_off(const struct xlist *l, size_t j)
{
	return XL_HDR + l->ncscd * XL_CSCD + j * XL_SEG;
}

static inline void xl_cdb(uint8_t *cdb, size_t len)
{
	memset(cdb, 0, 16);
	cdb[0] = EXTENDED_COPY;
	tcmu_put_be32(cdb + 10, len);
}

/* Run the list @buf (@len bytes) on @sd. */
static inline struct sim_cmd *xl_run_buf(struct sim_dev *sd, const uint8_t *buf, size_t len)
{
	uint8_t cdb[16];

	xl_cdb(cdb, len);
	return sim_dev_run(sd, cdb, 16, buf, len);
}

static inline struct sim_cmd *xl_run(struct sim_dev *sd, struct xlist *l)
{
	size_t len = xl_build(l);

	return xl_run_buf(sd, l->buf, len);
}

/* Queue (not notify) the list on @sd's ring. */
static inline struct sim_cmd *xl_queue(struct sim_dev *sd, struct xlist *l)
{
	static uint8_t cdbs[64][16];
	static unsigned int next;
	uint8_t *cdb = cdbs[__atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % 64];
	size_t len = xl_build(l);
	struct sim_req req = { .cdb = cdb, .cdb_len = 16, .data = l->buf, .data_len = len };
	struct sim_cmd *c = NULL;

	xl_cdb(cdb, len);
	assert_int_equal(ring_sim_queue(sd->sim, &req, &c), 0);
	return c;
}

static inline tcmu_sts xl_bad_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
				   struct iovec *iov, size_t cnt, size_t len, uint64_t off)
{
	if (off <= 1000 * 512 && off + len > 1000 * 512)
		return tcmur_cmd_sense(cmd, SENSE_MEDIUM_ERROR, 0x1100);
	return mem_handler_ops.read(dev, cmd, iov, cnt, len, off);
}

/* The memory handler, failing reads of LBA 1000 with MEDIUM ERROR: a
 * copy source that breaks part-way. */
static inline const struct tcmur_handler *xl_bad_handler(void)
{
	static struct tcmur_handler ops;

	ops = mem_handler_ops;
	ops.read = xl_bad_read;
	return &ops;
}

/* A mem-handler LUN of @bs-byte blocks with serial @serial, in @reg. */
static inline struct sim_dev *xl_dev(struct dev_registry *reg, const struct tcmur_handler *ops,
				     const char *cfg, uint32_t bs, const char *serial)
{
	struct sim_dev_cfg c = { .ops = ops ? ops : &mem_handler_ops, .handler_cfg = cfg,
				 .block_size = bs, .serial = serial, .registry = reg };
	struct sim_dev *sd;

	assert_int_equal(sim_dev_new(&sd, &c), 0);
	assert_int_equal(dev_registry_add(reg, sd->dev), 0);
	return sd;
}

static inline unsigned int xl_refs(struct dev_registry *reg, struct tcmur_device *dev)
{
	unsigned int n;

	pthread_mutex_lock(&reg->lock);
	n = dev->registry_refs;
	pthread_mutex_unlock(&reg->lock);
	return n;
}

/* Take two devices out of @reg, free them, then @reg. */
static inline void xl_pair_free(struct dev_registry *reg, struct sim_dev *a, struct sim_dev *b)
{
	dev_registry_remove(reg, a->dev);
	dev_registry_remove(reg, b->dev);
	sim_dev_free(a);
	sim_dev_free(b);
	dev_registry_destroy(reg);
}

#endif
