// Pure decoding of bpf/net.h records into plain readings; unit-tested from byte buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "bpf/net.h"
#include "probes/net_readings.h"

namespace nodepulse {

// The layout of bpf/net.h is the ABI between the kernel program and this reader.
static_assert(sizeof(np_net_peer_key) == 20);
static_assert(offsetof(np_net_peer_key, family) == 16);
static_assert(sizeof(np_net_peer_stats) == 15 * 8);
static_assert(offsetof(np_net_peer_stats, accepts) == 8 * 8);
static_assert(offsetof(np_net_peer_stats, errors_other) == 12 * 8);
static_assert(offsetof(np_net_peer_stats, srtt_at_ns) == 13 * 8);
static_assert(offsetof(np_net_peer_stats, srtt_us) == 14 * 8);
static_assert(sizeof(np_net_stats) == sizeof(np_histogram) + 8);
static_assert(offsetof(np_net_stats, rcvqueue_full) == sizeof(np_histogram));
static_assert(sizeof(np_net_drops) == 3 * 8);
static_assert(NP_HIST_SLOTS == Log2Histogram::kSlots);
static_assert(NP_NET_PORT_WORDS * 64 == 65536);

// nullopt for a family other than IPv4/IPv6.
std::optional<NetPeerAddress> decode_peer_key(const np_net_peer_key& key);

// The key the kernel would build for `address` (the inverse of decode_peer_key).
np_net_peer_key encode_peer_key(const NetPeerAddress& address);

NetPeerReading decode_peer(const NetPeerAddress& address, const np_net_peer_stats& stats);

// Sums the per-CPU node-wide values and drop counters into `reading`.
void sum_node(std::span<const np_net_stats> per_cpu, NetReading& reading);
void sum_drops(std::span<const np_net_drops> per_cpu, NetReading& reading);

// The cluster_ports bitmap for `ports` (port 0 is ignored: no socket has it).
std::vector<uint64_t> port_bitmap(std::span<const uint16_t> ports);

}  // namespace nodepulse
