// What the health engine decides: a state per signal and for the node, with reasons.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nodepulse {

// Ordered by how bad: the node's state is the worst of its signals' known states.
enum class HealthState : uint8_t { kHealthy = 0, kDegraded = 1, kFailing = 2, kUnknown = 3 };

std::string_view to_string(HealthState state);

// How bad a known state is; unknown ranks below healthy so it never masks a real problem.
constexpr int severity_rank(HealthState state) {
  switch (state) {
    case HealthState::kUnknown: return -1;
    case HealthState::kHealthy: return 0;
    case HealthState::kDegraded: return 1;
    case HealthState::kFailing: return 2;
  }
  return -1;
}

// One rule's reading of one sample: its state right now, how far into that state (0..1, used
// for the weight), and why.
struct Assessment {
  HealthState state = HealthState::kUnknown;
  double degree = 0;    // 0 = barely, 1 = fully (e.g. how far between the warn and fail thresholds)
  bool hard = false;    // a hard failure: no dwell, no averaging (target gone, OOM kill, long pause)
  std::string reason;   // empty when healthy
};

struct SignalVerdict {
  std::string signal;  // "runq", "target", "net", "memory", "jvm"
  HealthState state = HealthState::kUnknown;
  std::string reason;
  uint64_t since_ms = 0;  // when this state began
};

struct Verdict {
  HealthState state = HealthState::kUnknown;
  uint8_t weight = 0;  // 0-100: 100 healthy, lower with the degree of trouble, 0 failing/unknown
  std::vector<std::string> reasons;
  std::vector<SignalVerdict> signals;
  uint64_t since_ms = 0;  // when the node entered `state`
};

}  // namespace nodepulse
