// Child processes for tests: forked or exec'd, killed by their own PID and reaped when the
// owner goes out of scope — also when an assertion fails half-way.
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace nodepulse::testing {

// Root is needed for BPF. Outside CI a non-root run skips; in CI (CI=true) it fails.
#define NODEPULSE_REQUIRE_ROOT()                                                  \
  do {                                                                            \
    if (::geteuid() != 0) {                                                       \
      const char* ci = std::getenv("CI");                                         \
      if (ci && std::string(ci) == "true") FAIL() << "this test needs root (CI=true)"; \
      GTEST_SKIP() << "needs root";                                               \
    }                                                                             \
  } while (0)

inline void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

inline int last_cpu() { return static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)) - 1; }

// The state letter ('R', 'S', 'T', 'Z', ...) of a /proc/PID/stat or /proc/PID/task/TID/stat
// file (after the ")" that ends the comm, which may itself hold one), or 0 when it is gone.
inline char proc_state(const std::string& stat_file) {
  std::ifstream stat(stat_file);
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : 0;
}
inline char proc_state(pid_t pid) { return proc_state("/proc/" + std::to_string(pid) + "/stat"); }

// For a forked child: stdout and stderr to `log_path` (when given), then argv exec'd (PATH
// searched); exits 127 if the exec fails.
[[noreturn]] inline void exec_with_log(const std::vector<std::string>& argv, const std::string& log_path) {
  if (!log_path.empty()) {
    FILE* log = std::fopen(log_path.c_str(), "w");
    if (log) {
      ::dup2(fileno(log), 1);
      ::dup2(fileno(log), 2);
    }
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

class ChildProcess {
 public:
  // Runs `body` in a forked child, which exits 0 when it returns. `deadline` bounds its life:
  // an alarm kills it even if the test forgets to.
  static ChildProcess fork_and_run(std::function<void()> body, std::chrono::seconds deadline = std::chrono::seconds(60)) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::alarm(static_cast<unsigned>(deadline.count()));
      body();
      ::_exit(0);
    }
    return ChildProcess(pid);
  }

  // Execs argv (PATH searched) in a child; stdout/stderr go to `log_path` when given.
  static ChildProcess spawn(const std::vector<std::string>& argv, const std::string& log_path = "") {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) exec_with_log(argv, log_path);
    return ChildProcess(pid);
  }

  ChildProcess(ChildProcess&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess() { kill_and_reap(); }

  pid_t pid() const { return pid_; }

  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // Waits up to `timeout` for the child to exit; returns its wait status, or nullopt.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      if (std::chrono::steady_clock::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::nullopt;
  }

  void kill_and_reap() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

// Spins until `until` without sleeping.
inline void busy_until(std::chrono::steady_clock::time_point until) {
  volatile uint64_t sink = 0;
  while (std::chrono::steady_clock::now() < until) sink = sink + 1;
}

}  // namespace nodepulse::testing
