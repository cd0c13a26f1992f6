// The safety policy: members in, what every balancer server should be out. A pure function of
// its inputs, with every tie broken by node id, so balancer instances on different hosts that
// read the same ZooKeeper data reach the same decision and never fight.
//
// - healthy / degraded: in rotation (ready) with the node's weight (at least 1);
// - failing / unknown: drained; down (znode gone past the grace): out (maint / down);
// - but never more than floor(servers x max_unhealthy_fraction) servers out at once: the least
//   healthy go first (down, then failing, then unknown; then by node id), the others stay in
//   rotation with the lowest weight (kWithheldWeight) and are reported as withheld.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "balancer/membership.h"
#include "config/config.h"

namespace nodepulse {

// The weight of a server that should be out but is kept in by the safety limit.
inline constexpr uint32_t kWithheldWeight = 1;
// The port of a node whose heartbeat carries none: Trino's default HTTP port.
inline constexpr uint16_t kDefaultServerPort = 8080;

enum class ServerAction : uint8_t { kReady, kDrain, kDown };
std::string_view to_string(ServerAction action);

struct ServerTarget {
  std::string node_id;
  std::string name;     // HAProxy server / Trino Gateway backend name
  std::string address;  // HOST:PORT for nginx; "" when it cannot be known (no config entry, no heartbeat)
  MemberState state = MemberState::kUnknown;
  ServerAction action = ServerAction::kReady;
  uint32_t weight = 0;   // 1-100 when ready, 0 otherwise
  bool withheld = false;  // should be out, kept in by max_unhealthy_fraction
  std::string reason;     // why it is not plainly ready ("" when healthy); for logs only

  // What a load balancer is told; the reason text (which changes with every heartbeat of a sick
  // node) is left out, so it alone never counts as a new decision.
  bool operator==(const ServerTarget& other) const {
    return node_id == other.node_id && name == other.name && address == other.address && state == other.state &&
           action == other.action && weight == other.weight && withheld == other.withheld;
  }
};

struct Decision {
  std::vector<ServerTarget> servers;  // sorted by node id
  std::size_t max_out = 0;            // how many servers may be out at once
  std::size_t out = 0;                // how many are (drain or down)
  std::size_t withheld = 0;           // how many should be out but are kept in

  bool operator==(const Decision&) const = default;
};

struct PolicyOptions {
  double max_unhealthy_fraction = 0.34;
  std::vector<BalancerServerSpec> servers;  // balancer.servers
};

// `members` as Membership::members() gives them; configured servers with no member are down.
Decision decide(const std::vector<Member>& members, const PolicyOptions& options);

// "HOST:PORT" (IPv6 hosts in brackets).
std::string server_address(const std::string& host, uint16_t port);

}  // namespace nodepulse
