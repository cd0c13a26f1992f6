// Real ZooKeeper servers for tests: a standalone server or an ensemble on free loopback ports,
// each a child JVM the test started (killed by its own PID, never by name), with its dataDir
// in a temporary directory. Everything is stopped and removed when the owner goes out of
// scope, also when an assertion fails half-way.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "java.h"
#include "process.h"

namespace nodepulse::testing {

inline constexpr const char* kZooKeeperJar = "/usr/share/java/zookeeper.jar";
inline constexpr const char* kSlf4jSimpleJar = "/usr/share/java/slf4j-simple.jar";

// Why a ZooKeeper server cannot be started here, or nullopt if it can.
inline std::optional<std::string> zookeeper_missing() {
  for (const char* jar : {kZooKeeperJar, kSlf4jSimpleJar}) {
    if (!std::filesystem::exists(jar)) return std::string(jar) + " is missing (apt-get install zookeeper libslf4j-java)";
  }
  if (std::system("command -v java >/dev/null 2>&1") != 0) return std::string("java is not on PATH");
  return std::nullopt;
}

// Without Java or the ZooKeeper jar a test skips, except in CI (CI=true), where it fails.
#define NODEPULSE_REQUIRE_ZOOKEEPER()                                                         \
  do {                                                                                        \
    if (auto missing = ::nodepulse::testing::zookeeper_missing()) {                           \
      const char* ci = std::getenv("CI");                                                     \
      if (ci && std::string(ci) == "true") FAIL() << "ZooKeeper is needed (CI=true): " << *missing; \
      GTEST_SKIP() << "needs ZooKeeper: " << *missing;                                        \
    }                                                                                         \
  } while (0)

// Sends a four-letter word ("srvr", "ruok", ...) and returns the whole answer; "" when nothing
// answers within `timeout`.
inline std::string four_letter_word(uint16_t port, const std::string& word,
                                    std::chrono::milliseconds timeout = std::chrono::milliseconds(1000)) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::write(fd, word.data(), word.size()) == static_cast<ssize_t>(word.size())) {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) answer.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

// "standalone", "leader" or "follower" from `srvr`; "" while the server is down or not serving
// (no quorum yet: it then answers "This ZooKeeper instance is not currently serving requests").
inline std::string zookeeper_mode(uint16_t port) {
  const std::string answer = four_letter_word(port, "srvr");
  const std::size_t at = answer.find("Mode: ");
  if (at == std::string::npos) return "";
  const std::size_t end = answer.find('\n', at);
  return answer.substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6);
}

class ZooKeeperEnsemble {
 public:
  // Starts `servers` servers (1: standalone) and waits until every one serves. tickTime bounds
  // the session timeouts the servers accept to [2, 20] x tick_ms; 500 ms allows 1-10 s.
  // Throws std::runtime_error, with the servers' logs, when they do not come up.
  explicit ZooKeeperEnsemble(int servers = 1, int tick_ms = 500,
                             std::chrono::milliseconds ready_timeout = std::chrono::seconds(30))
      : directory_("nodepulse_zk") {
    for (int i = 0; i < servers; ++i) {
      Server server;
      server.client_port = free_loopback_port();
      server.quorum_port = free_loopback_port();
      server.election_port = free_loopback_port();
      server.data_dir = directory_ / ("data" + std::to_string(i + 1));
      server.config = directory_ / ("zoo" + std::to_string(i + 1) + ".cfg");
      server.log = directory_ / ("zk" + std::to_string(i + 1) + ".log");
      servers_.push_back(std::move(server));
    }
    for (int i = 0; i < servers; ++i) write_config(i, tick_ms);
    for (int i = 0; i < servers; ++i) start(i);
    if (!wait_ready(ready_timeout)) throw std::runtime_error("ZooKeeper did not come up:\n" + logs());
  }

  ~ZooKeeperEnsemble() {
    for (Server& server : servers_) server.process.reset();  // SIGKILL by PID and reap
  }

  ZooKeeperEnsemble(const ZooKeeperEnsemble&) = delete;
  ZooKeeperEnsemble& operator=(const ZooKeeperEnsemble&) = delete;

  int size() const { return static_cast<int>(servers_.size()); }
  uint16_t client_port(int i) const { return servers_.at(i).client_port; }

  std::string connect_string() const {
    std::string connect;
    for (const Server& server : servers_) {
      if (!connect.empty()) connect += ",";
      connect += "127.0.0.1:" + std::to_string(server.client_port);
    }
    return connect;
  }

  bool running(int i) const { return servers_.at(i).process != nullptr; }
  pid_t pid(int i) const { return running(i) ? servers_.at(i).process->pid() : 0; }
  std::string mode(int i) const { return zookeeper_mode(servers_.at(i).client_port); }

  // The last transaction id server `i` applied (`srvr`'s "Zxid: 0x..."); nullopt when down.
  std::optional<uint64_t> zxid(int i) const {
    const std::string answer = four_letter_word(servers_.at(i).client_port, "srvr");
    const std::size_t at = answer.find("Zxid: 0x");
    if (at == std::string::npos) return std::nullopt;
    return std::stoull(answer.substr(at + 8), nullptr, 16);
  }

  // The index of the server that is the leader (or the standalone one), if any.
  std::optional<int> leader() const {
    for (int i = 0; i < size(); ++i) {
      if (!running(i)) continue;
      const std::string m = mode(i);
      if (m == "leader" || m == "standalone") return i;
    }
    return std::nullopt;
  }

  // SIGKILL, by PID, and reap: the server dies as on a crash, its dataDir stays.
  void kill(int i) { servers_.at(i).process.reset(); }

  void start(int i) {
    Server& server = servers_.at(i);
    if (server.process) return;
    std::filesystem::create_directories(server.data_dir);
    if (size() > 1) std::ofstream(server.data_dir / "myid") << (i + 1) << "\n";
    // The log is appended to, so a restarted server's earlier life stays readable.
    server.process = std::make_unique<ChildProcess>(ChildProcess::spawn(
        {"sh", "-c",
         "exec java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp " + std::string(kZooKeeperJar) + ":" +
             kSlf4jSimpleJar + " org.apache.zookeeper.server.quorum.QuorumPeerMain " + server.config.string() +
             " >>" + server.log.string() + " 2>&1"}));
  }

  // While server `i` is stopped: forget every znode and session, as a server rebuilt empty.
  void wipe_data(int i) {
    if (running(i)) throw std::logic_error("wipe_data on a running server");
    std::filesystem::remove_all(servers_.at(i).data_dir / "version-2");
  }

  // Every running server serves requests (standalone, leader or follower).
  bool wait_ready(std::chrono::milliseconds timeout) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      bool all = true;
      for (int i = 0; i < size() && all; ++i) all = !running(i) || !mode(i).empty();
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string logs() const {
    std::string text;
    for (int i = 0; i < size(); ++i) {
      std::string log = read_text(servers_.at(i).log);
      if (log.size() > 4000) log = "..." + log.substr(log.size() - 4000);
      text += "---- server " + std::to_string(i + 1) + " (" + servers_.at(i).log.string() + ")\n" + log;
    }
    return text;
  }

 private:
  struct Server {
    uint16_t client_port = 0;
    uint16_t quorum_port = 0;
    uint16_t election_port = 0;
    std::filesystem::path data_dir;
    std::filesystem::path config;
    std::filesystem::path log;
    std::unique_ptr<ChildProcess> process;
  };

  // forceSync=no: the servers share this machine with the faults tests make, and a CPU starved by
  // a SCHED_FIFO loop starves its per-CPU kernel threads too, block I/O completion among them, so
  // an fsync'd write could wait for the loop's rest. In production ZooKeeper runs elsewhere. A
  // server killed by a test loses nothing either way: the kernel still holds what it wrote.
  void write_config(int i, int tick_ms) {
    const Server& server = servers_.at(i);
    std::ofstream config(server.config);
    config << "tickTime=" << tick_ms << "\n"
           << "dataDir=" << server.data_dir.string() << "\n"
           << "clientPort=" << server.client_port << "\n"
           << "clientPortAddress=127.0.0.1\n"
           << "admin.enableServer=false\n"
           << "4lw.commands.whitelist=*\n"
           << "forceSync=no\n";
    if (size() > 1) {
      config << "initLimit=10\nsyncLimit=5\n";
      for (int j = 0; j < size(); ++j) {
        config << "server." << (j + 1) << "=127.0.0.1:" << servers_[j].quorum_port << ":" << servers_[j].election_port
               << "\n";
      }
    }
  }

  TempDir directory_;
  std::vector<Server> servers_;
};

}  // namespace nodepulse::testing
