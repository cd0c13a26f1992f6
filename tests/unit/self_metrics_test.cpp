// The agent's own cost metrics: /proc parsing from fixture trees (and the real /proc/self), and
// BPF program statistics turned from the kernel's cumulative figures into counters.
#include "metrics/self_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace nodepulse {
namespace {

class FixtureDir {
 public:
  FixtureDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nodepulse_self.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~FixtureDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path_ / name) << text; }

 private:
  std::filesystem::path path_;
};

// proc(5) stat: pid (comm) state, then fields 4..; utime 14, stime 15, num_threads 20.
std::string stat_line(const std::string& comm, uint64_t utime, uint64_t stime, uint64_t threads) {
  return "4242 (" + comm + ") S 1 4242 4242 0 -1 4194560 100 0 0 0 " + std::to_string(utime) + " " +
         std::to_string(stime) + " 0 0 20 0 " + std::to_string(threads) + " 0 12345 1000000 200\n";
}

TEST(ReadProcessUsage, ReadsCpuMemoryFdsAndThreads) {
  FixtureDir dir;
  dir.write("stat", stat_line("nodepulse) (x", 500, 250, 7));  // a comm with ") (" in it
  dir.write("statm", "10000 300 100 10 0 500 0\n");
  std::filesystem::create_directory(dir.path() / "fd");
  for (const char* fd : {"0", "1", "2"}) dir.write(std::string("fd/") + fd, "");
  const auto usage = read_process_usage(dir.path());
  ASSERT_TRUE(usage) << usage.error().message;
  EXPECT_DOUBLE_EQ(usage->cpu_seconds, 750.0 / static_cast<double>(::sysconf(_SC_CLK_TCK)));
  EXPECT_EQ(usage->resident_bytes, 300u * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
  EXPECT_EQ(usage->open_fds, 3u);
  EXPECT_EQ(usage->threads, 7u);
}

TEST(ReadProcessUsage, FailsOnAMissingOrGarbledStat) {
  FixtureDir dir;
  EXPECT_FALSE(read_process_usage(dir.path()));
  dir.write("stat", "garbage");
  EXPECT_FALSE(read_process_usage(dir.path()));
}

TEST(ReadProcessUsage, ReadsThisProcess) {
  const auto usage = read_process_usage("/proc/self");
  ASSERT_TRUE(usage) << usage.error().message;
  EXPECT_GE(usage->threads, 1u);
  EXPECT_GT(usage->resident_bytes, 0u);
  EXPECT_GE(usage->open_fds, 3u);
}

double value(prometheus::Registry& registry, const std::string& name, const std::string& program) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "program" && label.value == program) return metric.counter.value;
      }
    }
  }
  return -1;
}

TEST(SelfMetrics, ProgramStatisticsBecomeCountersThatNeverGoDown) {
  prometheus::Registry registry;
  SelfMetrics metrics(registry);
  metrics.set_bpf_stats_enabled(true);
  metrics.record_programs("sched", {{"sched_switch", 1'000, 10}});
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_run_seconds_total", "sched_switch"), 1e-6);
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_run_count_total", "sched_switch"), 10);
  metrics.record_programs("sched", {{"sched_switch", 3'000, 25}});
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_run_seconds_total", "sched_switch"), 3e-6);
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_run_count_total", "sched_switch"), 25);
  // Reloaded: the kernel's figures restart; the counters go on from where they were.
  metrics.record_programs("sched", {{"sched_switch", 500, 4}});
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_run_seconds_total", "sched_switch"), 3.5e-6);
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_run_count_total", "sched_switch"), 29);
}

// Whether BPF statistics are on is always exported (0 by default), so a dashboard can say they
// are off where nodepulse_bpf_run_* have no series.
TEST(SelfMetrics, SaysWhetherBpfStatisticsAreOn) {
  prometheus::Registry registry;
  SelfMetrics metrics(registry);
  const auto enabled = [&registry] {
    for (const auto& family : registry.Collect()) {
      if (family.name == "nodepulse_bpf_stats_enabled") return family.metric.at(0).gauge.value;
    }
    return -1.0;
  };
  EXPECT_EQ(enabled(), 0);
  metrics.set_bpf_stats_enabled(true);
  EXPECT_EQ(enabled(), 1);
  metrics.set_bpf_stats_enabled(false);
  EXPECT_EQ(enabled(), 0);
}

TEST(SelfMetrics, NoProgramSeriesUntilStatisticsAreRecorded) {
  prometheus::Registry registry;
  SelfMetrics metrics(registry);
  metrics.record_process();
  for (const auto& family : registry.Collect()) {
    if (family.name.starts_with("nodepulse_bpf_run_") || family.name == "nodepulse_bpf_missed_runs_total") {
      EXPECT_TRUE(family.metric.empty()) << family.name;
    }
    if (family.name == "nodepulse_process_threads") {
      EXPECT_GE(family.metric.at(0).gauge.value, 1);
    }
  }
}

// Missed runs are counted with BPF statistics off, where run time and count stay unexported
// (the kernel's figures would be a false 0).
TEST(SelfMetrics, MissedRunsAreCountedWithStatisticsOff) {
  prometheus::Registry registry;
  SelfMetrics metrics(registry);
  metrics.record_programs("net", {{"tp_inet_sock_set_state", 0, 0, 2}});
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_missed_runs_total", "tp_inet_sock_set_state"), 2);
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_run_count_total", "tp_inet_sock_set_state"), -1) << "no series";
  metrics.record_programs("net", {{"tp_inet_sock_set_state", 0, 0, 5}});
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_missed_runs_total", "tp_inet_sock_set_state"), 5);
  // Statistics turned on later: run figures join from then; missed runs go on.
  metrics.set_bpf_stats_enabled(true);
  metrics.record_programs("net", {{"tp_inet_sock_set_state", 2'000, 7, 6}});
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_run_count_total", "tp_inet_sock_set_state"), 7);
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_missed_runs_total", "tp_inet_sock_set_state"), 6);
  // Reloaded: the kernel's figures restart from 0.
  metrics.record_programs("net", {{"tp_inet_sock_set_state", 100, 1, 1}});
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_missed_runs_total", "tp_inet_sock_set_state"), 7);
  EXPECT_DOUBLE_EQ(value(registry, "nodepulse_bpf_run_count_total", "tp_inet_sock_set_state"), 8);
}

}  // namespace
}  // namespace nodepulse
