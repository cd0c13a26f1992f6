// Per-peer deltas and bounded peer labels: pure, driven by hand-made cumulative readings.
#include <gtest/gtest.h>

#include <algorithm>

#include "collect/net_sample.h"

namespace nodepulse {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

NetPeerAddress v4(uint8_t last) { return NetPeerAddress::inet4({10, 0, 0, last}); }

NetPeerReading peer(uint8_t last, uint64_t retransmits, uint64_t connects_ok = 0) {
  NetPeerReading p;
  p.address = v4(last);
  p.counters.retransmits = retransmits;
  p.counters.connects_ok = connects_ok;
  return p;
}

NetReading reading(std::vector<NetPeerReading> peers) {
  std::sort(peers.begin(), peers.end(), [](const auto& a, const auto& b) { return a.address < b.address; });
  NetReading r;
  r.peers = std::move(peers);
  return r;
}

const NetPeerDelta* find(const NetDelta& delta, const std::string& label) {
  for (const NetPeerDelta& p : delta.peers) {
    if (p.peer == label) return &p;
  }
  return nullptr;
}

uint64_t retransmits(const NetDelta& delta, const std::string& label) {
  const NetPeerDelta* p = find(delta, label);
  return p ? p->counters.retransmits : 0;
}

TEST(NetDeltaTracker, FirstReadingIsAllNewThenDeltas) {
  NetDeltaTracker tracker({.max_peers = 8});
  const NetDelta first = tracker.next(reading({peer(1, 5, 2)}), kSecond);
  ASSERT_EQ(first.peers.size(), 1u);
  EXPECT_EQ(first.peers[0].peer, "10.0.0.1");
  EXPECT_EQ(first.peers[0].counters.retransmits, 5u);
  EXPECT_EQ(first.peers[0].counters.connects_ok, 2u);

  const NetDelta second = tracker.next(reading({peer(1, 9, 2)}), 2 * kSecond);
  EXPECT_EQ(retransmits(second, "10.0.0.1"), 4u);
  EXPECT_EQ(find(second, "10.0.0.1")->counters.connects_ok, 0u);
  EXPECT_EQ(find(second, kOtherPeer), nullptr) << "nothing folded, so no other";
}

TEST(NetDeltaTracker, PeersBeyondTheCapFoldIntoOtherAndLabelsNeverMove) {
  NetDeltaTracker tracker({.max_peers = 2});
  // Three peers at once: the two lowest addresses get labels, the third folds.
  NetDelta d = tracker.next(reading({peer(3, 30), peer(1, 10), peer(2, 20)}), kSecond);
  ASSERT_EQ(d.peers.size(), 3u);
  EXPECT_EQ(d.peers[0].peer, "10.0.0.1");
  EXPECT_EQ(d.peers[1].peer, "10.0.0.2");
  EXPECT_EQ(d.peers[2].peer, kOtherPeer);
  EXPECT_EQ(retransmits(d, kOtherPeer), 30u);

  // Peer 1 leaves the kernel's table; peer 4 arrives. Peer 1 keeps its label (no counter of
  // another peer ever lands under it); peer 4 folds, with peer 3.
  d = tracker.next(reading({peer(2, 25), peer(3, 31), peer(4, 7)}), 2 * kSecond);
  EXPECT_EQ(retransmits(d, "10.0.0.1"), 0u);
  EXPECT_EQ(retransmits(d, "10.0.0.2"), 5u);
  EXPECT_EQ(retransmits(d, kOtherPeer), 1u + 7u);
  EXPECT_EQ(find(d, "10.0.0.4"), nullptr);

  // Peer 1 comes back with a fresh entry: everything in it is new, under its old label.
  d = tracker.next(reading({peer(1, 3), peer(2, 25), peer(3, 31), peer(4, 7)}), 3 * kSecond);
  EXPECT_EQ(retransmits(d, "10.0.0.1"), 3u);
  EXPECT_EQ(retransmits(d, kOtherPeer), 0u);
  for (const NetPeerDelta& p : d.peers) EXPECT_NE(p.peer, "10.0.0.3");
}

TEST(NetDeltaTracker, EvictedAndRecreatedPeerNeverGoesNegative) {
  NetDeltaTracker tracker({.max_peers = 4});
  tracker.next(reading({peer(1, 100)}), kSecond);
  // Evicted and re-created between two reads, now below its old value.
  const NetDelta d = tracker.next(reading({peer(1, 6)}), 2 * kSecond);
  EXPECT_EQ(retransmits(d, "10.0.0.1"), 6u);
}

TEST(NetDeltaTracker, SrttOnlyWhileFreshAndOtherTakesTheLargest) {
  NetDeltaTracker tracker({.max_peers = 1, .srtt_max_age_ns = 10 * kSecond});
  NetPeerReading labelled = peer(1, 0);
  labelled.srtt_us = 300;
  labelled.srtt_at_ns = 5 * kSecond;
  NetPeerReading folded_a = peer(2, 0);
  folded_a.srtt_us = 900;
  folded_a.srtt_at_ns = 5 * kSecond;
  NetPeerReading folded_b = peer(3, 0);
  folded_b.srtt_us = 4000;
  folded_b.srtt_at_ns = 5 * kSecond;
  NetPeerReading never = peer(4, 1);  // no sample yet

  NetDelta d = tracker.next(reading({labelled, folded_a, folded_b, never}), 6 * kSecond);
  EXPECT_EQ(find(d, "10.0.0.1")->srtt_us, std::optional<uint32_t>(300));
  EXPECT_EQ(find(d, kOtherPeer)->srtt_us, std::optional<uint32_t>(4000));

  // A sample taken just after `now` was read counts as fresh.
  labelled.srtt_at_ns = 7 * kSecond;
  d = tracker.next(reading({labelled}), 6 * kSecond);
  EXPECT_EQ(find(d, "10.0.0.1")->srtt_us, std::optional<uint32_t>(300));

  // Eleven seconds later, no new sample: stale, not reported.
  d = tracker.next(reading({labelled, folded_b}), 18 * kSecond);
  EXPECT_EQ(find(d, "10.0.0.1")->srtt_us, std::nullopt);
  EXPECT_EQ(find(d, kOtherPeer)->srtt_us, std::nullopt);
}

TEST(NetDeltaTracker, NodeCountersAndLatency) {
  NetDeltaTracker tracker({});
  NetReading r;
  r.connect_latency.slots[16] = 2;
  r.connect_latency.count = 2;
  r.connect_latency.sum_ns = 140000;
  r.rcvqueue_full = 3;
  r.failed_updates = 1;
  NetDelta d = tracker.next(r, kSecond);
  EXPECT_EQ(d.connect_latency.count, 2u);
  EXPECT_EQ(d.rcvqueue_full, 3u);
  EXPECT_EQ(d.failed_updates, 1u);

  r.connect_latency.slots[16] = 3;
  r.connect_latency.count = 3;
  r.connect_latency.sum_ns = 210000;
  r.rcvqueue_full = 4;
  d = tracker.next(r, 2 * kSecond);
  EXPECT_EQ(d.connect_latency.count, 1u);
  EXPECT_EQ(d.connect_latency.slots[16], 1u);
  EXPECT_EQ(d.connect_latency.sum_ns, 70000u);
  EXPECT_EQ(d.rcvqueue_full, 1u);
  EXPECT_EQ(d.failed_updates, 0u);
  EXPECT_TRUE(d.peers.empty());
}

TEST(NetDeltaTracker, Ipv6PeersAreLabelledInTheirShortForm) {
  NetDeltaTracker tracker({});
  NetPeerReading p;
  p.address = NetPeerAddress::inet6({0xfd, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  p.counters.resets_received = 1;
  const NetDelta d = tracker.next(reading({p}), kSecond);
  ASSERT_EQ(d.peers.size(), 1u);
  EXPECT_EQ(d.peers[0].peer, "fd00:200::2");
  EXPECT_EQ(d.peers[0].counters.resets_received, 1u);
}

}  // namespace
}  // namespace nodepulse
