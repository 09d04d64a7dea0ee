/*
 * A power loss at any moment leaves a qcow2 image QEMU finds sound, and
 * every write acknowledged as stable still reads back. Unlike a killed
 * process (test_qcow_crash.c), a power loss also loses what was in the
 * page cache: only what a sync made stable is sure to be on the disk,
 * and of the rest any part may be. So each workload runs on the handler
 * with every write and sync it issues logged (crash_log.h), and is then
 * replayed (crash_run.h) onto a copy of the image as it was before, up
 * to each sync (sampled, seeded), with none, all and random subsets of
 * the writes not yet synced. Each such image, once our handler has
 * repaired it if it is dirty (as QEMU would at open), must pass
 * `qemu-img check` with nothing worse than leaked clusters, and read
 * through QEMU (qemu-img convert) must hold, sector by sector, what the
 * last write acknowledged stable (FUA, or a completed SYNCHRONIZE CACHE
 * after it) put there, or what a later write issued before the crash
 * did.
 *
 * The workloads: allocating writes on an empty image; enough of them on
 * 512-byte clusters to make new L2 tables, refcount blocks and a larger
 * refcount table; copy-on-write of partial clusters from a backing file,
 * with discards (the v3 zero flag) over it; discards of whole and partial
 * clusters, then writes that reuse the freed clusters; and a dirty image
 * (lazy refcounts) whose refcounts are rebuilt at open, then written,
 * into a compressed cluster too.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash_run.h"
#include "qcow_fixture.h"
#include "unit_test.h"

#define KiB 1024
#define MiB (1024 * 1024)

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* A dirty v3 image is repaired at open by our handler, as by QEMU's. */
static void repair_if_dirty(struct qfx *f, struct crash_run *r, const struct crash_case *c)
{
	struct sim_dev *sd;

	if (qfx_file_be(r->crashed, 4, 4) < 3 || !(qfx_file_be(r->crashed, 72, 8) & 1))
		return;
	sd = qfx_dev(f, base_name(r->crashed), r->book.size, NULL);
	if (!sd)
		fail_msg("%s: crash point %u (%s): the dirty image was refused at open",
			 r->name, c->point, crash_pick_name(c->pick));
	sim_dev_free(sd);
}

/* qemu-img check, then the data through QEMU against the book. */
static int qcow_judge(struct crash_run *r, const struct crash_case *c, void *ctx)
{
	struct qfx *f = ctx;
	const char *name = base_name(r->crashed);
	char raw[128], why[256];
	int rc;

	repair_if_dirty(f, r, c);
	rc = qfx_sh(f, "qemu-img check -f qcow2 '%s'", name);
	if ((rc != 0 && rc != 3) || strstr(f->out, "ERROR") || strstr(f->out, "corrupt"))
		fail_msg("%s: crash point %u of %u events (unsynced writes: %s %u of %u; "
			 "%u events replayed), seed %u: qemu-img check exit %d:\n%s",
			 r->name, c->point, c->events, crash_pick_name(c->pick), c->arg,
			 c->optional, c->taken, r->seed, rc, f->out);
	assert_int_equal(qfx_sh(f, "qemu-img convert -f qcow2 -O raw '%s' crashed.raw", name),
			 0);
	snprintf(raw, sizeof(raw), "%s/crashed.raw", f->dir);
	if (!crash_book_check(&r->book, raw, c->point, why, sizeof(why)))
		fail_msg("%s: crash point %u of %u events (unsynced writes: %s %u of %u), "
			 "seed %u: acknowledged data lost: %s", r->name, c->point,
			 c->events, crash_pick_name(c->pick), c->arg, c->optional, r->seed, why);
	return rc == 3;
}

/* Begin workload @wl on <dir>/@image (@size bytes, reading @fill) and
 * open the device on it. */
static void begin(struct qfx *f, struct crash_run *r, const char *wl, const char *image,
		  uint64_t size, int fill)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", f->dir, image);
	crash_run_begin(r, wl, path, size, fill, 29);
	r->hot_below = 512;	/* the header */
}

static void open_dev(struct qfx *f, struct crash_run *r)
{
	r->sd = qfx_dev(f, base_name(r->image), r->book.size, NULL);
	assert_non_null(r->sd);
}

/* Writes to fresh clusters of all sizes, some FUA, flushes between;
 * overwrites in place; an unflushed tail. */
static void test_qcow_powerloss_allocating(void **state)
{
	struct qfx *f = *state;
	struct crash_run r;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 -o cluster_size=4k "
				"top.qcow2 8M"), 0);
	begin(f, &r, "allocating", "top.qcow2", 8 * MiB, 0);
	open_dev(f, &r);
	for (unsigned int i = 0; i < 24; i++) {
		crash_run_write(&r, (i * 37 % 120) * 64 * KiB + i % 3 * 512,
				512 * (1 + i * 5 % 24), i + 1, i % 5 == 0);
		if (i % 4 == 3)
			crash_run_flush(&r);
	}
	for (unsigned int i = 0; i < 6; i++)	/* in place */
		crash_run_write(&r, (i * 37 % 120) * 64 * KiB, 1024, 100 + i, i == 2);
	crash_run_flush(&r);
	crash_run_write(&r, 7 * MiB, 8 * KiB, 200, false);
	crash_run_end(&r);
	crash_run_replay(&r, qcow_judge, f);
}

/* 512-byte clusters: an L2 table for every 32 KiB of LUN, a refcount
 * block for every 128 KiB of file; QEMU fills the file close to 8 MiB,
 * and the workload takes it past, where the refcount table must grow. */
static void test_qcow_powerloss_growth(void **state)
{
	struct qfx *f = *state;
	struct crash_run r;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 -o cluster_size=512 "
				"top.qcow2 16M && qemu-io -f qcow2 -c 'write -P 0x61 9M 7M' "
				"top.qcow2 >/dev/null"), 0);
	begin(f, &r, "L2 and refcount growth", "top.qcow2", 16 * MiB, 0);
	crash_book_stable(&r.book, crash_book_add(&r.book, 9 * MiB, 7 * MiB, 0x61));
	open_dev(f, &r);
	for (unsigned int i = 0; i < 64; i++) {
		crash_run_write(&r, i * 40 * KiB, 16 * KiB, i + 1, i % 9 == 4);
		if (i % 6 == 5)
			crash_run_flush(&r);
	}
	crash_run_flush(&r);
	crash_run_end(&r);
	print_message("refcount table: %llu clusters\n",
		      (unsigned long long)qfx_file_be(r.image, 56, 4));
	assert_true(qfx_file_be(r.image, 56, 4) >= 2);
	crash_run_replay(&r, qcow_judge, f);
}

/* Partial clusters over a backing file's data (copy-on-write), across
 * cluster boundaries; whole clusters discarded (zero flag), partial ones
 * zeroed, then written again. */
static void test_qcow_powerloss_backing_cow(void **state)
{
	struct qfx *f = *state;
	struct crash_run r;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 base.qcow2 8M && "
				"qemu-io -f qcow2 -c 'write -P 0x5c 0 8M' base.qcow2 >/dev/null "
				"&& qemu-img create -q -f qcow2 -o cluster_size=16k -b base.qcow2 "
				"-F qcow2 top.qcow2 8M"), 0);
	begin(f, &r, "COW from a backing file", "top.qcow2", 8 * MiB, 0x5c);
	open_dev(f, &r);
	for (unsigned int i = 0; i < 20; i++) {
		crash_run_write(&r, i * 112 * KiB + 1536 + i % 4 * 16 * KiB - i % 4 * 512,
				512 * (1 + i * 7 % 40), i + 1, i % 3 == 1);
		if (i % 5 == 4)
			crash_run_flush(&r);
	}
	crash_run_unmap(&r, 0, 64 * KiB);		/* whole clusters: zero flag */
	crash_run_unmap(&r, 336 * KiB + 512, 3 * KiB);	/* part of one: zeros */
	crash_run_flush(&r);
	crash_run_write(&r, 16 * KiB + 512, 1024, 50, true);	/* COW from zeros */
	crash_run_write(&r, 1 * MiB + 512, 40 * KiB, 51, false);
	crash_run_flush(&r);
	crash_run_end(&r);
	crash_run_replay(&r, qcow_judge, f);
}

/* Clusters freed by UNMAP are allocated again by later writes. */
static void test_qcow_powerloss_discard_reuse(void **state)
{
	struct qfx *f = *state;
	struct crash_run r;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 -o cluster_size=4k "
				"top.qcow2 4M"), 0);
	begin(f, &r, "discard and reuse", "top.qcow2", 4 * MiB, 0);
	open_dev(f, &r);
	for (unsigned int i = 0; i < 4; i++)
		crash_run_write(&r, i * 64 * KiB, 64 * KiB, i + 1, false);
	crash_run_flush(&r);
	crash_run_unmap(&r, 16 * KiB, 96 * KiB);
	crash_run_unmap(&r, 130 * KiB, 20 * KiB);	/* partial at both ends */
	crash_run_write(&r, 2 * MiB, 64 * KiB, 10, false);	/* reuses freed ones */
	crash_run_flush(&r);
	crash_run_unmap(&r, 192 * KiB, 64 * KiB);
	crash_run_flush(&r);
	for (unsigned int i = 0; i < 6; i++)
		crash_run_write(&r, 3 * MiB + i * 12 * KiB, 8 * KiB, 20 + i, i % 2);
	crash_run_unmap(&r, 2 * MiB + 8 * KiB, 8 * KiB);
	crash_run_write(&r, 16 * KiB, 4 * KiB, 30, true);
	crash_run_flush(&r);
	crash_run_end(&r);
	crash_run_replay(&r, qcow_judge, f);
}

/* A dirty image (lazy refcounts, qemu-io aborted): the refcounts are
 * rebuilt at open, then writes, one into a compressed cluster. */
static void test_qcow_powerloss_dirty_repair(void **state)
{
	struct qfx *f = *state;
	struct crash_run r;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 -o lazy_refcounts=on "
				"top.qcow2 4M && qemu-io -f qcow2 -c 'write -c -P 0x33 2M 64k' "
				"top.qcow2 >/dev/null && { qemu-io -f qcow2 -c 'write -P 0x11 0 "
				"128k' -c 'write -P 0x22 1M 64k' -c abort top.qcow2 >/dev/null "
				"2>&1; true; }"), 0);
	assert_int_not_equal(qfx_sh(f, "qemu-img check top.qcow2"), 0);	/* dirty */
	begin(f, &r, "dirty-bit repair", "top.qcow2", 4 * MiB, 0);
	crash_book_stable(&r.book, crash_book_add(&r.book, 0, 128 * KiB, 0x11));
	crash_book_stable(&r.book, crash_book_add(&r.book, 1 * MiB, 64 * KiB, 0x22));
	crash_book_stable(&r.book, crash_book_add(&r.book, 2 * MiB, 64 * KiB, 0x33));
	open_dev(f, &r);
	crash_run_write(&r, 2 * MiB + 4 * KiB, 4 * KiB, 1, true);	/* compressed */
	crash_run_write(&r, 3 * MiB, 96 * KiB, 2, false);
	crash_run_write(&r, 8 * KiB, 4 * KiB, 3, false);		/* in place */
	crash_run_flush(&r);
	crash_run_unmap(&r, 1 * MiB, 64 * KiB);
	crash_run_flush(&r);
	crash_run_end(&r);
	assert_int_equal(qfx_file_be(r.image, 72, 8) & 1, 0);
	crash_run_replay(&r, qcow_judge, f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		QFX_TEST(test_qcow_powerloss_allocating),
		QFX_TEST(test_qcow_powerloss_growth),
		QFX_TEST(test_qcow_powerloss_backing_cow),
		QFX_TEST(test_qcow_powerloss_discard_reuse),
		QFX_TEST(test_qcow_powerloss_dirty_repair),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
