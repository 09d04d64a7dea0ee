/*
 * store_key: the backing store a device's config names (a file, an RBD
 * image, a file on a Gluster volume), so that the daemon can tell, with
 * no handler's help, whether two LUNs would write to the same one.
 *
 * Read from each handler's config syntax (cfg_desc in handler_*.c and
 * glfs_cfg.c); options, after the first ';', never name the store:
 *
 *   <absolute path>[;...]      any handler (file, qcow): the file itself,
 *                              by its resolved path, or device and inode,
 *                              whichever handler serves it
 *   rbd/<pool>/<image>[@snap]  the image: "rbd:<pool>/<image>"
 *   glfs/<volume>@<hosts>/<path>
 *                              the file on the volume, from any hosts:
 *                              "glfs:<volume>:/<path>"
 *   <subtype>/<rest>           "<subtype>:<rest>"; no store if empty
 *                              ("null/" keeps nothing)
 *
 * When in doubt a key says "same": it holds a new LUN back while an old
 * one may still write, and a LUN refused a moment costs less than data
 * written over.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef STORE_KEY_H
#define STORE_KEY_H

#include <stdbool.h>
#include <sys/types.h>

struct store_key {
	char name[1100];	/* as above; "": no store */
	bool has_inode;		/* a local file that exists: also by inode */
	dev_t st_dev;
	ino_t st_ino;
};

/* The store that handler config @cfg (after "<subtype>/") names. */
void store_key_of(struct store_key *k, const char *subtype, const char *cfg);
/* Whether @a and @b are the same store (never when either has none). */
bool store_key_same(const struct store_key *a, const struct store_key *b);

#endif
