// The JVM probe: owns bpf/jvm.bpf.c. Loads once; attaches HotSpot's USDT probes to each target
// JVM separately (uprobes are per process) and detaches them when it goes.
// The only code that includes jvm.skel.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "probes/jvm_readings.h"
#include "probes/kernel_features.h"
#include "probes/probe_paths.h"
#include "probes/readings.h"

namespace nodepulse {

class JvmProbe {
 public:
  struct Options {
    size_t target_count = 1;  // how many entries JvmReading::targets has
  };

  // What this probe needs from the kernel (for `check`); uprobe support is checked by
  // verify_load, as ProbeRequirements has no field for it.
  static ProbeRequirements requirements();

  // The paths this probe takes (for `check`): USDT (uprobes), no events (histograms in maps).
  static ProbePlan plan(const PathRequest& request);

  // Checks for uprobe support, then opens and loads (runs the verifier) and unloads.
  static Result<void> verify_load(const Options& options);

  // Loads the programs; nothing is attached until attach().
  static Result<std::unique_ptr<JvmProbe>> start(const Options& options);

  JvmProbe(const JvmProbe&) = delete;
  JvmProbe& operator=(const JvmProbe&) = delete;
  ~JvmProbe();  // detaches every process

  // Attaches hotspot:gc__begin/gc__end and hs_private:safepoint__begin/safepoint__end in
  // `libjvm_path` (a path this agent can open; see libjvm_attach_path) to process `tgid`.
  // All four or none: on error nothing stays attached. Attaching a process that is already
  // attached replaces its attachment.
  Result<void> attach(pid_t tgid, size_t target_index, const std::string& libjvm_path);

  // Detaches `tgid` and forgets its pause in progress; a no-op for an unknown tgid.
  void detach(pid_t tgid);

  bool attached(pid_t tgid) const;
  size_t attached_count() const;

  // Cumulative pause histograms, plus the pauses in progress right now.
  Result<JvmReading> read();

  // Only the pauses in progress (one map lookup per attached process): cheap enough for a
  // short timer.
  Result<std::vector<JvmPauseInProgress>> pauses_in_progress();

  std::vector<ProgramStats> program_stats() const;

  // The kernel ids of the four programs, so tools and tests can tell this probe's BPF links
  // (bpf_link_info::prog_id) from everybody else's.
  std::vector<uint32_t> program_ids() const;

 private:
  struct Impl;
  explicit JvmProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodepulse
