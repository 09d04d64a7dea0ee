/*
 * `tcmu-runner --status [--json]`: ask the running daemon, over the
 * system bus, for its handlers (the objects under /org/kernel/
 * TCMUService1), its devices (under .../devices, their properties) and
 * each device's statistics (GetStats), and print them (status_fmt.h).
 * A daemon that is not there, or a bus that will not let us ask (the
 * policy lets root call methods), is said as such. Licensed under the
 * Apache License, Version 2.0.
 */
#ifndef STATUS_CMD_H
#define STATUS_CMD_H

#include <stdbool.h>

/* The exit code: 0, or 1 with the reason on stderr. */
int status_cmd_run(bool json);

#endif
