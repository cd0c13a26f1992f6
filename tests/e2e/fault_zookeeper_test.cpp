// ZooKeeper itself failing under a real `nodepulse agent` (a 3-server ensemble on loopback,
// a live target so the node is healthy):
//   - the leader is killed: the agent's heartbeats go on (seq keeps rising in its znode) and
//     its session survives (same ephemeral owner), while the ensemble elects a new leader;
//   - every server is stopped for 10 s: the agent stays up, /health and the agent-check port
//     keep answering that the node serves (healthy, or degraded by the machine's load), and once the servers are back the znode is there
//     again with a higher seq, and no failing/ znode.
// Before each fault the heartbeats are seen rising with the ensemble whole, so what the test
// asserts during the fault is not what it would see anyway.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "fault_rig.h"
#include "services.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::Stopwatch;
using testing::wait_until;

constexpr const char* kCluster = "zkfaults";

// Healthy, or degraded by the load other jobs put on the machine: either way the node serves.
bool serving(const std::string& state) { return state == "healthy" || state == "degraded"; }

struct ZnodeBeat {
  uint64_t seq = 0;
  int64_t owner = 0;  // the session that holds the ephemeral znode
  std::string state;
};

class ZooKeeperFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ROOT();
    NODEPULSE_REQUIRE_ZOOKEEPER();
    zookeeper_ = std::make_unique<testing::ZooKeeperEnsemble>(3, 500);
    target_.emplace(testing::ChildProcess::spawn(testing::fault_target_argv(token_), (dir_ / "target.log").string()));
    std::ostringstream yaml;
    yaml << "cluster: " << kCluster << "\nnode:\n  id: " << node_id_ << "\ntargets:\n  - name: native\n"
         << "    cmdline_contains: " << token_ << "\nhttp:\n  listen: 127.0.0.1:" << http_port_
         << "\nagent_check:\n  listen: 127.0.0.1:" << agent_check_port_
         << "\nzookeeper:\n  connect: " << zookeeper_->connect_string() << "\n  session_timeout_ms: 4000\n"
         << "heartbeat:\n  interval_ms: 250\nhealth:\n  recover_after_ms: 1000\n";
    agent_ = std::make_unique<testing::FaultAgent>(dir_.path(), yaml.str(), http_port_);
  }

  // A fresh session per read: the reader's own session must not be what a fault disturbs.
  std::optional<ZnodeBeat> read_heartbeat(std::chrono::milliseconds timeout = 5s) {
    auto client = zk::ZkClient::connect({.connect = zookeeper_->connect_string(), .session_timeout = 4000ms, .digest = ""},
                                        timeout);
    if (!client.ok()) return std::nullopt;
    auto node = (*client)->get(path("nodes"));
    if (!node.ok() || !node->has_value()) return std::nullopt;
    const auto json = nlohmann::json::parse((*node)->data, nullptr, false);
    if (!json.is_object()) return std::nullopt;
    return ZnodeBeat{json.value("seq", uint64_t{0}), (*node)->stat.ephemeralOwner, json.value("state", "")};
  }

  bool failing_znode_exists() {
    auto client = zk::ZkClient::connect({.connect = zookeeper_->connect_string(), .session_timeout = 4000ms, .digest = ""});
    if (!client.ok()) return false;
    auto failing = (*client)->exists(path("failing"));
    return failing.ok() && failing->has_value();
  }

  std::string path(const std::string& kind) const { return std::string("/nodepulse/") + kCluster + "/" + kind + "/" + node_id_; }

  // Reads the znode `reads` times, `gap` apart (each read on its own session); the seqs seen.
  std::vector<ZnodeBeat> follow(int reads, std::chrono::milliseconds gap) {
    std::vector<ZnodeBeat> seen;
    for (int i = 0; i < reads; ++i) {
      if (auto beat = read_heartbeat()) seen.push_back(*beat);
      std::this_thread::sleep_for(gap);
    }
    return seen;
  }

  std::string agent_log_tail() const {
    const std::string log = agent_->log();
    return log.size() > 3000 ? "..." + log.substr(log.size() - 3000) : log;
  }

  testing::TempDir dir_{"fault-zk"};
  std::string node_id_ = "zk-fault-node-" + std::to_string(::getpid());
  std::string token_ = "np-zkfault-" + std::to_string(::getpid());
  uint16_t http_port_ = testing::free_loopback_port();
  uint16_t agent_check_port_ = testing::free_loopback_port();
  std::unique_ptr<testing::ZooKeeperEnsemble> zookeeper_;
  std::optional<testing::ChildProcess> target_;
  std::unique_ptr<testing::FaultAgent> agent_;
};

TEST_F(ZooKeeperFaults, LeaderKilledHeartbeatsGoOnAllServersDownAgentServesAndZnodesReturn) {
  const Stopwatch total;
  std::optional<ZnodeBeat> first;
  ASSERT_TRUE(wait_until([&] { return (first = read_heartbeat(1s)) && serving(first->state); }, 30s))
      << "no serving heartbeat in ZooKeeper; agent log:\n" << agent_log_tail();

  // Without a fault: seq rises, the session stays.
  const std::vector<ZnodeBeat> whole = follow(3, 300ms);
  ASSERT_EQ(whole.size(), 3u);
  EXPECT_GT(whole.back().seq, first->seq);
  EXPECT_EQ(whole.back().owner, first->owner);

  // The leader is killed.
  const std::optional<int> leader = zookeeper_->leader();
  ASSERT_TRUE(leader.has_value());
  const uint64_t seq_before = whole.back().seq;
  zookeeper_->kill(*leader);
  const Stopwatch election;
  ASSERT_TRUE(wait_until([&] { return zookeeper_->leader().has_value(); }, 20s)) << zookeeper_->logs();
  const double elected_ms = election.ms();
  const std::vector<ZnodeBeat> after_kill = follow(4, 400ms);
  ASSERT_GE(after_kill.size(), 3u) << "the znode could not be read after the leader died";
  EXPECT_GT(after_kill.front().seq, seq_before);
  EXPECT_GT(after_kill.back().seq, after_kill.front().seq) << "heartbeats stopped after the leader was killed";
  EXPECT_EQ(after_kill.back().owner, first->owner) << "the agent's session did not survive the leader's death";
  EXPECT_TRUE(serving(after_kill.back().state)) << after_kill.back().state;
  zookeeper_->start(*leader);
  ASSERT_TRUE(zookeeper_->wait_ready(30s)) << zookeeper_->logs();

  // Every server stopped for 10 s.
  const uint64_t seq_before_outage = follow(1, 0ms).at(0).seq;
  for (int i = 0; i < zookeeper_->size(); ++i) zookeeper_->kill(i);
  const Stopwatch outage;
  int answers = 0;
  while (outage.ms() < 10'000) {
    ASSERT_TRUE(agent_->alive()) << "the agent died while ZooKeeper was down:\n" << agent_log_tail();
    const auto [status, state] = agent_->health();
    EXPECT_EQ(status, 200) << "/health while ZooKeeper is down";
    EXPECT_TRUE(serving(state)) << state;
    const std::string line = testing::agent_check_answer(agent_check_port_);
    EXPECT_TRUE(line.starts_with("up ")) << "agent-check while ZooKeeper is down: '" << line << "'";
    ++answers;
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_GE(answers, 10);
  for (int i = 0; i < zookeeper_->size(); ++i) zookeeper_->start(i);
  const Stopwatch back;
  ASSERT_TRUE(zookeeper_->wait_ready(30s)) << zookeeper_->logs();
  std::optional<ZnodeBeat> returned;
  ASSERT_TRUE(wait_until([&] { return (returned = read_heartbeat(2s)) && returned->seq > seq_before_outage; }, 30s))
      << "the znode did not come back after ZooKeeper did; agent log:\n" << agent_log_tail();
  const double returned_ms = back.ms();
  EXPECT_TRUE(serving(returned->state)) << returned->state;
  const std::vector<ZnodeBeat> later = follow(2, 400ms);
  ASSERT_EQ(later.size(), 2u);
  EXPECT_GT(later.back().seq, returned->seq) << "heartbeats did not resume";
  EXPECT_FALSE(failing_znode_exists());
  EXPECT_TRUE(agent_->alive());
  std::cout << "[timing] new leader after " << elected_ms << " ms; after the 10 s outage the znode was back "
            << returned_ms << " ms after the servers were started (seq " << seq_before_outage << " -> "
            << returned->seq << "); total " << total.ms() << " ms\n";
}

}  // namespace
}  // namespace nodepulse
