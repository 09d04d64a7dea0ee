/*
 * tcmu-sim: run a handler plugin without the kernel. The handler is
 * loaded as the daemon loads it (handler_loader.c) and serves a device
 * whose ring is simulated in memory (ring_sim.c): the real device thread,
 * SCSI emulation and I/O threads run, exactly as under LIO.
 *   tcmu-sim check  a correctness pass, one line a case (sim_check.c)
 *   tcmu-sim bench  a closed-loop load at a queue depth (sim_bench.c)
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef TCMU_SIM_H
#define TCMU_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "handler_loader.h"
#include "log.h"
#include "scsi_defs.h"
#include "sim_device.h"

enum sim_rw { SIM_RANDREAD, SIM_RANDWRITE, SIM_READ, SIM_WRITE, SIM_RANDRW };

struct sim_opts {
	const struct handler *h;	/* loaded, validated */
	const char *config;		/* the whole "<subtype>/<cfg>" */
	uint64_t size;			/* bytes */
	uint32_t block_size;
	unsigned int qd;
	/* bench */
	enum sim_rw rw;
	uint32_t bs;			/* bytes per command */
	double seconds;
	uint64_t commands;		/* stop after this many instead (0: time) */
	bool json;
	struct log_cfg *log;
};

/* xorshift64: the same sequence on every run, so a failure repeats. */
static inline uint64_t sim_rand(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* READ(16) or WRITE(16) (@op) of @n blocks at @lba into @cdb (16 bytes). */
static inline void sim_cdb_rw16(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t n, bool fua)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	cdb[1] = fua ? 0x08 : 0;
	tcmu_put_be64(cdb + 2, lba);
	tcmu_put_be32(cdb + 10, n);
}

/* UNMAP of @n blocks at @lba: the CDB (10 bytes) and its parameter list
 * (SIM_UNMAP_PARAM_LEN bytes, one block descriptor). */
#define SIM_UNMAP_PARAM_LEN 24
static inline void sim_cdb_unmap(uint8_t *cdb, uint8_t *param, uint64_t lba, uint32_t n)
{
	memset(cdb, 0, 10);
	memset(param, 0, SIM_UNMAP_PARAM_LEN);
	cdb[0] = UNMAP;
	tcmu_put_be16(cdb + 7, SIM_UNMAP_PARAM_LEN);
	tcmu_put_be16(param, SIM_UNMAP_PARAM_LEN - 2);
	tcmu_put_be16(param + 2, 16);
	tcmu_put_be64(param + 8, lba);
	tcmu_put_be32(param + 16, n);
}

/* A device of @o's handler and config on a fresh simulated ring. */
int sim_open(const struct sim_opts *o, struct sim_dev **out);

/* The correctness pass; prints a line per case and the closing count.
 * Returns the number of failed cases. */
int sim_check(const struct sim_opts *o);
/* The load; prints its figures. 0, or -errno if the device failed. */
int sim_bench(const struct sim_opts *o);

#endif
