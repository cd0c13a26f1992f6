#include "balancer/policy.h"

#include <algorithm>
#include <map>

#include "common/out_budget.h"
#include "heartbeat/heartbeat.h"

namespace nodepulse {
namespace {

// Lower goes out first.
int out_rank(MemberState state) {
  switch (state) {
    case MemberState::kDown: return 0;
    case MemberState::kFailing: return 1;
    case MemberState::kUnknown: return 2;
    default: return 3;
  }
}

bool wants_out(MemberState state) { return out_rank(state) < 3; }

}  // namespace

std::string_view to_string(ServerAction action) {
  switch (action) {
    case ServerAction::kReady: return "ready";
    case ServerAction::kDrain: return "drain";
    case ServerAction::kDown: return "down";
  }
  return "ready";
}

std::string server_address(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos && !host.starts_with('[');
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Decision decide(const std::vector<Member>& members, const PolicyOptions& options) {
  std::map<std::string, const BalancerServerSpec*> specs;
  for (const BalancerServerSpec& spec : options.servers) specs.emplace(spec.node_id, &spec);

  std::map<std::string, ServerTarget> by_node;  // sorted by node id: the tie-breaker
  for (const Member& member : members) {
    ServerTarget& target = by_node[member.node_id];
    target.node_id = member.node_id;
    target.state = member.state;
    target.weight = std::clamp<uint32_t>(member.weight, 1, 100);
    target.reason = member.state == MemberState::kHealthy ? "" : join_reasons(member.reasons);
    if (member.report && !member.report->host.empty()) {
      target.address = server_address(member.report->host,
                                      member.report->http_port ? member.report->http_port : kDefaultServerPort);
    }
  }
  for (const BalancerServerSpec& spec : options.servers) {
    if (by_node.contains(spec.node_id)) continue;
    ServerTarget& target = by_node[spec.node_id];
    target.node_id = spec.node_id;
    target.state = MemberState::kDown;
    target.reason = "no heartbeat seen";
  }

  Decision decision;
  std::vector<ServerTarget*> candidates;
  for (auto& [node_id, target] : by_node) {
    if (auto spec = specs.find(node_id); spec != specs.end()) {
      if (!spec->second->name.empty()) target.name = spec->second->name;
      if (!spec->second->address.empty()) target.address = spec->second->address;
    }
    if (target.name.empty()) target.name = node_id;
    if (wants_out(target.state)) candidates.push_back(&target);
  }
  decision.max_out = max_out_of(by_node.size(), options.max_unhealthy_fraction);
  std::stable_sort(candidates.begin(), candidates.end(), [](const ServerTarget* a, const ServerTarget* b) {
    return out_rank(a->state) < out_rank(b->state);
  });
  for (ServerTarget* target : candidates) {
    if (decision.out < decision.max_out) {
      target->action = target->state == MemberState::kDown ? ServerAction::kDown : ServerAction::kDrain;
      target->weight = 0;
      ++decision.out;
    } else {
      target->action = ServerAction::kReady;
      target->weight = kWithheldWeight;
      target->withheld = true;
      ++decision.withheld;
    }
  }
  for (auto& [node_id, target] : by_node) decision.servers.push_back(std::move(target));
  return decision;
}

}  // namespace nodepulse
