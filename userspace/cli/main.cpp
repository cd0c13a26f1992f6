// nodepulse: kernel-level node health for JVM clusters. See docs/design.md for the contracts.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/log.h"
#include "collect/trino_etc.h"
#include "config/config.h"

namespace {

struct ConfigOptions {
  std::string file;
  std::vector<std::string> overrides;
};

void add_config_options(CLI::App& command, ConfigOptions& options) {
  command.add_option("-c,--config", options.file, "YAML config file; every key is optional (see README)")
      ->check(CLI::ExistingFile);
  command.add_option("--set", options.overrides,
                     "Override one key, e.g. --set http.listen=0.0.0.0:9477 or --set network.ports=[8080,2181]; "
                     "repeatable, applied after the file")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nodepulse;

  CLI::App app{"nodepulse: watches a Trino/JVM node's network, scheduler, memory and JVM pauses from the kernel\n"
               "and publishes its health (healthy, degraded, failing) to ZooKeeper, load balancers and Prometheus."};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_string());
  std::string log_level;
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off (overrides log.level)");

  ConfigOptions agent_options;
  CLI::App* agent = app.add_subcommand("agent", "Run the node agent (as root): load the BPF probes, find the target JVMs,\n"
                                                "serve /metrics on http.listen (default 127.0.0.1:9477). Ctrl-C or SIGTERM\n"
                                                "detaches everything and exits 0.");
  add_config_options(*agent, agent_options);
  agent->footer("Examples:\n  sudo nodepulse agent\n  sudo nodepulse agent --config /etc/nodepulse/agent.yaml\n"
                "  sudo nodepulse agent --set 'targets=[{name: app, comm: java}]' --set http.listen=0.0.0.0:9477");

  ConfigOptions check_options;
  CLI::App* check = app.add_subcommand("check", "Validate the config and probe the kernel (BTF, tracepoints, privileges,\n"
                                                "BPF stats); print what will load and what will not, and why. Exits 0 when\n"
                                                "everything needed will load, 1 when something will not, 2 on a bad config.");
  add_config_options(*check, check_options);
  bool health_check = false;
  std::string health_url;
  unsigned health_timeout_ms = 2000;
  check->add_flag("--health", health_check,
                  "Instead: ask the local agent's /health; exit 0 on 200 (healthy or degraded), 1 on 503 or no\n"
                  "answer. For keepalived's vrrp_script.");
  check->add_option("--url", health_url, "with --health: default http://HOST:PORT/health of http.listen")
      ->needs("--health");
  check->add_option("--timeout-ms", health_timeout_ms, "with --health: give up after this long (default 2000)")
      ->needs("--health")
      ->check(CLI::Range(1u, 600000u));

  ConfigOptions balancer_options;
  CLI::App* balancer = app.add_subcommand(
      "balancer", "Run a balancer driver (unprivileged, one per balancer host): watch the cluster's heartbeats in\n"
                  "ZooKeeper and drive the local nginx upstream file, HAProxy runtime API and Trino Gateway\n"
                  "(balancer.* keys), never draining more than balancer.max_unhealthy_fraction at once. /metrics on\n"
                  "balancer.listen (default 127.0.0.1:9479). SIGTERM or Ctrl-C exits 0, leaving the last state.");
  add_config_options(*balancer, balancer_options);
  balancer->footer("Example:\n  nodepulse balancer --config /etc/nodepulse/balancer.yaml");

  ConfigOptions status_options;
  StatusRequest status_request;
  std::string status_zk;
  std::string status_cluster;
  std::string status_root;
  std::string status_coordinator;
  CLI::App* status = app.add_subcommand(
      "status", "Print the cluster's health from ZooKeeper: every node's state, weight, reasons and the age of\n"
                "its last heartbeat; or one agent's /health with --url. With a Trino coordinator, also each node's\n"
                "drain state and the coordinator's own view (active, failed, absent), disagreements marked '!'.\n"
                "Exits 0 when it could read the heartbeats, 1 when not.");
  add_config_options(*status, status_options);
  status->add_option("--zk", status_zk, "ZooKeeper HOST:PORT[,HOST:PORT...] (zookeeper.connect)");
  status->add_option("--cluster", status_cluster, "the cluster's name (cluster; default: default)");
  status->add_option("--root", status_root, "the root znode (zookeeper.root; default /nodepulse)");
  status->add_option("--url", status_request.url, "one agent's /health instead, e.g. http://10.0.0.5:9477/health")
      ->excludes("--zk");
  status->add_option("--coordinator", status_coordinator,
                     "Trino coordinator URL, e.g. http://coord:8080, asked for GET /v1/node and /v1/node/failed\n"
                     "(trino.coordinator_url; user, password, CA and timeout_ms from trino.* in --config)");
  status->add_option("-o,--output", status_request.output, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  status->add_option("--timeout-ms", status_request.timeout_ms, "give up after this long (default 5000)")
      ->check(CLI::Range(1u, 600000u));
  status->footer("Examples:\n  nodepulse status --zk zk1:2181,zk2:2181,zk3:2181 --cluster prod\n"
                 "  nodepulse status --zk 127.0.0.1:2181 --cluster prod --output json\n"
                 "  nodepulse status --zk 127.0.0.1:2181 --cluster prod --coordinator http://coord:8080\n"
                 "  nodepulse status --url http://10.0.0.5:9477/health");

  CLI::App* version = app.add_subcommand("version", "Print the version and the libraries it was built with");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 uses code 0 for --help/--version; usage errors are config errors to us.
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitConfigError;
  }

  if (version->parsed()) return run_version();

  ConfigOptions& options = agent->parsed()      ? agent_options
                           : balancer->parsed() ? balancer_options
                           : status->parsed()   ? status_options
                                                : check_options;
  std::vector<std::string> overrides = options.overrides;
  if (!status_zk.empty()) overrides.push_back("zookeeper.connect=" + status_zk);
  if (!status_cluster.empty()) overrides.push_back("cluster=" + status_cluster);
  if (!status_root.empty()) overrides.push_back("zookeeper.root=" + status_root);
  if (!status_coordinator.empty()) overrides.push_back("trino.coordinator_url=" + status_coordinator);
  if (!log_level.empty()) overrides.push_back("log.level=" + log_level);

  std::optional<std::filesystem::path> file;
  if (!options.file.empty()) file = options.file;
  auto config = load_config(file, overrides);
  if (!config) {
    std::cerr << "nodepulse: config error: " << config.error().message << "\n";
    return kExitConfigError;
  }
  if (auto level = set_log_level(config->log.level); !level) {
    std::cerr << "nodepulse: config error: log.level: " << level.error().message << "\n";
    return kExitConfigError;
  }
  if (check->parsed() && health_check) return run_health_check(*config, health_url, health_timeout_ms);
  // Neither reads Trino's etc/ nor loads BPF: they run away from the nodes.
  if (balancer->parsed()) return run_balancer(*config);
  if (status->parsed()) return run_status(*config, status_request);
  route_libbpf_log();
  // Trino's etc/ fills node.id, node.role and network.ports left at their defaults; never fatal.
  if (auto adopted = adopt_running_trino_etc_dir(*config)) {
    spdlog::info("trino: using {} from the running Trino's command line (trino.etc_dir does not exist)",
                 adopted->string());
  }
  for (const std::string& warning : resolve_trino_settings(*config)) spdlog::warn("trino: {}", warning);

  if (agent->parsed()) return run_agent(*config);
  return run_check(*config, options.file.empty() ? "built-in defaults" : options.file);
}
