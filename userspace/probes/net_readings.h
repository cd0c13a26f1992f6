// What the net probe reads, as plain values: no BPF header, no libbpf.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "common/histogram.h"

namespace nodepulse {

// A remote address. IPv4-mapped IPv6 addresses (a dual-stack JVM's sockets) arrive as IPv4.
struct NetPeerAddress {
  enum class Family : uint8_t { kInet4, kInet6 };
  Family family = Family::kInet4;
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4

  // "10.0.0.7" or "fd00::7" (RFC 5952 form, as inet_ntop writes it).
  std::string to_string() const;

  static NetPeerAddress inet4(std::array<uint8_t, 4> address);
  static NetPeerAddress inet6(const std::array<uint8_t, 16>& address);

  auto operator<=>(const NetPeerAddress&) const = default;
};

// Per-peer event counts. Cumulative in a NetReading, per interval in a NetPeerDelta.
struct NetPeerCounters {
  uint64_t retransmits = 0;      // segments retransmitted, SYNs excluded
  uint64_t syn_retransmits = 0;  // SYNs retransmitted while connecting
  uint64_t resets_sent = 0;
  uint64_t resets_received = 0;
  uint64_t connects_ok = 0;
  uint64_t connects_refused = 0;
  uint64_t connects_timeout = 0;
  uint64_t connects_other = 0;
  uint64_t accepts = 0;  // passive opens
  uint64_t errors_refused = 0;  // errors reported to the socket's owner
  uint64_t errors_timeout = 0;
  uint64_t errors_reset = 0;
  uint64_t errors_other = 0;

  NetPeerCounters& operator+=(const NetPeerCounters& other);
  // Field by field counter_delta(): a field that went down restarted from zero.
  NetPeerCounters since(const NetPeerCounters& earlier) const;
  bool any() const { return *this != NetPeerCounters{}; }
  bool operator==(const NetPeerCounters&) const = default;
};

struct NetPeerReading {
  NetPeerAddress address;
  NetPeerCounters counters;   // since the peer entered the kernel's table
  uint32_t srtt_us = 0;       // latest smoothed-RTT sample of a connection to this peer
  uint64_t srtt_at_ns = 0;    // CLOCK_MONOTONIC of that sample; 0 = none yet
};

// Cumulative since the probe loaded (per peer: since the peer entered the table).
struct NetReading {
  std::vector<NetPeerReading> peers;  // sorted by address
  Log2Histogram connect_latency;
  uint64_t rcvqueue_full = 0;
  uint64_t failed_updates = 0;  // peer table full, connect table full, no socket storage
};

}  // namespace nodepulse
