/*
 * The SCSI emulation every block handler shares: one table of the
 * commands we accept drives dispatch (and, later, what REPORT SUPPORTED
 * OPERATION CODES reports). Licensed under the Apache License, 2.0.
 */
#ifndef SCSI_EMULATE_H
#define SCSI_EMULATE_H

#include <stddef.h>
#include <stdint.h>

#include "cmd.h"
#include "device.h"

struct scsi_op {
	uint8_t opcode;
	int16_t service_action;		/* -1: the opcode has none */
	uint8_t cdb_len;
	const char *name;
	tcmu_sts (*fn)(struct tcmur_device *dev, struct cmd_ctx *ctx);
	/* NULL, or whether this device takes the command (a handler op). */
	bool (*supported)(struct tcmur_device *dev);
	/*
	 * CDB usage data (SPC-4 6.35.3): a bit is set for each CDB bit we
	 * accept. Dispatch refuses any other bit with INVALID FIELD IN CDB,
	 * and REPORT SUPPORTED OPERATION CODES reports this map, so the two
	 * cannot disagree. usage[0] is the opcode.
	 */
	uint8_t usage[16];
	/* When supported() says yes, in words (the README's condition
	 * column); NULL exactly when supported is NULL. */
	const char *cond;
};

/*
 * Answer @ctx's CDB: a status, or TCMU_STS_ASYNC with ctx->io set when
 * the handler must move data (the caller queues or runs it).
 */
tcmu_sts scsi_emulate(struct tcmur_device *dev, struct cmd_ctx *ctx);

/* The table (scsi_table.c); *count entries. */
const struct scsi_op *scsi_ops(size_t *count);
/* The entry for @opcode / @sa (-1: none) if this device takes it. */
const struct scsi_op *scsi_op_lookup(struct tcmur_device *dev, uint8_t opcode, int sa);
/* Whether @op has service actions at all. */
bool scsi_op_has_sa(uint8_t opcode);

/* Copy @len bytes of response to the data-in buffer, at most @alloc_len,
 * and zero the rest of the buffer. */
void scsi_respond(struct cmd_ctx *ctx, const void *buf, size_t len, size_t alloc_len);

/*
 * The kernel hands TCMU the initiator's buffer without comparing it with
 * the CDB (passthrough parsing): every command that moves data checks it
 * here, as target_cmd_size_check() does for LIO's own backends.
 */
enum scsi_xfer {
	SCSI_XFER_IN,		/* data-in of any command */
	SCSI_XFER_OUT_DATA,	/* data-out sized by the CDB's blocks (data CDB) */
	SCSI_XFER_OUT_PARAM,	/* data-out parameter list (control CDB) */
};

/*
 * Check @ctx's data buffer against the @want bytes its CDB transfers.
 * SCSI_XFER_OUT_DATA: any other length is CHECK CONDITION, ILLEGAL
 * REQUEST, INVALID FIELD IN COMMAND INFORMATION UNIT.
 * SCSI_XFER_OUT_PARAM: less than @want is INVALID FIELD IN CDB; more is
 * fine, and the command reads only @want bytes of it.
 * SCSI_XFER_IN: always GOOD. The data-in is min(@want, buffer) bytes,
 * reported as READ_LEN so that the initiator sees the residual; the
 * buffer past it is zeroed now, and the command must write no further.
 */
tcmu_sts scsi_xfer_check(struct cmd_ctx *ctx, enum scsi_xfer xfer, uint64_t want);

/* Emulated commands, by file. */
/* scsi_emulate.c */
tcmu_sts scsi_tur(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_request_sense(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_read_write(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_sync_cache(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_read_capacity_10(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_read_capacity_16(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_start_stop(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_prevent_allow(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_pre_fetch(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_read_defect_data(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_format_unit(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* scsi_inquiry.c */
tcmu_sts scsi_inquiry(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* @dev's NAA designator (16 bytes), as VPD 0x83 reports it; false when
 * @dev has no unit serial (yet), and so no NAA designator. */
bool scsi_dev_naa(struct tcmur_device *dev, uint8_t *naa);
/* The VPD pages we answer, with their names; *count of them. */
const uint8_t *scsi_vpd_pages(size_t *count, const char *const **names);
/* scsi_mode.c */
tcmu_sts scsi_mode_sense(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_mode_select(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* The mode pages we answer, with their names; *count of them. */
const uint8_t *scsi_mode_pages(size_t *count, const char *const **names);
/* scsi_verify.c */
tcmu_sts scsi_verify(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_write_verify(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_compare_and_write(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* The most blocks COMPARE AND WRITE takes (VPD 0xB0): its data-out is
 * twice that, and must fit one transfer. */
uint32_t scsi_caw_max_blocks(struct tcmur_device *dev);
/* scsi_provision.c */
tcmu_sts scsi_unmap(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_write_same(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_get_lba_status(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* WRITE SAME or COMPARE AND WRITE (@io) as one call of the handler's own
 * operation (API 1.4), if it has one: routes @ctx to it (offset, len and
 * pub.fua set first; a flush after it if the handler cannot FUA) and
 * returns true. False: the daemon emulates the command. */
bool scsi_handler_op(struct tcmur_device *dev, struct cmd_ctx *ctx, enum cmd_io io);
bool scsi_can_unmap(struct tcmur_device *dev);
/* Unmapped blocks read back as zeros (the handler's unmap_zeroes). */
bool scsi_unmap_zeroes(struct tcmur_device *dev);
/* scsi_xcopy.c */
tcmu_sts scsi_xcopy(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_receive_copy_status(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_receive_copy_results(struct tcmur_device *dev, struct cmd_ctx *ctx);
size_t scsi_vpd_third_party_copy(struct tcmur_device *dev, uint8_t *buf);
/* scsi_opcodes.c */
tcmu_sts scsi_report_opcodes(struct tcmur_device *dev, struct cmd_ctx *ctx);

/*
 * Limits we report in VPD 0xB0 and hold commands to: ones an initiator
 * can act on. WRITE SAME: 65535 blocks, the most Linux's SCSI layer puts
 * in one command on tcm_loop, so that what it unmaps at the maximum it
 * can read back in one command too. UNMAP: 1M blocks in all, what the
 * kernel's own backends stay under and conformance suites accept.
 */
#define SCSI_MAX_CAW_BLOCKS 128
#define SCSI_MAX_UNMAP_LBAS 0x100000u
#define SCSI_MAX_UNMAP_DESCS 256u
#define SCSI_MAX_WRITE_SAME_BLOCKS 0xffffu

/* LBA range check: ILLEGAL REQUEST, LBA OUT OF RANGE with the LBA in
 * INFORMATION unless [lba, lba + n) is within @num_lbas. */
tcmu_sts scsi_check_range(struct cmd_ctx *ctx, uint64_t lba, uint64_t n,
			  uint64_t num_lbas);

/* Snapshot of what the emulation reports about a device. */
struct scsi_geometry {
	uint64_t num_lbas;
	uint32_t block_size;
	bool write_cache;
	bool d_sense;
	bool tas;		/* control mode page TAS (emulate_tas) */
	bool can_unmap;
	bool unmap_zeroes;		/* LBPRZ */
	uint8_t phys_exp;		/* 2^phys_exp logical blocks per physical */
};
void scsi_geometry(struct tcmur_device *dev, struct scsi_geometry *g);

#endif
