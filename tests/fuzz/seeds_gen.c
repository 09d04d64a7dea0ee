/*
 * seeds_gen: writes the fuzz targets' seed inputs into
 * tests/fuzz/corpus/<target>/ (`make fuzz-seeds`; the output is
 * committed). Maps for fuzz_ring come from the ring simulator, netlink
 * messages from libnl, qcow2 images from qemu-img and qemu-io (a missing
 * tool fails it), CDBs and names are spelled out here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "libtcmu.h"
#include "ring_sim.h"
#include "scsi_defs.h"
#include "tcmu-runner.h"

static const char *root = "tests/fuzz/corpus";

static void put(const char *target, const char *name, const void *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/seed-%s", root, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

/* ---- fuzz_cdb: [dev][iovs][len hi][len lo][CDB][data] ---------------- */

static void cdb_seed(const char *name, uint8_t dev, uint8_t iovs, uint16_t len,
		     const uint8_t *cdb, size_t cdb_len, const uint8_t *data, size_t dlen)
{
	uint8_t buf[512];

	buf[0] = dev;
	buf[1] = iovs;
	buf[2] = len >> 8;
	buf[3] = len;
	memcpy(buf + 4, cdb, cdb_len);
	memcpy(buf + 4 + cdb_len, data, dlen);
	put("fuzz_cdb", name, buf, 4 + cdb_len + dlen);
}

static void cdb_seeds(void)
{
	static const uint8_t inq[6] = { INQUIRY, 0, 0, 0, 0x60, 0 };
	static const uint8_t vpd[6] = { INQUIRY, 1, 0x83, 0, 0xff, 0 };
	static const uint8_t rc16[16] = { SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16,
					  [13] = 32 };
	static const uint8_t rc10[10] = { READ_CAPACITY_10 };
	static const uint8_t ms10[10] = { MODE_SENSE_10, 0x10, 0x3f, 0, 0, 0, 0, 1, 0, 0 };
	static const uint8_t ms6[6] = { MODE_SENSE_6, 0, 0x48, 0, 0xff, 0 };
	static const uint8_t msel6[6] = { MODE_SELECT_6, 0x10, 0, 0, 16, 0 };
	static const uint8_t ctl[16] = { 0, 0, 0, 0, 0x0a, 0x0a, 0x04, 0x10, 0, 0x40,
					 0, 0, 0xff, 0xff, 0, 0 };
	static const uint8_t msel10[10] = { MODE_SELECT_10, 0x10, 0, 0, 0, 0, 0, 0, 28, 0 };
	static const uint8_t bd[28] = { 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 8, 0, 0, 0, 2, 0,
					0x0a, 0x0a, 0, 0x10, 0, 0x40, 0, 0, 0xff, 0xff, 0, 0 };
	static const uint8_t wr10[10] = { WRITE_10, 0x08, 0, 0, 0, 0x10, 0, 0, 2, 0 };
	static const uint8_t rd16[16] = { READ_16, 0, [9] = 1, [13] = 1 };
	static const uint8_t rd6[6] = { READ_6, 0, 0, 4, 0, 0 };
	static const uint8_t wr12[12] = { WRITE_12, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0 };
	static const uint8_t sync16[16] = { SYNCHRONIZE_CACHE_16, 0, [9] = 3, [13] = 8 };
	static const uint8_t rs[6] = { REQUEST_SENSE, 1, 0, 0, 0xfc, 0 };
	static const uint8_t tur[6] = { TEST_UNIT_READY, 0, 0, 0, 0, 0x04 };
	static const uint8_t ssu[6] = { START_STOP_UNIT, 0, 0, 0, 0x03, 0 };
	static const uint8_t var[10] = { VARIABLE_LENGTH_CMD, 0, 0, 0, 0, 0, 0, 2, 0, 0 };
	uint8_t data[256];

	memset(data, 0x5a, sizeof(data));
	cdb_seed("inquiry", 0, 0, 0x60, inq, 6, NULL, 0);
	cdb_seed("inquiry-vpd83", 1, 2, 0xff, vpd, 6, NULL, 0);
	cdb_seed("read-capacity-16", 2, 0, 32, rc16, 16, NULL, 0);
	cdb_seed("read-capacity-10", 1, 1, 8, rc10, 10, NULL, 0);
	cdb_seed("mode-sense-10", 0, 3, 0x100, ms10, 10, NULL, 0);
	cdb_seed("mode-sense-6", 1, 0, 0xff, ms6, 6, NULL, 0);
	cdb_seed("mode-select-6", 0, 0, 16, msel6, 6, ctl, sizeof(ctl));
	cdb_seed("mode-select-10", 0, 1, 28, msel10, 10, bd, sizeof(bd));
	cdb_seed("write-10-fua", 0, 3, 1024, wr10, 10, data, sizeof(data));
	cdb_seed("read-16", 1, 7, 4096, rd16, 16, NULL, 0);
	cdb_seed("read-6", 0, 2, 2048, rd6, 6, NULL, 0);
	cdb_seed("write-12", 1, 1, 4096, wr12, 12, data, sizeof(data));
	cdb_seed("sync-cache-16", 0, 0, 0, sync16, 16, NULL, 0);
	cdb_seed("request-sense", 0, 0, 0xfc, rs, 6, NULL, 0);
	cdb_seed("tur-naca", 2, 0, 0, tur, 6, NULL, 0);
	cdb_seed("start-stop", 0, 0, 0, ssu, 6, NULL, 0);
	cdb_seed("variable", 0, 0, 16, var, 10, NULL, 0);
}

/* ---- fuzz_ring: whole maps from the simulator -------------------------- */

static struct sim_cmd *q(struct ring_sim *sim, uint8_t op, size_t len, unsigned int iovs)
{
	uint8_t cdb[16] = { op, [8] = 1, [13] = 1 };
	struct sim_req req = { .cdb = cdb, .cdb_len = op >> 5 == 4 ? 16 : op >> 5 ? 10 : 6,
			       .data_len = len, .iov_cnt = iovs };
	struct sim_cmd *c = NULL;

	if (ring_sim_queue(sim, &req, &c))
		exit(1);
	return c;
}

static void ring_put(struct ring_sim *sim, const char *name)
{
	put("fuzz_ring", name, ring_sim_map(sim), ring_sim_map_size(sim));
}

/* Take and complete everything queued so far. */
static void drain(struct ring_sim *sim)
{
	struct tcmu_ring *ring;
	struct tcmu_cmd *cmd;

	if (tcmu_ring_new(&ring, ring_sim_fd(sim), ring_sim_map(sim), ring_sim_map_size(sim),
			  0, NULL, "seed"))
		exit(1);
	while ((cmd = tcmu_ring_next(ring, NULL, NULL)))
		tcmu_ring_complete(ring, cmd, 0);
	tcmu_ring_kick(ring);
	ring_sim_reap(sim);
	tcmu_ring_free(ring);
}

static void ring_seeds(void)
{
	struct ring_sim_cfg cfg = { .cmdr_size = 1024, .data_size = 4096 };
	struct ring_sim *sim;
	const struct sim_cmd *ids[2];

	ring_sim_new(&sim, &cfg);
	q(sim, READ_10, 512, 1);
	q(sim, WRITE_16, 1024, 3);
	q(sim, TEST_UNIT_READY, 0, 0);
	ring_put(sim, "three-commands");
	ring_sim_free(sim);

	/* Wrapped: a PAD at the end, tail and head past it. */
	ring_sim_new(&sim, &cfg);
	for (int i = 0; i < 6; i++)
		q(sim, READ_10, 100, 1);
	drain(sim);
	ids[0] = q(sim, READ_10, 200, 2);
	ids[1] = q(sim, WRITE_10, 300, 1);
	ring_sim_queue_tmr(sim, 1, ids, 2);
	q(sim, READ_16, 64, 1);
	ring_put(sim, "wrapped-pad-tmr");
	ring_sim_free(sim);

	/* An entry of unknown type among commands. */
	ring_sim_new(&sim, &cfg);
	q(sim, INQUIRY, 96, 1);
	ring_sim_queue_raw(sim, 5, 40);
	q(sim, MODE_SENSE_10, 256, 2);
	ring_put(sim, "unknown-op");
	ring_sim_free(sim);

	/* A malformed command: iovec outside the data area. */
	ring_sim_new(&sim, &cfg);
	{
		uint8_t cdb[10] = { READ_10 };
		struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data_len = 64,
				       .corrupt = SIM_CORRUPT_IOV_PAST_MAP };
		struct sim_cmd *c;

		ring_sim_queue(sim, &req, &c);
	}
	q(sim, READ_10, 64, 1);
	ring_put(sim, "bad-iov");
	ring_sim_free(sim);
}

/* ---- fuzz_netlink ------------------------------------------------------ */

#include "tcmu_uapi.h"

static void nl_put(const char *name, struct nl_msg *msg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);

	put("fuzz_netlink", name, h, h->nlmsg_len);
	nlmsg_free(msg);
}

static struct nl_msg *nl_msg(int cmd, const char *dev)
{
	struct nl_msg *msg = nlmsg_alloc();

	genlmsg_put(msg, 1, 1, 0x1c, 0, 0, cmd, 2);
	nla_put_string(msg, TCMU_ATTR_DEVICE, dev);
	nla_put_u32(msg, TCMU_ATTR_MINOR, 3);
	nla_put_u32(msg, TCMU_ATTR_DEVICE_ID, 41);
	return msg;
}

static void nl_seeds(void)
{
	struct nl_msg *msg;
	struct nlmsgerr *e;

	nl_put("added", nl_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/1/lun0/file//srv/a.img"));
	nl_put("removed", nl_msg(TCMU_CMD_REMOVED_DEVICE, "tcm-user/1/lun0/file//srv/a.img"));
	msg = nl_msg(TCMU_CMD_RECONFIG_DEVICE, "tcm-user/1/lun0/file//srv/a.img");
	nla_put_string(msg, TCMU_ATTR_DEV_CFG, "file//srv/b.img\n");
	nla_put_u64(msg, TCMU_ATTR_DEV_SIZE, 1 << 30);
	nla_put_u8(msg, TCMU_ATTR_WRITECACHE, 1);
	nl_put("reconfig", msg);
	msg = nlmsg_alloc();
	e = nlmsg_data(nlmsg_put(msg, 0, 0, NLMSG_ERROR, sizeof(*e), 0));
	e->error = -EPERM;
	nl_put("error", msg);
}

/* ---- fuzz_config --------------------------------------------------------- */

static void config_seeds(void)
{
	static const char *s[] = {
		"tcm-user/3/lun0/file//tmp/x.img", "tcm-user/0/d/rbd/pool/img\n",
		"tcm-user/1/lun0/", "/dev/null", "/tmp", "relative/path",
	};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		char name[16];

		snprintf(name, sizeof(name), "%zu", i);
		put("fuzz_config", name, s[i], strlen(s[i]));
	}
}

/* ---- fuzz_qcow2: images from QEMU's tools, small clusters to stay small - */

#define QNEW "qemu-img create -q -f qcow2 -o cluster_size=512 "
#define QIO "qemu-io -c 'write -P 0x5a 0 3k' -c 'write -P 7 600k 1k' "
#define QMAX 16384	/* run.sh's -max_len: a longer seed would be cut */

/* What a seed's image gets by hand after the tools made it. */
enum qcow_touch {
	QT_NONE,
	QT_UNNAME_FMT,	/* backing format extension made unknown: probed */
	QT_REFS_FULL,	/* every refcount table entry names the first block, all
			 * of whose counts are at their maximum: a write walks
			 * the allocator to the table's end and grows it */
};

static const struct qcow_seed {
	const char *name, *sh;
	enum qcow_touch touch;
} qcow_images[] = {
	{ "v3-empty", QNEW "x.qcow2 1M" },
	{ "v3-data", QNEW "x.qcow2 1M && " QIO "x.qcow2" },
	{ "v2-data", QNEW "-o compat=0.10,cluster_size=1024 x.qcow2 1M && " QIO "x.qcow2" },
	{ "v3-zero-discard", QNEW "x.qcow2 1M && " QIO "-c 'write -z 4k 1k' "
	  "-c 'discard 1k 512' x.qcow2" },
	{ "refcount-1-bit", QNEW "-o refcount_bits=1 x.qcow2 1M && " QIO "x.qcow2" },
	{ "refcount-64-bits", QNEW "-o refcount_bits=64 x.qcow2 1M && " QIO "x.qcow2" },
	{ "compressed", "qemu-img create -q -f raw r 8k && qemu-io -f raw -c 'write -P 0x11 0 "
	  "5k' r && qemu-img convert -c -O qcow2 -o cluster_size=512 r x.qcow2" },
	{ "backing-raw", QNEW "-b b.raw -F raw x.qcow2 1M && qemu-io -c 'write 2k 1k' x.qcow2" },
	{ "backing-probe", QNEW "-b b.raw -F raw x.qcow2 1M", QT_UNNAME_FMT },
	{ "backing-self-raw", QNEW "x.qcow2 64k && qemu-img rebase -u -b x.qcow2 -F raw x.qcow2" },
	{ "dirty", QNEW "-o lazy_refcounts=on x.qcow2 1M && " QIO "x.qcow2 && printf '\\001' | "
	  "dd of=x.qcow2 bs=1 seek=79 conv=notrunc status=none" },
	{ "bitmap-autoclear", QNEW "x.qcow2 1M && qemu-img bitmap --add x.qcow2 b0" },
	{ "refcounts-full", QNEW "x.qcow2 1M", QT_REFS_FULL },
	{ "cluster-2m-head", "qemu-img create -q -f qcow2 -o cluster_size=2M x.qcow2 1G && "
	  "truncate -s 4k x.qcow2" },
};

static void qcow_touch(uint8_t *buf, size_t len, enum qcow_touch t)
{
	uint64_t rt = tcmu_get_be64(buf + 48), cl = 1ULL << tcmu_get_be32(buf + 20), blk;

	if (t == QT_UNNAME_FMT) {
		for (size_t i = 0; i + 4 <= len && i < 512; i += 8)
			if (tcmu_get_be32(buf + i) == 0xe2792acau)
				tcmu_put_be32(buf + i, 0x0000f00du);
	} else if (t == QT_REFS_FULL) {
		if (rt + cl > len || (blk = tcmu_get_be64(buf + rt)) + cl > len)
			exit(1);
		memset(buf + blk, 0xff, cl);
		for (uint64_t i = 0; i < cl; i += 8)
			tcmu_put_be64(buf + rt + i, blk);
	}
}

/* Make @s in @dir (which holds b.raw, as fuzz_qcow2's does) and put it. */
static void qcow_seed(const char *dir, const struct qcow_seed *s)
{
	char cmd[1024], path[512];
	uint8_t buf[QMAX + 1];
	size_t len;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "cd '%s' && rm -f x.qcow2 r && %s", dir, s->sh);
	snprintf(path, sizeof(path), "%s/x.qcow2", dir);
	if (system(cmd) != 0 || !(f = fopen(path, "rb"))) {
		fprintf(stderr, "seeds_gen: %s: failed: %s\n", s->name, cmd);
		exit(1);
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (len > QMAX) {
		fprintf(stderr, "seeds_gen: %s: over %d bytes\n", s->name, QMAX);
		exit(1);
	}
	qcow_touch(buf, len, s->touch);
	put("fuzz_qcow2", s->name, buf, len);
}

static void qcow_seeds(void)
{
	char dir[] = "/tmp/seeds-qcow2-XXXXXX", cmd[128];

	if (!mkdtemp(dir))
		exit(1);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f raw '%s/b.raw' 4k", dir);
	if (system(cmd) != 0)
		exit(1);
	for (size_t i = 0; i < sizeof(qcow_images) / sizeof(qcow_images[0]); i++)
		qcow_seed(dir, &qcow_images[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		exit(1);
}

int main(void)
{
	mkdir(root, 0755);
	cdb_seeds();
	ring_seeds();
	nl_seeds();
	config_seeds();
	qcow_seeds();
	return 0;
}
