/*
 * image_lock.c: QEMU's image locks on a served file; see image_lock.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_lock.h"

#define PERM_BASE 100		/* byte PERM_BASE + bit: we have that permission */
#define SHARED_BASE 200		/* byte SHARED_BASE + bit: we do not share it */
#define PERM_BITS 4

#define PERM_CONSISTENT_READ 0x1u
#define PERM_WRITE 0x2u
#define PERM_WRITE_UNCHANGED 0x4u
#define PERM_RESIZE 0x8u
#define PERM_ALL 0xfu

/* QEMU's names for the permissions, as its messages give them. */
static const char *const perm_names[PERM_BITS] = {
	"consistent read", "write", "write unchanged", "resize",
};

static const struct {
	unsigned int perm, shared;
} roles[] = {
	[IMAGE_WRITER_RAW] = { PERM_CONSISTENT_READ | PERM_WRITE, PERM_ALL & ~PERM_WRITE },
	[IMAGE_WRITER_RAW_SHARED] = { PERM_CONSISTENT_READ | PERM_WRITE, PERM_ALL },
	[IMAGE_WRITER_QCOW2] = { PERM_CONSISTENT_READ | PERM_WRITE | PERM_RESIZE,
				 PERM_CONSISTENT_READ | PERM_WRITE_UNCHANGED },
	[IMAGE_READER_BACKING] = { PERM_CONSISTENT_READ,
				   PERM_ALL & ~(PERM_WRITE | PERM_RESIZE) },
};

/* F_OFD_SETLK of @type (F_RDLCK, F_UNLCK) on @len bytes at @start. */
static int lock_bytes(int fd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start,
			    .l_len = len };

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* Whether another open file description holds a lock on byte @off that
 * a write lock would meet: 1 yes, 0 no, or -errno. */
static int byte_taken(int fd, off_t off)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off,
			    .l_len = 1 };

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

/* Our read locks: PERM_BASE + bit for what we have, SHARED_BASE + bit
 * for what we do not share. 0 or -errno. */
static int apply(int fd, unsigned int perm, unsigned int shared)
{
	int err = 0;

	for (int bit = 0; bit < PERM_BITS && !err; bit++) {
		if (perm & (1u << bit))
			err = lock_bytes(fd, F_RDLCK, PERM_BASE + bit, 1);
		if (!err && !(shared & (1u << bit)))
			err = lock_bytes(fd, F_RDLCK, SHARED_BASE + bit, 1);
	}
	return err;
}

/*
 * Whether anyone else stands in the way: holds SHARED_BASE + bit of a
 * permission we want, or PERM_BASE + bit of one we do not share. 0, -EBUSY
 * with the reason in *why, or -errno.
 */
static int check(int fd, unsigned int perm, unsigned int shared, char **why)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int bit = 0; bit < PERM_BITS; bit++) {
			unsigned int mask = pass ? ~shared : perm;
			int off = (pass ? PERM_BASE : SHARED_BASE) + bit;
			int taken;

			if (!(mask & (1u << bit)))
				continue;
			taken = byte_taken(fd, off);
			if (taken < 0)
				return taken;
			if (!taken)
				continue;
			if (asprintf(why, pass ? "in use: another process or LUN has it open for "
				     "\"%s\" (QEMU's lock byte %d), which this LUN does not share"
				     : "in use: another process or LUN holds it and does not "
				     "share \"%s\" (QEMU's lock byte %d)", perm_names[bit],
				     off) < 0)
				*why = NULL;
			return -EBUSY;
		}
	}
	return 0;
}

static bool no_ofd_locks(int err)
{
	return err == -EINVAL || err == -ENOLCK || err == -EOPNOTSUPP;
}

int image_lock(int fd, enum image_role role, struct tcmur_device *dev, const char *path,
	       char **why)
{
	unsigned int perm = roles[role].perm, shared = roles[role].shared;
	int err;

	*why = NULL;
	err = apply(fd, perm, shared);
	if (!err)
		err = check(fd, perm, shared, why);
	if (!err)
		return 0;
	lock_bytes(fd, F_UNLCK, PERM_BASE, SHARED_BASE + PERM_BITS - PERM_BASE);
	if (no_ofd_locks(err)) {
		tcmu_dev_warn(dev, "%s: the file system has no OFD locks (%s): served without "
			      "QEMU's image locks, nothing keeps another writer out", path,
			      strerror(-err));
		return 0;
	}
	if (err == -EAGAIN || err == -EACCES) {
		/* A write lock on our bytes: not QEMU's, but someone's. */
		err = -EBUSY;
		if (asprintf(why, "in use: another process holds a write lock on QEMU's "
			     "lock bytes") < 0)
			*why = NULL;
	} else if (err != -EBUSY && asprintf(why, "lock: %s", strerror(-err)) < 0) {
		*why = NULL;
	}
	return err;
}
