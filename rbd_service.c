/*
 * rbd_service: each image handler_rbd serves, in the Ceph service map.
 *
 * Ceph's iSCSI tools learn of gateways from the mgr's service map, where
 * a librados client may register itself as a daemon of a named service
 * (rados_service_register, once per cluster handle) and keep a status
 * there (rados_service_update_status). handler_rbd has one cluster handle
 * per device, so each served image is one daemon, as the established
 * tcmu-runner registers it:
 *   service  "tcmu-runner"
 *   daemon   "<host>:<pool>/<image>"  (ceph-iscsi splits it at the first
 *            ':' into gateway and image)
 *   metadata pool_name, image_name, image_id (the dashboard matches the
 *            image's librbd perf counters "librbd-<id>-<pool>-<image>"
 *            with it), daemon_type "portal" (the mgr's summary in `ceph
 *            -s` counts "N portals active (M hosts)" by it), daemon_prefix
 *            <host>; librados adds its own (hostname, ceph_version, ...)
 *   status   lock_owner "true"/"false", lock_lost_cnt, conn_lost_cnt,
 *            cmd_timed_out_cnt (ceph-iscsi calls a disk degraded when a
 *            gateway's conn_lost_cnt or cmd_timed_out_cnt moves, or its
 *            lock_lost_cnt by more than its threshold)
 * Both dicts go to librados as "key\0value\0...key\0value\0\0".
 *
 * Nothing here waits for the cluster. rados_service_register on a
 * connected handle stores the metadata and queues the mgr session's open
 * message; rados_service_update_status only stores the dict and marks it
 * dirty, under the mgr client's lock (Ceph's MgrClient): the client sends
 * it with its next report to the mgr, every mgr_stats_period (5 s by
 * default), and beacons keep the registration alive meanwhile (the mgr
 * drops a daemon silent for mgr_service_beacon_grace, 60 s). The daemon
 * leaves the map when the handle shuts down (rados_shutdown tells the mgr
 * and waits for its answer at most mgr_client_service_daemon_unregister_
 * timeout, 1 s).
 *
 * Status: rbd_service_changed() (any thread; the handler calls it from
 * librbd's completion thread as a counter moves) only marks the status
 * dirty and wakes the service's own thread, which reads the figures anew
 * and sends them, at most once every RBD_SERVICE_PERIOD_MS: a change is
 * delayed, never lost, and what is sent is always the latest.
 * Lock order: svc->lock is a leaf, never held across a librados call.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rbd_service.h"
#include "tcmu-runner.h"

#define RBD_SERVICE_NAME "tcmu-runner"
#ifndef RBD_SERVICE_PERIOD_MS		/* (a unit test sets its own) */
#define RBD_SERVICE_PERIOD_MS 3000	/* at most one status update per */
#endif
#define RBD_SERVICE_DICT_MAX 1024	/* bytes of a metadata or status dict */
#define RBD_SERVICE_ID_MAX 64		/* an image id (a dozen hex digits) */

struct rbd_service {
	struct tcmur_device *dev;
	rados_t cluster;
	rbd_service_read_fn read;
	void *arg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
	bool dirty, stop;		/* under lock */
	uint64_t sent_ms;		/* the thread's: when it last sent */
	int last_err;			/* the thread's: last update's result */
};

static uint64_t rbd_service_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* @n key, value pairs as librados's dict into @buf: its length, or
 * -ENOSPC. */
static int rbd_service_dict(char *buf, size_t len, const char *const kv[], size_t n)
{
	size_t off = 0, l;

	for (size_t i = 0; i < 2 * n; i++) {
		l = strlen(kv[i]) + 1;
		if (off + l + 1 > len)
			return -ENOSPC;
		memcpy(buf + off, kv[i], l);
		off += l;
	}
	buf[off++] = '\0';
	return (int)off;
}

/* The thread: send the figures as they are now. */
static void rbd_service_send(struct rbd_service *svc)
{
	struct rbd_service_status st = { 0 };
	char lost[24], conn[24], timed[24], dict[RBD_SERVICE_DICT_MAX];
	const char *kv[] = { "lock_owner", NULL, "lock_lost_cnt", lost,
			     "conn_lost_cnt", conn, "cmd_timed_out_cnt", timed };
	int err;

	svc->read(svc->arg, &st);
	kv[1] = st.lock_owner ? "true" : "false";
	snprintf(lost, sizeof(lost), "%" PRIu64, st.lock_lost);
	snprintf(conn, sizeof(conn), "%" PRIu64, st.conn_lost);
	snprintf(timed, sizeof(timed), "%" PRIu64, st.cmd_timed_out);
	err = rbd_service_dict(dict, sizeof(dict), kv, sizeof(kv) / sizeof(kv[0]) / 2);
	if (err >= 0)
		err = rados_service_update_status(svc->cluster, dict);
	if (err < 0 && err != svc->last_err)
		tcmu_dev_warn(svc->dev, "service map status: %s", strerror(-err));
	svc->last_err = err < 0 ? err : 0;
}

/* The thread: send each change, at most once every RBD_SERVICE_PERIOD_MS,
 * until told to stop. */
static void *rbd_service_thread(void *arg)
{
	struct rbd_service *svc = arg;
	uint64_t due;
	struct timespec ts;

	pthread_mutex_lock(&svc->lock);
	while (!svc->stop) {
		if (!svc->dirty) {
			pthread_cond_wait(&svc->cond, &svc->lock);
			continue;
		}
		due = svc->sent_ms + RBD_SERVICE_PERIOD_MS;
		if (svc->sent_ms && rbd_service_now_ms() < due) {
			ts.tv_sec = (time_t)(due / 1000);
			ts.tv_nsec = (long)(due % 1000) * 1000000;
			pthread_cond_timedwait(&svc->cond, &svc->lock, &ts);
			continue;
		}
		svc->dirty = false;
		pthread_mutex_unlock(&svc->lock);
		rbd_service_send(svc);
		svc->sent_ms = rbd_service_now_ms();
		pthread_mutex_lock(&svc->lock);
	}
	pthread_mutex_unlock(&svc->lock);
	return NULL;
}

/* Register @svc's daemon for @image, @pool/@name. 0 or -errno, logged. */
static int rbd_service_register(struct rbd_service *svc, rbd_image_t image,
				const char *pool, const char *name)
{
	char host[256], id[RBD_SERVICE_ID_MAX], *daemon, meta[RBD_SERVICE_DICT_MAX];
	const char *const kv[] = { "pool_name", pool, "image_name", name, "image_id", id,
				   "daemon_type", "portal", "daemon_prefix", host };
	int err;

	if (gethostname(host, sizeof(host)) < 0) {
		err = -errno;
		tcmu_dev_warn(svc->dev, "service map: host name: %s", strerror(-err));
		return err;
	}
	host[sizeof(host) - 1] = '\0';
	err = rbd_get_id(image, id, sizeof(id));
	if (err < 0) {
		tcmu_dev_warn(svc->dev, "service map: id of image %s/%s: %s", pool, name,
			      strerror(-err));
		return err;
	}
	err = rbd_service_dict(meta, sizeof(meta), kv, sizeof(kv) / sizeof(kv[0]) / 2);
	if (err < 0 || asprintf(&daemon, "%s:%s/%s", host, pool, name) < 0) {
		tcmu_dev_warn(svc->dev, "service map: %s/%s: names too long", pool, name);
		return err < 0 ? err : -ENOMEM;
	}
	err = rados_service_register(svc->cluster, RBD_SERVICE_NAME, daemon, meta);
	if (err < 0)
		tcmu_dev_warn(svc->dev, "service map: register %s %s: %s", RBD_SERVICE_NAME,
			      daemon, strerror(-err));
	else
		tcmu_dev_dbg(svc->dev, "service map: %s %s", RBD_SERVICE_NAME, daemon);
	free(daemon);
	return err;
}

static int rbd_service_sync_init(struct rbd_service *svc)
{
	pthread_condattr_t attr;
	int err;

	err = pthread_condattr_init(&attr);
	if (err)
		return -err;
	err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(&svc->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (err)
		return -err;
	err = pthread_mutex_init(&svc->lock, NULL);
	if (err) {
		pthread_cond_destroy(&svc->cond);
		return -err;
	}
	return 0;
}

static void rbd_service_sync_destroy(struct rbd_service *svc)
{
	pthread_mutex_destroy(&svc->lock);
	pthread_cond_destroy(&svc->cond);
}

int rbd_service_new(struct tcmur_device *dev, rados_t cluster, rbd_image_t image,
		    const char *pool, const char *name, rbd_service_read_fn read,
		    void *arg, struct rbd_service **out)
{
	struct rbd_service *svc = malloc(sizeof(*svc));
	int err = -ENOMEM;

	if (!svc)
		goto out;
	*svc = (struct rbd_service){ .dev = dev, .cluster = cluster, .read = read,
				     .arg = arg };
	err = rbd_service_sync_init(svc);
	if (err)
		goto out_free;
	err = -pthread_create(&svc->thread, NULL, rbd_service_thread, svc);
	if (err)
		goto out_sync;
	err = rbd_service_register(svc, image, pool, name);
	if (err) {
		rbd_service_free(svc);
		return err;
	}
	rbd_service_changed(svc);	/* the first status, at once */
	*out = svc;
	return 0;

out_sync:
	rbd_service_sync_destroy(svc);
out_free:
	free(svc);
out:
	tcmu_dev_warn(dev, "service map: status thread: %s", strerror(-err));
	return err;
}

/* Raise @flag (svc->dirty or svc->stop) and wake the thread. */
static void rbd_service_wake(struct rbd_service *svc, bool *flag)
{
	pthread_mutex_lock(&svc->lock);
	*flag = true;
	pthread_cond_signal(&svc->cond);
	pthread_mutex_unlock(&svc->lock);
}

void rbd_service_changed(struct rbd_service *svc)
{
	if (svc)
		rbd_service_wake(svc, &svc->dirty);
}

void rbd_service_free(struct rbd_service *svc)
{
	if (!svc)
		return;
	rbd_service_wake(svc, &svc->stop);
	pthread_join(svc->thread, NULL);
	rbd_service_sync_destroy(svc);
	free(svc);
}
