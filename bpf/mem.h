/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The contract between bpf/mem.bpf.c and userspace/probes/mem_probe.cpp. */
#ifndef NODEPULSE_BPF_MEM_H
#define NODEPULSE_BPF_MEM_H

#include "histogram.h"

/* Bumped on any change to the structs below; the loader refuses a mismatch. */
#define NP_MEM_ABI_VERSION 1

/* Index 0 of mem_stats is the node as a whole; targets use 1..NP_MEM_MAX_TARGETS
 * (the same slot numbering as bpf/sched.h: slot = config target index + 1). */
#define NP_MEM_NODE_SLOT 0
#define NP_MEM_MAX_TARGETS 15
#define NP_MEM_SLOTS (NP_MEM_MAX_TARGETS + 1)

#define NP_MEM_COMM_LEN 16

/* Per-CPU value of mem_stats. Counters only grow; userspace takes deltas. */
struct np_mem_stats {
	struct np_histogram direct_reclaim; /* mm_vmscan_direct_reclaim_begin -> _end */
	struct np_histogram memcg_reclaim;  /* mm_vmscan_memcg_reclaim_begin -> _end */
	__u64 oom_kills;                    /* oom:mark_victim whose victim is in this slot */
};

/* Per-CPU value of mem_drops: every event or measurement the program could not record. */
struct np_mem_drops {
	__u64 ringbuf_full; /* the event buffer (ring or perf) was full: an OOM event was lost (still counted) */
	__u64 task_storage; /* no task-local storage for a task: one reclaim stall not measured */
};

enum np_mem_event_kind {
	NP_MEM_EVENT_OOM_KILL = 1, /* the OOM killer chose a victim (oom:mark_victim) */
};

/* flags of np_mem_event */
enum np_mem_event_flags {
	/* Only the victim's pid is known (kernels whose mark_victim passes no task_struct):
	 * tgid is set to pid, and comm and the cgroup ids are zero. */
	NP_MEM_EVENT_PID_ONLY = 1,
};

/* Event record (ring or perf buffer). */
struct np_mem_event {
	__u64 ts_ns;       /* bpf_ktime_get_ns() */
	__u64 cgroup_id;   /* victim's cgroup on the default (v2) hierarchy; 0 = unknown */
	__u64 memcg_id;    /* id of the victim's memory-controller cgroup (v1 or v2); 0 = unknown */
	__u32 kind;        /* enum np_mem_event_kind */
	__u32 pid;         /* the victim thread */
	__u32 tgid;
	__u32 target_slot; /* 0 when the victim is not a target */
	__u32 flags;       /* enum np_mem_event_flags */
	__u32 __pad;
	__u8 comm[NP_MEM_COMM_LEN];
};

#endif
