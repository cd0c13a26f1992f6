// `nodepulse status` against a real ZooKeeper holding heartbeats written in the agent's format
// (healthy, degraded, failing with its failing/ znode, and a malformed one), in table and JSON
// form; `status --url` against an agent-like /health; and the exit code when nothing answers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "heartbeat/heartbeat.h"
#include "http_client.h"
#include "services.h"
#include "status_cli.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

namespace nodepulse {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using testing::run_status;
using testing::StatusRun;

uint64_t wall_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::string heartbeat_json(const std::string& node, HealthState state, uint8_t weight, std::vector<std::string> reasons,
                           uint64_t age_ms) {
  Heartbeat heartbeat;
  heartbeat.node = {node, "e2e", "worker", "host-" + node, "test", 8080};
  heartbeat.verdict.state = state;
  heartbeat.verdict.weight = weight;
  heartbeat.verdict.reasons = std::move(reasons);
  heartbeat.seq = 5;
  heartbeat.ts_ms = wall_ms() - age_ms;
  return to_json(heartbeat);
}

TEST(NodepulseStatus, PrintsTheClusterFromZooKeeper) {
  NODEPULSE_REQUIRE_ZOOKEEPER();
  testing::ZooKeeperEnsemble zookeeper(1, 500);
  zk::ClientOptions options;
  options.connect = zookeeper.connect_string();
  auto client = zk::ZkClient::connect(options);
  ASSERT_TRUE(client.ok()) << client.error().message;
  auto create = [&](const std::string& path, const std::string& data) {
    ASSERT_EQ((*client)->create(path, data, ZOO_PERSISTENT, ZOO_OPEN_ACL_UNSAFE).value(), ZOK) << path;
  };
  create("/np", "");
  create("/np/e2e", "");
  create("/np/e2e/nodes", "");
  create("/np/e2e/failing", "");
  create("/np/e2e/nodes/a1", heartbeat_json("a1", HealthState::kHealthy, 100, {}, 300));
  create("/np/e2e/nodes/b2", heartbeat_json("b2", HealthState::kDegraded, 55, {"runq: p99 wait 40 ms"}, 1200));
  create("/np/e2e/nodes/c3", heartbeat_json("c3", HealthState::kFailing, 0, {"target: trino exited"}, 100));
  create("/np/e2e/failing/c3", "");
  create("/np/e2e/nodes/d4", "{\"node_id\": 12}");

  const std::string where = "--zk " + zookeeper.connect_string() + " --cluster e2e --root /np";
  const StatusRun table = run_status(where);
  ASSERT_EQ(table.exit_code, 0) << table.out;
  std::cout << table.out;
  EXPECT_THAT(table.out, StartsWith("NODE  ROLE    HOST     STATE     WEIGHT  AGE   REASONS\n"));
  EXPECT_THAT(table.out, HasSubstr("a1    worker  host-a1  healthy   100     0."));
  EXPECT_THAT(table.out, HasSubstr("b2    worker  host-b2  degraded  55      1."));
  EXPECT_THAT(table.out, HasSubstr("runq: p99 wait 40 ms"));
  EXPECT_THAT(table.out, HasSubstr("c3    worker  host-c3  failing   0"));
  EXPECT_THAT(table.out, HasSubstr("d4    -       -        unknown   -       -     invalid heartbeat: wrong_type: node_id"));

  const StatusRun json_run = run_status(where + " --output json");
  ASSERT_EQ(json_run.exit_code, 0) << json_run.out;
  const nlohmann::json json = nlohmann::json::parse(json_run.out);
  EXPECT_EQ(json["cluster"], "e2e");
  ASSERT_EQ(json["nodes"].size(), 4u) << json.dump(2);
  EXPECT_EQ(json["nodes"][0]["node_id"], "a1");
  EXPECT_EQ(json["nodes"][0]["state"], "healthy");
  EXPECT_EQ(json["nodes"][0]["weight"], 100);
  EXPECT_EQ(json["nodes"][0]["http_port"], 8080);
  EXPECT_GE(json["nodes"][1]["age_ms"].get<int64_t>(), 1200);
  EXPECT_LT(json["nodes"][1]["age_ms"].get<int64_t>(), 60'000);
  EXPECT_EQ(json["nodes"][1]["reasons"], nlohmann::json::array({"runq: p99 wait 40 ms"}));
  EXPECT_EQ(json["nodes"][2]["state"], "failing");
  EXPECT_EQ(json["nodes"][2]["failing_znode"], true);
  EXPECT_EQ(json["nodes"][3]["state"], "unknown");
  EXPECT_TRUE(json["nodes"][3]["weight"].is_null());

  // Another cluster name: nothing there, still a good read.
  const StatusRun empty = run_status("--zk " + zookeeper.connect_string() + " --cluster other --root /np --output json");
  EXPECT_EQ(empty.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(empty.out)["nodes"].size(), 0u);
}

TEST(NodepulseStatus, UnreachableZooKeeperIsExitOne) {
  const uint16_t port = testing::free_loopback_port();  // nothing listens there
  const StatusRun run = run_status("--zk 127.0.0.1:" + std::to_string(port) + " --timeout-ms 500");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
}

TEST(NodepulseStatus, BadUsageIsExitTwo) {
  EXPECT_EQ(run_status("--zk 127.0.0.1:1 --cluster 'a/b'").exit_code, 2);
  EXPECT_EQ(run_status("--output yaml").exit_code, 2);
  EXPECT_EQ(run_status("").exit_code, 2) << "neither --zk nor --url";
}

TEST(NodepulseStatus, ReadsOneAgentsHealth) {
  testing::RecordingHttpServer agent([](const testing::RecordingHttpServer::Request& request, std::size_t) {
    if (request.target != "/health") return testing::RecordingHttpServer::Answer{404, ""};
    return testing::RecordingHttpServer::Answer{
        503, heartbeat_json("w9", HealthState::kFailing, 0, {"jvm: pause in progress 1.2 s"}, 50)};
  });
  const StatusRun run = run_status("--url " + agent.url("/health") + " --output json");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const nlohmann::json json = nlohmann::json::parse(run.out);
  ASSERT_EQ(json["nodes"].size(), 1u);
  EXPECT_EQ(json["nodes"][0]["node_id"], "w9");
  EXPECT_EQ(json["nodes"][0]["state"], "failing");
  EXPECT_EQ(json["nodes"][0]["reasons"], nlohmann::json::array({"jvm: pause in progress 1.2 s"}));

  const StatusRun table = run_status("--url " + agent.url("/health"));
  EXPECT_THAT(table.out, HasSubstr("w9    worker  host-w9  failing  0       0."));
  EXPECT_EQ(run_status("--url " + agent.url("/nope")).exit_code, 1) << "HTTP 404 is not an agent";
}

}  // namespace
}  // namespace nodepulse
