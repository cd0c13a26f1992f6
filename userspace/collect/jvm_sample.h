// The JVM part of a Sample: pause histograms as deltas, the pauses in progress, and whether
// each target's processes could be probed at all.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/histogram.h"
#include "probes/jvm_readings.h"

namespace nodepulse {

struct JvmTargetDelta {
  Log2Histogram gc_pauses;         // GC pauses that ended in this interval
  Log2Histogram safepoint_pauses;  // safepoints that ended in this interval (they enclose the GCs)
  // The longest pause under way at collection time among the target's JVMs; 0 when none.
  // A JVM stuck in a safepoint shows here before its pause ends.
  uint64_t gc_in_progress_ns = 0;
  uint64_t safepoint_in_progress_ns = 0;
  uint64_t pause_in_progress_ns = 0;  // max of the two
  uint32_t processes_attached = 0;        // target processes whose USDT probes are attached
  uint32_t processes_without_probes = 0;  // target processes that cannot be probed (not HotSpot, no USDT, ...)
};

struct JvmDelta {
  std::vector<JvmTargetDelta> targets;  // indexed like Config::targets
  uint64_t unattributed_hits = 0;  // probe hits the programs could not attribute to a target
};

// Turns successive cumulative readings into deltas; the in-progress values are taken as they
// are (they are not counters). The first reading yields its whole content as the delta.
class JvmDeltaTracker {
 public:
  JvmDelta next(const JvmReading& cumulative);

 private:
  std::optional<JvmReading> previous_;
};

}  // namespace nodepulse
