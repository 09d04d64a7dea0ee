/*
 * ring_sim: the kernel's side of the TCMU mailbox; see ring_sim.h.
 * The comments name the target_core_user.c functions each part follows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ring_sim.h"

#define ROUND8(x) (((x) + 7) & ~(size_t)7)
#define CMD_ID_MAX 0xffff

struct ring_sim {
	uint8_t *map;
	size_t map_size;
	struct tcmu_mailbox *mb;
	uint8_t *cmdr;
	uint32_t cmdr_size;
	size_t data_off;
	int fd[2];			/* [0] ours, [1] the daemon's */

	uint32_t last_cleaned;		/* udev->cmdr_last_cleaned */
	uint8_t *block_used;		/* one byte per SIM_DATA_BLOCK */
	size_t nblocks;
	size_t block_cursor;		/* next-fit allocation */
	struct sim_cmd **by_id;		/* the kernel's xarray */
	struct sim_cmd *cmds;		/* every command, for freeing */
	unsigned int inflight;
	unsigned int kicks;
	bool broken;
	bool blocked;			/* TCMU_DEV_BIT_BLOCKED */
};

uint32_t ring_sim_entry_size(unsigned int iov_cnt, size_t cdb_len)
{
	size_t base = ROUND8(sizeof(struct tcmu_cmd_entry) +
			     iov_cnt * sizeof(struct tcmu_kernel_iovec));

	return base + ROUND8(cdb_len);
}

int ring_sim_new(struct ring_sim **out, const struct ring_sim_cfg *cfg)
{
	struct ring_sim *sim = calloc(1, sizeof(*sim));
	uint32_t cmdr_size = cfg && cfg->cmdr_size ? cfg->cmdr_size : SIM_DEFAULT_CMDR_SIZE;
	size_t data_size = cfg && cfg->data_size ? cfg->data_size : SIM_DEFAULT_DATA_SIZE;

	if (!sim)
		return -ENOMEM;
	if (cmdr_size % 8 || cmdr_size < sizeof(struct tcmu_cmd_entry)) {
		free(sim);
		return -EINVAL;
	}
	sim->cmdr_size = cmdr_size;
	sim->data_off = sizeof(struct tcmu_mailbox) + cmdr_size;
	sim->map_size = sim->data_off + data_size;
	/* Shared, as the kernel's pages are: a test may map it a second
	 * time (mremap with old size 0) for an owner that unmaps its map. */
	sim->map = mmap(NULL, sim->map_size, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sim->map == MAP_FAILED)
		goto out_free;
	sim->nblocks = data_size / SIM_DATA_BLOCK;
	sim->block_used = calloc(sim->nblocks ? sim->nblocks : 1, 1);
	sim->by_id = calloc(CMD_ID_MAX + 1, sizeof(*sim->by_id));
	if (!sim->block_used || !sim->by_id)
		goto out_unmap;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sim->fd) < 0)
		goto out_unmap;
	fcntl(sim->fd[0], F_SETFL, O_NONBLOCK);

	/* tcmu_configure_device(): the mailbox. */
	sim->mb = (struct tcmu_mailbox *)sim->map;
	sim->mb->version = TCMU_MAILBOX_VERSION;
	sim->mb->flags = SIM_DEFAULT_FLAGS;
	sim->mb->cmdr_off = sizeof(struct tcmu_mailbox);
	sim->mb->cmdr_size = cmdr_size;
	sim->cmdr = sim->map + sim->mb->cmdr_off;
	/* Data pages hold whatever was there before. */
	memset(sim->map + sim->data_off, SIM_POISON, data_size);
	*out = sim;
	return 0;

out_unmap:
	free(sim->block_used);
	free(sim->by_id);
	munmap(sim->map, sim->map_size);
out_free:
	free(sim);
	return -ENOMEM;
}

static void cmd_free(struct sim_cmd *c)
{
	free(c->data);
	free(c->seg);
	free(c);
}

void ring_sim_free(struct ring_sim *sim)
{
	struct sim_cmd *c, *next;

	if (!sim)
		return;
	for (c = sim->cmds; c; c = next) {
		next = c->next;
		cmd_free(c);
	}
	close(sim->fd[0]);
	close(sim->fd[1]);
	free(sim->block_used);
	free(sim->by_id);
	munmap(sim->map, sim->map_size);
	free(sim);
}

void *ring_sim_map(struct ring_sim *sim) { return sim->map; }
size_t ring_sim_map_size(struct ring_sim *sim) { return sim->map_size; }
int ring_sim_fd(struct ring_sim *sim) { return sim->fd[1]; }

void ring_sim_hangup(struct ring_sim *sim)
{
	shutdown(sim->fd[0], SHUT_RDWR);
}
struct tcmu_mailbox *ring_sim_mailbox(struct ring_sim *sim) { return sim->mb; }
size_t ring_sim_data_off(struct ring_sim *sim) { return sim->data_off; }
unsigned int ring_sim_inflight(struct ring_sim *sim) { return sim->inflight; }
unsigned int ring_sim_kicks(struct ring_sim *sim) { return sim->kicks; }
bool ring_sim_broken(struct ring_sim *sim) { return sim->broken; }

static uint32_t head_get(struct ring_sim *sim)
{
	return __atomic_load_n(&sim->mb->cmd_head, __ATOMIC_RELAXED);
}

/* Publish entries written so far (the kernel's UPDATE_HEAD + flush). */
static void head_set(struct ring_sim *sim, uint32_t head)
{
	__atomic_store_n(&sim->mb->cmd_head, head % sim->cmdr_size, __ATOMIC_RELEASE);
}

/* spc_free(): the kernel leaves one byte unused so full != empty. */
uint32_t ring_sim_ring_free(struct ring_sim *sim)
{
	uint32_t head = head_get(sim), tail = sim->last_cleaned;
	uint32_t used = head >= tail ? head - tail : sim->cmdr_size - tail + head;

	return sim->cmdr_size - used - 1;
}

/*
 * is_ring_space_avail() + the PAD part of queue_cmd_ring(): make room for
 * an entry of @len bytes at the head. Returns the head offset to write
 * it at, or -ENOSPC.
 */
static int64_t ring_reserve(struct ring_sim *sim, uint32_t len)
{
	uint32_t head = head_get(sim);
	uint32_t to_end = sim->cmdr_size - head;
	uint32_t needed = to_end >= len ? len : len + to_end;
	struct tcmu_cmd_entry_hdr *pad;

	if (len > sim->cmdr_size || ring_sim_ring_free(sim) < needed)
		return -ENOSPC;
	if (to_end >= len)
		return head;
	pad = (void *)(sim->cmdr + head);
	pad->len_op = to_end | TCMU_OP_PAD;
	pad->cmd_id = 0;
	pad->kflags = 0;
	pad->uflags = 0;
	head_set(sim, head + to_end);
	return 0;
}

/* Next-fit: @n free blocks in a row, from the cursor, wrapping once. */
static int64_t blocks_alloc(struct ring_sim *sim, size_t n)
{
	size_t k = 0;

	if (!n || n > sim->nblocks)
		return -ENOSPC;
	while (k < sim->nblocks) {
		size_t start = (sim->block_cursor + k) % sim->nblocks, i;

		if (start + n > sim->nblocks) {
			k += sim->nblocks - start;	/* a run can't wrap */
			continue;
		}
		for (i = 0; i < n && !sim->block_used[start + i]; i++)
			;
		if (i == n) {
			memset(sim->block_used + start, 1, n);
			sim->block_cursor = (start + n) % sim->nblocks;
			return start;
		}
		k += i + 1;
	}
	return -ENOSPC;
}

static void segs_release(struct ring_sim *sim, struct sim_cmd *c)
{
	for (unsigned int i = 0; i < c->nseg; i++)
		memset(sim->block_used + c->seg[i].block, 0, c->seg[i].nblocks);
}

/* The iovecs @req's entry gets. */
static unsigned int req_nseg(const struct sim_req *req)
{
	unsigned int n = req->iov_cnt ? req->iov_cnt : (req->data_len ? 1 : 0);

	if (!req->iov_lens && n > req->data_len)
		n = req->data_len;
	return n;
}

/* Lay out the data buffer: segments, data or poison, guards after each. */
static int data_alloc(struct ring_sim *sim, const struct sim_req *req, struct sim_cmd *c)
{
	unsigned int n = req_nseg(req);
	const uint8_t *src = req->data;
	size_t done = 0;

	if (req->iov_lens) {
		/* The kernel's iovecs cover its buffer exactly; lengths that
		 * add up to more would copy past the caller's data. */
		size_t sum = 0;

		for (unsigned int i = 0; i < n; i++)
			sum += req->iov_lens[i];
		if (sum != req->data_len)
			return -EINVAL;
	}
	c->seg = calloc(n ? n : 1, sizeof(*c->seg));
	if (!c->seg)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		size_t len = req->iov_lens ? req->iov_lens[i]
					   : req->data_len / n + (i < req->data_len % n);
		size_t nb = (len + SIM_GUARD_LEN + SIM_DATA_BLOCK - 1) / SIM_DATA_BLOCK;
		int64_t b = blocks_alloc(sim, nb);
		uint8_t *p;

		if (b < 0) {
			segs_release(sim, c);
			return -ENOSPC;
		}
		c->seg[i].block = b;
		c->seg[i].nblocks = nb;
		c->seg[i].off = sim->data_off + (size_t)b * SIM_DATA_BLOCK;
		c->seg[i].len = len;
		c->nseg = i + 1;
		p = sim->map + c->seg[i].off;
		if (src)
			memcpy(p, src + done, len);
		else
			memset(p, SIM_POISON, len);
		memset(p + len, SIM_GUARD, nb * SIM_DATA_BLOCK - len);
		done += len;
	}
	c->data_len = done;
	return 0;
}

/* xa_alloc(..., XA_LIMIT(1, 0xffff)): the lowest free id. */
static int id_alloc(struct ring_sim *sim)
{
	for (int id = 1; id <= CMD_ID_MAX; id++)
		if (!sim->by_id[id])
			return id;
	return -ENOSPC;
}

static void corrupt_entry(struct ring_sim *sim, struct tcmu_cmd_entry *ent,
			  enum sim_corrupt how, uint32_t ent_len)
{
	switch (how) {
	case SIM_CORRUPT_NONE:
		break;
	case SIM_CORRUPT_IOV_PAST_MAP:
		ent->req.iov[0].iov_base = (void *)(uintptr_t)(sim->map_size + 4096);
		break;
	case SIM_CORRUPT_IOV_IN_RING:
		ent->req.iov[0].iov_base = (void *)(uintptr_t)sizeof(struct tcmu_mailbox);
		break;
	case SIM_CORRUPT_IOV_LEN:
		ent->req.iov[0].iov_len = sim->map_size;
		break;
	case SIM_CORRUPT_IOV_LEN_HUGE:
		ent->req.iov[0].iov_len = (size_t)-1 - 100;
		break;
	case SIM_CORRUPT_CDB_OFF:
		ent->req.cdb_off = sim->map_size + 8;
		break;
	case SIM_CORRUPT_CDB_AT_END:
		/* A READ(16) opcode in the map's last byte. */
		sim->map[sim->map_size - 1] = 0x88;
		ent->req.cdb_off = sim->map_size - 1;
		break;
	case SIM_CORRUPT_IOV_CNT:
		ent->req.iov_cnt = ent_len / sizeof(struct tcmu_kernel_iovec) + 10;
		break;
	case SIM_CORRUPT_IOV_CNT_HUGE:
		ent->req.iov_cnt = 0xffffffff;
		break;
	}
}

/* queue_cmd_ring(). */
int ring_sim_queue(struct ring_sim *sim, const struct sim_req *req, struct sim_cmd **out)
{
	struct tcmu_cmd_entry *ent;
	struct sim_cmd *c;
	uint32_t len;
	int64_t head;
	size_t base;
	int id, err;

	/* tcmu_queue_cmd_ring(): an entry over half the ring is refused,
	 * it would never fit (and a caller retrying on -ENOSPC would spin). */
	if (ring_sim_entry_size(req_nseg(req), req->cdb_len) > sim->cmdr_size / 2)
		return -E2BIG;
	if (sim->blocked)	/* queue_cmd_ring(): TCM_LUN_BUSY */
		return -EBUSY;
	id = id_alloc(sim);
	if (id < 0)
		return id;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	err = data_alloc(sim, req, c);
	if (err) {
		cmd_free(c);
		return err;
	}
	len = ring_sim_entry_size(c->nseg, req->cdb_len);
	head = ring_reserve(sim, len);
	if (head < 0) {
		segs_release(sim, c);
		cmd_free(c);
		return -ENOSPC;
	}
	ent = (void *)(sim->cmdr + head);
	memset(ent, 0, len);
	ent->hdr.len_op = len | TCMU_OP_CMD;
	ent->hdr.cmd_id = id;
	ent->req.iov_cnt = c->nseg;
	for (unsigned int i = 0; i < c->nseg; i++) {
		ent->req.iov[i].iov_base = (void *)(uintptr_t)c->seg[i].off;
		ent->req.iov[i].iov_len = c->seg[i].len;
	}
	/* All offsets relative to the map start, not to the entry. */
	base = ROUND8(sizeof(struct tcmu_cmd_entry) +
		      c->nseg * sizeof(struct tcmu_kernel_iovec));
	ent->req.cdb_off = sim->mb->cmdr_off + head + base;
	memcpy(sim->map + ent->req.cdb_off, req->cdb, req->cdb_len);
	corrupt_entry(sim, ent, req->corrupt, len);

	c->cmd_id = id;
	c->next = sim->cmds;
	sim->cmds = c;
	sim->by_id[id] = c;
	sim->inflight++;
	head_set(sim, head + len);
	*out = c;
	return 0;
}

/* queue_tmr_ring(). */
int ring_sim_queue_tmr(struct ring_sim *sim, uint8_t type,
		       const struct sim_cmd *const *cmds, uint32_t cnt)
{
	uint32_t len = ROUND8(sizeof(struct tcmu_tmr_entry) + cnt * sizeof(uint16_t));
	struct tcmu_tmr_entry *ent;
	int64_t head = ring_reserve(sim, len);

	if (head < 0)
		return -ENOSPC;
	ent = (void *)(sim->cmdr + head);
	memset(ent, 0, len);
	ent->hdr.len_op = len | TCMU_OP_TMR;
	ent->tmr_type = type;
	ent->cmd_cnt = cnt;
	for (uint32_t i = 0; i < cnt; i++)
		ent->cmd_ids[i] = cmds[i]->cmd_id;
	head_set(sim, head + len);
	return 0;
}

int ring_sim_queue_raw(struct ring_sim *sim, unsigned int op, uint32_t len)
{
	struct tcmu_cmd_entry_hdr *hdr;
	int64_t head;

	len = ROUND8(len < sizeof(*hdr) ? sizeof(*hdr) : len);
	head = ring_reserve(sim, len);
	if (head < 0)
		return -ENOSPC;
	hdr = (void *)(sim->cmdr + head);
	memset(hdr, 0, len);
	hdr->len_op = len | (op & TCMU_OP_MASK);
	head_set(sim, head + len);
	return 0;
}

void ring_sim_notify(struct ring_sim *sim)
{
	uint32_t one = 1;

	/* A full socket already wakes the daemon: nothing lost. */
	if (write(sim->fd[0], &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("ring_sim_notify");
}

static void drain_kicks(struct ring_sim *sim)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(sim->fd[0], buf, sizeof(buf))) > 0)
		sim->kicks += n / 4;
}

static void decode_sense(struct sim_cmd *c)
{
	uint8_t rc = c->sense[0] & 0x7f;

	if (rc == 0x72 || rc == 0x73) {
		c->key = c->sense[1] & 0xf;
		c->asc = c->sense[2];
		c->ascq = c->sense[3];
	} else {
		c->key = c->sense[2] & 0xf;
		c->asc = c->sense[12];
		c->ascq = c->sense[13];
	}
}

/* tcmu_handle_completion(): status, sense, data back, space freed. */
static void complete_cmd(struct ring_sim *sim, struct sim_cmd *c,
			 const struct tcmu_cmd_entry *ent)
{
	size_t done = 0;

	c->status = ent->rsp.scsi_status;
	c->uflags = ent->hdr.uflags;
	c->has_read_len = c->uflags & TCMU_UFLAG_READ_LEN;
	c->read_len = c->has_read_len ? ent->rsp.read_len : 0;
	/* The kernel takes the smaller of the two; more than the buffer
	 * is a daemon bug, which it would hide. */
	c->read_len_ok = !c->has_read_len || c->read_len <= c->data_len;
	if (c->uflags & TCMU_UFLAG_UNKNOWN_OP)
		c->status = 0x02;	/* the kernel fails such a command */
	if (c->status == 0x02) {
		memcpy(c->sense, ent->rsp.sense_buffer, sizeof(c->sense));
		decode_sense(c);
	}
	c->data = malloc(c->data_len ? c->data_len : 1);
	c->guard_ok = true;
	for (unsigned int i = 0; i < c->nseg; i++) {
		const uint8_t *p = sim->map + c->seg[i].off;
		size_t glen = c->seg[i].nblocks * SIM_DATA_BLOCK - c->seg[i].len;

		if (c->data)
			memcpy(c->data + done, p, c->seg[i].len);
		done += c->seg[i].len;
		for (size_t g = 0; g < glen; g++)
			if (p[c->seg[i].len + g] != SIM_GUARD)
				c->guard_ok = false;
	}
	segs_release(sim, c);
	sim->by_id[c->cmd_id] = NULL;
	sim->inflight--;
	c->done = true;
}

/* tcmu_handle_completions(). */
int ring_sim_reap(struct ring_sim *sim)
{
	uint32_t tail;
	int n = 0;

	/* Kicks first: a kick read after the tail was would be lost. */
	drain_kicks(sim);
	tail = __atomic_load_n(&sim->mb->cmd_tail, __ATOMIC_ACQUIRE);
	if (sim->broken)
		return -EIO;
	while (sim->last_cleaned != tail) {
		struct tcmu_cmd_entry *ent = (void *)(sim->cmdr + sim->last_cleaned);
		uint32_t len = tcmu_hdr_get_len(ent->hdr.len_op);
		unsigned int op = tcmu_hdr_get_op(ent->hdr.len_op);
		struct sim_cmd *c;

		if (tail >= sim->cmdr_size || !len ||
		    len > sim->cmdr_size - sim->last_cleaned) {
			fprintf(stderr, "ring_sim: slot at %u of length %u, tail %u: broken\n",
				sim->last_cleaned, len, tail);
			sim->broken = true;
			return -EIO;
		}
		if (op == TCMU_OP_CMD) {
			c = sim->by_id[ent->hdr.cmd_id];
			if (!c) {
				fprintf(stderr, "ring_sim: cmd_id %u not found, ring is broken\n",
					ent->hdr.cmd_id);
				sim->broken = true;
				return -EIO;
			}
			complete_cmd(sim, c, ent);
			n++;
		}
		sim->last_cleaned = (sim->last_cleaned + len) % sim->cmdr_size;
	}
	return n;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ring_sim_wait(struct ring_sim *sim, struct sim_cmd *cmd, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = sim->fd[0], .events = POLLIN };
		long left;

		if (cmd ? cmd->done : sim->inflight == 0)
			return 0;
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -errno;
		if ((pfd.revents & POLLIN) && ring_sim_reap(sim) < 0)
			return -EIO;
	}
}

int ring_sim_wait_any(struct ring_sim *sim, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	int n = 0;

	while (n == 0) {
		struct pollfd pfd = { .fd = sim->fd[0], .events = POLLIN };
		long left = deadline - now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -errno;
		if (pfd.revents & POLLIN)
			n = ring_sim_reap(sim);
	}
	return n < 0 ? -EIO : n;
}

struct sim_cmd *ring_sim_run(struct ring_sim *sim, const struct sim_req *req,
			     int timeout_ms)
{
	struct sim_cmd *c;

	if (ring_sim_queue(sim, req, &c))
		return NULL;
	ring_sim_notify(sim);
	if (ring_sim_wait(sim, c, timeout_ms))
		return NULL;
	return c;
}

void ring_sim_cmd_free(struct ring_sim *sim, struct sim_cmd *cmd)
{
	struct sim_cmd **pp;

	if (!cmd || !cmd->done)
		return;
	for (pp = &sim->cmds; *pp; pp = &(*pp)->next) {
		if (*pp == cmd) {
			*pp = cmd->next;
			cmd_free(cmd);
			return;
		}
	}
}

/* tcmu_block_dev(): completions first, then no new command. */
int ring_sim_block(struct ring_sim *sim, bool on)
{
	int n = 0;

	if (on && !sim->blocked)
		n = ring_sim_reap(sim);
	sim->blocked = on;
	return n;
}

bool ring_sim_blocked(struct ring_sim *sim) { return sim->blocked; }

/* tcmu_reset_ring(). */
int ring_sim_reset(struct ring_sim *sim, int level)
{
	int n = 0;

	if (level != 1 && level != 2)
		return -EINVAL;
	for (int id = 1; id <= CMD_ID_MAX; id++) {
		struct sim_cmd *c = sim->by_id[id];

		if (!c)
			continue;
		/* 1: "userspace was not able to start the command or it is
		 * retryable"; 2: a hard failure. */
		c->status = level == 1 ? 0x08 : 0x02;
		c->reset = true;
		c->guard_ok = true;
		c->read_len_ok = true;
		c->done = true;
		segs_release(sim, c);
		sim->by_id[id] = NULL;
		sim->inflight--;
		n++;
	}
	sim->last_cleaned = 0;
	__atomic_store_n(&sim->mb->cmd_tail, 0, __ATOMIC_RELEASE);
	head_set(sim, 0);
	sim->broken = false;
	return n;
}
