// JVM pauses: attaches the JVM probe to each target process as the TargetTracker reports it,
// detaches it when the process goes, and turns the probe's readings into Sample::jvm.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collect/collector.h"
#include "collect/jvm_sample.h"
#include "config/config.h"
#include "probes/jvm_probe.h"

namespace nodepulse {

class JvmCollector final : public Collector {
 public:
  // A JVM's launcher maps libjvm.so a few milliseconds after exec; the TargetTracker may report
  // the process before that, so attaching is retried this often ...
  static constexpr std::chrono::milliseconds kRetryPeriod{100};
  // ... for this long, after which the process is reported as not a HotSpot JVM.
  static constexpr std::chrono::seconds kLibjvmWait{10};

  // proc_root: normally "/proc"; where each process's maps (and its root, for containers) are read.
  explicit JvmCollector(const Config& config, std::filesystem::path proc_root = "/proc");
  ~JvmCollector() override;

  const char* probe() const override { return "jvm"; }
  Result<void> start(EventLoop& loop) override;
  void collect(Sample& sample) override;
  std::vector<ProgramStats> program_stats() const override {
    return probe_ ? probe_->program_stats() : std::vector<ProgramStats>{};
  }
  void target_started(const TargetProcess& process) override;
  void target_exited(const TargetProcess& process) override;

  // The longest pause in progress of each target's JVMs (indexed like Config::targets), read
  // now; nullopt when the probe is down or the read failed. Cheap: for a short timer.
  std::optional<std::vector<uint64_t>> pause_in_progress_ns();

 private:
  enum class ProbeState {
    kWaitingForLibjvm,  // not mapped yet; retried every kRetryPeriod
    kAttached,
    kUnavailable,       // not a HotSpot JVM, no USDT probes, or attaching failed: reported once
  };
  struct Process {
    TargetProcess process;
    ProbeState state = ProbeState::kWaitingForLibjvm;
    std::chrono::steady_clock::time_point first_seen;
  };

  void try_attach(Process& entry);
  void retry_waiting();
  void give_up(Process& entry, const std::string& why);
  const std::string& target_name(const TargetProcess& process) const;

  const Config& config_;
  std::filesystem::path proc_root_;
  std::unique_ptr<JvmProbe> probe_;
  std::map<pid_t, Process> processes_;
  JvmDeltaTracker deltas_;
};

}  // namespace nodepulse
