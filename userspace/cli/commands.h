// The subcommands of the nodepulse binary. Each returns the process exit code.
#pragma once

#include "config/config.h"

namespace nodepulse {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // a start-up failure or a failed check
inline constexpr int kExitConfigError = 2;  // bad config file, key or value

int run_agent(const Config& config);
int run_check(const Config& config, const std::string& config_source);
// `check --health`: GET the agent's /health (`url`, or the one of config.http.listen); 0 on 200,
// kExitFailure on anything else, unreachable included.
int run_health_check(const Config& config, const std::string& url, unsigned timeout_ms);
int run_version();
// `balancer`: watch the cluster's heartbeats in ZooKeeper and drive the local nginx / HAProxy /
// Trino Gateway until SIGINT or SIGTERM (then kExitOk).
int run_balancer(const Config& config);

// `status`: where to read from and how to print. --zk/--cluster/--root arrive as config overrides.
struct StatusRequest {
  std::string url;               // one agent's /health instead of ZooKeeper; "" = ZooKeeper
  std::string output = "table";  // table | json
  unsigned timeout_ms = 5000;    // connecting and each read
};
// Prints the cluster's nodes (state, weight, reasons, heartbeat age); kExitOk when it could read,
// kExitFailure when ZooKeeper or the agent did not answer, kExitConfigError on bad usage.
int run_status(const Config& config, const StatusRequest& request);

const char* version_string();

}  // namespace nodepulse
