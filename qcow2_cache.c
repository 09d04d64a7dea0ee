/*
 * qcow2_cache.c: a few cluster-sized tables (L2 tables, refcount blocks)
 * kept in memory, least recently used out. Write-through: whoever
 * changes a cached table writes the changed bytes to the file too, so an
 * evicted table needs no write-back. The caller holds the image's meta
 * lock. See qcow2.h.
 * Licensed under the Apache License, Version 2.0.
 */
#include <errno.h>
#include <stdlib.h>

#include "qcow2.h"

int qcow2_cache_init(struct qcow2_cache *c, unsigned int nr, uint32_t size)
{
	c->slots = calloc(nr, sizeof(*c->slots));
	if (!c->slots)
		return -ENOMEM;
	c->nr = nr;
	c->size = size;
	c->clock = 0;
	for (unsigned int i = 0; i < nr; i++) {
		c->slots[i].data = malloc(size);
		if (!c->slots[i].data)
			return -ENOMEM;	/* qcow2_cache_fini frees what was made */
	}
	return 0;
}

void qcow2_cache_fini(struct qcow2_cache *c)
{
	for (unsigned int i = 0; c->slots && i < c->nr; i++)
		free(c->slots[i].data);
	free(c->slots);
	c->slots = NULL;
	c->nr = 0;
}

/* The slot holding @offset, else the least recently used one (emptied). */
static struct qcow2_cache_slot *cache_slot(struct qcow2_cache *c, uint64_t offset,
					   bool *hit)
{
	struct qcow2_cache_slot *victim = &c->slots[0];

	for (unsigned int i = 0; i < c->nr; i++) {
		struct qcow2_cache_slot *s = &c->slots[i];

		if (s->offset == offset) {
			*hit = true;
			s->used = ++c->clock;
			return s;
		}
		if (s->used < victim->used)
			victim = s;
	}
	*hit = false;
	victim->offset = 0;
	victim->used = ++c->clock;
	return victim;
}

uint8_t *qcow2_cache_get(struct qcow2_cache *c, int fd, uint64_t offset, int *err)
{
	bool hit;
	struct qcow2_cache_slot *s = cache_slot(c, offset, &hit);

	if (hit)
		return s->data;
	*err = qcow2_pread(fd, s->data, c->size, offset);
	if (*err)
		return NULL;
	s->offset = offset;
	return s->data;
}

uint8_t *qcow2_cache_put_new(struct qcow2_cache *c, uint64_t offset)
{
	bool hit;
	struct qcow2_cache_slot *s = cache_slot(c, offset, &hit);

	s->offset = offset;
	return s->data;
}

void qcow2_cache_drop(struct qcow2_cache *c, uint64_t offset)
{
	for (unsigned int i = 0; i < c->nr; i++)
		if (c->slots[i].offset == offset)
			c->slots[i].offset = 0;
}
