/*
 * The devices one daemon serves, findable from any device's I/O threads
 * by their NAA identifier: EXTENDED COPY between two of our LUNs reads
 * one and writes the other without the data crossing the initiator.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DEV_REGISTRY_H
#define DEV_REGISTRY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct tcmur_device;

struct dev_registry {
	pthread_mutex_t lock;		/* a leaf: taken with no other held */
	pthread_cond_t cond;		/* a reference was put back */
	struct tcmur_device **devs;
	size_t count;
};

void dev_registry_init(struct dev_registry *reg);
void dev_registry_destroy(struct dev_registry *reg);
int dev_registry_add(struct dev_registry *reg, struct tcmur_device *dev);
/* Take @dev out; returns once nobody holds a reference from _get. */
void dev_registry_remove(struct dev_registry *reg, struct tcmur_device *dev);
/* The device whose VPD 0x83 NAA designator is @naa (16 bytes), with a
 * reference that _put gives back; NULL if it is not ours. A device with
 * no unit serial has no NAA designator and is never found. */
struct tcmur_device *dev_registry_get_by_naa(struct dev_registry *reg,
					     const uint8_t *naa);
void dev_registry_put(struct dev_registry *reg, struct tcmur_device *dev);

#endif
