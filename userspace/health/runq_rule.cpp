#include "health/runq_rule.h"

#include "health/rule_util.h"

namespace nodepulse {

Assessment RunqRule::assess(const Sample& sample, const std::vector<bool>& live_targets,
                            const std::vector<std::string>& target_names) {
  if (!sample.sched) return {HealthState::kUnknown, 0, false, "runq: sched probe not reporting"};
  window_.push_back({sample.mono_ns, *sample.sched});
  while (!window_.empty() && sample.mono_ns - window_.front().mono_ns > thresholds_.window_ms * 1'000'000) {
    window_.pop_front();
  }

  // What to judge: each live target, or the node when no target is live.
  struct Subject {
    std::string name;
    int index;  // -1 = node
  };
  std::vector<Subject> subjects;
  for (size_t i = 0; i < live_targets.size() && i < target_names.size(); ++i) {
    if (live_targets[i]) subjects.push_back({target_names[i], static_cast<int>(i)});
  }
  if (subjects.empty()) subjects.push_back({"node", -1});

  Assessment worst{HealthState::kHealthy, 0, false, ""};
  auto consider = [&worst](Assessment candidate) { keep_worst(worst, std::move(candidate)); };

  for (const Subject& subject : subjects) {
    auto delta_of = [&](const SchedDelta& sched) -> const RunqDelta* {
      if (subject.index < 0) return &sched.node;
      const auto index = static_cast<size_t>(subject.index);
      return index < sched.targets.size() ? &sched.targets[index] : nullptr;
    };
    const RunqDelta* now = delta_of(sample.sched.value());
    if (now && subject.index >= 0) {
      const auto index = static_cast<size_t>(subject.index);
      if (!now->stopped) {
        stopped_since_ns_.erase(index);
      } else {
        // Measured from the first sample that saw it: when the stop began is not recorded.
        const uint64_t since = stopped_since_ns_.try_emplace(index, sample.mono_ns).first->second;
        if (sample.mono_ns - since >= thresholds_.stopped_fail_ns) {
          consider({HealthState::kFailing, 1, true,
                    "runq: " + subject.name + " has been stopped (SIGSTOP or a debugger) for at least " +
                        format_ms(static_cast<double>(sample.mono_ns - since))});
          continue;
        }
      }
    }
    if (now && now->queued_now_ns >= thresholds_.stall_fail_ns) {
      consider({HealthState::kFailing, 1, true,
                "runq: " + subject.name + " thread has been waiting " +
                    format_ms(static_cast<double>(now->queued_now_ns)) + " for a CPU"});
      continue;
    }
    if (now && now->longest_wait_ns >= thresholds_.stall_fail_ns) {
      consider({HealthState::kFailing, 1, true,
                "runq: " + subject.name + " thread waited " + format_ms(static_cast<double>(now->longest_wait_ns)) +
                    " for a CPU"});
      continue;
    }
    Log2Histogram waits;
    for (const Entry& entry : window_) {
      if (const RunqDelta* delta = delta_of(entry.sched)) waits += delta->wait;
    }
    if (waits.count < thresholds_.min_waits) continue;
    const double p99 = waits.quantile_upper_bound_ns(0.99);
    const auto warn = static_cast<double>(thresholds_.p99_warn_ns);
    const auto fail = static_cast<double>(thresholds_.p99_fail_ns);
    const std::string reason = "runq: " + subject.name + " p99 wait " + format_ms(p99) + " over the last " +
                               std::to_string(thresholds_.window_ms / 1000) + " s";
    consider(judge(p99, warn, fail, /*hard=*/false, reason));
  }
  return worst;
}

}  // namespace nodepulse
