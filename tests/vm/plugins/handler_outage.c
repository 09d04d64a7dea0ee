/*
 * handler_outage: a test plugin whose backend goes away for a while and
 * answers with a chosen status, for test_sense_outage.sh. Config
 * "outage/<image>": a file-backed LUN (plain preadv/pwritev/fdatasync on
 * the handler's threads). A control file beside the image, <image>.outage,
 * holds "<mode> <until>" (until: epoch seconds). While it exists and the
 * clock is before <until>, every read, write and flush is answered with
 * the mode's status instead of being done:
 *   busy    status BUSY (0x08)
 *   tsf     status TASK SET FULL (0x28)
 *   nr0401  NOT READY, LOGICAL UNIT IS IN PROCESS OF BECOMING READY
 *   nr040a  NOT READY, ASYMMETRIC ACCESS STATE TRANSITION
 *   nr0800  NOT READY, LOGICAL UNIT COMMUNICATION FAILURE
 *   ua2900  UNIT ATTENTION, POWER ON, RESET, OR BUS DEVICE RESET OCCURRED
 *   dp2700  DATA PROTECT, WRITE PROTECTED
 *   etimedout, erofs   whatever the daemon's tcmur_cmd_errno() makes of
 *           -ETIMEDOUT (a brick or OSD gone for a while) or -EROFS (the
 *           image read-only, a lock holder that will not let go): the
 *           mapping every handler uses, tested through the kernel
 * The first refused command of an outage and the first served one after
 * it are logged ("outage: ..."), so the daemon log shows the window.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "scsi_defs.h"
#include "tcmu-runner.h"

struct outage_mode {
	const char *name;
	tcmu_sts status;	/* or TCMU_STS_CHECK_CONDITION with key/asc */
	uint8_t key;
	uint16_t asc;
	int err;		/* non-zero: tcmur_cmd_errno(-err) decides */
};

static const struct outage_mode outage_modes[] = {
	{ "busy", TCMU_STS_BUSY, 0, 0 },
	{ "tsf", TCMU_STS_TASK_SET_FULL, 0, 0 },
	{ "nr0401", TCMU_STS_CHECK_CONDITION, SENSE_NOT_READY, 0x0401 },
	{ "nr040a", TCMU_STS_CHECK_CONDITION, SENSE_NOT_READY, 0x040a },
	{ "nr0800", TCMU_STS_CHECK_CONDITION, SENSE_NOT_READY, 0x0800 },
	{ "ua2900", TCMU_STS_CHECK_CONDITION, SENSE_UNIT_ATTENTION, 0x2900 },
	{ "dp2700", TCMU_STS_CHECK_CONDITION, SENSE_DATA_PROTECT, 0x2700 },
	{ "etimedout", 0, 0, 0, ETIMEDOUT },
	{ "erofs", 0, 0, 0, EROFS },
};

struct outage_dev {
	int fd;
	char ctl_path[1100];
	bool in_outage;		/* for the log lines only; races are harmless */
};

/* The mode in force now, or NULL: no control file, or its time is up. */
static const struct outage_mode *outage_now(struct tcmur_device *dev, struct outage_dev *o)
{
	char buf[64] = "", name[16];
	long long until;
	int fd = open(o->ctl_path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || sscanf(buf, "%15s %lld", name, &until) != 2 ||
	    (long long)time(NULL) >= until)
		return NULL;
	for (size_t i = 0; i < sizeof(outage_modes) / sizeof(outage_modes[0]); i++)
		if (!strcmp(outage_modes[i].name, name))
			return &outage_modes[i];
	tcmu_dev_err(dev, "outage: unknown mode '%s' in %s", name, o->ctl_path);
	return NULL;
}

/* TCMU_STS_GOOD to do the I/O, else the status to answer with. */
static tcmu_sts outage_check(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	struct outage_dev *o = tcmur_dev_private(dev);
	const struct outage_mode *m = outage_now(dev, o);

	if (!m) {
		if (o->in_outage)
			tcmu_dev_info(dev, "outage: over, serving again");
		o->in_outage = false;
		return TCMU_STS_GOOD;
	}
	if (!o->in_outage)
		tcmu_dev_info(dev, "outage: answering %s", m->name);
	o->in_outage = true;
	if (m->err)
		return tcmur_cmd_errno(cmd, -m->err, cmd->cdb[0] != READ_10 &&
				       cmd->cdb[0] != READ_16);
	if (m->status != TCMU_STS_CHECK_CONDITION)
		return m->status;
	return tcmur_cmd_sense(cmd, m->key, m->asc);
}

static tcmu_sts outage_rw(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
			  size_t iov_cnt, size_t len, uint64_t offset, bool write)
{
	struct outage_dev *o = tcmur_dev_private(dev);
	tcmu_sts sts = outage_check(dev, cmd);
	ssize_t n;

	if (sts != TCMU_STS_GOOD)
		return sts;
	n = write ? pwritev(o->fd, iov, iov_cnt, offset) : preadv(o->fd, iov, iov_cnt, offset);
	if (n < 0)
		return tcmur_cmd_errno(cmd, -errno, write);
	if ((size_t)n != len) {
		tcmu_dev_err(dev, "%s of %zu bytes at %llu: only %zd", write ? "write" : "read",
			     len, (unsigned long long)offset, n);
		return tcmur_cmd_errno(cmd, -EIO, write);
	}
	return TCMU_STS_GOOD;
}

static tcmu_sts outage_read(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
			    size_t iov_cnt, size_t len, uint64_t offset)
{
	return outage_rw(dev, cmd, iov, iov_cnt, len, offset, false);
}

static tcmu_sts outage_write(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
			     size_t iov_cnt, size_t len, uint64_t offset)
{
	return outage_rw(dev, cmd, iov, iov_cnt, len, offset, true);
}

static tcmu_sts outage_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	struct outage_dev *o = tcmur_dev_private(dev);
	tcmu_sts sts = outage_check(dev, cmd);

	if (sts != TCMU_STS_GOOD)
		return sts;
	return fdatasync(o->fd) ? tcmur_cmd_errno(cmd, -errno, true) : TCMU_STS_GOOD;
}

static int outage_open(struct tcmur_device *dev, bool reopen)
{
	struct outage_dev *o = tcmur_dev_private(dev);
	const char *img = tcmur_dev_config(dev);
	int err;

	(void)reopen;
	o->fd = open(img, O_RDWR | O_CLOEXEC);
	if (o->fd < 0) {
		err = -errno;
		tcmu_dev_err(dev, "open %s: %s", img, strerror(errno));
		return err;
	}
	snprintf(o->ctl_path, sizeof(o->ctl_path), "%s.outage", img);
	o->in_outage = false;
	return 0;
}

static void outage_close(struct tcmur_device *dev)
{
	struct outage_dev *o = tcmur_dev_private(dev);

	close(o->fd);
}

TCMUR_REGISTER_HANDLER(
	.name = "Backend with outages on demand (tests)",
	.subtype = "outage",
	.cfg_desc = "image path; <image>.outage holds \"<mode> <until-epoch-s>\"",
	.dev_private_size = sizeof(struct outage_dev),
	.thread_model = TCMUR_THREAD_PARALLEL,
	.nr_threads = 4,
	.open = outage_open,
	.close = outage_close,
	.read = outage_read,
	.write = outage_write,
	.flush = outage_flush,
);
