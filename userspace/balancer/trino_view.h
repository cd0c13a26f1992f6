// Trino's own view of each node beside nodepulse's, for `nodepulse status` and the balancer's
// metrics. The coordinator's failure detector lists the nodes it watches (GET /v1/node) and
// those it counts as failed (GET /v1/node/failed); a node is matched to an entry by address:
// the entry's URI host:port against the heartbeat's host:http_port and, when given,
// balancer.servers[].address, each side also under the addresses its host name resolves to
// (Trino lists IPs by default, agents report their host name). Pure: the resolver is injected.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/membership.h"
#include "heartbeat/payload.h"
#include "trino/trino_client.h"

namespace nodepulse {

enum class CoordinatorView : uint8_t {
  kActive,   // in /v1/node and not in /v1/node/failed
  kFailed,   // in /v1/node/failed
  kAbsent,   // in neither
  kUnknown,  // no coordinator configured, it did not answer, or the node's address is unknown
};
std::string_view to_string(CoordinatorView view);
inline constexpr CoordinatorView kAllCoordinatorViews[] = {CoordinatorView::kActive, CoordinatorView::kFailed,
                                                           CoordinatorView::kAbsent, CoordinatorView::kUnknown};

// What the coordinator answered.
struct CoordinatorNodes {
  std::vector<trino::NodeStats> listed;  // GET /v1/node
  std::vector<trino::NodeStats> failed;  // GET /v1/node/failed
};

// One node as nodepulse sees it: from a heartbeat (status) or the balancer's membership.
struct WatchedNode {
  std::string node_id;
  std::string role;                    // coordinator | worker | ""
  MemberState state = MemberState::kUnknown;
  std::string drain_state;             // the agent's trino_drain.state; "" = its trino sink is off
  std::vector<std::string> addresses;  // "host:port" it may be listed under (node_addresses)
};

// The "host:port" a node may be listed under: balancer.servers' `configured_address` when
// given, and the heartbeat's host:http_port (port 8080 when the heartbeat has none, as the
// balancer's drivers assume). Normalised like uri_address; empty when neither is known.
std::vector<std::string> node_addresses(const std::optional<NodeReport>& report, std::string_view configured_address);

// "host:port" of an http(s) URI (lower-case host, IPv6 in brackets, the scheme's default port
// when it names none); nullopt when it is not one.
std::optional<std::string> uri_address(std::string_view uri);

// A host name's IP addresses (no brackets); {} when it has none or is an IP literal.
using AddressResolver = std::function<std::vector<std::string>(const std::string& host)>;

// Why an operator should look at a node whose coordinator view is `view`; "" when the two
// views agree or cannot be compared. The rules:
// - unknown view or unknown nodepulse state: nothing to compare.
// - active, and nodepulse says failing or down while no drain took the worker out (the agent's
//   trino sink off, or its drain state active, budget_exhausted, unsupported, unknown): Trino
//   keeps giving it splits. Flagged.
// - active, failing, and the drain state draining, drained, shutting_down or held: expected,
//   not flagged. The failure detector counts a worker alive as long as it answers; the drain
//   takes it out of scheduling through the worker's own node state, which /v1/node does not
//   show, so a drained worker stays "active" here for as long as it is drained, and a
//   shutting-down one until it exits (then failed, then absent).
// - failed, and nodepulse says healthy or degraded: the coordinator cannot reach a worker
//   that is well in itself (network between them, a wrong announced address). Flagged.
// - absent, and nodepulse says healthy or degraded on a worker: Trino does not know it (not
//   announced to discovery, or announced under an address nodepulse does not know: set
//   balancer.servers[].address). Flagged. A coordinator is never flagged absent: its failure
//   detector does not list itself.
// - failed or absent, and nodepulse says failing or down: both see it gone. Not flagged.
std::string disagreement(const WatchedNode& node, CoordinatorView view);

struct TrinoNodeView {
  std::string node_id;
  CoordinatorView view = CoordinatorView::kUnknown;
  std::string uri;           // the coordinator's entry it matched; "" when none
  std::string last_failure;  // the failure detector's last failure for that entry; "" when none
  std::string disagreement;  // see disagreement(); "" when the views agree
};

// A coordinator entry no node matches.
struct UnmatchedEntry {
  std::string uri;
  CoordinatorView view = CoordinatorView::kActive;  // active or failed
  // Flagged when active: Trino schedules on a node nodepulse does not watch (no agent, or an
  // address nodepulse does not know). A failed one is not: both see nothing working there.
  std::string disagreement;
};

struct TrinoView {
  std::vector<TrinoNodeView> nodes;       // one per WatchedNode, in the same order
  std::vector<UnmatchedEntry> unmatched;  // sorted by uri
  // Flagged nodes and flagged unmatched entries together.
  std::size_t disagreements() const;
};

// `coordinator`: nullopt when not configured or it did not answer (every view unknown).
TrinoView join_trino_view(const std::vector<WatchedNode>& nodes, const std::optional<CoordinatorNodes>& coordinator,
                          const AddressResolver& resolve = {});

}  // namespace nodepulse
