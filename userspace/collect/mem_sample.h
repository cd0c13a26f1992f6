// The mem collector's part of a Sample: reclaim stalls and OOM kills (BPF), pressure stall
// information (PSI files and triggers). Plain values; the health engine and the metrics
// exporter consume them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/histogram.h"

namespace nodepulse {

// ---- PSI (/proc/pressure/*, <cgroup>/memory.pressure)

// One line of a pressure file: "some avg10=1.23 avg60=0.50 avg300=0.10 total=123456".
struct PsiLine {
  double avg10 = 0;  // % of wall time stalled, averaged over 10 s (60 s, 300 s)
  double avg60 = 0;
  double avg300 = 0;
  uint64_t total_us = 0;  // cumulative stall time; only grows
  bool operator==(const PsiLine&) const = default;
};

// A whole pressure file. `full` is absent in the cpu file of kernels before 5.13.
struct PsiStats {
  std::optional<PsiLine> some;  // at least one task stalled
  std::optional<PsiLine> full;  // every non-idle task stalled at once
  bool operator==(const PsiStats&) const = default;
};

struct PsiKindDelta {
  uint64_t stalled_us = 0;  // stall time since the previous sample
  double avg10 = 0;         // the kernel's current 10 s average, in %
  bool operator==(const PsiKindDelta&) const = default;
};

struct PsiResourceDelta {
  std::optional<PsiKindDelta> some;
  std::optional<PsiKindDelta> full;  // nullopt where the kernel has no `full` line
  bool operator==(const PsiResourceDelta&) const = default;
};

struct PsiDelta {
  // Node-wide (/proc/pressure/*); nullopt where that file is unavailable.
  std::optional<PsiResourceDelta> cpu;
  std::optional<PsiResourceDelta> memory;
  std::optional<PsiResourceDelta> io;
  // memory.pressure of each target's cgroup, indexed like Config::targets; nullopt while the
  // target has no live process or its cgroup has no PSI (no cgroup v2 hierarchy).
  std::vector<std::optional<PsiResourceDelta>> target_memory;
  // PSI trigger wake-ups since the previous sample: the node's /proc/pressure/memory and each
  // target's cgroup memory.pressure (memory.psi_trigger_stall_us within psi_trigger_window_us).
  uint64_t node_trigger_events = 0;
  std::vector<uint64_t> target_trigger_events;
  bool memory_stall_triggered = false;  // any trigger fired since the previous sample
};

// ---- Reclaim stalls and OOM kills (bpf/mem.bpf.c)

struct ReclaimStall {
  Log2Histogram direct;  // direct reclaim: the node is short of memory
  Log2Histogram memcg;   // memcg reclaim: a cgroup is at its limit
  Log2Histogram total() const {
    Log2Histogram sum = direct;
    sum += memcg;
    return sum;
  }
};

struct ReclaimDelta {
  ReclaimStall node;
  std::vector<ReclaimStall> targets;  // indexed like Config::targets
  uint64_t node_oom_kills = 0;        // every OOM kill on the node
  std::vector<uint64_t> target_oom_kills;
  uint64_t dropped_events = 0;     // OOM event details lost to a full ring buffer (kills still counted)
  uint64_t unmeasured_stalls = 0;  // reclaim passes not measured (no task storage)
  bool memcg_measured = true;      // false on kernels without memcg reclaim tracepoints
};

// The OOM killer chose a victim: delivered by the ring buffer as it happens.
struct OomKill {
  uint64_t ts_ns = 0;  // CLOCK_MONOTONIC
  pid_t pid = 0;       // the victim thread
  pid_t tgid = 0;
  int target_index = -1;  // into Config::targets; -1 when the victim is not a target
  std::string comm;
  uint64_t cgroup_id = 0;     // default (v2) hierarchy cgroup id; 0 = unknown
  uint64_t memcg_id = 0;      // memory-controller cgroup id; 0 = unknown
  std::string memory_cgroup;  // the victim's memory cgroup path, read from /proc when still possible; "" = unknown
};

struct MemDelta {
  std::optional<ReclaimDelta> reclaim;  // nullopt: the mem BPF probe is not running (unknown)
  std::optional<PsiDelta> psi;          // nullopt: PSI is unavailable on this node (unknown)
  std::vector<OomKill> oom_kills;       // delivered since the previous sample, oldest first
};

}  // namespace nodepulse
