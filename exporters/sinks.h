// Every configured heartbeat sink. Adding a sink is one entry in make_sinks().
#pragma once

#include <memory>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "sink.h"

namespace nodepulse {

// The sinks the config turns on (a sink whose key is empty is off). A sink that cannot be set
// up at all (e.g. an agent-check address that cannot be bound) is a start-up error.
Result<std::vector<std::unique_ptr<Sink>>> make_sinks(const Config& config);

}  // namespace nodepulse
