/*
 * glfs_tool: the volume's own view of a file, through libgfapi, for
 * tests/host/test_glfs.sh.
 *
 *   glfs_tool cat HOST VOLUME PATH
 *       the file's bytes on stdout.
 *   glfs_tool mkdir HOST VOLUME PATH
 *       make a directory.
 *   glfs_tool create HOST VOLUME PATH BYTES
 *       make a new file of BYTES (sparse); an existing one is an error.
 *   glfs_tool rm HOST VOLUME PATH / glfs_tool mv HOST VOLUME PATH NEWPATH
 *       unlink, rename.
 *   glfs_tool size HOST VOLUME PATH
 *       the file's size in bytes on stdout, or "missing".
 *   glfs_tool wbprobe HOST VOLUME PATH on|off
 *       write-behind's pass-through on (as handler_glfs sets it) or off
 *       (the volume's graph as is): write 64 KiB and fsync, print
 *       "ready", wait for a line on stdin (meanwhile the test kills the
 *       brick), then write 16 x 64 KiB and print how many were
 *       acknowledged. With the brick dead, every acknowledged write is
 *       one the volume lost.
 *   glfs_tool stall HOST VOLUME PATH [XLATOR KEY VALUE]
 *       write-behind pass-through on, and glfs_set_xlator_option(XLATOR,
 *       KEY, VALUE) before glfs_init if given: write 64 KiB and fsync,
 *       print "ready", wait for a line on stdin (meanwhile the test
 *       freezes the brick), then time one 64 KiB write: "write failed
 *       after S s: ERROR" or "write done after S s".
 *   glfs_tool volfile HOST VOLUME [XLATOR KEY VALUE]
 *       the client volfile (glfs_get_volfile) on stdout.
 * gfapi's log goes to $TCMU_GLFS_LOG (default /dev/null). Exits without
 * glfs_fini, which takes ~10 s.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glusterfs/api/glfs.h>

#define CHUNK (64 * 1024)

/* [XLATOR KEY VALUE], or all NULL. */
struct xopt {
	const char *xlator, *key, *value;
};

static glfs_t *connect_vol(const char *host, const char *vol, bool pass_through,
			   const struct xopt *x)
{
	const char *log = getenv("TCMU_GLFS_LOG");
	glfs_t *fs = glfs_new(vol);

	if (!fs || glfs_set_volfile_server(fs, "tcp", host, 24007) ||
	    glfs_set_logging(fs, log && *log ? log : "/dev/null", 4) ||
	    (pass_through &&
	     glfs_set_xlator_option(fs, "*-write-behind", "pass-through", "true")) ||
	    (x->xlator && glfs_set_xlator_option(fs, x->xlator, x->key, x->value)) ||
	    glfs_init(fs)) {
		fprintf(stderr, "glfs_tool: volume %s on %s: %s\n", vol, host, strerror(errno));
		return NULL;
	}
	return fs;
}

static int cat(glfs_t *fs, const char *path)
{
	static char buf[1 << 20];
	glfs_fd_t *fd = glfs_open(fs, path, O_RDONLY);
	ssize_t n;
	off_t off = 0;

	if (!fd) {
		fprintf(stderr, "glfs_tool: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = glfs_pread(fd, buf, sizeof(buf), off, 0, NULL)) > 0) {
		if (fwrite(buf, 1, n, stdout) != (size_t)n)
			return 1;
		off += n;
	}
	if (n < 0)
		fprintf(stderr, "glfs_tool: read %s at %lld: %s\n", path, (long long)off,
			strerror(errno));
	return n < 0 || fflush(stdout) ? 1 : 0;
}

/*
 * The file at @path made anew, its first CHUNK of @buf (filled with @fill)
 * written and synced; then "ready" on stdout, and a line on stdin (the
 * test has done what it does to the brick meanwhile). NULL on failure.
 */
static glfs_fd_t *first_chunk_then_wait(glfs_t *fs, const char *path, char *buf, int fill)
{
	glfs_fd_t *fd = glfs_creat(fs, path, O_RDWR | O_TRUNC, 0600);
	char line[16];

	memset(buf, fill, CHUNK);
	if (!fd || glfs_pwrite(fd, buf, CHUNK, 0, 0, NULL, NULL) != CHUNK ||
	    glfs_fsync(fd, NULL, NULL)) {
		fprintf(stderr, "glfs_tool: first write to %s: %s\n", path, strerror(errno));
		return NULL;
	}
	printf("ready\n");
	fflush(stdout);
	return fgets(line, sizeof(line), stdin) ? fd : NULL;
}

static int wbprobe(glfs_t *fs, const char *path)
{
	static char buf[CHUNK];
	glfs_fd_t *fd = first_chunk_then_wait(fs, path, buf, 0x5a);
	int acked = 0;

	if (!fd)
		return 1;
	for (int i = 1; i <= 16; i++)
		if (glfs_pwrite(fd, buf, CHUNK, (off_t)i * CHUNK, 0, NULL, NULL) == CHUNK)
			acked++;
	printf("acked %d of 16 writes\n", acked);
	fflush(stdout);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int stall(glfs_t *fs, const char *path)
{
	static char buf[CHUNK];
	glfs_fd_t *fd = first_chunk_then_wait(fs, path, buf, 0xa5);
	double t;
	ssize_t n;

	if (!fd)
		return 1;
	t = now_s();
	n = glfs_pwrite(fd, buf, CHUNK, CHUNK, 0, NULL, NULL);
	t = now_s() - t;
	if (n == CHUNK)
		printf("write done after %.1f s\n", t);
	else
		printf("write failed after %.1f s: %s\n", t, n < 0 ? strerror(errno) : "short");
	fflush(stdout);
	return 0;
}

/* gfapi's glfs_get_volfile copies @len bytes whatever the volfile's
 * length (it reads past it for a larger buffer): ask the length first
 * (len 0 answers minus it), then copy exactly that. */
static int volfile(glfs_t *fs)
{
	ssize_t need = glfs_get_volfile(fs, NULL, 0), n;
	char *buf;

	if (need >= 0 || !(buf = malloc(-need))) {
		fprintf(stderr, "glfs_tool: glfs_get_volfile: %zd\n", need);
		return 1;
	}
	n = glfs_get_volfile(fs, buf, -need);
	if (n != -need) {
		fprintf(stderr, "glfs_tool: glfs_get_volfile: %zd of %zd\n", n, -need);
		return 1;
	}
	return fwrite(buf, 1, n, stdout) == (size_t)n && !fflush(stdout) ? 0 : 1;
}

/* create, rm, mv, mkdir, size: one call each; 0 or 1, said why. */
static int path_op(glfs_t *fs, const char *op, char **arg)
{
	glfs_fd_t *fd = NULL;
	struct stat st;
	int r;

	if (!strcmp(op, "mkdir")) {
		r = glfs_mkdir(fs, arg[0], 0755);
	} else if (!strcmp(op, "rm")) {
		r = glfs_unlink(fs, arg[0]);
	} else if (!strcmp(op, "mv")) {
		r = glfs_rename(fs, arg[0], arg[1]);
	} else if (!strcmp(op, "create")) {
		fd = glfs_creat(fs, arg[0], O_RDWR | O_EXCL, 0600);
		r = !fd || glfs_ftruncate(fd, strtoll(arg[1], NULL, 0), NULL, NULL) ? -1 : 0;
	} else {	/* size */
		r = glfs_stat(fs, arg[0], &st);
		if (!r || errno == ENOENT) {
			if (r)
				printf("missing\n");
			else
				printf("%lld\n", (long long)st.st_size);
			return fflush(stdout) ? 1 : 0;
		}
	}
	if (r)
		fprintf(stderr, "glfs_tool: %s %s: %s\n", op, arg[0], strerror(errno));
	if (fd)
		glfs_close(fd);
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	bool probe = argc == 6 && !strcmp(argv[1], "wbprobe");
	bool st = (argc == 5 || argc == 8) && !strcmp(argv[1], "stall");
	bool vf = (argc == 4 || argc == 7) && !strcmp(argv[1], "volfile");
	bool one = argc == 5 && (!strcmp(argv[1], "mkdir") || !strcmp(argv[1], "rm") ||
				 !strcmp(argv[1], "size"));
	bool two = argc == 6 && (!strcmp(argv[1], "mv") || !strcmp(argv[1], "create"));
	struct xopt x = { 0 };
	glfs_t *fs;

	if (!(argc == 5 && !strcmp(argv[1], "cat")) && !one && !two && !st && !vf &&
	    !(probe && (!strcmp(argv[5], "on") || !strcmp(argv[5], "off")))) {
		fprintf(stderr, "usage: glfs_tool cat|mkdir|rm|size HOST VOLUME PATH\n"
			"       glfs_tool create HOST VOLUME PATH BYTES\n"
			"       glfs_tool mv HOST VOLUME PATH NEWPATH\n"
			"       glfs_tool wbprobe HOST VOLUME PATH on|off\n"
			"       glfs_tool stall HOST VOLUME PATH [XLATOR KEY VALUE]\n"
			"       glfs_tool volfile HOST VOLUME [XLATOR KEY VALUE]\n");
		return 2;
	}
	if (st && argc == 8)
		x = (struct xopt){ argv[5], argv[6], argv[7] };
	if (vf && argc == 7)
		x = (struct xopt){ argv[4], argv[5], argv[6] };
	fs = connect_vol(argv[2], argv[3], (probe && !strcmp(argv[5], "on")) || st, &x);
	if (!fs)
		return 1;
	if (st)
		_exit(stall(fs, argv[4]));
	if (vf)
		_exit(volfile(fs));
	if (one || two)
		_exit(path_op(fs, argv[1], argv + 4));
	_exit(probe ? wbprobe(fs, argv[4]) : cat(fs, argv[4]));
}
