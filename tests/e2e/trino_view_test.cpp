// Trino's view beside nodepulse's, end to end: synthetic heartbeats (with the agent's trino_drain
// object) in a real ZooKeeper, and a fake coordinator — an in-process server answering
// GET /v1/node and /v1/node/failed — that `nodepulse status --coordinator` and
// `nodepulse balancer` ask.
//   - views that agree: DRAIN and TRINO columns, no "!";
//   - a planted disagreement (a failing worker the coordinator still schedules on, its drain
//     withheld by the budget) and a Trino node without a heartbeat: marked "!" and listed;
//   - a coordinator that never answers: said in the table within trino.timeout_ms, exit 0;
//   - the balancer's /metrics: the nodepulse_balancer_trino_* series, up 0 from the first
//     scrape, and `promtool check metrics` clean.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "heartbeat/heartbeat.h"
#include "http_client.h"
#include "netns.h"
#include "process.h"
#include "services.h"
#include "status_cli.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RecordingHttpServer;
using testing::wait_until;

using testing::run_status;
using testing::StatusRun;

// A coordinator stand-in: the URIs it lists and those it counts failed, changeable while it runs.
class FakeCoordinator {
 public:
  FakeCoordinator()
      : server_([this](const RecordingHttpServer::Request& request, std::size_t) { return answer(request); }) {}

  void set(std::vector<std::string> listed, std::vector<std::string> failed) {
    std::lock_guard lock(mutex_);
    listed_ = std::move(listed);
    failed_ = std::move(failed);
  }
  std::string url() const { return server_.url(""); }
  std::vector<RecordingHttpServer::Request> requests() const { return server_.requests(); }

 private:
  static std::string stats(const std::vector<std::string>& uris, bool failed) {
    nlohmann::json list = nlohmann::json::array();
    for (const std::string& uri : uris) {
      list.push_back({{"uri", uri},
                      {"recentRequests", 120.0},
                      {"recentFailures", failed ? 120.0 : 0.0},
                      {"recentSuccesses", failed ? 0.0 : 120.0},
                      {"recentFailureRatio", failed ? 1.0 : 0.0},
                      {"lastRequestTime", "2024-01-01T00:00:00.000Z"},
                      {"lastResponseTime", "2024-01-01T00:00:00.000Z"},
                      {"lastFailureInfo", failed ? nlohmann::json{{"type", "java.net.SocketTimeoutException"},
                                                                  {"message", "connect timed out"}}
                                                 : nlohmann::json(nullptr)}});
    }
    return list.dump();
  }

  RecordingHttpServer::Answer answer(const RecordingHttpServer::Request& request) {
    std::lock_guard lock(mutex_);
    if (request.method != "GET") return {405, ""};
    if (request.target == "/v1/node") {
      std::vector<std::string> all = listed_;
      all.insert(all.end(), failed_.begin(), failed_.end());  // Trino lists failed nodes in both
      return {200, stats(all, false)};
    }
    if (request.target == "/v1/node/failed") return {200, stats(failed_, true)};
    return {404, ""};
  }

  std::mutex mutex_;
  std::vector<std::string> listed_;
  std::vector<std::string> failed_;
  RecordingHttpServer server_;  // last: answers only once the lists exist
};

uint64_t wall_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// The fake Trino ports the heartbeats announce; nothing needs to listen there.
constexpr uint16_t kCoordinatorPort = 18080;
constexpr uint16_t kWorker1Port = 18081;
constexpr uint16_t kWorker2Port = 18082;

class TrinoView : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ZOOKEEPER();
    zookeeper_ = std::make_unique<testing::ZooKeeperEnsemble>(1, 500);
    zk::ClientOptions options;
    options.connect = zookeeper_->connect_string();
    auto client = zk::ZkClient::connect(options);
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = std::move(client).value();
    for (const std::string path : {"/np", "/np/e2e", "/np/e2e/nodes", "/np/e2e/failing"}) {
      ASSERT_EQ(client_->create(path, "", ZOO_PERSISTENT, ZOO_OPEN_ACL_UNSAFE).value(), ZOK) << path;
    }
    // w2 reports "localhost": matched to the coordinator's 127.0.0.1 through the resolver.
    write_heartbeat("c1", "coordinator", "127.0.0.1", kCoordinatorPort, HealthState::kHealthy, std::nullopt);
    write_heartbeat("w1", "worker", "127.0.0.1", kWorker1Port, HealthState::kHealthy, "active");
    write_heartbeat("w2", "worker", "localhost", kWorker2Port, HealthState::kHealthy, "active");
  }

  void write_heartbeat(const std::string& node, const std::string& role, const std::string& host, uint16_t port,
                       HealthState state, std::optional<std::string> drain) {
    Heartbeat heartbeat;
    heartbeat.node = {node, "e2e", role, host, "test", port};
    heartbeat.verdict.state = state;
    heartbeat.verdict.weight = state == HealthState::kHealthy ? 100 : 0;
    if (state == HealthState::kFailing) heartbeat.verdict.reasons = {"jvm: pause in progress 1.3 s"};
    if (drain) heartbeat.drain = DrainStatus{*drain, "ACTIVE", false, "test", ""};
    heartbeat.seq = ++seq_;
    heartbeat.ts_ms = wall_ms();
    const std::string path = "/np/e2e/nodes/" + node;
    auto rc = client_->set(path, to_json(heartbeat));
    ASSERT_TRUE(rc.ok()) << rc.error().message;
    if (*rc == ZNONODE) rc = client_->create(path, to_json(heartbeat), ZOO_PERSISTENT, ZOO_OPEN_ACL_UNSAFE);
    ASSERT_TRUE(rc.ok() && *rc == ZOK) << path;
  }

  // As the agent does when failing: the failing/ znode and the payload.
  void plant_failing_worker2(const std::string& drain) {
    write_heartbeat("w2", "worker", "localhost", kWorker2Port, HealthState::kFailing, drain);
    ASSERT_EQ(client_->create("/np/e2e/failing/w2", "", ZOO_PERSISTENT, ZOO_OPEN_ACL_UNSAFE).value(), ZOK);
  }

  std::string where() const { return "--zk " + zookeeper_->connect_string() + " --cluster e2e --root /np"; }

  static std::string uri(uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

  std::unique_ptr<testing::ZooKeeperEnsemble> zookeeper_;
  std::unique_ptr<zk::ZkClient> client_;
  uint64_t seq_ = 0;
};

TEST_F(TrinoView, StatusShowsAgreeingViews) {
  FakeCoordinator coordinator;
  coordinator.set({uri(kWorker1Port), uri(kWorker2Port)}, {});
  const StatusRun run = run_status(where() + " --coordinator " + coordinator.url());
  ASSERT_EQ(run.exit_code, 0) << run.out;
  std::cout << run.out;
  EXPECT_THAT(run.out, HasSubstr("NODE  ROLE         HOST       STATE    WEIGHT  DRAIN   TRINO   AGE"));
  EXPECT_THAT(run.out, HasSubstr("c1    coordinator  127.0.0.1  healthy  100     -       absent"));
  EXPECT_THAT(run.out, HasSubstr("w1    worker       127.0.0.1  healthy  100     active  active"));
  EXPECT_THAT(run.out, HasSubstr("w2    worker       localhost  healthy  100     active  active"));
  EXPECT_THAT(run.out, HasSubstr("Trino coordinator " + coordinator.url() + ": lists 2 nodes, 0 failed; no disagreements"));
  EXPECT_THAT(run.out, Not(HasSubstr("!")));
  ASSERT_FALSE(coordinator.requests().empty());
  EXPECT_THAT(coordinator.requests()[0].headers, HasSubstr("X-Trino-User: nodepulse"));

  // A failing worker its agent drained: the coordinator still lists it alive, as expected.
  plant_failing_worker2("drained");
  const StatusRun drained = run_status(where() + " --coordinator " + coordinator.url());
  EXPECT_THAT(drained.out, HasSubstr("w2    worker       localhost  failing  0       drained  active"));
  EXPECT_THAT(drained.out, Not(HasSubstr("!"))) << drained.out;
}

TEST_F(TrinoView, StatusFlagsAPlantedDisagreement) {
  FakeCoordinator coordinator;
  const uint16_t stray = 18099;  // a Trino node no heartbeat comes from
  coordinator.set({uri(kWorker1Port), uri(kWorker2Port), uri(stray)}, {});
  plant_failing_worker2("budget_exhausted");

  const StatusRun table = run_status(where() + " --coordinator " + coordinator.url());
  ASSERT_EQ(table.exit_code, 0) << table.out;
  std::cout << table.out;
  EXPECT_THAT(table.out, HasSubstr("w2    worker       localhost               failing  0       budget_exhausted  active!"));
  EXPECT_THAT(table.out, HasSubstr("-     -            " + uri(stray) + "  -        -       -                 active!"));
  EXPECT_THAT(table.out, HasSubstr("; 2 disagreement(s)\n"));
  EXPECT_THAT(table.out, HasSubstr("\n! w2: nodepulse says failing (drain budget_exhausted), but the coordinator counts "
                                   "it active and keeps scheduling on it\n"));
  EXPECT_THAT(table.out, HasSubstr("\n! " + uri(stray) + ": the coordinator schedules on it"));

  const StatusRun json_run = run_status(where() + " --coordinator " + coordinator.url() + " --output json");
  ASSERT_EQ(json_run.exit_code, 0) << json_run.out;
  const nlohmann::json json = nlohmann::json::parse(json_run.out);
  EXPECT_EQ(json["coordinator"]["answered"], true);
  EXPECT_EQ(json["coordinator"]["disagreements"], 2);
  ASSERT_EQ(json["coordinator"]["unmatched"].size(), 1u);
  EXPECT_EQ(json["coordinator"]["unmatched"][0]["uri"], uri(stray));
  ASSERT_EQ(json["nodes"].size(), 3u);
  EXPECT_EQ(json["nodes"][2]["node_id"], "w2");
  EXPECT_EQ(json["nodes"][2]["drain"]["state"], "budget_exhausted");
  EXPECT_EQ(json["nodes"][2]["trino"]["view"], "active");
  EXPECT_THAT(json["nodes"][2]["trino"]["disagreement"].get<std::string>(), HasSubstr("keeps scheduling"));
  EXPECT_TRUE(json["nodes"][1]["trino"]["disagreement"].is_null());

  // The other way round: a healthy worker the coordinator counts failed.
  coordinator.set({uri(kWorker2Port)}, {uri(kWorker1Port)});
  const StatusRun failed = run_status(where() + " --coordinator " + coordinator.url());
  EXPECT_THAT(failed.out, HasSubstr("w1    worker       127.0.0.1  healthy  100     active            failed!"));
  EXPECT_THAT(failed.out, HasSubstr("! w1: nodepulse says healthy, but the coordinator counts it failed"));
}

TEST_F(TrinoView, ACoordinatorThatDoesNotAnswerIsSaidWithinTheTimeout) {
  RecordingHttpServer silent([](const RecordingHttpServer::Request&, std::size_t) {
    return RecordingHttpServer::Answer{0, ""};  // holds the connection, never answers
  });
  const testing::Stopwatch stopwatch;
  const StatusRun run =
      run_status(where() + " --coordinator " + silent.url("") + " --set trino.timeout_ms=300");
  EXPECT_EQ(run.exit_code, 0) << "nodepulse's view was read: the exit code is as without a coordinator";
  EXPECT_LT(stopwatch.ms(), 3000);
  EXPECT_THAT(run.out, HasSubstr("w1    worker       127.0.0.1  healthy  100     active  unknown"));
  EXPECT_THAT(run.out, HasSubstr("Trino coordinator " + silent.url("") + ": Trino's view unknown: timeout: "));

  const uint16_t closed = testing::free_loopback_port();
  const StatusRun refused = run_status(where() + " --coordinator http://127.0.0.1:" + std::to_string(closed));
  EXPECT_EQ(refused.exit_code, 0);
  EXPECT_THAT(refused.out, HasSubstr("Trino's view unknown: unreachable: "));

  EXPECT_EQ(run_status(where() + " --coordinator ftp://x").exit_code, 2) << "a bad URL is a usage error";
}

class BalancerTrinoMetrics : public TrinoView {
 protected:
  void TearDown() override {
    if (balancer_) testing::stop_child(*balancer_, 3s);
  }

  void start_balancer(const std::string& coordinator_url) {
    dir_ = std::make_unique<testing::TempDir>("trino-view");
    metrics_port_ = testing::free_loopback_port();
    testing::write_text(*dir_ / "balancer.yaml", "cluster: e2e\nzookeeper:\n  connect: " +
                                                     zookeeper_->connect_string() +
                                                     "\n  root: /np\nbalancer:\n  listen: 127.0.0.1:" +
                                                     std::to_string(metrics_port_) +
                                                     "\ntrino:\n  timeout_ms: 300\n  coordinator_url: " +
                                                     coordinator_url + "\n");
    balancer_.emplace(testing::ChildProcess::spawn(
        {NODEPULSE_BINARY, "balancer", "--config", (*dir_ / "balancer.yaml").string()},
        (*dir_ / "balancer.log").string()));
  }

  std::string metrics() const {
    auto reply = testing::http_get(metrics_port_, "/metrics");
    return reply ? reply->body : "";
  }
  std::string log() const { return testing::file_text(*dir_ / "balancer.log"); }

  std::unique_ptr<testing::TempDir> dir_;
  uint16_t metrics_port_ = 0;
  std::optional<testing::ChildProcess> balancer_;
};

TEST_F(BalancerTrinoMetrics, ExportsTheCoordinatorsViewAndPassesPromtool) {
  FakeCoordinator coordinator;
  coordinator.set({uri(kWorker1Port), uri(kWorker2Port)}, {});
  plant_failing_worker2("budget_exhausted");
  start_balancer(coordinator.url());
  ASSERT_TRUE(wait_until(
      [&] { return metrics().find("nodepulse_balancer_trino_disagreement{node=\"w2\"} 1") != std::string::npos; }, 15s))
      << metrics() << log();
  const std::string page = metrics();
  if (const auto at = page.find("# HELP nodepulse_balancer_trino"); at != std::string::npos) std::cout << page.substr(at);
  EXPECT_THAT(page, HasSubstr("nodepulse_balancer_trino_coordinator_up 1\n"));
  EXPECT_THAT(page, HasSubstr("nodepulse_balancer_trino_nodes{view=\"active\"} 2\n"));
  EXPECT_THAT(page, HasSubstr("nodepulse_balancer_trino_nodes{view=\"absent\"} 1\n")) << "the coordinator c1";
  EXPECT_THAT(page, HasSubstr("nodepulse_balancer_trino_disagreements 1\n"));
  EXPECT_THAT(page, HasSubstr("nodepulse_balancer_trino_disagreement{node=\"w1\"} 0\n"));
  EXPECT_THAT(page, HasSubstr("nodepulse_balancer_trino_unmatched_nodes 0\n"));
  EXPECT_THAT(log(), HasSubstr("trino disagrees about w2"));

  // The agent drains it: expected, no longer a disagreement (at the next decision).
  write_heartbeat("w2", "worker", "localhost", kWorker2Port, HealthState::kFailing, "drained");
  EXPECT_TRUE(wait_until(
      [&] { return metrics().find("nodepulse_balancer_trino_disagreements 0") != std::string::npos; }, 15s))
      << metrics();

  // The metric contract of docs/design.md.
  NODEPULSE_REQUIRE_BINARY("/usr/bin/promtool");
  const std::string scraped = (*dir_ / "metrics.txt").string();
  testing::write_text(scraped, metrics());
  const testing::CommandResult lint = testing::run_command({"sh", "-c", "/usr/bin/promtool check metrics < " + scraped});
  EXPECT_EQ(lint.status, 0) << lint.output;
  EXPECT_EQ(lint.output, "") << lint.output;
}

TEST_F(BalancerTrinoMetrics, CoordinatorDownFromTheFirstScrape) {
  RecordingHttpServer silent([](const RecordingHttpServer::Request&, std::size_t) {
    return RecordingHttpServer::Answer{0, ""};
  });
  start_balancer(silent.url(""));
  std::string page;
  ASSERT_TRUE(wait_until([&] { return !(page = metrics()).empty(); }, 10s)) << log();
  EXPECT_THAT(page, HasSubstr("nodepulse_balancer_trino_coordinator_up 0\n"));
  EXPECT_THAT(page, HasSubstr("nodepulse_balancer_trino_disagreements 0\n"));
  // ZooKeeper's watch path goes on regardless: the nodes are read and counted.
  EXPECT_TRUE(wait_until(
      [&] { return metrics().find("nodepulse_balancer_nodes{state=\"healthy\"} 3") != std::string::npos; }, 10s))
      << metrics() << log();
  EXPECT_TRUE(wait_until(
      [&] { return metrics().find("nodepulse_balancer_trino_nodes{view=\"unknown\"} 3") != std::string::npos; }, 10s))
      << metrics();
  EXPECT_THAT(log(), HasSubstr("does not answer (timeout"));
}

TEST_F(BalancerTrinoMetrics, NoneWithoutACoordinator) {
  start_balancer("\"\"");
  std::string page;
  ASSERT_TRUE(wait_until([&] { return metrics().find("nodepulse_balancer_frozen 0") != std::string::npos; }, 10s))
      << log();
  EXPECT_THAT(metrics(), Not(HasSubstr("nodepulse_balancer_trino_")));
}

}  // namespace
}  // namespace nodepulse
