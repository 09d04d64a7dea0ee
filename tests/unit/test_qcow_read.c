/*
 * handler_qcow reads what QEMU wrote: qcow2 v2 (compat=0.10) and v3
 * images written by qemu-io, a two-level backing chain named by
 * relative paths down to a raw file, a compressed image made by
 * qemu-img convert -c, and v3 zero clusters over a backing file. What
 * the LUN returns is compared with qemu-img convert -O raw of the same
 * image, byte for byte; a raw file is served as such only when asked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcow_fixture.h"
#include "unit_test.h"

#define MiB (1024 * 1024)

/* The LUN on @img reads as qemu-img convert -O raw of it. */
static void assert_reads_as_qemu(struct qfx *f, const char *img, uint64_t size)
{
	struct sim_dev *sd;
	char want[128];
	int64_t bad;

	snprintf(want, sizeof(want), "%s.want", img);
	assert_int_equal(qfx_sh(f, "qemu-img convert -O raw %s %s", img, want), 0);
	sd = qfx_dev(f, img, size, NULL);
	assert_non_null(sd);
	bad = qfx_lun_vs_file(f, sd, want, size);
	if (bad >= 0)
		fail_msg("%s: byte %lld differs from qemu-img's", img, (long long)bad);
	sim_dev_free(sd);
}

static void read_version(struct qfx *f, const char *compat)
{
	struct sim_dev *sd;
	struct sim_cmd *c;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 -o compat=%s v.qcow2 4M && "
				"qemu-io -f qcow2 -c 'write -P 0xab 0 64k' "
				"-c 'write -P 0xcd 100k 8k' -c 'write -P 0x5a 3M 512' v.qcow2",
				compat), 0);
	sd = qfx_dev(f, "v.qcow2", 4 * MiB, NULL);
	assert_non_null(sd);
	c = qfx_read(sd, 0, 64 * 1024);
	assert_good(c);
	for (size_t i = 0; i < 64 * 1024; i++)
		assert_int_equal(c->data[i], 0xab);
	c = qfx_read(sd, 96 * 1024, 16 * 1024);	/* 4k zeros, 8k 0xcd, 4k zeros */
	assert_good(c);
	for (size_t i = 0; i < 16 * 1024; i++)
		assert_int_equal(c->data[i], i >= 4096 && i < 12288 ? 0xcd : 0);
	sim_dev_free(sd);
	assert_reads_as_qemu(f, "v.qcow2", 4 * MiB);
}

static void test_qcow_read_v2(void **state)
{
	read_version(*state, "0.10");
}

static void test_qcow_read_v3(void **state)
{
	read_version(*state, "1.1");
}

/* top.qcow2 -> sub/mid.qcow2 -> sub/base.raw, names relative to each
 * image's own directory; the base shorter than the top (zeros past it). */
static void test_qcow_read_backing_chain_relative_raw(void **state)
{
	struct qfx *f = *state;

	assert_int_equal(qfx_sh(f, "mkdir sub && qemu-img create -q -f raw sub/base.raw 1M && "
				"qemu-io -f raw -c 'write -P 0x11 0 1M' sub/base.raw && "
				"cd sub && qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 2M && "
				"qemu-io -f qcow2 -c 'write -P 0x22 256k 64k' "
				"-c 'write -P 0x23 1500k 3k' mid.qcow2 && cd .. && "
				"qemu-img create -q -f qcow2 -b sub/mid.qcow2 -F qcow2 top.qcow2 4M && "
				"qemu-io -f qcow2 -c 'write -P 0x33 512k 4k' -c 'write -P 0x34 300k 1k' "
				"top.qcow2"), 0);
	/* QEMU sees the three levels. */
	assert_int_equal(qfx_sh(f, "qemu-img info --backing-chain top.qcow2 | grep -c '^image:'"),
			 0);
	assert_string_equal(f->out, "3\n");
	assert_reads_as_qemu(f, "top.qcow2", 4 * MiB);
}

static void test_qcow_read_compressed(void **state)
{
	struct qfx *f = *state;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f raw src.raw 4M && "
				"qemu-io -f raw -c 'write -P 0x41 0 1M' -c 'write -P 0x42 1100k 300k' "
				"-c 'write -P 0x43 3M 64k' src.raw && "
				"qemu-img convert -c -O qcow2 src.raw comp.qcow2 && "
				"qemu-img check comp.qcow2"), 0);
	/* QEMU says the image holds compressed clusters: we read those. */
	assert_null(strstr(f->out, " 0.00% compressed"));
	assert_non_null(strstr(f->out, "compressed clusters"));
	assert_reads_as_qemu(f, "comp.qcow2", 4 * MiB);
}

/* qemu-io write -z on a v3 image over a backing file: zero clusters,
 * which read zeros where the backing file has data. */
static void test_qcow_read_zero_clusters(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *sd;
	struct sim_cmd *c;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 base.qcow2 2M && "
				"qemu-io -f qcow2 -c 'write -P 0x77 0 2M' base.qcow2 && "
				"qemu-img create -q -f qcow2 -o compat=1.1 -b base.qcow2 -F qcow2 "
				"z.qcow2 2M && qemu-io -f qcow2 -c 'write -P 0x66 0 128k' "
				"-c 'write -z 0 64k' -c 'write -z 256k 128k' z.qcow2 && "
				"qemu-img map --output=json z.qcow2"), 0);
	assert_non_null(strstr(f->out, "\"zero\": true"));
	sd = qfx_dev(f, "z.qcow2", 2 * MiB, NULL);
	assert_non_null(sd);
	c = qfx_read(sd, 0, 512 * 1024);
	assert_good(c);
	for (size_t i = 0; i < 512 * 1024; i++) {
		uint8_t want = i < 64 * 1024 ? 0 : i < 128 * 1024 ? 0x66 :
			       i < 256 * 1024 ? 0x77 : i < 384 * 1024 ? 0 : 0x77;

		if (c->data[i] != want)
			fail_msg("byte %zu: %#x, want %#x", i, c->data[i], want);
	}
	sim_dev_free(sd);
	assert_reads_as_qemu(f, "z.qcow2", 2 * MiB);
}

/* A raw file: refused as qcow2, served with ;format=raw. */
static void test_qcow_read_raw_only_when_asked(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *sd;
	struct sim_cmd *c;
	char *why;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f raw r.raw 1M && "
				"qemu-io -f raw -c 'write -P 0x99 4k 4k' r.raw"), 0);
	assert_false(qfx_check(f, "r.raw", &why));
	assert_non_null(why);
	assert_non_null(strstr(why, "not a qcow2 image: magic 0x00000000"));
	free(why);
	assert_null(qfx_dev(f, "r.raw", MiB, NULL));
	assert_true(qfx_check(f, "r.raw;format=raw", &why));
	sd = qfx_dev(f, "r.raw;format=raw", MiB, NULL);
	assert_non_null(sd);
	c = qfx_read(sd, 4096, 4096);
	assert_good(c);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(c->data[i], 0x99);
	sim_dev_free(sd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		QFX_TEST(test_qcow_read_v2),
		QFX_TEST(test_qcow_read_v3),
		QFX_TEST(test_qcow_read_backing_chain_relative_raw),
		QFX_TEST(test_qcow_read_compressed),
		QFX_TEST(test_qcow_read_zero_clusters),
		QFX_TEST(test_qcow_read_raw_only_when_asked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
