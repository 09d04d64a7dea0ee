/*
 * qcow2_cluster.c: guest offset to host cluster, through the L1 table
 * (all in memory) and L2 tables (qcow2_cache.c); L2 tables made and
 * entries set for writes. See qcow2.h for locks and write ordering.
 * Licensed under the Apache License, Version 2.0.
 */
#include <errno.h>
#include <string.h>

#include "qcow2.h"

static uint64_t l1_index(const struct qcow2_image *img, uint64_t off)
{
	return (off >> img->cluster_bits) / img->l2_entries;
}

static uint64_t l2_index(const struct qcow2_image *img, uint64_t off)
{
	return (off >> img->cluster_bits) % img->l2_entries;
}

/* The L2 entry of guest @off (0: no L2 table). Caller holds meta. */
static int l2_entry_get(struct qcow2_image *img, uint64_t off, uint64_t *entry)
{
	uint64_t i1 = l1_index(img, off), l2;
	uint8_t *t;
	int err = 0;

	*entry = 0;
	if (i1 >= img->l1_size)
		return 0;
	l2 = img->l1[i1] & QCOW2_OFFSET_MASK;
	if (!l2)
		return 0;
	if (l2 & (img->cluster_size - 1)) {
		tcmu_dev_err(img->dev, "%s: corrupt L1 entry %llu: L2 table at %llu not "
			     "cluster aligned", img->path, (unsigned long long)i1,
			     (unsigned long long)l2);
		return -EIO;
	}
	t = qcow2_cache_get(&img->l2_cache, img->fd, l2, &err);
	if (!t) {
		tcmu_dev_err(img->dev, "%s: read L2 table at %llu: %s", img->path,
			     (unsigned long long)l2, strerror(-err));
		return err;
	}
	*entry = tcmu_get_be64(t + l2_index(img, off) * 8);
	return 0;
}

void qcow2_l2_decode(const struct qcow2_image *img, uint64_t e, struct qcow2_map *m)
{
	m->comp_len = 0;
	if (e & QCOW2_OFLAG_COMPRESSED) {
		unsigned int x = 62 - (img->cluster_bits - 8);
		uint64_t nb = (e >> x) & ((1ULL << (img->cluster_bits - 8)) - 1);

		m->kind = QCOW2_COMPRESSED;
		m->host = e & ((1ULL << x) - 1);
		m->comp_len = (nb + 1) * 512 - (m->host & 511);
		return;
	}
	m->host = e & QCOW2_OFFSET_MASK;
	if ((e & QCOW2_OFLAG_ZERO) && img->version >= 3)
		m->kind = QCOW2_ZERO;
	else
		m->kind = m->host ? QCOW2_NORMAL : QCOW2_UNALLOCATED;
}

int qcow2_map_get(struct qcow2_image *img, uint64_t off, struct qcow2_map *m)
{
	uint64_t e;
	int err;

	pthread_mutex_lock(&img->meta);
	err = l2_entry_get(img, off, &e);
	pthread_mutex_unlock(&img->meta);
	if (err)
		return err;
	qcow2_l2_decode(img, e, m);
	if (m->kind != QCOW2_COMPRESSED && (m->host & (img->cluster_size - 1))) {
		/* never write where a corrupt entry points: it may be metadata */
		tcmu_dev_err(img->dev, "%s: corrupt L2 entry 0x%llx for guest offset %llu: "
			     "host offset not cluster aligned", img->path,
			     (unsigned long long)e, (unsigned long long)off);
		return -EIO;
	}
	return 0;
}

int qcow2_l2_ensure(struct qcow2_image *img, uint64_t off)
{
	uint64_t i1 = l1_index(img, off), host;
	uint8_t *t, be[8];
	int err;

	if (i1 >= img->l1_size)
		return -EINVAL;
	if (img->l1[i1] & QCOW2_OFFSET_MASK)
		return 0;
	err = qcow2_alloc_cluster(img, &host);
	if (err)
		return err;
	t = qcow2_cache_put_new(&img->l2_cache, host);
	memset(t, 0, img->cluster_size);
	err = qcow2_pwrite(img->fd, t, img->cluster_size, host);
	if (!err)
		err = qcow2_sync(img);
	if (err) {
		qcow2_cache_drop(&img->l2_cache, host);
		tcmu_dev_err(img->dev, "%s: write new L2 table at %llu: %s", img->path,
			     (unsigned long long)host, strerror(-err));
		return err;
	}
	tcmu_put_be64(be, host | QCOW2_OFLAG_COPIED);
	err = qcow2_pwrite(img->fd, be, 8, img->l1_offset + i1 * 8);
	if (err) {
		tcmu_dev_err(img->dev, "%s: write L1 entry %llu: %s", img->path,
			     (unsigned long long)i1, strerror(-err));
		return err;
	}
	img->l1[i1] = host | QCOW2_OFLAG_COPIED;
	return 0;
}

int qcow2_l2_set(struct qcow2_image *img, uint64_t off, uint64_t entry)
{
	uint64_t l2, pos;
	uint8_t *t;
	int err = qcow2_l2_ensure(img, off);

	if (err)
		return err;
	l2 = img->l1[l1_index(img, off)] & QCOW2_OFFSET_MASK;
	t = qcow2_cache_get(&img->l2_cache, img->fd, l2, &err);
	if (!t)
		return err;
	pos = l2_index(img, off) * 8;
	tcmu_put_be64(t + pos, entry);
	err = qcow2_pwrite(img->fd, t + pos, 8, l2 + pos);
	if (err)
		qcow2_cache_drop(&img->l2_cache, l2);
	if (err)
		tcmu_dev_err(img->dev, "%s: write L2 entry at %llu: %s", img->path,
			     (unsigned long long)(l2 + pos), strerror(-err));
	return err;
}
