/*
 * Finding TCMU devices among UIO devices, opening and mapping them, and
 * reading their attributes from configfs. Licensed under the Apache
 * License, Version 2.0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libtcmu.h"

#define TCMU_UIO_PREFIX "tcm-user/"

void tcmu_log(const struct tcmu_logger *log, enum tcmu_log_prio prio,
	      const char *who, const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (log && log->fn) {
		log->fn(log->opaque, prio, who, func, fmt, ap);
	} else if (prio <= TCMU_LOG_WARN) {
		fprintf(stderr, "[%s] %s: ", who ? who : "tcmu", func);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

int tcmu_dev_info_parse(struct tcmu_dev_info *info, const char *uio_name)
{
	const char *p = uio_name, *name, *cfg, *slash;
	char *end;
	unsigned long hba;

	if (strncmp(p, TCMU_UIO_PREFIX, strlen(TCMU_UIO_PREFIX)))
		return -EINVAL;
	p += strlen(TCMU_UIO_PREFIX);
	if (*p < '0' || *p > '9')	/* strtoul would take spaces and signs */
		return -EINVAL;
	errno = 0;
	hba = strtoul(p, &end, 10);
	if (errno || end == p || *end != '/' || hba > UINT32_MAX)
		return -EINVAL;
	name = end + 1;
	cfg = strchr(name, '/');
	if (!cfg || cfg == name || (size_t)(cfg - name) >= sizeof(info->name))
		return -EINVAL;
	cfg++;
	if (strlen(cfg) >= sizeof(info->config))
		return -ENAMETOOLONG;
	info->hba = hba;
	memcpy(info->name, name, cfg - 1 - name);
	info->name[cfg - 1 - name] = '\0';
	strcpy(info->config, cfg);
	/* Strip the newline sysfs adds; a config never ends in one. */
	info->config[strcspn(info->config, "\n")] = '\0';
	slash = strchr(info->config, '/');
	if (!slash || slash == info->config ||
	    (size_t)(slash - info->config) >= sizeof(info->subtype)) {
		info->subtype[0] = '\0';
		info->cfg_off = strlen(info->config);
		return 0;
	}
	memcpy(info->subtype, info->config, slash - info->config);
	info->subtype[slash - info->config] = '\0';
	info->cfg_off = slash + 1 - info->config;
	return 0;
}

static int read_file_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		err = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return err;
}

static int read_file_u64(const char *path, uint64_t *val)
{
	char buf[64], *end;
	int err = read_file_str(path, buf, sizeof(buf));

	if (err)
		return err;
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

void tcmu_cfgfs_path(char *path, size_t len, const struct tcmu_dev_info *info,
		     const char *root, const char *attr)
{
	snprintf(path, len, "%s/target/core/user_%u/%s/%s",
		 root ? root : "/sys/kernel/config", info->hba, info->name, attr);
}

int tcmu_cfgfs_read_str(const struct tcmu_dev_info *info, const char *root,
			const char *attr, char *buf, size_t len)
{
	char path[1536];
	int err;

	tcmu_cfgfs_path(path, sizeof(path), info, root, attr);
	err = read_file_str(path, buf, len);
	if (!err)
		buf[strcspn(buf, "\n")] = '\0';
	return err;
}

int tcmu_cfgfs_write_str(const struct tcmu_dev_info *info, const char *root,
			 const char *attr, const char *val)
{
	ssize_t len = strlen(val);
	char path[1536];
	int fd, err = 0;

	tcmu_cfgfs_path(path, sizeof(path), info, root, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != len)
		err = -errno;
	close(fd);
	return err;
}

int tcmu_cfgfs_read_u64(const struct tcmu_dev_info *info, const char *root,
			const char *attr, uint64_t *val)
{
	char path[1536];

	tcmu_cfgfs_path(path, sizeof(path), info, root, attr);
	return read_file_u64(path, val);
}

int tcmu_uio_info(const char *sysfs, unsigned int minor, struct tcmu_dev_info *info)
{
	char path[512], name[1536];
	int err;

	snprintf(path, sizeof(path), "%s/class/uio/uio%u/name",
		 sysfs ? sysfs : "/sys", minor);
	err = read_file_str(path, name, sizeof(name));
	if (err)
		return err;
	err = tcmu_dev_info_parse(info, name);
	if (err)
		return err;
	info->uio_minor = minor;
	return 0;
}

int tcmu_uio_scan(const char *sysfs,
		  int (*fn)(void *opaque, const struct tcmu_dev_info *info),
		  void *opaque)
{
	char path[512];
	struct dirent *de;
	DIR *dir;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/class/uio", sysfs ? sysfs : "/sys");
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while (!ret && (de = readdir(dir))) {
		struct tcmu_dev_info info = { 0 };
		unsigned int minor;
		char extra;

		if (sscanf(de->d_name, "uio%u%c", &minor, &extra) != 1)
			continue;
		if (tcmu_uio_info(sysfs, minor, &info))
			continue;	/* not a TCMU device */
		ret = fn(opaque, &info);
	}
	closedir(dir);
	return ret;
}

/* An error opening a device, logged: at debug level for a descriptor
 * limit reached, which the caller names (libtcmu.h). */
#define uio_open_log(log, who, err, ...)					\
	tcmu_log(log, tcmu_open_err_level(err), who, __func__, __VA_ARGS__)

int tcmu_uio_open(const char *sysfs, unsigned int minor, int *fd, void **map,
		  size_t *map_size, const struct tcmu_logger *log, const char *who)
{
	char path[512];
	uint64_t size;
	void *m;
	int err, f;

	snprintf(path, sizeof(path), "%s/class/uio/uio%u/maps/map0/size",
		 sysfs ? sysfs : "/sys", minor);
	err = read_file_u64(path, &size);
	if (err) {
		uio_open_log(log, who, err, "read %s: %s", path, strerror(-err));
		return err;
	}
	snprintf(path, sizeof(path), "/dev/uio%u", minor);
	f = open(path, O_RDWR | O_CLOEXEC);
	if (f < 0) {
		err = -errno;
		uio_open_log(log, who, err, "open %s: %s", path, strerror(-err));
		return err;
	}
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		tcmu_log(log, TCMU_LOG_ERR, who, __func__, "mmap %s (%" PRIu64 " bytes): %s",
			 path, size, strerror(errno));
		close(f);
		return err;
	}
	*fd = f;
	*map = m;
	*map_size = size;
	return 0;
}

void tcmu_uio_close(int fd, void *map, size_t map_size)
{
	if (map)
		munmap(map, map_size);
	if (fd >= 0)
		close(fd);
}
