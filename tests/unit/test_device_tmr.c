/*
 * Task management (dev_tmr.h) through the ring simulator: a TMR naming
 * commands a handler holds calls its abort callback for each, and each is
 * answered exactly once, TASK ABORTED, whether the handler ends it from
 * its own thread, from inside abort, or not at all until released; an
 * aborted command not yet in the handler's hands never reaches it; a
 * LOGICAL UNIT RESET ends the commands parked behind a COMPARE AND WRITE
 * at once, stops the COMPARE AND WRITE at its next step, sets D_SENSE
 * back and keeps the pending unit attentions; a command named by several
 * TMRs (or twice in one) is told to the handler and answered once; and
 * the daemon asks the kernel for these notifications.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_cfgfs.h"
#include "log_capture.h"
#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

#define MEM_SIZE (1 << 20)
#define BAD_OP 0x02		/* no such command: its sense shows D_SENSE */

struct fx {
	struct log_capture lc;
	struct sim_dev *sd;
	struct tcmur_device *dev;
	struct ring_sim *sim;
};

static struct fx *fx_new(const char *opts)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = opts,
				   .size = MEM_SIZE };

	assert_non_null(fx);
	assert_int_equal(log_capture_new(&fx->lc), 0);
	cfg.log = &fx->lc.log;
	assert_int_equal(sim_dev_new(&fx->sd, &cfg), 0);
	fx->dev = fx->sd->dev;
	fx->sim = fx->sd->sim;
	return fx;
}

/* Nothing answered twice, nothing answered for a command not in flight,
 * nothing left; then free. */
static void fx_free(struct fx *fx)
{
	assert_int_equal(ring_sim_wait(fx->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	assert_false(ring_sim_broken(fx->sim));
	assert_int_equal(dev_stray_completions(fx->dev), 0);
	assert_int_equal(log_capture_count(&fx->lc, "completed again"), 0);
	sim_dev_free(fx->sd);
	log_capture_free(&fx->lc);
	free(fx);
}

static struct sim_cmd *queue(struct fx *fx, const uint8_t *cdb, size_t cdb_len,
			     const void *data, size_t len)
{
	struct sim_req req = { .cdb = cdb, .cdb_len = cdb_len, .data = data, .data_len = len };
	struct sim_cmd *c = NULL;

	assert_int_equal(ring_sim_queue(fx->sim, &req, &c), 0);
	ring_sim_notify(fx->sim);
	return c;
}

static struct sim_cmd *queue_rw(struct fx *fx, uint8_t op, uint32_t lba, const void *data)
{
	uint8_t cdb[10] = { op };

	tcmu_put_be32(cdb + 2, lba);
	tcmu_put_be16(cdb + 7, 1);
	return queue(fx, cdb, 10, data, 512);
}

static void tmr(struct fx *fx, uint8_t type, struct sim_cmd **cmds, uint32_t n)
{
	assert_int_equal(ring_sim_queue_tmr(fx->sim, type, (const struct sim_cmd *const *)cmds,
					    n), 0);
	ring_sim_notify(fx->sim);
}

/* Wait until the device thread has handled @n TMRs in all. */
static void wait_tmrs(struct fx *fx, unsigned int n)
{
	struct dev_tmr_stats st;

	for (int i = 0; i < SIM_DEV_TIMEOUT_MS; i++) {
		dev_tmr_stats(fx->dev, &st);
		if (st.tmrs >= n)
			return;
		usleep(1000);
	}
	fail_msg("TMR not handled");
}

static unsigned int parked(struct tcmur_device *dev)
{
	unsigned int n = 0;

	pthread_mutex_lock(&dev->io_mutex);
	for (struct cmd_ctx *c = dev->io_parked; c; c = c->next)
		n++;
	pthread_mutex_unlock(&dev->io_mutex);
	return n;
}

static void count_in_handler(void *opaque, struct tcmu_cmd *rcmd)
{
	struct cmd_ctx *ctx = rcmd->priv;

	*(unsigned int *)opaque += __atomic_load_n(&ctx->op_live, __ATOMIC_ACQUIRE) != OP_IDLE;
}

/* Wait until @n commands are in a handler operation. */
static void wait_in_handler(struct fx *fx, unsigned int n)
{
	for (int i = 0; i < SIM_DEV_TIMEOUT_MS; i++) {
		unsigned int got = 0;

		tcmu_ring_for_each(fx->dev->ring, count_in_handler, &got);
		if (got >= n)
			return;
		usleep(1000);
	}
	fail_msg("%u commands never reached the handler", n);
}

/* A COMPARE AND WRITE at @lba held in the handler, a WRITE of @data at
 * @lba + 1 and a READ at @lba + 2 parked behind it (they overlap its
 * exclusive step): c[0..2]. @cawbuf (1024 bytes) must outlive them. */
static void park_behind_caw(struct fx *fx, uint64_t lba, uint8_t *cawbuf, const uint8_t *data,
			    struct sim_cmd **c)
{
	uint8_t cdb[16] = { COMPARE_AND_WRITE };

	memset(cawbuf, 0, 512);
	memset(cawbuf + 512, 0xcd, 512);
	tcmu_put_be64(cdb + 2, lba);
	cdb[13] = 1;
	c[0] = queue(fx, cdb, 16, cawbuf, 1024);
	assert_int_equal(mem_handler_held(fx->dev, 1, SIM_DEV_TIMEOUT_MS), 1);
	c[1] = queue_rw(fx, WRITE_10, lba + 1, data);
	c[2] = queue_rw(fx, READ_10, lba + 2, NULL);
	for (int i = 0; i < SIM_DEV_TIMEOUT_MS && parked(fx->dev) < 2; i++)
		usleep(1000);
	assert_int_equal(parked(fx->dev), 2);
}

static void assert_aborted(const struct sim_cmd *c)
{
	assert_true(c->done);
	assert_int_equal(c->status, SAM_STAT_TASK_ABORTED);
	assert_true(c->guard_ok);
}

/* The LUN serves after the aborts: a block written at @lba reads back. */
static void assert_serves(struct fx *fx, uint8_t lba, const uint8_t *data)
{
	struct sim_cmd *r;

	assert_good(sim_dev_run(fx->sd, (const uint8_t[10]){ WRITE_10, 0, 0, 0, 0, lba, 0, 0, 1 },
				10, data, 512));
	r = sim_dev_run(fx->sd, (const uint8_t[10]){ READ_10, 0, 0, 0, 0, lba, 0, 0, 1 }, 10,
			NULL, 512);
	assert_good(r);
	assert_memory_equal(r->data, data, 512);
}

/* ABORT TASK for one of three held writes, the handler waking its own
 * thread to end it: that one ends TASK ABORTED, once; the others wait for
 * the backend, then complete GOOD; reads are served meanwhile. */
static void test_tmr_abort_held_write(void **state)
{
	struct fx *fx = fx_new("hold,abort_wake");
	uint8_t data[512] = { 7 };
	struct sim_cmd *w[3], *r;
	struct dev_tmr_stats st;
	unsigned int calls, found;

	(void)state;
	for (int i = 0; i < 3; i++)
		w[i] = queue_rw(fx, WRITE_10, i, data);
	assert_int_equal(mem_handler_held(fx->dev, 3, SIM_DEV_TIMEOUT_MS), 3);
	tmr(fx, TCMU_TMR_ABORT_TASK, &w[1], 1);
	assert_int_equal(ring_sim_wait(fx->sim, w[1], SIM_DEV_TIMEOUT_MS), 0);
	assert_aborted(w[1]);
	assert_false(w[0]->done);
	assert_false(w[2]->done);
	mem_handler_aborts(fx->dev, &calls, &found);
	assert_int_equal(calls, 1);
	assert_int_equal(found, 1);
	dev_tmr_stats(fx->dev, &st);
	assert_int_equal(st.found, 1);
	assert_int_equal(st.told, 1);
	assert_int_equal(log_capture_count(&fx->lc, "ABORT TASK (1) for 1 commands: 1 in flight "
					   "here, 1 told to the handler"), 1);

	r = queue_rw(fx, READ_10, 9, NULL);
	assert_int_equal(ring_sim_wait(fx->sim, r, SIM_DEV_TIMEOUT_MS), 0);
	assert_good(r);
	mem_handler_release(fx->dev);
	assert_int_equal(ring_sim_wait(fx->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	assert_good(w[0]);
	assert_good(w[2]);
	fx_free(fx);
}

/* The handler completes the aborted commands from inside abort(): the
 * daemon answers each once abort returns, and their completer threads,
 * woken later, complete nothing. */
static void test_tmr_abort_completed_inside_abort(void **state)
{
	struct fx *fx = fx_new("hold,abort_inline");
	uint8_t data[512] = { 8 };
	struct sim_cmd *w[4];
	struct dev_tmr_stats st;

	(void)state;
	for (int i = 0; i < 4; i++)
		w[i] = queue_rw(fx, WRITE_10, 10 + i, data);
	assert_int_equal(mem_handler_held(fx->dev, 4, SIM_DEV_TIMEOUT_MS), 4);
	tmr(fx, TCMU_TMR_ABORT_TASK, &w[0], 2);
	assert_int_equal(ring_sim_wait(fx->sim, w[1], SIM_DEV_TIMEOUT_MS), 0);
	assert_int_equal(ring_sim_wait(fx->sim, w[0], SIM_DEV_TIMEOUT_MS), 0);
	assert_aborted(w[0]);
	assert_aborted(w[1]);
	dev_tmr_stats(fx->dev, &st);
	assert_int_equal(st.told, 2);
	/* The same commands named again (a second TMR): nothing more. */
	tmr(fx, TCMU_TMR_ABORT_TASK, &w[0], 2);
	wait_tmrs(fx, 2);
	dev_tmr_stats(fx->dev, &st);
	assert_int_equal(st.found, 2);
	mem_handler_release(fx->dev);
	assert_int_equal(ring_sim_wait(fx->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	assert_good(w[2]);
	assert_good(w[3]);
	fx_free(fx);
}

/* A handler that does nothing about it: the command ends when the
 * backend lets it go, still TASK ABORTED, still once. */
static void test_tmr_abort_ignored_by_handler(void **state)
{
	struct fx *fx = fx_new("hold");
	uint8_t data[512] = { 9 };
	struct sim_cmd *w;
	unsigned int calls, found;

	(void)state;
	w = queue_rw(fx, WRITE_10, 20, data);
	assert_int_equal(mem_handler_held(fx->dev, 1, SIM_DEV_TIMEOUT_MS), 1);
	tmr(fx, TCMU_TMR_ABORT_TASK, &w, 1);
	wait_tmrs(fx, 1);
	mem_handler_aborts(fx->dev, &calls, &found);
	assert_int_equal(found, 1);
	usleep(50000);
	assert_false(w->done);
	mem_handler_release(fx->dev);
	assert_int_equal(ring_sim_wait(fx->sim, w, SIM_DEV_TIMEOUT_MS), 0);
	assert_aborted(w);
	fx_free(fx);
}

/* Both I/O threads busy in slow reads: an aborted WRITE queued behind
 * them never reaches the handler; a slow read named too is told (it is
 * in the handler) and ends TASK ABORTED; the one not named ends GOOD. */
static void test_tmr_abort_queued_never_runs(void **state)
{
	struct fx *fx = fx_new("slow_ms=300");
	uint8_t data[512];
	struct sim_cmd *r[2], *w, *named[2];
	unsigned int calls, found;

	(void)state;
	memset(data, 0xab, sizeof(data));
	r[0] = queue_rw(fx, READ_10, 0, NULL);
	r[1] = queue_rw(fx, READ_10, 0, NULL);
	wait_in_handler(fx, 2);		/* both I/O threads asleep in mem_read */
	w = queue_rw(fx, WRITE_10, 5, data);
	named[0] = w;
	named[1] = r[0];
	tmr(fx, TCMU_TMR_ABORT_TASK, named, 2);
	assert_int_equal(ring_sim_wait(fx->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	assert_aborted(w);
	assert_aborted(r[0]);
	assert_good(r[1]);
	/* The reads counted as they woke; the write never ran. */
	assert_int_equal(mem_handler_ios(fx->dev), 2);
	assert_int_equal(mem_handler_data(fx->dev)[5 * 512], 0);
	mem_handler_aborts(fx->dev, &calls, &found);
	assert_int_equal(calls, 1);	/* the read, in mem_read */
	assert_int_equal(found, 0);	/* synchronous: nothing to cancel */
	fx_free(fx);
}

/* cmd_ids the daemon no longer has (answered already) or never had: the
 * TMR ends nothing, and an empty one (ABORT TASK that found no command in
 * the kernel) is harmless. */
static void test_tmr_names_unknown_commands(void **state)
{
	struct fx *fx = fx_new("");
	struct sim_cmd *done = sim_dev_run(fx->sd, (const uint8_t[6]){ 0 }, 6, NULL, 0);
	struct dev_tmr_stats st;

	(void)state;
	assert_good(done);
	tmr(fx, TCMU_TMR_ABORT_TASK, &done, 1);
	tmr(fx, TCMU_TMR_ABORT_TASK, NULL, 0);
	wait_tmrs(fx, 2);
	dev_tmr_stats(fx->dev, &st);
	assert_int_equal(st.named, 1);
	assert_int_equal(st.found, 0);
	assert_good(sim_dev_run(fx->sd, (const uint8_t[6]){ 0 }, 6, NULL, 0));
	fx_free(fx);
}

/* D_SENSE through MODE SELECT, as an initiator sets it. */
static void set_d_sense(struct fx *fx)
{
	uint8_t list[16] = { 0 }, cdb[6] = { MODE_SELECT_6, 0x10, 0, 0, 16, 0 };
	uint8_t *p = list + 4;

	p[0] = 0x0a;
	p[1] = 0x0a;
	p[2] = 0x04;		/* D_SENSE */
	p[3] = 0x10;
	p[5] = 0x40;
	p[8] = p[9] = 0xff;
	assert_good(sim_dev_run(fx->sd, cdb, 6, list, sizeof(list)));
}

static uint8_t sense_format(struct fx *fx)
{
	struct sim_cmd *c = sim_dev_run(fx->sd, (const uint8_t[6]){ BAD_OP }, 6, NULL, 0);

	assert_non_null(c);
	assert_int_equal(c->status, SAM_STAT_CHECK_CONDITION);
	return c->sense[0] & 0x7f;
}

/* LOGICAL UNIT RESET while a COMPARE AND WRITE holds the I/O lock, its
 * write in the backend, with a WRITE and a READ parked behind it: the
 * parked ones end TASK ABORTED at once and never reach the handler; the
 * COMPARE AND WRITE ends TASK ABORTED once its write is let go; D_SENSE
 * is back to 0; a unit attention raised meanwhile is still reported. */
static void test_tmr_lun_reset(void **state)
{
	struct fx *fx = fx_new("hold,abort_wake");
	uint8_t cawbuf[1024], data[512];
	struct sim_cmd *c[3];
	struct dev_tmr_stats st;
	unsigned int ios;

	(void)state;
	set_d_sense(fx);
	assert_int_equal(sense_format(fx), 0x72);
	memset(data, 0xef, sizeof(data));
	park_behind_caw(fx, 30, cawbuf, data, c);
	ios = mem_handler_ios(fx->dev);
	dev_ua_raise(fx->dev, ASC_CAPACITY_DATA_HAS_CHANGED);

	tmr(fx, TCMU_TMR_LUN_RESET, c, 3);
	assert_int_equal(ring_sim_wait(fx->sim, c[2], SIM_DEV_TIMEOUT_MS), 0);
	assert_int_equal(ring_sim_wait(fx->sim, c[1], SIM_DEV_TIMEOUT_MS), 0);
	assert_aborted(c[1]);
	assert_aborted(c[2]);
	assert_false(c[0]->done);
	assert_int_equal(parked(fx->dev), 0);
	dev_tmr_stats(fx->dev, &st);
	assert_int_equal(st.found, 3);
	assert_int_equal(st.unparked, 2);
	assert_int_equal(st.told, 0);	/* a multi-step command: not told */
	assert_int_equal(st.resets, 1);

	mem_handler_release(fx->dev);
	assert_int_equal(ring_sim_wait(fx->sim, c[0], SIM_DEV_TIMEOUT_MS), 0);
	assert_aborted(c[0]);
	assert_int_equal(mem_handler_ios(fx->dev), ios);	/* nothing more ran */
	assert_int_equal(mem_handler_data(fx->dev)[31 * 512], 0);

	/* The pending unit attention first, then fixed-format sense again. */
	assert_sense(sim_dev_run(fx->sd, (const uint8_t[6]){ 0 }, 6, NULL, 0),
		     SENSE_UNIT_ATTENTION, 0x2a, 0x09);
	assert_int_equal(sense_format(fx), 0x70);
	assert_int_equal(log_capture_count(&fx->lc, "D_SENSE back to its default"), 1);
	fx_free(fx);
}

/* One held write named by ABORT TASK twice, then by a LOGICAL UNIT
 * RESET that names it once more (and twice in its own list) with a
 * second held write: the handler is told of each command once, each
 * ends TASK ABORTED once the backend lets go, nothing is answered twice,
 * and the device serves on. */
static void test_tmr_named_by_several_tmrs(void **state)
{
	struct fx *fx = fx_new("hold");
	uint8_t data[512], back[512];
	struct sim_cmd *w[2], *named[3];
	struct dev_tmr_stats st;
	unsigned int calls, found;

	(void)state;
	memset(data, 0x5a, sizeof(data));
	w[0] = queue_rw(fx, WRITE_10, 40, data);
	w[1] = queue_rw(fx, WRITE_10, 41, data);
	assert_int_equal(mem_handler_held(fx->dev, 2, SIM_DEV_TIMEOUT_MS), 2);
	tmr(fx, TCMU_TMR_ABORT_TASK, &w[0], 1);
	tmr(fx, TCMU_TMR_ABORT_TASK, &w[0], 1);
	named[0] = w[0];
	named[1] = w[1];
	named[2] = w[0];
	tmr(fx, TCMU_TMR_LUN_RESET, named, 3);
	wait_tmrs(fx, 3);
	mem_handler_aborts(fx->dev, &calls, &found);
	assert_int_equal(calls, 2);
	assert_int_equal(found, 2);
	dev_tmr_stats(fx->dev, &st);
	assert_int_equal(st.told, 2);
	assert_false(w[0]->done);
	assert_false(w[1]->done);

	mem_handler_release(fx->dev);
	assert_int_equal(ring_sim_wait(fx->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	assert_aborted(w[0]);
	assert_aborted(w[1]);
	memset(back, 0x3c, sizeof(back));
	assert_serves(fx, 42, back);
	fx_free(fx);
}

/* A WRITE parked behind a held COMPARE AND WRITE, named by an ABORT
 * TASK and then by a LOGICAL UNIT RESET that reaches the daemon in the
 * same kick: it ends TASK ABORTED once, at the first; the reset ends the
 * READ parked with it and, once its write is let go, the COMPARE AND
 * WRITE; neither parked command reached the handler. */
static void test_tmr_parked_named_by_abort_and_reset(void **state)
{
	struct fx *fx = fx_new("hold");
	uint8_t cawbuf[1024], data[512];
	struct sim_cmd *c[3];
	struct dev_tmr_stats st;
	unsigned int ios;

	(void)state;
	memset(data, 0xef, sizeof(data));
	park_behind_caw(fx, 50, cawbuf, data, c);
	ios = mem_handler_ios(fx->dev);

	assert_int_equal(ring_sim_queue_tmr(fx->sim, TCMU_TMR_ABORT_TASK,
					    (const struct sim_cmd *const *)&c[1], 1), 0);
	assert_int_equal(ring_sim_queue_tmr(fx->sim, TCMU_TMR_LUN_RESET,
					    (const struct sim_cmd *const *)c, 3), 0);
	ring_sim_notify(fx->sim);
	wait_tmrs(fx, 2);
	assert_int_equal(ring_sim_wait(fx->sim, c[2], SIM_DEV_TIMEOUT_MS), 0);
	assert_aborted(c[1]);
	assert_aborted(c[2]);
	assert_false(c[0]->done);
	dev_tmr_stats(fx->dev, &st);
	assert_int_equal(st.unparked, 2);
	assert_int_equal(st.found, 3);	/* c[1] at the first; c[0], c[2] at the reset */

	mem_handler_release(fx->dev);
	assert_int_equal(ring_sim_wait(fx->sim, c[0], SIM_DEV_TIMEOUT_MS), 0);
	assert_aborted(c[0]);
	assert_int_equal(mem_handler_ios(fx->dev), ios);
	assert_int_equal(mem_handler_data(fx->dev)[51 * 512], 0);
	assert_serves(fx, 51, data);
	fx_free(fx);
}

/* The device asks the kernel for TMR entries (attrib/tmr_notification
 * 1), and says so when the kernel has no such attribute. */
static void test_tmr_notification_enabled(void **state)
{
	struct fake_cfgfs fc;
	struct log_capture lc;
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .size = MEM_SIZE,
				   .name = "tmrlun" };
	struct sim_dev *sd;
	char buf[16];

	(void)state;
	assert_int_equal(log_capture_new(&lc), 0);
	assert_int_equal(fake_cfgfs_new(&fc, 1, "tmrlun"), 0);
	assert_int_equal(fake_cfgfs_write(&fc, "attrib/tmr_notification", "0\n"), 0);
	cfg.cfgfs_root = fc.root;
	cfg.log = &lc.log;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	assert_int_equal(fake_cfgfs_read(&fc, "attrib/tmr_notification", buf, sizeof(buf)), 0);
	assert_int_equal(buf[0], '1');
	sim_dev_free(sd);
	assert_int_equal(log_capture_count(&lc, "no attrib/tmr_notification"), 0);
	fake_cfgfs_free(&fc);

	assert_int_equal(fake_cfgfs_new(&fc, 1, "tmrlun"), 0);
	cfg.cfgfs_root = fc.root;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	sim_dev_free(sd);
	assert_int_equal(log_capture_count(&lc, "[tmrlun mem] dev_tmr_enable: no "
					   "attrib/tmr_notification"), 1);
	fake_cfgfs_free(&fc);
	log_capture_free(&lc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tmr_abort_held_write),
		cmocka_unit_test(test_tmr_abort_completed_inside_abort),
		cmocka_unit_test(test_tmr_abort_ignored_by_handler),
		cmocka_unit_test(test_tmr_abort_queued_never_runs),
		cmocka_unit_test(test_tmr_names_unknown_commands),
		cmocka_unit_test(test_tmr_lun_reset),
		cmocka_unit_test(test_tmr_named_by_several_tmrs),
		cmocka_unit_test(test_tmr_parked_named_by_abort_and_reset),
		cmocka_unit_test(test_tmr_notification_enabled),
	};

	return cmocka_run_group_tests_name("device task management", tests, NULL, NULL);
}
