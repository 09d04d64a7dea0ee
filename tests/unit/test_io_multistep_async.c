/*
 * Multi-step commands (WRITE SAME, VERIFY, EXTENDED COPY, COMPARE AND
 * WRITE) on an asynchronous handler do not park an I/O thread while a
 * handler operation of theirs is outstanding: with one I/O thread, a
 * READ sent while such an operation is held back completes at once; the
 * held command then completes with the right data. COMPARE AND WRITE
 * holds the LUN alone, so a READ waits for it, and must then see what
 * it wrote.
 */
#include "xcopy_list.h"

#define HOLD_MS 1500
#define WAIT_MS 5000

/* The memory handler, PARALLEL on one thread, whose completions the test
 * holds back: with hold set, the next read or write is answered ASYNC
 * and completed by release(). */
static struct tcmur_handler held_ops;
static pthread_mutex_t hlock = PTHREAD_MUTEX_INITIALIZER;
static bool hold;
static struct tcmur_device *held_dev;
static struct tcmur_cmd *held_cmd;
static tcmu_sts held_sts;

static tcmu_sts maybe_hold(struct tcmur_device *dev, struct tcmur_cmd *cmd, tcmu_sts sts)
{
	pthread_mutex_lock(&hlock);
	if (hold && !held_cmd) {
		hold = false;
		held_dev = dev, held_cmd = cmd, held_sts = sts;
		sts = TCMU_STS_ASYNC;
	}
	pthread_mutex_unlock(&hlock);
	return sts;
}

static tcmu_sts h_read(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
		       size_t cnt, size_t len, uint64_t off)
{
	return maybe_hold(dev, cmd, mem_handler_ops.read(dev, cmd, iov, cnt, len, off));
}

static tcmu_sts h_write(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
			size_t cnt, size_t len, uint64_t off)
{
	return maybe_hold(dev, cmd, mem_handler_ops.write(dev, cmd, iov, cnt, len, off));
}

static bool wait_held(void)
{
	for (int i = 0; i < 2000; i++) {
		bool h;

		pthread_mutex_lock(&hlock);
		h = held_cmd != NULL;
		pthread_mutex_unlock(&hlock);
		if (h)
			return true;
		usleep(1000);
	}
	return false;
}

static void release(void)
{
	struct tcmur_device *dev;
	struct tcmur_cmd *cmd;

	pthread_mutex_lock(&hlock);
	dev = held_dev, cmd = held_cmd;
	held_cmd = NULL;
	hold = false;
	pthread_mutex_unlock(&hlock);
	if (cmd)
		tcmur_cmd_complete(dev, cmd, held_sts);
}

static struct sim_dev *held_dev_new(struct dev_registry *reg)
{
	held_ops = mem_handler_ops;
	held_ops.nr_threads = 1;
	held_ops.read = h_read;
	held_ops.write = h_write;
	return xl_dev(reg, &held_ops, "", 512, SIM_DEV_SERIAL);
}

static struct sim_cmd *queue(struct sim_dev *sd, const uint8_t *cdb, const void *data,
			     size_t len)
{
	struct sim_req req = { .cdb = cdb, .cdb_len = 16, .data = data, .data_len = len };
	struct sim_cmd *c = NULL;

	assert_int_equal(ring_sim_queue(sd->sim, &req, &c), 0);
	ring_sim_notify(sd->sim);
	return c;
}

/*
 * Send @cdb (with @data) with its first handler op held; then a READ of
 * LBA 0. Returns whether the READ completed while the op was held, and
 * the command (completed after the release).
 */
static bool read_passes_held(struct sim_dev *sd, const uint8_t *cdb, const void *data,
			     size_t len, struct sim_cmd **out, bool *read_good)
{
	static uint8_t rcdb[16];
	struct sim_cmd *c, *rd;
	bool early, held;

	pthread_mutex_lock(&hlock);
	hold = true;
	pthread_mutex_unlock(&hlock);
	c = queue(sd, cdb, data, len);
	held = wait_held();
	sbc_cdb(rcdb, READ_16, 0, 0, 1);
	rd = queue(sd, rcdb, NULL, 512);
	early = held && ring_sim_wait(sd->sim, rd, HOLD_MS) == 0;
	release();
	assert_true(held);
	assert_int_equal(ring_sim_wait(sd->sim, NULL, WAIT_MS), 0);
	*read_good = rd->done && rd->status == SAM_STAT_GOOD;
	*out = c;
	return early;
}

static void test_write_same_does_not_park(void **state)
{
	uint8_t cdb[16], pat[512], *want = malloc(16 * 512);
	struct dev_registry reg;
	struct sim_dev *sd;
	struct sim_cmd *c;
	bool early, rgood;

	(void)state;
	alarm(60);
	dev_registry_init(&reg);
	sd = held_dev_new(&reg);
	sbc_fill(pat, 512, 5);
	sbc_cdb(cdb, WRITE_SAME_16, 0, 100, 16);
	early = read_passes_held(sd, cdb, pat, 512, &c, &rgood);
	print_message("READ during held WRITE SAME: %s\n", early ? "completed" : "stuck");
	assert_true(early);
	assert_true(rgood);
	assert_good(c);
	for (int i = 0; i < 16; i++)
		memcpy(want + i * 512, pat, 512);
	assert_memory_equal(mem_handler_data(sd->dev) + 100 * 512, want, 16 * 512);
	free(want);
	dev_registry_remove(&reg, sd->dev);
	sim_dev_free(sd);
	dev_registry_destroy(&reg);
	alarm(0);
}

static void test_verify_does_not_park(void **state)
{
	uint8_t cdb[16], *data = malloc(8 * 512);
	struct dev_registry reg;
	struct sim_dev *sd;
	struct sim_cmd *c;
	bool early, rgood;

	(void)state;
	alarm(60);
	dev_registry_init(&reg);
	sd = held_dev_new(&reg);
	sbc_fill(data, 8 * 512, 6);
	memcpy(mem_handler_data(sd->dev) + 200 * 512, data, 8 * 512);
	sbc_cdb(cdb, VERIFY_16, 0x02, 200, 8);		/* BYTCHK 1 */
	early = read_passes_held(sd, cdb, data, 8 * 512, &c, &rgood);
	print_message("READ during held VERIFY: %s\n", early ? "completed" : "stuck");
	assert_true(early);
	assert_true(rgood);
	assert_good(c);
	/* And a mismatch is still found. */
	data[700] ^= 1;
	c = sim_dev_run(sd, cdb, 16, data, 8 * 512);
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	free(data);
	dev_registry_remove(&reg, sd->dev);
	sim_dev_free(sd);
	dev_registry_destroy(&reg);
	alarm(0);
}

static void test_xcopy_does_not_park(void **state)
{
	struct dev_registry reg;
	struct sim_dev *sd;
	struct xlist l = { 0 };
	struct sim_cmd *c;
	bool early, rgood;
	size_t len;
	uint8_t cdb[16];

	(void)state;
	alarm(60);
	dev_registry_init(&reg);
	sd = held_dev_new(&reg);
	sbc_fill(mem_handler_data(sd->dev) + 300 * 512, 16 * 512, 7);
	xl_cscd(&l, sd->dev, 512);
	xl_seg(&l, 0, 0, 16, 300, 400);
	len = xl_build(&l);
	xl_cdb(cdb, len);
	early = read_passes_held(sd, cdb, l.buf, len, &c, &rgood);
	print_message("READ during held EXTENDED COPY: %s\n", early ? "completed" : "stuck");
	assert_true(early);
	assert_true(rgood);
	assert_good(c);
	assert_memory_equal(mem_handler_data(sd->dev) + 400 * 512,
			    mem_handler_data(sd->dev) + 300 * 512, 16 * 512);
	dev_registry_remove(&reg, sd->dev);
	sim_dev_free(sd);
	dev_registry_destroy(&reg);
	alarm(0);
}

/* COMPARE AND WRITE is exclusive: the READ waits, then sees the write. */
static void test_caw_held_then_read_sees_write(void **state)
{
	static uint8_t rcdb[16];
	uint8_t cdb[16] = { COMPARE_AND_WRITE }, buf[1024];
	struct dev_registry reg;
	struct sim_dev *sd;
	struct sim_cmd *c, *rd;
	bool held, early;

	(void)state;
	alarm(60);
	dev_registry_init(&reg);
	sd = held_dev_new(&reg);
	memset(buf, 0, 512);			/* compare: zeros */
	sbc_fill(buf + 512, 512, 8);		/* write */
	tcmu_put_be64(cdb + 2, 0);
	cdb[13] = 1;
	pthread_mutex_lock(&hlock);
	hold = true;
	pthread_mutex_unlock(&hlock);
	c = queue(sd, cdb, buf, sizeof(buf));
	held = wait_held();
	sbc_cdb(rcdb, READ_16, 0, 0, 1);
	rd = queue(sd, rcdb, NULL, 512);
	early = ring_sim_wait(sd->sim, rd, 300) == 0;
	release();
	assert_true(held);
	assert_int_equal(ring_sim_wait(sd->sim, NULL, WAIT_MS), 0);
	assert_false(early);
	assert_good(c);
	assert_good(rd);
	assert_memory_equal(rd->data, buf + 512, 512);
	dev_registry_remove(&reg, sd->dev);
	sim_dev_free(sd);
	dev_registry_destroy(&reg);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_same_does_not_park),
		cmocka_unit_test(test_verify_does_not_park),
		cmocka_unit_test(test_xcopy_does_not_park),
		cmocka_unit_test(test_caw_held_then_read_sees_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
