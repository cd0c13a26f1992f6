#include "health/memory_rule.h"

#include <cstdio>

#include "health/rule_util.h"

namespace nodepulse {
namespace {

std::string percent(double value) {
  char text[16];
  std::snprintf(text, sizeof(text), "%.1f%%", value);
  return text;
}

}  // namespace

Assessment MemoryRule::judge_psi(const PsiResourceDelta& memory, const std::string& scope) const {
  Assessment worst{HealthState::kHealthy, 0, false, ""};
  if (memory.full) {
    const double full = memory.full->avg10;
    keep_worst(worst, judge(full, thresholds_.full_avg10_warn, thresholds_.full_avg10_fail, /*hard=*/true,
                            "memory: " + scope + " fully stalled " + percent(full) + " of the last 10 s (PSI full)"));
  }
  if (memory.some) {
    const double some = memory.some->avg10;
    if (some >= thresholds_.some_avg10_warn) {
      keep_worst(worst, {HealthState::kDegraded, fraction_between(some, thresholds_.some_avg10_warn, 100), false,
                         "memory: " + scope + " tasks stalled " + percent(some) + " of the last 10 s (PSI some)"});
    }
  }
  return worst;
}

Assessment MemoryRule::assess(const Sample& sample, const std::vector<std::string>& target_names) const {
  if (!sample.mem || (!sample.mem->psi && !sample.mem->reclaim)) {
    return {HealthState::kUnknown, 0, false, "memory: neither PSI nor the mem probe is reporting"};
  }
  const MemDelta& mem = *sample.mem;
  Assessment worst{HealthState::kHealthy, 0, false, ""};
  if (mem.psi) {
    if (mem.psi->memory) keep_worst(worst, judge_psi(*mem.psi->memory, "node"));
    for (size_t i = 0; i < mem.psi->target_memory.size() && i < target_names.size(); ++i) {
      if (mem.psi->target_memory[i]) keep_worst(worst, judge_psi(*mem.psi->target_memory[i], target_names[i]));
    }
  }
  for (const OomKill& kill : mem.oom_kills) {
    if (kill.target_index >= 0) continue;  // the target rule's
    keep_worst(worst, {HealthState::kDegraded, 0.5, false,
                       "memory: the OOM killer killed process " + std::to_string(kill.tgid) + " (" + kill.comm + ")"});
  }
  return worst;
}

}  // namespace nodepulse
