/*
 * crash_log: the handlers' writes and syncs on tracked files, caught by
 * defining the C library's names; see crash_log.h.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crash_log.h"

#define CRASH_MAX_FILES 8
#define CRASH_PAGE 4096		/* the page cache's unit of writeback */

/* The log's own state, process-wide as the calls it catches are. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct { dev_t dev; ino_t ino; } files[CRASH_MAX_FILES];
static unsigned int nr_files;
static struct crash_ev *evs;
static unsigned int nr_evs, cap_evs;
static bool logging;

/* The C library's (or the next interposer's) definition of @name. */
static void *real_fn(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn)
		abort();	/* a test binary without libc: nothing to test */
	return fn;
}

#define REAL(name, type) ((type)real_fn(name))

int crash_log_track(const char *path)
{
	struct stat st;
	int idx;

	if (stat(path, &st) < 0)
		return -errno;
	pthread_mutex_lock(&lock);
	idx = nr_files < CRASH_MAX_FILES ? (int)nr_files++ : -ENOSPC;
	if (idx >= 0) {
		files[idx].dev = st.st_dev;
		files[idx].ino = st.st_ino;
	}
	pthread_mutex_unlock(&lock);
	return idx;
}

void crash_log_start(void)
{
	__atomic_store_n(&logging, true, __ATOMIC_RELEASE);
}

void crash_log_stop(void)
{
	__atomic_store_n(&logging, false, __ATOMIC_RELEASE);
}

void crash_log_reset(void)
{
	pthread_mutex_lock(&lock);
	for (unsigned int i = 0; i < nr_evs; i++)
		free(evs[i].data);
	free(evs);
	evs = NULL;
	nr_evs = cap_evs = 0;
	nr_files = 0;
	logging = false;
	pthread_mutex_unlock(&lock);
}

unsigned int crash_log_now(void)
{
	unsigned int n;

	pthread_mutex_lock(&lock);
	n = nr_evs;
	pthread_mutex_unlock(&lock);
	return n;
}

const struct crash_ev *crash_log_events(unsigned int *n)
{
	*n = nr_evs;
	return evs;
}

/* The tracked file @fd is, or -1 (not tracked, or not logging). */
static int tracked(int fd)
{
	struct stat st;
	int idx = -1;

	if (!__atomic_load_n(&logging, __ATOMIC_ACQUIRE) || fstat(fd, &st) < 0)
		return -1;
	pthread_mutex_lock(&lock);
	for (unsigned int i = 0; i < nr_files; i++)
		if (files[i].dev == st.st_dev && files[i].ino == st.st_ino)
			idx = i;
	pthread_mutex_unlock(&lock);
	return idx;
}

/* Append @ev (its data now owned by the log). */
static void log_ev(const struct crash_ev *ev)
{
	pthread_mutex_lock(&lock);
	if (nr_evs == cap_evs) {
		unsigned int cap = cap_evs ? cap_evs * 2 : 256;
		struct crash_ev *n = realloc(evs, cap * sizeof(*n));

		if (!n)
			abort();	/* a log with a gap would replay lies */
		evs = n;
		cap_evs = cap;
	}
	evs[nr_evs++] = *ev;
	pthread_mutex_unlock(&lock);
}

/* A write of @n bytes (of @iov) at @off to tracked file @file, logged
 * page by page: writeback may have stored some of its pages and not
 * others (a torn write). */
static void log_write(int fd, int file, const struct iovec *iov, int cnt, off_t off,
		      size_t n, bool dsync)
{
	bool stable = dsync || (fcntl(fd, F_GETFL) & (O_DSYNC | O_SYNC));
	size_t done = 0, from = 0;
	int i = 0;

	while (done < n) {
		size_t len = CRASH_PAGE - (off + done) % CRASH_PAGE;
		struct crash_ev ev = { .kind = CRASH_WRITE, .file = file, .off = off + done,
				       .stable = stable };

		ev.len = len < n - done ? len : n - done;
		ev.data = malloc(ev.len);
		if (!ev.data)
			abort();
		for (size_t got = 0; got < ev.len; ) {	/* gather from the iovecs */
			size_t k = iov[i].iov_len - from;

			if (k > ev.len - got)
				k = ev.len - got;
			memcpy(ev.data + got, (uint8_t *)iov[i].iov_base + from, k);
			got += k;
			from += k;
			if (from == iov[i].iov_len) {
				i++;
				from = 0;
			}
		}
		log_ev(&ev);
		done += ev.len;
	}
}

static ssize_t do_pwritev2(const char *name, int fd, const struct iovec *iov, int cnt,
			   off_t off, int flags)
{
	typedef ssize_t (*fn_t)(int, const struct iovec *, int, off_t, int);
	int file = tracked(fd);
	ssize_t n = REAL(name, fn_t)(fd, iov, cnt, off, flags);

	if (file >= 0 && n > 0)
		log_write(fd, file, iov, cnt, off, n, flags & (RWF_DSYNC | RWF_SYNC));
	return n;
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return do_pwritev2("pwritev2", fd, iov, cnt, off, flags);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return do_pwritev2("pwritev64v2", fd, iov, cnt, off, flags);
}

static ssize_t do_pwritev(const char *name, int fd, const struct iovec *iov, int cnt,
			  off_t off)
{
	typedef ssize_t (*fn_t)(int, const struct iovec *, int, off_t);
	int file = tracked(fd);
	ssize_t n = REAL(name, fn_t)(fd, iov, cnt, off);

	if (file >= 0 && n > 0)
		log_write(fd, file, iov, cnt, off, n, false);
	return n;
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return do_pwritev("pwritev", fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return do_pwritev("pwritev64", fd, iov, cnt, off);
}

static ssize_t do_pwrite(const char *name, int fd, const void *buf, size_t len, off_t off)
{
	typedef ssize_t (*fn_t)(int, const void *, size_t, off_t);
	struct iovec v = { (void *)buf, len };
	int file = tracked(fd);
	ssize_t n = REAL(name, fn_t)(fd, buf, len, off);

	if (file >= 0 && n > 0)
		log_write(fd, file, &v, 1, off, n, false);
	return n;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return do_pwrite("pwrite", fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return do_pwrite("pwrite64", fd, buf, len, off);
}

/* fdatasync or fsync: the writes logged before it was called are stable
 * once it returns 0. */
static int do_sync(const char *name, int fd)
{
	int file = tracked(fd);
	unsigned int covers = crash_log_now();
	int ret = REAL(name, int (*)(int))(fd);

	if (file >= 0 && ret == 0)
		log_ev(&(struct crash_ev){ .kind = CRASH_SYNC, .file = file, .covers = covers });
	return ret;
}

int fdatasync(int fd)
{
	return do_sync("fdatasync", fd);
}

int fsync(int fd)
{
	return do_sync("fsync", fd);
}

static int do_fallocate(const char *name, int fd, int mode, off_t off, off_t len)
{
	typedef int (*fn_t)(int, int, off_t, off_t);
	int file = tracked(fd);
	int ret = REAL(name, fn_t)(fd, mode, off, len);
	struct crash_ev ev = { .kind = CRASH_ZERO, .file = file, .off = off, .len = len };

	if (file < 0 || ret < 0)
		return ret;
	if (!(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))) {
		ev.kind = CRASH_EXTEND;	/* space only: the length, unless kept */
		ev.off = off + len;
		if (mode & FALLOC_FL_KEEP_SIZE)
			return ret;
	}
	log_ev(&ev);
	if (ev.kind == CRASH_ZERO && !(mode & FALLOC_FL_KEEP_SIZE))
		log_ev(&(struct crash_ev){ .kind = CRASH_EXTEND, .file = file,
					   .off = off + len });
	return ret;
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	return do_fallocate("fallocate", fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
	return do_fallocate("fallocate64", fd, mode, off, len);
}

static int do_ftruncate(const char *name, int fd, off_t len)
{
	int file = tracked(fd);
	int ret = REAL(name, int (*)(int, off_t))(fd, len);

	if (file >= 0 && ret == 0)
		log_ev(&(struct crash_ev){ .kind = CRASH_SIZE, .file = file, .off = len });
	return ret;
}

int ftruncate(int fd, off_t len)
{
	return do_ftruncate("ftruncate", fd, len);
}

int ftruncate64(int fd, off_t len)
{
	return do_ftruncate("ftruncate64", fd, len);
}

int sync_file_range(int fd, off_t off, off_t len, unsigned int flags)
{
	typedef int (*fn_t)(int, off_t, off_t, unsigned int);
	int file = tracked(fd);
	int ret = REAL("sync_file_range", fn_t)(fd, off, len, flags);

	if (file >= 0 && ret == 0)
		log_ev(&(struct crash_ev){ .kind = CRASH_NOSYNC, .file = file, .off = off,
					   .len = len });
	return ret;
}
