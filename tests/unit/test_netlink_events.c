/*
 * Netlink events as the kernel sends them (built with libnl's nlmsg/genlmsg
 * API), fed to a tcmu_nl with no socket: which callback runs, with what,
 * and what is refused. Then the replies, on a pair of netlink sockets
 * (NETLINK_USERSOCK, which needs no privilege) standing in for the
 * kernel's: every event sent to the daemon's socket and received by
 * tcmu_nl_dispatch gets its *_DONE command back with the callback's
 * status and the device id, refusals included; none for "not mine" or
 * without a device id. And at the daemon's stop, an event already queued
 * is answered before it stops taking events.
 */
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "netlink.h"
#include "tcmu_uapi.h"
#include "unit_test.h"

#define FAMILY 0x1c

struct calls {
	int added, removed, reconfig;
	int ret;			/* what the callbacks answer */
	struct tcmu_dev_info info;	/* the last one, handler_cfg rebased */
	char handler_cfg[1024];
	struct tcmu_reconfig rc;
};

static void keep(struct calls *c, const struct tcmu_dev_info *info)
{
	c->info = *info;
	snprintf(c->handler_cfg, sizeof(c->handler_cfg), "%s", tcmu_dev_info_handler_cfg(info));
}

static int on_added(void *opaque, const struct tcmu_dev_info *info)
{
	struct calls *c = opaque;

	c->added++;
	keep(c, info);
	return c->ret;
}

static int on_removed(void *opaque, const struct tcmu_dev_info *info)
{
	struct calls *c = opaque;

	c->removed++;
	keep(c, info);
	return c->ret;
}

static int on_reconfig(void *opaque, const struct tcmu_dev_info *info,
		       const struct tcmu_reconfig *rc)
{
	struct calls *c = opaque;

	c->reconfig++;
	keep(c, info);
	c->rc = *rc;
	return c->ret;
}

static const struct tcmu_nl_ops ops = {
	.added = on_added, .removed = on_removed, .reconfig = on_reconfig,
};

struct fx {
	struct tcmu_nl *nl;
	struct calls calls;
	struct tcmu_logger quiet;
};

static void quiet_log(void *opaque, enum tcmu_log_prio prio, const char *who,
		      const char *func, const char *fmt, va_list ap)
{
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	fx->quiet.fn = quiet_log;
	if (tcmu_nl_new_detached(&fx->nl, FAMILY, &ops, &fx->calls, &fx->quiet))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	tcmu_nl_free(fx->nl);
	free(fx);
	return 0;
}

static struct nl_msg *msg_new(int cmd)
{
	struct nl_msg *msg = nlmsg_alloc();

	assert_non_null(msg);
	assert_non_null(genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, FAMILY, 0, 0, cmd, 2));
	return msg;
}

static struct nl_msg *dev_msg(int cmd, const char *dev, uint32_t minor, uint32_t id)
{
	struct nl_msg *msg = msg_new(cmd);

	if (dev)
		assert_int_equal(nla_put_string(msg, TCMU_ATTR_DEVICE, dev), 0);
	if (minor != UINT32_MAX)
		assert_int_equal(nla_put_u32(msg, TCMU_ATTR_MINOR, minor), 0);
	if (id)
		assert_int_equal(nla_put_u32(msg, TCMU_ATTR_DEVICE_ID, id), 0);
	return msg;
}

static int feed(struct fx *fx, struct nl_msg *msg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	int ret = tcmu_nl_handle_msg(fx->nl, h, h->nlmsg_len);

	nlmsg_free(msg);
	return ret;
}

static void test_nl_added_with_all_attrs(void **state)
{
	struct fx *fx = *state;

	fx->calls.ret = 0;
	assert_int_equal(feed(fx, dev_msg(TCMU_CMD_ADDED_DEVICE,
					  "tcm-user/2/lun7/file//srv/lun7.img", 5, 77)), 0);
	assert_int_equal(fx->calls.added, 1);
	assert_int_equal(fx->calls.removed + fx->calls.reconfig, 0);
	assert_int_equal(fx->calls.info.uio_minor, 5);
	assert_int_equal(fx->calls.info.device_id, 77);
	assert_int_equal(fx->calls.info.hba, 2);
	assert_string_equal(fx->calls.info.name, "lun7");
	assert_string_equal(fx->calls.info.config, "file//srv/lun7.img");
	assert_string_equal(fx->calls.info.subtype, "file");
	assert_string_equal(fx->calls.handler_cfg, "/srv/lun7.img");
	assert_false(tcmu_nl_replies(fx->nl));
	assert_int_equal(tcmu_nl_fd(fx->nl), -1);
}

/* The callback's answer is what goes back (to the kernel, when it waits). */
static void test_nl_added_refused_by_callback(void **state)
{
	struct fx *fx = *state;

	fx->calls.ret = -ENODEV;
	assert_int_equal(feed(fx, dev_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/2/l/zz/x", 1, 3)),
			 -ENODEV);
	assert_int_equal(fx->calls.added, 1);
	/* "Not mine": another process answers; nothing is sent. */
	fx->calls.ret = TCMU_NL_NOT_MINE;
	assert_int_equal(feed(fx, dev_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/2/l/zz/x", 1, 3)), 0);
	assert_int_equal(fx->calls.added, 2);
}

static void test_nl_missing_device_or_minor_refused(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(feed(fx, dev_msg(TCMU_CMD_ADDED_DEVICE, NULL, 5, 77)), -EINVAL);
	assert_int_equal(feed(fx, dev_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/2/l/file/x",
					  UINT32_MAX, 77)), -EINVAL);
	assert_int_equal(feed(fx, dev_msg(TCMU_CMD_REMOVED_DEVICE, NULL, UINT32_MAX, 0)),
			 -EINVAL);
	assert_int_equal(feed(fx, dev_msg(TCMU_CMD_RECONFIG_DEVICE, NULL, 3, 0)), -EINVAL);
	/* A device string that is not a TCMU name. */
	assert_int_equal(feed(fx, dev_msg(TCMU_CMD_ADDED_DEVICE, "uio0", 5, 77)), -EINVAL);
	assert_int_equal(fx->calls.added + fx->calls.removed + fx->calls.reconfig, 0);
}

static void test_nl_removed(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(feed(fx, dev_msg(TCMU_CMD_REMOVED_DEVICE, "tcm-user/1/gone/file/x",
					  9, 0)), 0);
	assert_int_equal(fx->calls.removed, 1);
	assert_string_equal(fx->calls.info.name, "gone");
	assert_int_equal(fx->calls.info.uio_minor, 9);
	assert_int_equal(fx->calls.info.device_id, 0);
}

static void test_nl_reconfig_dev_cfg(void **state)
{
	struct fx *fx = *state;
	struct nl_msg *msg = dev_msg(TCMU_CMD_RECONFIG_DEVICE, "tcm-user/1/l/file//old", 2, 4);

	assert_int_equal(nla_put_string(msg, TCMU_ATTR_DEV_CFG, "file//new.img\n"), 0);
	assert_int_equal(feed(fx, msg), 0);
	assert_int_equal(fx->calls.reconfig, 1);
	assert_true(fx->calls.rc.has_config);
	assert_string_equal(fx->calls.rc.config, "file//new.img");
	assert_false(fx->calls.rc.has_size);
	assert_false(fx->calls.rc.has_write_cache);
}

static void test_nl_reconfig_size_and_write_cache(void **state)
{
	struct fx *fx = *state;
	struct nl_msg *msg = dev_msg(TCMU_CMD_RECONFIG_DEVICE, "tcm-user/1/l/file//old", 2, 4);

	assert_int_equal(nla_put_u64(msg, TCMU_ATTR_DEV_SIZE, 5ull << 30), 0);
	assert_int_equal(feed(fx, msg), 0);
	assert_true(fx->calls.rc.has_size);
	assert_int_equal(fx->calls.rc.size, 5ull << 30);
	assert_false(fx->calls.rc.has_config);
	assert_false(fx->calls.rc.has_write_cache);

	msg = dev_msg(TCMU_CMD_RECONFIG_DEVICE, "tcm-user/1/l/file//old", 2, 4);
	assert_int_equal(nla_put_u8(msg, TCMU_ATTR_WRITECACHE, 1), 0);
	assert_int_equal(feed(fx, msg), 0);
	assert_true(fx->calls.rc.has_write_cache);
	assert_true(fx->calls.rc.write_cache);
	assert_false(fx->calls.rc.has_size);

	msg = dev_msg(TCMU_CMD_RECONFIG_DEVICE, "tcm-user/1/l/file//old", 2, 4);
	assert_int_equal(nla_put_u8(msg, TCMU_ATTR_WRITECACHE, 0), 0);
	assert_int_equal(nla_put_u64(msg, TCMU_ATTR_DEV_SIZE, 4096), 0);
	assert_int_equal(nla_put_string(msg, TCMU_ATTR_DEV_CFG, "file//a"), 0);
	assert_int_equal(feed(fx, msg), 0);
	assert_int_equal(fx->calls.reconfig, 3);
	assert_true(fx->calls.rc.has_write_cache);
	assert_false(fx->calls.rc.write_cache);
	assert_int_equal(fx->calls.rc.size, 4096);
	assert_string_equal(fx->calls.rc.config, "file//a");
}

/* Malformed attributes are refused before any callback. */
static void test_nl_malformed_attrs(void **state)
{
	struct fx *fx = *state;
	struct nl_msg *msg = msg_new(TCMU_CMD_ADDED_DEVICE);
	uint16_t two = 2;

	assert_int_equal(nla_put(msg, TCMU_ATTR_DEVICE, 3, "abc"), 0);	/* no NUL */
	assert_int_equal(nla_put_u32(msg, TCMU_ATTR_MINOR, 1), 0);
	assert_int_equal(feed(fx, msg), -EINVAL);
	msg = dev_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/1/l/file/x", UINT32_MAX, 0);
	assert_int_equal(nla_put(msg, TCMU_ATTR_MINOR, 2, &two), 0);	/* short u32 */
	assert_int_equal(feed(fx, msg), -EINVAL);
	assert_int_equal(fx->calls.added, 0);
}

/* What is not an event of ours is let be. */
static void test_nl_other_messages_ignored(void **state)
{
	struct fx *fx = *state;
	struct nl_msg *msg;
	struct nlmsghdr *h;
	struct nlmsgerr *e;
	uint8_t shrt[8] = { 0 };

	assert_int_equal(feed(fx, dev_msg(TCMU_CMD_SET_FEATURES, "tcm-user/1/l/f/x", 1, 1)), 0);
	assert_int_equal(feed(fx, dev_msg(TCMU_CMD_ADDED_DEVICE_DONE, "tcm-user/1/l/f/x", 1, 1)),
			 0);
	assert_int_equal(feed(fx, dev_msg(0x42, "tcm-user/1/l/f/x", 1, 1)), 0);
	/* Another family. */
	msg = dev_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/1/l/f/x", 1, 1);
	nlmsg_hdr(msg)->nlmsg_type = FAMILY + 1;
	assert_int_equal(feed(fx, msg), 0);
	/* An error report. */
	msg = nlmsg_alloc();
	h = nlmsg_put(msg, 0, 0, NLMSG_ERROR, sizeof(*e), 0);
	e = nlmsg_data(h);
	e->error = -EPERM;
	assert_int_equal(feed(fx, msg), 0);
	/* Any int as the error, INT_MIN too (found by fuzz_netlink). */
	msg = nlmsg_alloc();
	h = nlmsg_put(msg, 0, 0, NLMSG_ERROR, sizeof(*e), 0);
	e = nlmsg_data(h);
	e->error = INT_MIN;
	assert_int_equal(feed(fx, msg), 0);
	assert_int_equal(fx->calls.added + fx->calls.removed + fx->calls.reconfig, 0);
	/* Too short, or a length past the buffer. */
	assert_int_equal(tcmu_nl_handle_msg(fx->nl, shrt, sizeof(shrt)), -EINVAL);
	msg = dev_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/1/l/f/x", 1, 1);
	h = nlmsg_hdr(msg);
	assert_int_equal(tcmu_nl_handle_msg(fx->nl, h, h->nlmsg_len - 4), -EINVAL);
	nlmsg_free(msg);
}

/* No callback for the event: ADDED and RECONFIG refused, REMOVED fine. */
static void test_nl_without_callbacks(void **state)
{
	static const struct tcmu_nl_ops none;
	struct tcmu_nl *nl;
	struct fx fx = { 0 };

	(void)state;
	fx.quiet.fn = quiet_log;
	assert_int_equal(tcmu_nl_new_detached(&nl, FAMILY, &none, NULL, &fx.quiet), 0);
	fx.nl = nl;
	assert_int_equal(feed(&fx, dev_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/1/l/f/x", 1, 1)),
			 -EOPNOTSUPP);
	assert_int_equal(feed(&fx, dev_msg(TCMU_CMD_REMOVED_DEVICE, "tcm-user/1/l/f/x", 1, 1)),
			 0);
	assert_int_equal(feed(&fx, dev_msg(TCMU_CMD_RECONFIG_DEVICE, "tcm-user/1/l/f/x", 1, 1)),
			 -EOPNOTSUPP);
	tcmu_nl_free(nl);
	tcmu_nl_free(NULL);
}

/* The kernel's end: a bound netlink socket, and the daemon's tcmu_nl on
 * another that replies to it. */
struct pair {
	int kfd;
	uint32_t kport, dport;
	struct tcmu_nl *nl;
	struct calls calls;
	struct tcmu_logger quiet;
};

static int bound_socket(uint32_t *port)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_USERSOCK);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		close(fd);
		return -1;
	}
	*port = sa.nl_pid;
	return fd;
}

static int pair_setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int dfd;

	p->quiet.fn = quiet_log;
	p->kfd = bound_socket(&p->kport);
	dfd = bound_socket(&p->dport);
	if (p->kfd < 0 || dfd < 0) {
		if (p->kfd >= 0)
			close(p->kfd);
		if (dfd >= 0)
			close(dfd);
		free(p);
		*state = NULL;	/* no netlink here: each test skips */
		return 0;
	}
	if (tcmu_nl_new_on_socket(&p->nl, FAMILY, dfd, p->kport, &ops, &p->calls, &p->quiet))
		return -1;
	*state = p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	if (!p)
		return 0;
	tcmu_nl_free(p->nl);
	close(p->kfd);
	free(p);
	return 0;
}

/* Send @msg from the kernel's end and let the daemon take it. */
static void pair_send(struct pair *p, struct nl_msg *msg)
{
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = p->dport };
	struct nlmsghdr *h = nlmsg_hdr(msg);

	assert_int_equal(sendto(p->kfd, h, h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)),
			 h->nlmsg_len);
	nlmsg_free(msg);
	assert_int_equal(tcmu_nl_dispatch(p->nl), 0);
}

struct reply {
	int cmd;
	bool has_status, has_id;
	int32_t status;
	uint32_t id;
};

/* The reply waiting at the kernel's end: 1, or 0 if none came within
 * @ms. */
static int pair_reply(struct pair *p, struct reply *r, int ms)
{
	struct pollfd pfd = { .fd = p->kfd, .events = POLLIN };
	struct nlattr *attrs[TCMU_ATTR_MAX + 1];
	struct sockaddr_nl from;
	socklen_t flen = sizeof(from);
	uint8_t buf[4096];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	n = recvfrom(p->kfd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
	assert_true(n >= (ssize_t)NLMSG_HDRLEN);
	assert_int_equal(from.nl_pid, p->dport);
	assert_true(nlmsg_ok(h, n));
	assert_int_equal(h->nlmsg_type, FAMILY);
	assert_true(genlmsg_valid_hdr(h, 0));
	assert_int_equal(genlmsg_parse(h, 0, attrs, TCMU_ATTR_MAX, NULL), 0);
	r->cmd = ((struct genlmsghdr *)nlmsg_data(h))->cmd;
	r->has_status = attrs[TCMU_ATTR_CMD_STATUS];
	r->status = r->has_status ? nla_get_s32(attrs[TCMU_ATTR_CMD_STATUS]) : 0;
	r->has_id = attrs[TCMU_ATTR_DEVICE_ID];
	r->id = r->has_id ? nla_get_u32(attrs[TCMU_ATTR_DEVICE_ID]) : 0;
	return 1;
}

static void test_nl_replies_on_a_socket(void **state)
{
	static const struct {
		int cmd, ret, done;
		const char *dev;
	} cases[] = {
		{ TCMU_CMD_ADDED_DEVICE, 0, TCMU_CMD_ADDED_DEVICE_DONE, "tcm-user/1/a/file//x" },
		{ TCMU_CMD_ADDED_DEVICE, -ENODEV, TCMU_CMD_ADDED_DEVICE_DONE, "tcm-user/1/a/zz/x" },
		{ TCMU_CMD_ADDED_DEVICE, -ENOENT, TCMU_CMD_ADDED_DEVICE_DONE,
		  "tcm-user/1/a/file//gone" },
		{ TCMU_CMD_REMOVED_DEVICE, 0, TCMU_CMD_REMOVED_DEVICE_DONE, "tcm-user/1/a/file//x" },
		{ TCMU_CMD_REMOVED_DEVICE, -EBUSY, TCMU_CMD_REMOVED_DEVICE_DONE,
		  "tcm-user/1/a/file//x" },
		{ TCMU_CMD_RECONFIG_DEVICE, 0, TCMU_CMD_RECONFIG_DEVICE_DONE,
		  "tcm-user/1/a/file//x" },
		{ TCMU_CMD_RECONFIG_DEVICE, -EINVAL, TCMU_CMD_RECONFIG_DEVICE_DONE,
		  "tcm-user/1/a/file//x" },
		/* Refused before any callback: still answered. */
		{ TCMU_CMD_ADDED_DEVICE, -EINVAL, TCMU_CMD_ADDED_DEVICE_DONE, "not-a-tcmu-name" },
	};
	struct pair *p = *state;
	struct reply r;

	if (!p)
		skip();
	assert_true(tcmu_nl_replies(p->nl));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t id = 100 + i;

		p->calls.ret = cases[i].ret;
		pair_send(p, dev_msg(cases[i].cmd, cases[i].dev, 3, id));
		assert_int_equal(pair_reply(p, &r, 2000), 1);
		print_message("event %d, callback %d: reply %d, status %d, device %u\n",
			      cases[i].cmd, cases[i].ret, r.cmd, r.status, r.id);
		assert_int_equal(r.cmd, cases[i].done);
		assert_true(r.has_status);
		assert_int_equal(r.status, cases[i].ret);
		assert_true(r.has_id);
		assert_int_equal(r.id, id);
	}
	assert_int_equal(p->calls.added, 3);
	assert_int_equal(p->calls.removed, 2);
	assert_int_equal(p->calls.reconfig, 2);
	/* Nothing else was sent. */
	assert_int_equal(pair_reply(p, &r, 0), 0);
}

/* Another process's device, or an event without a device id (a kernel
 * that does not wait for replies): no reply. */
static void test_nl_no_reply_when_not_ours_to_give(void **state)
{
	struct pair *p = *state;
	struct reply r;

	if (!p)
		skip();
	p->calls.ret = TCMU_NL_NOT_MINE;
	pair_send(p, dev_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/1/a/ext/x", 3, 7));
	p->calls.ret = 0;
	pair_send(p, dev_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/1/a/file//x", 3, 0));
	pair_send(p, dev_msg(TCMU_CMD_REMOVED_DEVICE, "tcm-user/1/a/file//x", 3, 0));
	assert_int_equal(p->calls.added, 2);
	assert_int_equal(p->calls.removed, 1);
	assert_int_equal(pair_reply(p, &r, 200), 0);
}

/* The kernel's end while the daemon stops: acks SET_FEATURES, keeps the
 * replies it gets. */
struct stopping_kernel {
	struct pair *p;
	int features;			/* SUPP_KERN_CMD_REPLY asked; -1: none */
	struct reply done;		/* the *_DONE reply, cmd 0 if none */
};

static void *stopping_kernel_run(void *arg)
{
	struct stopping_kernel *k = arg;
	struct pollfd pfd = { .fd = k->p->kfd, .events = POLLIN };
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = k->p->dport };

	while ((k->features < 0 || !k->done.cmd) && poll(&pfd, 1, 3000) == 1) {
		struct nlattr *attrs[TCMU_ATTR_MAX + 1];
		uint8_t buf[4096];
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		struct {
			struct nlmsghdr h;
			struct nlmsgerr e;
		} ack;
		ssize_t n = recv(k->p->kfd, buf, sizeof(buf), 0);
		int cmd;

		if (n < (ssize_t)NLMSG_HDRLEN || !nlmsg_ok(h, n) || !genlmsg_valid_hdr(h, 0) ||
		    genlmsg_parse(h, 0, attrs, TCMU_ATTR_MAX, NULL))
			continue;
		cmd = ((struct genlmsghdr *)nlmsg_data(h))->cmd;
		if (cmd != TCMU_CMD_SET_FEATURES) {
			k->done.cmd = cmd;
			k->done.has_id = attrs[TCMU_ATTR_DEVICE_ID];
			k->done.id = k->done.has_id ? nla_get_u32(attrs[TCMU_ATTR_DEVICE_ID]) : 0;
			continue;
		}
		k->features = attrs[TCMU_ATTR_SUPP_KERN_CMD_REPLY] ?
			      nla_get_u8(attrs[TCMU_ATTR_SUPP_KERN_CMD_REPLY]) : 2;
		memset(&ack, 0, sizeof(ack));
		ack.h.nlmsg_len = sizeof(ack);
		ack.h.nlmsg_type = NLMSG_ERROR;
		ack.h.nlmsg_seq = h->nlmsg_seq;
		ack.e.msg = *h;
		sendto(k->p->kfd, &ack, sizeof(ack), 0, (struct sockaddr *)&to, sizeof(to));
	}
	return NULL;
}

/* An event queued when the daemon stops is answered before the daemon
 * stops taking events: else the kernel, which asked for replies, waits
 * for this one without end. Events after the stop are not taken. */
static void test_nl_stop_answers_queued_events(void **state)
{
	struct pair *p = *state;
	struct stopping_kernel k = { .p = p, .features = -1 };
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	struct nl_msg *msg;
	struct reply r;
	pthread_t th;

	if (!p)
		skip();
	to.nl_pid = p->dport;
	msg = dev_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/1/a/file//x", 3, 42);
	assert_int_equal(sendto(p->kfd, nlmsg_hdr(msg), nlmsg_hdr(msg)->nlmsg_len, 0,
				(struct sockaddr *)&to, sizeof(to)),
			 nlmsg_hdr(msg)->nlmsg_len);
	nlmsg_free(msg);
	assert_int_equal(pthread_create(&th, NULL, stopping_kernel_run, &k), 0);
	tcmu_nl_stop_replies(p->nl);
	pthread_join(th, NULL);
	assert_int_equal(k.features, 0);
	assert_int_equal(p->calls.added, 1);
	assert_int_equal(k.done.cmd, TCMU_CMD_ADDED_DEVICE_DONE);
	assert_true(k.done.has_id);
	assert_int_equal(k.done.id, 42);
	assert_false(tcmu_nl_replies(p->nl));

	pair_send(p, dev_msg(TCMU_CMD_ADDED_DEVICE, "tcm-user/1/a/file//y", 4, 43));
	assert_int_equal(p->calls.added, 1);
	assert_int_equal(pair_reply(p, &r, 200), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_nl_added_with_all_attrs),
		T(test_nl_added_refused_by_callback),
		T(test_nl_missing_device_or_minor_refused),
		T(test_nl_removed),
		T(test_nl_reconfig_dev_cfg),
		T(test_nl_reconfig_size_and_write_cache),
		T(test_nl_malformed_attrs),
		T(test_nl_other_messages_ignored),
		cmocka_unit_test(test_nl_without_callbacks),
		cmocka_unit_test_setup_teardown(test_nl_replies_on_a_socket, pair_setup,
						pair_teardown),
		cmocka_unit_test_setup_teardown(test_nl_no_reply_when_not_ours_to_give,
						pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_nl_stop_answers_queued_events,
						pair_setup, pair_teardown),
	};

	return cmocka_run_group_tests_name("netlink events", tests, NULL, NULL);
}
