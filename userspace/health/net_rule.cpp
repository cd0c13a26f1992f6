#include "health/net_rule.h"

#include "health/rule_util.h"

namespace nodepulse {

Assessment NetRule::assess(const Sample& sample) {
  if (!sample.net) return {HealthState::kUnknown, 0, false, "net: probe not reporting"};
  window_.emplace_back(sample.mono_ns, *sample.net);
  while (!window_.empty() && sample.mono_ns - window_.front().first > thresholds_.window_ms * 1'000'000) {
    window_.pop_front();
  }

  std::map<std::string, NetPeerCounters> totals;
  for (const auto& [_, delta] : window_) {
    for (const NetPeerDelta& peer : delta.peers) totals[peer.peer] += peer.counters;
  }
  size_t active = 0;
  std::vector<std::string> troubled;
  for (const auto& [peer, c] : totals) {
    const uint64_t failed = c.connects_refused + c.connects_timeout + c.connects_other;
    const uint64_t attempts = failed + c.connects_ok;
    const uint64_t traffic = attempts + c.accepts + c.retransmits + c.resets_sent + c.resets_received;
    if (traffic == 0) continue;
    ++active;
    const bool failing_connects =
        failed > 0 && static_cast<double>(failed) >= thresholds_.connect_failure_share * static_cast<double>(attempts);
    if (failing_connects || c.retransmits >= thresholds_.retransmits) troubled.push_back(peer);
  }
  if (troubled.empty()) return {HealthState::kHealthy, 0, false, ""};

  std::string names;
  for (size_t i = 0; i < troubled.size() && i < 3; ++i) names += (i ? ", " : "") + troubled[i];
  if (troubled.size() > 3) names += ", ...";
  const double share = static_cast<double>(troubled.size()) / static_cast<double>(active);
  const std::string reason = "net: connect failures or retransmits toward " + std::to_string(troubled.size()) + " of " +
                             std::to_string(active) + " cluster peers (" + names + ")";
  // One troubled peer of one says little about this node; most of several says a lot.
  if (active >= 2 && share > thresholds_.troubled_peers_fail) return {HealthState::kFailing, 1, true, reason};
  return {HealthState::kDegraded, share, false, reason};
}

}  // namespace nodepulse
