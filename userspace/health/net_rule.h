// Network rule: connect failures and retransmits toward the cluster's peers over a window.
// Trouble toward one peer may be that peer's; trouble toward most peers is this node's.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "collect/sample.h"
#include "health/verdict.h"

namespace nodepulse {

struct NetThresholds {
  uint64_t window_ms = 10'000;
  double connect_failure_share = 0.5;  // a peer is troubled when this share of connects failed...
  uint64_t retransmits = 50;           // ...or this many retransmits went to it in the window
  double troubled_peers_fail = 0.5;    // more than this share of active peers troubled: failing
};

class NetRule {
 public:
  explicit NetRule(NetThresholds thresholds) : thresholds_(thresholds) {}
  Assessment assess(const Sample& sample);

 private:
  NetThresholds thresholds_;
  std::deque<std::pair<uint64_t, NetDelta>> window_;
};

}  // namespace nodepulse
