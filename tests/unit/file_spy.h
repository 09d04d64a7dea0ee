/*
 * file_spy: what the file handler (handler_file.c) asks of the kernel,
 * counted without changing it. The test binaries are linked with
 * -Wl,--wrap=pwritev2,--wrap=fdatasync (tests/unit.mk), so its calls
 * come here first and go on to the real ones. Counts are for the whole
 * process; take one snapshot before and one after what you test.
 */
#ifndef FILE_SPY_H
#define FILE_SPY_H

struct file_spy {
	unsigned int writes;		/* pwritev2 calls */
	unsigned int dsync_writes;	/* of which with RWF_DSYNC */
	unsigned int datasyncs;		/* fdatasync calls */
};

void file_spy_get(struct file_spy *out);
/* The @nth fdatasync from now on (1: the next) fails with @err without
 * syncing, as Linux answers the one fsync it reports a writeback error
 * to; later ones succeed, as Linux's do once it has told. */
void file_spy_fail_datasync(unsigned int nth, int err);

#endif
