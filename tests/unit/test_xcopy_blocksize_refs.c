/*
 * EXTENDED COPY between LUNs of different block sizes is refused with
 * ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST, and gives back the
 * registry reference it took on the other LUN: that LUN can still be
 * freed (dev_free waits for the last reference; sim_dev_free with it,
 * until alarm() ends the test).
 */
#include "xcopy_list.h"

#define SER_A "aaaa0000111122223333444455556666"
#define SER_B "bbbb0000111122223333444455556666"

static void refused_and_released(uint32_t bs_field)
{
	struct dev_registry reg;
	struct sim_dev *a, *b;
	struct xlist l = { 0 };
	struct sim_cmd *c;

	alarm(30);
	dev_registry_init(&reg);
	a = xl_dev(&reg, NULL, "", 512, SER_A);
	b = xl_dev(&reg, NULL, "", 4096, SER_B);
	xl_cscd(&l, a->dev, 512);
	xl_cscd(&l, b->dev, bs_field);
	xl_seg(&l, 0, 1, 8, 0, 0);
	c = xl_run(a, &l);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_int_equal(xl_refs(&reg, b->dev), 0);
	dev_registry_remove(&reg, b->dev);
	dev_registry_remove(&reg, a->dev);
	sim_dev_free(b);
	sim_dev_free(a);
	dev_registry_destroy(&reg);
	alarm(0);
}

/* DISK BLOCK LENGTH left zero: the LUN is looked up, then refused. */
static void test_xcopy_blocksize_zero_field(void **state)
{
	(void)state;
	refused_and_released(0);
}

/* DISK BLOCK LENGTH given as the other LUN's own (4096). */
static void test_xcopy_blocksize_true_field(void **state)
{
	(void)state;
	refused_and_released(4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xcopy_blocksize_zero_field),
		cmocka_unit_test(test_xcopy_blocksize_true_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
