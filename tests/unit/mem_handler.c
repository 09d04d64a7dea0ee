/*
 * mem_handler: a LUN in memory; see mem_handler.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem_handler.h"

struct mem_dev {
	uint8_t *buf;
	size_t size;
	unsigned int slow_ms;
	bool async, no_fua, hold;
	bool abort_wake, abort_inline;	/* what abort() does (see .h) */
	unsigned int aborts, aborts_found;	/* abort() calls; for a live command */
	bool again, again_always;	/* answer TCMU_STS_AGAIN (see .h) */
	unsigned int nowait_calls;	/* calls with cmd->nowait */
	unsigned int native_calls;	/* write_same/compare_and_write calls */
	unsigned int caw_max;		/* compare_and_write_max's answer */
	/* hold: async writes wait here until mem_handler_release(). */
	pthread_mutex_t hold_lock;
	pthread_cond_t hold_cond;
	bool released;
	unsigned int held;
	unsigned int ios, flushes;
	unsigned int fua_writes;	/* writes told cmd->fua that we honoured */
	unsigned int unstable;		/* other writes since the last flush */
	unsigned int async_live;	/* completer threads not yet done */
	unsigned int fail_in[MEM_OP_COUNT];	/* calls until the injected error */
	int fail_err[MEM_OP_COUNT];
	bool fixed_size;
	struct mem_reconfig_seen seen;	/* main thread, no I/O in flight */
	/* The medium: I/O threads copy in and out of buf at once, and an
	 * initiator may send overlapping WRITEs; a disk keeps each sector
	 * whole, so copies hold this (reads shared, writes alone). */
	pthread_rwlock_t buf_lock;
};

/* An async command, found through cmd->hpriv (under hold_lock) until
 * its completer lets go of it. */
struct mem_async {
	struct tcmur_device *dev;
	struct tcmur_cmd *cmd;
	bool held;
	bool aborted;		/* abort_wake: end it now, TASK ABORTED */
	bool done;		/* abort_inline: abort() completed it */
};

/* Complete a command from a thread of our own, as a library callback
 * would. */
static void *mem_completer(void *arg)
{
	struct mem_async *a = arg;
	struct mem_dev *m = tcmur_dev_private(a->dev);
	bool aborted, done;

	usleep(1000);
	pthread_mutex_lock(&m->hold_lock);
	if (a->held) {
		m->held++;
		pthread_cond_broadcast(&m->hold_cond);
		while (!m->released && !a->aborted && !a->done)
			pthread_cond_wait(&m->hold_cond, &m->hold_lock);
		m->held--;
	}
	aborted = a->aborted;
	done = a->done;
	if (!done)	/* else abort() did, and the command may be another's now */
		a->cmd->hpriv = NULL;	/* abort() no longer finds it */
	pthread_mutex_unlock(&m->hold_lock);
	if (!done)
		tcmur_cmd_complete(a->dev, a->cmd,
				   aborted ? TCMU_STS_TASK_ABORTED : TCMU_STS_GOOD);
	free(a);
	__atomic_sub_fetch(&m->async_live, 1, __ATOMIC_RELEASE);
	return NULL;
}

static tcmu_sts mem_done(struct tcmur_device *dev, struct tcmur_cmd *cmd, bool write)
{
	struct mem_dev *m = tcmur_dev_private(dev);
	struct mem_async *a;
	pthread_attr_t attr;
	pthread_t th;

	if (!m->async)
		return TCMU_STS_GOOD;
	a = malloc(sizeof(*a));
	if (!a)
		return TCMU_STS_BUSY;
	a->dev = dev;
	a->cmd = cmd;
	a->held = write && m->hold;
	a->aborted = a->done = false;
	pthread_mutex_lock(&m->hold_lock);
	cmd->hpriv = a;
	pthread_mutex_unlock(&m->hold_lock);
	__atomic_add_fetch(&m->async_live, 1, __ATOMIC_RELAXED);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, mem_completer, a)) {
		__atomic_sub_fetch(&m->async_live, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(&m->hold_lock);
		cmd->hpriv = NULL;
		pthread_mutex_unlock(&m->hold_lock);
		free(a);
		pthread_attr_destroy(&attr);
		return TCMU_STS_BUSY;
	}
	pthread_attr_destroy(&attr);
	return TCMU_STS_ASYNC;
}

/* The errno injected for this call of @op, or 0. */
static int mem_injected(struct mem_dev *m, enum mem_op op)
{
	unsigned int left = __atomic_load_n(&m->fail_in[op], __ATOMIC_ACQUIRE);

	while (left) {
		if (__atomic_compare_exchange_n(&m->fail_in[op], &left, left - 1, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return left == 1 ? m->fail_err[op] : 0;
	}
	return 0;
}

void mem_handler_fail(struct tcmur_device *dev, enum mem_op op, unsigned int nth, int err)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	m->fail_err[op] = err;
	__atomic_store_n(&m->fail_in[op], nth, __ATOMIC_RELEASE);
}

static bool mem_opt(const char *cfg, const char *name, unsigned int *val)
{
	size_t n = strlen(name);

	for (const char *p = cfg; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (strncmp(p, name, n))
			continue;
		if (p[n] == '=' && val)
			*val = strtoul(p + n + 1, NULL, 10);
		if (p[n] == '\0' || p[n] == ',' || p[n] == '=')
			return true;
	}
	return false;
}

static int mem_open(struct tcmur_device *dev, bool reopen)
{
	struct mem_dev *m = tcmur_dev_private(dev);
	const char *cfg = tcmur_dev_config(dev);

	if (mem_opt(cfg, "fail_open", NULL) || (reopen && mem_opt(cfg, "fail_reopen", NULL))) {
		tcmu_dev_err(dev, "open %s: refused as asked", cfg);
		return -EIO;
	}
	mem_opt(cfg, "slow_ms", &m->slow_ms);
	m->caw_max = 0;
	mem_opt(cfg, "caw_max", &m->caw_max);
	m->again = mem_opt(cfg, "again", NULL);
	m->again_always = mem_opt(cfg, "again_always", NULL);
	m->nowait_calls = 0;
	m->hold = mem_opt(cfg, "hold", NULL);
	m->abort_wake = mem_opt(cfg, "abort_wake", NULL);
	m->abort_inline = mem_opt(cfg, "abort_inline", NULL);
	m->aborts = m->aborts_found = 0;
	m->async = m->hold || mem_opt(cfg, "async", NULL);
	m->released = false;
	m->held = 0;
	pthread_mutex_init(&m->hold_lock, NULL);
	pthread_cond_init(&m->hold_cond, NULL);
	m->no_fua = mem_opt(cfg, "no_fua", NULL);
	m->fixed_size = mem_opt(cfg, "fixed_size", NULL);
	m->size = tcmur_dev_size(dev);
	m->buf = calloc(1, m->size ? m->size : 1);
	if (!m->buf)
		return -ENOMEM;
	pthread_rwlock_init(&m->buf_lock, NULL);
	return 0;
}

static void mem_close(struct tcmur_device *dev)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	/* The daemon waited for the commands; wait for the threads too. */
	while (__atomic_load_n(&m->async_live, __ATOMIC_ACQUIRE))
		usleep(1000);
	pthread_cond_destroy(&m->hold_cond);
	pthread_mutex_destroy(&m->hold_lock);
	pthread_rwlock_destroy(&m->buf_lock);
	free(m->buf);
	m->buf = NULL;
}

static void mem_check(struct mem_dev *m, size_t len, uint64_t offset)
{
	if (offset > m->size || len > m->size - offset)
		abort();	/* the emulation let an out-of-range I/O through */
}

/* Inline calls (cmd->nowait): counted, and put off when asked. */
static bool mem_put_off(struct mem_dev *m, const struct tcmur_cmd *cmd)
{
	if (cmd->nowait)
		__atomic_add_fetch(&m->nowait_calls, 1, __ATOMIC_RELAXED);
	return m->again_always || (m->again && cmd->nowait);
}

unsigned int mem_handler_nowait_calls(struct tcmur_device *dev)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	return __atomic_load_n(&m->nowait_calls, __ATOMIC_RELAXED);
}

/* A write landed (buf_lock held): stable at completion if FUA we honour,
 * else unstable until a flush. */
static void mem_count_stable(struct mem_dev *m, const struct tcmur_cmd *cmd)
{
	if (cmd->fua && !m->no_fua)
		m->fua_writes++;
	else
		m->unstable++;
}

static tcmu_sts mem_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			 struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	int err;

	if (mem_put_off(m, cmd))
		return TCMU_STS_AGAIN;
	mem_check(m, len, offset);
	err = mem_injected(m, MEM_OP_READ);
	if (err)
		return tcmur_cmd_errno(cmd, -err, false);
	if (offset == 0 && m->slow_ms)
		usleep(m->slow_ms * 1000);
	__atomic_add_fetch(&m->ios, 1, __ATOMIC_RELAXED);
	pthread_rwlock_rdlock(&m->buf_lock);
	tcmu_iov_from_buf(iov, iov_cnt, m->buf + offset, len);
	pthread_rwlock_unlock(&m->buf_lock);
	return mem_done(dev, cmd, false);
}

static tcmu_sts mem_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			  struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	int err;

	if (mem_put_off(m, cmd))
		return TCMU_STS_AGAIN;
	mem_check(m, len, offset);
	err = mem_injected(m, MEM_OP_WRITE);
	if (err)
		return tcmur_cmd_errno(cmd, -err, true);
	__atomic_add_fetch(&m->ios, 1, __ATOMIC_RELAXED);
	pthread_rwlock_wrlock(&m->buf_lock);
	tcmu_iov_to_buf(m->buf + offset, len, iov, iov_cnt);
	mem_count_stable(m, cmd);
	pthread_rwlock_unlock(&m->buf_lock);
	return mem_done(dev, cmd, true);
}

static tcmu_sts mem_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	struct mem_dev *m = tcmur_dev_private(dev);
	int err;

	if (mem_put_off(m, cmd))
		return TCMU_STS_AGAIN;
	err = mem_injected(m, MEM_OP_FLUSH);
	if (err)
		return tcmur_cmd_errno(cmd, -err, true);
	__atomic_add_fetch(&m->ios, 1, __ATOMIC_RELAXED);
	/* Stable: every write that completed before this flush began. */
	pthread_rwlock_wrlock(&m->buf_lock);
	m->flushes++;
	m->unstable = 0;
	pthread_rwlock_unlock(&m->buf_lock);
	return mem_done(dev, cmd, false);
}

/* Main thread, no I/O in flight (the daemon paused the device). */
static int mem_reconfig(struct tcmur_device *dev, const struct tcmur_reconfig *rc)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	m->seen.calls++;
	m->seen.has_size = rc->has_size;
	m->seen.size = rc->size;
	m->seen.has_write_cache = rc->has_write_cache;
	m->seen.write_cache = rc->write_cache;
	if (rc->has_config)
		return -EOPNOTSUPP;
	if (rc->has_size && rc->size != m->size) {
		uint8_t *buf;

		if (m->fixed_size) {
			tcmu_dev_err(dev, "resize to %llu bytes: refused as asked",
				     (unsigned long long)rc->size);
			return -EPERM;
		}
		buf = realloc(m->buf, rc->size ? rc->size : 1);
		if (!buf)
			return -ENOMEM;
		if (rc->size > m->size)
			memset(buf + m->size, 0, rc->size - m->size);
		m->buf = buf;
		m->size = rc->size;
	}
	return 0;
}

void mem_handler_reconfig_seen(struct tcmur_device *dev, struct mem_reconfig_seen *out)
{
	*out = ((struct mem_dev *)tcmur_dev_private(dev))->seen;
}

static bool mem_can_fua(struct tcmur_device *dev)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	return !m->no_fua;
}

unsigned int mem_handler_held(struct tcmur_device *dev, unsigned int want, int wait_ms)
{
	struct mem_dev *m = tcmur_dev_private(dev);
	unsigned int n;

	pthread_mutex_lock(&m->hold_lock);
	for (int i = 0; m->held < want && i < wait_ms; i++) {
		pthread_mutex_unlock(&m->hold_lock);
		usleep(1000);
		pthread_mutex_lock(&m->hold_lock);
	}
	n = m->held;
	pthread_mutex_unlock(&m->hold_lock);
	return n;
}

/* The device thread: the kernel aborted @cmd, which we hold or are about
 * to complete. */
static void mem_abort(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	struct mem_dev *m = tcmur_dev_private(dev);
	struct mem_async *a;
	bool complete = false;

	pthread_mutex_lock(&m->hold_lock);
	m->aborts++;
	a = cmd->hpriv;
	if (a) {
		m->aborts_found++;
		if (m->abort_inline) {
			a->done = complete = true;
			cmd->hpriv = NULL;
		} else if (m->abort_wake) {
			a->aborted = true;
		}
		pthread_cond_broadcast(&m->hold_cond);
	}
	pthread_mutex_unlock(&m->hold_lock);
	if (complete)	/* from inside abort: the daemon answers once we return */
		tcmur_cmd_complete(dev, cmd, TCMU_STS_TASK_ABORTED);
}

void mem_handler_aborts(struct tcmur_device *dev, unsigned int *calls, unsigned int *found)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	pthread_mutex_lock(&m->hold_lock);
	*calls = m->aborts;
	*found = m->aborts_found;
	pthread_mutex_unlock(&m->hold_lock);
}

void mem_handler_release(struct tcmur_device *dev)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	pthread_mutex_lock(&m->hold_lock);
	m->released = true;
	pthread_cond_broadcast(&m->hold_cond);
	pthread_mutex_unlock(&m->hold_lock);
}

uint8_t *mem_handler_data(struct tcmur_device *dev)
{
	return ((struct mem_dev *)tcmur_dev_private(dev))->buf;
}

/* API 1.4 operations (mem_native_handler_ops): the medium's lock held
 * across the whole command, which makes compare and write atomic. */
static tcmu_sts mem_write_same(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			       struct iovec *iov, size_t iov_cnt, size_t len,
			       uint64_t offset)
{
	struct mem_dev *m = tcmur_dev_private(dev);
	uint32_t bs = tcmur_dev_block_size(dev);
	int err;

	mem_check(m, len, offset);
	err = mem_injected(m, MEM_OP_WRITE);
	if (err)
		return tcmur_cmd_errno(cmd, -err, true);
	__atomic_add_fetch(&m->ios, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->native_calls, 1, __ATOMIC_RELAXED);
	pthread_rwlock_wrlock(&m->buf_lock);
	tcmu_iov_to_buf(m->buf + offset, bs, iov, iov_cnt);
	for (size_t off = bs; off < len; off += bs)
		memcpy(m->buf + offset + off, m->buf + offset, bs);
	mem_count_stable(m, cmd);
	pthread_rwlock_unlock(&m->buf_lock);
	return mem_done(dev, cmd, true);
}

static tcmu_sts mem_compare_and_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
				      struct iovec *iov, size_t iov_cnt, size_t len,
				      uint64_t offset)
{
	struct mem_dev *m = tcmur_dev_private(dev);
	struct iovec *second = calloc(iov_cnt, sizeof(*second));
	ssize_t diff;
	size_t cnt;

	if (!second)
		return TCMU_STS_BUSY;
	mem_check(m, len, offset);
	__atomic_add_fetch(&m->ios, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->native_calls, 1, __ATOMIC_RELAXED);
	pthread_rwlock_wrlock(&m->buf_lock);
	diff = tcmu_iov_compare(iov, iov_cnt, m->buf + offset, len);
	if (diff < 0) {
		cnt = tcmu_iov_seek(iov, iov_cnt, len, second, iov_cnt);
		tcmu_iov_to_buf(m->buf + offset, len, second, cnt);
		mem_count_stable(m, cmd);
	}
	pthread_rwlock_unlock(&m->buf_lock);
	free(second);
	if (diff >= 0)
		return tcmur_cmd_miscompare(cmd, diff);
	return mem_done(dev, cmd, true);
}

static uint32_t mem_compare_and_write_max(struct tcmur_device *dev)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	return m->caw_max;
}

/* Health (API 1.4): the native calls so far, and a text figure. */
static unsigned int mem_health(struct tcmur_device *dev, struct tcmur_health *out,
			       unsigned int max)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	if (max < 2)
		return 0;
	snprintf(out[0].name, sizeof(out[0].name), "native_calls");
	out[0].value = __atomic_load_n(&m->native_calls, __ATOMIC_RELAXED);
	snprintf(out[1].name, sizeof(out[1].name), "medium");
	snprintf(out[1].text, sizeof(out[1].text), "%s", m->async ? "async" : "sync");
	return 2;
}

unsigned int mem_handler_native_calls(struct tcmur_device *dev)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	return __atomic_load_n(&m->native_calls, __ATOMIC_RELAXED);
}

unsigned int mem_handler_ios(struct tcmur_device *dev)
{
	struct mem_dev *m = tcmur_dev_private(dev);

	return __atomic_load_n(&m->ios, __ATOMIC_RELAXED);
}

static unsigned int mem_locked_count(struct tcmur_device *dev, size_t field)
{
	struct mem_dev *m = tcmur_dev_private(dev);
	unsigned int n;

	pthread_rwlock_rdlock(&m->buf_lock);
	n = *(unsigned int *)((char *)m + field);
	pthread_rwlock_unlock(&m->buf_lock);
	return n;
}

unsigned int mem_handler_flushes(struct tcmur_device *dev)
{
	return mem_locked_count(dev, offsetof(struct mem_dev, flushes));
}

unsigned int mem_handler_fua_writes(struct tcmur_device *dev)
{
	return mem_locked_count(dev, offsetof(struct mem_dev, fua_writes));
}

unsigned int mem_handler_unstable(struct tcmur_device *dev)
{
	return mem_locked_count(dev, offsetof(struct mem_dev, unstable));
}

#define MEM_HANDLER_TABLE						\
	.struct_size = sizeof(struct tcmur_handler),			\
	.api_version = TCMUR_HANDLER_API_VERSION,			\
	.name = "Memory (tests)",					\
	.subtype = "mem",						\
	.cfg_desc = "options: fail_open, fail_reopen, slow_ms=N, async, hold, "	\
		    "no_fua, fixed_size, again, again_always, abort_wake, abort_inline, "	\
		    "caw_max=N",						\
	.dev_private_size = sizeof(struct mem_dev),			\
	.nr_threads = 2,						\
	.open = mem_open,						\
	.close = mem_close,						\
	.reconfig = mem_reconfig,					\
	.read = mem_read,						\
	.write = mem_write,						\
	.flush = mem_flush,						\
	.can_fua = mem_can_fua,						\
	.abort = mem_abort

const struct tcmur_handler mem_handler_ops = {
	MEM_HANDLER_TABLE,
	.thread_model = TCMUR_THREAD_PARALLEL,
};

const struct tcmur_handler mem_inline_handler_ops = {
	MEM_HANDLER_TABLE,
	.thread_model = TCMUR_THREAD_PARALLEL,
	.inline_io = true,
};

const struct tcmur_handler mem_serial_inline_handler_ops = {
	MEM_HANDLER_TABLE,
	.thread_model = TCMUR_THREAD_SERIAL,
	.inline_io = true,
};

const struct tcmur_handler mem_native_handler_ops = {
	MEM_HANDLER_TABLE,
	.thread_model = TCMUR_THREAD_PARALLEL,
	.needs_api_minor = 4,
	.write_same = mem_write_same,
	.compare_and_write = mem_compare_and_write,
	.compare_and_write_max = mem_compare_and_write_max,
	.health = mem_health,
};
