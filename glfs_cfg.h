/*
 * glfs_cfg: handler_glfs's config string, parsed. No gfapi here: text in,
 * fields out.
 *
 *   <volume>@<host>[:port][,<host>[:port]...]/<path>[;option...]
 *
 * The hosts are glusterd's volfile servers (port 24007 by default, 16 at
 * most), tried in turn; <path> is the image file from the volume's root
 * (no ';' in it). Options, each at most once in effect (the last wins):
 *   ping_timeout=N|volume  our connection's ping-timeout (glfs_ping.h;
 *                          10 s when not given)
 *   create                 a missing image may be made, at the LUN's size,
 *                          by the LUN's first open (never by a reopen):
 *                          without it a missing image is refused, so that
 *                          a typo, or an image renamed or removed, never
 *                          becomes an empty disk
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef GLFS_CFG_H
#define GLFS_CFG_H

#include <stdbool.h>

#define GLFS_MAX_HOSTS 16

/* What a connection (glfs_conn.h) is made from and shared on: volume,
 * hosts (the list as the config gave it) and ping; host[] and port[]
 * are hosts parsed. The strings are the config's. */
struct glfs_conn_key {
	const char *volume;
	const char *hosts;
	unsigned int ping;		/* ping-timeout, s; 0: the volume's */
	unsigned int nhosts;
	const char *host[GLFS_MAX_HOSTS];
	int port[GLFS_MAX_HOSTS];
};

/* A parsed config string; key.volume and key.host[] point into buf,
 * key.hosts is hosts. */
struct glfs_cfg {
	char *buf;
	char *hosts;			/* the host list as given */
	char *path;			/* "/<path>" */
	bool create;			/* ;create */
	struct glfs_conn_key key;	/* the connection's */
};

/* @cfg (the part after "glfs/") into @c, which glfs_cfg_free() frees;
 * 0, or -EINVAL or -ENOMEM with *why set (then @c holds nothing). */
int glfs_cfg_parse(const char *cfg, struct glfs_cfg *c, const char **why);
void glfs_cfg_free(struct glfs_cfg *c);
/* @cfg with every ;create option taken out, the rest as it was (malloc'ed;
 * NULL: no memory): what the LUN's config becomes once its first open
 * made the image, so that no later first open (a restore at boot) makes
 * an empty one where the image went missing. */
char *glfs_cfg_without_create(const char *cfg);

#endif
