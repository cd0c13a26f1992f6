// The JVM signal through the whole agent: target JVMs found by the TargetTracker, probes
// attached and re-attached by the JvmCollector, and what /metrics shows for them.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>
#include <thread>

#include "http_client.h"
#include "java.h"
#include "process.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::TempDir;

// The value of the first sample of `name` whose labels include every one of `labels`
// (each written as key="value"); nullopt when there is none.
std::optional<double> metric(const std::string& body, const std::string& name, const std::vector<std::string>& labels) {
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(name + "{")) continue;
    const size_t close = line.find("} ");
    if (close == std::string::npos) continue;
    const std::string label_text = line.substr(name.size(), close - name.size());
    bool all = true;
    for (const std::string& label : labels) all = all && label_text.find(label) != std::string::npos;
    if (all) return std::stod(line.substr(close + 2));
  }
  return std::nullopt;
}

class JvmAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ROOT();
    classes_ = testing::compile_java("PauseChurn");
    port_ = testing::free_loopback_port();
  }

  // Starts the agent with `targets_yaml` (a YAML list) and a 50 ms collection interval.
  void start_agent(const std::string& targets_yaml) {
    const std::filesystem::path config = dir_ / "nodepulse.yaml";
    std::ofstream(config) << "targets: " << targets_yaml << "\nhttp:\n  listen: 127.0.0.1:" << port_
                          << "\ncollect:\n  interval_ms: 50\n";
    agent_.emplace(ChildProcess::spawn({NODEPULSE_BINARY, "agent", "--config", config.string()}, agent_log().string()));
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < until && !testing::http_get(port_, "/metrics")) {
      ASSERT_EQ(::kill(agent_->pid(), 0), 0) << "the agent died:\n" << testing::read_text(agent_log());
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(testing::http_get(port_, "/metrics")) << testing::read_text(agent_log());
  }

  std::filesystem::path agent_log() const { return dir_ / "agent.log"; }

  std::optional<double> scrape(const std::string& name, const std::vector<std::string>& labels) {
    const auto reply = testing::http_get(port_, "/metrics");
    if (!reply || reply->status != 200) return std::nullopt;
    return metric(reply->body, name, labels);
  }

  // Polls /metrics until `name{labels}` satisfies `done`, or `timeout` passes; returns the last value.
  std::optional<double> wait_for(const std::string& name, const std::vector<std::string>& labels,
                                 const std::function<bool(double)>& done, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::optional<double> value;
    while (std::chrono::steady_clock::now() < until) {
      value = scrape(name, labels);
      if (value && done(*value)) return value;
      std::this_thread::sleep_for(10ms);
    }
    return value;
  }

  ChildProcess start_churn(const std::filesystem::path& jvm_dir) {
    std::filesystem::create_directories(jvm_dir);
    testing::touch(jvm_dir / "go");
    return testing::start_java(classes_, {"-XX:+UseSerialGC", "-Xmx256m", "-Xmn48m", "-XX:SurvivorRatio=2"},
                               "PauseChurn", {"churn", jvm_dir.string(), "30000"}, jvm_dir / "stdout.log");
  }

  TempDir dir_;
  std::filesystem::path classes_;
  uint16_t port_ = 0;
  std::optional<ChildProcess> agent_;  // declared last: stopped first
};

const std::string kAttached = "nodepulse_jvm_probes_attached";
const std::string kGcCount = "nodepulse_jvm_pause_seconds_count";

TEST_F(JvmAgentTest, ARestartedTargetJvmIsReattachedWithinASecondAndItsPausesCounted) {
  const std::filesystem::path target_dir = dir_ / "target";
  start_agent("[{name: jvm, cmdline_contains: \"" + target_dir.string() + "\"}]");
  const std::vector<std::string> jvm = {"target=\"jvm\""};
  const std::vector<std::string> jvm_gc = {"target=\"jvm\"", "kind=\"gc\""};
  EXPECT_EQ(scrape(kAttached, jvm), 0.0) << "nothing attached without a target JVM";

  std::optional<ChildProcess> first(start_churn(target_dir));
  ASSERT_EQ(wait_for(kAttached, jvm, [](double v) { return v == 1; }, 5s), 1.0) << testing::read_text(agent_log());
  const auto first_gcs = wait_for(kGcCount, jvm_gc, [](double v) { return v > 0; }, 10s);
  ASSERT_GT(first_gcs.value_or(0), 0) << "the first JVM's GCs were not counted";

  first->kill_and_reap();
  ASSERT_EQ(wait_for(kAttached, jvm, [](double v) { return v == 0; }, 3s), 0.0) << "not detached when the JVM died";
  EXPECT_EQ(scrape("nodepulse_jvm_pause_in_progress_seconds", jvm), 0.0);
  const double gcs_before_restart = scrape(kGcCount, jvm_gc).value_or(0);

  const auto restarted_at = std::chrono::steady_clock::now();
  ChildProcess second = start_churn(target_dir);
  ASSERT_EQ(wait_for(kAttached, jvm, [](double v) { return v == 1; }, 5s), 1.0) << testing::read_text(agent_log());
  const auto reattach_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - restarted_at).count();
  std::printf("re-attached %ld ms after the JVM was restarted\n", static_cast<long>(reattach_ms));
  EXPECT_LT(reattach_ms, 1000) << "re-attached too late";
  const auto second_gcs = wait_for(kGcCount, jvm_gc, [&](double v) { return v > gcs_before_restart; }, 10s);
  EXPECT_GT(second_gcs.value_or(0), gcs_before_restart) << "the restarted JVM's GCs were not counted";
  EXPECT_NE(testing::read_text(agent_log()).find("process " + std::to_string(second.pid()) +
                                                  " (java): GC and safepoint probes attached"),
            std::string::npos);
}

// A target that maps a libjvm.so without HotSpot's USDT probes is reported (gauge and log),
// next to a real JVM target that is attached and not reported.
TEST_F(JvmAgentTest, ATargetWithoutHotspotProbesIsReportedClearly) {
  const std::filesystem::path fake = dir_ / "libjvm.so";
  std::filesystem::copy_file("/lib/x86_64-linux-gnu/libm.so.6", fake);
  const std::string marker = "29." + std::to_string(getpid());
  const std::filesystem::path jvm_dir = dir_ / "real";
  std::filesystem::create_directories(jvm_dir);
  start_agent("[{name: jvm, cmdline_contains: \"" + jvm_dir.string() + "\"}, {name: fake, cmdline_contains: \"sleep " +
              marker + "\"}]");

  ChildProcess real = testing::start_java(classes_, {"-XX:+UseSerialGC"}, "PauseChurn", {"idle", jvm_dir.string()},
                                          jvm_dir / "stdout.log");
  ChildProcess impostor = ChildProcess::spawn({"env", "LD_PRELOAD=" + fake.string(), "sleep", marker});

  const std::string kWithout = "nodepulse_jvm_processes_without_probes";
  ASSERT_EQ(wait_for(kWithout, {"target=\"fake\""}, [](double v) { return v == 1; }, 5s), 1.0)
      << testing::read_text(agent_log());
  EXPECT_EQ(scrape(kAttached, {"target=\"fake\""}), 0.0);
  ASSERT_EQ(wait_for(kAttached, {"target=\"jvm\""}, [](double v) { return v == 1; }, 5s), 1.0);
  EXPECT_EQ(scrape(kWithout, {"target=\"jvm\""}), 0.0);
  const std::string log = testing::read_text(agent_log());
  EXPECT_NE(log.find("target fake: process " + std::to_string(impostor.pid())), std::string::npos) << log;
  EXPECT_NE(log.find("has no USDT probe hotspot:gc__begin"), std::string::npos) << log;
}

}  // namespace
}  // namespace nodepulse
