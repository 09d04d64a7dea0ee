/*
 * image_lock.h: QEMU's image locks, taken on the files the file and qcow
 * handlers serve (handler_file.c, qcow2_header.c), so that two LUNs on
 * one image, or a LUN and a QEMU process (qemu-system, qemu-io,
 * qemu-img, qemu-storage-daemon), never both write it. Private to those
 * handlers: built into each of their plugins.
 *
 * QEMU's scheme (block/file-posix.c): an opener's use of an image is a
 * set of permissions, bit 0 consistent read, 1 write, 2 write unchanged,
 * 3 resize (the four QEMU 6.2 and later know; 7.2 is Debian 12's). It
 * marks each permission it has with a read lock on byte 100 + bit of the
 * file, and each it will not share with others with one on byte 200 +
 * bit: open file description (OFD) locks, F_OFD_SETLK, never written
 * data (the bytes are lock ranges only, past the end of the file or
 * not). Then it asks (F_OFD_GETLK, for a write lock that another
 * description's read lock would block) whether anyone else holds byte
 * 200 + bit of a permission it wants (someone will not share it) or
 * byte 100 + bit of one it will not share (someone has it): if so, it
 * is refused. Locking before asking means two openers racing both see
 * each other and both give up; never do both go on.
 *
 * What QEMU 7.2 holds (read from /proc/locks), the first four being the
 * roles below:
 *   a guest's writable raw disk      has CR, W          shares all but W
 *     with share-rw=on               has CR, W          shares all
 *   a guest's writable qcow2 image   has CR, W, RESIZE  shares CR, WU
 *   a backing file (read-only)       has CR             shares all but W, RESIZE
 *   qemu-io writing a raw image      has CR, W          shares all
 * So while a LUN serves an image, qemu-io or qemu-img opening it for
 * write is refused by QEMU's own check, and so is qemu-img info on a
 * qcow2 image without -U (force share) as against a running guest; and
 * a LUN is refused while they hold it for write.
 *
 * The locks belong to the open file description: two LUNs of one daemon,
 * each with its own open(), conflict as two processes do (no table of
 * ours), and close() releases them. A reopen closes first, so it never
 * meets its own old locks, and takes them again. A file system without
 * OFD locks (EINVAL, ENOLCK, EOPNOTSUPP): one warning for the open, and
 * the image is served unlocked.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef IMAGE_LOCK_H
#define IMAGE_LOCK_H

#include "tcmu-runner.h"

/* Who we are to the image, in QEMU's terms (the table above). */
enum image_role {
	IMAGE_WRITER_RAW,		/* a raw image or block device we write */
	IMAGE_WRITER_RAW_SHARED,	/* the same, others may write too (share_rw=on) */
	IMAGE_WRITER_QCOW2,		/* a qcow2 image we write */
	IMAGE_READER_BACKING,		/* a backing file we only read */
};

/* The config option that lets other writers in (raw images only). */
#define IMAGE_SHARE_OPT "share_rw"

/*
 * Take @role's locks on @fd (the image @path, opened by @dev's handler).
 * 0: locked; or the file system has no OFD locks (warned, via @dev if not
 * NULL). -EBUSY: another open file description holds a conflicting lock;
 * none of ours is left, and *why (malloc'ed, NULL if out of memory) says
 * which ("in use: another process or LUN ..."), without the path. Other
 * -errno: the lock call failed (*why says so).
 */
int image_lock(int fd, enum image_role role, struct tcmur_device *dev, const char *path,
	       char **why) __attribute__((visibility("hidden")));

#endif
