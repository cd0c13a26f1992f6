// The balancer's heartbeat parser: what agents write is accepted exactly (the trino_drain object
// too, when present); everything else is refused with the right reason label, never a crash or
// an exception.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "heartbeat/heartbeat.h"
#include "heartbeat/payload.h"

namespace nodepulse {
namespace {

using ::testing::HasSubstr;

constexpr std::size_t kLimit = 65536;

TEST(ParseNodePayload, ReadsWhatTheAgentWrites) {
  Heartbeat heartbeat;
  heartbeat.node = {"w-1", "prod", "worker", "10.0.0.7", "0.1.0", 8081};
  heartbeat.verdict.state = HealthState::kDegraded;
  heartbeat.verdict.weight = 60;
  heartbeat.verdict.reasons = {"runq: p99 wait 30 ms", "net: retransmits"};
  heartbeat.verdict.signals = {{"runq", HealthState::kDegraded, "runq: p99 wait 30 ms", 1}};
  heartbeat.seq = 42;
  heartbeat.ts_ms = 1700000000123;
  Result<NodeReport> report = parse_node_payload(to_json(heartbeat), kLimit);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->node_id, "w-1");
  EXPECT_EQ(report->cluster, "prod");
  EXPECT_EQ(report->role, "worker");
  EXPECT_EQ(report->host, "10.0.0.7");
  EXPECT_EQ(report->state, HealthState::kDegraded);
  EXPECT_EQ(report->weight, 60);
  EXPECT_EQ(report->reasons, (std::vector<std::string>{"runq: p99 wait 30 ms", "net: retransmits"}));
  EXPECT_EQ(report->seq, 42u);
  EXPECT_EQ(report->ts_ms, 1700000000123u);
  EXPECT_EQ(report->http_port, 8081);
}

TEST(ParseNodePayload, ReadsTheDrainStatusTheAgentWrites) {
  Heartbeat heartbeat;
  heartbeat.node = {"w-1", "prod", "worker", "10.0.0.7", "0.1.0", 8081};
  heartbeat.verdict.state = HealthState::kFailing;
  heartbeat.drain = DrainStatus{"drained", "DRAINED", true, "failing: jvm pause", ""};
  Result<NodeReport> report = parse_node_payload(to_json(heartbeat), kLimit);
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_TRUE(report->drain.has_value());
  EXPECT_EQ(*report->drain, (DrainReport{"drained", "DRAINED", true, "failing: jvm pause", ""}));

  heartbeat.drain.reset();
  report = parse_node_payload(to_json(heartbeat), kLimit);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_FALSE(report->drain.has_value()) << "no trino_drain: the agent's trino sink is off";
}

struct DrainCase {
  std::string description;
  std::string drain_json;
  DrainReport expected;
};

void PrintTo(const DrainCase& drain, std::ostream* out) { *out << drain.description; }

class AcceptedDrain : public ::testing::TestWithParam<DrainCase> {};

TEST_P(AcceptedDrain, Reads) {
  const DrainCase& drain = GetParam();
  Result<NodeReport> report =
      parse_node_payload(R"({"node_id":"a","state":"failing","weight":0,"trino_drain":)" + drain.drain_json + "}", kLimit);
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_TRUE(report->drain.has_value());
  EXPECT_EQ(*report->drain, drain.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AcceptedDrain,
    ::testing::Values(
        DrainCase{"only the state", R"({"state":"active"})", {"active", "", false, "", ""}},
        DrainCase{"every field", R"({"state":"budget_exhausted","trino_state":"ACTIVE","slot":false,)"
                                 R"("reason":"2 of 3 slots held","error":"zookeeper: connection loss"})",
                  {"budget_exhausted", "ACTIVE", false, "2 of 3 slots held", "zookeeper: connection loss"}},
        DrainCase{"a state a newer agent may add is kept as written", R"({"state":"parked","slot":true})",
                  {"parked", "", true, "", ""}},
        DrainCase{"unknown fields are ignored", R"({"state":"drained","since_ms":5,"extra":{"a":1}})",
                  {"drained", "", false, "", ""}}),
    [](const ::testing::TestParamInfo<DrainCase>& info) {
      std::string name;
      for (char c : info.param.description) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(ParseNodePayload, OnlyNodeStateAndWeightAreRequired) {
  Result<NodeReport> report = parse_node_payload(R"({"node_id":"a","state":"failing","weight":0,"new_field":[1]})", kLimit);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->state, HealthState::kFailing);
  EXPECT_EQ(report->http_port, 0);
  EXPECT_TRUE(report->reasons.empty());
}

struct BadPayload {
  std::string description;
  std::string json;
  std::string_view reason;
  std::string detail;
};

void PrintTo(const BadPayload& bad, std::ostream* out) { *out << bad.description; }

class RefusedPayload : public ::testing::TestWithParam<BadPayload> {};

TEST_P(RefusedPayload, NamesTheReason) {
  const BadPayload& bad = GetParam();
  Result<NodeReport> report = parse_node_payload(bad.json, 1024);
  ASSERT_FALSE(report.ok()) << "accepted: " << bad.json;
  EXPECT_EQ(payload_error_reason(report.error()), bad.reason) << report.error().message;
  EXPECT_THAT(report.error().message, HasSubstr(bad.detail));
}

const std::string kValidTail = R"(,"state":"healthy","weight":100})";

INSTANTIATE_TEST_SUITE_P(
    Cases, RefusedPayload,
    ::testing::Values(
        BadPayload{"empty", "", kPayloadBadJson, "empty payload"},
        BadPayload{"truncated", R"({"node_id":"a","state":"heal)", kPayloadBadJson, "not valid JSON"},
        BadPayload{"not json", "hello", kPayloadBadJson, "not valid JSON"},
        BadPayload{"binary", std::string("\x00\xff\xfe{", 4), kPayloadBadJson, "not valid JSON"},
        BadPayload{"deep nesting", std::string(500, '[') + std::string(500, ']'), kPayloadBadJson, "nested deeper"},
        BadPayload{"oversize", R"({"node_id":")" + std::string(2000, 'x') + "\"" + kValidTail, kPayloadOversize,
                   "more than the limit of 1024"},
        BadPayload{"array at top", R"([{"node_id":"a"}])", kPayloadWrongType, "expected a JSON object, got an array"},
        BadPayload{"no node id", R"({"state":"healthy","weight":100})", kPayloadMissingField, "node_id is missing"},
        BadPayload{"empty node id", R"({"node_id":"")" + kValidTail,
                   kPayloadMissingField, "node_id is empty"},
        BadPayload{"no state", R"({"node_id":"a","weight":100})", kPayloadMissingField, "state is missing"},
        BadPayload{"no weight", R"({"node_id":"a","state":"healthy"})", kPayloadMissingField, "weight is missing"},
        BadPayload{"node id a number", R"({"node_id":7)" + kValidTail, kPayloadWrongType, "node_id: expected a string"},
        BadPayload{"weight a string", R"({"node_id":"a","state":"healthy","weight":"100"})", kPayloadWrongType,
                   "weight: expected an integer, got a string"},
        BadPayload{"weight fractional", R"({"node_id":"a","state":"healthy","weight":99.5})", kPayloadWrongType,
                   "got a fractional number"},
        BadPayload{"weight negative", R"({"node_id":"a","state":"healthy","weight":-1})", kPayloadOutOfRange,
                   "weight: expected 0-100, got -1"},
        BadPayload{"weight too big", R"({"node_id":"a","state":"healthy","weight":101})", kPayloadOutOfRange,
                   "weight: expected 0-100, got 101"},
        BadPayload{"port too big", R"({"node_id":"a","http_port":70000)" + kValidTail, kPayloadOutOfRange,
                   "http_port: expected 0-65535"},
        BadPayload{"reasons not a list", R"({"node_id":"a","reasons":"slow")" + kValidTail, kPayloadWrongType,
                   "reasons: expected an array of strings"},
        BadPayload{"reason not a string", R"({"node_id":"a","reasons":["ok",3])" + kValidTail, kPayloadWrongType,
                   "reasons: expected strings"},
        BadPayload{"state unknown word", R"({"node_id":"a","state":"sick","weight":0})", kPayloadUnknownState,
                   "'sick' is none of healthy"},
        BadPayload{"state wrong case", R"({"node_id":"a","state":"HEALTHY","weight":100})", kPayloadUnknownState,
                   "'HEALTHY'"},
        BadPayload{"state null", R"({"node_id":"a","state":null,"weight":100})", kPayloadWrongType,
                   "state: expected a string, got null"},
        BadPayload{"drain not an object", R"({"node_id":"a","trino_drain":"drained")" + kValidTail, kPayloadWrongType,
                   "trino_drain: expected an object, got a string"},
        BadPayload{"drain null", R"({"node_id":"a","trino_drain":null)" + kValidTail, kPayloadWrongType,
                   "trino_drain: expected an object, got null"},
        BadPayload{"drain without state", R"({"node_id":"a","trino_drain":{"slot":true})" + kValidTail,
                   kPayloadMissingField, "trino_drain.state is missing"},
        BadPayload{"drain state empty", R"({"node_id":"a","trino_drain":{"state":""})" + kValidTail,
                   kPayloadMissingField, "trino_drain.state is empty"},
        BadPayload{"drain state a number", R"({"node_id":"a","trino_drain":{"state":3})" + kValidTail,
                   kPayloadWrongType, "trino_drain.state: expected a string, got an integer"},
        BadPayload{"drain slot a string", R"({"node_id":"a","trino_drain":{"state":"active","slot":"yes"})" + kValidTail,
                   kPayloadWrongType, "trino_drain.slot: expected a boolean, got a string"},
        BadPayload{"drain trino state an array",
                   R"({"node_id":"a","trino_drain":{"state":"active","trino_state":["ACTIVE"]})" + kValidTail,
                   kPayloadWrongType, "trino_drain.trino_state: expected a string, got an array"},
        BadPayload{"drain error null", R"({"node_id":"a","trino_drain":{"state":"active","error":null})" + kValidTail,
                   kPayloadWrongType, "trino_drain.error: expected a string, got null"}),
    [](const ::testing::TestParamInfo<BadPayload>& info) {
      std::string name;
      for (char c : info.param.description) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(ParseNodePayload, LimitIsInclusive) {
  const std::string json = R"({"node_id":"a","state":"healthy","weight":100})";
  EXPECT_TRUE(parse_node_payload(json, json.size()).ok());
  EXPECT_FALSE(parse_node_payload(json, json.size() - 1).ok());
}

TEST(ParseNodePayload, ForeignErrorsCountAsBadJson) {
  EXPECT_EQ(payload_error_reason(Error{"something else"}), kPayloadBadJson);
  EXPECT_EQ(payload_error_reason(Error{"oversize"}), kPayloadBadJson);
}

TEST(PrintableExcerpt, HidesControlBytesAndCuts) {
  EXPECT_EQ(printable_excerpt(std::string("a\x01\xffz", 4)), "'a??z'");
  EXPECT_EQ(printable_excerpt(std::string(100, 'x'), 3), "'xxx...'");
}

}  // namespace
}  // namespace nodepulse
