// The sched probe: owns bpf/sched.bpf.c (open → set rodata → load → attach → destroy).
// The only code that includes sched.skel.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "common/result.h"
#include "probes/kernel_features.h"
#include "probes/probe_paths.h"
#include "probes/readings.h"

struct sched_bpf;

namespace nodepulse {

class SchedProbe {
 public:
  // Where the time a task was queued comes from (see bpf/sched.bpf.c).
  enum class QueueTimestamps {
    kAuto,       // schedstat when the kernel has it, else wakeup
    kSchedstat,  // the kernel's task->sched_info.last_queued: only sched_switch is hooked
    kWakeup,     // our own stamp at sched_wakeup/_new and preemption, in task storage
  };

  struct Options {
    uint64_t stall_threshold_ns = 10'000'000;
    size_t target_count = 1;  // how many entries RunqReading::targets has
    QueueTimestamps queue_timestamps = QueueTimestamps::kAuto;
    PathRequest paths = {};  // probes.attach / probes.events
    // Perf buffer only: pages per CPU, a power of 2 (tests shrink it to make it overflow).
    size_t perf_pages_per_cpu = 16;
    // What to assume this kernel supports; nullopt = probe it. A subset of the real support
    // poses as an older kernel (tests run 5.4's choices here).
    std::optional<KernelSupport> kernel = std::nullopt;
  };

  // The attach path, event transport and queue-timestamp source `options` lead to on this
  // kernel, and why; an error when the options ask for what this kernel lacks.
  static Result<ProbePlan> plan(const Options& options);

  // Whether this kernel keeps schedstat queue timestamps we can read (CONFIG_SCHED_INFO and
  // cfs_rq->rq, i.e. CONFIG_FAIR_GROUP_SCHED).
  static bool kernel_has_schedstat_timestamps();
  // Called on the thread that calls consume_events(); may throw (caught and logged there).
  using EventHandler = std::function<void(const SchedEvent&)>;

  // The hooks and kernel features this probe needs on the path `options` lead to (for `check`).
  static ProbeRequirements requirements(const Options& options);

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

  // The path chosen at load: kSchedstat or kWakeup.
  QueueTimestamps queue_timestamps() const;
  AttachPath attach_path() const;
  EventTransport event_transport() const;
  const ProbePlan& paths() const;  // what plan() said at load

 private:
  struct Impl;
  explicit SchedProbe(std::unique_ptr<Impl> impl);
  // The kernel caches tgid -> slot per CPU; any change to the targets map must invalidate it.
  void invalidate_target_cache();
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodepulse
