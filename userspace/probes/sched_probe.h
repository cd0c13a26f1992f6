// The sched probe: owns bpf/sched.bpf.c (open → set rodata → load → attach → destroy).
// The only code that includes sched.skel.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/result.h"
#include "probes/kernel_features.h"
#include "probes/readings.h"

struct sched_bpf;

namespace nodepulse {

class SchedProbe {
 public:
  struct Options {
    uint64_t stall_threshold_ns = 10'000'000;
    size_t target_count = 1;  // how many entries RunqReading::targets has
  };
  // Called on the thread that calls consume_events(); may throw (caught and logged there).
  using EventHandler = std::function<void(const SchedEvent&)>;

  // The hooks and kernel features this probe needs (for `check`).
  static ProbeRequirements requirements();

  // Opens and loads (runs the verifier) without attaching, then unloads.
  static Result<void> verify_load(const Options& options);

  // Loads and attaches every program; on failure nothing stays loaded or attached.
  static Result<std::unique_ptr<SchedProbe>> start(const Options& options, EventHandler handler);

  SchedProbe(const SchedProbe&) = delete;
  SchedProbe& operator=(const SchedProbe&) = delete;
  ~SchedProbe();  // detaches every link

  Result<void> add_target(pid_t tgid, size_t target_index);
  Result<void> remove_target(pid_t tgid);

  // Cumulative counters, plus the longest wait since the previous read().
  Result<SchedReading> read();

  int event_fd() const;
  // Handles the ring-buffer records available now. Returns how many, or -errno.
  int consume_events();

  std::vector<ProgramStats> program_stats() const;

 private:
  struct Impl;
  explicit SchedProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodepulse
