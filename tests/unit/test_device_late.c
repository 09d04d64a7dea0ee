/*
 * Late commands (dev_watch.h): a command held by its handler past the
 * limit is logged once, with its cmd_id, opcode, CDB and age, while the
 * device keeps serving; completed late it is answered exactly once; and
 * the limit comes from the handler and the device's configfs attributes.
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
#define LIMIT_MS 100

struct fx {
	struct log_capture lc;
	struct fake_cfgfs fc;
	bool have_cfgfs;
	struct tcmur_handler ops;
	struct sim_dev *sd;
};

/* A mem LUN with @opts, the handler's limit @limit_ms, and configfs
 * attributes cmd_time_out @kernel_s and qfull_time_out @qfull (NULL: no
 * configfs tree at all). */
static struct fx *fx_new(const char *opts, unsigned int limit_ms, const char *kernel_s,
			 const char *qfull)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct sim_dev_cfg cfg = { .handler_cfg = opts, .size = MEM_SIZE };

	assert_non_null(fx);
	assert_int_equal(log_capture_new(&fx->lc), 0);
	fx->ops = mem_handler_ops;
	fx->ops.cmd_time_out_ms = limit_ms;
	cfg.ops = &fx->ops;
	cfg.log = &fx->lc.log;
	cfg.name = "latelun";
	if (kernel_s) {
		assert_int_equal(fake_cfgfs_new(&fx->fc, 1, "latelun"), 0);
		fx->have_cfgfs = true;
		assert_int_equal(fake_cfgfs_write(&fx->fc, "attrib/cmd_time_out", kernel_s), 0);
		assert_int_equal(fake_cfgfs_write(&fx->fc, "attrib/qfull_time_out", qfull), 0);
		cfg.cfgfs_root = fx->fc.root;
	}
	assert_int_equal(sim_dev_new(&fx->sd, &cfg), 0);
	return fx;
}

static void fx_free(struct fx *fx)
{
	sim_dev_free(fx->sd);
	if (fx->have_cfgfs)
		fake_cfgfs_free(&fx->fc);
	log_capture_free(&fx->lc);
	free(fx);
}

static struct sim_cmd *queue_rw(struct fx *fx, uint8_t op, uint32_t lba, const void *data)
{
	uint8_t cdb[10] = { op };
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data = data, .data_len = 512 };
	struct sim_cmd *c = NULL;

	tcmu_put_be32(cdb + 2, lba);
	tcmu_put_be16(cdb + 7, 1);
	assert_int_equal(ring_sim_queue(fx->sd->sim, &req, &c), 0);
	ring_sim_notify(fx->sd->sim);
	return c;
}

/* Wait up to @ms for @n log lines with @needle. */
static unsigned int wait_lines(struct fx *fx, const char *needle, unsigned int n, int ms)
{
	unsigned int got = 0;

	for (int i = 0; i < ms / 10; i++) {
		got = log_capture_count(&fx->lc, needle);
		if (got >= n)
			break;
		usleep(10000);
	}
	return got;
}

/* A write the backend holds: logged once as late, past the limit, naming
 * the device, the cmd_id, the opcode, its name and the CDB; reads keep
 * being served meanwhile; released late, it is answered once, with the
 * log saying so; and the LUN serves on. */
static void test_late_write_logged_once_answered_once(void **state)
{
	struct fx *fx = fx_new("hold", LIMIT_MS, NULL, NULL);
	struct tcmur_device *dev = fx->sd->dev;
	uint8_t data[512];
	char want[128];
	struct sim_cmd *w, *r;
	char *text;

	(void)state;
	memset(data, 0x5a, sizeof(data));
	w = queue_rw(fx, WRITE_10, 3, data);
	assert_int_equal(mem_handler_held(dev, 1, SIM_DEV_TIMEOUT_MS), 1);
	r = sim_dev_run(fx->sd, (const uint8_t[10]){ READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 10,
			NULL, 512);
	assert_good(r);

	snprintf(want, sizeof(want), "late command: cmd %u opcode 0x2a (WRITE(10))", w->cmd_id);
	assert_int_equal(wait_lines(fx, want, 1, 2000), 1);
	usleep(8 * LIMIT_MS * 1000);	/* many scans later: still once */
	assert_int_equal(log_capture_count(&fx->lc, want), 1);
	assert_int_equal(log_capture_count(&fx->lc, "late command:"), 1);
	assert_int_equal(dev_late_commands(dev), 1);
	text = log_capture_text(&fx->lc);
	assert_non_null(strstr(text, "[latelun mem]"));
	assert_non_null(strstr(text, "CDB 2a 00 00 00 00 03 00 00 01 00"));
	assert_non_null(strstr(text, "in the handler"));
	free(text);
	assert_false(w->done);

	mem_handler_release(dev);
	assert_int_equal(ring_sim_wait(fx->sd->sim, w, SIM_DEV_TIMEOUT_MS), 0);
	assert_good(w);
	snprintf(want, sizeof(want), "late command: cmd %u opcode 0x2a completed after", w->cmd_id);
	assert_int_equal(wait_lines(fx, want, 1, 2000), 1);
	assert_memory_equal(mem_handler_data(dev) + 3 * 512, data, sizeof(data));

	/* Still serving, nothing answered twice, nothing else late. */
	w = queue_rw(fx, WRITE_10, 4, data);
	assert_int_equal(ring_sim_wait(fx->sd->sim, w, SIM_DEV_TIMEOUT_MS), 0);
	assert_good(w);
	assert_int_equal(ring_sim_inflight(fx->sd->sim), 0);
	assert_false(ring_sim_broken(fx->sd->sim));
	assert_int_equal(dev_stray_completions(dev), 0);
	assert_int_equal(dev_late_commands(dev), 1);
	fx_free(fx);
}

/* Several held at once: each is logged once, and they all complete. */
static void test_late_several_each_once(void **state)
{
	struct fx *fx = fx_new("hold", LIMIT_MS, NULL, NULL);
	struct tcmur_device *dev = fx->sd->dev;
	struct sim_cmd *w[5];
	uint8_t data[512] = { 1 };

	(void)state;
	for (int i = 0; i < 5; i++)
		w[i] = queue_rw(fx, WRITE_10, i, data);
	assert_int_equal(mem_handler_held(dev, 5, SIM_DEV_TIMEOUT_MS), 5);
	assert_int_equal(wait_lines(fx, "late command:", 5, 2000), 5);
	usleep(5 * LIMIT_MS * 1000);
	for (int i = 0; i < 5; i++) {
		char want[64];

		snprintf(want, sizeof(want), "late command: cmd %u opcode", w[i]->cmd_id);
		assert_int_equal(log_capture_count(&fx->lc, want), 1);
	}
	assert_int_equal(log_capture_count(&fx->lc, "in flight"), 5);
	mem_handler_release(dev);
	assert_int_equal(ring_sim_wait(fx->sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	for (int i = 0; i < 5; i++)
		assert_good(w[i]);
	assert_int_equal(wait_lines(fx, "completed after", 5, 2000), 5);
	assert_false(ring_sim_broken(fx->sd->sim));
	assert_int_equal(dev_stray_completions(dev), 0);
	fx_free(fx);
}

/* Commands that finish in time are never called late. */
static void test_late_not_for_prompt_commands(void **state)
{
	struct fx *fx = fx_new("async", 10 * LIMIT_MS, NULL, NULL);
	uint8_t data[512] = { 2 };

	(void)state;
	for (int i = 0; i < 50; i++) {
		struct sim_cmd *w = queue_rw(fx, WRITE_10, i, data);

		assert_int_equal(ring_sim_wait(fx->sd->sim, w, SIM_DEV_TIMEOUT_MS), 0);
		assert_good(w);
	}
	usleep(2 * LIMIT_MS * 1000);
	assert_int_equal(dev_late_commands(fx->sd->dev), 0);
	assert_int_equal(log_capture_count(&fx->lc, "late command"), 0);
	fx_free(fx);
}

/* The limit: the smaller of the handler's and the kernel's cmd_time_out
 * (seconds in configfs), either alone if the other is 0, 30 s if both
 * are; qfull_time_out is read and reported. */
static void test_late_limit_sources(void **state)
{
	struct {
		unsigned int handler_ms;
		const char *kernel_s, *qfull;
		unsigned int want_ms;
		const char *says;
	} c[] = {
		{ 0, "7", "-1", 7000, "qfull_time_out" },
		{ 250, "7", "3", 250, "the handler's cmd_time_out_ms" },
		{ 9000, "7", "0", 7000, "(the kernel's cmd_time_out: the initiator" },
		{ 0, "0", "-1", DEV_WATCH_DEFAULT_MS, "the kernel never times out" },
		{ 400, "0", "-1", 400, "cmd_time_out 0 s (never)" },
		{ 0, NULL, NULL, 30000, "unreadable in configfs" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct fx *fx = fx_new("", c[i].handler_ms, c[i].kernel_s, c[i].qfull);

		print_message("case %zu: handler %u ms, kernel %s s\n", i, c[i].handler_ms,
			      c[i].kernel_s ? c[i].kernel_s : "-");
		assert_int_equal(dev_watch_limit_ms(fx->sd->dev), c[i].want_ms);
		assert_int_equal(log_capture_count(&fx->lc, c[i].says), 1);
		fx_free(fx);
	}
}

/* cmd_time_out set after the device was added (the admin, before the
 * LUN is exported): taken when the device turns busy after a second of
 * idleness, and a held write is then late at the kernel's limit. */
static void test_late_limit_reread_when_busy_again(void **state)
{
	struct fx *fx = fx_new("hold", 0, "30", "-1");
	struct tcmur_device *dev = fx->sd->dev;
	uint8_t data[512] = { 3 };
	struct sim_cmd *w;

	(void)state;
	assert_int_equal(dev_watch_limit_ms(dev), 30000);
	assert_int_equal(fake_cfgfs_write(&fx->fc, "attrib/cmd_time_out", "1\n"), 0);
	usleep(1100 * 1000);
	assert_good(sim_dev_run(fx->sd, (const uint8_t[6]){ 0 }, 6, NULL, 0));
	assert_int_equal(log_capture_count(&fx->lc, "timeouts changed in configfs: commands "
					   "late after 1000 ms"), 1);
	assert_int_equal(dev_watch_limit_ms(dev), 1000);
	w = queue_rw(fx, WRITE_10, 1, data);
	assert_int_equal(wait_lines(fx, "(the kernel's cmd_time_out: the initiator has had its "
				    "error); in the handler", 1, 3000), 1);
	mem_handler_release(dev);
	assert_int_equal(ring_sim_wait(fx->sd->sim, w, SIM_DEV_TIMEOUT_MS), 0);
	assert_good(w);
	assert_int_equal(wait_lines(fx, "the kernel has failed it already", 1, 2000), 1);
	fx_free(fx);
}

/* API 1.6: a handler reads the device's cmd_time_out as configfs has it
 * now (0: never), and the kernel's default where configfs cannot say. */
static void test_handler_reads_cmd_time_out(void **state)
{
	struct fx *fx = fx_new("", 0, "45", "-1");

	(void)state;
	assert_int_equal(tcmur_dev_cmd_time_out(fx->sd->dev), 45);
	assert_int_equal(fake_cfgfs_write(&fx->fc, "attrib/cmd_time_out", "0\n"), 0);
	assert_int_equal(tcmur_dev_cmd_time_out(fx->sd->dev), 0);
	fx_free(fx);
	fx = fx_new("", 0, NULL, NULL);
	assert_int_equal(tcmur_dev_cmd_time_out(fx->sd->dev), 30);
	fx_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_late_write_logged_once_answered_once),
		cmocka_unit_test(test_late_several_each_once),
		cmocka_unit_test(test_late_not_for_prompt_commands),
		cmocka_unit_test(test_late_limit_sources),
		cmocka_unit_test(test_late_limit_reread_when_busy_again),
		cmocka_unit_test(test_handler_reads_cmd_time_out),
	};

	return cmocka_run_group_tests_name("device late commands", tests, NULL, NULL);
}
