#include "metrics/jvm_metrics.h"

#include "metrics/log2_buckets.h"

namespace nodepulse {

JvmMetrics::JvmMetrics(prometheus::Registry& registry, const std::vector<std::string>& target_names) {
  auto& pauses = prometheus::BuildHistogram()
                     .Name("nodepulse_jvm_pause_seconds")
                     .Help("HotSpot pauses of a target's JVMs by kind: gc (a GC operation) and safepoint (all "
                           "threads stopped, time-to-safepoint included); a GC runs inside a safepoint")
                     .Register(registry);
  auto& in_progress = prometheus::BuildGauge()
                          .Name("nodepulse_jvm_pause_in_progress_seconds")
                          .Help("How long the longest pause now under way in a target's JVMs has lasted; 0 when none")
                          .Register(registry);
  auto& attached = prometheus::BuildGauge()
                       .Name("nodepulse_jvm_probes_attached")
                       .Help("Target processes whose HotSpot GC and safepoint probes are attached")
                       .Register(registry);
  auto& without = prometheus::BuildGauge()
                      .Name("nodepulse_jvm_processes_without_probes")
                      .Help("Target processes whose pauses cannot be traced: not a HotSpot JVM, no USDT probes "
                            "in its libjvm.so, or attaching failed (see the agent's log)")
                      .Register(registry);
  const auto& bounds = log2_bucket_bounds_seconds();
  for (const std::string& name : target_names) {
    targets_.push_back({.gc_pauses = &pauses.Add({{"target", name}, {"kind", "gc"}}, bounds),
                        .safepoint_pauses = &pauses.Add({{"target", name}, {"kind", "safepoint"}}, bounds),
                        .pause_in_progress = &in_progress.Add({{"target", name}}),
                        .probes_attached = &attached.Add({{"target", name}}),
                        .without_probes = &without.Add({{"target", name}})});
  }
}

void JvmMetrics::record(const JvmDelta& jvm) {
  for (size_t i = 0; i < jvm.targets.size() && i < targets_.size(); ++i) {
    const JvmTargetDelta& delta = jvm.targets[i];
    observe_log2(*targets_[i].gc_pauses, delta.gc_pauses);
    observe_log2(*targets_[i].safepoint_pauses, delta.safepoint_pauses);
    targets_[i].pause_in_progress->Set(ns_to_seconds(delta.pause_in_progress_ns));
    targets_[i].probes_attached->Set(static_cast<double>(delta.processes_attached));
    targets_[i].without_probes->Set(static_cast<double>(delta.processes_without_probes));
  }
}

}  // namespace nodepulse
