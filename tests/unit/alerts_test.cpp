// What the alert hooks send: the exec hook's environment, the webhook JSON, Alertmanager's
// payload and the fire / re-send / resolve bookkeeping (with a fake clock), and URL parsing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alerts/alert_payloads.h"
#include "config/config.h"
#include "http_client.h"  // tests/support: free_loopback_port
#include "sinks.h"
#include "http/http_client.h"

namespace nodepulse {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

Heartbeat heartbeat_of(HealthState state, HealthState previous, std::vector<std::string> reasons = {},
                       uint8_t weight = 0) {
  Heartbeat heartbeat;
  heartbeat.node = {"worker-7", "prod", "worker", "host-7.example", "1.2.3"};
  heartbeat.verdict.state = state;
  heartbeat.verdict.weight = weight;
  heartbeat.verdict.reasons = std::move(reasons);
  heartbeat.verdict.since_ms = 1'700'000'000'000;
  heartbeat.seq = 42;
  heartbeat.ts_ms = 1'700'000'000'500;
  heartbeat.state_changed = true;
  heartbeat.previous_state = previous;
  return heartbeat;
}

TEST(AlertHookEnvironment, CarriesNodeStatesReasonsAndWeight) {
  const Heartbeat heartbeat =
      heartbeat_of(HealthState::kFailing, HealthState::kDegraded, {"target trino gone", "oom kill"}, 0);
  const std::vector<std::string> environment = hook_environment(heartbeat);
  EXPECT_THAT(std::vector<std::string>(environment.begin(), environment.end() - 1),
              ElementsAre("NODEPULSE_NODE_ID=worker-7", "NODEPULSE_CLUSTER=prod", "NODEPULSE_ROLE=worker",
                          "NODEPULSE_HOST=host-7.example", "NODEPULSE_OLD_STATE=degraded",
                          "NODEPULSE_NEW_STATE=failing", "NODEPULSE_REASONS=target trino gone; oom kill",
                          "NODEPULSE_WEIGHT=0", "NODEPULSE_SEQ=42", "NODEPULSE_TS_MS=1700000000500"));
  const std::string& last = environment.back();
  ASSERT_TRUE(last.starts_with("NODEPULSE_HEARTBEAT="));
  const auto json = nlohmann::json::parse(last.substr(std::string("NODEPULSE_HEARTBEAT=").size()));
  EXPECT_EQ(json["old_state"], "degraded");
  EXPECT_EQ(json["state"], "failing");
}

TEST(AlertHookEnvironment, RecoveryHasNoReasonsAndFullWeight) {
  const std::vector<std::string> environment =
      hook_environment(heartbeat_of(HealthState::kHealthy, HealthState::kFailing, {}, 100));
  EXPECT_THAT(environment, ::testing::Contains("NODEPULSE_REASONS="));
  EXPECT_THAT(environment, ::testing::Contains("NODEPULSE_WEIGHT=100"));
  EXPECT_THAT(environment, ::testing::Contains("NODEPULSE_OLD_STATE=failing"));
  EXPECT_THAT(environment, ::testing::Contains("NODEPULSE_NEW_STATE=healthy"));
}

TEST(AlertWebhookJson, IsTheHeartbeatPlusOldState) {
  const Heartbeat heartbeat = heartbeat_of(HealthState::kDegraded, HealthState::kHealthy, {"runq p99 12 ms"}, 60);
  const auto json = nlohmann::json::parse(webhook_json(heartbeat));
  auto without_old_state = json;
  without_old_state.erase("old_state");
  EXPECT_EQ(without_old_state, nlohmann::json::parse(to_json(heartbeat))) << "every heartbeat field, unchanged";
  EXPECT_EQ(json["old_state"], "healthy");
  EXPECT_EQ(json["state"], "degraded");
  EXPECT_EQ(json["node_id"], "worker-7");
  EXPECT_EQ(json["cluster"], "prod");
  EXPECT_EQ(json["weight"], 60);
  EXPECT_EQ(json["reasons"], nlohmann::json::array({"runq p99 12 ms"}));
  EXPECT_EQ(json["seq"], 42);
}

TEST(AlertmanagerPayload, Rfc3339InUtcWithMilliseconds) {
  EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339_utc(1714566896789), "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(rfc3339_utc(951782400005), "2000-02-29T00:00:00.005Z");
}

TEST(AlertmanagerPayload, LabelsAnnotationsAndTimes) {
  const Heartbeat heartbeat = heartbeat_of(HealthState::kFailing, HealthState::kHealthy, {"pause 1.4 s", "oom"});
  const std::string payload = alertmanager_payload(
      heartbeat, {{kAlertNodeFailing, 1714566896789, 1714567136789, false}, {kAlertNodeDegraded, 1000, 2000, true}});
  const auto json = nlohmann::json::parse(payload);
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2u);
  const auto& firing = json[0];
  EXPECT_EQ(firing["labels"], nlohmann::json({{"alertname", "NodepulseNodeFailing"},
                                              {"node", "worker-7"},
                                              {"cluster", "prod"},
                                              {"severity", "critical"}}));
  EXPECT_EQ(firing["annotations"]["reasons"], "pause 1.4 s; oom");
  EXPECT_EQ(firing["annotations"]["state"], "failing");
  EXPECT_THAT(firing["annotations"]["summary"].get<std::string>(),
              HasSubstr("node worker-7 of cluster prod is failing: pause 1.4 s; oom"));
  EXPECT_EQ(firing["startsAt"], "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(firing["endsAt"], "2024-05-01T12:38:56.789Z");
  const auto& resolved = json[1];
  EXPECT_EQ(resolved["labels"]["alertname"], "NodepulseNodeDegraded");
  EXPECT_EQ(resolved["labels"]["severity"], "warning");
  EXPECT_EQ(resolved["endsAt"], "1970-01-01T00:00:02.000Z");
}

// ---- AlertmanagerTracker: what is posted when, with a fake clock.

struct Posted {
  std::string alertname;
  bool resolved;
  uint64_t starts_ms;
  uint64_t ends_ms;
  bool operator==(const Posted&) const = default;
};

void PrintTo(const Posted& posted, std::ostream* out) {
  *out << posted.alertname << (posted.resolved ? " resolved" : " firing") << " starts " << posted.starts_ms << " ends "
       << posted.ends_ms;
}

class AlertmanagerTrackerTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kResendMs = 60'000;

  // Plans for `state` at `now` and commits it (a successful post); returns what was posted.
  std::vector<Posted> step(HealthState state, uint64_t now, uint64_t since_ms = 0, bool post_succeeds = true) {
    Heartbeat heartbeat = heartbeat_of(state, HealthState::kUnknown);
    heartbeat.verdict.since_ms = since_ms;
    const AlertmanagerTracker::Plan plan = tracker_.plan(heartbeat, now);
    std::vector<Posted> posted;
    for (const AlertmanagerAlert& alert : plan.alerts) {
      posted.push_back({alert.alertname, alert.resolved, alert.starts_ms, alert.ends_ms});
    }
    if (post_succeeds) tracker_.commit(plan, now);
    return posted;
  }

  AlertmanagerTracker tracker_{std::chrono::milliseconds(kResendMs)};
};

TEST_F(AlertmanagerTrackerTest, FiresResendsAndResolves) {
  // The first known state clears whatever a previous run of the agent left firing.
  EXPECT_THAT(step(HealthState::kHealthy, 1000),
              UnorderedElementsAre(Posted{kAlertNodeFailing, true, 1000, 1000}, Posted{kAlertNodeDegraded, true, 1000, 1000}));
  EXPECT_THAT(step(HealthState::kHealthy, 2000), IsEmpty());
  // Failing fires at once, starting when the node became failing.
  EXPECT_THAT(step(HealthState::kFailing, 3000, 2900),
              ElementsAre(Posted{kAlertNodeFailing, false, 2900, 3000 + 4 * kResendMs}));
  EXPECT_THAT(step(HealthState::kFailing, 4000, 2900), IsEmpty());
  // Re-sent once the resend interval has passed, with the same start.
  EXPECT_THAT(step(HealthState::kFailing, 3000 + kResendMs, 2900),
              ElementsAre(Posted{kAlertNodeFailing, false, 2900, 3000 + 5 * kResendMs}));
  // Unknown changes nothing: the failing alert stays (and keeps being re-sent).
  EXPECT_THAT(step(HealthState::kUnknown, 3000 + kResendMs + 10), IsEmpty());
  EXPECT_THAT(step(HealthState::kUnknown, 3000 + 2 * kResendMs),
              ElementsAre(Posted{kAlertNodeFailing, false, 2900, 3000 + 6 * kResendMs}));
  // Failing → degraded: one fires, the other resolves.
  const uint64_t t = 3000 + 2 * kResendMs + 5;
  EXPECT_THAT(step(HealthState::kDegraded, t, t - 1),
              UnorderedElementsAre(Posted{kAlertNodeDegraded, false, t - 1, t + 4 * kResendMs},
                                   Posted{kAlertNodeFailing, true, 2900, t}));
  // Recovery resolves what fires, and only that.
  EXPECT_THAT(step(HealthState::kHealthy, t + 10), ElementsAre(Posted{kAlertNodeDegraded, true, t - 1, t + 10}));
  EXPECT_THAT(step(HealthState::kHealthy, t + 10 + 2 * kResendMs), IsEmpty()) << "nothing fires: nothing to re-send";
  EXPECT_THAT(tracker_.firing(), IsEmpty());
}

TEST_F(AlertmanagerTrackerTest, AFailedPostIsPlannedAgain) {
  EXPECT_THAT(step(HealthState::kFailing, 1000, 900, /*post_succeeds=*/false), ::testing::SizeIs(2));
  // Nothing was committed: the first known state (fire + clear) is planned again.
  EXPECT_THAT(step(HealthState::kFailing, 2000, 900),
              UnorderedElementsAre(Posted{kAlertNodeFailing, false, 900, 2000 + 4 * kResendMs},
                                   Posted{kAlertNodeDegraded, true, 2000, 2000}));
  // A recovery whose post fails is retried at the next heartbeat.
  EXPECT_THAT(step(HealthState::kHealthy, 3000, 0, false), ElementsAre(Posted{kAlertNodeFailing, true, 900, 3000}));
  EXPECT_THAT(step(HealthState::kHealthy, 4000), ElementsAre(Posted{kAlertNodeFailing, true, 900, 4000}));
  EXPECT_THAT(step(HealthState::kHealthy, 5000), IsEmpty());
}

TEST_F(AlertmanagerTrackerTest, StartingUnknownPostsNothing) {
  EXPECT_THAT(step(HealthState::kUnknown, 1000), IsEmpty());
  EXPECT_THAT(step(HealthState::kUnknown, 1000 + 10 * kResendMs), IsEmpty());
  EXPECT_THAT(step(HealthState::kDegraded, 2000 + 10 * kResendMs, 0),
              UnorderedElementsAre(Posted{kAlertNodeDegraded, false, 2000 + 10 * kResendMs, 2000 + 14 * kResendMs},
                                   Posted{kAlertNodeFailing, true, 2000 + 10 * kResendMs, 2000 + 10 * kResendMs}));
}

// ---- URLs (webhooks, Alertmanager, check --health).

TEST(AlertHttpUrl, ParsesPlainHttp) {
  auto url = parse_http_url("http://127.0.0.1:9093/api/v2/alerts?x=1#frag");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->endpoint.host, "127.0.0.1");
  EXPECT_EQ(url->endpoint.port, 9093);
  EXPECT_EQ(url->path, "/api/v2/alerts?x=1");
  EXPECT_EQ(url->host_header, "127.0.0.1:9093");
  EXPECT_EQ(loggable_origin(*url), "http://127.0.0.1:9093");

  url = parse_http_url("HTTP://alerts.example");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->endpoint.port, 80);
  EXPECT_EQ(url->path, "/");

  url = parse_http_url("http://[::1]:8080/hook");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->endpoint.host, "::1");
  EXPECT_EQ(url->endpoint.port, 8080);
  EXPECT_EQ(url->host_header, "[::1]:8080");

  url = parse_http_url("http://[::1]/x");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->endpoint.host, "::1");
  EXPECT_EQ(url->endpoint.port, 80);
}

TEST(AlertHttpUrl, RejectsWhatItCannotDoWithoutEchoingTheUrl) {
  const std::string secret = "s3cr3t-token";
  for (const std::string& url : {"https://hooks.example/" + secret, "ftp://x/" + secret, "http:///" + secret,
                                 "http://user:" + secret + "@host/", "http://host:0/" + secret,
                                 "http://host:99999/" + secret, "http://host/a b" + secret}) {
    SCOPED_TRACE(url);
    auto parsed = parse_http_url(url);
    ASSERT_FALSE(parsed.ok());
    EXPECT_THAT(parsed.error().message, ::testing::Not(HasSubstr(secret)));
  }
  EXPECT_THAT(parse_http_url("https://x/").error().message, HasSubstr("https:// is not supported"));
}

TEST(AlertHttpUrl, SplitsHostAndPort) {
  auto endpoint = split_host_port("0.0.0.0:9478");
  ASSERT_TRUE(endpoint.ok());
  EXPECT_EQ(endpoint->host, "0.0.0.0");
  EXPECT_EQ(endpoint->port, 9478);
  endpoint = split_host_port("[::]:0");
  ASSERT_TRUE(endpoint.ok());
  EXPECT_EQ(endpoint->host, "::");
  EXPECT_EQ(endpoint->port, 0);
  EXPECT_FALSE(split_host_port("::1:9478").ok());
  EXPECT_FALSE(split_host_port(":9478").ok());
  EXPECT_FALSE(split_host_port("host").ok());
  EXPECT_FALSE(split_host_port("host:65536").ok());
}

// ---- make_sinks: what the config turns on.

Config sinks_config(const std::string& yaml) {
  Result<Config> config = parse_config(yaml, "test.yaml", {});
  if (config.ok()) return *config;
  ADD_FAILURE() << config.error().message;
  return Config{};
}

TEST(AlertAndBalancerSinks, MadeFromTheConfig) {
  const std::string dir = "/tmp/nodepulse-sinks-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const Config config = sinks_config("agent_check:\n  listen: 127.0.0.1:" + std::to_string(testing::free_loopback_port()) +
                                     "\nkeepalived:\n  track_file: " + dir + "/track\n"
                                     "alerts:\n  exec: [{command: 'true'}, {command: 'false'}]\n"
                                     "  webhooks: [{url: 'http://127.0.0.1:1/h'}]\n"
                                     "  alertmanager_url: http://127.0.0.1:9093\n");
  auto sinks = make_sinks(config);
  ASSERT_TRUE(sinks.ok()) << sinks.error().message;
  std::vector<std::string> names;
  for (const auto& sink : *sinks) names.emplace_back(sink->name());
  EXPECT_THAT(names, ElementsAre("agent_check", "keepalived", "alert_exec", "alert_exec", "alert_webhook", "alertmanager"));
  std::filesystem::remove_all(dir);
}

TEST(AlertAndBalancerSinks, NoneByDefault) {
  auto sinks = make_sinks(Config{});
  ASSERT_TRUE(sinks.ok());
  EXPECT_THAT(*sinks, IsEmpty());
}

TEST(AlertAndBalancerSinks, SetUpFailuresAreStartUpErrors) {
  auto missing_dir = make_sinks(sinks_config("keepalived:\n  track_file: /nonexistent-nodepulse-dir/track\n"));
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_THAT(missing_dir.error().message, HasSubstr("keepalived.track_file"));

  // Two agents on one port: the second cannot start.
  const std::string listen = "agent_check:\n  listen: 127.0.0.1:" + std::to_string(testing::free_loopback_port()) + "\n";
  auto first = make_sinks(sinks_config(listen));
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = make_sinks(sinks_config(listen));
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.error().message, HasSubstr("agent_check.listen"));
}

}  // namespace
}  // namespace nodepulse
