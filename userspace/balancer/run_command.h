// Runs a program (no shell) and collects its exit status and output, bounded in time and size:
// `nginx -t` before every reload.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"

namespace nodepulse {

struct CommandOutcome {
  int exit_code = -1;   // -1 when killed by a signal or at the timeout
  bool timed_out = false;
  std::string output;   // stdout and stderr together, at most 64 KiB
};

// argv[0] is searched on PATH. The child is SIGKILLed at the timeout. An error means it could not
// be started at all.
Result<CommandOutcome> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace nodepulse
