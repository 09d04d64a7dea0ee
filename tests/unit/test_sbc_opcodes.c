/*
 * REPORT SUPPORTED OPERATION CODES against the command table itself
 * (scsi_ops()), and the table's usage maps against dispatch: every CDB bit
 * a map leaves out is refused with a field pointer at it, none it takes
 * is refused for being there.
 */
#include "sbc_cmds.h"

#define RSOC_BUF 4096

static struct sim_cmd *rsoc(struct sim_dev *sd, uint8_t opts, uint8_t op, uint16_t sa,
			    uint32_t alloc, size_t buf_len)
{
	uint8_t cdb[12] = { MAINTENANCE_IN, MI_REPORT_SUPPORTED_OPCODES, opts, op };

	tcmu_put_be16(cdb + 4, sa);
	tcmu_put_be32(cdb + 6, alloc);
	return sim_dev_run(sd, cdb, 12, NULL, buf_len);
}

static bool op_supported(struct sim_dev *sd, const struct scsi_op *op)
{
	return !op->supported || op->supported(sd->dev);
}

/* The usage map RSOC reports: the table's, with the service action code
 * itself in the SERVICE ACTION field (SPC-4 6.35.3). */
static void reported_usage(const struct scsi_op *op, uint8_t *usage)
{
	memcpy(usage, op->usage, op->cdb_len);
	if (op->service_action >= 0)
		usage[1] = (usage[1] & ~0x1f) | op->service_action;
}

/* Option 0: one descriptor per table entry the device takes, in order. */
static void check_all_commands(struct sim_dev *sd, bool rctd)
{
	size_t count, n = 0, dlen = rctd ? 20 : 8;
	const struct scsi_op *ops = scsi_ops(&count);
	struct sim_cmd *c = rsoc(sd, rctd ? 0x80 : 0, 0, 0, RSOC_BUF, RSOC_BUF);
	const uint8_t *d;

	assert_good(c);
	d = c->data + 4;
	for (size_t i = 0; i < count; i++) {
		const struct scsi_op *op = &ops[i];

		if (!op_supported(sd, op))
			continue;
		assert_int_equal(d[0], op->opcode);
		assert_int_equal(d[1], 0);
		assert_int_equal(tcmu_get_be16(d + 2),
				 op->service_action >= 0 ? op->service_action : 0);
		assert_int_equal(d[5], (op->service_action >= 0 ? 0x01 : 0) |
					       (rctd ? 0x02 : 0));
		assert_int_equal(tcmu_get_be16(d + 6), op->cdb_len);
		if (rctd) {
			assert_int_equal(tcmu_get_be16(d + 8), 0x0a);
			assert_true(tcmu_get_be32(d + 16) > 0);
		}
		d += dlen;
		n++;
	}
	assert_int_equal(tcmu_get_be32(c->data), n * dlen);
	for (const uint8_t *p = d; p < c->data + RSOC_BUF; p++)
		assert_int_equal(*p, 0);
	ring_sim_cmd_free(sd->sim, c);
}

static void test_rsoc_all_commands(void **state)
{
	struct sim_dev *sd = *state;
	size_t count, n = 0;
	const struct scsi_op *ops = scsi_ops(&count);
	struct sim_cmd *c = rsoc(sd, 0, 0, 0, RSOC_BUF, RSOC_BUF);

	/* Every entry of the table this device takes, no more: all but the
	 * ones that depend on configfs (ALUA), which a sim_dev lacks. */
	for (size_t i = 0; i < count; i++)
		n += op_supported(sd, &ops[i]);
	assert_true(n >= 38);
	assert_good(c);
	assert_int_equal(tcmu_get_be32(c->data), n * 8);
	if (sbc_can_unmap(sd)) {
		assert_non_null(scsi_op_lookup(sd->dev, UNMAP, -1));
		assert_non_null(scsi_op_lookup(sd->dev, SERVICE_ACTION_IN_16,
					       SAI_GET_LBA_STATUS));
	}
	check_all_commands(sd, false);
	check_all_commands(sd, true);
}

/* A handler without unmap: UNMAP and GET LBA STATUS are not listed. */
static void test_rsoc_all_commands_no_unmap(void **state)
{
	struct sim_dev *sd = sbc_mem_dev("", 1 << 20, 0);
	struct sim_cmd *c;
	size_t count;

	(void)state;
	check_all_commands(sd, false);
	c = rsoc(sd, 0, 0, 0, RSOC_BUF, RSOC_BUF);
	scsi_ops(&count);
	assert_true(tcmu_get_be32(c->data) <= (count - 2) * 8);
	for (size_t off = 4; off < 4 + tcmu_get_be32(c->data); off += 8) {
		assert_int_not_equal(c->data[off], UNMAP);
		assert_false(c->data[off] == SERVICE_ACTION_IN_16 &&
			     tcmu_get_be16(c->data + off + 2) == SAI_GET_LBA_STATUS);
	}
	c = rsoc(sd, 1, UNMAP, 0, 64, 64);
	assert_good(c);
	assert_int_equal(c->data[1] & 0x07, 1);
	c = rsoc(sd, 2, SERVICE_ACTION_IN_16, SAI_GET_LBA_STATUS, 64, 64);
	assert_good(c);
	assert_int_equal(c->data[1] & 0x07, 1);
	sim_dev_free(sd);
}

/* A short allocation length cuts the list and writes nothing after it. */
static void test_rsoc_alloc_len(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *full = rsoc(sd, 0, 0, 0, RSOC_BUF, RSOC_BUF);
	struct sim_cmd *c = rsoc(sd, 0, 0, 0, 13, 64);

	assert_good(full);
	assert_good(c);
	assert_memory_equal(c->data, full->data, 13);
	for (int i = 13; i < 64; i++)
		assert_int_equal(c->data[i], 0);
}

/* One command: SUPPORT 011b, the CDB size and the table's usage map. */
static void check_one(struct sim_dev *sd, uint8_t opts, const struct scsi_op *op, bool rctd)
{
	uint8_t usage[16];
	struct sim_cmd *c = rsoc(sd, opts | (rctd ? 0x80 : 0), op->opcode,
				 op->service_action >= 0 ? op->service_action : 0, 64, 64);

	assert_good(c);
	assert_int_equal(c->data[0], 0);
	assert_int_equal(c->data[1], 0x03 | (rctd ? 0x80 : 0));
	assert_int_equal(tcmu_get_be16(c->data + 2), op->cdb_len);
	reported_usage(op, usage);
	assert_memory_equal(c->data + 4, usage, op->cdb_len);
	if (rctd) {
		assert_int_equal(tcmu_get_be16(c->data + 4 + op->cdb_len), 0x0a);
		assert_true(tcmu_get_be32(c->data + 4 + op->cdb_len + 8) > 0);
	}
	for (size_t i = 4 + op->cdb_len + (rctd ? 12 : 0); i < 64; i++)
		assert_int_equal(c->data[i], 0);
	ring_sim_cmd_free(sd->sim, c);
}

static void test_rsoc_one_command(void **state)
{
	struct sim_dev *sd = *state;
	const struct scsi_op *rd10 = scsi_op_lookup(NULL, READ_10, -1);
	const struct scsi_op *rc16 = scsi_op_lookup(NULL, SERVICE_ACTION_IN_16,
						    SAI_READ_CAPACITY_16);
	static const uint8_t rd10_map[10] = { 0x28, 0x1a, 0xff, 0xff, 0xff, 0xff,
					      0x1f, 0xff, 0xff, 0x00 };
	static const uint8_t rc16_map[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0,
					      0xff, 0xff, 0xff, 0xff, 0, 0 };
	struct sim_cmd *c;

	assert_non_null(rd10);
	assert_non_null(rc16);
	check_one(sd, 1, rd10, false);
	check_one(sd, 1, rd10, true);
	check_one(sd, 3, rd10, false);
	check_one(sd, 2, rc16, false);
	check_one(sd, 3, rc16, true);
	/* The maps as SBC-3 lays the CDBs out. */
	c = rsoc(sd, 1, READ_10, 0, 64, 64);
	assert_memory_equal(c->data + 4, rd10_map, 10);
	c = rsoc(sd, 2, SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, 64, 64);
	assert_memory_equal(c->data + 4, rc16_map, 16);
	/* Every entry, each way that applies to it. */
	size_t count;
	const struct scsi_op *ops = scsi_ops(&count);
	for (size_t i = 0; i < count; i++) {
		if (!op_supported(sd, &ops[i]))
			continue;
		check_one(sd, ops[i].service_action >= 0 ? 2 : 1, &ops[i], false);
		check_one(sd, 3, &ops[i], i % 2);
	}
}

/* Option 1 is for opcodes without service actions, 2 for those with;
 * other options are reserved. */
static void test_rsoc_wrong_option(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *c;

	c = rsoc(sd, 1, SERVICE_ACTION_IN_16, 0, 64, 64);
	sbc_assert_bad_cdb(c, 2, 2);
	c = rsoc(sd, 1, MAINTENANCE_IN, 0, 64, 64);
	sbc_assert_bad_cdb(c, 2, 2);
	c = rsoc(sd, 2, READ_10, 0, 64, 64);
	sbc_assert_bad_cdb(c, 2, 2);
	for (uint8_t o = 4; o < 8; o++) {
		c = rsoc(sd, o, READ_10, 0, 64, 64);
		sbc_assert_bad_cdb(c, 2, 2);
	}
}

/* Commands we don't take: SUPPORT 001b and nothing else. */
static void test_rsoc_unsupported(void **state)
{
	struct sim_dev *sd = *state;
	static const uint8_t ops[] = { 0x02, 0x1c, 0x7e, 0xa0, 0xc0, 0xff };
	struct sim_cmd *c;

	for (size_t i = 0; i < sizeof(ops); i++) {
		c = rsoc(sd, 1, ops[i], 0, 64, 64);
		assert_good(c);
		assert_int_equal(c->data[1], 0x01);
		for (int j = 2; j < 64; j++)
			assert_int_equal(c->data[j], 0);
		c = rsoc(sd, 3, ops[i], 0, 64, 64);
		assert_good(c);
		assert_int_equal(c->data[1], 0x01);
	}
	/* A service action the opcode does not have. */
	c = rsoc(sd, 2, SERVICE_ACTION_IN_16, 0x11, 64, 64);
	assert_good(c);
	assert_int_equal(c->data[1], 0x01);
	c = rsoc(sd, 3, MAINTENANCE_IN, 0x1f, 64, 64);
	assert_good(c);
	assert_int_equal(c->data[1], 0x01);
}

/* ---- the usage maps against dispatch ------------------------------------ */

/* Commands whose byte 1 bits 7-5 are one field (xxPROTECT); FORMAT UNIT's
 * FMTPINFO is bits 7-6. A field in error is pointed at by its top bit. */
static int expected_bit(uint8_t opcode, int byte, int bit)
{
	static const uint8_t protect[] = {
		READ_10, READ_12, READ_16, WRITE_10, WRITE_12, WRITE_16,
		VERIFY_10, VERIFY_12, VERIFY_16, WRITE_VERIFY_10, WRITE_VERIFY_12,
		WRITE_VERIFY_16, COMPARE_AND_WRITE, WRITE_SAME_10, WRITE_SAME_16,
	};

	if (byte != 1)
		return bit;
	if (opcode == FORMAT_UNIT)
		return bit >= 6 ? 7 : bit;
	for (size_t i = 0; i < sizeof(protect); i++)
		if (protect[i] == opcode && bit >= 5)
			return 7;
	return bit;
}

/* A CDB @op takes as it is: its service action, PF for MODE SELECT, all
 * pages for MODE SENSE, one block for WRITE SAME (WSNZ). */
static void base_cdb(const struct scsi_op *op, uint8_t *cdb)
{
	memset(cdb, 0, 16);
	cdb[0] = op->opcode;
	if (op->service_action >= 0)
		cdb[1] = op->service_action;
	if (op->opcode == MODE_SELECT_6 || op->opcode == MODE_SELECT_10)
		cdb[1] = 0x10;
	if (op->opcode == MODE_SENSE_6 || op->opcode == MODE_SENSE_10)
		cdb[2] = 0x3f;
	if (op->opcode == WRITE_SAME_10)
		cdb[8] = 1;
	if (op->opcode == WRITE_SAME_16)
		cdb[13] = 1;
}

/* The data-out a base CDB's blocks ask for (a data CDB must get exactly
 * that, WRITE SAME one block); 8192 bytes, more than any list or response needs, for others. */
static size_t base_len(const struct scsi_op *op)
{
	switch (op->opcode) {
	case WRITE_6:
		return 256 * 512;	/* a transfer length of 0 is 256 blocks */
	case WRITE_10: case WRITE_12: case WRITE_16:
	case WRITE_VERIFY_10: case WRITE_VERIFY_12: case WRITE_VERIFY_16:
	case COMPARE_AND_WRITE:
		return 0;
	case WRITE_SAME_10: case WRITE_SAME_16:
		return 512;		/* its one block */
	default:
		return 8192;
	}
}

/* Any bit outside the map: INVALID FIELD IN CDB at that byte and bit. */
static void test_usage_map_bits_outside_refused(void **state)
{
	struct sim_dev *sd = *state;
	static const uint8_t zero[512];
	size_t count, tried = 0;
	const struct scsi_op *ops = scsi_ops(&count);

	for (size_t i = 0; i < count; i++) {
		const struct scsi_op *op = &ops[i];

		if (!op_supported(sd, op))
			continue;
		for (int byte = 1; byte < op->cdb_len; byte++) {
			for (int bit = 0; bit < 8; bit++) {
				uint8_t cdb[16];
				struct sim_cmd *c;

				if (op->usage[byte] & (1 << bit))
					continue;
				base_cdb(op, cdb);
				cdb[byte] |= 1 << bit;
				c = sim_dev_run(sd, cdb, op->cdb_len, zero, sizeof(zero));
				if (c->status != SAM_STAT_CHECK_CONDITION || c->asc != 0x24 ||
				    c->sense[15] != (0xc8 | expected_bit(op->opcode, byte, bit)) ||
				    tcmu_get_be16(c->sense + 16) != byte) {
					print_error("%s: byte %d bit %d: status 0x%x sense %x/%02x/%02x "
						    "sks %02x %02x %02x\n", op->name, byte, bit,
						    c->status, c->key, c->asc, c->ascq, c->sense[15],
						    c->sense[16], c->sense[17]);
					fail();
				}
				assert_int_equal(c->key, SENSE_ILLEGAL_REQUEST);
				ring_sim_cmd_free(sd->sim, c);
				tried++;
			}
		}
	}
	assert_true(tried > 500);
}

/*
 * In-map bits a command refuses for what the value asks, not for the bit
 * being there: these may come back as INVALID FIELD IN CDB at their byte.
 */
static bool refused_by_meaning(const struct scsi_op *op, int byte, int bit)
{
	static const struct { uint8_t op; uint8_t byte, bits; } ok[] = {
		{ INQUIRY, 2, 0xff },			/* a page without EVPD */
		{ MODE_SELECT_6, 1, 0x01 },		/* SP: nothing is saved */
		{ MODE_SELECT_10, 1, 0x01 },
		{ MODE_SENSE_6, 3, 0xff },		/* a subpage */
		{ MODE_SENSE_10, 3, 0xff },
		{ START_STOP_UNIT, 4, 0x02 },		/* LOEJ: nothing to eject */
		{ READ_CAPACITY_10, 2, 0xff },		/* an LBA without PMI */
		{ VERIFY_10, 1, 0x04 },			/* BYTCHK 10b, reserved */
		{ VERIFY_12, 1, 0x04 },
		{ VERIFY_16, 1, 0x04 },
		{ WRITE_VERIFY_10, 1, 0x04 },
		{ WRITE_VERIFY_12, 1, 0x04 },
		{ WRITE_VERIFY_16, 1, 0x04 },
		{ WRITE_SAME_16, 10, 0xff },		/* over MAXIMUM WRITE SAME LENGTH */
		{ COMPARE_AND_WRITE, 13, 0x80 },	/* over its maximum */
		{ MAINTENANCE_IN, 2, 0x07 },		/* reporting options 2, 4-7 */
		{ RECEIVE_COPY_RESULTS, 2, 0xff },	/* a list with no copy on record */
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (ok[i].op == op->opcode && ok[i].byte == byte && (ok[i].bits & (1 << bit)))
			return true;
	return false;
}

/* Any one bit inside the map, on a CDB the command takes: not refused as
 * a field at that byte (other errors, out of range say, are fine). */
static void test_usage_map_bits_inside_taken(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t *zero = calloc(1, 256 * 512);
	size_t count, tried = 0;
	const struct scsi_op *ops = scsi_ops(&count);

	for (size_t i = 0; i < count; i++) {
		const struct scsi_op *op = &ops[i];
		uint8_t cdb[16];
		struct sim_cmd *c;

		if (!op_supported(sd, op))
			continue;
		base_cdb(op, cdb);
		c = sim_dev_run(sd, cdb, op->cdb_len, zero, base_len(op));
		if (c->status != SAM_STAT_GOOD) {
			print_error("%s: base CDB: status 0x%x\n", op->name, c->status);
			fail();
		}
		ring_sim_cmd_free(sd->sim, c);
		for (int byte = 1; byte < op->cdb_len; byte++) {
			for (int bit = 0; bit < 8; bit++) {
				if (!(op->usage[byte] & (1 << bit)))
					continue;
				/* The service action picks another command. */
				if (op->service_action >= 0 && byte == 1 && bit < 5)
					continue;
				base_cdb(op, cdb);
				if (cdb[byte] & (1 << bit))
					continue;
				cdb[byte] |= 1 << bit;
				c = sim_dev_run(sd, cdb, op->cdb_len, zero, base_len(op));
				assert_non_null(c);
				if (c->status == SAM_STAT_CHECK_CONDITION && c->asc == 0x24 &&
				    (c->sense[15] & 0x40) && tcmu_get_be16(c->sense + 16) == byte &&
				    !refused_by_meaning(op, byte, bit)) {
					print_error("%s: byte %d bit %d (in the map) refused, "
						    "sks %02x\n", op->name, byte, bit, c->sense[15]);
					fail();
				}
				ring_sim_cmd_free(sd->sim, c);
				tried++;
			}
		}
	}
	assert_true(tried > 500);
	free(zero);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_dev_setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_rsoc_all_commands),
		cmocka_unit_test(test_rsoc_all_commands_no_unmap),
		T(test_rsoc_alloc_len),
		T(test_rsoc_one_command),
		T(test_rsoc_wrong_option),
		T(test_rsoc_unsupported),
		T(test_usage_map_bits_outside_refused),
		T(test_usage_map_bits_inside_taken),
	};

	return cmocka_run_group_tests_name("sbc report opcodes and usage maps", tests, NULL,
					   NULL);
}
