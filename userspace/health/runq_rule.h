// Run-queue rule: is a target's JVM getting CPU when it needs it?
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "collect/sample.h"
#include "health/verdict.h"

namespace nodepulse {

struct RunqThresholds {
  uint64_t window_ms = 10'000;
  uint64_t p99_warn_ns = 20'000'000;   // degraded at or above
  uint64_t p99_fail_ns = 200'000'000;  // failing at or above
  uint64_t stall_fail_ns = 1'000'000'000;  // one wait this long, ended or not, fails at once (hard)
  uint64_t stopped_fail_ns = 300'000'000;  // a target stopped this long fails at once (hard)
  uint64_t min_waits = 50;  // fewer waits in the window than this say nothing about p99
};

// Keeps a sliding window of run-queue deltas and judges the p99 wait, the longest wait (ended
// or still in progress) and how long a target has been stopped.
class RunqRule {
 public:
  explicit RunqRule(RunqThresholds thresholds) : thresholds_(thresholds) {}

  // `live_targets[i]`: whether Config::targets[i] has a live process; with none live the node
  // as a whole is judged. An absent sched sample (probe down, read failed) is unknown.
  Assessment assess(const Sample& sample, const std::vector<bool>& live_targets,
                    const std::vector<std::string>& target_names);

 private:
  struct Entry {
    uint64_t mono_ns;
    SchedDelta sched;
  };
  RunqThresholds thresholds_;
  std::deque<Entry> window_;
  std::map<size_t, uint64_t> stopped_since_ns_;  // target index -> first sample that saw it stopped
};

}  // namespace nodepulse
