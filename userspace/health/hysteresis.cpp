#include "health/hysteresis.h"

namespace nodepulse {

void Hysteresis::enter(HealthState state, uint64_t now_ms) {
  if (state != state_) since_ms_ = now_ms;
  state_ = state;
}

HealthState Hysteresis::update(HealthState reading, uint64_t now_ms) {
  // Unknown says nothing about health: it is reported only when nothing is known, and a known
  // reading replaces it at once.
  if (reading == HealthState::kUnknown || state_ == HealthState::kUnknown) {
    enter(reading, now_ms);
    last_worse_than_ms_.fill(now_ms);
    return state_;
  }

  for (int better = 0; better < severity_rank(reading); ++better) {
    last_worse_than_ms_[static_cast<size_t>(better)] = now_ms;
  }
  if (severity_rank(reading) > severity_rank(state_)) {
    enter(reading, now_ms);
    return state_;
  }
  // The best state the readings have stayed within for long enough.
  for (int better = 0; better < severity_rank(state_); ++better) {
    if (now_ms - last_worse_than_ms_[static_cast<size_t>(better)] >= recover_after_ms_) {
      enter(static_cast<HealthState>(better), now_ms);
      break;
    }
  }
  return state_;
}

}  // namespace nodepulse
