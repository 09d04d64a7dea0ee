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
};

/*
 * Answer @ctx's CDB: a status, or TCMU_STS_ASYNC with ctx->io set when
 * the handler must move data (the caller queues or runs it).
 */
tcmu_sts scsi_emulate(struct tcmur_device *dev, struct cmd_ctx *ctx);

/* The table, for listings; *count entries. */
const struct scsi_op *scsi_ops(size_t *count);

/* Copy @len bytes of response to the data-in buffer, at most @alloc_len,
 * and zero the rest of the buffer. */
void scsi_respond(struct cmd_ctx *ctx, const void *buf, size_t len, size_t alloc_len);

/* Emulated commands, by file. */
tcmu_sts scsi_inquiry(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_mode_sense(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_mode_select(struct tcmur_device *dev, struct cmd_ctx *ctx);

/* Snapshot of what the emulation reports about a device. */
struct scsi_geometry {
	uint64_t num_lbas;
	uint32_t block_size;
	bool write_cache;
	bool d_sense;
	bool can_unmap;
};
void scsi_geometry(struct tcmur_device *dev, struct scsi_geometry *g);

#endif
