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
#include <signal.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cpu_starvation.h"
#include "process.h"
#include "services.h"
#include "drain_cluster.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::epoch_ms;

constexpr int kVictim = 1;  // node2
constexpr int64_t kVerdictBoundMs = 5000;  // the failover test's bound for starvation and stalls
// Taking a slot costs a quorum write before the PUT; on this 2-CPU rig three ZooKeeper JVMs, three
// worker JVMs and three agents share the one CPU the starvation leaves, and the drain follows the
// verdict in ~50-100 ms. `bench/detection workers` measures it; this bound only says "at once,
// not after a back-off".
constexpr int64_t kDrainAfterVerdictMs = 2000;
using testing::kNodes;
using testing::kZkLossHoldMs;
using testing::node_id;
using testing::health_json;
using testing::drain_state;
using testing::metric_sum;
using testing::out_of_scheduling;
using testing::DrainCluster;

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

  void keep_agents_off_the_starved_cpu() { cluster_->keep_off_the_last_cpu(); }

  // The fault lasts while `fault` lives: node2 must leave scheduling within the bounds, alone,
  // and come back once the fault is gone; every agent's drain and restore counters say so.
  template <class Fault>
  void expect_only_the_victim_drained_and_restored(const char* what, Fault make_fault) {
    keep_agents_off_the_starved_cpu();
    const int64_t fault_ms = epoch_ms();
    {
      auto fault = make_fault();
      std::optional<int64_t> verdict_ms;
      const std::optional<int64_t> out_ms =
          wait_only_victim_out(kVictim, std::chrono::milliseconds(kVerdictBoundMs + kDrainAfterVerdictMs), &verdict_ms);
      ASSERT_TRUE(out_ms) << cluster_->diagnostics();
      ASSERT_TRUE(verdict_ms);
      std::printf("[timing] %s node2: failing verdict seen %lld ms after the fault, out of scheduling %lld ms after "
                  "it; coordinator's failed list then: %s\n",
                  what, static_cast<long long>(*verdict_ms - fault_ms), static_cast<long long>(*out_ms - *verdict_ms),
                  cluster_->coordinator().failed_nodes_json().c_str());
      std::printf("[timing] Trino's own record of the drain: %s; the sink's errors so far: %g\n",
                  cluster_->worker(kVictim).transitions_json().c_str(),
                  metric_sum(cluster_->agent(kVictim).http_port(), "nodepulse_trino_drain_errors_total"));
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

  std::unique_ptr<DrainCluster> cluster_;
};

TEST_F(TrinoDrainTest, StarvedWorkerLeavesSchedulingAndComesBackWhileTheOthersStay) {
  expect_only_the_victim_drained_and_restored("starved", [this] {
    return std::make_unique<testing::CpuStarvation>(cluster_->jvm(kVictim).pid(), testing::last_cpu(), 30s);
  });
}

// A JVM stopped outright (SIGSTOP) ends no wait and takes no safepoint: only the walk of its
// threads (the task_state probe) sees it.
TEST_F(TrinoDrainTest, StoppedWorkerLeavesSchedulingAndComesBackAfterSigcont) {
  struct Stop {
    explicit Stop(testing::ChildProcess& jvm) : jvm_(jvm) { jvm_.signal(SIGSTOP); }
    ~Stop() { jvm_.signal(SIGCONT); }
    testing::ChildProcess& jvm_;
  };
  expect_only_the_victim_drained_and_restored("stopped",
                                              [this] { return std::make_unique<Stop>(cluster_->jvm(kVictim).process()); });
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
  // Still failing (the starvation goes on), yet in scheduling: fail static. Its heartbeat says
  // why: it should be out, but no slot can be taken without ZooKeeper.
  EXPECT_TRUE(cluster_->agent(kVictim).wait_state("failing", 0ms)) << cluster_->diagnostics();
  EXPECT_TRUE(testing::wait_until([&] { return drain_state(cluster_->agent(kVictim)) == "budget_exhausted"; }, 3s))
      << cluster_->diagnostics();
  EXPECT_EQ(cluster_->worker(kVictim).state(), "ACTIVE") << "drained again without a slot";
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
    return start_agent(trino.url(), extra_trino);
  }
  std::unique_ptr<testing::NodeAgent> start_agent(const std::string& trino_url, const std::string& extra_trino) {
    port_ = testing::free_loopback_port();
    const std::string yaml = std::string("cluster: misbehaving\nnode:\n  id: w1\n  role: worker\ntrino:\n  etc_dir: ") +
                             (dir_.path() / "none").string() + "\n  drain: auto\n  url: " + trino_url +
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

// An https Trino: trusted through trino.ca_file; refused (kind tls, nothing drained) without it.
TEST_F(TrinoMisbehavingTest, HttpsTrinoIsTrustedThroughItsCaFileAndRefusedWithoutIt) {
  NODEPULSE_REQUIRE_BINARY(testing::TrinoTlsRelay::kSocat);
  NODEPULSE_REQUIRE_BINARY(testing::TrinoTlsRelay::kOpenssl);
  testing::TrinoStandin trino = testing::TrinoStandin::worker("w1", dir_.path() / "trino.log");
  testing::TrinoTlsRelay tls(trino.port());
  {
    auto untrusted = start_agent(tls.url(), "");
    ASSERT_TRUE(testing::wait_until(
        [&] { return metric_sum(port_, "nodepulse_trino_drain_errors_total", "kind=\"tls\"") >= 1; }, 15s))
        << untrusted->log();
    EXPECT_EQ(drain_state(*untrusted), "unknown");
    EXPECT_EQ(trino.request_count("GET", "/v1/info"), 0) << "a request went through an unverified TLS connection";
  }
  auto trusted = start_agent(tls.url(), "  ca_file: " + tls.ca_file().string() + "\n");
  ASSERT_TRUE(testing::wait_until([&] { return drain_state(*trusted) == "active"; }, 15s)) << trusted->log();
  EXPECT_GE(trino.request_count("PUT", "/v1/info/state"), 1);  // the reversible-drain question, over TLS
  EXPECT_EQ(metric_sum(port_, "nodepulse_trino_drain_errors_total", "kind=\"tls\""), 0);
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
