#include "health/engine.h"

#include <algorithm>
#include <cmath>

namespace nodepulse {

std::string_view to_string(HealthState state) {
  switch (state) {
    case HealthState::kHealthy: return "healthy";
    case HealthState::kDegraded: return "degraded";
    case HealthState::kFailing: return "failing";
    case HealthState::kUnknown: return "unknown";
  }
  return "unknown";
}

uint8_t weight_for(HealthState state, double degree) {
  switch (state) {
    case HealthState::kHealthy: return 100;
    case HealthState::kDegraded: return static_cast<uint8_t>(std::lround(90 - 80 * std::clamp(degree, 0.0, 1.0)));
    case HealthState::kFailing:
    case HealthState::kUnknown: return 0;
  }
  return 0;
}

HealthEngine::HealthEngine(HealthThresholds thresholds, std::vector<std::string> target_names)
    : thresholds_(thresholds),
      target_names_(std::move(target_names)),
      runq_(thresholds.runq),
      target_(target_names_),
      jvm_(thresholds.jvm),
      net_(thresholds.net),
      memory_(thresholds.memory) {}

void HealthEngine::apply(const std::string& signal, const Assessment& assessment, uint64_t now_ms) {
  auto [it, _] = signals_.try_emplace(signal, thresholds_.recover_after_ms);
  SignalState& state = it->second;
  if (assessment.state == HealthState::kDegraded || assessment.state == HealthState::kFailing ||
      assessment.state == HealthState::kUnknown) {
    state.problem = assessment.reason;
  }
  if (assessment.state == HealthState::kDegraded) state.degree = assessment.degree;
  state.hysteresis.update(assessment.state, now_ms);
}

void HealthEngine::observe_sample(const Sample& sample, const std::vector<size_t>& live_processes, uint64_t now_ms) {
  std::vector<bool> live(live_processes.size());
  for (size_t i = 0; i < live.size(); ++i) live[i] = live_processes[i] > 0;
  apply("runq", runq_.assess(sample, live, target_names_), now_ms);
  apply("jvm", jvm_.assess(sample, target_names_), now_ms);
  apply("net", net_.assess(sample), now_ms);
  apply("memory", memory_.assess(sample, target_names_), now_ms);
}

void HealthEngine::observe_pauses_in_progress(const std::vector<uint64_t>& pause_in_progress_ns, uint64_t now_ms) {
  const Assessment pause = jvm_.assess_in_progress(pause_in_progress_ns, target_names_);
  if (pause.state == HealthState::kDegraded || pause.state == HealthState::kFailing) apply("jvm", pause, now_ms);
}

void HealthEngine::observe_targets(const std::vector<size_t>& live_processes, const std::vector<TargetExit>& exits,
                                   uint64_t now_ms) {
  apply("target", target_.assess(live_processes, exits), now_ms);
}

Verdict HealthEngine::verdict(uint64_t now_ms) {
  Verdict verdict;
  HealthState worst = HealthState::kUnknown;
  double degree = 0;
  for (const auto& [name, signal] : signals_) {
    const HealthState state = signal.hysteresis.state();
    std::string reason;
    if (state != HealthState::kHealthy) {
      reason = signal.problem;
      if (reason.empty()) reason = name + ": " + std::string(to_string(state));
    }
    verdict.signals.push_back({name, state, reason, signal.hysteresis.since_ms()});
    if (state == HealthState::kDegraded || state == HealthState::kFailing) verdict.reasons.push_back(reason);
    if (severity_rank(state) > severity_rank(worst)) worst = state;
    if (state == HealthState::kDegraded) degree = std::max(degree, signal.degree);
  }
  if (worst == HealthState::kUnknown) {
    for (const SignalVerdict& signal : verdict.signals) verdict.reasons.push_back(signal.reason);
  }
  verdict.state = worst;
  verdict.weight = weight_for(worst, degree);
  verdict.since_ms = verdict.state == verdict_.state && verdict_.since_ms != 0 ? verdict_.since_ms : now_ms;
  verdict_ = verdict;
  return verdict;
}

}  // namespace nodepulse
