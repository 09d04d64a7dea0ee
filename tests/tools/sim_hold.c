/*
 * sim_hold: a handler plugin's device held open on a simulated ring and
 * driven a line at a time from stdin, so that a host test can change the
 * backing store under a served LUN and see what the LUN answers
 * (tests/host/test_glfs.sh: an image removed or renamed under it).
 *
 *   sim_hold --handler-path DIR --size N [-v] <subtype>/<config>
 *
 * Opens the device as the daemon does when a LUN is added (open(dev,
 * false); no check_config first: the open itself is under test) and
 * prints "open: ok", or "open: ERROR" and exits 1 (the handler's own
 * error on stderr). Then, one answer line per command line:
 *   write   WRITE(16), FUA, of a pattern over the LUN's first
 *           256 KiB:
 *           "write: GOOD" or "write: sense K/ASC/ASCQ"
 *   cached  WRITE(16) without FUA (the LUN's write cache is on) of the
 *           pattern's complement (each byte's bits flipped) over the
 *           same bytes: "cached: GOOD" or "cached: sense ..."
 *   flush   SYNCHRONIZE CACHE(10): "flush: GOOD" or "flush: sense ..."
 *   read    READ(16) of them: "read: the pattern", "read: zeros",
 *           "read: other data" or "read: sense K/ASC/ASCQ"
 *   reopen  close the handler and open it again with the same settings,
 *           as the daemon does (open(dev, true)): "reopen: done" or
 *           "reopen: failed: ERROR" (then the device is offline)
 *   quit    (or end of input) close the device, exit 0
 * A command with no answer in 90 s: "...: no answer", exit 1 at once.
 * A UNIT ATTENTION is taken and the command sent again. -v: the daemon's
 * info messages too (on stderr).
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi_defs.h"
#include "tcmu_sim.h"

#define BS 512u
#define SPAN (256 * 1024u)
#define CMD_TIMEOUT_MS 90000

/* The pattern's byte at @off: never a whole block of zeros. */
static uint8_t pattern(size_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) + 1);
}

/* @cdb with @len bytes of @data (NULL: a read of @len) until it is not
 * a UNIT ATTENTION; "<what>: sense ..." printed for a CHECK CONDITION.
 * Exits if it never completed. */
static struct sim_cmd *run(struct sim_dev *sd, const char *what, const uint8_t *cdb,
			   const void *data, size_t len)
{
	struct sim_req req = { .cdb = cdb, .cdb_len = 16, .data = data, .data_len = len };
	struct sim_cmd *c;

	for (int tries = 0;; tries++) {
		c = ring_sim_run(sd->sim, &req, CMD_TIMEOUT_MS);
		if (!c) {
			/* The handler holds it: closing would wait for ever. */
			printf("%s: no answer\n", what);
			fflush(stdout);
			_exit(1);
		}
		if (c->status != SAM_STAT_CHECK_CONDITION || c->key != SENSE_UNIT_ATTENTION ||
		    tries == 3)
			break;
		ring_sim_cmd_free(sd->sim, c);
	}
	if (c->status == SAM_STAT_CHECK_CONDITION)
		printf("%s: sense %x/%02x/%02x\n", what, c->key, c->asc, c->ascq);
	else if (c->status != SAM_STAT_GOOD)
		printf("%s: status 0x%02x\n", what, c->status);
	return c;
}

/* @cdb with @data; "<what>: GOOD" once it is. */
static void do_good(struct sim_dev *sd, const char *what, const uint8_t *cdb,
		    const void *data, size_t len)
{
	struct sim_cmd *c = run(sd, what, cdb, data, len);

	if (c->status == SAM_STAT_GOOD)
		printf("%s: GOOD\n", what);
	ring_sim_cmd_free(sd->sim, c);
}

static void do_write(struct sim_dev *sd, const char *what, const uint8_t *buf, bool fua)
{
	uint8_t cdb[16];

	sim_cdb_rw16(cdb, WRITE_16, 0, SPAN / BS, fua);
	do_good(sd, what, cdb, buf, SPAN);
}

static void do_flush(struct sim_dev *sd)
{
	uint8_t cdb[16] = { SYNCHRONIZE_CACHE_10 };

	do_good(sd, "flush", cdb, NULL, 0);
}

static void do_read(struct sim_dev *sd, const uint8_t *want)
{
	uint8_t cdb[16];
	struct sim_cmd *c;
	size_t i;

	sim_cdb_rw16(cdb, READ_16, 0, SPAN / BS, false);
	c = run(sd, "read", cdb, NULL, SPAN);
	if (c->status == SAM_STAT_GOOD) {
		for (i = 0; i < SPAN && !c->data[i]; i++)
			;
		printf("read: %s\n", i == SPAN ? "zeros" :
		       !memcmp(c->data, want, SPAN) ? "the pattern" : "other data");
	}
	ring_sim_cmd_free(sd->sim, c);
}

static void do_reopen(struct sim_dev *sd)
{
	int err = dev_reopen_now(sd->dev);

	if (err)
		printf("reopen: failed: %s\n", strerror(-err));
	else
		printf("reopen: done\n");
}

/* Answer command lines until quit or the end of input; 0, or 2 for an
 * unknown command. */
static int serve(struct sim_dev *sd, const uint8_t *buf)
{
	static uint8_t flipped[SPAN];
	char line[64];

	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!strcmp(line, "write")) {
			do_write(sd, "write", buf, true);
		} else if (!strcmp(line, "cached")) {
			for (size_t i = 0; i < SPAN; i++)
				flipped[i] = ~buf[i];
			do_write(sd, "cached", flipped, false);
		} else if (!strcmp(line, "flush")) {
			do_flush(sd);
		} else if (!strcmp(line, "read")) {
			do_read(sd, buf);
		} else if (!strcmp(line, "reopen")) {
			do_reopen(sd);
		} else if (!strcmp(line, "quit")) {
			break;
		} else {
			printf("%s: unknown command (write, cached, flush, read, reopen, quit)\n", line);
			return 2;
		}
		fflush(stdout);
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: sim_hold --handler-path DIR --size N [-v] "
		"<subtype>/<config>\n");
	return 2;
}

/* The plugin for @config's subtype, loaded into @set; NULL if none. */
static struct handler *load(const char *dir, const char *config, struct handler_set *set,
			    struct log_cfg *log)
{
	char path[4096];
	int err;

	snprintf(path, sizeof(path), "%s/handler_%.*s.so", dir,
		 (int)(strchr(config, '/') - config), config);
	err = handler_set_load_file(set, path, log);
	if (err || !set->count) {
		fprintf(stderr, "sim_hold: load %s: %s\n", path, strerror(err ? -err : ENOENT));
		return NULL;
	}
	return set->items[0];
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "handler-path", required_argument, NULL, 'H' },
		{ "size", required_argument, NULL, 's' },
		{ 0 }
	};
	struct sim_dev_cfg cfg = { .block_size = BS, .serial = "sim_hold" };
	const char *dir = ".", *config;
	struct handler_set set = { 0 };
	struct sim_dev *sd = NULL;
	struct log_cfg log;
	struct handler *h;
	static uint8_t buf[SPAN];
	bool verbose = false;
	char *end;
	int c, err, rc;

	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'H': dir = optarg; break;
		case 's': cfg.size = strtoull(optarg, &end, 0) << (*end == 'M' ? 20 : 0); break;
		case 'v': verbose = true; break;
		default: return usage();
		}
	}
	if (optind != argc - 1 || cfg.size < SPAN || cfg.size % BS || !strchr(argv[optind], '/'))
		return usage();
	config = argv[optind];
	log_init(&log, false);
	log.max_prio = verbose ? TCMU_LOG_INFO : TCMU_LOG_ERR;
	cfg.log = &log;
	h = load(dir, config, &set, &log);
	if (!h)
		return 1;
	for (size_t i = 0; i < SPAN; i++)
		buf[i] = pattern(i);
	cfg.ops = &h->ops;
	cfg.handler_cfg = handler_config_part(&h->ops, config);
	err = sim_dev_open(&sd, &cfg);
	printf("open: %s\n", err ? strerror(-err) : "ok");
	fflush(stdout);
	rc = err ? 1 : serve(sd, buf);
	sim_dev_free(sd);
	handler_set_clear(&set);
	return rc;
}
