/*
 * What the pure ring tests share: a simulator, a tcmu_ring on it, and a
 * logger that counts errors. Header-only, included by test_ring_*.c.
 */
#ifndef RING_FIXTURE_H
#define RING_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libtcmu.h"
#include "unit_test.h"

struct ring_fx {
	struct ring_sim *sim;
	struct tcmu_ring *ring;
	struct tcmu_logger logger;
	int errors;
	char last_error[512];
};

static void fx_log(void *opaque, enum tcmu_log_prio prio, const char *who,
		   const char *func, const char *fmt, va_list ap)
{
	struct ring_fx *fx = opaque;

	if (prio > TCMU_LOG_ERR)
		return;
	fx->errors++;
	vsnprintf(fx->last_error, sizeof(fx->last_error), fmt, ap);
	if (getenv("TEST_LOG"))
		fprintf(stderr, "[%s] %s: %s\n", who, func, fx->last_error);
}

static inline int fx_setup_size(void **state, uint32_t cmdr_size, size_t data_size)
{
	struct ring_fx *fx = calloc(1, sizeof(*fx));
	struct ring_sim_cfg cfg = { .cmdr_size = cmdr_size, .data_size = data_size };

	if (!fx || ring_sim_new(&fx->sim, &cfg))
		return -1;
	fx->logger.fn = fx_log;
	fx->logger.opaque = fx;
	if (tcmu_ring_new(&fx->ring, ring_sim_fd(fx->sim), ring_sim_map(fx->sim),
			  ring_sim_map_size(fx->sim), 32, &fx->logger, "test"))
		return -1;
	*state = fx;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct ring_fx *fx = *state;

	tcmu_ring_free(fx->ring);
	ring_sim_free(fx->sim);
	free(fx);
	return 0;
}

/* Queue a command of @cdb0 (a 10-byte CDB) with @data_len bytes in
 * @iov_cnt iovecs; the buffer holds @data or poison. */
static inline struct sim_cmd *fx_queue(struct ring_fx *fx, uint8_t cdb0, const void *data,
				       size_t data_len, unsigned int iov_cnt)
{
	uint8_t cdb[10] = { cdb0 };
	struct sim_req req = { .cdb = cdb, .cdb_len = sizeof(cdb), .data = data,
			       .data_len = data_len, .iov_cnt = iov_cnt };
	struct sim_cmd *c = NULL;

	assert_int_equal(ring_sim_queue(fx->sim, &req, &c), 0);
	return c;
}

/* Fill a command's buffers with bytes derived from @seed. */
static inline void fx_fill(struct tcmu_cmd *cmd, unsigned int seed)
{
	size_t k = 0;

	for (size_t i = 0; i < cmd->iov_cnt; i++)
		for (size_t j = 0; j < cmd->iov[i].iov_len; j++, k++)
			((uint8_t *)cmd->iov[i].iov_base)[j] = (uint8_t)(seed * 31 + k);
}

/* True if @c's data is what fx_fill(@seed) wrote. */
static inline bool fx_check(const struct sim_cmd *c, unsigned int seed)
{
	for (size_t k = 0; k < c->data_len; k++)
		if (c->data[k] != (uint8_t)(seed * 31 + k))
			return false;
	return true;
}

#endif
