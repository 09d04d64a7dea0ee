/*
 * The ring's edges: wrapping past its end through the kernel's PAD
 * entries, a ring with no room left, task management entries and entry
 * types we do not know.
 */
#include "ring_fixture.h"

#define SMALL_RING 1024

static int setup_small(void **state)
{
	return fx_setup_size(state, SMALL_RING, 256 * 1024);
}

/* Many laps around a small ring, with up to three commands in flight
 * and completions out of order: every PAD is stepped over, both when
 * taking commands and when completing them. */
static void test_ring_wraps_with_pad(void **state)
{
	struct ring_fx *fx = *state;
	uint32_t entry = ring_sim_entry_size(1, 10);
	unsigned int wraps = 0;

	/* Entries that don't divide the ring, so the kernel must pad. */
	assert_int_not_equal(SMALL_RING % entry, 0);
	for (unsigned int lap = 0; lap < 60; lap++) {
		struct sim_cmd *c[3];
		struct tcmu_cmd *r[3];
		uint32_t head0 = ring_sim_mailbox(fx->sim)->cmd_head;

		for (int i = 0; i < 3; i++)
			c[i] = fx_queue(fx, READ_10, NULL, 100 + lap, 1);
		if (ring_sim_mailbox(fx->sim)->cmd_head < head0)
			wraps++;
		ring_sim_notify(fx->sim);
		for (int i = 0; i < 3; i++) {
			r[i] = tcmu_ring_next(fx->ring, NULL, NULL);
			assert_non_null(r[i]);
			assert_int_equal(r[i]->cmd_id, c[i]->cmd_id);
			assert_int_equal(r[i]->data_len, 100 + lap);
			fx_fill(r[i], lap * 3 + i);
		}
		assert_null(tcmu_ring_next(fx->ring, NULL, NULL));
		/* 3, 1, 2 */
		tcmu_ring_complete(fx->ring, r[2], SAM_STAT_GOOD);
		tcmu_ring_complete(fx->ring, r[0], SAM_STAT_GOOD);
		tcmu_ring_kick(fx->ring);
		assert_int_equal(ring_sim_wait(fx->sim, c[0], 2000), 0);
		tcmu_ring_complete(fx->ring, r[1], SAM_STAT_GOOD);
		tcmu_ring_kick(fx->ring);
		assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
		for (int i = 0; i < 3; i++) {
			assert_good(c[i]);
			assert_true(fx_check(c[i], lap * 3 + i));
			ring_sim_cmd_free(fx->sim, c[i]);
		}
	}
	assert_true(wraps >= 10);
	assert_false(ring_sim_broken(fx->sim));
	assert_int_equal(fx->errors, 0);
}

/* The kernel stops queueing when the ring is full; every command in it
 * is served, completed in reverse, and the ring is whole again. */
static void test_ring_full(void **state)
{
	struct ring_fx *fx = *state;
	uint8_t cdb[6] = { TEST_UNIT_READY };
	struct sim_req req = { .cdb = cdb, .cdb_len = 6 };
	uint32_t entry = ring_sim_entry_size(0, 6);
	struct sim_cmd *c[64];
	struct tcmu_cmd *r[64];
	unsigned int n = 0;

	for (int round = 0; round < 3; round++) {
		n = 0;
		while (ring_sim_queue(fx->sim, &req, &c[n]) == 0)
			n++;
		/* One byte always stays free; padding may eat the end. */
		assert_true(n >= (SMALL_RING - 1 - entry) / entry);
		assert_true(n <= (SMALL_RING - 1) / entry);
		assert_true(ring_sim_ring_free(fx->sim) < 2 * entry);
		ring_sim_notify(fx->sim);
		for (unsigned int i = 0; i < n; i++) {
			r[i] = tcmu_ring_next(fx->ring, NULL, NULL);
			assert_non_null(r[i]);
			assert_int_equal(r[i]->cmd_id, c[i]->cmd_id);
		}
		assert_null(tcmu_ring_next(fx->ring, NULL, NULL));
		assert_int_equal(tcmu_ring_inflight(fx->ring), n);
		for (unsigned int i = n; i-- > 0;)
			tcmu_ring_complete(fx->ring, r[i], SAM_STAT_GOOD);
		tcmu_ring_kick(fx->ring);
		assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
		for (unsigned int i = 0; i < n; i++) {
			assert_good(c[i]);
			ring_sim_cmd_free(fx->sim, c[i]);
		}
		assert_int_equal(ring_sim_ring_free(fx->sim), SMALL_RING - 1);
		/* Move the head so the next round starts somewhere else. */
		fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);
		r[0] = tcmu_ring_next(fx->ring, NULL, NULL);
		tcmu_ring_complete(fx->ring, r[0], SAM_STAT_GOOD);
		tcmu_ring_kick(fx->ring);
		assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
	}
	assert_int_equal(fx->errors, 0);
}

/* ---- task management ---------------------------------------------------- */

struct tmr_seen {
	int calls;
	uint8_t type;
	uint32_t cnt;
	uint16_t ids[8];
};

static void tmr_cb(void *opaque, const struct tcmu_tmr *tmr)
{
	struct tmr_seen *seen = opaque;

	seen->calls++;
	seen->type = tmr->type;
	seen->cnt = tmr->cmd_cnt;
	for (uint32_t i = 0; i < tmr->cmd_cnt && i < 8; i++)
		seen->ids[i] = tmr->cmd_ids[i];
}

/* A TMR entry is reported in ring order and stepped over by both sides. */
static void test_ring_tmr_reported_and_skipped(void **state)
{
	struct ring_fx *fx = *state;
	struct tmr_seen seen = { 0 };
	struct sim_cmd *c1 = fx_queue(fx, READ_10, NULL, 512, 1);
	struct sim_cmd *c2 = fx_queue(fx, READ_10, NULL, 512, 1);
	const struct sim_cmd *aborted[2] = { c1, c2 };
	struct sim_cmd *c3;
	struct tcmu_cmd *r1, *r2, *r3;

	assert_int_equal(ring_sim_queue_tmr(fx->sim, TCMU_TMR_ABORT_TASK_SET, aborted, 2), 0);
	c3 = fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);

	r1 = tcmu_ring_next(fx->ring, tmr_cb, &seen);
	r2 = tcmu_ring_next(fx->ring, tmr_cb, &seen);
	assert_int_equal(seen.calls, 0);
	r3 = tcmu_ring_next(fx->ring, tmr_cb, &seen);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.type, TCMU_TMR_ABORT_TASK_SET);
	assert_int_equal(seen.cnt, 2);
	assert_int_equal(seen.ids[0], c1->cmd_id);
	assert_int_equal(seen.ids[1], c2->cmd_id);
	assert_non_null(r3);
	assert_int_equal(r3->cmd_id, c3->cmd_id);
	assert_null(tcmu_ring_next(fx->ring, tmr_cb, &seen));

	/* Completed in reverse: the TMR slot between them is no answer. */
	tcmu_ring_complete(fx->ring, r3, SAM_STAT_GOOD);
	tcmu_ring_complete(fx->ring, r2, SAM_STAT_GOOD);
	tcmu_ring_complete(fx->ring, r1, SAM_STAT_GOOD);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
	assert_good(c1);
	assert_good(c2);
	assert_good(c3);
	assert_false(ring_sim_broken(fx->sim));

	/* With no callback the entry is still stepped over. */
	c1 = fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);
	assert_int_equal(ring_sim_queue_tmr(fx->sim, TCMU_TMR_LUN_RESET, NULL, 0), 0);
	c2 = fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);
	r1 = tcmu_ring_next(fx->ring, NULL, NULL);
	r2 = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_non_null(r2);
	assert_int_equal(r2->cmd_id, c2->cmd_id);
	tcmu_ring_complete(fx->ring, r1, SAM_STAT_GOOD);
	tcmu_ring_complete(fx->ring, r2, SAM_STAT_GOOD);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
	assert_int_equal(fx->errors, 0);
}

/* TMR entries wrap with the rest (they are smaller than commands). */
static void test_ring_tmr_wraps(void **state)
{
	struct ring_fx *fx = *state;
	struct tmr_seen seen = { 0 };

	for (int lap = 0; lap < 40; lap++) {
		struct sim_cmd *c = fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);
		const struct sim_cmd *ids[1] = { c };
		struct tcmu_cmd *r;

		assert_int_equal(ring_sim_queue_tmr(fx->sim, TCMU_TMR_ABORT_TASK, ids, 1), 0);
		r = tcmu_ring_next(fx->ring, tmr_cb, &seen);
		assert_non_null(r);
		assert_null(tcmu_ring_next(fx->ring, tmr_cb, &seen));
		assert_int_equal(seen.calls, lap + 1);
		assert_int_equal(seen.ids[0], c->cmd_id);
		tcmu_ring_complete(fx->ring, r, SAM_STAT_GOOD);
		tcmu_ring_kick(fx->ring);
		assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
		assert_good(c);
	}
	assert_int_equal(fx->errors, 0);
}

struct live_seen {
	unsigned int n;
	uint16_t ids[8];
};

static void live_cb(void *opaque, struct tcmu_cmd *cmd)
{
	struct live_seen *seen = opaque;

	if (seen->n < 8)
		seen->ids[seen->n] = cmd->cmd_id;
	seen->n++;
}

/* The commands a TMR names are found by cmd_id while in flight, and the
 * in-flight walk sees them oldest first; after a reset behind our back
 * the old ones are no longer found (their ids are the kernel's again),
 * though they are still walked until completed. */
static void test_ring_find_and_walk_in_flight(void **state)
{
	struct ring_fx *fx = *state;
	struct sim_cmd *c1 = fx_queue(fx, READ_10, NULL, 512, 1);
	struct sim_cmd *c2 = fx_queue(fx, READ_10, NULL, 512, 1);
	struct sim_cmd *c3 = fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);
	struct live_seen seen = { 0 };
	struct tcmu_cmd *r1, *r2, *r3, *r4;

	r1 = tcmu_ring_next(fx->ring, NULL, NULL);
	r2 = tcmu_ring_next(fx->ring, NULL, NULL);
	r3 = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_ptr_equal(tcmu_ring_find(fx->ring, c2->cmd_id), r2);
	assert_ptr_equal(tcmu_ring_find(fx->ring, c1->cmd_id), r1);
	assert_null(tcmu_ring_find(fx->ring, 999));
	tcmu_ring_for_each(fx->ring, live_cb, &seen);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.ids[0], c1->cmd_id);
	assert_int_equal(seen.ids[2], c3->cmd_id);

	tcmu_ring_complete(fx->ring, r2, SAM_STAT_GOOD);
	assert_null(tcmu_ring_find(fx->ring, c2->cmd_id));
	seen.n = 0;
	tcmu_ring_for_each(fx->ring, live_cb, &seen);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.ids[0], c1->cmd_id);
	assert_int_equal(seen.ids[1], c3->cmd_id);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait_any(fx->sim, 2000), 1);	/* c2's answer */

	/* An admin's reset_ring: c1 and c3 failed by the kernel, a new
	 * command may get c1's id. */
	assert_int_equal(ring_sim_reset(fx->sim, 1), 2);
	c1 = fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);
	r4 = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_non_null(r4);
	assert_ptr_equal(tcmu_ring_find(fx->ring, c1->cmd_id), r4);
	assert_null(tcmu_ring_find(fx->ring, c3->cmd_id));
	seen.n = 0;
	tcmu_ring_for_each(fx->ring, live_cb, &seen);
	assert_int_equal(seen.n, 3);
	tcmu_ring_complete(fx->ring, r1, SAM_STAT_GOOD);	/* dropped: before the reset */
	tcmu_ring_complete(fx->ring, r3, SAM_STAT_GOOD);
	tcmu_ring_complete(fx->ring, r4, SAM_STAT_GOOD);
	seen.n = 0;
	tcmu_ring_for_each(fx->ring, live_cb, &seen);
	assert_int_equal(seen.n, 0);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
	assert_good(c1);
	assert_false(ring_sim_broken(fx->sim));
}

/* An entry of a type we don't know is flagged UNKNOWN_OP and passed. */
static void test_ring_unknown_entry_type(void **state)
{
	struct ring_fx *fx = *state;
	struct sim_cmd *c1 = fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);
	uint32_t at = ring_sim_mailbox(fx->sim)->cmd_head;
	struct tcmu_cmd_entry_hdr *hdr;
	struct sim_cmd *c2;
	struct tcmu_cmd *r1, *r2;

	assert_int_equal(ring_sim_queue_raw(fx->sim, 5, 64), 0);
	c2 = fx_queue(fx, TEST_UNIT_READY, NULL, 0, 0);
	r1 = tcmu_ring_next(fx->ring, NULL, NULL);
	r2 = tcmu_ring_next(fx->ring, NULL, NULL);
	assert_non_null(r2);
	assert_int_equal(r2->cmd_id, c2->cmd_id);
	hdr = (void *)((uint8_t *)ring_sim_map(fx->sim) +
		       ring_sim_mailbox(fx->sim)->cmdr_off + at);
	assert_true(hdr->uflags & TCMU_UFLAG_UNKNOWN_OP);
	assert_int_equal(fx->errors, 1);
	tcmu_ring_complete(fx->ring, r2, SAM_STAT_GOOD);
	tcmu_ring_complete(fx->ring, r1, SAM_STAT_GOOD);
	tcmu_ring_kick(fx->ring);
	assert_int_equal(ring_sim_wait(fx->sim, NULL, 2000), 0);
	assert_good(c1);
	assert_good(c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ring_wraps_with_pad, setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_full, setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_tmr_reported_and_skipped, setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_tmr_wraps, setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_unknown_entry_type, setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ring_find_and_walk_in_flight, setup_small,
						fx_teardown),
	};

	return cmocka_run_group_tests_name("ring wrap", tests, NULL, NULL);
}
