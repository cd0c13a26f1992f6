// Reading what names metrics, for the tests that keep docs/metrics.md, the dashboards, the alert
// rules and the agent's real /metrics in step: the catalogue's tables, Prometheus text
// exposition, the metric names inside PromQL, and the exprs of dashboards/*.json and
// dashboards/alerts.yml.
#pragma once

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace nodepulse::testing {

inline std::string catalogue_file_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::filesystem::path source_path(const std::string& relative) {
  return std::filesystem::path(NODEPULSE_SOURCE_DIR) / relative;
}

// One metric family: in the catalogue, or as an exporter really serves it.
struct MetricFamily {
  std::string name;
  std::string type;                 // counter | gauge | histogram | summary | untyped
  std::set<std::string> labels;     // label names; a histogram's `le` and a summary's `quantile` left out
  std::string exporter;             // catalogue only: "agent" or "balancer"
  std::string first_appears;        // catalogue only: "start", "peer seen", ... (its "First appears" table)
};

// The value of first_appears for series that exist from an agent's first scrape.
inline constexpr const char* kFromStart = "start";

using MetricFamilies = std::map<std::string, MetricFamily>;

// docs/metrics.md: every table row "| `name` | type | `label`, ... | `first appears` | meaning |"
// under a heading "## Exported by `nodepulse <exporter>`". Rows elsewhere are ignored. `problems`
// collects malformed rows and duplicates.
inline MetricFamilies parse_catalogue(const std::string& markdown, std::vector<std::string>* problems = nullptr) {
  MetricFamilies families;
  std::string exporter;
  std::istringstream in(markdown);
  std::string line;
  static const std::regex heading(R"(^## .*`nodepulse ([a-z]+)`)");
  static const std::regex backticked("`([^`]+)`");
  while (std::getline(in, line)) {
    std::smatch match;
    if (line.starts_with("## ")) {
      exporter = std::regex_search(line, match, heading) ? match[1].str() : "";
      continue;
    }
    if (exporter.empty() || !line.starts_with("| `")) continue;
    std::vector<std::string> cells;
    std::stringstream row(line.substr(1));
    std::string cell;
    while (std::getline(row, cell, '|')) {
      const auto first = cell.find_first_not_of(' ');
      const auto last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
    }
    std::smatch appears;
    if (cells.size() < 5 || !std::regex_match(cells[0], match, std::regex("`(nodepulse_[a-z0-9_]+)`")) ||
        !std::regex_match(cells[3], appears, std::regex("`([a-z_ ]+)`"))) {
      if (problems) problems->push_back("malformed catalogue row (name, type, labels, first appears, meaning): " + line);
      continue;
    }
    MetricFamily family{match[1].str(), cells[1], {}, exporter, appears[1].str()};
    for (auto it = std::sregex_iterator(cells[2].begin(), cells[2].end(), backticked); it != std::sregex_iterator();
         ++it) {
      family.labels.insert((*it)[1].str());
    }
    if (families.contains(family.name) && problems) problems->push_back("listed twice: " + family.name);
    families[family.name] = family;
  }
  return families;
}

// The values the "### First appears" table of docs/metrics.md defines (its rows "| `value` | when |").
inline std::set<std::string> first_appears_values(const std::string& markdown) {
  std::set<std::string> values;
  std::istringstream in(markdown);
  std::string line;
  bool in_table = false;
  static const std::regex row("^\\| `([a-z_ ]+)` \\|");
  while (std::getline(in, line)) {
    if (line.starts_with("#")) in_table = line == "### First appears";
    std::smatch match;
    if (in_table && std::regex_search(line, match, row)) values.insert(match[1].str());
  }
  return values;
}

inline MetricFamilies catalogue_for(const MetricFamilies& catalogue, const std::string& exporter) {
  MetricFamilies out;
  for (const auto& [name, family] : catalogue) {
    if (family.exporter == exporter) out[name] = family;
  }
  return out;
}

// Prometheus text exposition (version 0.0.4): families from "# TYPE" lines, label names from
// every sample. A sample whose family has no TYPE line is its own untyped family.
inline MetricFamilies parse_exposition(const std::string& text) {
  MetricFamilies families;
  std::istringstream in(text);
  std::string line;
  auto family_of = [&](const std::string& sample) -> MetricFamily& {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!sample.ends_with(suffix)) continue;
      const std::string base = sample.substr(0, sample.size() - std::string(suffix).size());
      auto found = families.find(base);
      if (found != families.end() && (found->second.type == "histogram" || found->second.type == "summary")) {
        return found->second;
      }
    }
    auto [it, added] = families.try_emplace(sample, MetricFamily{sample, "untyped", {}, "", ""});
    return it->second;
  };
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.starts_with("# TYPE ")) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      families[name] = MetricFamily{name, type, {}, "", ""};
      continue;
    }
    if (line.starts_with('#')) continue;
    const size_t name_end = line.find_first_of("{ ");
    MetricFamily& family = family_of(line.substr(0, name_end));
    if (name_end == std::string::npos || line[name_end] != '{') continue;
    // name="value" pairs; values may hold escaped quotes.
    size_t at = name_end + 1;
    while (at < line.size() && line[at] != '}') {
      const size_t equals = line.find('=', at);
      if (equals == std::string::npos) break;
      const std::string label = line.substr(at, equals - at);
      if (label != "le" && label != "quantile") family.labels.insert(label);
      size_t close = equals + 2;
      while (close < line.size() && line[close] != '"') close += line[close] == '\\' ? 2 : 1;
      at = close + 1;
      if (at < line.size() && line[at] == ',') ++at;
    }
  }
  return families;
}

// The nodepulse_* metric names a PromQL expression reads, with a histogram's _bucket/_sum/_count
// series named by their family when `catalogue` says it is a histogram.
inline std::set<std::string> metric_names_in(const std::string& expr, const MetricFamilies& catalogue) {
  std::set<std::string> names;
  static const std::regex name(R"(\b(nodepulse_[a-zA-Z0-9_]+|up)\b)");
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), name); it != std::sregex_iterator(); ++it) {
    std::string metric = (*it)[1].str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!metric.ends_with(suffix)) continue;
      const std::string base = metric.substr(0, metric.size() - std::string(suffix).size());
      auto found = catalogue.find(base);
      if (found != catalogue.end() && found->second.type == "histogram") metric = base;
    }
    names.insert(metric);
  }
  return names;
}

// One PromQL expression found in a dashboard or a rule file, and where.
struct NamedExpr {
  std::string where;  // "dashboards/node-drilldown.json: panel 12 \"Run-queue wait p99\" target A"
  std::string panel_title;
  std::string expr;
};

inline std::vector<std::filesystem::path> dashboard_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(source_path("dashboards"))) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Every panel of a dashboard, those nested in collapsed rows included.
inline std::vector<nlohmann::json> dashboard_panels(const nlohmann::json& dashboard) {
  std::vector<nlohmann::json> panels;
  for (const auto& panel : dashboard.value("panels", nlohmann::json::array())) {
    panels.push_back(panel);
    for (const auto& nested : panel.value("panels", nlohmann::json::array())) panels.push_back(nested);
  }
  return panels;
}

inline std::vector<NamedExpr> dashboard_exprs() {
  std::vector<NamedExpr> exprs;
  for (const auto& file : dashboard_files()) {
    const auto dashboard = nlohmann::json::parse(catalogue_file_text(file));
    for (const auto& panel : dashboard_panels(dashboard)) {
      for (const auto& target : panel.value("targets", nlohmann::json::array())) {
        const std::string title = panel.value("title", "");
        exprs.push_back({"dashboards/" + file.filename().string() + ": panel " +
                             std::to_string(panel.value("id", 0)) + " \"" + title + "\" target " +
                             target.value("refId", "?"),
                         title, target.value("expr", "")});
      }
    }
  }
  return exprs;
}

inline std::vector<NamedExpr> rule_exprs(const std::filesystem::path& file = source_path("dashboards/alerts.yml")) {
  std::vector<NamedExpr> exprs;
  const YAML::Node root = YAML::LoadFile(file.string());
  for (const auto& group : root["groups"]) {
    for (const auto& rule : group["rules"]) {
      const std::string name = rule["alert"] ? rule["alert"].as<std::string>() : rule["record"].as<std::string>();
      exprs.push_back({"dashboards/alerts.yml: " + name, name, rule["expr"].as<std::string>()});
    }
  }
  return exprs;
}

// What an alert rule watches: its expression without the final threshold ("... > 0", "== 2") and
// outside absent(). It must have data before anything happens, or the rule cannot see the first
// event: rate(x[5m]) > 0 never fires for a series born at 1.
inline std::string rule_operand(const std::string& expr) {
  static const std::regex threshold(R"(^\s*(.*?)\s*(==|!=|>=|<=|>|<)\s*-?[0-9.]+\s*$)");
  static const std::regex absent(R"(^\s*absent\((.*)\)\s*$)");
  std::smatch match;
  std::string operand = std::regex_match(expr, match, threshold) ? match[1].str() : expr;
  if (std::regex_match(operand, match, absent)) operand = match[1].str();
  return operand;
}

}  // namespace nodepulse::testing
