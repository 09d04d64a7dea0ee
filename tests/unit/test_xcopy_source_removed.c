/*
 * Issue 27, items 1 and 2: the main loop never waits for an EXTENDED
 * COPY. Removing a LUN a copy names returns at once (the copy's next
 * step on it ends the copy with COPY ABORTED, and the LUN is freed when
 * the copy lets go of it), and a copy's lookup reading another LUN's
 * identity from configfs holds no lock a removal needs.
 */
#include "xcopy_list.h"

#include <fcntl.h>
#include <semaphore.h>

#include "deadline.h"
#include "fake_cfgfs.h"

#define SER_A "aaaa0000111122223333444455556666"
#define SER_B "bbbb0000111122223333444455556666"
#define LUN_BYTES (4u * 1024 * 1024)
#define REMOVE_MS 2000

/* What the daemon's main loop does on a REMOVED (daemon_devices.c
 * dev_remove): out of the registry, then freed, at once or later. */
struct removal {
	struct dev_registry *reg;
	struct sim_dev *sd;
	bool freed_now;
};

static void *remove_fn(void *p)
{
	struct removal *r = p;

	dev_registry_remove(r->reg, r->sd->dev);
	r->freed_now = dev_free(r->sd->dev);
	return NULL;
}

/* Remove @sd as the main loop would; 0 if that returned within
 * REMOVE_MS, else -ETIMEDOUT (the thread is left to finish). */
static int remove_timed(struct removal *r)
{
	struct timespec ts = deadline_after_ms(REMOVE_MS);
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, remove_fn, r), 0);
	if (pthread_timedjoin_np(th, NULL, &ts)) {
		pthread_detach(th);
		return -ETIMEDOUT;
	}
	return 0;
}

/* After remove_timed: wait for the deferred free, then the simulator. */
static void removed_free(struct removal *r)
{
	if (!r->freed_now)
		sem_wait(&r->sd->freed);
	r->sd->dev = NULL;
	sim_dev_free(r->sd);
}

static struct sim_dev *lun(struct dev_registry *reg, const char *opts, const char *serial)
{
	struct sim_dev_cfg c = { .ops = &mem_handler_ops, .handler_cfg = opts,
				 .size = LUN_BYTES, .serial = serial, .registry = reg };
	struct sim_dev *sd;

	assert_int_equal(sim_dev_new(&sd, &c), 0);
	assert_int_equal(dev_registry_add(reg, sd->dev), 0);
	return sd;
}

/* A copy from B to A (2 MiB: two chunks) with A's writes held: removing
 * B returns at once; released, the copy ends with COPY ABORTED, COPY
 * TARGET DEVICE NOT REACHABLE, and B is freed after it. */
static void test_xcopy_source_removed_midway(void **state)
{
	static uint8_t first[1024 * 1024];
	struct dev_registry reg;
	struct sim_dev *a, *b;
	struct removal r;
	struct xlist l = { 0 };
	struct sim_cmd *c = NULL;
	int err;

	(void)state;
	alarm(60);
	dev_registry_init(&reg);
	a = lun(&reg, "hold", SER_A);
	b = lun(&reg, "", SER_B);
	sbc_fill(mem_handler_data(b->dev), LUN_BYTES, 7);
	/* B's first MiB, to compare with A after B is gone. */
	memcpy(first, mem_handler_data(b->dev), sizeof(first));
	xl_cscd(&l, b->dev, 512);
	xl_cscd(&l, a->dev, 512);
	xl_seg(&l, 0, 1, 4096, 0, 0);
	c = xl_queue(a, &l);
	ring_sim_notify(a->sim);
	assert_int_equal(mem_handler_held(a->dev, 1, 5000), 1);

	r = (struct removal){ .reg = &reg, .sd = b };
	err = remove_timed(&r);
	if (err)
		print_error("removing the copy's source waited over %d ms for the copy\n",
			    REMOVE_MS);
	mem_handler_release(a->dev);
	assert_int_equal(ring_sim_wait(a->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	print_message("the copy ended with status 0x%x key 0x%x asc 0x%02x%02x\n",
		      c->status, c->sense[2] & 0xf, c->sense[12], c->sense[13]);
	assert_int_equal(err, 0);
	assert_sense(c, SENSE_COPY_ABORTED, 0x0d, 0x02);
	/* The first chunk arrived; the second never read B. */
	assert_memory_equal(mem_handler_data(a->dev), first, sizeof(first));
	removed_free(&r);
	dev_registry_remove(&reg, a->dev);
	sim_dev_free(a);
	dev_registry_destroy(&reg);
	alarm(0);
}

/* A copy on A looks for a LUN that is not ours, and meets C, whose unit
 * serial is not read yet and whose configfs read blocks (a FIFO: as a
 * LUN's attribute does while its rmdir is under way). Meanwhile B and C
 * itself are removed: neither may wait for that read. */
static void test_xcopy_lookup_reads_outside_locks(void **state)
{
	struct fake_cfgfs fc;
	struct dev_registry reg;
	struct sim_dev *a, *b, *cd;
	struct removal rb, rc;
	struct xlist l = { 0 };
	struct sim_cmd *cmd;
	uint8_t other[16];
	char fifo[512];
	int errb, errc, fd;

	(void)state;
	alarm(60);
	assert_int_equal(fake_cfgfs_new(&fc, 1, "lunc"), 0);
	assert_int_equal(fake_cfgfs_write(&fc, "wwn/vpd_unit_serial", ""), 0);
	assert_int_equal(fake_cfgfs_fifo(&fc, "wwn/vpd_unit_serial"), 0);
	fake_cfgfs_path(&fc, "wwn/vpd_unit_serial", fifo, sizeof(fifo));
	dev_registry_init(&reg);
	a = lun(&reg, "", SER_A);
	b = lun(&reg, "", SER_B);
	{
		struct sim_dev_cfg c = { .ops = &mem_handler_ops, .handler_cfg = "",
					 .size = LUN_BYTES, .serial = "", .registry = &reg,
					 .name = fc.name, .cfgfs_root = fc.root };

		assert_int_equal(sim_dev_new(&cd, &c), 0);
		assert_int_equal(dev_registry_add(&reg, cd->dev), 0);
	}
	/* Named by an NAA none of ours has: every LUN's is looked at. */
	xl_cscd(&l, a->dev, 512);
	memcpy(other, l.cscds[0] + 8, 16);
	other[15] ^= 0xff;
	xl_cscd(&l, a->dev, 512);
	memcpy(l.cscds[1] + 8, other, 16);
	xl_seg(&l, 0, 1, 8, 0, 0);
	cmd = xl_queue(a, &l);
	ring_sim_notify(a->sim);
	usleep(200 * 1000);		/* the lookup is in C's read by now */

	rb = (struct removal){ .reg = &reg, .sd = b };
	errb = remove_timed(&rb);
	rc = (struct removal){ .reg = &reg, .sd = cd };
	errc = errb ? -ETIMEDOUT : remove_timed(&rc);
	/* Let the read end: C's serial is none of the copy's. */
	fd = open(fifo, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "cccc\n", 5), 5);
	close(fd);
	assert_int_equal(ring_sim_wait(a->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	if (errb)
		print_error("removing B waited over %d ms for the lookup's configfs read\n",
			    REMOVE_MS);
	if (errc)
		print_error("removing C waited over %d ms for the lookup's read of C\n",
			    REMOVE_MS);
	assert_int_equal(errb, 0);
	assert_int_equal(errc, 0);
	assert_sense(cmd, SENSE_COPY_ABORTED, 0x0d, 0x02);
	removed_free(&rb);
	removed_free(&rc);
	dev_registry_remove(&reg, a->dev);
	sim_dev_free(a);
	dev_registry_destroy(&reg);
	fake_cfgfs_free(&fc);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xcopy_source_removed_midway),
		cmocka_unit_test(test_xcopy_lookup_reads_outside_locks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
