#include "metrics/net_metrics.h"

#include "metrics/log2_buckets.h"

namespace nodepulse {

NetMetrics::NetMetrics(prometheus::Registry& registry)
    : retransmits_(prometheus::BuildCounter()
                       .Name("nodepulse_tcp_retransmits_total")
                       .Help("TCP segments retransmitted to the peer on cluster connections (the unit of "
                             "TcpRetransSegs); SYN retransmissions are in nodepulse_tcp_syn_retransmits_total; "
                             "peer=\"node\": every peer")
                       .Register(registry)),
      syn_retransmits_(prometheus::BuildCounter()
                           .Name("nodepulse_tcp_syn_retransmits_total")
                           .Help("SYNs retransmitted while connecting to the peer: it is slow to answer or "
                                 "unreachable; peer=\"node\": every peer")
                           .Register(registry)),
      resets_(prometheus::BuildCounter()
                  .Name("nodepulse_tcp_resets_total")
                  .Help("TCP resets on cluster connections, sent to or received from the peer; "
                        "peer=\"node\": every peer")
                  .Register(registry)),
      connects_(prometheus::BuildCounter()
                    .Name("nodepulse_tcp_connects_total")
                    .Help("Connections this node opened to the peer on cluster ports, by result; "
                          "peer=\"node\": every peer")
                    .Register(registry)),
      accepts_(prometheus::BuildCounter()
                   .Name("nodepulse_tcp_accepts_total")
                   .Help("Connections the peer opened to this node on cluster ports (handshake completed); "
                         "peer=\"node\": every peer")
                   .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name("nodepulse_tcp_errors_total")
                  .Help("Errors the kernel reported to the owner of a cluster socket, by kind; timeout on an "
                        "established connection means the peer went silent; peer=\"node\": every peer")
                  .Register(registry)),
      srtt_(prometheus::BuildGauge()
                .Name("nodepulse_tcp_srtt_seconds")
                .Help("Latest smoothed round-trip time of a cluster connection to the peer (sampled at most every "
                      "100 ms per connection; absent after a minute without a sample); for peer=\"other\" the "
                      "largest")
                .Register(registry)),
      connect_latency_(&prometheus::BuildHistogram()
                            .Name("nodepulse_tcp_connect_latency_seconds")
                            .Help("Time from SYN sent to connection established, for connections to cluster ports")
                            .Register(registry)
                            .Add({}, log2_bucket_bounds_seconds())),
      rcvqueue_full_(&prometheus::BuildCounter()
                          .Name("nodepulse_tcp_rcvqueue_full_total")
                          .Help("Packets a cluster socket dropped because its receive queue or buffer was full")
                          .Register(registry)
                          .Add({})),
      node_(make_peer("node")) {}

NetMetrics::Peer NetMetrics::make_peer(const std::string& label) {
  Peer p;
  p.retransmits = &retransmits_.Add({{"peer", label}});
  p.syn_retransmits = &syn_retransmits_.Add({{"peer", label}});
  p.resets_sent = &resets_.Add({{"peer", label}, {"direction", "sent"}});
  p.resets_received = &resets_.Add({{"peer", label}, {"direction", "received"}});
  const char* results[] = {"ok", "refused", "timeout", "other"};
  for (size_t i = 0; i < p.connects.size(); ++i) p.connects[i] = &connects_.Add({{"peer", label}, {"result", results[i]}});
  p.accepts = &accepts_.Add({{"peer", label}});
  const char* kinds[] = {"refused", "timeout", "reset", "other"};
  for (size_t i = 0; i < p.errors.size(); ++i) p.errors[i] = &errors_.Add({{"peer", label}, {"error", kinds[i]}});
  return p;
}

NetMetrics::Peer& NetMetrics::peer(const std::string& label) {
  if (auto found = peers_.find(label); found != peers_.end()) return found->second;
  return peers_.emplace(label, make_peer(label)).first->second;
}

void NetMetrics::count(Peer& p, const NetPeerCounters& c) {
  auto add = [](prometheus::Counter* counter, uint64_t n) {
    if (n) counter->Increment(static_cast<double>(n));
  };
  add(p.retransmits, c.retransmits);
  add(p.syn_retransmits, c.syn_retransmits);
  add(p.resets_sent, c.resets_sent);
  add(p.resets_received, c.resets_received);
  add(p.connects[0], c.connects_ok);
  add(p.connects[1], c.connects_refused);
  add(p.connects[2], c.connects_timeout);
  add(p.connects[3], c.connects_other);
  add(p.accepts, c.accepts);
  add(p.errors[0], c.errors_refused);
  add(p.errors[1], c.errors_timeout);
  add(p.errors[2], c.errors_reset);
  add(p.errors[3], c.errors_other);
}

void NetMetrics::record(const NetDelta& net) {
  for (const NetPeerDelta& delta : net.peers) {
    Peer& p = peer(delta.peer);
    count(p, delta.counters);
    count(node_, delta.counters);
    if (delta.srtt_us) {
      if (!p.srtt) p.srtt = &srtt_.Add({{"peer", delta.peer}});
      p.srtt->Set(static_cast<double>(*delta.srtt_us) / 1e6);
    } else if (p.srtt) {
      // A stale RTT would describe a connection that is gone: drop the series until a new sample.
      srtt_.Remove(p.srtt);
      p.srtt = nullptr;
    }
  }
  observe_log2(*connect_latency_, net.connect_latency);
  if (net.rcvqueue_full) rcvqueue_full_->Increment(static_cast<double>(net.rcvqueue_full));
}

}  // namespace nodepulse
