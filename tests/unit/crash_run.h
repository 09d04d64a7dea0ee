/*
 * crash_run: a power-loss test's frame. A workload runs on a simulated
 * device while crash_log records what its handler writes and syncs to
 * the image file, and a crash_book what the initiator was told; then
 * crash_run_replay rebuilds the image at each crash point (sampled), with
 * several choices of the writes not yet stable (none, all, the newest
 * ones, seeded random subsets), and hands each to a judge: the handler's own check (for
 * qcow2, qemu-img check and a read-back through QEMU) that fails the test
 * with what it found.
 *
 *   crash_run_begin(&r, image_path, seed)   copy the image, start logging
 *   ...open the device (r.sd = ...), crash_run_write/flush/unmap...
 *   crash_run_end(&r)                        close the device, stop logging
 *   crash_run_replay(&r, judge, ctx)         replay and judge
 *
 * The seed is CRASH_SEED from the environment if set, else the test's;
 * it is printed, so that a failure can be repeated. CRASH_POINTS raises
 * (or lowers) the number of crash points replayed, for a longer search.
 */
#ifndef CRASH_RUN_H
#define CRASH_RUN_H

#include "crash_replay.h"
#include "sim_dev.h"

#define CRASH_RUN_POINTS 16	/* crash points replayed at most, per workload
				 * (CRASH_POINTS in the environment: another) */
#define CRASH_RUN_RANDOM 2	/* random subsets per crash point */
#define CRASH_RUN_HOT_RANDOM 8	/* per crash point after a write below hot_below */

struct crash_run {
	const char *name;	/* the workload's, for messages */
	char image[256];	/* the file the handler serves */
	char base[280];		/* its copy before the workload */
	char crashed[280];	/* where a replay is built */
	int file;		/* crash_log's index of the image */
	uint64_t hot_below;	/* crash points after a write below this byte of
				 * the file (a header) are all replayed, with
				 * more random subsets; 0: none */
	unsigned int seed;
	struct sim_dev *sd;	/* the device, set by the caller after begin */
	struct crash_book book;
};

/* What a judge is told of the image it judges. */
struct crash_case {
	unsigned int point, events;	/* crash point (event index) of events */
	enum crash_pick pick;
	unsigned int arg;		/* the pick's seed or count */
	unsigned int taken, optional;	/* events replayed; of them left to chance */
};

/* Judge the image r->crashed built for @c; return 0 if sound, 1 if
 * sound with leaked clusters; fail the test (fail_msg, naming @c) if
 * not. */
typedef int (*crash_judge_fn)(struct crash_run *r, const struct crash_case *c, void *ctx);

/* Start a workload on @image, whose LUN (@size bytes) reads @fill now
 * (crash_book_init). */
void crash_run_begin(struct crash_run *r, const char *name, const char *image,
		     uint64_t size, int fill, unsigned int default_seed);
/* Close r->sd (if any) and stop logging. */
void crash_run_end(struct crash_run *r);
/* WRITE(10) of qfx_fill(@seed) (FUA if @fua), UNMAP, SYNCHRONIZE CACHE;
 * each must complete GOOD, and goes in the book. */
void crash_run_write(struct crash_run *r, uint64_t off, uint32_t len, unsigned int seed,
		     bool fua);
void crash_run_unmap(struct crash_run *r, uint64_t off, uint32_t len);
void crash_run_flush(struct crash_run *r);
/* Replay and judge every chosen crash point; prints what was replayed. */
void crash_run_replay(struct crash_run *r, crash_judge_fn judge, void *ctx);
/* A name for @pick (none, all, random, newest). */
const char *crash_pick_name(enum crash_pick pick);

#endif
