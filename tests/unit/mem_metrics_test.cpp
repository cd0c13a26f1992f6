// The memory metrics as Prometheus text: names, labels, values, and no series for what is unknown.
#include "metrics/mem_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <string>

namespace nodepulse {
namespace {

class MemMetricsTest : public ::testing::Test {
 protected:
  std::string text() const { return prometheus::TextSerializer().Serialize(registry_.Collect()); }
  bool has(const std::string& line) const { return text().find(line + "\n") != std::string::npos; }

  prometheus::Registry registry_;
  MemMetrics metrics_{registry_, {"trino", "zk"}};
};

TEST_F(MemMetricsTest, SeriesBeforeAnySample) {
  EXPECT_TRUE(has("nodepulse_target_up{target=\"trino\"} 0"));
  EXPECT_TRUE(has("nodepulse_target_up{target=\"zk\"} 0"));
  EXPECT_TRUE(has("nodepulse_oom_kills_total{target=\"node\"} 0"));
  EXPECT_TRUE(has("nodepulse_oom_kills_total{target=\"trino\"} 0"));
  EXPECT_TRUE(has("nodepulse_memory_reclaim_stall_seconds_count{scope=\"node\"} 0"));
  EXPECT_TRUE(has("nodepulse_memory_reclaim_stall_seconds_count{scope=\"zk\"} 0"));
  EXPECT_EQ(text().find("nodepulse_psi_waiting_seconds_total{"), std::string::npos)
      << "no PSI series until PSI is read: unknown, not zero";
}

TEST_F(MemMetricsTest, RecordsReclaimOomAndPsi) {
  MemDelta mem;
  ReclaimDelta reclaim;
  reclaim.node.memcg.slots[20] = 3;  // ~1 ms each
  reclaim.node.memcg.count = 3;
  reclaim.node.memcg.sum_ns = 3'000'000;
  reclaim.node.direct.slots[30] = 1;  // [2^30, 2^31) ns: 1.07-2.15 s
  reclaim.node.direct.count = 1;
  reclaim.node.direct.sum_ns = 1'500'000'000;
  reclaim.targets.resize(2);
  reclaim.targets[0].memcg = reclaim.node.memcg;
  reclaim.node_oom_kills = 2;
  reclaim.target_oom_kills = {1, 0};
  mem.reclaim = reclaim;
  PsiDelta psi;
  psi.memory = PsiResourceDelta{PsiKindDelta{250'000, 12.5}, PsiKindDelta{100'000, 4.0}};
  psi.cpu = PsiResourceDelta{PsiKindDelta{1'000'000, 50.0}, std::nullopt};  // no full line (older kernel)
  psi.target_memory = {PsiResourceDelta{PsiKindDelta{50'000, 1.0}, PsiKindDelta{0, 0}}, std::nullopt};
  psi.node_trigger_events = 1;
  psi.target_trigger_events = {2, 0};
  mem.psi = psi;
  metrics_.record(mem);
  metrics_.set_target_up(0, true);

  EXPECT_TRUE(has("nodepulse_memory_reclaim_stall_seconds_count{scope=\"node\"} 4"));
  EXPECT_TRUE(has("nodepulse_memory_reclaim_stall_seconds_sum{scope=\"node\"} 1.503"));
  EXPECT_TRUE(has("nodepulse_memory_reclaim_stall_seconds_count{scope=\"trino\"} 3"));
  EXPECT_TRUE(has("nodepulse_memory_reclaim_stall_seconds_count{scope=\"zk\"} 0"));
  EXPECT_TRUE(has("nodepulse_oom_kills_total{target=\"node\"} 2"));
  EXPECT_TRUE(has("nodepulse_oom_kills_total{target=\"trino\"} 1"));
  EXPECT_TRUE(has("nodepulse_oom_kills_total{target=\"zk\"} 0"));
  EXPECT_TRUE(has("nodepulse_psi_waiting_seconds_total{kind=\"some\",resource=\"memory\"} 0.25"));
  EXPECT_TRUE(has("nodepulse_psi_waiting_seconds_total{kind=\"full\",resource=\"memory\"} 0.1"));
  EXPECT_TRUE(has("nodepulse_psi_waiting_seconds_total{kind=\"some\",resource=\"cpu\"} 1"));
  EXPECT_EQ(text().find("kind=\"full\",resource=\"cpu\""), std::string::npos) << "no full line, no series";
  EXPECT_EQ(text().find("resource=\"io\""), std::string::npos) << "io unknown, no series";
  EXPECT_TRUE(has("nodepulse_psi_avg10_ratio{kind=\"some\",resource=\"memory\"} 0.125"));
  EXPECT_TRUE(
      has("nodepulse_target_psi_waiting_seconds_total{kind=\"some\",resource=\"memory\",target=\"trino\"} 0.05"));
  EXPECT_EQ(text().find("nodepulse_target_psi_waiting_seconds_total{kind=\"some\",resource=\"memory\",target=\"zk\"}"),
            std::string::npos);
  EXPECT_TRUE(has("nodepulse_psi_trigger_events_total{scope=\"node\"} 1"));
  EXPECT_TRUE(has("nodepulse_psi_trigger_events_total{scope=\"trino\"} 2"));
  EXPECT_TRUE(has("nodepulse_target_up{target=\"trino\"} 1"));
  EXPECT_TRUE(has("nodepulse_target_up{target=\"zk\"} 0"));

  metrics_.record(mem);  // counters accumulate deltas
  EXPECT_TRUE(has("nodepulse_oom_kills_total{target=\"node\"} 4"));
  EXPECT_TRUE(has("nodepulse_psi_waiting_seconds_total{kind=\"some\",resource=\"memory\"} 0.5"));
  metrics_.set_target_up(0, false);
  EXPECT_TRUE(has("nodepulse_target_up{target=\"trino\"} 0"));
}

// A trigger's series starts at 0 where memory pressure is read, so its first wake-up is an
// increase; where pressure is not read (no PSI, no live target) there is none.
TEST_F(MemMetricsTest, TriggerSeriesStartAtZeroWherePressureIsRead) {
  EXPECT_EQ(text().find("nodepulse_psi_trigger_events_total{"), std::string::npos) << "before any PSI read";
  MemDelta mem;
  PsiDelta psi;
  psi.memory = PsiResourceDelta{PsiKindDelta{0, 0}, PsiKindDelta{0, 0}};
  psi.target_memory = {std::nullopt, PsiResourceDelta{PsiKindDelta{0, 0}, PsiKindDelta{0, 0}}};
  psi.target_trigger_events = {0, 0};
  mem.psi = psi;
  metrics_.record(mem);
  EXPECT_TRUE(has("nodepulse_psi_trigger_events_total{scope=\"node\"} 0")) << text();
  EXPECT_TRUE(has("nodepulse_psi_trigger_events_total{scope=\"zk\"} 0")) << text();
  EXPECT_EQ(text().find("nodepulse_psi_trigger_events_total{scope=\"trino\"}"), std::string::npos)
      << "trino has no live process: its pressure was not read";
}

TEST_F(MemMetricsTest, UnknownPartsLeaveTheSeriesAlone) {
  MemDelta mem;  // probe down, PSI unavailable
  metrics_.record(mem);
  EXPECT_TRUE(has("nodepulse_oom_kills_total{target=\"node\"} 0"));
  EXPECT_EQ(text().find("nodepulse_psi_waiting_seconds_total{"), std::string::npos);
}

}  // namespace
}  // namespace nodepulse
