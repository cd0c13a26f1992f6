// nodepulse_tcp_*: TCP health of the cluster's connections, per peer (bounded by
// network.max_peers; the rest is peer="other") and for the node as a whole (peer="node", from
// the start, so a dashboard has a line and rate() a zero before any peer is seen).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <string>

#include "collect/net_sample.h"

namespace nodepulse {

class NetMetrics {
 public:
  explicit NetMetrics(prometheus::Registry& registry);
  void record(const NetDelta& net);

 private:
  // A peer's series, made on first sight with every label value, so rate() has a zero to start from.
  struct Peer {
    prometheus::Counter* retransmits;
    prometheus::Counter* syn_retransmits;
    prometheus::Counter* resets_sent;
    prometheus::Counter* resets_received;
    std::array<prometheus::Counter*, 4> connects;  // ok, refused, timeout, other
    prometheus::Counter* accepts;
    std::array<prometheus::Counter*, 4> errors;    // refused, timeout, reset, other
    prometheus::Gauge* srtt = nullptr;             // only while a recent sample exists
  };
  Peer make_peer(const std::string& label);
  Peer& peer(const std::string& label);
  static void count(Peer& peer, const NetPeerCounters& counters);

  prometheus::Family<prometheus::Counter>& retransmits_;
  prometheus::Family<prometheus::Counter>& syn_retransmits_;
  prometheus::Family<prometheus::Counter>& resets_;
  prometheus::Family<prometheus::Counter>& connects_;
  prometheus::Family<prometheus::Counter>& accepts_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Gauge>& srtt_;
  prometheus::Histogram* connect_latency_;
  prometheus::Counter* rcvqueue_full_;
  Peer node_;  // every peer's counters summed; no srtt (a node has no round-trip time)
  std::map<std::string, Peer> peers_;
};

}  // namespace nodepulse
