/*
 * ALUA groups as configfs holds them (core/user_N/<dev>/alua/<group>/),
 * cached per device, plus the states the daemon keeps where the kernel
 * will not take them (see scsi_alua.c). Lock order: scsi_alua.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scsi_alua.h"

/* A state set by SET TARGET PORT GROUPS that configfs does not show. */
struct alua_kept {
	bool used;
	bool transitioning;
	uint16_t id;
	uint8_t state;
	uint8_t cfg_state;	/* configfs's state when it was set */
};

struct alua_cache {
	pthread_mutex_t lock;
	bool valid;
	struct timespec read_at;
	int n;
	struct alua_group groups[ALUA_MAX_GROUPS];
	struct alua_kept kept[ALUA_MAX_GROUPS];
};

int alua_cache_new(struct alua_cache **out)
{
	struct alua_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void alua_cache_free(struct alua_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void alua_cache_invalidate(struct alua_cache *c)
{
	pthread_mutex_lock(&c->lock);
	c->valid = false;
	pthread_mutex_unlock(&c->lock);
}

static int read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static void group_rel(char *rel, size_t len, const char *group, const char *attr)
{
	snprintf(rel, len, "alua/%s/%s", group, attr);
}

/* A numeric attribute of @group, or -1 if it cannot be read. */
static long group_attr(struct tcmur_device *dev, const char *group, const char *attr)
{
	char rel[256];
	uint64_t v;

	group_rel(rel, sizeof(rel), group, attr);
	return tcmu_cfgfs_read_u64(&dev->info, dev_cfgfs_root(dev), rel, &v) ? -1 : (long)v;
}

/* A text attribute of @group ("" if it cannot be read). */
static void group_text(struct tcmur_device *dev, const char *group, const char *attr,
		       char *buf, size_t len)
{
	char rel[256];

	group_rel(rel, sizeof(rel), group, attr);
	if (tcmu_cfgfs_read_str(&dev->info, dev_cfgfs_root(dev), rel, buf, len))
		buf[0] = '\0';
}

/* The relative port id of a member "fabric/wwn/tpgt_N/lun_M". */
static int member_rtpi(struct tcmur_device *dev, const char *member)
{
	const char *root = dev_cfgfs_root(dev);
	char path[1024], buf[32];
	const char *lun = strrchr(member, '/');

	if (!lun)
		return -1;
	snprintf(path, sizeof(path), "%s/target/%.*s/lun%s/statistics/scsi_port/indx",
		 root ? root : "/sys/kernel/config", (int)(lun - member), member, lun);
	if (read_text(path, buf, sizeof(buf)))
		return -1;
	return atoi(buf);
}

static void group_members(struct tcmur_device *dev, struct alua_group *g)
{
	char rel[256], path[1536], buf[4096], *line, *save = NULL;

	/* One line per port: read whole, not as tcmu_cfgfs_read_str does. */
	group_rel(rel, sizeof(rel), g->name, "members");
	tcmu_cfgfs_path(path, sizeof(path), &dev->info, dev_cfgfs_root(dev), rel);
	if (read_text(path, buf, sizeof(buf)))
		return;
	for (line = strtok_r(buf, "\n", &save); line && g->nports < ALUA_MAX_PORTS;
	     line = strtok_r(NULL, "\n", &save)) {
		int rtpi = member_rtpi(dev, line);

		g->rtpi[g->nports++] = rtpi < 0 ? 0 : rtpi;
	}
}

static uint8_t group_supported_states(struct tcmur_device *dev, const char *name)
{
	static const struct {
		const char *attr;
		uint8_t bit;
	} sup[] = {
		{ "alua_support_transitioning", 0x80 }, { "alua_support_offline", 0x40 },
		{ "alua_support_lba_dependent", 0x10 }, { "alua_support_unavailable", 0x08 },
		{ "alua_support_standby", 0x04 }, { "alua_support_active_nonoptimized", 0x02 },
		{ "alua_support_active_optimized", 0x01 },
	};
	uint8_t bits = 0;

	for (size_t i = 0; i < sizeof(sup) / sizeof(sup[0]); i++)
		if (group_attr(dev, name, sup[i].attr) == 1)
			bits |= sup[i].bit;
	return bits;
}

/* alua_access_type reads "None", "Implicit", "Explicit" or "Implicit and
 * Explicit": the TPGS field's two bits. */
static uint8_t group_access_type(struct tcmur_device *dev, const char *name)
{
	char buf[64];
	uint8_t type = 0;

	group_text(dev, name, "alua_access_type", buf, sizeof(buf));
	if (strstr(buf, "Implicit"))
		type |= ALUA_TYPE_IMPLICIT;
	if (strstr(buf, "Explicit"))
		type |= ALUA_TYPE_EXPLICIT;
	return type;
}

static uint8_t group_status(struct tcmur_device *dev, const char *name)
{
	char buf[64];

	group_text(dev, name, "alua_access_status", buf, sizeof(buf));
	if (strstr(buf, "Explicit"))
		return ALUA_STATUS_BY_STPG;
	if (strstr(buf, "Implicit"))
		return ALUA_STATUS_BY_IMPLICIT;
	return 0;
}

static bool group_read(struct tcmur_device *dev, const char *name, struct alua_group *g)
{
	long id;

	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%.63s", name);
	id = group_attr(dev, g->name, "tg_pt_gp_id");
	if (id < 0)
		return false;
	g->id = id;
	g->state = group_attr(dev, g->name, "alua_access_state") & 0x0f;
	g->type = group_access_type(dev, g->name);
	g->pref = group_attr(dev, g->name, "preferred") == 1;
	g->trans_secs = group_attr(dev, g->name, "implicit_trans_secs") & 0xff;
	id = group_attr(dev, g->name, "trans_delay_msecs");
	g->trans_delay_ms = id < 0 ? 0 : id;
	g->sup = group_supported_states(dev, g->name);
	g->status = group_status(dev, g->name);
	group_members(dev, g);
	return true;
}

static int groups_read_cfgfs(struct tcmur_device *dev, struct alua_group *out, int max)
{
	char path[1536];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	tcmu_cfgfs_path(path, sizeof(path), &dev->info, dev_cfgfs_root(dev), "alua");
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir)) && n < max) {
		if (de->d_name[0] != '.' && group_read(dev, de->d_name, &out[n]))
			n++;
	}
	closedir(dir);
	return n;
}

static struct alua_kept *kept_find(struct alua_cache *c, uint16_t id, bool add)
{
	struct alua_kept *free_slot = NULL;

	for (int i = 0; i < ALUA_MAX_GROUPS; i++) {
		if (c->kept[i].used && c->kept[i].id == id)
			return &c->kept[i];
		if (!c->kept[i].used && !free_slot)
			free_slot = &c->kept[i];
	}
	if (!add || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->id = id;
	return free_slot;
}

/* Lay the daemon's states over @n groups as configfs said. Under c->lock. */
static void apply_kept(struct alua_cache *c, struct alua_group *groups, int n)
{
	for (int i = 0; i < n; i++) {
		struct alua_group *g = &groups[i];
		struct alua_kept *k = kept_find(c, g->id, false);

		if (!k)
			continue;
		if (k->transitioning) {
			g->state = ALUA_STATE_TRANSITIONING;
			g->status = ALUA_STATUS_BY_STPG;
		} else if (g->state == k->cfg_state) {
			g->state = k->state;
			g->status = ALUA_STATUS_BY_STPG;
		} else {
			k->used = false;	/* configfs changed since: it wins */
		}
	}
}

static bool cache_fresh(const struct alua_cache *c)
{
	struct timespec now;
	long ms;

	if (!c->valid)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - c->read_at.tv_sec) * 1000 +
	     (now.tv_nsec - c->read_at.tv_nsec) / 1000000;
	return ms >= 0 && ms < ALUA_CACHE_TTL_MS;
}

int alua_groups_read(struct tcmur_device *dev, struct alua_group *out, int max)
{
	struct alua_cache *c = dev->alua;
	int n;

	pthread_mutex_lock(&c->lock);
	if (!cache_fresh(c)) {
		c->n = groups_read_cfgfs(dev, c->groups, ALUA_MAX_GROUPS);
		clock_gettime(CLOCK_MONOTONIC, &c->read_at);
		c->valid = true;
	}
	n = c->n < max ? c->n : max;
	memcpy(out, c->groups, n * sizeof(*out));
	apply_kept(c, out, n);
	pthread_mutex_unlock(&c->lock);
	return n;
}

bool alua_port_group(struct tcmur_device *dev, struct alua_group *g)
{
	struct alua_group groups[ALUA_MAX_GROUPS];
	int n = alua_groups_read(dev, groups, ALUA_MAX_GROUPS);

	for (int i = 0; i < n; i++) {
		if (groups[i].nports) {
			*g = groups[i];
			return true;
		}
	}
	return false;
}

bool alua_enabled(struct tcmur_device *dev)
{
	struct alua_group g;

	return alua_groups_read(dev, &g, 1) > 0;
}

void alua_group_transitioning(struct tcmur_device *dev, uint16_t id)
{
	struct alua_cache *c = dev->alua;
	struct alua_kept *k;

	pthread_mutex_lock(&c->lock);
	k = kept_find(c, id, true);
	if (k)
		k->transitioning = true;
	pthread_mutex_unlock(&c->lock);
}

void alua_group_keep(struct tcmur_device *dev, uint16_t id, uint8_t state,
		     uint8_t cfg_state)
{
	struct alua_cache *c = dev->alua;
	struct alua_kept *k;

	pthread_mutex_lock(&c->lock);
	k = kept_find(c, id, true);
	if (k) {
		k->transitioning = false;
		k->state = state;
		k->cfg_state = cfg_state;
	}
	c->valid = false;
	pthread_mutex_unlock(&c->lock);
}

int alua_group_write_state(struct tcmur_device *dev, const char *group, int state)
{
	char rel[256], val[8];

	group_rel(rel, sizeof(rel), group, "alua_access_state");
	snprintf(val, sizeof(val), "%d\n", state);
	return tcmu_cfgfs_write_str(&dev->info, dev_cfgfs_root(dev), rel, val);
}
