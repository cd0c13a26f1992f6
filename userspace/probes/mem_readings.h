// What the mem probe reads, as plain values: no BPF header, no libbpf. Everything downstream
// of userspace/probes (collect, exporters, health) uses these.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/histogram.h"

namespace nodepulse {

// Reclaim stalls and OOM kills of one scope (the node, or one target), cumulative since the
// probe loaded; counters only grow.
struct ReclaimReading {
  Log2Histogram direct;  // direct reclaim passes (global memory shortage)
  Log2Histogram memcg;   // memcg reclaim passes (a cgroup at its memory limit)
  uint64_t oom_kills = 0;
};

struct MemReading {
  ReclaimReading node;
  std::vector<ReclaimReading> targets;  // indexed like Config::targets
  uint64_t dropped_events = 0;          // ring buffer full: OOM event details lost (kills still counted)
  uint64_t unmeasured_stalls = 0;       // no task storage: reclaim passes not measured
};

// oom:mark_victim — the OOM killer chose this task.
struct OomEvent {
  uint64_t ts_ns = 0;      // CLOCK_MONOTONIC
  pid_t pid = 0;           // the victim thread
  pid_t tgid = 0;          // its process (== pid when pid_only)
  int target_index = -1;   // into Config::targets; -1 when not a target
  std::string comm;        // empty when pid_only
  uint64_t cgroup_id = 0;  // default (v2) hierarchy cgroup id; 0 = unknown
  uint64_t memcg_id = 0;   // memory-controller cgroup id (v1 or v2); 0 = unknown
  // The kernel's mark_victim tracepoint gave only a pid (kernels before the 2024 tracepoint
  // change): tgid is assumed equal to pid, comm and the cgroup ids are unknown.
  bool pid_only = false;
};

}  // namespace nodepulse
