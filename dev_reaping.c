/*
 * dev_reaping: removed devices not yet freed, and their stores; see
 * dev_reaping.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "dev_reaping.h"
#include "store_key.h"

struct reaping_dev {
	struct dev_reaping *set;
	struct reaping_dev *next;
	bool listed;			/* under set->lock */
	struct store_key key;
	char who[1400];
};

void dev_reaping_init(struct dev_reaping *r)
{
	pthread_mutex_init(&r->lock, NULL);
	r->head = NULL;
	r->count = 0;
}

void dev_reaping_destroy(struct dev_reaping *r)
{
	/* Taken once: a freeing thread that took the last entry off (the
	 * count seen without the lock) has let go of it. */
	pthread_mutex_lock(&r->lock);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_destroy(&r->lock);
}

struct reaping_dev *dev_reaping_entry_new(struct dev_reaping *r)
{
	struct reaping_dev *e = calloc(1, sizeof(*e));

	if (e)
		e->set = r;
	return e;
}

void dev_reaping_begin(struct reaping_dev *e, const char *who, const char *subtype,
		       const char *cfg)
{
	struct dev_reaping *r = e->set;

	/* Outside the lock: it may stat and resolve a path. */
	store_key_of(&e->key, subtype, cfg);
	snprintf(e->who, sizeof(e->who), "%s", who);
	pthread_mutex_lock(&r->lock);
	e->next = r->head;
	r->head = e;
	e->listed = true;
	__atomic_store_n(&r->count, r->count + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&r->lock);
}

void dev_reaping_end(struct reaping_dev *e)
{
	struct dev_reaping *r;

	if (!e)
		return;
	r = e->set;
	pthread_mutex_lock(&r->lock);
	if (e->listed) {
		struct reaping_dev **p = &r->head;

		while (*p != e)
			p = &(*p)->next;
		*p = e->next;
		__atomic_store_n(&r->count, r->count - 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&r->lock);
	free(e);
}

unsigned int dev_reaping_count(const struct dev_reaping *r)
{
	return __atomic_load_n(&r->count, __ATOMIC_ACQUIRE);
}

bool dev_reaping_holds(struct dev_reaping *r, const char *subtype, const char *cfg,
		       char *who_out, size_t len)
{
	struct store_key k;
	bool held = false;

	store_key_of(&k, subtype, cfg);
	pthread_mutex_lock(&r->lock);
	for (struct reaping_dev *e = r->head; e && !held; e = e->next) {
		held = store_key_same(&k, &e->key);
		if (held)
			snprintf(who_out, len, "%s", e->who);
	}
	pthread_mutex_unlock(&r->lock);
	return held;
}
