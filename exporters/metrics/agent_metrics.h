// The agent's Prometheus metrics, fed from Samples. One place defines every name and label.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "collect/sample.h"

namespace nodepulse {

class AgentMetrics {
 public:
  AgentMetrics(prometheus::Registry& registry, const std::vector<std::string>& target_names,
               const std::string& version);

  void record(const Sample& sample);
  void set_probe_up(const std::string& probe, bool up);
  void set_target_processes(size_t target_index, size_t live_processes);

 private:
  prometheus::Family<prometheus::Histogram>& runq_latency_;
  prometheus::Family<prometheus::Counter>& runq_stalls_;
  prometheus::Family<prometheus::Gauge>& runq_longest_wait_;
  prometheus::Family<prometheus::Gauge>& probe_up_;
  prometheus::Family<prometheus::Counter>& dropped_;
  prometheus::Family<prometheus::Counter>& unmeasured_;
  prometheus::Family<prometheus::Gauge>& target_processes_;

  prometheus::Histogram* node_latency_;
  prometheus::Gauge* node_longest_wait_;
  std::vector<prometheus::Histogram*> target_latency_;
  std::vector<prometheus::Counter*> target_stalls_;
  std::vector<prometheus::Gauge*> target_longest_wait_;
  std::vector<prometheus::Gauge*> target_process_count_;
  prometheus::Counter* sched_dropped_;
  prometheus::Counter* sched_unmeasured_;
};

}  // namespace nodepulse
