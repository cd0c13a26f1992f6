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
int run_version();

const char* version_string();

}  // namespace nodepulse
