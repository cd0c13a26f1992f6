#include "probes/net_decode.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace nodepulse {

std::string NetPeerAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  const int af = family == Family::kInet4 ? AF_INET : AF_INET6;
  if (!inet_ntop(af, bytes.data(), text, sizeof(text))) return "?";
  return text;
}

NetPeerAddress NetPeerAddress::inet4(std::array<uint8_t, 4> address) {
  NetPeerAddress peer;
  peer.family = Family::kInet4;
  std::copy(address.begin(), address.end(), peer.bytes.begin());
  return peer;
}

NetPeerAddress NetPeerAddress::inet6(const std::array<uint8_t, 16>& address) {
  NetPeerAddress peer;
  peer.family = Family::kInet6;
  peer.bytes = address;
  return peer;
}

namespace {

// Every counter of NetPeerCounters, so the arithmetic below cannot forget one.
constexpr uint64_t NetPeerCounters::* kCounterFields[] = {
    &NetPeerCounters::retransmits,      &NetPeerCounters::syn_retransmits,  &NetPeerCounters::resets_sent,
    &NetPeerCounters::resets_received,  &NetPeerCounters::connects_ok,      &NetPeerCounters::connects_refused,
    &NetPeerCounters::connects_timeout, &NetPeerCounters::connects_other,   &NetPeerCounters::accepts,
    &NetPeerCounters::errors_refused,   &NetPeerCounters::errors_timeout,   &NetPeerCounters::errors_reset,
    &NetPeerCounters::errors_other,
};
static_assert(sizeof(NetPeerCounters) == sizeof(kCounterFields) / sizeof(kCounterFields[0]) * 8,
              "a NetPeerCounters field is missing from kCounterFields");

}  // namespace

NetPeerCounters& NetPeerCounters::operator+=(const NetPeerCounters& other) {
  for (auto field : kCounterFields) this->*field += other.*field;
  return *this;
}

NetPeerCounters NetPeerCounters::since(const NetPeerCounters& earlier) const {
  NetPeerCounters delta;
  for (auto field : kCounterFields) delta.*field = counter_delta(this->*field, earlier.*field);
  return delta;
}

std::optional<NetPeerAddress> decode_peer_key(const np_net_peer_key& key) {
  NetPeerAddress address;
  switch (key.family) {
    case NP_NET_FAMILY_INET:
      address.family = NetPeerAddress::Family::kInet4;
      std::memcpy(address.bytes.data(), key.addr, 4);
      return address;
    case NP_NET_FAMILY_INET6:
      address.family = NetPeerAddress::Family::kInet6;
      std::memcpy(address.bytes.data(), key.addr, 16);
      return address;
    default:
      return std::nullopt;
  }
}

np_net_peer_key encode_peer_key(const NetPeerAddress& address) {
  np_net_peer_key key{};
  if (address.family == NetPeerAddress::Family::kInet4) {
    key.family = NP_NET_FAMILY_INET;
    std::memcpy(key.addr, address.bytes.data(), 4);
  } else {
    key.family = NP_NET_FAMILY_INET6;
    std::memcpy(key.addr, address.bytes.data(), 16);
  }
  return key;
}

NetPeerReading decode_peer(const NetPeerAddress& address, const np_net_peer_stats& stats) {
  NetPeerReading peer;
  peer.address = address;
  NetPeerCounters& c = peer.counters;
  c.retransmits = stats.retransmits;
  c.syn_retransmits = stats.syn_retransmits;
  c.resets_sent = stats.resets_sent;
  c.resets_received = stats.resets_received;
  c.connects_ok = stats.connects_ok;
  c.connects_refused = stats.connects_refused;
  c.connects_timeout = stats.connects_timeout;
  c.connects_other = stats.connects_other;
  c.accepts = stats.accepts;
  c.errors_refused = stats.errors_refused;
  c.errors_timeout = stats.errors_timeout;
  c.errors_reset = stats.errors_reset;
  c.errors_other = stats.errors_other;
  peer.srtt_us = stats.srtt_us;
  peer.srtt_at_ns = stats.srtt_at_ns;
  return peer;
}

void sum_node(std::span<const np_net_stats> per_cpu, NetReading& reading) {
  for (const np_net_stats& cpu : per_cpu) {
    Log2Histogram hist;
    std::copy(std::begin(cpu.connect_latency.slots), std::end(cpu.connect_latency.slots), hist.slots.begin());
    hist.count = cpu.connect_latency.count;
    hist.sum_ns = cpu.connect_latency.sum_ns;
    reading.connect_latency += hist;
    reading.rcvqueue_full += cpu.rcvqueue_full;
  }
}

void sum_drops(std::span<const np_net_drops> per_cpu, NetReading& reading) {
  for (const np_net_drops& cpu : per_cpu) {
    reading.failed_updates += cpu.peer_table + cpu.connect_table + cpu.srtt_storage;
  }
}

std::vector<uint64_t> port_bitmap(std::span<const uint16_t> ports) {
  std::vector<uint64_t> words(NP_NET_PORT_WORDS, 0);
  for (uint16_t port : ports) {
    if (port == 0) continue;
    words[port / 64] |= uint64_t{1} << (port % 64);
  }
  return words;
}

}  // namespace nodepulse
