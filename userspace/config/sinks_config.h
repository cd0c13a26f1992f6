// The sinks' keys and their defaults: http, agent_check, zookeeper, heartbeat, keepalived, alerts
// (read, checked and rendered in sinks_config.cpp). The trino sink's keys are in trino_config.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nodepulse {

// One alerts.exec entry: a command run by /bin/sh -c on each state change.
struct ExecHookSpec {
  std::string command;        // required; never logged (it may hold secrets)
  uint32_t timeout_ms = 5000;  // then the hook's process group is killed
};

// One alerts.webhooks entry: a plain http:// URL that gets the heartbeat JSON on each state change.
struct WebhookSpec {
  std::string url;             // required; only its origin is ever logged
  uint32_t timeout_ms = 5000;  // per attempt
  uint32_t retries = 2;        // attempts after the first, on no answer, 5xx or 429
  // A secret sent with every POST, read at start-up from a file or from the environment (at most
  // one of the two; both "" = none), never written in the config itself, so a config can be
  // shared, printed and logged. Never logged, never in /health, /metrics or `check`.
  std::string token_file;                      // absolute path; its content, trimmed, is the token
  std::string token_env;                       // name of an environment variable holding the token
  std::string token_header = "Authorization";  // Authorization: "Bearer TOKEN"; any other header: TOKEN as is
};

struct HttpConfig {
  std::string listen = "127.0.0.1:9477";
};

struct AgentCheckConfig {
  std::string listen;  // "" = off
  // A degraded node whose weight is below this answers "drain" instead of "up W%"; 0 = never.
  uint32_t drain_below_weight = 0;
};

struct ZookeeperConfig {
  std::string connect;  // "" = off
  std::string root = "/nodepulse";
  uint32_t session_timeout_ms = 4000;
  // A file holding "user:password" for ZooKeeper digest auth; the znodes are then writable by
  // that identity only. "" = no auth. Its content is never logged or shown.
  std::string auth_file;
};

struct HeartbeatConfig {
  uint32_t interval_ms = 1000;
};

struct KeepalivedConfig {
  std::string track_file;  // "" = off
  // The integer written per state; keepalived multiplies it by the track_file's weight, and a
  // product below -253 (or, with weight 0, any non-zero value) is a FAULT that gives up the VIP.
  int32_t healthy_value = 0;
  int32_t degraded_value = 0;
  int32_t failing_value = -254;
  int32_t unknown_value = 0;
};

struct AlertsConfig {
  std::vector<ExecHookSpec> exec;
  std::vector<WebhookSpec> webhooks;
  std::string alertmanager_url;  // http://HOST:PORT of Alertmanager; "" = off
  uint32_t alertmanager_timeout_ms = 5000;
};

}  // namespace nodepulse
