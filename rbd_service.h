/*
 * rbd_service: handler_rbd's images in the Ceph service map, where
 * ceph-iscsi (`ceph service status`), the dashboard and `ceph -s` look
 * for the gateways and their health. See rbd_service.c.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef RBD_SERVICE_H
#define RBD_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

struct tcmur_device;
struct rbd_service;

/* What the status says, as the handler counts it. */
struct rbd_service_status {
	bool lock_owner;
	uint64_t lock_lost, conn_lost, cmd_timed_out;
};

/* Fills @out with the figures as they are now; called on the service's
 * own thread, so it must only read (atomics), never wait. */
typedef void (*rbd_service_read_fn)(void *arg, struct rbd_service_status *out);

/*
 * Register @dev's image (@image, opened as @pool/@name through @cluster,
 * which must be connected) as service "tcmu-runner", daemon
 * "<host>:<pool>/<name>", and start its status thread, which sends what
 * @read says now and after each rbd_service_changed(). Does not wait for
 * the cluster. 0 and *out, or -errno (logged, naming @dev). @cluster and
 * @image must outlive the service: rbd_service_free() before closing them.
 */
int rbd_service_new(struct tcmur_device *dev, rados_t cluster, rbd_image_t image,
		    const char *pool, const char *name, rbd_service_read_fn read,
		    void *arg, struct rbd_service **out);

/* Any thread, without blocking: the figures changed, send them (at once,
 * or when the rate limit allows). NULL: nothing. */
void rbd_service_changed(struct rbd_service *svc);

/* Stop the status thread and free @svc (NULL: nothing). The registration
 * ends with the cluster handle (rados_shutdown). */
void rbd_service_free(struct rbd_service *svc);

#endif
