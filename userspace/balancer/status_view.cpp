#include "balancer/status_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "heartbeat/heartbeat.h"

namespace nodepulse {

StatusRow status_row(const std::string& node_id, const Result<NodeReport>& report, bool failing_znode,
                     uint64_t now_wall_ms) {
  StatusRow row;
  row.node_id = node_id;
  row.failing_znode = failing_znode;
  if (!report.ok()) {
    row.state = failing_znode ? "failing" : "unknown";
    row.reasons = {"invalid heartbeat: " + report.error().message};
    return row;
  }
  row.report = *report;
  row.role = report->role;
  row.host = report->host;
  row.state = failing_znode ? "failing" : std::string(to_string(report->state));
  row.weight = failing_znode ? 0 : report->weight;
  row.reasons = report->reasons;
  if (report->ts_ms != 0) row.age_ms = static_cast<int64_t>(now_wall_ms) - static_cast<int64_t>(report->ts_ms);
  return row;
}

std::vector<StatusRow> status_rows(const ClusterReading& reading, uint64_t now_wall_ms) {
  std::vector<StatusRow> rows;
  for (const NodeReading& node : reading.nodes) {
    rows.push_back(status_row(node.node_id, node.report, reading.failing.contains(node.node_id), now_wall_ms));
  }
  // A failing/ znode without a nodes/ znode: the node is going or half-written; still show it.
  for (const std::string& node_id : reading.failing) {
    if (std::ranges::any_of(reading.nodes, [&](const NodeReading& node) { return node.node_id == node_id; })) continue;
    StatusRow row;
    row.node_id = node_id;
    row.state = "failing";
    row.failing_znode = true;
    row.reasons = {"failing/" + node_id + " exists but nodes/" + node_id + " does not"};
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const StatusRow& a, const StatusRow& b) { return a.node_id < b.node_id; });
  return rows;
}

namespace {

std::string format_age(const std::optional<int64_t>& age_ms) {
  if (!age_ms) return "-";
  if (*age_ms < 0) return "0.0s";  // the node's clock is ahead of ours
  if (*age_ms < 100'000) return fmt::format("{:.1f}s", static_cast<double>(*age_ms) / 1000);
  return fmt::format("{}s", *age_ms / 1000);
}

}  // namespace

std::string render_status_table(const std::vector<StatusRow>& rows) {
  std::vector<std::vector<std::string>> cells = {{"NODE", "ROLE", "HOST", "STATE", "WEIGHT", "AGE", "REASONS"}};
  for (const StatusRow& row : rows) {
    cells.push_back({row.node_id, row.role.empty() ? "-" : row.role, row.host.empty() ? "-" : row.host, row.state,
                     row.weight ? std::to_string(*row.weight) : "-", format_age(row.age_ms),
                     row.reasons.empty() ? "-" : join_reasons(row.reasons)});
  }
  std::vector<std::size_t> widths(cells[0].size(), 0);
  for (const auto& line : cells) {
    for (std::size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], line[i].size());
  }
  std::string text;
  for (const auto& line : cells) {
    std::string rendered;
    for (std::size_t i = 0; i < line.size(); ++i) {
      rendered += line[i];
      if (i + 1 < line.size()) rendered += std::string(widths[i] - line[i].size() + 2, ' ');
    }
    text += rendered + "\n";
  }
  return text;
}

std::string render_status_json(const std::string& cluster, const std::vector<StatusRow>& rows) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const StatusRow& row : rows) {
    nlohmann::json node = {{"node_id", row.node_id},
                           {"role", row.role},
                           {"host", row.host},
                           {"state", row.state},
                           {"weight", nullptr},
                           {"age_ms", nullptr},
                           {"failing_znode", row.failing_znode},
                           {"reasons", row.reasons}};
    if (row.weight) node["weight"] = *row.weight;
    if (row.age_ms) node["age_ms"] = *row.age_ms;
    if (row.report) {
      node["seq"] = row.report->seq;
      node["ts_ms"] = row.report->ts_ms;
      node["http_port"] = row.report->http_port;
    }
    nodes.push_back(std::move(node));
  }
  return nlohmann::json{{"cluster", cluster}, {"nodes", nodes}}.dump(2) + "\n";
}

}  // namespace nodepulse
