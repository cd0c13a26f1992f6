// Balancer at scale: one `nodepulse balancer` watching 1,000 simulated nodes in a real
// ZooKeeper and driving a real HAProxy (runtime API, a backend of 1,000 servers) and a real
// nginx (an upstream include of 1,000 servers, reloaded through its pid file).
//
//   sudo build/bench/balancer_scale [NODES [FLIPS [PHASE_SECONDS]]]   (bench/balancer-scale wraps this)
//
// The heartbeat generator stands in for the agents: SESSIONS ZooKeeper sessions own the
// ephemeral nodes/<id> znodes (one session per agent would be 1,000 C-client sessions, two
// threads each, in this one process), each node's payload is rewritten once a second, and a
// flip makes one node failing exactly as an agent does: failing/<id> (ephemeral, the payload as
// data) first, then the payload with state failing and weight 0.
//
// Phases, all in this one run and on this one machine:
//   idle       the znodes exist, no heartbeat traffic: the balancer's floor (the baseline)
//   heartbeat  1,000 payload rewrites a second
//   flips      heartbeats go on; FLIPS times a node goes failing and back, and the time from the
//              failing/ znode's creation to the change in HAProxy (`show stat` of that one
//              server, polled every millisecond) and in nginx (the upstream file rewritten with
//              the server `down`; the reload taken effect: a new worker process started) is
//              taken per flip
// For each phase the balancer's CPU (utime+stime from /proc/PID/stat over the phase) and RSS;
// the peak RSS (VmHWM) at the end.
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <cmath>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "haproxy.h"
#include "nginx.h"
#include "process.h"
#include "services.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

namespace nodepulse {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::TempDir;

constexpr int kSessions = 8;
constexpr const char* kCluster = "scale";
constexpr const char* kBackend = "trino";

std::string node_id(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "n%04d", i);
  return name;
}
uint16_t server_port(int i) { return static_cast<uint16_t>(20000 + i); }
std::string server_address(int i) { return "127.0.0.1:" + std::to_string(server_port(i)); }

std::string payload(int i, const std::string& state, int weight, uint64_t seq) {
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  nlohmann::json reasons = nlohmann::json::array();
  if (state == "failing") reasons.push_back("bench: flipped to failing");
  return nlohmann::json{{"node_id", node_id(i)}, {"cluster", kCluster}, {"role", "worker"}, {"host", "127.0.0.1"},
                        {"state", state},        {"weight", weight},    {"reasons", reasons}, {"signals", nlohmann::json::object()},
                        {"seq", seq},            {"ts_ms", now_ms},     {"version", "bench"}, {"http_port", server_port(i)}}
      .dump();
}

// CPU seconds (user + system) the process has used, from /proc/PID/stat.
double cpu_seconds(pid_t pid) {
  const std::string stat = testing::file_text("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int index = 3; fields >> field; ++index) {  // field 3 is the state
    if (index == 14) utime = std::stoull(field);
    if (index == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A "Vm...:" line of /proc/PID/status, in MiB.
double status_mib(pid_t pid, const std::string& key) {
  std::istringstream lines(testing::file_text("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;
  }
  return 0;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size()))) - 1;
  return values[std::min(rank, values.size() - 1)];
}

// The simulated agents: SESSIONS sessions, each owning NODES/SESSIONS ephemeral znodes, and a
// thread per session that rewrites its nodes' payloads once a second while `beating`.
class HeartbeatGenerator {
 public:
  HeartbeatGenerator(const std::string& connect, int nodes) : nodes_(nodes), seq_(static_cast<size_t>(nodes), 1), failing_(static_cast<size_t>(nodes), 0) {
    for (int s = 0; s < kSessions; ++s) {
      auto client = zk::ZkClient::connect({.connect = connect, .session_timeout = 10s, .digest = ""}, 20s);
      if (!client.ok()) throw std::runtime_error("generator: " + client.error().message);
      sessions_.push_back(std::move(*client));
    }
    for (const std::string& path : {std::string("/nodepulse"), root(), root() + "/nodes", root() + "/failing"}) {
      const auto rc = sessions_[0]->create(path, "", ZOO_PERSISTENT, ZOO_OPEN_ACL_UNSAFE, 5s);
      if (!rc.ok() || (*rc != ZOK && *rc != ZNODEEXISTS)) throw std::runtime_error("cannot create " + path);
    }
    for (int i = 0; i < nodes_; ++i) {
      const auto rc = session_of(i).create(node_path(i), payload(i, "healthy", 100, seq_[i]++), ZOO_EPHEMERAL,
                                           ZOO_OPEN_ACL_UNSAFE, 5s);
      if (!rc.ok() || *rc != ZOK) throw std::runtime_error("cannot create " + node_path(i));
    }
    for (int s = 0; s < kSessions; ++s) threads_.emplace_back([this, s] { beat(s); });
  }
  HeartbeatGenerator(const HeartbeatGenerator&) = delete;
  HeartbeatGenerator& operator=(const HeartbeatGenerator&) = delete;
  ~HeartbeatGenerator() {
    stopping_ = true;
    for (std::thread& thread : threads_) thread.join();
  }

  void set_beating(bool on) { beating_ = on; }
  uint64_t writes() const { return writes_; }
  uint64_t write_errors() const { return write_errors_; }

  // As an agent going failing: failing/<id> first, then the payload. Returns when ZooKeeper
  // has acknowledged the create (the clock of the measurement starts just before it).
  void make_failing(int i) {
    std::lock_guard lock(node_mutex(i));
    failing_[static_cast<size_t>(i)] = true;
    const std::string json = payload(i, "failing", 0, seq_[i]++);
    const auto created = session_of(i).create(failing_path(i), json, ZOO_EPHEMERAL, ZOO_OPEN_ACL_UNSAFE, 5s);
    if (!created.ok() || *created != ZOK) throw std::runtime_error("cannot create " + failing_path(i));
    (void)session_of(i).set(node_path(i), json, 5s);
  }
  // Out of failing: the payload first, then failing/<id> goes.
  void make_healthy(int i) {
    std::lock_guard lock(node_mutex(i));
    failing_[static_cast<size_t>(i)] = false;
    (void)session_of(i).set(node_path(i), payload(i, "healthy", 100, seq_[i]++), 5s);
    (void)session_of(i).remove(failing_path(i), -1, 5s);
  }

  static std::string root() { return std::string("/nodepulse/") + kCluster; }

 private:
  zk::ZkClient& session_of(int i) { return *sessions_[static_cast<size_t>(i % kSessions)]; }
  std::mutex& node_mutex(int i) { return mutexes_[static_cast<size_t>(i % kSessions)]; }
  static std::string node_path(int i) { return root() + "/nodes/" + node_id(i); }
  static std::string failing_path(int i) { return root() + "/failing/" + node_id(i); }

  // Session s's nodes, spread evenly over each second.
  void beat(int s) {
    std::vector<int> mine;
    for (int i = s; i < nodes_; i += kSessions) mine.push_back(i);
    const auto gap = std::chrono::microseconds(1'000'000 / std::max<size_t>(1, mine.size()));
    auto next = Clock::now();
    size_t at = 0;
    while (!stopping_) {
      next += gap;
      std::this_thread::sleep_until(next);
      if (!beating_) continue;
      const int i = mine[at++ % mine.size()];
      std::lock_guard lock(node_mutex(i));
      const bool failing = failing_[static_cast<size_t>(i)];
      const auto rc = session_of(i).set(node_path(i), payload(i, failing ? "failing" : "healthy", failing ? 0 : 100, seq_[i]++), 2s);
      if (rc.ok() && *rc == ZOK) {
        ++writes_;
      } else {
        ++write_errors_;
      }
    }
  }

  int nodes_;
  std::vector<uint64_t> seq_;
  std::vector<std::unique_ptr<zk::ZkClient>> sessions_;
  std::mutex mutexes_[kSessions];
  std::vector<char> failing_;  // per node; an entry is guarded by its node's session mutex
  std::atomic<bool> beating_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::vector<std::thread> threads_;
};

struct PhaseFigures {
  std::string name;
  double seconds = 0;
  double cpu_seconds = 0;
  double rss_mib = 0;
};

int run(int nodes, int flips, int phase_seconds, const std::string& binary, const std::string& command) {
  TempDir dir("balancer-scale");
  testing::ZooKeeperEnsemble zookeeper(1, 500);

  // HAProxy: one backend of NODES servers, ids 1..NODES so one server's line can be asked for.
  std::string backend = std::string("backend ") + kBackend + "\n  balance roundrobin\n";
  for (int i = 0; i < nodes; ++i) {
    backend += "  server " + node_id(i) + " " + server_address(i) + " id " + std::to_string(i + 1) + " weight 100\n";
  }
  testing::Haproxy haproxy(backend);

  // nginx: the upstream include the balancer rewrites, first with every server up.
  const std::filesystem::path upstream = dir / "upstream.conf";
  std::string servers = std::string("upstream ") + kBackend + " {\n";
  for (int i = 0; i < nodes; ++i) servers += "  server " + server_address(i) + " weight=100;\n";
  testing::write_text(upstream, servers + "}\n");
  const uint16_t nginx_port = testing::free_loopback_port();
  TempDir nginx_dir("balancer-scale-nginx");
  testing::Nginx nginx("  include " + upstream.string() + ";\n  server { listen 127.0.0.1:" + std::to_string(nginx_port) +
                           "; location / { proxy_pass http://" + kBackend + "; } }\n",
                       nginx_port, nginx_dir);

  HeartbeatGenerator generator(zookeeper.connect_string(), nodes);

  std::string table;
  for (int i = 0; i < nodes; ++i) {
    table += "    - {node_id: " + node_id(i) + ", name: " + node_id(i) + ", address: \"" + server_address(i) + "\"}\n";
  }
  const uint16_t metrics_port = testing::free_loopback_port();
  const std::filesystem::path config = dir / "balancer.yaml";
  testing::write_text(config, std::string("cluster: ") + kCluster + "\nzookeeper:\n  connect: \"" +
                                  zookeeper.connect_string() + "\"\n  session_timeout_ms: 4000\nlog:\n  level: warn\n" +
                                  "balancer:\n  listen: 127.0.0.1:" + std::to_string(metrics_port) +
                                  "\n  down_after_ms: 3000\n  max_unhealthy_fraction: 0.34\n  servers:\n" + table +
                                  "  nginx:\n    upstream_file: " + upstream.string() + "\n    upstream: " + kBackend +
                                  "\n    conf: " + nginx.conf_path() + "\n    pid_file: " + nginx.pid_path() +
                                  "\n    binary: " + testing::kNginxBinary + "\n  haproxy:\n    socket: " +
                                  haproxy.socket_path() + "\n    backend: " + kBackend + "\n");
  const std::string balancer_log = (dir / "balancer.log").string();
  ChildProcess balancer = ChildProcess::spawn({binary, "balancer", "--config", config.string()}, balancer_log);
  const pid_t pid = balancer.pid();
  auto alive = [&] { return ::kill(pid, 0) == 0; };

  // Settled: the balancer serves /metrics and has had a few seconds to read all 1,000 nodes.
  if (!testing::wait_until([&] { return testing::http_get(metrics_port, "/metrics").has_value() || !alive(); }, 30s) ||
      !alive()) {
    std::fprintf(stderr, "the balancer did not start:\n%s\n", testing::file_text(balancer_log).c_str());
    return 1;
  }
  std::this_thread::sleep_for(3s);
  const double startup_cpu = cpu_seconds(pid);

  std::vector<PhaseFigures> phases;
  auto measure = [&](const std::string& name, const std::function<void()>& body) {
    const double cpu0 = cpu_seconds(pid);
    const auto t0 = Clock::now();
    body();
    phases.push_back({name, std::chrono::duration<double>(Clock::now() - t0).count(), cpu_seconds(pid) - cpu0,
                      status_mib(pid, "VmRSS")});
  };

  measure("idle (baseline: znodes, no heartbeats)", [&] { std::this_thread::sleep_for(std::chrono::seconds(phase_seconds)); });
  generator.set_beating(true);
  const uint64_t writes_before = generator.writes();
  measure("heartbeats, " + std::to_string(nodes) + " nodes at 1 Hz", [&] {
    std::this_thread::sleep_for(std::chrono::seconds(phase_seconds));
  });
  const double heartbeat_rate = static_cast<double>(generator.writes() - writes_before) / phases.back().seconds;

  // The flips. One server's `show stat` (a header line, then its line), so polling it every
  // millisecond stays cheap whatever the backend's size. Out of rotation: DRAIN or MAINT, or
  // an effective weight of 0.
  auto haproxy_drained = [&](int i) {
    auto rows = testing::parse_show_stat(haproxy.command(std::string("show stat ") + kBackend + " 4 " +
                                                          std::to_string(i + 1)));
    if (rows.empty()) return false;
    std::map<std::string, std::string>& row = rows.front();
    return row["status"] == "DRAIN" || row["status"] == "MAINT" || (row.count("weight") && row["weight"] == "0");
  };
  auto upstream_marks_down = [&](int i) {
    const std::string text = testing::file_text(upstream);
    const size_t at = text.find("server " + server_address(i));
    if (at == std::string::npos) return false;
    const size_t end = text.find(';', at);
    return text.substr(at, end - at).find("down") != std::string::npos;
  };

  // One flip: node `i` failing, then the time to each change; then back, before the next one.
  struct FlipTimes {
    std::vector<double> haproxy_ms, file_ms, reload_ms;
    int timeouts = 0;
  };
  auto run_flips = [&](int count, int first, FlipTimes& times) {
    for (int k = first; k < first + count; ++k) {
      const int i = static_cast<int>((static_cast<uint64_t>(k) * 7919u + 13u) % static_cast<uint64_t>(nodes));
      const std::set<pid_t> workers_before = nginx.worker_pids();
      const auto t0 = Clock::now();
      generator.make_failing(i);
      std::optional<double> at_haproxy, at_file, at_reload;
      const auto until = t0 + 5s;
      while (Clock::now() < until && (!at_haproxy || !at_file || !at_reload)) {
        const double now_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (!at_haproxy && haproxy_drained(i)) at_haproxy = now_ms;
        if (!at_file && upstream_marks_down(i)) at_file = now_ms;
        if (at_file && !at_reload) {
          for (pid_t worker : nginx.worker_pids()) {
            if (!workers_before.count(worker)) {
              at_reload = now_ms;
              break;
            }
          }
        }
        std::this_thread::sleep_for(1ms);
      }
      if (at_haproxy) times.haproxy_ms.push_back(*at_haproxy);
      if (at_file) times.file_ms.push_back(*at_file);
      if (at_reload) times.reload_ms.push_back(*at_reload);
      if (!at_haproxy || !at_file || !at_reload) ++times.timeouts;
      generator.make_healthy(i);
      // Back to normal in both before the next flip, so flips do not overlap.
      testing::wait_until([&] { return !haproxy_drained(i) && !upstream_marks_down(i); }, 5s);
      std::this_thread::sleep_for(300ms);
    }
  };

  // Second baseline: flips with no heartbeat traffic, the drivers' own cost at this size.
  FlipTimes quiet;
  const int quiet_flips = std::min(flips, 20);
  generator.set_beating(false);
  measure(std::to_string(quiet_flips) + " flips, no heartbeats", [&] { run_flips(quiet_flips, 1000, quiet); });
  generator.set_beating(true);
  FlipTimes busy;
  measure("heartbeats + " + std::to_string(flips) + " flips", [&] { run_flips(flips, 0, busy); });
  const int timeouts = quiet.timeouts + busy.timeouts;
  generator.set_beating(false);

  const double peak_mib = status_mib(pid, "VmHWM");
  const std::string uptime = testing::file_text("/proc/loadavg");
  utsname host{};
  ::uname(&host);

  std::printf("command: %s   (%s, %ld CPUs, /proc/loadavg at the end: %s)\n", command.c_str(), host.release,
              sysconf(_SC_NPROCESSORS_ONLN), uptime.substr(0, uptime.find('\n')).c_str());
  std::printf("%d nodes, %d ZooKeeper sessions; heartbeat writes measured: %.0f/s (%llu write errors)\n", nodes,
              kSessions, heartbeat_rate, static_cast<unsigned long long>(generator.write_errors()));
  std::printf("balancer start-up (reading %d nodes, first apply): %.2f s CPU\n", nodes, startup_cpu);
  std::printf("\n| phase | seconds | balancer CPU | RSS |\n|---|---|---|---|\n");
  for (const PhaseFigures& phase : phases) {
    std::printf("| %s | %.1f | %.1f%% of one CPU (%.2f s) | %.1f MiB |\n", phase.name.c_str(), phase.seconds,
                100.0 * phase.cpu_seconds / phase.seconds, phase.cpu_seconds, phase.rss_mib);
  }
  std::printf("\npeak RSS (VmHWM): %.1f MiB\n", peak_mib);
  auto print_flips = [&](const char* title, const FlipTimes& times, int count) {
    std::printf("\n%s\n| failing/<id> created → | flips seen | p50 | p99 | max |\n|---|---|---|---|---|\n", title);
    auto row = [&](const char* what, const std::vector<double>& ms) {
      std::printf("| %s | %zu/%d | %.1f ms | %.1f ms | %.1f ms |\n", what, ms.size(), count, percentile(ms, 0.5),
                  percentile(ms, 0.99), ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()));
    };
    row("HAProxy server DRAIN/MAINT (`show stat`)", times.haproxy_ms);
    row("nginx upstream file says `down`", times.file_ms);
    row("nginx new worker started (reload took effect)", times.reload_ms);
  };
  print_flips("without heartbeat traffic (baseline):", quiet, quiet_flips);
  print_flips(("with " + std::to_string(nodes) + " heartbeats a second:").c_str(), busy, flips);
  const double p99 = std::max(percentile(busy.haproxy_ms, 0.99), percentile(busy.reload_ms, 0.99));
  std::printf("\ntarget p99 <= 200 ms (with heartbeats): %s (worst p99 %.1f ms)%s\n",
              p99 <= 200 && busy.timeouts == 0 ? "met" : "NOT met", p99,
              timeouts ? (", " + std::to_string(timeouts) + " flips not seen within 5 s").c_str() : "");
  const std::string log = testing::file_text(balancer_log);
  std::printf("balancer log: %zu bytes%s\n", log.size(), log.empty() ? "" : (", last lines:\n" + log.substr(log.size() > 1500 ? log.size() - 1500 : 0)).c_str());
  testing::stop_child(balancer, 5s);
  return timeouts == 0 ? 0 : 1;
}

}  // namespace
}  // namespace nodepulse

int main(int argc, char** argv) {
  const int nodes = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int flips = argc > 2 ? std::atoi(argv[2]) : 60;
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 10;
  if (nodes < 3 || nodes > 5000 || flips < 1 || flips > 1000 || seconds < 1 || seconds > 120) {
    std::fprintf(stderr, "usage: %s [NODES 3-5000 [FLIPS 1-1000 [PHASE_SECONDS 1-120]]]\n", argv[0]);
    return 2;
  }
  const char* binary = std::getenv("NODEPULSE_BIN");
  std::string command = "sudo bench/balancer-scale";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  try {
    return nodepulse::run(nodes, flips, seconds, binary ? binary : NODEPULSE_BINARY, command);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "balancer-scale: %s\n", error.what());
    return 1;
  }
}
