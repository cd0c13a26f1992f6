// Every configured heartbeat sink. Adding a sink is one entry in make_sinks().
#pragma once

#include <prometheus/registry.h>

#include <memory>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "heartbeat/drain_board.h"
#include "sink.h"

namespace nodepulse {

// The sinks the config turns on (a sink whose key is empty is off). A sink that cannot be set
// up at all (e.g. an agent-check address that cannot be bound) is a start-up error.
// `drain_board` and `registry` serve the trino sink (trino.drain): it posts its drain status to
// the board for the heartbeats and registers nodepulse_trino_drain_* in the registry.
struct SinkContext {
  prometheus::Registry* registry = nullptr;
  std::shared_ptr<DrainStatusBoard> drain_board;
};
Result<std::vector<std::unique_ptr<Sink>>> make_sinks(const Config& config, const SinkContext& context = {});

}  // namespace nodepulse
