/*
 * A log for tests (declared in sim_dev.h): silent unless TEST_LOG is set.
 * Apart from sim_dev.c so that tests which load plugins need not link the
 * file handler's table.
 */
#include <stdlib.h>

#include "sim_dev.h"

void sim_log_init(struct log_cfg *log)
{
	bool verbose = getenv("TEST_LOG") != NULL;

	log_init(log, verbose);
	log->journal = false;
	if (!verbose) {
		log->out = fopen("/dev/null", "w");
		if (!log->out)
			log->out = stderr;
	}
}

void sim_log_fini(struct log_cfg *log)
{
	if (log->out && log->out != stderr)
		fclose(log->out);
	log->out = NULL;
}
