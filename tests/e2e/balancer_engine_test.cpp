// The balancer engine (in process) against a real ZooKeeper, with the payload reads routed
// through a hook that can hold one node's read back — the stand-in for a heartbeat backlog,
// shown without timing:
//   - a failing/ znode drains its node while another node's payload read is still outstanding
//     (the engine does not wait for payloads before acting on failing/);
//   - a node that joins is not decided on until its first payload is in (never drained as
//     "unknown" in between).
#include <gtest/gtest.h>

#include <prometheus/registry.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "balancer/balancer.h"
#include "services.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::wait_until;
using testing::ZooKeeperEnsemble;

constexpr auto kWait = 20s;  // a liveness bound, not a speed target

std::string payload(const std::string& node_id, int weight) {
  return R"({"node_id":")" + node_id + R"(","state":"healthy","weight":)" + std::to_string(weight) +
         R"(,"host":"127.0.0.1","http_port":8080})";
}

// Every decision the engine applied, in order.
struct Decisions {
  std::mutex mutex;
  std::vector<Decision> applied;

  std::optional<ServerTarget> last(const std::string& node_id) {
    std::lock_guard lock(mutex);
    if (applied.empty()) return std::nullopt;
    for (const ServerTarget& server : applied.back().servers) {
      if (server.node_id == node_id) return server;
    }
    return std::nullopt;
  }
  std::vector<Decision> all() {
    std::lock_guard lock(mutex);
    return applied;
  }
};

class RecordingDriver : public Driver {
 public:
  explicit RecordingDriver(std::shared_ptr<Decisions> decisions) : decisions_(std::move(decisions)) {}
  const char* name() const override { return "haproxy"; }
  Result<void> apply(const Decision& decision) override {
    std::lock_guard lock(decisions_->mutex);
    decisions_->applied.push_back(decision);
    return ok();
  }

 private:
  std::shared_ptr<Decisions> decisions_;
};

// Sends payload reads on, except the next one of `hold`'s path, which waits for release(). Only
// one: should the session reconnect meanwhile, the engine's full re-read goes through.
class HeldReads {
 public:
  void hold(const std::string& path) {
    std::lock_guard lock(mutex_);
    hold_ = path;
  }
  std::size_t held() {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  void send(zk::ZkClient& client, const std::string& path, zk::Watcher watcher, zk::ZkClient::GetDone done) {
    {
      std::lock_guard lock(mutex_);
      if (path == hold_) {
        hold_.clear();
        held_.push_back({&client, path, std::move(watcher), std::move(done)});
        return;
      }
    }
    client.get_async(path, std::move(watcher), std::move(done));
  }
  void release() {
    std::vector<Read> reads;
    {
      std::lock_guard lock(mutex_);
      hold_.clear();
      reads.swap(held_);
    }
    for (Read& read : reads) read.client->get_async(read.path, std::move(read.watcher), std::move(read.done));
  }

 private:
  struct Read {
    zk::ZkClient* client;
    std::string path;
    zk::Watcher watcher;
    zk::ZkClient::GetDone done;
  };
  std::mutex mutex_;
  std::string hold_;
  std::vector<Read> held_;
};

class BalancerEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ZOOKEEPER();
    zookeeper_ = std::make_unique<ZooKeeperEnsemble>(1, 500);
    zk::ClientOptions options;
    options.connect = zookeeper_->connect_string();
    auto client = zk::ZkClient::connect(options);
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = std::move(client).value();
    for (const std::string& path : {std::string("/nodepulse"), std::string("/nodepulse/engine"), paths_.nodes,
                                    paths_.failing}) {
      ASSERT_EQ(client_->create(path, "", ZOO_PERSISTENT, ZOO_OPEN_ACL_UNSAFE).value(), ZOK) << path;
    }
    for (const std::string node : {"w1", "w2", "w3"}) {
      ASSERT_EQ(client_->create(paths_.node(node), payload(node, 100), ZOO_PERSISTENT, ZOO_OPEN_ACL_UNSAFE).value(),
                ZOK);
    }

    BalancerOptions engine;
    engine.zookeeper = options;
    engine.paths = paths_;
    engine.send_payload_read = [this](zk::ZkClient& client, const std::string& path, zk::Watcher watcher,
                                       zk::ZkClient::GetDone done) {
      reads_.send(client, path, std::move(watcher), std::move(done));
    };
    std::vector<std::unique_ptr<Driver>> drivers;
    drivers.push_back(std::make_unique<RecordingDriver>(decisions_));
    metrics_ = std::make_unique<BalancerMetrics>(registry_);
    balancer_ = std::make_unique<Balancer>(std::move(engine), std::move(drivers), *metrics_);
    runner_ = std::thread([this] { balancer_->run(); });

    // Settled: the three nodes read and applied, all in rotation.
    ASSERT_TRUE(wait_until(
        [&] {
          auto w1 = decisions_->last("w1"), w2 = decisions_->last("w2"), w3 = decisions_->last("w3");
          return w1 && w2 && w3 && w1->action == ServerAction::kReady && w2->action == ServerAction::kReady &&
                 w3->action == ServerAction::kReady;
        },
        kWait));
  }

  void TearDown() override {
    reads_.release();  // answered (or ZCLOSING) while the engine still exists
    if (balancer_) balancer_->stop();
    if (runner_.joinable()) runner_.join();
    balancer_.reset();
  }

  const ClusterPaths paths_ = cluster_paths("/nodepulse", "engine");
  std::unique_ptr<ZooKeeperEnsemble> zookeeper_;
  std::unique_ptr<zk::ZkClient> client_;
  prometheus::Registry registry_;
  std::unique_ptr<BalancerMetrics> metrics_;
  std::shared_ptr<Decisions> decisions_ = std::make_shared<Decisions>();
  HeldReads reads_;
  std::unique_ptr<Balancer> balancer_;
  std::thread runner_;
};

TEST_F(BalancerEngine, FailingZnodeDrainsWhileAnotherPayloadReadIsOutstanding) {
  reads_.hold(paths_.node("w1"));
  ASSERT_EQ(client_->set(paths_.node("w1"), payload("w1", 50)).value(), ZOK);
  ASSERT_TRUE(wait_until([&] { return reads_.held() == 1; }, kWait)) << "the engine never asked for w1's new payload";

  ASSERT_EQ(client_->create(paths_.failing + "/w2", "", ZOO_EPHEMERAL, ZOO_OPEN_ACL_UNSAFE).value(), ZOK);
  ASSERT_TRUE(wait_until(
      [&] {
        auto w2 = decisions_->last("w2");
        return w2 && w2->action == ServerAction::kDrain;
      },
      kWait))
      << "failing/w2 was not acted on while w1's payload read was outstanding";
  EXPECT_EQ(reads_.held(), 1u);

  // Once the read is answered, w1's new weight follows, and w2 stays drained.
  reads_.release();
  ASSERT_TRUE(wait_until(
      [&] {
        auto w1 = decisions_->last("w1"), w2 = decisions_->last("w2");
        return w1 && w1->weight == 50 && w2 && w2->action == ServerAction::kDrain;
      },
      kWait));
}

TEST_F(BalancerEngine, JoiningNodeIsNotDecidedOnBeforeItsFirstPayload) {
  reads_.hold(paths_.node("w4"));
  ASSERT_EQ(client_->create(paths_.node("w4"), payload("w4", 100), ZOO_EPHEMERAL, ZOO_OPEN_ACL_UNSAFE).value(), ZOK);
  ASSERT_TRUE(wait_until([&] { return reads_.held() == 1; }, kWait)) << "the engine never asked for w4's payload";
  reads_.release();
  ASSERT_TRUE(wait_until(
      [&] {
        auto w4 = decisions_->last("w4");
        return w4 && w4->action == ServerAction::kReady && w4->state == MemberState::kHealthy;
      },
      kWait));
  for (const Decision& decision : decisions_->all()) {
    for (const ServerTarget& server : decision.servers) {
      if (server.node_id == "w4") {
        EXPECT_EQ(server.state, MemberState::kHealthy) << "w4 was decided on before its payload was read";
      }
    }
  }
}

}  // namespace
}  // namespace nodepulse
