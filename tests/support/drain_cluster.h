// A Trino-like cluster for the trino sink: three worker nodes (network namespaces on a bridge,
// each running the Java worker stand-in — the JVM its agent watches — and a Trino API stand-in
// with the reversible drain), a coordinator stand-in whose failure detector pings the worker
// JVMs, a 3-server ZooKeeper ensemble, and one `nodepulse agent` per worker with trino.drain:
// auto. Used by tests/e2e/trino_drain_test.cpp and bench/drain.cpp (`bench/detection workers`). Everything is removed by its
// owner, also when an assertion fails half-way.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "services.h"
#include "trino_cluster.h"
#include "trino_standin.h"
#include "zookeeper.h"

namespace nodepulse::testing {

using namespace std::chrono_literals;

inline constexpr int kNodes = 3;
inline constexpr const char* kDrainClusterName = "drain";
inline constexpr int kZkLossHoldMs = 3000;  // trino.zk_loss_hold_ms

inline std::string node_id(int i) { return "node" + std::to_string(i + 1); }

inline nlohmann::json health_json(const NodeAgent& agent) {
  const auto reply = agent.health();
  if (!reply) return nlohmann::json::object();
  return nlohmann::json::parse(reply->body, nullptr, false);
}

inline std::string drain_state(const NodeAgent& agent) {
  const nlohmann::json health = health_json(agent);
  if (!health.is_object() || !health.contains("trino_drain")) return "";
  return health["trino_drain"].value("state", "");
}

// The sum of one metric's samples whose line contains `labels`.
inline double metric_sum(uint16_t port, const std::string& name, const std::string& labels = "") {
  const auto reply = http_get(port, "/metrics");
  if (!reply) return -1;
  double sum = 0;
  std::istringstream lines(reply->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name, 0) != 0 || (line.size() > name.size() && line[name.size()] != '{' && line[name.size()] != ' '))
      continue;
    if (!labels.empty() && line.find(labels) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

inline bool out_of_scheduling(const std::string& state) {
  return state == "DRAINING" || state == "DRAINED" || state == "SHUTTING_DOWN";
}

class DrainCluster {
 public:
  // `lifetime` bounds the Trino API stand-ins' lives (their --max-seconds); the worker JVMs live
  // 600 s at most.
  explicit DrainCluster(std::chrono::seconds lifetime = std::chrono::seconds(300))
      : network_(kNodes), zookeeper_(3, 500) {
    for (int i = 0; i < kNodes; ++i) {
      // Each pulls pages from the other two, as Trino workers do: the net rule judges those peers.
      std::vector<std::string> peers;
      for (int j = 0; j < kNodes; ++j) {
        if (j != i) peers.push_back(NodeNetwork::node_address(j) + ":8080");
      }
      jvms_.push_back(std::make_unique<StandinJvm>(network_.ns(i), node_id(i),
                                                            NodeNetwork::node_address(i), marker(i),
                                                            dir_.path() / ("jvm-" + node_id(i) + ".log"), peers,
                                                            std::chrono::milliseconds(40)));
      workers_.push_back(std::make_unique<TrinoStandin>(
          TrinoStandin::worker(node_id(i), dir_.path() / ("trino-" + node_id(i) + ".log"), lifetime)));
    }
    coordinator_ = std::make_unique<TrinoStandin>(
        TrinoStandin::coordinator(worker_uris(), dir_.path() / "trino-coordinator.log"));
    for (int i = 0; i < kNodes; ++i) {
      if (!jvms_[i]->wait_ready(60s, /*stall_ready=*/true)) {
        throw std::runtime_error(node_id(i) + "'s JVM did not come up");
      }
    }
    for (int i = 0; i < kNodes; ++i) {
      const uint16_t port = free_loopback_port();
      agents_.push_back(
          std::make_unique<NodeAgent>(agent_config(i, port), port, dir_.path(), "agent-" + node_id(i)));
    }
  }

  // Every agent healthy, with its Trino in scheduling.
  bool wait_all_active(std::chrono::milliseconds timeout) const {
    return wait_until(
        [&] {
          for (int i = 0; i < kNodes; ++i) {
            if (!agents_[i]->wait_state("healthy", 0ms) || drain_state(*agents_[i]) != "active" ||
                worker(i).state() != "ACTIVE") {
              return false;
            }
          }
          return true;
        },
        timeout);
  }

  std::string diagnostics() const {
    std::string text;
    for (int i = 0; i < kNodes; ++i) {
      text += node_id(i) + " /health: " + agents_[i]->health().value_or(HttpReply{}).body + "\n";
      text += node_id(i) + " Trino transitions: " + worker(i).transitions_json() + "\n";
    }
    for (int i = 0; i < kNodes; ++i) text += agents_[i]->log();
    return text;
  }

  StandinJvm& jvm(int i) { return *jvms_[i]; }
  const TrinoStandin& worker(int i) const { return *workers_[i]; }
  TrinoStandin& coordinator() { return *coordinator_; }
  NodeAgent& agent(int i) { return *agents_[i]; }
  ZooKeeperEnsemble& zookeeper() { return zookeeper_; }

  // The real-time busy loop of CpuStarvation owns the last CPU for 800 ms at a time; on a 2-CPU
  // machine any thread that happens to sit there — the observer's, an agent's, a ZooKeeper server's, another
  // worker's JVM, a Trino API stand-in — waits as long as the starved JVM does. So the whole rig
  // but the victim (which CpuStarvation then pins to that CPU) keeps off it, as deployed agents
  // are kept off the CPUs their JVM starves on (systemd CPUAffinity=). The API stand-ins are the
  // rig's, not Trino's: a real Trino serves its API from the starved JVM itself (README "Trino
  // workers", honest limits).
  void keep_off_the_last_cpu() {
    std::vector<pid_t> pids = {::getpid(), coordinator_->pid()};  // the observer too: it times the drain
    for (int i = 0; i < kNodes; ++i) {
      pids.push_back(agents_[i]->pid());
      pids.push_back(workers_[i]->pid());
      pids.push_back(jvms_[i]->pid());
    }
    for (int i = 0; i < zookeeper_.size(); ++i) {
      if (zookeeper_.running(i)) pids.push_back(zookeeper_.pid(i));
    }
    for (pid_t pid : pids) {
      const auto pinned = run_command({"taskset", "-a", "-p", "-c", "0", std::to_string(pid)});
      if (pinned.status != 0) throw std::runtime_error("taskset: " + pinned.output);
    }
  }
  const NodeNetwork& network() const { return network_; }
  // The worker JVMs' base URLs, as a coordinator's failure detector pings them.
  static std::vector<std::string> worker_uris() {
    std::vector<std::string> uris;
    for (int i = 0; i < kNodes; ++i) uris.push_back("http://" + NodeNetwork::node_address(i) + ":8080");
    return uris;
  }

 private:
  std::string marker(int i) const { return "nodepulse.drain=" + std::to_string(::getpid()) + "-" + node_id(i) + "x"; }

  std::string agent_config(int i, uint16_t http_port) const {
    return std::string("cluster: ") + kDrainClusterName + "\nnode:\n  id: " + node_id(i) + "\n  role: worker\n" +
           "trino:\n  etc_dir: " + (dir_.path() / "no-trino-etc").string() + "\n  drain: auto\n  url: " +
           workers_[i]->url() + "\n  user: nodepulse\n  max_unhealthy_fraction: 0.34\n  zk_loss_hold_ms: " +
           std::to_string(kZkLossHoldMs) + "\n  timeout_ms: 500\n" + "targets:\n  - name: trino\n" +
           "    cmdline_contains: \"" + marker(i) + "\"\nnetwork:\n  netns: " + network_.ns(i).path() +
           "\n  ports: [8080]\nzookeeper:\n  connect: \"" + zookeeper_.connect_string() +
           "\"\n  session_timeout_ms: 2000\nheartbeat:\n  interval_ms: 500\ncollect:\n  interval_ms: 100\n"
           "health:\n  recover_after_ms: 2000\n  window_ms: 4000\n  runq_p99_warn_ms: 100\n  runq_p99_fail_ms: 700\n"
           "  runq_stall_fail_ms: 250\n  stopped_fail_ms: 100\n  jvm_pause_warn_ms: 300\n  jvm_pause_fail_ms: 600\nhttp:\n  listen: 127.0.0.1:" +
           std::to_string(http_port) + "\n";
  }

  TempDir dir_{"trino_drain"};
  NodeNetwork network_;
  ZooKeeperEnsemble zookeeper_;
  std::vector<std::unique_ptr<StandinJvm>> jvms_;
  std::vector<std::unique_ptr<TrinoStandin>> workers_;
  std::unique_ptr<TrinoStandin> coordinator_;
  std::vector<std::unique_ptr<NodeAgent>> agents_;
};

}  // namespace nodepulse::testing
