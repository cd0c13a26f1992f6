// The heartbeat: what every sink publishes. Its JSON is the contract of docs/design.md
// (ZooKeeper znode payload and /health body): node_id, cluster, role, host, state, weight,
// reasons, signals, seq, ts_ms, version, http_port, and trino_drain while the trino sink is on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "health/verdict.h"

namespace nodepulse {

struct NodeIdentity {
  std::string node_id;
  std::string cluster;
  std::string role;  // coordinator | worker | ""
  std::string host;
  std::string version;
  // Trino's HTTP port (config.properties http-server.http.port), so a balancer can derive the
  // server address host:http_port; 0 = unknown.
  uint16_t http_port = 0;
};

// Where the trino sink (exporters/trino) has this worker in Trino's scheduling; carried in every
// heartbeat while that sink is on, as the object "trino_drain".
struct DrainStatus {
  // active (in scheduling) | draining | drained | shutting_down (Trino's state after our request)
  // | budget_exhausted (should be out, no slot: stays in) | held (drained, ZooKeeper lost: kept
  // for trino.zk_loss_hold_ms) | coordinator | unsupported (this Trino has no reversible drain)
  // | unknown (Trino not reachable or not answering sensibly)
  std::string state = "unknown";
  std::string trino_state;  // Trino's own, e.g. "ACTIVE"; "" = not known
  bool slot = false;        // holds a drain slot under <root>/<cluster>/drain/
  std::string reason;       // why, one line
  std::string error;        // the last failed call to Trino or ZooKeeper; "" after a success

  bool operator==(const DrainStatus&) const = default;
};

struct Heartbeat {
  NodeIdentity node;
  std::optional<DrainStatus> drain;  // nullopt: the trino sink is off
  Verdict verdict;
  uint64_t seq = 0;    // increases by one per heartbeat made
  uint64_t ts_ms = 0;  // wall clock, ms since the epoch
  bool state_changed = false;  // this heartbeat announces a new state (sinks may act at once)
  HealthState previous_state = HealthState::kUnknown;
};

std::string to_json(const Heartbeat& heartbeat);

// The reasons as one line for places that take text (agent-check, hook environment, alerts):
// non-empty reasons joined by "; ".
std::string join_reasons(const std::vector<std::string>& reasons);

}  // namespace nodepulse
