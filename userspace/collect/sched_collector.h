// Run-queue latency: the sched probe's readings as deltas, and its exec/exit/stall events.
#pragma once

#include <functional>
#include <memory>

#include "collect/collector.h"
#include "config/config.h"
#include "probes/sched_probe.h"

namespace nodepulse {

// The sched probe's options as the config sets them.
SchedProbe::Options sched_probe_options(const Config& config);

class SchedCollector final : public Collector {
 public:
  // `on_event` receives every exec, exit and stall event as the ring buffer delivers it.
  SchedCollector(const Config& config, std::function<void(const SchedEvent&)> on_event);

  const char* probe() const override { return "sched"; }
  Result<void> start(EventLoop& loop) override;
  void collect(Sample& sample) override;
  std::vector<ProgramStats> program_stats() const override {
    return probe_ ? probe_->program_stats() : std::vector<ProgramStats>{};
  }
  void target_started(const TargetProcess& process) override;
  void target_exited(const TargetProcess& process) override;

 private:
  const Config& config_;
  std::function<void(const SchedEvent&)> on_event_;
  std::unique_ptr<SchedProbe> probe_;
  SchedDeltaTracker deltas_;
};

}  // namespace nodepulse
