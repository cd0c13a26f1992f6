// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Memory pressure: how long tasks stall in direct and memcg reclaim, for the whole node and
 * for each target process, and every OOM kill as an immediate event (ring or perf buffer).
 *
 * Three attach paths, chosen by userspace before load (the others' programs are not loaded):
 * tp_btf (5.11+, task storage), raw_tp and classic tracepoints. Reclaim runs in the stalled
 * task itself, so every path keys on current; the raw_tp and classic paths keep the stamps in
 * a pid-keyed hash instead of task storage. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "compat.bpf.h"
#include "events.bpf.h"
#include "mem.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 abi_version = NP_MEM_ABI_VERSION;

/* When the current reclaim pass of a task began (0 = not in one). Task-local rather than
 * per-CPU: reclaim sleeps (writeback waits, reclaim_throttle(), cond_resched()), so the task
 * may end the pass on another CPU, and another task may reclaim on this CPU in between.
 * Task-local rather than a pid-keyed hash: no shared bucket lock, no capacity to size, and
 * the kernel frees it with the task. Direct and memcg reclaim keep separate stamps so that
 * neither can close the other's pass. */
struct reclaim_since {
	__u64 direct_ns;
	__u64 memcg_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct reclaim_since);
} reclaim_since SEC(".maps");

/* tgid -> slot (1..NP_MEM_MAX_TARGETS); fed by userspace from its target tracker. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NP_MEM_SLOTS);
	__type(key, __u32);
	__type(value, struct np_mem_stats);
} mem_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct np_mem_drops);
} mem_drops SEC(".maps");

/* The raw_tp and classic paths' stand-in for reclaim_since: pid -> stamps. An entry lives
 * only while its task is in a reclaim pass. Userspace shrinks it to 1 entry on the tp_btf path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct reclaim_since);
} reclaim_since_pid SEC(".maps");

/* OOM kills are rare; 64 KiB holds ~1000 records between two reads. */
NP_EVENT_MAPS(mem_events, mem_events_perf, 64 * 1024);

enum reclaim_kind {
	RECLAIM_DIRECT,
	RECLAIM_MEMCG,
};

static __always_inline struct np_mem_drops *drops(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&mem_drops, &zero);
}

/* The target slot of a thread group, or 0 when it is not a target. */
static __always_inline __u32 target_slot_of(__u32 tgid)
{
	__u32 *slot = bpf_map_lookup_elem(&targets, &tgid);

	if (!slot || *slot == NP_MEM_NODE_SLOT || *slot > NP_MEM_MAX_TARGETS)
		return 0;
	return *slot;
}

static __always_inline void count_no_storage(void)
{
	struct np_mem_drops *d = drops();

	if (d)
		d->task_storage++;
}

static __always_inline void stamp(struct reclaim_since *since, enum reclaim_kind kind)
{
	if (kind == RECLAIM_DIRECT)
		since->direct_ns = bpf_ktime_get_ns();
	else
		since->memcg_ns = bpf_ktime_get_ns();
}

/* Takes the pass's begin stamp (0: none) and clears it. */
static __always_inline __u64 take_stamp(struct reclaim_since *since, enum reclaim_kind kind)
{
	__u64 begin_ns;

	if (kind == RECLAIM_DIRECT) {
		begin_ns = since->direct_ns;
		since->direct_ns = 0;
	} else {
		begin_ns = since->memcg_ns;
		since->memcg_ns = 0;
	}
	return begin_ns;
}

static __always_inline void reclaim_begin(enum reclaim_kind kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct reclaim_since *since;

	since = bpf_task_storage_get(&reclaim_since, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!since) {
		count_no_storage();
		return;
	}
	stamp(since, kind);
}

/* raw_tp and classic paths. */
static __always_inline void reclaim_begin_pid(enum reclaim_kind kind)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();
	struct reclaim_since *since, fresh = {};

	since = bpf_map_lookup_elem(&reclaim_since_pid, &pid);
	if (since) {
		stamp(since, kind);
		return;
	}
	stamp(&fresh, kind);
	if (bpf_map_update_elem(&reclaim_since_pid, &pid, &fresh, BPF_ANY))
		count_no_storage();
}

static __always_inline void record_stall(__u32 slot, enum reclaim_kind kind, __u64 stall_ns)
{
	struct np_mem_stats *stats = bpf_map_lookup_elem(&mem_stats, &slot);

	if (!stats)
		return;
	if (kind == RECLAIM_DIRECT)
		np_hist_record(&stats->direct_reclaim, stall_ns);
	else
		np_hist_record(&stats->memcg_reclaim, stall_ns);
}

static __always_inline void record_pass(__u32 tgid, enum reclaim_kind kind, __u64 begin_ns)
{
	__u64 stall_ns;
	__u32 slot;

	if (begin_ns == 0)
		return;
	stall_ns = bpf_ktime_get_ns() - begin_ns;
	record_stall(NP_MEM_NODE_SLOT, kind, stall_ns);
	slot = target_slot_of(tgid);
	if (slot)
		record_stall(slot, kind, stall_ns);
}

static __always_inline void reclaim_end(enum reclaim_kind kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct reclaim_since *since;

	/* No F_CREATE: a pass that began before we attached has nothing to measure. */
	since = bpf_task_storage_get(&reclaim_since, task, 0, 0);
	if (!since)
		return;
	record_pass(task->tgid, kind, take_stamp(since, kind));
}

static __always_inline void reclaim_end_pid(enum reclaim_kind kind)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = (__u32)pid_tgid;
	struct reclaim_since *since;
	__u64 begin_ns;

	since = bpf_map_lookup_elem(&reclaim_since_pid, &pid);
	if (!since)
		return;
	begin_ns = take_stamp(since, kind);
	/* The other kind's pass may still be open (memcg reclaim inside direct reclaim). */
	if (!since->direct_ns && !since->memcg_ns)
		bpf_map_delete_elem(&reclaim_since_pid, &pid);
	record_pass(pid_tgid >> 32, kind, begin_ns);
}

SEC("tp_btf/mm_vmscan_direct_reclaim_begin")
int BPF_PROG(mm_vmscan_direct_reclaim_begin)
{
	reclaim_begin(RECLAIM_DIRECT);
	return 0;
}

SEC("tp_btf/mm_vmscan_direct_reclaim_end")
int BPF_PROG(mm_vmscan_direct_reclaim_end)
{
	reclaim_end(RECLAIM_DIRECT);
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(mm_vmscan_memcg_reclaim_begin)
{
	reclaim_begin(RECLAIM_MEMCG);
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_end")
int BPF_PROG(mm_vmscan_memcg_reclaim_end)
{
	reclaim_end(RECLAIM_MEMCG);
	return 0;
}

static __always_inline void count_oom_kill(__u32 slot)
{
	struct np_mem_stats *stats = bpf_map_lookup_elem(&mem_stats, &slot);

	if (stats)
		stats->oom_kills++;
}

/* Counted in mem_stats before the event is sent, so a full buffer loses the details of a kill
 * but never the kill itself. */
static __always_inline void init_oom_event(struct np_mem_event *event, __u32 pid, __u32 tgid, __u32 slot)
{
	count_oom_kill(NP_MEM_NODE_SLOT);
	if (slot)
		count_oom_kill(slot);
	__builtin_memset(event, 0, sizeof(*event));
	event->ts_ns = bpf_ktime_get_ns();
	event->kind = NP_MEM_EVENT_OOM_KILL;
	event->pid = pid;
	event->tgid = tgid;
	event->target_slot = slot;
}

static __always_inline void send_oom_event(void *ctx, struct np_mem_event *event)
{
	if (np_output_event(ctx, &mem_events, &mem_events_perf, event, sizeof(*event))) {
		struct np_mem_drops *d = drops();

		if (d)
			d->ringbuf_full++;
	}
}

/* The id of the cgroup that charges the task's memory: a v1 memory-hierarchy cgroup on hybrid
 * layouts, the v2 cgroup (or its nearest ancestor with the memory controller) otherwise. */
static __always_inline __u64 memcg_id_of(struct task_struct *task)
{
	struct cgroup_subsys_state *css = NULL;
	struct css_set *cset;
	int id;

	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return 0; /* CONFIG_MEMCG=n */
	id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	cset = BPF_CORE_READ(task, cgroups);
	if (!cset || bpf_core_read(&css, sizeof(css), &cset->subsys[id]) || !css)
		return 0;
	return BPF_CORE_READ(css, cgroup, kn, id);
}

/* Typed (tp_btf) and untyped (raw_tp) task pointers alike: OOM kills are rare. */
static __always_inline void report_victim(void *ctx, struct task_struct *task)
{
	struct np_mem_event event;
	__u32 tgid = BPF_CORE_READ(task, tgid);

	init_oom_event(&event, BPF_CORE_READ(task, pid), tgid, target_slot_of(tgid));
	event.cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	event.memcg_id = memcg_id_of(task);
	bpf_core_read_str(event.comm, sizeof(event.comm), &task->comm);
	send_oom_event(ctx, &event);
}

/* Kernels with "mm: update mark_victim tracepoints fields" (Carlos Galo, 2024; also backported
 * to stable series) pass the victim's task_struct. Userspace loads this program (or its raw_tp
 * twin) only when the kernel's BTF says so (btf_trace_mark_victim's second parameter),
 * mark_victim_legacy otherwise. */
SEC("tp_btf/mark_victim")
int BPF_PROG(mark_victim, struct task_struct *task)
{
	report_victim(ctx, task);
	return 0;
}

SEC("raw_tp/mark_victim")
int BPF_PROG(raw_mark_victim, struct task_struct *task)
{
	report_victim(ctx, task);
	return 0;
}

/* Older kernels: the tracepoint carries only the victim's pid. The OOM killer marks the first
 * thread of the victim that still has an mm (find_lock_task_mm()), which is the thread group
 * leader unless the leader already exited, so the pid stands in for the tgid. */
SEC("tracepoint/oom/mark_victim")
int mark_victim_legacy(struct trace_event_raw_mark_victim *ctx)
{
	struct np_mem_event event;
	__u32 pid = ctx->pid;

	init_oom_event(&event, pid, pid, target_slot_of(pid));
	event.flags = NP_MEM_EVENT_PID_ONLY;
	send_oom_event(ctx, &event);
	return 0;
}

/* raw_tp path of the reclaim hooks. */

SEC("raw_tp/mm_vmscan_direct_reclaim_begin")
int BPF_PROG(raw_direct_begin)
{
	reclaim_begin_pid(RECLAIM_DIRECT);
	return 0;
}

SEC("raw_tp/mm_vmscan_direct_reclaim_end")
int BPF_PROG(raw_direct_end)
{
	reclaim_end_pid(RECLAIM_DIRECT);
	return 0;
}

SEC("raw_tp/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(raw_memcg_begin)
{
	reclaim_begin_pid(RECLAIM_MEMCG);
	return 0;
}

SEC("raw_tp/mm_vmscan_memcg_reclaim_end")
int BPF_PROG(raw_memcg_end)
{
	reclaim_end_pid(RECLAIM_MEMCG);
	return 0;
}

/* Classic tracepoint path: the records' fields are not needed, only current. */

SEC("tracepoint/vmscan/mm_vmscan_direct_reclaim_begin")
int tp_direct_begin(void *ctx)
{
	reclaim_begin_pid(RECLAIM_DIRECT);
	return 0;
}

SEC("tracepoint/vmscan/mm_vmscan_direct_reclaim_end")
int tp_direct_end(void *ctx)
{
	reclaim_end_pid(RECLAIM_DIRECT);
	return 0;
}

SEC("tracepoint/vmscan/mm_vmscan_memcg_reclaim_begin")
int tp_memcg_begin(void *ctx)
{
	reclaim_begin_pid(RECLAIM_MEMCG);
	return 0;
}

SEC("tracepoint/vmscan/mm_vmscan_memcg_reclaim_end")
int tp_memcg_end(void *ctx)
{
	reclaim_end_pid(RECLAIM_MEMCG);
	return 0;
}
