// A workload that makes every signal nodepulse measures at once, and an agent watching it, for
// the tests that look at all metrics together (the catalogue against a live /metrics; every
// dashboard panel through Prometheus). Everything is bounded in time and torn down by its owner:
//   runq    a nice-19 victim sharing the last CPU with two busy loops (TESTBED.md: it waits
//           milliseconds to hundreds of milliseconds), so the node also goes failing;
//   jvm     a HotSpot JVM allocating (tests/kernel/java/PauseChurn.java churn): young GCs;
//   memory  a process thrashing its page cache in a 48 MiB memory cgroup: memcg reclaim stalls,
//           memory PSI in its cgroup and the PSI trigger; node PSI is read anyway;
//   net     a network namespace of its own with traffic on a cluster port of its loopback (a
//           long-lived echo connection and a new connection every 100 ms), 5 % of the packets to
//           that port dropped by iptables (retransmits), and connects to a closed cluster port
//           (refused, resets);
//   sinks   a keepalived track file, so the sink metrics have a sink.
// Root only (cgroups, namespaces, iptables, BPF).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cgroup.h"
#include "common/unique_fd.h"
#include "http_client.h"
#include "java.h"
#include "netns.h"
#include "process.h"
#include "services.h"

namespace nodepulse::testing {


class SignalWorkload {
 public:
  static constexpr uint16_t kServedPort = 8080;  // inside the workload's own namespace
  static constexpr uint16_t kClosedPort = 8081;
  static constexpr const char* kVictimComm = "np_runq_victim";
  static constexpr const char* kThrashComm = "np_mem_thrash";
  static constexpr uint64_t kMiB = 1024 * 1024;

  // Everything runs for `duration` at most (children also die by alarm), or until destroyed.
  explicit SignalWorkload(std::chrono::seconds duration)
      : duration_(duration), until_(std::chrono::steady_clock::now() + duration), ns_("obs") {
    const auto jvm_dir = dir_ / "jvm";
    std::filesystem::create_directories(jvm_dir);
    touch(jvm_dir / "go");
    jvm_.emplace(start_java(compile_java("PauseChurn"), {"-XX:+UseSerialGC", "-Xmx128m", "-Xmn32m"}, "PauseChurn",
                            {"churn", jvm_dir.string(), std::to_string(duration.count() * 1000)}, jvm_dir / "out.log"));
    start_runq_contention();
    start_memory_thrash();
    start_network_traffic();
  }

  ~SignalWorkload() {
    stopping_ = true;
    for (std::thread& thread : threads_) thread.join();
    std::error_code ignored;
    std::filesystem::remove(thrash_file_, ignored);
  }

  SignalWorkload(const SignalWorkload&) = delete;
  SignalWorkload& operator=(const SignalWorkload&) = delete;

  // The agent's settings for watching this workload (as --set overrides).
  std::vector<std::string> agent_settings() const {
    return {"targets=[{name: jvm, cmdline_contains: \"" + (dir_ / "jvm").string() + "\"}, {name: victim, comm: " +
                kVictimComm + "}, {name: hog, comm: " + kThrashComm + "}]",
            "network.netns=" + ns_.path(),
            "network.ports=[" + std::to_string(kServedPort) + "," + std::to_string(kClosedPort) + "]",
            // The thrash stalls tens of ms a second; the default 200 ms in 2 s may not trigger.
            "memory.psi_trigger_stall_us=20000",
            "keepalived.track_file=" + (dir_ / "track").string(),
            "metrics.bpf_stats=true",
            // The trino sink registers its metrics; no Trino or ZooKeeper answers there (port 1), so
            // it reports unknown and counts its errors, as it would on a node whose Trino is down.
            "zookeeper.connect=127.0.0.1:1", "trino.drain=auto", "trino.url=http://127.0.0.1:1"};
  }

  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  void start_runq_contention() {
    const int cpu = last_cpu();
    const auto deadline = std::chrono::seconds(duration_.count() + 5);
    for (int i = 0; i < 2; ++i) {
      children_.push_back(ChildProcess::fork_and_run(
          [cpu, until = until_] {
            pin_to_cpu(cpu);
            busy_until(until);
          },
          deadline));
    }
    children_.push_back(ChildProcess::fork_and_run(
        [cpu, until = until_] {
          ::prctl(PR_SET_NAME, kVictimComm);
          pin_to_cpu(cpu);
          ::setpriority(PRIO_PROCESS, 0, 19);
          while (std::chrono::steady_clock::now() < until) {
            busy_until(std::chrono::steady_clock::now() + std::chrono::microseconds(200));
            ::usleep(500);
          }
        },
        deadline));
  }

  static std::filesystem::path disk_dir() {
    for (const char* dir : {"/var/tmp", "/tmp"}) {
      struct statfs info{};
      if (::statfs(dir, &info) == 0 && info.f_type != TMPFS_MAGIC) return dir;
    }
    return "/var/tmp";
  }

  // Reads a file three times the cgroup's size over and over: every read evicts what the next
  // one needs (page cache on a disk filesystem is reclaimable, unlike tmpfs).
  void start_memory_thrash() {
    cgroup_.emplace(48 * kMiB);
    thrash_file_ = disk_dir() / ("nodepulse_obs_thrash_" + std::to_string(::getpid()));
    const std::filesystem::path file = thrash_file_;
    const auto until = until_;
    thrasher_.emplace(
        *cgroup_,
        [file, until] {
          ::prctl(PR_SET_NAME, kThrashComm);
          std::vector<char> chunk(kMiB, 'x');
          const int out = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
          if (out < 0) ::_exit(5);
          for (uint64_t written = 0; written < 144 * kMiB && std::chrono::steady_clock::now() < until;
               written += kMiB) {
            if (::write(out, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) ::_exit(6);
          }
          ::close(out);
          while (std::chrono::steady_clock::now() < until) {
            const int in = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
            if (in < 0) ::_exit(7);
            while (::read(in, chunk.data(), chunk.size()) > 0 && std::chrono::steady_clock::now() < until) {
            }
            ::close(in);
          }
        },
        std::chrono::seconds(duration_.count() + 5));
    thrasher_->go();
  }

  UniqueFd socket_in_namespace() const {
    return ns_.run_in([] { return UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); });
  }

  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
  }

  static bool connect_to(int fd, uint16_t port) {
    timeval timeout{0, 500'000};  // a dropped SYN would otherwise hold the loop for a second or more
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    const sockaddr_in address = loopback(port);
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  }

  bool running() const { return !stopping_ && std::chrono::steady_clock::now() < until_; }

  void start_network_traffic() {
    ns_.exec({"iptables", "-A", "INPUT", "-p", "tcp", "--dport", std::to_string(kServedPort), "-m", "statistic",
              "--mode", "random", "--probability", "0.05", "-j", "DROP"});
    listener_ = socket_in_namespace();
    const sockaddr_in address = loopback(kServedPort);
    const int one = 1;
    ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_.get(), 64) != 0) {
      throw std::runtime_error("SignalWorkload: cannot listen in the namespace");
    }
    // The server: echoes whatever each connection sends, one thread per connection.
    threads_.emplace_back([this] {
      std::vector<std::thread> connections;
      while (running()) {
        pollfd entry{listener_.get(), POLLIN, 0};
        if (::poll(&entry, 1, 50) <= 0) continue;
        const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        connections.emplace_back([this, fd] {
          timeval timeout{0, 200'000};
          ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
          char buffer[4096];
          while (running()) {
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) break;
            if (n > 0) (void)::send(fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL);
          }
          ::close(fd);
        });
      }
      for (std::thread& connection : connections) connection.join();
    });
    // A long-lived connection with a message every 20 ms: RTT samples and, with the drops, retransmits.
    threads_.emplace_back([this] {
      while (running()) {
        UniqueFd fd = socket_in_namespace();
        if (!connect_to(fd.get(), kServedPort)) continue;
        const std::string message(1024, 'm');
        char echo[4096];
        while (running()) {
          if (::send(fd.get(), message.data(), message.size(), MSG_NOSIGNAL) < 0) break;
          (void)::recv(fd.get(), echo, sizeof echo, 0);
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    });
    // New connections to the served port (connects, accepts, connect latency) and to the
    // closed one (refused, resets both ways on loopback, socket errors).
    threads_.emplace_back([this] {
      while (running()) {
        {
          UniqueFd served = socket_in_namespace();
          if (connect_to(served.get(), kServedPort)) (void)::send(served.get(), "x", 1, MSG_NOSIGNAL);
        }
        {
          UniqueFd closed = socket_in_namespace();
          (void)connect_to(closed.get(), kClosedPort);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }

  std::chrono::seconds duration_;
  std::chrono::steady_clock::time_point until_;
  TempDir dir_{"nodepulse_obs"};
  NetNamespace ns_;
  UniqueFd listener_;
  std::optional<ChildProcess> jvm_;
  std::vector<ChildProcess> children_;
  std::optional<MemoryCgroup> cgroup_;
  std::optional<GatedChild> thrasher_;  // after cgroup_: killed before the cgroup goes
  std::filesystem::path thrash_file_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;  // last: joined in the destructor before anything goes
};

// `nodepulse agent` as a child process on a free loopback port, stopped by its PID.
class LiveAgent {
 public:
  LiveAgent(const std::vector<std::string>& settings, const std::filesystem::path& log)
      : port_(free_loopback_port()), log_(log), process_(spawn(settings, port_, log)) {}
  ~LiveAgent() {
    process_.signal(SIGTERM);
    if (!process_.wait_for_exit(std::chrono::seconds(5))) process_.kill_and_reap();
  }

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  bool alive() const { return ::kill(process_.pid(), 0) == 0; }
  std::string log() const { return read_text(log_); }

  // /metrics, or "" when the agent does not answer.
  std::string scrape() const {
    const auto reply = http_get(port_, "/metrics");
    return reply && reply->status == 200 ? reply->body : "";
  }

  // Waits until /metrics answers (false if the agent died or `timeout` passed).
  bool wait_until_serving(std::chrono::seconds timeout) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (!scrape().empty()) return true;
      if (!alive()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  static ChildProcess spawn(const std::vector<std::string>& settings, uint16_t port, const std::filesystem::path& log) {
    std::vector<std::string> argv{NODEPULSE_BINARY, "agent", "--set", "http.listen=127.0.0.1:" + std::to_string(port)};
    for (const std::string& setting : settings) {
      argv.push_back("--set");
      argv.push_back(setting);
    }
    return ChildProcess::spawn(argv, log.string());
  }

  uint16_t port_;
  std::filesystem::path log_;
  ChildProcess process_;
};

}  // namespace nodepulse::testing
