#include "balancer/balancer_metrics.h"

#include <map>
#include <set>
#include <string>

#include "heartbeat/payload.h"

namespace nodepulse {

BalancerMetrics::BalancerMetrics(prometheus::Registry& registry)
    : nodes_(prometheus::BuildGauge()
                 .Name("nodepulse_balancer_nodes")
                 .Help("Nodes the balancer knows, by state (healthy, degraded, failing, unknown, down)")
                 .Register(registry)),
      apply_seconds_(prometheus::BuildHistogram()
                         .Name("nodepulse_balancer_apply_seconds")
                         .Help("Time a driver took to apply one changed decision to its load balancer")
                         .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name("nodepulse_balancer_errors_total")
                  .Help("Decisions a driver failed to apply (retried with a backoff)")
                  .Register(registry)),
      invalid_payloads_(prometheus::BuildCounter()
                            .Name("nodepulse_balancer_invalid_payloads_total")
                            .Help("Heartbeat payloads refused (the node counts as unknown), by reason")
                            .Register(registry)),
      withheld_(prometheus::BuildGauge()
                    .Name("nodepulse_balancer_drains_withheld")
                    .Help("Servers that should be out of rotation but are kept in by balancer.max_unhealthy_fraction")
                    .Register(registry)
                    .Add({})),
      withheld_total_(prometheus::BuildCounter()
                          .Name("nodepulse_balancer_drains_withheld_total")
                          .Help("Times a server was kept in rotation by balancer.max_unhealthy_fraction")
                          .Register(registry)
                          .Add({})),
      servers_out_(prometheus::BuildGauge()
                       .Name("nodepulse_balancer_servers_out")
                       .Help("Servers drained or down in the decision last made")
                       .Register(registry)
                       .Add({})),
      frozen_(prometheus::BuildGauge()
                  .Name("nodepulse_balancer_frozen")
                  .Help("1 while ZooKeeper is unreachable and the last applied state is held")
                  .Register(registry)
                  .Add({})) {
  for (const MemberState state : kAllMemberStates) nodes_.Add({{"state", std::string(to_string(state))}}).Set(0);
  for (const std::string_view reason : {kPayloadOversize, kPayloadBadJson, kPayloadWrongType, kPayloadMissingField,
                                        kPayloadUnknownState, kPayloadOutOfRange}) {
    invalid_payloads_.Add({{"reason", std::string(reason)}});
  }
}

void BalancerMetrics::add_driver(std::string_view driver) { errors_.Add({{"driver", std::string(driver)}}); }

void BalancerMetrics::set_nodes(const std::vector<Member>& members) {
  std::map<MemberState, int> counts;
  for (const Member& member : members) ++counts[member.state];
  for (const MemberState state : kAllMemberStates) {
    nodes_.Add({{"state", std::string(to_string(state))}}).Set(counts[state]);
  }
}

void BalancerMetrics::observe_apply(std::string_view driver, double seconds, bool ok) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  const std::string label(driver);
  apply_seconds_.Add({{"driver", label}}, kBuckets).Observe(seconds);
  auto& errors = errors_.Add({{"driver", label}});
  if (!ok) errors.Increment();
}

void BalancerMetrics::count_invalid_payload(std::string_view reason) {
  invalid_payloads_.Add({{"reason", std::string(reason)}}).Increment();
}

void BalancerMetrics::set_withheld(std::size_t withheld, std::size_t newly_withheld) {
  withheld_.Set(static_cast<double>(withheld));
  withheld_total_.Increment(static_cast<double>(newly_withheld));
}

void BalancerMetrics::set_servers_out(std::size_t out) { servers_out_.Set(static_cast<double>(out)); }

void BalancerMetrics::set_frozen(bool frozen) { frozen_.Set(frozen ? 1 : 0); }

TrinoViewMetrics::TrinoViewMetrics(prometheus::Registry& registry)
    : coordinator_up_(prometheus::BuildGauge()
                          .Name("nodepulse_balancer_trino_coordinator_up")
                          .Help("1 when the Trino coordinator (trino.coordinator_url) answered the last poll")
                          .Register(registry)
                          .Add({})),
      nodes_(prometheus::BuildGauge()
                 .Name("nodepulse_balancer_trino_nodes")
                 .Help("Nodes by the coordinator's view of them: active, failed, absent, unknown")
                 .Register(registry)),
      unmatched_(prometheus::BuildGauge()
                     .Name("nodepulse_balancer_trino_unmatched_nodes")
                     .Help("Nodes the coordinator lists that no nodepulse heartbeat matches")
                     .Register(registry)
                     .Add({})),
      disagreements_(prometheus::BuildGauge()
                         .Name("nodepulse_balancer_trino_disagreements")
                         .Help("Nodes (and unmatched coordinator entries) where nodepulse and the coordinator "
                               "disagree in a way an operator should look at")
                         .Register(registry)
                         .Add({})),
      disagreement_(prometheus::BuildGauge()
                        .Name("nodepulse_balancer_trino_disagreement")
                        .Help("1 while nodepulse and the coordinator disagree about this node, else 0")
                        .Register(registry)) {
  for (const CoordinatorView view : kAllCoordinatorViews) nodes_.Add({{"view", std::string(to_string(view))}}).Set(0);
}

void TrinoViewMetrics::set(bool coordinator_up, const TrinoView& view) {
  coordinator_up_.Set(coordinator_up ? 1 : 0);
  std::map<CoordinatorView, int> counts;
  std::set<std::string> nodes;
  for (const TrinoNodeView& node : view.nodes) {
    ++counts[node.view];
    nodes.insert(node.node_id);
    auto [it, added] = disagreement_by_node_.try_emplace(node.node_id, nullptr);
    if (added) it->second = &disagreement_.Add({{"node", node.node_id}});
    it->second->Set(node.disagreement.empty() ? 0 : 1);
  }
  for (auto it = disagreement_by_node_.begin(); it != disagreement_by_node_.end();) {
    if (nodes.contains(it->first)) {
      ++it;
      continue;
    }
    disagreement_.Remove(it->second);
    it = disagreement_by_node_.erase(it);
  }
  for (const CoordinatorView known : kAllCoordinatorViews) {
    nodes_.Add({{"view", std::string(to_string(known))}}).Set(counts[known]);
  }
  unmatched_.Set(static_cast<double>(view.unmatched.size()));
  disagreements_.Set(static_cast<double>(view.disagreements()));
}

}  // namespace nodepulse
