#include "probes/libjvm_finder.h"

#include <cerrno>
#include <fstream>
#include <sstream>

namespace nodepulse {
namespace {

constexpr std::string_view kLibjvm = "libjvm.so";
constexpr std::string_view kDeleted = " (deleted)";

// One maps line: "start-end perms offset dev inode   path". The path is the rest of the line
// after the inode and may contain spaces.
std::optional<LibjvmMapping> parse_line(std::string_view line) {
  std::string_view rest = line;
  auto next_field = [&rest]() -> std::string_view {
    const size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) {
      rest = {};
      return {};
    }
    rest.remove_prefix(start);
    const size_t end = rest.find(' ');
    std::string_view field = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    return field;
  };
  next_field();  // address range
  next_field();  // permissions
  next_field();  // offset
  next_field();  // device
  const std::string_view inode_text = next_field();
  const size_t path_start = rest.find_first_not_of(' ');
  if (inode_text.empty() || path_start == std::string_view::npos) return std::nullopt;
  std::string_view path = rest.substr(path_start);

  LibjvmMapping mapping;
  if (path.ends_with(kDeleted)) {
    mapping.deleted = true;
    path.remove_suffix(kDeleted.size());
  }
  if (path.empty() || path.front() != '/') return std::nullopt;  // [heap], [vdso], anonymous
  const size_t slash = path.rfind('/');
  if (path.substr(slash + 1) != kLibjvm) return std::nullopt;
  for (char c : inode_text) {
    if (c < '0' || c > '9') return std::nullopt;
    mapping.inode = mapping.inode * 10 + static_cast<uint64_t>(c - '0');
  }
  mapping.path = std::string(path);
  return mapping;
}

}  // namespace

std::optional<LibjvmMapping> find_libjvm_in_maps(std::string_view maps_text) {
  while (!maps_text.empty()) {
    const size_t end = maps_text.find('\n');
    const std::string_view line = maps_text.substr(0, end);
    maps_text.remove_prefix(end == std::string_view::npos ? maps_text.size() : end + 1);
    if (auto mapping = parse_line(line)) return mapping;
  }
  return std::nullopt;
}

Result<std::optional<LibjvmMapping>> find_libjvm(const std::filesystem::path& proc_root, pid_t pid) {
  const std::filesystem::path maps_path = proc_root / std::to_string(pid) / "maps";
  std::ifstream maps(maps_path);
  if (!maps) return errno_error("reading " + maps_path.string(), errno ? errno : ENOENT);
  std::ostringstream text;
  text << maps.rdbuf();
  // A process exiting under our feet reads as empty; that is "no libjvm.so", not an error.
  return find_libjvm_in_maps(text.str());
}

Result<std::string> libjvm_attach_path(const std::filesystem::path& proc_root, pid_t pid,
                                       const LibjvmMapping& mapping) {
  if (mapping.deleted) {
    return Error{mapping.path + " was replaced or removed on disk after process " + std::to_string(pid) +
                 " mapped it; its probes can be attached once the JVM restarts"};
  }
  // The mapping's path is relative to the process's root; for a process in the agent's own
  // mount namespace proc_root/PID/root/PATH is the very same file.
  return (proc_root / std::to_string(pid) / "root" / std::filesystem::path(mapping.path).relative_path()).string();
}

}  // namespace nodepulse
