// The health keys and their defaults (read, checked and rendered in health_config.cpp).
#pragma once

#include <cstdint>

namespace nodepulse {

// Verdict rules (userspace/health). A worse state applies at once; a better one only after
// recover_after_ms of readings no worse than it.
struct HealthConfig {
  uint32_t recover_after_ms = 10'000;
  uint32_t window_ms = 10'000;           // sliding window of the windowed rules (p99)
  uint32_t runq_p99_warn_ms = 20;        // a live target's p99 run-queue wait: degraded at or above
  uint32_t runq_p99_fail_ms = 200;       // ... failing at or above
  uint32_t runq_stall_fail_ms = 1'000;   // one wait this long, ended or still going, fails the node at once
  uint32_t stopped_fail_ms = 300;        // a target stopped this long (SIGSTOP, a debugger) fails it at once
  uint32_t jvm_pause_warn_ms = 200;      // a JVM pause under way this long: degraded
  uint32_t jvm_pause_fail_ms = 1'000;    // ... failing at once, before the pause ends
};

}  // namespace nodepulse
