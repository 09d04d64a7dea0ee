/*
 * Reconfiguration, COMPARE AND WRITE and ordinary I/O against each other
 * (run under ThreadSanitizer by `make check-tsan`): a thread reconfigures
 * the LUN over and over (write cache on and off, the size up and down) as
 * netlink events would, while the test queues batches of COMPARE AND
 * WRITEs, WRITEs and READs on the ring. Every command completes (GOOD,
 * MISCOMPARE where the rules say, or the UNIT ATTENTION a reconfigure
 * raises); two COMPARE AND WRITEs of one block with the same compare data
 * never both succeed; READs see what the last WRITE left; and the
 * device ends up with the last size and write cache setting given.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <unistd.h>

#include "device.h"
#include "sbc_cmds.h"

#define CC_LUN (4u << 20)
#define CC_ROUNDS 60
#define CC_CAWS 4		/* blocks contended by COMPARE AND WRITE pairs */
#define CC_WRITES 4		/* blocks written, then read back next round */
/* The first pair contends for LBA 0, whose reads the handler holds
 * (slow_ms): both reads overlap unless the command holds the LUN. */
#define CC_CAW_LBA(i) ((i) ? 10 + (i) : 0)

struct reconfigurer {
	struct sim_dev *sd;
	bool stop;
	unsigned int done, failed;
	bool last_wc;
	uint64_t last_size;
};

static void *reconfigure_loop(void *arg)
{
	struct reconfigurer *r = arg;

	for (unsigned int i = 0; !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE); i++) {
		struct tcmu_reconfig rc = { .has_write_cache = true, .write_cache = i & 1,
					    .has_size = true,
					    .size = CC_LUN + (i % 3) * (1u << 20) };

		if (dev_reconfig(r->sd->dev, &rc))
			r->failed++;
		r->done++;
		r->last_wc = rc.write_cache;
		r->last_size = rc.size;
		/* Turning the write cache off flushes the paused device first
		 * (dev_durable.h): 2 ms between changes leaves the I/O side
		 * time to run, as 0.5 ms did before that flush. */
		usleep(2000);
	}
	return NULL;
}

static bool is_ua(const struct sim_cmd *c)
{
	return c->status == SAM_STAT_CHECK_CONDITION && c->key == SENSE_UNIT_ATTENTION;
}

struct caw_req {
	uint8_t cdb[16];
	uint8_t data[1024];
};

static void caw_fill(struct caw_req *q, uint64_t lba, uint8_t old, uint8_t new)
{
	memset(q->cdb, 0, sizeof(q->cdb));
	q->cdb[0] = COMPARE_AND_WRITE;
	tcmu_put_be64(q->cdb + 2, lba);
	q->cdb[13] = 1;
	memset(q->data, old, 512);
	memset(q->data + 512, new, 512);
}

static struct sim_cmd *queue(struct sim_dev *sd, const uint8_t *cdb, size_t cdb_len,
			     const void *data, size_t len)
{
	struct sim_req req = { .cdb = cdb, .cdb_len = cdb_len, .data = data, .data_len = len };
	struct sim_cmd *c = NULL;

	assert_int_equal(ring_sim_queue(sd->sim, &req, &c), 0);
	return c;
}

static void run_rounds(struct sim_dev *sd, unsigned int *caw_wins, unsigned int *uas)
{
	static struct caw_req caws[2 * CC_CAWS];
	static uint8_t wcdb[CC_WRITES][16], rcdb[CC_WRITES][16], wdata[CC_WRITES][512];
	uint8_t value[CC_CAWS] = { 0 };
	int written[CC_WRITES];

	for (int w = 0; w < CC_WRITES; w++)
		written[w] = -1;	/* zeros */
	for (unsigned int round = 0; round < CC_ROUNDS; round++) {
		struct sim_cmd *cc[2 * CC_CAWS], *wc[CC_WRITES], *rc[CC_WRITES];

		for (int i = 0; i < CC_CAWS; i++) {
			/* Both compare with the block's value; each writes its own. */
			caw_fill(&caws[2 * i], CC_CAW_LBA(i), value[i], (uint8_t)(2 * round + 1));
			caw_fill(&caws[2 * i + 1], CC_CAW_LBA(i), value[i], (uint8_t)(2 * round + 2));
			cc[2 * i] = queue(sd, caws[2 * i].cdb, 16, caws[2 * i].data, 1024);
			cc[2 * i + 1] = queue(sd, caws[2 * i + 1].cdb, 16, caws[2 * i + 1].data,
					      1024);
		}
		for (int w = 0; w < CC_WRITES; w++) {
			sbc_cdb(rcdb[w], READ_16, 0, 100 + w, 1);
			rc[w] = queue(sd, rcdb[w], 16, NULL, 512);
			sbc_cdb(wcdb[w], WRITE_16, 0, 200 + w, 1);
			sbc_fill(wdata[w], 512, round * 16 + w);
			wc[w] = queue(sd, wcdb[w], 16, wdata[w], 512);
		}
		ring_sim_notify(sd->sim);
		assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);

		for (int i = 0; i < CC_CAWS; i++) {
			struct sim_cmd *a = cc[2 * i], *b = cc[2 * i + 1];
			bool a_ok = a->status == SAM_STAT_GOOD, b_ok = b->status == SAM_STAT_GOOD;

			assert_true(a->done && b->done);
			if (a_ok && b_ok)
				fail_msg("round %u block %d: both COMPARE AND WRITEs of value %u "
					 "succeeded\n", round, CC_CAW_LBA(i), value[i]);
			for (int k = 0; k < 2; k++) {
				struct sim_cmd *c = cc[2 * i + k];

				if (c->status == SAM_STAT_GOOD) {
					value[i] = 2 * round + 1 + k;
					(*caw_wins)++;
				} else if (is_ua(c)) {
					(*uas)++;
				} else {
					/* The other one won. */
					assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
					assert_true((k ? a_ok : b_ok));
				}
			}
		}
		for (int w = 0; w < CC_WRITES; w++) {
			if (is_ua(rc[w])) {
				(*uas)++;
			} else {
				uint8_t want[512] = { 0 };

				assert_good(rc[w]);
				if (written[w] >= 0)
					sbc_fill(want, 512, written[w]);
				assert_memory_equal(rc[w]->data, want, 512);
			}
			if (is_ua(wc[w]))
				(*uas)++;
			else
				assert_good(wc[w]);
		}
		/* Next round reads what this one wrote, from a copy at 100+. */
		for (int w = 0; w < CC_WRITES; w++) {
			struct sim_cmd *c;

			do {
				c = sbc_run(sd, WRITE_16, 0, 100 + w, 1, wdata[w], 512);
			} while (c && is_ua(c));
			assert_good(c);
			ring_sim_cmd_free(sd->sim, c);
			written[w] = round * 16 + w;
		}
		for (int i = 0; i < 2 * CC_CAWS; i++)
			ring_sim_cmd_free(sd->sim, cc[i]);
		for (int w = 0; w < CC_WRITES; w++) {
			ring_sim_cmd_free(sd->sim, wc[w]);
			ring_sim_cmd_free(sd->sim, rc[w]);
		}
	}
	/* The COMPARE AND WRITE blocks hold the last winners. */
	for (int i = 0; i < CC_CAWS; i++) {
		struct sim_cmd *c;

		do {
			c = sbc_run(sd, READ_16, 0, CC_CAW_LBA(i), 1, NULL, 512);
		} while (c && is_ua(c));
		assert_good(c);
		for (int k = 0; k < 512; k++)
			assert_int_equal(c->data[k], value[i]);
		ring_sim_cmd_free(sd->sim, c);
	}
}

static void reconfigure_against_io(const char *opts)
{
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = opts,
				   .size = CC_LUN };
	struct reconfigurer r = { 0 };
	unsigned int wins = 0, uas = 0;
	pthread_t th;

	assert_int_equal(sim_dev_new(&r.sd, &cfg), 0);
	assert_int_equal(pthread_create(&th, NULL, reconfigure_loop, &r), 0);
	run_rounds(r.sd, &wins, &uas);
	__atomic_store_n(&r.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	print_message("mem/%s: %u reconfigures (%u failed), %u COMPARE AND WRITE wins, "
		      "%u unit attentions\n", opts, r.done, r.failed, wins, uas);
	assert_int_equal(r.failed, 0);
	assert_true(r.done > 0);
	assert_true(wins > 0);
	assert_int_equal(tcmur_dev_write_cache(r.sd->dev), r.last_wc);
	assert_int_equal(tcmur_dev_size(r.sd->dev), r.last_size);
	sim_dev_free(r.sd);
}

static void test_reconfigure_caw_and_io_sync_handler(void **state)
{
	(void)state;
	alarm(120);
	reconfigure_against_io("slow_ms=2");
	alarm(0);
}

static void test_reconfigure_caw_and_io_async_handler(void **state)
{
	(void)state;
	alarm(120);
	reconfigure_against_io("async,slow_ms=2");
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconfigure_caw_and_io_sync_handler),
		cmocka_unit_test(test_reconfigure_caw_and_io_async_handler),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
