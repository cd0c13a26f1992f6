// Alert hooks for real: exec hooks run by /bin/sh (environment, timeout kill of the whole process
// group, one run at a time with latest-wins), webhooks posted to a local HTTP listener (JSON,
// retries, bounded time on a hung receiver), and `nodepulse check --health` against a /health
// that answers 200, 503 or nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alerts/exec_hook.h"
#include "alerts/webhook.h"
#include "http_client.h"
#include "netns.h"
#include "services.h"
#include "sink_runner.h"

namespace nodepulse {
namespace {

using testing::RecordingHttpServer;
using testing::Stopwatch;
using testing::TempDir;
using testing::wait_until;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Heartbeat change(HealthState previous, HealthState state, std::vector<std::string> reasons = {}, uint8_t weight = 0) {
  Heartbeat heartbeat;
  heartbeat.node = {"worker-3", "e2e", "worker", "host-3", "test"};
  heartbeat.verdict.state = state;
  heartbeat.verdict.weight = weight;
  heartbeat.verdict.reasons = std::move(reasons);
  heartbeat.seq = 7;
  heartbeat.ts_ms = 1700000000123;
  heartbeat.state_changed = true;
  heartbeat.previous_state = previous;
  return heartbeat;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

// Gone, or a zombie waiting for a reaper: either way no longer running.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  const char state = testing::proc_state(pid);
  return state == 0 || state == 'Z';
}

ExecHookOptions hook(const std::string& command, int timeout_ms) {
  return ExecHookOptions{command, std::chrono::milliseconds(timeout_ms), "alerts.exec[0]"};
}

// ---- exec hooks

TEST(HookExec, GetsItsEnvironment) {
  const TempDir dir("hook-env");
  const std::string out = (dir / "env").string();
  ExecHookSink sink(hook("env | grep '^NODEPULSE_' | grep -v '^NODEPULSE_HEARTBEAT=' | LC_ALL=C sort > " + out +
                             "; printf '%s' \"$NODEPULSE_HEARTBEAT\" > " + out + ".json",
                         5000));
  Stopwatch watch;
  const Result<void> ran = sink.publish(change(HealthState::kHealthy, HealthState::kFailing, {"target trino gone", "oom kill"}));
  const double ran_ms = watch.ms();
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_THAT(lines_of(testing::file_text(out)),
              ElementsAre("NODEPULSE_CLUSTER=e2e", "NODEPULSE_HOST=host-3", "NODEPULSE_NEW_STATE=failing",
                          "NODEPULSE_NODE_ID=worker-3", "NODEPULSE_OLD_STATE=healthy",
                          "NODEPULSE_REASONS=target trino gone; oom kill", "NODEPULSE_ROLE=worker",
                          "NODEPULSE_SEQ=7", "NODEPULSE_TS_MS=1700000000123", "NODEPULSE_WEIGHT=0"));
  const auto json = nlohmann::json::parse(testing::file_text(out + ".json"));
  EXPECT_EQ(json["old_state"], "healthy");
  EXPECT_EQ(json["state"], "failing");
  EXPECT_EQ(json["node_id"], "worker-3");
  std::cout << "[timing] exec hook ran in " << ran_ms << " ms\n";
}

TEST(HookExec, RunsOnlyOnStateChanges) {
  const TempDir dir("hook-change");
  const std::string out = (dir / "ran").string();
  ExecHookSink sink(hook("echo ran >> " + out, 5000));
  Heartbeat same = change(HealthState::kHealthy, HealthState::kHealthy);
  same.state_changed = false;
  ASSERT_TRUE(sink.publish(same).ok());
  EXPECT_FALSE(std::filesystem::exists(out));
  ASSERT_TRUE(sink.publish(change(HealthState::kHealthy, HealthState::kDegraded)).ok());
  EXPECT_EQ(testing::file_text(out), "ran\n");
}

TEST(HookExec, FailuresAreErrorsThatNeverShowTheCommand) {
  ExecHookSink exits(hook("exit 3 # TOPSECRET", 5000));
  const Result<void> exited = exits.publish(change(HealthState::kHealthy, HealthState::kFailing));
  ASSERT_FALSE(exited.ok());
  EXPECT_THAT(exited.error().message, HasSubstr("alerts.exec[0]: exited with status 3 for healthy -> failing"));
  EXPECT_THAT(exited.error().message, Not(HasSubstr("TOPSECRET")));

  ExecHookSink killed(hook("kill -TERM $$ # TOPSECRET", 5000));
  const Result<void> signaled = killed.publish(change(HealthState::kHealthy, HealthState::kFailing));
  ASSERT_FALSE(signaled.ok());
  EXPECT_THAT(signaled.error().message, HasSubstr("killed by signal 15"));
  EXPECT_THAT(signaled.error().message, Not(HasSubstr("TOPSECRET")));
}

TEST(HookExec, TimeoutKillsTheWholeGroupAndTheNextChangeStillRuns) {
  const TempDir dir("hook-timeout");
  const std::string pid_file = (dir / "sleep.pid").string();
  const std::string out = (dir / "after").string();
  // On failing: a background sleep (a grandchild of the agent) and a wait, far past the timeout.
  const std::string command = "if [ \"$NODEPULSE_NEW_STATE\" = failing ]; then sleep 30 & echo $! > " + pid_file +
                              ".tmp; mv " + pid_file + ".tmp " + pid_file + "; wait; else echo \"$NODEPULSE_OLD_STATE -> $NODEPULSE_NEW_STATE\" > " +
                              out + "; fi";
  std::mutex mutex;
  std::vector<std::string> results;
  SinkRunner runner(std::make_unique<ExecHookSink>(hook(command, 300)),
                    SinkObserver{[&](const char*, double, const Result<void>& result) {
                      std::lock_guard lock(mutex);
                      results.push_back(result.ok() ? "ok" : result.error().message);
                    }});
  Stopwatch watch;
  runner.offer(change(HealthState::kHealthy, HealthState::kFailing, {"pause 2 s"}));
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(pid_file); }, std::chrono::seconds(2)));
  const pid_t sleep_pid = std::stoi(testing::file_text(pid_file));
  // A change while the hook runs: delivered after it, not beside it.
  runner.offer(change(HealthState::kFailing, HealthState::kHealthy));
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(out); }, std::chrono::seconds(3)));
  const double next_ran_ms = watch.ms();
  EXPECT_EQ(testing::file_text(out), "failing -> healthy\n");
  EXPECT_GE(next_ran_ms, 300) << "the second run must wait for the first";
  EXPECT_LT(next_ran_ms, 1500) << "the first run must be killed at its 300 ms timeout";
  EXPECT_TRUE(wait_until([&] { return process_gone(sleep_pid); }, std::chrono::seconds(1)))
      << "the hook's background sleep survived the timeout";
  ASSERT_TRUE(wait_until([&] { std::lock_guard lock(mutex); return results.size() == 2; }, std::chrono::seconds(2)));
  std::lock_guard lock(mutex);
  EXPECT_THAT(results[0], HasSubstr("still running after 300 ms for healthy -> failing; killed"));
  EXPECT_EQ(results[1], "ok");
  std::cout << "[timing] hook timeout 300 ms: the next change ran " << next_ran_ms << " ms after the first\n";
}

TEST(HookExec, OneRunAtATimeLatestWins) {
  const TempDir dir("hook-serial");
  const std::string lock_dir = (dir / "lock").string();
  const std::string log = (dir / "log").string();
  // mkdir is atomic: a second run beside the first would find the lock taken.
  const std::string command = "mkdir " + lock_dir + " || echo overlap >> " + log +
                              "; echo \"$NODEPULSE_OLD_STATE>$NODEPULSE_NEW_STATE\" >> " + log + "; sleep 0.3; rmdir " +
                              lock_dir;
  std::atomic<int> published{0};
  SinkRunner runner(std::make_unique<ExecHookSink>(hook(command, 5000)),
                    SinkObserver{[&](const char*, double, const Result<void>&) { ++published; }});
  runner.offer(change(HealthState::kHealthy, HealthState::kDegraded));
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(log); }, std::chrono::seconds(2)));
  // Four more changes while the first run sleeps: they collapse into one run of the latest state,
  // whose old state is the first one the hook has not been told about.
  runner.offer(change(HealthState::kDegraded, HealthState::kFailing));
  runner.offer(change(HealthState::kFailing, HealthState::kHealthy));
  runner.offer(change(HealthState::kHealthy, HealthState::kDegraded));
  runner.offer(change(HealthState::kDegraded, HealthState::kFailing));
  ASSERT_TRUE(wait_until([&] { return published.load() == 2; }, std::chrono::seconds(3)));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(published.load(), 2);
  EXPECT_THAT(lines_of(testing::file_text(log)), ElementsAre("healthy>degraded", "degraded>failing"));
}

// ---- webhooks

TEST(AlertWebhook, PostsTheHeartbeatJson) {
  RecordingHttpServer receiver;
  auto sink = WebhookSink::create(receiver.url("/hooks/nodepulse?token=abc"), RetryPolicy{}, "alerts.webhooks[0]");
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  Stopwatch watch;
  const Result<void> posted = (*sink)->publish(change(HealthState::kHealthy, HealthState::kFailing, {"oom kill"}));
  const double posted_ms = watch.ms();
  ASSERT_TRUE(posted.ok()) << posted.error().message;
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/hooks/nodepulse?token=abc");
  EXPECT_THAT(requests[0].headers, HasSubstr("Content-Type: application/json"));
  const auto json = nlohmann::json::parse(requests[0].body);
  EXPECT_EQ(json["old_state"], "healthy");
  EXPECT_EQ(json["state"], "failing");
  EXPECT_EQ(json["node_id"], "worker-3");
  EXPECT_EQ(json["reasons"], nlohmann::json::array({"oom kill"}));

  Heartbeat same = change(HealthState::kFailing, HealthState::kFailing);
  same.state_changed = false;
  ASSERT_TRUE((*sink)->publish(same).ok());
  EXPECT_EQ(receiver.request_count(), 1u) << "only state changes are posted";
  std::cout << "[timing] webhook POST answered in " << posted_ms << " ms\n";
}

TEST(AlertWebhook, RetriesServerErrorsButNotClientErrors) {
  RecordingHttpServer flaky([](const RecordingHttpServer::Request&, std::size_t index) {
    return RecordingHttpServer::Answer{index < 2 ? 503 : 200, ""};
  });
  auto sink = WebhookSink::create(flaky.url("/h"), RetryPolicy{std::chrono::milliseconds(1000), 2, std::chrono::milliseconds(20)},
                                  "alerts.webhooks[0]");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->publish(change(HealthState::kHealthy, HealthState::kFailing)).ok());
  EXPECT_EQ(flaky.request_count(), 3u);

  RecordingHttpServer refusing([](const RecordingHttpServer::Request&, std::size_t) {
    return RecordingHttpServer::Answer{400, "bad"};
  });
  auto refused = WebhookSink::create(refusing.url("/secret-path"), RetryPolicy{}, "alerts.webhooks[1]");
  ASSERT_TRUE(refused.ok());
  const Result<void> result = (*refused)->publish(change(HealthState::kHealthy, HealthState::kFailing));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, HasSubstr("alerts.webhooks[1] (http://127.0.0.1:"));
  EXPECT_THAT(result.error().message, HasSubstr("HTTP 400 (not retried)"));
  EXPECT_THAT(result.error().message, Not(HasSubstr("secret-path")));
  EXPECT_EQ(refusing.request_count(), 1u);
}

TEST(AlertWebhook, AHungReceiverCostsAtMostItsTimeouts) {
  RecordingHttpServer hung([](const RecordingHttpServer::Request&, std::size_t) {
    return RecordingHttpServer::Answer{0, ""};  // read the request, never answer
  });
  auto sink = WebhookSink::create(hung.url("/h"), RetryPolicy{std::chrono::milliseconds(200), 1, std::chrono::milliseconds(50)},
                                  "alerts.webhooks[0]");
  ASSERT_TRUE(sink.ok());
  Stopwatch watch;
  const Result<void> result = (*sink)->publish(change(HealthState::kHealthy, HealthState::kFailing));
  const double took_ms = watch.ms();
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, HasSubstr("timed out after 2 attempts"));
  EXPECT_GE(took_ms, 400);
  EXPECT_LT(took_ms, 1000);
  EXPECT_EQ(hung.request_count(), 2u);
  std::cout << "[timing] hung webhook: gave up after " << took_ms << " ms (2 × 200 ms + 50 ms backoff)\n";
}

// ---- nodepulse check --health (keepalived's vrrp_script)

int run_health_check(const std::vector<std::string>& args, std::string* output = nullptr) {
  std::vector<std::string> argv = {NODEPULSE_BINARY, "check", "--health"};
  argv.insert(argv.end(), args.begin(), args.end());
  const testing::CommandResult result = testing::run_command(argv);
  if (output) *output = result.output;
  return result.status;
}

TEST(KeepalivedHealthCheck, ExitStatusFollowsHealth) {
  std::atomic<int> status{200};
  RecordingHttpServer health([&](const RecordingHttpServer::Request&, std::size_t) {
    return RecordingHttpServer::Answer{status.load(), "{\"state\":\"" + std::string(status == 200 ? "healthy" : "failing") + "\"}"};
  });
  std::string output;
  Stopwatch watch;
  EXPECT_EQ(run_health_check({"--url", health.url("/health")}, &output), 0) << output;
  const double healthy_ms = watch.ms();
  EXPECT_THAT(output, HasSubstr("healthy: HTTP 200 {\"state\":\"healthy\"}"));
  EXPECT_EQ(health.requests().back().target, "/health");

  status = 503;
  EXPECT_EQ(run_health_check({"--url", health.url("/health")}, &output), 1) << output;
  EXPECT_THAT(output, HasSubstr("unhealthy: HTTP 503"));

  // Without --url, the agent's http.listen gives the address.
  status = 200;
  EXPECT_EQ(run_health_check({"--set", "http.listen=0.0.0.0:" + std::to_string(health.port())}, &output), 0) << output;

  // Nothing listening: the agent is down, so the node is not vouched for.
  const uint16_t closed = testing::free_loopback_port();
  EXPECT_EQ(run_health_check({"--url", "http://127.0.0.1:" + std::to_string(closed) + "/health"}, &output), 1);
  EXPECT_THAT(output, HasSubstr("unhealthy: no answer from the agent"));

  // An agent that accepts but never answers: bounded by --timeout-ms.
  RecordingHttpServer hung([](const RecordingHttpServer::Request&, std::size_t) { return RecordingHttpServer::Answer{0, ""}; });
  Stopwatch hung_watch;
  EXPECT_EQ(run_health_check({"--url", hung.url("/health"), "--timeout-ms", "300"}, &output), 1);
  const double hung_ms = hung_watch.ms();
  EXPECT_THAT(output, HasSubstr("timed out"));
  EXPECT_LT(hung_ms, 1500);

  EXPECT_EQ(run_health_check({"--url", "https://127.0.0.1/health"}, &output), 1);
  std::cout << "[timing] check --health: healthy answer in " << healthy_ms << " ms (whole process); hung agent "
            << hung_ms << " ms with --timeout-ms 300\n";
}

}  // namespace
}  // namespace nodepulse
