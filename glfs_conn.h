/*
 * glfs_conn: handler_glfs's connections to GlusterFS volumes, one glfs_t
 * per (volume, host list, ping_timeout), shared by the devices that use
 * it and reference-counted.
 *
 * Handler-wide state: the handler API has no handler context, so the
 * list of connections is a file-scope list under a mutex (glfs_conn.c).
 * The mutex is held across a new connection's glfs_init, so that two
 * devices opening on one volume never make two connections; a host that
 * does not answer delays other opens at most the caller's bound.
 *
 * A new glfs_t: the volfile servers tried in turn, gfapi's log to
 * $TCMU_GLFS_LOG (default /dev/null) at WARNING, write-behind's
 * pass-through on (no write acknowledged before a brick has it: see
 * handler_glfs.c), and our client ping-timeout unless the volume's is
 * asked for (glfs_ping.h: then the volfile's is read back). glfs_init
 * runs on a thread of its own, bounded in time; one that overruns is
 * left to finish and free its glfs_t by itself. glfs_fini, which takes
 * about 10 s (the rpc's call-bail timer holds it), runs on a detached
 * thread once the last device went: hence the plugin's -z nodelete, so
 * that it stays mapped while one runs.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef GLFS_CONN_H
#define GLFS_CONN_H

#include <glusterfs/api/glfs.h>

#include "glfs_cfg.h"

/* One glfs_t, shared by the devices on one key. */
struct glfs_conn {
	struct glfs_conn *next;
	char *volume, *hosts;
	unsigned int ping;		/* as asked: 0, the volume's */
	unsigned int ping_s;		/* in force: ours, or the volfile's */
	glfs_t *fs;
	unsigned int refs;		/* under the list's lock */
};

/* The connection for @k, shared: found, or made within @secs. NULL with
 * *err (-errno; -ETIMEDOUT when glfs_init did not end in time) and *step
 * (what failed). glfs_conn_put() it. */
struct glfs_conn *glfs_conn_get(const struct glfs_conn_key *k, unsigned int secs, int *err,
				const char **step);

/* Drop a reference (NULL: none); the last one finis the glfs_t, off the
 * caller's thread. */
void glfs_conn_put(struct glfs_conn *conn);

#endif
