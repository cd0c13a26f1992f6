// The task_state probe's cost: one walk of a JVM-sized process (THREADS sleeping threads), the
// way the sched collector reads each target at every collection, beside the procfs way of
// learning the same (each thread's /proc/PID/task/TID/stat, for its state), in the same run.
// Prints the wall time per read (median, p99), the BPF program's own run time per walk (kernel
// BPF statistics), and what that costs per target at the agent's default collection interval.
//
//   sudo build/bench/task_walk [THREADS] [READS]     (default 300 threads, 2000 reads)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "probes/task_state_probe.h"
#include "process.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kCollectionsPerSecond = 4;  // collect.interval_ms: 250 by default

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct Figures {
  double median_us;
  double p99_us;
};

template <class Read>
Figures time_reads(int reads, Read read) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(reads));
  for (int i = 0; i < reads; ++i) {
    const auto start = Clock::now();
    read();
    us.push_back(micros(Clock::now() - start));
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

// What procfs offers instead: every thread's state letter, one file per thread.
int stopped_threads_from_procfs(pid_t pid) {
  int stopped = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    const char state = nodepulse::testing::proc_state((task.path() / "stat").string());
    if (state == 'T' || state == 't') ++stopped;
  }
  return stopped;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nodepulse;
  const int threads = argc > 1 ? std::atoi(argv[1]) : 300;
  const int reads = argc > 2 ? std::atoi(argv[2]) : 2000;
  if (threads < 1 || reads < 1) {
    std::fprintf(stderr, "usage: task_walk [THREADS >= 1] [READS >= 1]\n");
    return 2;
  }
  std::printf("command: %s", argv[0]);
  for (int i = 1; i < argc; ++i) std::printf(" %s", argv[i]);
  std::printf("\n");

  testing::ChildProcess process = testing::ChildProcess::fork_and_run(
      [threads] {
        std::vector<std::thread> sleepers;
        for (int i = 1; i < threads; ++i) sleepers.emplace_back([] { std::this_thread::sleep_for(std::chrono::seconds(120)); });
        std::this_thread::sleep_for(std::chrono::seconds(120));
        for (std::thread& t : sleepers) t.join();
      },
      std::chrono::seconds(180));
  auto probe = TaskStateProbe::start({});
  if (!probe) {
    std::fprintf(stderr, "task_state probe: %s\n", probe.error().message.c_str());
    return 1;
  }
  for (int i = 0; i < 500; ++i) {
    auto states = (*probe)->read(process.pid());
    if (states && states->threads == static_cast<uint32_t>(threads)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // BPF run-time statistics on for the run, restored after.
  const char* stats_knob = "/proc/sys/kernel/bpf_stats_enabled";
  std::string stats_before;
  std::getline(std::ifstream(stats_knob), stats_before);
  if (!(std::ofstream(stats_knob) << "1\n")) {
    std::fprintf(stderr, "cannot turn on BPF statistics (%s); run as root\n", stats_knob);
    return 1;
  }
  const Figures walk = time_reads(reads, [&] { (void)(*probe)->read(process.pid()); });
  uint64_t run_ns = 0, runs = 0;
  for (const ProgramStats& program : (*probe)->program_stats()) {
    run_ns += program.run_time_ns;
    runs += program.run_count;
  }
  std::ofstream(stats_knob) << stats_before << "\n";
  const Figures procfs = time_reads(reads, [&] { (void)stopped_threads_from_procfs(process.pid()); });

  const double program_us_per_walk = runs ? static_cast<double>(run_ns) / 1e3 / reads : 0;
  std::printf("process of %d threads, %d reads each\n", threads, reads);
  std::printf("task_state walk (iterator link + read): median %7.1f us  p99 %7.1f us  BPF program %6.1f us/walk "
              "(%llu runs)\n",
              walk.median_us, walk.p99_us, program_us_per_walk, static_cast<unsigned long long>(runs));
  std::printf("procfs (/proc/PID/task/*/stat):         median %7.1f us  p99 %7.1f us\n", procfs.median_us,
              procfs.p99_us);
  std::printf("per target at %.0f collections/s: walk %.3f %% of one CPU, procfs %.3f %%\n", kCollectionsPerSecond,
              walk.median_us * kCollectionsPerSecond / 1e4, procfs.median_us * kCollectionsPerSecond / 1e4);
  return 0;
}
