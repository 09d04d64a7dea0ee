/*
 * EXTENDED COPY runs its I/O on another LUN under that LUN's rules: a
 * SERIAL handler never sees two of its calls at once on one LUN, even
 * with copies into it and its own commands running together; and a LUN
 * offline after a failed reopen is not written: the copy is refused with
 * COPY ABORTED, COPY TARGET DEVICE NOT REACHABLE (0D/02); nor is one
 * between the close and open of a reconfigure.
 */
#include "xcopy_list.h"

#define SER_A "aaaa0000111122223333444455556666"
#define SER_B "bbbb0000111122223333444455556666"
#define WAIT_MS 5000

/* A SERIAL wrapper of the memory handler that counts calls running at
 * once on each LUN (two LUNs at most), and notices calls after close. */
static struct tcmur_handler serial_ops;
static struct tcmur_device *seen_dev[2];
static int running[2], max_running[2], after_close[2];
static bool closed[2], fail_reopen;

static int slot(struct tcmur_device *dev)
{
	return dev == seen_dev[0] ? 0 : 1;
}

static void enter(struct tcmur_device *dev)
{
	int s = slot(dev), n = __atomic_add_fetch(&running[s], 1, __ATOMIC_SEQ_CST);
	int m = __atomic_load_n(&max_running[s], __ATOMIC_SEQ_CST);

	while (n > m && !__atomic_compare_exchange_n(&max_running[s], &m, n, false,
						     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	usleep(200);
}

static void leave(struct tcmur_device *dev)
{
	__atomic_sub_fetch(&running[slot(dev)], 1, __ATOMIC_SEQ_CST);
}

static tcmu_sts s_read(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
		       size_t cnt, size_t len, uint64_t off)
{
	tcmu_sts sts = TCMU_STS_GOOD;

	enter(dev);
	if (closed[slot(dev)])
		after_close[slot(dev)]++;
	else
		sts = mem_handler_ops.read(dev, cmd, iov, cnt, len, off);
	leave(dev);
	return sts;
}

static tcmu_sts s_write(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
			size_t cnt, size_t len, uint64_t off)
{
	tcmu_sts sts = TCMU_STS_GOOD;

	enter(dev);
	if (closed[slot(dev)])
		after_close[slot(dev)]++;
	else
		sts = mem_handler_ops.write(dev, cmd, iov, cnt, len, off);
	leave(dev);
	return sts;
}

static int s_open(struct tcmur_device *dev, bool reopen)
{
	if (!reopen) {
		seen_dev[seen_dev[0] ? 1 : 0] = dev;
	} else if (fail_reopen) {
		return -EIO;
	}
	closed[slot(dev)] = false;
	return mem_handler_ops.open(dev, reopen);
}

static void s_close(struct tcmur_device *dev)
{
	closed[slot(dev)] = true;
	mem_handler_ops.close(dev);
}

static void setup_ops(enum tcmur_thread_model model)
{
	serial_ops = mem_handler_ops;
	serial_ops.thread_model = model;
	serial_ops.read = s_read;
	serial_ops.write = s_write;
	serial_ops.open = s_open;
	serial_ops.close = s_close;
	memset(seen_dev, 0, sizeof(seen_dev));
	memset(running, 0, sizeof(running));
	memset(max_running, 0, sizeof(max_running));
	memset(after_close, 0, sizeof(after_close));
	fail_reopen = false;
}

static void test_xcopy_serial_target_one_call_at_a_time(void **state)
{
	static uint8_t wbuf[8][4096];
	struct dev_registry reg;
	struct sim_dev *a, *b;
	struct xlist l = { 0 };

	(void)state;
	alarm(60);
	setup_ops(TCMUR_THREAD_PARALLEL);
	dev_registry_init(&reg);
	a = xl_dev(&reg, &serial_ops, "", 512, SER_A);	/* slot 0, parallel */
	serial_ops.thread_model = TCMUR_THREAD_SERIAL;
	b = xl_dev(&reg, &serial_ops, "", 512, SER_B);	/* slot 1, serial */
	sbc_fill(mem_handler_data(a->dev), 256 * 512, 3);
	xl_cscd(&l, a->dev, 512);
	xl_cscd(&l, b->dev, 512);
	for (unsigned int i = 0; i < 8; i++)
		xl_seg(&l, 0, 1, 8, i * 8, i * 8);
	for (int r = 0; r < 20; r++) {
		struct sim_cmd *x[2], *w[8];

		x[0] = xl_queue(a, &l);
		x[1] = xl_queue(a, &l);
		for (int i = 0; i < 8; i++) {
			uint8_t cdb[16];
			struct sim_req req = { .cdb = cdb, .cdb_len = 16, .data = wbuf[i],
					       .data_len = 4096 };

			sbc_cdb(cdb, i & 1 ? READ_16 : WRITE_16, 0, 512 + i * 8, 8);
			assert_int_equal(ring_sim_queue(b->sim, &req, &w[i]), 0);
		}
		ring_sim_notify(a->sim);
		ring_sim_notify(b->sim);
		assert_int_equal(ring_sim_wait(a->sim, NULL, WAIT_MS), 0);
		assert_int_equal(ring_sim_wait(b->sim, NULL, WAIT_MS), 0);
		assert_good(x[0]);
		assert_good(x[1]);
		for (int i = 0; i < 8; i++)
			assert_good(w[i]);
	}
	print_message("most calls at once on the SERIAL LUN: %d\n", max_running[1]);
	assert_int_equal(max_running[1], 1);
	assert_memory_equal(mem_handler_data(b->dev), mem_handler_data(a->dev), 64 * 512);
	xl_pair_free(&reg, a, b);
	alarm(0);
}

/* B's reopen fails twice: it is offline (NOT READY to its own commands). */
static void test_xcopy_to_offline_lun_refused(void **state)
{
	struct tcmu_reconfig rc = { .has_config = true, .config = "mem/other" };
	struct dev_registry reg;
	struct sim_dev *a, *b;
	struct xlist l = { 0 };
	struct sim_cmd *c;

	(void)state;
	alarm(30);
	setup_ops(TCMUR_THREAD_PARALLEL);
	dev_registry_init(&reg);
	a = xl_dev(&reg, &serial_ops, "", 512, SER_A);
	b = xl_dev(&reg, &serial_ops, "", 512, SER_B);
	fail_reopen = true;
	assert_int_not_equal(dev_reconfig(b->dev, &rc), 0);
	assert_true(b->dev->offline);
	c = sbc_run(b, READ_16, 0, 0, 1, NULL, 512);
	assert_sense(c, SENSE_NOT_READY, 0x04, 0x03);

	xl_cscd(&l, a->dev, 512);
	xl_cscd(&l, b->dev, 512);
	xl_seg(&l, 0, 1, 8, 0, 0);
	c = xl_run(a, &l);
	assert_int_equal(after_close[1], 0);
	assert_sense(c, SENSE_COPY_ABORTED, 0x0d, 0x02);
	/* And from it. */
	memset(&l, 0, sizeof(l));
	xl_cscd(&l, b->dev, 512);
	xl_cscd(&l, a->dev, 512);
	xl_seg(&l, 0, 1, 8, 0, 0);
	c = xl_run(a, &l);
	assert_int_equal(after_close[1], 0);
	assert_sense(c, SENSE_COPY_ABORTED, 0x0d, 0x02);
	xl_pair_free(&reg, a, b);
	alarm(0);
}

/* B reopened again and again while copies into it run: its handler is
 * never called between close and open; a copy either completes or finds
 * B pausing (COPY ABORTED, 0D/02). */
static void test_xcopy_during_target_reconfig(void **state)
{
	struct tcmu_reconfig rc = { .has_config = true, .config = "mem/" };
	struct dev_registry reg;
	struct sim_dev *a, *b;
	struct xlist l = { 0 };
	int good = 0, aborted = 0;

	(void)state;
	alarm(60);
	setup_ops(TCMUR_THREAD_PARALLEL);
	dev_registry_init(&reg);
	a = xl_dev(&reg, &serial_ops, "", 512, SER_A);
	b = xl_dev(&reg, &serial_ops, "", 512, SER_B);
	xl_cscd(&l, a->dev, 512);
	xl_cscd(&l, b->dev, 512);
	for (unsigned int i = 0; i < 8; i++)
		xl_seg(&l, 0, 1, 8, i * 8, i * 8);
	for (int r = 0; r < 10; r++) {
		struct sim_cmd *x[4];

		for (int i = 0; i < 4; i++)
			x[i] = xl_queue(a, &l);
		ring_sim_notify(a->sim);
		for (int i = 0; i < 3; i++)
			assert_int_equal(dev_reconfig(b->dev, &rc), 0);
		assert_int_equal(ring_sim_wait(a->sim, NULL, WAIT_MS), 0);
		for (int i = 0; i < 4; i++) {
			if (x[i]->status == SAM_STAT_GOOD) {
				good++;
				continue;
			}
			assert_sense(x[i], SENSE_COPY_ABORTED, 0x0d, 0x02);
			aborted++;
		}
	}
	print_message("copies during reopens: %d done, %d aborted; calls while closed: %d\n",
		      good, aborted, after_close[1]);
	assert_int_equal(after_close[1], 0);
	xl_pair_free(&reg, a, b);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xcopy_serial_target_one_call_at_a_time),
		cmocka_unit_test(test_xcopy_to_offline_lun_refused),
		cmocka_unit_test(test_xcopy_during_target_reconfig),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
