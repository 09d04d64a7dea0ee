/*
 * The TCMU command ring: taking commands the kernel queued and writing
 * their completions back.
 *
 * The kernel produces entries at mb->cmd_head; we consume them at our own
 * offset (ring->next) and complete at mb->cmd_tail. The kernel reads
 * completions strictly in ring order and finds the command by the cmd_id
 * in each slot, so an out-of-order completion is written into the oldest
 * slot not yet completed, with its own cmd_id (every CMD slot is at least
 * sizeof(struct tcmu_cmd_entry), so a response always fits). Padding and
 * TMR slots are stepped over, as the kernel steps over them.
 *
 * Nothing the kernel wrote is trusted: every offset and length is checked
 * against the map before use, and what a command needs (CDB, iovecs) is
 * copied out before its slot can be reused for another completion.
 *
 * A reset behind our back. An admin's write to configfs action/reset_ring
 * (target_core_user.c, tcmu_reset_ring) fails every command in the ring
 * (BUSY for 1, CHECK CONDITION for 2), frees their cmd_ids and data
 * blocks, and sets cmd_head = cmd_tail = 0. Our offset is then stale: we
 * would parse stale or half-written slots, never see the new commands,
 * and answer cmd_ids the kernel has freed or given to new commands. We
 * notice it, before taking a command and before writing an answer, by
 * what nobody but a reset changes: cmd_tail not where we left it (only we
 * write it otherwise); cmd_head behind our consumer offset (the kernel
 * never writes over slots we have not answered); or the oldest slot we
 * have not answered no longer holding the command the kernel put there
 * (its header, CDB offset and CDB, kept when the kernel published it).
 * We then start again at the new tail and drop, unwritten, the answers of
 * commands taken before it (a "generation" per reset): the kernel has
 * failed them already, and the initiator retries. What no daemon can
 * tell: a new command identical to the one it replaces in that slot (same
 * cmd_id, length, CDB offset and CDB). And a handler still filling a READ
 * buffer writes into data blocks the kernel may have given to a new
 * command. So an admin's reset is only safe for data once the daemon has
 * nothing in flight; the daemon's own start-up recovery (recover.c)
 * resets before it takes the ring, when nothing can be in flight.
 *
 * Commands in flight are kept on a list, oldest first, for task
 * management (tcmu_ring_find: a TMR names commands by cmd_id) and a
 * watchdog's walk (tcmu_ring_for_each).
 *
 * Lock order: ring->lock is a leaf; it guards cmd_tail, the free list,
 * the in-flight list, the counters and the reset generation.
 * tcmu_ring_next() runs on one thread only, owns the consumer offset and
 * reads cmd_head without the lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tcmu_uapi.h"

#include "libtcmu.h"
#include "scsi_defs.h"
#include "scsi_sense.h"

/* Bytes of a command slot's fingerprint (ring_fingerprint). */
#define RING_FP_LEN 32

struct ring_cmd {
	struct tcmu_cmd cmd;
	struct ring_cmd *next_free;
	/* In flight: on ring->live, oldest first (tcmu_ring_find/for_each). */
	struct ring_cmd *live_prev, *live_next;
	unsigned int gen;		/* ring->gen when taken off the ring */
	unsigned int iov_cap;
	uint8_t cdb_buf[TCMU_MAX_CDB_LEN];
	uint8_t priv_buf[] __attribute__((aligned(16)));
};

struct tcmu_ring {
	int fd;
	uint8_t *map;
	size_t map_size;
	struct tcmu_mailbox *mb;
	uint8_t *cmdr;
	uint32_t cmdr_size;
	size_t data_off;		/* first byte past the command ring */
	size_t priv_size;
	uint32_t next;			/* our consumer offset in the ring */
	const struct tcmu_logger *log;
	char who[256];

	pthread_mutex_t lock;
	struct ring_cmd *free_list;
	struct ring_cmd *live, *live_tail;	/* commands in flight, oldest first */
	unsigned int inflight;
	unsigned int unkicked;		/* completions not yet told */
	uint32_t tail;			/* cmd_tail as we last wrote it */
	unsigned int gen;		/* resets seen behind our back */
	bool resync;			/* next must restart at tail */
	bool snap_ok;			/* snap holds the slot at snap_at */
	uint32_t snap_at;		/* oldest command slot not answered */
	uint8_t snap[RING_FP_LEN];	/* its fingerprint when the kernel wrote it */
};

#define ring_err(r, ...) tcmu_log((r)->log, TCMU_LOG_ERR, (r)->who, __func__, __VA_ARGS__)
#define ring_warn(r, ...) tcmu_log((r)->log, TCMU_LOG_WARN, (r)->who, __func__, __VA_ARGS__)
#define ring_dbg(r, ...) tcmu_log((r)->log, TCMU_LOG_DEBUG, (r)->who, __func__, __VA_ARGS__)

int tcmu_ring_new(struct tcmu_ring **out, int fd, void *map, size_t map_size,
		  size_t priv_size, const struct tcmu_logger *log, const char *who)
{
	struct tcmu_mailbox *mb = map;
	struct tcmu_ring *ring;
	uint32_t off, size;

	/* A UIO map is page aligned; the mailbox needs 64 bytes. */
	if (map_size < sizeof(*mb) || (uintptr_t)map % __alignof__(*mb)) {
		tcmu_log(log, TCMU_LOG_ERR, who, __func__,
			 "map of %zu bytes at %p holds no aligned mailbox", map_size, map);
		return -EINVAL;
	}
	off = mb->cmdr_off;
	size = mb->cmdr_size;
	/* Entries, and so the ring and the tail, are 8-byte aligned. */
	if (mb->version != TCMU_MAILBOX_VERSION || off < sizeof(*mb) ||
	    off % TCMU_OP_ALIGN_SIZE || size < sizeof(struct tcmu_cmd_entry) ||
	    size % TCMU_OP_ALIGN_SIZE || (uint64_t)off + size > map_size ||
	    mb->cmd_tail % TCMU_OP_ALIGN_SIZE) {
		tcmu_log(log, TCMU_LOG_ERR, who, __func__,
			 "mailbox version %u ring %u+%u tail %u does not fit a map of %zu bytes",
			 mb->version, off, size, mb->cmd_tail, map_size);
		return -EINVAL;
	}
	ring = calloc(1, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	ring->fd = fd;
	ring->map = map;
	ring->map_size = map_size;
	ring->mb = mb;
	ring->cmdr = ring->map + off;
	ring->cmdr_size = size;
	ring->data_off = (size_t)off + size;
	ring->log = log;
	ring->priv_size = priv_size;
	snprintf(ring->who, sizeof(ring->who), "%s", who ? who : "ring");
	pthread_mutex_init(&ring->lock, NULL);
	/* Start at the kernel's completion pointer and take what lies between
	 * it and cmd_head as new. After a restart of a daemon that holds only
	 * once the ring was reset (tcmu_recover_dev): a previous daemon's
	 * out-of-order completions leave answered and unanswered commands
	 * mixed there, and nothing in the ring tells them apart. */
	ring->next = __atomic_load_n(&mb->cmd_tail, __ATOMIC_ACQUIRE) % size;
	ring->tail = ring->next;
	*out = ring;
	return 0;
}

void tcmu_ring_free(struct tcmu_ring *ring)
{
	struct ring_cmd *rc, *next;

	if (!ring)
		return;
	for (rc = ring->free_list; rc; rc = next) {
		next = rc->next_free;
		free(rc->cmd.iov);
		free(rc);
	}
	pthread_mutex_destroy(&ring->lock);
	free(ring);
}

uint16_t tcmu_ring_kernel_flags(const struct tcmu_ring *ring)
{
	return ring->mb->flags;
}

unsigned int tcmu_ring_inflight(struct tcmu_ring *ring)
{
	unsigned int n;

	pthread_mutex_lock(&ring->lock);
	n = ring->inflight;
	pthread_mutex_unlock(&ring->lock);
	return n;
}

static struct ring_cmd *ring_cmd_get(struct tcmu_ring *ring, unsigned int iov_cnt)
{
	struct ring_cmd *rc;

	pthread_mutex_lock(&ring->lock);
	rc = ring->free_list;
	if (rc)
		ring->free_list = rc->next_free;
	pthread_mutex_unlock(&ring->lock);
	if (!rc) {
		rc = calloc(1, sizeof(*rc) + ring->priv_size);
		if (!rc)
			return NULL;
	}
	if (rc->iov_cap < iov_cnt || !rc->cmd.iov) {
		unsigned int cap = iov_cnt < 16 ? 16 : iov_cnt;
		struct iovec *iov = realloc(rc->cmd.iov, cap * sizeof(*iov));

		if (!iov) {
			free(rc->cmd.iov);
			free(rc);
			return NULL;
		}
		rc->cmd.iov = iov;
		rc->iov_cap = cap;
	}
	rc->cmd.cdb = rc->cdb_buf;
	rc->cmd.has_read_len = false;
	rc->cmd.priv = ring->priv_size ? rc->priv_buf : NULL;
	memset(rc->priv_buf, 0, ring->priv_size);
	memset(rc->cmd.sense, 0, sizeof(rc->cmd.sense));
	return rc;
}

/* Lock held: @rc was taken off the ring / is released. */
static void ring_live_link(struct tcmu_ring *ring, struct ring_cmd *rc)
{
	rc->live_next = NULL;
	rc->live_prev = ring->live_tail;
	if (ring->live_tail)
		ring->live_tail->live_next = rc;
	else
		ring->live = rc;
	ring->live_tail = rc;
}

static void ring_live_unlink(struct tcmu_ring *ring, struct ring_cmd *rc)
{
	if (rc->live_prev)
		rc->live_prev->live_next = rc->live_next;
	else
		ring->live = rc->live_next;
	if (rc->live_next)
		rc->live_next->live_prev = rc->live_prev;
	else
		ring->live_tail = rc->live_prev;
	rc->live_prev = rc->live_next = NULL;
}

struct tcmu_cmd *tcmu_ring_find(struct tcmu_ring *ring, uint16_t cmd_id)
{
	struct ring_cmd *rc;

	pthread_mutex_lock(&ring->lock);
	for (rc = ring->live; rc; rc = rc->live_next)
		if (rc->cmd.cmd_id == cmd_id && rc->gen == ring->gen)
			break;
	pthread_mutex_unlock(&ring->lock);
	return rc ? &rc->cmd : NULL;
}

void tcmu_ring_for_each(struct tcmu_ring *ring,
			void (*fn)(void *opaque, struct tcmu_cmd *cmd), void *opaque)
{
	struct ring_cmd *rc;

	pthread_mutex_lock(&ring->lock);
	for (rc = ring->live; rc; rc = rc->live_next)
		fn(opaque, &rc->cmd);
	pthread_mutex_unlock(&ring->lock);
}

int tcmu_cdb_len(const uint8_t *cdb, size_t avail)
{
	switch (cdb[0] >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 4:
		return 16;
	case 5:
		return 12;
	case 3:
		if (cdb[0] == VARIABLE_LENGTH_CMD) {
			if (avail < 8)
				return -1;
			return 8 + cdb[7];
		}
		return 16;	/* reserved group: take the most a kernel sends */
	default:
		return 16;	/* vendor specific groups 6 and 7 */
	}
}

static bool range_ok(const struct tcmu_ring *ring, uint64_t off, uint64_t len,
		     size_t lo)
{
	return off >= lo && off <= ring->map_size && len <= ring->map_size - off;
}

/*
 * Copy the CDB and iovecs of the CMD entry at @ent (@len bytes of slot)
 * into @rc. Returns false, with a log line, when the entry points outside
 * the map.
 */
static bool ring_parse_cmd(struct tcmu_ring *ring, const struct tcmu_cmd_entry *ent,
			   uint32_t len, struct ring_cmd *rc)
{
	size_t base = offsetof(struct tcmu_cmd_entry, req.iov);
	uint32_t iov_cnt = ent->req.iov_cnt;
	uint64_t cdb_off = ent->req.cdb_off;
	const uint8_t *cdb;
	size_t avail;
	int cdb_len;
	uint32_t i;

	if (len < base || iov_cnt > (len - base) / sizeof(struct iovec)) {
		ring_err(ring, "cmd %u: %u iovecs do not fit its %u byte entry",
			 ent->hdr.cmd_id, iov_cnt, len);
		return false;
	}
	if (!range_ok(ring, cdb_off, 1, 0)) {
		ring_err(ring, "cmd %u: CDB offset %llu outside the map",
			 ent->hdr.cmd_id, (unsigned long long)cdb_off);
		return false;
	}
	cdb = ring->map + cdb_off;
	avail = ring->map_size - cdb_off;
	cdb_len = tcmu_cdb_len(cdb, avail);
	if (cdb_len < 0 || (size_t)cdb_len > avail || cdb_len > TCMU_MAX_CDB_LEN) {
		ring_err(ring, "cmd %u: CDB of opcode 0x%02x runs past the map",
			 ent->hdr.cmd_id, cdb[0]);
		return false;
	}
	memcpy(rc->cdb_buf, cdb, cdb_len);
	rc->cmd.cdb_len = cdb_len;
	rc->cmd.data_len = 0;
	for (i = 0; i < iov_cnt; i++) {
		uint64_t off = (uintptr_t)ent->req.iov[i].iov_base;
		uint64_t n = ent->req.iov[i].iov_len;

		if (!range_ok(ring, off, n, ring->data_off)) {
			ring_err(ring, "cmd %u: iovec %u (%llu+%llu) outside the data area",
				 ent->hdr.cmd_id, i, (unsigned long long)off,
				 (unsigned long long)n);
			return false;
		}
		rc->cmd.iov[i].iov_base = ring->map + off;
		rc->cmd.iov[i].iov_len = n;
		rc->cmd.data_len += n;
	}
	rc->cmd.iov_cnt = iov_cnt;
	return true;
}

static void ring_report_tmr(struct tcmu_ring *ring, const uint8_t *slot, uint32_t len,
			    void (*tmr_fn)(void *, const struct tcmu_tmr *),
			    void *opaque)
{
	const struct tcmu_tmr_entry *te = (const void *)slot;
	struct tcmu_tmr tmr;
	size_t base = offsetof(struct tcmu_tmr_entry, cmd_ids);

	if (len < base || te->cmd_cnt > (len - base) / sizeof(uint16_t)) {
		ring_err(ring, "TMR entry of %u bytes claims %u commands",
			 len, len < base ? 0 : te->cmd_cnt);
		return;
	}
	ring_dbg(ring, "TMR type %u for %u commands", te->tmr_type, te->cmd_cnt);
	if (!tmr_fn)
		return;
	tmr.type = te->tmr_type;
	tmr.cmd_cnt = te->cmd_cnt;
	tmr.cmd_ids = (const uint16_t *)(slot + base);	/* 2-aligned in the slot */
	tmr_fn(opaque, &tmr);
}

/* Mark the slot at our consumer offset as answered by us (unknown type). */
static void ring_answer_unknown(struct tcmu_ring *ring, struct tcmu_cmd_entry *ent)
{
	ring_err(ring, "unknown ring entry type %u, answering UNKNOWN_OP",
		 tcmu_hdr_get_op(ent->hdr.len_op));
	ent->hdr.uflags |= TCMU_UFLAG_UNKNOWN_OP;
}

/* Bytes the kernel has queued from ring offset @from up to @head. */
static uint32_t ring_dist(const struct tcmu_ring *ring, uint32_t from, uint32_t head)
{
	return head >= from ? head - from : ring->cmdr_size - from + head;
}

/* The entry's iov_cnt, or fewer if that many would not fit in it. */
static uint32_t ring_iov_fit(const struct tcmu_cmd_entry *ent, uint32_t len)
{
	uint32_t fit = (len - offsetof(struct tcmu_cmd_entry, req.iov)) /
		       sizeof(struct iovec);

	return ent->req.iov_cnt < fit ? ent->req.iov_cnt : fit;
}

/* Step cmd_tail over slots that need no answer; returns the first that
 * does, or NULL if none is left before the kernel's head. */
static struct tcmu_cmd_entry *ring_tail_slot(struct tcmu_ring *ring, uint32_t *tail)
{
	uint32_t head = __atomic_load_n(&ring->mb->cmd_head, __ATOMIC_ACQUIRE);

	if (head >= ring->cmdr_size)
		return NULL;
	while (*tail != head) {
		struct tcmu_cmd_entry *ent = (void *)(ring->cmdr + *tail);
		uint32_t len, op;

		if (ring->cmdr_size - *tail < sizeof(ent->hdr))
			return NULL;
		len = tcmu_hdr_get_len(ent->hdr.len_op);
		op = tcmu_hdr_get_op(ent->hdr.len_op);
		if (len < sizeof(ent->hdr) || len > ring->cmdr_size - *tail ||
		    len > ring_dist(ring, *tail, head))
			return NULL;
		if (op == TCMU_OP_CMD)
			return len >= sizeof(*ent) ? ent : NULL;
		*tail = (*tail + len) % ring->cmdr_size;
	}
	return NULL;
}

/*
 * What identifies the command slot at @at: its header, its CDB offset and
 * the first bytes of its CDB, if the CDB lies in the slot (the kernel puts
 * it there). Nothing else: bytes outside the slot are others' to write
 * (answers into other slots, READ data), and must not look like a reset.
 */
static void ring_fingerprint(const struct tcmu_ring *ring, uint32_t at, uint8_t *fp)
{
	const struct tcmu_cmd_entry *ent = (const void *)(ring->cmdr + at);
	uint64_t cdb_off = ent->req.cdb_off;
	uint64_t slot = (uint64_t)(ring->cmdr - ring->map) + at;
	uint32_t slot_len = tcmu_hdr_get_len(ent->hdr.len_op);

	memset(fp, 0, RING_FP_LEN);
	memcpy(fp, &ent->hdr, sizeof(ent->hdr));
	memcpy(fp + sizeof(ent->hdr), &cdb_off, sizeof(cdb_off));
	if (cdb_off >= slot && cdb_off < slot + slot_len) {
		const uint8_t *cdb = ring->map + cdb_off;
		size_t avail = slot + slot_len - cdb_off;
		int len = tcmu_cdb_len(cdb, avail);

		if (len > 16)
			len = 16;
		if (len > 0 && (size_t)len <= avail)
			memcpy(fp + RING_FP_LEN - 16, cdb, len);
	}
}

/* Lock held: fingerprint the oldest command we have not answered, if the
 * kernel has published one. Nobody writes that slot but a reset. */
static void ring_snap_take(struct tcmu_ring *ring)
{
	uint32_t at = ring->tail;

	ring->snap_ok = ring_tail_slot(ring, &at) != NULL;
	if (ring->snap_ok) {
		ring->snap_at = at;
		ring_fingerprint(ring, at, ring->snap);
	}
}

/*
 * Lock held. Has the kernel reset the ring since we last looked (see the
 * top of this file)? @next is our consumer offset, or UINT32_MAX when the
 * caller does not own it. A reset starts a new generation: commands taken
 * before it are dropped when they complete.
 */
static void ring_check_reset(struct tcmu_ring *ring, uint32_t next)
{
	uint32_t tail = __atomic_load_n(&ring->mb->cmd_tail, __ATOMIC_ACQUIRE);
	uint32_t head = __atomic_load_n(&ring->mb->cmd_head, __ATOMIC_ACQUIRE);
	bool head_ok = head < ring->cmdr_size && !(head % TCMU_OP_ALIGN_SIZE);
	bool reset;

	tail %= ring->cmdr_size;
	/* Only a reset moves cmd_tail but us. */
	reset = tail != ring->tail;
	/* The kernel never writes over slots we have not answered. */
	if (!reset && head_ok && next != UINT32_MAX)
		reset = ring_dist(ring, tail, next) > ring_dist(ring, tail, head);
	if (!reset && head_ok && ring->snap_ok) {
		/* The slot was published, so cmd_head is past it unless a reset
		 * brought it back; only past it has the kernel finished writing
		 * it (the acquire of cmd_head), and may we read it. */
		uint8_t fp[RING_FP_LEN];

		reset = ring_dist(ring, tail, head) <= ring_dist(ring, tail, ring->snap_at);
		if (!reset) {
			ring_fingerprint(ring, ring->snap_at, fp);
			reset = memcmp(fp, ring->snap, RING_FP_LEN) != 0;
		}
	}
	if (!reset) {
		if (!ring->snap_ok)
			ring_snap_take(ring);
		return;
	}
	ring_warn(ring, "ring reset behind our back (cmd_tail %u, ours %u, cmd_head %u): "
		  "starting again at %u; the kernel failed the %u commands we hold, "
		  "their answers are dropped", tail, ring->tail, head, tail, ring->inflight);
	ring->gen++;
	ring->tail = tail;
	ring->resync = true;
	ring_snap_take(ring);
}

struct tcmu_cmd *tcmu_ring_next(struct tcmu_ring *ring,
				void (*tmr_fn)(void *, const struct tcmu_tmr *),
				void *opaque)
{
	for (;;) {
		uint32_t head;
		struct tcmu_cmd_entry *ent;
		struct ring_cmd *rc;
		uint32_t len, op;

		pthread_mutex_lock(&ring->lock);
		ring_check_reset(ring, ring->next);
		if (ring->resync) {
			ring->next = ring->tail;
			ring->resync = false;
		}
		pthread_mutex_unlock(&ring->lock);
		head = __atomic_load_n(&ring->mb->cmd_head, __ATOMIC_ACQUIRE);
		if (head >= ring->cmdr_size || head % TCMU_OP_ALIGN_SIZE) {
			ring_err(ring, "kernel's cmd_head %u is not in the ring", head);
			return NULL;
		}
		if (ring->next == head)
			return NULL;
		ent = (void *)(ring->cmdr + ring->next);
		if (ring->cmdr_size - ring->next < sizeof(ent->hdr)) {
			ring_err(ring, "entry header at %u crosses the ring's end", ring->next);
			return NULL;
		}
		len = tcmu_hdr_get_len(ent->hdr.len_op);
		op = tcmu_hdr_get_op(ent->hdr.len_op);
		/* The kernel moves its head past whole entries only: one that
		 * runs past the head would have us lap the ring forever. */
		if (len < sizeof(ent->hdr) || len > ring->cmdr_size - ring->next ||
		    len > ring_dist(ring, ring->next, head)) {
			ring_err(ring, "entry at %u has length %u (head %u); ring of %u is broken",
				 ring->next, len, head, ring->cmdr_size);
			return NULL;
		}
		if (op != TCMU_OP_CMD) {
			if (op == TCMU_OP_TMR)
				ring_report_tmr(ring, (void *)ent, len, tmr_fn, opaque);
			else if (op != TCMU_OP_PAD)
				ring_answer_unknown(ring, ent);
			ring->next = (ring->next + len) % ring->cmdr_size;
			continue;
		}
		if (len < sizeof(struct tcmu_cmd_entry)) {
			ring_err(ring, "CMD entry at %u is only %u bytes", ring->next, len);
			return NULL;
		}
		/* Room for no more iovecs than the entry can hold: a larger
		 * count is refused by ring_parse_cmd, not allocated. */
		rc = ring_cmd_get(ring, ring_iov_fit(ent, len));
		if (!rc) {
			/* Leave the entry where it is: the next call retries. */
			ring_err(ring, "no memory for cmd %u", ent->hdr.cmd_id);
			return NULL;
		}
		pthread_mutex_lock(&ring->lock);
		if (ring->resync) {	/* a completion saw a reset meanwhile */
			rc->next_free = ring->free_list;
			ring->free_list = rc;
			pthread_mutex_unlock(&ring->lock);
			continue;
		}
		rc->cmd.cmd_id = ent->hdr.cmd_id;
		ring->inflight++;
		rc->gen = ring->gen;
		ring_live_link(ring, rc);
		pthread_mutex_unlock(&ring->lock);
		ring->next = (ring->next + len) % ring->cmdr_size;
		if (!ring_parse_cmd(ring, ent, len, rc)) {
			rc->cmd.cdb_len = 0;
			rc->cmd.iov_cnt = 0;
			rc->cmd.data_len = 0;
			scsi_sense_fixed(rc->cmd.sense, SENSE_HARDWARE_ERROR,
					 ASC_INTERNAL_TARGET_FAILURE);
			tcmu_ring_complete(ring, &rc->cmd, SAM_STAT_CHECK_CONDITION);
			continue;
		}
		return &rc->cmd;
	}
}

void tcmu_ring_complete(struct tcmu_ring *ring, struct tcmu_cmd *cmd, uint8_t status)
{
	struct ring_cmd *rc = (struct ring_cmd *)cmd;
	struct tcmu_cmd_entry *ent;
	uint32_t tail;

	pthread_mutex_lock(&ring->lock);
	ring_check_reset(ring, UINT32_MAX);
	if (rc->gen != ring->gen) {
		/* Taken before a reset: the kernel failed it and may have given
		 * its cmd_id to a new command. Nothing is written. */
		ring_dbg(ring, "cmd %u from before the ring's reset: answer dropped",
			 cmd->cmd_id);
		goto out_release;
	}
	tail = ring->tail;
	ent = ring_tail_slot(ring, &tail);
	if (!ent) {
		ring_err(ring, "no ring slot left to complete cmd %u", cmd->cmd_id);
	} else {
		ent->hdr.cmd_id = cmd->cmd_id;
		ent->hdr.uflags = 0;
		ent->rsp.scsi_status = status;
		ent->rsp.read_len = 0;
		if (cmd->has_read_len && status == SAM_STAT_GOOD &&
		    (ring->mb->flags & TCMU_MAILBOX_FLAG_CAP_READ_LEN)) {
			ent->hdr.uflags |= TCMU_UFLAG_READ_LEN;
			ent->rsp.read_len = cmd->read_len;
		}
		if (status == SAM_STAT_CHECK_CONDITION)
			memcpy(ent->rsp.sense_buffer, cmd->sense, TCMU_SENSE_LEN);
		tail = (tail + tcmu_hdr_get_len(ent->hdr.len_op)) % ring->cmdr_size;
	}
	/* Publish the response before the tail that makes it visible. */
	__atomic_store_n(&ring->mb->cmd_tail, tail, __ATOMIC_RELEASE);
	ring->tail = tail;
	ring_snap_take(ring);
	ring->unkicked++;
out_release:
	ring->inflight--;
	ring_live_unlink(ring, rc);
	rc->next_free = ring->free_list;
	ring->free_list = rc;
	pthread_mutex_unlock(&ring->lock);
}

void tcmu_ring_kick(struct tcmu_ring *ring)
{
	uint32_t one = 1;
	bool kick;

	pthread_mutex_lock(&ring->lock);
	kick = ring->unkicked > 0;
	ring->unkicked = 0;
	pthread_mutex_unlock(&ring->lock);
	if (kick && write(ring->fd, &one, sizeof(one)) != sizeof(one))
		ring_err(ring, "notify kernel: %s", strerror(errno));
}
