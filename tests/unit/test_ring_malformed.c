/*
 * Entries that point outside the map: the ring answers each with CHECK
 * CONDITION, HARDWARE ERROR / INTERNAL TARGET FAILURE, logs it, never
 * touches memory outside the map, and goes on serving the next command.
 */
#include "ring_fixture.h"

static int setup(void **state)
{
	return fx_setup_size(state, 4096, 64 * 1024);
}

static void check_refused(struct ring_fx *fx, enum sim_corrupt how)
{
	uint8_t cdb[10] = { READ_10 };
	struct sim_req bad = { .cdb = cdb, .cdb_len = 10, .data_len = 512,
			       .corrupt = how };
	struct sim_cmd *cb, *cg;
	struct tcmu_cmd *r;
	int errors = fx->errors;

	assert_int_equal(ring_sim_queue(fx->sim, &bad, &cb), 0);
	cg = fx_queue(fx, READ_10, NULL, 512, 1);
	ring_sim_notify(fx->sim);

	r = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_non_null(r);
	assert_int_equal(r->cmd_id, cg->cmd_id);
	assert_int_equal(fx->errors, errors + 1);
	fx_fill(r, 9);
	tcmu_ring_complete(fx->ring, r, SAM_STAT_GOOD);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
	assert_sense(cb, SENSE_HARDWARE_ERROR, 0x44, 0x00);
	/* Nothing was written into the bad command's buffer. */
	for (size_t i = 0; i < cb->data_len; i++)
		assert_int_equal(cb->data[i], SIM_POISON);
	assert_good(cg);
	assert_true(fx_check(cg, 9));
	assert_int_equal(tcmu_ring_inflight(fx->ring), 0);
	assert_false(ring_sim_broken(fx->sim));
}

static void test_ring_malformed_iov_past_map(void **state)
{
	check_refused(*state, SIM_CORRUPT_IOV_PAST_MAP);
}

static void test_ring_malformed_iov_in_command_ring(void **state)
{
	check_refused(*state, SIM_CORRUPT_IOV_IN_RING);
}

static void test_ring_malformed_iov_len_past_map(void **state)
{
	check_refused(*state, SIM_CORRUPT_IOV_LEN);
}

static void test_ring_malformed_iov_len_wraps(void **state)
{
	check_refused(*state, SIM_CORRUPT_IOV_LEN_HUGE);
}

static void test_ring_malformed_cdb_off_past_map(void **state)
{
	check_refused(*state, SIM_CORRUPT_CDB_OFF);
}

static void test_ring_malformed_cdb_runs_past_map(void **state)
{
	check_refused(*state, SIM_CORRUPT_CDB_AT_END);
}

static void test_ring_malformed_iov_cnt_past_entry(void **state)
{
	check_refused(*state, SIM_CORRUPT_IOV_CNT);
}

static void test_ring_malformed_iov_cnt_huge(void **state)
{
	check_refused(*state, SIM_CORRUPT_IOV_CNT_HUGE);
}

/* A command that is the only one in flight and malformed still gets its
 * answer in its own slot, and the ring goes on after a wrap. */
static void test_ring_malformed_many_then_good(void **state)
{
	struct ring_fx *fx = *state;

	for (int i = 0; i < 100; i++)
		check_refused(fx, SIM_CORRUPT_IOV_PAST_MAP + i % 8);
}

/* A head that is not at an entry boundary (a broken kernel) stops the
 * ring instead of running around it. */
static void test_ring_head_inside_entry(void **state)
{
	struct ring_fx *fx = *state;
	struct tcmu_mailbox *mb = ring_sim_mailbox(fx->sim);
	struct sim_cmd *c = fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);
	uint32_t head = mb->cmd_head;

	(void)c;
	mb->cmd_head = 16;	/* inside the first entry */
	assert_null(tcmu_ring_next(fx->ring, NULL, NULL));
	assert_true(fx->errors > 0);
	mb->cmd_head = 12;	/* not even aligned */
	assert_null(tcmu_ring_next(fx->ring, NULL, NULL));
	mb->cmd_head = head;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ring_malformed_iov_past_map, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_malformed_iov_in_command_ring, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_malformed_iov_len_past_map, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_malformed_iov_len_wraps, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_malformed_cdb_off_past_map, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_malformed_cdb_runs_past_map, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_malformed_iov_cnt_past_entry, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_malformed_iov_cnt_huge, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_malformed_many_then_good, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_head_inside_entry, setup, fx_teardown),
	};

	return cmocka_run_group_tests_name("ring malformed", tests, NULL, NULL);
}
