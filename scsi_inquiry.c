/*
 * INQUIRY: standard data and the vital product data pages (SPC-4 6.6,
 * 7.8; SBC-3 6.6). Identifiers match what the kernel itself would report
 * for the same LUN, so multipath sees one device whichever answers.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include "scsi_alua.h"
#include "scsi_defs.h"
#include "scsi_emulate.h"

#define INQ_VENDOR "LIO-ORG"
#define INQ_PRODUCT "TCMU device"
#define INQ_REVISION "0002"
/* The kernel's default IEEE company id for NAA designators. */
#define LIO_COMPANY_ID 0x001405

/* A VPD page is at most this long here. */
#define VPD_BUF_LEN 512

static const uint8_t vpd_supported[] = { 0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2 };
static const char *const vpd_names[] = {
	"Supported VPD pages", "Unit serial number", "Device identification",
	"Extended INQUIRY data (SIMPSUP; V_SUP with the write cache)",
	"Third-party copy (EXTENDED COPY LID1)",
	"Block limits", "Block device characteristics", "Logical block provisioning",
};

const uint8_t *scsi_vpd_pages(size_t *count, const char *const **names)
{
	*count = sizeof(vpd_supported);
	*names = vpd_names;
	return vpd_supported;
}

static void pad_copy(uint8_t *dst, const char *src, size_t len)
{
	size_t n = strlen(src);

	memset(dst, ' ', len);
	memcpy(dst, src, n < len ? n : len);
}

/* The unit serial from configfs; targetcli writes it after enabling the
 * device, so it is looked up until found, not only at open. Once found
 * it is kept: the NAA designator made from it never changes. "" while
 * there is none (a device made by hand in configfs). */
static void unit_serial(struct tcmur_device *dev, char *buf, size_t len)
{
	char raw[256];
	const char *p;

	pthread_mutex_lock(&dev->state_lock);
	snprintf(buf, len, "%s", dev->unit_serial);
	pthread_mutex_unlock(&dev->state_lock);
	if (buf[0])
		return;
	/* Read with no lock held: the attribute may block while the kernel
	 * removes the LUN, and that removal needs the main loop. */
	if (tcmu_cfgfs_read_str(&dev->info, dev_cfgfs_root(dev), "wwn/vpd_unit_serial",
				raw, sizeof(raw)))
		return;
	p = strrchr(raw, ':');
	p = p ? p + 1 : raw;
	while (*p == ' ')
		p++;
	pthread_mutex_lock(&dev->state_lock);
	if (!dev->unit_serial[0])
		snprintf(dev->unit_serial, sizeof(dev->unit_serial), "%.127s", p);
	snprintf(buf, len, "%s", dev->unit_serial);
	pthread_mutex_unlock(&dev->state_lock);
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* NAA 6 (IEEE Registered Extended): company id, then 25 hex digits of
 * the unit serial, as the kernel derives it (spc_gen_naa_6h_vendor_specific). */
static void naa_from_serial(uint8_t *naa, const char *serial)
{
	int off = 3;
	bool low = true;

	memset(naa, 0, 16);
	naa[0] = 0x60 | ((LIO_COMPANY_ID >> 20) & 0xf);
	naa[1] = (LIO_COMPANY_ID >> 12) & 0xff;
	naa[2] = (LIO_COMPANY_ID >> 4) & 0xff;
	naa[3] = (LIO_COMPANY_ID & 0xf) << 4;
	for (const char *p = serial; *p && off < 16; p++) {
		int v = hex_val(*p);

		if (v < 0)
			continue;
		if (low) {
			naa[off++] |= v;
		} else {
			naa[off] = v << 4;
		}
		low = !low;
	}
}

bool scsi_dev_naa(struct tcmur_device *dev, uint8_t *naa)
{
	char serial[128];

	unit_serial(dev, serial, sizeof(serial));
	if (!serial[0])
		return false;
	naa_from_serial(naa, serial);
	return true;
}

static size_t vpd_00(uint8_t *buf)
{
	memcpy(buf + 4, vpd_supported, sizeof(vpd_supported));
	return 4 + sizeof(vpd_supported);
}

static size_t vpd_80(struct tcmur_device *dev, uint8_t *buf)
{
	char serial[128];
	size_t n;

	unit_serial(dev, serial, sizeof(serial));
	n = strlen(serial);
	memcpy(buf + 4, serial, n);
	return 4 + n;
}

/*
 * Target port designators (association 01b, PIV set): the relative port
 * and the target port group, so that multipath can match RTPG's answer.
 * We cannot tell the port a command came through: a LUN behind one
 * port (or one group) gets exact answers, more get the first group's.
 */
static size_t vpd_83_ports(struct tcmur_device *dev, uint8_t *buf, size_t off)
{
	struct alua_group g;

	if (!alua_port_group(dev, &g))
		return off;
	if (g.nports == 1) {
		buf[off] = 0x01;
		buf[off + 1] = 0x94;		/* PIV, target port, relative port */
		buf[off + 3] = 4;
		tcmu_put_be16(buf + off + 6, g.rtpi[0]);
		off += 8;
	}
	buf[off] = 0x01;
	buf[off + 1] = 0x95;			/* PIV, target port, port group */
	buf[off + 3] = 4;
	tcmu_put_be16(buf + off + 6, g.id);
	return off + 8;
}

/*
 * Without a unit serial there is nothing unique to name the LUN by: like
 * the kernel (spc_emulate_evpd_83), report no NAA designator, and no T10
 * vendor id designator either, which would read "LIO-ORG " alone for
 * every such LUN. Multipath then finds no identifier and leaves the LUN
 * alone instead of merging different LUNs, and EXTENDED COPY cannot name
 * it (dev_registry skips it).
 */
static size_t vpd_83(struct tcmur_device *dev, uint8_t *buf)
{
	char serial[128];
	size_t off = 4, n;

	unit_serial(dev, serial, sizeof(serial));
	if (!serial[0])
		return vpd_83_ports(dev, buf, off);
	/* NAA designator: binary code set, logical unit association. */
	buf[off] = 0x01;
	buf[off + 1] = 0x03;
	buf[off + 3] = 16;
	naa_from_serial(buf + off + 4, serial);
	off += 20;
	/* T10 vendor id designator: ASCII, "LIO-ORG " then the serial. */
	n = strlen(serial);
	buf[off] = 0x02;
	buf[off + 1] = 0x01;
	buf[off + 3] = 8 + n;
	pad_copy(buf + off + 4, INQ_VENDOR, 8);
	memcpy(buf + off + 12, serial, n);
	off += 12 + n;
	return vpd_83_ports(dev, buf, off);
}

/*
 * Extended INQUIRY Data (SPC-4 7.8.7), only what holds for a LUN behind
 * TCMU. No protection information (PROTECT is 0): SPT and the checks 0.
 * Task attributes: the kernel's target core leaves a user backstore's
 * commands in the order they come (tcmu_ops has
 * TRANSPORT_FLAG_PASSTHROUGH, so target_handle_task_attr returns before
 * holding any back) and the ring carries no attribute, so every command
 * runs as SIMPLE whatever it was sent with, possibly reordered (the
 * control page allows unrestricted reordering): SIMPSUP alone, HEADSUP
 * and ORDSUP 0. V_SUP while there is a volatile write cache, as the
 * caching page's WCE; NV_SUP 0.
 * LUICLR 0: SPC-4 wants it set, but it would promise that a REPORTED
 * LUNS DATA HAS CHANGED unit attention is cleared on every LUN of the
 * I_T nexus once reported on one, and that condition is the kernel's
 * (target_core_ua.c), which clears it per LUN.
 */
static size_t vpd_86(struct tcmur_device *dev, uint8_t *buf)
{
	struct scsi_geometry g;

	scsi_geometry(dev, &g);
	buf[5] = 0x01;				/* SIMPSUP */
	if (g.write_cache)
		buf[6] = 0x01;			/* V_SUP */
	return 64;
}

static size_t vpd_b0(struct tcmur_device *dev, uint8_t *buf)
{
	struct scsi_geometry g;
	uint32_t max_xfer;

	pthread_mutex_lock(&dev->state_lock);
	max_xfer = dev->max_xfer_blocks;
	pthread_mutex_unlock(&dev->state_lock);
	scsi_geometry(dev, &g);
	buf[4] = 0x01;				/* WSNZ */
	buf[5] = scsi_caw_max_blocks(dev);
	tcmu_put_be16(buf + 6, 1u << g.phys_exp);	/* optimal granularity */
	tcmu_put_be32(buf + 8, max_xfer);	/* maximum transfer length */
	tcmu_put_be32(buf + 12, max_xfer);	/* optimal transfer length */
	if (g.can_unmap) {
		tcmu_put_be32(buf + 20, SCSI_MAX_UNMAP_LBAS);
		tcmu_put_be32(buf + 24, SCSI_MAX_UNMAP_DESCS);
		/* Holes are punched in pages: 4 KiB is what really frees. */
		tcmu_put_be32(buf + 28, g.block_size < 4096 ? 4096 / g.block_size : 1);
	}
	tcmu_put_be64(buf + 36, SCSI_MAX_WRITE_SAME_BLOCKS);
	return 64;
}

/* MEDIUM ROTATION RATE: what the handler knows of its backing store;
 * 0 (not reported) from a handler that does not say, or whose table
 * (API < 1.2) ends before the field. */
static size_t vpd_b1(struct tcmur_device *dev, uint8_t *buf)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	size_t need = offsetof(struct tcmur_handler, rotation_rate) +
		      sizeof(h->rotation_rate);

	if (h->struct_size >= need && h->rotation_rate)
		tcmu_put_be16(buf + 4, h->rotation_rate(dev));
	return 64;
}

static size_t vpd_b2(struct tcmur_device *dev, uint8_t *buf)
{
	struct scsi_geometry g;

	scsi_geometry(dev, &g);
	if (g.can_unmap) {
		/* LBPU, LBPWS, LBPWS10; LBPRZ 001b when unmapped reads zeros */
		buf[5] = 0x80 | 0x40 | 0x20 | (g.unmap_zeroes ? 0x04 : 0);
		buf[6] = 0x02;		/* thin provisioned */
	}
	return 8;
}

static tcmu_sts inquiry_vpd(struct tcmur_device *dev, struct cmd_ctx *ctx,
			    size_t alloc_len)
{
	uint8_t buf[VPD_BUF_LEN] = { 0 };
	uint8_t page = ctx->pub.cdb[2];
	size_t len;

	switch (page) {
	case 0x00:
		len = vpd_00(buf);
		break;
	case 0x80:
		len = vpd_80(dev, buf);
		break;
	case 0x83:
		len = vpd_83(dev, buf);
		break;
	case 0x86:
		len = vpd_86(dev, buf);
		break;
	case 0x8f:
		len = scsi_vpd_third_party_copy(dev, buf);
		break;
	case 0xb0:
		len = vpd_b0(dev, buf);
		break;
	case 0xb1:
		len = vpd_b1(dev, buf);
		break;
	case 0xb2:
		len = vpd_b2(dev, buf);
		break;
	default:
		return tcmur_cmd_invalid_cdb(&ctx->pub, 2, -1);
	}
	buf[1] = page;
	tcmu_put_be16(buf + 2, len - 4);
	scsi_respond(ctx, buf, len, alloc_len);
	return TCMU_STS_GOOD;
}

static tcmu_sts inquiry_std(struct tcmur_device *dev, struct cmd_ctx *ctx,
			    size_t alloc_len)
{
	uint8_t buf[66] = { 0 };
	struct alua_group g;

	buf[0] = 0x00;			/* connected direct-access block device */
	buf[2] = 0x06;			/* SPC-4 */
	buf[3] = 0x02;			/* response data format 2 */
	buf[4] = sizeof(buf) - 5;
	/* TPGS: the ALUA modes of our port's group (implicit, explicit). */
	if (alua_port_group(dev, &g))
		buf[5] = g.type << 4;
	buf[5] |= 0x08;			/* 3PC: EXTENDED COPY */
	buf[7] = 0x02;			/* CMDQUE */
	pad_copy(buf + 8, INQ_VENDOR, 8);
	pad_copy(buf + 16, INQ_PRODUCT, 16);
	pad_copy(buf + 32, INQ_REVISION, 4);
	/* Version descriptors: SAM-5, SPC-4, SBC-3. */
	tcmu_put_be16(buf + 58, 0x00a0);
	tcmu_put_be16(buf + 60, 0x0460);
	tcmu_put_be16(buf + 62, 0x04c0);
	scsi_respond(ctx, buf, sizeof(buf), alloc_len);
	return TCMU_STS_GOOD;
}

tcmu_sts scsi_inquiry(struct tcmur_device *dev, struct cmd_ctx *ctx)
{
	const uint8_t *cdb = ctx->pub.cdb;
	size_t alloc_len = tcmu_get_be16(cdb + 3);

	/* CMDDT is obsolete (SPC-4 6.6.1): reject it. */
	if (cdb[1] & 0x02)
		return tcmur_cmd_invalid_cdb(&ctx->pub, 1, 1);
	if (cdb[1] & 0x01)
		return inquiry_vpd(dev, ctx, alloc_len);
	if (cdb[2])
		return tcmur_cmd_invalid_cdb(&ctx->pub, 2, -1);
	return inquiry_std(dev, ctx, alloc_len);
}
