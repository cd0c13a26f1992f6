// JVM rule: a pause in progress (a JVM stuck in a safepoint) and the share of time spent paused.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "collect/sample.h"
#include "health/verdict.h"

namespace nodepulse {

struct JvmThresholds {
  uint64_t pause_warn_ns = 200'000'000;    // a pause under way this long: degraded
  uint64_t pause_fail_ns = 1'000'000'000;  // ... failing at once (hard)
  double paused_share_warn = 0.10;         // share of the window spent in safepoints: degraded
  double paused_share_fail = 0.50;         // ... failing
  uint64_t window_ms = 10'000;
};

class JvmRule {
 public:
  explicit JvmRule(JvmThresholds thresholds) : thresholds_(thresholds) {}

  // Every collection interval: pauses in progress and finished pauses of the window.
  Assessment assess(const Sample& sample, const std::vector<std::string>& target_names);
  // The fast path: only the pauses in progress (per target, ns), read on a short timer.
  Assessment assess_in_progress(const std::vector<uint64_t>& pause_in_progress_ns,
                                const std::vector<std::string>& target_names) const;

 private:
  JvmThresholds thresholds_;
  std::deque<std::pair<uint64_t, std::vector<uint64_t>>> window_;  // (mono_ns, paused ns per target)
};

}  // namespace nodepulse
