// The agent's Prometheus metrics, fed from Samples. Each signal has its own metrics class
// (runq_metrics.h, ...); this one holds them and the agent-wide metrics.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>
#include <vector>

#include "collect/sample.h"
#include "metrics/jvm_metrics.h"
#include "metrics/mem_metrics.h"
#include "metrics/net_metrics.h"
#include "metrics/runq_metrics.h"

namespace nodepulse {

class AgentMetrics {
 public:
  AgentMetrics(prometheus::Registry& registry, const std::vector<std::string>& target_names,
               const std::string& version);

  void record(const Sample& sample);
  // Also starts the probe's drop, failed-update and read-error counters at 0.
  void set_probe_up(const std::string& probe, bool up);
  void set_target_processes(size_t target_index, size_t live_processes);

 private:
  prometheus::Family<prometheus::Gauge>& probe_up_;
  prometheus::Family<prometheus::Counter>& dropped_;
  prometheus::Family<prometheus::Counter>& failed_updates_;
  prometheus::Family<prometheus::Counter>& errors_;
  std::vector<prometheus::Gauge*> target_processes_;
  RunqMetrics runq_;
  JvmMetrics jvm_;
  MemMetrics mem_;
  NetMetrics net_;
};

}  // namespace nodepulse
