// Logging set-up: spdlog for the agent, with libbpf's own messages routed into it.
#pragma once

#include <string_view>

#include "common/result.h"

namespace nodepulse {

// Parses "trace|debug|info|warn|error|critical|off".
Result<void> set_log_level(std::string_view level);

// Installs a noexcept libbpf print hook that forwards to spdlog (libbpf's debug chatter at
// debug level, its warnings at warn).
void route_libbpf_log();

}  // namespace nodepulse
