// Pure decoding of bpf/jvm.h map values into plain readings; unit-tested from byte buffers.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "bpf/jvm.h"
#include "probes/jvm_readings.h"

namespace nodepulse {

// The layout of bpf/jvm.h is the ABI between the kernel program and this reader.
static_assert(sizeof(np_histogram) == 8 * (NP_HIST_SLOTS + 2));
static_assert(NP_HIST_SLOTS == Log2Histogram::kSlots);
static_assert(sizeof(np_jvm_inflight) == 8 * NP_JVM_PAUSE_KINDS + 8);
static_assert(offsetof(np_jvm_inflight, begin_ns) == 0);
static_assert(offsetof(np_jvm_inflight, target_index) == 8 * NP_JVM_PAUSE_KINDS);
static_assert(sizeof(np_jvm_drops) == 16);
static_assert(NP_JVM_PAUSE_GC == 0 && NP_JVM_PAUSE_SAFEPOINT == 1 && NP_JVM_PAUSE_KINDS == 2);

// The pause_stats key of (target, kind).
constexpr uint32_t jvm_stats_key(size_t target_index, uint32_t kind) {
  return static_cast<uint32_t>(NP_JVM_STATS_KEY(target_index, kind));
}

// Sums one pause_stats entry's per-CPU values.
Log2Histogram sum_pause_histogram(std::span<const np_histogram> per_cpu);

// How long a pause that began at begin_ns (bpf_ktime_get_ns, CLOCK_MONOTONIC) has lasted at
// now_ns; 0 when none is in progress (begin_ns == 0).
constexpr uint64_t pause_elapsed_ns(uint64_t begin_ns, uint64_t now_ns) {
  return begin_ns == 0 || now_ns < begin_ns ? 0 : now_ns - begin_ns;
}

// One inflight entry as seen at now_ns.
JvmPauseInProgress decode_inflight(pid_t tgid, const np_jvm_inflight& entry, uint64_t now_ns);

}  // namespace nodepulse
