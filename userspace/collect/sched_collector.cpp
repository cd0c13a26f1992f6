#include "collect/sched_collector.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "collect/probe_paths_config.h"

namespace nodepulse {

SchedCollector::SchedCollector(const Config& config, std::function<void(const SchedEvent&)> on_event)
    : config_(config), on_event_(std::move(on_event)) {}

SchedProbe::Options sched_probe_options(const Config& config) {
  using QueueTimestamps = SchedProbe::QueueTimestamps;
  const std::string& source = config.sched.queue_timestamps;
  return {.stall_threshold_ns = uint64_t{config.sched.stall_threshold_ms} * 1'000'000,
          .target_count = config.targets.size(),
          .queue_timestamps = source == "schedstat" ? QueueTimestamps::kSchedstat
                              : source == "wakeup"  ? QueueTimestamps::kWakeup
                                                    : QueueTimestamps::kAuto,
          .paths = probe_path_request(config)};
}

Result<void> SchedCollector::start(EventLoop& loop) {
  auto probe = SchedProbe::start(sched_probe_options(config_), on_event_);
  if (!probe) return probe.error();
  probe_ = std::move(*probe);
  if (auto watched = loop.watch(probe_->event_fd(), [this] { probe_->consume_events(); }); !watched) {
    probe_.reset();
    return watched.error();
  }
  spdlog::info("sched probe: attached (stall threshold {} ms, queue timestamps from {}, {} ({}), events by {} ({}))",
               config_.sched.stall_threshold_ms,
               probe_->queue_timestamps() == SchedProbe::QueueTimestamps::kSchedstat ? "schedstat" : "wakeup hooks",
               probe_->paths().attach, probe_->paths().attach_reason, probe_->paths().events,
               probe_->paths().events_reason);
  for (const std::string& cost : probe_->paths().degraded) spdlog::warn("sched probe: {}", cost);
  // Optional: without it a stall is still seen, but only once the wait ends.
  if (auto task_states = TaskStateProbe::start({}); task_states) {
    task_states_ = std::move(*task_states);
  } else {
    spdlog::warn("task_state probe: {}; a stopped target and waits still in progress will not be seen",
                 task_states.error().message);
  }
  return ok();
}

void SchedCollector::collect(Sample& sample) {
  if (!probe_) return;
  auto reading = probe_->read();
  if (!reading) {
    sample.errors.push_back({probe(), "read", reading.error().message});
    return;
  }
  sample.sched = deltas_.next(*reading);
  add_thread_states(*sample.sched, sample.errors);
  sample.drops.push_back({probe(), sample.sched->dropped_events, sample.sched->unmeasured_waits});
}

void SchedCollector::add_thread_states(SchedDelta& sched, std::vector<CollectError>& errors) {
  if (!task_states_) return;
  for (const auto& [tgid, index] : target_processes_) {
    if (index >= sched.targets.size()) continue;
    auto states = task_states_->read(tgid);
    if (!states) {
      errors.push_back({probe(), "read", states.error().message});
      continue;
    }
    RunqDelta& target = sched.targets[index];
    target.queued_now_ns = std::max(target.queued_now_ns, states->longest_queued_ns);
    // All threads, not some: a debugger may hold one thread while the others serve.
    if (states->threads > 0 && states->stopped == states->threads) target.stopped = true;
  }
}

std::vector<ProgramStats> SchedCollector::program_stats() const {
  std::vector<ProgramStats> stats = probe_ ? probe_->program_stats() : std::vector<ProgramStats>{};
  if (task_states_) {
    for (ProgramStats& walk : task_states_->program_stats()) stats.push_back(std::move(walk));
  }
  return stats;
}

void SchedCollector::target_started(const TargetProcess& process) {
  if (!probe_) return;
  target_processes_[process.tgid] = process.target_index;
  if (auto added = probe_->add_target(process.tgid, process.target_index); !added) {
    spdlog::warn("sched probe: {}", added.error().message);
  }
}

void SchedCollector::target_exited(const TargetProcess& process) {
  if (!probe_) return;
  target_processes_.erase(process.tgid);
  if (auto removed = probe_->remove_target(process.tgid); !removed) {
    spdlog::warn("sched probe: {}", removed.error().message);
  }
}

}  // namespace nodepulse
