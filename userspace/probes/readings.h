// What the probes read, as plain values. Everything downstream of userspace/probes uses these
// and never a BPF header or libbpf.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/histogram.h"

namespace nodepulse {

// Cumulative since the probe loaded; counters only grow.
struct RunqReading {
  Log2Histogram wait;
  uint64_t stalls = 0;
  uint64_t longest_wait_ns = 0;  // longest wait since the previous read (not cumulative)
};

struct SchedReading {
  RunqReading node;
  std::vector<RunqReading> targets;  // indexed like Config::targets
  uint64_t dropped_events = 0;       // ring buffer full: events lost
  uint64_t unmeasured_waits = 0;     // no task storage: waits not measured
};

// One process's threads at one moment (the task_state probe).
struct ThreadStates {
  uint32_t threads = 0;
  uint32_t stopped = 0;            // in a group stop (SIGSTOP) or stopped by a tracer
  uint32_t queued = 0;             // runnable, waiting for a CPU
  uint64_t longest_queued_ns = 0;  // the longest of those waits so far, still in progress
};

struct SchedEvent {
  enum class Kind { kStall, kExec, kExit };
  Kind kind = Kind::kStall;
  uint64_t ts_ns = 0;   // CLOCK_MONOTONIC
  uint64_t wait_ns = 0; // kStall only
  pid_t tgid = 0;
  pid_t pid = 0;
  int target_index = -1;  // into Config::targets; -1 when not a target
  std::string comm;
};

// A BPF program's cumulative run-time statistics (kernel.bpf_stats_enabled).
struct ProgramStats {
  std::string name;
  uint64_t run_time_ns = 0;
  uint64_t run_count = 0;
  // Runs the kernel skipped because another BPF program was running on that CPU (kprobes and
  // classic tracepoints share one guard per CPU): each is an event lost to the probe. Counted
  // whether or not BPF statistics are on.
  uint64_t missed_runs = 0;
};

}  // namespace nodepulse
