/*
 * qcow2_header.c: open an image and its backing chain; read, check and
 * (for the writable top image) tidy the header. What we refuse, we say
 * in *why, naming the file. See qcow2.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_lock.h"
#include "qcow2.h"

#define HDR_V2_LEN 72
#define HDR_V3_LEN 104
#define EXT_END 0x00000000u
#define EXT_BACKING_FMT 0xe2792acau

static int hdr_why(char **why, int err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Set *why to "<path>: <fmt...>" and return @err. */
static int hdr_why(char **why, int err, const char *path, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (why && (!msg || asprintf(why, "%s: %s", path, msg) < 0))
		*why = NULL;
	free(msg);
	return err;
}

/* What v3 incompatible features we cannot serve, as a reason; NULL: none.
 * The dirty bit we serve: a writable image is repaired at open. */
static const char *hdr_incompat_reason(uint64_t f)
{
	if (f & QCOW2_INCOMPAT_CORRUPT)
		return "marked corrupt; repair it with qemu-img check -r all";
	if (f & QCOW2_INCOMPAT_DATA_FILE)
		return "external data file: not supported";
	if (f & QCOW2_INCOMPAT_COMPRESSION)
		return "compression type other than zlib (zstd): not supported";
	if (f & QCOW2_INCOMPAT_EXTL2)
		return "extended L2 entries (subclusters): not supported";
	return NULL;
}

/* Fields of the header in @h (@len bytes, at least HDR_V2_LEN) into
 * @img, checked. */
static int hdr_parse(struct qcow2_image *img, const uint8_t *h, size_t len, char **why)
{
	const char *p = img->path, *r;
	uint32_t crypt = tcmu_get_be32(h + 32), snaps = tcmu_get_be32(h + 60);
	uint64_t incompat = 0, l2_span, need, reftable;

	img->version = tcmu_get_be32(h + 4);
	if (img->version != 2 && img->version != 3)
		return hdr_why(why, -ENOTSUP, p, "qcow2 version %u: not supported",
			       img->version);
	img->cluster_bits = tcmu_get_be32(h + 20);
	if (img->cluster_bits < 9 || img->cluster_bits > 21)
		return hdr_why(why, -EINVAL, p, "corrupt header: cluster_bits %u",
			       img->cluster_bits);
	img->cluster_size = 1u << img->cluster_bits;
	img->l2_entries = img->cluster_size / 8;
	img->size = tcmu_get_be64(h + 24);
	if (crypt)
		return hdr_why(why, -ENOTSUP, p, "encrypted (crypt_method %u): not supported",
			       crypt);
	img->refcount_order = 4;
	img->header_length = HDR_V2_LEN;
	if (img->version == 3) {
		if (len < HDR_V3_LEN)
			return hdr_why(why, -EINVAL, p, "corrupt header: too short");
		incompat = tcmu_get_be64(h + 72);
		img->autoclear = tcmu_get_be64(h + 88);
		img->refcount_order = tcmu_get_be32(h + 96);
		img->header_length = tcmu_get_be32(h + 100);
		if (img->header_length < HDR_V3_LEN || img->header_length % 8 ||
		    img->header_length > img->cluster_size)
			return hdr_why(why, -EINVAL, p, "corrupt header: header_length %u",
				       img->header_length);
		if (img->refcount_order > 6)
			return hdr_why(why, -EINVAL, p, "corrupt header: refcount_order %u",
				       img->refcount_order);
	}
	r = hdr_incompat_reason(incompat);
	if (r)
		return hdr_why(why, -ENOTSUP, p, "%s", r);
	if (incompat & ~QCOW2_INCOMPAT_DIRTY)
		return hdr_why(why, -ENOTSUP, p, "unknown incompatible features 0x%llx",
			       (unsigned long long)(incompat & ~QCOW2_INCOMPAT_DIRTY));
	img->dirty = incompat & QCOW2_INCOMPAT_DIRTY;
	if (snaps && img->top)
		return hdr_why(why, -ENOTSUP, p, "internal snapshots (%u): not supported", snaps);
	img->l1_size = tcmu_get_be32(h + 36);
	img->l1_offset = tcmu_get_be64(h + 40);
	img->reftable_offset = tcmu_get_be64(h + 48);
	reftable = tcmu_get_be32(h + 56) * (uint64_t)img->cluster_size / 8;
	l2_span = (uint64_t)img->cluster_size * img->l2_entries;
	need = img->size / l2_span + (img->size % l2_span != 0);	/* no wrap near 2^64 */
	if (img->l1_size < need || (uint64_t)img->l1_size * 8 > QCOW2_MAX_L1_BYTES ||
	    img->l1_offset % img->cluster_size)
		return hdr_why(why, -EINVAL, p, "corrupt header: L1 table of %u entries at %llu "
			       "for a size of %llu", img->l1_size,
			       (unsigned long long)img->l1_offset,
			       (unsigned long long)img->size);
	if (!reftable || reftable * 8 > QCOW2_MAX_REFTABLE_BYTES ||
	    !img->reftable_offset || img->reftable_offset % img->cluster_size)
		return hdr_why(why, -EINVAL, p, "corrupt header: refcount table of %llu entries "
			       "at %llu", (unsigned long long)reftable,
			       (unsigned long long)img->reftable_offset);
	img->reftable_size = reftable;
	return 0;
}

/* The backing format extension into @fmt ("" if none). */
static int hdr_extensions(struct qcow2_image *img, const uint8_t *c, char *fmt,
			  size_t fmt_len, char **why)
{
	uint64_t off = img->header_length;

	fmt[0] = 0;
	while (off + 8 <= img->cluster_size) {
		uint32_t type = tcmu_get_be32(c + off), len = tcmu_get_be32(c + off + 4);

		if (type == EXT_END)
			return 0;
		if (off + 8 + len > img->cluster_size)
			return hdr_why(why, -EINVAL, img->path,
				       "corrupt header: extension 0x%x of %u bytes past the "
				       "first cluster", type, len);
		if (type == EXT_BACKING_FMT) {
			if (len >= fmt_len)
				return hdr_why(why, -EINVAL, img->path,
					       "corrupt header: backing format of %u bytes", len);
			memcpy(fmt, c + off + 8, len);
			fmt[len] = 0;
		}
		off += 8 + ((len + 7ULL) & ~7ULL);
	}
	return 0;
}

/* A table of @n big-endian 64-bit entries at @off, in host order. */
static int hdr_read_table(int fd, uint64_t off, uint32_t n, uint64_t **out)
{
	uint64_t *t = calloc(n ? n : 1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	err = qcow2_pread(fd, t, (size_t)n * 8, off);
	if (err) {
		free(t);
		return err;
	}
	for (uint32_t i = 0; i < n; i++)
		t[i] = tcmu_get_be64((const uint8_t *)&t[i]);
	*out = t;
	return 0;
}

static int open_chain(struct qcow2_image **out, const char *path, enum qcow2_format fmt,
		      enum qcow2_mode mode, struct tcmur_device *dev, unsigned int depth,
		      char **why);

/* Open the backing file the header at @c names, if any (@mode: the
 * chain's). */
static int hdr_open_backing(struct qcow2_image *img, const uint8_t *c, const char *fmt,
			    enum qcow2_mode mode, unsigned int depth, char **why)
{
	uint64_t off = tcmu_get_be64(c + 8);
	uint32_t len = tcmu_get_be32(c + 16);
	enum qcow2_format bf = QCOW2_FMT_QCOW2;
	char name[1024], *full = NULL;
	const char *slash;
	int err;

	if (!off)
		return 0;
	/* Not off + len: a crafted offset near 2^64 wraps that past the check. */
	if (len == 0 || len >= sizeof(name) || off >= img->cluster_size ||
	    len > img->cluster_size - off)
		return hdr_why(why, -EINVAL, img->path,
			       "corrupt header: backing file name of %u bytes at %llu", len,
			       (unsigned long long)off);
	memcpy(name, c + off, len);
	name[len] = 0;
	if (!strcmp(fmt, "raw")) {
		bf = QCOW2_FMT_RAW;
	} else if (fmt[0] && strcmp(fmt, "qcow2")) {
		return hdr_why(why, -ENOTSUP, img->path, "backing file %s: format %s not "
			       "supported (qcow2 or raw)", name, fmt);
	} else if (!fmt[0]) {
		bf = QCOW2_FMT_PROBE;
	}
	slash = strrchr(img->path, '/');
	if (name[0] == '/' || !slash)
		full = strdup(name);
	else if (asprintf(&full, "%.*s/%s", (int)(slash - img->path), img->path, name) < 0)
		full = NULL;
	if (!full)
		return hdr_why(why, -ENOMEM, img->path, "out of memory");
	err = open_chain(&img->backing, full, bf, mode, img->dev, depth + 1, why);
	free(full);
	if (err && why && depth == 0) {	/* say which image wanted it, once */
		char *inner = *why;

		hdr_why(why, err, img->path, "backing file %s: %s", name,
			inner ? inner : strerror(-err));
		free(inner);
	}
	return err;
}

/* Read cluster 0, parse and check it, open the backing file (@mode: the
 * chain's), load L1 and refcount tables. */
static int hdr_load(struct qcow2_image *img, enum qcow2_mode mode, unsigned int depth,
		    char **why)
{
	uint8_t h[HDR_V3_LEN] = { 0 }, *c;
	char fmt[32];
	int err;

	err = qcow2_pread(img->fd, h, sizeof(h), 0);
	if (err)
		return hdr_why(why, err, img->path, "read header: %s", strerror(-err));
	if (tcmu_get_be32(h) != QCOW2_MAGIC)
		return hdr_why(why, -EINVAL, img->path, "not a qcow2 image: magic 0x%08x "
			       "(a raw image is served as qcow/<path>;format=raw)",
			       tcmu_get_be32(h));
	err = hdr_parse(img, h, sizeof(h), why);
	if (err)
		return err;
	c = calloc(1, img->cluster_size);
	if (!c)
		return hdr_why(why, -ENOMEM, img->path, "out of memory");
	err = qcow2_pread(img->fd, c, img->cluster_size, 0);
	if (!err)
		err = hdr_extensions(img, c, fmt, sizeof(fmt), why);
	if (!err)
		err = hdr_open_backing(img, c, fmt, mode, depth, why);
	free(c);
	if (err)
		return err;
	err = hdr_read_table(img->fd, img->l1_offset, img->l1_size, &img->l1);
	if (!err)
		err = hdr_read_table(img->fd, img->reftable_offset, img->reftable_size,
				     &img->reftable);
	if (err)
		return hdr_why(why, err, img->path, "read L1/refcount table: %s",
			       strerror(-err));
	return 0;
}

/* Writable v3: clear autoclear bits (we keep no bitmaps up to date). */
static int hdr_clear_autoclear(struct qcow2_image *img, char **why)
{
	uint8_t z[8] = { 0 };
	int err;

	if (!img->writable || img->version < 3 || !img->autoclear)
		return 0;
	err = qcow2_pwrite(img->fd, z, sizeof(z), 88);
	if (!err)
		err = qcow2_sync(img);
	if (err)
		return hdr_why(why, err, img->path, "clear autoclear features: %s",
			       strerror(-err));
	img->autoclear = 0;
	return 0;
}

/* Writable and dirty: refcounts rebuilt, then the bit cleared. */
static int hdr_repair_dirty(struct qcow2_image *img, char **why)
{
	char msg[256] = "";
	int err;

	if (!img->writable || !img->dirty)
		return 0;
	err = qcow2_repair(img, msg, sizeof(msg));
	if (err)
		return hdr_why(why, err, img->path, "dirty image: rebuilding the refcounts "
			       "failed: %s; repair it with qemu-img check -r all", msg);
	img->dirty = false;
	return 0;
}

static int img_setup(struct qcow2_image *img, enum qcow2_mode mode, unsigned int depth,
		     char **why)
{
	struct stat st;
	uint8_t magic[4] = { 0 };
	int err;

	if (fstat(img->fd, &st) < 0)
		return hdr_why(why, -errno, img->path, "stat: %s", strerror(errno));
	if (img->format == QCOW2_FMT_PROBE) {
		err = qcow2_pread(img->fd, magic, sizeof(magic), 0);
		if (err)
			return hdr_why(why, err, img->path, "read: %s", strerror(-err));
		img->format = tcmu_get_be32(magic) == QCOW2_MAGIC ? QCOW2_FMT_QCOW2
								 : QCOW2_FMT_RAW;
	}
	if (img->format == QCOW2_FMT_RAW) {
		img->size = st.st_size;
		return 0;
	}
	err = hdr_load(img, mode, depth, why);
	if (err)
		return err;
	img->next_free = ((uint64_t)st.st_size + img->cluster_size - 1) >> img->cluster_bits;
	img->free_hint = 0;		/* what was free before we opened it is, stably */
	img->freed_low = UINT64_MAX;
	if (qcow2_cache_init(&img->l2_cache, 16, img->cluster_size) ||
	    qcow2_cache_init(&img->ref_cache, 4, img->cluster_size))
		return hdr_why(why, -ENOMEM, img->path, "out of memory");
	err = hdr_clear_autoclear(img, why);
	if (!err)
		err = hdr_repair_dirty(img, why);
	return err;
}

/*
 * QEMU's image locks on @img (just opened, nothing read yet) for the
 * chain's @mode: the top image a writer's, a backing file a reader's;
 * none for a check. 0 or -errno (-EBUSY: in use), *why naming the file.
 */
static int img_lock(struct qcow2_image *img, enum qcow2_mode mode, char **why)
{
	enum image_role role = IMAGE_READER_BACKING;
	char *reason = NULL;
	int err;

	if (mode == QCOW2_CHECK)
		return 0;
	if (img->top && img->format != QCOW2_FMT_RAW)
		role = IMAGE_WRITER_QCOW2;	/* never shared: see qcow2.h */
	else if (img->top)
		role = mode == QCOW2_SERVE_SHARED ? IMAGE_WRITER_RAW_SHARED : IMAGE_WRITER_RAW;
	err = image_lock(img->fd, role, img->dev, img->path, &reason);
	if (err)
		hdr_why(why, err, img->path, "%s", reason ? reason : strerror(-err));
	free(reason);
	return err;
}

static int open_chain(struct qcow2_image **out, const char *path, enum qcow2_format fmt,
		      enum qcow2_mode mode, struct tcmur_device *dev, unsigned int depth,
		      char **why)
{
	struct qcow2_image *img;
	int err;

	if (depth > QCOW2_MAX_CHAIN)
		return hdr_why(why, -ELOOP, path, "backing chain deeper than %d (a loop?)",
			       QCOW2_MAX_CHAIN);
	img = calloc(1, sizeof(*img));
	if (!img || !(img->path = strdup(path))) {
		free(img);
		return hdr_why(why, -ENOMEM, path, "out of memory");
	}
	img->dev = dev;
	img->top = depth == 0;
	img->format = fmt;
	img->writable = img->top && mode != QCOW2_CHECK;
	pthread_mutex_init(&img->meta, NULL);
	for (int i = 0; i < QCOW2_STRIPES; i++)
		pthread_rwlock_init(&img->stripes[i], NULL);
	img->fd = open(path, (img->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (img->fd < 0)
		err = hdr_why(why, -errno, path, "open: %s", strerror(errno));
	else
		err = img_lock(img, mode, why);
	if (!err)
		err = img_setup(img, mode, depth, why);
	if (err) {
		qcow2_close(img);
		return err;
	}
	*out = img;
	return 0;
}

int qcow2_open(struct qcow2_image **out, const char *path, enum qcow2_format format,
	       enum qcow2_mode mode, struct tcmur_device *dev, char **why)
{
	*out = NULL;
	if (why)
		*why = NULL;
	return open_chain(out, path, format, mode, dev, 0, why);
}

void qcow2_close(struct qcow2_image *img)
{
	if (!img)
		return;
	qcow2_close(img->backing);
	if (img->fd >= 0)
		close(img->fd);
	qcow2_cache_fini(&img->l2_cache);
	qcow2_cache_fini(&img->ref_cache);
	for (int i = 0; i < QCOW2_STRIPES; i++)
		pthread_rwlock_destroy(&img->stripes[i]);
	pthread_mutex_destroy(&img->meta);
	free(img->l1);
	free(img->reftable);
	free(img->path);
	free(img);
}
