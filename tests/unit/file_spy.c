/*
 * file_spy: counts the file handler's pwritev2 flags and fdatasyncs;
 * see file_spy.h.
 */
#define _GNU_SOURCE
#include <sys/uio.h>
#include <unistd.h>

#include "file_spy.h"

ssize_t __real_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
ssize_t __wrap_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

/* The spy's own state, process-wide as the wrapped calls are. */
static struct file_spy spy;

ssize_t __wrap_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	__atomic_add_fetch(&spy.writes, 1, __ATOMIC_RELAXED);
	if (flags & RWF_DSYNC)
		__atomic_add_fetch(&spy.dsync_writes, 1, __ATOMIC_RELAXED);
	return __real_pwritev2(fd, iov, cnt, off, flags);
}

int __wrap_fdatasync(int fd)
{
	__atomic_add_fetch(&spy.datasyncs, 1, __ATOMIC_RELAXED);
	return __real_fdatasync(fd);
}

void file_spy_get(struct file_spy *out)
{
	out->writes = __atomic_load_n(&spy.writes, __ATOMIC_RELAXED);
	out->dsync_writes = __atomic_load_n(&spy.dsync_writes, __ATOMIC_RELAXED);
	out->datasyncs = __atomic_load_n(&spy.datasyncs, __ATOMIC_RELAXED);
}
