/*
 * qcow2_reftable.c: growing the refcount table when the next cluster to
 * allocate lies past what it counts. The new table (twice the entries,
 * or more) goes past the end of the file, followed by the refcount
 * blocks that count it and themselves; all of it is written and made
 * stable before the header names it, in one 12-byte write (offset and
 * clusters), made stable in turn before the old table is freed. A crash
 * before the header write leaves the old image untouched (and unused
 * bytes past its end), after it at worst the old table leaked. The
 * caller holds img->meta. See qcow2.h.
 * Licensed under the Apache License, Version 2.0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

#define HDR_REFTABLE 48		/* refcount_table_offset, then _clusters */

/* n table clusters from cluster t, then k refcount blocks that cover
 * [t, t + n + k); entries: the table's. */
struct grow_plan {
	uint64_t t, n, k, entries;
};

static int grow_plan(const struct qcow2_image *img, struct grow_plan *g)
{
	uint64_t cpb = qcow2_ref_per_block(img), per_cl = img->cluster_size / 8;
	uint64_t want = (uint64_t)img->reftable_size * 2;

	g->t = img->next_free;
	g->k = 0;
	for (;;) {
		uint64_t end, k;

		g->n = (want + per_cl - 1) / per_cl;
		end = g->t + g->n + g->k;
		k = (end - 1) / cpb - g->t / cpb + 1;
		if (k != g->k) {
			g->k = k;
			continue;
		}
		if ((end - 1) / cpb < g->n * per_cl)
			break;
		want = (end - 1) / cpb + 1;
	}
	g->entries = g->n * per_cl;
	return g->entries * 8 > QCOW2_MAX_REFTABLE_BYTES ? -ENOSPC : 0;
}

/* The refcount blocks of @g into the file and their offsets into @table. */
static int grow_write_blocks(struct qcow2_image *img, const struct grow_plan *g,
			     uint64_t *table, uint8_t *blk)
{
	uint64_t cpb = qcow2_ref_per_block(img), end = g->t + g->n + g->k, pos;
	unsigned int len;
	int err = 0;

	for (uint64_t j = 0; j < g->k && !err; j++) {
		uint64_t r = g->t / cpb + j, off = (g->t + g->n + j) << img->cluster_bits;
		uint64_t c = r * cpb > g->t ? r * cpb : g->t;

		memset(blk, 0, img->cluster_size);
		for (; c < end && c < (r + 1) * cpb; c++)
			qcow2_ref_entry_set(img, blk, c % cpb, 1, &pos, &len);
		err = qcow2_pwrite(img->fd, blk, img->cluster_size, off);
		table[r] = off;
	}
	return err;
}

/* The new table, its blocks and the header; 0 once the header names it. */
static int grow_write(struct qcow2_image *img, const struct grow_plan *g, uint64_t *table)
{
	uint64_t bytes = g->entries * 8, toff = g->t << img->cluster_bits;
	uint8_t *be = malloc(bytes > img->cluster_size ? bytes : img->cluster_size), hdr[12];
	int err;

	if (!be)
		return -ENOMEM;
	err = grow_write_blocks(img, g, table, be);
	for (uint64_t i = 0; i < g->entries && !err; i++)
		tcmu_put_be64(be + i * 8, table[i]);
	if (!err)
		err = qcow2_pwrite(img->fd, be, bytes, toff);
	free(be);
	if (!err)
		err = qcow2_sync(img);
	tcmu_put_be64(hdr, toff);
	tcmu_put_be32(hdr + 8, g->n);
	if (!err)
		err = qcow2_pwrite(img->fd, hdr, sizeof(hdr), HDR_REFTABLE);
	if (!err)
		err = qcow2_sync(img);
	return err;
}

int qcow2_reftable_grow(struct qcow2_image *img)
{
	uint64_t old_off = img->reftable_offset;
	uint64_t old_n = (uint64_t)img->reftable_size * 8 >> img->cluster_bits;
	struct grow_plan g;
	uint64_t *table;
	int err = grow_plan(img, &g);

	if (err) {
		tcmu_dev_err(img->dev, "%s: refcount table of %u entries full, and %llu would "
			     "pass the limit of %u bytes", img->path, img->reftable_size,
			     (unsigned long long)g.entries, QCOW2_MAX_REFTABLE_BYTES);
		return err;
	}
	table = calloc(g.entries, sizeof(*table));
	if (!table)
		return -ENOMEM;
	memcpy(table, img->reftable, (size_t)img->reftable_size * 8);
	err = grow_write(img, &g, table);
	if (err) {
		tcmu_dev_err(img->dev, "%s: grow the refcount table: %s", img->path,
			     strerror(-err));
		free(table);
		return err;
	}
	free(img->reftable);
	img->reftable = table;
	img->reftable_size = g.entries;
	img->reftable_offset = g.t << img->cluster_bits;
	img->next_free = g.t + g.n + g.k;
	tcmu_dev_info(img->dev, "%s: refcount table grown to %llu entries at %llu", img->path,
		      (unsigned long long)g.entries,
		      (unsigned long long)img->reftable_offset);
	for (uint64_t i = 0; i < old_n && !err; i++) {
		struct qcow2_map m = { QCOW2_NORMAL, old_off + (i << img->cluster_bits), 0 };

		err = qcow2_free_host(img, &m);
	}
	return err;
}
