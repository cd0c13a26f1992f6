// The task-state probe: owns bpf/task_state.bpf.c, a task iterator walked on demand over one
// process's threads. The only code that includes task_state.skel.h.
#pragma once

#include <sys/types.h>

#include <memory>
#include <vector>

#include "common/result.h"
#include "probes/probe_paths.h"
#include "probes/readings.h"

struct task_state_bpf;

namespace nodepulse {

class TaskStateProbe {
 public:
  struct Options {
    // Walk every task and let the program filter, as kernels before 6.1 must (they take no
    // process filter on the link); tests pose as such a kernel with it.
    bool walk_every_task = false;
  };

  // Loads the iterator program; an error on kernels without task iterators (before 5.8).
  static Result<std::unique_ptr<TaskStateProbe>> start(Options options);

  // For `check`: how it attaches, and a trial load (the verifier) that unloads again.
  static ProbePlan plan();
  static Result<void> verify_load();

  TaskStateProbe(const TaskStateProbe&) = delete;
  TaskStateProbe& operator=(const TaskStateProbe&) = delete;
  ~TaskStateProbe();

  // `tgid`'s threads at this moment; a process that is gone has none. Not thread-safe: one
  // walk at a time.
  Result<ThreadStates> read(pid_t tgid);

  std::vector<ProgramStats> program_stats() const;

 private:
  struct Impl;
  explicit TaskStateProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodepulse
