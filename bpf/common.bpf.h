/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by nodepulse's BPF programs (BPF side only). */
#ifndef NODEPULSE_COMMON_BPF_H
#define NODEPULSE_COMMON_BPF_H

#include "histogram.h"

/* floor(log2(v)) for v > 0, branch-light so the verifier sees a bounded result. */
static __always_inline __u32 np_log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 np_log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? np_log2_u32(hi) + 32 : np_log2_u32((__u32)v);
}

/* Records one value into a histogram owned by this CPU (a per-CPU map value), so plain
 * increments are safe: BPF programs run with migration disabled. */
static __always_inline void np_hist_record(struct np_histogram *hist, __u64 value_ns)
{
	__u32 slot = value_ns ? np_log2_u64(value_ns) : 0;

	if (slot >= NP_HIST_SLOTS)
		slot = NP_HIST_SLOTS - 1;
	hist->slots[slot]++;
	hist->count++;
	hist->sum_ns += value_ns;
}

#endif
