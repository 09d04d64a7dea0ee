/*
 * Partial writes into the zero clusters of an image over a backing
 * file, next to unallocated clusters that show the backing file through.
 * qemu-io makes the zero clusters (write -z: with the data cluster kept
 * where one was allocated, without it where it was unmapped or never
 * allocated, over data of the backing file too); then 512-byte writes
 * at offsets unaligned to the cluster, some across a zero and an
 * unallocated cluster, go through the LUN as an initiator sends them,
 * with partial UNMAPs and a WRITE SAME among them. The rest of a zero
 * cluster must read zeros, of an unallocated one the backing file's
 * data. qemu-io makes the same writes on a copy of the image: qemu-img
 * compare finds the two images, and the model the test keeps, equal,
 * and qemu-img check finds no error and no leak. The backing file raw,
 * or qcow2 with compressed clusters (copy-on-write inflates them) and a
 * zero cluster of its own; 64 KiB and 4 KiB clusters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcow_fixture.h"
#include "qcow_same.h"
#include "unit_test.h"

#define NCL 16		/* guest clusters of the image */

/* base.raw: a pattern but for the last two clusters (zeros), of the
 * image's size (@size); base.qcow2 from it, compressed, of the image's
 * cluster size @cs, with a zero cluster of its own at cluster 12. */
static void make_base(struct qfx *f, uint64_t size, uint32_t cs)
{
	uint64_t data = size - 2 * cs;
	uint8_t *b = malloc(data);
	struct qfx_map m;

	assert_non_null(b);
	qfx_fill(b, data, 99);
	assert_int_equal(qfx_sh(f, "qemu-img create -q -f raw base.raw %llu",
				(unsigned long long)size), 0);
	assert_int_equal(qfx_ref_write(f, "base.raw", 0, b, data), 0);
	free(b);
	assert_int_equal(qfx_sh(f, "qemu-img convert -c -O qcow2 -o cluster_size=%u base.raw "
				"base.qcow2 && qemu-io -f qcow2 -c 'write -q -z %llu %u' base.qcow2 && "
				"cp base.raw base.raw.orig && cp base.qcow2 base.qcow2.orig",
				cs, 12ULL * cs, cs), 0);
	qfx_map(f, "base.qcow2", cs, &m);
	assert_true(m.compressed);
	qfx_map(f, "base.qcow2", 12 * cs, &m);
	assert_true(m.zero);
}

/*
 * top.qcow2 (v3, clusters of @cs bytes) over base.<fmt>, as qemu-io
 * leaves it: cluster 1 data; 2 a zero cluster that keeps its data
 * cluster; 3 one that was unmapped; 4, 5, 8, 11 and 13 zero clusters
 * where nothing was allocated (the backing file has data there); the
 * rest unallocated. q.qcow2 a copy, ref.raw what QEMU reads of it.
 */
static void make_top(struct qfx *f, const char *fmt, uint32_t cs)
{
	static const unsigned int zero[] = { 3, 4, 5, 8, 11, 13 };
	struct qfx_map m;

#define C(i) (unsigned long long)(i) * cs
	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 -o compat=1.1,cluster_size=%u "
				"-b base.%s -F %s top.qcow2 %llu && qemu-io -f qcow2 "
				"-c 'write -q -P 0x5a %llu %u' -c 'write -q -P 0x5b %llu %u' "
				"-c 'write -q -P 0x5c %llu %u' -c 'write -q -z %llu %u' "
				"-c 'write -q -z -u %llu %u' -c 'write -q -z %llu %u' "
				"-c 'write -q -z %llu %u' -c 'write -q -z %llu %u' "
				"-c 'write -q -z %llu %u' top.qcow2 && cp top.qcow2 q.qcow2 && "
				"qemu-img convert -O raw top.qcow2 ref.raw",
				cs, fmt, fmt, C(NCL), C(1), cs, C(2), cs, C(3), cs, C(2), cs, C(3), cs,
				C(4), 2 * cs, C(8), cs, C(11), cs, C(13), cs), 0);
#undef C
	/* What the writes below go into is what it says above. */
	qfx_map(f, "top.qcow2", 0, &m);
	assert_int_equal(m.entry, 0);
	qfx_map(f, "top.qcow2", 2 * cs, &m);
	assert_true(m.zero && m.host);
	for (size_t k = 0; k < sizeof(zero) / sizeof(zero[0]); k++) {
		qfx_map(f, "top.qcow2", (uint64_t)zero[k] * cs, &m);
		if (!m.zero || m.host)
			fail_msg("cluster %u: L2 entry %#llx, not a zero cluster without data",
				 zero[k], (unsigned long long)m.entry);
	}
}

/* The writes, on the LUN, the model and queued for qemu-io. */
static void write_partial(struct qfx_same *s, uint32_t cs)
{
#define C(i) ((uint64_t)(i) * cs)
	qfx_same_write(s, C(2) + 1536, 512);		/* zero, its data cluster kept */
	qfx_same_write(s, C(3) + cs - 512, 512);	/* zero, unmapped */
	qfx_same_write(s, C(4) + 512, 512);		/* zero over backing data */
	qfx_same_write(s, C(5) + cs - 512, 1024);	/* zero, then unallocated */
	qfx_same_write(s, C(0) + 2048, 512);		/* unallocated: the backing's */
	qfx_same_write(s, C(10) + cs - 512, 1024);	/* unallocated, then zero */
	qfx_same_write(s, C(8) + 512, 512);
	qfx_same_write(s, C(8) + cs - 1024, 512);	/* in place, the second */
	qfx_same_write(s, C(12) + 1024, 512);		/* a zero cluster of the base */
	qfx_same_write(s, C(14) + 512, 512);		/* past the base's data */
	qfx_same_unmap(s, C(7) + 512, 512);		/* partial over backing data */
	qfx_same_unmap(s, C(13) + 512, 1024);		/* partial in a zero cluster */
	qfx_same_write_same(s, C(9) + 512, 1024, false);
	qfx_same_write(s, C(1) + 512, 512);		/* data: in place */
#undef C
}

static void zero_backing_case(struct qfx *f, const char *fmt, uint32_t cs)
{
	uint64_t size = (uint64_t)NCL * cs;
	struct qfx_same s;

	make_base(f, size, cs);
	make_top(f, fmt, cs);
	qfx_same_init(&s, f, qfx_dev(f, "top.qcow2", size, NULL), "ref.raw");
	assert_non_null(s.sd);
	qfx_same_assert_lun(&s, size, cs, "as made");
	write_partial(&s, cs);
	qfx_same_assert_lun(&s, size, cs, "after the writes");
	sim_dev_free(s.sd);
	qfx_same_qemu(&s, "q.qcow2");
	qfx_same_judge(&s, "top.qcow2", "q.qcow2");
	qfx_same_fini(&s);
	/* The backing files are as they were. */
	assert_int_equal(qfx_sh(f, "cmp base.raw base.raw.orig && cmp base.qcow2 "
				"base.qcow2.orig"), 0);
}

static void test_qcow_zero_backing_raw_64k(void **state)
{
	zero_backing_case(*state, "raw", 65536);
}

static void test_qcow_zero_backing_raw_4k(void **state)
{
	zero_backing_case(*state, "raw", 4096);
}

static void test_qcow_zero_backing_qcow2_64k(void **state)
{
	zero_backing_case(*state, "qcow2", 65536);
}

static void test_qcow_zero_backing_qcow2_4k(void **state)
{
	zero_backing_case(*state, "qcow2", 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		QFX_TEST(test_qcow_zero_backing_raw_64k),
		QFX_TEST(test_qcow_zero_backing_raw_4k),
		QFX_TEST(test_qcow_zero_backing_qcow2_64k),
		QFX_TEST(test_qcow_zero_backing_qcow2_4k),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
