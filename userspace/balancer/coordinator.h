// Asking the coordinator of trino.coordinator_url for its view (GET /v1/node, /v1/node/failed),
// as `nodepulse status` and the balancer both do, with trino.user, the password from
// trino.password_file / password_env, trino.ca_file, and trino.timeout_ms per request; and the
// system resolver the Trino view matches host names with.
#pragma once

#include <chrono>
#include <memory>

#include "balancer/trino_view.h"
#include "config/config.h"
#include "trino/trino_client.h"

namespace nodepulse {

// An error for an unreadable password or a bad URL; makes no request.
Result<std::unique_ptr<trino::Client>> coordinator_client(const Config::Trino& trino);

// Both lists, or the first error (a coordinator that does not answer the first is not asked the
// second, so an unreachable one costs one timeout).
Result<CoordinatorNodes> read_coordinator(trino::Client& client);

// getaddrinfo, each name's answer kept for `ttl`, so a poll every few seconds costs no lookups.
// Blocks for as long as the system resolver does: call it off any latency-sensitive thread.
// Not thread-safe: one per thread.
AddressResolver system_resolver(std::chrono::seconds ttl = std::chrono::seconds(60));

}  // namespace nodepulse
