// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Run-queue latency: the time from a task becoming runnable (wakeup, or preemption while
 * runnable) to it running, for the whole node and for each target process.
 *
 * Two ways to know when a task was queued, chosen by userspace before load (use_sched_info):
 * - The kernel's own schedstat bookkeeping (CONFIG_SCHED_INFO): enqueue stamps
 *   task->sched_info.last_queued on the rq clock, and __schedule() has just updated that
 *   clock when sched_switch fires. Reading two fields costs far less than our own clock read
 *   and task-storage write on every wakeup, so only sched_switch is attached. A wait split by
 *   a migration counts from the last enqueue, as the kernel's run_delay does.
 * - Otherwise: our own timestamp at sched_wakeup/_new and preemption, in task-local storage.
 *
 * Three attach paths, chosen by userspace before load (the others' programs are not loaded):
 * - tp_btf (5.11+: BTF tracing programs, task storage): typed pointers, direct loads.
 * - raw_tp (4.17+ with BTF): the same pointers, read with BPF_CORE_READ; the wakeup stamps go
 *   to a pid-keyed hash, as task storage needs a typed task pointer.
 * - classic tracepoints: the tracepoints' own records, which carry pids, not tasks. prev is
 *   current at sched_switch, but next is only a pid: no schedstat path (userspace forces the
 *   wakeup one), and next's tgid comes from the pid-keyed hash, which remembers it each time
 *   a thread is switched out. A thread not yet seen switching out counts for the node only. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "compat.bpf.h"
#include "events.bpf.h"
#include "sched.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 abi_version = NP_SCHED_ABI_VERSION;
const volatile __u64 stall_threshold_ns = 10ULL * 1000 * 1000;
const volatile __u32 use_sched_info = 0;

/* Advanced by userspace (mmap'd .bss) each time it reads window_max_ns. */
volatile __u64 window_epoch;
/* Bumped by userspace and by sched_process_exit whenever the targets map changes; starts
 * at 1 so a zeroed cache entry is never valid. */
volatile __u64 targets_generation = 1;

/* When the task became runnable (fallback path only). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} runnable_since SEC(".maps");

/* tgid -> slot (1..NP_SCHED_MAX_TARGETS); fed by userspace, pruned here on exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct np_target_cache);
} target_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NP_SCHED_SLOTS);
	__type(key, __u32);
	__type(value, struct np_runq_stats);
} runq_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct np_sched_drops);
} sched_drops SEC(".maps");

NP_EVENT_MAPS(sched_events, sched_events_perf, 256 * 1024);

/* The raw_tp and classic paths' stand-in for runnable_since: pid -> when it became runnable
 * (0: not queued) and its tgid (0: unknown). Preallocated: it is written under the run-queue
 * lock. Userspace shrinks it to 1 entry on the tp_btf path. */
struct np_queued {
	__u64 since_ns;
	__u32 tgid;
	__u32 __pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct np_queued);
} runnable_since_pid SEC(".maps");

static __always_inline struct np_sched_drops *drops(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sched_drops, &zero);
}

static __always_inline __u32 target_slot_of(__u32 tgid)
{
	__u64 generation = targets_generation;
	struct np_target_cache_entry *entry;
	struct np_target_cache *cache;
	__u32 zero = 0, slot = 0, *found;

	cache = bpf_map_lookup_elem(&target_cache, &zero);
	if (cache) {
		entry = &cache->entries[tgid & (NP_TARGET_CACHE_SIZE - 1)];
		if (entry->tgid == tgid && entry->generation == generation)
			return entry->slot;
	}
	found = bpf_map_lookup_elem(&targets, &tgid);
	if (found && *found <= NP_SCHED_MAX_TARGETS)
		slot = *found;
	if (cache) {
		/* Tagged with the generation read before the lookup: a concurrent change leaves
		 * this entry stale, to be refreshed next time. */
		entry->tgid = tgid;
		entry->generation = generation;
		entry->slot = slot;
	}
	return slot;
}

static __always_inline void record_wait(__u32 slot, __u64 wait_ns, __u64 epoch)
{
	struct np_runq_stats *stats = bpf_map_lookup_elem(&runq_stats, &slot);

	if (!stats)
		return;
	np_hist_record(&stats->wait, wait_ns);
	if (wait_ns >= stall_threshold_ns)
		stats->stalls++;
	if (stats->window_epoch != epoch) {
		stats->window_epoch = epoch;
		stats->window_max_ns = 0;
	}
	if (wait_ns > stats->window_max_ns)
		stats->window_max_ns = wait_ns;
}

static __always_inline void emit_event(void *ctx, struct np_sched_event *event)
{
	event->ts_ns = bpf_ktime_get_ns();
	if (np_output_event(ctx, &sched_events, &sched_events_perf, event, sizeof(*event))) {
		struct np_sched_drops *d = drops();

		if (d)
			d->ringbuf_full++;
	}
}

/* Works on typed (tp_btf) and untyped (raw_tp) task pointers alike; events are rare. */
static __always_inline void emit_task_event(void *ctx, struct task_struct *task, __u32 kind, __u32 slot,
					    __u64 wait_ns)
{
	struct np_sched_event event;

	__builtin_memset(&event, 0, sizeof(event));
	event.wait_ns = wait_ns;
	event.kind = kind;
	event.tgid = BPF_CORE_READ(task, tgid);
	event.pid = BPF_CORE_READ(task, pid);
	event.target_slot = slot;
	bpf_core_read_str(event.comm, sizeof(event.comm), &task->comm);
	emit_event(ctx, &event);
}

/* Records one wait of a thread of `tgid` (0: unknown, the node only). Returns the target slot
 * when the wait is a target's stall to report, else 0. */
static __always_inline __u32 record_run(__u32 tgid, __u64 wait_ns)
{
	__u64 epoch = window_epoch;
	__u32 slot;

	record_wait(NP_SCHED_NODE_SLOT, wait_ns, epoch);
	if (!tgid)
		return 0;
	slot = target_slot_of(tgid);
	if (slot == NP_SCHED_NODE_SLOT)
		return 0;
	record_wait(slot, wait_ns, epoch);
	return wait_ns >= stall_threshold_ns ? slot : 0;
}

static __always_inline void count_no_storage(void)
{
	struct np_sched_drops *d = drops();

	if (d)
		d->task_storage++;
}

/* raw_tp and classic paths: `pid` became runnable now, or (!runnable) went to sleep, when the
 * classic path keeps its tgid for its next run: the wakeup record does not carry it. A tgid of 0
 * keeps the one already known. */
static __always_inline void pid_set_runnable(__u32 pid, __u32 tgid, bool runnable)
{
	struct np_queued *queued, fresh = {};
	__u64 since_ns;
	long err;

	if (pid == 0)
		return;
	since_ns = runnable ? bpf_ktime_get_ns() : 0;
	queued = bpf_map_lookup_elem(&runnable_since_pid, &pid);
	if (queued) {
		queued->since_ns = since_ns;
		if (tgid)
			queued->tgid = tgid;
		return;
	}
	fresh.since_ns = since_ns;
	fresh.tgid = tgid;
	err = bpf_map_update_elem(&runnable_since_pid, &pid, &fresh, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: another CPU was first */)
		count_no_storage();
}

/* raw_tp and classic paths: `pid` runs now. Returns its wait (0: none measured) and its tgid.
 * The classic path keeps the entry for the tgid; the raw_tp path knows it and frees it. */
static __always_inline __u64 pid_switch_in(__u32 pid, __u32 *tgid, bool keep)
{
	struct np_queued *queued = bpf_map_lookup_elem(&runnable_since_pid, &pid);
	__u64 since, now;

	if (!queued || !queued->since_ns)
		return 0;
	since = queued->since_ns;
	*tgid = queued->tgid;
	if (keep)
		queued->since_ns = 0;
	else
		bpf_map_delete_elem(&runnable_since_pid, &pid);
	now = bpf_ktime_get_ns();
	return now > since ? now - since : 1;
}

/* Fallback path: stamp the task when it becomes runnable. */
static __always_inline void mark_runnable(struct task_struct *task)
{
	__u64 *since;

	if (task->pid == 0)
		return;
	since = bpf_task_storage_get(&runnable_since, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!since) {
		count_no_storage();
		return;
	}
	*since = bpf_ktime_get_ns();
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup, struct task_struct *task)
{
	mark_runnable(task);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new, struct task_struct *task)
{
	mark_runnable(task);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 queued, now, *since;
	__u32 slot;

	if (next->pid == 0)
		return 0;
	if (use_sched_info) {
		queued = next->sched_info.last_queued;
		if (!queued)
			return 0;
		now = next->se.cfs_rq->rq->clock;
		if (now < queued)
			return 0;
		slot = record_run(next->tgid, now - queued);
		if (slot)
			emit_task_event(ctx, next, NP_SCHED_EVENT_STALL, slot, now - queued);
		return 0;
	}

	/* A task switched out while still runnable goes straight back to the run queue. */
	if (task_state(prev) == TASK_RUNNING)
		mark_runnable(prev);
	/* No F_CREATE: a task never seen runnable since we attached has nothing to measure. */
	since = bpf_task_storage_get(&runnable_since, next, 0, 0);
	if (!since || *since == 0)
		return 0;
	now = bpf_ktime_get_ns();
	queued = *since;
	*since = 0;
	slot = record_run(next->tgid, now - queued);
	if (slot)
		emit_task_event(ctx, next, NP_SCHED_EVENT_STALL, slot, now - queued);
	return 0;
}

/* Every exec is reported: whether the new image is a target depends on its command line,
 * which userspace reads from /proc. Execs are rare next to context switches. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *task)
{
	emit_task_event(ctx, task, NP_SCHED_EVENT_EXEC, 0, 0);
	return 0;
}

/* A target's thread group leader exited: prune it from the targets and report it. */
static __always_inline bool forget_exited_target(__u32 tgid, __u32 *found)
{
	__u32 *slot = bpf_map_lookup_elem(&targets, &tgid);

	if (!slot)
		return false;
	*found = *slot;
	bpf_map_delete_elem(&targets, &tgid);
	__sync_fetch_and_add(&targets_generation, 1);
	return true;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *task)
{
	__u32 found;

	if (task->pid != task->tgid)
		return 0;
	if (forget_exited_target(task->tgid, &found))
		emit_task_event(ctx, task, NP_SCHED_EVENT_EXIT, found, 0);
	return 0;
}

/* raw_tp path: the same hooks, with untyped pointers. */

SEC("raw_tp/sched_wakeup")
int BPF_PROG(raw_sched_wakeup, struct task_struct *task)
{
	pid_set_runnable(BPF_CORE_READ(task, pid), BPF_CORE_READ(task, tgid), true);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(raw_sched_wakeup_new, struct task_struct *task)
{
	pid_set_runnable(BPF_CORE_READ(task, pid), BPF_CORE_READ(task, tgid), true);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(raw_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 pid = BPF_CORE_READ(next, pid), tgid = 0, slot;
	__u64 queued, now, wait_ns;

	if (pid == 0)
		return 0;
	if (use_sched_info) {
		queued = BPF_CORE_READ(next, sched_info.last_queued);
		if (!queued)
			return 0;
		now = BPF_CORE_READ(next, se.cfs_rq, rq, clock);
		if (now < queued)
			return 0;
		wait_ns = now - queued;
		tgid = BPF_CORE_READ(next, tgid);
	} else {
		if (task_state_raw(prev) == TASK_RUNNING)
			pid_set_runnable(BPF_CORE_READ(prev, pid), BPF_CORE_READ(prev, tgid), true);
		wait_ns = pid_switch_in(pid, &tgid, false);
		if (!wait_ns)
			return 0;
	}
	slot = record_run(tgid, wait_ns);
	if (slot)
		emit_task_event(ctx, next, NP_SCHED_EVENT_STALL, slot, wait_ns);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(raw_sched_exec, struct task_struct *task)
{
	emit_task_event(ctx, task, NP_SCHED_EVENT_EXEC, 0, 0);
	return 0;
}

/* Fires in the exiting task: current is `task`. */
static __always_inline void exit_current(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = (__u32)pid_tgid, tgid = pid_tgid >> 32, found;
	struct np_sched_event event;

	bpf_map_delete_elem(&runnable_since_pid, &pid);
	if (pid != tgid || !forget_exited_target(tgid, &found))
		return;
	__builtin_memset(&event, 0, sizeof(event));
	event.kind = NP_SCHED_EVENT_EXIT;
	event.tgid = tgid;
	event.pid = pid;
	event.target_slot = found;
	bpf_get_current_comm(event.comm, sizeof(event.comm));
	emit_event(ctx, &event);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(raw_sched_exit, struct task_struct *task)
{
	exit_current(ctx);
	return 0;
}

/* Classic tracepoint path. */

SEC("tracepoint/sched/sched_wakeup")
int tp_sched_wakeup(struct trace_event_raw_sched_wakeup_template *ctx)
{
	pid_set_runnable(ctx->pid, 0, true);
	return 0;
}

SEC("tracepoint/sched/sched_wakeup_new")
int tp_sched_wakeup_new(struct trace_event_raw_sched_wakeup_template *ctx)
{
	pid_set_runnable(ctx->pid, 0, true);
	return 0;
}

SEC("tracepoint/sched/sched_switch")
int tp_sched_switch(struct trace_event_raw_sched_switch *ctx)
{
	struct task_struct *prev = (struct task_struct *)bpf_get_current_task();
	__u32 prev_pid = ctx->prev_pid, next_pid = ctx->next_pid, tgid = 0, slot;
	struct np_sched_event event;
	__u64 wait_ns;

	pid_set_runnable(prev_pid, bpf_get_current_pid_tgid() >> 32, task_state_raw(prev) == TASK_RUNNING);
	if (next_pid == 0)
		return 0;
	wait_ns = pid_switch_in(next_pid, &tgid, true);
	if (!wait_ns)
		return 0;
	slot = record_run(tgid, wait_ns);
	if (!slot)
		return 0;
	__builtin_memset(&event, 0, sizeof(event));
	event.wait_ns = wait_ns;
	event.kind = NP_SCHED_EVENT_STALL;
	event.tgid = tgid;
	event.pid = next_pid;
	event.target_slot = slot;
	bpf_core_read_str(event.comm, sizeof(event.comm), &ctx->next_comm);
	emit_event(ctx, &event);
	return 0;
}

/* Fires in the task that exec'd, after its comm changed; its pid is now its tgid. */
SEC("tracepoint/sched/sched_process_exec")
int tp_sched_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct np_sched_event event;

	__builtin_memset(&event, 0, sizeof(event));
	event.kind = NP_SCHED_EVENT_EXEC;
	event.tgid = pid_tgid >> 32;
	event.pid = (__u32)pid_tgid;
	bpf_get_current_comm(event.comm, sizeof(event.comm));
	emit_event(ctx, &event);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int tp_sched_exit(struct trace_event_raw_sched_process_template *ctx)
{
	exit_current(ctx);
	return 0;
}
