// The net part of a Sample: per-peer TCP counters as deltas under bounded peer labels, the
// connect latency histogram, and each labelled peer's latest smoothed RTT.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/histogram.h"
#include "probes/net_readings.h"

namespace nodepulse {

// The label of every peer beyond network.max_peers.
inline constexpr const char* kOtherPeer = "other";

struct NetPeerDelta {
  std::string peer;          // the address ("10.0.0.7", "fd00::7"), or kOtherPeer
  NetPeerCounters counters;  // events in this interval
  // Latest smoothed RTT sample, if one is recent enough to describe the peer now; for
  // kOtherPeer the largest among the folded peers.
  std::optional<uint32_t> srtt_us;
};

struct NetDelta {
  // Every label handed out so far, in the order handed out, then kOtherPeer once any peer has
  // been folded into it; entries may have zero counters.
  std::vector<NetPeerDelta> peers;
  Log2Histogram connect_latency;
  uint64_t rcvqueue_full = 0;
  uint64_t failed_updates = 0;
};

// Turns successive cumulative readings into deltas and labels peers: the first `max_peers`
// peers ever seen keep their address as label for the tracker's life; every later one is summed
// into kOtherPeer. The assignment never changes, so no exported counter ever goes down; a peer
// that left the kernel's table and came back starts again from zero, which the delta absorbs.
class NetDeltaTracker {
 public:
  struct Options {
    uint32_t max_peers = 64;
    uint64_t srtt_max_age_ns = 60'000'000'000;  // older samples are not reported
  };

  explicit NetDeltaTracker(Options options) : options_(options) {}

  // `now_ns` is CLOCK_MONOTONIC, the clock of the kernel's srtt timestamps.
  NetDelta next(const NetReading& cumulative, uint64_t now_ns);

 private:
  std::optional<std::string> label_of(const NetPeerAddress& address);

  Options options_;
  std::map<NetPeerAddress, NetPeerCounters> previous_;  // last cumulative counters per peer
  std::map<NetPeerAddress, size_t> labelled_;           // peer -> index into labels_
  std::vector<std::string> labels_;
  bool folded_any_ = false;
  std::optional<NetReading> previous_node_;  // for the node-wide counters (peers are not kept here)
};

}  // namespace nodepulse
