// The trino keys and their defaults (read, checked and rendered in trino_config.cpp); what
// Trino's own etc/ says is read by trino.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/trino.h"

namespace nodepulse {

struct TrinoConfig {
  std::string etc_dir = "/etc/trino";
  // The trino sink (exporters/trino): take this worker out of Trino's scheduling while it is
  // failing, through its node-state API, under a cluster-wide budget held in ZooKeeper.
  //   off      - never touch Trino's state (the default)
  //   auto     - the reversible drain (DRAINING, back to ACTIVE) where the running Trino has it;
  //              on a Trino without it, nothing is done and the agent says so
  //   shutdown - the one-way SHUTTING_DOWN: the worker exits once its tasks finish, so a
  //              supervisor must restart it
  std::string drain = "off";
  // The local Trino's base URL; "" = http(s)://127.0.0.1:PORT from etc/config.properties.
  std::string url;
  std::string user = "nodepulse";  // X-Trino-User, and the basic-auth user with a password
  // Basic auth: the password read at start-up from a file or an environment variable (at most
  // one; both "" = none), never from this config. Never logged or shown.
  std::string password_file;
  std::string password_env;
  std::string ca_file;           // PEM CA bundle for an https:// Trino; "" = the system's
  uint32_t timeout_ms = 1000;    // per request to Trino
  // Never more than this fraction of the workers (live znodes under nodes/) drained at once.
  double max_unhealthy_fraction = 0.34;
  // Without ZooKeeper nothing new is drained; a drain already made is kept this long (the
  // slot may be gone), then undone: fail static, never fail closed across the fleet.
  uint32_t zk_loss_hold_ms = 10000;
  // The coordinator's base URL, for `nodepulse status` and the balancer to show Trino's own
  // view (GET /v1/node, /v1/node/failed) beside nodepulse's; "" = not shown.
  std::string coordinator_url;
  // Not config keys: what etc_dir held, filled at start-up by resolve_trino_settings (trino.h)
  // for the heartbeat payload and `nodepulse check`.
  TrinoNodeInfo detected;
  std::vector<std::string> warnings;
};

}  // namespace nodepulse
