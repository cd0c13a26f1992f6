// nodepulse_runq_*: run-queue latency of the node and of each target.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>
#include <vector>

#include "collect/sample.h"

namespace nodepulse {

class RunqMetrics {
 public:
  RunqMetrics(prometheus::Registry& registry, const std::vector<std::string>& target_names);
  void record(const SchedDelta& sched);

 private:
  prometheus::Histogram* node_latency_;
  prometheus::Gauge* node_longest_wait_;
  std::vector<prometheus::Histogram*> target_latency_;
  std::vector<prometheus::Counter*> target_stalls_;
  std::vector<prometheus::Gauge*> target_longest_wait_;
};

}  // namespace nodepulse
