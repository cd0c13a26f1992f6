/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The event transport of a BPF object (BPF side only): a ring buffer (5.8+) or, on older
 * kernels or when probes.events forces it, a per-CPU perf buffer. Both maps are declared;
 * userspace picks one before load with events_use_perf_buffer and shrinks the other (the
 * unused ring buffer becomes a 1-entry array, which exists on every kernel). The branch on
 * the read-only flag is resolved by the verifier, so the unused helper is never checked:
 * bpf_ringbuf_output() does not need to exist on a kernel that takes the perf path. */
#ifndef NODEPULSE_EVENTS_BPF_H
#define NODEPULSE_EVENTS_BPF_H

const volatile __u32 events_use_perf_buffer = 0;

#define NP_EVENT_MAPS(ring, perf, ring_bytes)                     \
	struct {                                                  \
		__uint(type, BPF_MAP_TYPE_RINGBUF);               \
		__uint(max_entries, ring_bytes);                  \
	} ring SEC(".maps");                                      \
	struct {                                                  \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);      \
		__uint(key_size, sizeof(__u32));                  \
		__uint(value_size, sizeof(__u32));                \
	} perf SEC(".maps")

/* Copies one record out; a non-zero result means it was lost (the buffer was full), which
 * the caller counts. The record is built on the stack first: events are rare and small, so
 * the copy costs nothing next to keeping two code paths. */
static __always_inline long np_output_event(void *ctx, void *ring, void *perf, void *record, __u64 size)
{
	if (events_use_perf_buffer)
		return bpf_perf_event_output(ctx, perf, BPF_F_CURRENT_CPU, record, size);
	return bpf_ringbuf_output(ring, record, size, 0);
}

#endif
