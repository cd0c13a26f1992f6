#include "alerts/exec_hook.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "alerts/alert_payloads.h"
#include "common/unique_fd.h"

extern char** environ;

namespace nodepulse {
namespace {

using Clock = std::chrono::steady_clock;

// How often a running hook is polled for its exit. Hooks run rarely (on state changes), so a
// few ms of latency cost nothing, and polling works on every kernel (pidfd needs 5.3).
constexpr std::chrono::milliseconds kPollInterval{5};
// After SIGKILL a process exits unless stuck in the kernel (D state); don't wait forever for it.
constexpr std::chrono::milliseconds kReapAfterKill{2000};

// The agent's environment with `extra` replacing variables of the same name.
std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> merged;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    const std::string_view name = variable.substr(0, variable.find('='));
    bool replaced = false;
    for (const std::string& override : extra) {
      if (std::string_view(override).substr(0, override.find('=')) == name) replaced = true;
    }
    if (!replaced) merged.emplace_back(variable);
  }
  merged.insert(merged.end(), extra.begin(), extra.end());
  return merged;
}

// In the forked child: only async-signal-safe calls from here to execve.
[[noreturn]] void exec_child(int dev_null, const char* const* argv, const char* const* envp) {
  ::setpgid(0, 0);
  // The agent may block signals (signalfd) or ignore SIGPIPE; both survive execve and would
  // break an ordinary shell script.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
  ::dup2(dev_null, 0);
  ::dup2(dev_null, 1);
  ::dup2(dev_null, 2);
  // Descriptors without O_CLOEXEC (libraries' sockets, BPF objects) must not leak into hooks.
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
  {
    for (int fd = 3; fd < 65536; ++fd) ::close(fd);
  }
  ::execve("/bin/sh", const_cast<char* const*>(argv), const_cast<char* const*>(envp));
  ::_exit(127);
}

}  // namespace

Result<HookOutcome> run_hook_command(const std::string& command, const std::vector<std::string>& extra_environment,
                                     std::chrono::milliseconds timeout) {
  // Everything the child needs is built before fork: after fork in a threaded process only
  // async-signal-safe calls are allowed, so no allocation there.
  const std::vector<std::string> environment = merged_environment(extra_environment);
  std::vector<const char*> envp;
  for (const std::string& entry : environment) envp.push_back(entry.c_str());
  envp.push_back(nullptr);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  UniqueFd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!dev_null.valid()) return errno_error("open /dev/null", errno);

  const Clock::time_point started = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork", errno);
  if (pid == 0) exec_child(dev_null.get(), argv, envp.data());
  // Also set here: whichever of parent and child runs first, the group exists before a kill.
  ::setpgid(pid, pid);

  const auto took = [&] { return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started); };
  const auto outcome_of = [&](int status) {
    if (WIFSIGNALED(status)) return HookOutcome{HookOutcome::Kind::kSignaled, WTERMSIG(status), took()};
    return HookOutcome{HookOutcome::Kind::kExited, WEXITSTATUS(status), took()};
  };
  const Clock::time_point deadline = started + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return outcome_of(status);
    if (done < 0 && errno != EINTR) {
      // ECHILD: someone else reaped it (SIGCHLD ignored by the process); the run is over.
      return HookOutcome{HookOutcome::Kind::kExited, 0, took()};
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  // The whole group: the shell and whatever it started (a pipeline, a sleep, curl).
  ::kill(-pid, SIGKILL);
  const Clock::time_point give_up = Clock::now() + kReapAfterKill;
  while (Clock::now() < give_up) {
    const pid_t done = ::waitpid(pid, nullptr, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  return HookOutcome{HookOutcome::Kind::kTimedOut, SIGKILL, took()};
}

ExecHookSink::ExecHookSink(ExecHookOptions options) : options_(std::move(options)) {}

Result<void> ExecHookSink::publish(const Heartbeat& heartbeat) {
  if (!heartbeat.state_changed) return ok();
  Result<HookOutcome> run = run_hook_command(options_.command, hook_environment(heartbeat), options_.timeout);
  if (!run.ok()) return Error{options_.label + ": cannot run the hook: " + run.error().message};
  const HookOutcome& outcome = *run;
  const std::string transition =
      std::string(to_string(heartbeat.previous_state)) + " -> " + std::string(to_string(heartbeat.verdict.state));
  switch (outcome.kind) {
    case HookOutcome::Kind::kExited:
      if (outcome.code == 0) {
        spdlog::info("{}: ran for {} ({} ms)", options_.label, transition, outcome.took.count());
        return ok();
      }
      return Error{options_.label + ": exited with status " + std::to_string(outcome.code) + " for " + transition};
    case HookOutcome::Kind::kSignaled:
      return Error{options_.label + ": killed by signal " + std::to_string(outcome.code) + " (" +
                   ::strsignal(outcome.code) + ") for " + transition};
    case HookOutcome::Kind::kTimedOut:
      return Error{options_.label + ": still running after " + std::to_string(options_.timeout.count()) +
                   " ms for " + transition + "; killed"};
  }
  return ok();
}

}  // namespace nodepulse
