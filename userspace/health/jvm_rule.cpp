#include "health/jvm_rule.h"

#include "health/rule_util.h"

namespace nodepulse {

Assessment JvmRule::assess_in_progress(const std::vector<uint64_t>& pause_in_progress_ns,
                                       const std::vector<std::string>& target_names) const {
  Assessment worst{HealthState::kHealthy, 0, false, ""};
  for (size_t i = 0; i < pause_in_progress_ns.size() && i < target_names.size(); ++i) {
    const auto pause = static_cast<double>(pause_in_progress_ns[i]);
    keep_worst(worst, judge(pause, static_cast<double>(thresholds_.pause_warn_ns),
                            static_cast<double>(thresholds_.pause_fail_ns), /*hard=*/true,
                            "jvm: " + target_names[i] + " paused for " + format_ms(pause) + " and counting"));
  }
  return worst;
}

Assessment JvmRule::assess(const Sample& sample, const std::vector<std::string>& target_names) {
  if (!sample.jvm) return {HealthState::kUnknown, 0, false, "jvm: probe not reporting"};
  const JvmDelta& jvm = *sample.jvm;

  std::vector<uint64_t> in_progress;
  std::vector<uint64_t> paused;
  bool any_attached = false;
  for (const JvmTargetDelta& target : jvm.targets) {
    any_attached |= target.processes_attached > 0;
    in_progress.push_back(target.pause_in_progress_ns);
    paused.push_back(target.safepoint_pauses.sum_ns);
  }
  if (!any_attached) return {HealthState::kUnknown, 0, false, "jvm: no target JVM with HotSpot probes attached"};

  window_.emplace_back(sample.mono_ns, paused);
  while (!window_.empty() && sample.mono_ns - window_.front().first > thresholds_.window_ms * 1'000'000) {
    window_.pop_front();
  }
  Assessment worst = assess_in_progress(in_progress, target_names);
  // The window is as long as the samples it holds (short right after start).
  const uint64_t span_ns = std::max<uint64_t>(sample.mono_ns - window_.front().first, 1'000'000'000);
  for (size_t i = 0; i < paused.size() && i < target_names.size(); ++i) {
    uint64_t total = 0;
    for (const auto& [_, per_target] : window_) total += i < per_target.size() ? per_target[i] : 0;
    const double share = static_cast<double>(total) / static_cast<double>(span_ns);
    keep_worst(worst, judge(share, thresholds_.paused_share_warn, thresholds_.paused_share_fail, /*hard=*/false,
                            "jvm: " + target_names[i] + " paused " + std::to_string(static_cast<int>(share * 100)) +
                                "% of the last " + std::to_string(span_ns / 1'000'000'000) + " s"));
  }
  return worst;
}

}  // namespace nodepulse
