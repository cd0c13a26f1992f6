#include "collect/jvm_sample.h"

#include <algorithm>

namespace nodepulse {

JvmDelta JvmDeltaTracker::next(const JvmReading& cumulative) {
  JvmDelta delta;
  delta.targets.resize(cumulative.targets.size());
  for (size_t i = 0; i < cumulative.targets.size(); ++i) {
    const JvmPauseHistograms& now = cumulative.targets[i];
    const bool had = previous_ && i < previous_->targets.size();
    delta.targets[i].gc_pauses = had ? now.gc.since(previous_->targets[i].gc) : now.gc;
    delta.targets[i].safepoint_pauses = had ? now.safepoint.since(previous_->targets[i].safepoint) : now.safepoint;
  }
  for (const JvmPauseInProgress& pause : cumulative.in_progress) {
    if (pause.target_index >= delta.targets.size()) continue;
    JvmTargetDelta& target = delta.targets[pause.target_index];
    target.gc_in_progress_ns = std::max(target.gc_in_progress_ns, pause.gc_ns);
    target.safepoint_in_progress_ns = std::max(target.safepoint_in_progress_ns, pause.safepoint_ns);
    target.pause_in_progress_ns = std::max(target.pause_in_progress_ns, pause.longest_ns());
  }
  delta.unattributed_hits = counter_delta(cumulative.untracked_hits + cumulative.bad_targets,
                                       previous_ ? previous_->untracked_hits + previous_->bad_targets : 0);
  previous_ = cumulative;
  return delta;
}

}  // namespace nodepulse
