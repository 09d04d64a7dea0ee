/*
 * RECEIVE COPY RESULTS, COPY STATUS (service action 00h, SPC-3 6.18.3):
 * after an EXTENDED COPY (LID1) whose LIST ID USAGE is 00b or 10b, the
 * status of that copy by its list identifier: copy manager status
 * (completed, or completed with errors), segments processed and the
 * transfer count with its units. A list identifier with no copy on
 * record, or one sent with usage 11b, is INVALID FIELD IN CDB at the
 * LIST IDENTIFIER. VPD 0x8F names the service action among the
 * third-party copy commands.
 */
#include "xcopy_list.h"

#define SER_A "aaaa0000111122223333444455556666"
#define SER_B "bbbb0000111122223333444455556666"

struct fx {
	struct dev_registry reg;
	struct sim_dev *a, *b;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	dev_registry_init(&f->reg);
	f->a = xl_dev(&f->reg, xl_bad_handler(), "", 512, SER_A);
	f->b = xl_dev(&f->reg, NULL, "", 512, SER_B);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	xl_pair_free(&f->reg, f->a, f->b);
	free(f);
	return 0;
}

/* EXTENDED COPY on A with LIST ID @id, LIST ID USAGE @usage, of @l. */
static struct sim_cmd *copy(struct fx *f, struct xlist *l, uint8_t id, uint8_t usage)
{
	size_t len = xl_build(l);

	l->buf[0] = id;
	l->buf[1] = usage << 3;
	return xl_run_buf(f->a, l->buf, len);
}

static struct sim_cmd *copy_status(struct sim_dev *sd, uint8_t id, uint32_t alloc)
{
	uint8_t cdb[16] = { RECEIVE_COPY_RESULTS, 0x00, id };

	tcmu_put_be32(cdb + 10, alloc);
	return sim_dev_run(sd, cdb, 16, NULL, alloc);
}

/* COPY STATUS data: AVAILABLE DATA 8, then status, segments, units, count. */
static void assert_status(struct sim_cmd *c, uint8_t status, uint16_t segs, uint8_t units,
			  uint32_t count)
{
	assert_good(c);
	assert_int_equal(tcmu_get_be32(c->data), 8);
	assert_int_equal(c->data[4], status);
	assert_int_equal(tcmu_get_be16(c->data + 5), segs);
	assert_int_equal(c->data[7], units);
	assert_int_equal(tcmu_get_be32(c->data + 8), count);
}

static void test_status_of_finished_copy(void **state)
{
	struct fx *f = *state;
	struct xlist l = { 0 };

	xl_cscd(&l, f->a->dev, 512);
	xl_cscd(&l, f->b->dev, 512);
	xl_seg(&l, 0, 1, 8, 0, 0);
	xl_seg(&l, 0, 1, 4, 100, 100);
	assert_good(copy(f, &l, 0x42, 0));
	assert_status(copy_status(f->a, 0x42, 12), 0x01, 2, 0, 12 * 512);
	/* 10b holds it too; a later copy does not hide an earlier one. */
	assert_good(copy(f, &l, 0x43, 2));
	assert_status(copy_status(f->a, 0x43, 12), 0x01, 2, 0, 12 * 512);
	assert_status(copy_status(f->a, 0x42, 1024), 0x01, 2, 0, 12 * 512);
	/* Truncated to the allocation length. */
	assert_good(copy_status(f->a, 0x42, 4));
}

static void test_status_of_failed_copy(void **state)
{
	struct fx *f = *state;
	struct xlist l = { 0 };
	struct sim_cmd *c;

	xl_cscd(&l, f->a->dev, 512);
	xl_cscd(&l, f->b->dev, 512);
	xl_seg(&l, 0, 1, 8, 0, 0);
	xl_seg(&l, 0, 1, 8, 996, 8);	/* reads LBA 1000: MEDIUM ERROR */
	assert_sense(copy(f, &l, 7, 0), SENSE_COPY_ABORTED, 0x11, 0x00);
	c = copy_status(f->a, 7, 12);
	assert_good(c);
	assert_int_equal(c->data[4], 0x02);		/* completed with errors */
	assert_int_equal(tcmu_get_be16(c->data + 5), 1);
	/* A segment refused before any block moved: none processed. */
	l.segs[1][7] = 5;
	assert_sense(copy(f, &l, 8, 0), SENSE_COPY_ABORTED, 0x0d, 0x02);
	assert_status(copy_status(f->a, 8, 12), 0x02, 0, 0, 0);
}

static void test_no_status_refused(void **state)
{
	struct fx *f = *state;
	struct xlist l = { 0 };
	struct sim_cmd *c;

	c = copy_status(f->a, 0x99, 12);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 2, -1);
	/* 11b: nothing held. */
	xl_cscd(&l, f->a->dev, 512);
	xl_cscd(&l, f->b->dev, 512);
	xl_seg(&l, 0, 1, 1, 0, 0);
	assert_good(copy(f, &l, 0, 3));
	c = copy_status(f->a, 0, 12);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	/* Another LUN keeps its own record. */
	assert_good(copy(f, &l, 0x10, 0));
	assert_sense(copy_status(f->b, 0x10, 12), SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
}

/* VPD 0x8F's supported commands: RECEIVE COPY RESULTS with 00h and 03h. */
static void test_vpd_8f_lists_copy_status(void **state)
{
	struct fx *f = *state;
	uint8_t inq[6] = { INQUIRY, 0x01, 0x8f, 0, 255, 0 };
	struct sim_cmd *c = sim_dev_run(f->a, inq, 6, NULL, 255);
	const uint8_t *d;

	assert_good(c);
	d = c->data + 4;
	assert_int_equal(tcmu_get_be16(d), 0x0001);
	assert_int_equal(d[4], 7);
	assert_int_equal(d[5], EXTENDED_COPY);
	assert_int_equal(d[6], 1);
	assert_int_equal(d[7], 0x00);
	assert_int_equal(d[8], RECEIVE_COPY_RESULTS);
	assert_int_equal(d[9], 2);
	assert_int_equal(d[10], 0x00);
	assert_int_equal(d[11], 0x03);
	assert_int_equal(tcmu_get_be16(d + 2) % 4, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_status_of_finished_copy),
		T(test_status_of_failed_copy),
		T(test_no_status_refused),
		T(test_vpd_8f_lists_copy_status),
	};

	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
