#include <gtest/gtest.h>

#include "collect/sample.h"
#include "common/histogram.h"
#include "metrics/log2_buckets.h"

namespace nodepulse {
namespace {

Log2Histogram with_slots(std::initializer_list<std::pair<size_t, uint64_t>> slots) {
  Log2Histogram h;
  for (auto [slot, n] : slots) {
    h.slots[slot] = n;
    h.count += n;
    h.sum_ns += n * (uint64_t{1} << slot);
  }
  return h;
}

TEST(Log2Histogram, SinceSubtractsSlotBySlot) {
  const Log2Histogram before = with_slots({{10, 3}, {20, 1}});
  const Log2Histogram after = with_slots({{10, 5}, {20, 1}, {25, 2}});
  const Log2Histogram delta = after.since(before);
  EXPECT_EQ(delta.slots[10], 2u);
  EXPECT_EQ(delta.slots[20], 0u);
  EXPECT_EQ(delta.slots[25], 2u);
  EXPECT_EQ(delta.count, 4u);
  EXPECT_EQ(delta.sum_ns, after.sum_ns - before.sum_ns);
}

TEST(Log2Histogram, CounterThatWentBackwardsIsAReset) {
  const Log2Histogram before = with_slots({{10, 100}});
  const Log2Histogram after = with_slots({{12, 7}});
  EXPECT_EQ(after.since(before), after);
  EXPECT_EQ(counter_delta(5, 9), 5u);
  EXPECT_EQ(counter_delta(9, 5), 4u);
}

TEST(Log2Histogram, QuantileUpperBound) {
  struct Case {
    const char* description;
    Log2Histogram h;
    double q;
    double expected_ns;
  };
  const Case cases[] = {
      {"empty", Log2Histogram{}, 0.99, 0},
      {"all in one slot", with_slots({{10, 50}}), 0.99, 2048},
      {"p50 in the lower slot", with_slots({{10, 60}, {22, 40}}), 0.5, 2048},
      {"p99 in the tail", with_slots({{10, 98}, {22, 2}}), 0.99, double(1 << 23)},
      {"p99 exactly at the boundary stays low", with_slots({{10, 99}, {22, 1}}), 0.99, 2048},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    EXPECT_DOUBLE_EQ(c.h.quantile_upper_bound_ns(c.q), c.expected_ns);
  }
}

TEST(Log2Buckets, BoundsArePowersOfTwoNanoseconds) {
  const auto& bounds = log2_bucket_bounds_seconds();
  ASSERT_EQ(bounds.size(), 26u);
  EXPECT_DOUBLE_EQ(bounds.front(), 1024e-9);
  EXPECT_DOUBLE_EQ(bounds.back(), double(uint64_t{1} << 35) / 1e9);
  for (size_t i = 1; i < bounds.size(); ++i) EXPECT_DOUBLE_EQ(bounds[i], 2 * bounds[i - 1]);
}

TEST(Log2Buckets, SlotsLandInTheirBucketAndTheEndsFold) {
  // slot 3 (8 ns) and slot 9 fold into the first bucket (le 1024 ns); slot 10 is le 2048 ns;
  // slot 35 and above go to +Inf.
  const Log2Histogram h = with_slots({{3, 1}, {9, 2}, {10, 4}, {34, 8}, {35, 16}, {39, 32}});
  const auto inc = log2_bucket_increments(h);
  ASSERT_EQ(inc.size(), log2_bucket_bounds_seconds().size() + 1);
  EXPECT_EQ(inc[0], 3);
  EXPECT_EQ(inc[1], 4);
  EXPECT_EQ(inc[25], 8);
  EXPECT_EQ(inc[26], 48);
  double total = 0;
  for (double v : inc) total += v;
  EXPECT_EQ(total, static_cast<double>(h.count)) << "no observation lost or duplicated";
}

TEST(SchedDeltaTracker, FirstReadingIsWholeThenDeltas) {
  SchedReading first;
  first.node.wait = with_slots({{12, 10}});
  first.node.stalls = 1;
  first.targets.push_back({with_slots({{20, 2}}), 2, 5'000'000});
  first.dropped_events = 3;

  SchedReading second = first;
  second.node.wait = with_slots({{12, 15}});
  second.node.stalls = 4;
  second.targets[0].longest_wait_ns = 700;
  second.dropped_events = 3;

  SchedDeltaTracker tracker;
  const SchedDelta d1 = tracker.next(first);
  EXPECT_EQ(d1.node.wait.count, 10u);
  EXPECT_EQ(d1.node.stalls, 1u);
  EXPECT_EQ(d1.dropped_events, 3u);
  ASSERT_EQ(d1.targets.size(), 1u);
  EXPECT_EQ(d1.targets[0].stalls, 2u);

  const SchedDelta d2 = tracker.next(second);
  EXPECT_EQ(d2.node.wait.count, 5u);
  EXPECT_EQ(d2.node.wait.slots[12], 5u);
  EXPECT_EQ(d2.node.stalls, 3u);
  EXPECT_EQ(d2.dropped_events, 0u);
  EXPECT_EQ(d2.targets[0].wait.count, 0u);
  EXPECT_EQ(d2.targets[0].longest_wait_ns, 700u) << "longest wait is per window, not a delta";
}

}  // namespace
}  // namespace nodepulse
