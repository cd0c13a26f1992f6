// The balancer's own metrics, served on balancer.listen /metrics:
//   nodepulse_balancer_nodes{state}                   gauge: nodes per state (healthy ... down)
//   nodepulse_balancer_apply_seconds{driver}          histogram: time to apply one changed decision
//   nodepulse_balancer_errors_total{driver}           counter: failed applies (retried)
//   nodepulse_balancer_invalid_payloads_total{reason} counter: heartbeats refused, by reason
//   nodepulse_balancer_drains_withheld                gauge: servers that should be out but are kept in
//   nodepulse_balancer_drains_withheld_total          counter: times a server became withheld
//   nodepulse_balancer_servers_out                    gauge: servers drained or down now
//   nodepulse_balancer_frozen                         gauge: 1 while ZooKeeper is unreachable and
//                                                     the last applied state is held
// and, with trino.coordinator_url set, the coordinator's view beside nodepulse's (TrinoViewMetrics):
//   nodepulse_balancer_trino_coordinator_up           gauge: 1 when the coordinator answered the last poll
//   nodepulse_balancer_trino_nodes{view}              gauge: nodes by the coordinator's view
//                                                     (active, failed, absent, unknown)
//   nodepulse_balancer_trino_unmatched_nodes          gauge: coordinator entries no heartbeat matches
//   nodepulse_balancer_trino_disagreements            gauge: nodes and unmatched entries flagged
//   nodepulse_balancer_trino_disagreement{node}       gauge: 1 while the node is flagged, else 0
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <string>
#include <string_view>

#include "balancer/membership.h"
#include "balancer/trino_view.h"

namespace nodepulse {

class BalancerMetrics {
 public:
  explicit BalancerMetrics(prometheus::Registry& registry);

  // Exposes the driver's error counter at 0 from the start, so alerts on it work before any error.
  void add_driver(std::string_view driver);
  void set_nodes(const std::vector<Member>& members);
  void observe_apply(std::string_view driver, double seconds, bool ok);
  void count_invalid_payload(std::string_view reason);
  void set_withheld(std::size_t withheld, std::size_t newly_withheld);
  void set_servers_out(std::size_t out);
  void set_frozen(bool frozen);

 private:
  prometheus::Family<prometheus::Gauge>& nodes_;
  prometheus::Family<prometheus::Histogram>& apply_seconds_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Counter>& invalid_payloads_;
  prometheus::Gauge& withheld_;
  prometheus::Counter& withheld_total_;
  prometheus::Gauge& servers_out_;
  prometheus::Gauge& frozen_;
};

// Registered only when a coordinator is configured, so a balancer without one exports none of it.
class TrinoViewMetrics {
 public:
  // nodepulse_balancer_trino_coordinator_up is 0 and every view count 0 from the first scrape.
  explicit TrinoViewMetrics(prometheus::Registry& registry);

  // `coordinator_up`: the last poll was answered. A node's disagreement series goes with the node.
  void set(bool coordinator_up, const TrinoView& view);

 private:
  prometheus::Gauge& coordinator_up_;
  prometheus::Family<prometheus::Gauge>& nodes_;
  prometheus::Gauge& unmatched_;
  prometheus::Gauge& disagreements_;
  prometheus::Family<prometheus::Gauge>& disagreement_;
  std::map<std::string, prometheus::Gauge*> disagreement_by_node_;
};

}  // namespace nodepulse
