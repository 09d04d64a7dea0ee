/*
 * file_spy: counts the file handler's pwritev2 flags and fdatasyncs;
 * see file_spy.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <unistd.h>

#include "file_spy.h"

ssize_t __real_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
ssize_t __wrap_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

/* The spy's own state, process-wide as the wrapped calls are. */
static struct file_spy spy;
static unsigned int fail_in;		/* fdatasyncs until the injected error */
static int fail_err;

ssize_t __wrap_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	__atomic_add_fetch(&spy.writes, 1, __ATOMIC_RELAXED);
	if (flags & RWF_DSYNC)
		__atomic_add_fetch(&spy.dsync_writes, 1, __ATOMIC_RELAXED);
	return __real_pwritev2(fd, iov, cnt, off, flags);
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
}

void file_spy_fail_datasync(unsigned int nth, int err)
{
	fail_err = err;
	__atomic_store_n(&fail_in, nth, __ATOMIC_RELEASE);
}
