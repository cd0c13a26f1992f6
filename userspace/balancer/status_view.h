// What `nodepulse status` prints: one row per node — node id, role, host, state, weight, age of
// the last heartbeat, reasons — as an aligned table or as JSON. With a coordinator configured
// (or any agent draining through Trino) also the drain state and the coordinator's view of each
// node, disagreements marked "!" and listed under the table. Pure: rows in, text out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "balancer/cluster_reader.h"
#include "balancer/trino_view.h"
#include "config/config.h"
#include "heartbeat/payload.h"

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
  std::optional<TrinoNodeView> trino;  // set by add_trino_view
};

// The coordinator's part of the output, when one is configured.
struct CoordinatorStatus {
  std::string url;
  std::string error;                      // why its view is unknown; "" when it answered
  std::size_t listed = 0;                 // entries in /v1/node
  std::size_t failed = 0;                 // entries in /v1/node/failed
  std::size_t disagreements = 0;          // rows and unmatched entries flagged
  std::vector<UnmatchedEntry> unmatched;  // entries no row matches
};

// A row from a node's payload (or the reason it was refused). `now_wall_ms`: ms since the epoch.
StatusRow status_row(const std::string& node_id, const Result<NodeReport>& report, bool failing_znode,
                     uint64_t now_wall_ms);
std::vector<StatusRow> status_rows(const ClusterReading& reading, uint64_t now_wall_ms);

// Puts the coordinator's view (`answer`, or why there is none) beside every row; a row matches
// by its heartbeat's host:http_port or its balancer.servers address (`servers`).
CoordinatorStatus add_trino_view(std::vector<StatusRow>& rows, const std::string& url,
                                 const Result<CoordinatorNodes>& answer, const std::vector<BalancerServerSpec>& servers,
                                 const AddressResolver& resolve = {});

// The DRAIN and TRINO columns appear when `coordinator` is given or a row carries a drain.
std::string render_status_table(const std::vector<StatusRow>& rows, const CoordinatorStatus* coordinator = nullptr);
// {"cluster": CLUSTER, "nodes": [{node_id, role, host, state, weight, age_ms, failing_znode,
// reasons, drain, trino, seq, ts_ms, http_port}, ...], "coordinator": {url, answered, error,
// listed, failed, disagreements, unmatched: [{uri, view, disagreement}]}}; weight and age_ms are
// null when unknown, drain when the agent does not drain, trino and coordinator when no
// coordinator is configured, a disagreement when there is none.
std::string render_status_json(const std::string& cluster, const std::vector<StatusRow>& rows,
                               const CoordinatorStatus* coordinator = nullptr);

}  // namespace nodepulse
