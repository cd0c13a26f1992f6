/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A log2 latency histogram shared by every nodepulse BPF program and its userspace reader. */
#ifndef NODEPULSE_BPF_HISTOGRAM_H
#define NODEPULSE_BPF_HISTOGRAM_H

#include "abi_types.h"

/* Slot i counts values in [2^i, 2^(i+1)) ns; the last slot also takes everything larger
 * (2^39 ns is about 9 minutes). */
#define NP_HIST_SLOTS 40

struct np_histogram {
	__u64 slots[NP_HIST_SLOTS];
	__u64 count;
	__u64 sum_ns; /* exact, so Prometheus' _sum is too */
};

#endif
