// The task_state probe on the real kernel: a process's threads walked on demand. Real stops
// (SIGSTOP) and real starvation (a real-time busy loop on the victim's CPU) must show while
// they last, and must not show without them.
#include "probes/task_state_probe.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>
#include <vector>

#include "cpu_starvation.h"
#include "kernel_support.h"
#include "process.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using Clock = std::chrono::steady_clock;

// A process of `threads` threads (the main one included), each waking every millisecond to work
// 100 µs, until `duration` ends: latency-sensitive, like a JVM's busy threads.
ChildProcess start_process(int threads, std::chrono::milliseconds duration, int cpu = -1) {
  return ChildProcess::fork_and_run([=] {
    if (cpu >= 0) testing::pin_to_cpu(cpu);
    const auto until = Clock::now() + duration;
    auto work = [until] {
      while (Clock::now() < until) {
        std::this_thread::sleep_for(1ms);
        testing::busy_until(Clock::now() + 100us);
      }
    };
    std::vector<std::thread> others;
    for (int i = 1; i < threads; ++i) others.emplace_back(work);
    work();
    for (std::thread& other : others) other.join();
  });
}

class TaskStateProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ROOT();
    start_probe({});
  }

  void start_probe(TaskStateProbe::Options options) {
    auto probe = TaskStateProbe::start(options);
    ASSERT_TRUE(probe) << probe.error().message;
    probe_ = std::move(*probe);
  }

  ThreadStates read(pid_t tgid) {
    auto states = probe_->read(tgid);
    EXPECT_TRUE(states) << states.error().message;
    return states ? *states : ThreadStates{};
  }

  // Reads every 10 ms until `done` holds or `timeout` passes; returns the last reading.
  template <class Done>
  ThreadStates read_until(pid_t tgid, Done done, std::chrono::milliseconds timeout = 2s) {
    const auto until = Clock::now() + timeout;
    ThreadStates states = read(tgid);
    while (!done(states) && Clock::now() < until) {
      std::this_thread::sleep_for(10ms);
      states = read(tgid);
    }
    return states;
  }

  std::unique_ptr<TaskStateProbe> probe_;
};

TEST_F(TaskStateProbeTest, CountsTheThreadsOfThatProcessOnly) {
  ChildProcess four = start_process(4, 5s);
  ChildProcess two = start_process(2, 5s);
  EXPECT_EQ(read_until(four.pid(), [](const ThreadStates& s) { return s.threads == 4; }).threads, 4u);
  EXPECT_EQ(read_until(two.pid(), [](const ThreadStates& s) { return s.threads == 2; }).threads, 2u);
  start_probe({.walk_every_task = true});  // as before 6.1: the program alone filters
  EXPECT_EQ(read(four.pid()).threads, 4u);
  EXPECT_EQ(read(two.pid()).threads, 2u);
  const pid_t gone = two.pid();
  two.kill_and_reap();
  EXPECT_EQ(read(gone).threads, 0u) << "a process that is gone has no threads";
}

TEST_F(TaskStateProbeTest, SeesAStoppedProcessWhileItIsStopped) {
  ChildProcess process = start_process(3, 10s);
  const ThreadStates running = read_until(process.pid(), [](const ThreadStates& s) { return s.threads == 3; });
  ASSERT_EQ(running.threads, 3u);
  EXPECT_EQ(running.stopped, 0u) << "not stopped before SIGSTOP";

  process.signal(SIGSTOP);
  const ThreadStates stopped = read_until(process.pid(), [](const ThreadStates& s) { return s.stopped == 3; });
  EXPECT_EQ(stopped.stopped, 3u) << "every thread in the group stop";
  EXPECT_EQ(stopped.queued, 0u) << "a stopped thread is not waiting for a CPU";

  process.signal(SIGCONT);
  EXPECT_EQ(read_until(process.pid(), [](const ThreadStates& s) { return s.stopped == 0; }).stopped, 0u);
}

// The longest wait in progress seen by reads every 10 ms for `duration`, and when it was seen.
struct LongestSeen {
  uint64_t queued_ns = 0;
  std::chrono::milliseconds at{0};
};

TEST_F(TaskStateProbeTest, SeesAWaitForACpuBeforeItEnds) {
  const int cpu = testing::last_cpu();
  ASSERT_GT(cpu, 0) << "needs two CPUs: one starved, one to watch from";
  testing::pin_to_cpu(0);  // this thread watches; it must not starve with the victim
  ChildProcess victim = start_process(3, 10s, cpu);
  read_until(victim.pid(), [](const ThreadStates& s) { return s.threads == 3; });

  auto watch = [&](std::chrono::milliseconds duration) {
    LongestSeen longest;
    const auto from = Clock::now();
    while (Clock::now() - from < duration) {
      const ThreadStates states = read(victim.pid());
      if (states.longest_queued_ns > longest.queued_ns) {
        longest = {states.longest_queued_ns, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - from)};
      }
      std::this_thread::sleep_for(10ms);
    }
    return longest;
  };

  const LongestSeen alone = watch(1s);
  EXPECT_LT(alone.queued_ns, 100'000'000u) << "alone on its CPU, no wait of 100 ms";

  // The busy loop's first round holds the CPU 800 ms: a wait of 300 ms must be seen within it.
  testing::CpuStarvation starvation(victim.pid(), cpu, 5s);
  const LongestSeen starved = watch(700ms);
  starvation.end();
  EXPECT_GE(starved.queued_ns, 300'000'000u) << "seen at " << starved.at.count() << " ms after the loop began";
  EXPECT_LE(starved.at, 700ms);
}

}  // namespace
}  // namespace nodepulse
