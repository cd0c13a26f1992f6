// Where a running Trino keeps its etc/ directory, from its command line (the launcher's
// --etc-dir, or -Dconfig=<etc>/config.properties).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>

#include "config/config.h"

namespace nodepulse {

// The etc dir process `tgid` was started with, made absolute against its working directory;
// nullopt when its command line names none (or it is gone).
std::optional<std::filesystem::path> etc_dir_of_process(pid_t tgid, const std::filesystem::path& proc_root = "/proc");

// When trino.etc_dir does not exist but a running target names an etc dir that does, use that
// one instead (returns it, for the log). An existing trino.etc_dir is never overridden.
std::optional<std::filesystem::path> adopt_running_trino_etc_dir(Config& config,
                                                                const std::filesystem::path& proc_root = "/proc");

}  // namespace nodepulse
