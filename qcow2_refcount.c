/*
 * qcow2_refcount.c: refcounts (1 to 64 bits each, refcount_order) and
 * cluster allocation. A new cluster is the lowest free one in the file
 * (refcount 0, searched from free_hint up), else one past its end
 * (next_free). A cluster freed while the image is open joins the search
 * only once its refcount 0 is stable (qcow2_free_settle); by then the L2
 * entry that named it was cleared and made stable, and no reader still
 * uses it: a guest cluster's reads and writes hold its stripe from
 * lookup to the end of their I/O, and its L2 entry changes under the
 * stripe held exclusively, before the old cluster's refcount drops.
 * A refcount block a new cluster needs past the end of the file is put
 * at that cluster itself (it then counts itself). A full refcount table
 * is grown (qcow2_reftable.c). The caller holds img->meta, but for
 * qcow2_free_settle. See qcow2.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "qcow2.h"

#define REFTABLE_MASK 0xfffffffffffffe00ULL

uint64_t qcow2_ref_per_block(const struct qcow2_image *img)
{
	return ((uint64_t)img->cluster_size * 8) >> img->refcount_order;
}

uint64_t qcow2_ref_entry_get(const struct qcow2_image *img, const uint8_t *b, uint64_t i)
{
	unsigned int bits = 1u << img->refcount_order;
	uint64_t v = 0;

	if (bits < 8)
		return (b[i * bits / 8] >> (i * bits % 8)) & ((1u << bits) - 1);
	for (unsigned int k = 0; k < bits / 8; k++)
		v = v << 8 | b[i * (bits / 8) + k];
	return v;
}

/* Set entry @i of @b to @v; the byte range changed into *pos, *len. */
void qcow2_ref_entry_set(const struct qcow2_image *img, uint8_t *b, uint64_t i, uint64_t v,
			 uint64_t *pos, unsigned int *len)
{
	unsigned int bits = 1u << img->refcount_order;

	if (bits < 8) {
		unsigned int shift = i * bits % 8, mask = ((1u << bits) - 1) << shift;

		*pos = i * bits / 8;
		*len = 1;
		b[*pos] = (b[*pos] & ~mask) | ((v << shift) & mask);
		return;
	}
	*len = bits / 8;
	*pos = i * *len;
	for (unsigned int k = *len; k-- > 0; v >>= 8)
		b[*pos + k] = v & 0xff;
}

/* The refcount block covering @cluster: its offset (0: none yet). */
static int ref_block_of(struct qcow2_image *img, uint64_t cluster, uint64_t *off)
{
	uint64_t idx = cluster / qcow2_ref_per_block(img);

	if (idx >= img->reftable_size) {
		*off = 0;
		return -ENOSPC;
	}
	*off = img->reftable[idx] & REFTABLE_MASK;
	return 0;
}

int qcow2_refcount_get(struct qcow2_image *img, uint64_t cluster, uint64_t *rc)
{
	uint64_t off;
	uint8_t *b;
	int err = 0;

	*rc = 0;
	if (ref_block_of(img, cluster, &off) || !off)
		return 0;
	b = qcow2_cache_get(&img->ref_cache, img->fd, off, &err);
	if (!b)
		return err;
	*rc = qcow2_ref_entry_get(img, b, cluster % qcow2_ref_per_block(img));
	return 0;
}

int qcow2_refcount_update(struct qcow2_image *img, uint64_t host, int delta)
{
	uint64_t cluster = host >> img->cluster_bits, i = cluster % qcow2_ref_per_block(img);
	uint64_t off, v, pos, max = img->refcount_order == 6 ? UINT64_MAX :
				 (1ULL << (1u << img->refcount_order)) - 1;
	unsigned int len;
	uint8_t *b;
	int err = 0;

	if (ref_block_of(img, cluster, &off) || !off) {
		tcmu_dev_err(img->dev, "%s: cluster at %llu has no refcount block", img->path,
			     (unsigned long long)host);
		return -EIO;
	}
	b = qcow2_cache_get(&img->ref_cache, img->fd, off, &err);
	if (!b)
		return err;
	v = qcow2_ref_entry_get(img, b, i);
	if ((delta < 0 && v == 0) || (delta > 0 && v == max)) {
		tcmu_dev_err(img->dev, "%s: refcount %llu of cluster at %llu cannot %s",
			     img->path, (unsigned long long)v, (unsigned long long)host,
			     delta < 0 ? "drop" : "grow");
		return -EIO;
	}
	qcow2_ref_entry_set(img, b, i, v + delta, &pos, &len);
	return qcow2_pwrite(img->fd, b + pos, len, off + pos);
}

/*
 * A refcount block for the range that holds @cluster, placed at @cluster
 * and counting itself. Stable before the refcount table points to it;
 * the table entry itself is made stable by the sync that comes before
 * anything refers to a cluster this block counts.
 */
static int ref_new_block(struct qcow2_image *img, uint64_t cluster)
{
	uint64_t idx = cluster / qcow2_ref_per_block(img), off = cluster << img->cluster_bits;
	uint64_t pos;
	unsigned int len;
	uint8_t *b = qcow2_cache_put_new(&img->ref_cache, off), be[8];
	int err;

	memset(b, 0, img->cluster_size);
	qcow2_ref_entry_set(img, b, cluster % qcow2_ref_per_block(img), 1, &pos, &len);
	err = qcow2_pwrite(img->fd, b, img->cluster_size, off);
	if (!err)
		err = qcow2_sync(img);
	if (err) {
		/* The cached copy never reached the file: forget it. */
		qcow2_cache_drop(&img->ref_cache, off);
		return err;
	}
	tcmu_put_be64(be, off);
	err = qcow2_pwrite(img->fd, be, 8, img->reftable_offset + idx * 8);
	if (!err)
		img->reftable[idx] = off;
	return err;
}

/* The lowest free cluster below next_free, from free_hint up, its
 * refcount set to 1: 0, or 1 if there is none, or -errno. */
static int alloc_reuse(struct qcow2_image *img, uint64_t *host)
{
	uint64_t per = qcow2_ref_per_block(img);

	while (img->free_hint < img->next_free) {
		uint64_t c = img->free_hint, off, rc;
		int err;

		if (ref_block_of(img, c, &off) || !off) {	/* counts nothing here */
			img->free_hint = (c / per + 1) * per;
			continue;
		}
		err = qcow2_refcount_get(img, c, &rc);
		if (err)
			return err;
		img->free_hint++;
		if (rc)
			continue;
		*host = c << img->cluster_bits;
		return qcow2_refcount_update(img, *host, +1);
	}
	return 1;
}

int qcow2_alloc_cluster(struct qcow2_image *img, uint64_t *host)
{
	int ret = alloc_reuse(img, host);

	if (ret <= 0)
		return ret;
	for (;;) {
		uint64_t c = img->next_free, off, rc;
		int err = ref_block_of(img, c, &off);

		if (err) {
			err = qcow2_reftable_grow(img);
			if (err)
				return err;
			continue;
		}
		img->next_free++;
		if (!off) {
			err = ref_new_block(img, c);
			if (err)
				return err;
			continue;
		}
		err = qcow2_refcount_get(img, c, &rc);
		if (err)
			return err;
		if (rc)
			continue;
		*host = c << img->cluster_bits;
		return qcow2_refcount_update(img, *host, +1);
	}
}

/* One reference less on the host cluster at @host; a hole where none is
 * left (where the file system can punch one: it is never read again). */
static int ref_drop(struct qcow2_image *img, uint64_t host)
{
	uint64_t rc;
	int err = qcow2_refcount_update(img, host, -1);

	if (!err)
		err = qcow2_refcount_get(img, host >> img->cluster_bits, &rc);
	if (!err && rc == 0) {
		(void)fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				host, img->cluster_size);
		if (host >> img->cluster_bits < img->freed_low)
			img->freed_low = host >> img->cluster_bits;
	}
	return err;
}

int qcow2_free_host(struct qcow2_image *img, const struct qcow2_map *m)
{
	uint64_t first = m->host >> img->cluster_bits, last = first;
	int err = 0;

	if (m->kind == QCOW2_COMPRESSED)
		last = (m->host + m->comp_len - 1) >> img->cluster_bits;
	else if (m->kind == QCOW2_UNALLOCATED || !m->host)
		return 0;
	for (uint64_t c = first; c <= last && !err; c++)
		err = ref_drop(img, c << img->cluster_bits);
	return err;
}

/*
 * The refcounts dropped before we took freed_low were written before
 * (under meta), so the sync makes them stable; only then may the
 * allocator look at those clusters again. Another thread's drops after
 * that wait for its own settle.
 */
int qcow2_free_settle(struct qcow2_image *img)
{
	uint64_t low;
	int err;

	pthread_mutex_lock(&img->meta);
	low = img->freed_low;
	img->freed_low = UINT64_MAX;
	pthread_mutex_unlock(&img->meta);
	if (low == UINT64_MAX)
		return 0;
	err = qcow2_sync(img);
	pthread_mutex_lock(&img->meta);
	if (err && low < img->freed_low)
		img->freed_low = low;		/* settled by a later call */
	else if (!err && low < img->free_hint)
		img->free_hint = low;
	pthread_mutex_unlock(&img->meta);
	return err;
}
