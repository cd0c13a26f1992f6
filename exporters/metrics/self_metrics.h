// The agent's own cost: CPU time and run count of each BPF program (from the kernel's BPF
// run-time statistics, when metrics.bpf_stats is on, and whether they are) and the agent
// process's CPU time, memory, open fds and threads. All names start with nodepulse_
// (docs/metrics.md).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "probes/readings.h"

namespace nodepulse {

// What /proc says about one process.
struct ProcessUsage {
  double cpu_seconds = 0;  // user + system, every thread, in clock-tick resolution
  uint64_t resident_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t threads = 0;
};

// Reads `process_dir` (normally /proc/self): stat for CPU time and threads, statm for the
// resident set, fd/ for open descriptors.
Result<ProcessUsage> read_process_usage(const std::filesystem::path& process_dir);

class SelfMetrics {
 public:
  // process_dir: normally /proc/self (tests point it at a fixture).
  explicit SelfMetrics(prometheus::Registry& registry, std::filesystem::path process_dir = "/proc/self");

  // Whether the kernel's BPF run-time statistics are on (nodepulse_bpf_stats_enabled); only
  // then does record_programs export run time and count (off, every figure would be a false 0).
  void set_bpf_stats_enabled(bool on);

  // Adds what each program of `probe` ran and missed since the previous call. The kernel's
  // figures are cumulative; a program seen for the first time contributes everything so far,
  // and one whose figures went down (reloaded) restarts from its new value.
  void record_programs(const std::string& probe, const std::vector<ProgramStats>& programs);

  // Reads the process's usage now; a failed read leaves the previous values.
  void record_process();

 private:
  struct ProgramSeries {
    prometheus::Counter* seconds = nullptr;  // only while statistics are on
    prometheus::Counter* runs = nullptr;     // only while statistics are on
    prometheus::Counter* missed = nullptr;
    ProgramStats last;
  };

  std::filesystem::path process_dir_;
  prometheus::Gauge& stats_enabled_;
  bool bpf_stats_enabled_ = false;
  prometheus::Family<prometheus::Counter>& run_seconds_;
  prometheus::Family<prometheus::Counter>& run_count_;
  prometheus::Family<prometheus::Counter>& missed_runs_;
  prometheus::Counter& cpu_seconds_;
  prometheus::Gauge& resident_bytes_;
  prometheus::Gauge& open_fds_;
  prometheus::Gauge& threads_;
  double last_cpu_seconds_ = 0;
  std::map<std::pair<std::string, std::string>, ProgramSeries> programs_;  // (probe, program)
};

}  // namespace nodepulse
