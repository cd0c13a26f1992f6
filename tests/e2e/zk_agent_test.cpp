// The nodepulse agent against a real ZooKeeper: it publishes its ephemeral znode, and when the
// agent is SIGKILLed the znode is gone within the session timeout (what a balancer relies on
// when a whole node dies and nothing is left to say so).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "http_client.h"
#include "process.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::ChildProcess;

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

TEST(ZkAgent, ZnodeOfSigkilledAgentIsGoneWithinTheSessionTimeout) {
  NODEPULSE_REQUIRE_ROOT();  // the agent loads BPF programs
  NODEPULSE_REQUIRE_ZOOKEEPER();
  // tickTime 500 ms: a 2 s session is allowed, and expires within one tick of its timeout.
  testing::ZooKeeperEnsemble zookeeper(1, 500);
  constexpr int kSessionTimeoutMs = 2000;
  const std::string node_id = "zk-agent-" + std::to_string(::getpid());
  const std::string path = "/nodepulse/zkagent/nodes/" + node_id;

  testing::TempDir directory("nodepulse_zk_agent");
  const std::string log = (directory / "agent.log").string();
  ChildProcess agent = ChildProcess::spawn(
      {NODEPULSE_BINARY, "agent", "--set", "zookeeper.connect=" + zookeeper.connect_string(), "--set",
       "zookeeper.session_timeout_ms=" + std::to_string(kSessionTimeoutMs), "--set",
       "http.listen=127.0.0.1:" + std::to_string(testing::free_loopback_port()), "--set", "node.id=" + node_id, "--set",
       "cluster=zkagent"},
      log);

  Result<std::unique_ptr<zk::ZkClient>> client =
      zk::ZkClient::connect({.connect = zookeeper.connect_string(), .session_timeout = 4000ms, .digest = ""}, 10s);
  ASSERT_TRUE(client.ok()) << client.error().message;

  // Wait for the agent's first heartbeat (it loads BPF first, which takes a moment).
  std::optional<zk::Node> node;
  const auto until = Clock::now() + 30s;
  while (Clock::now() < until && !node) {
    Result<std::optional<zk::Node>> got = (*client)->get(path);
    if (got.ok() && got->has_value()) node = **got;
    if (::kill(agent.pid(), 0) != 0) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(node) << "the agent never published " << path
                    << " (does `nodepulse agent` run its sinks yet?); agent log:\n"
                    << testing::read_text(log);
  const nlohmann::json payload = nlohmann::json::parse(node->data);
  EXPECT_EQ(payload["node_id"], node_id);
  EXPECT_NE(node->stat.ephemeralOwner, 0);

  // One watch on the znode, as a balancer would hold.
  std::mutex mutex;
  std::condition_variable fired;
  std::optional<Clock::time_point> deleted_at;
  Result<std::optional<Stat>> watched = (*client)->exists(path, [&](int type, const std::string&) {
    if (type != ZOO_DELETED_EVENT) return;
    std::lock_guard lock(mutex);
    deleted_at = Clock::now();
    fired.notify_all();
  });
  ASSERT_TRUE(watched.ok() && watched->has_value());

  const auto killed = Clock::now();
  agent.signal(SIGKILL);
  ASSERT_TRUE(agent.wait_for_exit(5s).has_value());
  {
    std::unique_lock lock(mutex);
    fired.wait_for(lock, std::chrono::milliseconds(kSessionTimeoutMs) + 3s, [&] { return deleted_at.has_value(); });
  }
  ASSERT_TRUE(deleted_at) << path << " outlived the agent's session by more than 3 s";
  const double gone_ms = ms_between(killed, *deleted_at);
  std::printf("[ measured ] agent SIGKILLed -> znode deleted after %.1f ms (session timeout %d ms)\n", gone_ms,
              kSessionTimeoutMs);
  EXPECT_LE(gone_ms, kSessionTimeoutMs + 1000);
}

}  // namespace
}  // namespace nodepulse
