// One signal source of the agent: owns its probe, fills its part of each Sample.
// The agent holds a list of collectors and treats them alike; adding a signal is adding one.
#pragma once

#include "collect/sample.h"
#include "collect/targets.h"
#include "common/event_loop.h"
#include "common/result.h"

namespace nodepulse {

class Collector {
 public:
  virtual ~Collector() = default;

  // The probe's name: the `probe` label of nodepulse_probe_up and friends.
  virtual const char* probe() const = 0;

  // Loads the probe and watches its fds on `loop`. An error leaves the signal unknown and
  // the agent running without it.
  virtual Result<void> start(EventLoop& loop) = 0;

  // Adds this probe's part of `sample`; leaves it unset (unknown) when a read fails.
  virtual void collect(Sample& sample) = 0;

  // Cumulative run time and run count of each of the probe's BPF programs (zero unless BPF
  // run-time statistics are on); empty while the probe is down.
  virtual std::vector<ProgramStats> program_stats() const { return {}; }

  // The live target set changed (see TargetTracker).
  virtual void target_started(const TargetProcess&) {}
  virtual void target_exited(const TargetProcess&) {}
};

}  // namespace nodepulse
