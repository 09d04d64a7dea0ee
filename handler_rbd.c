/*
 * handler_rbd: a LUN backed by a Ceph RBD image, through librbd's C API.
 * Config string: "rbd/<pool>/<image>[;osd_op_timeout=N][;conf=<path>]
 * [;id=<client id>]" (ceph-iscsi's options). The image must exist and hold
 * at least the LUN's size. N (seconds, default 30) bounds every wait on
 * the cluster: librados's OSD and monitor op timeouts and the connect
 * (client_mount_timeout); without them librbd waits forever on a dead OSD
 * or monitor. A timed-out op fails its command with -ETIMEDOUT, which the
 * daemon turns into a retryable NOT READY.
 * Data moves straight between the kernel's ring and librbd: reads and
 * writes are rbd_aio_readv/rbd_aio_writev on the command's iovec, flush
 * rbd_aio_flush, UNMAP rbd_aio_discard; each completes from librbd's
 * callback thread with tcmur_cmd_complete(). Submission does not wait for
 * the cluster, so reads, writes and flushes run inline on the device's own
 * thread (inline_io), many in flight at once.
 * Known limit (measured, tests/host/test_rbd.sh's cluster): an OSD killed
 * under writes fails them after osd_op_timeout with -ETIMEDOUT, as meant;
 * but writes queued behind librbd's exclusive-lock acquisition (an image
 * whose previous owner died holding the lock, then the OSD lost) are not
 * bounded by it: librbd retries the lock and they waited ~70 s, until the
 * OSD was back. A deadline of the handler's own is still to come.
 * librbd's cache is left as configured (by default writethrough until
 * the first flush, then writeback; SYNCHRONIZE CACHE is rbd_aio_flush,
 * and with the write cache off the daemon flushes after each write).
 * WRITE SAME is rbd_aio_writesame; COMPARE AND WRITE is
 * rbd_aio_compare_and_write, atomic on the OSD and so across gateways;
 * librbd 16 takes one 512-byte sector, so the LUN reports a MAXIMUM
 * COMPARE AND WRITE LENGTH of one block (none with 4096-byte blocks).
 * A blocklisted client (ESHUTDOWN: another gateway broke our lock, or an
 * admin) fails its commands retryable and asks the daemon to reopen the
 * device (API 1.4 tcmur_dev_reopen): a new client, a new connection.
 * Health (API 1.4): lock ownership, locks acquired and lost, ops timed
 * out, connections lost. The exclusive lock is librbd's own: taken for a
 * write, handed to another client that asks.
 * The Ceph service map (rbd_service.c): each open registers the image as
 * a daemon of service tcmu-runner, as the established daemon does, for
 * ceph-iscsi, the dashboard and `ceph -s`, and its status follows the
 * health figures as they change (rate-limited, off librbd's thread); a
 * reopen registers the new client again. A failed registration is
 * logged and the LUN serves all the same.
 * ALUA (API 1.5, lock_owner): REPORT TARGET PORT GROUPS says ACTIVE/
 * OPTIMIZED through the gateway whose client holds the exclusive lock,
 * STANDBY (ACTIVE/NON-OPTIMIZED for a group without standby) through the
 * others, and the configfs state while nobody holds it (before the first
 * write). Supported multipath setup: Ceph's documented one for LIO-ORG
 * TCMU devices (dm-multipath, hardware_handler "1 alua", failover path
 * grouping, prio alua): the initiator writes through one gateway at a
 * time, and the path it fails over to takes the lock with its first
 * write (librbd hands it over on request: one move, no ping-pong while
 * the initiator stays on its path). Not supported: active/active
 * (multibus, round-robin over gateways: every switch moves the lock,
 * each write may wait for a hand-over); SET TARGET PORT GROUPS moving the
 * lock (it sets the configfs state only; the lock follows writes); the
 * kernel enforcing the lock-derived states (it enforces configfs's).
 * Two gateways on one machine (tests/vm/test_rbd.sh) are two daemons that
 * split the devices with --devices, each with its own client.
 * Not yet (issue 19): a deadline of our own for writes waiting on lock
 * reacquisition.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "rbd_service.h"
#include "scsi_defs.h"
#include "tcmu-runner.h"

#define RBD_DEFAULT_TIMEOUT 30		/* seconds */
#define RBD_LOCK_NOTE_MS 100		/* see rbdh_lock_note */
#define RBD_MAX_TIMEOUT 3600
/* check_config runs with no device and before the LUN exists: never
 * longer than this, whatever osd_op_timeout says. */
#define RBD_CHECK_TIMEOUT 10

/* A parsed config string; the strings point into buf. */
struct rbd_cfg {
	char *buf;
	const char *pool, *image;
	const char *conf;	/* NULL: $CEPH_CONF or librados's defaults */
	const char *id;		/* client id without "client." (NULL: admin) */
	unsigned int timeout;	/* seconds */
};

struct rbd_dev {
	rados_t cluster;
	rados_ioctx_t io;
	rbd_image_t image;
	uint64_t stripe_unit;	/* bytes (for compare-and-write's miscompare) */
	/* Health (atomic): whether we held the exclusive lock when last
	 * seen, around writes; its gains and losses; ops that timed out;
	 * ops refused for a lost connection (blocklisted, shut down). */
	int lock_owner;
	struct rbd_health {
		uint64_t locks_acquired, locks_lost, timed_out, conn_lost;
	} health;
	int reopen_asked;	/* tcmur_dev_reopen called for this connection */
	struct rbd_service *svc;	/* in the service map (NULL: not) */
	uint64_t lock_noted_ms;	/* CLOCK_MONOTONIC_COARSE of the last look */
	/* aio submitted, callback not yet past its last touch of us
	 * (atomic): close waits for 0 before freeing librbd's state. */
	unsigned int inflight;
};

/* One aio in flight; freed by its callback. */
struct rbd_aio {
	struct tcmur_device *dev;
	struct rbd_dev *rdev;
	struct tcmur_cmd *cmd;
	const char *op;
	uint64_t offset, len;
	bool write;
	char *bounce;		/* write-same's block, compare-and-write's halves */
	uint64_t mismatch;	/* compare-and-write: librbd's miscompare offset */
};

enum rbd_op {
	RBD_OP_READ, RBD_OP_WRITE, RBD_OP_FLUSH, RBD_OP_DISCARD, RBD_OP_WRITE_SAME,
	RBD_OP_CAW,
};

static const char *const rbd_op_name[] = {
	"read", "write", "flush", "discard", "write same", "compare and write",
};

static void rbdh_cfg_free(struct rbd_cfg *c)
{
	free(c->buf);
	c->buf = NULL;
}

/* One ";key=value" option into @c; 0 or -EINVAL with *why set. */
static int rbdh_cfg_option(struct rbd_cfg *c, char *opt, const char **why)
{
	char *val = strchr(opt, '='), *end;
	unsigned long n;

	if (!val || val == opt || !val[1]) {
		*why = "options are ;key=value";
		return -EINVAL;
	}
	*val++ = '\0';
	if (!strcmp(opt, "osd_op_timeout")) {
		errno = 0;
		n = strtoul(val, &end, 10);
		if (errno || *end || n == 0 || n > RBD_MAX_TIMEOUT) {
			*why = "osd_op_timeout must be 1..3600 seconds";
			return -EINVAL;
		}
		c->timeout = n;
	} else if (!strcmp(opt, "conf")) {
		c->conf = val;
	} else if (!strcmp(opt, "id")) {
		c->id = strncmp(val, "client.", 7) ? val : val + 7;
		if (!*c->id) {
			*why = "empty client id";
			return -EINVAL;
		}
	} else {
		*why = "unknown option (known: osd_op_timeout, conf, id)";
		return -EINVAL;
	}
	return 0;
}

/* "<pool>/<image>[;opt=val]..." into @c (rbdh_cfg_free it); 0 or -errno
 * with *why set. */
static int rbdh_cfg_parse(const char *cfg, struct rbd_cfg *c, const char **why)
{
	char *opts, *slash, *opt, *save;

	memset(c, 0, sizeof(*c));
	c->timeout = RBD_DEFAULT_TIMEOUT;
	if (!cfg || !*cfg) {
		*why = "no <pool>/<image>";
		return -EINVAL;
	}
	c->buf = strdup(cfg);
	if (!c->buf) {
		*why = "out of memory";
		return -ENOMEM;
	}
	opts = strchr(c->buf, ';');
	if (opts)
		*opts++ = '\0';
	slash = strchr(c->buf, '/');
	if (!slash || slash == c->buf || !slash[1] || strchr(slash + 1, '/')) {
		*why = "expected <pool>/<image>";
		goto out_free;
	}
	*slash = '\0';
	c->pool = c->buf;
	c->image = slash + 1;
	for (opt = opts ? strtok_r(opts, ";", &save) : NULL; opt;
	     opt = strtok_r(NULL, ";", &save))
		if (rbdh_cfg_option(c, opt, why))
			goto out_free;
	return 0;

out_free:
	rbdh_cfg_free(c);
	return -EINVAL;
}

/*
 * Connect to the cluster @c names, every wait bounded by @timeout
 * seconds. Returns 0 and *cl, or -errno with *step naming what failed.
 */
static int rbdh_connect(const struct rbd_cfg *c, unsigned int timeout, rados_t *cl,
		       const char **step)
{
	static const char *const knobs[] = { "rados_osd_op_timeout",
					     "rados_mon_op_timeout",
					     "client_mount_timeout" };
	char secs[16];
	int err;

	*step = "rados_create";
	err = rados_create(cl, c->id ? c->id : "admin");
	if (err < 0)
		return err;
	*step = "read ceph config";
	err = rados_conf_read_file(*cl, c->conf);
	if (err < 0)
		goto out_shutdown;
	/* $CEPH_ARGS, as the ceph tools take it; our timeouts win. */
	*step = "parse CEPH_ARGS";
	err = rados_conf_parse_env(*cl, NULL);
	if (err < 0)
		goto out_shutdown;
	snprintf(secs, sizeof(secs), "%u", timeout);
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		*step = knobs[i];
		err = rados_conf_set(*cl, knobs[i], secs);
		if (err < 0)
			goto out_shutdown;
	}
	/* librbd's own write-back cache off, whatever ceph.conf says: the
	 * LUN's write cache is the kernel's WCE bit, honoured with flushes,
	 * and a write librbd has acknowledged is then on the OSDs. With it
	 * on, a write acknowledged after the first flush could sit in this
	 * process's memory and die with it (a crash, a gateway failover). */
	*step = "rbd_cache";
	err = rados_conf_set(*cl, "rbd_cache", "false");
	if (err < 0)
		goto out_shutdown;
	*step = "rados_connect";
	err = rados_connect(*cl);
	if (err < 0)
		goto out_shutdown;
	return 0;

out_shutdown:
	rados_shutdown(*cl);
	return err;
}

static bool rbdh_check_config(const char *cfg, char **reason)
{
	struct rbd_cfg c;
	const char *why = NULL, *step = NULL;
	rados_t cl;
	rados_ioctx_t io;
	rbd_image_t img;
	int err;

	err = rbdh_cfg_parse(cfg, &c, &why);
	if (err)
		goto out;
	err = rbdh_connect(&c, c.timeout < RBD_CHECK_TIMEOUT ? c.timeout : RBD_CHECK_TIMEOUT,
			  &cl, &step);
	if (err)
		goto out_cfg;
	step = "pool";
	err = rados_ioctx_create(cl, c.pool, &io);
	if (err < 0)
		goto out_shutdown;
	step = "image";
	err = rbd_open_read_only(io, c.image, &img, NULL);
	if (!err)
		rbd_close(img);
	rados_ioctx_destroy(io);
out_shutdown:
	rados_shutdown(cl);
out_cfg:
	if (err && reason &&
	    asprintf(reason, "%s/%s (conf %s, client.%s): %s: %s", c.pool, c.image,
		     c.conf ? c.conf : "default", c.id ? c.id : "admin", step,
		     strerror(-err)) < 0)
		*reason = NULL;
	rbdh_cfg_free(&c);
	return !err;
out:
	if (reason && asprintf(reason, "%s: %s", cfg ? cfg : "(none)", why) < 0)
		*reason = NULL;
	return false;
}

/* Forget the connection, keeping the health figures: they count over the
 * device's life, across the reopens a blocklisted client asks for. */
static void rbdh_forget(struct rbd_dev *rdev)
{
	struct rbd_health keep = rdev->health;

	memset(rdev, 0, sizeof(*rdev));
	rdev->health = keep;
}

/* rbd_service's thread: the status as the health figures say now. */
static void rbdh_service_read(void *arg, struct rbd_service_status *out)
{
	struct rbd_dev *rdev = arg;

	out->lock_owner = __atomic_load_n(&rdev->lock_owner, __ATOMIC_RELAXED);
	out->lock_lost = __atomic_load_n(&rdev->health.locks_lost, __ATOMIC_RELAXED);
	out->conn_lost = __atomic_load_n(&rdev->health.conn_lost, __ATOMIC_RELAXED);
	out->cmd_timed_out = __atomic_load_n(&rdev->health.timed_out, __ATOMIC_RELAXED);
}

static int rbdh_open_dev(struct tcmur_device *dev, bool reopen)
{
	struct rbd_dev *rdev = tcmur_dev_private(dev);
	const char *why = NULL, *step = NULL;
	struct rbd_cfg c;
	uint64_t size;
	int err;

	(void)reopen;
	rdev->reopen_asked = 0;
	err = rbdh_cfg_parse(tcmur_dev_config(dev), &c, &why);
	if (err) {
		tcmu_dev_err(dev, "config %s: %s", tcmur_dev_config(dev), why);
		return err;
	}
	err = rbdh_connect(&c, c.timeout, &rdev->cluster, &step);
	if (err) {
		tcmu_dev_err(dev, "%s (conf %s, client.%s): %s", step,
			     c.conf ? c.conf : "default", c.id ? c.id : "admin",
			     strerror(-err));
		goto out_cfg;
	}
	err = rados_ioctx_create(rdev->cluster, c.pool, &rdev->io);
	if (err < 0) {
		tcmu_dev_err(dev, "open pool %s: %s", c.pool, strerror(-err));
		goto out_shutdown;
	}
	err = rbd_open(rdev->io, c.image, &rdev->image, NULL);
	if (err < 0) {
		tcmu_dev_err(dev, "open image %s/%s: %s", c.pool, c.image, strerror(-err));
		goto out_ioctx;
	}
	err = rbd_get_size(rdev->image, &size);
	if (err < 0) {
		tcmu_dev_err(dev, "size of image %s/%s: %s", c.pool, c.image, strerror(-err));
		goto out_image;
	}
	if (size < tcmur_dev_size(dev)) {
		tcmu_dev_err(dev, "image %s/%s holds %llu bytes, less than the LUN's %llu: "
			     "grow it (rbd resize) or make the LUN smaller", c.pool, c.image,
			     (unsigned long long)size,
			     (unsigned long long)tcmur_dev_size(dev));
		err = -ENOSPC;
		goto out_image;
	}
	if (rbd_get_stripe_unit(rdev->image, &rdev->stripe_unit) < 0 || !rdev->stripe_unit)
		rdev->stripe_unit = 4 << 20;
	tcmu_dev_dbg(dev, "opened %s/%s (%llu bytes, timeouts %u s)", c.pool, c.image,
		     (unsigned long long)size, c.timeout);
	/* Logged if it fails; the LUN serves without it (svc NULL). */
	rbd_service_new(dev, rdev->cluster, rdev->image, c.pool, c.image, rbdh_service_read,
			rdev, &rdev->svc);
	rbdh_cfg_free(&c);
	return 0;

out_image:
	rbd_close(rdev->image);
out_ioctx:
	rados_ioctx_destroy(rdev->io);
out_shutdown:
	rados_shutdown(rdev->cluster);
out_cfg:
	rbdh_cfg_free(&c);
	rbdh_forget(rdev);
	return err;
}

static void rbdh_close_dev(struct tcmur_device *dev)
{
	struct rbd_dev *rdev = tcmur_dev_private(dev);
	unsigned int waited = 0;

	if (!rdev->cluster)
		return;
	/* The daemon has seen every command complete; a callback may still
	 * be on its way out of our code. */
	while (__atomic_load_n(&rdev->inflight, __ATOMIC_ACQUIRE)) {
		if (++waited == 1000)
			tcmu_dev_warn(dev, "%u aio still in flight at close",
				      __atomic_load_n(&rdev->inflight, __ATOMIC_RELAXED));
		usleep(1000);
	}
	rbd_service_free(rdev->svc);
	rbd_close(rdev->image);
	rados_ioctx_destroy(rdev->io);
	rados_shutdown(rdev->cluster);
	rbdh_forget(rdev);
}

/* A new config string means another image: the daemon reopens. A new
 * size must still fit in the image; the write cache needs nothing. */
static int rbdh_reconfig(struct tcmur_device *dev, const struct tcmur_reconfig *rc)
{
	struct rbd_dev *rdev = tcmur_dev_private(dev);
	uint64_t size;
	int err;

	if (rc->has_config)
		return -EOPNOTSUPP;
	if (!rc->has_size)
		return 0;
	err = rbd_get_size(rdev->image, &size);
	if (err < 0) {
		tcmu_dev_err(dev, "image size: %s", strerror(-err));
		return err;
	}
	if (size < rc->size) {
		tcmu_dev_err(dev, "image holds %llu bytes, less than the new size %llu",
			     (unsigned long long)size, (unsigned long long)rc->size);
		return -ENOSPC;
	}
	return 0;
}

/*
 * Compare-and-write's miscompare. Where librbd says the first differing
 * byte is: at its image offset (as documented), or, measured with librbd
 * 16, at its offset from the compare's start taken as an offset in the
 * compare's stripe unit (the image offset when the compare starts there).
 */
static tcmu_sts rbdh_miscompare(struct rbd_aio *a)
{
	uint64_t su_start = a->offset - a->offset % a->rdev->stripe_unit;

	if (a->mismatch >= a->offset && a->mismatch < a->offset + a->len)
		return tcmur_cmd_miscompare(a->cmd, a->mismatch - a->offset);
	if (a->mismatch >= su_start && a->mismatch < su_start + a->len)
		return tcmur_cmd_miscompare(a->cmd, a->mismatch - su_start);
	tcmu_dev_warn(a->dev, "%s %llu bytes at %llu: miscompare at %llu, outside it",
		      a->op, (unsigned long long)a->len, (unsigned long long)a->offset,
		      (unsigned long long)a->mismatch);
	return tcmur_cmd_miscompare(a->cmd, 0);
}

/*
 * Note whether we hold the image's exclusive lock now, counting each
 * change: librbd takes it for a write and hands it to another client
 * (another gateway) that asks. Seen when the health figures are asked
 * for, and after writes at most every RBD_LOCK_NOTE_MS (asking librbd
 * takes its locks: per write, it cost small random writes half their
 * speed), so a lock that moves back and forth faster than that between
 * two looks is not counted.
 */
static void rbdh_lock_note(struct rbd_dev *rdev)
{
	int owner = 0, was;

	if (rbd_is_exclusive_lock_owner(rdev->image, &owner) < 0)
		return;
	owner = !!owner;
	was = __atomic_exchange_n(&rdev->lock_owner, owner, __ATOMIC_RELAXED);
	if (owner == was)
		return;
	if (owner)
		__atomic_add_fetch(&rdev->health.locks_acquired, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&rdev->health.locks_lost, 1, __ATOMIC_RELAXED);
	rbd_service_changed(rdev->svc);
}

static void rbdh_lock_note_io(struct rbd_dev *rdev)
{
	struct timespec ts;
	uint64_t now, last;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	last = __atomic_load_n(&rdev->lock_noted_ms, __ATOMIC_RELAXED);
	if (now - last < RBD_LOCK_NOTE_MS ||
	    !__atomic_compare_exchange_n(&rdev->lock_noted_ms, &last, now, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	rbdh_lock_note(rdev);
}

static void rbdh_count_error(struct rbd_dev *rdev, ssize_t r)
{
	if (r == -ETIMEDOUT)
		__atomic_add_fetch(&rdev->health.timed_out, 1, __ATOMIC_RELAXED);
	else if (r == -ESHUTDOWN || r == -ENOTCONN)	/* ESHUTDOWN: blocklisted */
		__atomic_add_fetch(&rdev->health.conn_lost, 1, __ATOMIC_RELAXED);
	else
		return;
	rbd_service_changed(rdev->svc);
}

/* librbd's thread: the aio ended. The last touch of rdev is the
 * decrement that lets close go on. */
static void rbdh_aio_done(rbd_completion_t comp, void *arg)
{
	struct rbd_aio *a = arg;
	struct rbd_dev *rdev = a->rdev;
	ssize_t r = rbd_aio_get_return_value(comp);
	tcmu_sts sts = TCMU_STS_GOOD;

	rbd_aio_release(comp);
	if (r == -EILSEQ && a->op == rbd_op_name[RBD_OP_CAW]) {
		sts = rbdh_miscompare(a);
	} else if (r < 0) {
		if (r == -ETIMEDOUT)
			tcmu_dev_warn(a->dev, "%s %llu bytes at %llu: timed out", a->op,
				      (unsigned long long)a->len,
				      (unsigned long long)a->offset);
		else
			tcmu_dev_err(a->dev, "%s %llu bytes at %llu: %s", a->op,
				     (unsigned long long)a->len,
				     (unsigned long long)a->offset, strerror((int)-r));
		sts = tcmur_cmd_errno(a->cmd, (int)r, a->write);
	}
	if (r < 0)
		rbdh_count_error(rdev, r);
	else if (a->write && a->op != rbd_op_name[RBD_OP_FLUSH])
		rbdh_lock_note_io(rdev);
	/* Blocklisted (another gateway broke our lock, or an admin): this
	 * client is dead for good; a new one, after a reopen, is not. */
	if (r == -ESHUTDOWN && !__atomic_exchange_n(&rdev->reopen_asked, 1, __ATOMIC_RELAXED))
		tcmur_dev_reopen(a->dev, "the cluster refuses this client (blocklisted): "
				 "reconnecting");
	tcmur_cmd_complete(a->dev, a->cmd, sts);
	free(a->bounce);
	free(a);
	__atomic_sub_fetch(&rdev->inflight, 1, __ATOMIC_RELEASE);
}

/*
 * librbd takes write-same's pattern and compare-and-write's two halves
 * as flat buffers: copy them out of the command's iovec (one block, and
 * at most twice the compare-and-write limit). 0 or -ENOMEM.
 */
static int rbdh_bounce(struct tcmur_device *dev, struct rbd_aio *a, enum rbd_op op,
		       const struct iovec *iov, size_t iov_cnt)
{
	size_t n = op == RBD_OP_WRITE_SAME ? tcmur_dev_block_size(dev)
		 : op == RBD_OP_CAW ? 2 * a->len : 0;

	if (!n)
		return 0;
	a->bounce = malloc(n);
	if (!a->bounce)
		return -ENOMEM;
	if (tcmu_iov_to_buf(a->bounce, n, iov, iov_cnt) != n)
		return -EINVAL;		/* the daemon checked the length */
	return 0;
}

/*
 * Start @op; librbd's submission queues and returns, so this is fine on
 * the device's own thread (cmd->nowait). TCMU_STS_ASYNC, or the status
 * of a submission that failed.
 */
static tcmu_sts rbdh_submit(struct tcmur_device *dev, struct tcmur_cmd *cmd, enum rbd_op op,
			   struct iovec *iov, size_t iov_cnt, uint64_t len, uint64_t offset)
{
	struct rbd_dev *rdev = tcmur_dev_private(dev);
	bool write = op != RBD_OP_READ;
	rbd_completion_t comp;
	struct rbd_aio *a;
	int err;

	if (op == RBD_OP_READ || op == RBD_OP_WRITE) {
		iov_cnt = tcmu_iov_trim(iov, iov_cnt, len);
		if (iov_cnt > IOV_MAX) {
			tcmu_dev_err(dev, "%s %llu bytes in %zu buffers: librbd takes at most %d",
				     rbd_op_name[op], (unsigned long long)len, iov_cnt, IOV_MAX);
			return tcmur_cmd_sense(cmd, SENSE_HARDWARE_ERROR,
					       ASC_INTERNAL_TARGET_FAILURE);
		}
	}
	a = malloc(sizeof(*a));
	if (!a)
		return tcmur_cmd_errno(cmd, -ENOMEM, write);
	*a = (struct rbd_aio){ .dev = dev, .rdev = rdev, .cmd = cmd, .op = rbd_op_name[op],
			       .offset = offset, .len = len, .write = write };
	err = rbdh_bounce(dev, a, op, iov, iov_cnt);
	if (err < 0)
		goto out_free;
	err = rbd_aio_create_completion(a, rbdh_aio_done, &comp);
	if (err < 0)
		goto out_free;
	__atomic_add_fetch(&rdev->inflight, 1, __ATOMIC_RELAXED);
	switch (op) {
	case RBD_OP_READ:
		err = rbd_aio_readv(rdev->image, iov, (int)iov_cnt, offset, comp);
		break;
	case RBD_OP_WRITE:
		err = rbd_aio_writev(rdev->image, iov, (int)iov_cnt, offset, comp);
		break;
	case RBD_OP_FLUSH:
		err = rbd_aio_flush(rdev->image, comp);
		break;
	case RBD_OP_DISCARD:
		err = rbd_aio_discard(rdev->image, offset, len, comp);
		break;
	case RBD_OP_WRITE_SAME:
		err = rbd_aio_writesame(rdev->image, offset, len, a->bounce,
					tcmur_dev_block_size(dev), comp, 0);
		break;
	case RBD_OP_CAW:
		err = (int)rbd_aio_compare_and_write(rdev->image, offset, len, a->bounce,
						     a->bounce + len, comp, &a->mismatch, 0);
		break;
	}
	if (err >= 0)
		return TCMU_STS_ASYNC;
	__atomic_sub_fetch(&rdev->inflight, 1, __ATOMIC_RELAXED);
	rbd_aio_release(comp);
out_free:
	free(a->bounce);
	free(a);
	tcmu_dev_err(dev, "%s %llu bytes at %llu: submit: %s", rbd_op_name[op],
		     (unsigned long long)len, (unsigned long long)offset, strerror(-err));
	return tcmur_cmd_errno(cmd, err, write);
}

static tcmu_sts rbdh_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			 struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	return rbdh_submit(dev, cmd, RBD_OP_READ, iov, iov_cnt, len, offset);
}

static tcmu_sts rbdh_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			  struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	return rbdh_submit(dev, cmd, RBD_OP_WRITE, iov, iov_cnt, len, offset);
}

static tcmu_sts rbdh_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	return rbdh_submit(dev, cmd, RBD_OP_FLUSH, NULL, 0, 0, 0);
}

static tcmu_sts rbdh_unmap(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			  uint64_t offset, uint64_t len)
{
	return rbdh_submit(dev, cmd, RBD_OP_DISCARD, NULL, 0, len, offset);
}

static tcmu_sts rbdh_write_same(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			       struct iovec *iov, size_t iov_cnt, size_t len,
			       uint64_t offset)
{
	return rbdh_submit(dev, cmd, RBD_OP_WRITE_SAME, iov, iov_cnt, len, offset);
}

/* Atomic on the OSD, so against every gateway's writes. */
static tcmu_sts rbdh_compare_and_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
				       struct iovec *iov, size_t iov_cnt, size_t len,
				       uint64_t offset)
{
	return rbdh_submit(dev, cmd, RBD_OP_CAW, iov, iov_cnt, len, offset);
}

/* librbd 16 (Debian 12) refuses a compare-and-write that leaves one
 * 512-byte sector (later ones take a stripe unit): one block of a
 * 512-byte LUN, none of a 4096-byte one. */
static uint32_t rbdh_compare_and_write_max(struct tcmur_device *dev)
{
	(void)dev;
	return 512;
}

/* librbd skips discards smaller than its granularity (rbd_skip_partial_
 * discard): unmapped blocks need not read back as zeros. */
static bool rbdh_unmap_zeroes(struct tcmur_device *dev)
{
	(void)dev;
	return false;
}

/*
 * API 1.5: who holds the image's exclusive lock, for REPORT TARGET PORT
 * GROUPS (an I/O thread; a multipath checker asks every few seconds per
 * path, never per I/O). Ours as librbd says (noted as for health);
 * otherwise the cluster's list of owners, one round trip bounded by
 * osd_op_timeout: another client's, or nobody's.
 */
static enum tcmur_lock_owner rbdh_lock_owner(struct tcmur_device *dev)
{
	struct rbd_dev *rdev = tcmur_dev_private(dev);
	rbd_lock_mode_t mode;
	char *owners[4];
	size_t n = sizeof(owners) / sizeof(owners[0]);
	int err;

	if (!rdev->image)
		return TCMUR_LOCK_NONE;
	rbdh_lock_note(rdev);
	if (__atomic_load_n(&rdev->lock_owner, __ATOMIC_RELAXED))
		return TCMUR_LOCK_OURS;
	err = rbd_lock_get_owners(rdev->image, &mode, owners, &n);
	if (err == -ENOENT)
		return TCMUR_LOCK_NONE;
	if (err == -ERANGE)		/* more owners than we asked for */
		return TCMUR_LOCK_THEIRS;
	if (err < 0) {
		tcmu_dev_warn(dev, "lock owners of the image: %s", strerror(-err));
		return TCMUR_LOCK_NONE;
	}
	rbd_lock_get_owners_cleanup(owners, n);
	return n ? TCMUR_LOCK_THEIRS : TCMUR_LOCK_NONE;
}

static unsigned int rbdh_health(struct tcmur_device *dev, struct tcmur_health *out,
				unsigned int max)
{
	struct rbd_dev *rdev = tcmur_dev_private(dev);
	const struct { const char *name; uint64_t *v; } c[] = {
		{ "locks_acquired", &rdev->health.locks_acquired },
		{ "locks_lost", &rdev->health.locks_lost },
		{ "ops_timed_out", &rdev->health.timed_out },
		{ "connections_lost", &rdev->health.conn_lost },
	};
	unsigned int n = 0;

	if (!rdev->image || max < 1)
		return 0;
	rbdh_lock_note(rdev);		/* a lock lost since the last write counts now */
	snprintf(out[n].name, sizeof(out[n].name), "lock_owner");
	out[n++].value = __atomic_load_n(&rdev->lock_owner, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < sizeof(c) / sizeof(c[0]) && n < max; i++, n++) {
		snprintf(out[n].name, sizeof(out[n].name), "%s", c[i].name);
		out[n].value = __atomic_load_n(c[i].v, __ATOMIC_RELAXED);
	}
	return n;
}

TCMUR_REGISTER_HANDLER(
	.name = "Ceph RBD image (librbd)",
	.subtype = "rbd",
	.cfg_desc = "<pool>/<image>[;osd_op_timeout=N][;conf=<path>][;id=<client id>]: "
		    "an existing RBD image at least as large as the LUN. N seconds "
		    "(default 30) bound every wait on the cluster; conf defaults to "
		    "$CEPH_CONF or /etc/ceph/ceph.conf, id to admin.",
	.dev_private_size = sizeof(struct rbd_dev),
	.thread_model = TCMUR_THREAD_PARALLEL,
	.nr_threads = 4,
	.check_config = rbdh_check_config,
	.open = rbdh_open_dev,
	.close = rbdh_close_dev,
	.reconfig = rbdh_reconfig,
	.read = rbdh_read,
	.write = rbdh_write,
	.flush = rbdh_flush,
	.unmap = rbdh_unmap,
	.unmap_zeroes = rbdh_unmap_zeroes,
	.inline_io = true,	/* aio submission never waits for the cluster */
	/* COMPARE AND WRITE must be the OSD's, never a read and a write. */
	.needs_api_minor = 4,
	.write_same = rbdh_write_same,
	.compare_and_write = rbdh_compare_and_write,
	.compare_and_write_max = rbdh_compare_and_write_max,
	.health = rbdh_health,
	.lock_owner = rbdh_lock_owner,
);
