// nodepulse's configuration: the keys of docs/design.md, every one with a documented default.
// Later features add keys (and their reading) to their section's file; none is ever renamed.
// Each section owns one pair of files: its struct with the defaults (*_config.h) and its reading,
// checks and rendering (*_config.cpp); schema.h lists them in the order the keys are read.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/agent_config.h"
#include "config/balancer_config.h"
#include "config/health_config.h"
#include "config/memory_config.h"
#include "config/network_config.h"
#include "config/sched_config.h"
#include "config/sinks_config.h"
#include "config/trino.h"
#include "config/trino_config.h"

namespace nodepulse {

struct Config {
  using Node = NodeConfig;
  using Trino = TrinoConfig;
  using Network = NetworkConfig;
  using Http = HttpConfig;
  using AgentCheck = AgentCheckConfig;
  using Zookeeper = ZookeeperConfig;
  using Heartbeat = HeartbeatConfig;
  using Keepalived = KeepalivedConfig;
  using Alerts = AlertsConfig;
  using Log = LogConfig;
  using Sched = SchedConfig;
  using Probes = ProbesConfig;
  using Memory = MemoryConfig;
  using Health = HealthConfig;
  using Collect = CollectConfig;
  using Metrics = MetricsConfig;
  using Balancer = BalancerConfig;

  std::string cluster = "default";
  Node node;
  Trino trino;
  std::vector<TargetSpec> targets = {kDefaultTarget};
  Network network;
  Http http;
  AgentCheck agent_check;
  Zookeeper zookeeper;
  Heartbeat heartbeat;
  Keepalived keepalived;
  Alerts alerts;
  Log log;
  Sched sched;
  Probes probes;
  Memory memory;
  Health health;
  Collect collect;
  Metrics metrics;
  Balancer balancer;
};

// Parses YAML text (empty text = all defaults), then applies `overrides` ("key.path=value",
// value parsed as YAML, so "network.ports=[8080,2181]" works), then validates.
// Unknown keys, wrong types and impossible values are errors whose message names the key and
// where it came from: "FILE:LINE:COLUMN: network.ports[1]: expected a port number 1-65535", or
// "--set network.ports: ..." for an override. Every error from here means exit code 2.
Result<Config> parse_config(std::string_view yaml_text, std::string_view source_name,
                            const std::vector<std::string>& overrides);

// Reads `file` (if given) and calls parse_config. A missing or unreadable file is an error.
Result<Config> load_config(const std::optional<std::filesystem::path>& file,
                           const std::vector<std::string>& overrides);

// The configuration rendered back as YAML with every key, for `nodepulse check` and docs.
std::string to_yaml(const Config& config);

}  // namespace nodepulse
