/*
 * qcow2.h: the qcow2 format behind handler_qcow.c (private to it).
 * An image is one file of a chain: the image the LUN serves (writable)
 * and its backing files (read-only, qcow2 or raw, any depth). The format
 * is QEMU's docs/interop/qcow2.txt, versions 2 and 3.
 *
 *   qcow2_header.c    header, extensions, validation; opening the chain
 *   qcow2_cache.c     a small cache of cluster-sized tables (L2, refcount)
 *   qcow2_cluster.c   L1/L2 lookup and L2 updates
 *   qcow2_refcount.c  refcounts and cluster allocation
 *   qcow2_reftable.c  growing the refcount table
 *   qcow2_repair.c    rebuilding the refcounts of a dirty image at open
 *   qcow2_data.c      reads through the chain, writes with copy-on-write,
 *                     discard
 *
 * Locks, in this order: the top image's per-cluster stripe locks (a
 * write holds the stripes of all its clusters exclusively, taken in
 * ascending order, from lookup to L2 update; a discard one cluster's; a
 * read one cluster's at a time, shared), then an image's meta lock (L1,
 * L2 and refcount caches, the refcount table, the allocation pointer),
 * held only around metadata reads and updates, never across guest data
 * I/O (it is held across the fdatasync that makes a new L2 table,
 * refcount block or refcount table stable before it is linked in).
 * Backing images have their own meta lock and are only read.
 *
 * Write ordering (crash consistency): a new cluster's refcount is set
 * before anything points to it; a new L2 table is written (zeros) and
 * made stable before the L1 entry points to it; guest data (with its
 * copy-on-write fill) is made stable before the L2 entry points to it
 * (one fdatasync for all the clusters a write command allocates); a
 * freed cluster's L2 entry is cleared and made stable before its
 * refcount drops; a freed cluster is allocated again only once its
 * refcount 0 is stable too (qcow2_free_settle: a sync after the drop).
 * A crash at any point leaves at worst leaked clusters.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef QCOW2_H
#define QCOW2_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tcmu-runner.h"

#define QCOW2_MAGIC 0x514649fbu		/* "QFI\xfb" */
#define QCOW2_MAX_L1_BYTES (32u << 20)	/* as QEMU's limit */
#define QCOW2_MAX_REFTABLE_BYTES (8u << 20)	/* as QEMU's limit */
#define QCOW2_MAX_CHAIN 64		/* backing files deeper than this: refused */
#define QCOW2_STRIPES 32		/* per-cluster locks of the top image (a write
				 * may hold all: ThreadSanitizer counts 64 at most) */

/* L1/L2 entry bits (standard L2 entries). */
#define QCOW2_OFLAG_COPIED (1ULL << 63)
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW2_OFLAG_ZERO 1ULL
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ULL

/* Incompatible feature bits (v3). */
#define QCOW2_INCOMPAT_DIRTY (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ULL << 4)

/* PROBE: a backing file named without a format: qcow2 if its magic says so. */
enum qcow2_format { QCOW2_FMT_QCOW2, QCOW2_FMT_RAW, QCOW2_FMT_PROBE };

/*
 * How qcow2_open opens a chain. CHECK: every file read-only, nothing
 * locked, nothing changed. SERVE: the top image writable, and each file
 * with QEMU's image locks (image_lock.h) as a QEMU guest's disk holds
 * them: the top image a writer's (refusing other writers), each backing
 * file a reader's (refusing writers, sharing readers). SERVE_SHARED: the
 * same, but a raw top image lets other sharing writers in (share_rw=on;
 * a qcow2 top image never does: its metadata cannot have two writers).
 */
enum qcow2_mode { QCOW2_CHECK, QCOW2_SERVE, QCOW2_SERVE_SHARED };

/* Cluster-sized tables read from the image, written through. */
struct qcow2_cache_slot {
	uint64_t offset;	/* in the image file; 0: empty */
	uint64_t used;		/* LRU stamp */
	uint8_t *data;
};

struct qcow2_cache {
	struct qcow2_cache_slot *slots;
	unsigned int nr;
	uint64_t clock;
	uint32_t size;		/* bytes per table (one cluster) */
};

/* What a guest cluster maps to. */
enum qcow2_kind {
	QCOW2_UNALLOCATED,	/* backing file, or zeros */
	QCOW2_ZERO,		/* reads zeros (host is a preallocation, or 0) */
	QCOW2_NORMAL,		/* data at host */
	QCOW2_COMPRESSED,	/* deflate stream at host, comp_len bytes */
};

struct qcow2_map {
	enum qcow2_kind kind;
	uint64_t host;
	uint32_t comp_len;
};

struct qcow2_image {
	struct tcmur_device *dev;	/* for log messages; may be NULL */
	char *path;
	int fd;
	bool writable;
	bool top;			/* the LUN's image, not a backing file */
	enum qcow2_format format;
	uint64_t size;			/* virtual size (raw: the file's) */
	struct qcow2_image *backing;	/* NULL: unallocated reads zeros */

	/* qcow2 only, from the header */
	uint32_t version;
	uint32_t cluster_bits, cluster_size;
	uint32_t l2_entries;		/* per L2 table */
	uint32_t refcount_order;
	uint32_t header_length;
	uint64_t autoclear;
	bool dirty;			/* incompatible bit 0: refcounts stale */
	uint64_t *l1;			/* host order, l1_size entries */
	uint32_t l1_size;
	uint64_t l1_offset;
	uint64_t *reftable;		/* host order */
	uint32_t reftable_size;		/* entries */
	uint64_t reftable_offset;

	pthread_mutex_t meta;		/* see the lock order above */
	struct qcow2_cache l2_cache;
	struct qcow2_cache ref_cache;
	uint64_t next_free;		/* first cluster index past the file's */
	uint64_t free_hint;		/* below next_free: where to look for a free
					 * cluster (none below it) */
	uint64_t freed_low;		/* lowest cluster freed, its 0 not yet
					 * known stable; UINT64_MAX: none */
	pthread_rwlock_t stripes[QCOW2_STRIPES];
};

/* qcow2_header.c */
/*
 * Open @path and its backing chain as @mode says. @format QCOW2_FMT_QCOW2
 * refuses a file that is not qcow2, naming its magic; QCOW2_FMT_RAW
 * serves the file as it is. On failure returns -errno (-EBUSY: a file is
 * in use, its locks held by another process or LUN) and a malloc'ed *why
 * (may be NULL if out of memory) that names the file and what was found.
 */
int qcow2_open(struct qcow2_image **out, const char *path, enum qcow2_format format,
	       enum qcow2_mode mode, struct tcmur_device *dev, char **why);
/* Close @img and its chain; NULL is a no-op. */
void qcow2_close(struct qcow2_image *img);

/* qcow2_cache.c (callers hold img->meta) */
int qcow2_cache_init(struct qcow2_cache *c, unsigned int nr, uint32_t size);
void qcow2_cache_fini(struct qcow2_cache *c);
/* The table at @offset, read from @fd if not cached; NULL and *err. */
uint8_t *qcow2_cache_get(struct qcow2_cache *c, int fd, uint64_t offset, int *err);
/* A new table at @offset whose contents the caller sets (not read). */
uint8_t *qcow2_cache_put_new(struct qcow2_cache *c, uint64_t offset);
/* Forget the table at @offset (its contents never reached the file). */
void qcow2_cache_drop(struct qcow2_cache *c, uint64_t offset);

/* qcow2_cluster.c */
/* Map guest byte @off (takes img->meta). 0 or -errno. */
int qcow2_map_get(struct qcow2_image *img, uint64_t off, struct qcow2_map *m);
/* What L2 entry @e maps to (no checks). */
void qcow2_l2_decode(const struct qcow2_image *img, uint64_t e, struct qcow2_map *m);
/* Set the L2 entry of guest @off to @entry, allocating the L2 table
 * if needed (caller holds img->meta). 0 or -errno. */
int qcow2_l2_set(struct qcow2_image *img, uint64_t off, uint64_t entry);
/* Make sure guest @off has an L2 table (caller holds img->meta). */
int qcow2_l2_ensure(struct qcow2_image *img, uint64_t off);

/* qcow2_refcount.c (callers hold img->meta) */
int qcow2_refcount_get(struct qcow2_image *img, uint64_t cluster, uint64_t *rc);
/* Add @delta (+1/-1) to the refcount of the host cluster at @host. */
int qcow2_refcount_update(struct qcow2_image *img, uint64_t host, int delta);
/* A free cluster, its refcount set to 1; its host offset in *host. */
int qcow2_alloc_cluster(struct qcow2_image *img, uint64_t *host);
/* Give the host clusters of a compressed cluster or a data cluster back:
 * one reference less for each, holes punched where none is left. The
 * clusters freed are allocated again only after qcow2_free_settle. */
int qcow2_free_host(struct qcow2_image *img, const struct qcow2_map *m);
/* Takes img->meta itself (call without it): make the refcounts dropped so
 * far stable, then let the allocator reuse the clusters they freed.
 * 0 or -errno. */
int qcow2_free_settle(struct qcow2_image *img);

/* Refcount entries per refcount block. */
uint64_t qcow2_ref_per_block(const struct qcow2_image *img);
/* Entry @i of refcount block @b. */
uint64_t qcow2_ref_entry_get(const struct qcow2_image *img, const uint8_t *b, uint64_t i);
/* Set entry @i of refcount block @b to @v; the bytes changed: *pos, *len. */
void qcow2_ref_entry_set(const struct qcow2_image *img, uint8_t *b, uint64_t i, uint64_t v,
			 uint64_t *pos, unsigned int *len);

/* qcow2_reftable.c (caller holds img->meta) */
/* A refcount table twice as large (at least) past the end of the file,
 * with the refcount blocks that count it; the header switched to it in
 * one write; the old table freed. 0 or -errno (-ENOSPC past 8 MiB). */
int qcow2_reftable_grow(struct qcow2_image *img);

/* qcow2_repair.c */
/* Rebuild the refcounts of the writable, dirty @img from what references
 * each cluster, make them stable, then clear the dirty bit (stable too);
 * logs what was fixed. 0, or -errno and why in @msg (@msg_len bytes). */
int qcow2_repair(struct qcow2_image *img, char *msg, size_t msg_len);

/* qcow2_data.c */
int qcow2_read(struct qcow2_image *img, const struct iovec *iov, size_t iov_cnt,
	       size_t len, uint64_t off);
int qcow2_write(struct qcow2_image *img, const struct iovec *iov, size_t iov_cnt,
		size_t len, uint64_t off);
/* Make [off, off + len) read zeros, freeing whole clusters. */
int qcow2_discard(struct qcow2_image *img, uint64_t off, uint64_t len);
/* GET LBA STATUS: whether @off is mapped and for how many bytes (at
 * most *len, whole clusters); deallocated only where zeros are sure. */
int qcow2_lba_status(struct qcow2_image *img, uint64_t off, uint64_t *len, bool *mapped);
/* fdatasync(2) of the image; 0 or -errno. */
int qcow2_sync(struct qcow2_image *img);

/* Whole-buffer pread/pwrite: 0 or -errno (a short read is zero-filled). */
int qcow2_pread(int fd, void *buf, size_t len, uint64_t off);
int qcow2_pwrite(int fd, const void *buf, size_t len, uint64_t off);

#endif
