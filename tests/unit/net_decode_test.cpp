// Decoding of bpf/net.h records, fed from byte buffers laid out exactly as the kernel writes them.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "probes/net_decode.h"

namespace nodepulse {
namespace {

template <class T>
T through_bytes(const T& value) {
  std::vector<std::byte> raw(sizeof(T));
  std::memcpy(raw.data(), &value, sizeof(T));
  T out;
  std::memcpy(&out, raw.data(), sizeof(T));
  return out;
}

TEST(NetDecode, DecodesPeerKeysOfBothFamilies) {
  struct Case {
    const char* description;
    np_net_peer_key key;
    std::optional<std::string> text;
  };
  np_net_peer_key v4{};
  v4.family = NP_NET_FAMILY_INET;
  const uint8_t v4_bytes[] = {10, 200, 0, 2};
  std::memcpy(v4.addr, v4_bytes, 4);
  np_net_peer_key v6{};
  v6.family = NP_NET_FAMILY_INET6;
  const uint8_t v6_bytes[] = {0xfd, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  std::memcpy(v6.addr, v6_bytes, 16);
  np_net_peer_key unknown{};
  unknown.family = 1;  // AF_UNIX: never written by the kernel side

  const Case cases[] = {
      {"IPv4 in the first four bytes", v4, "10.200.0.2"},
      {"IPv6, shortened as inet_ntop does", v6, "fd00:200::2"},
      {"another family", unknown, std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    const auto address = decode_peer_key(through_bytes(c.key));
    ASSERT_EQ(address.has_value(), c.text.has_value());
    if (!address) continue;
    EXPECT_EQ(address->to_string(), *c.text);
    const np_net_peer_key again = encode_peer_key(*address);
    EXPECT_EQ(std::memcmp(&again, &c.key, sizeof(again)), 0) << "encode is the inverse of decode";
  }
}

TEST(NetDecode, PeerCountersAndSrtt) {
  np_net_peer_stats raw{};
  raw.retransmits = 11;
  raw.syn_retransmits = 2;
  raw.resets_sent = 3;
  raw.resets_received = 4;
  raw.connects_ok = 5;
  raw.connects_refused = 6;
  raw.connects_timeout = 7;
  raw.connects_other = 8;
  raw.accepts = 9;
  raw.errors_refused = 10;
  raw.errors_timeout = 12;
  raw.errors_reset = 13;
  raw.errors_other = 14;
  raw.srtt_at_ns = 123456789;
  raw.srtt_us = 250;
  const NetPeerAddress address = NetPeerAddress::inet4({10, 0, 0, 1});
  const NetPeerReading peer = decode_peer(address, through_bytes(raw));
  EXPECT_EQ(peer.address, address);
  const NetPeerCounters& c = peer.counters;
  EXPECT_EQ(c.retransmits, 11u);
  EXPECT_EQ(c.syn_retransmits, 2u);
  EXPECT_EQ(c.resets_sent, 3u);
  EXPECT_EQ(c.resets_received, 4u);
  EXPECT_EQ(c.connects_ok, 5u);
  EXPECT_EQ(c.connects_refused, 6u);
  EXPECT_EQ(c.connects_timeout, 7u);
  EXPECT_EQ(c.connects_other, 8u);
  EXPECT_EQ(c.accepts, 9u);
  EXPECT_EQ(c.errors_refused, 10u);
  EXPECT_EQ(c.errors_timeout, 12u);
  EXPECT_EQ(c.errors_reset, 13u);
  EXPECT_EQ(c.errors_other, 14u);
  EXPECT_EQ(peer.srtt_us, 250u);
  EXPECT_EQ(peer.srtt_at_ns, 123456789u);
}

TEST(NetDecode, SumsNodeStatsAndDropsAcrossCpus) {
  std::vector<np_net_stats> stats(2);
  std::memset(stats.data(), 0, stats.size() * sizeof(np_net_stats));
  stats[0].connect_latency.slots[15] = 2;
  stats[0].connect_latency.count = 2;
  stats[0].connect_latency.sum_ns = 2 * 40000;
  stats[0].rcvqueue_full = 1;
  stats[1].connect_latency.slots[20] = 1;
  stats[1].connect_latency.count = 1;
  stats[1].connect_latency.sum_ns = 1100000;
  stats[1].rcvqueue_full = 4;
  std::vector<np_net_drops> drops(2);
  std::memset(drops.data(), 0, drops.size() * sizeof(np_net_drops));
  drops[0].peer_table = 1;
  drops[1].connect_table = 2;
  drops[1].srtt_storage = 3;

  NetReading reading;
  sum_node(stats, reading);
  sum_drops(drops, reading);
  EXPECT_EQ(reading.connect_latency.slots[15], 2u);
  EXPECT_EQ(reading.connect_latency.slots[20], 1u);
  EXPECT_EQ(reading.connect_latency.count, 3u);
  EXPECT_EQ(reading.connect_latency.sum_ns, 80000u + 1100000u);
  EXPECT_EQ(reading.rcvqueue_full, 5u);
  EXPECT_EQ(reading.failed_updates, 6u);
}

TEST(NetDecode, PortBitmap) {
  const std::vector<uint16_t> ports = {0, 1, 63, 64, 2181, 8080, 65535};
  const std::vector<uint64_t> bitmap = port_bitmap(ports);
  ASSERT_EQ(bitmap.size(), size_t{NP_NET_PORT_WORDS});
  auto has = [&](uint32_t port) { return ((bitmap[port / 64] >> (port % 64)) & 1) != 0; };
  EXPECT_FALSE(has(0)) << "no socket has port 0: an unset local port must never match";
  for (uint32_t port : {1u, 63u, 64u, 2181u, 8080u, 65535u}) EXPECT_TRUE(has(port)) << port;
  for (uint32_t port : {2u, 62u, 65u, 2180u, 2182u, 8081u, 65534u}) EXPECT_FALSE(has(port)) << port;
}

TEST(NetDecode, CounterArithmetic) {
  NetPeerCounters a;
  a.retransmits = 5;
  a.errors_other = 2;
  NetPeerCounters b;
  b.retransmits = 7;
  b.errors_other = 1;  // went down: the peer was evicted and came back
  const NetPeerCounters delta = b.since(a);
  EXPECT_EQ(delta.retransmits, 2u);
  EXPECT_EQ(delta.errors_other, 1u);
  NetPeerCounters sum = a;
  sum += b;
  EXPECT_EQ(sum.retransmits, 12u);
  EXPECT_EQ(sum.errors_other, 3u);
  EXPECT_FALSE(NetPeerCounters{}.any());
  EXPECT_TRUE(sum.any());
}

}  // namespace
}  // namespace nodepulse
