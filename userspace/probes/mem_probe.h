// The mem probe: owns bpf/mem.bpf.c (open → choose the OOM hook → load → attach → destroy).
// The only code that includes mem.skel.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "common/result.h"
#include "probes/kernel_features.h"
#include "probes/mem_readings.h"
#include "probes/probe_paths.h"
#include "probes/readings.h"

struct mem_bpf;

namespace nodepulse {

class MemProbe {
 public:
  // Which program watches oom:mark_victim.
  enum class OomHook {
    kAuto,        // kBtf where the kernel's tracepoint passes the victim's task_struct, else kTracepoint
    kBtf,         // tp_btf/mark_victim (raw_tp/mark_victim on the raw_tp path): pid, tgid, comm and
                  // cgroup ids of the victim
    kTracepoint,  // tracepoint/oom/mark_victim: the victim's pid only (any kernel; needs tracefs)
  };

  struct Options {
    size_t target_count = 1;  // how many entries MemReading::targets has
    OomHook oom_hook = OomHook::kAuto;
    PathRequest paths = {};  // probes.attach / probes.events
    // What to assume this kernel supports; nullopt = probe it. A subset of the real support
    // poses as an older kernel (tests run 5.4's choices here).
    std::optional<KernelSupport> kernel = std::nullopt;
  };

  // The attach path and event transport `options` lead to on this kernel, and why; an error
  // when the options ask for what this kernel lacks.
  static Result<ProbePlan> plan(const Options& options);
  // Called on the thread that calls consume_events(); may throw (caught and logged there).
  using EventHandler = std::function<void(const OomEvent&)>;

  // The hooks and kernel features this probe needs on the path `options` lead to (for `check`).
  static ProbeRequirements requirements(const Options& options);

  // Opens and loads (runs the verifier) without attaching, then unloads.
  static Result<void> verify_load(const Options& options);

  // Loads and attaches every program; on failure nothing stays loaded or attached.
  static Result<std::unique_ptr<MemProbe>> start(const Options& options, EventHandler handler);

  MemProbe(const MemProbe&) = delete;
  MemProbe& operator=(const MemProbe&) = delete;
  ~MemProbe();  // detaches every link

  Result<void> add_target(pid_t tgid, size_t target_index);
  Result<void> remove_target(pid_t tgid);

  // Cumulative reclaim stalls and OOM kills of the node and of each target.
  Result<MemReading> read();

  // The hook chosen at load (never kAuto).
  OomHook oom_hook() const;
  AttachPath attach_path() const;
  EventTransport event_transport() const;
  const ProbePlan& paths() const;  // what plan() said at load
  // False when this kernel has no memcg reclaim tracepoints (CONFIG_MEMCG=n): memcg stalls
  // are then not measured, rather than measured as zero.
  bool measures_memcg_reclaim() const;

  int event_fd() const;
  // Handles the ring-buffer records available now. Returns how many, or -errno.
  int consume_events();

  std::vector<ProgramStats> program_stats() const;

 private:
  struct Impl;
  explicit MemProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

const char* oom_hook_name(MemProbe::OomHook hook);

}  // namespace nodepulse
