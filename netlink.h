/*
 * Internal netlink entry points for tests and fuzzers: a tcmu_nl with no
 * socket, fed messages by hand. Licensed under the Apache License, 2.0.
 */
#ifndef NETLINK_H
#define NETLINK_H

#include "libtcmu.h"

/* A tcmu_nl that answers messages of generic netlink @family and never
 * sends replies. */
int tcmu_nl_new_detached(struct tcmu_nl **out, int family,
			 const struct tcmu_nl_ops *ops, void *opaque,
			 const struct tcmu_logger *log);

#endif
