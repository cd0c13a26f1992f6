// Loads only the sched probe (or, with --floor, an empty program on sched_switch) and keeps it
// attached until SIGINT/SIGTERM, so bench/runq-overhead can measure its cost alone.
// Prints "ready" once attached; per-program costs are read with bpftool.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "floor_switch.skel.h"
#include "probes/sched_probe.h"

namespace {

void wait_for_termination() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  std::printf("ready\n");
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
}

int run_floor() {
  floor_switch_bpf* skeleton = floor_switch_bpf__open_and_load();
  if (!skeleton || floor_switch_bpf__attach(skeleton) != 0) {
    std::fprintf(stderr, "runq_probe_host: cannot load the empty program\n");
    floor_switch_bpf__destroy(skeleton);
    return 1;
  }
  wait_for_termination();
  floor_switch_bpf__destroy(skeleton);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--floor") == 0) return run_floor();

  nodepulse::SchedProbe::Options options;
  if (argc > 1 && std::strcmp(argv[1], "--wakeup") == 0) {
    options.queue_timestamps = nodepulse::SchedProbe::QueueTimestamps::kWakeup;
  }
  auto probe = nodepulse::SchedProbe::start(options, [](const nodepulse::SchedEvent&) {});
  if (!probe) {
    std::fprintf(stderr, "runq_probe_host: %s\n", probe.error().message.c_str());
    return 1;
  }
  wait_for_termination();
  return 0;
}
