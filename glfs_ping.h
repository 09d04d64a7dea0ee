/*
 * glfs_ping: how long a frozen brick holds handler_glfs's commands, and
 * the config option that bounds it. No gfapi here: text in, numbers out.
 *
 * A brick that stops answering with its TCP connection up (SIGSTOP, a
 * hung host) is noticed only by protocol/client's ping timer
 * (rpc-clnt-ping.c): a ping goes out ping-timeout seconds after the last
 * answer while requests wait, and when a ping-timeout passes with
 * nothing sent or received the client disconnects and fails what waits
 * (ENOTCONN). A request sent just after a ping still counts as activity
 * at the next expiry, so it waits up to twice the ping-timeout. Measured
 * on Gluster 10.3, brick and glusterd SIGSTOPped, one 64 KiB write
 * (tests/build/glfs_tool stall): ping-timeout 10 failed it after 20.0 s,
 * whether set on the volume or as the client's xlator option (any of
 * "<vol>-client-*", "*-client-*", "<vol>-client-0"); 20 after 40.0 s; the
 * volume's default of 42 after 84.0 s; a write sent with no ping pending
 * failed after one ping-timeout (5 -> 5.0 s). The xlator option wins over
 * the volume's: volume 30 and ours 5 failed after 10.0 s, and ours held
 * (5.0 s) after the volume was set to 30 while connected. New requests sent
 * meanwhile on the same connection count as activity too and put it off
 * further.
 *
 * The kernel fails a command to the initiator at the device's
 * cmd_time_out (30 s by default) and drops the late answer: so twice the
 * ping-timeout must stay below it, or the initiator sees time-outs (and
 * aborts) instead of the retryable NOT READY a lost connection gives.
 * Hence our own default ping-timeout of 10 s (20 s at most) on our
 * connections, whatever the volume says, and the config option
 * ";ping_timeout=N" (N s, 1..1013 as protocol/client takes it, or
 * "volume" for the volume's network.ping-timeout, as the volfile says
 * when the connection is made: a later change is not seen).
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef GLFS_PING_H
#define GLFS_PING_H

#include <stddef.h>

#define GLFS_PING_DEFAULT 10		/* ours, when the config names none */
#define GLFS_PING_CLIENT_DEFAULT 42	/* protocol/client's, when the volume sets none */
#define GLFS_PING_MIN 1
#define GLFS_PING_MAX 1013
#define GLFS_KERNEL_CMD_TIME_OUT 30	/* the kernel's default cmd_time_out (TCMU_TIME_OUT) */

/* The value of a "ping_timeout=" option: seconds into *secs, or 0 for
 * "volume" (the volume's own). 0, or -EINVAL with *why set. */
int glfs_ping_parse(const char *value, unsigned int *secs, const char **why);

/* The ping-timeout a client volfile (glfs_get_volfile's text, @len
 * bytes, not NUL-terminated) gives protocol/client: the first
 * "option ping-timeout N" in a "type protocol/client" volume, else
 * GLFS_PING_CLIENT_DEFAULT. */
unsigned int glfs_ping_from_volfile(const char *text, size_t len);

/* The longest a frozen brick holds a command, in seconds. */
static inline unsigned int glfs_ping_bound(unsigned int ping_s)
{
	return 2 * ping_s;
}

/* The largest ping-timeout whose bound stays below @cmd_time_out_s
 * (0 if none does). */
static inline unsigned int glfs_ping_max_for(unsigned int cmd_time_out_s)
{
	return cmd_time_out_s ? (cmd_time_out_s - 1) / 2 : 0;
}

#endif
