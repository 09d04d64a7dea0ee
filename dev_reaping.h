/*
 * dev_reaping: the devices dev_free left to a thread of their own (a
 * command still with the handler: device.h), from their removal until
 * that thread has closed the handler and freed them; and the backing
 * store each may still write to (store_key.h).
 *
 * A LUN made again on the same file or image meanwhile would take new
 * writes, and the old device's late command would land on top of them.
 * The daemon asks dev_reaping_holds() before it serves a new device and
 * refuses one whose store a removed device still holds.
 *
 * Every served device has an entry from the start (its dev_params
 * freed_opaque), listed only once its removal begins. Locking: one
 * mutex, a leaf; the main thread lists an entry, the device's freeing
 * thread (on_freed) takes it off.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DEV_REAPING_H
#define DEV_REAPING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct reaping_dev;

struct dev_reaping {
	pthread_mutex_t lock;
	struct reaping_dev *head;	/* listed: removed, not yet freed */
	unsigned int count;		/* how many; written under lock, atomic */
};

void dev_reaping_init(struct dev_reaping *r);
/* Nothing may be listed any more. */
void dev_reaping_destroy(struct dev_reaping *r);

/* An entry for a device about to be served, not listed; NULL: no memory. */
struct reaping_dev *dev_reaping_entry_new(struct dev_reaping *r);
/*
 * Main thread, before dev_free(): list @e, the device @who (its name in
 * log lines) serving handler config @cfg of @subtype, its store still
 * open. Once listed, @e belongs to whoever calls dev_reaping_end.
 */
void dev_reaping_begin(struct reaping_dev *e, const char *who, const char *subtype,
		       const char *cfg);
/* Any thread: the device is freed (or was never served): take @e off
 * the list if it is on it, and free it. NULL is a no-op. */
void dev_reaping_end(struct reaping_dev *e);

/* Devices listed. Any thread. */
unsigned int dev_reaping_count(const struct dev_reaping *r);
/* Whether a listed device still holds the store that config @cfg of
 * @subtype names; if so, its @who into @who_out (@len bytes). */
bool dev_reaping_holds(struct dev_reaping *r, const char *subtype, const char *cfg,
		       char *who_out, size_t len);

#endif
