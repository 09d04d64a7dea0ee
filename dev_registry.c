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
	pthread_cond_init(&reg->cond, NULL);
}

void dev_registry_destroy(struct dev_registry *reg)
{
	free(reg->devs);
	pthread_cond_destroy(&reg->cond);
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
	while (dev->registry_refs)
		pthread_cond_wait(&reg->cond, &reg->lock);
	pthread_mutex_unlock(&reg->lock);
}

struct tcmur_device *dev_registry_get_by_naa(struct dev_registry *reg, const uint8_t *naa)
{
	struct tcmur_device *found = NULL;
	uint8_t mine[16];

	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->count && !found; i++) {
		if (scsi_dev_naa(reg->devs[i], mine) && !memcmp(mine, naa, sizeof(mine))) {
			found = reg->devs[i];
			found->registry_refs++;
		}
	}
	pthread_mutex_unlock(&reg->lock);
	return found;
}

void dev_registry_put(struct dev_registry *reg, struct tcmur_device *dev)
{
	pthread_mutex_lock(&reg->lock);
	dev->registry_refs--;
	pthread_cond_broadcast(&reg->cond);
	pthread_mutex_unlock(&reg->lock);
}
