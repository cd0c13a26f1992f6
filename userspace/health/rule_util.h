// Small helpers shared by the rules.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "health/verdict.h"

namespace nodepulse {

inline std::string format_ms(double ns) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.0f ms", ns / 1e6);
  return text;
}

// How far `value` is from `low` toward `high`, clamped to 0..1.
inline double fraction_between(double value, double low, double high) {
  if (high <= low) return 1;
  return std::clamp((value - low) / (high - low), 0.0, 1.0);
}

// Keeps the worse of two assessments (by state, then by degree).
inline void keep_worst(Assessment& worst, Assessment candidate) {
  const bool worse = severity_rank(candidate.state) > severity_rank(worst.state) ||
                     (candidate.state == worst.state && candidate.degree > worst.degree);
  if (worse) worst = std::move(candidate);
}

// Judges `value` against warn/fail thresholds: failing at or above fail, degraded at or above
// warn (degree = how far toward fail), else healthy.
inline Assessment judge(double value, double warn, double fail, bool hard, const std::string& reason) {
  if (value >= fail) return {HealthState::kFailing, 1, hard, reason};
  if (value >= warn) return {HealthState::kDegraded, fraction_between(value, warn, fail), false, reason};
  return {HealthState::kHealthy, 0, false, ""};
}

}  // namespace nodepulse
