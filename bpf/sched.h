/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The contract between bpf/sched.bpf.c and userspace/probes/sched_probe.cpp. */
#ifndef NODEPULSE_BPF_SCHED_H
#define NODEPULSE_BPF_SCHED_H

#include "histogram.h"

/* Bumped on any change to the structs below; the loader refuses a mismatch. */
#define NP_SCHED_ABI_VERSION 2

/* Index 0 of runq_stats is the node as a whole; targets use 1..NP_SCHED_MAX_TARGETS. */
#define NP_SCHED_NODE_SLOT 0
#define NP_SCHED_MAX_TARGETS 15
#define NP_SCHED_SLOTS (NP_SCHED_MAX_TARGETS + 1)

#define NP_COMM_LEN 16

/* Per-CPU value of runq_stats. Counters only grow; userspace takes deltas. */
struct np_runq_stats {
	struct np_histogram wait;
	__u64 stalls;          /* waits at or above stall_threshold_ns */
	/* Longest wait seen while window_epoch (a .bss knob userspace advances) had this value;
	 * lets userspace read "longest wait since my last read" without clearing the map. */
	__u64 window_max_ns;
	__u64 window_epoch;
};

/* Per-CPU value of sched_drops: every event or update the program could not record. */
struct np_sched_drops {
	__u64 ringbuf_full;     /* the event buffer (ring or perf) was full: an event was lost */
	__u64 task_storage;     /* no task-local storage for a task: one wait not measured */
};

enum np_sched_event_kind {
	NP_SCHED_EVENT_STALL = 1, /* a target thread waited >= stall_threshold_ns */
	NP_SCHED_EVENT_EXEC = 2,  /* some process exec'd: userspace decides whether it is a target */
	NP_SCHED_EVENT_EXIT = 3,  /* a target process (thread group leader) exited */
};

/* A per-CPU direct-mapped cache of tgid -> target slot, so the hot path skips the targets
 * hash. An entry is valid while its generation equals targets_generation, which userspace
 * and the exit program bump whenever the targets map changes. */
#define NP_TARGET_CACHE_SIZE 64

struct np_target_cache_entry {
	__u64 generation;
	__u32 tgid;
	__u32 slot; /* 0: not a target */
};

struct np_target_cache {
	struct np_target_cache_entry entries[NP_TARGET_CACHE_SIZE];
};

/* Event record (ring or perf buffer). */
struct np_sched_event {
	__u64 ts_ns;       /* bpf_ktime_get_ns() */
	__u64 wait_ns;     /* STALL only */
	__u32 kind;        /* enum np_sched_event_kind */
	__u32 tgid;
	__u32 pid;
	__u32 target_slot; /* 0 when not a target */
	__u8 comm[NP_COMM_LEN];
};

#endif
