/*
 * crash_replay: power losses replayed from a crash_log (crash_log.h).
 *
 * A crash point p is a moment in the log: events 0..p-1 have returned,
 * event p (a sync) has not. What a power loss at p leaves on the disk is
 * the file as it was before the workload (its copy, "base"), with every
 * write made stable before p (crash_log.h says what makes one stable),
 * and any subset of the other writes issued before p, applied in the
 * order they were issued: the page cache may have written back any of
 * them, or none. The points are each sync (the moment before it returns,
 * the widest choice of the interval before it) and the end of the log.
 *
 * What the initiator was told is kept in a crash_book: each write or
 * UNMAP the workload issued (what it wrote: a byte, or qfx_fill's
 * pattern), when it was issued and when it was acknowledged as stable
 * (a FUA write's completion, or the completion of a SYNCHRONIZE CACHE
 * after it). At crash point p each 512-byte sector must read what the
 * last op acknowledged stable before p put there, or what a later op
 * issued before p put there; nothing else (the image's contents before
 * the workload count as an op acknowledged at 0).
 */
#ifndef CRASH_REPLAY_H
#define CRASH_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "crash_log.h"

#define CRASH_NEVER UINT32_MAX

/* How the writes not yet stable at a crash point are chosen: none, all,
 * each with a chance of one half (seeded), or only the newest k (those
 * an ordering bug would have stored before the older ones they depend
 * on). */
enum crash_pick { CRASH_PICK_NONE, CRASH_PICK_ALL, CRASH_PICK_RANDOM, CRASH_PICK_NEWEST };

/* The crash points of @n events @ev (syncs and the end), in ascending
 * order into @out (room for @max, or for every point if more must be
 * kept), sampled down to @max (seeded by @seed); kept always: the first,
 * the last, and the "hot" ones, those after a write to the file below
 * byte @hot_below (0: none), marked in @hot (same room). Their number. */
unsigned int crash_points(const struct crash_ev *ev, unsigned int n, unsigned int max,
			  unsigned int seed, uint64_t hot_below, unsigned int *out,
			  bool *hot);
/* <@out> = <@base> with the events of @file replayed as at crash point
 * @p, the unstable ones picked by @pick with @arg (RANDOM: the seed;
 * NEWEST: how many). The numbers of events replayed and of those that
 * were optional (left to chance) in *taken, *optional. 0 or -errno. */
int crash_replay_build(const char *base, const char *out, unsigned int file,
		       const struct crash_ev *ev, unsigned int n, unsigned int p,
		       enum crash_pick pick, unsigned int arg, unsigned int *taken,
		       unsigned int *optional);
/* Copy the file @from to @to. 0 or -errno. */
int crash_copy_file(const char *from, const char *to);

struct crash_op {
	uint64_t off, len;	/* bytes, multiples of 512 */
	int fill;		/* 0..255: every byte; < 0: qfx_fill(-fill) */
	unsigned int issued;	/* crash_log_now() when it was issued */
	unsigned int stable;	/* when acknowledged stable; CRASH_NEVER */
};

struct crash_book {
	struct crash_op *ops;
	unsigned int nr, cap;
	uint64_t size;		/* the LUN's bytes */
};

/* A book for a LUN of @size bytes that read @fill before the workload. */
void crash_book_init(struct crash_book *b, uint64_t size, int fill);
void crash_book_fini(struct crash_book *b);
/* An op issued now; its index. */
unsigned int crash_book_add(struct crash_book *b, uint64_t off, uint64_t len, int fill);
/* Op @i acknowledged stable now (FUA). */
void crash_book_stable(struct crash_book *b, unsigned int i);
/* A SYNCHRONIZE CACHE completed now: every op so far is stable. */
void crash_book_flushed(struct crash_book *b);
/* Whether the raw image @path (the LUN's contents) is what the book
 * allows at crash point @p; if not, the first sector that is not, and
 * what it holds, in @why. */
bool crash_book_check(const struct crash_book *b, const char *path, unsigned int p,
		      char *why, size_t why_len);

#endif
