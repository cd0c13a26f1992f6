// Pure decoding of bpf/sched.h records into plain readings; unit-tested from byte buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "probes/readings.h"
#include "bpf/sched.h"

namespace nodepulse {

// The layout of bpf/sched.h is the ABI between the kernel program and this reader.
static_assert(sizeof(np_histogram) == 8 * (NP_HIST_SLOTS + 2));
static_assert(NP_HIST_SLOTS == Log2Histogram::kSlots);
static_assert(sizeof(np_runq_stats) == sizeof(np_histogram) + 3 * 8);
static_assert(offsetof(np_runq_stats, stalls) == sizeof(np_histogram));
static_assert(offsetof(np_runq_stats, window_epoch) == sizeof(np_histogram) + 16);
static_assert(sizeof(np_sched_drops) == 16);
static_assert(sizeof(np_target_cache_entry) == 16);
static_assert(sizeof(np_sched_event) == 32 + NP_COMM_LEN);
static_assert(offsetof(np_sched_event, kind) == 16);
static_assert(offsetof(np_sched_event, comm) == 32);

Log2Histogram to_histogram(const np_histogram& hist);

// Sums one slot's per-CPU values. longest_wait_ns only counts CPUs whose window_epoch equals
// `window_epoch`: the others recorded nothing in that window.
RunqReading sum_runq(std::span<const np_runq_stats> per_cpu, uint64_t window_epoch);

// The targets map stores slot = index + 1 (slot 0 is the node).
constexpr uint32_t target_slot(size_t target_index) { return static_cast<uint32_t>(target_index) + 1; }

// nullopt for a record of the wrong size or an unknown kind.
std::optional<SchedEvent> decode_sched_event(std::span<const std::byte> record);

}  // namespace nodepulse
