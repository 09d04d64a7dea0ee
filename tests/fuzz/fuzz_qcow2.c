/*
 * fuzz_qcow2: any bytes as a qcow2 image file, through the format code
 * handler_qcow uses (qcow2_*.c, linked in as they are). Each input is
 * opened twice: read-only, as check_config opens it, then (the file
 * written afresh) read-write, as a LUN opens it, which repairs a dirty
 * image and clears autoclear bits. An image that opens is then read
 * (through L1 and L2 entries, backing files, compressed clusters),
 * asked for its LBA status and refcounts, and the writable one written
 * and discarded (cluster allocation, refcount blocks, a growing refcount
 * table).
 *
 * The file lies in a directory of its own (on tmpfs where /dev/shm is),
 * named x.qcow2, beside b.raw, a small raw file a backing file name may
 * point to. A refused open must say why, naming the file; an image that
 * opens must keep the header check's promises (the L1 table covers the
 * virtual size, tables and clusters within their limits), so that no
 * later lookup goes past a table or allocates more than those limits;
 * every call returns 0 or -errno. An input costs at most about 100 MiB
 * (an L1 table of 32 MiB, a refcount table of 8 MiB, two caches of 20
 * clusters of up to 2 MiB) and a few milliseconds. Logs go to /dev/null
 * (TEST_LOG=1: stderr, with each open's outcome).
 *
 * Input: the image file as it is, so a crash input is an image that
 * qemu-img can look at. Seeds: small images made by qemu-img
 * (seeds_gen.c); inputs that once crashed or broke a promise are kept
 * beside them as crash-<what>, and `make check-unit` replays them all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "qcow2.h"
#include "sim_dev.h"

#define IO_LEN 4096
#define WALK_L1 4		/* allocated L1 entries read per image */
#define WALK_REFS 64		/* refcounts looked up per image */

struct fq {
	char dir[64];
	char path[96];
	struct log_cfg log;
	struct tcmur_device dev;	/* only its log and name are used */
};

static struct fq *fq;

static void fq_write(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
}

static void fq_cleanup(void)
{
	char p[96];

	snprintf(p, sizeof(p), "%s/b.raw", fq->dir);
	unlink(p);
	unlink(fq->path);
	rmdir(fq->dir);
	sim_log_fini(&fq->log);
}

static void fq_setup(void)
{
	const char *tmp = access("/dev/shm", W_OK) ? getenv("TMPDIR") : "/dev/shm";
	uint8_t raw[IO_LEN];
	char p[96];

	fq = calloc(1, sizeof(*fq));
	if (!fq)
		abort();
	snprintf(fq->dir, sizeof(fq->dir), "%.40s/fuzz-qcow2-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(fq->dir))
		abort();
	snprintf(fq->path, sizeof(fq->path), "%s/x.qcow2", fq->dir);
	snprintf(p, sizeof(p), "%s/b.raw", fq->dir);
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = i * 7 + 1;
	fq_write(p, raw, sizeof(raw));
	sim_log_init(&fq->log);
	fq->dev.log = &fq->log;
	snprintf(fq->dev.who, sizeof(fq->dev.who), "fuzz qcow");
	atexit(fq_cleanup);
}

/* A broken promise: say which, then abort (the fuzzer keeps the input). */
static void broken(const char *what)
{
	fprintf(stderr, "fuzz_qcow2: %s\n", what);
	abort();
}

/* 0 or an errno, nothing else. */
static void check_err(int err)
{
	if (err > 0 || err < -4095)
		broken("a return value neither 0 nor -errno");
}

/* What hdr_parse promises of an image it let through. */
static void check_image(const struct qcow2_image *img)
{
	uint64_t l2_span;

	if (img->format == QCOW2_FMT_RAW)
		return;
	if (img->cluster_bits < 9 || img->cluster_bits > 21 ||
	    img->cluster_size != 1u << img->cluster_bits ||
	    img->l2_entries != img->cluster_size / 8 ||
	    img->header_length > img->cluster_size || img->refcount_order > 6)
		broken("cluster size, header length or refcount order out of range");
	l2_span = (uint64_t)img->cluster_size * img->l2_entries;
	if ((uint64_t)img->l1_size * 8 > QCOW2_MAX_L1_BYTES ||
	    (uint64_t)img->l1_size * l2_span < img->size ||
	    img->l1_offset % img->cluster_size)
		broken("an L1 table too large, misaligned, or short of the virtual size");
	if (!img->reftable_size || (uint64_t)img->reftable_size * 8 > QCOW2_MAX_REFTABLE_BYTES ||
	    img->reftable_offset % img->cluster_size)
		broken("a refcount table empty, too large or misaligned");
}

/* IO_LEN bytes at @off (two iovecs of uneven length), and the LBA
 * status from there. */
static void read_at(struct qcow2_image *img, uint64_t off, uint8_t *buf)
{
	struct iovec iov[2] = { { buf, 1000 }, { buf + 1000, IO_LEN - 1000 } };
	uint64_t len = 16ULL << img->cluster_bits;
	bool mapped;

	if (off >= img->size)
		return;
	check_err(qcow2_read(img, iov, 2, IO_LEN, off));
	check_err(qcow2_lba_status(img, off, &len, &mapped));
}

/* Reads at the start, the middle and the end, and where the first few
 * allocated L1 entries point; refcounts of the first host clusters and
 * of those L2 tables. */
static void walk(struct qcow2_image *img, uint8_t *buf)
{
	unsigned int n = 0;
	uint64_t rc;

	for (struct qcow2_image *i = img; i; i = i->backing, n++)
		check_image(i);
	if (n > QCOW2_MAX_CHAIN + 1)
		broken("a backing chain deeper than the limit");
	n = 0;
	if (img->format != QCOW2_FMT_QCOW2)
		return;
	read_at(img, 0, buf);
	read_at(img, img->size / 2, buf);
	read_at(img, img->size > IO_LEN ? img->size - IO_LEN : 0, buf);
	for (uint32_t i = 0; i < img->l1_size && n < WALK_L1; i++) {
		uint64_t l2 = img->l1[i] & QCOW2_OFFSET_MASK;

		if (!l2)
			continue;
		n++;
		read_at(img, (uint64_t)i * img->l2_entries << img->cluster_bits, buf);
		pthread_mutex_lock(&img->meta);
		check_err(qcow2_refcount_get(img, l2 >> img->cluster_bits, &rc));
		pthread_mutex_unlock(&img->meta);
	}
	pthread_mutex_lock(&img->meta);
	for (uint64_t c = 0; c < WALK_REFS; c++)
		check_err(qcow2_refcount_get(img, c, &rc));
	pthread_mutex_unlock(&img->meta);
}

/* A write over the start (partial clusters at both ends), a discard in
 * the middle, then the reads again. */
static void scribble(struct qcow2_image *img, uint8_t *buf)
{
	struct iovec iov = { buf, IO_LEN - 1024 };
	uint64_t mid = (img->size / 2) & ~((uint64_t)img->cluster_size - 1);

	memset(buf, 0xa5, IO_LEN);
	if (img->size >= 512 + iov.iov_len)
		check_err(qcow2_write(img, &iov, 1, iov.iov_len, 512));
	if (img->size >= mid + 2 * img->cluster_size)
		check_err(qcow2_discard(img, mid, 2 * img->cluster_size));
	walk(img, buf);
}

static void open_walk(const uint8_t *data, size_t size, bool writable, uint8_t *buf)
{
	struct qcow2_image *img = (void *)1;
	char *why = (void *)1;
	int err;

	fq_write(fq->path, data, size);
	err = qcow2_open(&img, fq->path, QCOW2_FMT_QCOW2, writable, &fq->dev, &why);
	check_err(err);
	if (err) {
		/* refused: no image, and a reason that names the file */
		if (img)
			broken("an image from a refused open");
		if (err != -ENOMEM && (!why || strncmp(why, fq->path, strlen(fq->path))))
			broken("a refusal whose reason does not name the file");
		tcmu_dev_info(&fq->dev, "refused %s: %s", writable ? "read-write" : "read-only",
			      why ? why : strerror(-err));
		free(why);
		return;
	}
	if (!img || why)
		broken("an open that succeeded without an image, or with a reason");
	tcmu_dev_info(&fq->dev, "opened %s: size %llu", writable ? "read-write" : "read-only",
		      (unsigned long long)img->size);
	walk(img, buf);
	if (writable)
		scribble(img, buf);
	qcow2_close(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(IO_LEN);

	if (!fq)
		fq_setup();
	open_walk(data, size, false, buf);
	open_walk(data, size, true, buf);
	free(buf);
	return 0;
}
