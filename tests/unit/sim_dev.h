/*
 * sim_dev: a device the daemon serves (dev_new: device thread, SCSI
 * emulation, I/O threads, handler) on a simulated ring, for end-to-end
 * tests. The file handler (handler_file.c, linked in) serves a fresh
 * temporary file, or any other handler table serves its config.
 */
#ifndef SIM_DEV_H
#define SIM_DEV_H

#include "device.h"
#include "ring_sim.h"

/* Unit serial every sim_dev gets unless told otherwise. */
#define SIM_DEV_SERIAL "0123456789abcdef0123456789abcdef"
#define SIM_DEV_TIMEOUT_MS 5000

struct sim_dev_cfg {
	const struct tcmur_handler *ops;	/* NULL: the file handler */
	const char *handler_cfg;	/* for ops; the file handler gets its file */
	uint64_t size;			/* bytes (0: 1 MiB) */
	uint32_t block_size;		/* 0: 512 */
	uint32_t max_xfer_blocks;	/* 0: 1024 */
	bool write_cache_off;
	const char *serial;		/* NULL: SIM_DEV_SERIAL */
	struct dev_registry *registry;	/* NULL: none; the test adds/removes */
	struct ring_sim_cfg ring;
};

struct sim_dev {
	struct ring_sim *sim;
	struct tcmur_device *dev;
	struct handler hd;
	struct log_cfg log;
	char path[64];			/* the file handler's file, or "" */
};

/* 0 or dev_new's -errno. */
int sim_dev_new(struct sim_dev **out, const struct sim_dev_cfg *cfg);
void sim_dev_free(struct sim_dev *sd);

/* Queue one command, notify, wait for it; NULL if it never completed. */
struct sim_cmd *sim_dev_run(struct sim_dev *sd, const uint8_t *cdb, size_t cdb_len,
			    const void *data, size_t data_len);
/* The same with the buffer split into @iov_cnt iovecs. */
struct sim_cmd *sim_dev_run_iov(struct sim_dev *sd, const uint8_t *cdb, size_t cdb_len,
				const void *data, size_t data_len, unsigned int iov_cnt);

/* A log for tests: silent unless TEST_LOG is set in the environment. */
void sim_log_init(struct log_cfg *log);
void sim_log_fini(struct log_cfg *log);

#endif
