/*
 * A backend's -errno becomes the status and sense that make Linux retry,
 * fail over or give up as the error deserves (the table is in api.c,
 * tcmur_cmd_errno): the memory handler fails one READ, WRITE or
 * SYNCHRONIZE CACHE with each errno, through the ring simulator.
 */
#include <stdio.h>
#include <string.h>

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

#define TRANSPORT(e) { e, SAM_STAT_CHECK_CONDITION, SENSE_NOT_READY, 0x0800, 0x0800 }

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
	{ EIO, SAM_STAT_CHECK_CONDITION, SENSE_MEDIUM_ERROR, 0x1100, 0x0c00 },
	{ EILSEQ, SAM_STAT_CHECK_CONDITION, SENSE_MEDIUM_ERROR, 0x1100, 0x0c00 },
};

static int mem_setup(void **state)
{
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = "",
				   .size = MEM_SIZE };
	struct sim_dev *sd;

	if (sim_dev_new(&sd, &cfg))
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
			/* The injection fires once: the same command then works. */
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
	assert_sense(run_op(sd, MEM_OP_WRITE), SENSE_NOT_READY, 0x08, 0x00);
	assert_good(run_op(sd, MEM_OP_WRITE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_io_errno_sense_table, mem_setup,
						sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_io_errno_nth_call, mem_setup,
						sim_dev_teardown),
	};

	return cmocka_run_group_tests_name("io_errno", tests, NULL, NULL);
}
