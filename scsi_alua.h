/*
 * ALUA target port groups as configfs holds them (scsi_alua.c).
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef SCSI_ALUA_H
#define SCSI_ALUA_H

#include <stdbool.h>
#include <stdint.h>

#include "cmd.h"
#include "device.h"

#define ALUA_MAX_GROUPS 16
#define ALUA_MAX_PORTS 32
#define ALUA_TYPE_IMPLICIT 0x1
#define ALUA_TYPE_EXPLICIT 0x2
#define ALUA_STATE_UNAVAILABLE 0x3

struct alua_group {
	char name[64];
	uint16_t id;
	uint8_t state;		/* asymmetric access state */
	uint8_t type;		/* ALUA_TYPE_* bits: the TPGS field */
	uint8_t sup;		/* supported states, as RTPG's byte 1 */
	uint8_t status;		/* RTPG status code */
	uint8_t trans_secs;	/* implicit transition time */
	bool pref;
	uint16_t rtpi[ALUA_MAX_PORTS];	/* relative target port ids */
	unsigned int nports;
};

/* Read up to @max groups of @dev; returns how many (0: no ALUA). */
int alua_groups_read(struct tcmur_device *dev, struct alua_group *out, int max);
/* The first group with ports, for INQUIRY and VPD 0x83; false if none. */
bool alua_port_group(struct tcmur_device *dev, struct alua_group *g);
/* Whether the kernel keeps ALUA groups for @dev (alua_support=1). */
bool alua_enabled(struct tcmur_device *dev);
bool scsi_stpg_supported(struct tcmur_device *dev);

tcmu_sts scsi_rtpg(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_stpg(struct tcmur_device *dev, struct cmd_ctx *ctx);

#endif
