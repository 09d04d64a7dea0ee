/*
 * tcmu-runner handler API: everything a storage backend plugin needs.
 *
 * A handler is a shared object named handler_<subtype>.so in the plugin
 * directory. It includes only this header and defines its table with
 * TCMUR_REGISTER_HANDLER(). The daemon serves every TCMU device whose
 * config string starts with "<subtype>/" through it: the daemon answers
 * INQUIRY, MODE SENSE, READ CAPACITY and the other SCSI housekeeping, and
 * calls the handler for data: read, write, flush and, optionally, unmap.
 *
 * Versioning: the daemon loads a handler whose major version equals its
 * own and reads only the fields that the handler's struct_size covers, so
 * a handler built against an older minor version keeps working. Fields
 * are only ever appended; a field a handler leaves NULL or zero means the
 * documented default.
 *
 * Threads: open/close/reconfig run on the daemon's main thread, with no
 * I/O in flight on the device (see reconfig for what it guarantees).
 * read/write/flush/unmap run on the device's I/O threads as the
 * handler's thread_model says (and, with inline_io, first on the
 * device's own thread, where they must not wait). A handler may also
 * return TCMU_STS_ASYNC from an I/O operation and complete the command
 * later with tcmur_cmd_complete(), from any thread (a library callback,
 * say); the daemon keeps the command's buffers valid until then. abort
 * (API 1.3) runs on the device's own thread and must not block.
 *
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef TCMU_RUNNER_H
#define TCMU_RUNNER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TCMUR_HANDLER_API_MAJOR 1
#define TCMUR_HANDLER_API_MINOR 7
#define TCMUR_HANDLER_API_VERSION \
	((TCMUR_HANDLER_API_MAJOR << 16) | TCMUR_HANDLER_API_MINOR)

/*
 * Outcome of a SCSI command: the SCSI status byte (SAM-5), or one of two
 * values that are never sent to the kernel. Not an errno.
 */
typedef enum {
	TCMU_STS_GOOD = 0x00,
	TCMU_STS_CHECK_CONDITION = 0x02,	/* sense data set in the cmd */
	TCMU_STS_BUSY = 0x08,
	TCMU_STS_TASK_SET_FULL = 0x28,
	/* API 1.3: an aborted command's end (see abort); the kernel drops
	 * the status of an aborted command whatever it is. */
	TCMU_STS_TASK_ABORTED = 0x40,
	TCMU_STS_ASYNC = 0x100,		/* handler completes it later */
	TCMU_STS_NOT_HANDLED = 0x101,	/* handle_cmd: use the emulation */
	/* API 1.3: a read/write/flush called with cmd->nowait would have
	 * to wait; the daemon calls it again on an I/O thread. */
	TCMU_STS_AGAIN = 0x102,
} tcmu_sts;

/* A TCMU device as a handler sees it (opaque; use the accessors). */
struct tcmur_device;

/* One SCSI command. The handler may read every field and set hpriv. */
struct tcmur_cmd {
	const uint8_t *cdb;
	unsigned int cdb_len;
	struct iovec *iov;	/* the data buffers, in the kernel's ring */
	size_t iov_cnt;
	size_t data_len;	/* bytes the initiator transfers */
	bool fua;		/* write must be on stable storage at completion */
	void *hpriv;		/* the handler's, for an async command */
	/* API 1.3 (handlers with inline_io only): set while read, write or
	 * flush is called on the device's own thread, which serves the
	 * ring: the call must not wait (for a disk, a lock, the network).
	 * It finishes at once, starts asynchronous I/O and returns
	 * TCMU_STS_ASYNC, or returns TCMU_STS_AGAIN to be called again,
	 * with nowait false, on an I/O thread. */
	bool nowait;
};

enum tcmur_thread_model {
	/* I/O operations are called one at a time, on one thread. */
	TCMUR_THREAD_SERIAL = 0,
	/* I/O operations run concurrently on nr_threads threads. */
	TCMUR_THREAD_PARALLEL = 1,
};

/*
 * What a RECONFIG event changes: only what really changes is flagged
 * (a size or write cache setting equal to the current one is not), and
 * the kernel sends one change per event. has_size and has_write_cache
 * reach handlers of API 1.2 and later only; for older ones the daemon
 * applies them without asking, as it always did.
 */
struct tcmur_reconfig {
	bool has_config, has_size, has_write_cache;
	const char *config;	/* the handler part, after "<subtype>/" */
	uint64_t size;		/* bytes */
	bool write_cache;
};

/* API 1.5: who holds a backend's exclusive lock (see tcmur_handler.lock_owner). */
enum tcmur_lock_owner {
	TCMUR_LOCK_NONE = 0,	/* nobody holds it yet, or the handler cannot tell */
	TCMUR_LOCK_OURS = 1,	/* this daemon's connection holds it */
	TCMUR_LOCK_THEIRS = 2,	/* another client (another gateway) holds it */
};

/* API 1.4: one of a handler's health figures (see tcmur_handler.health). */
struct tcmur_health {
	char name[32];
	uint64_t value;
	char text[64];
};

struct tcmur_handler {
	/* Filled by TCMUR_REGISTER_HANDLER; the loader checks both. */
	uint32_t struct_size;
	uint32_t api_version;

	/* Human-readable name, e.g. "File-backed storage". Required. */
	const char *name;
	/* Config strings "<subtype>/..." are ours. Required, no '/'. */
	const char *subtype;
	/* Help for the config string, shown by targetcli. Required. */
	const char *cfg_desc;

	/* Bytes of per-device state the daemon allocates (zeroed) for us;
	 * tcmur_dev_private() returns it. */
	size_t dev_private_size;
	enum tcmur_thread_model thread_model;
	/* Threads for TCMUR_THREAD_PARALLEL (0: the daemon picks 4). */
	unsigned int nr_threads;

	/*
	 * Optional. A worker thread of the daemon's, any time, possibly
	 * several at once (also with no device: targetcli's CheckConfig,
	 * ChangeMedium), so it may block but must not touch a device.
	 * @cfg is the handler part of the config string.
	 * Returns true if it would open; else false and a malloc'ed
	 * *reason (freed by the caller) saying why.
	 */
	bool (*check_config)(const char *cfg, char **reason);

	/*
	 * Required. Main thread. Open the backing store of @dev; @reopen is
	 * true when the daemon reopens after a config change. Returns 0 or
	 * -errno, having logged why with tcmu_dev_err().
	 */
	int (*open)(struct tcmur_device *dev, bool reopen);
	/* Required. No I/O in flight. Undo open. Main thread; or, for a
	 * device removed while the handler still held commands, the
	 * device's own thread once the last of them completed. */
	void (*close)(struct tcmur_device *dev);

	/*
	 * Optional. Main thread, with the device paused: no I/O in flight,
	 * and none starts before it returns. Apply the changes @rc flags: a
	 * new config string, size (bytes) or write cache setting. While it
	 * runs, tcmur_dev_config/size/write_cache() still return the old
	 * values; @rc holds the new ones.
	 * Returns 0 once applied: the daemon takes the new values and, before
	 * the next command runs, raises the unit attention each calls for
	 * (MEDIUM MAY HAVE CHANGED, CAPACITY DATA HAS CHANGED, MODE
	 * PARAMETERS CHANGED). -EOPNOTSUPP (and a NULL reconfig): the daemon
	 * closes the device and opens it again (reopen true) with the new
	 * values, or, if that open fails, with the old ones, and refuses the
	 * change. Any other -errno refuses it: the kernel fails the configfs
	 * write with it, the device keeps its old values and no unit
	 * attention is raised. Since API 1.2 also called for size and write
	 * cache changes (before: config changes only).
	 */
	int (*reconfig)(struct tcmur_device *dev, const struct tcmur_reconfig *rc);

	/*
	 * Required. I/O threads. Transfer @len bytes at byte @offset to or
	 * from @iov. Return a status, or TCMU_STS_ASYNC and complete later.
	 * A write with cmd->fua set must be stable at completion, unless
	 * can_fua is NULL (then the daemon flushes after the write).
	 */
	tcmu_sts (*read)(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			 struct iovec *iov, size_t iov_cnt, size_t len,
			 uint64_t offset);
	tcmu_sts (*write)(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			  struct iovec *iov, size_t iov_cnt, size_t len,
			  uint64_t offset);
	/* Required. I/O threads. Make completed writes stable. */
	tcmu_sts (*flush)(struct tcmur_device *dev, struct tcmur_cmd *cmd);
	/* Optional. I/O threads. Deallocate @len bytes at @offset. */
	tcmu_sts (*unmap)(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			  uint64_t offset, uint64_t len);
	/* Optional. True if write() honours cmd->fua itself. */
	bool (*can_fua)(struct tcmur_device *dev);

	/*
	 * Optional. I/O threads. Sees every command before the emulation;
	 * returns TCMU_STS_NOT_HANDLED to leave it to the daemon.
	 */
	tcmu_sts (*handle_cmd)(struct tcmur_device *dev, struct tcmur_cmd *cmd);

	/* ---- API 1.1 ---- */

	/*
	 * Optional. Main or I/O threads. Whether unmap works on this device
	 * (a file system without hole punching, say). NULL: unmap works if
	 * the handler has it. Unmapped blocks must read back as zeros,
	 * unless unmap_zeroes (API 1.2) says otherwise.
	 */
	bool (*can_unmap)(struct tcmur_device *dev);
	/*
	 * Optional. I/O threads, synchronous. Whether the bytes at @offset
	 * are mapped (*mapped) and for how far that holds: *len comes in as
	 * the most to look at and goes out as the extent's length (> 0).
	 * Returns 0 or -errno. NULL: every block counts as mapped.
	 */
	int (*lba_status)(struct tcmur_device *dev, uint64_t offset, uint64_t *len,
			  bool *mapped);

	/* ---- API 1.2 ---- */

	/*
	 * Optional. Main or I/O threads. Whether unmapped blocks read back
	 * as zeros (the LUN reports LBPRZ and WRITE SAME may unmap zeros).
	 * False: unmap only discards, blocks read back as anything, and
	 * WRITE SAME writes its zeros. NULL (or a 1.1 handler): true.
	 */
	bool (*unmap_zeroes)(struct tcmur_device *dev);
	/*
	 * Optional. The device's thread, answering INQUIRY (VPD 0xB1): must
	 * not block, so answer from what open() found. The backing store's
	 * MEDIUM ROTATION RATE (SBC-3 6.6.2): 1 for non-rotating media (an
	 * SSD, memory), 0x0401-0xfffe its rpm, 0 not reported. NULL (or a
	 * 1.0/1.1 handler): 0, not reported.
	 */
	uint16_t (*rotation_rate)(struct tcmur_device *dev);

	/* ---- API 1.3 ---- */

	/*
	 * Optional, for TCMUR_THREAD_PARALLEL handlers. True: the daemon
	 * first calls read, write and flush on the device's own thread,
	 * with cmd->nowait set, as it takes each command off the ring; no
	 * thread hand-off, and the kernel is told of a batch of completions
	 * at once. That is where small I/O is fast. An operation that would
	 * wait answers TCMU_STS_AGAIN and runs again on an I/O thread,
	 * which also runs everything else (unmap, handle_cmd, the steps of
	 * COMPARE AND WRITE and the like), so the handler's operations
	 * still run concurrently. False (or a handler older than 1.3):
	 * every operation runs on the I/O threads.
	 */
	bool inline_io;
	/*
	 * Optional. Main or device thread, without blocking: answer from what
	 * open() found. The backing store's physical block in bytes (4096
	 * under a disk's 512-byte logical blocks, a file system's block):
	 * READ CAPACITY(16) reports it as LOGICAL BLOCKS PER PHYSICAL BLOCK
	 * EXPONENT and the block limits page (VPD 0xB0) as OPTIMAL TRANSFER
	 * LENGTH GRANULARITY, so that initiators align their I/O to it.
	 * NULL, 0, or a size that is not the LUN's block times a power of
	 * two: one logical block.
	 */
	uint32_t (*physical_block_size)(struct tcmur_device *dev);
	/*
	 * Optional. Milliseconds a command may stay in flight (taken off the
	 * ring, not yet completed) before the daemon logs it as late: once,
	 * naming the device, the command and its CDB and age, and once more
	 * when it completes. The daemon takes the smaller of this and the
	 * device's attrib/cmd_time_out in configfs (seconds: when the kernel
	 * fails the command to the initiator; 30 by default), so a handler
	 * whose backend should answer far sooner hears of a stuck one sooner,
	 * and the admin's per-device setting still bounds it. 0 (or a handler
	 * older than 1.3): the device's cmd_time_out; if that is 0 too (the
	 * kernel never times out), 30 s. The daemon never completes a late
	 * command itself: it stays the handler's to complete, however late
	 * (by then the kernel has failed it and drops the answer, which it
	 * still needs to free the command's ring slot and data).
	 */
	unsigned int cmd_time_out_ms;
	/*
	 * Optional. The device's own thread, as the kernel reports task
	 * management (TCMU_OP_TMR entries, sent while the device's
	 * attrib/tmr_notification is 1, which the daemon sets when it adds
	 * the device): the initiator aborted @cmd (ABORT TASK, LOGICAL UNIT
	 * RESET, PREEMPT AND ABORT) while one of your operations has it,
	 * still running or answered TCMU_STS_ASYNC. Must not block. Hasten
	 * its end: cancel what you can and complete it, from inside abort or
	 * later from any thread, with any status (TCMU_STS_TASK_ABORTED says
	 * what happened): the kernel drops an aborted command's status (the
	 * initiator gets TASK ABORTED or nothing, as the control mode page's
	 * TAS says), and answers the abort only once the command is complete.
	 * Complete it exactly once, as always, and only when you are done
	 * with its buffers. Until abort returns the daemon keeps @cmd and its
	 * buffers valid and sends no answer for it, even if you complete it
	 * meanwhile on another thread: guard your own per-command state
	 * (cmd->hpriv) against that race. Not called for commands the daemon
	 * runs as several operations (COMPARE AND WRITE and WRITE SAME when the
	 * handler has no operation of its own for them, VERIFY, UNMAP,
	 * EXTENDED COPY): it starts no further step of an aborted one
	 * and lets the operation you have finish. Aborted commands not yet in
	 * your hands never reach you. NULL: the operation runs to its end,
	 * and the kernel's abort waits for it.
	 */
	void (*abort)(struct tcmur_device *dev, struct tcmur_cmd *cmd);

	/* ---- API 1.4 ---- */

	/*
	 * Optional. The oldest minor version of this API the handler runs
	 * correctly under: a daemon older than that refuses to load it,
	 * saying so, instead of leaving the newer fields it relies on
	 * unused (a 1.3 daemon would emulate COMPARE AND WRITE with a read
	 * and a write, which a handler whose store is shared between
	 * gateways cannot accept). Daemons from 1.4 on check it; 0 (or a
	 * handler older than 1.4): any 1.x daemon.
	 */
	uint16_t needs_api_minor;
	/*
	 * Optional. I/O threads. WRITE SAME: write the LUN's block that
	 * starts @iov (its first tcmur_dev_block_size() bytes) over and
	 * over to the @len bytes at byte @offset (whole blocks). Return a
	 * status, or TCMU_STS_ASYNC and complete later. A write with
	 * cmd->fua set must be stable at completion, as for write. NULL
	 * (or a handler older than 1.4): the daemon writes the pattern in
	 * pieces with write. WRITE SAME with the UNMAP bit, and with NDOB,
	 * still go through unmap and write as before.
	 */
	tcmu_sts (*write_same)(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			       struct iovec *iov, size_t iov_cnt, size_t len,
			       uint64_t offset);
	/*
	 * Optional. I/O threads. COMPARE AND WRITE, atomically against
	 * every other write to those bytes, including writes from other
	 * daemons if the store is shared: compare the @len bytes at byte
	 * @offset with the first @len bytes of @iov and, only if all are
	 * equal, write the next @len bytes of @iov there. On a difference
	 * write nothing and answer tcmur_cmd_miscompare() with the offset
	 * of the first differing byte. Return a status, or TCMU_STS_ASYNC
	 * and complete later; cmd->fua as for write. The daemon no longer
	 * holds other I/O of the device back while it runs. NULL (or a
	 * handler older than 1.4): the daemon reads, compares and writes,
	 * holding the device's other I/O back meanwhile (atomic within
	 * this daemon only).
	 */
	tcmu_sts (*compare_and_write)(struct tcmur_device *dev, struct tcmur_cmd *cmd,
				      struct iovec *iov, size_t iov_cnt, size_t len,
				      uint64_t offset);
	/*
	 * Optional, with compare_and_write. Main or device thread, without
	 * blocking. The most bytes one compare_and_write can take (each
	 * half): the LUN reports it, in whole blocks, as MAXIMUM COMPARE AND
	 * WRITE LENGTH (VPD 0xB0), and refuses longer commands itself. Less
	 * than one block: the LUN has no COMPARE AND WRITE. NULL or 0: the
	 * daemon's own limit.
	 */
	uint32_t (*compare_and_write_max)(struct tcmur_device *dev);
	/*
	 * Optional. Any thread, without blocking (an admin or a gateway asks
	 * over the bus, on the device's object): the handler's own health
	 * figures for @dev, such as who holds a lock, locks lost,
	 * connections lost, operations timed out. Fill at most @max entries
	 * of @out (zeroed by the daemon) and return how many. A name is
	 * lower case, digits and '_', shown as "<subtype>.<name>"; a figure
	 * is @value, or @text when text[0] is set. NULL: none.
	 */
	unsigned int (*health)(struct tcmur_device *dev, struct tcmur_health *out,
			       unsigned int max);

	/* ---- API 1.5 ---- */

	/*
	 * Optional, for a backend shared between gateways under one
	 * exclusive lock (a Ceph RBD image). An I/O thread, as the daemon
	 * answers REPORT TARGET PORT GROUPS (rare: a multipath checker asks
	 * every few seconds per path): who holds the lock now. It may ask
	 * the backend, bounded by the handler's own timeouts, but should
	 * answer from what it knows when it can (it is not called per I/O).
	 * The daemon reports the device's ALUA target port groups (those
	 * with ports in configfs: this daemon's) as
	 *   TCMUR_LOCK_OURS:   ACTIVE/OPTIMIZED;
	 *   TCMUR_LOCK_THEIRS: STANDBY, or ACTIVE/NON-OPTIMIZED for a group
	 *                      whose alua_support_standby is 0;
	 *   TCMUR_LOCK_NONE:   the state configfs (or an earlier SET TARGET
	 *                      PORT GROUPS) gives, as without this callback;
	 * with status "altered by implicit ALUA" where that differs from
	 * configfs. Nothing else changes: the kernel still enforces the
	 * configfs state, and SET TARGET PORT GROUPS does not move the lock
	 * (the first write through a gateway does, if the handler's backend
	 * takes its lock for writes). NULL (or a handler older than 1.5):
	 * no lock concept, RTPG reports configfs's states, as before.
	 */
	enum tcmur_lock_owner (*lock_owner)(struct tcmur_device *dev);
};

/*
 * Define the handler's table, exported as tcmur_handler_entry:
 *   TCMUR_REGISTER_HANDLER(.name = "...", .subtype = "...", ...);
 */
#define TCMUR_REGISTER_HANDLER(...)					\
	const struct tcmur_handler tcmur_handler_entry = {		\
		.struct_size = sizeof(struct tcmur_handler),		\
		.api_version = TCMUR_HANDLER_API_VERSION,		\
		__VA_ARGS__						\
	}

/* ---- device accessors (any thread) ------------------------------------ */

void *tcmur_dev_private(struct tcmur_device *dev);
const char *tcmur_dev_name(const struct tcmur_device *dev);
/* The handler part of the config string (after "<subtype>/"). */
const char *tcmur_dev_config(const struct tcmur_device *dev);
uint64_t tcmur_dev_size(const struct tcmur_device *dev);	/* bytes */
uint32_t tcmur_dev_block_size(const struct tcmur_device *dev);
bool tcmur_dev_write_cache(const struct tcmur_device *dev);

/*
 * API 1.6. Any thread; a configfs read, no waiting on I/O. The device's
 * cmd_time_out in seconds (attrib/cmd_time_out; 0: the kernel never
 * fails its commands itself): how long the kernel lets a command wait
 * before it fails it to the initiator and drops the late answer. A handler
 * whose backend has timeouts of its own (a cluster client's) compares them
 * with it, e.g. to warn at open. 30 (the kernel's default) where configfs
 * cannot say (tcmu-sim). A handler that calls it sets needs_api_minor = 6:
 * an older daemon refuses it by name.
 */
unsigned int tcmur_dev_cmd_time_out(const struct tcmur_device *dev);

/*
 * API 1.4. Any thread, without blocking: the backend's connection is gone
 * for good (a Ceph client the cluster blocklisted, say) and only closing
 * and opening the device again brings it back. The daemon logs @why and,
 * on its main thread, once the device's commands have ended (new ones
 * wait meanwhile), calls close and then open(dev, true) with the same
 * settings. If that open fails, the device answers NOT READY and the
 * daemon tries again every few seconds. Asking again before it is done
 * changes nothing; fail the commands meanwhile with a retryable status
 * (tcmur_cmd_errno).
 */
void tcmur_dev_reopen(struct tcmur_device *dev, const char *why);

/*
 * API 1.7. Any thread, without blocking: make @config (what follows
 * "<subtype>/") the device's config in the kernel from now on. The
 * daemon logs it and, on its main thread, writes it to the device's
 * configfs attrib/dev_config, as ChangeMedium does (check_config first);
 * the kernel then hands it back as a reconfig of the config (a reopen).
 * For a handler whose config asked for something that must happen once,
 * such as making a missing image (glfs's ;create): once done, the option
 * is dropped from what the kernel holds, targetcli saves and a restore
 * at boot reads, so a later first open of the LUN never does it again.
 * Where there is no configfs (tcmu-sim) it is only logged. A handler that
 * calls it sets needs_api_minor = 7.
 */
void tcmur_dev_set_config(struct tcmur_device *dev, const char *config);

/*
 * Complete a command that an operation answered with TCMU_STS_ASYNC.
 * Any thread. For CHECK CONDITION set the sense first (tcmur_cmd_sense).
 */
void tcmur_cmd_complete(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			tcmu_sts sts);

/* ---- sense data (api.c) ------------------------------------------------ */

/* Set sense @key, @asc (ASC << 8 | ASCQ); returns TCMU_STS_CHECK_CONDITION. */
tcmu_sts tcmur_cmd_sense(struct tcmur_cmd *cmd, uint8_t key, uint16_t asc);
/* The same with the INFORMATION field set to @info. */
tcmu_sts tcmur_cmd_sense_info(struct tcmur_cmd *cmd, uint8_t key, uint16_t asc,
			      uint64_t info);
/* ILLEGAL REQUEST, INVALID FIELD IN CDB pointing at @byte, @bit (-1: none). */
tcmu_sts tcmur_cmd_invalid_cdb(struct tcmur_cmd *cmd, uint16_t byte, int bit);
/* ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST at @byte, @bit. */
tcmu_sts tcmur_cmd_invalid_param(struct tcmur_cmd *cmd, uint16_t byte, int bit);
/* Status and sense for an I/O that failed with @err (-errno), chosen for
 * what Linux does with it (table and reasons in api.c):
 * -ENOMEM/-EAGAIN/-EBUSY: BUSY, retried. -ETIMEDOUT, -ENOTCONN and the
 * other connection/network errors: NOT READY, LOGICAL UNIT COMMUNICATION
 * FAILURE, which dm-multipath fails over on. -ENOSPC/-EDQUOT: DATA
 * PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT. Anything else (-EIO):
 * MEDIUM ERROR, unrecovered read error or write error as @write says. */
tcmu_sts tcmur_cmd_errno(struct tcmur_cmd *cmd, int err, bool write);
/* API 1.4: MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION, with the
 * byte @offset of the first difference as INFORMATION (COMPARE AND
 * WRITE, VERIFY); returns TCMU_STS_CHECK_CONDITION. */
tcmu_sts tcmur_cmd_miscompare(struct tcmur_cmd *cmd, uint64_t offset);
/* The sense bytes set so far (96 bytes). */
const uint8_t *tcmur_cmd_sense_buf(const struct tcmur_cmd *cmd);

/* ---- iovec and CDB helpers (api.c) ------------------------------------- */

/* Copy @len bytes from @buf into @iov; returns bytes copied. */
size_t tcmu_iov_from_buf(const struct iovec *iov, size_t iov_cnt,
			 const void *buf, size_t len);
/* Copy up to @len bytes from @iov into @buf; returns bytes copied. */
size_t tcmu_iov_to_buf(void *buf, size_t len, const struct iovec *iov,
		       size_t iov_cnt);
/* Zero every byte of @iov. */
void tcmu_iov_zero(const struct iovec *iov, size_t iov_cnt);
/* Compare @len bytes of @iov with @buf; returns the offset of the first
 * difference, or -1 if equal. */
ssize_t tcmu_iov_compare(const struct iovec *iov, size_t iov_cnt,
			 const void *buf, size_t len);
/* Advance @iov past @skip bytes, into @out (at most @out_max entries). */
size_t tcmu_iov_seek(const struct iovec *iov, size_t iov_cnt, size_t skip,
		     struct iovec *out, size_t out_max);
/* API 1.3: cut @iov to its first @len bytes in place (the kernel's
 * buffer may be longer than the transfer); returns the entries left. */
size_t tcmu_iov_trim(struct iovec *iov, size_t iov_cnt, size_t len);

uint16_t tcmu_get_be16(const uint8_t *p);
uint32_t tcmu_get_be32(const uint8_t *p);
uint64_t tcmu_get_be64(const uint8_t *p);
void tcmu_put_be16(uint8_t *p, uint16_t v);
void tcmu_put_be32(uint8_t *p, uint32_t v);
void tcmu_put_be64(uint8_t *p, uint64_t v);
/* LBA and transfer length of a READ/WRITE/VERIFY 6/10/12/16 CDB. */
uint64_t tcmu_cdb_lba(const uint8_t *cdb);
uint32_t tcmu_cdb_xfer_len(const uint8_t *cdb);

/* ---- logging ------------------------------------------------------------ */

/* Priorities as syslog(3). */
#define TCMUR_LOG_ERR 3
#define TCMUR_LOG_WARN 4
#define TCMUR_LOG_INFO 6
#define TCMUR_LOG_DEBUG 7

/* Log for @dev (NULL: not about one device), tagged with device and
 * handler. Use the macros below. */
void tcmur_dev_log(const struct tcmur_device *dev, int prio, const char *func,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define tcmu_dev_err(dev, ...) tcmur_dev_log(dev, TCMUR_LOG_ERR, __func__, __VA_ARGS__)
#define tcmu_dev_warn(dev, ...) tcmur_dev_log(dev, TCMUR_LOG_WARN, __func__, __VA_ARGS__)
#define tcmu_dev_info(dev, ...) tcmur_dev_log(dev, TCMUR_LOG_INFO, __func__, __VA_ARGS__)
#define tcmu_dev_dbg(dev, ...) tcmur_dev_log(dev, TCMUR_LOG_DEBUG, __func__, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
