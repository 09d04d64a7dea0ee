/*
 * ALUA target port groups (SPC-4 5.16): read from configfs
 * (alua_groups.c, cached per device) and REPORT / SET TARGET PORT GROUPS
 * (scsi_alua.c).
 *
 * Lock order: the cache's lock is a leaf; nobody sleeps or writes
 * configfs under it. Licensed under the Apache License, Version 2.0.
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
#define ALUA_STATE_ACTIVE_OPTIMIZED 0x0
#define ALUA_STATE_ACTIVE_NONOPTIMIZED 0x1
#define ALUA_STATE_STANDBY 0x2
#define ALUA_STATE_UNAVAILABLE 0x3
#define ALUA_SUP_STANDBY (1u << ALUA_STATE_STANDBY)	/* in alua_group.sup: bit N, state N */
#define ALUA_STATE_TRANSITIONING 0xf
#define ALUA_STATUS_BY_STPG 0x01
#define ALUA_STATUS_BY_IMPLICIT 0x02
/* How long a configfs reading is trusted. An admin's implicit change
 * (targetcli writing alua_access_state) comes with no event, so the cache
 * cannot rely on invalidation alone; a second bounds how stale RTPG can
 * be while commands stop costing ~12 configfs reads per group each. */
#define ALUA_CACHE_TTL_MS 1000

struct alua_group {
	char name[64];
	uint16_t id;
	uint8_t state;		/* asymmetric access state */
	uint8_t type;		/* ALUA_TYPE_* bits: the TPGS field */
	uint8_t sup;		/* supported states, as RTPG's byte 1 */
	uint8_t status;		/* RTPG status code */
	uint8_t trans_secs;	/* implicit transition time */
	uint32_t trans_delay_ms;	/* trans_delay_msecs: the kernel's delay */
	bool pref;
	uint16_t rtpi[ALUA_MAX_PORTS];	/* relative target port ids */
	unsigned int nports;
};

struct alua_cache;

/* alua_groups.c */
int alua_cache_new(struct alua_cache **out);
void alua_cache_free(struct alua_cache *c);
/* Forget what was read: the next look reads configfs again. */
void alua_cache_invalidate(struct alua_cache *c);
/* Up to @max groups of @dev, from the cache; how many (0: no ALUA). */
int alua_groups_read(struct tcmur_device *dev, struct alua_group *out, int max);
/* The first group with ports, for INQUIRY and VPD 0x83; false if none. */
bool alua_port_group(struct tcmur_device *dev, struct alua_group *g);
/* Whether the kernel keeps ALUA groups for @dev (alua_support=1). */
bool alua_enabled(struct tcmur_device *dev);
/* Report group @id as transitioning until alua_group_keep(). */
void alua_group_transitioning(struct tcmur_device *dev, uint16_t id);
/*
 * Group @id is now in @state by SET TARGET PORT GROUPS. @cfg_state is
 * what configfs says meanwhile: the daemon reports @state for as long as
 * configfs still says @cfg_state (an admin's later change wins).
 */
void alua_group_keep(struct tcmur_device *dev, uint16_t id, uint8_t state,
		     uint8_t cfg_state);
/* The configfs write of a group's state (0 or -errno), as an admin's. */
int alua_group_write_state(struct tcmur_device *dev, const char *group, int state);

/* scsi_alua.c */
bool scsi_stpg_supported(struct tcmur_device *dev);
tcmu_sts scsi_rtpg(struct tcmur_device *dev, struct cmd_ctx *ctx);
tcmu_sts scsi_stpg(struct tcmur_device *dev, struct cmd_ctx *ctx);

#endif
