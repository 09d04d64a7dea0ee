/*
 * Crossing EXTENDED COPYs (A->B on A's ring, B->A on B's ring) with
 * COMPARE AND WRITEs pending on both LUNs: the I/O lock holds new shared
 * users back while an exclusive one waits, so a copy that held one LUN's
 * lock while waiting for the other's could deadlock with the other copy.
 * Every round must finish within a watchdog; the data must arrive.
 */
#include "xcopy_list.h"

#define SER_A "aaaa0000111122223333444455556666"
#define SER_B "bbbb0000111122223333444455556666"
#define ROUNDS 60
#define NSEG 8
#define WAIT_MS 4000

/* The memory handler, a little slower per I/O to widen the window. */
static struct tcmur_handler slow_ops;

static tcmu_sts slow_read(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
			  size_t cnt, size_t len, uint64_t off)
{
	usleep(300);
	return mem_handler_ops.read(dev, cmd, iov, cnt, len, off);
}

static tcmu_sts slow_write(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
			   size_t cnt, size_t len, uint64_t off)
{
	usleep(300);
	return mem_handler_ops.write(dev, cmd, iov, cnt, len, off);
}

static struct sim_cmd *queue_caw(struct sim_dev *sd, uint64_t lba, const uint8_t *buf)
{
	static uint8_t cdbs[8][16];
	static unsigned int next;
	uint8_t *cdb = cdbs[next++ % 8];
	struct sim_req req = { .cdb = cdb, .cdb_len = 16, .data = buf, .data_len = 1024 };
	struct sim_cmd *c = NULL;

	memset(cdb, 0, 16);
	cdb[0] = COMPARE_AND_WRITE;
	tcmu_put_be64(cdb + 2, lba);
	cdb[13] = 1;
	assert_int_equal(ring_sim_queue(sd->sim, &req, &c), 0);
	return c;
}

static void copy_list(struct xlist *l, struct sim_dev *from, struct sim_dev *to)
{
	memset(l, 0, sizeof(*l));
	xl_cscd(l, from->dev, 512);
	xl_cscd(l, to->dev, 512);
	for (unsigned int i = 0; i < NSEG; i++)
		xl_seg(l, 0, 1, 4, i * 4, 1000 + i * 4);
}

static void test_xcopy_crossing_with_caw(void **state)
{
	static uint8_t zero_caw[1024];	/* compare zeros, write zeros */
	struct dev_registry reg;
	struct sim_dev *a, *b;
	struct xlist la, lb;
	bool hung = false;

	(void)state;
	alarm(100);
	slow_ops = mem_handler_ops;
	slow_ops.read = slow_read;
	slow_ops.write = slow_write;
	dev_registry_init(&reg);
	a = xl_dev(&reg, &slow_ops, "", 512, SER_A);
	b = xl_dev(&reg, &slow_ops, "", 512, SER_B);
	sbc_fill(mem_handler_data(a->dev), 32 * 512, 1);
	sbc_fill(mem_handler_data(b->dev), 32 * 512, 2);
	copy_list(&la, a, b);
	copy_list(&lb, b, a);
	for (int r = 0; r < ROUNDS && !hung; r++) {
		struct sim_cmd *xa = xl_queue(a, &la), *xb = xl_queue(b, &lb);
		struct sim_cmd *ca = queue_caw(a, 2000, zero_caw), *cb = queue_caw(b, 2000, zero_caw);

		ring_sim_notify(a->sim);
		ring_sim_notify(b->sim);
		if (ring_sim_wait(a->sim, NULL, WAIT_MS) || ring_sim_wait(b->sim, NULL, WAIT_MS)) {
			print_error("round %d: still in flight after %d ms: deadlock\n", r,
				    WAIT_MS);
			hung = true;
			break;
		}
		assert_good(xa);
		assert_good(xb);
		assert_good(ca);
		assert_good(cb);
	}
	/* On a deadlock the devices cannot be freed: leave them. */
	assert_false(hung);
	assert_memory_equal(mem_handler_data(b->dev) + 1000 * 512, mem_handler_data(a->dev),
			    NSEG * 4 * 512);
	xl_pair_free(&reg, a, b);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xcopy_crossing_with_caw),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
