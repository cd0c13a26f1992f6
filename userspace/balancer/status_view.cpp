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

MemberState member_state(const std::string& state) {
  for (const MemberState known : kAllMemberStates) {
    if (state == to_string(known)) return known;
  }
  return MemberState::kUnknown;
}

const std::string* configured_address(const std::vector<BalancerServerSpec>& servers, const std::string& node_id) {
  for (const BalancerServerSpec& server : servers) {
    if (server.node_id == node_id && !server.address.empty()) return &server.address;
  }
  return nullptr;
}

std::string flagged(std::string_view view, const std::string& disagreement) {
  return std::string(view) + (disagreement.empty() ? "" : "!");
}

std::string drain_cell(const StatusRow& row) {
  return row.report && row.report->drain ? row.report->drain->state : "-";
}

std::string trino_cell(const StatusRow& row) {
  return row.trino ? flagged(to_string(row.trino->view), row.trino->disagreement) : "-";
}

std::string aligned(const std::vector<std::vector<std::string>>& cells) {
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

// Under the table: what the coordinator said, then one "! WHO: WHY" line per disagreement.
std::string coordinator_footer(const std::vector<StatusRow>& rows, const CoordinatorStatus& coordinator) {
  std::string text = "\nTrino coordinator " + coordinator.url + ": ";
  if (!coordinator.error.empty()) return text + "Trino's view unknown: " + coordinator.error + "\n";
  text += fmt::format("lists {} nodes, {} failed; ", coordinator.listed, coordinator.failed);
  text += coordinator.disagreements == 0 ? std::string("no disagreements\n")
                                         : fmt::format("{} disagreement(s)\n", coordinator.disagreements);
  for (const StatusRow& row : rows) {
    if (!row.trino || row.trino->disagreement.empty()) continue;
    text += "! " + row.node_id + ": " + row.trino->disagreement + "\n";
  }
  for (const UnmatchedEntry& entry : coordinator.unmatched) {
    if (!entry.disagreement.empty()) text += "! " + entry.uri + ": " + entry.disagreement + "\n";
  }
  return text;
}

}  // namespace

CoordinatorStatus add_trino_view(std::vector<StatusRow>& rows, const std::string& url,
                                 const Result<CoordinatorNodes>& answer, const std::vector<BalancerServerSpec>& servers,
                                 const AddressResolver& resolve) {
  std::vector<WatchedNode> nodes;
  for (const StatusRow& row : rows) {
    const std::string* configured = configured_address(servers, row.node_id);
    nodes.push_back({.node_id = row.node_id,
                     .role = row.role,
                     .state = member_state(row.state),
                     .drain_state = row.report && row.report->drain ? row.report->drain->state : "",
                     .addresses = node_addresses(row.report, configured ? *configured : "")});
  }
  CoordinatorStatus status;
  status.url = url;
  std::optional<CoordinatorNodes> coordinator;
  if (answer.ok()) {
    coordinator = *answer;
    status.listed = answer->listed.size();
    status.failed = answer->failed.size();
  } else {
    status.error = answer.error().message;
  }
  TrinoView view = join_trino_view(nodes, coordinator, resolve);
  status.disagreements = view.disagreements();
  status.unmatched = std::move(view.unmatched);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i].trino = std::move(view.nodes[i]);
  return status;
}

std::string render_status_table(const std::vector<StatusRow>& rows, const CoordinatorStatus* coordinator) {
  const bool trino_columns = coordinator != nullptr || std::ranges::any_of(rows, [](const StatusRow& row) {
                               return row.report && row.report->drain.has_value();
                             });
  std::vector<std::vector<std::string>> cells = {{"NODE", "ROLE", "HOST", "STATE", "WEIGHT"}};
  if (trino_columns) cells[0].insert(cells[0].end(), {"DRAIN", "TRINO"});
  cells[0].insert(cells[0].end(), {"AGE", "REASONS"});
  for (const StatusRow& row : rows) {
    std::vector<std::string> line = {row.node_id, row.role.empty() ? "-" : row.role, row.host.empty() ? "-" : row.host,
                                     row.state, row.weight ? std::to_string(*row.weight) : "-"};
    if (trino_columns) line.insert(line.end(), {drain_cell(row), trino_cell(row)});
    line.insert(line.end(), {format_age(row.age_ms), row.reasons.empty() ? "-" : join_reasons(row.reasons)});
    cells.push_back(std::move(line));
  }
  if (coordinator != nullptr) {
    for (const UnmatchedEntry& entry : coordinator->unmatched) {
      cells.push_back({"-", "-", entry.uri, "-", "-", "-", flagged(to_string(entry.view), entry.disagreement), "-",
                       "no nodepulse heartbeat from this address"});
    }
  }
  return aligned(cells) + (coordinator != nullptr ? coordinator_footer(rows, *coordinator) : "");
}

namespace {

nlohmann::json drain_json(const StatusRow& row) {
  if (!row.report || !row.report->drain) return nullptr;
  const DrainReport& drain = *row.report->drain;
  return {{"state", drain.state},   {"trino_state", drain.trino_state}, {"slot", drain.slot},
          {"reason", drain.reason}, {"error", drain.error}};
}

nlohmann::json or_null(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

nlohmann::json trino_json(const StatusRow& row) {
  if (!row.trino) return nullptr;
  return {{"view", to_string(row.trino->view)},
          {"uri", or_null(row.trino->uri)},
          {"last_failure", or_null(row.trino->last_failure)},
          {"disagreement", or_null(row.trino->disagreement)}};
}

nlohmann::json coordinator_json(const CoordinatorStatus* coordinator) {
  if (coordinator == nullptr) return nullptr;
  nlohmann::json unmatched = nlohmann::json::array();
  for (const UnmatchedEntry& entry : coordinator->unmatched) {
    unmatched.push_back(
        {{"uri", entry.uri}, {"view", to_string(entry.view)}, {"disagreement", or_null(entry.disagreement)}});
  }
  return {{"url", coordinator->url},
          {"answered", coordinator->error.empty()},
          {"error", or_null(coordinator->error)},
          {"listed", coordinator->listed},
          {"failed", coordinator->failed},
          {"disagreements", coordinator->disagreements},
          {"unmatched", unmatched}};
}

}  // namespace

std::string render_status_json(const std::string& cluster, const std::vector<StatusRow>& rows,
                               const CoordinatorStatus* coordinator) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const StatusRow& row : rows) {
    nlohmann::json node = {{"node_id", row.node_id},
                           {"role", row.role},
                           {"host", row.host},
                           {"state", row.state},
                           {"weight", nullptr},
                           {"age_ms", nullptr},
                           {"failing_znode", row.failing_znode},
                           {"reasons", row.reasons},
                           {"drain", drain_json(row)},
                           {"trino", trino_json(row)}};
    if (row.weight) node["weight"] = *row.weight;
    if (row.age_ms) node["age_ms"] = *row.age_ms;
    if (row.report) {
      node["seq"] = row.report->seq;
      node["ts_ms"] = row.report->ts_ms;
      node["http_port"] = row.report->http_port;
    }
    nodes.push_back(std::move(node));
  }
  const nlohmann::json status = {{"cluster", cluster}, {"nodes", nodes}, {"coordinator", coordinator_json(coordinator)}};
  return status.dump(2) + "\n";
}

}  // namespace nodepulse
