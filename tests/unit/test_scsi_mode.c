/*
 * MODE SENSE and MODE SELECT through the device: pages, page control,
 * block descriptors, and D_SENSE switching the sense format.
 */
#include <string.h>

#include "sim_dev.h"
#include "unit_test.h"

#define PC_CURRENT 0
#define PC_CHANGEABLE 1
#define PC_DEFAULT 2
#define PC_SAVED 3

static struct sim_cmd *sense6(struct sim_dev *sd, uint8_t flags, int pc, uint8_t page,
			      uint8_t alloc)
{
	uint8_t cdb[6] = { MODE_SENSE_6, flags, pc << 6 | page, 0, alloc, 0 };

	return sim_dev_run(sd, cdb, 6, NULL, 255);
}

static struct sim_cmd *sense10(struct sim_dev *sd, uint8_t flags, int pc, uint8_t page,
			       uint16_t alloc)
{
	uint8_t cdb[10] = { MODE_SENSE_10, flags, pc << 6 | page, 0, 0, 0, 0,
			    alloc >> 8, alloc & 0xff, 0 };

	return sim_dev_run(sd, cdb, 10, NULL, 512);
}

/* Find page @page in a MODE SENSE answer after @off; NULL if absent. */
static const uint8_t *find_page(const struct sim_cmd *c, size_t off, size_t end,
				uint8_t page)
{
	while (off + 2 <= end) {
		if ((c->data[off] & 0x3f) == page)
			return c->data + off;
		off += 2 + c->data[off + 1];
	}
	return NULL;
}

static void test_mode_sense6_all_pages(void **state)
{
	struct sim_cmd *c = sense6(*state, 0, PC_CURRENT, 0x3f, 255);
	size_t total;
	const uint8_t *p;

	assert_good(c);
	total = c->data[0] + 1;
	assert_int_equal(total, 4 + 8 + 12 + 20 + 12 + 12);
	assert_int_equal(c->data[2], 0x10);		/* DPOFUA, not WP */
	assert_int_equal(c->data[3], 8);		/* block descriptor */
	assert_int_equal(tcmu_get_be32(c->data + 4), 2048);
	assert_int_equal(tcmu_get_be32(c->data + 8) & 0xffffff, 512);
	/* Pages in ascending order. */
	assert_int_equal(c->data[12], 0x01);
	assert_int_equal(c->data[13], 0x0a);
	assert_int_equal(c->data[24], 0x08);
	assert_int_equal(c->data[25], 0x12);
	assert_int_equal(c->data[44], 0x0a);
	assert_int_equal(c->data[45], 0x0a);
	assert_int_equal(c->data[56], 0x1c);
	assert_int_equal(c->data[57], 0x0a);
	p = find_page(c, 12, total, 0x08);
	assert_int_equal(p[2] & 0x04, 0x04);		/* WCE: write cache on */
	p = find_page(c, 12, total, 0x0a);
	assert_int_equal(p[2] & 0x04, 0);		/* D_SENSE off */
	assert_int_equal(p[5] & 0x40, 0x40);		/* TAS */
	for (size_t i = total; i < c->data_len; i++)
		assert_int_equal(c->data[i], 0);
}

static void test_mode_sense6_single_pages(void **state)
{
	struct sim_dev *sd = *state;
	static const struct { uint8_t page, len; } pages[] = {
		{ 0x01, 12 }, { 0x08, 20 }, { 0x0a, 12 }, { 0x1c, 12 },
	};

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		struct sim_cmd *c = sense6(sd, 0, PC_CURRENT, pages[i].page, 255);

		assert_good(c);
		assert_int_equal(c->data[0] + 1, 4 + 8 + pages[i].len);
		assert_int_equal(c->data[12], pages[i].page);
		assert_int_equal(c->data[13], pages[i].len - 2);
	}
}

static void test_mode_sense_write_cache_off(void **state)
{
	struct sim_dev_cfg cfg = { .write_cache_off = true };
	struct sim_dev *sd;
	struct sim_cmd *c;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	c = sense6(sd, 0x08, PC_CURRENT, 0x08, 255);
	assert_good(c);
	assert_int_equal(c->data[4], 0x08);
	assert_int_equal(c->data[6] & 0x04, 0);		/* WCE off */
	sim_dev_free(sd);
}

/* Changeable values: D_SENSE only. */
static void test_mode_sense_changeable(void **state)
{
	struct sim_cmd *c = sense6(*state, 0x08, PC_CHANGEABLE, 0x3f, 255);
	size_t total;
	const uint8_t *p;

	assert_good(c);
	total = c->data[0] + 1;
	assert_int_equal(c->data[3], 0);		/* DBD honoured */
	p = find_page(c, 4, total, 0x0a);
	assert_non_null(p);
	assert_int_equal(p[2], 0x04);
	for (int i = 3; i < 12; i++)
		assert_int_equal(p[i], 0);
	p = find_page(c, 4, total, 0x08);
	assert_non_null(p);
	for (int i = 2; i < 20; i++)
		assert_int_equal(p[i], 0);
	p = find_page(c, 4, total, 0x01);
	for (int i = 2; i < 12; i++)
		assert_int_equal(p[i], 0);
	p = find_page(c, 4, total, 0x1c);
	assert_non_null(p);
	for (int i = 2; i < 12; i++)
		assert_int_equal(p[i], 0);
}

static void test_mode_sense_default(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *c = sense6(sd, 0x08, PC_DEFAULT, 0x0a, 255);

	assert_good(c);
	assert_int_equal(c->data[4], 0x0a);
	assert_int_equal(c->data[6] & 0x04, 0);
	assert_int_equal(c->data[7], 0x10);
}

static void test_mode_sense_saved_not_supported(void **state)
{
	struct sim_cmd *c = sense6(*state, 0, PC_SAVED, 0x3f, 255);

	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x39, 0x00);
	c = sense10(*state, 0, PC_SAVED, 0x08, 255);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x39, 0x00);
}

static void test_mode_sense_unknown_page_and_subpage(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t cdb[6] = { MODE_SENSE_6, 0, 0x0a, 0x01, 255, 0 };
	struct sim_cmd *c = sense6(sd, 0, PC_CURRENT, 0x1a, 255);

	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 2, 5);
	c = sim_dev_run(sd, cdb, 6, NULL, 255);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 3, -1);
}

static void test_mode_sense10_llbaa_and_dbd(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *c = sense10(sd, 0x10, PC_CURRENT, 0x0a, 512);

	assert_good(c);
	assert_int_equal(tcmu_get_be16(c->data) + 2, 8 + 16 + 12);
	assert_int_equal(c->data[3], 0x10);		/* DPOFUA */
	assert_int_equal(c->data[4] & 0x01, 0x01);	/* LONGLBA */
	assert_int_equal(tcmu_get_be16(c->data + 6), 16);
	assert_int_equal(tcmu_get_be64(c->data + 8), 2048);
	assert_int_equal(tcmu_get_be32(c->data + 20), 512);
	assert_int_equal(c->data[24], 0x0a);

	/* Without LLBAA: an 8-byte descriptor. */
	c = sense10(sd, 0, PC_CURRENT, 0x0a, 512);
	assert_good(c);
	assert_int_equal(c->data[4], 0);
	assert_int_equal(tcmu_get_be16(c->data + 6), 8);
	assert_int_equal(tcmu_get_be32(c->data + 8), 2048);
	assert_int_equal(tcmu_get_be32(c->data + 12), 512);

	/* DBD: none at all, and LONGLBA stays clear. */
	c = sense10(sd, 0x18, PC_CURRENT, 0x3f, 512);
	assert_good(c);
	assert_int_equal(tcmu_get_be16(c->data + 6), 0);
	assert_int_equal(c->data[4], 0);
	assert_int_equal(tcmu_get_be16(c->data) + 2, 8 + 12 + 20 + 12 + 12);
	assert_int_equal(c->data[8], 0x01);
}

static void test_mode_sense_short_alloc(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *full = sense10(sd, 0, PC_CURRENT, 0x3f, 512);
	struct sim_cmd *c = sense10(sd, 0, PC_CURRENT, 0x3f, 13);

	assert_good(full);
	assert_good(c);
	assert_memory_equal(c->data, full->data, 13);
	for (size_t i = 13; i < c->data_len; i++)
		assert_int_equal(c->data[i], 0);
}

/* TAS follows the kernel's emulate_tas (dev_params.tas_off when 0). */
static void test_mode_sense_tas_follows_emulate_tas(void **state)
{
	struct sim_dev_cfg cfg = { .tas_off = true };
	struct sim_dev *sd;
	struct sim_cmd *c;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	c = sense6(sd, 0x08, PC_CURRENT, 0x0a, 255);
	assert_good(c);
	assert_int_equal(c->data[4], 0x0a);
	assert_int_equal(c->data[4 + 5] & 0x40, 0);	/* no TAS */
	sim_dev_free(sd);
}

/*
 * Informational Exceptions Control (SPC-4 7.5.10): we never report an
 * informational exception, so DEXCPT is set and MRIE is 0, in the
 * current and the default values alike, and nothing is changeable.
 */
static void assert_iec_page(const struct sim_cmd *c, size_t off, uint8_t byte2)
{
	assert_good(c);
	assert_int_equal(c->data[off], 0x1c);
	assert_int_equal(c->data[off + 1], 0x0a);
	assert_int_equal(c->data[off + 2], byte2);
	for (size_t i = 3; i < 12; i++)		/* MRIE, timer, count: 0 */
		assert_int_equal(c->data[off + i], 0);
}

static void test_mode_sense_informational_exceptions(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *c;

	c = sense6(sd, 0x08, PC_CURRENT, 0x1c, 255);
	assert_iec_page(c, 4, 0x08);			/* DEXCPT */
	assert_int_equal(c->data[0] + 1, 4 + 12);
	c = sense6(sd, 0x08, PC_DEFAULT, 0x1c, 255);
	assert_iec_page(c, 4, 0x08);
	c = sense6(sd, 0x08, PC_CHANGEABLE, 0x1c, 255);
	assert_iec_page(c, 4, 0x00);
	/* MODE SENSE(10) with a block descriptor finds it the same. */
	c = sense10(sd, 0, PC_CURRENT, 0x1c, 512);
	assert_iec_page(c, 16, 0x08);
	assert_int_equal(tcmu_get_be16(c->data) + 2, 8 + 8 + 12);
	/* Saved values: still not kept. */
	c = sense6(sd, 0, PC_SAVED, 0x1c, 255);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x39, 0x00);
	c = sense10(sd, 0, PC_SAVED, 0x1c, 512);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x39, 0x00);
}

/* ---- MODE SELECT ---------------------------------------------------------- */

/* The control page as MODE SENSE reports it now, with D_SENSE @on. */
static size_t control_page(uint8_t *p, bool on)
{
	memset(p, 0, 12);
	p[0] = 0x0a;
	p[1] = 0x0a;
	p[2] = on ? 0x04 : 0;
	p[3] = 0x10;
	p[5] = 0x40;
	p[8] = 0xff;
	p[9] = 0xff;
	return 12;
}

static struct sim_cmd *select6(struct sim_dev *sd, uint8_t flags, const uint8_t *list,
			       uint8_t len)
{
	uint8_t cdb[6] = { MODE_SELECT_6, flags, 0, 0, len, 0 };

	return sim_dev_run(sd, cdb, 6, list, len);
}

static struct sim_cmd *select_d_sense(struct sim_dev *sd, bool on)
{
	uint8_t list[16] = { 0 };

	control_page(list + 4, on);
	return select6(sd, 0x10, list, sizeof(list));
}

/* D_SENSE on: errors come in descriptor format; off: fixed again. */
static void test_mode_select_d_sense(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t bad_op[6] = { 0x02 };
	uint8_t read_past[10] = { READ_10, 0, 0, 0, 0x08, 0x00, 0, 0, 1, 0 };
	struct sim_cmd *c;

	c = sim_dev_run(sd, bad_op, 6, NULL, 0);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	assert_int_equal(c->sense[0], 0x70);

	assert_good(select_d_sense(sd, true));
	c = sense6(sd, 0x08, PC_CURRENT, 0x0a, 255);
	assert_good(c);
	assert_int_equal(c->data[6] & 0x04, 0x04);

	c = sim_dev_run(sd, bad_op, 6, NULL, 0);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	assert_int_equal(c->sense[0], 0x72);
	assert_int_equal(c->sense[1], SENSE_ILLEGAL_REQUEST);
	assert_int_equal(c->sense[2], 0x20);
	assert_int_equal(c->sense[3], 0x00);

	/* LBA 2048 of 2048: the information descriptor carries it. */
	c = sim_dev_run(sd, read_past, 10, NULL, 512);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	assert_int_equal(c->sense[0], 0x72);
	assert_int_equal(c->sense[7], 12);
	assert_int_equal(c->sense[8], 0x00);		/* information */
	assert_int_equal(c->sense[9], 0x0a);
	assert_int_equal(c->sense[10] & 0x80, 0x80);	/* VALID */
	assert_int_equal(tcmu_get_be64(c->sense + 12), 2048);

	/* D_SENSE off again: fixed format again. */
	assert_good(select_d_sense(sd, false));
	c = sim_dev_run(sd, bad_op, 6, NULL, 0);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	assert_int_equal(c->sense[0], 0x70);
}

/* Changing a bit that is not changeable: INVALID FIELD IN PARAMETER LIST
 * pointing at it. */
static void test_mode_select_unchangeable_bit(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t list[16] = { 0 };
	struct sim_cmd *c;

	control_page(list + 4, false);
	list[4 + 3] = 0x00;		/* QUEUE ALGORITHM MODIFIER */
	c = select6(sd, 0x10, list, sizeof(list));
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, 7, -1);

	/* WCE is not changeable either (targetcli owns it). */
	uint8_t cache[24] = { 0 };
	cache[4] = 0x08;
	cache[5] = 0x12;
	cache[6] = 0x00;		/* WCE off while it is on */
	c = select6(sd, 0x10, cache, sizeof(cache));
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, 6, -1);

	/* Nothing changed. */
	c = sense6(sd, 0x08, PC_CURRENT, 0x0a, 255);
	assert_good(c);
	assert_int_equal(c->data[6] & 0x04, 0);
	assert_int_equal(c->data[7], 0x10);
}

/* The informational exceptions page as MODE SENSE reports it: taken
 * back unchanged; DEXCPT cleared or MRIE set is INVALID FIELD IN
 * PARAMETER LIST at that byte, and nothing changes. */
static void test_mode_select_informational_exceptions(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t list[16] = { 0 };
	struct sim_cmd *c;

	list[4] = 0x1c;
	list[5] = 0x0a;
	list[6] = 0x08;			/* DEXCPT */
	assert_good(select6(sd, 0x10, list, sizeof(list)));

	list[6] = 0x00;			/* enable informational exceptions */
	c = select6(sd, 0x10, list, sizeof(list));
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, 6, -1);

	list[6] = 0x08;
	list[7] = 0x06;			/* MRIE: report on request */
	c = select6(sd, 0x10, list, sizeof(list));
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, 7, -1);

	c = sense6(sd, 0x08, PC_CURRENT, 0x1c, 255);
	assert_iec_page(c, 4, 0x08);
}

static void test_mode_select_bad_cdb_and_lengths(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t list[16] = { 0 };
	uint8_t unknown[16] = { 0 };
	struct sim_cmd *c;

	control_page(list + 4, true);
	c = select6(sd, 0x11, list, sizeof(list));	/* SP */
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 1, 0);
	c = select6(sd, 0x00, list, sizeof(list));	/* no PF */
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 1, 4);

	/* Parameter list longer than the data sent. */
	uint8_t cdb[6] = { MODE_SELECT_6, 0x10, 0, 0, 16, 0 };
	c = sim_dev_run(sd, cdb, 6, list, 8);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	/* A page cut short. */
	c = select6(sd, 0x10, list, 10);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x1a, 0x00);
	/* A page we don't have (power condition). */
	unknown[4] = 0x1a;
	unknown[5] = 0x0a;
	c = select6(sd, 0x10, unknown, sizeof(unknown));
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, 4, 5);
	/* An empty list is no change, with or without PF (SPC-4: a
	 * PARAMETER LIST LENGTH of zero is not an error; the kernel's
	 * fileio agrees, scsi_oracle.py). */
	assert_good(select6(sd, 0x10, NULL, 0));
	assert_good(select6(sd, 0x00, NULL, 0));
}

/* MODE SELECT(10) with a block descriptor: the block size can't change. */
static void test_mode_select10_block_descriptor(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t list[8 + 8 + 12] = { 0 };
	uint8_t cdb[10] = { MODE_SELECT_10, 0x10, 0, 0, 0, 0, 0, 0, sizeof(list), 0 };
	struct sim_cmd *c;

	list[7] = 8;
	tcmu_put_be32(list + 8, 2048);
	tcmu_put_be32(list + 12, 512);
	control_page(list + 16, true);
	c = sim_dev_run(sd, cdb, 10, list, sizeof(list));
	assert_good(c);

	tcmu_put_be32(list + 12, 4096);
	c = sim_dev_run(sd, cdb, 10, list, sizeof(list));
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	/* D_SENSE is on now: descriptor sense, field pointer descriptor. */
	assert_int_equal(c->sense[0], 0x72);
	assert_int_equal(c->sense[8], 0x02);
	assert_int_equal(c->sense[12], 0x80);
	assert_int_equal(tcmu_get_be16(c->sense + 13), 13);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_dev_setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_mode_sense6_all_pages),
		T(test_mode_sense6_single_pages),
		cmocka_unit_test(test_mode_sense_write_cache_off),
		T(test_mode_sense_changeable),
		T(test_mode_sense_default),
		cmocka_unit_test(test_mode_sense_tas_follows_emulate_tas),
		T(test_mode_sense_saved_not_supported),
		T(test_mode_sense_informational_exceptions),
		T(test_mode_sense_unknown_page_and_subpage),
		T(test_mode_sense10_llbaa_and_dbd),
		T(test_mode_sense_short_alloc),
		T(test_mode_select_d_sense),
		T(test_mode_select_unchangeable_bit),
		T(test_mode_select_informational_exceptions),
		T(test_mode_select_bad_cdb_and_lengths),
		T(test_mode_select10_block_descriptor),
	};

	return cmocka_run_group_tests_name("scsi mode", tests, NULL, NULL);
}
