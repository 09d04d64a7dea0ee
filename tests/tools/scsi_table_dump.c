/*
 * scsi_table_dump: print the daemon's SCSI command table (scsi_table.c)
 * and its VPD and mode pages, the very data dispatch uses.
 *   --list      "OPCODE SA CDBLEN NAME" per command (SA "-" for none),
 *               for tests that compare with what sg_opcodes reports;
 *   --markdown  the README's table.
 * Licensed under the Apache License, Version 2.0.
 */
#include <stdio.h>
#include <string.h>

#include "scsi_emulate.h"

static void list(void)
{
	size_t n;
	const struct scsi_op *ops = scsi_ops(&n);

	for (size_t i = 0; i < n; i++) {
		if (ops[i].service_action >= 0)
			printf("%02x %02x %u %s\n", ops[i].opcode, ops[i].service_action,
			       ops[i].cdb_len, ops[i].name);
		else
			printf("%02x - %u %s\n", ops[i].opcode, ops[i].cdb_len, ops[i].name);
	}
}

static void usage_hex(const struct scsi_op *op)
{
	for (int i = 0; i < op->cdb_len; i++)
		printf("%s%02x", i ? " " : "", op->usage[i]);
}

static void markdown(void)
{
	size_t n;
	const struct scsi_op *ops = scsi_ops(&n);
	const char *const *names;
	const uint8_t *pages;

	printf("| opcode | service action | command | CDB usage map | condition |\n");
	printf("|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		printf("| 0x%02x | ", ops[i].opcode);
		if (ops[i].service_action >= 0)
			printf("0x%02x", ops[i].service_action);
		printf(" | %s | `", ops[i].name);
		usage_hex(&ops[i]);
		printf("` | %s |\n", ops[i].cond ? ops[i].cond : "");
	}
	pages = scsi_vpd_pages(&n, &names);
	printf("\n| VPD page | name |\n|---|---|\n");
	for (size_t i = 0; i < n; i++)
		printf("| 0x%02x | %s |\n", pages[i], names[i]);
	pages = scsi_mode_pages(&n, &names);
	printf("\n| mode page | name |\n|---|---|\n");
	for (size_t i = 0; i < n; i++)
		printf("| 0x%02x | %s |\n", pages[i], names[i]);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		list();
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--markdown")) {
		markdown();
		return 0;
	}
	fprintf(stderr, "usage: %s --list | --markdown\n", argv[0]);
	return 2;
}
