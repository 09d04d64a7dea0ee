/*
 * mem_handler: a LUN in memory, for tests and fuzzers. Config string
 * "mem/<options>", comma separated:
 *   fail_open      open() fails with -EIO
 *   slow_ms=N      reads at byte offset 0 sleep N ms first
 *   async          I/O answers TCMU_STS_ASYNC and completes from a thread
 *                  of its own (tcmur_cmd_complete) a millisecond later
 *   no_fua         can_fua says no: the daemon must flush after FUA writes
 * Reads and writes outside the LUN abort(): the emulation must never
 * send one. Thread model PARALLEL with 2 threads.
 */
#ifndef MEM_HANDLER_H
#define MEM_HANDLER_H

#include "tcmu-runner.h"

extern const struct tcmur_handler mem_handler_ops;

/* The LUN's bytes (size tcmur_dev_size() at open). */
uint8_t *mem_handler_data(struct tcmur_device *dev);
/* Calls to read/write/flush so far; to flush alone. */
unsigned int mem_handler_ios(struct tcmur_device *dev);
unsigned int mem_handler_flushes(struct tcmur_device *dev);

#endif
