// nodepulse_trino_drain_*: what the trino sink did to this worker's place in Trino's scheduling.
// Every series of a bounded label set exists from the first scrape.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>
#include <string_view>

namespace nodepulse {

// The DrainStatus states (heartbeat.h), each a label value of nodepulse_trino_drain_state.
inline constexpr std::string_view kDrainStates[] = {"active",       "draining", "drained", "shutting_down",
                                                    "budget_exhausted", "held", "coordinator", "unsupported",
                                                    "unknown"};

class DrainMetrics {
 public:
  explicit DrainMetrics(prometheus::Registry& registry);

  void set_state(std::string_view state);
  void set_slot_held(bool held);
  // action: drain | shutdown | restore; outcome: ok | rejected | error | budget_exhausted
  void count_transition(std::string_view action, std::string_view outcome);
  // kind: a trino::kErrorKinds label, or "zookeeper"
  void count_error(std::string_view kind);

 private:
  prometheus::Family<prometheus::Gauge>& state_;
  prometheus::Family<prometheus::Counter>& transitions_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Gauge& last_error_time_;
  prometheus::Gauge& slot_held_;
};

}  // namespace nodepulse
