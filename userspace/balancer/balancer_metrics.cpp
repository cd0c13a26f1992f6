#include "balancer/balancer_metrics.h"

#include <map>
#include <string>

#include "balancer/payload.h"

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

}  // namespace nodepulse
