/*
 * An admin's configfs action/reset_ring while we serve (the simulator's
 * ring_sim_reset does what tcmu_reset_ring does): the kernel fails what
 * is in the ring, sets cmd_head = cmd_tail = 0 and hands out new
 * commands from slot 0, with cmd_ids it has freed. The ring must notice,
 * take the new commands from slot 0, and drop (never write) the answers
 * of commands it took before the reset: the kernel would take them for
 * the new commands that now carry those ids, or mark the ring broken.
 */
#include <unistd.h>

#include "mem_handler.h"
#include "ring_fixture.h"
#include "sim_dev.h"

/* block_dev 1, reset_ring 1, block_dev 0, as an admin would. */
static int admin_reset(struct ring_sim *sim)
{
	int n;

	ring_sim_block(sim, true);
	n = ring_sim_reset(sim, 1);
	ring_sim_block(sim, false);
	return n;
}

static void assert_failed_busy(const struct sim_cmd *c)
{
	assert_true(c->done);
	assert_true(c->reset);
	assert_int_equal(c->status, SAM_STAT_BUSY);
}

/* Our tail had moved (a command answered before the reset): cmd_tail
 * back at 0 gives the reset away. */
static void test_ring_reset_seen_by_the_tail(void **state)
{
	struct ring_fx *fx = *state;
	struct sim_cmd *c1, *c2, *c3;
	struct tcmu_cmd *r1, *r2, *r3;

	c1 = fx_queue(fx, WRITE_10, NULL, 512, 1);
	c2 = fx_queue(fx, WRITE_10, NULL, 512, 1);
	ring_sim_notify(fx->sim);
	r1 = tcmu_ring_next(fx->ring, NULL, NULL);
	r2 = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_non_null(r1);
	assert_non_null(r2);
	tcmu_ring_complete(fx->ring, r1, SAM_STAT_GOOD);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, c1, 2000), 0);
	assert_good(c1);

	assert_int_equal(admin_reset(fx->sim), 1);
	assert_failed_busy(c2);
	c3 = fx_queue(fx, READ_10, NULL, 512, 1);
	ring_sim_notify(fx->sim);
	r3 = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_non_null(r3);
	assert_int_equal(r3->cmd_id, c3->cmd_id);
	assert_int_equal(r3->data_len, 512);
	assert_null(tcmu_ring_next(fx->ring, NULL, NULL));

	/* The old command's answer comes late: dropped, nothing broken. */
	tcmu_ring_complete(fx->ring, r2, SAM_STAT_GOOD);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_reap(fx->sim), 0);
	assert_false(ring_sim_broken(fx->sim));
	assert_false(c3->done);

	fx_fill(r3, 7);
	tcmu_ring_complete(fx->ring, r3, SAM_STAT_GOOD);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, c3, 2000), 0);
	assert_good(c3);
	assert_true(fx_check(c3, 7));
	assert_int_equal(tcmu_ring_inflight(fx->ring), 0);
	assert_false(ring_sim_broken(fx->sim));
}

/* Nothing answered yet (our tail still at 0, as after a fresh start):
 * the kernel's head landing inside what we took gives the reset away. */
static void test_ring_reset_seen_by_the_head(void **state)
{
	struct ring_fx *fx = *state;
	struct sim_cmd *c1, *c2;
	struct tcmu_cmd *r1, *r2;

	c1 = fx_queue(fx, WRITE_10, NULL, 4096, 8);	/* a long entry */
	ring_sim_notify(fx->sim);
	r1 = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_non_null(r1);
	assert_int_equal(admin_reset(fx->sim), 1);
	assert_failed_busy(c1);

	c2 = fx_queue(fx, READ_10, NULL, 512, 1);	/* a short one */
	assert_true(ring_sim_mailbox(fx->sim)->cmd_head < ring_sim_entry_size(8, 10));
	ring_sim_notify(fx->sim);
	r2 = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_non_null(r2);
	assert_int_equal(r2->cmd_id, c2->cmd_id);

	tcmu_ring_complete(fx->ring, r1, SAM_STAT_GOOD);	/* dropped */
	fx_fill(r2, 3);
	tcmu_ring_complete(fx->ring, r2, SAM_STAT_GOOD);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, c2, 2000), 0);
	assert_good(c2);
	assert_true(fx_check(c2, 3));
	assert_false(ring_sim_broken(fx->sim));
	assert_int_equal(tcmu_ring_inflight(fx->ring), 0);
}

/* The whole device: a write a stuck backend holds across the reset. New
 * commands are served at once; the write's late answer is dropped; the
 * ring keeps serving. */
static void test_ring_reset_under_a_held_write(void **state)
{
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = "hold",
				   .size = 1 << 20 };
	uint8_t wcdb[10] = { WRITE_10, 0, 0, 0, 0, 8, 0, 0, 1, 0 };
	uint8_t rcdb[10] = { READ_10, 0, 0, 0, 0, 9, 0, 0, 1, 0 };
	uint8_t buf[512];
	struct sim_req wreq = { .cdb = wcdb, .cdb_len = 10, .data = buf, .data_len = 512 };
	struct sim_dev *sd;
	struct sim_cmd *w, *r;

	(void)state;
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	assert_int_equal(ring_sim_queue(sd->sim, &wreq, &w), 0);
	ring_sim_notify(sd->sim);
	assert_int_equal(mem_handler_held(sd->dev, 1, SIM_DEV_TIMEOUT_MS), 1);

	assert_int_equal(admin_reset(sd->sim), 1);
	assert_failed_busy(w);
	/* The kernel writes the slots the device thread read before the
	 * reset with no lock of ours: by nature, and what the ring detects.
	 * For ThreadSanitizer, the simulator's writes that follow are
	 * ordered after those reads through the ring's lock. */
	tcmu_ring_inflight(sd->dev->ring);
	r = sim_dev_run(sd, rcdb, sizeof(rcdb), NULL, 512);
	assert_good(r);

	mem_handler_release(sd->dev);
	for (int i = 0; i < 500 && tcmu_ring_inflight(sd->dev->ring); i++)
		usleep(10 * 1000);
	assert_int_equal(tcmu_ring_inflight(sd->dev->ring), 0);
	assert_int_equal(ring_sim_reap(sd->sim), 0);
	assert_false(ring_sim_broken(sd->sim));
	assert_int_equal(dev_stray_completions(sd->dev), 0);

	/* And the retried write goes through the new ring. */
	w = ring_sim_run(sd->sim, &wreq, SIM_DEV_TIMEOUT_MS);
	assert_good(w);
	assert_memory_equal(mem_handler_data(sd->dev) + 8 * 512, buf, 512);
	assert_false(ring_sim_broken(sd->sim));
	sim_dev_free(sd);
}

static int setup(void **state)
{
	return fx_setup_size(state, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ring_reset_seen_by_the_tail, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_reset_seen_by_the_head, setup,
						fx_teardown),
		cmocka_unit_test(test_ring_reset_under_a_held_write),
	};

	return cmocka_run_group_tests_name("ring reset behind our back", tests, NULL, NULL);
}
