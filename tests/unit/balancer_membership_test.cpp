// The membership table: states from payloads and failing/ znodes, and the grace period of a
// vanished znode, on an injected clock.
#include <gtest/gtest.h>

#include "balancer/membership.h"

namespace nodepulse {
namespace {

constexpr int64_t kGraceMs = 3000;

NodeReport report(const std::string& node_id, HealthState state, uint8_t weight) {
  NodeReport r;
  r.node_id = node_id;
  r.state = state;
  r.weight = weight;
  r.host = "10.0.0.1";
  if (state != HealthState::kHealthy) r.reasons = {"because"};
  return r;
}

MemberState state_of(const Membership& membership, const std::string& node_id, int64_t now_ms) {
  for (const Member& member : membership.members(now_ms)) {
    if (member.node_id == node_id) return member.state;
  }
  ADD_FAILURE() << node_id << " unknown";
  return MemberState::kUnknown;
}

TEST(Membership, StatesFollowThePayload) {
  Membership membership(kGraceMs);
  membership.set_present({"b", "a", "c"}, 0);
  membership.set_report("a", report("a", HealthState::kHealthy, 100));
  membership.set_report("b", report("b", HealthState::kDegraded, 40));
  const std::vector<Member> members = membership.members(0);
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0].node_id, "a");  // sorted by node id
  EXPECT_EQ(members[0].state, MemberState::kHealthy);
  EXPECT_EQ(members[0].weight, 100);
  EXPECT_EQ(members[1].state, MemberState::kDegraded);
  EXPECT_EQ(members[1].weight, 40);
  EXPECT_EQ(members[2].state, MemberState::kUnknown) << "present but not read yet";
  EXPECT_EQ(members[2].reasons, std::vector<std::string>{"no heartbeat read yet"});
}

TEST(Membership, FailingZnodeWinsOverThePayload) {
  Membership membership(kGraceMs);
  membership.set_present({"a"}, 0);
  membership.set_report("a", report("a", HealthState::kHealthy, 100));
  membership.set_failing({"a"}, 0);
  EXPECT_EQ(state_of(membership, "a", 0), MemberState::kFailing);
  membership.set_failing({}, 10);
  EXPECT_EQ(state_of(membership, "a", 10), MemberState::kHealthy);
}

TEST(Membership, InvalidPayloadIsUnknownUntilAValidOne) {
  Membership membership(kGraceMs);
  membership.set_present({"a"}, 0);
  membership.set_report("a", report("a", HealthState::kHealthy, 100));
  membership.set_invalid("a", "bad_json: not valid JSON");
  const Member member = membership.members(0).front();
  EXPECT_EQ(member.state, MemberState::kUnknown);
  EXPECT_EQ(member.weight, 0);
  EXPECT_EQ(member.reasons, std::vector<std::string>{"invalid heartbeat: bad_json: not valid JSON"});
  ASSERT_TRUE(member.report) << "the last valid payload is kept for the address";
  membership.set_report("a", report("a", HealthState::kHealthy, 100));
  EXPECT_EQ(state_of(membership, "a", 0), MemberState::kHealthy);
}

TEST(Membership, VanishedNodeKeepsItsStateForTheGraceThenIsDown) {
  Membership membership(kGraceMs);
  membership.set_present({"a", "b"}, 0);
  membership.set_report("a", report("a", HealthState::kHealthy, 100));
  membership.set_report("b", report("b", HealthState::kHealthy, 100));
  membership.set_present({"b"}, 1000);
  EXPECT_EQ(state_of(membership, "a", 1000), MemberState::kHealthy);
  EXPECT_EQ(state_of(membership, "a", 3999), MemberState::kHealthy) << "1 ms before the grace ends";
  ASSERT_EQ(membership.next_change_ms(3999), 4000);
  EXPECT_EQ(state_of(membership, "a", 4000), MemberState::kDown);
  EXPECT_EQ(membership.next_change_ms(4000), std::nullopt) << "nothing left to wait for";
  EXPECT_EQ(state_of(membership, "b", 4000), MemberState::kHealthy);
}

TEST(Membership, ReturningWithinTheGraceNeverGoesDown) {
  Membership membership(kGraceMs);
  membership.set_present({"a"}, 0);
  membership.set_report("a", report("a", HealthState::kHealthy, 100));
  membership.set_present({}, 1000);
  membership.set_present({"a"}, 2500);
  EXPECT_EQ(state_of(membership, "a", 10000), MemberState::kHealthy);
  EXPECT_EQ(membership.next_change_ms(10000), std::nullopt);
}

TEST(Membership, GraceRestartsOnEveryDisappearance) {
  Membership membership(kGraceMs);
  membership.set_present({"a"}, 0);
  membership.set_present({}, 1000);
  membership.set_present({"a"}, 2000);
  membership.set_present({}, 5000);
  EXPECT_NE(state_of(membership, "a", 7999), MemberState::kDown);
  EXPECT_EQ(state_of(membership, "a", 8000), MemberState::kDown);
}

TEST(Membership, ZeroGraceIsDownAtOnce) {
  Membership membership(0);
  membership.set_present({"a"}, 0);
  membership.set_present({}, 5);
  EXPECT_EQ(state_of(membership, "a", 5), MemberState::kDown);
}

TEST(Membership, ExpectedButUnseenNodeGetsTheGraceToo) {
  Membership membership(kGraceMs);
  membership.expect("w9", 100);
  EXPECT_EQ(state_of(membership, "w9", 3099), MemberState::kUnknown);
  EXPECT_EQ(state_of(membership, "w9", 3100), MemberState::kDown);
  membership.expect("w9", 5000);  // no effect on a known node
  EXPECT_EQ(state_of(membership, "w9", 5000), MemberState::kDown);
}

TEST(Membership, FailingZnodeOfAnUnlistedNodeIsFailingThenDown) {
  Membership membership(kGraceMs);
  membership.set_failing({"x"}, 0);
  EXPECT_EQ(state_of(membership, "x", 0), MemberState::kFailing);
  EXPECT_EQ(state_of(membership, "x", kGraceMs), MemberState::kDown);
}

}  // namespace
}  // namespace nodepulse

namespace nodepulse {
namespace {

TEST(Membership, VersionMovesOnlyWithWhatDecisionsRead) {
  Membership membership(kGraceMs);
  membership.set_present({"a"}, 0);
  membership.set_report("a", report("a", HealthState::kHealthy, 100));
  const uint64_t settled = membership.version();
  NodeReport next = report("a", HealthState::kHealthy, 100);
  next.seq = 99;
  next.ts_ms = 123456;
  next.reasons = {"reworded"};
  membership.set_report("a", next);
  membership.set_present({"a"}, 10);
  membership.set_failing({}, 10);
  EXPECT_EQ(membership.version(), settled) << "a repeated heartbeat changes nothing";
  membership.set_report("a", report("a", HealthState::kDegraded, 70));
  EXPECT_GT(membership.version(), settled);
  const uint64_t degraded = membership.version();
  membership.set_invalid("a", "bad_json: x");
  EXPECT_GT(membership.version(), degraded);
  const uint64_t invalid = membership.version();
  membership.set_invalid("a", "bad_json: x");
  EXPECT_EQ(membership.version(), invalid) << "the same bad payload again";
  membership.set_failing({"a"}, 20);
  EXPECT_GT(membership.version(), invalid);
}

}  // namespace
}  // namespace nodepulse
