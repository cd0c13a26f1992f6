// PSI parsing and reading over fixture /proc trees, cgroup path resolution for the v1, hybrid
// and v2 layouts, and the PSI delta tracker. No privileges, no real /proc.
#include "collect/psi.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "fake_proc.h"

namespace nodepulse {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(NODEPULSE_SOURCE_DIR) / "tests/unit/fixtures/psi";

PsiLine line(double avg10, double avg60, double avg300, uint64_t total_us) {
  return PsiLine{avg10, avg60, avg300, total_us};
}

// ---- parse_psi

TEST(PsiParse, SomeAndFull) {
  const auto stats = parse_psi(
      "some avg10=6.44 avg60=2.32 avg300=1.71 total=36577997\n"
      "full avg10=5.66 avg60=2.09 avg300=1.62 total=35728420\n");
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->some, line(6.44, 2.32, 1.71, 36577997));
  EXPECT_EQ(stats->full, line(5.66, 2.09, 1.62, 35728420));
}

TEST(PsiParse, AcceptedVariants) {
  struct Case {
    const char* description;
    const char* text;
    PsiStats expected;
  };
  const Case cases[] = {
      {"cpu before 5.13: no full line", "some avg10=12.50 avg60=3.00 avg300=0.75 total=9876543210\n",
       {line(12.5, 3.0, 0.75, 9876543210), std::nullopt}},
      {"no trailing newline", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1",
       {line(0, 0, 0, 1), std::nullopt}},
      {"fields in another order, an unknown field, extra spaces",
       "some  total=5 avg300=0.01  avg60=0.02 avg10=0.03 avg1200=9.99\n",
       {line(0.03, 0.02, 0.01, 5), std::nullopt}},
      {"an unknown line from a later kernel is skipped",
       "some avg10=1.00 avg60=1.00 avg300=1.00 total=10\nbusy avg10=x\n"
       "full avg10=0.50 avg60=0.50 avg300=0.50 total=4\n",
       {line(1, 1, 1, 10), line(0.5, 0.5, 0.5, 4)}},
      {"blank lines", "\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=0\n\n", {line(0, 0, 0, 0), std::nullopt}},
      {"a total past 2^32", "some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551615\n",
       {line(0, 0, 0, 18446744073709551615u), std::nullopt}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    const auto stats = parse_psi(c.text);
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(*stats, c.expected);
  }
}

TEST(PsiParse, RejectsGarbage) {
  struct Case {
    const char* description;
    const char* text;
    const char* message_part;
  };
  const Case cases[] = {
      {"empty", "", "no 'some' line"},
      {"only a full line", "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", "no 'some' line"},
      {"not PSI at all", "hello world\n", "no 'some' line"},
      {"empty total", "some avg10=0.00 avg60=0.00 avg300=0.00 total=\n", "line 1: bad number in 'total='"},
      {"word for a number", "some avg10=zero avg60=0.00 avg300=0.00 total=1\n", "bad number in 'avg10=zero'"},
      {"negative total", "some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n", "bad number in 'total=-1'"},
      {"missing total", "some avg10=0.00 avg60=0.00 avg300=0.00\n", "expected avg10=, avg60=, avg300= and total="},
      {"no key=value", "some avg10 0.00\n", "expected key=value, got 'avg10'"},
      {"garbage in full", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=zero\n", "line 2:"},
      {"two some lines",
       "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
       "line 2: a second 'some' line"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    const auto stats = parse_psi(c.text);
    ASSERT_FALSE(stats);
    EXPECT_NE(stats.error().message.find(c.message_part), std::string::npos) << stats.error().message;
  }
}

// ---- read_psi_file over fixture proc roots

TEST(PsiRead, EveryResourceOfA6xKernel) {
  const std::filesystem::path proc = kFixtures / "linux-6.6";
  for (PsiResource resource : {PsiResource::kCpu, PsiResource::kMemory, PsiResource::kIo}) {
    SCOPED_TRACE(psi_resource_name(resource));
    const auto stats = read_psi_file(node_pressure_file(proc, resource));
    ASSERT_TRUE(stats) << stats.error().message;
    ASSERT_TRUE(stats->has_value());
    EXPECT_TRUE((*stats)->some.has_value());
    EXPECT_TRUE((*stats)->full.has_value());
  }
  const auto memory = read_psi_file(node_pressure_file(proc, PsiResource::kMemory));
  ASSERT_TRUE(memory && memory->has_value());
  EXPECT_EQ((*memory)->some, line(6.44, 2.32, 1.71, 36577997));
  EXPECT_EQ((*memory)->full, line(5.66, 2.09, 1.62, 35728420));
}

TEST(PsiRead, CpuOfAnOlderKernelHasNoFull) {
  const auto cpu = read_psi_file(node_pressure_file(kFixtures / "linux-5.10", PsiResource::kCpu));
  ASSERT_TRUE(cpu) << cpu.error().message;
  ASSERT_TRUE(cpu->has_value());
  EXPECT_EQ((*cpu)->some, line(12.5, 3.0, 0.75, 9876543210));
  EXPECT_FALSE((*cpu)->full.has_value());
}

TEST(PsiRead, MissingFileMeansUnavailableNotAnError) {
  testing::FakeProc proc;  // an empty /proc: a kernel without PSI (CONFIG_PSI=n or psi=0)
  for (PsiResource resource : {PsiResource::kCpu, PsiResource::kMemory, PsiResource::kIo}) {
    SCOPED_TRACE(psi_resource_name(resource));
    const auto stats = read_psi_file(node_pressure_file(proc.proc(), resource));
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_FALSE(stats->has_value());
  }
  const auto io = read_psi_file(node_pressure_file(kFixtures / "garbage", PsiResource::kIo));
  ASSERT_TRUE(io);
  EXPECT_FALSE(io->has_value());
}

TEST(PsiRead, GarbageIsAnErrorNamingTheFile) {
  for (PsiResource resource : {PsiResource::kCpu, PsiResource::kMemory}) {
    SCOPED_TRACE(psi_resource_name(resource));
    const std::filesystem::path file = node_pressure_file(kFixtures / "garbage", resource);
    const auto stats = read_psi_file(file);
    ASSERT_FALSE(stats);
    EXPECT_NE(stats.error().message.find(file.string()), std::string::npos) << stats.error().message;
  }
}

TEST(PsiRead, NodePressureFileNamesTheResource) {
  EXPECT_EQ(node_pressure_file("/proc", PsiResource::kCpu), "/proc/pressure/cpu");
  EXPECT_EQ(node_pressure_file("/proc", PsiResource::kMemory), "/proc/pressure/memory");
  EXPECT_EQ(node_pressure_file("/x/proc", PsiResource::kIo), "/x/proc/pressure/io");
}

// ---- /proc/PID/cgroup and the cgroup layouts

TEST(PsiCgroupPath, ParsesProcCgroupOfEveryLayout) {
  struct Case {
    const char* description;
    const char* text;
    ProcCgroup expected;
  };
  const Case cases[] = {
      {"pure v2", "0::/system.slice/trino.service\n", {"/system.slice/trino.service", std::nullopt}},
      {"hybrid: v1 controllers plus the unified line",
       "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/b23bb5c2\n3:cpuset:/\n1:cpu:/\n0::/user.slice\n",
       {"/user.slice", "/process_api/b23bb5c2"}},
      {"pure v1: no 0:: line", "5:memory:/trino\n2:cpu,cpuacct:/trino\n", {std::nullopt, "/trino"}},
      {"memory co-mounted with another controller", "3:blkio,memory:/a/b\n", {std::nullopt, "/a/b"}},
      {"a path with colons", "0::/kubepods/pod:abc:1\n", {"/kubepods/pod:abc:1", std::nullopt}},
      {"the root cgroup", "0::/\n", {"/", std::nullopt}},
      {"garbage lines are skipped", "hello\n1:\n0::relative\n0::/ok\n", {"/ok", std::nullopt}},
      {"empty", "", {std::nullopt, std::nullopt}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    EXPECT_EQ(parse_proc_cgroup(c.text), c.expected);
  }
}

// A fake /sys/fs/cgroup: the marker files that tell the layouts apart.
class FakeCgroupRoot {
 public:
  enum class Layout { kV2, kHybrid, kV1 };
  explicit FakeCgroupRoot(Layout layout) : root_(proc_.root() / "cgroup") {
    std::filesystem::create_directories(root_);
    if (layout == Layout::kV2) {
      testing::FakeProc::write_file(root_ / "cgroup.controllers", "cpuset cpu io memory pids\n");
      return;
    }
    std::filesystem::create_directories(root_ / "memory");
    testing::FakeProc::write_file(root_ / "memory" / "cgroup.procs", "");
    if (layout == Layout::kHybrid) {
      std::filesystem::create_directories(root_ / "unified");
      testing::FakeProc::write_file(root_ / "unified" / "cgroup.controllers", "");
    }
  }
  const std::filesystem::path& root() const { return root_; }
  testing::FakeProc& proc() { return proc_; }

 private:
  testing::FakeProc proc_;
  std::filesystem::path root_;
};

TEST(PsiCgroupPath, DetectsTheLayout) {
  FakeCgroupRoot v2(FakeCgroupRoot::Layout::kV2);
  EXPECT_EQ(detect_cgroup_mounts(v2.root()), (CgroupMounts{v2.root(), std::nullopt}));
  FakeCgroupRoot hybrid(FakeCgroupRoot::Layout::kHybrid);
  EXPECT_EQ(detect_cgroup_mounts(hybrid.root()), (CgroupMounts{hybrid.root() / "unified", hybrid.root() / "memory"}));
  FakeCgroupRoot v1(FakeCgroupRoot::Layout::kV1);
  EXPECT_EQ(detect_cgroup_mounts(v1.root()), (CgroupMounts{std::nullopt, v1.root() / "memory"}));
  EXPECT_EQ(detect_cgroup_mounts("/nonexistent/cgroup"), (CgroupMounts{}));
}

TEST(PsiCgroupPath, MemoryPressureFileOfAProcess) {
  struct Case {
    const char* description;
    FakeCgroupRoot::Layout layout;
    const char* proc_cgroup;
    std::optional<std::string> expected;  // relative to the fake cgroup root
  };
  const Case cases[] = {
      {"pure v2", FakeCgroupRoot::Layout::kV2, "0::/system.slice/trino.service\n",
       "system.slice/trino.service/memory.pressure"},
      {"pure v2, root cgroup", FakeCgroupRoot::Layout::kV2, "0::/\n", "memory.pressure"},
      {"hybrid: the unified cgroup, not the v1 memory one", FakeCgroupRoot::Layout::kHybrid,
       "4:memory:/process_api/b23bb5c2\n0::/user.slice/session-1.scope\n",
       "unified/user.slice/session-1.scope/memory.pressure"},
      {"pure v1: no PSI for cgroups", FakeCgroupRoot::Layout::kV1, "4:memory:/trino\n", std::nullopt},
      {"v2 mounted but the process has no 0:: line", FakeCgroupRoot::Layout::kV2, "4:memory:/trino\n", std::nullopt},
      {"a '..' component is refused", FakeCgroupRoot::Layout::kV2, "0::/a/../../etc\n", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    FakeCgroupRoot fake(c.layout);
    fake.proc().add_process(4242, {"java"}, "java", c.proc_cgroup);
    const auto cgroup = read_proc_cgroup(fake.proc().proc(), 4242);
    ASSERT_TRUE(cgroup) << cgroup.error().message;
    const auto file = memory_pressure_file(detect_cgroup_mounts(fake.root()), *cgroup);
    if (c.expected) {
      ASSERT_TRUE(file.has_value());
      EXPECT_EQ(*file, fake.root() / *c.expected);
    } else {
      EXPECT_FALSE(file.has_value()) << *file;
    }
  }
}

TEST(PsiCgroupPath, GoneProcessIsAnError) {
  testing::FakeProc proc;
  const auto cgroup = read_proc_cgroup(proc.proc(), 999999);
  ASSERT_FALSE(cgroup);
  EXPECT_NE(cgroup.error().message.find("999999/cgroup"), std::string::npos) << cgroup.error().message;
}

// ---- PsiDeltaTracker

TEST(PsiDelta, FirstReadingIsTheBaselineThenDeltas) {
  PsiDeltaTracker tracker;
  const PsiResourceDelta first = tracker.next({line(1.5, 0, 0, 1'000'000), line(0.5, 0, 0, 400'000)});
  EXPECT_EQ(first.some, (PsiKindDelta{0, 1.5})) << "since boot is not since the agent started";
  EXPECT_EQ(first.full, (PsiKindDelta{0, 0.5}));

  const PsiResourceDelta second = tracker.next({line(2.5, 0, 0, 1'250'000), line(0.7, 0, 0, 400'100)});
  EXPECT_EQ(second.some, (PsiKindDelta{250'000, 2.5}));
  EXPECT_EQ(second.full, (PsiKindDelta{100, 0.7}));

  tracker.reset();  // e.g. the target moved to another cgroup
  const PsiResourceDelta after_reset = tracker.next({line(0, 0, 0, 5), std::nullopt});
  EXPECT_EQ(after_reset.some, (PsiKindDelta{0, 0}));
  EXPECT_FALSE(after_reset.full.has_value()) << "no full line, no full delta";
}

TEST(PsiDelta, TotalGoingBackwardsCountsAsARestart) {
  PsiDeltaTracker tracker;
  tracker.next({line(0, 0, 0, 9'000), std::nullopt});
  // The same path now names a recreated cgroup whose total started again from 0.
  const PsiResourceDelta delta = tracker.next({line(0, 0, 0, 300), line(0, 0, 0, 100)});
  EXPECT_EQ(delta.some->stalled_us, 300u);
  EXPECT_EQ(delta.full->stalled_us, 0u) << "full appears for the first time: baseline";
}

// ---- PsiStallWindow: the kernel trigger's rule, checked on readings

TEST(PsiStallWindow, FiresOnceTheStallWithinAWindowReachesTheThreshold) {
  PsiStallWindow window(/*stall_us=*/100'000, /*window_us=*/1'000'000);
  EXPECT_FALSE(window.update(0, 5'000'000)) << "one reading is no growth";
  EXPECT_FALSE(window.update(250'000, 5'040'000));
  EXPECT_FALSE(window.update(500'000, 5'090'000)) << "90 ms so far";
  EXPECT_TRUE(window.update(750'000, 5'100'000)) << "100 ms within the first window";
}

TEST(PsiStallWindow, AtMostOncePerWindow) {
  PsiStallWindow window(100'000, 1'000'000);
  window.update(0, 0);
  EXPECT_TRUE(window.update(250'000, 200'000));
  EXPECT_FALSE(window.update(500'000, 400'000)) << "reported 250 ms ago";
  EXPECT_FALSE(window.update(1'000'000, 600'000));
  EXPECT_TRUE(window.update(1'250'000, 800'000)) << "a window later, still stalling";
}

TEST(PsiStallWindow, OnlyTheLastWindowCounts) {
  PsiStallWindow window(100'000, 1'000'000);
  // 30 ms per 250 ms: 120 ms per second over a window, but only once a window is covered.
  EXPECT_FALSE(window.update(0, 0));
  EXPECT_FALSE(window.update(250'000, 30'000));
  EXPECT_FALSE(window.update(500'000, 60'000));
  EXPECT_FALSE(window.update(750'000, 90'000));
  EXPECT_TRUE(window.update(1'000'000, 120'000));
  // Then a slow trickle: 10 ms per 250 ms is 40 ms per window, below the threshold once the
  // old stall has left the window.
  uint64_t total = 120'000;
  bool fired = false;
  for (uint64_t now = 2'250'000; now <= 5'000'000; now += 250'000) {
    total += 10'000;
    fired = fired || window.update(now, total);
  }
  EXPECT_FALSE(fired);
}

TEST(PsiStallWindow, TotalGoingBackwardsStartsOver) {
  PsiStallWindow window(100'000, 1'000'000);
  window.update(0, 900'000);
  EXPECT_FALSE(window.update(250'000, 10'000)) << "a recreated cgroup, not negative stall";
  EXPECT_TRUE(window.update(500'000, 150'000));
}

TEST(PsiTrigger, MissingFileSaysPsiIsUnavailable) {
  testing::FakeProc proc;
  const auto trigger = PsiTrigger::arm(node_pressure_file(proc.proc(), PsiResource::kMemory), 150000, 2000000);
  ASSERT_FALSE(trigger);
  EXPECT_NE(trigger.error().message.find("PSI is not available"), std::string::npos) << trigger.error().message;
}

}  // namespace
}  // namespace nodepulse
