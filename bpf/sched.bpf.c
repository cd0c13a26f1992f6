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
 * - Otherwise: our own timestamp at sched_wakeup/_new and preemption, in task-local storage. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "sched.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TASK_RUNNING 0

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

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} sched_events SEC(".maps");

/* task_struct::state became __state in 5.14 (commit 2f064a59a11f). */
struct task_struct___pre_5_14 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *task)
{
	if (bpf_core_field_exists(task->__state))
		return task->__state;
	return ((struct task_struct___pre_5_14 *)task)->state;
}

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

static __always_inline void emit_event(struct task_struct *task, __u32 kind, __u32 slot, __u64 wait_ns)
{
	struct np_sched_event *event;

	event = bpf_ringbuf_reserve(&sched_events, sizeof(*event), 0);
	if (!event) {
		struct np_sched_drops *d = drops();

		if (d)
			d->ringbuf_full++;
		return;
	}
	__builtin_memset(event, 0, sizeof(*event));
	event->ts_ns = bpf_ktime_get_ns();
	event->wait_ns = wait_ns;
	event->kind = kind;
	event->tgid = task->tgid;
	event->pid = task->pid;
	event->target_slot = slot;
	bpf_probe_read_kernel_str(event->comm, sizeof(event->comm), task->comm);
	bpf_ringbuf_submit(event, 0);
}

static __always_inline void record_run(struct task_struct *task, __u64 wait_ns)
{
	__u64 epoch = window_epoch;
	__u32 slot;

	record_wait(NP_SCHED_NODE_SLOT, wait_ns, epoch);
	slot = target_slot_of(task->tgid);
	if (slot == NP_SCHED_NODE_SLOT)
		return;
	record_wait(slot, wait_ns, epoch);
	if (wait_ns >= stall_threshold_ns)
		emit_event(task, NP_SCHED_EVENT_STALL, slot, wait_ns);
}

/* Fallback path: stamp the task when it becomes runnable. */
static __always_inline void mark_runnable(struct task_struct *task)
{
	__u64 *since;

	if (task->pid == 0)
		return;
	since = bpf_task_storage_get(&runnable_since, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!since) {
		struct np_sched_drops *d = drops();

		if (d)
			d->task_storage++;
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

	if (next->pid == 0)
		return 0;
	if (use_sched_info) {
		queued = next->sched_info.last_queued;
		if (!queued)
			return 0;
		now = next->se.cfs_rq->rq->clock;
		if (now < queued)
			return 0;
		record_run(next, now - queued);
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
	record_run(next, now - queued);
	return 0;
}

/* Every exec is reported: whether the new image is a target depends on its command line,
 * which userspace reads from /proc. Execs are rare next to context switches. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *task)
{
	emit_event(task, NP_SCHED_EVENT_EXEC, 0, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *task)
{
	__u32 tgid = task->tgid, *slot;
	__u32 found;

	if (task->pid != task->tgid)
		return 0;
	slot = bpf_map_lookup_elem(&targets, &tgid);
	if (!slot)
		return 0;
	found = *slot;
	bpf_map_delete_elem(&targets, &tgid);
	__sync_fetch_and_add(&targets_generation, 1);
	emit_event(task, NP_SCHED_EVENT_EXIT, found, 0);
	return 0;
}
