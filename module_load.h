/*
 * Loading target_core_user with libkmod when its netlink family is
 * missing. Licensed under the Apache License, Version 2.0.
 */
#ifndef MODULE_LOAD_H
#define MODULE_LOAD_H

#include "log.h"

/* Load kernel module @name (and what it depends on); 0 or -errno. */
int module_load(const char *name, const struct log_cfg *log);

#endif
