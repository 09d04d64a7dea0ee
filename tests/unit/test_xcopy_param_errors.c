/*
 * EXTENDED COPY (LID1) refusals, each with the sense SPC-4 names for it
 * (6.4.3): unsupported CSCD or segment descriptor type codes (26/07,
 * 26/09), too many of either (26/06, 26/08), a bad field with its field
 * pointer (INVALID FIELD IN PARAMETER LIST, SKSV), a short list (1A/00),
 * a LUN that is not ours (COPY ABORTED, 0D/02), a segment naming no CSCD
 * or outside its LUNs (COPY ABORTED with a segment pointer), and an error
 * while copying (COPY ABORTED with the device's additional sense code).
 * Nothing is written when a list is refused. And a good list whose
 * segments are longer than the copy's bounce buffer (1 MiB) copies
 * every byte, and no byte more.
 */
#include "xcopy_list.h"
#include "scsi_sense.h"

#define SER_A "aaaa0000111122223333444455556666"
#define SER_B "bbbb0000111122223333444455556666"

struct fx {
	struct dev_registry reg;
	struct sim_dev *a, *b;
	struct xlist l;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	dev_registry_init(&f->reg);
	f->a = xl_dev(&f->reg, xl_bad_handler(), "", 512, SER_A);
	f->b = xl_dev(&f->reg, NULL, "", 512, SER_B);
	sbc_fill(mem_handler_data(f->a->dev), 64 * 512, 9);
	/* A good list to break: A[0..8) -> B[0..8). */
	xl_cscd(&f->l, f->a->dev, 512);
	xl_cscd(&f->l, f->b->dev, 512);
	xl_seg(&f->l, 0, 1, 8, 0, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	dev_registry_remove(&f->reg, f->a->dev);
	dev_registry_remove(&f->reg, f->b->dev);
	sim_dev_free(f->a);
	sim_dev_free(f->b);
	dev_registry_destroy(&f->reg);
	free(f);
	return 0;
}

/* Run the list as built, changed by the caller through l->buf. */
static struct sim_cmd *run_raw(struct fx *f, size_t len)
{
	return xl_run_buf(f->a, f->l.buf, len);
}

static bool b_untouched(struct fx *f)
{
	static const uint8_t zero[8 * 512];

	return !memcmp(mem_handler_data(f->b->dev), zero, sizeof(zero));
}

static void refused(struct fx *f, struct sim_cmd *c, uint8_t key, uint16_t asc)
{
	assert_sense(c, key, asc >> 8, asc & 0xff);
	assert_true(b_untouched(f));
	assert_int_equal(xl_refs(&f->reg, f->b->dev), 0);
}

static void test_good_list_copies(void **state)
{
	struct fx *f = *state;

	/* PRIORITY and a zero LIST IDENTIFIER with LIST ID USAGE 11b are fine. */
	size_t len = xl_build(&f->l);

	f->l.buf[1] = 0x18 | 0x07;
	assert_good(run_raw(f, len));
	assert_memory_equal(mem_handler_data(f->b->dev), mem_handler_data(f->a->dev), 8 * 512);
	assert_int_equal(xl_refs(&f->reg, f->b->dev), 0);
}

static void test_unsupported_cscd_type(void **state)
{
	struct fx *f = *state;
	size_t len;

	f->l.cscds[1][0] = 0xe0;	/* Fibre Channel N_Port_Name */
	len = xl_build(&f->l);
	refused(f, run_raw(f, len), SENSE_ILLEGAL_REQUEST, 0x2607);
}

static void test_unsupported_segment_type(void **state)
{
	struct fx *f = *state;
	size_t len;

	f->l.segs[0][0] = 0x00;		/* block to stream */
	len = xl_build(&f->l);
	refused(f, run_raw(f, len), SENSE_ILLEGAL_REQUEST, 0x2609);
}

static void test_too_many_cscds(void **state)
{
	struct fx *f = *state;
	size_t len;

	while (f->l.ncscd < 9)
		xl_cscd(&f->l, f->a->dev, 512);
	len = xl_build(&f->l);
	refused(f, run_raw(f, len), SENSE_ILLEGAL_REQUEST, 0x2606);
}

static void test_too_many_segments(void **state)
{
	struct fx *f = *state;
	size_t len;

	while (f->l.nseg < 17)
		xl_seg(&f->l, 0, 1, 1, 0, 0);
	len = xl_build(&f->l);
	refused(f, run_raw(f, len), SENSE_ILLEGAL_REQUEST, 0x2608);
}

static void test_segment_descriptor_length(void **state)
{
	struct fx *f = *state;
	struct sim_cmd *c;
	size_t len;

	f->l.segs[0][3] = 0x14;
	len = xl_build(&f->l);
	c = run_raw(f, len);
	refused(f, c, SENSE_ILLEGAL_REQUEST, 0x2600);
	assert_field_ptr(c, false, xl_seg_off(&f->l, 0) + 2, -1);
}

/*
 * COPY ABORTED for an error in segment descriptor @seg (SPC-4, errors
 * detected during processing of segment descriptors): the segment number
 * in the third and fourth bytes of COMMAND-SPECIFIC INFORMATION, and a
 * segment pointer (SD set) to @byte within that descriptor.
 */
#define assert_segment_ptr(c, seg, byte)				\
	do {								\
		assert_int_equal((c)->sense[0] & 0x7f, 0x70);		\
		assert_int_equal(tcmu_get_be16((c)->sense + 10), (seg)); \
		assert_int_equal((c)->sense[15], 0x80 | 0x20);		\
		assert_int_equal(tcmu_get_be16((c)->sense + 16), (byte)); \
	} while (0)

/* The same in descriptor format: a command-specific information
 * descriptor, then a sense key specific one. */
static void test_segment_sense_descriptor_format(void **state)
{
	uint8_t b[TCMU_SENSE_LEN];

	(void)state;
	scsi_sense_build(b, true, SENSE_COPY_ABORTED, 0x0d02, false, 0, NULL);
	scsi_sense_segment(b, 3, 6);
	assert_int_equal(b[0], 0x72);
	assert_int_equal(b[1], SENSE_COPY_ABORTED);
	assert_int_equal(b[7], 20);
	assert_int_equal(b[8], 0x01);
	assert_int_equal(b[9], 0x0a);
	assert_int_equal(tcmu_get_be64(b + 12), 3);
	assert_int_equal(b[20], 0x02);
	assert_int_equal(b[21], 0x06);
	assert_int_equal(b[24], 0xa0);
	assert_int_equal(tcmu_get_be16(b + 25), 6);
}

/* A segment naming a CSCD the list does not have: the copy cannot reach
 * it. Segment 0 is good, segment 1 is not; nothing is copied. */
static void test_cscd_index_out_of_range(void **state)
{
	struct fx *f = *state;
	struct sim_cmd *c;
	size_t len;

	xl_seg(&f->l, 0, 1, 8, 16, 16);
	f->l.segs[1][7] = 2;		/* destination: no CSCD 2 */
	len = xl_build(&f->l);
	c = run_raw(f, len);
	refused(f, c, SENSE_COPY_ABORTED, 0x0d02);
	assert_segment_ptr(c, 1, 6);
	f->l.segs[1][7] = 1;
	f->l.segs[1][4] = 0x08;		/* source: 0x0800 */
	len = xl_build(&f->l);
	c = run_raw(f, len);
	refused(f, c, SENSE_COPY_ABORTED, 0x0d02);
	assert_segment_ptr(c, 1, 4);
}

/* The type code is read before the descriptor's length: a stream-to-
 * stream segment (20 bytes) and an IPv6 CSCD (64 bytes) are unsupported
 * types, not lists of the wrong length. */
static void test_unsupported_type_before_length(void **state)
{
	struct fx *f = *state;
	uint8_t *b = f->l.buf;
	size_t len = XL_HDR + 2 * XL_CSCD;

	xl_build(&f->l);
	memset(b + len, 0, XL_SEG);
	b[len] = 0x03;			/* stream to stream */
	b[len + 3] = 16;
	tcmu_put_be32(b + 8, 20);
	refused(f, run_raw(f, len + 20), SENSE_ILLEGAL_REQUEST, 0x2609);

	xl_build(&f->l);
	memset(b + XL_HDR + XL_CSCD, 0, 64);
	b[XL_HDR + XL_CSCD] = 0xea;	/* IPv6, 64 bytes */
	tcmu_put_be16(b + 2, XL_CSCD + 64);
	tcmu_put_be32(b + 8, 0);
	refused(f, run_raw(f, XL_HDR + XL_CSCD + 64), SENSE_ILLEGAL_REQUEST, 0x2607);
}

static void test_inline_data(void **state)
{
	struct fx *f = *state;
	struct sim_cmd *c;
	size_t len = xl_build(&f->l);

	f->l.buf[15] = 4;
	c = run_raw(f, len);
	/* The list is then 4 bytes short of what its header says. */
	refused(f, c, SENSE_ILLEGAL_REQUEST, 0x1a00);
	c = run_raw(f, len + 4);
	refused(f, c, SENSE_ILLEGAL_REQUEST, 0x2600);
	assert_field_ptr(c, false, 12, -1);
}

/* LIST ID USAGE 01b is reserved; 11b needs a zero LIST IDENTIFIER. */
static void test_list_id_usage(void **state)
{
	struct fx *f = *state;
	struct sim_cmd *c;
	size_t len = xl_build(&f->l);

	f->l.buf[1] = 0x08;
	c = run_raw(f, len);
	refused(f, c, SENSE_ILLEGAL_REQUEST, 0x2600);
	assert_field_ptr(c, false, 1, 4);
	f->l.buf[0] = 0x42;
	f->l.buf[1] = 0x18;
	c = run_raw(f, len);
	refused(f, c, SENSE_ILLEGAL_REQUEST, 0x2600);
	assert_field_ptr(c, false, 0, -1);
}

static void test_cscd_bad_fields(void **state)
{
	struct fx *f = *state;
	size_t cscd1 = XL_HDR + XL_CSCD, len;
	struct sim_cmd *c;

	f->l.cscds[1][1] = 0x01;	/* a sequential-access device */
	len = xl_build(&f->l);
	c = run_raw(f, len);
	refused(f, c, SENSE_ILLEGAL_REQUEST, 0x2600);
	assert_field_ptr(c, false, cscd1 + 1, 4);

	f->l.cscds[1][1] = 0;
	f->l.cscds[1][4] = 0x02;	/* ASCII designator */
	len = xl_build(&f->l);
	c = run_raw(f, len);
	refused(f, c, SENSE_ILLEGAL_REQUEST, 0x2600);
	assert_field_ptr(c, false, cscd1 + 4, 3);

	f->l.cscds[1][4] = 0x01;
	f->l.cscds[1][5] = 0x02;	/* EUI-64, not NAA */
	len = xl_build(&f->l);
	c = run_raw(f, len);
	refused(f, c, SENSE_ILLEGAL_REQUEST, 0x2600);
	assert_field_ptr(c, false, cscd1 + 5, 3);

	f->l.cscds[1][5] = 0x03;
	f->l.cscds[1][7] = 8;		/* NAA 5, 8 bytes */
	len = xl_build(&f->l);
	c = run_raw(f, len);
	refused(f, c, SENSE_ILLEGAL_REQUEST, 0x2600);
	assert_field_ptr(c, false, cscd1 + 7, -1);
}

static void test_unknown_lun_not_reachable(void **state)
{
	struct fx *f = *state;
	size_t len;

	f->l.cscds[1][20] ^= 0xff;
	len = xl_build(&f->l);
	refused(f, run_raw(f, len), SENSE_COPY_ABORTED, 0x0d02);
}

static void test_short_list(void **state)
{
	struct fx *f = *state;
	size_t len = xl_build(&f->l);

	refused(f, run_raw(f, len - 1), SENSE_ILLEGAL_REQUEST, 0x1a00);
	refused(f, run_raw(f, 15), SENSE_ILLEGAL_REQUEST, 0x1a00);
}

/* A segment past the end of its destination, or of its source: COPY
 * ABORTED, LBA OUT OF RANGE, pointing at the LBA in that segment. */
static void test_lba_out_of_range(void **state)
{
	struct fx *f = *state;
	struct sim_cmd *c;
	size_t len;

	tcmu_put_be64(f->l.segs[0] + 20, 2048 - 4);	/* 8 blocks from 2044 */
	len = xl_build(&f->l);
	c = run_raw(f, len);
	refused(f, c, SENSE_COPY_ABORTED, 0x2100);
	assert_segment_ptr(c, 0, 20);
	tcmu_put_be64(f->l.segs[0] + 20, 0);
	tcmu_put_be64(f->l.segs[0] + 12, UINT64_MAX);
	len = xl_build(&f->l);
	c = run_raw(f, len);
	refused(f, c, SENSE_COPY_ABORTED, 0x2100);
	assert_segment_ptr(c, 0, 12);
}

/* A read error on the source while copying: COPY ABORTED, its ASC. */
static void test_error_during_copy(void **state)
{
	struct fx *f = *state;
	size_t len;

	tcmu_put_be64(f->l.segs[0] + 12, 996);	/* A[996..1004) hits 1000 */
	len = xl_build(&f->l);
	refused(f, run_raw(f, len), SENSE_COPY_ABORTED, 0x1100);
}

/* 8 MiB LUNs; segments of 5000 blocks (2.44 MiB: two full bounce
 * buffers and a part) and of exactly 2048 (one buffer). */
static void test_segments_longer_than_copy_buffer(void **state)
{
	const size_t lun = 8u << 20;
	struct dev_registry reg;
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = "", .size = lun,
				   .registry = &reg };
	struct sim_dev *a, *b;
	struct xlist l = { 0 };
	uint8_t *want;

	(void)state;
	dev_registry_init(&reg);
	cfg.serial = SER_A;
	assert_int_equal(sim_dev_new(&a, &cfg), 0);
	cfg.serial = SER_B;
	assert_int_equal(sim_dev_new(&b, &cfg), 0);
	assert_int_equal(dev_registry_add(&reg, a->dev), 0);
	assert_int_equal(dev_registry_add(&reg, b->dev), 0);
	sbc_fill(mem_handler_data(a->dev), lun, 4);
	xl_cscd(&l, a->dev, 512);
	xl_cscd(&l, b->dev, 512);
	xl_seg(&l, 0, 1, 5000, 100, 1234);
	xl_seg(&l, 0, 1, 2048, 6000, 9000);
	assert_good(xl_run(a, &l));
	want = calloc(1, lun);
	memcpy(want + 1234 * 512, mem_handler_data(a->dev) + 100 * 512, 5000 * 512);
	memcpy(want + 9000 * 512, mem_handler_data(a->dev) + 6000 * 512, 2048 * 512);
	for (size_t off = 0; off < lun; off += 512)
		if (memcmp(mem_handler_data(b->dev) + off, want + off, 512))
			fail_msg("B's block %zu is not what the copy should leave there\n", off / 512);
	/* In pieces: three reads for the first segment, one for the second. */
	assert_true(mem_handler_ios(a->dev) >= 3 + 1);
	free(want);
	xl_pair_free(&reg, a, b);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_good_list_copies),
		T(test_unsupported_cscd_type),
		T(test_unsupported_segment_type),
		T(test_too_many_cscds),
		T(test_too_many_segments),
		T(test_segment_descriptor_length),
		T(test_cscd_index_out_of_range),
		T(test_unsupported_type_before_length),
		cmocka_unit_test(test_segment_sense_descriptor_format),
		T(test_inline_data),
		T(test_list_id_usage),
		T(test_cscd_bad_fields),
		T(test_unknown_lun_not_reachable),
		T(test_short_list),
		T(test_lba_out_of_range),
		T(test_error_during_copy),
		cmocka_unit_test(test_segments_longer_than_copy_buffer),
	};

	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
