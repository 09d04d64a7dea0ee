/*
 * The command table's conditions, which the README's table prints: each
 * conditional command says in words what its condition is.
 */
#include <string.h>

#include "scsi_emulate.h"
#include "unit_test.h"

static const struct scsi_op *find(uint8_t opcode, int sa)
{
	const struct scsi_op *op = scsi_op_lookup(NULL, opcode, sa);

	assert_non_null(op);
	return op;
}

static void test_table_every_condition_labelled(void **state)
{
	size_t n;
	const struct scsi_op *ops = scsi_ops(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		if (!ops[i].supported != !ops[i].cond)
			fail_msg("%s: condition and its label disagree", ops[i].name);
	}
}

static void test_table_target_port_groups_labels(void **state)
{
	const char *rtpg = find(MAINTENANCE_IN, MI_REPORT_TARGET_PGS)->cond;
	const char *stpg = find(MAINTENANCE_OUT, MO_SET_TARGET_PGS)->cond;

	(void)state;
	assert_non_null(rtpg);
	assert_non_null(stpg);
	assert_null(strstr(rtpg, "unmap"));
	assert_null(strstr(stpg, "unmap"));
	assert_non_null(strstr(rtpg, "ALUA"));
	assert_non_null(strstr(stpg, "explicit ALUA"));
	assert_non_null(strstr(find(UNMAP, -1)->cond, "unmap"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_every_condition_labelled),
		cmocka_unit_test(test_table_target_port_groups_labels),
	};

	return cmocka_run_group_tests_name("scsi table labels", tests, NULL, NULL);
}
