// What the JVM probe reads, as plain values: everything downstream of userspace/probes uses
// these and never bpf/jvm.h or libbpf.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/histogram.h"

namespace nodepulse {

// Pause durations of one target's JVMs, cumulative since the probe loaded. The kinds overlap:
// a GC runs inside a safepoint, so never add them up.
struct JvmPauseHistograms {
  Log2Histogram gc;         // hotspot:gc__begin .. gc__end: one GC VM operation
  Log2Histogram safepoint;  // hs_private:safepoint__begin .. safepoint__end, time-to-safepoint included
};

// The pauses one attached JVM is in right now (a begin seen, its end not yet).
struct JvmPauseInProgress {
  pid_t tgid = 0;
  uint32_t target_index = 0;   // into Config::targets
  uint64_t gc_ns = 0;          // how long the current GC has lasted; 0 when none
  uint64_t safepoint_ns = 0;   // how long the current safepoint has lasted; 0 when none

  // The safepoint encloses the GC, so this is normally safepoint_ns.
  uint64_t longest_ns() const { return std::max(gc_ns, safepoint_ns); }
};

struct JvmReading {
  std::vector<JvmPauseHistograms> targets;      // indexed like Config::targets
  std::vector<JvmPauseInProgress> in_progress;  // one per attached process
  uint64_t untracked_hits = 0;  // probe hits from processes never registered (see bpf/jvm.h)
  uint64_t bad_targets = 0;     // registrations with an out-of-range target (a bug if not 0)
};

}  // namespace nodepulse
