/*
 * qcow2_repair.c: a dirty image (v3 incompatible bit 0: QEMU left its
 * refcounts stale, lazy_refcounts) opened read-write gets its refcounts
 * rebuilt, as QEMU does on open (and qemu-img check -r all): every host
 * cluster's refcount is recounted from what references it (the header
 * cluster, the L1 table, the refcount table, the refcount blocks, the L2
 * tables, the data clusters L2 entries point to, compressed clusters by
 * the sectors their descriptor spans) and written where it differs.
 * Leaks are set to 0, missing and wrong counts to what they should be.
 *
 * Write ordering: the refcount blocks are rewritten in place and made
 * stable (fdatasync) before the dirty bit is cleared, which is then made
 * stable in turn. A crash before that leaves the bit set, so the next
 * open repairs again (the recount trusts only the L1/L2 tables and the
 * refcount table, which the repair never changes).
 *
 * What it does not do, but refuses with a reason (qemu-img check -r all
 * repairs those): a referenced cluster with no refcount block, a table
 * or cluster past the end of the file or not aligned, more references
 * than a refcount holds. Internal snapshots are refused before we get
 * here. The caller holds no lock; the image is not served yet.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qcow2.h"

#define HDR_INCOMPAT 72
#define REFTABLE_MASK 0xfffffffffffffe00ULL

struct repair {
	struct qcow2_image *img;
	uint32_t *count;	/* references per host cluster, nr of them */
	uint64_t nr;		/* host clusters in the file */
	uint64_t fixed, leaks;
	uint8_t *buf;		/* one cluster: an L2 table */
	char *msg;		/* why it failed */
	size_t msg_len;
};

static int rep_fail(struct repair *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Say in r->msg why the repair stops; returns @err. */
static int rep_fail(struct repair *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, r->msg_len, fmt, ap);
	va_end(ap);
	return err;
}

/* One reference to each host cluster in [@off, @off + @len) (@len > 0). */
static int rep_ref(struct repair *r, uint64_t off, uint64_t len, const char *what)
{
	uint64_t first = off >> r->img->cluster_bits;
	uint64_t last = (off + len - 1) >> r->img->cluster_bits;

	if (last >= r->nr)
		return rep_fail(r, -EIO, "%s at %llu lies past the end of the file", what,
				(unsigned long long)off);
	for (uint64_t c = first; c <= last; c++) {
		if (r->count[c] == UINT32_MAX)
			return rep_fail(r, -EIO, "cluster at %llu referenced too often",
					(unsigned long long)(c << r->img->cluster_bits));
		r->count[c]++;
	}
	return 0;
}

/* A cluster-aligned table or cluster at @off, one reference. */
static int rep_ref_cluster(struct repair *r, uint64_t off, const char *what)
{
	if (off & (r->img->cluster_size - 1))
		return rep_fail(r, -EIO, "%s at %llu not cluster aligned", what,
				(unsigned long long)off);
	return rep_ref(r, off, r->img->cluster_size, what);
}

/* The L2 table at @l2 and what its entries point to. */
static int rep_count_l2(struct repair *r, uint64_t l2)
{
	struct qcow2_image *img = r->img;
	int err = rep_ref_cluster(r, l2, "L2 table");

	if (!err)
		err = qcow2_pread(img->fd, r->buf, img->cluster_size, l2);
	for (uint32_t i = 0; i < img->l2_entries && !err; i++) {
		struct qcow2_map m;

		qcow2_l2_decode(img, tcmu_get_be64(r->buf + i * 8), &m);
		if (m.kind == QCOW2_COMPRESSED)
			err = rep_ref(r, m.host, m.comp_len, "compressed cluster");
		else if (m.host)
			err = rep_ref_cluster(r, m.host, "data cluster");
	}
	return err;
}

/* Every reference in the image into r->count. */
static int rep_count(struct repair *r)
{
	struct qcow2_image *img = r->img;
	int err = rep_ref(r, 0, img->cluster_size, "header");

	if (!err && img->l1_size)
		err = rep_ref(r, img->l1_offset, (uint64_t)img->l1_size * 8, "L1 table");
	if (!err)
		err = rep_ref(r, img->reftable_offset, (uint64_t)img->reftable_size * 8,
			      "refcount table");
	for (uint32_t i = 0; i < img->reftable_size && !err; i++)
		if (img->reftable[i] & REFTABLE_MASK)
			err = rep_ref_cluster(r, img->reftable[i] & REFTABLE_MASK,
					      "refcount block");
	for (uint32_t i = 0; i < img->l1_size && !err; i++)
		if (img->l1[i] & QCOW2_OFFSET_MASK)
			err = rep_count_l2(r, img->l1[i] & QCOW2_OFFSET_MASK);
	return err;
}

/* Every counted cluster has a refcount block that can hold its count. */
static int rep_check_room(struct repair *r)
{
	struct qcow2_image *img = r->img;
	uint64_t cpb = qcow2_ref_per_block(img);
	uint64_t max = img->refcount_order >= 5 ? UINT32_MAX :
		       (1ULL << (1u << img->refcount_order)) - 1;

	for (uint64_t c = 0; c < r->nr; c++) {
		if (!r->count[c])
			continue;
		if (c / cpb >= img->reftable_size || !(img->reftable[c / cpb] & REFTABLE_MASK))
			return rep_fail(r, -EIO, "cluster at %llu is used but has no refcount "
					"block", (unsigned long long)(c << img->cluster_bits));
		if (r->count[c] > max)
			return rep_fail(r, -EIO, "cluster at %llu referenced %u times: more than "
					"a refcount of %u bits holds",
					(unsigned long long)(c << img->cluster_bits), r->count[c],
					1u << img->refcount_order);
	}
	return 0;
}

/* Refcount block @idx of the table rewritten where it differs. */
static int rep_fix_block(struct repair *r, uint64_t idx)
{
	struct qcow2_image *img = r->img;
	uint64_t cpb = qcow2_ref_per_block(img), off = img->reftable[idx] & REFTABLE_MASK;
	uint64_t pos;
	unsigned int len;
	bool changed = false;
	int err = 0;
	uint8_t *b = qcow2_cache_get(&img->ref_cache, img->fd, off, &err);

	if (!b)
		return rep_fail(r, err, "read refcount block at %llu: %s",
				(unsigned long long)off, strerror(-err));
	for (uint64_t i = 0; i < cpb; i++) {
		uint64_t c = idx * cpb + i, want = c < r->nr ? r->count[c] : 0;
		uint64_t have = qcow2_ref_entry_get(img, b, i);

		if (have == want)
			continue;
		if (want)
			r->fixed++;
		else
			r->leaks++;
		qcow2_ref_entry_set(img, b, i, want, &pos, &len);
		changed = true;
	}
	if (changed)
		err = qcow2_pwrite(img->fd, b, img->cluster_size, off);
	if (err) {
		qcow2_cache_drop(&img->ref_cache, off);
		return rep_fail(r, err, "write refcount block at %llu: %s",
				(unsigned long long)off, strerror(-err));
	}
	return 0;
}

/* The dirty bit cleared in the header, once the refcounts are stable. */
static int rep_clear_dirty(struct repair *r)
{
	struct qcow2_image *img = r->img;
	uint8_t be[8];
	int err = qcow2_sync(img);

	if (!err)
		err = qcow2_pread(img->fd, be, sizeof(be), HDR_INCOMPAT);
	if (!err) {
		tcmu_put_be64(be, tcmu_get_be64(be) & ~QCOW2_INCOMPAT_DIRTY);
		err = qcow2_pwrite(img->fd, be, sizeof(be), HDR_INCOMPAT);
	}
	if (!err)
		err = qcow2_sync(img);
	if (err)
		return rep_fail(r, err, "clear the dirty bit: %s", strerror(-err));
	return 0;
}

static int rep_run(struct repair *r)
{
	int err = rep_count(r);

	if (!err)
		err = rep_check_room(r);
	for (uint32_t i = 0; i < r->img->reftable_size && !err; i++)
		if (r->img->reftable[i] & REFTABLE_MASK)
			err = rep_fix_block(r, i);
	if (!err)
		err = rep_clear_dirty(r);
	return err;
}

int qcow2_repair(struct qcow2_image *img, char *msg, size_t msg_len)
{
	struct repair r = { .img = img, .msg = msg, .msg_len = msg_len };
	struct stat st;
	int err;

	if (fstat(img->fd, &st) < 0)
		return rep_fail(&r, -errno, "stat: %s", strerror(errno));
	r.nr = ((uint64_t)st.st_size + img->cluster_size - 1) >> img->cluster_bits;
	r.count = calloc(r.nr ? r.nr : 1, sizeof(*r.count));
	r.buf = malloc(img->cluster_size);
	if (!r.count || !r.buf) {
		err = rep_fail(&r, -ENOMEM, "out of memory for %llu refcounts",
			       (unsigned long long)r.nr);
		goto out_free;
	}
	pthread_mutex_lock(&img->meta);
	err = rep_run(&r);
	pthread_mutex_unlock(&img->meta);
	if (!err)
		tcmu_dev_info(img->dev, "%s: dirty image: refcounts rebuilt: %llu fixed, %llu "
			      "leaks freed", img->path, (unsigned long long)r.fixed,
			      (unsigned long long)r.leaks);
out_free:
	free(r.buf);
	free(r.count);
	return err;
}
