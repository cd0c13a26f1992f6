// Decoding of bpf/jvm.h map values, fed from byte buffers laid out exactly as the kernel
// returns them, and the JVM delta tracker over those readings.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "collect/jvm_sample.h"
#include "probes/jvm_decode.h"

namespace nodepulse {
namespace {

template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& values) {
  std::vector<std::byte> out(values.size() * sizeof(T));
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

TEST(JvmDecode, SumsAPauseHistogramAcrossCpus) {
  std::vector<np_histogram> per_cpu(3);
  std::memset(per_cpu.data(), 0, per_cpu.size() * sizeof(np_histogram));
  per_cpu[0].slots[20] = 2;  // ~1 ms
  per_cpu[0].count = 2;
  per_cpu[0].sum_ns = 2'100'000;
  per_cpu[2].slots[20] = 1;
  per_cpu[2].slots[31] = 1;  // a 2-4 s safepoint
  per_cpu[2].count = 2;
  per_cpu[2].sum_ns = 1'050'000 + 3'000'000'000;

  const auto raw = bytes_of(per_cpu);
  const auto* decoded = reinterpret_cast<const np_histogram*>(raw.data());
  const Log2Histogram sum = sum_pause_histogram({decoded, per_cpu.size()});
  EXPECT_EQ(sum.slots[20], 3u);
  EXPECT_EQ(sum.slots[31], 1u);
  EXPECT_EQ(sum.count, 4u);
  EXPECT_EQ(sum.sum_ns, 3'150'000u + 3'000'000'000u);
}

TEST(JvmDecode, StatsKeysAreDistinctPerTargetAndKind) {
  EXPECT_EQ(jvm_stats_key(0, NP_JVM_PAUSE_GC), 0u);
  EXPECT_EQ(jvm_stats_key(0, NP_JVM_PAUSE_SAFEPOINT), 1u);
  EXPECT_EQ(jvm_stats_key(3, NP_JVM_PAUSE_GC), 6u);
  EXPECT_EQ(jvm_stats_key(NP_JVM_MAX_TARGETS - 1, NP_JVM_PAUSE_SAFEPOINT), NP_JVM_STATS_ENTRIES - 1u);
}

TEST(JvmDecode, InflightEntryBecomesElapsedTimes) {
  struct Case {
    const char* description;
    uint64_t gc_begin_ns;
    uint64_t safepoint_begin_ns;
    uint64_t now_ns;
    uint64_t gc_ns;
    uint64_t safepoint_ns;
    uint64_t longest_ns;
  };
  const Case cases[] = {
      {"no pause", 0, 0, 5'000'000'000, 0, 0, 0},
      {"reaching a safepoint, no GC yet", 0, 4'000'000'000, 5'500'000'000, 0, 1'500'000'000, 1'500'000'000},
      {"a GC inside its safepoint", 4'100'000'000, 4'000'000'000, 4'300'000'000, 200'000'000, 300'000'000,
       300'000'000},
      {"a begin stamped after the clock was read counts as none", 0, 6'000'000'000, 5'000'000'000, 0, 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    np_jvm_inflight raw{};
    raw.begin_ns[NP_JVM_PAUSE_GC] = c.gc_begin_ns;
    raw.begin_ns[NP_JVM_PAUSE_SAFEPOINT] = c.safepoint_begin_ns;
    raw.target_index = 2;
    std::vector<std::byte> bytes(sizeof(raw));
    std::memcpy(bytes.data(), &raw, sizeof(raw));
    np_jvm_inflight decoded;
    std::memcpy(&decoded, bytes.data(), sizeof(decoded));

    const JvmPauseInProgress pause = decode_inflight(4242, decoded, c.now_ns);
    EXPECT_EQ(pause.tgid, 4242);
    EXPECT_EQ(pause.target_index, 2u);
    EXPECT_EQ(pause.gc_ns, c.gc_ns);
    EXPECT_EQ(pause.safepoint_ns, c.safepoint_ns);
    EXPECT_EQ(pause.longest_ns(), c.longest_ns);
  }
}

Log2Histogram pauses(size_t slot, uint64_t count) {
  Log2Histogram h;
  h.slots[slot] = count;
  h.count = count;
  h.sum_ns = count * (uint64_t{1} << slot);
  return h;
}

TEST(JvmDeltaTracker, HistogramsBecomeDeltasAndPausesInProgressTheLongestPerTarget) {
  JvmDeltaTracker tracker;
  JvmReading first;
  first.targets = {{pauses(20, 10), pauses(20, 12)}, {}};
  first.untracked_hits = 1;
  const JvmDelta d1 = tracker.next(first);
  ASSERT_EQ(d1.targets.size(), 2u);
  EXPECT_EQ(d1.targets[0].gc_pauses.count, 10u) << "the first reading is all new";
  EXPECT_EQ(d1.unattributed_hits, 1u);

  JvmReading second;
  second.targets = {{pauses(20, 15), pauses(20, 18)}, {}};
  second.untracked_hits = 1;
  second.in_progress = {{.tgid = 10, .target_index = 0, .gc_ns = 0, .safepoint_ns = 700'000'000},
                        {.tgid = 11, .target_index = 0, .gc_ns = 20'000'000, .safepoint_ns = 30'000'000},
                        {.tgid = 12, .target_index = 1, .gc_ns = 0, .safepoint_ns = 0},
                        {.tgid = 13, .target_index = 9, .gc_ns = 5, .safepoint_ns = 5}};  // unknown target: ignored
  const JvmDelta d2 = tracker.next(second);
  EXPECT_EQ(d2.targets[0].gc_pauses.count, 5u);
  EXPECT_EQ(d2.targets[0].safepoint_pauses.count, 6u);
  EXPECT_EQ(d2.targets[0].safepoint_in_progress_ns, 700'000'000u);
  EXPECT_EQ(d2.targets[0].gc_in_progress_ns, 20'000'000u);
  EXPECT_EQ(d2.targets[0].pause_in_progress_ns, 700'000'000u);
  EXPECT_EQ(d2.targets[1].pause_in_progress_ns, 0u);
  EXPECT_EQ(d2.unattributed_hits, 0u);

  JvmReading third = second;
  third.in_progress.clear();
  const JvmDelta d3 = tracker.next(third);
  EXPECT_EQ(d3.targets[0].gc_pauses.count, 0u);
  EXPECT_EQ(d3.targets[0].pause_in_progress_ns, 0u) << "in progress is a reading, not a counter";
}

}  // namespace
}  // namespace nodepulse
