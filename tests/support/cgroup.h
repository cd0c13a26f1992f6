// A memory-limited cgroup for kernel tests, on cgroup v1 (this project's test machine: the
// memory controller under /sys/fs/cgroup/memory) or pure cgroup v2 (most users' machines).
// Made in the constructor; in the destructor — also when an assertion failed half-way —
// every process left in it is SIGKILLed by its PID, and the directories are removed.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "process.h"

namespace nodepulse::testing {

class MemoryCgroup {
 public:
  enum class Layout {
    kV1,  // memory controller in a v1 hierarchy (cgroup_root/memory), v2 at cgroup_root/unified if any
    kV2,  // pure cgroup v2 at cgroup_root
  };

  // Which layout this machine has, or nullopt without a usable memory controller.
  static std::optional<Layout> detect(const std::filesystem::path& cgroup_root = "/sys/fs/cgroup") {
    std::error_code ignored;
    if (std::filesystem::exists(cgroup_root / "cgroup.controllers", ignored)) {
      if (read_file(cgroup_root / "cgroup.controllers").find("memory") != std::string::npos) return Layout::kV2;
      return std::nullopt;
    }
    if (std::filesystem::exists(cgroup_root / "memory" / "memory.limit_in_bytes", ignored)) return Layout::kV1;
    return std::nullopt;
  }

  // A fresh cgroup limited to `limit_bytes` of memory, with swap kept out of it so the limit
  // is hard (reclaim, then the OOM killer). Throws std::runtime_error.
  explicit MemoryCgroup(uint64_t limit_bytes, const std::filesystem::path& cgroup_root = "/sys/fs/cgroup") {
    const auto layout = detect(cgroup_root);
    if (!layout) throw std::runtime_error("no cgroup memory controller under " + cgroup_root.string());
    layout_ = *layout;
    try {
      make(cgroup_root, unique_name(), limit_bytes);
    } catch (...) {
      remove_all_made();  // no destructor runs for a constructor that threw
      throw;
    }
  }

  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;
  ~MemoryCgroup() { remove_all_made(); }

  // Moves `pid` into the cgroup (into both of them on the hybrid layout).
  void add(pid_t pid) const {
    write_file(*memory_dir_ / "cgroup.procs", std::to_string(pid));
    if (unified_dir_ && unified_dir_ != memory_dir_) write_file(*unified_dir_ / "cgroup.procs", std::to_string(pid));
  }

  Layout layout() const { return layout_; }
  // The cgroup that holds the limit.
  const std::filesystem::path& memory_dir() const { return *memory_dir_; }
  // The v2 cgroup (where PSI is accounted), if this machine has a v2 hierarchy.
  const std::optional<std::filesystem::path>& unified_dir() const { return unified_dir_; }

  // The id the kernel gives a cgroup (kernfs_node::id): its directory's inode number on 64-bit.
  static uint64_t cgroup_id(const std::filesystem::path& dir) {
    struct stat info{};
    if (::stat(dir.c_str(), &info) != 0) return 0;
    return info.st_ino;
  }

  static std::vector<pid_t> pids_in(const std::filesystem::path& dir) {
    std::vector<pid_t> pids;
    std::istringstream in(read_file(dir / "cgroup.procs"));
    pid_t pid = 0;
    while (in >> pid) pids.push_back(pid);
    return pids;
  }

  static std::string read_file(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  void make(const std::filesystem::path& cgroup_root, const std::string& name, uint64_t limit_bytes) {
    if (layout_ == Layout::kV1) {
      memory_dir_ = make_dir(cgroup_root / "memory" / name);
      write_file(*memory_dir_ / "memory.limit_in_bytes", std::to_string(limit_bytes));
      // memsw (memory + swap) exists only with swap accounting; it may not be below the limit.
      if (std::filesystem::exists(*memory_dir_ / "memory.memsw.limit_in_bytes")) {
        write_file(*memory_dir_ / "memory.memsw.limit_in_bytes", std::to_string(limit_bytes));
      }
      // PSI is accounted on the v2 hierarchy only: on the hybrid layout the process joins a v2
      // cgroup too, so its memory.pressure is its own rather than the root's.
      if (std::filesystem::exists(cgroup_root / "unified" / "cgroup.procs")) {
        unified_dir_ = make_dir(cgroup_root / "unified" / name);
      }
      return;
    }
    // The controller must be enabled for the root's children; harmless when it already is.
    write_file(cgroup_root / "cgroup.subtree_control", "+memory");
    memory_dir_ = make_dir(cgroup_root / name);
    unified_dir_ = memory_dir_;
    write_file(*memory_dir_ / "memory.max", std::to_string(limit_bytes));
    if (std::filesystem::exists(*memory_dir_ / "memory.swap.max")) write_file(*memory_dir_ / "memory.swap.max", "0");
  }

  void remove_all_made() {
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) empty_and_remove(*it);
    made_.clear();
  }

  static std::string unique_name() {
    static std::atomic<int> counter{0};
    return "nodepulse_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  }

  std::filesystem::path make_dir(const std::filesystem::path& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0) {
      throw std::runtime_error("mkdir " + dir.string() + ": " + std::strerror(errno));
    }
    made_.push_back(dir);
    return dir;
  }

  static void write_file(const std::filesystem::path& file, const std::string& value) {
    std::ofstream out(file);
    out << value;
    out.flush();
    if (!out) throw std::runtime_error("writing '" + value + "' to " + file.string() + " failed");
  }

  // Kills what is left in `dir` by PID, waits (bounded) for it to empty, then removes it. A
  // memory cgroup refuses rmdir (EBUSY) for a moment while killed tasks finish exiting.
  static void empty_and_remove(const std::filesystem::path& dir) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      for (pid_t pid : pids_in(dir)) ::kill(pid, SIGKILL);
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  Layout layout_ = Layout::kV1;
  std::optional<std::filesystem::path> memory_dir_;
  std::optional<std::filesystem::path> unified_dir_;
  std::vector<std::filesystem::path> made_;  // in creation order; removed in reverse
};

// A forked child placed in a cgroup and held at a gate until go(), so the test can register
// it (as a target, say) before it does anything. Killed by PID and reaped with its owner.
class GatedChild {
 public:
  GatedChild(const MemoryCgroup& cgroup, std::function<void()> body,
             std::chrono::seconds deadline = std::chrono::seconds(30))
      : child_(fork_child(std::move(body), deadline)) {
    ::close(gate_[0]);
    gate_[0] = -1;
    cgroup.add(child_.pid());
  }
  GatedChild(const GatedChild&) = delete;
  GatedChild& operator=(const GatedChild&) = delete;
  ~GatedChild() {
    if (gate_[1] >= 0) ::close(gate_[1]);  // an ungated child reads EOF and exits
  }

  void go() {
    const char open = 'g';
    const bool sent = ::write(gate_[1], &open, 1) == 1;
    ::close(gate_[1]);
    gate_[1] = -1;
    if (!sent) throw std::runtime_error("could not open the gate");
  }

  ChildProcess& child() { return child_; }
  pid_t pid() const { return child_.pid(); }

 private:
  ChildProcess fork_child(std::function<void()> body, std::chrono::seconds deadline) {
    if (::pipe(gate_) != 0) throw std::runtime_error("pipe failed");
    const int read_end = gate_[0];
    const int write_end = gate_[1];
    return ChildProcess::fork_and_run(
        [read_end, write_end, body = std::move(body)] {
          ::close(write_end);
          char open = 0;
          if (::read(read_end, &open, 1) != 1 || open != 'g') ::_exit(3);  // the test gave up
          body();
        },
        deadline);
  }

  int gate_[2] = {-1, -1};  // before child_: fork_child fills it
  ChildProcess child_;
};

}  // namespace nodepulse::testing
