/*
 * fuzz_ring: arbitrary bytes as a whole TCMU map (mailbox, command ring,
 * data area), in a buffer of exactly that size (64-byte aligned, as a UIO
 * map's mailbox is). The ring must refuse or serve it without touching a
 * byte outside: every command it hands out has its CDB and iovecs read
 * and written, and is completed (in batches, newest first, as a parallel
 * handler might). The commands a TMR names are looked up, and the
 * in-flight walk must see as many commands as are in flight.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libtcmu.h"

#define HOLD 8

static void quiet(void *opaque, enum tcmu_log_prio prio, const char *who,
		  const char *func, const char *fmt, va_list ap)
{
}

/* A TMR's cmd_ids, looked up as the daemon does: what is found is in
 * flight under that id. */
static void on_tmr(void *opaque, const struct tcmu_tmr *tmr)
{
	struct tcmu_ring *ring = *(struct tcmu_ring **)opaque;

	for (uint32_t i = 0; i < tmr->cmd_cnt; i++) {
		struct tcmu_cmd *cmd = tcmu_ring_find(ring, tmr->cmd_ids[i]);

		if (cmd && cmd->cmd_id != tmr->cmd_ids[i])
			abort();
	}
}

static void count_live(void *opaque, struct tcmu_cmd *cmd)
{
	(*(unsigned int *)opaque)++;
}

static void touch(struct tcmu_cmd *cmd)
{
	volatile uint8_t sum = 0;

	for (uint16_t i = 0; i < cmd->cdb_len; i++)
		sum += cmd->cdb[i];
	for (size_t i = 0; i < cmd->iov_cnt; i++) {
		uint8_t *p = cmd->iov[i].iov_base;

		for (size_t j = 0; j < cmd->iov[i].iov_len; j++)
			p[j] = p[j] + sum;
	}
	memset(cmd->priv, 0xab, 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tcmu_logger log = { .fn = quiet };
	static int fd = -1;
	struct tcmu_cmd *held[HOLD];
	struct tcmu_ring *ring;
	unsigned int n = 0, total = 0;
	uint8_t *map;

	if (fd < 0)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	/* Exactly @size bytes, aligned as a UIO map's mailbox is. */
	if (posix_memalign((void **)&map, 64, size ? size : 1))
		abort();
	memcpy(map, data, size);
	if (tcmu_ring_new(&ring, fd, map, size, 64, &log, "fuzz")) {
		free(map);
		return 0;
	}
	for (;;) {
		struct tcmu_cmd *cmd = tcmu_ring_next(ring, on_tmr, &ring);
		unsigned int live = 0;

		if (cmd) {
			touch(cmd);
			held[n++] = cmd;
			if (++total > 1 << 20)
				abort();	/* the ring went round and round */
		}
		tcmu_ring_for_each(ring, count_live, &live);
		if (live != tcmu_ring_inflight(ring))
			abort();	/* the in-flight list lost or kept one */
		if (n == HOLD || (!cmd && n)) {
			while (n--) {
				held[n]->sense[0] = 0x70;
				tcmu_ring_complete(ring, held[n], n & 1 ? 0x02 : 0x00);
			}
			n = 0;
			tcmu_ring_kick(ring);
		}
		if (!cmd)
			break;
	}
	if (tcmu_ring_inflight(ring))
		abort();
	tcmu_ring_free(ring);
	free(map);
	return 0;
}
