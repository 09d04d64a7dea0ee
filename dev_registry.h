/*
 * The devices one daemon serves, findable from any device's I/O threads
 * by their NAA identifier: EXTENDED COPY between two of our LUNs reads
 * one and writes the other without the data crossing the initiator.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DEV_REGISTRY_H
#define DEV_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tcmur_device;

struct dev_registry {
	pthread_mutex_t lock;		/* a leaf: taken with no other held */
	struct tcmur_device **devs;
	size_t count;
};

/*
 * A reference from _get keeps a device's memory, not its service: the
 * main loop removes a device at once however many copies name it
 * (_remove never waits), the copy's next step on it finds it paused and
 * ends with COPY ABORTED (dev_seq.h), and the device is freed once the
 * last reference is given back (dev_free waits for dev_registry_held).
 * No configfs read happens under the registry's lock: a lookup may meet
 * a LUN whose attributes block while the kernel removes it, and that
 * removal needs the main loop.
 */
void dev_registry_init(struct dev_registry *reg);
void dev_registry_destroy(struct dev_registry *reg);
int dev_registry_add(struct dev_registry *reg, struct tcmur_device *dev);
/* Take @dev out of lookups; it may still be referenced. */
void dev_registry_remove(struct dev_registry *reg, struct tcmur_device *dev);
/* The device whose VPD 0x83 NAA designator is @naa (16 bytes), with a
 * reference that _put gives back; NULL if it is not ours. A device with
 * no unit serial has no NAA designator and is never found. */
struct tcmur_device *dev_registry_get_by_naa(struct dev_registry *reg,
					     const uint8_t *naa);
void dev_registry_put(struct dev_registry *reg, struct tcmur_device *dev);
/* Whether a lookup still holds a reference to @dev. */
bool dev_registry_held(struct tcmur_device *dev);

#endif
