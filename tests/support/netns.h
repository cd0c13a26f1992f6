// Network namespaces for tests: created with `ip netns add`, joined by a veth pair, deleted
// when their owner goes out of scope — also when an assertion fails half-way. Deleting a
// namespace takes its interfaces, addresses, routes, iptables rules and sysctls with it.
//
// Names are "npt<pid>-<n><tag>", so parallel test processes never collide, and a namespace left
// behind by a test process that was killed is recognised (its pid is gone) and deleted by the
// next one.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace nodepulse::testing {

struct CommandResult {
  int status = -1;  // exit code; -1 when it did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs argv (PATH searched) to completion and returns its exit code and output.
inline CommandResult run_command(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  CommandResult result;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0) result.output.append(buffer, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Runs argv and throws, with the command and its output, unless it exits 0.
inline void must_run(const std::vector<std::string>& argv) {
  const CommandResult result = run_command(argv);
  if (result.status != 0) {
    std::string command;
    for (const std::string& arg : argv) command += (command.empty() ? "" : " ") + arg;
    throw std::runtime_error("`" + command + "` exited " + std::to_string(result.status) + ": " + result.output);
  }
}

class NetNamespace {
 public:
  // A fresh, empty namespace with its loopback up.
  explicit NetNamespace(const std::string& tag) : name_(unique_name(tag)) {
    delete_orphans();
    must_run({"ip", "netns", "add", name_});
    try {
      must_run({"ip", "-n", name_, "link", "set", "lo", "up"});
    } catch (...) {
      remove();
      throw;
    }
  }
  NetNamespace(const NetNamespace&) = delete;
  NetNamespace& operator=(const NetNamespace&) = delete;
  ~NetNamespace() { remove(); }

  const std::string& name() const { return name_; }
  std::string path() const { return "/var/run/netns/" + name_; }

  // Runs argv inside the namespace (`ip netns exec`); throws unless it exits 0.
  void exec(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"ip", "netns", "exec", name_});
    must_run(argv);
  }

  // `ip -n NAME ARGS...`
  void ip(std::vector<std::string> args) const {
    args.insert(args.begin(), {"ip", "-n", name_});
    must_run(args);
  }

  // Calls `body` on a thread that has entered the namespace and returns what it returns.
  // Sockets made there belong to the namespace for their whole life, whichever thread uses
  // them later.
  template <class F>
  auto run_in(F&& body) const -> decltype(body()) {
    using R = decltype(body());
    std::exception_ptr failure;
    std::optional<std::conditional_t<std::is_void_v<R>, int, R>> result;
    std::thread thread([&] {
      try {
        const int fd = ::open(path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw std::runtime_error("open " + path() + ": " + std::strerror(errno));
        const int entered = ::setns(fd, CLONE_NEWNET);
        const int setns_errno = errno;
        ::close(fd);
        if (entered != 0) throw std::runtime_error("setns " + path() + ": " + std::strerror(setns_errno));
        if constexpr (std::is_void_v<R>) {
          body();
          result = 0;
        } else {
          result = body();
        }
      } catch (...) {
        failure = std::current_exception();
      }
    });
    thread.join();
    if (failure) std::rethrow_exception(failure);
    if constexpr (!std::is_void_v<R>) return std::move(*result);
  }

  // Writes a per-namespace sysctl, e.g. sysctl("net/ipv4/tcp_syn_retries", "1").
  void sysctl(const std::string& key, const std::string& value) const {
    run_in([&] {
      std::ofstream file("/proc/sys/" + key);
      file << value;
      file.flush();
      if (!file) throw std::runtime_error("cannot write /proc/sys/" + key);
    });
  }

 private:
  static constexpr const char* kPrefix = "npt";

  static std::string unique_name(const std::string& tag) {
    static std::atomic<int> counter{0};
    return std::string(kPrefix) + std::to_string(::getpid()) + "-" + std::to_string(counter++) + tag;
  }

  // Namespaces of test processes that died before their destructors ran.
  static void delete_orphans() {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/var/run/netns", error)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(kPrefix, 0) != 0) continue;
      const size_t dash = name.find('-');
      if (dash == std::string::npos) continue;
      const std::string digits = name.substr(std::strlen(kPrefix), dash - std::strlen(kPrefix));
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
      const pid_t owner = static_cast<pid_t>(std::stol(digits));
      if (owner == ::getpid() || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
      run_command({"ip", "netns", "del", name});
    }
  }

  void remove() {
    if (!name_.empty()) run_command({"ip", "netns", "del", name_});
  }

  std::string name_;
};

// Two namespaces joined by a veth pair ("veth0" in each), each side with an IPv4 and an IPv6
// address of its own. The addresses exist only inside these namespaces, so they can be the
// same for every pair. Neighbours are entered statically: no ARP or neighbour discovery runs,
// so the first packet is not held up (an unanswered first neighbour solicitation costs 1 s).
class VethPair {
 public:
  static constexpr const char* kAddressA = "10.200.0.1";
  static constexpr const char* kAddressB = "10.200.0.2";
  static constexpr const char* kAddress6A = "fd00:200::1";
  static constexpr const char* kAddress6B = "fd00:200::2";
  static constexpr const char* kDevice = "veth0";

  VethPair() : a_("a"), b_("b") {
    constexpr const char* kMacA = "02:00:00:00:00:0a";
    constexpr const char* kMacB = "02:00:00:00:00:0b";
    must_run({"ip", "link", "add", kDevice, "address", kMacA, "netns", a_.name(), "type", "veth", "peer", "name",
              kDevice, "address", kMacB, "netns", b_.name()});
    struct Side {
      const NetNamespace* ns;
      const char* v4;
      const char* v6;
      const char* peer_v4;
      const char* peer_v6;
      const char* peer_mac;
    };
    for (const Side& side : {Side{&a_, kAddressA, kAddress6A, kAddressB, kAddress6B, kMacB},
                             Side{&b_, kAddressB, kAddress6B, kAddressA, kAddress6A, kMacA}}) {
      side.ns->ip({"addr", "add", std::string(side.v4) + "/24", "dev", kDevice});
      // nodad: usable at once, not after duplicate address detection.
      side.ns->ip({"-6", "addr", "add", std::string(side.v6) + "/64", "dev", kDevice, "nodad"});
      side.ns->ip({"link", "set", kDevice, "up"});
      for (const char* peer : {side.peer_v4, side.peer_v6}) {
        side.ns->ip({"neigh", "replace", peer, "lladdr", side.peer_mac, "dev", kDevice, "nud", "permanent"});
      }
    }
  }

  const NetNamespace& a() const { return a_; }
  const NetNamespace& b() const { return b_; }

 private:
  NetNamespace a_;
  NetNamespace b_;
};

}  // namespace nodepulse::testing
