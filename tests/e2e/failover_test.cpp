// The seed's failover and load test, end to end, with nothing simulated:
//   - three Trino-like nodes, each a network namespace on a bridge, each running the Java
//     stand-in of a Trino worker (tests/e2e/java/TrinoWorkerStandin.java) and its own
//     `nodepulse agent` (network.netns = the node's namespace, the JVM found by a cmdline marker);
//   - a 3-server ZooKeeper ensemble the agents publish to;
//   - nginx and HAProxy in front (root namespace), each driven by its own `nodepulse balancer`
//     (nginx: upstream include + reload through the pid file; HAProxy: runtime API);
//   - a bounded client load through both (two loops per balancer, a request every 40 ms each,
//     at most 20,000 requests and 170 s per balancer), and the workers pulling pages from one
//     another every 40 ms (Trino's exchanges: the worker-to-worker traffic).
// One fault per TEST on node2 — CPU starvation of its JVM, packet loss on its link, its JVM
// OOM-killed, its JVM held in a long safepoint, its agent SIGKILLed — and the same fault on all
// three nodes at once. CTest runs each TEST in its own process, so each builds the cluster
// (10-16 s) in SetUp; each TEST takes 20-30 s, the six ~150 s.
//
// What each fault TEST asserts, with times on one clock (epoch ms: ZooKeeper's ctime and
// nginx's $msec are on it too):
//   before: node2 answers through both balancers and no failing/ znode exists (no signal
//           without the fault);
//   verdict: failing/node2 is created within a bound of the fault that follows from the lowered
//           thresholds (per fault, below); for the killed agent, nodes/node2 vanishes within
//           session timeout + tick + 500 ms, and the verdict is that moment + down_after_ms;
//   drained within 1 s of the verdict: HAProxy shows node2 DRAIN/MAINT, nginx's upstream file
//           marks it down and a new nginx worker (the reload) has started — and the last request
//           either balancer sent to node2 (HAProxy: its `stot` counter, sampled every 20 ms;
//           nginx: the access log's $upstream_addr) went out no later than 1 s after the verdict;
//   client errors (no answer or not 200) from the fault until node2 is back: at most
//           kMaxClientErrors (3) per balancer, of the 100-1000 requests each sent meanwhile (both
//           retry on another server, as deployed; runs so far had 0);
//   recovery: once the fault is gone, node2 answers through both balancers again within
//           kRecoveryBoundMs (20 s: recover_after_ms 2 s, plus the net rule's 4 s window, plus a
//           restarted JVM's start-up).
// The all-three TEST asserts that all three failing/ znodes existed at once and that neither
// HAProxy nor nginx ever had more than one server out (max_unhealthy_fraction 0.34 of 3), and
// exactly one at some point; then that all three come back.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cgroup.h"
#include "haproxy.h"
#include "nginx.h"
#include "process.h"
#include "services.h"
#include "trino_cluster.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::epoch_ms;

constexpr int kNodes = 3;
constexpr int kVictim = 1;  // node2
constexpr const char* kCluster = "failover";
constexpr int kTickMs = 500;             // ZooKeeper tickTime
constexpr int kSessionTimeoutMs = 2000;  // the agents' ZooKeeper sessions
constexpr int kDownAfterMs = 1000;       // balancer.down_after_ms
constexpr int kRecoverAfterMs = 2000;    // health.recover_after_ms
constexpr int kJvmPauseFailMs = 600;     // health.jvm_pause_fail_ms
constexpr int kRunqStallFailMs = 500;    // health.runq_stall_fail_ms
constexpr int kWindowMs = 4000;          // health.window_ms (the net rule's window too)
constexpr auto kExchangeInterval = std::chrono::milliseconds(40);  // worker-to-worker page pulls
constexpr int64_t kDrainBoundMs = 1000;  // the "within a second" of the verdict
constexpr int64_t kRecoveryBoundMs = 20000;
constexpr size_t kMaxClientErrors = 3;
const std::string kRequestPath = "/v1/statement?work=50000";

std::string node_id(int i) { return "node" + std::to_string(i + 1); }
std::string node_endpoint(int i) { return testing::NodeNetwork::node_address(i) + ":8080"; }

// ---- what the test watches, every 20 ms ----------------------------------------------------

struct HaproxyServer {
  uint64_t stot = 0;
  std::string status;
  int weight = -1;
  bool out() const { return status == "DRAIN" || status == "MAINT" || weight == 0; }
};

struct Observation {
  int64_t at_ms = 0;
  std::map<std::string, HaproxyServer> haproxy;  // by server name
  std::set<std::string> nginx_down;              // node endpoints marked down (or missing) in the upstream file
  std::set<pid_t> nginx_workers;
  std::map<std::string, int64_t> failing;  // failing/<id> → its ctime
  std::map<std::string, std::string> failing_data;  // failing/<id> → its data (the payload, with the reasons)
  std::set<std::string> nodes;             // nodes/<id>
};

// Parses `show stat` into server name → state for one backend.
std::map<std::string, HaproxyServer> haproxy_servers(const std::string& stat, const std::string& backend) {
  std::map<std::string, HaproxyServer> servers;
  for (auto& row : testing::parse_show_stat(stat)) {
    const std::string& name = row["svname"];
    if (row["pxname"] != backend || name.empty() || name == "BACKEND" || name == "FRONTEND") continue;
    HaproxyServer server;
    if (row.count("stot")) server.stot = std::stoull(row["stot"].empty() ? "0" : row["stot"]);
    if (row.count("status")) server.status = row["status"];
    if (row.count("weight")) server.weight = std::atoi(row["weight"].c_str());
    servers[name] = server;
  }
  return servers;
}

// The node endpoints that nginx's upstream file keeps out of rotation: marked `down`, or absent.
std::set<std::string> nginx_down_endpoints(const std::string& upstream_text) {
  std::set<std::string> down;
  for (int i = 0; i < kNodes; ++i) {
    const size_t at = upstream_text.find("server " + node_endpoint(i));
    if (at == std::string::npos) {
      down.insert(node_endpoint(i));
      continue;
    }
    const size_t end = upstream_text.find(';', at);
    if (upstream_text.substr(at, end - at).find(" down") != std::string::npos) down.insert(node_endpoint(i));
  }
  return down;
}

// One nginx access-log line: "$msec $request_time $status \"$upstream_addr\"".
struct NginxRequest {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int status = 0;
  std::vector<std::string> upstreams;  // in the order tried
};

std::vector<NginxRequest> parse_access_log(const std::string& text) {
  std::vector<NginxRequest> requests;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    double msec = 0, request_time = 0;
    NginxRequest request;
    if (!(fields >> msec >> request_time >> request.status)) continue;
    request.end_ms = static_cast<int64_t>(msec * 1000 + 0.5);
    request.start_ms = request.end_ms - static_cast<int64_t>(request_time * 1000 + 0.5);
    std::string rest;
    std::getline(fields, rest);
    std::string upstream;
    for (char c : rest) {
      if (c == '"' || c == ' ') continue;
      if (c == ',') {
        if (!upstream.empty()) request.upstreams.push_back(upstream);
        upstream.clear();
        continue;
      }
      upstream += c;
    }
    if (!upstream.empty()) request.upstreams.push_back(upstream);
    requests.push_back(request);
  }
  return requests;
}

// ---- the cluster -------------------------------------------------------------------------

class FailoverCluster {
 public:
  FailoverCluster()
      : dir_("failover"),
        network_(kNodes),
        zookeeper_(3, kTickMs),
        nginx_port_(testing::free_loopback_port()),
        haproxy_port_(testing::free_loopback_port()) {
    for (int i = 0; i < kNodes; ++i) start_jvm(i);
    for (int i = 0; i < kNodes; ++i) {
      if (!jvms_[i]->wait_ready(60s, /*stall_ready=*/true)) {
        throw std::runtime_error(node_id(i) + "'s JVM did not come up: " + testing::file_text(jvm_log(i)));
      }
    }
    for (int i = 0; i < kNodes; ++i) {
      const uint16_t port = testing::free_loopback_port();
      agents_.push_back(std::make_unique<testing::NodeAgent>(agent_config(i, port), port, dir_.path(), "agent-" + node_id(i)));
    }
    haproxy_.emplace(haproxy_sections());
    write_initial_upstream();
    nginx_.emplace(nginx_http_body(), nginx_port_, nginx_dir_);
    balancer_nginx_.emplace(start_balancer("nginx"));
    balancer_haproxy_.emplace(start_balancer("haproxy"));
    auto client = zk::ZkClient::connect({.connect = zookeeper_.connect_string(), .session_timeout = 10s, .digest = ""}, 20s);
    if (!client.ok()) throw std::runtime_error("observer cannot reach ZooKeeper: " + client.error().message);
    zk_ = std::move(*client);
    observer_ = std::thread([this] { observe(); });
    via_nginx_.emplace(nginx_port_, kRequestPath, 2, 40ms, 20000, 170s);
    via_haproxy_.emplace(haproxy_port_, kRequestPath, 2, 40ms, 20000, 170s);
  }
  FailoverCluster(const FailoverCluster&) = delete;
  FailoverCluster& operator=(const FailoverCluster&) = delete;
  ~FailoverCluster() {
    via_nginx_.reset();
    via_haproxy_.reset();
    stopping_ = true;
    if (observer_.joinable()) observer_.join();
    for (auto* balancer : {&balancer_nginx_, &balancer_haproxy_}) {
      if (*balancer) testing::stop_child(**balancer, 3s);
    }
  }

  // Every agent healthy, every node in both balancers and answering through them.
  bool wait_all_in(std::chrono::milliseconds timeout) {
    const int64_t from = epoch_ms();
    std::string missing;
    const bool in = testing::wait_until(
        [&] {
          for (int i = 0; i < kNodes; ++i) {
            if (!agents_[i]->running() || !agents_[i]->wait_state("healthy", 0ms)) {
              missing = node_id(i) + "'s agent is not healthy: " + agents_[i]->health().value_or(testing::HttpReply{}).body;
              return false;
            }
          }
          const Observation last = latest();
          for (int i = 0; i < kNodes; ++i) {
            const auto server = last.haproxy.find(node_id(i));
            if (server == last.haproxy.end() || server->second.out()) {
              missing = node_id(i) + " is not in rotation in HAProxy";
              return false;
            }
            if (last.nginx_down.count(node_endpoint(i))) {
              missing = node_id(i) + " is down in nginx's upstream file";
              return false;
            }
            if (!via_nginx_->first_answered_by(node_id(i), from) || !via_haproxy_->first_answered_by(node_id(i), from)) {
              missing = node_id(i) + " answered no request through " +
                        (via_nginx_->first_answered_by(node_id(i), from) ? "HAProxy" : "nginx") + " (" +
                        std::to_string(via_nginx_->sent()) + " and " + std::to_string(via_haproxy_->sent()) +
                        " requests sent)";
              return false;
            }
          }
          return true;
        },
        timeout);
    if (!in) std::printf("not all in: %s\n", missing.c_str());
    return in;
  }

  Observation latest() const {
    std::lock_guard lock(mutex_);
    return observations_.empty() ? Observation{} : observations_.back();
  }
  std::vector<Observation> observations_between(int64_t from_ms, int64_t to_ms) const {
    std::lock_guard lock(mutex_);
    std::vector<Observation> out;
    for (const Observation& o : observations_) {
      if (o.at_ms >= from_ms && o.at_ms < to_ms) out.push_back(o);
    }
    return out;
  }

  void start_jvm(int i) {
    jvms_.resize(kNodes);
    std::vector<std::string> peers;
    for (int j = 0; j < kNodes; ++j) {
      if (j != i) peers.push_back(node_endpoint(j));
    }
    jvms_[i] = std::make_unique<testing::StandinJvm>(network_.ns(i), node_id(i), testing::NodeNetwork::node_address(i),
                                                     marker(i), jvm_log(i), peers, kExchangeInterval);
  }

  std::string diagnostics() const {
    std::string text;
    for (int i = 0; i < kNodes; ++i) {
      // The victim's network view, for the packet-loss case: what the net rule judged on.
      const auto metrics = testing::http_get(agents_[i]->http_port(), "/metrics");
      std::istringstream lines(metrics ? metrics->body : "");
      std::string line;
      while (std::getline(lines, line)) {
        if (line.rfind("nodepulse_tcp_retransmits_total", 0) == 0 || line.rfind("nodepulse_tcp_accepts_total", 0) == 0) {
          text += node_id(i) + ": " + line + "\n";
        }
      }
    }
    for (int i = 0; i < kNodes; ++i) text += agents_[i]->log();
    for (const char* name : {"balancer-nginx.log", "balancer-haproxy.log"}) {
      std::string log = testing::file_text(dir_ / name);
      if (log.size() > 6000) log = "..." + log.substr(log.size() - 6000);
      text += std::string("---- ") + name + "\n" + log;
    }
    text += "---- nginx error log\n" + nginx_->error_log().substr(0, 3000);
    text += "---- upstream file\n" + testing::file_text(upstream_path());
    return text;
  }

  std::filesystem::path upstream_path() const { return dir_ / "upstream.conf"; }
  std::filesystem::path access_log_path() const { return dir_ / "access.log"; }
  std::filesystem::path jvm_log(int i) const { return dir_ / ("jvm-" + node_id(i) + ".log"); }

  testing::NodeNetwork& network() { return network_; }
  testing::ZooKeeperEnsemble& zookeeper() { return zookeeper_; }
  testing::StandinJvm& jvm(int i) { return *jvms_[i]; }
  std::unique_ptr<testing::StandinJvm>& jvm_slot(int i) { return jvms_[i]; }
  testing::NodeAgent& agent(int i) { return *agents_[i]; }
  testing::LoadClient& via_nginx() { return *via_nginx_; }
  testing::LoadClient& via_haproxy() { return *via_haproxy_; }
  const testing::TempDir& dir() const { return dir_; }

 private:
  std::string marker(int i) const { return "nodepulse.standin=" + std::to_string(::getpid()) + "-" + node_id(i) + "x"; }

  std::string agent_config(int i, uint16_t http_port) const {
    return std::string("cluster: ") + kCluster + "\nnode:\n  id: " + node_id(i) + "\n  role: worker\n" +
           "trino:\n  etc_dir: " + (dir_ / "no-trino-etc").string() + "\ntargets:\n  - name: trino\n" +
           "    cmdline_contains: \"" + marker(i) + "\"\nnetwork:\n  netns: " + network_.ns(i).path() +
           "\n  ports: [8080]\nzookeeper:\n  connect: \"" + zookeeper_.connect_string() +
           "\"\n  session_timeout_ms: " + std::to_string(kSessionTimeoutMs) +
           "\nheartbeat:\n  interval_ms: 500\ncollect:\n  interval_ms: 100\nhealth:\n  recover_after_ms: " +
           std::to_string(kRecoverAfterMs) + "\n  window_ms: " + std::to_string(kWindowMs) +
           "\n  runq_p99_warn_ms: 100\n  runq_p99_fail_ms: 700\n" +
           "  runq_stall_fail_ms: " + std::to_string(kRunqStallFailMs) + "\n  jvm_pause_warn_ms: 300\n" +
           "  jvm_pause_fail_ms: " + std::to_string(kJvmPauseFailMs) + "\nhttp:\n  listen: 127.0.0.1:" +
           std::to_string(http_port) + "\n";
  }

  // Retries on another server, as a deployment would: the balancers' own retries must not
  // hide the drain (the test watches what each balancer sends to node2, not only what the
  // client sees), and they keep client errors near zero.
  std::string haproxy_sections() const {
    std::string text = "frontend trino_in\n  mode http\n  bind 127.0.0.1:" + std::to_string(haproxy_port_) +
                       "\n  default_backend trino\nbackend trino\n  mode http\n  balance roundrobin\n  source " +
                       testing::NodeNetwork::kBalancerAddress +
                       "\n  timeout connect 300ms\n  timeout server 1500ms\n  retries 2\n  option redispatch 1\n"
                       "  retry-on conn-failure empty-response response-timeout\n";
    for (int i = 0; i < kNodes; ++i) text += "  server " + node_id(i) + " " + node_endpoint(i) + " weight 100\n";
    return text;
  }

  void write_initial_upstream() const {
    std::string text = "upstream trino {\n";
    for (int i = 0; i < kNodes; ++i) text += "  server " + node_endpoint(i) + " weight=100;\n";
    testing::write_text(upstream_path(), text + "}\n");
  }

  std::string nginx_http_body() const {
    return "  log_format np '$msec $request_time $status \"$upstream_addr\"';\n  access_log " +
           access_log_path().string() + " np;\n  include " + upstream_path().string() +
           ";\n  server {\n    listen 127.0.0.1:" + std::to_string(nginx_port_) +
           ";\n    location / {\n      proxy_pass http://trino;\n      proxy_bind " +
           testing::NodeNetwork::kBalancerAddress +
           ";\n      proxy_connect_timeout 300ms;\n      proxy_read_timeout 1500ms;\n"
           "      proxy_next_upstream error timeout http_502 http_503 http_504;\n      proxy_next_upstream_tries 3;\n"
           "    }\n  }\n";
  }

  ChildProcess start_balancer(const std::string& driver) {
    std::string servers;
    for (int i = 0; i < kNodes; ++i) {
      servers += "    - {node_id: " + node_id(i) + ", name: " + node_id(i) + ", address: \"" + node_endpoint(i) + "\"}\n";
    }
    std::string yaml = std::string("cluster: ") + kCluster + "\nzookeeper:\n  connect: \"" +
                       zookeeper_.connect_string() + "\"\n  session_timeout_ms: 4000\nbalancer:\n  listen: 127.0.0.1:" +
                       std::to_string(testing::free_loopback_port()) + "\n  down_after_ms: " +
                       std::to_string(kDownAfterMs) + "\n  max_unhealthy_fraction: 0.34\n  servers:\n" + servers;
    if (driver == "nginx") {
      yaml += "  nginx:\n    upstream_file: " + upstream_path().string() + "\n    upstream: trino\n    conf: " +
              nginx_->conf_path() + "\n    pid_file: " + nginx_->pid_path() + "\n    binary: " + testing::kNginxBinary + "\n";
    } else {
      yaml += "  haproxy:\n    socket: " + haproxy_->socket_path() + "\n    backend: trino\n";
    }
    const std::filesystem::path config = dir_ / ("balancer-" + driver + ".yaml");
    testing::write_text(config, yaml);
    return ChildProcess::spawn({NODEPULSE_BINARY, "balancer", "--config", config.string()},
                               (dir_ / ("balancer-" + driver + ".log")).string());
  }

  void observe() {
    const std::string root = std::string("/nodepulse/") + kCluster;
    while (!stopping_) {
      Observation o;
      o.at_ms = epoch_ms();
      o.haproxy = haproxy_servers(haproxy_->command("show stat"), "trino");
      o.nginx_down = nginx_down_endpoints(testing::file_text(upstream_path()));
      o.nginx_workers = nginx_->worker_pids();
      if (auto failing = zk_->children(root + "/failing", {}, 500ms); failing.ok() && *failing) {
        for (const std::string& id : **failing) {
          auto node = zk_->get(root + "/failing/" + id, {}, 500ms);
          if (node.ok() && *node) {
            o.failing[id] = (**node).stat.ctime;
            o.failing_data[id] = (**node).data;
          }
        }
      }
      if (auto nodes = zk_->children(root + "/nodes", {}, 500ms); nodes.ok() && *nodes) {
        o.nodes.insert((**nodes).begin(), (**nodes).end());
      }
      {
        std::lock_guard lock(mutex_);
        observations_.push_back(std::move(o));
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  testing::TempDir dir_;
  testing::NodeNetwork network_;
  testing::ZooKeeperEnsemble zookeeper_;
  uint16_t nginx_port_;
  uint16_t haproxy_port_;
  std::vector<std::unique_ptr<testing::StandinJvm>> jvms_;
  std::vector<std::unique_ptr<testing::NodeAgent>> agents_;
  std::optional<testing::Haproxy> haproxy_;
  testing::TempDir nginx_dir_{"failover-nginx"};
  std::optional<testing::Nginx> nginx_;
  std::optional<ChildProcess> balancer_nginx_;
  std::optional<ChildProcess> balancer_haproxy_;
  std::unique_ptr<zk::ZkClient> zk_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<Observation> observations_;
  std::thread observer_;
  std::optional<testing::LoadClient> via_nginx_;
  std::optional<testing::LoadClient> via_haproxy_;
};

// ---- one fault episode on node2 ----------------------------------------------------------

// What happened between the fault and node2's return, on the epoch-ms clock.
struct Episode {
  int64_t fault_ms = 0;
  std::optional<int64_t> verdict_ms;         // failing/node2's ctime, or vanish + down_after
  std::string verdict_payload;               // failing/node2's data when first seen
  std::optional<int64_t> vanished_ms;        // nodes/node2 seen gone (the killed agent)
  std::optional<int64_t> haproxy_out_ms;     // HAProxy shows node2 out of rotation
  std::optional<int64_t> nginx_down_ms;      // the upstream file marks node2 down
  std::optional<int64_t> nginx_reload_ms;    // a new nginx worker after that
  std::optional<int64_t> haproxy_last_ms;    // the last sample in which node2's stot grew
  std::optional<int64_t> nginx_last_ms;      // the last request nginx sent to node2
  int64_t cleared_ms = 0;                    // the fault removed
  std::optional<int64_t> back_nginx_ms;      // node2 answered through nginx again
  std::optional<int64_t> back_haproxy_ms;
  size_t requests_nginx = 0, errors_nginx = 0, requests_haproxy = 0, errors_haproxy = 0;

  std::string describe() const {
    auto rel = [&](const std::optional<int64_t>& t) {
      return t ? std::to_string(*t - fault_ms) + " ms" : std::string("never");
    };
    std::ostringstream out;
    out << "after the fault: verdict " << rel(verdict_ms) << ", znode vanished " << rel(vanished_ms)
        << ", HAProxy out " << rel(haproxy_out_ms) << ", nginx file down " << rel(nginx_down_ms) << ", nginx reloaded "
        << rel(nginx_reload_ms) << ", last traffic via HAProxy " << rel(haproxy_last_ms) << ", via nginx "
        << rel(nginx_last_ms) << "; fault cleared " << cleared_ms - fault_ms << " ms, back via nginx "
        << rel(back_nginx_ms) << ", via HAProxy " << rel(back_haproxy_ms) << "; client errors nginx " << errors_nginx
        << "/" << requests_nginx << ", HAProxy " << errors_haproxy << "/" << requests_haproxy;
    return out.str();
  }
};

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ROOT();
    NODEPULSE_REQUIRE_ZOOKEEPER();
    NODEPULSE_REQUIRE_BINARY(testing::kNginxBinary);
    NODEPULSE_REQUIRE_BINARY(testing::kHaproxyBinary);
    NODEPULSE_REQUIRE_BINARY("/usr/sbin/iptables");
    const testing::Stopwatch setup;
    cluster_ = std::make_unique<FailoverCluster>();
    ASSERT_TRUE(cluster_->wait_all_in(60s)) << "the cluster did not settle\n" << cluster_->diagnostics();
    std::printf("cluster up and serving in %.1f s\n", setup.ms() / 1000);
  }
  void TearDown() override { cluster_.reset(); }

  // Node2 answers through both balancers and nothing is failing: the signal's absence before
  // the fault.
  void expect_victim_serving() {
    const int64_t now = epoch_ms();
    ASSERT_TRUE(testing::wait_until(
        [&] {
          return cluster_->via_nginx().first_answered_by(node_id(kVictim), now) &&
                 cluster_->via_haproxy().first_answered_by(node_id(kVictim), now);
        },
        5s))
        << "node2 serves no traffic before the fault\n" << cluster_->diagnostics();
    ASSERT_TRUE(cluster_->latest().failing.empty()) << "something is failing before the fault";
  }

  // Waits for the drain (the verdict and both balancers' change), up to `timeout` after the fault.
  void wait_drained(Episode& episode, std::chrono::milliseconds timeout) {
    testing::wait_until(
        [&] {
          analyse_drain(episode);
          return episode.haproxy_out_ms && episode.nginx_reload_ms;
        },
        timeout);
    std::this_thread::sleep_for(2000ms);  // held: traffic must stay away, and the records settle
  }

  void analyse_drain(Episode& e) {
    const std::string victim = node_id(kVictim);
    const std::string endpoint = node_endpoint(kVictim);
    const auto observations = cluster_->observations_between(e.fault_ms - 1000, epoch_ms() + 1);
    // From scratch on every call: the observations only grow.
    e.verdict_ms.reset();
    e.vanished_ms.reset();
    e.haproxy_out_ms.reset();
    e.nginx_down_ms.reset();
    e.nginx_reload_ms.reset();
    std::set<pid_t> workers_before;
    for (size_t k = 0; k < observations.size(); ++k) {
      const Observation& o = observations[k];
      if (o.at_ms < e.fault_ms) {
        workers_before = o.nginx_workers;
        continue;
      }
      if (auto f = o.failing.find(victim); f != o.failing.end() && f->second >= e.fault_ms - 200 && !e.verdict_ms) {
        e.verdict_ms = f->second;
        e.verdict_payload = o.failing_data.count(victim) ? o.failing_data.at(victim) : "";
      }
      if (!o.nodes.count(victim) && !e.vanished_ms) e.vanished_ms = o.at_ms;
      if (auto s = o.haproxy.find(victim); s != o.haproxy.end() && s->second.out() && !e.haproxy_out_ms) {
        e.haproxy_out_ms = o.at_ms;
      }
      if (o.nginx_down.count(endpoint) && !e.nginx_down_ms) e.nginx_down_ms = o.at_ms;
      if (e.nginx_down_ms && !e.nginx_reload_ms) {
        for (pid_t worker : o.nginx_workers) {
          if (!workers_before.count(worker)) e.nginx_reload_ms = o.at_ms;
        }
      }
      if (!e.nginx_down_ms) workers_before = o.nginx_workers;
    }
  }

  // The last moments each balancer sent node2 a request, in [fault, until).
  void analyse_traffic(Episode& e, int64_t until_ms) {
    const std::string victim = node_id(kVictim);
    const auto observations = cluster_->observations_between(e.fault_ms - 100, until_ms);
    for (size_t k = 1; k < observations.size(); ++k) {
      const auto now = observations[k].haproxy.find(victim);
      const auto before = observations[k - 1].haproxy.find(victim);
      if (now == observations[k].haproxy.end() || before == observations[k - 1].haproxy.end()) continue;
      if (now->second.stot > before->second.stot && observations[k].at_ms >= e.fault_ms) {
        e.haproxy_last_ms = observations[k].at_ms;
      }
    }
    for (const NginxRequest& r : parse_access_log(testing::file_text(cluster_->access_log_path()))) {
      for (size_t u = 0; u < r.upstreams.size(); ++u) {
        if (r.upstreams[u] != node_endpoint(kVictim)) continue;
        // The first try goes out when the request starts; a later one by the time it ends.
        const int64_t sent = u == 0 ? r.start_ms : r.end_ms;
        if (sent >= e.fault_ms && sent < until_ms && (!e.nginx_last_ms || sent > *e.nginx_last_ms)) e.nginx_last_ms = sent;
      }
    }
  }

  void wait_back(Episode& e) {
    const std::string victim = node_id(kVictim);
    testing::wait_until(
        [&] {
          if (auto r = cluster_->via_nginx().first_answered_by(victim, e.cleared_ms)) e.back_nginx_ms = r->start_ms;
          if (auto r = cluster_->via_haproxy().first_answered_by(victim, e.cleared_ms)) e.back_haproxy_ms = r->start_ms;
          return e.back_nginx_ms && e.back_haproxy_ms;
        },
        std::chrono::milliseconds(kRecoveryBoundMs));
    const int64_t end = std::max(e.back_nginx_ms.value_or(epoch_ms()), e.back_haproxy_ms.value_or(epoch_ms()));
    auto count = [&](testing::LoadClient& client, size_t& requests, size_t& errors) {
      for (const testing::ClientRequest& r : client.between(e.fault_ms, end)) {
        ++requests;
        if (r.status != 200) ++errors;
      }
    };
    count(cluster_->via_nginx(), e.requests_nginx, e.errors_nginx);
    count(cluster_->via_haproxy(), e.requests_haproxy, e.errors_haproxy);
  }

  // While the verdict holds — failing/node2 exists (or, for the killed agent, nodes/node2 is
  // gone) — node2 is out in both balancers at every observation from 1 s after the verdict
  // began (its ctime; for the vanished znode, the grace's end) until `to_ms`, and the nginx
  // workers serving then were started after the upstream file last marked it down (the reload
  // had taken effect). A node whose agent sees clean readings for recover_after_ms comes back
  // even while the fault lasts (a drained, starved JVM gets no requests to wait on), and is
  // judged again on its next verdict. Guards against crediting an earlier, unrelated change.
  // Observations where another node is failing too are not checked: the budget
  // (max_unhealthy_fraction 0.34, one of three) then picks which one is out, and the CPU
  // starvation can spread to the JVMs sharing the starved CPU on a busy machine (seen in CI:
  // node1 failing from 1.8 s, out in node2's place). TheSameFaultOnAllThreeNodesDrainsAtMostOne
  // covers the budget.
  void expect_out_while_failing(int64_t fault_ms, int64_t to_ms) {
    const std::string victim = node_id(kVictim);
    const std::string endpoint = node_endpoint(kVictim);
    // From before the fault, when node2 was in (expect_victim_serving saw it answer through both).
    const auto observations = cluster_->observations_between(fault_ms - 1000, to_ms);
    std::optional<size_t> down_since;    // index of the observation where nginx's current down run began
    int64_t vanished_at = -1;            // when the current absence of nodes/node2 was first seen; -1: present
    size_t checked = 0;
    size_t shared_with_others = 0;  // due, but another node was failing too
    for (size_t k = 0; k < observations.size(); ++k) {
      const Observation& o = observations[k];
      const bool down = o.nginx_down.count(endpoint) > 0;
      if (down && !down_since) down_since = k;
      if (!down) down_since.reset();
      const bool gone = !o.nodes.count(victim) && !o.nodes.empty();
      if (gone && vanished_at < 0) vanished_at = o.at_ms;
      if (!gone) vanished_at = -1;
      const auto failing = o.failing.find(victim);
      const bool due = (failing != o.failing.end() && o.at_ms >= failing->second + kDrainBoundMs) ||
                       (vanished_at >= 0 && o.at_ms >= vanished_at + kDownAfterMs + kDrainBoundMs);
      if (!due || o.at_ms < fault_ms) continue;
      if (std::any_of(o.failing.begin(), o.failing.end(), [&](const auto& f) { return f.first != victim; })) {
        ++shared_with_others;
        continue;
      }
      ++checked;
      const auto server = o.haproxy.find(victim);
      EXPECT_TRUE(server != o.haproxy.end() && server->second.out())
          << "node2 in HAProxy while failing, at " << o.at_ms - fault_ms << " ms after the fault";
      ASSERT_TRUE(down) << "node2 not down in nginx's upstream file while failing, at " << o.at_ms - fault_ms
                        << " ms after the fault";
      ASSERT_TRUE(*down_since > 0) << "node2 was down in nginx's file before the fault";
      const std::set<pid_t>& before = observations[*down_since - 1].nginx_workers;
      bool reloaded = false;
      for (pid_t worker : o.nginx_workers) reloaded = reloaded || !before.count(worker);
      EXPECT_TRUE(reloaded) << "no nginx worker started after node2 was marked down, at " << o.at_ms - fault_ms
                            << " ms after the fault";
    }
    // The observer samples every 20 ms plus its own work, slower on a loaded machine.
    EXPECT_GE(checked, 2u) << "too few observations while node2 was the one node failing (" << shared_with_others
                           << " more while another node was failing too)";
  }

  // The assertions every single-node fault shares. `detect_bound_ms`: fault → verdict.
  // `reason`: what the verdict must name ("net:", "runq:", ...: the rule the fault trips), so a
  // verdict from something else (the shared machine's load) does not pass for this fault's.
  void expect_failover(Episode& e, int64_t detect_bound_ms, const std::string& reason) {
    std::printf("%s\n", e.describe().c_str());
    ASSERT_TRUE(e.verdict_ms) << "no verdict: " << e.describe() << "\n" << cluster_->diagnostics();
    if (!reason.empty()) {
      EXPECT_NE(e.verdict_payload.find(reason), std::string::npos)
          << "the verdict does not come from the fault: " << e.verdict_payload;
    }
    EXPECT_LE(*e.verdict_ms - e.fault_ms, detect_bound_ms) << e.describe();
    ASSERT_TRUE(e.haproxy_out_ms) << "HAProxy never took node2 out: " << e.describe() << "\n" << cluster_->diagnostics();
    ASSERT_TRUE(e.nginx_reload_ms) << "nginx never took node2 out: " << e.describe() << "\n" << cluster_->diagnostics();
    EXPECT_LE(*e.haproxy_out_ms - *e.verdict_ms, kDrainBoundMs) << e.describe();
    EXPECT_LE(*e.nginx_reload_ms - *e.verdict_ms, kDrainBoundMs) << e.describe();
    expect_out_while_failing(e.fault_ms, e.cleared_ms);
    if (e.haproxy_last_ms) {
      EXPECT_LE(*e.haproxy_last_ms - *e.verdict_ms, kDrainBoundMs) << e.describe();
    }
    if (e.nginx_last_ms) {
      EXPECT_LE(*e.nginx_last_ms - *e.verdict_ms, kDrainBoundMs) << e.describe();
    }
    EXPECT_TRUE(e.back_nginx_ms) << "node2 never came back in nginx: " << e.describe() << "\n" << cluster_->diagnostics();
    EXPECT_TRUE(e.back_haproxy_ms) << "node2 never came back in HAProxy: " << e.describe() << "\n"
                                   << cluster_->diagnostics();
    EXPECT_LE(e.errors_nginx, kMaxClientErrors) << e.describe();
    EXPECT_LE(e.errors_haproxy, kMaxClientErrors) << e.describe();
    EXPECT_GT(e.requests_nginx, 20u) << "too little load to judge: " << e.describe();
    EXPECT_GT(e.requests_haproxy, 20u) << "too little load to judge: " << e.describe();
  }

  std::unique_ptr<FailoverCluster> cluster_;
};

TEST_F(FailoverTest, CpuStarvedJvmIsDrainedWithinASecondOfTheVerdictAndComesBack) {
  expect_victim_serving();
  Episode e;
  e.fault_ms = epoch_ms();
  {
    testing::CpuStarvation starvation(cluster_->jvm(kVictim).pid(), testing::last_cpu(), 30s);
    wait_drained(e, 10s);
    e.cleared_ms = epoch_ms();
  }
  analyse_traffic(e, e.cleared_ms);
  wait_back(e);
  // runq_stall_fail_ms (500) of waiting, seen when the thread next runs or at the next
  // collection (100 ms), behind a real-time loop busy for 800 ms at a time; a JVM thread that
  // was asleep when a round began waits only for the rest of it, so the bound allows rounds.
  expect_failover(e, 5000, "\"runq: trino ");
}

TEST_F(FailoverTest, PacketLossOnItsLinkDrainsItWithinASecondOfTheVerdictAndItComesBack) {
  expect_victim_serving();
  const testing::NetNamespace& ns = cluster_->network().ns(kVictim);
  Episode e;
  e.fault_ms = epoch_ms();
  // Half of node2's TCP packets lost, both ways: its link is sick.
  for (const char* chain : {"INPUT", "OUTPUT"}) {
    ns.exec({"iptables", "-A", chain, "-p", "tcp", "-m", "statistic", "--mode", "random", "--probability", "0.5", "-j",
             "DROP"});
  }
  wait_drained(e, 12s);
  e.cleared_ms = epoch_ms();
  ns.exec({"iptables", "-F"});
  analyse_traffic(e, e.cleared_ms);
  wait_back(e);
  // The net rule fails a node when more than half of its active cluster peers are troubled
  // (half of the connects to it failed, or 50 retransmits, within window_ms). node2's peers: the
  // two other workers, whose pages it pulls every 40 ms (at 50% loss ~3 in 4 of its connects
  // time out, after 300 ms), and the balancer host. A peer is judged on the whole window, which
  // holds ~25 successful pulls a second from before the fault until they slide out while ~3
  // failures a second come in: failures dominate after ~0.9 window. Bound: one window and 2.5 s
  // for the small counts' luck, the collection and the publication.
  expect_failover(e, kWindowMs + 2500, "\"net: connect failures or retransmits");
}

TEST_F(FailoverTest, OomKilledJvmIsDrainedWithinASecondOfTheVerdictAndComesBackWhenRestarted) {
  expect_victim_serving();
  Episode e;
  {
    testing::MemoryCgroup cgroup(96ull << 20);
    cgroup.add(cluster_->jvm(kVictim).pid());
    ASSERT_TRUE(cluster_->jvm(kVictim).request("POST", "/control/allocate?mb=400"));
    const auto status = cluster_->jvm(kVictim).process().wait_for_exit(20s);
    e.fault_ms = epoch_ms();  // the kill itself (seen within 5 ms)
    ASSERT_TRUE(status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
        << "the JVM was not OOM-killed: " << testing::file_text(cluster_->jvm_log(kVictim));
    wait_drained(e, 5s);
  }
  const auto health = cluster_->agent(kVictim).health();
  EXPECT_TRUE(health && health->body.find("OOM-killed") != std::string::npos)
      << "the verdict does not name the OOM kill: " << (health ? health->body : "no /health answer");
  e.cleared_ms = epoch_ms();
  cluster_->start_jvm(kVictim);  // as its supervisor would
  analyse_traffic(e, e.cleared_ms);
  wait_back(e);
  // Target liveness is judged at once (ring-buffer event / process exit), then published.
  expect_failover(e, 1000, "was OOM-killed");
}

TEST_F(FailoverTest, JvmHeldInALongSafepointIsDrainedWithinASecondOfTheVerdictAndComesBack) {
  expect_victim_serving();
  Episode e;
  e.fault_ms = epoch_ms();
  ASSERT_TRUE(cluster_->jvm(kVictim).request("POST", "/control/stall?ms=2500"));
  wait_drained(e, 5s);
  e.cleared_ms = std::max(epoch_ms(), e.fault_ms + 2600);  // the stall ends by itself (at least 2.5 s)
  analyse_traffic(e, e.cleared_ms);
  wait_back(e);
  // The stall begins 50 ms after the request; failing once it has lasted jvm_pause_fail_ms
  // (600), read on the agent's pause timer; then published.
  expect_failover(e, 50 + kJvmPauseFailMs + 600, "\"jvm: trino paused");
}

TEST_F(FailoverTest, KilledAgentsNodeIsTakenOutAfterSessionExpiryAndGraceAndComesBack) {
  expect_victim_serving();
  Episode e;
  e.fault_ms = epoch_ms();
  cluster_->agent(kVictim).kill();
  wait_drained(e, 8s);
  analyse_drain(e);
  ASSERT_TRUE(e.vanished_ms) << "nodes/node2 never went: " << e.describe();
  EXPECT_FALSE(e.verdict_ms) << "a killed agent cannot have published failing/";
  // No failing/ znode: the balancers' verdict is the vanished znode plus their grace.
  e.verdict_ms = *e.vanished_ms + kDownAfterMs;
  e.cleared_ms = epoch_ms();
  cluster_->agent(kVictim).start();
  analyse_traffic(e, e.cleared_ms);
  wait_back(e);
  // ZooKeeper expires a session within its timeout plus one tick; the observer polls at 20 ms.
  EXPECT_LE(*e.vanished_ms - e.fault_ms, kSessionTimeoutMs + kTickMs + 500) << e.describe();
  expect_failover(e, kSessionTimeoutMs + kTickMs + 500 + kDownAfterMs, "");
}

TEST_F(FailoverTest, TheSameFaultOnAllThreeNodesDrainsAtMostOne) {
  const int64_t fault_ms = epoch_ms();
  for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(cluster_->jvm(i).request("POST", "/control/stall?ms=4000"));
  std::this_thread::sleep_for(4500ms);
  const auto observations = cluster_->observations_between(fault_ms, epoch_ms());
  size_t most_failing = 0, most_out_haproxy = 0, most_out_nginx = 0;
  for (const Observation& o : observations) {
    size_t out = 0;
    for (const auto& [name, server] : o.haproxy) out += server.out() ? 1 : 0;
    most_failing = std::max(most_failing, o.failing.size());
    most_out_haproxy = std::max(most_out_haproxy, out);
    most_out_nginx = std::max(most_out_nginx, o.nginx_down.size());
  }
  std::printf("all three stalled: at most %zu failing at once; out at once: HAProxy %zu, nginx %zu (%zu samples)\n",
              most_failing, most_out_haproxy, most_out_nginx, observations.size());
  ASSERT_EQ(most_failing, 3u) << "the fault did not reach all three nodes at once\n" << cluster_->diagnostics();
  EXPECT_EQ(most_out_haproxy, 1u) << "max_unhealthy_fraction 0.34 of 3 servers allows exactly one out";
  EXPECT_EQ(most_out_nginx, 1u) << "max_unhealthy_fraction 0.34 of 3 servers allows exactly one out";
  // And all come back once the stalls end.
  EXPECT_TRUE(cluster_->wait_all_in(30s)) << cluster_->diagnostics();
}

}  // namespace
}  // namespace nodepulse
