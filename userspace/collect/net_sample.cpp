#include "collect/net_sample.h"

#include <algorithm>

namespace nodepulse {

std::optional<std::string> NetDeltaTracker::label_of(const NetPeerAddress& address) {
  if (auto found = labelled_.find(address); found != labelled_.end()) return labels_[found->second];
  if (labels_.size() >= options_.max_peers) return std::nullopt;
  labelled_.emplace(address, labels_.size());
  labels_.push_back(address.to_string());
  return labels_.back();
}

NetDelta NetDeltaTracker::next(const NetReading& cumulative, uint64_t now_ns) {
  // Index 0..labels_.size()-1 after the loop; the folded peers go to `other`.
  std::vector<NetPeerCounters> counters;
  std::vector<std::optional<uint32_t>> srtt;
  NetPeerCounters other_counters;
  std::optional<uint32_t> other_srtt;

  std::map<NetPeerAddress, NetPeerCounters> seen;
  // Sorted input, so peers first seen in the same reading are labelled in address order.
  for (const NetPeerReading& peer : cumulative.peers) {
    const auto before = previous_.find(peer.address);
    // Not in the previous reading: new to the table, so all of it happened since.
    const NetPeerCounters delta =
        before == previous_.end() ? peer.counters : peer.counters.since(before->second);
    seen[peer.address] = peer.counters;

    std::optional<uint32_t> fresh_srtt;
    // A sample taken after `now_ns` was read (the map is read later) is fresh too.
    if (peer.srtt_at_ns != 0 &&
        (now_ns <= peer.srtt_at_ns || now_ns - peer.srtt_at_ns <= options_.srtt_max_age_ns)) {
      fresh_srtt = peer.srtt_us;
    }

    const auto label = label_of(peer.address);
    if (!label) {
      folded_any_ = true;
      other_counters += delta;
      if (fresh_srtt) other_srtt = std::max(other_srtt.value_or(0), *fresh_srtt);
      continue;
    }
    const size_t index = labelled_.at(peer.address);
    if (counters.size() <= index) {
      counters.resize(index + 1);
      srtt.resize(index + 1);
    }
    counters[index] += delta;
    if (fresh_srtt) srtt[index] = fresh_srtt;
  }
  previous_ = std::move(seen);  // peers gone from the table are forgotten

  NetDelta out;
  counters.resize(labels_.size());
  srtt.resize(labels_.size());
  for (size_t i = 0; i < labels_.size(); ++i) out.peers.push_back({labels_[i], counters[i], srtt[i]});
  if (folded_any_) out.peers.push_back({kOtherPeer, other_counters, other_srtt});

  const NetReading* before = previous_node_ ? &*previous_node_ : nullptr;
  out.connect_latency = before ? cumulative.connect_latency.since(before->connect_latency) : cumulative.connect_latency;
  out.rcvqueue_full = counter_delta(cumulative.rcvqueue_full, before ? before->rcvqueue_full : 0);
  out.failed_updates = counter_delta(cumulative.failed_updates, before ? before->failed_updates : 0);
  NetReading node;
  node.connect_latency = cumulative.connect_latency;
  node.rcvqueue_full = cumulative.rcvqueue_full;
  node.failed_updates = cumulative.failed_updates;
  previous_node_ = std::move(node);
  return out;
}

}  // namespace nodepulse
