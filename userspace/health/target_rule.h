// Target liveness rule: a target process that was running and is gone, or was OOM-killed, is a
// hard failure.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "health/verdict.h"

namespace nodepulse {

struct TargetExit {
  size_t target_index = 0;
  pid_t pid = 0;
  bool oom_killed = false;
};

class TargetRule {
 public:
  explicit TargetRule(std::vector<std::string> target_names);

  // `live_processes[i]`: live processes of Config::targets[i] now; `exits`: target processes
  // that ended since the previous call. A target never seen running is not judged (unknown);
  // with no target ever seen the signal is unknown and the node is judged by its other signals.
  Assessment assess(const std::vector<size_t>& live_processes, const std::vector<TargetExit>& exits);

 private:
  std::vector<std::string> names_;
  std::vector<bool> ever_live_;
  std::vector<std::string> last_exit_;  // why each target last lost a process
};

}  // namespace nodepulse
