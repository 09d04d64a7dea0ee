/*
 * handler_qcow: a LUN backed by a qcow2 image (versions 2 and 3), as
 * QEMU's qemu-img and qemu-io make and read them.
 * Config string: "qcow/<absolute path>[;format=raw]". Without format=raw
 * the file must be qcow2: anything else is refused ("not a qcow2 image:
 * magic 0x..."), so that a raw disk is never taken for an image by
 * mistake; with it the file is served as it is (a raw image).
 * The LUN's size must be the image's virtual size (raw: the file's).
 * Served: reads and writes (copy-on-write of partial clusters from the
 * backing file, zeros or compressed data), backing chains of qcow2 and
 * raw files (relative names from the image's directory), compressed
 * clusters (read; a write moves the cluster to an uncompressed one),
 * zero clusters, UNMAP (whole clusters freed, with the v3 zero flag
 * where a backing file would show through; zeros written elsewhere).
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

#include "qcow2.h"
#include "tcmu-runner.h"

#define FORMAT_OPT ";format="

struct qcow_dev {
	struct qcow2_image *img;
};

/* Split @cfg into a malloc'ed path and its format. 0 or -errno (*why). */
static int qcow_parse(const char *cfg, char **path, enum qcow2_format *fmt, char **why)
{
	const char *opt = cfg ? strstr(cfg, FORMAT_OPT) : NULL;
	const char *bad = NULL;

	*path = NULL;
	*fmt = QCOW2_FMT_QCOW2;
	if (!cfg || cfg[0] != '/')
		bad = "path must be absolute";
	else if (opt && !strcmp(opt + strlen(FORMAT_OPT), "raw"))
		*fmt = QCOW2_FMT_RAW;
	else if (opt && strcmp(opt + strlen(FORMAT_OPT), "qcow2"))
		bad = "format must be raw or qcow2";
	if (bad) {
		if (why && asprintf(why, "%s: %s", cfg ? cfg : "(none)", bad) < 0)
			*why = NULL;
		return -EINVAL;
	}
	*path = opt ? strndup(cfg, opt - cfg) : strdup(cfg);
	return *path ? 0 : -ENOMEM;
}

/* Open the image @cfg names; 0 or -errno and *why. A check (@dev NULL)
 * opens it read-only, so that it changes nothing, and asks whether it
 * could write. */
static int qcow_open_cfg(const char *cfg, struct tcmur_device *dev,
			 struct qcow2_image **img, char **why)
{
	enum qcow2_format fmt;
	char *path;
	int err = qcow_parse(cfg, &path, &fmt, why);

	*img = NULL;
	if (err)
		return err;
	if (!dev && access(path, R_OK | W_OK) < 0) {
		err = -errno;
		if (why && asprintf(why, "%s: not readable and writable: %s", path,
				    strerror(errno)) < 0)
			*why = NULL;
	} else {
		err = qcow2_open(img, path, fmt, dev != NULL, dev, why);
	}
	free(path);
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
		    "image. The LUN's size must be the image's virtual size.",
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
