#include "health/target_rule.h"

namespace nodepulse {

TargetRule::TargetRule(std::vector<std::string> target_names)
    : names_(std::move(target_names)), ever_live_(names_.size(), false), last_exit_(names_.size()) {}

Assessment TargetRule::assess(const std::vector<size_t>& live_processes, const std::vector<TargetExit>& exits) {
  Assessment oom{HealthState::kHealthy, 0, false, ""};
  for (const TargetExit& exit : exits) {
    if (exit.target_index >= names_.size()) continue;
    const std::string what = "target: " + names_[exit.target_index] + " process " + std::to_string(exit.pid);
    last_exit_[exit.target_index] = what + (exit.oom_killed ? " was OOM-killed" : " exited");
    // An OOM kill fails the node even if a supervisor restarted the JVM within the interval.
    if (exit.oom_killed) oom = {HealthState::kFailing, 1, true, last_exit_[exit.target_index]};
  }
  if (oom.state == HealthState::kFailing) return oom;

  bool any_known = false;
  for (size_t i = 0; i < names_.size() && i < live_processes.size(); ++i) {
    if (live_processes[i] > 0) {
      ever_live_[i] = true;
      any_known = true;
    } else if (ever_live_[i]) {
      const std::string& why = last_exit_[i].empty() ? "target: " + names_[i] + " is gone" : last_exit_[i];
      return {HealthState::kFailing, 1, true, why + "; no process left"};
    }
  }
  if (!any_known) return {HealthState::kUnknown, 0, false, "target: no target process found"};
  return {HealthState::kHealthy, 0, false, ""};
}

}  // namespace nodepulse
