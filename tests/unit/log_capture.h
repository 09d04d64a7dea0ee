/*
 * log_capture: a device log the test can read back, for tests that assert
 * on what the daemon says (a late command named once, say). The log goes
 * to a temporary file and is read through a file descriptor of its own,
 * so the device's threads may write while the test reads. With TEST_LOG
 * set the lines are copied to stderr as well when read.
 */
#ifndef LOG_CAPTURE_H
#define LOG_CAPTURE_H

#include "log.h"

struct log_capture {
	struct log_cfg log;		/* hand it to the device (sim_dev_cfg.log) */
	char path[64];
};

/* Debug messages included. 0 or -errno. */
int log_capture_new(struct log_capture *lc);
/* Close and remove the file; the device must be gone. */
void log_capture_free(struct log_capture *lc);
/* Everything logged so far (through a sink too: its queue written
 * first), NUL-terminated; free() it. NULL: no memory. */
char *log_capture_text(struct log_capture *lc);
/* How many lines logged so far contain @needle. */
unsigned int log_capture_count(struct log_capture *lc, const char *needle);
/* The first line logged so far that contains @needle (malloc'ed; free()
 * it), or NULL. */
char *log_capture_line(struct log_capture *lc, const char *needle);

#endif
