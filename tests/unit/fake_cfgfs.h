/*
 * fake_cfgfs: a configfs tree in a temporary directory, for tests that
 * point a device's cfgfs_root at it. Paths are those of libtcmu's
 * tcmu_cfgfs_path(): <root>/target/core/user_<hba>/<name>/<attr>.
 */
#ifndef FAKE_CFGFS_H
#define FAKE_CFGFS_H

#include <stddef.h>

struct fake_cfgfs {
	char root[128];
	unsigned int hba;
	char name[64];
};

/* Make an empty tree for device user_@hba/@name; 0 or -errno. */
int fake_cfgfs_new(struct fake_cfgfs *fc, unsigned int hba, const char *name);
/* Remove the whole tree. */
void fake_cfgfs_free(struct fake_cfgfs *fc);
/* Write @val to the device's @attr ("wwn/vpd_unit_serial"), making
 * directories on the way; 0 or -errno. */
int fake_cfgfs_write(const struct fake_cfgfs *fc, const char *attr, const char *val);
/* Read @attr into @buf; 0 or -errno. */
int fake_cfgfs_read(const struct fake_cfgfs *fc, const char *attr, char *buf, size_t len);
/* Replace @attr by a FIFO (writes to it block until the test reads). */
int fake_cfgfs_fifo(const struct fake_cfgfs *fc, const char *attr);
/* The full path of @attr, or of a path under <root>/target with @attr
 * starting "/" (a fabric's LUN, say). */
void fake_cfgfs_path(const struct fake_cfgfs *fc, const char *attr, char *path, size_t len);

#endif
