// Pieces shared by the real-fault end-to-end tests (tests/e2e/fault_*_test.cpp) and the
// detection benchmark (bench/detection.cpp): a `nodepulse agent` child with a config file the
// caller writes, the sick-able targets (tests/e2e/fault_target.cpp, tests/e2e/java/FaultJvm.java),
// and the faults themselves: CPU starvation (cpu_starvation.h), and the v1
// memory cgroup's OOM notification (an eventfd) that marks an OOM kill's onset.
// Everything a test starts is killed by its own PID and reaped when its owner goes.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agent_check_client.h"
#include "cgroup.h"
#include "cpu_starvation.h"
#include "http_client.h"
#include "java.h"
#include "process.h"
#include "services.h"

namespace nodepulse::testing {

// The Java ZooKeeper client and a logger that says nothing, for FaultJvm's session.
inline constexpr const char* kZooKeeperClientClasspath =
    "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-api.jar:"
    "/usr/share/java/slf4j-nop.jar";

inline uint64_t clock_now_ns(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

// CLOCK_REALTIME minus CLOCK_MONOTONIC, to put a heartbeat's wall-clock ts_ms on the monotonic
// time line of the kernel's and the JVM's timestamps.
inline int64_t realtime_minus_monotonic_ns() {
  const uint64_t before = clock_now_ns(CLOCK_MONOTONIC);
  const uint64_t real = clock_now_ns(CLOCK_REALTIME);
  const uint64_t after = clock_now_ns(CLOCK_MONOTONIC);
  return static_cast<int64_t>(real) - static_cast<int64_t>(before + (after - before) / 2);
}

// `nodepulse agent --config DIR/nodepulse.yaml`, its output in DIR/agent.log.
class FaultAgent {
 public:
  FaultAgent(const std::filesystem::path& dir, const std::string& yaml, uint16_t http_port)
      : log_(dir / "agent.log"), http_port_(http_port) {
    write_text(dir / "nodepulse.yaml", yaml);
    child_.emplace(ChildProcess::spawn({NODEPULSE_BINARY, "agent", "--config", (dir / "nodepulse.yaml").string()},
                                       log_.string()));
    if (!wait_until([&] { return alive() && http_get(http_port_, "/health").has_value(); }, std::chrono::seconds(30))) {
      throw std::runtime_error("the agent did not serve /health:\n" + log());
    }
  }

  bool alive() {
    if (!child_ || exit_status_) return false;
    exit_status_ = child_->wait_for_exit(std::chrono::milliseconds(0));
    return !exit_status_;
  }
  pid_t pid() const { return child_->pid(); }
  // The log, and how the agent ended if it did.
  std::string log() const {
    std::string text = file_text(log_);
    if (exit_status_) {
      text += WIFSIGNALED(*exit_status_) ? "\n(the agent was killed by signal " + std::to_string(WTERMSIG(*exit_status_)) + ")"
                                         : "\n(the agent exited with status " + std::to_string(WEXITSTATUS(*exit_status_)) + ")";
    }
    return text;
  }
  ChildProcess& process() { return *child_; }

  // /health's status and the payload's state ("" when it does not answer).
  std::pair<int, std::string> health() const {
    const auto reply = http_get(http_port_, "/health");
    if (!reply) return {0, ""};
    const auto json = nlohmann::json::parse(reply->body, nullptr, false);
    return {reply->status, json.is_object() ? json.value("state", "") : ""};
  }

 private:
  std::filesystem::path log_;
  uint16_t http_port_;
  std::optional<int> exit_status_;
  std::optional<ChildProcess> child_;
};

// The command line of tests/e2e/fault_target.cpp (its header says what each option does).
inline std::vector<std::string> fault_target_argv(const std::string& token, uint16_t http_port = 0,
                                                  const std::string& zk_connect = "", const std::string& zk_path = "",
                                                  int zk_session_ms = 4000) {
  std::vector<std::string> argv{NODEPULSE_FAULT_TARGET, token};
  if (http_port != 0) argv.insert(argv.end(), {"--http", std::to_string(http_port)});
  if (!zk_connect.empty()) argv.insert(argv.end(), {"--zk", zk_connect, zk_path, std::to_string(zk_session_ms)});
  return argv;
}

// Runs argv in a child that has joined `cgroup` before the exec, so the program never runs
// outside the memory limit.
class CgroupedProcess {
 public:
  CgroupedProcess(const MemoryCgroup& cgroup, std::vector<std::string> argv, const std::string& log_path)
      : gated_(cgroup, [argv = std::move(argv), log_path] {
          ::alarm(0);  // fork_and_run's deadline: the program bounds its own life
          exec_with_log(argv, log_path);
        }, std::chrono::seconds(600)) {
    gated_.go();
  }
  pid_t pid() const { return gated_.pid(); }
  ChildProcess& child() { return gated_.child(); }

 private:
  GatedChild gated_;
};

// The v1 memory cgroup's OOM notification: an eventfd registered on memory.oom_control through
// cgroup.event_control. The kernel signals it when the cgroup runs out of memory, just before
// the OOM killer picks its victim (mem_cgroup_out_of_memory → mem_cgroup_oom_notify).
class OomNotification {
 public:
  explicit OomNotification(const std::filesystem::path& memory_dir) {
    event_fd_ = ::eventfd(0, EFD_CLOEXEC);
    control_fd_ = ::open((memory_dir / "memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC);
    if (event_fd_ < 0 || control_fd_ < 0) throw std::runtime_error("OomNotification: eventfd or memory.oom_control");
    write_text(memory_dir / "cgroup.event_control", std::to_string(event_fd_) + " " + std::to_string(control_fd_));
  }
  OomNotification(const OomNotification&) = delete;
  OomNotification& operator=(const OomNotification&) = delete;
  ~OomNotification() {
    ::close(event_fd_);
    ::close(control_fd_);
  }

  // CLOCK_MONOTONIC ns when the notification was read, or nullopt after `timeout`.
  std::optional<uint64_t> wait(std::chrono::milliseconds timeout) const {
    pollfd entry{event_fd_, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    const uint64_t at = clock_now_ns(CLOCK_MONOTONIC);
    uint64_t count = 0;
    (void)::read(event_fd_, &count, sizeof count);
    return at;
  }

 private:
  int event_fd_ = -1;
  int control_fd_ = -1;
};

// tests/e2e/java/FaultJvm.java, started and told to pause.
class FaultJvm {
 public:
  // `http_port` 0: no HTTP; `zk_connect` "": no ZooKeeper session.
  FaultJvm(const std::filesystem::path& dir, const std::string& token, uint16_t http_port = 0,
           const std::string& zk_connect = "", const std::string& zk_path = "", int zk_session_ms = 4000)
      : dir_(dir) {
    std::filesystem::create_directories(dir_);
    const std::filesystem::path classes = compile_java("FaultJvm", "tests/e2e/java", kZooKeeperClientClasspath);
    std::vector<std::string> options{"-XX:+UseSerialGC", "-Xmx64m", "-XX:-TieredCompilation", "-Xbatch",
                                     "-XX:-UseCountedLoopSafepoints"};
    const auto logs = pause_log_options(dir_ / "gc.log", dir_ / "safepoint.log");
    options.insert(options.end(), logs.begin(), logs.end());
    std::vector<std::string> args{dir_.string(), token};
    if (http_port != 0) args.push_back(std::to_string(http_port));
    if (!zk_connect.empty()) args.insert(args.end(), {zk_connect, zk_path, std::to_string(zk_session_ms)});
    child_.emplace(start_java(classes.string() + ":" + kZooKeeperClientClasspath, options, "FaultJvm", args,
                              dir_ / "stdout.log"));
    if (!wait_for_file(dir_ / "ready", std::chrono::seconds(60), [&] { return alive(); })) {
      throw std::runtime_error("FaultJvm did not get ready:\n" + read_text(dir_ / "stdout.log"));
    }
  }

  bool alive() { return child_ && !child_->wait_for_exit(std::chrono::milliseconds(0)).has_value(); }
  pid_t pid() const { return child_->pid(); }

  // Starts pause number `next_` of about `ms`; returns its number.
  int pause(int ms) {
    const std::string name = "go." + std::to_string(next_);
    write_text(dir_ / (name + ".tmp"), std::to_string(ms) + "\n");
    std::filesystem::rename(dir_ / (name + ".tmp"), dir_ / name);
    return next_++;
  }

  bool wait_done(int n, std::chrono::milliseconds timeout) {
    return wait_for_file(dir_ / ("done." + std::to_string(n)), timeout, [&] { return alive(); });
  }

  // The JVM's own record of its safepoints (CLOCK_MONOTONIC ns), written as each ends.
  std::vector<LoggedPause> safepoints() const { return parse_safepoint_log(read_text(dir_ / "safepoint.log")); }

  // The longest safepoint that began at or after `from_ns`, if the log has one.
  std::optional<LoggedPause> longest_safepoint_since(uint64_t from_ns) const {
    std::optional<LoggedPause> longest;
    for (const LoggedPause& pause : safepoints()) {
      if (pause.begin_ns() >= from_ns && (!longest || pause.duration_ns > longest->duration_ns)) longest = pause;
    }
    return longest;
  }

  std::string output() const { return read_text(dir_ / "stdout.log"); }

 private:
  std::filesystem::path dir_;
  int next_ = 0;
  std::optional<ChildProcess> child_;
};

}  // namespace nodepulse::testing
