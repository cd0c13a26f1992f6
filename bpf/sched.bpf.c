// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Run-queue latency: the time from a task becoming runnable (wakeup, or preemption while
 * runnable) to it running, for the whole node and for each target process. */
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

/* Advanced by userspace (mmap'd .bss) each time it reads window_max_ns. */
volatile __u64 window_epoch;

/* When the task became runnable; task-local so the hot path takes no shared lock. */
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
		return BPF_CORE_READ(task, __state);
	return BPF_CORE_READ((struct task_struct___pre_5_14 *)task, state);
}

static __always_inline struct np_sched_drops *drops(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sched_drops, &zero);
}

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

static __always_inline void emit_stall(struct task_struct *task, __u32 slot, __u64 wait_ns, __u64 now)
{
	struct np_sched_event *event;

	event = bpf_ringbuf_reserve(&sched_events, sizeof(*event), 0);
	if (!event) {
		struct np_sched_drops *d = drops();

		if (d)
			d->ringbuf_full++;
		return;
	}
	event->ts_ns = now;
	event->wait_ns = wait_ns;
	event->kind = NP_SCHED_EVENT_STALL;
	event->tgid = task->tgid;
	event->pid = task->pid;
	event->target_slot = slot;
	bpf_probe_read_kernel_str(event->comm, sizeof(event->comm), task->comm);
	bpf_ringbuf_submit(event, 0);
}

static __always_inline void mark_running(struct task_struct *task)
{
	__u64 *since, now, wait_ns, epoch;
	__u32 tgid, *slot;

	if (task->pid == 0)
		return;
	/* No F_CREATE: a task never seen runnable since we attached has nothing to measure. */
	since = bpf_task_storage_get(&runnable_since, task, 0, 0);
	if (!since || *since == 0)
		return;
	now = bpf_ktime_get_ns();
	wait_ns = now - *since;
	*since = 0;

	epoch = window_epoch;
	record_wait(NP_SCHED_NODE_SLOT, wait_ns, epoch);

	tgid = task->tgid;
	slot = bpf_map_lookup_elem(&targets, &tgid);
	if (!slot || *slot == NP_SCHED_NODE_SLOT || *slot > NP_SCHED_MAX_TARGETS)
		return;
	record_wait(*slot, wait_ns, epoch);
	if (wait_ns >= stall_threshold_ns)
		emit_stall(task, *slot, wait_ns, now);
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
	/* A task switched out while still runnable goes straight back to the run queue. */
	if (task_state(prev) == TASK_RUNNING)
		mark_runnable(prev);
	mark_running(next);
	return 0;
}

static __always_inline void emit_lifecycle(struct task_struct *task, __u32 kind, __u32 slot)
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
	event->kind = kind;
	event->tgid = task->tgid;
	event->pid = task->pid;
	event->target_slot = slot;
	bpf_probe_read_kernel_str(event->comm, sizeof(event->comm), task->comm);
	bpf_ringbuf_submit(event, 0);
}

/* Every exec is reported: whether the new image is a target depends on its command line,
 * which userspace reads from /proc. Execs are rare next to context switches. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *task)
{
	emit_lifecycle(task, NP_SCHED_EVENT_EXEC, 0);
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
	emit_lifecycle(task, NP_SCHED_EVENT_EXIT, found);
	return 0;
}
