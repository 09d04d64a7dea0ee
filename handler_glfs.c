/*
 * handler_glfs: a LUN backed by a file on a GlusterFS volume, through
 * libgfapi (no FUSE mount).
 * Config string (glfs_cfg.h): "glfs/<volume>@<host>[:port][,<host2>
 * [:port]...]/<path>[;ping_timeout=N][;create]"; the hosts are glusterd's
 * volfile servers (port 24007 by default), tried in turn; <path> is the
 * image file, from the volume's root; ping_timeout (glfs_ping.h) is our
 * connection's, in seconds (10 by default, whatever the volume sets), or
 * "volume" for the volume's network.ping-timeout.
 * The image file: if it exists it must hold at least the LUN's size
 * (tcmur_dev_size), else open refuses it; a larger file serves its first
 * size bytes. Never a blank disk: a missing image is made (sparse, at
 * exactly the LUN's size, in a directory that must exist) only when the
 * config says ;create, and only by the LUN's first open (reopen false),
 * never by a reopen; once made, ;create leaves the LUN's config (API 1.7,
 * tcmur_dev_set_config), so a restore at boot never makes it again. Else
 * open refuses it, saying why: a renamed or
 * removed image, a typo or a volume that briefly answers ENOENT must not
 * become an empty disk the initiator writes its file system on. An image
 * removed or renamed while the LUN is served: our fd still reaches the
 * file (an unlinked one until we close it, a renamed one as it is), so
 * I/O goes on, or fails with MEDIUM ERROR once gfapi cannot open the fd
 * again after a reconnect (the brick dropped the unlinked file); the
 * next reopen fails and the daemon answers NOT READY, MANUAL
 * INTERVENTION REQUIRED until the image is back. check_config refuses a
 * volume or host that does not answer, a path that is a directory, a
 * missing file without ;create and, with it, one whose directory is
 * missing, each with the reason.
 * Data moves straight between the kernel's ring and gfapi: reads and
 * writes are glfs_preadv_async/glfs_pwritev_async on the command's iovec,
 * SYNCHRONIZE CACHE glfs_fdatasync_async, a FUA write its write and then
 * an fdatasync, UNMAP glfs_discard_async (the brick punches a hole, which
 * reads back as zeros; open tries one past the file's end, and a brick
 * that cannot gets no UNMAP). Each completes on a gfapi thread with
 * tcmur_cmd_complete(); submission does not wait for the volume, so I/O
 * runs inline on the device's own thread (inline_io). WRITE SAME (API
 * 1.4) is glfs_pwritev_async of up to 1024 iovecs that all name the one
 * block, piece after piece: no buffer the size of the range.
 * Health (API 1.4, in GetStats as glfs.*): commands failed, those failed
 * for a lost connection, fdatasync failures, and the current run of
 * failures (non-zero while the volume is away).
 * Durability: gfapi's client graph has write-behind, which acknowledges a
 * write before the brick has it and loses it if the brick dies (tests/
 * host/test_glfs.sh shows it). We set write-behind's pass-through option
 * on our connection, whatever the volume says: every write completes only
 * once a brick answered it. After a failed fdatasync, a flush is reported
 * good only if its own fdatasync started after that failure and succeeded.
 * Connections (glfs_conn.h): one glfs_t per (volume, host list,
 * ping_timeout), shared by the devices that use it, made within a bound
 * and finied off-thread once the last device went. gfapi's log goes to
 * $TCMU_GLFS_LOG (default /dev/null).
 * A frozen brick (glfs_ping.h): gfapi fails the commands waiting on it
 * within twice the connection's ping-timeout, which we set (10 s unless
 * the config says otherwise) below the kernel's default cmd_time_out of
 * 30 s; the ping-timeout in force is read back from the client volfile
 * when the volume's is kept, shown as the health figure ping_timeout_s,
 * and open warns, naming the device, when its bound is not below the
 * device's own cmd_time_out (API 1.6, tcmur_dev_cmd_time_out).
 * Not yet: abort (gfapi cannot cancel), IPv6 hosts, lba_status
 * (SEEK_DATA).
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glusterfs/api/glfs.h>

#include "glfs_cfg.h"
#include "glfs_conn.h"
#include "glfs_ping.h"
#include "scsi_defs.h"
#include "tcmu-runner.h"

#define GLFS_CHECK_TIMEOUT 10		/* seconds for glfs_init in check_config */
#define GLFS_OPEN_TIMEOUT 30		/* and in open */

struct glfs_dev {
	struct glfs_conn *conn;
	glfs_fd_t *fd;
	/* aio submitted, callback not yet past its last touch of us
	 * (atomic): close waits for 0 before closing the fd. */
	unsigned int inflight;
	/* Bumped by each failed fdatasync (atomic); see glfsh_sync_done. */
	unsigned int sync_failures;
	/* Commands failed since the last that succeeded (atomic): only the
	 * first of a run is logged, and its end. */
	unsigned int failed_run;
	bool can_unmap;			/* the brick punched a hole at open */
	/* Health (atomic): commands failed; of those, failed for a lost
	 * connection to the volume (a brick gone, frozen or unreachable). */
	uint64_t failed_cmds, conn_errors;
};

enum glfs_op {
	GLFS_OP_READ, GLFS_OP_WRITE, GLFS_OP_FLUSH, GLFS_OP_DISCARD, GLFS_OP_WRITE_SAME,
};

static const char *const glfs_op_name[] = {
	"read", "write", "flush", "discard", "write same",
};

/* WRITE SAME goes out as writes of up to this many blocks, each an iovec
 * naming the one block (gfapi takes no pattern). */
#define GLFS_WS_IOVS 1024

/* One aio in flight; freed by its last callback. */
struct glfs_aio {
	struct tcmur_device *dev;
	struct glfs_dev *gdev;
	struct tcmur_cmd *cmd;
	enum glfs_op op;
	bool fua;			/* a write still to be followed by a sync */
	unsigned int failures_seen;	/* gdev->sync_failures when it started */
	uint64_t offset, len;
	/* write same: the block, GLFS_WS_IOVS iovecs naming it, bytes done
	 * and bytes of the write in flight. */
	char *block;
	struct iovec *ws_iov;
	uint64_t ws_done, ws_chunk;
};

/* ---- check, open, close -------------------------------------------------- */

/* Whether @path on @fs could serve a LUN: an existing regular file, or,
 * if @create, a missing one in an existing directory (open creates it).
 * 0 or -errno with *why set. */
static int glfsh_path_usable(glfs_t *fs, const char *path, bool create, const char **why)
{
	char *dir = strdup(path), *slash;
	struct stat st;
	int err = 0;

	if (!dir) {
		*why = "out of memory";
		return -ENOMEM;
	}
	if (!glfs_stat(fs, path, &st)) {
		*why = S_ISDIR(st.st_mode) ? "a directory, not an image file" :
		       !S_ISREG(st.st_mode) ? "not a regular file" : NULL;
		err = *why ? -EINVAL : 0;
		goto out;
	}
	err = -errno;
	*why = "stat";
	if (err != -ENOENT)
		goto out;
	*why = "missing, and ;create is not in the config (it would make the file at the "
	       "LUN's size)";
	if (!create)
		goto out;
	slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	*why = "missing, and so is its directory (;create makes the file, not directories)";
	if (glfs_stat(fs, dir, &st))
		goto out;
	*why = "missing, and its parent is not a directory";
	err = S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
out:
	free(dir);
	return err;
}

static bool glfsh_check_config(const char *cfg, char **reason)
{
	const char *why = NULL, *detail;
	struct glfs_conn *conn;
	struct glfs_cfg c;
	int err;

	err = glfs_cfg_parse(cfg, &c, &why);
	if (err) {
		if (reason && asprintf(reason, "%s: %s", cfg ? cfg : "(none)", why) < 0)
			*reason = NULL;
		return false;
	}
	conn = glfs_conn_get(&c.key, GLFS_CHECK_TIMEOUT, &err, &why);
	if (conn)
		err = glfsh_path_usable(conn->fs, c.path, c.create, &why);
	/* "volume V on H, connect|<path>: what[: errno text]" */
	detail = err == -EINVAL ? "" : err == -ETIMEDOUT && !conn ? ": no answer in 10 s" :
		 strerror(-err);
	if (err && reason &&
	    asprintf(reason, "volume %s on %s, %s: %s%s%s", c.key.volume, c.hosts,
		     conn ? c.path : "connect", why, *detail && *detail != ':' ? ": " : "",
		     detail) < 0)
		*reason = NULL;
	glfs_conn_put(conn);
	glfs_cfg_free(&c);
	return !err;
}

/* Open @path on @fs read-write; if it is missing and @create, create it
 * at @size (*made). The fd, or NULL with *err and *step ("open" with
 * -ENOENT: it is missing and was not made). */
static glfs_fd_t *glfsh_open_image(glfs_t *fs, const char *path, uint64_t size, bool create,
				   bool *made, int *err, const char **step)
{
	glfs_fd_t *fd;

	*made = false;
	*step = "open";
	fd = glfs_open(fs, path, O_RDWR);
	if (fd || errno != ENOENT || !create)
		goto out;
	*step = "create";
	fd = glfs_creat(fs, path, O_RDWR | O_EXCL, 0600);
	if (!fd && errno == EEXIST) {	/* made meanwhile by someone else */
		*step = "open";
		fd = glfs_open(fs, path, O_RDWR);
		goto out;
	}
	if (!fd)
		goto out;
	*step = "size the new file";
	if (glfs_ftruncate(fd, (off_t)size, NULL, NULL)) {
		*err = -errno;
		glfs_close(fd);
		glfs_unlink(fs, path);
		return NULL;
	}
	*made = true;
out:
	if (!fd)
		*err = -(errno ? errno : EIO);
	return fd;
}

/*
 * Say whether a frozen brick fails @dev's commands (within twice the
 * ping-timeout @conn has) before the kernel's @cmd_time_out_s (0: never;
 * the device's own, API 1.6) fails them to the initiator; warn, with what
 * to change, if not.
 */
static void glfsh_timeouts_agree(struct tcmur_device *dev, const struct glfs_conn *conn,
				 unsigned int cmd_time_out_s)
{
	unsigned int bound = glfs_ping_bound(conn->ping_s);
	const char *from = conn->ping ? "ping_timeout in the config, or our default" :
			   "the volume's network.ping-timeout, ping_timeout=volume";

	if (!cmd_time_out_s || bound < cmd_time_out_s) {
		tcmu_dev_info(dev, "a frozen brick fails commands within %u s (ping-timeout %u s, "
			      "%s), before the device's cmd_time_out (%u s%s)", bound,
			      conn->ping_s, from, cmd_time_out_s,
			      cmd_time_out_s ? "" : ": never");
		return;
	}
	tcmu_dev_warn(dev, "ping-timeout %u s (%s): a frozen brick holds commands up to %u s, "
		      "not below the device's cmd_time_out of %u s, which fails them to the "
		      "initiator first and drops their answers: set ;ping_timeout=%u or "
		      "less in the config, or the device's attrib/cmd_time_out above %u",
		      conn->ping_s, from, bound, cmd_time_out_s, glfs_ping_max_for(cmd_time_out_s),
		      bound);
}

/* Say why @dev's image could not be opened (glfsh_open_image's @err and
 * @step): a missing one is made only on a LUN's first open, with ;create. */
static void glfsh_open_failed(struct tcmur_device *dev, const struct glfs_cfg *c, bool reopen,
			      int err, const char *step)
{
	if (err != -ENOENT || strcmp(step, "open"))
		tcmu_dev_err(dev, "%s %s on volume %s: %s", step, c->path, c->key.volume,
			     strerror(-err));
	else if (reopen)
		tcmu_dev_err(dev, "%s on volume %s is missing, and a reopen never makes the "
			     "image (it would serve an empty disk): removed or renamed? Put it "
			     "back, or give the LUN a path that exists", c->path, c->key.volume);
	else
		tcmu_dev_err(dev, "%s on volume %s is missing: not made, since ;create is not in "
			     "the config (with it, a LUN's first open makes the file at the "
			     "LUN's size)", c->path, c->key.volume);
}

/* @dev's first open made its image: ;create has done its work and goes
 * from the LUN's config (API 1.7), so that no later first open (the LUN
 * restored at boot, say) makes an empty one if the image went. */
static void glfsh_created(struct tcmur_device *dev, const struct glfs_cfg *c)
{
	char *cfg = glfs_cfg_without_create(tcmur_dev_config(dev));

	tcmu_dev_info(dev, "made %s on volume %s at the LUN's size; ;create leaves the config",
		      c->path, c->key.volume);
	if (cfg)
		tcmur_dev_set_config(dev, cfg);
	free(cfg);
}

static int glfsh_open_dev(struct tcmur_device *dev, bool reopen)
{
	struct glfs_dev *gdev = tcmur_dev_private(dev);
	uint64_t size = tcmur_dev_size(dev);
	const char *why = NULL;
	struct glfs_cfg c;
	struct stat st;
	bool made;
	int err;

	err = glfs_cfg_parse(tcmur_dev_config(dev), &c, &why);
	if (err) {
		tcmu_dev_err(dev, "config %s: %s", tcmur_dev_config(dev), why);
		return err;
	}
	gdev->conn = glfs_conn_get(&c.key, GLFS_OPEN_TIMEOUT, &err, &why);
	if (!gdev->conn) {
		tcmu_dev_err(dev, "volume %s on %s: %s: %s", c.key.volume, c.hosts, why,
			     strerror(-err));
		goto out_cfg;
	}
	glfsh_timeouts_agree(dev, gdev->conn, tcmur_dev_cmd_time_out(dev));
	/* Never on a reopen: the image went while the LUN was served (or
	 * the config changed), and an empty one would be served as the
	 * initiator's disk. */
	gdev->fd = glfsh_open_image(gdev->conn->fs, c.path, size, c.create && !reopen, &made,
				    &err, &why);
	if (!gdev->fd) {
		glfsh_open_failed(dev, &c, reopen, err, why);
		goto out_put;
	}
	err = glfs_fstat(gdev->fd, &st) ? -errno : 0;
	if (err) {
		tcmu_dev_err(dev, "stat %s on volume %s: %s", c.path, c.key.volume, strerror(-err));
		goto out_close;
	}
	if ((uint64_t)st.st_size < size) {
		tcmu_dev_err(dev, "%s on volume %s holds %llu bytes, less than the LUN's %llu: "
			     "grow it or make the LUN smaller", c.path, c.key.volume,
			     (unsigned long long)st.st_size, (unsigned long long)size);
		err = -ENOSPC;
		goto out_close;
	}
	/* Whether the bricks punch holes: one past the file's end, which
	 * changes no data (the brick keeps the size). */
	gdev->can_unmap = !glfs_discard(gdev->fd, st.st_size, 4096) ||
			  (errno != EOPNOTSUPP && errno != ENOSYS);
	tcmu_dev_dbg(dev, "opened %s on volume %s (%llu bytes, %s)", c.path, c.key.volume,
		     (unsigned long long)st.st_size,
		     gdev->can_unmap ? "UNMAP punches holes" : "no UNMAP: no hole punching");
	if (made)
		glfsh_created(dev, &c);
	glfs_cfg_free(&c);
	return 0;

out_close:
	glfs_close(gdev->fd);
out_put:
	glfs_conn_put(gdev->conn);
out_cfg:
	glfs_cfg_free(&c);
	memset(gdev, 0, sizeof(*gdev));
	return err;
}

static void glfsh_close_dev(struct tcmur_device *dev)
{
	struct glfs_dev *gdev = tcmur_dev_private(dev);
	unsigned int waited = 0;

	if (!gdev->conn)
		return;
	/* The daemon has seen every command complete; a callback may still
	 * be on its way out of our code. */
	while (__atomic_load_n(&gdev->inflight, __ATOMIC_ACQUIRE)) {
		if (++waited == 1000)
			tcmu_dev_warn(dev, "%u aio still in flight at close",
				      __atomic_load_n(&gdev->inflight, __ATOMIC_RELAXED));
		usleep(1000);
	}
	if (glfs_close(gdev->fd))
		tcmu_dev_warn(dev, "close: %s", strerror(errno));
	glfs_conn_put(gdev->conn);
	memset(gdev, 0, sizeof(*gdev));
}

/* A new config string means another file: the daemon reopens. A new size
 * must still fit in the file; the write cache needs nothing. */
static int glfsh_reconfig(struct tcmur_device *dev, const struct tcmur_reconfig *rc)
{
	struct glfs_dev *gdev = tcmur_dev_private(dev);
	struct stat st;

	if (rc->has_config)
		return -EOPNOTSUPP;
	if (!rc->has_size)
		return 0;
	if (glfs_fstat(gdev->fd, &st)) {
		int err = -errno;

		tcmu_dev_err(dev, "stat: %s", strerror(-err));
		return err;
	}
	if ((uint64_t)st.st_size < rc->size) {
		tcmu_dev_err(dev, "the file holds %llu bytes, less than the new size %llu",
			     (unsigned long long)st.st_size, (unsigned long long)rc->size);
		return -ENOSPC;
	}
	return 0;
}

/* ---- I/O ------------------------------------------------------------------- */

static void glfsh_aio_done(glfs_fd_t *fd, ssize_t ret, struct glfs_stat *pre,
			   struct glfs_stat *post, void *data);

/* Log @a's failure with @err if it starts a run of failures (a brick
 * down fails every command until it is back), or a run's end. */
static void glfsh_log_outcome(struct glfs_aio *a, int err)
{
	unsigned int run;

	if (!err) {
		run = __atomic_exchange_n(&a->gdev->failed_run, 0, __ATOMIC_RELAXED);
		if (run)
			tcmu_dev_info(a->dev, "I/O works again, after %u failed commands", run);
		return;
	}
	if (__atomic_fetch_add(&a->gdev->failed_run, 1, __ATOMIC_RELAXED))
		return;
	tcmu_dev_err(a->dev, "%s %llu bytes at %llu: %s (further failures not logged "
		     "until a command succeeds)", glfs_op_name[a->op],
		     (unsigned long long)a->len, (unsigned long long)a->offset, strerror(-err));
}

/* End @a with @err (0 or -errno): complete its command and free it. The
 * last touch of gdev is the decrement that lets close go on. */
static void glfsh_aio_end(struct glfs_aio *a, int err)
{
	struct glfs_dev *gdev = a->gdev;
	tcmu_sts sts = TCMU_STS_GOOD;

	glfsh_log_outcome(a, err);
	if (err) {
		__atomic_add_fetch(&gdev->failed_cmds, 1, __ATOMIC_RELAXED);
		if (err == -ENOTCONN || err == -ETIMEDOUT || err == -ECONNREFUSED ||
		    err == -ECONNRESET || err == -EHOSTUNREACH || err == -ESHUTDOWN)
			__atomic_add_fetch(&gdev->conn_errors, 1, __ATOMIC_RELAXED);
		sts = tcmur_cmd_errno(a->cmd, err, a->op != GLFS_OP_READ);
	}
	tcmur_cmd_complete(a->dev, a->cmd, sts);
	free(a->block);
	free(a->ws_iov);
	free(a);
	__atomic_sub_fetch(&gdev->inflight, 1, __ATOMIC_RELEASE);
}

/* Start the fdatasync of a flush or of a FUA write; 0 or -errno. */
static int glfsh_sync(struct glfs_aio *a)
{
	a->op = GLFS_OP_FLUSH;
	a->failures_seen = __atomic_load_n(&a->gdev->sync_failures, __ATOMIC_ACQUIRE);
	return glfs_fdatasync_async(a->gdev->fd, glfsh_aio_done, a) ? -errno : 0;
}

/* An fdatasync ended with @err. A failed one may have lost writes that
 * a later fdatasync no longer sees as dirty: so a sync is good only if
 * it succeeded and no other failed since it started. */
static int glfsh_sync_done(struct glfs_aio *a, int err)
{
	if (err) {
		__atomic_add_fetch(&a->gdev->sync_failures, 1, __ATOMIC_RELEASE);
		return err;
	}
	if (__atomic_load_n(&a->gdev->sync_failures, __ATOMIC_ACQUIRE) != a->failures_seen) {
		tcmu_dev_err(a->dev, "an fdatasync that overlapped this one failed");
		return -EIO;
	}
	return 0;
}

/* Write the next piece of a WRITE SAME; 0 or -errno. */
static int glfsh_ws_next(struct glfs_aio *a)
{
	uint32_t bs = tcmur_dev_block_size(a->dev);
	uint64_t left = a->len - a->ws_done, max = (uint64_t)GLFS_WS_IOVS * bs;

	a->ws_chunk = left < max ? left : max;
	return glfs_pwritev_async(a->gdev->fd, a->ws_iov, (int)(a->ws_chunk / bs),
				  (off_t)(a->offset + a->ws_done), 0, glfsh_aio_done, a)
		       ? -errno : 0;
}

/* A FUA WRITE SAME, all written: its sync next. */
static int glfsh_ws_sync(struct glfs_aio *a)
{
	a->fua = false;
	return glfsh_sync(a);
}

/* A WRITE SAME's block and its iovecs; 0 or -ENOMEM. */
static int glfsh_ws_setup(struct glfs_aio *a, const struct iovec *iov, size_t iov_cnt)
{
	uint32_t bs = tcmur_dev_block_size(a->dev);

	a->block = malloc(bs);
	a->ws_iov = calloc(GLFS_WS_IOVS, sizeof(*a->ws_iov));
	if (!a->block || !a->ws_iov)
		return -ENOMEM;
	tcmu_iov_to_buf(a->block, bs, iov, iov_cnt);
	for (unsigned int i = 0; i < GLFS_WS_IOVS; i++)
		a->ws_iov[i] = (struct iovec){ a->block, bs };
	return 0;
}

/* gfapi's thread: an aio ended with @ret (bytes, or -1 and errno). */
static void glfsh_aio_done(glfs_fd_t *fd, ssize_t ret, struct glfs_stat *pre,
			   struct glfs_stat *post, void *data)
{
	struct glfs_aio *a = data;
	int err = ret < 0 ? -(errno ? errno : EIO) : 0;

	(void)fd, (void)pre, (void)post;
	switch (a->op) {
	case GLFS_OP_WRITE_SAME:
		if (!err && (uint64_t)ret != a->ws_chunk)
			err = -EIO;
		if (!err && (a->ws_done += a->ws_chunk) < a->len)
			err = glfsh_ws_next(a);		/* the next piece */
		else if (!err && a->fua)
			err = glfsh_ws_sync(a);		/* all written: stable */
		else
			break;
		if (!err)
			return;
		break;
	case GLFS_OP_READ:
	case GLFS_OP_WRITE:
		if (!err && (uint64_t)ret != a->len)
			err = -EIO;	/* short: past the file's end */
		if (!err && a->fua) {
			a->fua = false;
			err = glfsh_sync(a);
			if (!err)
				return;
		}
		break;
	case GLFS_OP_FLUSH:
		err = glfsh_sync_done(a, err);
		break;
	case GLFS_OP_DISCARD:
		break;
	}
	glfsh_aio_end(a, err);
}

/*
 * Start @op; gfapi's async calls queue and return, so this is fine on
 * the device's own thread (cmd->nowait). TCMU_STS_ASYNC, or the status
 * of a submission that failed.
 */
static tcmu_sts glfsh_submit(struct tcmur_device *dev, struct tcmur_cmd *cmd, enum glfs_op op,
			     struct iovec *iov, size_t iov_cnt, uint64_t len, uint64_t offset)
{
	struct glfs_dev *gdev = tcmur_dev_private(dev);
	struct glfs_aio *a;
	int err;

	if (op == GLFS_OP_READ || op == GLFS_OP_WRITE)
		iov_cnt = tcmu_iov_trim(iov, iov_cnt, len);
	a = malloc(sizeof(*a));
	if (!a)
		return tcmur_cmd_errno(cmd, -ENOMEM, op != GLFS_OP_READ);
	*a = (struct glfs_aio){ .dev = dev, .gdev = gdev, .cmd = cmd, .op = op,
				.fua = (op == GLFS_OP_WRITE || op == GLFS_OP_WRITE_SAME) && cmd->fua,
				.offset = offset, .len = len };
	if (op == GLFS_OP_WRITE_SAME && glfsh_ws_setup(a, iov, iov_cnt)) {
		free(a->block);
		free(a->ws_iov);
		free(a);
		return tcmur_cmd_errno(cmd, -ENOMEM, true);
	}
	__atomic_add_fetch(&gdev->inflight, 1, __ATOMIC_RELAXED);
	switch (op) {
	case GLFS_OP_READ:
		err = glfs_preadv_async(gdev->fd, iov, (int)iov_cnt, (off_t)offset, 0,
					glfsh_aio_done, a);
		break;
	case GLFS_OP_WRITE:
		err = glfs_pwritev_async(gdev->fd, iov, (int)iov_cnt, (off_t)offset, 0,
					 glfsh_aio_done, a);
		break;
	case GLFS_OP_FLUSH:
		err = glfsh_sync(a);
		break;
	case GLFS_OP_DISCARD:
		err = glfs_discard_async(gdev->fd, (off_t)offset, len, glfsh_aio_done, a);
		break;
	case GLFS_OP_WRITE_SAME:
		err = glfsh_ws_next(a);
		break;
	}
	if (!err)
		return TCMU_STS_ASYNC;
	err = errno ? -errno : -EIO;
	__atomic_sub_fetch(&gdev->inflight, 1, __ATOMIC_RELAXED);
	free(a->block);
	free(a->ws_iov);
	free(a);
	tcmu_dev_err(dev, "%s %llu bytes at %llu: submit: %s", glfs_op_name[op],
		     (unsigned long long)len, (unsigned long long)offset, strerror(-err));
	return tcmur_cmd_errno(cmd, err, op != GLFS_OP_READ);
}

static tcmu_sts glfsh_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			   struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	return glfsh_submit(dev, cmd, GLFS_OP_READ, iov, iov_cnt, len, offset);
}

static tcmu_sts glfsh_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			    struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	return glfsh_submit(dev, cmd, GLFS_OP_WRITE, iov, iov_cnt, len, offset);
}

static tcmu_sts glfsh_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	return glfsh_submit(dev, cmd, GLFS_OP_FLUSH, NULL, 0, 0, 0);
}

static tcmu_sts glfsh_unmap(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			    uint64_t offset, uint64_t len)
{
	return glfsh_submit(dev, cmd, GLFS_OP_DISCARD, NULL, 0, len, offset);
}

/* A FUA write is its write and then an fdatasync (glfsh_aio_done). */
/* WRITE SAME (API 1.4): the block written over the range, in writes of
 * up to GLFS_WS_IOVS blocks that all name it: no buffer of the range. */
static tcmu_sts glfsh_write_same(struct tcmur_device *dev, struct tcmur_cmd *cmd,
				 struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	return glfsh_submit(dev, cmd, GLFS_OP_WRITE_SAME, iov, iov_cnt, len, offset);
}

static unsigned int glfsh_health(struct tcmur_device *dev, struct tcmur_health *out,
				 unsigned int max)
{
	struct glfs_dev *gdev = tcmur_dev_private(dev);
	const struct { const char *name; uint64_t v; } c[] = {
		{ "commands_failed", __atomic_load_n(&gdev->failed_cmds, __ATOMIC_RELAXED) },
		{ "connection_errors", __atomic_load_n(&gdev->conn_errors, __ATOMIC_RELAXED) },
		{ "fsync_failures", __atomic_load_n(&gdev->sync_failures, __ATOMIC_RELAXED) },
		{ "failing_now", __atomic_load_n(&gdev->failed_run, __ATOMIC_RELAXED) },
		/* the connection's, in force (glfs_ping.h) */
		{ "ping_timeout_s", gdev->conn ? gdev->conn->ping_s : 0 },
	};
	unsigned int n = 0;

	for (; n < sizeof(c) / sizeof(c[0]) && n < max; n++) {
		snprintf(out[n].name, sizeof(out[n].name), "%s", c[n].name);
		out[n].value = c[n].v;
	}
	return n;
}

static bool glfsh_can_fua(struct tcmur_device *dev)
{
	(void)dev;
	return true;
}

static bool glfsh_can_unmap(struct tcmur_device *dev)
{
	return ((struct glfs_dev *)tcmur_dev_private(dev))->can_unmap;
}

/* The posix brick discards by punching a hole (fallocate PUNCH_HOLE,
 * KEEP_SIZE), which reads back as zeros; where it cannot, can_unmap is
 * false and the daemon does not offer UNMAP. */
static bool glfsh_unmap_zeroes(struct tcmur_device *dev)
{
	(void)dev;
	return true;
}

TCMUR_REGISTER_HANDLER(
	.name = "GlusterFS file (libgfapi)",
	.subtype = "glfs",
	.cfg_desc = "<volume>@<host>[:port][,<host>[:port]...]/<path>[;ping_timeout=N]"
		    "[;create]: a file on a GlusterFS volume, from glusterd at host (port "
		    "24007 by default). An existing file must hold the LUN's size; a "
		    "missing one is refused, or with ;create made at that size, in an "
		    "existing directory, by the LUN's first open only (never by a "
		    "reopen). ping_timeout: seconds "
		    "(1..1013, default 10) before a brick that does not answer fails "
		    "commands (within twice that: keep it below the device's "
		    "cmd_time_out), or \"volume\" for the volume's network.ping-timeout.",
	.dev_private_size = sizeof(struct glfs_dev),
	.needs_api_minor = 7,	/* tcmur_dev_cmd_time_out, tcmur_dev_set_config */
	.thread_model = TCMUR_THREAD_PARALLEL,
	.nr_threads = 4,
	.check_config = glfsh_check_config,
	.open = glfsh_open_dev,
	.close = glfsh_close_dev,
	.reconfig = glfsh_reconfig,
	.read = glfsh_read,
	.write = glfsh_write,
	.flush = glfsh_flush,
	.unmap = glfsh_unmap,
	.can_fua = glfsh_can_fua,
	.can_unmap = glfsh_can_unmap,
	.unmap_zeroes = glfsh_unmap_zeroes,
	.inline_io = true,	/* gfapi's async submission never waits for a brick */
	.write_same = glfsh_write_same,
	.health = glfsh_health,
);
