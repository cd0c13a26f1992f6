// The parsers of HotSpot's own pause logs (tests/support/java.h) that the kernel tests use as
// ground truth: they must read JDK 17's exact lines, and group a GC operation's lines.
#include <gtest/gtest.h>

#include "java.h"

namespace nodepulse {
namespace {

using testing::LoggedPause;

LoggedPause pause(uint64_t end_ns, uint64_t duration_ns) {
  LoggedPause p;
  p.end_ns = end_ns;
  p.duration_ns = duration_ns;
  return p;
}

// Real lines of OpenJDK 17 (Serial and G1) with -Xlog:gc:file=...:tn.
constexpr const char* kGcLog =
    "[1388223106024ns] Using Serial\n"
    "[1388313664931ns] GC(0) Pause Young (Allocation Failure) 17M->5M(61M) 4.576ms\n"
    "[1388436383751ns] GC(15) Pause Full (Allocation Failure) 61M->5M(61M) 9.438ms\n"
    "[1400000000000ns] GC(3) Pause Young (Normal) (G1 Evacuation Pause) 24M->5M(256M) 3.456ms\n"
    "[1400100000000ns] GC(5) Concurrent Mark Cycle 12.345ms\n"
    "[1400200000000ns] GC(5) Pause Remark 20M->20M(256M) 1.234ms\n"
    "[1400300000000ns] GC(5) Pause Cleanup 1023K->1023K(256M) 0.050ms\n";

TEST(JvmPauseLog, ParsesGcPausesOnly) {
  const auto pauses = testing::parse_gc_log(kGcLog);
  ASSERT_EQ(pauses.size(), 5u) << "the concurrent cycle is not a pause";
  EXPECT_EQ(pauses[0].end_ns, 1388313664931u);
  EXPECT_EQ(pauses[0].duration_ns, 4'576'000u);
  EXPECT_EQ(pauses[0].what, "Pause Young (Allocation Failure)");
  EXPECT_EQ(pauses[1].what, "Pause Full (Allocation Failure)");
  EXPECT_EQ(pauses[2].what, "Pause Young (Normal) (G1 Evacuation Pause)");
  EXPECT_EQ(pauses[2].duration_ns, 3'456'000u);
  EXPECT_EQ(pauses[3].what, "Pause Remark");
  EXPECT_EQ(pauses[4].duration_ns, 50'000u);
  EXPECT_EQ(pauses[0].begin_ns(), 1388313664931u - 4'576'000u);
}

TEST(JvmPauseLog, ParsesSafepointTotalsAndTimeToSafepoint) {
  const auto pauses = testing::parse_safepoint_log(
      "[1388313699963ns] Safepoint \"GenCollectForAllocation\", Time since last: 71360007 ns, Reaching safepoint: "
      "5158 ns, Cleanup: 40791 ns, At safepoint: 4623688 ns, Total: 4669637 ns\n"
      "garbage\n"
      "[1400000000000ns] Safepoint \"GenCollectFull\", Time since last: 1 ns, Reaching safepoint: 1563000000 ns, "
      "Cleanup: 1000 ns, At safepoint: 5000000 ns, Total: 1568001000 ns\n");
  ASSERT_EQ(pauses.size(), 2u);
  EXPECT_EQ(pauses[0].what, "GenCollectForAllocation");
  EXPECT_EQ(pauses[0].end_ns, 1388313699963u);
  EXPECT_EQ(pauses[0].duration_ns, 4'669'637u);
  EXPECT_EQ(pauses[0].reaching_ns, 5'158u);
  EXPECT_EQ(pauses[1].reaching_ns, 1'563'000'000u);
}

TEST(JvmPauseLog, GroupsTheGcLinesOfOneSafepointIntoOneOperation) {
  // A young GC that Serial upgraded to a full one inside the same safepoint, then a plain one.
  const std::vector<LoggedPause> safepoints = {pause(1'000'000, 600'000),
                                               pause(2'000'000, 200'000)};
  const std::vector<LoggedPause> gcs = {pause(600'000, 100'000),
                                        pause(990'000, 300'000),
                                        pause(1'990'000, 150'000)};
  const auto operations = testing::gc_operations(gcs, safepoints);
  ASSERT_EQ(operations.size(), 2u);
  EXPECT_EQ(operations[0].duration_ns, 400'000u);
  EXPECT_EQ(operations[1].duration_ns, 150'000u);
}

TEST(JvmPauseLog, WindowKeepsPausesThatBeganAfterAndEndedBefore) {
  const std::vector<LoggedPause> pauses = {pause(100, 50),   // began at 50: before
                                           pause(200, 50),   // 150..200: in
                                           pause(320, 50)};  // ends at 320: after
  const auto kept = testing::pauses_between(pauses, 60, 300);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].end_ns, 200u);
  EXPECT_EQ(testing::total_duration_ns(pauses), 150u);
}

}  // namespace
}  // namespace nodepulse
