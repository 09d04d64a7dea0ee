/*
 * Taking over from a daemon that died: the kernel's TCMU state outlives
 * the process that served it, and two parts of it must be put right
 * before a new process serves anything.
 *
 * The rings. A ring holds, between cmd_tail and cmd_head, commands the
 * old daemon answered out of order and commands nobody answered, mixed,
 * with nothing to tell them apart (ring.c). Picking the ring up at
 * cmd_tail, as a plain restart does, re-runs commands the kernel has
 * already completed (a replayed WRITE can overwrite newer data written
 * since, through another path), misses pending ones, and answers cmd_ids
 * the kernel has freed, after which it marks the ring broken. So each
 * device is blocked, its ring reset and only then served
 * (tcmu_recover_dev). What the kernel does (drivers/target/
 * target_core_user.c, as in 6.1):
 *  - action/block_dev 1 (tcmu_block_dev): collects the answers already
 *    in the ring (the old daemon's last ones count), fails the commands
 *    waiting for ring space with BUSY, and from then on answers new
 *    commands BUSY (queue_cmd_ring: TCM_LUN_BUSY) without queueing them;
 *  - action/reset_ring 1 (tcmu_reset_ring): every command still in the
 *    ring is completed with SAM_STAT_BUSY, which the initiator retries
 *    (2 would complete them with CHECK CONDITION: a hard error the
 *    initiator passes up), their cmd_ids and data blocks are freed, and
 *    cmd_head = cmd_tail = 0;
 *  - action/block_dev 0 (tcmu_unblock_dev): new commands go to the ring.
 * Whatever the old daemon had started is so failed back to the initiator,
 * never replayed; the initiator's retry is ordered after everything it
 * was told had completed, so it overwrites nothing newer.
 *
 * Netlink. With SET_FEATURES (netlink.c) the kernel waits for the
 * daemon's reply to each device event, in a global switch that outlives
 * the daemon, uninterruptibly (wait_for_completion in
 * tcmu_wait_genl_cmd_reply): an event sent as the daemon died, or an
 * ADDED_DEVICE while no daemon listens, leaves targetcli or rmdir in D
 * state for good. target_core_user's module parameters block_netlink
 * (new events fail with -EAGAIN while it is 1) and reset_netlink (1:
 * every waiting event fails with -EINTR; refused unless blocked) end
 * those waits (tcmu_recover_netlink_*). They are module-wide, not per
 * device: /sys/module/target_core_user/parameters/.
 *
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "tcmu_uapi.h"

#include "libtcmu.h"

#define rec_err(log, who, ...) tcmu_log(log, TCMU_LOG_ERR, who, __func__, __VA_ARGS__)
#define rec_warn(log, who, ...) tcmu_log(log, TCMU_LOG_WARN, who, __func__, __VA_ARGS__)
#define rec_info(log, who, ...) tcmu_log(log, TCMU_LOG_INFO, who, __func__, __VA_ARGS__)
#define rec_dbg(log, who, ...) tcmu_log(log, TCMU_LOG_DEBUG, who, __func__, __VA_ARGS__)

/* The ring's pointers, as the kernel last left them. */
static void mb_pointers(const void *map, uint32_t *tail, uint32_t *head)
{
	const struct tcmu_mailbox *mb = map;

	*tail = __atomic_load_n(&mb->cmd_tail, __ATOMIC_ACQUIRE);
	*head = __atomic_load_n(&mb->cmd_head, __ATOMIC_ACQUIRE);
}

/* Write @val to the device's action @attr; 0 or -errno, logged unless
 * the kernel lacks the attribute (the caller says what that means). */
static int action_write(const struct tcmu_dev_info *info, const char *root,
			const char *attr, const char *val, const struct tcmu_logger *log)
{
	char path[1536];
	int err;

	err = tcmu_cfgfs_write_str(info, root, attr, val);
	if (err && err != -ENOENT) {
		tcmu_cfgfs_path(path, sizeof(path), info, root, attr);
		rec_err(log, info->name, "write %s to %s: %s", val, path, strerror(-err));
	}
	return err;
}

/*
 * Step 1. 0: blocked. -EAGAIN: the kernel has not finished enabling the
 * device (it refuses block_dev with EINVAL until then). Any other error:
 * not blocked, logged; the takeover goes on unblocked, as a plain restart
 * would: the initiator's new commands wait in the ring meanwhile instead
 * of being answered BUSY, which loses nothing.
 */
static int recover_block(const struct tcmu_dev_info *info, const char *root,
			 const struct tcmu_logger *log)
{
	char path[1536];
	int err = action_write(info, root, "action/block_dev", "1", log);

	if (err == -EINVAL) {
		rec_info(log, info->name, "uio%u is not enabled yet: left to its ADDED event",
			 info->uio_minor);
		return -EAGAIN;
	}
	if (err == -ENOENT) {
		tcmu_cfgfs_path(path, sizeof(path), info, root, "action/block_dev");
		rec_warn(log, info->name, "no %s (a kernel before 4.16, or configfs not "
			 "mounted): taken over without blocking it", path);
	}
	return err;
}

/*
 * Step 2 without reset_ring (a kernel before 4.16, configfs not mounted,
 * or the write refused): the safest the kernel then allows. An empty ring
 * (cmd_tail == cmd_head: the old daemon answered everything) holds
 * nothing to replay, and is served as it is. A ring with commands in it
 * cannot be: which of them were answered out of order is lost with the
 * old daemon, and answering them by the cmd_ids still in their slots
 * could complete the wrong command. It is refused; its commands end by
 * the kernel's cmd_time_out (CHECK CONDITION to the initiator), and it
 * stays unserved until an admin resets or re-creates it.
 */
static int recover_without_reset(const struct tcmu_dev_info *info, const char *root,
				 const void *map, int err, const struct tcmu_logger *log)
{
	char path[1536];
	uint32_t tail, head;

	tcmu_cfgfs_path(path, sizeof(path), info, root, "action/reset_ring");
	mb_pointers(map, &tail, &head);
	if (tail == head) {
		rec_warn(log, info->name, "no ring reset (%s: %s); the ring is empty "
			 "(cmd_tail = cmd_head = %u): nothing to replay", path,
			 strerror(-err), tail);
		return 0;
	}
	rec_err(log, info->name, "no ring reset (%s: %s), and the ring holds a previous "
		"daemon's commands (cmd_tail %u, cmd_head %u): not served, since they "
		"cannot be told apart from the ones it answered; the kernel's "
		"cmd_time_out fails them; reset the ring or re-create the device",
		path, strerror(-err), tail, head);
	return -ENOTRECOVERABLE;
}

int tcmu_recover_dev(const struct tcmu_dev_info *info, const char *cfgfs_root,
		     const void *map, size_t map_size,
		     int (*open_fn)(void *opaque), void *opaque,
		     const struct tcmu_logger *log)
{
	uint32_t tail0, head0, tail, head;
	bool blocked, reset;
	int err;

	if (map_size < sizeof(struct tcmu_mailbox))
		return -EINVAL;
	mb_pointers(map, &tail0, &head0);
	err = recover_block(info, cfgfs_root, log);
	if (err == -EAGAIN)
		return err;
	blocked = !err;
	/* The old daemon's last answers, collected by the block, are kept. */
	err = action_write(info, cfgfs_root, "action/reset_ring", "1", log);
	reset = !err;
	if (!reset) {
		err = recover_without_reset(info, cfgfs_root, map, err, log);
		if (err)
			goto out_unblock;
	}
	mb_pointers(map, &tail, &head);
	rec_dbg(log, info->name, "ring before: cmd_tail %u cmd_head %u; now %u %u",
		tail0, head0, tail, head);
	/* The caller's ring starts at cmd_tail: with the ring reset, nothing
	 * before cmd_head is a previous daemon's. */
	err = open_fn(opaque);
	if (err)
		goto out_unblock;
	if (blocked &&
	    action_write(info, cfgfs_root, "action/block_dev", "0", log)) {
		rec_err(log, info->name, "left blocked: its commands are answered BUSY");
		return -EIO;
	}
	if (reset)
		rec_info(log, info->name, "recovered: %s; ring reset (cmd_tail %u, cmd_head "
			 "%u: what it held failed with BUSY, for the initiator to retry); "
			 "served from cmd_tail %u%s", blocked ? "blocked" : "not blocked",
			 tail0, head0, tail, blocked ? "; unblocked" : "");
	return 0;

out_unblock:
	/* Not served: unblocked all the same, as the kernel had it, so that
	 * the initiator's commands end by cmd_time_out rather than BUSY
	 * retried without end. */
	if (blocked)
		action_write(info, cfgfs_root, "action/block_dev", "0", log);
	return err;
}

/* <sysfs>/module/target_core_user/parameters/@param. */
static int param_write(const char *sysfs, const char *param, const char *val)
{
	char path[512];
	ssize_t len = strlen(val);
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/module/target_core_user/parameters/%s",
		 sysfs ? sysfs : "/sys", param);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != len)
		err = -errno;
	close(fd);
	return err;
}

int tcmu_recover_netlink_block(const char *sysfs, const struct tcmu_logger *log)
{
	char path[512];
	int err;

	snprintf(path, sizeof(path), "%s/module/target_core_user", sysfs ? sysfs : "/sys");
	if (access(path, F_OK)) {
		rec_dbg(log, "netlink", "target_core_user not loaded: no event waits");
		return -ENODEV;
	}
	err = param_write(sysfs, "block_netlink", "1");
	if (err == -ENOENT) {
		rec_warn(log, "netlink", "target_core_user has no block_netlink parameter "
			 "(a kernel before 4.18?): device events a previous daemon left "
			 "unanswered cannot be failed; their targetcli or rmdir stay blocked");
		return err;
	}
	if (err) {
		rec_err(log, "netlink", "write 1 to target_core_user's block_netlink: %s",
			strerror(-err));
		return err;
	}
	err = param_write(sysfs, "reset_netlink", "1");
	if (err) {
		rec_err(log, "netlink", "write 1 to target_core_user's reset_netlink: %s",
			strerror(-err));
		tcmu_recover_netlink_unblock(sysfs, log);
		return err;
	}
	rec_info(log, "netlink", "netlink blocked; events waiting for a reply failed "
		 "(-EINTR to whoever waited)");
	return 0;
}

int tcmu_recover_netlink_unblock(const char *sysfs, const struct tcmu_logger *log)
{
	int err = param_write(sysfs, "block_netlink", "0");

	if (err)
		rec_err(log, "netlink", "write 0 to target_core_user's block_netlink: %s; "
			"device events fail with EAGAIN until it is 0", strerror(-err));
	else
		rec_dbg(log, "netlink", "netlink unblocked");
	return err;
}
