/*
 * One writer per image (handler_qcow, image_lock.h): a LUN takes QEMU's
 * image locks on its image, so a second LUN on an image the first serves
 * is refused (the reason logged, naming the image and the lock); raw
 * images with ;share_rw=on on both open, a qcow2 image refuses the
 * option (its metadata cannot have two writers); once the first closes,
 * the second opens; a reopen is not refused by the LUN's own locks. A
 * backing file gets a reader's locks, as QEMU takes them: overlays share
 * it, a writer (a LUN, qemu-io) is refused while they serve, a reader
 * (qemu-io -r) is not.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_capture.h"
#include "qcow_fixture.h"
#include "unit_test.h"

#define NEW "qemu-img create -q -f qcow2 "
#define MB (1 << 20)
#define IN_USE "in use: another process or LUN"

/* A LUN on @name is refused, and its log says why on one line, once,
 * naming @file and @lock. */
static void assert_refused(struct qfx *f, const char *name, const char *file,
			   const char *lock)
{
	struct log_capture lc;
	struct sim_dev *sd;
	char *line;

	assert_int_equal(log_capture_new(&lc), 0);
	sd = qfx_dev(f, name, MB, &lc.log);
	line = log_capture_line(&lc, IN_USE);
	print_message("LUN on %s: %s; %s\n", name, sd ? "opened" : "refused", line ? line : "");
	sim_dev_free(sd);
	assert_null(sd);
	assert_non_null(line);
	assert_int_equal(log_capture_count(&lc, IN_USE), 1);
	assert_non_null(strstr(line, file));
	assert_non_null(strstr(line, lock));
	free(line);
	log_capture_free(&lc);
}

static void test_qcow_second_lun_refused(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *sd;

	assert_int_equal(qfx_sh(f, NEW "x.qcow2 1M"), 0);
	sd = qfx_dev(f, "x.qcow2", MB, NULL);
	assert_non_null(sd);
	assert_refused(f, "x.qcow2", "/x.qcow2: in use",
		       "does not share \"write\" (QEMU's lock byte 201)");
	sim_dev_free(sd);
}

/* Raw images: ;share_rw=on on both, both open. A qcow2 image: the
 * option is refused, with the reason. */
static void test_qcow_share_rw(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *a, *b;
	char *why = NULL;

	assert_int_equal(qfx_sh(f, "truncate -s 1M x.raw && " NEW "x.qcow2 1M"), 0);
	a = qfx_dev(f, "x.raw;format=raw;share_rw=on", MB, NULL);
	assert_non_null(a);
	b = qfx_dev(f, "x.raw;share_rw=on;format=raw", MB, NULL);
	assert_non_null(b);
	sim_dev_free(b);
	assert_refused(f, "x.raw;format=raw", "/x.raw: in use",
		       "has it open for \"write\" (QEMU's lock byte 101)");
	sim_dev_free(a);
	assert_false(qfx_check(f, "x.qcow2;share_rw=on", &why));
	assert_non_null(why);
	print_message("%s\n", why);
	assert_non_null(strstr(why, "share_rw=on needs format=raw"));
	free(why);
	assert_null(qfx_dev(f, "x.qcow2;share_rw=on", MB, NULL));
}

/* The first closes: the second opens. */
static void test_qcow_second_opens_after_first_closes(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *sd;

	assert_int_equal(qfx_sh(f, NEW "x.qcow2 1M"), 0);
	sd = qfx_dev(f, "x.qcow2", MB, NULL);
	assert_non_null(sd);
	assert_null(qfx_dev(f, "x.qcow2", MB, NULL));
	sim_dev_free(sd);
	sd = qfx_dev(f, "x.qcow2", MB, NULL);
	assert_non_null(sd);
	sim_dev_free(sd);
}

/* A reopen (a new config string, the same image) is not refused by the
 * LUN's own locks; it holds them again after. */
static void test_qcow_reopen_keeps_locks(void **state)
{
	struct qfx *f = *state;
	struct tcmu_reconfig rc = { .has_config = true };
	struct sim_dev *sd;

	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 b.qcow2 1M && "
				NEW "-b b.qcow2 -F qcow2 x.qcow2 1M"), 0);
	sd = qfx_dev(f, "x.qcow2", MB, NULL);
	assert_non_null(sd);
	snprintf(rc.config, sizeof(rc.config), "qcow/%s/x.qcow2", f->dir);
	assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
	assert_string_equal(dev_state_name(sd->dev), "running");
	assert_null(qfx_dev(f, "x.qcow2", MB, NULL));
	sim_dev_free(sd);
}

/*
 * A backing file, read-only, gets QEMU's reader locks: two overlays on
 * it both open; qemu-io may read it, but neither qemu-io nor a LUN may
 * write it while they serve.
 */
static void test_qcow_backing_reader_locks(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *x, *y;

	assert_int_equal(qfx_sh(f, NEW "b.qcow2 1M && " NEW "-b b.qcow2 -F qcow2 x.qcow2 1M && "
				NEW "-b b.qcow2 -F qcow2 y.qcow2 1M"), 0);
	x = qfx_dev(f, "x.qcow2", MB, NULL);
	assert_non_null(x);
	y = qfx_dev(f, "y.qcow2", MB, NULL);
	assert_non_null(y);
	assert_int_equal(qfx_sh(f, "qemu-io -f qcow2 -r -c 'read 0 4k' b.qcow2"), 0);
	assert_int_not_equal(qfx_sh(f, "qemu-io -f qcow2 -c 'write 0 4k' b.qcow2"), 0);
	print_message("qemu-io write on the backing file: %s", f->out);
	assert_non_null(strstr(f->out, "Failed to get \"write\" lock"));
	assert_refused(f, "b.qcow2", "/b.qcow2: in use",
		       "does not share \"write\" (QEMU's lock byte 201)");
	sim_dev_free(x);
	sim_dev_free(y);
	assert_int_equal(qfx_sh(f, "qemu-io -f qcow2 -c 'write 0 4k' b.qcow2"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		QFX_TEST(test_qcow_second_lun_refused),
		QFX_TEST(test_qcow_share_rw),
		QFX_TEST(test_qcow_second_opens_after_first_closes),
		QFX_TEST(test_qcow_reopen_keeps_locks),
		QFX_TEST(test_qcow_backing_reader_locks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
