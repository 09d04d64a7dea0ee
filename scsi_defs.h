/*
 * SCSI constants the daemon and handlers share: operation codes, status,
 * sense keys and additional sense codes (ASC << 8 | ASCQ), from SPC-4 and
 * SBC-3. Licensed under the Apache License, Version 2.0.
 */
#ifndef SCSI_DEFS_H
#define SCSI_DEFS_H

/* Status (SAM-5) */
#define SAM_STAT_GOOD			0x00
#define SAM_STAT_CHECK_CONDITION	0x02
#define SAM_STAT_CONDITION_MET		0x04
#define SAM_STAT_BUSY			0x08
#define SAM_STAT_RESERVATION_CONFLICT	0x18
#define SAM_STAT_TASK_SET_FULL		0x28
#define SAM_STAT_TASK_ABORTED		0x40

/* Operation codes */
#define TEST_UNIT_READY			0x00
#define REQUEST_SENSE			0x03
#define FORMAT_UNIT			0x04
#define READ_6				0x08
#define WRITE_6				0x0a
#define INQUIRY				0x12
#define MODE_SELECT_6			0x15
#define MODE_SENSE_6			0x1a
#define START_STOP_UNIT			0x1b
#define RECEIVE_DIAGNOSTIC		0x1c
#define SEND_DIAGNOSTIC			0x1d
#define PREVENT_ALLOW_MEDIUM_REMOVAL	0x1e
#define READ_CAPACITY_10		0x25
#define READ_10				0x28
#define WRITE_10			0x2a
#define WRITE_VERIFY_10			0x2e
#define VERIFY_10			0x2f
#define PRE_FETCH_10			0x34
#define SYNCHRONIZE_CACHE_10		0x35
#define READ_DEFECT_DATA_10		0x37
#define WRITE_BUFFER			0x3b
#define READ_BUFFER			0x3c
#define WRITE_SAME_10			0x41
#define UNMAP				0x42
#define LOG_SENSE			0x4d
#define MODE_SELECT_10			0x55
#define MODE_SENSE_10			0x5a
#define PERSISTENT_RESERVE_IN		0x5e
#define PERSISTENT_RESERVE_OUT		0x5f
#define VARIABLE_LENGTH_CMD		0x7f
#define EXTENDED_COPY			0x83
#define RECEIVE_COPY_RESULTS		0x84
#define READ_16				0x88
#define COMPARE_AND_WRITE		0x89
#define WRITE_16			0x8a
#define WRITE_VERIFY_16			0x8e
#define VERIFY_16			0x8f
#define PRE_FETCH_16			0x90
#define SYNCHRONIZE_CACHE_16		0x91
#define WRITE_SAME_16			0x93
#define SERVICE_ACTION_IN_16		0x9e
#define REPORT_LUNS			0xa0
#define MAINTENANCE_IN			0xa3
#define MAINTENANCE_OUT			0xa4
#define READ_12				0xa8
#define WRITE_12			0xaa
#define WRITE_VERIFY_12			0xae
#define VERIFY_12			0xaf
#define READ_DEFECT_DATA_12		0xb7

/* Service actions */
#define SAI_READ_CAPACITY_16		0x10
#define SAI_GET_LBA_STATUS		0x12
#define MI_REPORT_TARGET_PGS		0x0a
#define MI_REPORT_SUPPORTED_OPCODES	0x0c
#define MO_SET_TARGET_PGS		0x0a

/* Sense keys */
#define SENSE_NO_SENSE			0x0
#define SENSE_RECOVERED_ERROR		0x1
#define SENSE_NOT_READY			0x2
#define SENSE_MEDIUM_ERROR		0x3
#define SENSE_HARDWARE_ERROR		0x4
#define SENSE_ILLEGAL_REQUEST		0x5
#define SENSE_UNIT_ATTENTION		0x6
#define SENSE_DATA_PROTECT		0x7
#define SENSE_COPY_ABORTED		0xa
#define SENSE_ABORTED_COMMAND		0xb
#define SENSE_MISCOMPARE		0xe

/* Additional sense code and qualifier, as ASC << 8 | ASCQ */
#define ASC_NONE				0x0000
#define ASC_WRITE_ERROR				0x0c00
#define ASC_INVALID_FIELD_IN_COMMAND_IU		0x0e03
#define ASC_READ_ERROR				0x1100
#define ASC_MISCOMPARE_DURING_VERIFY		0x1d00
#define ASC_PARAMETER_LIST_LENGTH_ERROR		0x1a00
#define ASC_INVALID_COMMAND_OPERATION_CODE	0x2000
#define ASC_LBA_OUT_OF_RANGE			0x2100
#define ASC_INVALID_FIELD_IN_CDB		0x2400
#define ASC_LUN_NOT_SUPPORTED			0x2500
#define ASC_INVALID_FIELD_IN_PARAMETER_LIST	0x2600
#define ASC_SAVING_PARAMETERS_NOT_SUPPORTED	0x3900
#define ASC_CAPACITY_DATA_HAS_CHANGED		0x2a09
#define ASC_INTERNAL_TARGET_FAILURE		0x4400
#define ASC_MEDIUM_NOT_PRESENT			0x3a00
#define ASC_LOGICAL_UNIT_NOT_READY		0x0400
#define ASC_BECOMING_READY			0x0401
#define ASC_NOT_READY_MANUAL_INTERVENTION	0x0403
#define ASC_POWER_ON_RESET			0x2900
#define ASC_LOGICAL_UNIT_COMM_FAILURE		0x0800
#define ASC_SPACE_ALLOC_FAILED_WRITE_PROTECT	0x2707
#define ASC_WRITE_PROTECTED			0x2700
#define ASC_MEDIUM_MAY_HAVE_CHANGED		0x2800
#define ASC_MODE_PARAMETERS_CHANGED		0x2a01

/* Fixed sense format is 18 bytes; descriptor format starts at 8. */
#define SENSE_FIXED_LEN			18
#define SENSE_DESC_HDR_LEN		8

#endif
