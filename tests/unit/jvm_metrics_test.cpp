// The JVM metrics as Prometheus text: names, labels and values.
#include "metrics/jvm_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <string>

namespace nodepulse {
namespace {

class JvmMetricsTest : public ::testing::Test {
 protected:
  std::string text() const { return prometheus::TextSerializer().Serialize(registry_.Collect()); }
  bool has(const std::string& line) const { return text().find(line + "\n") != std::string::npos; }

  prometheus::Registry registry_;
  JvmMetrics metrics_{registry_, {"trino", "zk"}};
};

TEST_F(JvmMetricsTest, SeriesBeforeAnySample) {
  EXPECT_TRUE(has("nodepulse_jvm_pause_seconds_count{kind=\"gc\",target=\"trino\"} 0"));
  EXPECT_TRUE(has("nodepulse_jvm_pause_seconds_count{kind=\"safepoint\",target=\"zk\"} 0"));
  EXPECT_TRUE(has("nodepulse_jvm_pause_in_progress_seconds{target=\"trino\"} 0"));
  EXPECT_TRUE(has("nodepulse_jvm_probes_attached{target=\"zk\"} 0"));
  EXPECT_TRUE(has("nodepulse_jvm_processes_without_probes{target=\"zk\"} 0"));
}

TEST_F(JvmMetricsTest, RecordsPausesInProgressAndAttachment) {
  JvmDelta delta;
  delta.targets.resize(2);
  JvmTargetDelta& trino = delta.targets[0];
  trino.gc_pauses.slots[21] = 4;  // [2, 4) ms
  trino.gc_pauses.count = 4;
  trino.gc_pauses.sum_ns = 12'000'000;
  trino.safepoint_pauses.slots[21] = 4;
  trino.safepoint_pauses.slots[30] = 1;  // [1.07, 2.15) s
  trino.safepoint_pauses.count = 5;
  trino.safepoint_pauses.sum_ns = 12'500'000 + 1'500'000'000;
  trino.pause_in_progress_ns = 750'000'000;
  trino.processes_attached = 1;
  delta.targets[1].processes_without_probes = 1;
  metrics_.record(delta);
  metrics_.record(delta);  // histograms accumulate; gauges are set

  EXPECT_TRUE(has("nodepulse_jvm_pause_seconds_count{kind=\"gc\",target=\"trino\"} 8"));
  EXPECT_TRUE(has("nodepulse_jvm_pause_seconds_sum{kind=\"gc\",target=\"trino\"} 0.024"));
  EXPECT_TRUE(has("nodepulse_jvm_pause_seconds_bucket{kind=\"gc\",target=\"trino\",le=\"0.004194304\"} 8"));
  EXPECT_TRUE(has("nodepulse_jvm_pause_seconds_bucket{kind=\"gc\",target=\"trino\",le=\"0.002097152\"} 0"));
  EXPECT_TRUE(has("nodepulse_jvm_pause_seconds_count{kind=\"safepoint\",target=\"trino\"} 10"));
  EXPECT_TRUE(has("nodepulse_jvm_pause_seconds_bucket{kind=\"safepoint\",target=\"trino\",le=\"1.073741824\"} 8"));
  EXPECT_TRUE(has("nodepulse_jvm_pause_seconds_bucket{kind=\"safepoint\",target=\"trino\",le=\"2.147483648\"} 10"));
  EXPECT_TRUE(has("nodepulse_jvm_pause_in_progress_seconds{target=\"trino\"} 0.75"));
  EXPECT_TRUE(has("nodepulse_jvm_probes_attached{target=\"trino\"} 1"));
  EXPECT_TRUE(has("nodepulse_jvm_processes_without_probes{target=\"zk\"} 1"));
  EXPECT_TRUE(has("nodepulse_jvm_pause_seconds_count{kind=\"gc\",target=\"zk\"} 0"));

  delta.targets[0].pause_in_progress_ns = 0;
  metrics_.record(delta);
  EXPECT_TRUE(has("nodepulse_jvm_pause_in_progress_seconds{target=\"trino\"} 0"));
}

}  // namespace
}  // namespace nodepulse
