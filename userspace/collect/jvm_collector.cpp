#include "collect/jvm_collector.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "probes/libjvm_finder.h"

namespace nodepulse {

JvmCollector::JvmCollector(const Config& config, std::filesystem::path proc_root)
    : config_(config), proc_root_(std::move(proc_root)) {}

JvmCollector::~JvmCollector() = default;

Result<void> JvmCollector::start(EventLoop& loop) {
  auto probe = JvmProbe::start({.target_count = config_.targets.size()});
  if (!probe) return probe.error();
  probe_ = std::move(*probe);
  if (auto timer = loop.every(kRetryPeriod, [this] { retry_waiting(); }); !timer) {
    probe_.reset();
    return timer.error();
  }
  spdlog::info("jvm probe: loaded; HotSpot USDT probes are attached to each target JVM as it is found");
  return ok();
}

const std::string& JvmCollector::target_name(const TargetProcess& process) const {
  return config_.targets.at(process.target_index).name;
}

void JvmCollector::give_up(Process& entry, const std::string& why) {
  entry.state = ProbeState::kUnavailable;
  spdlog::warn("target {}: process {} ({}): JVM pauses unknown: {}", target_name(entry.process), entry.process.tgid,
               entry.process.comm, why);
}

void JvmCollector::try_attach(Process& entry) {
  const pid_t tgid = entry.process.tgid;
  auto mapping = find_libjvm(proc_root_, tgid);
  if (!mapping) {
    // Gone already: the TargetTracker reports the exit next.
    give_up(entry, mapping.error().message);
    return;
  }
  if (!*mapping) {
    if (std::chrono::steady_clock::now() - entry.first_seen >= kLibjvmWait) {
      give_up(entry, "no libjvm.so mapped " + std::to_string(kLibjvmWait.count()) + " s after it started: not a "
                     "HotSpot JVM");
    }
    return;
  }
  auto path = libjvm_attach_path(proc_root_, tgid, **mapping);
  if (!path) {
    give_up(entry, path.error().message);
    return;
  }
  if (auto attached = probe_->attach(tgid, entry.process.target_index, *path); !attached) {
    give_up(entry, attached.error().message);
    return;
  }
  entry.state = ProbeState::kAttached;
  spdlog::info("target {}: process {} ({}): GC and safepoint probes attached in {}", target_name(entry.process), tgid,
               entry.process.comm, (*mapping)->path);
}

void JvmCollector::retry_waiting() {
  for (auto& [tgid, entry] : processes_) {
    if (entry.state == ProbeState::kWaitingForLibjvm) try_attach(entry);
  }
}

void JvmCollector::target_started(const TargetProcess& process) {
  if (!probe_) return;
  Process entry{.process = process, .state = ProbeState::kWaitingForLibjvm, .first_seen = std::chrono::steady_clock::now()};
  probe_->detach(process.tgid);  // a stale attachment of a reused pid
  auto [it, _] = processes_.insert_or_assign(process.tgid, entry);
  try_attach(it->second);
}

void JvmCollector::target_exited(const TargetProcess& process) {
  if (!probe_) return;
  probe_->detach(process.tgid);
  processes_.erase(process.tgid);
}

void JvmCollector::collect(Sample& sample) {
  if (!probe_) return;
  auto reading = probe_->read();
  if (!reading) {
    sample.errors.push_back({probe(), "read", reading.error().message});
    return;
  }
  JvmDelta delta = deltas_.next(*reading);
  for (const auto& [tgid, entry] : processes_) {
    if (entry.process.target_index >= delta.targets.size()) continue;
    JvmTargetDelta& target = delta.targets[entry.process.target_index];
    if (entry.state == ProbeState::kAttached) ++target.processes_attached;
    if (entry.state == ProbeState::kUnavailable) ++target.processes_without_probes;
  }
  sample.drops.push_back({probe(), 0, delta.unattributed_hits});
  sample.jvm = std::move(delta);
}

std::optional<std::vector<uint64_t>> JvmCollector::pause_in_progress_ns() {
  if (!probe_) return std::nullopt;
  auto pauses = probe_->pauses_in_progress();
  if (!pauses) return std::nullopt;
  std::vector<uint64_t> longest(config_.targets.size(), 0);
  for (const JvmPauseInProgress& pause : *pauses) {
    if (pause.target_index < longest.size()) {
      longest[pause.target_index] = std::max(longest[pause.target_index], pause.longest_ns());
    }
  }
  return longest;
}

}  // namespace nodepulse
