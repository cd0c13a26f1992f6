#include "metrics/agent_metrics.h"

namespace nodepulse {

AgentMetrics::AgentMetrics(prometheus::Registry& registry, const std::vector<std::string>& target_names,
                           const std::string& version)
    : probe_up_(prometheus::BuildGauge()
                    .Name("nodepulse_probe_up")
                    .Help("1 when the probe is loaded and attached; 0 means its signal is unknown")
                    .Register(registry)),
      dropped_(prometheus::BuildCounter()
                   .Name("nodepulse_bpf_events_dropped_total")
                   .Help("Events a BPF program could not deliver (ring buffer full)")
                   .Register(registry)),
      failed_updates_(prometheus::BuildCounter()
                          .Name("nodepulse_bpf_updates_failed_total")
                          .Help("Measurements a BPF program could not record (map or storage update failed)")
                          .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name("nodepulse_errors_total")
                  .Help("Run-time failures by component and operation; the agent degrades and keeps running")
                  .Register(registry)),
      runq_(registry, target_names),
      jvm_(registry, target_names),
      mem_(registry, target_names),
      net_(registry) {
  // The mem collector reads PSI files whether or not its probe loads; a probe's own read
  // errors start with the probe (set_probe_up).
  errors_.Add({{"component", "psi"}, {"op", "read"}});
  prometheus::BuildGauge()
      .Name("nodepulse_build_info")
      .Help("Always 1; the agent's version as a label")
      .Register(registry)
      .Add({{"version", version}})
      .Set(1);
  auto& processes = prometheus::BuildGauge()
                        .Name("nodepulse_target_processes")
                        .Help("Live processes matching each configured target")
                        .Register(registry);
  for (const std::string& name : target_names) target_processes_.push_back(&processes.Add({{"target", name}}));
}

void AgentMetrics::record(const Sample& sample) {
  for (const ProbeDrops& drops : sample.drops) {
    dropped_.Add({{"probe", drops.probe}}).Increment(static_cast<double>(drops.dropped_events));
    failed_updates_.Add({{"probe", drops.probe}}).Increment(static_cast<double>(drops.failed_updates));
  }
  for (const CollectError& error : sample.errors) {
    errors_.Add({{"component", error.component}, {"op", error.op}}).Increment();
  }
  if (sample.sched) runq_.record(*sample.sched);
  if (sample.jvm) jvm_.record(*sample.jvm);
  if (sample.mem) mem_.record(*sample.mem);
  if (sample.net) net_.record(*sample.net);
}

void AgentMetrics::set_probe_up(const std::string& probe, bool up) {
  probe_up_.Add({{"probe", probe}}).Set(up ? 1 : 0);
  // Every counter of the probe exists from here at 0, so its first drop or failed read is an
  // increase that rate() and the alert rules see, not a series born at 1.
  dropped_.Add({{"probe", probe}});
  failed_updates_.Add({{"probe", probe}});
  errors_.Add({{"component", probe}, {"op", "read"}});
}

void AgentMetrics::set_target_processes(size_t target_index, size_t live_processes) {
  if (target_index < target_processes_.size()) target_processes_[target_index]->Set(static_cast<double>(live_processes));
  mem_.set_target_up(target_index, live_processes > 0);
}

}  // namespace nodepulse
