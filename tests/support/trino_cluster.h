// A Trino-like cluster for end-to-end tests, made of real pieces the test owns:
//   - NodeNetwork: a bridge in the root namespace and one network namespace per node, joined to
//     it by a veth pair (node i at 10.201.0.(11+i), the root namespace — the balancer host — at
//     10.201.0.1);
//   - StandinJvm: tests/e2e/java/TrinoWorkerStandin.java serving a node's address inside its
//     namespace, pulling pages from the other workers as Trino workers do, with faults on
//     request (a long safepoint stall, memory growth);
//   - NodeAgent: `nodepulse agent` for one node, in the root namespace, watching the node's
//     namespace (network.netns) and its JVM (a cmdline marker unique to the node);
//   - LoadClient: a bounded client load (count and time) that records every request.
// Everything is removed by its owner — by PID, by name — also when an assertion fails half-way.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cpu_starvation.h"
#include "http_client.h"
#include "java.h"
#include "netns.h"
#include "process.h"
#include "services.h"

namespace nodepulse::testing {

// Wall-clock milliseconds since the epoch: the clock of ZooKeeper's ctime and nginx's $msec.
inline int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One HTTP/1.0 request to ADDRESS:PORT (any IPv4 address, not only loopback); nullopt when
// nothing answers within `timeout`.
inline std::optional<HttpReply> http_request(const std::string& address, uint16_t port, const std::string& method,
                                             const std::string& path,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = method + " " + path + " HTTP/1.0\r\nHost: " + address + "\r\nContent-Length: 0\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buffer[16384];
      ssize_t n;
      while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) response.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  const size_t space = response.find(' ');
  const size_t body = response.find("\r\n\r\n");
  if (space == std::string::npos || body == std::string::npos) return std::nullopt;
  return HttpReply{std::atoi(response.c_str() + space + 1), response.substr(body + 4)};
}

// ---- the network -------------------------------------------------------------------------

class NodeNetwork {
 public:
  // The balancer host's address on the bridge (the root namespace's): nginx and HAProxy bind
  // their upstream connections to it, so to a node they are one peer, as one balancer host is.
  static constexpr const char* kBalancerAddress = "10.201.0.1";
  static std::string node_address(int i) { return "10.201.0." + std::to_string(11 + i); }

  // Interface names carry the pid and an instance number: a veth's root end outlives its
  // namespace for a moment after the namespace is deleted, so a second NodeNetwork in the same
  // process must not reuse the names. At most 15 characters: "npb<pid>x<n>", "npv<pid>x<n>n<i>".
  explicit NodeNetwork(int nodes) : instance_(next_instance()), bridge_(kPrefix + std::to_string(::getpid()) + "x" + instance_) {
    delete_orphan_bridges();
    must_run({"ip", "link", "add", bridge_, "type", "bridge"});
    try {
      must_run({"ip", "addr", "add", std::string(kBalancerAddress) + "/24", "dev", bridge_});
      must_run({"ip", "link", "set", bridge_, "up"});
      for (int i = 0; i < nodes; ++i) {
        namespaces_.push_back(std::make_unique<NetNamespace>("n" + std::to_string(i + 1)));
        const NetNamespace& ns = *namespaces_.back();
        const std::string root_end = "npv" + std::to_string(::getpid()) + "x" + instance_ + "n" + std::to_string(i + 1);
        must_run({"ip", "link", "add", root_end, "type", "veth", "peer", "name", "eth0", "netns", ns.name()});
        must_run({"ip", "link", "set", root_end, "master", bridge_, "up"});
        ns.ip({"addr", "add", node_address(i) + "/24", "dev", "eth0"});
        ns.ip({"link", "set", "eth0", "up"});
      }
    } catch (...) {
      remove();
      throw;
    }
  }
  NodeNetwork(const NodeNetwork&) = delete;
  NodeNetwork& operator=(const NodeNetwork&) = delete;
  ~NodeNetwork() { remove(); }

  const NetNamespace& ns(int i) const { return *namespaces_.at(static_cast<size_t>(i)); }
  int size() const { return static_cast<int>(namespaces_.size()); }

 private:
  static constexpr const char* kPrefix = "npb";

  static std::string next_instance() {
    static std::atomic<int> counter{0};
    return std::to_string(counter++ % 100);
  }

  void remove() {
    namespaces_.clear();  // takes the veth pairs with them
    run_command({"ip", "link", "del", bridge_});
  }

  // Bridges of test processes that died before their destructors ran ("npb<pid>x<n>").
  static void delete_orphan_bridges() {
    const CommandResult links = run_command({"ip", "-o", "link", "show", "type", "bridge"});
    std::istringstream lines(links.output);
    std::string line;
    static const std::regex name(R"(^\d+: (npb(\d+)x\d+)[:@])");
    std::smatch match;
    while (std::getline(lines, line)) {
      if (!std::regex_search(line, match, name)) continue;
      const pid_t owner = static_cast<pid_t>(std::stol(match[2]));
      if (owner == ::getpid() || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
      run_command({"ip", "link", "del", match[1]});
    }
  }

  std::string instance_;
  std::string bridge_;
  std::vector<std::unique_ptr<NetNamespace>> namespaces_;
};

// Execs argv in a child that has first entered the network namespace at `netns_path` (only
// the network namespace: paths, /proc and cgroups stay the test's). The child's life is
// bounded by `deadline` (an alarm that survives exec).
inline ChildProcess spawn_in_netns(const std::string& netns_path, const std::vector<std::string>& argv,
                                   const std::string& log_path, std::chrono::seconds deadline) {
  std::vector<std::string> args = argv;  // everything allocated before fork
  return ChildProcess::fork_and_run(
      [netns_path, args, log_path] {
        const int fd = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(126);
        const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log >= 0) {
          ::dup2(log, 1);
          ::dup2(log, 2);
        }
        std::vector<char*> raw;
        for (const std::string& arg : args) raw.push_back(const_cast<char*>(arg.c_str()));
        raw.push_back(nullptr);
        ::execvp(raw[0], raw.data());
        ::_exit(127);
      },
      deadline);
}

// ---- a node's JVM ------------------------------------------------------------------------

class StandinJvm {
 public:
  static constexpr uint16_t kPort = 8080;

  // Starts the stand-in serving `address`:kPort inside `ns`. `marker` goes on its command line
  // (a -D property) so the node's agent finds this JVM and no other. It pulls a page from each
  // of `peers` (other workers' ADDRESS:PORT) every `exchange_interval`, as Trino workers do.
  StandinJvm(const NetNamespace& ns, const std::string& node_id, const std::string& address, const std::string& marker,
             const std::filesystem::path& log, const std::vector<std::string>& peers = {},
             std::chrono::milliseconds exchange_interval = std::chrono::milliseconds(50))
      : address_(address),
        process_(spawn_in_netns(ns.path(),
                                {"java", "-XX:+UseSerialGC", "-XX:-TieredCompilation", "-Xbatch",
                                 "-XX:-UseCountedLoopSafepoints", "-Xmx64m", "-XX:MaxDirectMemorySize=1g",
                                 "-Xss512k", "-XX:CICompilerCount=1", "-D" + marker, "-cp",
                                 compile_java("TrinoWorkerStandin", "tests/e2e/java").string(), "TrinoWorkerStandin",
                                 node_id, address, std::to_string(kPort), "600", join(peers),
                                 std::to_string(exchange_interval.count())},
                                log.string(), std::chrono::seconds(610))) {}

  pid_t pid() const { return process_.pid(); }
  ChildProcess& process() { return process_; }

  static std::string join(const std::vector<std::string>& items) {
    std::string text;
    for (const std::string& item : items) text += (text.empty() ? "" : ",") + item;
    return text;
  }
  const std::string& address() const { return address_; }

  std::optional<HttpReply> request(const std::string& method, const std::string& path,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(3)) const {
    return http_request(address_, kPort, method, path, timeout);
  }

  // Serving /v1/info, and calibrated for stalls (POST /control/stall answers 503 until then)
  // when `stall_ready`; false if `timeout` passed or the JVM died.
  bool wait_ready(std::chrono::milliseconds timeout, bool stall_ready) {
    return wait_until(
        [&] {
          if (::kill(pid(), 0) != 0) return false;
          const auto info = request("GET", "/v1/info", std::chrono::milliseconds(500));
          if (!info || info->status != 200) return false;
          if (!stall_ready) return true;
          const auto stall = request("POST", "/control/stall?ms=1", std::chrono::milliseconds(500));
          return stall && stall->status == 200;
        },
        timeout);
  }

 private:
  std::string address_;
  ChildProcess process_;
};

// ---- a node's agent ----------------------------------------------------------------------

class NodeAgent {
 public:
  // `config_yaml`: the agent's whole configuration (the caller knows the node). The agent's
  // /health and /metrics listen on 127.0.0.1:http_port().
  NodeAgent(const std::string& config_yaml, uint16_t http_port, const std::filesystem::path& dir,
            const std::string& name)
      : http_port_(http_port), config_(dir / (name + ".yaml")), log_(dir / (name + ".log")) {
    write_text(config_, config_yaml);
    start();
  }
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  void start() {
    if (process_) return;
    process_.emplace(ChildProcess::spawn({NODEPULSE_BINARY, "agent", "--config", config_.string()}, log_.string() + "." +
                                                                                                       std::to_string(starts_++)));
  }
  // SIGKILL, by PID, and reap: the agent dies as on a crash; its ZooKeeper session lingers
  // until the servers expire it.
  void kill() { process_.reset(); }
  bool running() const { return process_.has_value(); }
  pid_t pid() const { return process_ ? process_->pid() : 0; }

  uint16_t http_port() const { return http_port_; }
  std::optional<HttpReply> health() const { return http_get(http_port_, "/health"); }

  // The agent answers /health with a JSON body whose "state" is `state`, within `timeout`.
  bool wait_state(const std::string& state, std::chrono::milliseconds timeout) const {
    return wait_until(
        [&] {
          const auto reply = health();
          return reply && reply->body.find("\"state\":\"" + state + "\"") != std::string::npos;
        },
        timeout);
  }

  std::string log() const {
    std::string text;
    for (int i = 0; i < starts_; ++i) {
      std::string one = file_text(log_.string() + "." + std::to_string(i));
      if (one.size() > 6000) one = "..." + one.substr(one.size() - 6000);
      text += "---- " + log_.string() + "." + std::to_string(i) + "\n" + one;
    }
    return text;
  }

 private:
  uint16_t http_port_;
  std::filesystem::path config_;
  std::filesystem::path log_;
  int starts_ = 0;
  std::optional<ChildProcess> process_;
};

// ---- client load -------------------------------------------------------------------------

struct ClientRequest {
  int64_t start_ms = 0;  // epoch_ms()
  int64_t end_ms = 0;
  int status = 0;        // 0: no answer (refused, reset, timed out)
  std::string node;      // the node that answered, from the body; "" when none
};

// `threads` loops, each sending GET `path` to 127.0.0.1:port and pausing `pace` between
// requests; every request is recorded. Bounded: at most `max_requests` in all and `max_time`
// of running, whatever the test does; stopped and joined by the destructor.
class LoadClient {
 public:
  LoadClient(uint16_t port, std::string path, int threads, std::chrono::milliseconds pace, size_t max_requests,
             std::chrono::seconds max_time)
      : port_(port), path_(std::move(path)), max_requests_(max_requests) {
    const auto until = std::chrono::steady_clock::now() + max_time;
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, pace, until] {
        while (!stopping_ && std::chrono::steady_clock::now() < until && sent_.fetch_add(1) < max_requests_) {
          ClientRequest record;
          record.start_ms = epoch_ms();
          const auto reply = http_get(port_, path_);
          record.end_ms = epoch_ms();
          if (reply) {
            record.status = reply->status;
            static const std::regex node(R"re("node":"([^"]+)")re");
            std::smatch match;
            if (std::regex_search(reply->body, match, node)) record.node = match[1];
          }
          {
            std::lock_guard lock(mutex_);
            records_.push_back(std::move(record));
          }
          std::this_thread::sleep_for(pace);
        }
      });
    }
  }
  LoadClient(const LoadClient&) = delete;
  LoadClient& operator=(const LoadClient&) = delete;
  ~LoadClient() { stop(); }

  void stop() {
    stopping_ = true;
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  // The requests that started in [from_ms, to_ms).
  std::vector<ClientRequest> between(int64_t from_ms, int64_t to_ms) const {
    std::lock_guard lock(mutex_);
    std::vector<ClientRequest> out;
    for (const ClientRequest& r : records_) {
      if (r.start_ms >= from_ms && r.start_ms < to_ms) out.push_back(r);
    }
    return out;
  }

  // The first request started at or after `from_ms` that `node` answered, if any.
  std::optional<ClientRequest> first_answered_by(const std::string& node, int64_t from_ms) const {
    std::lock_guard lock(mutex_);
    std::optional<ClientRequest> first;
    for (const ClientRequest& r : records_) {
      if (r.start_ms >= from_ms && r.node == node && (!first || r.start_ms < first->start_ms)) first = r;
    }
    return first;
  }

  size_t sent() const { return std::min(sent_.load(), max_requests_); }

 private:
  uint16_t port_;
  std::string path_;
  size_t max_requests_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> sent_{0};
  mutable std::mutex mutex_;
  std::vector<ClientRequest> records_;
  std::vector<std::thread> threads_;
};

}  // namespace nodepulse::testing
