/*
 * Task management (SAM-5 7): the TCMU_OP_TMR entries the kernel puts in
 * the ring while the device's attrib/tmr_notification is 1, which the
 * daemon sets when it makes the device (the kernel takes 0 or 1 at any
 * time, exported or not: tcmu_tmr_notification_store; default 0).
 *
 * What the kernel does. ABORT TASK (core_tmr_abort_task) and LOGICAL
 * UNIT RESET or PREEMPT AND ABORT (core_tmr_lun_reset, draining the task
 * set in core_tmr_drain_state_list) mark the commands CMD_T_ABORTED and
 * call the backend's tmr_notify. TCMU's (tcmu_tmr_notify, in
 * target_core_user.c) fails with TASK ABORTED those still in its own
 * queue waiting for ring space, and, with tmr_notification set, queues a
 * TMR entry naming the cmd_ids of those in the ring (queue_tmr_ring),
 * behind them. The core then waits for every aborted command to complete
 * (target_put_cmd_and_wait) before it answers the initiator; it drops
 * the status of an aborted command (target_complete_cmd finds it
 * interrupted: target_cmd_interrupted), so any answer will do, but
 * without one the abort waits until the kernel's cmd_time_out expires the
 * command. ABORT TASK SET, CLEAR TASK SET, CLEAR ACA and the target
 * resets are refused by the core (target_tmr_work) and never reach us;
 * an I_T nexus loss sends no TMR at all.
 *
 * What the daemon does, on the device thread, as it meets the entry in
 * ring order (so every command it names was taken off the ring before):
 * each named command still in flight is marked aborted (cmd_ctx.aborted),
 * and then, if it is
 * - parked for the I/O lock (behind a COMPARE AND WRITE, say): taken off
 *   the parked list and ended with TASK ABORTED at once;
 * - queued for the I/O threads, or between the steps of a multi-step
 *   command: it never reaches the handler again, and ends with TASK
 *   ABORTED when its turn comes;
 * - in a handler operation: the handler's abort callback is called (API
 *   1.3, tcmu-runner.h); the command ends when the handler completes it,
 *   with TASK ABORTED whatever the handler says, and no FUA flush after.
 * Each is still answered exactly once, through dev_finish.
 *
 * A cmd_id named may belong to a newer command than the one the kernel
 * meant: a TMR entry that finds no ring space waits in the kernel's
 * tmr_queue, while queue_cmd_ring (which checks only the qfull queue)
 * may place a smaller command before it; once the daemon completes the
 * named command, the kernel frees its id and xa_alloc hands the lowest
 * free id, that one, to the next command. The ring then reads the same
 * as a TMR made after the newer command (which the kernel did abort),
 * so the daemon cannot tell them apart and aborts what the id names now:
 * at worst a command the kernel did not abort ends with TASK ABORTED
 * (the initiator retries it); ignoring the name instead would leave a
 * real abort waiting for a backend that may hang. It takes a TMR large
 * enough not to fit where a command does: a LUN reset naming many.
 *
 * LOGICAL UNIT RESET (and the target resets, should a kernel send them)
 * also clears what a logical unit reset clears (SAM-5 6.3.3, SPC-4) of
 * what the daemon holds: besides the commands above, the control mode
 * page's D_SENSE goes back to its default (current mode parameters
 * revert to the saved or default values; we save none). Not cleared:
 * the daemon's pending unit attentions (dev_ua.h), which report changes
 * that still stand (capacity, mode parameters, medium). LIO establishes
 * 29h/03h BUS DEVICE RESET FUNCTION OCCURRED itself once the reset is
 * done (target_tmr_work: target_ua_allocate_lun for the I_T nexus that
 * sent it, target_dev_ua_allocate for all in some kernels) and reports
 * it, TCMU or not, before a command can reach us (target_scsi3_ua_check
 * in __target_execute_cmd), so the daemon does not raise it again.
 * Reservations are LIO's (core_tmr_lun_reset releases an SPC-2 one); the
 * daemon keeps no ACA.
 *
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DEV_TMR_H
#define DEV_TMR_H

#include "libtcmu.h"

struct tcmur_device;

/* dev_new: have the kernel report task management (attrib/
 * tmr_notification 1), or log why it will not. */
void dev_tmr_enable(struct tcmur_device *dev);
/* The device thread, from tcmu_ring_next's TMR callback. */
void dev_tmr_handle(struct tcmur_device *dev, const struct tcmu_tmr *tmr);

/* TMRs handled, and commands they ended (for tests and tcmu-sim). */
struct dev_tmr_stats {
	unsigned int tmrs, named, found, told, unparked, resets;
};
void dev_tmr_stats(struct tcmur_device *dev, struct dev_tmr_stats *out);

#endif
