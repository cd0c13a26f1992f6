// docs/metrics.md against what a live agent really exports: the agent runs (root, real BPF)
// beside a workload that makes every signal (support/signal_workload.h), and its /metrics must
// pass `promtool check metrics` and hold exactly the catalogue's agent metrics, with the same
// types and label names. The failure messages name each metric that drifts, so whoever adds or
// renames one knows which line of docs/metrics.md to write.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "metrics_catalogue.h"
#include "signal_workload.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += "\n  " + item;
  return out;
}

std::string describe(const testing::MetricFamily& family) {
  std::string labels;
  for (const std::string& label : family.labels) labels += (labels.empty() ? "" : ", ") + label;
  return family.type + " {" + labels + "}";
}

TEST(MetricsCatalogue, MatchesWhatALiveAgentExportsUnderEverySignal) {
  NODEPULSE_REQUIRE_ROOT();
  const auto catalogue =
      testing::parse_catalogue(testing::catalogue_file_text(testing::source_path("docs/metrics.md")));
  const auto expected = testing::catalogue_for(catalogue, "agent");
  ASSERT_FALSE(expected.empty());

  testing::SignalWorkload workload(30s);
  testing::LiveAgent agent(workload.agent_settings(), workload.dir() / "agent.log");
  ASSERT_TRUE(agent.wait_until_serving(20s)) << agent.log();

  // Every family the workload can bring out appears within seconds (the PSI trigger and target
  // cgroup PSI need the thrash to start and the target to be found by a /proc rescan).
  std::string body;
  testing::MetricFamilies live;
  const auto missing_now = [&] {
    std::vector<std::string> missing;
    for (const auto& [name, family] : expected) {
      if (!live.contains(name)) missing.push_back(name);
    }
    return missing;
  };
  const auto until = std::chrono::steady_clock::now() + 20s;
  do {
    std::this_thread::sleep_for(250ms);
    body = agent.scrape();
    live = testing::parse_exposition(body);
  } while (!missing_now().empty() && std::chrono::steady_clock::now() < until);

  std::vector<std::string> exported_not_catalogued, catalogued_not_exported, differ;
  for (const auto& [name, family] : live) {
    auto found = catalogue.find(name);
    if (found == catalogue.end()) {
      exported_not_catalogued.push_back(name + " (" + describe(family) + ")");
    } else if (found->second.exporter != "agent") {
      exported_not_catalogued.push_back(name + " is exported by the agent but catalogued under `nodepulse " +
                                        found->second.exporter + "`");
    } else if (found->second.type != family.type || found->second.labels != family.labels) {
      differ.push_back(name + ": catalogue says " + describe(found->second) + ", the agent exports " +
                       describe(family));
    }
  }
  for (const std::string& name : missing_now()) catalogued_not_exported.push_back(name);

  EXPECT_TRUE(exported_not_catalogued.empty())
      << "the agent exports metrics docs/metrics.md does not list (add a row under \"Exported by `nodepulse agent`\"):"
      << join(exported_not_catalogued);
  EXPECT_TRUE(catalogued_not_exported.empty())
      << "docs/metrics.md lists agent metrics the live agent did not export within 20 s of every signal (renamed? "
         "removed? or the workload in support/signal_workload.h no longer makes them):"
      << join(catalogued_not_exported) << "\n" << agent.log();
  EXPECT_TRUE(differ.empty()) << "type or labels differ between docs/metrics.md and /metrics:" << join(differ);

  // What the dashboards and the alert rules read, the live agent exports (or, for the
  // balancer's metrics, the catalogue lists under the balancer).
  std::vector<testing::NamedExpr> exprs = testing::dashboard_exprs();
  const auto rules = testing::rule_exprs();
  exprs.insert(exprs.end(), rules.begin(), rules.end());
  std::vector<std::string> read_not_exported;
  for (const auto& named : exprs) {
    for (const std::string& name : testing::metric_names_in(named.expr, catalogue)) {
      if (name == "up" || live.contains(name)) continue;
      auto found = catalogue.find(name);
      if (found != catalogue.end() && found->second.exporter != "agent") continue;
      read_not_exported.push_back(named.where + ": " + name);
    }
  }
  EXPECT_TRUE(read_not_exported.empty()) << "dashboards or rules read metrics the live agent does not export:"
                                         << join(read_not_exported);

  // The metric contract of docs/design.md: every name passes promtool's lint.
  if (std::filesystem::exists("/usr/bin/promtool")) {
    const std::filesystem::path scraped = workload.dir() / "metrics.txt";
    std::ofstream(scraped) << body;
    const auto lint = testing::run_command({"sh", "-c", "/usr/bin/promtool check metrics < " + scraped.string()});
    EXPECT_EQ(lint.status, 0) << "promtool check metrics:\n" << lint.output;
    EXPECT_EQ(lint.output, "") << "promtool check metrics:\n" << lint.output;
  } else {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") ADD_FAILURE() << "/usr/bin/promtool is needed (CI=true)";
  }
  std::printf("%zu metric families exported and catalogued\n", live.size());
}

}  // namespace
}  // namespace nodepulse
