// Finds the libjvm.so a process has mapped, from /proc/PID/maps. Pure over the filesystem:
// tests point proc_root at a fake tree or hand maps text in directly.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace nodepulse {

struct LibjvmMapping {
  std::string path;      // as the process sees it (its own mount namespace)
  uint64_t inode = 0;
  bool deleted = false;  // replaced or removed on disk since it was mapped
  bool operator==(const LibjvmMapping&) const = default;
};

// The first mapping of a file named exactly "libjvm.so" in /proc/PID/maps text, or nullopt
// (not a JVM, or a JVM whose launcher has not loaded libjvm.so yet).
std::optional<LibjvmMapping> find_libjvm_in_maps(std::string_view maps_text);

// Reads proc_root/PID/maps. An error means the process is gone or its maps are unreadable.
Result<std::optional<LibjvmMapping>> find_libjvm(const std::filesystem::path& proc_root, pid_t pid);

// The path through which this agent opens (and attaches uprobes to) the process's libjvm.so:
// through proc_root/PID/root, so a JVM in another mount namespace (a container) is found too.
// An error for a deleted mapping: uprobes need the file, and the one on disk is not it.
Result<std::string> libjvm_attach_path(const std::filesystem::path& proc_root, pid_t pid,
                                       const LibjvmMapping& mapping);

}  // namespace nodepulse
