#include "trino/drain_policy.h"

namespace nodepulse {

std::string_view to_string(DrainStep step) {
  switch (step) {
    case DrainStep::kNothing: return "nothing";
    case DrainStep::kDrain: return "drain";
    case DrainStep::kKeepSlot: return "keep_slot";
    case DrainStep::kRestore: return "restore";
    case DrainStep::kRelease: return "release";
  }
  return "nothing";
}

bool is_out_of_scheduling(trino::NodeState state) {
  return state == trino::NodeState::kDraining || state == trino::NodeState::kDrained ||
         state == trino::NodeState::kShuttingDown;
}

DrainStep next_drain_step(const DrainView& view) {
  const bool out = is_out_of_scheduling(view.trino_state);
  const bool ours_reversible = out && view.drained_by_us && view.trino_state != trino::NodeState::kShuttingDown;
  if (ours_reversible && view.zk_lost_for > view.zk_loss_hold) return DrainStep::kRestore;
  if (view.verdict == HealthState::kFailing) {
    if (!out) return view.awaiting_recovery ? DrainStep::kNothing : DrainStep::kDrain;
    return view.drained_by_us ? DrainStep::kKeepSlot : DrainStep::kNothing;
  }
  if (view.verdict == HealthState::kHealthy && ours_reversible) return DrainStep::kRestore;
  // A SHUTTING_DOWN of ours keeps its place until the restarted worker is healthy.
  const bool still_needed = out && view.drained_by_us && view.verdict != HealthState::kHealthy;
  if (view.has_place && !still_needed && !ours_reversible) return DrainStep::kRelease;
  return DrainStep::kNothing;
}

}  // namespace nodepulse
