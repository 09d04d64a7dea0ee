/*
 * A dirty qcow2 image (incompatible bit 0, left by QEMU with
 * lazy_refcounts when it stops without closing the image) is served as
 * QEMU serves it: at open its refcounts are rebuilt from what references
 * each cluster, made stable, and only then is the dirty bit cleared
 * (stable too). The images come from qemu-io killed mid-session
 * (its abort command), with refcounts of 1, 16 and 64 bits, spoilt
 * further by hand: a leak, a count too high. After the device is gone
 * qemu-img check finds no error and no leak, the bit is clear and the
 * data is QEMU's. What the
 * repair cannot mend (a data cluster past the end of the file) is
 * refused, the image left as it was; a failing fdatasync leaves the bit
 * set, and the next open repairs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_capture.h"
#include "qcow_fixture.h"
#include "unit_test.h"

#define KiB 1024
#define MiB (1024 * 1024)
#define CLUSTER (64 * KiB)
#define MAX_EVENTS 256

/* While @spying: the handler's pwrite and fdatasync calls, in order
 * (offset and length of a write; len 0: a sync). While @sync_fails:
 * fdatasync fails with EIO. The handler (a plugin) binds to these
 * definitions: the test binary exports them (-rdynamic). */
static struct spy_event { off_t off; size_t len; } events[MAX_EVENTS];
static unsigned int nr_events;
static bool spying, sync_fails;

static void spy_note(off_t off, size_t len)
{
	if (__atomic_load_n(&spying, __ATOMIC_RELAXED) && nr_events < MAX_EVENTS)
		events[nr_events++] = (struct spy_event){ off, len };
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t (*real)(int, const void *, size_t, off_t);

	spy_note(off, len);
	real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	return real ? real(fd, buf, len, off) : (errno = ENOSYS, -1);
}

int fdatasync(int fd)
{
	int (*real)(int);

	if (__atomic_load_n(&sync_fails, __ATOMIC_RELAXED)) {
		errno = EIO;
		return -1;
	}
	spy_note(0, 0);
	real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	return real ? real(fd) : (errno = ENOSYS, -1);
}

/* The big-endian integer of @len bytes at @off of <dir>/<name>. */
static uint64_t file_be(struct qfx *f, const char *name, uint64_t off, unsigned int len)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	return qfx_file_be(path, off, len);
}

/* Set the 16-bit refcount of host cluster @c (in the first refcount
 * block) of <dir>/<name> to @v. */
static void set_refcount(struct qfx *f, const char *name, uint64_t c, uint16_t v)
{
	uint64_t block = file_be(f, name, file_be(f, name, 48, 8), 8);
	uint8_t be[2] = { v >> 8, v & 0xff };
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, be, 2, block + c * 2), 2);
	close(fd);
}

/* A dirty image x.qcow2 (4 MiB, 64 KiB clusters, lazy refcounts of
 * @bits bits): a compressed cluster written cleanly, then three data
 * clusters by a qemu-io that aborts (their refcounts never written);
 * ref.raw holds its data as QEMU reads it. */
static void make_dirty_bits(struct qfx *f, unsigned int bits)
{
	assert_int_equal(qfx_sh(f, "qemu-img create -q -f qcow2 -o lazy_refcounts=on,"
				"refcount_bits=%u x.qcow2 4M && qemu-io -f qcow2 -c 'write "
				"-c -P 0x33 2M 64k' x.qcow2 >/dev/null && { qemu-io -f qcow2 -c "
				"'write -P 0x11 0 128k' -c 'write -P 0x22 1M 64k' -c abort "
				"x.qcow2 >/dev/null 2>&1; true; } && qemu-img convert -O raw "
				"x.qcow2 ref.raw", bits), 0);
	assert_int_equal(file_be(f, "x.qcow2", 72, 8), 1);
	/* QEMU agrees it needs repair */
	assert_int_not_equal(qfx_sh(f, "qemu-img check x.qcow2"), 0);
}

/* The same with 16-bit refcounts (QEMU's default). */
static void make_dirty(struct qfx *f)
{
	make_dirty_bits(f, 16);
}

/* QEMU's verdict once the device is gone: no error, no leak, the dirty
 * bit clear, the same data as ref.raw. */
static void assert_clean(struct qfx *f)
{
	int rc = qfx_sh(f, "qemu-img check x.qcow2");

	if (rc != 0)
		fail_msg("qemu-img check: exit %d:\n%s", rc, f->out);
	assert_non_null(strstr(f->out, "No errors were found on the image."));
	assert_int_equal(file_be(f, "x.qcow2", 72, 8), 0);
	rc = qfx_sh(f, "qemu-img compare -F raw x.qcow2 ref.raw");
	if (rc != 0)
		fail_msg("qemu-img compare: exit %d:\n%s", rc, f->out);
}

/* Stale refcounts (three data clusters at 0), a leak (a cluster past
 * all data, counted 1) and a count too high (the L1 table's, 2): all
 * mended at open, said in one line; the data reads as QEMU's, writes
 * land, and QEMU finds the image clean. */
static void test_qcow_dirty_repaired_on_open(void **state)
{
	struct qfx *f = *state;
	uint64_t end, l1;
	struct log_capture lc;
	struct sim_dev *sd;

	make_dirty(f);
	assert_int_equal(qfx_sh(f, "stat -c %%s x.qcow2"), 0);
	end = strtoull(f->out, NULL, 10);
	assert_int_equal(qfx_sh(f, "truncate -s +64K x.qcow2"), 0);
	assert_true(end > 0 && end % CLUSTER == 0);
	set_refcount(f, "x.qcow2", end / CLUSTER, 1);
	l1 = file_be(f, "x.qcow2", 40, 8);
	set_refcount(f, "x.qcow2", l1 / CLUSTER, 2);

	assert_int_equal(log_capture_new(&lc), 0);
	sd = qfx_dev(f, "x.qcow2", 4 * MiB, &lc.log);
	assert_non_null(sd);
	assert_int_equal(log_capture_count(&lc, "dirty image: refcounts rebuilt: 4 fixed, "
					   "1 leaks freed"), 1);
	assert_int_equal(file_be(f, "x.qcow2", 72, 8), 0);
	assert_int_equal(qfx_lun_vs_file(f, sd, "ref.raw", 4 * MiB), -1);
	qfx_write_both(f, sd, "ref.raw", 3 * MiB + 512, 100 * KiB, 1);	/* new clusters */
	qfx_write_both(f, sd, "ref.raw", 64 * KiB, 4 * KiB, 2);		/* over a repaired one */
	assert_int_equal(qfx_lun_vs_file(f, sd, "ref.raw", 4 * MiB), -1);
	sim_dev_free(sd);
	log_capture_free(&lc);
	assert_clean(f);
}

/* Refcounts of 1 and 64 bits (entries within a byte, and 8-byte ones)
 * are rebuilt as well as 16-bit ones. */
static void test_qcow_dirty_refcount_widths(void **state)
{
	static const unsigned int widths[] = { 1, 64 };
	struct qfx *f = *state;

	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		struct log_capture lc;
		struct sim_dev *sd;

		assert_int_equal(qfx_sh(f, "rm -f x.qcow2 ref.raw"), 0);
		make_dirty_bits(f, widths[i]);
		assert_int_equal(log_capture_new(&lc), 0);
		sd = qfx_dev(f, "x.qcow2", 4 * MiB, &lc.log);
		assert_non_null(sd);
		if (log_capture_count(&lc, "refcounts rebuilt: 3 fixed, 0 leaks freed") != 1)
			fail_msg("%u-bit refcounts: no \"3 fixed, 0 leaks freed\"", widths[i]);
		qfx_write_both(f, sd, "ref.raw", 3 * MiB, 64 * KiB, 3);
		assert_int_equal(qfx_lun_vs_file(f, sd, "ref.raw", 4 * MiB), -1);
		sim_dev_free(sd);
		log_capture_free(&lc);
		assert_clean(f);
	}
}

/* The refcount blocks reach the disk (fdatasync) before the dirty bit
 * is cleared, and the cleared bit is made stable too. */
static void test_qcow_dirty_bit_cleared_last(void **state)
{
	struct qfx *f = *state;
	unsigned int clear = MAX_EVENTS, last_block = MAX_EVENTS;
	bool synced_before = false, synced_after = false;
	struct sim_dev *sd;

	make_dirty(f);
	nr_events = 0;
	__atomic_store_n(&spying, true, __ATOMIC_RELAXED);
	sd = qfx_dev(f, "x.qcow2", 4 * MiB, NULL);
	__atomic_store_n(&spying, false, __ATOMIC_RELAXED);
	assert_non_null(sd);
	for (unsigned int i = 0; i < nr_events; i++) {
		if (events[i].off == 72 && events[i].len == 8)
			clear = i;
		else if (events[i].len && clear == MAX_EVENTS)
			last_block = i;
	}
	assert_true(clear < nr_events);
	assert_true(last_block < clear);	/* the refcount block was rewritten first */
	for (unsigned int i = last_block + 1; i < clear; i++)
		synced_before |= events[i].len == 0;
	for (unsigned int i = clear + 1; i < nr_events; i++)
		synced_after |= events[i].len == 0;
	assert_true(synced_before);
	assert_true(synced_after);
	sim_dev_free(sd);
	assert_clean(f);
}

/* fdatasync failing during the repair: open refused, the dirty bit still
 * set; the next open repairs. */
static void test_qcow_dirty_sync_fails_stays_dirty(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *sd;

	make_dirty(f);
	__atomic_store_n(&sync_fails, true, __ATOMIC_RELAXED);
	sd = qfx_dev(f, "x.qcow2", 4 * MiB, NULL);
	__atomic_store_n(&sync_fails, false, __ATOMIC_RELAXED);
	assert_null(sd);
	assert_int_equal(file_be(f, "x.qcow2", 72, 8), 1);
	sd = qfx_dev(f, "x.qcow2", 4 * MiB, NULL);
	assert_non_null(sd);
	assert_int_equal(qfx_lun_vs_file(f, sd, "ref.raw", 4 * MiB), -1);
	sim_dev_free(sd);
	assert_clean(f);
}

/* A dirty image whose data cluster lies past the end of the file: the
 * repair stops, says why, and leaves the file as it was. */
static void test_qcow_dirty_unrepairable_refused(void **state)
{
	struct qfx *f = *state;
	struct log_capture lc;

	make_dirty(f);
	assert_int_equal(qfx_sh(f, "truncate -s -64K x.qcow2 && md5sum x.qcow2 > sum"), 0);
	assert_int_equal(log_capture_new(&lc), 0);
	assert_null(qfx_dev(f, "x.qcow2", 4 * MiB, &lc.log));
	assert_int_equal(log_capture_count(&lc, "dirty image: rebuilding the refcounts "
					   "failed: data cluster at"), 1);
	assert_int_equal(log_capture_count(&lc, "lies past the end of the file; repair it "
					   "with qemu-img check -r all"), 1);
	log_capture_free(&lc);
	assert_int_equal(qfx_sh(f, "md5sum -c sum"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		QFX_TEST(test_qcow_dirty_repaired_on_open),
		QFX_TEST(test_qcow_dirty_refcount_widths),
		QFX_TEST(test_qcow_dirty_bit_cleared_last),
		QFX_TEST(test_qcow_dirty_sync_fails_stays_dirty),
		QFX_TEST(test_qcow_dirty_unrepairable_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
