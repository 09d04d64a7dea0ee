/*
 * A backend's -errno becomes the status and sense that make Linux retry,
 * fail over or give up as the error deserves (the table is in api.c,
 * tcmur_cmd_errno): the memory handler fails one READ, WRITE or
 * SYNCHRONIZE CACHE with each errno, through the ring simulator; and a
 * step of a multi-step command (VERIFY, WRITE AND VERIFY, COMPARE AND
 * WRITE, WRITE SAME) fails the command with the same sense. A device
 * whose reopen fails twice is offline: every command answers NOT READY,
 * MANUAL INTERVENTION REQUIRED, the handler is not called, and a
 * reconfigure that opens it again brings it back.
 */
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

#define MEM_SIZE (1 << 20)

/* status; for CHECK CONDITION the key and ASC << 8 | ASCQ; for a read,
 * a write (and flush) alike unless asc_w says otherwise. */
struct errno_case {
	int err;
	uint8_t status;
	uint8_t key;
	uint16_t asc_r, asc_w;
};

/* A backend gone for a while: NOT READY, BECOMING READY, which Linux retries
 * for the command's whole window (test_sense_outage.sh measures it). */
#define TRANSPORT(e) { e, SAM_STAT_CHECK_CONDITION, SENSE_NOT_READY, 0x0401, 0x0401 }

static const struct errno_case cases[] = {
	TRANSPORT(ETIMEDOUT), TRANSPORT(ENOTCONN), TRANSPORT(ESHUTDOWN),
	TRANSPORT(ECONNRESET), TRANSPORT(ECONNREFUSED), TRANSPORT(ECONNABORTED),
	TRANSPORT(EHOSTUNREACH), TRANSPORT(EHOSTDOWN), TRANSPORT(ENETUNREACH),
	TRANSPORT(ENETDOWN), TRANSPORT(ENETRESET), TRANSPORT(ENOLINK), TRANSPORT(EPIPE),
	TRANSPORT(ECOMM),
	{ EAGAIN, SAM_STAT_BUSY, 0, 0, 0 },
	{ EBUSY, SAM_STAT_BUSY, 0, 0, 0 },
	{ ENOMEM, SAM_STAT_BUSY, 0, 0, 0 },
	{ ENOSPC, SAM_STAT_CHECK_CONDITION, SENSE_DATA_PROTECT, 0x2707, 0x2707 },
	{ EDQUOT, SAM_STAT_CHECK_CONDITION, SENSE_DATA_PROTECT, 0x2707, 0x2707 },
	{ EROFS, SAM_STAT_CHECK_CONDITION, SENSE_DATA_PROTECT, 0x2700, 0x2700 },
	{ EIO, SAM_STAT_CHECK_CONDITION, SENSE_MEDIUM_ERROR, 0x1100, 0x0c00 },
	{ EILSEQ, SAM_STAT_CHECK_CONDITION, SENSE_MEDIUM_ERROR, 0x1100, 0x0c00 },
};

static int mem_setup(void **state)
{
	struct sim_dev *sd;

	if (sim_dev_mem_new(&sd, "", MEM_SIZE))
		return -1;
	*state = sd;
	return 0;
}

static struct sim_cmd *run_op(struct sim_dev *sd, enum mem_op op)
{
	static const uint8_t ops[] = { READ_10, WRITE_10, SYNCHRONIZE_CACHE_10 };
	uint8_t cdb[10] = { ops[op] }, buf[512] = { 0 };

	if (op == MEM_OP_FLUSH)
		return sim_dev_run(sd, cdb, 10, NULL, 0);
	tcmu_put_be32(cdb + 2, 8);
	tcmu_put_be16(cdb + 7, 1);
	return sim_dev_run(sd, cdb, 10, op == MEM_OP_WRITE ? buf : NULL, 512);
}

static bool case_ok(const struct errno_case *e, enum mem_op op, const struct sim_cmd *c)
{
	uint16_t asc = op == MEM_OP_READ ? e->asc_r : e->asc_w;

	if (!c || !c->done || c->status != e->status)
		return false;
	if (e->status != SAM_STAT_CHECK_CONDITION)
		return true;
	return c->key == e->key && (c->asc << 8 | c->ascq) == asc;
}

static void test_io_errno_sense_table(void **state)
{
	static const char *const names[] = { "READ", "WRITE", "SYNC CACHE" };
	struct sim_dev *sd = *state;
	unsigned int bad = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int op = MEM_OP_READ; op < MEM_OP_COUNT; op++) {
			const struct errno_case *e = &cases[i];
			struct sim_cmd *c;

			mem_handler_fail(sd->dev, op, 1, e->err);
			c = run_op(sd, op);
			if (!case_ok(e, op, c)) {
				bad++;
				printf("%-10s %-13s: got status 0x%02x key 0x%x %02x/%02x\n",
				       names[op], strerror(e->err), c ? c->status : 0xff,
				       c ? c->key : 0, c ? c->asc : 0, c ? c->ascq : 0);
			}
			/* The injection fires once: the same command then
			 * works, once a latch the failure set is cleared (a
			 * failed flush stays failed: dev_durable.h). */
			if (dev_durable_latched(&sd->dev->durable)) {
				assert_int_not_equal(op, MEM_OP_READ);
				if (op == MEM_OP_FLUSH)
					assert_sense(run_op(sd, op), SENSE_MEDIUM_ERROR, 0x0c, 0);
				assert_int_equal(sim_dev_repoint(sd), 0);
			}
			assert_good(run_op(sd, op));
		}
	}
	assert_int_equal(bad, 0);
}

/* "The Nth call": the two before it succeed, the one after too. */
static void test_io_errno_nth_call(void **state)
{
	struct sim_dev *sd = *state;

	mem_handler_fail(sd->dev, MEM_OP_WRITE, 3, ETIMEDOUT);
	assert_good(run_op(sd, MEM_OP_WRITE));
	assert_good(run_op(sd, MEM_OP_READ));
	assert_good(run_op(sd, MEM_OP_WRITE));
	assert_sense(run_op(sd, MEM_OP_WRITE), SENSE_NOT_READY, 0x04, 0x01);
	assert_good(run_op(sd, MEM_OP_WRITE));
}

struct step_case {
	const char *name;
	uint8_t cdb[16];
	size_t cdb_len, data_len;
	enum mem_op op;
	unsigned int nth;
	int err;
	uint8_t key;
	uint16_t asc;
};

/* 8 blocks at LBA 8; the medium is zeros, so VERIFY's data matches. */
static const struct step_case step_cases[] = {
	{ "VERIFY(10) BYTCHK 1, read", { VERIFY_10, 0x02, 0, 0, 0, 8, 0, 0, 8 }, 10, 4096,
	  MEM_OP_READ, 1, EIO, SENSE_MEDIUM_ERROR, 0x1100 },
	{ "WRITE AND VERIFY(10), write", { WRITE_VERIFY_10, 0x02, 0, 0, 0, 8, 0, 0, 8 }, 10,
	  4096, MEM_OP_WRITE, 1, EIO, SENSE_MEDIUM_ERROR, 0x0c00 },
	{ "WRITE AND VERIFY(10), read", { WRITE_VERIFY_10, 0x02, 0, 0, 0, 8, 0, 0, 8 }, 10,
	  4096, MEM_OP_READ, 1, EILSEQ, SENSE_MEDIUM_ERROR, 0x1100 },
	{ "COMPARE AND WRITE, read", { COMPARE_AND_WRITE, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0,
	  1 }, 16, 1024, MEM_OP_READ, 1, EIO, SENSE_MEDIUM_ERROR, 0x1100 },
	{ "COMPARE AND WRITE, write", { COMPARE_AND_WRITE, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0,
	  1 }, 16, 1024, MEM_OP_WRITE, 1, ENOSPC, SENSE_DATA_PROTECT, 0x2707 },
	{ "WRITE SAME(10), write", { WRITE_SAME_10, 0, 0, 0, 0, 8, 0, 0, 8 }, 10, 512,
	  MEM_OP_WRITE, 1, ENOSPC, SENSE_DATA_PROTECT, 0x2707 },
	{ "SYNCHRONIZE CACHE(10), flush", { SYNCHRONIZE_CACHE_10 }, 10, 0, MEM_OP_FLUSH, 1,
	  ETIMEDOUT, SENSE_NOT_READY, 0x0401 },
};

static void test_io_errno_in_multistep_commands(void **state)
{
	static const char *const opts[] = { "", "async" };
	uint8_t zero[4096] = { 0 };

	(void)state;
	for (size_t o = 0; o < 2; o++) {
		struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = opts[o],
					   .size = MEM_SIZE };
		struct sim_dev *sd;

		assert_int_equal(sim_dev_new(&sd, &cfg), 0);
		for (size_t i = 0; i < sizeof(step_cases) / sizeof(step_cases[0]); i++) {
			const struct step_case *e = &step_cases[i];
			struct sim_cmd *c;

			mem_handler_fail(sd->dev, e->op, e->nth, e->err);
			c = sim_dev_run(sd, e->cdb, e->cdb_len, e->data_len ? zero : NULL,
					e->data_len);
			print_message("mem/%-5s %-30s %-24s: status 0x%02x, %x %02x/%02x\n",
				      opts[o], e->name, strerror(e->err), c ? c->status : 0xff,
				      c ? c->key : 0, c ? c->asc : 0, c ? c->ascq : 0);
			assert_sense(c, e->key, e->asc >> 8, e->asc & 0xff);
			/* The error was the handler's once: the command works
			 * now, once a flush latch it set is cleared. */
			if (dev_durable_latched(&sd->dev->durable))
				assert_int_equal(sim_dev_repoint(sd), 0);
			assert_good(sim_dev_run(sd, e->cdb, e->cdb_len, e->data_len ? zero : NULL,
						e->data_len));
		}
		sim_dev_free(sd);
	}
}

static void test_io_offline_after_failed_reopen(void **state)
{
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = "fail_reopen",
				   .size = MEM_SIZE };
	struct tcmu_reconfig rc = { .has_config = true, .config = "mem/fail_reopen,new" };
	uint8_t tur[6] = { TEST_UNIT_READY }, inq[6] = { INQUIRY, 0, 0, 0, 36 };
	struct sim_dev *sd;
	unsigned int ios;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	assert_good(run_op(sd, MEM_OP_WRITE));
	/* The new config's open fails, then the old one's. */
	assert_int_equal(dev_reconfig(sd->dev, &rc), -EIO);
	assert_string_equal(dev_state_name(sd->dev), "offline");
	ios = mem_handler_ios(sd->dev);
	for (int op = MEM_OP_READ; op < MEM_OP_COUNT; op++)
		assert_sense(run_op(sd, op), SENSE_NOT_READY, 0x04, 0x03);
	assert_sense(sim_dev_run(sd, tur, 6, NULL, 0), SENSE_NOT_READY, 0x04, 0x03);
	assert_sense(sim_dev_run(sd, inq, 6, NULL, 36), SENSE_NOT_READY, 0x04, 0x03);
	assert_int_equal(mem_handler_ios(sd->dev), ios);
	/* The admin fixes the config: online again, a new medium. */
	snprintf(rc.config, sizeof(rc.config), "mem/fixed");
	assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
	assert_string_equal(dev_state_name(sd->dev), "running");
	assert_sense(sim_dev_run(sd, tur, 6, NULL, 0), SENSE_UNIT_ATTENTION, 0x28, 0x00);
	assert_good(run_op(sd, MEM_OP_READ));
	sim_dev_free(sd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_io_errno_sense_table, mem_setup,
						sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_io_errno_nth_call, mem_setup,
						sim_dev_teardown),
		cmocka_unit_test(test_io_errno_in_multistep_commands),
		cmocka_unit_test(test_io_offline_after_failed_reopen),
	};

	return cmocka_run_group_tests_name("io_errno", tests, NULL, NULL);
}
