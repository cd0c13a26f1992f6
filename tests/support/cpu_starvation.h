// CPU starvation of a process, the fault the run-queue rules exist for, made certain.
//
// Every thread of the victim is pinned to one CPU where a real-time (SCHED_FIFO) busy loop
// runs in rounds: busy for kBusy, then asleep for kRest. A normal task on that CPU gets it only
// in the rests, so each victim thread that is runnable when a round starts waits ~kBusy for it.
// The earlier way (nice 19 beside nice-0 loops) left the waits to EEVDF's placement: from 0.1 ms
// to 300 ms from one run to the next, and a CI run where no wait passed the rule's limit at all.
// The rests keep it safe on any kernel, whatever its RT throttling or fair server: other tasks
// pinned there (per-CPU kernel threads) run in them too.
#pragma once

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "process.h"

namespace nodepulse::testing {

// Every thread of `pid`, now.
inline std::vector<pid_t> threads_of(pid_t pid) {
  std::vector<pid_t> tids;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    tids.push_back(static_cast<pid_t>(std::stol(task.path().filename().string())));
  }
  return tids;
}

class CpuStarvation {
 public:
  // Longer than any run-queue limit a test sets (the failover test's is 500 ms).
  static constexpr std::chrono::milliseconds kBusy{800};
  static constexpr std::chrono::milliseconds kRest{50};

  // The loop ends by itself at `deadline`; end() or the destructor end it at once.
  CpuStarvation(pid_t victim, int cpu, std::chrono::seconds deadline) : victim_(victim) {
    hog_ = std::make_unique<ChildProcess>(ChildProcess::fork_and_run(
        [cpu, deadline] {
          pin_to_cpu(cpu);
          const auto until = std::chrono::steady_clock::now() + deadline;
          while (std::chrono::steady_clock::now() < until) {
            busy_until(std::min(until, std::chrono::steady_clock::now() + kBusy));
            std::this_thread::sleep_for(kRest);
          }
        },
        deadline + std::chrono::seconds(1)));
    const sched_param realtime{1};
    if (::sched_setscheduler(hog_->pid(), SCHED_FIFO, &realtime) != 0) {
      throw std::runtime_error("CpuStarvation: cannot make the busy loop SCHED_FIFO (needs root)");
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pin_victim(one);
  }
  CpuStarvation(const CpuStarvation&) = delete;
  CpuStarvation& operator=(const CpuStarvation&) = delete;
  ~CpuStarvation() { end(); }

  // Stops the loop (by its PID) and gives the victim every CPU back; idempotent.
  void end() {
    if (!hog_) return;
    hog_.reset();
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int cpu = 0; cpu <= last_cpu(); ++cpu) CPU_SET(cpu, &all);
    pin_victim(all);
  }

 private:
  // Threads made meanwhile inherit from their creator, so two passes catch a pool that grows.
  void pin_victim(const cpu_set_t& cpus) const {
    for (int pass = 0; pass < 2; ++pass) {
      for (pid_t tid : threads_of(victim_)) ::sched_setaffinity(tid, sizeof cpus, &cpus);
    }
  }

  pid_t victim_;
  std::unique_ptr<ChildProcess> hog_;
};

}  // namespace nodepulse::testing
