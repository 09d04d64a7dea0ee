/*
 * handler_qcow: a LUN backed by a qcow2 image (versions 2 and 3), as
 * QEMU's qemu-img and qemu-io make and read them.
 * Config string: "qcow/<absolute path>[;format=raw][;share_rw=on]".
 * Without format=raw the file must be qcow2: anything else is refused
 * ("not a qcow2 image: magic 0x..."), so that a raw disk is never taken
 * for an image by mistake; with it the file is served as it is (a raw
 * image).
 * One writer per image: open takes QEMU's image locks (image_lock.h) as a
 * QEMU guest's writable disk does, on the image (a writer's) and on each
 * backing file (a reader's), so a second LUN on the image, or QEMU
 * (qemu-system, qemu-io, qemu-img) holding it or a backing file for
 * write, is refused (-EBUSY, logged: "<path>: in use: another process or
 * LUN ... (QEMU's lock byte N)"), and QEMU is refused while we serve it
 * (qemu-img info without -U too, as against a running guest). Overlays
 * on one backing file share it. share_rw=on (QEMU's share-rw=on) lets
 * other sharing writers in; raw images only (with qcow2 it is refused:
 * two writers would corrupt the metadata), and only for writers that
 * coordinate among themselves. check_config takes no locks. Closing
 * releases them; a reopen (a new config string) closes first and takes
 * them anew.
 * The LUN's size must be the image's virtual size (raw: the file's).
 * Served: reads and writes (copy-on-write of partial clusters from the
 * backing file, zeros or compressed data), backing chains of qcow2 and
 * raw files (relative names from the image's directory), compressed
 * clusters (read; a write moves the cluster to an uncompressed one),
 * zero clusters, UNMAP (whole clusters freed, with the v3 zero flag
 * where a backing file would show through; zeros written elsewhere,
 * but for clusters that read zeros already). Freed clusters are
 * allocated again before the file grows (qcow2_refcount.c).
 * Refused, with the reason: encryption, external data files, extended
 * L2 entries, zstd compression, unknown incompatible features, the
 * corrupt bit (repair with qemu-img check -r all), internal snapshots,
 * and a LUN size other than the image's. The dirty bit (lazy refcounts
 * left stale) check_config passes; open rebuilds the refcounts, makes
 * them stable, then clears the bit, as QEMU does (qcow2_repair.c).
 * GET LBA STATUS reports zero clusters, and unallocated ones with no
 * backing file, as deallocated; everything else as mapped. The refcount table grows as
 * needed, up to 8 MiB (then a write fails: ENOSPC, logged).
 * The format lives in qcow2_*.c behind qcow2.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image_lock.h"
#include "qcow2.h"
#include "tcmu-runner.h"

struct qcow_dev {
	struct qcow2_image *img;
};

/* A parsed config string "<path>[;format=raw|qcow2][;share_rw=on|off]". */
struct qcow_cfg {
	char *path;			/* malloc'ed */
	enum qcow2_format fmt;
	bool share;			/* share_rw=on: raw images only */
};

/* One option, @len bytes at @opt ("key=value"), into @c; NULL or what is
 * wrong with it. */
static const char *qcow_option(const char *opt, size_t len, struct qcow_cfg *c)
{
	static const char fmt_key[] = "format=", share_key[] = IMAGE_SHARE_OPT "=";

	if (len >= strlen(fmt_key) && !strncmp(opt, fmt_key, strlen(fmt_key))) {
		opt += strlen(fmt_key);
		len -= strlen(fmt_key);
		if (len == 3 && !strncmp(opt, "raw", 3))
			c->fmt = QCOW2_FMT_RAW;
		else if (len != 5 || strncmp(opt, "qcow2", 5))
			return "format must be raw or qcow2";
		return NULL;
	}
	if (len >= strlen(share_key) && !strncmp(opt, share_key, strlen(share_key))) {
		opt += strlen(share_key);
		len -= strlen(share_key);
		c->share = len == 2 && !strncmp(opt, "on", 2);
		if (!c->share && (len != 3 || strncmp(opt, "off", 3)))
			return IMAGE_SHARE_OPT " must be on or off";
		return NULL;
	}
	return "unknown option (format=raw|qcow2, " IMAGE_SHARE_OPT "=on|off)";
}

/* The options after the path (from its first ';'), in turn. */
static const char *qcow_options(const char *opts, struct qcow_cfg *c)
{
	const char *bad = NULL;

	while (*opts == ';' && !bad) {
		size_t len = strcspn(opts + 1, ";");

		bad = qcow_option(opts + 1, len, c);
		opts += 1 + len;
	}
	if (!bad && c->share && c->fmt != QCOW2_FMT_RAW)
		bad = IMAGE_SHARE_OPT "=on needs format=raw: a qcow2 image's metadata "
		      "cannot have two writers";
	return bad;
}

/* Parse @cfg into @c (c->path malloc'ed). 0 or -errno (*why). */
static int qcow_parse(const char *cfg, struct qcow_cfg *c, char **why)
{
	const char *opts = cfg ? cfg + strcspn(cfg, ";") : NULL;
	const char *bad = NULL;

	c->path = NULL;
	c->fmt = QCOW2_FMT_QCOW2;
	c->share = false;
	if (!cfg || cfg[0] != '/')
		bad = "path must be absolute";
	else
		bad = qcow_options(opts, c);
	if (bad) {
		if (why && asprintf(why, "%s: %s", cfg ? cfg : "(none)", bad) < 0)
			*why = NULL;
		return -EINVAL;
	}
	c->path = strndup(cfg, opts - cfg);
	return c->path ? 0 : -ENOMEM;
}

/* Open the image @cfg names; 0 or -errno and *why. A check (@dev NULL)
 * opens it read-only, so that it changes nothing, and asks whether it
 * could write; it takes no locks (qcow2.h: QCOW2_CHECK). */
static int qcow_open_cfg(const char *cfg, struct tcmur_device *dev,
			 struct qcow2_image **img, char **why)
{
	struct qcow_cfg c;
	int err = qcow_parse(cfg, &c, why);

	*img = NULL;
	if (err)
		return err;
	if (!dev && access(c.path, R_OK | W_OK) < 0) {
		err = -errno;
		if (why && asprintf(why, "%s: not readable and writable: %s", c.path,
				    strerror(errno)) < 0)
			*why = NULL;
	} else {
		err = qcow2_open(img, c.path, c.fmt, !dev ? QCOW2_CHECK : c.share ?
				 QCOW2_SERVE_SHARED : QCOW2_SERVE, dev, why);
	}
	free(c.path);
	return err;
}

static bool qcow_check_config(const char *cfg, char **reason)
{
	struct qcow2_image *img;
	char *why = NULL;
	int err = qcow_open_cfg(cfg, NULL, &img, &why);

	qcow2_close(img);
	if (!err)
		return true;
	if (reason)
		*reason = why ? why : strdup(strerror(-err));
	else
		free(why);
	return false;
}

/* On a reopen the old chain is closed already (close comes first), its
 * locks with it: nothing of ours stands in the way. */
static int qcow_open(struct tcmur_device *dev, bool reopen)
{
	struct qcow_dev *q = tcmur_dev_private(dev);
	char *why = NULL;
	int err;

	(void)reopen;
	err = qcow_open_cfg(tcmur_dev_config(dev), dev, &q->img, &why);
	if (err) {
		tcmu_dev_err(dev, "%s", why ? why : strerror(-err));
		free(why);
		return err;
	}
	if (q->img->size != tcmur_dev_size(dev)) {
		tcmu_dev_err(dev, "%s: the LUN's size %llu differs from the image's %s size %llu; "
			     "give the LUN the image's size", q->img->path,
			     (unsigned long long)tcmur_dev_size(dev),
			     q->img->format == QCOW2_FMT_RAW ? "file" : "virtual",
			     (unsigned long long)q->img->size);
		qcow2_close(q->img);
		q->img = NULL;
		return -EINVAL;
	}
	tcmu_dev_dbg(dev, "opened %s", q->img->path);
	return 0;
}

static void qcow_close(struct tcmur_device *dev)
{
	struct qcow_dev *q = tcmur_dev_private(dev);

	qcow2_close(q->img);
	q->img = NULL;
}

/* The size is the image's: no other. A new path means a reopen. */
static int qcow_reconfig(struct tcmur_device *dev, const struct tcmur_reconfig *rc)
{
	struct qcow_dev *q = tcmur_dev_private(dev);

	if (rc->has_config)
		return -EOPNOTSUPP;
	if (rc->has_size && rc->size != q->img->size) {
		tcmu_dev_err(dev, "%s: size %llu refused: the image's is %llu (qemu-img resize "
			     "it first)", q->img->path, (unsigned long long)rc->size,
			     (unsigned long long)q->img->size);
		return -EINVAL;
	}
	return 0;
}

/* Status for @err from @op, logged once here. */
static tcmu_sts qcow_fail(struct tcmur_device *dev, struct tcmur_cmd *cmd, const char *op,
			  size_t len, uint64_t offset, int err)
{
	tcmu_dev_err(dev, "%s %zu bytes at %llu: %s", op, len, (unsigned long long)offset,
		     strerror(-err));
	return tcmur_cmd_errno(cmd, err, strcmp(op, "read") != 0);
}

static tcmu_sts qcow_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			  struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	struct qcow_dev *q = tcmur_dev_private(dev);
	int err = qcow2_read(q->img, iov, iov_cnt, len, offset);

	return err ? qcow_fail(dev, cmd, "read", len, offset, err) : TCMU_STS_GOOD;
}

static tcmu_sts qcow_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			   struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	struct qcow_dev *q = tcmur_dev_private(dev);
	int err = qcow2_write(q->img, iov, iov_cnt, len, offset);

	return err ? qcow_fail(dev, cmd, "write", len, offset, err) : TCMU_STS_GOOD;
}

static tcmu_sts qcow_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	struct qcow_dev *q = tcmur_dev_private(dev);
	int err = qcow2_sync(q->img);

	return err ? qcow_fail(dev, cmd, "flush", 0, 0, err) : TCMU_STS_GOOD;
}

static tcmu_sts qcow_unmap(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			   uint64_t offset, uint64_t len)
{
	struct qcow_dev *q = tcmur_dev_private(dev);
	int err = qcow2_discard(q->img, offset, len);

	return err ? qcow_fail(dev, cmd, "unmap", len, offset, err) : TCMU_STS_GOOD;
}

static int qcow_lba_status(struct tcmur_device *dev, uint64_t offset, uint64_t *len,
			   bool *mapped)
{
	struct qcow_dev *q = tcmur_dev_private(dev);

	return qcow2_lba_status(q->img, offset, len, mapped);
}

TCMUR_REGISTER_HANDLER(
	.name = "qcow2 image",
	.subtype = "qcow",
	.cfg_desc = "The absolute path of a qcow2 image (v2 or v3), e.g. "
		    "/var/lib/luns/disk1.qcow2; append ;format=raw to serve a raw "
		    "image. The LUN's size must be the image's virtual size. One "
		    "writer per image: ;share_rw=on (raw only) if its writers "
		    "coordinate.",
	.dev_private_size = sizeof(struct qcow_dev),
	.thread_model = TCMUR_THREAD_PARALLEL,
	.nr_threads = 4,
	.check_config = qcow_check_config,
	.open = qcow_open,
	.close = qcow_close,
	.reconfig = qcow_reconfig,
	.read = qcow_read,
	.write = qcow_write,
	.flush = qcow_flush,
	.unmap = qcow_unmap,
	.lba_status = qcow_lba_status,
);
