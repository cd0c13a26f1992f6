// The heartbeat: what every sink publishes. Its JSON is the contract of DESIGN.md
// (ZooKeeper znode payload and /health body): node_id, cluster, role, host, state, weight,
// reasons, signals, seq, ts_ms, version, http_port.
#pragma once

#include <cstdint>
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

struct Heartbeat {
  NodeIdentity node;
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
