// The mem collector on the real kernel, driven by the agent's event loop: the memory stall
// trigger on the target's cgroup fires when the target thrashes (and stays quiet when it has
// room), the kernel's own PSI trigger wakes the loop with EPOLLPRI, and an OOM kill of the
// target reaches the callback at once, before any collection.
#include "collect/mem_collector.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/vfs.h>

#include <chrono>
#include <filesystem>
#include <linux/magic.h>
#include <memory>
#include <vector>

#include "cgroup.h"
#include "common/event_loop.h"
#include "process.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::GatedChild;
using testing::MemoryCgroup;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr const char* kComm = "np_mem_hog";

Config test_config() {
  Config config;
  config.targets = {{"hog", "", kComm, "", ""}};
  // 20 ms of stall within 2 s: the thrashing below stalls ~70 ms every second in a 64 MiB
  // cgroup (less on a loaded machine) and never in a roomy one. A 2 s window because root
  // here lacks CAP_SYS_RESOURCE.
  config.memory.psi_trigger_stall_us = 20'000;
  config.memory.psi_trigger_window_us = 2'000'000;
  return config;
}

// A directory on a disk filesystem: page cache there is reclaimable, unlike tmpfs (shmem).
std::filesystem::path disk_dir() {
  for (const char* dir : {"/var/tmp", "/tmp"}) {
    struct statfs info{};
    if (::statfs(dir, &info) == 0 && info.f_type != TMPFS_MAGIC) return dir;
  }
  return "/var/tmp";
}

// A file of `bytes` that the child writes and then reads over and over: in a cgroup smaller
// than the file, every read evicts what the next one needs (page cache thrashing).
class ThrashFile {
 public:
  explicit ThrashFile(uint64_t bytes)
      : path_(disk_dir() / ("nodepulse_thrash_" + std::to_string(::getpid()))), bytes_(bytes) {}
  ~ThrashFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  // Runs in the child until `duration` passes.
  void thrash(std::chrono::milliseconds duration) const {
    ::prctl(PR_SET_NAME, kComm);
    const auto until = std::chrono::steady_clock::now() + duration;
    std::vector<char> chunk(kMiB, 'x');
    const int out = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) ::_exit(5);
    for (uint64_t written = 0; written < bytes_ && std::chrono::steady_clock::now() < until; written += kMiB) {
      if (::write(out, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) ::_exit(6);
    }
    ::close(out);
    while (std::chrono::steady_clock::now() < until) {
      const int in = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (in < 0) ::_exit(7);
      while (::read(in, chunk.data(), chunk.size()) > 0 && std::chrono::steady_clock::now() < until) {
      }
      ::close(in);
    }
  }

 private:
  std::filesystem::path path_;
  uint64_t bytes_;
};

// What the loop saw, accumulated over every Sample.
struct Observed {
  std::vector<int> stall_callbacks;  // target index, -1 = node
  std::vector<OomKill> oom_callbacks;
  uint64_t target_trigger_events = 0;
  uint64_t target_some_stalled_us = 0;
  bool target_psi_known = false;
  size_t samples = 0;
};

class MemPressureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ROOT();
    if (!MemoryCgroup::detect()) GTEST_SKIP() << "no cgroup memory controller";
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop) << loop.error().message;
    loop_ = std::move(*loop);
  }

  void start_collector() {
    MemCollector::Callbacks callbacks{
        .on_oom_kill = [this](const OomKill& kill) { on_oom_kill(kill); },
        .on_memory_stall = [this](int target_index) { observed_.stall_callbacks.push_back(target_index); }};
    collector_ = std::make_unique<MemCollector>(config_, std::move(callbacks));
    auto started = collector_->start(*loop_);
    ASSERT_TRUE(started) << started.error().message;
  }

  void on_oom_kill(const OomKill& kill) {
    observed_.oom_callbacks.push_back(kill);
    oom_delivered_ = std::chrono::steady_clock::now();
    if (stop_on_oom_kill_) loop_->stop();
  }

  void add(const Sample& sample) {
    ++observed_.samples;
    if (!sample.mem || !sample.mem->psi) return;
    const PsiDelta& psi = *sample.mem->psi;
    observed_.target_trigger_events += psi.target_trigger_events.at(0);
    if (psi.target_memory.at(0)) {
      observed_.target_psi_known = true;
      observed_.target_some_stalled_us += psi.target_memory[0]->some.value_or(PsiKindDelta{}).stalled_us;
    }
  }

  // Runs the loop, collecting every 250 ms, until `done` or `timeout`.
  void run(std::chrono::milliseconds timeout, std::function<bool()> done) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    ASSERT_TRUE(loop_->every(250ms, [&] {
      Sample sample;
      collector_->collect(sample);
      add(sample);
      if (done() || std::chrono::steady_clock::now() >= until) loop_->stop();
    }));
    ASSERT_TRUE(loop_->run());
  }

  Config config_ = test_config();
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<MemCollector> collector_;
  Observed observed_;
  bool stop_on_oom_kill_ = false;
  std::chrono::steady_clock::time_point oom_delivered_;
};

// Whichever way this kernel lets the collector check the trigger (see PsiTriggerMode).
TEST_F(MemPressureTest, TriggerOnTheTargetsCgroupFiresWhenItThrashes) {
  MemoryCgroup cgroup(64 * kMiB);
  if (!cgroup.unified_dir()) GTEST_SKIP() << "no cgroup v2 hierarchy: cgroups have no PSI here";
  start_collector();
  ThrashFile file(256 * kMiB);
  GatedChild thrasher(cgroup, [&file] { file.thrash(8s); });
  collector_->target_started({thrasher.pid(), 0, kComm});
  thrasher.go();

  run(8s, [&] { return observed_.target_trigger_events > 0; });
  EXPECT_TRUE(observed_.target_psi_known) << "the target's memory.pressure was not read";
  EXPECT_GT(observed_.target_some_stalled_us, 0u) << "no memory stall in the target's cgroup";
  EXPECT_GE(observed_.target_trigger_events, 1u)
      << "the trigger on the target's cgroup never fired; " << observed_.target_some_stalled_us << " us of stall in "
      << observed_.samples << " samples";
  EXPECT_NE(std::find(observed_.stall_callbacks.begin(), observed_.stall_callbacks.end(), 0),
            observed_.stall_callbacks.end())
      << "on_memory_stall was not called for the target";
}

// The kernel's own trigger, watched for EPOLLPRI on the event loop as the collector does where
// the kernel polls triggers (PsiTriggerMode::kPolled). Nothing reads the pressure file here,
// so even a kernel that only averages this process's triggers every 2 s delivers.
TEST_F(MemPressureTest, KernelTriggerWakesTheEventLoopWhenTheCgroupThrashes) {
  MemoryCgroup cgroup(64 * kMiB);
  if (!cgroup.unified_dir()) GTEST_SKIP() << "no cgroup v2 hierarchy: cgroups have no PSI here";
  const std::filesystem::path pressure = *cgroup.unified_dir() / "memory.pressure";
  const auto mode = probe_psi_trigger_mode(pressure);
  ASSERT_TRUE(mode) << mode.error().message;
  auto trigger = PsiTrigger::arm(pressure, 20'000, 2'000'000);
  ASSERT_TRUE(trigger) << trigger.error().message;
  int wakeups = 0;
  ASSERT_TRUE(loop_->watch(trigger->fd(), [&] {
    ++wakeups;
    loop_->stop();
  }, EPOLLPRI));
  ASSERT_TRUE(loop_->every(8s, [&] { loop_->stop(); }));  // bound
  ThrashFile file(256 * kMiB);
  GatedChild thrasher(cgroup, [&file] { file.thrash(9s); });
  thrasher.go();
  ASSERT_TRUE(loop_->run());
  EXPECT_EQ(wakeups, 1) << "no EPOLLPRI within 8 s of thrashing (mode "
                        << (*mode == PsiTriggerMode::kPolled ? "polled" : "averaged") << ")";
  EXPECT_FALSE(trigger->poll_status().broken);
}

TEST_F(MemPressureTest, NoTriggerAndNoStallWhenTheCgroupHasRoom) {
  MemoryCgroup cgroup(1024 * kMiB);
  if (!cgroup.unified_dir()) GTEST_SKIP() << "no cgroup v2 hierarchy: cgroups have no PSI here";
  start_collector();
  ThrashFile file(256 * kMiB);
  GatedChild thrasher(cgroup, [&file] { file.thrash(5s); });
  collector_->target_started({thrasher.pid(), 0, kComm});
  thrasher.go();

  run(4500ms, [] { return false; });  // two trigger windows and more
  EXPECT_TRUE(observed_.target_psi_known);
  EXPECT_EQ(observed_.target_some_stalled_us, 0u);
  EXPECT_EQ(observed_.target_trigger_events, 0u);
  EXPECT_EQ(std::count(observed_.stall_callbacks.begin(), observed_.stall_callbacks.end(), 0), 0);
}

// "At once": the OOM callback runs as the ring buffer wakes the loop, long before the next
// collection (every 5 s here); the kill is in the Sample taken after it.
TEST_F(MemPressureTest, OomKillOfTheTargetIsDeliveredAtOnce) {
  config_.memory.psi_trigger_stall_us = 0;  // triggers are not what this test is about
  start_collector();
  MemoryCgroup cgroup(64 * kMiB);
  GatedChild allocator(cgroup, [] {
    ::prctl(PR_SET_NAME, kComm);
    const uint64_t bytes = 256 * kMiB;
    void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) ::_exit(4);
    auto* pages = static_cast<volatile char*>(memory);
    for (uint64_t offset = 0; offset < bytes; offset += 4096) pages[offset] = 1;
  });
  const pid_t pid = allocator.pid();
  collector_->target_started({pid, 0, kComm});
  Sample baseline;
  collector_->collect(baseline);

  bool collection_came_first = false;
  ASSERT_TRUE(loop_->every(5s, [&] {
    collection_came_first = true;
    loop_->stop();
  }));
  stop_on_oom_kill_ = true;
  const auto started = std::chrono::steady_clock::now();
  allocator.go();
  ASSERT_TRUE(loop_->run());

  EXPECT_FALSE(collection_came_first) << "no OOM callback within 5 s";
  ASSERT_EQ(observed_.oom_callbacks.size(), 1u);
  const OomKill& kill = observed_.oom_callbacks[0];
  EXPECT_EQ(kill.pid, pid);
  EXPECT_EQ(kill.tgid, pid);
  EXPECT_EQ(kill.target_index, 0);
  EXPECT_EQ(kill.comm, kComm);
  EXPECT_EQ(kill.memory_cgroup, "/" + cgroup.memory_dir().filename().string()) << "the cgroup at its limit";
  EXPECT_LT(oom_delivered_ - started, 3s);

  const auto status = allocator.child().wait_for_exit(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  Sample sample;
  collector_->collect(sample);
  ASSERT_TRUE(sample.mem.has_value());
  ASSERT_EQ(sample.mem->oom_kills.size(), 1u) << "the kill is in the next Sample";
  EXPECT_EQ(sample.mem->oom_kills[0].pid, pid);
  ASSERT_TRUE(sample.mem->reclaim.has_value());
  EXPECT_EQ(sample.mem->reclaim->target_oom_kills.at(0), 1u);
  EXPECT_GE(sample.mem->reclaim->node_oom_kills, 1u);
  EXPECT_GE(sample.mem->reclaim->targets.at(0).memcg.count, 1u) << "the target stalled in memcg reclaim first";

  Sample after;
  collector_->collect(after);
  ASSERT_TRUE(after.mem.has_value());
  EXPECT_TRUE(after.mem->oom_kills.empty()) << "each kill is delivered once";
}

}  // namespace
}  // namespace nodepulse
