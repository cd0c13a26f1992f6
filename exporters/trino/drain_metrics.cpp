#include "trino/drain_metrics.h"

#include <chrono>

#include "trino/trino_client.h"

namespace nodepulse {
namespace {

constexpr std::string_view kActions[] = {"drain", "shutdown", "restore"};
constexpr std::string_view kOutcomes[] = {"ok", "rejected", "error", "budget_exhausted"};

}  // namespace

DrainMetrics::DrainMetrics(prometheus::Registry& registry)
    : state_(prometheus::BuildGauge()
                 .Name("nodepulse_trino_drain_state")
                 .Help("1 for the worker's drain state as the trino sink sees it (active = in Trino's scheduling)")
                 .Register(registry)),
      transitions_(prometheus::BuildCounter()
                       .Name("nodepulse_trino_drain_transitions_total")
                       .Help("Requests to move this worker out of or back into Trino's scheduling, by outcome "
                             "(budget_exhausted: should be out, no slot free in ZooKeeper)")
                       .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name("nodepulse_trino_drain_errors_total")
                  .Help("Failed calls of the trino sink, by kind (auth: check trino.user, the password and "
                        "Trino's access control; zookeeper: the drain budget could not be read)")
                  .Register(registry)),
      last_error_time_(prometheus::BuildGauge()
                           .Name("nodepulse_trino_drain_last_error_timestamp_seconds")
                           .Help("When the trino sink last failed a call (Unix time); 0 = never")
                           .Register(registry)
                           .Add({})),
      slot_held_(prometheus::BuildGauge()
                     .Name("nodepulse_trino_drain_slot_held")
                     .Help("1 while this worker holds a drain slot of the cluster-wide budget in ZooKeeper")
                     .Register(registry)
                     .Add({})) {
  for (std::string_view state : kDrainStates) state_.Add({{"state", std::string(state)}});
  for (std::string_view action : kActions) {
    for (std::string_view outcome : kOutcomes) {
      transitions_.Add({{"action", std::string(action)}, {"outcome", std::string(outcome)}});
    }
  }
  for (std::string_view kind : trino::kErrorKinds) errors_.Add({{"kind", std::string(kind)}});
  errors_.Add({{"kind", "zookeeper"}});
  set_state("unknown");
}

void DrainMetrics::set_state(std::string_view current) {
  for (std::string_view state : kDrainStates) {
    state_.Add({{"state", std::string(state)}}).Set(state == current ? 1 : 0);
  }
}

void DrainMetrics::set_slot_held(bool held) { slot_held_.Set(held ? 1 : 0); }

void DrainMetrics::count_transition(std::string_view action, std::string_view outcome) {
  transitions_.Add({{"action", std::string(action)}, {"outcome", std::string(outcome)}}).Increment();
}

void DrainMetrics::count_error(std::string_view kind) {
  errors_.Add({{"kind", std::string(kind)}}).Increment();
  last_error_time_.Set(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace nodepulse
