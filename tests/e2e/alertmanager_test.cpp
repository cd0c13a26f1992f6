// A real Alertmanager (Debian's prometheus-alertmanager) gets nodepulse's alerts from an
// AlertmanagerSink driven through a SinkRunner: a failing change creates an active
// NodepulseNodeFailing alert (read back from GET /api/v2/alerts), failing → degraded swaps it for
// NodepulseNodeDegraded, and recovery resolves it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "alertmanager.h"
#include "alerts/alertmanager.h"
#include "services.h"
#include "sink_runner.h"

namespace nodepulse {
namespace {

using testing::Alertmanager;
using testing::Stopwatch;
using testing::wait_until;

Heartbeat heartbeat_of(HealthState state, HealthState previous, std::vector<std::string> reasons, uint64_t seq) {
  Heartbeat heartbeat;
  heartbeat.node = {"worker-9", "e2e-cluster", "worker", "localhost", "test"};
  heartbeat.verdict.state = state;
  heartbeat.verdict.weight = state == HealthState::kHealthy ? 100 : state == HealthState::kDegraded ? 50 : 0;
  heartbeat.verdict.reasons = std::move(reasons);
  heartbeat.seq = seq;
  heartbeat.state_changed = true;
  heartbeat.previous_state = previous;
  return heartbeat;
}

// The active nodepulse alerts for our node: alertname → the alert's JSON.
std::map<std::string, nlohmann::json> node_alerts(const Alertmanager& alertmanager) {
  std::map<std::string, nlohmann::json> found;
  const std::string text = alertmanager.alerts();
  if (text.empty()) return found;
  for (const auto& alert : nlohmann::json::parse(text)) {
    if (alert["labels"].value("node", "") == "worker-9") found[alert["labels"]["alertname"]] = alert;
  }
  return found;
}

std::set<std::string> names(const std::map<std::string, nlohmann::json>& alerts) {
  std::set<std::string> result;
  for (const auto& [name, alert] : alerts) result.insert(name);
  return result;
}

TEST(AlertmanagerReal, FailingFiresDegradedSwapsRecoveryResolves) {
  NODEPULSE_REQUIRE_BINARY(testing::kAlertmanagerBinary);
  const Alertmanager alertmanager;
  std::atomic<int> errors{0};
  auto sink = AlertmanagerSink::create(alertmanager.url(), RetryPolicy{std::chrono::milliseconds(2000)},
                                       kAlertmanagerResendInterval);
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  SinkRunner runner(std::move(sink).value(), SinkObserver{[&](const char*, double, const Result<void>& result) {
                      if (!result.ok()) {
                        ++errors;
                        ADD_FAILURE() << result.error().message;
                      }
                    }});
  const auto alerts_are = [&](std::set<std::string> expected) {
    return [&alertmanager, expected] { return names(node_alerts(alertmanager)) == expected; };
  };

  runner.offer(heartbeat_of(HealthState::kHealthy, HealthState::kUnknown, {}, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(node_alerts(alertmanager).empty()) << alertmanager.alerts();

  Stopwatch fire;
  runner.offer(heartbeat_of(HealthState::kFailing, HealthState::kHealthy, {"target trino gone"}, 2));
  ASSERT_TRUE(wait_until(alerts_are({"NodepulseNodeFailing"}), std::chrono::seconds(5))) << alertmanager.alerts();
  const double fire_ms = fire.ms();
  const nlohmann::json failing = node_alerts(alertmanager).at("NodepulseNodeFailing");
  EXPECT_EQ(failing["labels"]["cluster"], "e2e-cluster");
  EXPECT_EQ(failing["labels"]["severity"], "critical");
  EXPECT_EQ(failing["annotations"]["reasons"], "target trino gone");

  Stopwatch swap;
  runner.offer(heartbeat_of(HealthState::kDegraded, HealthState::kFailing, {"runq p99 12 ms"}, 3));
  ASSERT_TRUE(wait_until(alerts_are({"NodepulseNodeDegraded"}), std::chrono::seconds(5))) << alertmanager.alerts();
  const double swap_ms = swap.ms();
  EXPECT_EQ(node_alerts(alertmanager).at("NodepulseNodeDegraded")["labels"]["severity"], "warning");

  Stopwatch resolve;
  runner.offer(heartbeat_of(HealthState::kHealthy, HealthState::kDegraded, {}, 4));
  ASSERT_TRUE(wait_until(alerts_are({}), std::chrono::seconds(5))) << alertmanager.alerts();
  const double resolve_ms = resolve.ms();

  // Heartbeats without a change post nothing new and leave the API as it is.
  for (uint64_t seq = 5; seq < 10; ++seq) {
    Heartbeat same = heartbeat_of(HealthState::kHealthy, HealthState::kHealthy, {}, seq);
    same.state_changed = false;
    runner.offer(same);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(node_alerts(alertmanager).empty());
  EXPECT_EQ(errors.load(), 0);
  std::cout << "[timing] Alertmanager: failing -> alert active in " << fire_ms << " ms; degraded swap in " << swap_ms
            << " ms; healthy -> resolved in " << resolve_ms << " ms\n";
}

TEST(AlertmanagerReal, AnAlertLostToADownAlertmanagerLandsLater) {
  // Nothing listens yet: the publish fails after its retries (bounded), the alert is planned
  // again at the next heartbeat — one without a state change — and lands once Alertmanager is up.
  NODEPULSE_REQUIRE_BINARY(testing::kAlertmanagerBinary);
  const uint16_t port = testing::free_loopback_port();
  auto sink = AlertmanagerSink::create("http://127.0.0.1:" + std::to_string(port),
                                       RetryPolicy{std::chrono::milliseconds(200), 1, std::chrono::milliseconds(50)},
                                       kAlertmanagerResendInterval);
  ASSERT_TRUE(sink.ok());
  Stopwatch watch;
  const Result<void> failed = (*sink)->publish(heartbeat_of(HealthState::kFailing, HealthState::kHealthy, {"x"}, 1));
  const double failed_ms = watch.ms();
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.error().message, ::testing::HasSubstr("after 2 attempts"));
  EXPECT_LT(failed_ms, 1000);

  const Alertmanager alertmanager(port);
  Heartbeat later = heartbeat_of(HealthState::kFailing, HealthState::kFailing, {"x"}, 2);
  later.state_changed = false;
  const Result<void> posted = (*sink)->publish(later);
  ASSERT_TRUE(posted.ok()) << posted.error().message;
  EXPECT_TRUE(wait_until([&] { return names(node_alerts(alertmanager)) == std::set<std::string>{"NodepulseNodeFailing"}; },
                         std::chrono::seconds(5)))
      << alertmanager.alerts();
  std::cout << "[timing] unreachable Alertmanager: publish gave up after " << failed_ms << " ms (2 attempts)\n";
}

}  // namespace
}  // namespace nodepulse
