// One collection interval's worth of signals: deltas of the probes' cumulative counters.
// The health engine and the metrics exporter both consume Samples.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/histogram.h"
#include "probes/readings.h"

namespace nodepulse {

struct RunqDelta {
  Log2Histogram wait;
  uint64_t stalls = 0;
  uint64_t longest_wait_ns = 0;
};

struct SchedDelta {
  RunqDelta node;
  std::vector<RunqDelta> targets;  // indexed like Config::targets
  uint64_t dropped_events = 0;
  uint64_t unmeasured_waits = 0;
};

struct Sample {
  uint64_t mono_ns = 0;
  std::optional<SchedDelta> sched;  // nullopt: the probe is down, its signal is unknown
};

// Turns successive cumulative readings into deltas. The first reading yields its whole
// content as the delta (everything since the probe loaded).
class SchedDeltaTracker {
 public:
  SchedDelta next(const SchedReading& cumulative);

 private:
  std::optional<SchedReading> previous_;
};

}  // namespace nodepulse
