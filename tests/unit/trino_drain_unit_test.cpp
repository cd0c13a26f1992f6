// The trino sink's pure parts: the drain decision, Trino's JSON, error kinds, and the drain
// status in the heartbeat. The sink against a real stand-in Trino and ZooKeeper is in
// tests/e2e/trino_drain_test.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "heartbeat/publisher.h"
#include "trino/drain_policy.h"
#include "trino/trino_client.h"

namespace nodepulse {
namespace {

using trino::NodeState;
using std::chrono::milliseconds;

struct StepCase {
  const char* description;
  DrainView view;
  DrainStep expected;
};

DrainView view(HealthState verdict, NodeState state, bool ours = false) {
  return DrainView{.verdict = verdict, .trino_state = state, .drained_by_us = ours};
}

DrainView with(DrainView v, auto DrainView::*field, auto value) {
  v.*field = value;
  return v;
}

const StepCase kStepCases[] = {
    {"failing and in scheduling: drain", view(HealthState::kFailing, NodeState::kActive), DrainStep::kDrain},
    {"healthy and in scheduling: nothing", view(HealthState::kHealthy, NodeState::kActive), DrainStep::kNothing},
    {"degraded keeps a drain of ours", view(HealthState::kDegraded, NodeState::kDrained, true), DrainStep::kNothing},
    {"unknown keeps a drain of ours", view(HealthState::kUnknown, NodeState::kDraining, true), DrainStep::kNothing},
    {"healthy restores a drain of ours", view(HealthState::kHealthy, NodeState::kDrained, true), DrainStep::kRestore},
    {"healthy never restores an operator's drain", view(HealthState::kHealthy, NodeState::kDrained, false),
     DrainStep::kNothing},
    {"failing and drained by us: keep the slot", view(HealthState::kFailing, NodeState::kDraining, true),
     DrainStep::kKeepSlot},
    {"failing and drained by an operator: nothing", view(HealthState::kFailing, NodeState::kDrained, false),
     DrainStep::kNothing},
    {"SHUTTING_DOWN cannot be restored", view(HealthState::kHealthy, NodeState::kShuttingDown, true),
     DrainStep::kNothing},
    {"after our shutdown, no second one before a healthy verdict",
     with(view(HealthState::kFailing, NodeState::kActive), &DrainView::awaiting_recovery, true), DrainStep::kNothing},
    {"ZooKeeper lost within the hold: keep",
     with(view(HealthState::kFailing, NodeState::kDrained, true), &DrainView::zk_lost_for, milliseconds(9000)),
     DrainStep::kKeepSlot},
    {"ZooKeeper lost past the hold: restore although failing",
     with(view(HealthState::kFailing, NodeState::kDrained, true), &DrainView::zk_lost_for, milliseconds(10001)),
     DrainStep::kRestore},
    {"ZooKeeper lost past the hold leaves an operator's drain",
     with(view(HealthState::kFailing, NodeState::kDrained, false), &DrainView::zk_lost_for, milliseconds(60000)),
     DrainStep::kNothing},
    {"a queued place is given back when no longer failing",
     with(view(HealthState::kDegraded, NodeState::kActive), &DrainView::has_place, true), DrainStep::kRelease},
    {"a queued place is kept while failing",
     with(view(HealthState::kFailing, NodeState::kActive), &DrainView::has_place, true), DrainStep::kDrain},
    {"after a restore the place is given back",
     with(view(HealthState::kHealthy, NodeState::kActive), &DrainView::has_place, true), DrainStep::kRelease},
};

class DrainStepTest : public ::testing::TestWithParam<StepCase> {};

TEST_P(DrainStepTest, FollowsTheRules) {
  const StepCase& c = GetParam();
  EXPECT_EQ(to_string(next_drain_step(c.view)), to_string(c.expected)) << c.description;
}

INSTANTIATE_TEST_SUITE_P(Cases, DrainStepTest, ::testing::ValuesIn(kStepCases),
                         [](const ::testing::TestParamInfo<StepCase>& info) {
                           std::string name;
                           for (const char* c = info.param.description; *c; ++c) {
                             name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
                           }
                           return name;
                         });

TEST(TrinoJson, ReadsServerInfo) {
  auto info = trino::parse_server_info(
      R"({"nodeVersion":{"version":"476"},"environment":"prod","coordinator":false,"starting":true,"uptime":"1.00m"})");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->version, "476");
  EXPECT_EQ(info->environment, "prod");
  EXPECT_FALSE(info->coordinator);
  EXPECT_TRUE(info->starting);
}

TEST(TrinoJson, RefusesWhatIsNotServerInfo) {
  for (const char* garbage : {"", "<html>", "[]", R"({"coordinator":false})", R"({"nodeVersion":{"version":1}})",
                              R"({"nodeVersion":{"version":"1"},"coordinator":"no"})"}) {
    auto info = trino::parse_server_info(garbage);
    ASSERT_FALSE(info.ok()) << garbage;
    EXPECT_EQ(trino::error_kind(info.error()), trino::kErrorBadResponse) << info.error().message;
  }
}

TEST(TrinoJson, ReadsEveryNodeStateAndNoOther) {
  for (NodeState state : {NodeState::kActive, NodeState::kInactive, NodeState::kDraining, NodeState::kDrained,
                          NodeState::kShuttingDown, NodeState::kInvalid}) {
    auto parsed = trino::parse_node_state("\"" + std::string(trino::to_string(state)) + "\"");
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, state);
  }
  EXPECT_FALSE(trino::parse_node_state("\"SLEEPING\"").ok());
  EXPECT_FALSE(trino::parse_node_state("ACTIVE").ok());  // not a JSON string
  EXPECT_FALSE(trino::parse_node_state("").ok());
}

TEST(TrinoJson, ReadsFailureDetectorStats) {
  auto nodes = trino::parse_node_stats(
      R"([{"uri":"http://10.0.0.5:8080","recentFailureRatio":0.25,"recentRequests":40.5,"recentFailures":10.1,)"
      R"("recentSuccesses":30.4,"lastFailureInfo":{"type":"java.net.SocketTimeoutException","message":"timeout"}},)"
      R"({"uri":"http://10.0.0.6:8080","recentFailureRatio":0.0,"lastFailureInfo":null}])");
  ASSERT_TRUE(nodes.ok()) << nodes.error().message;
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].uri, "http://10.0.0.5:8080");
  EXPECT_DOUBLE_EQ((*nodes)[0].recent_failure_ratio, 0.25);
  EXPECT_EQ((*nodes)[0].last_failure, "timeout");
  EXPECT_EQ((*nodes)[1].last_failure, "");
  EXPECT_FALSE(trino::parse_node_stats(R"([{"recentFailureRatio":1}])").ok());  // no uri
  EXPECT_FALSE(trino::parse_node_stats("{}").ok());
}

TEST(TrinoErrors, KindIsTheLabelTheMessageStartsWith) {
  EXPECT_EQ(trino::error_kind(Error{"auth: PUT /v1/info/state on http://x: HTTP 401"}), trino::kErrorAuth);
  EXPECT_EQ(trino::error_kind(Error{"rejected: HTTP 400 Invalid state transition"}), trino::kErrorRejected);
  EXPECT_EQ(trino::error_kind(Error{"timeout: GET /v1/info"}), trino::kErrorTimeout);
  EXPECT_EQ(trino::error_kind(Error{"authority: not a kind"}), trino::kErrorBadResponse);
}

trino::ClientOptions client_options(std::string base_url, std::string user = "",
                                    milliseconds timeout = milliseconds(1000)) {
  trino::ClientOptions options;
  options.base_url = std::move(base_url);
  options.user = std::move(user);
  options.timeout = timeout;
  return options;
}

DrainStatus drain_status(std::string state, std::string trino_state = "", bool slot = false) {
  DrainStatus status;
  status.state = std::move(state);
  status.trino_state = std::move(trino_state);
  status.slot = slot;
  return status;
}

TEST(TrinoClient, RefusesAnUnusableBaseUrl) {
  EXPECT_FALSE(trino::Client::create(client_options("ftp://h:21")).ok());
  EXPECT_FALSE(trino::Client::create(client_options("http://h:8080", "a\r\nX-Evil: 1")).ok());
  EXPECT_TRUE(trino::Client::create(client_options("https://127.0.0.1:8443/")).ok());
}

TEST(TrinoClient, NothingListeningIsUnreachableWithinTheTimeout) {
  // Port 1 on loopback: nothing listens there for an unprivileged or test process.
  auto client = trino::Client::create(client_options("http://127.0.0.1:1", "", milliseconds(500)));
  ASSERT_TRUE(client.ok());
  auto state = (*client)->state();
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(trino::error_kind(state.error()), trino::kErrorUnreachable) << state.error().message;
}

// ---- The drain status in the heartbeat.

class NullSink final : public Sink {
 public:
  const char* name() const override { return "null"; }
  Result<void> publish(const Heartbeat&) override { return ok(); }
};

TEST(DrainHeartbeat, IsInTheJsonOnlyWhileTheSinkIsOn) {
  Heartbeat heartbeat;
  heartbeat.node.node_id = "w1";
  EXPECT_FALSE(nlohmann::json::parse(to_json(heartbeat)).contains("trino_drain"));
  heartbeat.drain = drain_status("budget_exhausted", "ACTIVE");
  heartbeat.drain->reason = "budget exhausted";
  const auto json = nlohmann::json::parse(to_json(heartbeat));
  ASSERT_TRUE(json.contains("trino_drain"));
  EXPECT_EQ(json["trino_drain"]["state"], "budget_exhausted");
  EXPECT_EQ(json["trino_drain"]["trino_state"], "ACTIVE");
  EXPECT_EQ(json["trino_drain"]["slot"], false);
  EXPECT_EQ(json["trino_drain"]["reason"], "budget exhausted");
}

TEST(DrainHeartbeat, AChangeOfDrainStatusGoesOutAtOnce) {
  auto board = std::make_shared<DrainStatusBoard>();
  board->post(drain_status("active"));
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<NullSink>());
  NodeIdentity identity;
  identity.node_id = "w1";
  HeartbeatPublisher publisher(identity, 1000, std::move(sinks), {}, board);
  Verdict verdict;
  verdict.state = HealthState::kFailing;
  ASSERT_TRUE(publisher.consider(verdict, 10'000, 1));
  EXPECT_FALSE(publisher.consider(verdict, 10'100, 2));  // nothing new within the interval
  board->post(drain_status("draining", "DRAINING", true));
  ASSERT_TRUE(publisher.consider(verdict, 10'200, 3));  // the drain alone is news
  ASSERT_TRUE(publisher.latest()->drain.has_value());
  EXPECT_EQ(publisher.latest()->drain->state, "draining");
}

}  // namespace
}  // namespace nodepulse
