/*
 * Late commands: a per-device watchdog for commands that stay in flight
 * (taken off the ring, not completed) past a limit. It runs from the
 * device thread's poll loop, which wakes every DEV_KICK_DELAY_MS while
 * commands are in flight and sleeps while none is, so it costs nothing on
 * an idle device and adds no thread. Each late command is logged once,
 * naming the device, the cmd_id, the opcode, the CDB bytes and the age,
 * and once more when it completes. The daemon never completes one itself:
 * the handler still has its buffers (tcmu-runner.h, cmd_time_out_ms).
 *
 * The limit is the smaller of the handler's cmd_time_out_ms and the
 * device's attrib/cmd_time_out in configfs, both if set; else 30 s. The
 * attributes are read when the device is made, and again when it turns
 * busy after a second or more of idleness: the kernel refuses a new
 * cmd_time_out while the device is exported (tcmu_cmd_time_out_store),
 * so one set after the device was added takes effect with its next
 * export, and a device with no export gets no commands. What
 * the kernel does at its cmd_time_out (target_core_user.c): each command
 * gets a deadline when queued (tcmu_setup_cmd_timer); once past it
 * (tcmu_check_expired_ring_cmd) the kernel sets TCMU_CMD_BIT_EXPIRED and
 * completes the command to the initiator with CHECK CONDITION, keeping
 * its cmd_id and data blocks until the daemon answers; that late answer
 * is then taken with its status dropped (tcmu_handle_completion) and the
 * slot and blocks freed. So one late answer is right, and needed; what
 * must never happen is a second answer for one cmd_id, which the kernel
 * would take for a command it does not have ("ring is broken"): the
 * handler's completions go through cmd_ctx.op_live (dev_io.c), and
 * answers from before a ring reset are dropped (ring.c).
 *
 * attrib/qfull_time_out is read and reported with the rest: it bounds how
 * long the kernel keeps a command that found no room in the ring or its
 * data area in its own queue before failing it with TASK SET FULL (-1:
 * as cmd_time_out, 0: at once). Those commands never reach the daemon,
 * which can neither see nor time them; they pile up when late commands
 * hold the ring, hence the count of commands in flight in the late log.
 *
 * A handler that blocks the device thread itself (an inline_io operation
 * that waits, against its contract) stops the watchdog too.
 *
 * struct dev_watch lives in struct tcmur_device. Set up before the device
 * thread starts, then the device thread's, but for the counter (atomic).
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DEV_WATCH_H
#define DEV_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* When neither the kernel nor the handler sets a limit: the kernel's
 * own default cmd_time_out (TCMU_TIME_OUT). */
#define DEV_WATCH_DEFAULT_MS 30000

struct dev_watch {
	unsigned int limit_ms;		/* late past this */
	const char *limit_from;		/* what set it, for the log */
	unsigned int kernel_s;		/* attrib/cmd_time_out (0: never) */
	int qfull_s;			/* attrib/qfull_time_out (-1: as cmd_time_out) */
	uint64_t scan_every_ns;
	uint64_t next_scan_ns;
	uint64_t idle_since_ns;		/* nothing in flight since (0: busy) */
	unsigned int late;		/* commands logged late so far (atomic) */
};

struct tcmur_device;
struct cmd_ctx;

static inline uint64_t dev_watch_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* dev_new, before the device thread starts: read the device's timeouts
 * from configfs (missing ones are logged and left to the kernel's
 * defaults) and work out the limit. */
void dev_watch_init(struct tcmur_device *dev);
/* The device thread, with commands in flight: log those newly late (at
 * most every tenth of the limit, between 1 ms and 1 s). */
void dev_watch_scan(struct tcmur_device *dev);
/* The device thread, with none in flight. */
void dev_watch_idle(struct tcmur_device *dev);
/* The device thread, taking @ctx off the ring: note when (and, the
 * first after a second of idleness, read the timeouts again). */
void dev_watch_take(struct tcmur_device *dev, struct cmd_ctx *ctx);
/* Any thread, from dev_finish, for a command dev_watch_scan logged late:
 * say it completed, with @status, once its answer is on its way. */
void dev_watch_done(struct tcmur_device *dev, const struct cmd_ctx *ctx, uint8_t status);

/* The limit in force, and how many commands were late so far. */
unsigned int dev_watch_limit_ms(const struct tcmur_device *dev);
/* The device's attrib/cmd_time_out as configfs has it now, in seconds
 * (0: never; at most what limit_ms can hold): 0, or -errno where configfs
 * cannot say (*s untouched). Any thread. */
int dev_watch_read_kernel_s(const struct tcmur_device *dev, unsigned int *s);
unsigned int dev_late_commands(struct tcmur_device *dev);

#endif
