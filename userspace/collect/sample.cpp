#include "collect/sample.h"

namespace nodepulse {
namespace {

RunqDelta runq_delta(const RunqReading& now, const RunqReading* before) {
  RunqDelta delta;
  delta.wait = before ? now.wait.since(before->wait) : now.wait;
  delta.stalls = before ? counter_delta(now.stalls, before->stalls) : now.stalls;
  delta.longest_wait_ns = now.longest_wait_ns;  // already per-window
  return delta;
}

}  // namespace

SchedDelta SchedDeltaTracker::next(const SchedReading& cumulative) {
  const SchedReading* before = previous_ ? &*previous_ : nullptr;
  SchedDelta delta;
  delta.node = runq_delta(cumulative.node, before ? &before->node : nullptr);
  for (size_t i = 0; i < cumulative.targets.size(); ++i) {
    const bool had = before && i < before->targets.size();
    delta.targets.push_back(runq_delta(cumulative.targets[i], had ? &before->targets[i] : nullptr));
  }
  delta.dropped_events = counter_delta(cumulative.dropped_events, before ? before->dropped_events : 0);
  delta.unmeasured_waits = counter_delta(cumulative.unmeasured_waits, before ? before->unmeasured_waits : 0);
  previous_ = cumulative;
  return delta;
}

}  // namespace nodepulse
