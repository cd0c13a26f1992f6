#include "collect/sched_collector.h"

#include <spdlog/spdlog.h>

namespace nodepulse {

SchedCollector::SchedCollector(const Config& config, std::function<void(const SchedEvent&)> on_event)
    : config_(config), on_event_(std::move(on_event)) {}

Result<void> SchedCollector::start(EventLoop& loop) {
  const SchedProbe::Options options{.stall_threshold_ns = uint64_t{config_.sched.stall_threshold_ms} * 1'000'000,
                                    .target_count = config_.targets.size()};
  auto probe = SchedProbe::start(options, on_event_);
  if (!probe) return probe.error();
  probe_ = std::move(*probe);
  if (auto watched = loop.watch(probe_->event_fd(), [this] { probe_->consume_events(); }); !watched) {
    probe_.reset();
    return watched.error();
  }
  spdlog::info("sched probe: attached (stall threshold {} ms)", config_.sched.stall_threshold_ms);
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
  sample.drops.push_back({probe(), sample.sched->dropped_events, sample.sched->unmeasured_waits});
}

void SchedCollector::target_started(const TargetProcess& process) {
  if (!probe_) return;
  if (auto added = probe_->add_target(process.tgid, process.target_index); !added) {
    spdlog::warn("sched probe: {}", added.error().message);
  }
}

void SchedCollector::target_exited(const TargetProcess& process) {
  if (!probe_) return;
  if (auto removed = probe_->remove_target(process.tgid); !removed) {
    spdlog::warn("sched probe: {}", removed.error().message);
  }
}

}  // namespace nodepulse
