/*
 * The file handler when the kernel moves less than asked (file_spy.h
 * shortens or fails its preadv2/pwritev2): short transfers part-way, an
 * EINTR, the RWF_NOWAIT try on the device thread coming back short or
 * EAGAIN, and an error after some bytes have moved. Each command either
 * completes GOOD with all its data (what is read back, from the LUN and
 * from the file, is what was written) or fails with the sense the errno
 * maps to (api.c, tcmur_cmd_errno): never GOOD with part of it. A write
 * that moves nothing and reports no error fails rather than spinning.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "file_spy.h"
#include "sim_dev.h"
#include "unit_test.h"

#define BS 512
#define NBLK 16
#define LEN (NBLK * BS)
#define SHORT 700		/* bytes a shortened call moves: not a block */

/* Uneven iovecs, fewer than the handler's RWF_NOWAIT try takes (8) and
 * more. */
static const size_t few[] = { 1000, 3000, 4192 };
static const size_t many[] = { 512, 1, 4095, 100, 100, 100, 100, 100, 100, 100, 100, 2784 };

static int setup(void **state)
{
	file_spy_clear();
	return sim_dev_setup(state);
}

static int teardown(void **state)
{
	file_spy_clear();
	return sim_dev_teardown(state);
}

static void fill(uint8_t *buf, unsigned int seed)
{
	for (size_t i = 0; i < LEN; i++)
		buf[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

/* READ(10)/WRITE(10) (@fua: the FUA bit) of NBLK blocks at @lba, the
 * buffer split as @lens says. */
static struct sim_cmd *rw(struct sim_dev *sd, uint8_t op, bool fua, uint32_t lba,
			  const uint8_t *data, const size_t *lens, unsigned int cnt)
{
	uint8_t cdb[10];
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data = data, .data_len = LEN,
			       .iov_cnt = cnt, .iov_lens = lens };

	sim_rw10(cdb, op, lba, NBLK);
	if (fua)
		cdb[1] = 0x08;
	return ring_sim_run(sd->sim, &req, SIM_DEV_TIMEOUT_MS);
}

/* The LUN's blocks at @lba (a plain READ, nothing injected) and the
 * file's bytes there: both @want. */
static void assert_holds(struct sim_dev *sd, uint32_t lba, const uint8_t *want)
{
	uint8_t file[LEN];
	struct sim_cmd *c;
	int fd;

	file_spy_clear();
	c = rw(sd, READ_10, false, lba, NULL, NULL, 0);
	assert_good(c);
	assert_memory_equal(c->data, want, LEN);
	fd = open(sd->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, file, LEN, (off_t)lba * BS), LEN);
	close(fd);
	assert_memory_equal(file, want, LEN);
}

/* GOOD, with all LEN bytes of @want as data-in. */
static void assert_read_all(const struct sim_cmd *c, const uint8_t *want)
{
	assert_good(c);
	if (c->has_read_len)
		assert_int_equal(c->read_len, LEN);
	assert_memory_equal(c->data, want, LEN);
}

static unsigned int injected_since(const struct file_spy *before)
{
	struct file_spy now;

	file_spy_get(&now);
	return now.injected - before->injected;
}

/* Every call moves at most 700 bytes: reads and writes (plain and FUA),
 * over few and many iovecs, take as many calls as that needs and end
 * GOOD with every byte in place. */
static void test_short_io_completes(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t a[LEN], b[LEN];
	struct file_spy before;

	fill(a, 1);
	fill(b, 2);
	file_spy_get(&before);
	file_spy_limit_io(true, FILE_SPY_ANY, SHORT);
	assert_good(rw(sd, WRITE_10, false, 100, a, few, 3));
	assert_good(rw(sd, WRITE_10, true, 200, b, many, 12));
	assert_holds(sd, 100, a);
	assert_holds(sd, 200, b);
	assert_true(injected_since(&before) >= 2 * LEN / SHORT);

	file_spy_limit_io(false, FILE_SPY_ANY, SHORT);
	assert_read_all(rw(sd, READ_10, false, 100, NULL, many, 12), a);
	assert_read_all(rw(sd, READ_10, false, 200, NULL, few, 3), b);
}

/* EINTR before anything moved, and part-way through: retried, GOOD. */
static void test_eintr_retried(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t a[LEN];
	struct file_spy before;

	fill(a, 3);
	file_spy_get(&before);
	file_spy_fail_io(true, FILE_SPY_ANY, 1, 3, EINTR);
	assert_good(rw(sd, WRITE_10, false, 300, a, few, 3));
	file_spy_limit_io(true, FILE_SPY_BLOCKING, SHORT);
	file_spy_fail_io(true, FILE_SPY_BLOCKING, 2, 2, EINTR);
	assert_good(rw(sd, WRITE_10, true, 400, a, few, 3));
	assert_holds(sd, 300, a);
	assert_holds(sd, 400, a);
	assert_true(injected_since(&before) >= 5);

	file_spy_limit_io(false, FILE_SPY_ANY, SHORT);
	file_spy_fail_io(false, FILE_SPY_ANY, 2, 3, EINTR);
	assert_read_all(rw(sd, READ_10, false, 300, NULL, many, 12), a);
}

/*
 * The device thread's RWF_NOWAIT try coming back short, or EAGAIN: the
 * command goes to an I/O thread and is served whole there. Skipped when
 * the handler makes no such try here (a file in memory, or a file system
 * that refuses RWF_NOWAIT).
 */
static void test_nowait_short_or_eagain(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t a[LEN];
	struct file_spy before, after;

	fill(a, 4);
	assert_good(rw(sd, WRITE_10, false, 500, a, few, 3));
	assert_holds(sd, 500, a);	/* and in the page cache now */
	file_spy_get(&before);
	file_spy_limit_io(false, FILE_SPY_NOWAIT, SHORT);
	assert_read_all(rw(sd, READ_10, false, 500, NULL, few, 3), a);
	file_spy_get(&after);
	if (after.nowait_reads == before.nowait_reads)
		skip();
	assert_int_equal(after.injected - before.injected,
			 after.nowait_reads - before.nowait_reads);
	assert_true(after.reads - after.nowait_reads > before.reads - before.nowait_reads);

	file_spy_clear();
	file_spy_fail_io(false, FILE_SPY_NOWAIT, 1, 1, EAGAIN);
	assert_read_all(rw(sd, READ_10, false, 500, NULL, few, 3), a);
	assert_int_equal(injected_since(&after), 1);

	/* Writes: the same, if the file system takes RWF_NOWAIT writes. */
	file_spy_clear();
	fill(a, 5);
	file_spy_get(&before);
	file_spy_limit_io(true, FILE_SPY_NOWAIT, SHORT);
	assert_good(rw(sd, WRITE_10, false, 500, a, few, 3));
	file_spy_fail_io(true, FILE_SPY_NOWAIT, 1, 1, EAGAIN);
	assert_good(rw(sd, WRITE_10, false, 600, a, few, 3));
	assert_holds(sd, 500, a);
	assert_holds(sd, 600, a);
}

/* An error after some bytes moved fails the command with the errno's
 * sense, never GOOD; the next command, nothing injected, is GOOD. */
static void test_error_part_way(void **state)
{
	static const struct {
		bool write;
		int err;
		uint8_t status, key, asc, ascq;
	} cases[] = {
		{ false, EIO, SAM_STAT_CHECK_CONDITION, SENSE_MEDIUM_ERROR, 0x11, 0x00 },
		{ true, EIO, SAM_STAT_CHECK_CONDITION, SENSE_MEDIUM_ERROR, 0x0c, 0x00 },
		{ true, ENOSPC, SAM_STAT_CHECK_CONDITION, SENSE_DATA_PROTECT, 0x27, 0x07 },
		{ false, EAGAIN, SAM_STAT_BUSY, 0, 0, 0 },
		{ true, EAGAIN, SAM_STAT_BUSY, 0, 0, 0 },
	};
	struct sim_dev *sd = *state;
	uint8_t a[LEN];

	fill(a, 6);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t op = cases[i].write ? WRITE_10 : READ_10;
		struct sim_cmd *c;

		file_spy_limit_io(cases[i].write, FILE_SPY_ANY, SHORT);
		file_spy_fail_io(cases[i].write, FILE_SPY_BLOCKING, 3, 1, cases[i].err);
		c = rw(sd, op, false, 700, a, few, 3);
		assert_non_null(c);
		assert_true(c->done);
		assert_int_equal(c->status, cases[i].status);
		if (c->status == SAM_STAT_CHECK_CONDITION) {
			assert_sense(c, cases[i].key, cases[i].asc, cases[i].ascq);
		}
		file_spy_clear();
		assert_good(rw(sd, op, false, 700, a, few, 3));
	}
	assert_holds(sd, 700, a);
}

/* pwritev2 moving nothing and reporting no error (no file system should;
 * a broken one might): the write fails, MEDIUM ERROR, WRITE ERROR, and
 * does not spin on an I/O thread until the kernel's cmd_time_out. */
static void test_write_of_nothing_fails(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t a[LEN];
	struct sim_cmd *c;

	fill(a, 7);
	file_spy_limit_io(true, FILE_SPY_ANY, SHORT);
	file_spy_fail_io(true, FILE_SPY_BLOCKING, 2, 100000, 0);
	c = rw(sd, WRITE_10, false, 800, a, few, 3);
	assert_sense(c, SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	file_spy_clear();
	assert_good(rw(sd, WRITE_10, false, 800, a, few, 3));
	assert_holds(sd, 800, a);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_short_io_completes),
		T(test_eintr_retried),
		T(test_nowait_short_or_eagain),
		T(test_error_part_way),
		T(test_write_of_nothing_fails),
	};

	return cmocka_run_group_tests_name("io short transfers", tests, NULL, NULL);
}
