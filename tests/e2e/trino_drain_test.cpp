// The trino sink end to end, nothing simulated but Trino itself (tests/e2e/trino_standin.cpp, a
// stand-in written from Trino's documentation and source):
//   - three worker nodes, each a network namespace running the Java worker stand-in (the JVM the
//     agent watches, tests/e2e/java/TrinoWorkerStandin.java), a Trino API stand-in with the
//     reversible drain (DRAINING / DRAINED / ACTIVE) and its own `nodepulse agent` with
//     trino.drain: auto;
//   - a coordinator stand-in whose failure detector (Trino's defaults) pings the worker JVMs;
//   - a 3-server ZooKeeper ensemble holding heartbeats and the drain budget.
// Each fault TEST asserts on the signal the fault must produce and on its absence elsewhere:
// the sick worker leaves scheduling and comes back, the healthy ones never change state; with
// all three sick only max_unhealthy_fraction of them leave; without ZooKeeper nothing new
// leaves and a drain is undone after trino.zk_loss_hold_ms. A lighter fixture (one agent, one
// ZooKeeper server, no JVM) covers wrong credentials and a Trino that hangs or answers garbage.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cpu_starvation.h"
#include "process.h"
#include "services.h"
#include "trino_cluster.h"
#include "trino_standin.h"
#include "zookeeper.h"
#include "zookeeper/zk_client.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::epoch_ms;

constexpr int kNodes = 3;
constexpr int kVictim = 1;  // node2
constexpr const char* kCluster = "drain";
constexpr int kZkLossHoldMs = 3000;
constexpr int64_t kVerdictBoundMs = 5000;  // the failover test's bound for starvation and stalls
constexpr int64_t kDrainAfterVerdictMs = 1000;

std::string node_id(int i) { return "node" + std::to_string(i + 1); }

nlohmann::json health_json(const testing::NodeAgent& agent) {
  const auto reply = agent.health();
  if (!reply) return nlohmann::json::object();
  return nlohmann::json::parse(reply->body, nullptr, false);
}

std::string drain_state(const testing::NodeAgent& agent) {
  const nlohmann::json health = health_json(agent);
  if (!health.is_object() || !health.contains("trino_drain")) return "";
  return health["trino_drain"].value("state", "");
}

// The sum of one metric's samples whose line contains `labels`.
double metric_sum(uint16_t port, const std::string& name, const std::string& labels = "") {
  const auto reply = testing::http_get(port, "/metrics");
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

bool out_of_scheduling(const std::string& state) {
  return state == "DRAINING" || state == "DRAINED" || state == "SHUTTING_DOWN";
}

class DrainCluster {
 public:
  DrainCluster() : network_(kNodes), zookeeper_(3, 500) {
    for (int i = 0; i < kNodes; ++i) {
      jvms_.push_back(std::make_unique<testing::StandinJvm>(network_.ns(i), node_id(i),
                                                            testing::NodeNetwork::node_address(i), marker(i),
                                                            dir_.path() / ("jvm-" + node_id(i) + ".log")));
      workers_.push_back(std::make_unique<testing::TrinoStandin>(
          testing::TrinoStandin::worker(node_id(i), dir_.path() / ("trino-" + node_id(i) + ".log"))));
    }
    std::vector<std::string> worker_uris;
    for (int i = 0; i < kNodes; ++i) worker_uris.push_back("http://" + testing::NodeNetwork::node_address(i) + ":8080");
    coordinator_ = std::make_unique<testing::TrinoStandin>(
        testing::TrinoStandin::coordinator(worker_uris, dir_.path() / "trino-coordinator.log"));
    for (int i = 0; i < kNodes; ++i) {
      if (!jvms_[i]->wait_ready(60s, /*stall_ready=*/true)) {
        throw std::runtime_error(node_id(i) + "'s JVM did not come up");
      }
    }
    for (int i = 0; i < kNodes; ++i) {
      const uint16_t port = testing::free_loopback_port();
      agents_.push_back(
          std::make_unique<testing::NodeAgent>(agent_config(i, port), port, dir_.path(), "agent-" + node_id(i)));
    }
  }

  // Every agent healthy, with its Trino in scheduling.
  bool wait_all_active(std::chrono::milliseconds timeout) const {
    return testing::wait_until(
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
      text += node_id(i) + " /health: " + agents_[i]->health().value_or(testing::HttpReply{}).body + "\n";
      text += node_id(i) + " Trino transitions: " + worker(i).transitions_json() + "\n";
    }
    for (int i = 0; i < kNodes; ++i) text += agents_[i]->log();
    return text;
  }

  testing::StandinJvm& jvm(int i) { return *jvms_[i]; }
  const testing::TrinoStandin& worker(int i) const { return *workers_[i]; }
  testing::TrinoStandin& coordinator() { return *coordinator_; }
  testing::NodeAgent& agent(int i) { return *agents_[i]; }
  testing::ZooKeeperEnsemble& zookeeper() { return zookeeper_; }

 private:
  std::string marker(int i) const { return "nodepulse.drain=" + std::to_string(::getpid()) + "-" + node_id(i) + "x"; }

  std::string agent_config(int i, uint16_t http_port) const {
    return std::string("cluster: ") + kCluster + "\nnode:\n  id: " + node_id(i) + "\n  role: worker\n" +
           "trino:\n  etc_dir: " + (dir_.path() / "no-trino-etc").string() + "\n  drain: auto\n  url: " +
           workers_[i]->url() + "\n  user: nodepulse\n  max_unhealthy_fraction: 0.34\n  zk_loss_hold_ms: " +
           std::to_string(kZkLossHoldMs) + "\n  timeout_ms: 500\n" + "targets:\n  - name: trino\n" +
           "    cmdline_contains: \"" + marker(i) + "\"\nnetwork:\n  netns: " + network_.ns(i).path() +
           "\n  ports: [8080]\nzookeeper:\n  connect: \"" + zookeeper_.connect_string() +
           "\"\n  session_timeout_ms: 2000\nheartbeat:\n  interval_ms: 500\ncollect:\n  interval_ms: 100\n"
           "health:\n  recover_after_ms: 2000\n  window_ms: 4000\n  runq_p99_warn_ms: 100\n  runq_p99_fail_ms: 700\n"
           "  runq_stall_fail_ms: 500\n  jvm_pause_warn_ms: 300\n  jvm_pause_fail_ms: 600\nhttp:\n  listen: 127.0.0.1:" +
           std::to_string(http_port) + "\n";
  }

  testing::TempDir dir_{"trino_drain"};
  testing::NodeNetwork network_;
  testing::ZooKeeperEnsemble zookeeper_;
  std::vector<std::unique_ptr<testing::StandinJvm>> jvms_;
  std::vector<std::unique_ptr<testing::TrinoStandin>> workers_;
  std::unique_ptr<testing::TrinoStandin> coordinator_;
  std::vector<std::unique_ptr<testing::NodeAgent>> agents_;
};

class TrinoDrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ROOT();
    NODEPULSE_REQUIRE_ZOOKEEPER();
    cluster_ = std::make_unique<DrainCluster>();
    ASSERT_TRUE(cluster_->wait_all_active(60s)) << cluster_->diagnostics();
  }

  // Polls until `victim`'s Trino is out of scheduling; the other workers must stay ACTIVE all
  // along. Returns the epoch ms it was first seen out, or nullopt; `verdict_ms` gets when its
  // agent was first seen failing.
  std::optional<int64_t> wait_only_victim_out(int victim, std::chrono::milliseconds timeout,
                                              std::optional<int64_t>* verdict_ms = nullptr) {
    std::optional<int64_t> out_ms;
    testing::wait_until(
        [&] {
          if (verdict_ms && !*verdict_ms && cluster_->agent(victim).wait_state("failing", 0ms)) *verdict_ms = epoch_ms();
          for (int i = 0; i < kNodes; ++i) {
            if (i != victim) {
              EXPECT_EQ(cluster_->worker(i).state(), "ACTIVE") << node_id(i) << " must not change";
            }
          }
          if (out_of_scheduling(cluster_->worker(victim).state())) out_ms = epoch_ms();
          return out_ms.has_value();
        },
        timeout);
    return out_ms;
  }

  // The real-time busy loop owns the last CPU for 800 ms at a time; on a 2-CPU machine an agent
  // thread that happens to sit there would wait as long as the JVM does. Deployed agents are kept
  // off the CPUs their JVM starves on the same way (systemd CPUAffinity=).
  void keep_agents_off_the_starved_cpu() {
    for (int i = 0; i < kNodes; ++i) {
      const auto pinned = testing::run_command({"taskset", "-a", "-p", "-c", "0", std::to_string(cluster_->agent(i).pid())});
      ASSERT_EQ(pinned.status, 0) << pinned.output;
    }
  }

  std::unique_ptr<DrainCluster> cluster_;
};

TEST_F(TrinoDrainTest, StarvedWorkerLeavesSchedulingAndComesBackWhileTheOthersStay) {
  keep_agents_off_the_starved_cpu();
  const int64_t fault_ms = epoch_ms();
  std::optional<int64_t> out_ms;
  {
    testing::CpuStarvation starvation(cluster_->jvm(kVictim).pid(), testing::last_cpu(), 30s);
    std::optional<int64_t> verdict_ms;
    out_ms = wait_only_victim_out(kVictim, std::chrono::milliseconds(kVerdictBoundMs + kDrainAfterVerdictMs), &verdict_ms);
    ASSERT_TRUE(out_ms) << cluster_->diagnostics();
    ASSERT_TRUE(verdict_ms);
    std::printf("[timing] starved node2: failing verdict seen %lld ms after the fault, out of scheduling %lld ms after "
                "it; coordinator's failed list then: %s\n",
                static_cast<long long>(*verdict_ms - fault_ms), static_cast<long long>(*out_ms - *verdict_ms),
                cluster_->coordinator().failed_nodes_json().c_str());
    std::printf("[timing] Trino's own record of the drain: %s\n", cluster_->worker(kVictim).transitions_json().c_str());
    EXPECT_LE(*out_ms - *verdict_ms, kDrainAfterVerdictMs) << cluster_->diagnostics();
  }
  // Back once healthy (recover_after_ms 2 s, the 4 s window), and DRAINED never stuck.
  ASSERT_TRUE(testing::wait_until([&] { return cluster_->worker(kVictim).state() == "ACTIVE"; }, 30s))
      << cluster_->diagnostics();
  ASSERT_TRUE(cluster_->wait_all_active(10s)) << cluster_->diagnostics();
  for (int i = 0; i < kNodes; ++i) {
    const double drains = metric_sum(cluster_->agent(i).http_port(), "nodepulse_trino_drain_transitions_total",
                                     "action=\"drain\",outcome=\"ok\"");
    const double restores = metric_sum(cluster_->agent(i).http_port(), "nodepulse_trino_drain_transitions_total",
                                       "action=\"restore\",outcome=\"ok\"");
    EXPECT_EQ(drains, i == kVictim ? 1 : 0) << node_id(i);
    EXPECT_EQ(restores, i == kVictim ? 1 : 0) << node_id(i);
  }
}

TEST_F(TrinoDrainTest, AllThreeSickAtOnceDrainsExactlyOneAndTheOthersSayBudgetExhausted) {
  for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(cluster_->jvm(i).request("POST", "/control/stall?ms=2500"));
  int most_out = 0;
  bool two_exhausted_one_out = testing::wait_until(
      [&] {
        int out = 0, exhausted = 0;
        for (int i = 0; i < kNodes; ++i) {
          if (out_of_scheduling(cluster_->worker(i).state())) ++out;
          if (drain_state(cluster_->agent(i)) == "budget_exhausted") ++exhausted;
        }
        most_out = std::max(most_out, out);
        return out == 1 && exhausted == 2;
      },
      std::chrono::milliseconds(kVerdictBoundMs + 2000));
  EXPECT_TRUE(two_exhausted_one_out) << cluster_->diagnostics();
  // Never more than one out, until all three are back.
  testing::wait_until(
      [&] {
        int out = 0;
        for (int i = 0; i < kNodes; ++i) out += out_of_scheduling(cluster_->worker(i).state()) ? 1 : 0;
        most_out = std::max(most_out, out);
        return false;
      },
      3s);
  EXPECT_EQ(most_out, 1) << cluster_->diagnostics();
  EXPECT_TRUE(cluster_->wait_all_active(30s)) << cluster_->diagnostics();
  double exhausted_total = 0;
  for (int i = 0; i < kNodes; ++i) {
    exhausted_total += metric_sum(cluster_->agent(i).http_port(), "nodepulse_trino_drain_transitions_total",
                                  "outcome=\"budget_exhausted\"");
  }
  EXPECT_GE(exhausted_total, 2) << cluster_->diagnostics();
}

TEST_F(TrinoDrainTest, WithoutZooKeeperNothingNewIsDrainedAndADrainIsUndoneAfterTheHold) {
  keep_agents_off_the_starved_cpu();
  testing::CpuStarvation victim_starved(cluster_->jvm(kVictim).pid(), testing::last_cpu(), 40s);
  ASSERT_TRUE(wait_only_victim_out(kVictim, std::chrono::milliseconds(kVerdictBoundMs + kDrainAfterVerdictMs)))
      << cluster_->diagnostics();
  const int64_t lost_ms = epoch_ms();  // no agent can have lost ZooKeeper before this
  for (int i = 0; i < cluster_->zookeeper().size(); ++i) cluster_->zookeeper().kill(i);
  // node3 falls sick too, with no ZooKeeper to take a slot from.
  testing::CpuStarvation node3_starved(cluster_->jvm(2).pid(), testing::last_cpu(), 30s);
  std::optional<int64_t> restored_ms;
  testing::wait_until(
      [&] {
        EXPECT_EQ(cluster_->worker(2).state(), "ACTIVE") << "node3 was drained without a slot";
        EXPECT_EQ(cluster_->worker(0).state(), "ACTIVE");
        if (cluster_->worker(kVictim).state() == "ACTIVE") restored_ms = epoch_ms();
        return restored_ms.has_value();
      },
      20s);
  ASSERT_TRUE(restored_ms) << "node2 stayed drained without ZooKeeper\n" << cluster_->diagnostics();
  std::printf("[timing] drain undone %lld ms after ZooKeeper was killed (hold %d ms)\n",
              static_cast<long long>(*restored_ms - lost_ms), kZkLossHoldMs);
  EXPECT_GE(*restored_ms - lost_ms, kZkLossHoldMs) << "undone before the hold ran out";
  EXPECT_LE(*restored_ms - lost_ms, kZkLossHoldMs + 3000) << "held far past trino.zk_loss_hold_ms";
  EXPECT_TRUE(testing::wait_until([&] { return drain_state(cluster_->agent(kVictim)) == "active"; }, 3s))
      << cluster_->diagnostics();
  // Still failing (the starvation goes on), yet in scheduling: fail static.
  EXPECT_TRUE(cluster_->agent(kVictim).wait_state("failing", 0ms)) << cluster_->diagnostics();
  // node3 says why it stays in, and stays in.
  EXPECT_TRUE(testing::wait_until([&] { return drain_state(cluster_->agent(2)) == "budget_exhausted"; }, 5s))
      << cluster_->diagnostics();
  EXPECT_EQ(cluster_->worker(2).state(), "ACTIVE");
}

// ---- one agent, one ZooKeeper server, no JVM: Trino misbehaving ------------------------------

class TrinoMisbehavingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ROOT();
    NODEPULSE_REQUIRE_ZOOKEEPER();
  }

  std::unique_ptr<testing::NodeAgent> start_agent(const testing::TrinoStandin& trino, const std::string& extra_trino) {
    port_ = testing::free_loopback_port();
    const std::string yaml = std::string("cluster: misbehaving\nnode:\n  id: w1\n  role: worker\ntrino:\n  etc_dir: ") +
                             (dir_.path() / "none").string() + "\n  drain: auto\n  url: " + trino.url() +
                             "\n  timeout_ms: 300\n" + extra_trino + "targets:\n  - name: trino\n    comm: no-such-np\n" +
                             "zookeeper:\n  connect: \"" + zookeeper_->connect_string() +
                             "\"\nheartbeat:\n  interval_ms: 200\nhttp:\n  listen: 127.0.0.1:" + std::to_string(port_) +
                             "\n";
    return std::make_unique<testing::NodeAgent>(yaml, port_, dir_.path(), "agent");
  }

  testing::TempDir dir_{"trino_misbehaving"};
  std::optional<testing::ZooKeeperEnsemble> zookeeper_{std::in_place, 1, 500};
  uint16_t port_ = 0;
};

TEST_F(TrinoMisbehavingTest, WrongCredentialsAreLoggedAndCountedWithBackOffAndTheAgentRuns) {
  testing::write_text(dir_.path() / "right-password", "s3cret\n");
  testing::write_text(dir_.path() / "wrong-password", "guess\n");
  ::chmod((dir_.path() / "wrong-password").c_str(), 0600);
  testing::TrinoStandin trino = testing::TrinoStandin::worker_with_basic_auth(
      "w1", "nodepulse", dir_.path() / "right-password", dir_.path() / "trino.log");
  auto agent = start_agent(trino, "  password_file: " + (dir_.path() / "wrong-password").string() + "\n");
  ASSERT_TRUE(testing::wait_until(
      [&] { return metric_sum(port_, "nodepulse_trino_drain_errors_total", "kind=\"auth\"") >= 1; }, 15s))
      << agent->log();
  std::this_thread::sleep_for(8s);
  // 1 s, 2 s, 4 s, ... between tries: a handful of PUTs in ~10 s, not one per heartbeat (50).
  const int puts = trino.request_count("PUT", "/v1/info/state");
  EXPECT_GE(puts, 2);
  EXPECT_LE(puts, 6) << "retry storm";
  EXPECT_NE(agent->log().find("auth: "), std::string::npos) << agent->log();
  EXPECT_NE(agent->log().find("access-control rule"), std::string::npos) << agent->log();
  EXPECT_EQ(agent->log().find("s3cret"), std::string::npos);
  EXPECT_EQ(agent->log().find("guess"), std::string::npos) << "the password must never be logged";
  EXPECT_TRUE(agent->running());
  EXPECT_EQ(drain_state(*agent), "unknown") << agent->health()->body;
  EXPECT_NE(health_json(*agent)["trino_drain"].value("error", "").find("auth"), std::string::npos);

  // Without the fault: the right password is accepted and no auth error is counted.
  testing::TrinoStandin trino_ok = testing::TrinoStandin::worker_with_basic_auth(
      "w1", "nodepulse", dir_.path() / "right-password", dir_.path() / "trino-ok.log");
  agent.reset();
  auto agent_ok = start_agent(trino_ok, "  password_file: " + (dir_.path() / "right-password").string() + "\n");
  ASSERT_TRUE(testing::wait_until([&] { return drain_state(*agent_ok) == "active"; }, 15s)) << agent_ok->log();
  EXPECT_EQ(metric_sum(port_, "nodepulse_trino_drain_errors_total", "kind=\"auth\""), 0);
}

// The ZooKeeper heartbeat's rhythm while Trino hangs, answers garbage or 500: the trino sink's
// thread waits, no other sink does.
TEST_F(TrinoMisbehavingTest, AHungOrBrokenTrinoDelaysNoOtherSink) {
  testing::TrinoStandin trino = testing::TrinoStandin::worker("w1", dir_.path() / "trino.log");
  auto agent = start_agent(trino, "");
  ASSERT_TRUE(testing::wait_until([&] { return drain_state(*agent) == "active"; }, 15s)) << agent->log();
  auto zk = zk::ZkClient::connect({.connect = zookeeper_->connect_string(), .session_timeout = 10s, .digest = ""}, 20s);
  ASSERT_TRUE(zk.ok());
  const std::string znode = "/nodepulse/misbehaving/nodes/w1";
  for (const std::string fault : {"hang", "garbage", "error500"}) {
    trino.set_fault(fault);
    // seq grows by one a heartbeat: 200 ms apart. Sampled for 3 s, the largest gap between
    // changes must stay near the interval while every call to Trino takes up to 300 ms or fails.
    int64_t last_change = epoch_ms();
    uint64_t last_seq = 0;
    int64_t worst_gap = 0;
    const int64_t until = epoch_ms() + 3000;
    while (epoch_ms() < until) {
      auto node = (*zk)->get(znode, {}, 1s);
      if (node.ok() && node->has_value()) {
        const auto json = nlohmann::json::parse((**node).data, nullptr, false);
        const uint64_t seq = json.is_object() ? json.value("seq", uint64_t{0}) : 0;
        if (seq != last_seq) {
          if (last_seq != 0) worst_gap = std::max(worst_gap, epoch_ms() - last_change);
          last_seq = seq;
          last_change = epoch_ms();
        }
      }
      std::this_thread::sleep_for(10ms);
    }
    std::printf("[timing] Trino %s: worst gap between ZooKeeper heartbeats %lld ms (interval 200 ms)\n",
                fault.c_str(), static_cast<long long>(worst_gap));
    EXPECT_LT(worst_gap, 600) << fault << "\n" << agent->log();
    EXPECT_TRUE(agent->running());
    EXPECT_EQ(drain_state(*agent), "unknown") << fault << ": " << agent->health()->body;
    trino.set_fault("none");
    EXPECT_TRUE(testing::wait_until([&] { return drain_state(*agent) == "active"; }, 70s))
        << fault << ": not back after the fault\n" << agent->log();
  }
}

}  // namespace
}  // namespace nodepulse
