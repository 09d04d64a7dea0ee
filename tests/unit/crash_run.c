/*
 * crash_run: a workload logged, then replayed at its crash points; see
 * crash_run.h.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_run.h"
#include "qcow_fixture.h"
#include "unit_test.h"

const char *crash_pick_name(enum crash_pick pick)
{
	static const char *const names[] = { "none", "all", "random", "newest" };

	return names[pick];
}

void crash_run_begin(struct crash_run *r, const char *name, const char *image,
		     uint64_t size, int fill, unsigned int default_seed)
{
	const char *env = getenv("CRASH_SEED");

	memset(r, 0, sizeof(*r));
	r->name = name;
	r->seed = env ? strtoul(env, NULL, 0) : default_seed;
	snprintf(r->image, sizeof(r->image), "%s", image);
	snprintf(r->base, sizeof(r->base), "%s.pre-crash", image);
	snprintf(r->crashed, sizeof(r->crashed), "%s.crashed", image);
	assert_int_equal(crash_copy_file(r->image, r->base), 0);
	crash_log_reset();
	r->file = crash_log_track(r->image);
	assert_true(r->file >= 0);
	crash_book_init(&r->book, size, fill);
	crash_log_start();
}

void crash_run_end(struct crash_run *r)
{
	if (r->sd)
		sim_dev_free(r->sd);
	r->sd = NULL;
	crash_log_stop();
}

/* Run @cdb (with @data) on the device; it must complete GOOD. */
static void run_good(struct crash_run *r, const uint8_t *cdb, const void *data, size_t len)
{
	struct sim_cmd *c = sim_dev_run(r->sd, cdb, 10, data, len);

	assert_good(c);
	ring_sim_cmd_free(r->sd->sim, c);
}

void crash_run_write(struct crash_run *r, uint64_t off, uint32_t len, unsigned int seed,
		     bool fua)
{
	uint8_t *buf = malloc(len), cdb[10];
	unsigned int op;

	assert_non_null(buf);
	qfx_fill(buf, len, seed);
	sim_rw10(cdb, WRITE_10, off / 512, len / 512);
	if (fua)
		cdb[1] |= 0x08;
	op = crash_book_add(&r->book, off, len, -(int)seed);
	run_good(r, cdb, buf, len);
	if (fua)
		crash_book_stable(&r->book, op);
	free(buf);
}

void crash_run_unmap(struct crash_run *r, uint64_t off, uint32_t len)
{
	uint8_t cdb[10], list[24];

	qfx_unmap_cdb(cdb, list, off, len);
	crash_book_add(&r->book, off, len, 0);
	run_good(r, cdb, list, sizeof(list));
}

void crash_run_flush(struct crash_run *r)
{
	uint8_t cdb[10] = { SYNCHRONIZE_CACHE_10 };

	run_good(r, cdb, NULL, 0);
	crash_book_flushed(&r->book);
}

/* Build and judge the image of crash point @p with @pick (and @arg). */
static int replay_one(struct crash_run *r, unsigned int p, enum crash_pick pick,
		      unsigned int arg, crash_judge_fn judge, void *ctx)
{
	struct crash_case c = { .point = p, .pick = pick, .arg = arg };
	const struct crash_ev *ev = crash_log_events(&c.events);

	assert_int_equal(crash_replay_build(r->base, r->crashed, r->file, ev, c.events, p,
					    pick, arg, &c.taken, &c.optional), 0);
	return judge(r, &c, ctx);
}

/* Every pick at crash point @p (@hot: more random ones); the images
 * judged leaky added to *leaky. Returns the number of images. */
static unsigned int replay_point(struct crash_run *r, unsigned int p, bool hot,
				 crash_judge_fn judge, void *ctx, unsigned int *leaky)
{
	unsigned int nr = hot ? CRASH_RUN_HOT_RANDOM : CRASH_RUN_RANDOM;

	*leaky += replay_one(r, p, CRASH_PICK_NONE, 0, judge, ctx);
	*leaky += replay_one(r, p, CRASH_PICK_ALL, 0, judge, ctx);
	*leaky += replay_one(r, p, CRASH_PICK_NEWEST, 1, judge, ctx);
	*leaky += replay_one(r, p, CRASH_PICK_NEWEST, 3, judge, ctx);
	for (unsigned int k = 0; k < nr; k++)
		*leaky += replay_one(r, p, CRASH_PICK_RANDOM, r->seed * 7919 + p * 31 + k + 1,
				     judge, ctx);
	return 4 + nr;
}

void crash_run_replay(struct crash_run *r, crash_judge_fn judge, void *ctx)
{
	const char *env = getenv("CRASH_POINTS");
	unsigned int max = env && atoi(env) > 0 ? (unsigned int)atoi(env) : CRASH_RUN_POINTS;
	unsigned int n, syncs = 0, writes = 0, np, images = 0, leaky = 0, nhot = 0;
	const struct crash_ev *ev = crash_log_events(&n);
	unsigned int *pts = malloc((n + 1) * sizeof(*pts));
	bool *hot = malloc((n + 1) * sizeof(*hot));

	assert_true(pts && hot);
	for (unsigned int i = 0; i < n; i++) {
		syncs += ev[i].kind == CRASH_SYNC;
		writes += ev[i].kind != CRASH_SYNC && ev[i].kind != CRASH_NOSYNC;
	}
	np = crash_points(ev, n, max, r->seed, r->hot_below, pts, hot);
	for (unsigned int i = 0; i < np; i++)
		nhot += hot[i];
	print_message("%s: %u page writes, %u syncs logged; %u crash points replayed (%u "
		      "after a write below byte %llu), seed %u (CRASH_SEED=%u repeats it)\n",
		      r->name, writes, syncs, np, nhot, (unsigned long long)r->hot_below,
		      r->seed, r->seed);
	for (unsigned int i = 0; i < np; i++)
		images += replay_point(r, pts[i], hot[i], judge, ctx, &leaky);
	print_message("%s: %u images (unsynced writes: none, all, the newest 1 and 3, "
		      "%d random subsets; %d at a hot point): all sound, %u with leaked "
		      "clusters only\n", r->name, images, CRASH_RUN_RANDOM,
		      CRASH_RUN_HOT_RANDOM, leaky);
	free(hot);
	free(pts);
	crash_book_fini(&r->book);
	crash_log_reset();
}
