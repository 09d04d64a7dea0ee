/*
 * Device events from the kernel's generic netlink family "TCM-USER".
 *
 * The kernel multicasts ADDED/REMOVED/RECONFIG_DEVICE to the "config"
 * group. Once we send SET_FEATURES with SUPP_KERN_CMD_REPLY, a kernel that
 * supports it waits for our *_DONE reply (with the status and the device
 * id it gave) before it finishes enabling, removing or reconfiguring the
 * device, so a refused device is refused to the admin, not just logged.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include "tcmu_uapi.h"

#include "libtcmu.h"
#include "netlink.h"

#define TCMU_GENL_FAMILY "TCM-USER"
#define TCMU_GENL_GROUP "config"
#define TCMU_GENL_VERSION 2
/* How long we wait for the kernel's ack of SET_FEATURES. */
#define NL_REQUEST_MS 5000

struct tcmu_nl {
	struct nl_sock *sock;
	int family;
	int group;
	bool replies;
	struct tcmu_nl_ops ops;
	void *opaque;
	const struct tcmu_logger *log;
};

#define nl_err(nl, ...) tcmu_log((nl)->log, TCMU_LOG_ERR, "netlink", __func__, __VA_ARGS__)
#define nl_info(nl, ...) tcmu_log((nl)->log, TCMU_LOG_INFO, "netlink", __func__, __VA_ARGS__)
#define nl_dbg(nl, ...) tcmu_log((nl)->log, TCMU_LOG_DEBUG, "netlink", __func__, __VA_ARGS__)

static const struct nla_policy tcmu_attr_policy[TCMU_ATTR_MAX + 1] = {
	[TCMU_ATTR_DEVICE] = { .type = NLA_STRING },
	[TCMU_ATTR_MINOR] = { .type = NLA_U32 },
	[TCMU_ATTR_DEV_CFG] = { .type = NLA_STRING },
	[TCMU_ATTR_DEV_SIZE] = { .type = NLA_U64 },
	[TCMU_ATTR_WRITECACHE] = { .type = NLA_U8 },
	[TCMU_ATTR_CMD_STATUS] = { .type = NLA_S32 },
	[TCMU_ATTR_DEVICE_ID] = { .type = NLA_U32 },
	[TCMU_ATTR_SUPP_KERN_CMD_REPLY] = { .type = NLA_U8 },
};

/* An nlmsgerr's error (-errno) as text; any int may arrive. */
static const char *nl_errstr(int error)
{
	return error < 0 && error > -4096 ? strerror(-error) : "unknown error";
}

static int nl_send_cmd(struct tcmu_nl *nl, int cmd, int status, uint32_t dev_id,
		       bool has_dev_id)
{
	struct nl_msg *msg = nlmsg_alloc();
	int err = -ENOMEM;

	if (!msg)
		return err;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, 0, cmd,
			 TCMU_GENL_VERSION))
		goto out_free;
	if (nla_put_s32(msg, TCMU_ATTR_CMD_STATUS, status) < 0)
		goto out_free;
	if (has_dev_id && nla_put_u32(msg, TCMU_ATTR_DEVICE_ID, dev_id) < 0)
		goto out_free;
	err = nl_send_auto(nl->sock, msg);
	err = err < 0 ? -EIO : 0;
out_free:
	nlmsg_free(msg);
	return err;
}

static int reply_cmd_for(int cmd)
{
	switch (cmd) {
	case TCMU_CMD_ADDED_DEVICE:
		return TCMU_CMD_ADDED_DEVICE_DONE;
	case TCMU_CMD_REMOVED_DEVICE:
		return TCMU_CMD_REMOVED_DEVICE_DONE;
	default:
		return TCMU_CMD_RECONFIG_DEVICE_DONE;
	}
}

static void reconfig_from_attrs(struct tcmu_reconfig *rc, struct nlattr **attrs)
{
	memset(rc, 0, sizeof(*rc));
	if (attrs[TCMU_ATTR_DEV_CFG]) {
		rc->has_config = true;
		snprintf(rc->config, sizeof(rc->config), "%s",
			 nla_get_string(attrs[TCMU_ATTR_DEV_CFG]));
		/* A write to attrib/dev_config keeps the admin's newline. */
		rc->config[strcspn(rc->config, "\n")] = '\0';
	}
	if (attrs[TCMU_ATTR_DEV_SIZE]) {
		rc->has_size = true;
		rc->size = nla_get_u64(attrs[TCMU_ATTR_DEV_SIZE]);
	}
	if (attrs[TCMU_ATTR_WRITECACHE]) {
		rc->has_write_cache = true;
		rc->write_cache = nla_get_u8(attrs[TCMU_ATTR_WRITECACHE]);
	}
}

static int nl_event(struct tcmu_nl *nl, int cmd, struct nlattr **attrs)
{
	struct tcmu_dev_info info = { 0 };
	struct tcmu_reconfig rc;
	int ret;

	if (!attrs[TCMU_ATTR_DEVICE] || !attrs[TCMU_ATTR_MINOR]) {
		nl_err(nl, "event %d without device name or minor: refused", cmd);
		return -EINVAL;
	}
	ret = tcmu_dev_info_parse(&info, nla_get_string(attrs[TCMU_ATTR_DEVICE]));
	if (ret) {
		nl_err(nl, "event %d for unparsable device '%s': refused", cmd,
		       nla_get_string(attrs[TCMU_ATTR_DEVICE]));
		return ret;
	}
	info.uio_minor = nla_get_u32(attrs[TCMU_ATTR_MINOR]);
	if (attrs[TCMU_ATTR_DEVICE_ID])
		info.device_id = nla_get_u32(attrs[TCMU_ATTR_DEVICE_ID]);

	switch (cmd) {
	case TCMU_CMD_ADDED_DEVICE:
		return nl->ops.added ? nl->ops.added(nl->opaque, &info) : -EOPNOTSUPP;
	case TCMU_CMD_REMOVED_DEVICE:
		return nl->ops.removed ? nl->ops.removed(nl->opaque, &info) : 0;
	case TCMU_CMD_RECONFIG_DEVICE:
		reconfig_from_attrs(&rc, attrs);
		return nl->ops.reconfig ? nl->ops.reconfig(nl->opaque, &info, &rc)
					: -EOPNOTSUPP;
	}
	return -EOPNOTSUPP;
}

int tcmu_nl_handle_msg(struct tcmu_nl *nl, const void *buf, size_t len)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct nlattr *attrs[TCMU_ATTR_MAX + 1];
	struct genlmsghdr *gh;
	int ret;

	if (len < sizeof(*nlh) || nlh->nlmsg_len > len || nlh->nlmsg_len < sizeof(*nlh))
		return -EINVAL;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = nlmsg_data(nlh);

		if (nlh->nlmsg_len >= (uint32_t)nlmsg_size(sizeof(*e)) && e->error)
			nl_err(nl, "kernel refused a message of ours: %s", nl_errstr(e->error));
		return 0;
	}
	if (nlh->nlmsg_type != nl->family || !genlmsg_valid_hdr(nlh, 0))
		return 0;	/* not ours */
	gh = nlmsg_data(nlh);
	if (gh->cmd != TCMU_CMD_ADDED_DEVICE && gh->cmd != TCMU_CMD_REMOVED_DEVICE &&
	    gh->cmd != TCMU_CMD_RECONFIG_DEVICE) {
		nl_dbg(nl, "ignoring command %u", gh->cmd);
		return 0;
	}
	ret = genlmsg_parse(nlh, 0, attrs, TCMU_ATTR_MAX, tcmu_attr_policy);
	if (ret < 0) {
		nl_err(nl, "malformed attributes in command %u: refused", gh->cmd);
		return -EINVAL;
	}
	ret = nl_event(nl, gh->cmd, attrs);
	if (ret == TCMU_NL_NOT_MINE)
		return 0;	/* another process serves it, and answers */
	if (nl->replies && nl->sock && attrs[TCMU_ATTR_DEVICE_ID]) {
		int err = nl_send_cmd(nl, reply_cmd_for(gh->cmd), ret,
				      nla_get_u32(attrs[TCMU_ATTR_DEVICE_ID]), true);
		if (err)
			nl_err(nl, "reply to command %u: %s", gh->cmd, strerror(-err));
	}
	return ret;
}

static int nl_valid_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);

	tcmu_nl_handle_msg(arg, nlh, nlh->nlmsg_len);
	return NL_OK;
}

static int nl_error_cb(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct tcmu_nl *nl = arg;

	(void)who;
	if (e->error)
		nl_err(nl, "kernel refused a message of ours: %s", nl_errstr(e->error));
	return NL_SKIP;
}

/* Waiting for the kernel's ack of one request of ours. */
struct nl_wait {
	struct tcmu_nl *nl;
	uint32_t seq;
	bool done;
	int error;		/* the ack's, -errno */
};

static int nl_wait_ack_cb(struct nl_msg *msg, void *arg)
{
	struct nl_wait *w = arg;

	if (nlmsg_hdr(msg)->nlmsg_seq != w->seq)
		return NL_OK;	/* the ack of a reply we sent meanwhile */
	w->done = true;
	return NL_STOP;
}

static int nl_wait_err_cb(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nl_wait *w = arg;

	if (e->msg.nlmsg_seq != w->seq)
		return nl_error_cb(who, e, w->nl);
	w->done = true;
	w->error = e->error;
	return NL_STOP;
}

/*
 * Send @msg (freed) and wait up to @ms for the kernel's ack. Events read
 * meanwhile are handled and answered as usual: libnl's nl_send_sync would
 * stop at the first of them, taking it for the ack, and leave it
 * unanswered. 0, the ack's -errno, -ETIMEDOUT or -EIO.
 */
static int nl_request(struct tcmu_nl *nl, struct nl_msg *msg, int ms)
{
	struct nl_wait w = { .nl = nl };
	struct pollfd pfd = { .fd = nl_socket_get_fd(nl->sock), .events = POLLIN };
	struct nl_cb *cb, *sock_cb;
	struct timespec t0, t;
	int err;

	err = nl_send_auto(nl->sock, msg);
	w.seq = nlmsg_hdr(msg)->nlmsg_seq;
	nlmsg_free(msg);
	if (err < 0)
		return -EIO;
	sock_cb = nl_socket_get_cb(nl->sock);
	cb = nl_cb_clone(sock_cb);
	nl_cb_put(sock_cb);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, nl_wait_ack_cb, &w);
	nl_cb_err(cb, NL_CB_CUSTOM, nl_wait_err_cb, &w);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = 0;
	while (!w.done) {
		long left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, left) < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		err = nl_recvmsgs(nl->sock, cb);
		if (w.done) {		/* an error ack ends nl_recvmsgs with it */
			err = 0;
			break;
		}
		if (err < 0 && err != -NLE_AGAIN) {
			nl_err(nl, "receive: %s", nl_geterror(err));
			err = -EIO;
			break;
		}
		err = 0;
	}
	nl_cb_put(cb);
	return err ? err : w.error;
}

/*
 * Ask the kernel to wait for our replies (@on), or to stop waiting. Old
 * kernels say no, which is fine. The setting is global and outlives us,
 * and the kernel waits for a reply without a time limit, so we switch it
 * off when we stop: else the next device enabled would hang until a
 * daemon answers.
 */
static int nl_set_features(struct tcmu_nl *nl, bool on)
{
	struct nl_msg *msg = nlmsg_alloc();
	int err;

	if (!msg)
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, 0,
			 TCMU_CMD_SET_FEATURES, TCMU_GENL_VERSION) ||
	    nla_put_u8(msg, TCMU_ATTR_SUPP_KERN_CMD_REPLY, on) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	err = nl_request(nl, msg, NL_REQUEST_MS);
	if (on) {
		nl->replies = err == 0;
		nl_info(nl, "kernel %s netlink replies", nl->replies ? "waits for" : "does not take");
	} else if (err) {
		nl_err(nl, "the kernel may still wait for our replies: %s", strerror(-err));
	}
	return err;
}

static int nl_alloc(struct tcmu_nl **out, const struct tcmu_nl_ops *ops, void *opaque,
		    const struct tcmu_logger *log)
{
	struct tcmu_nl *nl = calloc(1, sizeof(*nl));

	if (!nl)
		return -ENOMEM;
	nl->ops = *ops;
	nl->opaque = opaque;
	nl->log = log;
	*out = nl;
	return 0;
}

int tcmu_nl_new_detached(struct tcmu_nl **out, int family, const struct tcmu_nl_ops *ops,
			 void *opaque, const struct tcmu_logger *log)
{
	int err = nl_alloc(out, ops, opaque, log);

	if (!err)
		(*out)->family = family;
	return err;
}

/* Take events from it, as the group's socket does (tcmu_nl_dispatch). */
static int nl_sock_events(struct tcmu_nl *nl)
{
	nl_socket_disable_seq_check(nl->sock);
	nl_socket_modify_cb(nl->sock, NL_CB_VALID, NL_CB_CUSTOM, nl_valid_cb, nl);
	nl_socket_modify_err_cb(nl->sock, NL_CB_CUSTOM, nl_error_cb, nl);
	return nl_socket_set_nonblocking(nl->sock) < 0 ? -EIO : 0;
}

int tcmu_nl_new_on_socket(struct tcmu_nl **out, int family, int fd, uint32_t peer_port,
			  const struct tcmu_nl_ops *ops, void *opaque,
			  const struct tcmu_logger *log)
{
	struct tcmu_nl *nl;
	int err;

	err = nl_alloc(&nl, ops, opaque, log);
	if (err)
		return err;
	nl->family = family;
	nl->sock = nl_socket_alloc();
	if (!nl->sock) {
		err = -ENOMEM;
		goto out_free;
	}
	if (nl_socket_set_fd(nl->sock, -1, fd) < 0) {
		nl_err(nl, "take netlink socket %d: refused", fd);
		err = -EINVAL;
		goto out_sock;
	}
	nl_socket_set_peer_port(nl->sock, peer_port);
	err = nl_sock_events(nl);
	if (err)
		goto out_sock;
	nl->replies = true;
	*out = nl;
	return 0;

out_sock:
	nl_socket_free(nl->sock);
out_free:
	free(nl);
	return err;
}

int tcmu_nl_new(struct tcmu_nl **out, const struct tcmu_nl_ops *ops, void *opaque,
		const struct tcmu_logger *log)
{
	struct tcmu_nl *nl;
	int err, grp;

	err = nl_alloc(&nl, ops, opaque, log);
	if (err)
		return err;
	nl->sock = nl_socket_alloc();
	if (!nl->sock) {
		err = -ENOMEM;
		goto out_free;
	}
	if (genl_connect(nl->sock) < 0) {
		nl_err(nl, "connect generic netlink socket failed");
		err = -EIO;
		goto out_sock;
	}
	nl->family = genl_ctrl_resolve(nl->sock, TCMU_GENL_FAMILY);
	grp = genl_ctrl_resolve_grp(nl->sock, TCMU_GENL_FAMILY, TCMU_GENL_GROUP);
	if (nl->family < 0 || grp < 0) {
		nl_err(nl, "no netlink family %s (is target_core_user loaded?)",
		       TCMU_GENL_FAMILY);
		err = -ENOENT;
		goto out_sock;
	}
	/* The group first: once the kernel waits for our replies, an event
	 * it sends to a group we are not in yet waits for a reply nobody
	 * gives. Events that come while it acks are handled (nl_request). */
	nl->group = grp;
	if (nl_sock_events(nl) || nl_socket_add_membership(nl->sock, grp) < 0) {
		nl_err(nl, "join group %s/%s failed", TCMU_GENL_FAMILY, TCMU_GENL_GROUP);
		err = -EIO;
		goto out_sock;
	}
	nl_set_features(nl, true);
	*out = nl;
	return 0;

out_sock:
	nl_socket_free(nl->sock);
out_free:
	free(nl);
	return err;
}

void tcmu_nl_free(struct tcmu_nl *nl)
{
	if (!nl)
		return;
	if (nl->sock)
		nl_socket_free(nl->sock);
	free(nl);
}

void tcmu_nl_stop_replies(struct tcmu_nl *nl)
{
	if (!nl->sock || !nl->replies)
		return;
	/*
	 * The kernel stops waiting for replies to events it sends from now
	 * on. The ones it sent before wait for us without end: those queued
	 * on our socket are handled and answered while we wait for its ack,
	 * then whatever came in meanwhile. Only then do we stop taking events.
	 * An event sent in the instant between the kernel's check of the
	 * switch and its multicast can still arrive after our last read: the
	 * next daemon fails it at its start (tcmu_recover_netlink_block).
	 */
	nl_set_features(nl, false);
	tcmu_nl_dispatch(nl);
	if (nl->group)
		nl_socket_drop_membership(nl->sock, nl->group);
	nl_socket_modify_cb(nl->sock, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
	nl->replies = false;
}

int tcmu_nl_fd(const struct tcmu_nl *nl)
{
	return nl->sock ? nl_socket_get_fd(nl->sock) : -1;
}

bool tcmu_nl_replies(const struct tcmu_nl *nl)
{
	return nl->replies;
}

int tcmu_nl_dispatch(struct tcmu_nl *nl)
{
	int err;

	do {
		err = nl_recvmsgs_default(nl->sock);
	} while (err >= 0);
	if (err == -NLE_AGAIN)
		return 0;
	nl_err(nl, "receive: %s", nl_geterror(err));
	return -EIO;
}
