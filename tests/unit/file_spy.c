/*
 * file_spy: counts the file handler's preadv2/pwritev2 flags and
 * fdatasyncs, and shortens or fails its transfers on request; see
 * file_spy.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <unistd.h>

#include "file_spy.h"

ssize_t __real_preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
ssize_t __wrap_preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
ssize_t __real_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
ssize_t __wrap_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

/* What one direction's calls are made to do. */
struct spy_inject {
	enum file_spy_match limit_match;
	size_t limit;			/* bytes a call at most; 0: none */
	enum file_spy_match fail_match;
	unsigned int skip, fail;	/* matching calls to let by, then to fail */
	int err;
};

/* The spy's own state, process-wide as the wrapped calls are. */
static struct file_spy spy;
static unsigned int fail_in;		/* fdatasyncs until the injected error */
static int fail_err;
static pthread_mutex_t inject_lock = PTHREAD_MUTEX_INITIALIZER;
static struct spy_inject inject[2];	/* [0] preadv2, [1] pwritev2 */

static bool matches(enum file_spy_match m, int flags)
{
	return m == FILE_SPY_ANY || (m == FILE_SPY_NOWAIT) == !!(flags & RWF_NOWAIT);
}

/* What this call is to do: -1 go on (with *limit), else fail with *err. */
static int inject_take(bool write, int flags, size_t *limit, int *err)
{
	struct spy_inject *in = &inject[write];
	int fail = -1;

	pthread_mutex_lock(&inject_lock);
	*limit = in->limit && matches(in->limit_match, flags) ? in->limit : 0;
	if (in->fail && matches(in->fail_match, flags)) {
		if (in->skip) {
			in->skip--;
		} else {
			in->fail--;
			*err = in->err;
			fail = 0;
		}
	}
	pthread_mutex_unlock(&inject_lock);
	if (fail == 0 || *limit)
		__atomic_add_fetch(&spy.injected, 1, __ATOMIC_RELAXED);
	return fail;
}

/* The first entries of @iov holding at most @max bytes, into @out (at
 * most @cnt entries); how many. */
static int iov_cut(const struct iovec *iov, int cnt, size_t max, struct iovec *out)
{
	int n = 0;

	for (; n < cnt && max; n++) {
		out[n] = iov[n];
		if (out[n].iov_len > max)
			out[n].iov_len = max;
		max -= out[n].iov_len;
	}
	return n;
}

typedef ssize_t (*rw_fn)(int, const struct iovec *, int, off_t, int);

static ssize_t spy_rw(bool write, rw_fn real, int fd, const struct iovec *iov, int cnt,
		      off_t off, int flags)
{
	struct iovec cut[IOV_MAX];
	size_t limit;
	int err;

	if (inject_take(write, flags, &limit, &err) == 0) {
		if (!err)
			return 0;
		errno = err;
		return -1;
	}
	if (!limit || cnt > IOV_MAX)
		return real(fd, iov, cnt, off, flags);
	return real(fd, cut, iov_cut(iov, cnt, limit, cut), off, flags);
}

ssize_t __wrap_preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	__atomic_add_fetch(&spy.reads, 1, __ATOMIC_RELAXED);
	if (flags & RWF_NOWAIT)
		__atomic_add_fetch(&spy.nowait_reads, 1, __ATOMIC_RELAXED);
	return spy_rw(false, __real_preadv2, fd, iov, cnt, off, flags);
}

ssize_t __wrap_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	__atomic_add_fetch(&spy.writes, 1, __ATOMIC_RELAXED);
	if (flags & RWF_DSYNC)
		__atomic_add_fetch(&spy.dsync_writes, 1, __ATOMIC_RELAXED);
	if (flags & RWF_NOWAIT)
		__atomic_add_fetch(&spy.nowait_writes, 1, __ATOMIC_RELAXED);
	return spy_rw(true, __real_pwritev2, fd, iov, cnt, off, flags);
}

int __wrap_fdatasync(int fd)
{
	unsigned int left = __atomic_load_n(&fail_in, __ATOMIC_ACQUIRE);

	__atomic_add_fetch(&spy.datasyncs, 1, __ATOMIC_RELAXED);
	while (left && !__atomic_compare_exchange_n(&fail_in, &left, left - 1, false,
						    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	if (left == 1) {
		errno = fail_err;
		return -1;
	}
	return __real_fdatasync(fd);
}

void file_spy_get(struct file_spy *out)
{
	out->writes = __atomic_load_n(&spy.writes, __ATOMIC_RELAXED);
	out->dsync_writes = __atomic_load_n(&spy.dsync_writes, __ATOMIC_RELAXED);
	out->datasyncs = __atomic_load_n(&spy.datasyncs, __ATOMIC_RELAXED);
	out->reads = __atomic_load_n(&spy.reads, __ATOMIC_RELAXED);
	out->nowait_reads = __atomic_load_n(&spy.nowait_reads, __ATOMIC_RELAXED);
	out->nowait_writes = __atomic_load_n(&spy.nowait_writes, __ATOMIC_RELAXED);
	out->injected = __atomic_load_n(&spy.injected, __ATOMIC_RELAXED);
}

void file_spy_fail_datasync(unsigned int nth, int err)
{
	fail_err = err;
	__atomic_store_n(&fail_in, nth, __ATOMIC_RELEASE);
}

void file_spy_limit_io(bool write, enum file_spy_match match, size_t max)
{
	pthread_mutex_lock(&inject_lock);
	inject[write].limit_match = match;
	inject[write].limit = max;
	pthread_mutex_unlock(&inject_lock);
}

void file_spy_fail_io(bool write, enum file_spy_match match, unsigned int nth,
		      unsigned int calls, int err)
{
	pthread_mutex_lock(&inject_lock);
	inject[write].fail_match = match;
	inject[write].skip = nth ? nth - 1 : 0;
	inject[write].fail = calls;
	inject[write].err = err;
	pthread_mutex_unlock(&inject_lock);
}

void file_spy_clear(void)
{
	pthread_mutex_lock(&inject_lock);
	inject[0] = inject[1] = (struct spy_inject){ 0 };
	pthread_mutex_unlock(&inject_lock);
}
