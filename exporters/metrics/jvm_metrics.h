// nodepulse_jvm_*: HotSpot GC and safepoint pauses of each target, and the pause in progress.
#pragma once

#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>
#include <vector>

#include "collect/jvm_sample.h"

namespace nodepulse {

class JvmMetrics {
 public:
  JvmMetrics(prometheus::Registry& registry, const std::vector<std::string>& target_names);
  void record(const JvmDelta& jvm);

 private:
  struct Target {
    prometheus::Histogram* gc_pauses;
    prometheus::Histogram* safepoint_pauses;
    prometheus::Gauge* pause_in_progress;
    prometheus::Gauge* probes_attached;
    prometheus::Gauge* without_probes;
  };
  std::vector<Target> targets_;
};

}  // namespace nodepulse
