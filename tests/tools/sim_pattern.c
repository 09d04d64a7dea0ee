/*
 * sim_pattern: random data of random sizes through a handler plugin on a
 * simulated ring, checked against a shadow copy, for host tests of
 * handlers on real storage (tests/host/test_glfs.sh).
 *
 *   sim_pattern --handler-path DIR --size N [--ops N | --seconds S]
 *               [--unmap LBA,COUNT] [--out FILE] [--also <subtype>/<config>]
 *               [-v] <subtype>/<config>
 *
 * Writes (1 to 256 blocks of 512 bytes, random LBAs, one in eight FUA,
 * a SYNCHRONIZE CACHE every 50) one at a time; then the UNMAP asked for;
 * then reads the whole LUN back and compares it with what was written.
 * A command that fails with a retryable answer (NOT READY, UNIT
 * ATTENTION, BUSY: a brick down, say) is counted and its blocks are no
 * longer known; reads are retried for up to 60 s. Once a FUA write or a
 * SYNCHRONIZE CACHE has failed so, the daemon may refuse later ones with
 * MEDIUM ERROR, WRITE ERROR (a failed flush stays failed: dev_durable.h):
 * counted as refused, their blocks no longer known; plain writes and
 * reads must go on. Anything else, or a
 * command with no answer in 90 s (then at once, without closing the
 * device), is a failure: exit 1. --out: the
 * shadow, for comparing with the backing store's own view. --also: a
 * second device of the same handler, open all along, gets 50 writes after
 * the first's and is read back too (two LUNs sharing what the handler
 * shares). -v: the daemon's info messages too (on stderr).
 * Prints "writes N good, N retryable, N refused; ...; longest N.N s" (the slowest
 * write or SYNCHRONIZE CACHE: how long a frozen backend held one) and
 * "verify: ..." lines.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scsi_defs.h"
#include "tcmu_sim.h"

#define BS 512u
#define MAX_BLOCKS 256u
#define CMD_TIMEOUT_MS 90000
#define READ_RETRY_S 60

struct pat {
	const char *config;
	struct sim_dev *sd;
	uint64_t nblocks, rng;
	uint8_t *shadow, *known;	/* known: one byte a block */
	unsigned long good, retryable, refused, flushes;
	bool flush_failed;		/* a FUA write or a flush failed */
	double longest;			/* s, the slowest write or flush */
};

static uint64_t rnd(struct pat *p)
{
	return sim_rand(&p->rng);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 0 GOOD, 1 retryable, 2 refused after a failed flush (@stable: a FUA
 * write or a flush), -1 anything else (said why on stderr). */
static int outcome(struct pat *p, const struct sim_cmd *c, const char *what, uint64_t lba,
		   bool stable)
{
	if (!c) {
		/* The handler holds it: closing the device would wait for it
		 * for ever. */
		fprintf(stderr, "sim_pattern: %s at LBA %llu: no answer in %d s\n", what,
			(unsigned long long)lba, CMD_TIMEOUT_MS / 1000);
		fflush(stdout);
		_exit(1);
	}
	if (c->status == SAM_STAT_GOOD)
		return 0;
	if (c->status == SAM_STAT_BUSY || c->status == SAM_STAT_TASK_SET_FULL ||
	    (c->status == SAM_STAT_CHECK_CONDITION &&
	     (c->key == SENSE_NOT_READY || c->key == SENSE_UNIT_ATTENTION))) {
		p->flush_failed |= stable;
		return 1;
	}
	if (stable && p->flush_failed && c->status == SAM_STAT_CHECK_CONDITION &&
	    c->key == SENSE_MEDIUM_ERROR && c->asc == 0x0c && c->ascq == 0)
		return 2;
	fprintf(stderr, "sim_pattern: %s at LBA %llu: status 0x%02x sense %x/%02x/%02x\n",
		what, (unsigned long long)lba, c->status, c->key, c->asc, c->ascq);
	return -1;
}

static struct sim_cmd *run(struct pat *p, const uint8_t *cdb, size_t cdb_len,
			   const void *data, size_t len)
{
	struct sim_req req = { .cdb = cdb, .cdb_len = cdb_len, .data = data, .data_len = len };
	double t = now_s();
	struct sim_cmd *c = ring_sim_run(p->sd->sim, &req, CMD_TIMEOUT_MS);

	t = now_s() - t;
	if (t > p->longest)
		p->longest = t;
	return c;
}

/* One random write (and, every 50, a flush); 0, or -1 on a failure. */
static int write_one(struct pat *p, uint8_t *buf)
{
	uint32_t n = 1 + rnd(p) % MAX_BLOCKS;
	uint64_t lba = rnd(p) % (p->nblocks - n + 1);
	uint8_t cdb[16], sync[10] = { SYNCHRONIZE_CACHE_10 };
	bool fua = rnd(p) % 8 == 0;
	int r;

	for (size_t i = 0; i < n * BS; i += 8) {
		uint64_t v = rnd(p);

		memcpy(buf + i, &v, 8);
	}
	sim_cdb_rw16(cdb, WRITE_16, lba, n, fua);
	r = outcome(p, run(p, cdb, 16, buf, n * BS), "WRITE", lba, fua);
	if (r < 0)
		return -1;
	memset(p->known + lba, r == 0, n);
	if (r == 0) {
		memcpy(p->shadow + lba * BS, buf, n * BS);
		p->good++;
	} else if (r == 1) {
		p->retryable++;
	} else {
		p->refused++;
	}
	if ((p->good + p->retryable + p->refused) % 50 == 0) {
		p->flushes++;
		if (outcome(p, run(p, sync, sizeof(sync), NULL, 0), "SYNCHRONIZE CACHE", 0,
			    true) < 0)
			return -1;
	}
	return 0;
}

static int unmap(struct pat *p, uint64_t lba, uint32_t n)
{
	uint8_t cdb[10], param[SIM_UNMAP_PARAM_LEN];
	int r;

	sim_cdb_unmap(cdb, param, lba, n);
	r = outcome(p, run(p, cdb, sizeof(cdb), param, sizeof(param)), "UNMAP", lba, false);
	if (r)
		return -1;
	memset(p->shadow + lba * BS, 0, (size_t)n * BS);
	memset(p->known + lba, 1, n);
	printf("unmap: LBA %llu, %u blocks: GOOD\n", (unsigned long long)lba, n);
	return 0;
}

/* Read the LUN back in 128 KiB pieces; mismatches in known blocks. */
static long verify(struct pat *p)
{
	uint8_t cdb[16];
	unsigned long retried = 0;
	long bad = 0;

	for (uint64_t lba = 0; lba < p->nblocks;) {
		uint32_t n = p->nblocks - lba < MAX_BLOCKS ? p->nblocks - lba : MAX_BLOCKS;
		double give_up = now_s() + READ_RETRY_S;
		struct sim_cmd *c;
		int r;

		sim_cdb_rw16(cdb, READ_16, lba, n, false);
		while ((r = outcome(p, c = run(p, cdb, 16, NULL, n * BS), "READ", lba, false)) == 1 &&
		       now_s() < give_up) {
			retried++;
			usleep(200000);
		}
		if (r)
			return -1;
		for (uint32_t b = 0; b < n; b++)
			if (p->known[lba + b] &&
			    memcmp(c->data + b * BS, p->shadow + (lba + b) * BS, BS) && !bad++)
				fprintf(stderr, "sim_pattern: LBA %llu does not read back what "
					"was written\n", (unsigned long long)(lba + b));
		lba += n;
	}
	printf("verify %s: %llu blocks read back, %ld differ from what was acknowledged "
	       "(%lu reads retried)\n", p->config, (unsigned long long)p->nblocks, bad, retried);
	return bad;
}

static int usage(void)
{
	fprintf(stderr, "usage: sim_pattern --handler-path DIR --size N [--ops N | "
		"--seconds S] [--unmap LBA,COUNT] [--out FILE] [--also <subtype>/<config>] "
		"[-v] <subtype>/<config>\n");
	return 2;
}

struct args {
	const char *dir, *config, *out, *also;
	uint64_t size, ops, unmap_lba;
	uint32_t unmap_n;
	double seconds;
	bool verbose;
};

static int parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "handler-path", required_argument, NULL, 'H' },
		{ "size", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 't' },
		{ "unmap", required_argument, NULL, 'u' },
		{ "out", required_argument, NULL, 'o' },
		{ "also", required_argument, NULL, 'a' },
		{ 0 }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'H': a->dir = optarg; break;
		case 's': a->size = strtoull(optarg, &end, 0) << (*end == 'M' ? 20 : 0); break;
		case 'n': a->ops = strtoull(optarg, NULL, 0); break;
		case 't': a->seconds = strtod(optarg, NULL); break;
		case 'u':
			a->unmap_lba = strtoull(optarg, &end, 0);
			a->unmap_n = *end == ',' ? strtoul(end + 1, NULL, 0) : 0;
			break;
		case 'o': a->out = optarg; break;
		case 'a': a->also = optarg; break;
		case 'v': a->verbose = true; break;
		default: return -1;
		}
	}
	if (optind != argc - 1 || !a->size || a->size % BS || a->size < MAX_BLOCKS * BS ||
	    (!a->ops && !a->seconds) || a->unmap_lba + a->unmap_n > a->size / BS)
		return -1;
	a->config = argv[optind];
	return 0;
}

/* The plugin for @config's subtype, loaded into @set; NULL if none. */
static struct handler *load(const char *dir, const char *config, struct handler_set *set,
			    struct log_cfg *log)
{
	const char *slash = strchr(config, '/');
	char path[4096];
	int err;

	if (!slash)
		return NULL;
	snprintf(path, sizeof(path), "%s/handler_%.*s.so", dir, (int)(slash - config), config);
	err = handler_set_load_file(set, path, log);
	if (err) {
		fprintf(stderr, "sim_pattern: load %s: %s\n", path, strerror(-err));
		return NULL;
	}
	return set->count ? set->items[0] : NULL;
}

/* @p on a new device of @h for @config, checked first as targetcli does;
 * its shadow all zeros, as a fresh LUN reads. */
static int open_dev(struct handler *h, const char *config, uint64_t size, struct log_cfg *log,
		    struct pat *p)
{
	struct sim_dev_cfg cfg = { .ops = &h->ops, .size = size, .block_size = BS,
				   .serial = "sim_pattern", .log = log };
	char *why = NULL;
	int err;

	p->config = config;
	p->nblocks = size / BS;
	p->shadow = calloc(p->nblocks, BS);
	p->known = malloc(p->nblocks);
	if (!p->shadow || !p->known)
		return -ENOMEM;
	memset(p->known, 1, p->nblocks);
	if (!handler_check_config(&h->ops, config, &why)) {
		fprintf(stderr, "sim_pattern: %s: refused: %s\n", config, why ? why : "?");
		free(why);
		return -EINVAL;
	}
	cfg.handler_cfg = handler_config_part(&h->ops, config);
	err = sim_dev_open(&p->sd, &cfg);
	if (err)
		fprintf(stderr, "sim_pattern: %s: open: %s\n", config, strerror(-err));
	return err;
}

static void pat_close(struct pat *p)
{
	sim_dev_free(p->sd);
	free(p->known);
	free(p->shadow);
}

static int save(const struct pat *p, const char *out)
{
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t len = p->nblocks * BS;
	ssize_t n = fd < 0 ? -1 : write(fd, p->shadow, len);

	if (fd >= 0)
		close(fd);
	if (n == (ssize_t)len)
		return 0;
	fprintf(stderr, "sim_pattern: write %s: %s\n", out, strerror(errno));
	return -1;
}

/* The writes, the unmap, the read-back; 0 if all went as it should. */
static int run_all(const struct args *a, struct pat *p, struct pat *also, uint8_t *buf)
{
	double start = now_s();

	for (uint64_t i = 0; a->ops ? i < a->ops : now_s() - start < a->seconds; i++)
		if (write_one(p, buf))
			return -1;
	printf("writes: %lu good, %lu retryable, %lu refused after a failed flush; "
	       "%lu flushes (%.1f s); longest %.1f s\n", p->good, p->retryable, p->refused,
	       p->flushes, now_s() - start, p->longest);
	fflush(stdout);
	for (int i = 0; also && i < 50; i++)
		if (write_one(also, buf))
			return -1;
	if (a->unmap_n && unmap(p, a->unmap_lba, a->unmap_n))
		return -1;
	if (verify(p) || (also && verify(also)))
		return -1;
	return a->out ? save(p, a->out) : 0;
}

int main(int argc, char **argv)
{
	struct args a = { .dir = "." };
	struct handler_set set = { 0 };
	struct pat p = { .rng = 0x9e3779b97f4a7c15ull }, q = { .rng = 0x2545f4914f6cdd1dull };
	uint8_t *buf = malloc(MAX_BLOCKS * BS);
	struct log_cfg log;
	struct handler *h;
	int rc = 1;

	if (parse(argc, argv, &a))
		return usage();
	log_init(&log, false);
	/* the handler's errors (and with -v its info), on stderr */
	log.max_prio = a.verbose ? TCMU_LOG_INFO : TCMU_LOG_ERR;
	h = load(a.dir, a.config, &set, &log);
	if (buf && h && !open_dev(h, a.config, a.size, &log, &p) &&
	    (!a.also || !open_dev(h, a.also, a.size, &log, &q)))
		rc = run_all(&a, &p, a.also ? &q : NULL, buf) ? 1 : 0;
	pat_close(&q);
	pat_close(&p);
	handler_set_clear(&set);
	free(buf);
	return rc;
}
