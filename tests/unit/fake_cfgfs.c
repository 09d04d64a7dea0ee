/*
 * fake_cfgfs: see fake_cfgfs.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_cfgfs.h"

void fake_cfgfs_path(const struct fake_cfgfs *fc, const char *attr, char *path, size_t len)
{
	if (attr[0] == '/')
		snprintf(path, len, "%s/target%s", fc->root, attr);
	else
		snprintf(path, len, "%s/target/core/user_%u/%s/%s", fc->root, fc->hba,
			 fc->name, attr);
}

static int mkdirs(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	return 0;
}

int fake_cfgfs_new(struct fake_cfgfs *fc, unsigned int hba, const char *name)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[512];

	snprintf(fc->root, sizeof(fc->root), "%.60s/tcmu-cfgfs-XXXXXX", dir);
	if (!mkdtemp(fc->root))
		return -errno;
	fc->hba = hba;
	snprintf(fc->name, sizeof(fc->name), "%s", name);
	fake_cfgfs_path(fc, "", path, sizeof(path));
	return mkdirs(path);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

void fake_cfgfs_free(struct fake_cfgfs *fc)
{
	if (fc->root[0])
		nftw(fc->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fc->root[0] = '\0';
}

int fake_cfgfs_write(const struct fake_cfgfs *fc, const char *attr, const char *val)
{
	char path[512];
	int fd, err = 0;

	fake_cfgfs_path(fc, attr, path, sizeof(path));
	err = mkdirs(path);
	if (err)
		return err;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		err = -EIO;
	close(fd);
	return err;
}

int fake_cfgfs_read(const struct fake_cfgfs *fc, const char *attr, char *buf, size_t len)
{
	char path[512];
	ssize_t n;
	int fd;

	fake_cfgfs_path(fc, attr, path, sizeof(path));
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int fake_cfgfs_fifo(const struct fake_cfgfs *fc, const char *attr)
{
	char path[512];

	fake_cfgfs_path(fc, attr, path, sizeof(path));
	unlink(path);
	return mkfifo(path, 0644) < 0 ? -errno : 0;
}
