// The health engine: rules over samples → a state per signal (with hysteresis) → the node's
// verdict and weight. Pure: time comes in as an argument, so tests drive it with a fake clock.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "collect/sample.h"
#include "health/hysteresis.h"
#include "health/jvm_rule.h"
#include "health/memory_rule.h"
#include "health/net_rule.h"
#include "health/runq_rule.h"
#include "health/target_rule.h"
#include "health/verdict.h"

namespace nodepulse {

struct HealthThresholds {
  uint64_t recover_after_ms = 10'000;
  RunqThresholds runq;
  JvmThresholds jvm;
  NetThresholds net;
  MemoryThresholds memory;
};

// The engine is fed by two paths: every collection interval a Sample (observe_sample), and at
// once, from ring-buffer events, target changes (observe_targets). verdict() combines what the
// signals say now; calling it after either path gives the fast-path verdict.
class HealthEngine {
 public:
  HealthEngine(HealthThresholds thresholds, std::vector<std::string> target_names);

  // `live_processes[i]`: live processes of Config::targets[i].
  void observe_sample(const Sample& sample, const std::vector<size_t>& live_processes, uint64_t now_ms);
  // `exits`: target processes that ended since the previous call.
  void observe_targets(const std::vector<size_t>& live_processes, const std::vector<TargetExit>& exits,
                       uint64_t now_ms);
  // The JVM fast path: pauses in progress per target (ns), read on a short timer. Only makes
  // the jvm signal worse; the next sample judges recovery.
  void observe_pauses_in_progress(const std::vector<uint64_t>& pause_in_progress_ns, uint64_t now_ms);

  Verdict verdict(uint64_t now_ms);
  const Verdict& current() const { return verdict_; }

 private:
  struct SignalState {
    explicit SignalState(uint64_t recover_after_ms) : hysteresis(recover_after_ms) {}
    Hysteresis hysteresis;
    std::string problem;  // the last non-healthy reason, kept while recovering
    double degree = 0;
  };
  void apply(const std::string& signal, const Assessment& assessment, uint64_t now_ms);

  HealthThresholds thresholds_;
  std::vector<std::string> target_names_;
  RunqRule runq_;
  TargetRule target_;
  JvmRule jvm_;
  NetRule net_;
  MemoryRule memory_;
  std::map<std::string, SignalState> signals_;
  Verdict verdict_;
};

// Weight for a state: 100 healthy; degraded 90 at its warn threshold down to 10 at its fail
// threshold; 0 failing or unknown.
uint8_t weight_for(HealthState state, double degree);

}  // namespace nodepulse
