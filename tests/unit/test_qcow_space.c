/*
 * handler_qcow keeps an image's file no larger than its data needs
 * (issue 26). UNMAP of part of a cluster that already reads zeros (never
 * written, no backing file; or a zero cluster) allocates nothing: 1,000
 * of them leave the file's blocks and qemu-img's disk size as they were.
 * Over a backing file the same UNMAPs still make those bytes read zeros.
 * Clusters UNMAP frees are allocated again: 20 rounds of writing 64 MiB
 * and unmapping it keep the file under twice the data. QEMU's tools
 * judge each image (qemu-img check: no error, no leak).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qcow_fixture.h"
#include "unit_test.h"

#define KiB 1024
#define MiB (1024 * 1024)

/* The file <dir>/<name>: its size and the bytes it has allocated. */
static void file_space(struct qfx *f, const char *name, long long *size, long long *alloc)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_int_equal(stat(path, &st), 0);
	*size = st.st_size;
	*alloc = (long long)st.st_blocks * 512;
}

/* qemu-img info's "disk size" line of @img (as it prints it). */
static void disk_size(struct qfx *f, const char *img, char *out, size_t len)
{
	const char *p;

	assert_int_equal(qfx_sh(f, "qemu-img info %s", img), 0);
	p = strstr(f->out, "disk size: ");
	assert_non_null(p);
	p += strlen("disk size: ");
	snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
}

/* A command that must have succeeded, forgotten (loops of thousands). */
static void good_free(struct sim_dev *sd, struct sim_cmd *c)
{
	assert_good(c);
	ring_sim_cmd_free(sd->sim, c);
}

static void assert_check_clean(struct qfx *f, const char *img)
{
	int rc = qfx_sh(f, "qemu-img check %s", img);

	if (rc != 0)
		fail_msg("qemu-img check %s: exit %d:\n%s", img, rc, f->out);
	assert_non_null(strstr(f->out, "No errors were found on the image."));
}

/* 4 KiB at a spread of offsets in a 1 GiB LUN, never a whole cluster. */
static uint64_t partial_off(unsigned int i)
{
	return (uint64_t)((i * 2654435761u) % (256 * KiB)) * 4 * KiB;
}

/* 1,000 partial UNMAPs where nothing was ever written (no backing file),
 * then over v3 zero clusters: nothing allocated, all still zeros. */
static void test_qcow_space_partial_unmap_of_zeros(void **state)
{
	struct qfx *f = *state;
	char size0[64], size1[64];
	long long len0, len1, blk0, blk1;
	struct sim_dev *sd;
	struct sim_cmd *c;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 e.qcow2 1G && "
				"qemu-io -f qcow2 -c 'write -z 512M 1M' e.qcow2"), 0);
	disk_size(f, "e.qcow2", size0, sizeof(size0));
	file_space(f, "e.qcow2", &len0, &blk0);
	sd = qfx_dev(f, "e.qcow2", 1024 * MiB, NULL);
	assert_non_null(sd);
	for (unsigned int i = 0; i < 1000; i++)
		good_free(sd, qfx_unmap(sd, partial_off(i), 4 * KiB));
	for (unsigned int i = 0; i < 16; i++)	/* the zero clusters */
		good_free(sd, qfx_unmap(sd, 512 * MiB + i * 64 * KiB + 8 * KiB, 4 * KiB));
	c = qfx_read(sd, 512 * MiB, 512 * KiB);
	assert_good(c);
	for (size_t i = 0; i < 512 * KiB; i++)
		assert_int_equal(c->data[i], 0);
	ring_sim_cmd_free(sd->sim, c);
	sim_dev_free(sd);
	assert_check_clean(f, "e.qcow2");
	disk_size(f, "e.qcow2", size1, sizeof(size1));
	file_space(f, "e.qcow2", &len1, &blk1);
	print_message("1,016 partial UNMAPs of zeros: disk size %s -> %s, file %lld -> %lld "
		      "bytes, %lld -> %lld allocated\n", size0, size1, len0, len1, blk0, blk1);
	assert_string_equal(size0, size1);
	assert_true(blk1 <= blk0);
	assert_true(len1 <= len0);
}

/* The same partial UNMAPs over a backing file's data: those bytes read
 * zeros after, the rest the backing file's, as QEMU sees it too. */
static void test_qcow_space_partial_unmap_over_backing(void **state)
{
	struct qfx *f = *state;
	uint8_t *zero = calloc(1, 4 * KiB);
	struct sim_dev *sd;

	assert_non_null(zero);
	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 b.qcow2 8M && "
				"qemu-io -f qcow2 -c 'write -P 0x5a 0 8M' b.qcow2 && "
				"qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 t.qcow2 8M && "
				"qemu-img convert -O raw t.qcow2 ref.raw"), 0);
	sd = qfx_dev(f, "t.qcow2", 8 * MiB, NULL);
	assert_non_null(sd);
	for (unsigned int i = 0; i < 40; i++) {
		uint64_t off = partial_off(i) % (8 * MiB);

		assert_good(qfx_unmap(sd, off, 4 * KiB));
		assert_int_equal(qfx_ref_write(f, "ref.raw", off, zero, 4 * KiB), 0);
	}
	assert_int_equal(qfx_lun_vs_file(f, sd, "ref.raw", 8 * MiB), -1);
	sim_dev_free(sd);
	assert_check_clean(f, "t.qcow2");
	assert_int_equal(qfx_sh(f, "qemu-img compare -F raw t.qcow2 ref.raw"), 0);
	free(zero);
}

/* Write @len bytes at 0, @chunk a command, pattern @seed; to <dir>/<ref>
 * too if @ref. */
static void write_all(struct qfx *f, struct sim_dev *sd, const char *ref, uint8_t *buf,
		      size_t chunk, uint64_t len, unsigned int seed)
{
	for (uint64_t off = 0; off < len; off += chunk) {
		qfx_fill(buf, chunk, seed * 1000 + off / chunk);
		good_free(sd, qfx_write(sd, off, buf, chunk));
		if (ref)
			assert_int_equal(qfx_ref_write(f, ref, off, buf, chunk), 0);
	}
}

/* Rounds of writing DATA bytes and unmapping them (whole clusters), the
 * device closed and opened again half way (what was free on disk is
 * reused too): the file stays under twice DATA. The last round's data
 * stays, and reads back right, through the handler and through QEMU. */
static void test_qcow_space_discard_cycles_reuse(void **state)
{
	enum { ROUNDS = 20, DATA = 64 * MiB, CHUNK = 512 * KiB };
	struct qfx *f = *state;
	uint8_t *buf = malloc(CHUNK);
	long long len = 0, blk = 0, most = 0;
	struct sim_dev *sd = NULL;

	assert_non_null(buf);
	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 c.qcow2 128M && "
				"qemu-img create -q -f raw ref.raw 128M"), 0);
	for (unsigned int r = 0; r < ROUNDS; r++) {
		if (r == ROUNDS / 2)
			sim_dev_free(sd);
		if (!r || r == ROUNDS / 2)
			sd = qfx_dev(f, "c.qcow2", 128 * MiB, NULL);
		assert_non_null(sd);
		write_all(f, sd, r == ROUNDS - 1 ? "ref.raw" : NULL, buf, CHUNK, DATA, r);
		if (r < ROUNDS - 1)
			good_free(sd, qfx_unmap(sd, 0, DATA));
		file_space(f, "c.qcow2", &len, &blk);
		if (len > most)
			most = len;
	}
	assert_int_equal(qfx_lun_vs_file(f, sd, "ref.raw", 128 * MiB), -1);
	sim_dev_free(sd);
	assert_check_clean(f, "c.qcow2");
	assert_int_equal(qfx_sh(f, "qemu-img compare -F raw c.qcow2 ref.raw"), 0);
	print_message("%d rounds of %d MiB written (and unmapped but the last): file %lld "
		      "bytes at most, %lld at the end, %lld allocated\n", ROUNDS, DATA / MiB,
		      most, len, blk);
	assert_true(most < 2LL * DATA);
	free(buf);
}

/* Writes and UNMAPs queued at once, run on the handler's I/O threads:
 * each round writes one half of every pair of clusters and unmaps the
 * other half, so clusters one command frees another allocates at once.
 * The LUN ends as the raw file the test wrote the same to; QEMU agrees. */
static void test_qcow_space_reuse_concurrent(void **state)
{
	enum { ROUNDS = 8, PAIRS = 24, CL = 64 * KiB };
	static uint8_t data[PAIRS][CL], zero[CL];
	struct qfx *f = *state;
	struct sim_dev *sd;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 r.qcow2 3M && "
				"qemu-img create -q -f raw ref.raw 3M"), 0);
	sd = qfx_dev(f, "r.qcow2", 3 * MiB, NULL);
	assert_non_null(sd);
	for (unsigned int r = 0; r < ROUNDS; r++) {
		struct sim_cmd *c[PAIRS][2];
		uint8_t cdb[PAIRS][2][10], list[PAIRS][24];

		for (unsigned int p = 0; p < PAIRS; p++) {
			uint64_t w = (2 * p + r % 2) * CL, u = (2 * p + 1 - r % 2) * CL;
			struct sim_req wr = { .cdb = cdb[p][0], .cdb_len = 10,
					      .data = data[p], .data_len = CL };
			struct sim_req um = { .cdb = cdb[p][1], .cdb_len = 10,
					      .data = list[p], .data_len = 24 };

			qfx_fill(data[p], CL, r * 100 + p);
			sim_rw10(cdb[p][0], WRITE_10, w / 512, CL / 512);
			qfx_unmap_cdb(cdb[p][1], list[p], u, CL);
			assert_int_equal(ring_sim_queue(sd->sim, &um, &c[p][1]), 0);
			assert_int_equal(ring_sim_queue(sd->sim, &wr, &c[p][0]), 0);
			assert_int_equal(qfx_ref_write(f, "ref.raw", w, data[p], CL), 0);
			assert_int_equal(qfx_ref_write(f, "ref.raw", u, zero, CL), 0);
		}
		ring_sim_notify(sd->sim);
		assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
		for (unsigned int p = 0; p < PAIRS; p++) {
			good_free(sd, c[p][0]);
			good_free(sd, c[p][1]);
		}
	}
	assert_int_equal(qfx_lun_vs_file(f, sd, "ref.raw", 3 * MiB), -1);
	sim_dev_free(sd);
	assert_check_clean(f, "r.qcow2");
	assert_int_equal(qfx_sh(f, "qemu-img compare -F raw r.qcow2 ref.raw"), 0);
	assert_int_equal(qfx_sh(f, "stat -c %%s r.qcow2"), 0);
	print_message("%d rounds of %d writes and UNMAPs at once: file %s", ROUNDS, PAIRS,
		      f->out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		QFX_TEST(test_qcow_space_partial_unmap_of_zeros),
		QFX_TEST(test_qcow_space_partial_unmap_over_backing),
		QFX_TEST(test_qcow_space_discard_cycles_reuse),
		QFX_TEST(test_qcow_space_reuse_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
