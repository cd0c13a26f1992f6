// The JVM probe on the real kernel against real HotSpot JVMs (OpenJDK 17): attach to a JVM
// that is made to pause, and check what the probe measured against the JVM's own log of the
// same run — and that nothing is measured without the pauses, or for a JVM not attached.
#include "probes/jvm_probe.h"

#include <bpf/bpf.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "java.h"
#include "probes/libjvm_finder.h"
#include "process.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::TempDir;

// The kernel's BPF links to `probe`'s programs (other processes on the machine may be
// creating and destroying links of their own meanwhile).
size_t count_links_of(const JvmProbe& probe) {
  const std::vector<uint32_t> programs = probe.program_ids();
  size_t count = 0;
  __u32 id = 0;
  while (bpf_link_get_next_id(id, &id) == 0) {
    const int fd = bpf_link_get_fd_by_id(id);
    if (fd < 0) continue;  // destroyed meanwhile
    bpf_link_info info{};
    __u32 length = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &length) == 0 &&
        std::find(programs.begin(), programs.end(), info.prog_id) != programs.end()) {
      ++count;
    }
    ::close(fd);
  }
  return count;
}

uint64_t count_at_or_above(const Log2Histogram& hist, uint64_t ns) {
  uint64_t count = 0;
  for (size_t slot = 0; slot < Log2Histogram::kSlots; ++slot) {
    if ((uint64_t{1} << slot) >= ns) count += hist.slots[slot];
  }
  return count;
}

// Young GCs of ~1.5 ms that copy ~8 MB and never promote (see PauseChurn.churn).
const std::vector<std::string> kChurnHeap = {"-Xmx256m", "-Xmn48m", "-XX:SurvivorRatio=2"};

class JvmProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ROOT();
    classes_ = testing::compile_java("PauseChurn");
  }

  void start_probe(size_t target_count = 1) {
    auto probe = JvmProbe::start({.target_count = target_count});
    ASSERT_TRUE(probe) << probe.error().message;
    probe_ = std::move(*probe);
  }

  ChildProcess start_jvm(const TempDir& dir, std::vector<std::string> options, const std::vector<std::string>& args) {
    const auto logs = testing::pause_log_options(dir / "gc.log", dir / "safepoint.log");
    options.insert(options.end(), logs.begin(), logs.end());
    return testing::start_java(classes_, options, "PauseChurn", args, dir / "stdout.log");
  }

  // The launcher maps libjvm.so a few milliseconds after exec.
  static std::string wait_for_libjvm(pid_t pid) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      auto mapping = find_libjvm("/proc", pid);
      if (mapping && *mapping) {
        auto path = libjvm_attach_path("/proc", pid, **mapping);
        return path ? *path : "";
      }
      std::this_thread::sleep_for(5ms);
    }
    return "";
  }

  void attach(pid_t pid, size_t target_index) {
    const std::string path = wait_for_libjvm(pid);
    ASSERT_FALSE(path.empty()) << "process " << pid << " never mapped libjvm.so";
    auto attached = probe_->attach(pid, target_index, path);
    ASSERT_TRUE(attached) << attached.error().message;
  }

  JvmReading read() {
    auto reading = probe_->read();
    EXPECT_TRUE(reading) << reading.error().message;
    return reading ? *reading : JvmReading{};
  }

  // Stops the JVM so its asynchronous log writer flushes, then reads both logs.
  static std::pair<std::vector<testing::LoggedPause>, std::vector<testing::LoggedPause>> stop_and_read_logs(
      ChildProcess& jvm, const TempDir& dir) {
    jvm.signal(SIGTERM);
    EXPECT_TRUE(jvm.wait_for_exit(10s).has_value()) << "the JVM did not exit on SIGTERM";
    return {testing::parse_gc_log(testing::read_text(dir / "gc.log")),
            testing::parse_safepoint_log(testing::read_text(dir / "safepoint.log"))};
  }

  std::filesystem::path classes_;
  std::unique_ptr<JvmProbe> probe_;
};

TEST_F(JvmProbeTest, LoadsEveryProgramAndAttachesNothingByItself) {
  start_probe();
  std::vector<std::string> names;
  for (const ProgramStats& stats : probe_->program_stats()) names.push_back(stats.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"gc_begin", "gc_end", "safepoint_begin", "safepoint_end"}));
  EXPECT_EQ(probe_->attached_count(), 0u);
  EXPECT_EQ(probe_->program_ids().size(), 4u);
  EXPECT_EQ(count_links_of(*probe_), 0u) << "USDT programs are attached per process, never at load";
  const JvmReading reading = read();
  ASSERT_EQ(reading.targets.size(), 1u);
  EXPECT_EQ(reading.targets[0].gc.count, 0u);
  EXPECT_TRUE(reading.in_progress.empty());
}

// What each probe pair brackets in HotSpot 17, and the log line it is compared with:
//  - hotspot:gc__begin/gc__end fire in SvcGCMarker's constructor and destructor, around one GC
//    VM operation; its GC(N) "Pause ..." lines in -Xlog:gc give the GC's own timer (GCTraceTime),
//    some 25 µs shorter: writing that very line and the operation's bookkeeping after the
//    timer stops fall outside it. So GCs of ~1.5 ms keep the difference near 2%. Serial can log
//    a young and a full GC in one operation, so lines are grouped by their safepoint
//    (gc_operations); this workload avoids such upgrades anyway.
//  - hs_private:safepoint__begin/__end fire in SafepointTracing::begin() and ::end(), right
//    after the timestamps whose difference the "Safepoint ..." line prints as "Total: N ns".
// The log's `tn` timestamps are CLOCK_MONOTONIC like bpf_ktime_get_ns(), so only the pauses
// that began after the probe was attached and ended before the final read are compared.
class JvmPauseAgreement : public JvmProbeTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(JvmPauseAgreement, CountAndTotalDurationOfGcAndSafepointPausesMatchTheJvmLog) {
  start_probe();
  TempDir dir;
  std::vector<std::string> options = kChurnHeap;
  options.push_back(GetParam());
  ChildProcess jvm = start_jvm(dir, options, {"churn", dir.path().string(), "1500"});
  attach(jvm.pid(), 0);
  EXPECT_EQ(count_links_of(*probe_), 4u) << "one link per USDT probe";
  const uint64_t from_ns = testing::monotonic_now_ns();
  const JvmReading baseline = read();

  // Without the fault: the JVM, started up, idles until told to churn, and does not collect.
  ASSERT_TRUE(testing::wait_for_file(dir / "ready", 20s)) << testing::read_text(dir / "stdout.log");
  const JvmReading ready = read();
  std::this_thread::sleep_for(300ms);
  const JvmReading idle = read();
  EXPECT_EQ(idle.targets[0].gc.count, ready.targets[0].gc.count)
      << "GC pauses counted for an idle JVM (" << baseline.targets[0].gc.count << " before it was ready); its GC log:\n"
      << testing::read_text(dir / "gc.log");

  testing::touch(dir / "go");
  ASSERT_TRUE(testing::wait_for_file(dir / "done", 20s)) << testing::read_text(dir / "stdout.log");
  const uint64_t to_ns = testing::monotonic_now_ns();
  const JvmReading final_reading = read();
  EXPECT_EQ(final_reading.untracked_hits, 0u);
  EXPECT_EQ(final_reading.bad_targets, 0u);

  probe_->detach(jvm.pid());
  EXPECT_EQ(count_links_of(*probe_), 0u) << "detach released every link";
  auto [gc_lines, safepoints] = stop_and_read_logs(jvm, dir);
  const auto logged_gcs = testing::pauses_between(testing::gc_operations(gc_lines, safepoints), from_ns, to_ns);
  const auto logged_safepoints = testing::pauses_between(safepoints, from_ns, to_ns);

  const Log2Histogram gc = final_reading.targets[0].gc.since(baseline.targets[0].gc);
  const Log2Histogram safepoint = final_reading.targets[0].safepoint.since(baseline.targets[0].safepoint);
  std::printf("%s: gc: probe %lu pauses %.2f ms, log %zu pauses %.2f ms; safepoint: probe %lu pauses %.2f ms, "
              "log %zu pauses %.2f ms\n",
              GetParam(), gc.count, gc.sum_ns / 1e6, logged_gcs.size(), testing::total_duration_ns(logged_gcs) / 1e6,
              safepoint.count, safepoint.sum_ns / 1e6, logged_safepoints.size(),
              testing::total_duration_ns(logged_safepoints) / 1e6);

  ASSERT_GE(logged_gcs.size(), 50u) << "the churn caused GCs (the fault happened)";
  auto within_10_percent = [](double measured, double truth) { return std::abs(measured - truth) <= 0.1 * truth; };
  EXPECT_TRUE(within_10_percent(gc.count, logged_gcs.size())) << gc.count << " vs " << logged_gcs.size();
  EXPECT_TRUE(within_10_percent(gc.sum_ns, testing::total_duration_ns(logged_gcs)));
  EXPECT_TRUE(within_10_percent(safepoint.count, logged_safepoints.size()))
      << safepoint.count << " vs " << logged_safepoints.size();
  EXPECT_TRUE(within_10_percent(safepoint.sum_ns, testing::total_duration_ns(logged_safepoints)));
  EXPECT_GE(safepoint.sum_ns, gc.sum_ns) << "every GC runs inside a safepoint";
}

INSTANTIATE_TEST_SUITE_P(Collectors, JvmPauseAgreement, ::testing::Values("-XX:+UseSerialGC", "-XX:+UseG1GC"),
                         [](const auto& info) { return std::string(info.param).substr(8, info.param[8] == 'S' ? 6 : 2); });

// The fault: one thread runs a C2-compiled counted loop, which has no safepoint poll, for
// ~1.5 s while another asks for a GC. The VM thread starts the safepoint and then waits for
// that loop to end ("Reaching safepoint" in the log): the JVM is stuck, every other thread
// stopped, and no GC has started yet. This is the classic long time-to-safepoint, and it is
// deterministic, unlike catching a GC with SIGSTOP.
TEST_F(JvmProbeTest, ALongSafepointIsVisibleInProgressWhileItLasts) {
  start_probe();
  TempDir dir;
  // Only C2, compiling in the foreground (-XX:-TieredCompilation -Xbatch): once warmed up,
  // spin() is C2 code for calibration and stall alike, however loaded the machine; with tiered
  // compilation a slow C2 compile could leave calibration timing C1 code and the stall short.
  // -XX:-UseCountedLoopSafepoints (already Serial's default) keeps polls out of the loop.
  ChildProcess jvm =
      start_jvm(dir, {"-XX:+UseSerialGC", "-XX:-TieredCompilation", "-Xbatch", "-XX:-UseCountedLoopSafepoints"},
                {"stall", dir.path().string(), "1200"});
  attach(jvm.pid(), 0);

  // Without the fault: warm-up and calibration run their short pauses only.
  uint64_t longest_before_ns = 0;
  const auto until_ready = std::chrono::steady_clock::now() + 20s;
  while (!std::filesystem::exists(dir / "ready") && std::chrono::steady_clock::now() < until_ready) {
    for (const JvmPauseInProgress& pause : read().in_progress) longest_before_ns = std::max(longest_before_ns, pause.longest_ns());
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(std::filesystem::exists(dir / "ready")) << testing::read_text(dir / "stdout.log");
  EXPECT_LT(longest_before_ns, 100'000'000u) << "a long pause before the fault";
  const JvmReading baseline = read();

  testing::touch(dir / "go");
  // Poll as a health engine would. While the safepoint is being reached no GC has begun; the
  // last readings may catch the GC that runs once it is.
  JvmReading stuck;
  uint64_t longest_reaching_ns = 0;
  uint64_t longest_ns = 0;
  const auto until_done = std::chrono::steady_clock::now() + 15s;
  while (!std::filesystem::exists(dir / "done") && std::chrono::steady_clock::now() < until_done) {
    JvmReading reading = read();
    ASSERT_EQ(reading.in_progress.size(), 1u);
    const JvmPauseInProgress& pause = reading.in_progress[0];
    longest_ns = std::max(longest_ns, pause.longest_ns());
    if (pause.gc_ns == 0 && pause.safepoint_ns > longest_reaching_ns) {
      longest_reaching_ns = pause.safepoint_ns;
      stuck = reading;
    }
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(std::filesystem::exists(dir / "done")) << testing::read_text(dir / "stdout.log");
  ASSERT_GE(longest_reaching_ns, 1'000'000'000u) << "the stuck safepoint was not visible while it lasted; the JVM says:\n"
                                                 << testing::read_text(dir / "stdout.log");
  EXPECT_EQ(count_at_or_above(stuck.targets[0].safepoint.since(baseline.targets[0].safepoint), 500'000'000), 0u)
      << "the reading that showed the pause in progress already had it ended";

  std::this_thread::sleep_for(50ms);
  const JvmReading after = read();
  EXPECT_EQ(after.in_progress[0].safepoint_ns, 0u) << "the pause ended";
  EXPECT_EQ(count_at_or_above(after.targets[0].safepoint.since(baseline.targets[0].safepoint), 500'000'000), 1u)
      << "the ended pause is in the histogram";
  EXPECT_GE(after.targets[0].gc.count - baseline.targets[0].gc.count, 1u) << "System.gc() ran once the loop ended";

  auto [gc_lines, safepoints] = stop_and_read_logs(jvm, dir);
  const auto stalled = std::find_if(safepoints.begin(), safepoints.end(),
                                    [](const auto& p) { return p.reaching_ns >= 1'000'000'000u; });
  ASSERT_NE(stalled, safepoints.end()) << "the JVM's log shows no long time-to-safepoint";
  EXPECT_LE(longest_ns, stalled->duration_ns) << "seen in progress for longer than the JVM says it lasted";
  std::printf("in progress seen up to %.0f ms; the JVM logged %s: reaching %.0f ms, total %.0f ms\n", longest_ns / 1e6,
              stalled->what.c_str(), stalled->reaching_ns / 1e6, stalled->duration_ns / 1e6);
}

TEST_F(JvmProbeTest, PausesOfAJvmNotAttachedAreNotCounted) {
  start_probe(2);
  TempDir target_dir;
  TempDir bystander_dir;
  ChildProcess target = start_jvm(target_dir, {"-XX:+UseSerialGC"}, {"idle", target_dir.path().string()});
  testing::touch(bystander_dir / "go");
  std::vector<std::string> options = kChurnHeap;
  options.push_back("-XX:+UseSerialGC");
  ChildProcess bystander = start_jvm(bystander_dir, options, {"churn", bystander_dir.path().string(), "1500"});
  attach(target.pid(), 0);
  ASSERT_TRUE(testing::wait_for_file(target_dir / "ready", 20s)) << testing::read_text(target_dir / "stdout.log");
  const JvmReading baseline = read();

  ASSERT_TRUE(testing::wait_for_file(bystander_dir / "done", 20s)) << testing::read_text(bystander_dir / "stdout.log");
  const JvmReading reading = read();
  auto [gc_lines, safepoints] = stop_and_read_logs(bystander, bystander_dir);
  ASSERT_GE(gc_lines.size(), 50u) << "the bystander collected (the fault happened)";
  EXPECT_EQ(reading.targets[0].gc.count, baseline.targets[0].gc.count) << "the idle target did not collect";
  EXPECT_EQ(reading.targets[1].gc.count, 0u);
  EXPECT_EQ(reading.targets[1].safepoint.count, 0u);
  EXPECT_EQ(reading.untracked_hits, 0u) << "the bystander's probes fired into our programs";
  ASSERT_EQ(reading.in_progress.size(), 1u);
  EXPECT_EQ(reading.in_progress[0].tgid, target.pid());
}

// A process with a libjvm.so that is not HotSpot's (or has no USDT notes): refused with a
// message saying so, and nothing left attached or registered.
TEST_F(JvmProbeTest, ALibjvmWithoutHotspotProbesIsRefusedClearly) {
  start_probe();
  TempDir dir;
  const std::filesystem::path fake = dir / "libjvm.so";
  std::filesystem::copy_file("/lib/x86_64-linux-gnu/libm.so.6", fake);
  ChildProcess process = ChildProcess::spawn({"env", "LD_PRELOAD=" + fake.string(), "sleep", "30"});
  const std::string path = wait_for_libjvm(process.pid());
  ASSERT_FALSE(path.empty());

  auto attached = probe_->attach(process.pid(), 0, path);
  ASSERT_FALSE(attached);
  EXPECT_NE(attached.error().message.find("has no USDT probe hotspot:gc__begin"), std::string::npos)
      << attached.error().message;
  EXPECT_NE(attached.error().message.find("not a HotSpot JVM"), std::string::npos);
  EXPECT_FALSE(probe_->attached(process.pid()));
  EXPECT_EQ(count_links_of(*probe_), 0u);
  EXPECT_TRUE(read().in_progress.empty());

  // And a process with no libjvm.so at all is simply not a JVM.
  ChildProcess sleeper = ChildProcess::spawn({"sleep", "30"});
  std::this_thread::sleep_for(50ms);
  auto mapping = find_libjvm("/proc", sleeper.pid());
  ASSERT_TRUE(mapping) << mapping.error().message;
  EXPECT_FALSE(mapping->has_value());
}

}  // namespace
}  // namespace nodepulse
