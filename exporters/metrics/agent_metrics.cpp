#include "metrics/agent_metrics.h"

#include "metrics/log2_buckets.h"

namespace nodepulse {

namespace {
constexpr double kNsPerSecond = 1e9;
}

AgentMetrics::AgentMetrics(prometheus::Registry& registry, const std::vector<std::string>& target_names,
                           const std::string& version)
    : runq_latency_(prometheus::BuildHistogram()
                        .Name("nodepulse_runq_latency_seconds")
                        .Help("Time runnable threads waited for a CPU; target=\"node\" is every thread of the node")
                        .Register(registry)),
      runq_stalls_(prometheus::BuildCounter()
                       .Name("nodepulse_runq_stalls_total")
                       .Help("Run-queue waits of a target's threads at or above sched.stall_threshold_ms")
                       .Register(registry)),
      runq_longest_wait_(prometheus::BuildGauge()
                             .Name("nodepulse_runq_longest_wait_seconds")
                             .Help("Longest run-queue wait in the last collection interval")
                             .Register(registry)),
      probe_up_(prometheus::BuildGauge()
                    .Name("nodepulse_probe_up")
                    .Help("1 when the probe is loaded and attached; 0 means its signal is unknown")
                    .Register(registry)),
      dropped_(prometheus::BuildCounter()
                   .Name("nodepulse_bpf_events_dropped_total")
                   .Help("Events a BPF program could not deliver (ring buffer full)")
                   .Register(registry)),
      unmeasured_(prometheus::BuildCounter()
                      .Name("nodepulse_bpf_updates_failed_total")
                      .Help("Measurements a BPF program could not record (map or storage update failed)")
                      .Register(registry)),
      target_processes_(prometheus::BuildGauge()
                            .Name("nodepulse_target_processes")
                            .Help("Live processes matching each configured target")
                            .Register(registry)) {
  prometheus::BuildGauge()
      .Name("nodepulse_build_info")
      .Help("Always 1; the agent's version as a label")
      .Register(registry)
      .Add({{"version", version}})
      .Set(1);

  const auto& bounds = log2_bucket_bounds_seconds();
  node_latency_ = &runq_latency_.Add({{"target", "node"}}, bounds);
  node_longest_wait_ = &runq_longest_wait_.Add({{"target", "node"}});
  for (const std::string& name : target_names) {
    target_latency_.push_back(&runq_latency_.Add({{"target", name}}, bounds));
    target_stalls_.push_back(&runq_stalls_.Add({{"target", name}}));
    target_longest_wait_.push_back(&runq_longest_wait_.Add({{"target", name}}));
    target_process_count_.push_back(&target_processes_.Add({{"target", name}}));
  }
  sched_dropped_ = &dropped_.Add({{"probe", "sched"}});
  sched_unmeasured_ = &unmeasured_.Add({{"probe", "sched"}});
}

void AgentMetrics::record(const Sample& sample) {
  if (!sample.sched) return;
  const SchedDelta& sched = *sample.sched;
  auto observe = [](prometheus::Histogram& histogram, const Log2Histogram& delta) {
    if (delta.count == 0) return;
    histogram.ObserveMultiple(log2_bucket_increments(delta), static_cast<double>(delta.sum_ns) / kNsPerSecond);
  };
  observe(*node_latency_, sched.node.wait);
  node_longest_wait_->Set(static_cast<double>(sched.node.longest_wait_ns) / kNsPerSecond);
  for (size_t i = 0; i < sched.targets.size() && i < target_latency_.size(); ++i) {
    observe(*target_latency_[i], sched.targets[i].wait);
    target_stalls_[i]->Increment(static_cast<double>(sched.targets[i].stalls));
    target_longest_wait_[i]->Set(static_cast<double>(sched.targets[i].longest_wait_ns) / kNsPerSecond);
  }
  sched_dropped_->Increment(static_cast<double>(sched.dropped_events));
  sched_unmeasured_->Increment(static_cast<double>(sched.unmeasured_waits));
}

void AgentMetrics::set_probe_up(const std::string& probe, bool up) {
  probe_up_.Add({{"probe", probe}}).Set(up ? 1 : 0);
}

void AgentMetrics::set_target_processes(size_t target_index, size_t live_processes) {
  if (target_index < target_process_count_.size()) {
    target_process_count_[target_index]->Set(static_cast<double>(live_processes));
  }
}

}  // namespace nodepulse
