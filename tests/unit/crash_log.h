/*
 * crash_log: every write and sync a handler issues to the files a test
 * tracks, in the order they returned, with the bytes written, so that a
 * power loss can be replayed afterwards (crash_replay.h).
 *
 * The calls are caught by definition: a test binary linked with
 * crash_log.o (tests/unit.mk) defines pwrite, pwritev, pwritev2,
 * fdatasync, fsync, fallocate, ftruncate and sync_file_range (and their
 * 64 names) itself and exports them (-rdynamic), so both the handlers
 * linked in (through file_spy's --wrap) and the plugins loaded with
 * dlopen (handler_qcow.so) call these, which go on to the C library's.
 * A call on a file not tracked, or while the log is stopped, only passes
 * through.
 *
 * What makes a write stable, as Linux promises it: an fdatasync or fsync
 * on the same file that was called after the write returned (the log
 * notes, for each sync, how many events had been logged when it was
 * called); a write with RWF_DSYNC/RWF_SYNC, or on a file opened O_DSYNC,
 * once it returns; sync_file_range promises nothing (logged, ignored).
 * A hole punched or a range zeroed (fallocate) and a new length
 * (ftruncate) are ordered the same way as writes. A write is logged as
 * one event per 4 KiB page of the file it touches, since writeback may
 * store some of its pages and not others.
 */
#ifndef CRASH_LOG_H
#define CRASH_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum crash_ev_kind {
	CRASH_WRITE,		/* data: len bytes at off */
	CRASH_ZERO,		/* len bytes at off read zeros (punch, zero range) */
	CRASH_SIZE,		/* the file's length set to off (ftruncate) */
	CRASH_EXTEND,		/* the file at least off long (fallocate) */
	CRASH_SYNC,		/* fdatasync/fsync returned 0 */
	CRASH_NOSYNC,		/* sync_file_range: no promise, only noted */
};

struct crash_ev {
	enum crash_ev_kind kind;
	unsigned int file;	/* crash_log_track's index */
	uint64_t off, len;
	uint8_t *data;		/* CRASH_WRITE: a copy of the bytes */
	bool stable;		/* written with DSYNC: stable once returned */
	unsigned int covers;	/* CRASH_SYNC: events logged when it was called */
};

/* Track the file at @path (the one a handler will open): its index, or
 * -errno (it must exist). */
int crash_log_track(const char *path);
/* Start or stop logging; crash_log_reset forgets events and files. */
void crash_log_start(void);
void crash_log_stop(void);
void crash_log_reset(void);
/* Events logged so far (an index into crash_log_events' array). */
unsigned int crash_log_now(void);
/* The events (valid until crash_log_reset) and their number. */
const struct crash_ev *crash_log_events(unsigned int *n);

#endif
