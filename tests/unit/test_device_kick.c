/*
 * Completions reach the kernel promptly: a command that finished is told
 * to the kernel (a kick) even while the next one is stuck in the handler,
 * and the kicks stay batched when commands are quick.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "sim_dev.h"
#include "unit_test.h"

#define GATE_LBA 0	/* reads here wait for the test to open the gate */
#define SLOW_LBA 1	/* reads here take SLOW_MS: the device thread kicks first */
#define SLOW_MS 50

/* One gate for the whole file: the tests run one at a time. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
} gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };

static void gate_set(bool open)
{
	pthread_mutex_lock(&gate.lock);
	gate.open = open;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
}

static int gate_open_dev(struct tcmur_device *dev, bool reopen)
{
	(void)dev;
	(void)reopen;
	return 0;
}

static void gate_close(struct tcmur_device *dev)
{
	(void)dev;
}

static tcmu_sts gate_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			  struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	uint64_t lba = offset / tcmur_dev_block_size(dev);

	(void)cmd;
	(void)len;
	if (lba == SLOW_LBA)
		usleep(SLOW_MS * 1000);
	if (lba == GATE_LBA) {
		pthread_mutex_lock(&gate.lock);
		while (!gate.open)
			pthread_cond_wait(&gate.cond, &gate.lock);
		pthread_mutex_unlock(&gate.lock);
	}
	for (size_t i = 0; i < iov_cnt; i++)
		memset(iov[i].iov_base, (int)lba, iov[i].iov_len);
	return TCMU_STS_GOOD;
}

static tcmu_sts gate_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			   struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	(void)dev, (void)cmd, (void)iov, (void)iov_cnt, (void)len, (void)offset;
	return TCMU_STS_GOOD;
}

static tcmu_sts gate_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	(void)dev, (void)cmd;
	return TCMU_STS_GOOD;
}

/* A serial handler: one I/O thread, so a stuck command holds up the queue. */
static const struct tcmur_handler gate_ops = {
	.struct_size = sizeof(struct tcmur_handler),
	.api_version = TCMUR_HANDLER_API_VERSION,
	.name = "Gate (tests)",
	.subtype = "gate",
	.thread_model = TCMUR_THREAD_SERIAL,
	.open = gate_open_dev,
	.close = gate_close,
	.read = gate_read,
	.write = gate_write,
	.flush = gate_flush,
};

static int gate_setup(void **state)
{
	struct sim_dev_cfg cfg = { .ops = &gate_ops, .size = 1 << 20 };
	struct sim_dev *sd;

	gate_set(false);
	if (sim_dev_new(&sd, &cfg))
		return -1;
	*state = sd;
	return 0;
}

static int gate_teardown(void **state)
{
	gate_set(true);
	sim_dev_free(*state);
	return 0;
}

static struct sim_cmd *queue_read(struct sim_dev *sd, uint32_t lba)
{
	uint8_t cdb[10] = { READ_10 };
	struct sim_req req = { .cdb = cdb, .cdb_len = sizeof(cdb), .data_len = 512 };
	struct sim_cmd *c = NULL;

	tcmu_put_be32(cdb + 2, lba);
	tcmu_put_be16(cdb + 7, 1);
	assert_int_equal(ring_sim_queue(sd->sim, &req, &c), 0);
	return c;
}

/*
 * READ(slow) finishes while READ(gate) is stuck in the handler and
 * another READ waits behind it: the kernel must see the first one's
 * status without waiting for the stuck one.
 */
static void test_kick_behind_a_stuck_command(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *slow = queue_read(sd, SLOW_LBA);
	struct sim_cmd *stuck = queue_read(sd, GATE_LBA);
	struct sim_cmd *after = queue_read(sd, 2);

	ring_sim_notify(sd->sim);
	assert_int_equal(ring_sim_wait(sd->sim, slow, 1000), 0);
	assert_good(slow);
	assert_int_equal(slow->data[0], SLOW_LBA);
	assert_false(stuck->done);
	assert_false(after->done);
	gate_set(true);
	assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	assert_good(stuck);
	assert_good(after);
	assert_int_equal(after->data[0], 2);
}

/*
 * Quick commands waiting together are told in far fewer kicks than there
 * are commands: they queue up behind a stuck one, then run in a row, and
 * only the last (queue empty) kicks, with the device thread's timer.
 */
static void test_kicks_batched(void **state)
{
	struct sim_dev *sd = *state;
	unsigned int before, n = 64;
	struct sim_cmd *stuck = queue_read(sd, GATE_LBA);

	for (unsigned int i = 0; i < n; i++)
		queue_read(sd, 2 + i);
	ring_sim_notify(sd->sim);
	usleep(200 * 1000);		/* all taken from the ring, one stuck */
	assert_false(stuck->done);
	before = ring_sim_kicks(sd->sim);
	gate_set(true);
	assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	assert_true(ring_sim_kicks(sd->sim) - before < n / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kick_behind_a_stuck_command, gate_setup,
						gate_teardown),
		cmocka_unit_test_setup_teardown(test_kicks_batched, gate_setup, gate_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
