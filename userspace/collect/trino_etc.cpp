#include "collect/trino_etc.h"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "collect/targets.h"
#include "config/trino.h"

namespace nodepulse {

std::optional<std::filesystem::path> etc_dir_of_process(pid_t tgid, const std::filesystem::path& proc_root) {
  const std::filesystem::path proc_dir = proc_root / std::to_string(tgid);
  std::ifstream in(proc_dir / "cmdline", std::ios::binary);
  const std::string cmdline{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::optional<std::filesystem::path> etc_dir = etc_dir_from_cmdline(cmdline);
  if (!etc_dir) return std::nullopt;
  if (etc_dir->is_relative()) {
    std::error_code error;
    const std::filesystem::path cwd = std::filesystem::read_symlink(proc_dir / "cwd", error);
    if (error) return std::nullopt;
    *etc_dir = cwd / *etc_dir;
  }
  return etc_dir->lexically_normal();
}

std::optional<std::filesystem::path> adopt_running_trino_etc_dir(Config& config, const std::filesystem::path& proc_root) {
  std::error_code error;
  if (config.trino.etc_dir.empty() || std::filesystem::is_directory(config.trino.etc_dir, error)) return std::nullopt;
  const TargetMatcher matcher(config.targets, proc_root, getpid());
  for (const TargetProcess& process : matcher.scan()) {
    const auto etc_dir = etc_dir_of_process(process.tgid, proc_root);
    if (etc_dir && std::filesystem::is_directory(*etc_dir, error)) {
      config.trino.etc_dir = etc_dir->string();
      return etc_dir;
    }
  }
  return std::nullopt;
}

}  // namespace nodepulse
