// The safety policy, table-driven: which servers go out, which stay with reduced weight, and
// that the decision depends on nothing but its inputs (so balancers on different hosts agree).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "balancer/policy.h"

namespace nodepulse {
namespace {

Member member(const std::string& node_id, MemberState state, uint8_t weight = 0, const std::string& host = "") {
  Member m;
  m.node_id = node_id;
  m.state = state;
  m.weight = weight;
  if (state != MemberState::kHealthy) m.reasons = {to_string(state) == "down" ? "gone" : "trouble"};
  if (!host.empty()) {
    NodeReport report;
    report.node_id = node_id;
    report.host = host;
    m.report = report;
  }
  return m;
}

Member healthy(const std::string& id) { return member(id, MemberState::kHealthy, 100); }
Member failing(const std::string& id) { return member(id, MemberState::kFailing); }

// "a:ready/100", "b:drain", "c:ready/1*" (* = withheld)
std::vector<std::string> summary(const Decision& decision) {
  std::vector<std::string> lines;
  for (const ServerTarget& server : decision.servers) {
    std::string line = server.node_id + ":" + std::string(to_string(server.action));
    if (server.action == ServerAction::kReady) line += "/" + std::to_string(server.weight);
    if (server.withheld) line += "*";
    lines.push_back(line);
  }
  return lines;
}

struct PolicyCase {
  std::string description;
  std::vector<Member> members;
  double fraction;
  std::vector<std::string> expected;
  std::size_t withheld;
};

void PrintTo(const PolicyCase& c, std::ostream* out) { *out << c.description; }

class SafetyPolicy : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(SafetyPolicy, Decides) {
  const PolicyCase& c = GetParam();
  const Decision decision = decide(c.members, PolicyOptions{c.fraction, {}});
  EXPECT_EQ(summary(decision), c.expected);
  EXPECT_EQ(decision.withheld, c.withheld);
  EXPECT_LE(decision.out, decision.max_out);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SafetyPolicy,
    ::testing::Values(
        PolicyCase{"all healthy", {healthy("a"), healthy("b"), healthy("c")}, 0.34,
                   {"a:ready/100", "b:ready/100", "c:ready/100"}, 0},
        PolicyCase{"degraded keeps its weight", {healthy("a"), member("b", MemberState::kDegraded, 40)}, 0.34,
                   {"a:ready/100", "b:ready/40"}, 0},
        PolicyCase{"degraded weight 0 still gets 1", {healthy("a"), member("b", MemberState::kDegraded, 0)}, 0.34,
                   {"a:ready/100", "b:ready/1"}, 0},
        PolicyCase{"one of three failing is drained", {healthy("a"), failing("b"), healthy("c")}, 0.34,
                   {"a:ready/100", "b:drain", "c:ready/100"}, 0},
        PolicyCase{"all three failing: one drained, by node id", {failing("c"), failing("a"), failing("b")}, 0.34,
                   {"a:drain", "b:ready/1*", "c:ready/1*"}, 2},
        PolicyCase{"down goes before failing", {failing("a"), member("b", MemberState::kDown), healthy("c")}, 0.34,
                   {"a:ready/1*", "b:down", "c:ready/100"}, 1},
        PolicyCase{"failing goes before unknown", {member("a", MemberState::kUnknown), failing("b"), healthy("c")}, 0.34,
                   {"a:ready/1*", "b:drain", "c:ready/100"}, 1},
        PolicyCase{"unknown is drained when there is room", {member("a", MemberState::kUnknown), healthy("b"), healthy("c")},
                   0.34, {"a:drain", "b:ready/100", "c:ready/100"}, 0},
        PolicyCase{"a single server is never drained", {failing("a")}, 0.34, {"a:ready/1*"}, 1},
        PolicyCase{"two servers at 0.34: none out", {failing("a"), healthy("b")}, 0.34, {"a:ready/1*", "b:ready/100"}, 1},
        PolicyCase{"two servers at 0.5: one out", {failing("a"), failing("b")}, 0.5, {"a:drain", "b:ready/1*"}, 1},
        PolicyCase{"ten servers at 0.3: three out (no float drift)",
                   {failing("0"), failing("1"), failing("2"), failing("3"), healthy("4"), healthy("5"), healthy("6"),
                    healthy("7"), healthy("8"), healthy("9")},
                   0.3,
                   {"0:drain", "1:drain", "2:drain", "3:ready/1*", "4:ready/100", "5:ready/100", "6:ready/100",
                    "7:ready/100", "8:ready/100", "9:ready/100"},
                   1},
        PolicyCase{"fraction 0 never drains", {failing("a"), healthy("b"), healthy("c")}, 0,
                   {"a:ready/1*", "b:ready/100", "c:ready/100"}, 1},
        PolicyCase{"fraction 1 drains everything asked", {failing("a"), member("b", MemberState::kDown)}, 1,
                   {"a:drain", "b:down"}, 0},
        PolicyCase{"empty cluster", {}, 0.34, {}, 0}),
    [](const ::testing::TestParamInfo<PolicyCase>& info) {
      std::string name;
      for (char c : info.param.description) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(SafetyPolicy, SameInputsInAnyOrderGiveTheSameDecision) {
  std::vector<Member> members;
  for (int i = 0; i < 12; ++i) {
    const std::string id = "w" + std::to_string(i);
    members.push_back(i % 3 == 0 ? failing(id) : i % 5 == 0 ? member(id, MemberState::kDown) : healthy(id));
  }
  const Decision reference = decide(members, PolicyOptions{0.34, {}});
  std::mt19937 shuffle_seed(7);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(members.begin(), members.end(), shuffle_seed);
    EXPECT_EQ(decide(members, PolicyOptions{0.34, {}}), reference) << "round " << round;
  }
}

TEST(SafetyPolicy, NamesAndAddressesFromConfigOrHeartbeat) {
  NodeReport with_port;
  with_port.node_id = "b";
  with_port.host = "10.0.0.2";
  with_port.http_port = 8081;
  Member b = healthy("b");
  b.report = with_port;
  const std::vector<Member> members = {member("a", MemberState::kHealthy, 100, "10.0.0.1"), b,
                                       member("c", MemberState::kHealthy, 100, "fe80::1")};
  const std::vector<BalancerServerSpec> specs = {{"a", "trino-a", "192.168.1.1:9090"}, {"z", "", "192.168.1.9:8080"}};
  const Decision decision = decide(members, PolicyOptions{0.34, specs});
  ASSERT_EQ(decision.servers.size(), 4u);
  EXPECT_EQ(decision.servers[0].name, "trino-a");
  EXPECT_EQ(decision.servers[0].address, "192.168.1.1:9090") << "the config wins";
  EXPECT_EQ(decision.servers[1].name, "b");
  EXPECT_EQ(decision.servers[1].address, "10.0.0.2:8081") << "host:http_port from the heartbeat";
  EXPECT_EQ(decision.servers[2].address, "[fe80::1]:8080") << "Trino's default port when none is reported";
  EXPECT_EQ(decision.servers[3].node_id, "z");
  EXPECT_EQ(decision.servers[3].state, MemberState::kDown) << "configured but never seen";
  EXPECT_EQ(decision.servers[3].action, ServerAction::kDown) << "1 of 4 may be out";
}

}  // namespace
}  // namespace nodepulse
