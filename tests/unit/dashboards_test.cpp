// The Grafana dashboards, the alert rules and the metric catalogue, checked without an agent:
// dashboards import as they are (datasource variable, current schema, unique ids, a query in
// every target); every metric a panel or a rule names is in docs/metrics.md; the rules pass
// `promtool check rules` and their unit tests (`promtool test rules`). Whether the agent really
// exports what the catalogue lists is metrics_catalogue_test (kernel).
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <regex>

#include "metrics_catalogue.h"
#include "netns.h"  // run_command

namespace nodepulse {
namespace {

using nlohmann::json;
using testing::source_path;

constexpr const char* kPromtool = "/usr/bin/promtool";

// Skip locally without promtool; fail in CI (scripts/setup installs the prometheus package).
#define REQUIRE_PROMTOOL()                                                                       \
  do {                                                                                           \
    if (!std::filesystem::exists(kPromtool)) {                                                   \
      const char* ci = std::getenv("CI");                                                        \
      if (ci && std::string(ci) == "true") FAIL() << kPromtool << " is needed (CI=true)";        \
      GTEST_SKIP() << "needs " << kPromtool << " (scripts/setup installs it)";                   \
    }                                                                                            \
  } while (0)

testing::MetricFamilies catalogue() {
  return testing::parse_catalogue(testing::catalogue_file_text(source_path("docs/metrics.md")));
}

json load_dashboard(const std::filesystem::path& file) {
  return json::parse(testing::catalogue_file_text(file));
}

// Variables Grafana itself defines.
bool builtin_variable(const std::string& name) {
  return name == "__rate_interval" || name == "__interval" || name == "__range" || name == "__interval_ms" ||
         name == "__range_s";
}

TEST(Dashboards, ThereAreAClusterOverviewAndANodeDrillDown) {
  std::set<std::string> uids;
  for (const auto& file : testing::dashboard_files()) uids.insert(load_dashboard(file).value("uid", ""));
  EXPECT_TRUE(uids.contains("nodepulse-cluster"));
  EXPECT_TRUE(uids.contains("nodepulse-node"));
}

TEST(Dashboards, AreImportableAsTheyAre) {
  const auto files = testing::dashboard_files();
  ASSERT_FALSE(files.empty());
  std::set<std::string> uids;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    const json dashboard = load_dashboard(file);
    EXPECT_GE(dashboard.value("schemaVersion", 0), 39) << "export with a current Grafana";
    EXPECT_TRUE(dashboard.contains("id") && dashboard["id"].is_null()) << "an id would clash on import";
    EXPECT_FALSE(dashboard.value("title", "").empty());
    const std::string uid = dashboard.value("uid", "");
    EXPECT_FALSE(uid.empty());
    EXPECT_TRUE(uids.insert(uid).second) << "uid " << uid << " used twice";

    // A datasource variable of type prometheus, which every panel and target uses.
    std::set<std::string> variables;
    bool has_datasource_variable = false;
    for (const auto& variable : dashboard["templating"]["list"]) {
      variables.insert(variable.value("name", ""));
      if (variable.value("name", "") == "datasource") {
        has_datasource_variable =
            variable.value("type", "") == "datasource" && variable.value("query", "") == "prometheus";
      } else if (variable.value("type", "") == "query") {
        EXPECT_EQ(variable["datasource"].value("uid", ""), "${datasource}") << variable.value("name", "");
      }
    }
    EXPECT_TRUE(has_datasource_variable) << "no variable 'datasource' of type datasource, query prometheus";

    std::set<int> ids;
    int queries = 0;
    for (const json& panel : testing::dashboard_panels(dashboard)) {
      const int id = panel.value("id", 0);
      const std::string title = panel.value("title", "");
      SCOPED_TRACE("panel " + std::to_string(id) + " \"" + title + "\"");
      EXPECT_GT(id, 0);
      EXPECT_TRUE(ids.insert(id).second) << "panel id " << id << " is not unique";
      const json& grid = panel["gridPos"];
      EXPECT_LE(grid.value("x", 0) + grid.value("w", 0), 24) << "wider than the dashboard";
      if (panel.value("type", "") == "row") continue;
      EXPECT_FALSE(title.empty());
      EXPECT_FALSE(panel.value("description", "").empty()) << "say what the panel shows";
      EXPECT_EQ(panel["datasource"].value("uid", ""), "${datasource}");
      ASSERT_TRUE(panel.contains("targets") && !panel["targets"].empty()) << "a panel without a query";
      std::set<std::string> ref_ids;
      for (const json& target : panel["targets"]) {
        const std::string expr = target.value("expr", "");
        EXPECT_FALSE(expr.empty()) << "target " << target.value("refId", "?") << " has no expr";
        EXPECT_TRUE(ref_ids.insert(target.value("refId", "")).second) << "refId used twice";
        EXPECT_EQ(target["datasource"].value("uid", ""), "${datasource}");
        static const std::regex variable(R"(\$\{?(\w+))");
        for (auto it = std::sregex_iterator(expr.begin(), expr.end(), variable); it != std::sregex_iterator(); ++it) {
          const std::string name = (*it)[1].str();
          EXPECT_TRUE(variables.contains(name) || builtin_variable(name)) << "undefined variable $" << name;
        }
        ++queries;
      }
    }
    EXPECT_GT(queries, 0);
  }
}

TEST(Catalogue, IsWellFormed) {
  std::vector<std::string> problems;
  const auto families =
      testing::parse_catalogue(testing::catalogue_file_text(source_path("docs/metrics.md")), &problems);
  for (const std::string& problem : problems) ADD_FAILURE() << problem;
  EXPECT_GE(testing::catalogue_for(families, "agent").size(), 30u);
  EXPECT_FALSE(testing::catalogue_for(families, "balancer").empty());
  for (const auto& [name, family] : families) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(family.type == "counter" || family.type == "gauge" || family.type == "histogram" ||
                family.type == "summary")
        << family.type;
    EXPECT_EQ(family.type == "counter", name.ends_with("_total")) << "counters, and only counters, end in _total";
    EXPECT_TRUE(family.exporter == "agent" || family.exporter == "balancer") << family.exporter;
    EXPECT_FALSE(family.labels.contains("le") || family.labels.contains("instance") || family.labels.contains("job"));
  }
}

// Every metric says when it first appears, in a value the "First appears" table defines; the
// e2e test (prometheus_dashboards_test) holds a live agent to it.
TEST(Catalogue, SaysWhenEveryMetricFirstAppears) {
  const std::string markdown = testing::catalogue_file_text(source_path("docs/metrics.md"));
  const auto values = testing::first_appears_values(markdown);
  EXPECT_TRUE(values.contains(testing::kFromStart)) << "the \"First appears\" table has no `start`";
  for (const auto& [name, family] : testing::parse_catalogue(markdown)) {
    EXPECT_TRUE(values.contains(family.first_appears))
        << name << ": first appears `" << family.first_appears << "`, which the \"First appears\" table does not define";
  }
}

// Any name a panel or a rule reads must be catalogued (and so, by metrics_catalogue_test,
// exported); `up` is Prometheus's own.
TEST(Catalogue, NamesEveryMetricThatADashboardOrARuleReads) {
  const auto families = catalogue();
  std::vector<testing::NamedExpr> exprs = testing::dashboard_exprs();
  const auto rules = testing::rule_exprs();
  exprs.insert(exprs.end(), rules.begin(), rules.end());
  ASSERT_GT(exprs.size(), 40u);
  std::string unknown;
  for (const auto& named : exprs) {
    const auto names = testing::metric_names_in(named.expr, families);
    if (names.empty()) unknown += "\n  " + named.where + ": reads no metric: " + named.expr;
    for (const std::string& name : names) {
      if (name != "up" && !families.contains(name)) unknown += "\n  " + named.where + ": " + name;
    }
  }
  EXPECT_TRUE(unknown.empty()) << "metrics not in docs/metrics.md (a typo, or a metric the agent does not export):"
                               << unknown;
}

// Every metric the code registers (prometheus-cpp's Build*().Name("...")), in the agent and in
// the balancer alike, is catalogued with its type, and every catalogued name is registered
// somewhere. metrics_catalogue_test checks the agent's label sets on a live agent as well.
TEST(Catalogue, ListsEveryMetricTheSourceRegisters) {
  const auto families = catalogue();
  static const std::regex registration(R"re(Build(Counter|Gauge|Histogram|Summary)\(\)\s*\.Name\("(\w+)"\))re");
  std::map<std::string, std::string> registered;  // name -> type
  std::string problems;
  for (const char* dir : {"exporters", "userspace"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(source_path(dir))) {
      if (entry.path().extension() != ".cpp" && entry.path().extension() != ".h") continue;
      const std::string text = testing::catalogue_file_text(entry.path());
      for (auto it = std::sregex_iterator(text.begin(), text.end(), registration); it != std::sregex_iterator(); ++it) {
        std::string type = (*it)[1].str();
        type[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(type[0])));
        const std::string name = (*it)[2].str();
        registered[name] = type;
        const std::string where = std::filesystem::relative(entry.path(), source_path("")).string();
        auto found = families.find(name);
        if (found == families.end()) {
          problems += "\n  " + name + " (" + type + ", " + where + ") is not in docs/metrics.md";
        } else if (found->second.type != type) {
          problems += "\n  " + name + ": " + where + " registers a " + type + ", docs/metrics.md says " +
                      found->second.type;
        }
      }
    }
  }
  for (const auto& [name, family] : families) {
    if (!registered.contains(name)) problems += "\n  " + name + " is in docs/metrics.md but registered nowhere";
  }
  EXPECT_GE(registered.size(), 40u) << "the registration pattern no longer matches the code";
  EXPECT_TRUE(problems.empty()) << "docs/metrics.md and the code differ:" << problems;
}

// The dashboards are where operators look: every agent metric is on at least one panel.
TEST(Catalogue, EveryAgentMetricIsOnADashboard) {
  const auto families = catalogue();
  std::set<std::string> shown;
  for (const auto& named : testing::dashboard_exprs()) {
    for (const std::string& name : testing::metric_names_in(named.expr, families)) shown.insert(name);
  }
  std::string missing;
  for (const auto& [name, family] : testing::catalogue_for(families, "agent")) {
    if (!shown.contains(name)) missing += " " + name;
  }
  EXPECT_TRUE(missing.empty()) << "agent metrics on no dashboard panel:" << missing;
}

// A panel reading a metric that does not appear at start (a peer's RTT, a target's cgroup PSI,
// BPF statistics, sinks) has no data on an agent with its built-in defaults: it says why and what
// turns it on (Grafana shows fieldConfig.defaults.noValue instead of "No data").
TEST(Dashboards, APanelOfAMetricThatAppearsLaterSaysWhyItIsEmpty) {
  const auto families = catalogue();
  for (const auto& file : testing::dashboard_files()) {
    for (const json& panel : testing::dashboard_panels(load_dashboard(file))) {
      std::set<std::string> later;
      for (const json& target : panel.value("targets", json::array())) {
        for (const std::string& name : testing::metric_names_in(target.value("expr", ""), families)) {
          auto found = families.find(name);
          if (found != families.end() && found->second.first_appears != testing::kFromStart) later.insert(name);
        }
      }
      if (later.empty()) continue;
      const std::string no_value = panel["fieldConfig"]["defaults"].value("noValue", "");
      EXPECT_GE(no_value.size(), 20u) << file.filename().string() << ": panel \"" << panel.value("title", "")
                                      << "\" reads " << *later.begin()
                                      << ", which appears later: say in fieldConfig.defaults.noValue why it is empty";
    }
  }
}

// What each rule watches, without its threshold, as the e2e test queries it.
TEST(AlertRules, TheOperandIsTheExpressionWithoutItsThreshold) {
  const struct {
    const char* description;
    const char* expr;
    const char* operand;
  } cases[] = {
      {"a comparison with a number", "max by (job, instance) (nodepulse_node_state) == 2",
       "max by (job, instance) (nodepulse_node_state)"},
      {"greater than zero", "sum by (sink) (rate(nodepulse_sink_errors_total[5m])) > 0",
       "sum by (sink) (rate(nodepulse_sink_errors_total[5m]))"},
      {"a label matcher with ==-like text stays", "up{job=\"nodepulse\"} == 0", "up{job=\"nodepulse\"}"},
      {"absent() watches its argument", "absent(up{job=\"nodepulse\"})", "up{job=\"nodepulse\"}"},
      {"no threshold", "rate(nodepulse_errors_total[5m])", "rate(nodepulse_errors_total[5m])"},
  };
  for (const auto& c : cases) EXPECT_EQ(testing::rule_operand(c.expr), c.operand) << c.description;
  for (const auto& rule : testing::rule_exprs()) {
    EXPECT_FALSE(testing::metric_names_in(testing::rule_operand(rule.expr), catalogue()).empty()) << rule.where;
  }
}

TEST(AlertRules, EachHasASeverityASummaryAndADescription) {
  const YAML::Node root = YAML::LoadFile(source_path("dashboards/alerts.yml").string());
  std::set<std::string> alerts;
  for (const auto& group : root["groups"]) {
    for (const auto& rule : group["rules"]) {
      const std::string name = rule["alert"].as<std::string>("");
      SCOPED_TRACE(name);
      EXPECT_TRUE(name.starts_with("Nodepulse"));
      alerts.insert(name);
      const std::string severity = rule["labels"]["severity"].as<std::string>("");
      EXPECT_TRUE(severity == "page" || severity == "ticket") << severity;
      EXPECT_FALSE(rule["annotations"]["summary"].as<std::string>("").empty());
      EXPECT_FALSE(rule["annotations"]["description"].as<std::string>("").empty());
    }
  }
  for (const char* required : {"NodepulseNodeFailing", "NodepulseNodeDegradedForLong", "NodepulseAgentDown",
                               "NodepulseAgentsAbsent", "NodepulseProbeDown", "NodepulseBpfEventsDropped",
                               "NodepulseSinkErrors"}) {
    EXPECT_TRUE(alerts.contains(required)) << required;
  }
}

TEST(AlertRules, PassPromtoolCheckRules) {
  REQUIRE_PROMTOOL();
  const auto result =
      testing::run_command({kPromtool, "check", "rules", source_path("dashboards/alerts.yml").string()});
  EXPECT_EQ(result.status, 0) << result.output;
}

// Every rule is exercised: alerts_test.yml must name each one (so a new rule comes with a test).
TEST(AlertRules, PassTheirUnitTests) {
  REQUIRE_PROMTOOL();
  const std::string tests = testing::catalogue_file_text(source_path("dashboards/alerts_test.yml"));
  for (const auto& rule : testing::rule_exprs()) {
    EXPECT_NE(tests.find("alertname: " + rule.panel_title), std::string::npos) << rule.panel_title << " has no test";
  }
  const auto result =
      testing::run_command({kPromtool, "test", "rules", source_path("dashboards/alerts_test.yml").string()});
  EXPECT_EQ(result.status, 0) << result.output;
}

}  // namespace
}  // namespace nodepulse
