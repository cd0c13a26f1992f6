// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A target process's threads at this moment: how many are stopped and how long the
 * longest-queued one has waited for a CPU so far. Userspace reads it on demand, once per
 * collection, by walking the process's threads with a task iterator.
 *
 * Why: the sched probe measures a wait when it ends, at sched_switch. A JVM stopped outright
 * (SIGSTOP, a debugger) ends no wait at all, and one starved by a busier task ends its first
 * wait only when the starvation pauses; this walk sees both while they last.
 *
 * The link filters by process on 6.1+ (bpf_iter_link_info.task.pid); older kernels walk every
 * task, so the program filters by target_tgid too. Only one walk runs at a time (the
 * collector's thread), which is what lets the summary live in .bss. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "compat.bpf.h"
#include "task_state.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* include/linux/sched.h: a group stop (SIGSTOP, SIGTSTP) or a ptrace stop. */
#define NP_TASK_STOPPED 0x4
#define NP_TASK_TRACED 0x8
#define TASK_ON_RQ_QUEUED 1

const volatile __u32 abi_version = NP_TASK_STATE_ABI_VERSION;

/* Both set by userspace before each walk: the process, and a zeroed summary. */
volatile __u32 target_tgid;
struct np_task_state summary;

/* Runnable and on a run queue, not running: what waiting for a CPU means. The stamp alone is not
 * enough: a task asleep but still on the queue (a delayed dequeue, 6.12+) can carry a stale one. */
static __always_inline bool waits_for_cpu(struct task_struct *task)
{
	if (task_state(task) != TASK_RUNNING || task->on_rq != TASK_ON_RQ_QUEUED)
		return false;
	if (bpf_core_field_exists(task->on_cpu) && task->on_cpu)
		return false;
	if (bpf_core_field_exists(task->se.sched_delayed) && task->se.sched_delayed)
		return false;
	return true;
}

static __always_inline __u64 queued_for_ns(struct task_struct *task)
{
	__u64 queued, now;

	/* Stamped on the rq clock at enqueue, cleared when the task runs (CONFIG_SCHED_INFO);
	 * the rq clock is reachable through cfs_rq->rq (CONFIG_FAIR_GROUP_SCHED). */
	if (!bpf_core_field_exists(task->sched_info.last_queued) || !bpf_core_field_exists(struct cfs_rq, rq))
		return 0;
	if (!waits_for_cpu(task))
		return 0;
	queued = task->sched_info.last_queued;
	if (!queued)
		return 0;
	now = task->se.cfs_rq->rq->clock;
	return now > queued ? now - queued : 0;
}

SEC("iter/task")
int summarise_threads(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	__u64 waited;

	if (!task) {
		/* The walk is over: its summary is the whole output. */
		bpf_seq_write(ctx->meta->seq, &summary, sizeof(summary));
		return 0;
	}
	if (task->tgid != target_tgid)
		return 0;
	summary.threads++;
	if (task_state(task) & (NP_TASK_STOPPED | NP_TASK_TRACED))
		summary.stopped++;
	waited = queued_for_ns(task);
	if (waited) {
		summary.queued++;
		if (waited > summary.longest_queued_ns)
			summary.longest_queued_ns = waited;
	}
	return 0;
}
