// The dashboards and alert rules on real data: a real Prometheus scrapes a live agent (root,
// real BPF) beside a workload that makes every signal (support/signal_workload.h); every query
// of every dashboard panel, with Grafana's variables filled in, goes through Prometheus' HTTP API
// and must return data (a value that is not NaN); every alert rule must evaluate without error,
// and the failing node the workload makes must raise NodepulseNodeFailing (pending: it waits a
// minute before it fires).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <thread>

#include "metrics_catalogue.h"
#include "prometheus.h"
#include "signal_workload.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Panels whose data needs a fault the workload cannot make, and why.
const std::map<std::string, std::string> kExemptPanels = {
    {"Run-time errors /s",
     "nodepulse_errors_total has series only after a run-time failure (a BPF map read or a PSI read failing), "
     "which a healthy kernel does not give"},
};

// services.h has wait_until and Stopwatch, but cannot be included beside java.h (both define
// TempDir).
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
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

// Whether a query_range answer holds at least one number that is not NaN; "" when it does,
// else what it held.
std::string lacks_data(const std::optional<json>& answer) {
  if (!answer) return "no answer";
  if (answer->value("status", "") != "success") return answer->dump();
  const json& result = (*answer)["data"]["result"];
  if (result.empty()) return "no series";
  for (const json& series : result) {
    for (const json& point : series["values"]) {
      const std::string value = point[1].get<std::string>();
      if (value != "NaN") return "";
    }
  }
  return "only NaN (" + std::to_string(result.size()) + " series)";
}

TEST(PrometheusDashboards, EveryPanelQueryReturnsDataAndEveryRuleEvaluates) {
  NODEPULSE_REQUIRE_ROOT();
  NODEPULSE_REQUIRE_BINARY(testing::kPrometheusBinary);
  const auto started = std::chrono::steady_clock::now();

  testing::SignalWorkload workload(50s);
  testing::LiveAgent agent(workload.agent_settings(), workload.dir() / "agent.log");
  ASSERT_TRUE(agent.wait_until_serving(20s)) << agent.log();
  const double start = unix_now();
  testing::PrometheusServer prometheus({.targets = {agent.address()},
                                        .rule_files = {testing::source_path("dashboards/alerts.yml")}},
                                       workload.dir());
  ASSERT_TRUE(prometheus.wait_until_ready(10s)) << prometheus.log();

  // Prometheus scrapes ~5 s after it starts; then a few scrapes for rate() to have two points.
  const auto scrapes = [&] {
    const auto answer = prometheus.query("count_over_time(nodepulse_build_info[1m])");
    if (!answer || (*answer)["data"]["result"].empty()) return 0.0;
    return std::stod((*answer)["data"]["result"][0]["value"][1].get<std::string>());
  };
  ASSERT_TRUE(eventually([&] { return scrapes() >= 4; }, 20s)) << prometheus.log();

  // Every panel's queries, polled until each has data (signals such as the PSI trigger or a GC
  // in the last rate window take seconds to show), for at most 25 s.
  std::vector<testing::NamedExpr> pending;
  for (const auto& named : testing::dashboard_exprs()) {
    if (!kExemptPanels.contains(named.panel_title)) pending.push_back(named);
  }
  ASSERT_GT(pending.size(), 40u);
  const size_t checked = pending.size();
  std::map<std::string, std::string> last_problem;
  const auto until = std::chrono::steady_clock::now() + 25s;
  while (!pending.empty() && std::chrono::steady_clock::now() < until) {
    std::vector<testing::NamedExpr> still;
    for (const auto& named : pending) {
      const std::string expr = fill_variables(named.expr, agent.address());
      const std::string problem = lacks_data(prometheus.query_range(expr, start, unix_now(), 1));
      if (problem.empty()) continue;
      last_problem[named.where] = problem + ": " + expr;
      still.push_back(named);
    }
    pending = std::move(still);
    if (!pending.empty()) std::this_thread::sleep_for(1s);
  }
  std::string without_data;
  for (const auto& named : pending) without_data += "\n  " + named.where + ": " + last_problem[named.where];
  EXPECT_TRUE(without_data.empty()) << "panel queries without data:" << without_data << "\nagent log:\n" << agent.log();

  // The rules: loaded, evaluated without error; the failing node raises its alert.
  const auto rules = prometheus.api("rules");
  ASSERT_TRUE(rules && rules->value("status", "") == "success") << prometheus.log();
  size_t rule_count = 0;
  for (const json& group : (*rules)["data"]["groups"]) {
    for (const json& rule : group["rules"]) {
      ++rule_count;
      EXPECT_EQ(rule.value("health", ""), "ok") << rule.value("name", "") << ": " << rule.value("lastError", "");
    }
  }
  EXPECT_EQ(rule_count, testing::rule_exprs().size()) << "Prometheus did not load every rule of alerts.yml";

  std::set<std::string> alerts;
  ASSERT_TRUE(eventually(
      [&] {
        const auto answer = prometheus.api("alerts");
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
      << prometheus.query("nodepulse_node_state").value_or(json()).dump();
  for (const char* quiet : {"NodepulseAgentDown", "NodepulseAgentsAbsent", "NodepulseProbeDown"}) {
    EXPECT_FALSE(alerts.contains(std::string(quiet) + "/pending") || alerts.contains(std::string(quiet) + "/firing"))
        << quiet << " is active although the agent answers with every probe up";
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%zu panel queries returned data, %zu rules evaluated, in %.1f s\n", checked - pending.size(),
              rule_count, seconds);
}

}  // namespace
}  // namespace nodepulse
