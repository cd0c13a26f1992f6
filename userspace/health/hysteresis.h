// Per-signal state with hysteresis: a worse state applies at once; a better state S only once
// every reading for `recover_after_ms` has been no worse than S. A flapping input therefore
// stays at its worst, and a recovering one steps down through what it really shows.
#pragma once

#include <array>
#include <cstdint>

#include "health/verdict.h"

namespace nodepulse {

class Hysteresis {
 public:
  explicit Hysteresis(uint64_t recover_after_ms) : recover_after_ms_(recover_after_ms) {}

  // Feeds one reading taken at `now_ms` (monotonic); returns the state to report.
  HealthState update(HealthState reading, uint64_t now_ms);

  HealthState state() const { return state_; }
  uint64_t since_ms() const { return since_ms_; }

 private:
  void enter(HealthState state, uint64_t now_ms);

  uint64_t recover_after_ms_;
  HealthState state_ = HealthState::kUnknown;
  uint64_t since_ms_ = 0;
  // For healthy and degraded: when a reading worse than that state was last seen.
  std::array<uint64_t, 2> last_worse_than_ms_{};
};

}  // namespace nodepulse
