// What `nodepulse status` prints: one row per node — node id, role, host, state, weight, age of
// the last heartbeat, reasons — as an aligned table or as JSON. Pure: rows in, text out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "balancer/cluster_reader.h"
#include "balancer/payload.h"

namespace nodepulse {

struct StatusRow {
  std::string node_id;
  std::string role;
  std::string host;
  std::string state;  // healthy | degraded | failing | unknown
  std::optional<int> weight;
  std::optional<int64_t> age_ms;  // now - ts_ms of the heartbeat
  bool failing_znode = false;     // failing/<id> exists
  std::vector<std::string> reasons;
  std::optional<NodeReport> report;
};

// A row from a node's payload (or the reason it was refused). `now_wall_ms`: ms since the epoch.
StatusRow status_row(const std::string& node_id, const Result<NodeReport>& report, bool failing_znode,
                     uint64_t now_wall_ms);
std::vector<StatusRow> status_rows(const ClusterReading& reading, uint64_t now_wall_ms);

std::string render_status_table(const std::vector<StatusRow>& rows);
// {"cluster": CLUSTER, "nodes": [{node_id, role, host, state, weight, age_ms, failing_znode,
// reasons, seq, ts_ms, http_port}, ...]}; weight and age_ms are null when unknown.
std::string render_status_json(const std::string& cluster, const std::vector<StatusRow>& rows);

}  // namespace nodepulse
