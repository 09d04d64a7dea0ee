/*
 * file_spy: what the file handler (handler_file.c) asks of the kernel,
 * counted, and on request answered differently. The test binaries are
 * linked with -Wl,--wrap=preadv2,--wrap=pwritev2,--wrap=fdatasync
 * (tests/unit.mk), so its calls come here first and go on to the real
 * ones. Counts and injections are for the whole process; take one
 * snapshot before and one after what you test, and clear what you set
 * (file_spy_clear) before the test ends.
 */
#ifndef FILE_SPY_H
#define FILE_SPY_H

#include <stdbool.h>
#include <stddef.h>

struct file_spy {
	unsigned int writes;		/* pwritev2 calls */
	unsigned int dsync_writes;	/* of which with RWF_DSYNC */
	unsigned int datasyncs;		/* fdatasync calls */
	unsigned int reads;		/* preadv2 calls */
	unsigned int nowait_reads;	/* of which with RWF_NOWAIT */
	unsigned int nowait_writes;	/* pwritev2 calls with RWF_NOWAIT */
	unsigned int injected;		/* calls answered by an injection */
};

void file_spy_get(struct file_spy *out);
/* The @nth fdatasync from now on (1: the next) fails with @err without
 * syncing, as Linux answers the one fsync it reports a writeback error
 * to; later ones succeed, as Linux's do once it has told. */
void file_spy_fail_datasync(unsigned int nth, int err);

/* Which preadv2/pwritev2 calls an injection applies to. */
enum file_spy_match {
	FILE_SPY_ANY,
	FILE_SPY_NOWAIT,	/* those with RWF_NOWAIT (the device thread's try) */
	FILE_SPY_BLOCKING,	/* those without (an I/O thread's) */
};

/* Every matching call of preadv2 (@write false) or pwritev2 moves at
 * most @max bytes (0: no limit): a short transfer, done for real. */
void file_spy_limit_io(bool write, enum file_spy_match match, size_t max);
/* Matching calls @nth (1: the next) to @nth + @calls - 1 of preadv2 or
 * pwritev2 do nothing and return -1 with errno @err, or 0 if @err is 0. */
void file_spy_fail_io(bool write, enum file_spy_match match, unsigned int nth,
		      unsigned int calls, int err);
/* Both directions back to plain pass-through (counts are kept). */
void file_spy_clear(void);

#endif
