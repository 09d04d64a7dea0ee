/*
 * handler_file: a LUN backed by a file or a block device.
 * Config string: "file/<absolute path>[;share_rw=on]". The file must
 * exist; the LUN's size is the kernel's dev_size, and blocks past the end
 * of a shorter file read as zeros until written.
 * One writer per image: open takes QEMU's image locks on the file
 * (image_lock.h) as a QEMU guest's writable raw disk does, so a second LUN
 * on it, or QEMU (qemu-system, qemu-io, qemu-img) holding it for write, is
 * refused (-EBUSY, logged: "<path>: in use: another process or LUN ...
 * "write" (QEMU's lock byte N)"), and QEMU is refused while we serve it.
 * ;share_rw=on (QEMU's share-rw=on) lets other writers in that share too,
 * for the rare setup whose writers coordinate among themselves (a cluster
 * file system on the LUN); nothing else does. Closing releases the
 * locks; a reopen (a new config string) closes first and takes them anew.
 * Data moves straight between the file and the kernel's ring
 * (preadv/pwritev on its buffers); FUA writes use RWF_DSYNC, SYNCHRONIZE
 * CACHE fdatasync.
 * Reads, writes and flushes are first tried on the device's own thread
 * (inline_io): a file in memory (tmpfs, ramfs) never waits for a disk
 * and runs there outright; elsewhere a read or write is tried with
 * RWF_NOWAIT (served from the page cache, or not at all) and goes to an
 * I/O thread when it would wait, or once the file system has said it
 * cannot try (EOPNOTSUPP: tmpfs and most buffered writes on 6.1).
 * UNMAP punches holes in a file (they read back as zeros). On a block
 * device it asks for what the device can do, read from its queue limits:
 * WRITE ZEROES where it has them (zeros, LBPRZ), else a plain discard
 * (BLKDISCARD: no promise of zeros, so no LBPRZ), else no unmap at all;
 * the parts of a range not aligned to the device's logical block are
 * zeroed by writing (zeroing device) or left alone (discard: UNMAP is a
 * hint).
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/magic.h>

#include "image_lock.h"
#include "scsi_defs.h"
#include "tcmu-runner.h"

enum file_unmap {
	FILE_UNMAP_NONE,
	FILE_UNMAP_PUNCH,	/* fallocate(PUNCH_HOLE): reads back zeros */
	FILE_UNMAP_DISCARD,	/* BLKDISCARD: reads back anything */
};

struct file_dev {
	int fd;
	bool is_blk;
	enum file_unmap unmap;
	uint32_t blk_lbs;	/* a block device's logical block size, else 1 */
	uint16_t rotation;	/* VPD 0xB1 MEDIUM ROTATION RATE */
	bool in_memory;		/* tmpfs/ramfs: I/O never waits for a disk */
	uint32_t phys_block;	/* the device's physical block, a file system's */
	/* RWF_NOWAIT refused (EOPNOTSUPP) for reads, writes: don't try
	 * again (atomic; set from the device thread, read there). */
	bool no_nowait[2];
};

/* "<path>[;share_rw=on|off]": the path, malloc'ed, into *path (NULL if
 * out of memory) and the option into *share; NULL, or what is wrong. */
static const char *file_parse(const char *cfg, char **path, bool *share)
{
	const char *opt = cfg ? strstr(cfg, ";" IMAGE_SHARE_OPT "=") : NULL;
	const char *val = opt ? opt + strlen(";" IMAGE_SHARE_OPT "=") : NULL;

	*path = NULL;
	*share = val && !strcmp(val, "on");
	if (!cfg || cfg[0] != '/')
		return "path must be absolute";
	if (val && !*share && strcmp(val, "off"))
		return IMAGE_SHARE_OPT " must be on or off";
	*path = opt ? strndup(cfg, opt - cfg) : strdup(cfg);
	return *path ? NULL : "out of memory";
}

/* What keeps us from serving @path, or NULL; errno in *err, if one. */
static const char *file_unservable(const char *path, int *err)
{
	struct stat st;

	*err = 0;
	if (stat(path, &st) < 0) {
		*err = errno;
		return "cannot stat";
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return "not a regular file or block device";
	if (access(path, R_OK | W_OK) < 0) {
		*err = errno;
		return "not readable and writable";
	}
	return NULL;
}

/* Whether @cfg names a file or block device we could serve; if not, and
 * @reason, why (malloc'ed). Its path (malloc'ed) and option into *path,
 * *share. */
static bool file_check(const char *cfg, char **path, bool *share, char **reason)
{
	const char *why = file_parse(cfg, path, share);
	int err = 0;

	if (!why)
		why = file_unservable(*path, &err);
	if (!why)
		return true;
	if (reason && asprintf(reason, "%s: %s%s%s", *path ? *path : cfg ? cfg : "(none)",
			       why, err ? ": " : "", err ? strerror(err) : "") < 0)
		*reason = NULL;
	return false;
}

static bool file_check_config(const char *cfg, char **reason)
{
	char *path;
	bool share, ok = file_check(cfg, &path, &share, reason);

	free(path);
	return ok;
}

/* A block device's queue attribute @attr into *v; 0, or -ENOENT if sysfs
 * does not say. A partition has its disk's queue, one level up. */
static int blk_queue_attr(dev_t rdev, const char *attr, uint64_t *v)
{
	static const char *const fmt[] = { "/sys/dev/block/%u:%u/queue/%s",
					   "/sys/dev/block/%u:%u/../queue/%s" };
	unsigned long long n;
	char path[128];

	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		FILE *f;
		int got;

		snprintf(path, sizeof(path), fmt[i], major(rdev), minor(rdev), attr);
		f = fopen(path, "re");
		if (!f)
			continue;
		got = fscanf(f, "%llu", &n);
		fclose(f);
		if (got == 1) {
			*v = n;
			return 0;
		}
	}
	return -ENOENT;
}

/* The same, 0 when unknown: for limits, where 0 means "cannot". */
static uint64_t blk_queue_limit(dev_t rdev, const char *attr)
{
	uint64_t v = 0;

	return blk_queue_attr(rdev, attr, &v) ? 0 : v;
}

/*
 * How unmap works here. A file: holes can be punched if a punch past its
 * end (which changes nothing) succeeds. A block device: WRITE ZEROES
 * (what blkdev_fallocate's punch uses), else discard, else nothing.
 */
static void file_probe_unmap(struct tcmur_device *dev, struct file_dev *fdev,
			     const struct stat *st)
{
	int lbs = 512;

	fdev->blk_lbs = 1;
	fdev->unmap = FILE_UNMAP_NONE;
	if (!S_ISBLK(st->st_mode)) {
		if (fallocate(fdev->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      st->st_size + 4096, 4096) == 0)
			fdev->unmap = FILE_UNMAP_PUNCH;
		return;
	}
	if (ioctl(fdev->fd, BLKSSZGET, &lbs) < 0 || lbs <= 0)
		lbs = 512;
	fdev->blk_lbs = lbs;
	if (blk_queue_limit(st->st_rdev, "write_zeroes_max_bytes"))
		fdev->unmap = FILE_UNMAP_PUNCH;
	else if (blk_queue_limit(st->st_rdev, "discard_max_bytes"))
		fdev->unmap = FILE_UNMAP_DISCARD;
	tcmu_dev_dbg(dev, "block device: logical block %d, unmap by %s", lbs,
		     fdev->unmap == FILE_UNMAP_PUNCH ? "write zeroes" :
		     fdev->unmap == FILE_UNMAP_DISCARD ? "discard" : "nothing");
}

/*
 * MEDIUM ROTATION RATE of the block device under the LUN (the device
 * itself, or the one a file's file system is on): its queue/rotational in
 * sysfs (a partition's is its disk's, one level up). 0 says non-rotating
 * (1); a rotating disk's rpm is unknown (0, not reported), as is a file
 * on a file system with no block device (tmpfs, NFS).
 */
static uint16_t file_probe_rotation(const struct stat *st)
{
	/* A file: the device its file system is on, if it is a block device
	 * (tmpfs, say, is not: nothing to report). */
	dev_t dev = S_ISBLK(st->st_mode) ? st->st_rdev : st->st_dev;
	uint64_t rotational;

	if (blk_queue_attr(dev, "rotational", &rotational))
		return 0;
	return rotational ? 0 : 1;
}

/* The block below the LUN: a block device's physical block, or the block
 * a file's file system reads and writes in (its st_blksize). */
static uint32_t file_probe_phys_block(int fd, const struct stat *st)
{
	unsigned int pbs = 0;

	if (S_ISBLK(st->st_mode))
		return ioctl(fd, BLKPBSZGET, &pbs) < 0 ? 0 : pbs;
	return st->st_blksize > 0 ? (uint32_t)st->st_blksize : 0;
}

static uint32_t file_physical_block_size(struct tcmur_device *dev)
{
	return ((struct file_dev *)tcmur_dev_private(dev))->phys_block;
}

/* A file whose pages live in memory only: reading and writing it is a
 * copy, never a wait for a device. */
static bool file_in_memory(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return false;
	return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
}

/* What open finds out about the open file: how unmap works, rotation,
 * the physical block; a block device smaller than the LUN is warned of. */
static void file_probe(struct tcmur_device *dev, struct file_dev *fdev, const char *path)
{
	struct stat st;
	uint64_t backing;

	fdev->in_memory = file_in_memory(fdev->fd);
	fdev->no_nowait[0] = fdev->no_nowait[1] = false;
	fdev->phys_block = 0;
	if (fstat(fdev->fd, &st) < 0)
		return;
	fdev->is_blk = S_ISBLK(st.st_mode);
	file_probe_unmap(dev, fdev, &st);
	fdev->rotation = file_probe_rotation(&st);
	fdev->phys_block = file_probe_phys_block(fdev->fd, &st);
	backing = st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(fdev->fd, BLKGETSIZE64, &backing) < 0)
		backing = 0;
	if (S_ISBLK(st.st_mode) && backing < tcmur_dev_size(dev))
		tcmu_dev_warn(dev, "%s holds %llu bytes, less than the LUN's %llu",
			      path, (unsigned long long)backing,
			      (unsigned long long)tcmur_dev_size(dev));
}

/* Open @path for the LUN and take QEMU's image locks (image_lock.h) on it;
 * fdev->fd, or -errno, logged. */
static int file_open_locked(struct tcmur_device *dev, struct file_dev *fdev,
			    const char *path, bool share)
{
	char *why = NULL;
	int err;

	fdev->fd = open(path, O_RDWR | O_CLOEXEC);
	if (fdev->fd < 0) {
		err = -errno;
		tcmu_dev_err(dev, "open %s: %s", path, strerror(errno));
		return err;
	}
	err = image_lock(fdev->fd, share ? IMAGE_WRITER_RAW_SHARED : IMAGE_WRITER_RAW, dev,
			 path, &why);
	if (err) {
		tcmu_dev_err(dev, "%s: %s", path, why ? why : strerror(-err));
		free(why);
		close(fdev->fd);
		fdev->fd = -1;
	}
	return err;
}

/* On a reopen the old descriptor is closed already (close comes first),
 * its locks with it: nothing of ours stands in the way. */
static int file_open(struct tcmur_device *dev, bool reopen)
{
	struct file_dev *fdev = tcmur_dev_private(dev);
	char *reason = NULL, *path;
	bool share;
	int err;

	(void)reopen;
	fdev->fd = -1;
	if (!file_check(tcmur_dev_config(dev), &path, &share, &reason)) {
		tcmu_dev_err(dev, "%s", reason ? reason : "bad config");
		free(reason);
		free(path);
		return -EINVAL;
	}
	err = file_open_locked(dev, fdev, path, share);
	if (!err) {
		file_probe(dev, fdev, path);
		tcmu_dev_dbg(dev, "opened %s%s", path, share ? " (" IMAGE_SHARE_OPT "=on)" : "");
	}
	free(path);
	return err;
}

/* A new size or write cache setting needs nothing of the open file (a
 * file grows as it is written; FUA arrives per command); a new path
 * means opening it: the daemon reopens. */
static int file_reconfig(struct tcmur_device *dev, const struct tcmur_reconfig *rc)
{
	(void)dev;
	return rc->has_config ? -EOPNOTSUPP : 0;
}

static uint16_t file_rotation_rate(struct tcmur_device *dev)
{
	const struct file_dev *fdev = tcmur_dev_private(dev);

	return fdev->rotation;
}

static void file_close(struct tcmur_device *dev)
{
	struct file_dev *fdev = tcmur_dev_private(dev);

	if (fdev->fd >= 0)
		close(fdev->fd);
	fdev->fd = -1;
}

/* Advance an iovec array by @n bytes in place; returns entries left. */
static size_t iov_advance(struct iovec **iov, size_t cnt, size_t n)
{
	while (cnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		cnt--;
	}
	if (cnt && n) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
	return cnt;
}

/*
 * On the device thread (cmd->nowait): whether to try @write (0 read,
 * 1 write) here, and with which extra flag. False: TCMU_STS_AGAIN.
 */
static bool file_try_nowait(const struct file_dev *fdev, const struct tcmur_cmd *cmd,
			    int write, int *flags)
{
	*flags = 0;
	if (!cmd->nowait || fdev->in_memory)
		return true;
	if (cmd->fua || __atomic_load_n(&fdev->no_nowait[write], __ATOMIC_RELAXED))
		return false;
	*flags = RWF_NOWAIT;
	return true;
}

/*
 * Move @len bytes between the file at @offset and @iov, in as many calls
 * as it takes. With RWF_NOWAIT in @flags, a transfer that would wait
 * (EAGAIN, or short) is left for an I/O thread: TCMU_STS_AGAIN, having
 * done nothing that a whole retry does not redo.
 */
static tcmu_sts file_rw(struct tcmur_device *dev, struct tcmur_cmd *cmd, int write,
			struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset,
			int flags)
{
	struct file_dev *fdev = tcmur_dev_private(dev);
	struct iovec *start = iov;
	size_t start_cnt, done = 0;
	struct iovec saved[8];
	bool nowait = flags & RWF_NOWAIT;

	iov_cnt = tcmu_iov_trim(iov, iov_cnt, len);
	start_cnt = iov_cnt;
	if (nowait) {
		/* A retry must see the iovec as it came. */
		if (iov_cnt > sizeof(saved) / sizeof(saved[0]))
			return TCMU_STS_AGAIN;
		memcpy(saved, iov, iov_cnt * sizeof(*iov));
	}
	while (done < len && iov_cnt) {
		int cnt = iov_cnt > IOV_MAX ? IOV_MAX : iov_cnt;
		ssize_t n = write ? pwritev2(fdev->fd, iov, cnt, offset + done, flags)
				  : preadv2(fdev->fd, iov, cnt, offset + done, flags);

		if (n < 0 && errno == EINTR)
			continue;
		if (nowait && (n < 0 ? errno == EAGAIN || errno == EOPNOTSUPP
				     : (size_t)n < len - done)) {
			if (n < 0 && errno == EOPNOTSUPP)
				__atomic_store_n(&fdev->no_nowait[write], true, __ATOMIC_RELAXED);
			memcpy(start, saved, start_cnt * sizeof(*start));
			return TCMU_STS_AGAIN;
		}
		if (n < 0) {
			tcmu_dev_err(dev, "%s %zu bytes at %llu: %s", write ? "write" : "read",
				     len - done, (unsigned long long)(offset + done),
				     strerror(errno));
			return tcmur_cmd_errno(cmd, -errno, write);
		}
		if (n == 0 && !write) {
			/* Past the end of the file: the rest reads as zeros. */
			tcmu_iov_zero(iov, iov_cnt);
			break;
		}
		if (n == 0) {
			/* No file system should; calling again would spin. */
			tcmu_dev_err(dev, "write %zu bytes at %llu: nothing written",
				     len - done, (unsigned long long)(offset + done));
			return tcmur_cmd_errno(cmd, -EIO, write);
		}
		done += n;
		iov_cnt = iov_advance(&iov, iov_cnt, n);
	}
	return TCMU_STS_GOOD;
}

static tcmu_sts file_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			  struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	int flags;

	if (!file_try_nowait(tcmur_dev_private(dev), cmd, 0, &flags))
		return TCMU_STS_AGAIN;
	return file_rw(dev, cmd, 0, iov, iov_cnt, len, offset, flags);
}

static tcmu_sts file_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			   struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	int flags;

	if (!file_try_nowait(tcmur_dev_private(dev), cmd, 1, &flags))
		return TCMU_STS_AGAIN;
	return file_rw(dev, cmd, 1, iov, iov_cnt, len, offset,
		       flags | (cmd->fua ? RWF_DSYNC : 0));
}

static tcmu_sts file_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	struct file_dev *fdev = tcmur_dev_private(dev);

	if (cmd->nowait && !fdev->in_memory)
		return TCMU_STS_AGAIN;
	if (fdatasync(fdev->fd) < 0) {
		tcmu_dev_err(dev, "fdatasync: %s", strerror(errno));
		return tcmur_cmd_errno(cmd, -errno, true);
	}
	return TCMU_STS_GOOD;
}

/* Write zeros over @len (less than a logical block) bytes at @offset. */
static int file_zero_bytes(struct file_dev *fdev, uint64_t offset, uint64_t len)
{
	static const uint8_t zeros[4096];

	while (len) {
		size_t n = len < sizeof(zeros) ? len : sizeof(zeros);
		ssize_t w = pwrite(fdev->fd, zeros, n, offset);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		offset += w;
		len -= w;
	}
	return 0;
}

static int file_unmap_range(struct file_dev *fdev, uint64_t offset, uint64_t len)
{
	uint64_t lbs = fdev->blk_lbs, end = offset + len;
	uint64_t first = (offset + lbs - 1) / lbs * lbs, last = end / lbs * lbs;
	int err = 0;

	if (first >= last) {	/* no whole logical block inside */
		if (fdev->unmap == FILE_UNMAP_PUNCH)
			return file_zero_bytes(fdev, offset, len);
		return 0;
	}
	if (fdev->unmap == FILE_UNMAP_PUNCH) {
		err = file_zero_bytes(fdev, offset, first - offset);
		if (!err)
			err = file_zero_bytes(fdev, last, end - last);
		if (!err && fallocate(fdev->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      first, last - first) < 0)
			err = -errno;
	} else {
		uint64_t range[2] = { first, last - first };

		if (ioctl(fdev->fd, BLKDISCARD, range) < 0)
			err = -errno;
	}
	return err;
}

static tcmu_sts file_unmap(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			   uint64_t offset, uint64_t len)
{
	struct file_dev *fdev = tcmur_dev_private(dev);
	int err = file_unmap_range(fdev, offset, len);

	if (err) {
		tcmu_dev_err(dev, "%s %llu bytes at %llu: %s",
			     fdev->unmap == FILE_UNMAP_PUNCH ? "punch" : "discard",
			     (unsigned long long)len, (unsigned long long)offset,
			     strerror(-err));
		return tcmur_cmd_errno(cmd, err, true);
	}
	return TCMU_STS_GOOD;
}

static bool file_can_unmap(struct tcmur_device *dev)
{
	return ((struct file_dev *)tcmur_dev_private(dev))->unmap != FILE_UNMAP_NONE;
}

static bool file_unmap_zeroes(struct tcmur_device *dev)
{
	return ((struct file_dev *)tcmur_dev_private(dev))->unmap == FILE_UNMAP_PUNCH;
}

/* Data or hole at @offset, and how far it goes (SEEK_DATA/SEEK_HOLE). */
static int file_lba_status(struct tcmur_device *dev, uint64_t offset, uint64_t *len,
			   bool *mapped)
{
	struct file_dev *fdev = tcmur_dev_private(dev);
	off_t data, hole;

	*mapped = true;
	if (fdev->is_blk)
		return 0;	/* a block device tells us nothing: all mapped */
	data = lseek(fdev->fd, offset, SEEK_DATA);
	if (data < 0) {
		if (errno != ENXIO)
			return -errno;
		*mapped = false;	/* nothing but hole up to the end */
		return 0;
	}
	if ((uint64_t)data > offset) {
		*mapped = false;
		if ((uint64_t)data - offset < *len)
			*len = data - offset;
		return 0;
	}
	hole = lseek(fdev->fd, offset, SEEK_HOLE);
	if (hole < 0)
		return -errno;
	if ((uint64_t)hole > offset && (uint64_t)hole - offset < *len)
		*len = hole - offset;
	return 0;
}

static bool file_can_fua(struct tcmur_device *dev)
{
	(void)dev;
	return true;
}

TCMUR_REGISTER_HANDLER(
	.name = "File-backed storage",
	.subtype = "file",
	.cfg_desc = "The absolute path of an existing file or block device to "
		    "serve, e.g. /var/lib/luns/disk1.img. The LUN's size is "
		    "the size given to targetcli. One writer per image: append "
		    ";share_rw=on only if its writers coordinate.",
	.dev_private_size = sizeof(struct file_dev),
	.thread_model = TCMUR_THREAD_PARALLEL,
	.nr_threads = 4,
	.check_config = file_check_config,
	.open = file_open,
	.close = file_close,
	.reconfig = file_reconfig,
	.read = file_read,
	.write = file_write,
	.flush = file_flush,
	.can_fua = file_can_fua,
	.unmap = file_unmap,
	.can_unmap = file_can_unmap,
	.unmap_zeroes = file_unmap_zeroes,
	.lba_status = file_lba_status,
	.rotation_rate = file_rotation_rate,
	.inline_io = true,
	.physical_block_size = file_physical_block_size,
);
