#include "heartbeat/publisher.h"

namespace nodepulse {

HeartbeatPublisher::HeartbeatPublisher(NodeIdentity identity, uint64_t interval_ms,
                                       std::vector<std::unique_ptr<Sink>> sinks, const SinkObserver& observer,
                                       std::shared_ptr<const DrainStatusBoard> drain_board)
    : identity_(std::move(identity)), interval_ms_(interval_ms), drain_board_(std::move(drain_board)) {
  for (auto& sink : sinks) runners_.push_back(std::make_unique<SinkRunner>(std::move(sink), observer));
}

bool HeartbeatPublisher::consider(const Verdict& verdict, uint64_t now_mono_ms, uint64_t now_wall_ms) {
  const std::optional<Heartbeat> previous = latest();
  // The first heartbeat goes out at once but is no state change: an agent (re)start must not
  // page anyone.
  const bool first = !previous;
  const bool changed = previous && previous->verdict.state != verdict.state;
  std::optional<DrainStatus> drain = drain_board_ ? drain_board_->read() : std::nullopt;
  const bool drain_changed = previous && previous->drain != drain;
  if (!first && !changed && !drain_changed && now_mono_ms - last_sent_mono_ms_ < interval_ms_) return false;

  Heartbeat heartbeat;
  heartbeat.node = identity_;
  heartbeat.verdict = verdict;
  heartbeat.drain = std::move(drain);
  heartbeat.seq = ++seq_;
  heartbeat.ts_ms = now_wall_ms;
  heartbeat.state_changed = changed;
  heartbeat.previous_state = previous ? previous->verdict.state : HealthState::kUnknown;
  {
    std::lock_guard lock(latest_mutex_);
    latest_ = heartbeat;
  }
  for (auto& runner : runners_) runner->offer(heartbeat);
  last_sent_mono_ms_ = now_mono_ms;
  return true;
}

std::optional<Heartbeat> HeartbeatPublisher::latest() const {
  std::lock_guard lock(latest_mutex_);
  return latest_;
}

}  // namespace nodepulse
