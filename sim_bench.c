/*
 * tcmu-sim bench: a closed loop, as fio drives a disk: --qd commands in
 * flight, a new one queued as each completes, for --seconds. Prints
 * IOPS, MiB/s, mean and p99 latency (queue to reap, as the kernel would
 * see it) and CPU time per command. The CPU time is the whole process's:
 * the simulated kernel's side (queueing, copying data in and out) is in
 * it, so compare handlers with one another, and with the null handler,
 * whose figure is the daemon's own cost plus the simulator's.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "scsi_defs.h"
#include "tcmu_sim.h"

#define BENCH_TIMEOUT_MS 10000
/* 1 us each, the last one open: a second, since a 1 MiB command on a
 * network backend takes milliseconds (4096 capped p99 at 4 ms). */
#define BENCH_LAT_BUCKETS (1u << 20)

static const char *const rw_names[] = { "randread", "randwrite", "read", "write", "randrw" };

struct bench {
	const struct sim_opts *o;
	struct sim_dev *sd;
	uint64_t nblocks, seq_lba, rng;
	uint8_t *wbuf;
	uint64_t lat_hist[BENCH_LAT_BUCKETS];
	double lat_sum;			/* microseconds */
	uint64_t done;
};

struct inflight {
	struct sim_cmd *c;
	struct timespec start;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static uint64_t rnd(struct bench *b)
{
	return sim_rand(&b->rng);
}

static int bench_queue(struct bench *b, struct inflight *f)
{
	uint32_t n = b->o->bs / b->o->block_size;
	uint64_t slots = b->nblocks / n, lba;
	bool write, rand = b->o->rw != SIM_READ && b->o->rw != SIM_WRITE;
	uint8_t cdb[16];
	struct sim_req req = { .cdb = cdb, .cdb_len = 16, .data_len = b->o->bs };

	write = b->o->rw == SIM_RANDWRITE || b->o->rw == SIM_WRITE ||
		(b->o->rw == SIM_RANDRW && rnd(b) % 10 >= 7);
	if (rand) {
		lba = rnd(b) % slots * n;
	} else {
		lba = b->seq_lba;
		b->seq_lba = (b->seq_lba + n) % (slots * n);
	}
	sim_cdb_rw16(cdb, write ? WRITE_16 : READ_16, lba, n, false);
	if (write)
		req.data = b->wbuf;
	clock_gettime(CLOCK_MONOTONIC, &f->start);
	return ring_sim_queue(b->sd->sim, &req, &f->c);
}

static void bench_account(struct bench *b, struct inflight *f)
{
	struct timespec end;
	double us;

	clock_gettime(CLOCK_MONOTONIC, &end);
	us = (end.tv_sec - f->start.tv_sec) * 1e6 + (end.tv_nsec - f->start.tv_nsec) / 1e3;
	b->lat_sum += us;
	b->lat_hist[us < BENCH_LAT_BUCKETS - 1 ? (size_t)us : BENCH_LAT_BUCKETS - 1]++;
	b->done++;
}

static double p99_us(const struct bench *b)
{
	uint64_t want = b->done - b->done / 100, seen = 0;

	for (size_t i = 0; i < BENCH_LAT_BUCKETS; i++) {
		seen += b->lat_hist[i];
		if (seen >= want)
			return i + 1;
	}
	return BENCH_LAT_BUCKETS;
}

/* Run the loop until the time is up; 0 or -errno. */
static int bench_loop(struct bench *b, struct inflight *f, double *elapsed)
{
	unsigned int qd = b->o->qd, busy = 0;
	double start = now_s(), end = start + b->o->seconds;
	uint64_t issued = 0;
	bool stop = false;

	while (!stop || busy) {
		for (unsigned int i = 0; !stop && i < qd; i++) {
			if (f[i].c)
				continue;
			if (b->o->commands && issued == b->o->commands) {
				stop = true;
				break;
			}
			if (bench_queue(b, &f[i]))
				return -ENOSPC;
			issued++;
			busy++;
		}
		if (!busy)
			break;	/* the last command counted: nothing to wait for */
		ring_sim_notify(b->sd->sim);
		if (ring_sim_wait_any(b->sd->sim, BENCH_TIMEOUT_MS) < 0)
			return -ETIMEDOUT;
		for (unsigned int i = 0; i < qd; i++) {
			if (!f[i].c || !f[i].c->done)
				continue;
			if (f[i].c->status != SAM_STAT_GOOD)
				return -EIO;
			bench_account(b, &f[i]);
			ring_sim_cmd_free(b->sd->sim, f[i].c);
			f[i].c = NULL;
			busy--;
		}
		stop = stop || (!b->o->commands && now_s() >= end);
	}
	*elapsed = now_s() - start;
	return 0;
}

static void bench_print(const struct bench *b, double elapsed, double cpu)
{
	const struct sim_opts *o = b->o;
	double iops = b->done / elapsed, mibs = iops * o->bs / (1 << 20);
	double mean = b->done ? b->lat_sum / b->done : 0, cpu_us = cpu * 1e6 / b->done;

	if (o->json) {
		printf("{\"handler\":\"%s\",\"config\":\"%s\",\"rw\":\"%s\",\"bs\":%u,"
		       "\"qd\":%u,\"seconds\":%.2f,\"commands\":%llu,\"iops\":%.0f,"
		       "\"mib_s\":%.1f,\"lat_mean_us\":%.1f,\"lat_p99_us\":%.0f,"
		       "\"cpu_us_per_cmd\":%.2f,\"cmds_per_cpu_s\":%.0f}\n",
		       o->h->ops.subtype, o->config, rw_names[o->rw], o->bs, o->qd, elapsed,
		       (unsigned long long)b->done, iops, mibs, mean, p99_us(b), cpu_us,
		       cpu > 0 ? b->done / cpu : 0);
		return;
	}
	printf("%s %s bs=%u qd=%u: %.0f IOPS, %.1f MiB/s, latency mean %.1f us p99 %.0f us, "
	       "CPU %.2f us/cmd (%.0f commands per CPU second), %llu commands in %.1f s\n",
	       o->config, rw_names[o->rw], o->bs, o->qd, iops, mibs, mean, p99_us(b), cpu_us,
	       cpu > 0 ? b->done / cpu : 0, (unsigned long long)b->done, elapsed);
}

int sim_bench(const struct sim_opts *o)
{
	struct bench *b = calloc(1, sizeof(*b));
	struct inflight *f = calloc(o->qd, sizeof(*f));
	double elapsed = 0, cpu0;
	int err;

	if (!b || !f) {
		free(b);
		free(f);
		return -ENOMEM;
	}
	b->o = o;
	b->rng = 0x2545f4914f6cdd1dull;
	b->nblocks = o->size / o->block_size;
	b->wbuf = malloc(o->bs);
	err = b->wbuf ? sim_open(o, &b->sd) : -ENOMEM;
	if (!err) {
		memset(b->wbuf, 0x5a, o->bs);
		cpu0 = cpu_s();
		err = bench_loop(b, f, &elapsed);
		if (!err)
			bench_print(b, elapsed, cpu_s() - cpu0);
		else
			fprintf(stderr, "tcmu-sim: %s: the load stopped: %s\n", o->config,
				strerror(-err));
		ring_sim_wait(b->sd->sim, NULL, BENCH_TIMEOUT_MS);
		sim_dev_free(b->sd);
	} else {
		fprintf(stderr, "tcmu-sim: %s: open: %s\n", o->config, strerror(-err));
	}
	free(b->wbuf);
	free(f);
	free(b);
	return err;
}
