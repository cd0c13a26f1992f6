// Memory pressure: the mem probe's reclaim stalls and OOM kills, and PSI (node-wide files,
// each target's cgroup memory.pressure, and PSI triggers that wake the agent at once).
#pragma once

#include <sys/types.h>

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "collect/collector.h"
#include "collect/mem_sample.h"
#include "collect/psi.h"
#include "config/config.h"
#include "probes/mem_probe.h"

namespace nodepulse {

// Turns successive cumulative mem probe readings into deltas. The first reading yields its
// whole content as the delta (everything since the probe loaded).
class ReclaimDeltaTracker {
 public:
  ReclaimDelta next(const MemReading& cumulative);

 private:
  std::optional<MemReading> previous_;
};

// An OOM event from the probe, completed where the kernel gave ids or nothing: the victim's
// memory cgroup path found from its memcg id in the memory hierarchy of `mounts` (the v1 memory
// hierarchy, else v2); for pid-only events, comm and cgroup from /proc — best effort, as the
// victim is exiting (and an exiting task's v1 cgroups already read "/").
OomKill complete_oom_kill(const OomEvent& event, const std::filesystem::path& proc_root, const CgroupMounts& mounts);

// Where the collector finds /proc and the cgroup mounts (tests point them at fixture trees).
struct MemCollectorRoots {
  std::filesystem::path proc = "/proc";
  std::filesystem::path cgroup = "/sys/fs/cgroup";
};

class MemCollector final : public Collector {
 public:
  // Both run on the event loop as the event happens, before the next Sample.
  struct Callbacks {
    std::function<void(const OomKill&)> on_oom_kill;
    // A PSI trigger fired: -1 for the node's /proc/pressure/memory, else a target index.
    std::function<void(int target_index)> on_memory_stall;
  };
  using Roots = MemCollectorRoots;

  explicit MemCollector(const Config& config, Callbacks callbacks = {}, Roots roots = {});

  const char* probe() const override { return "mem"; }
  // Starts PSI (reading and triggers) first: it runs on even when the BPF probe cannot load,
  // in which case the probe's error is returned and only the reclaim/OOM part is unknown.
  // Memory stall triggers (memory.psi_trigger_*) are the kernel's, watched on `loop`, where
  // the kernel polls them (PsiTriggerMode::kPolled); where it would only average them every
  // 2 s and our own reads would starve them (kAveraged), the same rule is checked on each
  // collection's reading instead.
  Result<void> start(EventLoop& loop) override;
  void collect(Sample& sample) override;
  std::vector<ProgramStats> program_stats() const override {
    return probe_ ? probe_->program_stats() : std::vector<ProgramStats>{};
  }
  void target_started(const TargetProcess& process) override;
  void target_exited(const TargetProcess& process) override;

 private:
  struct Trigger {
    PsiTrigger trigger;
    uint64_t pending_events = 0;
  };
  struct SoftTrigger {
    PsiStallWindow window;
    uint64_t pending_events = 0;
  };
  struct TargetPsi {
    pid_t source_tgid = 0;  // the live process whose cgroup is read; 0 = none
    std::optional<std::filesystem::path> file;
    PsiDeltaTracker tracker;
  };

  void on_oom_event(const OomEvent& event);
  void arm_trigger(const std::filesystem::path& file);
  void on_trigger(const std::filesystem::path& file);
  void check_soft_trigger(const std::filesystem::path& file, const PsiStats& stats);
  // Counts a trigger event and calls on_memory_stall for every scope reading `file`.
  void memory_stall(const std::filesystem::path& file);
  void drop_unused_triggers();
  std::optional<PsiResourceDelta> read_node_psi(PsiResource resource, Sample& sample);
  std::optional<PsiResourceDelta> read_target_psi(size_t index, Sample& sample);
  std::optional<PsiDelta> collect_psi(Sample& sample);
  // Logs `message` at warn level the first time `key` is seen.
  void say_once(const std::string& key, const std::string& message);

  const Config& config_;
  Callbacks callbacks_;
  Roots roots_;
  EventLoop* loop_ = nullptr;
  std::unique_ptr<MemProbe> probe_;
  ReclaimDeltaTracker reclaim_deltas_;
  CgroupMounts mounts_;
  std::filesystem::path node_memory_file_;
  std::array<PsiDeltaTracker, 3> node_psi_;  // indexed by PsiResource
  std::vector<TargetPsi> target_psi_;        // indexed like Config::targets
  std::map<pid_t, uint32_t> live_;           // live target processes: tgid -> target index
  std::optional<PsiTriggerMode> trigger_mode_;  // probed when the first trigger is armed
  std::map<std::filesystem::path, Trigger> triggers_;            // kPolled: the kernel's
  std::map<std::filesystem::path, SoftTrigger> soft_triggers_;  // kAveraged: checked on readings
  std::set<std::filesystem::path> failed_triggers_;  // not retried: the reason was logged
  bool stall_triggered_ = false;
  std::vector<OomKill> pending_oom_kills_;
  std::set<std::string> said_;
};

}  // namespace nodepulse
