/*
 * ring_sim: the kernel's side of a TCMU device (target_core_user), in
 * ordinary memory, for tests.
 *
 * The map is laid out as the kernel lays it out: struct tcmu_mailbox at
 * offset 0 (version 2, flags OOOC|READ_LEN|TMR|KEEP_BUF), the command ring
 * at cmdr_off = sizeof(struct tcmu_mailbox), the data area right after the
 * ring. Commands are queued as the kernel queues them (entries rounded up
 * to 8 bytes, iovecs holding offsets from the map start, the CDB after
 * the iovec array, a PAD entry when an entry would not fit before the
 * ring's end, lowest free cmd_id from 1) and completions are collected as
 * the kernel collects them (from the last cleaned offset to cmd_tail,
 * stepping over PAD and TMR, looking the command up by each slot's
 * cmd_id). Ring and data space are given back only when collected.
 *
 * The daemon's end of a socketpair stands in for the UIO fd: the
 * simulator "notifies" by writing 4 bytes to it, and the daemon's kicks
 * arrive as 4-byte writes that ring_sim_wait() reads before it collects,
 * as the kernel collects on a write to /dev/uioN. Plug it into
 * tcmu_ring_new(ring_sim_fd(), ring_sim_map(), ring_sim_map_size(), ...)
 * or dev_new(..., ring_sim_fd(), ring_sim_map(), ring_sim_map_size(),
 * false, log). The simulator owns the map and both fds; free it after
 * whatever uses them.
 *
 * One thread drives the simulator; the daemon's threads only touch the
 * map and the fd, as they would touch the kernel's.
 *
 * Part of tcmu-sim (and the unit tests): a handler's author runs the real
 * device code on it without LIO. Licensed under the Apache License, 2.0.
 */
#ifndef RING_SIM_H
#define RING_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcmu_uapi.h"

/* Bytes the simulator writes into buffers it hands out without data. */
#define SIM_POISON 0xee
/* Bytes after each buffer, checked when the command completes. */
#define SIM_GUARD 0xcc
#define SIM_GUARD_LEN 64
/* Data area allocation unit. */
#define SIM_DATA_BLOCK 512

#define SIM_DEFAULT_CMDR_SIZE (64 * 1024)
#define SIM_DEFAULT_DATA_SIZE (4 * 1024 * 1024)
#define SIM_DEFAULT_FLAGS                                                   \
	(TCMU_MAILBOX_FLAG_CAP_OOOC | TCMU_MAILBOX_FLAG_CAP_READ_LEN |     \
	 TCMU_MAILBOX_FLAG_CAP_TMR | TCMU_MAILBOX_FLAG_CAP_KEEP_BUF)

struct ring_sim_cfg {
	uint32_t cmdr_size;	/* ring bytes, a multiple of 8 (0: 64 KiB) */
	size_t data_size;	/* data area bytes (0: 4 MiB) */
};

/* Ways to break an entry, for negative tests. */
enum sim_corrupt {
	SIM_CORRUPT_NONE,
	SIM_CORRUPT_IOV_PAST_MAP,	/* iov[0] starts past the map's end */
	SIM_CORRUPT_IOV_IN_RING,	/* iov[0] points into the command ring */
	SIM_CORRUPT_IOV_LEN,		/* iov[0] runs past the map's end */
	SIM_CORRUPT_IOV_LEN_HUGE,	/* iov[0] length wraps the address space */
	SIM_CORRUPT_CDB_OFF,		/* cdb_off past the map's end */
	SIM_CORRUPT_CDB_AT_END,		/* CDB's last bytes past the map's end */
	SIM_CORRUPT_IOV_CNT,		/* iov_cnt larger than the entry holds */
	SIM_CORRUPT_IOV_CNT_HUGE,	/* iov_cnt 0xffffffff */
};

struct sim_req {
	const uint8_t *cdb;
	size_t cdb_len;
	size_t data_len;	/* bytes of data buffer; 0: none */
	const void *data;	/* copied into the buffer; NULL: SIM_POISON */
	unsigned int iov_cnt;	/* split the buffer evenly (0: one iovec) */
	const size_t *iov_lens;	/* or exactly these iov_cnt lengths */
	enum sim_corrupt corrupt;
};

/* A queued command and, once done, what the kernel would have seen. */
struct sim_cmd {
	uint16_t cmd_id;
	bool done;
	uint8_t status;			/* rsp.scsi_status */
	uint8_t uflags;			/* the slot's uflags at completion */
	/* rsp.read_len when uflags has TCMU_UFLAG_READ_LEN: the data-in
	 * bytes the kernel reports, the rest of data_len being residual. */
	bool has_read_len;
	uint32_t read_len;
	bool read_len_ok;		/* no READ_LEN, or one within data_len */
	uint8_t sense[TCMU_SENSE_BUFFERSIZE];	/* when CHECK CONDITION */
	uint8_t key, asc, ascq;		/* decoded, fixed or descriptor */
	uint8_t *data;			/* the buffer at completion */
	size_t data_len;
	bool guard_ok;			/* nothing written past any iovec */
	bool reset;			/* failed by ring_sim_reset, not answered */

	/* simulator bookkeeping */
	struct sim_cmd *next;
	unsigned int nseg;
	struct sim_seg {
		size_t off, len;	/* iovec: map offset and length */
		size_t block, nblocks;	/* allocation */
	} *seg;
};

struct ring_sim;

int ring_sim_new(struct ring_sim **out, const struct ring_sim_cfg *cfg);
void ring_sim_free(struct ring_sim *sim);

void *ring_sim_map(struct ring_sim *sim);
size_t ring_sim_map_size(struct ring_sim *sim);
/* The daemon's end: the stand-in for /dev/uioN. */
int ring_sim_fd(struct ring_sim *sim);
struct tcmu_mailbox *ring_sim_mailbox(struct ring_sim *sim);
size_t ring_sim_data_off(struct ring_sim *sim);

/*
 * Queue a command (not notified yet). 0 and *out (owned by the
 * simulator until ring_sim_free, or ring_sim_cmd_free once done);
 * -ENOSPC when the ring, the data area or the cmd_ids are full;
 * -E2BIG for an entry (its iovec count) over half the ring, which the
 * kernel refuses; -EINVAL when iov_lens do not add up to data_len.
 */
int ring_sim_queue(struct ring_sim *sim, const struct sim_req *req,
		   struct sim_cmd **out);
/* Queue a TMR notification naming @cnt commands. */
int ring_sim_queue_tmr(struct ring_sim *sim, uint8_t type,
		       const struct sim_cmd *const *cmds, uint32_t cnt);
/* Queue an entry of opcode @op (not CMD/TMR/PAD) and @len bytes. */
int ring_sim_queue_raw(struct ring_sim *sim, unsigned int op, uint32_t len);
/* Tell the daemon: write 4 bytes to its fd, as uio_event_notify does. */
void ring_sim_notify(struct ring_sim *sim);

/*
 * Collect completions up to cmd_tail, as tcmu_handle_completions does.
 * Returns how many commands completed, or -EIO when a slot names no
 * command in flight (the kernel marks the ring broken then).
 */
int ring_sim_reap(struct ring_sim *sim);
/* Wait for the daemon's kicks, collecting on each, until @cmd is done
 * (NULL: until nothing is in flight). 0, -ETIMEDOUT or -EIO. */
int ring_sim_wait(struct ring_sim *sim, struct sim_cmd *cmd, int timeout_ms);
/* Wait for the daemon's next kick and collect: how many completed (at
 * least one), -ETIMEDOUT or -EIO. For closed loops (tcmu-sim bench). */
int ring_sim_wait_any(struct ring_sim *sim, int timeout_ms);
/* Queue, notify and wait; NULL if it could not be queued or timed out. */
struct sim_cmd *ring_sim_run(struct ring_sim *sim, const struct sim_req *req,
			     int timeout_ms);
/* Forget a completed command early (big loops). */
void ring_sim_cmd_free(struct ring_sim *sim, struct sim_cmd *cmd);

unsigned int ring_sim_inflight(struct ring_sim *sim);
/*
 * configfs action/block_dev (tcmu_block_dev, tcmu_unblock_dev): blocking
 * collects the completions already written, as the kernel does, and
 * until unblocked ring_sim_queue refuses with -EBUSY (the kernel answers
 * the initiator BUSY). Returns what ring_sim_reap did (0 when unblocking).
 */
int ring_sim_block(struct ring_sim *sim, bool on);
bool ring_sim_blocked(struct ring_sim *sim);
/*
 * configfs action/reset_ring (tcmu_reset_ring): every command in flight
 * is failed, with BUSY for @level 1 and CHECK CONDITION without sense for
 * 2, marked ->reset, its cmd_id and data freed; cmd_head = cmd_tail = 0
 * and the ring is no longer broken. Returns how many commands it failed,
 * or -EINVAL for another level (the kernel refuses those).
 */
int ring_sim_reset(struct ring_sim *sim, int level);
/* Hang up the daemon's end, as a vanished UIO device does (POLLHUP). */
void ring_sim_hangup(struct ring_sim *sim);
/* 4-byte kicks read from the daemon so far. */
unsigned int ring_sim_kicks(struct ring_sim *sim);
/* Bytes of ring free, as the kernel counts them (one is never used). */
uint32_t ring_sim_ring_free(struct ring_sim *sim);
/* True once a completion named an unknown cmd_id. */
bool ring_sim_broken(struct ring_sim *sim);

/* Entry size the kernel uses for a command with @iov_cnt iovecs. */
uint32_t ring_sim_entry_size(unsigned int iov_cnt, size_t cdb_len);

#endif
