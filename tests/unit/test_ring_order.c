/*
 * The ring hands out what the kernel queued, and the kernel gets each
 * completion under the right cmd_id, in order, out of order, or from
 * another thread, with the READ_LEN residual the daemon reported. The
 * simulator refuses entries the kernel would never build, and flags a
 * READ_LEN longer than the buffer.
 */
#include <pthread.h>

#include "ring_fixture.h"

static int setup(void **state)
{
	return fx_setup_size(state, 0, 0);
}

/* Commands come out as queued: id, CDB, iovecs into the data area. */
static void test_ring_parse_and_complete_in_order(void **state)
{
	struct ring_fx *fx = *state;
	uint8_t wdata[1000];
	struct sim_cmd *c1, *c2, *c3;
	struct tcmu_cmd *r1, *r2, *r3;
	uint8_t *map = ring_sim_map(fx->sim);

	for (size_t i = 0; i < sizeof(wdata); i++)
		wdata[i] = i * 7;
	c1 = fx_queue(fx, READ_10, NULL, 4096, 2);
	c2 = fx_queue(fx, WRITE_10, wdata, sizeof(wdata), 3);
	c3 = fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);
	ring_sim_notify(fx->sim);

	r1 = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_non_null(r1);
	assert_int_equal(r1->cmd_id, c1->cmd_id);
	assert_int_equal(r1->cdb_len, 10);
	assert_int_equal(r1->cdb[0], READ_10);
	assert_int_equal(r1->iov_cnt, 2);
	assert_int_equal(r1->data_len, 4096);
	assert_ptr_equal(r1->iov[0].iov_base, map + c1->seg[0].off);
	assert_ptr_equal(r1->iov[1].iov_base, map + c1->seg[1].off);
	assert_int_equal(r1->iov[0].iov_len + r1->iov[1].iov_len, 4096);
	assert_non_null(r1->priv);

	r2 = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_non_null(r2);
	assert_int_equal(r2->cmd_id, c2->cmd_id);
	assert_int_equal(r2->iov_cnt, 3);
	assert_int_equal(r2->data_len, sizeof(wdata));
	assert_int_equal(tcmu_iov_compare(r2->iov, r2->iov_cnt, wdata, sizeof(wdata)), -1);

	r3 = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_non_null(r3);
	assert_int_equal(r3->cmd_id, c3->cmd_id);
	assert_int_equal(r3->cdb[0], TEST_UNIT_READY);
	assert_int_equal(r3->cdb_len, 6);
	assert_int_equal(r3->iov_cnt, 0);
	assert_int_equal(r3->data_len, 0);

	assert_null(tcmu_ring_next(fx->ring, NULL, NULL));
	assert_int_equal(tcmu_ring_inflight(fx->ring), 3);

	fx_fill(r1, 1);
	tcmu_ring_complete(fx->ring, r1, SAM_STAT_GOOD);
	tcmu_ring_complete(fx->ring, r2, SAM_STAT_GOOD);
	tcmu_ring_complete(fx->ring, r3, SAM_STAT_GOOD);
	assert_int_equal(tcmu_ring_inflight(fx->ring), 0);
	tcmu_ring_kick(fx->ring);

	assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
	assert_good(c1);
	assert_true(fx_check(c1, 1));
	assert_good(c2);
	assert_memory_equal(c2->data, wdata, sizeof(wdata));
	assert_good(c3);
	assert_int_equal(ring_sim_kicks(fx->sim), 1);
	assert_int_equal(fx->errors, 0);
	/* All of the ring is free again. */
	assert_int_equal(ring_sim_ring_free(fx->sim), SIM_DEFAULT_CMDR_SIZE - 1);
}

/* Completing 2 before 1: the kernel finds each by its own id. */
static void test_ring_complete_out_of_order(void **state)
{
	struct ring_fx *fx = *state;
	struct sim_cmd *c1 = fx_queue(fx, READ_10, NULL, 512, 1);
	struct sim_cmd *c2 = fx_queue(fx, READ_10, NULL, 1024, 1);
	struct sim_cmd *c3 = fx_queue(fx, READ_10, NULL, 512, 1);
	struct tcmu_cmd *r1 = tcmu_ring_next(fx->ring, NULL, NULL);
	struct tcmu_cmd *r2 = tcmu_ring_next(fx->ring, NULL, NULL);
	struct tcmu_cmd *r3 = tcmu_ring_next(fx->ring, NULL, NULL);

	assert_non_null(r1);
	assert_non_null(r2);
	assert_non_null(r3);
	fx_fill(r2, 2);
	r2->sense[0] = 0x70;
	r2->sense[2] = SENSE_MEDIUM_ERROR;
	r2->sense[7] = 10;
	r2->sense[12] = 0x11;
	tcmu_ring_complete(fx->ring, r2, SAM_STAT_CHECK_CONDITION);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, c2, 2000), 0);
	assert_false(c1->done);
	assert_false(c3->done);
	assert_sense(c2, SENSE_MEDIUM_ERROR, 0x11, 0x00);
	assert_true(fx_check(c2, 2));

	fx_fill(r3, 3);
	tcmu_ring_complete(fx->ring, r3, SAM_STAT_GOOD);
	fx_fill(r1, 1);
	tcmu_ring_complete(fx->ring, r1, SAM_STAT_BUSY);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
	assert_good(c3);
	assert_true(fx_check(c3, 3));
	assert_int_equal(c1->status, SAM_STAT_BUSY);
	assert_true(fx_check(c1, 1));
	assert_false(ring_sim_broken(fx->sim));
}

/* A kick with nothing completed since the last one writes nothing. */
static void test_ring_kick_only_when_completed(void **state)
{
	struct ring_fx *fx = *state;
	struct tcmu_cmd *r;

	tcmu_ring_kick(fx->ring);
	fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);
	r = tcmu_ring_next(fx->ring, NULL, NULL);
	tcmu_ring_complete(fx->ring, r, SAM_STAT_GOOD);
	tcmu_ring_kick(fx->ring);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
	assert_int_equal(ring_sim_kicks(fx->sim), 1);
}

/* ---- completion from another thread ----------------------------------- */

#define MT_CMDS 600
#define MT_BATCH 40

struct mt {
	struct ring_fx *fx;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct tcmu_cmd *pending[MT_BATCH];
	unsigned int npending;
	bool stop;
};

/* Completes what it is handed, newest first, and kicks. */
static void *mt_completer(void *arg)
{
	struct mt *mt = arg;

	pthread_mutex_lock(&mt->lock);
	for (;;) {
		while (!mt->npending && !mt->stop)
			pthread_cond_wait(&mt->cond, &mt->lock);
		if (!mt->npending)
			break;
		while (mt->npending) {
			struct tcmu_cmd *r = mt->pending[--mt->npending];

			fx_fill(r, r->cmd_id);
			tcmu_ring_complete(mt->fx->ring, r, SAM_STAT_GOOD);
		}
		tcmu_ring_kick(mt->fx->ring);
	}
	pthread_mutex_unlock(&mt->lock);
	return NULL;
}

static void test_ring_complete_from_another_thread(void **state)
{
	struct ring_fx *fx = *state;
	struct mt mt = { .fx = fx, .lock = PTHREAD_MUTEX_INITIALIZER,
			 .cond = PTHREAD_COND_INITIALIZER };
	pthread_t th;
	unsigned int done = 0;

	assert_int_equal(pthread_create(&th, NULL, mt_completer, &mt), 0);
	while (done < MT_CMDS) {
		struct sim_cmd *c[MT_BATCH];
		unsigned int n = 0;
		struct tcmu_cmd *r;

		for (n = 0; n < MT_BATCH; n++)
			c[n] = fx_queue(fx, READ_10, NULL, 512 + n * 8, 1 + n % 3);
		ring_sim_notify(fx->sim);
		while ((r = tcmu_ring_next(fx->ring, NULL, NULL))) {
			pthread_mutex_lock(&mt.lock);
			mt.pending[mt.npending++] = r;
			pthread_cond_signal(&mt.cond);
			pthread_mutex_unlock(&mt.lock);
		}
		assert_int_equal(ring_sim_wait(fx->sim, NULL, 5000), 0);
		for (n = 0; n < MT_BATCH; n++) {
			assert_good(c[n]);
			assert_true(fx_check(c[n], c[n]->cmd_id));
			ring_sim_cmd_free(fx->sim, c[n]);
		}
		done += MT_BATCH;
	}
	pthread_mutex_lock(&mt.lock);
	mt.stop = true;
	pthread_cond_signal(&mt.cond);
	pthread_mutex_unlock(&mt.lock);
	pthread_join(th, NULL);
	assert_false(ring_sim_broken(fx->sim));
	assert_int_equal(tcmu_ring_inflight(fx->ring), 0);
}

/* The mailbox's flags are what the kernel offers. */
static void test_ring_kernel_flags(void **state)
{
	struct ring_fx *fx = *state;

	assert_int_equal(tcmu_ring_kernel_flags(fx->ring), 0x0f);
}

/* A mailbox that does not describe a ring inside the map is refused. */
static void test_ring_new_refuses_bad_mailbox(void **state)
{
	struct ring_fx *fx = *state;
	struct tcmu_mailbox *mb = ring_sim_mailbox(fx->sim);
	size_t size = ring_sim_map_size(fx->sim);
	struct tcmu_ring *ring = NULL;
	struct tcmu_mailbox saved = *mb;
	int fd = ring_sim_fd(fx->sim);
	void *map = ring_sim_map(fx->sim);

	mb->version = 1;
	assert_int_equal(tcmu_ring_new(&ring, fd, map, size, 0, &fx->logger, "t"), -EINVAL);
	*mb = saved;
	mb->cmdr_size = size;
	assert_int_equal(tcmu_ring_new(&ring, fd, map, size, 0, &fx->logger, "t"), -EINVAL);
	*mb = saved;
	mb->cmdr_off = 8;
	assert_int_equal(tcmu_ring_new(&ring, fd, map, size, 0, &fx->logger, "t"), -EINVAL);
	*mb = saved;
	mb->cmdr_size = 1001;
	assert_int_equal(tcmu_ring_new(&ring, fd, map, size, 0, &fx->logger, "t"), -EINVAL);
	*mb = saved;
	mb->cmdr_off = sizeof(*mb) + 4;		/* entries would be misaligned */
	assert_int_equal(tcmu_ring_new(&ring, fd, map, size, 0, &fx->logger, "t"), -EINVAL);
	*mb = saved;
	mb->cmd_tail = 12;
	assert_int_equal(tcmu_ring_new(&ring, fd, map, size, 0, &fx->logger, "t"), -EINVAL);
	*mb = saved;
	assert_int_equal(tcmu_ring_new(&ring, fd, map, 100, 0, &fx->logger, "t"), -EINVAL);
	/* A map whose mailbox is not 64-byte aligned (found by fuzz_ring). */
	assert_int_equal(tcmu_ring_new(&ring, fd, (uint8_t *)map + 16, size - 16, 0,
				       &fx->logger, "t"), -EINVAL);
	assert_null(ring);
	assert_int_equal(tcmu_ring_new(&ring, fd, map, size, 0, &fx->logger, "t"), 0);
	tcmu_ring_free(ring);
	tcmu_ring_free(NULL);
}

/* READ_LEN: what the daemon says it read goes back with the flag; the
 * rest of the buffer is the residual. More than the buffer is a bug the
 * simulator flags (the kernel would silently take the buffer's length). */
static void test_ring_read_len_reported(void **state)
{
	struct ring_fx *fx = *state;
	static const uint32_t lens[] = { 100, 4096, 0, 4096 + 512 };
	struct sim_cmd *c;
	struct tcmu_cmd *r;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		c = fx_queue(fx, READ_10, NULL, 4096, 2);
		ring_sim_notify(fx->sim);
		r = tcmu_ring_next(fx->ring, NULL, NULL);
		assert_non_null(r);
		r->has_read_len = true;
		r->read_len = lens[i];
		tcmu_ring_complete(fx->ring, r, SAM_STAT_GOOD);
		tcmu_ring_kick(fx->ring);
		assert_int_equal(ring_sim_wait(fx->sim, c, 2000), 0);
		assert_true(c->has_read_len);
		assert_true(c->uflags & TCMU_UFLAG_READ_LEN);
		assert_int_equal(c->read_len, lens[i]);
		assert_int_equal(c->read_len_ok, lens[i] <= 4096);
		ring_sim_cmd_free(fx->sim, c);
	}
	/* Without it, the whole buffer was moved: no residual. */
	c = fx_queue(fx, READ_10, NULL, 4096, 1);
	ring_sim_notify(fx->sim);
	r = tcmu_ring_next(fx->ring, NULL, NULL);
	tcmu_ring_complete(fx->ring, r, SAM_STAT_GOOD);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, c, 2000), 0);
	assert_false(c->has_read_len);
	assert_good(c);
}

/* Entries the kernel never builds are refused at queueing, and nothing
 * is taken from the ring or the data area. */
static void test_ring_sim_refuses_overrunning_entries(void **state)
{
	struct ring_fx *fx = *state;
	static const size_t over[] = { 512, 1024 }, under[] = { 512, 256 };
	uint8_t cdb[10] = { WRITE_10 }, data[1024] = { 0 };
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data = data, .data_len = 1024,
			       .iov_cnt = 2, .iov_lens = over };
	uint32_t ring_free = ring_sim_ring_free(fx->sim);
	struct sim_cmd *c = NULL;
	unsigned int max_iovs;

	/* iovec lengths running past the buffer, or short of it. */
	assert_int_equal(ring_sim_queue(fx->sim, &req, &c), -EINVAL);
	req.iov_lens = under;
	assert_int_equal(ring_sim_queue(fx->sim, &req, &c), -EINVAL);
	/* More iovecs than half the ring holds. */
	req.iov_lens = NULL;
	req.data_len = sizeof(data);
	for (max_iovs = 1; ring_sim_entry_size(max_iovs + 1, 10) <= SIM_DEFAULT_CMDR_SIZE / 2;)
		max_iovs++;
	req.iov_cnt = max_iovs + 1;
	req.data_len = req.iov_cnt;
	req.data = NULL;
	assert_int_equal(ring_sim_queue(fx->sim, &req, &c), -E2BIG);
	assert_null(c);
	assert_int_equal(ring_sim_inflight(fx->sim), 0);
	assert_int_equal(ring_sim_ring_free(fx->sim), ring_free);
	/* The largest that fits goes through. */
	req.iov_cnt = max_iovs;
	req.data_len = max_iovs;
	assert_int_equal(ring_sim_queue(fx->sim, &req, &c), 0);
	assert_int_equal(c->nseg, max_iovs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ring_parse_and_complete_in_order, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_complete_out_of_order, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_kick_only_when_completed, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_complete_from_another_thread, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_kernel_flags, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_read_len_reported, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_sim_refuses_overrunning_entries, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_new_refuses_bad_mailbox, setup, fx_teardown),
	};

	return cmocka_run_group_tests_name("ring order", tests, NULL, NULL);
}
