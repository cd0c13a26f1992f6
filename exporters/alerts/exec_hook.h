// An alert hook that runs a command on each state change (config alerts.exec[i]):
// `/bin/sh -c COMMAND` with the agent's environment plus hook_environment() (alert_payloads.h),
// stdin, stdout and stderr on /dev/null (hooks log for themselves: their output could hold
// secrets the agent must not log), in a process group of its own that is SIGKILLed whole at
// the timeout. One sink per hook, on its own SinkRunner thread: a run in progress blocks only
// this hook, so at most one run per hook happens at a time, and the changes that arrive
// meanwhile collapse into one run afterwards (latest wins, carrying the first pending old state).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"
#include "sink.h"

namespace nodepulse {

struct ExecHookOptions {
  std::string command;                      // given to /bin/sh -c; never logged (may hold secrets)
  std::chrono::milliseconds timeout{5000};  // then the hook's process group is killed
  std::string label;                        // "alerts.exec[0]": how logs and errors name the hook
};

// How a run ended.
struct HookOutcome {
  enum class Kind { kExited, kSignaled, kTimedOut } kind = Kind::kExited;
  int code = 0;  // exit status or signal number
  std::chrono::milliseconds took{0};
};

// Runs `command` under /bin/sh -c with `extra_environment` added ("NAME=VALUE"; these replace
// variables of the same name), waiting at most `timeout`. An error means it could not be started.
Result<HookOutcome> run_hook_command(const std::string& command, const std::vector<std::string>& extra_environment,
                                     std::chrono::milliseconds timeout);

class ExecHookSink final : public Sink {
 public:
  explicit ExecHookSink(ExecHookOptions options);
  const char* name() const override { return "alert_exec"; }
  // Runs the hook when heartbeat.state_changed; otherwise returns at once.
  Result<void> publish(const Heartbeat& heartbeat) override;

 private:
  ExecHookOptions options_;
};

}  // namespace nodepulse
