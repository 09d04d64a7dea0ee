/*
 * handler_qcow writes images QEMU agrees with: after writes of 512 B to
 * 128 KiB at offsets unaligned to clusters (copy-on-write from a backing
 * file, v2 and v3), over preallocated zero clusters, through new
 * refcount blocks (1-, 16- and 64-bit refcounts) and a grown refcount
 * table, UNMAP (v3 zero flag, v2 with and without a backing file) and
 * writes queued at once on several I/O threads, qemu-img check finds no
 * error and no leak and qemu-img compare finds the image equal to a raw
 * file the test wrote the same bytes to. (Compressed clusters:
 * test_qcow_compressed.c; zero clusters over a backing file, against
 * qemu-io: test_qcow_zero_backing.c.)
 * Where the file system refuses fallocate (tmpfs, NFS: EOPNOTSUPP;
 * faked here by interposing it), UNMAP still leaves zeros, by writing
 * them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcow_fixture.h"
#include "unit_test.h"

#define KiB 1024
#define MiB (1024 * 1024)

/* Set: fallocate(2) fails with EOPNOTSUPP, as on a file system without
 * it. The handler (a plugin) binds to this definition: the test binary
 * exports it (-rdynamic) and comes first in the lookup order. */
static bool no_fallocate;
static unsigned int fallocate_refused;

int fallocate(int fd, int mode, off_t off, off_t len)
{
	int (*real)(int, int, off_t, off_t);

	if (__atomic_load_n(&no_fallocate, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&fallocate_refused, 1, __ATOMIC_RELAXED);
		errno = EOPNOTSUPP;
		return -1;
	}
	real = (int (*)(int, int, off_t, off_t))dlsym(RTLD_NEXT, "fallocate");
	return real ? real(fd, mode, off, len) : (errno = ENOSYS, -1);
}

/* QEMU's verdict on @img once the device is gone: no error, no leak,
 * and the same data as ref.raw. */
static void assert_qemu_agrees(struct qfx *f, const char *img)
{
	int rc = qfx_sh(f, "qemu-img check %s", img);

	if (rc != 0)
		fail_msg("qemu-img check %s: exit %d:\n%s", img, rc, f->out);
	assert_non_null(strstr(f->out, "No errors were found on the image."));
	rc = qfx_sh(f, "qemu-img compare -F raw %s ref.raw", img);
	if (rc != 0)
		fail_msg("qemu-img compare %s ref.raw: exit %d:\n%s", img, rc, f->out);
}

static const struct { uint64_t off; size_t len; } unaligned[] = {
	{ 512, 512 },			/* inside cluster 0 */
	{ 60 * KiB, 8 * KiB },		/* across clusters 0 and 1 */
	{ 200 * KiB + 512, 4 * KiB },
	{ 256 * KiB, 64 * KiB },	/* one whole cluster */
	{ 384 * KiB - 512, 128 * KiB },	/* partial, whole, partial */
	{ MiB + 3 * 512, 65 * KiB },
	{ 2 * MiB, 128 * KiB },		/* two whole clusters */
	{ 256 * KiB + KiB, KiB },	/* in place, allocated above */
	{ 4 * MiB - 512, 512 },		/* the last block */
};

static void write_unaligned(struct qfx *f, const char *compat)
{
	struct sim_dev *sd;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 -o compat=%s base.qcow2 4M && "
				"qemu-io -f qcow2 -c 'write -P 0x5c 0 3M' base.qcow2 && "
				"qemu-img create -q -f qcow2 -o compat=%s -b base.qcow2 -F qcow2 "
				"top.qcow2 4M && qemu-img convert -O raw top.qcow2 ref.raw",
				compat, compat), 0);
	sd = qfx_dev(f, "top.qcow2", 4 * MiB, NULL);
	assert_non_null(sd);
	for (size_t i = 0; i < sizeof(unaligned) / sizeof(unaligned[0]); i++)
		qfx_write_both(f, sd, "ref.raw", unaligned[i].off, unaligned[i].len, i + 1);
	assert_int_equal(qfx_lun_vs_file(f, sd, "ref.raw", 4 * MiB), -1);
	sim_dev_free(sd);
	assert_qemu_agrees(f, "top.qcow2");
	/* The base is untouched. */
	assert_int_equal(qfx_sh(f, "qemu-io -f qcow2 -c 'read -P 0x5c 0 3M' base.qcow2"), 0);
	assert_null(strstr(f->out, "Pattern verification failed"));
}

static void test_qcow_write_unaligned_cow_v2(void **state)
{
	write_unaligned(*state, "0.10");
}

static void test_qcow_write_unaligned_cow_v3(void **state)
{
	write_unaligned(*state, "1.1");
}

/* qemu-io write -z on allocated v3 clusters keeps them as preallocated
 * zero clusters; a partial write fills the rest with zeros. */
static void test_qcow_write_over_zero_clusters(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *sd;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 z.qcow2 1M && "
				"qemu-io -f qcow2 -c 'write -P 0x21 0 1M' -c 'write -z 0 256k' "
				"-c 'write -z -u 512k 128k' z.qcow2 && "
				"qemu-img convert -O raw z.qcow2 ref.raw"), 0);
	sd = qfx_dev(f, "z.qcow2", MiB, NULL);
	assert_non_null(sd);
	qfx_write_both(f, sd, "ref.raw", 1536, 2 * KiB, 1);
	qfx_write_both(f, sd, "ref.raw", 128 * KiB, 64 * KiB, 2);
	qfx_write_both(f, sd, "ref.raw", 520 * KiB, 8 * KiB, 3);
	sim_dev_free(sd);
	assert_qemu_agrees(f, "z.qcow2");
}

/* 4 KiB clusters (a refcount block counts 8 MiB at 16 bits): 12 MiB of
 * data needs new refcount blocks, for each refcount width. */
static void test_qcow_write_new_refcount_blocks(void **state)
{
	static const int bits[] = { 1, 16, 64 };
	struct qfx *f = *state;

	for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
		struct sim_dev *sd;

		assert_int_equal(qfx_sh(f, "rm -f r.qcow2 ref.raw && qemu-img create -q -f qcow2 "
					"-o cluster_size=4k,refcount_bits=%d r.qcow2 16M && "
					"qemu-img create -q -f raw ref.raw 16M", bits[b]), 0);
		sd = qfx_dev(f, "r.qcow2", 16 * MiB, NULL);
		assert_non_null(sd);
		for (unsigned int i = 0; i < 48; i++)
			qfx_write_both(f, sd, "ref.raw", i * 256 * KiB + 512, 255 * KiB, i);
		sim_dev_free(sd);
		print_message("refcount_bits=%d: ", bits[b]);
		assert_qemu_agrees(f, "r.qcow2");
		print_message("qemu-img check and compare agree\n");
	}
}

/* 512-byte clusters: the one-cluster refcount table qemu-img makes
 * counts 8 MiB of file. 12 MiB of writes grow it (to twice the
 * entries), and QEMU reads the grown table: no error, no leak (the old
 * tables were freed), the data as written. */
static void test_qcow_write_grows_refcount_table(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *sd;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 -o cluster_size=512 s.qcow2 16M && "
				"qemu-img create -q -f raw ref.raw 16M && "
				"od -An -j56 -N4 -tx1 s.qcow2"), 0);
	assert_string_equal(f->out, " 00 00 00 01\n");	/* refcount_table_clusters */
	sd = qfx_dev(f, "s.qcow2", 16 * MiB, NULL);
	assert_non_null(sd);
	for (unsigned int i = 0; i < 48; i++)
		qfx_write_both(f, sd, "ref.raw", i * 256 * KiB + 512, 255 * KiB, i);
	sim_dev_free(sd);
	assert_qemu_agrees(f, "s.qcow2");
	assert_int_equal(qfx_sh(f, "od -An -j56 -N4 -tu4 --endian=big s.qcow2"), 0);
	print_message("refcount table: 1 cluster, grown to %ld\n", strtol(f->out, NULL, 10));
	assert_true(strtol(f->out, NULL, 10) >= 2);
}

/* How many clusters qemu-img check counts allocated. */
static long allocated(struct qfx *f, const char *img)
{
	const char *p;

	assert_int_equal(qfx_sh(f, "qemu-img check %s", img), 0);
	p = strstr(f->out, "allocated");
	assert_non_null(p);
	while (p > f->out && p[-1] != '\n')
		p--;
	return strtol(p, NULL, 10);
}

/* UNMAP: whole clusters freed (QEMU counts fewer allocated), partial
 * ones zeroed; everything unmapped reads zeros, through the handler and
 * through QEMU. */
static void unmap_case(struct qfx *f, const char *compat, bool backing)
{
	struct sim_dev *sd;
	struct sim_cmd *c;
	long before, after;
	uint8_t *zero = calloc(1, 512 * KiB);

	assert_int_equal(qfx_sh(f, "rm -f *.qcow2 ref.raw && "
				"qemu-img create -q -f qcow2 -o compat=%s b.qcow2 2M && "
				"qemu-io -f qcow2 -c 'write -P 0x3c 0 2M' b.qcow2 && "
				"qemu-img create -q -f qcow2 -o compat=%s %s u.qcow2 2M && "
				"qemu-io -f qcow2 -c 'write -P 0x4d 0 1M' u.qcow2 && "
				"qemu-img convert -O raw u.qcow2 ref.raw", compat, compat,
				backing ? "-b b.qcow2 -F qcow2" : ""), 0);
	before = allocated(f, "u.qcow2");
	sd = qfx_dev(f, "u.qcow2", 2 * MiB, NULL);
	assert_non_null(sd);
	/* Clusters 1..4 whole and part of 5; then a range over backing data. */
	assert_good(qfx_unmap(sd, 64 * KiB, 4 * 64 * KiB + 4 * KiB));
	assert_int_equal(qfx_ref_write(f, "ref.raw", 64 * KiB, zero, 4 * 64 * KiB + 4 * KiB), 0);
	assert_good(qfx_unmap(sd, 1536 * KiB, 512 * KiB));
	assert_int_equal(qfx_ref_write(f, "ref.raw", 1536 * KiB, zero, 512 * KiB), 0);
	c = qfx_read(sd, 64 * KiB, 260 * KiB);
	assert_good(c);
	for (size_t i = 0; i < 260 * KiB; i++)
		assert_int_equal(c->data[i], 0);
	assert_int_equal(qfx_lun_vs_file(f, sd, "ref.raw", 2 * MiB), -1);
	sim_dev_free(sd);
	assert_qemu_agrees(f, "u.qcow2");
	after = allocated(f, "u.qcow2");
	print_message("compat=%s%s: %ld clusters allocated before UNMAP, %ld after\n", compat,
		      backing ? " over a backing file" : "", before, after);
	if (!backing || strcmp(compat, "0.10"))
		assert_true(after <= before - 4);
	free(zero);
}

static void test_qcow_unmap(void **state)
{
	unmap_case(*state, "1.1", true);
	unmap_case(*state, "1.1", false);
	unmap_case(*state, "0.10", false);
	unmap_case(*state, "0.10", true);	/* no zero flag: zeros written */
}

/* GET LBA STATUS: one descriptor at byte @off: its length, and whether
 * deallocated. */
static void lba_status(struct sim_dev *sd, uint64_t off, uint64_t *len, bool *dealloc)
{
	uint8_t cdb[16] = { SERVICE_ACTION_IN_16, SAI_GET_LBA_STATUS };
	struct sim_cmd *c;

	tcmu_put_be64(cdb + 2, off / 512);
	tcmu_put_be32(cdb + 10, 24);
	c = sim_dev_run(sd, cdb, 16, NULL, 24);
	assert_good(c);
	assert_int_equal(tcmu_get_be64(c->data + 8), off / 512);
	*len = (uint64_t)tcmu_get_be32(c->data + 16) * 512;
	*dealloc = (c->data[20] & 0x0f) == 1;
	ring_sim_cmd_free(sd->sim, c);
}

/* Written [0, 192k), unmapped [64k, 128k), never written after: GET LBA
 * STATUS says so, by whole clusters, as qemu-img map does. */
static void test_qcow_lba_status(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *sd;
	uint64_t len;
	bool dealloc;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 s.qcow2 1M && "
				"qemu-io -f qcow2 -c 'write -P 1 0 192k' s.qcow2"), 0);
	sd = qfx_dev(f, "s.qcow2", MiB, NULL);
	assert_non_null(sd);
	assert_good(qfx_unmap(sd, 64 * KiB, 64 * KiB));
	lba_status(sd, 0, &len, &dealloc);
	assert_false(dealloc);
	assert_int_equal(len, 64 * KiB);
	lba_status(sd, 64 * KiB, &len, &dealloc);
	assert_true(dealloc);
	assert_int_equal(len, 64 * KiB);
	lba_status(sd, 128 * KiB + 512, &len, &dealloc);
	assert_false(dealloc);
	assert_int_equal(len, 64 * KiB - 512);
	lba_status(sd, 192 * KiB, &len, &dealloc);
	assert_true(dealloc);
	assert_int_equal(len, MiB - 192 * KiB);
	sim_dev_free(sd);
	assert_int_equal(qfx_sh(f, "qemu-img map --output=json s.qcow2"), 0);
	print_message("qemu-img map: %s", f->out);
}

/* No fallocate: UNMAP of a raw image (;format=raw) writes zeros; a
 * qcow2 image frees its clusters all the same (their holes are only a
 * saving). Both read zeros and QEMU agrees. */
static void test_qcow_unmap_without_fallocate(void **state)
{
	struct qfx *f = *state;
	uint8_t *zero = calloc(1, 256 * KiB);
	struct sim_dev *sd;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f raw r.raw 1M && "
				"qemu-io -f raw -c 'write -P 0x6b 0 1M' r.raw && cp r.raw ref.raw && "
				"qemu-img create -q -f qcow2 q.qcow2 1M && "
				"qemu-io -f qcow2 -c 'write -P 0x6b 0 1M' q.qcow2"), 0);
	__atomic_store_n(&no_fallocate, true, __ATOMIC_RELAXED);
	sd = qfx_dev(f, "r.raw;format=raw", MiB, NULL);
	assert_non_null(sd);
	assert_good(qfx_unmap(sd, 64 * KiB + 512, 200 * KiB));
	assert_int_equal(qfx_ref_write(f, "ref.raw", 64 * KiB + 512, zero, 200 * KiB), 0);
	sim_dev_free(sd);
	sd = qfx_dev(f, "q.qcow2", MiB, NULL);
	assert_non_null(sd);
	assert_good(qfx_unmap(sd, 64 * KiB + 512, 200 * KiB));
	assert_int_equal(qfx_lun_vs_file(f, sd, "ref.raw", MiB), -1);
	sim_dev_free(sd);
	__atomic_store_n(&no_fallocate, false, __ATOMIC_RELAXED);
	print_message("fallocate refused %u times\n", fallocate_refused);
	assert_true(fallocate_refused >= 2);
	assert_int_equal(qfx_sh(f, "cmp r.raw ref.raw"), 0);
	assert_qemu_agrees(f, "q.qcow2");
	free(zero);
}

/* A v3 image made with lazy_refcounts=on but clean (no dirty bit) is
 * served; we keep its refcounts exact all the same. */
static void test_qcow_write_lazy_refcounts_clean(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *sd;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 -o lazy_refcounts=on l.qcow2 1M && "
				"qemu-img create -q -f raw ref.raw 1M"), 0);
	sd = qfx_dev(f, "l.qcow2", MiB, NULL);
	assert_non_null(sd);
	qfx_write_both(f, sd, "ref.raw", 3 * 512, 100 * KiB, 9);
	sim_dev_free(sd);
	assert_qemu_agrees(f, "l.qcow2");
}

/* Batches of writes queued at once, run on the handler's I/O threads:
 * two halves of one unallocated cluster each (both must allocate it
 * once and both land), spread over several L2 tables (4 KiB clusters:
 * an L2 table maps 2 MiB), copy-on-write from a backing file. */
static void test_qcow_write_concurrent(void **state)
{
	enum { ROUNDS = 6, PAIRS = 16, HALF = 2048 };
	static uint8_t data[ROUNDS][PAIRS][2][HALF];
	struct qfx *f = *state;
	struct sim_dev *sd;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 -o cluster_size=4k b.qcow2 32M && "
				"qemu-io -f qcow2 -c 'write -P 0x7e 0 32M' b.qcow2 && "
				"qemu-img create -q -f qcow2 -o cluster_size=4k -b b.qcow2 "
				"-F qcow2 c.qcow2 32M && qemu-img convert -O raw c.qcow2 ref.raw"),
			 0);
	sd = qfx_dev(f, "c.qcow2", 32 * MiB, NULL);
	assert_non_null(sd);
	for (unsigned int r = 0; r < ROUNDS; r++) {
		struct sim_cmd *c[PAIRS][2];
		uint8_t cdb[PAIRS][2][10];

		for (unsigned int p = 0; p < PAIRS; p++)
			for (unsigned int h = 0; h < 2; h++) {
				uint64_t off = p * 2 * MiB + r * 8 * KiB + h * HALF + (h ? 512 : 0);
				size_t len = HALF - (h ? 512 : 0);
				struct sim_req req = { .cdb = cdb[p][h], .cdb_len = 10,
						       .data = data[r][p][h], .data_len = len };

				qfx_fill(data[r][p][h], len, r * 100 + p * 2 + h);
				sim_rw10(cdb[p][h], WRITE_10, off / 512, len / 512);
				assert_int_equal(ring_sim_queue(sd->sim, &req, &c[p][h]), 0);
				assert_int_equal(qfx_ref_write(f, "ref.raw", off, data[r][p][h],
							       len), 0);
			}
		ring_sim_notify(sd->sim);
		assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
		for (unsigned int p = 0; p < PAIRS; p++) {
			assert_good(c[p][0]);
			assert_good(c[p][1]);
		}
	}
	assert_int_equal(qfx_lun_vs_file(f, sd, "ref.raw", 32 * MiB), -1);
	sim_dev_free(sd);
	assert_qemu_agrees(f, "c.qcow2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		QFX_TEST(test_qcow_write_unaligned_cow_v2),
		QFX_TEST(test_qcow_write_unaligned_cow_v3),
		QFX_TEST(test_qcow_write_over_zero_clusters),
		QFX_TEST(test_qcow_write_new_refcount_blocks),
		QFX_TEST(test_qcow_write_grows_refcount_table),
		QFX_TEST(test_qcow_unmap),
		QFX_TEST(test_qcow_unmap_without_fallocate),
		QFX_TEST(test_qcow_lba_status),
		QFX_TEST(test_qcow_write_lazy_refcounts_clean),
		QFX_TEST(test_qcow_write_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
