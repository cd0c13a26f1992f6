#include "metrics/runq_metrics.h"

#include "metrics/log2_buckets.h"

namespace nodepulse {

RunqMetrics::RunqMetrics(prometheus::Registry& registry, const std::vector<std::string>& target_names) {
  auto& latency = prometheus::BuildHistogram()
                      .Name("nodepulse_runq_latency_seconds")
                      .Help("Time runnable threads waited for a CPU; target=\"node\" is every thread of the node")
                      .Register(registry);
  auto& stalls = prometheus::BuildCounter()
                     .Name("nodepulse_runq_stalls_total")
                     .Help("Run-queue waits of a target's threads at or above sched.stall_threshold_ms")
                     .Register(registry);
  auto& longest_wait = prometheus::BuildGauge()
                           .Name("nodepulse_runq_longest_wait_seconds")
                           .Help("Longest run-queue wait in the last collection interval")
                           .Register(registry);
  const auto& bounds = log2_bucket_bounds_seconds();
  node_latency_ = &latency.Add({{"target", "node"}}, bounds);
  node_longest_wait_ = &longest_wait.Add({{"target", "node"}});
  for (const std::string& name : target_names) {
    target_latency_.push_back(&latency.Add({{"target", name}}, bounds));
    target_stalls_.push_back(&stalls.Add({{"target", name}}));
    target_longest_wait_.push_back(&longest_wait.Add({{"target", name}}));
  }
}

void RunqMetrics::record(const SchedDelta& sched) {
  observe_log2(*node_latency_, sched.node.wait);
  node_longest_wait_->Set(ns_to_seconds(sched.node.longest_wait_ns));
  for (size_t i = 0; i < sched.targets.size() && i < target_latency_.size(); ++i) {
    observe_log2(*target_latency_[i], sched.targets[i].wait);
    target_stalls_[i]->Increment(static_cast<double>(sched.targets[i].stalls));
    target_longest_wait_[i]->Set(ns_to_seconds(sched.targets[i].longest_wait_ns));
  }
}

}  // namespace nodepulse
