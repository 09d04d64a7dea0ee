/*
 * INQUIRY through the ring, the device thread and the file handler:
 * standard data, vital product data pages, allocation lengths.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

static struct sim_cmd *inquiry(struct sim_dev *sd, bool evpd, uint8_t page,
			       uint16_t alloc_len, size_t data_len)
{
	uint8_t cdb[6] = { INQUIRY, evpd ? 0x01 : 0, page, alloc_len >> 8, alloc_len & 0xff, 0 };

	return sim_dev_run(sd, cdb, sizeof(cdb), NULL, data_len);
}

static void assert_zero_from(const struct sim_cmd *c, size_t from)
{
	for (size_t i = from; i < c->data_len; i++)
		if (c->data[i]) {
			print_error("byte %zu is 0x%02x, not zero\n", i, c->data[i]);
			fail();
		}
}

static void test_inquiry_standard(void **state)
{
	struct sim_cmd *c = inquiry(*state, false, 0, 96, 96);

	assert_good(c);
	assert_int_equal(c->data[0], 0x00);		/* disk, connected */
	assert_int_equal(c->data[2], 0x06);		/* SPC-4 */
	assert_int_equal(c->data[3] & 0x0f, 0x02);	/* response format */
	assert_int_equal(c->data[4], 66 - 5);		/* additional length */
	assert_true(c->data[7] & 0x02);			/* CMDQUE */
	assert_memory_equal(c->data + 8, "LIO-ORG ", 8);
	assert_memory_equal(c->data + 16, "TCMU device     ", 16);
	/* The rest of the buffer is cleared, not left as it was. */
	assert_zero_from(c, 66);
}

/* A short allocation length truncates; nothing past it is written. */
static void test_inquiry_short_alloc_len_truncates(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *full = inquiry(sd, false, 0, 96, 96);
	struct sim_cmd *c;

	assert_good(full);
	for (uint16_t alloc = 0; alloc <= 66; alloc += 5) {
		c = inquiry(sd, false, 0, alloc, 96);
		assert_good(c);
		assert_memory_equal(c->data, full->data, alloc);
		assert_zero_from(c, alloc);
	}
	/* Buffer of exactly the allocation length: guard bytes intact. */
	c = inquiry(sd, false, 0, 36, 36);
	assert_good(c);
	assert_memory_equal(c->data, full->data, 36);
	/* Buffer shorter than the allocation length: only the buffer. */
	c = inquiry(sd, false, 0, 255, 20);
	assert_good(c);
	assert_int_equal(c->data_len, 20);
	assert_memory_equal(c->data, full->data, 20);
	/* VPD pages too. */
	c = inquiry(sd, true, 0x83, 10, 64);
	assert_good(c);
	assert_int_equal(c->data[1], 0x83);
	assert_zero_from(c, 10);
}

/* Clearing the rest of a buffer covers every iovec, however many. */
static void test_inquiry_clears_buffer_of_many_iovecs(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t cdb[6] = { INQUIRY, 0, 0, 0x01, 0x2c, 0 };	/* 300 */
	struct sim_cmd *c = sim_dev_run_iov(sd, cdb, 6, NULL, 300, 100);

	assert_good(c);
	assert_memory_equal(c->data + 8, "LIO-ORG ", 8);
	assert_zero_from(c, 66);
}

static void test_inquiry_vpd_supported_pages(void **state)
{
	static const uint8_t pages[] = { 0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2 };
	struct sim_cmd *c = inquiry(*state, true, 0x00, 255, 255);

	assert_good(c);
	assert_int_equal(c->data[1], 0x00);
	assert_int_equal(c->data[2] << 8 | c->data[3], sizeof(pages));
	assert_memory_equal(c->data + 4, pages, sizeof(pages));
	assert_zero_from(c, 4 + sizeof(pages));
}

static void test_inquiry_vpd_unit_serial(void **state)
{
	struct sim_cmd *c = inquiry(*state, true, 0x80, 255, 255);

	assert_good(c);
	assert_int_equal(c->data[1], 0x80);
	assert_int_equal(c->data[3], strlen(SIM_DEV_SERIAL));
	assert_memory_equal(c->data + 4, SIM_DEV_SERIAL, strlen(SIM_DEV_SERIAL));
}

/* NAA 6: the kernel's company id 0x001405, then the first 25 hex digits
 * of the unit serial; then a T10 vendor id designator. */
static void test_inquiry_vpd_device_id_naa(void **state)
{
	static const uint8_t naa[16] = {
		0x60, 0x01, 0x40, 0x50, 0x12, 0x34, 0x56, 0x78,
		0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78,
	};
	struct sim_cmd *c = inquiry(*state, true, 0x83, 255, 255);
	size_t n = strlen(SIM_DEV_SERIAL);
	const uint8_t *d;

	assert_good(c);
	assert_int_equal(c->data[1], 0x83);
	assert_int_equal(c->data[2] << 8 | c->data[3], 20 + 12 + n);
	d = c->data + 4;
	assert_int_equal(d[0], 0x01);		/* binary */
	assert_int_equal(d[1], 0x03);		/* LU, NAA */
	assert_int_equal(d[3], 16);
	assert_memory_equal(d + 4, naa, 16);
	d += 20;
	assert_int_equal(d[0], 0x02);		/* ASCII */
	assert_int_equal(d[1], 0x01);		/* LU, T10 vendor id */
	assert_int_equal(d[3], 8 + n);
	assert_memory_equal(d + 4, "LIO-ORG ", 8);
	assert_memory_equal(d + 12, SIM_DEV_SERIAL, n);
}

/* Non-hex characters (a UUID's dashes) are skipped, as the kernel does. */
static void test_inquiry_vpd_naa_from_uuid_serial(void **state)
{
	static const uint8_t naa[16] = {
		0x60, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12,
		0x34, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01,
	};
	struct sim_dev_cfg cfg = { .serial = "abcdef01-2344-5678-9abc-def0123456789" };
	struct sim_dev *sd;
	struct sim_cmd *c;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	c = inquiry(sd, true, 0x83, 255, 255);
	assert_good(c);
	assert_memory_equal(c->data + 8, naa, 16);
	sim_dev_free(sd);
}

/*
 * Extended INQUIRY Data (SPC-4 7.8.7): no protection information; only
 * SIMPSUP of the task attributes (a user backstore never sees one: the
 * kernel passes TCMU's commands through untouched, and the ring carries
 * none); V_SUP while the write cache is on; LUICLR 0.
 */
static void assert_vpd86(struct sim_dev *sd, uint8_t v_sup)
{
	struct sim_cmd *c = inquiry(sd, true, 0x86, 255, 255);

	assert_good(c);
	assert_int_equal(c->data[1], 0x86);
	assert_int_equal(c->data[2] << 8 | c->data[3], 0x3c);
	assert_int_equal(c->data[4], 0x00);	/* SPT, GRD_CHK, APP_CHK, REF_CHK */
	assert_int_equal(c->data[5], 0x01);	/* SIMPSUP alone */
	assert_int_equal(c->data[6], v_sup);	/* V_SUP, not NV_SUP */
	assert_int_equal(c->data[7], 0x00);	/* LUICLR */
	assert_zero_from(c, 8);
}

static void test_inquiry_vpd_extended(void **state)
{
	struct sim_dev_cfg cfg = { .write_cache_off = true };
	struct sim_dev *sd;
	struct sim_cmd *c;

	assert_vpd86(*state, 0x01);
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	assert_vpd86(sd, 0x00);
	sim_dev_free(sd);
	/* A short allocation length: the page's start, no more. */
	c = inquiry(*state, true, 0x86, 6, 64);
	assert_good(c);
	assert_int_equal(c->data[3], 0x3c);
	assert_int_equal(c->data[5], 0x01);
	assert_zero_from(c, 6);
}

static void test_inquiry_vpd_block_limits(void **state)
{
	struct sim_cmd *c = inquiry(*state, true, 0xb0, 255, 255);

	assert_good(c);
	assert_int_equal(c->data[1], 0xb0);
	assert_int_equal(c->data[2] << 8 | c->data[3], 0x3c);
	assert_int_equal(tcmu_get_be32(c->data + 8), 1024);	/* max transfer */
	assert_int_equal(tcmu_get_be32(c->data + 12), 1024);	/* optimal */
	assert_zero_from(c, 64);
}

/* What VPD 0xB1 should say for a file at @path: the rotation of the
 * block device its file system is on (1: non-rotating), else 0. */
static uint16_t rotation_of_file(const char *path)
{
	char sys[128];
	struct stat st;
	FILE *f;
	int rot = -1;

	if (stat(path, &st) < 0)
		return 0;
	for (int up = 0; up < 2 && rot < 0; up++) {
		snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/%squeue/rotational",
			 major(st.st_dev), minor(st.st_dev), up ? "../" : "");
		f = fopen(sys, "r");
		if (f) {
			if (fscanf(f, "%d", &rot) != 1)
				rot = -1;
			fclose(f);
		}
	}
	return rot == 0 ? 1 : 0;
}

static void test_inquiry_vpd_characteristics_and_provisioning(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *c = inquiry(sd, true, 0xb1, 255, 255);

	assert_good(c);
	assert_int_equal(c->data[1], 0xb1);
	assert_int_equal(c->data[2] << 8 | c->data[3], 0x3c);
	/* A regular file: what its file system's device is (or 0). */
	assert_int_equal(tcmu_get_be16(c->data + 4), rotation_of_file(sd->path));

	c = inquiry(sd, true, 0xb2, 255, 255);
	assert_good(c);
	assert_int_equal(c->data[1], 0xb2);
	assert_int_equal(c->data[2] << 8 | c->data[3], 4);
	/* The file handler punches holes: LBPU, LBPWS, LBPWS10, LBPRZ, thin. */
	assert_int_equal(c->data[5], 0xe4);
	assert_int_equal(c->data[6], 0x02);
}

static uint16_t rpm_7200(struct tcmur_device *dev)
{
	(void)dev;
	return 7200;
}

static uint16_t b1_rate(const struct tcmur_handler *ops)
{
	struct sim_dev_cfg cfg = { .ops = ops, .handler_cfg = "" };
	struct sim_dev *sd;
	struct sim_cmd *c;
	uint16_t rate;

	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	c = inquiry(sd, true, 0xb1, 255, 255);
	assert_good(c);
	rate = tcmu_get_be16(c->data + 4);
	sim_dev_free(sd);
	return rate;
}

/* VPD 0xB1 says what the handler says (API 1.2 rotation_rate); not
 * reported (0) without it, or from an older handler's shorter table. */
static void test_inquiry_vpd_b1_rotation_from_handler(void **state)
{
	struct tcmur_handler ops = mem_handler_ops;

	(void)state;
	assert_int_equal(b1_rate(&ops), 0);
	ops.rotation_rate = rpm_7200;
	assert_int_equal(b1_rate(&ops), 7200);
	ops.struct_size = offsetof(struct tcmur_handler, rotation_rate);
	assert_int_equal(b1_rate(&ops), 0);
}

static void test_inquiry_bad_vpd_page(void **state)
{
	struct sim_cmd *c = inquiry(*state, true, 0x99, 255, 255);

	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 2, -1);
}

static void test_inquiry_bad_fields(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t cmddt[6] = { INQUIRY, 0x02, 0, 0, 96, 0 };
	struct sim_cmd *c = sim_dev_run(sd, cmddt, 6, NULL, 96);

	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 1, 1);
	/* A page code without EVPD. */
	c = inquiry(sd, false, 0x80, 96, 96);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 2, -1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_dev_setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_inquiry_standard),
		T(test_inquiry_short_alloc_len_truncates),
		T(test_inquiry_clears_buffer_of_many_iovecs),
		T(test_inquiry_vpd_supported_pages),
		T(test_inquiry_vpd_unit_serial),
		T(test_inquiry_vpd_device_id_naa),
		cmocka_unit_test(test_inquiry_vpd_naa_from_uuid_serial),
		T(test_inquiry_vpd_extended),
		T(test_inquiry_vpd_block_limits),
		T(test_inquiry_vpd_characteristics_and_provisioning),
		cmocka_unit_test(test_inquiry_vpd_b1_rotation_from_handler),
		T(test_inquiry_bad_vpd_page),
		T(test_inquiry_bad_fields),
	};

	return cmocka_run_group_tests_name("scsi inquiry", tests, NULL, NULL);
}
