#include "collect/mem_collector.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <fstream>
#include <utility>

#include "collect/probe_paths_config.h"
#include "common/clock.h"

namespace nodepulse {
namespace {

// The ring buffer delivers kills as they happen; this only bounds memory if no Sample is
// taken for a long time (kills stay counted in ReclaimDelta either way).
constexpr size_t kMaxPendingOomKills = 1024;

ReclaimStall stall_delta(const ReclaimReading& now, const ReclaimReading* before) {
  ReclaimStall delta;
  delta.direct = before ? now.direct.since(before->direct) : now.direct;
  delta.memcg = before ? now.memcg.since(before->memcg) : now.memcg;
  return delta;
}

std::string read_comm(const std::filesystem::path& proc_root, pid_t pid) {
  std::ifstream in(proc_root / std::to_string(pid) / "comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

}  // namespace

ReclaimDelta ReclaimDeltaTracker::next(const MemReading& cumulative) {
  const MemReading* before = previous_ ? &*previous_ : nullptr;
  ReclaimDelta delta;
  delta.node = stall_delta(cumulative.node, before ? &before->node : nullptr);
  delta.node_oom_kills = counter_delta(cumulative.node.oom_kills, before ? before->node.oom_kills : 0);
  for (size_t i = 0; i < cumulative.targets.size(); ++i) {
    const ReclaimReading* had = before && i < before->targets.size() ? &before->targets[i] : nullptr;
    delta.targets.push_back(stall_delta(cumulative.targets[i], had));
    delta.target_oom_kills.push_back(counter_delta(cumulative.targets[i].oom_kills, had ? had->oom_kills : 0));
  }
  delta.dropped_events = counter_delta(cumulative.dropped_events, before ? before->dropped_events : 0);
  delta.unmeasured_stalls = counter_delta(cumulative.unmeasured_stalls, before ? before->unmeasured_stalls : 0);
  previous_ = cumulative;
  return delta;
}

OomKill complete_oom_kill(const OomEvent& event, const std::filesystem::path& proc_root, const CgroupMounts& mounts) {
  OomKill kill{.ts_ns = event.ts_ns,
               .pid = event.pid,
               .tgid = event.tgid,
               .target_index = event.target_index,
               .comm = event.comm,
               .cgroup_id = event.cgroup_id,
               .memcg_id = event.memcg_id,
               .memory_cgroup = ""};
  if (kill.comm.empty()) kill.comm = read_comm(proc_root, event.pid);
  // The memory limit that was hit is the v1 memory cgroup's on hybrid layouts, the v2
  // cgroup's otherwise; the memcg id names it even after the victim has left it.
  const auto& hierarchy = mounts.memory_v1 ? mounts.memory_v1 : mounts.unified;
  if (event.memcg_id != 0 && hierarchy) {
    kill.memory_cgroup = find_cgroup_by_id(*hierarchy, event.memcg_id).value_or("");
  } else if (auto cgroup = read_proc_cgroup(proc_root, event.tgid)) {
    kill.memory_cgroup = cgroup->memory.value_or(cgroup->unified.value_or(""));
  }
  return kill;
}

MemCollector::MemCollector(const Config& config, Callbacks callbacks, Roots roots)
    : config_(config),
      callbacks_(std::move(callbacks)),
      roots_(std::move(roots)),
      target_psi_(config.targets.size()) {}

Result<void> MemCollector::start(EventLoop& loop) {
  loop_ = &loop;
  mounts_ = detect_cgroup_mounts(roots_.cgroup);
  if (!mounts_.unified) {
    say_once("no-cgroup2", "no cgroup v2 hierarchy under " + roots_.cgroup.string() +
                               ": the targets' cgroup memory pressure is unknown");
  }
  node_memory_file_ = node_pressure_file(roots_.proc, PsiResource::kMemory);
  arm_trigger(node_memory_file_);

  const MemProbe::Options options{.target_count = config_.targets.size(),
                                  .oom_hook = MemProbe::OomHook::kAuto,
                                  .paths = probe_path_request(config_)};
  auto probe = MemProbe::start(options, [this](const OomEvent& event) { on_oom_event(event); });
  if (!probe) return probe.error();
  probe_ = std::move(*probe);
  if (auto watched = loop.watch(probe_->event_fd(), [this] { probe_->consume_events(); }); !watched) {
    probe_.reset();
    return watched.error();
  }
  if (!probe_->measures_memcg_reclaim()) {
    spdlog::warn(
        "mem probe: this kernel has no memcg reclaim tracepoints (CONFIG_MEMCG=n?); memcg stalls are not measured");
  }
  spdlog::info("mem probe: attached ({} ({}), events by {} ({}))", probe_->paths().attach,
               probe_->paths().attach_reason, probe_->paths().events, probe_->paths().events_reason);
  return ok();
}

void MemCollector::say_once(const std::string& key, const std::string& message) {
  if (said_.insert(key).second) spdlog::warn("{}", message);
}

void MemCollector::on_oom_event(const OomEvent& event) {
  OomKill kill = complete_oom_kill(event, roots_.proc, mounts_);
  const std::string target = kill.target_index >= 0 && static_cast<size_t>(kill.target_index) < config_.targets.size()
                                 ? "target " + config_.targets[static_cast<size_t>(kill.target_index)].name
                                 : "not a target";
  spdlog::warn("OOM kill: pid {} ({}) of process {}, {}, memory cgroup {}", kill.pid, kill.comm, kill.tgid, target,
               kill.memory_cgroup.empty() ? "unknown" : kill.memory_cgroup);
  if (pending_oom_kills_.size() < kMaxPendingOomKills) pending_oom_kills_.push_back(kill);
  if (callbacks_.on_oom_kill) callbacks_.on_oom_kill(kill);
}

void MemCollector::arm_trigger(const std::filesystem::path& file) {
  const uint32_t stall_us = config_.memory.psi_trigger_stall_us;
  const uint32_t window_us = config_.memory.psi_trigger_window_us;
  if (stall_us == 0 || loop_ == nullptr) return;  // triggers off
  if (triggers_.contains(file) || soft_triggers_.contains(file) || failed_triggers_.contains(file)) return;
  if (!trigger_mode_) {
    auto mode = probe_psi_trigger_mode(file);
    if (!mode) {
      failed_triggers_.insert(file);
      spdlog::warn("{}; memory stalls there are seen at the next collection, not at once", mode.error().message);
      return;
    }
    trigger_mode_ = *mode;
    if (*mode == PsiTriggerMode::kAveraged) {
      spdlog::warn(
          "PSI triggers: this kernel checks the triggers of a process without CAP_SYS_RESOURCE only every 2 s, "
          "and reading the pressure files starves them; memory stalls of {} us within {} us are checked at every "
          "collection ({} ms) instead",
          stall_us, window_us, config_.collect.interval_ms);
    }
  }
  if (*trigger_mode_ == PsiTriggerMode::kAveraged) {
    soft_triggers_.emplace(file, SoftTrigger{PsiStallWindow(stall_us, window_us), 0});
    return;
  }
  auto trigger = PsiTrigger::arm(file, stall_us, window_us);
  if (!trigger) {
    failed_triggers_.insert(file);
    spdlog::warn("{}; memory stalls there are seen at the next collection, not at once", trigger.error().message);
    return;
  }
  const int fd = trigger->fd();
  triggers_.emplace(file, Trigger{std::move(*trigger), 0});
  if (auto watched = loop_->watch(fd, [this, file] { on_trigger(file); }, EPOLLPRI); !watched) {
    triggers_.erase(file);
    failed_triggers_.insert(file);
    spdlog::warn("PSI trigger on {}: {}", file.string(), watched.error().message);
    return;
  }
  spdlog::info("PSI trigger armed on {}: some {} us within {} us", file.string(), stall_us,
               config_.memory.psi_trigger_window_us);
}

void MemCollector::on_trigger(const std::filesystem::path& file) {
  auto it = triggers_.find(file);
  if (it == triggers_.end()) return;
  const PsiTrigger::Status status = it->second.trigger.poll_status();
  if (status.broken) {
    // Closing the fd takes it out of the epoll set (EventLoop has no unwatch); without that a
    // removed cgroup's POLLERR would wake the loop forever.
    spdlog::info("PSI trigger on {}: the file went away (cgroup removed?); trigger closed", file.string());
    triggers_.erase(it);
    return;
  }
  it->second.pending_events += status.fired ? 2 : 1;
  memory_stall(file);
}

void MemCollector::check_soft_trigger(const std::filesystem::path& file, const PsiStats& stats) {
  auto it = soft_triggers_.find(file);
  if (it == soft_triggers_.end() || !stats.some) return;
  const uint64_t now_us = monotonic_ns() / 1000u;
  if (!it->second.window.update(now_us, stats.some->total_us)) return;
  ++it->second.pending_events;
  memory_stall(file);
}

void MemCollector::memory_stall(const std::filesystem::path& file) {
  stall_triggered_ = true;
  if (!callbacks_.on_memory_stall) return;
  if (file == node_memory_file_) callbacks_.on_memory_stall(-1);
  for (size_t i = 0; i < target_psi_.size(); ++i) {
    if (target_psi_[i].file == file) callbacks_.on_memory_stall(static_cast<int>(i));
  }
}

void MemCollector::drop_unused_triggers() {
  auto used = [this](const std::filesystem::path& file) {
    bool in_use = file == node_memory_file_;
    for (const TargetPsi& target : target_psi_) in_use = in_use || target.file == file;
    return in_use;
  };
  std::erase_if(triggers_, [&](const auto& entry) { return !used(entry.first); });
  std::erase_if(soft_triggers_, [&](const auto& entry) { return !used(entry.first); });
}

std::optional<PsiResourceDelta> MemCollector::read_node_psi(PsiResource resource, Sample& sample) {
  const std::filesystem::path file = node_pressure_file(roots_.proc, resource);
  auto stats = read_psi_file(file);
  if (!stats) {
    sample.errors.push_back({"psi", "read", stats.error().message});
    return std::nullopt;
  }
  if (!stats->has_value()) {
    say_once("psi:" + file.string(), "PSI is not available (" + file.string() + " is missing or disabled): " +
                                         psi_resource_name(resource) + " pressure is unknown");
    return std::nullopt;
  }
  if (resource == PsiResource::kMemory) check_soft_trigger(file, **stats);
  return node_psi_[static_cast<size_t>(resource)].next(**stats);
}

std::optional<PsiResourceDelta> MemCollector::read_target_psi(size_t index, Sample& sample) {
  TargetPsi& target = target_psi_[index];
  std::optional<std::filesystem::path> file;
  if (target.source_tgid != 0) {
    // Resolved at every collection, so a target moved to another cgroup is followed.
    if (auto cgroup = read_proc_cgroup(roots_.proc, target.source_tgid)) file = memory_pressure_file(mounts_, *cgroup);
  }
  if (file != target.file) {
    target.file = file;
    target.tracker.reset();
    if (file) arm_trigger(*file);
    drop_unused_triggers();
  }
  if (!file) return std::nullopt;
  auto stats = read_psi_file(*file);
  if (!stats) {
    sample.errors.push_back({"psi", "read", stats.error().message});
    return std::nullopt;
  }
  if (!stats->has_value()) {
    say_once("psi:" + file->string(), "PSI is not available in " + file->string() + ": memory pressure of target " +
                                          config_.targets[index].name + " is unknown");
    return std::nullopt;
  }
  check_soft_trigger(*file, **stats);
  return target.tracker.next(**stats);
}

std::optional<PsiDelta> MemCollector::collect_psi(Sample& sample) {
  PsiDelta psi;
  psi.cpu = read_node_psi(PsiResource::kCpu, sample);
  psi.memory = read_node_psi(PsiResource::kMemory, sample);
  psi.io = read_node_psi(PsiResource::kIo, sample);
  bool any = psi.cpu || psi.memory || psi.io;
  for (size_t i = 0; i < target_psi_.size(); ++i) {
    psi.target_memory.push_back(read_target_psi(i, sample));
    any = any || psi.target_memory.back().has_value();
  }

  auto take_events = [this](const std::optional<std::filesystem::path>& file) -> uint64_t {
    if (!file) return 0;
    if (auto it = triggers_.find(*file); it != triggers_.end()) return it->second.pending_events;
    if (auto it = soft_triggers_.find(*file); it != soft_triggers_.end()) return it->second.pending_events;
    return 0;
  };
  psi.node_trigger_events = take_events(node_memory_file_);
  for (const TargetPsi& target : target_psi_) psi.target_trigger_events.push_back(take_events(target.file));
  for (auto& [file, trigger] : triggers_) trigger.pending_events = 0;
  for (auto& [file, trigger] : soft_triggers_) trigger.pending_events = 0;
  psi.memory_stall_triggered = std::exchange(stall_triggered_, false);
  if (!any) return std::nullopt;
  return psi;
}

void MemCollector::collect(Sample& sample) {
  MemDelta delta;
  if (probe_) {
    // Kills that happened before the counters are read arrive in the same Sample.
    probe_->consume_events();
    auto reading = probe_->read();
    if (reading) {
      delta.reclaim = reclaim_deltas_.next(*reading);
      delta.reclaim->memcg_measured = probe_->measures_memcg_reclaim();
      sample.drops.push_back({probe(), delta.reclaim->dropped_events, delta.reclaim->unmeasured_stalls});
    } else {
      sample.errors.push_back({probe(), "read", reading.error().message});
    }
  }
  delta.psi = collect_psi(sample);
  delta.oom_kills = std::exchange(pending_oom_kills_, {});
  if (delta.reclaim || delta.psi || !delta.oom_kills.empty()) sample.mem = std::move(delta);
}

void MemCollector::target_started(const TargetProcess& process) {
  live_[process.tgid] = process.target_index;
  if (process.target_index < target_psi_.size() && target_psi_[process.target_index].source_tgid == 0) {
    target_psi_[process.target_index].source_tgid = process.tgid;
  }
  if (!probe_) return;
  if (auto added = probe_->add_target(process.tgid, process.target_index); !added) {
    spdlog::warn("mem probe: {}", added.error().message);
  }
}

void MemCollector::target_exited(const TargetProcess& process) {
  live_.erase(process.tgid);
  if (process.target_index < target_psi_.size() && target_psi_[process.target_index].source_tgid == process.tgid) {
    pid_t next = 0;
    for (const auto& [tgid, index] : live_) {
      if (index == process.target_index) {
        next = tgid;
        break;
      }
    }
    target_psi_[process.target_index].source_tgid = next;
  }
  if (!probe_) return;
  if (auto removed = probe_->remove_target(process.tgid); !removed) {
    spdlog::warn("mem probe: {}", removed.error().message);
  }
}

}  // namespace nodepulse
