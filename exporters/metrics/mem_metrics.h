// nodepulse_memory_*, nodepulse_oom_kills_total, nodepulse_psi_*, nodepulse_target_up:
// memory pressure of the node and of each target, and whether each target is alive.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "collect/sample.h"

namespace nodepulse {

class MemMetrics {
 public:
  MemMetrics(prometheus::Registry& registry, const std::vector<std::string>& target_names);
  void record(const MemDelta& mem);
  // 1 while at least one live process matches the target.
  void set_target_up(size_t target_index, bool up);

 private:
  // PSI series are made on first sight, so a resource without PSI has no series (unknown)
  // rather than a zero (which would read as "no pressure").
  void record_psi(const std::string& resource, const PsiResourceDelta& delta);
  void record_target_psi(size_t target_index, const PsiResourceDelta& delta);

  std::vector<std::string> target_names_;
  prometheus::Histogram* node_reclaim_stall_;
  std::vector<prometheus::Histogram*> target_reclaim_stall_;
  prometheus::Counter* node_oom_kills_;
  std::vector<prometheus::Counter*> target_oom_kills_;
  std::vector<prometheus::Gauge*> target_up_;
  prometheus::Family<prometheus::Counter>& psi_waiting_;
  prometheus::Family<prometheus::Gauge>& psi_avg10_;
  prometheus::Family<prometheus::Counter>& target_psi_waiting_;
  prometheus::Family<prometheus::Counter>& psi_trigger_events_;
};

}  // namespace nodepulse
