// Memory rule: PSI memory pressure of the node and of the targets' cgroups, and the OOM killer
// at work on the node. (A target's own OOM kill is the target rule's: a hard failure.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collect/sample.h"
#include "health/verdict.h"

namespace nodepulse {

struct MemoryThresholds {
  double some_avg10_warn = 20;  // % of time some task stalled on memory (10 s average): degraded
  double full_avg10_warn = 5;   // % of time every task stalled on memory: degraded
  double full_avg10_fail = 20;  // ... failing at once (hard)
};

class MemoryRule {
 public:
  explicit MemoryRule(MemoryThresholds thresholds) : thresholds_(thresholds) {}
  Assessment assess(const Sample& sample, const std::vector<std::string>& target_names) const;

 private:
  Assessment judge_psi(const PsiResourceDelta& memory, const std::string& scope) const;
  MemoryThresholds thresholds_;
};

}  // namespace nodepulse
