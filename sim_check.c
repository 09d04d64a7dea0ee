/*
 * tcmu-sim check: what a handler must get right, each case one line
 * ("PASS: ..." or "FAIL: ...: why"), then "N passed, N failed".
 *
 * The data cases keep a shadow copy of what was written to the first
 * CHECK_SPAN bytes of the LUN and compare every read with it: random
 * writes of random sizes at the queue depth, with reads of blocks whose
 * writes were acknowledged issued while other commands are in flight;
 * then a full read-back; then the same after closing and opening the
 * device again. Between, an ABORT TASK for commands in flight. Writes in flight never overlap each other or a read in
 * flight, since SCSI leaves their order undefined.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scsi_defs.h"
#include "tcmu_sim.h"

#define CHECK_SPAN (64u << 20)		/* bytes of the LUN the data cases use */
#define CHECK_OPS 2000			/* commands in the random pass */
#define CHECK_MAX_BLOCKS 64		/* blocks per command, at most */
#define CHECK_TIMEOUT_MS 10000

struct check {
	const struct sim_opts *o;
	struct sim_dev *sd;
	uint8_t *shadow;		/* what the LUN must hold */
	uint64_t span;			/* bytes checked */
	uint32_t bs;
	unsigned int passed, failed;
	uint64_t rng;
};

static void result(struct check *ck, bool ok, const char *name, const char *why)
{
	if (ok) {
		printf("PASS: %s\n", name);
		ck->passed++;
	} else {
		printf("FAIL: %s: %s\n", name, why);
		ck->failed++;
	}
	fflush(stdout);
}

static uint64_t rnd(struct check *ck)
{
	return sim_rand(&ck->rng);
}

/* Why @c is not GOOD, or NULL. */
static const char *not_good(const struct sim_cmd *c, char *buf, size_t len)
{
	if (!c)
		return "no answer (timed out or the ring broke)";
	if (c->status == SAM_STAT_GOOD)
		return NULL;
	snprintf(buf, len, "status 0x%02x, sense %x/%02x/%02x", c->status, c->key, c->asc,
		 c->ascq);
	return buf;
}

static struct sim_cmd *run(struct check *ck, const uint8_t *cdb, size_t cdb_len,
			   const void *data, size_t len)
{
	struct sim_req req = { .cdb = cdb, .cdb_len = cdb_len, .data = data, .data_len = len };

	return ring_sim_run(ck->sd->sim, &req, CHECK_TIMEOUT_MS);
}

/* The first byte where @got differs from the shadow at @off, as text. */
static bool same_as_shadow(struct check *ck, const uint8_t *got, uint64_t off, size_t len,
			   char *why, size_t why_len)
{
	const uint8_t *want = ck->shadow + off;

	for (size_t i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			snprintf(why, why_len, "LBA %llu byte %zu reads 0x%02x, 0x%02x was written",
				 (unsigned long long)((off + i) / ck->bs), (size_t)((off + i) % ck->bs),
				 got[i], want[i]);
			return false;
		}
	}
	return true;
}

static void case_identity(struct check *ck)
{
	uint8_t inq[6] = { INQUIRY, 0, 0, 0, 96, 0 }, rc16[16] = { SERVICE_ACTION_IN_16, 0x10 };
	struct sim_cmd *c;
	char why[128];
	const char *bad;

	c = run(ck, inq, sizeof(inq), NULL, 96);
	bad = not_good(c, why, sizeof(why));
	if (!bad && (c->data[0] & 0x1f) != 0)
		bad = "peripheral device type is not a direct-access block device";
	result(ck, !bad, "INQUIRY: a direct-access block device", bad);

	tcmu_put_be32(rc16 + 10, 32);
	c = run(ck, rc16, sizeof(rc16), NULL, 32);
	bad = not_good(c, why, sizeof(why));
	if (!bad && (tcmu_get_be64(c->data) + 1 != ck->o->size / ck->bs ||
		     tcmu_get_be32(c->data + 8) != ck->bs)) {
		snprintf(why, sizeof(why), "%llu blocks of %u bytes, not %llu of %u",
			 (unsigned long long)tcmu_get_be64(c->data) + 1,
			 tcmu_get_be32(c->data + 8),
			 (unsigned long long)(ck->o->size / ck->bs), ck->bs);
		bad = why;
	}
	result(ck, !bad, "READ CAPACITY(16): the size and block size asked for", bad);
}

/* One command of the random pass, while in flight. */
struct flight {
	struct sim_cmd *c;
	uint64_t off, len;
	bool write, after_ack;		/* a read of acknowledged data */
};

static bool overlaps(const struct flight *f, unsigned int n, uint64_t off, uint64_t len)
{
	for (unsigned int i = 0; i < n; i++)
		if (f[i].c && off < f[i].off + f[i].len && f[i].off < off + len)
			return true;
	return false;
}

/* Queue one random command at a free range; false if the ring is full. */
static bool random_queue(struct check *ck, struct flight *f, unsigned int qd, uint8_t *pat,
			 unsigned int *written_ops)
{
	uint64_t nblocks = ck->span / ck->bs, lba, n;
	uint8_t cdb[16];
	struct sim_req req = { .cdb = cdb, .cdb_len = 16 };
	unsigned int slot;
	bool write;

	for (slot = 0; slot < qd && f[slot].c; slot++)
		;
	do {
		n = 1 + rnd(ck) % CHECK_MAX_BLOCKS;
		lba = rnd(ck) % (nblocks - n + 1);
	} while (overlaps(f, qd, lba * ck->bs, n * ck->bs));
	/* Two writes for each read, until reads of written data mean much. */
	write = *written_ops < 8 || rnd(ck) % 3;
	req.data_len = n * ck->bs;
	if (write) {
		for (uint64_t i = 0; i < req.data_len; i++)
			pat[i] = (uint8_t)rnd(ck);
		req.data = pat;
	}
	sim_cdb_rw16(cdb, write ? WRITE_16 : READ_16, lba, n, false);
	if (ring_sim_queue(ck->sd->sim, &req, &f[slot].c))
		return false;
	f[slot].off = lba * ck->bs;
	f[slot].len = req.data_len;
	f[slot].write = write;
	f[slot].after_ack = !write;
	if (write) {
		memcpy(ck->shadow + f[slot].off, pat, req.data_len);
		(*written_ops)++;
	}
	return true;
}

static void case_random(struct check *ck)
{
	unsigned int qd = ck->o->qd, issued = 0, done = 0, reads = 0, written = 0;
	struct flight *f = calloc(qd, sizeof(*f));
	uint8_t *pat = malloc(CHECK_MAX_BLOCKS * ck->bs);
	char why[160] = "", sb[96];
	bool ok = f && pat;

	while (ok && done < CHECK_OPS) {
		while (issued < CHECK_OPS && issued - done < qd &&
		       random_queue(ck, f, qd, pat, &written))
			issued++;
		ring_sim_notify(ck->sd->sim);
		if (ring_sim_wait_any(ck->sd->sim, CHECK_TIMEOUT_MS) < 0) {
			snprintf(why, sizeof(why), "%u commands never answered (or the ring broke)",
				 issued - done);
			ok = false;
			break;
		}
		for (unsigned int i = 0; ok && i < qd; i++) {
			const char *bad;

			if (!f[i].c || !f[i].c->done)
				continue;
			bad = not_good(f[i].c, sb, sizeof(sb));
			if (bad) {
				snprintf(why, sizeof(why), "%s at LBA %llu: %s",
					 f[i].write ? "WRITE" : "READ",
					 (unsigned long long)(f[i].off / ck->bs), bad);
				ok = false;
			} else if (!f[i].write) {
				ok = same_as_shadow(ck, f[i].c->data, f[i].off, f[i].len, why,
						    sizeof(why));
				reads++;
			}
			ring_sim_cmd_free(ck->sd->sim, f[i].c);
			f[i].c = NULL;
			done++;
		}
	}
	if (ok && !reads) {
		snprintf(why, sizeof(why), "no read was checked");
		ok = false;
	}
	result(ck, ok, "random writes of random sizes at the queue depth; reads of "
		       "acknowledged writes, with others in flight, return them", why);
	/* A failed pass leaves commands in flight: wait them out. */
	ring_sim_wait(ck->sd->sim, NULL, CHECK_TIMEOUT_MS);
	free(pat);
	free(f);
}

/* Read back the whole checked span and compare with the shadow. */
static bool read_back(struct check *ck, char *why, size_t why_len)
{
	uint64_t chunk = 1 << 20;
	uint8_t cdb[16];
	char sb[96];

	for (uint64_t off = 0; off < ck->span; off += chunk) {
		uint64_t len = ck->span - off < chunk ? ck->span - off : chunk;
		struct sim_cmd *c;
		const char *bad;
		bool same;

		sim_cdb_rw16(cdb, READ_16, off / ck->bs, len / ck->bs, false);
		c = run(ck, cdb, 16, NULL, len);
		bad = not_good(c, sb, sizeof(sb));
		if (bad) {
			snprintf(why, why_len, "READ at LBA %llu: %s",
				 (unsigned long long)(off / ck->bs), bad);
			return false;
		}
		same = same_as_shadow(ck, c->data, off, len, why, why_len);
		ring_sim_cmd_free(ck->sd->sim, c);
		if (!same)
			return false;
	}
	return true;
}

static void case_read_back(struct check *ck)
{
	char why[160] = "";
	bool ok = read_back(ck, why, sizeof(why));

	result(ck, ok, "every block written reads back as written", why);
}

static void case_stable(struct check *ck)
{
	uint8_t cdb[16], sync[10] = { SYNCHRONIZE_CACHE_10 }, *pat = malloc(8 * ck->bs);
	struct sim_cmd *c;
	char why[160] = "", sb[96];
	const char *bad = pat ? NULL : "no memory";

	for (uint32_t i = 0; pat && i < 8 * ck->bs; i++)
		pat[i] = (uint8_t)rnd(ck);
	if (!bad) {
		sim_cdb_rw16(cdb, WRITE_16, 16, 8, true);
		c = run(ck, cdb, 16, pat, 8 * ck->bs);
		bad = not_good(c, sb, sizeof(sb));
		if (!bad)
			memcpy(ck->shadow + 16 * ck->bs, pat, 8 * ck->bs);
	}
	if (!bad) {
		c = run(ck, sync, sizeof(sync), NULL, 0);
		bad = not_good(c, sb, sizeof(sb));
	}
	if (!bad && !read_back(ck, why, sizeof(why)))
		bad = why;
	result(ck, !bad, "WRITE(16) FUA and SYNCHRONIZE CACHE: GOOD, data read back", bad);
	free(pat);
}

/* READ CAPACITY(16)'s LBPME and LBPRZ bits. */
static void thin_bits(struct check *ck, bool *lbpme, bool *lbprz)
{
	uint8_t rc16[16] = { SERVICE_ACTION_IN_16, 0x10 };
	struct sim_cmd *c;

	tcmu_put_be32(rc16 + 10, 32);
	c = run(ck, rc16, sizeof(rc16), NULL, 32);
	*lbpme = c && c->status == SAM_STAT_GOOD && (c->data[14] & 0x80);
	*lbprz = c && c->status == SAM_STAT_GOOD && (c->data[14] & 0x40);
}

static void case_unmap(struct check *ck)
{
	uint8_t cdb[10], param[SIM_UNMAP_PARAM_LEN];
	uint64_t lba = 256, n = 64;
	bool lbpme, lbprz;
	struct sim_cmd *c;
	char why[160] = "", sb[96];
	const char *bad;

	thin_bits(ck, &lbpme, &lbprz);
	if (!lbpme) {
		printf("SKIP: UNMAP (the handler cannot unmap here)\n");
		return;
	}
	sim_cdb_unmap(cdb, param, lba, n);
	c = run(ck, cdb, sizeof(cdb), param, sizeof(param));
	bad = not_good(c, sb, sizeof(sb));
	if (!bad && lbprz) {
		memset(ck->shadow + lba * ck->bs, 0, n * ck->bs);
		if (!read_back(ck, why, sizeof(why)))
			bad = why;
	}
	result(ck, !bad, lbprz ? "UNMAP: GOOD, and the blocks read back as zeros (LBPRZ)"
			       : "UNMAP: GOOD (no LBPRZ: contents left undefined)", bad);
	if (!lbprz) {		/* put known data back for the later cases */
		uint8_t w[16];

		memset(ck->shadow + lba * ck->bs, 0, n * ck->bs);
		sim_cdb_rw16(w, WRITE_16, lba, n, false);
		ring_sim_cmd_free(ck->sd->sim, run(ck, w, 16, ck->shadow + lba * ck->bs,
						   n * ck->bs));
	}
}

static void case_write_same(struct check *ck)
{
	uint8_t cdb[16] = { WRITE_SAME_16 }, *blk = malloc(ck->bs);
	uint64_t lba = 512, n = 32;
	struct sim_cmd *c;
	char why[160] = "", sb[96];
	const char *bad = blk ? NULL : "no memory";

	for (uint32_t i = 0; blk && i < ck->bs; i++)
		blk[i] = (uint8_t)rnd(ck);
	tcmu_put_be64(cdb + 2, lba);
	tcmu_put_be32(cdb + 10, n);
	if (!bad) {
		c = run(ck, cdb, sizeof(cdb), blk, ck->bs);
		bad = not_good(c, sb, sizeof(sb));
	}
	for (uint64_t i = 0; !bad && i < n; i++)
		memcpy(ck->shadow + (lba + i) * ck->bs, blk, ck->bs);
	if (!bad && !read_back(ck, why, sizeof(why)))
		bad = why;
	result(ck, !bad, "WRITE SAME(16): one block written over a range", bad);
	free(blk);
}

/* COMPARE AND WRITE of @n blocks at @lba: compare with @cmp, write @data. */
static struct sim_cmd *caw(struct check *ck, uint64_t lba, uint8_t n, const uint8_t *cmp,
			   const uint8_t *data, uint8_t *buf)
{
	uint8_t cdb[16] = { COMPARE_AND_WRITE };

	tcmu_put_be64(cdb + 2, lba);
	cdb[13] = n;
	memcpy(buf, cmp, n * ck->bs);
	memcpy(buf + n * ck->bs, data, n * ck->bs);
	return run(ck, cdb, sizeof(cdb), buf, 2 * n * ck->bs);
}

/* MAXIMUM COMPARE AND WRITE LENGTH (VPD 0xB0), or 0. */
static uint64_t caw_max_blocks(struct check *ck)
{
	uint8_t inq[6] = { INQUIRY, 0x01, 0xb0, 0, 64, 0 };
	struct sim_cmd *c = run(ck, inq, sizeof(inq), NULL, 64);
	uint64_t n = c && c->status == SAM_STAT_GOOD ? c->data[5] : 0;

	ring_sim_cmd_free(ck->sd->sim, c);
	return n;
}

/* The miscompare's INFORMATION (fixed format sense), or -1. */
static long long miscompare_info(const struct sim_cmd *c)
{
	if ((c->sense[0] & 0x7f) != 0x70 || !(c->sense[0] & 0x80))
		return -1;
	return tcmu_get_be32(c->sense + 3);
}

/*
 * COMPARE AND WRITE (SBC-3 5.2): a match writes the second half; a
 * miscompare is MISCOMPARE naming the first differing byte, and leaves
 * the blocks as they were.
 */
static void case_caw(struct check *ck)
{
	const uint64_t lba = 600, off = lba * ck->bs;
	uint64_t n = caw_max_blocks(ck), at;
	uint8_t *cmp, *data, *buf;
	char why[160] = "", sb[96];
	const char *bad;
	struct sim_cmd *c = NULL;

	if (!n) {
		printf("SKIP: COMPARE AND WRITE (MAXIMUM COMPARE AND WRITE LENGTH is 0)\n");
		return;
	}
	n = n < 2 ? n : 2;
	at = (n - 1) * ck->bs + 17;
	cmp = malloc(n * ck->bs);
	data = malloc(n * ck->bs);
	buf = malloc(2 * n * ck->bs);
	bad = cmp && data && buf ? NULL : "no memory";
	for (uint64_t i = 0; !bad && i < n * ck->bs; i++)
		data[i] = (uint8_t)rnd(ck);
	if (!bad) {
		memcpy(cmp, ck->shadow + off, n * ck->bs);
		c = caw(ck, lba, n, cmp, data, buf);
		bad = not_good(c, sb, sizeof(sb));
		ring_sim_cmd_free(ck->sd->sim, c);
	}
	if (!bad) {
		memcpy(ck->shadow + off, data, n * ck->bs);
		if (!read_back(ck, why, sizeof(why)))
			bad = why;
	}
	result(ck, !bad, "COMPARE AND WRITE: a match writes the second half", bad);
	if (!cmp || !data || !buf)
		goto out;
	memcpy(cmp, data, n * ck->bs);
	cmp[at] ^= 0x40;
	c = caw(ck, lba, n, cmp, cmp, buf);
	bad = NULL;
	if (!c)
		bad = "no answer";
	else if (c->status != SAM_STAT_CHECK_CONDITION || c->key != SENSE_MISCOMPARE ||
		 c->asc != 0x1d || c->ascq != 0)
		snprintf(why, sizeof(why), "status 0x%02x, sense %x/%02x/%02x, not "
			 "MISCOMPARE 0e/1d/00", c->status, c->key, c->asc, c->ascq), bad = why;
	else if (miscompare_info(c) != (long long)at)
		snprintf(why, sizeof(why), "INFORMATION %lld, not %llu (the first "
			 "differing byte)", miscompare_info(c), (unsigned long long)at),
			bad = why;
	ring_sim_cmd_free(ck->sd->sim, c);
	if (!bad && !read_back(ck, why, sizeof(why)))
		bad = why;
	result(ck, !bad, "COMPARE AND WRITE: a miscompare names its byte and writes nothing",
	       bad);
out:
	free(cmp);
	free(data);
	free(buf);
}

static void case_past_end(struct check *ck)
{
	uint8_t cdb[16];
	struct sim_cmd *c;
	char why[160] = "";
	bool ok;

	sim_cdb_rw16(cdb, READ_16, ck->o->size / ck->bs - 1, 2, false);
	c = run(ck, cdb, 16, NULL, 2 * ck->bs);
	ok = c && c->status == SAM_STAT_CHECK_CONDITION && c->key == SENSE_ILLEGAL_REQUEST &&
	     c->asc == 0x21 && c->ascq == 0;
	if (!ok && c)
		snprintf(why, sizeof(why), "status 0x%02x, sense %x/%02x/%02x", c->status,
			 c->key, c->asc, c->ascq);
	result(ck, ok, "READ past the end: ILLEGAL REQUEST, LBA OUT OF RANGE",
	       c ? why : "no answer");
}

/*
 * ABORT TASK, as the kernel reports it (a TMR entry naming commands in
 * flight), for half the commands of a burst at the queue depth: reads,
 * and writes of what the LUN holds already. Every command must end; the
 * ones not named GOOD (reads with the data), the named ones with any
 * status, since the kernel drops it; none twice (case_ring). A handler
 * with an abort callback (API 1.3) hears of those it has.
 */
static void case_abort(struct check *ck)
{
	unsigned int qd = ck->o->qd < 2 ? 2 : ck->o->qd, n, nn = 0;
	struct sim_cmd **c = calloc(qd, sizeof(*c)), **named = calloc(qd, sizeof(*c));
	char why[160] = "", sb[96];
	uint8_t cdb[16];
	bool ok = c && named;

	for (n = 0; ok && n < qd; n++) {
		uint64_t lba = n * 8;
		struct sim_req req = { .cdb = cdb, .cdb_len = 16, .data_len = 8 * ck->bs };

		if ((lba + 8) * ck->bs > ck->span)
			break;
		if (n & 1)
			req.data = ck->shadow + lba * ck->bs;
		sim_cdb_rw16(cdb, n & 1 ? WRITE_16 : READ_16, lba, 8, false);
		if (ring_sim_queue(ck->sd->sim, &req, &c[n]))
			break;
		if (n % 4 < 2)		/* a read and a write of every four */
			named[nn++] = c[n];
	}
	if (ok && ring_sim_queue_tmr(ck->sd->sim, TCMU_TMR_ABORT_TASK,
				     (const struct sim_cmd *const *)named, nn)) {
		snprintf(why, sizeof(why), "no room in the ring for the TMR");
		ok = false;
	}
	ring_sim_notify(ck->sd->sim);
	if (ok && ring_sim_wait(ck->sd->sim, NULL, CHECK_TIMEOUT_MS)) {
		snprintf(why, sizeof(why), "aborted commands never ended (or the ring broke)");
		ok = false;
	}
	for (unsigned int i = 0; ok && i < n; i++) {
		const char *bad = i % 4 < 2 ? NULL : not_good(c[i], sb, sizeof(sb));

		if (bad) {
			snprintf(why, sizeof(why), "a command not aborted: %s", bad);
			ok = false;
		} else if (i % 4 == 2) {	/* a read not aborted: the data */
			ok = same_as_shadow(ck, c[i]->data, i * 8 * (uint64_t)ck->bs,
					    8 * ck->bs, why, sizeof(why));
		}
	}
	result(ck, ok, "ABORT TASK for commands in flight: each ends, once; the others GOOD",
	       why);
	ring_sim_wait(ck->sd->sim, NULL, CHECK_TIMEOUT_MS);
	for (unsigned int i = 0; c && i < n; i++)
		ring_sim_cmd_free(ck->sd->sim, c[i]);
	free(named);
	free(c);
}

static void case_reopen(struct check *ck)
{
	char why[160] = "";
	int err;
	bool ok;

	sim_dev_free(ck->sd);
	ck->sd = NULL;
	err = sim_open(ck->o, &ck->sd);
	if (err)
		snprintf(why, sizeof(why), "open again: %s", strerror(-err));
	ok = !err && read_back(ck, why, sizeof(why));
	result(ck, ok, "closed and opened again: the data is still there", why);
}

/* Every answer named a command in flight, once. */
static void case_ring(struct check *ck)
{
	unsigned int stray = ck->sd ? dev_stray_completions(ck->sd->dev) : 0;
	bool broken = ck->sd && ring_sim_broken(ck->sd->sim);
	char why[160] = "";

	if (broken)
		snprintf(why, sizeof(why), "a completion named a command not in flight");
	else if (stray)
		snprintf(why, sizeof(why), "%u commands completed more than once", stray);
	result(ck, !broken && !stray, "each command completed exactly once", why);
}

int sim_check(const struct sim_opts *o)
{
	struct check ck = { .o = o, .bs = o->block_size, .rng = 0x9e3779b97f4a7c15ull };
	int err;

	ck.span = o->size < CHECK_SPAN ? o->size : CHECK_SPAN;
	if (ck.span < 1024 * (uint64_t)o->block_size) {
		fprintf(stderr, "tcmu-sim: %s: --size must be at least 1024 blocks for check\n",
			o->config);
		return 1;
	}
	ck.shadow = calloc(1, ck.span);
	err = ck.shadow ? sim_open(o, &ck.sd) : -ENOMEM;
	result(&ck, !err, "the handler opens the device", err ? strerror(-err) : "");
	if (!err) {
		/* Start from known contents: the handler's are its own. */
		uint8_t cdb[16];

		for (uint64_t off = 0; off < ck.span && !err; off += 1 << 20) {
			uint64_t len = ck.span - off < (1u << 20) ? ck.span - off : 1u << 20;

			sim_cdb_rw16(cdb, WRITE_16, off / ck.bs, len / ck.bs, false);
			ring_sim_cmd_free(ck.sd->sim, run(&ck, cdb, 16, ck.shadow + off, len));
		}
		case_identity(&ck);
		case_random(&ck);
		case_read_back(&ck);
		case_stable(&ck);
		case_unmap(&ck);
		case_write_same(&ck);
		case_caw(&ck);
		case_past_end(&ck);
		case_abort(&ck);
		case_ring(&ck);
		case_reopen(&ck);
	}
	sim_dev_free(ck.sd);
	free(ck.shadow);
	printf("%u passed, %u failed\n", ck.passed, ck.failed);
	return ck.failed;
}
