/*
 * The kernel's TCMU uapi, <linux/target_core_user.h>, made to live beside
 * <sys/uio.h>: the uapi header pulls in <linux/uio.h>, whose struct iovec
 * clashes with glibc's, so its iovec is renamed while it is read. The
 * layout is the same. Licensed under the Apache License, Version 2.0.
 */
#ifndef TCMU_UAPI_H
#define TCMU_UAPI_H

#include <sys/uio.h>

#define iovec tcmu_kernel_iovec
#include <linux/target_core_user.h>
#undef iovec

#endif
