// Finds the processes whose health matters (config `targets`) in a /proc tree.
// Pure over the filesystem: tests point proc_root at a fake tree.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace nodepulse {

struct TargetProcess {
  pid_t tgid = 0;
  uint32_t target_index = 0;  // index into Config::targets
  std::string comm;
  bool operator==(const TargetProcess&) const = default;
};

class TargetMatcher {
 public:
  // proc_root: normally "/proc". exclude_tgid: never matched (the agent itself, whose own
  // command line may well contain a cmdline_contains pattern passed with --set).
  TargetMatcher(std::vector<TargetSpec> specs, std::filesystem::path proc_root, pid_t exclude_tgid);

  // The first spec (in config order) that `tgid` matches, or nullopt. Kernel threads, vanished
  // processes and unreadable entries never match. pid_file specs re-read their file each call.
  std::optional<TargetProcess> match(pid_t tgid) const;

  // Every matching process in proc_root, sorted by tgid.
  std::vector<TargetProcess> scan() const;

  const std::vector<TargetSpec>& specs() const { return specs_; }

 private:
  std::vector<TargetSpec> specs_;
  std::filesystem::path proc_root_;
  pid_t exclude_tgid_;
};

}  // namespace nodepulse
