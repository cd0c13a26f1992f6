// One collection interval's worth of signals: deltas of the probes' cumulative counters.
// The health engine and the metrics exporter both consume Samples.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/histogram.h"
#include "collect/jvm_sample.h"
#include "collect/mem_sample.h"
#include "collect/net_sample.h"
#include "probes/readings.h"

namespace nodepulse {

struct RunqDelta {
  Log2Histogram wait;
  uint64_t stalls = 0;
  uint64_t longest_wait_ns = 0;
  // At the end of the interval rather than over it (targets only; zero when the task_state
  // probe is unavailable): what the sched probe cannot see until a wait ends.
  uint64_t queued_now_ns = 0;  // the longest wait still in progress
  bool stopped = false;        // every thread of a process is stopped (SIGSTOP, a debugger)
};

struct SchedDelta {
  RunqDelta node;
  std::vector<RunqDelta> targets;  // indexed like Config::targets
  uint64_t dropped_events = 0;
  uint64_t unmeasured_waits = 0;
};

// What a probe's BPF programs could not deliver or record in one interval (never silent).
struct ProbeDrops {
  std::string probe;
  uint64_t dropped_events = 0;  // ring buffer full
  uint64_t failed_updates = 0;  // map or storage update failed
};

// A failure while collecting: counted (nodepulse_errors_total{component,op}) and logged
// rate-limited by the agent; the signal it concerns stays unknown for this sample.
struct CollectError {
  std::string component;
  std::string op;
  std::string message;
};

// Each probe's part is nullopt when the probe is down or its read failed: its signal is unknown.
struct Sample {
  uint64_t mono_ns = 0;
  std::optional<SchedDelta> sched;
  std::optional<MemDelta> mem;  // reclaim stalls, OOM kills, PSI (collect/mem_sample.h)
  std::optional<JvmDelta> jvm;
  std::optional<NetDelta> net;  // TCP health per peer (collect/net_sample.h)
  std::vector<ProbeDrops> drops;
  std::vector<CollectError> errors;
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
