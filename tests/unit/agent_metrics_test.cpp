// The agent's counters of failures start at 0 for every label value known at start — each
// probe's drops, failed updates and read errors, the PSI reads, each configured sink — so the
// first failure is an increase that rate() and the alert rules see, not a series born at 1.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <filesystem>
#include <memory>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "metrics/agent_metrics.h"
#include "metrics/health_metrics.h"
#include "sink_runner.h"

namespace nodepulse {
namespace {

// The probes the agent runs (Collector::probe() of each collector).
const std::vector<std::string> kProbes = {"sched", "jvm", "mem", "net"};

std::string scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(AgentMetrics, EachProbesFailureCountersStartAtZeroWithTheProbe) {
  prometheus::Registry registry;
  AgentMetrics metrics(registry, {"trino"}, "test");
  metrics.set_probe_up("sched", true);
  metrics.set_probe_up("net", false);  // a probe that did not load: its counters exist all the same
  const std::string text = scrape(registry);
  for (const char* probe : {"sched", "net"}) {
    const std::string p = probe;
    EXPECT_TRUE(has_line(text, "nodepulse_bpf_events_dropped_total{probe=\"" + p + "\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "nodepulse_bpf_updates_failed_total{probe=\"" + p + "\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "nodepulse_errors_total{component=\"" + p + "\",op=\"read\"} 0")) << text;
  }
  EXPECT_TRUE(has_line(text, "nodepulse_errors_total{component=\"psi\",op=\"read\"} 0")) << text;
  EXPECT_EQ(text.find("probe=\"jvm\""), std::string::npos) << "no series for a probe never reported";

  Sample sample;
  sample.errors.push_back({"sched", "read", "EIO"});
  metrics.record(sample);
  EXPECT_TRUE(has_line(scrape(registry), "nodepulse_errors_total{component=\"sched\",op=\"read\"} 1"));
}

// The (component, op) pairs above are written in AgentMetrics and, again, wherever a collector
// reports a CollectError: every pair in userspace/collect/ must start at 0, or its first
// failure is invisible to rate() once more.
TEST(AgentMetrics, StartsEveryErrorKindTheCollectorsReport) {
  prometheus::Registry registry;
  AgentMetrics metrics(registry, {}, "test");
  for (const std::string& probe : kProbes) metrics.set_probe_up(probe, true);
  const std::string text = scrape(registry);

  static const std::regex reported(R"re(errors\.push_back\(\{\s*(probe\(\)|"(\w+)"),\s*"(\w+)")re");
  std::set<std::pair<std::string, std::string>> kinds;  // (component or "probe()", op)
  const auto collect_dir = std::filesystem::path(NODEPULSE_SOURCE_DIR) / "userspace/collect";
  for (const auto& entry : std::filesystem::directory_iterator(collect_dir)) {
    if (entry.path().extension() != ".cpp") continue;
    const std::string source = file_text(entry.path());
    for (auto it = std::sregex_iterator(source.begin(), source.end(), reported); it != std::sregex_iterator(); ++it) {
      kinds.insert({(*it)[2].matched ? (*it)[2].str() : "probe()", (*it)[3].str()});
    }
  }
  ASSERT_GE(kinds.size(), 2u) << "the pattern no longer matches how collectors report errors";
  for (const auto& [component, op] : kinds) {
    const std::vector<std::string> components = component == "probe()" ? kProbes : std::vector<std::string>{component};
    for (const std::string& name : components) {
      EXPECT_TRUE(has_line(text, "nodepulse_errors_total{component=\"" + name + "\",op=\"" + op + "\"} 0"))
          << "a collector reports {" << component << ", " << op << "} but AgentMetrics does not start it at 0\n"
          << text;
    }
  }
}

class IdleSink final : public Sink {
 public:
  const char* name() const override { return "keepalived"; }
  Result<void> publish(const Heartbeat&) override { return ok(); }
};

TEST(HealthMetrics, EachSinkStartsAtZeroWhenItsRunnerStarts) {
  prometheus::Registry registry;
  HealthMetrics metrics(registry);
  const SinkObserver observer = metrics.sink_observer();
  EXPECT_EQ(scrape(registry).find("sink=\""), std::string::npos) << "no sink, no series";
  const SinkRunner runner(std::make_unique<IdleSink>(), observer);  // offered nothing: never publishes
  std::string text = scrape(registry);
  EXPECT_TRUE(has_line(text, "nodepulse_sink_errors_total{sink=\"keepalived\"} 0")) << text;
  EXPECT_TRUE(has_line(text, "nodepulse_sink_publish_seconds_count{sink=\"keepalived\"} 0")) << text;

  observer.published("keepalived", 0.002, Error{"disk full"});
  observer.published("keepalived", 0.001, ok());
  text = scrape(registry);
  EXPECT_TRUE(has_line(text, "nodepulse_sink_errors_total{sink=\"keepalived\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "nodepulse_sink_publish_seconds_count{sink=\"keepalived\"} 2")) << text;
}

}  // namespace
}  // namespace nodepulse
