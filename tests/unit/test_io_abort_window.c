/*
 * An ABORT TASK that the device thread meets while an I/O thread is
 * between its "aborted?" check and the handler call (dev_io.c,
 * dev_io_handler_op): the command must then either never reach the
 * handler or reach the handler's abort. Before, the TMR found no live
 * operation (not told), the I/O thread went on into the handler, and a
 * backend that holds writes kept it until the kernel's cmd_time_out.
 *
 * The window is held open by wrapping dev_durable_refuses (-Wl,--wrap,
 * tests/unit.mk), which dev_io_handler_op calls inside it for a write.
 */
#define _GNU_SOURCE
#include <semaphore.h>
#include <stdio.h>
#include <unistd.h>

#include "dev_durable.h"
#include "dev_tmr.h"
#include "device.h"
#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

static sem_t in_window, go_on;
static int armed;

bool __real_dev_durable_refuses(struct dev_durable *d, const struct dev_durable_op *op,
				struct dev_durable_mark *mark);

bool __wrap_dev_durable_refuses(struct dev_durable *d, const struct dev_durable_op *op,
				struct dev_durable_mark *mark)
{
	if (__atomic_exchange_n(&armed, 0, __ATOMIC_ACQ_REL)) {
		sem_post(&in_window);
		sem_wait(&go_on);
	}
	return __real_dev_durable_refuses(d, op, mark);
}

static void wait_tmrs(struct tcmur_device *dev, unsigned int n)
{
	struct dev_tmr_stats st;

	for (int i = 0; i < 2000; i++) {
		dev_tmr_stats(dev, &st);
		if (st.tmrs >= n)
			return;
		usleep(1000);
	}
	fail_msg("TMR not handled");
}

static void test_abort_in_window_reaches_handler(void **state)
{
	struct sim_dev *sd;
	struct sim_cmd *w;
	uint8_t cdb[10], data[512] = { 0x5a };
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data = data, .data_len = 512 };
	unsigned int calls = 0, found = 0;
	uint8_t status;
	int ret;

	(void)state;
	sem_init(&in_window, 0, 0);
	sem_init(&go_on, 0, 0);
	assert_int_equal(sim_dev_mem_new(&sd, "hold,abort_wake", 1 << 20), 0);
	__atomic_store_n(&armed, 1, __ATOMIC_RELEASE);
	sim_rw10(cdb, WRITE_10, 0, 1);
	assert_int_equal(ring_sim_queue(sd->sim, &req, &w), 0);
	ring_sim_notify(sd->sim);
	sem_wait(&in_window);		/* checked "not aborted", not yet called */
	assert_int_equal(ring_sim_queue_tmr(sd->sim, TCMU_TMR_ABORT_TASK,
					    (const struct sim_cmd *const *)&w, 1), 0);
	ring_sim_notify(sd->sim);
	wait_tmrs(sd->dev, 1);
	sem_post(&go_on);
	ret = ring_sim_wait(sd->sim, w, 1000);
	mem_handler_aborts(sd->dev, &calls, &found);
	print_message("aborted WRITE: %s (status 0x%02x); handler abort calls %u, found %u; "
		      "held %u\n", ret ? "not answered in 1 s" : "answered", w->status, calls,
		      found, mem_handler_held(sd->dev, 0, 0));
	if (ret) {
		mem_handler_release(sd->dev);
		ring_sim_wait(sd->sim, w, 1000);
	}
	status = w->status;
	sim_dev_free(sd);
	assert_int_equal(ret, 0);
	assert_int_equal(status, SAM_STAT_TASK_ABORTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abort_in_window_reaches_handler),
	};

	return cmocka_run_group_tests_name("abort in the handler-call window", tests, NULL,
					   NULL);
}
