/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The contract between bpf/jvm.bpf.c and userspace/probes/jvm_probe.cpp. */
#ifndef NODEPULSE_BPF_JVM_H
#define NODEPULSE_BPF_JVM_H

#include "histogram.h"

/* Bumped on any change to the structs below; the loader refuses a mismatch. */
#define NP_JVM_ABI_VERSION 1

/* Same bound as the sched probe: one histogram pair per configured target. */
#define NP_JVM_MAX_TARGETS 15

/* Pause kinds. A GC runs inside a safepoint, so one GC pause is also counted as (part of)
 * a safepoint pause: the kinds overlap in time and are never summed. */
#define NP_JVM_PAUSE_GC 0        /* hotspot:gc__begin .. gc__end (a GC VM operation) */
#define NP_JVM_PAUSE_SAFEPOINT 1 /* hs_private:safepoint__begin .. safepoint__end */
#define NP_JVM_PAUSE_KINDS 2

/* Key of pause_stats: one histogram per (target, kind). */
#define NP_JVM_STATS_KEY(target_index, kind) ((target_index) * NP_JVM_PAUSE_KINDS + (kind))
#define NP_JVM_STATS_ENTRIES (NP_JVM_MAX_TARGETS * NP_JVM_PAUSE_KINDS)

/* Value of the inflight hash (key: tgid). Userspace creates the entry before it attaches the
 * USDT probes of that process and deletes it after detaching them; the programs only look it
 * up, so the hot path never allocates and a process nobody registered is never counted.
 * A begin_ns of 0 means no pause of that kind is in progress. */
struct np_jvm_inflight {
	__u64 begin_ns[NP_JVM_PAUSE_KINDS]; /* bpf_ktime_get_ns() at the begin probe */
	__u32 target_index;                 /* into the agent's targets; < NP_JVM_MAX_TARGETS */
	__u32 __pad;
};

/* Per-CPU value of jvm_drops: probe hits the programs could not attribute. */
struct np_jvm_drops {
	__u64 untracked_process; /* a hit from a process without an inflight entry */
	__u64 bad_target;        /* an inflight entry with target_index out of range */
};

#endif
