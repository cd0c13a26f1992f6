// Run-queue latency: the sched probe's readings as deltas, and its exec/exit/stall events; plus,
// from the task_state probe, each target's waits still in progress and whether it is stopped.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>

#include "collect/collector.h"
#include "config/config.h"
#include "probes/sched_probe.h"
#include "probes/task_state_probe.h"

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
  std::vector<ProgramStats> program_stats() const override;
  void target_started(const TargetProcess& process) override;
  void target_exited(const TargetProcess& process) override;

 private:
  void add_thread_states(SchedDelta& sched, std::vector<CollectError>& errors);

  const Config& config_;
  std::function<void(const SchedEvent&)> on_event_;
  std::unique_ptr<SchedProbe> probe_;
  std::unique_ptr<TaskStateProbe> task_states_;  // null where the kernel has no task iterators
  std::map<pid_t, uint32_t> target_processes_;   // live tgid -> index into Config::targets
  SchedDeltaTracker deltas_;
};

}  // namespace nodepulse
