// The dashboards and alert rules on real data, through a real Prometheus scraping a live agent
// (root, real BPF). Every query of every dashboard panel, with Grafana's variables filled in,
// goes through Prometheus' HTTP API, and so does what each alert rule watches (its expression
// without the threshold, see rule_operand): each must return data.
//
// First an agent with its built-in defaults on the node as it is: its first /metrics answer
// holds every metric docs/metrics.md says appears at `start`, and every query reading only such
// metrics has data, so an operator who imports the dashboards sees no empty panel and an alert
// on a counter sees its first increase. Then an agent with targets, a network namespace with
// traffic, a sink and BPF statistics (support/signal_workload.h): every query has data, those
// reading metrics that appear later included, and the failing node it makes raises
// NodepulseNodeFailing (pending: it waits a minute before it fires).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "metrics_catalogue.h"
#include "prometheus.h"
#include "signal_workload.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += "\n  " + item;
  return out;
}

testing::MetricFamilies catalogue() {
  return testing::parse_catalogue(testing::catalogue_file_text(testing::source_path("docs/metrics.md")));
}

// Grafana's variables as one node's drill-down would set them. $__rate_interval is at least four
// scrape intervals (1 s here).
std::string fill_variables(std::string expr, const std::string& instance) {
  const std::vector<std::pair<std::string, std::string>> values = {
      {"$__rate_interval", "5s"}, {"$job", "nodepulse"}, {"$instance", instance}, {"$target", ".*"}, {"$peer", ".*"}};
  for (const auto& [variable, value] : values) {
    for (size_t at = expr.find(variable); at != std::string::npos; at = expr.find(variable, at + value.size())) {
      expr.replace(at, variable.size(), value);
    }
  }
  return expr;
}

// Every panel query, and what every alert rule watches.
std::vector<testing::NamedExpr> panel_and_rule_exprs() {
  std::vector<testing::NamedExpr> exprs = testing::dashboard_exprs();
  for (testing::NamedExpr rule : testing::rule_exprs()) {
    rule.expr = testing::rule_operand(rule.expr);
    exprs.push_back(rule);
  }
  return exprs;
}

// The metrics `expr` reads that docs/metrics.md says appear after the start.
std::set<std::string> later_metrics_in(const std::string& expr, const testing::MetricFamilies& catalogue) {
  std::set<std::string> later;
  for (const std::string& name : testing::metric_names_in(expr, catalogue)) {
    auto found = catalogue.find(name);
    if (found != catalogue.end() && found->second.first_appears != testing::kFromStart) later.insert(name);
  }
  return later;
}

// A quantile of a window without observations is NaN by definition (Grafana draws the series,
// with its legend, and no line): on an idle node that is a quantile's data.
enum class NaN { kIsNoData, kIsDataForAQuantile };

// "" when a query_range answer holds data: a number that is not NaN (or, as `nan` allows, a NaN
// of a histogram_quantile); else what it held.
std::string lacks_data(const std::optional<json>& answer, const std::string& expr, NaN nan) {
  if (!answer) return "no answer";
  if (answer->value("status", "") != "success") return answer->dump();
  const json& result = (*answer)["data"]["result"];
  if (result.empty()) return "no series";
  const bool quantile = expr.find("histogram_quantile") != std::string::npos;
  for (const json& series : result) {
    for (const json& point : series["values"]) {
      if (point[1].get<std::string>() != "NaN" || (quantile && nan == NaN::kIsDataForAQuantile)) return "";
    }
  }
  return "only NaN (" + std::to_string(result.size()) + " series)";
}

// A real Prometheus scraping one agent every second with dashboards/alerts.yml loaded, from
// the moment it is made.
class ScrapedAgent {
 public:
  ScrapedAgent(const testing::LiveAgent& agent, const std::filesystem::path& dir)
      : agent_(agent),
        start_(unix_now()),
        prometheus_({.targets = {agent.address()}, .rule_files = {testing::source_path("dashboards/alerts.yml")}},
                   dir) {}

  const testing::PrometheusServer& prometheus() const { return prometheus_; }

  // Ready, and scraped often enough for rate() over $__rate_interval to have two points.
  ::testing::AssertionResult wait_for_scrapes(int scrapes) const {
    if (!prometheus_.wait_until_ready(10s)) return ::testing::AssertionFailure() << prometheus_.log();
    const auto scraped = [&] {
      const auto answer = prometheus_.query("count_over_time(nodepulse_build_info[1m])");
      if (!answer || (*answer)["data"]["result"].empty()) return 0.0;
      return std::stod((*answer)["data"]["result"][0]["value"][1].get<std::string>());
    };
    if (!testing::wait_until([&] { return scraped() >= scrapes; }, 20s)) {
      return ::testing::AssertionFailure() << "Prometheus did not scrape the agent " << scrapes << " times\n"
                                           << prometheus_.log();
    }
    return ::testing::AssertionSuccess();
  }

  // Polls every query until each has data or `timeout` passes (signals such as a PSI trigger or
  // a GC in the last rate window take seconds to show); what never had data, and why.
  std::vector<std::string> without_data(const std::vector<testing::NamedExpr>& exprs, NaN nan,
                                        std::chrono::seconds timeout) const {
    std::vector<testing::NamedExpr> pending = exprs;
    std::map<std::string, std::string> last_problem;
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::vector<testing::NamedExpr> still;
      for (const auto& named : pending) {
        const std::string expr = fill_variables(named.expr, agent_.address());
        const std::string problem = lacks_data(prometheus_.query_range(expr, start_, unix_now(), 1), expr, nan);
        if (problem.empty()) continue;
        last_problem[named.where] = problem + ": " + expr;
        still.push_back(named);
      }
      pending = std::move(still);
      if (pending.empty() || std::chrono::steady_clock::now() >= until) break;
      std::this_thread::sleep_for(1s);
    }
    std::vector<std::string> problems;
    for (const auto& named : pending) problems.push_back(named.where + ": " + last_problem[named.where]);
    return problems;
  }

  // Every rule of alerts.yml loaded and evaluated without error; how many.
  size_t expect_every_rule_evaluates() const {
    const auto rules = prometheus_.api("rules");
    EXPECT_TRUE(rules && rules->value("status", "") == "success") << prometheus_.log();
    if (!rules) return 0;
    size_t count = 0;
    for (const json& group : (*rules)["data"]["groups"]) {
      for (const json& rule : group["rules"]) {
        ++count;
        EXPECT_EQ(rule.value("health", ""), "ok") << rule.value("name", "") << ": " << rule.value("lastError", "");
      }
    }
    EXPECT_EQ(count, testing::rule_exprs().size()) << "Prometheus did not load every rule of alerts.yml";
    return count;
  }

 private:
  const testing::LiveAgent& agent_;
  double start_;
  testing::PrometheusServer prometheus_;
};

TEST(PrometheusDashboards, WithBuiltInDefaultsEveryPanelAndRuleHasDataFromTheFirstScrape) {
  NODEPULSE_REQUIRE_ROOT();
  NODEPULSE_REQUIRE_BINARY(testing::kPrometheusBinary);
  const auto started = std::chrono::steady_clock::now();
  const auto families = catalogue();
  testing::TempDir dir("dashboards-defaults");

  testing::LiveAgent agent({}, dir / "agent.log");  // only http.listen set: a free loopback port
  std::string first_scrape;
  ASSERT_TRUE(testing::wait_until([&] { return !(first_scrape = agent.scrape()).empty() || !agent.alive(); }, 20s))
      << agent.log();
  ASSERT_FALSE(first_scrape.empty()) << "the agent exited:\n" << agent.log();
  ScrapedAgent scraped(agent, dir.path());

  // Every metric the catalogue says appears at start is in the agent's very first answer.
  const auto live = testing::parse_exposition(first_scrape);
  std::vector<std::string> absent_at_start;
  for (const auto& [name, family] : testing::catalogue_for(families, "agent")) {
    if (family.first_appears == testing::kFromStart && !live.contains(name)) absent_at_start.push_back(name);
  }
  EXPECT_TRUE(absent_at_start.empty())
      << "docs/metrics.md says these appear at `start`; the agent's first /metrics answer lacks them:"
      << join(absent_at_start) << "\nfirst scrape:\n" << first_scrape;

  // Every panel query and rule that reads only such metrics has data through Prometheus.
  ASSERT_TRUE(scraped.wait_for_scrapes(3));
  std::vector<testing::NamedExpr> from_start;
  std::vector<std::string> appear_later;  // exercised by the test below
  for (const auto& named : panel_and_rule_exprs()) {
    const auto later = later_metrics_in(named.expr, families);
    if (later.empty()) {
      from_start.push_back(named);
    } else {
      appear_later.push_back(named.where + " (" + *later.begin() + ": " + families.at(*later.begin()).first_appears +
                             ")");
    }
  }
  ASSERT_GT(from_start.size(), 40u);
  const auto without_data = scraped.without_data(from_start, NaN::kIsDataForAQuantile, 10s);
  EXPECT_TRUE(without_data.empty()) << "with the built-in defaults, these panel queries and rules have no data:"
                                    << join(without_data) << "\nagent log:\n" << agent.log();
  const size_t rules = scraped.expect_every_rule_evaluates();

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("built-in defaults: %zu families at the first scrape; %zu of %zu panel queries and rule operands had "
              "data, %zu rules evaluated, in %.1f s; left to the workload:%s\n",
              live.size(), from_start.size() - without_data.size(), from_start.size(), rules, seconds,
              join(appear_later).c_str());
}

TEST(PrometheusDashboards, WithTargetsPeersASinkAndBpfStatisticsEveryPanelAndRuleHasData) {
  NODEPULSE_REQUIRE_ROOT();
  NODEPULSE_REQUIRE_BINARY(testing::kPrometheusBinary);
  const auto started = std::chrono::steady_clock::now();

  testing::SignalWorkload workload(45s);
  testing::LiveAgent agent(workload.agent_settings(), workload.dir() / "agent.log");
  ASSERT_TRUE(agent.wait_until_serving(20s)) << agent.log();
  ScrapedAgent scraped(agent, workload.dir());
  ASSERT_TRUE(scraped.wait_for_scrapes(4));

  // Every query, those reading metrics that appear later included; here a NaN is no data.
  const auto exprs = panel_and_rule_exprs();
  const auto without_data = scraped.without_data(exprs, NaN::kIsNoData, 25s);
  EXPECT_TRUE(without_data.empty()) << "panel queries and rules without data:" << join(without_data)
                                    << "\nagent log:\n" << agent.log();
  const size_t rules = scraped.expect_every_rule_evaluates();

  // The failing node raises its alert; the agent answering with every probe up raises none of these.
  std::set<std::string> alerts;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        const auto answer = scraped.prometheus().api("alerts");
        alerts.clear();
        if (!answer) return false;
        for (const json& alert : (*answer)["data"]["alerts"]) {
          if (alert["labels"].value("instance", "") == agent.address() || !alert["labels"].contains("instance")) {
            alerts.insert(alert["labels"].value("alertname", "") + "/" + alert.value("state", ""));
          }
        }
        return alerts.contains("NodepulseNodeFailing/pending") || alerts.contains("NodepulseNodeFailing/firing");
      },
      10s))
      << "the workload starves a target thread for seconds: the node is failing, yet no NodepulseNodeFailing; "
         "node state now: "
      << scraped.prometheus().query("nodepulse_node_state").value_or(json()).dump();
  for (const char* quiet : {"NodepulseAgentDown", "NodepulseAgentsAbsent", "NodepulseProbeDown"}) {
    EXPECT_FALSE(alerts.contains(std::string(quiet) + "/pending") || alerts.contains(std::string(quiet) + "/firing"))
        << quiet << " is active although the agent answers with every probe up";
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("with the workload: %zu of %zu panel queries and rule operands had data, %zu rules evaluated, in %.1f s\n",
              exprs.size() - without_data.size(), exprs.size(), rules, seconds);
}

}  // namespace
}  // namespace nodepulse
