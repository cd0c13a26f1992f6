// Turns verdicts into heartbeats and hands them to every sink: at once when the node's state
// changes, else every heartbeat.interval_ms. Keeps the latest heartbeat for /health.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "heartbeat/drain_board.h"
#include "heartbeat/heartbeat.h"
#include "sink_runner.h"

namespace nodepulse {

class HeartbeatPublisher {
 public:
  // `drain_board`: the trino sink's drain status, carried in every heartbeat (a change of it goes
  // out at once, like a change of state); nullptr when that sink is off.
  HeartbeatPublisher(NodeIdentity identity, uint64_t interval_ms, std::vector<std::unique_ptr<Sink>> sinks,
                     const SinkObserver& observer, std::shared_ptr<const DrainStatusBoard> drain_board = nullptr);

  // Called after every evaluation, with a monotonic clock and the wall clock. Returns whether a
  // heartbeat went out.
  bool consider(const Verdict& verdict, uint64_t now_mono_ms, uint64_t now_wall_ms);

  // The latest heartbeat (thread-safe copy); nullopt before the first.
  std::optional<Heartbeat> latest() const;

 private:
  NodeIdentity identity_;
  uint64_t interval_ms_;
  std::shared_ptr<const DrainStatusBoard> drain_board_;
  std::vector<std::unique_ptr<SinkRunner>> runners_;
  uint64_t seq_ = 0;
  uint64_t last_sent_mono_ms_ = 0;
  mutable std::mutex latest_mutex_;
  std::optional<Heartbeat> latest_;
};

}  // namespace nodepulse
