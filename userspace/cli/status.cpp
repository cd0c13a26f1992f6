// `nodepulse status`: the cluster's health table from ZooKeeper (every node's last heartbeat), or
// one agent's /health with --url; with trino.coordinator_url (--coordinator) also the
// coordinator's own view of each node beside it. Exit 0 when it could read the heartbeats (a
// coordinator that does not answer is said in the output, not in the exit code), 1 when it could
// not, 2 on bad usage.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>

#include "balancer/cluster_reader.h"
#include "balancer/coordinator.h"
#include "balancer/status_view.h"
#include "cli/commands.h"
#include "common/clock.h"
#include "common/log.h"
#include "http/http_client.h"
#include "zookeeper/zk_sink.h"

namespace nodepulse {
namespace {

// Asks the coordinator (each request bounded by trino.timeout_ms) and puts its view beside the
// rows; nullopt when none is configured.
std::optional<CoordinatorStatus> ask_coordinator(const Config& config, std::vector<StatusRow>& rows) {
  const std::string& url = config.trino.coordinator_url;
  if (url.empty()) return std::nullopt;
  Result<std::unique_ptr<trino::Client>> client = coordinator_client(config.trino);
  const Result<CoordinatorNodes> answer =
      client.ok() ? read_coordinator(**client) : Result<CoordinatorNodes>(client.error());
  return add_trino_view(rows, url, answer, config.balancer.servers, system_resolver());
}

void print(const Config& config, const std::string& cluster, std::vector<StatusRow> rows, const std::string& output) {
  const std::optional<CoordinatorStatus> coordinator = ask_coordinator(config, rows);
  const CoordinatorStatus* shown = coordinator ? &*coordinator : nullptr;
  std::cout << (output == "json" ? render_status_json(cluster, rows, shown) : render_status_table(rows, shown))
            << std::flush;
}

int status_from_agent(const Config& config, const StatusRequest& request) {
  HttpRequest http;
  http.url = request.url;
  http.timeout = std::chrono::milliseconds(request.timeout_ms);
  Result<HttpClientResponse> response = http_request(http);
  if (!response.ok()) {
    std::cerr << "nodepulse status: " << response.error().message << "\n";
    return kExitFailure;
  }
  // 200 (healthy, degraded) and 503 (failing, unknown) both carry the heartbeat.
  if (response->status != 200 && response->status != 503) {
    std::cerr << "nodepulse status: the agent answered HTTP " << response->status << "\n";
    return kExitFailure;
  }
  Result<NodeReport> report = parse_node_payload(response->body, config.balancer.max_payload_bytes);
  const std::string node_id = report.ok() ? report->node_id : "?";
  print(config, report.ok() ? report->cluster : "", {status_row(node_id, report, false, wall_ms())}, request.output);
  return kExitOk;
}

}  // namespace

int run_status(const Config& config, const StatusRequest& request) {
  // stdout is the answer; logs go to stderr, and only warnings unless asked for more.
  spdlog::set_default_logger(spdlog::stderr_color_mt("status"));
  if (auto level = set_log_level(config.log.level == "info" ? "error" : config.log.level); !level) return kExitConfigError;
  if (!request.url.empty()) return status_from_agent(config, request);
  if (config.zookeeper.connect.empty()) {
    std::cerr << "nodepulse status: give --zk HOST:PORT[,...] (or zookeeper.connect in --config), or --url\n";
    return kExitConfigError;
  }
  zk::ClientOptions options;
  options.connect = config.zookeeper.connect;
  options.session_timeout = std::chrono::milliseconds(config.zookeeper.session_timeout_ms);
  if (!config.zookeeper.auth_file.empty()) {
    Result<std::string> digest = read_digest_credentials(config.zookeeper.auth_file);
    if (!digest.ok()) {
      std::cerr << "nodepulse status: " << digest.error().message << "\n";
      return kExitConfigError;
    }
    options.digest = std::move(digest).value();
  }
  const auto timeout = std::chrono::milliseconds(request.timeout_ms);
  Result<std::unique_ptr<zk::ZkClient>> client = zk::ZkClient::connect(options, timeout);
  if (!client.ok()) {
    std::cerr << "nodepulse status: " << client.error().message << "\n";
    return kExitFailure;
  }
  Result<ClusterReading> reading =
      read_cluster(**client, cluster_paths(config.zookeeper.root, config.cluster), config.balancer.max_payload_bytes,
                   timeout);
  if (!reading.ok()) {
    std::cerr << "nodepulse status: " << reading.error().message << "\n";
    return kExitFailure;
  }
  print(config, config.cluster, status_rows(*reading, wall_ms()), request.output);
  return kExitOk;
}

}  // namespace nodepulse
