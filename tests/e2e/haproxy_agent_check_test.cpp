// A real HAProxy reads nodepulse's agent-check port: a backend server at a local listener, with
// `agent-check agent-addr 127.0.0.1 agent-port P agent-inter 200ms` pointing at an
// AgentCheckSink driven through a SinkRunner with synthetic heartbeats. Each state must show in
// HAProxy's own `show stat` (status, weight, agent description) within a couple of agent checks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <string>

#include "agent_check/agent_check.h"
#include "haproxy.h"
#include "services.h"
#include "sink_runner.h"

namespace nodepulse {
namespace {

using testing::Haproxy;
using testing::RecordingHttpServer;
using testing::Stopwatch;
using testing::wait_until;
using ::testing::HasSubstr;

Heartbeat heartbeat_of(HealthState state, uint8_t weight, std::vector<std::string> reasons, uint64_t seq) {
  Heartbeat heartbeat;
  heartbeat.node = {"worker-1", "e2e", "worker", "localhost", "test"};
  heartbeat.verdict.state = state;
  heartbeat.verdict.weight = weight;
  heartbeat.verdict.reasons = std::move(reasons);
  heartbeat.seq = seq;
  heartbeat.state_changed = true;
  return heartbeat;
}

class AgentCheckHaproxy : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_BINARY(testing::kHaproxyBinary);
    auto sink = AgentCheckSink::start("127.0.0.1:0", {});
    ASSERT_TRUE(sink.ok()) << sink.error().message;
    agent_port_ = (*sink)->port();
    runner_ = std::make_unique<SinkRunner>(std::move(sink).value(), SinkObserver{});
    backend_ = std::make_unique<RecordingHttpServer>();
    haproxy_ = std::make_unique<Haproxy>(
        "backend be_trino\n  balance roundrobin\n  server worker1 127.0.0.1:" + std::to_string(backend_->port()) +
        " weight 100 check inter 500ms agent-check agent-addr 127.0.0.1 agent-port " + std::to_string(agent_port_) +
        " agent-inter 200ms\n");
  }

  std::map<std::string, std::string> stat() const { return haproxy_->server_stat("be_trino", "worker1"); }

  // Waits until HAProxy shows `status` (and `weight`, if given); returns the wait in ms, or -1.
  // A state the agent set reads e.g. "DOWN (agent)"; "UP" alone means nothing holds it down.
  double wait_for(const std::string& status, const std::string& weight = "") {
    const Stopwatch watch;
    const bool reached = wait_until(
        [&] {
          const auto now = stat();
          // HAProxy adds who set the state: "DOWN (agent)", "DRAIN (agent)".
          const bool status_matches =
              now.count("status") && (now.at("status") == status || now.at("status").starts_with(status + " ("));
          return status_matches && (weight.empty() || now.at("weight") == weight);
        },
        std::chrono::seconds(5));
    if (!reached) {
      const auto now = stat();
      ADD_FAILURE() << "HAProxy never showed " << status << " " << weight << "; it shows status="
                    << (now.count("status") ? now.at("status") : "?") << " weight="
                    << (now.count("weight") ? now.at("weight") : "?") << " last_agt="
                    << (now.count("last_agt") ? now.at("last_agt") : "?") << "\n"
                    << haproxy_->log();
      return -1;
    }
    return watch.ms();
  }

  void offer(HealthState state, uint8_t weight, std::vector<std::string> reasons = {}) {
    runner_->offer(heartbeat_of(state, weight, std::move(reasons), ++seq_));
  }

  uint16_t agent_port_ = 0;
  uint64_t seq_ = 0;
  std::unique_ptr<SinkRunner> runner_;
  std::unique_ptr<RecordingHttpServer> backend_;
  std::unique_ptr<Haproxy> haproxy_;
};

TEST_F(AgentCheckHaproxy, HaproxyFollowsEveryState) {
  // Before the first heartbeat the agent says "drain #starting": the server takes no new traffic.
  const double starting_ms = wait_for("DRAIN (agent)");
  EXPECT_GE(starting_ms, 0);

  // Healthy: "up 100% ready" also clears the DRAIN the agent set itself.
  Stopwatch watch;
  offer(HealthState::kHealthy, 100);
  const double healthy_ms = wait_for("UP", "100");
  EXPECT_GE(healthy_ms, 0);

  // Degraded: the weight follows the verdict's.
  offer(HealthState::kDegraded, 40, {"runq p99 12 ms"});
  const double degraded_ms = wait_for("UP", "40");
  EXPECT_GE(degraded_ms, 0);
  EXPECT_THAT(stat()["last_agt"], HasSubstr("degraded: runq p99 12 ms"));

  // Failing: DOWN, with the reason in HAProxy's agent description.
  offer(HealthState::kFailing, 0, {"target trino gone"});
  const double failing_ms = wait_for("DOWN (agent)");
  EXPECT_GE(failing_ms, 0);
  EXPECT_THAT(stat()["last_agt"], HasSubstr("failing: target trino gone"));

  // Recovery brings it back at full weight.
  offer(HealthState::kHealthy, 100);
  const double recovered_ms = wait_for("UP", "100");
  EXPECT_GE(recovered_ms, 0);

  // Unknown drains; healthy again undoes it.
  offer(HealthState::kUnknown, 0, {"sched probe did not load"});
  const double unknown_ms = wait_for("DRAIN (agent)");
  EXPECT_GE(unknown_ms, 0);
  offer(HealthState::kHealthy, 100);
  const double undrain_ms = wait_for("UP", "100");
  EXPECT_GE(undrain_ms, 0);

  // agent-inter is 200 ms: each change should show within about two agent checks.
  for (double ms : {healthy_ms, degraded_ms, failing_ms, recovered_ms, unknown_ms, undrain_ms}) EXPECT_LT(ms, 1500);
  std::cout << "[timing] HAProxy saw: starting(drain) " << starting_ms << " ms, healthy(up) " << healthy_ms
            << " ms, degraded(weight 40) " << degraded_ms << " ms, failing(DOWN) " << failing_ms
            << " ms, recovered(UP) " << recovered_ms << " ms, unknown(DRAIN) " << unknown_ms << " ms, healthy(UP) "
            << undrain_ms << " ms; total " << watch.ms() << " ms\n";
}

TEST_F(AgentCheckHaproxy, DegradedBelowTheFloorDrains) {
  // A second sink with drain_below_weight 50 on its own port, checked by the same HAProxy
  // layout: a degraded node at weight 30 is drained, not merely weighted down.
  auto floor_sink = AgentCheckSink::start("127.0.0.1:0", {50});
  ASSERT_TRUE(floor_sink.ok()) << floor_sink.error().message;
  const uint16_t port = (*floor_sink)->port();
  SinkRunner runner(std::move(floor_sink).value(), SinkObserver{});
  Haproxy haproxy("backend be_floor\n  server worker1 127.0.0.1:" + std::to_string(backend_->port()) +
                  " weight 100 check inter 500ms agent-check agent-addr 127.0.0.1 agent-port " + std::to_string(port) +
                  " agent-inter 200ms\n");
  const auto status = [&] {
    auto now = haproxy.server_stat("be_floor", "worker1");
    return now.count("status") ? now.at("status") + "/" + now.at("weight") : std::string("?");
  };
  runner.offer(heartbeat_of(HealthState::kHealthy, 100, {}, 1));
  EXPECT_TRUE(wait_until([&] { return status() == "UP/100"; }, std::chrono::seconds(5))) << status();
  runner.offer(heartbeat_of(HealthState::kDegraded, 30, {"memory full 40%"}, 2));
  EXPECT_TRUE(wait_until([&] { return status().starts_with("DRAIN (agent)"); }, std::chrono::seconds(5))) << status();
  runner.offer(heartbeat_of(HealthState::kDegraded, 60, {"memory full 10%"}, 3));
  EXPECT_TRUE(wait_until([&] { return status() == "UP/60"; }, std::chrono::seconds(5))) << status();
}

}  // namespace
}  // namespace nodepulse
