#include "metrics/mem_metrics.h"

#include "metrics/log2_buckets.h"

namespace nodepulse {
namespace {

constexpr double us_to_seconds(uint64_t us) { return static_cast<double>(us) / 1e6; }

}  // namespace

MemMetrics::MemMetrics(prometheus::Registry& registry, const std::vector<std::string>& target_names)
    : target_names_(target_names),
      psi_waiting_(prometheus::BuildCounter()
                       .Name("nodepulse_psi_waiting_seconds_total")
                       .Help("Node-wide pressure stall time from /proc/pressure/<resource> (kind=some: at least one "
                             "task stalled, kind=full: all non-idle tasks stalled); absent where PSI is unavailable")
                       .Register(registry)),
      psi_avg10_(prometheus::BuildGauge()
                     .Name("nodepulse_psi_avg10_ratio")
                     .Help("The kernel's 10-second average of the share of time stalled (/proc/pressure avg10 / 100)")
                     .Register(registry)),
      target_psi_waiting_(prometheus::BuildCounter()
                              .Name("nodepulse_target_psi_waiting_seconds_total")
                              .Help("Pressure stall time of the cgroup v2 holding the target's process "
                                    "(<cgroup>/memory.pressure); absent without a cgroup v2 hierarchy")
                              .Register(registry)),
      psi_trigger_events_(prometheus::BuildCounter()
                              .Name("nodepulse_psi_trigger_events_total")
                              .Help("Memory PSI trigger wake-ups (memory.psi_trigger_stall_us of some stall within "
                                    "memory.psi_trigger_window_us); scope=\"node\" is /proc/pressure/memory, "
                                    "otherwise the target's cgroup")
                              .Register(registry)) {
  auto& stall = prometheus::BuildHistogram()
                    .Name("nodepulse_memory_reclaim_stall_seconds")
                    .Help("Time tasks spent in direct and memcg reclaim, per reclaim pass; scope=\"node\" is every "
                          "task of the node, otherwise the threads of that target")
                    .Register(registry);
  auto& oom_kills = prometheus::BuildCounter()
                        .Name("nodepulse_oom_kills_total")
                        .Help("OOM-killer victims (oom:mark_victim). target=\"node\" counts every kill on the node; a "
                              "kill whose victim is a target's process also counts under that target's name")
                        .Register(registry);
  auto& up = prometheus::BuildGauge()
                 .Name("nodepulse_target_up")
                 .Help("1 while at least one live process matches the target, else 0")
                 .Register(registry);
  const auto& bounds = log2_bucket_bounds_seconds();
  node_reclaim_stall_ = &stall.Add({{"scope", "node"}}, bounds);
  node_oom_kills_ = &oom_kills.Add({{"target", "node"}});
  for (const std::string& name : target_names) {
    target_reclaim_stall_.push_back(&stall.Add({{"scope", name}}, bounds));
    target_oom_kills_.push_back(&oom_kills.Add({{"target", name}}));
    target_up_.push_back(&up.Add({{"target", name}}));
  }
}

void MemMetrics::record_psi(const std::string& resource, const PsiResourceDelta& delta) {
  auto one = [&](const char* kind, const std::optional<PsiKindDelta>& value) {
    if (!value) return;
    psi_waiting_.Add({{"resource", resource}, {"kind", kind}}).Increment(us_to_seconds(value->stalled_us));
    psi_avg10_.Add({{"resource", resource}, {"kind", kind}}).Set(value->avg10 / 100.0);
  };
  one("some", delta.some);
  one("full", delta.full);
}

void MemMetrics::record_target_psi(size_t target_index, const PsiResourceDelta& delta) {
  auto one = [&](const char* kind, const std::optional<PsiKindDelta>& value) {
    if (!value) return;
    target_psi_waiting_.Add({{"target", target_names_[target_index]}, {"resource", "memory"}, {"kind", kind}})
        .Increment(us_to_seconds(value->stalled_us));
  };
  one("some", delta.some);
  one("full", delta.full);
}

void MemMetrics::record(const MemDelta& mem) {
  if (mem.reclaim) {
    const ReclaimDelta& reclaim = *mem.reclaim;
    observe_log2(*node_reclaim_stall_, reclaim.node.total());
    node_oom_kills_->Increment(static_cast<double>(reclaim.node_oom_kills));
    for (size_t i = 0; i < reclaim.targets.size() && i < target_reclaim_stall_.size(); ++i) {
      observe_log2(*target_reclaim_stall_[i], reclaim.targets[i].total());
    }
    for (size_t i = 0; i < reclaim.target_oom_kills.size() && i < target_oom_kills_.size(); ++i) {
      target_oom_kills_[i]->Increment(static_cast<double>(reclaim.target_oom_kills[i]));
    }
  }
  if (mem.psi) {
    const PsiDelta& psi = *mem.psi;
    if (psi.cpu) record_psi("cpu", *psi.cpu);
    if (psi.memory) record_psi("memory", *psi.memory);
    if (psi.io) record_psi("io", *psi.io);
    for (size_t i = 0; i < psi.target_memory.size() && i < target_names_.size(); ++i) {
      if (psi.target_memory[i]) record_target_psi(i, *psi.target_memory[i]);
    }
    // A scope's trigger series exists, from 0, once its memory pressure is read: the first
    // wake-up is then an increase, and a node without PSI still has no series (unknown).
    auto count_triggers = [&](const std::string& scope, bool pressure_read, uint64_t events) {
      if (pressure_read || events) psi_trigger_events_.Add({{"scope", scope}}).Increment(static_cast<double>(events));
    };
    count_triggers("node", psi.memory.has_value(), psi.node_trigger_events);
    for (size_t i = 0; i < psi.target_trigger_events.size() && i < target_names_.size(); ++i) {
      const bool pressure_read = i < psi.target_memory.size() && psi.target_memory[i].has_value();
      count_triggers(target_names_[i], pressure_read, psi.target_trigger_events[i]);
    }
  }
}

void MemMetrics::set_target_up(size_t target_index, bool up) {
  if (target_index < target_up_.size()) target_up_[target_index]->Set(up ? 1 : 0);
}

}  // namespace nodepulse
