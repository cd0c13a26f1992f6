// The agent's clocks: CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns() and of every time kept on
// the node, and the wall clock, for times that leave it (heartbeats, status).
#pragma once

#include <time.h>

#include <cstdint>

namespace nodepulse {

inline uint64_t clock_ns(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}
inline uint64_t monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }
inline uint64_t monotonic_ms() { return monotonic_ns() / 1'000'000; }
inline uint64_t wall_ms() { return clock_ns(CLOCK_REALTIME) / 1'000'000; }

}  // namespace nodepulse
