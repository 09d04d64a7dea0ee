/*
 * Internal netlink entry points for tests and fuzzers: a tcmu_nl with no
 * socket, fed messages by hand; or one on a netlink socket of the test's
 * own, whose replies go to another. Licensed under the Apache License, 2.0.
 */
#ifndef NETLINK_H
#define NETLINK_H

#include "libtcmu.h"

/* A tcmu_nl that answers messages of generic netlink @family and never
 * sends replies. */
int tcmu_nl_new_detached(struct tcmu_nl **out, int family,
			 const struct tcmu_nl_ops *ops, void *opaque,
			 const struct tcmu_logger *log);

/* A tcmu_nl on the bound netlink socket @fd (taken: tcmu_nl_free closes
 * it) that receives events of @family on it (tcmu_nl_dispatch) and, as
 * if the kernel had asked for replies, sends each *_DONE reply to port
 * @peer_port. 0 or -errno (-EINVAL: @fd is not a netlink socket). */
int tcmu_nl_new_on_socket(struct tcmu_nl **out, int family, int fd, uint32_t peer_port,
			  const struct tcmu_nl_ops *ops, void *opaque,
			  const struct tcmu_logger *log);

#endif
