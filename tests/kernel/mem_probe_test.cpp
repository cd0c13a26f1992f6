// The mem probe on the real kernel: a process in a 64 MiB memory cgroup that touches more than
// that stalls in memcg reclaim, then is OOM-killed — and neither happens to the same process in
// a cgroup with room to spare.
#include "probes/mem_probe.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "cgroup.h"
#include "kernel_support.h"
#include "process.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::MemoryCgroup;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr const char* kAllocatorComm = "np_mem_hog";

// A child in `cgroup` that, once told to go, touches `bytes` of fresh anonymous memory page by
// page (a bounded loop; the fork deadline bounds its time) and exits 0.
class Allocator : public testing::GatedChild {
 public:
  Allocator(const MemoryCgroup& cgroup, uint64_t bytes) : GatedChild(cgroup, [bytes] { touch(bytes); }) {}

 private:
  static void touch(uint64_t bytes) {
    ::prctl(PR_SET_NAME, kAllocatorComm);
    void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) ::_exit(4);
    auto* pages = static_cast<volatile char*>(memory);
    for (uint64_t offset = 0; offset < bytes; offset += 4096) pages[offset] = 1;
  }
};

// How the programs attach and how events travel; every case runs on each.
struct Variant {
  AttachPath attach;
  EventTransport events;
  const char* name;
  bool as_5_4 = false;  // auto paths on this kernel posing as 5.4: `attach` and `events` are what it must pick
};

void PrintTo(const Variant& variant, std::ostream* out) { *out << variant.name; }

const Variant kVariants[] = {
    {AttachPath::kTpBtf, EventTransport::kRingBuffer, "TpBtf"},
    {AttachPath::kRawTp, EventTransport::kPerfBuffer, "AsLinux54", true},
    {AttachPath::kTracepoint, EventTransport::kRingBuffer, "Tracepoint"},
};

class MemProbeTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ROOT();
    if (!MemoryCgroup::detect()) GTEST_SKIP() << "no cgroup memory controller";
  }

  void start_probe(MemProbe::OomHook hook = MemProbe::OomHook::kAuto) {
    const MemProbe::Options options{.target_count = 1,
                                    .oom_hook = hook,
                                    .paths = GetParam().as_5_4 ? PathRequest{}
                                                               : PathRequest{.attach = GetParam().attach,
                                                                             .events = GetParam().events},
                                    .kernel = GetParam().as_5_4 ? std::optional(testing::as_linux_5_4()) : std::nullopt};
    auto probe = MemProbe::start(options, [this](const OomEvent& event) { events_.push_back(event); });
    ASSERT_TRUE(probe) << probe.error().message;
    probe_ = std::move(*probe);
    ASSERT_EQ(probe_->attach_path(), GetParam().attach);
    ASSERT_EQ(probe_->event_transport(), GetParam().events);
    auto baseline = probe_->read();
    ASSERT_TRUE(baseline) << baseline.error().message;
    baseline_ = *baseline;
  }

  // Waits for `child` to exit (draining the ring buffer meanwhile) and returns its status.
  std::optional<int> wait_for(Allocator& allocator, std::chrono::seconds timeout) {
    ChildProcess& child = allocator.child();
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      probe_->consume_events();
      if (auto status = child.wait_for_exit(20ms)) {
        probe_->consume_events();
        return status;
      }
    }
    return std::nullopt;
  }

  MemReading read_now() {
    probe_->consume_events();
    auto reading = probe_->read();
    EXPECT_TRUE(reading) << reading.error().message;
    return reading ? *reading : MemReading{};
  }

  std::vector<OomEvent> oom_events_of(pid_t pid) const {
    std::vector<OomEvent> found;
    std::copy_if(events_.begin(), events_.end(), std::back_inserter(found),
                 [pid](const OomEvent& event) { return event.pid == pid || event.tgid == pid; });
    return found;
  }

  std::unique_ptr<MemProbe> probe_;
  MemReading baseline_;
  std::vector<OomEvent> events_;
};

TEST_P(MemProbeTest, LoadsAndAttachesEveryProgram) {
  start_probe();
  std::set<std::string> names;
  for (const ProgramStats& stats : probe_->program_stats()) names.insert(stats.name);
  const bool btf_oom = probe_->oom_hook() == MemProbe::OomHook::kBtf;
  switch (GetParam().attach) {
    case AttachPath::kTpBtf:
      EXPECT_EQ(names, (std::set<std::string>{btf_oom ? "mark_victim" : "mark_victim_legacy",
                                              "mm_vmscan_direct_reclaim_begin", "mm_vmscan_direct_reclaim_end",
                                              "mm_vmscan_memcg_reclaim_begin", "mm_vmscan_memcg_reclaim_end"}));
      break;
    case AttachPath::kRawTp:
      EXPECT_EQ(names, (std::set<std::string>{btf_oom ? "raw_mark_victim" : "mark_victim_legacy", "raw_direct_begin",
                                              "raw_direct_end", "raw_memcg_begin", "raw_memcg_end"}));
      break;
    case AttachPath::kTracepoint:
      EXPECT_FALSE(btf_oom) << "the classic record has the victim's pid only";
      EXPECT_EQ(names, (std::set<std::string>{"mark_victim_legacy", "tp_direct_begin", "tp_direct_end",
                                              "tp_memcg_begin", "tp_memcg_end"}));
      break;
  }
  EXPECT_NE(probe_->oom_hook(), MemProbe::OomHook::kAuto);
  EXPECT_TRUE(probe_->measures_memcg_reclaim());
  const MemReading reading = read_now();
  EXPECT_EQ(reading.targets.size(), 1u);
  EXPECT_EQ(reading.dropped_events, 0u);
}

TEST_P(MemProbeTest, CgroupAtItsLimitStallsTheTargetInReclaimThenOomKillsIt) {
  start_probe();
  MemoryCgroup cgroup(64 * kMiB);
  Allocator allocator(cgroup, 256 * kMiB);
  const pid_t pid = allocator.pid();
  ASSERT_TRUE(probe_->add_target(pid, 0));
  allocator.go();

  const auto status = wait_for(allocator, 20s);
  ASSERT_TRUE(status.has_value()) << "the allocator neither finished nor died";
  ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << "status " << *status << ": not OOM-killed";
  const MemReading reading = read_now();

  const ReclaimReading& target = reading.targets.at(0);
  const uint64_t stalls = target.memcg.count - baseline_.targets[0].memcg.count;
  EXPECT_GE(stalls, 1u) << "no memcg reclaim pass of the target was measured";
  EXPECT_GT(target.memcg.sum_ns - baseline_.targets[0].memcg.sum_ns, 0u);
  EXPECT_GE(reading.node.memcg.count - baseline_.node.memcg.count, stalls) << "the node includes the target";
  EXPECT_EQ(target.oom_kills - baseline_.targets[0].oom_kills, 1u);
  EXPECT_GE(reading.node.oom_kills - baseline_.node.oom_kills, 1u);

  const auto kills = oom_events_of(pid);
  ASSERT_EQ(kills.size(), 1u) << "no OOM-kill event naming the allocator";
  const OomEvent& kill = kills[0];
  EXPECT_EQ(kill.pid, pid);
  EXPECT_EQ(kill.tgid, pid);
  EXPECT_EQ(kill.target_index, 0);
  EXPECT_GT(kill.ts_ns, 0u);
  if (probe_->oom_hook() == MemProbe::OomHook::kBtf) {
    EXPECT_FALSE(kill.pid_only);
    EXPECT_EQ(kill.comm, kAllocatorComm);
    EXPECT_EQ(kill.memcg_id, MemoryCgroup::cgroup_id(cgroup.memory_dir())) << "the memory cgroup at its limit";
    if (cgroup.unified_dir()) {
      EXPECT_EQ(kill.cgroup_id, MemoryCgroup::cgroup_id(*cgroup.unified_dir())) << "the victim's v2 cgroup";
    }
  }
}

TEST_P(MemProbeTest, CgroupWithRoomHasNoReclaimStallAndNoOomKill) {
  start_probe();
  MemoryCgroup cgroup(1024 * kMiB);
  Allocator allocator(cgroup, 128 * kMiB);  // twice the limit that fails above
  const pid_t pid = allocator.pid();
  ASSERT_TRUE(probe_->add_target(pid, 0));
  allocator.go();

  const auto status = wait_for(allocator, 20s);
  ASSERT_TRUE(status.has_value()) << "the allocator did not finish";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;
  const MemReading reading = read_now();

  const ReclaimReading& target = reading.targets.at(0);
  EXPECT_EQ(target.memcg.count - baseline_.targets[0].memcg.count, 0u);
  EXPECT_EQ(target.direct.count - baseline_.targets[0].direct.count, 0u);
  EXPECT_EQ(target.oom_kills - baseline_.targets[0].oom_kills, 0u);
  EXPECT_TRUE(oom_events_of(pid).empty());
}

// Kernels before the 2024 mark_victim change only have the classic tracepoint with the pid;
// forced here so that path runs on a new kernel too.
TEST_P(MemProbeTest, ClassicTracepointReportsTheVictimsPid) {
  start_probe(MemProbe::OomHook::kTracepoint);
  ASSERT_EQ(probe_->oom_hook(), MemProbe::OomHook::kTracepoint);
  MemoryCgroup cgroup(64 * kMiB);
  Allocator allocator(cgroup, 256 * kMiB);
  const pid_t pid = allocator.pid();
  ASSERT_TRUE(probe_->add_target(pid, 0));
  allocator.go();

  const auto status = wait_for(allocator, 20s);
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << "status " << *status;
  read_now();

  const auto kills = oom_events_of(pid);
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].pid, pid);
  EXPECT_EQ(kills[0].tgid, pid);
  EXPECT_TRUE(kills[0].pid_only);
  EXPECT_EQ(kills[0].target_index, 0);
}

INSTANTIATE_TEST_SUITE_P(Paths, MemProbeTest, ::testing::ValuesIn(kVariants),
                         [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

}  // namespace
}  // namespace nodepulse
