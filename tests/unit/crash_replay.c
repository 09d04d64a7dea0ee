/*
 * crash_replay: images as a power loss would leave them, and what they
 * must read; see crash_replay.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash_replay.h"
#include "qcow_fixture.h"

#define SECTOR 512

/* A small deterministic generator (xorshift32); @s must not be 0. */
static unsigned int next_rand(unsigned int *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Whether the interval before sync (or end) @p, from the sync before
 * it, holds a write below @hot_below. */
static bool interval_hot(const struct crash_ev *ev, unsigned int p, uint64_t hot_below)
{
	for (unsigned int i = p; i-- > 0 && ev[i].kind != CRASH_SYNC; )
		if (ev[i].kind == CRASH_WRITE && ev[i].off < hot_below)
			return true;
	return false;
}

unsigned int crash_points(const struct crash_ev *ev, unsigned int n, unsigned int max,
			  unsigned int seed, uint64_t hot_below, unsigned int *out,
			  bool *hot)
{
	unsigned int all = 0, cold = 0, rnd = seed ? seed : 1;
	unsigned int *pts = malloc((n + 1) * sizeof(*pts));
	bool *h = malloc((n + 1) * sizeof(*h));

	if (!pts || !h)
		abort();
	for (unsigned int i = 0; i <= n; i++)
		if (i == n || ev[i].kind == CRASH_SYNC) {
			h[all] = interval_hot(ev, i, hot_below);
			cold += !h[all] && all;		/* the first is kept too */
			pts[all++] = i;
		}
	cold -= cold && !h[all - 1];			/* and the last */
	/* drop cold points other than the first and last at random */
	while (all > max && cold) {
		unsigned int drop = 1 + next_rand(&rnd) % (all - 2);

		if (h[drop])
			continue;
		memmove(pts + drop, pts + drop + 1, (all - drop - 1) * sizeof(*pts));
		memmove(h + drop, h + drop + 1, (all - drop - 1) * sizeof(*h));
		all--;
		cold--;
	}
	memcpy(out, pts, all * sizeof(*pts));
	memcpy(hot, h, all * sizeof(*h));
	free(h);
	free(pts);
	return all;
}

/* The first sync of event @i's file that was called after @i had
 * returned (and so makes it stable once it returns); n if none. */
static unsigned int covering_sync(const struct crash_ev *ev, unsigned int n, unsigned int i)
{
	for (unsigned int s = i + 1; s < n; s++)
		if (ev[s].kind == CRASH_SYNC && ev[s].file == ev[i].file && ev[s].covers > i)
			return s;
	return n;
}

int crash_copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, err = 0;
	char *buf = malloc(1 << 16);
	ssize_t r;

	if (in >= 0)
		out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in < 0 || out < 0 || !buf)
		err = buf ? -errno : -ENOMEM;
	while (!err && (r = read(in, buf, 1 << 16)) != 0)
		if (r < 0 || write(out, buf, r) != r)
			err = r < 0 ? -errno : -EIO;
	free(buf);
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && !err)
		err = -errno;
	return err;
}

/* Event @e done to the file @fd (the copy). */
static int apply(int fd, const struct crash_ev *e)
{
	static const uint8_t zeros[1 << 16];
	struct stat st;
	uint64_t off = e->off, left = e->len;

	switch (e->kind) {
	case CRASH_WRITE:
		return pwrite(fd, e->data, e->len, e->off) == (ssize_t)e->len ? 0 : -EIO;
	case CRASH_ZERO:
		for (; left; ) {
			size_t k = left < sizeof(zeros) ? left : sizeof(zeros);

			if (pwrite(fd, zeros, k, off) != (ssize_t)k)
				return -EIO;
			off += k;
			left -= k;
		}
		return 0;
	case CRASH_SIZE:
		return ftruncate(fd, e->off) ? -errno : 0;
	case CRASH_EXTEND:
		if (fstat(fd, &st) < 0)
			return -errno;
		return (uint64_t)st.st_size < e->off && ftruncate(fd, e->off) ? -errno : 0;
	default:
		return 0;
	}
}

/* Whether event @i must be on the disk at crash point @p. */
static bool required(const struct crash_ev *ev, unsigned int n, unsigned int i,
		     unsigned int p)
{
	return ev[i].stable || covering_sync(ev, n, i) < p;
}

static bool is_data(const struct crash_ev *e, unsigned int file)
{
	return e->file == file && e->kind != CRASH_SYNC && e->kind != CRASH_NOSYNC;
}

int crash_replay_build(const char *base, const char *out, unsigned int file,
		       const struct crash_ev *ev, unsigned int n, unsigned int p,
		       enum crash_pick pick, unsigned int arg, unsigned int *taken,
		       unsigned int *optional)
{
	unsigned int rnd = arg ? arg : 1, seen = 0;
	int err = crash_copy_file(base, out), fd;

	*taken = *optional = 0;
	if (err)
		return err;
	fd = open(out, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (unsigned int i = 0; i < p; i++)
		*optional += is_data(&ev[i], file) && !required(ev, n, i, p);
	for (unsigned int i = 0; i < p && !err; i++) {
		bool need, take;

		if (!is_data(&ev[i], file))
			continue;
		need = required(ev, n, i, p);
		seen += !need;
		take = need || pick == CRASH_PICK_ALL ||
		       (pick == CRASH_PICK_RANDOM && next_rand(&rnd) & 1) ||
		       (pick == CRASH_PICK_NEWEST && seen + arg > *optional);
		*taken += take;
		if (take)
			err = apply(fd, &ev[i]);
	}
	close(fd);
	return err;
}

void crash_book_init(struct crash_book *b, uint64_t size, int fill)
{
	memset(b, 0, sizeof(*b));
	b->size = size;
	crash_book_add(b, 0, size, fill);
	b->ops[0].issued = b->ops[0].stable = 0;
}

void crash_book_fini(struct crash_book *b)
{
	free(b->ops);
	memset(b, 0, sizeof(*b));
}

unsigned int crash_book_add(struct crash_book *b, uint64_t off, uint64_t len, int fill)
{
	if (b->nr == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->ops = realloc(b->ops, b->cap * sizeof(*b->ops));
		if (!b->ops)
			abort();
	}
	b->ops[b->nr] = (struct crash_op){ off, len, fill, crash_log_now(), CRASH_NEVER };
	return b->nr++;
}

void crash_book_stable(struct crash_book *b, unsigned int i)
{
	if (b->ops[i].stable == CRASH_NEVER)
		b->ops[i].stable = crash_log_now();
}

void crash_book_flushed(struct crash_book *b)
{
	for (unsigned int i = 0; i < b->nr; i++)
		crash_book_stable(b, i);
}

/* Whether sector @s of @img holds what op @o put there. */
static bool op_matches(const struct crash_op *o, const uint8_t *img, uint64_t s)
{
	const uint8_t *got = img + s * SECTOR;
	uint64_t rel = s * SECTOR - o->off;

	for (unsigned int i = 0; i < SECTOR; i++) {
		uint8_t want = o->fill >= 0 ? o->fill : qfx_fill_byte(-o->fill, rel + i);

		if (got[i] != want)
			return false;
	}
	return true;
}

/* The whole of the file @path (@size bytes, zeros past its end). */
static uint8_t *read_all(const char *path, uint64_t size)
{
	uint8_t *buf = calloc(1, size ? size : 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (buf && fd >= 0 && pread(fd, buf, size, 0) >= 0) {
		close(fd);
		return buf;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* The first sector no allowed op explains, or -1. @last: per sector,
 * the last op acknowledged stable before @p. */
static int64_t first_unexplained(const struct crash_book *b, const uint8_t *img,
				 unsigned int p, uint32_t *last, bool *ok)
{
	uint64_t nsec = b->size / SECTOR;

	for (unsigned int j = 0; j < b->nr; j++)
		if (b->ops[j].stable <= p)
			for (uint64_t s = b->ops[j].off / SECTOR;
			     s < (b->ops[j].off + b->ops[j].len) / SECTOR; s++)
				last[s] = j;
	for (uint64_t s = 0; s < nsec; s++)
		ok[s] = op_matches(&b->ops[last[s]], img, s);
	for (unsigned int j = 1; j < b->nr; j++)
		if (b->ops[j].issued < p)
			for (uint64_t s = b->ops[j].off / SECTOR;
			     s < (b->ops[j].off + b->ops[j].len) / SECTOR; s++)
				if (!ok[s] && j > last[s])
					ok[s] = op_matches(&b->ops[j], img, s);
	for (uint64_t s = 0; s < nsec; s++)
		if (!ok[s])
			return s;
	return -1;
}

bool crash_book_check(const struct crash_book *b, const char *path, unsigned int p,
		      char *why, size_t why_len)
{
	uint64_t nsec = b->size / SECTOR;
	uint8_t *img = read_all(path, b->size);
	uint32_t *last = calloc(nsec, sizeof(*last));
	bool *ok = calloc(nsec, sizeof(*ok));
	int64_t bad = -1;

	if (!img || !last || !ok) {
		snprintf(why, why_len, "cannot read %s", path);
		bad = 0;
	} else {
		bad = first_unexplained(b, img, p, last, ok);
		if (bad >= 0) {
			const struct crash_op *o = &b->ops[last[bad]];

			snprintf(why, why_len, "byte %llu (sector %lld) reads %02x %02x %02x %02x..."
				 ", acknowledged stable: op %u (%llu+%llu, fill %d, "
				 "stable at event %u)", (unsigned long long)bad * SECTOR,
				 (long long)bad, img[bad * SECTOR], img[bad * SECTOR + 1],
				 img[bad * SECTOR + 2], img[bad * SECTOR + 3], last[bad],
				 (unsigned long long)o->off, (unsigned long long)o->len, o->fill,
				 o->stable);
		}
	}
	free(ok);
	free(last);
	free(img);
	return bad < 0;
}
