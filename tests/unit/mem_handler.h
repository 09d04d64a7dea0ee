/*
 * mem_handler: a LUN in memory, for tests and fuzzers. Config string
 * "mem/<options>", comma separated:
 *   fail_open      open() fails with -EIO
 *   fail_reopen    open(dev, reopen=true) fails with -EIO (a reconfigure
 *                  that reopens leaves the device offline)
 *   slow_ms=N      reads at byte offset 0 sleep N ms first
 *   async          I/O answers TCMU_STS_ASYNC and completes from a thread
 *                  of its own (tcmur_cmd_complete) a millisecond later
 *   hold           async, and writes never complete until
 *                  mem_handler_release() (a stuck backend)
 *   no_fua         can_fua says no: the daemon must flush after FUA writes
 *   fixed_size     reconfig refuses a size change with -EPERM
 *   again          read/write/flush called inline (cmd->nowait) answer
 *                  TCMU_STS_AGAIN: a backend that would wait
 *   again_always   they answer TCMU_STS_AGAIN on every call (a bug)
 *   abort_wake     abort() (API 1.3) has the completer thread of an async
 *                  command (held or not) complete it at once, TASK ABORTED
 *   abort_inline   abort() completes the command itself, from inside the
 *                  callback (the daemon must answer once it returns)
 *                  Without either, abort() only counts: held writes wait
 *                  for mem_handler_release() all the same.
 *   caw_max=N      mem_native_handler_ops: compare_and_write_max answers N
 *                  bytes (0 or absent: no limit of the handler's)
 * Reads and writes outside the LUN abort(): the emulation must never
 * send one. Thread model PARALLEL with 2 threads. reconfig resizes the
 * LUN in place (new bytes read as zeros), records the write cache
 * setting it is given, and answers a new config with -EOPNOTSUPP (the
 * daemon reopens, with a fresh, zeroed LUN).
 */
#ifndef MEM_HANDLER_H
#define MEM_HANDLER_H

#include "tcmu-runner.h"

extern const struct tcmur_handler mem_handler_ops;
/* The same with inline_io (API 1.3): I/O first runs on the device
 * thread; and a SERIAL one with inline_io, which the daemon must not
 * run inline (its one-at-a-time promise). */
extern const struct tcmur_handler mem_inline_handler_ops;
extern const struct tcmur_handler mem_serial_inline_handler_ops;
/* The same with API 1.4's write_same and compare_and_write (atomic: the
 * medium's lock is held across compare and write), which count in
 * mem_handler_ios and in mem_handler_native_calls; and health, which
 * answers "native_calls" (that count) and "medium" (text: "async" or
 * "sync"). */
extern const struct tcmur_handler mem_native_handler_ops;
unsigned int mem_handler_native_calls(struct tcmur_device *dev);
/* Calls of read/write/flush made with cmd->nowait (on the device thread). */
unsigned int mem_handler_nowait_calls(struct tcmur_device *dev);

/* The LUN's bytes (size tcmur_dev_size() at open). */
uint8_t *mem_handler_data(struct tcmur_device *dev);
/* Calls to read/write/flush so far; to flush alone. */
unsigned int mem_handler_ios(struct tcmur_device *dev);
unsigned int mem_handler_flushes(struct tcmur_device *dev);
/* Durability: writes that were stable at completion because they came
 * with cmd->fua and the handler can do FUA; and writes that were not
 * (no FUA asked, or no_fua) and no flush has covered since. After a
 * command that promises stability has completed, unstable must be 0. */
unsigned int mem_handler_fua_writes(struct tcmur_device *dev);
unsigned int mem_handler_unstable(struct tcmur_device *dev);

/* Error injection: the @nth call of @op from now on (1: the next one)
 * fails with -@err, answered through tcmur_cmd_errno() as a backend
 * would. One pending injection per operation; a new one replaces it. */
enum mem_op { MEM_OP_READ, MEM_OP_WRITE, MEM_OP_FLUSH, MEM_OP_COUNT };
void mem_handler_fail(struct tcmur_device *dev, enum mem_op op, unsigned int nth, int err);

/* hold: writes held now, waiting up to @wait_ms for @want of them; and let
 * every held write (and any later one) complete. Release before the
 * device is freed: closing waits for them. */
unsigned int mem_handler_held(struct tcmur_device *dev, unsigned int want, int wait_ms);
void mem_handler_release(struct tcmur_device *dev);

/* abort() calls so far, and those that found the command in our hands
 * (an async one not yet completed). */
void mem_handler_aborts(struct tcmur_device *dev, unsigned int *calls, unsigned int *found);

/* What reconfig was last given: calls so far, and the last has_size /
 * size and has_write_cache / write_cache it saw. */
struct mem_reconfig_seen {
	unsigned int calls;
	bool has_size, has_write_cache, write_cache;
	uint64_t size;
};
void mem_handler_reconfig_seen(struct tcmur_device *dev, struct mem_reconfig_seen *out);

#endif
