// Trino's view beside nodepulse's: the address matching (URIs, heartbeats, balancer.servers,
// host names resolved), every disagreement rule, the join, the status table and JSON with the
// DRAIN and TRINO columns, the balancer's metrics and its coordinator watch. No I/O: the
// coordinator's answers and the resolver are plain values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "balancer/balancer_metrics.h"
#include "balancer/coordinator_watch.h"
#include "balancer/status_view.h"
#include "balancer/trino_view.h"

namespace nodepulse {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string test_name(const std::string& description) {
  std::string name;
  for (char c : description) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

trino::NodeStats entry(const std::string& uri, const std::string& last_failure = "") {
  trino::NodeStats stats;
  stats.uri = uri;
  stats.last_failure = last_failure;
  return stats;
}

NodeReport report(const std::string& id, const std::string& host, uint16_t port, HealthState state,
                  std::optional<std::string> drain = std::nullopt, const std::string& role = "worker") {
  NodeReport report;
  report.node_id = id;
  report.role = role;
  report.host = host;
  report.http_port = port;
  report.state = state;
  report.weight = state == HealthState::kHealthy ? 100 : 0;
  if (drain) report.drain = DrainReport{*drain, "", false, "", ""};
  return report;
}

// ---- addresses ----

struct UriCase {
  std::string description;
  std::string uri;
  std::optional<std::string> address;
};

void PrintTo(const UriCase& c, std::ostream* out) { *out << c.description; }

class UriAddress : public ::testing::TestWithParam<UriCase> {};

TEST_P(UriAddress, IsHostAndPort) { EXPECT_EQ(uri_address(GetParam().uri), GetParam().address); }

INSTANTIATE_TEST_SUITE_P(
    Cases, UriAddress,
    ::testing::Values(UriCase{"ip and port", "http://10.0.0.5:8080", "10.0.0.5:8080"},
                      UriCase{"path ignored", "http://10.0.0.5:8080/v1/info", "10.0.0.5:8080"},
                      UriCase{"host lower-cased, https default port", "https://Worker-1.Example", "worker-1.example:443"},
                      UriCase{"http default port", "http://worker-1", "worker-1:80"},
                      UriCase{"scheme in capitals", "HTTP://w:81", "w:81"},
                      UriCase{"ipv6 with port", "http://[::1]:8080/", "[::1]:8080"},
                      UriCase{"ipv6 without port", "http://[fe80::1]", "[fe80::1]:80"},
                      UriCase{"user info dropped", "http://user@w:81", "w:81"},
                      UriCase{"not http", "ftp://w:21", std::nullopt},
                      UriCase{"no scheme", "10.0.0.5:8080", std::nullopt},
                      UriCase{"port not a number", "http://w:http", std::nullopt},
                      UriCase{"port zero", "http://w:0", std::nullopt},
                      UriCase{"port too big", "http://w:70000", std::nullopt},
                      UriCase{"no host", "http://:8080", std::nullopt},
                      UriCase{"empty", "", std::nullopt},
                      UriCase{"unclosed bracket", "http://[::1:8080", std::nullopt}),
    [](const ::testing::TestParamInfo<UriCase>& info) { return test_name(info.param.description); });

TEST(NodeAddresses, HeartbeatHostAndPortAndTheConfiguredAddress) {
  EXPECT_EQ(node_addresses(report("w1", "10.0.0.1", 8081, HealthState::kHealthy), ""),
            std::vector<std::string>{"10.0.0.1:8081"});
  EXPECT_EQ(node_addresses(report("w1", "W1.Example", 0, HealthState::kHealthy), ""),
            std::vector<std::string>{"w1.example:8080"})
      << "no http_port in the heartbeat: 8080, as the balancer's drivers assume";
  EXPECT_EQ(node_addresses(report("w1", "::1", 8080, HealthState::kHealthy), ""), std::vector<std::string>{"[::1]:8080"});
  EXPECT_EQ(node_addresses(report("w1", "w1", 8080, HealthState::kHealthy), "10.9.9.9:9090"),
            (std::vector<std::string>{"10.9.9.9:9090", "w1:8080"}));
  EXPECT_EQ(node_addresses(std::nullopt, "10.9.9.9:9090"), std::vector<std::string>{"10.9.9.9:9090"});
  EXPECT_TRUE(node_addresses(std::nullopt, "").empty());
  EXPECT_TRUE(node_addresses(report("w1", "", 8080, HealthState::kHealthy), "").empty());
}

// ---- the disagreement rules ----

struct RuleCase {
  std::string description;
  MemberState state;
  std::string drain_state;
  CoordinatorView view;
  std::string flagged_with;  // "" = not flagged
  std::string role = "worker";
};

void PrintTo(const RuleCase& c, std::ostream* out) { *out << c.description; }

class DisagreementRule : public ::testing::TestWithParam<RuleCase> {};

TEST_P(DisagreementRule, FlagsOnlyWhatAnOperatorShouldLookAt) {
  const RuleCase& rule = GetParam();
  const WatchedNode node{
      .node_id = "w1", .role = rule.role, .state = rule.state, .drain_state = rule.drain_state, .addresses = {}};
  const std::string why = disagreement(node, rule.view);
  if (rule.flagged_with.empty()) {
    EXPECT_EQ(why, "");
  } else {
    EXPECT_THAT(why, HasSubstr(rule.flagged_with));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DisagreementRule,
    ::testing::Values(
        // Unknown on either side: nothing to compare.
        RuleCase{"coordinator view unknown", MemberState::kFailing, "", CoordinatorView::kUnknown, ""},
        RuleCase{"nodepulse unknown, coordinator failed", MemberState::kUnknown, "", CoordinatorView::kFailed, ""},
        RuleCase{"nodepulse unknown, coordinator absent", MemberState::kUnknown, "", CoordinatorView::kAbsent, ""},
        // Active.
        RuleCase{"healthy and active", MemberState::kHealthy, "", CoordinatorView::kActive, ""},
        RuleCase{"degraded and active", MemberState::kDegraded, "active", CoordinatorView::kActive, ""},
        RuleCase{"failing, no drain, active", MemberState::kFailing, "", CoordinatorView::kActive,
                 "nodepulse says failing (no trino drain), but the coordinator counts it active"},
        RuleCase{"failing, budget exhausted, active", MemberState::kFailing, "budget_exhausted", CoordinatorView::kActive,
                 "(drain budget_exhausted)"},
        RuleCase{"failing, drain unsupported, active", MemberState::kFailing, "unsupported", CoordinatorView::kActive,
                 "(drain unsupported)"},
        RuleCase{"failing, drain active (not yet), active", MemberState::kFailing, "active", CoordinatorView::kActive,
                 "keeps scheduling on it"},
        RuleCase{"failing, drain unknown, active", MemberState::kFailing, "unknown", CoordinatorView::kActive,
                 "(drain unknown)"},
        RuleCase{"down, no drain, active", MemberState::kDown, "", CoordinatorView::kActive, "nodepulse says down"},
        RuleCase{"failing, draining, active: expected", MemberState::kFailing, "draining", CoordinatorView::kActive, ""},
        RuleCase{"failing, drained, active: expected", MemberState::kFailing, "drained", CoordinatorView::kActive, ""},
        RuleCase{"failing, shutting down, active: expected", MemberState::kFailing, "shutting_down",
                 CoordinatorView::kActive, ""},
        RuleCase{"failing, held, active: expected", MemberState::kFailing, "held", CoordinatorView::kActive, ""},
        RuleCase{"down, drained, active: expected", MemberState::kDown, "drained", CoordinatorView::kActive, ""},
        // Failed.
        RuleCase{"healthy, coordinator failed", MemberState::kHealthy, "", CoordinatorView::kFailed,
                 "nodepulse says healthy, but the coordinator counts it failed"},
        RuleCase{"degraded, coordinator failed", MemberState::kDegraded, "active", CoordinatorView::kFailed,
                 "counts it failed"},
        RuleCase{"failing and failed agree", MemberState::kFailing, "", CoordinatorView::kFailed, ""},
        RuleCase{"down and failed agree", MemberState::kDown, "", CoordinatorView::kFailed, ""},
        // Absent.
        RuleCase{"healthy worker absent", MemberState::kHealthy, "", CoordinatorView::kAbsent,
                 "the coordinator does not list it"},
        RuleCase{"degraded worker absent", MemberState::kDegraded, "", CoordinatorView::kAbsent, "does not list it"},
        RuleCase{"healthy coordinator absent: it never lists itself", MemberState::kHealthy, "coordinator",
                 CoordinatorView::kAbsent, "", "coordinator"},
        RuleCase{"failing and absent agree", MemberState::kFailing, "", CoordinatorView::kAbsent, ""},
        RuleCase{"down and absent agree", MemberState::kDown, "", CoordinatorView::kAbsent, ""},
        RuleCase{"shut down and absent agree", MemberState::kFailing, "shutting_down", CoordinatorView::kAbsent, ""}),
    [](const ::testing::TestParamInfo<RuleCase>& info) { return test_name(info.param.description); });

// ---- the join ----

WatchedNode watched(const std::string& id, MemberState state, std::vector<std::string> addresses,
                    const std::string& drain = "", const std::string& role = "worker") {
  return {.node_id = id, .role = role, .state = state, .drain_state = drain, .addresses = std::move(addresses)};
}

TEST(JoinTrinoView, MatchesByAddressAndFailedWins) {
  CoordinatorNodes coordinator;
  coordinator.listed = {entry("http://10.0.0.1:8080"), entry("http://10.0.0.2:8080"), entry("http://10.0.0.3:8080")};
  coordinator.failed = {entry("http://10.0.0.2:8080", "connect timed out")};
  const TrinoView view = join_trino_view({watched("w1", MemberState::kHealthy, {"10.0.0.1:8080"}),
                                          watched("w2", MemberState::kFailing, {"10.0.0.2:8080"}),
                                          watched("w4", MemberState::kFailing, {"10.0.0.4:8080"})},
                                         coordinator);
  ASSERT_EQ(view.nodes.size(), 3u);
  EXPECT_EQ(view.nodes[0].node_id, "w1");
  EXPECT_EQ(view.nodes[0].view, CoordinatorView::kActive);
  EXPECT_EQ(view.nodes[0].uri, "http://10.0.0.1:8080");
  EXPECT_EQ(view.nodes[1].view, CoordinatorView::kFailed) << "listed in both: failed counts";
  EXPECT_EQ(view.nodes[1].last_failure, "connect timed out");
  EXPECT_EQ(view.nodes[2].view, CoordinatorView::kAbsent);
  EXPECT_EQ(view.nodes[2].uri, "");
  ASSERT_EQ(view.unmatched.size(), 1u);
  EXPECT_EQ(view.unmatched[0].uri, "http://10.0.0.3:8080");
  EXPECT_EQ(view.unmatched[0].view, CoordinatorView::kActive);
  EXPECT_THAT(view.unmatched[0].disagreement, HasSubstr("no nodepulse heartbeat"));
  EXPECT_EQ(view.disagreements(), 1u) << "only the unmatched active entry; w2 and w4 agree";
}

TEST(JoinTrinoView, WithoutACoordinatorEverythingIsUnknownAndAgrees) {
  const TrinoView view = join_trino_view({watched("w1", MemberState::kFailing, {"10.0.0.1:8080"})}, std::nullopt);
  ASSERT_EQ(view.nodes.size(), 1u);
  EXPECT_EQ(view.nodes[0].view, CoordinatorView::kUnknown);
  EXPECT_EQ(view.disagreements(), 0u);
  EXPECT_TRUE(view.unmatched.empty());
}

TEST(JoinTrinoView, ANodeWithoutAddressIsUnknownNotAbsent) {
  CoordinatorNodes coordinator;
  const TrinoView view = join_trino_view({watched("w1", MemberState::kHealthy, {})}, coordinator);
  EXPECT_EQ(view.nodes[0].view, CoordinatorView::kUnknown);
  EXPECT_EQ(view.disagreements(), 0u);
}

TEST(JoinTrinoView, AFailedEntryNoNodeMatchesIsListedNotFlagged) {
  CoordinatorNodes coordinator;
  coordinator.listed = {entry("http://10.0.0.9:8080")};
  coordinator.failed = {entry("http://10.0.0.9:8080")};
  const TrinoView view = join_trino_view({}, coordinator);
  ASSERT_EQ(view.unmatched.size(), 1u) << "listed once though in both answers";
  EXPECT_EQ(view.unmatched[0].view, CoordinatorView::kFailed);
  EXPECT_EQ(view.unmatched[0].disagreement, "");
}

TEST(JoinTrinoView, HostNamesMatchThroughTheResolverBothWays) {
  const std::map<std::string, std::vector<std::string>> dns = {{"worker-1", {"10.0.0.1"}},
                                                               {"worker-2.example", {"10.0.0.2", "fd00::2"}}};
  const AddressResolver resolve = [&dns](const std::string& host) {
    auto it = dns.find(host);
    return it == dns.end() ? std::vector<std::string>{} : it->second;
  };
  CoordinatorNodes coordinator;
  coordinator.listed = {entry("http://10.0.0.1:8080"), entry("http://worker-2.example:8080")};
  const std::vector<WatchedNode> nodes = {watched("w1", MemberState::kHealthy, {"worker-1:8080"}),
                                          watched("w2", MemberState::kHealthy, {"[fd00::2]:8080"})};
  const TrinoView view = join_trino_view(nodes, coordinator, resolve);
  EXPECT_EQ(view.nodes[0].view, CoordinatorView::kActive) << "heartbeat host name, coordinator IP";
  EXPECT_EQ(view.nodes[1].view, CoordinatorView::kActive) << "heartbeat IP, coordinator host name";
  EXPECT_TRUE(view.unmatched.empty());

  const TrinoView without = join_trino_view(nodes, coordinator);
  EXPECT_EQ(without.nodes[0].view, CoordinatorView::kAbsent);
  EXPECT_EQ(without.unmatched.size(), 2u);
}

TEST(JoinTrinoView, PortsMustMatchToo) {
  CoordinatorNodes coordinator;
  coordinator.listed = {entry("http://10.0.0.1:8081")};
  const TrinoView view = join_trino_view({watched("w1", MemberState::kHealthy, {"10.0.0.1:8080"})}, coordinator);
  EXPECT_EQ(view.nodes[0].view, CoordinatorView::kAbsent);
  EXPECT_EQ(view.disagreements(), 2u) << "a healthy worker absent, and an entry nobody watches";
}

TEST(JoinTrinoView, AnyOfANodesAddressesMatches) {
  CoordinatorNodes coordinator;
  coordinator.listed = {entry("http://192.168.1.1:8080")};
  const TrinoView view =
      join_trino_view({watched("w1", MemberState::kHealthy, {"192.168.1.1:8080", "w1:8080"})}, coordinator);
  EXPECT_EQ(view.nodes[0].view, CoordinatorView::kActive);
}

// ---- `nodepulse status` ----

std::vector<StatusRow> three_rows() {
  ClusterReading reading;
  reading.nodes.push_back({"c1", report("c1", "10.0.0.10", 8080, HealthState::kHealthy, std::nullopt, "coordinator")});
  reading.nodes.push_back({"w1", report("w1", "10.0.0.11", 8080, HealthState::kHealthy, "active")});
  NodeReport failing = report("w2", "10.0.0.12", 8080, HealthState::kFailing, "budget_exhausted");
  failing.reasons = {"jvm: pause in progress 1.3 s"};
  reading.nodes.push_back({"w2", failing});
  for (auto& node : reading.nodes) node.report->ts_ms = 10'000;
  return status_rows(reading, 10'400);
}

TEST(StatusTrinoView, TableFlagsDisagreementsAndListsThemBelow) {
  std::vector<StatusRow> rows = three_rows();
  CoordinatorNodes coordinator;
  coordinator.listed = {entry("http://10.0.0.11:8080"), entry("http://10.0.0.12:8080"), entry("http://10.0.0.13:8080")};
  const CoordinatorStatus status = add_trino_view(rows, "http://coord:8080", coordinator, {});
  EXPECT_EQ(render_status_table(rows, &status),
            "NODE  ROLE         HOST                   STATE    WEIGHT  DRAIN             TRINO    AGE   REASONS\n"
            "c1    coordinator  10.0.0.10              healthy  100     -                 absent   0.4s  -\n"
            "w1    worker       10.0.0.11              healthy  100     active            active   0.4s  -\n"
            "w2    worker       10.0.0.12              failing  0       budget_exhausted  active!  0.4s  jvm: pause in progress 1.3 s\n"
            "-     -            http://10.0.0.13:8080  -        -       -                 active!  -     no nodepulse heartbeat from this address\n"
            "\n"
            "Trino coordinator http://coord:8080: lists 3 nodes, 0 failed; 2 disagreement(s)\n"
            "! w2: nodepulse says failing (drain budget_exhausted), but the coordinator counts it active and keeps "
            "scheduling on it\n"
            "! http://10.0.0.13:8080: the coordinator schedules on it, but no nodepulse heartbeat comes from this "
            "address\n");
}

TEST(StatusTrinoView, AgreementSaysSo) {
  std::vector<StatusRow> rows = three_rows();
  CoordinatorNodes coordinator;
  coordinator.listed = {entry("http://10.0.0.11:8080"), entry("http://10.0.0.12:8080")};
  coordinator.failed = {entry("http://10.0.0.12:8080")};
  const CoordinatorStatus status = add_trino_view(rows, "http://coord:8080", coordinator, {});
  const std::string table = render_status_table(rows, &status);
  EXPECT_THAT(table, HasSubstr("budget_exhausted  failed  0.4s"));
  EXPECT_THAT(table, HasSubstr("lists 2 nodes, 1 failed; no disagreements\n"));
  EXPECT_THAT(table, Not(HasSubstr("!")));
}

TEST(StatusTrinoView, ACoordinatorThatDoesNotAnswerIsSaidAndTheRestStillShown) {
  std::vector<StatusRow> rows = three_rows();
  const CoordinatorStatus status =
      add_trino_view(rows, "http://coord:8080", Error{"timeout: GET /v1/node on http://coord:8080: timed out"}, {});
  const std::string table = render_status_table(rows, &status);
  EXPECT_THAT(table, HasSubstr("w2    worker       10.0.0.12  failing  0       budget_exhausted  unknown  0.4s"));
  EXPECT_THAT(table, HasSubstr("\nTrino coordinator http://coord:8080: Trino's view unknown: timeout: GET /v1/node on "
                               "http://coord:8080: timed out\n"));
  EXPECT_THAT(table, Not(HasSubstr("!")));
}

TEST(StatusTrinoView, AConfiguredServerAddressIsMatched) {
  std::vector<StatusRow> rows = three_rows();
  CoordinatorNodes coordinator;
  coordinator.listed = {entry("http://192.168.7.11:8080")};
  const CoordinatorStatus status =
      add_trino_view(rows, "http://coord:8080", coordinator, {{"w1", "w1", "192.168.7.11:8080"}});
  ASSERT_TRUE(rows[1].trino.has_value());
  EXPECT_EQ(rows[1].trino->view, CoordinatorView::kActive);
  EXPECT_TRUE(status.unmatched.empty());
}

TEST(StatusTrinoView, DrainColumnWithoutACoordinatorAndOldColumnsWithNeither) {
  const std::vector<StatusRow> rows = three_rows();
  const std::string table = render_status_table(rows);
  EXPECT_THAT(table, HasSubstr("DRAIN             TRINO"));
  EXPECT_THAT(table, HasSubstr("budget_exhausted  -"));
  EXPECT_THAT(table, Not(HasSubstr("Trino coordinator")));

  ClusterReading reading;
  reading.nodes.push_back({"w1", report("w1", "h1", 8080, HealthState::kHealthy)});
  EXPECT_THAT(render_status_table(status_rows(reading, 0)), Not(HasSubstr("DRAIN")));
}

TEST(StatusTrinoView, Json) {
  std::vector<StatusRow> rows = three_rows();
  CoordinatorNodes coordinator;
  coordinator.listed = {entry("http://10.0.0.11:8080"), entry("http://10.0.0.12:8080")};
  const CoordinatorStatus status = add_trino_view(rows, "http://coord:8080", coordinator, {});
  const nlohmann::json json = nlohmann::json::parse(render_status_json("prod", rows, &status));
  EXPECT_EQ(json["coordinator"]["url"], "http://coord:8080");
  EXPECT_EQ(json["coordinator"]["answered"], true);
  EXPECT_TRUE(json["coordinator"]["error"].is_null());
  EXPECT_EQ(json["coordinator"]["listed"], 2);
  EXPECT_EQ(json["coordinator"]["disagreements"], 1);
  EXPECT_EQ(json["coordinator"]["unmatched"], nlohmann::json::array());
  EXPECT_TRUE(json["nodes"][0]["drain"].is_null());
  EXPECT_EQ(json["nodes"][0]["trino"]["view"], "absent");
  EXPECT_TRUE(json["nodes"][0]["trino"]["disagreement"].is_null());
  EXPECT_EQ(json["nodes"][1]["trino"]["uri"], "http://10.0.0.11:8080");
  EXPECT_EQ(json["nodes"][2]["drain"]["state"], "budget_exhausted");
  EXPECT_EQ(json["nodes"][2]["drain"]["slot"], false);
  EXPECT_EQ(json["nodes"][2]["trino"]["view"], "active");
  EXPECT_THAT(json["nodes"][2]["trino"]["disagreement"].get<std::string>(), HasSubstr("keeps scheduling on it"));

  const nlohmann::json without = nlohmann::json::parse(render_status_json("prod", three_rows()));
  EXPECT_TRUE(without["coordinator"].is_null());
  EXPECT_TRUE(without["nodes"][1]["trino"].is_null());
}

// ---- the balancer ----

Member member(const std::string& id, MemberState state, std::optional<NodeReport> from) {
  Member member;
  member.node_id = id;
  member.state = state;
  member.report = std::move(from);
  return member;
}

TEST(WatchedNodes, FromTheMembershipAndBalancerServers) {
  const std::vector<WatchedNode> nodes = watched_nodes(
      {member("w1", MemberState::kFailing, report("w1", "10.0.0.1", 8080, HealthState::kFailing, "drained")),
       member("w2", MemberState::kDown, std::nullopt)},
      {{"w2", "w2", "10.0.0.2:8080"}});
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].state, MemberState::kFailing);
  EXPECT_EQ(nodes[0].drain_state, "drained");
  EXPECT_EQ(nodes[0].role, "worker");
  EXPECT_EQ(nodes[0].addresses, std::vector<std::string>{"10.0.0.1:8080"});
  EXPECT_EQ(nodes[1].drain_state, "");
  EXPECT_EQ(nodes[1].addresses, std::vector<std::string>{"10.0.0.2:8080"});
}

std::string scrape(prometheus::Registry& registry) { return prometheus::TextSerializer().Serialize(registry.Collect()); }

TEST(TrinoViewMetrics, StartDownAndFollowTheView) {
  prometheus::Registry registry;
  TrinoViewMetrics metrics(registry);
  std::string text = scrape(registry);
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_coordinator_up 0\n"));
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_nodes{view=\"active\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_disagreements 0\n"));

  TrinoView view;
  view.nodes = {{"w1", CoordinatorView::kActive, "http://w1:8080", "", ""},
                {"w2", CoordinatorView::kActive, "http://w2:8080", "", "nodepulse says failing"},
                {"w3", CoordinatorView::kFailed, "http://w3:8080", "", ""}};
  view.unmatched = {{"http://w9:8080", CoordinatorView::kActive, "not watched"}};
  metrics.set(true, view);
  text = scrape(registry);
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_coordinator_up 1\n"));
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_nodes{view=\"active\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_nodes{view=\"failed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_nodes{view=\"absent\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_unmatched_nodes 1\n"));
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_disagreements 2\n"));
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_disagreement{node=\"w1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_disagreement{node=\"w2\"} 1\n"));

  view.nodes.pop_back();
  metrics.set(false, view);
  text = scrape(registry);
  EXPECT_THAT(text, HasSubstr("nodepulse_balancer_trino_coordinator_up 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("node=\"w3\""))) << "a node gone takes its series with it";
}

TEST(CoordinatorWatch, PollsAndRejoinsWhenTheMembersChange) {
  prometheus::Registry registry;
  TrinoViewMetrics metrics(registry);
  std::atomic<int> polls{0};
  CoordinatorWatchOptions options;
  options.url = "http://coord:8080";
  options.fetch = [&polls]() -> Result<CoordinatorNodes> {
    ++polls;
    CoordinatorNodes nodes;
    nodes.listed = {entry("http://10.0.0.1:8080")};
    return nodes;
  };
  options.interval = std::chrono::hours(1);  // one poll: what follows comes from update_members alone
  const auto serves = [&](const std::string& text) {
    for (int i = 0; i < 500; ++i) {
      if (scrape(registry).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  CoordinatorWatch watch(std::move(options), metrics);
  ASSERT_TRUE(serves("nodepulse_balancer_trino_coordinator_up 1\n")) << scrape(registry);
  EXPECT_TRUE(serves("nodepulse_balancer_trino_unmatched_nodes 1\n"));

  watch.update_members(
      {member("w1", MemberState::kFailing, report("w1", "10.0.0.1", 8080, HealthState::kFailing, "budget_exhausted"))});
  EXPECT_TRUE(serves("nodepulse_balancer_trino_disagreement{node=\"w1\"} 1\n")) << scrape(registry);
  EXPECT_TRUE(serves("nodepulse_balancer_trino_unmatched_nodes 0\n"));

  watch.update_members(
      {member("w1", MemberState::kFailing, report("w1", "10.0.0.1", 8080, HealthState::kFailing, "drained"))});
  EXPECT_TRUE(serves("nodepulse_balancer_trino_disagreement{node=\"w1\"} 0\n")) << scrape(registry);
  EXPECT_EQ(polls.load(), 1);
}

}  // namespace
}  // namespace nodepulse
