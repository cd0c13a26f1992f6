// The HAProxy agent-check line for every state, weight and reason shape, and the server that
// answers it on a loopback port (no privileges needed).
#include "agent_check/agent_check.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agent_check_client.h"

namespace nodepulse {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Heartbeat heartbeat_of(HealthState state, uint8_t weight, std::vector<std::string> reasons) {
  Heartbeat heartbeat;
  heartbeat.node = {"worker-1", "prod", "worker", "host-1", "test"};
  heartbeat.verdict.state = state;
  heartbeat.verdict.weight = weight;
  heartbeat.verdict.reasons = std::move(reasons);
  return heartbeat;
}

struct LineCase {
  std::string description;
  std::optional<HealthState> state;  // nullopt: no heartbeat yet
  uint8_t weight = 0;
  std::vector<std::string> reasons;
  uint32_t drain_below_weight = 0;
  std::string expected;
};

void PrintTo(const LineCase& line_case, std::ostream* out) { *out << line_case.description; }

const std::string kLong(300, 'x');

const std::vector<LineCase> kLineCases = {
    {"before the first heartbeat", std::nullopt, 0, {}, 0, "drain #starting\n"},
    {"healthy", HealthState::kHealthy, 100, {}, 0, "up 100% ready #healthy\n"},
    {"healthy ignores the drain floor", HealthState::kHealthy, 100, {}, 101, "up 100% ready #healthy\n"},
    {"degraded keeps its weight", HealthState::kDegraded, 60, {"runq p99 12 ms"}, 0,
     "up 60% ready #degraded: runq p99 12 ms\n"},
    {"degraded at weight 0 without a floor", HealthState::kDegraded, 0, {"memory full 30%"}, 0,
     "up 0% ready #degraded: memory full 30%\n"},
    {"degraded below the floor drains", HealthState::kDegraded, 30, {"retransmits to 2 peers"}, 50,
     "drain #degraded: retransmits to 2 peers\n"},
    {"degraded at the floor stays up", HealthState::kDegraded, 50, {"retransmits to 2 peers"}, 50,
     "up 50% ready #degraded: retransmits to 2 peers\n"},
    {"failing is down, reasons joined", HealthState::kFailing, 0, {"target trino gone", "oom kill"}, 0,
     "down #failing: target trino gone; oom kill\n"},
    {"failing with a weight still says down", HealthState::kFailing, 40, {"pause 1.2 s"}, 0,
     "down #failing: pause 1.2 s\n"},
    {"unknown drains", HealthState::kUnknown, 0, {}, 0, "drain #unknown\n"},
    {"unknown with a reason", HealthState::kUnknown, 0, {"sched probe did not load"}, 0,
     "drain #unknown: sched probe did not load\n"},
    {"weight above 100 is capped", HealthState::kHealthy, 250, {}, 0, "up 100% ready #healthy\n"},
    {"empty reasons are skipped", HealthState::kFailing, 0, {"", "a", ""}, 0, "down #failing: a\n"},
    {"newlines and tabs cannot end the line early", HealthState::kFailing, 0, {"line one\nline two\r\tend"}, 0,
     "down #failing: line one line two  end\n"},
    {"long reasons are cut", HealthState::kFailing, 0, {kLong}, 0,
     "down #failing: " + std::string(kAgentCheckMaxDescription - 3 - 9, 'x') + "...\n"},
};

class AgentCheckLine : public ::testing::TestWithParam<LineCase> {};

TEST_P(AgentCheckLine, MatchesContract) {
  const LineCase& line_case = GetParam();
  const AgentCheckOptions options{line_case.drain_below_weight};
  if (!line_case.state) {
    EXPECT_EQ(agent_check_line(nullptr, options), line_case.expected);
    return;
  }
  const Heartbeat heartbeat = heartbeat_of(*line_case.state, line_case.weight, line_case.reasons);
  EXPECT_EQ(agent_check_line(&heartbeat, options), line_case.expected);
}

std::string case_name(const ::testing::TestParamInfo<LineCase>& info) {
  std::string name;
  for (char c : info.param.description) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Cases, AgentCheckLine, ::testing::ValuesIn(kLineCases), case_name);

TEST(AgentCheckLine, NeverSplitsAUtf8Character) {
  // "é" is two bytes; whatever the cut point, the text before "..." must be whole characters.
  for (std::size_t prefix = 0; prefix < 4; ++prefix) {
    std::string reason(prefix, 'a');
    for (int i = 0; i < 100; ++i) reason += "\xc3\xa9";
    const Heartbeat heartbeat = heartbeat_of(HealthState::kFailing, 0, {reason});
    const std::string line = agent_check_line(&heartbeat, {});
    SCOPED_TRACE(line);
    const std::size_t dots = line.rfind("...");
    ASSERT_NE(dots, std::string::npos);
    EXPECT_NE(static_cast<unsigned char>(line[dots - 1]), 0xc3) << "a lead byte without its continuation";
    EXPECT_LE(line.size(), std::string("down #").size() + kAgentCheckMaxDescription + 1);
  }
}

TEST(AgentCheckLine, IsOneShortLineForEveryState) {
  for (HealthState state : {HealthState::kHealthy, HealthState::kDegraded, HealthState::kFailing, HealthState::kUnknown}) {
    const Heartbeat heartbeat = heartbeat_of(state, 70, {kLong, "b\nc"});
    const std::string line = agent_check_line(&heartbeat, {});
    SCOPED_TRACE(line);
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    EXPECT_EQ(line.find('\r'), std::string::npos);
    EXPECT_LT(line.size(), 160u);  // HAProxy keeps ~128 bytes of the description
  }
}

// ---- The server.

// The whole reply of 127.0.0.1:port, closed cleanly by the server; nullopt otherwise.
std::optional<std::string> read_agent(uint16_t port, const std::string& send = "") {
  testing::AgentCheckReply reply = testing::agent_check_exchange(port, send);
  if (!reply.connected || !reply.closed_cleanly) return std::nullopt;
  return std::move(reply.text);
}

std::unique_ptr<AgentCheckSink> start_on_free_port(AgentCheckOptions options = {}) {
  auto sink = AgentCheckSink::start("127.0.0.1:0", options);
  if (!sink.ok()) {
    ADD_FAILURE() << sink.error().message;
    return nullptr;
  }
  return std::move(sink).value();
}

TEST(AgentCheckServer, AnswersStartingBeforeTheFirstHeartbeat) {
  auto sink = start_on_free_port();
  ASSERT_TRUE(sink);
  EXPECT_NE(sink->port(), 0);
  EXPECT_EQ(read_agent(sink->port()), "drain #starting\n");
}

TEST(AgentCheckServer, AnswersTheLatestHeartbeat) {
  auto sink = start_on_free_port();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kHealthy, 100, {})).ok());
  EXPECT_EQ(read_agent(sink->port()), "up 100% ready #healthy\n");
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kFailing, 0, {"target gone"})).ok());
  EXPECT_EQ(read_agent(sink->port()), "down #failing: target gone\n");
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kDegraded, 40, {"slow"})).ok());
  EXPECT_EQ(read_agent(sink->port()), "up 40% ready #degraded: slow\n");
  EXPECT_EQ(sink->connections_answered(), 3u);
}

TEST(AgentCheckServer, AnswersEvenWhenTheCheckerSendsFirst) {
  // HAProxy's agent-send: the request is read and ignored, and the line still arrives whole.
  auto sink = start_on_free_port();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kHealthy, 100, {})).ok());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(read_agent(sink->port(), "be_trino/worker-1\n"), "up 100% ready #healthy\n");
}

TEST(AgentCheckServer, IdleClientsDoNotHoldOthersUp) {
  auto sink = start_on_free_port();
  ASSERT_TRUE(sink);
  // Clients that connect and never read: their line sits in their receive buffers.
  std::vector<int> idle;
  for (int i = 0; i < 50; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(sink->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    idle.push_back(fd);
  }
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(read_agent(sink->port()), "drain #starting\n");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(500));
  for (int fd : idle) ::close(fd);
}

TEST(AgentCheckServer, StopsPromptly) {
  auto sink = start_on_free_port();
  ASSERT_TRUE(sink);
  const uint16_t port = sink->port();
  ASSERT_TRUE(read_agent(port));
  const auto started = std::chrono::steady_clock::now();
  sink.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(100));
  EXPECT_EQ(read_agent(port), std::nullopt) << "the port must be closed once the sink is gone";
}

TEST(AgentCheckServer, PortInUseIsAStartUpError) {
  auto first = start_on_free_port();
  ASSERT_TRUE(first);
  auto second = AgentCheckSink::start("127.0.0.1:" + std::to_string(first->port()), {});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.error().message, HasSubstr("agent_check.listen 127.0.0.1:"));
  EXPECT_THAT(second.error().message, HasSubstr("Address already in use"));
}

TEST(AgentCheckServer, BadAddressIsAStartUpError) {
  for (const char* listen : {"9478", "[::1:9478", "256.1.1.1:9478", "127.0.0.1:99999"}) {
    SCOPED_TRACE(listen);
    auto sink = AgentCheckSink::start(listen, {});
    ASSERT_FALSE(sink.ok());
    EXPECT_THAT(sink.error().message, StartsWith("agent_check.listen"));
  }
}

}  // namespace
}  // namespace nodepulse
