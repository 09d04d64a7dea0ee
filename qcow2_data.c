/*
 * qcow2_data.c: guest data. Reads go cluster by cluster through the
 * chain (zeros, backing file, data, or inflated compressed data); writes
 * go in place to allocated clusters and otherwise to a new cluster
 * filled copy-on-write (from the backing file, zeros or the inflated
 * compressed cluster); discard clears whole clusters (v3 zero flag where
 * a backing file would show through) and writes zeros over partial ones
 * (none where the cluster reads zeros already: nothing allocated).
 * See qcow2.h for the locks and the write ordering.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "qcow2.h"

#define DISCARD_BATCH 256

int qcow2_pread(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {	/* past the end of the file: zeros */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int qcow2_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int qcow2_sync(struct qcow2_image *img)
{
	return fdatasync(img->fd) < 0 ? -errno : 0;
}

/* @len bytes of @iov from @skip on, into @out (room for @cnt entries). */
static size_t iov_slice(const struct iovec *iov, size_t cnt, size_t skip, size_t len,
			struct iovec *out)
{
	return tcmu_iov_trim(out, tcmu_iov_seek(iov, cnt, skip, out, cnt), len);
}

/* Move all of @iov (consumed) to or from @fd at @off; reads past the end
 * of the file are zeros. */
static int rw_full(int fd, bool write, struct iovec *iov, size_t cnt, uint64_t off)
{
	while (cnt) {
		int c = cnt > IOV_MAX ? IOV_MAX : cnt;
		ssize_t n = write ? pwritev(fd, iov, c, off) : preadv(fd, iov, c, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			if (write)
				return -EIO;
			tcmu_iov_zero(iov, cnt);
			return 0;
		}
		off += n;
		cnt = tcmu_iov_seek(iov, cnt, n, iov, cnt);	/* in place: moves down */
	}
	return 0;
}

/* The cluster @m (compressed) inflated into @buf (one cluster). */
static int inflate_cluster(struct qcow2_image *img, const struct qcow2_map *m, uint8_t *buf)
{
	uint8_t *in = malloc(m->comp_len);
	z_stream z = { 0 };
	int err, ret;

	if (!in)
		return -ENOMEM;
	err = qcow2_pread(img->fd, in, m->comp_len, m->host);
	if (!err && inflateInit2(&z, -15) != Z_OK)
		err = -ENOMEM;
	if (!err) {
		z.next_in = in;
		z.avail_in = m->comp_len;
		z.next_out = buf;
		z.avail_out = img->cluster_size;
		ret = inflate(&z, Z_FINISH);
		/* The stream may end short of the sectors it was given. */
		if (!(ret == Z_STREAM_END || (ret == Z_BUF_ERROR && z.avail_out == 0)) ||
		    z.avail_out)
			err = -EIO;
		inflateEnd(&z);
	}
	if (err)
		tcmu_dev_err(img->dev, "%s: compressed cluster at %llu (%u bytes): %s",
			     img->path, (unsigned long long)m->host, m->comp_len,
			     err == -EIO ? "bad deflate data" : strerror(-err));
	free(in);
	return err;
}

/* Read @n bytes of guest data at @off (within one cluster) mapped by @m. */
static int read_mapped(struct qcow2_image *img, const struct qcow2_map *m,
		       struct iovec *sl, size_t k, size_t n, uint64_t off)
{
	uint64_t in_cl = off & (img->cluster_size - 1);
	uint8_t *buf;
	int err;

	switch (m->kind) {
	case QCOW2_NORMAL:
		return rw_full(img->fd, false, sl, k, m->host + in_cl);
	case QCOW2_COMPRESSED:
		buf = malloc(img->cluster_size);
		if (!buf)
			return -ENOMEM;
		err = inflate_cluster(img, m, buf);
		if (!err)
			tcmu_iov_from_buf(sl, k, buf + in_cl, n);
		free(buf);
		return err;
	case QCOW2_UNALLOCATED:
		if (img->backing)
			return qcow2_read(img->backing, sl, k, n, off);
		/* fall through */
	default:
		tcmu_iov_zero(sl, k);
		return 0;
	}
}

/* Whether the guest cluster mapped by @m surely reads zeros without data
 * (a zero cluster, or unallocated with no backing file). */
static bool map_reads_zeros(const struct qcow2_image *img, const struct qcow2_map *m)
{
	return m->kind == QCOW2_ZERO || (m->kind == QCOW2_UNALLOCATED && !img->backing);
}

static pthread_rwlock_t *stripe_of(struct qcow2_image *img, uint64_t off)
{
	return &img->stripes[(off >> img->cluster_bits) % QCOW2_STRIPES];
}

static int read_cluster(struct qcow2_image *img, struct iovec *sl, size_t k, size_t n,
			uint64_t off)
{
	struct qcow2_map m;
	int err;

	if (img->top)
		pthread_rwlock_rdlock(stripe_of(img, off));
	err = qcow2_map_get(img, off, &m);
	if (!err)
		err = read_mapped(img, &m, sl, k, n, off);
	if (img->top)
		pthread_rwlock_unlock(stripe_of(img, off));
	return err;
}

int qcow2_read(struct qcow2_image *img, const struct iovec *iov, size_t iov_cnt,
	       size_t len, uint64_t off)
{
	struct iovec *sl = malloc((iov_cnt ? iov_cnt : 1) * sizeof(*sl));
	size_t done = 0;
	int err = 0;

	if (!sl)
		return -ENOMEM;
	while (done < len && !err) {
		uint64_t cur = off + done;
		size_t n = len - done, k;

		if (cur >= img->size) {	/* a shorter backing file: zeros */
			tcmu_iov_zero(sl, iov_slice(iov, iov_cnt, done, n, sl));
			break;
		}
		if (n > img->size - cur)
			n = img->size - cur;
		if (img->format == QCOW2_FMT_QCOW2 &&
		    n > img->cluster_size - (cur & (img->cluster_size - 1)))
			n = img->cluster_size - (cur & (img->cluster_size - 1));
		k = iov_slice(iov, iov_cnt, done, n, sl);
		if (img->format == QCOW2_FMT_RAW)
			err = rw_full(img->fd, false, sl, k, cur);
		else
			err = read_cluster(img, sl, k, n, cur);
		done += n;
	}
	free(sl);
	return err;
}

/* The guest cluster at @cstart as it reads now (@m), into @buf. */
static int cow_source(struct qcow2_image *img, const struct qcow2_map *m, uint8_t *buf,
		      uint64_t cstart)
{
	struct iovec v = { buf, img->cluster_size };

	if (m->kind == QCOW2_COMPRESSED)
		return inflate_cluster(img, m, buf);
	if (m->kind == QCOW2_UNALLOCATED && img->backing)
		return qcow2_read(img->backing, &v, 1, img->cluster_size, cstart);
	memset(buf, 0, img->cluster_size);
	return 0;
}

/* Fill the host cluster @host with the guest cluster's new contents:
 * the old ones (@m) with @n bytes of @sl over them at @off. */
static int cow_fill(struct qcow2_image *img, const struct qcow2_map *m, struct iovec *sl,
		    size_t k, size_t n, uint64_t off, uint64_t host)
{
	uint64_t in_cl = off & (img->cluster_size - 1);
	uint8_t *buf;
	int err;

	if (n == img->cluster_size)
		return rw_full(img->fd, true, sl, k, host);
	buf = malloc(img->cluster_size);
	if (!buf)
		return -ENOMEM;
	err = cow_source(img, m, buf, off - in_cl);
	if (!err) {
		tcmu_iov_to_buf(buf + in_cl, n, sl, k);
		err = qcow2_pwrite(img->fd, buf, img->cluster_size, host);
	}
	free(buf);
	return err;
}

/* A guest cluster written to a new host cluster, not yet in its L2. */
struct pending {
	uint64_t off, host;
	struct qcow2_map old;
};

/* Lock (@lock) or unlock the stripes of guest [off, off + len), in
 * ascending order: two writes never wait for each other in a circle. */
static void stripes_hold(struct qcow2_image *img, uint64_t off, size_t len, bool lock)
{
	uint64_t first = off >> img->cluster_bits;
	uint64_t last = (off + len - 1) >> img->cluster_bits;
	bool all = last - first + 1 >= QCOW2_STRIPES;

	for (unsigned int i = 0; i < QCOW2_STRIPES; i++) {
		/* stripe i is in the range if some cluster c in it has c % N == i */
		uint64_t c = first + (i + QCOW2_STRIPES - first % QCOW2_STRIPES) % QCOW2_STRIPES;

		if (!all && c > last)
			continue;
		if (lock)
			pthread_rwlock_wrlock(&img->stripes[i]);
		else
			pthread_rwlock_unlock(&img->stripes[i]);
	}
}

/*
 * One guest cluster's part of a write: in place if it has a data
 * cluster; else into a new cluster (or its preallocated zero cluster)
 * filled copy-on-write, recorded in @p for commit_pending. Zeros
 * (@zeros: the data is all zeros) where the cluster reads zeros already
 * are not written at all.
 */
static int write_piece(struct qcow2_image *img, struct iovec *sl, size_t k, size_t n,
		       uint64_t off, bool zeros, struct pending *p, bool *queued)
{
	struct qcow2_map m;
	uint64_t host;
	int err = qcow2_map_get(img, off, &m);

	*queued = false;
	if (err || (zeros && map_reads_zeros(img, &m)))
		return err;
	if (m.kind == QCOW2_NORMAL)
		return rw_full(img->fd, true, sl, k, m.host + (off & (img->cluster_size - 1)));
	host = m.host;
	if (!(m.kind == QCOW2_ZERO && m.host)) {
		pthread_mutex_lock(&img->meta);
		err = qcow2_l2_ensure(img, off);
		if (!err)
			err = qcow2_alloc_cluster(img, &host);
		pthread_mutex_unlock(&img->meta);
	}
	if (!err)
		err = cow_fill(img, &m, sl, k, n, off, host);
	if (err)
		return err;	/* a new cluster leaks: never corruption */
	p->off = off;
	p->host = host;
	p->old = m;
	*queued = true;
	return 0;
}

/* Point the L2 entries at the new clusters once their data is stable;
 * free the compressed clusters they replace once that is stable. */
static int commit_pending(struct qcow2_image *img, const struct pending *p, size_t np)
{
	bool compressed = false;
	int err = qcow2_sync(img);

	pthread_mutex_lock(&img->meta);
	for (size_t i = 0; i < np && !err; i++) {
		err = qcow2_l2_set(img, p[i].off, p[i].host | QCOW2_OFLAG_COPIED);
		compressed |= p[i].old.kind == QCOW2_COMPRESSED;
	}
	pthread_mutex_unlock(&img->meta);
	if (err || !compressed)
		return err;
	err = qcow2_sync(img);
	pthread_mutex_lock(&img->meta);
	for (size_t i = 0; i < np && !err; i++)
		if (p[i].old.kind == QCOW2_COMPRESSED)
			err = qcow2_free_host(img, &p[i].old);
	pthread_mutex_unlock(&img->meta);
	return err ? err : qcow2_free_settle(img);
}

/* A write to a qcow2 image, cluster by cluster, its clusters' stripes
 * held throughout; one sync for all the clusters it allocates. @zeros:
 * the data is all zeros (see write_piece). */
static int write_qcow2(struct qcow2_image *img, const struct iovec *iov, size_t iov_cnt,
		       size_t len, uint64_t off, bool zeros)
{
	size_t nr = ((off & (img->cluster_size - 1)) + len + img->cluster_size - 1) >>
		    img->cluster_bits;
	struct iovec *sl = malloc((iov_cnt ? iov_cnt : 1) * sizeof(*sl));
	struct pending *p = malloc((nr ? nr : 1) * sizeof(*p));
	size_t done = 0, np = 0;
	int err = sl && p ? 0 : -ENOMEM;

	if (!len || err)
		goto out;
	stripes_hold(img, off, len, true);
	while (done < len && !err) {
		uint64_t cur = off + done;
		size_t n = img->cluster_size - (cur & (img->cluster_size - 1)), k;
		bool queued;

		if (n > len - done)
			n = len - done;
		k = iov_slice(iov, iov_cnt, done, n, sl);
		err = write_piece(img, sl, k, n, cur, zeros, &p[np], &queued);
		np += queued;
		done += n;
	}
	if (!err && np)
		err = commit_pending(img, p, np);
	stripes_hold(img, off, len, false);
out:
	free(p);
	free(sl);
	return err;
}

int qcow2_write(struct qcow2_image *img, const struct iovec *iov, size_t iov_cnt,
		size_t len, uint64_t off)
{
	struct iovec *v;
	int err;

	if (img->format == QCOW2_FMT_QCOW2)
		return write_qcow2(img, iov, iov_cnt, len, off, false);
	v = malloc((iov_cnt ? iov_cnt : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	err = rw_full(img->fd, true, v, iov_slice(iov, iov_cnt, 0, len, v), off);
	free(v);
	return err;
}

/* Zeros over @len bytes at @off by writing them (no fallocate needed);
 * nothing written (nor allocated) where a qcow2 cluster reads zeros. */
static int write_zeros(struct qcow2_image *img, uint64_t off, uint64_t len)
{
	size_t chunk = len < (1u << 20) ? len : (1u << 20);
	uint8_t *z = calloc(1, chunk ? chunk : 1);
	int err = 0;

	if (!z)
		return -ENOMEM;
	while (len && !err) {
		struct iovec v = { z, len < chunk ? len : chunk };

		if (img->format == QCOW2_FMT_QCOW2)
			err = write_qcow2(img, &v, 1, v.iov_len, off, true);
		else
			err = qcow2_write(img, &v, 1, v.iov_len, off);
		off += v.iov_len;
		len -= v.iov_len;
	}
	free(z);
	return err;
}

struct discard_batch {
	struct qcow2_map freed[DISCARD_BATCH];
	unsigned int nr;
};

/* Drop the host clusters the batch's L2 entries no longer name, once
 * those entries are stable. */
static int discard_flush(struct qcow2_image *img, struct discard_batch *b)
{
	int err = 0;

	if (!b->nr)
		return 0;
	err = qcow2_sync(img);
	pthread_mutex_lock(&img->meta);
	for (unsigned int i = 0; i < b->nr && !err; i++)
		err = qcow2_free_host(img, &b->freed[i]);
	pthread_mutex_unlock(&img->meta);
	b->nr = 0;
	return err;
}

/* Make the whole guest cluster at @off read zeros without data. */
static int discard_cluster(struct qcow2_image *img, uint64_t off, struct discard_batch *b)
{
	uint64_t entry = img->backing ? QCOW2_OFLAG_ZERO : 0;
	struct qcow2_map m;
	int err;

	pthread_rwlock_wrlock(stripe_of(img, off));
	err = qcow2_map_get(img, off, &m);
	if (err || (m.kind == QCOW2_UNALLOCATED && !entry) ||
	    (m.kind == QCOW2_ZERO && !m.host))
		goto out;
	pthread_mutex_lock(&img->meta);
	err = qcow2_l2_set(img, off, entry);
	pthread_mutex_unlock(&img->meta);
	if (!err && m.kind != QCOW2_UNALLOCATED && m.host)
		b->freed[b->nr++] = m;
out:
	pthread_rwlock_unlock(stripe_of(img, off));
	return err;
}

static int discard_raw(struct qcow2_image *img, uint64_t off, uint64_t len)
{
	if (fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
		return 0;
	/* tmpfs without holes, NFS, ...: EOPNOTSUPP; write the zeros. */
	return write_zeros(img, off, len);
}

int qcow2_discard(struct qcow2_image *img, uint64_t off, uint64_t len)
{
	struct discard_batch *b;
	uint64_t end = off + len;
	int err = 0;

	if (img->format == QCOW2_FMT_RAW)
		return discard_raw(img, off, len);
	if (img->version < 3 && img->backing)	/* no zero flag: zeros are data */
		return write_zeros(img, off, len);
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	while (off < end && !err) {
		uint64_t cend = (off | (img->cluster_size - 1)) + 1;

		if (cend > img->size)
			cend = img->size;
		if (cend > end || off & (img->cluster_size - 1)) {
			/* part of a cluster: zeros written over it */
			if (cend > end)
				cend = end;
			err = write_zeros(img, off, cend - off);
		} else {
			err = discard_cluster(img, off, b);
		}
		if (!err && b->nr == DISCARD_BATCH)
			err = discard_flush(img, b);
		off = cend;
	}
	if (!err)
		err = discard_flush(img, b);
	if (!err)
		err = qcow2_free_settle(img);
	free(b);
	return err;
}

/* Whether guest @off surely reads zeros without data (a zero cluster, or
 * unallocated with no backing file): else it counts as mapped (data here
 * or in a backing file, which we do not look into). */
static int cluster_deallocated(struct qcow2_image *img, uint64_t off, bool *dealloc)
{
	struct qcow2_map m;
	int err = qcow2_map_get(img, off, &m);

	*dealloc = !err && map_reads_zeros(img, &m);
	return err;
}

int qcow2_lba_status(struct qcow2_image *img, uint64_t off, uint64_t *len, bool *mapped)
{
	uint64_t end = off + *len, cur;
	bool first, d;
	int err;

	*mapped = true;
	if (img->format == QCOW2_FMT_RAW)
		return 0;
	err = cluster_deallocated(img, off, &first);
	cur = (off | (img->cluster_size - 1)) + 1;
	while (!err && cur < end && cur < img->size) {
		err = cluster_deallocated(img, cur, &d);
		if (err || d != first)
			break;
		cur += img->cluster_size;
	}
	if (err)
		return err;
	*mapped = !first;
	if (cur < end)
		*len = cur - off;
	return 0;
}
