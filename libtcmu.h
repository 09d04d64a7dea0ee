/*
 * libtcmu: the kernel interface of LIO's TCM-User backstore, for any
 * application that wants to serve TCMU devices (the tcmu-runner daemon is one).
 *
 * Four parts, usable separately:
 *  - netlink (tcmu_nl_*): device add/remove/reconfigure events from the
 *    generic netlink family "TCM-USER", with replies when the kernel asks;
 *  - UIO (tcmu_uio_*): finding TCMU devices in sysfs, opening /dev/uioN and
 *    mapping its mailbox, command ring and data area;
 *  - ring (tcmu_ring_*): taking SCSI commands off the command ring and
 *    completing them, in or out of order, from any thread;
 *  - recovery (tcmu_recover_*): taking over devices and pending netlink
 *    events from a process that died, without replaying its commands.
 *
 * The ring works on any (fd, map) pair, so a test can hand it ordinary
 * memory and a pipe instead of a UIO device: nothing else differs.
 *
 * Functions return 0 or -errno unless said otherwise. Objects come in
 * x_new()/x_free() pairs; x_free(NULL) does nothing.
 *
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef LIBTCMU_H
#define LIBTCMU_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBTCMU_VERSION_MAJOR 1
#define LIBTCMU_VERSION_MINOR 2	/* 1: tcmu_recover_*; 2: tcmu_ring_find/for_each */

/* Bytes of sense data the ring carries back to the kernel. */
#define TCMU_SENSE_LEN 96
/* Longest CDB we accept (variable-length CDBs top out at 260 bytes). */
#define TCMU_MAX_CDB_LEN 260

/* ---- logging ---------------------------------------------------------- */

/* Priorities as syslog(3): 3 error, 4 warning, 6 info, 7 debug. */
enum tcmu_log_prio {
	TCMU_LOG_ERR = 3,
	TCMU_LOG_WARN = 4,
	TCMU_LOG_INFO = 6,
	TCMU_LOG_DEBUG = 7,
};

/*
 * Where libtcmu's messages go. @who names the object (a device name or
 * "netlink"); @func the reporting function. A NULL logger, or a NULL fn,
 * writes errors and warnings to stderr.
 */
struct tcmu_logger {
	void (*fn)(void *opaque, enum tcmu_log_prio prio, const char *who,
		   const char *func, const char *fmt, va_list ap);
	void *opaque;
};

void tcmu_log(const struct tcmu_logger *log, enum tcmu_log_prio prio,
	      const char *who, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* ---- device identity -------------------------------------------------- */

/*
 * A TCMU device as the kernel names it. The UIO device's name is
 * "tcm-user/<hba>/<name>/<config>", and <config> is "<subtype>/<rest>".
 */
struct tcmu_dev_info {
	unsigned int uio_minor;		/* N of /dev/uioN */
	unsigned int hba;		/* N of core/user_N in configfs */
	uint32_t device_id;		/* kernel's id, for netlink replies */
	char name[256];			/* configfs object name */
	char config[1024];		/* "<subtype>/<handler config>" */
	char subtype[64];		/* part of config before the first '/' */
	uint16_t cfg_off;		/* where the handler part starts in config */
};

/* The handler part of the config: after "<subtype>/" (an offset, not a
 * pointer, so that copies of the struct stay whole). */
static inline const char *tcmu_dev_info_handler_cfg(const struct tcmu_dev_info *info)
{
	return info->config + info->cfg_off;
}

/* Parse a UIO name into @info (uio_minor and device_id left as they are). */
int tcmu_dev_info_parse(struct tcmu_dev_info *info, const char *uio_name);

/*
 * Read a device attribute from configfs,
 * /sys/kernel/config/target/core/user_<hba>/<name>/<attr> (for instance
 * "attrib/dev_size" or "attrib/hw_block_size"). @root overrides the
 * configfs mount point (NULL: /sys/kernel/config).
 */
int tcmu_cfgfs_read_u64(const struct tcmu_dev_info *info, const char *root,
			const char *attr, uint64_t *val);

/* The configfs path of a device attribute, as tcmu_cfgfs_read_u64 uses. */
void tcmu_cfgfs_path(char *path, size_t len, const struct tcmu_dev_info *info,
		     const char *root, const char *attr);

/* Read a string attribute the same way, newline stripped. */
int tcmu_cfgfs_read_str(const struct tcmu_dev_info *info, const char *root,
			const char *attr, char *buf, size_t len);

/* Write @val to a device attribute, as an admin's echo would; the kernel
 * may pass it to the daemon as a RECONFIG event first. */
int tcmu_cfgfs_write_str(const struct tcmu_dev_info *info, const char *root,
			 const char *attr, const char *val);

/* ---- UIO -------------------------------------------------------------- */

/*
 * Call @fn for each TCMU device present in sysfs (@sysfs NULL: /sys).
 * Stops at and returns the first non-zero value @fn returns.
 */
int tcmu_uio_scan(const char *sysfs,
		  int (*fn)(void *opaque, const struct tcmu_dev_info *info),
		  void *opaque);

/* Fill @info from /sys/class/uio/uio<minor>/name. */
int tcmu_uio_info(const char *sysfs, unsigned int minor,
		  struct tcmu_dev_info *info);

/*
 * Open /dev/uio<minor> and map its whole region; the caller owns *fd and
 * *map and releases them with tcmu_uio_close(). It holds one descriptor
 * (the map's size is read from sysfs through another, closed at once).
 * Errors are logged, but for a descriptor limit reached
 * (tcmu_fd_limit_reached): that only at debug level, the caller knowing
 * its limits and what to tell the admin.
 */
int tcmu_uio_open(const char *sysfs, unsigned int minor, int *fd, void **map,
		  size_t *map_size, const struct tcmu_logger *log,
		  const char *who);
void tcmu_uio_close(int fd, void *map, size_t map_size);

/* Whether -errno @err is a descriptor limit reached: EMFILE (this
 * process's RLIMIT_NOFILE) or ENFILE (the system's fs.file-max). */
static inline bool tcmu_fd_limit_reached(int err)
{
	return err == -EMFILE || err == -ENFILE;
}

/* The level to log a step of opening a device that failed with -errno
 * @err at: an error, but debug for a descriptor limit reached, which the
 * caller names once with the limit. */
static inline enum tcmu_log_prio tcmu_open_err_level(int err)
{
	return tcmu_fd_limit_reached(err) ? TCMU_LOG_DEBUG : TCMU_LOG_ERR;
}

/* ---- ring ------------------------------------------------------------- */

struct tcmu_ring;

/*
 * One command taken off the ring. The CDB and the iovec array are copies
 * owned by the command; the iovecs point into the ring's data area, where
 * a handler reads WRITE data and writes READ data in place.
 */
struct tcmu_cmd {
	uint16_t cmd_id;
	uint16_t cdb_len;
	uint8_t *cdb;			/* cdb_len bytes */
	struct iovec *iov;		/* data buffers, in order */
	size_t iov_cnt;
	size_t data_len;		/* sum of iov lengths */
	uint8_t sense[TCMU_SENSE_LEN];	/* filled on CHECK CONDITION */
	/* Set has_read_len when fewer than data_len bytes of data-in are
	 * valid: the kernel then reports the residual to the initiator. */
	bool has_read_len;
	uint32_t read_len;
	void *priv;			/* priv_size zeroed bytes for the user */
};

/*
 * Length of the CDB starting at @cdb from its opcode group (SPC-4
 * 4.2.5.1); a variable-length CDB (0x7f) needs 8 bytes of @avail to tell.
 * Returns -1 when it cannot.
 */
int tcmu_cdb_len(const uint8_t *cdb, size_t avail);

/* Task management notification from the kernel (TCMU_OP_TMR). */
struct tcmu_tmr {
	uint8_t type;			/* TCMU_TMR_* from the uapi */
	uint32_t cmd_cnt;
	const uint16_t *cmd_ids;	/* commands the kernel aborted */
};

/*
 * Wrap a mapped TCMU region. @fd is written to (4 bytes) to tell the
 * kernel that completions are ready; the ring does not close it or unmap
 * @map. Each command carries @priv_size bytes for the caller (cmd->priv). @who names the device in log messages. Fails with -EINVAL if the
 * mailbox does not describe a ring inside the map, or if @map is not
 * aligned as struct tcmu_mailbox needs (64 bytes; a UIO map is page
 * aligned).
 */
int tcmu_ring_new(struct tcmu_ring **out, int fd, void *map, size_t map_size,
		  size_t priv_size, const struct tcmu_logger *log,
		  const char *who);
void tcmu_ring_free(struct tcmu_ring *ring);

/* Kernel capabilities from the mailbox (TCMU_MAILBOX_FLAG_CAP_*). */
uint16_t tcmu_ring_kernel_flags(const struct tcmu_ring *ring);

/*
 * Take the next command off the ring, or NULL when none is waiting.
 * Skips padding; reports task management entries through @tmr_fn (may be
 * NULL); answers entries of unknown type and malformed commands itself
 * (a malformed command is completed with CHECK CONDITION, HARDWARE ERROR
 * and logged). Only one thread at a time may call it for a ring.
 */
struct tcmu_cmd *tcmu_ring_next(struct tcmu_ring *ring,
				void (*tmr_fn)(void *opaque,
					       const struct tcmu_tmr *tmr),
				void *opaque);

/*
 * Complete @cmd with SCSI @status (sense taken from cmd->sense when
 * status is CHECK CONDITION) and release it. Safe from any thread.
 * The kernel sees it after the next tcmu_ring_kick().
 */
void tcmu_ring_complete(struct tcmu_ring *ring, struct tcmu_cmd *cmd,
			uint8_t status);

/* Tell the kernel about completions since the last kick (one write). */
void tcmu_ring_kick(struct tcmu_ring *ring);

/* Commands handed out and not yet completed. */
unsigned int tcmu_ring_inflight(struct tcmu_ring *ring);

/*
 * The command with @cmd_id taken off the ring and not yet completed, or
 * NULL; one taken before the ring was last reset behind our back does
 * not count (its cmd_id is the kernel's to give again). For task
 * management (struct tcmu_tmr names commands by cmd_id). Call it on the
 * thread that calls tcmu_ring_next: only that call reuses a completed
 * command's memory, so the command stays valid memory until then, though
 * another thread may complete it meanwhile.
 */
struct tcmu_cmd *tcmu_ring_find(struct tcmu_ring *ring, uint16_t cmd_id);

/*
 * Call @fn for every command taken off the ring and not yet completed,
 * oldest first (a watchdog's walk). @fn runs under the ring's lock: it
 * must not call into the ring nor wait, and the command stays in flight
 * while it runs.
 */
void tcmu_ring_for_each(struct tcmu_ring *ring,
			void (*fn)(void *opaque, struct tcmu_cmd *cmd), void *opaque);

/* ---- recovery after a restart ------------------------------------------ */

/*
 * Serve a TCMU device that existed before this process started (found
 * by tcmu_uio_scan) without replaying what a previous process left in its
 * ring: commands it had answered out of order and commands it never
 * answered sit there mixed, and nothing tells them apart. Call it with
 * /dev/uioN already open and mapped (tcmu_uio_open: the kernel lets one
 * process open it, so no live process is serving the ring this resets):
 *  1. action/block_dev 1: the kernel collects the answers already in the
 *     ring and answers new commands BUSY;
 *  2. action/reset_ring 1: the kernel fails every command still in the
 *     ring with BUSY, which the initiator retries, and empties the ring;
 *  3. @open_fn(@opaque): make the ring (tcmu_ring_new on the same map; it
 *     starts at cmd_tail, the empty ring's) and open the backend;
 *  4. action/block_dev 0.
 * The attributes are under configfs (@cfgfs_root, NULL: /sys/kernel/
 * config) at target/core/user_<hba>/<name>/. Each step is logged under
 * the device's name. Where the kernel lacks them (before 4.16, or
 * configfs not mounted), that is logged and the device is taken over
 * unblocked; without reset_ring only an empty ring is served, and a ring
 * still holding commands is refused.
 * Returns 0; -EAGAIN when the kernel is still enabling the device (serve
 * it on its ADDED_DEVICE event instead); -ENOTRECOVERABLE for a ring that
 * holds commands and cannot be reset; -EIO when it stays blocked; or
 * @open_fn's error (the device is then unblocked and not served).
 */
int tcmu_recover_dev(const struct tcmu_dev_info *info, const char *cfgfs_root,
		     const void *map, size_t map_size,
		     int (*open_fn)(void *opaque), void *opaque,
		     const struct tcmu_logger *log);

/*
 * The kernel's wait for netlink replies (tcmu_nl_new) is global, outlives
 * the process that asked for it, and is uninterruptible: an event a
 * previous daemon never answered keeps targetcli or rmdir in D state.
 * tcmu_recover_netlink_block() sets target_core_user's module parameter
 * block_netlink (new events fail with EAGAIN) and then reset_netlink
 * (every waiting event fails with EINTR); tcmu_recover_netlink_unblock()
 * clears block_netlink. The system's main daemon calls block before
 * tcmu_nl_new and unblock right after it, so no event goes unheard in
 * between. Module-wide: it also fails events another process (an
 * external handler) has not answered yet. @sysfs: NULL for /sys.
 * 0 or -errno, logged (-ENODEV: target_core_user is not loaded, so no
 * event can be waiting; -ENOENT: the kernel has no such parameter).
 */
int tcmu_recover_netlink_block(const char *sysfs, const struct tcmu_logger *log);
int tcmu_recover_netlink_unblock(const char *sysfs, const struct tcmu_logger *log);

/* ---- netlink ---------------------------------------------------------- */

struct tcmu_nl;

/* What a RECONFIG_DEVICE event changes; fields not sent are flagged off. */
struct tcmu_reconfig {
	bool has_config, has_size, has_write_cache;
	char config[1024];
	uint64_t size;
	bool write_cache;
};

/*
 * Event callbacks, called from tcmu_nl_dispatch(). Each returns 0 or
 * -errno; the value is sent back to the kernel when it waits for replies.
 * TCMU_NL_NOT_MINE sends nothing: the device belongs to another process
 * listening too (several processes may serve different subtypes), and
 * that process answers the kernel.
 */
#define TCMU_NL_NOT_MINE 1

struct tcmu_nl_ops {
	int (*added)(void *opaque, const struct tcmu_dev_info *info);
	int (*removed)(void *opaque, const struct tcmu_dev_info *info);
	int (*reconfig)(void *opaque, const struct tcmu_dev_info *info,
			const struct tcmu_reconfig *rc);
};

/*
 * Join the TCM-USER family's "config" group and ask the kernel to wait
 * for our replies (SET_FEATURES). -ENOENT when the family is not there
 * (target_core_user not loaded).
 */
int tcmu_nl_new(struct tcmu_nl **out, const struct tcmu_nl_ops *ops,
		void *opaque, const struct tcmu_logger *log);
void tcmu_nl_free(struct tcmu_nl *nl);
/* The socket to poll for readability. */
int tcmu_nl_fd(const struct tcmu_nl *nl);
/* Read and handle every waiting message. */
int tcmu_nl_dispatch(struct tcmu_nl *nl);
/* True when the kernel accepted SET_FEATURES and waits for replies. */
bool tcmu_nl_replies(const struct tcmu_nl *nl);
/*
 * Stop taking events and tell the kernel to stop waiting for replies.
 * The kernel's setting is global, outlives the process, and a device
 * enabled while it is on waits for an answer with no time limit: the
 * system's main TCMU daemon calls this when it stops, so that devices
 * made while it is down are not stuck. Another process serving a few
 * subtypes beside the daemon should not.
 */
void tcmu_nl_stop_replies(struct tcmu_nl *nl);

/*
 * Handle one generic netlink message already read from the socket
 * (@buf, @len bytes, starting at the nlmsghdr). Exposed for tests and
 * fuzzing; tcmu_nl_dispatch() uses it.
 */
int tcmu_nl_handle_msg(struct tcmu_nl *nl, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
