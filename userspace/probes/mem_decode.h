// Pure decoding of bpf/mem.h records into plain readings; unit-tested from byte buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "bpf/mem.h"
#include "probes/mem_readings.h"

namespace nodepulse {

// The layout of bpf/mem.h is the ABI between the kernel program and this reader.
static_assert(sizeof(np_histogram) == 8 * (NP_HIST_SLOTS + 2));
static_assert(NP_HIST_SLOTS == Log2Histogram::kSlots);
static_assert(sizeof(np_mem_stats) == 2 * sizeof(np_histogram) + 8);
static_assert(offsetof(np_mem_stats, memcg_reclaim) == sizeof(np_histogram));
static_assert(offsetof(np_mem_stats, oom_kills) == 2 * sizeof(np_histogram));
static_assert(sizeof(np_mem_drops) == 16);
static_assert(sizeof(np_mem_event) == 48 + NP_MEM_COMM_LEN);
static_assert(offsetof(np_mem_event, kind) == 24);
static_assert(offsetof(np_mem_event, target_slot) == 36);
static_assert(offsetof(np_mem_event, flags) == 40);
static_assert(offsetof(np_mem_event, comm) == 48);

// Sums one slot's per-CPU values.
ReclaimReading sum_mem_stats(std::span<const np_mem_stats> per_cpu);

// The targets map stores slot = index + 1 (slot 0 is the node).
constexpr uint32_t mem_target_slot(size_t target_index) { return static_cast<uint32_t>(target_index) + 1; }

// nullopt for a record of the wrong size or an unknown kind.
std::optional<OomEvent> decode_mem_event(std::span<const std::byte> record);

}  // namespace nodepulse
