/*
 * See dev_registry.h. Licensed under the Apache License, Version 2.0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev_registry.h"
#include "device.h"
#include "scsi_emulate.h"

void dev_registry_init(struct dev_registry *reg)
{
	memset(reg, 0, sizeof(*reg));
	pthread_mutex_init(&reg->lock, NULL);
}

void dev_registry_destroy(struct dev_registry *reg)
{
	free(reg->devs);
	pthread_mutex_destroy(&reg->lock);
}

int dev_registry_add(struct dev_registry *reg, struct tcmur_device *dev)
{
	struct tcmur_device **devs;

	pthread_mutex_lock(&reg->lock);
	devs = realloc(reg->devs, (reg->count + 1) * sizeof(*devs));
	if (!devs) {
		pthread_mutex_unlock(&reg->lock);
		return -ENOMEM;
	}
	devs[reg->count++] = dev;
	reg->devs = devs;
	pthread_mutex_unlock(&reg->lock);
	return 0;
}

void dev_registry_remove(struct dev_registry *reg, struct tcmur_device *dev)
{
	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->count; i++) {
		if (reg->devs[i] == dev) {
			reg->devs[i] = reg->devs[--reg->count];
			break;
		}
	}
	pthread_mutex_unlock(&reg->lock);
}

/* Every device, each with a reference; NULL (and *n 0) if none or no
 * memory. */
static struct tcmur_device **registry_snapshot(struct dev_registry *reg, size_t *n)
{
	struct tcmur_device **snap;

	pthread_mutex_lock(&reg->lock);
	*n = reg->count;
	snap = *n ? malloc(*n * sizeof(*snap)) : NULL;
	if (!snap)
		*n = 0;
	for (size_t i = 0; i < *n; i++) {
		snap[i] = reg->devs[i];
		__atomic_add_fetch(&snap[i]->registry_refs, 1, __ATOMIC_ACQ_REL);
	}
	pthread_mutex_unlock(&reg->lock);
	return snap;
}

struct tcmur_device *dev_registry_get_by_naa(struct dev_registry *reg, const uint8_t *naa)
{
	struct tcmur_device *found = NULL, **snap;
	uint8_t mine[16];
	size_t n;

	/* The identities are read (configfs, the first time) with no lock
	 * held; each device is kept by its reference meanwhile. */
	snap = registry_snapshot(reg, &n);
	for (size_t i = 0; i < n; i++) {
		if (!found && scsi_dev_naa(snap[i], mine) && !memcmp(mine, naa, sizeof(mine)))
			found = snap[i];
		else
			dev_registry_put(reg, snap[i]);
	}
	free(snap);
	return found;
}

void dev_registry_put(struct dev_registry *reg, struct tcmur_device *dev)
{
	(void)reg;
	/* The last touch of @dev: once 0, a removed device may be freed. */
	__atomic_sub_fetch(&dev->registry_refs, 1, __ATOMIC_ACQ_REL);
}

bool dev_registry_held(struct tcmur_device *dev)
{
	return __atomic_load_n(&dev->registry_refs, __ATOMIC_ACQUIRE) != 0;
}
