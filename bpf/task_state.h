/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The contract between bpf/task_state.bpf.c and userspace/probes/task_state_probe.cpp. */
#ifndef NODEPULSE_BPF_TASK_STATE_H
#define NODEPULSE_BPF_TASK_STATE_H

#include "abi_types.h"

/* Bumped on any change to the struct below; the loader refuses a mismatch. */
#define NP_TASK_STATE_ABI_VERSION 1

/* One process's threads at the moment of the walk: the iterator's whole output. */
struct np_task_state {
	__u32 threads;          /* threads seen */
	__u32 stopped;          /* in a group stop (SIGSTOP) or stopped by a tracer */
	__u32 queued;           /* runnable but waiting for a CPU */
	__u32 __pad;
	__u64 longest_queued_ns; /* how long the longest-waiting of those has waited so far */
};

#endif
