// nodepulse_tcp_* as Prometheus text, fed from hand-made NetDeltas.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <string>

#include "metrics/net_metrics.h"

namespace nodepulse {
namespace {

std::string scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(NetMetrics, CountsPerPeerWithEveryLabelValueFromTheStart) {
  prometheus::Registry registry;
  NetMetrics metrics(registry);
  NetDelta delta;
  NetPeerDelta peer{.peer = "10.200.0.2", .counters = {}, .srtt_us = 1500};
  peer.counters.retransmits = 7;
  peer.counters.resets_received = 1;
  peer.counters.connects_refused = 1;
  delta.peers.push_back(peer);
  delta.connect_latency.slots[15] = 1;  // 32-64 µs
  delta.connect_latency.count = 1;
  delta.connect_latency.sum_ns = 40000;
  delta.rcvqueue_full = 2;
  metrics.record(delta);
  metrics.record(delta);

  const std::string text = scrape(registry);
  EXPECT_TRUE(has_line(text, "nodepulse_tcp_retransmits_total{peer=\"10.200.0.2\"} 14")) << text;
  EXPECT_TRUE(has_line(text, "nodepulse_tcp_syn_retransmits_total{peer=\"10.200.0.2\"} 0")) << text;
  EXPECT_TRUE(has_line(text, "nodepulse_tcp_resets_total{direction=\"received\",peer=\"10.200.0.2\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "nodepulse_tcp_resets_total{direction=\"sent\",peer=\"10.200.0.2\"} 0")) << text;
  EXPECT_TRUE(has_line(text, "nodepulse_tcp_connects_total{peer=\"10.200.0.2\",result=\"refused\"} 2")) << text;
  for (const char* result : {"ok", "timeout", "other"}) {
    EXPECT_TRUE(has_line(text, std::string("nodepulse_tcp_connects_total{peer=\"10.200.0.2\",result=\"") + result +
                                   "\"} 0"))
        << result;
  }
  EXPECT_TRUE(has_line(text, "nodepulse_tcp_srtt_seconds{peer=\"10.200.0.2\"} 0.0015")) << text;
  EXPECT_TRUE(has_line(text, "nodepulse_tcp_connect_latency_seconds_count 2")) << text;
  EXPECT_TRUE(has_line(text, "nodepulse_tcp_connect_latency_seconds_bucket{le=\"6.5536e-05\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "nodepulse_tcp_rcvqueue_full_total 4")) << text;
}

// peer="node" is there before any peer, every label value at 0, and then sums every peer
// (including peer="other"); it has no RTT.
TEST(NetMetrics, NodeTotalsFromTheStartSumEveryPeer) {
  prometheus::Registry registry;
  NetMetrics metrics(registry);
  const std::string before = scrape(registry);
  for (const char* line : {"nodepulse_tcp_retransmits_total{peer=\"node\"} 0",
                           "nodepulse_tcp_syn_retransmits_total{peer=\"node\"} 0",
                           "nodepulse_tcp_resets_total{direction=\"sent\",peer=\"node\"} 0",
                           "nodepulse_tcp_resets_total{direction=\"received\",peer=\"node\"} 0",
                           "nodepulse_tcp_connects_total{peer=\"node\",result=\"ok\"} 0",
                           "nodepulse_tcp_connects_total{peer=\"node\",result=\"refused\"} 0",
                           "nodepulse_tcp_connects_total{peer=\"node\",result=\"timeout\"} 0",
                           "nodepulse_tcp_connects_total{peer=\"node\",result=\"other\"} 0",
                           "nodepulse_tcp_accepts_total{peer=\"node\"} 0",
                           "nodepulse_tcp_errors_total{error=\"refused\",peer=\"node\"} 0",
                           "nodepulse_tcp_errors_total{error=\"timeout\",peer=\"node\"} 0",
                           "nodepulse_tcp_errors_total{error=\"reset\",peer=\"node\"} 0",
                           "nodepulse_tcp_errors_total{error=\"other\",peer=\"node\"} 0"}) {
    EXPECT_TRUE(has_line(before, line)) << line << "\n" << before;
  }

  NetDelta delta;
  NetPeerDelta first{.peer = "10.200.0.2", .counters = {}, .srtt_us = 1500};
  first.counters.retransmits = 3;
  first.counters.connects_ok = 2;
  first.counters.errors_timeout = 1;
  NetPeerDelta folded{.peer = "other", .counters = {}, .srtt_us = std::nullopt};
  folded.counters.retransmits = 4;
  folded.counters.accepts = 5;
  folded.counters.resets_sent = 6;
  delta.peers = {first, folded};
  metrics.record(delta);

  const std::string after = scrape(registry);
  EXPECT_TRUE(has_line(after, "nodepulse_tcp_retransmits_total{peer=\"node\"} 7")) << after;
  EXPECT_TRUE(has_line(after, "nodepulse_tcp_connects_total{peer=\"node\",result=\"ok\"} 2")) << after;
  EXPECT_TRUE(has_line(after, "nodepulse_tcp_errors_total{error=\"timeout\",peer=\"node\"} 1")) << after;
  EXPECT_TRUE(has_line(after, "nodepulse_tcp_accepts_total{peer=\"node\"} 5")) << after;
  EXPECT_TRUE(has_line(after, "nodepulse_tcp_resets_total{direction=\"sent\",peer=\"node\"} 6")) << after;
  EXPECT_TRUE(has_line(after, "nodepulse_tcp_retransmits_total{peer=\"10.200.0.2\"} 3")) << after;
  EXPECT_EQ(after.find("nodepulse_tcp_srtt_seconds{peer=\"node\"}"), std::string::npos) << after;
}

TEST(NetMetrics, StaleSrttSeriesDisappearsAndComesBack) {
  prometheus::Registry registry;
  NetMetrics metrics(registry);
  NetDelta delta;
  delta.peers.push_back({.peer = "other", .counters = {}, .srtt_us = 250});
  metrics.record(delta);
  EXPECT_TRUE(has_line(scrape(registry), "nodepulse_tcp_srtt_seconds{peer=\"other\"} 0.00025"));

  delta.peers[0].srtt_us = std::nullopt;
  metrics.record(delta);
  EXPECT_EQ(scrape(registry).find("nodepulse_tcp_srtt_seconds{"), std::string::npos);

  delta.peers[0].srtt_us = 500;
  metrics.record(delta);
  EXPECT_TRUE(has_line(scrape(registry), "nodepulse_tcp_srtt_seconds{peer=\"other\"} 0.0005"));
}

}  // namespace
}  // namespace nodepulse
