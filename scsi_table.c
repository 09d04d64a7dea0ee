/*
 * The one table of SCSI commands we accept: it drives dispatch, the CDB
 * field checks, REPORT SUPPORTED OPERATION CODES and the README's table.
 * Usage maps follow SBC-3/SPC-4 CDB layouts; the last byte is CONTROL,
 * of which we take no bit (no NACA, no linking). Our LUNs carry no
 * protection information, so RDPROTECT, WRPROTECT, VRPROTECT and
 * FMTPINFO are not in any map: a non-zero value is refused.
 * Licensed under the Apache License, Version 2.0.
 */
#include "scsi_alua.h"
#include "scsi_defs.h"
#include "scsi_emulate.h"

#define LBA4 0xff, 0xff, 0xff, 0xff
#define LBA8 LBA4, LBA4
#define COND_UNMAP "handler can unmap"

static bool has_unmap(struct tcmur_device *dev)
{
	return scsi_can_unmap(dev);
}

static const struct scsi_op scsi_op_table[] = {
	{ TEST_UNIT_READY, -1, 6, "TEST UNIT READY", scsi_tur, NULL,
	  { 0x00, 0, 0, 0, 0, 0 } },
	{ REQUEST_SENSE, -1, 6, "REQUEST SENSE", scsi_request_sense, NULL,
	  { 0x03, 0x01, 0, 0, 0xff, 0 } },
	{ FORMAT_UNIT, -1, 6, "FORMAT UNIT", scsi_format_unit, NULL,
	  { 0x04, 0x10, 0, 0, 0, 0 } },
	{ READ_6, -1, 6, "READ(6)", scsi_read_write, NULL,
	  { 0x08, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ WRITE_6, -1, 6, "WRITE(6)", scsi_read_write, NULL,
	  { 0x0a, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ INQUIRY, -1, 6, "INQUIRY", scsi_inquiry, NULL,
	  { 0x12, 0x01, 0xff, 0xff, 0xff, 0 } },
	{ MODE_SELECT_6, -1, 6, "MODE SELECT(6)", scsi_mode_select, NULL,
	  { 0x15, 0x11, 0, 0, 0xff, 0 } },
	{ MODE_SENSE_6, -1, 6, "MODE SENSE(6)", scsi_mode_sense, NULL,
	  { 0x1a, 0x08, 0xff, 0xff, 0xff, 0 } },
	{ START_STOP_UNIT, -1, 6, "START STOP UNIT", scsi_start_stop, NULL,
	  { 0x1b, 0x01, 0, 0x0f, 0xf5, 0 } },
	{ PREVENT_ALLOW_MEDIUM_REMOVAL, -1, 6, "PREVENT ALLOW MEDIUM REMOVAL",
	  scsi_prevent_allow, NULL, { 0x1e, 0, 0, 0, 0x03, 0 } },
	{ READ_CAPACITY_10, -1, 10, "READ CAPACITY(10)", scsi_read_capacity_10, NULL,
	  { 0x25, 0, LBA4, 0, 0, 0x01, 0 } },
	/* Byte 1 of READ and WRITE(10/12/16): DPO, FUA and SBC-3's FUA_NV
	 * (bit 1), which asks nothing more of a LUN without a non-volatile
	 * cache; RDPROTECT/WRPROTECT are refused (no protection). */
	{ READ_10, -1, 10, "READ(10)", scsi_read_write, NULL,
	  { 0x28, 0x1a, LBA4, 0x1f, 0xff, 0xff, 0 } },
	{ WRITE_10, -1, 10, "WRITE(10)", scsi_read_write, NULL,
	  { 0x2a, 0x1a, LBA4, 0x1f, 0xff, 0xff, 0 } },
	{ WRITE_VERIFY_10, -1, 10, "WRITE AND VERIFY(10)", scsi_write_verify, NULL,
	  { 0x2e, 0x16, LBA4, 0x1f, 0xff, 0xff, 0 } },
	{ VERIFY_10, -1, 10, "VERIFY(10)", scsi_verify, NULL,
	  { 0x2f, 0x16, LBA4, 0x1f, 0xff, 0xff, 0 } },
	{ PRE_FETCH_10, -1, 10, "PRE-FETCH(10)", scsi_pre_fetch, NULL,
	  { 0x34, 0x02, LBA4, 0x1f, 0xff, 0xff, 0 } },
	{ SYNCHRONIZE_CACHE_10, -1, 10, "SYNCHRONIZE CACHE(10)", scsi_sync_cache, NULL,
	  { 0x35, 0x02, LBA4, 0x1f, 0xff, 0xff, 0 } },
	{ READ_DEFECT_DATA_10, -1, 10, "READ DEFECT DATA(10)", scsi_read_defect_data,
	  NULL, { 0x37, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ WRITE_SAME_10, -1, 10, "WRITE SAME(10)", scsi_write_same, NULL,
	  { 0x41, 0x08, LBA4, 0x1f, 0xff, 0xff, 0 } },
	{ UNMAP, -1, 10, "UNMAP", scsi_unmap, has_unmap,
	  { 0x42, 0, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0 }, COND_UNMAP },
	{ MODE_SELECT_10, -1, 10, "MODE SELECT(10)", scsi_mode_select, NULL,
	  { 0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ MODE_SENSE_10, -1, 10, "MODE SENSE(10)", scsi_mode_sense, NULL,
	  { 0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 } },
	{ EXTENDED_COPY, 0x00, 16, "EXTENDED COPY(LID1)", scsi_xcopy, NULL,
	  { 0x83, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ RECEIVE_COPY_RESULTS, 0x00, 16, "RECEIVE COPY STATUS(LID1)",
	  scsi_receive_copy_status, NULL,
	  { 0x84, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ RECEIVE_COPY_RESULTS, 0x03, 16, "RECEIVE COPY OPERATING PARAMETERS",
	  scsi_receive_copy_results, NULL,
	  { 0x84, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ READ_16, -1, 16, "READ(16)", scsi_read_write, NULL,
	  { 0x88, 0x1a, LBA8, 0xff, 0xff, 0xff, 0xff, 0x1f, 0 } },
	{ COMPARE_AND_WRITE, -1, 16, "COMPARE AND WRITE", scsi_compare_and_write, NULL,
	  { 0x89, 0x18, LBA8, 0, 0, 0, 0xff, 0x1f, 0 } },
	{ WRITE_16, -1, 16, "WRITE(16)", scsi_read_write, NULL,
	  { 0x8a, 0x1a, LBA8, 0xff, 0xff, 0xff, 0xff, 0x1f, 0 } },
	{ WRITE_VERIFY_16, -1, 16, "WRITE AND VERIFY(16)", scsi_write_verify, NULL,
	  { 0x8e, 0x16, LBA8, 0xff, 0xff, 0xff, 0xff, 0x1f, 0 } },
	{ VERIFY_16, -1, 16, "VERIFY(16)", scsi_verify, NULL,
	  { 0x8f, 0x16, LBA8, 0xff, 0xff, 0xff, 0xff, 0x1f, 0 } },
	{ PRE_FETCH_16, -1, 16, "PRE-FETCH(16)", scsi_pre_fetch, NULL,
	  { 0x90, 0x02, LBA8, 0xff, 0xff, 0xff, 0xff, 0x1f, 0 } },
	{ SYNCHRONIZE_CACHE_16, -1, 16, "SYNCHRONIZE CACHE(16)", scsi_sync_cache, NULL,
	  { 0x91, 0x02, LBA8, 0xff, 0xff, 0xff, 0xff, 0x1f, 0 } },
	{ WRITE_SAME_16, -1, 16, "WRITE SAME(16)", scsi_write_same, NULL,
	  { 0x93, 0x09, LBA8, 0xff, 0xff, 0xff, 0xff, 0x1f, 0 } },
	{ SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, 16, "READ CAPACITY(16)",
	  scsi_read_capacity_16, NULL,
	  { 0x9e, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ SERVICE_ACTION_IN_16, SAI_GET_LBA_STATUS, 16, "GET LBA STATUS",
	  scsi_get_lba_status, has_unmap,
	  { 0x9e, 0x1f, LBA8, 0xff, 0xff, 0xff, 0xff, 0, 0 }, COND_UNMAP },
	{ MAINTENANCE_IN, MI_REPORT_TARGET_PGS, 12, "REPORT TARGET PORT GROUPS",
	  scsi_rtpg, alua_enabled,
	  { 0xa3, 0x3f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 },
	  "configfs has ALUA groups" },
	{ MAINTENANCE_OUT, MO_SET_TARGET_PGS, 12, "SET TARGET PORT GROUPS",
	  scsi_stpg, scsi_stpg_supported,
	  { 0xa4, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 },
	  "an ALUA group allows explicit ALUA" },
	{ MAINTENANCE_IN, MI_REPORT_SUPPORTED_OPCODES, 12,
	  "REPORT SUPPORTED OPERATION CODES", scsi_report_opcodes, NULL,
	  { 0xa3, 0x1f, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ READ_12, -1, 12, "READ(12)", scsi_read_write, NULL,
	  { 0xa8, 0x1a, LBA4, 0xff, 0xff, 0xff, 0xff, 0x1f, 0 } },
	{ WRITE_12, -1, 12, "WRITE(12)", scsi_read_write, NULL,
	  { 0xaa, 0x1a, LBA4, 0xff, 0xff, 0xff, 0xff, 0x1f, 0 } },
	{ WRITE_VERIFY_12, -1, 12, "WRITE AND VERIFY(12)", scsi_write_verify, NULL,
	  { 0xae, 0x16, LBA4, 0xff, 0xff, 0xff, 0xff, 0x1f, 0 } },
	{ VERIFY_12, -1, 12, "VERIFY(12)", scsi_verify, NULL,
	  { 0xaf, 0x16, LBA4, 0xff, 0xff, 0xff, 0xff, 0x1f, 0 } },
	{ READ_DEFECT_DATA_12, -1, 12, "READ DEFECT DATA(12)", scsi_read_defect_data,
	  NULL, { 0xb7, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
};

const struct scsi_op *scsi_ops(size_t *count)
{
	*count = sizeof(scsi_op_table) / sizeof(scsi_op_table[0]);
	return scsi_op_table;
}

bool scsi_op_has_sa(uint8_t opcode)
{
	for (size_t i = 0; i < sizeof(scsi_op_table) / sizeof(scsi_op_table[0]); i++)
		if (scsi_op_table[i].opcode == opcode)
			return scsi_op_table[i].service_action >= 0;
	return false;
}

const struct scsi_op *scsi_op_lookup(struct tcmur_device *dev, uint8_t opcode, int sa)
{
	for (size_t i = 0; i < sizeof(scsi_op_table) / sizeof(scsi_op_table[0]); i++) {
		const struct scsi_op *op = &scsi_op_table[i];

		if (op->opcode != opcode)
			continue;
		/* sa -2: any service action of the opcode will do. */
		if (sa != -2 && op->service_action != sa)
			continue;
		if (op->supported && dev && !op->supported(dev))
			continue;
		return op;
	}
	return NULL;
}
